/*
 * validate.c - the comparison engine behind anonvma-replay --validate.
 *
 * Two streams describe the same history: the kernel's slab events (AVM_SLAB,
 * ground truth, one per anon_vma / anon_vma_chain object) and the eager
 * world's model_stats, read after each event it applied.  They are matched
 * per *task* (tid), because a task is sequential: what one task's kernel
 * code allocated belongs to the last thing that task was doing.
 *
 * Ordering (what the collector guarantees, observed.md / eager.md §6):
 *   - a fault event precedes its slab events ("openers": FAULT, POPULATE,
 *     EXIT, whose teardown frees follow it);
 *   - a syscall's exit event, a fork event and an exec event follow their
 *     slab events ("closers"); so does MM_RELEASE (exit_mmap's tracepoint
 *     fires at its end).
 * So for each task we keep d = kernel - model (allocs and frees per object)
 * and a *checkpoint* at every process/syscall/fault event of that task:
 * before applying an opener, after applying a closer.  At a checkpoint d
 * should be zero.  A non-zero d at a *soft* checkpoint (opener, MM_RELEASE:
 * an exec may still be running, its stack was allocated before the old mm's
 * teardown) stays open; at a *hard* one (syscall exit, fork, exec) it is a
 * divergence, reported from the first window where d left zero (its "span"),
 * and d restarts from zero so one mistake is reported once.
 *
 * Before a non-zero d is called a divergence, what a trace cannot tell a
 * model is settled and counted as "explained", never hidden:
 *   - threads of one mm: the sum of their d is taken; zero means the kernel
 *     served the threads' first faults in another order than the trace;
 *     equal extra allocs and frees (at prepare) are the race of two threads'
 *     first faults on one VMA (eager.md §2.2 step 4, the loser's alloc+free);
 *   - frees the kernel did not do where the model did (KSM / migration pins)
 *     are owed; frees made by tasks that never ran a traced operation
 *     (ksmd, kcompactd, kswapd) pay them at the end;
 *   - teardown frees of an mm the trace never showed being created;
 *   - lost ring-buffer events (counted only).
 *
 * Classification of an operation (enum validate_op):
 *   kernel: a slab event inside a fault window with site PREPARE (and the
 *   put of an anon_vma allocated in that same window: the race loser) is a
 *   prepare; everything else waits for the task's next closer: FORK -> fork,
 *   EXEC -> exec, MM_RELEASE -> exit (allocations in that window are the
 *   exec's new stack, carried to the EXEC), a syscall -> by call site
 *   (PREPARE prepare, CLONE clone, FORK fork, UNLINK/PUT unlink).
 *   model: FAULT prepare, FORK fork, SPLIT/MERGE/MREMAP clone (allocs) or
 *   unlink (frees), UNMAP unlink, EXIT exit, EXEC exec.
 * Model teardown frees (why EXIT) go to the task that emits MM_RELEASE of
 * that mm, whoever it is: the last mmput may come from another task.
 *
 * Exit layouts (validate_exit_layout): the collector lists an mm when its
 * last user leaves it; its rows and the world's VMAs of that mm, both in
 * address order, are merged by start address and each VMA is classified:
 * matched, mismatched on its first differing field (end, pgoff, flags,
 * anon_vma, chain length; start / model_only when only one side has a VMA
 * starting there), or unmodelled (special maps, mms the trace does not know,
 * read-only shared file maps whose open mode the trace lacks).  Only counts
 * and the first VAL_EXIT_MIS_KEPT mismatches are kept.
 *
 * Data layout: open-addressing tables tid -> struct val_task and
 * mm -> struct val_mm (grow at 1/2 load); a fixed list of divergences (all
 * counted, the first max_divergences kept); plain counters for the rest.
 */
#include "validate.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "array.h"
#include "hash.h"
#include "kabi.h"

enum { VAL_ALLOC = 0, VAL_FREE = 1 };
#define VAL_SITE_NR 8
#define VAL_FAULT_IDS 4
#define VAL_EXIT_MIS_KEPT 20

/* counts[obj][alloc/free] */
typedef int64_t val_counts[VALIDATE_OBJ_NR][2];

/* The event a window or span is attributed to. */
struct val_ctx {
	uint64_t seq, t, mm;
	uint32_t pid, tid, kind;
	int64_t addr;
	bool set;
};

struct val_task {
	uint64_t tid;           /* key; 0 = empty slot */
	uint64_t mm;            /* mm of the last non-slab event (0 unknown) */
	uint32_t pid;
	bool checkpointed;      /* ran at least one traced operation */
	bool unsettled;         /* on the unsettled list */

	/* the open window */
	struct val_ctx opener;  /* FAULT / POPULATE / EXIT the window opened with */
	bool opener_exec;       /* a fault inside an exec (its mm is not ours yet) */
	bool in_exec;           /* between AVM_EXEC and the new program's first own step */
	/* objects this fault window prepared: a free of one of them is the race loser's */
	uint64_t win_fault_ids[VALIDATE_OBJ_NR][VAL_FAULT_IDS];
	int win_fault_n[VALIDATE_OBJ_NR];
	int64_t win_claimed[VALIDATE_OBJ_NR];  /* prepares the fault window claimed */
	uint64_t win_claimed_mm;
	int64_t win_m_fault[VALIDATE_OBJ_NR];  /* the world's fault allocations in it */
	int64_t deferred[VALIDATE_OBJ_NR][2][VAL_SITE_NR]; /* waiting for the closer */
	val_counts win_k, win_m; /* the window, both sides (for the span) */
	val_counts exec_pending; /* exec stack allocations seen before the EXEC */

	/* kernel - model since d was last zero, and where that began */
	val_counts d;
	struct val_ctx span;
	val_counts span_k, span_m;
	uint32_t span_why, span_sites;
	int64_t span_race_frees[VALIDATE_OBJ_NR]; /* frees that may be a race loser's */
};

struct val_mm {
	uint64_t mm;            /* key; 0 = empty */
	uint32_t pid;
	bool known;             /* created in the trace (fork, exec) or snapshotted */
	uint64_t released_by;   /* tid whose MM_RELEASE ran before the model's teardown */
	val_counts parked;      /* model teardown frees waiting for MM_RELEASE */
	val_counts k, m;        /* per-process totals */
};

struct val_div {
	struct val_ctx at;
	uint64_t end_seq;
	val_counts k, m;
	uint32_t why, sites;
	char what[96];
	struct validate_vma vma;
	bool has_vma;
};

/* One exit-layout mismatch: a VMA and its first differing field. */
struct val_exit_mis {
	uint64_t seq, mm;
	uint32_t pid;
	enum validate_class cls;
	enum validate_field field;
	uint64_t start, end;   /* the kernel's VMA (the model's for MODEL_ONLY) */
	uint64_t kernel, model; /* the field's values on each side */
};

struct val_table {
	void *slots;
	size_t cap, used, size; /* size = bytes per slot */
};

struct validate {
	struct validate_params p;

	struct val_table tasks, mms;
	uint64_t *unsettled;    /* tids whose d may be non-zero (compacted at checkpoints) */
	size_t n_unsettled, cap_unsettled;

	struct model_stats prev;   /* last stats seen */
	bool have_stats;

	/* totals */
	uint64_t k_allocs[VALIDATE_OBJ_NR], k_frees[VALIDATE_OBJ_NR];
	uint64_t m_allocs[VALIDATE_OBJ_NR], m_frees[VALIDATE_OBJ_NR];
	uint64_t k_op[VALIDATE_OBJ_NR][VALIDATE_OP_NR][2], m_op[VALIDATE_OBJ_NR][VALIDATE_OP_NR][2];
	uint64_t k_failed[VALIDATE_OBJ_NR];

	/* explained */
	uint64_t race_allocs[VALIDATE_OBJ_NR], race_frees[VALIDATE_OBJ_NR], races;
	uint64_t reordered;                     /* cross-thread settlements with sum 0 */
	uint64_t other_ctx_frees[VALIDATE_OBJ_NR];
	uint64_t untracked_frees[VALIDATE_OBJ_NR];
	uint64_t lost_events;
	int64_t owed[VALIDATE_OBJ_NR];          /* frees the model did and the kernel not yet */
	struct val_div *owed_spans;             /* where owed frees came from */
	size_t n_owed_spans, cap_owed_spans;

	/* divergences */
	struct val_div *divs;
	size_t n_divs, kept_divs;

	/* layouts and live counts */
	uint64_t layouts_compared, layouts_equal;
	uint64_t live_checks, live_equal;
	int64_t first_live_k[VALIDATE_OBJ_NR], first_live_m[VALIDATE_OBJ_NR];
	uint64_t first_live_seq;
	uint64_t live_pending_seq;  /* a snapshot whose live counts wait for the world's stats */
	uint64_t live_pending_tid;  /* ... or for this task's next hard checkpoint (exec) */
	bool live_due;              /* that checkpoint came: check once the stats are in */

	/* exit layouts (validate_exit_layout) */
	struct validate_exit_stats exit;
	struct val_exit_mis exit_mis[VAL_EXIT_MIS_KEPT]; /* the first mismatches */
	size_t n_exit_mis;

	bool finished;
	validate_vma_lookup_fn lookup;
	void *lookup_ctx;
};

/* ------------------------------------------------------------------ tables */

/* First field of every slot is its uint64_t key (0 = empty). */
static void *val_slot(struct val_table *t, size_t i)
{
	return (char *)t->slots + i * t->size;
}

static int val_table_init(struct val_table *t, size_t size, struct avm_err *err)
{
	t->size = size;
	t->cap = 64;
	t->used = 0;
	t->slots = calloc(t->cap, size);
	if (!t->slots)
		return avm_errf(err, "validate: out of memory");
	return 0;
}

