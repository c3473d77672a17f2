/*
 * fleet.c - the streaming, associative fleet merge; see fleet.h for the
 * API and docs/report.md "fleet report" for every key.
 *
 * The accumulator is a fleet report under construction (`root`: hosts,
 * trace sums, models sums, arches, verdicts, host_list) plus what cannot
 * live in JSON until the end: the set of trace ids (strmap, id -> the
 * input that brought it), the savings histogram and its sum/min/max, the
 * FLEET_TOP largest processes, the thresholds of the first verdict.
 *
 * A host report and a fleet report go through the same steps; a host is a
 * fleet of one whose figures are read from its own keys:
 *
 *   host report                      fleet report
 *   trace.id (or derived key)        trace_ids[]
 *   savings.total.peak.percent       savings_distribution {hosts,sum,min,max,histogram}
 *   verdict.lazy_pays_off            verdicts {pays_off, does_not, no_verdict}
 *   arch.name                        arches {name: hosts}
 *   top_processes (+ host label)     top_processes (labelled)
 *
 * so merging is associative by construction: every figure is combined by
 * an associative operation (+, min, max, histogram +, top-k of a union
 * with a total order).  The top list orders by saving, then host label,
 * then pid, so ties do not depend on the shape of the merge tree.
 *
 * A report without trace.id (schema /2, or a replay of an older trace) is
 * keyed by "file:events:duration_ns:kernel_release": two replays of one
 * trace with different configs share it, as they share an id.
 */
#include "fleet.h"

#include "report.h"
#include "strmap.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct fleet {
	struct fleet_opts o;
	cJSON *root, *host_list, *trace, *models, *verdicts;
	struct strmap ids;              /* trace id -> strdup'd input name */
	size_t hosts, duplicates, listed, omitted, mem_hosts;
	double mem_bytes;
	bool complete;
	/* savings distribution */
	double d_n, d_sum, d_min, d_max;
	double bins[FLEET_BINS + 2];    /* [0] below -100 %, [FLEET_BINS + 1] above 100 % */
	/* thresholds of the first input with a verdict */
	bool have_th;
	struct report_thresholds th;
	char th_from[256];
	char first[256];                /* the first input, for the models check */
	cJSON *top[FLEET_TOP + 1];      /* the best entries so far, best first */
	int ntop;
};

static int fleet_oom(struct avm_err *err)
{
	return avm_errf(err, "fleet: out of memory");
}

static int fleet_num(cJSON *o, const char *key, double v, struct avm_err *err)
{
	return cJSON_AddNumberToObject(o, key, v) ? 0 : fleet_oom(err);
}

static const char *fleet_str(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* o.key += v (created at v). */
static int fleet_add_num(cJSON *o, const char *key, double v, struct avm_err *err)
{
	cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!n)
		return fleet_num(o, key, v, err);
	cJSON_SetNumberValue(n, n->valuedouble + v);
	return 0;
}

int fleet_new(const struct fleet_opts *o, struct fleet **out, struct avm_err *err)
{
	struct fleet *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f)
		return fleet_oom(err);
	if (o)
		f->o = *o;
	f->complete = true;
	f->root = cJSON_CreateObject();
	if (!f->root || !cJSON_AddStringToObject(f->root, "schema", REPORT_FLEET_SCHEMA) ||
	    !(f->host_list = cJSON_AddArrayToObject(f->root, "host_list")) ||
	    !(f->trace = cJSON_AddObjectToObject(f->root, "trace")) ||
	    !(f->models = cJSON_AddObjectToObject(f->root, "models")) ||
	    !(f->verdicts = cJSON_AddObjectToObject(f->root, "verdicts")) ||
	    fleet_num(f->verdicts, "pays_off", 0, err) || fleet_num(f->verdicts, "does_not", 0, err) ||
	    fleet_num(f->verdicts, "no_verdict", 0, err)) {
		fleet_free(f);
		return fleet_oom(err);
	}
	*out = f;
	return 0;
}

