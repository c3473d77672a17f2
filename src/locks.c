/*
 * locks.c - lock hold accounting and simulated contention (see locks.h).
 *
 * Data layout.
 *   - Per (class, mode): one hold histogram, one wait histogram, and counts
 *     and totals per reason (enum locks_why).  Fixed size: 10 x 2 histograms
 *     of ~15 KiB, whatever the trace length.
 *   - Per lock instance that may still be held: a small record in an
 *     open-addressing hash table keyed by (class, instance id).  For each
 *     mode it keeps the two latest end times of holds by two *different*
 *     CPUs, which is exactly what answering "when does every other CPU's
 *     hold of this mode end?" needs: if the asking CPU owns the latest end,
 *     the answer is the second one.  Records whose holds ended more than
 *     LOCKS_EXPIRY_NS before the latest start seen are dead and their slots
 *     are reused, so memory follows the number of locks held recently, not
 *     the trace length.
 *
 * Waiting (simulated contention).  A hold requested at time t on CPU c
 *   - in read mode starts at max(t, end of other CPUs' write holds);
 *   - in write mode starts at max(t, end of other CPUs' read and write holds);
 * its wait is that start minus t, and its end (start + len) becomes the
 * instance's new end for that mode and CPU.  This is a rwsem without writer
 * preference: a reader that arrives while a writer waits is not queued behind
 * it (the kernel's rwsem would queue it; holds are short next to event gaps, so
 * the difference is second order and is named in docs/arch.md).  A trylock
 * that would wait fails instead, as reclaim's folio_referenced does
 * (eager.md §4.2 step 3).  The simulated wait does not move the model's time
 * line: the trace's times are what happened; waits are what the model's lock
 * usage would add.
 *
 * RCU read sections never wait and need no instance record.
 *
 * Measured holds (locks_measured): one u64map from mm id to its write
 * holder's tid + 1, stored in the value pointer itself (no allocation per
 * hold); the rules are in locks.h.
 */
#include "locks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "hash.h"
#include "u64map.h"

/* Hold records older than this (relative to the latest start) are dead. */
#define LOCKS_EXPIRY_NS 100000000ULL /* 100 ms: covers event reordering across CPUs */
#define LOCKS_TABLE_MIN 1024

/* The two latest hold ends of one mode, by two different CPUs; end[0] >= end[1]. */
struct locks_ends {
	uint64_t end[2];
	uint32_t cpu[2];
	uint8_t n; /* entries in use, 0..2 */
};

struct locks_inst {
	uint64_t id;
	uint8_t cls;
	uint8_t used;
	struct locks_ends mode[LOCKS_MODE_NR];
	uint64_t last_end; /* max of every end above: the record's expiry */
};

struct locks_stat {
	struct locks_hist hold, wait;
	uint64_t trylock_failed;
	uint64_t untracked; /* holds whose instance could not be tracked (out of memory) */
	uint64_t count_by_why[LOCKS_WHY_NR];
	uint64_t total_by_why[LOCKS_WHY_NR];
};

/* One logged section (locks_log_*): ~48 bytes, its work in log_work. */
struct locks_log_ent {
	uint64_t start, instance, fixed_ns;
	uint32_t cpu;
	uint32_t work_off;  /* first entry in log_work */
	uint8_t cls, mode, why, flags, nwork;
};

#define LOG_TRY 1u       /* a trylock */
#define LOG_TRYFAILED 2u /* ... that failed in the replay */
#define LOG_RETRY 4u     /* the blocking retry right after a failed trylock */

/* Sums of sections no longer in the log, per class and mode. */
struct locks_log_sums {
	struct locks_mark work[LOCKS_CLASS_NR][LOCKS_MODE_NR];
	uint64_t wait_ns, waited, trylock_failed; /* saturated sections: as replayed */
};

struct locks_log {
	struct locks_log_ent *ent;
	size_t n, cap, max;
	uint64_t *work; /* (count << 8) | op; op LOCKS_OP_NR = page-table walks */
	size_t nwork, capwork;
	bool saturated;
	struct locks_log_sums folded, unsim;
	struct locks_log_stats st;
	uint64_t ops_used;
	/* the last failed trylock, to mark its blocking retry */
	bool last_failed;
	struct locks_log_ent last;
};

struct locks {
	struct locks_stat stat[LOCKS_CLASS_NR][LOCKS_MODE_NR];
	struct locks_log *log;       /* NULL: not logging */
	struct locks_recost base;    /* the costs sections are given with (locks_set_costs) */
	bool have_base;
	struct locks_mark mark;      /* cumulative work (locks_mark) */
	uint64_t measured_failed;    /* locks_trylock_failed calls */
	struct locks_inst *table;
	size_t cap;    /* power of two */
	size_t used;   /* slots holding a record, live or dead */
	uint64_t now;  /* latest section start seen */
	uint64_t total_ns; /* every hold recorded, all classes and modes */
	uint64_t unlocked_ns; /* anon rmap work done outside every lock */
};

/* ---- cost model ------------------------------------------------------------ */

static const char *const op_keys[LOCKS_OP_NR] = {
	[LOCKS_OP_LOCK] = "lock_ns",
	[LOCKS_OP_AV_ALLOC] = "anon_vma_alloc_ns",
	[LOCKS_OP_AV_FREE] = "anon_vma_free_ns",
	[LOCKS_OP_AVC_ALLOC] = "avc_alloc_ns",
	[LOCKS_OP_AVC_FREE] = "avc_free_ns",
	[LOCKS_OP_TREE_INSERT] = "interval_tree_insert_ns",
	[LOCKS_OP_TREE_REMOVE] = "interval_tree_remove_ns",
	[LOCKS_OP_FOLIO_REWRITE] = "folio_rewrite_ns",
	[LOCKS_OP_RMAP_VMA] = "rmap_vma_ns",
	[LOCKS_OP_VMA_LOOKUP] = "vma_lookup_ns",
	[LOCKS_OP_VMA_WRITE] = "vma_write_lock_ns",
	[LOCKS_OP_VMA_REF] = "vma_refcount_ns",
	[LOCKS_OP_THP_SPLIT] = "thp_split_page_ns",
	[LOCKS_OP_THP_COLLAPSE] = "thp_collapse_ns",
	[LOCKS_OP_LAZY_MIGRATE] = "lazy_migrate_excl_ns",
};

