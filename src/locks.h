/*
 * locks.h - lock hold accounting and simulated contention, one instance per world.
 *
 * Owns: the record of every critical section a model takes (which lock class,
 * which instance, read or write, why, on which CPU, when, for how long), the
 * per class / mode summaries the report prints (count, total, p50, p99, max),
 * the simulated waiting of holds that overlap a hold of the same instance from
 * another CPU, the per-operation cost model that turns work (AVCs cloned,
 * anon_vmas allocated, folios rewritten, ...) into a hold length, and the
 * bounded-memory log-linear histogram behind every quantile.
 *
 * Lock facts the models follow (eager.md §5, lazy.md §9.3):
 *   - anon_vma root rwsem: write in prepare, clone, fork, unlink; read for the
 *     whole of an rmap walk (reclaim's folio_referenced only trylocks);
 *   - mmap_lock: eager's first fault under a per-VMA lock trylocks it (read)
 *     and retries under it when that fails; lazy's first fault takes nothing;
 *   - lazy's walk lock is a policy (config lazy_walk_lock): RCU, the VMA read
 *     lock, or an mmap_lock read trylock.
 * The models decide which locks they take; this module only keeps time.
 */
#ifndef ANONVMA_LOCKS_H
#define ANONVMA_LOCKS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "event.h"

/* ---- the cost model: ns per unit of work done under a lock --------------- */

enum locks_op {
	LOCKS_OP_LOCK = 0,      /* acquire + release of an uncontended lock */
	LOCKS_OP_AV_ALLOC,      /* anon_vma_alloc + init */
	LOCKS_OP_AV_FREE,       /* anon_vma free (put) */
	LOCKS_OP_AVC_ALLOC,     /* anon_vma_chain_alloc */
	LOCKS_OP_AVC_FREE,      /* anon_vma_chain_free */
	LOCKS_OP_TREE_INSERT,   /* anon_vma_interval_tree_insert + same_vma list add */
	LOCKS_OP_TREE_REMOVE,   /* anon_vma_interval_tree_remove + list del */
	LOCKS_OP_FOLIO_REWRITE, /* lazy upgrade: one folio->mapping rewrite */
	LOCKS_OP_RMAP_VMA,      /* rmap walk: per VMA visited, beyond the page-table walk */
	LOCKS_OP_VMA_LOOKUP,    /* lazy walk: find the VMA of an address in one mm */
	LOCKS_OP_VMA_WRITE,     /* vma_start_write: first write lock of a VMA in one mmap_lock hold */
	LOCKS_OP_VMA_REF,       /* lazy walk: VMA refcount get + put (atomics on vm_refcnt) */
	LOCKS_OP_THP_SPLIT,     /* THP split: per page of the folio split (unmap, split, remap) */
	LOCKS_OP_THP_COLLAPSE,  /* khugepaged collapse: the work under the rmap exclusion */
	LOCKS_OP_LAZY_MIGRATE,  /* lazy folio migration: its exclusion against free_pgtables */
	LOCKS_OP_CTX_ALLOC,     /* cowctx: allocate and init a context (kmalloc-96, GFP_KERNEL) */
	LOCKS_OP_CTX_FREE,      /* cowctx: free a context (kfree_rcu) and unlink it */
	LOCKS_OP_CTX_REF,       /* cowctx: one atomic on a context's refcnt */
	LOCKS_OP_REMAP_STORE,   /* cowctx: one remap-tree store (maple store, array change) */
	LOCKS_OP_CTX_WALK,      /* cowctx walk: per context visited (mm check, list step) */
	LOCKS_OP_NR,
};

/* ns per unit of each op; loaded from the arch YAML section `rmap:` (arch.c). */
struct locks_costs {
	uint64_t ns[LOCKS_OP_NR];
};

/* Units of each op one critical section performs. */
struct locks_work {
	uint64_t n[LOCKS_OP_NR];
};

/* The YAML key of an op ("anon_vma_alloc_ns", ...); NULL for an op out of range. */
const char *locks_op_key(enum locks_op op);

/* Length of a critical section: the dot product of work and costs, plus extra_ns. */
uint64_t locks_cost(const struct locks_costs *c, const struct locks_work *w, uint64_t extra_ns);

/* ---- log-linear histogram (bounded memory quantiles) ----------------------- */

/*
 * Values below 32 have a bucket each; above, every power of two is split in
 * 32 equal buckets, so a quantile is within 1/32 (3.1 %) of the true value.
 * 1920 buckets cover the whole uint64_t range: ~15 KiB per histogram.
 */
#define LOCKS_HIST_SUB_BITS 5
#define LOCKS_HIST_BUCKETS (32 + 59 * 32)