void fleet_free(struct fleet *f)
{
	if (!f)
		return;
	strmap_free(&f->ids, free);
	cJSON_Delete(f->root);
	for (int i = 0; i < f->ntop; i++)
		cJSON_Delete(f->top[i]);
	free(f);
}

size_t fleet_hosts(const struct fleet *f)
{
	return f->hosts;
}

size_t fleet_duplicates(const struct fleet *f)
{
	return f->duplicates;
}

/* ---- one input ------------------------------------------------------------- */

/* The key a host report is counted once by: trace.id, or a key derived from the trace's facts. */
static void fleet_trace_key(const cJSON *r, char *buf, size_t len)
{
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(r, "trace");
	const char *id = fleet_str(tr, "id"), *kr = fleet_str(report_path(tr, "host"), "kernel_release");

	if (id && *id)
		snprintf(buf, len, "%s", id);
	else
		snprintf(buf, len, "derived:%s:%.0f:%.0f:%s", fleet_str(tr, "file") ? fleet_str(tr, "file") : "?",
			 report_number(tr, "events"), report_number(tr, "duration_ns"), kr ? kr : "?");
}

/* The label of a host: trace.hostname, else the report's name. */
static const char *fleet_label(const cJSON *r, const char *name)
{
	const char *h = fleet_str(cJSON_GetObjectItemCaseSensitive(r, "trace"), "hostname");

	return h && *h ? h : name;
}

/* The same set of models as the first input (a fleet of mixed model lists would mislead). */
static int fleet_same_models(struct fleet *f, const cJSON *r, const char *name, struct avm_err *err)
{
	const cJSON *mr = cJSON_GetObjectItemCaseSensitive(r, "models"), *m;

	if (!f->models->child)
		return 0;
	if (cJSON_GetArraySize(mr) != cJSON_GetArraySize(f->models))
		goto differ;
	cJSON_ArrayForEach(m, mr)
		if (!cJSON_GetObjectItemCaseSensitive(f->models, m->string))
			goto differ;
	return 0;
differ:
	return avm_errf(err, "%s: replayed models differ from %s's (%d vs %d models); merge reports "
			     "replayed with the same --model list", name, f->first,
			cJSON_GetArraySize(mr), cJSON_GetArraySize(f->models));
}

/* The verdict thresholds of every input with a verdict must agree (a fleet verdict needs one rule). */
static int fleet_thresholds(struct fleet *f, const cJSON *r, const char *name, struct avm_err *err)
{
	const cJSON *th = report_path(r, "verdict.thresholds");
	const char *keys[REPORT_NTHRESHOLDS];
	double *dst[REPORT_NTHRESHOLDS];
	struct report_thresholds t;

	if (!cJSON_GetObjectItemCaseSensitive(r, "verdict"))
		return 0;
	report_threshold_fields(&t, keys, dst);
	for (int k = 0; k < REPORT_NTHRESHOLDS; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(th, keys[k]);

		if (!cJSON_IsNumber(v))
			return avm_errf(err, "%s: verdict.thresholds.%s missing or not a number", name,
					keys[k]);
		*dst[k] = v->valuedouble;
	}
	if (!f->have_th) {
		f->th = t;
		f->have_th = true;
		snprintf(f->th_from, sizeof(f->th_from), "%s", name);
		return 0;
	}
	{
		const char *fk[REPORT_NTHRESHOLDS];
		double *fv[REPORT_NTHRESHOLDS];

		report_threshold_fields(&f->th, fk, fv);
		for (int k = 0; k < REPORT_NTHRESHOLDS; k++)
			if (*dst[k] != *fv[k])
				return avm_errf(err, "%s: verdict threshold %s is %g, %s's is %g; merge "
						     "reports replayed with the same verdict config",
						name, keys[k], *dst[k], f->th_from, *fv[k]);
	}
	return 0;
}

static int fleet_bin(double pct)
{
	double b = floor((pct + 100.0) / FLEET_BIN_PERCENT);

	if (!(b >= 0))
		return 0;
	if (b >= FLEET_BINS)
		return pct > 100.0 ? FLEET_BINS + 1 : FLEET_BINS; /* exactly 100 % is the last bin */
	return (int)b + 1;
}

