/*
 * test_report.c - the JSON report (src/report.c): keys and values from
 * hand-made model stats, savings computed by hand, the atomic write and the
 * checked load, and the fleet merge (totals of two reports = the sums of
 * their additive counts, savings recomputed from the sums).
 *
 * The stats below stand for a small replay:
 *   eager: anon_vma 10 allocs / 4 frees, peak 8 live (104 B each)
 *          AVC      20 / 5, peak 18 (64 B)      VMA 30 / 10, peak 25 (192 B)
 *          all three at the same moment: at most 6000 B; at the end
 *          6*104 + 15*64 + 20*192 = 5424 B
 *   lazy:  anon_vma 1 / 0, peak 1; AVC 2 / 0, peak 2; VMA 30 / 10, peak 26
 *          (a pinned root VMA); peak 5100 B; end 104 + 128 + 3840 = 4072 B
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"

static char dir[256];

static const char *tpath(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static void set_count(struct model_stats *s, enum model_obj o, uint64_t allocs, uint64_t frees,
		      uint64_t peak)
{
	s->obj[o].allocs = allocs;
	s->obj[o].frees = frees;
	s->obj[o].live = allocs - frees;
	s->obj[o].live_peak = peak;
}

static void eager_stats(struct model_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->obj_size[MODEL_OBJ_ANON_VMA] = 104;
	s->obj_size[MODEL_OBJ_AVC] = 64;
	s->obj_size[MODEL_OBJ_VMA] = 192;
	set_count(s, MODEL_OBJ_ANON_VMA, 10, 4, 8);
	set_count(s, MODEL_OBJ_AVC, 20, 5, 18);
	set_count(s, MODEL_OBJ_VMA, 30, 10, 25);
	s->allocs_by_why[MODEL_OBJ_ANON_VMA][MODEL_WHY_FAULT] = 7;
	s->allocs_by_why[MODEL_OBJ_ANON_VMA][MODEL_WHY_FORK] = 3;
	s->allocs_by_why[MODEL_OBJ_AVC][MODEL_WHY_SPLIT] = 2;
	s->frees_by_why[MODEL_OBJ_AVC][MODEL_WHY_EXIT] = 5;
	s->bytes_peak = 6000;
	s->bytes_live = 6 * 104 + 15 * 64 + 20 * 192;
}

static void lazy_stats(struct model_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->obj_size[MODEL_OBJ_ANON_VMA] = 104;
	s->obj_size[MODEL_OBJ_AVC] = 64;
	s->obj_size[MODEL_OBJ_VMA] = 192;
	set_count(s, MODEL_OBJ_ANON_VMA, 1, 0, 1);
	set_count(s, MODEL_OBJ_AVC, 2, 0, 2);
	set_count(s, MODEL_OBJ_VMA, 30, 10, 26);
	s->bytes_peak = 5100;
	s->bytes_live = 104 + 128 + 3840;
	s->upgrades = 3;
	s->folio_rewrites = 50;
	s->pinned_vmas_peak = 1;
}

static const struct report_meta meta[] = {
	{ "schema_version", "1" }, { "kernel_release", "6.18.44" }, { "arch", "x86_64" },
	{ "cpus", "2" },           { "events", "999" },           { "complete", "1" },
	{ "thp_enabled", "madvise" },
};

static cJSON *build(const struct model_stats *eager, const struct model_stats *lazy,
		    uint64_t events)
{
	struct report_model models[2] = {
		{ .name = "eager", .stats = eager },
		{ .name = "lazy", .stats = lazy, .lazy_figures = true },
	};
	struct report_input in = {
		.trace_path = "/some/where/trace.db", .meta = meta,
		.nmeta = sizeof(meta) / sizeof(meta[0]), .events = events, .lost_events = 2,
		.complete = true, .models = models, .nmodels = lazy ? 2 : 1,
	};
	struct avm_err err = { "" };
	cJSON *r = NULL;

	if (report_build(&in, &r, &err))
		fail_msg("%s", err.msg);
	return r;
}

/* The number at a dotted path ("models.eager.anon_vma.allocs"). */
static const cJSON *at(const cJSON *root, const char *path)
{
	char buf[256], *save = NULL, *tok;
	const cJSON *n = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && n; tok = strtok_r(NULL, ".", &save))
		n = cJSON_GetObjectItemCaseSensitive(n, tok);
	if (!n)
		fail_msg("missing key %s", path);
	return n;
}

static double num(const cJSON *root, const char *path)
{
	const cJSON *n = at(root, path);

	if (!cJSON_IsNumber(n))
		fail_msg("%s is not a number", path);
	return n->valuedouble;
}

