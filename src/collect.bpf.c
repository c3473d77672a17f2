// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * collect.bpf.c - the kernel side of anonvma-collect (libbpf CO-RE).
 *
 * Every program reserves one record in the ring buffer "events", fills it and
 * submits it; a failed reserve is counted in the per-CPU "stats" slot
 * COLLECT_STAT_LOST and user space turns the counts into AVM_LOST events.
 * Records carry raw kernel addresses (mm, object and file pointers); user
 * space maps them to ids, so nothing here needs to know about identity.
 *
 * Sources (eager.md §6):
 *   processes   tp_btf task_newtask (fork: runs in the parent before the
 *               child can run, with the clone flags), sched_process_fork
 *               (the fork's measured latency, see "fork latency" below),
 *               sched_prepare_exec
 *               (the exec event, old and new mm, before the old mm's
 *               exit_mmap), sched_process_exec (snapshot of the new mm with
 *               the bpf_iter_task_vma kfuncs),
 *               sched_process_exit, mmap:exit_mmap, sched_process_free;
 *   syscalls    raw_syscalls sys_enter stashes the arguments per thread in
 *               "sysargs" (and, for fd mappings, the struct file of the fd),
 *               sys_exit emits one event with the result;
 *   faults      exceptions page_fault_user / page_fault_kernel (user addresses);
 *   slab        kmem_cache_alloc / kmem_cache_free of anon_vma, anon_vma_chain
 *               and vm_area_struct: caches found by name once, then by pointer;
 *               call sites classified against the kallsyms ranges in "sites";
 *   others      mmap_lock, migrate, thp, ksm, huge_memory, vmscan, tlb.
 *   snapshots   iter/task_vma (collection start, read by user space) and the
 *               exec path above; one row per VMA plus one row per anon_vma met
 *               on its chain.
 *
 * Fork latency: sys_enter stamps the entry of fork, vfork, clone and clone3
 * in the thread's "sysargs" entry (nothing else for other syscalls);
 * task_newtask, finding the stamp, parks the FORK record in that entry
 * instead of emitting it; sched_process_fork, right after copy_process in
 * the same thread, emits it with e = now - entry.  sched_process_fork comes
 * before the child is woken, so a vfork parent's wait for its child is not
 * in it (the syscall's exit would be); f = the thread's context switches in
 * between (0: it ran throughout, so e is the fork's own time plus interrupts).
 * Without a stamp (a fork outside those
 * syscalls: io_uring workers, kernel threads) FORK is emitted at once with
 * e = 0, "not measured".  sys_exit drops the entry as for every syscall.
 *
 * Filtering: with filter_on, only tasks whose tgid is in "tracked" (seeded by
 * user space, extended at fork) or whose comm matches are recorded.  The
 * collector's own tgid is never recorded.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "collect.h"
#include "kabi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* --- load-time parameters (set by collect.c through the skeleton) ------- */
const volatile __u32 self_tgid;
const volatile __u32 filter_on;
const volatile __u32 comm_on;
const volatile char comm_want[16];
const volatile __u64 user_addr_max = 0x00007ffffffff000ULL;
const volatile __u32 sites_known;
const volatile struct collect_site_range sites[COLLECT_FN_MAX];
const volatile __u32 exit_has_group_dead = 1;
const volatile __u32 page_shift = 12;
const volatile __u32 have_prepare_exec = 1;
const volatile __u32 snap_at_exec = 1;
const volatile __u32 snap_at_exit = 1;  /* --no-exit-snapshots clears it */
const volatile __u64 wake_bytes = 4 << 20;
const volatile __u32 have_fork_tp = 1;  /* sched_process_fork attached: FORK latency */

/* --- state --------------------------------------------------------------- */
__u64 cache_av, cache_avc, cache_vma; /* struct kmem_cache * once named */
__u64 snap_next = 2;                  /* snapshot 1 is the start snapshot */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COLLECT_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} tracked SEC(".maps");

#define SYS_IOV_MAX 8

/* A FORK record parked by task_newtask until sched_process_fork (fork syscalls). */
struct fork_park {
	__u64 enter;  /* bpf_ktime_get_ns() at the syscall's entry */
	__u64 csw;    /* the thread's context switches (nvcsw + nivcsw) at the entry */
	__u64 t;      /* task_newtask: the FORK event's time */
	__u64 pmm, cmm, flags;
	__u32 cpu, ctid, ctgid, parked;
};

struct sys_stash {
	__u32 nr;
	__u32 niov;
	__u64 arg[6];
	__u64 obj;    /* struct file * of the fd (a uffd's for ioctl), or a name hash */
	__u64 tmm;    /* target mm (process_madvise) */
	union {
		__u64 iov[SYS_IOV_MAX][2]; /* process_madvise */
		struct fork_park fork;     /* fork, vfork, clone, clone3 */
	};
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct sys_stash);
} sysargs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);   /* task_struct * */
	__type(value, __u64); /* old mm */
} exec_old SEC(".maps");

/* khugepaged / MADV_COLLAPSE: the index + 1 of a folio the collapse isolated, per thread. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* tid */
	__type(value, __u64);
} collapse_idx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);   /* task_struct * */
	__type(value, __u64); /* snapshot id given at sched_prepare_exec */
} exec_snap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct collect_snap_vma_rec);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);   /* tid << 8 | fn */
	__type(value, __u64); /* entry time */
} rmap_start SEC(".maps");

extern int bpf_iter_task_vma_new(struct bpf_iter_task_vma *it, struct task_struct *task,
				 __u64 addr) __weak __ksym;
extern struct vm_area_struct *bpf_iter_task_vma_next(struct bpf_iter_task_vma *it) __weak __ksym;
extern void bpf_iter_task_vma_destroy(struct bpf_iter_task_vma *it) __weak __ksym;

/* --- syscall numbers and argument registers per architecture ------------- */
#if defined(__TARGET_ARCH_x86)
#define NR_mmap 9
#define NR_mprotect 10
#define NR_munmap 11
#define NR_brk 12
#define NR_mremap 25
#define NR_madvise 28
#define NR_shmat 30
#define NR_execve 59
#define NR_shmdt 67
#define NR_mlock 149
#define NR_munlock 150
#define NR_mlockall 151
#define NR_munlockall 152
#define NR_prctl 157
#define NR_execveat 322
#define NR_mlock2 325
#define NR_pkey_mprotect 329
#define NR_process_madvise 440
#define NR_mseal 462
#define NR_clone 56
#define NR_fork 57
#define NR_vfork 58
#define NR_clone3 435
#define NR_ioctl 16
#define SYSARG(regs, n) \
	((n) == 0 ? BPF_CORE_READ(regs, di) : (n) == 1 ? BPF_CORE_READ(regs, si) : \
	 (n) == 2 ? BPF_CORE_READ(regs, dx) : (n) == 3 ? BPF_CORE_READ(regs, r10) : \
	 (n) == 4 ? BPF_CORE_READ(regs, r8) : BPF_CORE_READ(regs, r9))
