/*
 * report.c - the JSON report, its text summary and the fleet merge; see
 * report.h for the API and docs/report.md for every key.
 *
 * Data layout.  A report is a cJSON tree:
 *   { "schema": "anonvma-report/3",
 *     "trace":   { file, events, lost_events, complete, host: {meta...} },
 *     "models":  { <name>: model block },
 *     "savings": { baseline, model, <kind>: {peak, end}, total: {peak, end},
 *                  anon_rmap, mm_metadata, host_ram },
 *     "verdict": { lazy_pays_off, reasons, thresholds, figures, not_judged } }
 * A model block holds, per object kind (anon_vma, anon_vma_chain,
 * vm_area_struct), {allocs, frees, live_end, live_peak, bytes_peak, bytes_end,
 * preexisting, object_size}, the allocations and frees by operation, the
 * simultaneous byte peak of all three kinds (bytes_peak_total) and, for lazy,
 * its cost counters.
 *
 * Savings are computed from two model blocks, never from model_stats, so
 * the same code serves a single report and a fleet merge (where the blocks
 * are sums over hosts): merging two reports gives exactly the savings of the
 * summed counts.  The savings in context (anon rmap, mm metadata with the
 * page tables, host RAM) need sections other modules attach after
 * report_build, so report_finish() recomputes them once everything is in.
 *
 * The verdict, likewise, reads only the report: savings.anon_rmap, and per
 * model the locks and fork_cost blocks (histograms in locks_hist_json form).
 * Each of its three figures is judged by one function that appends one
 * sentence to `reasons`; a figure whose section is absent is null and named
 * in `not_judged`.  The fleet merge sums the blocks, merges the histograms
 * through their owners, then runs the very same savings and verdict code.
 *
 * Writing goes through outfile.h: a temporary file in the target's folder,
 * then rename() (readers see either the previous file or the whole new one,
 * never a prefix), or straight through a device or pipe.  Every string in a
 * report may come from a trace, so the text summary is built in memory and
 * reaches its stream through outfile_escape().
 */
#include "report.h"

#include "arch.h"
#include "locks.h"
#include "outfile.h"
#include "rmap_walk.h"
#include "track.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const report_obj_names[MODEL_OBJ_KINDS] = {
	[MODEL_OBJ_ANON_VMA] = "anon_vma",
	[MODEL_OBJ_AVC] = "anon_vma_chain",
	[MODEL_OBJ_VMA] = "vm_area_struct",
	[MODEL_OBJ_COW_CONTEXT] = "cow_context",
	[MODEL_OBJ_REMAP] = "remap",
	[MODEL_OBJ_REMAP_ARRAY] = "remap_array",
};

static const char *const report_why_names[] = {
	[MODEL_WHY_FAULT] = "fault",   [MODEL_WHY_FORK] = "fork",     [MODEL_WHY_SPLIT] = "split",
	[MODEL_WHY_MERGE] = "merge",   [MODEL_WHY_MREMAP] = "mremap", [MODEL_WHY_UNMAP] = "unmap",
	[MODEL_WHY_EXIT] = "exit",     [MODEL_WHY_EXEC] = "exec",     [MODEL_WHY_MMAP] = "mmap",
};
/*
 * Every operation has a name: a MODEL_WHY_* added after the last entry without
 * one fails this assert, one added in the middle is refused at report time
 * (never a "why_N" key); docs/report.schema.json lists the names.
 */
_Static_assert(sizeof(report_why_names) / sizeof(report_why_names[0]) == MODEL_WHY_NR,
	       "report_why_names: one name per enum model_why");

/* Per-kind keys; the first five are the stable ones (docs/report.md). */
static const char *const report_count_keys[] = {
	"allocs", "frees", "live_end", "live_peak", "bytes_peak", "bytes_end", "preexisting",
};
#define REPORT_NCOUNT (sizeof(report_count_keys) / sizeof(report_count_keys[0]))
#define REPORT_NREQUIRED 5

/* Model-level counters that add up across hosts. */
static const char *const report_model_sums[] = {
	"bytes_peak_total", "bytes_end_total", "upgrades", "folio_rewrites", "pinned_vmas_peak",
};
#define REPORT_NMODEL_SUMS (sizeof(report_model_sums) / sizeof(report_model_sums[0]))

const char *report_obj_name(enum model_obj o)
{
	return (unsigned)o < MODEL_OBJ_KINDS ? report_obj_names[o] : "?";
}

const char *report_why_name(enum model_why w)
{
	return (unsigned)w < MODEL_WHY_NR ? report_why_names[w] : NULL;
}

/* cJSON reports allocation failure as NULL from every constructor. */
static int report_oom(struct avm_err *err)
{
	return avm_errf(err, "report: out of memory");
}

static int report_num(cJSON *obj, const char *key, double v, struct avm_err *err)
{
	if (!cJSON_AddNumberToObject(obj, key, v))
		return report_oom(err);
	return 0;
}

const cJSON *report_path(const cJSON *obj, const char *dotted);
double report_number(const cJSON *obj, const char *key);

/* A number at obj.key, or -1 with "what.key missing" in err. */
static int report_get(const cJSON *obj, const char *key, const char *what, double *v,
		      struct avm_err *err)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(n))
		return avm_errf(err, "%s.%s missing or not a number", what, key);
	*v = n->valuedouble;
	return 0;
}

static const char *report_bytes(double b, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double a = fabs(b);
	int u = 0;

	while (a >= 1024 && u < 4) {
		a /= 1024;
		b /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f B", b);
	else
		snprintf(buf, len, "%.1f %s", b, units[u]);
	return buf;
}

static double report_val(const cJSON *obj, const char *key)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* The item at a dotted path of keys ("savings.total.peak"), NULL where one is missing. */
static const cJSON *report_at(const cJSON *obj, const char *path)
{
	char key[64];

	while (obj && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		obj = cJSON_GetObjectItemCaseSensitive(obj, key);
		path += n + (path[n] == '.');
	}
	return obj;
}

const cJSON *report_path(const cJSON *obj, const char *dotted)
{
	return report_at(obj, dotted);
}

double report_number(const cJSON *obj, const char *key)
{
	return report_val(obj, key);
}

/* ---- build ---------------------------------------------------------------- */

/* A meta value that is a decimal integer becomes a JSON number, anything else a string. */
static cJSON *report_meta_value(const char *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v && !*end && !errno && llabs(n) < (1LL << 53))
		return cJSON_CreateNumber((double)n);
	return cJSON_CreateString(v);
}

static cJSON *report_trace(const struct report_input *in, struct avm_err *err)
{
	static const char *const apart[] = { "schema_version", "events", "lost_events",
					     "complete" };
	cJSON *tr = cJSON_CreateObject(), *host;
	const char *base;

	if (!tr) {
		report_oom(err);
		return NULL;
	}
	base = in->trace_path ? strrchr(in->trace_path, '/') : NULL;
	base = base ? base + 1 : in->trace_path;
	if (!cJSON_AddStringToObject(tr, "file", base ? base : "") ||
	    report_num(tr, "events", (double)in->events, err) ||
	    report_num(tr, "lost_events", (double)in->lost_events, err) ||
	    report_num(tr, "skipped_events", (double)in->skipped_events, err) ||
	    report_num(tr, "duration_ns", (double)in->duration_ns, err) ||
	    !cJSON_AddBoolToObject(tr, "complete", in->complete) ||
	    !(host = cJSON_AddObjectToObject(tr, "host")))
		goto fail;
	for (size_t i = 0; i < in->nmeta; i++) {
		bool skip = false;
		cJSON *v;

		for (size_t k = 0; k < sizeof(apart) / sizeof(apart[0]); k++)
			skip |= !strcmp(in->meta[i].key, apart[k]);
		if (skip)
			continue;
		v = report_meta_value(in->meta[i].value);
		if (!v || !cJSON_AddItemToObject(host, in->meta[i].key, v)) {
			cJSON_Delete(v);
			goto fail;
		}
	}
	return tr;
fail:
	if (!err || !err->msg[0])
		report_oom(err);
	cJSON_Delete(tr);
	return NULL;
}

/*
 * models.lazy.policies: the lazy policies this world ran with, as the
 * config spells them (docs/config.md), so a report says which reading of
 * the series it judged.  Non-zero when out of memory.
 */
static int report_lazy_policies(cJSON *b, const struct config *c)
{
	cJSON *p = cJSON_AddObjectToObject(b, "policies");

	return !p || !cJSON_AddStringToObject(p, "mremap", config_lazy_mremap_name(c->lazy_mremap)) ||
	       !cJSON_AddStringToObject(p, "cow_owner", config_lazy_cow_owner_name(c->lazy_cow_owner)) ||
	       !cJSON_AddStringToObject(p, "pin", config_lazy_pin_name(c->lazy_pin)) ||
	       !cJSON_AddStringToObject(p, "walk_lock", config_lazy_walk_lock_name(c->lazy_walk_lock)) ||
	       !cJSON_AddStringToObject(p, "rewrite_lock",
					config_lazy_rewrite_lock_name(c->lazy_rewrite_lock)) ||
	       !cJSON_AddStringToObject(p, "adopt", config_lazy_adopt_name(c->lazy_adopt)) ||
	       !cJSON_AddStringToObject(p, "merge_roots",
					config_lazy_merge_roots_name(c->lazy_merge_roots)) ||
	       !cJSON_AddStringToObject(p, "tree_parent_reuse",
					config_lazy_tree_parent_reuse_name(c->lazy_tree_parent_reuse)) ||
	       !cJSON_AddStringToObject(p, "ksm", config_lazy_ksm_name(c->lazy_ksm));
}

/*
 * The COW context design's own figures (docs/report.md "models.cowctx"):
 * its object kinds with the common per-kind keys and their allocations by
 * operation, the context counters, the walk counters, the per-struct-page
 * field of policy folio_field, and its policies.
 */
