/*
 * test_synth.c - the synthesiser: every shipped scenario produces a stream a
 * kernel could have produced, the exec snapshot matches eager.md §2.7
 * "execve", touches fault as the MMU would, output is deterministic for a
 * seed, and bad scenarios fail with file:line.
 *
 * The checker sink below is a small independent model of what a valid trace
 * must satisfy: every event's mm is live (created by the start snapshot, a
 * fork or an exec, not yet released), a fork's child mm and pid are new,
 * every exec's snapshot has rows for the new mm with the stack's anon_vma,
 * object ids are never reused across kinds, and every fault lies inside a
 * range the mm has mapped (snapshot rows, mmap, mremap, brk; minus munmap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kabi.h"
#include "synth.h"

#define MAX_IDS (1u << 22)
#define PAGE 4096ULL

struct range {
	uint64_t start, end;
};

struct space {
	uint64_t id;
	bool live;
	struct range *r;
	size_t n, cap;
	uint64_t brk_lo, brk_hi;   /* [lowest brk seen - growth, current brk) */
};

struct checker {
	/* what each object id was first used as: 0 unused, 'm' mm, 'a' anon_vma, 'f' file */
	char *id_kind;
	struct space *spaces;      /* indexed by mm id */
	bool *pid_seen;
	uint64_t kinds[100];
	uint64_t last_t;
	uint64_t events;
	uint64_t snap_rows_for_exec_mm, exec_stack_avs;
	uint64_t fault_codes[32];
	/* snapshot rows by snap id, collected before the event that names them */
	struct { uint64_t snap, mm, start, end, av; } *rows;
	size_t nrows, caprows;
	uint64_t hash;
	struct avm_event *log;     /* optional: keep events (small scenarios) */
	size_t nlog, caplog;
	char failure[256];
};

#define CHECK(c, cond, ...)                                                              \
	do {                                                                             \
		if (!(cond) && !(c)->failure[0])                                         \
			snprintf((c)->failure, sizeof((c)->failure), __VA_ARGS__);       \
	} while (0)

static void checker_init(struct checker *c, bool keep_log)
{
	memset(c, 0, sizeof(*c));
	c->id_kind = calloc(MAX_IDS, 1);
	c->spaces = calloc(MAX_IDS, sizeof(*c->spaces));
	c->pid_seen = calloc(MAX_IDS, sizeof(bool));
	assert_non_null(c->id_kind);
	assert_non_null(c->spaces);
	assert_non_null(c->pid_seen);
	c->hash = 1469598103934665603ULL;
	if (keep_log)
		c->caplog = 1;
}

static void checker_free(struct checker *c)
{
	size_t i;

	for (i = 0; i < MAX_IDS; i++)
		free(c->spaces[i].r);
	free(c->spaces);
	free(c->id_kind);
	free(c->pid_seen);
	free(c->rows);
	free(c->log);
}

static void use_id(struct checker *c, uint64_t id, char kind)
{
	CHECK(c, id > 0 && id < MAX_IDS, "object id %llu out of range", (unsigned long long)id);
	if (id == 0 || id >= MAX_IDS)
		return;
	CHECK(c, c->id_kind[id] == 0 || c->id_kind[id] == kind,
	      "id %llu used as '%c' and as '%c'", (unsigned long long)id, c->id_kind[id], kind);
	c->id_kind[id] = kind;
}

static void range_add(struct space *s, uint64_t start, uint64_t end)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->r = realloc(s->r, s->cap * sizeof(*s->r));
		assert_non_null(s->r);
	}
	s->r[s->n].start = start;
	s->r[s->n].end = end;
	s->n++;
}

/* Remove [start, end) from the space's ranges (splitting where needed). */
static void range_remove(struct space *s, uint64_t start, uint64_t end)
{
	size_t i, n = s->n;

	for (i = 0; i < n; i++) {
		struct range *r = &s->r[i];

		if (r->end <= start || r->start >= end)
			continue;
		if (r->start < start && r->end > end) {
			uint64_t old_end = r->end;

			r->end = start;
			range_add(s, end, old_end);
			continue;
		}
		if (r->start < start)
			r->end = start;
		else if (r->end > end)
			r->start = end;
		else
			r->start = r->end = 0;
	}
}

static bool range_has(const struct space *s, uint64_t addr)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (addr >= s->r[i].start && addr < s->r[i].end)
			return true;
	}
	return addr >= s->brk_lo && addr < s->brk_hi;
}

