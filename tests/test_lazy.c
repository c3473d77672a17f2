/*
 * test_lazy.c - one test per rule of the lazy model (lazy.md §4, §9.2 rows,
 * and each policy of docs/lazy-model.md), on profile P3.  Each test draws
 * the VMA layout before and after; expected anon_vma / anon_vma_chain deltas
 * come from the rule named.  Where the same events go through the eager
 * model too, the test says what the designs share and where they differ.
 * Layouts are drawn with tw_assert_layout, so the drawing is the assertion
 * (layout.h's notation: [rw] = protection, L(R) = lazy naming root R,
 * T(X) = TREE_PARENT joining the parent's anon_vma X (a chain, no anon_vma
 * of its own), *X = regular with anon_vma X, . = one more page inside a
 * VMA, one unmapped page outside).  Pinned VMA objects are out of every mm
 * and so out of the drawings: the tests count them.  The invariant checkers
 * (simulator, anon_vma.c, lazy) run after every event.
 */
#include "layout.h"

#include <string.h>

#include "arch.h"
#include "locks.h"

#define MM 1
#define C1 2
#define C2 3
#define A 0x20000000ULL
#define B 0x40000000ULL
#define RWX (PROT_READ | PROT_WRITE | PROT_EXEC)
#define LAZY_BIT (1ULL << 63)

static struct world *lazy_world(void (*tweak)(struct config *c))
{
	struct config cfg;

	config_defaults(&cfg);
	cfg.profile = 3;
	cfg.thp_from_trace = false;
	cfg.thp_enabled = 1; /* madvise: no THP unless MADV_HUGEPAGE */
	if (tweak)
		tweak(&cfg);
	return tw_world_cfg("lazy", &cfg);
}

static uint64_t owner_at(struct world *w, uint64_t mm, uint64_t addr)
{
	struct tw_page_find p = tw_page(w, mm, addr);

	assert_true(p.found);
	return p.owner;
}

static bool lazy_owner(struct world *w, uint64_t mm, uint64_t addr)
{
	return (owner_at(w, mm, addr) & LAZY_BIT) != 0;
}

static const struct model_stats *st(struct world *w)
{
	return world_stats(w);
}

/*
 * §4.1 / §9.2 "first anonymous fault": the VMA becomes a lazy root, nothing
 * is allocated; later faults name the same root (§9.2 "later faults").
 * Eager on the same stream: +1 anon_vma +1 AVC (eager.md §2.2).  The
 * folios at A and A+2 name R.
 */
static void test_first_fault_allocates_nothing(void **state)
{
	struct world *w = lazy_world(NULL), *e = tw_world("eager", 3);
	struct tw_mark m, me;

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(e, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw_assert_layout(w, MM, A, "[rw . . .]");
	m = tw_mark(w);
	me = tw_mark(e);
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 2 * PG));
	tw(e, ev_write(MM, A));
	tw(e, ev_write(MM, A + 2 * PG));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw_assert_delta(e, &me, 1, 0, 1, 0);
	tw_assert_layout(w, MM, A, "[rw L(R) . . .]");
	tw_assert_layout(e, MM, A, "[rw*X . . .]");
	assert_true(lazy_owner(w, MM, A));
	assert_int_equal(owner_at(w, MM, A), owner_at(w, MM, A + 2 * PG));
	assert_int_equal(st(w)->upgrades, 0);
	world_destroy(w);
	world_destroy(e);
}

/*
 * §4.2 / §9.2 "split": mprotect splits a lazy VMA into three; all pieces
 * keep the root and the base, 0 AVCs.  Eager: +2 AVCs (one per split).
 * __split_vma gives the outer pieces new objects, so the middle keeps the
 * original object: R's root VMA.  mprotect back merges the three again
 * (same root: §9.2 "merge") into prev, removing the middle - the root
 * object - while folios name R: it stays pinned (§3.4, pin until_last_folio;
 * the folios at A and A+3 name it).
 */
static void test_split_and_merge_keep_root(void **state)
{
	struct world *w = lazy_world(NULL), *e = tw_world("eager", 3);
	struct tw_names n = { 0 };
	struct tw_mark m, me;
	uint64_t r;

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(e, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 3 * PG));
	tw(e, ev_write(MM, A));
	tw(e, ev_write(MM, A + 3 * PG));
	r = owner_at(w, MM, A);
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R) . . .]");
	m = tw_mark(w);
	me = tw_mark(e);
	tw(w, ev_mprotect(MM, A + PG, 2 * PG, PROT_READ));
	tw(e, ev_mprotect(MM, A + PG, 2 * PG, PROT_READ));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw_assert_delta(e, &me, 0, 0, 2, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R)][r L(R) .][rw L(R)]");
	tw_assert_layout(e, MM, A, "[rw*X][r*X .][rw*X]");
	assert_int_equal(owner_at(w, MM, A + 3 * PG), r);
	tw(w, ev_mprotect(MM, A + PG, 2 * PG, RW));
	tw(e, ev_mprotect(MM, A + PG, 2 * PG, RW));
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R) . . .]");
	tw_assert_layout(e, MM, A, "[rw*X . . .]");
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_int_equal(st(w)->pinned_vmas, 1);
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 2);
	assert_int_equal(tw_live(e, MODEL_OBJ_VMA), 1);
	/* the last folio naming R goes: the pinned object is freed */
	tw(w, ev_munmap(MM, A, 4 * PG));
	assert_int_equal(st(w)->pinned_vmas, 0);
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 0);
	world_destroy(w);
	world_destroy(e);
}

