/*
 * verdict.c - the verdict rule, fork work records and the sensitivity
 * analysis (see verdict.h and docs/verdict.md).
 *
 * Re-judging.  A variant of the costs (one constant moved) changes only the
 * cost figures of each world: its simulated waits and failed trylocks
 * (locks_log_resim replays the world's section log with the new lengths)
 * and its fork costs (verdict_forks_cost re-costs the recorded work).  The
 * saving and the trace facts do not depend on costs, so they are taken from
 * the input as they are.  A world whose logged work uses none of the moved
 * constant's op keeps its baseline figures (one cache entry per world).
 *
 * Flip points.  For a constant whose low or high end gives another answer
 * than the baseline, the value where the answer changes is found by
 * bisection on whole nanoseconds between the baseline value and that end
 * (the costs are integers); `flip_at` is the first value, going from the
 * baseline towards that end, that gives the other answer.
 */
#include "verdict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"

/* ---- the rule --------------------------------------------------------------------- */

const char *verdict_crit_name(enum verdict_crit c)
{
	static const char *const names[VERDICT_CRIT_NR] = {
		[VERDICT_SAVING] = "saving",       [VERDICT_LOCK_WAIT] = "lock_wait",
		[VERDICT_TRYLOCK] = "trylock_failed", [VERDICT_FORK_MEAN] = "fork_mean",
		[VERDICT_FORK_P99] = "fork_p99",
	};

	return (unsigned)c < VERDICT_CRIT_NR ? names[c] : "?";
}

const char *verdict_state_name(enum verdict_state s)
{
	return s == VERDICT_PASS ? "pass" : s == VERDICT_FAIL ? "fail" : "not_judged";
}

/* A cost criterion: fails only beyond both the relative threshold and the floor. */
static void judge_cost(struct verdict_crit_result *c, double eager, double lazy, double max_pct,
		       double floor)
{
	c->eager = eager;
	c->lazy = lazy;
	c->delta = lazy - eager;
	c->percent = eager > 0 ? 100.0 * (lazy - eager) / eager : lazy > 0 ? INFINITY : 0;
	c->state = c->percent > max_pct && c->delta > floor ? VERDICT_FAIL : VERDICT_PASS;
}

static void not_judged(struct verdict_crit_result *c, const char *why)
{
	c->state = VERDICT_NOT_JUDGED;
	c->eager = c->lazy = c->delta = c->percent = NAN;
	c->why_not = why;
}

void verdict_judge(const struct verdict_input *in, const struct verdict_rule *r,
		   struct verdict_result *out)
{
	const struct verdict_model *e = &in->base, *l = &in->model;
	double secs = in->duration_ns / 1e9, forks = e->forks < l->forks ? e->forks : l->forks;
	bool pays = true;
	int i;