static struct space *space_new(struct checker *c, uint64_t mm)
{
	struct space *s = &c->spaces[mm];

	use_id(c, mm, 'm');
	CHECK(c, s->id == 0, "mm %llu created twice", (unsigned long long)mm);
	s->id = mm;
	s->live = true;
	return s;
}

static struct space *space_live(struct checker *c, uint64_t mm, uint64_t seq)
{
	struct space *s = mm < MAX_IDS ? &c->spaces[mm] : NULL;

	CHECK(c, s && s->live, "event %llu uses mm %llu which is not live",
	      (unsigned long long)seq, (unsigned long long)mm);
	return s && s->live ? s : NULL;
}

/* Adopt the rows of snapshot snap for mm into its ranges; returns the row count. */
static uint64_t adopt_rows(struct checker *c, uint64_t snap, struct space *s, bool *stack_av)
{
	uint64_t n = 0;
	size_t i;

	*stack_av = false;
	for (i = 0; i < c->nrows; i++) {
		if (c->rows[i].snap != snap || c->rows[i].mm != s->id)
			continue;
		range_add(s, c->rows[i].start, c->rows[i].end);
		/* The stack is the highest VMA and has an anon_vma already (GUP arg copy). */
		if (c->rows[i].end > 0x7ff000000000ULL && c->rows[i].av)
			*stack_av = true;
		n++;
	}
	return n;
}

static int ck_snap_vma(void *ctx, const struct avm_snap_vma *v, struct avm_err *err)
{
	struct checker *c = ctx;

	(void)err;
	if (c->nrows == c->caprows) {
		c->caprows = c->caprows ? c->caprows * 2 : 256;
		c->rows = realloc(c->rows, c->caprows * sizeof(*c->rows));
		assert_non_null(c->rows);
	}
	c->rows[c->nrows].snap = v->snap;
	c->rows[c->nrows].mm = v->mm;
	c->rows[c->nrows].start = v->start;
	c->rows[c->nrows].end = v->end;
	c->rows[c->nrows].av = v->anon_vma;
	c->nrows++;
	CHECK(c, v->start < v->end && v->start % PAGE == 0 && v->end % PAGE == 0,
	      "snapshot row with a bad range");
	if (v->file)
		use_id(c, v->file, 'f');
	if (v->anon_vma) {
		CHECK(c, c->id_kind[v->anon_vma] == 0, "anon_vma id %llu reused",
		      (unsigned long long)v->anon_vma);
		use_id(c, v->anon_vma, 'a');
		CHECK(c, v->chain_len == 1 && v->chain[0] == v->anon_vma && v->av_root == v->anon_vma,
		      "a fresh anon_vma must be its own root with a chain of one");
	}
	return 0;
}

static int ck_snap_av(void *ctx, const struct avm_snap_av *a, struct avm_err *err)
{
	struct checker *c = ctx;

	(void)err;
	CHECK(c, a->id && a->root == a->id && a->refcount == 1 && a->num_active_vmas == 1,
	      "snap_anon_vmas row %llu is not a fresh anon_vma", (unsigned long long)a->id);
	return 0;
}

