/*
 * test_rmap_walk.c - rmap walks in both models (model_ops.rmap_walk) and the
 * choice of walked folios (rmap_walk.c), on hand-built layouts.
 *
 * Costs are those of configs/arch/x86_64-4level.yaml: rmap lock 20 ns,
 * rmap_vma 40 ns per VMA visited, VMA lookup 60 ns, a lazy walk's VMA reference 20 ns, a page-table walk 4
 * levels x 10 ns = 40 ns.  Expected figures are derived in the comments
 * from the rules: eager.md §5 and mm/rmap.c rmap_walk_anon (root rwsem
 * read, every AVC whose VMA's pgoff range overlaps the folio's), lazy.md §5
 * (one VMA at root base + index), rmap_walk.h (which folios, when).
 */
#include "evbuild.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch.h"
#include "locks.h"
#include "rmap_walk.h"

#define A 0x10000000ULL

static struct arch x86;

static int setup(void **state)
{
	struct avm_err err = { { 0 } };

	(void)state;
	if (arch_load("x86_64-4level", NULL, &x86, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

static struct world *walk_world(const char *model, const struct config *base)
{
	struct config cfg;

	if (base)
		cfg = *base;
	else
		tw_config(&cfg, 3);
	cfg.thp_from_trace = false;
	cfg.thp_enabled = 1;
	return tw_world_arch(model, &cfg, &x86);
}

static struct avm_event at(struct avm_event ev, uint64_t t, uint32_t cpu)
{
	ev.t = t;
	ev.cpu = cpu;
	return ev;
}

static struct avm_event ev_misc(uint64_t mm, uint32_t kind, int64_t op, uint64_t addr)
{
	struct avm_event ev = ev_base(mm, kind);

	ev.a = op;
	ev.b = (int64_t)addr;
	return ev;
}

static struct avm_event ev_mig(uint64_t mm, int op, uint64_t addr)
{
	return ev_misc(mm, AVM_MIGRATE, op, addr);
}

static const struct rmap_walk_stats *st(struct world *w)
{
	return world_rmap_walks(w);
}

/* ns of an eager walk visiting n VMAs: lock + n x (rmap_vma + page-table walk) */
static uint64_t eager_hold(uint64_t n)
{
	return x86.rmap.ns[LOCKS_OP_LOCK] +
	       n * (x86.rmap.ns[LOCKS_OP_RMAP_VMA] + arch_walk_ns(&x86));
}

/*
 * fork, child fork, two CoW writes, mprotect split (P3):
 *
 *   mm1  V1 [A, A+4p) chain [AV1]          page A: F0 (owner AV1)
 *   fork mm1 -> mm2:  V2 [A, A+4p) chain [AV1, AV2]      F0 shared
 *   fork mm2 -> mm3:  V3 [A, A+4p) chain [AV1, AV2, AV3] F0 shared
 *   mm2 writes A: CoW, mm2 maps a new folio (owner AV2); mm3 writes A: CoW too
 *   mm3 mprotect [A+2p, A+4p) read-only: V3 splits, both halves clone the chain
 *
 *   mm1  |V1 A .. A+4p        |        AV1's tree: V1, V2, V3a, V3b
 *   mm2  |V2 A .. A+4p        |
 *   mm3  |V3a A..A+2p|V3b rw-|
 *
 * A walk of F0 (index A/p, one page) visits the AVCs of AV1 whose VMA covers
 * pgoff A/p: V1, V2, V3a = 3 (V3b starts at pgoff A/p + 2); V2 and V3a no
 * longer map F0 (CoW) = 2 stale.  Hold = 20 + 3 x (40 + 40) = 260 ns.
 */
static void build_fork_layout(struct world *w)
{
	tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 1000, 0));
	tw(w, at(ev_write(1, A), 1100, 0));
	tw(w, at(ev_fork(1, 2), 1200, 0));
	tw(w, at(ev_fork(2, 3), 1300, 0));
	tw(w, at(ev_write(2, A), 1400, 0));
	tw(w, at(ev_write(3, A), 1500, 0));
	tw(w, at(ev_mprotect(3, A + 2 * PG, 2 * PG, PROT_READ), 1600, 0));
	assert_int_equal(tw_vma_count(w, 3), 2);
}

static void test_eager_fork_split(void **state)
{
	struct world *w = walk_world("eager", NULL);

	(void)state;
	build_fork_layout(w);
	tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A), 2000, 0));
	assert_int_equal(st(w)->walks, 1);
	assert_int_equal(st(w)->by_source[RMAP_WALK_MIGRATION], 1);
	assert_int_equal(st(w)->vmas_visited.n, 1);
	assert_int_equal(st(w)->vmas_visited.max, 3);
	assert_int_equal(st(w)->stale_vmas, 2);
	assert_int_equal(st(w)->lazy_folio_walks, 0);
	assert_int_equal(st(w)->hold.max, eager_hold(3));
	assert_int_equal(eager_hold(3), 260);
	/* the walk is a read section of the anon_vma root, reason rmap_walk */
	{
		struct locks_summary s;

		locks_summary(world_locks(w), LOCKS_ANON_VMA, LOCKS_READ, &s);
		assert_int_equal(s.count_by_why[LOCKS_WHY_RMAP_WALK], 1);
		assert_int_equal(s.total_ns_by_why[LOCKS_WHY_RMAP_WALK], 260);
	}
	world_destroy(w);
}