#elif defined(__TARGET_ARCH_arm64)
#define NR_shmat 196
#define NR_shmdt 197
#define NR_brk 214
#define NR_munmap 215
#define NR_mremap 216
#define NR_execve 221
#define NR_mmap 222
#define NR_mprotect 226
#define NR_mlock 228
#define NR_munlock 229
#define NR_mlockall 230
#define NR_munlockall 231
#define NR_madvise 233
#define NR_execveat 281
#define NR_mlock2 284
#define NR_pkey_mprotect 288
#define NR_process_madvise 440
#define NR_mseal 462
#define NR_prctl 167
#define NR_clone 220
#define NR_clone3 435
#define NR_fork (-1L)  /* arm64 has only clone and clone3 */
#define NR_vfork (-2L)
#define NR_ioctl 29
#define SYSARG(regs, n) BPF_CORE_READ(regs, regs[n])
#else
#error "anonvma-collect: syscall table for this architecture is missing"
#endif

#define ANON_NAME_MAX 80

/*
 * userfaultfd ioctls (uapi linux/userfaultfd.h): type 0xAA, number in the
 * low byte; the result field's offset in each argument struct.
 */

/* --- helpers -------------------------------------------------------------- */
static __always_inline void stat_inc(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/*
 * Wake the reader only when the ring is a quarter full: it drains the ring
 * every few milliseconds anyway, and a wake-up per record would cost more
 * than the record (a context switch per event on a busy host).  Past the
 * quarter, wake it once per WAKE_STRIDE bytes written (the record whose end
 * lands in the first WAKE_SLACK bytes of a stride), not on every record: a
 * forced wake-up is an irq_work self-IPI (a VM exit under a hypervisor), and
 * one per record while the reader catches up cost more than the record did.
 */
#define WAKE_STRIDE (64 << 10)
#define WAKE_SLACK 512 /* >= the largest record, so no stride is skipped */
_Static_assert(sizeof(struct collect_snap_vma_rec) + 8 <= WAKE_SLACK, "WAKE_SLACK too small");

static __always_inline __u64 wake_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) <= wake_bytes)
		return BPF_RB_NO_WAKEUP;
	return (bpf_ringbuf_query(&events, BPF_RB_PROD_POS) & (WAKE_STRIDE - 1)) < WAKE_SLACK ?
		       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline struct avm_event *ev_new(__u32 kind, __u64 mm)
{
	struct avm_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	__u64 id;

	if (!e) {
		stat_inc(COLLECT_STAT_LOST);
		return NULL;
	}
	id = bpf_get_current_pid_tgid();
	e->seq = 0;
	e->t = bpf_ktime_get_ns();
	e->cpu = bpf_get_smp_processor_id();
	e->tid = (__u32)id;
	e->pid = id >> 32;
	e->kind = kind;
	e->mm = mm;
	e->a = e->b = e->c = e->d = e->e = e->f = 0;
	return e;
}

static __always_inline __u64 current_mm(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();

	return (__u64)BPF_CORE_READ(t, mm);
}

static __always_inline bool comm_matches(const char *c)
{
	for (int i = 0; i < 16; i++) {
		if (c[i] != comm_want[i])
			return false;
		if (!c[i])
			return true;
	}
	return true;
}

/* Is tgid one of the processes we record?  comm (may be NULL) is its name. */
static __always_inline bool traced(__u32 tgid, const char *comm)
{
	__u8 one = 1;

	if (tgid == self_tgid)
		return false;
	if (!filter_on)
		return true;
	if (bpf_map_lookup_elem(&tracked, &tgid))
		return true;
	if (comm_on && comm && comm_matches(comm)) {
		bpf_map_update_elem(&tracked, &tgid, &one, BPF_ANY);
		return true;
	}
	return false;
}

static __always_inline bool traced_current(void)
{
	char comm[16];

	if (!filter_on)
		return (bpf_get_current_pid_tgid() >> 32) != self_tgid;
	if (comm_on)
		bpf_get_current_comm(comm, sizeof(comm));
	return traced(bpf_get_current_pid_tgid() >> 32, comm_on ? comm : NULL);
}

/* The struct file behind fd in the current task's table (0 if none). */
static __always_inline __u64 fd_file(int fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **arr;
	struct file *f = NULL;
	unsigned int max;

	if (!fdt || fd < 0)
		return 0;
	max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return 0;
	arr = BPF_CORE_READ(fdt, fd);
	bpf_core_read(&f, sizeof(f), &arr[fd]);
	return (__u64)f;
}

/* The mm of the process a pidfd refers to (process_madvise target). */
static __always_inline __u64 pidfd_mm(int fd)
{
	struct file *f = (struct file *)fd_file(fd);
	struct pid *pid;
	struct hlist_node *first;
	struct task_struct *task;

	if (!f)
		return 0;
	pid = (struct pid *)BPF_CORE_READ(f, private_data);
	if (!pid)
		return 0;
	first = BPF_CORE_READ(pid, tasks[PIDTYPE_PID].first);
	if (!first)
		return 0;
	task = (void *)first - bpf_core_field_offset(struct task_struct, pid_links);
	return (__u64)BPF_CORE_READ(task, mm);
}

/* FNV-1a of a user string of at most ANON_NAME_MAX bytes; 0 only for NULL. */
static __always_inline __u64 name_hash(const void *uptr)
{
	char buf[ANON_NAME_MAX];
	__u64 h = 0xcbf29ce484222325ULL;
	long n;

	if (!uptr)
		return 0;
	n = bpf_probe_read_user_str(buf, sizeof(buf), uptr);
	for (int i = 0; i < ANON_NAME_MAX; i++) {
		if (i >= n - 1 || !buf[i])
			break;
		h = (h ^ (__u8)buf[i]) * 0x100000001b3ULL;
	}
	return h ? h : 1;
}

/* Context switches of a thread so far: voluntary (it blocked) and involuntary (preempted). */
static __always_inline __u64 task_csw(struct task_struct *t)
{
	return BPF_CORE_READ(t, nvcsw) + BPF_CORE_READ(t, nivcsw);
}

/* --- processes ------------------------------------------------------------ */
SEC("tp_btf/task_newtask")
int BPF_PROG(on_newtask, struct task_struct *task, __u64 clone_flags)
{
	__u32 ptgid = bpf_get_current_pid_tgid() >> 32;
	__u32 ctgid = BPF_CORE_READ(task, tgid);
	__u64 pmm, cmm;
	struct avm_event *e;
	__u8 one = 1;

	if (!traced_current())
		return 0;
	if (filter_on && ctgid != ptgid)
		bpf_map_update_elem(&tracked, &ctgid, &one, BPF_ANY);
	pmm = current_mm();
	cmm = (__u64)BPF_CORE_READ(task, mm);
	if (!pmm && !cmm)
		return 0; /* kernel thread */
	if (have_fork_tp) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		struct sys_stash *sp = bpf_map_lookup_elem(&sysargs, &tid);

		/* in a fork syscall: park the record for sched_process_fork */
		if (sp && sp->fork.enter && !sp->fork.parked &&
		    (sp->nr == NR_clone || sp->nr == NR_clone3 || sp->nr == NR_fork ||
		     sp->nr == NR_vfork)) {
			sp->fork.t = bpf_ktime_get_ns();
			sp->fork.cpu = bpf_get_smp_processor_id();
			sp->fork.pmm = pmm;
			sp->fork.cmm = cmm;
			sp->fork.flags = clone_flags;
			sp->fork.ctid = BPF_CORE_READ(task, pid);
			sp->fork.ctgid = ctgid;
			sp->fork.parked = 1;
			return 0;
		}
	}
	e = ev_new(AVM_FORK, pmm);
	if (!e)
		return 0;
	e->a = cmm;
	e->b = BPF_CORE_READ(task, pid);
	e->c = clone_flags;
	e->d = ctgid;
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/*
 * Right after copy_process returned the child, before it is woken (and before
 * a vfork parent waits for it): emit the FORK record task_newtask parked,
 * with e = the latency from the syscall's entry.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sys_stash *sp = bpf_map_lookup_elem(&sysargs, &tid);
	__u64 now = bpf_ktime_get_ns();
	struct avm_event *e;

	if (!sp || !sp->fork.parked)
		return 0;
	sp->fork.parked = 0;
	e = ev_new(AVM_FORK, sp->fork.pmm);
	if (!e)
		return 0;
	e->t = sp->fork.t;
	e->cpu = sp->fork.cpu;
	e->a = sp->fork.cmm;
	e->b = sp->fork.ctid;
	e->c = sp->fork.flags;
	e->d = sp->fork.ctgid;
	e->e = now > sp->fork.enter ? now - sp->fork.enter : 1;
	e->f = task_csw(parent) - sp->fork.csw; /* 0: ran without being switched out */
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/* Fill one snapshot VMA row in rec and return the number of chain members
 * recorded; the anon_vmas of the chain go out through emit_av. */