static int ck_event(void *ctx, const struct avm_event *ev, struct avm_err *err)
{
	struct checker *c = ctx;
	struct space *s, *child;
	uint64_t seq = ++c->events;
	bool stack_av;
	size_t i;

	(void)err;
	c->hash = (c->hash ^ (uint64_t)ev->kind ^ ((uint64_t)ev->a << 7) ^ ev->t ^
		   ((uint64_t)ev->pid << 40) ^ ev->mm) * 1099511628211ULL;
	if (c->caplog) {
		if (c->nlog + 1 >= c->caplog) {
			c->caplog *= 2;
			c->log = realloc(c->log, c->caplog * sizeof(*c->log));
			assert_non_null(c->log);
		}
		c->log[c->nlog++] = *ev;
	}
	CHECK(c, ev->t >= c->last_t, "event %llu goes back in time", (unsigned long long)seq);
	c->last_t = ev->t;
	if (ev->kind < 100)
		c->kinds[ev->kind]++;
	if (ev->kind == AVM_SNAPSHOT) {
		CHECK(c, ev->b == AVM_SNAP_START, "only start snapshots are separate events");
		for (i = 0; i < c->nrows; i++) {
			if (c->rows[i].snap == (uint64_t)ev->a && !c->spaces[c->rows[i].mm].id) {
				s = space_new(c, c->rows[i].mm);
				adopt_rows(c, (uint64_t)ev->a, s, &stack_av);
				s->brk_lo = 0;
			}
		}
		return 0;
	}
	if (ev->kind == AVM_EXEC) {
		/* The old mm may be gone already: exit_mmap runs in exec_mmap, before the
		 * exec tracepoint.  It must have existed, though. */
		CHECK(c, ev->mm < MAX_IDS && c->spaces[ev->mm].id, "exec %llu from an unknown mm",
		      (unsigned long long)seq);
		s = &c->spaces[ev->mm];
	} else {
		s = space_live(c, ev->mm, seq);
		if (!s)
			return 0;
	}
	switch (ev->kind) {
	case AVM_FORK:
		if (ev->a == (int64_t)ev->mm)
			break; /* thread or vfork: the mm is shared */
		child = space_new(c, (uint64_t)ev->a);
		for (i = 0; i < s->n; i++)
			range_add(child, s->r[i].start, s->r[i].end);
		child->brk_lo = s->brk_lo;
		child->brk_hi = s->brk_hi;
		CHECK(c, ev->d > 0 && ev->d < (int64_t)MAX_IDS && !c->pid_seen[ev->d],
		      "fork %llu reuses pid %lld", (unsigned long long)seq, (long long)ev->d);
		if (ev->d > 0 && ev->d < (int64_t)MAX_IDS)
			c->pid_seen[ev->d] = true;
		break;
	case AVM_EXEC:
		child = space_new(c, (uint64_t)ev->a);
		CHECK(c, ev->b > 0, "exec %llu without a snapshot", (unsigned long long)seq);
		CHECK(c, adopt_rows(c, (uint64_t)ev->b, child, &stack_av) > 0,
		      "exec %llu: snapshot %lld has no rows for mm %lld", (unsigned long long)seq,
		      (long long)ev->b, (long long)ev->a);
		CHECK(c, stack_av, "exec %llu: the stack has no anon_vma", (unsigned long long)seq);
		c->exec_stack_avs += stack_av;
		break;
	case AVM_MM_RELEASE:
		s->live = false;
		break;
	case AVM_MMAP:
		CHECK(c, ev->a > 0 && ev->a % PAGE == 0 && ev->b > 0 && ev->b % PAGE == 0,
		      "mmap %llu: bad range", (unsigned long long)seq);
		if (ev->e)
			use_id(c, (uint64_t)ev->e, 'f');
		range_remove(s, (uint64_t)ev->a, (uint64_t)(ev->a + ev->b));
		range_add(s, (uint64_t)ev->a, (uint64_t)(ev->a + ev->b));
		break;
	case AVM_MUNMAP:
		range_remove(s, (uint64_t)ev->a, (uint64_t)(ev->a + ev->b));
		break;
	case AVM_MREMAP:
		CHECK(c, range_has(s, (uint64_t)ev->a), "mremap %llu of an unmapped range",
		      (unsigned long long)seq);
		if (!(ev->d & 4)) /* MREMAP_DONTUNMAP: the source stays mapped */
			range_remove(s, (uint64_t)ev->a, (uint64_t)(ev->a + ev->b));
		range_remove(s, (uint64_t)ev->e, (uint64_t)(ev->e + ev->c));
		range_add(s, (uint64_t)ev->e, (uint64_t)(ev->e + ev->c));
		break;
	case AVM_UFFD_REGISTER: case AVM_UFFD_UNREGISTER: case AVM_UFFD_COPY:
	case AVM_UFFD_ZEROPAGE: case AVM_UFFD_MOVE:
		CHECK(c, range_has(s, (uint64_t)ev->a) && range_has(s, (uint64_t)(ev->a + ev->b - 1)),
		      "userfaultfd ioctl %llu outside every mapping", (unsigned long long)seq);
		CHECK(c, ev->e > 0, "userfaultfd ioctl %llu without a uffd", (unsigned long long)seq);
		break;
	case AVM_BRK:
		/* brk(0) (malloc's first sbrk) tells where the heap starts. */
		if (ev->a == 0)
			s->brk_lo = s->brk_hi = (uint64_t)ev->b;
		CHECK(c, s->brk_lo, "brk %llu before the start of the heap is known",
		      (unsigned long long)seq);
		s->brk_hi = (uint64_t)ev->b;
		break;
	case AVM_FAULT:
		CHECK(c, range_has(s, (uint64_t)ev->a), "fault %llu at %#llx outside every mapping",
		      (unsigned long long)seq, (unsigned long long)ev->a);
		if (ev->b < 32)
			c->fault_codes[ev->b]++;
		break;
	default:
		break;
	}
	return 0;
}

