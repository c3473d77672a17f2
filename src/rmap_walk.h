/*
 * rmap_walk.h - which folios get rmap-walked in a world, and what the walks
 * cost, one instance per world.
 *
 * Owns: the choice of walks - those the trace observed (migration PTE/PMD
 * events resolved to a folio; KSM and THP events counted, see below) and
 * what-if pressure from the config (reclaim, compaction, a page-idle sweep)
 * - their counts, and the report block models.<name>.rmap_walks.  The walk
 * itself is the model's (model_ops.rmap_walk); its lock section goes to the
 * world's locks (locks.h, LOCKS_WHY_RMAP_WALK).
 *
 * Observed walks (event.h AVM_MIGRATE, b = address in the event's mm):
 * SET_PTE/SET_PMD are try_to_migrate's walk, REMOVE_PTE/REMOVE_PMD
 * remove_migration_ptes' walk; consecutive events of one folio and one of
 * those two phases are one walk (one walk visits every mapping).  An address
 * with no anon folio in the event's mm (the collector records current's mm:
 * compaction runs in another process) is counted `unresolved`, never
 * guessed.  AVM_KSM carries a pfn and AVM_THP no address: they name no
 * folio, so KSM merges and THP collapses are counted as unresolved observed
 * walks of their source and not walked; a successful collapse still hands
 * its mm to the model's thp_collapse (its exclusion section, model.h).
 * Migration walks (observed, compaction) are marked model_walk.migrate.
 *
 * Walks that trylock fail against simulated holds in the world's locks and,
 * for lazy's mmap_trylock policy, against the mmap_lock write holds the
 * trace measured (locks.h locks_measured); measured_mmap_holds says how many
 * the trace has (0: none recorded, so no walk can fail against one).
 *
 * Pressure (config `pressure:`; all 0 = off, no per-event cost): every
 * 100 ms of trace time (a tick), reclaim walks reclaim_share_per_s x 0.1 s x
 * live anon folios (folio_referenced: the lock is a trylock), compaction
 * compaction_share_per_s x 0.1 s x live folios with two blocking walks each
 * (try_to_migrate + remove_migration_ptes), the page-idle sweep live folios
 * x 0.1 s / page_idle_sweep_s blocking walks.  Fractions carry over to the
 * next tick.  Each source has a cursor (mm.h mm_cursor) over mms in id
 * order and their pages in address order, in 16 interleaved passes that each
 * sample every mm, so both worlds walk the same share of their folios, spread
 * over all processes, and reruns are identical.  Walks are taken at the
 * time and CPU of the event that crossed the tick.
 *
 * Completeness (opt-in, rmap_walk_set_check; anonvma-replay --check-rmap):
 * after every walk that ran, the VMAs the design visited (model_walk.visit)
 * are compared with the truth, the world's page-table entries of the folio
 * (mm.h mm_sim_folio_mappings: the folio's linear addresses in every VMA of
 * the world that covers them, O(VMAs) per walk, which is why it is opt-in).
 * A mapping is one (mm, VMA) that
 * holds at least one page of the folio; the design found it when it visited
 * that VMA and the VMA's linear offset puts one of the folio's pages at an
 * address the VMA maps it at (vma_address, what page_vma_mapped_walk
 * checks).  missed = mappings not found (a correctness hole: migration
 * would leave them behind, reclaim would misjudge the folio); extra =
 * visited VMAs that hold no page of it (cost).  The first walk with each
 * is kept (event seq, pid, mm, address).  Swap entries are not simulated,
 * so a folio's swapped-out mappings are neither truth nor found.
 */
#ifndef ANONVMA_RMAP_WALK_H
#define ANONVMA_RMAP_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "error.h"
#include "event.h"
#include "locks.h"
#include "model.h"

struct mm_sim;        /* mm.h */
struct mm_folio_ref;

/* Trace time between two pressure steps. */
#define RMAP_WALK_TICK_NS 100000000ULL
/* At most this many ticks (60 s) of pressure are paid for one gap between events. */
#define RMAP_WALK_MAX_GAP_TICKS 600ULL

enum rmap_walk_source {
	RMAP_WALK_MIGRATION = 0, /* observed */
	RMAP_WALK_RECLAIM,       /* pressure: folio_referenced (trylock) */
	RMAP_WALK_COMPACTION,    /* pressure: migration, two walks per folio */
	RMAP_WALK_PAGE_IDLE,     /* pressure: page_idle sweep */
	RMAP_WALK_SOURCE_NR,
};

