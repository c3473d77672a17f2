/*
 * model_lazy.c - ANON_VMA_LAZY (deferred anon_vma creation) as posted in May
 * 2026, behind model_ops (model.h).  The specification is
 * docs/kernel/lazy.md (§3 states, §4 life cycle, §9 the replay rules);
 * every question the series left open (§10) is a named policy in
 * config.h (lazy_*), documented with its default in docs/lazy-model.md.
 *
 * VMA states (lazy.md §3.3), behind vma->anon as a struct lazy_vma:
 *   NULL         never faulted (as mainline);
 *   LAZY         faulted, no anon_vma: new folios name the family's root
 *                VMA (the VMA that took the first fault, or a VMA split or
 *                merged from it);
 *   TREE_PARENT  a fork child's VMA inherited from an upgraded parent: a
 *                cloned chain into the parent's anon_vmas, no anon_vma of
 *                its own (Barry's TREE_VMA is simply LAZY in the child);
 *   REGULAR      a real anon_vma: mainline from then on.
 * Mainline objects (anon_vma, AVC, chains) are anon_vma.c's, shared with
 * the eager model; this file only decides when they come into being.
 *
 * A lazy root (struct lazy_root) is the identity lazy folios name: the
 * root VMA object, its vma_mapping_base (vm_start - vm_pgoff * PAGE_SIZE,
 * invariant under split and merge, lazy.md §4.2), the folios naming it
 * (nr_folios), the VMAs of its family (LAZY or TREE_PARENT VMAs carrying
 * it, nr_vmas, a list) and, once one member was upgraded, the family's
 * anon_vma (av, held by a pin) so later members join it the way mainline
 * split halves share one anon_vma.  A root lives while folios or family
 * VMAs name it.  When the mm frees the root VMA object while folios still
 * name it, the object stays allocated (pinned: vma_pin, counted in
 * pinned_vmas and as a live vm_area_struct) until the last such folio goes
 * (policy lazy_pin); the family's remaining VMAs then name a sibling.
 *
 * Folio owner tokens mirror folio->mapping (lazy.md §3.1): an anon_vma
 * folio carries the anon_vma id (as eager), a lazy folio the root pointer
 * with LAZY_TOKEN set (ids never reach bit 63).  The simulator keeps one
 * owner per folio; folio_owner counts a new name, folio_gone drops it, and
 * an upgrade rewrites the owners of the folios mapped in the upgraded VMA
 * (mm_vma_for_each_page), one folio_rewrites per folio.
 *
 * Rmap walks (lazy_rmap_walk, lazy.md §5): a lazy folio's walk looks up
 * the one VMA at root base + folio->index under the lazy_walk_lock policy's
 * lock; a folio naming an anon_vma walks like mainline (av_rmap_walk).
 *
 * Data layout: every live lazy_vma and lazy_root is on a list for the
 * checker; unlinked root VMAs waiting for the simulator's vma_pin call are
 * found by VMA id (u64map, a short chain of roots per id).
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anon_vma.h"
#include "config.h"
#include "list.h"
#include "locks.h"
#include "mm.h"
#include "model.h"
#include "u64map.h"

#define LAZY_TOKEN (1ULL << 63)

enum lazy_state { LAZY_STATE_LAZY = 1, LAZY_STATE_TREE_PARENT, LAZY_STATE_REGULAR };

struct lazy_root;

struct lazy_vma {
	enum lazy_state state;
	struct mm_vma *vma;
	struct lazy_root *root;  /* LAZY, TREE_PARENT: the family root; REGULAR: NULL */
	struct av_vma *avv;      /* TREE_PARENT, REGULAR: the mainline chain; LAZY: NULL */
	struct lazy_vma *fam_prev, *fam_next;
	struct lazy_vma *prev_live, *next_live;
};

struct lazy_root {
	struct mm_vma *vma;      /* the root VMA object folio->mapping names */
	uint64_t base;           /* vma_mapping_base */
	uint64_t nr_folios;      /* folios whose owner token is this root */
	uint64_t nr_ksm;         /* KSM rmap_items referencing it (policy lazy.ksm root) */
	uint64_t nr_vmas;        /* family members (on the family list) */
	struct lazy_vma *family;
	struct anon_vma *av;     /* the family's anon_vma once a member was upgraded (pinned) */
	bool pinned;             /* the mm freed vma; we keep the object alive */
	bool unlinked;           /* vma was unlinked; waiting in m->unlinked for vma_pin */
	struct lazy_root *unl_next;
	struct lazy_root *prev_live, *next_live;
};

struct model {
	struct model_env env;
	const struct config *cfg;
	struct av_space sp;
	uint64_t page_size;
	struct lazy_vma *lvs;      /* live VMA states */
	struct lazy_root *roots;   /* live roots */
	struct u64map unlinked;    /* VMA id -> roots whose root VMA was unlinked */
	struct u64map adopt_roots; /* snapshot anon_vma id -> root, until adopt_done */
	char broken[200];          /* an invariant found broken outside check (fork_end) */
	uint64_t checks, walk_every; /* check calls; walk every folio every walk_every-th */
};

static struct av_vma *lazy_avv_of(const struct mm_vma *v)
{
	const struct lazy_vma *lv = v->anon;

	return lv ? lv->avv : NULL;
}

static struct lazy_vma *lv_of(const struct mm_vma *v)
{
	return v ? v->anon : NULL;
}

static uint64_t mapping_base(const struct model *m, const struct mm_vma *v)
{
	return v->start - v->pgoff * m->page_size;
}

static uint64_t root_token(const struct lazy_root *r)
{
	return LAZY_TOKEN | (uint64_t)(uintptr_t)r;
}

static struct lazy_root *token_root(uint64_t token)
{
	return token & LAZY_TOKEN ? (struct lazy_root *)(uintptr_t)(token & ~LAZY_TOKEN) : NULL;
}

/* The runtime switch (lazy.md §6): on from the start, or from a trace time on. */
static bool lazy_on(const struct model *m)
{
	if (m->cfg->lazy_switch_on_ns < 0)
		return true;
	return mm_sim_now(m->env.sim) >= (uint64_t)m->cfg->lazy_switch_on_ns;
}

/* ------------------------------------------------------------------------- */
/* VMA states and roots */

static struct lazy_vma *lv_new(struct model *m, struct mm_vma *v, enum lazy_state st)
{
	struct lazy_vma *lv = calloc(1, sizeof(*lv));

	if (!lv)
		return NULL;
	lv->state = st;
	lv->vma = v;
	LIST_PUSH_FRONT(&m->lvs, lv, prev_live, next_live);
	v->anon = lv;
	return lv;
}

static void lv_free(struct model *m, struct lazy_vma *lv)
{
	LIST_UNLINK(&m->lvs, lv, prev_live, next_live);
	if (lv->vma->anon == lv)
		lv->vma->anon = NULL;
	free(lv);
}

static void family_add(struct lazy_root *r, struct lazy_vma *lv)
{
	lv->root = r;
	LIST_PUSH_FRONT(&r->family, lv, fam_prev, fam_next);
	r->nr_vmas++;
}