static struct synth_sink checker_sink(struct checker *c)
{
	struct synth_sink s = { .ctx = c, .event = ck_event, .snap_vma = ck_snap_vma,
				.snap_av = ck_snap_av };

	return s;
}

static void run_checked(const char *path, uint64_t seed, double scale, struct checker *c,
			struct synth_stats *st)
{
	struct synth_scenario *s = NULL;
	struct avm_err err = { "" };
	struct synth_opts o = { .seed = seed, .scale = scale };
	struct synth_sink sink = checker_sink(c);

	if (synth_load(path, &s, &err))
		fail_msg("%s", err.msg);
	if (synth_run(s, &o, &sink, st, &err))
		fail_msg("%s", err.msg);
	synth_free(s);
	if (c->failure[0])
		fail_msg("%s: %s", path, c->failure);
	assert_int_equal(st->events, c->events);
}

static void check_common(const struct checker *c, const struct synth_stats *st)
{
	/* one start snapshot, and every exec announced its snapshot */
	assert_int_equal(c->kinds[AVM_SNAPSHOT], 1);
	assert_int_equal(c->kinds[AVM_EXEC], st->execs);
	assert_int_equal(c->exec_stack_avs, st->execs);
	assert_int_equal(c->kinds[AVM_FORK], st->forks + st->vforks + st->threads);
	assert_true(c->kinds[AVM_FAULT] > 0);
	assert_int_equal(c->kinds[AVM_FAULT], st->faults);
}

static void test_android_24_apps(void **state)
{
	struct checker c;
	struct synth_stats st;

	(void)state;
	checker_init(&c, false);
	run_checked("configs/scenarios/android-24-apps.yaml", 24, 1.0, &c, &st);
	check_common(&c, &st);
	/* init forks zygote; zygote forks system_server and the 24 apps; 41 % of apps
	 * fork a helper: with seed 24 that is between 1 and 23 helpers. */
	assert_true(st.forks >= 1 + 1 + 24 + 1 && st.forks <= 1 + 1 + 24 + 23);
	/* zygote and each helper exec: the apps never do */
	assert_int_equal(st.execs, 1 + (st.forks - 26));
	assert_int_equal(st.vforks, 0);
	/* system_server's 40 threads and 12 per app */
	assert_int_equal(st.threads, 40 + 24 * 12);
	/* the relocation writes of zygote's 120 libraries are not-present write faults */
	assert_true(c.fault_codes[AVM_PF_WRITE | AVM_PF_USER] > 120 * 5);
	/* app writes to inherited heap pages are COW faults on present pages */
	assert_true(c.fault_codes[AVM_PF_PROT | AVM_PF_WRITE | AVM_PF_USER] > 0);
	checker_free(&c);
}

static void test_android_boot(void **state)
{
	struct checker c;
	struct synth_stats st;

	(void)state;
	checker_init(&c, false);
	run_checked("configs/scenarios/android-boot.yaml", 70, 1.0, &c, &st);
	check_common(&c, &st);
	/* init forks init-services and zygote; init-services forks 70 daemons; zygote
	 * forks system_server and 6 persistent apps.  Everything stays alive. */
	assert_int_equal(st.forks, 2 + 70 + 1 + 6);
	assert_int_equal(st.execs, 1 + 1 + 70);
	assert_int_equal(st.exits, 0);
	assert_int_equal(st.threads, 70 * 6 + 40 + 6 * 12);
	/* only the forked-away mms of init's children went (replaced by exec) */
	assert_int_equal(c.kinds[AVM_MM_RELEASE], 1 + 1 + 70);
	checker_free(&c);
}

