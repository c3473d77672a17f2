/*
 * test_validate.c - the comparison engine on hand-made event streams.
 *
 * Each test writes what a kernel would have recorded (AVM_SLAB events with
 * call sites, in the order the collector sees them: fault before its slab
 * events, slab events before the syscall exit / fork / exec event, exit_mmap
 * frees before MM_RELEASE) and what the eager world reports for the same
 * events (model_stats bumped between validate_event and
 * validate_world_delta), then checks the verdict.  Expected counts follow
 * eager.md: a first write fault is 1 AV + 1 AVC (§2.2), a fork of one
 * faulted VMA with L=1 is 1 AV + 2 AVC (§2.5), a middle split is +2 AVC
 * (§2.7 mprotect), exit frees everything (§2.6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "validate.h"

struct fx {
	struct validate *v;
	struct model_stats st;
	uint64_t seq;
};

/* One model change the world makes while applying an event. */
struct mdelta {
	enum model_obj obj;
	enum model_why why;
	int allocs, frees;
};

static void fx_init(struct fx *f, double tol)
{
	struct validate_params p;
	struct avm_err err = { { 0 } };

	memset(f, 0, sizeof(*f));
	validate_params_default(&p);
	p.tolerance = tol;
	assert_int_equal(validate_create(&p, &f->v, &err), 0);
}

static void fx_done(struct fx *f)
{
	validate_destroy(f->v);
}

/* A slab event of object id (0: a fresh id); returns the id. */
static uint64_t fx_slab_id(struct fx *f, uint32_t tid, uint64_t mm, int cache, int op, int site,
			   uint64_t id)
{
	struct avm_err err = { { 0 } };
	struct avm_event ev = { .seq = ++f->seq, .t = f->seq * 1000, .tid = tid, .pid = tid,
				.kind = AVM_SLAB, .mm = mm, .a = cache, .b = op, .c = site,
				.d = (int64_t)(id ? id : 100000 + f->seq) };

	assert_int_equal(validate_event(f->v, &ev, &err), 0);
	assert_int_equal(validate_world_delta(f->v, &ev, &f->st, &err), 0);
	return (uint64_t)ev.d;
}

static void fx_slab(struct fx *f, uint32_t tid, uint64_t mm, int cache, int op, int site)
{
	fx_slab_id(f, tid, mm, cache, op, site, 0);
}

/* A first-fault prepare as the kernel records it: AV then AVC, both at PREPARE. */
static void fx_kernel_prepare_ids(struct fx *f, uint32_t tid, uint64_t mm, uint64_t *av, uint64_t *avc)
{
	*av = fx_slab_id(f, tid, mm, AVM_CACHE_ANON_VMA, AVM_SLAB_ALLOC, AVM_SITE_PREPARE, 0);
	*avc = fx_slab_id(f, tid, mm, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_PREPARE, 0);
}

static void fx_kernel_prepare(struct fx *f, uint32_t tid, uint64_t mm)
{
	uint64_t av, avc;

	fx_kernel_prepare_ids(f, tid, mm, &av, &avc);
}

/* A non-slab event; the world applies deltas d[0..n) between the two calls. */
static uint64_t fx_ev(struct fx *f, uint32_t kind, uint32_t tid, uint32_t pid, uint64_t mm, int64_t a,
		      const struct mdelta *d, size_t n)
{
	struct avm_err err = { { 0 } };
	struct avm_event ev = { .seq = ++f->seq, .t = f->seq * 1000, .tid = tid, .pid = pid,
				.kind = kind, .mm = mm, .a = a };
	size_t i;

	if (kind == AVM_FORK)
		ev.d = (int64_t)a + 1000; /* child tgid */
	assert_int_equal(validate_event(f->v, &ev, &err), 0);
	for (i = 0; i < n; i++) {
		for (int k = 0; k < d[i].allocs; k++)
			model_stats_alloc(&f->st, d[i].obj, d[i].why);
		for (int k = 0; k < d[i].frees; k++)
			model_stats_free(&f->st, d[i].obj, d[i].why);
	}
	assert_int_equal(validate_world_delta(f->v, &ev, &f->st, &err), 0);
	return ev.seq;
}

static void fx_finish(struct fx *f)
{
	struct avm_err err = { { 0 } };

	assert_int_equal(validate_finish(f->v, &err), 0);
}

static const struct mdelta prep[] = {
	{ MODEL_OBJ_ANON_VMA, MODEL_WHY_FAULT, 1, 0 },
	{ MODEL_OBJ_AVC, MODEL_WHY_FAULT, 1, 0 },
};

/* The explained entry called name in the report (NULL if absent). */
static cJSON *explained(cJSON *j, const char *name)
{
	cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "explained"))
		if (strcmp(cJSON_GetObjectItem(e, "name")->valuestring, name) == 0)
			return e;
	return NULL;
}

static double num(cJSON *j, const char *a, const char *b)
{
	cJSON *x = cJSON_GetObjectItem(j, a);

	if (b)
		x = cJSON_GetObjectItem(x, b);
	assert_non_null(x);
	return x->valuedouble;
}

/*
 * A life that matches: fault, split, fork, child exit, parent exit.
 *
 *   after the fault:     [ A ]                    AV a, chain [a]
 *   mprotect(middle):    [ A |ro| A ]             +2 AVC (two splits, L=1)
 *   fork:                child copies 3 VMAs:     3 x (L=1 clone + own AV and AVC)
 *                        = +3 AV, +6 AVC (§2.5, no reuse: a has 2 children)
 *   child exit:          -3 AV, -6 AVC            (§2.6)
 *   parent exit:         -1 AV, -3 AVC
 */
