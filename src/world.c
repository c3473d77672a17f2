/*
 * world.c - one simulator + one model + their stats (world.h).
 *
 * The world owns the model_stats (object sizes set from meta/config before
 * anything is counted), creates the model with a model_env pointing at the
 * simulator, and runs the invariant checkers after every event when asked.
 * An adoption (start snapshot or exec snapshot) is closed with the model's
 * adopt_done before the next event is applied.
 *
 * Every world follows the trace's measured mmap_lock write holds
 * (locks.h locks_measured, always on: one mask test per event) and hands
 * them to its model through model_env.measured, after the event's rmap
 * walks ran (they happen at the event's time, before it).
 */
#include "world.h"
#include "world_test.h"

#include <stdlib.h>
#include <string.h>

#include "rmap_walk.h"
#include "track.h"
#include "u64map.h"
#include "verdict.h"

struct world {
	const struct model_ops *ops;
	struct model *model;
	struct mm_sim *sim;
	struct model_stats stats;
	struct config cfg;
	bool check;
	bool adopt_open; /* a start-snapshot adoption awaits adopt_done */
	/* arch accounting (locks, page tables), when meta->arch is set */
	const struct arch *arch;
	struct locks *locks;
	struct locks_measured *measured; /* the trace's mmap_lock write holds, always */
	struct arch_pt_stats pt_stats;
	struct model_clock clock; /* the event being applied */
	/* --calibrate: the fit, and per task (tid + 1) its open or finished write hold */
	struct locks_calib *calib;
	struct u64map holds;
	struct forkfit *fork_fit; /* --calibrate with measured fork latencies */
	/* rmap walks (rmap_walk.h): observed ones, and what-if pressure when configured */
	struct rmap_walk *rw;
	bool rw_pressure;
	/* fork cost, series, per-process bytes (track.h) */
	struct track *track;
	uint64_t t_next, t_last; /* the series' next boundary; the latest event time */
	uint32_t vma_base; /* vm_area_struct size before the model added its growth */
	/* re-costable fork work (verdict.h) and the upgrades forks paid */
	struct verdict_forks *forks;
	uint64_t upg_forks, upg_total_ns, upg_max_ns;
};

/* Counters a fork's cost is the difference of. */
struct world_fork_mark {
	uint64_t forks, lock_ns, ptes, tables, upgrade_ns;
	struct locks_mark work;
};

/* One task's mmap_lock write hold, as the trace measured it. */
struct world_hold {
	uint64_t mm;
	uint64_t acquired;   /* t of the acquisition, 0: none open */
	bool downgraded;     /* the write hold became a read hold (mmap_write_downgrade) */
	uint64_t held_ns;    /* finished holds not yet paired with a syscall */
};

/* The counters a calibration sample is the difference of. */
struct world_work {
	uint64_t av_allocs, av_frees, avc_allocs, avc_frees, vma_allocs, rewrites, sections;
	uint64_t ptes, tables;
};

void world_meta_defaults(struct world_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->size_anon_vma = 104;
	m->size_avc = 64;
	m->size_vma = 192;
	m->page_size = 4096;
	m->thp_enabled = -1;
	m->pt_reclaim = -1;
}

