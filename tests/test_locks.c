/*
 * test_locks.c - lock hold accounting: sums, quantiles and simulated waits
 * on hand-computed sequences, the trylock rule, the cost model, and the
 * memory bound of the instance table.
 *
 * Rules under test (locks.h, eager.md §5): an rwsem's writer excludes
 * everyone, readers exclude only writers; holds of one CPU never wait for each
 * other; a trylock that would wait fails (reclaim's folio_referenced,
 * eager.md §4.2 step 3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch.h"
#include "locks.h"

static uint64_t hold(struct locks *l, enum locks_mode m, enum locks_why why, uint64_t inst,
		     uint32_t cpu, uint64_t t, uint64_t len)
{
	struct locks_section s = { .cls = LOCKS_ANON_VMA, .mode = m, .why = why,
				   .instance = inst, .cpu = cpu, .start = t, .len = len };
	uint64_t wait = 12345;

	assert_int_equal(locks_hold(l, &s, &wait), 0);
	return wait;
}

/*
 * One anon_vma root (instance 7), four CPUs, times in ns:
 *
 *   cpu0  W[100,150) fork           W[180,200) unlink (waited 10)  R[185,190)
 *   cpu1        R wants 120 -> [150,180) rmap (waited 30: cpu0's write)
 *   cpu2                 R[160,170) rmap (readers share)
 *   cpu3                                       tryR at 190: cpu0 writes -> fails
 *   cpu1  instance 8: W[150,190) clone (other lock: no wait)
 *
 * write: 3 holds, 50 + 20 + 40 = 110 ns, 1 waited 10 ns
 * read:  3 holds, 30 + 10 + 5 = 45 ns, 1 waited 30 ns, 1 failed trylock
 */
static void test_hand_sequence(void **state)
{
	struct locks *l;
	struct locks_summary w, r;
	struct avm_err err = { "" };
	struct locks_section try = { .cls = LOCKS_ANON_VMA, .mode = LOCKS_READ,
				     .why = LOCKS_WHY_RMAP_WALK, .trylock = true,
				     .instance = 7, .cpu = 3, .start = 190, .len = 5 };
	uint64_t wait = 99;

	(void)state;
	assert_int_equal(locks_create(&l, &err), 0);
	assert_int_equal(hold(l, LOCKS_WRITE, LOCKS_WHY_FORK, 7, 0, 100, 50), 0);
	assert_int_equal(hold(l, LOCKS_READ, LOCKS_WHY_RMAP_WALK, 7, 1, 120, 30), 30);
	assert_int_equal(hold(l, LOCKS_WRITE, LOCKS_WHY_CLONE, 8, 1, 150, 40), 0);
	assert_int_equal(hold(l, LOCKS_READ, LOCKS_WHY_RMAP_WALK, 7, 2, 160, 10), 0);
	/* cpu1's read ends at 180, cpu2's at 170: the writer starts at 180 */
	assert_int_equal(hold(l, LOCKS_WRITE, LOCKS_WHY_UNLINK, 7, 0, 170, 20), 10);
	/* the same CPU never waits for itself */
	assert_int_equal(hold(l, LOCKS_READ, LOCKS_WHY_RMAP_WALK, 7, 0, 185, 5), 0);
	assert_int_equal(locks_hold(l, &try, &wait), 1);
	assert_int_equal(wait, 0);

	locks_summary(l, LOCKS_ANON_VMA, LOCKS_WRITE, &w);
	assert_int_equal(w.count, 3);
	assert_int_equal(w.total_ns, 110);
	assert_int_equal(w.max_ns, 50);
	assert_int_equal(w.waited, 1);
	assert_int_equal(w.wait_total_ns, 10);
	assert_int_equal(w.wait_max_ns, 10);
	assert_int_equal(w.count_by_why[LOCKS_WHY_FORK], 1);
	assert_int_equal(w.total_ns_by_why[LOCKS_WHY_UNLINK], 20);
	assert_int_equal(w.total_ns_by_why[LOCKS_WHY_CLONE], 40);
	/* three values 20, 40, 50 (all below 64: exact buckets) */
	assert_int_equal(w.p50_ns, 40);
	assert_int_equal(w.p99_ns, 50);

	locks_summary(l, LOCKS_ANON_VMA, LOCKS_READ, &r);
	assert_int_equal(r.count, 3);
	assert_int_equal(r.total_ns, 45);
	assert_int_equal(r.waited, 1);
	assert_int_equal(r.wait_total_ns, 30);
	assert_int_equal(r.trylock_failed, 1);
	assert_int_equal(r.count_by_why[LOCKS_WHY_RMAP_WALK], 3);
	assert_int_equal(r.p50_ns, 10);

	/* other classes saw nothing */
	locks_summary(l, LOCKS_MMAP, LOCKS_READ, &r);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.p99_ns, 0);
	locks_destroy(l);
}

