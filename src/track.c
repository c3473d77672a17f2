/*
 * track.c - fork cost, the live-object series and per-process bytes (track.h).
 *
 * Fork cost.  Three log-linear histograms (locks.h): anon rmap part, page-
 * table copy, and their sum, one value per fork.  ~45 KiB, fixed.
 *
 * Series.  Five arrays of max_points values (time, anon_vma, AVC,
 * vm_area_struct, bytes).  Point k is taken on the trace-time boundary
 * k x interval (k = 1, 2, ...) and holds the state after every event with an
 * earlier time: track_time() samples each boundary it passes before the
 * event at `now` is applied.  When a boundary finds the arrays full, every
 * other point is dropped (the odd k), which leaves exactly the boundaries of
 * the doubled interval, and sampling goes on from the next multiple of it.
 * The points therefore depend on event times only: two worlds fed the same
 * stream sample the same t_ns, whatever their state.  A trace of length T
 * costs O(max_points x log2(T / first interval)) sampling work and
 * O(max_points) memory.  The series is closed with a point at the latest
 * event time (replacing a boundary point at that same time), so the last
 * point is the state at the end of the trace.
 *
 * Processes.  An array of {pid, cur, peak} records with a hash map from
 * pid + 1 to record index + 1 (u64map.h keys must be non-zero).  A record is
 * created the first time a count changes for that pid, so memory follows the
 * number of distinct tgids whose events touched the anon rmap (at most the
 * host's pid_max: a reused pid continues its predecessor's record).  Bytes
 * adopted from the start snapshot wait in a second map keyed by mm id until
 * an event of that mm changes a count, and then belong to that event's pid.
 */
#include "track.h"

#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "locks.h"
#include "u64map.h"

struct track {
	/* fork cost */
	struct locks_hist fork_anon, fork_pt, fork_total;
	/* series */
	uint32_t max, n;
	uint64_t interval, next;     /* next boundary to sample (a multiple of interval) */
	bool full_range;             /* next would pass UINT64_MAX: no more boundaries */
	bool seen, closed;
	uint64_t last;               /* latest event time */
	uint64_t *t_ns, *av, *avc, *vma, *bytes;
	/* processes */
	struct track_proc *procs;
	size_t nprocs, capprocs;
	size_t hot;                  /* index + 1 of the record used last (events come in runs) */
	struct u64map by_pid;        /* pid + 1 -> index + 1 */
	struct u64map pending;       /* mm -> bytes adopted, not yet owned */
};

void track_params_default(struct track_params *p)
{
	p->max_points = TRACK_MAX_POINTS;
	p->first_interval_ns = TRACK_FIRST_INTERVAL_NS;
}

int track_create(const struct track_params *p, struct track **out, struct avm_err *err)
{
	struct track_params def;
	struct track *t;

	*out = NULL;
	if (!p) {
		track_params_default(&def);
		p = &def;
	}
	if (p->max_points < 2 || p->max_points % 2 || !p->first_interval_ns)
		return avm_errf(err, "track: max_points must be even and >= 2, the interval > 0");
	t = calloc(1, sizeof(*t));
	if (!t)
		return avm_errf(err, "out of memory (track)");
	t->max = p->max_points;
	t->interval = p->first_interval_ns;
	t->next = t->interval;
	t->t_ns = calloc(5 * (size_t)t->max, sizeof(uint64_t));
	if (!t->t_ns) {
		free(t);
		return avm_errf(err, "out of memory (track series)");
	}
	t->av = t->t_ns + t->max;
	t->avc = t->av + t->max;
	t->vma = t->avc + t->max;
	t->bytes = t->vma + t->max;
	*out = t;
	return 0;
}

void track_destroy(struct track *t)
{
	if (!t)
		return;
	free(t->t_ns);
	free(t->procs);
	u64map_free(&t->by_pid);
	u64map_free(&t->pending);
	free(t);
}

/* ---- fork cost ------------------------------------------------------------------ */

