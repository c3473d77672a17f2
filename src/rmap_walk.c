/*
 * rmap_walk.c - observed and what-if rmap walks of one world (rmap_walk.h).
 *
 * Data layout: the counters and two histograms of the report block; per
 * pressure source a cursor (mm.h mm_cursor) and the fractional number of
 * walks owed to the next tick; the last observed migration walk (folio id
 * and phase) so that consecutive PTE events of one walk count once.
 *
 * Algorithm: an event first pays the pressure ticks its time crossed (the
 * live folio count at that moment times the share times the elapsed ticks),
 * walking that many folios from each source's cursor; then an observed walk
 * is resolved to a folio and walked.  The model decides what a walk visits
 * and what it holds (model_ops.rmap_walk: eager.md §5, lazy.md §5).
 *
 * The completeness check (rmap_walk.h) collects the visited VMAs of a walk
 * in an array, gathers the truth's (mm, VMA, address) mappings in another,
 * and compares the two by VMA pointer (O(visited x mappings): both are a
 * few); both arrays are kept from walk to walk, so a walk allocates only
 * when it is the largest so far.
 */
#include "rmap_walk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "mm.h"

/* One mapping of the truth: the VMA holding the folio, the first page's address. */
struct check_map {
	const struct mm_vma *v;
	uint64_t mm, addr;
	bool found;
};

struct rmap_walk_src {
	double per_tick;    /* walks per tick per live folio (compaction: folios) */
	double owed;        /* fraction carried to the next tick */
	struct mm_cursor cur;
};

struct rmap_walk {
	struct rmap_walk_stats st;
	bool pressure;
	bool started;       /* next_tick is set */
	uint64_t next_tick;
	struct rmap_walk_src src[RMAP_WALK_SOURCE_NR]; /* [MIGRATION] unused */
	/* the observed migration walk in progress: folio and phase (1 set, 2 remove) */
	uint64_t mig_folio;
	int mig_phase;
	/* the completeness check: the truth's world, the event, scratch arrays */
	struct mm_sim *check;
	uint64_t ev_seq, ev_pid;
	bool check_oom;
	const struct mm_vma **vis;
	size_t nvis, capvis;
	struct check_map *truth;
	size_t ntruth, captruth;
};

int rmap_walk_create(const struct config *cfg, struct rmap_walk **out, struct avm_err *err)
{
	struct rmap_walk *rw = calloc(1, sizeof(*rw));
	const double tick_s = (double)RMAP_WALK_TICK_NS / 1e9;

	if (!rw)
		return avm_errf(err, "out of memory (rmap walks)");
	if (cfg->reclaim_share_per_s > 0)
		rw->src[RMAP_WALK_RECLAIM].per_tick = cfg->reclaim_share_per_s * tick_s;
	if (cfg->compaction_share_per_s > 0)
		rw->src[RMAP_WALK_COMPACTION].per_tick = cfg->compaction_share_per_s * tick_s;
	if (cfg->page_idle_sweep_s > 0)
		rw->src[RMAP_WALK_PAGE_IDLE].per_tick = tick_s / cfg->page_idle_sweep_s;
	for (int i = 0; i < RMAP_WALK_SOURCE_NR; i++)
		rw->pressure |= rw->src[i].per_tick > 0;
	*out = rw;
	return 0;
}

void rmap_walk_destroy(struct rmap_walk *rw)
{
	if (!rw)
		return;
	free(rw->vis);
	free(rw->truth);
	free(rw);
}

void rmap_walk_set_check(struct rmap_walk *rw, struct mm_sim *sim)
{
	rw->check = sim;
	rw->st.checked = sim != NULL;
}

void rmap_walk_set_event(struct rmap_walk *rw, uint64_t seq, uint64_t pid)
{
	rw->ev_seq = seq;
	rw->ev_pid = pid;
}

bool rmap_walk_pressure(const struct rmap_walk *rw)
{
	return rw->pressure;
}

const struct rmap_walk_stats *rmap_walk_stats(const struct rmap_walk *rw)
{
	return &rw->st;
}

void rmap_walk_set_measured_holds(struct rmap_walk *rw, uint64_t n)
{
	rw->st.measured_mmap_holds = n;
}