static void test_keys_and_values(void **state)
{
	struct model_stats e, l;
	cJSON *r;

	(void)state;
	eager_stats(&e);
	lazy_stats(&l);
	r = build(&e, &l, 999);
	assert_string_equal(at(r, "schema")->valuestring, "anonvma-report/1");
	assert_string_equal(at(r, "trace.file")->valuestring, "trace.db");
	assert_true(num(r, "trace.events") == 999);
	assert_true(num(r, "trace.lost_events") == 2);
	assert_true(cJSON_IsTrue(at(r, "trace.complete")));
	assert_string_equal(at(r, "trace.host.kernel_release")->valuestring, "6.18.44");
	assert_true(num(r, "trace.host.cpus") == 2); /* integers become numbers */
	assert_string_equal(at(r, "trace.host.thp_enabled")->valuestring, "madvise");
	/* reported apart, not repeated under host */
	assert_null(cJSON_GetObjectItem(at(r, "trace.host"), "schema_version"));
	assert_null(cJSON_GetObjectItem(at(r, "trace.host"), "events"));

	/* the five stable keys of issue 2 per object kind */
	assert_true(num(r, "models.eager.anon_vma.allocs") == 10);
	assert_true(num(r, "models.eager.anon_vma.frees") == 4);
	assert_true(num(r, "models.eager.anon_vma.live_end") == 6);
	assert_true(num(r, "models.eager.anon_vma.live_peak") == 8);
	assert_true(num(r, "models.eager.anon_vma.bytes_peak") == 8 * 104);
	assert_true(num(r, "models.eager.anon_vma_chain.bytes_peak") == 18 * 64);
	assert_true(num(r, "models.eager.vm_area_struct.bytes_peak") == 25 * 192);
	assert_true(num(r, "models.eager.vm_area_struct.bytes_end") == 20 * 192);
	assert_true(num(r, "models.eager.bytes_peak_total") == 6000);
	assert_true(num(r, "models.eager.bytes_end_total") == 5424);
	assert_true(num(r, "models.eager.allocs_by_operation.anon_vma.fault") == 7);
	assert_true(num(r, "models.eager.allocs_by_operation.anon_vma.fork") == 3);
	assert_true(num(r, "models.eager.allocs_by_operation.anon_vma_chain.split") == 2);
	assert_true(num(r, "models.eager.frees_by_operation.anon_vma_chain.exit") == 5);
	assert_true(num(r, "models.eager.allocs_by_operation.anon_vma.exec") == 0);
	/* lazy-only figures appear for lazy only */
	assert_true(num(r, "models.lazy.upgrades") == 3);
	assert_true(num(r, "models.lazy.folio_rewrites") == 50);
	assert_true(num(r, "models.lazy.pinned_vmas_peak") == 1);
	assert_null(cJSON_GetObjectItem(at(r, "models.eager"), "upgrades"));

	/* savings = eager - lazy; percent of eager */
	assert_string_equal(at(r, "savings.baseline")->valuestring, "eager");
	assert_true(num(r, "savings.anon_vma.peak.bytes") == 8 * 104 - 104);
	assert_true(num(r, "savings.anon_vma.peak.percent") == 87.5);
	assert_true(num(r, "savings.anon_vma_chain.end.bytes") == 15 * 64 - 2 * 64);
	assert_true(num(r, "savings.vm_area_struct.peak.bytes") == -192); /* pinned VMA costs */
	assert_true(num(r, "savings.vm_area_struct.peak.percent") == -4.0);
	assert_true(num(r, "savings.total.peak.bytes") == 900);
	assert_true(num(r, "savings.total.peak.percent") == 15.0);
	assert_true(num(r, "savings.total.end.bytes") == 5424 - 4072);
	cJSON_Delete(r);
}

static void test_no_savings_without_lazy(void **state)
{
	struct model_stats e;
	cJSON *r;

	(void)state;
	eager_stats(&e);
	r = build(&e, NULL, 5);
	assert_null(cJSON_GetObjectItem(r, "savings"));
	assert_null(cJSON_GetObjectItem(at(r, "models"), "lazy"));
	cJSON_Delete(r);
}

static void test_percent_null_when_baseline_zero(void **state)
{
	struct model_stats e, l;
	cJSON *r;

	(void)state;
	memset(&e, 0, sizeof(e));
	memset(&l, 0, sizeof(l));
	r = build(&e, &l, 0);
	assert_true(cJSON_IsNull(at(r, "savings.total.peak.percent")));
	assert_true(num(r, "savings.total.peak.bytes") == 0);
	cJSON_Delete(r);
}

