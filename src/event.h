/*
 * event.h - the one event format shared by the BPF collector, the trace
 * store, the synthesiser and the replay engine.
 *
 * Layout: a fixed 80-byte record, fixed-size fields only (no pointers), so the
 * BPF side can reserve it in the ring buffer and user space can read it as is.
 * In the ring buffer `mm` and object fields carry raw kernel addresses; the
 * collector replaces every kernel address with a small stable id before the
 * event reaches the trace (ids start at 1; 0 means "none").  Everything after
 * the collector - trace.db, synth, replay - sees ids only.
 *
 * Argument meaning per kind is documented next to each kind below and, column
 * by column, in schema.sql.  Syscall results follow the kernel: >= 0 success,
 * negative errno on failure.
 */
#ifndef ANONVMA_EVENT_H
#define ANONVMA_EVENT_H

#ifdef __bpf__
typedef __u64 avm_u64;
typedef __s64 avm_s64;
typedef __u32 avm_u32;
typedef __u16 avm_u16;
#else
#include <stdint.h>
typedef uint64_t avm_u64;
typedef int64_t avm_s64;
typedef uint32_t avm_u32;
typedef uint16_t avm_u16;
#endif

enum avm_kind {
	/* processes */
	AVM_FORK = 1,       /* mm=parent mm, a=child mm (== mm: CLONE_VM), b=child tid,
	                       c=clone flags, d=child tgid, e=measured latency (ns) from
	                       the fork syscall's entry to sched_process_fork, 0 = not
	                       measured, f=context switches of the parent meanwhile
	                       (0: it ran throughout) (schema version 2 on) */
	AVM_EXEC = 2,       /* mm=old mm, a=new mm, b=snapshot id of the new mm (0: none),
	                       c=old pid */
	AVM_EXIT = 3,       /* mm=mm the task leaves, a=group_dead */
	AVM_MM_RELEASE = 4, /* mm=mm whose exit_mmap just finished (kernel tracepoint) */

	/* VMA-changing syscalls, emitted at syscall exit with the result */
	AVM_MMAP = 10,      /* a=result addr or -errno, b=len, c=prot, d=MAP_* flags,
	                       e=file id (0 anonymous), f=pgoff (pages) */
	AVM_MUNMAP = 11,    /* a=addr, b=len, c=result */
	AVM_MPROTECT = 12,  /* a=addr, b=len, c=prot, d=result  (also pkey_mprotect) */
	AVM_MREMAP = 13,    /* a=old addr, b=old len, c=new len, d=MREMAP_* flags,
	                       e=result (new addr or -errno), f=requested new addr */
	AVM_BRK = 14,       /* a=requested brk, b=result (the brk after the call) */
	AVM_MADVISE = 15,   /* a=addr, b=len, c=advice, d=result (also process_madvise,
	                       with mm = the target mm) */
	AVM_MLOCK = 16,     /* a=addr, b=len, c=flags (MLOCK_ONFAULT), d=result */
	AVM_MUNLOCK = 17,   /* a=addr, b=len, d=result */
	AVM_MLOCKALL = 18,  /* c=flags (MCL_*), d=result */
	AVM_MUNLOCKALL = 19,/* d=result */
	AVM_VMA_NAME = 20,  /* prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME): a=addr, b=len,
	                       c=name id (0 clears), d=result */
	AVM_MSEAL = 21,     /* a=addr, b=len, c=flags, d=result */
	AVM_SHMAT = 22,     /* a=result addr or -errno, b=size, c=shmflg, e=shm file id */
	AVM_SHMDT = 23,     /* a=addr, d=result */
	AVM_PRCTL_THP = 24, /* prctl(PR_SET_THP_DISABLE): a=value, d=result */

	/* faults: one per hardware exception, before it is handled */
	AVM_FAULT = 30,     /* a=address, b=x86 error code (bit0 P, bit1 W, bit2 U,
	                       bit4 I), c=1 if taken in kernel mode */
	AVM_POPULATE = 31,  /* GUP-style population without an exception (synth, and
	                       collectors that can see it): a=addr, b=len, c=1 write */

