/*
 * evbuild.h - build trace events inline and feed them to a world, for model
 * and simulator tests (cmocka).  Include after <cmocka.h>'s prerequisites;
 * this header includes them itself.
 *
 *   struct world *w = tw_world("eager", 3);        // profile P3, checker on
 *   tw(w, ev_mmap(1, A, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS));
 *   struct tw_mark m = tw_mark(w);
 *   tw(w, ev_write(1, A));
 *   tw_assert_delta(w, &m, 1, 0, 1, 0);            // +1 AV, +1 AVC (eager.md §2.2)
 *
 * Every tw() call fails the test with the world's message if the event is
 * rejected or an invariant breaks (the checker runs after every event).
 */
#ifndef ANONVMA_TESTS_EVBUILD_H
#define ANONVMA_TESTS_EVBUILD_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "arch.h"
#include "config.h"
#include "event.h"
#include "kabi.h"
#include "locks.h"
#include "mm.h"
#include "model.h"
#include "world_test.h"

#define PG 4096ULL
#define RW (KABI_PROT_READ | KABI_PROT_WRITE)
#define ANON (KABI_MAP_PRIVATE | KABI_MAP_ANONYMOUS)

static inline struct avm_event ev_base(uint64_t mm, uint32_t kind)
{
	struct avm_event ev = { 0 };

	ev.mm = mm;
	ev.kind = kind;
	ev.pid = (uint32_t)mm;
	ev.tid = (uint32_t)mm;
	return ev;
}

/* mmap at addr (the result), anonymous unless file != 0. */
static inline struct avm_event ev_mmap_file(uint64_t mm, uint64_t addr, uint64_t len, int prot,
					    int flags, uint64_t file, uint64_t pgoff)
{
	struct avm_event ev = ev_base(mm, AVM_MMAP);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)len;
	ev.c = prot;
	ev.d = flags;
	ev.e = (int64_t)file;
	ev.f = (int64_t)pgoff;
	return ev;
}

static inline struct avm_event ev_mmap(uint64_t mm, uint64_t addr, uint64_t len, int prot, int flags)
{
	return ev_mmap_file(mm, addr, len, prot, flags, 0, 0);
}

static inline struct avm_event ev_munmap(uint64_t mm, uint64_t addr, uint64_t len)
{
	struct avm_event ev = ev_base(mm, AVM_MUNMAP);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)len;
	return ev;
}

static inline struct avm_event ev_mprotect(uint64_t mm, uint64_t addr, uint64_t len, int prot)
{
	struct avm_event ev = ev_base(mm, AVM_MPROTECT);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)len;
	ev.c = prot;
	return ev;
}

/* mremap: result = new address (or -errno); newaddr = the requested one (MREMAP_FIXED). */
static inline struct avm_event ev_mremap(uint64_t mm, uint64_t old, uint64_t oldlen,
					 uint64_t newlen, int flags, int64_t result, uint64_t newaddr)
{
	struct avm_event ev = ev_base(mm, AVM_MREMAP);

	ev.a = (int64_t)old;
	ev.b = (int64_t)oldlen;
	ev.c = (int64_t)newlen;
	ev.d = flags;
	ev.e = result;
	ev.f = (int64_t)newaddr;
	return ev;
}

static inline struct avm_event ev_brk(uint64_t mm, uint64_t req, uint64_t result)
{
	struct avm_event ev = ev_base(mm, AVM_BRK);

	ev.a = (int64_t)req;
	ev.b = (int64_t)result;
	return ev;
}

static inline struct avm_event ev_madvise(uint64_t mm, uint64_t addr, uint64_t len, int advice)
{
	struct avm_event ev = ev_base(mm, AVM_MADVISE);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)len;
	ev.c = advice;
	return ev;
}

static inline struct avm_event ev_mlock(uint64_t mm, uint64_t addr, uint64_t len, int flags)
{
	struct avm_event ev = ev_base(mm, AVM_MLOCK);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)len;
	ev.c = flags;
	return ev;
}

static inline struct avm_event ev_munlock(uint64_t mm, uint64_t addr, uint64_t len)
{
	struct avm_event ev = ev_base(mm, AVM_MUNLOCK);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)len;
	return ev;
}

static inline struct avm_event ev_mlockall(uint64_t mm, int flags)
{
	struct avm_event ev = ev_base(mm, AVM_MLOCKALL);

	ev.c = flags;
	return ev;
}

static inline struct avm_event ev_munlockall(uint64_t mm)
{
	return ev_base(mm, AVM_MUNLOCKALL);
}