/* A write queued behind a write queued behind a write: waits chain. */
static void test_writer_chain(void **state)
{
	struct locks *l;
	struct avm_err err = { "" };

	(void)state;
	assert_int_equal(locks_create(&l, &err), 0);
	/* cpu0 [0,100); cpu1 asks at 10 -> [100,200); cpu2 asks at 20 -> [200,300) */
	assert_int_equal(hold(l, LOCKS_WRITE, LOCKS_WHY_FORK, 1, 0, 0, 100), 0);
	assert_int_equal(hold(l, LOCKS_WRITE, LOCKS_WHY_FORK, 1, 1, 10, 100), 90);
	assert_int_equal(hold(l, LOCKS_WRITE, LOCKS_WHY_FORK, 1, 2, 20, 100), 180);
	/* cpu0 again at 150: cpu1 holds until 200, cpu2 until 300 -> waits 150 */
	assert_int_equal(hold(l, LOCKS_WRITE, LOCKS_WHY_FORK, 1, 0, 150, 10), 150);
	/* a reader on cpu1 at 250 waits for cpu2 (300) and cpu0 (310): 60 */
	assert_int_equal(hold(l, LOCKS_READ, LOCKS_WHY_RMAP_WALK, 1, 1, 250, 1), 60);
	locks_destroy(l);
}

/* RCU sections never wait, whatever else holds the same "instance". */
static void test_rcu_never_waits(void **state)
{
	struct locks *l;
	struct avm_err err = { "" };
	struct locks_section s = { .cls = LOCKS_RCU, .mode = LOCKS_READ,
				   .why = LOCKS_WHY_RMAP_WALK, .instance = 1, .cpu = 1,
				   .start = 10, .len = 5 };
	struct locks_summary sum;
	uint64_t wait = 1;

	(void)state;
	assert_int_equal(locks_create(&l, &err), 0);
	assert_int_equal(hold(l, LOCKS_WRITE, LOCKS_WHY_FORK, 1, 0, 0, 100), 0);
	assert_int_equal(locks_hold(l, &s, &wait), 0);
	assert_int_equal(wait, 0);
	locks_summary(l, LOCKS_RCU, LOCKS_READ, &sum);
	assert_int_equal(sum.count, 1);
	assert_int_equal(sum.total_ns, 5);
	locks_destroy(l);
}

/*
 * Quantiles (nearest rank) from the log-linear histogram: 990 holds of
 * 1000 ns and 10 of 1 ms.  Rank for p50 is 500 -> 1000 ns; for p99 it is 990
 * -> still 1000 ns; max 1 ms.  Buckets are 1/32 wide: 1000 lands in
 * [992, 1007], whose midpoint 999 is within 1/32 of 1000.
 */
