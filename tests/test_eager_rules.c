/*
 * test_eager_rules.c - one test per rule of eager.md §2-§3, on profile P3
 * unless the test says otherwise.  Each test draws the VMA layout before and
 * after with tw_assert_layout (the notation is layout.h's: [rw] [rwx] [r] =
 * protection, *X = faulted with anon_vma X, L=n = chain length, . = one more
 * page inside a VMA or one unmapped page outside), so the drawing is the
 * assertion; expected anon_vma / anon_vma_chain deltas come from the rule
 * named.  The invariant checker runs after every event.
 */
#include "layout.h"

#define MM 1
#define C1 2
#define C2 3
#define C3 4
#define C4 5
#define A 0x20000000ULL
#define RWX (PROT_READ | PROT_WRITE | PROT_EXEC)

static struct world *p3(void)
{
	return tw_world("eager", 3);
}

/* Three adjacent one-page VMAs at A: [rw][rwx][rw] (they differ in VM_EXEC only). */
static void three(struct world *w, uint64_t mm)
{
	tw(w, ev_mmap(mm, A, 3 * PG, RW, ANON));
	tw(w, ev_mprotect(mm, A + PG, PG, RWX));
	assert_int_equal(tw_vma_count(w, mm), 3);
}

/*
 * §2.3: reuse looks at next first.  prev and next are faulted with different
 * anon_vmas X and Y, both singular; the middle's first write takes Y (next):
 * +1 AVC, no AV.  Rule 4 ignores VM_EXEC.
 */
static void test_prepare_reuses_next_first(void **state)
{
	struct world *w = p3();
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	three(w, MM);
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 2 * PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw*X][rwx][rw*Y]");
	m = tw_mark(w);
	tw(w, ev_write(MM, A + PG));
	tw_assert_delta(w, &m, 0, 0, 1, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X][rwx*Y][rw*Y]");
	world_destroy(w);
}

/*
 * §2.3: next unfaulted, so prev donates.
 */
static void test_prepare_reuses_prev(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	three(w, MM);
	tw(w, ev_write(MM, A));
	tw_assert_layout(w, MM, A, "[rw*X][rwx][rw]");
	m = tw_mark(w);
	tw(w, ev_write(MM, A + PG));
	tw_assert_delta(w, &m, 0, 0, 1, 0);
	tw_assert_layout(w, MM, A, "[rw*X][rwx*X][rw]");
	world_destroy(w);
}

/*
 * §2.3 rule 4: a flag other than R/W/X/SOFTDIRTY differs (VM_DONTDUMP), so
 * no neighbour donates: a new AV.
 */
static void test_prepare_no_reuse_flags_differ(void **state)
{
	struct world *w = p3();
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 3 * PG, RW, ANON));
	tw(w, ev_madvise(MM, A + PG, PG, MADV_DONTDUMP));
	assert_int_equal(tw_vma_count(w, MM), 3);
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 2 * PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw*X][rw dontdump][rw*Y]");
	m = tw_mark(w);
	tw(w, ev_write(MM, A + PG));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X][rw*Z dontdump][rw*Y]");
	world_destroy(w);
}

/*
 * §2.3 rule 6: a fork child's neighbour (L = 2) never donates.  The parent
 * reuses (+1 AVC); the child, same layout, allocates (+1 AV +1 AVC).
 */
static void test_prepare_no_reuse_from_fork_child(void **state)
{
	struct world *w = p3();
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_mprotect(MM, A + PG, PG, RWX));
	tw(w, ev_write(MM, A));
	tw(w, ev_fork(MM, C1));
	tw_assert_layout_n(w, &n, MM, A, "[rw*X L=1][rwx]");
	tw_assert_layout_n(w, &n, C1, A, "[rw*X1 L=2][rwx]");
	m = tw_mark(w);
	tw(w, ev_write(C1, A + PG));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	tw_assert_layout_n(w, &n, C1, A, "[rw*X1 L=2][rwx*Z L=1]");
	m = tw_mark(w);
	tw(w, ev_write(MM, A + PG));
	tw_assert_delta(w, &m, 0, 0, 1, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X][rwx*X]");
	world_destroy(w);
}

