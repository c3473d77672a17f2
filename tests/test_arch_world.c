/*
 * test_arch_world.c - page tables and lock sections through a whole world
 * (simulator + eager model + arch x86_64-4level), on a hand-computed trace.
 *
 * Costs are those of configs/arch/x86_64-4level.yaml: rmap lock 20,
 * anon_vma alloc 60, AVC alloc 40, AVC free 30, interval-tree insert 50 and
 * remove 50 ns; fork 49 ns per PTE and 500 ns per table; INVLPG 100 ns, first
 * IPI 2000 ns.  The expected figures are derived from eager.md §2 and §5 in
 * the comments next to each step.
 */
#include "evbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "locks.h"

#define A 0x10000000ULL /* 256 MiB: PGD[0] PUD[0] PMD[128] */

static struct avm_event at(struct avm_event ev, uint64_t t, uint32_t cpu)
{
	ev.t = t;
	ev.cpu = cpu;
	return ev;
}

static struct world *arch_world_model(const struct arch *a, const char *model)
{
	struct config cfg;

	tw_config(&cfg, 3);
	return tw_world_arch(model, &cfg, a);
}

static struct world *arch_world(const struct arch *a)
{
	return arch_world_model(a, "eager");
}

static uint64_t tables(const struct arch *a, const struct arch_pt *pt)
{
	const struct arch_pt_mm *m = arch_pt_mm_stats(pt);
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < a->levels; i++)
		n += m->tables[i];
	return n;
}

/*
 *   mm1 t=1000 cpu0:  mmap  [ A, A+4p ) anon rw
 *   mm1 t=1000 cpu0:  write A       -> prepare (new AV + AVC)
 *   mm1 t=1100 cpu0:  write A+p     -> nothing new in the rmap
 *   mm1 t=2000 cpu1:  fork -> mm2   -> clone 1 AVC, child AV + AVC
 *   mm1 t=3000 cpu0:  munmap [A, A+4p)
 *   mm2 t=3010 cpu1:  exit
 *
 *   page tables          mm1                      mm2
 *   after the writes     pgd pud pmd pte (4), 2 PTEs
 *   after the fork       4                        4, 2 PTEs copied
 *   after munmap         pgd (1)                  4
 *   after exit           pgd (1)                  -
 */
static void test_fork_trace(void **state)
{
	struct arch a;
	struct avm_err err = { { 0 } };
	struct world *w;
	const struct arch_pt_stats *ps;
	struct locks_summary wr, rd;
	uint64_t rmap_lock, insert, remove, avc_free;

	(void)state;
	if (arch_load("x86_64-4level", NULL, &a, &err))
		fail_msg("%s", err.msg);
	rmap_lock = a.rmap.ns[LOCKS_OP_LOCK];
	insert = a.rmap.ns[LOCKS_OP_TREE_INSERT];
	remove = a.rmap.ns[LOCKS_OP_TREE_REMOVE];
	avc_free = a.rmap.ns[LOCKS_OP_AVC_FREE];
	w = arch_world(&a);
	ps = world_pt_stats(w);
	assert_non_null(ps);

	tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 1000, 0));
	tw(w, at(ev_write(1, A), 1000, 0));
	tw(w, at(ev_write(1, A + PG), 1100, 0));
	assert_int_equal(tables(&a, mm_space_pt(tw_mm(w, 1))), 4);
	assert_int_equal(ps->ptes, 2);

	tw(w, at(ev_fork(1, 2), 2000, 1));
	assert_int_equal(tables(&a, mm_space_pt(tw_mm(w, 2))), 4);
	assert_int_equal(arch_pt_mm_stats(mm_space_pt(tw_mm(w, 2)))->ptes, 2);
	/* copy_page_range: 2 PTEs, child allocates pud + pmd + pte */
	assert_int_equal(ps->fork_ptes, 2);
	assert_int_equal(ps->fork_tables, 3);
	assert_int_equal(ps->fork_ns, 2 * a.cost.fork_pte_ns + 3 * a.cost.fork_table_ns);
	assert_int_equal(ps->bytes, 8 * 4096);

	/* munmap with no neighbours: free_pgtables frees all but the pgd; 4 pages
	 * flushed page by page (<= 33) plus an IPI to cpu1, where mm1 also ran */
	tw(w, at(ev_munmap(1, A, 4 * PG), 3000, 0));
	assert_int_equal(tables(&a, mm_space_pt(tw_mm(w, 1))), 1);
	assert_int_equal(ps->flushes, 1);
	assert_int_equal(ps->ipis, 1);
	assert_int_equal(ps->flush_ns, 4 * a.cost.tlb_single_ns + a.cost.ipi_ns);

	tw(w, at(ev_exit(2), 3010, 1));
	assert_int_equal(ps->bytes, 4096);
	assert_int_equal(ps->bytes_peak, 8 * 4096);
	assert_int_equal(ps->tables_peak[3], 2);

	/*
	 * anon_vma root rwsem, write (one root: the parent's AV):
	 *   prepare   lock + insert                                  =  70
	 *   fork      clone of 1 AVC: lock + insert (no alloc under  =  70
	 *             the lock for the first AVC), then the link of
	 *             the child's AVC: lock + insert                 =  70
	 *   unlink    mm1's chain [AV1]: remove 1; AV1's tree keeps
	 *             mm2's clone AVC, so the AVC is freed at once:
	 *             lock + remove + free                           = 100  [3000, 3100) cpu0
	 *   unlink    mm2's chain [AV1, AV2]: both trees empty, both
	 *             AVCs kept for pass 2: lock + 2 removes          = 120  waits 3100-3010 = 90
	 */
	locks_summary(world_locks(w), LOCKS_ANON_VMA, LOCKS_WRITE, &wr);
	assert_int_equal(wr.count, 5);
	assert_int_equal(wr.count_by_why[LOCKS_WHY_PREPARE], 1);
	assert_int_equal(wr.count_by_why[LOCKS_WHY_FORK], 2);
	assert_int_equal(wr.count_by_why[LOCKS_WHY_UNLINK], 2);
	assert_int_equal(wr.total_ns_by_why[LOCKS_WHY_PREPARE], rmap_lock + insert);
	assert_int_equal(wr.total_ns_by_why[LOCKS_WHY_FORK], 2 * (rmap_lock + insert));
	assert_int_equal(wr.total_ns_by_why[LOCKS_WHY_UNLINK],
			 (rmap_lock + remove + avc_free) + (rmap_lock + 2 * remove));
	assert_int_equal(wr.total_ns, 70 + 140 + 100 + 120);
	assert_int_equal(wr.max_ns, 120);
	assert_int_equal(wr.waited, 1);
	assert_int_equal(wr.wait_total_ns, 90);

	/* mmap_lock read (the fault's trylock): allocations + the locked link */
	locks_summary(world_locks(w), LOCKS_MMAP, LOCKS_READ, &rd);
	assert_int_equal(rd.count, 1);
	assert_int_equal(rd.total_ns, 2 * rmap_lock + a.rmap.ns[LOCKS_OP_AVC_ALLOC] +
					      a.rmap.ns[LOCKS_OP_AV_ALLOC] + insert);
	assert_int_equal(rd.trylock_failed, 0);
	world_destroy(w);
}