	memset(out, 0, sizeof(*out));
	/* the saving */
	if (isnan(in->saving_percent)) {
		not_judged(&out->c[VERDICT_SAVING], "eager holds no anon rmap memory");
		pays = false; /* no saving, no pay-off */
	} else {
		struct verdict_crit_result *c = &out->c[VERDICT_SAVING];

		c->lazy = c->percent = in->saving_percent;
		c->eager = r->min_saving_percent;
		c->delta = in->saving_percent - r->min_saving_percent;
		c->state = in->saving_percent >= r->min_saving_percent ? VERDICT_PASS : VERDICT_FAIL;
	}
	/* locks: waiting and failed trylocks per second of trace */
	if (!e->has_locks || !l->has_locks) {
		not_judged(&out->c[VERDICT_LOCK_WAIT], "no locks section (replay with an arch model)");
		not_judged(&out->c[VERDICT_TRYLOCK], "no locks section (replay with an arch model)");
	} else if (!(secs > 0)) {
		not_judged(&out->c[VERDICT_LOCK_WAIT], "the trace spans no time");
		not_judged(&out->c[VERDICT_TRYLOCK], "the trace spans no time");
	} else {
		judge_cost(&out->c[VERDICT_LOCK_WAIT], e->wait_ns / secs, l->wait_ns / secs,
			   r->max_lock_wait_regression_percent, r->lock_wait_floor_ns_per_s);
		judge_cost(&out->c[VERDICT_TRYLOCK], e->trylock_failed / secs,
			   l->trylock_failed / secs, r->max_lock_wait_regression_percent,
			   r->trylock_floor_per_s);
	}
	/* fork: the mean decides from min_forks_mean forks, the p99 from min_forks_p99 */
	if (!e->has_fork || !l->has_fork) {
		not_judged(&out->c[VERDICT_FORK_MEAN], "no fork_cost section (replay with an arch model)");
		not_judged(&out->c[VERDICT_FORK_P99], "no fork_cost section (replay with an arch model)");
	} else {
		if (forks < r->min_forks_mean || forks < 1)
			not_judged(&out->c[VERDICT_FORK_MEAN], "too few forks");
		else
			judge_cost(&out->c[VERDICT_FORK_MEAN], e->fork_mean_ns, l->fork_mean_ns,
				   r->max_fork_cost_regression_percent, r->fork_cost_floor_ns);
		if (forks < r->min_forks_p99 || forks < 1)
			not_judged(&out->c[VERDICT_FORK_P99], "too few forks");
		else
			judge_cost(&out->c[VERDICT_FORK_P99], e->fork_p99_ns, l->fork_p99_ns,
				   r->max_fork_cost_regression_percent, r->fork_cost_floor_ns);
	}
	for (i = 0; i < VERDICT_CRIT_NR; i++)
		pays &= out->c[i].state != VERDICT_FAIL;
	/* can the trace support an answer at all? */
	out->lost_share = in->lost_events > 0 ? in->lost_events / (in->events + in->lost_events) : 0;
	out->skipped_share = in->skipped_events > 0 ?
			     in->skipped_events / (in->events + in->skipped_events) : 0;
	if (out->lost_share > r->max_lost_share)
		out->undecided |= VERDICT_UNDECIDED_LOST;
	if (!in->complete)
		out->undecided |= VERDICT_UNDECIDED_INCOMPLETE;
	if (out->skipped_share > r->max_skipped_share)
		out->undecided |= VERDICT_UNDECIDED_SKIPPED;
	out->pays = out->undecided ? -1 : pays;
}

/* ---- fork work ------------------------------------------------------------------------ */

struct verdict_forks {
	uint64_t n;
	struct locks_mark sum;
	struct locks_mark *sample;
	size_t nsample, cap;
	uint64_t rng;
	uint64_t used; /* ops with work in some fork (bit LOCKS_OP_NR: walks) */
};

int verdict_forks_create(struct verdict_forks **out, struct avm_err *err)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return avm_errf(err, "out of memory (fork work)");
	(*out)->rng = 0x9e3779b97f4a7c15ULL;
	return 0;
}

void verdict_forks_destroy(struct verdict_forks *f)
{
	if (!f)
		return;
	free(f->sample);
	free(f);
}

static uint64_t forks_rand(struct verdict_forks *f)
{
	/* xorshift64*: a fixed seed, so a replay's sample is reproducible */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 2685821657736338717ULL;
}

int verdict_forks_add(struct verdict_forks *f, const struct locks_mark *m, struct avm_err *err)
{
	int i;

	f->n++;
	for (i = 0; i < LOCKS_OP_NR; i++) {
		f->sum.n[i] += m->n[i];
		f->used |= m->n[i] ? 1ULL << i : 0;
	}
	f->used |= m->pt_walks ? 1ULL << LOCKS_OP_NR : 0;
	f->sum.pt_walks += m->pt_walks;
	f->sum.fixed_ns += m->fixed_ns;
	if (f->nsample < VERDICT_FORK_SAMPLE) {
		if (array_grow((void **)&f->sample, &f->cap, f->nsample + 1, sizeof(*f->sample), 256))
			return avm_errf(err, "out of memory (fork work)");
		f->sample[f->nsample++] = *m;
	} else {
		/* reservoir sampling: every fork is in the sample with the same chance */
		uint64_t j = forks_rand(f) % f->n;

		if (j < VERDICT_FORK_SAMPLE)
			f->sample[j] = *m;
	}
	return 0;
}

uint64_t verdict_forks_count(const struct verdict_forks *f)
{
	return f ? f->n : 0;
}