static void test_prefork_server(void **state)
{
	struct checker c;
	struct synth_stats st;

	(void)state;
	checker_init(&c, false);
	run_checked("configs/scenarios/prefork-server.yaml", 8, 1.0, &c, &st);
	check_common(&c, &st);
	/* 8 workers plus 24 replacements, all exit; the master stays */
	assert_int_equal(st.forks, 1 + 8 + 24);
	assert_int_equal(st.exits, 32);
	assert_int_equal(st.execs, 1);
	/* 100 requests per worker, each an mmap, an mremap and an munmap */
	assert_int_equal(c.kinds[AVM_MREMAP], 32 * 100);
	assert_int_equal(c.kinds[AVM_MUNMAP], 32 * 100);
	/* every exit released its mm (workers never share theirs) */
	assert_int_equal(c.kinds[AVM_MM_RELEASE], 32 + 1 /* the exec'd-away fork of init */);
	checker_free(&c);
}

static void test_build(void **state)
{
	struct checker c;
	struct synth_stats st;

	(void)state;
	checker_init(&c, false);
	run_checked("configs/scenarios/build.yaml", 7, 0.5, &c, &st);
	check_common(&c, &st);
	/* scale 0.5 halves the 25 rounds (rounded: 13) of 4 recipes; each recipe is dash,
	 * gcc, cc1 and as, all started with vfork and exec'd; init forks make, which execs. */
	assert_int_equal(st.forks, 1);
	assert_int_equal(st.vforks, 13 * 4 * 4);
	assert_int_equal(st.execs, 1 + 13 * 4 * 4);
	assert_int_equal(st.exits, 1 + 13 * 4 * 4);
	/* a vfork child's exec leaves the shared mm to its parent: only exits release */
	assert_int_equal(c.kinds[AVM_MM_RELEASE], 1 + st.exits);
	checker_free(&c);
}

static void test_deterministic(void **state)
{
	struct checker a, b, d;
	struct synth_stats sa, sb, sd;

	(void)state;
	checker_init(&a, false);
	checker_init(&b, false);
	checker_init(&d, false);
	run_checked("configs/scenarios/android-24-apps.yaml", 5, 0.25, &a, &sa);
	run_checked("configs/scenarios/android-24-apps.yaml", 5, 0.25, &b, &sb);
	run_checked("configs/scenarios/android-24-apps.yaml", 6, 0.25, &d, &sd);
	assert_int_equal(a.events, b.events);
	assert_true(a.hash == b.hash);
	assert_true(a.hash != d.hash);
	checker_free(&a);
	checker_free(&b);
	checker_free(&d);
}

static void test_scale(void **state)
{
	struct checker a, b;
	struct synth_stats sa, sb;

	(void)state;
	checker_init(&a, false);
	checker_init(&b, false);
	run_checked("configs/scenarios/prefork-server.yaml", 1, 1.0, &a, &sa);
	run_checked("configs/scenarios/prefork-server.yaml", 1, 2.0, &b, &sb);
	/* only the counts marked `scaled` grow: the workers and their replacements */
	assert_int_equal(sa.forks, 1 + 8 + 24);
	assert_int_equal(sb.forks, 1 + 16 + 24 * 2);
	assert_int_equal(sb.execs, sa.execs);
	assert_true(sb.events > sa.events * 3 / 2 && sb.events < sa.events * 5 / 2);
	checker_free(&a);
	checker_free(&b);
}

static char tmp_path[64];

static const char *write_tmp(const char *text)
{
	int fd;
	size_t len = strlen(text);

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/test_synth_XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return tmp_path;
}

static int teardown(void **state)
{
	(void)state;
	if (tmp_path[0])
		unlink(tmp_path);
	tmp_path[0] = '\0';
	return 0;
}

static void run_text(const char *text, struct checker *c, struct synth_stats *st)
{
	run_checked(write_tmp(text), 1, 1.0, c, st);
}

/*
 * The exec snapshot (eager.md §2.7 "execve"):
 *
 *   stack          rw-  anon_vma (argument copy through GUP)
 *   vvar, vdso          special, never an anon_vma
 *   ld.text        r-x  file
 *   ld.data        rw-  file, 8192 bytes: ends on a page boundary, no padzero COW
 *   exe.text       r-x  file
 *   exe.data       rw-  file, 6000 bytes: padzero COWs the last page -> anon_vma
 *   exe.bss        rw-  anon (vm_brk_flags), unfaulted
 */
