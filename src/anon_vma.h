/*
 * anon_vma.h - mainline anon_vma / anon_vma_chain objects and their rules
 * (docs/kernel/eager.md §1-§3), shared by both models.
 *
 * Owns: struct anon_vma (root, parent, refcount, num_children,
 * num_active_vmas, the AVCs linked into it), struct anon_vma_chain, and a
 * VMA's mainline rmap state (struct av_vma: vma->anon_vma and its chain),
 * plus every primitive that allocates, links, clones, forks, unlinks, adopts
 * or checks them.  The eager model is these primitives behind model_ops; the
 * lazy model uses the same ones once a VMA has real anon_vmas (an upgraded or
 * regular VMA, a TREE_PARENT child's chain), so mainline behaviour lives in
 * one place.
 *
 * A model owns the mapping from a VMA to its av_vma (eager: vma->anon is the
 * av_vma; lazy: its per-VMA state holds one) and tells the shared code how to
 * find it through av_space.of, which neighbour reuse and the merge rules use.
 *
 * TREE_PARENT (lazy.md §3.3): an av_vma may have a chain but no anon_vma of
 * its own; tree_parent then names the anon_vma its new folios would join
 * (the parent's), which must be on the chain.  Eager never sets it.
 */
#ifndef ANONVMA_ANON_VMA_H
#define ANONVMA_ANON_VMA_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "event.h"
#include "locks.h"
#include "model.h"
#include "u64map.h"

struct mm_vma;
struct anon_vma_chain;
struct av_vma;

struct anon_vma {
	uint64_t id;                  /* also the folio owner token (folio->mapping) */
	struct anon_vma *root, *parent;
	int64_t refcount, num_children, num_active_vmas;
	struct anon_vma_chain *tree;  /* AVCs linked into this anon_vma */
	uint64_t tree_n;
	int64_t pins;                 /* references held outside the structure (lazy roots) */
	struct anon_vma *prev_live, *next_live;
	/* adoption (start snapshot): kernel counters minus the structure's */
	int64_t bias_ref, bias_children, bias_active;
	uint64_t snap_id, snap_root, snap_parent;
	int64_t snap_ref, snap_children, snap_active;
	bool snap_known, in_session;
	/*
	 * Adopted from a start snapshot while VMAs the world never saw (a
	 * process outside the trace) link it: its tree never empties for us.
	 */
	bool tree_ext;
};

struct anon_vma_chain {
	struct anon_vma *av;
	struct av_vma *avv;
	struct anon_vma_chain *tprev, *tnext;
};

struct av_vma {
	struct mm_vma *vma;
	struct anon_vma *anon_vma;     /* vma->anon_vma; NULL for a TREE_PARENT chain */
	struct anon_vma *tree_parent;  /* TREE_PARENT only: the parent's anon_vma */
	struct anon_vma_chain **chain; /* [0] = tail (oldest) ... [len-1] = head (newest) */
	uint32_t len;
	size_t cap;
	struct av_vma *prev_live, *next_live;
};

/* Every anon_vma and av_vma of one world, and how to reach a VMA's av_vma. */
struct av_space {
	struct model_stats *stats;
	int profile;                   /* 1..4 = P1..P4 */
	uint64_t next_id;
	struct anon_vma *avs;          /* live anon_vmas */
	struct av_vma *avvs;           /* live av_vmas */
	struct av_vma *(*of)(const struct mm_vma *v); /* NULL: no mainline state */
	/*
	 * Lock-hold accounting (locks.h, eager.md §5): the model's env, whose
	 * locks/arch/clock say where sections go; NULL or env->locks NULL: off.
	 * Set by the model after av_space_init.
	 */
	const struct model_env *env;
	/*
	 * Lazy upgrade (one lock section per upgrade): while set, the link
	 * section of av_prepare (outside a fault) and of av_fork_new is not
	 * recorded but its work added here; the model records one section.
	 */
	struct locks_work *link_out;
	/* the adoption session (snapshot ids -> anon_vma), until av_adopt_done */
	struct u64map adopt;
	struct anon_vma **session;
	size_t nsession, capsession;
	bool adopt_preexisting;
	/* a snapshot row broke a chain invariant: av_adopt_done fails with this */
	bool adopt_bad;
	struct avm_err adopt_err;
};