/*
 * A world without an arch keeps working and reports no arch sections; a
 * trace whose page size differs from the arch's is refused by name.
 */
static void test_without_and_mismatch(void **state)
{
	struct arch a;
	struct avm_err err = { { 0 } };
	struct world_meta meta;
	struct world *w = tw_world("eager", 3);
	struct config cfg;

	(void)state;
	tw(w, ev_mmap(1, A, 4 * PG, RW, ANON));
	tw(w, ev_write(1, A));
	assert_null(world_pt_stats(w));
	assert_null(world_locks(w));
	assert_null(mm_space_pt(tw_mm(w, 1)));
	world_destroy(w);

	assert_int_equal(arch_load("arm64-16k-47bit", NULL, &a, &err), 0);
	config_defaults(&cfg);
	world_meta_defaults(&meta); /* 4 KiB pages */
	meta.arch = &a;
	w = NULL;
	assert_int_equal(world_create(&cfg, model_find("eager"), &meta, &w, &err), -1);
	assert_non_null(strstr(err.msg, "arm64-16k-47bit has 16384-byte pages"));
	assert_null(w);
}

static struct avm_event ev_lock(uint64_t mm, enum avm_lock_phase phase, uint64_t t)
{
	struct avm_event ev = ev_base(mm, AVM_MMAP_LOCK);

	ev.a = 1; /* write */
	ev.b = phase;
	ev.c = 1;
	ev.t = t;
	return ev;
}

/*
 * --calibrate pairs each measured mmap_lock write hold with the work the
 * model did for the task's next VMA-changing syscall:
 *
 *   hold [100, 400)    then mmap          -> sample: 1 VMA, y = 300
 *   hold [500, 600)    then a fault       -> dropped (a fault explains nothing)
 *   hold [1000, 5000)  then fork (1 VMA with 2 PTEs faulted)
 *                      -> 2 lock sections (clone, link), 1 anon_vma, 2 AVC
 *                         links, 2 PTEs, 3 tables, 1 VMA, y = 4000
 *
 * and the fitted file loads back as an arch named after the file.
 */
