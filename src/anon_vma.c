/*
 * anon_vma.c - the mainline anon rmap objects (anon_vma.h), every rule of
 * docs/kernel/eager.md §2-§3 that allocates, links or frees them.
 *
 * Data layout
 *   struct anon_vma        root, parent, refcount, num_children,
 *                          num_active_vmas, and its "interval tree": the
 *                          AVCs linked into it, kept as a doubly linked list
 *                          (insert/remove O(1); the tree's keys - the linked
 *                          VMA's pgoff range - change on every split and
 *                          merge, a list needs no re-keying).
 *   struct anon_vma_chain  one AVC: (av_vma, anon_vma) and its list links.
 *   struct av_vma          a VMA's vma->anon_vma and chain, as an array
 *                          ordered oldest (tail) -> newest (head), so "walk
 *                          tail to head" is a forward loop and the head is
 *                          the last slot.  Exists only while the chain is
 *                          non-empty (eager.md §1.4: anon_vma == NULL <=>
 *                          empty chain; a lazy TREE_PARENT chain is the one
 *                          exception: chain, tree_parent, no anon_vma).
 *   Every live anon_vma and av_vma is also on a list for the checker.
 *
 * Rmap walks (av_rmap_walk, rmap_walk_anon): the kernel's interval tree
 * yields exactly the AVCs whose VMA's pgoff range overlaps the folio's; we
 * scan the list and apply the same overlap test, so the visited set and the
 * modelled hold are the kernel's, and only the replay pays O(AVCs of the
 * anon_vma) per walk instead of O(log n + visited).
 *
 * Counters follow the kernel exactly (§1.1); the checker recomputes them
 * from the structure: refcount = (tree non-empty) + live AVs rooted here
 * (other than itself) + pins; num_children = AVs whose parent is this one
 * and whose tree is non-empty (a root counts itself); num_active_vmas = VMAs
 * whose anon_vma is this one.  AVs adopted from a start snapshot keep the
 * kernel's counters; the difference to the structure at adoption (KSM or
 * migration pins, ancestors we never saw) is kept as a bias the checker
 * allows for.
 *
 * Profiles (eager.md §0): P1 merge compatibility uses the old singular-chain
 * test; P2 lacks the copied_from check (the simulator also skips the dup);
 * P4 clones in "new" order (dst chain reversed, newest qualifying AV reused)
 * and allocates the fork child's AV and AVC before the clone, freeing both
 * at once when an AV is reused.
 */
#include "anon_vma.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "array.h"
#include "list.h"
#include "locks.h"
#include "mm.h"

/*
 * One critical section at the current event (eager.md §5), its length from
 * the work done under the lock (locks.h cost model).  A failed trylock (the
 * fault's mmap_read_trylock) is retried blocking, as the fault is.
 */
void av_lock(const struct av_space *sp, enum locks_class cls, enum locks_mode mode,
	     enum locks_why why, uint64_t instance, bool trylock, const struct locks_work *w)
{
	const struct model_env *env = sp->env;
	struct locks_section s = { .cls = cls, .mode = mode, .why = why, .instance = instance,
				   .trylock = trylock };

	if (!env || !env->locks)
		return;
	s.cpu = env->clock->cpu;
	s.start = env->clock->t;
	s.len = locks_cost(&env->arch->rmap, w, 0);
	s.work = *w; /* re-costable (verdict sensitivity) */
	if (locks_hold(env->locks, &s, NULL) == 1) {
		s.trylock = false;
		locks_hold(env->locks, &s, NULL);
	}
}

/*
 * Allocations the kernel makes before it takes the root rwsem (§2.2 outside
 * a fault, §2.4 the first AVC of a clone, §2.5 the child's AV and AVC): no
 * lock is held, but the work is part of the operation's modelled time
 * (locks_unlocked: the fork cost of docs/report.md).
 */
static void av_unlocked(const struct av_space *sp, uint64_t avs, uint64_t avcs)
{
	const struct model_env *env = sp->env;
	struct locks_work w = { { 0 } };

	if (!env || !env->locks || !(avs | avcs))
		return;
	w.n[LOCKS_OP_AV_ALLOC] = avs;
	w.n[LOCKS_OP_AVC_ALLOC] = avcs;
	locks_unlocked_work(env->locks, &env->arch->rmap, &w);
}

/* a += b */
static void work_add(struct locks_work *a, const struct locks_work *b)
{
	for (int i = 0; i < LOCKS_OP_NR; i++)
		a->n[i] += b->n[i];
}

static enum locks_why av_lock_why(enum model_why why)
{
	switch (why) {
	case MODEL_WHY_FAULT: return LOCKS_WHY_PREPARE;
	case MODEL_WHY_FORK: return LOCKS_WHY_FORK;
	case MODEL_WHY_UNMAP: case MODEL_WHY_EXIT: return LOCKS_WHY_UNLINK;
	case MODEL_WHY_SPLIT: case MODEL_WHY_MERGE: case MODEL_WHY_MREMAP: return LOCKS_WHY_CLONE;
	default: return LOCKS_WHY_OTHER;
	}
}

void av_space_init(struct av_space *sp, struct model_stats *stats, int profile,
		   struct av_vma *(*of)(const struct mm_vma *v))
{
	memset(sp, 0, sizeof(*sp));
	sp->stats = stats;
	sp->profile = profile >= 1 && profile <= 4 ? profile : 3;
	sp->of = of;
}