static void test_exec_snapshot(void **state)
{
	struct checker c;
	struct synth_stats st;
	uint64_t avs = 0, rows = 0, files = 0;
	size_t i;

	(void)state;
	checker_init(&c, true);
	run_text("scenario: t\n"
		 "images:\n"
		 "  ld: { text: 16K, data: 8K }\n"
		 "  prog: { text: 8K, data: 6000, bss: 12K, interp: ld }\n"
		 "processes:\n"
		 "  p:\n"
		 "    start: 1\n"
		 "    steps:\n"
		 "      - exec: prog\n",
		 &c, &st);
	assert_int_equal(st.execs, 1);
	for (i = 0; i < c.nrows; i++) {
		if (c.rows[i].snap != 2) /* snapshot 1 is init's start snapshot */
			continue;
		rows++;
		avs += c.rows[i].av != 0;
	}
	assert_int_equal(rows, 8);
	assert_int_equal(avs, 2); /* stack + exe.data */
	for (i = 0; i < c.nrows; i++)
		files += c.rows[i].snap == 2 && c.rows[i].end < 0x7ff000000000ULL &&
			 c.rows[i].end - c.rows[i].start == 8192 && c.rows[i].av;
	assert_int_equal(files, 1); /* exe.data (8 KiB, 6000 bytes of file) */
	/* init forks; exec_mmap releases the forked mm before the exec tracepoint; exit;
	 * the exec'd mm is released */
	assert_int_equal(c.log[1].kind, AVM_FORK);
	assert_int_equal(c.log[2].kind, AVM_MM_RELEASE);
	assert_int_equal(c.log[2].mm, c.log[1].a);
	assert_int_equal(c.log[3].kind, AVM_EXEC);
	assert_int_equal(c.log[3].mm, c.log[1].a);
	assert_int_equal(c.log[3].b, 2);
	assert_int_equal(c.log[4].kind, AVM_EXIT);
	assert_int_equal(c.log[5].kind, AVM_MM_RELEASE);
	assert_int_equal(c.log[5].mm, c.log[3].a);
	checker_free(&c);
}

/*
 * Touches fault as the MMU would.  A 4-page private anonymous mapping:
 *
 *   read x4     -> 4 faults U       (not present)
 *   write x4    -> 4 faults P|W|U   (zero page mapped read-only)
 *   write x4    -> nothing          (writable now)
 *   fork; child writes x4 -> 4 faults P|W|U (COW), parent writes -> 4 more
 */
static void test_touch_fault_codes(void **state)
{
	struct checker c;
	struct synth_stats st;

	(void)state;
	checker_init(&c, false);
	run_text("scenario: t\n"
		 "images:\n"
		 "  prog: { text: 8K, data: 4096 }\n"
		 "processes:\n"
		 "  p:\n"
		 "    start: 1\n"
		 "    steps:\n"
		 "      - exec: prog\n"
		 "      - mmap: { name: m, size: 16K }\n"
		 "      - touch: { map: m }\n"
		 "      - touch: { map: m, write: 1 }\n"
		 "      - touch: { map: m, write: 1 }\n"
		 "      - fork: { process: c }\n"
		 "      - sleep: 1s\n"
		 "      - touch: { map: m, write: 1 }\n"
		 "  c:\n"
		 "    steps:\n"
		 "      - touch: { map: m, write: 1 }\n",
		 &c, &st);
	assert_int_equal(c.fault_codes[AVM_PF_USER], 4);
	assert_int_equal(c.fault_codes[AVM_PF_PROT | AVM_PF_WRITE | AVM_PF_USER], 4 + 4 + 4);
	assert_int_equal(c.fault_codes[AVM_PF_WRITE | AVM_PF_USER], 0);
	assert_int_equal(st.faults, 16);
	checker_free(&c);
}

/* Threads and vfork children share the mm: AVM_FORK with a == mm. */
static void test_threads_and_vfork_share_mm(void **state)
{
	struct checker c;
	struct synth_stats st;
	size_t i, shared = 0;

	(void)state;
	checker_init(&c, true);
	run_text("scenario: t\n"
		 "images:\n"
		 "  prog: { text: 8K, data: 4096 }\n"
		 "processes:\n"
		 "  p:\n"
		 "    start: 1\n"
		 "    steps:\n"
		 "      - exec: prog\n"
		 "      - threads: 3\n"
		 "      - fork: { process: c, vfork: true }\n"
		 "      - wait: all\n"
		 "  c:\n"
		 "    steps:\n"
		 "      - exec: prog\n",
		 &c, &st);
	for (i = 0; i < c.nlog; i++)
		shared += c.log[i].kind == AVM_FORK && c.log[i].a == (int64_t)c.log[i].mm;
	assert_int_equal(shared, 3 + 1);
	assert_int_equal(st.threads, 3);
	assert_int_equal(st.vforks, 1);
	/* the parent's 3 threads exit first and the leader last (group_dead) */
	assert_int_equal(c.log[c.nlog - 2].kind, AVM_EXIT);
	assert_int_equal(c.log[c.nlog - 2].a, 1);
	checker_free(&c);
}