size_t verdict_forks_bytes(const struct verdict_forks *f)
{
	return f ? sizeof(*f) + f->cap * sizeof(*f->sample) : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void verdict_forks_cost(const struct verdict_forks *f, const struct locks_recost *c,
			double *mean, double *p99)
{
	uint64_t *v, rank;
	size_t i;

	*mean = *p99 = 0;
	if (!f || f->n == 0)
		return;
	*mean = (double)locks_mark_cost(&f->sum, c) / (double)f->n;
	v = malloc(f->nsample * sizeof(*v));
	if (!v) {
		*p99 = NAN;
		return;
	}
	for (i = 0; i < f->nsample; i++)
		v[i] = locks_mark_cost(&f->sample[i], c);
	qsort(v, f->nsample, sizeof(*v), cmp_u64);
	rank = (uint64_t)ceil(0.99 * (double)f->nsample);
	if (rank < 1)
		rank = 1;
	*p99 = (double)v[rank - 1];
	free(v);
}

/* ---- sensitivity ------------------------------------------------------------------------ */

/* One world's figures under some costs, and the costs they were computed with. */
struct sens_cache {
	bool valid;
	struct locks_recost costs;
	struct verdict_model fig;
};

struct sens {
	const struct verdict_input *in;
	const struct verdict_rule *r;
	const struct verdict_world *w[2];
	uint64_t used[2];   /* ops (bit LOCKS_OP_NR: walks) each world's work uses */
	struct sens_cache cache[2];
	uint64_t resims;
	struct avm_err *err;
};

static bool same_costs(const struct locks_recost *a, const struct locks_recost *b, uint64_t used)
{
	int i;

	for (i = 0; i < LOCKS_OP_NR; i++)
		if ((used >> i & 1) && a->rmap.ns[i] != b->rmap.ns[i])
			return false;
	return !(used >> LOCKS_OP_NR & 1) || a->walk_ns == b->walk_ns;
}

/* A world's lock and fork figures under c (cached when c moves nothing it uses). */
static int sens_world(struct sens *s, int k, const struct locks_recost *c, struct verdict_model *m)
{
	struct sens_cache *ca = &s->cache[k];
	const struct verdict_world *w = s->w[k];

	*m = k ? s->in->model : s->in->base;
	if (ca->valid && same_costs(&ca->costs, c, s->used[k])) {
		*m = ca->fig;
		return 0;
	}
	if (m->has_locks && w->locks) {
		struct locks_resim rs;

		if (locks_log_resim(w->locks, c, &rs, s->err))
			return -1;
		m->wait_ns = (double)rs.wait_ns;
		m->trylock_failed = (double)rs.trylock_failed;
		s->resims++;
	}
	if (m->has_fork && w->forks)
		verdict_forks_cost(w->forks, c, &m->fork_mean_ns, &m->fork_p99_ns);
	ca->valid = true;
	ca->costs = *c;
	ca->fig = *m;
	return 0;
}

static int sens_judge(struct sens *s, const struct locks_recost *c, struct verdict_result *res)
{
	struct verdict_input in = *s->in;

	if (sens_world(s, 0, c, &in.base) || sens_world(s, 1, c, &in.model))
		return -1;
	verdict_judge(&in, s->r, res);
	return 0;
}

static void set_const(struct locks_recost *c, const struct verdict_const *k, double v)
{
	uint64_t ns = v > 0 ? (uint64_t)llround(v * (k->op == LOCKS_OP_NR ? k->mult : 1)) : 0;

	if (k->op == LOCKS_OP_NR)
		c->walk_ns = ns;
	else if (k->op >= 0 && k->op < LOCKS_OP_NR)
		c->rmap.ns[k->op] = ns;
}

/*
 * How much worse lazy's costs look than eager's, summed over the judged
 * cost criteria, each scaled by its eager figure or floor: picks which end
 * of a constant favours which design.
 */
static double lazy_badness(const struct verdict_result *res, const struct verdict_rule *r)
{
	const double floors[VERDICT_CRIT_NR] = {
		[VERDICT_LOCK_WAIT] = r->lock_wait_floor_ns_per_s,
		[VERDICT_TRYLOCK] = r->trylock_floor_per_s,
		[VERDICT_FORK_MEAN] = r->fork_cost_floor_ns,
		[VERDICT_FORK_P99] = r->fork_cost_floor_ns,
	};
	double b = 0;
	int i;

	for (i = VERDICT_LOCK_WAIT; i < VERDICT_CRIT_NR; i++) {
		const struct verdict_crit_result *c = &res->c[i];
		double scale = fabs(c->eager) > floors[i] ? fabs(c->eager) : floors[i];

		if (c->state != VERDICT_NOT_JUDGED)
			b += c->delta / (scale > 0 ? scale : 1);
	}
	return b;
}

static cJSON *pays_json(int pays)
{
	return pays < 0 ? cJSON_CreateNull() : cJSON_CreateBool(pays);
}

/* Bisect integer values between from (baseline answer) and to (other answer). */
static int sens_flip(struct sens *s, const struct locks_recost *base, const struct verdict_const *k,
		     double from, double to, int base_pays, double *flip_at)
{
	double a = llround(from), b = llround(to);
	struct locks_recost c = *base;
	struct verdict_result res;

	while (fabs(b - a) > 1) {
		double mid = llround((a + b) / 2);

		if (mid == a || mid == b)
			break;
		set_const(&c, k, mid);
		if (sens_judge(s, &c, &res))
			return -1;
		if (res.pays == base_pays)
			a = mid;
		else
			b = mid;
	}
	*flip_at = b;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool add_num(cJSON *o, const char *k, double v)
{
	return isfinite(v) ? cJSON_AddNumberToObject(o, k, v) != NULL
			   : cJSON_AddNullToObject(o, k) != NULL;
}

int verdict_sensitivity(const struct verdict_input *in, const struct verdict_rule *r,
			const struct locks_recost *base, const struct verdict_const *k, size_t nk,
			const struct verdict_world *eager, const struct verdict_world *lazy,
			cJSON **out, int *robust, struct avm_err *err)
{
	struct sens s = { .in = in, .r = r, .w = { eager, lazy }, .err = err };
	struct verdict_result res, lo, hi;
	struct locks_recost corner[2] = { *base, *base }; /* 0 favours lazy, 1 eager */
	cJSON *o = cJSON_CreateObject(), *consts, *flipping, *unranged, *unjudged, *cj, *corners;
	double t0 = now_s();
	int base_pays, ret = -1;
	bool all_agree = true;
	size_t i;

	*out = NULL;
	*robust = -1;
	for (i = 0; i < 2; i++) {
		const struct verdict_world *w = s.w[i];

		s.used[i] = (w && w->locks ? locks_log_ops_used(w->locks) : 0) |
			    (w && w->forks ? w->forks->used : 0);
	}
	if (!o || !(consts = cJSON_AddArrayToObject(o, "constants")) ||
	    !(flipping = cJSON_AddArrayToObject(o, "flipping")) ||
	    !(unranged = cJSON_AddArrayToObject(o, "unranged")) ||
	    !(unjudged = cJSON_AddArrayToObject(o, "not_in_judged_figures")))
		goto oom;
	if (sens_judge(&s, base, &res))
		goto out;
	base_pays = res.pays;
	if (!cJSON_AddItemToObject(o, "baseline", pays_json(base_pays)))
		goto oom;
	if (base_pays < 0) {
		/* undecided whatever the costs: the trace cannot support an answer */
		*out = o;
		return 0;
	}
	for (i = 0; i < nk; i++) {
		const struct verdict_const *c = &k[i];
		struct locks_recost v = *base;
		double flip = NAN;
		int flip_to = -1;

		if (!c->ranged && !cJSON_AddItemToArray(unranged, cJSON_CreateString(c->key)))
			goto oom;
		if (c->op < 0) {
			if (!cJSON_AddItemToArray(unjudged, cJSON_CreateString(c->key)))
				goto oom;
			continue;
		}
		set_const(&v, c, c->low);
		if (sens_judge(&s, &v, &lo))
			goto out;
		set_const(&v, c, c->high);
		if (sens_judge(&s, &v, &hi))
			goto out;
		/* the corners: each constant at the end that favours each design */
		set_const(&corner[0], c, lazy_badness(&lo, r) <= lazy_badness(&hi, r) ? c->low : c->high);
		set_const(&corner[1], c, lazy_badness(&lo, r) <= lazy_badness(&hi, r) ? c->high : c->low);
		if (lo.pays != base_pays && c->low < c->value) {
			if (sens_flip(&s, base, c, c->value, c->low, base_pays, &flip))
				goto out;
			flip_to = lo.pays;
		} else if (hi.pays != base_pays && c->high > c->value) {
			if (sens_flip(&s, base, c, c->value, c->high, base_pays, &flip))
				goto out;
			flip_to = hi.pays;
		}
		all_agree &= lo.pays == base_pays && hi.pays == base_pays;
		cj = cJSON_CreateObject();
		if (!cj || !cJSON_AddItemToArray(consts, cj) ||
		    !cJSON_AddStringToObject(cj, "key", c->key) || !add_num(cj, "value", c->value) ||
		    !add_num(cj, "low", c->low) || !add_num(cj, "high", c->high) ||
		    !cJSON_AddBoolToObject(cj, "ranged", c->ranged) ||
		    !cJSON_AddItemToObject(cj, "at_low", pays_json(lo.pays)) ||
		    !cJSON_AddItemToObject(cj, "at_high", pays_json(hi.pays)) ||
		    !cJSON_AddBoolToObject(cj, "flips", flip_to >= 0 || lo.pays != hi.pays) ||
		    !add_num(cj, "flip_at", flip))
			goto oom;
		if ((flip_to >= 0 || lo.pays != hi.pays) &&
		    !cJSON_AddItemToArray(flipping, cJSON_CreateString(c->key)))
			goto oom;
	}
	if (!(corners = cJSON_AddObjectToObject(o, "corners")))
		goto oom;
	for (i = 0; i < 2; i++) {
		static const char *const names[] = { "favour_lazy", "favour_eager" };
		cJSON *vals, *co;

		if (sens_judge(&s, &corner[i], &res))
			goto out;
		all_agree &= res.pays == base_pays;
		if (!(co = cJSON_AddObjectToObject(corners, names[i])) ||
		    !cJSON_AddItemToObject(co, "lazy_pays_off", pays_json(res.pays)) ||
		    !(vals = cJSON_AddObjectToObject(co, "values")))
			goto oom;
		for (size_t j = 0; j < nk; j++) {
			double v = k[j].op == LOCKS_OP_NR ?
				   (double)corner[i].walk_ns / (k[j].mult > 0 ? k[j].mult : 1) :
				   k[j].op >= 0 ? (double)corner[i].rmap.ns[k[j].op] : NAN;

			if (k[j].op >= 0 && !add_num(vals, k[j].key, v))
				goto oom;
		}
	}
	*robust = base_pays < 0 ? -1 : all_agree;
	{
		struct locks_log_stats ls[2];
		cJSON *cost = cJSON_AddObjectToObject(o, "cost");
		double bytes = 0;

		for (i = 0; i < 2; i++) {
			memset(&ls[i], 0, sizeof(ls[i]));
			if (s.w[i] && s.w[i]->locks)
				locks_log_stats(s.w[i]->locks, &ls[i]);
			bytes += (double)ls[i].bytes + (double)verdict_forks_bytes(s.w[i] ? s.w[i]->forks : NULL);
		}
		if (!cost || !add_num(cost, "seconds", now_s() - t0) ||
		    !add_num(cost, "resimulations", (double)s.resims) ||
		    !add_num(cost, "bytes", bytes) ||
		    !add_num(cost, "sections", (double)(ls[0].sections + ls[1].sections)) ||
		    !add_num(cost, "sections_logged", (double)(ls[0].logged + ls[1].logged)) ||
		    !add_num(cost, "sections_folded", (double)(ls[0].folded + ls[1].folded)) ||
		    !add_num(cost, "sections_unsimulated",
			     (double)(ls[0].unsimulated + ls[1].unsimulated)))
			goto oom;
	}
	*out = o;
	o = NULL;
	ret = 0;
	goto out;
oom:
	avm_errf(err, "out of memory (verdict sensitivity)");
out:
	cJSON_Delete(o);
	return ret;
}