static void fleet_dist_add(struct fleet *f, double pct)
{
	f->d_min = f->d_n == 0 || pct < f->d_min ? pct : f->d_min;
	f->d_max = f->d_n == 0 || pct > f->d_max ? pct : f->d_max;
	f->d_n++;
	f->d_sum += pct;
	f->bins[fleet_bin(pct)]++;
}

/* Order of the top list: saving (largest first), host label, pid. */
static int fleet_cmp_proc(const cJSON *a, const cJSON *b)
{
	double sa = report_number(a, "saving_bytes"), sb = report_number(b, "saving_bytes");
	const char *ha = fleet_str(a, "host"), *hb = fleet_str(b, "host");
	int c;

	if (sa != sb)
		return sa > sb ? -1 : 1;
	c = strcmp(ha ? ha : "", hb ? hb : "");
	if (c)
		return c;
	sa = report_number(a, "pid");
	sb = report_number(b, "pid");
	return (sa > sb) - (sa < sb);
}

/* Offer one process (labelled with its host) to the top list. */
static int fleet_top_offer(struct fleet *f, const cJSON *p, int index, const char *label,
			   struct avm_err *err)
{
	int at = 0;
	cJSON *e;

	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(p, "saving_bytes")))
		return avm_errf(err, "top_processes[%d].saving_bytes missing or not a number", index);
	e = cJSON_Duplicate(p, 1);
	if (!e)
		return fleet_oom(err);
	if (label) {
		cJSON_DeleteItemFromObjectCaseSensitive(e, "host");
		if (!cJSON_AddStringToObject(e, "host", label)) {
			cJSON_Delete(e);
			return fleet_oom(err);
		}
	}
	while (at < f->ntop && fleet_cmp_proc(e, f->top[at]) >= 0)
		at++;
	if (at >= FLEET_TOP) {
		cJSON_Delete(e);
		return 0;
	}
	memmove(&f->top[at + 1], &f->top[at], (size_t)(f->ntop - at) * sizeof(f->top[0]));
	f->top[at] = e;
	if (f->ntop < FLEET_TOP)
		f->ntop++;
	else
		cJSON_Delete(f->top[FLEET_TOP]);
	return 0;
}

/*
 * One host's entry of host_list, flat (every value a string, number,
 * boolean or null), which is also its --jsonl line.
 */
static cJSON *fleet_host_entry(const cJSON *r, const char *name, struct avm_err *err)
{
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(r, "trace");
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(tr, "host"), *m;
	const cJSON *p = report_path(r, "savings.total.peak.percent");
	const cJSON *ar = report_path(r, "savings.anon_rmap.percent");
	const cJSON *pays = report_path(r, "verdict.lazy_pays_off");
	const char *kr = fleet_str(host, "kernel_release"), *hn = fleet_str(tr, "hostname");
	const char *id = fleet_str(tr, "id"), *arch = fleet_str(cJSON_GetObjectItemCaseSensitive(r, "arch"), "name");
	double mem = report_mem_bytes(r);
	cJSON *h = cJSON_CreateObject();

	if (!h || !cJSON_AddStringToObject(h, "report", name) ||
	    !cJSON_AddItemToObject(h, "hostname", hn ? cJSON_CreateString(hn) : cJSON_CreateNull()) ||
	    !cJSON_AddItemToObject(h, "trace_id", id ? cJSON_CreateString(id) : cJSON_CreateNull()) ||
	    !cJSON_AddStringToObject(h, "kernel_release", kr ? kr : "?") ||
	    !cJSON_AddItemToObject(h, "arch", arch ? cJSON_CreateString(arch) : cJSON_CreateNull()) ||
	    fleet_num(h, "events", report_number(tr, "events"), err) ||
	    fleet_num(h, "lost_events", report_number(tr, "lost_events"), err) ||
	    fleet_num(h, "duration_ns", report_number(tr, "duration_ns"), err) ||
	    !cJSON_AddItemToObject(h, "saving_peak_percent", cJSON_IsNumber(p) ?
				   cJSON_CreateNumber(p->valuedouble) : cJSON_CreateNull()) ||
	    !cJSON_AddItemToObject(h, "anon_rmap_saving_percent", cJSON_IsNumber(ar) ?
				   cJSON_CreateNumber(ar->valuedouble) : cJSON_CreateNull()) ||
	    !cJSON_AddItemToObject(h, "mem_bytes", mem > 0 ? cJSON_CreateNumber(mem) : cJSON_CreateNull()) ||
	    !cJSON_AddItemToObject(h, "lazy_pays_off", cJSON_IsBool(pays) ?
				   cJSON_CreateBool(cJSON_IsTrue(pays)) : cJSON_CreateNull()))
		goto fail;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(r, "models")) {
		char key[96];

		snprintf(key, sizeof(key), "%s_bytes_peak_total", m->string);
		if (fleet_num(h, key, report_number(m, "bytes_peak_total"), err))
			goto fail;
	}
	return h;
