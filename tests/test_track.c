/*
 * test_track.c - fork cost, the live-object series and per-process bytes
 * (src/track.h) through whole worlds (simulator + model + arch x86_64-4level)
 * and on the module alone.
 *
 * Costs are read from configs/arch/x86_64-4level.yaml (rmap lock 20,
 * interval-tree insert 50, folio rewrite 15, anon_vma alloc 60, AVC alloc
 * 40 ns; fork 49 ns per PTE and 500 ns per table); the expected figures are
 * derived from eager.md §2.5 and
 * lazy.md §4.4 in the comments next to each step.
 */
#include "evbuild.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "locks.h"
#include "track.h"

#define A 0x10000000ULL      /* 256 MiB: PGD[0] PUD[0] PMD[128], one PTE table for all below */
#define B (A + 16 * PG)      /* a gap of 12 pages: the two VMAs never merge */
#define GROWTH 8             /* lazy.md §2.2 vm_area_struct growth, set large to be seen */

static struct avm_event at(struct avm_event ev, uint64_t t)
{
	ev.t = t;
	return ev;
}

static struct world *track_world(const struct arch *a, const char *model)
{
	struct config cfg;

	tw_config(&cfg, 3);
	cfg.lazy_vma_growth_bytes = GROWTH;
	return tw_world_arch(model, &cfg, a);
}

static void load_arch(struct arch *a)
{
	struct avm_err err = { { 0 } };

	if (arch_load("x86_64-4level", NULL, a, &err))
		fail_msg("%s", err.msg);
}

/*
 * mm1 (pid 1) maps two anon VMAs with a gap and writes 2 + 1 pages, then
 * forks mm2 (pid 2):
 *
 *   mm1   [ V1: A .. A+4p ) 2 pages      [ V2: B .. B+4p ) 1 page
 *   mm2   [ V1' copy      ) 2 PTEs       [ V2' copy      ) 1 PTE
 */
static void run_fork_trace(struct world *w)
{
	tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 1000));
	tw(w, at(ev_mmap(1, B, 4 * PG, RW, ANON), 1100));
	tw(w, at(ev_write(1, A), 1200));
	tw(w, at(ev_write(1, A + PG), 1300));
	tw(w, at(ev_write(1, B), 1400));
	tw(w, at(ev_fork(1, 2), 2000));
}

/* The fork_cost JSON of w and its histograms' totals. */
static double fork_json_total(cJSON *fc, const char *key)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(fc, key);

	assert_non_null(h);
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, "total_ns"));
}

/*
 * Page-table copy, both models (copy_page_range of V1 and V2): 3 present
 * PTEs; the child allocates pud + pmd + one PTE table (V2 lies in the same
 * 2 MiB as V1, so its copy allocates nothing): 3 x 49 + 3 x 500 ns.
 */
static uint64_t expected_pt(const struct arch *a)
{
	return 3 * a->cost.fork_pte_ns + 3 * a->cost.fork_table_ns;
}

/*
 * eager.md §2.5 anon_vma_fork, per faulted VMA (chain [AV], P3):
 *   anon_vma_clone   1 AVC, allocated before the root lock (the first of a
 *                    clone is GFP_KERNEL): unlocked 40;
 *                    section: lock + 1 insert                        = 70
 *   new AV + AVC     allocated unlocked: 60 + 40;
 *                    linked under the root: lock + 1 insert          = 70
 * So 2 sections per VMA, 4 in all (280 ns), plus 2 x 140 ns of unlocked
 * allocations: 560 ns; +1 AV +2 AVC per VMA.
 */