/*
 * §2.3 rule 5: pgoff must be linear.  A faulted VMA moved by mremap keeps its
 * old pgoff (§2.7), so it neither merges with nor donates to the unfaulted
 * VMA it now touches (pgoff B/PAGE at C - 1, not linear).  The write at C:
 * +1 AV +1 AVC.
 */
static void test_prepare_no_reuse_nonlinear_pgoff(void **state)
{
	struct world *w = p3();
	uint64_t b = A + 0x100000, c = A + 0x400000;
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, b, PG, RW, ANON));
	tw(w, ev_write(MM, b));
	tw(w, ev_mmap(MM, c, PG, RWX, ANON));
	tw_assert_layout_n(w, &n, MM, b, "[rw*X]");
	tw_assert_layout_n(w, &n, MM, c - PG, ". [rwx]");
	tw(w, ev_mremap(MM, b, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, (int64_t)(c - PG), c - PG));
	assert_int_equal(tw_vma_count(w, MM), 2);
	tw_assert_layout_n(w, &n, MM, c - PG, "[rw*X][rwx]");
	m = tw_mark(w);
	tw(w, ev_write(MM, c));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	tw_assert_layout_n(w, &n, MM, c - PG, "[rw*X][rwx*Z]");
	world_destroy(w);
}

/*
 * §2.4 / §7.2 split: each new piece clones the whole chain.  In a fork child
 * (L = 2) an mprotect of the middle page splits twice: +2 x 2 AVCs, no AV.
 */
static void test_split_clones_whole_chain(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 3 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_fork(MM, C1));
	tw_assert_layout(w, C1, A, "[rw*X1 L=2 . .]");
	m = tw_mark(w);
	tw(w, ev_mprotect(C1, A + PG, PG, PROT_READ));
	tw_assert_delta(w, &m, 0, 0, 4, 0);
	tw_assert_layout(w, C1, A, "[rw*X1 L=2][r*X1 L=2][rw*X1 L=2]");
	world_destroy(w);
}

/*
 * §2.7 munmap of the middle of a faulted VMA: two edge splits (+L each),
 * then the middle is unlinked (-L): +2L -L.  No AV is freed (the others
 * still link it).
 */
static void test_munmap_middle(void **state)
{
	struct world *w = p3();
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw_assert_layout_n(w, &n, MM, A, "[rw*X . . .]");
	m = tw_mark(w);
	tw(w, ev_munmap(MM, A + PG, 2 * PG));
	tw_assert_delta(w, &m, 0, 0, 2, 1);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X] . . [rw*X]");
	world_destroy(w);
}

/*
 * §2.7 munmap across several VMAs: the partial edges are split, every
 * covered VMA unlinked; the last unlink of an AV frees it (§2.6).  One AV:
 * both later writes reuse prev's.  munmap of pages 1-2: no split, two
 * unlinks: -2 AVC, X stays; munmap of page 0: the last link: -1 AVC, X freed.
 */
static void test_munmap_several(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	three(w, MM);
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + PG));
	tw(w, ev_write(MM, A + 2 * PG));
	assert_int_equal(tw_live(w, MODEL_OBJ_ANON_VMA), 1); /* reuse: prev, then prev again */
	tw_assert_layout(w, MM, A, "[rw*X][rwx*X][rw*X]");
	m = tw_mark(w);
	tw(w, ev_munmap(MM, A + PG, 2 * PG));
	tw_assert_delta(w, &m, 0, 0, 0, 2);
	tw_assert_layout(w, MM, A, "[rw*X] . .");
	m = tw_mark(w);
	tw(w, ev_munmap(MM, A, PG));
	tw_assert_delta(w, &m, 0, 1, 0, 1);
	tw_assert_layout(w, MM, A, ". . .");
	assert_int_equal(tw_live(w, MODEL_OBJ_ANON_VMA), 0);
	world_destroy(w);
}

