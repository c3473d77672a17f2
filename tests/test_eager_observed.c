/*
 * test_eager_observed.c - the eager model reproduces what the development
 * host's kernel was seen doing (docs/kernel/observed.md, "Micro-tests")
 * and the eight micro-tests of eager.md §7.4.  Each test builds the step from
 * trace events and asserts the kernel's anon_vma / anon_vma_chain deltas.
 * The invariant checker runs after every event (tw_world turns it on).
 */
#include "layout.h"

#define MM 1
#define CHILD 2
#define GRANDCHILD 3
#define A 0x10000000ULL /* 2 MiB aligned */
#define MB (1ULL << 20)

/* observed row 1 (§7.4 test 1): a read of a fresh private anon page maps the zero page: 0/0. */
static void test_read_fresh_page(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct tw_mark m;

	(void)state;
	/* [A, A+1) unfaulted */
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	m = tw_mark(w);
	tw(w, ev_read(MM, A));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_false(tw_faulted(w, MM, A));
	world_destroy(w);
}

/* observed row 2 (§7.4 test 1): the first write prepares: +1 AV +1 AVC (§2.2). */
static void test_write_fresh_page(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	m = tw_mark(w);
	tw(w, ev_write(MM, A));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	assert_true(tw_faulted(w, MM, A));
	/* a second write to the same VMA changes nothing */
	tw(w, ev_write(MM, A));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	world_destroy(w);
}

/*
 * observed row 3 (§7.4 test 3): fork with one faulted VMA (L=1): the child clones
 * the chain (+1 AVC) and gets its own AV with its AVC (+1 AV +1 AVC), §2.5.
 * The child's exit frees exactly that: its own AV (tree empty, refcount 0)
 * and both AVCs (§2.6).
 */
static void test_fork_one_faulted_then_child_exit(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	m = tw_mark(w);
	tw(w, ev_fork(MM, CHILD));
	tw_assert_delta(w, &m, 1, 0, 2, 0);
	m = tw_mark(w);
	tw(w, ev_exit(CHILD));
	tw_assert_delta(w, &m, 0, 1, 0, 2);
	assert_null(tw_mm(w, CHILD));
	world_destroy(w);
}

/* Map and write n separate one-page VMAs (gaps keep them from merging). */
static void map_faulted(struct world *w, uint64_t mm, int n)
{
	for (int i = 0; i < n; i++) {
		tw(w, ev_mmap(mm, A + (uint64_t)i * 4 * PG, PG, RW, ANON));
		tw(w, ev_write(mm, A + (uint64_t)i * 4 * PG));
	}
}

/* observed row 4: fork of a process with 5 faulted VMAs (L=1): +5 AV, +10 AVC. */
static void test_fork_five_faulted(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct tw_mark m;

	(void)state;
	map_faulted(w, MM, 5);
	m = tw_mark(w);
	tw(w, ev_fork(MM, CHILD));
	tw_assert_delta(w, &m, 5, 0, 10, 0);
	world_destroy(w);
}

/*
 * observed row 5: the child forks again with 6 faulted VMAs of chain length
 * 2: per VMA L+1 = 3 AVCs and a new AV (no reuse: the root has 2 children,
 * the child's own AV is active), so +6 AV, +18 AVC.
 */
static void test_child_forks_again(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct tw_mark m;

	(void)state;
	map_faulted(w, MM, 6);
	tw(w, ev_fork(MM, CHILD));
	m = tw_mark(w);
	tw(w, ev_fork(CHILD, GRANDCHILD));
	tw_assert_delta(w, &m, 6, 0, 18, 0);
	world_destroy(w);
}

/*
 * observed rows 6 and 7 (§7.4 test 4): mprotect of the middle page of a faulted
 * 3-page VMA splits it in three: two splits, +L each = +2 AVC, no AV.
 * Restoring the protection merges prev + middle + next (§3.3, prev faulted:
 * no dup), removing two faulted VMAs: -2 AVC, no allocation.
 */