void av_space_destroy(struct av_space *sp)
{
	/* the simulator tore every mm down first; free whatever a bias kept alive */
	while (sp->avvs) {
		struct av_vma *avv = sp->avvs;

		sp->avvs = avv->next_live;
		for (uint32_t i = 0; i < avv->len; i++)
			free(avv->chain[i]);
		free(avv->chain);
		free(avv);
	}
	while (sp->avs) {
		struct anon_vma *av = sp->avs;

		sp->avs = av->next_live;
		free(av);
	}
	u64map_free(&sp->adopt);
	free(sp->session);
	sp->session = NULL;
}

struct anon_vma *av_anon_vma_of(const struct av_space *sp, const struct mm_vma *v)
{
	struct av_vma *avv = v ? sp->of(v) : NULL;

	return avv ? avv->anon_vma : NULL;
}

uint32_t av_chain_len(const struct av_space *sp, const struct mm_vma *v)
{
	struct av_vma *avv = v ? sp->of(v) : NULL;

	return avv ? avv->len : 0;
}

bool av_fork_child(const struct av_space *sp, const struct mm_vma *v)
{
	return v && av_anon_vma_of(sp, v) && av_chain_len(sp, v) != 1;
}

/* ------------------------------------------------------------------------- */
/* objects */

static struct anon_vma *av_alloc(struct av_space *sp, enum model_why why, bool count)
{
	struct anon_vma *av = calloc(1, sizeof(*av));

	if (!av)
		return NULL;
	av->id = ++sp->next_id;
	av->root = av->parent = av;
	av->refcount = 1;
	LIST_PUSH_FRONT(&sp->avs, av, prev_live, next_live);
	if (count)
		model_stats_alloc(sp->stats, MODEL_OBJ_ANON_VMA, why);
	return av;
}

static void av_free(struct av_space *sp, struct anon_vma *av, enum model_why why)
{
	LIST_UNLINK(&sp->avs, av, prev_live, next_live);
	model_stats_free(sp->stats, MODEL_OBJ_ANON_VMA, why);
	free(av);
}

static struct anon_vma_chain *avc_alloc(struct av_space *sp, enum model_why why, bool count)
{
	struct anon_vma_chain *avc = calloc(1, sizeof(*avc));

	if (avc && count)
		model_stats_alloc(sp->stats, MODEL_OBJ_AVC, why);
	return avc;
}

static void avc_free(struct av_space *sp, struct anon_vma_chain *avc, enum model_why why)
{
	model_stats_free(sp->stats, MODEL_OBJ_AVC, why);
	free(avc);
}

static void tree_insert(struct anon_vma *av, struct anon_vma_chain *avc)
{
	avc->av = av;
	LIST_PUSH_FRONT(&av->tree, avc, tprev, tnext);
	av->tree_n++;
}

static void tree_remove(struct anon_vma_chain *avc)
{
	struct anon_vma *av = avc->av;

	LIST_UNLINK(&av->tree, avc, tprev, tnext);
	av->tree_n--;
}

struct av_vma *av_vma_new(struct av_space *sp, struct mm_vma *v)
{
	struct av_vma *avv = calloc(1, sizeof(*avv));

	if (!avv)
		return NULL;
	avv->vma = v;
	LIST_PUSH_FRONT(&sp->avvs, avv, prev_live, next_live);
	return avv;
}

static void av_vma_free(struct av_space *sp, struct av_vma *avv)
{
	LIST_UNLINK(&sp->avvs, avv, prev_live, next_live);
	free(avv->chain);
	free(avv);
}

/* Link avc (new, not yet in a tree) at the head of avv's chain and into av's tree. */
static int chain_push_head(struct av_vma *avv, struct anon_vma_chain *avc, struct anon_vma *av)
{
	if (array_grow((void **)&avv->chain, &avv->cap, (size_t)avv->len + 1, sizeof(*avv->chain), 4))
		return -1;
	avv->chain[avv->len++] = avc;
	avc->avv = avv;
	tree_insert(av, avc);
	return 0;
}

/* put_anon_vma / __put_anon_vma (§2.1): free at 0, then drop the root's reference. */
void av_put(struct av_space *sp, struct anon_vma *av, enum model_why why)
{
	struct anon_vma *root = av->root;

	assert(av->refcount > 0); /* a put needs a reference (the checker recounts them) */
	if (--av->refcount > 0)
		return;
	av_free(sp, av, why);
	if (root != av && --root->refcount == 0)
		av_free(sp, root, why);
}

/* ------------------------------------------------------------------------- */
/* the rules */

/*
 * find_mergeable_anon_vma (§2.3): next first, then prev; the neighbour must
 * pass the attribute rules 1-5 and be faulted with a singular chain.
 */
struct anon_vma *av_find_mergeable(const struct av_space *sp, const struct mm_vma *v)
{
	const struct mm_vma *next = mm_vma_next(v), *prev = mm_vma_prev(v);

	if (next && mm_vma_reuse_attrs_ok(v, next) && av_anon_vma_of(sp, next) &&
	    av_chain_len(sp, next) == 1)
		return av_anon_vma_of(sp, next);
	if (prev && mm_vma_reuse_attrs_ok(prev, v) && av_anon_vma_of(sp, prev) &&
	    av_chain_len(sp, prev) == 1)
		return av_anon_vma_of(sp, prev);
	return NULL;
}