static __always_inline void fill_av(struct avm_snap_av *a, __u64 snap, struct anon_vma *av)
{
	a->snap = snap;
	a->id = (__u64)av;
	a->root = (__u64)BPF_CORE_READ(av, root);
	a->parent = (__u64)BPF_CORE_READ(av, parent);
	a->refcount = BPF_CORE_READ(av, refcount.counter);
	a->num_children = BPF_CORE_READ(av, num_children);
	a->num_active_vmas = BPF_CORE_READ(av, num_active_vmas);
	a->pad = 0;
}

static __always_inline void snap_header(struct avm_event *h, __u32 kind, __u64 mm, __u32 tgid,
					__u32 tid)
{
	h->seq = 0;
	h->t = bpf_ktime_get_ns();
	h->cpu = bpf_get_smp_processor_id();
	h->tid = tid;
	h->pid = tgid;
	h->kind = kind;
	h->mm = mm;
	h->a = h->b = h->c = h->d = h->e = h->f = 0;
}

/* State of one chain walk, shared with its bpf_loop callback (on the caller's stack). */
struct chain_walk {
	struct collect_snap_vma_rec *r;
	struct seq_file *seq;
	struct list_head *pos, *head;
	__u64 snap, mm;
	__u32 tgid, tid;
	__u32 n;
	int avs;
	int lost;
};

/*
 * One step of the chain walk: record the anon_vma of the AVC at w->pos and,
 * with avs, emit its anon_vma row.  A bpf_loop callback rather than a bounded
 * loop: the verifier checks the body once instead of once per iteration and
 * branch, which inside a task_vma iterator loop went past its 1M-instruction
 * budget on 6.18.
 */
static long chain_step(__u64 i, void *ctx)
{
	struct chain_walk *w = ctx;
	struct list_head *pos = w->pos; /* a local: CO-RE reads must not go through w */
	struct collect_snap_av_rec ar;
	struct anon_vma_chain *avc;
	struct anon_vma *cav;

	if (!pos || pos == w->head)
		return 1;
	avc = (void *)pos - bpf_core_field_offset(struct anon_vma_chain, same_vma);
	cav = BPF_CORE_READ(avc, anon_vma);
	if (i < AVM_CHAIN_MAX && cav)
		w->r->v.chain[i & (AVM_CHAIN_MAX - 1)] = (__u64)cav;
	if (w->avs && i < AVM_CHAIN_MAX && cav) {
		snap_header(&ar.h, COLLECT_REC_SNAP_AV, w->mm, w->tgid, w->tid);
		fill_av(&ar.a, w->snap, cav);
		if (w->seq) {
			bpf_seq_write(w->seq, &ar, sizeof(ar));
		} else if (bpf_ringbuf_output(&events, &ar, sizeof(ar), wake_flags())) {
			stat_inc(COLLECT_STAT_LOST);
			w->lost = -1;
		}
	}
	w->n++;
	w->pos = BPF_CORE_READ(pos, next);
	return 0;
}

/*
 * Emit one VMA (and, with avs, the anon_vmas on its chain) of snapshot snap.
 * With seq set the rows go to the iterator's seq file, otherwise to the ring
 * buffer.  Exit snapshots are only compared, never adopted: they leave the
 * anon_vma rows out (the chain's ids stay in the VMA row).
 */
static __always_inline int snap_vma(struct vm_area_struct *vma, __u64 snap, __u32 tgid,
				    __u32 tid, struct seq_file *seq, int avs)
{
	struct chain_walk w = { .snap = snap, .tgid = tgid, .tid = tid, .seq = seq, .avs = avs };
	struct collect_snap_vma_rec *r;
	struct list_head *first;
	struct anon_vma *av;
	__u32 zero = 0;
	__u64 mm;

	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return -1;
	mm = (__u64)BPF_CORE_READ(vma, vm_mm);
	snap_header(&r->h, COLLECT_REC_SNAP_VMA, mm, tgid, tid);
	r->v.snap = snap;
	r->v.mm = mm;
	r->v.start = BPF_CORE_READ(vma, vm_start);
	r->v.end = BPF_CORE_READ(vma, vm_end);
	r->v.pgoff = BPF_CORE_READ(vma, vm_pgoff);
	r->v.flags = BPF_CORE_READ(vma, vm_flags);
	r->v.file = (__u64)BPF_CORE_READ(vma, vm_file);
	av = BPF_CORE_READ(vma, anon_vma);
	r->v.anon_vma = (__u64)av;
	r->v.av_root = r->v.av_parent = 0;
	r->v.av_refcount = r->v.av_children = r->v.av_active = 0;
	if (av) {
		r->v.av_root = (__u64)BPF_CORE_READ(av, root);
		r->v.av_parent = (__u64)BPF_CORE_READ(av, parent);
		r->v.av_refcount = BPF_CORE_READ(av, refcount.counter);
		r->v.av_children = BPF_CORE_READ(av, num_children);
		r->v.av_active = BPF_CORE_READ(av, num_active_vmas);
	}
	for (int i = 0; i < AVM_CHAIN_MAX; i++)
		r->v.chain[i] = 0;

	/*
	 * Walk vma->anon_vma_chain head (newest) to tail (eager.md §1.4).  The
	 * task_vma kfuncs may hand out a copy of the VMA, so &vma->anon_vma_chain
	 * need not be the list's head: take the head from the first node's prev
	 * link (an empty list points at itself, so this holds then too).
	 */
	w.r = r;
	w.mm = mm;
	first = BPF_CORE_READ(vma, anon_vma_chain.next);
	w.pos = first;
	w.head = first ? BPF_CORE_READ(first, prev) : NULL;
	bpf_loop(COLLECT_CHAIN_WALK, chain_step, &w, 0);
	if (w.n >= COLLECT_CHAIN_WALK)
		stat_inc(COLLECT_STAT_SNAP_TRUNC);
	r->v.chain_len = w.n;
	if (seq) {
		bpf_seq_write(seq, r, sizeof(*r));
	} else if (bpf_ringbuf_output(&events, r, sizeof(*r), wake_flags())) {
		stat_inc(COLLECT_STAT_LOST);
		w.lost = -1;
	}
	return w.lost;
}