static void test_fork_cost_eager(void **state)
{
	struct arch a;
	struct world *w;
	struct tw_mark m;
	struct avm_err err = { { 0 } };
	uint64_t lock, insert, av_alloc, avc_alloc, anon;
	cJSON *fc;

	(void)state;
	load_arch(&a);
	lock = a.rmap.ns[LOCKS_OP_LOCK];
	insert = a.rmap.ns[LOCKS_OP_TREE_INSERT];
	av_alloc = a.rmap.ns[LOCKS_OP_AV_ALLOC];
	avc_alloc = a.rmap.ns[LOCKS_OP_AVC_ALLOC];
	w = track_world(&a, "eager");
	tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 1000));
	tw(w, at(ev_mmap(1, B, 4 * PG, RW, ANON), 1100));
	tw(w, at(ev_write(1, A), 1200));
	tw(w, at(ev_write(1, A + PG), 1300));
	tw(w, at(ev_write(1, B), 1400));
	m = tw_mark(w);
	tw(w, at(ev_fork(1, 2), 2000));
	tw_assert_delta(w, &m, 2, 0, 4, 0);
	/* a thread (CLONE_VM) is not a fork: no dup_mmap, nothing counted */
	tw(w, at(ev_clone_vm(1), 2100));

	anon = 2 * ((avc_alloc + lock + insert) + (av_alloc + avc_alloc + lock + insert));
	assert_int_equal(anon, 560);
	/* the holds alone are the locks block's fork sections */
	{
		struct locks_summary wr;

		locks_summary(world_locks(w), LOCKS_ANON_VMA, LOCKS_WRITE, &wr);
		assert_int_equal(wr.count_by_why[LOCKS_WHY_FORK], 4);
		assert_int_equal(wr.total_ns_by_why[LOCKS_WHY_FORK], 280);
	}
	assert_int_equal(track_forks(world_track(w)), 1);
	fc = track_fork_cost_json(world_track(w), &err);
	assert_non_null(fc);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(fc, "forks")), 1);
	assert_int_equal(fork_json_total(fc, "anon_rmap"), anon);
	assert_int_equal(fork_json_total(fc, "page_table_copy"), expected_pt(&a));
	assert_int_equal(expected_pt(&a), 1647);
	assert_int_equal(fork_json_total(fc, "total"), anon + expected_pt(&a));
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(fc, "anon_rmap_share")) -
			 560.0 / 2207.0) < 1e-12);
	/* one fork: p50 = p99 = max = the value (bucket midpoint clamped to [min, max]) */
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
				 cJSON_GetObjectItemCaseSensitive(fc, "total"), "p99_ns")), 2207);
	cJSON_Delete(fc);
	world_destroy(w);
}

/*
 * lazy.md §4.4 under lazy, per VMA: the parent's lazy VMA is upgraded first
 * (a new AV and its AVC allocated unlocked, 60 + 40, then linked in the
 * upgrade's one section: lock + insert = 70), its folios re-pointed in
 * try_dup_anon_rmap under the PTE table's lock the copy already holds
 * (lazy.rewrite_lock ptl: one rewrite per folio, no lock of its own: V1
 * 2 x 15 = 30, V2 15), then the child's TREE_PARENT VMA clones the parent's
 * chain of one (its AVC allocated unlocked, 40; lock + insert = 70).  Holds
 * 70+30+70 + 70+15+70 = 325 ns, allocations 2 x 140: 605 ns.  dup_mmap's
 * VMA write locks (both designs) are not anon rmap work: not counted here.
 * Objects: +1 AV +2 AVC per VMA, as eager, but none before the fork.
 */
static void test_fork_cost_lazy(void **state)
{
	struct arch a;
	struct world *w;
	struct avm_err err = { { 0 } };
	uint64_t lock, insert, rewrite, anon;
	cJSON *fc;

	(void)state;
	load_arch(&a);
	lock = a.rmap.ns[LOCKS_OP_LOCK];
	insert = a.rmap.ns[LOCKS_OP_TREE_INSERT];
	rewrite = a.rmap.ns[LOCKS_OP_FOLIO_REWRITE];
	w = track_world(&a, "lazy");
	run_fork_trace(w);
	assert_int_equal(tw_live(w, MODEL_OBJ_ANON_VMA), 2);
	assert_int_equal(tw_live(w, MODEL_OBJ_AVC), 4);
	anon = (lock + insert) + 2 * rewrite + (lock + insert) +
	       (lock + insert) + rewrite + (lock + insert) +
	       2 * (a.rmap.ns[LOCKS_OP_AV_ALLOC] + 2 * a.rmap.ns[LOCKS_OP_AVC_ALLOC]);
	assert_int_equal(anon, 605);
	fc = track_fork_cost_json(world_track(w), &err);
	assert_non_null(fc);
	assert_int_equal(fork_json_total(fc, "anon_rmap"), anon);
	assert_int_equal(fork_json_total(fc, "page_table_copy"), expected_pt(&a));
	assert_int_equal(fork_json_total(fc, "total"), anon + expected_pt(&a));
	cJSON_Delete(fc);
	world_destroy(w);
}

