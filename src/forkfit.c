/*
 * forkfit.c - least-squares fit of fork costs to measured latencies (forkfit.h).
 *
 * The fit solves the normal equations of the column-scaled design (every
 * column divided by its norm, so a count of 100,000 PTEs and the constant 1
 * meet on equal terms) by a Cholesky factorisation taken term by term in a
 * fixed order; a term whose pivot is ~0 is a linear combination of the terms
 * before it over these forks (constant, or always proportional to another)
 * and is not identifiable.  Standard errors come from s^2 (X'X)^-1 with
 * s^2 = RSS / (n - p).  Five terms at most, so everything is small and exact
 * enough in double precision.
 */
#include "forkfit.h"

#include "array.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A pivot below this share of the column's own norm^2 means "a combination of the others". */
#define FORKFIT_PIVOT_EPS 1e-9

void forkfit_rule_default(struct forkfit_rule *r)
{
	r->min_forks = FORKFIT_MIN_FORKS;
	r->min_r2 = FORKFIT_MIN_R2;
}

const char *forkfit_term_name(enum forkfit_term t)
{
	static const char *const names[FORKFIT_NR] = {
		[FORKFIT_BASE] = "base", [FORKFIT_VMA] = "vma", [FORKFIT_AVC] = "avc",
		[FORKFIT_PTE] = "pte", [FORKFIT_TABLE] = "table",
	};

	return (unsigned)t < FORKFIT_NR ? names[t] : "?";
}

int forkfit_add(struct forkfit *f, const double x[FORKFIT_NR], double y_ns, struct avm_err *err)
{
	struct forkfit_sample *s;

	if (f->n >= FORKFIT_MAX_SAMPLES) {
		f->over_cap++;
		return 0;
	}
	if (array_grow((void **)&f->s, &f->cap, f->n + 1, sizeof(*f->s), 256))
		return avm_errf(err, "out of memory (fork latencies)");
	s = &f->s[f->n++];
	memcpy(s->x, x, sizeof(s->x));
	s->x[FORKFIT_BASE] = 1;
	s->y = y_ns;
	return 0;
}

void forkfit_free(struct forkfit *f)
{
	free(f->s);
	memset(f, 0, sizeof(*f));
}

/* ---- one least-squares solve ------------------------------------------------------ */

struct ols {
	bool use[FORKFIT_NR];   /* in: candidate terms; out: the identifiable ones */
	double coef[FORKFIT_NR], se[FORKFIT_NR];
	double rss, tss;
	size_t n;
};

static double resid(const struct forkfit_sample *s, const double coef[FORKFIT_NR])
{
	double p = 0;

	for (int j = 0; j < FORKFIT_NR; j++)
		p += coef[j] * s->x[j];
	return s->y - p;
}

