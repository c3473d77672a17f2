/*
 * model.h - the anon rmap designs behind one ops table.
 *
 * The address-space simulator (mm.c) owns mms, VMAs, flags, syscall
 * semantics, faults and pages.  It knows *when* the anon rmap is involved
 * (a fault that needs anon memory, a fork, a split, a merge, an unlink) but
 * not *what* that costs: that is the model.  Eager (mainline, model_eager.c)
 * and lazy (ANON_VMA_LAZY, model_lazy.c) implement the same ops; each runs in
 * its own world (its own simulator state) fed by the same event stream,
 * because merge decisions depend on the design.
 *
 * A model keeps its per-VMA state behind vma->anon (NULL = the VMA never
 * took an anon fault, for either design) and counts its objects in the
 * model_stats the world hands it.  Every op names the kernel rule it follows
 * in its implementation; see docs/kernel/eager.md and lazy.md.
 *
 * Contracts: each op says what the simulator guarantees when it calls it
 * (anon state present or absent, the VMA in its mm); implementations assert
 * them, and asserts stay on in every build (docs/architecture.md).
 */
#ifndef ANONVMA_MODEL_H
#define ANONVMA_MODEL_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "event.h"

struct mm_sim;
struct mm_space;
struct mm_vma;
struct model;
struct config;
struct locks;
struct locks_measured;
struct arch;
struct mm_folio_ref;

/* Object counts of one slab object kind, kept per world. */
struct obj_count {
	uint64_t allocs, frees;
	uint64_t live, live_peak;
	uint64_t preexisting; /* objects adopted from a start snapshot (not allocs) */
};

/*
 * Object kinds.  The first MODEL_OBJ_NR are reported for every model; the
 * COW context design's own kinds (contexts, remap-tree maple nodes, remap
 * offset arrays) follow and are reported for the models that have them
 * (cowctx); the stats arrays hold all MODEL_OBJ_KINDS.
 */
enum model_obj {
	MODEL_OBJ_ANON_VMA = 0, MODEL_OBJ_AVC = 1, MODEL_OBJ_VMA = 2, MODEL_OBJ_NR = 3,
	MODEL_OBJ_COW_CONTEXT = 3, MODEL_OBJ_REMAP = 4, MODEL_OBJ_REMAP_ARRAY = 5,
	MODEL_OBJ_KINDS = 6,
};

/* Why the simulator asks for an operation: attribution for reports and validation. */
enum model_why {
	MODEL_WHY_FAULT = 0,   /* first anon fault (prepare) */
	MODEL_WHY_FORK,        /* dup_mmap */
	MODEL_WHY_SPLIT,       /* __split_vma */
	MODEL_WHY_MERGE,       /* merge dup into an unfaulted target, or merge removal */
	MODEL_WHY_MREMAP,      /* copy_vma */
	MODEL_WHY_UNMAP,       /* munmap, MAP_FIXED overlay, brk/mremap shrink, mremap source */
	MODEL_WHY_EXIT,        /* exit_mmap */
	MODEL_WHY_EXEC,        /* objects the kernel allocated during execve (from the snapshot) */
	MODEL_WHY_MMAP,        /* a new VMA object: mmap, brk, shmat (vm_area_struct only) */
	MODEL_WHY_NR,
};

struct model_stats {
	struct obj_count obj[MODEL_OBJ_KINDS];
	/* allocations and frees of anon_vma / AVC attributed to the operation */
	uint64_t allocs_by_why[MODEL_OBJ_KINDS][MODEL_WHY_NR];
	uint64_t frees_by_why[MODEL_OBJ_KINDS][MODEL_WHY_NR];
	uint64_t bytes_live, bytes_peak;      /* every kind together */
	uint32_t obj_size[MODEL_OBJ_KINDS];   /* bytes per object, from trace meta */
	/* lazy-only figures (0 for eager) */
	uint64_t upgrades, folio_rewrites;
	uint64_t pinned_vmas, pinned_vmas_peak;
	uint64_t upgrade_ns;                  /* modelled time of every upgrade (lock sections
						 and unlocked allocations), ns */
	/* cowctx-only figures (0 for the others; docs/cowctx-model.md) */
	uint64_t ctx_zombies, ctx_zombies_peak;  /* contexts whose mm is gone */
	uint64_t ctx_ref_atomics;                /* refcnt increments and decrements */
	uint64_t ctx_moves;                      /* folios moved on an exclusive reuse */
	uint64_t remap_stores;                   /* remap-tree stores (add, remap, unmap) */
	uint64_t walk_contexts, walk_dead_contexts; /* contexts visited by rmap walks */
	uint64_t walk_remap_lookups, walk_shortcuts; /* remap passes; walks the short-cut ended */
	uint64_t walk_rcu_max;                   /* longest walk's RCU section, contexts */
	uint64_t walk_misses;                    /* walks that missed the mapping they started from */
	uint64_t mm_pin_atomics;                 /* mmget/mmput of visited contexts (P4) */
	uint32_t folio_field_bytes;              /* per struct page (P17): 8 or 0 */
};