static void test_mprotect_split_and_merge_back(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 3 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	m = tw_mark(w);
	tw_assert_layout(w, MM, A, "[rw*X . .]");
	tw(w, ev_mprotect(MM, A + PG, PG, PROT_READ));
	tw_assert_delta(w, &m, 0, 0, 2, 0);
	tw_assert_layout(w, MM, A, "[rw*X][r*X][rw*X]");
	m = tw_mark(w);
	tw(w, ev_mprotect(MM, A + PG, PG, RW));
	tw_assert_delta(w, &m, 0, 0, 0, 2);
	tw_assert_layout(w, MM, A, "[rw*X . .]");
	world_destroy(w);
}

/*
 * observed row 8 (§7.4 test 7): mremap move of a faulted VMA (L=1) to a free
 * area: copy_vma clones the chain into the new VMA (+1 AVC), the source is
 * unmapped (-1 AVC), the AV stays.
 */
static void test_mremap_move_faulted(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	m = tw_mark(w);
	tw(w, ev_mremap(MM, A, 2 * PG, 2 * PG, MREMAP_MAYMOVE, (int64_t)(A + 64 * MB), 0));
	tw_assert_delta(w, &m, 0, 0, 1, 1);
	assert_null(tw_vma(w, MM, A));
	assert_true(tw_faulted(w, MM, A + 64 * MB));
	world_destroy(w);
}

/*
 * §7.4 test 2: THP=always, a 4 MiB anonymous mapping aligned to 2 MiB: one read
 * takes the PMD-THP path (huge zero page), which prepares: 1/1 (§2.8).  With
 * MADV_NOHUGEPAGE the read maps the 4K zero page: 0/0.
 */
static void test_thp_read_prepares(void **state)
{
	struct config cfg;
	struct world *w;
	struct tw_mark m;

	(void)state;
	config_defaults(&cfg);
	cfg.thp_from_trace = false;
	cfg.thp_enabled = 2;
	w = tw_world_cfg("eager", &cfg);
	tw(w, ev_mmap(MM, A, 4 * MB, RW, ANON));
	m = tw_mark(w);
	tw(w, ev_read(MM, A + 5 * PG));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	world_destroy(w);

	w = tw_world_cfg("eager", &cfg);
	tw(w, ev_mmap(MM, A, 4 * MB, RW, ANON));
	tw(w, ev_madvise(MM, A, 4 * MB, MADV_NOHUGEPAGE));
	m = tw_mark(w);
	tw(w, ev_read(MM, A + 5 * PG));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	world_destroy(w);
}

/*
 * §7.4 test 5 (§2.5 reuse example): P forks C1, C1 forks C2, C1 exits, C2 forks
 * C3: A fails (2 children), A1 has 1 child and no active VMA: reused.
 * P3: +3 AVC, 0 AV.  P4: +1 AV +4 AVC allocated, 1/1 freed at once.
 */
static void double_fork(int profile, uint64_t av_a, uint64_t av_f, uint64_t avc_a, uint64_t avc_f)
{
	struct world *w = tw_world("eager", profile);
	struct tw_mark m;

	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_fork(MM, CHILD));           /* C1: [A1, A] */
	tw(w, ev_fork(CHILD, GRANDCHILD));   /* C2: [A2, A1, A] */
	tw(w, ev_exit(CHILD));               /* A1: active 0, children 1 */
	m = tw_mark(w);
	tw(w, ev_fork(GRANDCHILD, 4));       /* C3 reuses A1 */
	tw_assert_delta(w, &m, av_a, av_f, avc_a, avc_f);
	world_destroy(w);
}

static void test_double_fork_reuse_p3(void **state)
{
	(void)state;
	double_fork(3, 0, 0, 3, 0);
}

static void test_double_fork_reuse_p4(void **state)
{
	(void)state;
	double_fork(4, 1, 1, 4, 1);
}

