/*
 * test_world.c - the world around the simulator and model: exec and start
 * snapshot adoption (eager.md §2.7 "execve", §7.5 "pre-existing processes"),
 * dispatch of event kinds a world ignores, opaque mms, events a replay skips
 * (an mm the trace never made, a range no address space holds), mm release,
 * and the invariant checker catching a broken state.
 */
#include "layout.h"

#include <string.h>

#define OLD 1
#define NEW 2
#define A 0x400000ULL


/*
 * §2.7 execve: each distinct anon_vma of the exec snapshot was allocated by
 * the kernel during exec (the stack, the data segment COW): counted as
 * MODEL_WHY_EXEC allocations.  The old mm loses its last user and goes.
 * The new mm: text, data (a file's COW), bss, a 33-page stack.
 */
static void test_exec_adopts_snapshot(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct avm_snap_vma rows[4];
	struct avm_event ev = ev_exec(OLD, NEW, 1);
	struct avm_err err = { { 0 } };
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(OLD, A, PG, RW, ANON));
	tw(w, ev_write(OLD, A));
	rows[0] = ev_snap_row(NEW, A, A + 4 * PG, VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYEXEC, 9, 0);
	rows[1] = ev_snap_row(NEW, A + 4 * PG, A + 6 * PG, EV_DATA_FLAGS, 9, 100);
	rows[2] = ev_snap_row(NEW, A + 6 * PG, A + 8 * PG, EV_DATA_FLAGS, 0, 0);
	rows[3] = ev_snap_row(NEW, 0x7ff000000000ULL, 0x7ff000021000ULL, EV_DATA_FLAGS | VM_GROWSDOWN, 0, 101);
	m = tw_mark(w);
	if (world_exec(w, &ev, rows, 4, &err))
		fail_msg("world_exec: %s", err.msg);
	tw_assert_delta(w, &m, 2, 1, 2, 1);
	assert_int_equal(world_stats(w)->allocs_by_why[MODEL_OBJ_ANON_VMA][MODEL_WHY_EXEC], 2);
	assert_int_equal(world_stats(w)->allocs_by_why[MODEL_OBJ_VMA][MODEL_WHY_EXEC], 4);
	assert_null(tw_mm(w, OLD));
	assert_int_equal(tw_vma_count(w, NEW), 4);
	tw_assert_layout(w, NEW, A, "[rx file . . .][rw*D file .][rw .]");
	tw_assert_layout(w, NEW, 0x7ff000000000ULL, "[rw*S growsdown . . . . . . . . . . . . . . . ."
						      " . . . . . . . . . . . . . . . .]");
	/* the bss (anonymous) cannot reuse the data segment's AV: different file (§2.3 rule 3) */
	m = tw_mark(w);
	tw(w, ev_write(NEW, A + 6 * PG));
	tw_assert_delta(w, &m, 1, 0, 1, 0);
	world_destroy(w);
}

/*
 * A snapshot whose rows overlap is refused whole, before any row is adopted
 * (no half-built mm whose anon state the model never finished counting),
 * in both models; and a world destroyed with a start snapshot's adoption
 * still open tears it down cleanly.
 */
static void test_broken_snapshot_adopts_nothing(void **state)
{
	const char *models[2] = { "eager", "lazy" };

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct world *w = tw_world(models[k], 3);
		struct avm_snap_vma rows[2];
		struct avm_event ev = ev_exec(OLD, NEW, 1);
		struct avm_err err = { { 0 } };

		tw(w, ev_mmap(OLD, A, PG, RW, ANON));
		rows[0] = ev_snap_row(NEW, A, A + 2 * PG, EV_DATA_FLAGS, 0, 100);
		rows[1] = ev_snap_row(NEW, A + PG, A + 3 * PG, EV_DATA_FLAGS, 0, 101);
		assert_int_equal(world_exec(w, &ev, rows, 2, &err), -1);
		assert_non_null(strstr(err.msg, "overlaps or is out of order"));
		assert_int_equal(tw_vma_count(w, NEW), 0);
		assert_int_equal(tw_live(w, MODEL_OBJ_ANON_VMA), 0);
		world_destroy(w);

		w = tw_world(models[k], 3);
		if (world_adopt_start(w, 10, rows, 1, NULL, 0, &err))
			fail_msg("adopt: %s", err.msg);
		world_destroy(w); /* the adoption was never closed by an event */
	}
}

/* An exec without a snapshot builds an empty mm; a vfork child's exec keeps the parent's mm. */
static void test_exec_vfork_child(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct tw_mark m;

	(void)state;
	tw(w, ev_mmap(OLD, A, PG, RW, ANON));
	tw(w, ev_write(OLD, A));
	tw(w, ev_clone_vm(OLD));
	m = tw_mark(w);
	tw(w, ev_exec(OLD, NEW, 0));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_non_null(tw_mm(w, OLD));
	assert_non_null(tw_mm(w, NEW));
	assert_int_equal(tw_vma_count(w, NEW), 0);
	world_destroy(w);
}