	/* kernel ground truth: slab objects of the anon rmap */
	AVM_SLAB = 40,      /* a=cache (enum avm_cache), b=enum avm_slab_op,
	                       c=enum avm_site, d=object id, e=1 if the allocation failed */

	/* locks and other kernel activity */
	AVM_MMAP_LOCK = 50, /* a=1 write, b=enum avm_lock_phase, c=success */
	AVM_SNAPSHOT = 60,  /* a=snapshot id, b=enum avm_snap_reason, c=VMA count;
	                       the VMAs are in table snap_vmas; reason EXIT: mm=the mm */
	AVM_MIGRATE = 70,   /* a=enum avm_migrate_op, b=address, c=order */
	AVM_KSM = 71,       /* a=enum avm_ksm_op, b=pfn, c=err, d=the rmap_item's page
	                       address for MERGE and REMOVE_RMAP (schema version 3 on);
	                       SCAN_END: mm=0, b=scan seq, c=rmap entries */
	AVM_THP = 72,       /* a=enum avm_thp_op, b=COLLAPSE: linear page index + 1 of a
	                       folio in the collapsed range (0 unknown; schema version 3
	                       on), c=status (1 succeeded), d=isolated / referenced */
	AVM_RECLAIM = 73,   /* a=nr_scanned, b=nr_reclaimed, c=1 active list, d=file */
	AVM_TLB_FLUSH = 74, /* a=reason, b=pages */
	AVM_RMAP_CALL = 75, /* fentry mode only: a=enum avm_rmap_fn, b=duration ns,
	                       c=return value */
	AVM_LOST = 80,      /* a=cpu, b=events lost on that cpu since the last AVM_LOST */

	/*
	 * userfaultfd ioctls (schema version 3 on), emitted at the ioctl's exit;
	 * mm = the uffd's mm (ctx->mm, the mm the ioctl changes), e = the uffd
	 * (open-file id of its file: the ctx identity VMAs carry).  d = the
	 * result: bytes done (the ioctl's copy/zeropage/move/mapped/updated
	 * field; a partial result is bytes > 0 although the ioctl said -EAGAIN),
	 * or -errno when nothing was done.
	 */
	AVM_UFFD_REGISTER = 90,   /* a=start, b=len, c=UFFDIO_REGISTER_MODE_*, d=result
				     (0 or -errno), e=uffd, f=ctx features (UFFD_FEATURE_*) */
	AVM_UFFD_UNREGISTER = 91, /* a=start, b=len, d=result (0 or -errno), e=uffd */
	AVM_UFFD_COPY = 92,       /* a=dst, b=len, c=src, d=bytes or -errno, e=uffd, f=mode */
	AVM_UFFD_ZEROPAGE = 93,   /* a=dst, b=len, d=bytes or -errno, e=uffd, f=mode */
	AVM_UFFD_MOVE = 94,       /* a=dst, b=len, c=src, d=bytes or -errno, e=uffd, f=mode */
	AVM_UFFD_CONTINUE = 95,   /* a=start, b=len, d=bytes or -errno, e=uffd, f=mode */
	AVM_UFFD_POISON = 96,     /* a=start, b=len, d=bytes or -errno, e=uffd, f=mode */
};

/* The userfaultfd values the events carry (modes, features) are kabi.h's KABI_UFFD_*. */

enum avm_cache { AVM_CACHE_ANON_VMA = 1, AVM_CACHE_AVC = 2, AVM_CACHE_VMA = 3 };
enum avm_slab_op { AVM_SLAB_ALLOC = 1, AVM_SLAB_FREE = 2 };

/* Which kernel path an anon rmap slab event came from (classified by call site). */
enum avm_site {
	AVM_SITE_UNKNOWN = 0,
	AVM_SITE_PREPARE = 1, /* __anon_vma_prepare: first fault */
	AVM_SITE_CLONE = 2,   /* anon_vma_clone: split, merge dup, mremap copy, fork */
	AVM_SITE_FORK = 3,    /* anon_vma_fork: the child's own anon_vma and its AVC */
	AVM_SITE_UNLINK = 4,  /* unlink_anon_vmas */
	AVM_SITE_PUT = 5,     /* __put_anon_vma */
	AVM_SITE_VMA = 6,     /* vm_area_struct alloc/free (any site) */
	AVM_SITE_OTHER = 7,   /* same cache, not the anon rmap (merged slab caches) */
};