/* Fit over the samples with keep[i] (NULL: all). */
static void ols_solve(const struct forkfit *f, const bool *keep, struct ols *o)
{
	static const int order[FORKFIT_NR] = {
		FORKFIT_BASE, FORKFIT_PTE, FORKFIT_VMA, FORKFIT_AVC, FORKFIT_TABLE,
	};
	double xtx[FORKFIT_NR][FORKFIT_NR] = { { 0 } }, xty[FORKFIT_NR] = { 0 };
	double scale[FORKFIT_NR] = { 0 }, l[FORKFIT_NR][FORKFIT_NR] = { { 0 } };
	double z[FORKFIT_NR], inv[FORKFIT_NR][FORKFIT_NR] = { { 0 } }, sum = 0, mean, s2;
	int taken[FORKFIT_NR], p = 0;
	size_t i;

	o->n = 0;
	for (i = 0; i < f->n; i++) {
		const struct forkfit_sample *s = &f->s[i];

		if (keep && !keep[i])
			continue;
		o->n++;
		sum += s->y;
		for (int a = 0; a < FORKFIT_NR; a++) {
			xty[a] += s->x[a] * s->y;
			for (int b = 0; b < FORKFIT_NR; b++)
				xtx[a][b] += s->x[a] * s->x[b];
		}
	}
	for (int a = 0; a < FORKFIT_NR; a++) {
		o->coef[a] = o->se[a] = 0;
		scale[a] = sqrt(xtx[a][a]);
		if (scale[a] == 0)
			o->use[a] = false;
	}
	/* incremental Cholesky of the scaled X'X over the terms in order */
	for (int k = 0; k < FORKFIT_NR; k++) {
		int t = order[k];
		double y[FORKFIT_NR], d;

		if (!o->use[t])
			continue;
		d = 1; /* the scaled diagonal */
		for (int a = 0; a < p; a++) {
			double v = xtx[taken[a]][t] / (scale[taken[a]] * scale[t]);

			for (int b = 0; b < a; b++)
				v -= l[a][b] * y[b];
			y[a] = v / l[a][a];
			d -= y[a] * y[a];
		}
		if (d <= FORKFIT_PIVOT_EPS) {
			o->use[t] = false;
			continue;
		}
		for (int a = 0; a < p; a++)
			l[p][a] = y[a];
		l[p][p] = sqrt(d);
		taken[p++] = t;
	}
	/* solve L L' z = X'y (scaled) */
	for (int a = 0; a < p; a++) {
		double v = xty[taken[a]] / scale[taken[a]];

		for (int b = 0; b < a; b++)
			v -= l[a][b] * z[b];
		z[a] = v / l[a][a];
	}
	for (int a = p - 1; a >= 0; a--) {
		double v = z[a];

		for (int b = a + 1; b < p; b++)
			v -= l[b][a] * z[b];
		z[a] = v / l[a][a];
	}
	for (int a = 0; a < p; a++)
		o->coef[taken[a]] = z[a] / scale[taken[a]];
	/* (L L')^-1 column by column, for the standard errors */
	for (int c = 0; c < p; c++) {
		double e[FORKFIT_NR];

		for (int a = 0; a < p; a++) {
			double v = a == c ? 1 : 0;

			for (int b = 0; b < a; b++)
				v -= l[a][b] * e[b];
			e[a] = v / l[a][a];
		}
		for (int a = p - 1; a >= 0; a--) {
			double v = e[a];

			for (int b = a + 1; b < p; b++)
				v -= l[b][a] * e[b];
			e[a] = v / l[a][a];
		}
		for (int a = 0; a < p; a++)
			inv[a][c] = e[a];
	}
	mean = o->n ? sum / (double)o->n : 0;
	o->rss = o->tss = 0;
	for (i = 0; i < f->n; i++) {
		double r;

		if (keep && !keep[i])
			continue;
		r = resid(&f->s[i], o->coef);
		o->rss += r * r;
		o->tss += (f->s[i].y - mean) * (f->s[i].y - mean);
	}
	s2 = o->n > (size_t)p ? o->rss / (double)(o->n - (size_t)p) : 0;
	for (int a = 0; a < p; a++)
		o->se[taken[a]] = sqrt(s2 * inv[a][a]) / scale[taken[a]];
}

/* ---- quantiles --------------------------------------------------------------------- */

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* q-quantile (nearest rank) of v[0..n), sorting v. */
static double quantile(double *v, size_t n, double q)
{
	size_t k;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), dbl_cmp);
	k = (size_t)ceil(q * (double)n);
	return v[k ? k - 1 : 0];
}

/* ---- fit and rule ------------------------------------------------------------------ */

bool forkfit_term_refused_negative(enum forkfit_term t, double coef, double se)
{
	(void)t;
	return coef + 2 * se < 0;
}

bool forkfit_term_written(enum forkfit_term t)
{
	return t == FORKFIT_AVC || t == FORKFIT_PTE || t == FORKFIT_TABLE;
}

