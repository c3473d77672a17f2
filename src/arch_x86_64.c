/*
 * arch_x86_64.c - x86_64 paging rules and TLB-flush cost.
 *
 * Geometry (docs/kernel/reference.md §C1): 4 KiB pages, every table one 4 KiB page of
 * 512 8-byte entries; 4-level paging indexes 48 VA bits (pgd, pud, pmd, pte),
 * 5-level (LA57) 57 bits with a p4d level between pgd and pud.  A PTE table
 * maps 2 MiB, a PMD table 1 GiB.  No contiguous-bit blocks.
 *
 * TLB flush (arch/x86/mm/tlb.c, flush_tlb_mm_range): a range of at most
 * tlb_single_page_flush_ceiling (33) pages is invalidated page by page with
 * INVLPG, about 100 ns each per the comment next to the ceiling; a longer
 * range flushes the whole TLB of the mm instead.  Every other CPU in
 * mm_cpumask gets an IPI and does the same flush; the initiator waits for the
 * slowest, so the remote flushes overlap its own and only the IPI round trip
 * is added: ipi_ns for the first remote CPU and ipi_extra_cpu_ns per further
 * one (docs/kernel/reference.md §C1, [weak] figures).  INVLPGB broadcast (AMD) is not
 * modelled.
 */
#include "arch.h"

static const char *const x86_4level[] = { "pgd", "pud", "pmd", "pte" };
static const char *const x86_5level[] = { "pgd", "p4d", "pud", "pmd", "pte" };
static const char *const *const x86_names[ARCH_MAX_LEVELS + 1] = {
	[4] = x86_4level,
	[5] = x86_5level,
};

static int x86_geometry(struct arch *a, struct avm_err *err)
{
	if (a->page_size != 4096)
		return avm_errf(err, "x86_64 'page_size' is 4K (got %llu)",
				(unsigned long long)a->page_size);
	if (a->va_bits != 48 && a->va_bits != 57)
		return avm_errf(err, "x86_64 'va_bits' is 48 (4-level) or 57 (5-level) (got %u)",
				a->va_bits);
	if (a->cont_pte_size || a->cont_pmd_size)
		return avm_errf(err, "x86_64 has no contiguous-bit blocks: "
				"'cont_pte_size' and 'cont_pmd_size' must be 0");
	if (a->cost.tlbi_range)
		return avm_errf(err, "x86_64 has no range TLBI: 'tlb.range' must be false");
	return arch_set_levels(a, x86_names, false, err);
}

static void x86_tlb_flush(const struct arch *a, uint64_t nr_pages, unsigned remote,
			  struct arch_flush *out)
{
	const struct arch_costs *c = &a->cost;

	if (nr_pages > c->tlb_flush_ceiling) {
		out->full = true;
		out->ops = 1;
		out->ns = c->tlb_full_ns;
	} else {
		out->ops = nr_pages;
		out->ns = nr_pages * c->tlb_single_ns;
	}
	if (remote) {
		out->ipis = remote;
		out->ns += c->ipi_ns + (uint64_t)(remote - 1) * c->ipi_extra_cpu_ns;
	}
}

const struct arch_isa_ops arch_x86_64_ops = {
	.isa = "x86_64",
	.geometry = x86_geometry,
	.tlb_flush = x86_tlb_flush,
};