const char *locks_op_key(enum locks_op op)
{
	if ((unsigned)op >= LOCKS_OP_NR)
		return NULL;
	return op_keys[op];
}

uint64_t locks_cost(const struct locks_costs *c, const struct locks_work *w, uint64_t extra_ns)
{
	uint64_t ns = extra_ns;
	int i;

	for (i = 0; i < LOCKS_OP_NR; i++)
		ns += c->ns[i] * w->n[i];
	return ns;
}

/* ---- histogram ------------------------------------------------------------- */

static unsigned hist_index(uint64_t v)
{
	unsigned e;

	if (v < 32)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* 5..63 */
	return 32u + (e - 5u) * 32u + (unsigned)((v >> (e - 5u)) & 31u);
}

/* [lo, hi] of the values that land in bucket i. */
static void hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
	unsigned e, sub;

	if (i < 32) {
		*lo = *hi = i;
		return;
	}
	e = (i - 32u) / 32u + 5u;
	sub = (i - 32u) % 32u;
	*lo = (32ULL + sub) << (e - 5u);
	*hi = *lo + ((1ULL << (e - 5u)) - 1);
}

void locks_hist_add(struct locks_hist *h, uint64_t v)
{
	if (h->n == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->n++;
	h->sum += v;
	h->bucket[hist_index(v)]++;
}

uint64_t locks_hist_quantile(const struct locks_hist *h, double q)
{
	uint64_t rank, seen = 0, lo, hi, mid;
	unsigned i;

	if (h->n == 0)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	rank = (uint64_t)(q * (double)h->n);
	if ((double)rank < q * (double)h->n)
		rank++; /* ceil */
	if (rank == 0)
		rank = 1;
	for (i = 0; i < LOCKS_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			break;
	}
	hist_bounds(i, &lo, &hi);
	mid = lo + (hi - lo) / 2;
	if (mid < h->min)
		mid = h->min;
	if (mid > h->max)
		mid = h->max;
	return mid;
}

void locks_hist_merge(struct locks_hist *a, const struct locks_hist *b)
{
	unsigned i;

	if (b->n == 0)
		return;
	if (a->n == 0 || b->min < a->min)
		a->min = b->min;
	if (b->max > a->max)
		a->max = b->max;
	a->n += b->n;
	a->sum += b->sum;
	for (i = 0; i < LOCKS_HIST_BUCKETS; i++)
		a->bucket[i] += b->bucket[i];
}

/* ---- instance table ---------------------------------------------------------- */

static size_t inst_hash(uint64_t id, unsigned cls, size_t cap)
{
	return (size_t)hash_u64(id ^ ((uint64_t)cls << 56)) & (cap - 1);
}

static bool inst_dead(const struct locks *l, const struct locks_inst *in)
{
	return in->last_end + LOCKS_EXPIRY_NS < l->now;
}

/* Rebuild into a table of new_cap slots, dropping dead records. */
static int table_rebuild(struct locks *l, size_t new_cap)
{
	struct locks_inst *old = l->table, *t;
	size_t old_cap = l->cap, i, j;

	t = calloc(new_cap, sizeof(*t));
	if (!t)
		return -1;
	l->table = t;
	l->cap = new_cap;
	l->used = 0;
	for (i = 0; i < old_cap; i++) {
		if (!old[i].used || inst_dead(l, &old[i]))
			continue;
		j = inst_hash(old[i].id, old[i].cls, new_cap);
		while (t[j].used)
			j = (j + 1) & (new_cap - 1);
		t[j] = old[i];
		l->used++;
	}
	free(old);
	return 0;
}

/*
 * Find (cls, id) or make a fresh record for it.  The probe runs to the first
 * empty slot (the key cannot be further on); a fresh record reuses the first
 * dead slot met on the way, so dead records never lengthen the chains for good.
 */
static struct locks_inst *inst_get(struct locks *l, unsigned cls, uint64_t id)
{
	struct locks_inst *in, *reuse = NULL;
	size_t j;

	if ((l->used + 1) * 4 > l->cap * 3) {
		size_t live = 0, i, cap = l->cap;

		for (i = 0; i < l->cap; i++)
			live += l->table[i].used && !inst_dead(l, &l->table[i]);
		while ((live + 1) * 2 > cap)
			cap *= 2;
		/* Out of memory: go on in the old table while it has an empty slot. */
		if (table_rebuild(l, cap) && l->used + 2 > l->cap)
			return NULL;
	}
	j = inst_hash(id, cls, l->cap);
	for (;;) {
		in = &l->table[j];
		if (!in->used)
			break;
		if (in->id == id && in->cls == cls)
			return in;
		if (!reuse && inst_dead(l, in))
			reuse = in;
		j = (j + 1) & (l->cap - 1);
	}
	if (reuse)
		in = reuse;
	else
		l->used++;
	memset(in, 0, sizeof(*in));
	in->id = id;
	in->cls = (uint8_t)cls;
	in->used = 1;
	return in;
}

/* When do the holds of other CPUs (not cpu) in this mode end?  0: none. */
static uint64_t ends_others(const struct locks_ends *e, uint32_t cpu)
{
	if (e->n == 0)
		return 0;
	if (e->cpu[0] != cpu)
		return e->end[0];
	return e->n > 1 ? e->end[1] : 0;
}

static void ends_add(struct locks_ends *e, uint32_t cpu, uint64_t end)
{
	if (e->n > 0 && e->cpu[0] == cpu) {
		if (end > e->end[0])
			e->end[0] = end;
		return;
	}
	if (e->n > 1 && e->cpu[1] == cpu) {
		if (end > e->end[1])
			e->end[1] = end;
	} else if (e->n < 2) {
		e->cpu[e->n] = cpu;
		e->end[e->n] = end;
		e->n++;
	} else if (end > e->end[1]) {
		e->cpu[1] = cpu;
		e->end[1] = end;
	} else {
		return;
	}
	if (e->n == 2 && e->end[1] > e->end[0]) {
		uint64_t te = e->end[0];
		uint32_t tc = e->cpu[0];

		e->end[0] = e->end[1];
		e->cpu[0] = e->cpu[1];
		e->end[1] = te;
		e->cpu[1] = tc;
	}
}

/* ---- public ------------------------------------------------------------------- */

int locks_create(struct locks **out, struct avm_err *err)
{
	struct locks *l;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return avm_errf(err, "locks: out of memory");
	l->cap = LOCKS_TABLE_MIN;
	l->table = calloc(l->cap, sizeof(*l->table));
	if (!l->table) {
		free(l);
		return avm_errf(err, "locks: out of memory");
	}
	*out = l;
	return 0;
}

void locks_destroy(struct locks *l)
{
	if (!l)
		return;
	if (l->log) {
		free(l->log->ent);
		free(l->log->work);
		free(l->log);
	}
	free(l->table);
	free(l);
}

/* The part of s->len its work does not explain under the base costs (all of it without them). */
static uint64_t section_fixed(const struct locks *l, const struct locks_section *s)
{
	uint64_t dot;

	if (!l->have_base)
		return s->len;
	dot = locks_cost(&l->base.rmap, &s->work, s->pt_walks * l->base.walk_ns);
	return s->len > dot ? s->len - dot : 0;
}

static void mark_add(struct locks_mark *m, const struct locks_section *s, uint64_t fixed,
		     bool have_base)
{
	int i;

	m->fixed_ns += fixed;
	if (!have_base)
		return;
	for (i = 0; i < LOCKS_OP_NR; i++)
		m->n[i] += s->work.n[i];
	m->pt_walks += s->pt_walks;
}

static void log_section(struct locks *l, const struct locks_section *s, uint64_t fixed,
			int failed, uint64_t wait);

int locks_hold(struct locks *l, const struct locks_section *s, uint64_t *wait_ns)
{
	struct locks_stat *st;
	struct locks_inst *in = NULL;
	uint64_t ready, blocked, end, fixed = section_fixed(l, s);

	/* Out-of-range enums are caller bugs: count them as "other" of the first class. */
	st = &l->stat[(unsigned)s->cls < LOCKS_CLASS_NR ? s->cls : 0]
		     [(unsigned)s->mode < LOCKS_MODE_NR ? s->mode : 0];
	if (s->start > l->now)
		l->now = s->start;
	ready = s->start;
	if (s->cls != LOCKS_RCU && (unsigned)s->cls < LOCKS_CLASS_NR) {
		in = inst_get(l, s->cls, s->instance);
		if (!in)
			st->untracked++;
	}
	if (in) {
		/* Readers are excluded by writers; writers by everyone (rwsem rules). */
		blocked = ends_others(&in->mode[LOCKS_WRITE], s->cpu);
		if (s->mode == LOCKS_WRITE) {
			uint64_t r = ends_others(&in->mode[LOCKS_READ], s->cpu);

			if (r > blocked)
				blocked = r;
		}
		if (blocked > ready) {
			if (s->trylock) {
				st->trylock_failed++;
				if (wait_ns)
					*wait_ns = 0;
				if (l->log)
					log_section(l, s, fixed, 1, 0);
				return 1;
			}
			ready = blocked;
		}
		end = ready + s->len;
		ends_add(&in->mode[s->mode == LOCKS_WRITE], s->cpu, end);
		if (end > in->last_end)
			in->last_end = end;
	}
	locks_hist_add(&st->hold, s->len);
	l->total_ns += s->len;
	if (ready > s->start)
		locks_hist_add(&st->wait, ready - s->start);
	st->count_by_why[(unsigned)s->why < LOCKS_WHY_NR ? s->why : LOCKS_WHY_OTHER]++;
	st->total_by_why[(unsigned)s->why < LOCKS_WHY_NR ? s->why : LOCKS_WHY_OTHER] += s->len;
	mark_add(&l->mark, s, fixed, l->have_base);
	if (l->log)
		log_section(l, s, fixed, 0, ready - s->start);
	if (wait_ns)
		*wait_ns = ready - s->start;
	return 0;
}

void locks_summary(const struct locks *l, enum locks_class c, enum locks_mode m,
		   struct locks_summary *out)
{
	const struct locks_stat *st = &l->stat[c][m];

	memset(out, 0, sizeof(*out));
	out->count = st->hold.n;
	out->total_ns = st->hold.sum;
	out->p50_ns = locks_hist_quantile(&st->hold, 0.50);
	out->p99_ns = locks_hist_quantile(&st->hold, 0.99);
	out->max_ns = st->hold.max;
	out->waited = st->wait.n;
	out->wait_total_ns = st->wait.sum;
	out->wait_p99_ns = locks_hist_quantile(&st->wait, 0.99);
	out->wait_max_ns = st->wait.max;
	out->trylock_failed = st->trylock_failed;
	out->untracked = st->untracked;
	memcpy(out->count_by_why, st->count_by_why, sizeof(out->count_by_why));
	memcpy(out->total_ns_by_why, st->total_by_why, sizeof(out->total_ns_by_why));
}

const struct locks_hist *locks_hold_hist(const struct locks *l, enum locks_class c,
					 enum locks_mode m)
{
	return &l->stat[c][m].hold;
}

const struct locks_hist *locks_wait_hist(const struct locks *l, enum locks_class c,
					 enum locks_mode m)
{
	return &l->stat[c][m].wait;
}

uint64_t locks_total_ns(const struct locks *l)
{
	return l->total_ns;
}

void locks_unlocked(struct locks *l, uint64_t ns)
{
	l->unlocked_ns += ns;
	l->mark.fixed_ns += ns;
}

void locks_unlocked_work(struct locks *l, const struct locks_costs *c, const struct locks_work *w)
{
	uint64_t ns = locks_cost(c, w, 0);
	int i;

	l->unlocked_ns += ns;
	if (!l->have_base) {
		l->mark.fixed_ns += ns;
		return;
	}
	for (i = 0; i < LOCKS_OP_NR; i++)
		l->mark.n[i] += w->n[i];
	if (l->log)
		for (i = 0; i < LOCKS_OP_NR; i++)
			l->log->ops_used |= w->n[i] ? 1ULL << i : 0;
}

uint64_t locks_unlocked_ns(const struct locks *l)
{
	return l->unlocked_ns;
}

uint64_t locks_live_instances(const struct locks *l)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < l->cap; i++)
		n += l->table[i].used && !inst_dead(l, &l->table[i]);
	return n;
}