static void test_quantiles(void **state)
{
	struct locks_hist *h = calloc(1, sizeof(*h));
	uint64_t q, v;
	int i;

	(void)state;
	assert_non_null(h);
	for (i = 0; i < 990; i++)
		locks_hist_add(h, 1000);
	for (i = 0; i < 10; i++)
		locks_hist_add(h, 1000000);
	q = locks_hist_quantile(h, 0.50);
	assert_in_range(q, 1000 - 1000 / 32, 1000 + 1000 / 32);
	q = locks_hist_quantile(h, 0.99);
	assert_in_range(q, 1000 - 1000 / 32, 1000 + 1000 / 32);
	/* rank 991 is the first 1 ms hold */
	q = locks_hist_quantile(h, 0.991);
	assert_in_range(q, 1000000 - 1000000 / 32, 1000000);
	assert_int_equal(locks_hist_quantile(h, 1.0), 1000000);
	assert_int_equal(h->sum, 990 * 1000 + 10 * 1000000);

	/* 1..1000: every quantile within 1/32 of the exact nearest rank */
	memset(h, 0, sizeof(*h));
	for (v = 1; v <= 1000; v++)
		locks_hist_add(h, v);
	for (i = 1; i <= 99; i++) {
		uint64_t exact = (uint64_t)i * 10;

		q = locks_hist_quantile(h, i / 100.0);
		assert_in_range(q, exact - exact / 32, exact + exact / 32);
	}
	/* merging two halves gives the histogram of the whole */
	{
		struct locks_hist *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));

		assert_non_null(a);
		assert_non_null(b);
		for (v = 1; v <= 1000; v++)
			locks_hist_add(v % 2 ? a : b, v);
		locks_hist_merge(a, b);
		assert_memory_equal(a, h, sizeof(*h));
		free(a);
		free(b);
	}
	free(h);
}

/*
 * Hold lengths from the cost model with the x86_64-4level defaults: an eager
 * fork of a VMA whose chain has 2 AVCs (eager.md §2.4-2.5) clones 2 AVCs
 * (alloc + interval-tree insert each), then allocates its own anon_vma and
 * one AVC and links it, under one lock: lock + 1 av alloc + 3 avc alloc +
 * 3 inserts = 20 + 60 + 3 x 40 + 3 x 50 = 350 ns.
 */
static void test_cost_model(void **state)
{
	struct arch a;
	struct avm_err err = { "" };
	struct locks_work w = { { 0 } };

	(void)state;
	assert_int_equal(arch_load("x86_64-4level", NULL, &a, &err), 0);
	w.n[LOCKS_OP_LOCK] = 1;
	w.n[LOCKS_OP_AV_ALLOC] = 1;
	w.n[LOCKS_OP_AVC_ALLOC] = 3;
	w.n[LOCKS_OP_TREE_INSERT] = 3;
	assert_int_equal(locks_cost(&a.rmap, &w, 0),
			 a.rmap.ns[LOCKS_OP_LOCK] + a.rmap.ns[LOCKS_OP_AV_ALLOC] +
				 3 * a.rmap.ns[LOCKS_OP_AVC_ALLOC] +
				 3 * a.rmap.ns[LOCKS_OP_TREE_INSERT]);
	assert_int_equal(locks_cost(&a.rmap, &w, 0), 350);
	/* extra time (e.g. page-table walks of an rmap walk) adds on */
	assert_int_equal(locks_cost(&a.rmap, &w, arch_walk_ns(&a)), 350 + 4 * 10);
	assert_string_equal(locks_op_key(LOCKS_OP_FOLIO_REWRITE), "folio_rewrite_ns");
	assert_null(locks_op_key(LOCKS_OP_NR));
}

/*
 * Memory follows the locks held recently, not the trace: a million holds on
 * distinct instances 1 us apart leave only those of the last ~100 ms (plus
 * slack) live, and a contended instance is still found after the churn.
 */
static void test_bounded_instances(void **state)
{
	struct locks *l;
	struct avm_err err = { "" };
	uint64_t i;

	(void)state;
	assert_int_equal(locks_create(&l, &err), 0);
	for (i = 0; i < 1000000; i++)
		hold(l, LOCKS_WRITE, LOCKS_WHY_PREPARE, 1000 + i, (uint32_t)(i % 4), i * 1000, 500);
	assert_in_range(locks_live_instances(l), 90000, 110000);
	/* the last instance is still known: another CPU waits for it */
	i = 999999;
	assert_int_equal(hold(l, LOCKS_WRITE, LOCKS_WHY_PREPARE, 1000 + i, 0, i * 1000 + 100, 1),
			 400);
	locks_destroy(l);
}

static double num(const cJSON *o, const char *path)
{
	char buf[128], *tok, *save = NULL;
	const cJSON *cur = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
		cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
	assert_true(cJSON_IsNumber(cur));
	return cur->valuedouble;
}

/*
 * The report block carries the summaries, and merging the blocks of two
 * worlds (or hosts) equals the block of one world that saw both sets of
 * holds: histograms add bucket by bucket, so quantiles match exactly.
 */
