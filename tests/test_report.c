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

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "locks.h"
#include "report.h"
#include "fleet.h"
#include "rmap_walk.h"
#include "track.h"

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
		.nmeta = sizeof(meta) / sizeof(meta[0]), .events = events, .lost_events = 0,
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
	assert_string_equal(at(r, "schema")->valuestring, "anonvma-report/3");
	assert_string_equal(at(r, "trace.file")->valuestring, "trace.db");
	assert_true(num(r, "trace.events") == 999);
	assert_true(num(r, "trace.lost_events") == 0);
	assert_true(cJSON_IsTrue(at(r, "trace.complete")));
	assert_string_equal(at(r, "trace.host.kernel_release")->valuestring, "6.18.44");
	assert_true(num(r, "trace.host.cpus") == 2); /* integers become numbers */
	assert_string_equal(at(r, "trace.host.thp_enabled")->valuestring, "madvise");
	/* reported apart, not repeated under host */
	assert_null(cJSON_GetObjectItem(at(r, "trace.host"), "schema_version"));
	assert_null(cJSON_GetObjectItem(at(r, "trace.host"), "events"));

	/* the five stable keys per object kind (docs/report.md) */
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

/* Give each report its own trace.id (its name), so the merge counts them as separate traces. */
static const cJSON *const *with_ids(cJSON **r, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cJSON *tr = cJSON_GetObjectItem(r[i], "trace");

		if (tr && !cJSON_GetObjectItem(tr, "id"))
			cJSON_AddStringToObject(tr, "id", names[i]);
	}
	return (const cJSON *const *)r;
}

