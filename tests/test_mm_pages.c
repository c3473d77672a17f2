/*
 * test_mm_pages.c - the simulator's page state: which anon folios each mm
 * maps, shared after fork (slot arrays shared copy-on-write between parent
 * and child), COW copies versus in-place reuse (eager.md §4.1), zaps,
 * mremap moves, and the partial copy when a VM_WIPEONFORK VMA shares a
 * 2 MiB region with copied ones.  The checker runs after every event.
 */
#include "layout.h"

#define P 1
#define C 2
#define A 0x30000000ULL

static uint64_t folio(struct world *w, uint64_t mm, uint64_t addr)
{
	return tw_page(w, mm, addr).folio;
}

/*
 * After fork both map the parent's folios.  A munmap in the child unshares
 * the child's array and drops only the child's page.  The parent's write to
 * a still-shared page copies (new folio); the child's later write to that
 * page finds it mapped once and reuses it.
 */
static void test_fork_shares_then_cow(void **state)
{
	struct world *w = tw_world("eager", 3);
	uint64_t f0, f2;
	int i;

	(void)state;
	tw(w, ev_mmap(P, A, 4 * PG, RW, ANON));
	for (i = 0; i < 4; i++)
		tw(w, ev_write(P, A + (uint64_t)i * PG));
	f0 = folio(w, P, A);
	f2 = folio(w, P, A + 2 * PG);
	tw(w, ev_fork(P, C));
	assert_int_equal(folio(w, C, A), f0);
	tw(w, ev_munmap(C, A + PG, PG));
	assert_false(tw_page(w, C, A + PG).found);
	assert_true(tw_page(w, P, A + PG).found);
	assert_int_equal(folio(w, C, A + 2 * PG), f2);

	tw(w, ev_write_present(P, A)); /* shared: COW copy */
	assert_int_not_equal(folio(w, P, A), f0);
	tw(w, ev_write_present(C, A)); /* now mapped once: reuse, re-pointed to C's AV */
	assert_int_equal(folio(w, C, A), f0);
	assert_int_equal(tw_page(w, C, A).owner, tw_owner(w, C, A));
	assert_int_equal(world_sim_stats(w)->cow_copies, 1);
	world_destroy(w);
}

/* The parent exits first: the child keeps the pages, and its writes reuse them. */
static void test_parent_exit_leaves_child_pages(void **state)
{
	struct world *w = tw_world("eager", 3);
	uint64_t f;

	(void)state;
	tw(w, ev_mmap(P, A, 2 * PG, RW, ANON));
	tw(w, ev_write(P, A));
	f = folio(w, P, A);
	tw(w, ev_fork(P, C));
	tw(w, ev_exit(P));
	assert_null(tw_mm(w, P));
	assert_int_equal(folio(w, C, A), f);
	tw(w, ev_write_present(C, A));
	assert_int_equal(folio(w, C, A), f);
	assert_int_equal(world_sim_stats(w)->cow_copies, 0);
	assert_int_equal(world_sim_stats(w)->folios_live, 1);
	world_destroy(w);
}

/* MADV_DONTNEED and mremap in the child change only the child's pages. */
static void test_child_zap_and_move(void **state)
{
	struct world *w = tw_world("eager", 3);
	uint64_t to = A + 0x4000000, f1;

	(void)state;
	tw(w, ev_mmap(P, A, 2 * PG, RW, ANON));
	tw(w, ev_write(P, A));
	tw(w, ev_write(P, A + PG));
	f1 = folio(w, P, A + PG);
	tw(w, ev_fork(P, C));
	tw(w, ev_madvise(C, A, PG, MADV_DONTNEED));
	assert_false(tw_page(w, C, A).found);
	assert_true(tw_page(w, P, A).found);
	tw(w, ev_mremap(C, A, 2 * PG, 2 * PG, MREMAP_MAYMOVE, (int64_t)to, 0));
	assert_int_equal(folio(w, C, to + PG), f1);
	assert_false(tw_page(w, C, to).found);
	assert_int_equal(folio(w, P, A + PG), f1);
	assert_true(tw_page(w, P, A).found);
	world_destroy(w);
}

/*
 * A VM_WIPEONFORK VMA next to a normal one in the same 2 MiB region: the
 * child gets the normal VMA's pages and none of the wiped one's (nor its
 * anon state).
 */
static void test_wipeonfork_partial_copy(void **state)
{
	struct world *w = tw_world("eager", 3);

	(void)state;
	tw(w, ev_mmap(P, A, PG, RW, ANON));
	tw(w, ev_mmap(P, A + PG, PG, RW, ANON));
	tw(w, ev_madvise(P, A + PG, PG, MADV_WIPEONFORK));
	tw(w, ev_write(P, A));
	tw(w, ev_write(P, A + PG));
	tw_assert_layout(w, P, A, "[rw*X][rw*Y wipeonfork]");
	tw(w, ev_fork(P, C));
	tw_assert_layout(w, C, A, "[rw*X1][rw wipeonfork]");
	assert_true(tw_page(w, C, A).found);
	assert_false(tw_page(w, C, A + PG).found);
	assert_true(tw_page(w, P, A + PG).found);
	world_destroy(w);
}

/* Three generations share one array; the middle one's exit releases only its reference. */
static void test_three_generations(void **state)
{
	struct world *w = tw_world("eager", 3);
	uint64_t f;

	(void)state;
	tw(w, ev_mmap(P, A, PG, RW, ANON));
	tw(w, ev_write(P, A));
	f = folio(w, P, A);
	tw(w, ev_fork(P, C));
	tw(w, ev_fork(C, 3));
	tw(w, ev_exit(C));
	assert_int_equal(folio(w, P, A), f);
	assert_int_equal(folio(w, 3, A), f);
	tw(w, ev_write_present(3, A)); /* still shared with P: copy */
	assert_int_not_equal(folio(w, 3, A), f);
	tw(w, ev_write_present(P, A)); /* now P's alone: reuse */
	assert_int_equal(folio(w, P, A), f);
	world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_shares_then_cow),
		cmocka_unit_test(test_parent_exit_leaves_child_pages),
		cmocka_unit_test(test_child_zap_and_move),
		cmocka_unit_test(test_wipeonfork_partial_copy),
		cmocka_unit_test(test_three_generations),
	};

	return cmocka_run_group_tests_name("mm_pages", tests, NULL, NULL);
}