/*
 * The same layout in the lazy model: the fork upgrades V1 (F0 rewritten to
 * AV1), mm2's fork upgrades V2 first, so F0 names a real anon_vma whose tree
 * holds V1, V2, V3a, V3b as in eager: the walk is mainline's, 3 visited,
 * 2 stale, and not a lazy folio walk.
 */
static void test_lazy_upgraded_walks_like_eager(void **state)
{
	struct world *w = walk_world("lazy", NULL);

	(void)state;
	build_fork_layout(w);
	tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A), 2000, 0));
	assert_int_equal(st(w)->walks, 1);
	assert_int_equal(st(w)->vmas_visited.max, 3);
	assert_int_equal(st(w)->stale_vmas, 2);
	assert_int_equal(st(w)->lazy_folio_walks, 0);
	world_destroy(w);
}

/*
 * A lazy folio after a split (lazy.md §4.2, §5):
 *
 *   mm1  |V1 A .. A+4p rw|  write A, A+3p      (lazy: no anon_vma)
 *   mprotect [A+2p, A+4p) read-only:
 *   mm1  |V1a A..A+2p rw|V1b A+2p..A+4p r|    both keep base A - pgoff x p
 *
 * The folio at A+3p: address = base + index x p = A+3p, one lookup -> V1b:
 * 1 visited, 0 stale, hold = lock 20 + lookup 60 + VMA reference 20 +
 * 40 + 40 = 180 ns under RCU (the default policy).  In eager the same folio names AV1, whose tree
 * holds V1a and V1b; only V1b covers pgoff A/p + 3: also 1 visited, hold
 * 20 + 80 = 100 ns.
 */
static void test_lazy_folio_one_vma(void **state)
{
	const char *models[] = { "lazy", "eager" };

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct world *w = walk_world(models[i], NULL);
		struct locks_summary s;

		tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 1000, 0));
		tw(w, at(ev_write(1, A), 1100, 0));
		tw(w, at(ev_write(1, A + 3 * PG), 1200, 0));
		tw(w, at(ev_mprotect(1, A + 2 * PG, 2 * PG, PROT_READ), 1300, 0));
		assert_int_equal(tw_vma_count(w, 1), 2);
		tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A + 3 * PG), 2000, 0));
		assert_int_equal(st(w)->walks, 1);
		assert_int_equal(st(w)->vmas_visited.max, 1);
		assert_int_equal(st(w)->stale_vmas, 0);
		if (i == 0) {
			assert_int_equal(st(w)->lazy_folio_walks, 1);
			assert_int_equal(st(w)->hold.max, 180);
			locks_summary(world_locks(w), LOCKS_RCU, LOCKS_READ, &s);
			assert_int_equal(s.count_by_why[LOCKS_WHY_RMAP_WALK], 1);
		} else {
			assert_int_equal(st(w)->lazy_folio_walks, 0);
			assert_int_equal(st(w)->hold.max, eager_hold(1));
		}
		world_destroy(w);
	}
}

/*
 * A THP folio across a split (lazy.md §5.1, the reviewers' objection):
 *
 *   mm1  |V1 H .. H+2M rw, MADV_HUGEPAGE|  write H: one 512-page folio
 *   mprotect [H+1M, H+2M) read-only:
 *   mm1  |V1a H..H+1M rw|V1b H+1M..H+2M r|   the folio spans both
 *
 * A migration of the folio (SET_PMD at H+1M+p in V1b, resolved to the THP):
 *   eager: AV1's tree holds V1a and V1b; both overlap the folio's
 *          [H/p, H/p + 512): 2 visited, 0 stale, 20 + 2 x 80 = 180 ns;
 *   lazy:  base + index x p = H: one lookup finds V1a: 1 visited (the
 *          half in V1b is not seen), 180 ns (with the VMA reference, 20).
 */
static void test_thp_across_split(void **state)
{
	const char *models[] = { "eager", "lazy" };
	const uint64_t H = 0x40000000ULL, M2 = 2ULL << 20;

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct world *w = walk_world(models[i], NULL);

		tw(w, at(ev_mmap(1, H, M2, RW, ANON), 1000, 0));
		tw(w, at(ev_madvise(1, H, M2, MADV_HUGEPAGE), 1100, 0));
		tw(w, at(ev_write(1, H), 1200, 0));
		assert_int_equal(world_sim_stats(w)->folios_live, 1);
		tw(w, at(ev_mprotect(1, H + M2 / 2, M2 / 2, PROT_READ), 1300, 0));
		assert_int_equal(tw_vma_count(w, 1), 2);
		tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PMD, H + M2 / 2 + PG), 2000, 0));
		assert_int_equal(st(w)->walks, 1);
		assert_int_equal(st(w)->unresolved_migration, 0);
		assert_int_equal(st(w)->vmas_visited.max, i == 0 ? 2 : 1);
		assert_int_equal(st(w)->stale_vmas, 0);
		assert_int_equal(st(w)->lazy_folio_walks, i == 0 ? 0 : 1);
		assert_int_equal(st(w)->hold.max, 180); /* lazy: 160 + the VMA reference */
		world_destroy(w);
	}
}