static void test_calibrate(void **state)
{
	struct arch a, b;
	struct avm_err err = { { 0 } };
	struct world *w;
	const struct locks_calib *c;
	char path[] = "/tmp/test_arch_calXXXXXX", yaml[64], line[256];
	FILE *f;
	bool fitted_pte = false;

	(void)state;
	if (arch_load("x86_64-4level", NULL, &a, &err))
		fail_msg("%s", err.msg);
	w = arch_world(&a);
	assert_int_equal(world_set_calibrate(w, true, &err), 0);
	tw(w, ev_lock(1, AVM_LOCK_ACQUIRED, 100));
	tw(w, ev_lock(1, AVM_LOCK_RELEASED, 400));
	tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 410, 0));
	tw(w, ev_lock(1, AVM_LOCK_ACQUIRED, 500));
	tw(w, ev_lock(1, AVM_LOCK_RELEASED, 600));
	tw(w, at(ev_write(1, A), 700, 0));
	tw(w, at(ev_write(1, A + PG), 800, 0));
	tw(w, ev_lock(1, AVM_LOCK_ACQUIRED, 1000));
	tw(w, ev_lock(1, AVM_LOCK_RELEASED, 5000));
	tw(w, at(ev_fork(1, 2), 5010, 0));
	c = world_calib(w);
	assert_non_null(c);
	assert_int_equal(c->samples, 2);
	assert_true(c->xty[LOCKS_CF_BASE] == 300 + 4000);
	assert_true(c->xty[LOCKS_CF_VMA_COPY] == 300 + 4000);
	assert_int_equal(c->seen[LOCKS_CF_PTE_COPY], 1);
	assert_true(c->xty[LOCKS_CF_PTE_COPY] == 2 * 4000);
	assert_true(c->xtx[LOCKS_CF_PT_TABLE][LOCKS_CF_PT_TABLE] == 9);
	assert_true(c->xtx[LOCKS_CF_LOCK][LOCKS_CF_AVC_LINK] == 2 * 2);
	assert_true(c->xtx[LOCKS_CF_AV_ALLOC][LOCKS_CF_AV_ALLOC] == 1);

	/* write the fit (every feature seen once counts with min_samples 1) and load it */
	assert_true(mkdtemp(path) != NULL);
	snprintf(yaml, sizeof(yaml), "%s/mybox.yaml", path);
	assert_int_equal(arch_write_calibrated(&a, c, 1, "test trace", yaml, &err), 0);
	if (arch_load(yaml, NULL, &b, &err))
		fail_msg("reloading %s: %s", yaml, err.msg);
	assert_string_equal(b.name, "mybox");
	assert_int_equal(b.levels, 4);
	assert_int_equal(b.cost.tlb_single_ns, a.cost.tlb_single_ns);
	f = fopen(yaml, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		fitted_pte |= strstr(line, "pte_copy_ns") && strstr(line, "[fit] 1 holds");
	fclose(f);
	assert_true(fitted_pte);
	/* a directory that does not exist: named, nothing left behind */
	assert_int_equal(arch_write_calibrated(&a, c, 1, NULL, "/nonexistent/x.yaml", &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/x.yaml.tmp"));
	unlink(yaml);
	rmdir(path);
	world_destroy(w);
}

/*
 * The same first steps under lazy (lazy.md §9.2): the first faults take no
 * lock at all (no anon_vma, no mmap_lock); the fork upgrades the parent's
 * lazy root in one anon_vma section (lock + the link's insert), and the two
 * folios it maps are re-pointed under the PTE table's lock the copy holds
 * (§9.3: that lock is a PARAM, lazy.rewrite_lock, default ptl): one
 * page_table_lock section of 2 folio rewrites.  Page tables are the model's
 * business no more than eager's: the same 8 tables at the peak.
 */
static void test_lazy_upgrade(void **state)
{
	struct arch a;
	struct avm_err err = { { 0 } };
	struct world *w;
	struct locks_summary wr, rd;

	(void)state;
	if (arch_load("x86_64-4level", NULL, &a, &err))
		fail_msg("%s", err.msg);
	w = arch_world_model(&a, "lazy");
	tw(w, at(ev_mmap(1, A, 4 * PG, RW, ANON), 1000, 0));
	tw(w, at(ev_write(1, A), 1000, 0));
	tw(w, at(ev_write(1, A + PG), 1100, 0));
	locks_summary(world_locks(w), LOCKS_ANON_VMA, LOCKS_WRITE, &wr);
	locks_summary(world_locks(w), LOCKS_MMAP, LOCKS_READ, &rd);
	assert_int_equal(wr.count, 0);
	assert_int_equal(rd.count, 0);

	tw(w, at(ev_fork(1, 2), 2000, 1));
	locks_summary(world_locks(w), LOCKS_ANON_VMA, LOCKS_WRITE, &wr);
	assert_int_equal(wr.count_by_why[LOCKS_WHY_UPGRADE], 1);
	assert_int_equal(wr.total_ns_by_why[LOCKS_WHY_UPGRADE],
			 a.rmap.ns[LOCKS_OP_LOCK] + a.rmap.ns[LOCKS_OP_TREE_INSERT]);
	locks_summary(world_locks(w), LOCKS_PTL, LOCKS_WRITE, &rd);
	assert_int_equal(rd.count_by_why[LOCKS_WHY_UPGRADE], 1);
	assert_int_equal(rd.total_ns_by_why[LOCKS_WHY_UPGRADE],
			 2 * a.rmap.ns[LOCKS_OP_FOLIO_REWRITE]);
	assert_int_equal(wr.count_by_why[LOCKS_WHY_PREPARE], 0);
	assert_int_equal(world_pt_stats(w)->bytes_peak, 8 * 4096);
	world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_trace),
		cmocka_unit_test(test_without_and_mismatch),
		cmocka_unit_test(test_calibrate),
		cmocka_unit_test(test_lazy_upgrade),
	};

	return cmocka_run_group_tests_name("arch_world", tests, NULL, NULL);
}
