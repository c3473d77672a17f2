/*
 * test_cowctx.c - the COW context model (model_cowctx.c), one test per rule
 * of docs/cowctx-model.md (which follows the PoC design note's §1-§3).  No
 * kernel with this design exists, so the expected numbers are worked out
 * from the rules by hand; each test names its rule.  The invariant checker
 * (every folio names a live context; refcnt = mm + children + folios;
 * counts equal the stats) runs after every event (tw()).
 *
 * Layouts are drawn with one cell per VMA: [A: faulted] and the contexts as
 * c1 -> c2 (c2 a child of c1), folios as F(c1) = a folio naming c1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "evbuild.h"
#include "report.h"
#include "verdict.h"

#define A 0x10000000ULL
#define B 0x20000000ULL
#define STACK_LO 0x7ff000000000ULL
#define STACK_HI 0x7ff000021000ULL

static const struct model_stats *st(struct world *w)
{
	return world_stats(w);
}

static struct world *cw(void (*tweak)(struct config *c))
{
	struct config cfg;

	tw_config(&cfg, 3);
	if (tweak)
		tweak(&cfg);
	return tw_world_cfg("cowctx", &cfg);
}

/* Walk the folio mapped at addr in mm, as reclaim or migration would. */
static struct model_walk walk_at(struct world *w, uint64_t mm, uint64_t addr)
{
	struct mm_folio_ref f;
	struct model_walk wk;

	memset(&wk, 0, sizeof(wk));
	assert_true(mm_folio_at(tw_mm(w, mm), addr, &f));
	world_ops(w)->rmap_walk(world_model(w), &f, &wk);
	return wk;
}

static void no_shortcut(struct config *c) { c->cowctx[COWCTX_P_SHORTCUT] = 2; }
static void never_move(struct config *c) { c->cowctx[COWCTX_P_REUSE_MOVE] = 1; }
static void all_offsets(struct config *c) { c->cowctx[COWCTX_P_SHORTCUT] = 1; }
static void adjust(struct config *c)
{
	all_offsets(c);
	c->cowctx[COWCTX_P_REMAP_ADJUST] = 1;
}
static void copy_only(struct config *c) { c->cowctx[COWCTX_P_FORK_REMAP] = 1; }
static void rfc(struct config *c)
{
	all_offsets(c);
	c->cowctx[COWCTX_P_TRACK] = 1;
}
static void merge_mainline(struct config *c) { c->cowctx[COWCTX_P_MERGE] = 1; }
static void no_folio_refs(struct config *c) { c->cowctx[COWCTX_P_LIFETIME] = 1; }

/*
 * §1.1 "Created": one context per mm - a fork's child gets one in mm_init,
 * exec's new mm a new root, a thread none.  No anon_vma or AVC ever (§1.4).
 *   mm1 (opaque: existed before, adopted)  --fork-->  mm2  --exec-->  mm3
 */
static void test_one_context_per_mm(void **state)
{
	struct world *w = cw(NULL);
	struct avm_err err = { { 0 } };
	struct avm_event ex = ev_exec(2, 3, 1);

	(void)state;
	tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
	tw(w, ev_write(1, A));
	assert_int_equal(st(w)->obj[MODEL_OBJ_COW_CONTEXT].preexisting, 1);
	assert_int_equal(st(w)->obj[MODEL_OBJ_COW_CONTEXT].allocs, 0);
	tw(w, ev_clone_vm(1)); /* a thread shares the mm: no context */
	assert_int_equal(st(w)->obj[MODEL_OBJ_COW_CONTEXT].live, 1);
	tw(w, ev_fork(1, 2));
	assert_int_equal(st(w)->allocs_by_why[MODEL_OBJ_COW_CONTEXT][MODEL_WHY_FORK], 1);
	assert_int_equal(st(w)->obj[MODEL_OBJ_COW_CONTEXT].live, 2);
	/* exec: a new root for mm3; mm2 goes, and its context with it (no folio names it) */
	if (world_exec(w, &ex, NULL, 0, &err))
		fail_msg("world_exec: %s", err.msg);
	assert_int_equal(st(w)->allocs_by_why[MODEL_OBJ_COW_CONTEXT][MODEL_WHY_EXEC], 1);
	assert_int_equal(st(w)->obj[MODEL_OBJ_COW_CONTEXT].live, 2);
	assert_int_equal(st(w)->obj[MODEL_OBJ_COW_CONTEXT].frees, 1);
	assert_int_equal(st(w)->obj[MODEL_OBJ_ANON_VMA].allocs, 0);
	assert_int_equal(st(w)->obj[MODEL_OBJ_AVC].allocs, 0);
	/* two contexts, mm1's one VMA (exec's mm3 got no snapshot rows) */
	assert_int_equal(st(w)->bytes_live, 2 * 96 + st(w)->obj_size[MODEL_OBJ_VMA]);
	world_destroy(w);
}