static void test_write_and_load(void **state)
{
	struct avm_err err = { "" };
	struct model_stats e, l;
	cJSON *r, *back = NULL;
	struct stat st;
	FILE *f;

	(void)state;
	eager_stats(&e);
	lazy_stats(&l);
	r = build(&e, &l, 999);
	assert_int_equal(report_write(r, tpath("r.json"), &err), 0);
	assert_int_equal(stat(tpath("r.json"), &st), 0);
	assert_int_equal(report_load(tpath("r.json"), &back, &err), 0);
	assert_true(cJSON_Compare(r, back, 1));
	cJSON_Delete(back);
	/* the summary mentions every model and the saving */
	f = fopen(tpath("summary.txt"), "w+");
	assert_non_null(f);
	assert_int_equal(report_summary(r, f, &err), 0);
	{
		char text[8192];
		size_t n;

		rewind(f);
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		assert_non_null(strstr(text, "eager"));
		assert_non_null(strstr(text, "lazy"));
		assert_non_null(strstr(text, "87.5 %"));
		assert_non_null(strstr(text, "6.18.44"));
	}
	fclose(f);
	/* no temporary file left next to it */
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "ls %s | grep -q tmp", dir);
		assert_int_not_equal(system(cmd), 0);
	}
	/* writing into a folder that does not exist fails and names the file */
	assert_int_equal(report_write(r, tpath("nope/r.json"), &err), -1);
	assert_non_null(strstr(err.msg, "nope/r.json"));
	cJSON_Delete(r);
}

