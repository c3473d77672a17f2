/*
 * test_arch.c - the arch descriptors and the page-table model.
 *
 * Expected figures are derived from the geometry (docs/kernel/reference.md §C): a table
 * is one page of page_size / 8 entries, each level indexes page_shift - 3 VA
 * bits, so on x86_64 a PTE table maps 2 MiB, a PMD table 1 GiB, a PUD table
 * 512 GiB.  Freeing follows free_pgd_range() (mm/memory.c): a table goes only
 * if its whole span lies between the neighbouring VMAs (floor, ceiling).
 * Flush costs follow arch/x86/mm/tlb.c (33-page ceiling, ~100 ns a page) and
 * arch/arm64/include/asm/tlbflush.h (MAX_DVM_OPS, range TLBI).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch.h"
#include "verdict.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void load(const char *name, struct arch *a)
{
	struct avm_err err = { "" };

	if (arch_load(name, NULL, a, &err)) {
		fprintf(stderr, "arch_load(%s): %s\n", name, err.msg);
		fail();
	}
}

static uint64_t total_tables(const struct arch *a, const struct arch_pt *pt)
{
	const struct arch_pt_mm *m = arch_pt_mm_stats(pt);
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < a->levels; i++)
		n += m->tables[i];
	return n;
}

static void check(const struct arch_pt *pt)
{
	struct avm_err err = { "" };

	if (arch_pt_check(pt, &err)) {
		fprintf(stderr, "arch_pt_check: %s\n", err.msg);
		fail();
	}
}

static void touch(struct arch_pt *pt, uint64_t addr)
{
	struct avm_err err = { "" };

	assert_int_equal(arch_pt_touch(pt, addr, &err), 0);
}

/* ---- geometry of every shipped descriptor ------------------------------------- */

struct geo {
	const char *name;
	unsigned levels;
	unsigned shift[ARCH_MAX_LEVELS];
	const char *names;       /* level names, top down, space separated */
	uint64_t top_bytes;      /* pgd table size */
	uint64_t pmd, cont_pte, cont_pmd, ceiling;
};

static const struct geo geos[] = {
	/* 4 x 9 bits above 12 = 48 */
	{ "x86_64-4level", 4, { 39, 30, 21, 12 }, "pgd pud pmd pte", 4096, 2 * MiB, 0, 0, 33 },
	/* 5 x 9 bits above 12 = 57 */
	{ "x86_64-5level", 5, { 48, 39, 30, 21, 12 }, "pgd p4d pud pmd pte", 4096, 2 * MiB, 0, 0,
	  33 },
	/* 39 = 12 + 3 x 9 */
	{ "arm64-4k-39bit", 3, { 30, 21, 12 }, "pgd pmd pte", 4096, 2 * MiB, 64 * KiB, 32 * MiB,
	  512 },
	{ "arm64-4k-48bit", 4, { 39, 30, 21, 12 }, "pgd pud pmd pte", 4096, 2 * MiB, 64 * KiB,
	  32 * MiB, 512 },
	/* 47 = 14 + 3 x 11: a full 16K pgd */
	{ "arm64-16k-47bit", 3, { 36, 25, 14 }, "pgd pmd pte", 16 * KiB, 32 * MiB, 2 * MiB, GiB,
	  2048 },
	/* 48 = 14 + 3 x 11 + 1: the pgd has 2 entries = 16 bytes (pgd_cache) */
	{ "arm64-16k-48bit", 4, { 47, 36, 25, 14 }, "pgd pud pmd pte", 16, 32 * MiB, 2 * MiB, GiB,
	  2048 },
	/* 42 = 16 + 2 x 13 */
	{ "arm64-64k-42bit", 2, { 29, 16 }, "pgd pte", 64 * KiB, 512 * MiB, 2 * MiB, 16 * GiB,
	  8192 },
	/* 48 = 16 + 2 x 13 + 6: a 64-entry pgd = 512 bytes */
	{ "arm64-64k-48bit", 3, { 42, 29, 16 }, "pgd pmd pte", 512, 512 * MiB, 2 * MiB, 16 * GiB,
	  8192 },
};