static void test_json_and_merge(void **state)
{
	struct locks *a, *b, *both;
	struct avm_err err = { "" };
	cJSON *ja, *jb, *jboth, *merged;
	uint64_t i;

	(void)state;
	assert_int_equal(locks_create(&a, &err), 0);
	assert_int_equal(locks_create(&b, &err), 0);
	assert_int_equal(locks_create(&both, &err), 0);
	for (i = 0; i < 200; i++) {
		struct locks *half = i % 2 ? a : b;
		uint64_t len = 100 + i * 37 % 5000;

		/* different instances per half: no cross-half waits, so both match */
		hold(half, LOCKS_WRITE, LOCKS_WHY_FORK, 1 + i % 2, (uint32_t)(i % 3), i * 1000, len);
		hold(both, LOCKS_WRITE, LOCKS_WHY_FORK, 1 + i % 2, (uint32_t)(i % 3), i * 1000, len);
	}
	hold(a, LOCKS_READ, LOCKS_WHY_RMAP_WALK, 9, 0, 500000, 77);
	hold(both, LOCKS_READ, LOCKS_WHY_RMAP_WALK, 9, 0, 500000, 77);
	ja = locks_json(a, &err);
	jb = locks_json(b, &err);
	jboth = locks_json(both, &err);
	assert_non_null(ja);
	assert_non_null(jb);
	assert_non_null(jboth);
	assert_int_equal(num(ja, "anon_vma_rwsem.read.hold.count"), 1);
	assert_int_equal(num(ja, "anon_vma_rwsem.read.hold.p99_ns"), 77);
	assert_int_equal(num(ja, "anon_vma_rwsem.read.by_reason.rmap_walk.total_ns"), 77);
	/* every class and mode is present, zero when unused */
	assert_int_equal(num(jb, "mmap_lock.write.hold.count"), 0);
	assert_int_equal(num(jb, "rcu.read.wait.max_ns"), 0);
	assert_int_equal(locks_json_merge(ja, jb, &merged, &err), 0);
	assert_true(cJSON_Compare(merged, jboth, 1));
	assert_int_equal(num(merged, "anon_vma_rwsem.write.hold.count"), 200);
	cJSON_Delete(merged);

	/* a report written before page_table_lock existed merges as if it held none */
	cJSON_DeleteItemFromObjectCaseSensitive(jb, "page_table_lock");
	assert_int_equal(locks_json_merge(ja, jb, &merged, &err), 0);
	assert_true(cJSON_Compare(merged, jboth, 1));
	assert_int_equal(num(merged, "page_table_lock.write.hold.count"), 0);
	cJSON_Delete(merged);

	/* a damaged block is named, not merged */
	cJSON_DeleteItemFromObjectCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(jb, "vma_lock"),
						 "read"),
		"trylock_failed");
	assert_int_equal(locks_json_merge(ja, jb, &merged, &err), -1);
	assert_null(merged);
	assert_non_null(strstr(err.msg, "vma_lock.read"));
	assert_non_null(strstr(err.msg, "trylock_failed"));
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	cJSON_Delete(jboth);
	locks_destroy(a);
	locks_destroy(b);
	locks_destroy(both);
}

/*
 * Calibration recovers known costs: 3000 holds whose length is exactly
 * sum(cost_i x work_i) plus +-0.1 % noise; the non-negative least-squares fit
 * must land within 2 % of every cost, a feature never seen keeps its prior,
 * and a feature whose true cost is 0 is not driven negative.
 */