/* Every operation and lock reason has a name, so no report carries a why_N key. */
static void test_every_operation_named(void **state)
{
	(void)state;
	for (int w = 0; w < MODEL_WHY_NR; w++) {
		const char *n = report_why_name((enum model_why)w);

		assert_non_null(n);
		assert_null(strstr(n, "why_"));
	}
	assert_string_equal(report_why_name(MODEL_WHY_MMAP), "mmap");
	for (int w = 0; w < LOCKS_WHY_NR; w++)
		assert_string_not_equal(locks_why_name((enum locks_why)w), "?");
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
	write_text("v9.json", "{\"schema\": \"anonvma-report/9\"}");
	expect_load_error("v9.json", "schema anonvma-report/9, this anonvma reads");
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
	assert_int_equal(fleet_merge(with_ids(r, names, sizeof(names) / sizeof(names[0])), names, 2, &m, &err), 0);
	assert_string_equal(at(m, "schema")->valuestring, "anonvma-fleet/3");
	assert_true(num(m, "hosts") == 2);
	assert_true(num(m, "trace.events") == 1000);
	assert_true(num(m, "trace.lost_events") == 0);
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
	/* from the 0.1-point histogram: within half a bin of the exact 7.5 */
	assert_true(fabs(num(m, "savings_distribution.p50") - 7.5) <= FLEET_BIN_PERCENT / 2 + 1e-9);
	assert_string_equal(at(m, "host_list")->child->next->child->valuestring, "b.json");
	/* a fleet that holds a trace already merged is refused (its host would count twice) */
	{
		const cJSON *again[2] = { r[0], m };
		cJSON *m2 = NULL;

		assert_int_equal(fleet_merge(again, names, 2, &m2, &err), -1);
		assert_non_null(strstr(err.msg, "b.json: holds trace a.json, already merged from a.json"));
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
	assert_int_equal(fleet_merge(with_ids(r, names, sizeof(names) / sizeof(names[0])), names, 2, &m, &err), -1);
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
	assert_int_equal(fleet_merge(with_ids(r, names, sizeof(names) / sizeof(names[0])), names, 2, &m, &err), 0);
	assert_true(num(m, "models.eager.page_tables.bytes_peak") == 4096 + 8192);
	assert_true(num(m, "models.eager.page_tables.levels.pte.allocs") == 4);
	assert_true(num(m, "arches.x86_64-4level") == 2);
	assert_null(cJSON_GetObjectItem(at(m, "models.lazy"), "page_tables"));
	cJSON_Delete(m);
	cJSON_Delete(r[0]);
	cJSON_Delete(r[1]);
}

/* ---- savings in context, the verdict, the merge of the arch sections ------------ */

/* A duration histogram of the given values, as every report section writes it. */
static cJSON *hist_ns(const uint64_t *v, size_t n)
{
	struct locks_hist *h = calloc(1, sizeof(*h));
	cJSON *j;

	assert_non_null(h);
	for (size_t i = 0; i < n; i++)
		locks_hist_add(h, v[i]);
	j = locks_hist_json(h, "ns");
	free(h);
	assert_non_null(j);
	return j;
}

static void add(cJSON *parent, const char *key, cJSON *item)
{
	struct avm_err err = { "" };

	if (report_add_section(parent, key, item, &err))
		fail_msg("%s", err.msg);
}

static cJSON *obj_at(cJSON *root, const char *path)
{
	return (cJSON *)at(root, path);
}

/*
 * A locks block whose simulated waiting totals wait_ns (a hold of wait_ns on
 * CPU 0, then one on CPU 1 at the same time waits for it: the rwsem rule of
 * locks.h) and with `tryfail` failed trylocks.
 */
static cJSON *locks_block_waits(uint64_t wait_ns, unsigned tryfail)
{
	struct locks_section a = { .cls = LOCKS_ANON_VMA, .mode = LOCKS_WRITE,
				   .why = LOCKS_WHY_FORK, .instance = 1, .cpu = 0, .start = 1000,
				   .len = wait_ns };
	struct locks_section b = a;
	struct avm_err err = { "" };
	struct locks *l = NULL;
	uint64_t w = 0;
	cJSON *j;

	b.cpu = 1;
	b.len = 10;
	assert_int_equal(locks_create(&l, &err), 0);
	if (wait_ns) {
		assert_int_equal(locks_hold(l, &a, NULL), 0);
		assert_int_equal(locks_hold(l, &b, &w), 0);
		assert_true(w == wait_ns);
	}
	for (unsigned i = 0; i < tryfail; i++)
		locks_trylock_failed(l, LOCKS_ANON_VMA, LOCKS_READ);
	j = locks_json(l, &err);
	assert_non_null(j);
	locks_destroy(l);
	return j;
}

/* models.<m>.fork_cost of `forks` forks, each costing ns (anon rmap part). */
static cJSON *fork_block(unsigned forks, uint64_t ns)
{
	cJSON *f = cJSON_CreateObject();
	uint64_t v[256];

	assert_true(forks <= 256);
	for (unsigned i = 0; i < forks; i++)
		v[i] = ns;
	cJSON_AddNumberToObject(f, "forks", forks);
	add(f, "anon_rmap", hist_ns(v, forks));
	add(f, "page_table_copy", hist_ns(v, forks));
	add(f, "total", hist_ns(v, forks));
	cJSON_AddNullToObject(f, "anon_rmap_share");
	return f;
}

/* The default rule (config_defaults): 20 %, +10 % and 1 us/s, 1/s, +10 % and 1 us, 10 / 100 forks, 0, 0. */
static struct report_thresholds thresholds;

static void thresholds_init(void)
{
	struct config c;

	config_defaults(&c);
	report_thresholds_from_config(&c, &thresholds);
}

/*
 * The verdict's report, over one second of trace: eager holds 1000 B of anon
 * rmap memory at the peak (600 anon_vma + 400 AVC, 1 B objects), waits 1000 ns
 * in all, fails no trylock, and has `forks` forks of eager_fork ns; lazy's
 * figures are the arguments.
 */
static cJSON *verdict_report_f(uint64_t lazy_rmap, uint64_t lazy_wait_ns, unsigned lazy_tryfail,
			       uint64_t eager_fork, uint64_t lazy_fork, unsigned forks)
{
	struct model_stats e, l;
	cJSON *r;

	memset(&e, 0, sizeof(e));
	for (int o = 0; o < MODEL_OBJ_NR; o++)
		e.obj_size[o] = 1;
	l = e;
	e.obj[MODEL_OBJ_ANON_VMA].live_peak = 600;
	e.obj[MODEL_OBJ_AVC].live_peak = 400;
	l.obj[MODEL_OBJ_ANON_VMA].live_peak = lazy_rmap;
	e.bytes_peak = 1000;
	l.bytes_peak = lazy_rmap;
	r = build(&e, &l, 10);
	cJSON_SetNumberValue(obj_at(r, "trace.duration_ns"), 1e9);
	add(obj_at(r, "models.eager"), "locks", locks_block_waits(1000, 0));
	add(obj_at(r, "models.lazy"), "locks", locks_block_waits(lazy_wait_ns, lazy_tryfail));
	add(obj_at(r, "models.eager"), "fork_cost", fork_block(forks, eager_fork));
	add(obj_at(r, "models.lazy"), "fork_cost", fork_block(forks, lazy_fork));
	return r;
}

static cJSON *verdict_report(uint64_t lazy_rmap, uint64_t lazy_wait_ns, unsigned lazy_tryfail,
			     uint64_t lazy_fork_ns, unsigned forks)
{
	return verdict_report_f(lazy_rmap, lazy_wait_ns, lazy_tryfail, 1000, lazy_fork_ns, forks);
}

/* Judge r under the default thresholds; the verdict (-1 undecided), with `reason` among its reasons. */
static int judge(cJSON *r, const char *reason)
{
	struct avm_err err = { "" };
	const cJSON *s, *p;
	bool found = false;

	if (report_verdict(r, &thresholds, &err))
		fail_msg("%s", err.msg);
	cJSON_ArrayForEach(s, at(r, "verdict.reasons"))
		found |= strstr(s->valuestring, reason) != NULL;
	if (!found) {
		char *t = cJSON_Print(at(r, "verdict.reasons"));

		fail_msg("no reason contains '%s': %s", reason, t);
	}
	p = at(r, "verdict.lazy_pays_off");
	return cJSON_IsNull(p) ? -1 : cJSON_IsTrue(p);
}

static const char *state_of(const cJSON *r, const char *crit)
{
	char path[64];

	snprintf(path, sizeof(path), "verdict.criteria.%s.state", crit);
	return at(r, path)->valuestring;
}

/*
 * Each criterion fails only beyond both its relative threshold and its floor
 * (docs/verdict.md).  Figures are per second of a 1 s trace.
 */
static void test_verdict_thresholds(void **state)
{
	struct { uint64_t rmap, wait; unsigned tryfail; uint64_t fork; int pays; const char *reason; } c[] = {
		/* saving: 100 * (1000 - 800) / 1000 = 20.0 % >= 20 %; 801 B: 19.9 % */
		{ 800, 1000, 0, 1000, 1, "lazy saves 20.0 % of the anon rmap memory" },
		{ 801, 1000, 0, 1000, 0, "saving FAILS: lazy saves 19.9 %" },
		/* waiting 1000 -> 2000 ns/s: +100 % but +1000 ns/s is not above the floor */
		{ 100, 2000, 0, 1000, 1, "lock waiting (simulated, all locks) passes" },
		/* 2001 ns/s: +100.1 % and +1001 ns/s, above both */
		{ 100, 2001, 0, 1000, 0, "lock waiting (simulated, all locks) FAILS" },
		/* one failed trylock per second: new, but not above the floor of 1/s */
		{ 100, 1000, 1, 1000, 1, "failed trylocks passes" },
		{ 100, 1000, 2, 1000, 0, "failed trylocks FAILS" },
		/* mean fork cost 1000 -> 2000 ns: +100 %, +1000 ns: at the floor, passes */
		{ 100, 1000, 0, 2000, 1, "mean anon rmap cost per fork passes" },
		{ 100, 1000, 0, 2001, 0, "mean anon rmap cost per fork FAILS" },
		/* lazy better everywhere */
		{ 100, 0, 0, 500, 1, "-50.0 %" },
	};

	(void)state;
	thresholds_init();
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		cJSON *r = verdict_report(c[i].rmap, c[i].wait, c[i].tryfail, c[i].fork, 20);

		if (judge(r, c[i].reason) != c[i].pays)
			fail_msg("case %zu: lazy_pays_off should be %d", i, c[i].pays);
		/* 20 forks: the mean is judged, the p99 is not (100 forks) */
		assert_string_equal(state_of(r, "fork_p99"), "not_judged");
		cJSON_Delete(r);
	}
	/* the figures and thresholds are in the verdict */
	{
		cJSON *r = verdict_report(801, 2001, 0, 1000, 20);

		assert_int_equal(judge(r, "needs at least 20 %"), 0);
		assert_true(fabs(num(r, "verdict.criteria.saving.lazy") - 19.9) < 1e-9);
		assert_true(fabs(num(r, "verdict.criteria.lock_wait.percent") - 100.1) < 1e-9);
		assert_true(num(r, "verdict.criteria.lock_wait.delta") == 1001);
		assert_true(num(r, "verdict.thresholds.min_saving_percent") == 20);
		assert_true(num(r, "verdict.thresholds.lock_wait_floor_ns_per_s") == 1000);
		assert_true(num(r, "verdict.thresholds.max_fork_cost_regression_percent") == 10);
		cJSON_Delete(r);
	}
}

