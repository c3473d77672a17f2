/*
 * mm.h - the address-space simulator: one instance per world.
 *
 * Owns mm users, the VMA map of every mm, VMA flags, syscall semantics
 * (mmap, munmap, mprotect, mremap, brk, madvise, mlock, ...), faults, the
 * pages each mm has mapped and the merge/split machinery of the kernel's
 * mm/vma.c (eager.md §2.7, §3, §7).  It calls the model (model.h) wherever
 * the anon rmap is involved.  It never looks inside vma->anon.
 *
 * An mm is identified by its trace id (threads and vfork children share it).
 * Profiles P1..P4 (eager.md §0) select the merge rules.
 *
 * Events on an mm the simulator does not have create an empty "opaque" mm,
 * counted in mm_sim_stats so reports can say how much was unknown - unless
 * mm_sim_params.skip_unknown_mm (the replay of a trace): then an event on an
 * mm no fork, exec or snapshot ever made (a process that predates the trace
 * and had no start snapshot, or a broken id) is skipped and counted in
 * mm_sim_stats.skipped (skip.h); an mm the simulator made and tore down while
 * the trace still uses it is still re-created opaque.
 */
#ifndef ANONVMA_MM_H
#define ANONVMA_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event.h"
#include "kabi.h"
#include "model.h"
#include "skip.h"

enum mm_profile { MM_PROFILE_P1 = 1, MM_PROFILE_P2, MM_PROFILE_P3, MM_PROFILE_P4 };

struct arch;
struct arch_pt;
struct arch_pt_stats;
struct mm_space; /* one mm_struct */
struct mm_sim;   /* every mm of one world */

/*
 * A VMA.  Public so models and the replay can read it without accessor
 * calls in the hot path; only mm.c writes it (models write ->anon only).
 */
struct mm_vma {
	uint64_t id;              /* unique within the world, for reports */
	uint64_t start, end;      /* [start, end) bytes */
	uint64_t pgoff;           /* pages */
	uint64_t flags;           /* VM_* */
	uint64_t file;            /* open-file id, 0 anonymous */
	uint64_t policy;          /* mempolicy identity, 0 default */
	uint64_t uffd_ctx;        /* userfaultfd ctx identity, 0 none */
	uint64_t anon_name;       /* anon_name identity, 0 none */
	struct mm_space *mm;      /* NULL once the VMA left its mm (pinned by a model) */
	void *anon;               /* model-owned anon rmap state, NULL: none */
	bool has_close;           /* vm_ops->close (hugetlb, some special mappings) */
	uint64_t wlock_seq;       /* the simulator's operation that last write-locked it */
};

/* One populate (MAP_POPULATE, mlock, MADV_POPULATE_*, GUP) faults at most this much. */
#define MM_POPULATE_MAX_BYTES (16ULL << 30)

struct mm_sim_params {
	enum mm_profile profile;  /* default P3 */
	uint64_t page_size;       /* default 4096 */
	/* THP: enabled (always/madvise/never) for PMD order */
	int thp_enabled;          /* 0 never, 1 madvise, 2 always */
	uint64_t pmd_size;        /* default 2 MiB */
	bool overcommit_never;    /* vm.overcommit_memory == 2 */
	/* Page tables per mm (arch.h); NULL arch: not modelled.  pt_stats sums all mms. */
	const struct arch *arch;
	struct arch_pt_stats *pt_stats;
	/* Skip (and count) events on an mm never made, instead of inventing it (header). */
	bool skip_unknown_mm;
	/*
	 * Anonymous folio sizes (mTHP): bit o of each mask is order o (a folio
	 * of 2^o pages), as sysfs hugepages-<size>kB/enabled sets it - always,
	 * madvise, or inherit (the top-level thp_enabled decides).  Orders below
	 * the PMD's choose the size of a write fault's new folio (alloc_anon_folio,
	 * mm_anon_fault_order); the PMD order, when its bit is in any mask,
	 * replaces thp_enabled for the PMD path.  anon_orders_known false: base
	 * pages below the PMD (mm_sim_params_thp_sizes fills these).
	 */
	bool anon_orders_known;
	uint64_t anon_orders_always, anon_orders_madvise, anon_orders_inherit;
	uint64_t anon_orders_seen;   /* every order the sizes list (never included) */
	/* CONFIG_PT_RECLAIM: MADV_DONTNEED frees the PTE tables it empties whole. */
	bool pt_reclaim;
	/* Apply the trace's KSM merges (config kernel.ksm): pins on anon state, see mm.c. */
	bool ksm;
};