/* __anon_vma_prepare (§2.2): one AVC, and a new root AV unless a donor is reused. */
int av_prepare(struct av_space *sp, struct av_vma *avv, struct anon_vma *donor,
	       enum model_why why, struct avm_err *err)
{
	struct anon_vma_chain *avc;
	struct anon_vma *av = donor;

	assert(!avv->anon_vma); /* anon_vma.h: avv empty or a TREE_PARENT chain */
	avc = avc_alloc(sp, why, true);
	if (!avc)
		return avm_errf(err, "out of memory (anon_vma_chain)");
	if (!av) {
		av = av_alloc(sp, why, true);
		if (!av) {
			free(avc);
			return avm_errf(err, "out of memory (anon_vma)");
		}
		av->num_children = 1; /* a root counts itself */
	}
	if (chain_push_head(avv, avc, av))
		return avm_errf(err, "out of memory (anon chain)");
	avv->anon_vma = av;
	av->num_active_vmas++;
	if (sp->env && sp->env->locks) {
		/*
		 * §2.2: allocations first, then the root's rwsem (write) around the
		 * link.  §5: the per-VMA-lock fault path runs all of it under an
		 * mmap_read_trylock, retried under mmap_lock when that fails.
		 */
		struct locks_work link = { { 0 } }, fault;

		link.n[LOCKS_OP_LOCK] = 1;
		link.n[LOCKS_OP_TREE_INSERT] = 1;
		fault = link;
		fault.n[LOCKS_OP_LOCK] = 2;
		fault.n[LOCKS_OP_AVC_ALLOC] = 1;
		fault.n[LOCKS_OP_AV_ALLOC] = donor == NULL;
		if (why == MODEL_WHY_FAULT)
			av_lock(sp, LOCKS_MMAP, LOCKS_READ, LOCKS_WHY_FAULT,
				avv->vma && avv->vma->mm ? mm_space_id(avv->vma->mm) : 0, true,
				&fault);
		else /* a lazy upgrade: nothing held while allocating */
			av_unlocked(sp, donor == NULL, 1);
		if (sp->link_out && why != MODEL_WHY_FAULT)
			work_add(sp->link_out, &link); /* the upgrade records one section */
		else
			av_lock(sp, LOCKS_ANON_VMA, LOCKS_WRITE, av_lock_why(why), av->root->id,
				false, &link);
	}
	return 0;
}

/* is_mergeable_anon_vma (§3.2), per profile. */
bool av_merge_ok(const struct av_space *sp, const struct mm_vma *tgt,
		 const struct mm_vma *anon_src, const struct mm_vma *middle,
		 const struct mm_vma *copied_from)
{
	struct anon_vma *t = av_anon_vma_of(sp, tgt), *s = av_anon_vma_of(sp, anon_src);

	if (sp->profile == 1) {
		/* P1: one side unfaulted and the neighbour's chain singular, or equal AVs */
		if ((!t || !s) && av_chain_len(sp, tgt) == 1)
			return true;
		return t == s;
	}
	if (!t && s) {
		/* case 1: src will be dup'ed into tgt - not from a fork child */
		if (av_fork_child(sp, middle))
			return false;
		if (sp->profile >= 3 && av_fork_child(sp, copied_from))
			return false;
		return true;
	}
	if (t && !s)
		return !av_fork_child(sp, tgt); /* case 2 */
	return t == s;                          /* case 3 */
}

/*
 * anon_vma_clone (§2.4): one AVC per source AVC.  P1-P3 ("old"): walk src
 * tail to head, pushing on dst's head, so dst keeps src's order; in fork
 * mode the first (oldest) AV with num_children < 2 and no active VMA is
 * reused.  P4 ("new"): dst is src reversed and the newest qualifying AV wins.
 */
int av_chain_clone(struct av_space *sp, struct av_vma *dst, const struct av_vma *src,
		   bool fork_mode, enum model_why why, struct avm_err *err)
{
	uint32_t i, n = src->len;
	struct locks_work w = { { 0 } };

	/*
	 * §5: one root for the whole chain, write-locked across the loop; 6.18
	 * (P1-P3) allocates each AVC but the first under it (GFP_NOWAIT), P4
	 * allocates them all before taking it.
	 */
	w.n[LOCKS_OP_LOCK] = 1;
	w.n[LOCKS_OP_TREE_INSERT] = n;
	w.n[LOCKS_OP_AVC_ALLOC] = sp->profile == 4 || n == 0 ? 0 : n - 1;
	if (n) {
		av_unlocked(sp, 0, n - w.n[LOCKS_OP_AVC_ALLOC]);
		av_lock(sp, LOCKS_ANON_VMA, LOCKS_WRITE, av_lock_why(why),
			src->chain[0]->av->root->id, false, &w);
	}
	for (i = 0; i < n; i++) {
		uint32_t k = sp->profile == 4 ? n - 1 - i : i;
		struct anon_vma *av = src->chain[k]->av;
		struct anon_vma_chain *avc = avc_alloc(sp, why, true);

		if (!avc || chain_push_head(dst, avc, av))
			return avm_errf(err, "out of memory (anon_vma_chain)");
		if (fork_mode && !dst->anon_vma && av->num_children < 2 && av->num_active_vmas == 0)
			dst->anon_vma = av;
	}
	if (fork_mode && dst->anon_vma)
		dst->anon_vma->num_active_vmas++;
	return 0;
}