/*
 * A 20 ns shift of the fork cost (p99 and mean: every fork 100 -> 120 ns,
 * +20 %, above the 10 % threshold) does not decide the verdict: it is below
 * the 1000 ns floor.  A 2000 ns shift does, at the p99 too (200 forks).
 */
static void test_verdict_small_shift(void **state)
{
	cJSON *r;

	(void)state;
	thresholds_init();
	r = verdict_report_f(100, 1000, 0, 100, 120, 200);
	assert_int_equal(judge(r, "p99 anon rmap cost per fork passes"), 1);
	assert_true(fabs(num(r, "verdict.criteria.fork_p99.percent") - 20.0) < 1e-9);
	assert_string_equal(state_of(r, "fork_mean"), "pass");
	cJSON_Delete(r);
	r = verdict_report_f(100, 1000, 0, 100, 2100, 200);
	assert_int_equal(judge(r, "p99 anon rmap cost per fork FAILS"), 0);
	cJSON_Delete(r);
}

/* Three forks never decide the fork criteria, whatever they cost. */
static void test_verdict_three_forks(void **state)
{
	cJSON *r;

	(void)state;
	thresholds_init();
	r = verdict_report(100, 1000, 0, 1000000, 3);
	assert_int_equal(judge(r, "mean anon rmap cost per fork not judged: 3 forks, judged from "
				  "10 forks up"), 1);
	assert_string_equal(state_of(r, "fork_mean"), "not_judged");
	assert_string_equal(state_of(r, "fork_p99"), "not_judged");
	cJSON_Delete(r);
}

/* Lost events, an incomplete trace or skipped events: undecided (null), whatever else. */
static void test_verdict_undecided(void **state)
{
	cJSON *r;

	(void)state;
	thresholds_init();
	r = verdict_report(100, 1000, 0, 1000, 20);
	cJSON_SetNumberValue(obj_at(r, "trace.lost_events"), 1);
	assert_int_equal(judge(r, "undecided: 1 events were lost"), -1);
	assert_true(cJSON_IsTrue(at(r, "verdict.undecided")));
	/* the criteria are still reported */
	assert_string_equal(state_of(r, "saving"), "pass");
	/* a share allowed in the config decides again */
	thresholds.max_lost_share = 0.5;
	assert_int_equal(judge(r, "saving passes"), 1);
	thresholds_init();
	cJSON_SetNumberValue(obj_at(r, "trace.lost_events"), 0);
	cJSON_ReplaceItemInObject(obj_at(r, "trace"), "complete", cJSON_CreateFalse());
	assert_int_equal(judge(r, "undecided: the trace is incomplete"), -1);
	cJSON_ReplaceItemInObject(obj_at(r, "trace"), "complete", cJSON_CreateTrue());
	cJSON_SetNumberValue(obj_at(r, "trace.skipped_events"), 3);
	assert_int_equal(judge(r, "undecided: 3 events were skipped"), -1);
	cJSON_Delete(r);
}