static inline struct avm_event ev_vma_name(uint64_t mm, uint64_t addr, uint64_t len, uint64_t name)
{
	struct avm_event ev = ev_base(mm, AVM_VMA_NAME);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)len;
	ev.c = (int64_t)name;
	return ev;
}

static inline struct avm_event ev_thp_disable(uint64_t mm, int value)
{
	struct avm_event ev = ev_base(mm, AVM_PRCTL_THP);

	ev.a = value;
	return ev;
}

/* A page fault with an x86 error code (AVM_PF_*). */
static inline struct avm_event ev_fault(uint64_t mm, uint64_t addr, uint64_t code)
{
	struct avm_event ev = ev_base(mm, AVM_FAULT);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)code;
	return ev;
}

static inline struct avm_event ev_write(uint64_t mm, uint64_t addr)
{
	return ev_fault(mm, addr, AVM_PF_WRITE | AVM_PF_USER);
}

static inline struct avm_event ev_read(uint64_t mm, uint64_t addr)
{
	return ev_fault(mm, addr, AVM_PF_USER);
}

/* Write to a present read-only PTE (COW of the zero page, a file page or a shared anon page). */
static inline struct avm_event ev_write_present(uint64_t mm, uint64_t addr)
{
	return ev_fault(mm, addr, AVM_PF_PROT | AVM_PF_WRITE | AVM_PF_USER);
}

static inline struct avm_event ev_populate(uint64_t mm, uint64_t addr, uint64_t len, int write)
{
	struct avm_event ev = ev_base(mm, AVM_POPULATE);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)len;
	ev.c = write;
	return ev;
}

/* fork without CLONE_VM: dup_mmap of parent into the new mm child. */
static inline struct avm_event ev_fork(uint64_t parent, uint64_t child)
{
	struct avm_event ev = ev_base(parent, AVM_FORK);

	ev.a = (int64_t)child;
	ev.b = (int64_t)child;
	ev.d = (int64_t)child;
	return ev;
}

/* A thread or vfork child: shares mm (CLONE_VM). */
static inline struct avm_event ev_clone_vm(uint64_t mm)
{
	struct avm_event ev = ev_base(mm, AVM_FORK);

	ev.a = (int64_t)mm;
	ev.c = (int64_t)(KABI_CLONE_VM | KABI_CLONE_VFORK);
	return ev;
}

static inline struct avm_event ev_exit(uint64_t mm)
{
	struct avm_event ev = ev_base(mm, AVM_EXIT);

	ev.a = 1;
	return ev;
}

static inline struct avm_event ev_exec(uint64_t old_mm, uint64_t new_mm, uint64_t snap)
{
	struct avm_event ev = ev_base(old_mm, AVM_EXEC);

	ev.a = (int64_t)new_mm;
	ev.b = (int64_t)snap;
	return ev;
}

/* Set a syscall event's result field to a failure (-errno). */
/* A VMA row of snapshot 1: pgoff linear for anonymous rows; av != 0 gives it a
 * fresh root anon_vma of its own (chain of one), as exec leaves the stack. */
static inline struct avm_snap_vma ev_snap_row(uint64_t mm, uint64_t start, uint64_t end, uint64_t flags,
						    uint64_t file, uint64_t av)
{
	struct avm_snap_vma r;

	memset(&r, 0, sizeof(r));
	r.snap = 1;
	r.mm = mm;
	r.start = start;
	r.end = end;
	r.pgoff = file ? 0 : start / PG;
	r.flags = flags;
	r.file = file;
	if (av) {
		r.anon_vma = av;
		r.av_root = av;
		r.av_parent = av;
		r.av_refcount = 1;
		r.av_children = 1;
		r.av_active = 1;
		r.chain_len = 1;
		r.chain[0] = av;
	}
	return r;
}

/* vm_flags of a private writable data mapping, as snapshots record them. */
#define EV_DATA_FLAGS (VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT)

static inline struct avm_event ev_failed(struct avm_event ev, int64_t neg_errno)
{
	switch (ev.kind) {
	case AVM_MMAP: case AVM_SHMAT: ev.a = neg_errno; break;
	case AVM_MUNMAP: ev.c = neg_errno; break;
	case AVM_MREMAP: ev.e = neg_errno; break;
	default: ev.d = neg_errno; break;
	}
	return ev;
}

/*
 * A world for one model and config, with the invariant checker on; arch
 * (may be NULL) turns on page tables, lock holds and costs (arch.h).
 */
static inline struct world *tw_world_arch(const char *model, const struct config *cfg,
					  const struct arch *arch)
{
	struct world_meta meta;
	struct world *w = NULL;
	struct avm_err err = { { 0 } };
	const struct model_ops *ops = model_find(model);

	assert_non_null(ops);
	world_meta_defaults(&meta);
	meta.arch = arch;
	if (world_create(cfg, ops, &meta, &w, &err))
		fail_msg("world_create: %s", err.msg);
	world_set_check(w, true);
	return w;
}