static void test_matching_life(void **state)
{
	struct fx f;
	cJSON *j;
	struct validate_totals t;
	const struct mdelta split[] = { { MODEL_OBJ_AVC, MODEL_WHY_SPLIT, 2, 0 } };
	const struct mdelta fork[] = { { MODEL_OBJ_ANON_VMA, MODEL_WHY_FORK, 3, 0 },
				       { MODEL_OBJ_AVC, MODEL_WHY_FORK, 6, 0 } };
	const struct mdelta child_exit[] = { { MODEL_OBJ_ANON_VMA, MODEL_WHY_EXIT, 0, 3 },
					     { MODEL_OBJ_AVC, MODEL_WHY_EXIT, 0, 6 } };
	const struct mdelta parent_exit[] = { { MODEL_OBJ_ANON_VMA, MODEL_WHY_EXIT, 0, 1 },
					      { MODEL_OBJ_AVC, MODEL_WHY_EXIT, 0, 3 } };
	int i;

	(void)state;
	fx_init(&f, 0.01);
	fx_ev(&f, AVM_MMAP, 100, 100, 1, 0x10000, NULL, 0);
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x10000, prep, 2);
	fx_kernel_prepare(&f, 100, 1);
	fx_slab(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_CLONE);
	fx_slab(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_CLONE);
	fx_ev(&f, AVM_MPROTECT, 100, 100, 1, 0x11000, split, 1);
	for (i = 0; i < 3; i++) {
		/* per VMA: clone of L=1 chain, then the child's own AV and its AVC */
		fx_slab(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_CLONE);
		fx_slab(&f, 100, 1, AVM_CACHE_ANON_VMA, AVM_SLAB_ALLOC, AVM_SITE_FORK);
		fx_slab(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_FORK);
	}
	fx_ev(&f, AVM_FORK, 100, 100, 1, 2, fork, 2);
	/* the child exits: model tears down at EXIT, kernel frees before MM_RELEASE */
	fx_ev(&f, AVM_EXIT, 101, 101, 2, 1, child_exit, 2);
	for (i = 0; i < 3; i++) {
		fx_slab(&f, 101, 0, AVM_CACHE_AVC, AVM_SLAB_FREE, AVM_SITE_UNLINK);
		fx_slab(&f, 101, 0, AVM_CACHE_ANON_VMA, AVM_SLAB_FREE, AVM_SITE_PUT);
		fx_slab(&f, 101, 0, AVM_CACHE_AVC, AVM_SLAB_FREE, AVM_SITE_UNLINK);
	}
	fx_ev(&f, AVM_MM_RELEASE, 101, 101, 2, 0, NULL, 0);
	fx_ev(&f, AVM_EXIT, 100, 100, 1, 1, parent_exit, 2);
	fx_slab(&f, 100, 0, AVM_CACHE_ANON_VMA, AVM_SLAB_FREE, AVM_SITE_PUT);
	for (i = 0; i < 3; i++)
		fx_slab(&f, 100, 0, AVM_CACHE_AVC, AVM_SLAB_FREE, AVM_SITE_UNLINK);
	fx_ev(&f, AVM_MM_RELEASE, 100, 100, 1, 0, NULL, 0);
	fx_finish(&f);

	validate_totals(f.v, VALIDATE_AV, &t);
	assert_int_equal(t.kernel_allocs, 4);
	assert_int_equal(t.model_allocs, 4);
	assert_int_equal(t.kernel_frees, 4);
	assert_int_equal(t.model_frees, 4);
	assert_true(t.error == 0.0);
	validate_totals(f.v, VALIDATE_AVC, &t);
	assert_int_equal(t.kernel_allocs, 9);
	assert_int_equal(t.model_allocs, 9);
	assert_int_equal(t.kernel_frees, 9);
	assert_int_equal(validate_divergence_count(f.v), 0);
	assert_true(validate_passed(f.v));

	j = validate_to_json(f.v);
	assert_non_null(j);
	/* per operation: the kernel's sites and contexts land where the model's whys do */
	cJSON *ops = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "anon_vma_chain"), "by_operation");
	assert_int_equal((int)num(ops, "prepare", "kernel_allocs"), 1);
	assert_int_equal((int)num(ops, "prepare", "model_allocs"), 1);
	assert_int_equal((int)num(ops, "split_merge_mremap", "kernel_allocs"), 2);
	assert_int_equal((int)num(ops, "split_merge_mremap", "model_allocs"), 2);
	assert_int_equal((int)num(ops, "fork", "kernel_allocs"), 6);
	assert_int_equal((int)num(ops, "fork", "model_allocs"), 6);
	assert_int_equal((int)num(ops, "exit", "kernel_frees"), 9);
	assert_int_equal((int)num(ops, "exit", "model_frees"), 9);
	/* per process: the fork's objects belong to the child mm 2 */
	assert_int_equal((int)num(j, "per_process", "processes"), 2);
	assert_int_equal((int)num(j, "per_process", "equal"), 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "divergences")), 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "passed")));
	cJSON_Delete(j);
	fx_done(&f);
}

/*
 * The model misses a split at a known mprotect (say it wrongly merged):
 *
 *   kernel:  [ A ] -> [ A |ro| A ]   +2 AVC
 *   model:   [ A ] -> [ A ]          +0
 * The divergence names that mprotect (seq, pid, operation, counts, rule).
 */
