/*
 * arch.h - per-ISA page-table geometry, page-table memory, walk and TLB costs.
 *
 * Owns: the arch descriptor (one per configs/arch/<name>.yaml: ISA, page
 * size, VA bits, levels, PMD / contiguous sizes, and every cost with its
 * source), the registry that loads one by name, the per-ISA rules behind one
 * ops table (arch_x86_64.c, arch_arm64.c: level names, geometry checks, the
 * TLB-flush policy), and the per-mm page-table model: which page-table pages
 * exist at every level for the pages a trace touched, as the kernel allocates
 * them on fault and frees them in free_pgtables(), with live and peak counts
 * per mm and per world.
 *
 * Costs are nanoseconds.  Every default lives in the YAML file with its
 * source (docs/kernel/reference.md §C) or an explicit "[estimate]"; there
 * are no defaults in C, so a missing key is an error.
 */
#ifndef ANONVMA_ARCH_H
#define ANONVMA_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "locks.h"

#define ARCH_MAX_LEVELS 5

enum arch_isa { ARCH_ISA_X86_64 = 0, ARCH_ISA_ARM64 = 1 };

/* One level of the page-table tree; level 0 is the top (pgd). */
struct arch_level {
	const char *name;     /* Linux name: "pgd", "p4d", "pud", "pmd", "pte" */
	unsigned shift;       /* lowest VA bit this level indexes: one entry maps 1 << shift */
	unsigned bits;        /* index bits: a table has 1 << bits entries */
	uint64_t table_bytes; /* bytes of one table (a page, or less for a small arm64 pgd) */
};

struct arch_costs {
	uint64_t walk_level_ns;       /* one level of a software page-table walk */
	uint64_t tlb_flush_ceiling;   /* x86: tlb_single_page_flush_ceiling; arm64: MAX_DVM_OPS */
	uint64_t tlb_single_ns;       /* x86: one INVLPG; arm64: one TLBI VALE1IS issue */
	uint64_t tlb_full_ns;         /* x86: full flush (CR3); arm64: flush_tlb_mm (ASIDE1IS) */
	uint64_t tlb_sync_ns;         /* arm64: the DSB ISH that waits for completion; x86: 0 */
	uint64_t ipi_ns;              /* x86: shootdown IPI to the first remote CPU; arm64: 0 */
	uint64_t ipi_extra_cpu_ns;    /* x86: each further remote CPU */
	bool tlbi_range;              /* arm64 FEAT_TLBIRANGE present */
	uint64_t fork_pte_ns;         /* copy_page_range: per present PTE copied */
	uint64_t fork_table_ns;       /* copy_page_range: per page-table page the child allocates */
};

/* The cost of one TLB flush and how it was done. */
struct arch_flush {
	uint64_t ns;
	uint64_t ops;   /* invalidation instructions issued (INVLPG, TLBI, range TLBI) */
	bool full;      /* the whole mm (or the whole TLB) was flushed */
	unsigned ipis;  /* remote CPUs interrupted (x86) */
};

struct arch;

/* What one ISA knows (arch_x86_64.c, arch_arm64.c). */
struct arch_isa_ops {
	const char *isa; /* "x86_64", "arm64": the YAML `isa:` value */
	/*
	 * Derive the levels from page size and VA bits (a->page_shift, a->va_bits
	 * set), name them, size their tables, and check the YAML's stated
	 * levels / PMD / contiguous sizes (a->levels etc., 0 = not stated) against
	 * the ISA's rules.  Fills err (without file name) on a mismatch.
	 */
	int (*geometry)(struct arch *a, struct avm_err *err);
	/* Flush nr_pages pages of one mm; remote = other CPUs the mm ran on. */
	void (*tlb_flush)(const struct arch *a, uint64_t nr_pages, unsigned remote,
			  struct arch_flush *out);
};

/*
 * A cost constant's plausible range: the YAML form `key: {value: 15, low: 3,
 * high: 40}` (the source stays in the trailing comment).  A plain scalar
 * `key: 15` is a legacy, unranged constant: low = high = value.
 */
struct arch_range {
	uint64_t low, high;
	bool ranged;
};
#define ARCH_KEYS_MAX 24

struct arch {
	char name[48];                  /* "x86_64-4level" */
	char path[256];                 /* the YAML it came from */
	enum arch_isa isa;
	const struct arch_isa_ops *ops;
	unsigned page_shift;
	uint64_t page_size;
	unsigned va_bits;
	unsigned levels;
	struct arch_level level[ARCH_MAX_LEVELS];
	uint64_t pmd_size;              /* one entry of the level above the PTEs (THP size) */
	uint64_t pud_size;              /* one entry two levels up (0 if there is no such level) */
	uint64_t cont_pte_size;         /* arm64 contiguous-bit block of PTEs; 0 on x86 */
	uint64_t cont_pmd_size;         /* arm64 contiguous PMDs; 0 on x86 */
	struct arch_costs cost;
	struct locks_costs rmap;        /* costs of anon rmap work under locks (locks.h) */
	/* ranges of the cost constants: of the ns keys (by key table index), of rmap ops */
	struct arch_range key_range[ARCH_KEYS_MAX];
	struct arch_range rmap_range[LOCKS_OP_NR];
};