/*
 * §9.2 "merge" (I, PARAM), policy lazy.merge_roots=allow: two lazy VMAs
 * with different roots R1, R2 and equal bases (linear anonymous pgoff)
 * merge; the removed VMA is R2's root
 * and its folio still names R2, so the object stays pinned (pin
 * until_last_folio): +1 pinned VMA, the VMA slab keeps 2 objects for one
 * VMA.  Eager merges too, for another reason: the second first fault
 * reused the neighbour's anon_vma (eager.md §2.3), a lookup lazy's first
 * fault does not make.  Unmapping the last folio naming R2 releases the pin.
 */
static void merge_roots_allow(struct config *c)
{
	c->lazy_merge_roots = LAZY_MERGE_ROOTS_ALLOW;
}

static void test_merge_different_roots_pins(void **state)
{
	struct world *w = lazy_world(merge_roots_allow), *e = tw_world("eager", 3);
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_mmap(MM, A + 2 * PG, 2 * PG, RWX, ANON));
	tw(e, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(e, ev_mmap(MM, A + 2 * PG, 2 * PG, RWX, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 2 * PG));
	tw(e, ev_write(MM, A));
	tw(e, ev_write(MM, A + 2 * PG));
	assert_int_not_equal(owner_at(w, MM, A), owner_at(w, MM, A + 2 * PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R1) .][rwx L(R2) .]");
	tw_assert_layout(e, MM, A, "[rw*X .][rwx*X .]");
	m = tw_mark(w);
	tw(w, ev_mprotect(MM, A + 2 * PG, 2 * PG, RW));
	tw(e, ev_mprotect(MM, A + 2 * PG, 2 * PG, RW));
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R1) . . .]"); /* + R2's object pinned */
	tw_assert_layout(e, MM, A, "[rw*X . . .]");
	assert_int_equal(st(w)->pinned_vmas, 1);
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 2);
	/*
	 * munmap the upper half: R2's folio goes (its object is freed), but the
	 * split leaves the lower half in a new object and removes R1's, whose
	 * folio at A lives on: R1's object is pinned now.
	 */
	tw(w, ev_munmap(MM, A + 2 * PG, 2 * PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R1) .] . .");
	assert_int_equal(st(w)->pinned_vmas, 1);
	assert_int_equal(st(w)->pinned_vmas_peak, 1);
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 2);
	tw(w, ev_munmap(MM, A, 2 * PG));
	tw_assert_layout(w, MM, A, ". . . .");
	assert_int_equal(st(w)->pinned_vmas, 0);
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 0);
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	world_destroy(w);
	world_destroy(e);
}

static void pin_none(struct config *c)
{
	c->lazy_pin = LAZY_PIN_NONE;
}

static void pin_none_merge_allow(struct config *c)
{
	c->lazy_pin = LAZY_PIN_NONE;
	c->lazy_merge_roots = LAZY_MERGE_ROOTS_ALLOW;
}

/*
 * Policy lazy.merge_roots=refuse (default), whatever lazy.pin says: the
 * tagged vma->anon_vma values of R1 and R2 differ, and is_mergeable_anon_vma
 * compares them as mainline compares anon_vma pointers, so the VMAs stay
 * apart - here the layouts of the two designs differ (eager merged).
 * merge_roots=allow is separate from pin: with pin none the VMAs merge too,
 * and R2's object, with no family left to re-point its folio to, is kept.
 */
static void test_merge_different_roots_pin_none(void **state)
{
	void (*tweaks[3])(struct config *) = { NULL, pin_none, pin_none_merge_allow };

	(void)state;
	for (int k = 0; k < 3; k++) {
		struct world *w = lazy_world(tweaks[k]);

		tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
		tw(w, ev_mmap(MM, A + 2 * PG, 2 * PG, RWX, ANON));
		tw(w, ev_write(MM, A));
		tw(w, ev_write(MM, A + 2 * PG));
		tw(w, ev_mprotect(MM, A + 2 * PG, 2 * PG, RW));
		if (k == 2) /* allow: + R2's object pinned */
			tw_assert_layout(w, MM, A, "[rw L(R1) . . .]");
		else        /* refuse */
			tw_assert_layout(w, MM, A, "[rw L(R1) .][rw L(R2) .]");
		assert_int_equal(st(w)->pinned_vmas_peak, k == 2 ? 1 : 0);
		world_destroy(w);
	}
}

/*
 * §3.4 / §9.2 "full munmap" (I, PARAM): munmap of the upper part removes
 * the root VMA object (the split's new piece keeps the lower part, as
 * __split_vma does) while the lower part's folio still names the root:
 * pinned.  Unmapping the rest frees the folio, then the object.  Folios at
 * A and A+3; R's object is the VMA's.
 */
static void test_munmap_root_pinned_until_last_folio(void **state)
{
	struct world *w = lazy_world(NULL);
	struct tw_names n = { 0 };

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 3 * PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R) . . .]");
	tw(w, ev_munmap(MM, A + PG, 3 * PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R)] . . ."); /* + R's object pinned */
	assert_int_equal(st(w)->pinned_vmas, 1);
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 2);
	tw(w, ev_munmap(MM, A, PG));
	tw_assert_layout(w, MM, A, ". . . .");
	assert_int_equal(st(w)->pinned_vmas, 0);
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 0);
	world_destroy(w);
}

/*
 * Policy lazy.pin=none: the same munmap moves the root to the surviving
 * piece instead, one folio->mapping rewrite for the folio still naming it.
 */
static void test_munmap_root_pin_none_rewrites(void **state)
{
	struct world *w = lazy_world(pin_none);

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 3 * PG));
	tw(w, ev_munmap(MM, A + PG, 3 * PG));
	assert_int_equal(st(w)->pinned_vmas_peak, 0);
	assert_int_equal(st(w)->folio_rewrites, 1);
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 1);
	world_destroy(w);
}