static void write_text(const char *name, const char *text)
{
	FILE *f = fopen(tpath(name), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void expect_load_error(const char *name, const char *want)
{
	struct avm_err err = { "" };
	cJSON *r = NULL;

	assert_int_equal(report_load(tpath(name), &r, &err), -1);
	assert_null(r);
	if (!strstr(err.msg, want))
		fail_msg("'%s' does not contain '%s'", err.msg, want);
	assert_non_null(strstr(err.msg, name));
	assert_null(strchr(err.msg, '\n'));
}

static void test_bad_reports(void **state)
{
	(void)state;
	write_text("garbage.json", "{\n\"schema\": \"anonvma-report/1\",\n oops\n}");
	expect_load_error("garbage.json", "garbage.json:3: not valid JSON");
	write_text("empty.json", "");
	expect_load_error("empty.json", "empty file");
	write_text("noschema.json", "{\"models\": {}}");
	expect_load_error("noschema.json", "no \"schema\"");
	write_text("v2.json", "{\"schema\": \"anonvma-report/2\"}");
	expect_load_error("v2.json", "schema anonvma-report/2, this anonvma reads");
	write_text("nokey.json",
		   "{\"schema\": \"anonvma-report/1\", \"trace\": {\"events\": 1, "
		   "\"lost_events\": 0}, \"models\": {\"eager\": {\"anon_vma\": {}}}}");
	expect_load_error("nokey.json", "models.eager.anon_vma.allocs missing");
	expect_load_error("missing.json", "No such file");
}

static void test_merge_two(void **state)
{
	struct avm_err err = { "" };
	struct model_stats e1, l1, e2, l2;
	cJSON *r[2], *m = NULL;
	const char *names[2] = { "a.json", "b.json" };

	(void)state;
	eager_stats(&e1);
	lazy_stats(&l1);
	/* host b: twice the objects of host a, but lazy saves nothing there */
	eager_stats(&e2);
	for (int o = 0; o < MODEL_OBJ_NR; o++) {
		e2.obj[o].allocs *= 2;
		e2.obj[o].frees *= 2;
		e2.obj[o].live *= 2;
		e2.obj[o].live_peak *= 2;
	}
	e2.bytes_peak = 12000;
	e2.bytes_live = 2 * 5424;
	l2 = e2;
	r[0] = build(&e1, &l1, 999);
	r[1] = build(&e2, &l2, 1);
	assert_int_equal(report_merge((const cJSON *const *)r, names, 2, &m, &err), 0);
	assert_string_equal(at(m, "schema")->valuestring, "anonvma-fleet/1");
	assert_true(num(m, "hosts") == 2);
	assert_true(num(m, "trace.events") == 1000);
	assert_true(num(m, "trace.lost_events") == 4);
	/* additive totals */
	assert_true(num(m, "models.eager.anon_vma.allocs") == 10 + 20);
	assert_true(num(m, "models.eager.anon_vma.live_peak") == 8 + 16);
	assert_true(num(m, "models.eager.vm_area_struct.bytes_peak") == 25 * 192 * 3);
	assert_true(num(m, "models.eager.allocs_by_operation.anon_vma.fault") == 14);
	assert_true(num(m, "models.lazy.anon_vma.allocs") == 1 + 20);
	assert_true(num(m, "models.lazy.upgrades") == 3); /* host b: eager stats, no upgrades */
	assert_true(num(m, "models.eager.bytes_peak_total") == 18000);
	assert_null(cJSON_GetObjectItem(at(m, "models.eager.anon_vma"), "object_size"));
	/* savings of the totals: (6000 + 12000) - (5100 + 12000) */
	assert_true(num(m, "savings.total.peak.bytes") == 900);
	assert_true(num(m, "savings.total.peak.percent") == 5.0);
	/* distribution over hosts: 15 % and 0 % */
	assert_true(num(m, "savings_distribution.hosts") == 2);
	assert_true(num(m, "savings_distribution.min") == 0);
	assert_true(num(m, "savings_distribution.max") == 15);
	assert_true(num(m, "savings_distribution.p50") == 7.5);
	assert_string_equal(at(m, "host_list")->child->next->child->valuestring, "b.json");
	/* a fleet report cannot be merged again */
	{
		const cJSON *again[2] = { r[0], m };
		cJSON *m2 = NULL;

		assert_int_equal(report_merge(again, names, 2, &m2, &err), -1);
		assert_non_null(strstr(err.msg, "b.json: not a single-host report"));
	}
	cJSON_Delete(m);
	cJSON_Delete(r[0]);
	cJSON_Delete(r[1]);
}

static void test_merge_mismatch(void **state)
{
	struct avm_err err = { "" };
	struct model_stats e, l;
	cJSON *r[2], *m = NULL;
	const char *names[2] = { "both.json", "eager-only.json" };

	(void)state;
	eager_stats(&e);
	lazy_stats(&l);
	r[0] = build(&e, &l, 1);
	r[1] = build(&e, NULL, 1);
	assert_int_equal(report_merge((const cJSON *const *)r, names, 2, &m, &err), -1);
	assert_null(m);
	assert_non_null(strstr(err.msg, "eager-only.json: replayed models differ"));
	cJSON_Delete(r[0]);
	cJSON_Delete(r[1]);
}

/* Sections other modules own are merged by their owners' merges (arch.h, locks.h). */
static void test_merge_sections(void **state)
{
	struct avm_err err = { "" };
	struct model_stats e, l;
	cJSON *r[2], *m = NULL;
	const char *names[2] = { "a.json", "b.json" };

	(void)state;
	eager_stats(&e);
	lazy_stats(&l);
	for (int i = 0; i < 2; i++) {
		cJSON *eager, *pt, *arch;

		r[i] = build(&e, &l, 10);
		eager = cJSON_GetObjectItem(cJSON_GetObjectItem(r[i], "models"), "eager");
		pt = cJSON_Parse(i ? "{\"bytes_peak\": 8192, \"levels\": {\"pte\": {\"allocs\": 3}}}"
				   : "{\"bytes_peak\": 4096, \"levels\": {\"pte\": {\"allocs\": 1}}}");
		arch = cJSON_Parse("{\"name\": \"x86_64-4level\"}");
		assert_int_equal(report_add_section(eager, "page_tables", pt, &err), 0);
		assert_int_equal(report_add_section(r[i], "arch", arch, &err), 0);
	}
	assert_int_equal(report_merge((const cJSON *const *)r, names, 2, &m, &err), 0);
	assert_true(num(m, "models.eager.page_tables.bytes_peak") == 4096 + 8192);
	assert_true(num(m, "models.eager.page_tables.levels.pte.allocs") == 4);
	assert_true(num(m, "arches.x86_64-4level") == 2);
	assert_null(cJSON_GetObjectItem(at(m, "models.lazy"), "page_tables"));
	cJSON_Delete(m);
	cJSON_Delete(r[0]);
	cJSON_Delete(r[1]);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_report.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_and_values),
		cmocka_unit_test(test_no_savings_without_lazy),
		cmocka_unit_test(test_percent_null_when_baseline_zero),
		cmocka_unit_test(test_write_and_load),
		cmocka_unit_test(test_bad_reports),
		cmocka_unit_test(test_merge_two),
		cmocka_unit_test(test_merge_mismatch),
		cmocka_unit_test(test_merge_sections),
	};

	return cmocka_run_group_tests_name("report", tests, setup, teardown);
}