/*
 * §2.6 / §2.1: the root outlives its descendants.  P (root A) forks C
 * (C's chain [A1, A]).  P unmaps: its AVC goes, A stays (C's AVC is in A's
 * tree).  C unmaps: pass 1 empties A1's and A's trees, pass 2 puts A1
 * (freed; drops A's child reference) and A (freed): -2 AV -2 AVC.
 */
static void test_unlink_root_freed_last(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_fork(MM, C1));
	m = tw_mark(w);
	tw(w, ev_munmap(MM, A, PG));
	tw_assert_delta(w, &m, 0, 0, 0, 1);
	m = tw_mark(w);
	tw(w, ev_munmap(C1, A, PG));
	tw_assert_delta(w, &m, 0, 2, 0, 2);
	assert_int_equal(tw_live(w, MODEL_OBJ_ANON_VMA), 0);
	world_destroy(w);
}

/*
 * §3.3 prev + middle, prev unfaulted: dup(prev <- middle) +L, the middle is
 * removed -L.
 */
static void test_merge_existing_dup_into_prev(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_mprotect(MM, A + PG, PG, RWX));
	tw(w, ev_write(MM, A + PG));
	tw_assert_layout(w, MM, A, "[rw][rwx*X]");
	m = tw_mark(w);
	tw(w, ev_mprotect(MM, A + PG, PG, RW));
	tw_assert_delta(w, &m, 0, 0, 1, 1);
	tw_assert_layout(w, MM, A, "[rw*X .]");
	world_destroy(w);
}

/*
 * §3.3 middle + next, next unfaulted: dup(next <- middle), middle removed.
 */
static void test_merge_existing_dup_into_next(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_mprotect(MM, A, PG, RWX));
	tw(w, ev_write(MM, A));
	tw_assert_layout(w, MM, A, "[rwx*X][rw]");
	m = tw_mark(w);
	tw(w, ev_mprotect(MM, A, PG, RW));
	tw_assert_delta(w, &m, 0, 0, 1, 1);
	tw_assert_layout(w, MM, A, "[rw*X .]");
	world_destroy(w);
}

/*
 * §3.3 prev + part of middle: prev extends over the range and gets a dup;
 * the middle only shrinks (no removal): +1 AVC.
 */
static void test_merge_existing_partial(void **state)
{
	struct world *w = p3();
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 3 * PG, RW, ANON));
	tw(w, ev_mprotect(MM, A + PG, 2 * PG, RWX));
	tw(w, ev_write(MM, A + PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw][rwx*X .]");
	m = tw_mark(w);
	tw(w, ev_mprotect(MM, A + PG, PG, RW));
	tw_assert_delta(w, &m, 0, 0, 1, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X .][rwx*X]");
	world_destroy(w);
}

/*
 * §3.2 case 1 (P2+): the middle is a fork child: no dup into an unfaulted
 * prev, so no merge: the mprotect changes the middle in place.  The parent
 * (not a fork child) merges.
 */
static void test_merge_refused_fork_child_middle(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_mprotect(MM, A + PG, PG, RWX));
	tw(w, ev_write(MM, A + PG));
	tw(w, ev_fork(MM, C1));
	tw_assert_layout(w, C1, A, "[rw][rwx*X1 L=2]");
	m = tw_mark(w);
	tw(w, ev_mprotect(C1, A + PG, PG, RW));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw_assert_layout(w, C1, A, "[rw][rw*X1 L=2]");
	tw(w, ev_mprotect(MM, A + PG, PG, RW));
	tw_assert_layout(w, MM, A, "[rw*X L=1 .]");
	world_destroy(w);
}

/*
 * §3.2 case 2: the faulted target is a fork child: an unfaulted middle may
 * not join it (the parent's, not a fork child, may).
 */
static void test_merge_refused_fork_child_target(void **state)
{
	struct world *w = p3();

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_mprotect(MM, A + PG, PG, RWX));
	tw(w, ev_write(MM, A));
	tw(w, ev_fork(MM, C1));
	tw_assert_layout(w, C1, A, "[rw*X1 L=2][rwx]");
	tw(w, ev_mprotect(C1, A + PG, PG, RW));
	tw_assert_layout(w, C1, A, "[rw*X1 L=2][rw]");
	tw(w, ev_mprotect(MM, A + PG, PG, RW));
	tw_assert_layout(w, MM, A, "[rw*X L=1 .]");
	world_destroy(w);
}