/*
 * §9.2 "fork, parent LAZY_ROOT": the parent VMA is upgraded (+1 anon_vma
 * +1 AVC, the deferred first-fault cost), its 3 folios are re-pointed (3
 * rewrites), the child is TREE_PARENT: a clone of the parent's chain (+1
 * AVC), no anon_vma.  Total +1/+2.  Eager for the whole stream: first fault
 * +1/+1, fork +1 anon_vma +2 AVCs (eager.md §2.5): 2 anon_vmas, 3 AVCs
 * against lazy's 1 and 2.
 */
static void test_fork_upgrades_lazy_parent(void **state)
{
	struct world *w = lazy_world(NULL), *e = tw_world("eager", 3);
	struct tw_names n = { 0 }, ne = { 0 };
	struct tw_mark m;
	int i;

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(e, ev_mmap(MM, A, 4 * PG, RW, ANON));
	for (i = 0; i < 3; i++) {
		tw(w, ev_write(MM, A + i * PG));
		tw(e, ev_write(MM, A + i * PG));
	}
	tw_assert_layout(w, MM, A, "[rw L(R) . . .]");
	m = tw_mark(w);
	tw(w, ev_fork(MM, C1));
	tw(e, ev_fork(MM, C1));
	tw_assert_delta(w, &m, 1, 0, 2, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X . . .]");
	tw_assert_layout_n(w, &n, C1, A, "[rw T(X) . . .]");
	tw_assert_layout_n(e, &ne, MM, A, "[rw*X L=1 . . .]");
	tw_assert_layout_n(e, &ne, C1, A, "[rw*X1 L=2 . . .]");
	assert_int_equal(st(w)->upgrades, 1);
	assert_int_equal(st(w)->folio_rewrites, 3);
	assert_false(lazy_owner(w, MM, A));
	assert_int_equal(owner_at(w, C1, A), owner_at(w, MM, A)); /* shared, rewritten once */
	assert_int_equal(tw_live(w, MODEL_OBJ_ANON_VMA), 1);
	assert_int_equal(tw_live(w, MODEL_OBJ_AVC), 2);
	assert_int_equal(tw_live(e, MODEL_OBJ_ANON_VMA), 2);
	assert_int_equal(tw_live(e, MODEL_OBJ_AVC), 3);
	world_destroy(w);
	world_destroy(e);
}

/*
 * Upgrade of a split family: the three pieces share one root, so the first
 * upgrade allocates the anon_vma and the other two link into it, as
 * mainline's split halves share theirs: +1 anon_vma, +3 AVCs in the parent,
 * +3 cloned AVCs for the three TREE_PARENT children (chains [X]).  2 folios
 * rewritten.
 */
static void test_fork_split_family_shares_anon_vma(void **state)
{
	struct world *w = lazy_world(NULL);
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 3 * PG));
	tw(w, ev_mprotect(MM, A + PG, 2 * PG, PROT_READ));
	tw_assert_layout(w, MM, A, "[rw L(R)][r L(R) .][rw L(R)]");
	m = tw_mark(w);
	tw(w, ev_fork(MM, C1));
	tw_assert_delta(w, &m, 1, 0, 6, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X][r*X .][rw*X]");
	tw_assert_layout_n(w, &n, C1, A, "[rw T(X)][r T(X) .][rw T(X)]");
	assert_int_equal(st(w)->upgrades, 3);
	assert_int_equal(st(w)->folio_rewrites, 2);
	assert_int_equal(owner_at(w, MM, A), owner_at(w, MM, A + 3 * PG));
	world_destroy(w);
}

static void cow_parent_av(struct config *c)
{
	c->lazy_cow_owner = LAZY_COW_PARENT_AV;
}

/*
 * §9.2 "child CoW fault in a TREE_PARENT VMA" (PARAM).  child_root
 * (default): the child's CoW copy names the child VMA as a new lazy root;
 * parent_av: it goes into the parent's anon_vma X.  No allocation either
 * way (eager: the child's own anon_vma already exists, no allocation too).
 * The child's write at A: a new folio naming the child's root (or X).
 */
static void test_child_cow_owner_policies(void **state)
{
	struct world *w = lazy_world(NULL), *p = lazy_world(cow_parent_av);
	struct tw_mark m, mp;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(p, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(p, ev_write(MM, A));
	tw(w, ev_fork(MM, C1));
	tw(p, ev_fork(MM, C1));
	tw_assert_layout(w, C1, A, "[rw T(X) .]");
	tw_assert_layout(p, C1, A, "[rw T(X) .]");
	m = tw_mark(w);
	mp = tw_mark(p);
	tw(w, ev_write_present(C1, A));
	tw(p, ev_write_present(C1, A));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw_assert_delta(p, &mp, 0, 0, 0, 0);
	assert_true(lazy_owner(w, C1, A));
	assert_int_not_equal(tw_page(w, C1, A).folio, tw_page(w, MM, A).folio);
	assert_false(lazy_owner(p, C1, A));
	assert_int_equal(owner_at(p, C1, A), owner_at(p, MM, A));
	world_destroy(w);
	world_destroy(p);
}

/*
 * §9.2 "fork, parent TREE_PARENT" (§4.4 step 4): the child C1 forks C2.
 * C1's VMA is upgraded first: a new anon_vma K under the parent's X and one
 * AVC (anon_vma_fork step 4, deferred); its CoW folio (naming C1's root)
 * is re-pointed to K.  C2's VMA is TREE_PARENT with a clone of C1's chain
 * [K, X]: +2 AVCs.  Total +1 anon_vma, +3 AVCs, 1 rewrite.
 */
static void test_child_fork_upgrades_tree_parent(void **state)
{
	struct world *w = lazy_world(NULL);
	struct tw_names n = { 0 };
	struct tw_mark m;
	uint64_t rewrites;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_fork(MM, C1));
	tw(w, ev_write_present(C1, A));
	tw_assert_layout_n(w, &n, MM, A, "[rw*X .]");
	tw_assert_layout_n(w, &n, C1, A, "[rw T(X) .]");
	rewrites = st(w)->folio_rewrites;
	m = tw_mark(w);
	tw(w, ev_fork(C1, C2));
	tw_assert_delta(w, &m, 1, 0, 3, 0);
	tw_assert_layout_n(w, &n, C1, A, "[rw*K .]");
	tw_assert_layout_n(w, &n, C2, A, "[rw T(K) .]");
	assert_int_equal(st(w)->upgrades, 2);
	assert_int_equal(st(w)->folio_rewrites - rewrites, 1);
	assert_false(lazy_owner(w, C1, A));
	assert_int_not_equal(owner_at(w, C1, A), owner_at(w, MM, A));
	world_destroy(w);
}

