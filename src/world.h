/*
 * world.h - one replay world: an address-space simulator (mm.h) plus one
 * model instance (model.h) and the model_stats they fill, for one design.
 *
 * The replay runs one world per model over the same event stream (merge
 * decisions depend on the design, so worlds never share simulator state).
 * A world is fed events in stream order:
 *   - world_apply() for every event except AVM_EXEC with a snapshot and the
 *     start snapshot; AVM_SLAB (kernel ground truth), AVM_SNAPSHOT and the
 *     other kernel-activity kinds are accepted and ignored;
 *   - world_exec() for AVM_EXEC, with the rows of snapshot ev->b (n may be 0);
 *   - world_adopt_start() once per mm of the start snapshot, before the
 *     first other event; the snapshot's anon_vma rows may be passed with
 *     every call (ids already adopted are skipped).
 * An event whose address range no address space can hold (it wraps, or
 * ends past 2^57) is skipped and counted (skip.h, in world_sim_stats) before
 * anything sees it.
 * With checking on (tests; anonvma-replay --check-invariants) the model's
 * and the simulator's invariant checkers run after every event, and the
 * first broken invariant fails the event with a message naming it.
 */
#ifndef ANONVMA_WORLD_H
#define ANONVMA_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "config.h"
#include "error.h"
#include "event.h"
#include "forkfit.h"
#include "locks.h"
#include "model.h"
#include "skip.h"

/* What the trace's meta table says about the recording host. */
struct world_meta {
	uint32_t size_anon_vma, size_avc, size_vma; /* bytes; 0: 104/64/192 */
	uint64_t page_size;                         /* 0: 4096 */
	int thp_enabled;                            /* -1 unknown, 0 never, 1 madvise, 2 always */
	/*
	 * The arch model (arch.h), loaded by the caller from --arch or the
	 * trace's meta.  NULL: no page tables, no lock accounting.  Its page
	 * size must equal page_size.
	 */
	const struct arch *arch;
	/* Keep no section log and no fork work (no re-costing, no verdict sensitivity). */
	bool no_recost;
	/*
	 * A trace replay: events on an address space the trace never made are
	 * skipped and counted (mm.h), not applied to an invented one.  Off in
	 * world_meta_defaults (tests build worlds from bare events).
	 */
	bool skip_unknown_mm;
	/*
	 * Anon folio sizes: the trace's meta thp_anon_sizes (mm.h,
	 * mm_sim_params_thp_sizes), NULL: unknown, base pages below the PMD.
	 * pt_reclaim: CONFIG_PT_RECLAIM, -1 unknown (off), 0 no, 1 yes.
	 */
	const char *thp_anon_sizes;
	int pt_reclaim;
};

struct world;

void world_meta_defaults(struct world_meta *m);

/*
 * Config beats meta for object sizes when the config sets them (non-zero);
 * THP comes from meta when cfg->thp_from_trace and meta knows it.
 */
int world_create(const struct config *cfg, const struct model_ops *ops,
		 const struct world_meta *meta, struct world **out, struct avm_err *err);
void world_destroy(struct world *w);

int world_apply(struct world *w, const struct avm_event *ev, struct avm_err *err);
int world_exec(struct world *w, const struct avm_event *ev, const struct avm_snap_vma *vmas,
	       size_t n, struct avm_err *err);
int world_adopt_start(struct world *w, uint64_t mm, const struct avm_snap_vma *vmas, size_t n,
		      const struct avm_snap_av *avs, size_t navs, struct avm_err *err);

void world_set_check(struct world *w, bool on);
/* Compare every rmap walk with the page tables (rmap_walk.h completeness; O(pages) a walk). */
void world_set_check_rmap(struct world *w, bool on);
/* Run both invariant checkers now (also done after every event when checking is on). */
int world_check(struct world *w, struct avm_err *err);

const struct model_stats *world_stats(const struct world *w);
const char *world_model_name(const struct world *w);
/* Events the simulator did not apply, by reason (skip.h). */
const struct skip_counts *world_skipped(const struct world *w);

/* Anon folio sizes and page-table reclaim as the simulator applied them. */
#define WORLD_FOLIO_ORDERS 21 /* orders 0..20; higher ones counted in the last */
struct world_folio_stats {
	uint64_t by_order[WORLD_FOLIO_ORDERS]; /* folios faults and COW allocated */
	uint64_t pte_tables_reclaimed;         /* PTE tables MADV_DONTNEED freed */
	uint64_t thp_collapses;                /* PMD ranges collapsed */
	uint64_t ksm_items;                    /* KSM rmap_items pinning anon state now */
};
void world_folio_stats(const struct world *w, struct world_folio_stats *out);