/* Missing sections: the verdict names the criterion it could not judge. */
static void test_verdict_not_judged(void **state)
{
	cJSON *r;

	(void)state;
	thresholds_init();
	/* no forks */
	r = verdict_report(100, 1000, 0, 99999, 0);
	assert_int_equal(judge(r, "not judged: no fork copied an address space"), 1);
	cJSON_Delete(r);
	/* no locks (no arch): not judged, the verdict rests on the rest */
	r = verdict_report(100, 1000, 0, 1000, 20);
	cJSON_DeleteItemFromObject(obj_at(r, "models.lazy"), "locks");
	assert_int_equal(judge(r, "lock waiting (simulated, all locks) not judged: no locks section"), 1);
	assert_string_equal(cJSON_GetArrayItem(at(r, "verdict.not_judged"), 0)->valuestring,
			    "lock_wait");
	cJSON_Delete(r);
	/* a trace that spans no time: no rate */
	r = verdict_report(100, 1000, 0, 1000, 20);
	cJSON_SetNumberValue(obj_at(r, "trace.duration_ns"), 0);
	assert_int_equal(judge(r, "the trace spans no time"), 1);
	cJSON_Delete(r);
	r = verdict_report(100, 1000, 0, 1000, 20);
	cJSON_DeleteItemFromObject(obj_at(r, "models.eager"), "fork_cost");
	assert_int_equal(judge(r, "no fork_cost section"), 1);
	cJSON_Delete(r);
	/* nothing to save: cannot pay off */
	r = verdict_report(0, 1000, 0, 1000, 20);
	cJSON_Delete(cJSON_DetachItemFromObject(obj_at(r, "savings.anon_rmap"), "percent"));
	assert_int_equal(judge(r, "saving not judged"), 0);
	cJSON_Delete(r);
	/* one model only: no savings, no verdict */
	{
		struct model_stats e;
		struct avm_err err = { "" };

		eager_stats(&e);
		r = build(&e, NULL, 1);
		assert_int_equal(report_finish(r, NULL, &err), 0);
		assert_null(cJSON_GetObjectItem(r, "verdict"));
		cJSON_Delete(r);
	}
}

/* The text summary of r, in text (fails the test if it does not fit). */
static void summary_text(const cJSON *r, char *text, size_t len)
{
	struct avm_err err = { "" };
	FILE *f = fmemopen(text, len, "w");
	long n;

	assert_non_null(f);
	assert_int_equal(report_summary(r, f, &err), 0);
	n = ftell(f);
	fclose(f);
	assert_true(n >= 0 && (size_t)n < len);
	text[n] = '\0';
}

/*
 * Savings in context, by hand (eager_stats / lazy_stats above):
 *   anon rmap  eager 8*104 + 18*64 = 1984 B, lazy 104 + 2*64 = 232 B:
 *              saved 1752 B = 88.306... %
 *   mm metadata (page tables 8192 B in both): eager 6000 + 8192 = 14192 B,
 *              lazy 5100 + 8192 = 13292 B: saved 900 B = 6.3416... %
 *   host RAM   900 B of 1 GiB = 8.38e-5 %
 */
static void test_savings_in_context(void **state)
{
	struct avm_err err = { "" };
	struct model_stats e, l;
	cJSON *r;

	(void)state;
	eager_stats(&e);
	lazy_stats(&l);
	r = build(&e, &l, 1);
	/* as report_build leaves it: no page tables yet, host RAM unknown */
	assert_true(num(r, "savings.anon_rmap.eager_bytes_peak") == 1984);
	assert_true(num(r, "savings.anon_rmap.lazy_bytes_peak") == 232);
	assert_true(num(r, "savings.anon_rmap.bytes") == 1752);
	assert_true(fabs(num(r, "savings.anon_rmap.percent") - 100.0 * 1752 / 1984) < 1e-9);
	assert_true(num(r, "savings.mm_metadata.eager_bytes_peak") == 6000);
	assert_true(cJSON_IsFalse(at(r, "savings.mm_metadata.page_tables")));
	assert_true(cJSON_IsNull(at(r, "savings.host_ram.mem_bytes")));
	assert_true(cJSON_IsNull(at(r, "savings.host_ram.percent")));
	/* the sections arrive, report_finish recomputes */
	add(obj_at(r, "models.eager"), "page_tables", cJSON_Parse("{\"bytes_peak\": 8192}"));
	add(obj_at(r, "models.lazy"), "page_tables", cJSON_Parse("{\"bytes_peak\": 8192}"));
	add(obj_at(r, "trace.host"), "mem_bytes", cJSON_CreateNumber(1 << 30));
	assert_int_equal(report_finish(r, NULL, &err), 0);
	assert_true(num(r, "savings.mm_metadata.eager_bytes_peak") == 14192);
	assert_true(num(r, "savings.mm_metadata.lazy_bytes_peak") == 13292);
	assert_true(num(r, "savings.mm_metadata.bytes") == 900);
	assert_true(fabs(num(r, "savings.mm_metadata.percent") - 100.0 * 900 / 14192) < 1e-9);
	assert_true(cJSON_IsTrue(at(r, "savings.mm_metadata.page_tables")));
	assert_true(num(r, "savings.host_ram.mem_bytes") == 1 << 30);
	assert_true(num(r, "savings.host_ram.bytes") == 900);
	assert_true(fabs(num(r, "savings.host_ram.percent") - 100.0 * 900 / (1 << 30)) < 1e-15);
	/* the summary keeps two significant digits of a share that small, not "0.0 %" */
	{
		char text[16384];

		summary_text(r, text, sizeof(text));
		assert_non_null(strstr(text, "(900 B) is 8.4e-05 % of 1.0 GiB"));
	}
	/* the per-kind savings are untouched, the verdict is there (88.3 % >= 20 %) */
	assert_true(num(r, "savings.total.peak.bytes") == 900);
	assert_true(cJSON_IsTrue(at(r, "verdict.lazy_pays_off")));
	/* a saving that is a cost is still set against the host's RAM (negative) */
	cJSON_SetNumberValue(obj_at(r, "models.lazy.bytes_peak_total"), 6000 + 1024);
	assert_int_equal(report_finish(r, NULL, &err), 0);
	assert_true(num(r, "savings.host_ram.bytes") == -1024);
	assert_true(num(r, "savings.host_ram.percent") == -100.0 * 1024 / (1 << 30));
	/* page tables of one model only: left out of both, and flagged */
	cJSON_DeleteItemFromObject(obj_at(r, "models.lazy"), "page_tables");
	assert_int_equal(report_finish(r, NULL, &err), 0);
	assert_true(num(r, "savings.mm_metadata.eager_bytes_peak") == 6000);
	assert_true(cJSON_IsFalse(at(r, "savings.mm_metadata.page_tables")));
	cJSON_Delete(r);
}