/*
 * lazy.walk_lock: one lazy folio at A in mm1, walked at t=3000 on CPU 0
 * while CPU 1 holds mm1's mmap_lock for write over [2000, 12000) (played
 * here by a section recorded straight into the world's locks), and again at
 * t=20000 when it is free.
 *   rcu           both walks recorded as RCU read sections, none fail;
 *   vma_read      both recorded on the VMA lock class (instance: V1), none fail
 *                 (nobody write-locks the VMA);
 *   mmap_trylock  the first walk's trylock finds the lock held: failed, 1
 *                 trylock_failed on mmap_lock read; the second succeeds.
 */
static void test_walk_lock_policy(void **state)
{
	static const struct {
		enum lazy_walk_lock pol;
		enum locks_class cls;
		uint64_t failed;
	} cases[] = {
		{ LAZY_WALK_RCU, LOCKS_RCU, 0 },
		{ LAZY_WALK_VMA_READ, LOCKS_VMA, 0 },
		{ LAZY_WALK_MMAP_TRYLOCK, LOCKS_MMAP, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		struct world *w;
		struct locks_section other = { .cls = LOCKS_MMAP, .mode = LOCKS_WRITE,
					       .why = LOCKS_WHY_OTHER, .instance = 1, .cpu = 1,
					       .start = 2000, .len = 10000 };
		struct locks_summary s;

		config_defaults(&cfg);
		cfg.profile = 3;
		cfg.lazy_walk_lock = cases[i].pol;
		w = walk_world("lazy", &cfg);
		tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 1000, 0));
		tw(w, at(ev_write(1, A), 1100, 0));
		/* the test plays another CPU: its hold goes into the world's own record */
		assert_int_equal(locks_hold((struct locks *)world_locks(w), &other, NULL), 0);
		tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A), 3000, 0));
		tw(w, at(ev_mig(1, AVM_MIGRATE_REMOVE_PTE, A), 20000, 0));
		assert_int_equal(st(w)->walks, 2);
		assert_int_equal(st(w)->lazy_folio_walks, 2);
		assert_int_equal(st(w)->failed, cases[i].failed);
		assert_int_equal(st(w)->vmas_visited.n, 2 - cases[i].failed);
		locks_summary(world_locks(w), cases[i].cls, LOCKS_READ, &s);
		assert_int_equal(s.count_by_why[LOCKS_WHY_RMAP_WALK], 2 - cases[i].failed);
		assert_int_equal(s.trylock_failed, cases[i].failed);
		/* the other classes saw no walk */
		for (int c = 0; c < LOCKS_CLASS_NR; c++) {
			if (c == (int)cases[i].cls)
				continue;
			locks_summary(world_locks(w), (enum locks_class)c, LOCKS_READ, &s);
			assert_int_equal(s.count_by_why[LOCKS_WHY_RMAP_WALK], 0);
		}
		world_destroy(w);
	}
}

/*
 * Eager reclaim only trylocks the root (eager.md §5): a fork on CPU 1 at
 * t = 300 ms - 50 ns write-holds AV1's root for 70 ns (anon_vma_clone: lock
 * 20 + one tree insert 50; then the child's AVC link, the same); a reclaim
 * tick reached at t = 300 ms on CPU 0 finds it held and gives up, while a
 * migration walk (blocking) at the same instant waits and runs.
 *
 *   mm1 |V1 A..A+4p| pages A..A+3p (F0..F3, owner AV1), fork -> mm2
 *   reclaim 100 %/s: 1.0 x 0.1 s x 4 live folios = 0.4 walks per tick;
 *   ticks at 100, 200, 300 ms: 0.4, 0.8, 1.2 owed -> the first walk (F0,
 *   the cursor's first folio) at the third tick.
 */
static void test_eager_reclaim_trylock(void **state)
{
	struct config cfg;
	struct world *w;
	struct locks_summary s;

	(void)state;
	config_defaults(&cfg);
	cfg.profile = 3;
	cfg.reclaim_share_per_s = 1.0;
	w = walk_world("eager", &cfg);
	tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 0, 0));
	tw(w, at(ev_populate(1, A, 4 * PG, 1), 0, 0));
	tw(w, at(ev_base(1, AVM_RECLAIM), 100000000, 0));
	tw(w, at(ev_base(1, AVM_RECLAIM), 200000000, 0));
	assert_int_equal(st(w)->walks, 0);
	tw(w, at(ev_fork(1, 2), 300000000 - 50, 1));
	assert_int_equal(st(w)->walks, 0);
	tw(w, at(ev_base(1, AVM_RECLAIM), 300000000, 0));
	assert_int_equal(st(w)->walks, 1);
	assert_int_equal(st(w)->by_source[RMAP_WALK_RECLAIM], 1);
	assert_int_equal(st(w)->failed, 1);
	assert_int_equal(st(w)->vmas_visited.n, 0);
	locks_summary(world_locks(w), LOCKS_ANON_VMA, LOCKS_READ, &s);
	assert_int_equal(s.trylock_failed, 1);
	assert_int_equal(s.count, 0);
	/* F0 is mapped in mm1 and mm2: AV1's tree holds V1 and V2, both cover it */
	tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A), 300000000, 0));
	assert_int_equal(st(w)->walks, 2);
	assert_int_equal(st(w)->failed, 1);
	assert_int_equal(st(w)->vmas_visited.max, 2);
	locks_summary(world_locks(w), LOCKS_ANON_VMA, LOCKS_READ, &s);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.waited, 1);
	assert_int_equal(s.wait_max_ns, 20); /* the fork's holds end at 300 ms + 20 ns */
	world_destroy(w);
}