const char *locks_class_name(enum locks_class c)
{
	static const char *const names[LOCKS_CLASS_NR] = {
		[LOCKS_ANON_VMA] = "anon_vma_rwsem",
		[LOCKS_MMAP] = "mmap_lock",
		[LOCKS_VMA] = "vma_lock",
		[LOCKS_RCU] = "rcu",
		[LOCKS_PTL] = "page_table_lock",
	};

	return (unsigned)c < LOCKS_CLASS_NR ? names[c] : "?";
}

const char *locks_mode_name(enum locks_mode m)
{
	return m == LOCKS_WRITE ? "write" : m == LOCKS_READ ? "read" : "?";
}

const char *locks_why_name(enum locks_why w)
{
	static const char *const names[LOCKS_WHY_NR] = {
		[LOCKS_WHY_PREPARE] = "prepare",     [LOCKS_WHY_CLONE] = "clone",
		[LOCKS_WHY_FORK] = "fork",           [LOCKS_WHY_UNLINK] = "unlink",
		[LOCKS_WHY_UPGRADE] = "upgrade",     [LOCKS_WHY_RMAP_WALK] = "rmap_walk",
		[LOCKS_WHY_THP_SPLIT] = "thp_split", [LOCKS_WHY_FAULT] = "fault",
		[LOCKS_WHY_OTHER] = "other",
		[LOCKS_WHY_SPLIT] = "split",         [LOCKS_WHY_MERGE] = "merge",
		[LOCKS_WHY_MUNMAP] = "munmap",       [LOCKS_WHY_MPROTECT] = "mprotect",
		[LOCKS_WHY_COLLAPSE] = "thp_collapse", [LOCKS_WHY_MIGRATE] = "migrate_excl",
		[LOCKS_WHY_REWRITE] = "rewrite",
	};

	return (unsigned)w < LOCKS_WHY_NR ? names[w] : "?";
}