int world_create(const struct config *cfg, const struct model_ops *ops,
		 const struct world_meta *meta, struct world **out, struct avm_err *err)
{
	struct world *w = calloc(1, sizeof(*w));
	struct mm_sim_params p;
	struct model_env env = { 0 };

	if (!w)
		return avm_errf(err, "out of memory (world)");
	w->ops = ops;
	w->cfg = *cfg;
	w->stats.obj_size[MODEL_OBJ_ANON_VMA] = cfg->size_anon_vma ? cfg->size_anon_vma :
						meta->size_anon_vma ? meta->size_anon_vma : 104;
	w->stats.obj_size[MODEL_OBJ_AVC] = cfg->size_avc ? cfg->size_avc :
					   meta->size_avc ? meta->size_avc : 64;
	w->stats.obj_size[MODEL_OBJ_VMA] = cfg->size_vma ? cfg->size_vma :
					   meta->size_vma ? meta->size_vma : 192;
	w->vma_base = w->stats.obj_size[MODEL_OBJ_VMA];
	if (track_create(NULL, &w->track, err))
		goto fail;
	w->t_next = track_time(w->track, 0, &w->stats);
	mm_sim_params_defaults(&p);
	p.profile = (enum mm_profile)cfg->profile;
	p.page_size = meta->page_size ? meta->page_size : 4096;
	p.thp_enabled = cfg->thp_from_trace && meta->thp_enabled >= 0 ? meta->thp_enabled :
								   cfg->thp_enabled;
	p.overcommit_never = cfg->overcommit_never;
	p.skip_unknown_mm = meta->skip_unknown_mm;
	if (meta->arch) {
		if (meta->arch->page_size != p.page_size) {
			avm_errf(err, "arch %s has %llu-byte pages but the trace has %llu",
				 meta->arch->name, (unsigned long long)meta->arch->page_size,
				 (unsigned long long)p.page_size);
			goto fail;
		}
		w->arch = meta->arch;
		p.arch = meta->arch;
		p.pt_stats = &w->pt_stats;
		p.pmd_size = meta->arch->pmd_size;
		struct locks_recost rc;

		if (locks_create(&w->locks, err))
			goto fail;
		arch_recost(meta->arch, &rc);
		locks_set_costs(w->locks, &rc);
		if (!meta->no_recost && (locks_log_enable(w->locks, WORLD_LOCK_LOG_MAX, err) ||
					 verdict_forks_create(&w->forks, err)))
			goto fail;
	}
	p.pt_reclaim = meta->pt_reclaim == 1;
	p.ksm = cfg->ksm;
	if (meta->thp_anon_sizes && mm_sim_params_thp_sizes(&p, meta->thp_anon_sizes, err))
		goto fail;
	if (p.anon_orders_known && !cfg->thp_from_trace) {
		/* kernel.thp_enabled set in the config decides the PMD path, as it always did */
		uint64_t pmd = 1ULL << __builtin_ctzll(p.pmd_size / p.page_size);

		p.anon_orders_always &= ~pmd;
		p.anon_orders_madvise &= ~pmd;
		p.anon_orders_inherit |= pmd;
	}
	if (locks_measured_create(&w->measured, err))
		goto fail;
	/* the simulator first (the model's env points at it), then the model */
	if (mm_sim_create(&p, ops, NULL, &w->stats, &w->sim, err))
		goto fail;
	env.sim = w->sim;
	env.stats = &w->stats;
	env.cfg = &w->cfg;
	env.locks = w->locks;
	env.arch = w->arch;
	env.clock = &w->clock;
	env.measured = w->measured;
	if (ops->create(&env, &w->model, err))
		goto fail;
	mm_sim_set_model(w->sim, w->model);
	mm_sim_set_locks(w->sim, w->locks, &w->clock); /* mainline VMA write locks, every world */
	if (rmap_walk_create(&w->cfg, &w->rw, err))
		goto fail;
	w->rw_pressure = rmap_walk_pressure(w->rw);
	*out = w;
	return 0;
fail:
	world_destroy(w);
	return -1;
}

void world_destroy(struct world *w)
{
	if (!w)
		return;
	if (w->model && w->ops->adopt_done) {
		/* an adoption left open by an error: its counters are what teardown puts */
		struct avm_err ignored;

		(void)w->ops->adopt_done(w->model, &ignored);
	}
	mm_sim_destroy(w->sim); /* tears down every mm through the model first */
	if (w->model)
		w->ops->destroy(w->model);
	locks_destroy(w->locks);
	locks_measured_destroy(w->measured);
	rmap_walk_destroy(w->rw);
	track_destroy(w->track);
	verdict_forks_destroy(w->forks);
	world_set_fork_latencies(w, false, NULL);
	world_set_calibrate(w, false, NULL);
	free(w);
}

void world_set_check(struct world *w, bool on)
{
	w->check = on;
}

void world_set_check_rmap(struct world *w, bool on)
{
	rmap_walk_set_check(w->rw, on ? w->sim : NULL);
}

int world_check(struct world *w, struct avm_err *err)
{
	if (mm_sim_check(w->sim, err))
		return avm_err_prefix(err, "simulator invariant");
	if (w->ops->check && w->ops->check(w->model, err))
		return avm_err_prefix(err, "%s model invariant", w->ops->name);
	return 0;
}