/*
 * Pressure over 2 s of 100 live folios (one mm, 100 pages written at t=0;
 * ticks every 100 ms from the first event, the event at t=2 s crosses 20):
 *   reclaim 10 %/s    0.1 x 0.1 x 100 = 1 folio per tick   -> 20 walks
 *   compaction 10 %/s 1 folio per tick, two walks each     -> 40 walks
 *   page idle, 4 s    100 x 0.1 / 4 = 2.5 per tick         -> 50 walks
 * Both models walk the same numbers; the lazy walks are all lazy folio
 * walks of one VMA, eager's visit V1 once each.
 */
static void test_pressure_counts(void **state)
{
	const char *models[] = { "eager", "lazy" };

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct config cfg;
		struct world *w;

		config_defaults(&cfg);
		cfg.profile = 3;
		cfg.reclaim_share_per_s = 0.1;
		cfg.compaction_share_per_s = 0.1;
		cfg.page_idle_sweep_s = 4;
		w = walk_world(models[i], &cfg);
		tw(w, at(ev_mmap(1, A, 100 * PG, RW, ANON), 0, 0));
		tw(w, at(ev_populate(1, A, 100 * PG, 1), 0, 0));
		assert_int_equal(world_sim_stats(w)->folios_live, 100);
		tw(w, at(ev_base(1, AVM_RECLAIM), 2000000000, 0));
		assert_int_equal(st(w)->by_source[RMAP_WALK_RECLAIM], 20);
		assert_int_equal(st(w)->by_source[RMAP_WALK_COMPACTION], 40);
		assert_int_equal(st(w)->by_source[RMAP_WALK_PAGE_IDLE], 50);
		assert_int_equal(st(w)->by_source[RMAP_WALK_MIGRATION], 0);
		assert_int_equal(st(w)->walks, 110);
		assert_int_equal(st(w)->failed, 0);
		assert_int_equal(st(w)->vmas_visited.n, 110);
		assert_int_equal(st(w)->vmas_visited.max, 1);
		assert_int_equal(st(w)->vmas_visited.min, 1);
		assert_int_equal(st(w)->lazy_folio_walks, i == 1 ? 110 : 0);
		/* a further 0.05 s crosses no tick: nothing more */
		tw(w, at(ev_base(1, AVM_RECLAIM), 2050000000, 0));
		assert_int_equal(st(w)->walks, 110);
		world_destroy(w);
	}
}

/*
 * The cursor goes round in MM_CURSOR_PASSES (16) interleaved passes: 250
 * walks of 100 single-page folios in one mm.  A = page 0x10000, so page i
 * has head page number = i mod 16 and pass p visits i = p, p+16, ...:
 * passes 0-3 hold 7 folios each, passes 4-15 hold 6 (28 + 72 = 100).  Two
 * whole cycles (200) visit everything twice; the last 50 are passes 0-3
 * (28), 4-6 (18) and the first 4 of pass 7 (i = 7, 23, 39, 55).
 */
static int count_folio(void *ctx, const struct mm_folio_ref *f)
{
	uint64_t *seen = ctx;

	seen[(f->addr - A) / PG]++;
	return 0;
}

static void test_cursor_round_robin(void **state)
{
	struct world *w = walk_world("eager", NULL);
	struct mm_cursor c = { 0 };
	uint64_t seen[100] = { 0 }, done;
	struct avm_err err = { { 0 } };

	(void)state;
	tw(w, ev_mmap(1, A, 100 * PG, RW, ANON));
	tw(w, ev_populate(1, A, 100 * PG, 1));
	/* mm 2: empty (no pages); the cursor passes over it */
	tw(w, ev_mmap(2, A, 4 * PG, RW, ANON));
	assert_int_equal(mm_sim_cursor_walk(world_sim(w), &c, 250, count_folio, seen, &done,
					    &err), 0);
	assert_int_equal(done, 250);
	for (int i = 0; i < 100; i++)
		assert_int_equal(seen[i], i % 16 < 7 || (i % 16 == 7 && i < 64) ? 3 : 2);
	/* the next call goes on in pass 7, from page 71 */
	memset(seen, 0, sizeof(seen));
	assert_int_equal(mm_sim_cursor_walk(world_sim(w), &c, 1, count_folio, seen, &done, &err),
			 0);
	assert_int_equal(seen[71], 1);
	world_destroy(w);
}