/*
 * §9.2 "fork, parent REGULAR": as eager, except the child is TREE_PARENT.
 * The parent (already upgraded by its first fork) forks again: the child
 * clones the chain [X] (+1 AVC) and allocates nothing else.  Eager: +1
 * anon_vma and +2 AVCs (no reuse: X has 2 children, eager.md §2.5).
 */
static void test_fork_regular_parent(void **state)
{
	struct world *w = lazy_world(NULL), *e = tw_world("eager", 3);
	struct tw_names n = { 0 };
	struct tw_mark m, me;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(e, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(e, ev_write(MM, A));
	tw(w, ev_fork(MM, C1));
	tw(e, ev_fork(MM, C1));
	m = tw_mark(w);
	me = tw_mark(e);
	tw(w, ev_fork(MM, C2));
	tw(e, ev_fork(MM, C2));
	tw_assert_delta(w, &m, 0, 0, 1, 0);
	tw_assert_delta(e, &me, 1, 0, 2, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X .]");
	tw_assert_layout_n(w, &n, C2, A, "[rw T(X) .]");
	assert_int_equal(st(w)->upgrades, 1);
	world_destroy(w);
	world_destroy(e);
}

/*
 * dup_mmap skips VM_DONTCOPY VMAs, so a lazy MADV_DONTFORK VMA is not
 * upgraded and stays lazy after the fork (the fork_end invariant allows
 * it); a WIPEONFORK one likewise (the child's copy has no anon state).
 */
static void test_fork_skips_dontcopy_wipeonfork(void **state)
{
	struct world *w = lazy_world(NULL);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_mmap(MM, A + 4 * PG, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 4 * PG));
	tw(w, ev_madvise(MM, A, PG, MADV_DONTFORK));
	tw(w, ev_madvise(MM, A + 4 * PG, PG, MADV_WIPEONFORK));
	m = tw_mark(w);
	tw(w, ev_fork(MM, C1));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_int_equal(st(w)->upgrades, 0);
	tw_assert_layout(w, MM, A, "[rw L dontfork] . . . [rw L wipeonfork]");
	tw_assert_layout(w, C1, A, ". . . . [rw wipeonfork]");
	world_destroy(w);
}

static void switch_at_1000(struct config *c)
{
	c->lazy_switch_on_ns = 1000;
}

static struct avm_event at(struct avm_event ev, uint64_t t)
{
	ev.t = t;
	return ev;
}

/*
 * The runtime switch (lazy.md §6): off until t=1000 ns.  A fault before it
 * is mainline's (+1/+1, the VMA stays regular); a fault after it is lazy
 * (0/0).  A fork after it: the regular VMA's child is TREE_PARENT (+1 AVC),
 * the lazy VMA is upgraded (+1/+1) and its child TREE_PARENT (+1 AVC).
 * A and B are one page each, far apart.
 */
static void test_runtime_switch(void **state)
{
	struct world *w = lazy_world(switch_at_1000);
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, at(ev_mmap(MM, A, PG, RW, ANON), 0));
	tw(w, at(ev_mmap(MM, B, PG, RW, ANON), 0));
	m = tw_mark(w);
	tw(w, at(ev_write(MM, A), 10));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X]");
	tw_assert_layout_n(w, &n, MM, B, "[rw]");
	assert_false(lazy_owner(w, MM, A));
	m = tw_mark(w);
	tw(w, at(ev_write(MM, B), 2000));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw_assert_layout_n(w, &n, MM, B, "[rw L(R)]");
	assert_true(lazy_owner(w, MM, B));
	m = tw_mark(w);
	tw(w, at(ev_fork(MM, C1), 3000));
	tw_assert_delta(w, &m, 1, 0, 3, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X]");
	tw_assert_layout_n(w, &n, MM, B, "[rw*Y]");
	tw_assert_layout_n(w, &n, C1, A, "[rw T(X)]");
	tw_assert_layout_n(w, &n, C1, B, "[rw T(Y)]");
	assert_int_equal(st(w)->upgrades, 1);
	world_destroy(w);
}

/*
 * Before the switch flips, fork is mainline's anon_vma_fork (+1/+2 for the
 * child's own anon_vma and chain), exactly as the eager model.
 */
static void test_runtime_switch_off_fork_is_mainline(void **state)
{
	struct world *w = lazy_world(switch_at_1000);
	struct tw_mark m;

	(void)state;
	tw(w, at(ev_mmap(MM, A, PG, RW, ANON), 0));
	tw(w, at(ev_write(MM, A), 10));
	m = tw_mark(w);
	tw(w, at(ev_fork(MM, C1), 20));
	tw_assert_delta(w, &m, 1, 0, 2, 0);
	world_destroy(w);
}