static int report_cowctx_block(cJSON *b, const struct report_model *m, struct avm_err *err)
{
	const struct model_stats *s = m->stats;
	cJSON *by_a = cJSON_GetObjectItemCaseSensitive(b, "allocs_by_operation");
	cJSON *by_f = cJSON_GetObjectItemCaseSensitive(b, "frees_by_operation");
	cJSON *c, *wk, *ff, *p;

	for (int o = MODEL_OBJ_NR; o < MODEL_OBJ_KINDS; o++) {
		const struct obj_count *n = &s->obj[o];
		cJSON *k = cJSON_AddObjectToObject(b, report_obj_names[o]);
		cJSON *ka = by_a ? cJSON_AddObjectToObject(by_a, report_obj_names[o]) : NULL;
		cJSON *kf = by_f ? cJSON_AddObjectToObject(by_f, report_obj_names[o]) : NULL;
		double size = s->obj_size[o];

		if (!k || !ka || !kf || report_num(k, "allocs", (double)n->allocs, err) ||
		    report_num(k, "frees", (double)n->frees, err) ||
		    report_num(k, "live_end", (double)n->live, err) ||
		    report_num(k, "live_peak", (double)n->live_peak, err) ||
		    report_num(k, "bytes_peak", (double)n->live_peak * size, err) ||
		    report_num(k, "bytes_end", (double)n->live * size, err) ||
		    report_num(k, "preexisting", (double)n->preexisting, err) ||
		    report_num(k, "object_size", size, err))
			return report_oom(err);
		for (int w = 0; w < MODEL_WHY_NR; w++)
			if (report_why_names[w] &&
			    (report_num(ka, report_why_names[w], (double)s->allocs_by_why[o][w], err) ||
			     report_num(kf, report_why_names[w], (double)s->frees_by_why[o][w], err)))
				return -1;
	}
	c = cJSON_AddObjectToObject(b, "cowctx");
	wk = c ? cJSON_AddObjectToObject(c, "walks") : NULL;
	ff = cJSON_AddObjectToObject(b, "folio_field");
	if (!wk || !ff || report_num(c, "zombies_end", (double)s->ctx_zombies, err) ||
	    report_num(c, "zombies_peak", (double)s->ctx_zombies_peak, err) ||
	    report_num(c, "ref_atomics", (double)s->ctx_ref_atomics, err) ||
	    report_num(c, "reuse_moves", (double)s->ctx_moves, err) ||
	    report_num(c, "remap_stores", (double)s->remap_stores, err) ||
	    report_num(wk, "contexts", (double)s->walk_contexts, err) ||
	    report_num(wk, "dead_contexts", (double)s->walk_dead_contexts, err) ||
	    report_num(wk, "remap_lookups", (double)s->walk_remap_lookups, err) ||
	    report_num(wk, "shortcuts", (double)s->walk_shortcuts, err) ||
	    report_num(wk, "rcu_max_contexts", (double)s->walk_rcu_max, err) ||
	    report_num(wk, "mm_pin_atomics", (double)s->mm_pin_atomics, err) ||
	    report_num(wk, "missed_start", (double)s->walk_misses, err) ||
	    report_num(ff, "bytes_per_page", (double)s->folio_field_bytes, err))
		return report_oom(err);
	if (!m->cfg)
		return 0;
	p = cJSON_AddObjectToObject(b, "policies");
	if (!p)
		return report_oom(err);
	for (int i = 0; i < COWCTX_P_NR; i++)
		if (!cJSON_AddStringToObject(p, config_cowctx_key(i),
					     config_cowctx_value_name(i, m->cfg->cowctx[i])))
			return report_oom(err);
	return 0;
}

static cJSON *report_model_block(const struct report_model *m, struct avm_err *err)
{
	const struct model_stats *s = m->stats;
	cJSON *b = cJSON_CreateObject(), *by_a, *by_f;

	if (!b)
		goto fail;
	for (int o = 0; o < MODEL_OBJ_NR; o++) {
		const struct obj_count *c = &s->obj[o];
		cJSON *k = cJSON_AddObjectToObject(b, report_obj_names[o]);
		double size = s->obj_size[o];

		if (!k || report_num(k, "allocs", (double)c->allocs, err) ||
		    report_num(k, "frees", (double)c->frees, err) ||
		    report_num(k, "live_end", (double)c->live, err) ||
		    report_num(k, "live_peak", (double)c->live_peak, err) ||
		    report_num(k, "bytes_peak", (double)c->live_peak * size, err) ||
		    report_num(k, "bytes_end", (double)c->live * size, err) ||
		    report_num(k, "preexisting", (double)c->preexisting, err) ||
		    report_num(k, "object_size", size, err))
			goto fail;
	}
	by_a = cJSON_AddObjectToObject(b, "allocs_by_operation");
	by_f = cJSON_AddObjectToObject(b, "frees_by_operation");
	if (!by_a || !by_f)
		goto fail;
	for (int o = 0; o < MODEL_OBJ_NR; o++) {
		cJSON *ka = cJSON_AddObjectToObject(by_a, report_obj_names[o]);
		cJSON *kf = cJSON_AddObjectToObject(by_f, report_obj_names[o]);

		if (!ka || !kf)
			goto fail;
		for (int w = 0; w < MODEL_WHY_NR; w++) {
			const char *name = report_why_names[w];

			if (!name) { /* a reason model.h gained without a name: never a why_N key */
				avm_errf(err, "report: operation %d of enum model_why has no name "
					      "(report_why_names)", w);
				cJSON_Delete(b);
				return NULL;
			}
			if (report_num(ka, name, (double)s->allocs_by_why[o][w], err) ||
			    report_num(kf, name, (double)s->frees_by_why[o][w], err))
				goto fail;
		}
	}
	if (report_num(b, "bytes_peak_total", (double)s->bytes_peak, err) ||
	    report_num(b, "bytes_end_total", (double)s->bytes_live, err))
		goto fail;
	if (m->lazy_figures &&
	    (report_num(b, "upgrades", (double)s->upgrades, err) ||
	     report_num(b, "folio_rewrites", (double)s->folio_rewrites, err) ||
	     report_num(b, "pinned_vmas_peak", (double)s->pinned_vmas_peak, err)))
		goto fail;
	if (m->lazy_figures && m->cfg && report_lazy_policies(b, m->cfg))
		goto fail;
	if (m->cowctx_figures && report_cowctx_block(b, m, err))
		goto fail;
	return b;
fail:
	report_oom(err);
	cJSON_Delete(b);
	return NULL;
}

/* {"bytes": base - model, "percent": 100 * saved / base (null when base is 0)} */
static int report_saving(cJSON *parent, const char *key, double base, double model,
			 struct avm_err *err)
{
	cJSON *s = cJSON_AddObjectToObject(parent, key);

	if (!s || report_num(s, "bytes", base - model, err))
		return report_oom(err);
	if (base > 0) {
		if (report_num(s, "percent", 100.0 * (base - model) / base, err))
			return -1;
	} else if (!cJSON_AddNullToObject(s, "percent")) {
		return report_oom(err);
	}
	return 0;
}

/* {"eager_bytes_peak", "lazy_bytes_peak", "bytes": saved, "percent"}: a saving in context */
static cJSON *report_context_saving(cJSON *parent, const char *key, double base, double model,
				    struct avm_err *err)
{
	cJSON *s = cJSON_AddObjectToObject(parent, key);

	if (!s || report_num(s, "eager_bytes_peak", base, err) ||
	    report_num(s, "lazy_bytes_peak", model, err) ||
	    report_num(s, "bytes", base - model, err)) {
		report_oom(err);
		return NULL;
	}
	if (base > 0 ? report_num(s, "percent", 100.0 * (base - model) / base, err)
		     : !cJSON_AddNullToObject(s, "percent")) {
		report_oom(err);
		return NULL;
	}
	return s;
}

/* A number, or JSON null when v is NAN (unknown). */
static int report_num_or_null(cJSON *obj, const char *key, double v, struct avm_err *err)
{
	if (isnan(v))
		return cJSON_AddNullToObject(obj, key) ? 0 : report_oom(err);
	return report_num(obj, key, v, err);
}

/*
 * The per-struct-page field of the COW context design (policy folio_field):
 * bytes_per_page x the host's pages (RAM / page size); NAN when the RAM is
 * unknown, 0 without the field.
 */
static double report_folio_field_bytes(const cJSON *model, double mem_bytes)
{
	double per = report_val(cJSON_GetObjectItemCaseSensitive(model, "folio_field"),
				"bytes_per_page");

	if (per <= 0)
		return 0;
	return mem_bytes > 0 ? per * floor(mem_bytes / 4096) : NAN;
}

/*
 * The COW context design's anon-rmap bytes at their peaks: contexts, remap
 * nodes and arrays, and the folio field when the host's RAM is known (0 for
 * a model without them).
 */
static double report_cowctx_rmap_bytes(const cJSON *model, double mem_bytes)
{
	static const int kinds[] = { MODEL_OBJ_COW_CONTEXT, MODEL_OBJ_REMAP, MODEL_OBJ_REMAP_ARRAY };
	double b = 0, ff = report_folio_field_bytes(model, mem_bytes);

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		b += report_val(cJSON_GetObjectItemCaseSensitive(model, report_obj_names[kinds[i]]),
				"bytes_peak");
	return b + (isnan(ff) ? 0 : ff);
}

/*
 * Savings in context (docs/report.md "savings"): anon rmap = anon_vma +
 * anon_vma_chain (per-kind peaks added), mm metadata = the three kinds'
 * simultaneous peak + the page tables' peak (when both models have them),
 * host RAM = the total saving at the peak against mem_bytes.
 */
static int report_savings_context(cJSON *sv, const cJSON *baseline, const cJSON *model,
				  const double base_kind[MODEL_OBJ_NR],
				  const double model_kind[MODEL_OBJ_NR], double base_total,
				  double model_total, double mem_bytes, struct avm_err *err)
{
	const cJSON *bpt = report_at(baseline, "page_tables.bytes_peak");
	const cJSON *mpt = report_at(model, "page_tables.bytes_peak");
	bool pt = cJSON_IsNumber(bpt) && cJSON_IsNumber(mpt);
	cJSON *mm, *host, *ar;

	ar = report_context_saving(sv, "anon_rmap",
				   base_kind[MODEL_OBJ_ANON_VMA] + base_kind[MODEL_OBJ_AVC] +
				   report_cowctx_rmap_bytes(baseline, mem_bytes),
				   model_kind[MODEL_OBJ_ANON_VMA] + model_kind[MODEL_OBJ_AVC] +
				   report_cowctx_rmap_bytes(model, mem_bytes), err);
	if (!ar)
		return -1;
	/* the COW context design's per-struct-page field, its own line (policy folio_field) */
	if (cJSON_GetObjectItemCaseSensitive(model, "folio_field") &&
	    report_num_or_null(ar, "folio_field_bytes", report_folio_field_bytes(model, mem_bytes),
			       err))
		return -1;
	mm = report_context_saving(sv, "mm_metadata",
				   base_total + (pt ? bpt->valuedouble : 0),
				   model_total + (pt ? mpt->valuedouble : 0), err);
	if (!mm)
		return -1;
	if (!cJSON_AddBoolToObject(mm, "page_tables", pt))
		return report_oom(err);
	host = cJSON_AddObjectToObject(sv, "host_ram");
	if (!host || report_num_or_null(host, "mem_bytes", mem_bytes > 0 ? mem_bytes : NAN, err) ||
	    report_num(host, "bytes", base_total - model_total, err) ||
	    report_num_or_null(host, "percent",
			       mem_bytes > 0 ? 100.0 * (base_total - model_total) / mem_bytes : NAN,
			       err))
		return report_oom(err);
	return 0;
}

