/*
 * model_eager.c - the mainline anon rmap (anon_vma + anon_vma_chain), every
 * rule of ../shared/kernel/eager.md §2-§3, behind model_ops (model.h).
 *
 * Data layout
 *   struct eav   one anon_vma: root, parent, refcount, num_children,
 *                num_active_vmas, and its "interval tree": the AVCs linked
 *                into it, kept as a doubly linked list (insert/remove O(1);
 *                the tree's keys - the linked VMA's pgoff range - change on
 *                every split and merge, a list needs no re-keying).  rmap
 *                queries (eager_av_overlaps) filter the list by pgoff range.
 *   struct eavc  one anon_vma_chain: (evma, eav) and its list links.
 *   struct evma  a VMA's anon state, behind mm_vma.anon: vma->anon_vma and
 *                the chain as an array ordered oldest (tail) -> newest
 *                (head), so "walk tail to head" is a forward loop and the
 *                head is the last slot.  Exists only while the chain is
 *                non-empty (eager.md §1.4: anon_vma == NULL <=> empty chain).
 *   Every live eav and evma is also on a list for the invariant checker.
 *
 * Counters follow the kernel exactly (§1.1); the checker recomputes them
 * from the structure: refcount = (tree non-empty) + live AVs rooted here
 * (other than itself); num_children = AVs whose parent is this one and whose
 * tree is non-empty (a root counts itself); num_active_vmas = VMAs whose
 * anon_vma is this one.  AVs adopted from a start snapshot keep the
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
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mm.h"
#include "model.h"
#include "u64map.h"

struct eavc;

struct eav {
	uint64_t id;
	struct eav *root, *parent;
	int64_t refcount, num_children, num_active_vmas;
	struct eavc *tree;  /* AVCs linked into this anon_vma */
	uint64_t tree_n;
	struct eav *prev_live, *next_live;
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

struct evma;

struct eavc {
	struct eav *av;
	struct evma *ev;
	struct eavc *tprev, *tnext;
};

struct evma {
	struct mm_vma *vma;
	struct eav *anon_vma;
	struct eavc **chain; /* [0] = tail (oldest) ... [len-1] = head (newest) */
	uint32_t len, cap;
	struct evma *prev_live, *next_live;
};

struct model {
	struct model_env env;
	int profile;
	uint64_t next_id;
	struct eav *avs;     /* live anon_vmas */
	struct evma *evmas;  /* live VMA anon states */
	/* the adoption session (snapshot ids -> eav), until adopt_done */
	struct u64map adopt;
	struct eav **session;
	size_t nsession, capsession;
	bool adopt_preexisting;
};

static struct evma *evma_of(const struct mm_vma *v)
{
	return v->anon;
}

static struct eav *anon_vma_of(const struct mm_vma *v)
{
	return v && v->anon ? evma_of(v)->anon_vma : NULL;
}

static uint32_t chain_len(const struct mm_vma *v)
{
	return v && v->anon ? evma_of(v)->len : 0;
}

/* vma_is_fork_child(): faulted and the chain is not singular. */
static bool fork_child(const struct mm_vma *v)
{
	return v && anon_vma_of(v) && chain_len(v) != 1;
}

/* ------------------------------------------------------------------------- */
/* objects */

static struct eav *av_alloc(struct model *m, enum model_why why, bool count)
{
	struct eav *av = calloc(1, sizeof(*av));

	if (!av)
		return NULL;
	av->id = ++m->next_id;
	av->root = av->parent = av;
	av->refcount = 1;
	av->next_live = m->avs;
	if (m->avs)
		m->avs->prev_live = av;
	m->avs = av;
	if (count)
		model_stats_alloc(m->env.stats, MODEL_OBJ_ANON_VMA, why);
	return av;
}

static void av_free(struct model *m, struct eav *av, enum model_why why)
{
	if (av->prev_live)
		av->prev_live->next_live = av->next_live;
	else
		m->avs = av->next_live;
	if (av->next_live)
		av->next_live->prev_live = av->prev_live;
	model_stats_free(m->env.stats, MODEL_OBJ_ANON_VMA, why);
	free(av);
}

static struct eavc *avc_alloc(struct model *m, enum model_why why, bool count)
{
	struct eavc *avc = calloc(1, sizeof(*avc));