/*
 * Exit snapshot (AVM_SNAPSHOT, reason AVM_SNAP_EXIT): the layout of mm at the
 * end of its life, for --validate to compare with the world; never adopted.
 *
 * Taken when the task leaving mm is its last user (mm_users == 1), from the
 * task itself, before anything is torn down:
 *   - sched_process_exit: do_exit() fires it before exit_mm() (eager.md §6;
 *     mmput -> exit_mmap follows), so the VMAs are all there (a kernel that
 *     fires it after exit_mm has p->mm NULL here: no snapshot);
 *   - sched_prepare_exec, for the old mm: exec_mmap() drops it later.
 * With one user left nothing but this task can change the VMAs any more.
 * A second user (another thread exiting at the same moment, a /proc reader
 * holding the mm) means no snapshot: a missed comparison, never a wrong one.
 * So does a busy mmap_lock (the iterator only trylocks it) or a lost row.
 *
 * Rows go out first, then the SNAPSHOT event (mm, a = id, c = rows), stamped
 * with the time the listing began: in the time-ordered stream it precedes
 * its rows (user space drops the rows of an event it drops) and the task's
 * EXIT or EXEC.  The rows leave the anon_vma rows out (the chain ids stay in
 * each VMA row).
 */
static __always_inline void exit_snapshot(struct task_struct *p, struct mm_struct *mm)
{
	struct bpf_iter_task_vma it;
	struct vm_area_struct *vma;
	__u64 id = bpf_get_current_pid_tgid();
	struct avm_event *e;
	__u64 snap, t0;
	__u32 n = 0;
	int lost = 0;

	if (!snap_at_exit || !mm || BPF_CORE_READ(mm, mm_users.counter) != 1)
		return;
	snap = __sync_fetch_and_add(&snap_next, 1);
	t0 = bpf_ktime_get_ns();
	if (bpf_iter_task_vma_new(&it, p, 0)) {
		bpf_iter_task_vma_destroy(&it);
		stat_inc(COLLECT_STAT_SNAP_MISSED);
		return;
	}
	while ((vma = bpf_iter_task_vma_next(&it))) {
		if (snap_vma(vma, snap, id >> 32, (__u32)id, NULL, 0))
			lost = 1;
		n++;
	}
	bpf_iter_task_vma_destroy(&it);
	if (lost) {
		stat_inc(COLLECT_STAT_SNAP_MISSED);
		return;
	}
	e = ev_new(AVM_SNAPSHOT, (__u64)mm);
	if (!e)
		return;
	e->t = t0; /* ordered before its rows: user space decides on the event first */
	e->a = snap;
	e->b = AVM_SNAP_EXIT;
	e->c = n;
	bpf_ringbuf_submit(e, wake_flags());
}

/*
 * The exec event goes out here, at the point of no return, while the old mm
 * is still the task's: its exit_mmap (if this was its last user) follows
 * before sched_process_exec, and user space must meet the EXEC first.  The
 * snapshot id is kept for sched_process_exec, which lists the new mm.
 */
SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(on_prepare_exec, struct task_struct *task, struct linux_binprm *bprm)
{
	__u64 key = (__u64)task;
	__u64 snap = 0;
	struct avm_event *e;

	if (!traced_current())
		return 0;
	exit_snapshot(task, BPF_CORE_READ(task, mm));
	if (snap_at_exec)
		snap = __sync_fetch_and_add(&snap_next, 1);
	e = ev_new(AVM_EXEC, (__u64)BPF_CORE_READ(task, mm));
	if (!e)
		return 0;
	e->a = (__u64)BPF_CORE_READ(bprm, mm);
	e->b = snap;
	e->c = BPF_CORE_READ(task, pid);
	bpf_ringbuf_submit(e, wake_flags());
	bpf_map_update_elem(&exec_snap, &key, &snap, BPF_ANY);
	return 0;
}

/* Kernels before 6.10 (no sched_prepare_exec): the event goes out here, with
 * the old mm stashed at execve entry; its exit_mmap has already been seen. */
static __always_inline void exec_event_late(struct task_struct *p, pid_t old_pid, __u64 snap)
{
	__u64 key = (__u64)p, old = 0, *stashed;
	struct avm_event *e;

	stashed = bpf_map_lookup_elem(&exec_old, &key);
	if (stashed) {
		old = *stashed;
		bpf_map_delete_elem(&exec_old, &key);
	}
	e = ev_new(AVM_EXEC, old);
	if (!e)
		return;
	e->a = (__u64)BPF_CORE_READ(p, mm);
	e->b = snap;
	e->c = old_pid;
	bpf_ringbuf_submit(e, wake_flags());
}

/* The snapshot id on_prepare_exec gave this exec, or a new one (and the
 * late event) on kernels without sched_prepare_exec. */
static __always_inline __u64 exec_snap_id(struct task_struct *p, pid_t old_pid, int with_snap)
{
	__u64 key = (__u64)p, snap = 0, *stashed;

	if (have_prepare_exec) {
		stashed = bpf_map_lookup_elem(&exec_snap, &key);
		if (stashed) {
			snap = *stashed;
			bpf_map_delete_elem(&exec_snap, &key);
			return snap;
		}
		/*
		 * Not traced at sched_prepare_exec: a --comm match that only the
		 * new name makes.  The old mm is gone; the late event has mm 0.
		 */
	}
	if (with_snap)
		snap = __sync_fetch_and_add(&snap_next, 1);
	exec_event_late(p, old_pid, snap);
	return snap;
}

/* Snapshot of the new mm (kernels with the task_vma kfuncs). */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec_snap, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct bpf_iter_task_vma it;
	struct vm_area_struct *vma;
	__u64 id = bpf_get_current_pid_tgid();
	__u64 snap;

	if (!traced_current())
		return 0;
	snap = exec_snap_id(p, old_pid, 1);
	if (!snap)
		return 0;
	bpf_iter_task_vma_new(&it, p, 0);
	while ((vma = bpf_iter_task_vma_next(&it)))
		snap_vma(vma, snap, id >> 32, (__u32)id, NULL, 1);
	bpf_iter_task_vma_destroy(&it);
	return 0;
}

/* No snapshot (kernels without the kfuncs): only the late event if needed. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec_plain, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct avm_event *e;

	if (!traced_current())
		return 0;
	exec_snap_id(p, old_pid, 0);
	/* User space lists the new mm from /proc/PID/maps: wake it now. */
	e = ev_new(COLLECT_REC_EXEC_DONE, (__u64)BPF_CORE_READ(p, mm));
	if (e)
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u64 mm = (__u64)BPF_CORE_READ(p, mm);
	struct avm_event *e;
	__u64 group_dead = 0;

	if (!mm || !traced_current())
		return 0;
	if (exit_has_group_dead)
		group_dead = (__u8)ctx[1];
	else
		group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
	exit_snapshot(p, (struct mm_struct *)mm);
	e = ev_new(AVM_EXIT, mm);
	if (!e)
		return 0;
	e->a = group_dead;
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/* Not filtered: the last user of an mm may be any task; user space drops
 * releases of address spaces it has never seen. */