void track_fork(struct track *t, uint64_t anon_rmap_ns, uint64_t page_table_ns)
{
	locks_hist_add(&t->fork_anon, anon_rmap_ns);
	locks_hist_add(&t->fork_pt, page_table_ns);
	locks_hist_add(&t->fork_total, anon_rmap_ns + page_table_ns);
}

uint64_t track_forks(const struct track *t)
{
	return t->fork_total.n;
}

/* The share key: sum(anon) / sum(total), null when nothing was timed. */
static int add_share(cJSON *o, double anon, double total)
{
	if (total > 0)
		return cJSON_AddNumberToObject(o, "anon_rmap_share", anon / total) ? 0 : -1;
	return cJSON_AddNullToObject(o, "anon_rmap_share") ? 0 : -1;
}

static int add_hist(cJSON *o, const char *key, const struct locks_hist *h)
{
	cJSON *j = locks_hist_json(h, "ns");

	if (!j || !cJSON_AddItemToObject(o, key, j)) {
		cJSON_Delete(j);
		return -1;
	}
	return 0;
}

cJSON *track_fork_cost_json(const struct track *t, struct avm_err *err)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddNumberToObject(o, "forks", (double)t->fork_total.n) ||
	    add_hist(o, "anon_rmap", &t->fork_anon) || add_hist(o, "page_table_copy", &t->fork_pt) ||
	    add_hist(o, "total", &t->fork_total) ||
	    add_share(o, (double)t->fork_anon.sum, (double)t->fork_total.sum)) {
		cJSON_Delete(o);
		avm_errf(err, "out of memory (fork_cost)");
		return NULL;
	}
	return o;
}

static const char *const fork_hists[] = { "anon_rmap", "page_table_copy", "total" };

int track_fork_cost_json_merge(const cJSON *a, const cJSON *b, cJSON **out, struct avm_err *err)
{
	const cJSON *fa = cJSON_GetObjectItemCaseSensitive(a, "forks");
	const cJSON *fb = cJSON_GetObjectItemCaseSensitive(b, "forks");
	cJSON *o = cJSON_CreateObject(), *h;
	double sums[3];
	int rc = -1;

	*out = NULL;
	if (!o) {
		avm_errf(err, "out of memory (fork_cost merge)");
		goto out;
	}
	if (!cJSON_IsNumber(fa) || !cJSON_IsNumber(fb) || fa->valuedouble < 0 ||
	    fb->valuedouble < 0) {
		avm_errf(err, "fork_cost: 'forks' missing or not a count");
		goto out;
	}
	if (!cJSON_AddNumberToObject(o, "forks", fa->valuedouble + fb->valuedouble)) {
		avm_errf(err, "out of memory (fork_cost merge)");
		goto out;
	}
	for (size_t i = 0; i < 3; i++) {
		if (locks_hist_json_merge(cJSON_GetObjectItemCaseSensitive(a, fork_hists[i]),
					  cJSON_GetObjectItemCaseSensitive(b, fork_hists[i]), "ns",
					  &h, err)) {
			avm_err_prefix(err, "fork_cost.%s", fork_hists[i]);
			goto out;
		}
		sums[i] = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, "total_ns"));
		if (!cJSON_AddItemToObject(o, fork_hists[i], h)) {
			cJSON_Delete(h);
			avm_errf(err, "out of memory (fork_cost merge)");
			goto out;
		}
	}
	if (add_share(o, sums[0], sums[2])) {
		avm_errf(err, "out of memory (fork_cost merge)");
		goto out;
	}
	*out = o;
	o = NULL;
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

/* ---- series ---------------------------------------------------------------------- */

static void series_put(struct track *t, uint32_t i, uint64_t at, const struct model_stats *s)
{
	t->t_ns[i] = at;
	t->av[i] = s->obj[MODEL_OBJ_ANON_VMA].live;
	t->avc[i] = s->obj[MODEL_OBJ_AVC].live;
	t->vma[i] = s->obj[MODEL_OBJ_VMA].live;
	t->bytes[i] = s->bytes_live;
}