/* ---- report block ------------------------------------------------------------------ */

/*
 * JSON of one histogram: the summary figures and the sparse buckets.  Numbers
 * are doubles in cJSON: exact up to 2^53 ns (104 days of hold time).  unit
 * "ns" names the figures total_ns, min_ns, ...; NULL or "" names them total,
 * min, ... (histograms of counts).
 */
static void hist_key(char *buf, size_t len, const char *name, const char *unit)
{
	snprintf(buf, len, unit && *unit ? "%s_%s" : "%s", name, unit ? unit : "");
}

cJSON *locks_hist_json(const struct locks_hist *h, const char *unit)
{
	cJSON *o = cJSON_CreateObject(), *b;
	char k[5][32];
	unsigned i;

	if (!o)
		return NULL;
	hist_key(k[0], sizeof(k[0]), "total", unit);
	hist_key(k[1], sizeof(k[1]), "min", unit);
	hist_key(k[2], sizeof(k[2]), "p50", unit);
	hist_key(k[3], sizeof(k[3]), "p99", unit);
	hist_key(k[4], sizeof(k[4]), "max", unit);
	if (!cJSON_AddNumberToObject(o, "count", (double)h->n) ||
	    !cJSON_AddNumberToObject(o, k[0], (double)h->sum) ||
	    !cJSON_AddNumberToObject(o, k[1], (double)h->min) ||
	    !cJSON_AddNumberToObject(o, k[2], (double)locks_hist_quantile(h, 0.50)) ||
	    !cJSON_AddNumberToObject(o, k[3], (double)locks_hist_quantile(h, 0.99)) ||
	    !cJSON_AddNumberToObject(o, k[4], (double)h->max) ||
	    !(b = cJSON_AddArrayToObject(o, "buckets")))
		goto fail;
	for (i = 0; i < LOCKS_HIST_BUCKETS; i++) {
		cJSON *pair;

		if (!h->bucket[i])
			continue;
		pair = cJSON_CreateArray();
		if (!pair || !cJSON_AddItemToArray(b, pair)) {
			cJSON_Delete(pair);
			goto fail;
		}
		if (!cJSON_AddItemToArray(pair, cJSON_CreateNumber(i)) ||
		    !cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)h->bucket[i])))
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static int json_u64(const cJSON *o, const char *key, uint64_t *out, struct avm_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	/* a count converts to uint64_t only below 2^64 (and never from nan or inf) */
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 18446744073709551616.0))
		return avm_errf(err, "'%s' missing or not a count", key);
	*out = (uint64_t)v->valuedouble;
	return 0;
}

int locks_hist_from_json(const cJSON *o, const char *unit, struct locks_hist *h,
			 struct avm_err *err)
{
	const cJSON *b, *pair;
	char k[3][32];
	uint64_t n = 0;

	memset(h, 0, sizeof(*h));
	if (!cJSON_IsObject(o))
		return avm_errf(err, "histogram is not an object");
	hist_key(k[0], sizeof(k[0]), "total", unit);
	hist_key(k[1], sizeof(k[1]), "min", unit);
	hist_key(k[2], sizeof(k[2]), "max", unit);
	if (json_u64(o, "count", &h->n, err) || json_u64(o, k[0], &h->sum, err) ||
	    json_u64(o, k[1], &h->min, err) || json_u64(o, k[2], &h->max, err))
		return -1;
	b = cJSON_GetObjectItemCaseSensitive(o, "buckets");
	if (!cJSON_IsArray(b))
		return avm_errf(err, "histogram: 'buckets' missing");
	cJSON_ArrayForEach(pair, b) {
		const cJSON *i = cJSON_GetArrayItem(pair, 0), *c = cJSON_GetArrayItem(pair, 1);

		if (!cJSON_IsNumber(i) || !cJSON_IsNumber(c) || i->valuedouble < 0 ||
		    i->valuedouble >= LOCKS_HIST_BUCKETS || c->valuedouble < 0)
			return avm_errf(err, "histogram: bad bucket entry");
		h->bucket[(unsigned)i->valuedouble] += (uint64_t)c->valuedouble;
		n += (uint64_t)c->valuedouble;
	}
	if (n != h->n)
		return avm_errf(err, "histogram: buckets hold %llu values, count says %llu",
				(unsigned long long)n, (unsigned long long)h->n);
	return 0;
}

int locks_hist_json_merge(const cJSON *a, const cJSON *b, const char *unit, cJSON **out,
			  struct avm_err *err)
{
	struct locks_hist *h = malloc(2 * sizeof(*h));
	int rc = -1;