static int close_adoption(struct world *w, struct avm_err *err)
{
	if (!w->adopt_open)
		return 0;
	w->adopt_open = false;
	if (w->ops->adopt_done && w->ops->adopt_done(w->model, err))
		return avm_err_prefix(err, "start snapshot");
	return 0;
}

static int after_event(struct world *w, const struct avm_event *ev, struct avm_err *err)
{
	if (!w->check)
		return 0;
	if (world_check(w, err))
		return avm_err_prefix(err, "after event %llu (kind %u)",
				      (unsigned long long)ev->seq, ev->kind);
	return 0;
}

/* ---- calibration ------------------------------------------------------------------- */

int world_set_calibrate(struct world *w, bool on, struct avm_err *err)
{
	uint64_t it = 0, key;
	void *val;

	if (on && !w->calib) {
		if (!w->locks)
			return avm_errf(err, "--calibrate needs an arch model");
		w->calib = calloc(1, sizeof(*w->calib));
		if (!w->calib)
			return avm_errf(err, "out of memory (calibration)");
	} else if (!on) {
		while (u64map_next(&w->holds, &it, &key, &val))
			free(val);
		u64map_free(&w->holds);
		free(w->calib);
		w->calib = NULL;
	}
	return 0;
}

const struct locks_calib *world_calib(const struct world *w)
{
	return w->calib;
}

/*
 * The sections a calibration sample counts (LOCKS_CF_LOCK): anon_vma and
 * mmap_lock sections, as before the simulator recorded VMA write locks and
 * the lazy model page-table lock sections (their costs are not fitted).
 */
static uint64_t calib_sections(const struct locks *l)
{
	struct locks_summary vma, ptl_r, ptl_w;

	locks_summary(l, LOCKS_VMA, LOCKS_WRITE, &vma);
	locks_summary(l, LOCKS_PTL, LOCKS_READ, &ptl_r);
	locks_summary(l, LOCKS_PTL, LOCKS_WRITE, &ptl_w);
	return locks_count(l) - vma.count - ptl_r.count - ptl_w.count;
}

int world_set_fork_latencies(struct world *w, bool on, struct avm_err *err)
{
	if (on && !w->fork_fit) {
		if (!w->calib)
			return avm_errf(err, "fork latencies are fitted by --calibrate only");
		w->fork_fit = calloc(1, sizeof(*w->fork_fit));
		if (!w->fork_fit)
			return avm_errf(err, "out of memory (fork latencies)");
	} else if (!on && w->fork_fit) {
		forkfit_free(w->fork_fit);
		free(w->fork_fit);
		w->fork_fit = NULL;
	}
	return 0;
}

const struct forkfit *world_forkfit(const struct world *w)
{
	return w->fork_fit;
}

static void work_now(const struct world *w, struct world_work *k)
{
	const struct model_stats *s = &w->stats;

	k->av_allocs = s->obj[MODEL_OBJ_ANON_VMA].allocs;
	k->av_frees = s->obj[MODEL_OBJ_ANON_VMA].frees;
	k->avc_allocs = s->obj[MODEL_OBJ_AVC].allocs;
	k->avc_frees = s->obj[MODEL_OBJ_AVC].frees;
	k->vma_allocs = s->obj[MODEL_OBJ_VMA].allocs;
	k->rewrites = s->folio_rewrites;
	k->sections = calib_sections(w->locks);
	k->ptes = w->pt_stats.fork_ptes;
	k->tables = w->pt_stats.fork_tables;
}

/* The VMA-changing syscalls that take mmap_lock for write (eager.md §5). */
static bool takes_mmap_write(uint32_t kind)
{
	return kind == AVM_FORK || kind == AVM_MMAP || kind == AVM_MUNMAP ||
	       kind == AVM_MPROTECT || kind == AVM_MREMAP || kind == AVM_BRK;
}

/*
 * A step of the task itself (a fault, another syscall, exec or exit), after
 * which a finished hold can no longer belong to a later syscall.  Kernel
 * activity of the task (slab, TLB, migration events) is not a step.
 */