struct locks_hist {
	uint64_t n, sum, min, max;
	uint64_t bucket[LOCKS_HIST_BUCKETS];
};

void locks_hist_add(struct locks_hist *h, uint64_t v);
/*
 * Nearest-rank quantile (q in [0, 1]): the smallest recorded value v with
 * at least ceil(q * n) values <= v, reported as its bucket's midpoint clamped
 * to [min, max].  0 for an empty histogram.
 */
uint64_t locks_hist_quantile(const struct locks_hist *h, double q);
/* a += b (fleet and per-model totals). */
void locks_hist_merge(struct locks_hist *a, const struct locks_hist *b);

/*
 * One histogram as JSON, the format every report section uses for a
 * distribution: { "count", "total<U>", "min<U>", "p50<U>", "p99<U>",
 * "max<U>", "buckets": [[bucket, count], ...] } where <U> is "_" unit
 * ("_ns") or nothing when unit is NULL or "" (histograms of counts).  The
 * sparse buckets make merges exact.  NULL on out of memory.
 */
cJSON *locks_hist_json(const struct locks_hist *h, const char *unit);
/* Read one back (checks that the buckets add up to count); err names the bad key. */
int locks_hist_from_json(const cJSON *o, const char *unit, struct locks_hist *h,
			 struct avm_err *err);
/* Fleet merge of two such blocks: *out = a + b, quantiles recomputed. */
int locks_hist_json_merge(const cJSON *a, const cJSON *b, const char *unit, cJSON **out,
			  struct avm_err *err);

/* ---- lock classes, sections, summaries ------------------------------------- */

enum locks_class {
	LOCKS_ANON_VMA = 0, /* anon_vma root rwsem (instance: root anon_vma id) */
	LOCKS_MMAP,         /* mmap_lock (instance: mm id) */
	LOCKS_VMA,          /* per-VMA lock (instance: VMA id) */
	LOCKS_RCU,          /* RCU read-side section: recorded, never waits */
	LOCKS_PTL,          /* page-table lock (instance: the (mm, PMD) page-table page) */
	LOCKS_CTX_LIST,     /* cowctx: a context's list_write_lock (instance: the parent context) */
	LOCKS_CTX_UNMAP,    /* cowctx: a context's concurrent_unmap_lock (instance: the context) */
	LOCKS_REMAP_TREE,   /* cowctx: the remap maple tree's spinlock (instance: the context) */
	LOCKS_CLASS_NR,
};

enum locks_mode { LOCKS_READ = 0, LOCKS_WRITE = 1, LOCKS_MODE_NR };

/* Why a section was taken: the breakdown each class/mode summary keeps. */
enum locks_why {
	LOCKS_WHY_PREPARE = 0, /* first anon fault (__anon_vma_prepare) */
	LOCKS_WHY_CLONE,       /* anon_vma_clone: split, merge dup, mremap copy */
	LOCKS_WHY_FORK,        /* anon_vma_fork / dup_mmap */
	LOCKS_WHY_UNLINK,      /* unlink_anon_vmas */
	LOCKS_WHY_UPGRADE,     /* lazy: upgrade of a lazy root at fork */
	LOCKS_WHY_RMAP_WALK,   /* rmap walks: reclaim, migration, KSM, page idle, ... */
	LOCKS_WHY_THP_SPLIT,   /* THP split / khugepaged collapse (write) */
	LOCKS_WHY_FAULT,       /* mmap_lock taken by a fault (trylock or retry) */
	LOCKS_WHY_OTHER,
	/* added later; report keys follow the names in locks.c */
	LOCKS_WHY_SPLIT,       /* VMA write lock: __split_vma */
	LOCKS_WHY_MERGE,       /* VMA write lock: a merge (vma_expand, merge of an existing range) */
	LOCKS_WHY_MUNMAP,      /* VMA write lock: a VMA detached by munmap (and MAP_FIXED, mremap) */
	LOCKS_WHY_MPROTECT,    /* VMA write lock: mprotect_fixup */
	LOCKS_WHY_COLLAPSE,    /* khugepaged collapse (the trace's THP collapse events) */
	LOCKS_WHY_MIGRATE,     /* lazy folio migration: exclusion against free_pgtables */
	LOCKS_WHY_REWRITE,     /* lazy: folio->mapping rewrites outside an upgrade (rebase, pin none) */
	LOCKS_WHY_CTX_FREE,    /* cowctx: a context freed (unlinked from its parent's children) */
	LOCKS_WHY_REMAP,       /* cowctx: a remap-tree store (fault, mremap, unmap, fork) */
	LOCKS_WHY_NR,
};