/* The costs a world's lock sections and fork work are re-costed with (locks.h). */
void arch_recost(const struct arch *a, struct locks_recost *out);

/*
 * Every cost constant of a (each `*_ns` key and each `rmap.*` key), with its
 * value, range and where it enters the re-costing (verdict.h), in file
 * order.  Returns how many were written (at most max).
 */
struct verdict_const;
size_t arch_cost_consts(const struct arch *a, struct verdict_const *out, size_t max);

/*
 * For the ISA files: lay out the levels of a radix tree of 8-byte entries,
 * one page per table (page_shift - 3 index bits per level), as many levels as
 * va_bits needs, the top one narrower if the bits do not divide evenly.  The
 * top table is a page, or entries x 8 bytes if small_top (arm64's pgd_cache).
 * names[i] names level i of an n-level tree; the derived level count is
 * checked against a->levels if the YAML stated one.  Also sets pmd_size and
 * pud_size from the geometry when they were not stated, and checks them when
 * they were.
 */
int arch_set_levels(struct arch *a, const char *const *const names_by_levels[ARCH_MAX_LEVELS + 1],
		    bool small_top, struct avm_err *err);

extern const struct arch_isa_ops arch_x86_64_ops;
extern const struct arch_isa_ops arch_arm64_ops;

/*
 * Load an arch by name ("x86_64-4level") or by path (anything with a '/' or
 * ending in ".yaml").  A name is looked up as <dir>/<name>.yaml in: dir if
 * non-NULL, $ANONVMA_ARCH_DIR, then arch/ of every data directory in the
 * order of datadir.h ($ANONVMA_DATADIR, the source tree, the installed
 * share/anonvma next to the executable, ./configs).
 * Unknown keys, bad values and missing keys fail with "file:line: ...".
 */
int arch_load(const char *name, const char *dir, struct arch *out, struct avm_err *err);

/*
 * The shipped arch for a trace's meta: isa ("x86_64", "aarch64"/"arm64"),
 * page size, VA bits, page-table levels (0 = unknown).
 */
int arch_name_for(const char *isa, uint64_t page_size, unsigned va_bits, unsigned levels,
		  char *buf, size_t len, struct avm_err *err);
/*
 * What the replay calls: load `requested` (--arch, else the config's
 * arch.name) when non-empty, else the arch arch_name_for() picks from the
 * trace's meta (whose page size must then match).
 */
int arch_select(const char *requested, const char *isa, uint64_t page_size, unsigned va_bits,
		unsigned levels, const char *dir, struct arch *out, struct avm_err *err);

/* Bytes mapped by one table at level i (its span) and by one entry (1 << shift). */
static inline uint64_t arch_level_span(const struct arch *a, unsigned i)
{
	unsigned s = a->level[i].shift + a->level[i].bits;

	return s >= 64 ? 0 : 1ULL << s; /* 0: the whole address space */
}

/* rmap_one's page_vma_mapped_walk: one software walk, top to leaf. */
static inline uint64_t arch_walk_ns(const struct arch *a)
{
	return (uint64_t)a->levels * a->cost.walk_level_ns;
}

/* TLB flush of nr_pages of one mm with `remote` other CPUs in its cpumask. */
void arch_tlb_flush(const struct arch *a, uint64_t nr_pages, unsigned remote,
		    struct arch_flush *out);

/* ---- page tables of one mm --------------------------------------------------- */

/* Per-world totals over every mm (the report's `page_tables`). */
struct arch_pt_stats {
	uint64_t tables[ARCH_MAX_LEVELS];       /* live page-table pages per level */
	uint64_t tables_peak[ARCH_MAX_LEVELS];
	uint64_t allocs[ARCH_MAX_LEVELS], frees[ARCH_MAX_LEVELS];
	uint64_t bytes, bytes_peak;             /* all levels */
	uint64_t ptes;                          /* present leaf entries */
	uint64_t flushes, full_flushes, flush_ops, ipis, flush_ns;
	uint64_t fork_copies, fork_ptes, fork_tables, fork_ns;
};

/* One mm's figures (per-process reports). */
struct arch_pt_mm {
	uint64_t tables[ARCH_MAX_LEVELS], tables_peak[ARCH_MAX_LEVELS];
	uint64_t bytes, bytes_peak;
	uint64_t ptes;
};

/* What a fork copy of one range did and cost. */
struct arch_fork_copy {
	uint64_t ptes;    /* present entries copied */
	uint64_t tables;  /* page-table pages the child allocated */
	uint64_t ns;
};

struct arch_pt;

/* A new mm: its pgd exists from the start (mm_alloc_pgd), so one table is live. */
int arch_pt_create(const struct arch *a, struct arch_pt_stats *world, struct arch_pt **out,
		   struct avm_err *err);
/* The mm is gone: every table is freed (free_pgtables over everything, then pgd_free). */
void arch_pt_destroy(struct arch_pt *pt); /* safe on NULL */