fail:
	cJSON_Delete(h);
	fleet_oom(err);
	return NULL;
}

/* Append one entry to host_list (up to the cap) and write its --jsonl line. Takes h. */
static int fleet_list_host(struct fleet *f, cJSON *h, struct avm_err *err)
{
	if (f->o.jsonl) {
		cJSON *line = cJSON_Duplicate(h, 1);
		char *text = NULL;
		int bad;

		if (!line || (f->o.redact && redact_json(f->o.redact, line, err)) ||
		    !(text = cJSON_PrintUnformatted(line))) {
			cJSON_Delete(line);
			cJSON_Delete(h);
			return err->msg[0] ? -1 : fleet_oom(err);
		}
		bad = fputs(text, f->o.jsonl) == EOF || fputc('\n', f->o.jsonl) == EOF;
		cJSON_free(text);
		cJSON_Delete(line);
		if (bad) {
			cJSON_Delete(h);
			return avm_errf(err, "--jsonl: write failed");
		}
	}
	if (f->listed >= FLEET_HOST_LIST_MAX) {
		f->omitted++;
		cJSON_Delete(h);
		return 0;
	}
	if (!cJSON_AddItemToArray(f->host_list, h)) {
		cJSON_Delete(h);
		return fleet_oom(err);
	}
	f->listed++;
	return 0;
}

/* The parts a host and a fleet share: models, trace sums, arches. */
static int fleet_add_common(struct fleet *f, const cJSON *r, struct avm_err *err)
{
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(r, "trace"), *m, *a;
	static const char *const sums[] = { "events", "lost_events", "skipped_events", "duration_ns" };

	for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++)
		if (fleet_add_num(f->trace, sums[i], report_number(rt, sums[i]), err))
			return -1;
	f->complete &= !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(rt, "complete"));
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(r, "models")) {
		cJSON *s = cJSON_GetObjectItemCaseSensitive(f->models, m->string);

		if (!s && !(s = cJSON_AddObjectToObject(f->models, m->string)))
			return fleet_oom(err);
		if (report_merge_model(s, m, err))
			return -1;
	}
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r, "arches")) {
		cJSON *arches = cJSON_GetObjectItemCaseSensitive(f->root, "arches");

		if (!arches && !(arches = cJSON_AddObjectToObject(f->root, "arches")))
			return fleet_oom(err);
		if (fleet_add_num(arches, a->string, a->valuedouble, err))
			return -1;
	}
	return 0;
}