struct rmap_walk_stats {
	uint64_t walks;                         /* attempts, failed ones included */
	uint64_t by_source[RMAP_WALK_SOURCE_NR];
	uint64_t unresolved_migration, unresolved_ksm, unresolved_thp;
	uint64_t failed;                        /* trylocks that gave up */
	uint64_t stale_vmas;
	uint64_t lazy_folio_walks;
	uint64_t measured_mmap_holds;           /* the trace's mmap_lock write holds so far */
	struct locks_hist vmas_visited;         /* per walk that ran (not failed) */
	struct locks_hist hold;                 /* ns per walk that ran */
	/* completeness check (rmap_walk_set_check); all 0 when off */
	bool checked;
	uint64_t check_walks;                   /* walks compared with the truth */
	uint64_t missed, extra;                 /* mappings missed, VMAs visited in vain */
	uint64_t missed_walks, extra_walks;     /* walks with at least one of each */
	struct rmap_walk_first {
		bool set;
		uint64_t seq, pid, mm, addr;    /* the event, the missed mapping / extra VMA */
	} first_missed, first_extra;
};

struct rmap_walk;

int rmap_walk_create(const struct config *cfg, struct rmap_walk **out, struct avm_err *err);
void rmap_walk_destroy(struct rmap_walk *rw); /* safe on NULL */

/* Pressure is configured: every event must reach rmap_walk_event (for its time). */
bool rmap_walk_pressure(const struct rmap_walk *rw);
/* The event carries an observed walk (migration, KSM, THP). */
static inline bool rmap_walk_observes(uint32_t kind)
{
	return kind == AVM_MIGRATE || kind == AVM_KSM || kind == AVM_THP;
}

/*
 * Before ev is applied to the world: the pressure ticks ev->t has crossed,
 * then the walk ev observed.  Walks use the model's op (NULL op: counted,
 * not walked) and the world's clock (already ev's).
 */
int rmap_walk_event(struct rmap_walk *rw, struct mm_sim *sim, const struct model_ops *ops,
		    struct model *model, const struct avm_event *ev, struct avm_err *err);

/* One walk of f from source src (tests and the paths above). */
void rmap_walk_one(struct rmap_walk *rw, const struct model_ops *ops, struct model *model,
		   const struct mm_folio_ref *f, enum rmap_walk_source src);

const struct rmap_walk_stats *rmap_walk_stats(const struct rmap_walk *rw);
/* Compare every later walk with sim's page tables (the completeness check above). */
void rmap_walk_set_check(struct rmap_walk *rw, struct mm_sim *sim);
/* The event the next walks belong to (first_missed/first_extra); rmap_walk_event sets it. */
void rmap_walk_set_event(struct rmap_walk *rw, uint64_t seq, uint64_t pid);
/* The world's count of measured mmap_lock write holds (locks_measured_holds). */
void rmap_walk_set_measured_holds(struct rmap_walk *rw, uint64_t n);

/*
 * The report block models.<name>.rmap_walks (docs/report.md):
 *   { "walks": n, "by_source": { "migration", "reclaim", "compaction",
 *     "page_idle" }, "unresolved": { "migration", "ksm", "thp" },
 *     "failed": n, "vmas_visited": H, "stale_vmas": n,
 *     "lazy_folio_walks": n, "hold": Hns, "measured_mmap_holds": n,
 *     and with the check: "checked_walks", "missed", "extra", "missed_walks",
 *     "extra_walks": n, "first_missed", "first_extra": { "seq", "pid",
 *     "mm", "addr" } or null }
 * H = locks_hist_json(h, NULL), Hns = locks_hist_json(h, "ns").  NULL (err
 * filled) on out of memory.
 */
cJSON *rmap_walk_json(const struct rmap_walk_stats *st, struct avm_err *err);
/*
 * Fleet merge of two such blocks: counts summed, histograms merged exactly;
 * measured_mmap_holds only when both have it (reports of older versions
 * lack it: unknown, so left out).
 */
int rmap_walk_json_merge(const cJSON *a, const cJSON *b, cJSON **out, struct avm_err *err);

#endif