/* model_walk.visit: remember a VMA the design visited. */
static void check_visit(void *ctx, const struct mm_vma *v)
{
	struct rmap_walk *rw = ctx;

	if (array_grow((void **)&rw->vis, &rw->capvis, rw->nvis + 1, sizeof(*rw->vis), 16)) {
		rw->check_oom = true;
		return;
	}
	rw->vis[rw->nvis++] = v;
}

/* mm_sim_folio_mappings: one truth mapping per (mm, VMA), its lowest page address. */
static int check_truth(void *ctx, struct mm_space *mm, struct mm_vma *v, uint64_t addr)
{
	struct rmap_walk *rw = ctx;
	size_t i;

	for (i = 0; i < rw->ntruth && rw->truth[i].v != v; i++)
		;
	if (i < rw->ntruth) {
		if (addr < rw->truth[i].addr)
			rw->truth[i].addr = addr;
		return 0;
	}
	if (array_grow((void **)&rw->truth, &rw->captruth, rw->ntruth + 1, sizeof(*rw->truth), 8)) {
		rw->check_oom = true;
		return 1;
	}
	rw->truth[rw->ntruth++] = (struct check_map){ v, mm_space_id(mm), addr, false };
	return 0;
}

static void check_first(struct rmap_walk *rw, struct rmap_walk_first *fi, uint64_t mm,
			uint64_t addr)
{
	if (fi->set)
		return;
	*fi = (struct rmap_walk_first){ true, rw->ev_seq, rw->ev_pid, mm, addr };
}

/*
 * Compare the visited VMAs with the truth.  A visited VMA finds a truth
 * mapping in it when its linear offset puts a page of f at the mapped
 * address (vma_address: start + (index - pgoff) pages).
 */
static void check_walk(struct rmap_walk *rw, const struct mm_folio_ref *f, uint64_t ps)
{
	uint64_t missed = 0, extra = 0;

	rw->ntruth = 0;
	if (mm_sim_folio_mappings(rw->check, f->id, f->index, f->nr, check_truth, rw) || rw->check_oom)
		return;
	for (size_t j = 0; j < rw->nvis; j++) {
		const struct mm_vma *v = rw->vis[j];
		bool hit = false;

		for (size_t i = 0; i < rw->ntruth; i++) {
			struct check_map *t = &rw->truth[i];
			uint64_t pg;

			if (t->v != v || !v || t->addr < v->start)
				continue;
			pg = v->pgoff + (t->addr - v->start) / ps;
			hit = true; /* the VMA holds the folio: not extra */
			if (pg >= f->index && pg < f->index + (f->nr ? f->nr : 1))
				t->found = true;
		}
		if (!hit) {
			extra++;
			check_first(rw, &rw->st.first_extra, v && v->mm ? mm_space_id(v->mm) : 0,
				    v ? v->start : 0);
		}
	}
	for (size_t i = 0; i < rw->ntruth; i++)
		if (!rw->truth[i].found) {
			missed++;
			check_first(rw, &rw->st.first_missed, rw->truth[i].mm, rw->truth[i].addr);
		}
	rw->st.check_walks++;
	rw->st.missed += missed;
	rw->st.extra += extra;
	rw->st.missed_walks += missed > 0;
	rw->st.extra_walks += extra > 0;
}

void rmap_walk_one(struct rmap_walk *rw, const struct model_ops *ops, struct model *model,
		   const struct mm_folio_ref *f, enum rmap_walk_source src)
{
	/* reclaim's folio_referenced only trylocks (eager.md §5); the others block */
	struct model_walk w = { .trylock = src == RMAP_WALK_RECLAIM,
				.migrate = src == RMAP_WALK_MIGRATION || src == RMAP_WALK_COMPACTION };

	rw->st.walks++;
	rw->st.by_source[src]++;
	if (!ops->rmap_walk)
		return;
	if (rw->check) {
		rw->nvis = 0;
		w.visit = check_visit;
		w.visit_ctx = rw;
	}
	ops->rmap_walk(model, f, &w);
	if (rw->check && !w.failed)
		check_walk(rw, f, mm_sim_params(rw->check)->page_size);
	rw->st.lazy_folio_walks += w.lazy;
	if (w.failed) {
		rw->st.failed++;
		return;
	}
	rw->st.stale_vmas += w.stale;
	locks_hist_add(&rw->st.vmas_visited, w.visited);
	locks_hist_add(&rw->st.hold, w.hold_ns);
}