static void family_del(struct lazy_vma *lv)
{
	struct lazy_root *r = lv->root;

	LIST_UNLINK(&r->family, lv, fam_prev, fam_next);
	r->nr_vmas--;
	lv->root = NULL;
}

static struct lazy_root *root_new(struct model *m, struct mm_vma *v)
{
	struct lazy_root *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->vma = v;
	r->base = mapping_base(m, v);
	LIST_PUSH_FRONT(&m->roots, r, prev_live, next_live);
	return r;
}

static void unlinked_del(struct model *m, struct lazy_root *r)
{
	uint64_t key = r->vma->id;
	struct lazy_root *head = u64map_get(&m->unlinked, key), **pp;

	for (pp = &head; *pp; pp = &(*pp)->unl_next) {
		if (*pp == r) {
			*pp = r->unl_next;
			break;
		}
	}
	if (head)
		u64map_put(&m->unlinked, key, head); /* replacing an existing key never allocates */
	else
		u64map_del(&m->unlinked, key);
	r->unlinked = false;
	r->unl_next = NULL;
}

static void unpin(struct model *m, struct lazy_root *r, enum model_why why)
{
	assert(r->pinned && r->vma); /* vma_pin kept this root's object */
	mm_vma_free_pinned(m->env.sim, r->vma, why);
	r->pinned = false;
	r->vma = NULL;
	m->env.stats->pinned_vmas--;
}

/*
 * A root lives while folios or family VMAs name it (lazy.md §3.4 inference).
 * A pinned root VMA object is released when the last folio naming it goes;
 * remaining family VMAs then name one of them (a tree-value write, no folio
 * names the old object any more).  A dead root drops its anon_vma pin.
 */
static void root_settle(struct model *m, struct lazy_root *r, enum model_why why)
{
	if (r->nr_folios + r->nr_ksm == 0 && r->pinned) {
		unpin(m, r, why);
		if (r->family)
			r->vma = r->family->vma;
	}
	if (r->nr_folios || r->nr_ksm || r->nr_vmas)
		return;
	if (r->unlinked)
		unlinked_del(m, r);
	if (r->av) {
		r->av->pins--;
		av_put(&m->sp, r->av, why);
	}
	LIST_UNLINK(&m->roots, r, prev_live, next_live);
	free(r);
}

/*
 * v takes new anon state: if v was a root VMA that was unlinked but kept
 * (MREMAP_DONTUNMAP leaves the source VMA in place), its old roots move to a
 * family member, so each VMA object is the root of at most one waiting list.
 */
static void claim_vma(struct model *m, struct mm_vma *v)
{
	struct lazy_root *r = u64map_get(&m->unlinked, v->id), *next;

	if (!r)
		return;
	u64map_del(&m->unlinked, v->id);
	for (; r; r = next) {
		next = r->unl_next;
		r->unlinked = false;
		r->unl_next = NULL;
		if (r->family)
			r->vma = r->family->vma;
	}
}

/* ------------------------------------------------------------------------- */
/* upgrade: a LAZY or TREE_PARENT VMA gets a real anon_vma (lazy.md §4.4) */

struct rewrite_ctx {
	struct model *m;
	uint64_t to;             /* new owner token */
	struct lazy_root *to_root; /* when the new owner is a root */
	uint64_t lo, hi;         /* only folios with index in [lo, hi) (page offsets) */
	const struct mm_vma *v;
	enum model_why why;
	enum locks_why lwhy;     /* the reason of the sections that charge the rewrites */
	bool ptl;                /* charge per PTE table (policy ptl) */
	uint64_t n;              /* rewrites done */
	uint64_t table, table_n; /* ptl: the PTE table being rewritten (addr / pmd_size) and its count */
};

/*
 * The cost of n folio->mapping rewrites in one section (lazy.md §10 q8,
 * policy lazy_rewrite_lock): n x folio_rewrite_ns, no lock acquisition of
 * its own - the lock is the one the operation already holds (the PTE table's
 * lock in copy_pte_range or move_ptes, the VMA write lock of dup_mmap or
 * mremap); the anon_vma_write policy folds the rewrites of an upgrade into
 * the upgrade's one section instead (lazy_upgrade).
 */
static void charge_rewrites(struct model *m, enum locks_class cls, uint64_t instance,
			    enum locks_why why, uint64_t n)
{
	struct locks_work w = { { 0 } };

	if (!n)
		return;
	w.n[LOCKS_OP_FOLIO_REWRITE] = n;
	av_lock(&m->sp, cls, LOCKS_WRITE, why, instance, false, &w);
}

static uint64_t pmd_size_of(const struct model *m)
{
	return mm_sim_params(m->env.sim)->pmd_size;
}

/* ptl: the rewrites of one PTE table are one section under its lock. */
static void rewrite_table_done(struct rewrite_ctx *c)
{
	uint64_t mm = c->v->mm ? mm_space_id(c->v->mm) : 0;

	charge_rewrites(c->m, LOCKS_PTL,
			av_ptl_instance(mm, c->table * pmd_size_of(c->m), pmd_size_of(c->m)), c->lwhy,
			c->table_n);
	c->table_n = 0;
}

/*
 * Rewrites that are not part of an upgrade's anon_vma section, or no
 * section at all (NULL v): under ptl one section on the PTE table at addr
 * of v's mm; under vma_write and anon_vma_write (no anon_vma exists to
 * hold: rebase, pin none) one section on v's VMA write lock.
 */
static void charge_bulk(struct model *m, const struct mm_vma *v, uint64_t addr,
			enum locks_why why, uint64_t n)
{
	if (!v)
		return;
	if (m->cfg->lazy_rewrite_lock == LAZY_REWRITE_PTL)
		charge_rewrites(m, LOCKS_PTL,
				av_ptl_instance(v->mm ? mm_space_id(v->mm) : 0, addr, pmd_size_of(m)),
				why, n);
	else
		charge_rewrites(m, LOCKS_VMA, v->id, why, n);
}

static int rewrite_page(void *ctx, uint64_t addr, uint64_t *owner, uint64_t folio)
{
	struct rewrite_ctx *c = ctx;
	struct lazy_root *r = token_root(*owner);
	uint64_t index = c->v->pgoff + (addr - c->v->start) / c->m->page_size;

	(void)folio;
	if (!r || r == c->to_root || index < c->lo || index >= c->hi)
		return 0;
	/* try_dup_anon_rmap: one folio->mapping write per folio still naming a root */
	if (c->ptl) {
		uint64_t table = addr / pmd_size_of(c->m);

		if (c->table_n && table != c->table)
			rewrite_table_done(c);
		c->table = table;
		c->table_n++;
	}
	c->n++;
	*owner = c->to;
	if (c->to_root)
		c->to_root->nr_folios++;
	c->m->env.stats->folio_rewrites++;
	r->nr_folios--;
	root_settle(c->m, r, c->why);
	return 0;
}