static void test_calibration_fit(void **state)
{
	static const double truth[LOCKS_CF_NR] = {
		[LOCKS_CF_LOCK] = 25,       [LOCKS_CF_AV_ALLOC] = 70,  [LOCKS_CF_AV_FREE] = 0,
		[LOCKS_CF_AVC_LINK] = 95,   [LOCKS_CF_AVC_UNLINK] = 80, [LOCKS_CF_PTE_COPY] = 45,
		[LOCKS_CF_PT_TABLE] = 600,  [LOCKS_CF_VMA_COPY] = 150, [LOCKS_CF_BASE] = 900,
	};
	double prior[LOCKS_CF_NR], fit[LOCKS_CF_NR];
	bool fitted[LOCKS_CF_NR];
	struct locks_calib *c = calloc(1, sizeof(*c));
	uint64_t seed = 7;
	int i, k;

	(void)state;
	assert_non_null(c);
	for (k = 0; k < LOCKS_CF_NR; k++)
		prior[k] = 1000 + k;
	for (i = 0; i < 3000; i++) {
		double x[LOCKS_CF_NR] = { 0 }, y = 0;

		for (k = 0; k < LOCKS_CF_NR; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			if (k == LOCKS_CF_FOLIO_REWRITE)
				continue; /* eager never rewrites folios */
			x[k] = k == LOCKS_CF_BASE ? 1 : (double)((seed >> 33) % 50);
			if (k == LOCKS_CF_PTE_COPY)
				x[k] *= 20;
			y += truth[k] * x[k];
		}
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		y *= 1 + ((double)((seed >> 33) % 2001) - 1000) / 1000000; /* +-0.1 % */
		locks_calib_add(c, x, y);
	}
	locks_calib_fit(c, prior, 10, fit, fitted);
	for (k = 0; k < LOCKS_CF_NR; k++) {
		if (k == LOCKS_CF_FOLIO_REWRITE) {
			assert_true(fit[k] == prior[k]);
			assert_false(fitted[k]);
			continue;
		}
		assert_true(fitted[k]);
		assert_true(fit[k] >= 0);
		if (fit[k] < truth[k] * 0.98 - 1 || fit[k] > truth[k] * 1.02 + 1) {
			fprintf(stderr, "%s: fit %.2f, truth %.2f\n",
				locks_calib_feature_name((enum locks_calib_feature)k), fit[k], truth[k]);
			fail();
		}
	}
	assert_int_equal(c->samples, 3000);
	/*
	 * A feature that is a copy of another (every sample: one AVC unlink per
	 * AV free) cannot be told apart: it keeps its prior, and the other takes
	 * the sum.
	 */
	memset(c, 0, sizeof(*c));
	for (i = 0; i < 500; i++) {
		double x[LOCKS_CF_NR] = { 0 };

		x[LOCKS_CF_BASE] = 1;
		x[LOCKS_CF_AVC_UNLINK] = x[LOCKS_CF_AV_FREE] = 1 + i % 7;
		locks_calib_add(c, x, 900 + (80 + 40) * x[LOCKS_CF_AVC_UNLINK]);
	}
	prior[LOCKS_CF_AV_FREE] = 40;
	locks_calib_fit(c, prior, 10, fit, fitted);
	assert_true(fitted[LOCKS_CF_AVC_UNLINK]);
	assert_false(fitted[LOCKS_CF_AV_FREE]);
	assert_true(fit[LOCKS_CF_AV_FREE] == 40);
	/* the prior's share is taken out first: 120 - 40 per unlink, 900 per hold */
	assert_int_equal((uint64_t)(fit[LOCKS_CF_AVC_UNLINK] + 0.5), 80);
	assert_int_equal((uint64_t)(fit[LOCKS_CF_BASE] + 0.5), 900);
	/* too few samples: every prior kept */
	locks_calib_fit(c, prior, 1000000, fit, NULL);
	assert_memory_equal(fit, prior, sizeof(fit));
	free(c);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(locks_class_name(LOCKS_ANON_VMA), "anon_vma_rwsem");
	assert_string_equal(locks_class_name(LOCKS_MMAP), "mmap_lock");
	assert_string_equal(locks_mode_name(LOCKS_WRITE), "write");
	assert_string_equal(locks_why_name(LOCKS_WHY_RMAP_WALK), "rmap_walk");
	assert_string_equal(locks_why_name(LOCKS_WHY_NR), "?");
}

/*
 * The section log re-simulated at the replay's own costs gives the replay's
 * waits and failed trylocks exactly, with and without compaction (a log of
 * 2000 sections folds the single-CPU clusters of instances that went quiet
 * a second before); doubling a cost that only the waiting holds use lengthens the
 * waits.  Sections: 3 instances, 2 CPUs, 1 in 5 a trylock retried blocking
 * when it fails (as av_lock does).
 */