/* ---- pressure ------------------------------------------------------------------ */

struct pick_ctx {
	struct rmap_walk *rw;
	const struct model_ops *ops;
	struct model *model;
	enum rmap_walk_source src;
};

static int pick(void *ctx, const struct mm_folio_ref *f)
{
	struct pick_ctx *p = ctx;

	rmap_walk_one(p->rw, p->ops, p->model, f, p->src);
	if (p->src == RMAP_WALK_COMPACTION)
		rmap_walk_one(p->rw, p->ops, p->model, f, p->src); /* remove_migration_ptes */
	return 0;
}

static int pressure(struct rmap_walk *rw, struct mm_sim *sim, const struct model_ops *ops,
		    struct model *model, uint64_t t, struct avm_err *err)
{
	uint64_t ticks, live = mm_sim_stats(sim)->folios_live;

	if (!rw->started) {
		rw->started = true;
		rw->next_tick = t + RMAP_WALK_TICK_NS;
		return 0;
	}
	/* Time that steps back (CPU clocks disagree; trace times are signed sums
	 * of deltas, so "before the start" wraps to a huge unsigned time) crosses
	 * no tick: compared as a signed difference, never as a huge jump. */
	if ((int64_t)(t - rw->next_tick) < 0)
		return 0;
	ticks = (t - rw->next_tick) / RMAP_WALK_TICK_NS + 1;
	rw->next_tick += ticks * RMAP_WALK_TICK_NS;
	/* A gap longer than RMAP_WALK_MAX_GAP_TICKS walks an unchanged population
	 * over and over: it counts as that many ticks (docs/config.md "pressure"),
	 * so the walks one event owes are bounded by live folios x that. */
	if (ticks > RMAP_WALK_MAX_GAP_TICKS)
		ticks = RMAP_WALK_MAX_GAP_TICKS;
	for (int i = RMAP_WALK_RECLAIM; i < RMAP_WALK_SOURCE_NR; i++) {
		struct rmap_walk_src *s = &rw->src[i];
		struct pick_ctx p = { rw, ops, model, (enum rmap_walk_source)i };
		uint64_t n, done;

		if (s->per_tick <= 0)
			continue;
		s->owed += s->per_tick * (double)live * (double)ticks;
		/* a tiny epsilon: 10 % x 0.1 s x 100 folios is 1, not 0.99999... */
		n = (uint64_t)floor(s->owed + 1e-9);
		s->owed = n > s->owed ? 0 : s->owed - (double)n;
		if (n && mm_sim_cursor_walk(sim, &s->cur, n, pick, &p, &done, err))
			return -1;
	}
	return 0;
}

/* ---- observed -------------------------------------------------------------------- */

static void observed_migration(struct rmap_walk *rw, struct mm_sim *sim,
			       const struct model_ops *ops, struct model *model,
			       const struct avm_event *ev)
{
	struct mm_space *mm;
	struct mm_folio_ref f;
	int phase;

	switch (ev->a) {
	case AVM_MIGRATE_SET_PTE: case AVM_MIGRATE_SET_PMD: phase = 1; break;
	case AVM_MIGRATE_REMOVE_PTE: case AVM_MIGRATE_REMOVE_PMD: phase = 2; break;
	case AVM_MIGRATE_START:
		rw->mig_folio = 0; /* a new migrate_pages call */
		return;
	default:
		return;
	}
	mm = ev->mm ? mm_sim_find(sim, ev->mm) : NULL;
	if (!mm || !mm_folio_at(mm, (uint64_t)ev->b, &f)) {
		rw->st.unresolved_migration++;
		return;
	}
	/* try_to_migrate / remove_migration_ptes: one walk sets (removes) every mapping */
	if (f.id == rw->mig_folio && phase == rw->mig_phase)
		return;
	rw->mig_folio = f.id;
	rw->mig_phase = phase;
	rmap_walk_one(rw, ops, model, &f, RMAP_WALK_MIGRATION);
}

