/*
 * repdiff.c - key-by-key deltas between two reports; see repdiff.h.
 *
 * Each report is flattened once into a list of (dotted key, scalar item)
 * in document order, with a strmap from key to position.  The diff walks
 * A's list (changed keys, keys only in A), then B's (keys only in B), so
 * its order follows the report's own layout (trace, models, savings,
 * verdict) as perf diff follows its baseline.  Left out of the flattening,
 * and named in "not_compared": histogram buckets, the time series and
 * arrays of more than REPDIFF_MAX_ARRAY items (trace_ids, a long host_list);
 * their summary keys (count, p50, p99, max) are compared.
 *
 * Same trace: both reports' trace.id (a fleet: the same trace_ids); a
 * report without an id is identified as the fleet merge does (file name,
 * events, span, kernel), and the diff says the identity is derived.
 */
#include "repdiff.h"

#include "report.h"
#include "strmap.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REPDIFF_MAX_ARRAY 64

struct repdiff_flat {
	char **key;
	const cJSON **item;
	size_t n, cap;
	struct strmap pos;      /* key -> (void *)(position + 1) */
	cJSON *skipped;         /* keys not compared */
};

static int repdiff_oom(struct avm_err *err)
{
	return avm_errf(err, "diff: out of memory");
}

static int repdiff_push(struct repdiff_flat *f, const char *key, const cJSON *it, struct avm_err *err)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 256;
		char **k = realloc(f->key, cap * sizeof(*k));
		const cJSON **v;

		if (!k)
			return repdiff_oom(err);
		f->key = k;
		v = realloc(f->item, cap * sizeof(*v));
		if (!v)
			return repdiff_oom(err);
		f->item = v;
		f->cap = cap;
	}
	f->key[f->n] = strdup(key);
	if (!f->key[f->n] || strmap_put(&f->pos, key, (void *)(uintptr_t)(f->n + 1))) {
		free(f->key[f->n]);
		return repdiff_oom(err);
	}
	f->item[f->n++] = it;
	return 0;
}

static int repdiff_skip(struct repdiff_flat *f, const char *key, struct avm_err *err)
{
	cJSON *s = cJSON_CreateString(key);

	if (!s || !cJSON_AddItemToArray(f->skipped, s)) {
		cJSON_Delete(s);
		return repdiff_oom(err);
	}
	return 0;
}

static int repdiff_walk(struct repdiff_flat *f, const cJSON *node, const char *prefix,
			struct avm_err *err)
{
	const cJSON *c;
	int i = 0;

	cJSON_ArrayForEach(c, node) {
		char key[512];

		if (cJSON_IsArray(node))
			snprintf(key, sizeof(key), "%s%s%d", prefix, *prefix ? "." : "", i++);
		else
			snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", c->string);
		if (c->string && (!strcmp(c->string, "buckets") || !strcmp(c->string, "histogram") ||
				  !strcmp(c->string, "series"))) {
			if (repdiff_skip(f, key, err))
				return -1;
		} else if (cJSON_IsArray(c) && cJSON_GetArraySize(c) > REPDIFF_MAX_ARRAY) {
			if (repdiff_skip(f, key, err))
				return -1;
		} else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
			if (repdiff_walk(f, c, key, err))
				return -1;
		} else if (repdiff_push(f, key, c, err)) {
			return -1;
		}
	}
	return 0;
}

static void repdiff_flat_free(struct repdiff_flat *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->key[i]);
	free(f->key);
	free(f->item);
	strmap_free(&f->pos, NULL);
	cJSON_Delete(f->skipped);
}

/* The identity of a report's trace(s) as text, and whether it is derived (no id recorded). */
static void repdiff_identity(const cJSON *r, char *buf, size_t len, bool *derived)
{
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(r, "trace");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(tr, "id");
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(r, "trace_ids"), *it;
	size_t o = 0;

	*derived = false;
	buf[0] = '\0';
	if (cJSON_IsString(id) && id->valuestring[0]) {
		snprintf(buf, len, "%s", id->valuestring);
		return;
	}
	if (cJSON_IsArray(ids)) {
		cJSON_ArrayForEach(it, ids)
			if (cJSON_IsString(it) && o < len)
				o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," : "",
						      it->valuestring);
		return;
	}
	*derived = true;
	snprintf(buf, len, "derived:%s:%.0f:%.0f:%s",
		 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tr, "file")) ?
			 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tr, "file")) : "?",
		 report_number(tr, "events"), report_number(tr, "duration_ns"),
		 cJSON_GetStringValue(report_path(tr, "host.kernel_release")) ?
			 cJSON_GetStringValue(report_path(tr, "host.kernel_release")) : "?");
}

