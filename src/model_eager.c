/*
 * model_eager.c - the mainline anon rmap (anon_vma + anon_vma_chain), every
 * rule of docs/kernel/eager.md §2-§3, behind model_ops (model.h).
 *
 * The objects and rules live in anon_vma.c (shared with the lazy model,
 * which behaves like mainline once a VMA has real anon_vmas); this file is
 * the design's choice of when to apply them: every first fault prepares
 * (with neighbour reuse), every fork runs anon_vma_fork, and a VMA's anon
 * state (vma->anon) is its struct av_vma.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "anon_vma.h"
#include "config.h"
#include "mm.h"
#include "model.h"

struct model {
	struct model_env env;
	struct av_space sp;
};

static struct av_vma *eager_avv_of(const struct mm_vma *v)
{
	return v->anon;
}

static int eager_create(const struct model_env *env, struct model **out, struct avm_err *err)
{
	struct model *m = calloc(1, sizeof(*m));

	if (!m)
		return avm_errf(err, "out of memory (eager model)");
	m->env = *env;
	av_space_init(&m->sp, env->stats, env->cfg ? env->cfg->profile : 3, eager_avv_of);
	m->sp.env = &m->env; /* lock sections (locks.h) when the world accounts them */
	*out = m;
	return 0;
}

static void eager_destroy(struct model *m)
{
	struct av_vma *avv;

	if (!m)
		return;
	for (avv = m->sp.avvs; avv; avv = avv->next_live)
		avv->vma->anon = NULL;
	av_space_destroy(&m->sp);
	free(m);
}

static bool eager_has_anon(const struct model *m, const struct mm_vma *v)
{
	return av_anon_vma_of(&m->sp, v) != NULL;
}

/* vma->anon_vma_chain's length (eager.md §1.4: one AVC per anon_vma of the chain). */
static uint32_t eager_chain_len(const struct model *m, const struct mm_vma *v)
{
	return av_chain_len(&m->sp, v);
}

/* __anon_vma_prepare (§2.2): one AVC, and a new root AV unless a neighbour donates one. */
static int eager_prepare(struct model *m, struct mm_vma *v, struct avm_err *err)
{
	struct av_vma *avv;

	assert(!v->anon); /* model.h: prepare only a VMA without anon state */
	avv = av_vma_new(&m->sp, v);
	if (!avv)
		return avm_errf(err, "out of memory (anon chain)");
	v->anon = avv;
	return av_prepare(&m->sp, avv, av_find_mergeable(&m->sp, v), MODEL_WHY_FAULT, err);
}

static uint64_t eager_folio_owner(struct model *m, const struct mm_vma *v)
{
	struct anon_vma *av = av_anon_vma_of(&m->sp, v);

	assert(av); /* mm.c prepares before it maps a folio */
	/* §4.1: an exclusive new folio points at vma->anon_vma */
	return av->id;
}

static bool eager_merge_ok(struct model *m, const struct mm_vma *tgt, const struct mm_vma *anon_src,
			   const struct mm_vma *middle, const struct mm_vma *copied_from)
{
	return av_merge_ok(&m->sp, tgt, anon_src, middle, copied_from);
}

static bool eager_merge_pair_ok(struct model *m, const struct mm_vma *prev, const struct mm_vma *next)
{
	struct anon_vma *p = av_anon_vma_of(&m->sp, prev), *n = av_anon_vma_of(&m->sp, next);

	return !p || !n || p == n;
}

/* split, merge dup, mremap copy: dst->anon_vma = src->anon_vma, then clone (+L(src)). */
static int eager_clone(struct model *m, struct mm_vma *dst, const struct mm_vma *src,
		       enum model_why why, struct avm_err *err)
{
	struct av_vma *savv = src->anon, *davv;

	assert(savv && savv->anon_vma && !dst->anon); /* model.h: src faulted, dst not */
	davv = av_vma_new(&m->sp, dst);
	if (!davv)
		return avm_errf(err, "out of memory (anon chain)");
	dst->anon = davv;
	return av_clone(&m->sp, davv, savv, why, err);
}

/* anon_vma_fork (§2.5). */
static int eager_fork_vma(struct model *m, struct mm_vma *child, struct mm_vma *parent,
			  struct avm_err *err)
{
	struct av_vma *pavv = parent->anon, *cavv;