enum avm_lock_phase { AVM_LOCK_START = 0, AVM_LOCK_ACQUIRED = 1, AVM_LOCK_RELEASED = 2 };
/*
 * Why a snapshot was taken.  START and EXEC are adopted by the replay; EXIT
 * (the mm's last user leaves it, by exit or by exec, before exit_mmap) is only
 * compared with the world by --validate, and has no snap_anon_vmas rows.
 */
enum avm_snap_reason { AVM_SNAP_START = 1, AVM_SNAP_EXEC = 2, AVM_SNAP_EXIT = 3 };
enum avm_migrate_op { AVM_MIGRATE_SET_PTE = 1, AVM_MIGRATE_REMOVE_PTE = 2,
		      AVM_MIGRATE_SET_PMD = 3, AVM_MIGRATE_REMOVE_PMD = 4,
		      AVM_MIGRATE_START = 5, AVM_MIGRATE_END = 6 };
enum avm_ksm_op { AVM_KSM_MERGE = 1, AVM_KSM_REMOVE_RMAP = 2, AVM_KSM_ENTER = 3,
		  AVM_KSM_EXIT = 4, AVM_KSM_SCAN_END = 5 /* schema version 3 on */ };
enum avm_thp_op { AVM_THP_COLLAPSE = 1, AVM_THP_SCAN = 2 };
enum avm_rmap_fn { AVM_RMAP_PREPARE = 1, AVM_RMAP_FORK = 2, AVM_RMAP_UNLINK = 3 };

/* Fault error-code bits (x86 layout; other arches are converted to it). */
#define AVM_PF_PROT  0x1ULL
#define AVM_PF_WRITE 0x2ULL
#define AVM_PF_USER  0x4ULL
#define AVM_PF_INSTR 0x10ULL

struct avm_event {
	avm_u64 seq;   /* position in the ordered stream (trace rowid) */
	avm_u64 t;     /* nanoseconds since the start of the trace */
	avm_u32 cpu;
	avm_u32 tid;
	avm_u32 kind;  /* enum avm_kind */
	avm_u32 pid;   /* tgid */
	avm_u64 mm;    /* address-space id (kernel mm pointer in the ring buffer) */
	avm_s64 a, b, c, d, e, f;
};

/* One VMA of a snapshot (table snap_vmas). */
#define AVM_CHAIN_MAX 16
#define AVM_CHAIN_LEN_MAX 64 /* chain_len stops here: the collector counts at most this many */
struct avm_snap_vma {
	avm_u64 snap;      /* snapshot id */
	avm_u64 mm;
	avm_u64 start, end, pgoff; /* pgoff in pages */
	avm_u64 flags;     /* kernel vm_flags */
	avm_u64 file;      /* open-file id, 0 anonymous */
	avm_u64 anon_vma;  /* object id of vma->anon_vma, 0 none */
	avm_u64 av_root, av_parent;
	avm_u32 av_refcount, av_children, av_active;
	avm_u32 chain_len; /* AVCs on the chain (may exceed AVM_CHAIN_MAX; at most
	                      AVM_CHAIN_LEN_MAX, which means "that many or more") */
	avm_u64 chain[AVM_CHAIN_MAX]; /* anon_vma ids of the chain, head (newest) first */
};

/*
 * One anon_vma seen during a snapshot (table snap_anon_vmas): every anon_vma
 * met on any snapshotted VMA's chain, so ancestors whose own VMAs are gone
 * still arrive with their counters.
 */
struct avm_snap_av {
	avm_u64 snap;
	avm_u64 id;
	avm_u64 root, parent;
	avm_u32 refcount, num_children, num_active_vmas, pad;
};

#endif