int rmap_walk_event(struct rmap_walk *rw, struct mm_sim *sim, const struct model_ops *ops,
		    struct model *model, const struct avm_event *ev, struct avm_err *err)
{
	rmap_walk_set_event(rw, ev->seq, ev->pid);
	if (rw->pressure && pressure(rw, sim, ops, model, ev->t, err))
		return avm_err_prefix(err, "rmap walk pressure at event %llu",
				      (unsigned long long)ev->seq);
	switch (ev->kind) {
	case AVM_MIGRATE:
		observed_migration(rw, sim, ops, model, ev);
		break;
	case AVM_KSM:
		/* a pfn, not a folio we can name: counted, not walked */
		rw->st.unresolved_ksm += ev->a == AVM_KSM_MERGE;
		break;
	case AVM_THP:
		/* no address: counted, not walked */
		rw->st.unresolved_thp += ev->a == AVM_THP_COLLAPSE;
		/* a collapse that succeeded (d: isolated, 6.18 sets it on SCAN_SUCCEED) took its locks */
		if (ev->a == AVM_THP_COLLAPSE && ev->d && ev->mm && ops->thp_collapse)
			ops->thp_collapse(model, ev->mm);
		break;
	default:
		break;
	}
	if (rw->check_oom)
		return avm_errf(err, "out of memory (rmap completeness check at event %llu)",
				(unsigned long long)ev->seq);
	return 0;
}

/* ---- JSON ------------------------------------------------------------------------- */

static const char *const source_key[RMAP_WALK_SOURCE_NR] = {
	"migration", "reclaim", "compaction", "page_idle",
};
static const char *const unresolved_key[] = { "migration", "ksm", "thp" };
static const char *const check_key[] = { "checked_walks", "missed", "extra", "missed_walks",
					 "extra_walks" };
static const char *const count_key[] = { "walks", "failed", "stale_vmas", "lazy_folio_walks" };

static bool add_num(cJSON *o, const char *k, uint64_t v)
{
	return cJSON_AddNumberToObject(o, k, (double)v) != NULL;
}

static bool add_hist(cJSON *o, const char *k, const struct locks_hist *h, const char *unit)
{
	cJSON *j = locks_hist_json(h, unit);

	if (!j)
		return false;
	if (!cJSON_AddItemToObject(o, k, j)) {
		cJSON_Delete(j);
		return false;
	}
	return true;
}

/* An object of counts under o, keys[i] = v[i]. */
static bool add_counts(cJSON *o, const char *k, const char *const *keys, const uint64_t *v,
		       size_t n)
{
	cJSON *g = cJSON_AddObjectToObject(o, k);
	bool ok = g != NULL;

	for (size_t i = 0; ok && i < n; i++)
		ok = add_num(g, keys[i], v[i]);
	return ok;
}

static bool add_first(cJSON *o, const char *k, const struct rmap_walk_first *fi)
{
	cJSON *g;

	if (!fi->set)
		return cJSON_AddNullToObject(o, k) != NULL;
	g = cJSON_AddObjectToObject(o, k);
	return g && add_num(g, "seq", fi->seq) && add_num(g, "pid", fi->pid) &&
	       add_num(g, "mm", fi->mm) && add_num(g, "addr", fi->addr);
}

cJSON *rmap_walk_json(const struct rmap_walk_stats *st, struct avm_err *err)
{
	cJSON *o = cJSON_CreateObject();
	const uint64_t unresolved[] = { st->unresolved_migration, st->unresolved_ksm,
					st->unresolved_thp };
	bool ok = o != NULL;

	ok = ok && add_num(o, "walks", st->walks);
	ok = ok && add_counts(o, "by_source", source_key, st->by_source, RMAP_WALK_SOURCE_NR);
	ok = ok && add_counts(o, "unresolved", unresolved_key, unresolved, 3);
	ok = ok && add_num(o, "failed", st->failed);
	ok = ok && add_hist(o, "vmas_visited", &st->vmas_visited, NULL);
	ok = ok && add_num(o, "stale_vmas", st->stale_vmas);
	ok = ok && add_num(o, "lazy_folio_walks", st->lazy_folio_walks);
	ok = ok && add_hist(o, "hold", &st->hold, "ns");
	ok = ok && add_num(o, "measured_mmap_holds", st->measured_mmap_holds);
	if (st->checked) {
		ok = ok && add_num(o, "checked_walks", st->check_walks);
		ok = ok && add_num(o, "missed", st->missed);
		ok = ok && add_num(o, "extra", st->extra);
		ok = ok && add_num(o, "missed_walks", st->missed_walks);
		ok = ok && add_num(o, "extra_walks", st->extra_walks);
		ok = ok && add_first(o, "first_missed", &st->first_missed);
		ok = ok && add_first(o, "first_extra", &st->first_extra);
	}
	if (!ok) {
		cJSON_Delete(o);
		avm_errf(err, "out of memory (rmap_walks report)");
		return NULL;
	}
	return o;
}