	*out = NULL;
	if (!h)
		return avm_errf(err, "out of memory (histogram merge)");
	if (locks_hist_from_json(a, unit, &h[0], err) || locks_hist_from_json(b, unit, &h[1], err))
		goto out;
	locks_hist_merge(&h[0], &h[1]);
	*out = locks_hist_json(&h[0], unit);
	if (!*out) {
		avm_errf(err, "out of memory (histogram merge)");
		goto out;
	}
	rc = 0;
out:
	free(h);
	return rc;
}

static cJSON *stat_to_json(const struct locks_stat *st)
{
	cJSON *o = cJSON_CreateObject(), *h, *by;
	int w;

	if (!o)
		return NULL;
	h = locks_hist_json(&st->hold, "ns");
	if (!h || !cJSON_AddItemToObject(o, "hold", h)) {
		cJSON_Delete(h);
		goto fail;
	}
	h = locks_hist_json(&st->wait, "ns");
	if (!h || !cJSON_AddItemToObject(o, "wait", h)) {
		cJSON_Delete(h);
		goto fail;
	}
	if (!cJSON_AddNumberToObject(o, "trylock_failed", (double)st->trylock_failed) ||
	    !cJSON_AddNumberToObject(o, "untracked", (double)st->untracked) ||
	    !(by = cJSON_AddObjectToObject(o, "by_reason")))
		goto fail;
	for (w = 0; w < LOCKS_WHY_NR; w++) {
		cJSON *r = cJSON_AddObjectToObject(by, locks_why_name((enum locks_why)w));

		if (!r || !cJSON_AddNumberToObject(r, "count", (double)st->count_by_why[w]) ||
		    !cJSON_AddNumberToObject(r, "total_ns", (double)st->total_by_why[w]))
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static int stat_from_json(const cJSON *o, struct locks_stat *st, struct avm_err *err)
{
	const cJSON *by;
	int w;

	if (!o) {
		/* a class added after the report was written: nothing held */
		memset(st, 0, sizeof(*st));
		return 0;
	}
	if (!cJSON_IsObject(o))
		return avm_errf(err, "locks block: mode entry is not an object");
	if (locks_hist_from_json(cJSON_GetObjectItemCaseSensitive(o, "hold"), "ns", &st->hold, err) ||
	    locks_hist_from_json(cJSON_GetObjectItemCaseSensitive(o, "wait"), "ns", &st->wait, err) ||
	    json_u64(o, "trylock_failed", &st->trylock_failed, err) ||
	    json_u64(o, "untracked", &st->untracked, err))
		return -1;
	by = cJSON_GetObjectItemCaseSensitive(o, "by_reason");
	for (w = 0; w < LOCKS_WHY_NR; w++) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(by, locks_why_name((enum locks_why)w));

		st->count_by_why[w] = st->total_by_why[w] = 0;
		if (!r)
			continue; /* a reason added after the report was written */
		if (json_u64(r, "count", &st->count_by_why[w], err) ||
		    json_u64(r, "total_ns", &st->total_by_why[w], err))
			return -1;
	}
	return 0;
}

/* Build a block from stats laid out [class][mode]. */
static cJSON *block_to_json(const struct locks_stat st[LOCKS_CLASS_NR][LOCKS_MODE_NR],
			    struct avm_err *err)
{
	cJSON *o = cJSON_CreateObject();
	int c, m;

	if (!o)
		goto oom;
	for (c = 0; c < LOCKS_CLASS_NR; c++) {
		cJSON *co = cJSON_AddObjectToObject(o, locks_class_name((enum locks_class)c));

		if (!co)
			goto oom;
		for (m = 0; m < LOCKS_MODE_NR; m++) {
			cJSON *mo = stat_to_json(&st[c][m]);

			if (!mo || !cJSON_AddItemToObject(co, locks_mode_name((enum locks_mode)m), mo)) {
				cJSON_Delete(mo);
				goto oom;
			}
		}
	}
	return o;
oom:
	cJSON_Delete(o);
	avm_errf(err, "locks: out of memory building the report block");
	return NULL;
}

cJSON *locks_json(const struct locks *l, struct avm_err *err)
{
	return block_to_json(l->stat, err);
}

int locks_json_merge(const cJSON *a, const cJSON *b, cJSON **out, struct avm_err *err)
{
	struct locks_stat(*sa)[LOCKS_MODE_NR] = NULL, (*sb)[LOCKS_MODE_NR] = NULL;
	int c, m, w, rc = -1;

	*out = NULL;
	sa = calloc(LOCKS_CLASS_NR, sizeof(*sa));
	sb = calloc(LOCKS_CLASS_NR, sizeof(*sb));
	if (!sa || !sb) {
		avm_errf(err, "locks: out of memory merging blocks");
		goto out;
	}
	for (c = 0; c < LOCKS_CLASS_NR; c++) {
		const char *cn = locks_class_name((enum locks_class)c);
		const cJSON *ca = cJSON_GetObjectItemCaseSensitive(a, cn);
		const cJSON *cb = cJSON_GetObjectItemCaseSensitive(b, cn);

		for (m = 0; m < LOCKS_MODE_NR; m++) {
			const char *mn = locks_mode_name((enum locks_mode)m);

			if (stat_from_json(cJSON_GetObjectItemCaseSensitive(ca, mn), &sa[c][m], err) ||
			    stat_from_json(cJSON_GetObjectItemCaseSensitive(cb, mn), &sb[c][m], err)) {
				avm_err_prefix(err, "%s.%s", cn, mn);
				goto out;
			}
			locks_hist_merge(&sa[c][m].hold, &sb[c][m].hold);
			locks_hist_merge(&sa[c][m].wait, &sb[c][m].wait);
			sa[c][m].trylock_failed += sb[c][m].trylock_failed;
			sa[c][m].untracked += sb[c][m].untracked;
			for (w = 0; w < LOCKS_WHY_NR; w++) {
				sa[c][m].count_by_why[w] += sb[c][m].count_by_why[w];
				sa[c][m].total_by_why[w] += sb[c][m].total_by_why[w];
			}
		}
	}
	*out = block_to_json((const struct locks_stat(*)[LOCKS_MODE_NR])sa, err);
	rc = *out ? 0 : -1;
out:
	free(sa);
	free(sb);
	return rc;
}

void locks_trylock_failed(struct locks *l, enum locks_class c, enum locks_mode m)
{
	if ((unsigned)c < LOCKS_CLASS_NR && (unsigned)m < LOCKS_MODE_NR) {
		l->stat[c][m].trylock_failed++;
		l->measured_failed++;
	}
}

/* ---- measured mmap_lock write holds ------------------------------------------------ */

struct locks_measured {
	struct u64map held; /* mm id -> (void *)(holder tid + 1) */
	uint64_t holds;
};

int locks_measured_create(struct locks_measured **out, struct avm_err *err)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : avm_errf(err, "out of memory (measured mmap_lock holds)");
}

