/*
 * mm.c - the address-space simulator (see mm.h): mms, VMAs, syscalls, faults
 * and pages, following the kernel's mm/vma.c, mm/mmap.c, mm/mremap.c,
 * mm/mprotect.c, mm/madvise.c, mm/mlock.c, mm/memory.c and kernel/fork.c as
 * eager.md §2.7, §3 and §7 describe them.  The anon rmap itself is the
 * model's (model.h); this file decides *when* it is involved.
 *
 * Data layout
 *   mm_sim    one u64map mm id -> mm_space; counters; the model and its ops.
 *   mm_space  the VMAs of one mm as a sorted array of pointers (binary search
 *             by address; insert/remove memmove pointers - cheap next to the
 *             event rate, and neighbours are the adjacent slots); brk,
 *             def_flags, THP-disable; a u64map of 2 MiB "chunks".
 *   chunk     one PMD-sized region: whether its PMD is populated (a page
 *             table exists under it: eager.md §2.8) and, once anon pages are
 *             mapped there, an array of folio pointers, one per page.
 *   folio     an anonymous folio: id, owner token (model_ops.folio_owner:
 *             what folio->mapping would name), index (linear pgoff), size in
 *             pages and the number of page-table entries mapping it over all
 *             mms (the sharing test after fork: COW copy vs reuse).
 *   Only anonymous folios are tracked: page-cache pages and the zero page
 *   never involve the anon rmap.
 *
 * Kernel order is kept where it is visible in the model's counts: munmap
 * gathers, splits the edges (first piece split off below, last piece split
 * off above), zaps pages, unlinks every detached VMA in address order and
 * only then frees the VMA objects; MAP_FIXED unlinks the overlapped VMAs
 * before it tries the merge; mremap copies (copy_vma) and then unmaps the
 * source; exit_mmap zaps, unlinks in address order, frees.
 *
 * Locks the simulator itself records (mm_sim_set_locks): the mainline VMA
 * write locks of split, merge, munmap, mprotect (& co.) and dup_mmap, once
 * per VMA and operation (vma_wlock), in every world.  THP splits have no
 * tracepoint: thp_cut infers one where a cut falls inside a PMD-mapped folio
 * and hands it to the model (model_ops.thp_split).
 */
#include "mm.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "array.h"
#include "kabi.h"
#include "locks.h"
#include "u64map.h"

#define VM_ACCESS_FLAGS (VM_READ | VM_WRITE | VM_EXEC)
/* VM_DATA_DEFAULT_FLAGS on x86_64 without READ_IMPLIES_EXEC. */
#define VM_DATA_DEFAULT (VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)
/* Fake file ids for shmem (shared anonymous) and anonymous hugetlb mappings. */
#define FAKE_FILE_BASE (1ULL << 62)
/* How far below a VM_GROWSDOWN VMA a fault may land and still expand it. */
#define STACK_GROW_MAX (256ULL << 20)
#define FOLIO_BLOCK 4096
/* uffd ctx ids the simulator makes: a fork child's (EVENT_FORK) and an unknown one's */
#define UFFD_CHILD_CTX (1ULL << 61)
#define UFFD_UNKNOWN_CTX (1ULL << 60)

struct folio {
	uint64_t id, owner, index;
	uint32_t nr, maps;
	bool split_seen; /* a THP split was inferred for it (thp_cut) */
	struct folio *next_free; /* the simulator's folio pool */
};

/*
 * The page slots of one chunk.  After fork, parent and child share one
 * array (refs > 1) until either writes to it (copy on write): fork and exit
 * then cost O(chunks), not O(pages).  A folio's maps counts the arrays that
 * hold it; through a shared array it is mapped refs times, so it is shared.
 */
struct slots {
	uint32_t refs;     /* chunks (of different mms) using this array */
	uint32_t npages;
	uint64_t *bits;    /* occupancy bitmap of pg (same allocation) */
	struct slots *next_free;
	struct folio *pg[];
};

struct chunk {
	struct slots *sl;  /* NULL until a page is mapped */
	bool pmd;          /* a page table exists under this PMD */
	bool thp;          /* ... and it maps a THP or the huge zero page (not split since) */
};

struct mm_space {
	uint64_t id;
	int64_t users;
	bool users_unknown; /* adopted or opaque: threads from before the trace are unknown */
	bool opaque;        /* made by an event on an mm the world did not have */
	struct mm_vma **vma;
	size_t nvma, cap;
	uint64_t start_brk, brk;
	bool brk_known;
	uint64_t def_flags;
	bool thp_disabled;
	struct u64map chunks; /* (addr >> pmd_shift) + 1 -> struct chunk */
	struct mm_sim *sim;
	struct arch_pt *pt;   /* page tables (arch.h), NULL when not modelled */
};

struct mm_sim {
	struct mm_sim_params p;
	const struct model_ops *ops;
	struct model *model;
	struct model_stats *ms;
	struct mm_sim_stats st;
	struct u64map mms;
	struct u64map made;       /* skip_unknown_mm: every mm id ever made (value 1) */
	struct u64map uffd_features; /* uffd ctx id -> its UFFD_FEATURE_* + 1 (REGISTER events) */
	uint64_t uffd_reg_ctx;    /* the ctx a MOD_UFFD_REGISTER in progress registers */
	uint64_t next_vma_id, next_folio_id, next_fake_file;
	struct folio *folio_pool;
	struct mm_vma *vma_pool;  /* freed VMA objects, linked through ->anon */
	void **folio_blocks;      /* folios are carved from blocks of FOLIO_BLOCK */
	size_t nfolio_blocks;
	struct slots *slots_pool; /* free slot arrays (4 KiB each): malloc is hot */
	size_t slots_pooled;
	unsigned page_shift, pmd_shift;
	uint64_t move_len;        /* bytes an mremap in progress moves (mm_sim_move_len) */
	uint64_t chunk_pages;
	uint32_t cpu;         /* CPU of the event being applied (TLB-flush IPIs) */
	uint64_t now;         /* trace time (ns) of the event being applied */
	/* mainline VMA write locks (mm_sim_set_locks): NULL = not recorded */
	struct locks *locks;
	const struct model_clock *clock;
	uint64_t op_seq;      /* the operation being applied: vma_start_write's "this hold" */
	/* mm ids in ascending order for the folio cursor (rmap walk pressure), rebuilt when dirty */
	uint64_t *mm_ids;
	size_t nmm_ids;
	bool mm_ids_dirty;
	uint64_t fault_next;  /* end of the large folio the last fault mapped (populate skips it) */
	/* KSM: mm id -> struct u64map of (page number + 1) -> struct ksm_pin */
	struct u64map ksm;
};

/* A stable KSM rmap_item of one page: the model's pin (model_ops.ksm_pin). */
struct ksm_pin {
	uint64_t token;
	bool stale; /* MADV_UNMERGEABLE broke it: ksmd drops it at its next full scan */
};

/* Proposed VMA attributes (the kernel's vma_merge_struct fields that matter). */
struct vattr {
	uint64_t flags, file, pgoff, policy, uffd_ctx, anon_name;
	bool has_close;
};

/* ------------------------------------------------------------------------- */
/* small helpers */

static uint64_t page_align(const struct mm_sim *s, uint64_t x)
{
	return (x + s->p.page_size - 1) & ~(s->p.page_size - 1);
}

static uint64_t pages_of(const struct mm_sim *s, uint64_t bytes)
{
	return bytes >> s->page_shift;
}

static unsigned log2u(uint64_t x)
{
	unsigned n = 0;

	while (x > 1) {
		x >>= 1;
		n++;
	}
	return n;
}

static bool has_anon(const struct mm_sim *s, const struct mm_vma *v)
{
	return v->anon && s->ops->has_anon(s->model, v);
}

/* The UFFD_FEATURE_* a REGISTER event reported for ctx (0: never seen). */
static uint64_t uffd_features(const struct mm_sim *s, uint64_t ctx)
{
	uintptr_t f = (uintptr_t)u64map_get(&s->uffd_features, ctx);

	return f ? (uint64_t)f - 1 : 0;
}

static uint64_t prot_to_vm(int64_t prot)
{
	uint64_t f = 0;

	if (prot & KABI_PROT_READ)
		f |= VM_READ;
	if (prot & KABI_PROT_WRITE)
		f |= VM_WRITE;
	if (prot & KABI_PROT_EXEC)
		f |= VM_EXEC;
	return f;
}

/* vma_is_anonymous(): no vm_ops - private anonymous memory (brk, stack, mmap). */
static bool vma_is_anonymous(const struct mm_vma *v)
{
	return v->file == 0;
}

static void vattr_of(const struct mm_vma *v, struct vattr *a)
{
	a->flags = v->flags;
	a->file = v->file;
	a->pgoff = v->pgoff;
	a->policy = v->policy;
	a->uffd_ctx = v->uffd_ctx;
	a->anon_name = v->anon_name;
	a->has_close = v->has_close;
}

static void vattr_apply(struct mm_vma *v, const struct vattr *a)
{
	v->flags = a->flags;
	v->file = a->file;
	v->policy = a->policy;
	v->uffd_ctx = a->uffd_ctx;
	v->anon_name = a->anon_name;
	v->has_close = a->has_close;
}

/* eager.md §3.1 is_mergeable_vma, without pgoff (checked by the callers). */
static bool attrs_mergeable(const struct mm_vma *t, const struct vattr *a)
{
	return ((t->flags ^ a->flags) & ~VM_SOFTDIRTY) == 0 && t->file == a->file &&
	       t->policy == a->policy && t->uffd_ctx == a->uffd_ctx &&
	       t->anon_name == a->anon_name;
}

static bool attrs_equal(const struct mm_vma *v, const struct vattr *a)
{
	return v->flags == a->flags && v->policy == a->policy && v->uffd_ctx == a->uffd_ctx &&
	       v->anon_name == a->anon_name;
}

/* ------------------------------------------------------------------------- */
/* the sorted VMA array */