/* The summary prints savings in context, the verdict and its reasons. */
static void test_summary_verdict(void **state)
{
	struct avm_err err = { "" };
	cJSON *r = verdict_report(801, 1000, 0, 1000, 4);
	char text[16384];

	(void)state;
	add(r, "top_processes",
	    cJSON_Parse("[{\"pid\": 4242, \"eager_bytes_peak\": 1000, \"lazy_bytes_peak\": 200, "
			"\"saving_bytes\": 800, \"saving_percent\": 80}]"));
	assert_int_equal(report_finish(r, NULL, &err), 0);
	summary_text(r, text, sizeof(text));
	assert_non_null(strstr(text, "verdict: lazy does not pay off\n"));
	assert_non_null(strstr(text, "  - saving FAILS: lazy saves 19.9 % of the anon rmap memory"));
	assert_non_null(strstr(text, "  - mean anon rmap cost per fork not judged: 4 forks, judged "
				     "from 10 forks up (does not block)"));
	/* no sensitivity in a report built here (the replay adds it) */
	assert_non_null(strstr(text, "robustness: not computed"));
	assert_non_null(strstr(text, "anon rmap (anon_vma + anon_vma_chain) at peak: eager 1000 B, "
				     "lazy 801 B, saved 199 B (19.9 %)"));
	assert_non_null(strstr(text, "fork cost: 4 forks, whole fork p50 1000 ns, p99 1000 ns"));
	assert_non_null(strstr(text, "pid 4242"));
	cJSON_Delete(r);
	/* a trace without a fork that copies an mm says so instead of printing zeros */
	r = verdict_report(801, 1000, 0, 1000, 0);
	assert_int_equal(report_finish(r, NULL, &err), 0);
	summary_text(r, text, sizeof(text));
	assert_non_null(strstr(text, "fork cost: no fork copied an address space"));
	assert_null(strstr(text, "0 forks"));
	cJSON_Delete(r);
}

/* sum of two model_stats: what one replay of both hosts' traces together counts */
static void sum_stats(struct model_stats *c, const struct model_stats *a,
		      const struct model_stats *b)
{
	*c = *a;
	for (int o = 0; o < MODEL_OBJ_NR; o++) {
		c->obj[o].allocs += b->obj[o].allocs;
		c->obj[o].frees += b->obj[o].frees;
		c->obj[o].live += b->obj[o].live;
		c->obj[o].live_peak += b->obj[o].live_peak; /* separate machines: peaks add */
		c->obj[o].preexisting += b->obj[o].preexisting;
		for (int w = 0; w < MODEL_WHY_NR; w++) {
			c->allocs_by_why[o][w] += b->allocs_by_why[o][w];
			c->frees_by_why[o][w] += b->frees_by_why[o][w];
		}
	}
	c->bytes_peak += b->bytes_peak;
	c->bytes_live += b->bytes_live;
	c->upgrades += b->upgrades;
	c->folio_rewrites += b->folio_rewrites;
	c->pinned_vmas_peak += b->pinned_vmas_peak;
}

/* Holds of host `h` (0, 1) for model `m` (0 eager, 1 lazy) into l: distinct instances, no overlap. */
static void host_holds(struct locks *l, int h, int m)
{
	for (uint64_t i = 0; i < 20; i++) {
		struct locks_section s = {
			.cls = i % 3 ? LOCKS_ANON_VMA : LOCKS_MMAP, .mode = i % 2 ? LOCKS_READ
										  : LOCKS_WRITE,
			.why = LOCKS_WHY_FORK, .instance = 1000 * (uint64_t)h + i, .cpu = (uint32_t)h,
			.start = 1000000 * (uint64_t)h + 1000 * i,
			.len = 50 + 37 * i * (uint64_t)(h + 1) + 100 * (uint64_t)m,
		};

		assert_int_equal(locks_hold(l, &s, NULL), 0);
	}
}

/* Forks of host h, model m: 3 + h forks of different anon rmap and page-table costs. */
static void host_forks(struct track *t, int h, int m)
{
	for (uint64_t i = 0; i < 3 + (uint64_t)h; i++)
		track_fork(t, 200 + 90 * i + 300 * (uint64_t)m, 1000 + 500 * (uint64_t)h);
}

/* Walks of host h, model m: counts and histograms that differ per host and model. */
static void host_walks(struct rmap_walk_stats *w, int h, int m)
{
	w->walks = 10 + 5 * (uint64_t)h;
	for (int s = 0; s < RMAP_WALK_SOURCE_NR; s++)
		w->by_source[s] = (uint64_t)(s + h + m);
	w->unresolved_migration = (uint64_t)h;
	w->unresolved_ksm = 2;
	w->failed = (uint64_t)m;
	w->stale_vmas = 3 * (uint64_t)h;
	w->lazy_folio_walks = (uint64_t)m * 4;
	for (uint64_t i = 0; i < w->walks; i++) {
		locks_hist_add(&w->vmas_visited, 1 + i % (3 + (uint64_t)m));
		locks_hist_add(&w->hold, 100 + 40 * i * (uint64_t)(h + 1));
	}
}