/* Counting helpers every model uses (stats.c is not needed: they are inline). */
static inline void model_stats_alloc(struct model_stats *s, enum model_obj o, enum model_why why)
{
	struct obj_count *c = &s->obj[o];

	c->allocs++;
	c->live++;
	if (c->live > c->live_peak)
		c->live_peak = c->live;
	s->allocs_by_why[o][why]++;
	s->bytes_live += s->obj_size[o];
	if (s->bytes_live > s->bytes_peak)
		s->bytes_peak = s->bytes_live;
}

static inline void model_stats_free(struct model_stats *s, enum model_obj o, enum model_why why)
{
	struct obj_count *c = &s->obj[o];

	assert(c->live > 0); /* a free of an object never counted: a model's bookkeeping bug */
	c->frees++;
	c->live--;
	s->frees_by_why[o][why]++;
	s->bytes_live -= s->obj_size[o];
}

/* An object that existed before the trace started (start snapshot). */
static inline void model_stats_adopt(struct model_stats *s, enum model_obj o)
{
	struct obj_count *c = &s->obj[o];

	c->preexisting++;
	c->live++;
	if (c->live > c->live_peak)
		c->live_peak = c->live;
	s->bytes_live += s->obj_size[o];
	if (s->bytes_live > s->bytes_peak)
		s->bytes_peak = s->bytes_live;
}

/*
 * What a model gets from its world: the simulator (for neighbour lookups and
 * page iteration), its stats, the parsed config (policies, kernel profile).
 */
/* Time and CPU of the event being applied: lock sections start there (locks.h). */
struct model_clock {
	uint64_t t;
	uint32_t cpu;
};

struct model_env {
	struct mm_sim *sim;
	struct model_stats *stats;
	const struct config *cfg;
	/*
	 * Lock-hold and cost accounting (locks.h, arch.h): models record
	 * every critical section they take with locks_hold(), its length from
	 * locks_cost(&arch->rmap, ...), starting at *clock.  NULL when off.
	 */
	struct locks *locks;
	const struct arch *arch;
	const struct model_clock *clock;
	/*
	 * The trace's measured mmap_lock write holds at *clock (locks.h
	 * locks_measured_write_held): always set by the world, NULL in a bare
	 * model.  Lazy's mmap_trylock walk fails against them (lazy.md §5).
	 */
	const struct locks_measured *measured;
};

/*
 * One rmap walk of one folio (rmap_walk.c picks the folios).
 * In: trylock (reclaim's folio_referenced gives up when the lock is held).
 * Out: what the walk found and how long it held its lock.
 */
struct model_walk {
	bool trylock;
	bool migrate;       /* in: a migration walk (observed, compaction): lazy's exclusion section */
	bool failed;        /* the trylock found the lock held: nothing visited */
	bool lazy;          /* a lazy folio: one VMA looked up (lazy.md §5) */
	uint64_t visited;   /* VMAs visited */
	uint64_t stale;     /* visited VMAs that no longer map the folio */
	uint64_t hold_ns;   /* the section's length; 0 when locks are not modelled */
	/*
	 * In, optional (the completeness check, rmap_walk.h): called once per
	 * VMA the walk visits, so the caller can compare what the design
	 * found with the page tables.  NULL: no per-VMA cost.
	 */
	void (*visit)(void *ctx, const struct mm_vma *v);
	void *visit_ctx;
};