/* First index whose VMA ends above addr (== nvma if none). */
static size_t idx_end_above(const struct mm_space *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->nvma;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (mm->vma[mid]->end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* First index whose VMA starts at or above addr. */
static size_t idx_start_ge(const struct mm_space *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->nvma;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (mm->vma[mid]->start >= addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static size_t idx_of(const struct mm_space *mm, const struct mm_vma *v)
{
	size_t i = idx_start_ge(mm, v->start);

	assert(i < mm->nvma && mm->vma[i] == v); /* v is one of mm's VMAs */
	return i;
}

static int vma_insert(struct mm_space *mm, struct mm_vma *v, struct avm_err *err)
{
	size_t i;

	if (array_grow((void **)&mm->vma, &mm->cap, mm->nvma + 1, sizeof(*mm->vma), 16))
		return avm_errf(err, "out of memory (VMA array of mm %llu)",
				(unsigned long long)mm->id);
	i = idx_start_ge(mm, v->start);
	memmove(&mm->vma[i + 1], &mm->vma[i], (mm->nvma - i) * sizeof(*mm->vma));
	mm->vma[i] = v;
	mm->nvma++;
	v->mm = mm;
	mm->sim->st.vmas_live++;
	if (mm->sim->st.vmas_live > mm->sim->st.vmas_peak)
		mm->sim->st.vmas_peak = mm->sim->st.vmas_live;
	return 0;
}

static void vma_remove_at(struct mm_space *mm, size_t i)
{
	memmove(&mm->vma[i], &mm->vma[i + 1], (mm->nvma - i - 1) * sizeof(*mm->vma));
	mm->nvma--;
	mm->sim->st.vmas_live--;
}

/* VMA objects come from a pool: fork and exit allocate and free hundreds at a time. */
static struct mm_vma *vma_obj_new(struct mm_sim *s)
{
	struct mm_vma *v = s->vma_pool;

	if (!v)
		return calloc(1, sizeof(*v));
	s->vma_pool = v->anon;
	memset(v, 0, sizeof(*v));
	return v;
}

static void vma_obj_put(struct mm_sim *s, struct mm_vma *v)
{
	v->mm = NULL;
	v->anon = s->vma_pool;
	s->vma_pool = v;
}

static struct mm_vma *vma_alloc(struct mm_sim *s, enum model_why why, struct avm_err *err)
{
	struct mm_vma *v = vma_obj_new(s);

	if (!v) {
		avm_errf(err, "out of memory (VMA)");
		return NULL;
	}
	v->id = ++s->next_vma_id;
	model_stats_alloc(s->ms, MODEL_OBJ_VMA, why);
	return v;
}

/* The VMA object goes (remove_vma / vm_area_free): unless the model pins it. */
static void vma_release(struct mm_sim *s, struct mm_vma *v, enum model_why why)
{
	assert(!v->anon); /* unlinked before it goes (mm.h, model.h vma_pin) */
	v->mm = NULL;
	if (s->ops->vma_pin && s->ops->vma_pin(s->model, v))
		return;
	model_stats_free(s->ms, MODEL_OBJ_VMA, why);
	vma_obj_put(s, v);
}

void mm_vma_free_pinned(struct mm_sim *s, struct mm_vma *v, enum model_why why)
{
	assert(!v->mm && !v->anon); /* mm.h: a pinned object is out of its mm and unlinked */
	model_stats_free(s->ms, MODEL_OBJ_VMA, why);
	vma_obj_put(s, v);
}

/* ------------------------------------------------------------------------- */
/* pages */

static uint64_t chunk_key(const struct mm_sim *s, uint64_t addr)
{
	return (addr >> s->pmd_shift) + 1;
}

static struct chunk *chunk_get(struct mm_space *mm, uint64_t addr, bool create,
			       struct avm_err *err)
{
	uint64_t key = chunk_key(mm->sim, addr);
	struct chunk *c = u64map_get(&mm->chunks, key);

	if (c || !create)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c || u64map_put(&mm->chunks, key, c)) {
		free(c);
		avm_errf(err, "out of memory (page chunk)");
		return NULL;
	}
	return c;
}

static void chunk_release_slots(struct mm_sim *s, struct chunk *c);

static void chunk_drop(struct mm_space *mm, uint64_t key, struct chunk *c)
{
	u64map_del(&mm->chunks, key);
	chunk_release_slots(mm->sim, c); /* callers drop only chunks without pages */
	free(c);
}

static size_t page_slot(const struct mm_sim *s, uint64_t addr)
{
	return (addr >> s->page_shift) & (s->chunk_pages - 1);
}

static void folio_unmap(struct mm_sim *s, struct folio *f)
{
	if (--f->maps)
		return;
	if (s->ops->folio_gone)
		s->ops->folio_gone(s->model, f->owner);
	s->st.folios_live--;
	f->next_free = s->folio_pool;
	s->folio_pool = f;
}

static struct folio *folio_new(struct mm_sim *s, uint64_t owner, uint64_t index, uint32_t nr,
			       struct avm_err *err)
{
	struct folio *f;

	if (!s->folio_pool) {
		/* refill the pool with a block: millions of folios, one malloc per 4096 */
		void **nb = realloc(s->folio_blocks, (s->nfolio_blocks + 1) * sizeof(*nb));
		struct folio *blk = nb ? malloc(FOLIO_BLOCK * sizeof(*blk)) : NULL;
		size_t i;

		if (nb)
			s->folio_blocks = nb;
		if (!blk) {
			avm_errf(err, "out of memory (folios)");
			return NULL;
		}
		s->folio_blocks[s->nfolio_blocks++] = blk;
		for (i = 0; i < FOLIO_BLOCK; i++) {
			blk[i].next_free = s->folio_pool;
			s->folio_pool = &blk[i];
		}
	}
	f = s->folio_pool;
	s->folio_pool = f->next_free;
	f->id = ++s->next_folio_id;
	f->owner = owner;
	f->index = index;
	f->nr = nr;
	f->maps = 0;
	f->split_seen = false;
	f->next_free = NULL;
	s->st.folios_by_order[log2u(nr) < MM_ORDER_MAX ? log2u(nr) : MM_ORDER_MAX]++;
	s->st.folios_live++;
	if (s->st.folios_live > s->st.folios_peak)
		s->st.folios_peak = s->st.folios_live;
	return f;
}

static size_t slots_bytes(const struct mm_sim *s)
{
	return sizeof(struct slots) + (s->chunk_pages + (s->chunk_pages + 63) / 64) *
					      sizeof(struct folio *);
}

static struct slots *slots_new(struct mm_sim *s)
{
	struct slots *sl = s->slots_pool;

	if (sl) {
		s->slots_pool = sl->next_free;
		s->slots_pooled--;
		memset(sl, 0, slots_bytes(s));
	} else {
		sl = calloc(1, slots_bytes(s));
		if (!sl)
			return NULL;
	}
	sl->refs = 1;
	sl->bits = (uint64_t *)(void *)(sl->pg + s->chunk_pages);
	return sl;
}

static void slots_free(struct mm_sim *s, struct slots *sl)
{
	if (s->slots_pooled >= 4096) {
		free(sl);
		return;
	}
	sl->next_free = s->slots_pool;
	s->slots_pool = sl;
	s->slots_pooled++;
}

/* The first occupied slot in [i, end), or end. */
static size_t slot_next(const struct slots *sl, size_t i, size_t end)
{
	if (!sl || !sl->npages)
		return end;
	while (i < end) {
		uint64_t w = sl->bits[i >> 6] >> (i & 63);

		if (w) {
			i += (size_t)__builtin_ctzll(w);
			return i < end ? i : end;
		}
		i = (i | 63) + 1;
	}
	return end;
}

/*
 * Make c's slot array private and writable: allocate it on the first page,
 * or copy a shared one (each folio in the copy gains a map).
 */
static int chunk_slots(struct mm_sim *s, struct chunk *c, struct avm_err *err)
{
	struct slots *sl = c->sl, *n;
	size_t i;

	if (sl && sl->refs == 1)
		return 0;
	n = slots_new(s);
	if (!n)
		return avm_errf(err, "out of memory (page slots)");
	if (sl) {
		size_t words = (s->chunk_pages + 63) / 64;

		memcpy(n->pg, sl->pg, s->chunk_pages * sizeof(n->pg[0]));
		memcpy(n->bits, sl->bits, words * sizeof(n->bits[0]));
		n->npages = sl->npages;
		for (i = slot_next(n, 0, s->chunk_pages); i < s->chunk_pages;
		     i = slot_next(n, i + 1, s->chunk_pages))
			n->pg[i]->maps++;
		sl->refs--;
	}
	c->sl = n;
	return 0;
}

/* Drop c's slot array: unmap its folios if it was the last user. */
static void chunk_release_slots(struct mm_sim *s, struct chunk *c)
{
	struct slots *sl = c->sl;
	size_t i;

	if (!sl)
		return;
	c->sl = NULL;
	if (--sl->refs)
		return;
	for (i = slot_next(sl, 0, s->chunk_pages); i < s->chunk_pages;
	     i = slot_next(sl, i + 1, s->chunk_pages))
		folio_unmap(s, sl->pg[i]);
	slots_free(s, sl);
}

/* Map f in slot i of a private array (a folio already there loses that map). */
static void slot_set(struct mm_sim *s, struct slots *sl, size_t i, struct folio *f)
{
	if (sl->pg[i]) {
		folio_unmap(s, sl->pg[i]);
	} else {
		sl->npages++;
		sl->bits[i >> 6] |= 1ULL << (i & 63);
	}
	sl->pg[i] = f;
	f->maps++;
}

static void slot_clear(struct mm_sim *s, struct slots *sl, size_t i)
{
	folio_unmap(s, sl->pg[i]);
	sl->pg[i] = NULL;
	sl->npages--;
	sl->bits[i >> 6] &= ~(1ULL << (i & 63));
}

static int page_set(struct mm_space *mm, uint64_t addr, struct folio *f, struct avm_err *err)
{
	struct mm_sim *s = mm->sim;
	struct chunk *c = chunk_get(mm, addr, true, err);

	if (!c || chunk_slots(s, c, err))
		return -1;
	slot_set(s, c->sl, page_slot(s, addr), f);
	return 0;
}

/* Slot range of [lo, hi) clipped to the chunk at base. */
static void slot_range(const struct mm_sim *s, uint64_t base, uint64_t lo, uint64_t hi,
		       size_t *i0, size_t *i1)
{
	uint64_t a = lo > base ? lo : base;
	uint64_t b = hi < base + s->p.pmd_size ? hi : base + s->p.pmd_size;

	*i0 = (size_t)((a - base) >> s->page_shift);
	*i1 = b > a ? (size_t)((b - base + s->p.page_size - 1) >> s->page_shift) : *i0;
}

/*
 * Visit the chunks overlapping [start, end): probe each 2 MiB key when the
 * range has fewer regions than the mm has chunks, else scan the map.  The
 * callback may not add or remove chunks; it returns non-zero to stop.
 */
static int chunks_in(struct mm_space *mm, uint64_t start, uint64_t end,
		     int (*cb)(void *ctx, uint64_t base, struct chunk *c), void *ctx)
{
	struct mm_sim *s = mm->sim;
	uint64_t first = start >> s->pmd_shift, last = (end - 1) >> s->pmd_shift, k, it = 0;
	void *val;
	int rc;

	if (end <= start || !mm->chunks.n)
		return 0;
	if (last - first + 1 <= mm->chunks.n) {
		for (k = first; k <= last; k++) {
			struct chunk *c = u64map_get(&mm->chunks, k + 1);

			if (c && (rc = cb(ctx, k << s->pmd_shift, c)))
				return rc;
		}
		return 0;
	}
	while (u64map_next(&mm->chunks, &it, &k, &val)) {
		if (k - 1 < first || k - 1 > last)
			continue;
		if ((rc = cb(ctx, (k - 1) << s->pmd_shift, val)))
			return rc;
	}
	return 0;
}

struct zap_ctx {
	struct mm_space *mm;
	uint64_t start, end;
	struct avm_err *err;
};

static int zap_chunk(void *ctx, uint64_t base, struct chunk *c)
{
	struct zap_ctx *z = ctx;
	struct mm_sim *s = z->mm->sim;
	size_t i, i1;

	slot_range(s, base, z->start, z->end, &i, &i1);
	i = slot_next(c->sl, i, i1);
	if (i >= i1)
		return 0;
	if (c->sl->refs > 1) {
		/* shared: drop the whole array if the range holds all its pages */
		if (slot_next(c->sl, 0, i) == i && slot_next(c->sl, i1, s->chunk_pages) ==
		    s->chunk_pages) {
			chunk_release_slots(s, c);
			return 0;
		}
		if (chunk_slots(s, c, z->err))
			return -1;
	}
	for (; i < i1; i = slot_next(c->sl, i + 1, i1))
		slot_clear(s, c->sl, i);
	return 0;
}

/* Drop every anon page mapped in [start, end) (zap_page_range / unmap_vmas). */
static int zap_range(struct mm_space *mm, uint64_t start, uint64_t end, struct avm_err *err)
{
	struct zap_ctx z = { mm, start, end, err };

	return chunks_in(mm, start, end, zap_chunk, &z);
}

/*
 * After an unmap: page tables under a PMD are freed when no VMA is left in
 * that 2 MiB region (eager.md §7.1, conservative form), so a later fault
 * there can take the PMD-THP path again.
 */
static void pmd_release_one(struct mm_space *mm, uint64_t key)
{
	struct mm_sim *s = mm->sim;
	uint64_t base = (key - 1) << s->pmd_shift;
	struct chunk *c = u64map_get(&mm->chunks, key);
	size_t i;

	if (!c)
		return;
	i = idx_end_above(mm, base);
	if (i < mm->nvma && mm->vma[i]->start < base + s->p.pmd_size)
		return;
	c->pmd = false;
	if (!c->sl || !c->sl->npages) {
		chunk_release_slots(s, c);
		chunk_drop(mm, key, c);
	}
}

/*
 * The loop is bounded by what exists, not by the range: a range of more PMD
 * regions than the mm has chunks visits the chunks instead (keys collected
 * first, since dropping one changes the map), as chunks_in() does.
 */
static void pmd_release_empty(struct mm_space *mm, uint64_t start, uint64_t end)
{
	struct mm_sim *s = mm->sim;
	uint64_t first, last, k, it = 0, *keys, n = 0;
	void *val;

	if (end <= start || !mm->chunks.n)
		return;
	first = chunk_key(s, start);
	last = chunk_key(s, end - 1);
	if (last - first < mm->chunks.n) {
		for (k = first; k <= last; k++)
			pmd_release_one(mm, k);
		return;
	}
	keys = malloc(mm->chunks.n * sizeof(*keys));
	if (!keys)
		return; /* out of memory: the tables stay marked (conservative) */
	while (u64map_next(&mm->chunks, &it, &k, &val)) {
		if (k >= first && k <= last)
			keys[n++] = k;
	}
	for (k = 0; k < n; k++)
		pmd_release_one(mm, keys[k]);
	free(keys);
}

/*
 * After MADV_DONTNEED of [start, end): the PMD regions that one VMA's zap
 * covered whole lose their page table, so a later fault there finds the PMD
 * empty (the PMD-THP path again, eager.md §2.8):
 *   - a PMD-mapped THP: zap_huge_pmd clears the PMD and frees the deposited
 *     PTE table, with or without PT_RECLAIM;
 *   - a PTE table, with CONFIG_PT_RECLAIM (params.pt_reclaim): zap_pte_range
 *     over a whole PMD with reclaim_pt set (MADV_DONTNEED, _LOCKED) frees the
 *     table it emptied (try_to_free_pte).  Guard and uffd-wp markers, which
 *     keep a table in the kernel, are not simulated.
 * Hugetlb VMAs zap elsewhere and keep theirs.
 */
static void pmd_clear_zapped(struct mm_space *mm, uint64_t start, uint64_t end)
{
	struct mm_sim *s = mm->sim;
	uint64_t a = start;

	while (a < end) {
		size_t i = idx_end_above(mm, a);
		struct mm_vma *v = i < mm->nvma ? mm->vma[i] : NULL;
		uint64_t lo, hi, b;

		if (!v || v->start >= end)
			break;
		lo = v->start > a ? v->start : a;
		hi = v->end < end ? v->end : end;
		for (b = (lo + s->p.pmd_size - 1) & ~(s->p.pmd_size - 1);
		     !(v->flags & VM_HUGETLB) && b >= lo && b + s->p.pmd_size <= hi;
		     b += s->p.pmd_size) {
			uint64_t key = chunk_key(s, b);
			struct chunk *c = u64map_get(&mm->chunks, key);
			bool thp = c && c->thp;

			if (!c || !c->pmd || !(thp || s->p.pt_reclaim))
				continue;
			c->pmd = false;
			c->thp = false;
			if (!thp)
				s->st.pte_tables_reclaimed++;
			if (mm->pt) /* the entries are clear: only the table of [b, b + PMD) goes */
				arch_pt_unmap(mm->pt, b, b + s->p.pmd_size, b, b + s->p.pmd_size);
			if (!c->sl || !c->sl->npages)
				chunk_drop(mm, key, c);
		}
		a = v->end;
	}
}

/*
 * Page tables (arch.h): a fault maps one PTE, or a PMD with its deposited
 * PTE page; munmap clears entries and frees what free_pgtables() frees
 * between the neighbours, then flushes the TLB of the range.
 */
static int pt_touch(struct mm_space *mm, uint64_t addr, bool pmd, struct avm_err *err)
{
	if (!mm->pt)
		return 0;
	return pmd ? arch_pt_touch_pmd(mm->pt, addr, err) : arch_pt_touch(mm->pt, addr, err);
}

static void pt_unmap(struct mm_space *mm, uint64_t start, uint64_t end, uint64_t floor,
		     uint64_t ceiling)
{
	const struct arch_pt_mm *st;
	struct arch_flush f;
	uint64_t before;

	if (!mm->pt)
		return;
	st = arch_pt_mm_stats(mm->pt);
	before = st->ptes + st->bytes;
	arch_pt_unmap(mm->pt, start, end, floor, ceiling);
	if (st->ptes + st->bytes != before)
		arch_pt_flush(mm->pt, (end - start) >> mm->sim->page_shift, mm->sim->cpu, &f);
}

/* ------------------------------------------------------------------------- */
/* model calls */

static int anon_prepare(struct mm_sim *s, struct mm_vma *v, struct avm_err *err)
{
	assert(v->mm); /* a fault lands in a VMA of an mm */
	if (has_anon(s, v))
		return 0;
	return s->ops->prepare(s->model, v, err);
}

static int anon_clone(struct mm_sim *s, struct mm_vma *dst, const struct mm_vma *src,
		      enum model_why why, struct avm_err *err)
{
	if (!has_anon(s, src) || has_anon(s, dst))
		return 0;
	return s->ops->clone(s->model, dst, src, why, err);
}

static void anon_unlink(struct mm_sim *s, struct mm_vma *v, enum model_why why)
{
	if (v->anon)
		s->ops->unlink(s->model, v, why);
}

/*
 * vma_start_write (eager.md §5): split, merge, munmap, mprotect and dup_mmap
 * write-lock every VMA they change; the lock is held until mmap_write_unlock,
 * and a second vma_start_write of the same VMA in the same hold returns at
 * once.  So the first one per VMA and operation is a section (LOCKS_VMA,
 * write, instance = VMA id), as long as taking it costs (vma_write_lock_ns):
 * what the lock adds to the operation, and what a lazy vma_read walk on
 * another CPU queues behind.  Recorded in every world: both designs pay it.
 */
static void vma_wlock(struct mm_sim *s, struct mm_vma *v, enum locks_why why)
{
	struct locks_work w = { { 0 } };
	struct locks_section sec = { .cls = LOCKS_VMA, .mode = LOCKS_WRITE, .why = why };

	if (!s->locks || !s->p.arch || !v || v->wlock_seq == s->op_seq)
		return;
	v->wlock_seq = s->op_seq;
	w.n[LOCKS_OP_VMA_WRITE] = 1;
	sec.instance = v->id;
	sec.cpu = s->clock->cpu;
	sec.start = s->clock->t;
	sec.len = locks_cost(&s->p.arch->rmap, &w, 0);
	sec.work = w; /* re-costable (verdict sensitivity) */
	(void)locks_hold(s->locks, &sec, NULL); /* not a trylock: always recorded */
}

/*
 * THP split (no tracepoint on 6.18): a cut at addr - a VMA boundary being
 * made, or the edge of a partial unmap - inside a PMD-mapped folio (both
 * pages around addr belong to one PMD-sized folio) splits its PMD and, in
 * the kernel, queues the folio for a split.  Inferred once per folio, at the
 * first cut; the model records the split's exclusion (model_ops.thp_split).
 */
static void thp_cut(struct mm_sim *s, struct mm_space *mm, uint64_t addr)
{
	struct mm_folio_ref r;
	struct chunk *c;
	struct folio *f;
	size_t i;

	if (!(addr & (s->p.pmd_size - 1)))
		return;
	c = u64map_get(&mm->chunks, chunk_key(s, addr));
	if (c)
		c->thp = false; /* split_huge_pmd: the PMD now holds a PTE table */
	if (!s->ops->thp_split || !c || !c->sl)
		return;
	i = page_slot(s, addr); /* > 0: addr is inside the PMD */
	f = c->sl->pg[i];
	if (!f || f->nr != s->chunk_pages || f->split_seen || c->sl->pg[i - 1] != f)
		return;
	f->split_seen = true;
	r = (struct mm_folio_ref){ mm, mm_find_vma(mm, addr), addr & ~(s->p.page_size - 1),
				   f->id, f->owner, f->index, f->nr,
				   c->sl->refs > 1 || f->maps > f->nr };
	s->ops->thp_split(s->model, &r);
}

/* ------------------------------------------------------------------------- */
/* mms */

static struct mm_space *mm_new(struct mm_sim *s, uint64_t id, enum model_why why,
			       bool preexisting, struct avm_err *err)
{
	struct mm_space *mm = calloc(1, sizeof(*mm));

	if (!mm || u64map_put(&s->mms, id, mm)) {
		free(mm);
		avm_errf(err, "out of memory (mm %llu)", (unsigned long long)id);
		return NULL;
	}
	if (s->p.skip_unknown_mm && !u64map_get(&s->made, id) &&
	    u64map_put(&s->made, id, (void *)1)) {
		u64map_del(&s->mms, id);
		free(mm);
		avm_errf(err, "out of memory (mm %llu)", (unsigned long long)id);
		return NULL;
	}
	mm->id = id;
	mm->users = 1;
	mm->sim = s;
	/* mm_alloc_pgd: the page-table model starts with the pgd */
	if (s->p.arch && arch_pt_create(s->p.arch, s->p.pt_stats, &mm->pt, err)) {
		u64map_del(&s->mms, id);
		free(mm);
		return NULL;
	}
	/* mm_init: the model's per-mm state (the COW context model's context) */
	if (s->ops->mm_new && s->ops->mm_new(s->model, mm, why, preexisting, err)) {
		arch_pt_destroy(mm->pt);
		u64map_del(&s->mms, id);
		free(mm);
		return NULL;
	}
	s->st.mms_live++;
	if (s->st.mms_live > s->st.mms_peak)
		s->st.mms_peak = s->st.mms_live;
	s->mm_ids_dirty = true;
	return mm;
}

/* An mm the trace uses before we saw it: an empty, opaque one. */
static struct mm_space *mm_get(struct mm_sim *s, uint64_t id, struct avm_err *err)
{
	struct mm_space *mm = u64map_get(&s->mms, id);

	if (mm)
		return mm;
	if (id == 0) {
		avm_errf(err, "event without an mm id");
		return NULL;
	}
	mm = mm_new(s, id, MODEL_WHY_MMAP, true, err);
	if (mm) {
		mm->users_unknown = true;
		mm->opaque = true;
		s->st.unknown_mm++;
	}
	return mm;
}

/* exit_mmap (eager.md §2.7 "process exit"): zap all, unlink all in address order, free all. */
static void mm_teardown(struct mm_sim *s, struct mm_space *mm)
{
	uint64_t it = 0, key;
	void *val;
	size_t i;

	while (u64map_next(&mm->chunks, &it, &key, &val)) {
		struct chunk *c = val;

		chunk_release_slots(s, c);
		free(c);
	}
	u64map_free(&mm->chunks);
	arch_pt_destroy(mm->pt); /* free_pgtables over everything, then pgd_free */
	for (i = 0; i < mm->nvma; i++)
		anon_unlink(s, mm->vma[i], MODEL_WHY_EXIT);
	for (i = 0; i < mm->nvma; i++)
		vma_release(s, mm->vma[i], MODEL_WHY_EXIT);
	s->st.vmas_live -= mm->nvma;
	if (s->ops->mm_gone)
		s->ops->mm_gone(s->model, mm); /* __mmdrop */
	free(mm->vma);
	u64map_del(&s->mms, mm->id);
	s->st.mms_live--;
	s->st.teardowns++;
	s->mm_ids_dirty = true;
	free(mm);
}

/* mmput: one user less; the last one tears the mm down. */
static void mm_put(struct mm_sim *s, struct mm_space *mm, bool group_dead)
{
	if (mm->users_unknown && mm->users <= 1 && !group_dead)
		return; /* a thread from before the trace: the mm lives on */
	if (--mm->users <= 0)
		mm_teardown(s, mm);
}

/* ------------------------------------------------------------------------- */
/* split and merge (mm/vma.c; eager.md §3) */

/*
 * __split_vma: a new VMA object takes [v->start, addr) (new_below) or
 * [addr, v->end); the original keeps the rest.  The new piece clones v's
 * anon state (eager.md §2.4, non-fork mode: +L(v) AVCs).
 */
static struct mm_vma *vma_split(struct mm_sim *s, struct mm_vma *v, uint64_t addr,
				bool new_below, struct avm_err *err)
{
	struct mm_space *mm = v->mm;
	struct mm_vma *n = vma_alloc(s, MODEL_WHY_SPLIT, err);
	struct vattr a;

	if (!n)
		return NULL;
	thp_cut(s, mm, addr);
	vma_wlock(s, v, LOCKS_WHY_SPLIT);
	vma_wlock(s, n, LOCKS_WHY_SPLIT);
	vattr_of(v, &a);
	vattr_apply(n, &a);
	if (new_below) {
		n->start = v->start;
		n->end = addr;
		n->pgoff = v->pgoff;
		v->pgoff += pages_of(s, addr - v->start);
		v->start = addr;
	} else {
		n->start = addr;
		n->end = v->end;
		n->pgoff = v->pgoff + pages_of(s, addr - v->start);
		v->end = addr;
	}
	if (vma_insert(mm, n, err))
		goto fail;
	if (anon_clone(s, n, v, MODEL_WHY_SPLIT, err))
		return NULL;
	return n;
fail:
	model_stats_free(s->ms, MODEL_OBJ_VMA, MODEL_WHY_SPLIT);
	vma_obj_put(s, n);
	return NULL;
}

/* A VMA removed by a merge: out of the array, unlinked (vma_complete), freed. */
static void vma_merge_remove(struct mm_sim *s, struct mm_vma *v)
{
	struct mm_space *mm = v->mm;

	vma_remove_at(mm, idx_of(mm, v));
	anon_unlink(s, v, MODEL_WHY_MERGE);
	vma_release(s, v, MODEL_WHY_MERGE);
}

static bool merge_ok(struct mm_sim *s, const struct mm_vma *tgt, const struct mm_vma *anon_src,
		     const struct mm_vma *middle, const struct mm_vma *copied_from)
{
	return s->ops->merge_ok(s->model, tgt, anon_src, middle, copied_from);
}

static bool merge_pair_ok(struct mm_sim *s, const struct mm_vma *prev, const struct mm_vma *next)
{
	return s->ops->merge_pair_ok(s->model, prev, next);
}


/*
 * A new VMA object for [start, end) with attributes a (a.pgoff included),
 * inserted into mm: what mmap, brk and mremap do when no merge took the
 * range.  NULL on failure, with err filled.
 */
static struct mm_vma *vma_create(struct mm_sim *s, struct mm_space *mm, uint64_t start,
				 uint64_t end, const struct vattr *a, enum model_why why,
				 struct avm_err *err)
{
	struct mm_vma *v = vma_alloc(s, why, err);

	if (!v)
		return NULL;
	vattr_apply(v, a);
	v->start = start;
	v->end = end;
	v->pgoff = a->pgoff;
	if (vma_insert(mm, v, err))
		return NULL;
	return v;
}

/*
 * vma_merge_new_range (eager.md §3.4): the range [start, end) with attributes
 * a is free; merge it into prev and/or next.  anon_src carries the range's
 * anon state (copy_vma source, the VMA grown by mremap), copied_from is the
 * copy_vma source.  just_expand (brk): prev only.  Returns the VMA now
 * covering the range, NULL when nothing merged, and sets *failed on error.
 */
static struct mm_vma *merge_new(struct mm_sim *s, struct mm_space *mm, uint64_t start,
				uint64_t end, const struct vattr *a, const struct mm_vma *anon_src,
				const struct mm_vma *copied_from, bool just_expand,
				enum model_why why, int *failed, struct avm_err *err)
{
	size_t i = idx_start_ge(mm, end);
	struct mm_vma *next = i < mm->nvma ? mm->vma[i] : NULL;
	struct mm_vma *prev = i > 0 ? mm->vma[i - 1] : NULL;
	struct mm_vma *tgt;
	bool left, right;

	*failed = 0;
	if (a->flags & VM_SPECIAL)
		return NULL;
	if (prev && prev->end > start)
		prev = NULL; /* not free: callers guarantee it is, except when growing prev itself */
	left = prev && prev->end == start && attrs_mergeable(prev, a) &&
	       prev->pgoff + pages_of(s, prev->end - prev->start) == a->pgoff &&
	       merge_ok(s, prev, anon_src, NULL, copied_from);
	right = !just_expand && next && next->start == end && attrs_mergeable(next, a) &&
		a->pgoff + pages_of(s, end - start) == next->pgoff &&
		merge_ok(s, next, anon_src, NULL, copied_from) &&
		(!left || merge_pair_ok(s, prev, next));
	/* A next with a close hook cannot be removed: reduce to prev + range. */
	if (left && right && next->has_close)
		right = false;
	if (!left && !right)
		return NULL;
	tgt = left ? prev : next;
	vma_wlock(s, tgt, LOCKS_WHY_MERGE);
	if (left && right)
		vma_wlock(s, next, LOCKS_WHY_MERGE);
	/* vma_expand: dup the removed next into an unfaulted target (§3.4) ... */
	if (left && right && anon_clone(s, tgt, next, MODEL_WHY_MERGE, err))
		goto fail;
	/* ... and, from P3 on, the copy_vma source (the CVE-2026-23077 fix). */
	if (copied_from && s->p.profile >= MM_PROFILE_P3 &&
	    anon_clone(s, tgt, copied_from, why, err))
		goto fail;
	if (left && right) {
		uint64_t nend = next->end;

		vma_merge_remove(s, next);
		prev->end = nend;
	} else if (left) {
		prev->end = end;
	} else {
		next->start = start;
		next->pgoff = a->pgoff;
	}
	return tgt;
fail:
	*failed = 1;
	return NULL;
}

/*
 * vma_merge_existing_range (eager.md §3.3): [start, end) of v gets attributes
 * a.  Returns the VMA now covering the range (prev, next), NULL when no merge
 * happened (the caller splits), and sets *failed on error.
 */
static struct mm_vma *merge_existing(struct mm_sim *s, struct mm_vma *v, uint64_t start,
				     uint64_t end, const struct vattr *a, int *failed,
				     struct avm_err *err)
{
	struct mm_space *mm = v->mm;
	size_t i = idx_of(mm, v);
	struct mm_vma *prev = i > 0 && mm->vma[i - 1]->end == v->start ? mm->vma[i - 1] : NULL;
	struct mm_vma *next = i + 1 < mm->nvma && mm->vma[i + 1]->start == v->end ?
				      mm->vma[i + 1] : NULL;
	bool left_side = start == v->start, right_side = end == v->end, left, right;
	uint64_t pgoff = v->pgoff + pages_of(s, start - v->start);

	*failed = 0;
	if ((a->flags & VM_SPECIAL) || (!left_side && !right_side))
		return NULL;
	left = left_side && prev && attrs_mergeable(prev, a) &&
	       prev->pgoff + pages_of(s, prev->end - prev->start) == pgoff &&
	       merge_ok(s, prev, v, v, NULL);
	right = right_side && next && attrs_mergeable(next, a) &&
		pgoff + pages_of(s, end - start) == next->pgoff &&
		merge_ok(s, next, v, v, NULL) && (!left || merge_pair_ok(s, prev, next));
	if (!left && !right)
		return NULL;
	/* Removing the whole middle needs it to have no close hook. */
	if (left_side && right_side && v->has_close)
		return NULL;
	if (left && right && next->has_close)
		right = false;
	vma_wlock(s, v, LOCKS_WHY_MERGE);
	vma_wlock(s, left ? prev : NULL, LOCKS_WHY_MERGE);
	vma_wlock(s, right ? next : NULL, LOCKS_WHY_MERGE);

	if (left && right) {
		/* prev + middle + next: dup into prev from next if faulted, else from middle */
		const struct mm_vma *donor = has_anon(s, next) ? next : v;
		uint64_t nend = next->end;

		if (anon_clone(s, prev, donor, MODEL_WHY_MERGE, err))
			goto fail;
		vma_merge_remove(s, v);
		vma_merge_remove(s, next);
		prev->end = nend;
		return prev;
	}
	if (left) {
		/* prev + middle: prev extends over the range; middle shrinks or goes */
		if (anon_clone(s, prev, v, MODEL_WHY_MERGE, err))
			goto fail;
		if (right_side) {
			vma_merge_remove(s, v);
		} else {
			v->pgoff += pages_of(s, end - v->start);
			v->start = end;
		}
		prev->end = end;
		return prev;
	}
	/* middle + next: next extends down over the range; middle shrinks or goes */
	if (anon_clone(s, next, v, MODEL_WHY_MERGE, err))
		goto fail;
	if (left_side)
		vma_merge_remove(s, v);
	else
		v->end = start;
	next->start = start;
	next->pgoff = pgoff;
	return next;
fail:
	*failed = 1;
	return NULL;
}

/*
 * vma_modify: give [start, end) of v (inside it) the attributes a: merge if
 * possible, else split off the parts outside the range (below first, then
 * above) and change v in place.  Returns the VMA covering the range.
 */
static struct mm_vma *vma_modify(struct mm_sim *s, struct mm_vma *v, uint64_t start,
				 uint64_t end, const struct vattr *a, struct avm_err *err)
{
	struct mm_vma *t;
	int failed;

	t = merge_existing(s, v, start, end, a, &failed, err);
	if (failed)
		return NULL;
	if (t)
		return t;
	if (v->start < start && !vma_split(s, v, start, true, err))
		return NULL;
	if (v->end > end && !vma_split(s, v, end, false, err))
		return NULL;
	vattr_apply(v, a);
	return v;
}

/* ------------------------------------------------------------------------- */
/* munmap */

/*
 * do_vmi_align_munmap: split the edge VMAs, detach every VMA in the range,
 * zap pages, unlink in address order (eager.md §2.6), free the objects.
 */
static int do_munmap(struct mm_sim *s, struct mm_space *mm, uint64_t start, uint64_t end,
		     enum model_why why, struct avm_err *err)
{
	struct mm_vma **det = NULL, *stackbuf[8];
	size_t i, j, k, n;
	int rc = -1;

	if (end <= start)
		return 0;
	i = idx_end_above(mm, start);
	if (i == mm->nvma || mm->vma[i]->start >= end)
		return 0;
	if (mm->vma[i]->start < start && !vma_split(s, mm->vma[i], start, true, err))
		return -1;
	i = idx_end_above(mm, start);
	j = idx_start_ge(mm, end) - 1;
	if (mm->vma[j]->end > end && !vma_split(s, mm->vma[j], end, false, err))
		return -1;
	i = idx_end_above(mm, start);
	j = idx_start_ge(mm, end);
	n = j - i;
	det = n <= 8 ? stackbuf : malloc(n * sizeof(*det));
	if (!det)
		return avm_errf(err, "out of memory (munmap)");
	memcpy(det, &mm->vma[i], n * sizeof(*det));
	for (k = 0; k < n; k++)
		vma_wlock(s, det[k], LOCKS_WHY_MUNMAP);
	memmove(&mm->vma[i], &mm->vma[j], (mm->nvma - j) * sizeof(*mm->vma));
	mm->nvma -= n;
	s->st.vmas_live -= n;
	if (zap_range(mm, start, end, err))
		goto out;
	/* free_pgtables between the neighbours left: prev's end, next's start */
	pt_unmap(mm, start, end, i > 0 ? mm->vma[i - 1]->end : 0,
		 i < mm->nvma ? mm->vma[i]->start : 0);
	for (i = 0; i < n; i++)
		anon_unlink(s, det[i], why);
	pmd_release_empty(mm, start, end);
	for (i = 0; i < n; i++)
		vma_release(s, det[i], why);
	rc = 0;
out:
	if (det != stackbuf)
		free(det);
	return rc;
}

/* ------------------------------------------------------------------------- */
/* faults */

/*
 * Anon folio sizes (mTHP).  Each size's sysfs mode: always, madvise (the VMA
 * needs VM_HUGEPAGE), inherit (the top-level thp_enabled decides: always, or
 * madvise with VM_HUGEPAGE), never (in no mask).  Orders 0 and 1 are never
 * large anonymous folios (THP_ORDERS_ALL_ANON).
 */
static bool anon_orders_listed(const struct mm_sim_params *p, uint64_t orders)
{
	return p->anon_orders_known && (p->anon_orders_seen & orders);
}

static uint64_t anon_orders_allowed(const struct mm_sim_params *p, uint64_t vm_flags,
				    bool thp_disabled)
{
	bool advised = vm_flags & VM_HUGEPAGE;
	uint64_t orders = p->anon_orders_always;

	if (!p->anon_orders_known || (vm_flags & VM_NOHUGEPAGE) || thp_disabled)
		return 0;
	if (advised)
		orders |= p->anon_orders_madvise;
	if (p->thp_enabled == 2 || (p->thp_enabled == 1 && advised))
		orders |= p->anon_orders_inherit;
	return orders & ~3ULL;
}

unsigned mm_anon_fault_order(const struct mm_sim_params *p, uint64_t vm_flags, bool thp_disabled,
			     uint64_t start, uint64_t end, uint64_t addr,
			     bool (*range_none)(void *ctx, uint64_t lo, uint64_t hi), void *ctx)
{
	unsigned pmd_order = 0, o;
	uint64_t orders;

	while ((p->page_size << pmd_order) < p->pmd_size)
		pmd_order++;
	/* userfaultfd needs per-page fault fidelity: base pages only */
	if (vm_flags & VM_UFFD_MASK)
		return 0;
	orders = anon_orders_allowed(p, vm_flags, thp_disabled) & ((1ULL << pmd_order) - 1);
	for (o = pmd_order; o-- > 2;) {
		uint64_t size = p->page_size << o, base = addr & ~(size - 1);

		if (!(orders & (1ULL << o)) || base < start || base + size > end)
			continue;
		if (range_none(ctx, base, base + size))
			return o;
	}
	return 0;
}

int mm_sim_params_thp_sizes(struct mm_sim_params *p, const char *spec, struct avm_err *err)
{
	static const char *const modes[] = { "never", "always", "madvise", "inherit" };
	const char *q = spec;

	p->anon_orders_known = true;
	p->anon_orders_always = p->anon_orders_madvise = p->anon_orders_inherit = 0;
	p->anon_orders_seen = 0;
	while (*q) {
		char *end;
		unsigned long long kb = strtoull(q, &end, 10);
		uint64_t bytes = kb << 10;
		unsigned o = 0;
		size_t m, n;

		if (end == q || strncmp(end, "kB=", 3) || !kb || kb > (1ULL << 40) ||
		    (bytes & (bytes - 1)) || bytes <= p->page_size)
			return avm_errf(err, "meta thp_anon_sizes: '%.40s' is not <size>kB=<mode> "
					     "with a power-of-two size above the page size", q);
		while ((p->page_size << o) < bytes)
			o++;
		end += 3;
		n = strcspn(end, ",");
		for (m = 0; m < 4; m++)
			if (strlen(modes[m]) == n && !strncmp(end, modes[m], n))
				break;
		if (m == 4 || o > 63)
			return avm_errf(err, "meta thp_anon_sizes: '%.*s' is not never, always, "
					     "madvise or inherit", (int)(n > 20 ? 20 : n), end);
		p->anon_orders_seen |= 1ULL << o;
		if (m == 1)
			p->anon_orders_always |= 1ULL << o;
		else if (m == 2)
			p->anon_orders_madvise |= 1ULL << o;
		else if (m == 3)
			p->anon_orders_inherit |= 1ULL << o;
		q = end + n + (end[n] == ',');
	}
	return 0;
}

/* eager.md §2.8: may a fault at addr in v take the PMD-THP path? */
static bool thp_pmd_allowed(const struct mm_sim *s, const struct mm_space *mm,
			    const struct mm_vma *v, uint64_t addr)
{
	uint64_t base = addr & ~(s->p.pmd_size - 1);

	if (!vma_is_anonymous(v) || (v->flags & (VM_SHARED | VM_HUGETLB | VM_SPECIAL)))
		return false;
	if ((v->flags & VM_NOHUGEPAGE) || mm->thp_disabled)
		return false;
	if (anon_orders_listed(&s->p, 1ULL << log2u(s->chunk_pages))) {
		if (!(anon_orders_allowed(&s->p, v->flags, false) & (1ULL << log2u(s->chunk_pages))))
			return false;
	} else if (s->p.thp_enabled == 0 || (s->p.thp_enabled == 1 && !(v->flags & VM_HUGEPAGE))) {
		return false;
	}
	return base >= v->start && base + s->p.pmd_size <= v->end;
}

/* Is no anon page mapped, and (with page tables) no PTE present, in [lo, hi) of one chunk? */
struct range_ctx {
	struct mm_space *mm;
	struct chunk *c;
};

static bool range_none(void *ctx, uint64_t lo, uint64_t hi)
{
	struct range_ctx *r = ctx;
	struct mm_sim *s = r->mm->sim;
	uint64_t a;

	if (r->c->sl && slot_next(r->c->sl, page_slot(s, lo), page_slot(s, lo) +
				  pages_of(s, hi - lo)) < page_slot(s, lo) + pages_of(s, hi - lo))
		return false;
	/* the zero page or a page-cache page leaves a PTE the slots do not hold */
	for (a = lo; r->mm->pt && a < hi; a += s->p.page_size)
		if (arch_pt_present(r->mm->pt, a))
			return false;
	return true;
}

static uint64_t linear_index(const struct mm_sim *s, const struct mm_vma *v, uint64_t addr)
{
	return v->pgoff + pages_of(s, addr - v->start);
}

/*
 * A write fault's new anonymous folio of 2^order pages (mTHP, below the
 * PMD): the aligned range around addr, all of it unmapped (the caller's
 * order choice checked), is mapped by one folio; its PTEs are set at once.
 */
static int fault_large(struct mm_sim *s, struct mm_space *mm, struct mm_vma *v, struct chunk *c,
		       uint64_t addr, unsigned order, struct avm_err *err)
{
	uint64_t size = s->p.page_size << order, base = addr & ~(size - 1), a;
	struct folio *nf;

	for (a = base; a < base + size; a += s->p.page_size)
		if (pt_touch(mm, a, false, err))
			return -1;
	if (anon_prepare(s, v, err))
		return -1;
	nf = folio_new(s, s->ops->folio_owner(s->model, v), linear_index(s, v, base),
		       1U << order, err);
	if (!nf || chunk_slots(s, c, err))
		return -1;
	nf->maps = 1; /* held while mapping, dropped below */
	for (a = base; a < base + size; a += s->p.page_size)
		slot_set(s, c->sl, page_slot(s, a), nf);
	folio_unmap(s, nf);
	s->fault_next = base + size;
	return 0;
}

/*
 * One fault (or GUP touch) of the page at addr in v, after the permission
 * checks (eager.md §2.2 and §7.3 rule 1).
 */
static int fault_page(struct mm_sim *s, struct mm_space *mm, struct mm_vma *v, uint64_t addr,
		      bool write, struct avm_err *err)
{
	struct chunk *c = chunk_get(mm, addr, true, err);
	struct folio *f, *nf;
	uint64_t owner;

	if (!c)
		return -1;
	/* Shared mappings (shmem included) never prepare. */
	if (v->flags & VM_SHARED) {
		c->pmd = true;
		return pt_touch(mm, addr, false, err);
	}
	/* Private hugetlb: any fault instantiating a page prepares (no zero page). */
	if (v->flags & VM_HUGETLB) {
		c->pmd = true;
		if (pt_touch(mm, addr, false, err)) /* approximation: hugetlb maps above the PTEs */
			return -1;
		return anon_prepare(s, v, err);
	}
	/* §2.8: an empty PMD in a THP-eligible range prepares even for reads. */
	if (!c->pmd && thp_pmd_allowed(s, mm, v, addr)) {
		uint64_t base = addr & ~(s->p.pmd_size - 1), a;

		c->pmd = true;
		c->thp = true;
		s->st.thp_faults++;
		/* a PMD mapping (huge zero page or THP) deposits its PTE page */
		if (pt_touch(mm, base, true, err))
			return -1;
		if (anon_prepare(s, v, err))
			return -1;
		if (!write)
			return 0; /* the huge zero page */
		owner = s->ops->folio_owner(s->model, v);
		nf = folio_new(s, owner, linear_index(s, v, base), (uint32_t)s->chunk_pages, err);
		if (!nf)
			return -1;
		if (chunk_slots(s, c, err))
			return -1;
		nf->maps = 1; /* held while mapping, dropped below */
		for (a = 0; a < s->chunk_pages; a++)
			slot_set(s, c->sl, a, nf);
		folio_unmap(s, nf);
		return 0;
	}
	c->pmd = true;
	f = c->sl ? c->sl->pg[page_slot(s, addr)] : NULL;
	/* do_anonymous_page's write fault: alloc_anon_folio picks the folio's size */
	if (write && !f && vma_is_anonymous(v) && s->p.anon_orders_known) {
		struct range_ctx rc = { mm, c };
		unsigned order = mm_anon_fault_order(&s->p, v->flags |
						     (v->uffd_ctx ? VM_UFFD_MISSING : 0),
						     mm->thp_disabled, v->start, v->end, addr,
						     range_none, &rc);

		if (order)
			return fault_large(s, mm, v, c, addr, order, err);
	}
	if (pt_touch(mm, addr, false, err))
		return -1;
	if (!write)
		return 0; /* zero page, page cache, or already mapped */
	if (f && c->sl->refs == 1 && f->maps <= f->nr) {
		/* Sole mapping: reuse in place, re-pointing folio->mapping (§4.1). */
		if (anon_prepare(s, v, err))
			return -1;
		{
			uint64_t old = f->owner;

			/* the folio names a new owner: the old name is gone (a lazy root's count) */
			if (s->ops->folio_reuse) {
				f->owner = s->ops->folio_reuse(s->model, v, old);
			} else {
				f->owner = s->ops->folio_owner(s->model, v);
				if (s->ops->folio_gone)
					s->ops->folio_gone(s->model, old);
			}
		}
		s->st.cow_reuses++;
		return 0;
	}
	/* First write (anon, private-file COW) or COW of a shared page: a new folio. */
	if (anon_prepare(s, v, err))
		return -1;
	owner = s->ops->folio_owner(s->model, v);
	nf = folio_new(s, owner, linear_index(s, v, addr), 1, err);
	if (!nf)
		return -1;
	if (f) {
		s->st.cow_copies++;
		c->thp = false; /* do_huge_pmd_wp_page splits a shared PMD and copies a page */
	}
	if (chunk_slots(s, c, err))
		return -1;
	slot_set(s, c->sl, page_slot(s, addr), nf);
	return 0;
}

/* expand_downwards: a fault below a VM_GROWSDOWN VMA grows it (prepare first, §2.2). */
static struct mm_vma *stack_expand(struct mm_sim *s, struct mm_space *mm, uint64_t addr,
				   int *failed, struct avm_err *err)
{
	size_t i = idx_end_above(mm, addr);
	struct mm_vma *v = i < mm->nvma ? mm->vma[i] : NULL;
	uint64_t na = addr & ~(s->p.page_size - 1);

	*failed = 0;
	if (!v || !(v->flags & VM_GROWSDOWN) || v->start <= addr ||
	    v->start - addr > STACK_GROW_MAX)
		return NULL;
	if (i > 0 && mm->vma[i - 1]->end > na)
		return NULL;
	if (anon_prepare(s, v, err)) {
		*failed = 1;
		return NULL;
	}
	v->pgoff -= pages_of(s, v->start - na);
	v->start = na;
	return v;
}

static int sys_fault(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
		     struct avm_err *err)
{
	uint64_t addr = (uint64_t)ev->a, code = (uint64_t)ev->b;
	bool write = code & AVM_PF_WRITE;
	struct mm_vma *v = mm_find_vma(mm, addr);
	int failed;

	s->st.faults++;
	if (!v) {
		v = stack_expand(s, mm, addr, &failed, err);
		if (failed)
			return -1;
		if (!v) {
			s->st.faults_unmapped++;
			return 0;
		}
	}
	/* access_error(): the kernel delivers SIGSEGV without touching the mm. */
	if ((write && !(v->flags & VM_WRITE)) ||
	    (!write && !(v->flags & (VM_READ | VM_EXEC | VM_WRITE)))) {
		s->st.faults_denied++;
		return 0;
	}
	return fault_page(s, mm, v, addr, write, err);
}

/*
 * GUP population (populate_vma_page_range): FOLL_WRITE exactly when the VMA
 * is private and writable (eager.md §2.2); force=true is an explicit write
 * request (AVM_POPULATE c=1: exec argument copy, ptrace) that COWs even
 * read-only private mappings.
 */
static int populate(struct mm_sim *s, struct mm_space *mm, uint64_t start, uint64_t end,
		    int want_write, struct avm_err *err)
{
	uint64_t a = start & ~(s->p.page_size - 1), bytes = 0;
	size_t k;

	/* The loop below faults page by page: bound it by what a host can hold
	 * before starting (docs/model-eager.md "Simulator limits"). */
	for (k = idx_end_above(mm, a); k < mm->nvma && mm->vma[k]->start < end; k++) {
		uint64_t lo = mm->vma[k]->start > a ? mm->vma[k]->start : a;
		uint64_t hi = mm->vma[k]->end < end ? mm->vma[k]->end : end;

		if (mm->vma[k]->flags & VM_ACCESS_FLAGS)
			bytes += hi - lo;
		if (bytes > MM_POPULATE_MAX_BYTES)
			return avm_errf(err, "populating %#llx-%#llx faults more than %llu GiB at "
					"once, beyond what the simulator models",
					(unsigned long long)start, (unsigned long long)end,
					(unsigned long long)(MM_POPULATE_MAX_BYTES >> 30));
	}
	while (a < end) {
		size_t i = idx_end_above(mm, a);
		struct mm_vma *v = i < mm->nvma ? mm->vma[i] : NULL;
		uint64_t vend;
		bool write;

		if (!v || v->start >= end)
			break;
		if (v->start > a)
			a = v->start;
		vend = v->end < end ? v->end : end;
		if (want_write < 0)
			write = (v->flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
		else
			write = want_write && !(v->flags & VM_SHARED);
		if ((v->flags & (VM_IO | VM_PFNMAP)) || !(v->flags & VM_ACCESS_FLAGS) ||
		    (want_write < 0 && (v->flags & VM_LOCKONFAULT))) {
			a = vend;
			continue;
		}
		for (; a < vend; a += s->p.page_size) {
			s->fault_next = 0;
			if (fault_page(s, mm, v, a, write, err))
				return -1;
			v = mm_find_vma(mm, a); /* fault_page never changes the layout */
			/* GUP finds the rest of a large folio the fault just mapped present */
			if (s->fault_next > a + s->p.page_size)
				a = (s->fault_next < vend ? s->fault_next : vend) - s->p.page_size;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------- */
/* mmap */

static uint64_t fake_file(struct mm_sim *s)
{
	return FAKE_FILE_BASE + ++s->next_fake_file;
}

static int sys_mmap(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
		    struct avm_err *err)
{
	uint64_t addr = (uint64_t)ev->a, len = page_align(s, (uint64_t)ev->b);
	int64_t flags = ev->d, type = flags & KABI_MAP_TYPE;
	bool shared = type == KABI_MAP_SHARED || type == KABI_MAP_SHARED_VALIDATE;
	struct vattr a = { 0 };
	struct mm_vma *v;
	bool populate_it;
	int failed;

	if (ev->a < 0) {
		s->st.failed_syscalls++;
		return 0;
	}
	if (!len)
		return 0;
	/* do_mmap: calc_vm_prot_bits | calc_vm_flag_bits | def_flags | VM_MAY* */
	a.flags = prot_to_vm(ev->c) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | mm->def_flags;
	if (flags & KABI_MAP_GROWSDOWN)
		a.flags |= VM_GROWSDOWN;
	if (flags & KABI_MAP_LOCKED)
		a.flags |= VM_LOCKED;
	if (flags & KABI_MAP_STACK)
		a.flags |= VM_NOHUGEPAGE;
	if ((flags & KABI_MAP_SYNC) && type == KABI_MAP_SHARED_VALIDATE)
		a.flags |= VM_SYNC;
	if (shared)
		a.flags |= VM_SHARED | VM_MAYSHARE;
	if (type == KABI_MAP_DROPPABLE)
		a.flags |= VM_DROPPABLE | VM_WIPEONFORK | VM_DONTDUMP | VM_NORESERVE;
	a.file = (uint64_t)ev->e;
	if (flags & KABI_MAP_HUGETLB) {
		/* hugetlbfs: VM_HUGETLB | VM_DONTEXPAND, a close hook, never merges */
		a.flags |= VM_HUGETLB | VM_DONTEXPAND;
		a.has_close = true;
		if (!a.file)
			a.file = fake_file(s);
		a.pgoff = (uint64_t)ev->f;
	} else if (!a.file && shared) {
		a.file = fake_file(s); /* shmem_zero_setup: its own file, pgoff 0 */
		a.pgoff = 0;
	} else if (!a.file) {
		a.pgoff = pages_of(s, addr); /* private anon: pgoff = addr / PAGE */
	} else {
		a.pgoff = (uint64_t)ev->f;
	}
	if ((flags & KABI_MAP_NORESERVE) && !s->p.overcommit_never)
		a.flags |= VM_NORESERVE;
	/* accountable_mapping(): private, writable, not NORESERVE, not hugetlb */
	if (!(a.flags & VM_HUGETLB) && (a.flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE)
		a.flags |= VM_ACCOUNT;

	/* MAP_FIXED (or a stale overlap): split, zap and unlink before the merge (§7.5). */
	if (do_munmap(s, mm, addr, addr + len, MODEL_WHY_UNMAP, err))
		return -1;
	v = merge_new(s, mm, addr, addr + len, &a, NULL, NULL, false, MODEL_WHY_MMAP, &failed, err);
	if (failed)
		return -1;
	if (!v) {
		v = vma_create(s, mm, addr, addr + len, &a, MODEL_WHY_MMAP, err);
		if (!v)
			return -1;
	}
	populate_it = ((a.flags & VM_LOCKED) && !(a.flags & VM_LOCKONFAULT)) ||
		      (flags & (KABI_MAP_POPULATE | KABI_MAP_NONBLOCK)) == KABI_MAP_POPULATE;
	if (populate_it)
		return populate(s, mm, addr, addr + len, -1, err);
	return 0;
}

/* ------------------------------------------------------------------------- */
/* per-VMA attribute changes: mprotect, madvise, mlock, prctl name, mseal */

enum modify_kind { MOD_MPROTECT, MOD_MADVISE, MOD_MLOCK, MOD_MUNLOCK, MOD_NAME, MOD_SEAL,
		   MOD_UFFD_REGISTER, MOD_UFFD_UNREGISTER };

struct modify {
	enum modify_kind kind;
	int64_t arg;         /* prot, advice, mlock flags, name id, VM_UFFD_* to register */
	bool holes_stop;     /* mprotect/mlock stop at a hole (ENOMEM); madvise skips it */
};

/*
 * The new attributes of v under op m.  Returns 1 if they differ, 0 for "no
 * change" (the kernel skips the VMA) and -1 if the kernel rejects this VMA
 * (the operation stops there).
 */
static int modify_attrs(const struct mm_vma *v, const struct modify *m, struct vattr *a)
{
	uint64_t f = v->flags;

	vattr_of(v, a);
	switch (m->kind) {
	case MOD_MPROTECT:
		f = (f & ~VM_ACCESS_FLAGS) | prot_to_vm(m->arg);
		if ((f & ~(f >> 4)) & VM_ACCESS_FLAGS)
			return -1; /* EACCES: beyond VM_MAY* */
		if (f == v->flags)
			return 0;
		/* mprotect_fixup's VM_ACCOUNT rule (§2.7) */
		if (f & VM_WRITE) {
			if (!(v->flags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE)))
				f |= VM_ACCOUNT;
		} else if ((v->flags & VM_ACCOUNT) && vma_is_anonymous(v) && !has_anon(v->mm->sim, v)) {
			f &= ~VM_ACCOUNT;
		}
		break;
	case MOD_MADVISE:
		switch (m->arg) {
		case KABI_MADV_NORMAL: f &= ~(VM_SEQ_READ | VM_RAND_READ); break;
		case KABI_MADV_RANDOM: f = (f & ~VM_SEQ_READ) | VM_RAND_READ; break;
		case KABI_MADV_SEQUENTIAL: f = (f & ~VM_RAND_READ) | VM_SEQ_READ; break;
		case KABI_MADV_DONTFORK: f |= VM_DONTCOPY; break;
		case KABI_MADV_DOFORK:
			if (f & VM_IO)
				return -1;
			f &= ~VM_DONTCOPY;
			break;
		case KABI_MADV_WIPEONFORK:
			if (v->file || (f & VM_SHARED))
				return -1;
			f |= VM_WIPEONFORK;
			break;
		case KABI_MADV_KEEPONFORK:
			if (f & VM_DROPPABLE)
				return -1;
			f &= ~VM_WIPEONFORK;
			break;
		case KABI_MADV_DONTDUMP: f |= VM_DONTDUMP; break;
		case KABI_MADV_DODUMP:
			if ((f & VM_SPECIAL) && !(f & VM_HUGETLB))
				return -1;
			f &= ~VM_DONTDUMP;
			break;
		case KABI_MADV_MERGEABLE:
			/* ksm_madvise: silently ignores VMAs KSM cannot handle */
			if (f & (VM_MERGEABLE | VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO |
				 VM_DONTEXPAND | VM_HUGETLB | VM_MIXEDMAP | VM_DROPPABLE))
				return 0;
			f |= VM_MERGEABLE;
			break;
		case KABI_MADV_UNMERGEABLE: f &= ~VM_MERGEABLE; break;
		case KABI_MADV_HUGEPAGE: f = (f & ~VM_NOHUGEPAGE) | VM_HUGEPAGE; break;
		case KABI_MADV_NOHUGEPAGE: f = (f & ~VM_HUGEPAGE) | VM_NOHUGEPAGE; break;
		default: return 0;
		}
		break;
	case MOD_MLOCK:
		/* mlock_fixup skips special, hugetlb and droppable VMAs */
		if (f & (VM_SPECIAL | VM_HUGETLB | VM_DROPPABLE))
			return 0;
		f = (f & ~VM_LOCKED_MASK) | VM_LOCKED |
		    ((m->arg & KABI_MLOCK_ONFAULT) ? VM_LOCKONFAULT : 0);
		break;
	case MOD_MUNLOCK:
		if (f & (VM_SPECIAL | VM_HUGETLB | VM_DROPPABLE))
			return 0;
		f &= ~VM_LOCKED_MASK;
		break;
	case MOD_NAME:
		if (v->file && !(v->flags & VM_SHARED && v->file >= FAKE_FILE_BASE))
			return -1; /* EBADF: file mappings other than anon shmem */
		a->anon_name = (uint64_t)m->arg;
		return attrs_equal(v, a) ? 0 : 1;
	case MOD_SEAL:
		f |= VM_SEALED;
		break;
	case MOD_UFFD_REGISTER:
		/* userfaultfd_register: a VMA of this ctx with the bits already is skipped */
		if (v->uffd_ctx == v->mm->sim->uffd_reg_ctx && (f & (uint64_t)m->arg) == (uint64_t)m->arg)
			return 0;
		a->uffd_ctx = v->mm->sim->uffd_reg_ctx;
		f = (f & ~VM_UFFD_MASK) | (uint64_t)m->arg;
		a->flags = f;
		return 1;
	case MOD_UFFD_UNREGISTER:
		/* userfaultfd_unregister: VMAs of no ctx are skipped, the others cleared */
		if (!v->uffd_ctx)
			return 0;
		a->uffd_ctx = 0;
		a->flags = f & ~VM_UFFD_MASK;
		return 1;
	}
	a->flags = f;
	return f == v->flags ? 0 : 1;
}

/*
 * Where does op m stop in [start, end)?  The kernel walks VMAs in order and
 * stops at the first hole (holes_stop) or rejected VMA.  Returns that address
 * or end.  For a failed call whose failure we cannot place, nothing changed.
 */
static uint64_t modify_stop(struct mm_space *mm, uint64_t start, uint64_t end,
			    const struct modify *m, bool failed)
{
	uint64_t a = start;
	size_t i = idx_end_above(mm, start);
	struct vattr tmp;

	for (; a < end; i++) {
		struct mm_vma *v = i < mm->nvma ? mm->vma[i] : NULL;

		if (!v || v->start >= end)
			return m->holes_stop ? a : end;
		if (v->start > a && m->holes_stop)
			return a;
		if (modify_attrs(v, m, &tmp) < 0)
			return v->start > a ? v->start : a;
		a = v->end;
	}
	return failed ? start : end;
}

/* Apply op m to every VMA in [start, end) in ascending order (§2.7 row "mprotect, madvise..."). */
static int modify_range(struct mm_sim *s, struct mm_space *mm, uint64_t start, uint64_t end,
			const struct modify *m, bool failed, struct avm_err *err)
{
	uint64_t stop = modify_stop(mm, start, end, m, failed), a = start;

	while (a < stop) {
		size_t i = idx_end_above(mm, a);
		struct mm_vma *v = i < mm->nvma ? mm->vma[i] : NULL, *t;
		uint64_t s0, e0, oldflags;
		struct vattr na;
		int rc;

		if (!v || v->start >= stop)
			break;
		s0 = v->start > a ? v->start : a;
		e0 = v->end < stop ? v->end : stop;
		oldflags = v->flags;
		rc = modify_attrs(v, m, &na);
		if (rc < 0)
			break;
		if (rc > 0) {
			t = vma_modify(s, v, s0, e0, &na, err);
			if (!t)
				return -1;
			/* mprotect_fixup & co. write-lock the VMA they change */
			vma_wlock(s, t, m->kind == MOD_MPROTECT ? LOCKS_WHY_MPROTECT : LOCKS_WHY_OTHER);
			/* mprotect making a locked private VMA writable populates it */
			if (m->kind == MOD_MPROTECT &&
			    (oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED)) == VM_LOCKED &&
			    (na.flags & VM_WRITE) && populate(s, mm, s0, e0, -1, err))
				return -1;
		}
		a = e0;
	}
	return 0;
}

static int sys_mprotect(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
			struct avm_err *err)
{
	uint64_t start = (uint64_t)ev->a, end = start + page_align(s, (uint64_t)ev->b);
	struct modify m = { MOD_MPROTECT, ev->c, true };
	size_t i;

	if (ev->d < 0)
		s->st.failed_syscalls++;
	if (start & (s->p.page_size - 1))
		return 0;
	i = idx_end_above(mm, start);
	if (i == mm->nvma || mm->vma[i]->start > start)
		return 0; /* ENOMEM before any change */
	return modify_range(s, mm, start, end, &m, ev->d < 0, err);
}

/* ------------------------------------------------------------------------- */
/*
 * KSM (eager.md §7 "KSM" row).  A merge (ksm_merge_with_ksm_page, err 0)
 * replaces the anon page at the rmap_item's address with the KSM page: the
 * anon folio leaves that PTE (the KSM page is named by its stable node, not
 * by the anon rmap; the PTE stays present), and the stable rmap_item takes
 * a reference on the VMA's anon_vma (model_ops.ksm_pin).  The reference
 * goes when the item goes: at once for a stable-node removal
 * (ksm_remove_rmap_item), and otherwise when ksmd next meets the item and
 * finds it stale - the mm gone, no VMA or no page at the address, the page
 * COW-copied back into an anon folio, MADV_UNMERGEABLE - which the
 * simulator places at the end of the next full scan (ksm_stop_scan), the
 * latest time the kernel can do it.  Traces before schema version 3 carry
 * no address: their merges pin nothing.
 */
static void ksm_release(struct mm_sim *s, uint64_t mm_id, uint64_t addr)
{
	struct u64map *pages = u64map_get(&s->ksm, mm_id);
	struct ksm_pin *p = pages ? u64map_get(pages, (addr >> s->page_shift) + 1) : NULL;

	if (!p)
		return;
	u64map_del(pages, (addr >> s->page_shift) + 1);
	s->ops->ksm_unpin(s->model, p->token);
	free(p);
	s->st.ksm_items--;
	if (!pages->n) {
		u64map_del(&s->ksm, mm_id);
		u64map_free(pages);
		free(pages);
	}
}

static int ksm_merge(struct mm_sim *s, uint64_t mm_id, uint64_t addr, struct avm_err *err)
{
	struct mm_space *mm = u64map_get(&s->mms, mm_id);
	struct mm_vma *v = mm ? mm_find_vma(mm, addr) : NULL;
	struct u64map *pages;
	struct ksm_pin *p;
	uint64_t token = 0;

	if (!v)
		return 0; /* an mm or a range the world does not have */
	ksm_release(s, mm_id, addr); /* a re-merge: the old item left the tree first */
	if (zap_range(mm, addr, addr + s->p.page_size, err))
		return -1;
	if (s->ops->ksm_pin(s->model, v, addr, &token, err))
		return avm_err_prefix(err, "KSM merge at %#llx", (unsigned long long)addr);
	if (!token)
		return 0;
	pages = u64map_get(&s->ksm, mm_id);
	if (!pages) {
		pages = calloc(1, sizeof(*pages));
		if (!pages || u64map_put(&s->ksm, mm_id, pages)) {
			free(pages);
			s->ops->ksm_unpin(s->model, token);
			return avm_errf(err, "out of memory (KSM items)");
		}
	}
	p = calloc(1, sizeof(*p));
	if (!p || u64map_put(pages, (addr >> s->page_shift) + 1, p)) {
		free(p);
		s->ops->ksm_unpin(s->model, token);
		return avm_errf(err, "out of memory (KSM items)");
	}
	p->token = token;
	s->st.ksm_items++;
	return 0;
}

/* Is the KSM page still mapped at addr of mm (not unmapped, not COW-copied, not unmerged)? */
static bool ksm_still_merged(struct mm_sim *s, uint64_t mm_id, uint64_t addr,
			     const struct ksm_pin *p)
{
	struct mm_space *mm = u64map_get(&s->mms, mm_id);
	struct chunk *c;

	if (!mm || p->stale || !mm_find_vma(mm, addr))
		return false;
	c = u64map_get(&mm->chunks, chunk_key(s, addr));
	if (c && c->sl && c->sl->pg[page_slot(s, addr)])
		return false; /* an anon folio again: the KSM page was COW-copied */
	return !mm->pt || arch_pt_present(mm->pt, addr);
}

/* ksm_stop_scan: ksmd met every item once; the stale ones are gone. */
static int ksm_scan_end(struct mm_sim *s, bool all, struct avm_err *err)
{
	uint64_t it = 0, mm_id, *drop = NULL, n = 0, cap = 0;
	void *val;

	while (u64map_next(&s->ksm, &it, &mm_id, &val)) {
		struct u64map *pages = val;
		uint64_t pit = 0, key;
		void *pv;

		while (u64map_next(pages, &pit, &key, &pv)) {
			uint64_t addr = (key - 1) << s->page_shift;

			if (!all && ksm_still_merged(s, mm_id, addr, pv))
				continue;
			if (n + 2 > cap) {
				uint64_t *nd;

				cap = cap ? cap * 2 : 64;
				nd = realloc(drop, cap * sizeof(*nd));
				if (!nd) {
					free(drop);
					return avm_errf(err, "out of memory (KSM scan)");
				}
				drop = nd;
			}
			drop[n++] = mm_id;
			drop[n++] = addr;
		}
	}
	for (uint64_t i = 0; i < n; i += 2)
		ksm_release(s, drop[i], drop[i + 1]);
	free(drop);
	return 0;
}

static void ksm_mark_stale(struct mm_space *mm, uint64_t start, uint64_t end)
{
	struct mm_sim *s = mm->sim;
	struct u64map *pages = u64map_get(&s->ksm, mm->id);
	uint64_t it = 0, key;
	void *pv;

	while (pages && u64map_next(pages, &it, &key, &pv)) {
		uint64_t addr = (key - 1) << s->page_shift;

		if (addr >= start && addr < end)
			((struct ksm_pin *)pv)->stale = true;
	}
}

static int ksm_event(struct mm_sim *s, const struct avm_event *ev, struct avm_err *err)
{
	uint64_t addr = (uint64_t)ev->d & ~(s->p.page_size - 1);

	if (!s->p.ksm || !s->ops->ksm_pin || !s->ops->ksm_unpin)
		return 0;
	switch (ev->a) {
	case AVM_KSM_MERGE:
		return ev->c == 0 && ev->d > 0 ? ksm_merge(s, ev->mm, addr, err) : 0;
	case AVM_KSM_REMOVE_RMAP:
		if (ev->d > 0)
			ksm_release(s, ev->mm, addr);
		return 0;
	case AVM_KSM_SCAN_END:
		return ksm_scan_end(s, false, err);
	default:
		return 0;
	}
}

/*
 * khugepaged or MADV_COLLAPSE collapsed the PMD range of mm holding linear
 * page index idx (the index of a folio its isolate step named) into one
 * PMD-sized folio (collapse_huge_page): the anonymous VMA whose linear range
 * holds idx gives the address; the range's folios leave, one new folio named
 * by the VMA's anon state (folio_add_new_anon_rmap) maps all of it through
 * the PMD.  A range the world does not have is left alone.
 */
static int thp_collapse(struct mm_sim *s, uint64_t mm_id, uint64_t idx, struct avm_err *err)
{
	struct mm_space *mm = u64map_get(&s->mms, mm_id);
	struct mm_vma *v = NULL;
	uint64_t base, a;
	struct chunk *c;
	struct folio *nf;

	for (size_t i = 0; mm && i < mm->nvma && !v; i++) {
		struct mm_vma *w = mm->vma[i];

		if (vma_is_anonymous(w) && !(w->flags & (VM_SHARED | VM_HUGETLB)) &&
		    idx >= w->pgoff && idx < w->pgoff + mm_vma_pages(w, s->p.page_size) &&
		    has_anon(s, w))
			v = w;
	}
	if (!v)
		return 0;
	base = (v->start + ((idx - v->pgoff) << s->page_shift)) & ~(s->p.pmd_size - 1);
	if (base < v->start || base + s->p.pmd_size > v->end)
		return 0;
	c = chunk_get(mm, base, true, err);
	if (!c || chunk_slots(s, c, err) || pt_touch(mm, base, true, err))
		return -1;
	nf = folio_new(s, s->ops->folio_owner(s->model, v), linear_index(s, v, base),
		       (uint32_t)s->chunk_pages, err);
	if (!nf)
		return -1;
	nf->maps = 1; /* held while mapping, dropped below */
	for (a = 0; a < s->chunk_pages; a++)
		slot_set(s, c->sl, a, nf);
	folio_unmap(s, nf);
	c->pmd = true;
	c->thp = true;
	s->st.thp_collapses++;
	return 0;
}

/* madvise advice that zap, populate or prepare instead of changing flags. */
static int madvise_action(struct mm_sim *s, struct mm_space *mm, uint64_t start, uint64_t end,
			  int64_t advice, struct avm_err *err)
{
	uint64_t a = start;

	switch (advice) {
	case KABI_MADV_DONTNEED:
	case KABI_MADV_DONTNEED_LOCKED:
		thp_cut(s, mm, start); /* a partial zap of a PMD-mapped folio splits it */
		thp_cut(s, mm, end);
		if (zap_range(mm, start, end, err))
			return -1;
		if (mm->pt) /* zap_page_range keeps the page tables */
			arch_pt_zap(mm->pt, start, end);
		pmd_clear_zapped(mm, start, end);
		return 0;
	case KABI_MADV_UNMERGEABLE:
		ksm_mark_stale(mm, start, end);
		return 0;
	case KABI_MADV_POPULATE_READ:
		return populate(s, mm, start, end, 0, err);
	case KABI_MADV_POPULATE_WRITE:
		return populate(s, mm, start, end, 1, err);
	case KABI_MADV_GUARD_INSTALL:
		/* madvise_guard_install prepares although no page is mapped (§2.2) */
		while (a < end) {
			size_t i = idx_end_above(mm, a);
			struct mm_vma *v = i < mm->nvma ? mm->vma[i] : NULL;

			if (!v || v->start >= end)
				break;
			if (!(v->flags & (VM_SHARED | VM_SPECIAL | VM_HUGETLB | VM_LOCKED)) &&
			    anon_prepare(s, v, err))
				return -1;
			a = v->end;
		}
		return 0;
	default:
		return 0;
	}
}

static int sys_madvise(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
		       struct avm_err *err)
{
	uint64_t start = (uint64_t)ev->a, end = start + page_align(s, (uint64_t)ev->b);
	struct modify m = { MOD_MADVISE, ev->c, false };
	bool failed = ev->d < 0 && ev->d != -KABI_ENOMEM; /* ENOMEM: holes, the rest applied */

	if (ev->d < 0)
		s->st.failed_syscalls++;
	if (start & (s->p.page_size - 1))
		return 0;
	if (failed && ev->c != KABI_MADV_WIPEONFORK && ev->c != KABI_MADV_KEEPONFORK &&
	    ev->c != KABI_MADV_DOFORK && ev->c != KABI_MADV_DODUMP)
		return 0;
	if (madvise_action(s, mm, start, end, ev->c, err))
		return -1;
	return modify_range(s, mm, start, end, &m, failed, err);
}

static int sys_mlock(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
		     bool lock, struct avm_err *err)
{
	uint64_t start = (uint64_t)ev->a & ~(s->p.page_size - 1);
	uint64_t end = page_align(s, (uint64_t)ev->a + (uint64_t)ev->b);
	struct modify m = { lock ? MOD_MLOCK : MOD_MUNLOCK, ev->c, true };

	if (ev->d < 0) {
		s->st.failed_syscalls++;
		return 0;
	}
	if (modify_range(s, mm, start, end, &m, false, err))
		return -1;
	if (lock && !(ev->c & KABI_MLOCK_ONFAULT))
		return populate(s, mm, start, end, -1, err);
	return 0;
}

static int sys_mlockall(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
			bool lock, struct avm_err *err)
{
	int64_t fl = lock ? ev->c : 0;
	struct modify m = { MOD_MUNLOCK, 0, false };

	if (ev->d < 0) {
		s->st.failed_syscalls++;
		return 0;
	}
	/* def_flags: MCL_FUTURE locks later mappings (eager.md §7.1) */
	mm->def_flags &= ~VM_LOCKED_MASK;
	if (fl & KABI_MCL_FUTURE)
		mm->def_flags |= VM_LOCKED | ((fl & KABI_MCL_ONFAULT) ? VM_LOCKONFAULT : 0);
	if (lock && !(fl & KABI_MCL_CURRENT))
		return 0;
	if (lock) {
		m.kind = MOD_MLOCK;
		m.arg = (fl & KABI_MCL_ONFAULT) ? KABI_MLOCK_ONFAULT : 0;
	}
	if (modify_range(s, mm, 0, UINT64_MAX, &m, false, err))
		return -1;
	if (lock && !(fl & KABI_MCL_ONFAULT))
		return populate(s, mm, 0, UINT64_MAX, -1, err);
	return 0;
}

static int sys_vma_name(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
			struct avm_err *err)
{
	uint64_t start = (uint64_t)ev->a, end = start + page_align(s, (uint64_t)ev->b);
	struct modify m = { MOD_NAME, ev->c, false };
	bool failed = ev->d < 0 && ev->d != -KABI_ENOMEM;

	if (ev->d < 0)
		s->st.failed_syscalls++;
	return modify_range(s, mm, start, end, &m, failed, err);
}

static int sys_mseal(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
		     struct avm_err *err)
{
	uint64_t start = (uint64_t)ev->a, end = start + page_align(s, (uint64_t)ev->b);
	struct modify m = { MOD_SEAL, 0, true };

	if (ev->d < 0) {
		s->st.failed_syscalls++;
		return 0; /* mseal checks the whole range before changing anything */
	}
	return modify_range(s, mm, start, end, &m, false, err);
}

/* ------------------------------------------------------------------------- */
/* brk */

/*
 * An mm adopted from a start snapshot whose first brk we see is a real
 * request (not brk(0)) that succeeded: the call may already have moved the
 * break, and the snapshot does not say where it was.  do_brk_flags keeps
 * the brk VMA ending at the (page-aligned) break (eager.md §2.7 "brk grow"),
 * so the old break is the end of the private anonymous VMA holding the new
 * break or lying just below it with nothing in between.  Without this, a
 * grow is missed (the world lacks the grown part) and the shrink that
 * follows skips the kernel's split of the brk VMA (+L AVCs, then -L).
 */
/*
 * Where the heap of an adopted mm starts, given the anonymous VMA c that ends
 * at the break: c itself is the heap unless it is the bss, which the ELF
 * loader puts right after the file-backed data segment (then the heap is
 * still empty and starts at c's end).  A randomised heap is never adjacent.
 */
static uint64_t brk_guess_start(const struct mm_space *mm, const struct mm_vma *c)
{
	size_t i = idx_of(mm, c);
	const struct mm_vma *below = i ? mm->vma[i - 1] : NULL;

	if (below && below->end == c->start && below->file)
		return c->end;
	return c->start;
}

static bool brk_infer_old(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
			  uint64_t *oldbrk)
{
	uint64_t newa = page_align(s, (uint64_t)ev->b);
	size_t i;
	struct mm_vma *c;

	if (!mm->users_unknown || !ev->a || ev->a != ev->b)
		return false; /* built in the trace, a query, or a failed call */
	i = idx_start_ge(mm, newa);
	if (i == 0)
		return false;
	c = mm->vma[i - 1];
	if (!vma_is_anonymous(c) || (c->flags & (VM_SHARED | VM_SPECIAL)) ||
	    !(c->flags & VM_WRITE))
		return false;
	mm->start_brk = brk_guess_start(mm, c);
	if (c->end == newa)
		return false;
	*oldbrk = c->end;
	return true;
}

/*
 * brk grows the VMA ending at the old break only if it is a brk VMA: the
 * kernel looks for it with vma_prev_limit(start_brk), so the bss below the
 * heap (or anything else under start_brk) is never extended; the first
 * growth makes a new VMA (eager.md §2.7 "brk grow").
 */
static bool brk_may_extend(struct mm_sim *s, struct mm_space *mm, uint64_t olda)
{
	size_t i = idx_start_ge(mm, olda);

	return i && mm->vma[i - 1]->end == olda &&
	       mm->vma[i - 1]->start >= page_align(s, mm->start_brk);
}

static int sys_brk(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
		   struct avm_err *err)
{
	uint64_t newbrk = (uint64_t)ev->b, oldbrk = mm->brk, olda, newa;
	struct vattr a = { 0 };
	struct mm_vma *v;
	int failed;

	if (!mm->brk_known) {
		/* The first brk we see (normally brk(0)) tells where the break is. */
		mm->brk = mm->start_brk = newbrk;
		mm->brk_known = true;
		if (!brk_infer_old(s, mm, ev, &oldbrk))
			return 0;
		mm->brk = newbrk;
	}
	if (newbrk == oldbrk)
		return 0; /* query, no-op or failure */
	mm->brk = newbrk;
	olda = page_align(s, oldbrk);
	newa = page_align(s, newbrk);
	if (newa == olda)
		return 0;
	if (newa < olda)
		return do_munmap(s, mm, newa, olda, MODEL_WHY_UNMAP, err);
	/* do_brk_flags: extend the VMA ending at the old break, prev only (§2.7 "brk grow") */
	a.flags = VM_DATA_DEFAULT | VM_ACCOUNT | mm->def_flags;
	a.pgoff = pages_of(s, olda);
	v = NULL;
	failed = 0;
	if (brk_may_extend(s, mm, olda))
		v = merge_new(s, mm, olda, newa, &a, NULL, NULL, true, MODEL_WHY_MMAP, &failed, err);
	if (failed)
		return -1;
	if (!v && !vma_create(s, mm, olda, newa, &a, MODEL_WHY_MMAP, err))
		return -1;
	if (mm->def_flags & VM_LOCKED)
		return populate(s, mm, olda, newa, -1, err);
	return 0;
}

/* ------------------------------------------------------------------------- */
/* mremap */

struct move_pages_ctx {
	struct folio **f;
	uint64_t *off;
	size_t n, cap;
	uint64_t start, end;
	const struct mm_sim *s;
};

static int collect_chunk(void *ctx, uint64_t base, struct chunk *c)
{
	struct move_pages_ctx *m = ctx;
	size_t i, i1;

	slot_range(m->s, base, m->start, m->end, &i, &i1);
	for (i = slot_next(c->sl, i, i1); i < i1; i = slot_next(c->sl, i + 1, i1)) {
		size_t capf = m->cap; /* f and off share m->cap: both grow alike */

		if (array_grow((void **)&m->f, &capf, m->n + 1, sizeof(*m->f), 64) ||
		    array_grow((void **)&m->off, &m->cap, m->n + 1, sizeof(*m->off), 64))
			return -1;
		m->f[m->n] = c->sl->pg[i];
		m->off[m->n++] = base + ((uint64_t)i << m->s->page_shift) - m->start;
	}
	return 0;
}

/* move_page_tables: the anon pages of [from, from+len) now sit at [to, to+len). */
static int move_pages(struct mm_sim *s, struct mm_space *mm, uint64_t from, uint64_t to,
		      uint64_t len, struct avm_err *err)
{
	struct move_pages_ctx m = { NULL, NULL, 0, 0, from, from + len, s };
	size_t i;
	int rc = -1;

	if (chunks_in(mm, from, from + len, collect_chunk, &m)) {
		avm_errf(err, "out of memory (mremap pages)");
		goto out;
	}
	for (i = 0; i < m.n; i++)
		m.f[i]->maps++; /* hold across the zap */
	if (zap_range(mm, from, from + len, err))
		goto out;
	for (i = 0; i < m.n; i++) {
		if (page_set(mm, to + m.off[i], m.f[i], err) ||
		    pt_touch(mm, to + m.off[i], false, err))
			goto out;
		folio_unmap(s, m.f[i]);
		chunk_get(mm, to + m.off[i], true, err)->pmd = true;
	}
	rc = 0;
out:
	free(m.f);
	free(m.off);
	return rc;
}

/*
 * move_vma for one source VMA piece (eager.md §2.7 "mremap move"): copy_vma
 * (new-range merge with copied_from, else a new VMA cloning v's chain), move
 * the pages, then unmap the source range (or, with DONTUNMAP, unlink the
 * source when it moved whole and leave it unfaulted).
 */
static int move_one(struct mm_sim *s, struct mm_space *mm, struct mm_vma *v, uint64_t from,
		    uint64_t from_len, uint64_t to, uint64_t to_len, bool dontunmap,
		    struct avm_err *err)
{
	struct vattr a;
	struct mm_vma *t;
	bool whole = from == v->start && from + from_len == v->end;
	int failed;

	vattr_of(v, &a);
	a.pgoff = v->pgoff + pages_of(s, from - v->start);
	/* copy_vma: an unfaulted anonymous VMA gets pgoff = new address / PAGE */
	if (vma_is_anonymous(v) && !(v->flags & VM_SHARED) && !has_anon(s, v))
		a.pgoff = pages_of(s, to);
	/* the model may need to know which of v's pages move (lazy's rebase) */
	s->move_len = from_len < to_len ? from_len : to_len;
	t = merge_new(s, mm, to, to + to_len, &a, v, v, false, MODEL_WHY_MREMAP, &failed, err);
	if (!failed && !t) {
		t = vma_create(s, mm, to, to + to_len, &a, MODEL_WHY_MREMAP, err);
		if (!t || anon_clone(s, t, v, MODEL_WHY_MREMAP, err))
			failed = 1;
	}
	s->move_len = 0;
	if (failed)
		return -1;
	/*
	 * mremap_userfaultfd_prep: the copy carries the source's uffd ctx; without
	 * UFFD_FEATURE_EVENT_REMAP the kernel drops it (userfaultfd_reset_ctx, no merge).
	 */
	if (t->uffd_ctx && !(uffd_features(s, t->uffd_ctx) & KABI_UFFD_FEATURE_EVENT_REMAP)) {
		t->uffd_ctx = 0;
		t->flags &= ~VM_UFFD_MASK;
	}
	if (move_pages(s, mm, from, to, from_len < to_len ? from_len : to_len, err))
		return -1;
	if (!dontunmap)
		return do_munmap(s, mm, from, from + from_len, MODEL_WHY_UNMAP, err);
	/*
	 * MREMAP_DONTUNMAP (dontunmap_complete): the source VMA stays mapped, empty,
	 * and loses VM_LOCKED/VM_LOCKONFAULT (the whole VMA, no split: its pages
	 * left); it is unlinked if it moved whole into another VMA.
	 */
	v = mm_find_vma(mm, from);
	if (v && v != t)
		v->flags &= ~VM_LOCKED_MASK;
	if (v && v != t && whole && v->start == from)
		anon_unlink(s, v, MODEL_WHY_MREMAP);
	return 0;
}

static int sys_mremap(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
		      struct avm_err *err)
{
	uint64_t old = (uint64_t)ev->a, oldlen = page_align(s, (uint64_t)ev->b);
	uint64_t newlen = page_align(s, (uint64_t)ev->c), to = (uint64_t)ev->e;
	int64_t flags = ev->d;
	bool dontunmap = flags & KABI_MREMAP_DONTUNMAP;
	struct mm_vma *v;

	if (ev->e < 0) {
		s->st.failed_syscalls++;
		return 0;
	}
	if (to == old && !(flags & KABI_MREMAP_FIXED) && !dontunmap) {
		int failed;
		struct vattr a;
		struct mm_vma *t;

		if (newlen < oldlen)
			return do_munmap(s, mm, old + newlen, old + oldlen, MODEL_WHY_UNMAP, err);
		if (newlen == oldlen)
			return 0;
		/* grow in place: vma_merge_extend, prev = the VMA itself, may absorb next */
		v = mm_find_vma(mm, old);
		if (!v)
			return 0;
		vattr_of(v, &a);
		a.pgoff = v->pgoff + pages_of(s, v->end - v->start);
		if (do_munmap(s, mm, v->end, old + newlen, MODEL_WHY_UNMAP, err))
			return -1; /* nothing should be there; keep the map consistent */
		t = merge_new(s, mm, v->end, old + newlen, &a, v, NULL, false, MODEL_WHY_MREMAP,
			      &failed, err);
		if (failed)
			return -1;
		if (!t)
			v->end = old + newlen; /* the kernel succeeded: expand regardless */
		return 0;
	}
	/* a move: the destination is unmapped first (MREMAP_FIXED), then a shrink of the tail */
	if (do_munmap(s, mm, to, to + newlen, MODEL_WHY_UNMAP, err))
		return -1;
	if (oldlen == 0) {
		/* duplicate of a shared mapping: a new VMA, no anon state */
		struct vattr a;

		v = mm_find_vma(mm, old);
		if (!v)
			return 0;
		vattr_of(v, &a);
		a.pgoff = v->pgoff + pages_of(s, old - v->start);
		return vma_create(s, mm, to, to + newlen, &a, MODEL_WHY_MREMAP, err) ? 0 : -1;
	}
	if (newlen < oldlen) {
		if (do_munmap(s, mm, old + newlen, old + oldlen, MODEL_WHY_UNMAP, err))
			return -1;
		oldlen = newlen;
	}
	if (newlen == oldlen) {
		/* 6.18: a same-size move may span several VMAs, each moved on its own */
		uint64_t a = old;

		while (a < old + oldlen) {
			size_t i = idx_end_above(mm, a);
			uint64_t e;

			v = i < mm->nvma ? mm->vma[i] : NULL;
			if (!v || v->start >= old + oldlen)
				break;
			if (v->start > a)
				a = v->start;
			e = v->end < old + oldlen ? v->end : old + oldlen;
			if (move_one(s, mm, v, a, e - a, to + (a - old), e - a, dontunmap, err))
				return -1;
			a = e;
		}
		return 0;
	}
	v = mm_find_vma(mm, old);
	if (!v)
		return 0;
	if (oldlen > v->end - old)
		oldlen = v->end - old;
	return move_one(s, mm, v, old, oldlen, to, newlen, dontunmap, err);
}

/* ------------------------------------------------------------------------- */
/* userfaultfd */

/*
 * Did a failed UFFDIO_* ioctl get as far as locking its destination VMA?
 * uffd_mfill_lock / uffd_move_lock prepare the anon_vma of the (private)
 * VMA at the destination before anything else is checked, so an error that
 * comes after them (-EEXIST: a page is there; -ENOENT: no registered VMA
 * or a source hole; -EBUSY: a shared folio to move) left the anon_vma
 * prepared.  -EAGAIN (mmap changing), -EINVAL (arguments, checked before
 * and after the lock alike: taken as before) and the rest: nothing changed.
 */
static bool uffd_reached_vma(int64_t res, bool move)
{
	return res == -KABI_EEXIST || res == -KABI_ENOENT || (move && res == -KABI_EBUSY);
}

/* Bytes an ioctl did (its result, page aligned down, at most len); 0 if it failed. */
static uint64_t uffd_done(const struct mm_sim *s, int64_t res, uint64_t len)
{
	uint64_t d = res > 0 ? (uint64_t)res : 0;

	if (d > len)
		d = len;
	return d & ~(s->p.page_size - 1);
}

/* UFFDIO_REGISTER / UNREGISTER: the ctx and VM_UFFD_* flags of every VMA in range. */
static int sys_uffd_register(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
			     bool reg, struct avm_err *err)
{
	uint64_t start = (uint64_t)ev->a, end = start + page_align(s, (uint64_t)ev->b);
	struct modify m = { reg ? MOD_UFFD_REGISTER : MOD_UFFD_UNREGISTER, 0, false };

	if (ev->d < 0) {
		s->st.failed_syscalls++;
		return 0; /* both validate the whole range before changing any VMA */
	}
	if (start & (s->p.page_size - 1))
		return 0;
	if (reg) {
		s->uffd_reg_ctx = ev->e > 0 ? (uint64_t)ev->e : UFFD_UNKNOWN_CTX;
		m.arg = (int64_t)(((ev->c & KABI_UFFD_MODE_MISSING) ? VM_UFFD_MISSING : 0) |
				  ((ev->c & KABI_UFFD_MODE_WP) ? VM_UFFD_WP : 0) |
				  ((ev->c & KABI_UFFD_MODE_MINOR) ? VM_UFFD_MINOR : 0));
		if (ev->e > 0 &&
		    u64map_put(&s->uffd_features, (uint64_t)ev->e, (void *)(uintptr_t)(ev->f + 1)))
			return avm_errf(err, "out of memory (uffd features)");
	}
	return modify_range(s, mm, start, end, &m, false, err);
}

/*
 * The start both userfaultfd fills and UFFDIO_MOVE share: a failed call
 * counts, and went on only if it reached the VMA lock (uffd_reached_vma);
 * misaligned or empty ranges end before the lock; the destination VMA's
 * anon_vma is prepared unless it is shared (uffd_mfill_lock /
 * uffd_move_lock); the bytes done stay within that one VMA.  1 with *vp and
 * *donep set, 0 when nothing more happens, -1 on error.
 */
static int uffd_begin(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
		      uint64_t src, bool move, struct mm_vma **vp, uint64_t *donep,
		      struct avm_err *err)
{
	uint64_t dst = (uint64_t)ev->a, len = (uint64_t)ev->b, done;
	struct mm_vma *v;

	if (ev->d <= 0) {
		s->st.failed_syscalls++;
		if (!uffd_reached_vma(ev->d, move))
			return 0;
	}
	if (((dst | src | len) & (s->p.page_size - 1)) || !len)
		return 0; /* -EINVAL before the lock */
	v = mm_find_vma(mm, dst);
	if (!v)
		return 0;
	if (!(v->flags & VM_SHARED) && anon_prepare(s, v, err))
		return -1;
	done = uffd_done(s, ev->d, len);
	if (done > v->end - dst)
		done = v->end - dst; /* the kernel works within one VMA */
	*vp = v;
	*donep = done;
	return 1;
}

/*
 * UFFDIO_COPY, ZEROPAGE, CONTINUE, POISON (mfill_atomic): prepare the
 * destination VMA's anon_vma unless it is shared (uffd_mfill_lock), then
 * fill the pages done: COPY maps a new anonymous folio into a private VMA
 * (folio_add_new_anon_rmap: the destination's anon_vma, linear index);
 * ZEROPAGE maps the zero page, CONTINUE a page-cache page, POISON a marker:
 * page-table entries, no anon folio.
 */
static int sys_uffd_fill(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
			 struct avm_err *err)
{
	uint64_t dst = (uint64_t)ev->a, done = 0, a;
	struct mm_vma *v = NULL;
	int rc = uffd_begin(s, mm, ev, 0, false, &v, &done, err);

	if (rc <= 0)
		return rc;
	if (done > MM_POPULATE_MAX_BYTES)
		return avm_errf(err, "a userfaultfd fill of %#llx-%#llx maps more than %llu GiB at "
				"once, beyond what the simulator models", (unsigned long long)dst,
				(unsigned long long)(dst + done),
				(unsigned long long)(MM_POPULATE_MAX_BYTES >> 30));
	for (a = dst; a < dst + done; a += s->p.page_size) {
		struct chunk *c = chunk_get(mm, a, true, err);
		struct folio *f;

		if (!c)
			return -1;
		c->pmd = true; /* mfill allocates a PTE table: no THP here afterwards */
		if (pt_touch(mm, a, false, err))
			return -1;
		if (ev->kind != AVM_UFFD_COPY || (v->flags & (VM_SHARED | VM_HUGETLB)))
			continue;
		if (c->sl && c->sl->pg[page_slot(s, a)])
			continue; /* -EEXIST in the kernel: a page is there */
		f = folio_new(s, s->ops->folio_owner(s->model, v), linear_index(s, v, a), 1, err);
		if (!f || page_set(mm, a, f, err))
			return -1;
	}
	return 0;
}

/*
 * UFFDIO_MOVE (move_pages): prepare the destination VMA's anon_vma
 * (uffd_move_lock), then move the pages done from src to dst: each
 * exclusive anonymous folio is re-pointed to the destination
 * (folio_move_anon_rmap: the destination's anon_vma, or under the lazy
 * design its root; index = the destination's linear index) and its PTE
 * moves; no allocation.  A PMD-mapped folio moves whole when both sides are
 * PMD aligned and the move covers it (move_pages_huge_pmd); otherwise the
 * kernel splits it first and the moved page becomes a folio of its own.
 * Holes and zero pages move as page-table entries only.
 */
static int sys_uffd_move(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
			 struct avm_err *err)
{
	uint64_t dst = (uint64_t)ev->a, src = (uint64_t)ev->c, done = 0;
	struct move_pages_ctx m = { NULL, NULL, 0, 0, 0, 0, s };
	struct folio *last = NULL;
	struct mm_vma *v = NULL;
	size_t i;
	int rc = uffd_begin(s, mm, ev, src, true, &v, &done, err);

	if (rc <= 0)
		return rc;
	rc = -1;
	if (!done)
		return 0;
	m.start = src;
	m.end = src + done;
	if (chunks_in(mm, src, src + done, collect_chunk, &m)) {
		avm_errf(err, "out of memory (uffd move pages)");
		goto out;
	}
	for (i = 0; i < m.n; i++)
		m.f[i]->maps++; /* hold across the zap of the source */
	if (zap_range(mm, src, src + done, err))
		goto out;
	for (i = 0; i < m.n; i++) {
		uint64_t to = dst + m.off[i];
		struct folio *f = m.f[i], *nf;
		struct chunk *c = chunk_get(mm, to, true, err);

		if (!c || pt_touch(mm, to, false, err))
			goto out;
		c->pmd = true;
		if (f->nr > 1 && f != last &&
		    !(((src + m.off[i]) | to) & (s->p.pmd_size - 1)) &&
		    m.off[i] + s->p.pmd_size <= done)
			last = f; /* a whole PMD-mapped folio moves as it is */
		if (f->nr > 1 && f != last) {
			/* split: the moved page becomes a folio of its own, named by dst */
			nf = folio_new(s, s->ops->folio_owner(s->model, v), linear_index(s, v, to), 1,
				       err);
			if (!nf || page_set(mm, to, nf, err))
				goto out;
		} else {
			if (f->nr == 1 || m.off[i] == 0 || m.f[i - 1] != f) {
				uint64_t old = f->owner;

				f->owner = s->ops->folio_owner(s->model, v);
				f->index = linear_index(s, v, to);
				if (s->ops->folio_gone)
					s->ops->folio_gone(s->model, old);
			}
			if (page_set(mm, to, f, err))
				goto out;
		}
	}
	rc = 0;
out:
	for (i = 0; i < m.n; i++)
		folio_unmap(s, m.f[i]);
	free(m.f);
	free(m.off);
	return rc;
}

/* ------------------------------------------------------------------------- */
/* shm */

static int sys_shmat(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
		     struct avm_err *err)
{
	struct avm_event m = *ev;

	if (ev->a < 0) {
		s->st.failed_syscalls++;
		return 0;
	}
	/* a shared file mapping of the segment's shm file, pgoff 0 */
	m.c = KABI_PROT_READ | ((ev->c & 010000) ? 0 : KABI_PROT_WRITE); /* SHM_RDONLY */
	m.d = KABI_MAP_SHARED | KABI_MAP_FIXED;
	m.f = 0;
	if (!m.e)
		m.e = (int64_t)fake_file(s);
	return sys_mmap(s, mm, &m, err);
}

static int sys_shmdt(struct mm_sim *s, struct mm_space *mm, const struct avm_event *ev,
		     struct avm_err *err)
{
	struct mm_vma *v = mm_find_vma(mm, (uint64_t)ev->a);
	uint64_t file;

	if (ev->d < 0 || !v || v->start != (uint64_t)ev->a || !(v->flags & VM_SHARED))
		return 0;
	/* every VMA of that segment from addr on */
	file = v->file;
	while (v && v->file == file) {
		struct mm_vma *n = mm_vma_next(v);
		uint64_t e = v->end;

		if (do_munmap(s, mm, v->start, e, MODEL_WHY_UNMAP, err))
			return -1;
		v = n && n->start == e ? mm_find_vma(mm, e) : NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------------- */
/* fork, exit, exec, adopt */

/*
 * copy_page_range for a whole fork: the child shares each chunk's slot array
 * (copy on write), except where a VM_DONTCOPY or VM_WIPEONFORK VMA - whose
 * pages stay in the parent - touches the chunk: there the pages of the other
 * VMAs are copied one by one.
 */
static int fork_copy_pages(struct mm_sim *s, struct mm_space *pm, struct mm_space *cm,
			   struct avm_err *err)
{
	const uint64_t nocopy = VM_DONTCOPY | VM_WIPEONFORK;
	uint64_t it = 0, key, *skip = NULL;
	size_t nskip = 0, i, k;
	void *val;
	int rc = -1;

	for (i = 0; i < pm->nvma; i++)
		if (pm->vma[i]->flags & nocopy)
			nskip++;
	if (nskip) {
		skip = malloc(2 * nskip * sizeof(*skip));
		if (!skip)
			return avm_errf(err, "out of memory (fork)");
		for (i = 0, k = 0; i < pm->nvma; i++) {
			if (pm->vma[i]->flags & nocopy) {
				skip[k++] = pm->vma[i]->start;
				skip[k++] = pm->vma[i]->end;
			}
		}
	}
	while (u64map_next(&pm->chunks, &it, &key, &val)) {
		struct chunk *c = val, *cc;
		uint64_t base = (key - 1) << s->pmd_shift;
		bool whole = true;

		if (!c->sl || !c->sl->npages) {
			/* no anon page, but copy_page_range still copies the tables of faulted VMAs */
			size_t j = idx_end_above(pm, base);
			bool copied = false;

			for (; c->pmd && !copied && j < pm->nvma && pm->vma[j]->start <
			     base + s->p.pmd_size; j++)
				copied = !(pm->vma[j]->flags & nocopy) && has_anon(s, pm->vma[j]);
			if (!copied)
				continue;
			cc = chunk_get(cm, base, true, err);
			if (!cc)
				goto out;
			cc->pmd = true;
			continue;
		}
		cc = chunk_get(cm, base, true, err);
		if (!cc)
			goto out;
		cc->pmd = c->pmd;
		cc->thp = c->thp;
		for (k = 0; k < nskip && whole; k++)
			whole = skip[2 * k + 1] <= base || skip[2 * k] >= base + s->p.pmd_size;
		if (whole) {
			cc->sl = c->sl;
			c->sl->refs++;
			continue;
		}
		for (i = slot_next(c->sl, 0, s->chunk_pages); i < s->chunk_pages;
		     i = slot_next(c->sl, i + 1, s->chunk_pages)) {
			struct mm_vma *v = mm_find_vma(pm, base + ((uint64_t)i << s->page_shift));

			if (!v || (v->flags & nocopy))
				continue;
			if (chunk_slots(s, cc, err))
				goto out;
			slot_set(s, cc->sl, i, c->sl->pg[i]);
		}
	}
	rc = 0;
out:
	free(skip);
	return rc;
}

/* dup_mmap (eager.md §2.7 "fork"): parent VMAs in ascending address order. */
static int sim_fork(struct mm_sim *s, struct mm_space *pm, uint64_t child_id,
		    struct avm_err *err)
{
	struct mm_space *cm;
	size_t i;

	cm = u64map_get(&s->mms, child_id);
	if (cm)
		mm_teardown(s, cm); /* a stale mm under a reused id */
	cm = mm_new(s, child_id, MODEL_WHY_FORK, false, err);
	if (!cm)
		return -1;
	cm->start_brk = pm->start_brk;
	cm->brk = pm->brk;
	cm->brk_known = pm->brk_known;
	cm->def_flags = pm->def_flags & VM_NOHUGEPAGE; /* VM_INIT_DEF_MASK */
	cm->thp_disabled = pm->thp_disabled;
	s->st.forks++;
	if (s->ops->fork_begin && s->ops->fork_begin(s->model, pm, cm, err))
		return -1;
	for (i = 0; i < pm->nvma; i++) {
		struct mm_vma *pv = pm->vma[i], *cv;
		struct vattr a;

		vma_wlock(s, pv, LOCKS_WHY_FORK); /* dup_mmap write-locks every parent VMA */
		if (pv->flags & VM_DONTCOPY)
			continue;
		cv = vma_alloc(s, MODEL_WHY_FORK, err);
		if (!cv)
			return -1;
		vattr_of(pv, &a);
		vattr_apply(cv, &a);
		cv->start = pv->start;
		cv->end = pv->end;
		cv->pgoff = pv->pgoff;
		cv->flags &= ~VM_LOCKED_MASK; /* mlock is not inherited */
		if (cv->uffd_ctx &&
		    (uffd_features(s, cv->uffd_ctx) & KABI_UFFD_FEATURE_EVENT_FORK)) {
			/* dup_userfaultfd: the child's VMAs get a ctx of their own */
			cv->uffd_ctx = UFFD_CHILD_CTX | (child_id << 24) | (cv->uffd_ctx & 0xffffff);
		} else if (cv->uffd_ctx) {    /* no EVENT_FORK: the child is unregistered */
			cv->uffd_ctx = 0;
			cv->flags &= ~VM_UFFD_MASK;
		}
		if (vma_insert(cm, cv, err))
			return -1;
		if (pv->flags & VM_WIPEONFORK)
			continue; /* no anon state, no pages */
		if (!has_anon(s, pv))
			continue;
		if (s->ops->fork_vma(s->model, cv, pv, err))
			return -1;
		/* copy_page_range: only VMAs that need copying (anon_vma set) */
		if (cm->pt && arch_pt_copy(cm->pt, pm->pt, pv->start, pv->end, NULL, err))
			return -1;
	}
	if (fork_copy_pages(s, pm, cm, err))
		return -1;
	if (s->ops->fork_end && s->ops->fork_end(s->model, pm, cm, err))
		return -1;
	return 0;
}

static int sys_fork(struct mm_sim *s, struct mm_space *pm, const struct avm_event *ev,
		    struct avm_err *err)
{
	uint64_t child = (uint64_t)ev->a;

	if (child == pm->id || (ev->c & KABI_CLONE_VM)) {
		/* threads, vfork, posix_spawn: the mm is shared (no dup_mmap) */
		struct mm_space *mm = child == pm->id ? pm : mm_get(s, child, err);

		if (!mm)
			return -1;
		if (mm != pm || child == pm->id)
			mm->users++;
		s->st.vforks++;
		return 0;
	}
	if (child == 0)
		return 0;
	return sim_fork(s, pm, child, err);
}

static bool is_power_of_two(uint64_t x)
{
	return x && !(x & (x - 1));
}

/*
 * Build VMAs of mm from snapshot rows (exec or start), adopting their anon
 * state.  Every row is checked before the first is built: a broken snapshot
 * adopts nothing (a half-adopted session would leave the model's counters
 * unset for the teardown).
 */
static int adopt_rows(struct mm_sim *s, struct mm_space *mm, const struct avm_snap_vma *rows,
		      size_t n, bool preexisting, struct avm_err *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct avm_snap_vma *r = &rows[i];

		if (r->end <= r->start || (r->start & (s->p.page_size - 1)) ||
		    (r->end & (s->p.page_size - 1)))
			return avm_errf(err, "snapshot %llu: mm %llu: bad VMA [%#llx, %#llx)",
					(unsigned long long)r->snap, (unsigned long long)mm->id,
					(unsigned long long)r->start, (unsigned long long)r->end);
		if ((i && rows[i - 1].end > r->start) ||
		    (!i && mm->nvma && mm->vma[mm->nvma - 1]->end > r->start))
			return avm_errf(err, "snapshot %llu: mm %llu: VMA at %#llx overlaps or is "
					"out of order", (unsigned long long)r->snap,
					(unsigned long long)mm->id, (unsigned long long)r->start);
	}
	for (i = 0; i < n; i++) {
		const struct avm_snap_vma *r = &rows[i];
		struct mm_vma *v;

		v = vma_obj_new(s);
		if (!v)
			return avm_errf(err, "out of memory (VMA)");
		v->id = ++s->next_vma_id;
		if (preexisting)
			model_stats_adopt(s->ms, MODEL_OBJ_VMA);
		else
			model_stats_alloc(s->ms, MODEL_OBJ_VMA, MODEL_WHY_EXEC);
		v->start = r->start;
		v->end = r->end;
		v->pgoff = r->pgoff;
		v->flags = r->flags;
		v->file = r->file;
		v->has_close = (r->flags & VM_HUGETLB) != 0;
		if (vma_insert(mm, v, err))
			return -1;
		if (r->anon_vma) {
			struct chunk *c;

			if (s->ops->adopt(s->model, v, r, preexisting, err))
				return avm_err_prefix(err, "snapshot %llu: mm %llu: VMA %#llx",
						      (unsigned long long)r->snap,
						      (unsigned long long)mm->id,
						      (unsigned long long)r->start);
			/* a faulted VMA has page tables at least at its edges (§2.8) */
			c = chunk_get(mm, v->start, true, err);
			if (!c)
				return -1;
			c->pmd = true;
			c = chunk_get(mm, v->end - 1, true, err);
			if (!c)
				return -1;
			c->pmd = true;
		}
	}
	return 0;
}

uint64_t mm_sim_now(const struct mm_sim *s)
{
	return s->now;
}

uint64_t mm_sim_move_len(const struct mm_sim *s)
{
	return s->move_len;
}

int mm_sim_exec(struct mm_sim *s, const struct avm_event *ev, const struct avm_snap_vma *vmas,
		size_t n, struct avm_err *err)
{
	uint64_t nid = (uint64_t)ev->a;
	struct mm_space *old = u64map_get(&s->mms, ev->mm), *nm;

	s->now = ev->t;
	s->st.events++;
	s->st.execs++;
	if (nid == 0 || nid == ev->mm)
		return avm_errf(err, "event %llu: exec: bad new mm id %llu",
				(unsigned long long)ev->seq, (unsigned long long)nid);
	nm = u64map_get(&s->mms, nid);
	if (nm)
		mm_teardown(s, nm);
	nm = mm_new(s, nid, MODEL_WHY_EXEC, false, err);
	if (!nm)
		return -1;
	/* the new mm (stack, ELF segments, their COWs) exists before the old one goes */
	if (adopt_rows(s, nm, vmas, n, false, err))
		return avm_err_prefix(err, "event %llu: exec", (unsigned long long)ev->seq);
	if (old)
		mm_put(s, old, true);
	return 0;
}

int mm_sim_adopt_start(struct mm_sim *s, uint64_t mm_id, const struct avm_snap_vma *vmas,
		       size_t n, struct avm_err *err)
{
	struct mm_space *mm;

	if (u64map_get(&s->mms, mm_id))
		return avm_errf(err, "start snapshot: mm %llu adopted twice",
				(unsigned long long)mm_id);
	mm = mm_new(s, mm_id, MODEL_WHY_MMAP, true, err);
	if (!mm)
		return -1;
	mm->users_unknown = true;
	return adopt_rows(s, mm, vmas, n, true, err);
}

/* ------------------------------------------------------------------------- */
/* the event dispatcher */

int mm_sim_apply(struct mm_sim *s, const struct avm_event *ev, struct avm_err *err)
{
	struct mm_space *mm;
	int rc = 0;

	s->now = ev->t;
	switch (ev->kind) {
	case AVM_SLAB: case AVM_SNAPSHOT: case AVM_MMAP_LOCK: case AVM_MIGRATE:
	case AVM_RECLAIM: case AVM_TLB_FLUSH: case AVM_LOST:
		return 0; /* kernel truth and activity: not simulator input */
	case AVM_THP:
		/* a collapse that succeeded (c: SCAN_SUCCEED) and names its range (schema 3) */
		if (ev->a == AVM_THP_COLLAPSE && ev->c == 1 && ev->b > 0)
			return thp_collapse(s, ev->mm, (uint64_t)ev->b - 1, err);
		return 0;
	case AVM_KSM:
		return ksm_event(s, ev, err);
	case AVM_EXEC:
		return mm_sim_exec(s, ev, NULL, 0, err);
	case AVM_EXIT:
		s->st.events++;
		s->st.exits++;
		mm = u64map_get(&s->mms, ev->mm);
		if (mm)
			mm_put(s, mm, ev->a != 0);
		return 0;
	case AVM_MM_RELEASE:
		/* exit_mmap finished in the kernel: whatever we counted, the mm is gone */
		s->st.events++;
		mm = u64map_get(&s->mms, ev->mm);
		if (mm)
			mm_teardown(s, mm);
		return 0;
	default:
		break;
	}
	if (s->p.skip_unknown_mm && ev->mm && !u64map_get(&s->made, ev->mm)) {
		skip_count(&s->st.skipped, SKIP_UNKNOWN_MM);
		return 0;
	}
	s->st.events++;
	s->op_seq++;
	mm = mm_get(s, ev->mm, err);
	if (!mm)
		return avm_err_prefix(err, "event %llu", (unsigned long long)ev->seq);
	s->cpu = ev->cpu;
	if (mm->pt) /* mm_cpumask: remote TLB flushes reach every CPU the mm ran on */
		arch_pt_ran_on(mm->pt, ev->cpu);
	switch (ev->kind) {
	case AVM_FORK: rc = sys_fork(s, mm, ev, err); break;
	case AVM_MMAP: rc = sys_mmap(s, mm, ev, err); break;
	case AVM_MUNMAP:
		if (ev->c < 0 || ((uint64_t)ev->a & (s->p.page_size - 1))) {
			s->st.failed_syscalls += ev->c < 0;
			break;
		}
		rc = do_munmap(s, mm, (uint64_t)ev->a, (uint64_t)ev->a + page_align(s, (uint64_t)ev->b),
			       MODEL_WHY_UNMAP, err);
		break;
	case AVM_MPROTECT: rc = sys_mprotect(s, mm, ev, err); break;
	case AVM_MREMAP: rc = sys_mremap(s, mm, ev, err); break;
	case AVM_BRK: rc = sys_brk(s, mm, ev, err); break;
	case AVM_MADVISE: rc = sys_madvise(s, mm, ev, err); break;
	case AVM_MLOCK: rc = sys_mlock(s, mm, ev, true, err); break;
	case AVM_MUNLOCK: rc = sys_mlock(s, mm, ev, false, err); break;
	case AVM_MLOCKALL: rc = sys_mlockall(s, mm, ev, true, err); break;
	case AVM_MUNLOCKALL: rc = sys_mlockall(s, mm, ev, false, err); break;
	case AVM_VMA_NAME: rc = sys_vma_name(s, mm, ev, err); break;
	case AVM_MSEAL: rc = sys_mseal(s, mm, ev, err); break;
	case AVM_SHMAT: rc = sys_shmat(s, mm, ev, err); break;
	case AVM_SHMDT: rc = sys_shmdt(s, mm, ev, err); break;
	case AVM_PRCTL_THP:
		if (ev->d >= 0)
			mm->thp_disabled = ev->a != 0;
		break;
	case AVM_FAULT: rc = sys_fault(s, mm, ev, err); break;
	case AVM_UFFD_REGISTER: rc = sys_uffd_register(s, mm, ev, true, err); break;
	case AVM_UFFD_UNREGISTER: rc = sys_uffd_register(s, mm, ev, false, err); break;
	case AVM_UFFD_COPY: case AVM_UFFD_ZEROPAGE: case AVM_UFFD_CONTINUE: case AVM_UFFD_POISON:
		rc = sys_uffd_fill(s, mm, ev, err);
		break;
	case AVM_UFFD_MOVE: rc = sys_uffd_move(s, mm, ev, err); break;
	case AVM_POPULATE:
		rc = populate(s, mm, (uint64_t)ev->a, (uint64_t)ev->a + (uint64_t)ev->b,
			      ev->c ? 1 : 0, err);
		break;
	default:
		return avm_errf(err, "event %llu: unknown event kind %u", (unsigned long long)ev->seq,
				ev->kind);
	}
	if (rc)
		return avm_err_prefix(err, "event %llu (kind %u, mm %llu)",
				      (unsigned long long)ev->seq, ev->kind,
				      (unsigned long long)ev->mm);
	return 0;
}

void mm_sim_skip(struct mm_sim *s, enum skip_reason why)
{
	skip_count(&s->st.skipped, why);
}

/* ------------------------------------------------------------------------- */
/* create, destroy, queries, checks */

void mm_sim_params_defaults(struct mm_sim_params *p)
{
	memset(p, 0, sizeof(*p));
	p->profile = MM_PROFILE_P3;
	p->page_size = 4096;
	p->thp_enabled = 1;
	p->pmd_size = 2ULL << 20;
	p->overcommit_never = false;
}

int mm_sim_create(const struct mm_sim_params *p, const struct model_ops *ops,
		  struct model *model, struct model_stats *stats, struct mm_sim **out,
		  struct avm_err *err)
{
	struct mm_sim *s;

	if (!is_power_of_two(p->page_size) || !is_power_of_two(p->pmd_size) ||
	    p->pmd_size <= p->page_size)
		return avm_errf(err, "simulator: bad page size %llu or PMD size %llu",
				(unsigned long long)p->page_size, (unsigned long long)p->pmd_size);
	if (p->profile < MM_PROFILE_P1 || p->profile > MM_PROFILE_P4)
		return avm_errf(err, "simulator: kernel profile P%d does not exist (P1..P4)",
				(int)p->profile);
	s = calloc(1, sizeof(*s));
	if (!s)
		return avm_errf(err, "out of memory (simulator)");
	s->p = *p;
	s->ops = ops;
	s->model = model;
	s->ms = stats;
	s->page_shift = log2u(p->page_size);
	s->pmd_shift = log2u(p->pmd_size);
	s->chunk_pages = p->pmd_size / p->page_size;
	*out = s;
	return 0;
}

void mm_sim_set_model(struct mm_sim *s, struct model *model)
{
	s->model = model;
}

void mm_sim_set_locks(struct mm_sim *s, struct locks *locks, const struct model_clock *clock)
{
	s->locks = clock ? locks : NULL;
	s->clock = clock;
}

void mm_sim_destroy(struct mm_sim *s)
{
	uint64_t it = 0, key;
	void *val;

	if (!s)
		return;
	/* tear down what is left, so pinned objects and folios are released in order */
	while (s->mms.n) {
		it = 0;
		if (!u64map_next(&s->mms, &it, &key, &val))
			break;
		mm_teardown(s, val);
	}
	/* the models still exist: KSM items left at the end drop their pins */
	if (s->st.ksm_items)
		(void)ksm_scan_end(s, true, NULL);
	u64map_free(&s->ksm);
	u64map_free(&s->mms);
	u64map_free(&s->made);
	u64map_free(&s->uffd_features);
	while (s->slots_pool) {
		struct slots *sl = s->slots_pool;

		s->slots_pool = sl->next_free;
		free(sl);
	}
	while (s->vma_pool) {
		struct mm_vma *v = s->vma_pool;

		s->vma_pool = v->anon;
		free(v);
	}
	for (size_t i = 0; i < s->nfolio_blocks; i++)
		free(s->folio_blocks[i]);
	free(s->folio_blocks);
	free(s->mm_ids);
	free(s);
}

const struct mm_sim_stats *mm_sim_stats(const struct mm_sim *s)
{
	return &s->st;
}

const struct mm_sim_params *mm_sim_params(const struct mm_sim *s)
{
	return &s->p;
}

struct mm_space *mm_sim_find(struct mm_sim *s, uint64_t mm_id)
{
	return u64map_get(&s->mms, mm_id);
}

size_t mm_sim_mm_count(const struct mm_sim *s)
{
	return s->mms.n;
}

struct mm_vma *mm_vma_prev(const struct mm_vma *v)
{
	size_t i;

	if (!v->mm)
		return NULL;
	i = idx_of(v->mm, v);
	return i > 0 ? v->mm->vma[i - 1] : NULL;
}

struct mm_vma *mm_vma_next(const struct mm_vma *v)
{
	size_t i;

	if (!v->mm)
		return NULL;
	i = idx_of(v->mm, v);
	return i + 1 < v->mm->nvma ? v->mm->vma[i + 1] : NULL;
}

struct mm_vma *mm_find_vma(struct mm_space *mm, uint64_t addr)
{
	size_t i = idx_end_above(mm, addr);

	return i < mm->nvma && mm->vma[i]->start <= addr ? mm->vma[i] : NULL;
}

const struct arch_pt *mm_space_pt(const struct mm_space *mm)
{
	return mm->pt;
}

uint64_t mm_space_id(const struct mm_space *mm)
{
	return mm->id;
}

int64_t mm_space_users(const struct mm_space *mm)
{
	return mm->users;
}

bool mm_space_opaque(const struct mm_space *mm)
{
	return mm->opaque;
}

size_t mm_space_vma_count(const struct mm_space *mm)
{
	return mm->nvma;
}

struct mm_vma *mm_space_vma(struct mm_space *mm, size_t i)
{
	return i < mm->nvma ? mm->vma[i] : NULL;
}

int mm_for_each_vma(struct mm_space *mm, int (*cb)(void *ctx, struct mm_vma *v), void *ctx)
{
	size_t i;
	int rc;

	for (i = 0; i < mm->nvma; i++)
		if ((rc = cb(ctx, mm->vma[i])))
			return rc;
	return 0;
}

struct page_iter_ctx {
	struct mm_vma *v;
	int (*cb)(void *ctx, uint64_t addr, uint64_t *owner, uint64_t folio);
	void *ctx;
	uint64_t count;
};

static int page_iter_chunk(void *ctx, uint64_t base, struct chunk *c)
{
	struct page_iter_ctx *p = ctx;
	struct mm_sim *s = p->v->mm->sim;
	size_t i, i1;
	int rc;

	slot_range(s, base, p->v->start, p->v->end, &i, &i1);
	for (i = slot_next(c->sl, i, i1); i < i1; i = slot_next(c->sl, i + 1, i1)) {
		struct folio *f = c->sl->pg[i];

		p->count++;
		if (p->cb && (rc = p->cb(p->ctx, base + ((uint64_t)i << s->page_shift), &f->owner,
					 f->id)))
			return rc;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct base_list {
	uint64_t *b;
	size_t n, cap;
};

static int collect_base(void *ctx, uint64_t base, struct chunk *c)
{
	struct base_list *l = ctx;

	if (!c->sl || !c->sl->npages)
		return 0;
	if (array_grow((void **)&l->b, &l->cap, l->n + 1, sizeof(*l->b), 32))
		return -1;
	l->b[l->n++] = base;
	return 0;
}

/* Pages in address order: the chunks overlapping v, sorted by base address. */
int mm_vma_for_each_page(struct mm_vma *v,
			 int (*cb)(void *ctx, uint64_t addr, uint64_t *owner, uint64_t folio),
			 void *ctx)
{
	struct page_iter_ctx p = { v, cb, ctx, 0 };
	struct base_list l = { NULL, 0, 0 };
	size_t i;
	int rc = 0;

	if (!v->mm)
		return 0;
	if (chunks_in(v->mm, v->start, v->end, collect_base, &l)) {
		free(l.b);
		return -1;
	}
	if (l.n > 1)
		qsort(l.b, l.n, sizeof(*l.b), cmp_u64);
	for (i = 0; i < l.n && !rc; i++) {
		struct chunk *c = u64map_get(&v->mm->chunks, chunk_key(v->mm->sim, l.b[i]));

		rc = page_iter_chunk(&p, l.b[i], c);
	}
	free(l.b);
	return rc;
}

uint64_t mm_vma_page_count(struct mm_vma *v)
{
	struct page_iter_ctx p = { v, NULL, NULL, 0 };

	if (!v->mm)
		return 0;
	chunks_in(v->mm, v->start, v->end, page_iter_chunk, &p);
	return p.count;
}

/* ---- folios for rmap walks (rmap_walk.c) ---------------------------------------- */

/*
 * The truth for the rmap completeness check (rmap_walk.h), two ways.
 * _scan: every page-table entry of the world mapping folio id, by scanning
 * each mm's chunks: O(mapped pages), a cross-check for tests.
 * mm_sim_folio_mappings: the same entries found from the folio's side: in
 * every VMA of every mm whose linear page range covers the folio's, the
 * entries at the folio's linear addresses (vma_address).  O(VMAs + pages
 * of the folio) per call.  It equals the scan because the simulator only
 * ever maps a folio page at its linear address (every folio_new and index
 * move uses linear_index; mremap keeps the moved VMA's pgoff), which the
 * tests check on the rule layouts (test_rmap_check.c).
 */
int mm_sim_folio_mappings_scan(struct mm_sim *s, uint64_t folio_id,
			  int (*cb)(void *ctx, struct mm_space *mm, struct mm_vma *v,
				    uint64_t addr),
			  void *ctx)
{
	uint64_t it = 0, id;
	void *val;

	while (u64map_next(&s->mms, &it, &id, &val)) {
		struct mm_space *mm = val;
		uint64_t cit = 0, key;
		void *cv;

		while (u64map_next(&mm->chunks, &cit, &key, &cv)) {
			const struct chunk *c = cv;
			uint64_t base = (key - 1) << s->pmd_shift;

			if (!c->sl)
				continue;
			for (size_t i = slot_next(c->sl, 0, s->chunk_pages); i < s->chunk_pages;
			     i = slot_next(c->sl, i + 1, s->chunk_pages)) {
				uint64_t addr = base + ((uint64_t)i << s->page_shift);
				int rc;

				if (!c->sl->pg[i] || c->sl->pg[i]->id != folio_id)
					continue;
				rc = cb(ctx, mm, mm_find_vma(mm, addr), addr);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

int mm_sim_folio_mappings(struct mm_sim *s, uint64_t folio_id, uint64_t index, uint32_t nr,
			  int (*cb)(void *ctx, struct mm_space *mm, struct mm_vma *v,
				    uint64_t addr),
			  void *ctx)
{
	uint64_t it = 0, id, end = index + (nr ? nr : 1);
	void *val;

	while (u64map_next(&s->mms, &it, &id, &val)) {
		struct mm_space *mm = val;

		for (size_t i = 0; i < mm->nvma; i++) {
			struct mm_vma *v = mm->vma[i];
			uint64_t lo = v->pgoff, hi = v->pgoff + mm_vma_pages(v, s->p.page_size);

			if (hi <= index || lo >= end)
				continue;
			for (uint64_t pg = lo > index ? lo : index; pg < hi && pg < end; pg++) {
				uint64_t addr = v->start + ((pg - v->pgoff) << s->page_shift);
				const struct chunk *c = u64map_get(&mm->chunks, chunk_key(s, addr));
				const struct folio *f;
				int rc;

				if (!c || !c->sl)
					continue;
				f = c->sl->pg[page_slot(s, addr)];
				if (!f || f->id != folio_id)
					continue;
				rc = cb(ctx, mm, v, addr);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

bool mm_folio_at(struct mm_space *mm, uint64_t addr, struct mm_folio_ref *out)
{
	struct mm_sim *s = mm->sim;
	struct chunk *c = chunk_get(mm, addr, false, NULL);
	struct folio *f;

	if (!c || !c->sl)
		return false;
	f = c->sl->pg[page_slot(s, addr)];
	if (!f)
		return false;
	out->mm = mm;
	out->vma = mm_find_vma(mm, addr);
	out->addr = addr & ~(s->p.page_size - 1);
	out->id = f->id;
	out->owner = f->owner;
	out->index = f->index;
	out->nr = f->nr;
	/* mapped through a slot array another mm shares, or from more slots than its pages */
	out->shared = c->sl->refs > 1 || f->maps > f->nr;
	return true;
}

static int mm_ids_refresh(struct mm_sim *s)
{
	uint64_t it = 0, key;
	void *val;
	size_t n = 0;

	if (!s->mm_ids_dirty && s->nmm_ids == s->mms.n)
		return 0;
	free(s->mm_ids);
	s->nmm_ids = 0;
	s->mm_ids = malloc((s->mms.n ? s->mms.n : 1) * sizeof(*s->mm_ids));
	if (!s->mm_ids)
		return -1;
	while (u64map_next(&s->mms, &it, &key, &val))
		s->mm_ids[n++] = key;
	qsort(s->mm_ids, n, sizeof(*s->mm_ids), cmp_u64);
	s->nmm_ids = n;
	s->mm_ids_dirty = false;
	return 0;
}

/*
 * The cursor's walk through one mm from c->addr on: VMAs in address order,
 * each one's chunks sorted by base, occupied slots in order.  *done counts
 * the folios handed to cb; stops when it reaches n.
 */
static int cursor_mm(struct mm_space *mm, struct mm_cursor *c, uint64_t n,
		     int (*cb)(void *ctx, const struct mm_folio_ref *f), void *ctx, uint64_t *done)
{
	struct mm_sim *s = mm->sim;
	struct base_list l = { NULL, 0, 0 };
	size_t vi;
	int rc = 0;

	for (vi = idx_end_above(mm, c->addr); vi < mm->nvma && *done < n && !rc; vi++) {
		struct mm_vma *v = mm->vma[vi];
		uint64_t lo = v->start > c->addr ? v->start : c->addr;

		l.n = 0;
		if (chunks_in(mm, lo, v->end, collect_base, &l)) {
			rc = -1;
			break;
		}
		if (l.n > 1)
			qsort(l.b, l.n, sizeof(*l.b), cmp_u64);
		for (size_t k = 0; k < l.n && *done < n && !rc; k++) {
			struct chunk *ch = u64map_get(&mm->chunks, chunk_key(s, l.b[k]));
			size_t i, i1;

			slot_range(s, l.b[k], lo, v->end, &i, &i1);
			for (i = slot_next(ch->sl, i, i1); i < i1 && *done < n;
			     i = slot_next(ch->sl, i + 1, i1)) {
				struct folio *f = ch->sl->pg[i];
				uint64_t a = l.b[k] + ((uint64_t)i << s->page_shift);
				struct mm_folio_ref r = { mm, v, a, f->id, f->owner, f->index, f->nr,
							  ch->sl->refs > 1 || f->maps > f->nr };
				/* the page of this mapping where the folio's first page is (or would be) */
				uint64_t head = (a >> s->page_shift) -
						(linear_index(s, v, a) - f->index);

				c->addr = a + s->p.page_size;
				if (head % MM_CURSOR_PASSES != c->pass)
					continue; /* another pass's folio */
				if (f->id == c->last)
					continue; /* a further page of the folio just visited */
				c->last = f->id;
				(*done)++;
				rc = cb(ctx, &r);
				if (rc)
					break;
			}
		}
	}
	free(l.b);
	return rc;
}

int mm_sim_cursor_walk(struct mm_sim *s, struct mm_cursor *c, uint64_t n,
		       int (*cb)(void *ctx, const struct mm_folio_ref *f), void *ctx,
		       uint64_t *visited, struct avm_err *err)
{
	uint64_t done = 0, round = 0;
	size_t pos, lo, hi;
	unsigned empty = 0;
	int rc;

	*visited = 0;
	if (!n || !s->mms.n)
		return 0;
	if (mm_ids_refresh(s))
		return avm_errf(err, "out of memory (folio cursor)");
	for (lo = 0, hi = s->nmm_ids; lo < hi;) {
		size_t mid = (lo + hi) / 2;

		if (s->mm_ids[mid] < c->mm)
			lo = mid + 1;
		else
			hi = mid;
	}
	pos = lo;
	if (pos == s->nmm_ids)
		pos = 0;
	if (s->mm_ids[pos] != c->mm) {
		c->mm = s->mm_ids[pos];
		c->addr = 0;
		c->last = 0;
	}
	for (;;) {
		uint64_t before = done;

		rc = cursor_mm(u64map_get(&s->mms, c->mm), c, n, cb, ctx, &done);
		round += done - before;
		if (rc < 0) {
			*visited = done;
			return avm_errf(err, "out of memory (folio cursor)");
		}
		if (rc || done >= n)
			break;
		/* this mm is exhausted: the next one, wrapping round to the next pass */
		if (++pos == s->nmm_ids) {
			pos = 0;
			c->pass = (c->pass + 1) % MM_CURSOR_PASSES;
			/* a whole cycle of passes (plus the partial one we began in) found nothing */
			empty = round ? 0 : empty + 1;
			if (empty > MM_CURSOR_PASSES)
				break;
			round = 0;
		}
		c->mm = s->mm_ids[pos];
		c->addr = 0;
		c->last = 0;
	}
	*visited = done;
	return rc > 0 ? rc : 0;
}

bool mm_vma_reuse_attrs_ok(const struct mm_vma *a, const struct mm_vma *b)
{
	const struct mm_sim *s;
	const uint64_t ignore = VM_READ | VM_WRITE | VM_EXEC | VM_SOFTDIRTY;

	if (!a->mm)
		return false;
	s = a->mm->sim;
	return a->end == b->start && a->policy == b->policy && a->file == b->file &&
	       ((a->flags ^ b->flags) & ~ignore) == 0 &&
	       b->pgoff == a->pgoff + pages_of(s, b->start - a->start);
}

int mm_sim_check(struct mm_sim *s, struct avm_err *err)
{
	uint64_t it = 0, key, vmas = 0;
	void *val;

	while (u64map_next(&s->mms, &it, &key, &val)) {
		struct mm_space *mm = val;
		uint64_t cit = 0, ckey;
		void *cval;
		size_t i;

		if (mm->id != key)
			return avm_errf(err, "mm %llu filed under id %llu",
					(unsigned long long)mm->id, (unsigned long long)key);
		if (mm->users < 1)
			return avm_errf(err, "mm %llu alive with %lld users",
					(unsigned long long)mm->id, (long long)mm->users);
		for (i = 0; i < mm->nvma; i++) {
			const struct mm_vma *v = mm->vma[i];

			if (v->mm != mm)
				return avm_errf(err, "mm %llu: VMA %llu points at another mm",
						(unsigned long long)mm->id, (unsigned long long)v->id);
			if (v->start >= v->end || ((v->start | v->end) & (s->p.page_size - 1)))
				return avm_errf(err, "mm %llu: VMA %llu has bad range [%#llx, %#llx)",
						(unsigned long long)mm->id, (unsigned long long)v->id,
						(unsigned long long)v->start, (unsigned long long)v->end);
			if (i > 0 && mm->vma[i - 1]->end > v->start)
				return avm_errf(err, "mm %llu: VMAs %llu and %llu overlap or are "
						"out of order", (unsigned long long)mm->id,
						(unsigned long long)mm->vma[i - 1]->id,
						(unsigned long long)v->id);
			if (v->anon && !has_anon(s, v))
				return avm_errf(err, "mm %llu: VMA %llu keeps anon state the model "
						"says is empty", (unsigned long long)mm->id,
						(unsigned long long)v->id);
		}
		vmas += mm->nvma;
		while (u64map_next(&mm->chunks, &cit, &ckey, &cval)) {
			struct chunk *c = cval;
			uint32_t n = 0;

			if (!c->sl)
				continue;
			if (!c->sl->refs)
				return avm_errf(err, "mm %llu: a page array without users",
						(unsigned long long)mm->id);
			for (i = 0; i < s->chunk_pages; i++) {
				bool bit = (c->sl->bits[i >> 6] >> (i & 63)) & 1;

				if (bit != (c->sl->pg[i] != NULL))
					return avm_errf(err, "mm %llu: page bitmap disagrees with slot %zu",
							(unsigned long long)mm->id, i);
				if (!c->sl->pg[i])
					continue;
				n++;
				if (!c->sl->pg[i]->maps)
					return avm_errf(err, "mm %llu: a mapped folio has no maps",
							(unsigned long long)mm->id);
			}
			if (n != c->sl->npages)
				return avm_errf(err, "mm %llu: page chunk counts %u pages, holds %u",
						(unsigned long long)mm->id, c->sl->npages, n);
		}
	}
	if (vmas != s->st.vmas_live)
		return avm_errf(err, "simulator counts %llu live VMAs, mms hold %llu",
				(unsigned long long)s->st.vmas_live, (unsigned long long)vmas);
	return 0;
}