static void sum_walks(struct rmap_walk_stats *c, const struct rmap_walk_stats *a,
		      const struct rmap_walk_stats *b)
{
	*c = *a;
	c->walks += b->walks;
	for (int s = 0; s < RMAP_WALK_SOURCE_NR; s++)
		c->by_source[s] += b->by_source[s];
	c->unresolved_migration += b->unresolved_migration;
	c->unresolved_ksm += b->unresolved_ksm;
	c->unresolved_thp += b->unresolved_thp;
	c->failed += b->failed;
	c->stale_vmas += b->stale_vmas;
	c->lazy_folio_walks += b->lazy_folio_walks;
	locks_hist_merge(&c->vmas_visited, &b->vmas_visited);
	locks_hist_merge(&c->hold, &b->hold);
}

/*
 * Merging the reports of two hosts gives, for every additive key, what one
 * report of both traces' totals says: counts, byte peaks (sums of per-host
 * peaks), lock, rmap-walk and fork-cost histograms and their quantiles
 * (and the fork cost's anon rmap share), page tables,
 * host RAM, and so the savings in context and the verdict recomputed from
 * them.
 */
static void test_merge_equals_total(void **state)
{
	static const char *const mnames[2] = { "eager", "lazy" };
	struct avm_err err = { "" };
	struct model_stats st[3][2];
	struct locks *lk[3][2];
	struct track *tk[3][2];
	static struct rmap_walk_stats rw[3][2];
	const double mem[3] = { 4.0 * (1 << 30), 8.0 * (1 << 30), 12.0 * (1 << 30) };
	const double pt[3] = { 8192, 20480, 28672 };
	const char *names[2] = { "a.json", "b.json" };
	cJSON *r[3], *m = NULL;

	(void)state;
	eager_stats(&st[0][0]);
	lazy_stats(&st[0][1]);
	eager_stats(&st[1][0]);
	lazy_stats(&st[1][1]);
	for (int o = 0; o < MODEL_OBJ_NR; o++) { /* host b: three times the objects */
		st[1][0].obj[o].allocs *= 3;
		st[1][0].obj[o].live_peak *= 3;
		st[1][1].obj[o].preexisting = 5;
	}
	st[1][0].bytes_peak *= 3;
	st[1][1].upgrades = 11;
	for (int k = 0; k < 2; k++)
		sum_stats(&st[2][k], &st[0][k], &st[1][k]);
	memset(rw, 0, sizeof(rw));
	for (int h = 0; h < 2; h++) /* walks of host h, model k; host 2 = both */
		for (int k = 0; k < 2; k++)
			host_walks(&rw[h][k], h, k);
	for (int k = 0; k < 2; k++)
		sum_walks(&rw[2][k], &rw[0][k], &rw[1][k]);
	for (int h = 0; h < 3; h++)
		for (int k = 0; k < 2; k++) {
			assert_int_equal(locks_create(&lk[h][k], &err), 0);
			assert_int_equal(track_create(NULL, &tk[h][k], &err), 0);
			for (int from = 0; from < 2; from++) /* host 2 = both traces */
				if (h == from || h == 2) {
					host_holds(lk[h][k], from, k);
					host_forks(tk[h][k], from, k);
				}
		}
	for (int h = 0; h < 3; h++) {
		r[h] = build(&st[h][0], &st[h][1], 100 * (uint64_t)(h + 1));
		add(obj_at(r[h], "trace.host"), "mem_bytes", cJSON_CreateNumber(mem[h]));
		for (int k = 0; k < 2; k++) {
			cJSON *mb = obj_at(obj_at(r[h], "models"), mnames[k]);
			char ptj[64];

			snprintf(ptj, sizeof(ptj), "{\"bytes_peak\": %.0f}", pt[h]);
			add(mb, "locks", locks_json(lk[h][k], &err));
			add(mb, "rmap_walks", rmap_walk_json(&rw[h][k], &err));
			add(mb, "fork_cost", track_fork_cost_json(tk[h][k], &err));
			add(mb, "page_tables", cJSON_Parse(ptj));
		}
		assert_int_equal(report_finish(r[h], NULL, &err), 0);
	}
	assert_int_equal(fleet_merge(with_ids(r, names, sizeof(names) / sizeof(names[0])), names, 2, &m, &err), 0);

	/* every additive key of the merged models = the total report's (object_size aside) */
	for (int k = 0; k < 2; k++) {
		cJSON *total = cJSON_Duplicate(at(at(r[2], "models"), mnames[k]), 1);

		for (int o = 0; o < MODEL_OBJ_NR; o++)
			cJSON_DeleteItemFromObject(cJSON_GetObjectItem(total, report_obj_name(o)),
						   "object_size");
		if (!cJSON_Compare(at(at(m, "models"), mnames[k]), total, 1)) {
			char *a = cJSON_Print(at(at(m, "models"), mnames[k])), *b = cJSON_Print(total);

			fail_msg("models.%s: merged\n%s\ntotal\n%s", mnames[k], a, b);
		}
		cJSON_Delete(total);
	}
	assert_true(num(m, "trace.events") == 100 + 200);
	assert_true(num(m, "trace.mem_bytes") == mem[2]);
	assert_true(num(m, "models.eager.locks.anon_vma_rwsem.write.hold.count") ==
		    2 * num(r[0], "models.eager.locks.anon_vma_rwsem.write.hold.count"));
	/* savings (in context too) and the verdict: recomputed from the sums, equal */
	assert_true(cJSON_Compare(at(m, "savings"), at(r[2], "savings"), 1));
	assert_true(cJSON_Compare(at(m, "verdict"), at(r[2], "verdict"), 1));
	assert_true(num(m, "savings.host_ram.mem_bytes") == mem[2]);
	/* judged: the saving; not: waits and trylocks (no trace span), fork mean and p99 (7 forks) */
	assert_int_equal(cJSON_GetArraySize(at(m, "verdict.not_judged")), 4);
	assert_true(num(m, "models.lazy.fork_cost.forks") == 3 + 4);
	assert_int_equal(cJSON_GetArraySize(at(m, "top_processes")), 0); /* always there */
	/* host counts per verdict */
	assert_true(num(m, "verdicts.pays_off") + num(m, "verdicts.does_not") == 2);
	assert_true(num(m, "verdicts.no_verdict") == 0);
	cJSON_Delete(m);
	/* a host without mem_bytes: the fleet's host RAM is unknown */
	cJSON_DeleteItemFromObject(obj_at(r[1], "trace.host"), "mem_bytes");
	assert_int_equal(fleet_merge(with_ids(r, names, sizeof(names) / sizeof(names[0])), names, 2, &m, &err), 0);
	assert_true(cJSON_IsNull(at(m, "trace.mem_bytes")));
	assert_true(cJSON_IsNull(at(m, "savings.host_ram.percent")));
	cJSON_Delete(m);
	for (int h = 0; h < 3; h++) {
		cJSON_Delete(r[h]);
		for (int k = 0; k < 2; k++) {
			locks_destroy(lk[h][k]);
			track_destroy(tk[h][k]);
		}
	}
}