static void mremap_rebase(struct config *c)
{
	c->lazy_mremap = LAZY_MREMAP_REBASE;
}

/*
 * §4.3 / §9.2 "mremap move" (PARAM), default upgrade: the lazy source is
 * upgraded (+1/+1) before copy_vma clones its chain into the new VMA (+1
 * AVC); unmapping the source frees its AVC (-1).  The 2 moved folios are
 * rewritten to the anon_vma.
 */
static void test_mremap_upgrade(void **state)
{
	struct world *w = lazy_world(NULL);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + PG));
	tw_assert_layout(w, MM, A, "[rw L(R) .]");
	m = tw_mark(w);
	tw(w, ev_mremap(MM, A, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, (int64_t)B, B));
	tw_assert_delta(w, &m, 1, 0, 2, 1);
	assert_int_equal(st(w)->upgrades, 1);
	assert_int_equal(st(w)->folio_rewrites, 2);
	assert_false(lazy_owner(w, MM, B));
	tw_assert_layout(w, MM, A, ". .");
	tw_assert_layout(w, MM, B, "[rw*X .]");
	world_destroy(w);
}

/*
 * Policy lazy.mremap=rebase: the moved VMA is a new lazy root at its own
 * base; the 2 moved folios are re-pointed to it; nothing is allocated and
 * the old root dies with its VMA.
 */
static void test_mremap_rebase(void **state)
{
	struct world *w = lazy_world(mremap_rebase);
	struct tw_mark m;
	uint64_t before;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + PG));
	before = owner_at(w, MM, A);
	tw_assert_layout(w, MM, A, "[rw L(R) .]");
	m = tw_mark(w);
	tw(w, ev_mremap(MM, A, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, (int64_t)B, B));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw_assert_layout(w, MM, A, ". .");
	tw_assert_layout(w, MM, B, "[rw L(R2) .]"); /* R2 is new: compared below */
	assert_int_equal(st(w)->upgrades, 0);
	assert_int_equal(st(w)->folio_rewrites, 2);
	assert_true(lazy_owner(w, MM, B));
	assert_int_not_equal(owner_at(w, MM, B), before);
	assert_int_equal(st(w)->pinned_vmas_peak, 0);
	world_destroy(w);
}

/*
 * Rebase of a partial move: only the moved folio is re-pointed; the one
 * left behind keeps naming the old root.
 */
static void test_mremap_rebase_partial(void **state)
{
	struct world *w = lazy_world(mremap_rebase);
	struct tw_names n = { 0 };

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R) .]");
	tw(w, ev_mremap(MM, A + PG, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, (int64_t)B, B));
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R)] .");
	tw_assert_layout_n(w, &n, MM, B, "[rw L(R2)]");
	assert_int_equal(st(w)->folio_rewrites, 1);
	assert_int_not_equal(owner_at(w, MM, A), owner_at(w, MM, B));
	assert_true(lazy_owner(w, MM, A));
	assert_true(lazy_owner(w, MM, B));
	world_destroy(w);
}

/*
 * Rebase of a moved-and-grown middle piece: mremap moves 1 page out of the
 * middle of a 3-page VMA and grows it to 2 pages.  copy_vma's new VMA has 2
 * pages of index (pgoff+1, pgoff+2), but only the page at A+PG moves; the
 * one at A+2PG stays in the source's tail and keeps the old root.  1 rewrite.
 * Every page at A was written; at B, only the first has a folio.
 */
static void test_mremap_rebase_grown_middle(void **state)
{
	struct world *w = lazy_world(mremap_rebase);
	struct tw_names n = { 0 };
	uint64_t root;

	(void)state;
	tw(w, ev_mmap(MM, A, 3 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + PG));
	tw(w, ev_write(MM, A + 2 * PG));
	root = owner_at(w, MM, A);
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R) . .]");
	tw(w, ev_mremap(MM, A + PG, PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, (int64_t)B, B));
	tw_assert_layout_n(w, &n, MM, A, "[rw L(R)] . [rw L(R)]");
	tw_assert_layout_n(w, &n, MM, B, "[rw L(R2) .]");
	assert_int_equal(st(w)->folio_rewrites, 1);
	assert_int_equal(owner_at(w, MM, A + 2 * PG), root);
	assert_int_not_equal(owner_at(w, MM, B), root);
	assert_true(lazy_owner(w, MM, B));
	world_destroy(w);
}

/*
 * A write that reuses a folio in place (sole mapping, folio_move_anon_rmap)
 * renames it to the same root: the count stays exact (the checker).
 */
static void test_reuse_in_place_keeps_counts(void **state)
{
	struct world *w = lazy_world(NULL);

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write_present(MM, A));
	tw(w, ev_munmap(MM, A, PG));
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 0);
	world_destroy(w);
}

/*
 * The designs differ exactly where expected: a process that never forks,
 * 8 anonymous VMAs each written once: eager allocates 8 anon_vmas and 8
 * AVCs, lazy none; VMA layouts and page counts are the same.  On exit both
 * end with nothing live.
 */