/* Largest folio order the simulator counts separately (mm_sim_stats.folios_by_order). */
#define MM_ORDER_MAX 20

/* What the simulator saw, for reports and validation (not model costs). */
struct mm_sim_stats {
	uint64_t events;            /* events applied */
	uint64_t forks, vforks, execs, exits, teardowns;
	uint64_t faults, faults_unmapped, faults_denied, thp_faults, cow_copies, cow_reuses;
	uint64_t folios_live, folios_peak;
	uint64_t failed_syscalls;   /* syscalls with a negative result */
	uint64_t unknown_mm;        /* events that created an opaque mm */
	struct skip_counts skipped; /* events not applied, by reason (skip.h) */
	uint64_t mms_live, mms_peak;
	uint64_t vmas_live, vmas_peak; /* VMAs in mms (pinned ones excluded) */
	/* Anon folios allocated by faults and COW, by order (higher ones in the last slot). */
	uint64_t folios_by_order[MM_ORDER_MAX + 1];
	uint64_t pte_tables_reclaimed; /* PTE tables MADV_DONTNEED freed (pt_reclaim) */
	uint64_t ksm_items;            /* stable KSM rmap_items pinning anon state now */
	uint64_t thp_collapses;        /* PMD ranges collapsed (khugepaged, MADV_COLLAPSE) */
};

int mm_sim_create(const struct mm_sim_params *p, const struct model_ops *ops,
		  struct model *model, struct model_stats *stats, struct mm_sim **out,
		  struct avm_err *err);
void mm_sim_destroy(struct mm_sim *s);
/* The model is created after the simulator (its env points at it): attach it here. */
void mm_sim_set_model(struct mm_sim *s, struct model *model);
/*
 * Record the mainline VMA write locks (vma_start_write, eager.md §5) the
 * simulator's operations take - split, merge, munmap, mprotect, dup_mmap -
 * in locks (NULL: off), at *clock, cost from the arch's rmap costs.  Both
 * designs pay them, so every world records them.  A VMA is write-locked at
 * most once per operation (one mmap_lock write hold), as the kernel's
 * vma_start_write returns at once for a VMA locked in this hold.
 */
void mm_sim_set_locks(struct mm_sim *s, struct locks *locks, const struct model_clock *clock);
void mm_sim_params_defaults(struct mm_sim_params *p);
/*
 * Read the anon folio sizes from the trace's meta thp_anon_sizes
 * ("16kB=never,64kB=always,2048kB=inherit", the sysfs selection of each
 * hugepages-<size>kB/enabled) into p's anon_orders_* for p->page_size.
 * A malformed spec is one error line naming the bad item.
 */
int mm_sim_params_thp_sizes(struct mm_sim_params *p, const char *spec, struct avm_err *err);
/*
 * 6.18's order choice for a write fault's new anonymous folio at addr in
 * a VMA [start, end) with vm_flags (alloc_anon_folio): the orders below the
 * PMD's that the VMA allows (__thp_vma_allowable_orders: not VM_NOHUGEPAGE,
 * not prctl-disabled, the size's mode against VM_HUGEPAGE), whose aligned
 * range lies inside the VMA (thp_vma_suitable_orders), highest first, the
 * first whose range has no page mapped (range_none(ctx, lo, hi) - the
 * pte_range_none test).  0: a base page (also when userfaultfd is armed).
 */