cJSON *report_savings(const cJSON *baseline, const cJSON *model, const char *baseline_name,
		      const char *model_name, double mem_bytes, struct avm_err *err)
{
	cJSON *sv = cJSON_CreateObject();
	char what[160];
	double bp = 0, mp = 0, be = 0, me = 0;
	double bkind[MODEL_OBJ_NR], mkind[MODEL_OBJ_NR];

	if (!sv || !cJSON_AddStringToObject(sv, "baseline", baseline_name) ||
	    !cJSON_AddStringToObject(sv, "model", model_name)) {
		report_oom(err);
		goto fail;
	}
	for (int o = 0; o < MODEL_OBJ_NR; o++) {
		const cJSON *bk = cJSON_GetObjectItemCaseSensitive(baseline, report_obj_names[o]);
		const cJSON *mk = cJSON_GetObjectItemCaseSensitive(model, report_obj_names[o]);
		cJSON *k = cJSON_AddObjectToObject(sv, report_obj_names[o]);

		if (!k) {
			report_oom(err);
			goto fail;
		}
		snprintf(what, sizeof(what), "models.%s.%s", baseline_name, report_obj_names[o]);
		if (report_get(bk, "bytes_peak", what, &bp, err) ||
		    report_get(bk, "bytes_end", what, &be, err))
			goto fail;
		snprintf(what, sizeof(what), "models.%s.%s", model_name, report_obj_names[o]);
		if (report_get(mk, "bytes_peak", what, &mp, err) ||
		    report_get(mk, "bytes_end", what, &me, err))
			goto fail;
		if (report_saving(k, "peak", bp, mp, err) || report_saving(k, "end", be, me, err))
			goto fail;
		bkind[o] = bp;
		mkind[o] = mp;
	}
	{
		cJSON *tot = cJSON_AddObjectToObject(sv, "total");

		if (!tot) {
			report_oom(err);
			goto fail;
		}
		snprintf(what, sizeof(what), "models.%s", baseline_name);
		if (report_get(baseline, "bytes_peak_total", what, &bp, err) ||
		    report_get(baseline, "bytes_end_total", what, &be, err))
			goto fail;
		snprintf(what, sizeof(what), "models.%s", model_name);
		if (report_get(model, "bytes_peak_total", what, &mp, err) ||
		    report_get(model, "bytes_end_total", what, &me, err))
			goto fail;
		if (report_saving(tot, "peak", bp, mp, err) || report_saving(tot, "end", be, me, err))
			goto fail;
	}
	if (report_savings_context(sv, baseline, model, bkind, mkind, bp, mp, mem_bytes, err))
		goto fail;
	return sv;
fail:
	cJSON_Delete(sv);
	return NULL;
}

/* Host RAM of a report (trace.host.mem_bytes) or of a fleet (trace.mem_bytes); -1 if unknown. */
double report_mem_bytes(const cJSON *root)
{
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "trace");
	const cJSON *m = report_at(tr, "host.mem_bytes");

	if (!cJSON_IsNumber(m))
		m = cJSON_GetObjectItemCaseSensitive(tr, "mem_bytes");
	return cJSON_IsNumber(m) && m->valuedouble > 0 ? m->valuedouble : -1;
}

/*
 * savings_by_model: { <model>: savings against eager } for every other model
 * of the report (docs/report.md), (re)computed in place; absent without eager
 * or without another model.
 */
static int report_savings_by_model(cJSON *root, const cJSON *models, struct avm_err *err)
{
	const cJSON *eager = cJSON_GetObjectItemCaseSensitive(models, "eager"), *m;
	cJSON *by = cJSON_CreateObject();

	if (!by)
		return report_oom(err);
	cJSON_ArrayForEach(m, models) {
		cJSON *sv;

		if (!eager || m == eager)
			continue;
		sv = report_savings(eager, m, "eager", m->string, report_mem_bytes(root), err);
		if (!sv || !cJSON_AddItemToObject(by, m->string, sv)) {
			cJSON_Delete(sv);
			cJSON_Delete(by);
			return sv ? report_oom(err) : -1;
		}
	}
	if (!by->child) {
		cJSON_Delete(by);
		cJSON_DeleteItemFromObjectCaseSensitive(root, "savings_by_model");
		return 0;
	}
	if (!cJSON_GetObjectItemCaseSensitive(root, "savings_by_model"))
		return report_add_section(root, "savings_by_model", by, err);
	if (!cJSON_ReplaceItemInObjectCaseSensitive(root, "savings_by_model", by)) {
		cJSON_Delete(by);
		return report_oom(err);
	}
	return 0;
}

/* (Re)compute savings (eager - lazy) when both models are in `models`; keeps its place. */
static int report_add_savings(cJSON *root, const cJSON *models, struct avm_err *err)
{
	const cJSON *eager = cJSON_GetObjectItemCaseSensitive(models, "eager");
	const cJSON *lazy = cJSON_GetObjectItemCaseSensitive(models, "lazy");
	cJSON *sv;

	if (report_savings_by_model(root, models, err))
		return -1;
	if (!eager || !lazy)
		return 0;
	sv = report_savings(eager, lazy, "eager", "lazy", report_mem_bytes(root), err);
	if (!sv)
		return -1;
	if (!cJSON_GetObjectItemCaseSensitive(root, "savings"))
		return report_add_section(root, "savings", sv, err);
	if (!cJSON_ReplaceItemInObjectCaseSensitive(root, "savings", sv)) {
		cJSON_Delete(sv);
		return report_oom(err);
	}
	return 0;
}

int report_build(const struct report_input *in, cJSON **out, struct avm_err *err)
{
	cJSON *root = cJSON_CreateObject(), *tr, *models;
	int ret = -1;

	*out = NULL;
	if (!root || !cJSON_AddStringToObject(root, "schema", REPORT_SCHEMA)) {
		report_oom(err);
		goto out;
	}
	tr = report_trace(in, err);
	if (!tr || report_add_section(root, "trace", tr, err))
		goto out;
	models = cJSON_AddObjectToObject(root, "models");
	if (!models) {
		report_oom(err);
		goto out;
	}
	for (size_t i = 0; i < in->nmodels; i++) {
		cJSON *b;

		if (cJSON_GetObjectItemCaseSensitive(models, in->models[i].name)) {
			avm_errf(err, "report: model %s given twice", in->models[i].name);
			goto out;
		}
		b = report_model_block(&in->models[i], err);
		if (!b || report_add_section(models, in->models[i].name, b, err))
			goto out;
	}
	if (report_add_savings(root, models, err))
		goto out;
	*out = root;
	root = NULL;
	ret = 0;
out:
	cJSON_Delete(root);
	return ret;
}

int report_add_section(cJSON *report, const char *key, cJSON *section, struct avm_err *err)
{
	if (!section)
		return report_oom(err);
	if (cJSON_GetObjectItemCaseSensitive(report, key)) {
		cJSON_Delete(section);
		return avm_errf(err, "report: section %s added twice", key);
	}
	if (!cJSON_AddItemToObject(report, key, section)) {
		cJSON_Delete(section);
		return report_oom(err);
	}
	return 0;
}

/* ---- verdict ------------------------------------------------------------------ */

void report_thresholds_from_config(const struct config *cfg, struct report_thresholds *t)
{
	t->min_saving_percent = cfg->min_saving_percent;
	t->max_lock_wait_regression_percent = cfg->max_lock_wait_regression_percent;
	t->lock_wait_floor_ns_per_s = cfg->lock_wait_floor_ns_per_s;
	t->trylock_floor_per_s = cfg->trylock_floor_per_s;
	t->max_fork_cost_regression_percent = cfg->max_fork_cost_regression_percent;
	t->fork_cost_floor_ns = cfg->fork_cost_floor_ns;
	t->min_forks_mean = cfg->min_forks_mean;
	t->min_forks_p99 = cfg->min_forks_p99;
	t->max_lost_share = cfg->max_lost_share;
	t->max_skipped_share = cfg->max_skipped_share;
}

/* The thresholds by their JSON name (verdict.thresholds), for writing and for the fleet check. */
void report_threshold_fields(struct report_thresholds *t, const char *names[],
				    double *fields[])
{
	static const char *const n[REPORT_NTHRESHOLDS] = {
		"min_saving_percent", "max_lock_wait_regression_percent",
		"lock_wait_floor_ns_per_s", "trylock_floor_per_s",
		"max_fork_cost_regression_percent", "fork_cost_floor_ns", "min_forks_mean",
		"min_forks_p99", "max_lost_share", "max_skipped_share",
	};
	double *f[REPORT_NTHRESHOLDS] = {
		&t->min_saving_percent, &t->max_lock_wait_regression_percent,
		&t->lock_wait_floor_ns_per_s, &t->trylock_floor_per_s,
		&t->max_fork_cost_regression_percent, &t->fork_cost_floor_ns, &t->min_forks_mean,
		&t->min_forks_p99, &t->max_lost_share, &t->max_skipped_share,
	};

	for (int i = 0; i < REPORT_NTHRESHOLDS; i++) {
		names[i] = n[i];
		fields[i] = f[i];
	}
}

static const char *report_ns(double ns, char *buf, size_t len)
{
	if (ns < 1e4)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1e7)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else if (ns < 1e10)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.1f s", ns / 1e9);
	return buf;
}

static const char *report_change(double pct, char *buf, size_t len)
{
	if (isinf(pct))
		snprintf(buf, len, "new: eager had none");
	else
		snprintf(buf, len, "%+.1f %%", pct);
	return buf;
}

/* Sum of wait.total_ns and of trylock_failed over every class and mode of a locks block. */
static void report_lock_waits(const cJSON *locks, double *wait, double *tryfail)
{
	const cJSON *c, *m;

	*wait = *tryfail = 0;
	cJSON_ArrayForEach(c, locks)
		cJSON_ArrayForEach(m, c) {
			*wait += report_val(cJSON_GetObjectItemCaseSensitive(m, "wait"), "total_ns");
			*tryfail += report_val(m, "trylock_failed");
		}
}

static void report_model_figures(const cJSON *m, struct verdict_model *f)
{
	const cJSON *locks = cJSON_GetObjectItemCaseSensitive(m, "locks");
	const cJSON *fc = cJSON_GetObjectItemCaseSensitive(m, "fork_cost");

	memset(f, 0, sizeof(*f));
	f->has_locks = cJSON_IsObject(locks);
	if (f->has_locks)
		report_lock_waits(locks, &f->wait_ns, &f->trylock_failed);
	f->has_fork = cJSON_IsObject(fc);
	if (f->has_fork) {
		const cJSON *ar = cJSON_GetObjectItemCaseSensitive(fc, "anon_rmap");

		f->forks = report_val(fc, "forks");
		f->fork_mean_ns = f->forks > 0 ? report_val(ar, "total_ns") / f->forks : 0;
		f->fork_p99_ns = report_val(ar, "p99_ns");
	}
}