/*
 * §3.2 last rule: prev and next both fit the middle but have different
 * anon_vmas: only prev merges.
 */
static void test_merge_pair_rule(void **state)
{
	struct world *w = p3();
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	three(w, MM);
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 2 * PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw*X][rwx][rw*Y]");
	m = tw_mark(w);
	tw(w, ev_mprotect(MM, A + PG, PG, RW));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X .][rw*Y]");
	world_destroy(w);
}

/*
 * §3.4 / §2.7 mmap: a new range between an unfaulted prev and a faulted next
 * merges with both: dup(prev <- next) +L(next), next removed -L(next).
 */
static void test_merge_new_range_dup_next(void **state)
{
	struct world *w = p3();
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_mmap(MM, A + 2 * PG, PG, RW, ANON));
	tw(w, ev_write(MM, A + 2 * PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw] . [rw*X]");
	m = tw_mark(w);
	tw(w, ev_mmap(MM, A + PG, PG, RW, ANON));
	tw_assert_delta(w, &m, 0, 0, 1, 1);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X . .]");
	world_destroy(w);
}

/*
 * §7.5 MAP_FIXED over a faulted VMA: the overlapped VMA is unlinked (its AV
 * freed: tree empty) before the new range is merged or created.
 */
static void test_map_fixed_unlinks_before_merge(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw_assert_layout(w, MM, A, "[rw*X .]");
	m = tw_mark(w);
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON | MAP_FIXED));
	tw_assert_delta(w, &m, 0, 1, 0, 1);
	tw_assert_layout(w, MM, A, "[rw .]");
	world_destroy(w);
}

/*
 * §2.7 MAP_FIXED over the tail of a faulted VMA next to an unfaulted
 * neighbour: split (+1), unlink the covered part (-1), and the new range then
 * merges with the unfaulted next (both unfaulted): the faulted head is not
 * involved.  MAP_FIXED of page 1 rwx:
 */
static void test_map_fixed_partial(void **state)
{
	struct world *w = p3();
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 3 * PG, RW, ANON));
	tw(w, ev_mprotect(MM, A + 2 * PG, PG, RWX));
	tw(w, ev_write(MM, A));
	tw_assert_layout_n(w, &n, MM, A, "[rw*X .][rwx]");
	m = tw_mark(w);
	tw(w, ev_mmap(MM, A + PG, PG, RWX, ANON | MAP_FIXED));
	tw_assert_delta(w, &m, 0, 0, 1, 1);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X][rwx .]");
	world_destroy(w);
}

/*
 * §2.7 fork: VM_DONTCOPY VMAs are skipped; VM_WIPEONFORK children have no
 * anon state: neither costs anything.
 */
static void test_fork_dontcopy_wipeonfork(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_mmap(MM, A + 4 * PG, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_write(MM, A + 4 * PG));
	tw(w, ev_madvise(MM, A, PG, MADV_DONTFORK));
	tw(w, ev_madvise(MM, A + 4 * PG, PG, MADV_WIPEONFORK));
	tw_assert_layout(w, MM, A, "[rw*X dontfork] . . . [rw*Y wipeonfork]");
	m = tw_mark(w);
	tw(w, ev_fork(MM, C1));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw_assert_layout(w, C1, A, ". . . . [rw wipeonfork]");
	assert_int_equal(tw_vma_count(w, C1), 1);
	world_destroy(w);
}

/*
 * §2.7 fork: counter updates from an earlier VMA change the next one's reuse
 * decision in the same fork.  C2's VMA is split in two (same AV A2, chain
 * [A2, A1, A]); C1 exits; C2 forks C3: the first piece reuses A1 (children
 * 1, active 0) and makes A1 active, so the second piece cannot: +1 AV.
 * AVCs: 3 + (3 + 1) = 7.
 */