/*
 * §7.4 test 6 (selftest merge.c mprotect_faulted_left_unfaulted_right), with
 * MAP_NORESERVE so VM_ACCOUNT never differs:
 *
 *   map 9 pages         [         rw          ]
 *   last 3 RO           [      rw     ][  r   ]     split of unfaulted: 0/0
 *   write page 0        [  rw faulted ][  r   ]     1/1
 *   first 3 RO          [ r  ][  rw  ][  r   ]     split: 0/1
 *   middle 3 RO  P3:    [        r           ]     -1 AVC, one VMA
 *                P1:    [     r      ][  r   ]     -1 AVC, the unfaulted right stays
 */
static void merge_selftest(int profile, size_t vmas_after)
{
	struct world *w = tw_world("eager", profile);
	struct tw_mark m;

	tw(w, ev_mmap(MM, A, 9 * PG, RW, ANON | MAP_NORESERVE));
	m = tw_mark(w);
	tw(w, ev_mprotect(MM, A + 6 * PG, 3 * PG, PROT_READ));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_write(MM, A));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	m = tw_mark(w);
	tw(w, ev_mprotect(MM, A, 3 * PG, PROT_READ));
	tw_assert_delta(w, &m, 0, 0, 1, 0);
	assert_int_equal(tw_vma_count(w, MM), 3);
	m = tw_mark(w);
	tw(w, ev_mprotect(MM, A + 3 * PG, 3 * PG, PROT_READ));
	tw_assert_delta(w, &m, 0, 0, 0, 1);
	assert_int_equal(tw_vma_count(w, MM), vmas_after);
	world_destroy(w);
}

static void test_merge_selftest_p3(void **state)
{
	(void)state;
	merge_selftest(3, 1);
}

static void test_merge_selftest_p1(void **state)
{
	(void)state;
	merge_selftest(1, 2);
}

/*
 * §7.4 test 8 (§2.7 "brk grow"): in a forked child the brk VMA is a fork child
 * (chain 2), so growth cannot expand it (case 2) and makes a new VMA whose
 * first write allocates a new AV (the neighbour is not singular): 1/1.  The
 * parent's growth expands its singular brk VMA: its write costs 0/0.
 */
static void test_brk_growth_in_forked_child(void **state)
{
	struct world *w = tw_world("eager", 3);
	uint64_t brk0 = 0x5000000;
	struct tw_mark m;

	(void)state;
	tw(w, ev_brk(MM, 0, brk0));
	tw(w, ev_brk(MM, brk0 + 4 * PG, brk0 + 4 * PG));
	tw(w, ev_write(MM, brk0));
	tw(w, ev_fork(MM, CHILD));

	tw(w, ev_brk(CHILD, brk0 + 8 * PG, brk0 + 8 * PG));
	assert_int_equal(tw_vma_count(w, CHILD), 2);
	m = tw_mark(w);
	tw(w, ev_write(CHILD, brk0 + 5 * PG));
	tw_assert_delta(w, &m, 1, 0, 1, 0);

	tw(w, ev_brk(MM, brk0 + 8 * PG, brk0 + 8 * PG));
	assert_int_equal(tw_vma_count(w, MM), 1);
	m = tw_mark(w);
	tw(w, ev_write(MM, brk0 + 5 * PG));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_fresh_page),
		cmocka_unit_test(test_write_fresh_page),
		cmocka_unit_test(test_fork_one_faulted_then_child_exit),
		cmocka_unit_test(test_fork_five_faulted),
		cmocka_unit_test(test_child_forks_again),
		cmocka_unit_test(test_mprotect_split_and_merge_back),
		cmocka_unit_test(test_mremap_move_faulted),
		cmocka_unit_test(test_thp_read_prepares),
		cmocka_unit_test(test_double_fork_reuse_p3),
		cmocka_unit_test(test_double_fork_reuse_p4),
		cmocka_unit_test(test_merge_selftest_p3),
		cmocka_unit_test(test_merge_selftest_p1),
		cmocka_unit_test(test_brk_growth_in_forked_child),
	};

	return cmocka_run_group_tests_name("eager_observed", tests, NULL, NULL);
}