/*
 * §1.1 "Zombie contexts": a context outlives its mm while a child or a folio
 * references it.
 *   mm1 [A: F(c1)]  --fork-->  mm2 [A: F(c1) shared]      exit mm1
 *   c1 (mm gone: zombie, held by child c2 and by F)  ->  c2
 * exit mm2: F freed (-1 on c1), c2 freed (-1 on c1): the cascade frees c1.
 */
static void test_zombie_and_cascade(void **state)
{
	struct world *w = cw(NULL);

	(void)state;
	tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
	tw(w, ev_write(1, A));
	tw(w, ev_fork(1, 2));
	tw(w, ev_exit(1));
	assert_int_equal(st(w)->ctx_zombies, 1);
	assert_int_equal(st(w)->obj[MODEL_OBJ_COW_CONTEXT].live, 2);
	tw(w, ev_exit(2));
	assert_int_equal(st(w)->ctx_zombies, 0);
	assert_int_equal(st(w)->ctx_zombies_peak, 1);
	assert_int_equal(st(w)->obj[MODEL_OBJ_COW_CONTEXT].live, 0);
	world_destroy(w);
}

/*
 * The double-fork daemon (§1.1): mm1 -> mm2 -> mm3, the middle mm2 exits:
 * c2 lives on as a zombie (c3 holds it) for as long as mm3 lives.  With no
 * folio references (policy lifetime mm_children) the same holds: children
 * alone keep it.
 */
static void test_double_fork_middle_zombie(void **state)
{
	for (int pol = 0; pol < 2; pol++) {
		struct world *w = cw(pol ? no_folio_refs : NULL);

		(void)state;
		tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
		tw(w, ev_fork(1, 2));
		tw(w, ev_fork(2, 3));
		tw(w, ev_exit(2));
		assert_int_equal(st(w)->ctx_zombies, 1);
		assert_int_equal(st(w)->obj[MODEL_OBJ_COW_CONTEXT].live, 3);
		tw(w, ev_exit(3)); /* c3 freed, then the zombie c2 */
		assert_int_equal(st(w)->ctx_zombies, 0);
		assert_int_equal(st(w)->obj[MODEL_OBJ_COW_CONTEXT].live, 1);
		world_destroy(w);
	}
}

/*
 * Folio references (P5, P11): per_folio counts one atomic on the context's
 * refcnt per folio named and one per folio gone; under lifetime
 * mm_children they are still counted but hold nothing (the checker's
 * refcnt = mm + children then).
 *   [A: F1(c1) F2(c1) . .]  munmap A..A+1: F1 gone
 */
static void test_lifetime_policy_counts(void **state)
{
	struct world *w = cw(no_folio_refs);

	(void)state;
	tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
	tw(w, ev_write(1, A));
	tw(w, ev_write(1, A + PG));
	/* folio_refs per_folio still counts the atomics; lifetime ignores them */
	assert_int_equal(st(w)->ctx_ref_atomics, 2);
	tw(w, ev_munmap(1, A, PG));
	assert_int_equal(st(w)->ctx_ref_atomics, 3);
	world_destroy(w);
}

/*
 * §2 "COW fault, copy": the new folio names the faulting mm's context.
 *   mm1 [A: F(c1)] --fork--> mm2 [A: F(c1)];  mm2 writes A: mm2 [A: F2(c2)]
 */
static void test_cow_copy_names_faulting_context(void **state)
{
	struct world *w = cw(NULL);
	uint64_t c1, c2;

	(void)state;
	tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
	tw(w, ev_write(1, A));
	c1 = tw_page(w, 1, A).owner;
	tw(w, ev_fork(1, 2));
	assert_int_equal(tw_page(w, 2, A).owner, c1); /* fork: folios keep their context */
	tw(w, ev_write(2, A));
	c2 = tw_page(w, 2, A).owner;
	assert_true(c2 != 0 && c2 != c1);
	assert_int_equal(tw_page(w, 1, A).owner, c1);
	world_destroy(w);
}