static cJSON *repdiff_side(const cJSON *r, const char *name, const char *ident, bool derived)
{
	cJSON *s = cJSON_CreateObject();
	const char *schema = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "schema"));

	if (!s || !cJSON_AddStringToObject(s, "report", name) ||
	    !cJSON_AddStringToObject(s, "schema", schema ? schema : "?") ||
	    !cJSON_AddItemToObject(s, "trace_id", derived ? cJSON_CreateNull() : cJSON_CreateString(ident))) {
		cJSON_Delete(s);
		return NULL;
	}
	return s;
}

static bool repdiff_equal(const cJSON *a, const cJSON *b)
{
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
		return a->valuedouble == b->valuedouble;
	return cJSON_Compare(a, b, true);
}

static int repdiff_change(cJSON *changed, const char *key, const cJSON *a, const cJSON *b,
			  struct avm_err *err)
{
	cJSON *c = cJSON_CreateObject();

	if (!c || !cJSON_AddItemToArray(changed, c) || !cJSON_AddStringToObject(c, "key", key) ||
	    !cJSON_AddItemToObject(c, "a", cJSON_Duplicate(a, 1)) ||
	    !cJSON_AddItemToObject(c, "b", cJSON_Duplicate(b, 1)))
		return repdiff_oom(err);
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
		double d = b->valuedouble - a->valuedouble;

		if (!cJSON_AddNumberToObject(c, "delta", d) ||
		    !cJSON_AddItemToObject(c, "percent", a->valuedouble != 0 ?
					   cJSON_CreateNumber(100.0 * d / fabs(a->valuedouble)) :
					   cJSON_CreateNull()))
			return repdiff_oom(err);
	}
	return 0;
}

static int repdiff_add_key(cJSON *arr, const char *key, struct avm_err *err)
{
	cJSON *s = cJSON_CreateString(key);

	if (!s || !cJSON_AddItemToArray(arr, s)) {
		cJSON_Delete(s);
		return repdiff_oom(err);
	}
	return 0;
}

int repdiff_build(const cJSON *a, const cJSON *b, const char *aname, const char *bname,
		  cJSON **out, struct avm_err *err)
{
	struct repdiff_flat fa = { 0 }, fb = { 0 };
	char ia[4096], ib[4096];
	bool da, db, same;
	cJSON *d = cJSON_CreateObject(), *changed, *only_a, *only_b;
	double unchanged = 0;
	int ret = -1;

	*out = NULL;
	fa.skipped = cJSON_CreateArray();
	fb.skipped = cJSON_CreateArray();
	if (!d || !fa.skipped || !fb.skipped) {
		repdiff_oom(err);
		goto out;
	}
	if (repdiff_walk(&fa, a, "", err) || repdiff_walk(&fb, b, "", err))
		goto out;
	repdiff_identity(a, ia, sizeof(ia), &da);
	repdiff_identity(b, ib, sizeof(ib), &db);
	same = !strcmp(ia, ib);
	if (!cJSON_AddStringToObject(d, "schema", REPDIFF_SCHEMA) ||
	    !cJSON_AddItemToObject(d, "a", repdiff_side(a, aname, ia, da)) ||
	    !cJSON_AddItemToObject(d, "b", repdiff_side(b, bname, ib, db)) ||
	    !cJSON_AddBoolToObject(d, "same_trace", same) ||
	    !cJSON_AddBoolToObject(d, "identity_derived", da || db) ||
	    !(changed = cJSON_AddArrayToObject(d, "changed")) ||
	    !(only_a = cJSON_AddArrayToObject(d, "only_a")) ||
	    !(only_b = cJSON_AddArrayToObject(d, "only_b"))) {
		repdiff_oom(err);
		goto out;
	}
	for (size_t i = 0; i < fa.n; i++) {
		size_t j = (size_t)(uintptr_t)strmap_get(&fb.pos, fa.key[i]);

		if (!j) {
			if (repdiff_add_key(only_a, fa.key[i], err))
				goto out;
		} else if (!repdiff_equal(fa.item[i], fb.item[j - 1])) {
			if (repdiff_change(changed, fa.key[i], fa.item[i], fb.item[j - 1], err))
				goto out;
		} else {
			unchanged++;
		}
	}
	for (size_t j = 0; j < fb.n; j++)
		if (!strmap_has(&fa.pos, fb.key[j]) && repdiff_add_key(only_b, fb.key[j], err))
			goto out;
	if (!cJSON_AddNumberToObject(d, "unchanged", unchanged) ||
	    !cJSON_AddItemToObject(d, "not_compared", fa.skipped)) {
		repdiff_oom(err);
		goto out;
	}
	fa.skipped = NULL;
	*out = d;
	d = NULL;
	ret = 0;
out:
	repdiff_flat_free(&fa);
	repdiff_flat_free(&fb);
	cJSON_Delete(d);
	return ret;
}