/*
 * Re-point the folios of v (index in [lo, hi)) still naming a root to `to`
 * and charge the rewrites (policy lazy_rewrite_lock): ptl, one section per
 * PTE table (try_dup_anon_rmap runs per PTE batch in copy_present_ptes, and
 * a move under move_ptes' lock); vma_write (and anon_vma_write outside an
 * upgrade), one section on v's write lock.  av_held: the caller's upgrade
 * section holds them (anon_vma_write) and charges them itself.  *n (may be
 * NULL) = rewrites done.
 */
static int rewrite_folios(struct model *m, struct mm_vma *v, uint64_t to, struct lazy_root *to_root,
			  uint64_t lo, uint64_t hi, enum model_why why, enum locks_why lwhy,
			  bool av_held, uint64_t *n, struct avm_err *err)
{
	struct rewrite_ctx c = { m, to, to_root, lo, hi, v, why, lwhy, false, 0, 0, 0 };

	c.ptl = !av_held && m->cfg->lazy_rewrite_lock == LAZY_REWRITE_PTL;
	if (mm_vma_for_each_page(v, rewrite_page, &c))
		return avm_errf(err, "VMA %llu: folio rewrite failed", (unsigned long long)v->id);
	if (c.ptl)
		rewrite_table_done(&c);
	else if (!av_held)
		charge_rewrites(m, LOCKS_VMA, v->id, lwhy, c.n);
	if (n)
		*n = c.n;
	return 0;
}

/*
 * Upgrade (lazy.md §9.2 "fork, parent LAZY_ROOT" and "fork, parent
 * TREE_PARENT"): the mainline cost the first fault deferred.  The first
 * member of a family allocates the anon_vma (a new root for a LAZY family,
 * a child of the parent's anon_vma for a TREE_PARENT one: anon_vma_fork's
 * step 4) and one AVC; later members link into the same anon_vma with one
 * AVC, as mainline split halves share theirs.  A TREE_PARENT first member
 * runs anon_vma_fork's reuse test over its chain first (policy
 * lazy_tree_parent_reuse: mainline) and takes a qualifying anon_vma
 * instead of allocating.  Then every folio mapped in v that still names a
 * root is re-pointed to the anon_vma.
 *
 * Locks: one anon_vma root write section per upgrade (why upgrade): the
 * link (lock + insert; the allocations come before it, unlocked), and
 * under lazy_rewrite_lock anon_vma_write the rewrites too; under ptl and
 * vma_write the rewrites are charged where rewrite_folios says.
 */
static int lazy_upgrade(struct model *m, struct lazy_vma *lv, enum model_why why,
			struct avm_err *err)
{
	struct lazy_root *r = lv->root;
	struct anon_vma *donor = r->av && r->av->tree_n ? r->av : NULL, *reuse = NULL;
	struct mm_vma *v = lv->vma;
	struct locks_work link = { { 0 } };
	bool av_held = m->cfg->lazy_rewrite_lock == LAZY_REWRITE_ANON_VMA_WRITE;
	uint64_t n = 0;
	uint64_t t0 = m->env.locks ? locks_total_ns(m->env.locks) +
				     locks_unlocked_ns(m->env.locks) : 0;
	int rc;

	assert(lv->state != LAZY_STATE_REGULAR && r); /* only a lazy family member upgrades */
	if (lv->state == LAZY_STATE_LAZY) {
		lv->avv = av_vma_new(&m->sp, v);
		if (!lv->avv)
			return avm_errf(err, "out of memory (anon chain)");
	}
	if (!donor && r->av) {
		/* the family's anon_vma emptied meanwhile: drop it, start a new one */
		r->av->pins--;
		av_put(&m->sp, r->av, why);
		r->av = NULL;
	}
	if (!donor && lv->state == LAZY_STATE_TREE_PARENT &&
	    m->cfg->lazy_tree_parent_reuse == LAZY_TP_REUSE_MAINLINE)
		reuse = av_reuse_candidate(&m->sp, lv->avv);
	m->sp.link_out = &link;
	if (reuse) {
		/* anon_vma_fork: the clone found one to reuse; it is on the chain already */
		lv->avv->anon_vma = reuse;
		reuse->num_active_vmas++;
		rc = 0;
	} else if (donor || lv->state == LAZY_STATE_LAZY) {
		rc = av_prepare(&m->sp, lv->avv, donor, why, err);
	} else {
		rc = av_fork_new(&m->sp, lv->avv, lv->avv->tree_parent, why, err);
	}
	m->sp.link_out = NULL;
	if (rc)
		return -1;
	lv->avv->tree_parent = NULL;
	if (!donor) {
		r->av = lv->avv->anon_vma;
		r->av->pins++;
		r->av->refcount++;
	}
	m->env.stats->upgrades++;
	lv->state = LAZY_STATE_REGULAR;
	if (rewrite_folios(m, v, lv->avv->anon_vma->id, NULL, 0, UINT64_MAX, why,
			   LOCKS_WHY_UPGRADE, av_held, &n, err))
		return -1;
	/* the one section of this upgrade (a reuse links nothing: the lock alone) */
	link.n[LOCKS_OP_LOCK] = 1;
	if (av_held)
		link.n[LOCKS_OP_FOLIO_REWRITE] += n;
	av_lock(&m->sp, LOCKS_ANON_VMA, LOCKS_WRITE, LOCKS_WHY_UPGRADE,
		lv->avv->anon_vma->root->id, false, &link);
	if (m->env.locks) /* the upgrade's own figure (fork_cost.upgrade) */
		m->env.stats->upgrade_ns += locks_total_ns(m->env.locks) +
					    locks_unlocked_ns(m->env.locks) - t0;
	family_del(lv);
	root_settle(m, r, why);
	return 0;
}

/* ------------------------------------------------------------------------- */
/* ops */

static int lazy_create(const struct model_env *env, struct model **out, struct avm_err *err)
{
	struct model *m;

	if (!env->cfg || !env->sim)
		return avm_errf(err, "lazy model: needs a config and a simulator");
	m = calloc(1, sizeof(*m));
	if (!m)
		return avm_errf(err, "out of memory (lazy model)");
	m->env = *env;
	m->cfg = env->cfg;
	m->page_size = mm_sim_params(env->sim)->page_size;
	av_space_init(&m->sp, env->stats, m->cfg->profile, lazy_avv_of);
	m->sp.env = &m->env; /* mainline lock sections (locks.h) when the world accounts them */
	/*
	 * lazy.md §2.2: the vm_area_struct slab grew by +0.2...+1.0 %.  Every
	 * object counts the configured growth, rounded to whole bytes (the
	 * stats count integral object sizes); pinned root VMAs add objects.
	 */
	env->stats->obj_size[MODEL_OBJ_VMA] += (uint32_t)lround(m->cfg->lazy_vma_growth_bytes);
	*out = m;
	return 0;
}