static int fleet_add_host(struct fleet *f, const cJSON *r, const char *name, struct avm_err *err)
{
	const cJSON *p = report_path(r, "savings.total.peak.percent");
	const cJSON *pays = report_path(r, "verdict.lazy_pays_off");
	const cJSON *arch = report_path(r, "arch.name"), *tp;
	const char *label = fleet_label(r, name);
	double mem = report_mem_bytes(r);
	cJSON *h;

	if (fleet_add_common(f, r, err))
		return -1;
	if (cJSON_IsString(arch)) {
		cJSON *arches = cJSON_GetObjectItemCaseSensitive(f->root, "arches");

		if (!arches && !(arches = cJSON_AddObjectToObject(f->root, "arches")))
			return fleet_oom(err);
		if (fleet_add_num(arches, arch->valuestring, 1, err))
			return -1;
	}
	f->mem_bytes += mem > 0 ? mem : 0;
	f->mem_hosts += mem > 0;
	if (cJSON_IsNumber(p))
		fleet_dist_add(f, p->valuedouble);
	if (fleet_add_num(f->verdicts, cJSON_IsTrue(pays) ? "pays_off" : cJSON_IsFalse(pays) ?
			  "does_not" : "no_verdict", 1, err))
		return -1;
	tp = cJSON_GetObjectItemCaseSensitive(r, "top_processes");
	if (tp && !cJSON_IsArray(tp))
		return avm_errf(err, "top_processes is not an array");
	{
		int i = 0;

		cJSON_ArrayForEach(p, tp)
			if (fleet_top_offer(f, p, i++, label, err))
				return -1;
	}
	h = fleet_host_entry(r, name, err);
	if (!h)
		return -1;
	f->hosts++;
	return fleet_list_host(f, h, err);
}

static int fleet_add_fleet(struct fleet *f, const cJSON *r, const char *name, struct avm_err *err)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "savings_distribution");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(r, "trace"), *it, *b;
	double n = report_number(d, "hosts");

	if (fleet_add_common(f, r, err))
		return -1;
	f->mem_bytes += report_number(rt, "mem_bytes_known");
	f->mem_hosts += (size_t)report_number(rt, "mem_hosts");
	if (n > 0) {
		f->d_min = f->d_n == 0 || report_number(d, "min") < f->d_min ? report_number(d, "min") : f->d_min;
		f->d_max = f->d_n == 0 || report_number(d, "max") > f->d_max ? report_number(d, "max") : f->d_max;
		f->d_n += n;
		f->d_sum += report_number(d, "sum");
		cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(d, "histogram")) {
			const cJSON *i = cJSON_GetArrayItem(b, 0), *c = cJSON_GetArrayItem(b, 1);

			if (!cJSON_IsNumber(i) || !cJSON_IsNumber(c) || i->valuedouble < 0 ||
			    i->valuedouble > FLEET_BINS + 1)
				return avm_errf(err, "savings_distribution.histogram: a bin is not "
						     "[index 0..%d, count]", FLEET_BINS + 1);
			f->bins[(int)i->valuedouble] += c->valuedouble;
		}
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "verdicts"))
		if (fleet_add_num(f->verdicts, it->string, report_number(cJSON_GetObjectItemCaseSensitive(r, "verdicts"), it->string), err))
			return -1;
	{
		int i = 0;

		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "top_processes"))
			if (fleet_top_offer(f, it, i++, NULL, err))
				return -1;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "host_list")) {
		cJSON *h = cJSON_Duplicate(it, 1);

		if (!h)
			return fleet_oom(err);
		if (fleet_list_host(f, h, err))
			return -1;
	}
	if (report_number(r, "host_list_omitted") > 0) {
		f->omitted += (size_t)report_number(r, "host_list_omitted");
		if (f->o.jsonl && f->o.warn)
			fprintf(f->o.warn, "anonvma-report: warning: %s lists %.0f of its hosts; "
					   "--jsonl has lines for those only\n",
				name, report_number(r, "hosts") - report_number(r, "host_list_omitted"));
	}
	f->hosts += (size_t)report_number(r, "hosts");
	f->duplicates += (size_t)report_number(r, "duplicates");
	return 0;
}