struct locks_section {
	enum locks_class cls;
	enum locks_mode mode;
	enum locks_why why;
	bool trylock;       /* give up instead of waiting (reclaim's folio_referenced) */
	uint64_t instance;  /* which lock of the class */
	uint32_t cpu;       /* the event's CPU */
	uint64_t start;     /* ns, the event's time */
	uint64_t len;       /* ns held, from locks_cost() */
	/*
	 * Optional, for re-costing (verdict sensitivity, locks_log_*): the work
	 * the section did (the locks_cost() argument) and the page-table walks
	 * in len (arch_walk_ns() each).  All zero (the default): len only, the
	 * section keeps its length under any other costs.  Whatever len holds
	 * beyond work x costs + walks x walk_ns is kept as a fixed part.
	 */
	struct locks_work work;
	uint64_t pt_walks;
};

struct locks_summary {
	uint64_t count;                     /* holds taken */
	uint64_t total_ns, p50_ns, p99_ns, max_ns;
	uint64_t waited;                    /* holds that had to wait */
	uint64_t wait_total_ns, wait_p99_ns, wait_max_ns;
	uint64_t trylock_failed;            /* trylocks that found the lock held */
	uint64_t untracked;                 /* holds counted without contention (out of memory) */
	uint64_t count_by_why[LOCKS_WHY_NR];
	uint64_t total_ns_by_why[LOCKS_WHY_NR];
};

struct locks;

int locks_create(struct locks **out, struct avm_err *err);
void locks_destroy(struct locks *l); /* safe on NULL */

/*
 * Record one critical section.  It starts at s->start on s->cpu, or later if
 * another CPU holds the same instance in an incompatible mode (a writer
 * excludes everyone, readers exclude writers): then it waits until that hold
 * ends.  Holds of one CPU never wait for each other.  Returns 0 with *wait_ns
 * set (may be NULL), or 1 if a trylock found the lock held (nothing recorded
 * but the failure).  Never fails: it is called from paths that cannot (model
 * unlink); if memory for tracking the instance runs out, the hold is counted
 * without contention and as `untracked`.
 */
int locks_hold(struct locks *l, const struct locks_section *s, uint64_t *wait_ns);

void locks_summary(const struct locks *l, enum locks_class c, enum locks_mode m,
		   struct locks_summary *out);
/* The histograms behind a summary (for merging across worlds or hosts). */
const struct locks_hist *locks_hold_hist(const struct locks *l, enum locks_class c,
					 enum locks_mode m);
const struct locks_hist *locks_wait_hist(const struct locks *l, enum locks_class c,
					 enum locks_mode m);
/* Lock instances with a hold that may still overlap a future one (memory bound). */
uint64_t locks_live_instances(const struct locks *l);

/*
 * The report's `locks` block of one model (docs/arch.md): for every class and
 * mode (all present, zeros when unused, so keys stay stable)
 *   { "hold": H, "wait": H, "trylock_failed": n, "untracked": n,
 *     "by_reason": { <why>: { "count", "total_ns" } } }
 * where H = { "count", "total_ns", "min_ns", "p50_ns", "p99_ns", "max_ns",
 * "buckets": [[bucket, count], ...] }; the sparse buckets make blocks
 * mergeable with exact histogram arithmetic.  NULL (err filled) on OOM.
 */
cJSON *locks_json(const struct locks *l, struct avm_err *err);
/* Fleet merge: *out = a + b (counts and histograms summed, quantiles recomputed). */
int locks_json_merge(const cJSON *a, const cJSON *b, cJSON **out, struct avm_err *err);

/*
 * A trylock of (c, m) that found the lock held by a hold this record does not
 * know (one the trace measured, locks_measured below): counted in that
 * summary's trylock_failed, nothing else recorded.
 */
void locks_trylock_failed(struct locks *l, enum locks_class c, enum locks_mode m);

/* Holds recorded so far, every class and mode (trylock failures not counted). */
uint64_t locks_count(const struct locks *l);
/* Sum of their lengths, ns: a mark before some work and a delta after it (fork cost). */
uint64_t locks_total_ns(const struct locks *l);
/*
 * Modelled work a model does outside every lock (the allocations the kernel
 * makes before it takes a lock): no section, no contention, only summed, so
 * an operation's whole modelled time is its holds plus this (fork cost).
 */
void locks_unlocked(struct locks *l, uint64_t ns);
uint64_t locks_unlocked_ns(const struct locks *l);

/*
 * Unlocked work with its work vector (re-costable): adds locks_cost(c, w, 0)
 * to locks_unlocked_ns and w to the cumulative work of locks_mark.
 */