static void lazy_destroy(struct model *m)
{
	if (!m)
		return;
	/* the simulator tore every mm down first; free whatever is left */
	while (m->lvs) {
		struct lazy_vma *lv = m->lvs;

		m->lvs = lv->next_live;
		lv->vma->anon = NULL;
		free(lv);
	}
	while (m->roots) {
		struct lazy_root *r = m->roots;

		m->roots = r->next_live;
		if (r->pinned)
			free(r->vma); /* the simulator is gone: no accounting left to do */
		free(r);
	}
	av_space_destroy(&m->sp);
	u64map_free(&m->unlinked);
	u64map_free(&m->adopt_roots);
	free(m);
}

static bool lazy_has_anon(const struct model *m, const struct mm_vma *v)
{
	(void)m;
	return v->anon != NULL;
}

/*
 * First anonymous fault (lazy.md §4.1): with the switch on, mark the VMA
 * lazy and allocate nothing - no anon_vma, no AVC, no mmap_lock, no
 * neighbour reuse; the VMA is the root of a new family.  With the switch off
 * this is mainline's __anon_vma_prepare.
 */
static int lazy_prepare(struct model *m, struct mm_vma *v, struct avm_err *err)
{
	struct lazy_vma *lv;
	struct lazy_root *r;

	assert(!v->anon); /* model.h: prepare only a VMA without anon state */
	claim_vma(m, v);
	if (!lazy_on(m)) {
		lv = lv_new(m, v, LAZY_STATE_REGULAR);
		if (!lv || !(lv->avv = av_vma_new(&m->sp, v)))
			return avm_errf(err, "out of memory (anon chain)");
		return av_prepare(&m->sp, lv->avv, av_find_mergeable(&m->sp, v), MODEL_WHY_FAULT, err);
	}
	lv = lv_new(m, v, LAZY_STATE_LAZY);
	r = lv ? root_new(m, v) : NULL;
	if (!r)
		return avm_errf(err, "out of memory (lazy root)");
	family_add(r, lv);
	return 0;
}

/*
 * folio->mapping of a new folio (lazy.md §3.1, §9.2 "later faults"): the
 * root for a LAZY VMA; for a TREE_PARENT child, policy lazy_cow_owner: the
 * child's own root (child_root) or the parent's anon_vma (parent_av); the
 * anon_vma for a REGULAR one.
 */
static uint64_t lazy_folio_owner(struct model *m, const struct mm_vma *v)
{
	struct lazy_vma *lv = lv_of(v);

	assert(lv); /* mm.c prepares before it maps a folio */
	switch (lv->state) {
	case LAZY_STATE_TREE_PARENT:
		if (m->cfg->lazy_cow_owner == LAZY_COW_PARENT_AV)
			return lv->avv->tree_parent->id;
		/* fall through */
	case LAZY_STATE_LAZY:
		lv->root->nr_folios++;
		return root_token(lv->root);
	case LAZY_STATE_REGULAR:
		return lv->avv->anon_vma->id;
	}
	return 0;
}

static enum lazy_state state_of(const struct mm_vma *v)
{
	const struct lazy_vma *lv = lv_of(v);

	return lv ? lv->state : 0;
}

/*
 * Two lazy families may share a VMA when both name one root (the tagged
 * vma->anon_vma values are equal, as mainline compares anon_vma pointers),
 * or, under lazy_merge_roots allow, two LAZY families with equal bases
 * (lazy.md §9.2 "merge"): the removed root survives pinned while folios
 * name it (and with no family left to re-point them to, under pin none too).
 */
static bool roots_mergeable(const struct model *m, const struct lazy_vma *a, const struct lazy_vma *b)
{
	if (a->root == b->root)
		return true;
	return m->cfg->lazy_merge_roots == LAZY_MERGE_ROOTS_ALLOW && a->state == LAZY_STATE_LAZY &&
	       b->state == LAZY_STATE_LAZY && a->root->base == b->root->base;
}

/*
 * Merge compatibility (lazy.md §9.2 "merge"; eager.md §3.2 for mainline
 * states).  A LAZY VMA is never a fork child, a TREE_PARENT one always is;
 * lazy and mainline states never mix.  An mremap copy of a lazy VMA merges
 * only into an unfaulted neighbour, and only under lazy_mremap=upgrade
 * (the clone upgrades the source first) on P3+ (P2 skips that clone); under
 * rebase the copy is always a new VMA, so the moved folios' range is
 * exactly the new VMA's.
 */
static bool lazy_merge_ok(struct model *m, const struct mm_vma *tgt, const struct mm_vma *anon_src,
			  const struct mm_vma *middle, const struct mm_vma *copied_from)
{
	enum lazy_state t = state_of(tgt), s = state_of(anon_src);
	bool t_mainline = !t || t == LAZY_STATE_REGULAR, s_mainline = !s || s == LAZY_STATE_REGULAR;

	if (copied_from && (state_of(copied_from) == LAZY_STATE_LAZY ||
			    state_of(copied_from) == LAZY_STATE_TREE_PARENT))
		return !t && state_of(copied_from) == LAZY_STATE_LAZY &&
		       m->cfg->lazy_mremap == LAZY_MREMAP_UPGRADE && m->sp.profile >= 3;
	if (t_mainline && s_mainline)
		return av_merge_ok(&m->sp, tgt, anon_src, middle, copied_from);
	if (!t)  /* case 1: tgt takes src's lazy state (P1: never into an unfaulted target) */
		return s == LAZY_STATE_LAZY && m->sp.profile != 1;
	if (!s)  /* case 2: tgt not a fork child */
		return t == LAZY_STATE_LAZY;
	if (t != s || t == LAZY_STATE_REGULAR || s == LAZY_STATE_REGULAR)
		return false;
	return roots_mergeable(m, lv_of(tgt), lv_of(anon_src));
}

static bool lazy_merge_pair_ok(struct model *m, const struct mm_vma *prev, const struct mm_vma *next)
{
	const struct lazy_vma *p = lv_of(prev), *n = lv_of(next);

	if (!p || !n)
		return true;
	if (p->state != n->state)
		return false;
	if (p->state == LAZY_STATE_REGULAR)
		return p->avv->anon_vma == n->avv->anon_vma;
	return roots_mergeable(m, p, n);
}

/*
 * mremap of a LAZY or TREE_PARENT VMA (lazy.md §4.3, policy lazy_mremap):
 * the move changes vm_start but keeps the folios' index, so the root's base
 * no longer locates them.  rebase: dst becomes the root of a new family at
 * its own base and every moved folio naming a root is re-pointed to it (one
 * rewrite per folio; no allocation).  (upgrade is handled by the caller.)
 */
static int lazy_rebase(struct model *m, struct mm_vma *dst, struct lazy_vma *slv,
		       struct avm_err *err)
{
	struct lazy_vma *dlv = lv_new(m, dst, slv->state);
	struct lazy_root *r = dlv ? root_new(m, dst) : NULL;
	uint64_t moved = mm_sim_move_len(m->env.sim), len = dst->end - dst->start;
	/*
	 * Only the pages that move: a destination grown beyond the old length
	 * must not claim the source's pages after the moved piece (they stay,
	 * naming the old root, when the source is a larger VMA).
	 */
	uint64_t lo = dst->pgoff, hi = lo + (moved && moved < len ? moved : len) / m->page_size;