/* The fleet's verdict counts, top processes across hosts, and mismatched thresholds. */
static void test_merge_verdicts_and_top(void **state)
{
	struct avm_err err = { "" };
	const char *names[3] = { "a.json", "b.json", "c.json" };
	cJSON *r[3], *m = NULL, *top;
	struct report_thresholds strict = thresholds;

	(void)state;
	thresholds_init();
	r[0] = verdict_report(100, 1000, 0, 1000, 4);  /* pays off */
	r[1] = verdict_report(900, 1000, 0, 1000, 4);  /* saves 10 %: does not */
	r[2] = verdict_report(100, 1000, 0, 1000, 4);
	for (int h = 0; h < 3; h++) {
		char tp[1024];
		size_t len = 0;

		/* host h: 5 processes saving 100 * (h + 1) * (5 - i) bytes */
		len += (size_t)snprintf(tp + len, sizeof(tp) - len, "[");
		for (int i = 0; i < 5; i++)
			len += (size_t)snprintf(tp + len, sizeof(tp) - len,
						"%s{\"pid\": %d, \"eager_bytes_peak\": 0, "
						"\"lazy_bytes_peak\": 0, \"saving_bytes\": %d, "
						"\"saving_percent\": null}", i ? "," : "",
						100 * h + i, 100 * (h + 1) * (5 - i));
		snprintf(tp + len, sizeof(tp) - len, "]");
		add(r[h], "top_processes", cJSON_Parse(tp));
		assert_int_equal(report_verdict(r[h], &thresholds, &err), 0);
	}
	cJSON_DeleteItemFromObject(r[2], "verdict"); /* an older report without one */
	if (fleet_merge(with_ids(r, names, sizeof(names) / sizeof(names[0])), names, 3, &m, &err))
		fail_msg("%s", err.msg);
	assert_true(num(m, "verdicts.pays_off") == 1);
	assert_true(num(m, "verdicts.does_not") == 1);
	assert_true(num(m, "verdicts.no_verdict") == 1);
	/* fleet: eager 3000 B, lazy 1100 B: 63.3 % saved, pays off */
	assert_true(cJSON_IsTrue(at(m, "verdict.lazy_pays_off")));
	assert_true(fabs(num(m, "verdict.criteria.saving.lazy") - 100.0 * 1900 / 3000) < 1e-9);
	/* top 10 of 15: 1500 (c), 1200 (c), 1000 (b), 900 (c), 800 (b) ... with the host named */
	top = obj_at(m, "top_processes");
	assert_int_equal(cJSON_GetArraySize(top), 10);
	assert_true(num(cJSON_GetArrayItem(top, 0), "saving_bytes") == 1500);
	assert_string_equal(at(cJSON_GetArrayItem(top, 0), "host")->valuestring, "c.json");
	assert_true(num(cJSON_GetArrayItem(top, 0), "pid") == 200);
	assert_true(num(cJSON_GetArrayItem(top, 1), "saving_bytes") == 1200);
	assert_true(num(cJSON_GetArrayItem(top, 2), "saving_bytes") == 1000);
	assert_string_equal(at(cJSON_GetArrayItem(top, 2), "host")->valuestring, "b.json");
	/* 600 (b), 600 (c), 500 (a), then 400 twice: equal savings keep the hosts' order */
	assert_true(num(cJSON_GetArrayItem(top, 8), "saving_bytes") == 400);
	assert_string_equal(at(cJSON_GetArrayItem(top, 8), "host")->valuestring, "a.json");
	assert_true(num(cJSON_GetArrayItem(top, 9), "saving_bytes") == 400);
	assert_string_equal(at(cJSON_GetArrayItem(top, 9), "host")->valuestring, "b.json");
	cJSON_Delete(m);
	/* hosts judged with different thresholds cannot share one fleet verdict */
	strict.max_fork_cost_regression_percent = 5;
	assert_int_equal(report_verdict(r[1], &strict, &err), 0);
	assert_int_equal(fleet_merge(with_ids(r, names, sizeof(names) / sizeof(names[0])), names, 3, &m, &err), -1);
	assert_null(m);
	assert_non_null(strstr(err.msg, "b.json: verdict threshold max_fork_cost_regression_percent "
					"is 5, a.json's is 10"));
	for (int h = 0; h < 3; h++)
		cJSON_Delete(r[h]);
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

/* a == b, numbers within a relative 1e-9 (a floating sum depends on the order of addition). */
static bool json_close(const cJSON *a, const cJSON *b, char *where, size_t len)
{
	const cJSON *x, *y;

	if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
		if (fabs(a->valuedouble - b->valuedouble) <= 1e-9 * fmax(1, fabs(a->valuedouble)))
			return true;
		snprintf(where, len, "%s: %.17g vs %.17g", a->string ? a->string : "[]",
			 a->valuedouble, b->valuedouble);
		return false;
	}
	if (cJSON_IsObject(a) != cJSON_IsObject(b) || cJSON_IsArray(a) != cJSON_IsArray(b) ||
	    cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
		snprintf(where, len, "%s: shape differs", a->string ? a->string : "[]");
		return false;
	}
	if (!cJSON_IsObject(a) && !cJSON_IsArray(a)) {
		if (cJSON_Compare(a, b, true))
			return true;
		snprintf(where, len, "%s: value differs", a->string ? a->string : "[]");
		return false;
	}
	for (x = a->child, y = b->child; x && y; x = x->next, y = y->next) {
		if (cJSON_IsObject(a) && strcmp(x->string, y->string)) {
			snprintf(where, len, "key %s vs %s", x->string, y->string);
			return false;
		}
		if (!json_close(x, y, where, len))
			return false;
	}
	return true;
}