/*
 * Observed migration events (event.h: b = address in the event's mm):
 *
 *   mm1 |V1 A..A+4p| F0 at A, fork -> mm2 (F0 shared), mm2 writes A+2p: F2
 *   (owner AV2, only in mm2)
 *
 *   SET_PTE mm1 A, SET_PTE mm1 A      -> one walk of F0 (try_to_migrate sets
 *                                        both mappings in one walk): 2 VMAs
 *   REMOVE_PTE mm1 A twice           -> one walk (remove_migration_ptes)
 *   SET_PTE mm2 A+2p                 -> F2: AV2's tree holds V2 only: 1 VMA
 *   SET_PTE mm1 A+p  (never faulted) -> unresolved
 *   SET_PTE mm 99 A  (unknown mm)    -> unresolved
 *   SET_PTE mm1 A                    -> a new walk: the walk in progress was F2's
 *   KSM merge, THP collapse          -> unresolved ksm 1, thp 1
 * walks 4 (all migration), unresolved migration 2, vmas visited 2,2,1,2.
 */
static void test_observed_migration(void **state)
{
	struct world *w = walk_world("eager", NULL);

	(void)state;
	tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 1000, 0));
	tw(w, at(ev_write(1, A), 1100, 0));
	tw(w, at(ev_fork(1, 2), 1200, 0));
	tw(w, at(ev_write(2, A + 2 * PG), 1300, 0));
	tw(w, at(ev_mig(1, AVM_MIGRATE_START, 0), 1900, 0));
	tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A), 2000, 0));
	tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A), 2001, 0));
	assert_int_equal(st(w)->walks, 1);
	assert_int_equal(st(w)->vmas_visited.max, 2);
	tw(w, at(ev_mig(1, AVM_MIGRATE_REMOVE_PTE, A), 2100, 0));
	tw(w, at(ev_mig(1, AVM_MIGRATE_REMOVE_PTE, A), 2101, 0));
	assert_int_equal(st(w)->walks, 2);
	tw(w, at(ev_mig(2, AVM_MIGRATE_SET_PTE, A + 2 * PG), 2200, 0));
	assert_int_equal(st(w)->walks, 3);
	assert_int_equal(st(w)->vmas_visited.min, 1);
	tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A + PG), 2300, 0));
	tw(w, at(ev_mig(99, AVM_MIGRATE_SET_PTE, A), 2400, 0));
	assert_int_equal(st(w)->unresolved_migration, 2);
	assert_int_equal(st(w)->walks, 3);
	tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A), 2500, 0));
	tw(w, at(ev_misc(1, AVM_KSM, AVM_KSM_MERGE, 1234), 2600, 0));
	tw(w, at(ev_misc(1, AVM_THP, AVM_THP_COLLAPSE, 0), 2700, 0));
	tw(w, at(ev_misc(1, AVM_THP, AVM_THP_SCAN, 0), 2800, 0));
	assert_int_equal(st(w)->walks, 4);
	assert_int_equal(st(w)->by_source[RMAP_WALK_MIGRATION], 4);
	assert_int_equal(st(w)->unresolved_ksm, 1);
	assert_int_equal(st(w)->unresolved_thp, 1);
	assert_int_equal(st(w)->vmas_visited.n, 4);
	assert_int_equal(st(w)->vmas_visited.sum, 2 + 2 + 1 + 2);
	assert_int_equal(st(w)->stale_vmas, 0);
	world_destroy(w);
}

static double num(const cJSON *o, const char *path)
{
	char buf[64], *save = NULL, *k;
	const cJSON *x = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && x; k = strtok_r(NULL, ".", &save))
		x = cJSON_GetObjectItemCaseSensitive(x, k);
	if (!cJSON_IsNumber(x))
		fail_msg("no number at %s", path);
	return x->valuedouble;
}

/* ---- measured mmap_lock write holds (locks.h locks_measured) ------------------------ */

/* An AVM_MMAP_LOCK event of task tid on mm (event.h: a = 1 write, b = phase, c = success). */
static struct avm_event ev_lock(uint64_t mm, uint32_t tid, bool write, enum avm_lock_phase ph,
				uint64_t t)
{
	struct avm_event ev = ev_base(mm, AVM_MMAP_LOCK);

	ev.tid = tid;
	ev.a = write;
	ev.b = ph;
	ev.c = ph != AVM_LOCK_START;
	return at(ev, t, 1);
}

static bool held(struct world *w, uint64_t mm)
{
	return locks_measured_write_held(world_measured(w), mm);
}

/*
 * The trace measured mm1's mmap_lock write-held by task 1 over [2000, 4000)
 * (START 1900, ACQUIRED 2000, RELEASED 4000: an mmap syscall's hold, on
 * CPU 1).  One lazy folio F0 at A in mm1 (lazy.md §3.1: it names V1, the
 * lazy root):
 *
 *   mm1 |V1 A .. A+4p (lazy root)|   page A: F0 (owner V1)
 *
 * A migration walk of F0 at t = 3000 (SET_PTE) and another at t = 5000
 * (REMOVE_PTE: a new phase, a new walk):
 *   rcu, vma_read   both run: never fail, the measured hold is no lock of theirs;
 *   mmap_trylock    the first finds the write hold open (mmap_read_trylock
 *                   fails, lazy.md §5 policy): failed 1, counted as 1
 *                   trylock_failed on mmap_lock read, nothing visited; the
 *                   second, after the release, runs: 1 VMA, 180 ns.
 *   eager           rmap_walk_anon takes AV1's rwsem (eager.md §5), not
 *                   mmap_lock: both walks run whatever the policy.
 * measured_mmap_holds = 1 in every world (one successful write acquisition).
 */