/*
 * §2 "write fault that reuses an exclusive folio" (policy reuse_move, P6):
 *   mm1 [A: F(c1)] --fork--> mm2;  mm1 writes A (CoW: mm1 gets F1(c1));
 *   F is now exclusive to mm2 and still names c1.
 *   mm2 writes A: move -> F names c2 (1 move); never -> F keeps c1.
 */
static void test_reuse_move_policy(void **state)
{
	for (int pol = 0; pol < 2; pol++) {
		struct world *w = cw(pol ? never_move : NULL);
		uint64_t c1;

		(void)state;
		tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
		tw(w, ev_write(1, A));
		c1 = tw_page(w, 1, A).owner;
		tw(w, ev_fork(1, 2));
		tw(w, ev_write(1, A));
		assert_int_equal(tw_page(w, 2, A).owner, c1);
		tw(w, ev_write(2, A));
		if (pol == 0) {
			assert_int_equal(st(w)->ctx_moves, 1);
			assert_true(tw_page(w, 2, A).owner != c1);
		} else {
			assert_int_equal(st(w)->ctx_moves, 0);
			assert_int_equal(tw_page(w, 2, A).owner, c1);
		}
		world_destroy(w);
	}
}

/*
 * §3.1 walk and its known hole, the exclusive short-cut (P1, §3.4):
 *   c1 -> c2;  mm1 [A: F1(c1)],  mm2 [A: F(c1)] (mm1 CoW'd away, mm2 not yet)
 * Walk F from mm2: C0 = c1, identity pass in mm1 finds the VMA at A (it maps
 * F1, not F: stale), F is not shared -> abort: mm2's mapping is missed.
 * shortcut never: c2 is visited too and its VMA maps F.
 */
static void test_shortcut_misses_child_mapping(void **state)
{
	for (int pol = 0; pol < 2; pol++) {
		struct world *w = cw(pol ? no_shortcut : NULL);
		struct model_walk wk;

		(void)state;
		tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
		tw(w, ev_write(1, A));
		tw(w, ev_fork(1, 2));
		tw(w, ev_write(1, A));
		wk = walk_at(w, 2, A);
		if (pol == 0) {
			assert_int_equal(wk.visited, 1);
			assert_int_equal(wk.stale, 1);
			assert_int_equal(st(w)->walk_misses, 1);
			assert_int_equal(st(w)->walk_shortcuts, 1);
			assert_int_equal(st(w)->walk_contexts, 1);
		} else {
			assert_int_equal(wk.visited, 2);
			assert_int_equal(wk.stale, 1);
			assert_int_equal(st(w)->walk_misses, 0);
			assert_int_equal(st(w)->walk_contexts, 2);
		}
		world_destroy(w);
	}
}

/*
 * §3.1 a shared folio: C0 then its subtree; every mm that maps it is found.
 *   c1 -> {c3, c2} (newest first);  F(c1) mapped in mm1, mm2, mm3
 */
static void test_walk_shared_folio_subtree(void **state)
{
	struct world *w = cw(NULL);
	struct model_walk wk;

	(void)state;
	tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
	tw(w, ev_write(1, A));
	tw(w, ev_fork(1, 2));
	tw(w, ev_fork(1, 3));
	wk = walk_at(w, 1, A);
	assert_int_equal(wk.visited, 3);
	assert_int_equal(wk.stale, 0);
	assert_int_equal(st(w)->walk_contexts, 3);
	assert_int_equal(st(w)->walk_rcu_max, 3);
	assert_int_equal(st(w)->mm_pin_atomics, 6); /* P4 mmget: mmget + mmput per live context */
	assert_int_equal(st(w)->walk_misses, 0);
	/* a child's walk sees only its own subtree: ancestors are never visited */
	tw(w, ev_write(2, A + PG));
	wk = walk_at(w, 2, A + PG);
	assert_int_equal(wk.visited, 1);
	world_destroy(w);
}

/*
 * §1.2 and §2 "mremap move": a faulted anonymous VMA moved keeps its pgoff,
 * so its offset is no longer the identity: one remap entry (a simple one:
 * no array), one maple node; munmap removes the entry.
 *   [A: F] --mremap--> [B: F, pgoff A/PG, offset (B-A)/PG]
 * The walk of the (exclusive) moved folio: under the PoC's short-cut (P1
 * c0_identity) C0's identity pass finds nothing at A and the walk ends - a
 * miss (§3.4 "exclusive folios in remapped VMAs"); c0_all_offsets looks up
 * the remap offset first and finds it.
 */