static void test_diverges_at_known_event(void **state)
{
	struct fx f;
	cJSON *j, *d;
	uint64_t bad;

	(void)state;
	fx_init(&f, 0.01);
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x10000, prep, 2);
	fx_kernel_prepare(&f, 100, 1);
	fx_ev(&f, AVM_MMAP, 100, 100, 1, 0x40000, NULL, 0);
	fx_slab(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_CLONE);
	fx_slab(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_CLONE);
	bad = fx_ev(&f, AVM_MPROTECT, 100, 100, 1, 0x11000, NULL, 0);
	fx_ev(&f, AVM_MUNMAP, 100, 100, 1, 0x40000, NULL, 0);
	fx_finish(&f);

	assert_int_equal(validate_divergence_count(f.v), 1);
	assert_int_equal(validate_first_divergence_seq(f.v), bad);
	assert_false(validate_passed(f.v)); /* AVC 3 vs 1: error 2/3 */
	j = validate_to_json(f.v);
	d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "divergences"), 0);
	assert_non_null(d);
	assert_int_equal((uint64_t)num(d, "seq", NULL), bad);
	assert_int_equal((int)num(d, "pid", NULL), 100);
	assert_int_equal((int)num(d, "mm", NULL), 1);
	assert_string_equal(cJSON_GetObjectItem(d, "operation")->valuestring, "mprotect");
	assert_string_equal(cJSON_GetObjectItem(d, "address")->valuestring, "0x11000");
	assert_int_equal((int)num(cJSON_GetObjectItem(d, "kernel"), "anon_vma_chain", "allocs"), 2);
	assert_int_equal((int)num(cJSON_GetObjectItem(d, "model"), "anon_vma_chain", "allocs"), 0);
	assert_non_null(strstr(cJSON_GetObjectItem(d, "rule")->valuestring, "§3.3"));
	assert_string_equal(cJSON_GetObjectItem(d, "kernel_sites")->valuestring, "clone");
	assert_true(num(j, "anon_vma_chain", "error") > 0.6);
	assert_true(num(j, "anon_vma", "error") == 0.0);
	cJSON_Delete(j);
	fx_done(&f);
}

/*
 * Two threads of mm 1 take their first fault on the same unfaulted VMA.
 * The trace shows A's fault first, so the model prepares in A's fault.  The
 * kernel let B win; A lost and freed its AV and AVC (eager.md §2.2 step 4):
 *   A: FAULT .. alloc AV, alloc AVC, free that AV (put), free that AVC
 *      (anon_vma_chain_free, out of line: site unlink)
 *   B: FAULT .. alloc AV, alloc AVC
 * Net kernel = model; the extra pair is explained as a race, not an error.
 */
static void test_explained_race_pair(void **state)
{
	struct fx f;
	struct validate_totals t;
	cJSON *j, *e;
	uint64_t av, avc;

	(void)state;
	fx_init(&f, 0.0);
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x10000, prep, 2);
	fx_ev(&f, AVM_FAULT, 101, 100, 1, 0x10008, NULL, 0);
	fx_kernel_prepare(&f, 101, 1);
	fx_kernel_prepare_ids(&f, 100, 1, &av, &avc);
	fx_slab_id(&f, 100, 1, AVM_CACHE_ANON_VMA, AVM_SLAB_FREE, AVM_SITE_PUT, av);
	fx_slab_id(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_FREE, AVM_SITE_UNLINK, avc);
	fx_ev(&f, AVM_MUNMAP, 100, 100, 1, 0x90000, NULL, 0);
	fx_ev(&f, AVM_MADVISE, 101, 100, 1, 0x90000, NULL, 0);
	fx_finish(&f);

	validate_totals(f.v, VALIDATE_AV, &t);
	assert_int_equal(t.kernel_allocs, 2);
	assert_int_equal(t.model_allocs, 1);
	assert_int_equal(t.explained_allocs, 1);
	assert_true(t.error == 0.0);
	assert_true(t.raw_error == 0.5);
	assert_int_equal(validate_divergence_count(f.v), 0);
	assert_true(validate_passed(f.v));
	j = validate_to_json(f.v);
	e = explained(j, "prepare_race");
	assert_non_null(e);
	assert_int_equal((int)num(e, "count", NULL), 1);
	assert_int_equal((int)num(e, "anon_vma", NULL), 1);
	assert_int_equal((int)num(e, "anon_vma_chain", NULL), 1);
	cJSON_Delete(j);
	fx_done(&f);
}

/*
 * Extra allocs and frees of objects the fault did not prepare are no race:
 * a model that misses a split and the merge that undoes it (+1/-1 AVC at
 * clone/unlink), right after a fault, is a divergence.
 */
static void test_clone_pair_is_not_a_race(void **state)
{
	struct fx f;
	struct validate_totals t;

	(void)state;
	fx_init(&f, 0.01);
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x10000, prep, 2);
	fx_kernel_prepare(&f, 100, 1);
	fx_slab(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_CLONE);
	fx_slab(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_FREE, AVM_SITE_UNLINK);
	fx_ev(&f, AVM_MPROTECT, 100, 100, 1, 0x10000, NULL, 0);
	fx_finish(&f);
	assert_int_equal(validate_divergence_count(f.v), 1);
	validate_totals(f.v, VALIDATE_AVC, &t);
	assert_int_equal(t.explained_allocs, 0);
	assert_false(validate_passed(f.v));
	fx_done(&f);
}

/* n faults in one task; the kernel prepares in each, the model in the first m. */
static void run_faults(struct fx *f, int n, int m)
{
	for (int i = 0; i < n; i++) {
		fx_ev(f, AVM_FAULT, 100, 100, 1, 0x10000 + i * 0x2000, i < m ? prep : NULL, i < m ? 2 : 0);
		fx_kernel_prepare(f, 100, 1);
	}
	fx_ev(f, AVM_MUNMAP, 100, 100, 1, 0x900000, NULL, 0);
	fx_finish(f);
}

/* error = |100 - 99| / 100 = 0.01: passes at tolerance 0.01 (inclusive), not at 0.009. */
static void test_tolerance_boundary(void **state)
{
	struct fx f;
	struct validate_totals t;
	cJSON *j;

	(void)state;
	fx_init(&f, 0.01);
	run_faults(&f, 100, 99);
	validate_totals(f.v, VALIDATE_AV, &t);
	assert_int_equal(t.kernel_allocs, 100);
	assert_int_equal(t.model_allocs, 99);
	assert_true(t.error > 0.0099 && t.error < 0.0101);
	assert_true(validate_passed(f.v));
	/* still reported: the missed prepare is a divergence with its fault */
	assert_int_equal(validate_divergence_count(f.v), 1);
	j = validate_to_json(f.v);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "divergences"), 0),
						"operation")->valuestring, "fault");
	cJSON_Delete(j);
	fx_done(&f);

	fx_init(&f, 0.009);
	run_faults(&f, 100, 99);
	assert_false(validate_passed(f.v));
	fx_done(&f);

	fx_init(&f, 0.01);
	run_faults(&f, 100, 98); /* 0.02 */
	assert_false(validate_passed(f.v));
	fx_done(&f);
}