unsigned mm_anon_fault_order(const struct mm_sim_params *p, uint64_t vm_flags, bool thp_disabled,
			     uint64_t start, uint64_t end, uint64_t addr,
			     bool (*range_none)(void *ctx, uint64_t lo, uint64_t hi), void *ctx);

/* Feed one trace event (everything but AVM_SLAB, which is kernel truth, and snapshots). */
int mm_sim_apply(struct mm_sim *s, const struct avm_event *ev, struct avm_err *err);
/* Count an event the caller decided not to apply (skip.h). */
void mm_sim_skip(struct mm_sim *s, enum skip_reason why);

/*
 * An exec (AVM_EXEC): build mm ev->a from the exec snapshot rows (sorted by
 * start; n may be 0), then the old mm ev->mm loses one user.
 */
int mm_sim_exec(struct mm_sim *s, const struct avm_event *ev, const struct avm_snap_vma *vmas,
		size_t n, struct avm_err *err);
/* A start snapshot: build mm `mm_id` (must not exist yet) from its rows (sorted by start). */
int mm_sim_adopt_start(struct mm_sim *s, uint64_t mm_id, const struct avm_snap_vma *vmas,
		       size_t n, struct avm_err *err);

/* Queries for models and reports. */
/* Trace time (ns) of the event being applied (lazy's runtime switch, lazy.md §6). */
uint64_t mm_sim_now(const struct mm_sim *s);
/*
 * During an mremap move's copy_vma (merge_ok / clone with MODEL_WHY_MREMAP):
 * the bytes of the source that move, from the source piece's first moved
 * page (the smaller of old and new length: a grown destination's tail is
 * new, unfaulted memory).  0 at any other time.
 */
uint64_t mm_sim_move_len(const struct mm_sim *s);
const struct mm_sim_stats *mm_sim_stats(const struct mm_sim *s);
const struct mm_sim_params *mm_sim_params(const struct mm_sim *s);
struct mm_space *mm_sim_find(struct mm_sim *s, uint64_t mm_id);
size_t mm_sim_mm_count(const struct mm_sim *s);
struct mm_vma *mm_vma_prev(const struct mm_vma *v); /* immediate neighbours in address order */
struct mm_vma *mm_vma_next(const struct mm_vma *v);
struct mm_vma *mm_find_vma(struct mm_space *mm, uint64_t addr); /* VMA containing addr */
uint64_t mm_space_id(const struct mm_space *mm);
int64_t mm_space_users(const struct mm_space *mm);
/* Made empty by an event on an mm the world did not have (its VMAs are a guess). */
bool mm_space_opaque(const struct mm_space *mm);
size_t mm_space_vma_count(const struct mm_space *mm);
/* The mm's page-table model (arch.h); NULL when the simulator has no arch. */
const struct arch_pt *mm_space_pt(const struct mm_space *mm);
/* The i-th VMA in address order (i < mm_space_vma_count), for tests and reports. */
struct mm_vma *mm_space_vma(struct mm_space *mm, size_t i);
static inline uint64_t mm_vma_pages(const struct mm_vma *v, uint64_t page_size)
{
	return (v->end - v->start) / page_size;
}
/* Iterate VMAs of an mm in address order; the callback returns non-zero to stop. */
int mm_for_each_vma(struct mm_space *mm, int (*cb)(void *ctx, struct mm_vma *v), void *ctx);
/*
 * Iterate the anon pages v has mapped, in address order: page address, the
 * folio's owner token (the callback may rewrite it: lazy's folio->mapping
 * rewrite), the folio id.  The callback returns non-zero to stop.
 */
int mm_vma_for_each_page(struct mm_vma *v,
			 int (*cb)(void *ctx, uint64_t addr, uint64_t *owner, uint64_t folio),
			 void *ctx);
/* Number of anon pages v has mapped (O(pages of v's 2 MiB regions)). */
uint64_t mm_vma_page_count(struct mm_vma *v);

