/*
 * test_lazy_locks.c - what the worlds record as lock sections: the mainline
 * sections both designs pay (VMA write locks, eager.md §5), lazy's own
 * synchronisation (lazy.md §9.3; rows 5 and 6 of the fidelity review,
 * docs/reviews/kernel-fidelity-2026-12.md), and each lazy policy that
 * moves a section (docs/lazy-model.md "Locks").  One test per rule, profile
 * P3, x86_64-4level costs (configs/arch/x86_64-4level.yaml):
 *   lock 20, AV alloc 60, AVC alloc 40, insert 50, folio rewrite 15,
 *   VMA write lock 30, THP split 10 per page, collapse 8000, lazy migration
 *   exclusion 20, VMA reference 20.
 * Legend as in test_lazy.c: [rw] protection, L(R) lazy naming root R,
 * T(X) TREE_PARENT in X's tree, *X regular with anon_vma X, . unfaulted.
 * Kernel rules named: 6.18 vma_start_write (write-locks a VMA once per
 * mmap_lock write hold; a second call in the same hold returns at once),
 * __split_vma (locks the VMA and the new piece), vma_merge_existing_range
 * and vma_expand (lock every VMA they change or remove),
 * vms_gather_munmap_vmas (locks every VMA it detaches), mprotect_fixup
 * (locks the VMA whose flags change), dup_mmap (locks every parent VMA).
 */
#include "evbuild.h"

#include "arch.h"
#include "locks.h"
#include "rmap_walk.h"
#include "track.h"

#define MM 1
#define C1 2
#define C2 3
#define A 0x20000000ULL /* 2 MiB aligned */
#define M2 (2ULL << 20)


static struct avm_event at(struct avm_event ev, uint64_t t, uint32_t cpu)
{
	ev.t = t;
	ev.cpu = cpu;
	return ev;
}

static struct avm_event ev_mig(uint64_t mm, int op, uint64_t addr)
{
	struct avm_event ev = ev_base(mm, AVM_MIGRATE);

	ev.a = op;
	ev.b = (int64_t)addr;
	return ev;
}

/* VMA write sections of reason why so far. */
static uint64_t vma_w(struct world *w, enum locks_why why)
{
	return tw_lock_sum(w, LOCKS_VMA, LOCKS_WRITE).count_by_why[why];
}

/*
 * VMA write sections per operation, the same in both worlds (both designs
 * pay them), each vma_write_lock_ns long:
 *   mmap      [rw V 4p]                                  (no section: new VMA)
 *   mprotect  [rw n1][r V][rw n2]   split below: V, n1 (2); split above: n2
 *             (V is locked in this hold already): 3 split; mprotect_fixup's
 *             lock of V: none more
 *   mprotect  back to rw: [rw n1 4p] merge of prev + middle + next: n1, V,
 *             n2: 3 merge
 *   mprotect  whole VMA to r (no split, no merge): 1 mprotect
 *   munmap    [A+p, A+3p): split below: 2, above: 1 (3 split); the detached
 *             middle is locked already: 0 munmap
 *   munmap    the rest, two VMAs: 2 munmap
 *   mmap 2 VMAs + fork: dup_mmap locks each parent VMA: 2 fork
 */