static void test_fork_reuse_once_per_fork(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_fork(MM, C1));
	tw(w, ev_fork(C1, C2));
	tw(w, ev_mprotect(C2, A + PG, PG, PROT_READ));
	tw(w, ev_exit(C1));
	m = tw_mark(w);
	tw(w, ev_fork(C2, C3));
	tw_assert_delta(w, &m, 1, 0, 7, 0);
	world_destroy(w);
}

/*
 * §2.4 [ver]: P1-P3 reuse the oldest qualifying AV; P4 walks the source chain
 * head to tail, and its chains are reversed on every clone, so the pick
 * follows list order.  Lineage P -> C1 -> C2 -> C3 -> C4 (own AVs A1..A4);
 * C1, C2 and C3 exit, so A1, A2 and A3 qualify; C4 forks C5.
 *   P3 chain of C4 (oldest first): A A1 A2 A3 A4        -> A1
 *   P4 chain of C4 (tail..head):   A3 A1 A A2 A4, walked A4 A2 ... -> A2
 */
static void reuse_choice(int profile, int want_a2)
{
	struct world *w = tw_world("eager", profile);
	uint64_t a1, a2, got;

	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw(w, ev_fork(MM, C1));
	tw(w, ev_fork(C1, C2));
	tw(w, ev_fork(C2, C3));
	tw(w, ev_fork(C3, C4));
	a1 = tw_owner(w, C1, A);
	a2 = tw_owner(w, C2, A);
	tw(w, ev_exit(C1));
	tw(w, ev_exit(C2));
	tw(w, ev_exit(C3));
	tw(w, ev_fork(C4, C4 + 1));
	got = tw_owner(w, C4 + 1, A);
	assert_int_equal(got, want_a2 ? a2 : a1);
	world_destroy(w);
}

static void test_fork_reuse_oldest_p3(void **state)
{
	(void)state;
	reuse_choice(3, 0);
}

static void test_fork_reuse_list_order_p4(void **state)
{
	(void)state;
	reuse_choice(4, 1);
}

/*
 * §2.7 mremap grow in place: an unfaulted VMA grows up to a faulted
 * neighbour and absorbs it: dup(v <- next) +1, next removed -1.
 */
static void test_mremap_grow_absorbs_next(void **state)
{
	struct world *w = p3();
	struct tw_names n = { 0 };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_mmap(MM, A + 2 * PG, PG, RW, ANON));
	tw(w, ev_write(MM, A + 2 * PG));
	tw_assert_layout_n(w, &n, MM, A, "[rw] . [rw*X]");
	m = tw_mark(w);
	tw(w, ev_mremap(MM, A, PG, 2 * PG, 0, (int64_t)A, 0));
	tw_assert_delta(w, &m, 0, 0, 1, 1);
	tw_assert_layout_n(w, &n, MM, A, "[rw*X . .]");
	world_destroy(w);
}

/*
 * §2.7 MREMAP_DONTUNMAP: the whole source moved, so it is unlinked and left
 * mapped but unfaulted; the copy got the chain: +1 -1 AVC.
 */
static void test_mremap_dontunmap(void **state)
{
	struct world *w = p3();
	uint64_t to = A + 0x1000000;
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	m = tw_mark(w);
	tw(w, ev_mremap(MM, A, PG, PG, KABI_MREMAP_MAYMOVE | KABI_MREMAP_DONTUNMAP, (int64_t)to, 0));
	tw_assert_delta(w, &m, 0, 0, 1, 1);
	tw_assert_layout(w, MM, A, "[rw]");
	tw_assert_layout(w, MM, to, "[rw*X]");
	assert_true(tw_page(w, MM, to).found);
	assert_false(tw_page(w, MM, A).found);
	world_destroy(w);
}

/*
 * §2.2 callers: a write to a private file mapping COWs and prepares; reads
 * of it, and any fault on a shared mapping (file or shmem), never prepare.
 */