/*
 * Exec in the kernel's order (eager.md §2.7 execve, §6.1): the new stack's
 * AV+AVC (old task context, inside the window of the task's last fault, a
 * read that prepared nothing), the old mm's teardown ending in MM_RELEASE, a
 * kernel-mode padzero fault in the new mm 9 (+1/+1), then the EXEC event.
 * The world does it all at EXEC: old mm teardown (why EXIT) and adoption of
 * the new mm's two anon_vmas (why EXEC).
 */
static void test_exec_order(void **state)
{
	struct fx f;
	cJSON *j, *ops;
	const struct mdelta exec[] = { { MODEL_OBJ_ANON_VMA, MODEL_WHY_EXIT, 0, 1 },
				       { MODEL_OBJ_AVC, MODEL_WHY_EXIT, 0, 1 },
				       { MODEL_OBJ_ANON_VMA, MODEL_WHY_EXEC, 2, 0 },
				       { MODEL_OBJ_AVC, MODEL_WHY_EXEC, 2, 0 } };

	(void)state;
	fx_init(&f, 0.0);
	fx_ev(&f, AVM_FORK, 1, 1, 7, 1, NULL, 0);     /* mm 1 is created in the trace */
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x10000, prep, 2);
	fx_kernel_prepare(&f, 100, 1);
	fx_ev(&f, AVM_BRK, 100, 100, 1, 0x20000, NULL, 0);
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x401000, NULL, 0); /* a read: no prepare */
	fx_kernel_prepare(&f, 100, 1); /* stack of the new mm, in that fault's window */
	fx_slab(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_FREE, AVM_SITE_UNLINK);
	fx_slab(&f, 100, 1, AVM_CACHE_ANON_VMA, AVM_SLAB_FREE, AVM_SITE_PUT);
	fx_ev(&f, AVM_MM_RELEASE, 100, 100, 1, 0, NULL, 0);
	fx_ev(&f, AVM_FAULT, 100, 100, 9, 0x601000, NULL, 0); /* padzero, the world ignores it */
	fx_kernel_prepare(&f, 100, 9);
	fx_ev(&f, AVM_EXEC, 100, 100, 1, 9, exec, 4);
	fx_ev(&f, AVM_MMAP, 100, 100, 9, 0x7000, NULL, 0);
	fx_finish(&f);

	assert_int_equal(validate_divergence_count(f.v), 0);
	assert_true(validate_passed(f.v));
	j = validate_to_json(f.v);
	ops = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "anon_vma"), "by_operation");
	assert_int_equal((int)num(ops, "prepare", "kernel_allocs"), 1);
	assert_int_equal((int)num(ops, "prepare", "model_allocs"), 1);
	assert_int_equal((int)num(ops, "exec", "kernel_allocs"), 2);
	assert_int_equal((int)num(ops, "exec", "model_allocs"), 2);
	assert_int_equal((int)num(ops, "exit", "kernel_frees"), 1);
	assert_int_equal((int)num(ops, "exit", "model_frees"), 1);
	cJSON_Delete(j);
	fx_done(&f);
}

/*
 * Exec as the collector records it when AVM_EXEC comes from
 * sched_prepare_exec (the point of no return) and the snapshot from
 * sched_process_exec: new stack AV+AVC, AVM_EXEC (the world adopts the
 * whole snapshot here: stack and data-segment COW, 2/2), the old mm's
 * teardown and MM_RELEASE, then the loader's kernel-mode padzero fault and
 * its prepare (1/1), then the new program's first user-mode fault.
 */
static void test_exec_at_point_of_no_return(void **state)
{
	struct fx f;
	cJSON *j, *ops;
	const struct mdelta adopt[] = { { MODEL_OBJ_ANON_VMA, MODEL_WHY_EXEC, 2, 0 },
					{ MODEL_OBJ_AVC, MODEL_WHY_EXEC, 2, 0 } };
	const struct mdelta teardown[] = { { MODEL_OBJ_ANON_VMA, MODEL_WHY_EXIT, 0, 1 },
					   { MODEL_OBJ_AVC, MODEL_WHY_EXIT, 0, 1 } };
	struct avm_err err = { { 0 } };
	struct avm_event pf = { .tid = 100, .pid = 100, .kind = AVM_FAULT, .mm = 9, .a = 0x601000,
				.b = AVM_PF_WRITE, .c = 1 };
	struct avm_event exec_ev = { .tid = 100, .pid = 100, .kind = AVM_EXEC, .mm = 1, .a = 9 };
	struct avm_snap_vma rows[2] = {
		{ .mm = 9, .start = 0x600000, .end = 0x602000, .flags = 0x100073, .anon_vma = 2 },
		{ .mm = 9, .start = 0x7ff000, .end = 0x800000, .flags = 0x100173, .anon_vma = 1 },
	};
	struct validate_vma wvmas[2] = {
		{ .start = 0x600000, .end = 0x602000, .flags = 0x100073, .anon = true },
		{ .start = 0x7ff000, .end = 0x800000, .flags = 0x100173, .anon = true },
	};
	uint64_t exec_seq;

	(void)state;
	fx_init(&f, 0.0);
	fx_ev(&f, AVM_FORK, 1, 1, 7, 1, NULL, 0);
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x10000, prep, 2);
	fx_kernel_prepare(&f, 100, 1);
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x401000, NULL, 0); /* a read */
	fx_kernel_prepare(&f, 100, 1); /* the new stack */
	exec_seq = fx_ev(&f, AVM_EXEC, 100, 100, 1, 9, adopt, 2);
	/* the exec snapshot: live counts differ now (kernel 2 AV, world 3), not once settled */
	exec_ev.seq = exec_seq;
	assert_int_equal(validate_snapshot(f.v, &exec_ev, rows, 2, wvmas, 2, &err), 0);
	fx_slab(&f, 100, 9, AVM_CACHE_AVC, AVM_SLAB_FREE, AVM_SITE_UNLINK);
	fx_slab(&f, 100, 9, AVM_CACHE_ANON_VMA, AVM_SLAB_FREE, AVM_SITE_PUT);
	fx_ev(&f, AVM_MM_RELEASE, 100, 100, 1, 0, teardown, 2);
	pf.seq = ++f.seq;
	assert_int_equal(validate_event(f.v, &pf, &err), 0); /* padzero: kernel mode */
	assert_int_equal(validate_world_delta(f.v, &pf, &f.st, &err), 0);
	fx_kernel_prepare(&f, 100, 9);
	fx_ev(&f, AVM_FAULT, 100, 100, 9, 0x401000, NULL, 0); /* user mode: the program runs */
	fx_ev(&f, AVM_MMAP, 100, 100, 9, 0x7000, NULL, 0);
	fx_finish(&f);

	assert_int_equal(validate_divergence_count(f.v), 0);
	j = validate_to_json(f.v);
	ops = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "anon_vma_chain"), "by_operation");
	assert_int_equal((int)num(ops, "exec", "kernel_allocs"), 2);
	assert_int_equal((int)num(ops, "exec", "model_allocs"), 2);
	assert_int_equal((int)num(ops, "prepare", "kernel_allocs"), 1);
	assert_int_equal((int)num(ops, "exit", "kernel_frees"), 1);
	assert_int_equal((int)num(ops, "exit", "model_frees"), 1);
	/* per process: the exec's objects belong to the new mm 9 */
	assert_int_equal((int)num(j, "per_process", "equal"), 2);
	/* checked once the exec settled: kernel 3 - 1 = 2 AV live, world 3 - 1 */
	assert_int_equal((int)num(j, "layouts", "live_checks"), 1);
	assert_int_equal((int)num(j, "layouts", "live_equal"), 1);
	assert_int_equal((int)num(j, "layouts", "equal"), 1);
	cJSON_Delete(j);
	fx_done(&f);
}