static void test_vma_write_sections_per_operation(void **state)
{
	const char *models[2] = { "eager", "lazy" };

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct world *w = tw_world_x86(models[i], NULL);
		struct locks_summary s;

		tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
		tw(w, ev_write(MM, A));
		assert_int_equal(tw_lock_sum(w, LOCKS_VMA, LOCKS_WRITE).count, 0);
		tw(w, ev_mprotect(MM, A + PG, 2 * PG, PROT_READ));
		assert_int_equal(tw_vma_count(w, MM), 3);
		assert_int_equal(vma_w(w, LOCKS_WHY_SPLIT), 3);
		assert_int_equal(vma_w(w, LOCKS_WHY_MPROTECT), 0);
		tw(w, ev_mprotect(MM, A + PG, 2 * PG, RW));
		assert_int_equal(tw_vma_count(w, MM), 1);
		assert_int_equal(vma_w(w, LOCKS_WHY_MERGE), 3);
		tw(w, ev_mprotect(MM, A, 4 * PG, PROT_READ));
		assert_int_equal(vma_w(w, LOCKS_WHY_MPROTECT), 1);
		tw(w, ev_munmap(MM, A + PG, 2 * PG));
		assert_int_equal(vma_w(w, LOCKS_WHY_SPLIT), 6);
		assert_int_equal(vma_w(w, LOCKS_WHY_MUNMAP), 0);
		tw(w, ev_munmap(MM, A, 4 * PG));
		assert_int_equal(vma_w(w, LOCKS_WHY_MUNMAP), 2);
		tw(w, ev_mmap(MM, A, PG, RW, ANON));
		tw(w, ev_mmap(MM, A + 4 * PG, PG, PROT_READ, ANON));
		tw(w, ev_write(MM, A));
		tw(w, ev_fork(MM, C1));
		assert_int_equal(vma_w(w, LOCKS_WHY_FORK), 2);
		s = tw_lock_sum(w, LOCKS_VMA, LOCKS_WRITE);
		assert_int_equal(s.count, 3 + 3 + 1 + 3 + 2 + 2);
		assert_int_equal(s.total_ns, s.count * tw_x86_ns(LOCKS_OP_VMA_WRITE));
		world_destroy(w);
	}
}

/* Sum of the forks' anon rmap cost (track.h fork_cost.anon_rmap.total_ns). */
static uint64_t fork_anon_ns(struct world *w)
{
	struct avm_err err = { { 0 } };
	cJSON *fc = track_fork_cost_json(world_track(w), &err);
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(fc, "anon_rmap");
	uint64_t v;

	assert_non_null(fc);
	v = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "total_ns"));
	cJSON_Delete(fc);
	return v;
}

static void rw_anon_vma(struct config *c)
{
	c->lazy_rewrite_lock = LAZY_REWRITE_ANON_VMA_WRITE;
}

static void rw_vma(struct config *c)
{
	c->lazy_rewrite_lock = LAZY_REWRITE_VMA_WRITE;
}

/*
 * One anon_vma section per upgrade (lazy.md §4.4), and where its rewrites
 * go (lazy.rewrite_lock).  Two lazy VMAs of two families; V1 (4 MiB)
 * has folios in two PTE tables (A and A+2M), V2 one:
 *   parent [rw L(R1) 4M: folios at A, A+2M+p] . [rw L(R2) 1p: folio at B]
 *   fork -> [rw *X1] [rw *X2]              child [rw T(X1)] [rw T(X2)]
 * Every policy: 2 upgrade sections on the anon_vma roots (one each, not
 * two as before) and 2 fork sections (the children's clones), 3 rewrites,
 * and the same fork_cost.anon_rmap: 2 links + 2 clones (lock + insert
 * each) + 3 x 15 + the allocations made unlocked (per VMA: the parent's AV
 * and AVC, the child's clone AVC: 60 + 2 x 40).
 *   ptl (default): upgrade = lock + insert; rewrites in page_table_lock
 *     sections, one per PTE table with rewrites: 2 for V1 + 1 for V2 = 3,
 *     3 x 15 ns, no lock of their own (copy_pte_range holds it);
 *   vma_write: one VMA write section per upgraded VMA with rewrites (V1: 2
 *     x 15, V2: 15), reason upgrade, besides dup_mmap's fork sections;
 *   anon_vma_write: upgrade = lock + insert + its rewrites, nothing else.
 */