/* No arch: no lock sections to sum, so no fork is timed (the report leaves fork_cost out). */
static void test_fork_without_arch(void **state)
{
	struct world *w = tw_world("eager", 3);

	(void)state;
	run_fork_trace(w);
	assert_int_equal(track_forks(world_track(w)), 0);
	world_destroy(w);
}

/*
 * Per-process bytes (anon_vma 104, AVC 64; lazy VMAs 192 + GROWTH):
 *   eager  pid 1: the two first faults, 2 AV + 2 AVC          = 336
 *          pid 2: the fork's objects belong to the child:
 *                 2 AV + 4 AVC                                  = 464
 *   lazy   pid 1: no AV at a lazy fault; its 2 VMAs grow by GROWTH each = 16
 *          pid 2: the fork: upgrades 2 x (AV + AVC) and 2 clone
 *                 AVCs (464) + the child's 2 VMAs' growth (16)  = 480
 * Then pid 2 exits: its current bytes fall, its peak stays.
 * top_processes: pid 1 saves 320 (95.2 %), pid 2 -16.
 */
static void test_top_processes(void **state)
{
	struct arch a;
	struct world *e, *l;
	struct track_proc p;
	struct avm_err err = { { 0 } };
	cJSON *top, *x;

	(void)state;
	load_arch(&a);
	e = track_world(&a, "eager");
	l = track_world(&a, "lazy");
	run_fork_trace(e);
	run_fork_trace(l);
	assert_true(track_process(world_track(e), 1, &p));
	assert_int_equal(p.peak, 336);
	assert_true(track_process(world_track(e), 2, &p));
	assert_int_equal(p.peak, 464);
	assert_int_equal(p.cur, 464);
	assert_true(track_process(world_track(l), 1, &p));
	assert_int_equal(p.peak, 2 * GROWTH);
	assert_true(track_process(world_track(l), 2, &p));
	assert_int_equal(p.peak, 464 + 2 * GROWTH);

	tw(e, at(ev_exit(2), 3000));
	tw(l, at(ev_exit(2), 3000));
	assert_true(track_process(world_track(e), 2, &p));
	assert_true(p.cur < 464);
	assert_int_equal(p.peak, 464);

	top = track_top_processes_json(world_track(e), world_track(l), 10, &err);
	assert_non_null(top);
	assert_int_equal(cJSON_GetArraySize(top), 2);
	x = cJSON_GetArrayItem(top, 0);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "pid")), 1);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "eager_bytes_peak")), 336);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "lazy_bytes_peak")), 16);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "saving_bytes")), 320);
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "saving_percent")) -
			 100.0 * 320 / 336) < 1e-9);
	x = cJSON_GetArrayItem(top, 1);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "pid")), 2);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "saving_bytes")), -16);
	cJSON_Delete(top);
	/* at most max entries, the largest saving first */
	top = track_top_processes_json(world_track(e), world_track(l), 1, &err);
	assert_int_equal(cJSON_GetArraySize(top), 1);
	cJSON_Delete(top);
	world_destroy(e);
	world_destroy(l);
}

/* Pre-existing bytes wait for their mm's first counted event, then belong to its process. */
static void test_adopted_bytes(void **state)
{
	struct track *t;
	struct track_proc p;
	struct avm_err err = { { 0 } };

	(void)state;
	assert_int_equal(track_create(NULL, &t, &err), 0);
	assert_int_equal(track_adopted(t, 7, 300, &err), 0);
	assert_int_equal(track_adopted(t, 7, 100, &err), 0);
	assert_false(track_process(t, 40, &p));
	/* pid 40's exit on mm 7 frees 150 bytes: it held 400 before */
	assert_int_equal(track_bytes(t, 40, 7, -150, &err), 0);
	assert_true(track_process(t, 40, &p));
	assert_int_equal(p.peak, 400);
	assert_int_equal(p.cur, 250);
	/* claimed once only */
	assert_int_equal(track_bytes(t, 41, 7, 10, &err), 0);
	assert_true(track_process(t, 41, &p));
	assert_int_equal(p.cur, 10);
	track_destroy(t);
}

static struct model_stats stats_live(uint64_t n)
{
	struct model_stats s;