/*
 * The last mmput of mm 1 is made by another task (a /proc reader, tid 200
 * in mm 5): the frees and MM_RELEASE come from it, after task 100's EXIT at
 * which the world tore mm 1 down.
 */
static void test_teardown_by_other_task(void **state)
{
	struct fx f;
	const struct mdelta teardown[] = { { MODEL_OBJ_ANON_VMA, MODEL_WHY_EXIT, 0, 1 },
					   { MODEL_OBJ_AVC, MODEL_WHY_EXIT, 0, 1 } };

	(void)state;
	fx_init(&f, 0.0);
	fx_ev(&f, AVM_FORK, 1, 1, 7, 1, NULL, 0);
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x10000, prep, 2);
	fx_kernel_prepare(&f, 100, 1);
	fx_ev(&f, AVM_EXIT, 100, 100, 1, 1, teardown, 2);
	fx_ev(&f, AVM_MMAP, 200, 200, 5, 0x10000, NULL, 0);
	fx_slab(&f, 200, 5, AVM_CACHE_AVC, AVM_SLAB_FREE, AVM_SITE_UNLINK);
	fx_slab(&f, 200, 5, AVM_CACHE_ANON_VMA, AVM_SLAB_FREE, AVM_SITE_PUT);
	fx_ev(&f, AVM_MM_RELEASE, 200, 200, 1, 0, NULL, 0);
	fx_ev(&f, AVM_MUNMAP, 200, 200, 5, 0x10000, NULL, 0);
	fx_finish(&f);
	assert_int_equal(validate_divergence_count(f.v), 0);
	fx_done(&f);
}

/*
 * A KSM-pinned anon_vma (eager.md §7.5): munmap unlinks it, the model frees
 * it there, the kernel frees it later from ksmd (a task with no traced
 * operation).  Explained as a free from another context.
 */
static void test_other_context_free(void **state)
{
	struct fx f;
	cJSON *j, *e;
	const struct mdelta unmap[] = { { MODEL_OBJ_ANON_VMA, MODEL_WHY_UNMAP, 0, 1 },
					{ MODEL_OBJ_AVC, MODEL_WHY_UNMAP, 0, 1 } };

	(void)state;
	fx_init(&f, 0.0);
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x10000, prep, 2);
	fx_kernel_prepare(&f, 100, 1);
	fx_slab(&f, 100, 1, AVM_CACHE_AVC, AVM_SLAB_FREE, AVM_SITE_UNLINK);
	fx_ev(&f, AVM_MUNMAP, 100, 100, 1, 0x10000, unmap, 2);
	fx_slab(&f, 55, 0, AVM_CACHE_ANON_VMA, AVM_SLAB_FREE, AVM_SITE_PUT); /* ksmd */
	fx_finish(&f);
	assert_int_equal(validate_divergence_count(f.v), 0);
	j = validate_to_json(f.v);
	e = explained(j, "other_context_frees");
	assert_non_null(e);
	assert_int_equal((int)num(e, "anon_vma", NULL), 1);
	cJSON_Delete(j);
	fx_done(&f);
}

/* A free nobody pays stays a divergence at the end. */
static void test_unpaid_free_is_divergence(void **state)
{
	struct fx f;
	const struct mdelta unmap[] = { { MODEL_OBJ_ANON_VMA, MODEL_WHY_UNMAP, 0, 1 } };

	(void)state;
	fx_init(&f, 0.0);
	fx_ev(&f, AVM_FAULT, 100, 100, 1, 0x10000, prep, 2);
	fx_kernel_prepare(&f, 100, 1);
	fx_ev(&f, AVM_MUNMAP, 100, 100, 1, 0x10000, unmap, 1);
	fx_finish(&f);
	assert_int_equal(validate_divergence_count(f.v), 1);
	assert_true(validate_passed(f.v)); /* allocations agree; frees are reported, not judged */
	fx_done(&f);
}