/* The same without an arch model. */
static inline struct world *tw_world_cfg(const char *model, const struct config *cfg)
{
	return tw_world_arch(model, cfg, NULL);
}

/* The config every hand-built test starts from: profile, THP madvise, nothing from a trace. */
static inline void tw_config(struct config *cfg, int profile)
{
	config_defaults(cfg);
	cfg->profile = profile;
	cfg->thp_from_trace = false;
	cfg->thp_enabled = 1; /* madvise: no THP unless MADV_HUGEPAGE */
}

static inline struct world *tw_world(const char *model, int profile)
{
	struct config cfg;

	tw_config(&cfg, profile);
	return tw_world_cfg(model, &cfg);
}

/* The shipped x86_64-4level model, loaded once per test program (lock sections and costs). */
static inline const struct arch *tw_x86(void)
{
	static struct arch x86;
	struct avm_err err = { { 0 } };

	if (!x86.name[0] && arch_load("x86_64-4level", NULL, &x86, &err))
		fail_msg("%s", err.msg);
	return &x86;
}

/* A world with x86_64 costs and the hand-built config, changed by tweak (may be NULL). */
static inline struct world *tw_world_x86(const char *model, void (*tweak)(struct config *c))
{
	struct config cfg;

	tw_config(&cfg, 3);
	if (tweak)
		tweak(&cfg);
	return tw_world_arch(model, &cfg, tw_x86());
}

/* ns per unit of op in the x86_64 model: what the expected hold lengths are made of. */
static inline uint64_t tw_x86_ns(enum locks_op op)
{
	return tw_x86()->rmap.ns[op];
}

/* The summary of one lock class and mode of a world. */
static inline struct locks_summary tw_lock_sum(struct world *w, enum locks_class c,
					       enum locks_mode m)
{
	struct locks_summary s;

	locks_summary(world_locks(w), c, m, &s);
	return s;
}

/* Apply one event; fail the test on error. */
#define tw(w, ev) tw_apply_at((w), (ev), __FILE__, __LINE__)
static inline void tw_apply_at(struct world *w, struct avm_event ev, const char *file, int line)
{
	struct avm_err err = { { 0 } };

	if (world_apply(w, &ev, &err))
		fail_msg("%s:%d: world_apply(kind %u): %s", file, line, ev.kind, err.msg);
}

/* Allocation counters at one point, for deltas. */
struct tw_mark {
	uint64_t av_allocs, av_frees, avc_allocs, avc_frees, vma_allocs, vma_frees;
};

static inline struct tw_mark tw_mark(struct world *w)
{
	const struct model_stats *s = world_stats(w);
	struct tw_mark m = {
		s->obj[MODEL_OBJ_ANON_VMA].allocs, s->obj[MODEL_OBJ_ANON_VMA].frees,
		s->obj[MODEL_OBJ_AVC].allocs, s->obj[MODEL_OBJ_AVC].frees,
		s->obj[MODEL_OBJ_VMA].allocs, s->obj[MODEL_OBJ_VMA].frees,
	};
	return m;
}

/* anon_vma and anon_vma_chain allocations/frees since mark. */
#define tw_assert_delta(w, mark, av_a, av_f, avc_a, avc_f) \
	tw_assert_delta_at((w), (mark), (av_a), (av_f), (avc_a), (avc_f), __FILE__, __LINE__)
static inline void tw_assert_delta_at(struct world *w, const struct tw_mark *m, uint64_t av_a,
				      uint64_t av_f, uint64_t avc_a, uint64_t avc_f,
				      const char *file, int line)
{
	struct tw_mark n = tw_mark(w);

	if (n.av_allocs - m->av_allocs != av_a || n.av_frees - m->av_frees != av_f ||
	    n.avc_allocs - m->avc_allocs != avc_a || n.avc_frees - m->avc_frees != avc_f)
		fail_msg("%s:%d: anon_vma +%llu/-%llu anon_vma_chain +%llu/-%llu, expected "
			 "+%llu/-%llu +%llu/-%llu", file, line,
			 (unsigned long long)(n.av_allocs - m->av_allocs),
			 (unsigned long long)(n.av_frees - m->av_frees),
			 (unsigned long long)(n.avc_allocs - m->avc_allocs),
			 (unsigned long long)(n.avc_frees - m->avc_frees),
			 (unsigned long long)av_a, (unsigned long long)av_f,
			 (unsigned long long)avc_a, (unsigned long long)avc_f);
}

