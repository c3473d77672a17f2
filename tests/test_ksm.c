/*
 * test_ksm.c - what KSM does to anon_vma lifetime and to lazy folios, from
 * the trace's KSM events (docs/model-eager.md "KSM", docs/lazy-model.md
 * "KSM").  The kernel rules the numbers come from (mm/ksm.c, eager.md §7
 * "KSM" row):
 *   - try_to_merge_with_ksm_page: after the page is replaced by the KSM
 *     page, the stable rmap_item takes get_anon_vma(vma->anon_vma); KSM
 *     allocates no anon_vma and no AVC;
 *   - the reference is put when the item goes: remove_node_from_stable_tree
 *     (ksm_remove_rmap_item) at once, and remove_rmap_item_from_tree when
 *     ksmd meets a stale item (mm gone, no VMA, page COW-copied, unmerged) -
 *     the simulator's latest point for that is the end of ksmd's next full
 *     scan (ksm_stop_scan);
 *   - so an anon_vma whose VMAs are all gone lives on while a merged page of
 *     it is referenced: "AVs of KSM-merged ranges can be freed by ksmd, after
 *     the process is gone".
 * Drawings: [rw*X] a VMA whose anon_vma is X, K = a page merged into a KSM
 * page, F = an anon folio.
 */
#include "evbuild.h"

#define MM 1
#define A 0x30000000ULL

static struct avm_event ev_ksm(uint64_t mm, int op, uint64_t addr)
{
	struct avm_event ev = ev_base(mm, AVM_KSM);

	ev.a = op;
	ev.b = 0x1234; /* pfn: not used by the model */
	ev.d = (int64_t)addr;
	return ev;
}

static struct avm_event ev_scan_end(void)
{
	struct avm_event ev = ev_base(0, AVM_KSM);

	ev.a = AVM_KSM_SCAN_END;
	return ev;
}

static void lazy_root_policy(struct config *c)
{
	c->lazy_ksm = LAZY_KSM_ROOT;
}

static struct world *ksm_world(const char *model, void (*tweak)(struct config *c))
{
	struct config cfg;

	tw_config(&cfg, 3);
	if (tweak)
		tweak(&cfg);
	return tw_world_cfg(model, &cfg);
}

/* [rw*X] F F  -> merge page 0: [rw*X] K F; the anon folio leaves page 0 (no rmap object made). */
static void test_merge_replaces_the_folio(void **state)
{
	struct world *w = ksm_world("eager", NULL);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + PG));
	m = tw_mark(w);
	tw(w, ev_ksm(MM, AVM_KSM_MERGE, A));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_false(tw_page(w, MM, A).found);
	assert_true(tw_page(w, MM, A + PG).found);
	assert_int_equal(world_sim_stats(w)->ksm_items, 1);
	world_destroy(w);
}

/*
 * munmap of [rw*X] K F: the AVC goes with the VMA, X stays (the item holds
 * it); the next full scan finds the item stale and frees X.
 */
static void test_pin_outlives_munmap_until_scan(void **state)
{
	struct world *w = ksm_world("eager", NULL);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_ksm(MM, AVM_KSM_MERGE, A));
	m = tw_mark(w);
	tw(w, ev_munmap(MM, A, 2 * PG));
	tw_assert_delta(w, &m, 0, 0, 0, 1);
	assert_int_equal(tw_live(w, MODEL_OBJ_ANON_VMA), 1);
	tw(w, ev_scan_end());
	tw_assert_delta(w, &m, 0, 1, 0, 1);
	assert_int_equal(world_sim_stats(w)->ksm_items, 0);
	world_destroy(w);
}

/* Stable-node removal (ksm_remove_rmap_item) puts the reference at once. */
static void test_stable_node_removal_puts_at_once(void **state)
{
	struct world *w = ksm_world("eager", NULL);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_ksm(MM, AVM_KSM_MERGE, A));
	tw(w, ev_exit(MM));
	m = tw_mark(w);
	assert_int_equal(tw_live(w, MODEL_OBJ_ANON_VMA), 1); /* the process is gone, X is not */
	tw(w, ev_ksm(MM, AVM_KSM_REMOVE_RMAP, A));
	tw_assert_delta(w, &m, 0, 1, 0, 0);
	world_destroy(w);
}

/*
 * An item whose page is still merged survives the scan.  A write then
 * COW-copies the KSM page into a new anon folio (do_wp_page never reuses a
 * KSM page), the next scan drops the item; X stays, its VMA still maps it,
 * and the munmap then frees it at once.
 */
