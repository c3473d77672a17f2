/*
 * synth.c - turn a scenario (a scenario file in configs/scenarios/) into a trace.
 *
 * Parsing: the scenario file is loaded with config.h's YAML reader and
 * compiled into `struct synth_scenario`: images (ELF executables: what execve
 * leaves in the new mm), and process templates, each a flat array of steps.
 * `repeat` blocks are flattened into OP_REPEAT ... OP_END pairs that point at
 * each other, so a running process needs only a pc and a small loop stack.
 * Every mapping is checked for unknown keys ("file:line: unknown key 'x'").
 *
 * Generation is a discrete-event simulation.  Each live process instance
 * (`struct proc`) has its own clock; a binary min-heap keyed by (time, pid)
 * picks the process that runs next, it executes one unit of work (one
 * syscall-like step, one fork of a multi-fork step, or a chunk of at most
 * TOUCH_CHUNK faults), its clock advances by a modelled cost, and it goes
 * back into the heap.  Processes therefore interleave as on a real machine,
 * and event times only move forward (an event never gets a time earlier than
 * the one before it).  A process blocks (leaves the heap) in vfork until its
 * child execs or exits, and in `wait` until a child exits.
 *
 * What a process knows about its address space is a list of regions (what
 * user space asked for: name, range, prot, file) with one byte of state per
 * page (present, written, read-only).  The page state decides which touches
 * fault and with which x86 error code, as the hardware would: a read of an
 * absent page faults (U); a write faults if the page is absent (W|U) or
 * present but not yet written since the last fork, mprotect or exec (P|W|U,
 * the COW case); anything else does not fault.
 *
 * How the kernel presents things (eager.md §2.7 "execve", §7.3; observed.md):
 *  - fork: AVM_FORK with a fresh child mm id; threads and vfork children get
 *    a == mm (the mm is shared).  A child inherits present pages only for
 *    private regions that had an anon_vma (written pages) - dup_mmap copies
 *    page tables only for those VMAs - and every private page becomes
 *    write-protected in parent and child.
 *  - exec: AVM_EXEC (mm = old, a = new mm, b = snapshot id) whose snapshot
 *    (snap_vmas) is the new mm as the kernel leaves it after the ELF load:
 *    the stack already has an anon_vma (argument copying through GUP), each
 *    file-backed data segment whose file part ends inside a page has one
 *    (padzero's kernel-mode COW), text, bss and the (not yet existing) brk
 *    have none.  Each such anon_vma gets a fresh object id.  Other threads
 *    of the process exit first (de_thread).  The old mm loses a user in
 *    exec_mmap, before the exec tracepoint: if that was its last one,
 *    AVM_MM_RELEASE of the old mm comes just before the AVM_EXEC.
 *  - exit: AVM_EXIT per thread (a = group_dead on the last), then
 *    AVM_MM_RELEASE when the mm has no user left (a vfork parent still has it).
 *  - The trace starts with a start snapshot (AVM_SNAPSHOT, reason START) of
 *    init's mm; processes marked `start: N` are forked by init and exec.
 *
 * Ids: one counter for every object (mm, anon_vma, file) so no two objects
 * share an id; pids and tids share one counter as in the kernel.
 */
#include "synth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "config.h"
#include "kabi.h"

#define PAGE 4096ULL
#define NAME_MAX_LEN 48
#define TOUCH_CHUNK 64
#define LOOP_DEPTH 8
#define MAX_COUNT 10000000ULL
#define MMAP_MIN_ADDR 0x10000ULL     /* vm.mmap_min_addr's default */

#define GC_FROM_SUFFIX "-from"   /* the from-space region of a gc step's heap */
#define GC_CHUNK 16              /* pages per UFFDIO_COPY / ZEROPAGE / MOVE of a gc step */

/* Kernel layout (x86_64, 4-level, ASLR as on the development host). */
#define STACK_TOP_MAX 0x7ffffffff000ULL
#define PIE_BASE 0x555555554000ULL
#define MMAP_GAP (128ULL << 20)

/* Modelled costs in ns: only the order of magnitude matters (event spacing). */
#define COST_SYSCALL 1500
#define COST_FAULT_READ 700
#define COST_FAULT_WRITE 1500
#define COST_FORK 60000
#define COST_FORK_PER_REGION 400
#define COST_THREAD 15000
#define COST_EXEC 400000
#define COST_EXIT 20000

/* Page state bits. */
#define PG_PRESENT 0x1
#define PG_WRITTEN 0x2 /* writable in the PTE: written since the last fork/mprotect */
#define PG_RO 0x4      /* mprotect'ed without PROT_WRITE */
#define PG_NONE 0x8    /* mprotect'ed PROT_NONE */

/* madvise advice values. */
enum {
	ADV_DONTNEED = 4, ADV_DONTFORK = 10, ADV_DOFORK = 11, ADV_MERGEABLE = 12,
	ADV_HUGEPAGE = 14, ADV_NOHUGEPAGE = 15, ADV_WIPEONFORK = 18,
};

/* ---- scenario ------------------------------------------------------------------ */

struct image {
	char name[NAME_MAX_LEN];
	uint64_t text, data, bss, stack;   /* bytes; data is the file part of the data segment */
	int interp;                         /* image index of the interpreter, -1 static */
};

enum step_op {
	OP_MMAP, OP_DLOPEN, OP_TOUCH, OP_MPROTECT, OP_MUNMAP, OP_MADVISE, OP_MREMAP, OP_BRK,
	OP_FORK, OP_THREADS, OP_EXEC, OP_SLEEP, OP_WAIT, OP_EXIT, OP_REPEAT, OP_END,
	OP_GC,
};

struct step {
	enum step_op op;
	int line;
	char map[NAME_MAX_LEN];   /* region name created or selected */
	uint64_t size, offset;    /* bytes (0 size = whole region where that makes sense) */
	uint64_t count;           /* instances, forks, threads, repeats */
	uint64_t text, data, bss, relro; /* dlopen */
	uint64_t every;           /* fork: ns between forks; sleep: ns */
	double pages, write, probability; /* gc: live share, move share, zero share */
	int prot, advice;
	bool file, shared, noreserve, stack, vfork, wait_all;
	bool scaled;              /* fork, repeat: count is multiplied by --scale */
	int target;               /* fork: template index; exec: image index */
	int jump;                 /* OP_REPEAT: index of its OP_END; OP_END: its OP_REPEAT */
};

struct tmpl {
	char name[NAME_MAX_LEN];
	int line;
	uint64_t start;
	bool stay;
	struct step *steps;
	int nsteps;
	size_t cap;
};

struct synth_scenario {
	char path[256];
	char name[64];
	uint64_t seed;
	int cpus;
	uint64_t mem;             /* host RAM in bytes (meta mem_bytes), 0 unknown */
	int thp;                  /* 0 never, 1 madvise, 2 always */
	struct image *images;
	int nimages;
	struct tmpl *tmpls;
	int ntmpls;
};

static const char *const thp_names[] = { "never", "madvise", "always" };

const char *synth_name(const struct synth_scenario *s) { return s->name; }
uint64_t synth_default_seed(const struct synth_scenario *s) { return s->seed; }
int synth_cpus(const struct synth_scenario *s) { return s->cpus; }
uint64_t synth_mem(const struct synth_scenario *s) { return s->mem; }
const char *synth_thp(const struct synth_scenario *s) { return thp_names[s->thp]; }

void synth_free(struct synth_scenario *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->ntmpls; i++)
		free(s->tmpls[i].steps);
	free(s->tmpls);
	free(s->images);
	free(s);
}

/* Parser state: the document plus the scenario being built. */
struct parser {
	struct config_yaml *y;
	struct synth_scenario *s;
	const char *path;
};

/* Fail if map has a key not in allowed (NULL-terminated). */
static int check_keys(struct parser *ps, int map, const char *const *allowed,
		      struct avm_err *err)
{
	int i, k, v, j;
	const char *key;

	if (config_yaml_type(ps->y, map) != CONFIG_NODE_MAP)
		return config_yaml_errf(ps->y, map, err, "expected a mapping of keys");
	for (i = 0; config_yaml_pair(ps->y, map, i, &k, &v) == 0; i++) {
		key = config_yaml_scalar(ps->y, k);
		if (!key)
			return config_yaml_errf(ps->y, k, err, "mapping keys must be scalars");
		for (j = 0; allowed[j]; j++) {
			if (strcmp(allowed[j], key) == 0)
				break;
		}
		if (!allowed[j])
			return config_yaml_errf(ps->y, k, err, "unknown key '%s'", key);
	}
	return 0;
}

/* The scalar text of map[key], or NULL if absent; a non-scalar value is an error. */
static int get_scalar(struct parser *ps, int map, const char *key, const char **out, int *line,
		      struct avm_err *err)
{
	int v = config_yaml_get(ps->y, map, key);

	*out = NULL;
	if (!v)
		return 0;
	*line = config_yaml_line(ps->y, v);
	*out = config_yaml_scalar(ps->y, v);
	if (!*out)
		return config_yaml_errf(ps->y, v, err, "'%s' must be a single value", key);
	return 0;
}

static int get_size(struct parser *ps, int map, const char *key, uint64_t *out,
		    struct avm_err *err)
{
	const char *s;
	int line = 0;

	if (get_scalar(ps, map, key, &s, &line, err))
		return -1;
	if (!s)
		return 0;
	return config_u64_in_range(ps->path, line, key, s, CONFIG_UNIT_SIZE, 0, SYNTH_MAX_SIZE,
				   out, err);
}

static int get_count(struct parser *ps, int map, const char *key, uint64_t *out,
		     struct avm_err *err)
{
	const char *s;
	int line = 0;

	if (get_scalar(ps, map, key, &s, &line, err))
		return -1;
	if (!s)
		return 0;
	return config_u64_in_range(ps->path, line, key, s, CONFIG_UNIT_NONE, 0, MAX_COUNT, out,
				   err);
}

static int get_duration(struct parser *ps, int map, const char *key, uint64_t *out,
			struct avm_err *err)
{
	const char *s;
	int line = 0;

	if (get_scalar(ps, map, key, &s, &line, err))
		return -1;
	return s ? config_u64_in_range(ps->path, line, key, s, CONFIG_UNIT_DURATION, 0,
				       SYNTH_MAX_NS, out, err) : 0;
}

static int get_share(struct parser *ps, int map, const char *key, double *out,
		     struct avm_err *err)
{
	const char *s;
	int line = 0;

	if (get_scalar(ps, map, key, &s, &line, err))
		return -1;
	if (!s)
		return 0;
	if (config_parse_double(ps->path, line, key, s, out, err))
		return -1;
	if (*out < 0 || *out > 1)
		return avm_errf(err, "%s:%d: '%s' must be between 0 and 1 (got '%s')", ps->path,
				line, key, s);
	return 0;
}

static int get_bool(struct parser *ps, int map, const char *key, bool *out,
		    struct avm_err *err)
{
	const char *s;
	int line = 0;

	if (get_scalar(ps, map, key, &s, &line, err))
		return -1;
	return s ? config_parse_bool(ps->path, line, key, s, out, err) : 0;
}