static void test_never_forking_process(void **state)
{
	struct world *w = lazy_world(NULL), *e = tw_world("eager", 3);
	int i;

	(void)state;
	for (i = 0; i < 8; i++) {
		tw(w, ev_mmap(MM, A + 2 * i * PG, PG, RW, ANON));
		tw(e, ev_mmap(MM, A + 2 * i * PG, PG, RW, ANON));
		tw(w, ev_write(MM, A + 2 * i * PG));
		tw(e, ev_write(MM, A + 2 * i * PG));
	}
	tw_assert_layout(w, MM, A, "[rw L] . [rw L] . [rw L] . [rw L] . "
				   "[rw L] . [rw L] . [rw L] . [rw L]");
	tw_assert_layout(e, MM, A, "[rw*] . [rw*] . [rw*] . [rw*] . [rw*] . [rw*] . [rw*] . [rw*]");
	assert_int_equal(tw_live(e, MODEL_OBJ_ANON_VMA), 8);
	assert_int_equal(tw_live(e, MODEL_OBJ_AVC), 8);
	assert_int_equal(tw_live(w, MODEL_OBJ_ANON_VMA), 0);
	assert_int_equal(tw_live(w, MODEL_OBJ_AVC), 0);
	assert_int_equal(tw_vma_count(w, MM), tw_vma_count(e, MM));
	assert_int_equal(world_sim_stats(w)->folios_live, world_sim_stats(e)->folios_live);
	tw(w, ev_exit(MM));
	tw(e, ev_exit(MM));
	assert_int_equal(tw_live(w, MODEL_OBJ_VMA), 0);
	assert_int_equal(tw_live(e, MODEL_OBJ_ANON_VMA), 0);
	world_destroy(w);
	world_destroy(e);
}

/* Every VMA of mm in both worlds has the same range and the same number of pages. */
static void assert_same_layout(struct world *w, struct world *e, uint64_t mm)
{
	struct mm_space *a = tw_mm(w, mm), *b = tw_mm(e, mm);
	size_t i, n;

	assert_non_null(a);
	assert_non_null(b);
	n = mm_space_vma_count(a);
	assert_int_equal(n, mm_space_vma_count(b));
	for (i = 0; i < n; i++) {
		struct mm_vma *va = mm_space_vma(a, i), *vb = mm_space_vma(b, i);

		assert_int_equal(va->start, vb->start);
		assert_int_equal(va->end, vb->end);
		assert_int_equal(mm_vma_page_count(va), mm_vma_page_count(vb));
	}
}

/*
 * Both models on one mixed event stream (mmap, faults, split, partial
 * munmap, fork, child CoW, brk, child exit) where no merge decision
 * differs: same layouts and page counts in every mm, and at the end the
 * lazy world holds fewer anon_vmas and AVCs.
 */
static void test_models_agree_on_layouts(void **state)
{
	struct world *w = lazy_world(NULL), *e = tw_world("eager", 3);
	struct world *ws[2] = { w, e };
	int k;

	(void)state;
	for (k = 0; k < 2; k++) {
		struct world *x = ws[k];

		tw(x, ev_mmap(MM, A, 8 * PG, RW, ANON));
		tw(x, ev_mmap(MM, B, 4 * PG, RW, ANON));
		tw(x, ev_write(MM, A));
		tw(x, ev_write(MM, A + 5 * PG));
		tw(x, ev_write(MM, B + PG));
		tw(x, ev_mprotect(MM, A + 2 * PG, 2 * PG, PROT_READ));
		tw(x, ev_munmap(MM, A + 6 * PG, PG));
		tw(x, ev_fork(MM, C1));
		tw(x, ev_write_present(C1, A));
		tw(x, ev_write(C1, B + 2 * PG));
		tw(x, ev_read(C1, A + 7 * PG));
		tw(x, ev_fork(C1, C2));
		tw(x, ev_exit(C1));
	}
	assert_same_layout(w, e, MM);
	assert_same_layout(w, e, C2);
	assert_int_equal(world_sim_stats(w)->folios_live, world_sim_stats(e)->folios_live);
	assert_true(tw_live(w, MODEL_OBJ_ANON_VMA) < tw_live(e, MODEL_OBJ_ANON_VMA));
	assert_true(tw_live(w, MODEL_OBJ_AVC) < tw_live(e, MODEL_OBJ_AVC));
	tw(w, ev_exit(C2));
	tw(e, ev_exit(C2));
	tw(w, ev_exit(MM));
	tw(e, ev_exit(MM));
	for (k = 0; k < 2; k++) {
		assert_int_equal(tw_live(ws[k], MODEL_OBJ_ANON_VMA), 0);
		assert_int_equal(tw_live(ws[k], MODEL_OBJ_AVC), 0);
		assert_int_equal(tw_live(ws[k], MODEL_OBJ_VMA), 0);
	}
	world_destroy(w);
	world_destroy(e);
}


/*
 * exec (lazy.md §4.5): the VMAs the kernel faulted during execve (data
 * segment COW, stack) are lazy roots in the lazy world: nothing allocated,
 * where eager counts 2 anon_vmas and 2 AVCs as exec allocations.  The new
 * mm: text, data (a file's COW), a 33-page stack.
 */