/* split, merge dup, mremap copy: dst->anon_vma = src->anon_vma, then clone (+L(src)). */
int av_clone(struct av_space *sp, struct av_vma *dst, const struct av_vma *src,
	     enum model_why why, struct avm_err *err)
{
	assert(!dst->len && !dst->anon_vma && src->len); /* anon_vma.h: dst empty, src linked */
	dst->anon_vma = src->anon_vma;
	dst->tree_parent = src->tree_parent;
	if (av_chain_clone(sp, dst, src, false, why, err))
		return -1;
	if (src->anon_vma)
		src->anon_vma->num_active_vmas++;
	return 0;
}

/* anon_vma_fork step 4: a new AV under parent and its AVC at the head of avv's chain. */
static int fork_link_new(struct av_space *sp, struct av_vma *avv, struct anon_vma *nav,
			 struct anon_vma_chain *navc, struct anon_vma *parent, enum model_why why,
			 struct avm_err *err)
{
	struct locks_work w = { { 0 } };

	/* §2.5: the new AV and AVC are allocated unlocked, linked under the root */
	w.n[LOCKS_OP_LOCK] = 1;
	w.n[LOCKS_OP_TREE_INSERT] = 1;
	if (sp->link_out)
		work_add(sp->link_out, &w); /* a lazy upgrade records one section */
	else
		av_lock(sp, LOCKS_ANON_VMA, LOCKS_WRITE, av_lock_why(why), parent->root->id, false,
			&w);
	nav->root = parent->root;
	nav->parent = parent;
	nav->root->refcount++;
	nav->num_active_vmas = 1;
	parent->num_children++;
	if (chain_push_head(avv, navc, nav))
		return avm_errf(err, "out of memory (anon chain)");
	avv->anon_vma = nav;
	avv->tree_parent = NULL;
	return 0;
}

int av_fork_new(struct av_space *sp, struct av_vma *avv, struct anon_vma *parent,
		enum model_why why, struct avm_err *err)
{
	struct anon_vma *nav = av_alloc(sp, why, true);
	struct anon_vma_chain *navc = avc_alloc(sp, why, true);

	if (!nav || !navc)
		return avm_errf(err, "out of memory (anon_vma)");
	av_unlocked(sp, 1, 1);
	return fork_link_new(sp, avv, nav, navc, parent, why, err);
}

/* anon_vma_fork (§2.5). */
int av_fork(struct av_space *sp, struct av_vma *child, const struct av_vma *parent,
	    struct avm_err *err)
{
	struct anon_vma *pav = parent->anon_vma, *nav = NULL;
	struct anon_vma_chain *navc = NULL;

	assert(!child->len && pav); /* anon_vma.h: child empty, parent faulted */
	if (sp->profile == 4) {
		/* P4: the child's AV and AVC come first, unlocked */
		nav = av_alloc(sp, MODEL_WHY_FORK, true);
		navc = avc_alloc(sp, MODEL_WHY_FORK, true);
		if (!nav || !navc)
			return avm_errf(err, "out of memory (anon_vma)");
		av_unlocked(sp, 1, 1);
	}
	child->anon_vma = NULL;
	if (av_chain_clone(sp, child, parent, true, MODEL_WHY_FORK, err))
		return -1;
	if (child->anon_vma) {
		/* an existing AV was reused: +L(parent) AVCs, no AV (P4: alloc+free pair) */
		if (nav) {
			avc_free(sp, navc, MODEL_WHY_FORK);
			av_free(sp, nav, MODEL_WHY_FORK);
		}
		return 0;
	}
	if (!nav) {
		navc = avc_alloc(sp, MODEL_WHY_FORK, false);
		nav = av_alloc(sp, MODEL_WHY_FORK, false);
		if (!nav || !navc)
			return avm_errf(err, "out of memory (anon_vma)");
		av_unlocked(sp, 1, 1);
		/* tracing order: the clone's AVCs, then the AV, then its AVC */
		model_stats_alloc(sp->stats, MODEL_OBJ_ANON_VMA, MODEL_WHY_FORK);
		model_stats_alloc(sp->stats, MODEL_OBJ_AVC, MODEL_WHY_FORK);
	}
	return fork_link_new(sp, child, nav, navc, pav, MODEL_WHY_FORK, err);
}

/*
 * unlink_anon_vmas (§2.6): pass 1 head to tail takes each AVC out of its
 * tree; an AV whose tree empties loses its parent's num_children and is put
 * in pass 2 (which may free it and cascade to the root); other AVCs are freed
 * at once.  Then vma->anon_vma's num_active_vmas drops.
 */
void av_unlink(struct av_space *sp, struct av_vma *avv, enum model_why why)
{
	uint32_t i, kept = 0;
	uint64_t root_id = avv->len ? avv->chain[0]->av->root->id : 0;

	for (i = avv->len; i-- > 0;) {
		struct anon_vma_chain *avc = avv->chain[i];
		struct anon_vma *av = avc->av;

		tree_remove(avc);
		if (av->tree_n == 0 && !av->tree_ext) {
			av->parent->num_children--;
			/* kept in slots already visited, same head-first order */
			avv->chain[avv->len - 1 - kept++] = avc;
		} else {
			avc_free(sp, avc, why);
		}
	}
	if (avv->anon_vma)
		avv->anon_vma->num_active_vmas--;
	avv->anon_vma = NULL;
	if (avv->len) {
		/* §2.6 pass 1 under the root (write): tree removals, frees of AVCs not kept */
		struct locks_work w = { { 0 } };

		w.n[LOCKS_OP_LOCK] = 1;
		w.n[LOCKS_OP_TREE_REMOVE] = avv->len;
		w.n[LOCKS_OP_AVC_FREE] = avv->len - kept;
		av_lock(sp, LOCKS_ANON_VMA, LOCKS_WRITE, LOCKS_WHY_UNLINK, root_id, false, &w);
	}
	for (i = 0; i < kept; i++) {
		struct anon_vma_chain *avc = avv->chain[avv->len - 1 - i];

		av_put(sp, avc->av, why);
		avc_free(sp, avc, why);
	}
	avv->len = 0;
	av_vma_free(sp, avv);
}
/* ------------------------------------------------------------------------- */
/* rmap walks (model_ops.rmap_walk, rmap_walk.h) */