	if (!r)
		return avm_errf(err, "out of memory (lazy root)");
	family_add(r, dlv);
	if (slv->state == LAZY_STATE_TREE_PARENT) {
		dlv->avv = av_vma_new(&m->sp, dst);
		if (!dlv->avv || av_clone(&m->sp, dlv->avv, slv->avv, MODEL_WHY_MREMAP, err))
			return avm_errf(err, "out of memory (anon chain)");
	}
	return rewrite_folios(m, slv->vma, root_token(r), r, lo, hi, MODEL_WHY_MREMAP,
			      LOCKS_WHY_REWRITE, false, NULL, err);
}

/*
 * dst takes src's anon state.  Split and merge dup (lazy.md §9.2 "split"):
 * a LAZY dst joins src's family at the same root and base, no AVC; a
 * TREE_PARENT dst also clones the chain (+L AVCs, as mainline); REGULAR is
 * mainline's clone.  mremap copy: policy lazy_mremap.
 */
static int lazy_clone(struct model *m, struct mm_vma *dst, const struct mm_vma *src,
		      enum model_why why, struct avm_err *err)
{
	struct lazy_vma *slv = src->anon, *dlv;

	assert(slv && !dst->anon); /* model.h: src has anon state, dst none */
	claim_vma(m, dst);
	if (why == MODEL_WHY_MREMAP && slv->state != LAZY_STATE_REGULAR) {
		if (m->cfg->lazy_mremap == LAZY_MREMAP_REBASE)
			return lazy_rebase(m, dst, slv, err);
		if (lazy_upgrade(m, slv, MODEL_WHY_MREMAP, err))
			return -1;
	}
	dlv = lv_new(m, dst, slv->state);
	if (!dlv)
		return avm_errf(err, "out of memory (lazy VMA)");
	if (slv->state != LAZY_STATE_REGULAR)
		family_add(slv->root, dlv);
	if (slv->state == LAZY_STATE_LAZY)
		return 0;
	dlv->avv = av_vma_new(&m->sp, dst);
	if (!dlv->avv)
		return avm_errf(err, "out of memory (anon chain)");
	return av_clone(&m->sp, dlv->avv, slv->avv, why, err);
}

/*
 * Fork (lazy.md §4.4, §9.2 fork rows).  With the switch on: a LAZY or
 * TREE_PARENT parent VMA is upgraded first; the child VMA becomes
 * TREE_PARENT: a clone of the parent's chain (+L AVCs), no anon_vma of its
 * own (no reuse test: it wants none), a root of its own for the folios it
 * will CoW.  With the switch off: mainline anon_vma_fork.
 */
static int lazy_fork_vma(struct model *m, struct mm_vma *child, struct mm_vma *parent,
			 struct avm_err *err)
{
	struct lazy_vma *plv = parent->anon, *clv;
	struct lazy_root *r;

	assert(plv && !child->anon); /* mm.c forks only faulted VMAs */
	if (!lazy_on(m) && plv->state == LAZY_STATE_REGULAR) {
		clv = lv_new(m, child, LAZY_STATE_REGULAR);
		if (!clv || !(clv->avv = av_vma_new(&m->sp, child)))
			return avm_errf(err, "out of memory (anon chain)");
		return av_fork(&m->sp, clv->avv, plv->avv, err);
	}
	if (plv->state != LAZY_STATE_REGULAR && lazy_upgrade(m, plv, MODEL_WHY_FORK, err))
		return -1;
	clv = lv_new(m, child, LAZY_STATE_TREE_PARENT);
	r = clv ? root_new(m, child) : NULL;
	if (!r || !(clv->avv = av_vma_new(&m->sp, child)))
		return avm_errf(err, "out of memory (anon chain)");
	family_add(r, clv);
	if (av_chain_clone(&m->sp, clv->avv, plv->avv, false, MODEL_WHY_FORK, err))
		return -1;
	clv->avv->tree_parent = plv->avv->anon_vma;
	return 0;
}

struct fork_check_ctx {
	struct model *m;
};

static int fork_check_vma(void *ctx, struct mm_vma *v)
{
	struct fork_check_ctx *c = ctx;
	enum lazy_state st = state_of(v);

	if ((st == LAZY_STATE_LAZY || st == LAZY_STATE_TREE_PARENT) &&
	    !(v->flags & (VM_DONTCOPY | VM_WIPEONFORK)) && !c->m->broken[0])
		snprintf(c->m->broken, sizeof(c->m->broken),
			 "VMA %llu: still lazy after its mm forked", (unsigned long long)v->id);
	return 0;
}

/* After dup_mmap: no copied VMA of the parent may still be lazy (lazy.md §4.4 step 4). */
static int lazy_fork_end(struct model *m, struct mm_space *parent, struct mm_space *child,
			 struct avm_err *err)
{
	struct fork_check_ctx c = { m };

	(void)child;
	(void)err;
	if (lazy_on(m))
		mm_for_each_vma(parent, fork_check_vma, &c);
	return 0;
}

/*
 * End v's links (lazy.md §9.2 "full munmap / exit"): a mainline chain is
 * unlinked as mainline; v leaves its family.  If v is its family's root VMA
 * and the family lives on, remember it for vma_pin.
 */
static void lazy_unlink(struct model *m, struct mm_vma *v, enum model_why why)
{
	struct lazy_vma *lv = v->anon;
	struct lazy_root *r;

	assert(lv); /* mm.c unlinks only VMAs with anon state */
	if (lv->avv)
		av_unlink(&m->sp, lv->avv, why);
	lv->avv = NULL;
	r = lv->root;
	if (r) {
		family_del(lv);
		if (r->vma == v && (r->nr_folios || r->nr_ksm || r->nr_vmas) && !r->unlinked) {
			r->unl_next = u64map_get(&m->unlinked, v->id);
			if (u64map_put(&m->unlinked, v->id, r) == 0)
				r->unlinked = true;
			else
				r->unl_next = NULL; /* out of memory: the object is not pinned */
		}
		root_settle(m, r, why);
	}
	lv_free(m, lv);
}

/*
 * The simulator frees the VMA object v.  For every family whose root VMA v
 * is (policy lazy_pin): until_last_folio keeps v while folios name it;
 * none moves the root to a live family VMA at once, rewriting every folio
 * that names it.  A family with no folios left simply names a sibling.
 */