void av_space_init(struct av_space *sp, struct model_stats *stats, int profile,
		   struct av_vma *(*of)(const struct mm_vma *v));
/* Free every object still on the lists (after the simulator tore all mms down). */
void av_space_destroy(struct av_space *sp);

/* A VMA's anon_vma (NULL: unfaulted or TREE_PARENT) and chain length, through sp->of. */
struct anon_vma *av_anon_vma_of(const struct av_space *sp, const struct mm_vma *v);
uint32_t av_chain_len(const struct av_space *sp, const struct mm_vma *v);
/* vma_is_fork_child(): faulted and the chain is not singular. */
bool av_fork_child(const struct av_space *sp, const struct mm_vma *v);

/* A new, empty av_vma for v (on the live list); the model stores it. */
struct av_vma *av_vma_new(struct av_space *sp, struct mm_vma *v);

/* find_mergeable_anon_vma (§2.3): a neighbour's anon_vma v may reuse, or NULL. */
struct anon_vma *av_find_mergeable(const struct av_space *sp, const struct mm_vma *v);
/*
 * __anon_vma_prepare (§2.2): one AVC at avv's head, and reuse donor or
 * (donor NULL) allocate a new root anon_vma, which becomes avv->anon_vma.
 * avv is empty (a first fault) or a TREE_PARENT chain joining its family's
 * anon_vma (the lazy upgrade).  why attributes the objects.
 */
int av_prepare(struct av_space *sp, struct av_vma *avv, struct anon_vma *donor,
	       enum model_why why, struct avm_err *err);
/* split, merge dup, mremap copy (§2.4): dst (empty) = src's anon_vma and a clone of its chain. */
int av_clone(struct av_space *sp, struct av_vma *dst, const struct av_vma *src,
	     enum model_why why, struct avm_err *err);
/* anon_vma_clone alone (no num_active_vmas change); fork_mode runs the reuse test. */
int av_chain_clone(struct av_space *sp, struct av_vma *dst, const struct av_vma *src,
		   bool fork_mode, enum model_why why, struct avm_err *err);
/* anon_vma_fork (§2.5): child (empty) from parent (faulted). */
int av_fork(struct av_space *sp, struct av_vma *child, const struct av_vma *parent,
	    struct avm_err *err);
/*
 * anon_vma_fork step 4 alone: a new anon_vma under parent (root = parent's
 * root) with one AVC at avv's head, becoming avv->anon_vma.  The lazy model's
 * TREE_PARENT upgrade is this step, deferred.
 */
int av_fork_new(struct av_space *sp, struct av_vma *avv, struct anon_vma *parent,
		enum model_why why, struct avm_err *err);
/* unlink_anon_vmas (§2.6), then free avv.  The model clears its pointer to avv. */
void av_unlink(struct av_space *sp, struct av_vma *avv, enum model_why why);
/* put_anon_vma (§2.1): free at 0 and drop the root's reference. */
void av_put(struct av_space *sp, struct anon_vma *av, enum model_why why);

/* is_mergeable_anon_vma (§3.2) per profile, for VMAs whose state is mainline or none. */
bool av_merge_ok(const struct av_space *sp, const struct mm_vma *tgt,
		 const struct mm_vma *anon_src, const struct mm_vma *middle,
		 const struct mm_vma *copied_from);

/*
 * One critical section at the current event (locks.h), its length from the
 * work done under it; a failed trylock is retried blocking.  No-op unless
 * sp->env accounts locks.  The lazy model records its upgrade with it.
 */