/*
 * §7.5 start snapshot: chains, roots and counters come from the kernel and
 * are adopted, not allocated.  A parent P (root R) and its child C (own AV
 * K, chain [K, R]) predate the trace.  C's exit then frees K and its two
 * AVCs, R stays (P links it), exactly as if we had seen them allocated.
 */
static void test_start_snapshot_adopt(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct avm_snap_vma p = ev_snap_row(10, A, A + PG, EV_DATA_FLAGS, 0, 500);
	struct avm_snap_vma c = ev_snap_row(11, A, A + PG, EV_DATA_FLAGS, 0, 501);
	struct avm_snap_av avs[2];
	struct avm_err err = { { 0 } };
	const struct model_stats *s;
	struct tw_mark m;

	(void)state;
	memset(avs, 0, sizeof(avs));
	avs[0].id = 500; avs[0].root = 500; avs[0].parent = 500;
	avs[0].refcount = 2; avs[0].num_children = 2; avs[0].num_active_vmas = 1;
	avs[1].id = 501; avs[1].root = 500; avs[1].parent = 500;
	avs[1].refcount = 1; avs[1].num_children = 0; avs[1].num_active_vmas = 1;
	c.chain_len = 2;
	c.chain[0] = 501;
	c.chain[1] = 500;
	c.av_root = 500;
	c.av_parent = 500;
	if (world_adopt_start(w, 10, &p, 1, avs, 2, &err) ||
	    world_adopt_start(w, 11, &c, 1, avs, 2, &err))
		fail_msg("adopt: %s", err.msg);
	m = tw_mark(w);
	tw(w, ev_exit(11)); /* also closes the adoption and runs the checker */
	s = world_stats(w);
	assert_int_equal(s->obj[MODEL_OBJ_ANON_VMA].preexisting, 2);
	assert_int_equal(s->obj[MODEL_OBJ_AVC].preexisting, 3);
	assert_int_equal(s->obj[MODEL_OBJ_VMA].preexisting, 2);
	assert_int_equal(s->obj[MODEL_OBJ_ANON_VMA].allocs, 0);
	tw_assert_delta(w, &m, 0, 1, 0, 2);
	assert_int_equal(tw_live(w, MODEL_OBJ_ANON_VMA), 1);
	/* the double-fork reuse works on adopted state: P forks D; D's clone sees R with 2 children */
	m = tw_mark(w);
	tw(w, ev_fork(10, 12));
	tw_assert_delta(w, &m, 1, 0, 2, 0);
	world_destroy(w);
}

/* Kernel truth and activity events are accepted and ignored; unknown mms become opaque. */
static void test_ignored_kinds_and_opaque_mm(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct avm_event ev = ev_base(OLD, AVM_SLAB);
	struct tw_mark m = tw_mark(w);

	(void)state;
	ev.a = AVM_CACHE_ANON_VMA;
	ev.b = AVM_SLAB_ALLOC;
	tw(w, ev);
	tw(w, ev_base(OLD, AVM_MMAP_LOCK));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_null(tw_mm(w, OLD));
	tw(w, ev_write(77, A)); /* no VMA there: ignored, counted */
	assert_non_null(tw_mm(w, 77));
	assert_int_equal(world_sim_stats(w)->unknown_mm, 1);
	assert_int_equal(world_sim_stats(w)->faults_unmapped, 1);
	/* the kernel's exit_mmap record tears the opaque mm down */
	tw(w, ev_base(77, AVM_MM_RELEASE));
	assert_null(tw_mm(w, 77));
	world_destroy(w);
}

/*
 * A trace replay (world_meta.skip_unknown_mm): an event on an mm that no
 * fork, exec or snapshot made is skipped and counted, never applied to an
 * invented mm; an mm the world made and tore down while the trace still uses
 * it is re-created opaque as before.
 */
static void test_unknown_mm_skipped(void **state)
{
	struct config cfg;
	struct world_meta meta;
	struct world *w = NULL;
	struct avm_err err = { { 0 } };
	struct tw_mark m;

	(void)state;
	tw_config(&cfg, 3);
	world_meta_defaults(&meta);
	meta.skip_unknown_mm = true;
	if (world_create(&cfg, model_find("eager"), &meta, &w, &err))
		fail_msg("world_create: %s", err.msg);
	world_set_check(w, true);
	m = tw_mark(w);
	tw(w, ev_mmap(77, A, 4 * PG, RW, ANON));
	tw(w, ev_write(77, A));
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_null(tw_mm(w, 77));
	assert_int_equal(world_sim_stats(w)->skipped.n[SKIP_UNKNOWN_MM], 2);
	assert_int_equal(world_sim_stats(w)->skipped.total, 2);
	assert_int_equal(world_sim_stats(w)->unknown_mm, 0);
	/* made by a start snapshot, torn down by its kernel record, used again: opaque */
	if (world_adopt_start(w, OLD, NULL, 0, NULL, 0, &err))
		fail_msg("adopt: %s", err.msg);
	tw(w, ev_base(OLD, AVM_MM_RELEASE));
	assert_null(tw_mm(w, OLD));
	tw(w, ev_write(OLD, A));
	assert_non_null(tw_mm(w, OLD));
	assert_int_equal(world_sim_stats(w)->unknown_mm, 1);
	assert_int_equal(world_sim_stats(w)->skipped.total, 2);
	world_destroy(w);
}