static int get_name(struct parser *ps, int map, const char *key, char *out, bool required,
		    int node_for_missing, struct avm_err *err)
{
	const char *s;
	int line = 0;

	if (get_scalar(ps, map, key, &s, &line, err))
		return -1;
	if (!s) {
		if (required)
			return config_yaml_errf(ps->y, node_for_missing, err, "missing key '%s'",
						key);
		return 0;
	}
	if (!*s || strlen(s) >= NAME_MAX_LEN)
		return avm_errf(err, "%s:%d: '%s' must be a name of 1 to %d characters", ps->path,
				line, key, NAME_MAX_LEN - 1);
	snprintf(out, NAME_MAX_LEN, "%s", s);
	return 0;
}

/* prot: any of r, w, x in that order, or "none". */
static int get_prot(struct parser *ps, int map, int *out, struct avm_err *err)
{
	static const char *const names[] = { "none", "r", "rw", "rx", "rwx", "w", "wx", "x" };
	static const int values[] = { 0, KABI_PROT_READ, KABI_PROT_READ | KABI_PROT_WRITE, KABI_PROT_READ | KABI_PROT_EXEC,
				      KABI_PROT_READ | KABI_PROT_WRITE | KABI_PROT_EXEC, KABI_PROT_WRITE, KABI_PROT_WRITE | KABI_PROT_EXEC, KABI_PROT_EXEC };
	const char *s;
	int line = 0, i;

	if (get_scalar(ps, map, "prot", &s, &line, err))
		return -1;
	if (!s)
		return 0;
	if (config_parse_enum(ps->path, line, "prot", s, names, 8, &i, err))
		return -1;
	*out = values[i];
	return 0;
}

static int find_image(const struct synth_scenario *s, const char *name)
{
	int i;

	for (i = 0; i < s->nimages; i++) {
		if (strcmp(s->images[i].name, name) == 0)
			return i;
	}
	return -1;
}

static int find_tmpl(const struct synth_scenario *s, const char *name)
{
	int i;

	for (i = 0; i < s->ntmpls; i++) {
		if (strcmp(s->tmpls[i].name, name) == 0)
			return i;
	}
	return -1;
}

static int parse_images(struct parser *ps, int node, struct avm_err *err)
{
	static const char *const keys[] = { "text", "data", "bss", "stack", "interp", NULL };
	struct synth_scenario *s = ps->s;
	char interp[NAME_MAX_LEN];
	int i, k, v, n;

	if (config_yaml_type(ps->y, node) != CONFIG_NODE_MAP)
		return config_yaml_errf(ps->y, node, err, "'images' must be a mapping of names");
	n = config_yaml_count(ps->y, node);
	s->images = calloc(n ? n : 1, sizeof(*s->images));
	if (!s->images)
		return avm_errf(err, "%s: out of memory", ps->path);
	for (i = 0; i < n; i++) {
		struct image *im = &s->images[i];

		config_yaml_pair(ps->y, node, i, &k, &v);
		snprintf(im->name, sizeof(im->name), "%s", config_yaml_scalar(ps->y, k) ?
			 config_yaml_scalar(ps->y, k) : "");
		s->nimages = i + 1;
		if (find_image(s, im->name) != i)
			return config_yaml_errf(ps->y, k, err, "image '%s' defined twice", im->name);
		im->text = 64 << 10;
		im->data = 6 << 10;
		im->bss = 0;
		im->stack = 132 << 10;
		im->interp = -1;
		if (check_keys(ps, v, keys, err) || get_size(ps, v, "text", &im->text, err) ||
		    get_size(ps, v, "data", &im->data, err) ||
		    get_size(ps, v, "bss", &im->bss, err) ||
		    get_size(ps, v, "stack", &im->stack, err))
			return -1;
		if (im->text < PAGE || im->stack < PAGE)
			return config_yaml_errf(ps->y, v, err,
						"image '%s': text and stack must be at least 4K",
						im->name);
	}
	/* Interpreters may be defined after their users: resolve in a second pass. */
	for (i = 0; i < n; i++) {
		config_yaml_pair(ps->y, node, i, &k, &v);
		interp[0] = '\0';
		if (get_name(ps, v, "interp", interp, false, v, err))
			return -1;
		if (!interp[0])
			continue;
		s->images[i].interp = find_image(s, interp);
		if (s->images[i].interp < 0)
			return config_yaml_errf(ps->y, config_yaml_get(ps->y, v, "interp"), err,
						"unknown image '%s'", interp);
		if (s->images[s->images[i].interp].interp >= 0 || s->images[i].interp == i)
			return config_yaml_errf(ps->y, config_yaml_get(ps->y, v, "interp"), err,
						"an interpreter must be a static image");
	}
	return 0;
}

static struct step *add_step(struct tmpl *t, struct avm_err *err)
{
	struct step *n;

	if (array_grow((void **)&t->steps, &t->cap, (size_t)t->nsteps + 1, sizeof(*t->steps), 16)) {
		avm_errf(err, "out of memory");
		return NULL;
	}
	n = &t->steps[t->nsteps++];
	memset(n, 0, sizeof(*n));
	n->target = -1;
	n->jump = -1;
	n->probability = 1.0;
	n->count = 1;
	return n;
}

static int parse_steps(struct parser *ps, struct tmpl *t, int seq, int depth,
		       struct avm_err *err);

static const char *const op_names[] = {
	"mmap", "dlopen", "touch", "mprotect", "munmap", "madvise", "mremap", "brk",
	"fork", "threads", "exec", "sleep", "wait", "exit", "repeat", "(end)", "gc", NULL,
};

/* Parse the value of one step `op: value` at node v (key node k for errors). */
static int parse_step(struct parser *ps, struct tmpl *t, int op, int k, int v, int depth,
		      struct avm_err *err)
{
	static const char *const mmap_keys[] = { "name", "size", "prot", "file", "shared",
						 "noreserve", "stack", "count", NULL };
	static const char *const dlopen_keys[] = { "name", "text", "data", "bss", "relro",
						   "count", NULL };
	static const char *const touch_keys[] = { "map", "pages", "write", NULL };
	static const char *const range_keys[] = { "map", "offset", "size", "prot", NULL };
	static const char *const madv_keys[] = { "map", "offset", "size", "advice", NULL };
	static const char *const munmap_keys[] = { "map", NULL };
	static const char *const mremap_keys[] = { "map", "size", NULL };
	static const char *const brk_keys[] = { "size", NULL };
	static const char *const fork_keys[] = { "process", "count", "every", "probability",
						 "vfork", "scaled", NULL };
	static const char *const repeat_keys[] = { "count", "steps", "scaled", NULL };
	static const char *const advice_names[] = { "dontneed", "dontfork", "dofork",
						    "mergeable", "hugepage", "nohugepage",
						    "wipeonfork" };
	static const int advice_values[] = { ADV_DONTNEED, ADV_DONTFORK, ADV_DOFORK,
					     ADV_MERGEABLE, ADV_HUGEPAGE, ADV_NOHUGEPAGE,
					     ADV_WIPEONFORK };
	static const char *const wait_names[] = { "one", "all" };
	static const char *const gc_keys[] = { "map", "live", "move", "zero", NULL };
	struct config_yaml *y = ps->y;
	const char *sv = config_yaml_scalar(y, v);
	int line = config_yaml_line(y, v);
	struct step *st;
	int idx, i;