static void test_exec_faulted_vmas_are_lazy(void **state)
{
	struct world *w = lazy_world(NULL), *e = tw_world("eager", 3);
	struct avm_snap_vma rows[3];
	struct avm_event ev = ev_exec(MM, C1, 1);
	struct avm_err err = { { 0 } };

	(void)state;
	rows[0] = ev_snap_row(C1, A, A + 4 * PG, VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYEXEC, 9, 0);
	rows[1] = ev_snap_row(C1, A + 4 * PG, A + 6 * PG, EV_DATA_FLAGS, 9, 100);
	rows[2] = ev_snap_row(C1, 0x7ff000000000ULL, 0x7ff000021000ULL, EV_DATA_FLAGS | VM_GROWSDOWN, 0, 101);
	if (world_exec(w, &ev, rows, 3, &err) || world_exec(e, &ev, rows, 3, &err))
		fail_msg("world_exec: %s", err.msg);
	assert_int_equal(st(w)->obj[MODEL_OBJ_ANON_VMA].allocs, 0);
	assert_int_equal(st(w)->obj[MODEL_OBJ_AVC].allocs, 0);
	assert_int_equal(world_stats(e)->obj[MODEL_OBJ_ANON_VMA].allocs, 2);
	tw_assert_layout(w, C1, A, "[rx file . . .][rw L file .]");
	tw_assert_layout(w, C1, 0x7ff000000000ULL, "[rw L growsdown . . . . . . . . . . . . . . . ."
								   " . . . . . . . . . . . . . . . .]");
	tw_assert_layout(e, C1, A, "[rx file . . .][rw*D file .]");
	tw_assert_layout(e, C1, 0x7ff000000000ULL, "[rw*S growsdown . . . . . . . . . . . . . . . ."
								   " . . . . . . . . . . . . . . . .]");
	/* a write in the stack names its root; a fork upgrades both lazy VMAs */
	tw(w, ev_write(C1, 0x7ff000020000ULL));
	assert_true(lazy_owner(w, C1, 0x7ff000020000ULL));
	tw(w, ev_fork(C1, C2));
	assert_int_equal(st(w)->upgrades, 2);
	world_destroy(w);
	world_destroy(e);
}

static void adopt_optimistic(struct config *c)
{
	c->lazy_adopt = LAZY_ADOPT_OPTIMISTIC;
}

/*
 * Start snapshot (docs/lazy-model.md "pre-existing state"), policy
 * lazy.adopt.  optimistic: P's VMA u (anon_vma 400, its own root, no child)
 * never forked: lazy, its anon_vma and AVC never exist in the lazy world.
 * P's VMA f (root 500 with a child 501 in C) belongs to a forked family:
 * adopted as mainline had it, in both worlds.  Eager adopts 3 anon_vmas and
 * 4 AVCs, lazy 2 and 3.  conservative (default): u had an anon_vma when
 * the recording started, so it keeps it (its family may have forked before,
 * num_children only says it has no child now): lazy adopts 3 and 4, as eager.
 * u is at A, f at B; C's f has the chain [501, 500].
 */
static void start_snapshot_case(bool optimistic)
{
	struct world *w = lazy_world(optimistic ? adopt_optimistic : NULL), *e = tw_world("eager", 3);
	struct avm_snap_vma p[2] = { ev_snap_row(10, A, A + PG, EV_DATA_FLAGS, 0, 400),
				     ev_snap_row(10, B, B + PG, EV_DATA_FLAGS, 0, 500) };
	struct avm_snap_vma c = ev_snap_row(11, B, B + PG, EV_DATA_FLAGS, 0, 501);
	struct avm_snap_av avs[3];
	struct avm_err err = { { 0 } };
	struct world *ws[2] = { w, e };
	int k;

	memset(avs, 0, sizeof(avs));
	avs[0].id = 400; avs[0].root = 400; avs[0].parent = 400;
	avs[0].refcount = 1; avs[0].num_children = 1; avs[0].num_active_vmas = 1;
	avs[1].id = 500; avs[1].root = 500; avs[1].parent = 500;
	avs[1].refcount = 2; avs[1].num_children = 2; avs[1].num_active_vmas = 1;
	avs[2].id = 501; avs[2].root = 500; avs[2].parent = 500;
	avs[2].refcount = 1; avs[2].num_children = 0; avs[2].num_active_vmas = 1;
	p[1].av_children = 2;
	p[1].av_refcount = 2;
	c.chain_len = 2;
	c.chain[0] = 501;
	c.chain[1] = 500;
	c.av_root = 500;
	c.av_parent = 500;
	c.av_children = 0;
	for (k = 0; k < 2; k++) {
		if (world_adopt_start(ws[k], 10, p, 2, avs, 3, &err) ||
		    world_adopt_start(ws[k], 11, &c, 1, avs, 3, &err))
			fail_msg("adopt: %s", err.msg);
		tw(ws[k], ev_mmap(12, A, PG, RW, ANON)); /* closes the adoption, runs the checkers */
	}
	assert_int_equal(world_stats(e)->obj[MODEL_OBJ_ANON_VMA].preexisting, 3);
	assert_int_equal(world_stats(e)->obj[MODEL_OBJ_AVC].preexisting, 4);
	assert_int_equal(st(w)->obj[MODEL_OBJ_ANON_VMA].preexisting, optimistic ? 2 : 3);
	assert_int_equal(st(w)->obj[MODEL_OBJ_AVC].preexisting, optimistic ? 3 : 4);
	{
		struct tw_names n = { 0 };

		tw_assert_layout_n(w, &n, 10, A, optimistic ? "[rw L(U)]" : "[rw*U]");
		tw_assert_layout_n(w, &n, 10, B, "[rw*F]");
		tw_assert_layout_n(w, &n, 11, B, "[rw*F1]");
	}
	tw(w, ev_write(10, A));
	assert_int_equal(lazy_owner(w, 10, A), optimistic);
	tw(w, ev_write(10, B));
	assert_false(lazy_owner(w, 10, B));
	world_destroy(w);
	world_destroy(e);
}

static void test_start_snapshot_rule(void **state)
{
	(void)state;
	start_snapshot_case(true);
	start_snapshot_case(false);
}

/* vm_area_struct growth (lazy.vma_growth_bytes, default 1.15 -> 1 byte per object). */
static void test_vma_growth(void **state)
{
	struct world *w = lazy_world(NULL), *e = tw_world("eager", 3);

	(void)state;
	assert_int_equal(st(w)->obj_size[MODEL_OBJ_VMA], world_stats(e)->obj_size[MODEL_OBJ_VMA] + 1);
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(e, ev_mmap(MM, A, PG, RW, ANON));
	assert_int_equal(st(w)->bytes_live, world_stats(e)->bytes_live + 1);
	world_destroy(w);
	world_destroy(e);
}