static bool task_step(uint32_t kind)
{
	return (kind >= AVM_FORK && kind <= AVM_EXIT) || (kind >= AVM_MMAP && kind <= AVM_PRCTL_THP) ||
	       kind == AVM_FAULT || kind == AVM_POPULATE ||
	       (kind >= AVM_UFFD_REGISTER && kind <= AVM_UFFD_POISON);
}

/* AVM_MMAP_LOCK: a=1 write, b=phase, c=success.  Write holds only. */
static int calib_lock_event(struct world *w, const struct avm_event *ev, struct avm_err *err)
{
	struct world_hold *h = u64map_get(&w->holds, (uint64_t)ev->tid + 1);

	if (ev->a != 1) {
		/*
		 * Read side: munmap, brk and mremap downgrade their write hold to
		 * read before they unlink (eager.md §5); the hold we time runs
		 * until that read is released.
		 */
		if (h && h->acquired && h->mm == ev->mm) {
			if (ev->b == AVM_LOCK_ACQUIRED && ev->c)
				h->downgraded = true;
			else if (ev->b == AVM_LOCK_RELEASED && h->downgraded)
				goto release;
		}
		return 0;
	}
	if (!h) {
		if (ev->b != AVM_LOCK_ACQUIRED || !ev->c)
			return 0;
		h = calloc(1, sizeof(*h));
		if (!h || u64map_put(&w->holds, (uint64_t)ev->tid + 1, h)) {
			free(h);
			return avm_errf(err, "out of memory (calibration)");
		}
	}
	if (ev->b == AVM_LOCK_ACQUIRED && ev->c) {
		/* dup_mmap nests the child's lock inside the parent's: keep the outer one */
		if (h->acquired)
			return 0;
		if (h->mm != ev->mm)
			h->held_ns = 0;
		h->mm = ev->mm;
		h->acquired = ev->t;
		h->downgraded = false;
	} else if (ev->b == AVM_LOCK_RELEASED && h->acquired && h->mm == ev->mm && !h->downgraded) {
		goto release;
	}
	return 0;
release:
	h->held_ns += ev->t > h->acquired ? ev->t - h->acquired : 0;
	h->acquired = 0;
	h->downgraded = false;
	return 0;
}

/* The syscall ev was applied: pair the task's measured holds with the work done. */
static void calib_sample(struct world *w, const struct avm_event *ev, const struct world_work *b)
{
	struct world_hold *h = u64map_get(&w->holds, (uint64_t)ev->tid + 1);
	struct world_work a;
	double x[LOCKS_CF_NR] = { 0 };

	if (!h || !h->held_ns || h->mm != ev->mm || h->acquired)
		return;
	work_now(w, &a);
	x[LOCKS_CF_LOCK] = (double)(a.sections - b->sections);
	x[LOCKS_CF_AV_ALLOC] = (double)(a.av_allocs - b->av_allocs);
	x[LOCKS_CF_AV_FREE] = (double)(a.av_frees - b->av_frees);
	x[LOCKS_CF_AVC_LINK] = (double)(a.avc_allocs - b->avc_allocs);
	x[LOCKS_CF_AVC_UNLINK] = (double)(a.avc_frees - b->avc_frees);
	x[LOCKS_CF_FOLIO_REWRITE] = (double)(a.rewrites - b->rewrites);
	x[LOCKS_CF_PTE_COPY] = (double)(a.ptes - b->ptes);
	x[LOCKS_CF_PT_TABLE] = (double)(a.tables - b->tables);
	x[LOCKS_CF_VMA_COPY] = (double)(a.vma_allocs - b->vma_allocs);
	x[LOCKS_CF_BASE] = 1;
	locks_calib_add(w->calib, x, (double)h->held_ns);
	u64map_del(&w->holds, (uint64_t)ev->tid + 1);
	free(h);
}

/*
 * A fork with a measured latency was applied: its sample is the work the
 * model did for it.  b is the work before it, forks_before the fork count.
 */