static void test_fault_kinds(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap_file(MM, A, PG, RW, MAP_PRIVATE, 7, 0));
	tw(w, ev_mmap_file(MM, A + 4 * PG, PG, RW, MAP_SHARED, 7, 0));
	tw(w, ev_mmap(MM, A + 8 * PG, PG, RW, MAP_SHARED | MAP_ANONYMOUS));
	m = tw_mark(w);
	tw(w, ev_read(MM, A));
	tw(w, ev_write(MM, A + 4 * PG));
	tw(w, ev_write(MM, A + 8 * PG));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_write_present(MM, A)); /* COW of the page-cache page */
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	assert_true(tw_page(w, MM, A).found);
	world_destroy(w);
}

/* §2.2: a read maps the zero page (0/0); the later write COWs it and prepares (1/1). */
static void test_zero_page_cow(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	m = tw_mark(w);
	tw(w, ev_read(MM, A));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_write_present(MM, A));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	world_destroy(w);
}

/*
 * §4.1: after fork a COW copy in the child goes to the child's own AV; the
 * parent's page, now mapped once, is reused in place (its owner stays the
 * parent's AV).
 */
static void test_cow_owner_after_fork(void **state)
{
	struct world *w = p3();
	struct tw_page_find before, child, parent;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	before = tw_page(w, MM, A);
	tw(w, ev_fork(MM, C1));
	assert_int_equal(tw_page(w, C1, A).folio, before.folio); /* shared after fork */
	tw(w, ev_write_present(C1, A));
	child = tw_page(w, C1, A);
	assert_int_not_equal(child.folio, before.folio);
	assert_int_equal(child.owner, tw_owner(w, C1, A));
	assert_int_not_equal(child.owner, before.owner);
	tw(w, ev_write_present(MM, A));
	parent = tw_page(w, MM, A);
	assert_int_equal(parent.folio, before.folio);
	assert_int_equal(parent.owner, before.owner);
	world_destroy(w);
}

/*
 * §2.2 GUP population: MAP_POPULATE of a writable private mapping writes
 * (prepares, 1/1); of a read-only one reads (0/0).  mlockall(MCL_FUTURE)
 * makes later writable mappings VM_LOCKED and populated (1/1).
 */
static void test_populate_prepares(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	m = tw_mark(w);
	tw(w, ev_mmap(MM, A, 4 * PG, RW, ANON | MAP_POPULATE));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	m = tw_mark(w);
	tw(w, ev_mmap(MM, A + 8 * PG, 4 * PG, PROT_READ, ANON | MAP_POPULATE));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_mlockall(MM, MCL_CURRENT | MCL_FUTURE));
	m = tw_mark(w);
	tw(w, ev_mmap(MM, A + 16 * PG, PG, RW, ANON));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	assert_true(tw_vma(w, MM, A + 16 * PG)->flags & VM_LOCKED);
	world_destroy(w);
}

/* §2.2 stack growth: a fault below a VM_GROWSDOWN VMA prepares it and grows it. */
static void test_stack_growth_prepares(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A + 16 * PG, 4 * PG, RW, ANON | MAP_GROWSDOWN));
	m = tw_mark(w);
	tw(w, ev_write(MM, A + 14 * PG + 8));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	tw_assert_vma(w, MM, A + 14 * PG, A + 14 * PG, A + 20 * PG);
	world_destroy(w);
}

/*
 * §2.7 mprotect VM_ACCOUNT rule: making an unfaulted anonymous VMA read-only
 * drops VM_ACCOUNT, a faulted one keeps it, and making it writable again
 * adds it back.
 */
static void test_mprotect_vm_account(void **state)
{
	struct world *w = p3();

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_mmap(MM, A + 4 * PG, PG, RW, ANON));
	tw(w, ev_write(MM, A + 4 * PG));
	assert_true(tw_vma(w, MM, A)->flags & VM_ACCOUNT);
	tw(w, ev_mprotect(MM, A, PG, PROT_READ));
	tw(w, ev_mprotect(MM, A + 4 * PG, PG, PROT_READ));
	assert_false(tw_vma(w, MM, A)->flags & VM_ACCOUNT);
	assert_true(tw_vma(w, MM, A + 4 * PG)->flags & VM_ACCOUNT);
	tw(w, ev_mprotect(MM, A, PG, RW));
	assert_true(tw_vma(w, MM, A)->flags & VM_ACCOUNT);
	world_destroy(w);
}