	assert(pavv && pavv->anon_vma && !child->anon); /* mm.c forks only faulted VMAs */
	cavv = av_vma_new(&m->sp, child);
	if (!cavv)
		return avm_errf(err, "out of memory (anon chain)");
	child->anon = cavv;
	return av_fork(&m->sp, cavv, pavv, err);
}

/* unlink_anon_vmas (§2.6). */
static void eager_unlink(struct model *m, struct mm_vma *v, enum model_why why)
{
	struct av_vma *avv = v->anon;

	assert(avv); /* mm.c unlinks only VMAs with anon state */
	v->anon = NULL;
	av_unlink(&m->sp, avv, why);
}

static int eager_adopt_av(struct model *m, const struct avm_snap_av *sa, struct avm_err *err)
{
	return av_adopt_av(&m->sp, sa, err);
}

/* A VMA of a snapshot: its chain, as the kernel had it (av_adopt). */
static int eager_adopt(struct model *m, struct mm_vma *v, const struct avm_snap_vma *sv,
		       bool preexisting, struct avm_err *err)
{
	struct av_vma *avv;

	if (!sv->anon_vma)
		return 0;
	assert(!v->anon); /* a snapshot VMA is new to the world */
	avv = av_vma_new(&m->sp, v);
	if (!avv)
		return avm_errf(err, "out of memory (anon chain)");
	v->anon = avv;
	return av_adopt(&m->sp, avv, sv, preexisting, err);
}

static int eager_adopt_done(struct model *m, struct avm_err *err)
{
	return av_adopt_done(&m->sp, err);
}

/* rmap_walk_anon (eager.md §5): the shared mainline walk. */
static void eager_rmap_walk(struct model *m, const struct mm_folio_ref *f, struct model_walk *w)
{
	av_rmap_walk(&m->sp, f, w);
}

/* THP split (eager.md §5 "THP split"): the folio's anon_vma root, write. */
static void eager_thp_split(struct model *m, const struct mm_folio_ref *f)
{
	av_thp_split(&m->sp, f);
}

/* khugepaged collapse: vma->anon_vma's root, write, around isolating the PTEs. */
static void eager_thp_collapse(struct model *m, uint64_t mm_id)
{
	av_thp_collapse(&m->sp, mm_id);
}

/* A stable KSM rmap_item holds a reference on vma->anon_vma (eager.md §7 "KSM"). */
static int eager_ksm_pin(struct model *m, struct mm_vma *v, uint64_t addr, uint64_t *pin,
			 struct avm_err *err)
{
	struct anon_vma *av = av_anon_vma_of(&m->sp, v);

	(void)addr;
	(void)err;
	*pin = 0;
	if (!av)
		return 0;
	av->refcount++;
	av->pins++;
	*pin = (uint64_t)(uintptr_t)av;
	return 0;
}

/* put_anon_vma when the item goes: the anon_vma is freed here if nothing else holds it. */
static void eager_ksm_unpin(struct model *m, uint64_t pin)
{
	struct anon_vma *av = (struct anon_vma *)(uintptr_t)pin;

	av->pins--;
	av_put(&m->sp, av, MODEL_WHY_UNMAP);
}

/* model.h draw: vma->anon_vma. */
static char eager_draw(const struct model *m, const struct mm_vma *v, uint64_t *id)
{
	struct anon_vma *av = av_anon_vma_of(&m->sp, v);

	*id = av ? av->id : 0;
	return av ? '*' : 0;
}

static int eager_check(struct model *m, struct avm_err *err)
{
	return av_check(&m->sp, true, err);
}

const struct model_ops model_eager_ops = {
	.name = "eager",
	.create = eager_create,
	.destroy = eager_destroy,
	.has_anon = eager_has_anon,
	.chain_len = eager_chain_len,
	.prepare = eager_prepare,
	.folio_owner = eager_folio_owner,
	.merge_ok = eager_merge_ok,
	.merge_pair_ok = eager_merge_pair_ok,
	.clone = eager_clone,
	.fork_begin = NULL,
	.fork_vma = eager_fork_vma,
	.fork_end = NULL,
	.unlink = eager_unlink,
	.vma_pin = NULL,
	.folio_gone = NULL,
	.adopt = eager_adopt,
	.adopt_av = eager_adopt_av,
	.adopt_done = eager_adopt_done,
	.check = eager_check,
	.rmap_walk = eager_rmap_walk,
	.thp_split = eager_thp_split,
	.thp_collapse = eager_thp_collapse,
	.ksm_pin = eager_ksm_pin,
	.ksm_unpin = eager_ksm_unpin,
	.draw = eager_draw,
};