static int fork_sample(struct world *w, const struct avm_event *ev, const struct world_work *b,
		       uint64_t forks_before, struct avm_err *err)
{
	struct world_work a;
	double x[FORKFIT_NR] = { 0 };

	if (ev->a == (int64_t)ev->mm) {
		w->fork_fit->threads++; /* CLONE_VM: nothing copied */
		return 0;
	}
	if (ev->f != 0) {
		w->fork_fit->switched++; /* its latency includes time another task ran */
		return 0;
	}
	if (mm_sim_stats(w->sim)->forks == forks_before) {
		w->fork_fit->unmodelled++;
		return 0;
	}
	work_now(w, &a);
	x[FORKFIT_VMA] = (double)(a.vma_allocs - b->vma_allocs);
	x[FORKFIT_AVC] = (double)(a.avc_allocs - b->avc_allocs);
	x[FORKFIT_PTE] = (double)(a.ptes - b->ptes);
	x[FORKFIT_TABLE] = (double)(a.tables - b->tables);
	return forkfit_add(w->fork_fit, x, (double)ev->e, err);
}

/* ---- fork cost, series, per-process bytes (track.h) ----------------------------- */

/*
 * Live bytes of anon rmap objects: anon_vma + AVC, plus what the design adds
 * to vm_area_structs (lazy: its per-VMA growth, and whole objects it keeps
 * pinned after munmap).  bytes_live counts every mapped VMA at the model's
 * size; taking off the base size of the mapped ones leaves exactly that.
 */
static int64_t rmap_bytes(const struct world *w)
{
	const struct model_stats *s = &w->stats;

	return (int64_t)s->bytes_live -
	       (int64_t)((s->obj[MODEL_OBJ_VMA].live - s->pinned_vmas) * w->vma_base);
}

static void fork_mark(const struct world *w, struct world_fork_mark *m)
{
	m->forks = mm_sim_stats(w->sim)->forks;
	m->lock_ns = 0;
	if (w->locks) {
		struct locks_summary vma;

		/*
		 * The anon rmap's part: not dup_mmap's VMA write locks, which both
		 * designs pay; lazy's folio rewrites charged to a VMA write lock
		 * (lazy.rewrite_lock vma_write) stay in.
		 */
		locks_summary(w->locks, LOCKS_VMA, LOCKS_WRITE, &vma);
		m->lock_ns = locks_total_ns(w->locks) + locks_unlocked_ns(w->locks) - vma.total_ns +
			     vma.total_ns_by_why[LOCKS_WHY_UPGRADE] +
			     vma.total_ns_by_why[LOCKS_WHY_REWRITE];
	}
	m->ptes = w->pt_stats.fork_ptes;
	m->tables = w->pt_stats.fork_tables;
	m->upgrade_ns = w->stats.upgrade_ns;
	if (w->locks)
		locks_mark(w->locks, &m->work);
}

/*
 * After ev was applied: its change of anon rmap bytes belongs to its process,
 * a fork's to the child (ev->d); a dup_mmap fork's cost is the lock sections
 * the model recorded meanwhile, the allocations it made outside them, and
 * copy_page_range (docs/report.md).
 */
static int track_event(struct world *w, const struct avm_event *ev, int64_t bytes0,
		       const struct world_fork_mark *before, struct avm_err *err)
{
	int64_t delta = rmap_bytes(w) - bytes0;
	uint32_t owner = ev->pid;

	if (ev->kind == AVM_FORK)
		owner = ev->d ? (uint32_t)ev->d : ev->b ? (uint32_t)ev->b : ev->pid;
	if (delta && track_bytes(w->track, owner, ev->mm, delta, err))
		return -1;
	if (before && w->locks) {
		struct world_fork_mark after;

		fork_mark(w, &after);
		if (after.forks != before->forks) {
			struct locks_mark work;
			uint64_t upg = after.upgrade_ns - before->upgrade_ns;

			track_fork(w->track, after.lock_ns - before->lock_ns,
				   (after.ptes - before->ptes) * w->arch->cost.fork_pte_ns +
				   (after.tables - before->tables) * w->arch->cost.fork_table_ns);
			locks_mark_sub(&after.work, &before->work, &work);
			/*
			 * As fork_mark: dup_mmap's VMA write locks are not the anon
			 * rmap's part (both designs pay them), so the re-costed fork
			 * work leaves them out too; lazy's rewrites charged to a VMA
			 * write lock carry folio_rewrite units only and stay.
			 */
			work.n[LOCKS_OP_VMA_WRITE] = 0;
			if (w->forks && verdict_forks_add(w->forks, &work, err))
				return -1;
			if (upg) {
				w->upg_forks++;
				w->upg_total_ns += upg;
				if (upg > w->upg_max_ns)
					w->upg_max_ns = upg;
			}
		}
	}
	return 0;
}