/* Layouts: the kernel's snapshot rows against the world's VMAs of that mm. */
static void test_layout_compare(void **state)
{
	struct fx f;
	struct avm_err err = { { 0 } };
	struct avm_event ev = { .seq = 5, .kind = AVM_EXEC, .tid = 100, .pid = 100, .mm = 1, .a = 9 };
	struct avm_snap_vma rows[2] = {
		{ .mm = 9, .start = 0x400000, .end = 0x401000, .flags = 0x875, .anon_vma = 0 },
		{ .mm = 9, .start = 0x7ff000, .end = 0x800000, .flags = 0x100173, .anon_vma = 4 },
	};
	struct validate_vma same[2] = {
		{ .start = 0x400000, .end = 0x401000, .flags = 0x875, .anon = false },
		{ .start = 0x7ff000, .end = 0x800000, .flags = 0x100173 | 0x08000000, .anon = true },
	};
	struct validate_vma other[2] = {
		{ .start = 0x400000, .end = 0x401000, .flags = 0x875, .anon = false },
		{ .start = 0x7ff000, .end = 0x800000, .flags = 0x100173, .anon = false },
	};
	cJSON *j;

	(void)state;
	fx_init(&f, 0.01);
	assert_int_equal(validate_snapshot(f.v, &ev, rows, 2, same, 2, &err), 0); /* softdirty ignored */
	assert_int_equal(validate_divergence_count(f.v), 0);
	assert_int_equal(validate_snapshot(f.v, &ev, rows, 2, other, 2, &err), 0);
	assert_int_equal(validate_snapshot(f.v, &ev, rows, 2, same, 1, &err), 0);
	assert_int_equal(validate_divergence_count(f.v), 2);
	j = validate_to_json(f.v);
	assert_int_equal((int)num(j, "layouts", "snapshots_compared"), 3);
	assert_int_equal((int)num(j, "layouts", "equal"), 1);
	assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "divergences"), 1),
						   "what")->valuestring, "2 VMAs, model 1"));
	cJSON_Delete(j);
	fx_done(&f);
}

/*
 * Exit layouts (validate_exit_layout): a forked child (mm 2, so the trace
 * knows it) at the end of its life.  Flags as the kernel records them:
 *   text  r-x  VM_READ|EXEC|MAYREAD|MAYWRITE|MAYEXEC            = 0x75, file 3
 *   heap  rw-  VM_READ|WRITE|MAYREAD|MAYWRITE|MAYEXEC|ACCOUNT    = 0x100073
 *   vvar  r--  VM_READ|MAYREAD|IO|PFNMAP|DONTEXPAND|DONTDUMP     = 0x4044411
 *   vdso  r-x  text flags | VM_DONTEXPAND                         = 0x40075
 */
#define T_TEXT 0x75ULL
#define T_HEAP 0x100073ULL
#define T_VVAR 0x4044411ULL
#define T_VDSO 0x40075ULL
#define T_SOFTDIRTY 0x08000000ULL

/* A fork that makes mm 2 a child the trace knows. */
static void fx_known_child(struct fx *f)
{
	static const struct mdelta none[1];

	fx_ev(f, AVM_FORK, 100, 100, 1, 2, none, 0);
}

static struct avm_event exit_snap_ev(struct fx *f, uint64_t mm)
{
	return (struct avm_event){ .seq = ++f->seq, .kind = AVM_SNAPSHOT, .tid = 1002, .pid = 1002,
				   .mm = mm, .a = 7, .b = AVM_SNAP_EXIT, .c = 4 };
}

/* exit_layouts.<cls>.<key> of the report's validation object. */
static double exit_num(cJSON *j, const char *cls, const char *key)
{
	cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "exit_layouts"), cls);

	assert_non_null(e);
	return num(e, key, NULL);
}

/*
 * Equal layouts: every field agrees (the kernel's VM_SOFTDIRTY is ignored,
 * eager.md §3.1); [vvar] and [vdso] are special mappings, unmodelled, even
 * though the world has [vdso] too.
 *
 *   kernel  [text 0x400000-0x401000][heap 0x600000-0x602000 AV chain 1] .. [vvar][vdso]
 *   model   [text 0x400000-0x401000][heap 0x600000-0x602000 AV chain 1] ..       [vdso]
 */
static void test_exit_layout_equal(void **state)
{
	struct fx f;
	struct avm_err err = { { 0 } };
	struct avm_event ev;
	struct avm_snap_vma rows[4] = {
		{ .mm = 2, .start = 0x400000, .end = 0x401000, .pgoff = 0, .flags = T_TEXT, .file = 3 },
		{ .mm = 2, .start = 0x600000, .end = 0x602000, .pgoff = 0x600, .flags = T_HEAP | T_SOFTDIRTY,
		  .anon_vma = 5, .chain_len = 1 },
		{ .mm = 2, .start = 0x7ffe000, .end = 0x7fff000, .flags = T_VVAR },
		{ .mm = 2, .start = 0x7fff000, .end = 0x8000000, .flags = T_VDSO },
	};
	struct validate_vma world[3] = {
		{ .start = 0x400000, .end = 0x401000, .pgoff = 0, .flags = T_TEXT, .file = 3,
		  .chain_known = true },
		{ .start = 0x600000, .end = 0x602000, .pgoff = 0x600, .flags = T_HEAP, .anon = true,
		  .chain_len = 1, .chain_known = true },
		{ .start = 0x7fff000, .end = 0x8000000, .flags = T_VDSO, .chain_known = true },
	};
	struct validate_exit_stats st;
	cJSON *j;

	(void)state;
	fx_init(&f, 0.01);
	fx_known_child(&f);
	ev = exit_snap_ev(&f, 2);
	assert_int_equal(validate_exit_layout(f.v, &ev, rows, 4, world, 3, VALIDATE_MM_MODELLED,
					      &err), 0);
	validate_exit_stats(f.v, &st);
	assert_int_equal(st.snapshots, 1);
	assert_int_equal(st.snapshots_equal, 1);
	assert_int_equal(st.compared[VALIDATE_CLASS_ANON], 1);
	assert_int_equal(st.matched[VALIDATE_CLASS_ANON], 1);
	assert_int_equal(st.compared[VALIDATE_CLASS_FILE], 1);
	assert_int_equal(st.matched[VALIDATE_CLASS_FILE], 1);
	assert_int_equal(st.unmodelled_special, 2);
	fx_finish(&f);
	assert_true(validate_passed(f.v));
	j = validate_to_json(f.v);
	assert_non_null(j);
	assert_int_equal((int)exit_num(j, "anon", "matched"), 1);
	assert_int_equal((int)exit_num(j, "unmodelled", "special"), 2);
	cJSON_Delete(j);
	fx_done(&f);
}