/* Keep every other point (odd index: the boundaries of twice the interval). */
static void series_halve(struct track *t)
{
	uint32_t i, j = 0;

	for (i = 1; i < t->n; i += 2, j++) {
		t->t_ns[j] = t->t_ns[i];
		t->av[j] = t->av[i];
		t->avc[j] = t->avc[i];
		t->vma[j] = t->vma[i];
		t->bytes[j] = t->bytes[i];
	}
	t->n = j;
	if (t->interval > UINT64_MAX / 2) {
		t->full_range = true;
		return;
	}
	t->interval *= 2;
	/* round the pending boundary up to a multiple of the new interval */
	if (t->next % t->interval) {
		if (t->next > UINT64_MAX - t->interval) {
			t->full_range = true;
			return;
		}
		t->next += t->interval - t->next % t->interval;
	}
}

void track_end(struct track *t, uint64_t end)
{
	if (!t->seen || end > t->last) {
		t->last = end;
		t->seen = true;
	}
}

uint64_t track_time(struct track *t, uint64_t now, const struct model_stats *s)
{
	track_end(t, now);
	while (!t->full_range && now >= t->next && !t->closed) {
		if (t->n == t->max) {
			series_halve(t);
			continue;
		}
		series_put(t, t->n++, t->next, s);
		if (t->next > UINT64_MAX - t->interval)
			t->full_range = true;
		else
			t->next += t->interval;
	}
	return t->full_range || t->closed ? UINT64_MAX : t->next;
}

static void series_close(struct track *t, const struct model_stats *s)
{
	uint64_t end = t->seen ? t->last : 0;

	if (t->closed)
		return;
	t->closed = true;
	if (t->n && t->t_ns[t->n - 1] == end) {
		series_put(t, t->n - 1, end, s);
		return;
	}
	if (t->n == t->max)
		series_halve(t);
	series_put(t, t->n++, end, s);
}

static int add_array(cJSON *o, const char *key, const uint64_t *v, uint32_t n)
{
	cJSON *a = cJSON_AddArrayToObject(o, key);

	if (!a)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i])))
			return -1;
	return 0;
}

cJSON *track_series_json(struct track *t, const struct model_stats *s, struct avm_err *err)
{
	cJSON *o = cJSON_CreateObject();

	series_close(t, s);
	if (!o || !cJSON_AddNumberToObject(o, "max_points", t->max) ||
	    !cJSON_AddNumberToObject(o, "interval_ns", (double)t->interval) ||
	    add_array(o, "t_ns", t->t_ns, t->n) || add_array(o, "anon_vma", t->av, t->n) ||
	    add_array(o, "anon_vma_chain", t->avc, t->n) ||
	    add_array(o, "vm_area_struct", t->vma, t->n) || add_array(o, "bytes", t->bytes, t->n)) {
		cJSON_Delete(o);
		avm_errf(err, "out of memory (series)");
		return NULL;
	}
	return o;
}

/* ---- processes ------------------------------------------------------------------- */

static struct track_proc *proc_find(const struct track *t, uint32_t pid)
{
	uintptr_t i = (uintptr_t)u64map_get(&t->by_pid, (uint64_t)pid + 1);

	return i ? &t->procs[i - 1] : NULL;
}

static struct track_proc *proc_get(struct track *t, uint32_t pid, struct avm_err *err)
{
	struct track_proc *p;

	if (t->hot && t->procs[t->hot - 1].pid == pid)
		return &t->procs[t->hot - 1];
	p = proc_find(t, pid);
	if (p) {
		t->hot = (size_t)(p - t->procs) + 1;
		return p;
	}
	if (array_grow((void **)&t->procs, &t->capprocs, t->nprocs + 1, sizeof(*t->procs), 64)) {
		avm_errf(err, "out of memory (per-process bytes)");
		return NULL;
	}
	if (u64map_put(&t->by_pid, (uint64_t)pid + 1, (void *)(uintptr_t)(t->nprocs + 1))) {
		avm_errf(err, "out of memory (per-process bytes)");
		return NULL;
	}
	p = &t->procs[t->nprocs++];
	t->hot = t->nprocs;
	p->pid = pid;
	p->cur = p->peak = 0;
	return p;
}

