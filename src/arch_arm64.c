/*
 * arch_arm64.c - arm64 translation-table rules and TLB-invalidation cost.
 *
 * Geometry (docs/kernel/reference.md §C2, arch/arm64/Kconfig PGTABLE_LEVELS and
 * Documentation/arch/arm64/memory.rst): a 4K, 16K or 64K granule, tables of
 * one granule holding granule/8 entries (9, 11 or 13 index bits per level),
 * and as many levels as the VA size needs: 4K+39 → 3, 4K+48 → 4, 4K+52 → 5,
 * 16K+36 → 2, 16K+47 → 3, 16K+48/52 → 4, 64K+42 → 2, 64K+48/52 → 3.  When
 * the top level indexes fewer bits than a granule holds, the kernel allocates
 * the pgd from a kmem_cache of entries x 8 bytes (arch/arm64/mm/pgd.c), so a
 * 16K+48 pgd is 16 bytes.  Level names follow the kernel's folding: the
 * levels present are, top down, pgd [p4d] [pud] [pmd] pte.
 *
 * Contiguous-bit blocks (Documentation/arch/arm64/hugetlbpage.rst): CONT_PTE
 * is 16, 128, 32 PTEs and CONT_PMD 16, 32, 32 PMDs for 4K, 16K, 64K.
 *
 * TLB invalidation (arch/arm64/include/asm/tlbflush.h): TLBI is broadcast in
 * the inner-shareable domain by hardware, no IPI, and completed by one DSB.
 * A range flush without FEAT_TLBIRANGE issues one TLBI per page unless the
 * range reaches MAX_DVM_OPS (= PTRS_PER_PTE) pages, when it flushes the whole
 * ASID instead.  With FEAT_TLBIRANGE a range of up to MAX_TLBI_RANGE_PAGES
 * (32 << 16) pages is covered by range operations, each invalidating
 * (num + 1) << (5 * scale + 1) pages for scale 3 down to 0, plus one
 * single-page TLBI for an odd last page; beyond that the ASID is flushed.
 */
#include "arch.h"

static const char *const arm64_2[] = { "pgd", "pte" };
static const char *const arm64_3[] = { "pgd", "pmd", "pte" };
static const char *const arm64_4[] = { "pgd", "pud", "pmd", "pte" };
static const char *const arm64_5[] = { "pgd", "p4d", "pud", "pmd", "pte" };
static const char *const *const arm64_names[ARCH_MAX_LEVELS + 1] = {
	[2] = arm64_2, [3] = arm64_3, [4] = arm64_4, [5] = arm64_5,
};

struct arm64_granule {
	uint64_t page_size;
	unsigned va_bits[4];     /* the VA sizes Kconfig offers with this granule (0 ends) */
	unsigned cont_ptes, cont_pmds;
};

static const struct arm64_granule granules[] = {
	{ 4096, { 39, 48, 52, 0 }, 16, 16 },
	{ 16384, { 36, 47, 48, 52 }, 128, 32 },
	{ 65536, { 42, 48, 52, 0 }, 32, 32 },
};

#define TLBI_RANGE_PAGES(num, scale) (((uint64_t)(num) + 1) << (5 * (scale) + 1))
#define MAX_TLBI_RANGE_PAGES TLBI_RANGE_PAGES(31, 3)

static int arm64_geometry(struct arch *a, struct avm_err *err)
{
	const struct arm64_granule *g = NULL;
	uint64_t cont_pte, cont_pmd;
	unsigned i;
	int ok = 0;

	for (i = 0; i < sizeof(granules) / sizeof(granules[0]); i++)
		if (granules[i].page_size == a->page_size)
			g = &granules[i];
	if (!g)
		return avm_errf(err, "arm64 'page_size' (the granule) is 4K, 16K or 64K (got %llu)",
				(unsigned long long)a->page_size);
	for (i = 0; i < 4 && g->va_bits[i]; i++)
		ok |= g->va_bits[i] == a->va_bits;
	if (!ok)
		return avm_errf(err, "arm64 with a %lluK granule has no %u-bit VA configuration ('va_bits')",
				(unsigned long long)(a->page_size >> 10), a->va_bits);
	if (arch_set_levels(a, arm64_names, true, err))
		return -1;
	cont_pte = g->cont_ptes * a->page_size;
	cont_pmd = g->cont_pmds * a->pmd_size;
	if (a->cont_pte_size != cont_pte)
		return avm_errf(err, "'cont_pte_size' is %llu but %u PTEs of %lluK are %llu",
				(unsigned long long)a->cont_pte_size, g->cont_ptes,
				(unsigned long long)(a->page_size >> 10),
				(unsigned long long)cont_pte);
	if (a->cont_pmd_size != cont_pmd)
		return avm_errf(err, "'cont_pmd_size' is %llu but %u PMDs are %llu",
				(unsigned long long)a->cont_pmd_size, g->cont_pmds,
				(unsigned long long)cont_pmd);
	if (a->cost.tlb_flush_ceiling != 1ULL << a->level[a->levels - 1].bits)
		return avm_errf(err, "'tlb.flush_ceiling_pages' is MAX_DVM_OPS = PTRS_PER_PTE = %llu "
				"for this granule (got %llu)",
				1ULL << a->level[a->levels - 1].bits,
				(unsigned long long)a->cost.tlb_flush_ceiling);
	if (a->cost.ipi_ns || a->cost.ipi_extra_cpu_ns)
		return avm_errf(err, "arm64 TLBI is broadcast without IPIs: 'tlb.ipi_ns' and "
				"'tlb.ipi_extra_cpu_ns' must be 0");
	return 0;
}

/* Operations __flush_tlb_range_op issues for `pages` pages with range TLBI. */
static uint64_t range_ops(uint64_t pages)
{
	uint64_t ops = 0;
	int scale = 3;

	while (pages > 0) {
		uint64_t chunk, num;

		if (pages == 1) {
			ops++;
			break;
		}
		if (scale < 0) /* cannot happen below MAX_TLBI_RANGE_PAGES; be safe */
			return ops + pages;
		chunk = pages < TLBI_RANGE_PAGES(31, scale) ? pages : TLBI_RANGE_PAGES(31, scale);
		num = chunk >> (5 * scale + 1);
		if (num > 0) {
			ops++;
			pages -= num << (5 * scale + 1);
		}
		scale--;
	}
	return ops;
}

static void arm64_tlb_flush(const struct arch *a, uint64_t nr_pages, unsigned remote,
			    struct arch_flush *out)
{
	const struct arch_costs *c = &a->cost;

	(void)remote; /* broadcast: the other CPUs cost no IPI */
	if ((!c->tlbi_range && nr_pages >= c->tlb_flush_ceiling) ||
	    nr_pages > MAX_TLBI_RANGE_PAGES) {
		out->full = true;
		out->ops = 1;
		out->ns = c->tlb_full_ns + c->tlb_sync_ns;
		return;
	}
	out->ops = c->tlbi_range ? range_ops(nr_pages) : nr_pages;
	out->ns = out->ops * c->tlb_single_ns + c->tlb_sync_ns;
}

const struct arch_isa_ops arch_arm64_ops = {
	.isa = "arm64",
	.geometry = arm64_geometry,
	.tlb_flush = arm64_tlb_flush,
};