static void test_one_section_per_upgrade(void **state)
{
	void (*tweaks[3])(struct config *) = { NULL, rw_vma, rw_anon_vma };
	const uint64_t B = A + 8 * M2;

	(void)state;
	for (int k = 0; k < 3; k++) {
		struct world *w = tw_world_x86("lazy", tweaks[k]);
		struct locks_summary av, ptl, vma;
		uint64_t link = tw_x86_ns(LOCKS_OP_LOCK) + tw_x86_ns(LOCKS_OP_TREE_INSERT);
		uint64_t rw = tw_x86_ns(LOCKS_OP_FOLIO_REWRITE);

		tw(w, ev_mmap(MM, A, 2 * M2, RW, ANON));
		tw(w, ev_mmap(MM, B, PG, RW, ANON));
		tw(w, ev_write(MM, A));
		tw(w, ev_write(MM, A + M2 + PG));
		tw(w, ev_write(MM, B));
		tw(w, ev_fork(MM, C1));
		assert_int_equal(world_stats(w)->upgrades, 2);
		assert_int_equal(world_stats(w)->folio_rewrites, 3);
		av = tw_lock_sum(w, LOCKS_ANON_VMA, LOCKS_WRITE);
		ptl = tw_lock_sum(w, LOCKS_PTL, LOCKS_WRITE);
		vma = tw_lock_sum(w, LOCKS_VMA, LOCKS_WRITE);
		assert_int_equal(av.count_by_why[LOCKS_WHY_UPGRADE], 2);
		assert_int_equal(av.count_by_why[LOCKS_WHY_FORK], 2);
		assert_int_equal(av.total_ns_by_why[LOCKS_WHY_FORK], 2 * link);
		/* the fork's anon rmap cost is the same under every policy: 3 rewrites each */
		assert_int_equal(fork_anon_ns(w), 2 * link + 2 * link + 3 * rw +
				 2 * (tw_x86_ns(LOCKS_OP_AV_ALLOC) + 2 * tw_x86_ns(LOCKS_OP_AVC_ALLOC)));
		switch (k) {
		case 0:
			assert_int_equal(av.total_ns_by_why[LOCKS_WHY_UPGRADE], 2 * link);
			assert_int_equal(ptl.count_by_why[LOCKS_WHY_UPGRADE], 3);
			assert_int_equal(ptl.total_ns_by_why[LOCKS_WHY_UPGRADE], 3 * rw);
			assert_int_equal(vma.count_by_why[LOCKS_WHY_UPGRADE], 0);
			break;
		case 1:
			assert_int_equal(av.total_ns_by_why[LOCKS_WHY_UPGRADE], 2 * link);
			assert_int_equal(ptl.count, 0);
			assert_int_equal(vma.count_by_why[LOCKS_WHY_UPGRADE], 2);
			assert_int_equal(vma.total_ns_by_why[LOCKS_WHY_UPGRADE], 3 * rw);
			break;
		default:
			assert_int_equal(av.total_ns_by_why[LOCKS_WHY_UPGRADE], 2 * link + 3 * rw);
			assert_int_equal(ptl.count, 0);
			assert_int_equal(vma.count_by_why[LOCKS_WHY_UPGRADE], 0);
			break;
		}
		world_destroy(w);
	}
}

static void rebase(struct config *c)
{
	c->lazy_mremap = LAZY_MREMAP_REBASE;
}

static void rebase_vma(struct config *c)
{
	c->lazy_mremap = LAZY_MREMAP_REBASE;
	c->lazy_rewrite_lock = LAZY_REWRITE_VMA_WRITE;
}

static void pin_none(struct config *c)
{
	c->lazy_pin = LAZY_PIN_NONE;
}

/*
 * Rewrites outside an upgrade cost folio_rewrite_ns too (fidelity review rows 3, 12),
 * reason rewrite:
 *   mremap (rebase) of [rw L(R) 2p, folios at A, A+p] to A+4M: the two
 *     folios now name the new root: 2 rewrites; ptl: one page_table_lock
 *     section (move_ptes holds the source table's lock), 2 x 15 ns;
 *     vma_write: one VMA write section of the source VMA, 2 x 15 ns;
 *   munmap of the root VMA object's part under pin none (as in test_lazy.c
 *     test_munmap_root_pin_none_rewrites): the folio at A names the
 *     surviving piece: 1 rewrite, 15 ns, page_table_lock.
 */