/* Per event: a compare and a store; the series only when a boundary is due. */
static inline void world_time(struct world *w, uint64_t t)
{
	if (t > w->t_last)
		w->t_last = t;
	if (t >= w->t_next)
		w->t_next = track_time(w->track, t, &w->stats);
}

void world_tick(struct world *w, uint64_t t)
{
	world_time(w, t);
}

struct track *world_track(struct world *w)
{
	track_end(w->track, w->t_last);
	return w->track;
}

/*
 * The address ranges an event names, for the range check below: (addr, len)
 * argument indices (a=0 .. f=5; len -1: none), and the argument that is
 * negative when the call failed (-1: none; a failed call is the simulator's,
 * whatever its range).  A new kind with a range is one row here.
 */
#define WORLD_VA_LIMIT (1ULL << 57) /* above every user address space (x86 LA57, arm64 52) */

static const struct world_range_rule {
	uint32_t kind;
	signed char res;
	signed char pair[2][2];
} world_ranges[] = {
	{ AVM_MMAP, 0, { { 0, 1 }, { -1, -1 } } },
	{ AVM_MUNMAP, 2, { { 0, 1 }, { -1, -1 } } },
	{ AVM_MPROTECT, 3, { { 0, 1 }, { -1, -1 } } },
	{ AVM_MREMAP, 4, { { 0, 1 }, { 4, 2 } } },
	{ AVM_BRK, -1, { { 1, -1 }, { -1, -1 } } }, /* the resulting brk; the request may be anything */
	{ AVM_MADVISE, 3, { { 0, 1 }, { -1, -1 } } },
	{ AVM_MLOCK, 3, { { 0, 1 }, { -1, -1 } } },
	{ AVM_MUNLOCK, 3, { { 0, 1 }, { -1, -1 } } },
	{ AVM_VMA_NAME, 3, { { 0, 1 }, { -1, -1 } } },
	{ AVM_MSEAL, 3, { { 0, 1 }, { -1, -1 } } },
	{ AVM_SHMAT, 0, { { 0, 1 }, { -1, -1 } } },
	{ AVM_POPULATE, -1, { { 0, 1 }, { -1, -1 } } },
	{ AVM_UFFD_REGISTER, 3, { { 0, 1 }, { -1, -1 } } },
	{ AVM_UFFD_UNREGISTER, 3, { { 0, 1 }, { -1, -1 } } },
	{ AVM_UFFD_COPY, -1, { { 0, 1 }, { 2, 1 } } },
	{ AVM_UFFD_ZEROPAGE, -1, { { 0, 1 }, { -1, -1 } } },
	{ AVM_UFFD_MOVE, -1, { { 0, 1 }, { 2, 1 } } },
	{ AVM_UFFD_CONTINUE, -1, { { 0, 1 }, { -1, -1 } } },
	{ AVM_UFFD_POISON, -1, { { 0, 1 }, { -1, -1 } } },
};

/* Does ev name a range beyond any address space (a range the simulator cannot apply)? */
static bool world_range_bad(const struct avm_event *ev)
{
	const int64_t arg[6] = { ev->a, ev->b, ev->c, ev->d, ev->e, ev->f };

	for (size_t i = 0; i < sizeof(world_ranges) / sizeof(world_ranges[0]); i++) {
		const struct world_range_rule *r = &world_ranges[i];

		if (r->kind != ev->kind)
			continue;
		if (r->res >= 0 && arg[(int)r->res] < 0)
			return false;
		for (int p = 0; p < 2; p++) {
			uint64_t addr, len;

			if (r->pair[p][0] < 0)
				continue;
			addr = (uint64_t)arg[(int)r->pair[p][0]];
			len = r->pair[p][1] < 0 ? 0 : (uint64_t)arg[(int)r->pair[p][1]];
			if (addr > WORLD_VA_LIMIT || len > WORLD_VA_LIMIT - addr)
				return true;
		}
		return false;
	}
	return false;
}