/* A page at addr is mapped (fault, populate): allocate missing tables, set the entry. */
int arch_pt_touch(struct arch_pt *pt, uint64_t addr, struct avm_err *err);
/*
 * A PMD-sized block at addr is mapped (THP).  The kernel still allocates the
 * PTE table and deposits it (pgtable_trans_huge_deposit), so memory is that
 * of touching every page of the block.
 */
int arch_pt_touch_pmd(struct arch_pt *pt, uint64_t addr, struct avm_err *err);

/* Clear the entries of [start, end) and keep the tables (MADV_DONTNEED, zap_page_range). */
void arch_pt_zap(struct arch_pt *pt, uint64_t start, uint64_t end);
/*
 * munmap / exit of [start, end): clear the entries, then free the tables the
 * kernel's free_pgtables() frees: every table that overlaps the range and
 * whose whole span lies in [floor, ceiling), where floor is the previous
 * VMA's end (0 if none) and ceiling the next VMA's start (0 if none: the top
 * of the address space).  The top-level table is never freed here.
 */
void arch_pt_unmap(struct arch_pt *pt, uint64_t start, uint64_t end, uint64_t floor,
		   uint64_t ceiling);

/*
 * Fork: copy_page_range of [start, end) from src into dst (the child): every
 * present entry is copied, missing tables allocated in dst.  Adds the cost
 * (fork_pte_ns per entry, fork_table_ns per table) to out and to dst's world.
 */
int arch_pt_copy(struct arch_pt *dst, const struct arch_pt *src, uint64_t start, uint64_t end,
		 struct arch_fork_copy *out, struct avm_err *err);

/* The mm ran on cpu (mm_cpumask grows; remote flushes reach it). */
void arch_pt_ran_on(struct arch_pt *pt, uint32_t cpu);
/* Flush nr_pages of this mm from `cpu`: cost with IPIs to the other CPUs it ran on. */
void arch_pt_flush(struct arch_pt *pt, uint64_t nr_pages, uint32_t cpu, struct arch_flush *out);

const struct arch_pt_mm *arch_pt_mm_stats(const struct arch_pt *pt);
/* Is the page at addr mapped? (tests and checks) */
bool arch_pt_present(const struct arch_pt *pt, uint64_t addr);
/* Test builds: recount every table and entry and compare with the counters. */
int arch_pt_check(const struct arch_pt *pt, struct avm_err *err);

/*
 * --calibrate: fit the costs to the holds in c (locks_calib_fit, priors from
 * a, features seen in fewer than min_samples holds keep their prior) and
 * write a complete arch YAML to path whose name is the file's base name, so
 * it loads with --arch path or, copied to configs/arch/, by name.  Every
 * cost says whether it was fitted (and from how many holds) or kept.
 * `source` names the trace in the header.
 */
int arch_write_calibrated(const struct arch *a, const struct locks_calib *c,
			  uint64_t min_samples, const char *source, const char *path,
			  struct avm_err *err);

struct forkfit_result;
/*
 * The same with the fork-latency fit (forkfit.h; NULL: the trace has none):
 * when its rule accepted it, fork.pte_copy_ns, fork.table_ns and the AVC link
 * costs (avc_alloc_ns + interval_tree_insert_ns, split in the ratio of the
 * priors) come from it, tagged with n, R^2 and the +-2 sigma range; when it
 * refused, they are what the hold fit gives and the header says why.
 */
int arch_write_calibrated_fork(const struct arch *a, const struct locks_calib *c,
			       uint64_t min_samples, const struct forkfit_result *ff,
			       const char *source, const char *path, struct avm_err *err);
/*
 * The report's `costs` block of a --calibrate run: `fork_fit` (forkfit_json)
 * and `constants`, one entry per cost key of the calibrated file:
 * {value, source: "fitted" | "estimate", from: "fork_latencies" |
 * "mmap_lock_holds" | the arch file, n, and for fork-fitted ones r2, low, high}.
 */
cJSON *arch_calibrated_costs_json(const struct arch *a, const struct locks_calib *c,
				  uint64_t min_samples, const struct forkfit_result *ff,
				  struct avm_err *err);

/* ---- report sections (docs/arch.md lists the keys) ---------------------------------- */

/* The report's `arch` section: name, ISA, geometry per level, every cost. */
cJSON *arch_json(const struct arch *a, struct avm_err *err);
/*
 * One model's `page_tables` block: per level (by name) tables_end,
 * tables_peak, allocs, frees, bytes_end, bytes_peak; bytes_end and bytes_peak
 * of all levels (the simultaneous peak); ptes_end; tlb {flushes,
 * full_flushes, ops, ipis, ns}; fork_copy {copies, ptes, tables, ns}.
 */
cJSON *arch_pt_stats_json(const struct arch *a, const struct arch_pt_stats *s,
			  struct avm_err *err);
/*
 * Fleet merge of two page_tables blocks: every number summed key by key
 * (peaks become sums of per-host peaks), keys only one side has kept.
 */
int arch_pt_json_merge(const cJSON *a, const cJSON *b, cJSON **out, struct avm_err *err);

#endif