static void test_rebase_and_pin_none_rewrites_cost(void **state)
{
	void (*tweaks[2])(struct config *) = { rebase, rebase_vma };

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct world *w = tw_world_x86("lazy", tweaks[k]);
		struct locks_summary s;

		tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
		tw(w, ev_write(MM, A));
		tw(w, ev_write(MM, A + PG));
		tw(w, ev_mremap(MM, A, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
				(int64_t)(A + 2 * M2), A + 2 * M2));
		assert_int_equal(world_stats(w)->folio_rewrites, 2);
		assert_int_equal(world_stats(w)->upgrades, 0);
		s = tw_lock_sum(w, k == 0 ? LOCKS_PTL : LOCKS_VMA, LOCKS_WRITE);
		assert_int_equal(s.count_by_why[LOCKS_WHY_REWRITE], 1);
		assert_int_equal(s.total_ns_by_why[LOCKS_WHY_REWRITE], 2 * tw_x86_ns(LOCKS_OP_FOLIO_REWRITE));
		world_destroy(w);
	}
	{
		struct world *w = tw_world_x86("lazy", pin_none);
		struct locks_summary s;

		tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
		tw(w, ev_write(MM, A));
		tw(w, ev_write(MM, A + 3 * PG));
		tw(w, ev_munmap(MM, A + PG, 3 * PG));
		assert_int_equal(world_stats(w)->folio_rewrites, 1);
		s = tw_lock_sum(w, LOCKS_PTL, LOCKS_WRITE);
		assert_int_equal(s.count_by_why[LOCKS_WHY_REWRITE], 1);
		assert_int_equal(s.total_ns_by_why[LOCKS_WHY_REWRITE], tw_x86_ns(LOCKS_OP_FOLIO_REWRITE));
		world_destroy(w);
	}
}

static void tp_allocate(struct config *c)
{
	c->lazy_tree_parent_reuse = LAZY_TP_REUSE_ALLOCATE;
}

/*
 * lazy.tree_parent_reuse (fidelity review row 16).  P forks C, P exits, C forks D:
 *   P [rw L(R)] --fork--> P [rw *X]         C [rw T(X)]
 *   P exits: X keeps C's AVC in its tree, no active VMA, num_children 1
 *   C forks: C's TREE_PARENT VMA is upgraded first (lazy.md §4.4 step 4)
 *     mainline (default): anon_vma_fork's reuse test over C's chain [X]
 *       finds X (num_children 1 < 2, num_active_vmas 0): C [rw *X], no
 *       allocation; D's clone of C's chain [X]: +1 AVC.  Total +0 AV +1 AVC
 *     allocate: C gets Y under X (+1 AV +1 AVC); D clones [X, Y]: +2 AVC.
 *       Total +1 AV +3 AVC
 * Eager on the same events (eager.md §2.5): C has its own Y, so X has
 * num_children 2 and Y an active VMA: D's fork reuses nothing: +1 AV (Z)
 * +3 AVC, as allocate.
 */
static void test_tree_parent_reuse(void **state)
{
	void (*tweaks[2])(struct config *) = { NULL, tp_allocate };

	(void)state;
	for (int k = 0; k < 3; k++) {
		struct world *w = k < 2 ? tw_world_x86("lazy", tweaks[k]) : tw_world_x86("eager", NULL);
		struct tw_mark m;

		tw(w, ev_mmap(MM, A, PG, RW, ANON));
		tw(w, ev_write(MM, A));
		tw(w, ev_fork(MM, C1));
		tw(w, ev_exit(MM));
		m = tw_mark(w);
		tw(w, ev_fork(C1, C2));
		if (k == 0)
			tw_assert_delta(w, &m, 0, 0, 1, 0);
		else
			tw_assert_delta(w, &m, 1, 0, 3, 0);
		world_destroy(w);
	}
}