static void expect_load_error(const char *text, const char *suffix)
{
	struct synth_scenario *s = NULL;
	struct avm_err err = { "" };
	char want[512];
	const char *path = write_tmp(text);

	assert_int_equal(synth_load(path, &s, &err), -1);
	assert_null(s);
	snprintf(want, sizeof(want), "%s:%s", path, suffix);
	assert_string_equal(err.msg, want);
	teardown(NULL);
}

static void test_bad_scenarios(void **state)
{
	static const char head[] = "scenario: t\nimages:\n  prog: { text: 8K }\nprocesses:\n";
	char text[512];

	(void)state;
	expect_load_error("scenario: t\nbogus: 1\n", "2: unknown key 'bogus'");
	snprintf(text, sizeof(text), "%s  p:\n    start: 1\n    steps:\n      - exec: prog\n"
		 "      - mmap: { name: m, size: 4K, colour: red }\n", head);
	expect_load_error(text, "9: unknown key 'colour'");
	snprintf(text, sizeof(text), "%s  p:\n    start: 1\n    steps:\n      - exec: prog\n"
		 "      - jump: 3\n", head);
	expect_load_error(text, "9: unknown key 'jump'");
	snprintf(text, sizeof(text), "%s  p:\n    start: 1\n    steps:\n      - exec: prog\n"
		 "      - mmap: { name: m, size: lots }\n", head);
	expect_load_error(text, "9: 'size' must be a size in bytes (optionally with K, M, G or T) "
			  "(got 'lots')");
	snprintf(text, sizeof(text), "%s  p:\n    start: 1\n    steps:\n      - exec: prog\n"
		 "      - fork: { process: nobody }\n", head);
	expect_load_error(text, "9: unknown process 'nobody'");
	snprintf(text, sizeof(text), "%s  p:\n    start: 1\n    steps:\n      - exec: nothing\n",
		 head);
	expect_load_error(text, "8: unknown image 'nothing'");
	snprintf(text, sizeof(text), "%s  p:\n    start: 1\n    steps:\n      - exec: prog\n"
		 "      - fork: { process: c, vfork: true }\n  c:\n    steps:\n"
		 "      - sleep: 1s\n", head);
	expect_load_error(text, "9: a vfork child ('c') must begin with exec");
	snprintf(text, sizeof(text), "%s  p:\n    start: 1\n    steps:\n      - sleep: 1s\n", head);
	expect_load_error(text, "5: process 'p' is started by init, so its first step must be "
			  "exec");
	snprintf(text, sizeof(text), "%s  p:\n    start: 1\n    steps:\n      - exec: prog\n"
		 "      - touch: { map: m, write: 2 }\n", head);
	expect_load_error(text, "9: 'write' must be between 0 and 1 (got '2')");
	snprintf(text, sizeof(text), "%s  p:\n    start: 1\n    steps:\n      - exec: prog\n"
		 "      - gc: { map: m, live: 1.5 }\n", head);
	expect_load_error(text, "9: 'live' must be between 0 and 1 (got '1.5')");
	snprintf(text, sizeof(text), "%s  p:\n    start: 1\n    steps:\n      - exec: prog\n"
		 "      - gc: { map: m, copy: 1 }\n", head);
	expect_load_error(text, "9: unknown key 'copy'");
	expect_load_error("scenario: t\nprocesses: [\n", "3: YAML syntax error: did not find "
			  "expected node content while parsing a flow node");
}

static void test_missing_file(void **state)
{
	struct synth_scenario *s = NULL;
	struct avm_err err = { "" };

	(void)state;
	assert_int_equal(synth_load("configs/scenarios/no-such.yaml", &s, &err), -1);
	assert_string_equal(err.msg, "configs/scenarios/no-such.yaml: No such file or directory");
}