static void test_measured_hold_fails_trylock(void **state)
{
	static const struct {
		const char *model;
		enum lazy_walk_lock pol;
		uint64_t failed;
	} cases[] = {
		{ "lazy", LAZY_WALK_RCU, 0 },
		{ "lazy", LAZY_WALK_VMA_READ, 0 },
		{ "lazy", LAZY_WALK_MMAP_TRYLOCK, 1 },
		{ "eager", LAZY_WALK_MMAP_TRYLOCK, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		struct world *w;
		struct locks_summary s;

		config_defaults(&cfg);
		cfg.profile = 3;
		cfg.lazy_walk_lock = cases[i].pol;
		w = walk_world(cases[i].model, &cfg);
		tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 1000, 0));
		tw(w, at(ev_write(1, A), 1100, 0));
		assert_false(held(w, 1));
		tw(w, ev_lock(1, 1, true, AVM_LOCK_START, 1900));
		assert_false(held(w, 1));
		tw(w, ev_lock(1, 1, true, AVM_LOCK_ACQUIRED, 2000));
		assert_true(held(w, 1));
		assert_false(held(w, 2));
		tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A), 3000, 0));
		assert_int_equal(st(w)->walks, 1);
		assert_int_equal(st(w)->failed, cases[i].failed);
		tw(w, ev_lock(1, 1, true, AVM_LOCK_RELEASED, 4000));
		assert_false(held(w, 1));
		tw(w, at(ev_mig(1, AVM_MIGRATE_REMOVE_PTE, A), 5000, 0));
		assert_int_equal(st(w)->walks, 2);
		assert_int_equal(st(w)->failed, cases[i].failed);
		assert_int_equal(st(w)->vmas_visited.n, 2 - cases[i].failed);
		assert_int_equal(st(w)->vmas_visited.max, 1);
		assert_int_equal(st(w)->hold.max, cases[i].model[0] == 'l' ? 180 : eager_hold(1));
		assert_int_equal(st(w)->measured_mmap_holds, 1);
		locks_summary(world_locks(w), LOCKS_MMAP, LOCKS_READ, &s);
		assert_int_equal(s.trylock_failed, cases[i].failed);
		if (cases[i].model[0] == 'l' && cases[i].pol == LAZY_WALK_MMAP_TRYLOCK)
			assert_int_equal(s.count_by_why[LOCKS_WHY_RMAP_WALK], 1);
		world_destroy(w);
	}
}

/*
 * Reclaim pressure against a measured hold, mmap_trylock: mm1 |V1 A..A+4p|
 * with 4 lazy folios, reclaim 100 %/s = 0.4 walks per 100 ms tick x 4 folios
 * (rmap_walk.h): the ticks at 100, 200, 300 ms owe 0.4, 0.8, 1.2 -> one walk
 * at the third tick (t = 300 ms, paid by the event at 300 ms).  Task 1
 * write-holds mm1 over [250 ms, 350 ms): that walk fails (0.2 carried).  The
 * event at 800 ms pays the five ticks 400..800 ms: 0.2 + 5 x 0.4 = 2.2 -> 2
 * walks, the lock free: they run.
 */
static void test_measured_hold_reclaim(void **state)
{
	const uint64_t MS = 1000000ULL;
	struct config cfg;
	struct world *w;

	(void)state;
	config_defaults(&cfg);
	cfg.profile = 3;
	cfg.lazy_walk_lock = LAZY_WALK_MMAP_TRYLOCK;
	cfg.reclaim_share_per_s = 1.0;
	w = walk_world("lazy", &cfg);
	tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 0, 0));
	tw(w, at(ev_populate(1, A, 4 * PG, 1), 0, 0));
	tw(w, at(ev_base(1, AVM_RECLAIM), 200 * MS, 0));
	assert_int_equal(st(w)->walks, 0);
	tw(w, ev_lock(1, 1, true, AVM_LOCK_ACQUIRED, 250 * MS));
	tw(w, at(ev_base(1, AVM_RECLAIM), 300 * MS, 0));
	assert_int_equal(st(w)->walks, 1);
	assert_int_equal(st(w)->failed, 1);
	tw(w, ev_lock(1, 1, true, AVM_LOCK_RELEASED, 350 * MS));
	tw(w, at(ev_base(1, AVM_RECLAIM), 800 * MS, 0));
	assert_int_equal(st(w)->by_source[RMAP_WALK_RECLAIM], 3);
	assert_int_equal(st(w)->failed, 1);
	assert_int_equal(st(w)->vmas_visited.n, 2);
	world_destroy(w);
}

/*
 * What ends a measured write hold besides its release (locks.h):
 *   1. mmap_write_downgrade (munmap, brk, mremap): the holder's read
 *      ACQUIRED on the same mm - a walk between the downgrade and the read
 *      release runs (a read trylock succeeds next to a reader);
 *   2. a lost release, then the holder's exit: a thread (tid 7) of mm1
 *      acquires for write and exits without a RELEASED event;
 *   3. a lost release, then another task's successful acquisition of the
 *      same mm (read or write): the old writer cannot still hold it;
 *   4. START phases and failed acquisitions change nothing; another mm's
 *      release does not close mm1's hold.
 * Every case walks F0 (lazy, mmap_trylock) while held (fails) and after (runs).
 */