static void why_add(struct forkfit_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void why_add(struct forkfit_result *r, const char *fmt, ...)
{
	size_t len = strlen(r->why);
	va_list ap;

	if (len && len + 2 < sizeof(r->why)) {
		memcpy(r->why + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->why + len, sizeof(r->why) - len, fmt, ap);
	va_end(ap);
}

/* Residuals and latencies of the kept samples, into r. */
static void fill_stats(const struct forkfit *f, const bool *keep, struct forkfit_result *r,
		       double *buf)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		if (!keep || keep[i])
			buf[n++] = fabs(resid(&f->s[i], r->coef));
	r->resid_median = quantile(buf, n, 0.5);
	r->resid_p90 = quantile(buf, n, 0.9);
	r->resid_max = n ? buf[n - 1] : 0;
	n = 0;
	for (size_t i = 0; i < f->n; i++)
		if (!keep || keep[i])
			buf[n++] = f->s[i].y;
	r->lat_median = quantile(buf, n, 0.5);
	r->lat_p90 = quantile(buf, n, 0.9);
	r->lat_min = n ? buf[0] : 0;
	r->lat_max = n ? buf[n - 1] : 0;
}

void forkfit_solve(const struct forkfit *f, const struct forkfit_rule *rule,
		   struct forkfit_result *r)
{
	struct ols o;
	bool *keep = NULL;
	double *buf = NULL;
	size_t dropped = 0;

	memset(r, 0, sizeof(*r));
	r->forks = f->n;
	if (f->n == 0) {
		why_add(r, "no fork with a measured latency and a modelled address-space copy");
		return;
	}
	keep = malloc(f->n * sizeof(*keep));
	buf = malloc(f->n * sizeof(*buf));
	if (!keep || !buf) {
		why_add(r, "out of memory");
		goto out;
	}
	for (int j = 0; j < FORKFIT_NR; j++)
		o.use[j] = true;
	ols_solve(f, NULL, &o);
	/* one outlier pass: preempted or interrupted forks only ever take longer */
	for (size_t i = 0; i < f->n; i++)
		buf[i] = fabs(resid(&f->s[i], o.coef));
	{
		double sigma = 1.4826 * quantile(buf, f->n, 0.5);

		for (size_t i = 0; i < f->n; i++) {
			keep[i] = !(sigma > 0 && resid(&f->s[i], o.coef) > FORKFIT_OUTLIER_K * sigma);
			dropped += !keep[i];
		}
	}
	if (dropped && dropped * 10 <= f->n) {
		for (int j = 0; j < FORKFIT_NR; j++)
			o.use[j] = true;
		ols_solve(f, keep, &o);
		r->outliers = dropped;
	} else {
		for (size_t i = 0; i < f->n; i++)
			keep[i] = true;
	}
	r->used = o.n;
	memcpy(r->identifiable, o.use, sizeof(o.use));
	memcpy(r->coef, o.coef, sizeof(o.coef));
	memcpy(r->se, o.se, sizeof(o.se));
	r->r2 = o.tss > 0 ? 1 - o.rss / o.tss : 0;
	fill_stats(f, keep, r, buf);

	/* the rule */
	if (r->used < rule->min_forks || r->used <= FORKFIT_NR)
		why_add(r, "%zu forks usable, the rule needs at least %zu", r->used,
			rule->min_forks > FORKFIT_NR ? rule->min_forks : FORKFIT_NR + 1);
	{
		char names[64] = "";
		int n = 0;

		for (int j = 0; j < FORKFIT_NR; j++)
			if (!r->identifiable[j])
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					 n++ ? ", " : "", forkfit_term_name(j));
		if (n)
			why_add(r, "the %s term%s cannot be told apart from the others over these "
				   "forks (constant, or proportional to another)", names,
				n > 1 ? "s" : "");
	}
	for (int j = 0; j < FORKFIT_NR; j++)
		if (r->identifiable[j] && forkfit_term_refused_negative(j, r->coef[j], r->se[j]))
			why_add(r, "the %s term is negative (%.1f +- %.1f ns): the model's counts do "
				   "not explain the latencies", forkfit_term_name(j), r->coef[j],
				2 * r->se[j]);
	if (o.tss <= 0)
		why_add(r, "the latencies do not vary");
	else if (r->r2 < rule->min_r2)
		why_add(r, "R^2 %.3f is below %.2f", r->r2, rule->min_r2);
	r->accepted = r->why[0] == '\0';
	for (int j = 0; j < FORKFIT_NR; j++)
		r->resolved[j] = r->identifiable[j] && r->coef[j] - 2 * r->se[j] > 0;
out:
	free(keep);
	free(buf);
}

/* ---- output ------------------------------------------------------------------------ */