/*
 * A gc step (ART's compacting GC cycle): the first cycle maps the from-space,
 * then each cycle is mremap(MAYMOVE | FIXED | DONTUNMAP) heap -> from-space,
 * REGISTER, the live share of the present pages in GC_CHUNK-page COPY / MOVE
 * ioctls (move: 1 -> every chunk moves), ZEROPAGE for the zero share of the
 * rest, UNREGISTER and MADV_DONTNEED of the from-space.  8 pages present,
 * live 0.5 -> 4 pages in one MOVE; zero 0.25 of the other 12 -> 3 pages.
 */
static void test_gc_cycle(void **state)
{
	struct checker c;
	struct synth_stats st;
	uint64_t heap = 0, from = 0;
	size_t i, first = 0;
	int cycles = 0;

	(void)state;
	checker_init(&c, true);
	run_text("scenario: t\n"
		 "images:\n"
		 "  prog: { text: 8K, data: 4096 }\n"
		 "processes:\n"
		 "  p:\n"
		 "    start: 1\n"
		 "    steps:\n"
		 "      - exec: prog\n"
		 "      - mmap: { name: heap, size: 64K }\n"
		 "      - touch: { map: heap, pages: 0.5, write: 1 }\n"
		 "      - gc: { map: heap, live: 0.5, move: 1, zero: 0.25 }\n"
		 "      - touch: { map: heap, write: 1 }\n"
		 "      - gc: { map: heap, live: 0.5, move: 1, zero: 0.25 }\n",
		 &c, &st);
	assert_string_equal(c.failure, "");
	for (i = 0; i < c.nlog; i++) {
		const struct avm_event *e = &c.log[i];

		if (e->kind == AVM_MMAP && e->b == 64 * 1024 && !heap)
			heap = (uint64_t)e->a;
		if (e->kind != AVM_MREMAP)
			continue;
		cycles++;
		assert_int_equal(e->a, heap);
		assert_int_equal(e->d, 1 | 2 | 4);
		if (!from) {
			from = (uint64_t)e->e;
			/* the from-space was mapped just before the first cycle */
			assert_int_equal(c.log[i - 1].kind, AVM_MMAP);
			assert_int_equal(c.log[i - 1].a, from);
		}
		assert_int_equal(e->e, from);
		assert_int_equal(c.log[i + 1].kind, AVM_UFFD_REGISTER);
		assert_int_equal(c.log[i + 1].a, heap);
		assert_int_equal(c.log[i + 1].c, KABI_UFFD_MODE_MISSING);
		if (!first)
			first = i;
	}
	assert_int_equal(cycles, 2);
	/* first cycle: 16 heap pages, 8 present (pages: 0.5 of 16) */
	{
		const struct avm_event *mv = &c.log[first + 2], *z = &c.log[first + 3];
		const struct avm_event *un = &c.log[first + 4], *dn = &c.log[first + 5];
		uint64_t present = 0;

		for (i = 0; i < first; i++)
			present += c.log[i].kind == AVM_FAULT && (uint64_t)c.log[i].a >= heap &&
				   (uint64_t)c.log[i].a < heap + 64 * 1024;
		assert_int_equal(mv->kind, AVM_UFFD_MOVE);
		assert_int_equal(mv->a, heap);
		assert_int_equal(mv->c, from);
		assert_int_equal(mv->b, (int64_t)((present + 1) / 2 * PAGE));
		assert_int_equal(mv->d, mv->b);
		assert_int_equal(z->kind, AVM_UFFD_ZEROPAGE);
		assert_int_equal(z->a, heap + (uint64_t)mv->b);
		assert_int_equal(un->kind, AVM_UFFD_UNREGISTER);
		assert_int_equal(dn->kind, AVM_MADVISE);
		assert_int_equal(dn->a, from);
		assert_int_equal(dn->c, 4); /* MADV_DONTNEED */
		assert_int_equal(mv->e, un->e);
	}
	checker_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_android_24_apps),
		cmocka_unit_test(test_android_boot),
		cmocka_unit_test(test_prefork_server),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_scale),
		cmocka_unit_test_teardown(test_exec_snapshot, teardown),
		cmocka_unit_test_teardown(test_touch_fault_codes, teardown),
		cmocka_unit_test_teardown(test_threads_and_vfork_share_mm, teardown),
		cmocka_unit_test_teardown(test_bad_scenarios, teardown),
		cmocka_unit_test_teardown(test_gc_cycle, teardown),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests_name("synth", tests, NULL, NULL);
}