static void test_measured_hold_ends(void **state)
{
	struct config cfg;
	struct world *w;
	struct avm_event ev;
	uint64_t failed = 0, walks = 0;

	(void)state;
	config_defaults(&cfg);
	cfg.profile = 3;
	cfg.lazy_walk_lock = LAZY_WALK_MMAP_TRYLOCK;
	w = walk_world("lazy", &cfg);
	tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 1000, 0));
	tw(w, at(ev_write(1, A), 1100, 0));
	ev = at(ev_clone_vm(1), 1200, 0);
	ev.b = 7; /* thread tid 7 */
	tw(w, ev);

#define WALK(t, fails)                                                              \
	do {                                                                          \
		tw(w, at(ev_mig(1, AVM_MIGRATE_START, 0), (t), 0));                    \
		tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A), (t) + 1, 0));              \
		walks++;                                                              \
		failed += (fails);                                                    \
		assert_int_equal(st(w)->walks, walks);                                \
		assert_int_equal(st(w)->failed, failed);                              \
	} while (0)

	/* 1. downgrade */
	tw(w, ev_lock(1, 1, true, AVM_LOCK_ACQUIRED, 2000));
	WALK(2100, 1);
	tw(w, ev_lock(1, 1, false, AVM_LOCK_ACQUIRED, 2200)); /* mmap_write_downgrade */
	assert_false(held(w, 1));
	WALK(2300, 0);
	tw(w, ev_lock(1, 1, false, AVM_LOCK_RELEASED, 2400));
	assert_false(held(w, 1));

	/* 2. the thread's release is lost; its exit ends the hold (mm1 lives on) */
	tw(w, ev_lock(1, 7, true, AVM_LOCK_ACQUIRED, 3000));
	WALK(3100, 1);
	ev = at(ev_base(1, AVM_EXIT), 3200, 1);
	ev.tid = 7;
	ev.a = 0; /* not group_dead */
	tw(w, ev);
	assert_false(held(w, 1));
	WALK(3300, 0);

	/* 3. a lost release, then task 1 reads mm1 (a fault's mmap_read_lock) */
	tw(w, ev_lock(1, 9, true, AVM_LOCK_ACQUIRED, 4000));
	WALK(4100, 1);
	tw(w, ev_lock(1, 1, false, AVM_LOCK_ACQUIRED, 4200));
	assert_false(held(w, 1));
	WALK(4300, 0);
	/* ... or write-acquires it, and releases: nothing stays open */
	tw(w, ev_lock(1, 9, true, AVM_LOCK_ACQUIRED, 4400));
	tw(w, ev_lock(1, 1, true, AVM_LOCK_ACQUIRED, 4500));
	tw(w, ev_lock(1, 1, true, AVM_LOCK_RELEASED, 4600));
	assert_false(held(w, 1));

	/* 4. a failed trylock and a START open nothing; mm 5's release leaves mm1's hold */
	ev = ev_lock(1, 1, true, AVM_LOCK_ACQUIRED, 5000);
	ev.c = 0;
	tw(w, ev);
	tw(w, ev_lock(1, 1, true, AVM_LOCK_START, 5100));
	assert_false(held(w, 1));
	tw(w, ev_lock(1, 1, true, AVM_LOCK_ACQUIRED, 5200));
	tw(w, ev_lock(5, 1, true, AVM_LOCK_RELEASED, 5300));
	tw(w, ev_lock(1, 3, true, AVM_LOCK_RELEASED, 5350)); /* not the holder's */
	assert_true(held(w, 1));
	WALK(5400, 1);
	tw(w, ev_lock(1, 1, true, AVM_LOCK_RELEASED, 5500));
	WALK(5600, 0);
#undef WALK
	/* write acquisitions measured: 2000, 3000, 4000, 4400, 4500, 5200 */
	assert_int_equal(st(w)->measured_mmap_holds, 6);
	world_destroy(w);
}

/*
 * dup_mmap write-locks the parent's mm, then the child's inside it (same
 * task): both are held until each is released, and the last exit of a mm
 * (AVM_MM_RELEASE) ends a hold whose release was lost.
 */