int track_adopted(struct track *t, uint64_t mm, uint64_t bytes, struct avm_err *err)
{
	uint64_t had;

	if (!mm || !bytes)
		return 0;
	had = (uint64_t)(uintptr_t)u64map_get(&t->pending, mm);
	if (u64map_put(&t->pending, mm, (void *)(uintptr_t)(had + bytes)))
		return avm_errf(err, "out of memory (adopted bytes)");
	return 0;
}

static void proc_add(struct track_proc *p, int64_t delta)
{
	p->cur += delta;
	if (p->cur > p->peak)
		p->peak = p->cur;
}

int track_bytes(struct track *t, uint32_t pid, uint64_t mm, int64_t delta, struct avm_err *err)
{
	struct track_proc *p = proc_get(t, pid, err);

	if (!p)
		return -1;
	if (t->pending.n && mm) {
		/* the process held its pre-existing objects before this event changed them */
		uint64_t adopted = (uint64_t)(uintptr_t)u64map_get(&t->pending, mm);

		if (adopted) {
			u64map_del(&t->pending, mm);
			proc_add(p, (int64_t)adopted);
		}
	}
	proc_add(p, delta);
	return 0;
}

bool track_process(const struct track *t, uint32_t pid, struct track_proc *out)
{
	const struct track_proc *p = proc_find(t, pid);

	if (!p)
		return false;
	*out = *p;
	return true;
}

struct track_top {
	uint32_t pid;
	int64_t eager, lazy;
};

static int top_cmp(const void *pa, const void *pb)
{
	const struct track_top *a = pa, *b = pb;
	int64_t sa = a->eager - a->lazy, sb = b->eager - b->lazy;

	if (sa != sb)
		return sa > sb ? -1 : 1;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

static cJSON *top_entry(const struct track_top *e)
{
	cJSON *o = cJSON_CreateObject();
	int64_t saving = e->eager - e->lazy;

	if (!o || !cJSON_AddNumberToObject(o, "pid", e->pid) ||
	    !cJSON_AddNumberToObject(o, "eager_bytes_peak", (double)e->eager) ||
	    !cJSON_AddNumberToObject(o, "lazy_bytes_peak", (double)e->lazy) ||
	    !cJSON_AddNumberToObject(o, "saving_bytes", (double)saving))
		goto fail;
	if (e->eager > 0 ? !cJSON_AddNumberToObject(o, "saving_percent",
						     100.0 * (double)saving / (double)e->eager) :
			   !cJSON_AddNullToObject(o, "saving_percent"))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

cJSON *track_top_processes_json(const struct track *eager, const struct track *lazy, size_t max,
				struct avm_err *err)
{
	struct track_top *all = malloc((eager->nprocs + lazy->nprocs + 1) * sizeof(*all));
	cJSON *arr = cJSON_CreateArray(), *res = NULL;
	size_t n = 0, i;

	if (!all || !arr)
		goto oom;
	/* the union of both worlds' processes; one that never held a byte is left out */
	for (i = 0; i < eager->nprocs; i++) {
		const struct track_proc *p = &eager->procs[i], *q = proc_find(lazy, p->pid);

		all[n] = (struct track_top){ p->pid, p->peak, q ? q->peak : 0 };
		n += all[n].eager || all[n].lazy;
	}
	for (i = 0; i < lazy->nprocs; i++) {
		const struct track_proc *q = &lazy->procs[i];

		if (proc_find(eager, q->pid) || !q->peak)
			continue;
		all[n++] = (struct track_top){ q->pid, 0, q->peak };
	}
	qsort(all, n, sizeof(*all), top_cmp);
	for (i = 0; i < n && i < max; i++) {
		cJSON *e = top_entry(&all[i]);

		if (!e || !cJSON_AddItemToArray(arr, e)) {
			cJSON_Delete(e);
			goto oom;
		}
	}
	res = arr;
	arr = NULL;
	goto out;
oom:
	avm_errf(err, "out of memory (top_processes)");
out:
	cJSON_Delete(arr);
	free(all);
	return res;
}