int av_walk_lock(const struct av_space *sp, enum locks_class cls, enum locks_mode mode,
		 uint64_t instance, bool trylock, const struct locks_work *w, uint64_t pt_walks,
		 uint64_t *len)
{
	const struct model_env *env = sp->env;
	struct locks_section s = { .cls = cls, .mode = mode, .why = LOCKS_WHY_RMAP_WALK,
				   .instance = instance, .trylock = trylock };

	*len = 0;
	if (!env || !env->arch)
		return 0;
	s.len = locks_cost(&env->arch->rmap, w, pt_walks * arch_walk_ns(env->arch));
	s.work = *w;
	s.pt_walks = pt_walks;
	*len = s.len;
	if (!env->locks)
		return 0;
	s.cpu = env->clock->cpu;
	s.start = env->clock->t;
	if (locks_hold(env->locks, &s, NULL) == 1) {
		*len = 0;
		return 1;
	}
	return 0;
}

bool av_vma_maps_folio(const struct mm_vma *v, const struct mm_folio_ref *f, uint64_t page_size)
{
	uint64_t first = f->index > v->pgoff ? f->index : v->pgoff;
	uint64_t end = v->pgoff + mm_vma_pages(v, page_size), pg;
	struct mm_folio_ref r;

	if (!v->mm)
		return false;
	if (f->index + f->nr < end)
		end = f->index + f->nr;
	for (pg = first; pg < end; pg++)
		if (mm_folio_at(v->mm, v->start + (pg - v->pgoff) * page_size, &r) && r.id == f->id)
			return true;
	return false;
}

/* folio_anon_vma(): the anon_vma folio->mapping names, on the mapping VMA's chain. */
static struct anon_vma *folio_av(const struct av_space *sp, const struct mm_folio_ref *f)
{
	const struct av_vma *avv = f->vma ? sp->of(f->vma) : NULL;
	struct anon_vma *av;

	for (uint32_t i = 0; avv && i < avv->len; i++)
		if (avv->chain[i]->av->id == f->owner)
			return avv->chain[i]->av;
	/* not on that chain (never expected: every mapping VMA descends from it) */
	for (av = sp->avs; av; av = av->next_live)
		if (av->id == f->owner)
			return av;
	return NULL;
}

/*
 * rmap_walk_anon (mm/rmap.c): folio_lock_anon_vma_read (a trylock for
 * folio_referenced, else anon_vma_lock_read) takes the root's rwsem for
 * read, then anon_vma_interval_tree_foreach visits each AVC whose VMA's
 * page range [vm_pgoff, vm_pgoff + pages) overlaps the folio's
 * [index, index + nr), calling rmap_one (one page_vma_mapped_walk) per VMA.
 *
 * We keep the AVCs in a list (anon_vma.c header: no re-keying on split and
 * merge) and filter by the same overlap test, so the visited set is exactly
 * the interval tree's; the cost is replay time only: O(AVCs on the anon_vma)
 * per walk instead of O(log n + visited), which matters only for anon_vmas
 * with thousands of AVCs under heavy what-if pressure.
 */
void av_rmap_walk(const struct av_space *sp, const struct mm_folio_ref *f, struct model_walk *wk)
{
	uint64_t ps = mm_sim_params(sp->env->sim)->page_size, last = f->index + f->nr - 1;
	struct anon_vma *av = folio_av(sp, f);
	struct locks_work work = { { 0 } };
	struct anon_vma_chain *avc;

	wk->failed = wk->lazy = false;
	wk->visited = wk->stale = wk->hold_ns = 0;
	if (!av)
		return; /* folio_anon_vma() NULL: nothing to walk */
	for (avc = av->tree; avc; avc = avc->tnext) {
		const struct mm_vma *v = avc->avv->vma;

		if (v->pgoff > last || v->pgoff + mm_vma_pages(v, ps) <= f->index)
			continue;
		wk->visited++;
		model_walk_visit(wk, v);
		if (!av_vma_maps_folio(v, f, ps))
			wk->stale++; /* a false positive: e.g. the VMA CoW-copied its page */
	}
	work.n[LOCKS_OP_LOCK] = 1;
	work.n[LOCKS_OP_RMAP_VMA] = wk->visited;
	if (av_walk_lock(sp, LOCKS_ANON_VMA, LOCKS_READ, av->root->id, wk->trylock, &work,
			 wk->visited, &wk->hold_ns)) {
		wk->failed = true;
		wk->visited = wk->stale = 0;
	}
}