int report_verdict_input(const cJSON *root, struct verdict_input *in, struct avm_err *err)
{
	const cJSON *sv = cJSON_GetObjectItemCaseSensitive(root, "savings");
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "trace");
	const cJSON *p = report_at(sv, "anon_rmap.percent");
	const cJSON *bname = cJSON_GetObjectItemCaseSensitive(sv, "baseline");
	const cJSON *mname = cJSON_GetObjectItemCaseSensitive(sv, "model");
	const cJSON *base, *model;

	memset(in, 0, sizeof(*in));
	base = cJSON_GetObjectItemCaseSensitive(models, cJSON_IsString(bname) ? bname->valuestring : "");
	model = cJSON_GetObjectItemCaseSensitive(models, cJSON_IsString(mname) ? mname->valuestring : "");
	if (!base || !model)
		return avm_errf(err, "verdict: savings.baseline / savings.model name no model of "
				     "the report");
	in->saving_percent = cJSON_IsNumber(p) ? p->valuedouble : NAN;
	in->duration_ns = report_val(tr, "duration_ns");
	in->events = report_val(tr, "events");
	in->lost_events = report_val(tr, "lost_events");
	in->skipped_events = report_val(tr, "skipped_events");
	in->complete = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(tr, "complete"));
	report_model_figures(base, &in->base);
	report_model_figures(model, &in->model);
	return 0;
}

/* What the verdict collects while it writes its sentences. */
struct report_judge {
	const struct report_thresholds *t;
	const struct verdict_input *in;
	const struct verdict_result *res;
	cJSON *reasons;
};

static int report_reason(struct report_judge *j, struct avm_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One reason: one readable sentence with its numbers and its threshold. */
static int report_reason(struct report_judge *j, struct avm_err *err, const char *fmt, ...)
{
	char buf[640];
	va_list ap;
	cJSON *s;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	s = cJSON_CreateString(buf);
	if (!s || !cJSON_AddItemToArray(j->reasons, s)) {
		cJSON_Delete(s);
		return report_oom(err);
	}
	return 0;
}

static const char *report_outcome(const struct verdict_crit_result *c)
{
	return c->state == VERDICT_FAIL ? "FAILS" : "passes";
}

static int report_reason_saving(struct report_judge *j, struct avm_err *err)
{
	const struct verdict_crit_result *c = &j->res->c[VERDICT_SAVING];

	if (c->state == VERDICT_NOT_JUDGED)
		return report_reason(j, err, "saving not judged: savings.anon_rmap.percent is null "
					     "(eager holds no anon rmap memory), so lazy cannot pay off");
	return report_reason(j, err, "saving %s: lazy saves %.1f %% of the anon rmap memory at "
				     "its peak (needs at least %g %%)", report_outcome(c),
			     c->lazy, j->t->min_saving_percent);
}

/* A cost criterion's sentence: figures, change, both thresholds, outcome. */
static int report_reason_cost(struct report_judge *j, enum verdict_crit k, const char *what,
			      const char *unit, double max_pct, double floor, struct avm_err *err)
{
	const struct verdict_crit_result *c = &j->res->c[k];
	char e[32], l[32], d[32], ch[32], fl[32];
	bool ns = !strcmp(unit, "ns") || !strcmp(unit, "ns/s");
	const char *per = strchr(unit, '/') ? "/s" : "";

	if (c->state == VERDICT_NOT_JUDGED) {
		if (k == VERDICT_FORK_MEAN || k == VERDICT_FORK_P99) {
			double forks = j->in->base.forks < j->in->model.forks ? j->in->base.forks :
										 j->in->model.forks;
			double need = k == VERDICT_FORK_MEAN ? j->t->min_forks_mean : j->t->min_forks_p99;

			if (j->in->base.has_fork && j->in->model.has_fork && forks == 0)
				return report_reason(j, err, "%s not judged: no fork copied an address "
							     "space (does not block)", what);
			if (j->in->base.has_fork && j->in->model.has_fork)
				return report_reason(j, err, "%s not judged: %.0f forks, judged from %g "
							     "forks up (does not block)", what, forks,
						     need);
		}
		return report_reason(j, err, "%s not judged: %s (does not block)", what, c->why_not);
	}
	if (ns) {
		report_ns(c->eager, e, sizeof(e));
		report_ns(c->lazy, l, sizeof(l));
		report_ns(fabs(c->delta), d, sizeof(d));
		report_ns(floor, fl, sizeof(fl));
	} else {
		snprintf(e, sizeof(e), "%.3g", c->eager);
		snprintf(l, sizeof(l), "%.3g", c->lazy);
		snprintf(d, sizeof(d), "%.3g", fabs(c->delta));
		snprintf(fl, sizeof(fl), "%g", floor);
	}
	return report_reason(j, err, "%s %s: eager %s%s, lazy %s%s (%s, %s%s%s); fails only above "
				     "both +%g %% and +%s%s", what, report_outcome(c), e, per, l, per,
			     report_change(c->percent, ch, sizeof(ch)), c->delta < 0 ? "-" : "+", d,
			     per, max_pct, fl, per);
}

static int report_reasons(struct report_judge *j, struct avm_err *err)
{
	const struct verdict_result *r = j->res;
	const struct report_thresholds *t = j->t;

	if (report_reason_saving(j, err) ||
	    report_reason_cost(j, VERDICT_LOCK_WAIT, "lock waiting (simulated, all locks)", "ns/s",
			       t->max_lock_wait_regression_percent, t->lock_wait_floor_ns_per_s, err) ||
	    report_reason_cost(j, VERDICT_TRYLOCK, "failed trylocks", "/s",
			       t->max_lock_wait_regression_percent, t->trylock_floor_per_s, err) ||
	    report_reason_cost(j, VERDICT_FORK_MEAN, "mean anon rmap cost per fork", "ns",
			       t->max_fork_cost_regression_percent, t->fork_cost_floor_ns, err) ||
	    report_reason_cost(j, VERDICT_FORK_P99, "p99 anon rmap cost per fork", "ns",
			       t->max_fork_cost_regression_percent, t->fork_cost_floor_ns, err))
		return -1;
	if ((r->undecided & VERDICT_UNDECIDED_LOST) &&
	    report_reason(j, err, "undecided: %.0f events were lost (%.3g %% of the trace, the "
				  "most allowed is %g %%)", j->in->lost_events,
			  100 * r->lost_share, 100 * t->max_lost_share))
		return -1;
	if ((r->undecided & VERDICT_UNDECIDED_INCOMPLETE) &&
	    report_reason(j, err, "undecided: the trace is incomplete (the recording did not "
				  "close normally)"))
		return -1;
	if ((r->undecided & VERDICT_UNDECIDED_SKIPPED) &&
	    report_reason(j, err, "undecided: %.0f events were skipped as unusable (%.3g %% of "
				  "the trace, the most allowed is %g %%)", j->in->skipped_events,
			  100 * r->skipped_share, 100 * t->max_skipped_share))
		return -1;
	return 0;
}

static int report_crit_json(cJSON *crit, const char *name, const struct verdict_crit_result *c,
			    struct avm_err *err)
{
	cJSON *o = cJSON_AddObjectToObject(crit, name);

	if (!o || !cJSON_AddStringToObject(o, "state", verdict_state_name(c->state)) ||
	    report_num_or_null(o, "eager", isfinite(c->eager) ? c->eager : NAN, err) ||
	    report_num_or_null(o, "lazy", isfinite(c->lazy) ? c->lazy : NAN, err) ||
	    report_num_or_null(o, "delta", isfinite(c->delta) ? c->delta : NAN, err) ||
	    report_num_or_null(o, "percent", isfinite(c->percent) ? c->percent : NAN, err))
		return report_oom(err);
	if (c->state == VERDICT_NOT_JUDGED && c->why_not &&
	    !cJSON_AddStringToObject(o, "why_not", c->why_not))
		return report_oom(err);
	return 0;
}

/* verdict.reported: what is shown but never judged (hold totals per mode, upgrades). */
static int report_reported(cJSON *v, const cJSON *models, struct avm_err *err)
{
	cJSON *rep = cJSON_AddObjectToObject(v, "reported"), *h;
	const cJSON *m;

	if (!rep || !(h = cJSON_AddObjectToObject(rep, "hold_ns")))
		return report_oom(err);
	cJSON_ArrayForEach(m, models) {
		const cJSON *locks = cJSON_GetObjectItemCaseSensitive(m, "locks"), *c;
		double w = 0, r = 0, rcu = 0;
		cJSON *o;

		if (!locks)
			continue;
		cJSON_ArrayForEach(c, locks) {
			double rd = report_val(report_at(c, "read.hold"), "total_ns");
			double wr = report_val(report_at(c, "write.hold"), "total_ns");

			if (!strcmp(c->string, "rcu")) {
				rcu += rd + wr;
			} else {
				r += rd;
				w += wr;
			}
		}
		o = cJSON_AddObjectToObject(h, m->string);
		if (!o || report_num(o, "write", w, err) || report_num(o, "read", r, err) ||
		    report_num(o, "rcu", rcu, err))
			return report_oom(err);
	}
	cJSON_ArrayForEach(m, models) {
		const cJSON *u = report_at(m, "fork_cost.upgrade");

		if (u && !cJSON_AddItemToObject(rep, "upgrade", cJSON_Duplicate(u, 1)))
			return report_oom(err);
	}
	return 0;
}

int report_verdict(cJSON *root, const struct report_thresholds *t, struct avm_err *err)
{
	const cJSON *sv = cJSON_GetObjectItemCaseSensitive(root, "savings");
	struct verdict_input in;
	struct verdict_result res;
	struct report_judge j = { .t = t, .in = &in, .res = &res };
	const char *names[REPORT_NTHRESHOLDS];
	double *fields[REPORT_NTHRESHOLDS];
	struct report_thresholds tc = *t;
	cJSON *v = NULL, *th, *crit, *nj;
	int ret = -1;

	cJSON_DeleteItemFromObjectCaseSensitive(root, "verdict");
	if (!sv)
		return 0;
	if (report_verdict_input(root, &in, err))
		return -1;
	verdict_judge(&in, t, &res);
	v = cJSON_CreateObject();
	j.reasons = cJSON_CreateArray();
	if (!v || !j.reasons) {
		report_oom(err);
		goto out;
	}
	if (!cJSON_AddItemToObject(v, "lazy_pays_off", res.pays < 0 ? cJSON_CreateNull() :
							cJSON_CreateBool(res.pays))) {
		report_oom(err);
		goto out;
	}
	if (report_reasons(&j, err))
		goto out;
	cJSON_AddItemToObject(v, "reasons", j.reasons);
	j.reasons = NULL;
	th = cJSON_AddObjectToObject(v, "thresholds");
	report_threshold_fields(&tc, names, fields);
	for (int i = 0; th && i < REPORT_NTHRESHOLDS; i++)
		if (report_num(th, names[i], *fields[i], err))
			goto out;
	crit = cJSON_AddObjectToObject(v, "criteria");
	nj = cJSON_AddArrayToObject(v, "not_judged");
	if (!th || !crit || !nj) {
		report_oom(err);
		goto out;
	}
	for (int i = 0; i < VERDICT_CRIT_NR; i++) {
		if (report_crit_json(crit, verdict_crit_name(i), &res.c[i], err))
			goto out;
		if (res.c[i].state == VERDICT_NOT_JUDGED &&
		    !cJSON_AddItemToArray(nj, cJSON_CreateString(verdict_crit_name(i)))) {
			report_oom(err);
			goto out;
		}
	}
	if (!cJSON_AddBoolToObject(v, "undecided", res.pays < 0) ||
	    report_num(v, "lost_share", res.lost_share, err) ||
	    report_num(v, "skipped_share", res.skipped_share, err) ||
	    report_reported(v, cJSON_GetObjectItemCaseSensitive(root, "models"), err) ||
	    !cJSON_AddNullToObject(v, "sensitivity") || !cJSON_AddNullToObject(v, "robust")) {
		report_oom(err);
		goto out;
	}
	ret = report_add_section(root, "verdict", v, err);
	v = NULL;
out:
	cJSON_Delete(j.reasons);
	cJSON_Delete(v);
	return ret;
}

int report_set_sensitivity(cJSON *root, cJSON *sensitivity, int robust, struct avm_err *err)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "verdict");

	if (!v) {
		cJSON_Delete(sensitivity);
		return 0;
	}
	if (!cJSON_ReplaceItemInObjectCaseSensitive(v, "sensitivity", sensitivity) ||
	    !cJSON_ReplaceItemInObjectCaseSensitive(v, "robust", robust < 0 ? cJSON_CreateNull() :
								     cJSON_CreateBool(robust)))
		return report_oom(err);
	return 0;
}