void forkfit_print(const struct forkfit_result *r, FILE *out)
{
	static const char *const what[FORKFIT_NR] = {
		[FORKFIT_BASE] = "per fork (not modelled)", [FORKFIT_VMA] = "per VMA copied",
		[FORKFIT_AVC] = "per AVC cloned", [FORKFIT_PTE] = "per PTE copied",
		[FORKFIT_TABLE] = "per page-table page",
	};

	if (r->forks == 0) {
		fprintf(out, "fork latencies: fit refused, fork costs not replaced: %s\n", r->why);
		return;
	}
	fprintf(out, "fork latencies: %zu forks, %zu used (%zu outliers dropped), R^2 %.3f, "
		     "|residual| median %.0f ns, p90 %.0f ns\n",
		r->forks, r->used, r->outliers, r->r2, r->resid_median, r->resid_p90);
	for (int j = 0; j < FORKFIT_NR; j++) {
		if (!r->identifiable[j]) {
			fprintf(out, "  %-24s not identifiable\n", what[j]);
			continue;
		}
		fprintf(out, "  %-24s %10.1f ns  +-2s [%.1f, %.1f]%s\n", what[j], r->coef[j],
			r->coef[j] - 2 * r->se[j], r->coef[j] + 2 * r->se[j],
			forkfit_term_written(j) && !r->resolved[j] ?
				"  not resolved (range reaches 0): not replaced" : "");
	}
	if (r->accepted) {
		static const enum forkfit_term written[] = { FORKFIT_PTE, FORKFIT_TABLE, FORKFIT_AVC };
		static const char *const key[] = { "fork.pte_copy_ns", "fork.table_ns",
						   "the AVC link costs" };
		int n = 0;

		fprintf(out, "  fit accepted, replaced:");
		for (int i = 0; i < 3; i++)
			if (r->resolved[written[i]])
				fprintf(out, "%s %s", n++ ? "," : "", key[i]);
		fprintf(out, "%s\n", n ? "" : " nothing (no cost term resolved)");
	} else
		fprintf(out, "  fit refused, fork costs not replaced: %s\n", r->why);
}

static bool add_num(cJSON *o, const char *k, double v)
{
	return cJSON_AddNumberToObject(o, k, v) != NULL;
}

cJSON *forkfit_json(const struct forkfit_result *r, struct avm_err *err)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *res = o ? cJSON_AddObjectToObject(o, "residual_ns") : NULL;
	cJSON *lat = o ? cJSON_AddObjectToObject(o, "latency_ns") : NULL;
	cJSON *terms = o ? cJSON_AddObjectToObject(o, "terms") : NULL;
	bool ok = o && res && lat && terms;

	ok = ok && cJSON_AddBoolToObject(o, "accepted", r->accepted) &&
	     (r->accepted ? cJSON_AddNullToObject(o, "why") != NULL :
			    cJSON_AddStringToObject(o, "why", r->why) != NULL) &&
	     add_num(o, "forks", (double)r->forks) && add_num(o, "used", (double)r->used) &&
	     add_num(o, "outliers", (double)r->outliers) && add_num(o, "r2", r->r2);
	ok = ok && add_num(res, "median", r->resid_median) && add_num(res, "p90", r->resid_p90) &&
	     add_num(res, "max", r->resid_max);
	ok = ok && add_num(lat, "min", r->lat_min) && add_num(lat, "median", r->lat_median) &&
	     add_num(lat, "p90", r->lat_p90) && add_num(lat, "max", r->lat_max);
	for (int j = 0; ok && j < FORKFIT_NR; j++) {
		cJSON *t = cJSON_AddObjectToObject(terms, forkfit_term_name(j));

		if (!t)
			ok = false;
		else if (!r->identifiable[j])
			ok = cJSON_AddNullToObject(t, "value") != NULL;
		else
			ok = add_num(t, "value", r->coef[j]) &&
			     add_num(t, "low", r->coef[j] - 2 * r->se[j]) &&
			     add_num(t, "high", r->coef[j] + 2 * r->se[j]) &&
			     add_num(t, "se", r->se[j]) &&
			     cJSON_AddBoolToObject(t, "resolved", r->resolved[j]);
	}
	if (!ok) {
		cJSON_Delete(o);
		avm_errf(err, "out of memory (fork fit report)");
		return NULL;
	}
	return o;
}
