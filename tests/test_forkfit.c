/*
 * test_forkfit.c - the fork-latency fit and its rule (forkfit.h).
 *
 * Synthetic forks with known costs: latency = base + a*VMAs + b*AVCs +
 * c*PTEs + d*tables + Gaussian noise (fixed seed), plus a few preempted forks
 * that took a millisecond longer.  The fit must recover every cost within
 * tolerance and drop the preempted ones; the rule must refuse a degenerate
 * design (AVCs always twice the VMAs: the two costs cannot be separated), a
 * negative term, too few forks and a fit that explains almost nothing.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch.h"
#include "forkfit.h"
#include "locks.h"

/* deterministic generator: 64-bit LCG, Box-Muller for the noise */
static uint64_t rng = 42;

static double uniform(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
	double u = uniform(), v = uniform();

	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

struct truth {
	double c[FORKFIT_NR];
	double noise;   /* sigma, ns */
	int preempted;  /* forks that took 1 ms longer */
	bool avc_twice; /* AVCs = 2 x VMAs in every fork (degenerate) */
};

static void make(struct forkfit *f, const struct truth *t, int n)
{
	struct avm_err err = { "" };

	memset(f, 0, sizeof(*f));
	rng = 42;
	for (int i = 0; i < n; i++) {
		double x[FORKFIT_NR] = { 0 }, y;

		x[FORKFIT_VMA] = 10 + floor(uniform() * 200);
		x[FORKFIT_AVC] = t->avc_twice ? 2 * x[FORKFIT_VMA] : floor(uniform() * 300);
		x[FORKFIT_PTE] = floor(uniform() * 60000);
		x[FORKFIT_TABLE] = ceil(x[FORKFIT_PTE] / 512) + floor(uniform() * 8);
		y = t->c[FORKFIT_BASE];
		for (int j = 1; j < FORKFIT_NR; j++)
			y += t->c[j] * x[j];
		y += t->noise * gauss();
		if (i < t->preempted)
			y += 1e6;
		assert_int_equal(forkfit_add(f, x, y, &err), 0);
	}
}

static const struct truth kernelish = {
	.c = { [FORKFIT_BASE] = 30000, [FORKFIT_VMA] = 400, [FORKFIT_AVC] = 150,
	       [FORKFIT_PTE] = 40, [FORKFIT_TABLE] = 600 },
	.noise = 3000,
};

static void test_recovers_known_costs(void **state)
{
	struct truth t = kernelish;
	struct forkfit_rule rule;
	struct forkfit_result r;
	struct forkfit f;

	(void)state;
	t.preempted = 6;
	make(&f, &t, 300);
	forkfit_rule_default(&rule);
	forkfit_solve(&f, &rule, &r);
	assert_true(r.accepted);
	assert_string_equal(r.why, "");
	assert_int_equal(r.forks, 300);
	assert_int_equal(r.outliers, 6); /* 1 ms over 3 us noise: far past 6 sigma */
	assert_int_equal(r.used, 294);
	assert_true(r.r2 > 0.99);
	for (int j = 0; j < FORKFIT_NR; j++) {
		/*
		 * Within 4 standard errors, and the error bar itself is tight;
		 * tables follow PTEs / 512 up to a few, so their cost is the
		 * least well separated (as on a real trace).
		 */
		assert_true(r.identifiable[j]);
		assert_true(r.resolved[j]);
		assert_true(fabs(r.coef[j] - t.c[j]) < 4 * r.se[j]);
		assert_true(r.se[j] < (j == FORKFIT_TABLE ? 0.3 : 0.1) * t.c[j]);
	}
	/* residuals are the noise: median |N(0, 3000)| = 0.674 sigma = 2023 ns */
	assert_true(r.resid_median > 1500 && r.resid_median < 2600);
	assert_true(r.resid_p90 > r.resid_median);
	forkfit_free(&f);
}

static void test_degenerate_design_refused(void **state)
{
	struct truth t = kernelish;
	struct forkfit_rule rule;
	struct forkfit_result r;
	struct forkfit f;

	(void)state;
	t.avc_twice = true;
	make(&f, &t, 300);
	forkfit_rule_default(&rule);
	forkfit_solve(&f, &rule, &r);
	assert_false(r.accepted);
	assert_false(r.identifiable[FORKFIT_AVC]); /* taken after vma, so avc is the dependent one */
	assert_true(r.identifiable[FORKFIT_VMA]);
	assert_non_null(strstr(r.why, "the avc term cannot be told apart"));
	printf("  degenerate: %s\n", r.why);
	forkfit_free(&f);
}

static void test_negative_term_refused(void **state)
{
	struct truth t = kernelish;
	struct forkfit_rule rule;
	struct forkfit_result r;
	struct forkfit f;

	(void)state;
	t.c[FORKFIT_AVC] = -120;
	make(&f, &t, 300);
	forkfit_rule_default(&rule);
	forkfit_solve(&f, &rule, &r);
	assert_false(r.accepted);
	assert_true(r.coef[FORKFIT_AVC] < 0);
	assert_non_null(strstr(r.why, "the avc term is negative"));
	assert_null(strstr(r.why, "the pte term"));
	printf("  negative: %s\n", r.why);
	forkfit_free(&f);
}

static void test_too_few_and_poor_fits_refused(void **state)
{
	struct truth t = kernelish;
	struct forkfit_rule rule;
	struct forkfit_result r;
	struct forkfit f;

	(void)state;
	forkfit_rule_default(&rule);
	make(&f, &t, 12);
	forkfit_solve(&f, &rule, &r);
	assert_false(r.accepted);
	assert_non_null(strstr(r.why, "12 forks usable, the rule needs at least 20"));
	forkfit_free(&f);

	/* noise of 2 ms against effects of a few ms: R^2 well below 0.5 */
	t.noise = 2e6;
	make(&f, &t, 300);
	forkfit_solve(&f, &rule, &r);
	assert_false(r.accepted);
	assert_true(r.r2 < 0.5);
	assert_non_null(strstr(r.why, "is below 0.50"));
	forkfit_free(&f);

	memset(&f, 0, sizeof(f));
	forkfit_solve(&f, &rule, &r);
	assert_false(r.accepted);
	assert_non_null(strstr(r.why, "no fork with a measured latency"));
}

static void test_json(void **state)
{
	struct forkfit_rule rule;
	struct forkfit_result r;
	struct avm_err err = { "" };
	struct forkfit f;
	cJSON *j, *pte;

	(void)state;
	make(&f, &kernelish, 100);
	forkfit_rule_default(&rule);
	forkfit_solve(&f, &rule, &r);
	j = forkfit_json(&r, &err);
	assert_non_null(j);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "accepted")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "why")));
	pte = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "terms"), "pte");
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(pte, "low")) < 40);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(pte, "high")) > 40);
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "used")), 100);
	forkfit_print(&r, stdout);
	cJSON_Delete(j);
	forkfit_free(&f);
}