static int val_table_grow(struct val_table *t, struct avm_err *err)
{
	struct val_table n = { .size = t->size, .cap = t->cap * 2, .used = t->used };
	size_t i;

	n.slots = calloc(n.cap, n.size);
	if (!n.slots)
		return avm_errf(err, "validate: out of memory");
	for (i = 0; i < t->cap; i++) {
		void *s = val_slot(t, i);
		uint64_t key;
		size_t j;

		memcpy(&key, s, sizeof(key));
		if (!key)
			continue;
		for (j = hash_u64(key) & (n.cap - 1);; j = (j + 1) & (n.cap - 1)) {
			uint64_t k2;

			memcpy(&k2, val_slot(&n, j), sizeof(k2));
			if (!k2)
				break;
		}
		memcpy(val_slot(&n, j), s, n.size);
	}
	free(t->slots);
	*t = n;
	return 0;
}

/* Find key; with create, insert a zeroed slot if missing.  NULL: absent (or error in err). */
static void *val_table_get(struct val_table *t, uint64_t key, bool create, struct avm_err *err)
{
	size_t i;

	if (!key)
		return NULL;
	if (create && (t->used + 1) * 2 > t->cap && val_table_grow(t, err))
		return NULL;
	for (i = hash_u64(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		void *s = val_slot(t, i);
		uint64_t k;

		memcpy(&k, s, sizeof(k));
		if (k == key)
			return s;
		if (!k) {
			if (!create)
				return NULL;
			memset(s, 0, t->size);
			memcpy(s, &key, sizeof(key));
			t->used++;
			return s;
		}
	}
}

/* ------------------------------------------------------------ small helpers */

static bool val_counts_zero(const val_counts c)
{
	for (int o = 0; o < VALIDATE_OBJ_NR; o++)
		if (c[o][VAL_ALLOC] || c[o][VAL_FREE])
			return false;
	return true;
}

static void val_counts_add(val_counts dst, const val_counts src, int sign)
{
	for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
		dst[o][VAL_ALLOC] += sign * src[o][VAL_ALLOC];
		dst[o][VAL_FREE] += sign * src[o][VAL_FREE];
	}
}

static bool val_is_closer(uint32_t kind)
{
	return (kind >= AVM_MMAP && kind <= AVM_PRCTL_THP) || kind == AVM_FORK ||
	       kind == AVM_MM_RELEASE || (kind >= AVM_UFFD_REGISTER && kind <= AVM_UFFD_POISON);
}

static bool val_is_opener(uint32_t kind)
{
	return kind == AVM_FAULT || kind == AVM_POPULATE || kind == AVM_EXIT || kind == AVM_EXEC;
}

/* Hard checkpoints: everything the kernel did for the event has been seen. */
static bool val_is_hard(uint32_t kind)
{
	return (kind >= AVM_MMAP && kind <= AVM_PRCTL_THP) || kind == AVM_FORK ||
	       (kind >= AVM_UFFD_REGISTER && kind <= AVM_UFFD_POISON);
}

static const char *val_kind_name(uint32_t kind)
{
	switch (kind) {
	case AVM_FORK: return "fork";
	case AVM_EXEC: return "exec";
	case AVM_EXIT: return "exit";
	case AVM_MM_RELEASE: return "mm_release";
	case AVM_MMAP: return "mmap";
	case AVM_MUNMAP: return "munmap";
	case AVM_MPROTECT: return "mprotect";
	case AVM_MREMAP: return "mremap";
	case AVM_BRK: return "brk";
	case AVM_MADVISE: return "madvise";
	case AVM_MLOCK: return "mlock";
	case AVM_MUNLOCK: return "munlock";
	case AVM_MLOCKALL: return "mlockall";
	case AVM_MUNLOCKALL: return "munlockall";
	case AVM_VMA_NAME: return "prctl_vma_name";
	case AVM_MSEAL: return "mseal";
	case AVM_SHMAT: return "shmat";
	case AVM_SHMDT: return "shmdt";
	case AVM_PRCTL_THP: return "prctl_thp";
	case AVM_FAULT: return "fault";
	case AVM_POPULATE: return "populate";
	case AVM_SNAPSHOT: return "snapshot";
	case AVM_UFFD_REGISTER: return "uffd_register";
	case AVM_UFFD_UNREGISTER: return "uffd_unregister";
	case AVM_UFFD_COPY: return "uffd_copy";
	case AVM_UFFD_ZEROPAGE: return "uffd_zeropage";
	case AVM_UFFD_MOVE: return "uffd_move";
	case AVM_UFFD_CONTINUE: return "uffd_continue";
	case AVM_UFFD_POISON: return "uffd_poison";
	default: return "other";
	}
}

/* The address an event is about, for finding the VMA involved. */
static int64_t val_event_addr(const struct avm_event *ev)
{
	switch (ev->kind) {
	case AVM_FAULT: case AVM_POPULATE: case AVM_MUNMAP: case AVM_MPROTECT:
	case AVM_MREMAP: case AVM_MADVISE: case AVM_MLOCK: case AVM_MUNLOCK:
	case AVM_VMA_NAME: case AVM_MSEAL: case AVM_SHMAT: case AVM_SHMDT:
	case AVM_MMAP: case AVM_BRK:
	case AVM_UFFD_REGISTER: case AVM_UFFD_UNREGISTER: case AVM_UFFD_COPY:
	case AVM_UFFD_ZEROPAGE: case AVM_UFFD_MOVE: case AVM_UFFD_CONTINUE: case AVM_UFFD_POISON:
		return ev->a;
	default:
		return 0;
	}
}

static const char *validate_op_names[VALIDATE_OP_NR] = {
	"prepare", "fork", "split_merge_mremap", "unlink", "exit", "exec", "other",
};

const char *validate_op_name(enum validate_op op)
{
	return op < VALIDATE_OP_NR ? validate_op_names[op] : "?";
}

static const char *val_site_names[VAL_SITE_NR] = {
	"unknown", "prepare", "clone", "fork", "unlink", "put", "vma", "other",
};

static const char *val_why_names[MODEL_WHY_NR] = {
	"fault", "fork", "split", "merge", "mremap", "unmap", "exit", "exec",
};

/* The kernel rule (eager.md) behind each model_why: named in divergences. */
static const char *val_why_rules[MODEL_WHY_NR] = {
	"eager.md §2.2 __anon_vma_prepare + §2.3 neighbour reuse",
	"eager.md §2.5 anon_vma_fork (+§2.4 clone, reuse test)",
	"eager.md §2.4 anon_vma_clone on __split_vma",
	"eager.md §3.3/§3.4 merge dup / removal unlink",
	"eager.md §2.7 mremap copy_vma",
	"eager.md §2.6 unlink_anon_vmas (munmap, MAP_FIXED, shrink)",
	"eager.md §2.6 exit_mmap",
	"eager.md §2.7 execve (stack, ELF COWs)",
};

/* The rule a divergence points at when the model did nothing for the event. */
static const char *val_kind_rule(uint32_t kind)
{
	switch (kind) {
	case AVM_FAULT: case AVM_POPULATE:
		return "eager.md §2.2 prepare conditions / §2.8 THP path";
	case AVM_FORK: return "eager.md §2.5 anon_vma_fork / §2.7 dup_mmap flags";
	case AVM_EXEC: return "eager.md §2.7 execve";
	case AVM_EXIT: case AVM_MM_RELEASE: return "eager.md §2.6 exit_mmap";
	case AVM_MMAP: case AVM_BRK: case AVM_MREMAP:
		return "eager.md §2.7 + §3.4 new-range merge";
	case AVM_MUNMAP: return "eager.md §2.7 munmap (split edges, unlink)";
	default:
		return "eager.md §2.7 + §3.3 existing-range merge / split";
	}
}

/* Kernel class of a slab event by call site alone (syscall context). */
static enum validate_op val_op_by_site(int site, int op)
{
	switch (site) {
	case AVM_SITE_PREPARE: return VALIDATE_OP_PREPARE;
	case AVM_SITE_CLONE: return VALIDATE_OP_CLONE;
	case AVM_SITE_FORK: return VALIDATE_OP_FORK;
	case AVM_SITE_UNLINK: case AVM_SITE_PUT: return VALIDATE_OP_UNLINK;
	default: return op == VAL_ALLOC ? VALIDATE_OP_PREPARE : VALIDATE_OP_UNLINK;
	}
}

static enum validate_op val_op_by_why(int why, int op)
{
	switch (why) {
	case MODEL_WHY_FAULT: return VALIDATE_OP_PREPARE;
	case MODEL_WHY_FORK: return VALIDATE_OP_FORK;
	case MODEL_WHY_SPLIT: case MODEL_WHY_MERGE: case MODEL_WHY_MREMAP:
		return op == VAL_ALLOC ? VALIDATE_OP_CLONE : VALIDATE_OP_UNLINK;
	case MODEL_WHY_UNMAP: return VALIDATE_OP_UNLINK;
	case MODEL_WHY_EXIT: return VALIDATE_OP_EXIT;
	case MODEL_WHY_EXEC: return VALIDATE_OP_EXEC;
	default: return VALIDATE_OP_OTHER;
	}
}

static void val_ctx_from(struct val_ctx *c, const struct avm_event *ev)
{
	c->seq = ev->seq;
	c->t = ev->t;
	c->mm = ev->mm;
	c->pid = ev->pid;
	c->tid = ev->tid;
	c->kind = ev->kind;
	c->addr = val_event_addr(ev);
	c->set = true;
}

static struct val_task *val_task(struct validate *v, uint64_t tid, struct avm_err *err)
{
	/* tid 0 (the idle task) is kept under a key that cannot be a real tid. */
	return val_table_get(&v->tasks, tid ? tid : UINT64_MAX, true, err);
}