int world_apply(struct world *w, const struct avm_event *ev, struct avm_err *err)
{
	struct world_work before = { 0 }, fork_before = { 0 };
	struct world_fork_mark fork = { 0 };
	int64_t bytes0;
	bool sample, fork_lat;

	w->clock.t = ev->t;
	w->clock.cpu = ev->cpu;
	if (close_adoption(w, err))
		return -1;
	if (world_range_bad(ev)) {
		mm_sim_skip(w->sim, SKIP_RANGE);
		world_time(w, ev->t);
		return 0;
	}
	if ((w->rw_pressure || rmap_walk_observes(ev->kind)) &&
	    rmap_walk_event(w->rw, w->sim, w->ops, w->model, ev, err))
		return -1;
	if (locks_measured_kind(ev->kind) && locks_measured_event(w->measured, ev, err))
		return avm_err_prefix(err, "event %llu", (unsigned long long)ev->seq);
	if (ev->kind == AVM_EXEC)
		return world_exec(w, ev, NULL, 0, err);
	world_time(w, ev->t);
	if (w->calib && ev->kind == AVM_MMAP_LOCK)
		return calib_lock_event(w, ev, err);
	sample = w->calib && takes_mmap_write(ev->kind) && w->holds.n &&
		 u64map_get(&w->holds, (uint64_t)ev->tid + 1);
	if (w->calib && !sample && w->holds.n && task_step(ev->kind)) {
		/*
		 * A finished hold the task's next step does not explain, or one
		 * still open although the task went on (its release was lost or
		 * named another mm): drop it.
		 */
		struct world_hold *h = u64map_get(&w->holds, (uint64_t)ev->tid + 1);

		if (h) {
			u64map_del(&w->holds, (uint64_t)ev->tid + 1);
			free(h);
		}
	}
	if (sample)
		work_now(w, &before);
	/* e = 0: not measured, never a zero-latency sample */
	fork_lat = w->fork_fit && ev->kind == AVM_FORK && ev->e > 0;
	if (fork_lat)
		work_now(w, &fork_before);
	bytes0 = rmap_bytes(w);
	if (ev->kind == AVM_FORK)
		fork_mark(w, &fork);
	if (mm_sim_apply(w->sim, ev, err))
		return -1;
	if (sample)
		calib_sample(w, ev, &before);
	if (fork_lat && fork_sample(w, ev, &fork_before, fork.forks, err))
		return -1;
	if (track_event(w, ev, bytes0, ev->kind == AVM_FORK ? &fork : NULL, err))
		return -1;
	return after_event(w, ev, err);
}

int world_exec(struct world *w, const struct avm_event *ev, const struct avm_snap_vma *vmas,
	       size_t n, struct avm_err *err)
{
	int64_t bytes0;

	w->clock.t = ev->t;
	w->clock.cpu = ev->cpu;
	if (close_adoption(w, err))
		return -1;
	world_time(w, ev->t);
	bytes0 = rmap_bytes(w);
	if (mm_sim_exec(w->sim, ev, vmas, n, err))
		return -1;
	if (w->ops->adopt_done && w->ops->adopt_done(w->model, err))
		return avm_err_prefix(err, "event %llu: exec snapshot", (unsigned long long)ev->seq);
	if (track_event(w, ev, bytes0, NULL, err))
		return -1;
	return after_event(w, ev, err);
}

int world_adopt_start(struct world *w, uint64_t mm, const struct avm_snap_vma *vmas, size_t n,
		      const struct avm_snap_av *avs, size_t navs, struct avm_err *err)
{
	int64_t bytes0 = rmap_bytes(w), delta;
	size_t i;

	w->adopt_open = true;
	for (i = 0; i < navs; i++)
		if (w->ops->adopt_av(w->model, &avs[i], err))
			return avm_err_prefix(err, "start snapshot: anon_vma %llu",
					      (unsigned long long)avs[i].id);
	if (mm_sim_adopt_start(w->sim, mm, vmas, n, err))
		return -1;
	/* pre-existing objects: owned by mm's process once one of its events shows it */
	delta = rmap_bytes(w) - bytes0;
	return delta > 0 ? track_adopted(w->track, mm, (uint64_t)delta, err) : 0;
}