int report_update_savings(cJSON *report, struct avm_err *err)
{
	return report_add_savings(report, cJSON_GetObjectItemCaseSensitive(report, "models"), err);
}

/*
 * One criterion of verdict.lazy_vs_cowctx: {lazy, cowctx, better} where
 * better is the lower figure, "tie" within 5 % of the larger one or within
 * floor (the verdict's floor for that criterion).  *score: +1 lazy, -1
 * cowctx, 0 tie; the sentence goes to reasons.
 */
static int report_vs_crit(cJSON *by, cJSON *reasons, const char *name, const char *unit,
			  double lazy, double cowctx, double floor, int *score, struct avm_err *err)
{
	cJSON *c = cJSON_AddObjectToObject(by, name), *r;
	const char *better;
	char buf[256];

	*score = verdict_vs_crit(lazy, cowctx, floor);
	better = verdict_vs_name(*score);
	if (!c || report_num(c, "lazy", lazy, err) || report_num(c, "cowctx", cowctx, err) ||
	    !cJSON_AddStringToObject(c, "better", better))
		return report_oom(err);
	snprintf(buf, sizeof(buf), "%s: lazy %.0f %s, cowctx %.0f %s: %s%s", name, lazy, unit,
		 cowctx, unit, strcmp(better, "tie") ? "lower is " : "",
		 strcmp(better, "tie") ? better : "a tie (within 5 % or the verdict's floor)");
	r = cJSON_CreateString(buf);
	if (!r || !cJSON_AddItemToArray(reasons, r)) {
		cJSON_Delete(r);
		return report_oom(err);
	}
	return 0;
}

/* The figures verdict.lazy_vs_cowctx compares, from the report (also for its sensitivity). */
int report_vs_input(const cJSON *root, const struct report_thresholds *t,
		    struct verdict_vs_input *in)
{
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
	const cJSON *lz = cJSON_GetObjectItemCaseSensitive(models, "lazy");
	const cJSON *cc = cJSON_GetObjectItemCaseSensitive(models, "cowctx");
	double span = report_val(cJSON_GetObjectItemCaseSensitive(root, "trace"), "duration_ns") / 1e9;

	memset(in, 0, sizeof(*in));
	if (!lz || !cc)
		return -1;
	in->lazy_mem = report_val(cJSON_GetObjectItemCaseSensitive(lz, "anon_vma"), "bytes_peak") +
		       report_val(cJSON_GetObjectItemCaseSensitive(lz, "anon_vma_chain"), "bytes_peak") +
		       report_val(lz, "pinned_vmas_peak") *
		       report_val(cJSON_GetObjectItemCaseSensitive(lz, "vm_area_struct"), "object_size");
	in->cowctx_mem = report_cowctx_rmap_bytes(cc, report_mem_bytes(root));
	report_model_figures(lz, &in->lazy);
	report_model_figures(cc, &in->cowctx);
	in->wait_floor_ns = t->lock_wait_floor_ns_per_s * (span > 0 ? span : 0);
	in->fork_floor_ns = t->fork_cost_floor_ns;
	return 0;
}

int report_set_vs_sensitivity(cJSON *report, cJSON *sensitivity, struct avm_err *err)
{
	cJSON *o = (cJSON *)report_at(report, "verdict.lazy_vs_cowctx");

	if (!cJSON_IsObject(o)) {
		cJSON_Delete(sensitivity);
		return 0;
	}
	if (!cJSON_ReplaceItemInObjectCaseSensitive(o, "sensitivity", sensitivity)) {
		cJSON_Delete(sensitivity);
		return report_oom(err);
	}
	return 0;
}

/*
 * verdict.lazy_vs_cowctx (docs/verdict.md): the two proposals compared like
 * for like, not against a threshold.  memory: each design's anon-rmap bytes
 * at their peaks - lazy's anon_vma + anon_vma_chain + its pinned root VMAs,
 * cowctx's contexts + remap nodes and arrays + its per-struct-page field
 * (when the host's RAM is known); lock_waits: simulated waiting of every
 * lock class (ns); fork_cost: the mean anon rmap cost per fork (ns).
 * better: the design lower on more criteria, "tie" when even.  Absent unless
 * eager, lazy and cowctx all ran; a criterion whose section is missing is
 * left out.
 */
static int report_lazy_vs_cowctx(cJSON *root, const struct report_thresholds *t,
				 struct avm_err *err)
{
	const cJSON *cc = report_at(root, "models.cowctx");
	cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "verdict"), *o, *by, *reasons;
	struct verdict_vs_input in;
	int score = 0, s;

	if (!v || report_vs_input(root, t, &in))
		return 0; /* no verdict without eager: nothing to add the comparison to */
	cJSON_DeleteItemFromObjectCaseSensitive(v, "lazy_vs_cowctx");
	o = cJSON_AddObjectToObject(v, "lazy_vs_cowctx");
	by = o ? cJSON_AddObjectToObject(o, "by") : NULL;
	reasons = by ? cJSON_AddArrayToObject(o, "reasons") : NULL;
	if (!reasons)
		return report_oom(err);
	if (report_vs_crit(by, reasons, "memory", "bytes", in.lazy_mem, in.cowctx_mem, 0, &s, err))
		return -1;
	score += s;
	if (in.lazy.has_locks && in.cowctx.has_locks) {
		if (report_vs_crit(by, reasons, "lock_waits", "ns", in.lazy.wait_ns, in.cowctx.wait_ns,
				   in.wait_floor_ns, &s, err))
			return -1;
		score += s;
	}
	if (in.lazy.has_fork && in.cowctx.has_fork && in.lazy.forks > 0) {
		if (report_vs_crit(by, reasons, "fork_cost", "ns per fork", in.lazy.fork_mean_ns,
				   in.cowctx.fork_mean_ns, in.fork_floor_ns, &s, err))
			return -1;
		score += s;
	}
	if (score != verdict_vs_judge(&in))
		return avm_errf(err, "verdict.lazy_vs_cowctx: the criteria disagree with the rule");
	if (isnan(report_folio_field_bytes(cc, report_mem_bytes(root)))) {
		cJSON *r = cJSON_CreateString("memory: cowctx's per-struct-page field is not counted: "
					      "the host's RAM is unknown");

		if (!r || !cJSON_AddItemToArray(reasons, r)) {
			cJSON_Delete(r);
			return report_oom(err);
		}
	}
	if (!cJSON_AddStringToObject(o, "better", verdict_vs_name(score)) ||
	    !cJSON_AddNullToObject(o, "sensitivity"))
		return report_oom(err);
	return 0;
}

int report_finish(cJSON *report, const struct config *cfg, struct avm_err *err)
{
	struct report_thresholds t;
	struct config defaults;

	if (!cfg) {
		config_defaults(&defaults);
		cfg = &defaults;
	}
	report_thresholds_from_config(cfg, &t);
	if (report_add_savings(report, cJSON_GetObjectItemCaseSensitive(report, "models"), err))
		return -1;
	if (report_verdict(report, &t, err))
		return -1;
	return report_lazy_vs_cowctx(report, &t, err);
}

/* ---- write and load ------------------------------------------------------------ */

int report_write(const cJSON *report, const char *path, struct avm_err *err)
{
	struct outfile o;
	char *text = cJSON_Print(report);
	int ret = -1;

	if (!text)
		return report_oom(err);
	if (outfile_open(&o, path, err))
		goto out;
	if (outfile_escape(o.f, text, OUTFILE_ESC_JSON) || fputc('\n', o.f) == EOF) {
		avm_errf(err, "%s: write failed: %s", path, strerror(errno));
		outfile_abort(&o);
		goto out;
	}
	ret = outfile_commit(&o, err);
out:
	cJSON_free(text);
	return ret;
}