/*
 * Inferred THP split (no tracepoint on 6.18): a partial munmap cuts a
 * PMD-mapped folio.  [rw MADV_HUGEPAGE 2M at A], a write maps one 512-page
 * folio by PMD; munmap [A+1M, A+2M) splits the VMA at A+1M inside it: one
 * split, lock 20 + 512 x 10 = 5140 ns.  Eager: the folio's anon_vma root,
 * write (__folio_split); lazy: the folio names a lazy root, so the PMD's
 * page-table lock, write (docs/lazy-model.md "Locks").  A second partial
 * munmap [A+512K, A+1M) cuts the same folio again: no second split.  An
 * aligned 2M VMA unmapped whole is never cut: no split.
 */
static void test_thp_split_on_partial_munmap(void **state)
{
	const char *models[2] = { "eager", "lazy" };

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct world *w = tw_world_x86(models[i], NULL);
		enum locks_class cls = i == 0 ? LOCKS_ANON_VMA : LOCKS_PTL;
		uint64_t len = tw_x86_ns(LOCKS_OP_LOCK) + 512 * tw_x86_ns(LOCKS_OP_THP_SPLIT);
		struct locks_summary s;

		tw(w, ev_mmap(MM, A, M2, RW, ANON));
		tw(w, ev_madvise(MM, A, M2, MADV_HUGEPAGE));
		tw(w, ev_write(MM, A));
		assert_int_equal(world_sim_stats(w)->thp_faults, 1);
		tw(w, ev_munmap(MM, A + M2 / 2, M2 / 2));
		s = tw_lock_sum(w, cls, LOCKS_WRITE);
		assert_int_equal(s.count_by_why[LOCKS_WHY_THP_SPLIT], 1);
		assert_int_equal(s.total_ns_by_why[LOCKS_WHY_THP_SPLIT], len);
		assert_int_equal(len, 5140);
		tw(w, ev_munmap(MM, A + M2 / 4, M2 / 4));
		assert_int_equal(tw_lock_sum(w, cls, LOCKS_WRITE).count_by_why[LOCKS_WHY_THP_SPLIT], 1);
		tw(w, ev_mmap(MM, A + 4 * M2, M2, RW, ANON));
		tw(w, ev_madvise(MM, A + 4 * M2, M2, MADV_HUGEPAGE));
		tw(w, ev_write(MM, A + 4 * M2));
		tw(w, ev_munmap(MM, A + 4 * M2, M2));
		assert_int_equal(tw_lock_sum(w, cls, LOCKS_WRITE).count_by_why[LOCKS_WHY_THP_SPLIT], 1);
		world_destroy(w);
	}
}

static void walk_vma_read(struct config *c)
{
	c->lazy_walk_lock = LAZY_WALK_VMA_READ;
}

/*
 * A vma_read lazy walk queues behind a VMA write section of another CPU
 * (fidelity review row 5): [rw L(R) 4p, folio at A]; at t = 1000 on CPU 0 mprotect
 * makes the whole VMA read-only (mprotect_fixup: VMA write, 30 ns, held
 * to 1030); at t = 1010 on CPU 1 a migration of the folio walks it under
 * V's read lock: it waits 20 ns.  On CPU 0 (the writer's own CPU) it does
 * not wait; under rcu nothing waits.  The migration walk of a lazy folio
 * also takes the free_pgtables exclusion: one page_table_lock write
 * section, lock + 20 = 40 ns, reason migrate_excl.
 */