const struct model_stats *world_stats(const struct world *w)
{
	return &w->stats;
}

const struct mm_sim_stats *world_sim_stats(const struct world *w)
{
	return mm_sim_stats(w->sim);
}

_Static_assert(WORLD_FOLIO_ORDERS == MM_ORDER_MAX + 1, "world_folio_stats mirrors mm_sim_stats");

void world_folio_stats(const struct world *w, struct world_folio_stats *out)
{
	const struct mm_sim_stats *st = mm_sim_stats(w->sim);

	*out = (struct world_folio_stats){
		.pte_tables_reclaimed = st->pte_tables_reclaimed,
		.thp_collapses = st->thp_collapses,
		.ksm_items = st->ksm_items,
	};
	for (size_t o = 0; o < WORLD_FOLIO_ORDERS; o++)
		out->by_order[o] = st->folios_by_order[o];
}

const struct skip_counts *world_skipped(const struct world *w)
{
	return &mm_sim_stats(w->sim)->skipped;
}

static void world_vma_fill(const struct world *w, const struct mm_vma *v, struct world_vma *out)
{
	*out = (struct world_vma){
		.start = v->start, .end = v->end, .pgoff = v->pgoff, .flags = v->flags,
		.file = v->file, .anon = w->ops->has_anon(w->model, v),
		.chain_known = w->ops->chain_len != NULL,
		.chain_len = w->ops->chain_len ? w->ops->chain_len(w->model, v) : 0,
	};
}

struct world_layout_walk {
	const struct world *w;
	int (*cb)(void *ctx, const struct world_vma *v);
	void *ctx;
};

static int world_layout_vma(void *ctx, struct mm_vma *v)
{
	struct world_layout_walk *l = ctx;
	struct world_vma out;

	world_vma_fill(l->w, v, &out);
	return l->cb(l->ctx, &out);
}

int world_layout(struct world *w, uint64_t mm, enum world_mm_state *state,
		 int (*cb)(void *ctx, const struct world_vma *v), void *ctx)
{
	struct world_layout_walk l = { .w = w, .cb = cb, .ctx = ctx };
	struct mm_space *space = mm_sim_find(w->sim, mm);

	*state = !space ? WORLD_MM_NONE :
		 mm_space_opaque(space) ? WORLD_MM_OPAQUE : WORLD_MM_MODELLED;
	if (!space || !cb)
		return 0;
	return mm_for_each_vma(space, world_layout_vma, &l);
}

int world_vma_at(struct world *w, uint64_t mm, uint64_t addr, struct world_vma *out)
{
	struct mm_space *space = mm_sim_find(w->sim, mm);
	struct mm_vma *v = space ? mm_find_vma(space, addr) : NULL;

	if (!v)
		return 0;
	world_vma_fill(w, v, out);
	return 1;
}

const char *world_model_name(const struct world *w)
{
	return w->ops->name;
}

struct mm_sim *world_sim(struct world *w)
{
	return w->sim;
}

struct model *world_model(struct world *w)
{
	return w->model;
}

const struct model_ops *world_ops(const struct world *w)
{
	return w->ops;
}

const struct locks *world_locks(const struct world *w)
{
	return w->locks;
}

const struct arch_pt_stats *world_pt_stats(const struct world *w)
{
	return w->arch ? &w->pt_stats : NULL;
}

const struct arch *world_arch(const struct world *w)
{
	return w->arch;
}

const struct verdict_forks *world_forks(const struct world *w)
{
	return w->forks;
}

void world_fork_upgrades(const struct world *w, uint64_t *forks, uint64_t *total_ns,
			 uint64_t *max_ns)
{
	*forks = w->upg_forks;
	*total_ns = w->upg_total_ns;
	*max_ns = w->upg_max_ns;
}

const struct locks_measured *world_measured(const struct world *w)
{
	return w->measured;
}

const struct rmap_walk_stats *world_rmap_walks(const struct world *w)
{
	/* the count lives in the measured holds; the walk stats report it */
	rmap_walk_set_measured_holds(w->rw, locks_measured_holds(w->measured));
	return rmap_walk_stats(w->rw);
}