static void test_measured_nested_and_mm_release(void **state)
{
	struct locks_measured *m = NULL;
	struct avm_err err = { { 0 } };
	struct avm_event ev;

	(void)state;
	assert_int_equal(locks_measured_create(&m, &err), 0);
	assert_int_equal(locks_measured_event(m, &(struct avm_event){ 0 }, &err), 0);
	ev = ev_lock(1, 1, true, AVM_LOCK_ACQUIRED, 100);
	assert_int_equal(locks_measured_event(m, &ev, &err), 0);
	ev = ev_lock(2, 1, true, AVM_LOCK_ACQUIRED, 110); /* the child, nested */
	assert_int_equal(locks_measured_event(m, &ev, &err), 0);
	assert_true(locks_measured_write_held(m, 1) && locks_measured_write_held(m, 2));
	ev = ev_lock(2, 1, true, AVM_LOCK_RELEASED, 120);
	assert_int_equal(locks_measured_event(m, &ev, &err), 0);
	assert_true(locks_measured_write_held(m, 1));
	assert_false(locks_measured_write_held(m, 2));
	ev = ev_base(1, AVM_MM_RELEASE);
	ev.tid = 4;
	assert_int_equal(locks_measured_event(m, &ev, &err), 0);
	assert_false(locks_measured_write_held(m, 1));
	assert_int_equal(locks_measured_holds(m), 2);
	/* the hot-path filter lets exactly the three kinds through (and no other of event.h) */
	for (uint32_t k = 0; k < 128; k++) {
		bool want = k == AVM_EXIT || k == AVM_MM_RELEASE || k == AVM_MMAP_LOCK;
		bool known = (k >= 1 && k <= 4) || (k >= 10 && k <= 24) || k == 30 || k == 31 ||
			     k == 40 || k == 50 || k == 60 || (k >= 70 && k <= 75) || k == 80;

		if (known)
			assert_int_equal(locks_measured_kind(k), want);
	}
	locks_measured_destroy(m);
}

/* The report block's shape, and a merge that sums counts and histograms. */
static void test_json_and_merge(void **state)
{
	struct world *w = walk_world("eager", NULL);
	struct avm_err err = { { 0 } };
	cJSON *a, *m = NULL, *bad;

	(void)state;
	build_fork_layout(w);
	tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A), 2000, 0));
	tw(w, at(ev_mig(1, AVM_MIGRATE_SET_PTE, A + PG), 2100, 0));
	tw(w, at(ev_misc(1, AVM_KSM, AVM_KSM_MERGE, 1), 2200, 0));
	a = rmap_walk_json(st(w), &err);
	assert_non_null(a);
	assert_true(num(a, "walks") == 1);
	assert_true(num(a, "by_source.migration") == 1);
	assert_true(num(a, "by_source.reclaim") == 0);
	assert_true(num(a, "by_source.compaction") == 0);
	assert_true(num(a, "by_source.page_idle") == 0);
	assert_true(num(a, "unresolved.migration") == 1);
	assert_true(num(a, "unresolved.ksm") == 1);
	assert_true(num(a, "unresolved.thp") == 0);
	assert_true(num(a, "failed") == 0);
	assert_true(num(a, "vmas_visited.count") == 1);
	assert_true(num(a, "vmas_visited.p99") == 3);
	assert_true(num(a, "stale_vmas") == 2);
	assert_true(num(a, "lazy_folio_walks") == 0);
	assert_true(num(a, "hold.count") == 1);
	assert_true(num(a, "hold.max_ns") == 260);
	assert_int_equal(rmap_walk_json_merge(a, a, &m, &err), 0);
	assert_true(num(m, "walks") == 2);
	assert_true(num(m, "unresolved.ksm") == 2);
	assert_true(num(m, "stale_vmas") == 4);
	assert_true(num(m, "vmas_visited.count") == 2);
	assert_true(num(m, "vmas_visited.p99") == 3);
	assert_true(num(m, "hold.total_ns") == 520);
	/* measured_mmap_holds: summed when both blocks have it, left out when one lacks it */
	assert_true(num(a, "measured_mmap_holds") == 0);
	assert_true(num(m, "measured_mmap_holds") == 0);
	bad = cJSON_Duplicate(a, 1);
	cJSON_DeleteItemFromObject(bad, "measured_mmap_holds");
	cJSON_Delete(m);
	m = NULL;
	assert_int_equal(rmap_walk_json_merge(a, bad, &m, &err), 0);
	assert_null(cJSON_GetObjectItemCaseSensitive(m, "measured_mmap_holds"));
	assert_true(num(m, "walks") == 2);
	cJSON_Delete(bad);
	/* a block without its histogram is named */
	bad = cJSON_Duplicate(a, 1);
	cJSON_DeleteItemFromObject(bad, "hold");
	cJSON_Delete(m);
	m = NULL;
	assert_int_equal(rmap_walk_json_merge(a, bad, &m, &err), -1);
	assert_null(m);
	assert_non_null(strstr(err.msg, "hold"));
	cJSON_DeleteItemFromObject(bad, "by_source");
	assert_int_equal(rmap_walk_json_merge(bad, a, &m, &err), -1);
	assert_non_null(strstr(err.msg, "by_source"));
	cJSON_Delete(bad);
	cJSON_Delete(a);
	world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eager_fork_split),
		cmocka_unit_test(test_lazy_upgraded_walks_like_eager),
		cmocka_unit_test(test_lazy_folio_one_vma),
		cmocka_unit_test(test_thp_across_split),
		cmocka_unit_test(test_walk_lock_policy),
		cmocka_unit_test(test_eager_reclaim_trylock),
		cmocka_unit_test(test_pressure_counts),
		cmocka_unit_test(test_cursor_round_robin),
		cmocka_unit_test(test_observed_migration),
		cmocka_unit_test(test_measured_hold_fails_trylock),
		cmocka_unit_test(test_measured_hold_reclaim),
		cmocka_unit_test(test_measured_hold_ends),
		cmocka_unit_test(test_measured_nested_and_mm_release),
		cmocka_unit_test(test_json_and_merge),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