static struct val_mm *val_mm(struct validate *v, uint64_t mm, struct avm_err *err)
{
	return val_table_get(&v->mms, mm, true, err);
}

/* Credit kernel counts to a class and an mm. */
static int val_kernel_credit(struct validate *v, int o, int op, enum validate_op cls, uint64_t mm,
			     uint32_t pid, int64_t n, struct avm_err *err)
{
	struct val_mm *m;

	if (!n)
		return 0;
	v->k_op[o][cls][op] += n;
	if (!mm)
		return 0;
	m = val_mm(v, mm, err);
	if (!m)
		return -1;
	if (!m->pid)
		m->pid = pid;
	m->k[o][op] += n;
	return 0;
}

/* -------------------------------------------------------------- divergences */

static void val_div_add(struct validate *v, const struct val_div *d)
{
	v->n_divs++;
	if (v->kept_divs < v->p.max_divergences)
		v->divs[v->kept_divs++] = *d;
}

static void val_div_from_task(struct validate *v, const struct val_task *tk, uint64_t end_seq,
			      const char *what, struct val_div *d)
{
	memset(d, 0, sizeof(*d));
	d->at = tk->span;
	d->end_seq = end_seq;
	memcpy(d->k, tk->span_k, sizeof(d->k));
	memcpy(d->m, tk->span_m, sizeof(d->m));
	d->why = tk->span_why;
	d->sites = tk->span_sites;
	snprintf(d->what, sizeof(d->what), "%s", what);
	if (v->lookup && d->at.addr && d->at.mm)
		d->has_vma = v->lookup(v->lookup_ctx, d->at.mm, (uint64_t)d->at.addr, &d->vma) == 1;
}

/* ------------------------------------------------------------ unsettled set */

static int val_unsettled_add(struct validate *v, struct val_task *tk, struct avm_err *err)
{
	if (tk->unsettled)
		return 0;
	if (array_grow((void **)&v->unsettled, &v->cap_unsettled, v->n_unsettled + 1,
		       sizeof(*v->unsettled), 64))
		return avm_errf(err, "validate: out of memory");
	v->unsettled[v->n_unsettled++] = tk->tid;
	tk->unsettled = true;
	return 0;
}

static void val_task_settle(struct val_task *tk)
{
	memset(tk->d, 0, sizeof(tk->d));
	memset(tk->span_k, 0, sizeof(tk->span_k));
	memset(tk->span_m, 0, sizeof(tk->span_m));
	memset(tk->span_race_frees, 0, sizeof(tk->span_race_frees));
	tk->span.set = false;
	tk->span_why = 0;
	tk->span_sites = 0;
}

/* Drop settled tasks from the unsettled list. */
static void val_unsettled_compact(struct validate *v)
{
	size_t i, n = 0;

	for (i = 0; i < v->n_unsettled; i++) {
		struct val_task *tk = val_table_get(&v->tasks, v->unsettled[i], false, NULL);

		if (tk && !val_counts_zero(tk->d))
			v->unsettled[n++] = v->unsettled[i];
		else if (tk)
			tk->unsettled = false;
	}
	v->n_unsettled = n;
}

/*
 * Settle the tasks of one mm together (tk's mm): the sum of their d is zero
 * (the kernel served their faults in another order than the trace shows)
 * or a thread race of first faults (equal extra allocs and frees, the frees
 * at prepare).  Returns true if settled.
 */
static bool val_settle_group(struct validate *v, struct val_task *tk)
{
	val_counts sum = { { 0 } };
	int64_t race_frees[VALIDATE_OBJ_NR] = { 0 };
	bool race = true, any = false;
	size_t i;

	if (!tk->mm)
		return false;
	for (i = 0; i < v->n_unsettled; i++) {
		struct val_task *u = val_table_get(&v->tasks, v->unsettled[i], false, NULL);

		if (!u || u->mm != tk->mm)
			continue;
		val_counts_add(sum, u->d, 1);
		for (int o = 0; o < VALIDATE_OBJ_NR; o++)
			race_frees[o] += u->span_race_frees[o];
	}
	if (!tk->unsettled) {
		val_counts_add(sum, tk->d, 1);
		for (int o = 0; o < VALIDATE_OBJ_NR; o++)
			race_frees[o] += tk->span_race_frees[o];
	}
	for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
		int64_t a = sum[o][VAL_ALLOC], f = sum[o][VAL_FREE];

		if (a != f || a < 0 || f > race_frees[o])
			race = false;
		if (a)
			any = true;
	}
	if (val_counts_zero(sum)) {
		v->reordered++;
	} else if (race && any) {
		v->races++;
		for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
			v->race_allocs[o] += sum[o][VAL_ALLOC];
			v->race_frees[o] += sum[o][VAL_FREE];
		}
	} else {
		return false;
	}
	for (i = 0; i < v->n_unsettled; i++) {
		struct val_task *u = val_table_get(&v->tasks, v->unsettled[i], false, NULL);

		if (u && u->mm == tk->mm)
			val_task_settle(u);
	}
	val_task_settle(tk);
	val_unsettled_compact(v);
	return true;
}

/* d holds only frees the kernel has not done (yet): pins, see eager.md §7.5. */
static bool val_only_owed_frees(const val_counts d)
{
	bool any = false;

	for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
		if (d[o][VAL_ALLOC] || d[o][VAL_FREE] > 0)
			return false;
		if (d[o][VAL_FREE] < 0)
			any = true;
	}
	return any;
}

static int val_owe(struct validate *v, struct val_task *tk, uint64_t end_seq, struct avm_err *err)
{
	struct val_div d;

	if (array_grow((void **)&v->owed_spans, &v->cap_owed_spans, v->n_owed_spans + 1,
		       sizeof(*v->owed_spans), 16))
		return avm_errf(err, "validate: out of memory");
	val_div_from_task(v, tk, end_seq, "frees the model made and the kernel never did", &d);
	v->owed_spans[v->n_owed_spans++] = d;
	for (int o = 0; o < VALIDATE_OBJ_NR; o++)
		v->owed[o] += -tk->d[o][VAL_FREE];
	return 0;
}

/*
 * A checkpoint of task tk at event ev (NULL at the end of the trace).
 * win_* of the window are folded into the span first.
 */
static int val_checkpoint(struct validate *v, struct val_task *tk, const struct avm_event *ev,
			  bool hard, struct avm_err *err)
{
	bool zero_before = !tk->span.set;

	if (hard && v->live_pending_tid && v->live_pending_tid == tk->tid)
		v->live_due = true;

	if (!val_counts_zero(tk->win_k) || !val_counts_zero(tk->win_m)) {
		val_counts_add(tk->span_k, tk->win_k, 1);
		val_counts_add(tk->span_m, tk->win_m, 1);
	}
	memset(tk->win_k, 0, sizeof(tk->win_k));
	memset(tk->win_m, 0, sizeof(tk->win_m));
	memset(tk->win_claimed, 0, sizeof(tk->win_claimed));
	memset(tk->win_m_fault, 0, sizeof(tk->win_m_fault));
	if (val_counts_zero(tk->d)) {
		val_task_settle(tk);
		return 0;
	}
	if (zero_before) {
		/* d left zero in this window: the span starts at its context */
		if (tk->opener.set)
			tk->span = tk->opener;
		else if (ev)
			val_ctx_from(&tk->span, ev);
	}
	if (val_settle_group(v, tk))
		return 0;
	if (val_unsettled_add(v, tk, err))
		return -1;
	if (!hard)
		return 0;
	if (val_only_owed_frees(tk->d)) {
		if (val_owe(v, tk, ev ? ev->seq : 0, err))
			return -1;
	} else {
		struct val_div d;

		val_div_from_task(v, tk, ev ? ev->seq : 0, "allocations or frees differ", &d);
		val_div_add(v, &d);
	}
	val_task_settle(tk);
	val_unsettled_compact(v);
	return 0;
}

/* ------------------------------------------------------------------- public */

void validate_params_default(struct validate_params *p)
{
	p->tolerance = 0.01;
	p->max_divergences = 50;
}

int validate_create(const struct validate_params *p, struct validate **out, struct avm_err *err)
{
	struct validate *v = calloc(1, sizeof(*v));
	int rc = -1;

	if (!v) {
		avm_errf(err, "validate: out of memory");
		goto out;
	}
	if (p)
		v->p = *p;
	else
		validate_params_default(&v->p);
	if (!(v->p.tolerance >= 0)) {
		avm_errf(err, "validate: tolerance must be a number >= 0");
		goto out;
	}
	v->divs = calloc(v->p.max_divergences ? v->p.max_divergences : 1, sizeof(*v->divs));
	if (!v->divs) {
		avm_errf(err, "validate: out of memory");
		goto out;
	}
	if (val_table_init(&v->tasks, sizeof(struct val_task), err) ||
	    val_table_init(&v->mms, sizeof(struct val_mm), err))
		goto out;
	*out = v;
	v = NULL;
	rc = 0;
out:
	validate_destroy(v);
	return rc;
}

void validate_destroy(struct validate *v)
{
	if (!v)
		return;
	free(v->tasks.slots);
	free(v->mms.slots);
	free(v->unsettled);
	free(v->owed_spans);
	free(v->divs);
	free(v);
}

void validate_set_vma_lookup(struct validate *v, validate_vma_lookup_fn fn, void *ctx)
{
	v->lookup = fn;
	v->lookup_ctx = ctx;
}

