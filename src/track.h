/*
 * track.h - per-world accounting over time: the cost of every fork, a
 * bounded time series of live anon rmap objects, and live bytes per process.
 *
 * Owns three report sections (docs/report.md lists the keys):
 *   - models.<name>.fork_cost: per fork (dup_mmap, not CLONE_VM) the modelled
 *     time of its anon rmap part (the hold lengths of every lock section the
 *     model recorded while applying the fork, locks.h) and of its page-table
 *     copy (copy_page_range, arch.h), as histograms;
 *   - models.<name>.series: live anon_vma / AVC / vm_area_struct counts and
 *     bytes_live sampled on trace-time boundaries, at most max_points points
 *     whatever the trace length;
 *   - top_processes: per process (tgid) the peak of the live bytes its events
 *     added, eager against lazy, the largest savings first.
 * The world (world.c) feeds it; it never reads simulator or model state.
 */
#ifndef ANONVMA_TRACK_H
#define ANONVMA_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "model.h"

#define TRACK_MAX_POINTS 512        /* the report's series.max_points */
#define TRACK_FIRST_INTERVAL_NS 1000 /* the series starts with a point every 1 us */
#define TRACK_TOP_PROCESSES 10

struct track_params {
	uint32_t max_points;        /* >= 2; TRACK_MAX_POINTS in the report */
	uint64_t first_interval_ns; /* >= 1 */
};

/* One process's live bytes of anon rmap objects, as its events changed them. */
struct track_proc {
	uint32_t pid;  /* tgid */
	int64_t cur;   /* may go below 0: a process freed objects another one added */
	int64_t peak;  /* largest cur seen, >= 0 */
};

struct track;

void track_params_default(struct track_params *p);
/* p NULL: the defaults. */
int track_create(const struct track_params *p, struct track **out, struct avm_err *err);
void track_destroy(struct track *t); /* safe on NULL */

/*
 * The next event happens at `now`, with the world in state s: every series
 * boundary up to now (k x interval <= now) is sampled from s first.  Call
 * before the event is applied; times that go backwards sample nothing.
 * Returns the next boundary (UINT64_MAX: none): a caller on the hot path
 * may skip calls until an event reaches it, if it reports the end of the
 * trace with track_end.
 */
uint64_t track_time(struct track *t, uint64_t now, const struct model_stats *s);
/* The latest event time seen is at least `end` (the series' last point). */
void track_end(struct track *t, uint64_t end);

/* One fork's modelled time: anon rmap sections and page-table copy, ns. */
void track_fork(struct track *t, uint64_t anon_rmap_ns, uint64_t page_table_ns);

/*
 * An event changed the live anon rmap bytes by delta and the change belongs
 * to process pid (event on mm).  Bytes adopted earlier for mm and not yet
 * owned (track_adopted) go to pid first.  Fails only when out of memory.
 */
int track_bytes(struct track *t, uint32_t pid, uint64_t mm, int64_t delta, struct avm_err *err);
/*
 * The start snapshot brought `bytes` of pre-existing objects with mm, whose
 * process is not known yet: they are held for mm until an event of mm first
 * changes a count (track_bytes), then owned by that event's process.
 */
int track_adopted(struct track *t, uint64_t mm, uint64_t bytes, struct avm_err *err);

/* The figures of one process; false when its events never changed a count. */
bool track_process(const struct track *t, uint32_t pid, struct track_proc *out);
/* Forks counted so far. */
uint64_t track_forks(const struct track *t);

/*
 * models.<name>.fork_cost: { "forks": n, "anon_rmap": H, "page_table_copy":
 * H, "total": H, "anon_rmap_share": x | null } with H = locks_hist_json(h,
 * "ns") and x = sum(anon_rmap) / sum(total) (null without forks or time).
 */
cJSON *track_fork_cost_json(const struct track *t, struct avm_err *err);
/* Fleet merge of two fork_cost blocks: histograms summed, the share recomputed. */
int track_fork_cost_json_merge(const cJSON *a, const cJSON *b, cJSON **out, struct avm_err *err);

/*
 * models.<name>.series.  Closes the series first (once): a last point at the
 * latest time seen (the end of the trace) with the state s.
 */
cJSON *track_series_json(struct track *t, const struct model_stats *s, struct avm_err *err);

/*
 * top_processes of two worlds that replayed the same trace: up to max
 * entries { pid, eager_bytes_peak, lazy_bytes_peak, saving_bytes,
 * saving_percent | null }, saving = eager peak - lazy peak, largest first
 * (ties: lower pid first).
 */
cJSON *track_top_processes_json(const struct track *eager, const struct track *lazy, size_t max,
				struct avm_err *err);

#endif