/* An anon folio as an rmap walk sees it: one mapping of it, and what the folio names. */
struct mm_folio_ref {
	struct mm_space *mm;
	struct mm_vma *vma;      /* the VMA mapping it at addr (NULL never for a mapped page) */
	uint64_t addr;           /* the page's address in mm */
	uint64_t id;             /* folio id */
	uint64_t owner;          /* folio->mapping (model token) */
	uint64_t index;          /* folio->index: linear pgoff of its first page */
	uint32_t nr;             /* pages in the folio */
	bool shared;             /* folio_maybe_mapped_shared: mapped by more than one mm */
};
/*
 * Every page-table entry of the world mapping folio id (the rmap
 * completeness check's truth): cb(mm, VMA holding addr, addr) per entry; a
 * non-zero return stops and is returned.  This one looks at the folio's
 * linear addresses (index, nr pages) in every VMA whose page range covers
 * them: O(VMAs + nr).  _scan looks at every mapped page (O(mapped pages)):
 * the same entries, since a folio page is only ever mapped at its linear
 * address (a test checks it).
 */
int mm_sim_folio_mappings(struct mm_sim *s, uint64_t folio_id, uint64_t index, uint32_t nr,
			  int (*cb)(void *ctx, struct mm_space *mm, struct mm_vma *v,
				    uint64_t addr),
			  void *ctx);
int mm_sim_folio_mappings_scan(struct mm_sim *s, uint64_t folio_id,
			       int (*cb)(void *ctx, struct mm_space *mm, struct mm_vma *v,
					 uint64_t addr),
			       void *ctx);
/* The anon folio mapped at addr in mm; false if none. */
bool mm_folio_at(struct mm_space *mm, uint64_t addr, struct mm_folio_ref *out);

/*
 * A deterministic round-robin position over every anon folio mapping of a
 * world, in MM_CURSOR_PASSES interleaved passes: pass p visits, in every mm
 * in ascending id order and each mm's pages in address order, the folio
 * mappings whose head page number (the virtual page where the folio's first
 * page is, or would be, mapped) is p modulo MM_CURSOR_PASSES.  One pass is
 * thus a sample of 1/MM_CURSOR_PASSES of every mm's folios, so walks of a
 * few percent of the folios spread over all processes instead of going to
 * the lowest mm ids; a whole cycle still meets every mapping once.
 * Zero-initialise it; it survives mms coming and going (it moves to the
 * next higher id).
 */
#define MM_CURSOR_PASSES 16
struct mm_cursor {
	uint64_t mm;    /* mm id of the position */
	uint64_t addr;  /* next page address in that mm */
	uint64_t last;  /* folio visited last: its further pages are skipped */
	unsigned pass;  /* 0 .. MM_CURSOR_PASSES - 1 */
};
/*
 * Hand the next n folio mappings from c to cb (consecutive pages of one
 * folio in one mm are one mapping; a folio mapped in several mms is met once
 * per mm), going on to the next pass past the highest mm id; stops early
 * when a whole cycle of passes finds nothing, or when cb returns non-zero
 * (returned).  *visited = folios handed to cb.  cb must not change the
 * simulator.
 */
int mm_sim_cursor_walk(struct mm_sim *s, struct mm_cursor *c, uint64_t n,
		       int (*cb)(void *ctx, const struct mm_folio_ref *f), void *ctx,
		       uint64_t *visited, struct avm_err *err);

/*
 * eager.md §2.3 rules 1-5 (find_mergeable_anon_vma without the chain test):
 * a (lower) and b (upper) are adjacent, have equal policy and file, equal
 * vm_flags except VM_READ/WRITE/EXEC/SOFTDIRTY, and linear pgoff.
 */
bool mm_vma_reuse_attrs_ok(const struct mm_vma *a, const struct mm_vma *b);

/* A model releases a VMA object it pinned (model_ops.vma_pin): counts the free. */
void mm_vma_free_pinned(struct mm_sim *s, struct mm_vma *v, enum model_why why);

/* Test builds: check simulator invariants (sorted, non-overlapping, users >= 1, pages). */
int mm_sim_check(struct mm_sim *s, struct avm_err *err);

#endif
