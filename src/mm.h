/*
 * mm.h - the address-space simulator: one instance per world.
 *
 * Owns mm users, the VMA map of every mm, VMA flags, syscall semantics
 * (mmap, munmap, mprotect, mremap, brk, madvise, mlock, ...), faults, the
 * pages each mm has mapped and the merge/split machinery of the kernel's
 * mm/vma.c (eager.md §2.7, §3, §7).  It calls the model (model.h) wherever
 * the anon rmap is involved.  It never looks inside vma->anon.
 *
 * An mm is identified by its trace id (threads and vfork children share it).
 * Profiles P1..P4 (eager.md §0) select the merge rules.
 */
#ifndef ANONVMA_MM_H
#define ANONVMA_MM_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "event.h"
#include "model.h"

/* Kernel vm_flags bits (x86_64, Linux 6.18), as recorded in snapshots. */
#define VM_READ         0x00000001ULL
#define VM_WRITE        0x00000002ULL
#define VM_EXEC         0x00000004ULL
#define VM_SHARED       0x00000008ULL
#define VM_MAYREAD      0x00000010ULL
#define VM_MAYWRITE     0x00000020ULL
#define VM_MAYEXEC      0x00000040ULL
#define VM_MAYSHARE     0x00000080ULL
#define VM_GROWSDOWN    0x00000100ULL
#define VM_UFFD_MISSING 0x00000200ULL
#define VM_PFNMAP       0x00000400ULL
#define VM_UFFD_WP      0x00001000ULL
#define VM_LOCKED       0x00002000ULL
#define VM_IO           0x00004000ULL
#define VM_SEQ_READ     0x00008000ULL
#define VM_RAND_READ    0x00010000ULL
#define VM_DONTCOPY     0x00020000ULL
#define VM_DONTEXPAND   0x00040000ULL
#define VM_LOCKONFAULT  0x00080000ULL
#define VM_ACCOUNT      0x00100000ULL
#define VM_NORESERVE    0x00200000ULL
#define VM_HUGETLB      0x00400000ULL
#define VM_SYNC         0x00800000ULL
#define VM_ARCH_1       0x01000000ULL
#define VM_WIPEONFORK   0x02000000ULL
#define VM_DONTDUMP     0x04000000ULL
#define VM_SOFTDIRTY    0x08000000ULL
#define VM_MIXEDMAP     0x10000000ULL
#define VM_HUGEPAGE     0x20000000ULL
#define VM_NOHUGEPAGE   0x40000000ULL
#define VM_MERGEABLE    0x80000000ULL
#define VM_SPECIAL      (VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP)

enum mm_profile { MM_PROFILE_P1 = 1, MM_PROFILE_P2, MM_PROFILE_P3, MM_PROFILE_P4 };

struct mm_space; /* one mm_struct */
struct mm_sim;   /* every mm of one world */

/*
 * A VMA.  Public so models and the replay can read it without accessor
 * calls in the hot path; only mm.c writes it (models write ->anon only).
 */
struct mm_vma {
	uint64_t id;              /* unique within the world, for reports */
	uint64_t start, end;      /* [start, end) bytes */
	uint64_t pgoff;           /* pages */
	uint64_t flags;           /* VM_* */
	uint64_t file;            /* open-file id, 0 anonymous */
	uint64_t policy;          /* mempolicy identity, 0 default */
	uint64_t uffd_ctx;        /* userfaultfd ctx identity, 0 none */
	uint64_t anon_name;       /* anon_name identity, 0 none */
	struct mm_space *mm;
	void *anon;               /* model-owned anon rmap state, NULL: none */
	bool has_close;           /* vm_ops->close (hugetlb, some special mappings) */
};

struct mm_sim_params {
	enum mm_profile profile;  /* default P3 */
	uint64_t page_size;       /* default 4096 */
	/* THP: enabled (always/madvise/never) for PMD order */
	int thp_enabled;          /* 0 never, 1 madvise, 2 always */
	uint64_t pmd_size;        /* default 2 MiB */
	bool overcommit_never;    /* vm.overcommit_memory == 2 */
};

int mm_sim_create(const struct mm_sim_params *p, const struct model_ops *ops,
		  struct model *model, struct model_stats *stats, struct mm_sim **out,
		  struct avm_err *err);
void mm_sim_destroy(struct mm_sim *s);

/* Feed one trace event (everything but AVM_SLAB, which is kernel truth, and snapshots). */
int mm_sim_apply(struct mm_sim *s, const struct avm_event *ev, struct avm_err *err);

/*
 * An exec (AVM_EXEC) or a start snapshot: build mm `mm_id` from snapshot rows.
 * For exec the old mm loses one user first (ev->mm).
 */
int mm_sim_exec(struct mm_sim *s, const struct avm_event *ev, const struct avm_snap_vma *vmas,
		size_t n, struct avm_err *err);
int mm_sim_adopt_start(struct mm_sim *s, uint64_t mm_id, const struct avm_snap_vma *vmas,
		       size_t n, struct avm_err *err);

/* Queries for models and reports. */
struct mm_space *mm_sim_find(struct mm_sim *s, uint64_t mm_id);
struct mm_vma *mm_vma_prev(const struct mm_vma *v); /* immediate neighbours in address order */
struct mm_vma *mm_vma_next(const struct mm_vma *v);
struct mm_vma *mm_find_vma(struct mm_space *mm, uint64_t addr); /* VMA containing addr */
uint64_t mm_space_id(const struct mm_space *mm);
size_t mm_space_vma_count(const struct mm_space *mm);
/* Iterate VMAs of an mm in address order; the callback returns non-zero to stop. */
int mm_for_each_vma(struct mm_space *mm, int (*cb)(void *ctx, struct mm_vma *v), void *ctx);
/* Iterate the pages v has mapped: page address, the folio's owner token, its id. */
int mm_vma_for_each_page(struct mm_vma *v,
			 int (*cb)(void *ctx, uint64_t addr, uint64_t *owner, uint64_t folio),
			 void *ctx);

/* Test builds: check simulator invariants (sorted, non-overlapping, users >= 0). */
int mm_sim_check(struct mm_sim *s, struct avm_err *err);

#endif