static char *report_slurp(const char *path, struct avm_err *err)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		avm_errf(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t n;

		if (cap - len < 65536) {
			char *nb = realloc(buf, cap + 65536 + 1);

			if (!nb) {
				report_oom(err);
				goto fail;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		avm_errf(err, "%s: read failed", path);
		goto fail;
	}
	fclose(f);
	buf[len] = '\0';
	if (len == 0) {
		free(buf);
		avm_errf(err, "%s: empty file, not an anonvma report", path);
		return NULL;
	}
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

/* Check the keys a report's readers (summary, merge) rely on. */
static int report_check_models(const cJSON *root, struct avm_err *err)
{
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
	const cJSON *m;
	char what[160];
	double v;

	if (!cJSON_IsObject(models) || !models->child)
		return avm_errf(err, "models missing or empty");
	cJSON_ArrayForEach(m, models) {
		if (!cJSON_IsObject(m))
			return avm_errf(err, "models.%s is not an object", m->string);
		for (int o = 0; o < MODEL_OBJ_NR; o++) {
			const cJSON *k = cJSON_GetObjectItemCaseSensitive(m, report_obj_names[o]);

			snprintf(what, sizeof(what), "models.%s.%s", m->string, report_obj_names[o]);
			for (size_t i = 0; i < REPORT_NCOUNT; i++)
				if (report_get(k, report_count_keys[i], what, &v, err))
					return -1;
		}
		snprintf(what, sizeof(what), "models.%s", m->string);
		if (report_get(m, "bytes_peak_total", what, &v, err) ||
		    report_get(m, "bytes_end_total", what, &v, err))
			return -1;
	}
	return 0;
}

int report_load(const char *path, cJSON **out, struct avm_err *err)
{
	char *text = report_slurp(path, err);
	const cJSON *schema, *tr;
	cJSON *root = NULL;
	double v;
	int ret = -1;

	*out = NULL;
	if (!text)
		return -1;
	root = cJSON_Parse(text);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;

		for (const char *p = text; at && p < at && *p; p++)
			line += *p == '\n';
		avm_errf(err, "%s:%d: not valid JSON, not an anonvma report", path, line);
		goto out;
	}
	schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
	if (!cJSON_IsObject(root) || !cJSON_IsString(schema)) {
		avm_errf(err, "%s: no \"schema\" key, not an anonvma report", path);
		goto out;
	}
	if (strcmp(schema->valuestring, REPORT_SCHEMA) &&
	    strcmp(schema->valuestring, REPORT_FLEET_SCHEMA) &&
	    strcmp(schema->valuestring, REPORT_SCHEMA_V2) &&
	    strcmp(schema->valuestring, REPORT_FLEET_SCHEMA_V2) &&
	    strcmp(schema->valuestring, REPORT_SCHEMA_V1) &&
	    strcmp(schema->valuestring, REPORT_FLEET_SCHEMA_V1)) {
		avm_errf(err, "%s: schema %s, this anonvma reads %s and %s (and the older /2 and /1)",
			 path, schema->valuestring, REPORT_SCHEMA, REPORT_FLEET_SCHEMA);
		goto out;
	}
	tr = cJSON_GetObjectItemCaseSensitive(root, "trace");
	if (report_get(tr, "events", "trace", &v, err) ||
	    report_get(tr, "lost_events", "trace", &v, err) || report_check_models(root, err)) {
		avm_err_prefix(err, "%s", path);
		goto out;
	}
	*out = root;
	root = NULL;
	ret = 0;
out:
	cJSON_Delete(root);
	free(text);
	return ret;
}

/* ---- text summary ----------------------------------------------------------------- */

static void report_percent(const cJSON *saving, char *buf, size_t len)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(saving, "percent");

	/* small shares (of host RAM, typically) keep two significant digits */
	if (cJSON_IsNumber(p) && p->valuedouble != 0 && fabs(p->valuedouble) < 0.1)
		snprintf(buf, len, "%.2g %%", p->valuedouble);
	else if (cJSON_IsNumber(p))
		snprintf(buf, len, "%.1f %%", p->valuedouble);
	else
		snprintf(buf, len, "n/a");
}

/* One line each for a model's page tables and anon_vma lock holds, when present. */
static void report_arch_lines(const cJSON *m, FILE *out)
{
	const cJSON *pt = cJSON_GetObjectItemCaseSensitive(m, "page_tables");
	const cJSON *w = report_at(m, "locks.anon_vma_rwsem.write.hold");
	char b1[32], b2[32];

	if (pt)
		fprintf(out, "%-8s page tables: %s at peak, %s at end\n", "",
			report_bytes(report_val(pt, "bytes_peak"), b1, sizeof(b1)),
			report_bytes(report_val(pt, "bytes_end"), b2, sizeof(b2)));
	if (w)
		fprintf(out, "%-8s anon_vma lock (write): %.0f holds, %.1f us in all, p99 %.0f ns, "
			     "max %.0f ns\n", "", report_val(w, "count"),
			report_val(w, "total_ns") / 1000, report_val(w, "p99_ns"),
			report_val(w, "max_ns"));
}

/* p50 / p99 of a histogram block (H or Hns of locks_hist_json) as text. */
static const char *report_quantiles(const cJSON *h, const char *unit, char *buf, size_t len)
{
	char k50[16], k99[16], a[32], b[32];

	snprintf(k50, sizeof(k50), unit ? "p50_%s" : "p50", unit ? unit : "");
	snprintf(k99, sizeof(k99), unit ? "p99_%s" : "p99", unit ? unit : "");
	if (unit) {
		report_ns(report_val(h, k50), a, sizeof(a));
		report_ns(report_val(h, k99), b, sizeof(b));
	} else {
		snprintf(a, sizeof(a), "%.0f", report_val(h, k50));
		snprintf(b, sizeof(b), "%.0f", report_val(h, k99));
	}
	snprintf(buf, len, "p50 %s, p99 %s", a, b);
	return buf;
}

/* models.<m>.fork_cost and .rmap_walks, one line each, when present. */
static void report_cost_lines(const cJSON *m, FILE *out)
{
	const cJSON *fc = cJSON_GetObjectItemCaseSensitive(m, "fork_cost");
	const cJSON *rw = cJSON_GetObjectItemCaseSensitive(m, "rmap_walks");
	char q1[80], q2[80], q3[80];

	if (fc && report_val(fc, "forks") == 0) {
		fprintf(out, "%-8s fork cost: no fork copied an address space (vfork and threads "
			     "do not)\n", "");
	} else if (fc) {
		const cJSON *share = cJSON_GetObjectItemCaseSensitive(fc, "anon_rmap_share");

		fprintf(out, "%-8s fork cost: %.0f forks, whole fork %s; anon rmap part %s", "",
			report_val(fc, "forks"),
			report_quantiles(cJSON_GetObjectItemCaseSensitive(fc, "total"), "ns", q1,
					 sizeof(q1)),
			report_quantiles(cJSON_GetObjectItemCaseSensitive(fc, "anon_rmap"), "ns", q2,
					 sizeof(q2)));
		if (cJSON_IsNumber(share))
			fprintf(out, " (%.1f %% of the fork)", 100.0 * share->valuedouble);
		fputc('\n', out);
	}
	if (rw && report_val(rw, "walks") == 0) {
		fprintf(out, "%-8s rmap walks: none (no resolvable migration in the trace, and no "
			     "pressure walk fell due: pressure off, or no live anon folio at a "
			     "100 ms tick)\n", "");
	} else if (rw) {
		const cJSON *by = cJSON_GetObjectItemCaseSensitive(rw, "by_source");
		const cJSON *vis = cJSON_GetObjectItemCaseSensitive(rw, "vmas_visited");

		fprintf(out, "%-8s rmap walks: %.0f (migration %.0f, reclaim %.0f, compaction %.0f, "
			     "page idle %.0f), VMAs visited %s, max %.0f; hold %s\n", "",
			report_val(rw, "walks"), report_val(by, "migration"),
			report_val(by, "reclaim"), report_val(by, "compaction"),
			report_val(by, "page_idle"), report_quantiles(vis, NULL, q1, sizeof(q1)),
			report_val(vis, "max"),
			report_quantiles(cJSON_GetObjectItemCaseSensitive(rw, "hold"), "ns", q3,
					 sizeof(q3)));
	}
}

/* models.<m>.series.bytes as a one-line sparkline with its first, peak and end values. */
static void report_series_line(const cJSON *m, FILE *out)
{
	static const char *const bars[] = { "\u2581", "\u2582", "\u2583", "\u2584",
					    "\u2585", "\u2586", "\u2587", "\u2588" };
	enum { WIDTH = 40 };
	const cJSON *bytes = report_at(m, "series.bytes"), *v;
	double peak = 0, first = 0, end = 0, col[WIDTH] = { 0 };
	int n = cJSON_GetArraySize(bytes), i = 0, cols;
	char b1[32], b2[32], b3[32];

	if (!cJSON_IsArray(bytes) || n == 0)
		return;
	cols = n < WIDTH ? n : WIDTH;
	cJSON_ArrayForEach(v, bytes) {
		double x = cJSON_IsNumber(v) ? v->valuedouble : 0;
		int c = (int)((long long)i * cols / n);

		if (i == 0)
			first = x;
		end = x;
		peak = x > peak ? x : peak;
		col[c] = x > col[c] ? x : col[c]; /* a column shows the largest value it covers */
		i++;
	}
	fprintf(out, "%-8s live bytes over time: ", "");
	for (int c = 0; c < cols; c++) {
		/* a hand-edited report may hold inf or huge values: never index with nan */
		double lv = peak > 0 ? col[c] / peak * 7.0 + 0.5 : 0;

		fputs(bars[lv >= 0 && lv < 8 ? (int)lv : 0], out);
	}
	fprintf(out, " first %s, peak %s, end %s (%d points)\n",
		report_bytes(first, b1, sizeof(b1)), report_bytes(peak, b2, sizeof(b2)),
		report_bytes(end, b3, sizeof(b3)), n);
}

/* "policies: mremap=upgrade, ..." for a lazy block that echoes them. */
static void report_policies_line(const cJSON *p, FILE *out)
{
	const cJSON *it;
	const char *sep = "";

	if (!cJSON_IsObject(p))
		return;
	fprintf(out, "%-8s policies: ", "");
	cJSON_ArrayForEach(it, p) {
		if (cJSON_IsString(it)) {
			fprintf(out, "%s%s=%s", sep, it->string, it->valuestring);
			sep = ", ";
		}
	}
	fputc('\n', out);
}

static void report_models_table(const cJSON *root, FILE *out)
{
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models"), *m;
	char b1[32], b2[32], b3[32], b4[32];

	fprintf(out, "%-22s %16s %16s %16s %12s\n", "", "anon_vma", "anon_vma_chain",
		"vm_area_struct", "all three");
	cJSON_ArrayForEach(m, models) {
		const cJSON *k[MODEL_OBJ_NR];

		for (int o = 0; o < MODEL_OBJ_NR; o++)
			k[o] = cJSON_GetObjectItemCaseSensitive(m, report_obj_names[o]);
		fprintf(out, "%-8s %-13s %16.0f %16.0f %16.0f\n", m->string, "allocs",
			report_val(k[0], "allocs"), report_val(k[1], "allocs"),
			report_val(k[2], "allocs"));
		fprintf(out, "%-8s %-13s %16.0f %16.0f %16.0f\n", "", "frees",
			report_val(k[0], "frees"), report_val(k[1], "frees"), report_val(k[2], "frees"));
		fprintf(out, "%-8s %-13s %16.0f %16.0f %16.0f\n", "", "live at peak",
			report_val(k[0], "live_peak"), report_val(k[1], "live_peak"),
			report_val(k[2], "live_peak"));
		fprintf(out, "%-8s %-13s %16.0f %16.0f %16.0f\n", "", "live at end",
			report_val(k[0], "live_end"), report_val(k[1], "live_end"),
			report_val(k[2], "live_end"));
		fprintf(out, "%-8s %-13s %16s %16s %16s %12s\n", "", "bytes at peak",
			report_bytes(report_val(k[0], "bytes_peak"), b1, sizeof(b1)),
			report_bytes(report_val(k[1], "bytes_peak"), b2, sizeof(b2)),
			report_bytes(report_val(k[2], "bytes_peak"), b3, sizeof(b3)),
			report_bytes(report_val(m, "bytes_peak_total"), b4, sizeof(b4)));
		report_arch_lines(m, out);
		report_cost_lines(m, out);
		report_series_line(m, out);
		if (cJSON_GetObjectItemCaseSensitive(m, "upgrades"))
			fprintf(out, "%-8s %.0f upgrades, %.0f folio rewrites, %.0f pinned VMAs at the peak\n",
				"", report_val(m, "upgrades"), report_val(m, "folio_rewrites"),
				report_val(m, "pinned_vmas_peak"));
		report_policies_line(cJSON_GetObjectItemCaseSensitive(m, "policies"), out);
	}
}