bool av_thp_split(const struct av_space *sp, const struct mm_folio_ref *f)
{
	struct anon_vma *av = folio_av(sp, f);
	struct locks_work w = { { 0 } };

	if (!av)
		return false;
	w.n[LOCKS_OP_LOCK] = 1;
	w.n[LOCKS_OP_THP_SPLIT] = f->nr;
	av_lock(sp, LOCKS_ANON_VMA, LOCKS_WRITE, LOCKS_WHY_THP_SPLIT, av->root->id, false, &w);
	return true;
}

void av_thp_collapse(const struct av_space *sp, uint64_t mm_id)
{
	struct locks_work w = { { 0 } };

	w.n[LOCKS_OP_LOCK] = 1;
	w.n[LOCKS_OP_THP_COLLAPSE] = 1;
	av_lock(sp, LOCKS_ANON_VMA, LOCKS_WRITE, LOCKS_WHY_COLLAPSE, AV_INSTANCE_MM(mm_id), false,
		&w);
}

struct anon_vma *av_reuse_candidate(const struct av_space *sp, const struct av_vma *avv)
{
	(void)sp;
	/* tail first: the order the fork's chain clone pushed (and tested) them, per profile */
	for (uint32_t i = 0; i < avv->len; i++) {
		struct anon_vma *av = avv->chain[i]->av;

		if (av->num_children < 2 && av->num_active_vmas == 0)
			return av;
	}
	return NULL;
}

/* ------------------------------------------------------------------------- */
/* adoption from snapshots */

static struct anon_vma *adopt_av_get(struct av_space *sp, uint64_t snap_id, bool preexisting,
				struct avm_err *err)
{
	struct anon_vma *av = u64map_get(&sp->adopt, snap_id);

	if (av)
		return av;
	av = av_alloc(sp, MODEL_WHY_EXEC, false);
	if (!av || u64map_put(&sp->adopt, snap_id, av)) {
		avm_errf(err, "out of memory (adopted anon_vma)");
		return NULL;
	}
	if (preexisting)
		model_stats_adopt(sp->stats, MODEL_OBJ_ANON_VMA);
	else
		model_stats_alloc(sp->stats, MODEL_OBJ_ANON_VMA, MODEL_WHY_EXEC);
	av->refcount = 0; /* recomputed at adopt_done */
	av->snap_id = snap_id;
	av->in_session = true;
	if (array_grow((void **)&sp->session, &sp->capsession, sp->nsession + 1,
		       sizeof(*sp->session), 64)) {
		avm_errf(err, "out of memory (adoption)");
		return NULL;
	}
	sp->session[sp->nsession++] = av;
	return av;
}

int av_adopt_av(struct av_space *sp, const struct avm_snap_av *sa, struct avm_err *err)
{
	struct anon_vma *av = adopt_av_get(sp, sa->id, true, err);

	if (!av)
		return -1;
	av->snap_known = true;
	av->snap_root = sa->root;
	av->snap_parent = sa->parent;
	av->snap_ref = sa->refcount;
	av->snap_children = sa->num_children;
	av->snap_active = sa->num_active_vmas;
	sp->adopt_preexisting = true;
	return 0;
}

/*
 * A VMA of a snapshot: link its chain (the row lists it head first).  Exec
 * snapshots: the objects were allocated during execve (MODEL_WHY_EXEC);
 * start snapshots: they predate the trace (adopted, not allocated).
 */
int av_adopt(struct av_space *sp, struct av_vma *avv, const struct avm_snap_vma *sv,
	     bool preexisting, struct avm_err *err)
{
	uint64_t ids[AVM_CHAIN_MAX + 1];
	uint32_t n = sv->chain_len < AVM_CHAIN_MAX ? sv->chain_len : AVM_CHAIN_MAX, i;
	struct av_vma *ev = avv;
	bool own_in_chain = false;

	if (!sv->anon_vma)
		return 0;
	for (i = 0; i < n; i++) {
		ids[i] = sv->chain[i];
		own_in_chain |= ids[i] == sv->anon_vma;
	}
	if (!own_in_chain)
		ids[n++] = sv->anon_vma; /* truncated chain or a bare row: link the own AV */
	sp->adopt_preexisting = sp->adopt_preexisting || preexisting;
	for (i = n; i-- > 0;) {
		struct anon_vma *av = adopt_av_get(sp, ids[i], preexisting, err);
		struct anon_vma_chain *avc;
		uint32_t k;

		if (!av)
			return -1;
		for (k = 0; k < ev->len; k++)
			if (ev->chain[k]->av == av)
				break;
		if (k < ev->len)
			continue; /* a repeated id in the row */
		if (!av->snap_parent && i + 1 < n)
			av->snap_parent = ids[i + 1]; /* the next older link, in a fork lineage */
		if (!av->snap_root)
			av->snap_root = ids[n - 1];
		avc = avc_alloc(sp, MODEL_WHY_EXEC, !preexisting);
		if (!avc || chain_push_head(ev, avc, av))
			return avm_errf(err, "out of memory (anon_vma_chain)");
		if (preexisting)
			model_stats_adopt(sp->stats, MODEL_OBJ_AVC);
	}
	ev->anon_vma = u64map_get(&sp->adopt, sv->anon_vma);
	ev->anon_vma->num_active_vmas++;
	if (sv->anon_vma == ev->anon_vma->snap_id && !ev->anon_vma->snap_known && preexisting) {
		struct anon_vma *av = ev->anon_vma;

		av->snap_known = true;
		av->snap_root = sv->av_root ? sv->av_root : av->snap_root;
		av->snap_parent = sv->av_parent ? sv->av_parent : av->snap_parent;
		av->snap_ref = sv->av_refcount;
		av->snap_children = sv->av_children;
		av->snap_active = sv->av_active;
	}
	/*
	 * A chain holds its anon_vmas' ancestors (eager.md §1.4: anon_vma_clone
	 * copies the parent VMA's whole chain), so the parent of every member
	 * of a complete chain is on it.  A row that says otherwise would leave
	 * an anon_vma pointing at a parent freed before it: the adoption fails
	 * at av_adopt_done (the session is finished safely there).
	 */
	if (own_in_chain && sv->chain_len <= AVM_CHAIN_MAX && !sp->adopt_bad) {
		for (i = 0; i < n; i++) {
			const struct anon_vma *av = u64map_get(&sp->adopt, ids[i]);
			uint32_t k = 0;

			if (!av || !av->snap_parent || av->snap_parent == ids[i])
				continue;
			while (k < n && ids[k] != av->snap_parent)
				k++;
			if (k < n)
				continue;
			sp->adopt_bad = true;
			avm_errf(&sp->adopt_err, "snapshot %llu mm %llu VMA %#llx: anon_vma %llu has "
				 "parent %llu, which is not on its chain", (unsigned long long)sv->snap,
				 (unsigned long long)sv->mm, (unsigned long long)sv->start,
				 (unsigned long long)ids[i], (unsigned long long)av->snap_parent);
			break;
		}
	}
	return 0;
}