SEC("tp_btf/exit_mmap")
int BPF_PROG(on_exit_mmap, struct mm_struct *mm)
{
	struct avm_event *e;

	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	e = ev_new(AVM_MM_RELEASE, (__u64)mm);
	if (e)
		bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/* A process leaves the tracked set when its leader's task_struct goes. */
SEC("tp_btf/sched_process_free")
int BPF_PROG(on_free, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (filter_on && BPF_CORE_READ(p, pid) == tgid)
		bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}

/*
 * userfaultfd ioctls: the ioctl's type byte (0xAA) filters every other
 * ioctl out before any map or file is touched; the fd's file must then be a
 * userfaultfd ("[userfaultfd]" anon inode; /dev/userfaultfd's own ioctl
 * USERFAULTFD_IOC_NEW has the same type and is not one).  The stash keeps
 * a=dst/start, b=len, c=src, d=mode, e=the argument struct (the result is
 * read back from it at exit), f=the ioctl number; obj = the uffd's file,
 * tmm = its ctx->mm (the mm the ioctl changes), iov[0][0] = ctx features.
 */
static __always_inline int uffd_enter(struct sys_stash *st, struct pt_regs *regs)
{
	static const char want[] = "[userfaultfd]";
	unsigned long cmd = SYSARG(regs, 1);
	__u64 uptr = SYSARG(regs, 2);
	struct userfaultfd_ctx *ctx;
	struct file *f;
	const unsigned char *name;
	char got[sizeof(want)] = {};
	__u64 v[4] = {};
	__u32 nr = cmd & 0xff;

	if (((cmd >> 8) & 0xff) != KABI_UFFD_IOC_TYPE)
		return 0;
	if (nr != KABI_UFFD_NR_REGISTER && nr != KABI_UFFD_NR_UNREGISTER && nr != KABI_UFFD_NR_COPY &&
	    nr != KABI_UFFD_NR_ZEROPAGE && nr != KABI_UFFD_NR_MOVE && nr != KABI_UFFD_NR_CONTINUE &&
	    nr != KABI_UFFD_NR_POISON)
		return 0;
	if (!traced_current())
		return 0;
	f = (struct file *)fd_file((int)SYSARG(regs, 0));
	if (!f)
		return 0;
	name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
	if (!name || bpf_probe_read_kernel_str(got, sizeof(got), name) != sizeof(want))
		return 0;
	for (int i = 0; i < (int)sizeof(want); i++)
		if (got[i] != want[i])
			return 0;
	ctx = (struct userfaultfd_ctx *)BPF_CORE_READ(f, private_data);
	if (!ctx || bpf_probe_read_user(v, sizeof(v), (const void *)uptr))
		return 0;
	st->tmm = (__u64)BPF_CORE_READ(ctx, mm);
	st->iov[0][0] = BPF_CORE_READ(ctx, features);
	st->obj = (__u64)f;
	st->arg[4] = uptr;
	st->arg[5] = nr;
	/* uffdio_copy / uffdio_move: dst, src, len, mode; the others: start, len, mode */
	if (nr == KABI_UFFD_NR_COPY || nr == KABI_UFFD_NR_MOVE) {
		st->arg[0] = v[0];
		st->arg[1] = v[2];
		st->arg[2] = v[1];
		st->arg[3] = v[3];
	} else {
		st->arg[0] = v[0];
		st->arg[1] = v[1];
		st->arg[3] = nr == KABI_UFFD_NR_UNREGISTER ? 0 : v[2];
	}
	return 1;
}

/* --- VMA-changing syscalls ----------------------------------------------- */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	struct sys_stash st = {};
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	switch (id) {
	case NR_ioctl:
		if (!uffd_enter(&st, regs))
			return 0;
		st.nr = id;
		bpf_map_update_elem(&sysargs, &tid, &st, BPF_ANY);
		return 0;
	case NR_mmap: case NR_munmap: case NR_mprotect: case NR_pkey_mprotect:
	case NR_mremap: case NR_brk: case NR_madvise: case NR_process_madvise:
	case NR_mlock: case NR_mlock2: case NR_munlock: case NR_mlockall:
	case NR_munlockall: case NR_shmat: case NR_shmdt: case NR_mseal: case NR_prctl:
		break;
	case NR_clone: case NR_clone3: case NR_fork: case NR_vfork:
		/* fork latency: only the entry time (see the comment at the top) */
		if (!have_fork_tp || !traced_current())
			return 0;
		st.nr = id;
		st.fork.csw = task_csw((struct task_struct *)bpf_get_current_task_btf());
		st.fork.enter = bpf_ktime_get_ns();
		bpf_map_update_elem(&sysargs, &tid, &st, BPF_ANY);
		return 0;
	case NR_execve: case NR_execveat:
		/* Kernels before 6.10 have no sched_prepare_exec: stash the old mm here. */
		if (!have_prepare_exec && traced_current()) {
			struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
			__u64 key = (__u64)t, mm = (__u64)BPF_CORE_READ(t, mm);

			bpf_map_update_elem(&exec_old, &key, &mm, BPF_ANY);
		}
		return 0;
	default:
		return 0;
	}
	if (!traced_current())
		return 0;
	st.nr = id;
	st.arg[0] = SYSARG(regs, 0);
	st.arg[1] = SYSARG(regs, 1);
	st.arg[2] = SYSARG(regs, 2);
	st.arg[3] = SYSARG(regs, 3);
	st.arg[4] = SYSARG(regs, 4);
	st.arg[5] = SYSARG(regs, 5);
	if (id == NR_prctl) {
		if (st.arg[0] == KABI_PR_SET_VMA && st.arg[1] == KABI_PR_SET_VMA_ANON_NAME)
			st.obj = name_hash((const void *)st.arg[4]);
		else if (st.arg[0] != KABI_PR_SET_THP_DISABLE)
			return 0;
	} else if (id == NR_mmap) {
		if (!(st.arg[3] & KABI_MAP_ANONYMOUS))
			st.obj = fd_file((int)st.arg[4]);
	} else if (id == NR_process_madvise) {
		struct iovec *uv = (struct iovec *)st.arg[1];
		__u32 n = st.arg[2] < SYS_IOV_MAX ? st.arg[2] : SYS_IOV_MAX;

		st.tmm = pidfd_mm((int)st.arg[0]);
		st.niov = n;
		for (int i = 0; i < SYS_IOV_MAX; i++) {
			struct iovec v;

			if ((__u32)i >= n)
				break;
			if (bpf_probe_read_user(&v, sizeof(v), &uv[i]))
				break;
			st.iov[i][0] = (__u64)v.iov_base;
			st.iov[i][1] = v.iov_len;
		}
	}
	bpf_map_update_elem(&sysargs, &tid, &st, BPF_ANY);
	return 0;
}

struct vma_probe {
	__u64 file, len;
};

static long vma_probe_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_probe *vp = data;

	vp->file = (__u64)BPF_CORE_READ(vma, vm_file);
	vp->len = BPF_CORE_READ(vma, vm_end) - BPF_CORE_READ(vma, vm_start);
	return 0;
}

static __always_inline void emit_sys(__u32 kind, __u64 mm, __s64 a, __s64 b, __s64 c, __s64 d,
				     __s64 ee, __s64 f)
{
	struct avm_event *e = ev_new(kind, mm);

	if (!e)
		return;
	e->a = a;
	e->b = b;
	e->c = c;
	e->d = d;
	e->e = ee;
	e->f = f;
	bpf_ringbuf_submit(e, wake_flags());
}