/* A kernel slab event: into the task's d, classified now or at its closer. */
static int val_slab(struct validate *v, const struct avm_event *ev, struct avm_err *err)
{
	struct val_task *tk;
	int o, op, site = (int)ev->c;

	if (ev->a == AVM_CACHE_ANON_VMA)
		o = VALIDATE_AV;
	else if (ev->a == AVM_CACHE_AVC)
		o = VALIDATE_AVC;
	else
		return 0;
	if (site == AVM_SITE_OTHER || site == AVM_SITE_VMA)
		return 0; /* same cache, not the anon rmap (observed.md: merged caches) */
	if (site < 0 || site >= VAL_SITE_NR)
		site = AVM_SITE_UNKNOWN;
	op = ev->b == AVM_SLAB_FREE ? VAL_FREE : VAL_ALLOC;
	if (op == VAL_ALLOC && ev->e) {
		v->k_failed[o]++; /* GFP_NOWAIT attempt that failed (§2.4): no object */
		return 0;
	}
	tk = val_task(v, ev->tid, err);
	if (!tk)
		return -1;
	if (!tk->pid)
		tk->pid = ev->pid;
	if (op == VAL_ALLOC)
		v->k_allocs[o]++;
	else
		v->k_frees[o]++;
	tk->d[o][op]++;
	tk->win_k[o][op]++;
	if (val_unsettled_add(v, tk, err))
		return -1;
	tk->span_sites |= 1u << site;

	/*
	 * A fault window claims its prepare and the frees of the race loser
	 * (§2.2 step 4: put_anon_vma of the fresh AV, the AVC freed through
	 * anon_vma_chain_free): frees of the very objects (ids) this window
	 * allocated at prepare, whatever site they were freed from.
	 */
	if (tk->opener.set && tk->opener.kind != AVM_EXIT) {
		bool mine = false;
		bool exec_ctx = tk->opener_exec || tk->opener.kind == AVM_EXEC;

		if (op == VAL_ALLOC && site == AVM_SITE_PREPARE) {
			if (tk->win_fault_n[o] < VAL_FAULT_IDS)
				tk->win_fault_ids[o][tk->win_fault_n[o]++] = (uint64_t)ev->d;
			mine = true;
		} else if (op == VAL_FREE && ev->d) {
			for (int i = 0; i < tk->win_fault_n[o]; i++) {
				if (tk->win_fault_ids[o][i] != (uint64_t)ev->d)
					continue;
				tk->win_fault_ids[o][i] = 0;
				tk->span_race_frees[o]++;
				mine = true;
				break;
			}
		}
		if (mine) {
			if (op == VAL_ALLOC && !exec_ctx) {
				tk->win_claimed[o]++;
				tk->win_claimed_mm = tk->opener.mm;
			}
			return val_kernel_credit(v, o, op,
						 exec_ctx ? VALIDATE_OP_EXEC : VALIDATE_OP_PREPARE,
						 tk->opener.mm, tk->opener.pid, 1, err);
		}
	}
	if (tk->opener.set && tk->opener.kind == AVM_EXIT && op == VAL_FREE)
		return val_kernel_credit(v, o, op, VALIDATE_OP_EXIT, tk->opener.mm, tk->opener.pid,
					 1, err);
	tk->deferred[o][op][site]++;
	return 0;
}

/*
 * Prepares a fault window claimed beyond the world's own prepares at that
 * fault, when an exec follows: they are the exec's new stack (get_arg_page
 * before the point of no return, eager.md §2.7 execve), moved to the exec.
 */
static int val_claims_to_exec(struct validate *v, struct val_task *tk, struct avm_err *err)
{
	for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
		int64_t extra = tk->win_claimed[o] - tk->win_m_fault[o];
		struct val_mm *m;

		if (extra <= 0)
			continue;
		v->k_op[o][VALIDATE_OP_PREPARE][VAL_ALLOC] -= (uint64_t)extra;
		m = tk->win_claimed_mm ? val_mm(v, tk->win_claimed_mm, err) : NULL;
		if (tk->win_claimed_mm && !m)
			return -1;
		if (m)
			m->k[o][VAL_ALLOC] -= extra;
		tk->exec_pending[o][VAL_ALLOC] += extra;
		tk->win_claimed[o] -= extra;
	}
	return 0;
}

/* Kernel allocations carried to the exec (cls) or given back as prepares, to tk's mm. */
static int val_exec_credit(struct validate *v, struct val_task *tk, enum validate_op cls,
			   struct avm_err *err)
{
	for (int o = 0; o < VALIDATE_OBJ_NR; o++)
		for (int op = 0; op < 2; op++) {
			if (val_kernel_credit(v, o, op, cls, tk->mm, tk->pid, tk->exec_pending[o][op], err))
				return -1;
			tk->exec_pending[o][op] = 0;
		}
	return 0;
}

/* The new program takes its first own step: the exec is over. */
static int val_exec_end(struct validate *v, struct val_task *tk, struct avm_err *err)
{
	tk->in_exec = false;
	return val_exec_credit(v, tk, VALIDATE_OP_EXEC, err);
}

/*
 * The window's deferred kernel events, classified by the closer ev; NULL at
 * an opener (no closer came: by call site) or at the end of the trace.
 */
static int val_resolve_deferred(struct validate *v, struct val_task *tk, const struct avm_event *ev,
				bool at_end, struct avm_err *err)
{
	/*
	 * exit_mmap of our own mm with no exit under way: an exec (collectors
	 * that emit AVM_EXEC at its end).  The window closing here claimed
	 * prepares the world did not make: the exec's new stack.
	 */
	if (ev && ev->kind == AVM_MM_RELEASE && ev->mm == tk->mm &&
	    !(tk->opener.set && tk->opener.kind == AVM_EXIT) && val_claims_to_exec(v, tk, err))
		return -1;
	for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
		for (int op = 0; op < 2; op++) {
			for (int s = 0; s < VAL_SITE_NR; s++) {
				int64_t n = tk->deferred[o][op][s];
				enum validate_op cls;
				uint64_t mm;

				if (!n)
					continue;
				tk->deferred[o][op][s] = 0;
				mm = ev ? ev->mm : tk->mm;
				if (!ev && at_end && !tk->checkpointed) {
					cls = VALIDATE_OP_OTHER; /* a kernel thread's frees */
				} else if (!ev && !at_end && op == VAL_ALLOC && s == AVM_SITE_PREPARE) {
					/* a prepare outside any fault or syscall: exec's stack GUP */
					tk->exec_pending[o][op] += n;
					continue;
				} else if (!ev) {
					cls = val_op_by_site(s, op);
				} else if (ev->kind == AVM_FORK && (uint64_t)ev->a != ev->mm) {
					cls = VALIDATE_OP_FORK;
					mm = (uint64_t)ev->a;
				} else if (ev->kind == AVM_MM_RELEASE && op == VAL_ALLOC) {
					/* the new stack of an exec whose old mm this was (§2.7 execve) */
					tk->exec_pending[o][op] += n;
					continue;
				} else if (ev->kind == AVM_MM_RELEASE || ev->kind == AVM_EXIT) {
					struct val_mm *m = val_mm(v, ev->mm, err);

					if (!m)
						return -1;
					if (!m->known) {
						/* teardown of an mm created before the trace */
						v->untracked_frees[o] += n;
						tk->d[o][op] -= n;
						v->k_op[o][VALIDATE_OP_EXIT][op] += n;
						continue;
					}
					cls = VALIDATE_OP_EXIT;
				} else {
					cls = val_op_by_site(s, op);
				}
				if (val_kernel_credit(v, o, op, cls, mm, ev ? ev->pid : 0, n, err))
					return -1;
			}
		}
	}
	/* at the end: inside an exec, or prepares after all if no exec came */
	if (at_end && val_exec_credit(v, tk, tk->in_exec ? VALIDATE_OP_EXEC : VALIDATE_OP_PREPARE, err))
		return -1;
	return 0;
}

int validate_event(struct validate *v, const struct avm_event *ev, struct avm_err *err)
{
	struct val_task *tk;
	struct val_mm *m;

	if (v->finished)
		return avm_errf(err, "validate: event %llu after the end", (unsigned long long)ev->seq);
	if (ev->kind == AVM_SLAB)
		return val_slab(v, ev, err);
	if (ev->kind == AVM_LOST) {
		v->lost_events += (uint64_t)ev->b;
		return 0;
	}
	if (!val_is_opener(ev->kind) && !val_is_closer(ev->kind))
		return 0;
	if (ev->kind == AVM_FORK && ev->b && (uint64_t)ev->b != ev->tid) {
		/* the child task starts in the child mm (or ours: CLONE_VM) */
		/* before tk: an insert may move the table */
		struct val_task *child = val_task(v, (uint64_t)ev->b, err);

		if (!child)
			return -1;
		child->mm = ev->a ? (uint64_t)ev->a : ev->mm;
		child->pid = (uint32_t)ev->d;
	}
	tk = val_task(v, ev->tid, err);
	if (!tk)
		return -1;
	tk->pid = ev->pid;
	if (ev->kind == AVM_FORK && (uint64_t)ev->a != ev->mm && ev->a) {
		m = val_mm(v, (uint64_t)ev->a, err);
		if (!m)
			return -1;
		m->known = true;
		m->pid = (uint32_t)ev->d;
	}
	if (ev->kind == AVM_EXEC && ev->a) {
		m = val_mm(v, (uint64_t)ev->a, err);
		if (!m)
			return -1;
		m->known = true;
		m->pid = ev->pid;
	}
	if (!val_is_opener(ev->kind))
		return 0;
	/*
	 * The exec is over at the new program's first own step: anything but
	 * a kernel-mode fault (the ELF loader's padzero COW, argument copies).
	 */
	if (tk->in_exec && !(ev->kind == AVM_FAULT && ev->c) && val_exec_end(v, tk, err))
		return -1;
	/* AVM_EXEC at the point of no return: what came before it was the new stack */
	if (ev->kind == AVM_EXEC && val_claims_to_exec(v, tk, err))
		return -1;
	/* an opener ends the previous window: soft checkpoint, then open */
	if (val_resolve_deferred(v, tk, NULL, false, err))
		return -1;
	if (val_checkpoint(v, tk, NULL, false, err))
		return -1;
	val_ctx_from(&tk->opener, ev);
	memset(tk->win_fault_n, 0, sizeof(tk->win_fault_n));
	tk->checkpointed = true;
	if (ev->kind == AVM_EXEC) {
		/*
		 * An exec opens a window that ends with the new program's first
		 * step: the old mm's teardown, the loader's kernel-mode faults and
		 * the world's adoption of the snapshot (taken at its end) all fall
		 * inside, whichever order the collector saw them in.
		 */
		tk->in_exec = true;
		tk->opener_exec = false;
		if (ev->a)
			tk->mm = (uint64_t)ev->a;
		return 0;
	}
	/* a fault in an mm this task has not entered yet: inside an exec (padzero COW) */
	tk->opener_exec = ev->kind != AVM_EXIT &&
			  ((tk->in_exec && ev->c) || (tk->mm && ev->mm && ev->mm != tk->mm));
	if (!tk->opener_exec || tk->in_exec)
		tk->mm = ev->mm;
	return 0;
}