void locks_unlocked_work(struct locks *l, const struct locks_costs *c, const struct locks_work *w);

/* ---- re-costing: cumulative work, the section log, re-simulation -------------------- */

/*
 * The costs a section's length is recomputed with: the rmap costs and the
 * length of one page-table walk (arch_walk_ns).
 */
struct locks_recost {
	struct locks_costs rmap;
	uint64_t walk_ns;
};

/*
 * Cumulative work of every hold recorded and every locks_unlocked_work:
 * n[op] units of each op, pt_walks page-table walks, and fixed_ns, the
 * part of their lengths no work explains (sections without a work vector,
 * locks_unlocked).  Its cost under c is locks_mark_cost(): the difference
 * of two marks taken around an operation is that operation's re-costable
 * time (fork cost).
 */
struct locks_mark {
	uint64_t n[LOCKS_OP_NR];
	uint64_t pt_walks;
	uint64_t fixed_ns;
};

/*
 * The costs the models compute section lengths with (the world's arch):
 * needed to split a length into work and fixed part.  Without them every
 * section is len only.
 */
void locks_set_costs(struct locks *l, const struct locks_recost *c);

void locks_mark(const struct locks *l, struct locks_mark *out);
/* out = a - b */
void locks_mark_sub(const struct locks_mark *a, const struct locks_mark *b, struct locks_mark *out);
uint64_t locks_mark_cost(const struct locks_mark *m, const struct locks_recost *c);

/*
 * The section log: every locks_hold call (time, CPU, class, mode, reason,
 * instance, trylock, work vector, fixed part), so waits and failed
 * trylocks can be simulated again under other costs without the trace.
 * Off until locks_log_enable; memory about 48 bytes per section plus 8 per
 * non-zero op of its work.
 *
 * Bound: when the log holds max_sections, it is compacted: the sections of
 * every lock instance whose cluster (sections of the instance less than
 * LOCKS_EXPIRY_NS apart, the horizon beyond which locks.c forgets a hold)
 * came from one CPU only, and ended before the horizon, are folded into
 * per class/mode/reason sums (holds of one CPU never wait for each other,
 * whatever their lengths, so their waits are 0 at any cost and only their
 * sums matter).  If compaction frees less than a quarter of the log, the
 * log is saturated: later sections are only summed, their waits kept at
 * the value the replay simulated (not re-simulated), and counted in
 * `unsimulated` (locks_log_stats).
 */
int locks_log_enable(struct locks *l, uint64_t max_sections, struct avm_err *err);

struct locks_log_stats {
	uint64_t sections;     /* locks_hold calls seen since the log was enabled */
	uint64_t logged;       /* in the log now */
	uint64_t folded;       /* folded into sums by compaction (single-CPU clusters) */
	uint64_t unsimulated;  /* summed after saturation: waits kept from the replay */
	uint64_t compactions;
	uint64_t bytes;        /* memory held by the log */
};
void locks_log_stats(const struct locks *l, struct locks_log_stats *out);

/* What a re-simulation of the log under other costs gives. */
struct locks_resim {
	uint64_t wait_ns;           /* simulated waiting, every class and mode */
	uint64_t waited;            /* holds that waited */
	uint64_t trylock_failed;    /* simulated failures + the measured ones (locks_trylock_failed) */
	uint64_t hold_ns[LOCKS_CLASS_NR][LOCKS_MODE_NR]; /* hold totals */
};
/* Re-simulate the log with costs c (the same order of holds as the replay). */
int locks_log_resim(const struct locks *l, const struct locks_recost *c, struct locks_resim *out,
		    struct avm_err *err);
/* Which ops (and page-table walks, bit LOCKS_OP_NR) some logged or summed work used. */
uint64_t locks_log_ops_used(const struct locks *l);

/* ---- measured mmap_lock write holds (the trace's AVM_MMAP_LOCK events) ------------ */

/*
 * Which mms' mmap_lock the traced kernel held for write at the current
 * event, from the kernel's mmap_lock tracepoints (event.h AVM_MMAP_LOCK:
 * a = 1 write, b = enum avm_lock_phase, c = success), fed in stream order.
 * The write lock is exclusive, so the record is one holder task per mm:
 *   - a write ACQUIRED with success opens the mm's hold (task = holder);
 *   - the holder's write RELEASED closes it;
 *   - a read ACQUIRED with success on the mm closes it: by the holder, that
 *     is mmap_write_downgrade (munmap, brk, mremap: the write hold became a
 *     read hold); by anyone else, it proves the holder's release was lost;
 *     a write ACQUIRED by another task replaces a stale holder the same way
 *     (the tracepoints fire after the acquisition and before the release);
 *   - the holder's AVM_EXIT closes every hold it still has (a lost release
 *     does not leave the mm locked for ever), and AVM_MM_RELEASE (the mm is
 *     gone) closes the mm's.
 * START phases and failed acquisitions change nothing.  Memory: one map
 * entry per mm held now (plus stale ones until one of the rules above
 * closes them).
 */