/*
 * The calibrated arch file: an accepted fork fit replaces pte_copy_ns,
 * table_ns and the AVC link (split 40 : 50 between avc_alloc_ns and
 * interval_tree_insert_ns, the priors of x86_64-4level), and the costs block
 * says so; a refused one replaces nothing (no holds either: every cost keeps
 * the shipped value and is an estimate).
 */
static void test_calibrated_file(void **state)
{
	struct arch a, b;
	struct avm_err err = { "" };
	struct locks_calib c;
	struct forkfit_result r;
	char dir[] = "/tmp/test_forkfitXXXXXX", yaml[64];
	cJSON *j, *pte;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	if (arch_load("x86_64-4level", NULL, &a, &err))
		fail_msg("%s", err.msg);
	assert_true(mkdtemp(dir) != NULL);
	snprintf(yaml, sizeof(yaml), "%s/fitted.yaml", dir);
	r.accepted = true;
	r.forks = r.used = 50;
	r.r2 = 0.9;
	for (int j2 = 0; j2 < FORKFIT_NR; j2++)
		r.identifiable[j2] = r.resolved[j2] = true;
	r.coef[FORKFIT_PTE] = 77;
	r.se[FORKFIT_PTE] = 2;
	r.coef[FORKFIT_TABLE] = 1234;
	r.coef[FORKFIT_AVC] = 360;
	assert_int_equal(arch_write_calibrated_fork(&a, &c, 10, &r, "t", yaml, &err), 0);
	if (arch_load(yaml, NULL, &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(b.cost.fork_pte_ns, 77);
	assert_int_equal(b.cost.fork_table_ns, 1234);
	assert_int_equal(b.rmap.ns[LOCKS_OP_AVC_ALLOC], 160);   /* 360 x 40 / 90 */
	assert_int_equal(b.rmap.ns[LOCKS_OP_TREE_INSERT], 200); /* 360 x 50 / 90 */
	assert_int_equal(b.rmap.ns[LOCKS_OP_FOLIO_REWRITE], a.rmap.ns[LOCKS_OP_FOLIO_REWRITE]);
	j = arch_calibrated_costs_json(&a, &c, 10, &r, &err);
	assert_non_null(j);
	pte = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "constants"), "fork.pte_copy_ns");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(pte, "from")), "fork_latencies");
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(pte, "low")) == 73);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(pte, "high")) == 81);
	cJSON_Delete(j);

	/* an unresolved term (its range reaches 0) is not written; the others are */
	r.resolved[FORKFIT_AVC] = false;
	assert_int_equal(arch_write_calibrated_fork(&a, &c, 10, &r, "t", yaml, &err), 0);
	if (arch_load(yaml, NULL, &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(b.cost.fork_pte_ns, 77);
	assert_int_equal(b.rmap.ns[LOCKS_OP_AVC_ALLOC], a.rmap.ns[LOCKS_OP_AVC_ALLOC]);
	assert_int_equal(b.rmap.ns[LOCKS_OP_TREE_INSERT], a.rmap.ns[LOCKS_OP_TREE_INSERT]);

	r.accepted = false;
	snprintf(r.why, sizeof(r.why), "R^2 0.100 is below 0.50");
	assert_int_equal(arch_write_calibrated_fork(&a, &c, 10, &r, "t", yaml, &err), 0);
	if (arch_load(yaml, NULL, &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(b.cost.fork_pte_ns, a.cost.fork_pte_ns);
	assert_int_equal(b.cost.fork_table_ns, a.cost.fork_table_ns);
	assert_int_equal(b.rmap.ns[LOCKS_OP_AVC_ALLOC], a.rmap.ns[LOCKS_OP_AVC_ALLOC]);
	j = arch_calibrated_costs_json(&a, &c, 10, &r, &err);
	assert_non_null(j);
	pte = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "constants"), "fork.pte_copy_ns");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(pte, "source")), "estimate");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
				    cJSON_GetObjectItem(j, "fork_fit"), "why")),
			    "R^2 0.100 is below 0.50");
	cJSON_Delete(j);
	unlink(yaml);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recovers_known_costs),
		cmocka_unit_test(test_degenerate_design_refused),
		cmocka_unit_test(test_negative_term_refused),
		cmocka_unit_test(test_too_few_and_poor_fits_refused),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_calibrated_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