static bool lazy_vma_pin(struct model *m, struct mm_vma *v)
{
	struct lazy_root *r = u64map_get(&m->unlinked, v->id), *next;
	struct model_stats *s = m->env.stats;
	bool keep = false;

	if (!r)
		return false;
	u64map_del(&m->unlinked, v->id);
	for (; r; r = next) {
		next = r->unl_next;
		r->unlinked = false;
		r->unl_next = NULL;
		if ((r->nr_folios || r->nr_ksm) &&
		    (m->cfg->lazy_pin == LAZY_PIN_UNTIL_LAST_FOLIO || !r->family)) {
			if (keep) {
				/* a second family on the same object: it names a sibling instead */
				s->folio_rewrites += r->nr_folios;
				r->vma = r->family ? r->family->vma : NULL;
				charge_bulk(m, r->vma, r->vma ? r->vma->start : 0, LOCKS_WHY_REWRITE,
					    r->nr_folios);
				continue;
			}
			r->pinned = true;
			keep = true;
			if (++s->pinned_vmas > s->pinned_vmas_peak)
				s->pinned_vmas_peak = s->pinned_vmas;
			continue;
		}
		s->folio_rewrites += r->nr_folios; /* pin none: each folio names the new root VMA */
		r->vma = r->family ? r->family->vma : NULL;
		charge_bulk(m, r->vma, r->vma ? r->vma->start : 0, LOCKS_WHY_REWRITE, r->nr_folios);
	}
	return keep;
}

static void lazy_folio_gone(struct model *m, uint64_t owner)
{
	struct lazy_root *r = token_root(owner);

	if (!r)
		return;
	assert(r->nr_folios > 0); /* folio_owner counted every folio naming r */
	r->nr_folios--;
	root_settle(m, r, MODEL_WHY_UNMAP);
}

/*
 * KSM merged a page of v (lazy.md §9.2 "KSM merge of a page in a LAZY
 * VMA": unknown, policy lazy.ksm).  A regular VMA's rmap_item references its
 * anon_vma as in mainline.  A lazy or TREE_PARENT VMA has none: `upgrade`
 * (default) gives it one first (the deferred prepare, as a fork would);
 * `root` lets the item reference the lazy root instead, which then lives
 * (and its VMA object stays pinned) while items name it, as with folios.
 */
static int lazy_ksm_pin(struct model *m, struct mm_vma *v, uint64_t addr, uint64_t *pin,
			struct avm_err *err)
{
	struct lazy_vma *lv = lv_of(v);
	struct anon_vma *av;

	(void)addr;
	*pin = 0;
	if (!lv)
		return 0;
	if (lv->state == LAZY_STATE_LAZY && m->cfg->lazy_ksm == LAZY_KSM_ROOT) {
		lv->root->nr_ksm++;
		*pin = root_token(lv->root);
		return 0;
	}
	if (lv->state != LAZY_STATE_REGULAR && lazy_upgrade(m, lv, MODEL_WHY_FAULT, err))
		return -1;
	av = lv->avv->anon_vma;
	av->refcount++;
	av->pins++;
	*pin = (uint64_t)(uintptr_t)av;
	return 0;
}

static void lazy_ksm_unpin(struct model *m, uint64_t pin)
{
	struct lazy_root *r = token_root(pin);
	struct anon_vma *av;

	if (r) {
		r->nr_ksm--;
		root_settle(m, r, MODEL_WHY_UNMAP);
		return;
	}
	av = (struct anon_vma *)(uintptr_t)pin;
	av->pins--;
	av_put(&m->sp, av, MODEL_WHY_UNMAP);
}

/*
 * Is a snapshot VMA's family unforked: its anon_vma is its own root with no
 * child anon_vma (num_children counts the root itself) and a singular chain?
 */
static bool snap_unforked(const struct avm_snap_vma *sv)
{
	return (sv->av_root == 0 || sv->av_root == sv->anon_vma) && sv->av_children <= 1 &&
	       sv->chain_len <= 1;
}

/*
 * Snapshots.  exec: the VMAs the kernel faulted during execve (stack,
 * padzero) are lazy roots in the lazy world - the faults allocate nothing.
 * Start snapshot: a VMA whose family never forked would be LAZY under the
 * series (its anon_vma is the deferred cost); a VMA of a forked family is
 * adopted as mainline had it (REGULAR, or a fork child's chain), since the
 * fork would have upgraded the parent and the child's own anon_vma cannot
 * be told apart from the chain.  VMAs sharing one snapshot anon_vma and
 * base share a root.  With the switch off at snapshot time: mainline.
 */
static int lazy_adopt(struct model *m, struct mm_vma *v, const struct avm_snap_vma *sv,
		      bool preexisting, struct avm_err *err)
{
	struct lazy_vma *lv;
	struct lazy_root *r;

	if (!sv->anon_vma)
		return 0;
	assert(!v->anon); /* a snapshot VMA is new to the world */
	claim_vma(m, v);
	if (!lazy_on(m) ||
	    (preexisting && (m->cfg->lazy_adopt == LAZY_ADOPT_CONSERVATIVE || !snap_unforked(sv)))) {
		lv = lv_new(m, v, LAZY_STATE_REGULAR);
		if (!lv || !(lv->avv = av_vma_new(&m->sp, v)))
			return avm_errf(err, "out of memory (anon chain)");
		return av_adopt(&m->sp, lv->avv, sv, preexisting, err);
	}
	lv = lv_new(m, v, LAZY_STATE_LAZY);
	if (!lv)
		return avm_errf(err, "out of memory (lazy VMA)");
	r = u64map_get(&m->adopt_roots, sv->anon_vma);
	if (!r || r->base != mapping_base(m, v)) {
		r = root_new(m, v);
		if (!r || u64map_put(&m->adopt_roots, sv->anon_vma, r))
			return avm_errf(err, "out of memory (lazy root)");
	}
	family_add(r, lv);
	return 0;
}

/* Ancestor anon_vmas of a start snapshot: an unforked family's is never created here. */
static int lazy_adopt_av(struct model *m, const struct avm_snap_av *sa, struct avm_err *err)
{
	if (lazy_on(m) && m->cfg->lazy_adopt == LAZY_ADOPT_OPTIMISTIC && sa->root == sa->id &&
	    sa->num_children <= 1)
		return 0;
	return av_adopt_av(&m->sp, sa, err);
}

static int lazy_adopt_done(struct model *m, struct avm_err *err)
{
	u64map_free(&m->adopt_roots);
	return av_adopt_done(&m->sp, err);
}

/* ------------------------------------------------------------------------- */
/* the invariant checker */

struct check_ctx {
	struct model *m;
	struct u64map *live_roots, *seen, *counts;
	const struct lazy_vma *lv;
	struct avm_err *err;
	int rc;
	uint64_t pages;
};

static int check_page(void *ctx, uint64_t addr, uint64_t *owner, uint64_t folio)
{
	struct check_ctx *c = ctx;
	struct lazy_root *r = token_root(*owner);
	uint64_t key = (uint64_t)(uintptr_t)r;

	c->pages++;
	if (!r)
		return 0;
	if (!u64map_get(c->live_roots, key)) {
		c->rc = avm_errf(c->err, "VMA %llu: folio at %#llx names a dead lazy root",
				 (unsigned long long)c->lv->vma->id, (unsigned long long)addr);
		return 1;
	}
	if (c->lv->state == LAZY_STATE_REGULAR) {
		c->rc = avm_errf(c->err, "VMA %llu: regular, but its folio at %#llx names a lazy root",
				 (unsigned long long)c->lv->vma->id, (unsigned long long)addr);
		return 1;
	}
	if (r->base != mapping_base(c->m, c->lv->vma)) {
		c->rc = avm_errf(c->err, "VMA %llu: folio at %#llx names a root with another base",
				 (unsigned long long)c->lv->vma->id, (unsigned long long)addr);
		return 1;
	}
	if (u64map_get(c->seen, folio + 1))
		return 0; /* a large folio, or one folio mapped twice: counted once */
	if (u64map_put(c->seen, folio + 1, (void *)1) ||
	    u64map_put(c->counts, key, (void *)((uintptr_t)u64map_get(c->counts, key) + 1))) {
		c->rc = avm_errf(c->err, "out of memory (lazy check)");
		return 1;
	}
	return 0;
}

