/*
 * test_folio_sizes.c - anonymous folio sizes (mTHP) and page-table reclaim
 * in the simulator, with the kernel rule each expected number comes from:
 *   - alloc_anon_folio (mm/memory.c, 6.18): a write fault on an empty PTE of
 *     an anonymous VMA takes the highest enabled order below the PMD's whose
 *     aligned range lies inside the VMA (thp_vma_suitable_orders) and maps
 *     no page (pte_range_none); userfaultfd-armed VMAs take base pages;
 *   - __thp_vma_allowable_orders: a size set to "always" applies everywhere,
 *     "madvise" to VM_HUGEPAGE VMAs, "inherit" as the top-level setting says;
 *     VM_NOHUGEPAGE and prctl(PR_SET_THP_DISABLE) turn all of them off;
 *   - zap_pte_range with reclaim_pt (CONFIG_PT_RECLAIM, MADV_DONTNEED): a PTE
 *     table emptied over a whole PMD is freed, so the next fault there sees
 *     an empty PMD (the PMD-THP path, eager.md §2.8, which prepares even on
 *     a read).
 * Drawings: one character per 4 KiB page, F = the folio under test,
 * . = unmapped, | = a 64 KiB boundary.
 */
#include "evbuild.h"

#define MM 1
#define A 0x30000000ULL /* 2 MiB aligned */
#define K64 (16 * PG)

static struct world *sized_world(const char *model, const char *sizes, int pt_reclaim,
				 int thp_enabled)
{
	struct world_meta meta;
	struct config cfg;
	struct world *w = NULL;
	struct avm_err err = { { 0 } };

	tw_config(&cfg, 3);
	cfg.thp_enabled = thp_enabled;
	world_meta_defaults(&meta);
	meta.thp_anon_sizes = sizes;
	meta.pt_reclaim = pt_reclaim;
	if (world_create(&cfg, model_find(model), &meta, &w, &err))
		fail_msg("world_create: %s", err.msg);
	world_set_check(w, true);
	return w;
}

static uint64_t folio(struct world *w, uint64_t addr)
{
	return tw_page(w, MM, addr).folio;
}

/* Pages [from, to) (in pages from A) all map one folio, and the pages just outside do not. */
static void assert_folio_span(struct world *w, int from, int to)
{
	uint64_t f = folio(w, A + (uint64_t)from * PG);

	assert_int_not_equal(f, 0);
	for (int i = from; i < to; i++)
		assert_int_equal(folio(w, A + (uint64_t)i * PG), f);
	if (from > 0)
		assert_int_not_equal(folio(w, A + (uint64_t)(from - 1) * PG), f);
	assert_int_not_equal(folio(w, A + (uint64_t)to * PG), f);
}

/*
 * 64 KiB always, VMA of 128 KiB at a 64 KiB boundary; a write at page 5
 * maps the aligned 64 KiB around it as one order-4 folio:
 *   [FFFFF FFFFF FFFFFF|................]
 */
static void test_write_maps_aligned_64k(void **state)
{
	struct world *w = sized_world("eager", "16kB=never,64kB=always,2048kB=inherit", 0, 1);

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * K64, RW, ANON));
	tw(w, ev_write(MM, A + 5 * PG));
	assert_folio_span(w, 0, 16);
	assert_false(tw_page(w, MM, A + K64).found);
	assert_int_equal(world_sim_stats(w)->folios_by_order[4], 1);
	assert_int_equal(world_sim_stats(w)->folios_by_order[0], 0);
	assert_int_equal(world_sim_stats(w)->folios_live, 1);
	world_destroy(w);
}

/*
 * The VMA does not hold the aligned 64 KiB around the fault: the next
 * enabled size (16 KiB) that fits is taken, else a base page.
 *   VMA pages 4..19:  ....|[FFFF............]   (16 KiB at pages 8..11)
 */
static void test_vma_bounds_pick_smaller(void **state)
{
	struct world *w = sized_world("eager", "16kB=always,64kB=always", 0, 1);
	struct world *w64 = sized_world("eager", "64kB=always", 0, 1);

	(void)state;
	tw(w, ev_mmap(MM, A + 4 * PG, K64, RW, ANON));
	tw(w, ev_write(MM, A + 9 * PG));
	assert_folio_span(w, 8, 12);
	assert_int_equal(world_sim_stats(w)->folios_by_order[2], 1);
	/* only 64 KiB enabled: nothing fits, a base page */
	tw(w64, ev_mmap(MM, A + 4 * PG, K64, RW, ANON));
	tw(w64, ev_write(MM, A + 9 * PG));
	assert_folio_span(w64, 9, 10);
	assert_int_equal(world_sim_stats(w64)->folios_by_order[0], 1);
	world_destroy(w);
	world_destroy(w64);
}