	st = add_step(t, err);
	if (!st)
		return -1;
	idx = t->nsteps - 1;
	st->op = (enum step_op)op;
	st->line = config_yaml_line(y, k);
	switch (st->op) {
	case OP_MMAP:
		st->prot = KABI_PROT_READ | KABI_PROT_WRITE;
		if (check_keys(ps, v, mmap_keys, err) ||
		    get_name(ps, v, "name", st->map, true, v, err) ||
		    get_size(ps, v, "size", &st->size, err) || get_prot(ps, v, &st->prot, err) ||
		    get_bool(ps, v, "file", &st->file, err) ||
		    get_bool(ps, v, "shared", &st->shared, err) ||
		    get_bool(ps, v, "noreserve", &st->noreserve, err) ||
		    get_bool(ps, v, "stack", &st->stack, err) ||
		    get_count(ps, v, "count", &st->count, err))
			return -1;
		if (st->size == 0)
			return config_yaml_errf(y, v, err, "mmap needs a 'size' above 0");
		break;
	case OP_DLOPEN:
		st->text = 64 << 10;
		st->data = 6 << 10;
		if (check_keys(ps, v, dlopen_keys, err) ||
		    get_name(ps, v, "name", st->map, true, v, err) ||
		    get_size(ps, v, "text", &st->text, err) ||
		    get_size(ps, v, "data", &st->data, err) ||
		    get_size(ps, v, "bss", &st->bss, err) ||
		    get_size(ps, v, "relro", &st->relro, err) ||
		    get_count(ps, v, "count", &st->count, err))
			return -1;
		if (st->text < PAGE || st->data == 0)
			return config_yaml_errf(y, v, err,
						"dlopen needs 'text' of at least 4K and 'data' above 0");
		if (st->relro % PAGE || st->relro > (st->data + PAGE - 1) / PAGE * PAGE)
			return config_yaml_errf(y, v, err, "'relro' must be whole pages within 'data'");
		break;
	case OP_TOUCH:
		st->pages = 1.0;
		st->write = 0.0;
		if (check_keys(ps, v, touch_keys, err) ||
		    get_name(ps, v, "map", st->map, true, v, err) ||
		    get_share(ps, v, "pages", &st->pages, err) ||
		    get_share(ps, v, "write", &st->write, err))
			return -1;
		break;
	case OP_MPROTECT:
		if (check_keys(ps, v, range_keys, err) ||
		    get_name(ps, v, "map", st->map, true, v, err) ||
		    get_size(ps, v, "offset", &st->offset, err) ||
		    get_size(ps, v, "size", &st->size, err) || get_prot(ps, v, &st->prot, err))
			return -1;
		if (!config_yaml_get(y, v, "prot"))
			return config_yaml_errf(y, v, err, "missing key 'prot'");
		break;
	case OP_MADVISE: {
		const char *a;
		int aline = 0;

		if (check_keys(ps, v, madv_keys, err) ||
		    get_name(ps, v, "map", st->map, true, v, err) ||
		    get_size(ps, v, "offset", &st->offset, err) ||
		    get_size(ps, v, "size", &st->size, err) ||
		    get_scalar(ps, v, "advice", &a, &aline, err))
			return -1;
		if (!a)
			return config_yaml_errf(y, v, err, "missing key 'advice'");
		if (config_parse_enum(ps->path, aline, "advice", a, advice_names, 7, &i, err))
			return -1;
		st->advice = advice_values[i];
		break;
	}
	case OP_MUNMAP:
		if (check_keys(ps, v, munmap_keys, err) ||
		    get_name(ps, v, "map", st->map, true, v, err))
			return -1;
		break;
	case OP_MREMAP:
		if (check_keys(ps, v, mremap_keys, err) ||
		    get_name(ps, v, "map", st->map, true, v, err) ||
		    get_size(ps, v, "size", &st->size, err))
			return -1;
		if (st->size == 0)
			return config_yaml_errf(y, v, err, "mremap needs a 'size' above 0");
		break;
	case OP_GC:
		st->pages = 0.5;
		if (check_keys(ps, v, gc_keys, err) ||
		    get_name(ps, v, "map", st->map, true, v, err) ||
		    get_share(ps, v, "live", &st->pages, err) ||
		    get_share(ps, v, "move", &st->write, err) ||
		    get_share(ps, v, "zero", &st->probability, err))
			return -1;
		if (strlen(st->map) + sizeof(GC_FROM_SUFFIX) > NAME_MAX_LEN)
			return config_yaml_errf(y, v, err, "gc: map name '%s' is too long (at most "
						"%d characters)", st->map,
						(int)(NAME_MAX_LEN - sizeof(GC_FROM_SUFFIX)));
		break;
	case OP_BRK:
		if (check_keys(ps, v, brk_keys, err) || get_size(ps, v, "size", &st->size, err))
			return -1;
		if (st->size == 0)
			return config_yaml_errf(y, v, err, "brk needs a 'size' above 0");
		break;
	case OP_FORK: {
		char name[NAME_MAX_LEN];

		if (check_keys(ps, v, fork_keys, err) ||
		    get_name(ps, v, "process", name, true, v, err) ||
		    get_count(ps, v, "count", &st->count, err) ||
		    get_duration(ps, v, "every", &st->every, err) ||
		    get_share(ps, v, "probability", &st->probability, err) ||
		    get_bool(ps, v, "vfork", &st->vfork, err) ||
		    get_bool(ps, v, "scaled", &st->scaled, err))
			return -1;
		st->target = find_tmpl(ps->s, name);
		if (st->target < 0)
			return config_yaml_errf(y, config_yaml_get(y, v, "process"), err,
						"unknown process '%s'", name);
		break;
	}
	case OP_THREADS:
		if (!sv || config_u64_in_range(ps->path, line, "threads", sv, CONFIG_UNIT_NONE, 0,
					       1024, &st->count, err))
			return sv ? -1 : config_yaml_errf(y, v, err, "'threads' must be a number");
		break;
	case OP_EXEC:
		if (!sv)
			return config_yaml_errf(y, v, err, "'exec' must name an image");
		st->target = find_image(ps->s, sv);
		if (st->target < 0)
			return config_yaml_errf(y, v, err, "unknown image '%s'", sv);
		break;
	case OP_SLEEP:
		if (!sv || config_u64_in_range(ps->path, line, "sleep", sv, CONFIG_UNIT_DURATION, 0,
					       SYNTH_MAX_NS, &st->every, err))
			return sv ? -1 : config_yaml_errf(y, v, err, "'sleep' must be a duration");
		break;
	case OP_WAIT:
		if (!sv || config_parse_enum(ps->path, line, "wait", sv, wait_names, 2, &i, err))
			return sv ? -1 : config_yaml_errf(y, v, err, "'wait' must be one or all");
		st->wait_all = i == 1;
		break;
	case OP_EXIT:
		if (!sv || config_parse_double(ps->path, line, "exit", sv, &st->probability, err))
			return sv ? -1 : config_yaml_errf(y, v, err,
							  "'exit' must be a probability");
		if (st->probability < 0 || st->probability > 1)
			return config_yaml_errf(y, v, err, "'exit' must be between 0 and 1");
		break;
	case OP_REPEAT: {
		int body;

		if (check_keys(ps, v, repeat_keys, err) ||
		    get_count(ps, v, "count", &st->count, err) ||
		    get_bool(ps, v, "scaled", &st->scaled, err))
			return -1;
		body = config_yaml_get(y, v, "steps");
		if (!body)
			return config_yaml_errf(y, v, err, "missing key 'steps'");
		if (depth + 1 >= LOOP_DEPTH)
			return config_yaml_errf(y, v, err, "repeat nested more than %d deep",
						LOOP_DEPTH - 1);
		if (parse_steps(ps, t, body, depth + 1, err))
			return -1;
		st = add_step(t, err);
		if (!st)
			return -1;
		st->op = OP_END;
		st->line = config_yaml_line(y, k);
		st->jump = idx;
		t->steps[idx].jump = t->nsteps - 1;
		break;
	}
	case OP_END:
		break;
	}
	return 0;
}

static int parse_steps(struct parser *ps, struct tmpl *t, int seq, int depth,
		       struct avm_err *err)
{
	struct config_yaml *y = ps->y;
	int i, item, k, v, op;
	const char *name;

	if (config_yaml_type(y, seq) != CONFIG_NODE_SEQ)
		return config_yaml_errf(y, seq, err, "'steps' must be a list");
	for (i = 0; i < config_yaml_count(y, seq); i++) {
		item = config_yaml_item(y, seq, i);
		if (config_yaml_type(y, item) != CONFIG_NODE_MAP || config_yaml_count(y, item) != 1)
			return config_yaml_errf(y, item, err,
						"a step is one 'operation: arguments' pair");
		config_yaml_pair(y, item, 0, &k, &v);
		name = config_yaml_scalar(y, k);
		for (op = 0; name && op_names[op]; op++) {
			if (op != OP_END && strcmp(op_names[op], name) == 0)
				break;
		}
		if (!name || !op_names[op])
			return config_yaml_errf(y, k, err, "unknown key '%s'", name ? name : "?");
		if (parse_step(ps, t, op, k, v, depth, err))
			return -1;
	}
	return 0;
}

static int parse_processes(struct parser *ps, int node, struct avm_err *err)
{
	static const char *const keys[] = { "start", "stay", "steps", NULL };
	struct synth_scenario *s = ps->s;
	int i, k, v, n, steps;

	if (config_yaml_type(ps->y, node) != CONFIG_NODE_MAP)
		return config_yaml_errf(ps->y, node, err, "'processes' must be a mapping of names");
	n = config_yaml_count(ps->y, node);
	s->tmpls = calloc(n ? n : 1, sizeof(*s->tmpls));
	if (!s->tmpls)
		return avm_errf(err, "%s: out of memory", ps->path);
	/* Names first, so fork steps can name processes defined further down. */
	for (i = 0; i < n; i++) {
		config_yaml_pair(ps->y, node, i, &k, &v);
		snprintf(s->tmpls[i].name, NAME_MAX_LEN, "%s",
			 config_yaml_scalar(ps->y, k) ? config_yaml_scalar(ps->y, k) : "");
		s->tmpls[i].line = config_yaml_line(ps->y, k);
		s->ntmpls = i + 1;
		if (find_tmpl(s, s->tmpls[i].name) != i)
			return config_yaml_errf(ps->y, k, err, "process '%s' defined twice",
						s->tmpls[i].name);
	}
	for (i = 0; i < n; i++) {
		struct tmpl *t = &s->tmpls[i];

		config_yaml_pair(ps->y, node, i, &k, &v);
		if (check_keys(ps, v, keys, err) || get_count(ps, v, "start", &t->start, err) ||
		    get_bool(ps, v, "stay", &t->stay, err))
			return -1;
		steps = config_yaml_get(ps->y, v, "steps");
		if (steps && parse_steps(ps, t, steps, 0, err))
			return -1;
		if (t->start && (t->nsteps == 0 || t->steps[0].op != OP_EXEC))
			return config_yaml_errf(ps->y, k, err,
						"process '%s' is started by init, so its first "
						"step must be exec", t->name);
	}
	/* A vfork child shares its parent's mm until it execs: it must exec first. */
	for (i = 0; i < n; i++) {
		struct tmpl *t = &s->tmpls[i];
		int j;

		for (j = 0; j < t->nsteps; j++) {
			struct tmpl *c;

			if (t->steps[j].op != OP_FORK || !t->steps[j].vfork)
				continue;
			c = &s->tmpls[t->steps[j].target];
			if (c->nsteps == 0 || c->steps[0].op != OP_EXEC)
				return avm_errf(err, "%s:%d: a vfork child ('%s') must begin with exec",
						ps->path, t->steps[j].line, c->name);
		}
	}
	return 0;
}

