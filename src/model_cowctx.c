/*
 * model_cowctx.c - the COW context design ("scalable CoW anonymous rmap
 * rework", the maintainers' alternative to ANON_VMA_LAZY) behind model_ops
 * (model.h).  The specification is docs/cowctx-model.md, which follows the
 * design note of the proof of concept (PoC) and the first RFC section by
 * section (§1 objects, §2 events, §3 the walk); every open point of its §5
 * that changes a count, a cost or a walk's result is a policy (config.h enum
 * cowctx_policy, value 0 = the PoC as read).  No kernel with this design
 * exists: nothing here is validated against a kernel, the rule tests
 * (tests/test_cowctx.c) carry the weight.
 *
 * Objects.  One context (struct cc_ctx, 96 B in the kernel) per mm: made
 * when the simulator makes the mm (mm_init: fork child, exec, snapshot),
 * linked under the parent at the end of dup_mmap (newest child first),
 * referenced by its mm (until __mmdrop), by each child and by each folio
 * naming it (policy lifetime/folio_refs).  At refcount 0 it is freed and
 * drops its parent's reference (a cascade).  A context whose mm is gone but
 * which is still referenced is a zombie.  No anon_vma and no AVC exists:
 * vma->anon is one of two static markers ("faulted here", "inherited at
 * fork", which only the mainline-like merge policy reads).
 *
 * Folio names.  A folio's owner token is its context's address (the
 * simulator keeps one owner per folio): the faulting mm's context at first
 * fault and at a CoW copy; an exclusive reuse moves it to the faulting mm's
 * context (policy reuse_move); THP split and migration take references
 * (counted as atomics: the simulator keeps one folio object per THP).
 *
 * Remap tree.  Per context, the maple tree remap_mt maps ranges of folio
 * indexes to sets of offsets (vm_start page - vm_pgoff) for the VMAs whose
 * offset is not the identity and that are tracked (policy track).  Kept here
 * as a sorted array of entries [lo, hi] with their offsets; an entry with one
 * offset is "simple" (in the slot), with more a heap array (counted as a
 * remap_array object, 32 B: the cap-2 size), and the tree's maple nodes are
 * counted from the number of ranges (remap objects, 256 B each; the count
 * is an estimate of the tree's shape: docs/cowctx-model.md).
 *
 * Walk.  The folio's context C0, then its descendants (policy order), in
 * each live one a VMA lookup at the folio's index plus one per remap offset
 * found over the folio's range, a page-table walk per VMA whose offset
 * matches; the exclusive short-cut (policy shortcut) ends the walk after C0
 * for a folio not mapped shared.  A walk that does not find the mapping it
 * was started from (the caller's mm and address) is counted a miss.
 *
 * Data layout: contexts are on a live list (for the checker and teardown)
 * and found by mm id in a u64map; children lists are intrusive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anon_vma.h"
#include "arch.h"
#include "config.h"
#include "array.h"
#include "list.h"
#include "locks.h"
#include "mm.h"
#include "model.h"
#include "u64map.h"

/* Object sizes on x86_64 (cowctx.md §1.1, §1.2): context, maple node, a cap-2 offset array. */
#define CC_CTX_SIZE 96
#define CC_NODE_SIZE 256
#define CC_ARRAY_SIZE 32
/* Slots of a maple range node, and children per internal node (maple_tree.h, 64-bit). */
#define CC_NODE_SLOTS 16
#define CC_NODE_FANOUT 10

/* vma->anon markers: faulted in this mm, or inherited at fork (the PoC's dummy anon_vma). */
static const char cc_faulted_marker, cc_inherited_marker;
#define CC_FAULTED ((void *)&cc_faulted_marker)
#define CC_INHERITED ((void *)&cc_inherited_marker)

struct cc_ent {
	uint64_t lo, hi;   /* folio indexes, inclusive */
	int64_t *off;      /* offsets, sorted, unique */
	uint32_t n;
	size_t cap;
	bool multi;        /* the offsets live in a heap array (else the slot) */
};

/* A remap tree: entries sorted by lo, never overlapping. */
struct cc_tree {
	struct cc_ent *ent;
	size_t nent, capent;
};

struct cc_ctx {
	uint64_t id;
	struct mm_space *mm;      /* NULL: a zombie */
	uint64_t mm_id;
	struct cc_ctx *parent;
	struct cc_ctx *children;  /* newest first */
	struct cc_ctx *sib_prev, *sib_next;
	uint64_t refcnt;          /* mm + children + folios (policy lifetime) */
	uint64_t nchildren, nfolios;
	bool mm_ref;              /* the owning mm's reference is held */
	bool zombie;              /* counted in ctx_zombies: its mm is gone, it lives on */
	bool freed;               /* refcnt reached 0 while folios still name it (lifetime
				     mm_children): kept only so that their names resolve */
	struct cc_tree real;      /* remap_mt */
	/*
	 * policy track=rfc: MAP_PRIVATE file VMAs indexed by virtual offset
	 * need no entry in the kernel; the model keeps theirs here, uncounted,
	 * because the simulator's folio indexes stay file offsets.
	 */
	struct cc_tree virt;
	uint64_t nodes, arrays;   /* counted remap objects (real tree) */
	struct cc_ctx *live_prev, *live_next;
};

struct model {
	struct model_env env;
	const struct config *cfg;
	struct av_space sp;       /* lock-section helpers only (no anon_vma is ever made) */
	uint64_t page_size;
	uint64_t next_id;
	struct cc_ctx *live;      /* every context struct we hold (freed ones too) */
	struct u64map by_mm;      /* mm id -> context */
	struct cc_ctx *forking;   /* fork_begin .. fork_end: the child's context */
	/* start-snapshot adoption: anon_vma id -> owning context, anon_vma id -> parent id */
	struct u64map adopt_owner, adopt_parent;
	struct cc_ctx **pending;  /* contexts whose parent anon_vma is to be resolved */
	uint64_t *pending_av;
	size_t npending, cappending, cappending_av;
	uint64_t checks, walk_every;
	char broken[160];         /* an allocation failed where no error can be returned */
};

static int pol(const struct model *m, enum cowctx_policy p)
{
	return m->cfg->cowctx[p];
}

static bool folio_refs_held(const struct model *m)
{
	return pol(m, COWCTX_P_FOLIO_REFS) == 0 && pol(m, COWCTX_P_LIFETIME) == 0;
}

static uint64_t ctx_token(const struct cc_ctx *c)
{
	return (uint64_t)(uintptr_t)c;
}

static struct cc_ctx *token_ctx(uint64_t t)
{
	return (struct cc_ctx *)(uintptr_t)t;
}

static struct cc_ctx *ctx_of_mm(const struct model *m, const struct mm_space *mm)
{
	return mm ? u64map_get(&m->by_mm, mm_space_id(mm)) : NULL;
}

/* offset = vm_start page - vm_pgoff (cowctx.md §1.2); 0 is the identity. */
static int64_t vma_offset(const struct model *m, const struct mm_vma *v)
{
	return (int64_t)(v->start / m->page_size) - (int64_t)v->pgoff;
}

static uint64_t vma_pages(const struct model *m, const struct mm_vma *v)
{
	return (v->end - v->start) / m->page_size;
}