void locks_measured_destroy(struct locks_measured *m)
{
	if (!m)
		return;
	u64map_free(&m->held);
	free(m);
}

static uint64_t measured_holder(const struct locks_measured *m, uint64_t mm)
{
	return (uint64_t)(uintptr_t)u64map_get(&m->held, mm);
}

/* AVM_EXIT: the task holds nothing any more (a lost release ends here). */
static void measured_exit(struct locks_measured *m, uint64_t tid1)
{
	uint64_t it = 0, key;
	void *val;

	while (u64map_next(&m->held, &it, &key, &val)) {
		if ((uint64_t)(uintptr_t)val != tid1)
			continue;
		u64map_del(&m->held, key);
		it = 0; /* deletion shifts entries back: rescan (the map holds a few) */
	}
}

int locks_measured_event(struct locks_measured *m, const struct avm_event *ev,
			 struct avm_err *err)
{
	uint64_t tid1 = (uint64_t)ev->tid + 1;

	if (ev->kind == AVM_EXIT) {
		if (m->held.n)
			measured_exit(m, tid1);
		return 0;
	}
	if (ev->kind == AVM_MM_RELEASE) {
		if (ev->mm && m->held.n)
			u64map_del(&m->held, ev->mm);
		return 0;
	}
	if (ev->kind != AVM_MMAP_LOCK || !ev->mm)
		return 0;
	if (ev->b == AVM_LOCK_ACQUIRED && ev->c) {
		if (ev->a != 1) {
			/* downgrade by the holder, or a lost release: no writer now */
			if (m->held.n)
				u64map_del(&m->held, ev->mm);
			return 0;
		}
		m->holds++;
		if (u64map_put(&m->held, ev->mm, (void *)(uintptr_t)tid1))
			return avm_errf(err, "out of memory (measured mmap_lock holds)");
	} else if (ev->b == AVM_LOCK_RELEASED && ev->a == 1 && measured_holder(m, ev->mm) == tid1) {
		u64map_del(&m->held, ev->mm);
	}
	return 0;
}

bool locks_measured_write_held(const struct locks_measured *m, uint64_t mm)
{
	return m->held.n && u64map_get(&m->held, mm) != NULL;
}

uint64_t locks_measured_holds(const struct locks_measured *m)
{
	return m->holds;
}

uint64_t locks_count(const struct locks *l)
{
	uint64_t n = 0;
	int c, m;

	for (c = 0; c < LOCKS_CLASS_NR; c++)
		for (m = 0; m < LOCKS_MODE_NR; m++)
			n += l->stat[c][m].hold.n;
	return n;
}

/* ---- calibration ------------------------------------------------------------------ */

const char *locks_calib_feature_name(enum locks_calib_feature f)
{
	static const char *const names[LOCKS_CF_NR] = {
		[LOCKS_CF_LOCK] = "lock",
		[LOCKS_CF_AV_ALLOC] = "anon_vma_alloc",
		[LOCKS_CF_AV_FREE] = "anon_vma_free",
		[LOCKS_CF_AVC_LINK] = "avc_link",
		[LOCKS_CF_AVC_UNLINK] = "avc_unlink",
		[LOCKS_CF_FOLIO_REWRITE] = "folio_rewrite",
		[LOCKS_CF_PTE_COPY] = "pte_copy",
		[LOCKS_CF_PT_TABLE] = "pt_table",
		[LOCKS_CF_VMA_COPY] = "vma_copy",
		[LOCKS_CF_BASE] = "base",
	};

	return (unsigned)f < LOCKS_CF_NR ? names[f] : "?";
}

void locks_calib_add(struct locks_calib *c, const double x[LOCKS_CF_NR], double y_ns)
{
	int i, j;

	for (i = 0; i < LOCKS_CF_NR; i++) {
		if (x[i] == 0)
			continue;
		c->seen[i]++;
		c->xty[i] += x[i] * y_ns;
		for (j = 0; j < LOCKS_CF_NR; j++)
			c->xtx[i][j] += x[i] * x[j];
	}
	c->samples++;
}

/*
 * Which features the samples can tell apart: an incremental Cholesky
 * factorisation of X'X over the candidates, in an order that puts the
 * constant and the big fork terms first; a candidate whose pivot is ~0 is a
 * linear combination of features already taken (one AVC link per lock
 * section in every sample, say) and cannot be fitted.
 */
static void calib_identifiable(const struct locks_calib *c, bool fit[LOCKS_CF_NR])
{
	static const int order[LOCKS_CF_NR] = {
		LOCKS_CF_BASE,     LOCKS_CF_PTE_COPY,  LOCKS_CF_PT_TABLE,  LOCKS_CF_VMA_COPY,
		LOCKS_CF_AV_ALLOC, LOCKS_CF_AVC_LINK,  LOCKS_CF_LOCK,      LOCKS_CF_AVC_UNLINK,
		LOCKS_CF_AV_FREE,  LOCKS_CF_FOLIO_REWRITE,
	};
	double l[LOCKS_CF_NR][LOCKS_CF_NR] = { { 0 } };
	int taken[LOCKS_CF_NR], n = 0, k, a, b;

	for (k = 0; k < LOCKS_CF_NR; k++) {
		int i = order[k];
		double y[LOCKS_CF_NR], d;

		if (!fit[i])
			continue;
		/* forward solve L y = A[taken][i], pivot d = A[i][i] - |y|^2 */
		d = c->xtx[i][i];
		for (a = 0; a < n; a++) {
			double s = c->xtx[taken[a]][i];

			for (b = 0; b < a; b++)
				s -= l[a][b] * y[b];
			y[a] = s / l[a][a];
			d -= y[a] * y[a];
		}
		if (d <= 1e-9 * c->xtx[i][i]) {
			fit[i] = false;
			continue;
		}
		for (a = 0; a < n; a++)
			l[n][a] = y[a];
		l[n][n] = sqrt(d);
		taken[n++] = i;
	}
}