	if (avc && count)
		model_stats_alloc(m->env.stats, MODEL_OBJ_AVC, why);
	return avc;
}

static void avc_free(struct model *m, struct eavc *avc, enum model_why why)
{
	model_stats_free(m->env.stats, MODEL_OBJ_AVC, why);
	free(avc);
}

static void tree_insert(struct eav *av, struct eavc *avc)
{
	avc->av = av;
	avc->tprev = NULL;
	avc->tnext = av->tree;
	if (av->tree)
		av->tree->tprev = avc;
	av->tree = avc;
	av->tree_n++;
}

static void tree_remove(struct eavc *avc)
{
	struct eav *av = avc->av;

	if (avc->tprev)
		avc->tprev->tnext = avc->tnext;
	else
		av->tree = avc->tnext;
	if (avc->tnext)
		avc->tnext->tprev = avc->tprev;
	av->tree_n--;
}

static struct evma *evma_get(struct model *m, struct mm_vma *v)
{
	struct evma *ev = v->anon;

	if (ev)
		return ev;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->vma = v;
	ev->next_live = m->evmas;
	if (m->evmas)
		m->evmas->prev_live = ev;
	m->evmas = ev;
	v->anon = ev;
	return ev;
}

static void evma_put(struct model *m, struct mm_vma *v)
{
	struct evma *ev = v->anon;

	if (ev->prev_live)
		ev->prev_live->next_live = ev->next_live;
	else
		m->evmas = ev->next_live;
	if (ev->next_live)
		ev->next_live->prev_live = ev->prev_live;
	free(ev->chain);
	free(ev);
	v->anon = NULL;
}

/* Link avc (new, not yet in a tree) at the head of ev's chain and into av's tree. */
static int chain_push_head(struct evma *ev, struct eavc *avc, struct eav *av)
{
	if (ev->len == ev->cap) {
		uint32_t cap = ev->cap ? ev->cap * 2 : 4;
		struct eavc **nc = realloc(ev->chain, cap * sizeof(*nc));

		if (!nc)
			return -1;
		ev->chain = nc;
		ev->cap = cap;
	}
	ev->chain[ev->len++] = avc;
	avc->ev = ev;
	tree_insert(av, avc);
	return 0;
}

/* put_anon_vma / __put_anon_vma (§2.1): free at 0, then drop the root's reference. */
static void av_put(struct model *m, struct eav *av, enum model_why why)
{
	struct eav *root = av->root;

	if (--av->refcount > 0)
		return;
	av_free(m, av, why);
	if (root != av && --root->refcount == 0)
		av_free(m, root, why);
}

/* ------------------------------------------------------------------------- */
/* ops */

static int eager_create(const struct model_env *env, struct model **out, struct avm_err *err)
{
	struct model *m = calloc(1, sizeof(*m));

	if (!m)
		return avm_errf(err, "out of memory (eager model)");
	m->env = *env;
	m->profile = env->cfg ? env->cfg->profile : 3;
	if (m->profile < 1 || m->profile > 4)
		m->profile = 3;
	*out = m;
	return 0;
}

static void eager_destroy(struct model *m)
{
	if (!m)
		return;
	/* the simulator tore every mm down first; free whatever a bias kept alive */
	while (m->evmas) {
		struct evma *ev = m->evmas;

		m->evmas = ev->next_live;
		for (uint32_t i = 0; i < ev->len; i++)
			free(ev->chain[i]);
		ev->vma->anon = NULL;
		free(ev->chain);
		free(ev);
	}
	while (m->avs) {
		struct eav *av = m->avs;

		m->avs = av->next_live;
		free(av);
	}
	u64map_free(&m->adopt);
	free(m->session);
	free(m);
}

static bool eager_has_anon(const struct model *m, const struct mm_vma *v)
{
	(void)m;
	return anon_vma_of(v) != NULL;
}

/*
 * find_mergeable_anon_vma (§2.3): next first, then prev; the neighbour must
 * pass the attribute rules 1-5 and be faulted with a singular chain.
 */
static struct eav *find_mergeable_anon_vma(const struct mm_vma *v)
{
	const struct mm_vma *next = mm_vma_next(v), *prev = mm_vma_prev(v);