static int check_vma_state(struct model *m, const struct lazy_vma *lv, struct u64map *live_roots,
			   struct avm_err *err)
{
	unsigned long long id = (unsigned long long)lv->vma->id;

	if (lv->vma->anon != lv)
		return avm_errf(err, "VMA %llu: its lazy state is not vma->anon", id);
	switch (lv->state) {
	case LAZY_STATE_LAZY:
		if (lv->avv || !lv->root)
			return avm_errf(err, "VMA %llu: lazy with a chain or without a root", id);
		break;
	case LAZY_STATE_TREE_PARENT:
		if (!lv->root || !lv->avv || lv->avv->anon_vma || !lv->avv->tree_parent)
			return avm_errf(err, "VMA %llu: TREE_PARENT needs a root, a chain, a tree "
					"parent and no anon_vma of its own", id);
		break;
	case LAZY_STATE_REGULAR:
		if (lv->root || !lv->avv || !lv->avv->anon_vma)
			return avm_errf(err, "VMA %llu: regular without an anon_vma", id);
		return 0;
	default:
		return avm_errf(err, "VMA %llu: bad lazy state %d", id, (int)lv->state);
	}
	if (!u64map_get(live_roots, (uint64_t)(uintptr_t)lv->root))
		return avm_errf(err, "VMA %llu: its root is not live", id);
	if (lv->root->base != mapping_base(m, lv->vma))
		return avm_errf(err, "VMA %llu: base %#llx differs from its root's %#llx", id,
				(unsigned long long)mapping_base(m, lv->vma),
				(unsigned long long)lv->root->base);
	return 0;
}

/*
 * Every lazy folio names a live root with its VMA's base and is counted by
 * that root; every family list holds exactly the VMAs naming the root; no
 * VMA state is malformed; no lazy VMA survived its mm's fork; pinned roots
 * match the counter; the mainline objects pass anon_vma.c's checker.
 * The folio walk is O(pages): it runs on every call while an mm is small
 * (tests), and on every (1 + pages / 4096)-th call on big traces, so
 * --check-invariants stays usable; everything else is checked every call.
 */
static int lazy_check(struct model *m, struct avm_err *err)
{
	struct u64map live_roots = { 0 }, seen = { 0 }, counts = { 0 };
	struct check_ctx c = { m, &live_roots, &seen, &counts, NULL, err, 0, 0 };
	bool walk = m->checks++ % (m->walk_every ? m->walk_every : 1) == 0;
	const struct lazy_root *r;
	const struct lazy_vma *lv;
	uint64_t pinned = 0;
	int rc = -1;

	if (m->broken[0]) {
		avm_errf(err, "%s", m->broken);
		goto out;
	}
	if (av_check(&m->sp, true, err))
		goto out;
	for (r = m->roots; r; r = r->next_live) {
		if (u64map_put(&live_roots, (uint64_t)(uintptr_t)r, (void *)r)) {
			avm_errf(err, "out of memory (lazy check)");
			goto out;
		}
		pinned += r->pinned;
	}
	for (lv = m->lvs; lv; lv = lv->next_live) {
		if (check_vma_state(m, lv, &live_roots, err))
			goto out;
		c.lv = lv;
		if (walk && (mm_vma_for_each_page(lv->vma, check_page, &c) || c.rc))
			goto out;
	}
	/* the folio walk costs O(pages): on big traces it runs every ~4096 pages' worth of checks */
	if (walk)
		m->walk_every = 1 + c.pages / 4096;
	for (r = m->roots; r; r = r->next_live) {
		uint64_t n = 0, f = (uint64_t)(uintptr_t)u64map_get(&counts, (uint64_t)(uintptr_t)r);

		for (lv = r->family; lv; lv = lv->fam_next) {
			if (lv->root != r) {
				avm_errf(err, "VMA %llu: on a family list it does not belong to",
					 (unsigned long long)lv->vma->id);
				goto out;
			}
			n++;
		}
		if (n != r->nr_vmas || (walk && f != r->nr_folios) ||
		    (!n && !r->nr_folios && !r->nr_ksm)) {
			avm_errf(err, "lazy root (base %#llx): %llu VMAs and %llu folios name it, it "
				 "counts %llu and %llu", (unsigned long long)r->base,
				 (unsigned long long)n, (unsigned long long)f,
				 (unsigned long long)r->nr_vmas, (unsigned long long)r->nr_folios);
			goto out;
		}
		if (r->pinned && (!r->vma || r->vma->mm || !(r->nr_folios + r->nr_ksm))) {
			avm_errf(err, "lazy root (base %#llx): pinned without cause",
				 (unsigned long long)r->base);
			goto out;
		}
		if (r->av && r->av->pins < 1) {
			avm_errf(err, "lazy root (base %#llx): its anon_vma is not pinned",
				 (unsigned long long)r->base);
			goto out;
		}
	}
	if (pinned != m->env.stats->pinned_vmas) {
		avm_errf(err, "%llu pinned root VMAs, stats say %llu", (unsigned long long)pinned,
			 (unsigned long long)m->env.stats->pinned_vmas);
		goto out;
	}
	rc = 0;
out:
	u64map_free(&live_roots);
	u64map_free(&seen);
	u64map_free(&counts);
	return rc;
}

/* ------------------------------------------------------------------------- */
/* rmap walk (lazy.md §5, §9.3) */

/*
 * A lazy folio names its root VMA: the address is the root's
 * vma_mapping_base + folio->index pages (lazy.md §3.1, §4.2), looked up in
 * the root's mm (the mm the folio was found in when the root VMA object has
 * left its mm: pinned, lazy.md §3.4) - one lookup, at most one VMA visited
 * (reviewers' objection, §5.1: a large folio across a split boundary would
 * need several; not modelled).  The lock is policy lazy_walk_lock (§10 q6):
 *   rcu        an RCU read-side section: recorded, never waits;
 *   vma_read   the found VMA's per-VMA read lock (instance: VMA id; RCU
 *              alone when no VMA is found);
 *   mmap_trylock  mmap_lock read trylock on the mm (instance: mm id); a
 *              held lock fails the walk, whatever the walker: a write hold
 *              the trace measured open now (env.measured, locks.h), or a
 *              write section recorded in the world's locks.
 * Hold = lock + VMA lookup + the VMA reference (vma_refcount_ns: a lazy
 * walk pins the VMA it uses, reviewers' "VMA refcounts", lazy.md §3.4) +
 * (rmap_one bookkeeping + one page-table walk) for the VMA found.  Under
 * vma_read the read hold queues behind another CPU's VMA write section of
 * that VMA (the simulator's vma_start_write sections, mm.h
 * mm_sim_set_locks), and a writer queues behind it.  A migration walk of a
 * lazy folio (w->migrate) also takes the series' exclusion against
 * free_pgtables (lazy.md §4.6, David's review): modelled as a write section
 * on the PTE table's lock (its instance: the table the folio is mapped
 * from), lock + lazy_migrate_excl_ns, why migrate_excl.  A folio naming an
 * anon_vma (upgraded, regular, TREE_PARENT families) walks like mainline.
 */