/* Model deltas of one event, routed to the task that will see the kernel's side. */
static int val_model_delta(struct validate *v, struct val_task *tk, const struct avm_event *ev,
			   const struct model_stats *s, struct avm_err *err)
{
	static const int objs[VALIDATE_OBJ_NR] = { MODEL_OBJ_ANON_VMA, MODEL_OBJ_AVC };

	for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
		for (int why = 0; why < MODEL_WHY_NR; why++) {
			for (int op = 0; op < 2; op++) {
				const uint64_t *now = op == VAL_ALLOC ? s->allocs_by_why[objs[o]]
								      : s->frees_by_why[objs[o]];
				const uint64_t *was = op == VAL_ALLOC ? v->prev.allocs_by_why[objs[o]]
								      : v->prev.frees_by_why[objs[o]];
				int64_t n = (int64_t)(now[why] - was[why]);
				uint64_t mm = ev->mm;
				struct val_task *to = tk;
				struct val_mm *m;

				if (!n)
					continue;
				if (why == MODEL_WHY_FORK || why == MODEL_WHY_EXEC)
					mm = ev->a ? (uint64_t)ev->a : ev->mm;
				v->m_op[o][val_op_by_why(why, op)][op] += n;
				if (op == VAL_ALLOC)
					v->m_allocs[o] += n;
				else
					v->m_frees[o] += n;
				m = mm ? val_mm(v, mm, err) : NULL;
				if (mm && !m)
					return -1;
				if (m)
					m->m[o][op] += n;
				if (why == MODEL_WHY_EXIT && ev->kind != AVM_MM_RELEASE && m) {
					/* exit_mmap's frees belong to whoever runs MM_RELEASE (§2.7 exit) */
					if (!m->released_by) {
						m->parked[o][op] += n;
						continue;
					}
					to = val_task(v, m->released_by, err);
					if (!to)
						return -1;
				}
				to->d[o][op] -= n;
				to->win_m[o][op] += n;
				if (why == MODEL_WHY_FAULT && op == VAL_ALLOC)
					to->win_m_fault[o] += n;
				if (val_unsettled_add(v, to, err))
					return -1;
				to->span_why |= 1u << why;
				if (to != tk) {
					if (val_checkpoint(v, to, ev, false, err))
						return -1;
				}
			}
		}
	}
	return 0;
}

/* Kernel live objects: adopted at the start + allocs - frees (untracked mms' frees excluded). */
static int64_t val_kernel_live(const struct validate *v, int o)
{
	const struct obj_count *c = &v->prev.obj[o == VALIDATE_AV ? MODEL_OBJ_ANON_VMA : MODEL_OBJ_AVC];

	return (int64_t)(c->preexisting + v->k_allocs[o]) -
	       (int64_t)(v->k_frees[o] - v->untracked_frees[o]);
}

static void val_live_check(struct validate *v, uint64_t seq)
{
	bool live_eq = true;
	int64_t k[VALIDATE_OBJ_NR], m[VALIDATE_OBJ_NR];

	for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
		k[o] = val_kernel_live(v, o);
		m[o] = (int64_t)v->prev.obj[o == VALIDATE_AV ? MODEL_OBJ_ANON_VMA : MODEL_OBJ_AVC].live;
		if (k[o] != m[o])
			live_eq = false;
	}
	v->live_checks++;
	if (live_eq) {
		v->live_equal++;
	} else if (!v->first_live_seq) {
		v->first_live_seq = seq;
		memcpy(v->first_live_k, k, sizeof(k));
		memcpy(v->first_live_m, m, sizeof(m));
	}
}

int validate_world_delta(struct validate *v, const struct avm_event *ev,
			 const struct model_stats *stats, struct avm_err *err)
{
	struct val_task *tk;
	int rc = -1;

	if (ev->kind == AVM_SLAB || ev->kind == AVM_LOST) {
		/* the world does not apply these; stats must not have moved */
		rc = 0;
		goto out;
	}
	tk = val_task(v, ev->tid, err);
	if (!tk)
		goto out;
	if (val_model_delta(v, tk, ev, stats, err))
		goto out;
	if (ev->kind == AVM_MM_RELEASE) {
		struct val_mm *m = val_mm(v, ev->mm, err);

		if (!m)
			goto out;
		/* model teardown frees parked at EXIT now meet the kernel's */
		tk->d[VALIDATE_AV][VAL_FREE] -= m->parked[VALIDATE_AV][VAL_FREE];
		tk->d[VALIDATE_AVC][VAL_FREE] -= m->parked[VALIDATE_AVC][VAL_FREE];
		val_counts_add(tk->win_m, m->parked, 1);
		if (!val_counts_zero(m->parked))
			tk->span_why |= 1u << MODEL_WHY_EXIT;
		memset(m->parked, 0, sizeof(m->parked));
		m->released_by = ev->tid ? ev->tid : UINT64_MAX;
	}
	if (val_is_closer(ev->kind)) {
		if (tk->in_exec && ev->kind != AVM_MM_RELEASE && val_exec_end(v, tk, err))
			goto out;
		if (val_resolve_deferred(v, tk, ev, false, err))
			goto out;
		if (val_checkpoint(v, tk, ev, val_is_hard(ev->kind), err))
			goto out;
		tk->opener.set = false;
		tk->opener_exec = false;
		/* MM_RELEASE may be another task's mm (the last mmput): not ours */
		if (ev->kind != AVM_MM_RELEASE)
			tk->mm = ev->mm;
		tk->checkpointed = true;
	}
	rc = 0;
out:
	if (!rc) {
		v->prev = *stats;
		v->have_stats = true;
		if (v->live_due || (v->live_pending_seq == ev->seq && !v->live_pending_tid)) {
			val_live_check(v, ev->seq);
			v->live_pending_seq = 0;
			v->live_pending_tid = 0;
			v->live_due = false;
		}
	}
	return rc;
}

static bool val_layout_flags_equal(uint64_t a, uint64_t b)
{
	/* VM_SOFTDIRTY is sticky and ignored by merges (eager.md §3.1) */
	return (a & ~VM_SOFTDIRTY) == (b & ~VM_SOFTDIRTY);
}

int validate_snapshot(struct validate *v, const struct avm_event *ev,
		      const struct avm_snap_vma *rows, size_t n,
		      const struct validate_vma *world, size_t wn, struct avm_err *err)
{
	struct val_div d;
	size_t i;
	bool equal = n == wn;

	for (i = 0; i < n; i++) {
		struct val_mm *m = val_mm(v, rows[i].mm, err);

		if (!m)
			return -1;
		m->known = true;
	}
	memset(&d, 0, sizeof(d));
	for (i = 0; equal && i < n; i++) {
		const struct avm_snap_vma *r = &rows[i];
		const struct validate_vma *w = &world[i];

		if (r->start != w->start || r->end != w->end || !val_layout_flags_equal(r->flags, w->flags) ||
		    (r->anon_vma != 0) != w->anon) {
			equal = false;
			snprintf(d.what, sizeof(d.what), "layout: VMA %zu differs", i);
			d.vma = *w;
			d.has_vma = true;
		}
	}
	if (n != wn)
		snprintf(d.what, sizeof(d.what), "layout: kernel has %zu VMAs, model %zu", n, wn);
	v->layouts_compared++;
	if (equal) {
		v->layouts_equal++;
	} else {
		val_ctx_from(&d.at, ev);
		if (ev->kind == AVM_EXEC)
			d.at.mm = (uint64_t)ev->a;
		d.end_seq = ev->seq;
		val_div_add(v, &d);
	}

	/* live counts once the world's stats for this event are in (validate_world_delta) */
	v->live_pending_seq = ev->seq;
	/*
	 * An exec snapshot is adopted at AVM_EXEC, before the kernel tore the
	 * old mm down: compare live counts when the task next settles.
	 */
	v->live_pending_tid = ev->kind == AVM_EXEC ? (ev->tid ? ev->tid : UINT64_MAX) : 0;
	return 0;
}

/* ------------------------------------------------------------ exit layouts */

static const char *val_field_names[VALIDATE_F_NR] = {
	"start", "end", "pgoff", "flags", "anon_vma", "chain_len", "model_only",
};

const char *validate_field_name(enum validate_field f)
{
	return f < VALIDATE_F_NR ? val_field_names[f] : "?";
}

static const char *val_class_names[VALIDATE_CLASS_NR] = { "anon", "file" };