/*
 * A userfaultfd ioctl's event.  The fill and move ioctls write the bytes
 * they did (or -errno) into their struct's last field and return 0 when
 * all of len was done, -EAGAIN after a part: d = those bytes, else the
 * error.
 */
static __always_inline void uffd_exit(const struct sys_stash *st, long ret)
{
	__u64 nr = st->arg[5], off = 24;
	__s64 res = ret, done = 0;
	__u32 kind;

	switch (nr) {
	case KABI_UFFD_NR_REGISTER: kind = AVM_UFFD_REGISTER; break;
	case KABI_UFFD_NR_UNREGISTER: kind = AVM_UFFD_UNREGISTER; break;
	case KABI_UFFD_NR_COPY: kind = AVM_UFFD_COPY; off = 32; break;
	case KABI_UFFD_NR_ZEROPAGE: kind = AVM_UFFD_ZEROPAGE; break;
	case KABI_UFFD_NR_MOVE: kind = AVM_UFFD_MOVE; off = 32; break;
	case KABI_UFFD_NR_CONTINUE: kind = AVM_UFFD_CONTINUE; break;
	default: kind = AVM_UFFD_POISON; break;
	}
	if (kind != AVM_UFFD_REGISTER && kind != AVM_UFFD_UNREGISTER) {
		if (ret == 0)
			res = (__s64)st->arg[1];
		else if (!bpf_probe_read_user(&done, sizeof(done), (const void *)(st->arg[4] + off)) &&
			 done > 0 && (__u64)done <= st->arg[1])
			res = done;
	}
	if (kind == AVM_UFFD_REGISTER)
		emit_sys(kind, st->tmm, st->arg[0], st->arg[1], st->arg[3], res, st->obj,
			 st->iov[0][0]);
	else
		emit_sys(kind, st->tmm, st->arg[0], st->arg[1], st->arg[2], res, st->obj,
			 st->arg[3]);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sys_stash *sp = bpf_map_lookup_elem(&sysargs, &tid);
	struct sys_stash st;
	__u64 mm;

	if (!sp)
		return 0;
	__builtin_memcpy(&st, sp, sizeof(st));
	bpf_map_delete_elem(&sysargs, &tid);
	mm = current_mm();
	switch (st.nr) {
	case NR_mmap:
		emit_sys(AVM_MMAP, mm, ret, st.arg[1], st.arg[2], st.arg[3], st.obj,
			 st.arg[5] >> page_shift);
		break;
	case NR_munmap:
		emit_sys(AVM_MUNMAP, mm, st.arg[0], st.arg[1], ret, 0, 0, 0);
		break;
	case NR_mprotect:
	case NR_pkey_mprotect:
		emit_sys(AVM_MPROTECT, mm, st.arg[0], st.arg[1], st.arg[2], ret, 0, 0);
		break;
	case NR_mremap:
		emit_sys(AVM_MREMAP, mm, st.arg[0], st.arg[1], st.arg[2], st.arg[3], ret,
			 st.arg[4]);
		break;
	case NR_brk:
		emit_sys(AVM_BRK, mm, st.arg[0], ret, 0, 0, 0, 0);
		break;
	case NR_madvise:
		emit_sys(AVM_MADVISE, mm, st.arg[0], st.arg[1], st.arg[2], ret, 0, 0);
		break;
	case NR_process_madvise:
		for (int i = 0; i < SYS_IOV_MAX; i++) {
			if ((__u32)i >= st.niov)
				break;
			emit_sys(AVM_MADVISE, st.tmm, st.iov[i][0], st.iov[i][1], st.arg[3], ret,
				 0, 0);
		}
		break;
	case NR_mlock:
		emit_sys(AVM_MLOCK, mm, st.arg[0], st.arg[1], 0, ret, 0, 0);
		break;
	case NR_mlock2:
		emit_sys(AVM_MLOCK, mm, st.arg[0], st.arg[1], st.arg[2], ret, 0, 0);
		break;
	case NR_munlock:
		emit_sys(AVM_MUNLOCK, mm, st.arg[0], st.arg[1], 0, ret, 0, 0);
		break;
	case NR_mlockall:
		emit_sys(AVM_MLOCKALL, mm, 0, 0, st.arg[0], ret, 0, 0);
		break;
	case NR_munlockall:
		emit_sys(AVM_MUNLOCKALL, mm, 0, 0, 0, ret, 0, 0);
		break;
	case NR_mseal:
		emit_sys(AVM_MSEAL, mm, st.arg[0], st.arg[1], st.arg[2], ret, 0, 0);
		break;
	case NR_shmat: {
		struct vma_probe vp = {};

		if (ret >= 0)
			bpf_find_vma(bpf_get_current_task_btf(), ret, vma_probe_cb, &vp, 0);
		emit_sys(AVM_SHMAT, mm, ret, vp.len, st.arg[2], 0, vp.file, 0);
		break;
	}
	case NR_shmdt:
		emit_sys(AVM_SHMDT, mm, st.arg[0], 0, 0, ret, 0, 0);
		break;
	case NR_prctl:
		if (st.arg[0] == KABI_PR_SET_THP_DISABLE)
			emit_sys(AVM_PRCTL_THP, mm, st.arg[1], 0, 0, ret, 0, 0);
		else
			emit_sys(AVM_VMA_NAME, mm, st.arg[2], st.arg[3], st.obj, ret, 0, 0);
		break;
	case NR_ioctl:
		uffd_exit(&st, ret);
		break;
	}
	return 0;
}