static uint64_t mm_id_of(const struct mm_vma *v)
{
	return v->mm ? mm_space_id(v->mm) : 0;
}

/* ------------------------------------------------------------------------- */
/* costs */

static void ctx_lock(struct model *m, enum locks_class cls, enum locks_why why, uint64_t inst,
		     enum locks_op op, uint64_t n)
{
	struct locks_work w = { { 0 } };

	w.n[LOCKS_OP_LOCK] = 1;
	w.n[op] += n;
	av_lock(&m->sp, cls, LOCKS_WRITE, why, inst, false, &w);
}

static void ctx_unlocked(struct model *m, enum locks_op op, uint64_t n)
{
	struct locks_work w = { { 0 } };

	if (!m->env.locks || !m->env.arch || !n)
		return;
	w.n[op] = n;
	locks_unlocked_work(m->env.locks, &m->env.arch->rmap, &w);
}

/* One atomic on a context's refcnt (policy folio_refs for folio references). */
static void ref_atomic(struct model *m, uint64_t n)
{
	m->env.stats->ctx_ref_atomics += n;
}

/* ------------------------------------------------------------------------- */
/* the remap tree */

/* Maple nodes a tree of n entries needs: ranges = entries + gaps, 16 per leaf, fan-out 10. */
static uint64_t nodes_for(size_t n)
{
	uint64_t slots, leaves, nodes, level;

	if (n == 0)
		return 0;
	slots = 2 * (uint64_t)n + 1;
	leaves = (slots + CC_NODE_SLOTS - 1) / CC_NODE_SLOTS;
	nodes = leaves;
	for (level = leaves; level > 1; level = (level + CC_NODE_FANOUT - 1) / CC_NODE_FANOUT)
		nodes += (level + CC_NODE_FANOUT - 1) / CC_NODE_FANOUT;
	return nodes;
}

/* Bring the counted maple nodes and arrays of c to its entries. */
static void remap_settle(struct model *m, struct cc_ctx *c, enum model_why why)
{
	uint64_t want = nodes_for(c->real.nent), arrays = 0;

	for (size_t i = 0; i < c->real.nent; i++)
		arrays += c->real.ent[i].multi;
	for (; c->nodes < want; c->nodes++)
		model_stats_alloc(m->env.stats, MODEL_OBJ_REMAP, why);
	for (; c->nodes > want; c->nodes--)
		model_stats_free(m->env.stats, MODEL_OBJ_REMAP, why);
	for (; c->arrays < arrays; c->arrays++)
		model_stats_alloc(m->env.stats, MODEL_OBJ_REMAP_ARRAY, why);
	for (; c->arrays > arrays; c->arrays--)
		model_stats_free(m->env.stats, MODEL_OBJ_REMAP_ARRAY, why);
}

static int ent_insert(struct cc_tree *c, size_t at, const struct cc_ent *e)
{
	if (array_grow((void **)&c->ent, &c->capent, c->nent + 1, sizeof(*c->ent), 4))
		return -1;
	memmove(&c->ent[at + 1], &c->ent[at], (c->nent - at) * sizeof(*e));
	c->ent[at] = *e;
	c->nent++;
	return 0;
}

static void ent_remove(struct cc_tree *c, size_t at)
{
	free(c->ent[at].off);
	memmove(&c->ent[at], &c->ent[at + 1], (c->nent - at - 1) * sizeof(c->ent[0]));
	c->nent--;
}

static int ent_copy_offs(struct cc_ent *dst, const struct cc_ent *src)
{
	*dst = *src;
	dst->off = malloc((src->cap ? src->cap : 1) * sizeof(*dst->off));
	if (!dst->off)
		return -1;
	memcpy(dst->off, src->off, src->n * sizeof(*dst->off));
	return 0;
}

/* Cut entry i in two at index `at` (lo < at <= hi): [lo, at-1] and [at, hi]. */
static int ent_split(struct cc_tree *c, size_t i, uint64_t at)
{
	struct cc_ent upper;

	if (ent_copy_offs(&upper, &c->ent[i]))
		return -1;
	upper.lo = at;
	c->ent[i].hi = at - 1;
	if (ent_insert(c, i + 1, &upper)) {
		free(upper.off);
		return -1;
	}
	return 0;
}