/*
 * pte_range_none: pages 0..3 still mapped after a partial MADV_DONTNEED, so
 * the 64 KiB range is not empty and the 16 KiB one around page 5 is taken:
 *   after the zap  [FFFF....FFFFFFFF]   write at 5 -> [FFFFGGGGFFFFFFFF]
 */
static void test_mapped_pages_block_the_order(void **state)
{
	struct world *w = sized_world("eager", "16kB=always,64kB=always", 0, 1);
	uint64_t f;

	(void)state;
	tw(w, ev_mmap(MM, A, K64, RW, ANON));
	tw(w, ev_write(MM, A));
	f = folio(w, A);
	tw(w, ev_madvise(MM, A + 4 * PG, 4 * PG, MADV_DONTNEED));
	tw(w, ev_write(MM, A + 5 * PG));
	assert_folio_span(w, 4, 8);
	assert_int_equal(folio(w, A), f);
	assert_int_equal(folio(w, A + 8 * PG), f);
	assert_int_equal(world_sim_stats(w)->folios_by_order[4], 1);
	assert_int_equal(world_sim_stats(w)->folios_by_order[2], 1);
	world_destroy(w);
}

/*
 * The size's mode against the VMA: madvise needs MADV_HUGEPAGE; inherit
 * follows the top-level setting (madvise here); MADV_NOHUGEPAGE and the
 * prctl turn every size off.
 */
static void test_modes_and_vma_flags(void **state)
{
	struct world *wm = sized_world("eager", "64kB=madvise", 0, 2);
	struct world *wi = sized_world("eager", "64kB=inherit", 0, 1);
	struct world *wn = sized_world("eager", "64kB=always", 0, 1);

	(void)state;
	tw(wm, ev_mmap(MM, A, 2 * K64, RW, ANON));
	tw(wm, ev_write(MM, A));
	assert_folio_span(wm, 0, 1); /* no VM_HUGEPAGE: a base page */
	tw(wm, ev_madvise(MM, A, 2 * K64, MADV_HUGEPAGE));
	tw(wm, ev_write(MM, A + K64));
	assert_folio_span(wm, 16, 32);

	tw(wi, ev_mmap(MM, A, 2 * K64, RW, ANON));
	tw(wi, ev_write(MM, A));
	assert_folio_span(wi, 0, 1); /* inherit of madvise, no VM_HUGEPAGE */
	tw(wi, ev_madvise(MM, A + K64, K64, MADV_HUGEPAGE));
	tw(wi, ev_write(MM, A + K64));
	assert_folio_span(wi, 16, 32);

	tw(wn, ev_mmap(MM, A, 2 * K64, RW, ANON));
	tw(wn, ev_madvise(MM, A, K64, MADV_NOHUGEPAGE));
	tw(wn, ev_write(MM, A));
	assert_folio_span(wn, 0, 1);
	tw(wn, ev_thp_disable(MM, 1));
	tw(wn, ev_write(MM, A + K64));
	assert_folio_span(wn, 16, 17);
	world_destroy(wm);
	world_destroy(wi);
	world_destroy(wn);
}

/* A trace without the sizes (older layout): base pages below the PMD. */
static void test_unknown_sizes_are_base_pages(void **state)
{
	struct world *w = sized_world("eager", NULL, -1, 2);

	(void)state;
	tw(w, ev_mmap(MM, A, K64, RW, ANON));
	tw(w, ev_write(MM, A + PG));
	assert_folio_span(w, 1, 2);
	world_destroy(w);
}

/*
 * After fork the parent's write to a shared 64 KiB folio copies one page
 * (wp_page_copy allocates order 0): [FFFFF...] -> parent [GFFF...].
 */
static void test_cow_of_large_folio_is_one_page(void **state)
{
	struct world *w = sized_world("eager", "64kB=always", 0, 1);
	uint64_t f;

	(void)state;
	tw(w, ev_mmap(MM, A, K64, RW, ANON));
	tw(w, ev_write(MM, A));
	f = folio(w, A + PG);
	tw(w, ev_fork(MM, 2));
	tw(w, ev_write_present(MM, A));
	assert_int_not_equal(folio(w, A), f);
	assert_int_equal(folio(w, A + PG), f);
	assert_int_equal(world_sim_stats(w)->folios_by_order[0], 1);
	assert_int_equal(world_sim_stats(w)->cow_copies, 1);
	world_destroy(w);
}