/* A scalar as short text. */
static void repdiff_text(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsNumber(v))
		snprintf(buf, len, "%.6g", v->valuedouble);
	else if (cJSON_IsString(v))
		snprintf(buf, len, "%s", v->valuestring);
	else if (cJSON_IsBool(v))
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else
		snprintf(buf, len, "null");
}

int repdiff_print(const cJSON *d, FILE *out, struct avm_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "a");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(d, "b"), *c;
	const cJSON *ida = cJSON_GetObjectItemCaseSensitive(a, "trace_id");
	const cJSON *idb = cJSON_GetObjectItemCaseSensitive(b, "trace_id");
	const cJSON *changed = cJSON_GetObjectItemCaseSensitive(d, "changed");

	fprintf(out, "anonvma diff: A = %s (trace %s), B = %s (trace %s)\n",
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "report")),
		cJSON_IsString(ida) ? ida->valuestring : "id not recorded",
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "report")),
		cJSON_IsString(idb) ? idb->valuestring : "id not recorded");
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(d, "same_trace")))
		fprintf(out, "warning: A and B come from different traces: the deltas mix a workload "
			     "difference with any config difference\n");
	else
		fprintf(out, "same trace%s: every delta comes from the config, the arch or the "
			     "anonvma version\n",
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "identity_derived"))
				? " (judged from file name, events, span and kernel: no trace id recorded)"
				: "");
	fprintf(out, "%d keys changed, %.0f unchanged, %d only in A, %d only in B\n",
		cJSON_GetArraySize(changed), report_number(d, "unchanged"),
		cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "only_a")),
		cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "only_b")));
	if (cJSON_GetArraySize(changed))
		fprintf(out, "%-56s %16s %16s %16s %9s\n", "key", "A", "B", "delta", "%");
	cJSON_ArrayForEach(c, changed) {
		const cJSON *va = cJSON_GetObjectItemCaseSensitive(c, "a");
		const cJSON *vb = cJSON_GetObjectItemCaseSensitive(c, "b");
		const cJSON *dl = cJSON_GetObjectItemCaseSensitive(c, "delta");
		const cJSON *pc = cJSON_GetObjectItemCaseSensitive(c, "percent");
		char ta[64], tb[64], td[32] = "", tp[16] = "";

		repdiff_text(va, ta, sizeof(ta));
		repdiff_text(vb, tb, sizeof(tb));
		if (cJSON_IsNumber(dl))
			snprintf(td, sizeof(td), "%+.6g", dl->valuedouble);
		if (cJSON_IsNumber(pc))
			snprintf(tp, sizeof(tp), "%+.1f%%", pc->valuedouble);
		else if (cJSON_IsNumber(dl))
			snprintf(tp, sizeof(tp), "new");
		if (!cJSON_IsNumber(va) || !cJSON_IsNumber(vb))
			fprintf(out, "%s\n    A: %s\n    B: %s\n",
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "key")), ta, tb);
		else
			fprintf(out, "%-56s %16s %16s %16s %9s\n",
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "key")), ta, tb,
				td, tp);
	}
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(d, "only_a"))
		fprintf(out, "only in A: %s\n", cJSON_GetStringValue(c));
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(d, "only_b"))
		fprintf(out, "only in B: %s\n", cJSON_GetStringValue(c));
	if (ferror(out))
		return avm_errf(err, "diff: write failed");
	return 0;
}