/* Resolve roots and parents, compute the structural counters, keep the kernel's as bias. */
int av_adopt_done(struct av_space *sp, struct avm_err *err)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < sp->nsession; i++) {
		struct anon_vma *av = sp->session[i], *r, *p;

		r = av->snap_root ? u64map_get(&sp->adopt, av->snap_root) : NULL;
		p = av->snap_parent ? u64map_get(&sp->adopt, av->snap_parent) : NULL;
		av->root = r ? r : av;
		if (av->root->root != av->root)
			av->root = av->root->root;
		av->parent = p ? p : av->root;
		av->refcount = 0;
		av->num_children = 0;
	}
	/*
	 * The kernel's invariant (eager.md §1.4): a root is its own root, and a
	 * parent is in its child's tree.  Snapshot rows that say otherwise are a
	 * broken trace: adopting them would link objects across trees (and free
	 * one tree's objects under the other).  The session is finished with
	 * every adopted anon_vma its own root, so teardown stays sound, and the
	 * adoption fails.
	 */
	if (sp->adopt_bad) {
		bad = -1;
		if (err)
			*err = sp->adopt_err;
		sp->adopt_bad = false;
	}
	for (i = 0; i < sp->nsession && !bad; i++) {
		const struct anon_vma *av = sp->session[i];

		if (av->root->root != av->root || av->parent->root != av->root)
			bad = avm_errf(err, "snapshot anon_vma %llu: root %llu and parent %llu are "
				       "not one tree", (unsigned long long)av->snap_id,
				       (unsigned long long)av->snap_root,
				       (unsigned long long)av->snap_parent);
	}
	for (i = 0; bad && i < sp->nsession; i++)
		sp->session[i]->root = sp->session[i]->parent = sp->session[i];
	for (i = 0; i < sp->nsession; i++) {
		struct anon_vma *av = sp->session[i];

		if (av->tree_n)
			av->refcount++;
		if (av->root != av)
			av->root->refcount++;
		if (av->tree_n)
			av->parent->num_children++;
	}
	for (i = 0; i < sp->nsession; i++) {
		struct anon_vma *av = sp->session[i];

		if (av->snap_known && sp->adopt_preexisting) {
			av->bias_ref = av->snap_ref - av->refcount;
			if (av->bias_ref < 0)
				av->bias_ref = 0; /* never free what is still linked */
			av->bias_children = av->snap_children - av->num_children;
			av->bias_active = av->snap_active - av->num_active_vmas;
			av->refcount += av->bias_ref;
			av->num_children += av->bias_children;
			av->num_active_vmas += av->bias_active;
		}
		if (av->refcount == 0) {
			/* a chain member nothing keeps alive: the kernel would have freed it */
			av->refcount = 1;
			av->bias_ref = 1;
		}
	}
	/*
	 * The kernel counts more VMAs on an anon_vma than the world adopted:
	 * those VMAs (a process outside the trace, e.g. the collector that
	 * forked the command) link it and every ancestor on their chains
	 * (eager.md §1.4: a VMA's chain is its anon_vma and each parent up to
	 * the root), so those trees never empty here and the kernel never
	 * frees them when the traced VMAs go (§2.6 "when an AV is really freed").
	 */
	for (i = 0; i < sp->nsession; i++) {
		struct anon_vma *av = sp->session[i];

		if (av->bias_active <= 0)
			continue;
		for (; !av->tree_ext; av = av->parent) {
			av->tree_ext = true;
			if (av->parent == av)
				break;
		}
	}
	for (i = 0; i < sp->nsession; i++)
		sp->session[i]->in_session = false;
	sp->nsession = 0;
	sp->adopt_preexisting = false;
	u64map_free(&sp->adopt);
	return bad;
}

/* ------------------------------------------------------------------------- */
/* the invariant checker */