/* Live objects now. */
static inline uint64_t tw_live(struct world *w, enum model_obj o)
{
	return world_stats(w)->obj[o].live;
}

static inline struct mm_space *tw_mm(struct world *w, uint64_t mm)
{
	return mm_sim_find(world_sim(w), mm);
}

static inline size_t tw_vma_count(struct world *w, uint64_t mm)
{
	struct mm_space *s = tw_mm(w, mm);

	return s ? mm_space_vma_count(s) : 0;
}

static inline struct mm_vma *tw_vma(struct world *w, uint64_t mm, uint64_t addr)
{
	struct mm_space *s = tw_mm(w, mm);

	return s ? mm_find_vma(s, addr) : NULL;
}

/* Assert the VMA containing addr spans [start, end). */
#define tw_assert_vma(w, mm, addr, start, end) \
	tw_assert_vma_at((w), (mm), (addr), (start), (end), __FILE__, __LINE__)
static inline void tw_assert_vma_at(struct world *w, uint64_t mm, uint64_t addr, uint64_t start,
				    uint64_t end, const char *file, int line)
{
	struct mm_vma *v = tw_vma(w, mm, addr);

	if (!v)
		fail_msg("%s:%d: no VMA at %#llx", file, line, (unsigned long long)addr);
	if (v->start != start || v->end != end)
		fail_msg("%s:%d: VMA at %#llx is [%#llx, %#llx), expected [%#llx, %#llx)", file, line,
			 (unsigned long long)addr, (unsigned long long)v->start,
			 (unsigned long long)v->end, (unsigned long long)start,
			 (unsigned long long)end);
}

static inline bool tw_faulted(struct world *w, uint64_t mm, uint64_t addr)
{
	struct mm_vma *v = tw_vma(w, mm, addr);

	assert_non_null(v);
	return world_ops(w)->has_anon(world_model(w), v);
}

/* The owner token a new folio in the VMA at addr would get (eager: its anon_vma). */
static inline uint64_t tw_owner(struct world *w, uint64_t mm, uint64_t addr)
{
	struct mm_vma *v = tw_vma(w, mm, addr);

	assert_non_null(v);
	return world_ops(w)->folio_owner(world_model(w), v);
}

struct tw_page_find {
	uint64_t addr, owner, folio;
	int found;
};

static inline int tw_page_cb(void *ctx, uint64_t addr, uint64_t *owner, uint64_t folio)
{
	struct tw_page_find *p = ctx;

	if (addr != p->addr)
		return 0;
	p->owner = *owner;
	p->folio = folio;
	p->found = 1;
	return 1;
}

/* The anon folio mapped at addr: its owner token and id (0/0 if none). */
static inline struct tw_page_find tw_page(struct world *w, uint64_t mm, uint64_t addr)
{
	struct tw_page_find p = { addr & ~(PG - 1), 0, 0, 0 };
	struct mm_vma *v = tw_vma(w, mm, addr);

	if (v)
		mm_vma_for_each_page(v, tw_page_cb, &p);
	return p;
}

/*
 * userfaultfd ioctls (event.h kinds 90-96) on uffd `uffd` (its file id, the
 * ctx identity).  done = the bytes the ioctl did, or -errno.
 */
static inline struct avm_event ev_uffd_register(uint64_t mm, uint64_t addr, uint64_t len,
						uint64_t uffd, uint64_t mode, uint64_t features)
{
	struct avm_event ev = ev_base(mm, AVM_UFFD_REGISTER);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)len;
	ev.c = (int64_t)mode;
	ev.e = (int64_t)uffd;
	ev.f = (int64_t)features;
	return ev;
}

static inline struct avm_event ev_uffd_unregister(uint64_t mm, uint64_t addr, uint64_t len,
						  uint64_t uffd)
{
	struct avm_event ev = ev_base(mm, AVM_UFFD_UNREGISTER);

	ev.a = (int64_t)addr;
	ev.b = (int64_t)len;
	ev.e = (int64_t)uffd;
	return ev;
}

/* COPY, ZEROPAGE, MOVE, CONTINUE, POISON: kind, dst, len, src (COPY/MOVE), done. */
static inline struct avm_event ev_uffd_op(uint64_t mm, uint32_t kind, uint64_t dst, uint64_t len,
					  uint64_t src, int64_t done, uint64_t uffd)
{
	struct avm_event ev = ev_base(mm, kind);

	ev.a = (int64_t)dst;
	ev.b = (int64_t)len;
	ev.c = (int64_t)src;
	ev.d = done;
	ev.e = (int64_t)uffd;
	return ev;
}

#endif