static void test_geometry(void **state)
{
	size_t g;
	unsigned i;

	(void)state;
	for (g = 0; g < sizeof(geos) / sizeof(geos[0]); g++) {
		const struct geo *e = &geos[g];
		struct arch a;
		char names[64] = "";

		load(e->name, &a);
		assert_string_equal(a.name, e->name);
		assert_int_equal(a.levels, e->levels);
		for (i = 0; i < a.levels; i++) {
			assert_int_equal(a.level[i].shift, e->shift[i]);
			strcat(names, a.level[i].name);
			if (i + 1 < a.levels)
				strcat(names, " ");
			if (i > 0)
				assert_int_equal(a.level[i].table_bytes, a.page_size);
		}
		assert_string_equal(names, e->names);
		assert_int_equal(a.level[0].table_bytes, e->top_bytes);
		/* the top level indexes the rest of the VA */
		assert_int_equal(a.level[0].shift + a.level[0].bits, a.va_bits);
		assert_int_equal(a.pmd_size, e->pmd);
		assert_int_equal(a.cont_pte_size, e->cont_pte);
		assert_int_equal(a.cont_pmd_size, e->cont_pmd);
		assert_int_equal(a.cost.tlb_flush_ceiling, e->ceiling);
		/* a page-table walk visits every level */
		assert_int_equal(arch_walk_ns(&a), a.levels * a.cost.walk_level_ns);
	}
}