struct locks_measured;

int locks_measured_create(struct locks_measured **out, struct avm_err *err);
void locks_measured_destroy(struct locks_measured *m); /* safe on NULL */

/*
 * The kinds locks_measured_event may act on, as one test for the replay's
 * hot path: kind & 63 picks a bit of the mask.  No other kind of event.h is
 * 3, 4 or 50 modulo 64, and a false positive (an unknown kind) only costs
 * the exact test inside locks_measured_event.
 */
#define LOCKS_MEASURED_KINDS ((1ULL << AVM_EXIT) | (1ULL << AVM_MM_RELEASE) | \
			      (1ULL << AVM_MMAP_LOCK))
static inline bool locks_measured_kind(uint32_t kind)
{
	return (LOCKS_MEASURED_KINDS >> (kind & 63)) & 1;
}

/* Update from ev (other kinds ignored).  -1 (err filled) only when out of memory. */
int locks_measured_event(struct locks_measured *m, const struct avm_event *ev,
			 struct avm_err *err);
/* mm's mmap_lock is held for write now, by the trace's measurement. */
bool locks_measured_write_held(const struct locks_measured *m, uint64_t mm);
/* Write holds measured so far (successful write acquisitions): 0 = the trace has none. */
uint64_t locks_measured_holds(const struct locks_measured *m);

/* ---- calibration (anonvma-replay --calibrate) ------------------------------------- */

/*
 * Features of one measured hold: how much of each kind of work the model did
 * while the kernel held the lock.  AVC link = alloc + interval-tree insert and
 * AVC unlink = removal + free always come in pairs in the models, so each
 * pair is one feature (its fit is split in the ratio of the prior costs).
 */
enum locks_calib_feature {
	LOCKS_CF_LOCK = 0,      /* anon_vma lock sections taken          -> lock_ns */
	LOCKS_CF_AV_ALLOC,      /* anon_vmas allocated                   -> anon_vma_alloc_ns */
	LOCKS_CF_AV_FREE,       /* anon_vmas freed                       -> anon_vma_free_ns */
	LOCKS_CF_AVC_LINK,      /* AVCs allocated and linked             -> avc_alloc + insert */
	LOCKS_CF_AVC_UNLINK,    /* AVCs unlinked and freed               -> remove + avc_free */
	LOCKS_CF_FOLIO_REWRITE, /* folio->mapping rewrites (lazy)        -> folio_rewrite_ns */
	LOCKS_CF_PTE_COPY,      /* PTEs copied by fork                   -> fork.pte_copy_ns */
	LOCKS_CF_PT_TABLE,      /* page-table pages the fork allocated   -> fork.table_ns */
	LOCKS_CF_VMA_COPY,      /* vm_area_structs allocated (dup_mmap)  -> reported only */
	LOCKS_CF_BASE,          /* 1 per hold: work the models do not see -> reported only */
	LOCKS_CF_NR,
};

/* The normal equations of a least-squares fit: memory is constant, whatever the trace. */
struct locks_calib {
	double xtx[LOCKS_CF_NR][LOCKS_CF_NR];
	double xty[LOCKS_CF_NR];
	uint64_t samples;
	uint64_t seen[LOCKS_CF_NR]; /* samples in which the feature was non-zero */
};

const char *locks_calib_feature_name(enum locks_calib_feature f);
/* One measured hold of y_ns with features x. */
void locks_calib_add(struct locks_calib *c, const double x[LOCKS_CF_NR], double y_ns);
/*
 * Non-negative least squares (cyclic coordinate descent on the normal
 * equations).  A feature seen in fewer than min_samples samples, or that the
 * samples cannot tell apart from the others (a linear combination of them),
 * is not fitted: out[i] = prior[i].  fitted[i] (may be NULL) says which were.
 */
void locks_calib_fit(const struct locks_calib *c, const double prior[LOCKS_CF_NR],
		     uint64_t min_samples, double out[LOCKS_CF_NR], bool fitted[LOCKS_CF_NR]);

/* Stable names for reports: "anon_vma_rwsem", "read", "fork", ... */
const char *locks_class_name(enum locks_class c);
const char *locks_mode_name(enum locks_mode m);
const char *locks_why_name(enum locks_why w);

#endif