int av_check(const struct av_space *sp, bool check_stats, struct avm_err *err)
{
	struct u64map live = { 0 }, refs = { 0 }, kids = { 0 }, active = { 0 };
	uint64_t nav = 0, navc = 0;
	const struct anon_vma *av;
	const struct av_vma *ev;
	int rc = -1;

#define BUMP(map, key) u64map_put(&(map), (key), (void *)((uintptr_t)u64map_get(&(map), (key)) + 1))
	for (av = sp->avs; av; av = av->next_live) {
		if (u64map_put(&live, (uint64_t)(uintptr_t)av, (void *)av))
			goto oom;
		nav++;
	}
	for (av = sp->avs; av; av = av->next_live) {
		struct anon_vma_chain *avc;
		uint64_t n = 0;

		if (!u64map_get(&live, (uint64_t)(uintptr_t)av->root) || av->root->root != av->root) {
			avm_errf(err, "anon_vma %llu: root is not a live root", (unsigned long long)av->id);
			goto out;
		}
		for (avc = av->tree; avc; avc = avc->tnext) {
			if (avc->av != av) {
				avm_errf(err, "anon_vma %llu: foreign AVC in its tree",
					 (unsigned long long)av->id);
				goto out;
			}
			n++;
		}
		if (n != av->tree_n) {
			avm_errf(err, "anon_vma %llu: tree holds %llu AVCs, counts %llu",
				 (unsigned long long)av->id, (unsigned long long)n,
				 (unsigned long long)av->tree_n);
			goto out;
		}
		if ((av->tree_n || av->tree_ext) && !u64map_get(&live, (uint64_t)(uintptr_t)av->parent)) {
			avm_errf(err, "anon_vma %llu: linked, but its parent is gone",
				 (unsigned long long)av->id);
			goto out;
		}
		if ((av->tree_n || av->tree_ext) && BUMP(refs, (uint64_t)(uintptr_t)av))
			goto oom;
		if (av->root != av && BUMP(refs, (uint64_t)(uintptr_t)av->root))
			goto oom;
		if ((av->tree_n || av->tree_ext) && BUMP(kids, (uint64_t)(uintptr_t)av->parent))
			goto oom;
	}
	for (ev = sp->avvs; ev; ev = ev->next_live) {
		uint32_t i, j;
		bool own = false;

		if (!ev->len || (!ev->anon_vma) == (!ev->tree_parent) || sp->of(ev->vma) != ev) {
			avm_errf(err, "VMA %llu: anon_vma %s, tree parent %s, chain length %u%s",
				 (unsigned long long)ev->vma->id, ev->anon_vma ? "set" : "NULL",
				 ev->tree_parent ? "set" : "NULL", ev->len,
				 sp->of(ev->vma) != ev ? ", not the VMA's state" : "");
			goto out;
		}
		for (i = 0; i < ev->len; i++) {
			struct anon_vma_chain *avc = ev->chain[i];

			if (avc->avv != ev || !u64map_get(&live, (uint64_t)(uintptr_t)avc->av)) {
				avm_errf(err, "VMA %llu: chain link %u is broken",
					 (unsigned long long)ev->vma->id, i);
				goto out;
			}
			for (j = 0; j < i; j++) {
				if (ev->chain[j]->av == avc->av) {
					avm_errf(err, "VMA %llu: anon_vma %llu twice on its chain",
						 (unsigned long long)ev->vma->id,
						 (unsigned long long)avc->av->id);
					goto out;
				}
			}
			own |= avc->av == ev->anon_vma || avc->av == ev->tree_parent;
			navc++;
		}
		if (!own) {
			avm_errf(err, "VMA %llu: its anon_vma is not on its chain",
				 (unsigned long long)ev->vma->id);
			goto out;
		}
		if (ev->anon_vma && BUMP(active, (uint64_t)(uintptr_t)ev->anon_vma))
			goto oom;
	}
	for (av = sp->avs; av; av = av->next_live) {
		uint64_t k = (uint64_t)(uintptr_t)av;
		int64_t r = (int64_t)(uintptr_t)u64map_get(&refs, k) + av->bias_ref + av->pins;
		int64_t c = (int64_t)(uintptr_t)u64map_get(&kids, k) + av->bias_children;
		int64_t a = (int64_t)(uintptr_t)u64map_get(&active, k) + av->bias_active;

		if (av->refcount != r || av->num_children != c || av->num_active_vmas != a) {
			avm_errf(err, "anon_vma %llu: refcount/num_children/num_active_vmas are "
				 "%lld/%lld/%lld, the structure says %lld/%lld/%lld",
				 (unsigned long long)av->id, (long long)av->refcount,
				 (long long)av->num_children, (long long)av->num_active_vmas,
				 (long long)r, (long long)c, (long long)a);
			goto out;
		}
	}
	if (check_stats && (nav != sp->stats->obj[MODEL_OBJ_ANON_VMA].live ||
	    navc != sp->stats->obj[MODEL_OBJ_AVC].live)) {
		avm_errf(err, "live anon_vma/AVC %llu/%llu, stats say %llu/%llu",
			 (unsigned long long)nav, (unsigned long long)navc,
			 (unsigned long long)sp->stats->obj[MODEL_OBJ_ANON_VMA].live,
			 (unsigned long long)sp->stats->obj[MODEL_OBJ_AVC].live);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	avm_errf(err, "out of memory (anon_vma check)");
out:
#undef BUMP
	u64map_free(&live);
	u64map_free(&refs);
	u64map_free(&kids);
	u64map_free(&active);
	return rc;
}