	memset(&s, 0, sizeof(s));
	s.obj[MODEL_OBJ_ANON_VMA].live = n;
	s.obj[MODEL_OBJ_AVC].live = 2 * n;
	s.obj[MODEL_OBJ_VMA].live = 3 * n;
	s.bytes_live = 100 * n;
	return s;
}

static uint64_t arr(const cJSON *o, const char *key, int i)
{
	return (uint64_t)cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, key), i));
}

/*
 * 4 points, first interval 10 ns; the state before the event at t is n - 1
 * for events t = 5, 15, 25, 35, 45, 55 carrying n = 1..6:
 *   t=15 samples boundary 10 (1), 25 -> 20 (2), 35 -> 30 (3), 45 -> 40 (4):
 *   full; t=55 reaches boundary 50 with the arrays full: halve to the
 *   boundaries of 20 ns, (20, 2) and (40, 4); the next one is 60 > 55.
 *   Close at the last event time 55 with n = 6: (20,2) (40,4) (55,6).
 */
static void test_series_halving(void **state)
{
	struct track_params prm = { .max_points = 4, .first_interval_ns = 10 };
	struct track *t;
	struct model_stats s;
	struct avm_err err = { { 0 } };
	cJSON *o;

	(void)state;
	assert_int_equal(track_create(&prm, &t, &err), 0);
	for (uint64_t n = 1; n <= 6; n++) {
		s = stats_live(n - 1);
		track_time(t, 10 * n - 5, &s);
	}
	s = stats_live(6);
	o = track_series_json(t, &s, &err);
	assert_non_null(o);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "interval_ns")), 20);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "t_ns")), 3);
	assert_int_equal(arr(o, "t_ns", 0), 20);
	assert_int_equal(arr(o, "anon_vma", 0), 2);
	assert_int_equal(arr(o, "t_ns", 1), 40);
	assert_int_equal(arr(o, "anon_vma_chain", 1), 8);
	assert_int_equal(arr(o, "t_ns", 2), 55);
	assert_int_equal(arr(o, "vm_area_struct", 2), 18);
	assert_int_equal(arr(o, "bytes", 2), 600);
	cJSON_Delete(o);
	track_destroy(t);
}

/*
 * A long trace with gaps: never more than max_points points, every point
 * but the last on a boundary of the final interval, times increasing, and
 * the last point at the end of the trace with the end state.
 */
static void test_series_bounded(void **state)
{
	struct track_params prm = { .max_points = 8, .first_interval_ns = 1 };
	struct track *t;
	struct model_stats s;
	struct avm_err err = { { 0 } };
	uint64_t now = 0, interval;
	cJSON *o, *ts;
	int n;

	(void)state;
	assert_int_equal(track_create(&prm, &t, &err), 0);
	for (uint64_t i = 0; i < 5000; i++) {
		now += 1 + (i % 97 == 0 ? 100000 : i % 7);
		s = stats_live(i);
		track_time(t, now, &s);
	}
	s = stats_live(4242);
	o = track_series_json(t, &s, &err);
	assert_non_null(o);
	ts = cJSON_GetObjectItemCaseSensitive(o, "t_ns");
	n = cJSON_GetArraySize(ts);
	assert_true(n >= 2 && n <= 8);
	interval = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "interval_ns"));
	for (int i = 0; i < n - 1; i++) {
		assert_int_equal(arr(o, "t_ns", i) % interval, 0);
		assert_true(arr(o, "t_ns", i) < arr(o, "t_ns", i + 1));
	}
	assert_int_equal(arr(o, "t_ns", n - 1), now);
	assert_int_equal(arr(o, "anon_vma", n - 1), 4242);
	cJSON_Delete(o);
	track_destroy(t);
}

/*
 * Through worlds: eager and lazy fed the same events sample the same t_ns
 * (boundaries depend on event times only), and the last point is the state
 * at the end of the trace (live_end of every kind, bytes_end_total).
 */