void av_lock(const struct av_space *sp, enum locks_class cls, enum locks_mode mode,
	     enum locks_why why, uint64_t instance, bool trylock, const struct locks_work *w);

/*
 * An rmap walk's lock section (LOCKS_WHY_RMAP_WALK) at the current event:
 * work w plus pt_walks page-table walks of the arch (arch_walk_ns).  *len =
 * its length (0 when locks are not modelled).  Returns 1 when a trylock
 * found the lock held (nothing recorded but the failure), else 0.
 */
int av_walk_lock(const struct av_space *sp, enum locks_class cls, enum locks_mode mode,
		 uint64_t instance, bool trylock, const struct locks_work *w, uint64_t pt_walks,
		 uint64_t *len);
/*
 * rmap_walk_anon (eager.md §5, mm/rmap.c): folio f's anon_vma (f->owner,
 * found on the chain of the VMA mapping it), its root rwsem held for read
 * (trylock per wk->trylock), every AVC whose VMA covers the folio's page
 * offsets visited; visited VMAs not mapping f are stale.  Fills wk.
 */
void av_rmap_walk(const struct av_space *sp, const struct mm_folio_ref *f, struct model_walk *wk);
/* Does v map folio f (any of its pages, at its linear address in v)? */
bool av_vma_maps_folio(const struct mm_vma *v, const struct mm_folio_ref *f, uint64_t page_size);

/*
 * The page-table lock instance of the PTE table mapping addr in mm (the
 * (mm, PMD) page-table page): LOCKS_PTL sections name it.
 */
static inline uint64_t av_ptl_instance(uint64_t mm_id, uint64_t addr, uint64_t pmd_size)
{
	/* mm ids may be kernel pointers: spread them before mixing in the PMD number */
	return (mm_id * 0x9E3779B97F4A7C15ULL) ^ (addr / (pmd_size ? pmd_size : 1));
}

/*
 * THP split of folio f (model_ops.thp_split), mainline: __folio_split takes
 * the folio's anon_vma root rwsem for write around unmapping, splitting and
 * remapping it: one section of lock + thp_split_page_ns per page.  Returns
 * false (nothing recorded) when f names no anon_vma of this space.
 */
bool av_thp_split(const struct av_space *sp, const struct mm_folio_ref *f);
/*
 * khugepaged collapse in mm (model_ops.thp_collapse), mainline:
 * collapse_huge_page write-locks vma->anon_vma's root around isolating the
 * PTEs.  The trace's event names no address, so the instance is the mm's
 * stand-in AV_INSTANCE_MM(mm) (never a real anon_vma id: it waits only for
 * other collapses in that mm): lock + thp_collapse_ns.
 */
#define AV_INSTANCE_MM(mm_id) ((1ULL << 62) | (mm_id))
void av_thp_collapse(const struct av_space *sp, uint64_t mm_id);
/*
 * anon_vma_fork's reuse test (eager.md §2.5, rmap.c) over avv's existing
 * chain: an anon_vma with no active VMA and fewer than 2 children, the
 * first in chain order (tail first: the order the fork's clone tested
 * them, oldest first on P1-P3, newest first on P4).  NULL: none qualifies.
 */
struct anon_vma *av_reuse_candidate(const struct av_space *sp, const struct av_vma *avv);

/* Snapshot adoption (model_ops.adopt, adopt_av, adopt_done) into avv. */
int av_adopt(struct av_space *sp, struct av_vma *avv, const struct avm_snap_vma *sv,
	     bool preexisting, struct avm_err *err);
int av_adopt_av(struct av_space *sp, const struct avm_snap_av *sa, struct avm_err *err);
int av_adopt_done(struct av_space *sp, struct avm_err *err);

/*
 * Every invariant of the objects: counters recomputed from the structure
 * (plus adoption bias and pins), chains well formed, and the live counts
 * equal to the stats' when check_stats.
 */
int av_check(const struct av_space *sp, bool check_stats, struct avm_err *err);

#endif