/* out[k] = a[k] + b[k] for the count k of objects a and b (path names it in errors). */
static int merge_count(const cJSON *a, const cJSON *b, cJSON *out, const char *path,
		       const char *k, struct avm_err *err)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, k);
	const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, k);

	if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y) || x->valuedouble < 0 || y->valuedouble < 0)
		return avm_errf(err, "rmap_walks: '%s%s' is missing or not a count", path, k);
	if (!cJSON_AddNumberToObject(out, k, x->valuedouble + y->valuedouble))
		return avm_errf(err, "out of memory (rmap_walks merge)");
	return 0;
}

static int merge_hist(const cJSON *a, const cJSON *b, cJSON *out, const char *k,
		      const char *unit, struct avm_err *err)
{
	cJSON *m = NULL;

	if (locks_hist_json_merge(cJSON_GetObjectItemCaseSensitive(a, k),
				  cJSON_GetObjectItemCaseSensitive(b, k), unit, &m, err))
		return avm_err_prefix(err, "rmap_walks: '%s'", k);
	if (!cJSON_AddItemToObject(out, k, m)) {
		cJSON_Delete(m);
		return avm_errf(err, "out of memory (rmap_walks merge)");
	}
	return 0;
}

static int merge_group(const cJSON *a, const cJSON *b, cJSON *out, const char *k,
		       const char *const *keys, size_t n, struct avm_err *err)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, k);
	const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, k);
	char path[32];
	cJSON *g;

	if (!cJSON_IsObject(x) || !cJSON_IsObject(y))
		return avm_errf(err, "rmap_walks: '%s' is missing or not an object", k);
	g = cJSON_AddObjectToObject(out, k);
	if (!g)
		return avm_errf(err, "out of memory (rmap_walks merge)");
	snprintf(path, sizeof(path), "%s.", k);
	for (size_t i = 0; i < n; i++)
		if (merge_count(x, y, g, path, keys[i], err))
			return -1;
	return 0;
}

int rmap_walk_json_merge(const cJSON *a, const cJSON *b, cJSON **out, struct avm_err *err)
{
	cJSON *o = cJSON_CreateObject();
	int rc = -1;

	*out = NULL;
	if (!o)
		return avm_errf(err, "out of memory (rmap_walks merge)");
	if (!cJSON_IsObject(a) || !cJSON_IsObject(b)) {
		avm_errf(err, "rmap_walks: not an object");
		goto out;
	}
	/* the report's key order: walks, by_source, unresolved, failed, vmas_visited, ... */
	if (merge_count(a, b, o, "", count_key[0], err) ||
	    merge_group(a, b, o, "by_source", source_key, RMAP_WALK_SOURCE_NR, err) ||
	    merge_group(a, b, o, "unresolved", unresolved_key, 3, err) ||
	    merge_count(a, b, o, "", count_key[1], err) ||
	    merge_hist(a, b, o, "vmas_visited", NULL, err) ||
	    merge_count(a, b, o, "", count_key[2], err) ||
	    merge_count(a, b, o, "", count_key[3], err) ||
	    merge_hist(a, b, o, "hold", "ns", err))
		goto out;
	if (cJSON_GetObjectItemCaseSensitive(a, "measured_mmap_holds") &&
	    cJSON_GetObjectItemCaseSensitive(b, "measured_mmap_holds") &&
	    merge_count(a, b, o, "", "measured_mmap_holds", err))
		goto out;
	/* the completeness counts when both checked (first_* name one trace: left out) */
	for (size_t i = 0; i < sizeof(check_key) / sizeof(check_key[0]); i++)
		if (cJSON_GetObjectItemCaseSensitive(a, check_key[i]) &&
		    cJSON_GetObjectItemCaseSensitive(b, check_key[i]) &&
		    merge_count(a, b, o, "", check_key[i], err))
			goto out;
	*out = o;
	o = NULL;
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}