int fleet_add(struct fleet *f, const cJSON *r, const char *name, struct avm_err *err)
{
	const char *schema = fleet_str(r, "schema");
	bool is_fleet;
	char key[512];
	char *from;
	int ret = -1;

	if (!schema)
		return avm_errf(err, "%s: no schema, not an anonvma report", name);
	if (!strcmp(schema, REPORT_SCHEMA_V1))
		return avm_errf(err, "%s: an %s report: its verdict was judged by the old rule (lock "
				     "hold time, p99 fork cost); replay its trace again to merge it",
				name, REPORT_SCHEMA_V1);
	is_fleet = !strcmp(schema, REPORT_FLEET_SCHEMA);
	if (!is_fleet && strcmp(schema, REPORT_SCHEMA) && strcmp(schema, REPORT_SCHEMA_V2))
		return avm_errf(err, "%s: schema %s cannot be merged (a fleet report older than %s "
				     "keeps no mergeable distribution: merge its host reports)",
				name, schema, REPORT_FLEET_SCHEMA);
	if (is_fleet) {
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(r, "trace_ids"), *id;

		if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) != (int)report_number(r, "hosts"))
			return avm_errf(err, "%s: trace_ids missing or not one per host", name);
		cJSON_ArrayForEach(id, ids) {
			if (!cJSON_IsString(id))
				return avm_errf(err, "%s: trace_ids holds a non-string", name);
			if (strmap_has(&f->ids, id->valuestring))
				return avm_errf(err, "%s: holds trace %s, already merged from %s: its host "
						     "would count twice; merge fleets of disjoint hosts",
						name, id->valuestring,
						(char *)strmap_get(&f->ids, id->valuestring));
		}
		cJSON_ArrayForEach(id, ids) {
			from = strdup(name);
			if (!from || strmap_put(&f->ids, id->valuestring, from)) {
				free(from);
				return fleet_oom(err);
			}
		}
	} else {
		fleet_trace_key(r, key, sizeof(key));
		if (strmap_has(&f->ids, key)) {
			f->duplicates++;
			if (f->o.warn)
				fprintf(f->o.warn, "anonvma-report: warning: %s is a report of the same "
						   "trace as %s (trace id %s): counted once, skipped\n",
					name, (char *)strmap_get(&f->ids, key), key);
			return 1;
		}
		from = strdup(name);
		if (!from || strmap_put(&f->ids, key, from)) {
			free(from);
			return fleet_oom(err);
		}
	}
	/* after the duplicate check: a second replay of one trace is skipped, whatever its config */
	if (fleet_same_models(f, r, name, err) || fleet_thresholds(f, r, name, err))
		return -1;
	if (!f->first[0])
		snprintf(f->first, sizeof(f->first), "%s", name);
	ret = is_fleet ? fleet_add_fleet(f, r, name, err) : fleet_add_host(f, r, name, err);
	if (ret)
		avm_err_prefix(err, "%s", name);
	return ret;
}

/* ---- the result ---------------------------------------------------------------- */

/* The value of rank `need` (1-based) from the histogram: its bin's midpoint, clamped to [min, max]. */
static double fleet_rank(const struct fleet *f, double need)
{
	double seen = 0, v;
	int b;

	for (b = 0; b < FLEET_BINS + 2; b++) {
		seen += f->bins[b];
		if (seen >= need)
			break;
	}
	if (b == 0)
		return f->d_min;
	if (b == FLEET_BINS + 1)
		return f->d_max;
	v = -100.0 + (b - 1 + 0.5) * FLEET_BIN_PERCENT;
	return v < f->d_min ? f->d_min : v > f->d_max ? f->d_max : v;
}

/* The median (the mean of the two middle ranks for an even count), within half a bin. */
static double fleet_p50(const struct fleet *f)
{
	double n = f->d_n;

	if (fmod(n, 2) == 1)
		return fleet_rank(f, (n + 1) / 2);
	return (fleet_rank(f, n / 2) + fleet_rank(f, n / 2 + 1)) / 2;
}