void locks_calib_fit(const struct locks_calib *c, const double prior[LOCKS_CF_NR],
		     uint64_t min_samples, double out[LOCKS_CF_NR], bool fitted[LOCKS_CF_NR])
{
	bool fit[LOCKS_CF_NR];
	int i, j, sweep;

	for (i = 0; i < LOCKS_CF_NR; i++) {
		fit[i] = c->seen[i] >= min_samples && c->seen[i] > 0 && c->xtx[i][i] > 0;
		out[i] = prior[i];
	}
	calib_identifiable(c, fit);
	/*
	 * Minimise |Xb - y|^2 = b'Ab - 2c'b + const over b >= 0 with A = X'X,
	 * c = X'y, the unfitted features fixed at their prior: each step sets
	 * one coordinate to its constrained optimum given the others, which
	 * never increases the objective and converges for a positive definite A.
	 */
	for (sweep = 0; sweep < 100000; sweep++) {
		double change = 0, scale = 0;

		for (i = 0; i < LOCKS_CF_NR; i++) {
			double r = c->xty[i], v;

			if (!fit[i])
				continue;
			for (j = 0; j < LOCKS_CF_NR; j++)
				if (j != i)
					r -= c->xtx[i][j] * out[j];
			v = r / c->xtx[i][i];
			if (v < 0)
				v = 0;
			change += v > out[i] ? v - out[i] : out[i] - v;
			scale += v;
			out[i] = v;
		}
		if (change <= 1e-12 * (scale + 1))
			break;
	}
	if (fitted)
		memcpy(fitted, fit, sizeof(fit));
}

/* ---- re-costing: marks, the section log, re-simulation ------------------------------- */

void locks_set_costs(struct locks *l, const struct locks_recost *c)
{
	l->base = *c;
	l->have_base = true;
}

void locks_mark(const struct locks *l, struct locks_mark *out)
{
	*out = l->mark;
}

void locks_mark_sub(const struct locks_mark *a, const struct locks_mark *b, struct locks_mark *out)
{
	int i;

	for (i = 0; i < LOCKS_OP_NR; i++)
		out->n[i] = a->n[i] - b->n[i];
	out->pt_walks = a->pt_walks - b->pt_walks;
	out->fixed_ns = a->fixed_ns - b->fixed_ns;
}

uint64_t locks_mark_cost(const struct locks_mark *m, const struct locks_recost *c)
{
	uint64_t ns = m->fixed_ns + m->pt_walks * c->walk_ns;
	int i;

	for (i = 0; i < LOCKS_OP_NR; i++)
		ns += m->n[i] * c->rmap.ns[i];
	return ns;
}

int locks_log_enable(struct locks *l, uint64_t max_sections, struct avm_err *err)
{
	if (l->log)
		return 0;
	l->log = calloc(1, sizeof(*l->log));
	if (!l->log)
		return avm_errf(err, "locks: out of memory (section log)");
	l->log->max = max_sections < 64 ? 64 : (size_t)max_sections;
	return 0;
}

void locks_log_stats(const struct locks *l, struct locks_log_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!l->log)
		return;
	*out = l->log->st;
	out->logged = l->log->n;
	out->bytes = l->log->cap * sizeof(*l->log->ent) + l->log->capwork * sizeof(*l->log->work);
}

uint64_t locks_log_ops_used(const struct locks *l)
{
	return l->log ? l->log->ops_used : 0;
}

/* Sums of one section's work into m (its class/mode slot of the folded or unsimulated sums). */
static void sums_add_entry(struct locks_mark *m, const struct locks_log_ent *e, const uint64_t *work)
{
	unsigned i;

	m->fixed_ns += e->fixed_ns;
	for (i = 0; i < e->nwork; i++) {
		uint64_t op = work[e->work_off + i] & 0xff, cnt = work[e->work_off + i] >> 8;

		if (op < LOCKS_OP_NR)
			m->n[op] += cnt;
		else
			m->pt_walks += cnt;
	}
}

static int log_cmp_key(const struct locks_log_ent *a, const struct locks_log_ent *b)
{
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->instance != b->instance)
		return a->instance < b->instance ? -1 : 1;
	return 0;
}

static _Thread_local const struct locks_log_ent *log_sort_base; /* per world thread */

static int log_cmp_idx(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	int c = log_cmp_key(&log_sort_base[a], &log_sort_base[b]);

	return c ? c : (a > b) - (a < b);
}

/*
 * Fold single-CPU clusters that ended before the horizon into l->log->folded
 * (locks.h locks_log_enable).  Returns -1 only when out of memory for the
 * index (the log is then saturated instead).
 */
static int log_compact(struct locks *l)
{
	struct locks_log *g = l->log;
	uint64_t horizon = l->now > LOCKS_EXPIRY_NS ? l->now - LOCKS_EXPIRY_NS : 0;
	uint32_t *idx = malloc(g->n * sizeof(*idx));
	uint8_t *fold = calloc(g->n, 1);
	size_t i, j, k, n = 0, nw = 0;

	if (!idx || !fold) {
		free(idx);
		free(fold);
		return -1;
	}
	for (i = 0; i < g->n; i++)
		idx[i] = (uint32_t)i;
	log_sort_base = g->ent; /* qsort has no context argument in C11 */
	qsort(idx, g->n, sizeof(*idx), log_cmp_idx);
	for (i = 0; i < g->n; i = j) {
		/* one instance: idx[i..j) in log order; split into clusters */
		for (j = i + 1; j < g->n && !log_cmp_key(&g->ent[idx[i]], &g->ent[idx[j]]); j++)
			;
		for (k = i; k < j;) {
			size_t c = k + 1;
			uint64_t last = g->ent[idx[k]].start;
			bool one_cpu = true;

			while (c < j) {
				uint64_t t = g->ent[idx[c]].start;
				uint64_t gap = t > last ? t - last : last - t;

				if (gap > LOCKS_EXPIRY_NS)
					break;
				one_cpu &= g->ent[idx[c]].cpu == g->ent[idx[k]].cpu;
				if (t > last)
					last = t;
				c++;
			}
			if ((one_cpu && last < horizon) || g->ent[idx[k]].cls == LOCKS_RCU)
				for (size_t m = k; m < c; m++)
					fold[idx[m]] = 1;
			k = c;
		}
	}
	for (i = 0; i < g->n; i++) {
		struct locks_log_ent *e = &g->ent[i];

		if (fold[i]) {
			if (!(e->flags & LOG_TRYFAILED))
				sums_add_entry(&g->folded.work[e->cls][e->mode], e, g->work);
			g->st.folded++;
			continue;
		}
		/* keep: move the entry and its work down (in place, order kept) */
		if (e->nwork)
			memmove(&g->work[nw], &g->work[e->work_off], e->nwork * sizeof(*g->work));
		e->work_off = (uint32_t)nw;
		nw += e->nwork;
		g->ent[n++] = *e;
	}
	g->n = n;
	g->nwork = nw;
	g->st.compactions++;
	free(idx);
	free(fold);
	return 0;
}