	if (next && mm_vma_reuse_attrs_ok(v, next) && anon_vma_of(next) && chain_len(next) == 1)
		return anon_vma_of(next);
	if (prev && mm_vma_reuse_attrs_ok(prev, v) && anon_vma_of(prev) && chain_len(prev) == 1)
		return anon_vma_of(prev);
	return NULL;
}

/* __anon_vma_prepare (§2.2): one AVC, and a new root AV unless a neighbour donates one. */
static int eager_prepare(struct model *m, struct mm_vma *v, struct avm_err *err)
{
	struct eavc *avc;
	struct eav *av;
	struct evma *ev;

	if (anon_vma_of(v))
		return 0;
	avc = avc_alloc(m, MODEL_WHY_FAULT, true);
	if (!avc)
		return avm_errf(err, "out of memory (anon_vma_chain)");
	av = find_mergeable_anon_vma(v);
	if (!av) {
		av = av_alloc(m, MODEL_WHY_FAULT, true);
		if (!av)
			return avm_errf(err, "out of memory (anon_vma)");
		av->num_children = 1; /* a root counts itself */
	}
	ev = evma_get(m, v);
	if (!ev || chain_push_head(ev, avc, av))
		return avm_errf(err, "out of memory (anon chain)");
	ev->anon_vma = av;
	av->num_active_vmas++;
	return 0;
}

static uint64_t eager_folio_owner(struct model *m, const struct mm_vma *v)
{
	(void)m;
	/* §4.1: an exclusive new folio points at vma->anon_vma */
	return anon_vma_of(v) ? anon_vma_of(v)->id : 0;
}

/* is_mergeable_anon_vma (§3.2), per profile. */
static bool eager_merge_ok(struct model *m, const struct mm_vma *tgt, const struct mm_vma *anon_src,
			   const struct mm_vma *middle, const struct mm_vma *copied_from)
{
	struct eav *t = anon_vma_of(tgt), *s = anon_vma_of(anon_src);

	if (m->profile == 1) {
		/* P1: one side unfaulted and the neighbour's chain singular, or equal AVs */
		if ((!t || !s) && chain_len(tgt) == 1)
			return true;
		return t == s;
	}
	if (!t && s) {
		/* case 1: src will be dup'ed into tgt - not from a fork child */
		if (fork_child(middle))
			return false;
		if (m->profile >= 3 && fork_child(copied_from))
			return false;
		return true;
	}
	if (t && !s)
		return !fork_child(tgt); /* case 2 */
	return t == s;                   /* case 3 */
}

static bool eager_merge_pair_ok(struct model *m, const struct mm_vma *prev, const struct mm_vma *next)
{
	struct eav *p = anon_vma_of(prev), *n = anon_vma_of(next);

	(void)m;
	return !p || !n || p == n;
}

/*
 * anon_vma_clone (§2.4): one AVC per source AVC.  P1-P3 ("old"): walk src
 * tail to head, pushing on dst's head, so dst keeps src's order; in fork
 * mode the first (oldest) AV with num_children < 2 and no active VMA is
 * reused.  P4 ("new"): dst is src reversed and the newest qualifying AV wins.
 */
static int chain_clone(struct model *m, struct evma *dst, const struct evma *src, bool fork_mode,
		       enum model_why why, struct avm_err *err)
{
	uint32_t i, n = src->len;