static void test_mremap_adds_remap_entry(void **state)
{
	for (int pol = 0; pol < 2; pol++) {
		struct world *w = cw(pol ? all_offsets : NULL);
		struct model_walk wk;

		(void)state;
		tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
		tw(w, ev_write(1, A));
		assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP].live, 0);
		tw(w, ev_mremap(1, A, 4 * PG, 4 * PG, 3, (int64_t)B, B));
		assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP].live, 1);
		assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP_ARRAY].live, 0);
		wk = walk_at(w, 1, B);
		assert_int_equal(wk.visited, pol ? 1 : 0);
		assert_int_equal(wk.stale, 0);
		assert_int_equal(st(w)->walk_misses, pol ? 0 : 1);
		tw(w, ev_munmap(1, B, 4 * PG));
		assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP].live, 0);
		assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP].frees, 1);
		world_destroy(w);
	}
}

/*
 * §2 "mremap grow in place" (P9): the PoC does not extend the entry, so a
 * folio faulted into the extension is unreachable (a miss); adjust covers it.
 * (Both with the short-cut after all of C0's offsets, so that only P9 differs.)
 *   [A: F] --move--> [B..B+2: entry over pgoff A/PG..+1] --grow--> [B..B+4]
 *   write B+3: F' index A/PG+3, no entry covers it.
 */
static void test_mremap_grow_in_place_hole(void **state)
{
	for (int pol = 0; pol < 2; pol++) {
		struct world *w = cw(pol ? adjust : all_offsets);

		(void)state;
		tw(w, ev_mmap(1, A, 2 * PG, RW, ANON));
		tw(w, ev_write(1, A));
		tw(w, ev_mremap(1, A, 2 * PG, 2 * PG, 3, (int64_t)B, B));
		tw(w, ev_mremap(1, B, 2 * PG, 4 * PG, 0, (int64_t)B, 0));
		tw_assert_vma(w, 1, B, B, B + 4 * PG);
		tw(w, ev_write(1, B + 3 * PG));
		(void)walk_at(w, 1, B + 3 * PG);
		assert_int_equal(st(w)->walk_misses, pol ? 0 : 1);
		world_destroy(w);
	}
}

/*
 * §1.2 "Which VMAs are tracked": a MAP_PRIVATE file VMA's CoW folio has the
 * file offset as index, so the VMA is tracked at its first fault.  At fork
 * (P8 poc) the child's entry is added to the child's tree and the parent's
 * re-added to its own - the PoC's quirk promotes the simple entry to a
 * one-element array; copy_only adds only the child's.  P7 rfc: no counted
 * entry at all, and the walk (short-cut after all offsets) finds the folio.
 */
static void test_file_private_tracking(void **state)
{
	struct world *w;
	struct model_walk wk;

	(void)state;
	w = cw(NULL);
	tw(w, ev_mmap_file(1, A, 4 * PG, RW, MAP_PRIVATE, 7, 0));
	tw(w, ev_write(1, A));
	assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP].live, 1);
	/* exclusive and found only through the remap pass: the PoC's short-cut misses it */
	wk = walk_at(w, 1, A);
	assert_int_equal(wk.visited, 0);
	assert_int_equal(st(w)->walk_misses, 1);
	tw(w, ev_fork(1, 2));
	assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP].live, 2);
	assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP_ARRAY].live, 1);
	world_destroy(w);

	w = cw(copy_only);
	tw(w, ev_mmap_file(1, A, 4 * PG, RW, MAP_PRIVATE, 7, 0));
	tw(w, ev_write(1, A));
	tw(w, ev_fork(1, 2));
	assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP].live, 2);
	assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP_ARRAY].live, 0);
	world_destroy(w);

	w = cw(rfc);
	tw(w, ev_mmap_file(1, A, 4 * PG, RW, MAP_PRIVATE, 7, 0));
	tw(w, ev_write(1, A));
	assert_int_equal(st(w)->obj[MODEL_OBJ_REMAP].live, 0);
	assert_int_equal(st(w)->remap_stores, 0);
	wk = walk_at(w, 1, A);
	assert_int_equal(wk.visited, 1);
	assert_int_equal(st(w)->walk_misses, 0);
	world_destroy(w);
}

/*
 * §2 "exec stack relocation" (P9): execve moved the stack after setting it
 * up, so its offset is not the identity and the PoC made no entry: a folio
 * in it is missed.  adjust: found.
 *   exec snapshot: [stack: GROWSDOWN, pgoff = (start - 16 pages)/PG]
 */