int synth_load(const char *path, struct synth_scenario **out, struct avm_err *err)
{
	static const char *const keys[] = { "scenario", "description", "seed", "cpus", "mem",
					    "thp", "images", "processes", NULL };
	struct parser ps = { .path = path };
	struct synth_scenario *s = NULL;
	const char *v;
	int root, node, line = 0, rc = -1;
	uint64_t n;

	*out = NULL;
	if (config_yaml_open(path, &ps.y, err))
		goto out;
	s = calloc(1, sizeof(*s));
	if (!s) {
		avm_errf(err, "%s: out of memory", path);
		goto out;
	}
	ps.s = s;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->seed = 1;
	s->cpus = 8;
	s->thp = 1;
	root = config_yaml_root(ps.y);
	if (!root) {
		avm_errf(err, "%s: empty scenario", path);
		goto out;
	}
	if (check_keys(&ps, root, keys, err))
		goto out;
	if (get_scalar(&ps, root, "scenario", &v, &line, err))
		goto out;
	if (!v || !*v || strlen(v) >= sizeof(s->name)) {
		config_yaml_errf(ps.y, root, err, "'scenario' must give the scenario's name");
		goto out;
	}
	snprintf(s->name, sizeof(s->name), "%s", v);
	if (get_count(&ps, root, "seed", &s->seed, err))
		goto out;
	n = (uint64_t)s->cpus;
	if (get_count(&ps, root, "cpus", &n, err))
		goto out;
	if (n < 1 || n > 4096) {
		config_yaml_errf(ps.y, config_yaml_get(ps.y, root, "cpus"), err,
				 "'cpus' must be between 1 and 4096");
		goto out;
	}
	s->cpus = (int)n;
	if (get_size(&ps, root, "mem", &s->mem, err))
		goto out;
	if (get_scalar(&ps, root, "thp", &v, &line, err))
		goto out;
	if (v && config_parse_enum(path, line, "thp", v, thp_names, 3, &s->thp, err))
		goto out;
	node = config_yaml_get(ps.y, root, "images");
	if (node && parse_images(&ps, node, err))
		goto out;
	node = config_yaml_get(ps.y, root, "processes");
	if (!node) {
		config_yaml_errf(ps.y, root, err, "missing key 'processes'");
		goto out;
	}
	if (parse_processes(&ps, node, err))
		goto out;
	for (n = 0; n < (uint64_t)s->ntmpls; n++) {
		if (s->tmpls[n].start)
			break;
	}
	if (n == (uint64_t)s->ntmpls) {
		config_yaml_errf(ps.y, node, err, "no process has 'start' above 0");
		goto out;
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	synth_free(s);
	config_yaml_close(ps.y);
	return rc;
}

/* ---- generation ------------------------------------------------------------------ */

struct region {
	char name[NAME_MAX_LEN];
	uint64_t start, len;      /* bytes */
	uint64_t file, pgoff;     /* file id (0 anonymous), pgoff in pages */
	int prot;
	bool shared, has_av, dontfork, wipeonfork;
	uint8_t *pages;           /* PG_* per page */
};

enum proc_state { PS_RUN, PS_VFORK, PS_WAIT, PS_DONE, PS_EXITED };

struct loop {
	int pc;
	uint64_t left;
};

struct gen;

struct proc {
	struct gen *g;            /* the generator (limits and their counters) */
	int idx;                  /* index into gen.procs */
	int tmpl;
	uint32_t pid;
	uint32_t *tids;           /* threads other than the leader */
	int ntids;
	uint64_t mm;
	uint64_t t;
	int cpu;
	int pc;
	struct loop loops[LOOP_DEPTH];
	int depth;
	uint64_t done;            /* progress inside the current step (forks, instances) */
	int cur_region;           /* touch: where the current chunk resumes */
	uint64_t cur_page;
	struct region *regions;
	int nregions;
	size_t cap;
	uint64_t mmap_cursor, start_brk, brk;
	int parent;               /* index into gen.procs, -1 for init */
	int live_children, unreaped;
	bool wait_all;
	enum proc_state state;
	bool vfork_child;         /* shares the parent's mm until exec */
	uint64_t uffd;            /* gc: the process's userfaultfd (object id), 0 none yet */
};

struct gen {
	const struct synth_scenario *s;
	const struct synth_opts *o;
	const struct synth_sink *sink;
	struct synth_stats *st;
	uint64_t rng;
	uint64_t now;
	uint64_t next_id, next_pid, next_snap;
	uint32_t *mm_users;       /* indexed by object id */
	size_t mm_users_cap;
	struct proc **procs;
	int nprocs;
	size_t capprocs;
	int *heap;                /* proc indices, min (t, pid) on top */
	int nheap;
	size_t capheap;
	time_t last_progress;
	bool printed;             /* a progress line is on screen (end it at the end) */
	uint64_t slices;
	/* the documented limits (synth.h SYNTH_MAX_*): what they count */
	uint64_t live_procs;      /* thread groups not yet exited */
	uint64_t pages_live;      /* pages of every live process's regions */
	uint64_t steps;           /* steps executed by every process */
	int line;                 /* scenario line of the step running (for limit errors) */
};

/* "file:line: <what> (the limit docs/scenarios.md documents)", line of the running step. */
static int limit_errf(const struct gen *g, struct avm_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int limit_errf(const struct gen *g, struct avm_err *err, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return avm_errf(err, "%s:%d: %s (a limit of anonvma-synth, see docs/scenarios.md)",
			g->s->path, g->line, msg);
}

static uint64_t rng_next(struct gen *g)
{
	/* splitmix64: small, fast, and every seed gives a good stream. */
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(struct gen *g)
{
	return (double)(rng_next(g) >> 11) / (double)(1ULL << 53);
}

static uint64_t round_page(uint64_t n)
{
	return (n + PAGE - 1) / PAGE * PAGE;
}

/* A step's count: multiplied by --scale where the scenario marked it `scaled`. */
static uint64_t step_count(const struct gen *g, const struct step *st)
{
	uint64_t n = st->count;
	double v;

	if (!st->scaled || n == 0)
		return n;
	v = (double)n * g->o->scale + 0.5;
	if (v < 1)
		return 1;
	return v > (double)MAX_COUNT ? MAX_COUNT : (uint64_t)v;
}

static int emit(struct gen *g, const struct proc *p, uint32_t tid, enum avm_kind kind,
		int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f,
		struct avm_err *err)
{
	struct avm_event ev = { 0 };

	if (p && p->t > g->now)
		g->now = p->t;
	ev.t = g->now;
	ev.cpu = p ? (uint32_t)p->cpu : 0;
	ev.pid = p ? p->pid : 0;
	ev.tid = tid ? tid : ev.pid;
	ev.kind = kind;
	ev.mm = p ? p->mm : 0;
	ev.a = a;
	ev.b = b;
	ev.c = c;
	ev.d = d;
	ev.e = e;
	ev.f = f;
	g->st->events++;
	g->st->end_ns = g->now;
	return g->sink->event(g->sink->ctx, &ev, err);
}

static uint64_t new_id(struct gen *g)
{
	return g->next_id++;
}

static int mm_users_add(struct gen *g, uint64_t mm, int delta, uint32_t *now,
			struct avm_err *err)
{
	if (mm >= g->mm_users_cap) {
		size_t old = g->mm_users_cap;

		if (array_grow((void **)&g->mm_users, &g->mm_users_cap, (size_t)mm + 1,
			       sizeof(*g->mm_users), 1024))
			return avm_errf(err, "out of memory");
		memset(g->mm_users + old, 0, (g->mm_users_cap - old) * sizeof(*g->mm_users));
	}
	g->mm_users[mm] = (uint32_t)((int64_t)g->mm_users[mm] + delta);
	*now = g->mm_users[mm];
	return 0;
}

/* ---- heap of runnable processes ---- */

static bool heap_less(const struct gen *g, int a, int b)
{
	const struct proc *pa = g->procs[a], *pb = g->procs[b];

	return pa->t < pb->t || (pa->t == pb->t && pa->pid < pb->pid);
}

static int heap_push(struct gen *g, int idx, struct avm_err *err)
{
	int i, parent, tmp;

	if (array_grow((void **)&g->heap, &g->capheap, (size_t)g->nheap + 1, sizeof(*g->heap), 64))
		return avm_errf(err, "out of memory");
	i = g->nheap++;
	g->heap[i] = idx;
	while (i > 0) {
		parent = (i - 1) / 2;
		if (!heap_less(g, g->heap[i], g->heap[parent]))
			break;
		tmp = g->heap[i];
		g->heap[i] = g->heap[parent];
		g->heap[parent] = tmp;
		i = parent;
	}
	return 0;
}

static int heap_pop(struct gen *g)
{
	int top = g->heap[0], i = 0, l, r, m, tmp;

	g->heap[0] = g->heap[--g->nheap];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < g->nheap && heap_less(g, g->heap[l], g->heap[m]))
			m = l;
		if (r < g->nheap && heap_less(g, g->heap[r], g->heap[m]))
			m = r;
		if (m == i)
			break;
		tmp = g->heap[i];
		g->heap[i] = g->heap[m];
		g->heap[m] = tmp;
		i = m;
	}
	return top;
}

/* ---- regions ---- */

static void regions_free(struct proc *p)
{
	int i;

	for (i = 0; i < p->nregions; i++) {
		p->g->pages_live -= p->regions[i].len / PAGE;
		free(p->regions[i].pages);
	}
	free(p->regions);
	p->regions = NULL;
	p->nregions = p->cap = 0;
}

static struct region *region_add(struct proc *p, const char *name, uint64_t start,
				 uint64_t len, int prot, uint64_t file, uint64_t pgoff,
				 bool shared, struct avm_err *err)
{
	struct region *r;

	if (p->nregions >= SYNTH_MAX_MAPPINGS) {
		limit_errf(p->g, err, "a process would have more than %d mappings", SYNTH_MAX_MAPPINGS);
		return NULL;
	}
	if (len / PAGE > SYNTH_MAX_PAGES - p->g->pages_live) {
		limit_errf(p->g, err, "live processes would map more than %llu GiB",
			   (unsigned long long)(SYNTH_MAX_PAGES * PAGE >> 30));
		return NULL;
	}
	if (array_grow((void **)&p->regions, &p->cap, (size_t)p->nregions + 1, sizeof(*p->regions),
		       16)) {
		avm_errf(err, "out of memory");
		return NULL;
	}
	r = &p->regions[p->nregions];
	memset(r, 0, sizeof(*r));
	r->pages = calloc(len / PAGE ? len / PAGE : 1, 1);
	if (!r->pages) {
		avm_errf(err, "out of memory");
		return NULL;
	}
	p->nregions++;
	p->g->pages_live += len / PAGE;
	/* Page flags carry the protection, so partial mprotects need no extra state. */
	if (!(prot & KABI_PROT_WRITE) || !(prot & (KABI_PROT_READ | KABI_PROT_WRITE)))
		memset(r->pages, (prot & (KABI_PROT_READ | KABI_PROT_WRITE)) ? PG_RO : PG_RO | PG_NONE,
		       len / PAGE);
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->start = start;
	r->len = len;
	r->prot = prot;
	r->file = file;
	r->pgoff = pgoff;
	r->shared = shared;
	return r;
}

static void region_remove(struct proc *p, int i)
{
	p->g->pages_live -= p->regions[i].len / PAGE;
	free(p->regions[i].pages);
	memmove(&p->regions[i], &p->regions[i + 1], (p->nregions - i - 1) * sizeof(p->regions[0]));
	p->nregions--;
}

/* A region matches a step's map name exactly or as "<name>.<part>" (dlopen's parts). */
static bool region_matches(const struct region *r, const char *name)
{
	size_t n = strlen(name);

	return strncmp(r->name, name, n) == 0 && (r->name[n] == '\0' || r->name[n] == '.');
}

/*
 * Top-down mmap placement, as the kernel's default layout does: no gaps.
 * 0 when the range would reach below the heap (or the lowest mmap address):
 * the kernel's mmap fails with ENOMEM there; synth refuses the scenario.
 */
static uint64_t place(struct proc *p, uint64_t len)
{
	uint64_t floor = p->brk > MMAP_MIN_ADDR ? p->brk : MMAP_MIN_ADDR;

	if (p->mmap_cursor < floor || len > p->mmap_cursor - floor)
		return 0;
	p->mmap_cursor -= len;
	return p->mmap_cursor;
}

static int no_room(struct gen *g, uint64_t len, struct avm_err *err)
{
	return limit_errf(g, err, "no room for %llu more bytes between the mmap area and the "
			  "heap (x86_64 47-bit user space)", (unsigned long long)len);
}

/* ---- snapshot rows (exec and start) ---- */

struct snap_ctx {
	struct gen *g;
	uint64_t snap, mm;
	uint32_t count;
};

static int snap_vma(struct snap_ctx *sc, uint64_t start, uint64_t end, uint64_t pgoff,
		    uint64_t flags, uint64_t file, bool has_av, struct avm_err *err)
{
	struct gen *g = sc->g;
	struct avm_snap_vma v = { 0 };
	struct avm_snap_av a = { 0 };

	v.snap = sc->snap;
	v.mm = sc->mm;
	v.start = start;
	v.end = end;
	v.pgoff = pgoff;
	v.flags = flags;
	v.file = file;
	sc->count++;
	g->st->snap_vmas++;
	if (has_av) {
		/* A fresh anon_vma from __anon_vma_prepare: its own root and parent, one
		 * reference, num_children and num_active_vmas 1 (eager.md §2.2). */
		v.anon_vma = new_id(g);
		v.av_root = v.av_parent = v.anon_vma;
		v.av_refcount = v.av_children = v.av_active = 1;
		v.chain_len = 1;
		v.chain[0] = v.anon_vma;
		a.snap = sc->snap;
		a.id = v.anon_vma;
		a.root = a.parent = a.id;
		a.refcount = a.num_children = a.num_active_vmas = 1;
		g->st->snap_avs++;
		if (g->sink->snap_av(g->sink->ctx, &a, err))
			return -1;
	}
	return g->sink->snap_vma(g->sink->ctx, &v, err);
}

#define FLAGS_TEXT (VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)
#define FLAGS_DATA (VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT)
#define FLAGS_STACK (FLAGS_DATA | VM_GROWSDOWN)
#define FLAGS_VVAR (VM_READ | VM_MAYREAD | VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP)
#define FLAGS_VDSO (VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_DONTEXPAND)

/*
 * Map one ELF object the way load_elf_binary leaves it: text, the data
 * segment (file part rounded up to a page), and bss beyond that page through
 * vm_brk_flags.  padzero() zeroes the tail of the last file page with a
 * kernel-mode write, a private-file COW: that VMA gets an anon_vma.
 */
static int snap_elf(struct snap_ctx *sc, struct proc *p, const char *prefix, uint64_t base,
		    const struct image *im, struct avm_err *err)
{
	uint64_t text = round_page(im->text), data = round_page(im->data);
	uint64_t bss = round_page(im->data + im->bss) - data;
	uint64_t file = new_id(sc->g);
	bool partial = im->data % PAGE != 0;
	char name[NAME_MAX_LEN];
	struct region *r;

	snprintf(name, sizeof(name), "%s.text", prefix);
	if (snap_vma(sc, base, base + text, 0, FLAGS_TEXT, file, false, err) ||
	    !region_add(p, name, base, text, KABI_PROT_READ | KABI_PROT_EXEC, file, 0, false, err))
		return -1;
	snprintf(name, sizeof(name), "%s.data", prefix);
	if (snap_vma(sc, base + text, base + text + data, text / PAGE, FLAGS_DATA, file, partial,
		     err))
		return -1;
	r = region_add(p, name, base + text, data, KABI_PROT_READ | KABI_PROT_WRITE, file, text / PAGE, false, err);
	if (!r)
		return -1;
	if (partial) {
		r->has_av = true;
		r->pages[data / PAGE - 1] = PG_PRESENT | PG_WRITTEN;
	}
	if (bss) {
		snprintf(name, sizeof(name), "%s.bss", prefix);
		if (snap_vma(sc, base + text + data, base + text + data + bss,
			     (base + text + data) / PAGE, FLAGS_DATA, 0, false, err) ||
		    !region_add(p, name, base + text + data, bss, KABI_PROT_READ | KABI_PROT_WRITE, 0,
				(base + text + data) / PAGE, false, err))
			return -1;
	}
	return 0;
}

/*
 * The new mm after execve of image im (eager.md §2.7 "execve"): stack with an
 * anon_vma, vvar/vdso, the interpreter at the top of the mmap area, the
 * executable at the PIE base, brk just above its bss (no VMA yet).
 */
static int build_exec_mm(struct gen *g, struct proc *p, const struct image *im,
			 uint64_t snap, uint64_t mm, uint32_t *count, struct avm_err *err)
{
	struct snap_ctx sc = { .g = g, .snap = snap, .mm = mm };
	uint64_t stack_top = STACK_TOP_MAX - (rng_next(g) % 4096) * PAGE;
	uint64_t stack = round_page(im->stack);
	uint64_t exe_base = PIE_BASE + (rng_next(g) % 65536) * PAGE;
	uint64_t exe_end, addr;
	struct region *r;

	regions_free(p);
	if (snap_vma(&sc, stack_top - stack, stack_top, (stack_top - stack) / PAGE, FLAGS_STACK,
		     0, true, err))
		return -1;
	r = region_add(p, "stack", stack_top - stack, stack, KABI_PROT_READ | KABI_PROT_WRITE, 0,
		       (stack_top - stack) / PAGE, false, err);
	if (!r)
		return -1;
	/* The argument and environment strings fill the top page(s). */
	r->has_av = true;
	r->pages[stack / PAGE - 1] = PG_PRESENT | PG_WRITTEN;
	p->mmap_cursor = (stack_top - MMAP_GAP - (rng_next(g) % 65536) * PAGE) & ~(PAGE - 1);
	addr = place(p, 4 * PAGE);
	if (snap_vma(&sc, addr, addr + 4 * PAGE, 0, FLAGS_VVAR, 0, false, err))
		return -1;
	addr = place(p, 2 * PAGE);
	if (snap_vma(&sc, addr, addr + 2 * PAGE, 0, FLAGS_VDSO, 0, false, err))
		return -1;
	if (im->interp >= 0) {
		const struct image *ld = &g->s->images[im->interp];
		uint64_t span = round_page(ld->text) + round_page(ld->data + ld->bss);

		if (snap_elf(&sc, p, "ld", place(p, span), ld, err))
			return -1;
	}
	if (snap_elf(&sc, p, "exe", exe_base, im, err))
		return -1;
	exe_end = exe_base + round_page(im->text) + round_page(im->data + im->bss);
	p->start_brk = p->brk = exe_end + (rng_next(g) % 8192) * PAGE;
	*count = sc.count;
	return 0;
}

/* ---- process life ---- */

static struct proc *proc_new(struct gen *g, int tmpl, int parent, uint64_t t,
			     struct avm_err *err)
{
	struct proc *p;

	if (array_grow((void **)&g->procs, &g->capprocs, (size_t)g->nprocs + 1, sizeof(*g->procs),
		       64)) {
		avm_errf(err, "out of memory");
		return NULL;
	}
	if (g->live_procs >= SYNTH_MAX_LIVE_PROCS) {
		limit_errf(g, err, "more than %d processes would be alive at once",
			   SYNTH_MAX_LIVE_PROCS);
		return NULL;
	}
	if (g->st->processes >= SYNTH_MAX_PROCESSES) {
		limit_errf(g, err, "more than %llu processes would be created",
			   (unsigned long long)SYNTH_MAX_PROCESSES);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		avm_errf(err, "out of memory");
		return NULL;
	}
	p->g = g;
	g->live_procs++;
	p->idx = g->nprocs;
	g->procs[g->nprocs++] = p;
	p->tmpl = tmpl;
	p->pid = (uint32_t)g->next_pid++;
	p->cpu = (int)(p->pid % (uint32_t)g->s->cpus);
	p->parent = parent;
	p->t = t;
	p->state = PS_RUN;
	g->st->processes++;
	return p;
}

static int wake(struct gen *g, struct proc *p, uint64_t t, struct avm_err *err)
{
	if (p->t < t)
		p->t = t;
	p->state = PS_RUN;
	return heap_push(g, p->idx, err);
}

/* A child of parent left (exit) or stopped sharing its mm (exec after vfork). */
static int notify_parent(struct gen *g, struct proc *p, bool exited, struct avm_err *err)
{
	struct proc *parent = p->parent >= 0 ? g->procs[p->parent] : NULL;

	if (!parent || parent->state == PS_EXITED)
		return 0;
	if (p->vfork_child && parent->state == PS_VFORK && wake(g, parent, p->t, err))
		return -1;
	if (!exited)
		return 0;
	parent->live_children--;
	parent->unreaped++;
	if (parent->state == PS_WAIT && (!parent->wait_all || parent->live_children == 0)) {
		if (!parent->wait_all)
			parent->unreaped--;
		else
			parent->unreaped = 0;
		return wake(g, parent, p->t, err);
	}
	return 0;
}

/* Release one user of mm; the last one runs exit_mmap (AVM_MM_RELEASE). */
static int mm_put(struct gen *g, struct proc *p, uint64_t mm, struct avm_err *err)
{
	uint32_t users = 0;
	uint64_t saved = p->mm;
	int rc;

	if (mm_users_add(g, mm, -1, &users, err))
		return -1;
	if (users)
		return 0;
	p->mm = mm;
	rc = emit(g, p, p->pid, AVM_MM_RELEASE, 0, 0, 0, 0, 0, 0, err);
	p->mm = saved;
	return rc;
}

static int do_exit(struct gen *g, struct proc *p, struct avm_err *err)
{
	int i;

	for (i = 0; i < p->ntids; i++) {
		if (emit(g, p, p->tids[i], AVM_EXIT, 0, 0, 0, 0, 0, 0, err))
			return -1;
	}
	if (emit(g, p, p->pid, AVM_EXIT, 1, 0, 0, 0, 0, 0, err) || mm_put(g, p, p->mm, err))
		return -1;
	p->t += COST_EXIT;
	p->state = PS_EXITED;
	g->st->exits++;
	g->live_procs--;
	regions_free(p);
	free(p->tids);
	p->tids = NULL;
	p->ntids = 0;
	if (notify_parent(g, p, true, err))
		return -1;
	p->vfork_child = false;
	return 0;
}

static uint32_t some_tid(struct gen *g, const struct proc *p)
{
	uint64_t i;

	if (!p->ntids)
		return p->pid;
	i = rng_next(g) % (uint64_t)(p->ntids + 1);
	return i == 0 ? p->pid : p->tids[i - 1];
}

static int op_mmap(struct gen *g, struct proc *p, const struct step *st, struct avm_err *err)
{
	uint64_t len = round_page(st->size), addr, file = 0;
	int flags;
	struct region *r;

	flags = (st->shared ? KABI_MAP_SHARED : KABI_MAP_PRIVATE) | (st->file ? 0 : KABI_MAP_ANONYMOUS) |
		(st->noreserve ? KABI_MAP_NORESERVE : 0) | (st->stack ? KABI_MAP_STACK : 0);
	if (st->file)
		file = new_id(g);
	addr = place(p, len);
	if (!addr)
		return no_room(g, len, err);
	if (emit(g, p, some_tid(g, p), AVM_MMAP, (int64_t)addr, (int64_t)len, st->prot, flags,
		 (int64_t)file, 0, err))
		return -1;
	r = region_add(p, st->map, addr, len, st->prot, file, st->file ? 0 : addr / PAGE,
		       st->shared, err);
	if (!r)
		return -1;
	p->t += COST_SYSCALL;
	return 0;
}

/*
 * What ld.so does for one shared library: reserve the whole span with the
 * first (text) segment, map the data segment over it with MAP_FIXED, map bss
 * beyond the last file page anonymously, write relocations into the data
 * pages (private file COW faults), then mprotect the RELRO part read-only
 * (a split).  observed.md: ~3 AVC clones per dynamically linked exec.
 */
static int op_dlopen(struct gen *g, struct proc *p, const struct step *st, struct avm_err *err)
{
	uint64_t text = round_page(st->text), data = round_page(st->data);
	uint64_t bss = round_page(st->data + st->bss) - data;
	uint64_t file = new_id(g), base = place(p, text + data + bss), i;
	uint32_t tid = some_tid(g, p);
	char name[NAME_MAX_LEN + 8];
	struct region *r;

	if (!base)
		return no_room(g, text + data + bss, err);
	if (emit(g, p, tid, AVM_MMAP, (int64_t)base, (int64_t)(text + data + bss), KABI_PROT_READ | KABI_PROT_EXEC,
		 KABI_MAP_PRIVATE, (int64_t)file, 0, err) ||
	    emit(g, p, tid, AVM_MMAP, (int64_t)(base + text), (int64_t)data, KABI_PROT_READ | KABI_PROT_WRITE,
		 KABI_MAP_PRIVATE | KABI_MAP_FIXED, (int64_t)file, (int64_t)(text / PAGE), err))
		return -1;
	if (bss && emit(g, p, tid, AVM_MMAP, (int64_t)(base + text + data), (int64_t)bss,
			KABI_PROT_READ | KABI_PROT_WRITE, KABI_MAP_PRIVATE | KABI_MAP_FIXED | KABI_MAP_ANONYMOUS, 0, 0, err))
		return -1;
	snprintf(name, sizeof(name), "%s.text", st->map);
	if (!region_add(p, name, base, text, KABI_PROT_READ | KABI_PROT_EXEC, file, 0, false, err))
		return -1;
	snprintf(name, sizeof(name), "%s.data", st->map);
	r = region_add(p, name, base + text, data, KABI_PROT_READ | KABI_PROT_WRITE, file, text / PAGE, false, err);
	if (!r)
		return -1;
	p->t += 3 * COST_SYSCALL;
	for (i = 0; i < data / PAGE; i++) {
		if (emit(g, p, tid, AVM_FAULT, (int64_t)(r->start + i * PAGE + 8),
			 AVM_PF_WRITE | AVM_PF_USER, 0, 0, 0, 0, err))
			return -1;
		r->pages[i] = PG_PRESENT | PG_WRITTEN;
		g->st->faults++;
		p->t += COST_FAULT_WRITE;
	}
	r->has_av = true;
	if (st->relro) {
		if (emit(g, p, tid, AVM_MPROTECT, (int64_t)r->start, (int64_t)st->relro, KABI_PROT_READ, 0, 0,
			 0, err))
			return -1;
		for (i = 0; i < st->relro / PAGE; i++)
			r->pages[i] = (uint8_t)((r->pages[i] & ~PG_WRITTEN) | PG_RO);
		p->t += COST_SYSCALL;
	}
	if (bss) {
		snprintf(name, sizeof(name), "%s.bss", st->map);
		if (!region_add(p, name, base + text + data, bss, KABI_PROT_READ | KABI_PROT_WRITE, 0,
				(base + text + data) / PAGE, false, err))
			return -1;
	}
	return 0;
}

/* One page touch: fault as the MMU would (see the design comment). */
static int touch_page(struct gen *g, struct proc *p, struct region *r, uint64_t i, bool write,
		      bool *faulted, struct avm_err *err)
{
	uint8_t *pg = &r->pages[i];
	uint64_t code = AVM_PF_USER;

	*faulted = false;
	if (*pg & PG_NONE)
		return 0;
	if (write && *pg & PG_RO)
		write = false;
	if (write) {
		if (*pg & PG_WRITTEN)
			return 0;
		code |= AVM_PF_WRITE | ((*pg & PG_PRESENT) ? AVM_PF_PROT : 0);
		*pg |= PG_PRESENT | PG_WRITTEN;
		if (!r->shared)
			r->has_av = true;
	} else {
		if (*pg & PG_PRESENT)
			return 0;
		*pg |= PG_PRESENT;
		/* A shared writable page is mapped writable on a read fault only once dirty;
		 * a private page never is. */
	}
	*faulted = true;
	g->st->faults++;
	p->t += write ? COST_FAULT_WRITE : COST_FAULT_READ;
	return emit(g, p, some_tid(g, p), AVM_FAULT,
		    (int64_t)(r->start + i * PAGE + (rng_next(g) & (PAGE - 8))), (int64_t)code, 0,
		    0, 0, 0, err);
}

/* Returns 1 when the step is complete, 0 to be continued in the next slice. */
static int op_touch(struct gen *g, struct proc *p, const struct step *st, struct avm_err *err)
{
	int faults = 0;
	bool faulted;

	for (; p->cur_region < p->nregions; p->cur_region++, p->cur_page = 0) {
		struct region *r = &p->regions[p->cur_region];

		if (!region_matches(r, st->map))
			continue;
		for (; p->cur_page < r->len / PAGE; p->cur_page++) {
			if (faults >= TOUCH_CHUNK)
				return 0;
			if (st->pages < 1.0 && rng_unit(g) >= st->pages)
				continue;
			if (touch_page(g, p, r, p->cur_page, st->write > 0 && rng_unit(g) < st->write,
				       &faulted, err))
				return -1;
			faults += faulted;
		}
	}
	return 1;
}

/* [lo, hi) of region r that a ranged step (offset, size) covers; false if empty. */
static bool step_range(const struct step *st, const struct region *r, uint64_t *lo,
		       uint64_t *hi)
{
	uint64_t off = st->offset / PAGE * PAGE;
	uint64_t size = st->size ? round_page(st->size) : r->len;

	if (off >= r->len)
		return false;
	*lo = r->start + off;
	*hi = r->start + (off + size < r->len ? off + size : r->len);
	return true;
}

static int op_mprotect(struct gen *g, struct proc *p, const struct step *st,
		       struct avm_err *err)
{
	uint64_t lo, hi, i;
	int n;

	for (n = 0; n < p->nregions; n++) {
		struct region *r = &p->regions[n];

		if (!region_matches(r, st->map) || !step_range(st, r, &lo, &hi))
			continue;
		if (emit(g, p, some_tid(g, p), AVM_MPROTECT, (int64_t)lo, (int64_t)(hi - lo),
			 st->prot, 0, 0, 0, err))
			return -1;
		p->t += COST_SYSCALL;
		for (i = (lo - r->start) / PAGE; i < (hi - r->start) / PAGE; i++) {
			/* Changing protection write-protects the PTEs (change_protection). */
			r->pages[i] &= (uint8_t)~(PG_WRITTEN | PG_RO | PG_NONE);
			if (!(st->prot & KABI_PROT_WRITE))
				r->pages[i] |= PG_RO;
			if (!(st->prot & (KABI_PROT_READ | KABI_PROT_WRITE)))
				r->pages[i] |= PG_NONE;
		}
		if (lo == r->start && hi == r->start + r->len)
			r->prot = st->prot;
	}
	return 0;
}

static int op_munmap(struct gen *g, struct proc *p, const struct step *st, struct avm_err *err)
{
	int n;

	for (n = 0; n < p->nregions;) {
		struct region *r = &p->regions[n];

		if (!region_matches(r, st->map)) {
			n++;
			continue;
		}
		if (emit(g, p, some_tid(g, p), AVM_MUNMAP, (int64_t)r->start, (int64_t)r->len, 0, 0,
			 0, 0, err))
			return -1;
		p->t += COST_SYSCALL;
		region_remove(p, n);
	}
	return 0;
}

static int op_madvise(struct gen *g, struct proc *p, const struct step *st,
		      struct avm_err *err)
{
	uint64_t lo, hi, i;
	int n;

	for (n = 0; n < p->nregions; n++) {
		struct region *r = &p->regions[n];
		bool whole;

		if (!region_matches(r, st->map) || !step_range(st, r, &lo, &hi))
			continue;
		if (emit(g, p, some_tid(g, p), AVM_MADVISE, (int64_t)lo, (int64_t)(hi - lo),
			 st->advice, 0, 0, 0, err))
			return -1;
		p->t += COST_SYSCALL;
		whole = lo == r->start && hi == r->start + r->len;
		switch (st->advice) {
		case ADV_DONTNEED:
			/* Zap: the pages are gone; the VMA keeps its anon_vma. */
			for (i = (lo - r->start) / PAGE; i < (hi - r->start) / PAGE; i++)
				r->pages[i] &= (uint8_t)~(PG_PRESENT | PG_WRITTEN);
			break;
		case ADV_DONTFORK:
			r->dontfork = r->dontfork || whole;
			break;
		case ADV_DOFORK:
			r->dontfork = false;
			break;
		case ADV_WIPEONFORK:
			r->wipeonfork = r->wipeonfork || whole;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* mremap(MAYMOVE): shrink in place, grow by moving to a fresh range (pages move along). */
static int op_mremap(struct gen *g, struct proc *p, const struct step *st, struct avm_err *err)
{
	uint64_t len = round_page(st->size), to;
	uint8_t *pages;
	int n;

	for (n = 0; n < p->nregions; n++) {
		struct region *r = &p->regions[n];

		if (!region_matches(r, st->map) || len == r->len)
			continue;
		to = len < r->len ? r->start : place(p, len);
		if (!to)
			return no_room(g, len, err);
		if (len > r->len && (len - r->len) / PAGE > SYNTH_MAX_PAGES - g->pages_live)
			return limit_errf(g, err, "live processes would map more than %llu GiB",
					  (unsigned long long)(SYNTH_MAX_PAGES * PAGE >> 30));
		if (emit(g, p, some_tid(g, p), AVM_MREMAP, (int64_t)r->start, (int64_t)r->len,
			 (int64_t)len, KABI_MREMAP_MAYMOVE, (int64_t)to, 0, err))
			return -1;
		p->t += COST_SYSCALL;
		pages = calloc(len / PAGE, 1);
		if (!pages)
			return avm_errf(err, "out of memory");
		memcpy(pages, r->pages, (len < r->len ? len : r->len) / PAGE);
		if (len > r->len && !(r->prot & KABI_PROT_WRITE))
			memset(pages + r->len / PAGE, (r->prot & KABI_PROT_READ) ? PG_RO : PG_RO | PG_NONE,
			       (len - r->len) / PAGE);
		free(r->pages);
		r->pages = pages;
		g->pages_live = g->pages_live - r->len / PAGE + len / PAGE;
		/* copy_vma keeps the pgoff of a faulted VMA, an unfaulted anonymous one gets
		 * the new address (eager.md §2.7 "mremap move"). */
		if (to != r->start && !r->file && !r->has_av)
			r->pgoff = to / PAGE;
		r->start = to;
		r->len = len;
	}
	return 0;
}

/* The region named exactly name, or -1. */
static int region_find(const struct proc *p, const char *name)
{
	int i;

	for (i = 0; i < p->nregions; i++)
		if (!strcmp(p->regions[i].name, name))
			return i;
	return -1;
}

/* One userfaultfd fill or move ioctl of a gc step: n pages at heap page i. */
static int gc_ioctl(struct gen *g, struct proc *p, enum avm_kind kind, int h, int f, uint64_t i,
		    uint64_t n, struct avm_err *err)
{
	struct region *r = &p->regions[h], *fr = &p->regions[f];
	uint64_t dst = r->start + i * PAGE, src = fr->start + i * PAGE, k;

	if (emit(g, p, some_tid(g, p), kind, (int64_t)dst, (int64_t)(n * PAGE),
		 kind == AVM_UFFD_ZEROPAGE ? 0 : (int64_t)src, (int64_t)(n * PAGE), (int64_t)p->uffd,
		 kind == AVM_UFFD_MOVE ? (int64_t)KABI_UFFD_MOVE_ALLOW_SRC_HOLES : 0, err))
		return -1;
	r->has_av = true; /* the ioctl prepared the heap's anon_vma */
	for (k = i; k < i + n; k++) {
		/* COPY and MOVE map writable dirty pages; ZEROPAGE the read-only zero page */
		r->pages[k] = kind == AVM_UFFD_ZEROPAGE ? PG_PRESENT : PG_PRESENT | PG_WRITTEN;
		if (kind == AVM_UFFD_MOVE)
			fr->pages[k] &= (uint8_t)~(PG_PRESENT | PG_WRITTEN);
	}
	return 0;
}

/*
 * One cycle of ART's concurrent compacting collector (the CMC GC) on each
 * private anonymous region named map (the moving space):
 *  1. the heap's pages move to the from-space with mremap(MREMAP_MAYMOVE |
 *     MREMAP_FIXED | MREMAP_DONTUNMAP) - the heap stays mapped and empty (the
 *     kernel unlinks its anon_vma chain), the from-space ("<map>-from",
 *     mapped on the first cycle) is replaced by the heap's copy;
 *  2. the heap is registered with the process's userfaultfd (MISSING);
 *  3. the live share of the pages that were present is compacted to the
 *     heap's start, GC_CHUNK pages per ioctl: a share `move` of the chunks
 *     (spread evenly, no random draw: the rest of the scenario sees the same
 *     random stream with or without gc steps) with UFFDIO_MOVE from the same
 *     offset of the from-space, the rest with
 *     UFFDIO_COPY; a share `zero` of the pages after them is mapped with
 *     UFFDIO_ZEROPAGE (mutators touching fresh pages during compaction);
 *  4. the heap is unregistered and the from-space released (MADV_DONTNEED).
 * A gc step takes no simulated time and draws nothing from the scenario's
 * random stream, so adding gc steps to a scenario changes no other process's
 * interleaving or draws: the two traces differ by what the GC does only.
 */
static int op_gc(struct gen *g, struct proc *p, const struct step *st, struct avm_err *err)
{
	char from[NAME_MAX_LEN + sizeof(GC_FROM_SUFFIX)];
	int h, f, nh = p->nregions;
	uint64_t i, n, present, live, zero;

	for (h = 0; h < nh; h++) {
		struct region *r = &p->regions[h], *fr;

		/* a part name too long for its from-space's name is no moving space */
		if (!region_matches(r, st->map) || r->shared || r->file ||
		    strlen(r->name) + sizeof(GC_FROM_SUFFIX) > NAME_MAX_LEN)
			continue;
		snprintf(from, sizeof(from), "%s" GC_FROM_SUFFIX, r->name);
		f = region_find(p, from);
		if (f >= 0 && p->regions[f].len != r->len) {
			/* the heap changed size: a new from-space */
			if (emit(g, p, some_tid(g, p), AVM_MUNMAP, (int64_t)p->regions[f].start,
				 (int64_t)p->regions[f].len, 0, 0, 0, 0, err))
				return -1;
			region_remove(p, f);
			if (f < h)
				h--;
			nh--;
			f = -1;
		}
		if (f < 0) {
			uint64_t len = p->regions[h].len, addr = place(p, len);

			if (!addr)
				return no_room(g, len, err);
			if (emit(g, p, some_tid(g, p), AVM_MMAP, (int64_t)addr, (int64_t)len,
				 KABI_PROT_READ | KABI_PROT_WRITE, KABI_MAP_PRIVATE | KABI_MAP_ANONYMOUS | KABI_MAP_NORESERVE, 0, 0, err))
				return -1;
			if (!region_add(p, from, addr, len, KABI_PROT_READ | KABI_PROT_WRITE, 0, addr / PAGE, false, err))
				return -1;
			f = p->nregions - 1;
		}
		if (!p->uffd)
			p->uffd = new_id(g);
		r = &p->regions[h];
		fr = &p->regions[f];
		/* 1: the move (copy_vma: a faulted heap's copy keeps its pgoff) */
		if (emit(g, p, some_tid(g, p), AVM_MREMAP, (int64_t)r->start, (int64_t)r->len,
			 (int64_t)r->len, KABI_MREMAP_MAYMOVE | KABI_MREMAP_FIXED | KABI_MREMAP_DONTUNMAP,
			 (int64_t)fr->start, (int64_t)fr->start, err))
			return -1;
		memcpy(fr->pages, r->pages, r->len / PAGE);
		memset(r->pages, 0, r->len / PAGE);
		fr->has_av = r->has_av;
		fr->pgoff = r->has_av ? r->pgoff : fr->start / PAGE;
		fr->prot = r->prot;
		r->has_av = false;
		/* 2: register */
		if (emit(g, p, some_tid(g, p), AVM_UFFD_REGISTER, (int64_t)r->start, (int64_t)r->len,
			 (int64_t)KABI_UFFD_MODE_MISSING, 0, (int64_t)p->uffd,
			 (int64_t)KABI_UFFD_FEATURE_MOVE, err))
			return -1;
		/* 3: compaction */
		for (present = 0, i = 0; i < fr->len / PAGE; i++)
			present += (fr->pages[i] & PG_PRESENT) != 0;
		live = (uint64_t)((double)present * st->pages + 0.5);
		zero = (uint64_t)((double)(r->len / PAGE - live) * st->probability + 0.5);
		for (i = 0; i < live; i += n) {
			uint64_t j = i / GC_CHUNK;
			/* every 1/move-th chunk moves: spread evenly, no draw from the
			 * scenario's random stream (a gc step changes nothing else) */
			bool mv = (uint64_t)((double)(j + 1) * st->write) >
				  (uint64_t)((double)j * st->write);

			n = live - i < GC_CHUNK ? live - i : GC_CHUNK;
			if (gc_ioctl(g, p, mv ? AVM_UFFD_MOVE : AVM_UFFD_COPY, h, f, i, n, err))
				return -1;
		}
		for (i = live; i < live + zero; i += n) {
			n = live + zero - i < GC_CHUNK ? live + zero - i : GC_CHUNK;
			if (gc_ioctl(g, p, AVM_UFFD_ZEROPAGE, h, f, i, n, err))
				return -1;
		}
		/* 4: unregister, release the from-space */
		r = &p->regions[h];
		fr = &p->regions[f];
		if (emit(g, p, some_tid(g, p), AVM_UFFD_UNREGISTER, (int64_t)r->start, (int64_t)r->len,
			 0, 0, (int64_t)p->uffd, 0, err) ||
		    emit(g, p, some_tid(g, p), AVM_MADVISE, (int64_t)fr->start, (int64_t)fr->len,
			 ADV_DONTNEED, 0, 0, 0, err))
			return -1;
		memset(fr->pages, 0, fr->len / PAGE);
	}
	return 0;
}

static int op_brk(struct gen *g, struct proc *p, const struct step *st, struct avm_err *err)
{
	uint64_t want = p->brk + round_page(st->size);
	struct region *r = NULL;
	uint8_t *pages;
	int n;

	for (n = 0; n < p->nregions; n++) {
		if (strcmp(p->regions[n].name, "brk") == 0)
			r = &p->regions[n];
	}
	/* the kernel's brk fails when the heap would reach the mmap area */
	if (want > p->mmap_cursor || want < p->brk)
		return no_room(g, round_page(st->size), err);
	if (r && (want - r->start - r->len) / PAGE > SYNTH_MAX_PAGES - g->pages_live)
		return limit_errf(g, err, "live processes would map more than %llu GiB",
				  (unsigned long long)(SYNTH_MAX_PAGES * PAGE >> 30));
	/* malloc's first sbrk asks for the current break with brk(0). */
	if (!r && emit(g, p, some_tid(g, p), AVM_BRK, 0, (int64_t)p->brk, 0, 0, 0, 0, err))
		return -1;
	if (emit(g, p, some_tid(g, p), AVM_BRK, (int64_t)want, (int64_t)want, 0, 0, 0, 0, err))
		return -1;
	p->t += COST_SYSCALL;
	if (!r) {
		r = region_add(p, "brk", p->start_brk, want - p->start_brk, KABI_PROT_READ | KABI_PROT_WRITE, 0,
			       p->start_brk / PAGE, false, err);
		if (!r)
			return -1;
	} else {
		pages = realloc(r->pages, (want - r->start) / PAGE);
		if (!pages)
			return avm_errf(err, "out of memory");
		memset(pages + r->len / PAGE, 0, (want - r->start - r->len) / PAGE);
		r->pages = pages;
		g->pages_live += (want - r->start - r->len) / PAGE;
		r->len = want - r->start;
	}
	p->brk = want;
	return 0;
}

/* Copy the parent's regions into the child as dup_mmap would leave them. */
static int fork_regions(struct proc *child, struct proc *p, struct avm_err *err)
{
	uint64_t i, n;
	int k;

	for (k = 0; k < p->nregions; k++) {
		struct region *r = &p->regions[k], *c;

		if (r->dontfork)
			continue;
		c = region_add(child, r->name, r->start, r->len, r->prot, r->file, r->pgoff,
			       r->shared, err);
		if (!c)
			return -1;
		n = r->len / PAGE;
		c->dontfork = false;
		c->wipeonfork = r->wipeonfork;
		c->has_av = r->has_av && !r->wipeonfork;
		for (i = 0; i < n; i++) {
			/* Private pages: write-protected in both (COW); the child's page tables
			 * are copied only for VMAs with an anon_vma (vma_needs_copy). */
			if (!r->shared)
				r->pages[i] &= (uint8_t)~PG_WRITTEN;
			c->pages[i] = r->pages[i] & (PG_RO | PG_NONE);
			if (c->has_av)
				c->pages[i] |= r->pages[i] & PG_PRESENT;
		}
	}
	child->mmap_cursor = p->mmap_cursor;
	child->start_brk = p->start_brk;
	child->brk = p->brk;
	return 0;
}

static int op_fork(struct gen *g, struct proc *p, const struct step *st, struct avm_err *err)
{
	struct proc *c;
	int64_t flags = KABI_SIGCHLD;
	uint32_t users;

	if (st->probability < 1.0 && rng_unit(g) >= st->probability)
		return 0;
	c = proc_new(g, st->target, p->idx, p->t + COST_FORK, err);
	if (!c)
		return -1;
	if (st->vfork) {
		c->mm = p->mm;
		c->vfork_child = true;
		flags |= KABI_CLONE_VM | KABI_CLONE_VFORK;
		g->st->vforks++;
	} else {
		c->mm = new_id(g);
		if (fork_regions(c, p, err))
			return -1;
		g->st->forks++;
	}
	if (mm_users_add(g, c->mm, 1, &users, err) ||
	    emit(g, p, p->pid, AVM_FORK, (int64_t)c->mm, c->pid, flags, c->pid, 0, 0, err))
		return -1;
	p->live_children++;
	p->t += COST_FORK + COST_FORK_PER_REGION * (uint64_t)p->nregions;
	if (c->t < p->t)
		c->t = p->t;
	if (heap_push(g, g->nprocs - 1, err))
		return -1;
	if (st->vfork)
		p->state = PS_VFORK;
	return 0;
}

/* glibc pthread_create: an 8 MiB MAP_STACK stack with a guard page, then clone. */
static int op_threads(struct gen *g, struct proc *p, const struct step *st,
		      struct avm_err *err)
{
	static const struct step stack = { .op = OP_MMAP, .map = "thread-stack",
					   .size = (8 << 20) + PAGE, .prot = KABI_PROT_READ | KABI_PROT_WRITE,
					   .noreserve = false, .stack = true, .count = 1 };
	struct region *r;
	uint32_t *tids;
	uint64_t i;
	bool faulted;

	if ((uint64_t)p->ntids + st->count > SYNTH_MAX_THREADS)
		return limit_errf(g, err, "a process would have more than %d threads",
				  SYNTH_MAX_THREADS);
	tids = realloc(p->tids, (p->ntids + st->count) * sizeof(*tids));
	if (!tids)
		return avm_errf(err, "out of memory");
	p->tids = tids;
	for (i = 0; i < st->count; i++) {
		if (op_mmap(g, p, &stack, err))
			return -1;
		r = &p->regions[p->nregions - 1];
		if (emit(g, p, p->pid, AVM_MPROTECT, (int64_t)r->start, (int64_t)PAGE, 0, 0, 0, 0,
			 err))
			return -1;
		r->pages[0] = PG_NONE | PG_RO;
		p->tids[p->ntids] = (uint32_t)g->next_pid++;
		if (emit(g, p, p->pid, AVM_FORK, (int64_t)p->mm, p->tids[p->ntids],
			 KABI_CLONE_THREAD_FLAGS, p->pid, 0, 0, err))
			return -1;
		p->ntids++;
		g->st->threads++;
		p->t += COST_THREAD;
		/* The new thread's first frames: the top pages of its stack. */
		if (touch_page(g, p, r, r->len / PAGE - 1, true, &faulted, err) ||
		    touch_page(g, p, r, r->len / PAGE - 2, true, &faulted, err))
			return -1;
	}
	return 0;
}

static int op_exec(struct gen *g, struct proc *p, const struct step *st, struct avm_err *err)
{
	uint64_t old = p->mm, mm = new_id(g), snap = g->next_snap++;
	uint32_t users, count = 0;
	int i;

	/* de_thread: the other threads go first. */
	for (i = 0; i < p->ntids; i++) {
		if (emit(g, p, p->tids[i], AVM_EXIT, 0, 0, 0, 0, 0, 0, err))
			return -1;
	}
	p->ntids = 0;
	p->t += COST_EXEC;
	/* Kernel order: exec_mmap drops the old mm (exit_mmap if it was the last user)
	 * inside load_elf_binary; sched_process_exec, where the collector records the
	 * exec and its snapshot, fires after the ELF load. */
	if (build_exec_mm(g, p, &g->s->images[st->target], snap, mm, &count, err) ||
	    mm_users_add(g, mm, 1, &users, err) || mm_put(g, p, old, err) ||
	    emit(g, p, p->pid, AVM_EXEC, (int64_t)mm, (int64_t)snap, p->pid, 0, 0, 0, err))
		return -1;
	g->st->execs++;
	p->mm = mm;
	if (p->vfork_child) {
		if (notify_parent(g, p, false, err))
			return -1;
		p->vfork_child = false;
	}
	return 0;
}

/*
 * Run one unit of process p: returns 0 with p rescheduled or blocked as its
 * state says.
 */
static int run_slice(struct gen *g, struct proc *p, struct avm_err *err)
{
	const struct tmpl *t = &g->s->tmpls[p->tmpl];
	const struct step *st;
	uint64_t idle = 0;
	int rc;

	if (p->t > SYNTH_MAX_NS) {
		g->line = t->nsteps ? t->steps[p->pc > 0 ? p->pc - 1 : 0].line : t->line;
		return limit_errf(g, err, "process '%s' runs past %llu days of simulated time",
				  t->name, (unsigned long long)(SYNTH_MAX_NS / 86400000000000ULL));
	}
	for (;;) {
		if (p->pc < t->nsteps)
			g->line = t->steps[p->pc].line;
		if (++g->steps > (g->o->max_steps ? g->o->max_steps : SYNTH_MAX_STEPS))
			return limit_errf(g, err, "more than %llu steps executed",
					  (unsigned long long)(g->o->max_steps ? g->o->max_steps
									   : SYNTH_MAX_STEPS));
		/* every step that returns below emits an event or passes time; the
		 * ones that `continue` do neither, so a run of them is bounded */
		if (++idle > SYNTH_MAX_IDLE_STEPS)
			return limit_errf(g, err, "process '%s' runs more than %d steps in a row "
					  "without an event or simulated time passing", t->name,
					  SYNTH_MAX_IDLE_STEPS);
		if (p->pc >= t->nsteps) {
			if (t->stay) {
				p->state = PS_DONE;
				return 0;
			}
			return do_exit(g, p, err);
		}
		st = &t->steps[p->pc];
		switch (st->op) {
		case OP_REPEAT:
			if (step_count(g, st) == 0) {
				p->pc = st->jump + 1;
				continue;
			}
			p->loops[p->depth].pc = p->pc;
			p->loops[p->depth].left = step_count(g, st);
			p->depth++;
			p->pc++;
			continue;
		case OP_END:
			if (--p->loops[p->depth - 1].left > 0) {
				p->pc = st->jump + 1;
			} else {
				p->depth--;
				p->pc++;
			}
			continue;
		case OP_TOUCH:
			rc = op_touch(g, p, st, err);
			if (rc < 0)
				return -1;
			if (rc == 0)
				return heap_push(g, p->idx, err);
			p->cur_region = 0;
			p->cur_page = 0;
			p->pc++;
			return heap_push(g, p->idx, err);
		case OP_FORK:
			if (p->done >= step_count(g, st)) {
				p->done = 0;
				p->pc++;
				continue;
			}
			p->done++;
			if (op_fork(g, p, st, err))
				return -1;
			p->t += st->every;
			return p->state == PS_VFORK ? 0 : heap_push(g, p->idx, err);
		case OP_WAIT:
			p->pc++;
			if (p->live_children == 0 || (!st->wait_all && p->unreaped > 0)) {
				if (st->wait_all || p->unreaped == 0)
					p->unreaped = 0;
				else
					p->unreaped--;
				continue;
			}
			p->wait_all = st->wait_all;
			p->state = PS_WAIT;
			return 0;
		case OP_EXIT:
			p->pc++;
			if (st->probability >= 1.0 || rng_unit(g) < st->probability)
				return do_exit(g, p, err);
			continue;
		case OP_SLEEP:
			p->pc++;
			if (!st->every)
				continue; /* passes no time: an idle step */
			p->t += st->every;
			return heap_push(g, p->idx, err);
		default:
			break;
		}
		/* Steps with `count` instances run one instance per slice. */
		switch (st->op) {
		case OP_MMAP:
			rc = op_mmap(g, p, st, err);
			break;
		case OP_DLOPEN:
			rc = op_dlopen(g, p, st, err);
			break;
		case OP_MPROTECT:
			rc = op_mprotect(g, p, st, err);
			break;
		case OP_MUNMAP:
			rc = op_munmap(g, p, st, err);
			break;
		case OP_MADVISE:
			rc = op_madvise(g, p, st, err);
			break;
		case OP_MREMAP:
			rc = op_mremap(g, p, st, err);
			break;
		case OP_GC:
			rc = op_gc(g, p, st, err);
			break;
		case OP_BRK:
			rc = op_brk(g, p, st, err);
			break;
		case OP_THREADS:
			rc = op_threads(g, p, st, err);
			break;
		case OP_EXEC:
			rc = op_exec(g, p, st, err);
			break;
		default:
			rc = avm_errf(err, "synth: internal error: step %d", (int)st->op);
			break;
		}
		if (rc)
			return -1;
		if ((st->op == OP_MMAP || st->op == OP_DLOPEN) && ++p->done < st->count)
			return heap_push(g, p->idx, err);
		p->done = 0;
		p->pc++;
		return heap_push(g, p->idx, err);
	}
}

/*
 * init: a pre-existing process whose mm arrives through the start snapshot
 * (eager.md §7.5 "pre-existing processes"): a static-ish daemon with a
 * faulted data segment, heap and stack.
 */
static int start_init(struct gen *g, struct proc **out, struct avm_err *err)
{
	static const struct image init_image = { .name = "init", .text = 256 << 10,
						 .data = 10 << 10, .bss = 20 << 10,
						 .stack = 132 << 10, .interp = -1 };
	struct snap_ctx sc = { .g = g };
	struct proc *p;
	uint64_t heap, snap = g->next_snap++;
	uint32_t users, count;
	struct region *r;

	p = proc_new(g, -1, -1, 0, err);
	if (!p)
		return -1;
	p->mm = new_id(g);
	sc.snap = snap;
	sc.mm = p->mm;
	if (build_exec_mm(g, p, &init_image, snap, p->mm, &count, err))
		return -1;
	/* init has run for a while: its heap exists and is faulted. */
	heap = 132 << 10;
	sc.count = count;
	if (snap_vma(&sc, p->start_brk, p->start_brk + heap, p->start_brk / PAGE, FLAGS_DATA, 0,
		     true, err))
		return -1;
	r = region_add(p, "brk", p->start_brk, heap, KABI_PROT_READ | KABI_PROT_WRITE, 0, p->start_brk / PAGE,
		       false, err);
	if (!r)
		return -1;
	r->has_av = true;
	p->brk = p->start_brk + heap;
	if (mm_users_add(g, p->mm, 1, &users, err))
		return -1;
	/* A start snapshot covers every mm, so the event names none (mm 0, pid 0). */
	if (emit(g, NULL, 0, AVM_SNAPSHOT, (int64_t)snap, AVM_SNAP_START, sc.count, 0, 0, 0, err))
		return -1;
	p->state = PS_DONE;
	*out = p;
	return 0;
}

/* At most one line a second; on a terminal the line is rewritten in place. */
static void progress(struct gen *g, bool final)
{
	time_t now = time(NULL);
	bool tty = isatty(STDERR_FILENO);

	if (!g->o->progress || (!final && now == g->last_progress) || (final && !g->printed))
		return;
	if (final && !tty)
		return; /* each line already ended */
	g->last_progress = now;
	g->printed = true;
	fprintf(stderr, "%ssynth: %llu events, %llu processes, %.3f s simulated%s",
		tty ? "\r" : "", (unsigned long long)g->st->events,
		(unsigned long long)g->st->processes, (double)g->now / 1e9,
		final || !tty ? "\n" : "");
}

int synth_run(const struct synth_scenario *s, const struct synth_opts *o,
	      const struct synth_sink *sink, struct synth_stats *st, struct avm_err *err)
{
	struct gen g = { .s = s, .o = o, .sink = sink, .st = st };
	struct proc *init, *p;
	uint64_t i, n, t = 1000000;
	int k, rc = -1;

	memset(st, 0, sizeof(*st));
	g.rng = o->seed;
	g.next_id = 1;
	g.next_pid = 1;
	g.next_snap = 1;
	g.last_progress = time(NULL);
	if (!(o->scale > 0) || o->scale > 1e6) {
		avm_errf(err, "scale must be above 0 and at most 1e6");
		goto out;
	}
	if (start_init(&g, &init, err))
		goto out;
	g.next_pid = 300;
	/* init forks every `start` process; each execs as its first step.  Scale
	 * applies only to the counts the scenario marks `scaled`, so a scenario
	 * chooses what grows (apps, workers, build rounds) and grows linearly. */
	for (k = 0; k < s->ntmpls; k++) {
		n = s->tmpls[k].start;
		for (i = 0; i < n; i++) {
			struct step fork = { .op = OP_FORK, .target = k, .probability = 1.0 };

			init->t = t;
			if (op_fork(&g, init, &fork, err))
				goto out;
			t += 1000000;
		}
	}
	while (g.nheap > 0) {
		if (o->stop && *o->stop) {
			st->stopped = true;
			break;
		}
		p = g.procs[heap_pop(&g)];
		if (run_slice(&g, p, err))
			goto out;
		if ((++g.slices & 1023) == 0)
			progress(&g, false);
	}
	progress(&g, true);
	rc = 0;
out:
	for (k = 0; k < g.nprocs; k++) {
		regions_free(g.procs[k]);
		free(g.procs[k]->tids);
		free(g.procs[k]);
	}
	free(g.procs);
	free(g.heap);
	free(g.mm_users);
	return rc;
}