/*
 * A differing end: the kernel merged the heap back after an mprotect
 * round trip (eager.md §3), the model kept two VMAs.
 *
 *   kernel  [heap 0x600000 ------------- 0x603000)
 *   model   [heap 0x600000 --- 0x602000)[0x602000 - 0x603000)
 *
 * The first VMA mismatches on end; the model's second VMA starts where no
 * kernel VMA does (model_only).  2 of 2 anon VMAs wrong: not passed.
 */
static void test_exit_layout_end_differs(void **state)
{
	struct fx f;
	struct avm_err err = { { 0 } };
	struct avm_event ev;
	struct avm_snap_vma rows[1] = {
		{ .mm = 2, .start = 0x600000, .end = 0x603000, .pgoff = 0x600, .flags = T_HEAP,
		  .anon_vma = 5, .chain_len = 1 },
	};
	struct validate_vma world[2] = {
		{ .start = 0x600000, .end = 0x602000, .pgoff = 0x600, .flags = T_HEAP, .anon = true,
		  .chain_len = 1, .chain_known = true },
		{ .start = 0x602000, .end = 0x603000, .pgoff = 0x602, .flags = T_HEAP, .anon = true,
		  .chain_len = 1, .chain_known = true },
	};
	struct validate_exit_stats st;
	cJSON *j, *mis;

	(void)state;
	fx_init(&f, 0.01);
	fx_known_child(&f);
	ev = exit_snap_ev(&f, 2);
	assert_int_equal(validate_exit_layout(f.v, &ev, rows, 1, world, 2, VALIDATE_MM_MODELLED,
					      &err), 0);
	validate_exit_stats(f.v, &st);
	assert_int_equal(st.snapshots_equal, 0);
	assert_int_equal(st.compared[VALIDATE_CLASS_ANON], 2);
	assert_int_equal(st.matched[VALIDATE_CLASS_ANON], 0);
	assert_int_equal(st.by_field[VALIDATE_CLASS_ANON][VALIDATE_F_END], 1);
	assert_int_equal(st.by_field[VALIDATE_CLASS_ANON][VALIDATE_F_MODEL_ONLY], 1);
	fx_finish(&f);
	assert_false(validate_passed(f.v));
	j = validate_to_json(f.v);
	assert_non_null(j);
	assert_int_equal((int)exit_num(j, "anon", "mismatched"), 2);
	mis = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "exit_layouts"),
						      "mismatches"), 0);
	assert_non_null(mis);
	assert_string_equal(cJSON_GetObjectItem(mis, "field")->valuestring, "end");
	assert_string_equal(cJSON_GetObjectItem(mis, "kernel")->valuestring, "0x603000");
	assert_string_equal(cJSON_GetObjectItem(mis, "model")->valuestring, "0x602000");
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "passed")));
	cJSON_Delete(j);
	fx_done(&f);
}

/*
 * A missing anon_vma and a chain of the wrong length.  Same bounds, flags
 * and pgoff on both sides:
 *
 *   heap   0x600000-0x602000  kernel: AV, chain 2 (a fork child's, §2.5)  model: none
 *   buf    0x700000-0x710000  kernel: chain 3                             model: chain 2
 *   deep   0x800000-0x801000  kernel: chain 64 (the collector stops)      model: chain 70
 *
 * heap mismatches on anon_vma, buf on chain_len; deep matches: the kernel's
 * count saturates at AVM_CHAIN_LEN_MAX.  2 of 3 wrong: above 0.5, not passed.
 */
static void test_exit_layout_missing_anon(void **state)
{
	struct fx f;
	struct avm_err err = { { 0 } };
	struct avm_event ev;
	struct avm_snap_vma rows[3] = {
		{ .mm = 2, .start = 0x600000, .end = 0x602000, .pgoff = 0x600, .flags = T_HEAP,
		  .anon_vma = 5, .chain_len = 2 },
		{ .mm = 2, .start = 0x700000, .end = 0x710000, .pgoff = 0x700, .flags = T_HEAP,
		  .anon_vma = 6, .chain_len = 3 },
		{ .mm = 2, .start = 0x800000, .end = 0x801000, .pgoff = 0x800, .flags = T_HEAP,
		  .anon_vma = 7, .chain_len = AVM_CHAIN_LEN_MAX },
	};
	struct validate_vma world[3] = {
		{ .start = 0x600000, .end = 0x602000, .pgoff = 0x600, .flags = T_HEAP, .anon = false,
		  .chain_known = true },
		{ .start = 0x700000, .end = 0x710000, .pgoff = 0x700, .flags = T_HEAP, .anon = true,
		  .chain_len = 2, .chain_known = true },
		{ .start = 0x800000, .end = 0x801000, .pgoff = 0x800, .flags = T_HEAP, .anon = true,
		  .chain_len = 70, .chain_known = true },
	};
	struct validate_exit_stats st;
	cJSON *j, *mis;

	(void)state;
	fx_init(&f, 0.5);
	fx_known_child(&f);
	ev = exit_snap_ev(&f, 2);
	assert_int_equal(validate_exit_layout(f.v, &ev, rows, 3, world, 3, VALIDATE_MM_MODELLED,
					      &err), 0);
	validate_exit_stats(f.v, &st);
	assert_int_equal(st.compared[VALIDATE_CLASS_ANON], 3);
	assert_int_equal(st.matched[VALIDATE_CLASS_ANON], 1);
	assert_int_equal(st.by_field[VALIDATE_CLASS_ANON][VALIDATE_F_ANON_VMA], 1);
	assert_int_equal(st.by_field[VALIDATE_CLASS_ANON][VALIDATE_F_CHAIN_LEN], 1);
	fx_finish(&f);
	assert_false(validate_passed(f.v));
	j = validate_to_json(f.v);
	assert_non_null(j);
	mis = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "exit_layouts"), "mismatches");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(mis, 0), "field")->valuestring,
			    "anon_vma");
	assert_int_equal((int)num(cJSON_GetArrayItem(mis, 0), "kernel", NULL), 1);
	assert_int_equal((int)num(cJSON_GetArrayItem(mis, 0), "model", NULL), 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(mis, 1), "field")->valuestring,
			    "chain_len");
	assert_int_equal((int)num(cJSON_GetArrayItem(mis, 1), "kernel", NULL), 3);
	cJSON_Delete(j);
	fx_done(&f);
}