/*
 * A range no address space can hold (it wraps, or ends past 2^57) is skipped
 * and counted before the simulator sees it; a failed call with such a range
 * is the simulator's (a failed syscall), and a range within bounds applies.
 */
static void test_absurd_range_skipped(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct avm_event ev = ev_mmap(OLD, A, 4 * PG, RW, ANON);
	struct tw_mark m = tw_mark(w);

	(void)state;
	ev.b = INT64_MAX; /* a 2^63-byte mapping */
	tw(w, ev);
	ev = ev_mmap(OLD, A, 4 * PG, RW, ANON);
	ev.a = (int64_t)(1ULL << 57) - (int64_t)PG; /* runs past 2^57 */
	tw(w, ev);
	ev = ev_base(OLD, AVM_MUNMAP);
	ev.a = (int64_t)A;
	ev.b = -2 * (int64_t)PG; /* wraps */
	tw(w, ev);
	tw_assert_delta(w, &m, 0, 0, 0, 0);
	assert_int_equal(world_sim_stats(w)->skipped.n[SKIP_RANGE], 3);
	ev.c = -22; /* EINVAL: a failed munmap, counted by the simulator */
	tw(w, ev);
	assert_int_equal(world_sim_stats(w)->skipped.n[SKIP_RANGE], 3);
	assert_int_equal(world_sim_stats(w)->failed_syscalls, 1);
	tw(w, ev_mmap(OLD, A, 4 * PG, RW, ANON));
	assert_int_equal(world_sim_stats(w)->skipped.total, 3);
	assert_int_equal(world_stats(w)->obj[MODEL_OBJ_VMA].allocs - m.vma_allocs, 1);
	world_destroy(w);
}

/* An unknown event kind is an error naming the event. */
static void test_unknown_kind_fails(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct avm_event ev = ev_base(OLD, 999);
	struct avm_err err = { { 0 } };

	(void)state;
	ev.seq = 42;
	assert_int_equal(world_apply(w, &ev, &err), -1);
	assert_non_null(strstr(err.msg, "42"));
	world_destroy(w);
}

/* The checker notices a VMA whose anon state was lost behind the model's back. */
static void test_checker_catches_corruption(void **state)
{
	struct world *w = tw_world("eager", 3);
	struct avm_err err = { { 0 } };
	struct mm_vma *v;
	void *saved;

	(void)state;
	tw(w, ev_mmap(OLD, A, PG, RW, ANON));
	tw(w, ev_write(OLD, A));
	assert_int_equal(world_check(w, &err), 0);
	v = tw_vma(w, OLD, A);
	saved = v->anon;
	v->anon = NULL;
	assert_int_equal(world_check(w, &err), -1);
	assert_non_null(strstr(err.msg, "eager model invariant"));
	v->anon = saved;
	assert_int_equal(world_check(w, &err), 0);
	world_destroy(w);
}

/* Object sizes come from meta unless the config sets them; bytes follow. */
static void test_sizes_and_bytes(void **state)
{
	struct config cfg;
	struct world_meta meta;
	struct world *w = NULL;
	struct avm_err err = { { 0 } };

	(void)state;
	config_defaults(&cfg);
	world_meta_defaults(&meta);
	meta.size_anon_vma = 96;
	cfg.size_avc = 80;
	if (world_create(&cfg, model_find("eager"), &meta, &w, &err))
		fail_msg("%s", err.msg);
	tw(w, ev_mmap(OLD, A, PG, RW, ANON));
	tw(w, ev_write(OLD, A));
	assert_int_equal(world_stats(w)->bytes_live, 96 + 80 + 192);
	assert_int_equal(world_stats(w)->bytes_peak, 96 + 80 + 192);
	world_destroy(w);
	assert_null(model_find("nope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_adopts_snapshot),
		cmocka_unit_test(test_exec_vfork_child),
		cmocka_unit_test(test_broken_snapshot_adopts_nothing),
		cmocka_unit_test(test_start_snapshot_adopt),
		cmocka_unit_test(test_ignored_kinds_and_opaque_mm),
		cmocka_unit_test(test_unknown_mm_skipped),
		cmocka_unit_test(test_absurd_range_skipped),
		cmocka_unit_test(test_unknown_kind_fails),
		cmocka_unit_test(test_checker_catches_corruption),
		cmocka_unit_test(test_sizes_and_bytes),
	};

	return cmocka_run_group_tests_name("world", tests, NULL, NULL);
}