/*
 * §2.7 clone(CLONE_VM) (threads, vfork): no dup_mmap, no anon activity; the
 * mm lives until its last user exits (§7.3 rule 5).
 */
static void test_threads_share_mm(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	m = tw_mark(w);
	tw(w, ev_clone_vm(MM));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_exit(MM));
	assert_non_null(tw_mm(w, MM));
	tw(w, ev_exit(MM));
	assert_null(tw_mm(w, MM));
	tw_assert_delta(w, &m, 0, 1, 0, 1);
	world_destroy(w);
}

/* A failed syscall changes nothing (§7.3 rule 2). */
static void test_failed_syscalls(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 3 * PG, RW, ANON));
	tw(w, ev_write(MM, A));
	m = tw_mark(w);
	tw(w, ev_failed(ev_mprotect(MM, A + PG, PG, PROT_READ), -13));
	tw(w, ev_failed(ev_munmap(MM, A + PG, PG), -22));
	tw(w, ev_failed(ev_mmap(MM, A, PG, RW, ANON | MAP_FIXED), -12));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_int_equal(tw_vma_count(w, MM), 1);
	world_destroy(w);
}

/*
 * §2.7 multi-VMA mprotect stops at the first hole (ENOMEM): VMAs before it
 * stay modified, splits included: mprotect of all four pages r fails
 * ENOMEM, and the VMA before the hole changed, not the one after.
 */
static void test_mprotect_stops_at_hole(void **state)
{
	struct world *w = p3();
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, A, 2 * PG, RW, ANON));
	tw(w, ev_mmap(MM, A + 3 * PG, PG, RW, ANON));
	tw(w, ev_write(MM, A));
	tw_assert_layout(w, MM, A, "[rw*X .] . [rw]");
	m = tw_mark(w);
	tw(w, ev_failed(ev_mprotect(MM, A, 4 * PG, PROT_READ), -12));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw_assert_layout(w, MM, A, "[r*X .] . [rw]");
	world_destroy(w);
}

/*
 * §3.2 case 1 / §3.4 copied_from (P3 vs P2, CVE-2026-23077).  Two private
 * mappings of one open file: T (unfaulted) at offset 0, S (faulted) at
 * offset 1 page elsewhere.  mremap moves S right after T: same file, linear
 * pgoff, so copy_vma merges the range into the unfaulted T.
 *   before  [T f@0]  ...  [S* f@1]        after  [T f@0 | f@1]
 *   P3: T gets a dup of S's chain (+1), S is unmapped (-1), the AV lives on.
 *   P2: no dup (the bug): S's unlink empties the AV's tree and frees it
 *       while T's moved folio still names it.
 *   P3 in a fork child (S's chain L=2): copied_from is a fork child, no
 *   merge: a new VMA with the chain (+2), S unmapped (-2).
 */
static void copied_from_case(int profile, bool in_child, uint64_t av_f, uint64_t avc_a,
			     uint64_t avc_f, size_t vmas)
{
	struct world *w = tw_world("eager", profile);
	uint64_t t = A, src = A + 0x100000, mm = MM;
	struct tw_mark m;

	tw(w, ev_mmap_file(MM, t, PG, RW, MAP_PRIVATE, 7, 0));
	tw(w, ev_mmap_file(MM, src, PG, RW, MAP_PRIVATE, 7, 1));
	tw(w, ev_write(MM, src));
	if (in_child) {
		tw(w, ev_fork(MM, C1));
		mm = C1;
	}
	m = tw_mark(w);
	tw(w, ev_mremap(mm, src, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, (int64_t)(t + PG), t + PG));
	tw_assert_delta(w, &m, 0, av_f, avc_a, avc_f);
	assert_int_equal(tw_vma_count(w, mm), vmas);
	world_destroy(w);
}

static void test_copied_from_dup_p3(void **state)
{
	(void)state;
	copied_from_case(3, false, 0, 1, 1, 1);
}