static void log_section(struct locks *l, const struct locks_section *s, uint64_t fixed,
			int failed, uint64_t wait)
{
	struct locks_log *g = l->log;
	struct locks_log_ent e = {
		.start = s->start, .instance = s->instance, .fixed_ns = fixed, .cpu = s->cpu,
		.cls = (uint8_t)((unsigned)s->cls < LOCKS_CLASS_NR ? s->cls : 0),
		.mode = (uint8_t)((unsigned)s->mode < LOCKS_MODE_NR ? s->mode : 0),
		.why = (uint8_t)((unsigned)s->why < LOCKS_WHY_NR ? s->why : LOCKS_WHY_OTHER),
	};
	uint64_t pairs[LOCKS_OP_NR + 1];
	unsigned np = 0;
	int i;

	g->st.sections++;
	if (s->trylock)
		e.flags |= LOG_TRY;
	if (failed)
		e.flags |= LOG_TRYFAILED;
	if (!s->trylock && g->last_failed && g->last.cls == e.cls && g->last.instance == e.instance &&
	    g->last.cpu == e.cpu && g->last.start == e.start)
		e.flags |= LOG_RETRY;
	g->last_failed = failed;
	g->last = e;
	if (l->have_base) {
		for (i = 0; i < LOCKS_OP_NR; i++)
			if (s->work.n[i])
				pairs[np++] = (s->work.n[i] << 8) | (uint64_t)i;
		if (s->pt_walks)
			pairs[np++] = (s->pt_walks << 8) | LOCKS_OP_NR;
		for (i = 0; i < (int)np; i++)
			g->ops_used |= 1ULL << (pairs[i] & 0xff);
	}
	e.nwork = (uint8_t)np;
	if (!g->saturated && g->n == g->max) {
		size_t before = g->n;

		if (log_compact(l) || g->n * 4 > before * 3)
			g->saturated = true;
	}
	if (!g->saturated && g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 4096;
		struct locks_log_ent *ne;

		if (cap > g->max)
			cap = g->max;
		ne = realloc(g->ent, cap * sizeof(*ne));
		if (ne) {
			g->ent = ne;
			g->cap = cap;
		} else {
			g->saturated = true; /* out of memory: sum from here on */
		}
	}
	if (!g->saturated &&
	    array_grow((void **)&g->work, &g->capwork, g->nwork + np, sizeof(*g->work), 8192))
		g->saturated = true; /* out of memory: sum from here on */
	if (g->saturated) {
		g->st.unsimulated++;
		if (failed) {
			g->unsim.trylock_failed++;
			return;
		}
		e.work_off = 0;
		{
			struct locks_mark *m = &g->unsim.work[e.cls][e.mode];

			m->fixed_ns += fixed;
			for (i = 0; i < (int)np; i++) {
				if ((pairs[i] & 0xff) < LOCKS_OP_NR)
					m->n[pairs[i] & 0xff] += pairs[i] >> 8;
				else
					m->pt_walks += pairs[i] >> 8;
			}
		}
		g->unsim.wait_ns += wait;
		g->unsim.waited += wait > 0;
		return;
	}
	e.work_off = (uint32_t)g->nwork;
	if (np)
		memcpy(&g->work[g->nwork], pairs, np * sizeof(*pairs));
	g->nwork += np;
	g->ent[g->n++] = e;
}

int locks_log_resim(const struct locks *l, const struct locks_recost *c, struct locks_resim *out,
		    struct avm_err *err)
{
	const struct locks_log *g = l->log;
	struct locks *t = NULL;
	bool skip_retry = false;
	size_t i;
	int cl, m;

	memset(out, 0, sizeof(*out));
	if (!g)
		return avm_errf(err, "locks: no section log to re-simulate");
	if (locks_create(&t, err))
		return -1;
	for (i = 0; i < g->n; i++) {
		const struct locks_log_ent *e = &g->ent[i];
		struct locks_section s = { .cls = e->cls, .mode = e->mode, .why = e->why,
					   .trylock = e->flags & LOG_TRY, .instance = e->instance,
					   .cpu = e->cpu, .start = e->start };
		uint64_t wait = 0;
		unsigned k;

		if (e->flags & LOG_RETRY && skip_retry) {
			skip_retry = false;
			continue; /* its trylock succeeded this time */
		}
		skip_retry = false;
		s.len = e->fixed_ns;
		for (k = 0; k < e->nwork; k++) {
			uint64_t op = g->work[e->work_off + k] & 0xff, cnt = g->work[e->work_off + k] >> 8;

			s.len += cnt * (op < LOCKS_OP_NR ? c->rmap.ns[op] : c->walk_ns);
		}
		if (locks_hold(t, &s, &wait) == 1)
			continue;
		if (e->flags & LOG_TRYFAILED)
			skip_retry = true;
	}
	for (cl = 0; cl < LOCKS_CLASS_NR; cl++)
		for (m = 0; m < LOCKS_MODE_NR; m++) {
			const struct locks_stat *st = &t->stat[cl][m];

			out->wait_ns += st->wait.sum;
			out->waited += st->wait.n;
			out->trylock_failed += st->trylock_failed;
			out->hold_ns[cl][m] = st->hold.sum +
					      locks_mark_cost(&g->folded.work[cl][m], c) +
					      locks_mark_cost(&g->unsim.work[cl][m], c);
		}
	out->wait_ns += g->unsim.wait_ns;
	out->waited += g->unsim.waited;
	out->trylock_failed += g->unsim.trylock_failed + l->measured_failed;
	locks_destroy(t);
	return 0;
}