/* Special mappings: the world copies them from a snapshot and never models them. */
static bool val_vma_special(uint64_t flags)
{
	return (flags & VM_SPECIAL) != 0;
}

/*
 * The first field in which the kernel's VMA r and the model's w (same start)
 * differ, VALIDATE_F_NR if none; *kv and *mv get the two values.  A chain
 * length of AVM_CHAIN_LEN_MAX is where the collector's walk stopped: the
 * kernel's chain is at least that long.
 */
static enum validate_field val_exit_field(const struct avm_snap_vma *r,
					  const struct validate_vma *w, uint64_t *kv, uint64_t *mv)
{
	if (r->end != w->end) {
		*kv = r->end;
		*mv = w->end;
		return VALIDATE_F_END;
	}
	if (r->pgoff != w->pgoff) {
		*kv = r->pgoff;
		*mv = w->pgoff;
		return VALIDATE_F_PGOFF;
	}
	if (!val_layout_flags_equal(r->flags, w->flags)) {
		*kv = r->flags;
		*mv = w->flags;
		return VALIDATE_F_FLAGS;
	}
	if ((r->anon_vma != 0) != w->anon) {
		*kv = r->anon_vma != 0;
		*mv = w->anon;
		return VALIDATE_F_ANON_VMA;
	}
	if (r->anon_vma && w->chain_known && r->chain_len != w->chain_len &&
	    !(r->chain_len >= AVM_CHAIN_LEN_MAX && w->chain_len >= AVM_CHAIN_LEN_MAX)) {
		*kv = r->chain_len;
		*mv = w->chain_len;
		return VALIDATE_F_CHAIN_LEN;
	}
	return VALIDATE_F_NR;
}

/*
 * A shared mapping of a file opened read-only: do_mmap() clears VM_SHARED
 * and VM_MAYWRITE when the file lacks FMODE_WRITE, keeping VM_MAYSHARE.  The
 * trace does not say how a file was opened, so the world keeps both: not
 * modelled.  True when that is the only difference (f is the first one).
 */
static bool val_exit_file_mode(const struct avm_snap_vma *r, const struct validate_vma *w,
			       enum validate_field f)
{
	const uint64_t bits = VM_SHARED | VM_MAYWRITE;

	return f == VALIDATE_F_FLAGS && r->file && (r->flags & VM_MAYSHARE) &&
	       !(r->flags & bits) && ((r->flags ^ w->flags) & ~VM_SOFTDIRTY) == bits &&
	       (r->anon_vma != 0) == w->anon;
}

static void val_exit_mismatch(struct validate *v, const struct avm_event *ev,
			      enum validate_class cls, enum validate_field f, uint64_t start,
			      uint64_t end, uint64_t kv, uint64_t mv)
{
	v->exit.mismatched[cls]++;
	v->exit.by_field[cls][f]++;
	if (v->n_exit_mis < VAL_EXIT_MIS_KEPT)
		v->exit_mis[v->n_exit_mis++] = (struct val_exit_mis){
			.seq = ev->seq, .mm = ev->mm, .pid = ev->pid, .cls = cls, .field = f,
			.start = start, .end = end, .kernel = kv, .model = mv,
		};
}

/* The model VMA containing addr (for naming what the model has there), NULL if none. */
static const struct validate_vma *val_world_at(const struct validate_vma *world, size_t wn,
					       uint64_t addr)
{
	for (size_t j = 0; j < wn; j++)
		if (world[j].start <= addr && addr < world[j].end)
			return &world[j];
	return NULL;
}

int validate_exit_layout(struct validate *v, const struct avm_event *ev,
			 const struct avm_snap_vma *rows, size_t n,
			 const struct validate_vma *world, size_t wn, enum validate_world_mm wm,
			 struct avm_err *err)
{
	const struct val_mm *m = val_table_get(&v->mms, ev->mm, false, err);
	uint64_t mismatched_before = v->exit.mismatched[0] + v->exit.mismatched[1];
	size_t i = 0, j = 0;

	v->exit.snapshots++;
	if (wm == VALIDATE_MM_NONE || !m || !m->known) {
		/* an mm the trace never created nor snapshotted: the world guessed it */
		v->exit.snapshots_unknown++;
		v->exit.unmodelled_unknown_mm += n;
		return 0;
	}
	if (wm == VALIDATE_MM_OPAQUE) {
		/*
		 * The trace knew it, but the world tore it down and later events
		 * re-created it empty: an mm shared by processes (CLONE_VM without
		 * CLONE_THREAD) at the start snapshot, whose first exit looked like
		 * the last one (adopted mms do not know their users, mm.c mm_put).
		 */
		v->exit.snapshots_opaque++;
		v->exit.unmodelled_opaque_mm += n;
		return 0;
	}
	/* merge the two address-ordered lists by start address */
	while (i < n || j < wn) {
		const struct avm_snap_vma *r = i < n ? &rows[i] : NULL;
		const struct validate_vma *w = j < wn ? &world[j] : NULL;
		enum validate_class cls;
		enum validate_field f;
		uint64_t kv = 0, mv = 0;

		if (r && r->mm != ev->mm)
			return avm_errf(err, "validate: exit snapshot %" PRId64 " has a row of mm %"
					     PRIu64 ", not of mm %" PRIu64, ev->a, r->mm, ev->mm);
		if (r && (!w || r->start < w->start)) {
			/* only the kernel has a VMA starting here */
			i++;
			if (val_vma_special(r->flags)) {
				v->exit.unmodelled_special++;
				continue;
			}
			cls = r->file ? VALIDATE_CLASS_FILE : VALIDATE_CLASS_ANON;
			v->exit.compared[cls]++;
			w = val_world_at(world, wn, r->start);
			val_exit_mismatch(v, ev, cls, VALIDATE_F_START, r->start, r->end, r->start,
					  w ? w->start : 0);
			continue;
		}
		if (!r || w->start < r->start) {
			/* only the model has a VMA starting here */
			j++;
			if (val_vma_special(w->flags)) {
				v->exit.unmodelled_special++;
				continue;
			}
			cls = w->file ? VALIDATE_CLASS_FILE : VALIDATE_CLASS_ANON;
			v->exit.compared[cls]++;
			val_exit_mismatch(v, ev, cls, VALIDATE_F_MODEL_ONLY, w->start, w->end, 0,
					  w->start);
			continue;
		}
		i++;
		j++;
		if (val_vma_special(r->flags)) {
			v->exit.unmodelled_special++;
			continue;
		}
		cls = r->file ? VALIDATE_CLASS_FILE : VALIDATE_CLASS_ANON;
		v->exit.compared[cls]++;
		f = val_exit_field(r, w, &kv, &mv);
		if (f == VALIDATE_F_NR) {
			v->exit.matched[cls]++;
		} else if (val_exit_file_mode(r, w, f)) {
			v->exit.compared[cls]--;
			v->exit.unmodelled_file_mode++;
		} else {
			val_exit_mismatch(v, ev, cls, f, r->start, r->end, kv, mv);
		}
	}
	if (v->exit.mismatched[0] + v->exit.mismatched[1] == mismatched_before)
		v->exit.snapshots_equal++;
	return 0;
}

void validate_exit_stats(const struct validate *v, struct validate_exit_stats *out)
{
	*out = v->exit;
}

/* The anon exit-layout mismatch rate judged by validate_passed (0 when none compared). */
static double val_exit_error(const struct validate *v)
{
	uint64_t c = v->exit.compared[VALIDATE_CLASS_ANON];

	return c ? (double)v->exit.mismatched[VALIDATE_CLASS_ANON] / (double)c : 0.0;
}

int validate_finish(struct validate *v, struct avm_err *err)
{
	size_t i;

	if (v->finished)
		return 0;
	/* close every window still open */
	for (i = 0; i < v->tasks.cap; i++) {
		struct val_task *tk = val_slot(&v->tasks, i);

		if (!tk->tid)
			continue;
		if (val_resolve_deferred(v, tk, NULL, true, err))
			return -1;
		if (val_checkpoint(v, tk, NULL, false, err))
			return -1;
	}
	/* model teardowns no MM_RELEASE ever matched */
	for (i = 0; i < v->mms.cap; i++) {
		struct val_mm *m = val_slot(&v->mms, i);

		if (!m->mm || val_counts_zero(m->parked))
			continue;
		struct val_div d;

		memset(&d, 0, sizeof(d));
		d.at.mm = m->mm;
		d.at.pid = m->pid;
		d.at.kind = AVM_EXIT;
		d.at.set = true;
		val_counts_add(d.m, m->parked, 1);
		d.why = 1u << MODEL_WHY_EXIT;
		snprintf(d.what, sizeof(d.what), "model tore the mm down, the trace has no MM_RELEASE");
		val_div_add(v, &d);
	}
	/* frees the model made at teardown and the kernel did not: owed (pins) */
	for (i = 0; i < v->n_unsettled; i++) {
		struct val_task *tk = val_table_get(&v->tasks, v->unsettled[i], false, NULL);

		if (!tk || val_counts_zero(tk->d))
			continue;
		if (val_settle_group(v, tk)) {
			i = (size_t)-1; /* the list was compacted: start over */
			continue;
		}
		if (tk->checkpointed && val_only_owed_frees(tk->d)) {
			if (val_owe(v, tk, 0, err))
				return -1;
			val_task_settle(tk);
		}
	}
	val_unsettled_compact(v);
	/*
	 * Tasks that never ran a traced operation (ksmd, kcompactd, kswapd):
	 * their frees pay what the model freed and the kernel did not.
	 */
	for (i = 0; i < v->n_unsettled; i++) {
		struct val_task *tk = val_table_get(&v->tasks, v->unsettled[i], false, NULL);
		bool pure = true;

		if (!tk || tk->checkpointed)
			continue;
		for (int o = 0; o < VALIDATE_OBJ_NR; o++)
			if (tk->d[o][VAL_ALLOC] || tk->d[o][VAL_FREE] < 0)
				pure = false;
		if (!pure)
			continue;
		for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
			int64_t pay = tk->d[o][VAL_FREE] < v->owed[o] ? tk->d[o][VAL_FREE] : v->owed[o];

			v->owed[o] -= pay;
			v->other_ctx_frees[o] += (uint64_t)pay;
			tk->d[o][VAL_FREE] -= pay;
		}
	}
	val_unsettled_compact(v);
	for (i = 0; i < v->n_unsettled; i++) {
		struct val_task *tk = val_table_get(&v->tasks, v->unsettled[i], false, NULL);
		struct val_div d;

		if (!tk)
			continue;
		if (val_settle_group(v, tk)) {
			i = (size_t)-1; /* the list was compacted: start over */
			continue;
		}
		val_div_from_task(v, tk, 0, tk->checkpointed ? "still different at the end of the trace"
							      : "kernel activity of a task with no traced operation", &d);
		val_div_add(v, &d);
		val_task_settle(tk);
	}
	val_unsettled_compact(v);
	if (v->live_pending_seq)
		val_live_check(v, v->live_pending_seq); /* an exec whose task never settled again */
	for (i = 0; i < v->n_owed_spans; i++) {
		if (v->owed[VALIDATE_AV] <= 0 && v->owed[VALIDATE_AVC] <= 0)
			break;
		val_div_add(v, &v->owed_spans[i]);
	}
	v->finished = true;
	return 0;
}