static void test_still_merged_survives_scan(void **state)
{
	struct world *w = ksm_world("eager", NULL);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_ksm(MM, AVM_KSM_MERGE, A));
	m = tw_mark(w);
	tw(w, ev_scan_end());
	assert_int_equal(world_sim_stats(w)->ksm_items, 1);
	tw(w, ev_write_present(MM, A));
	assert_true(tw_page(w, MM, A).found);
	tw(w, ev_scan_end());
	assert_int_equal(world_sim_stats(w)->ksm_items, 0);
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_munmap(MM, A, PG));
	tw_assert_delta(w, &m, 0, 1, 0, 1);
	world_destroy(w);
}

/* MADV_UNMERGEABLE breaks the merge: the next scan drops the item. */
static void test_unmergeable_drops_at_scan(void **state)
{
	struct world *w = ksm_world("eager", NULL);

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_madvise(MM, A, PG, MADV_MERGEABLE));
	tw(w, ev_write(MM, A));
	tw(w, ev_ksm(MM, AVM_KSM_MERGE, A));
	tw(w, ev_madvise(MM, A, PG, MADV_UNMERGEABLE));
	assert_int_equal(world_sim_stats(w)->ksm_items, 1);
	tw(w, ev_scan_end());
	assert_int_equal(world_sim_stats(w)->ksm_items, 0);
	world_destroy(w);
}

/*
 * Lazy, policy lazy.ksm upgrade (default): [rw L] F -> merge -> [rw*X] K:
 * the rmap_item needs an anon_vma, so the VMA is upgraded (+1 anon_vma,
 * +1 AVC: the deferred first-fault cost) and X is pinned as in mainline.
 */
static void test_lazy_merge_upgrades(void **state)
{
	struct world *w = ksm_world("lazy", NULL);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + PG));
	m = tw_mark(w);
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_ksm(MM, AVM_KSM_MERGE, A));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	assert_int_equal(world_stats(w)->upgrades, 1);
	assert_int_equal(world_stats(w)->folio_rewrites, 1); /* page 1's folio; page 0 is KSM now */
	tw(w, ev_munmap(MM, A, 2 * PG));
	tw_assert_delta(w, &m, 1, 0, 1, 1);
	tw(w, ev_scan_end());
	tw_assert_delta(w, &m, 1, 1, 1, 1);
	world_destroy(w);
}

/*
 * Lazy, policy lazy.ksm root: the item references the lazy root instead;
 * nothing is allocated, and after munmap the root VMA object stays pinned
 * while the item names it, until the scan drops the item.
 */
static void test_lazy_merge_pins_root(void **state)
{
	struct world *w = ksm_world("lazy", lazy_root_policy);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	m = tw_mark(w);
	tw(w, ev_ksm(MM, AVM_KSM_MERGE, A));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_int_equal(world_stats(w)->upgrades, 0);
	tw(w, ev_munmap(MM, A, PG));
	assert_int_equal(world_stats(w)->pinned_vmas, 1);
	tw(w, ev_scan_end());
	assert_int_equal(world_stats(w)->pinned_vmas, 0);
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 0);
	world_destroy(w);
}

static void ksm_off(struct config *c)
{
	c->ksm = false;
}

/* kernel.ksm false, and merges without an address (schema 1-2): nothing pinned. */
static void test_off_and_old_traces(void **state)
{
	struct world *off = ksm_world("eager", ksm_off), *old = ksm_world("eager", NULL);

	(void)state;
	tw(off, ev_mmap(MM, A, PG, RW, ANON));
	tw(off, ev_write(MM, A));
	tw(off, ev_ksm(MM, AVM_KSM_MERGE, A));
	assert_int_equal(world_sim_stats(off)->ksm_items, 0);
	assert_true(tw_page(off, MM, A).found);
	tw(old, ev_mmap(MM, A, PG, RW, ANON));
	tw(old, ev_write(MM, A));
	tw(old, ev_ksm(MM, AVM_KSM_MERGE, 0));
	assert_int_equal(world_sim_stats(old)->ksm_items, 0);
	tw(old, ev_munmap(MM, A, PG));
	assert_int_equal(tw_live(old, MODEL_OBJ_ANON_VMA), 0);
	world_destroy(off);
	world_destroy(old);
}

/* Items left when the world ends drop their pins before the model goes (no leak). */
static void test_destroy_with_items(void **state)
{
	struct world *w = ksm_world("lazy", lazy_root_policy);

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_ksm(MM, AVM_KSM_MERGE, A));
	tw(w, ev_exit(MM));
	world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_replaces_the_folio),
		cmocka_unit_test(test_pin_outlives_munmap_until_scan),
		cmocka_unit_test(test_stable_node_removal_puts_at_once),
		cmocka_unit_test(test_still_merged_survives_scan),
		cmocka_unit_test(test_unmergeable_drops_at_scan),
		cmocka_unit_test(test_lazy_merge_upgrades),
		cmocka_unit_test(test_lazy_merge_pins_root),
		cmocka_unit_test(test_off_and_old_traces),
		cmocka_unit_test(test_destroy_with_items),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