static void run_log(uint64_t max, struct locks_resim *base, uint64_t *wait, uint64_t *tryfail,
		    struct locks_resim *dbl)
{
	struct locks_recost rc = { .walk_ns = 40 };
	struct avm_err err = { "" };
	struct locks *l = NULL;
	uint64_t x = 12345;

	rc.rmap.ns[LOCKS_OP_LOCK] = 20;
	rc.rmap.ns[LOCKS_OP_FOLIO_REWRITE] = 15;
	assert_int_equal(locks_create(&l, &err), 0);
	locks_set_costs(l, &rc);
	assert_int_equal(locks_log_enable(l, max, &err), 0);
	for (int i = 0; i < 2500; i++) {
		struct locks_section s = { .cls = LOCKS_ANON_VMA, .why = LOCKS_WHY_FORK };

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		s.mode = (x >> 20) & 1;
		/* instance 1 is busy on both CPUs; 2 (CPU 0) and 3 (CPU 1) stop after 1000 */
		s.instance = i < 1000 ? 1 + ((x >> 22) % 3) : 1;
		s.cpu = s.instance == 2 ? 0 : s.instance == 3 ? 1 : (x >> 21) & 1;
		s.trylock = ((x >> 30) % 5) == 0;
		s.start = (i < 1000 ? 0 : 1000000000ULL) + (uint64_t)i * 300 + ((x >> 33) % 400);
		s.work.n[LOCKS_OP_LOCK] = 1;
		s.work.n[LOCKS_OP_FOLIO_REWRITE] = (x >> 40) % 30;
		s.pt_walks = (x >> 50) % 3;
		s.len = locks_cost(&rc.rmap, &s.work, s.pt_walks * rc.walk_ns) + 7;
		if (locks_hold(l, &s, NULL) == 1 && (x >> 60) % 2) {
			s.trylock = false;
			locks_hold(l, &s, NULL);
		}
	}
	*wait = *tryfail = 0;
	for (int c = 0; c < LOCKS_CLASS_NR; c++)
		for (int m = 0; m < LOCKS_MODE_NR; m++) {
			struct locks_summary su;

			locks_summary(l, c, m, &su);
			*wait += su.wait_total_ns;
			*tryfail += su.trylock_failed;
		}
	assert_int_equal(locks_log_resim(l, &rc, base, &err), 0);
	rc.rmap.ns[LOCKS_OP_FOLIO_REWRITE] = 30;
	assert_int_equal(locks_log_resim(l, &rc, dbl, &err), 0);
	if (max < 2500) {
		struct locks_log_stats st;

		locks_log_stats(l, &st);
		assert_true(st.compactions > 0);
		assert_true(st.folded > 0);
		assert_true(st.unsimulated == 0);
	}
	locks_destroy(l);
}

static void test_log_resim(void **state)
{
	struct locks_resim a, a2, b, b2;
	uint64_t wait, tryfail, wait2, tryfail2;

	(void)state;
	run_log(1 << 20, &a, &wait, &tryfail, &a2);
	assert_true(wait > 0 && tryfail > 0);
	assert_true(a.wait_ns == wait);
	assert_true(a.trylock_failed == tryfail);
	assert_true(a2.wait_ns > a.wait_ns);
	/* compacted (instances 2 and 3 fold: one CPU each, quiet for 1 s): the same figures */
	run_log(2000, &b, &wait2, &tryfail2, &b2);
	assert_true(wait2 == wait && tryfail2 == tryfail);
	assert_true(b.wait_ns == wait);
	assert_true(b.trylock_failed == tryfail);
	assert_true(b2.wait_ns == a2.wait_ns);
	assert_true(b.hold_ns[LOCKS_ANON_VMA][LOCKS_WRITE] == a.hold_ns[LOCKS_ANON_VMA][LOCKS_WRITE]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hand_sequence),
		cmocka_unit_test(test_writer_chain),
		cmocka_unit_test(test_rcu_never_waits),
		cmocka_unit_test(test_quantiles),
		cmocka_unit_test(test_cost_model),
		cmocka_unit_test(test_bounded_instances),
		cmocka_unit_test(test_json_and_merge),
		cmocka_unit_test(test_calibration_fit),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_log_resim),
	};

	return cmocka_run_group_tests_name("locks", tests, NULL, NULL);
}