/*
 * MADV_POPULATE_WRITE of 128 KiB faults twice (GUP finds the rest of each
 * 64 KiB folio present): two order-4 folios, no reuse.
 */
static void test_populate_counts_folios(void **state)
{
	struct world *w = sized_world("eager", "64kB=always", 0, 1);

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * K64, RW, ANON));
	tw(w, ev_madvise(MM, A, 2 * K64, 23 /* MADV_POPULATE_WRITE */));
	assert_folio_span(w, 0, 16);
	assert_folio_span(w, 16, 32);
	assert_int_equal(world_sim_stats(w)->folios_by_order[4], 2);
	assert_int_equal(world_sim_stats(w)->cow_reuses, 0);
	world_destroy(w);
}

/*
 * The lazy model's fork upgrade re-points folio->mapping once per folio:
 * 64 KiB written in one fault is one rewrite, not 16 (lazy.md: one
 * folio->mapping per folio).
 */
static void test_lazy_rewrites_count_folios(void **state)
{
	struct world *big = sized_world("lazy", "64kB=always", 0, 1);
	struct world *base = sized_world("lazy", NULL, -1, 1);

	(void)state;
	tw(big, ev_mmap(MM, A, K64, RW, ANON));
	tw(base, ev_mmap(MM, A, K64, RW, ANON));
	for (int i = 0; i < 16; i++) {
		tw(big, ev_write(MM, A + (uint64_t)i * PG));
		tw(base, ev_write(MM, A + (uint64_t)i * PG));
	}
	tw(big, ev_fork(MM, 2));
	tw(base, ev_fork(MM, 2));
	assert_int_equal(world_stats(big)->folio_rewrites, 1);
	assert_int_equal(world_stats(base)->folio_rewrites, 16);
	world_destroy(big);
	world_destroy(base);
}

/*
 * PT_RECLAIM: a 2 MiB region read-faulted before MADV_HUGEPAGE holds a PTE
 * table (the zero page), so a read after MADV_HUGEPAGE does not prepare.
 * MADV_DONTNEED of the whole region frees the table with PT_RECLAIM: the
 * next read finds the PMD empty and takes the THP path, which prepares the
 * anon_vma (+1 anon_vma, +1 AVC, eager.md §2.2/§2.8).  Without PT_RECLAIM
 * the table stays and nothing is prepared.
 *   [ 2 MiB: PTE table ][ 2 MiB ]  -> DONTNEED [0, 2 MiB) -> read at 0
 */
static void pt_reclaim_case(int on, uint64_t av, uint64_t tables)
{
	struct world *w = sized_world("eager", "2048kB=inherit", on, 1);
	struct tw_mark m;

	tw(w, ev_mmap(MM, A, 4ULL << 20, RW, ANON));
	tw(w, ev_read(MM, A + PG));
	tw(w, ev_madvise(MM, A, 4ULL << 20, MADV_HUGEPAGE));
	m = tw_mark(w);
	tw(w, ev_read(MM, A));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_madvise(MM, A, 2ULL << 20, MADV_DONTNEED));
	tw(w, ev_read(MM, A));
	tw_assert_delta(w, &m, av, 0, av, 0);
	assert_int_equal(world_sim_stats(w)->pte_tables_reclaimed, tables);
	world_destroy(w);
}

static void test_pt_reclaim_frees_the_table(void **state)
{
	(void)state;
	pt_reclaim_case(1, 1, 1);
	pt_reclaim_case(0, 0, 0);
}

/* A partial MADV_DONTNEED (not a whole PMD) keeps the table even with PT_RECLAIM. */
static void test_pt_reclaim_needs_whole_pmd(void **state)
{
	struct world *w = sized_world("eager", "2048kB=inherit", 1, 1);

	(void)state;
	tw(w, ev_mmap(MM, A, 4ULL << 20, RW, ANON));
	tw(w, ev_read(MM, A + PG));
	tw(w, ev_madvise(MM, A, (2ULL << 20) - PG, MADV_DONTNEED));
	assert_int_equal(world_sim_stats(w)->pte_tables_reclaimed, 0);
	world_destroy(w);
}

/*
 * A collapse (khugepaged or MADV_COLLAPSE: AVM_THP collapse, b = linear
 * index + 1 of a folio of the range) replaces the range's folios by one
 * PMD-sized folio named by the VMA's anon_vma (collapse_huge_page):
 *   [FGH.............] (2 MiB of base pages) -> [PPPPPPPPPPPPPPPPPP]
 * An index outside every anonymous VMA, or a range the VMA does not hold
 * whole, changes nothing.
 */
