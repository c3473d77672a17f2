/*
 * kabi.h - the kernel ABI values the toolkit speaks: vm_flags bits, mmap /
 * mprotect / mremap / madvise / mlock arguments, clone flags, prctl codes,
 * userfaultfd ioctls.
 * One spelling for every part of the tree: the simulator (mm.c), the
 * scenario generator (synth.c), the collector's both sides (collect.bpf.c,
 * collect_procmaps.c) and the tests.
 *
 * Plain #defines only, no libc or kernel header, so BPF code (after
 * vmlinux.h) and user code (after <sys/mman.h>, <sched.h>) include it
 * alike.  The values are Linux 6.18's uapi (asm-generic/mman*.h, which
 * x86_64 and arm64 share, linux/mman.h, linux/sched.h, linux/prctl.h) and
 * include/linux/mm.h for vm_flags (as x86_64 defines the arch bits).
 *
 * Names: the syscall-argument values libc also defines (PROT_*, MAP_*,
 * MREMAP_*, MADV_*, MLOCK_*, MCL_*, CLONE_*, PR_*, SIG*, E*, UFFD*) carry a KABI_
 * prefix, so they never meet libc's or vmlinux.h's spelling.  The vm_flags
 * bits keep the kernel's VM_* names: no userspace header defines them and
 * vmlinux.h holds no macros; nothing here is #ifndef-guarded, so any clash
 * is a redefinition error, never a silent different value.
 *
 * May depend on: nothing (it must stay includable by collect.bpf.c).
 */
#ifndef ANONVMA_KABI_H
#define ANONVMA_KABI_H

/* vm_flags bits (include/linux/mm.h), as recorded in snapshots. */
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
#define VM_ARCH_1       0x01000000ULL /* x86: VM_PAT */
#define VM_WIPEONFORK   0x02000000ULL
#define VM_DONTDUMP     0x04000000ULL
#define VM_SOFTDIRTY    0x08000000ULL
#define VM_MIXEDMAP     0x10000000ULL
#define VM_HUGEPAGE     0x20000000ULL
#define VM_NOHUGEPAGE   0x40000000ULL
#define VM_MERGEABLE    0x80000000ULL
/* High bits (64-bit only): shadow stack is VM_HIGH_ARCH_5 on x86. */
#define VM_SHADOW_STACK (1ULL << 37)
#define VM_UFFD_MINOR   (1ULL << 38)
#define VM_DROPPABLE    (1ULL << 40)
#define VM_SEALED       (1ULL << 42)
#define VM_SPECIAL      (VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP)
#define VM_LOCKED_MASK  (VM_LOCKED | VM_LOCKONFAULT)
#define VM_UFFD_MASK    (VM_UFFD_MISSING | VM_UFFD_WP | VM_UFFD_MINOR)

/* mmap / mprotect (asm-generic/mman-common.h, linux/mman.h). */
#define KABI_PROT_READ 0x1
#define KABI_PROT_WRITE 0x2
#define KABI_PROT_EXEC 0x4
#define KABI_MAP_SHARED 0x01
#define KABI_MAP_PRIVATE 0x02
#define KABI_MAP_SHARED_VALIDATE 0x03
#define KABI_MAP_DROPPABLE 0x08
#define KABI_MAP_TYPE 0x0f
#define KABI_MAP_FIXED 0x10
#define KABI_MAP_ANONYMOUS 0x20
#define KABI_MAP_GROWSDOWN 0x0100
#define KABI_MAP_LOCKED 0x2000
#define KABI_MAP_NORESERVE 0x4000
#define KABI_MAP_POPULATE 0x8000
#define KABI_MAP_NONBLOCK 0x10000
#define KABI_MAP_STACK 0x20000
#define KABI_MAP_HUGETLB 0x40000
#define KABI_MAP_SYNC 0x80000

/* mremap (linux/mman.h). */
#define KABI_MREMAP_MAYMOVE 1
#define KABI_MREMAP_FIXED 2
#define KABI_MREMAP_DONTUNMAP 4

/* mlock2 / mlockall (asm-generic/mman*.h). */
#define KABI_MLOCK_ONFAULT 0x1
#define KABI_MCL_CURRENT 1
#define KABI_MCL_FUTURE 2
#define KABI_MCL_ONFAULT 4

/* madvise advice (asm-generic/mman-common.h). */
#define KABI_MADV_NORMAL 0
#define KABI_MADV_RANDOM 1
#define KABI_MADV_SEQUENTIAL 2
#define KABI_MADV_DONTNEED 4
#define KABI_MADV_DONTFORK 10
#define KABI_MADV_DOFORK 11
#define KABI_MADV_MERGEABLE 12
#define KABI_MADV_UNMERGEABLE 13
#define KABI_MADV_HUGEPAGE 14
#define KABI_MADV_NOHUGEPAGE 15
#define KABI_MADV_DONTDUMP 16
#define KABI_MADV_DODUMP 17
#define KABI_MADV_WIPEONFORK 18
#define KABI_MADV_KEEPONFORK 19
#define KABI_MADV_POPULATE_READ 22
#define KABI_MADV_POPULATE_WRITE 23
#define KABI_MADV_DONTNEED_LOCKED 24
#define KABI_MADV_GUARD_INSTALL 102

/* clone flags (linux/sched.h) and the exit signal fork passes. */
#define KABI_CLONE_VM 0x100ULL
#define KABI_CLONE_VFORK 0x4000ULL
/* glibc pthread_create: VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID */
#define KABI_CLONE_THREAD_FLAGS 0x3d0f00ULL
#define KABI_SIGCHLD 17

/* prctl (linux/prctl.h). */
#define KABI_PR_SET_THP_DISABLE 41
#define KABI_PR_SET_VMA 0x53564d41
#define KABI_PR_SET_VMA_ANON_NAME 0

/* errno values the simulator returns or reads (asm-generic/errno-base.h). */
#define KABI_ENOENT 2
#define KABI_ENOMEM 12
#define KABI_EBUSY 16
#define KABI_EEXIST 17

/* userfaultfd (linux/userfaultfd.h): the ioctl type byte and numbers, register
 * modes, API features, UFFDIO_MOVE's mode bits. */
#define KABI_UFFD_IOC_TYPE 0xAA
#define KABI_UFFD_NR_REGISTER 0x00
#define KABI_UFFD_NR_UNREGISTER 0x01
#define KABI_UFFD_NR_COPY 0x03
#define KABI_UFFD_NR_ZEROPAGE 0x04
#define KABI_UFFD_NR_MOVE 0x05
#define KABI_UFFD_NR_CONTINUE 0x07
#define KABI_UFFD_NR_POISON 0x08
#define KABI_UFFD_MODE_MISSING 0x1ULL
#define KABI_UFFD_MODE_WP 0x2ULL
#define KABI_UFFD_MODE_MINOR 0x4ULL
#define KABI_UFFD_FEATURE_EVENT_FORK (1ULL << 1)
#define KABI_UFFD_FEATURE_EVENT_REMAP (1ULL << 2)
#define KABI_UFFD_FEATURE_MOVE (1ULL << 16)
#define KABI_UFFD_MOVE_ALLOW_SRC_HOLES (1ULL << 1)

#endif