	for (i = 0; i < n; i++) {
		uint32_t k = m->profile == 4 ? n - 1 - i : i;
		struct eav *av = src->chain[k]->av;
		struct eavc *avc = avc_alloc(m, why, true);

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
static int eager_clone(struct model *m, struct mm_vma *dst, const struct mm_vma *src,
		       enum model_why why, struct avm_err *err)
{
	struct evma *sev = evma_of(src), *dev;

	if (!sev || !sev->anon_vma || anon_vma_of(dst))
		return 0;
	dev = evma_get(m, dst);
	if (!dev)
		return avm_errf(err, "out of memory (anon chain)");
	dev->anon_vma = sev->anon_vma;
	if (chain_clone(m, dev, sev, false, why, err))
		return -1;
	sev->anon_vma->num_active_vmas++;
	return 0;
}

static int eager_fork_begin(struct model *m, struct mm_space *parent, struct mm_space *child,
			    struct avm_err *err)
{
	(void)m;
	(void)parent;
	(void)child;
	(void)err;
	return 0;
}

/* anon_vma_fork (§2.5). */
static int eager_fork_vma(struct model *m, struct mm_vma *child, struct mm_vma *parent,
			  struct avm_err *err)
{
	struct evma *pev = evma_of(parent), *cev;
	struct eav *pav, *nav = NULL;
	struct eavc *navc = NULL;

	if (!pev || !pev->anon_vma)
		return 0;
	pav = pev->anon_vma;
	if (m->profile == 4) {
		/* P4: the child's AV and AVC come first, unlocked */
		nav = av_alloc(m, MODEL_WHY_FORK, true);
		navc = avc_alloc(m, MODEL_WHY_FORK, true);
		if (!nav || !navc)
			return avm_errf(err, "out of memory (anon_vma)");
	}
	cev = evma_get(m, child);
	if (!cev)
		return avm_errf(err, "out of memory (anon chain)");
	cev->anon_vma = NULL;
	if (chain_clone(m, cev, pev, true, MODEL_WHY_FORK, err))
		return -1;
	if (cev->anon_vma) {
		/* an existing AV was reused: +L(parent) AVCs, no AV (P4: alloc+free pair) */
		if (nav) {
			avc_free(m, navc, MODEL_WHY_FORK);
			av_free(m, nav, MODEL_WHY_FORK);
		}
		return 0;
	}
	if (!nav) {
		navc = avc_alloc(m, MODEL_WHY_FORK, false);
		nav = av_alloc(m, MODEL_WHY_FORK, false);
		if (!nav || !navc)
			return avm_errf(err, "out of memory (anon_vma)");
		/* tracing order: the clone's AVCs, then the AV, then its AVC */
		model_stats_alloc(m->env.stats, MODEL_OBJ_ANON_VMA, MODEL_WHY_FORK);
		model_stats_alloc(m->env.stats, MODEL_OBJ_AVC, MODEL_WHY_FORK);
	}
	nav->root = pav->root;
	nav->parent = pav;
	nav->root->refcount++;
	nav->num_active_vmas = 1;
	pav->num_children++;
	if (chain_push_head(cev, navc, nav))
		return avm_errf(err, "out of memory (anon chain)");
	cev->anon_vma = nav;
	return 0;
}

static int eager_fork_end(struct model *m, struct mm_space *parent, struct mm_space *child,
			  struct avm_err *err)
{
	(void)m;
	(void)parent;
	(void)child;
	(void)err;
	return 0;
}

/*
 * unlink_anon_vmas (§2.6): pass 1 head to tail takes each AVC out of its
 * tree; an AV whose tree empties loses its parent's num_children and is put
 * in pass 2 (which may free it and cascade to the root); other AVCs are freed
 * at once.  Then vma->anon_vma's num_active_vmas drops.
 */
static void eager_unlink(struct model *m, struct mm_vma *v, enum model_why why)
{
	struct evma *ev = evma_of(v);
	uint32_t i, kept = 0;

	if (!ev)
		return;
	for (i = ev->len; i-- > 0;) {
		struct eavc *avc = ev->chain[i];
		struct eav *av = avc->av;

		tree_remove(avc);
		if (av->tree_n == 0 && !av->tree_ext) {
			av->parent->num_children--;
			/* kept in slots already visited, same head-first order */
			ev->chain[ev->len - 1 - kept++] = avc;
		} else {
			avc_free(m, avc, why);
		}
	}
	if (ev->anon_vma)
		ev->anon_vma->num_active_vmas--;
	ev->anon_vma = NULL;
	for (i = 0; i < kept; i++) {
		struct eavc *avc = ev->chain[ev->len - 1 - i];

		av_put(m, avc->av, why);
		avc_free(m, avc, why);
	}
	ev->len = 0;
	evma_put(m, v);
}

/* ------------------------------------------------------------------------- */
/* adoption from snapshots */

static struct eav *adopt_av_get(struct model *m, uint64_t snap_id, bool preexisting,
				struct avm_err *err)
{
	struct eav *av = u64map_get(&m->adopt, snap_id);

	if (av)
		return av;
	av = av_alloc(m, MODEL_WHY_EXEC, false);
	if (!av || u64map_put(&m->adopt, snap_id, av)) {
		avm_errf(err, "out of memory (adopted anon_vma)");
		return NULL;
	}
	if (preexisting)
		model_stats_adopt(m->env.stats, MODEL_OBJ_ANON_VMA);
	else
		model_stats_alloc(m->env.stats, MODEL_OBJ_ANON_VMA, MODEL_WHY_EXEC);
	av->refcount = 0; /* recomputed at adopt_done */
	av->snap_id = snap_id;
	av->in_session = true;
	if (m->nsession == m->capsession) {
		size_t cap = m->capsession ? m->capsession * 2 : 64;
		struct eav **ns = realloc(m->session, cap * sizeof(*ns));

		if (!ns) {
			avm_errf(err, "out of memory (adoption)");
			return NULL;
		}
		m->session = ns;
		m->capsession = cap;
	}
	m->session[m->nsession++] = av;
	return av;
}

static int eager_adopt_av(struct model *m, const struct avm_snap_av *sa, struct avm_err *err)
{
	struct eav *av = adopt_av_get(m, sa->id, true, err);

	if (!av)
		return -1;
	av->snap_known = true;
	av->snap_root = sa->root;
	av->snap_parent = sa->parent;
	av->snap_ref = sa->refcount;
	av->snap_children = sa->num_children;
	av->snap_active = sa->num_active_vmas;
	m->adopt_preexisting = true;
	return 0;
}

/*
 * A VMA of a snapshot: link its chain (the row lists it head first).  Exec
 * snapshots: the objects were allocated during execve (MODEL_WHY_EXEC);
 * start snapshots: they predate the trace (adopted, not allocated).
 */
static int eager_adopt(struct model *m, struct mm_vma *v, const struct avm_snap_vma *sv,
		       bool preexisting, struct avm_err *err)
{
	uint64_t ids[AVM_CHAIN_MAX + 1];
	uint32_t n = sv->chain_len < AVM_CHAIN_MAX ? sv->chain_len : AVM_CHAIN_MAX, i;
	struct evma *ev;
	bool own_in_chain = false;

	if (!sv->anon_vma)
		return 0;
	for (i = 0; i < n; i++) {
		ids[i] = sv->chain[i];
		own_in_chain |= ids[i] == sv->anon_vma;
	}
	if (!own_in_chain)
		ids[n++] = sv->anon_vma; /* truncated chain or a bare row: link the own AV */
	ev = evma_get(m, v);
	if (!ev)
		return avm_errf(err, "out of memory (anon chain)");
	m->adopt_preexisting = m->adopt_preexisting || preexisting;
	for (i = n; i-- > 0;) {
		struct eav *av = adopt_av_get(m, ids[i], preexisting, err);
		struct eavc *avc;
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
		avc = avc_alloc(m, MODEL_WHY_EXEC, !preexisting);
		if (!avc || chain_push_head(ev, avc, av))
			return avm_errf(err, "out of memory (anon_vma_chain)");
		if (preexisting)
			model_stats_adopt(m->env.stats, MODEL_OBJ_AVC);
	}
	ev->anon_vma = u64map_get(&m->adopt, sv->anon_vma);
	ev->anon_vma->num_active_vmas++;
	if (sv->anon_vma == ev->anon_vma->snap_id && !ev->anon_vma->snap_known && preexisting) {
		struct eav *av = ev->anon_vma;

		av->snap_known = true;
		av->snap_root = sv->av_root ? sv->av_root : av->snap_root;
		av->snap_parent = sv->av_parent ? sv->av_parent : av->snap_parent;
		av->snap_ref = sv->av_refcount;
		av->snap_children = sv->av_children;
		av->snap_active = sv->av_active;
	}
	return 0;
}

/* Resolve roots and parents, compute the structural counters, keep the kernel's as bias. */
static int eager_adopt_done(struct model *m, struct avm_err *err)
{
	size_t i;

	(void)err;
	for (i = 0; i < m->nsession; i++) {
		struct eav *av = m->session[i], *r, *p;

		r = av->snap_root ? u64map_get(&m->adopt, av->snap_root) : NULL;
		p = av->snap_parent ? u64map_get(&m->adopt, av->snap_parent) : NULL;
		av->root = r ? r : av;
		if (av->root->root != av->root)
			av->root = av->root->root;
		av->parent = p ? p : av->root;
		av->refcount = 0;
		av->num_children = 0;
	}
	for (i = 0; i < m->nsession; i++) {
		struct eav *av = m->session[i];

		if (av->tree_n)
			av->refcount++;
		if (av->root != av)
			av->root->refcount++;
		if (av->tree_n)
			av->parent->num_children++;
	}
	for (i = 0; i < m->nsession; i++) {
		struct eav *av = m->session[i];

		if (av->snap_known && m->adopt_preexisting) {
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
	for (i = 0; i < m->nsession; i++) {
		struct eav *av = m->session[i];

		if (av->bias_active <= 0)
			continue;
		for (; !av->tree_ext; av = av->parent) {
			av->tree_ext = true;
			if (av->parent == av)
				break;
		}
	}
	for (i = 0; i < m->nsession; i++)
		m->session[i]->in_session = false;
	m->nsession = 0;
	m->adopt_preexisting = false;
	u64map_free(&m->adopt);
	return 0;
}

/* ------------------------------------------------------------------------- */
/* the invariant checker */

static int eager_check(struct model *m, struct avm_err *err)
{
	struct u64map live = { 0 }, refs = { 0 }, kids = { 0 }, active = { 0 };
	uint64_t nav = 0, navc = 0;
	struct eav *av;
	struct evma *ev;
	int rc = -1;

#define BUMP(map, key) u64map_put(&(map), (key), (void *)((uintptr_t)u64map_get(&(map), (key)) + 1))
	for (av = m->avs; av; av = av->next_live) {
		if (u64map_put(&live, (uint64_t)(uintptr_t)av, av))
			goto oom;
		nav++;
	}
	for (av = m->avs; av; av = av->next_live) {
		struct eavc *avc;
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
	for (ev = m->evmas; ev; ev = ev->next_live) {
		uint32_t i, j;
		bool own = false;

		if (!ev->anon_vma || !ev->len || ev->vma->anon != ev) {
			avm_errf(err, "VMA %llu: anon_vma %s but chain length %u",
				 (unsigned long long)ev->vma->id, ev->anon_vma ? "set" : "NULL", ev->len);
			goto out;
		}
		for (i = 0; i < ev->len; i++) {
			struct eavc *avc = ev->chain[i];

			if (avc->ev != ev || !u64map_get(&live, (uint64_t)(uintptr_t)avc->av)) {
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
			own |= avc->av == ev->anon_vma;
			navc++;
		}
		if (!own) {
			avm_errf(err, "VMA %llu: its anon_vma is not on its chain",
				 (unsigned long long)ev->vma->id);
			goto out;
		}
		if (BUMP(active, (uint64_t)(uintptr_t)ev->anon_vma))
			goto oom;
	}
	for (av = m->avs; av; av = av->next_live) {
		uint64_t k = (uint64_t)(uintptr_t)av;
		int64_t r = (int64_t)(uintptr_t)u64map_get(&refs, k) + av->bias_ref;
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
	if (nav != m->env.stats->obj[MODEL_OBJ_ANON_VMA].live ||
	    navc != m->env.stats->obj[MODEL_OBJ_AVC].live) {
		avm_errf(err, "live anon_vma/AVC %llu/%llu, stats say %llu/%llu",
			 (unsigned long long)nav, (unsigned long long)navc,
			 (unsigned long long)m->env.stats->obj[MODEL_OBJ_ANON_VMA].live,
			 (unsigned long long)m->env.stats->obj[MODEL_OBJ_AVC].live);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	avm_errf(err, "out of memory (eager check)");
out:
#undef BUMP
	u64map_free(&live);
	u64map_free(&refs);
	u64map_free(&kids);
	u64map_free(&active);
	return rc;
}

const struct model_ops model_eager_ops = {
	.name = "eager",
	.create = eager_create,
	.destroy = eager_destroy,
	.has_anon = eager_has_anon,
	.prepare = eager_prepare,
	.folio_owner = eager_folio_owner,
	.merge_ok = eager_merge_ok,
	.merge_pair_ok = eager_merge_pair_ok,
	.clone = eager_clone,
	.fork_begin = eager_fork_begin,
	.fork_vma = eager_fork_vma,
	.fork_end = eager_fork_end,
	.unlink = eager_unlink,
	.vma_pin = NULL,
	.folio_gone = NULL,
	.adopt = eager_adopt,
	.adopt_av = eager_adopt_av,
	.adopt_done = eager_adopt_done,
	.check = eager_check,
};