static int fleet_distribution(struct fleet *f, struct avm_err *err)
{
	cJSON *d = cJSON_AddObjectToObject(f->root, "savings_distribution"), *h;

	if (!d || !cJSON_AddStringToObject(d, "of", "savings.total.peak.percent per host") ||
	    fleet_num(d, "hosts", f->d_n, err) || fleet_num(d, "bin_percent", FLEET_BIN_PERCENT, err))
		return fleet_oom(err);
	if (f->d_n > 0 &&
	    (fleet_num(d, "sum", f->d_sum, err) || fleet_num(d, "min", f->d_min, err) ||
	     fleet_num(d, "p50", fleet_p50(f), err) || fleet_num(d, "mean", f->d_sum / f->d_n, err) ||
	     fleet_num(d, "max", f->d_max, err)))
		return -1;
	if (!(h = cJSON_AddArrayToObject(d, "histogram")))
		return fleet_oom(err);
	for (int b = 0; b < FLEET_BINS + 2; b++) {
		cJSON *pair;

		if (!f->bins[b])
			continue;
		pair = cJSON_CreateArray();
		if (!pair || !cJSON_AddItemToArray(h, pair) ||
		    !cJSON_AddItemToArray(pair, cJSON_CreateNumber(b)) ||
		    !cJSON_AddItemToArray(pair, cJSON_CreateNumber(f->bins[b])))
			return fleet_oom(err);
	}
	return 0;
}

static int fleet_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct fleet_keys {
	const char **k;
	size_t n;
};

static void fleet_collect_key(void *ctx, const char *key, void *val)
{
	struct fleet_keys *ks = ctx;

	(void)val;
	ks->k[ks->n++] = key;
}

/* trace_ids: every merged trace, sorted (the same set whatever the merge tree). */
static int fleet_ids(struct fleet *f, struct avm_err *err)
{
	struct fleet_keys ks = { calloc(f->ids.n ? f->ids.n : 1, sizeof(char *)), 0 };
	cJSON *a = cJSON_AddArrayToObject(f->root, "trace_ids");
	int ret = -1;

	if (!ks.k || !a) {
		fleet_oom(err);
		goto out;
	}
	strmap_each(&f->ids, fleet_collect_key, &ks);
	qsort(ks.k, ks.n, sizeof(*ks.k), fleet_cmp_str);
	for (size_t i = 0; i < ks.n; i++) {
		cJSON *s = cJSON_CreateString(ks.k[i]);

		if (!s || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			fleet_oom(err);
			goto out;
		}
	}
	ret = 0;
out:
	free(ks.k);
	return ret;
}

int fleet_finish(struct fleet *f, cJSON **out, struct avm_err *err)
{
	struct report_thresholds th;
	struct config defaults;

	*out = NULL;
	if (f->hosts == 0)
		return avm_errf(err, "merge: no reports");
	if (!f->have_th) {
		config_defaults(&defaults);
		report_thresholds_from_config(&defaults, &th);
	} else {
		th = f->th;
	}
	if (fleet_num(f->root, "hosts", (double)f->hosts, err) ||
	    fleet_num(f->root, "duplicates", (double)f->duplicates, err) ||
	    fleet_num(f->root, "host_list_omitted", (double)f->omitted, err) ||
	    !cJSON_AddBoolToObject(f->trace, "complete", f->complete) ||
	    fleet_num(f->trace, "mem_bytes_known", f->mem_bytes, err) ||
	    fleet_num(f->trace, "mem_hosts", (double)f->mem_hosts, err) ||
	    !cJSON_AddItemToObject(f->trace, "mem_bytes", f->mem_hosts == f->hosts ?
				   cJSON_CreateNumber(f->mem_bytes) : cJSON_CreateNull()))
		return fleet_oom(err);
	if (fleet_ids(f, err) || report_update_savings(f->root, err) || fleet_distribution(f, err))
		return -1;
	{
		cJSON *top = cJSON_AddArrayToObject(f->root, "top_processes");

		if (!top)
			return fleet_oom(err);
		for (int i = 0; i < f->ntop; i++) {
			cJSON_AddItemToArray(top, f->top[i]);
			f->top[i] = NULL;
		}
		f->ntop = 0;
	}
	if (report_verdict(f->root, &th, err))
		return -1;
	*out = f->root;
	f->root = NULL;
	return 0;
}

int fleet_merge(const cJSON *const *reports, const char *const *names, size_t n, cJSON **out,
		struct avm_err *err)
{
	struct fleet *f = NULL;
	int ret = -1;

	*out = NULL;
	if (fleet_new(NULL, &f, err))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (fleet_add(f, reports[i], names[i], err) < 0)
			goto out;
	ret = fleet_finish(f, out, err);
out:
	fleet_free(f);
	return ret;
}