/*
 * The layout queries: what the world holds, as plain values (no simulator
 * or model types), for validation and replay.  The simulator and the model
 * themselves are the world's own (world_test.h opens them to tests).
 */
struct world_vma {
	uint64_t start, end;  /* [start, end) bytes */
	uint64_t pgoff;       /* pages */
	uint64_t flags;       /* VM_* (kabi.h) */
	uint64_t file;        /* open-file id, 0 anonymous */
	bool anon;            /* the model gave it anon rmap state */
	bool chain_known;     /* the model can tell chain_len (eager can) */
	uint32_t chain_len;   /* AVCs on its chain (chain_known) */
};
enum world_mm_state {
	WORLD_MM_NONE = 0,    /* the world has no such mm */
	WORLD_MM_MODELLED,    /* built by a snapshot, fork or exec */
	WORLD_MM_OPAQUE,      /* an empty guess made by an event on an unknown mm */
};
/*
 * What the world knows of mm (*state), then, when cb is set, each of its
 * VMAs in address order; cb returns non-zero to stop (returned).
 */
int world_layout(struct world *w, uint64_t mm, enum world_mm_state *state,
		 int (*cb)(void *ctx, const struct world_vma *v), void *ctx);
/* The VMA of mm containing addr: *out and 1, or 0 if none. */
int world_vma_at(struct world *w, uint64_t mm, uint64_t addr, struct world_vma *out);
/*
 * --calibrate: pair every measured mmap_lock write hold of the trace
 * (AVM_MMAP_LOCK acquired -> released, per task) with the work the model did
 * for that task's next VMA-changing syscall, into a least-squares fit
 * (locks.h).  Needs meta->arch.  Off by default.
 */
int world_set_calibrate(struct world *w, bool on, struct avm_err *err);
const struct locks_calib *world_calib(const struct world *w); /* NULL when off */
/*
 * --calibrate on a trace with measured fork latencies (FORK argument e, schema
 * version 2 on): pair each fork's latency with the work the model did for it
 * (VMAs copied, AVCs allocated, PTEs and page-table pages copied) for the
 * fork-cost fit (forkfit.h).  Forks sharing the mm (CLONE_VM) and forks of an
 * mm the model does not know are counted, not fitted; e = 0 is "not
 * measured", never a sample.  Needs world_set_calibrate on; off by default.
 */
int world_set_fork_latencies(struct world *w, bool on, struct avm_err *err);
const struct forkfit *world_forkfit(const struct world *w); /* NULL when off */

/*
 * Fork cost, the live-object series and per-process bytes (track.h): always
 * kept (fork cost only with an arch, whose lock sections and page-table
 * copy it sums).  world_apply and world_exec sample the series at the
 * event's time; an event a world does not apply (the start snapshot) is
 * announced with world_tick so both worlds sample the same boundaries.
 */
struct track;
void world_tick(struct world *w, uint64_t t);
struct track *world_track(struct world *w);

/* Arch accounting (NULL when meta->arch was NULL): lock sections and page tables. */
const struct locks *world_locks(const struct world *w);
const struct arch_pt_stats *world_pt_stats(const struct world *w);
const struct arch *world_arch(const struct world *w);
/*
 * Re-costing (verdict.h): the anon rmap work of every fork (NULL without an
 * arch), and the upgrades that forks paid for: forks with one, their total
 * and largest modelled time, ns.
 */
struct verdict_forks;
const struct verdict_forks *world_forks(const struct world *w);
void world_fork_upgrades(const struct world *w, uint64_t *forks, uint64_t *total_ns,
			 uint64_t *max_ns);
/* Sections the lock log keeps before it compacts (locks_log_enable). */
#define WORLD_LOCK_LOG_MAX (1u << 20)

/* The trace's mmap_lock write holds as of the last event applied (locks.h). */
const struct locks_measured *world_measured(const struct world *w);
/* Rmap walks of this world (rmap_walk.h): observed, and pressure when configured. */
struct rmap_walk_stats;
const struct rmap_walk_stats *world_rmap_walks(const struct world *w);

#endif