static void test_name_for(void **state)
{
	char buf[48];
	struct avm_err err = { "" };

	(void)state;
	assert_int_equal(arch_name_for("x86_64", 4096, 48, 4, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "x86_64-4level");
	assert_int_equal(arch_name_for("x86_64", 4096, 57, 5, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "x86_64-5level");
	assert_int_equal(arch_name_for("arm64", 16384, 47, 3, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "arm64-16k-47bit");
	/* the collector's x86 meta: 47 user VA bits, 4 levels; 56 and 5 with LA57 */
	assert_int_equal(arch_name_for("x86_64", 4096, 47, 4, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "x86_64-4level");
	assert_int_equal(arch_name_for("x86_64", 4096, 56, 5, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "x86_64-5level");
	/* arm64 by levels (uname says aarch64), or by the VA bits alone */
	assert_int_equal(arch_name_for("aarch64", 4096, 0, 3, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "arm64-4k-39bit");
	assert_int_equal(arch_name_for("aarch64", 65536, 47, 0, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "arm64-64k-48bit");
	assert_int_equal(arch_name_for("aarch64", 16384, 0, 4, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "arm64-16k-48bit");
	assert_int_equal(arch_name_for("aarch64", 8192, 48, 4, buf, sizeof(buf), &err), -1);
	assert_int_equal(arch_name_for("riscv64", 4096, 39, 3, buf, sizeof(buf), &err), -1);
	assert_non_null(strstr(err.msg, "riscv64"));
}

/* ---- page-table page counts ---------------------------------------------------- */

/*
 * One page touched at 0x400000 on x86_64-4level:
 *
 *   pgd ─ pud[0] ─ pmd[0] ─ pte[2] ─ page 0x400000
 *
 * = 1 PGD + 1 PUD + 1 PMD + 1 PTE page = 4 pages = 16 KiB.  All 512 pages of
 * the 2 MiB region [0x400000, 0x600000) share that PTE page: still 4.
 */
static void test_x86_one_pte_page(void **state)
{
	struct arch a;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *pt;
	struct avm_err err = { "" };
	uint64_t addr;

	(void)state;
	load("x86_64-4level", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	assert_int_equal(total_tables(&a, pt), 1); /* the pgd comes with the mm */
	touch(pt, 0x400000);
	assert_int_equal(total_tables(&a, pt), 4);
	assert_int_equal(arch_pt_mm_stats(pt)->bytes, 4 * 4096);
	for (addr = 0x400000; addr < 0x600000; addr += 4096)
		touch(pt, addr);
	assert_int_equal(total_tables(&a, pt), 4);
	assert_int_equal(arch_pt_mm_stats(pt)->ptes, 512);
	assert_true(arch_pt_present(pt, 0x5ff000));
	assert_false(arch_pt_present(pt, 0x600000));
	/* the next page starts a new PTE page (and nothing else) */
	touch(pt, 0x600000);
	assert_int_equal(arch_pt_mm_stats(pt)->tables[3], 2);
	assert_int_equal(total_tables(&a, pt), 5);
	check(pt);
	/* the world sees the same */
	assert_int_equal(w.bytes, 5 * 4096);
	assert_int_equal(w.ptes, 513);
	arch_pt_destroy(pt);
	assert_int_equal(w.bytes, 0);
	assert_int_equal(w.ptes, 0);
	assert_int_equal(w.bytes_peak, 5 * 4096);
}

/*
 * Two touches 1 GiB apart (x86_64-4level): one PMD page maps 1 GiB, so each
 * needs its own PMD and PTE page under one PUD:
 *
 *   pgd ─ pud[0] ┬ pmd@1G ─ pte ─ 0x40000000
 *                └ pmd@2G ─ pte ─ 0x80000000      = 1 + 1 + 2 + 2 = 6
 *
 * A third touch 512 GiB further needs a second PUD page too: 6 + 3 = 9.
 */
static void test_x86_far_apart(void **state)
{
	struct arch a;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *pt;
	struct avm_err err = { "" };
	const struct arch_pt_mm *m;

	(void)state;
	load("x86_64-4level", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	touch(pt, 1 * GiB);
	touch(pt, 2 * GiB);
	m = arch_pt_mm_stats(pt);
	assert_int_equal(m->tables[0], 1);
	assert_int_equal(m->tables[1], 1);
	assert_int_equal(m->tables[2], 2);
	assert_int_equal(m->tables[3], 2);
	touch(pt, 2 * GiB + 512 * GiB);
	assert_int_equal(m->tables[1], 2);
	assert_int_equal(total_tables(&a, pt), 9);
	/* beyond the 48-bit address space is an error, not a silent wrap */
	assert_int_equal(arch_pt_touch(pt, 1ULL << 48, &err), -1);
	assert_non_null(strstr(err.msg, "beyond the 48-bit"));
	check(pt);
	arch_pt_destroy(pt);
}

/*
 * The same page on the other geometries, from their level counts:
 * x86_64-5level 5 pages; arm64 4K/39 3 (pgd, pmd, pte); arm64 64K/42 2 pages
 * of 64 KiB, and the 8192 pages of one 512 MiB region still share one PTE
 * page; arm64 16K/48: a 16-byte pgd plus 3 pages of 16 KiB.
 */
static void test_other_geometries(void **state)
{
	struct arch a;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *pt;
	struct avm_err err = { "" };
	uint64_t addr;

	(void)state;
	load("x86_64-5level", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	touch(pt, 0x400000);
	assert_int_equal(total_tables(&a, pt), 5);
	arch_pt_destroy(pt);

	load("arm64-4k-39bit", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	touch(pt, 0x400000);
	assert_int_equal(total_tables(&a, pt), 3);
	assert_int_equal(arch_pt_mm_stats(pt)->bytes, 3 * 4096);
	arch_pt_destroy(pt);

	load("arm64-64k-42bit", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	for (addr = 512 * MiB; addr < 1024 * MiB; addr += 64 * KiB)
		touch(pt, addr);
	assert_int_equal(total_tables(&a, pt), 2);
	assert_int_equal(arch_pt_mm_stats(pt)->ptes, 8192);
	assert_int_equal(arch_pt_mm_stats(pt)->bytes, 2 * 64 * KiB);
	touch(pt, 1024 * MiB); /* next 512 MiB region: a second PTE page */
	assert_int_equal(total_tables(&a, pt), 3);
	check(pt);
	arch_pt_destroy(pt);

	load("arm64-16k-48bit", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	touch(pt, 0x400000);
	assert_int_equal(total_tables(&a, pt), 4);
	assert_int_equal(arch_pt_mm_stats(pt)->bytes, 16 + 3 * 16 * KiB);
	arch_pt_destroy(pt);
	assert_int_equal(w.bytes, 0);
}

/* A THP (PMD-mapped) still costs its deposited PTE page: same as 512 touches. */
static void test_touch_pmd(void **state)
{
	struct arch a;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *pt;
	struct avm_err err = { "" };

	(void)state;
	load("x86_64-4level", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	assert_int_equal(arch_pt_touch_pmd(pt, 0x40000000, &err), 0);
	assert_int_equal(total_tables(&a, pt), 4);
	assert_int_equal(arch_pt_mm_stats(pt)->ptes, 512);
	check(pt);
	arch_pt_destroy(pt);
}

/* ---- unmap and free_pgtables --------------------------------------------------- */

/*
 * munmap of the only VMA (no neighbours: floor 0, ceiling 0) frees every
 * table but the pgd.
 *
 *   before:  [ A 0x400000-0x402000 ]          pgd pud pmd pte
 *   after:   (empty)                          pgd
 */
static void test_unmap_alone(void **state)
{
	struct arch a;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *pt;
	struct avm_err err = { "" };

	(void)state;
	load("x86_64-4level", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	touch(pt, 0x400000);
	touch(pt, 0x401000);
	arch_pt_unmap(pt, 0x400000, 0x402000, 0, 0);
	assert_int_equal(total_tables(&a, pt), 1);
	assert_int_equal(arch_pt_mm_stats(pt)->ptes, 0);
	assert_int_equal(arch_pt_mm_stats(pt)->bytes_peak, 4 * 4096);
	assert_int_equal(w.frees[3], 1);
	check(pt);
	arch_pt_destroy(pt);
}

/*
 * A neighbour shares the PTE page: unmapping A clears A's entries but the
 * PTE page spans B too (ceiling = B's start rounds down to 0x400000 < the
 * page's end), so every table stays.  Then B goes with no neighbours left:
 * everything but the pgd is freed.
 *
 *   before:  [ A 0x400000-0x402000 ][ B 0x402000-0x404000 ]   4 tables, 4 PTEs
 *   munmap A:                       [ B 0x402000-0x404000 ]   4 tables, 2 PTEs
 *   munmap B:  (empty)                                         1 table
 */
static void test_unmap_shared_pte_page(void **state)
{
	struct arch a;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *pt;
	struct avm_err err = { "" };

	(void)state;
	load("x86_64-4level", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	touch(pt, 0x400000);
	touch(pt, 0x401000);
	touch(pt, 0x402000);
	touch(pt, 0x403000);
	arch_pt_unmap(pt, 0x400000, 0x402000, 0, 0x402000);
	assert_int_equal(total_tables(&a, pt), 4);
	assert_int_equal(arch_pt_mm_stats(pt)->ptes, 2);
	assert_false(arch_pt_present(pt, 0x401000));
	assert_true(arch_pt_present(pt, 0x402000));
	check(pt);
	arch_pt_unmap(pt, 0x402000, 0x404000, 0, 0);
	assert_int_equal(total_tables(&a, pt), 1);
	check(pt);
	arch_pt_destroy(pt);
}

/*
 * The floor keeps the tables a previous VMA still uses; tables wholly inside
 * the gap go.
 *
 *   before:  [ P 0x1ff000-0x200000 ]    [ A 0x400000-0x600000 ]
 *            pte page @0 (P), pte page @0x400000 (A), one pmd, pud, pgd = 5
 *   munmap A (floor = P's end 0x200000, ceiling 0):
 *            A's PTE page (base 0x400000 >= floor) is freed; the PMD page
 *            (base 0 < floor) and above stay = 4
 */
static void test_unmap_floor(void **state)
{
	struct arch a;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *pt;
	struct avm_err err = { "" };

	(void)state;
	load("x86_64-4level", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	touch(pt, 0x1ff000);
	touch(pt, 0x400000);
	touch(pt, 0x5ff000);
	assert_int_equal(total_tables(&a, pt), 5);
	arch_pt_unmap(pt, 0x400000, 0x600000, 0x200000, 0);
	assert_int_equal(total_tables(&a, pt), 4);
	assert_int_equal(arch_pt_mm_stats(pt)->tables[3], 1);
	assert_true(arch_pt_present(pt, 0x1ff000));
	check(pt);
	arch_pt_destroy(pt);
}

/*
 * MADV_DONTNEED-style zap clears entries, frees nothing: the kernel keeps
 * page tables until free_pgtables().
 */
static void test_zap_keeps_tables(void **state)
{
	struct arch a;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *pt;
	struct avm_err err = { "" };

	(void)state;
	load("x86_64-4level", &a);
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	touch(pt, 0x400000);
	touch(pt, 0x800000);
	arch_pt_zap(pt, 0, 1ULL << 47);
	assert_int_equal(total_tables(&a, pt), 5);
	assert_int_equal(arch_pt_mm_stats(pt)->ptes, 0);
	check(pt);
	arch_pt_destroy(pt);
}

/* ---- fork copy -------------------------------------------------------------------- */

/*
 * copy_page_range of [0x400000, 0x402000) copies the 2 present PTEs of that
 * range (not the far page) and the child allocates pud, pmd and pte pages
 * (its pgd exists): cost = 2 x fork.pte_copy_ns + 3 x fork.table_ns.
 */
static void test_fork_copy(void **state)
{
	struct arch a;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *parent, *child;
	struct arch_fork_copy fc = { 0 };
	struct avm_err err = { "" };

	(void)state;
	load("x86_64-4level", &a);
	assert_int_equal(arch_pt_create(&a, &w, &parent, &err), 0);
	assert_int_equal(arch_pt_create(&a, &w, &child, &err), 0);
	touch(parent, 0x400000);
	touch(parent, 0x401000);
	touch(parent, 0x7f0000000000ULL);
	assert_int_equal(arch_pt_copy(child, parent, 0x400000, 0x402000, &fc, &err), 0);
	assert_int_equal(fc.ptes, 2);
	assert_int_equal(fc.tables, 3);
	assert_int_equal(fc.ns, 2 * a.cost.fork_pte_ns + 3 * a.cost.fork_table_ns);
	assert_true(arch_pt_present(child, 0x401000));
	assert_false(arch_pt_present(child, 0x7f0000000000ULL));
	assert_int_equal(w.fork_ptes, 2);
	assert_int_equal(w.fork_ns, fc.ns);
	check(child);
	arch_pt_destroy(parent);
	arch_pt_destroy(child);
	assert_int_equal(w.bytes, 0);
}

/* ---- TLB flush cost ------------------------------------------------------------------ */

/*
 * x86: up to tlb_single_page_flush_ceiling = 33 pages are flushed one INVLPG
 * each (~100 ns); 34 flush everything (full_flush_ns).  IPIs: ipi_ns for the
 * first remote CPU, ipi_extra_cpu_ns for each further one.
 */
static void test_x86_flush(void **state)
{
	struct arch a;
	struct arch_flush f;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *pt;
	struct avm_err err = { "" };

	(void)state;
	load("x86_64-4level", &a);
	arch_tlb_flush(&a, 33, 0, &f);
	assert_false(f.full);
	assert_int_equal(f.ops, 33);
	assert_int_equal(f.ns, 33 * a.cost.tlb_single_ns);
	assert_int_equal(f.ns, 3300);
	arch_tlb_flush(&a, 34, 0, &f);
	assert_true(f.full);
	assert_int_equal(f.ns, a.cost.tlb_full_ns);
	arch_tlb_flush(&a, 1, 3, &f);
	assert_int_equal(f.ipis, 3);
	assert_int_equal(f.ns, a.cost.tlb_single_ns + a.cost.ipi_ns + 2 * a.cost.ipi_extra_cpu_ns);

	/* the mm ran on CPUs 0, 1, 2, 70: a flush from CPU 1 interrupts 3 others */
	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	arch_pt_ran_on(pt, 0);
	arch_pt_ran_on(pt, 1);
	arch_pt_ran_on(pt, 2);
	arch_pt_ran_on(pt, 70);
	arch_pt_flush(pt, 2, 1, &f);
	assert_int_equal(f.ipis, 3);
	assert_int_equal(w.flushes, 1);
	assert_int_equal(w.ipis, 3);
	assert_int_equal(w.flush_ns, f.ns);
	arch_pt_destroy(pt);
}

/*
 * arm64 4K: no IPIs ever.  Without FEAT_TLBIRANGE, MAX_DVM_OPS = 512: 511
 * pages are 511 TLBIs and one DSB; 512 pages flush the ASID.  With range
 * TLBI: 512 pages = one range op at scale 1 ((7 + 1) << 6 pages); 513 = that
 * plus one single-page TLBI; 3 pages = one range op of 2 plus one single;
 * more than MAX_TLBI_RANGE_PAGES = 32 << 16 flush the ASID.
 */
static void test_arm64_flush(void **state)
{
	struct arch a;
	struct arch_flush f;

	(void)state;
	load("arm64-4k-48bit", &a);
	assert_false(a.cost.tlbi_range);
	arch_tlb_flush(&a, 511, 7, &f);
	assert_false(f.full);
	assert_int_equal(f.ipis, 0);
	assert_int_equal(f.ops, 511);
	assert_int_equal(f.ns, 511 * a.cost.tlb_single_ns + a.cost.tlb_sync_ns);
	arch_tlb_flush(&a, 512, 7, &f);
	assert_true(f.full);
	assert_int_equal(f.ns, a.cost.tlb_full_ns + a.cost.tlb_sync_ns);

	a.cost.tlbi_range = true;
	arch_tlb_flush(&a, 512, 0, &f);
	assert_false(f.full);
	assert_int_equal(f.ops, 1);
	assert_int_equal(f.ns, a.cost.tlb_single_ns + a.cost.tlb_sync_ns);
	arch_tlb_flush(&a, 513, 0, &f);
	assert_int_equal(f.ops, 2);
	arch_tlb_flush(&a, 3, 0, &f);
	assert_int_equal(f.ops, 2);
	/* (31 + 1) << 16 pages at scale 3 in one op; one more page is an ASID flush */
	arch_tlb_flush(&a, 32ULL << 16, 0, &f);
	assert_int_equal(f.ops, 1);
	arch_tlb_flush(&a, (32ULL << 16) + 1, 0, &f);
	assert_true(f.full);
	/* 2^16 + 2^11 + 2^6 + 2 + 1: one op per scale plus one single */
	arch_tlb_flush(&a, (1ULL << 16) + (1ULL << 11) + (1ULL << 6) + 2 + 1, 0, &f);
	assert_int_equal(f.ops, 5);
}

/* ---- the model against a brute-force count ------------------------------------------- */

/*
 * Random pages in a few clusters: the tables alive must be exactly the
 * distinct (address >> table span) prefixes per level, and unmapping the whole
 * address space with no neighbours must leave only the pgd.
 */
static void test_random_against_prefixes(void **state)
{
	static const char *const names[] = { "x86_64-4level", "arm64-16k-47bit",
					     "arm64-64k-48bit" };
	size_t k;

	(void)state;
	for (k = 0; k < 3; k++) {
		struct arch a;
		struct arch_pt_stats w = { 0 };
		struct arch_pt *pt;
		struct avm_err err = { "" };
		uint64_t *addrs, seed = 12345 + k;
		const int n = 3000;
		int i, j;
		unsigned lvl;

		load(names[k], &a);
		assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
		addrs = calloc(n, sizeof(*addrs));
		assert_non_null(addrs);
		for (i = 0; i < n; i++) {
			uint64_t cluster, off;

			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			cluster = (seed >> 60) << (a.va_bits - 5); /* 16 clusters */
			off = (seed >> 20) & ((1ULL << 34) - 1);
			addrs[i] = (cluster + off) & ~(a.page_size - 1) & ((1ULL << a.va_bits) - 1);
			touch(pt, addrs[i]);
		}
		check(pt);
		for (lvl = 1; lvl < a.levels; lvl++) {
			unsigned s = a.level[lvl].shift + a.level[lvl].bits;
			uint64_t distinct = 0;

			for (i = 0; i < n; i++) {
				for (j = 0; j < i; j++)
					if ((addrs[j] >> s) == (addrs[i] >> s))
						break;
				distinct += j == i;
			}
			assert_int_equal(arch_pt_mm_stats(pt)->tables[lvl], distinct);
		}
		arch_pt_unmap(pt, 0, 1ULL << a.va_bits, 0, 0);
		assert_int_equal(total_tables(&a, pt), 1);
		check(pt);
		free(addrs);
		arch_pt_destroy(pt);
	}
}

/* ---- report sections ---------------------------------------------------------------- */

static double num(const cJSON *o, const char *path)
{
	char buf[128], *tok, *save = NULL;
	const cJSON *cur = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
		cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
	assert_true(cJSON_IsNumber(cur));
	return cur->valuedouble;
}

/*
 * The `arch` section lists the levels; `page_tables` has the per-level live
 * and peak counts (x86_64-4level, one page at 0x400000 then unmapped: peak 4
 * tables = 16 KiB, end 1 pgd), and the fleet merge of two hosts sums them.
 */
static void test_json(void **state)
{
	struct arch a;
	struct arch_pt_stats w = { 0 };
	struct arch_pt *pt;
	struct avm_err err = { "" };
	cJSON *ja, *jp, *merged;

	(void)state;
	load("x86_64-4level", &a);
	ja = arch_json(&a, &err);
	assert_non_null(ja);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(ja, "name")->valuestring,
			    "x86_64-4level");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ja, "levels")), 4);
	assert_int_equal(num(ja, "costs.walk_ns"), 40);
	assert_int_equal(num(ja, "costs.rmap.folio_rewrite_ns"), a.rmap.ns[LOCKS_OP_FOLIO_REWRITE]);

	assert_int_equal(arch_pt_create(&a, &w, &pt, &err), 0);
	touch(pt, 0x400000);
	arch_pt_unmap(pt, 0x400000, 0x401000, 0, 0);
	jp = arch_pt_stats_json(&a, &w, &err);
	assert_non_null(jp);
	assert_int_equal(num(jp, "bytes_peak"), 4 * 4096);
	assert_int_equal(num(jp, "bytes_end"), 4096);
	assert_int_equal(num(jp, "levels.pte.tables_peak"), 1);
	assert_int_equal(num(jp, "levels.pte.tables_end"), 0);
	assert_int_equal(num(jp, "levels.pgd.bytes_end"), 4096);
	assert_int_equal(arch_pt_json_merge(jp, jp, &merged, &err), 0);
	assert_int_equal(num(merged, "bytes_peak"), 2 * 4 * 4096);
	assert_int_equal(num(merged, "levels.pud.allocs"), 2);
	cJSON_Delete(merged);
	cJSON_Delete(ja);
	cJSON_Delete(jp);
	arch_pt_destroy(pt);
}

/* ---- bad descriptors ---------------------------------------------------------------- */

static char tmp_path[64];

static int teardown(void **state)
{
	(void)state;
	if (tmp_path[0])
		unlink(tmp_path);
	tmp_path[0] = '\0';
	return 0;
}

/* Copy configs/arch/<base>.yaml, apply one textual replacement, load it. */
static int load_edited(const char *base, const char *from, const char *to, struct arch *a,
		       struct avm_err *err)
{
	char src[128], text[16384], out[16384 + 256], *p;
	FILE *f;
	size_t n;
	int fd;

	snprintf(src, sizeof(src), "configs/arch/%s.yaml", base);
	f = fopen(src, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	p = strstr(text, from);
	assert_non_null(p);
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/test_arch_XXXXXX.yaml");
	fd = mkstemps(tmp_path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, out, strlen(out)), (ssize_t)strlen(out));
	close(fd);
	return arch_load(tmp_path, NULL, a, err);
}

static void expect_error(const char *base, const char *from, const char *to, const char *want)
{
	struct arch a;
	struct avm_err err = { "" };

	memset(&a, 0x5a, sizeof(a));
	assert_int_equal(load_edited(base, from, to, &a, &err), -1);
	if (!strstr(err.msg, want) || !strstr(err.msg, tmp_path)) {
		fprintf(stderr, "got '%s', want '%s' and the path\n", err.msg, want);
		fail();
	}
	assert_int_equal(a.name[0], 0x5a); /* a failed load leaves *out alone */
	teardown(NULL);
}

static void test_bad_descriptors(void **state)
{
	struct arch a;
	struct avm_err err = { "" };

	(void)state;
	/* an unknown key names its line (line 6 is `isa:`) */
	expect_error("x86_64-4level", "isa: x86_64\n", "isa: x86_64\nspeed: fast\n",
		     ":7: unknown key 'speed'");
	expect_error("x86_64-4level", "  ipi_ns: {value: 2000", "  ipi_nz: {value: 2000",
		     "unknown key 'tlb.ipi_nz'");
	expect_error("x86_64-4level", "  folio_rewrite_ns: {value: 15, low: 2, high: 40}", "  #",
		     "missing key 'rmap.folio_rewrite_ns'");
	/* ranges: both ends, around the value */
	expect_error("x86_64-4level", "folio_rewrite_ns: {value: 15, low: 2,",
		     "folio_rewrite_ns: {value: 15, low: 20,",
		     "'rmap.folio_rewrite_ns' must have low <= value <= high (got 20 <= 15 <= 40)");
	expect_error("x86_64-4level", "folio_rewrite_ns: {value: 15, low: 2, high: 40}",
		     "folio_rewrite_ns: {value: 15, low: 2}",
		     "'rmap.folio_rewrite_ns' has a low but no high");
	expect_error("x86_64-4level", "pte_copy_ns: {value: 49, low: 25, high: 100}",
		     "pte_copy_ns: {value: 49, low: 25, high: 100, high: 7}",
		     "key 'fork.pte_copy_ns.high' given twice");
	expect_error("x86_64-4level", "levels: 4", "levels: 5", ":9: 'levels' is 5 but 48 VA bits");
	expect_error("x86_64-4level", "va_bits: 48", "va_bits: 39", "48 (4-level) or 57");
	expect_error("x86_64-4level", "isa: x86_64", "isa: mips", "'isa' must be one of");
	expect_error("arm64-4k-39bit", "cont_pte_size: 64K", "cont_pte_size: 2M",
		     "'cont_pte_size' is 2097152 but 16 PTEs");
	expect_error("arm64-16k-47bit", "pmd_size: 32M", "pmd_size: 2M", "'pmd_size' is 2097152");
	expect_error("arm64-64k-42bit", "va_bits: 42", "va_bits: 39", "no 39-bit VA");
	expect_error("arm64-4k-48bit", "ipi_ns: {value: 0, low: 0, high: 0}",
		     "ipi_ns: {value: 5, low: 0, high: 5}", "broadcast without IPIs");
	expect_error("arm64-4k-48bit", "flush_ceiling_pages: 512", "flush_ceiling_pages: 33",
		     "MAX_DVM_OPS");
	expect_error("x86_64-4level", "single_flush_ns: {value: 100", "single_flush_ns: {value: fast",
		     "'tlb.single_flush_ns' must be a duration");
	/* ranges (docs/arch.md): a cost of 2^64-1 would wrap every sum it enters */
	expect_error("x86_64-4level", "single_flush_ns: {value: 100",
		     "single_flush_ns: {value: 18446744073709551615",
		     ":22: 'tlb.single_flush_ns' must be between 0 and 10000000 ns");
	expect_error("x86_64-4level", "folio_rewrite_ns: {value: 15, low: 2, high: 40}",
		     "folio_rewrite_ns: {value: 15, low: 2, high: 18446744073709551615}",
		     "'rmap.folio_rewrite_ns.high' must be between 0 and 10000000 ns");
	expect_error("x86_64-4level", "lock_ns: {value: 20", "lock_ns: {value: 1s",
		     "'rmap.lock_ns' must be between 0 and 10000000 ns (got '1s')");
	expect_error("x86_64-4level", "va_bits: 48", "va_bits: 64",
		     ":8: 'va_bits' must be between 32 and 57 (got '64')");
	expect_error("x86_64-4level", "page_size: 4K", "page_size: 1T",
		     "'page_size' must be between 4096 and 65536 bytes");
	expect_error("x86_64-4level", "levels: 4", "levels: 9", "'levels' must be between 0 and 5");
	expect_error("x86_64-4level", "pte_copy_ns: {value: 49", "pte_copy_ns: {value: 049",
		     "'fork.pte_copy_ns' has a leading zero (got '049')");

	/* a legacy scalar cost loads, unranged: low = high = value */
	assert_int_equal(load_edited("x86_64-4level", "folio_rewrite_ns: {value: 15, low: 2, high: 40}",
				     "folio_rewrite_ns: 15", &a, &err), 0);
	assert_false(a.rmap_range[LOCKS_OP_FOLIO_REWRITE].ranged);
	assert_int_equal(a.rmap_range[LOCKS_OP_FOLIO_REWRITE].low, 15);
	assert_int_equal(a.rmap_range[LOCKS_OP_FOLIO_REWRITE].high, 15);
	/* every cost constant of every shipped arch has a range around its value */
	{
		static const char *const names[] = {
			"x86_64-4level", "x86_64-5level", "arm64-4k-39bit", "arm64-4k-48bit",
			"arm64-16k-47bit", "arm64-16k-48bit", "arm64-64k-42bit", "arm64-64k-48bit",
		};
		struct verdict_const k[64];

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			size_t n;

			assert_int_equal(arch_load(names[i], NULL, &a, &err), 0);
			n = arch_cost_consts(&a, k, 64);
			assert_true(n >= LOCKS_OP_NR + 8);
			for (size_t j = 0; j < n; j++) {
				if (!k[j].ranged)
					fail_msg("%s: %s has no range", names[i], k[j].key);
				assert_true(k[j].low <= k[j].value && k[j].value <= k[j].high);
			}
		}
		assert_int_equal(arch_load("x86_64-4level", NULL, &a, &err), 0);
		assert_int_equal(a.rmap_range[LOCKS_OP_FOLIO_REWRITE].low, 2);
		assert_int_equal(a.rmap_range[LOCKS_OP_FOLIO_REWRITE].high, 40);
	}

	/* selection: an explicit name wins; else the trace's meta picks */
	assert_int_equal(arch_select("arm64-64k-42bit", "x86_64", 4096, 47, 4, NULL, &a, &err), 0);
	assert_string_equal(a.name, "arm64-64k-42bit");
	assert_int_equal(arch_select("", "x86_64", 4096, 47, 4, NULL, &a, &err), 0);
	assert_string_equal(a.name, "x86_64-4level");
	assert_int_equal(arch_select(NULL, "", 4096, 47, 4, NULL, &a, &err), -1);
	assert_non_null(strstr(err.msg, "--arch"));

	/* unknown names say where they looked */
	assert_int_equal(arch_load("sparc64", NULL, &a, &err), -1);
	assert_non_null(strstr(err.msg, "unknown arch 'sparc64'"));
	/* a name must match the file it came from */
	assert_int_equal(arch_load("x86_64-4level", "configs/arch", &a, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_name_for),
		cmocka_unit_test(test_x86_one_pte_page),
		cmocka_unit_test(test_x86_far_apart),
		cmocka_unit_test(test_other_geometries),
		cmocka_unit_test(test_touch_pmd),
		cmocka_unit_test(test_unmap_alone),
		cmocka_unit_test(test_unmap_shared_pte_page),
		cmocka_unit_test(test_unmap_floor),
		cmocka_unit_test(test_zap_keeps_tables),
		cmocka_unit_test(test_fork_copy),
		cmocka_unit_test(test_x86_flush),
		cmocka_unit_test(test_arm64_flush),
		cmocka_unit_test(test_random_against_prefixes),
		cmocka_unit_test(test_json),
		cmocka_unit_test_teardown(test_bad_descriptors, teardown),
	};

	return cmocka_run_group_tests_name("arch", tests, NULL, NULL);
}