static inline void model_walk_visit(struct model_walk *w, const struct mm_vma *v)
{
	if (w->visit)
		w->visit(w->visit_ctx, v);
}

struct model_ops {
	const char *name; /* "eager", "lazy" */

	int (*create)(const struct model_env *env, struct model **out, struct avm_err *err);
	void (*destroy)(struct model *m);

	/* vma->anon state exists (eager: vma->anon_vma != NULL). */
	bool (*has_anon)(const struct model *m, const struct mm_vma *v);
	/*
	 * Optional (may be NULL): AVCs on v's anon_vma_chain, as the kernel's
	 * list would hold them (eager); --validate compares it at exit snapshots.
	 */
	uint32_t (*chain_len)(const struct model *m, const struct mm_vma *v);

	/*
	 * A fault (or populate, or stack growth, ...) needs anon memory in v and
	 * v has no anon state: eager runs __anon_vma_prepare with neighbour reuse.
	 */
	int (*prepare)(struct model *m, struct mm_vma *v, struct avm_err *err);

	/* A new folio is being mapped into v (prepared): the token folio->mapping would name. */
	uint64_t (*folio_owner)(struct model *m, const struct mm_vma *v);

	/*
	 * Merge compatibility of anon state (eager.md §3.2, is_mergeable_anon_vma).
	 *   tgt         the neighbour that would survive (prev or next);
	 *   anon_src    the VMA whose anon state the range carries (the kernel's
	 *               vmg->anon_vma): the existing middle VMA (mprotect & co),
	 *               the mremap source (copy_vma), the VMA being grown in
	 *               place (mremap grow); NULL for a new range (mmap, brk);
	 *   middle      the existing VMA being modified (vmg->middle), else NULL;
	 *   copied_from the mremap copy source (vmg->copied_from), else NULL.
	 * The kernel's fork-child test applies to middle (case 1), to tgt
	 * (case 2) and, from P3 on, to copied_from (case 1).
	 */
	bool (*merge_ok)(struct model *m, const struct mm_vma *tgt, const struct mm_vma *anon_src,
			 const struct mm_vma *middle, const struct mm_vma *copied_from);
	/* Both neighbours would merge: may prev and next be joined (§3.2 last rule)? */
	bool (*merge_pair_ok)(struct model *m, const struct mm_vma *prev, const struct mm_vma *next);

	/*
	 * dst takes src's anon state: split (dst is the new piece), merge dup into
	 * an unfaulted target, mremap copy.  src must have anon state.
	 */
	int (*clone)(struct model *m, struct mm_vma *dst, const struct mm_vma *src,
		     enum model_why why, struct avm_err *err);

	/*
	 * Fork: called once before the first VMA, per VMA in ascending order
	 * (fork_vma: only a parent VMA with anon state, a child without), then once after.
	 */
	int (*fork_begin)(struct model *m, struct mm_space *parent, struct mm_space *child,
			  struct avm_err *err);
	int (*fork_vma)(struct model *m, struct mm_vma *child, struct mm_vma *parent,
			struct avm_err *err);
	int (*fork_end)(struct model *m, struct mm_space *parent, struct mm_space *child,
			struct avm_err *err);

	/* End v's links (unlink_anon_vmas; v has anon state); v's anon state becomes NULL. */
	void (*unlink)(struct model *m, struct mm_vma *v, enum model_why why);

	/*
	 * The simulator is about to free the VMA object v (already unlinked and
	 * out of its mm; v->mm is NULL).  Return true if the model keeps the
	 * object alive (lazy root pinned by folios); the model then owns the
	 * object and releases it later with mm_vma_free_pinned(), which counts
	 * the vm_area_struct free.  NULL op: never pinned.
	 */
	bool (*vma_pin)(struct model *m, struct mm_vma *v);

	/* Optional: a folio named by owner lost its last mapping (lazy: may drop a root pin). */
	void (*folio_gone)(struct model *m, uint64_t owner);