static void test_exec_stack_relocation_hole(void **state)
{
	for (int pol = 0; pol < 2; pol++) {
		struct world *w = cw(pol ? adjust : all_offsets);
		struct avm_err err = { { 0 } };
		struct avm_event ex = ev_exec(1, 2, 1);
		struct avm_snap_vma row = ev_snap_row(2, STACK_LO, STACK_HI,
						      EV_DATA_FLAGS | VM_GROWSDOWN, 0, 101);

		(void)state;
		row.pgoff = STACK_LO / PG - 16;
		tw(w, ev_mmap(1, A, PG, RW, ANON));
		if (world_exec(w, &ex, &row, 1, &err))
			fail_msg("world_exec: %s", err.msg);
		tw(w, ev_write(2, STACK_HI - PG));
		(void)walk_at(w, 2, STACK_HI - PG);
		assert_int_equal(st(w)->walk_misses, pol ? 0 : 1);
		world_destroy(w);
	}
}

/*
 * §2 "merge" (P13): under the PoC every faulted VMA looks like a fork
 * child, so a new anonymous range next to a faulted VMA does not merge
 * (one more VMA than mainline); mainline rules merge it.
 *   [A: faulted][A+2: new]  ->  poc: 2 VMAs;  mainline: 1 VMA
 */
static void test_merge_policy(void **state)
{
	for (int pol = 0; pol < 2; pol++) {
		struct world *w = cw(pol ? merge_mainline : NULL);

		(void)state;
		tw(w, ev_mmap(1, A, 2 * PG, RW, ANON));
		tw(w, ev_write(1, A));
		tw(w, ev_mmap(1, A + 2 * PG, 2 * PG, RW, ANON));
		assert_int_equal(tw_vma_count(w, 1), pol ? 1 : 2);
		world_destroy(w);
	}
}

/*
 * §3.3 locks: a fork takes the parent's list_write_lock once (the link at
 * the end of dup_mmap); a context's free takes its parent's once (the
 * unlink).  No anon_vma rwsem is ever taken.
 *   c1 --fork--> c2;  exit mm2 -> c2 freed
 */
static void test_lock_classes(void **state)
{
	struct world *w = tw_world_x86("cowctx", NULL);

	(void)state;
	tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
	tw(w, ev_write(1, A));
	tw(w, ev_fork(1, 2));
	assert_int_equal(tw_lock_sum(w, LOCKS_CTX_LIST, LOCKS_WRITE).count, 1);
	tw(w, ev_exit(2));
	assert_int_equal(tw_lock_sum(w, LOCKS_CTX_LIST, LOCKS_WRITE).count, 2);
	assert_int_equal(tw_lock_sum(w, LOCKS_ANON_VMA, LOCKS_WRITE).count, 0);
	assert_int_equal(tw_lock_sum(w, LOCKS_ANON_VMA, LOCKS_READ).count, 0);
	world_destroy(w);
}

/*
 * verdict.lazy_vs_cowctx's rule (docs/report.md): per criterion the lower
 * figure wins, a tie within 5 % of the larger or within the floor; better
 * is the sum.  memory 100 vs 200 -> lazy; waits 1000 vs 1040 -> tie (4 %);
 * fork 5000 vs 3000 with floor 1000 -> cowctx (2000 > 1000 and > 5 %).
 */
static void test_vs_rule(void **state)
{
	struct verdict_vs_input in;

	(void)state;
	memset(&in, 0, sizeof(in));
	assert_int_equal(verdict_vs_crit(100, 200, 0), 1);
	assert_int_equal(verdict_vs_crit(1000, 1040, 0), 0);
	assert_int_equal(verdict_vs_crit(5000, 3000, 1000), -1);
	assert_int_equal(verdict_vs_crit(5000, 4200, 1000), 0); /* within the floor */
	in.lazy_mem = 100;
	in.cowctx_mem = 200;
	in.lazy.has_locks = in.cowctx.has_locks = true;
	in.lazy.wait_ns = 1000;
	in.cowctx.wait_ns = 1040;
	in.lazy.has_fork = in.cowctx.has_fork = true;
	in.lazy.forks = in.cowctx.forks = 10;
	in.lazy.fork_mean_ns = 5000;
	in.cowctx.fork_mean_ns = 3000;
	in.fork_floor_ns = 1000;
	assert_int_equal(verdict_vs_judge(&in), 0);
	assert_string_equal(verdict_vs_name(verdict_vs_judge(&in)), "tie");
	in.cowctx_mem = 90; /* now cowctx is lower on memory too */
	assert_string_equal(verdict_vs_name(verdict_vs_judge(&in)), "cowctx");
}