static void report_savings_table(const cJSON *sv, FILE *out)
{
	const char *when[] = { "peak", "end" };
	char b[4][32], p[4][16];

	if (!sv)
		return;
	fprintf(out, "saving (%s - %s)\n",
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sv, "baseline")),
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sv, "model")));
	for (int w = 0; w < 2; w++) {
		for (int o = 0; o <= MODEL_OBJ_NR; o++) {
			const char *name = o < MODEL_OBJ_NR ? report_obj_names[o] : "total";
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(sv, name), when[w]);

			report_bytes(report_val(s, "bytes"), b[o], sizeof(b[o]));
			report_percent(s, p[o], sizeof(p[o]));
		}
		fprintf(out, "%-8s %-13s %16s %16s %16s %12s\n", "", w ? "at end" : "at peak", b[0],
			b[1], b[2], b[3]);
		fprintf(out, "%-8s %-13s %16s %16s %16s %12s\n", "", "", p[0], p[1], p[2], p[3]);
	}
}

/* savings.anon_rmap, .mm_metadata, .host_ram: one line each. */
static void report_context_lines(const cJSON *sv, FILE *out)
{
	static const char *const rows[][2] = {
		{ "anon_rmap", "anon rmap (anon_vma + anon_vma_chain)" },
		{ "mm_metadata", "mm metadata (VMAs + page tables + anon rmap)" },
	};
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(sv, "host_ram");
	char b1[32], b2[32], b3[32], p[16];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(sv, rows[i][0]);

		if (!c)
			continue;
		report_percent(c, p, sizeof(p));
		fprintf(out, "%s at peak: eager %s, lazy %s, saved %s (%s)%s\n", rows[i][1],
			report_bytes(report_val(c, "eager_bytes_peak"), b1, sizeof(b1)),
			report_bytes(report_val(c, "lazy_bytes_peak"), b2, sizeof(b2)),
			report_bytes(report_val(c, "bytes"), b3, sizeof(b3)), p,
			cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(c, "page_tables"))
				? " [page tables not included: no arch model]" : "");
	}
	if (host) {
		report_percent(host, p, sizeof(p));
		if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(host, "mem_bytes")))
			fprintf(out, "host RAM: the saving at the peak (%s) is %s of %s\n",
				report_bytes(report_val(host, "bytes"), b1, sizeof(b1)), p,
				report_bytes(report_val(host, "mem_bytes"), b2, sizeof(b2)));
		else
			fprintf(out, "host RAM: unknown (mem_bytes is not recorded in every trace)\n");
	}
}

/* The first `max` of top_processes (fleet entries name their host; comm and exe when recorded). */
static void report_top_lines(const cJSON *root, int max, FILE *out)
{
	const cJSON *top = cJSON_GetObjectItemCaseSensitive(root, "top_processes"), *p;
	char b1[32], b2[32], b3[32], pct[16];
	int i = 0;

	if (!cJSON_GetArraySize(top))
		return;
	fprintf(out, "top processes by saving at their peak\n");
	cJSON_ArrayForEach(p, top) {
		const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "host"));
		const char *comm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "comm"));
		const char *exe = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "exe"));

		if (i++ == max)
			break;
		if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(p, "saving_percent")))
			snprintf(pct, sizeof(pct), "%.1f %%", report_val(p, "saving_percent"));
		else
			snprintf(pct, sizeof(pct), "n/a");
		fprintf(out, "  pid %-8.0f %-16s saves %10s (%s): eager %s, lazy %s%s%s%s%s\n",
			report_val(p, "pid"), comm ? comm : "", report_bytes(report_val(p, "saving_bytes"), b1, sizeof(b1)),
			pct, report_bytes(report_val(p, "eager_bytes_peak"), b2, sizeof(b2)),
			report_bytes(report_val(p, "lazy_bytes_peak"), b3, sizeof(b3)),
			exe ? ", " : "", exe ? exe : "", host ? ", host " : "", host ? host : "");
	}
}

/* The sensitivity in one or two lines: robust or not, and what flips it where. */
static void report_sensitivity_lines(const cJSON *v, FILE *out)
{
	const cJSON *sens = cJSON_GetObjectItemCaseSensitive(v, "sensitivity");
	const cJSON *robust = cJSON_GetObjectItemCaseSensitive(v, "robust"), *c;
	const cJSON *unranged = cJSON_GetObjectItemCaseSensitive(sens, "unranged");
	int nflip = 0;

	if (!cJSON_IsObject(sens)) {
		fprintf(out, "robustness: not computed (a fleet, or a replay without an arch model)\n");
		return;
	}
	if (!cJSON_IsBool(robust)) {
		fprintf(out, "robustness: none (the verdict is undecided)\n");
		return;
	}
	fprintf(out, "robustness: %s under the cost ranges of the arch (each constant at its low and "
		     "high, and both corners)\n", cJSON_IsTrue(robust) ? "ROBUST" : "NOT robust");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(sens, "constants")) {
		const cJSON *flip = cJSON_GetObjectItemCaseSensitive(c, "flip_at");

		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "flips")))
			continue;
		nflip++;
		if (cJSON_IsNumber(flip))
			fprintf(out, "  - %s flips it at %.0f ns (value %.0f, range %.0f..%.0f)\n",
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "key")),
				flip->valuedouble, report_val(c, "value"), report_val(c, "low"),
				report_val(c, "high"));
		else
			fprintf(out, "  - %s flips it within its range %.0f..%.0f\n",
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "key")),
				report_val(c, "low"), report_val(c, "high"));
	}
	if (!nflip && cJSON_IsFalse(robust))
		fprintf(out, "  - no single constant flips it; a corner of several does\n");
	if (cJSON_GetArraySize(unranged) > 0)
		fprintf(out, "  (%d cost constants have no range in the arch file and were not "
			     "moved)\n", cJSON_GetArraySize(unranged));
}

/*
 * The designs side by side (savings_by_model) and verdict.lazy_vs_cowctx:
 *   designs against eager (anon rmap at peak): lazy ... saved ..., cowctx ...
 *   lazy vs cowctx: <better> (memory: .., lock waits: .., fork cost: ..)
 *     - one reason per line
 */
static void report_designs_lines(const cJSON *root, FILE *out)
{
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(root, "savings_by_model"), *m, *r;
	const cJSON *vs = report_at(root, "verdict.lazy_vs_cowctx");
	char b1[32], b2[32], p[16];
	int n = 0;

	cJSON_ArrayForEach(m, by) {
		const cJSON *ar = cJSON_GetObjectItemCaseSensitive(m, "anon_rmap");

		const cJSON *ff = cJSON_GetObjectItemCaseSensitive(ar, "folio_field_bytes");

		report_percent(ar, p, sizeof(p));
		fprintf(out, "%s%s %s, saved %s (%s)", n++ ? "; " : "designs against eager (anon "
			"rmap at peak, cowctx with its contexts, remap objects and folio field): ",
			m->string, report_bytes(report_val(ar, "lazy_bytes_peak"), b1, sizeof(b1)),
			report_bytes(report_val(ar, "bytes"), b2, sizeof(b2)), p);
		if (cJSON_IsNumber(ff) && ff->valuedouble > 0)
			fprintf(out, " of which the folio field %s",
				report_bytes(ff->valuedouble, b1, sizeof(b1)));
	}
	if (n)
		fprintf(out, "\n");
	if (!cJSON_IsObject(vs))
		return;
	fprintf(out, "lazy vs cowctx: %s (memory: %s, lock waits: %s, fork cost: %s)\n",
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vs, "better")),
		cJSON_GetStringValue(report_at(vs, "by.memory.better")) ?: "n/a",
		cJSON_GetStringValue(report_at(vs, "by.lock_waits.better")) ?: "n/a",
		cJSON_GetStringValue(report_at(vs, "by.fork_cost.better")) ?: "n/a");
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(vs, "reasons"))
		if (cJSON_IsString(r))
			fprintf(out, "  - %s\n", r->valuestring);
	{
		const cJSON *sens = cJSON_GetObjectItemCaseSensitive(vs, "sensitivity");
		const cJSON *flip = cJSON_GetObjectItemCaseSensitive(sens, "flipping");
		int k = 0;

		if (!cJSON_IsObject(sens))
			return;
		fprintf(out, "  robustness: %s under the cost ranges of the arch",
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sens, "robust")) ? "ROBUST" :
			"NOT robust");
		cJSON_ArrayForEach(r, flip)
			if (cJSON_IsString(r))
				fprintf(out, "%s%s", k++ ? ", " : " (flipped by ", r->valuestring);
		fprintf(out, "%s\n", k ? ")" : "");
	}
}

/* The `sweep` table: one line per combination of swept values. */
static void report_sweep_lines(const cJSON *root, FILE *out)
{
	const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "sweep"), *e, *kv;

	if (!cJSON_IsArray(sw))
		return;
	fprintf(out, "sweep: %d combinations in one read of the trace (%.0f worlds)\n",
		cJSON_GetArraySize(sw), report_val(root, "sweep_worlds"));
	fprintf(out, "  %-44s %12s %14s %10s\n", "config", "anon rmap", "verdict", "robust");
	cJSON_ArrayForEach(e, sw) {
		const cJSON *pays = report_at(e, "verdict.lazy_pays_off");
		const cJSON *rob = report_at(e, "verdict.robust");
		char cfg[256] = "", pct[16];
		size_t len = 0;

		cJSON_ArrayForEach(kv, cJSON_GetObjectItemCaseSensitive(e, "config"))
			if (len < sizeof(cfg))
				len += (size_t)snprintf(cfg + len, sizeof(cfg) - len, "%s%s=%s",
							len ? " " : "", kv->string,
							cJSON_IsString(kv) ? kv->valuestring : "?");
		report_percent(report_at(e, "savings.anon_rmap"), pct, sizeof(pct));
		fprintf(out, "  %-44s %12s %14s %10s\n", cfg, pct,
			cJSON_IsTrue(pays) ? "pays off" : cJSON_IsFalse(pays) ? "does not" : "undecided",
			cJSON_IsTrue(rob) ? "yes" : cJSON_IsFalse(rob) ? "no" : "-");
	}
}