	/*
	 * Adopt anon state from a snapshot row: preexisting (start snapshot,
	 * counted as adopted, not allocated) or created during exec (counted as
	 * MODEL_WHY_EXEC allocations, as the kernel did before the snapshot).
	 */
	int (*adopt)(struct model *m, struct mm_vma *v, const struct avm_snap_vma *sv,
		     bool preexisting, struct avm_err *err);
	/* Anon_vma counters seen in a start snapshot (ancestors with no VMA of their own). */
	int (*adopt_av)(struct model *m, const struct avm_snap_av *sa, struct avm_err *err);
	/*
	 * Optional (may be NULL): the adoption of one snapshot (start or exec)
	 * is complete; the model can resolve ids and reconcile counters.  The
	 * world calls it before the next event.
	 */
	int (*adopt_done)(struct model *m, struct avm_err *err);

	/*
	 * Walk the rmap of folio f (eager: rmap_walk_anon over the anon_vma's
	 * interval tree; lazy: one VMA lookup for a lazy folio) and record the
	 * walk's lock section (LOCKS_WHY_RMAP_WALK) at the env's clock.
	 */
	void (*rmap_walk)(struct model *m, const struct mm_folio_ref *f, struct model_walk *w);

	/*
	 * Optional: the simulator inferred a THP split of folio f (a PMD-mapped
	 * folio cut by a VMA boundary or a partial unmap: no tracepoint shows
	 * it, mm.c infers it once per folio).  The model records the split's
	 * exclusion section at the env's clock (LOCKS_WHY_THP_SPLIT).
	 */
	void (*thp_split)(struct model *m, const struct mm_folio_ref *f);
	/*
	 * Optional: khugepaged collapsed a range of mm (the trace's THP
	 * collapse event: no address, so the VMA is unknown).  The model
	 * records the collapse's exclusion section (LOCKS_WHY_COLLAPSE).
	 */
	void (*thp_collapse)(struct model *m, uint64_t mm_id);
	/*
	 * Optional (NULL: KSM pins nothing): KSM merged the page at addr of v
	 * into a KSM page, and its stable rmap_item now references v's
	 * anon_vma (try_to_merge_with_ksm_page's get_anon_vma).  *pin = a token
	 * for ksm_unpin, 0 when nothing was pinned (v without anon state).
	 */
	int (*ksm_pin)(struct model *m, struct mm_vma *v, uint64_t addr, uint64_t *pin,
		       struct avm_err *err);
	/* The rmap_item went (stable-node removal, or ksmd found it stale): drop the pin. */
	void (*ksm_unpin)(struct model *m, uint64_t pin);

	/*
	 * Optional: address-space life (the COW context model keeps one context
	 * per mm).  mm_new: mm was just made - why is MODEL_WHY_FORK (a fork's
	 * child, before fork_begin), MODEL_WHY_EXEC (execve's new mm) or
	 * MODEL_WHY_MMAP (a start-snapshot or opaque mm: preexisting, it
	 * existed before the trace); mm_gone: mm is being freed, after its VMAs
	 * were unlinked and its pages released (__mmdrop).
	 */
	int (*mm_new)(struct model *m, struct mm_space *mm, enum model_why why, bool preexisting,
		      struct avm_err *err);
	void (*mm_gone)(struct model *m, struct mm_space *mm);
	/*
	 * Optional: a write fault reuses the exclusive folio named `owner` in v
	 * (wp_page_reuse).  Returns the name the folio keeps.  NULL op: the
	 * folio takes folio_owner(v) and the old name goes (folio_gone).
	 */
	uint64_t (*folio_reuse)(struct model *m, const struct mm_vma *v, uint64_t owner);

	/* Optional: check every invariant of the model's state; fill err and return -1 if broken. */
	int (*check)(struct model *m, struct avm_err *err);

	/*
	 * Optional (layout drawings, tests/layout.h): v's anon state as a
	 * drawing names it, with no side effect: 0 none; '*' an anon_vma (*id =
	 * its id); 'L' a lazy VMA without one (*id = its root's token); 'T' a
	 * TREE_PARENT chain (*id = the parent anon_vma its folios join).
	 */
	char (*draw)(const struct model *m, const struct mm_vma *v, uint64_t *id);
};

extern const struct model_ops model_eager_ops;
extern const struct model_ops model_lazy_ops;
extern const struct model_ops model_cowctx_ops;

/* Look up a model by name ("eager", "lazy"); NULL if unknown. */
const struct model_ops *model_find(const char *name);

#endif
