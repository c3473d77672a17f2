/*
 * test_uffd.c - the rules of Android's GC steps: userfaultfd ioctls and
 * mremap(MREMAP_DONTUNMAP), one test per rule (eager.md §2.2 "userfaultfd",
 * §2.7 "mremap move" and "userfaultfd" rows; mm/userfaultfd.c of 6.18; the
 * lazy rule of docs/lazy-model.md "UFFDIO_MOVE").  Each test draws the VMA
 * layout before and after; expected anon_vma / anon_vma_chain deltas come
 * from the rule named.  Legend: [rw] = protection, * = faulted (X, Y: its
 * anon_vma), u = registered with the uffd (VM_UFFD_MISSING), L = locked,
 * R1, R2 = lazy roots, . = no page, f = a folio, z = the zero page.
 * The invariant checkers run after every event.
 */
#include "evbuild.h"

#define MM 1
#define A 0x20000000ULL
#define B 0x40000000ULL
#define UFFD 7
#define K_ENOENT 2
#define K_EAGAIN 11
#define K_EEXIST 17

static struct world *eager(void)
{
	return tw_world("eager", 3);
}

static struct world *lazy(void)
{
	struct config cfg;

	config_defaults(&cfg);
	cfg.profile = 3;
	cfg.thp_from_trace = false;
	cfg.thp_enabled = 1;
	return tw_world_cfg("lazy", &cfg);
}

/* A registered, never faulted 4-page VMA at addr: [rw u . . . .] */
static void registered(struct world *w, uint64_t addr)
{
	tw(w, ev_mmap(MM, addr, 4 * PG, RW, ANON));
	tw(w, ev_uffd_register(MM, addr, 4 * PG, UFFD, KABI_UFFD_MODE_MISSING, 0));
}

/*
 * UFFDIO_COPY (uffd_mfill_lock prepares the destination, then
 * folio_add_new_anon_rmap): +1 AV, +1 AVC, new folios named by X.
 *   before  [rw u . . . .]          after  [rw u *X f f . .]
 */
static void test_copy_prepares_and_maps(void **state)
{
	struct world *w = eager();
	struct tw_mark m;

	(void)state;
	registered(w, A);
	assert_true(tw_vma(w, MM, A)->flags & VM_UFFD_MISSING);
	m = tw_mark(w);
	tw(w, ev_uffd_op(MM, AVM_UFFD_COPY, A, 2 * PG, B, 2 * PG, UFFD));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	assert_true(tw_page(w, MM, A).found && tw_page(w, MM, A + PG).found);
	assert_false(tw_page(w, MM, A + 2 * PG).found);
	assert_int_equal(tw_page(w, MM, A).owner, tw_owner(w, MM, A));
	world_destroy(w);
}

/*
 * UFFDIO_ZEROPAGE: prepared as COPY (the lock comes first), but only the
 * zero page is mapped: no anon folio.  A later write copies it (a new folio
 * in the same anon_vma: nothing allocated).
 *   before  [rw u . . . .]          after  [rw u *X z z . .]
 */
static void test_zeropage_prepares_without_folio(void **state)
{
	struct world *w = eager();
	struct tw_mark m;

	(void)state;
	registered(w, A);
	m = tw_mark(w);
	tw(w, ev_uffd_op(MM, AVM_UFFD_ZEROPAGE, A, 2 * PG, 0, 2 * PG, UFFD));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	assert_false(tw_page(w, MM, A).found);
	m = tw_mark(w);
	tw(w, ev_write(MM, A));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_true(tw_page(w, MM, A).found);
	world_destroy(w);
}

/*
 * A failed COPY: -ENOENT (the VMA is not registered) and -EEXIST come after
 * the destination was locked and prepared (+1/+1, as the kernel does: see
 * tests/e2e/collect_uffd.sh); -EAGAIN (mmap changing) comes before: nothing.
 *   [rw . .] COPY -> -EAGAIN  [rw . .]    COPY -> -ENOENT  [rw * . .]
 */
static void test_failed_copy_prepares_after_the_lock(void **state)
{
	struct world *w = eager();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	m = tw_mark(w);
	tw(w, ev_uffd_op(MM, AVM_UFFD_COPY, A, PG, B, -K_EAGAIN, UFFD));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_uffd_op(MM, AVM_UFFD_COPY, A, PG, B, -K_ENOENT, UFFD));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	assert_false(tw_page(w, MM, A).found);
	world_destroy(w);
}

/* A partial COPY (-EAGAIN after one page: d = 4096) maps what was done only. */
static void test_partial_copy(void **state)
{
	struct world *w = eager();

	(void)state;
	registered(w, A);
	tw(w, ev_uffd_op(MM, AVM_UFFD_COPY, A, 4 * PG, B, PG, UFFD));
	assert_true(tw_page(w, MM, A).found);
	assert_false(tw_page(w, MM, A + PG).found);
	world_destroy(w);
}