static void lazy_rmap_walk(struct model *m, const struct mm_folio_ref *f, struct model_walk *w)
{
	struct lazy_root *r = token_root(f->owner);
	struct locks_work work = { { 0 } };
	enum locks_class cls = LOCKS_RCU;
	struct mm_space *mm;
	struct mm_vma *v;
	uint64_t instance = 0;
	bool trylock = false;

	if (!r) {
		av_rmap_walk(&m->sp, f, w);
		return;
	}
	w->failed = false;
	w->lazy = true;
	mm = r->vma && r->vma->mm ? r->vma->mm : f->mm;
	v = mm_find_vma(mm, r->base + f->index * m->page_size);
	w->visited = v != NULL;
	if (v)
		model_walk_visit(w, v);
	w->stale = v && !av_vma_maps_folio(v, f, m->page_size);
	if (m->cfg->lazy_walk_lock == LAZY_WALK_VMA_READ && v) {
		cls = LOCKS_VMA;
		instance = v->id;
	} else if (m->cfg->lazy_walk_lock == LAZY_WALK_MMAP_TRYLOCK) {
		cls = LOCKS_MMAP;
		instance = mm_space_id(mm);
		trylock = true;
		if (m->env.measured && locks_measured_write_held(m->env.measured, instance)) {
			/* mmap_read_trylock against the traced kernel's own writer */
			if (m->env.locks)
				locks_trylock_failed(m->env.locks, LOCKS_MMAP, LOCKS_READ);
			w->failed = true;
			w->visited = w->stale = 0;
			w->hold_ns = 0;
			return;
		}
	}
	work.n[LOCKS_OP_LOCK] = 1;
	work.n[LOCKS_OP_VMA_LOOKUP] = 1;
	work.n[LOCKS_OP_VMA_REF] = 1;
	work.n[LOCKS_OP_RMAP_VMA] = w->visited;
	if (av_walk_lock(&m->sp, cls, LOCKS_READ, instance, trylock, &work, w->visited,
			 &w->hold_ns)) {
		w->failed = true;
		w->visited = w->stale = 0;
		return;
	}
	if (w->migrate) {
		struct locks_work ex = { { 0 } };

		ex.n[LOCKS_OP_LOCK] = 1;
		ex.n[LOCKS_OP_LAZY_MIGRATE] = 1;
		av_lock(&m->sp, LOCKS_PTL, LOCKS_WRITE, LOCKS_WHY_MIGRATE,
			av_ptl_instance(mm_space_id(f->mm), f->addr, pmd_size_of(m)), false, &ex);
	}
}

/*
 * THP split (mm.c infers it: model.h thp_split).  A folio naming an
 * anon_vma splits as mainline (its root rwsem, write).  A lazy folio has no
 * anon_vma; the series says the folio lock alone does not make the split
 * atomic against lazy walkers (lazy.md §4.6) without saying what it adds:
 * modelled as the PTE table's lock (the PMD's page-table page), write,
 * around the same work: lock + thp_split_page_ns per page.
 */
static void lazy_thp_split(struct model *m, const struct mm_folio_ref *f)
{
	struct locks_work w = { { 0 } };

	if (!token_root(f->owner)) {
		av_thp_split(&m->sp, f);
		return;
	}
	w.n[LOCKS_OP_LOCK] = 1;
	w.n[LOCKS_OP_THP_SPLIT] = f->nr;
	av_lock(&m->sp, LOCKS_PTL, LOCKS_WRITE, LOCKS_WHY_THP_SPLIT,
		av_ptl_instance(mm_space_id(f->mm), f->addr, pmd_size_of(m)), false, &w);
}

/*
 * khugepaged collapse in mm: the event names no VMA, so whether it was lazy
 * is unknown; the lazy design's exclusion (khugepaged.c changed, its lock is
 * not in the sources) is modelled as the PMD's page-table lock, write, of a
 * stand-in instance for the mm: lock + thp_collapse_ns (the same work
 * mainline does under the anon_vma lock).
 */
static void lazy_thp_collapse(struct model *m, uint64_t mm_id)
{
	struct locks_work w = { { 0 } };

	w.n[LOCKS_OP_LOCK] = 1;
	w.n[LOCKS_OP_THP_COLLAPSE] = 1;
	av_lock(&m->sp, LOCKS_PTL, LOCKS_WRITE, LOCKS_WHY_COLLAPSE, AV_INSTANCE_MM(mm_id), false,
		&w);
}

/* model.h draw: the VMA's state (lazy.md §3.3) and what its folios name. */
static char lazy_draw(const struct model *m, const struct mm_vma *v, uint64_t *id)
{
	const struct lazy_vma *lv = lv_of(v);

	(void)m;
	*id = 0;
	if (!lv)
		return 0;
	switch (lv->state) {
	case LAZY_STATE_LAZY:
		*id = root_token(lv->root);
		return 'L';
	case LAZY_STATE_TREE_PARENT:
		*id = lv->avv->tree_parent->id;
		return 'T';
	case LAZY_STATE_REGULAR:
		*id = lv->avv->anon_vma->id;
		return '*';
	}
	return 0;
}

const struct model_ops model_lazy_ops = {
	.name = "lazy",
	.create = lazy_create,
	.destroy = lazy_destroy,
	.has_anon = lazy_has_anon,
	.prepare = lazy_prepare,
	.folio_owner = lazy_folio_owner,
	.merge_ok = lazy_merge_ok,
	.merge_pair_ok = lazy_merge_pair_ok,
	.clone = lazy_clone,
	.fork_begin = NULL,
	.fork_vma = lazy_fork_vma,
	.fork_end = lazy_fork_end,
	.unlink = lazy_unlink,
	.vma_pin = lazy_vma_pin,
	.folio_gone = lazy_folio_gone,
	.adopt = lazy_adopt,
	.adopt_av = lazy_adopt_av,
	.adopt_done = lazy_adopt_done,
	.check = lazy_check,
	.rmap_walk = lazy_rmap_walk,
	.thp_split = lazy_thp_split,
	.thp_collapse = lazy_thp_collapse,
	.ksm_pin = lazy_ksm_pin,
	.ksm_unpin = lazy_ksm_unpin,
	.draw = lazy_draw,
};