/* ------------------------------------------------------------------ results */

void validate_totals(const struct validate *v, enum validate_obj o, struct validate_totals *out)
{
	double k, m;

	memset(out, 0, sizeof(*out));
	out->kernel_allocs = v->k_allocs[o];
	out->model_allocs = v->m_allocs[o];
	out->kernel_frees = v->k_frees[o];
	out->model_frees = v->m_frees[o];
	out->explained_allocs = v->race_allocs[o];
	out->explained_frees = v->race_frees[o] + v->other_ctx_frees[o] + v->untracked_frees[o];
	k = (double)out->kernel_allocs - (double)out->explained_allocs;
	m = (double)out->model_allocs;
	out->error = k > 0 ? fabs(k - m) / k : (m > 0 ? 1.0 : 0.0);
	k = (double)out->kernel_allocs;
	out->raw_error = k > 0 ? fabs(k - m) / k : (m > 0 ? 1.0 : 0.0);
}

size_t validate_divergence_count(const struct validate *v)
{
	return v->n_divs;
}

uint64_t validate_first_divergence_seq(const struct validate *v)
{
	uint64_t first = 0;

	for (size_t i = 0; i < v->kept_divs; i++)
		if (v->divs[i].at.seq && (!first || v->divs[i].at.seq < first))
			first = v->divs[i].at.seq;
	return first;
}

bool validate_passed(const struct validate *v)
{
	for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
		struct validate_totals t;

		validate_totals(v, (enum validate_obj)o, &t);
		if (!(t.error <= v->p.tolerance))
			return false;
	}
	return val_exit_error(v) <= v->p.tolerance;
}

static const char *val_obj_names[VALIDATE_OBJ_NR] = { "anon_vma", "anon_vma_chain" };

static cJSON *val_counts_json(const val_counts c)
{
	cJSON *j = cJSON_CreateObject();

	for (int o = 0; j && o < VALIDATE_OBJ_NR; o++) {
		cJSON *x = cJSON_AddObjectToObject(j, val_obj_names[o]);

		if (!x || !cJSON_AddNumberToObject(x, "allocs", (double)c[o][VAL_ALLOC]) ||
		    !cJSON_AddNumberToObject(x, "frees", (double)c[o][VAL_FREE])) {
			cJSON_Delete(j);
			return NULL;
		}
	}
	return j;
}

static char *val_mask_names(char *buf, size_t len, uint32_t mask, const char **names, int n)
{
	size_t off = 0;

	buf[0] = 0;
	for (int i = 0; i < n; i++) {
		if (!(mask & (1u << i)) || !names[i])
			continue;
		off += (size_t)snprintf(buf + off, len > off ? len - off : 0, "%s%s", off ? "," : "",
					names[i]);
		if (off >= len)
			break;
	}
	return buf;
}

static cJSON *val_div_json(const struct val_div *d)
{
	cJSON *j = cJSON_CreateObject(), *x;
	char buf[128];
	const char *rule = NULL;

	if (!j)
		return NULL;
	for (int w = 0; w < MODEL_WHY_NR; w++)
		if ((d->why & (1u << w)) && val_why_rules[w]) {
			rule = val_why_rules[w];
			break;
		}
	if (!rule)
		rule = val_kind_rule(d->at.kind);
	cJSON_AddStringToObject(j, "what", d->what);
	cJSON_AddNumberToObject(j, "seq", (double)d->at.seq);
	cJSON_AddNumberToObject(j, "end_seq", (double)d->end_seq);
	cJSON_AddNumberToObject(j, "time_ns", (double)d->at.t);
	cJSON_AddNumberToObject(j, "mm", (double)d->at.mm);
	cJSON_AddNumberToObject(j, "pid", d->at.pid);
	cJSON_AddNumberToObject(j, "tid", d->at.tid);
	cJSON_AddStringToObject(j, "operation", d->at.set ? val_kind_name(d->at.kind) : "none");
	if (d->at.addr) {
		snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)d->at.addr);
		cJSON_AddStringToObject(j, "address", buf);
	}
	if (d->has_vma) {
		x = cJSON_AddObjectToObject(j, "vma");
		if (x) {
			snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)d->vma.start);
			cJSON_AddStringToObject(x, "start", buf);
			snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)d->vma.end);
			cJSON_AddStringToObject(x, "end", buf);
			snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)d->vma.flags);
			cJSON_AddStringToObject(x, "flags", buf);
			cJSON_AddBoolToObject(x, "anon_vma", d->vma.anon);
		}
	}
	cJSON_AddItemToObject(j, "kernel", val_counts_json(d->k));
	cJSON_AddItemToObject(j, "model", val_counts_json(d->m));
	cJSON_AddStringToObject(j, "kernel_sites",
				val_mask_names(buf, sizeof(buf), d->sites, val_site_names, VAL_SITE_NR));
	cJSON_AddStringToObject(j, "model_why",
				val_mask_names(buf, sizeof(buf), d->why, val_why_names, MODEL_WHY_NR));
	cJSON_AddStringToObject(j, "rule", rule);
	return j;
}

static int val_mm_cmp(const void *a, const void *b)
{
	const struct val_mm *x = *(const struct val_mm *const *)a, *y = *(const struct val_mm *const *)b;
	int64_t dx = llabs(x->k[0][0] - x->m[0][0]) + llabs(x->k[1][0] - x->m[1][0]);
	int64_t dy = llabs(y->k[0][0] - y->m[0][0]) + llabs(y->k[1][0] - y->m[1][0]);

	if (dx != dy)
		return dx > dy ? -1 : 1;
	return x->mm < y->mm ? -1 : x->mm > y->mm;
}

static cJSON *val_per_process_json(const struct validate *v)
{
	cJSON *j = cJSON_CreateObject(), *list;
	const struct val_mm **diff = NULL;
	size_t n = 0, equal = 0, i;

	if (!j)
		return NULL;
	diff = calloc(v->mms.cap, sizeof(*diff));
	if (!diff)
		goto fail;
	for (i = 0; i < v->mms.cap; i++) {
		const struct val_mm *m = (const struct val_mm *)((const char *)v->mms.slots +
								 i * v->mms.size);

		if (!m->mm || (val_counts_zero(m->k) && val_counts_zero(m->m)))
			continue;
		if (memcmp(m->k, m->m, sizeof(m->k)) == 0)
			equal++;
		else
			diff[n++] = m;
	}
	qsort(diff, n, sizeof(*diff), val_mm_cmp);
	cJSON_AddNumberToObject(j, "processes", (double)(n + equal));
	cJSON_AddNumberToObject(j, "equal", (double)equal);
	list = cJSON_AddArrayToObject(j, "different");
	for (i = 0; list && i < n && i < 20; i++) {
		cJSON *x = cJSON_CreateObject();

		if (!x)
			goto fail;
		cJSON_AddNumberToObject(x, "mm", (double)diff[i]->mm);
		cJSON_AddNumberToObject(x, "pid", diff[i]->pid);
		cJSON_AddItemToObject(x, "kernel", val_counts_json(diff[i]->k));
		cJSON_AddItemToObject(x, "model", val_counts_json(diff[i]->m));
		cJSON_AddItemToArray(list, x);
	}
	free(diff);
	return j;
fail:
	free(diff);
	cJSON_Delete(j);
	return NULL;
}

static void val_explained_add(cJSON *list, const char *name, const char *why, const uint64_t *per_obj,
			      uint64_t count)
{
	cJSON *x;

	if (!count)
		return;
	x = cJSON_CreateObject();
	if (!x)
		return;
	cJSON_AddStringToObject(x, "name", name);
	cJSON_AddNumberToObject(x, "count", (double)count);
	if (per_obj) {
		cJSON_AddNumberToObject(x, "anon_vma", (double)per_obj[VALIDATE_AV]);
		cJSON_AddNumberToObject(x, "anon_vma_chain", (double)per_obj[VALIDATE_AVC]);
	}
	cJSON_AddStringToObject(x, "why", why);
	cJSON_AddItemToArray(list, x);
}