/* "verdict: lazy pays off" and one line per reason. */
static void report_verdict_lines(const cJSON *root, FILE *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "verdict"), *r;
	const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(root, "verdicts");
	const cJSON *pays = cJSON_GetObjectItemCaseSensitive(v, "lazy_pays_off");

	if (hosts)
		fprintf(out, "hosts where lazy pays off: %.0f, where it does not: %.0f, without a "
			     "verdict: %.0f\n", report_val(hosts, "pays_off"),
			report_val(hosts, "does_not"), report_val(hosts, "no_verdict"));
	if (!v)
		return;
	fprintf(out, "verdict%s: %s\n", hosts ? " (fleet totals)" : "",
		cJSON_IsTrue(pays) ? "lazy pays off" : cJSON_IsFalse(pays) ? "lazy does not pay off"
		: "undecided (the trace cannot support an answer)");
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(v, "reasons"))
		if (cJSON_IsString(r))
			fprintf(out, "  - %s\n", r->valuestring);
	if (cJSON_GetObjectItemCaseSensitive(v, "criteria"))
		report_sensitivity_lines(v, out);
	report_sweep_lines(root, out);
}

static void report_fleet_summary(const cJSON *root, FILE *out)
{
	const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(root, "host_list"), *h;
	const cJSON *dist = cJSON_GetObjectItemCaseSensitive(root, "savings_distribution");
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "trace");

	fprintf(out, "anonvma fleet: %.0f hosts, %.0f events, %.0f lost\n",
		report_val(root, "hosts"), report_val(tr, "events"), report_val(tr, "lost_events"));
	if (report_val(root, "duplicates") > 0)
		fprintf(out, "%.0f reports of a trace already merged were counted once (same trace id)\n",
			report_val(root, "duplicates"));
	fprintf(out, "%-28s %-24s %14s %10s %16s\n", "host", "kernel", "events", "lost",
		"saving at peak");
	cJSON_ArrayForEach(h, hosts) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(h, "kernel_release");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(h, "saving_peak_percent");
		const char *label = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "hostname"));
		char pct[16];

		if (cJSON_IsNumber(p))
			snprintf(pct, sizeof(pct), "%.1f %%", p->valuedouble);
		else
			snprintf(pct, sizeof(pct), "n/a");
		fprintf(out, "%-28s %-24s %14.0f %10.0f %16s\n",
			label ? label : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "report")),
			cJSON_IsString(k) ? k->valuestring : "?", report_val(h, "events"),
			report_val(h, "lost_events"), pct);
	}
	if (report_val(root, "host_list_omitted") > 0)
		fprintf(out, "(%.0f more hosts not listed: the fleet report keeps the first %.0f; "
			     "--jsonl lists every host)\n", report_val(root, "host_list_omitted"),
			(double)cJSON_GetArraySize(hosts));
	fprintf(out, "\ntotals over all hosts (peaks are sums of per-host peaks)\n");
	report_models_table(root, out);
	report_savings_table(cJSON_GetObjectItemCaseSensitive(root, "savings"), out);
	report_context_lines(cJSON_GetObjectItemCaseSensitive(root, "savings"), out);
	if (dist && report_val(dist, "hosts") > 0)
		fprintf(out, "saving at peak across %.0f hosts: min %.1f %%, median %.1f %%%s, "
			     "mean %.1f %%, max %.1f %%\n",
			report_val(dist, "hosts"), report_val(dist, "min"), report_val(dist, "p50"),
			cJSON_GetObjectItemCaseSensitive(dist, "histogram") ? " (+-0.05)" : "",
			report_val(dist, "mean"), report_val(dist, "max"));
	report_top_lines(root, 5, out);
	report_verdict_lines(root, out);
}

static int report_summary_raw(const cJSON *root, FILE *out, struct avm_err *err)
{
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "trace");
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(tr, "host");
	const char *kr, *arch;
	char mem[32];

	if (!cJSON_IsString(schema))
		return avm_errf(err, "report: no schema");
	if (!strncmp(schema->valuestring, "anonvma-fleet/", 14)) {
		report_fleet_summary(root, out);
	} else {
		kr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(host, "kernel_release"));
		arch = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(host, "arch"));
		fprintf(out, "anonvma report: %s, %.0f events, %.0f lost%s\n",
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tr, "file")),
			report_val(tr, "events"), report_val(tr, "lost_events"),
			cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(tr, "complete"))
				? " (trace incomplete: the recording did not close normally)" : "");
		if (cJSON_IsString(report_at(root, "arch.name")))
			fprintf(out, "arch model: %s\n", report_at(root, "arch.name")->valuestring);
		if (kr || arch) {
			fprintf(out, "host: Linux %s %s", kr ? kr : "?", arch ? arch : "?");
			if (report_val(host, "cpus") > 0)
				fprintf(out, ", %.0f CPUs", report_val(host, "cpus"));
			if (report_val(host, "mem_bytes") > 0)
				fprintf(out, ", %s memory",
					report_bytes(report_val(host, "mem_bytes"), mem, sizeof(mem)));
			fputc('\n', out);
		}
		report_models_table(root, out);
		report_savings_table(cJSON_GetObjectItemCaseSensitive(root, "savings"), out);
		report_context_lines(cJSON_GetObjectItemCaseSensitive(root, "savings"), out);
		report_top_lines(root, 5, out);
		report_verdict_lines(root, out);
		report_designs_lines(root, out);
		if (!strcmp(schema->valuestring, REPORT_SCHEMA_V1))
			fprintf(out, "note: an %s report cannot show lock waiting, failed trylocks, the "
				     "mean fork cost, an undecided verdict or its robustness (its "
				     "verdict used lock hold time and the p99 fork cost): replay the "
				     "trace again for them\n", REPORT_SCHEMA_V1);
	}
	if (ferror(out))
		return avm_errf(err, "report: write failed: %s", strerror(errno));
	return 0;
}

int report_summary(const cJSON *root, FILE *out, struct avm_err *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int ret = -1;

	if (!mem)
		return report_oom(err);
	ret = report_summary_raw(root, mem, err);
	if (fclose(mem) && !ret)
		ret = report_oom(err);
	if (!ret && outfile_escape(out, text, OUTFILE_ESC_TEXT))
		ret = avm_errf(err, "report: write failed: %s", strerror(errno));
	free(text);
	return ret;
}

/* ---- fleet merge ------------------------------------------------------------------ */

static int report_add_to(cJSON *sum, const cJSON *from, const char *key, struct avm_err *err)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(from, key);
	cJSON *s;

	if (!cJSON_IsNumber(f))
		return 0;
	s = cJSON_GetObjectItemCaseSensitive(sum, key);
	if (!s)
		return report_num(sum, key, f->valuedouble, err);
	cJSON_SetNumberValue(s, s->valuedouble + f->valuedouble);
	return 0;
}

/* sum.key += from.key for the listed keys, in sub-object `sub` of both (NULL: top). */
static int report_add_keys(cJSON *sum, const cJSON *from, const char *sub,
			   const char *const *keys, size_t nkeys, struct avm_err *err)
{
	if (sub) {
		cJSON *s = cJSON_GetObjectItemCaseSensitive(sum, sub);

		from = cJSON_GetObjectItemCaseSensitive(from, sub);
		if (!from)
			return 0;
		if (!s && !(s = cJSON_AddObjectToObject(sum, sub)))
			return report_oom(err);
		sum = s;
	}
	for (size_t i = 0; i < nkeys; i++)
		if (report_add_to(sum, from, keys[i], err))
			return -1;
	return 0;
}

/* sum.key = merge(sum.key, m.key) with the section owner's merge (arch.h, locks.h, ...). */
static int report_merge_section(cJSON *sum, const cJSON *m, const char *key,
				int (*merge)(const cJSON *a, const cJSON *b, cJSON **out,
					     struct avm_err *err),
				struct avm_err *err)
{
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(m, key);
	cJSON *have = cJSON_GetObjectItemCaseSensitive(sum, key), *merged = NULL;

	if (!from)
		return 0;
	if (!have) {
		merged = cJSON_Duplicate(from, 1);
		if (!merged)
			return report_oom(err);
	} else if (merge(have, from, &merged, err)) {
		return avm_err_prefix(err, "merge %s", key);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(sum, key);
	return report_add_section(sum, key, merged, err);
}

/*
 * Add one host's model block into the fleet's: the counters that add up
 * across hosts, and the sections whose owners merge them (page_tables,
 * locks, rmap_walks, fork_cost).  object_size and series are left out: a
 * sum of points on unrelated time axes would mean nothing.
 */
int report_merge_model(cJSON *sum, const cJSON *m, struct avm_err *err)
{
	static const char *const by[] = { "allocs_by_operation", "frees_by_operation" };

	for (int o = 0; o < MODEL_OBJ_KINDS; o++) /* report_add_keys skips a kind m lacks */
		if (report_add_keys(sum, m, report_obj_names[o], report_count_keys, REPORT_NCOUNT,
				    err))
			return -1;
	for (int b = 0; b < 2; b++) {
		cJSON *s = cJSON_GetObjectItemCaseSensitive(sum, by[b]);
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, by[b]);

		if (!f)
			continue;
		if (!s && !(s = cJSON_AddObjectToObject(sum, by[b])))
			return report_oom(err);
		for (int o = 0; o < MODEL_OBJ_KINDS; o++) {
			const cJSON *fk = cJSON_GetObjectItemCaseSensitive(f, report_obj_names[o]), *w;
			cJSON *sk = cJSON_GetObjectItemCaseSensitive(s, report_obj_names[o]);

			if (!fk)
				continue;
			if (!sk && !(sk = cJSON_AddObjectToObject(s, report_obj_names[o])))
				return report_oom(err);
			/* every entry is a count, whatever operations the host's build knew */
			cJSON_ArrayForEach(w, fk)
				if (report_add_to(sk, fk, w->string, err))
					return -1;
		}
	}
	if (report_merge_section(sum, m, "page_tables", arch_pt_json_merge, err) ||
	    report_merge_section(sum, m, "locks", locks_json_merge, err) ||
	    report_merge_section(sum, m, "rmap_walks", rmap_walk_json_merge, err) ||
	    report_merge_section(sum, m, "fork_cost", track_fork_cost_json_merge, err))
		return -1;
	return report_add_keys(sum, m, NULL, report_model_sums, REPORT_NMODEL_SUMS, err);
}