static void test_series_worlds(void **state)
{
	struct arch a;
	struct world *w[2];
	struct avm_err err = { { 0 } };
	cJSON *o[2];

	(void)state;
	load_arch(&a);
	w[0] = track_world(&a, "eager");
	w[1] = track_world(&a, "lazy");
	for (int k = 0; k < 2; k++) {
		/* 1 ms apart: 1 us boundaries fill 512 points several times over */
		run_fork_trace(w[k]);
		for (uint64_t i = 0; i < 40; i++)
			tw(w[k], at(ev_write(2, A + (i % 4) * PG), 3000000 + i * 1000000));
		tw(w[k], at(ev_munmap(1, B, 4 * PG), 50000000));
	}
	for (int k = 0; k < 2; k++) {
		const struct model_stats *s = world_stats(w[k]);
		const cJSON *ts;
		int n;

		o[k] = track_series_json(world_track(w[k]), s, &err);
		assert_non_null(o[k]);
		ts = cJSON_GetObjectItemCaseSensitive(o[k], "t_ns");
		n = cJSON_GetArraySize(ts);
		assert_true(n > 1 && n <= TRACK_MAX_POINTS);
		assert_int_equal(arr(o[k], "t_ns", n - 1), 50000000);
		assert_int_equal(arr(o[k], "anon_vma", n - 1), s->obj[MODEL_OBJ_ANON_VMA].live);
		assert_int_equal(arr(o[k], "anon_vma_chain", n - 1), s->obj[MODEL_OBJ_AVC].live);
		assert_int_equal(arr(o[k], "vm_area_struct", n - 1), s->obj[MODEL_OBJ_VMA].live);
		assert_int_equal(arr(o[k], "bytes", n - 1), s->bytes_live);
	}
	assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(o[0], "t_ns"),
				  cJSON_GetObjectItemCaseSensitive(o[1], "t_ns"), true));
	cJSON_Delete(o[0]);
	cJSON_Delete(o[1]);
	world_destroy(w[0]);
	world_destroy(w[1]);
}

/* Merge of two fork_cost blocks = the block of one track that saw both hosts' forks. */
static void test_fork_cost_merge(void **state)
{
	struct track *x, *y, *both;
	struct avm_err err = { { 0 } };
	cJSON *jx, *jy, *jb, *merged = NULL, *bad;
	static const uint64_t fx[][2] = { { 560, 1647 }, { 5000, 80000 }, { 0, 49 } };
	static const uint64_t fy[][2] = { { 645, 1647 }, { 123456, 9999999 } };

	(void)state;
	assert_int_equal(track_create(NULL, &x, &err), 0);
	assert_int_equal(track_create(NULL, &y, &err), 0);
	assert_int_equal(track_create(NULL, &both, &err), 0);
	for (size_t i = 0; i < 3; i++) {
		track_fork(x, fx[i][0], fx[i][1]);
		track_fork(both, fx[i][0], fx[i][1]);
	}
	for (size_t i = 0; i < 2; i++) {
		track_fork(y, fy[i][0], fy[i][1]);
		track_fork(both, fy[i][0], fy[i][1]);
	}
	jx = track_fork_cost_json(x, &err);
	jy = track_fork_cost_json(y, &err);
	jb = track_fork_cost_json(both, &err);
	assert_int_equal(track_fork_cost_json_merge(jx, jy, &merged, &err), 0);
	assert_true(cJSON_Compare(merged, jb, true));
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(merged, "forks")), 5);
	cJSON_Delete(merged);

	/* a block without forks has a null share; merging a broken block names it */
	cJSON_Delete(jb);
	track_destroy(both);
	assert_int_equal(track_create(NULL, &both, &err), 0);
	jb = track_fork_cost_json(both, &err);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(jb, "anon_rmap_share")));
	bad = cJSON_Duplicate(jx, true);
	cJSON_DeleteItemFromObject(cJSON_GetObjectItemCaseSensitive(bad, "total"), "buckets");
	assert_int_equal(track_fork_cost_json_merge(bad, jy, &merged, &err), -1);
	assert_null(merged);
	assert_non_null(strstr(err.msg, "fork_cost.total"));
	cJSON_Delete(bad);
	cJSON_Delete(jx);
	cJSON_Delete(jy);
	cJSON_Delete(jb);
	track_destroy(x);
	track_destroy(y);
	track_destroy(both);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_cost_eager),
		cmocka_unit_test(test_fork_cost_lazy),
		cmocka_unit_test(test_fork_without_arch),
		cmocka_unit_test(test_top_processes),
		cmocka_unit_test(test_adopted_bytes),
		cmocka_unit_test(test_series_halving),
		cmocka_unit_test(test_series_bounded),
		cmocka_unit_test(test_series_worlds),
		cmocka_unit_test(test_fork_cost_merge),
	};

	return cmocka_run_group_tests_name("track", tests, NULL, NULL);
}