/* A shared destination is never prepared (shmem: the page cache holds the pages). */
static void test_copy_into_shared_prepares_nothing(void **state)
{
	struct world *w = eager();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, MAP_SHARED | MAP_ANONYMOUS));
	tw(w, ev_uffd_register(MM, A, 4 * PG, UFFD, KABI_UFFD_MODE_MISSING, 0));
	m = tw_mark(w);
	tw(w, ev_uffd_op(MM, AVM_UFFD_COPY, A, PG, B, PG, UFFD));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_false(tw_faulted(w, MM, A));
	world_destroy(w);
}

/*
 * UFFDIO_MOVE (uffd_move_lock prepares the destination: +1 AV Y, +1 AVC;
 * move_pages_pte: folio_move_anon_rmap re-points the folio to Y, index =
 * the destination's; the source PTE goes).  No other allocation.
 *   before  src [rw *X f .]   dst [rw u . .]
 *   after   src [rw *X . .]   dst [rw u *Y f .]
 */
static void test_move_repoints_folio(void **state)
{
	struct world *w = eager();
	struct tw_mark m;
	uint64_t folio;

	(void)state;
	tw(w, ev_mmap(MM, B, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, B));
	folio = tw_page(w, MM, B).folio;
	registered(w, A);
	m = tw_mark(w);
	tw(w, ev_uffd_op(MM, AVM_UFFD_MOVE, A, PG, B, PG, UFFD));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	assert_false(tw_page(w, MM, B).found);
	assert_int_equal(tw_page(w, MM, A).folio, folio);
	assert_int_equal(tw_page(w, MM, A).owner, tw_owner(w, MM, A));
	assert_int_not_equal(tw_page(w, MM, A).owner, tw_owner(w, MM, B));
	/* the moved folio's anon_vma is the destination's: unmapping the source frees X */
	m = tw_mark(w);
	tw(w, ev_munmap(MM, B, 2 * PG));
	tw_assert_delta(w, &m, 0, 1, 0, 1);
	world_destroy(w);
}

/*
 * Registering the middle of a faulted VMA splits it (vma_modify_flags_uffd:
 * two splits, +1 AVC each); unregistering merges the three back (-2 AVCs).
 *   before  [rw *X    ]   register  [rw *X][rw u *X][rw *X]   unregister  [rw *X]
 */
static void test_register_splits_unregister_merges(void **state)
{
	struct world *w = eager();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	m = tw_mark(w);
	tw(w, ev_uffd_register(MM, A + PG, 2 * PG, UFFD, KABI_UFFD_MODE_MISSING, 0));
	tw_assert_delta(w, &m, 0, 0, 2, 0);
	assert_int_equal(tw_vma_count(w, MM), 3);
	tw_assert_vma(w, MM, A + PG, A + PG, A + 3 * PG);
	/* the same range again: nothing changes (already registered with this ctx) */
	m = tw_mark(w);
	tw(w, ev_uffd_register(MM, A + PG, 2 * PG, UFFD, KABI_UFFD_MODE_MISSING, 0));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_uffd_unregister(MM, A + PG, 2 * PG, UFFD));
	tw_assert_delta(w, &m, 0, 0, 0, 2);
	assert_int_equal(tw_vma_count(w, MM), 1);
	assert_false(tw_vma(w, MM, A)->flags & VM_UFFD_MASK);
	world_destroy(w);
}

/* A failed REGISTER changes nothing (the kernel checks the whole range first). */
static void test_failed_register_changes_nothing(void **state)
{
	struct world *w = eager();

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(w, ev_failed(ev_uffd_register(MM, A + PG, PG, UFFD, KABI_UFFD_MODE_MISSING, 0), -16));
	assert_int_equal(tw_vma_count(w, MM), 1);
	world_destroy(w);
}

/*
 * mremap(MREMAP_DONTUNMAP) of part of a locked VMA (dontunmap_complete):
 * the whole source VMA loses VM_LOCKED (no split), and keeps its chain (it
 * did not move whole).  The moved whole: the source is unlinked (-1 AVC).
 *   before  [rw L *X . . . .]                    (4 pages, page 0 faulted)
 *   move pages 0-1:  [rw *X][4 free][rw *X f .]  source unlocked, chain kept
 *   move it whole:   [rw .]         [rw *X f .]  source unlinked
 */