/* --- faults ---------------------------------------------------------------- */
static __always_inline void emit_fault(unsigned long address, unsigned long error_code,
				       int kernel)
{
	__u64 mm = current_mm();
	struct avm_event *e;

	if (!mm || !traced_current())
		return;
	e = ev_new(AVM_FAULT, mm);
	if (!e)
		return;
	e->a = address;
	e->b = error_code;
	e->c = kernel;
	bpf_ringbuf_submit(e, wake_flags());
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(on_pf_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	emit_fault(address, error_code, 0);
	return 0;
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(on_pf_kernel, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	if (address >= user_addr_max)
		return 0;
	emit_fault(address, error_code, 1);
	return 0;
}

/* --- slab ground truth (eager.md §6.2, observed.md "Slab caches") ----------- */
static __always_inline bool name_is(const char *n, const char *want, int len)
{
	for (int i = 0; i < len; i++)
		if (n[i] != want[i])
			return false;
	return true;
}

/* Which anon rmap cache s is (enum avm_cache), 0 for any other cache. */
static __always_inline int which_cache(__u64 s)
{
	char n[16];
	const char *name;

	if (s == cache_av)
		return AVM_CACHE_ANON_VMA;
	if (s == cache_avc)
		return AVM_CACHE_AVC;
	if (s == cache_vma)
		return AVM_CACHE_VMA;
	if (cache_av && cache_avc && cache_vma)
		return 0;
	name = BPF_CORE_READ((struct kmem_cache *)s, name);
	if (bpf_probe_read_kernel_str(n, sizeof(n), name) < 0)
		return 0;
	if (name_is(n, "anon_vma", 9)) {
		cache_av = s;
		return AVM_CACHE_ANON_VMA;
	}
	if (name_is(n, "anon_vma_chain", 15)) {
		cache_avc = s;
		return AVM_CACHE_AVC;
	}
	if (name_is(n, "vm_area_struct", 15)) {
		cache_vma = s;
		return AVM_CACHE_VMA;
	}
	return 0;
}

static __always_inline bool in_fn(int fn, __u64 ip)
{
	return ip >= sites[fn].start && ip < sites[fn].end;
}

/* Classify a slab event by the function it came from (enum avm_site). */
static __always_inline int classify(int cache, __u64 ip)
{
	if (cache == AVM_CACHE_VMA)
		return AVM_SITE_VMA;
	if (!sites_known)
		return AVM_SITE_UNKNOWN;
	if (in_fn(COLLECT_FN_PREPARE, ip))
		return AVM_SITE_PREPARE;
	if (in_fn(COLLECT_FN_CLONE, ip))
		return AVM_SITE_CLONE;
	if (in_fn(COLLECT_FN_FORK, ip))
		return AVM_SITE_FORK;
	if (in_fn(COLLECT_FN_UNLINK, ip) || in_fn(COLLECT_FN_AVC_FREE, ip))
		return AVM_SITE_UNLINK;
	if (in_fn(COLLECT_FN_PUT, ip))
		return AVM_SITE_PUT;
	return cache == AVM_CACHE_AVC ? AVM_SITE_OTHER : AVM_SITE_UNKNOWN;
}

static __always_inline void emit_slab(__u64 ip, __u64 ptr, __u64 s, int op)
{
	struct avm_event *e;
	int cache = which_cache(s);
	int site;

	if (!cache || !traced_current())
		return;
	site = classify(cache, ip);
	if (site == AVM_SITE_OTHER) {
		/* An epoll or fs_struct object in the merged cache: not ours. */
		stat_inc(COLLECT_STAT_SLAB_OTHER);
		return;
	}
	if (!ptr)
		stat_inc(COLLECT_STAT_SLAB_FAILED);
	e = ev_new(AVM_SLAB, current_mm());
	if (!e)
		return;
	e->a = cache;
	e->b = op;
	e->c = site;
	e->d = ptr;
	e->e = ptr ? 0 : 1;
	bpf_ringbuf_submit(e, wake_flags());
}

SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(on_kc_alloc, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	emit_slab(call_site, (__u64)ptr, (__u64)s, AVM_SLAB_ALLOC);
	return 0;
}

SEC("tp_btf/kmem_cache_free")
int BPF_PROG(on_kc_free, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	if (!ptr)
		return 0;
	emit_slab(call_site, (__u64)ptr, (__u64)s, AVM_SLAB_FREE);
	return 0;
}

/* --- mmap_lock ----------------------------------------------------------------- */
static __always_inline void emit_lock(struct mm_struct *mm, bool write, int phase, int success)
{
	struct avm_event *e;

	if (!traced_current())
		return;
	e = ev_new(AVM_MMAP_LOCK, (__u64)mm);
	if (!e)
		return;
	e->a = write;
	e->b = phase;
	e->c = success;
	bpf_ringbuf_submit(e, wake_flags());
}

SEC("tp_btf/mmap_lock_start_locking")
int BPF_PROG(on_lock_start, struct mm_struct *mm, bool write)
{
	emit_lock(mm, write, AVM_LOCK_START, 0);
	return 0;
}

SEC("tp_btf/mmap_lock_acquire_returned")
int BPF_PROG(on_lock_acquired, struct mm_struct *mm, bool write, bool success)
{
	emit_lock(mm, write, AVM_LOCK_ACQUIRED, success);
	return 0;
}

SEC("tp_btf/mmap_lock_released")
int BPF_PROG(on_lock_released, struct mm_struct *mm, bool write)
{
	emit_lock(mm, write, AVM_LOCK_RELEASED, 1);
	return 0;
}

/* --- migration, KSM, THP, reclaim, TLB: the current task's mm unless named -- */
static __always_inline void emit_misc(__u32 kind, __u64 mm, __s64 a, __s64 b, __s64 c, __s64 d)
{
	struct avm_event *e;

	if (!traced_current())
		return;
	e = ev_new(kind, mm);
	if (!e)
		return;
	e->a = a;
	e->b = b;
	e->c = c;
	e->d = d;
	bpf_ringbuf_submit(e, wake_flags());
}

SEC("tp_btf/mm_migrate_pages_start")
int BPF_PROG(on_migrate_start, enum migrate_mode mode, int reason)
{
	emit_misc(AVM_MIGRATE, current_mm(), AVM_MIGRATE_START, mode, reason, 0);
	return 0;
}

SEC("tp_btf/mm_migrate_pages")
int BPF_PROG(on_migrate_end, unsigned long succeeded, unsigned long failed)
{
	emit_misc(AVM_MIGRATE, current_mm(), AVM_MIGRATE_END, succeeded, failed, 0);
	return 0;
}

SEC("tp_btf/set_migration_pte")
int BPF_PROG(on_set_mig_pte, unsigned long addr, unsigned long pte, int order)
{
	emit_misc(AVM_MIGRATE, current_mm(), AVM_MIGRATE_SET_PTE, addr, order, 0);
	return 0;
}

SEC("tp_btf/remove_migration_pte")
int BPF_PROG(on_rm_mig_pte, unsigned long addr, unsigned long pte, int order)
{
	emit_misc(AVM_MIGRATE, current_mm(), AVM_MIGRATE_REMOVE_PTE, addr, order, 0);
	return 0;
}

SEC("tp_btf/set_migration_pmd")
int BPF_PROG(on_set_mig_pmd, unsigned long addr, unsigned long pmd)
{
	emit_misc(AVM_MIGRATE, current_mm(), AVM_MIGRATE_SET_PMD, addr, 9, 0);
	return 0;
}

SEC("tp_btf/remove_migration_pmd")
int BPF_PROG(on_rm_mig_pmd, unsigned long addr, unsigned long pmd)
{
	emit_misc(AVM_MIGRATE, current_mm(), AVM_MIGRATE_REMOVE_PMD, addr, 9, 0);
	return 0;
}

/*
 * KSM runs in ksmd, not in the process whose page it merges: these events
 * are kept when the rmap_item's mm belongs to a recorded process (its
 * owner's tgid), and carry the item's page address (d, schema version 3),
 * so the replay finds the VMA whose anon_vma the item references.
 */
static __always_inline void emit_ksm(int op, void *rmap_item, void *mm, __s64 pfn, __s64 err)
{
	struct ksm_rmap_item *ri = rmap_item;
	struct mm_struct *m = mm;
	struct avm_event *e;
	__u32 tgid = 0;

	if (filter_on) {
		if (bpf_core_field_exists(m->owner))
			tgid = BPF_CORE_READ(m, owner, tgid);
		if (!tgid || !traced(tgid, NULL))
			return;
	}
	e = ev_new(AVM_KSM, (__u64)mm);
	if (!e)
		return;
	e->a = op;
	e->b = pfn;
	e->c = err;
	e->d = BPF_CORE_READ(ri, address) & ~0xfffULL; /* the low bits are KSM's flags */
	bpf_ringbuf_submit(e, wake_flags());
}

SEC("tp_btf/ksm_merge_with_ksm_page")
int BPF_PROG(on_ksm_merge, void *ksm_page, unsigned long pfn, void *rmap_item, void *mm, int err)
{
	emit_ksm(AVM_KSM_MERGE, rmap_item, mm, pfn, err);
	return 0;
}

SEC("tp_btf/ksm_remove_rmap_item")
int BPF_PROG(on_ksm_remove, unsigned long pfn, void *rmap_item, void *mm)
{
	emit_ksm(AVM_KSM_REMOVE_RMAP, rmap_item, mm, pfn, 0);
	return 0;
}

/* ksmd finished a full scan: every stale rmap_item of the scanned mms is gone (mm 0). */
SEC("tp_btf/ksm_stop_scan")
int BPF_PROG(on_ksm_stop_scan, int seq, __u32 rmap_entries)
{
	struct avm_event *e = ev_new(AVM_KSM, 0);

	if (!e)
		return 0;
	e->a = AVM_KSM_SCAN_END;
	e->b = seq;
	e->c = rmap_entries;
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

SEC("tp_btf/ksm_enter")
int BPF_PROG(on_ksm_enter, void *mm)
{
	emit_misc(AVM_KSM, (__u64)mm, AVM_KSM_ENTER, 0, 0, 0);
	return 0;
}

SEC("tp_btf/ksm_exit")
int BPF_PROG(on_ksm_exit, void *mm)
{
	emit_misc(AVM_KSM, (__u64)mm, AVM_KSM_EXIT, 0, 0, 0);
	return 0;
}

/*
 * A collapse runs in khugepaged or in the MADV_COLLAPSE caller.  Its
 * isolate step names a folio of the range (still mapped there): its index
 * is the linear page index of its first page, which the replay turns into
 * the PMD range through the VMA (b = index + 1, 0 unknown; schema 3).  Kept
 * when the mm belongs to a recorded process, whoever runs it.
 */
SEC("tp_btf/mm_collapse_huge_page_isolate")
int BPF_PROG(on_thp_isolate, struct folio *folio, int none_or_zero, int referenced, int status)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 idx;

	if (!folio)
		return 0;
	idx = BPF_CORE_READ(folio, index) + 1;
	bpf_map_update_elem(&collapse_idx, &tid, &idx, BPF_ANY);
	return 0;
}

SEC("tp_btf/mm_collapse_huge_page")
int BPF_PROG(on_thp_collapse, struct mm_struct *mm, int isolated, int status)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), tgid = 0;
	__u64 *idx = bpf_map_lookup_elem(&collapse_idx, &tid), index = idx ? *idx : 0;
	struct avm_event *e;

	if (idx)
		bpf_map_delete_elem(&collapse_idx, &tid);
	if (filter_on) {
		if (bpf_core_field_exists(mm->owner))
			tgid = BPF_CORE_READ(mm, owner, tgid);
		if (!tgid || !traced(tgid, NULL))
			return 0;
	} else if (!traced_current()) {
		return 0;
	}
	e = ev_new(AVM_THP, (__u64)mm);
	if (!e)
		return 0;
	e->a = AVM_THP_COLLAPSE;
	e->b = index;
	e->c = status;
	e->d = isolated;
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

SEC("tp_btf/mm_khugepaged_scan_pmd")
int BPF_PROG(on_thp_scan, struct mm_struct *mm, struct folio *folio, int referenced,
	     int none_or_zero, int status)
{
	emit_misc(AVM_THP, (__u64)mm, AVM_THP_SCAN, 0, status, referenced);
	return 0;
}

SEC("tp_btf/mm_vmscan_lru_shrink_inactive")
int BPF_PROG(on_shrink_inactive, int nid, unsigned long nr_scanned, unsigned long nr_reclaimed,
	     struct reclaim_stat *stat, int priority, int file)
{
	emit_misc(AVM_RECLAIM, 0, nr_scanned, nr_reclaimed, 0, file);
	return 0;
}

SEC("tp_btf/mm_vmscan_lru_shrink_active")
int BPF_PROG(on_shrink_active, int nid, unsigned long nr_taken, unsigned long nr_active,
	     unsigned long nr_deactivated, unsigned long nr_referenced, int priority, int file)
{
	emit_misc(AVM_RECLAIM, 0, nr_taken, nr_deactivated, 1, file);
	return 0;
}

SEC("tp_btf/tlb_flush")
int BPF_PROG(on_tlb_flush, int reason, unsigned long pages)
{
	__u64 mm = current_mm();

	if (!mm)
		return 0;
	emit_misc(AVM_TLB_FLUSH, mm, reason, pages, 0, 0);
	return 0;
}

/* --- fentry mode: rmap function durations (where the kernel allows it) ------- */
static __always_inline void rmap_enter(__u32 fn)
{
	__u64 key = (bpf_get_current_pid_tgid() << 8) | fn;
	__u64 now = bpf_ktime_get_ns();

	if (!traced_current())
		return;
	bpf_map_update_elem(&rmap_start, &key, &now, BPF_ANY);
}

static __always_inline void rmap_exit(__u32 fn, __s64 ret)
{
	__u64 key = (bpf_get_current_pid_tgid() << 8) | fn;
	__u64 *start = bpf_map_lookup_elem(&rmap_start, &key);
	struct avm_event *e;
	__u64 t0;

	if (!start)
		return;
	t0 = *start;
	bpf_map_delete_elem(&rmap_start, &key);
	e = ev_new(AVM_RMAP_CALL, current_mm());
	if (!e)
		return;
	e->a = fn;
	e->b = e->t - t0;
	e->c = ret;
	bpf_ringbuf_submit(e, wake_flags());
}

SEC("fentry/__anon_vma_prepare")
int BPF_PROG(fe_prepare)
{
	rmap_enter(AVM_RMAP_PREPARE);
	return 0;
}

SEC("fexit/__anon_vma_prepare")
int BPF_PROG(fx_prepare, struct vm_area_struct *vma, int ret)
{
	rmap_exit(AVM_RMAP_PREPARE, ret);
	return 0;
}

SEC("fentry/anon_vma_fork")
int BPF_PROG(fe_fork)
{
	rmap_enter(AVM_RMAP_FORK);
	return 0;
}

SEC("fexit/anon_vma_fork")
int BPF_PROG(fx_fork, struct vm_area_struct *vma, struct vm_area_struct *pvma, int ret)
{
	rmap_exit(AVM_RMAP_FORK, ret);
	return 0;
}

SEC("fentry/unlink_anon_vmas")
int BPF_PROG(fe_unlink)
{
	rmap_enter(AVM_RMAP_UNLINK);
	return 0;
}

SEC("fexit/unlink_anon_vmas")
int BPF_PROG(fx_unlink)
{
	rmap_exit(AVM_RMAP_UNLINK, 0);
	return 0;
}

/* --- start snapshot: every VMA of every (recorded) process --------------------- */
SEC("iter/task_vma")
int snap_iter(struct bpf_iter__task_vma *ctx)
{
	struct task_struct *task = ctx->task;
	struct vm_area_struct *vma = ctx->vma;
	char comm[16];
	__u32 tgid;

	if (!task || !vma)
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	if (comm_on)
		BPF_CORE_READ_STR_INTO(&comm, task, comm);
	if (!traced(tgid, comm_on ? comm : NULL))
		return 0;
	snap_vma(vma, 1, tgid, BPF_CORE_READ(task, pid), ctx->meta->seq, 1);
	return 0;
}