/*
 * The merge is associative: two sites of two hosts each, merged, equal the
 * merge of the four hosts (every figure: sums, counts, min/max, the savings
 * histogram and its median, the top processes, the trace ids, the verdict);
 * a second report of one trace is skipped and counted as a duplicate.
 */
static void test_merge_associative(void **state)
{
	struct avm_err err = { "" };
	const char *names[4] = { "h1.json", "h2.json", "h3.json", "h4.json" };
	const char *site_names[2] = { "site1.json", "site2.json" };
	cJSON *r[4], *all = NULL, *s[2] = { NULL, NULL }, *tree = NULL, *dup = NULL;
	char where[256] = "";

	(void)state;
	thresholds_init();
	for (int h = 0; h < 4; h++) {
		char tp[512];

		r[h] = verdict_report(100 + 250 * (uint64_t)h, 1000 + 10 * (uint64_t)h, 0, 1000, 4);
		snprintf(tp, sizeof(tp), "[{\"pid\": %d, \"comm\": \"w%d\", \"exe\": \"/opt/x/w\", "
			 "\"eager_bytes_peak\": 0, \"lazy_bytes_peak\": 0, \"saving_bytes\": %d, "
			 "\"saving_percent\": null}, {\"pid\": 7, \"eager_bytes_peak\": 0, "
			 "\"lazy_bytes_peak\": 0, \"saving_bytes\": 500, \"saving_percent\": null}]",
			 10 + h, h, 100 * (h % 3));
		add(r[h], "top_processes", cJSON_Parse(tp));
		assert_int_equal(report_verdict(r[h], &thresholds, &err), 0);
	}
	if (fleet_merge(with_ids(r, names, 4), names, 4, &all, &err) ||
	    fleet_merge((const cJSON *const *)r, names, 2, &s[0], &err) ||
	    fleet_merge((const cJSON *const *)r + 2, names + 2, 2, &s[1], &err) ||
	    fleet_merge((const cJSON *const *)s, site_names, 2, &tree, &err))
		fail_msg("%s", err.msg);
	/* host_list names each host by its report, whoever merged it */
	if (!json_close(all, tree, where, sizeof(where)))
		fail_msg("merge of merges differs from the merge of all: %s", where);
	assert_true(num(tree, "hosts") == 4);
	assert_true(num(tree, "savings_distribution.hosts") == 4);
	assert_int_equal(cJSON_GetArraySize(at(tree, "trace_ids")), 4);
	/* ties (pid 7 saves 500 on every host) ordered by host label, then pid */
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(at(tree, "top_processes"), 0), "host")->valuestring, "h1.json");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(at(tree, "top_processes"), 1), "host")->valuestring, "h2.json");
	assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(at(tree, "top_processes"), 0), "pid")->valuedouble == 7);
	/* the same trace twice: counted once */
	{
		const cJSON *twice[3] = { r[0], r[1], r[0] };
		const char *tn[3] = { "h1.json", "h2.json", "h1-again.json" };

		if (fleet_merge(twice, tn, 3, &dup, &err))
			fail_msg("%s", err.msg);
		assert_true(num(dup, "hosts") == 2);
		assert_true(num(dup, "duplicates") == 1);
		assert_true(num(dup, "models.eager.bytes_peak_total") ==
			    num(s[0], "models.eager.bytes_peak_total"));
	}
	for (int h = 0; h < 4; h++)
		cJSON_Delete(r[h]);
	cJSON_Delete(all);
	cJSON_Delete(s[0]);
	cJSON_Delete(s[1]);
	cJSON_Delete(tree);
	cJSON_Delete(dup);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_and_values),
		cmocka_unit_test(test_every_operation_named),
		cmocka_unit_test(test_no_savings_without_lazy),
		cmocka_unit_test(test_percent_null_when_baseline_zero),
		cmocka_unit_test(test_write_and_load),
		cmocka_unit_test(test_bad_reports),
		cmocka_unit_test(test_merge_two),
		cmocka_unit_test(test_merge_associative),
		cmocka_unit_test(test_merge_mismatch),
		cmocka_unit_test(test_merge_sections),
		cmocka_unit_test(test_verdict_thresholds),
		cmocka_unit_test(test_verdict_not_judged),
		cmocka_unit_test(test_verdict_small_shift),
		cmocka_unit_test(test_verdict_three_forks),
		cmocka_unit_test(test_verdict_undecided),
		cmocka_unit_test(test_savings_in_context),
		cmocka_unit_test(test_summary_verdict),
		cmocka_unit_test(test_merge_equals_total),
		cmocka_unit_test(test_merge_verdicts_and_top),
	};

	return cmocka_run_group_tests_name("report", tests, setup, teardown);
}