/*
 * Three designs in one report: models.cowctx carries its own kinds and
 * figures, savings_by_model has each design against eager, and
 * verdict.lazy_vs_cowctx compares lazy and cowctx like for like.  Counts
 * (hand-set): eager 10 anon_vma + 20 AVC at the peak; lazy 1 + 2 and one
 * pinned VMA; cowctx 3 contexts (96 B) and 1 remap node (256 B), and the
 * folio field at 8 B per 4 KiB page of a 4 MiB host = 8 KiB.
 *   eager anon rmap 10 x 104 + 20 x 64 = 2320 B
 *   lazy            104 + 128 = 232 B (+ 192 B pinned VMA in the comparison)
 *   cowctx          288 + 256 + 8192 = 8736 B
 */
static void test_report_three_designs(void **state)
{
	static const struct report_meta meta[] = { { "mem_bytes", "4194304" } };
	struct model_stats e, l, c;
	struct report_model models[3] = {
		{ .name = "eager", .stats = &e },
		{ .name = "lazy", .stats = &l, .lazy_figures = true },
		{ .name = "cowctx", .stats = &c, .cowctx_figures = true },
	};
	struct report_input in = { .trace_path = "t.db", .meta = meta, .nmeta = 1, .events = 1,
				   .complete = true, .models = models, .nmodels = 3 };
	struct avm_err err = { "" };
	const cJSON *vs;
	cJSON *r = NULL;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.obj_size[MODEL_OBJ_ANON_VMA] = l.obj_size[MODEL_OBJ_ANON_VMA] = 104;
	e.obj_size[MODEL_OBJ_AVC] = 64;
	e.obj_size[MODEL_OBJ_VMA] = 192;
	l = e;
	c = e;
	e.obj[MODEL_OBJ_ANON_VMA].live_peak = 10;
	e.obj[MODEL_OBJ_AVC].live_peak = 20;
	l.obj[MODEL_OBJ_ANON_VMA].live_peak = 1;
	l.obj[MODEL_OBJ_AVC].live_peak = 2;
	l.pinned_vmas_peak = 1;
	c.obj_size[MODEL_OBJ_COW_CONTEXT] = 96;
	c.obj_size[MODEL_OBJ_REMAP] = 256;
	c.obj_size[MODEL_OBJ_REMAP_ARRAY] = 32;
	c.obj[MODEL_OBJ_COW_CONTEXT].live_peak = 3;
	c.obj[MODEL_OBJ_REMAP].live_peak = 1;
	c.folio_field_bytes = 8;
	if (report_build(&in, &r, &err) || report_finish(r, NULL, &err))
		fail_msg("%s", err.msg);
	assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "models"),
						 "cowctx"), "cow_context")));
	assert_null(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "models"),
						 "eager"), "cow_context"));
	{
		const cJSON *ar = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(r, "savings_by_model"), "cowctx"),
			"anon_rmap");

		assert_int_equal(cJSON_GetObjectItemCaseSensitive(ar, "eager_bytes_peak")->valuedouble,
				 2320);
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(ar, "lazy_bytes_peak")->valuedouble,
				 8736);
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(ar, "folio_field_bytes")->valuedouble,
				 8192);
	}
	vs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "verdict"),
					      "lazy_vs_cowctx");
	assert_non_null(vs);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(vs, "better")->valuestring, "lazy");
	vs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(vs, "by"), "memory");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(vs, "lazy")->valuedouble, 232 + 192);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(vs, "cowctx")->valuedouble, 8736);
	cJSON_Delete(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_context_per_mm),
		cmocka_unit_test(test_zombie_and_cascade),
		cmocka_unit_test(test_double_fork_middle_zombie),
		cmocka_unit_test(test_lifetime_policy_counts),
		cmocka_unit_test(test_cow_copy_names_faulting_context),
		cmocka_unit_test(test_reuse_move_policy),
		cmocka_unit_test(test_shortcut_misses_child_mapping),
		cmocka_unit_test(test_walk_shared_folio_subtree),
		cmocka_unit_test(test_mremap_adds_remap_entry),
		cmocka_unit_test(test_mremap_grow_in_place_hole),
		cmocka_unit_test(test_file_private_tracking),
		cmocka_unit_test(test_exec_stack_relocation_hole),
		cmocka_unit_test(test_merge_policy),
		cmocka_unit_test(test_lock_classes),
		cmocka_unit_test(test_vs_rule),
		cmocka_unit_test(test_report_three_designs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