static void test_vma_read_walk_waits_behind_vma_write(void **state)
{
	struct {
		void (*tweak)(struct config *c);
		uint32_t cpu;
		uint64_t waited, wait_ns;
	} cases[3] = { { walk_vma_read, 1, 1, 20 }, { walk_vma_read, 0, 0, 0 }, { NULL, 1, 0, 0 } };

	(void)state;
	for (int k = 0; k < 3; k++) {
		struct world *w = tw_world_x86("lazy", cases[k].tweak);
		struct locks_summary rd, ex;

		tw(w, at(ev_mmap(MM, A, 4 * PG, RW, ANON), 100, 0));
		tw(w, at(ev_write(MM, A), 200, 0));
		tw(w, at(ev_mprotect(MM, A, 4 * PG, PROT_READ), 1000, 0));
		assert_int_equal(vma_w(w, LOCKS_WHY_MPROTECT), 1);
		tw(w, at(ev_mig(MM, AVM_MIGRATE_SET_PTE, A), 1010, cases[k].cpu));
		assert_int_equal(world_rmap_walks(w)->lazy_folio_walks, 1);
		rd = tw_lock_sum(w, cases[k].tweak ? LOCKS_VMA : LOCKS_RCU, LOCKS_READ);
		assert_int_equal(rd.count_by_why[LOCKS_WHY_RMAP_WALK], 1);
		assert_int_equal(rd.waited, cases[k].waited);
		assert_int_equal(rd.wait_total_ns, cases[k].wait_ns);
		ex = tw_lock_sum(w, LOCKS_PTL, LOCKS_WRITE);
		assert_int_equal(ex.count_by_why[LOCKS_WHY_MIGRATE], 1);
		assert_int_equal(ex.total_ns_by_why[LOCKS_WHY_MIGRATE],
				 tw_x86_ns(LOCKS_OP_LOCK) + tw_x86_ns(LOCKS_OP_LAZY_MIGRATE));
		world_destroy(w);
	}
}

/*
 * khugepaged collapse (the trace's THP collapse event: mm, no address):
 * one section per successful collapse (d = isolated = 1), lock + 8000 ns;
 * eager on vma->anon_vma's root (the mm's stand-in instance), lazy on the
 * page-table lock (its exclusion is not in the sources).  A failed
 * collapse (d = 0) records nothing.
 */
static void test_collapse_section(void **state)
{
	const char *models[2] = { "eager", "lazy" };

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct world *w = tw_world_x86(models[i], NULL);
		struct avm_event ok = ev_base(MM, AVM_THP), failed;
		struct locks_summary s;

		ok.a = AVM_THP_COLLAPSE;
		ok.c = 1;
		ok.d = 1;
		failed = ok;
		failed.c = 3;
		failed.d = 0;
		tw(w, ev_mmap(MM, A, M2, RW, ANON));
		tw(w, ok);
		tw(w, failed);
		s = tw_lock_sum(w, i == 0 ? LOCKS_ANON_VMA : LOCKS_PTL, LOCKS_WRITE);
		assert_int_equal(s.count_by_why[LOCKS_WHY_COLLAPSE], 1);
		assert_int_equal(s.total_ns_by_why[LOCKS_WHY_COLLAPSE],
				 tw_x86_ns(LOCKS_OP_LOCK) + tw_x86_ns(LOCKS_OP_THP_COLLAPSE));
		assert_int_equal(world_rmap_walks(w)->unresolved_thp, 2);
		world_destroy(w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vma_write_sections_per_operation),
		cmocka_unit_test(test_one_section_per_upgrade),
		cmocka_unit_test(test_rebase_and_pin_none_rewrites_cost),
		cmocka_unit_test(test_tree_parent_reuse),
		cmocka_unit_test(test_thp_split_on_partial_munmap),
		cmocka_unit_test(test_vma_read_walk_waits_behind_vma_write),
		cmocka_unit_test(test_collapse_section),
	};

	return cmocka_run_group_tests_name("lazy_locks", tests, NULL, NULL);
}