static cJSON *val_exit_json(const struct validate *v)
{
	const struct validate_exit_stats *e = &v->exit;
	cJSON *j = cJSON_CreateObject(), *x, *y, *list;
	char buf[32];

	if (!j)
		return NULL;
	cJSON_AddNumberToObject(j, "snapshots", (double)e->snapshots);
	cJSON_AddNumberToObject(j, "snapshots_unknown_mm", (double)e->snapshots_unknown);
	cJSON_AddNumberToObject(j, "snapshots_opaque_mm", (double)e->snapshots_opaque);
	cJSON_AddNumberToObject(j, "snapshots_equal", (double)e->snapshots_equal);
	for (int c = 0; c < VALIDATE_CLASS_NR; c++) {
		x = cJSON_AddObjectToObject(j, val_class_names[c]);
		if (!x)
			goto fail;
		cJSON_AddNumberToObject(x, "compared", (double)e->compared[c]);
		cJSON_AddNumberToObject(x, "matched", (double)e->matched[c]);
		cJSON_AddNumberToObject(x, "mismatched", (double)e->mismatched[c]);
		cJSON_AddNumberToObject(x, "error", e->compared[c] ?
				(double)e->mismatched[c] / (double)e->compared[c] : 0.0);
		y = cJSON_AddObjectToObject(x, "first_field");
		if (!y)
			goto fail;
		for (int f = 0; f < VALIDATE_F_NR; f++)
			if (e->by_field[c][f])
				cJSON_AddNumberToObject(y, val_field_names[f], (double)e->by_field[c][f]);
	}
	x = cJSON_AddObjectToObject(j, "unmodelled");
	if (!x)
		goto fail;
	cJSON_AddNumberToObject(x, "special", (double)e->unmodelled_special);
	cJSON_AddNumberToObject(x, "unknown_mm", (double)e->unmodelled_unknown_mm);
	cJSON_AddNumberToObject(x, "opaque_mm", (double)e->unmodelled_opaque_mm);
	cJSON_AddNumberToObject(x, "file_open_mode", (double)e->unmodelled_file_mode);
	list = cJSON_AddArrayToObject(j, "mismatches");
	if (!list)
		goto fail;
	for (size_t i = 0; i < v->n_exit_mis; i++) {
		const struct val_exit_mis *m = &v->exit_mis[i];
		bool hex = m->field != VALIDATE_F_PGOFF && m->field != VALIDATE_F_ANON_VMA &&
			   m->field != VALIDATE_F_CHAIN_LEN;

		x = cJSON_CreateObject();
		if (!x)
			goto fail;
		cJSON_AddItemToArray(list, x);
		cJSON_AddNumberToObject(x, "seq", (double)m->seq);
		cJSON_AddNumberToObject(x, "mm", (double)m->mm);
		cJSON_AddNumberToObject(x, "pid", m->pid);
		cJSON_AddStringToObject(x, "class", val_class_names[m->cls]);
		cJSON_AddStringToObject(x, "field", val_field_names[m->field]);
		snprintf(buf, sizeof(buf), "0x%" PRIx64, m->start);
		cJSON_AddStringToObject(x, "start", buf);
		snprintf(buf, sizeof(buf), "0x%" PRIx64, m->end);
		cJSON_AddStringToObject(x, "end", buf);
		if (hex) {
			snprintf(buf, sizeof(buf), "0x%" PRIx64, m->kernel);
			cJSON_AddStringToObject(x, "kernel", buf);
			snprintf(buf, sizeof(buf), "0x%" PRIx64, m->model);
			cJSON_AddStringToObject(x, "model", buf);
		} else {
			cJSON_AddNumberToObject(x, "kernel", (double)m->kernel);
			cJSON_AddNumberToObject(x, "model", (double)m->model);
		}
	}
	return j;
fail:
	cJSON_Delete(j);
	return NULL;
}

cJSON *validate_to_json(const struct validate *v)
{
	cJSON *j = cJSON_CreateObject(), *x, *list;
	uint64_t n;

	if (!j)
		return NULL;
	cJSON_AddNumberToObject(j, "tolerance", v->p.tolerance);
	cJSON_AddBoolToObject(j, "passed", validate_passed(v));
	for (int o = 0; o < VALIDATE_OBJ_NR; o++) {
		struct validate_totals t;
		cJSON *ops;

		validate_totals(v, (enum validate_obj)o, &t);
		x = cJSON_AddObjectToObject(j, val_obj_names[o]);
		if (!x)
			goto fail;
		cJSON_AddNumberToObject(x, "kernel_allocs", (double)t.kernel_allocs);
		cJSON_AddNumberToObject(x, "model_allocs", (double)t.model_allocs);
		cJSON_AddNumberToObject(x, "kernel_frees", (double)t.kernel_frees);
		cJSON_AddNumberToObject(x, "model_frees", (double)t.model_frees);
		cJSON_AddNumberToObject(x, "explained_allocs", (double)t.explained_allocs);
		cJSON_AddNumberToObject(x, "explained_frees", (double)t.explained_frees);
		cJSON_AddNumberToObject(x, "error", t.error);
		cJSON_AddNumberToObject(x, "raw_error", t.raw_error);
		cJSON_AddNumberToObject(x, "kernel_failed_allocs", (double)v->k_failed[o]);
		ops = cJSON_AddObjectToObject(x, "by_operation");
		for (int op = 0; ops && op < VALIDATE_OP_NR; op++) {
			cJSON *y;

			if (!v->k_op[o][op][0] && !v->k_op[o][op][1] && !v->m_op[o][op][0] &&
			    !v->m_op[o][op][1])
				continue;
			y = cJSON_AddObjectToObject(ops, validate_op_names[op]);
			if (!y)
				goto fail;
			cJSON_AddNumberToObject(y, "kernel_allocs", (double)v->k_op[o][op][0]);
			cJSON_AddNumberToObject(y, "model_allocs", (double)v->m_op[o][op][0]);
			cJSON_AddNumberToObject(y, "kernel_frees", (double)v->k_op[o][op][1]);
			cJSON_AddNumberToObject(y, "model_frees", (double)v->m_op[o][op][1]);
		}
		if (v->have_stats) {
			const struct obj_count *c = &v->prev.obj[o == VALIDATE_AV ? MODEL_OBJ_ANON_VMA
										  : MODEL_OBJ_AVC];

			x = cJSON_AddObjectToObject(x, "live_end");
			if (!x)
				goto fail;
			cJSON_AddNumberToObject(x, "kernel", (double)val_kernel_live(v, o));
			cJSON_AddNumberToObject(x, "model", (double)c->live);
		}
	}
	x = cJSON_AddObjectToObject(j, "layouts");
	if (!x)
		goto fail;
	cJSON_AddNumberToObject(x, "snapshots_compared", (double)v->layouts_compared);
	cJSON_AddNumberToObject(x, "equal", (double)v->layouts_equal);
	cJSON_AddNumberToObject(x, "live_checks", (double)v->live_checks);
	cJSON_AddNumberToObject(x, "live_equal", (double)v->live_equal);
	if (v->first_live_seq) {
		cJSON *y = cJSON_AddObjectToObject(x, "first_live_difference");

		if (!y)
			goto fail;
		cJSON_AddNumberToObject(y, "seq", (double)v->first_live_seq);
		cJSON_AddNumberToObject(y, "kernel_anon_vma", (double)v->first_live_k[0]);
		cJSON_AddNumberToObject(y, "model_anon_vma", (double)v->first_live_m[0]);
		cJSON_AddNumberToObject(y, "kernel_anon_vma_chain", (double)v->first_live_k[1]);
		cJSON_AddNumberToObject(y, "model_anon_vma_chain", (double)v->first_live_m[1]);
	}
	x = val_exit_json(v);
	if (!x)
		goto fail;
	cJSON_AddItemToObject(j, "exit_layouts", x);
	cJSON_AddItemToObject(j, "per_process", val_per_process_json(v));

	list = cJSON_AddArrayToObject(j, "explained");
	if (!list)
		goto fail;
	{
		uint64_t race[VALIDATE_OBJ_NR] = { v->race_allocs[0], v->race_allocs[1] };

		/* every race loser allocates an AVC (and an AV unless it found one to reuse) */
		val_explained_add(list, "prepare_race",
				  "two threads' first faults on one VMA: the loser's alloc+free at "
				  "prepare, no net effect (eager.md §2.2 step 4); count = losers",
				  race, v->race_allocs[VALIDATE_AVC]);
	}
	n = v->other_ctx_frees[0] + v->other_ctx_frees[1];
	val_explained_add(list, "other_context_frees",
			  "frees made later by a kernel thread (ksmd, kcompactd, kswapd: pins, "
			  "eager.md §7.5) where the model freed at unlink",
			  v->other_ctx_frees, n);
	n = v->untracked_frees[0] + v->untracked_frees[1];
	val_explained_add(list, "untracked_mm_frees",
			  "teardown frees of an mm created before the trace and not snapshotted",
			  v->untracked_frees, n);
	val_explained_add(list, "lost_events", "ring-buffer events the collector lost",
			  NULL, v->lost_events);
	val_explained_add(list, "thread_reorders",
			  "threads of one mm whose differences cancel: the kernel served their "
			  "faults in another order than the trace shows", NULL, v->reordered);

	cJSON_AddNumberToObject(j, "divergence_count", (double)v->n_divs);
	if (validate_first_divergence_seq(v))
		cJSON_AddNumberToObject(j, "first_divergence_seq", (double)validate_first_divergence_seq(v));
	list = cJSON_AddArrayToObject(j, "divergences");
	if (!list)
		goto fail;
	for (size_t i = 0; i < v->kept_divs; i++) {
		cJSON *d = val_div_json(&v->divs[i]);

		if (!d)
			goto fail;
		cJSON_AddItemToArray(list, d);
	}
	return j;
fail:
	cJSON_Delete(j);
	return NULL;
}