/*
 * What the model cannot know is never counted as matched:
 *   - mm 3, never created nor snapshotted in the trace: all its VMAs are
 *     unknown_mm, none compared (even though the world's guess agrees);
 *   - a shared map of a file opened read-only (kernel 0xd1: READ, MAYREAD,
 *     MAYEXEC, MAYSHARE; the world 0xf9 adds SHARED and MAYWRITE, which
 *     do_mmap clears without FMODE_WRITE): file_open_mode;
 *   - a file VMA whose flags differ otherwise (VM_EXEC) is a file mismatch,
 *     reported but not judged: the verdict stays passed;
 *   - mm 2 again, but the world holds it only as an opaque guess (it tore
 *     it down at a sharer's exit and later events re-made it empty): its
 *     heap, missing from the world, is opaque_mm, not a mismatch.
 */
static void test_exit_layout_unmodelled(void **state)
{
	struct fx f;
	struct avm_err err = { { 0 } };
	struct avm_event ev;
	struct avm_snap_vma unknown[1] = {
		{ .mm = 3, .start = 0x600000, .end = 0x602000, .flags = T_HEAP, .anon_vma = 5,
		  .chain_len = 1 },
	};
	struct validate_vma unknown_w[1] = {
		{ .start = 0x600000, .end = 0x602000, .flags = T_HEAP, .anon = true, .chain_len = 1,
		  .chain_known = true },
	};
	struct avm_snap_vma rows[2] = {
		{ .mm = 2, .start = 0x400000, .end = 0x401000, .flags = T_TEXT, .file = 3 },
		{ .mm = 2, .start = 0x500000, .end = 0x507000, .flags = 0xd1, .file = 4 },
	};
	struct avm_snap_vma heap[1] = {
		{ .mm = 2, .start = 0x600000, .end = 0x602000, .flags = T_HEAP, .anon_vma = 5,
		  .chain_len = 1 },
	};
	struct validate_vma world[2] = {
		{ .start = 0x400000, .end = 0x401000, .flags = T_TEXT & ~0x4ULL, .file = 3,
		  .chain_known = true },
		{ .start = 0x500000, .end = 0x507000, .flags = 0xf9, .file = 4, .chain_known = true },
	};
	struct validate_exit_stats st;

	(void)state;
	fx_init(&f, 0.01);
	fx_known_child(&f);
	ev = exit_snap_ev(&f, 3);
	assert_int_equal(validate_exit_layout(f.v, &ev, unknown, 1, unknown_w, 1, VALIDATE_MM_MODELLED,
					      &err), 0);
	ev = exit_snap_ev(&f, 2);
	assert_int_equal(validate_exit_layout(f.v, &ev, rows, 2, world, 2, VALIDATE_MM_MODELLED,
					      &err), 0);
	ev = exit_snap_ev(&f, 2);
	assert_int_equal(validate_exit_layout(f.v, &ev, heap, 1, NULL, 0, VALIDATE_MM_OPAQUE,
					      &err), 0);
	validate_exit_stats(f.v, &st);
	assert_int_equal(st.snapshots, 3);
	assert_int_equal(st.snapshots_opaque, 1);
	assert_int_equal(st.unmodelled_opaque_mm, 1);
	assert_int_equal(st.snapshots_unknown, 1);
	assert_int_equal(st.unmodelled_unknown_mm, 1);
	assert_int_equal(st.unmodelled_file_mode, 1);
	assert_int_equal(st.compared[VALIDATE_CLASS_ANON], 0);
	assert_int_equal(st.matched[VALIDATE_CLASS_ANON], 0);
	assert_int_equal(st.compared[VALIDATE_CLASS_FILE], 1);
	assert_int_equal(st.by_field[VALIDATE_CLASS_FILE][VALIDATE_F_FLAGS], 1);
	fx_finish(&f);
	assert_true(validate_passed(f.v));
	fx_done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matching_life),
		cmocka_unit_test(test_diverges_at_known_event),
		cmocka_unit_test(test_explained_race_pair),
		cmocka_unit_test(test_clone_pair_is_not_a_race),
		cmocka_unit_test(test_tolerance_boundary),
		cmocka_unit_test(test_exec_order),
		cmocka_unit_test(test_exec_at_point_of_no_return),
		cmocka_unit_test(test_teardown_by_other_task),
		cmocka_unit_test(test_other_context_free),
		cmocka_unit_test(test_unpaid_free_is_divergence),
		cmocka_unit_test(test_layout_compare),
		cmocka_unit_test(test_exit_layout_equal),
		cmocka_unit_test(test_exit_layout_end_differs),
		cmocka_unit_test(test_exit_layout_missing_anon),
		cmocka_unit_test(test_exit_layout_unmodelled),
	};

	return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