static void test_dontunmap_clears_locked(void **state)
{
	struct world *w = eager();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(w, ev_mlock(MM, A, 4 * PG, MLOCK_ONFAULT));
	tw(w, ev_write(MM, A));
	assert_true(tw_vma(w, MM, A)->flags & VM_LOCKED);
	m = tw_mark(w);
	tw(w, ev_mremap(MM, A, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, (int64_t)B, 0));
	tw_assert_delta(w, &m, 0, 0, 1, 0); /* the copy clones X's chain */
	assert_false(tw_vma(w, MM, A)->flags & VM_LOCKED_MASK);
	tw_assert_vma(w, MM, A, A, A + 4 * PG);
	assert_true(tw_vma(w, MM, B)->flags & VM_LOCKED); /* the copy keeps it */
	assert_true(tw_page(w, MM, B).found && !tw_page(w, MM, A).found);
	assert_true(tw_faulted(w, MM, A));
	/* a whole VMA moved: the emptied source is unlinked */
	tw(w, ev_mmap(MM, A + 16 * PG, PG, RW, ANON));
	tw(w, ev_write(MM, A + 16 * PG));
	m = tw_mark(w);
	tw(w, ev_mremap(MM, A + 16 * PG, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
			(int64_t)(B + 16 * PG), 0));
	tw_assert_delta(w, &m, 0, 0, 1, 1);
	assert_false(tw_faulted(w, MM, A + 16 * PG));
	world_destroy(w);
}

/*
 * mremap_userfaultfd_prep: the moved copy of a registered VMA loses the ctx
 * and the VM_UFFD_* flags unless the uffd asked for UFFD_FEATURE_EVENT_REMAP.
 *   [rw u] -> mremap -> [rw]          with EVENT_REMAP: [rw u]
 */
static void test_mremap_drops_uffd_without_event_remap(void **state)
{
	struct world *w = eager();

	(void)state;
	registered(w, A);
	tw(w, ev_mremap(MM, A, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, (int64_t)B, 0));
	assert_false(tw_vma(w, MM, B)->flags & VM_UFFD_MASK);
	assert_int_equal(tw_vma(w, MM, B)->uffd_ctx, 0);
	assert_true(tw_vma(w, MM, A)->flags & VM_UFFD_MISSING);
	tw(w, ev_mmap(MM, A + 64 * PG, 4 * PG, RW, ANON));
	tw(w, ev_uffd_register(MM, A + 64 * PG, 4 * PG, UFFD + 1, KABI_UFFD_MODE_MISSING,
			       KABI_UFFD_FEATURE_EVENT_REMAP));
	tw(w, ev_mremap(MM, A + 64 * PG, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
			(int64_t)(B + 64 * PG), 0));
	assert_true(tw_vma(w, MM, B + 64 * PG)->flags & VM_UFFD_MISSING);
	assert_int_equal(tw_vma(w, MM, B + 64 * PG)->uffd_ctx, UFFD + 1);
	world_destroy(w);
}

/*
 * Lazy (docs/lazy-model.md "UFFDIO_MOVE"): the destination's prepare makes it
 * a lazy root R2 (nothing allocated, as at a first fault); the moved folio
 * then names R2, not the source's root R1, so when the source VMA goes no
 * folio keeps R1's VMA pinned.  Eager on the same stream: +1/+1 at the move.
 *   before  src [rw L(R1) f]   dst [rw u .]
 *   after   src [rw L(R1) .]   dst [rw u L(R2) f]     munmap src: no pinned VMA
 */
static void test_lazy_move_names_destination_root(void **state)
{
	struct world *w = lazy();
	struct tw_mark m;
	uint64_t before;

	(void)state;
	tw(w, ev_mmap(MM, B, PG, RW, ANON));
	tw(w, ev_write(MM, B));
	before = tw_page(w, MM, B).owner;
	registered(w, A);
	m = tw_mark(w);
	tw(w, ev_uffd_op(MM, AVM_UFFD_MOVE, A, PG, B, PG, UFFD));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_true(tw_page(w, MM, A).owner & (1ULL << 63)); /* a lazy root token */
	assert_int_not_equal(tw_page(w, MM, A).owner, before);
	tw(w, ev_munmap(MM, B, PG));
	assert_int_equal(world_stats(w)->pinned_vmas, 0);
	/* a COPY into the same destination names the same root */
	tw(w, ev_uffd_op(MM, AVM_UFFD_COPY, A + PG, PG, B, PG, UFFD));
	assert_int_equal(tw_page(w, MM, A + PG).owner, tw_page(w, MM, A).owner);
	world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_prepares_and_maps),
		cmocka_unit_test(test_zeropage_prepares_without_folio),
		cmocka_unit_test(test_failed_copy_prepares_after_the_lock),
		cmocka_unit_test(test_partial_copy),
		cmocka_unit_test(test_copy_into_shared_prepares_nothing),
		cmocka_unit_test(test_move_repoints_folio),
		cmocka_unit_test(test_register_splits_unregister_merges),
		cmocka_unit_test(test_failed_register_changes_nothing),
		cmocka_unit_test(test_dontunmap_clears_locked),
		cmocka_unit_test(test_mremap_drops_uffd_without_event_remap),
		cmocka_unit_test(test_lazy_move_names_destination_root),
	};

	return cmocka_run_group_tests_name("uffd", tests, NULL, NULL);
}