/* Entries overlapping [lo, hi] start at the returned index. */
static size_t ent_first(const struct cc_tree *c, uint64_t lo)
{
	size_t a = 0, b = c->nent;

	while (a < b) {
		size_t mid = (a + b) / 2;

		if (c->ent[mid].hi < lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

/* Split the entries crossing lo or hi + 1 so that [lo, hi] is covered by whole entries. */
static int ent_clip(struct cc_tree *c, uint64_t lo, uint64_t hi)
{
	size_t i = ent_first(c, lo);

	if (i < c->nent && c->ent[i].lo < lo && c->ent[i].hi >= lo && ent_split(c, i, lo))
		return -1;
	i = ent_first(c, hi);
	if (i < c->nent && c->ent[i].lo <= hi && c->ent[i].hi > hi && ent_split(c, i, hi + 1))
		return -1;
	return 0;
}

static int ent_has(const struct cc_ent *e, int64_t off)
{
	for (uint32_t k = 0; k < e->n; k++)
		if (e->off[k] == off)
			return 1;
	return 0;
}

/* Append off (sorted, unique).  PoC quirk: a present offset still promotes a simple entry. */
static int ent_add_off(struct cc_ent *e, int64_t off)
{
	uint32_t k;

	if (ent_has(e, off)) {
		e->multi = true; /* cowctx.md §1.2 quirk: a one-element heap array */
		return 0;
	}
	if (array_grow((void **)&e->off, &e->cap, (size_t)e->n + 1, sizeof(*e->off), 2))
		return -1;
	for (k = e->n; k > 0 && e->off[k - 1] > off; k--)
		e->off[k] = e->off[k - 1];
	e->off[k] = off;
	e->n++;
	if (e->n > 1)
		e->multi = true;
	return 0;
}

static void ent_del_off(struct cc_ent *e, int64_t off)
{
	uint32_t k;

	for (k = 0; k < e->n && e->off[k] != off; k++)
		;
	if (k == e->n)
		return;
	memmove(&e->off[k], &e->off[k + 1], (e->n - k - 1) * sizeof(*e->off));
	e->n--;
	if (e->n <= 1)
		e->multi = false; /* multi -> simple (the array is freed) */
}

/* Does any entry overlapping [lo, hi] hold off? */
static bool ent_has_any(const struct cc_tree *t, uint64_t lo, uint64_t hi, int64_t off)
{
	for (size_t i = ent_first(t, lo); i < t->nent && t->ent[i].lo <= hi; i++)
		if (ent_has(&t->ent[i], off))
			return true;
	return false;
}

static int ent_new_simple(struct cc_tree *c, size_t at, uint64_t lo, uint64_t hi, int64_t off)
{
	struct cc_ent e = { lo, hi, NULL, 1, 2, false };

	e.off = malloc(2 * sizeof(*e.off));
	if (!e.off)
		return -1;
	e.off[0] = off;
	if (ent_insert(c, at, &e)) {
		free(e.off);
		return -1;
	}
	return 0;
}

/* One remap-tree store (the maple lock around a store): a section and a count. */
static void remap_store(struct model *m, struct cc_ctx *c)
{
	m->env.stats->remap_stores++;
	ctx_lock(m, LOCKS_REMAP_TREE, LOCKS_WHY_REMAP, c->id, LOCKS_OP_REMAP_STORE, 1);
}

/* add (cowctx.md §1.2): split at the edges, append to overlaps, fill the gaps. */
static int remap_add(struct model *m, struct cc_ctx *cx, struct cc_tree *c, uint64_t lo,
		     uint64_t hi, int64_t off, enum model_why why)
{
	uint64_t at = lo;
	size_t i;

	if (ent_clip(c, lo, hi))
		return -1;
	for (i = ent_first(c, lo); at <= hi; ) {
		if (i < c->nent && c->ent[i].lo <= at) {
			if (ent_add_off(&c->ent[i], off))
				return -1;
			if (c->ent[i].hi >= hi)
				break;
			at = c->ent[i].hi + 1;
			i++;
			continue;
		}
		{
			uint64_t gap_hi = i < c->nent && c->ent[i].lo <= hi ? c->ent[i].lo - 1 : hi;

			if (ent_new_simple(c, i, at, gap_hi, off))
				return -1;
			i++;
			if (gap_hi >= hi)
				break;
			at = gap_hi + 1;
		}
	}
	if (c == &cx->real) {
		remap_store(m, cx);
		remap_settle(m, cx, why);
	}
	return 0;
}

/* unmap (policy unmap_grain): drop off from overlapping entries, whole or clipped to [lo, hi]. */
static int remap_del(struct model *m, struct cc_ctx *cx, struct cc_tree *c, uint64_t lo,
		     uint64_t hi, int64_t off, enum model_why why)
{
	size_t i;

	if (pol(m, COWCTX_P_UNMAP_GRAIN) == 1 && ent_clip(c, lo, hi))
		return -1;
	for (i = ent_first(c, lo); i < c->nent && c->ent[i].lo <= hi;) {
		ent_del_off(&c->ent[i], off);
		if (c->ent[i].n == 0)
			ent_remove(c, i);
		else
			i++;
	}
	if (c != &cx->real)
		return 0;
	/* RCU + concurrent_unmap_lock (cowctx.md §1.2 unmap), then the maple store */
	ctx_lock(m, LOCKS_CTX_UNMAP, LOCKS_WHY_REMAP, cx->id, LOCKS_OP_LOCK, 0);
	remap_store(m, cx);
	remap_settle(m, cx, why);
	return 0;
}

/* remap: replace old by new in the entries overlapping [lo, hi] that hold old; false: none. */
static int remap_replace(struct model *m, struct cc_ctx *cx, struct cc_tree *c, uint64_t lo,
			 uint64_t hi, int64_t old, int64_t new, bool *found, enum model_why why)
{
	size_t i;

	*found = false;
	for (i = ent_first(c, lo); i < c->nent && c->ent[i].lo <= hi; i++) {
		if (!ent_has(&c->ent[i], old))
			continue;
		*found = true;
		ent_del_off(&c->ent[i], old);
		if (ent_add_off(&c->ent[i], new))
			return -1;
	}
	if (*found && c == &cx->real) {
		remap_store(m, cx);
		remap_settle(m, cx, why);
	}
	return 0;
}

static void tree_free(struct cc_tree *t)
{
	while (t->nent)
		ent_remove(t, t->nent - 1);
	free(t->ent);
	t->ent = NULL;
	t->capent = 0;
}

static void remap_destroy(struct model *m, struct cc_ctx *c, enum model_why why)
{
	tree_free(&c->real);
	tree_free(&c->virt);
	remap_settle(m, c, why);
}

static bool file_private(const struct mm_vma *v)
{
	return v->file && !(v->flags & (VM_SHARED | VM_MAYSHARE));
}

/*
 * should_track_remap (cowctx.md §1.2): a faulted VMA whose offset is not
 * the identity - an anonymous one (moved by mremap after its first fault)
 * or a MAP_PRIVATE file one (its folio index is the file offset).
 */
static bool vma_tracked(const struct model *m, const struct mm_vma *v)
{
	if (!v->anon || vma_offset(m, v) == 0 || (v->flags & VM_SHARED))
		return false;
	return v->file == 0 || file_private(v);
}

/*
 * The tree a tracked VMA's entries go to (policy track): poc, the remap
 * tree; rfc, a MAP_PRIVATE file VMA never moved since its first fault is
 * found by the identity pass in the RFC's virtual-offset indexing, so its
 * entries are the model's uncounted stand-in (virt); once moved it is
 * tracked like a moved anonymous VMA.
 */
static struct cc_tree *tree_for(const struct model *m, struct cc_ctx *c, const struct mm_vma *v,
				bool moved)
{
	return pol(m, COWCTX_P_TRACK) == 1 && file_private(v) && !moved ? &c->virt : &c->real;
}

static int track_add(struct model *m, struct cc_ctx *c, const struct mm_vma *v, enum model_why why)
{
	if (!c || !vma_tracked(m, v))
		return 0;
	return remap_add(m, c, tree_for(m, c, v, false), v->pgoff,
			 v->pgoff + vma_pages(m, v) - 1, vma_offset(m, v), why);
}

/* ------------------------------------------------------------------------- */
/* contexts */

static void live_add(struct model *m, struct cc_ctx *c)
{
	LIST_PUSH_FRONT(&m->live, c, live_prev, live_next);
}

static void live_del(struct model *m, struct cc_ctx *c)
{
	LIST_UNLINK(&m->live, c, live_prev, live_next);
}

static void child_add(struct cc_ctx *p, struct cc_ctx *c)
{
	c->parent = p;
	LIST_PUSH_FRONT(&p->children, c, sib_prev, sib_next);
	p->nchildren++;
	p->refcnt++;
}

static void child_del(struct cc_ctx *c)
{
	struct cc_ctx *p = c->parent;

	LIST_UNLINK(&p->children, c, sib_prev, sib_next);
	c->sib_prev = c->sib_next = NULL;
	p->nchildren--;
}

static void zombie_count(struct model *m, int delta)
{
	struct model_stats *s = m->env.stats;

	if (delta > 0 && ++s->ctx_zombies > s->ctx_zombies_peak)
		s->ctx_zombies_peak = s->ctx_zombies;
	if (delta < 0)
		s->ctx_zombies--;
}

static void ctx_release_struct(struct model *m, struct cc_ctx *c)
{
	live_del(m, c);
	free(c);
}

/*
 * One reference less (cowctx.md §1.1 "Freed"): at 0, unlink from the
 * parent under its list_write_lock, destroy the remap tree, kfree_rcu the
 * context, and drop the parent's reference - a cascade up the tree.
 */
static void ctx_put(struct model *m, struct cc_ctx *c, enum model_why why)
{
	while (c && --c->refcnt == 0) {
		struct cc_ctx *p = c->parent;

		if (p) {
			child_del(c);
			ctx_lock(m, LOCKS_CTX_LIST, LOCKS_WHY_CTX_FREE, p->id, LOCKS_OP_CTX_FREE, 1);
		} else {
			ctx_unlocked(m, LOCKS_OP_CTX_FREE, 1);
		}
		remap_destroy(m, c, why);
		model_stats_free(m->env.stats, MODEL_OBJ_COW_CONTEXT, why);
		if (c->zombie)
			zombie_count(m, -1);
		c->zombie = false;
		c->parent = NULL;
		if (c->nfolios) {
			c->freed = true; /* lifetime mm_children: folios still name it */
		} else {
			ctx_release_struct(m, c);
		}
		if (p)
			ref_atomic(m, 1);
		c = p;
	}
}

/* mm_init (cowctx.md §1.1 "Created"): a context, refcnt 1 for the mm, no parent yet. */
static int cc_mm_new(struct model *m, struct mm_space *mm, enum model_why why, bool preexisting,
		     struct avm_err *err)
{
	struct cc_ctx *c = calloc(1, sizeof(*c));

	if (!c || u64map_put(&m->by_mm, mm_space_id(mm), c)) {
		free(c);
		return avm_errf(err, "out of memory (COW context)");
	}
	c->id = ++m->next_id;
	c->mm = mm;
	c->mm_id = mm_space_id(mm);
	c->refcnt = 1;
	c->mm_ref = true;
	live_add(m, c);
	if (preexisting) {
		model_stats_adopt(m->env.stats, MODEL_OBJ_COW_CONTEXT);
		return 0;
	}
	model_stats_alloc(m->env.stats, MODEL_OBJ_COW_CONTEXT, why);
	ctx_unlocked(m, LOCKS_OP_CTX_ALLOC, 1); /* GFP_KERNEL in mm_init, no lock held */
	return 0;
}

/* __mmdrop: ctx->mm = NULL, then the mm's reference goes (a cascade may follow). */
static void cc_mm_gone(struct model *m, struct mm_space *mm)
{
	struct cc_ctx *c = ctx_of_mm(m, mm);

	if (!c)
		return;
	u64map_del(&m->by_mm, mm_space_id(mm));
	if (m->forking == c)
		m->forking = NULL;
	c->mm = NULL;
	c->mm_ref = false;
	ref_atomic(m, 1);
	if (c->refcnt > 1) {
		c->zombie = true; /* children or folios hold it */
		zombie_count(m, +1);
	}
	ctx_put(m, c, MODEL_WHY_EXIT);
}

/* ------------------------------------------------------------------------- */
/* ops */

static int cc_create(const struct model_env *env, struct model **out, struct avm_err *err)
{
	struct model *m;

	if (!env->cfg || !env->sim)
		return avm_errf(err, "cowctx model: needs a config and a simulator");
	m = calloc(1, sizeof(*m));
	if (!m)
		return avm_errf(err, "out of memory (cowctx model)");
	m->env = *env;
	m->cfg = env->cfg;
	m->page_size = mm_sim_params(env->sim)->page_size;
	av_space_init(&m->sp, env->stats, m->cfg->profile, NULL);
	m->sp.env = &m->env;
	env->stats->obj_size[MODEL_OBJ_COW_CONTEXT] = CC_CTX_SIZE;
	env->stats->obj_size[MODEL_OBJ_REMAP] = CC_NODE_SIZE;
	env->stats->obj_size[MODEL_OBJ_REMAP_ARRAY] = CC_ARRAY_SIZE;
	env->stats->folio_field_bytes = pol(m, COWCTX_P_FOLIO_FIELD) == 0 ? 8 : 0;
	*out = m;
	return 0;
}

static void cc_destroy(struct model *m)
{
	if (!m)
		return;
	while (m->live) {
		struct cc_ctx *c = m->live;

		m->live = c->live_next;
		tree_free(&c->real);
		tree_free(&c->virt);
		free(c);
	}
	u64map_free(&m->by_mm);
	u64map_free(&m->adopt_owner);
	u64map_free(&m->adopt_parent);
	free(m->pending);
	free(m->pending_av);
	free(m);
}

static bool cc_has_anon(const struct model *m, const struct mm_vma *v)
{
	(void)m;
	return v->anon != NULL;
}

/*
 * First anon fault (cowctx.md §2 "first anon fault"): vma->anon_vma becomes
 * the dummy "has faulted" pointer under the mmap lock (still required: the
 * same trylock as mainline's fault path, with page_table_lock inside); no
 * allocation, except remap entries for a tracked VMA (a MAP_PRIVATE file
 * VMA, or an anonymous VMA moved before its first fault is not tracked: its
 * offset is 0 after an unfaulted move).
 */
static int cc_prepare(struct model *m, struct mm_vma *v, struct avm_err *err)
{
	struct locks_work w = { { 0 } };

	if (v->anon)
		return 0;
	v->anon = CC_FAULTED;
	w.n[LOCKS_OP_LOCK] = 2; /* mmap_lock read and page_table_lock around the dummy store */
	av_lock(&m->sp, LOCKS_MMAP, LOCKS_READ, LOCKS_WHY_FAULT, mm_id_of(v), true, &w);
	if (track_add(m, ctx_of_mm(m, v->mm), v, MODEL_WHY_FAULT))
		return avm_errf(err, "out of memory (remap tree)");
	return 0;
}

/*
 * policy remap_adjust=adjust: a new folio in a tracked VMA whose index no
 * entry of that offset covers (mremap grow in place, exec's stack) gets one
 * (the adjust operation the PoC defines but never calls).
 */
static void adjust_for(struct model *m, struct cc_ctx *c, const struct mm_vma *v)
{
	struct cc_tree *t;
	uint64_t last;
	int64_t off;
	size_t i;
	bool covered;

	if (pol(m, COWCTX_P_REMAP_ADJUST) != 1 || !vma_tracked(m, v))
		return;
	off = vma_offset(m, v);
	last = v->pgoff + vma_pages(m, v) - 1;
	t = ent_has_any(&c->real, v->pgoff, last, off) ? &c->real : tree_for(m, c, v, false);
	i = ent_first(t, v->pgoff);
	covered = i < t->nent && t->ent[i].lo <= v->pgoff && ent_has(&t->ent[i], off);
	for (; covered && t->ent[i].hi < last; i++)
		covered = i + 1 < t->nent && t->ent[i + 1].lo == t->ent[i].hi + 1 &&
			  ent_has(&t->ent[i + 1], off);
	if (!covered && remap_add(m, c, t, v->pgoff, last, off, MODEL_WHY_MREMAP) &&
	    !m->broken[0])
		snprintf(m->broken, sizeof(m->broken), "out of memory (remap tree adjust)");
}

/* A folio of VMA v now names context c: its remap entry, its count, its reference. */
static void folio_take(struct model *m, struct cc_ctx *c, const struct mm_vma *v)
{
	adjust_for(m, c, v);
	c->nfolios++;
	if (folio_refs_held(m))
		c->refcnt++;
	if (pol(m, COWCTX_P_FOLIO_REFS) == 0)
		ref_atomic(m, 1);
}

/* A new folio (first fault, CoW copy): the faulting mm's context, +1 reference. */
static uint64_t cc_folio_owner(struct model *m, const struct mm_vma *v)
{
	struct cc_ctx *c = ctx_of_mm(m, v->mm);

	if (!c)
		return 0;
	folio_take(m, c, v);
	return ctx_token(c);
}

static void cc_folio_gone(struct model *m, uint64_t owner)
{
	struct cc_ctx *c = token_ctx(owner);

	if (!c)
		return;
	c->nfolios--;
	if (pol(m, COWCTX_P_FOLIO_REFS) == 0)
		ref_atomic(m, 1);
	if (folio_refs_held(m)) {
		ctx_put(m, c, MODEL_WHY_UNMAP);
		return;
	}
	if (c->freed && c->nfolios == 0)
		ctx_release_struct(m, c);
}

/*
 * Exclusive reuse (folio_move_anon_rmap, cowctx.md §2; policy reuse_move):
 * move: a folio naming another mm's context moves to the faulting mm's
 * (+1 new, -1 old); never: it keeps its name.
 */
static uint64_t cc_folio_reuse(struct model *m, const struct mm_vma *v, uint64_t owner)
{
	struct cc_ctx *c = ctx_of_mm(m, v->mm), *old = token_ctx(owner);

	if (!c || c == old || pol(m, COWCTX_P_REUSE_MOVE) == 1)
		return owner;
	m->env.stats->ctx_moves++;
	folio_take(m, c, v);
	if (old)
		cc_folio_gone(m, owner);
	return ctx_token(c);
}

/*
 * Merge compatibility (cowctx.md §2 "merge"; policy merge).  poc: every
 * faulted VMA carries the same dummy anon_vma and looks like a fork child,
 * so faulted+faulted always merge and a faulted VMA never merges with an
 * unfaulted one or a new range; mainline: mainline's rules with the dummy
 * (faulted+faulted equal; faulted with unfaulted only when the faulted one
 * is not inherited at fork); pure: attributes and pgoff only.
 */
static bool cc_merge_ok(struct model *m, const struct mm_vma *tgt, const struct mm_vma *anon_src,
			const struct mm_vma *middle, const struct mm_vma *copied_from)
{
	const void *t = tgt ? tgt->anon : NULL, *s = anon_src ? anon_src->anon : NULL;

	(void)middle;
	(void)copied_from;
	switch (pol(m, COWCTX_P_MERGE)) {
	case 2:
		return true;
	case 1:
		if (t && s)
			return true;
		if (t)
			return t != CC_INHERITED;
		if (s)
			return s != CC_INHERITED;
		return true;
	default:
		return (t != NULL) == (s != NULL);
	}
}

static bool cc_merge_pair_ok(struct model *m, const struct mm_vma *prev, const struct mm_vma *next)
{
	if (pol(m, COWCTX_P_MERGE) == 2)
		return true;
	return (prev->anon != NULL) == (next->anon != NULL) || pol(m, COWCTX_P_MERGE) == 1;
}

/*
 * dst takes src's state.  Split and merge dup copy the dummy (the offset
 * does not change).  mremap's copy_vma (cowctx.md §2 "mremap move"): old
 * offset = the source's, new = the destination's; new 0 removes the moved
 * range's entries of the old offset, existing old-offset entries are
 * rewritten in place, otherwise new entries are added.
 */
static int cc_clone(struct model *m, struct mm_vma *dst, const struct mm_vma *src,
		    enum model_why why, struct avm_err *err)
{
	struct cc_ctx *c;
	int64_t old, new;
	uint64_t lo, hi;
	bool found = false;

	if (!src->anon || dst->anon)
		return 0;
	dst->anon = src->anon;
	if (why != MODEL_WHY_MREMAP)
		return 0;
	c = ctx_of_mm(m, dst->mm ? dst->mm : src->mm);
	if (!c)
		return 0;
	old = vma_offset(m, src);
	new = vma_offset(m, dst);
	lo = dst->pgoff;
	hi = dst->pgoff + vma_pages(m, dst) - 1;
	if (pol(m, COWCTX_P_EXCLUSION) == 1) /* P15: the PTE move's exclusion */
		ctx_lock(m, LOCKS_PTL, LOCKS_WHY_MIGRATE,
			 av_ptl_instance(c->mm_id, dst->start, mm_sim_params(m->env.sim)->pmd_size),
			 LOCKS_OP_LAZY_MIGRATE, 1);
	if (old == new)
		return 0;
	if (new == 0) {
		if (remap_del(m, c, &c->real, lo, hi, old, MODEL_WHY_MREMAP) ||
		    remap_del(m, c, &c->virt, lo, hi, old, MODEL_WHY_MREMAP))
			return avm_errf(err, "out of memory (remap tree)");
		return 0;
	}
	if (remap_replace(m, c, &c->real, lo, hi, old, new, &found, MODEL_WHY_MREMAP))
		return avm_errf(err, "out of memory (remap tree)");
	if (!found && ent_has_any(&c->virt, lo, hi, old) &&
	    remap_del(m, c, &c->virt, lo, hi, old, MODEL_WHY_MREMAP))
		return avm_errf(err, "out of memory (remap tree)");
	if (!found && remap_add(m, c, tree_for(m, c, dst, true), lo, hi, new, MODEL_WHY_MREMAP))
		return avm_errf(err, "out of memory (remap tree)");
	return 0;
}

/* dup_mmap: the child's context was made in mm_init (mm_new); its VMAs' entries go there. */
static int cc_fork_begin(struct model *m, struct mm_space *parent, struct mm_space *child,
			 struct avm_err *err)
{
	struct cc_ctx *c = ctx_of_mm(m, child);

	(void)parent;
	if (!c)
		return avm_errf(err, "fork: the child mm has no COW context");
	m->forking = c;
	return 0;
}

/*
 * Per copied VMA (cowctx.md §2 "fork"): (a) a tracked child VMA's entries
 * go into the child's tree; (b) policy fork_remap=poc also re-adds a tracked
 * MAP_PRIVATE file parent VMA's entries to the parent's tree; (c) the dummy
 * is copied; (d) folios keep their context: no per-folio work.
 */
static int cc_fork_vma(struct model *m, struct mm_vma *child, struct mm_vma *parent,
		       struct avm_err *err)
{
	struct cc_ctx *pc = ctx_of_mm(m, parent->mm);

	if (!parent->anon)
		return 0;
	child->anon = CC_INHERITED;
	if (track_add(m, m->forking, child, MODEL_WHY_FORK))
		return avm_errf(err, "out of memory (remap tree)");
	if (pol(m, COWCTX_P_FORK_REMAP) == 0 && parent->file && vma_tracked(m, parent) &&
	    track_add(m, pc, parent, MODEL_WHY_FORK))
		return avm_errf(err, "out of memory (remap tree)");
	return 0;
}

/* End of dup_mmap: the child joins the parent's children (head) under its list_write_lock. */
static int cc_fork_end(struct model *m, struct mm_space *parent, struct mm_space *child,
		       struct avm_err *err)
{
	struct cc_ctx *pc = ctx_of_mm(m, parent), *cc = ctx_of_mm(m, child);

	(void)err;
	m->forking = NULL;
	if (!pc || !cc || cc->parent)
		return 0;
	child_add(pc, cc);
	ref_atomic(m, 1);
	ctx_lock(m, LOCKS_CTX_LIST, LOCKS_WHY_FORK, pc->id, LOCKS_OP_CTX_REF, 1);
	return 0;
}

/* VMA teardown (cowctx.md §2 "munmap", "exit"): a tracked VMA's offset leaves the tree. */
static void cc_unlink(struct model *m, struct mm_vma *v, enum model_why why)
{
	struct cc_ctx *c;

	if (!v->anon)
		return;
	c = ctx_of_mm(m, v->mm);
	if (c && vma_tracked(m, v)) {
		uint64_t lo = v->pgoff, hi = lo + vma_pages(m, v) - 1;
		int64_t off = vma_offset(m, v);

		/* the PoC calls the unmap for every tracked VMA: its locks even when nothing is there */
		if (tree_for(m, c, v, ent_has_any(&c->real, lo, hi, off)) == &c->real)
			(void)(remap_del(m, c, &c->real, lo, hi, off, why) ||
			       remap_del(m, c, &c->virt, lo, hi, off, why));
		else
			(void)remap_del(m, c, &c->virt, lo, hi, off, why);
	}
	v->anon = NULL;
}

/* ------------------------------------------------------------------------- */
/* snapshots */

static int pending_add(struct model *m, struct cc_ctx *c, uint64_t av_parent)
{
	if (array_grow((void **)&m->pending, &m->cappending, m->npending + 1,
		       sizeof(*m->pending), 16) ||
	    array_grow((void **)&m->pending_av, &m->cappending_av, m->npending + 1,
		       sizeof(*m->pending_av), 16))
		return -1;
	m->pending[m->npending] = c;
	m->pending_av[m->npending++] = av_parent;
	return 0;
}

/*
 * A snapshot VMA with an anon_vma is faulted.  Exec's rows: the stack and
 * the ELF segments execve faulted; the stack moved (relocate_vma_down)
 * after its pages were set up, so its offset is not the identity and,
 * under remap_adjust=none (the PoC as read), it has no remap entry.  Start
 * snapshot: the context is adopted (it existed before the trace), tracked
 * VMAs have their entries, except a stack (VM_GROWSDOWN) under
 * remap_adjust=none; the parent link comes from the anon_vma parent the
 * snapshot shows (policy adopt, resolved in adopt_done).
 */
static int cc_adopt(struct model *m, struct mm_vma *v, const struct avm_snap_vma *sv,
		    bool preexisting, struct avm_err *err)
{
	struct cc_ctx *c = ctx_of_mm(m, v->mm);
	bool stack = (v->flags & VM_GROWSDOWN) && !v->file;

	if (!sv->anon_vma || !c)
		return 0;
	v->anon = CC_FAULTED;
	if (!(stack && pol(m, COWCTX_P_REMAP_ADJUST) == 0) &&
	    track_add(m, c, v, preexisting ? MODEL_WHY_EXEC : MODEL_WHY_FAULT))
		return avm_errf(err, "out of memory (remap tree)");
	if (!preexisting || pol(m, COWCTX_P_ADOPT) != 0)
		return 0;
	if (!u64map_get(&m->adopt_owner, sv->anon_vma) &&
	    u64map_put(&m->adopt_owner, sv->anon_vma, c))
		return avm_errf(err, "out of memory (COW context adoption)");
	if (sv->av_parent && sv->av_parent != sv->anon_vma &&
	    (u64map_put(&m->adopt_parent, sv->anon_vma, (void *)(uintptr_t)sv->av_parent) ||
	     pending_add(m, c, sv->av_parent)))
		return avm_errf(err, "out of memory (COW context adoption)");
	return 0;
}

static int cc_adopt_av(struct model *m, const struct avm_snap_av *sa, struct avm_err *err)
{
	if (pol(m, COWCTX_P_ADOPT) != 0 || !sa->parent || sa->parent == sa->id ||
	    u64map_get(&m->adopt_parent, sa->id))
		return 0;
	if (u64map_put(&m->adopt_parent, sa->id, (void *)(uintptr_t)sa->parent))
		return avm_errf(err, "out of memory (COW context adoption)");
	return 0;
}

static bool is_ancestor(const struct cc_ctx *a, const struct cc_ctx *c)
{
	for (; c; c = c->parent)
		if (c == a)
			return true;
	return false;
}

/*
 * Parent links of pre-existing contexts: the mm owning the parent anon_vma
 * of one of its VMAs' anon_vmas (anon_vma_fork makes the child's anon_vma a
 * child of the parent VMA's); when that anon_vma's mm is not in the
 * snapshot (a middle process that exited), the nearest ancestor anon_vma
 * whose mm is.  The middle process's zombie context is unknown and not made.
 */
static int cc_adopt_done(struct model *m, struct avm_err *err)
{
	(void)err;
	for (size_t i = 0; i < m->npending; i++) {
		struct cc_ctx *c = m->pending[i], *p = NULL;
		uint64_t av = m->pending_av[i];

		for (int hops = 0; av && hops < 64 && !p; hops++) {
			p = u64map_get(&m->adopt_owner, av);
			if (p == c)
				p = NULL;
			if (!p)
				av = (uint64_t)(uintptr_t)u64map_get(&m->adopt_parent, av);
		}
		if (!p || c->parent || is_ancestor(c, p) || !c->mm)
			continue;
		child_add(p, c);
	}
	m->npending = 0;
	u64map_free(&m->adopt_parent);
	u64map_free(&m->adopt_owner);
	return 0;
}

/* ------------------------------------------------------------------------- */
/* the walk (cowctx.md §3) */

struct walk_ctx {
	struct model *m;
	const struct mm_folio_ref *f;
	struct model_walk *w;
	struct locks_work work;
	uint64_t pt_walks, contexts, dead;
	bool found_given, stop;
};

/* A VMA of X's mm at folio page + off whose offset is off: visited, hit or stale. */
static void walk_lookup(struct walk_ctx *wc, struct cc_ctx *x, int64_t off)
{
	struct model *m = wc->m;
	uint64_t vpn = (uint64_t)((int64_t)wc->f->index + off);
	struct mm_vma *v = mm_find_vma(x->mm, vpn * m->page_size);

	wc->work.n[LOCKS_OP_VMA_LOOKUP]++;
	if (!v || vma_offset(m, v) != off)
		return;
	wc->w->visited++;
	model_walk_visit(wc->w, v);
	wc->pt_walks++;
	if (!av_vma_maps_folio(v, wc->f, m->page_size)) {
		wc->w->stale++;
		return;
	}
	if (x->mm == wc->f->mm && v->start <= wc->f->addr && wc->f->addr < v->end)
		wc->found_given = true;
}

/*
 * Unique offsets of X's remap tree over [index, index + nr - 1] (and of the
 * uncounted stand-in of policy track=rfc, which the RFC's identity pass
 * would find).  The PoC gathers 16 on its stack, then a GFP_ATOMIC array.
 */
static void walk_remap(struct walk_ctx *wc, struct cc_ctx *x)
{
	uint64_t lo = wc->f->index, hi = lo + (wc->f->nr ? wc->f->nr : 1) - 1;
	int64_t seen[64];
	size_t nseen = 0;

	wc->m->env.stats->walk_remap_lookups++;
	for (int pass = 0; pass < 2; pass++) {
		const struct cc_tree *t = pass ? &x->virt : &x->real;

		for (size_t i = ent_first(t, lo); i < t->nent && t->ent[i].lo <= hi; i++) {
			for (uint32_t k = 0; k < t->ent[i].n; k++) {
				int64_t o = t->ent[i].off[k];
			size_t j;

				for (j = 0; j < nseen && seen[j] != o; j++)
					;
				if (j < nseen)
					continue;
				if (nseen < sizeof(seen) / sizeof(seen[0]))
					seen[nseen++] = o;
				walk_lookup(wc, x, o);
			}
		}
	}
}

static void walk_one(struct walk_ctx *wc, struct cc_ctx *x, bool c0)
{
	struct model *m = wc->m;
	int shortcut = pol(m, COWCTX_P_SHORTCUT);

	if (wc->stop)
		return;
	wc->contexts++;
	wc->work.n[LOCKS_OP_CTX_WALK]++;
	if (!x->mm || x->freed) {
		wc->dead++;
		return;
	}
	if (pol(m, COWCTX_P_MM_PIN) == 0)
		m->env.stats->mm_pin_atomics += 2; /* mmget_not_zero + mmput_async */
	if (pol(m, COWCTX_P_WALK_PROTECT) == 1)
		wc->work.n[LOCKS_OP_CTX_REF] += 2; /* a per-context reference, sleepable walk */
	walk_lookup(wc, x, 0);
	if (c0 && shortcut == 0 && !wc->f->shared) {
		wc->stop = true;
		return;
	}
	walk_remap(wc, x);
	if (c0 && shortcut == 1 && !wc->f->shared)
		wc->stop = true;
}

/* Descendants of c in the order of policy order (post-order: children before parent). */
static void walk_tree(struct walk_ctx *wc, struct cc_ctx *c, int order)
{
	struct cc_ctx *k, *last = NULL;

	if (order == 2)
		for (last = c->children; last && last->sib_next; last = last->sib_next)
			;
	for (k = order == 2 ? last : c->children; k && !wc->stop;
	     k = order == 2 ? k->sib_prev : k->sib_next) {
		if (order == 1)
			walk_one(wc, k, false);
		walk_tree(wc, k, order);
		if (order != 1)
			walk_one(wc, k, false);
	}
}

/*
 * The walk of folio f (cowctx.md §3.1): C0, then its subtree (policy order),
 * each live context's identity pass, the short-cut, the remap pass.  Lock
 * (policy walk_protect): rcu - one RCU read section over the whole walk (its
 * length in contexts is the "RCU section" figure); context_ref - the same
 * section shape plus a reference pair per context (sleepable); mm_lock - the
 * mmap_lock read of each visited mm, one section over the walk's work
 * (instance: the folio's mm).  A walk that never met the mapping it was
 * started from counts as a miss (walk_misses).
 */
static void cc_rmap_walk(struct model *m, const struct mm_folio_ref *f, struct model_walk *w)
{
	struct cc_ctx *c0 = token_ctx(f->owner);
	struct walk_ctx wc = { m, f, w, { { 0 } }, 0, 0, 0, false, false };
	struct model_stats *s = m->env.stats;
	enum locks_class cls = LOCKS_RCU;
	uint64_t inst = 0;

	w->failed = w->lazy = false;
	w->visited = w->stale = w->hold_ns = 0;
	if (!c0)
		return;
	if (w->migrate && pol(m, COWCTX_P_FOLIO_REFS) == 0)
		ref_atomic(m, 2); /* the destination takes a reference, the source drops its own */
	walk_one(&wc, c0, true);
	if (!c0->freed)
		walk_tree(&wc, c0, pol(m, COWCTX_P_ORDER));
	s->walk_contexts += wc.contexts;
	s->walk_dead_contexts += wc.dead;
	if (wc.stop && pol(m, COWCTX_P_SHORTCUT) != 2 && !f->shared)
		s->walk_shortcuts++;
	if (!wc.found_given)
		s->walk_misses++;
	if (wc.contexts > s->walk_rcu_max && pol(m, COWCTX_P_WALK_PROTECT) == 0)
		s->walk_rcu_max = wc.contexts;
	if (pol(m, COWCTX_P_WALK_PROTECT) == 2) {
		cls = LOCKS_MMAP;
		inst = mm_space_id(f->mm);
	}
	wc.work.n[LOCKS_OP_LOCK] = 1;
	wc.work.n[LOCKS_OP_RMAP_VMA] = w->visited;
	if (av_walk_lock(&m->sp, cls, LOCKS_READ, inst, w->trylock && cls == LOCKS_MMAP, &wc.work,
			 wc.pt_walks, &w->hold_ns)) {
		w->failed = true;
		w->visited = w->stale = 0;
	}
	if (w->migrate && pol(m, COWCTX_P_EXCLUSION) == 1)
		ctx_lock(m, LOCKS_PTL, LOCKS_WHY_MIGRATE,
			 av_ptl_instance(mm_space_id(f->mm), f->addr,
					 mm_sim_params(m->env.sim)->pmd_size),
			 LOCKS_OP_LAZY_MIGRATE, 1);
}

/* THP split: each new folio takes a reference (counted); exclusion per policy exclusion. */
static void cc_thp_split(struct model *m, const struct mm_folio_ref *f)
{
	if (pol(m, COWCTX_P_FOLIO_REFS) == 0 && f->nr > 1)
		ref_atomic(m, f->nr - 1);
	if (pol(m, COWCTX_P_EXCLUSION) == 1)
		ctx_lock(m, LOCKS_PTL, LOCKS_WHY_THP_SPLIT,
			 av_ptl_instance(mm_space_id(f->mm), f->addr,
					 mm_sim_params(m->env.sim)->pmd_size),
			 LOCKS_OP_THP_SPLIT, f->nr);
}

static void cc_thp_collapse(struct model *m, uint64_t mm_id)
{
	if (pol(m, COWCTX_P_FOLIO_REFS) == 0)
		ref_atomic(m, 1); /* the new folio's reference (the old ones go as they are freed) */
	if (pol(m, COWCTX_P_EXCLUSION) == 1)
		ctx_lock(m, LOCKS_PTL, LOCKS_WHY_COLLAPSE, AV_INSTANCE_MM(mm_id),
			 LOCKS_OP_THP_COLLAPSE, 1);
}

/* ------------------------------------------------------------------------- */
/* the invariant checker */

struct check_ctx {
	struct model *m;
	struct u64map *live, *seen, *counts;
	struct avm_err *err;
	int rc;
	uint64_t pages;
};

static int check_page(void *ctx, uint64_t addr, uint64_t *owner, uint64_t folio)
{
	struct check_ctx *c = ctx;

	c->pages++;
	if (!u64map_get(c->live, *owner)) {
		c->rc = avm_errf(c->err, "folio at %#llx names no live COW context",
				 (unsigned long long)addr);
		return 1;
	}
	if (u64map_get(c->seen, folio + 1))
		return 0;
	if (u64map_put(c->seen, folio + 1, (void *)1) ||
	    u64map_put(c->counts, *owner,
		       (void *)((uintptr_t)u64map_get(c->counts, *owner) + 1))) {
		c->rc = avm_errf(c->err, "out of memory (cowctx check)");
		return 1;
	}
	return 0;
}

static int check_vma(void *ctx, struct mm_vma *v)
{
	struct check_ctx *c = ctx;

	if (v->anon && v->anon != CC_FAULTED && v->anon != CC_INHERITED) {
		c->rc = avm_errf(c->err, "VMA %llu: vma->anon is not a COW-context marker",
				 (unsigned long long)v->id);
		return 1;
	}
	if (v->anon && mm_vma_for_each_page(v, check_page, c))
		return 1;
	return c->rc;
}

static int check_ctx_struct(struct model *m, const struct cc_ctx *c, struct avm_err *err)
{
	uint64_t kids = 0, want;
	const struct cc_ctx *k;

	for (k = c->children; k; k = k->sib_next) {
		if (k->parent != c)
			return avm_errf(err, "COW context %llu: child %llu names another parent",
					(unsigned long long)c->id, (unsigned long long)k->id);
		kids++;
	}
	want = c->mm_ref + kids + (folio_refs_held(m) ? c->nfolios : 0);
	if (kids != c->nchildren || c->refcnt != want)
		return avm_errf(err, "COW context %llu: refcnt %llu, children %llu (counted %llu); "
				"mm %d + children + folios %llu = %llu",
				(unsigned long long)c->id, (unsigned long long)c->refcnt,
				(unsigned long long)kids, (unsigned long long)c->nchildren,
				(int)c->mm_ref, (unsigned long long)c->nfolios,
				(unsigned long long)want);
	if ((c->mm != NULL) != c->mm_ref)
		return avm_errf(err, "COW context %llu: mm and its reference disagree",
				(unsigned long long)c->id);
	for (int pass = 0; pass < 2; pass++) {
		const struct cc_tree *t = pass ? &c->virt : &c->real;

		for (size_t i = 0; i < t->nent; i++)
			if (t->ent[i].lo > t->ent[i].hi || t->ent[i].n == 0 ||
			    (i && t->ent[i - 1].hi >= t->ent[i].lo))
				return avm_errf(err, "COW context %llu: remap entry %zu malformed",
						(unsigned long long)c->id, i);
	}
	if (c->nodes != nodes_for(c->real.nent))
		return avm_errf(err, "COW context %llu: %llu maple nodes counted for %zu entries",
				(unsigned long long)c->id, (unsigned long long)c->nodes,
				c->real.nent);
	return 0;
}

/*
 * Every folio names a live context (or, under lifetime mm_children, one
 * kept for its folios); refcnt = mm + children + folios (policy lifetime);
 * children lists and parent links agree; every mm has its context; live,
 * zombie and remap counts equal the stats.  The folio walk is O(pages) and
 * is thinned on big traces as the lazy checker's is.
 */
static int cc_check(struct model *m, struct avm_err *err)
{
	struct u64map live = { 0 }, seen = { 0 }, counts = { 0 };
	struct check_ctx cc = { m, &live, &seen, &counts, err, 0, 0 };
	bool walk = m->checks++ % (m->walk_every ? m->walk_every : 1) == 0;
	const struct model_stats *s = m->env.stats;
	uint64_t nlive = 0, zombies = 0, nodes = 0, arrays = 0;
	const struct cc_ctx *c;
	int rc = -1;

	if (m->broken[0]) {
		avm_errf(err, "%s", m->broken);
		goto out;
	}
	for (c = m->live; c; c = c->live_next) {
		if (u64map_put(&live, ctx_token(c), (void *)c)) {
			avm_errf(err, "out of memory (cowctx check)");
			goto out;
		}
		if (c->freed) {
			if (!c->nfolios) {
				avm_errf(err, "COW context %llu: kept without folios",
					 (unsigned long long)c->id);
				goto out;
			}
			continue;
		}
		nlive++;
		zombies += c->zombie;
		if (c->zombie != (c->mm == NULL)) {
			avm_errf(err, "COW context %llu: zombie flag and mm disagree",
				 (unsigned long long)c->id);
			goto out;
		}
		nodes += c->nodes;
		arrays += c->arrays;
		if (check_ctx_struct(m, c, err))
			goto out;
		if (c->mm && ctx_of_mm(m, c->mm) != c) {
			avm_errf(err, "COW context %llu: its mm does not name it",
				 (unsigned long long)c->id);
			goto out;
		}
	}
	if (nlive != s->obj[MODEL_OBJ_COW_CONTEXT].live || zombies != s->ctx_zombies ||
	    nodes != s->obj[MODEL_OBJ_REMAP].live || arrays != s->obj[MODEL_OBJ_REMAP_ARRAY].live) {
		avm_errf(err, "COW contexts: %llu live, %llu zombies, %llu nodes, %llu arrays; "
			 "stats say %llu, %llu, %llu, %llu", (unsigned long long)nlive,
			 (unsigned long long)zombies, (unsigned long long)nodes,
			 (unsigned long long)arrays,
			 (unsigned long long)s->obj[MODEL_OBJ_COW_CONTEXT].live,
			 (unsigned long long)s->ctx_zombies,
			 (unsigned long long)s->obj[MODEL_OBJ_REMAP].live,
			 (unsigned long long)s->obj[MODEL_OBJ_REMAP_ARRAY].live);
		goto out;
	}
	if (nlive + 0 < mm_sim_mm_count(m->env.sim)) {
		avm_errf(err, "%zu mms but %llu live COW contexts", mm_sim_mm_count(m->env.sim),
			 (unsigned long long)nlive);
		goto out;
	}
	if (walk) {
		uint64_t it = 0, key;
		void *val;

		while (u64map_next(&m->by_mm, &it, &key, &val)) {
			struct cc_ctx *x = val;

			if (x->mm && mm_for_each_vma(x->mm, check_vma, &cc))
				goto out;
		}
		if (cc.rc)
			goto out;
		m->walk_every = 1 + cc.pages / 4096;
		for (c = m->live; c; c = c->live_next) {
			uint64_t n = (uint64_t)(uintptr_t)u64map_get(&counts, ctx_token(c));

			if (n != c->nfolios) {
				avm_errf(err, "COW context %llu: %llu folios name it, it counts %llu",
					 (unsigned long long)c->id, (unsigned long long)n,
					 (unsigned long long)c->nfolios);
				goto out;
			}
		}
	}
	rc = 0;
out:
	u64map_free(&live);
	u64map_free(&seen);
	u64map_free(&counts);
	return rc;
}

const struct model_ops model_cowctx_ops = {
	.name = "cowctx",
	.create = cc_create,
	.destroy = cc_destroy,
	.has_anon = cc_has_anon,
	.prepare = cc_prepare,
	.folio_owner = cc_folio_owner,
	.merge_ok = cc_merge_ok,
	.merge_pair_ok = cc_merge_pair_ok,
	.clone = cc_clone,
	.fork_begin = cc_fork_begin,
	.fork_vma = cc_fork_vma,
	.fork_end = cc_fork_end,
	.unlink = cc_unlink,
	.folio_gone = cc_folio_gone,
	.adopt = cc_adopt,
	.adopt_av = cc_adopt_av,
	.adopt_done = cc_adopt_done,
	.rmap_walk = cc_rmap_walk,
	.thp_split = cc_thp_split,
	.thp_collapse = cc_thp_collapse,
	.mm_new = cc_mm_new,
	.mm_gone = cc_mm_gone,
	.folio_reuse = cc_folio_reuse,
	.check = cc_check,
};