struct poison {
	uint64_t saved;
};

static int poison_cb(void *ctx, uint64_t addr, uint64_t *owner, uint64_t folio)
{
	struct poison *p = ctx;
	uint64_t t = p->saved;

	(void)addr;
	(void)folio;
	p->saved = *owner;
	*owner = t;
	return 1;
}

/* The checker catches a lazy folio naming a root that does not exist. */
static void test_checker_catches_dead_root(void **state)
{
	struct world *w = lazy_world(NULL);
	struct avm_err err = { { 0 } };
	struct poison p = { LAZY_BIT | 0x1000 };

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	mm_vma_for_each_page(tw_vma(w, MM, A), poison_cb, &p);
	assert_int_equal(world_check(w, &err), -1);
	assert_non_null(strstr(err.msg, "dead lazy root"));
	mm_vma_for_each_page(tw_vma(w, MM, A), poison_cb, &p); /* restore */
	assert_int_equal(world_check(w, &err), 0);
	world_destroy(w);
}


/*
 * Lock sections (locks.h, lazy.md §9.3), x86_64 costs, default policies.
 * The first faults take nothing (no mmap_lock trylock, no anon_vma lock:
 * §4.1).  The fork upgrades the parent VMA in ONE anon_vma root write
 * section (why upgrade: its link, lock + insert; the AV and AVC are
 * allocated before it), re-points the 2 folios in try_dup_anon_rmap under
 * the PTE table's lock copy_pte_range holds anyway (rewrite_lock ptl: one
 * page_table_lock section per PTE table, 2 x folio_rewrite_ns, no
 * acquisition of its own), and clones the child's chain (lock + insert,
 * why fork).  dup_mmap write-locks the parent VMA (one VMA write section).
 */
static void test_lock_sections(void **state)
{
	struct world *w = tw_world_x86("lazy", NULL);
	struct locks_summary wr, ptl, vma;

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + PG));
	assert_int_equal(tw_lock_sum(w, LOCKS_ANON_VMA, LOCKS_WRITE).count, 0);
	assert_int_equal(tw_lock_sum(w, LOCKS_MMAP, LOCKS_READ).count, 0);
	tw_assert_layout(w, MM, A, "[rw L(R) . . .]"); /* 2 folios */
	tw(w, ev_fork(MM, C1));
	{
		struct tw_names n = { 0 };

		tw_assert_layout_n(w, &n, MM, A, "[rw*X . . .]");
		tw_assert_layout_n(w, &n, C1, A, "[rw T(X) . . .]");
	}
	wr = tw_lock_sum(w, LOCKS_ANON_VMA, LOCKS_WRITE);
	assert_int_equal(wr.count, 2);
	assert_int_equal(wr.count_by_why[LOCKS_WHY_UPGRADE], 1);
	assert_int_equal(wr.count_by_why[LOCKS_WHY_FORK], 1);
	assert_int_equal(wr.total_ns_by_why[LOCKS_WHY_UPGRADE],
			 tw_x86_ns(LOCKS_OP_LOCK) + tw_x86_ns(LOCKS_OP_TREE_INSERT));
	assert_int_equal(wr.total_ns_by_why[LOCKS_WHY_FORK],
			 tw_x86_ns(LOCKS_OP_LOCK) + tw_x86_ns(LOCKS_OP_TREE_INSERT));
	ptl = tw_lock_sum(w, LOCKS_PTL, LOCKS_WRITE);
	assert_int_equal(ptl.count, 1);
	assert_int_equal(ptl.total_ns_by_why[LOCKS_WHY_UPGRADE], 2 * tw_x86_ns(LOCKS_OP_FOLIO_REWRITE));
	vma = tw_lock_sum(w, LOCKS_VMA, LOCKS_WRITE);
	assert_int_equal(vma.count_by_why[LOCKS_WHY_FORK], 1);
	world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_fault_allocates_nothing),
		cmocka_unit_test(test_split_and_merge_keep_root),
		cmocka_unit_test(test_merge_different_roots_pins),
		cmocka_unit_test(test_merge_different_roots_pin_none),
		cmocka_unit_test(test_munmap_root_pinned_until_last_folio),
		cmocka_unit_test(test_munmap_root_pin_none_rewrites),
		cmocka_unit_test(test_fork_upgrades_lazy_parent),
		cmocka_unit_test(test_fork_split_family_shares_anon_vma),
		cmocka_unit_test(test_child_cow_owner_policies),
		cmocka_unit_test(test_child_fork_upgrades_tree_parent),
		cmocka_unit_test(test_fork_regular_parent),
		cmocka_unit_test(test_fork_skips_dontcopy_wipeonfork),
		cmocka_unit_test(test_runtime_switch),
		cmocka_unit_test(test_runtime_switch_off_fork_is_mainline),
		cmocka_unit_test(test_mremap_upgrade),
		cmocka_unit_test(test_mremap_rebase),
		cmocka_unit_test(test_mremap_rebase_partial),
		cmocka_unit_test(test_mremap_rebase_grown_middle),
		cmocka_unit_test(test_reuse_in_place_keeps_counts),
		cmocka_unit_test(test_never_forking_process),
		cmocka_unit_test(test_models_agree_on_layouts),
		cmocka_unit_test(test_exec_faulted_vmas_are_lazy),
		cmocka_unit_test(test_start_snapshot_rule),
		cmocka_unit_test(test_vma_growth),
		cmocka_unit_test(test_checker_catches_dead_root),
		cmocka_unit_test(test_lock_sections),
	};

	return cmocka_run_group_tests_name("lazy", tests, NULL, NULL);
}