static void test_collapse_maps_one_pmd_folio(void **state)
{
	struct world *w = sized_world("eager", "2048kB=inherit", 1, 1);
	struct avm_event ev = ev_base(MM, AVM_THP);
	uint64_t f;

	(void)state;
	tw(w, ev_mmap(MM, A, 4ULL << 20, RW, ANON));
	for (int i = 0; i < 3; i++)
		tw(w, ev_write(MM, A + (uint64_t)i * PG));
	ev.a = AVM_THP_COLLAPSE;
	ev.c = 1;
	ev.d = 1;
	ev.b = (int64_t)(A / PG + 2 + 1); /* the index of page 2, + 1 */
	tw(w, ev);
	f = folio(w, A);
	assert_int_equal(folio(w, A + PG), f);
	assert_int_equal(folio(w, A + (2ULL << 20) - PG), f);
	assert_false(tw_page(w, MM, A + (2ULL << 20)).found);
	assert_int_equal(world_sim_stats(w)->folios_by_order[9], 1);
	assert_int_equal(world_sim_stats(w)->folios_live, 1);
	assert_int_equal(world_sim_stats(w)->thp_collapses, 1);
	ev.b = 0x7000; /* no VMA there */
	tw(w, ev);
	assert_int_equal(world_sim_stats(w)->thp_collapses, 1);
	world_destroy(w);
}

/*
 * The PMD size's own mode decides the PMD path (hugepages-2048kB/enabled:
 * never turns it off even under top-level always), unless the config sets
 * kernel.thp_enabled, which overrides the trace as it always did.
 */
static void test_pmd_size_mode(void **state)
{
	struct world_meta meta;
	struct config cfg;
	struct world *w = NULL;
	struct avm_err err = { { 0 } };

	(void)state;
	tw_config(&cfg, 3);
	cfg.thp_from_trace = true;
	world_meta_defaults(&meta);
	meta.thp_enabled = 2;
	meta.thp_anon_sizes = "2048kB=never";
	if (world_create(&cfg, model_find("eager"), &meta, &w, &err))
		fail_msg("world_create: %s", err.msg);
	tw(w, ev_mmap(MM, A, 4ULL << 20, RW, ANON));
	tw(w, ev_write(MM, A));
	assert_int_equal(world_sim_stats(w)->thp_faults, 0);
	world_destroy(w);

	w = sized_world("eager", "2048kB=never", 0, 2); /* config: thp_enabled always */
	tw(w, ev_mmap(MM, A, 4ULL << 20, RW, ANON));
	tw(w, ev_write(MM, A));
	assert_int_equal(world_sim_stats(w)->thp_faults, 1);
	assert_int_equal(world_sim_stats(w)->folios_by_order[9], 1);
	world_destroy(w);
}

/* The meta spec: malformed items are one error naming them. */
static void test_sizes_spec_errors(void **state)
{
	struct mm_sim_params p;
	struct avm_err err = { { 0 } };

	(void)state;
	mm_sim_params_defaults(&p);
	assert_int_equal(mm_sim_params_thp_sizes(&p, "16kB=always,2048kB=madvise", &err), 0);
	assert_int_equal(p.anon_orders_always, 1ULL << 2);
	assert_int_equal(p.anon_orders_madvise, 1ULL << 9);
	assert_int_not_equal(mm_sim_params_thp_sizes(&p, "48kB=always", &err), 0);
	assert_non_null(strstr(err.msg, "48kB"));
	assert_int_not_equal(mm_sim_params_thp_sizes(&p, "64kB=sometimes", &err), 0);
	assert_non_null(strstr(err.msg, "sometimes"));
	assert_int_not_equal(mm_sim_params_thp_sizes(&p, "4kB=always", &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_maps_aligned_64k),
		cmocka_unit_test(test_vma_bounds_pick_smaller),
		cmocka_unit_test(test_mapped_pages_block_the_order),
		cmocka_unit_test(test_modes_and_vma_flags),
		cmocka_unit_test(test_unknown_sizes_are_base_pages),
		cmocka_unit_test(test_cow_of_large_folio_is_one_page),
		cmocka_unit_test(test_populate_counts_folios),
		cmocka_unit_test(test_lazy_rewrites_count_folios),
		cmocka_unit_test(test_pt_reclaim_frees_the_table),
		cmocka_unit_test(test_pt_reclaim_needs_whole_pmd),
		cmocka_unit_test(test_collapse_maps_one_pmd_folio),
		cmocka_unit_test(test_pmd_size_mode),
		cmocka_unit_test(test_sizes_spec_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