static void test_copied_from_no_dup_p2(void **state)
{
	(void)state;
	copied_from_case(2, false, 1, 0, 1, 1);
}

static void test_copied_from_fork_child_p3(void **state)
{
	(void)state;
	copied_from_case(3, true, 0, 2, 2, 2);
}

/*
 * §2.8: the PMD-THP path needs an empty PMD.  THP "madvise": a read before
 * MADV_HUGEPAGE maps a 4K zero page and populates PMD 0; afterwards a read
 * in PMD 0 still takes the 4K path (0/0), a read in the untouched PMD 1
 * takes the THP path and prepares (1/1).  Unmapping everything frees the
 * page tables: a new mapping's read prepares again.
 *   [ PMD 0: populated | PMD 1: empty ]   4 MiB, 2 MiB aligned
 */
static void test_thp_needs_empty_pmd(void **state)
{
	struct world *w = p3();
	uint64_t h = 0x40000000ULL, mb2 = 2ULL << 20;
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(MM, h, 2 * mb2, RW, ANON));
	tw(w, ev_read(MM, h));
	tw(w, ev_madvise(MM, h, 2 * mb2, MADV_HUGEPAGE));
	m = tw_mark(w);
	tw(w, ev_read(MM, h + PG));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	tw(w, ev_read(MM, h + mb2 + PG));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	tw(w, ev_munmap(MM, h, 2 * mb2));
	tw(w, ev_mmap(MM, h, 2 * mb2, RW, ANON));
	tw(w, ev_madvise(MM, h, 2 * mb2, MADV_HUGEPAGE));
	m = tw_mark(w);
	tw(w, ev_read(MM, h + PG));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prepare_reuses_next_first),
		cmocka_unit_test(test_prepare_reuses_prev),
		cmocka_unit_test(test_prepare_no_reuse_flags_differ),
		cmocka_unit_test(test_prepare_no_reuse_from_fork_child),
		cmocka_unit_test(test_prepare_no_reuse_nonlinear_pgoff),
		cmocka_unit_test(test_split_clones_whole_chain),
		cmocka_unit_test(test_munmap_middle),
		cmocka_unit_test(test_munmap_several),
		cmocka_unit_test(test_unlink_root_freed_last),
		cmocka_unit_test(test_merge_existing_dup_into_prev),
		cmocka_unit_test(test_merge_existing_dup_into_next),
		cmocka_unit_test(test_merge_existing_partial),
		cmocka_unit_test(test_merge_refused_fork_child_middle),
		cmocka_unit_test(test_merge_refused_fork_child_target),
		cmocka_unit_test(test_merge_pair_rule),
		cmocka_unit_test(test_merge_new_range_dup_next),
		cmocka_unit_test(test_map_fixed_unlinks_before_merge),
		cmocka_unit_test(test_map_fixed_partial),
		cmocka_unit_test(test_fork_dontcopy_wipeonfork),
		cmocka_unit_test(test_fork_reuse_once_per_fork),
		cmocka_unit_test(test_fork_reuse_oldest_p3),
		cmocka_unit_test(test_fork_reuse_list_order_p4),
		cmocka_unit_test(test_mremap_grow_absorbs_next),
		cmocka_unit_test(test_mremap_dontunmap),
		cmocka_unit_test(test_fault_kinds),
		cmocka_unit_test(test_zero_page_cow),
		cmocka_unit_test(test_cow_owner_after_fork),
		cmocka_unit_test(test_populate_prepares),
		cmocka_unit_test(test_stack_growth_prepares),
		cmocka_unit_test(test_mprotect_vm_account),
		cmocka_unit_test(test_threads_share_mm),
		cmocka_unit_test(test_failed_syscalls),
		cmocka_unit_test(test_mprotect_stops_at_hole),
		cmocka_unit_test(test_copied_from_dup_p3),
		cmocka_unit_test(test_copied_from_no_dup_p2),
		cmocka_unit_test(test_copied_from_fork_child_p3),
		cmocka_unit_test(test_thp_needs_empty_pmd),
	};

	return cmocka_run_group_tests_name("eager_rules", tests, NULL, NULL);
}
