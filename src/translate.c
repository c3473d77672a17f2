/*
 * translate.c - page-size and address-space translation of a trace; see
 * translate.h for the rules.
 *
 * Data: one struct xlate_mm per address space (u64map by mm id), holding the
 * relocation map: the source ranges the translator has seen mapped, sorted
 * by start, each with its target range [ts, te) and delta d (target = source
 * + d, rounded out to the target page, clipped to [ts, te)).  The map follows
 * the source's own changes (munmap cuts, mprotect splits and re-keys, mremap
 * moves, brk grows the heap, faults below a grows-down mapping grow it), so
 * later events on a moved range find its delta.  A second u64map per mm
 * holds the (target page, access) pairs faulted since the mm last changed,
 * for the de-duplication; it is emptied by every event of the mm that could
 * unmap, protect or share a page.
 *
 * Memory: the intervals of the live mappings plus the faulted target pages
 * of each mm since its last change.  Output events live in one growable
 * array reused by every call.
 */
#include "translate.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "u64map.h"

/* Kernel ABI values the translator reads (uapi mman.h, mm.h). */
#define XLATE_MAP_SHARED          0x01
#define XLATE_MAP_FIXED           0x10
#define XLATE_MAP_GROWSDOWN       0x0100
#define XLATE_MAP_FIXED_NOREPLACE 0x100000
#define XLATE_MREMAP_FIXED        2
#define XLATE_MREMAP_DONTUNMAP    4
#define XLATE_VM_SHARED           0x08
#define XLATE_VM_GROWSDOWN        0x0100

/* Interval key: prot rwx in bits 0-2, shared bit 3, grows-down bit 4. */
#define XLATE_KEY_SHARED 0x08u
#define XLATE_KEY_GROWSDOWN 0x10u

/* Region deltas are multiples of this, so PTE-table and PMD layouts keep their offsets. */
#define XLATE_REGION_ALIGN (1ULL << 30)
/* How far below a grows-down mapping a fault still grows it (the simulator's window). */
#define XLATE_STACK_WINDOW (1ULL << 20)
/* How far above its neighbour below the heap may start and still keep its shift (brk ASLR). */
#define XLATE_BRK_WINDOW (32ULL << 20)
/* The stack region: this much below the top of the highest mapping, in both spaces. */
#define XLATE_STACK_SPAN (4ULL << 30)
/* Loader slack below a file mapping the kernel placed: its later segments' shifts. */
#define XLATE_SLACK_PAGES 4

enum xlate_region { XLATE_LOW, XLATE_MID, XLATE_MMAP, XLATE_STACK, XLATE_ABOVE };

static const char *const xlate_region_name[] = {
	"low (non-PIE binaries, fixed low reservations)", "PIE binary and heap", "mmap area",
	"stack", "above the trace's user space",
};
struct xlate_iv {
	uint64_t s, e;       /* source range */
	uint64_t ts, te;     /* target range (te == ts: dropped) */
	int64_t d;           /* target = source + d (before rounding) */
	uint64_t file;
	uint64_t origin;     /* which placement made it (the pieces of a split share it) */
	unsigned key;
};

struct xlate_mm {
	/* fewer VA bits: each region's delta, fixed by its first mapping (or the snapshot) */
	bool anchored[XLATE_ABOVE];
	int64_t rdelta[XLATE_ABOVE];
	uint64_t stack_lo;    /* source start of the stack region (0: not known yet) */
	struct xlate_iv *iv;
	size_t n, cap;
	struct u64map seen;   /* ((target page index << 1) | write) + 1 -> (void *)1 */
	bool brk_known;
	uint64_t brk;         /* the source break after the last brk */
	uint64_t heap_s;      /* source start of the heap (PAGE_ALIGN(start_brk)) */
	int64_t heap_d;       /* the heap's delta */
};

struct xlate {
	struct xlate_params p;
	unsigned dst_shift;
	struct u64map mms;
	struct avm_event *out;
	size_t nout, capout;
	uint64_t origins;        /* placements so far */
	uint64_t carved;         /* origin of the mapping the last cut split at its end */
	struct xlate_stats st;
};

static uint64_t rd(const struct xlate *x, uint64_t a)
{
	return a & ~(x->p.dst_page - 1);
}

static uint64_t ru(const struct xlate *x, uint64_t a)
{
	return (a + x->p.dst_page - 1) & ~(x->p.dst_page - 1);
}

static uint64_t add(uint64_t a, int64_t d)
{
	return a + (uint64_t)d;
}

uint64_t xlate_user_top(const char *isa, unsigned va_bits)
{
	if (!va_bits)
		va_bits = 48;
	if (isa && (!strcmp(isa, "arm64") || !strcmp(isa, "aarch64")))
		return 1ULL << va_bits;
	/* x86_64: an arch names the whole VA (48, 57), a trace the user half (47, 56) */
	return 1ULL << (va_bits == 48 || va_bits == 57 ? va_bits - 1 : va_bits);
}

bool xlate_needed(uint64_t src_page, uint64_t src_top, uint64_t dst_page, uint64_t dst_top)
{
	return (src_page && dst_page != src_page) || src_top > dst_top;
}

/* ---- regions (fewer VA bits) ------------------------------------------------- */

static bool xlate_va(const struct xlate *x)
{
	return x->p.src_top > x->p.dst_top;
}

/*
 * Which region a source address is in, for mm m: the low third stays, the
 * PIE/heap band up to 3/4 of the space, then the mmap area and, within
 * XLATE_STACK_SPAN of the mm's highest mapping, the stack.  The kernel
 * randomises each base per process (on x86_64 by up to 1 TiB), so each
 * region keeps its internal distances but is anchored per mm.
 */
static enum xlate_region xlate_region_of(const struct xlate *x, const struct xlate_mm *m,
					 uint64_t a)
{
	uint64_t top = x->p.src_top;

	if (a >= top)
		return XLATE_ABOVE;
	if (!xlate_va(x) || a < top / 3)
		return XLATE_LOW;
	if (a < top / 4 * 3)
		return XLATE_MID;
	return m && m->stack_lo && a >= m->stack_lo ? XLATE_STACK : XLATE_MMAP;
}

/* ELF_ET_DYN_BASE of a space: 2/3 of it, on a region-aligned boundary. */
static uint64_t xlate_pie_base(uint64_t top)
{
	return (top / 3 * 2) & ~(XLATE_REGION_ALIGN - 1);
}

static uint64_t xlate_ru_region(uint64_t a)
{
	return (a + XLATE_REGION_ALIGN - 1) & ~(XLATE_REGION_ALIGN - 1);
}

/*
 * The delta of region r in mm m; the first mapping [s, e) of a region fixes
 * it: the PIE/heap region's lowest mapping goes to the target's
 * ELF_ET_DYN_BASE, the mmap area's highest mapping just below the target's
 * stack region, the stack's top to the top of the target space.
 */
static int64_t xlate_region_delta(const struct xlate *x, struct xlate_mm *m,
				  enum xlate_region r, uint64_t s, uint64_t e)
{
	uint64_t dt = x->p.dst_top;
	int64_t d = 0;

	if (!xlate_va(x) || r == XLATE_LOW || r == XLATE_ABOVE)
		return 0;
	if (m && m->anchored[r])
		return m->rdelta[r];
	if (r == XLATE_MID)
		d = (int64_t)(xlate_pie_base(dt) - (s & ~(XLATE_REGION_ALIGN - 1)));
	else if (r == XLATE_MMAP)
		d = (int64_t)(dt - XLATE_STACK_SPAN - xlate_ru_region(e));
	else
		d = (int64_t)(dt - xlate_ru_region(e));
	if (m) {
		m->anchored[r] = true;
		m->rdelta[r] = d;
	}
	return d;
}

/* The target's bounds of a region. */
static void xlate_region_bounds(const struct xlate *x, enum xlate_region r, uint64_t *lo,
				uint64_t *hi)
{
	uint64_t top = x->p.dst_top;

	*lo = 0;
	*hi = top;
	if (!xlate_va(x))
		return;
	if (r == XLATE_LOW) {
		*hi = top / 3;
	} else if (r == XLATE_MID) {
		*lo = top / 3;
		*hi = top / 4 * 3;
	} else if (r == XLATE_MMAP) {
		*lo = top / 4 * 3;
		*hi = top - XLATE_STACK_SPAN;
	} else {
		*lo = top - XLATE_STACK_SPAN;
	}
}

/*
 * A snapshot of mm m (rows [0, n), by start): the stack region is what lies
 * within XLATE_STACK_SPAN of its highest mapping; anchor the stack and the
 * mmap area on their highest mappings.
 */
static void xlate_anchor_snapshot(const struct xlate *x, struct xlate_mm *m,
				  const struct avm_snap_vma *rows, size_t n)
{
	uint64_t top = x->p.src_top, hi = 0, mhi = 0;

	if (!xlate_va(x))
		return;
	for (size_t i = 0; i < n; i++)
		if (rows[i].start >= top / 4 * 3 && rows[i].end <= top && rows[i].end > hi)
			hi = rows[i].end;
	if (!hi)
		return;
	m->stack_lo = xlate_ru_region(hi) - XLATE_STACK_SPAN;
	m->anchored[XLATE_STACK] = true;
	m->rdelta[XLATE_STACK] = (int64_t)(x->p.dst_top - xlate_ru_region(hi));
	for (size_t i = 0; i < n; i++)
		if (rows[i].start >= top / 4 * 3 && rows[i].end <= m->stack_lo &&
		    rows[i].end > mhi)
			mhi = rows[i].end;
	if (mhi) {
		m->anchored[XLATE_MMAP] = true;
		m->rdelta[XLATE_MMAP] = (int64_t)(x->p.dst_top - XLATE_STACK_SPAN -
						  xlate_ru_region(mhi));
	}
}

/* ---- per-mm relocation maps --------------------------------------------------- */

static void xlate_mm_free(struct xlate_mm *m)
{
	if (!m)
		return;
	free(m->iv);
	u64map_free(&m->seen);
	free(m);
}

static struct xlate_mm *xlate_mm_get(struct xlate *x, uint64_t mm, struct avm_err *err)
{
	struct xlate_mm *m = u64map_get(&x->mms, mm);

	if (m)
		return m;
	m = calloc(1, sizeof(*m));
	if (!m || u64map_put(&x->mms, mm, m)) {
		free(m);
		avm_errf(err, "translate: out of memory");
		return NULL;
	}
	return m;
}

static void xlate_mm_drop(struct xlate *x, uint64_t mm)
{
	xlate_mm_free(u64map_get(&x->mms, mm));
	u64map_del(&x->mms, mm);
}

static int xlate_iv_insert(struct xlate_mm *m, size_t i, const struct xlate_iv *v,
			   struct avm_err *err)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct xlate_iv *nv = realloc(m->iv, cap * sizeof(*nv));

		if (!nv)
			return avm_errf(err, "translate: out of memory");
		m->iv = nv;
		m->cap = cap;
	}
	memmove(&m->iv[i + 1], &m->iv[i], (m->n - i) * sizeof(*v));
	m->iv[i] = *v;
	m->n++;
	return 0;
}

/* First interval whose end is above a (m->n if none). */
static size_t xlate_first_after(const struct xlate_mm *m, uint64_t a)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->iv[mid].e <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct xlate_iv *xlate_find(struct xlate_mm *m, uint64_t a)
{
	size_t i = xlate_first_after(m, a);

	return i < m->n && m->iv[i].s <= a ? &m->iv[i] : NULL;
}

/* Split the interval containing a at a (source); both halves keep the delta. */
static int xlate_split(struct xlate *x, struct xlate_mm *m, uint64_t a, struct avm_err *err)
{
	size_t i = xlate_first_after(m, a);
	struct xlate_iv lo, hi;

	if (i >= m->n || m->iv[i].s >= a)
		return 0;
	lo = hi = m->iv[i];
	lo.e = a;
	hi.s = a;
	if (lo.te > ru(x, add(a, lo.d)))
		lo.te = ru(x, add(a, lo.d));
	if (hi.ts < rd(x, add(a, hi.d)))
		hi.ts = rd(x, add(a, hi.d));
	if (lo.te < lo.ts)
		lo.te = lo.ts;
	if (hi.ts > hi.te)
		hi.ts = hi.te;
	m->iv[i] = lo;
	return xlate_iv_insert(m, i + 1, &hi, err);
}

/* The source range [a, b) is gone (munmap, replaced by a fixed mapping, moved away). */
static int xlate_cut(struct xlate *x, struct xlate_mm *m, uint64_t a, uint64_t b,
		     struct avm_err *err)
{
	size_t i, j;

	x->carved = 0;
	if (b <= a)
		return 0;
	i = xlate_first_after(m, b);
	if (i < m->n && m->iv[i].s < b)
		x->carved = m->iv[i].origin; /* the remainder above keeps this origin */
	if (xlate_split(x, m, a, err) || xlate_split(x, m, b, err))
		return -1;
	i = xlate_first_after(m, a);
	for (j = i; j < m->n && m->iv[j].e <= b; j++)
		;
	if (j > i) { /* (an mm with no interval yet has iv == NULL: no memmove on it) */
		memmove(&m->iv[i], &m->iv[j], (m->n - j) * sizeof(*m->iv));
		m->n -= j - i;
	}
	return 0;
}

static unsigned xlate_key_mmap(int64_t prot, int64_t flags, bool shm)
{
	unsigned k = (unsigned)prot & 7u;

	if ((flags & XLATE_MAP_SHARED) || shm)
		k |= XLATE_KEY_SHARED;
	if (flags & XLATE_MAP_GROWSDOWN)
		k |= XLATE_KEY_GROWSDOWN;
	return k;
}

static unsigned xlate_key_vma(uint64_t vm_flags)
{
	unsigned k = (unsigned)vm_flags & 7u;

	if (vm_flags & XLATE_VM_SHARED)
		k |= XLATE_KEY_SHARED;
	if (vm_flags & XLATE_VM_GROWSDOWN)
		k |= XLATE_KEY_GROWSDOWN;
	return k;
}

static bool xlate_mergeable(const struct xlate_iv *a, const struct xlate_iv *b)
{
	return a->e == b->s && a->d == b->d && a->key == b->key && a->file == b->file &&
	       !(a->key & XLATE_KEY_SHARED);
}

/* How a mapping's address was chosen. */
enum {
	XLATE_KERNEL = 0,  /* mmap without MAP_FIXED: moves down, loader slack if file-backed */
	XLATE_FIXED = 1,   /* MAP_FIXED, MREMAP_FIXED: moves up */
	XLATE_ROW = 2,     /* a snapshot row: moves up, never merges */
	XLATE_MOVED = 3,   /* mremap's kernel-chosen destination: moves down, no slack */
};

/*
 * The interval of m (other than skip) whose target overlaps [ts, te) and
 * lies highest (up) or lowest (!up); NULL if none.  Linear: placements are
 * rare next to faults.
 */
static const struct xlate_iv *xlate_conflict(const struct xlate_mm *m, size_t skip, uint64_t ts,
					     uint64_t te, bool up)
{
	const struct xlate_iv *c = NULL;

	for (size_t j = 0; j < m->n; j++) {
		const struct xlate_iv *w = &m->iv[j];

		if (j == skip || w->te <= w->ts || w->te <= ts || w->ts >= te)
			continue;
		if (!c || (up ? w->te > c->te : w->ts < c->ts))
			c = w;
	}
	return c;
}

/*
 * Place the source mapping [s, e) of mm (already cut out of the map): choose
 * its delta, keep it off the target pages other mappings hold, insert it.
 * A fixed one (MAP_FIXED, a snapshot row) moves up past the mappings below
 * it, as a loader laying out segments with a larger p_align does; one the
 * kernel placed moves down to the next free range (top-down
 * get_unmapped_area).  The remainder above of a mapping it was carved out
 * of gives way (the loader's reservation).  No room: clipped at its
 * neighbours, or dropped when nothing is left.
 */
static int xlate_place(struct xlate *x, struct xlate_mm *m, uint64_t mm, uint64_t s, uint64_t e,
		       unsigned key, uint64_t file, int fixed, struct xlate_iv **out,
		       struct avm_err *err)
{
	enum xlate_region r;
	size_t i = xlate_first_after(m, s), skip = SIZE_MAX;
	struct xlate_iv *prev = i > 0 ? &m->iv[i - 1] : NULL;
	struct xlate_iv *next = i < m->n ? &m->iv[i] : NULL;
	struct xlate_iv v = { .s = s, .e = e, .file = file, .key = key }, nat;
	uint64_t P = x->p.dst_page, rlo, rhi;
	bool moved = false, placed = false;

	/* a grows-down mapping in the top band with no stack known: it is the stack */
	if (xlate_va(x) && !m->stack_lo && (key & XLATE_KEY_GROWSDOWN) &&
	    xlate_region_of(x, m, s) == XLATE_MMAP)
		m->stack_lo = xlate_ru_region(e) - XLATE_STACK_SPAN;
	r = xlate_region_of(x, m, s);
	if (r == XLATE_ABOVE || e > x->p.src_top)
		return avm_errf(err, "translate: mm %" PRIu64 " maps [0x%" PRIx64 ", 0x%" PRIx64
				") above the trace's user space (0x%" PRIx64 ")", mm, s, e,
				x->p.src_top);
	xlate_region_bounds(x, r, &rlo, &rhi);
	v.d = xlate_region_delta(x, m, r, s, e);
	if (prev && xlate_region_of(x, m, prev->s) == r && prev->e + P > s)
		v.d = prev->d;        /* close above a mapping: keep its shift */
	else if (next && xlate_region_of(x, m, next->s) == r && next->s < e + P)
		v.d = next->d;        /* close below one (top-down placement) */
	v.ts = rd(x, add(s, v.d));
	v.te = ru(x, add(e, v.d));
	/* one the source merges with its neighbour starts (ends) at its target page */
	if (fixed != XLATE_ROW && prev && v.ts < prev->te && xlate_mergeable(prev, &v))
		v.ts = prev->te;
	if (fixed != XLATE_ROW && next && v.te > next->ts && xlate_mergeable(&v, next))
		v.te = next->ts;
	if (next && next->s == e && x->carved && next->origin == x->carved)
		skip = i;             /* the rest of the reservation this was carved from */
	nat = v;
	for (size_t tries = 0; tries <= m->n && v.te > v.ts; tries++) {
		bool up = fixed == XLATE_FIXED || fixed == XLATE_ROW;
		const struct xlate_iv *c = xlate_conflict(m, skip, v.ts, v.te, up);
		uint64_t k;

		if (!c) {
			placed = true;
			break;
		}
		if (up) {
			if (c->s >= s)
				break;    /* never leap over a mapping above it */
			k = c->te - v.ts;
			v.ts += k, v.te += k, v.d += (int64_t)k;
		} else {
			k = v.te - c->ts;
			if (v.ts < rlo + k)
				break;
			v.ts -= k, v.te -= k, v.d -= (int64_t)k;
		}
		moved = true;
		if (v.te > rhi || v.ts < rlo)
			break;
	}
	if (!placed && v.te > v.ts) {
		/* no room: the natural place, clipped at its neighbours' target pages */
		uint64_t lo = prev ? prev->te : 0, hi = next && skip != i ? next->ts : rhi;

		v = nat;
		moved = false;
		if (v.ts < lo)
			v.ts = lo;
		if (v.te > hi)
			v.te = hi;
		if (v.te > v.ts) {
			x->st.vmas_clipped++;
		} else {
			v.te = v.ts;
			x->st.vmas_dropped++;
		}
	}
	if (moved)
		x->st.vmas_moved++;
	if (fixed == XLATE_KERNEL && file && P > x->p.src_page && v.te > v.ts && placed) {
		/* loader slack: room above for the segments mapped into it later */
		uint64_t k = XLATE_SLACK_PAGES * P;

		while (k && (v.ts < rlo + k || xlate_conflict(m, skip, v.ts - k, v.te - k, false)))
			k -= P;
		v.ts -= k, v.te -= k, v.d -= (int64_t)k;
	}
	if (v.te > v.ts && (v.ts < rlo || v.te > rhi))
		return avm_errf(err, "translate: region '%s' does not fit %s: mm %" PRIu64
				" maps [0x%" PRIx64 ", 0x%" PRIx64 ") at [0x%" PRIx64 ", 0x%" PRIx64
				"), the region there is [0x%" PRIx64 ", 0x%" PRIx64 ")",
				xlate_region_name[r], x->p.dst_name, mm, s, e, v.ts, v.te, rlo, rhi);
	if (skip == i && next->ts < v.te) {
		next->ts = v.te < next->te ? v.te : next->te;
	}
	if (xlate_region_delta(x, m, r, s, e))
		x->st.vmas_va_relocated++;
	x->st.vmas_placed++;
	v.origin = ++x->origins;
	if (xlate_iv_insert(m, i, &v, err))
		return -1;
	if (out)
		*out = &m->iv[i];
	return 0;
}

/* Cut, then place. */
static int xlate_map(struct xlate *x, struct xlate_mm *m, uint64_t mm, uint64_t s, uint64_t e,
		     unsigned key, uint64_t file, int fixed, struct xlate_iv **out,
		     struct avm_err *err)
{
	if (xlate_cut(x, m, s, e, err))
		return -1;
	return xlate_place(x, m, mm, s, e, key, file, fixed, out, err);
}

/* A source address alone (failed calls, migration and THP addresses). */
static uint64_t xlate_addr(const struct xlate *x, struct xlate_mm *m, uint64_t a)
{
	struct xlate_iv *v = m ? xlate_find(m, a) : NULL;

	if (v)
		return add(a, v->d);
	if (a >= x->p.src_top)
		return a;
	return add(a, xlate_region_delta(x, m, xlate_region_of(x, m, a), a, a + 1));
}

/* File offset in pages of the target start, from the source's. */
static int64_t xlate_pgoff(const struct xlate *x, const struct xlate_iv *v, uint64_t pgoff)
{
	uint64_t off = pgoff * x->p.src_page, into = add(v->s, v->d) - v->ts;

	if (!v->file && off == v->s)
		return (int64_t)(v->ts / x->p.dst_page); /* anon: vm_pgoff = address >> PAGE_SHIFT */
	/* into > off: the target start lies before the file's start; keep 0 */
	return off >= into ? (int64_t)((off - into) / x->p.dst_page) : 0;
}

/* ---- output ------------------------------------------------------------------ */

static struct avm_event *xlate_emit(struct xlate *x, const struct avm_event *in,
				    struct avm_err *err)
{
	if (x->nout == x->capout) {
		size_t cap = x->capout ? x->capout * 2 : 16;
		struct avm_event *n = realloc(x->out, cap * sizeof(*n));

		if (!n) {
			avm_errf(err, "translate: out of memory");
			return NULL;
		}
		x->out = n;
		x->capout = cap;
	}
	x->out[x->nout] = *in;
	return &x->out[x->nout++];
}

/*
 * One event per mapping the source range [a, a+len) covers, a and b
 * rewritten, rounded out to target pages.  An mprotect that takes rights
 * away without removing all (RELRO's rw -> r) rounds its end down where it
 * ends inside a mapping: glibc's _dl_protect_relro aligns the end down to
 * the page, so on a 16K kernel the partial page stays writable.  PROT_NONE
 * (guard pages: glibc rounds the guard size up) and every other call round
 * out.
 */
static int xlate_ranges(struct xlate *x, struct xlate_mm *m, const struct avm_event *in,
			struct avm_err *err)
{
	bool narrow = in->kind == AVM_MPROTECT && (in->c & 7) != 0;
	uint64_t a = (uint64_t)in->a, b = a + (uint64_t)in->b;
	size_t before = x->nout;

	for (size_t i = xlate_first_after(m, a); i < m->n && m->iv[i].s < b; i++) {
		const struct xlate_iv *v = &m->iv[i];
		uint64_t pa = a > v->s ? a : v->s, pb = b < v->e ? b : v->e;
		uint64_t ta = rd(x, add(pa, v->d)), tb = ru(x, add(pb, v->d));
		struct avm_event *o;

		/* rights taken away (new prot a strict subset of the mapping's) */
		if (narrow && pb < v->e && ((unsigned)in->c & 7u) != (v->key & 7u) &&
		    ((unsigned)in->c & 7u & ~(v->key & 7u)) == 0)
			tb = rd(x, add(pb, v->d));

		if (ta < v->ts)
			ta = v->ts;
		if (tb > v->te)
			tb = v->te;
		if (tb <= ta)
			continue;
		/* a neighbour piece of the same target range: widen it instead */
		if (x->nout > before && (uint64_t)x->out[x->nout - 1].a +
		    (uint64_t)x->out[x->nout - 1].b >= ta) {
			o = &x->out[x->nout - 1];
			if (tb > (uint64_t)o->a + (uint64_t)o->b)
				o->b = (int64_t)(tb - (uint64_t)o->a);
			continue;
		}
		o = xlate_emit(x, in, err);
		if (!o)
			return -1;
		o->a = (int64_t)ta;
		o->b = (int64_t)(tb - ta);
	}
	if (x->nout > before + 1)
		x->st.ranges_split += x->nout - before - 1;
	return 0;
}

/* Does this event kind change what a fault on the mm would find? */
static bool xlate_changes_mm(uint32_t kind)
{
	switch (kind) {
	case AVM_FAULT: case AVM_POPULATE: case AVM_SLAB: case AVM_MMAP_LOCK: case AVM_SNAPSHOT:
	case AVM_RECLAIM: case AVM_TLB_FLUSH: case AVM_RMAP_CALL: case AVM_LOST: case AVM_EXIT:
		return false;
	default:
		return true;
	}
}

static int xlate_fault(struct xlate *x, struct xlate_mm *m, const struct avm_event *in,
		       struct avm_err *err)
{
	uint64_t a = (uint64_t)in->a, y, kw, kr;
	bool write = (uint64_t)in->b & AVM_PF_WRITE;
	struct xlate_iv *v = xlate_find(m, a);
	struct avm_event *o;

	if (!v) {
		/* below a grows-down mapping: the stack grows, keep its delta */
		size_t i = xlate_first_after(m, a);

		v = i < m->n ? &m->iv[i] : NULL;
		if (v && (v->key & XLATE_KEY_GROWSDOWN) && a + XLATE_STACK_WINDOW >= v->s &&
		    v->ts == rd(x, add(v->s, v->d)) &&
		    (i == 0 || m->iv[i - 1].te <= rd(x, add(a, v->d)))) {
			v->s = a & ~(x->p.src_page - 1);
			v->ts = rd(x, add(v->s, v->d));
		} else {
			x->st.faults_outside++;
			return 0;
		}
	}
	y = rd(x, add(a, v->d));
	/* a mapping merged with the one below starts at that one's page end */
	if (y < v->ts && v > m->iv && v[-1].te > y && v[-1].ts <= y)
		v = &v[-1];
	if (y < v->ts || y >= v->te) {
		x->st.faults_outside++;
		return 0;
	}
	/* same pages (a VA change only): every fault as recorded */
	if (x->p.dst_page != x->p.src_page) {
		kw = ((y >> x->dst_shift) << 1 | 1) + 1;
		kr = ((y >> x->dst_shift) << 1) + 1;
		if (u64map_get(&m->seen, kw) || (!write && u64map_get(&m->seen, kr))) {
			x->st.faults_dup++;
			return 0;
		}
		if (u64map_put(&m->seen, write ? kw : kr, (void *)1))
			return avm_errf(err, "translate: out of memory");
	}
	o = xlate_emit(x, in, err);
	if (!o)
		return -1;
	o->a = (int64_t)y;
	return 0;
}

static int xlate_mmap(struct xlate *x, struct xlate_mm *m, const struct avm_event *in,
		      bool shm, struct avm_err *err)
{
	uint64_t s = (uint64_t)in->a, len = (uint64_t)in->b;
	uint64_t e = s + ((len + x->p.src_page - 1) & ~(x->p.src_page - 1));
	int64_t flags = shm ? 0 : in->d;
	bool fixed = flags & (XLATE_MAP_FIXED | XLATE_MAP_FIXED_NOREPLACE);
	uint64_t file = shm ? (uint64_t)in->e : (uint64_t)in->e;
	struct xlate_iv *v;
	struct avm_event *o;

	if (xlate_map(x, m, in->mm, s, e, xlate_key_mmap(shm ? 3 : in->c, flags, shm), file,
		      fixed ? XLATE_FIXED : XLATE_KERNEL, &v, err))
		return -1;
	if (v->te <= v->ts)
		return 0;
	o = xlate_emit(x, in, err);
	if (!o)
		return -1;
	o->a = (int64_t)v->ts;
	o->b = (int64_t)(v->te - v->ts);
	if (!shm)
		o->f = xlate_pgoff(x, v, (uint64_t)in->f);
	return 0;
}

static int xlate_mremap(struct xlate *x, struct xlate_mm *m, const struct avm_event *in,
			struct avm_err *err)
{
	uint64_t a = (uint64_t)in->a, olen = (uint64_t)in->b, nlen = (uint64_t)in->c;
	uint64_t na = (uint64_t)in->e, pg = x->p.src_page - 1;
	struct xlate_iv *old = xlate_find(m, a), *nv, src;
	struct avm_event *o;
	uint64_t ta, tlen;

	olen = (olen + pg) & ~pg;
	nlen = (nlen + pg) & ~pg;
	if (!old || old->te <= old->ts)
		return 0; /* nothing translated there: the world would find nothing either */
	src = *old;
	ta = rd(x, add(a, src.d));
	if (ta < src.ts)
		ta = src.ts;
	tlen = ru(x, add(a + olen < src.e ? a + olen : src.e, src.d));
	tlen = (tlen > src.te ? src.te : tlen) - ta;
	if (na == a) {
		/* in place: grow or shrink the interval's end */
		if (nlen < olen) {
			if (xlate_cut(x, m, a + nlen, a + olen, err))
				return -1;
		} else if (xlate_cut(x, m, a + olen, a + nlen, err)) {
			return -1;
		}
		old = xlate_find(m, a);
		if (old && nlen > olen && old->e == a + olen) {
			size_t i = (size_t)(old - m->iv);
			uint64_t hi = i + 1 < m->n ? m->iv[i + 1].ts : x->p.dst_top;
			uint64_t te = ru(x, add(a + nlen, old->d));

			old->e = a + nlen;
			old->te = te > hi ? hi : te;
		}
		o = xlate_emit(x, in, err);
		if (!o)
			return -1;
		o->a = o->e = (int64_t)ta;
		o->b = (int64_t)tlen;
		o->c = (int64_t)(ru(x, add(a + nlen, src.d)) - ta);
		if (old && (uint64_t)o->c > old->te - ta)
			o->c = (int64_t)(old->te - ta);
		o->f = in->f ? (int64_t)xlate_addr(x, m, (uint64_t)in->f) : 0;
		return 0;
	}
	if (!(in->d & XLATE_MREMAP_DONTUNMAP) && xlate_cut(x, m, a, a + olen, err))
		return -1;
	if (xlate_map(x, m, in->mm, na, na + nlen, src.key, src.file,
		      (in->d & XLATE_MREMAP_FIXED) ? XLATE_FIXED : XLATE_MOVED, &nv, err))
		return -1;
	if (nv->te <= nv->ts)
		return 0;
	o = xlate_emit(x, in, err);
	if (!o)
		return -1;
	o->a = (int64_t)ta;
	o->b = (int64_t)tlen;
	o->c = (int64_t)(nv->te - nv->ts);
	o->e = (int64_t)nv->ts;
	if (in->f || (in->d & XLATE_MREMAP_FIXED))
		o->f = (int64_t)nv->ts;
	return 0;
}

/*
 * brk: the heap is the interval [heap_s, break) with its own delta, fixed at
 * the first brk of the mm: its neighbour's below when that is close (the
 * bss, within the kernel's brk randomisation), moved up when the heap's
 * first target page would be that neighbour's (do_brk_flags starts at
 * PAGE_ALIGN(start_brk), so the heap never shares the bss's last page).
 */
static int xlate_brk(struct xlate *x, struct xlate_mm *m, const struct avm_event *in,
		     struct avm_err *err)
{
	uint64_t nb = (uint64_t)in->b, pg = x->p.src_page - 1, ne, oe;
	struct avm_event *o;

	if (!m->brk_known) {
		size_t i;
		enum xlate_region r = xlate_region_of(x, m, nb);

		if (r == XLATE_ABOVE)
			return avm_errf(err, "translate: mm %" PRIu64 " break 0x%" PRIx64
					" above the trace's user space", in->mm, nb);
		m->heap_s = (nb + pg) & ~pg;
		i = xlate_first_after(m, m->heap_s);
		m->heap_d = xlate_region_delta(x, m, r, m->heap_s, m->heap_s + 1);
		if (i > 0 && xlate_region_of(x, m, m->iv[i - 1].s) == r &&
		    m->iv[i - 1].e + XLATE_BRK_WINDOW > m->heap_s)
			m->heap_d = m->iv[i - 1].d;
		if (i > 0 && ru(x, add(m->heap_s, m->heap_d)) < m->iv[i - 1].te) {
			m->heap_d += (int64_t)(m->iv[i - 1].te - ru(x, add(m->heap_s, m->heap_d)));
			x->st.vmas_moved++;
		}
		/* the heap starts on a target page (a 16K kernel aligns start_brk to its
		 * page): its delta is the only one that is not a multiple of the page */
		m->heap_d += (int64_t)(ru(x, add(m->heap_s, m->heap_d)) - add(m->heap_s, m->heap_d));
		x->st.vmas_placed++;
		x->st.vmas_va_relocated += xlate_va(x) && r != XLATE_LOW;
		m->brk_known = true;
		m->brk = nb;
	}
	ne = (nb + pg) & ~pg;
	oe = (m->brk + pg) & ~pg;
	if (ne < m->heap_s)
		ne = m->heap_s;
	if (oe < m->heap_s)
		oe = m->heap_s;
	if (ne < oe && xlate_cut(x, m, ne, oe, err))
		return -1;
	if (ne > oe) {
		struct xlate_iv *h = xlate_find(m, oe - 1);
		size_t i;
		uint64_t hi, te;

		if (xlate_cut(x, m, oe, ne, err))
			return -1;
		if (oe > m->heap_s)
			h = xlate_find(m, oe - 1);
		else
			h = NULL;
		if (h && h->s != m->heap_s)
			h = NULL; /* not the heap's (it was unmapped): start a new one */
		if (!h) {
			struct xlate_iv v = { .s = oe, .e = oe, .d = m->heap_d, .key = 3 };

			v.ts = v.te = ru(x, add(oe, v.d));
			i = xlate_first_after(m, oe);
			if (i > 0 && m->iv[i - 1].te > v.ts)
				v.ts = v.te = m->iv[i - 1].te;
			if (xlate_iv_insert(m, i, &v, err))
				return -1;
			h = &m->iv[i];
		}
		i = (size_t)(h - m->iv);
		hi = i + 1 < m->n ? m->iv[i + 1].ts : x->p.dst_top;
		te = ru(x, add(ne, h->d));
		h->e = ne;
		h->te = te > hi ? hi : te;
		if (h->te < h->ts)
			h->te = h->ts;
	}
	m->brk = nb;
	o = xlate_emit(x, in, err);
	if (!o)
		return -1;
	o->a = in->a ? (int64_t)add((uint64_t)in->a, m->heap_d) : 0;
	o->b = (int64_t)add(nb, m->heap_d);
	return 0;
}

int xlate_event(struct xlate *x, const struct avm_event *in, const struct avm_event **out,
		size_t *n, struct avm_err *err)
{
	struct xlate_mm *m = NULL;
	struct avm_event *o;
	int rc = 0;

	x->nout = 0;
	x->st.events_in++;
	if (in->kind != AVM_LOST && in->kind != AVM_RECLAIM && in->mm) {
		m = xlate_mm_get(x, in->mm, err);
		if (!m)
			return -1;
		if (xlate_changes_mm(in->kind) && m->seen.n)
			u64map_free(&m->seen);
	}
	if (!m) { /* no address space (mm 0 of a broken trace, a global event): as it is */
		o = xlate_emit(x, in, err);
		if (!o)
			return -1;
		x->st.events_out += x->nout;
		*out = x->out;
		*n = x->nout;
		return 0;
	}
	switch (in->kind) {
	case AVM_FAULT:
		rc = xlate_fault(x, m, in, err);
		break;
	case AVM_MMAP:
		if (in->a < 0) {
			o = xlate_emit(x, in, err);
			rc = o ? 0 : -1;
		} else {
			rc = xlate_mmap(x, m, in, false, err);
		}
		break;
	case AVM_SHMAT:
		if (in->a < 0) {
			o = xlate_emit(x, in, err);
			rc = o ? 0 : -1;
		} else {
			rc = xlate_mmap(x, m, in, true, err);
		}
		break;
	case AVM_MUNMAP:
		rc = xlate_ranges(x, m, in, err);
		if (!rc && in->c == 0)
			rc = xlate_cut(x, m, (uint64_t)in->a, (uint64_t)in->a + (uint64_t)in->b,
				       err);
		break;
	case AVM_MPROTECT:
		rc = xlate_ranges(x, m, in, err);
		if (!rc && in->d == 0) {
			uint64_t a = (uint64_t)in->a, b = a + (uint64_t)in->b;

			rc = xlate_split(x, m, a, err) || xlate_split(x, m, b, err);
			for (size_t i = xlate_first_after(m, a); !rc && i < m->n &&
			     m->iv[i].s < b; i++)
				m->iv[i].key = (m->iv[i].key & ~7u) | ((unsigned)in->c & 7u);
		}
		break;
	case AVM_MADVISE: case AVM_MLOCK: case AVM_MUNLOCK: case AVM_VMA_NAME: case AVM_MSEAL:
	case AVM_POPULATE:
		rc = xlate_ranges(x, m, in, err);
		break;
	case AVM_MREMAP:
		if (in->e < 0) {
			o = xlate_emit(x, in, err);
			rc = o ? 0 : -1;
			if (o)
				o->a = (int64_t)xlate_addr(x, m, (uint64_t)in->a);
		} else {
			rc = xlate_mremap(x, m, in, err);
		}
		break;
	case AVM_BRK:
		rc = xlate_brk(x, m, in, err);
		break;
	case AVM_SHMDT: {
		struct xlate_iv *v = xlate_find(m, (uint64_t)in->a);

		o = xlate_emit(x, in, err);
		rc = o ? 0 : -1;
		if (o && v) {
			o->a = (int64_t)v->ts;
			if (in->d == 0)
				rc = xlate_cut(x, m, v->s, v->e, err);
		} else if (o) {
			o->a = (int64_t)xlate_addr(x, m, (uint64_t)in->a);
		}
		break;
	}
	case AVM_MIGRATE: case AVM_THP:
		o = xlate_emit(x, in, err);
		rc = o ? 0 : -1;
		if (o)
			o->b = (int64_t)rd(x, xlate_addr(x, m, (uint64_t)in->b));
		break;
	case AVM_FORK:
		o = xlate_emit(x, in, err);
		rc = o ? 0 : -1;
		if (o && in->a && (uint64_t)in->a != in->mm) {
			struct xlate_mm *c;

			xlate_mm_drop(x, (uint64_t)in->a);
			c = xlate_mm_get(x, (uint64_t)in->a, err);
			if (!c)
				return -1;
			memcpy(c->anchored, m->anchored, sizeof(c->anchored));
			memcpy(c->rdelta, m->rdelta, sizeof(c->rdelta));
			c->stack_lo = m->stack_lo;
			c->brk = m->brk;
			c->brk_known = m->brk_known;
			c->heap_s = m->heap_s;
			c->heap_d = m->heap_d;
			for (size_t i = 0; i < m->n && !rc; i++)
				rc = xlate_iv_insert(c, i, &m->iv[i], err);
		}
		break;
	case AVM_MM_RELEASE:
		o = xlate_emit(x, in, err);
		rc = o ? 0 : -1;
		xlate_mm_drop(x, in->mm);
		break;
	default:
		o = xlate_emit(x, in, err);
		rc = o ? 0 : -1;
		break;
	}
	if (rc)
		return -1;
	x->st.events_out += x->nout;
	*out = x->out;
	*n = x->nout;
	return 0;
}

int xlate_snap_vmas(struct xlate *x, struct avm_snap_vma *rows, size_t n, struct avm_err *err)
{
	struct xlate_mm *m = NULL;
	uint64_t mm = 0;

	for (size_t i = 0; i < n; i++) {
		struct avm_snap_vma *r = &rows[i];
		struct xlate_iv *v;

		if (!m || r->mm != mm) {
			/* a snapshot describes the whole mm: forget what was known of it */
			xlate_mm_drop(x, r->mm);
			m = xlate_mm_get(x, r->mm, err);
			if (!m)
				return -1;
			mm = r->mm;
		}
		if (r->end <= r->start)
			continue;
		if (i == 0 || rows[i - 1].mm != mm) {
			size_t j = i;

			while (j < n && rows[j].mm == mm)
				j++;
			xlate_anchor_snapshot(x, m, &rows[i], j - i);
		}
		if (xlate_map(x, m, mm, r->start, r->end, xlate_key_vma(r->flags), r->file,
			      XLATE_ROW, &v, err))
			return -1;
		r->pgoff = (uint64_t)xlate_pgoff(x, v, r->pgoff);
		r->start = v->ts;
		r->end = v->te;
	}
	return 0;
}

int xlate_create(const struct xlate_params *p, struct xlate **out, struct avm_err *err)
{
	struct xlate *x;

	*out = NULL;
	if (!p->src_page || p->dst_page < p->src_page)
		return avm_errf(err, "%s has %" PRIu64 "-byte pages, smaller than the trace's %"
				PRIu64 ": only translating to larger pages is modelled",
				p->dst_name, p->dst_page, p->src_page);
	x = calloc(1, sizeof(*x));
	if (!x)
		return avm_errf(err, "translate: out of memory");
	x->p = *p;
	while ((1ULL << x->dst_shift) < p->dst_page)
		x->dst_shift++;
	*out = x;
	return 0;
}

void xlate_destroy(struct xlate *x)
{
	uint64_t it = 0, k;
	void *v;

	if (!x)
		return;
	while (u64map_next(&x->mms, &it, &k, &v))
		xlate_mm_free(v);
	u64map_free(&x->mms);
	free(x->out);
	free(x);
}

const struct xlate_stats *xlate_stats(const struct xlate *x)
{
	return &x->st;
}

cJSON *xlate_json(const struct xlate *x, struct avm_err *err)
{
	cJSON *o = cJSON_CreateObject(), *c = NULL;
	const struct xlate_stats *s = &x->st;
	bool ok = o != NULL;

	ok = ok && cJSON_AddNumberToObject(o, "page_size", (double)x->p.src_page);
	ok = ok && cJSON_AddNumberToObject(o, "va_bits", x->p.src_va_bits);
	ok = ok && cJSON_AddBoolToObject(o, "page_size_translated",
					 x->p.dst_page != x->p.src_page);
	ok = ok && cJSON_AddBoolToObject(o, "va_relocated", xlate_va(x));
	ok = ok && (c = cJSON_AddObjectToObject(o, "counts")) != NULL;
	ok = ok && cJSON_AddNumberToObject(c, "events_in", (double)s->events_in);
	ok = ok && cJSON_AddNumberToObject(c, "events_out", (double)s->events_out);
	ok = ok && cJSON_AddNumberToObject(c, "faults_duplicate_dropped", (double)s->faults_dup);
	ok = ok && cJSON_AddNumberToObject(c, "faults_outside_dropped",
					   (double)s->faults_outside);
	ok = ok && cJSON_AddNumberToObject(c, "vmas_placed", (double)s->vmas_placed);
	ok = ok && cJSON_AddNumberToObject(c, "vmas_moved", (double)s->vmas_moved);
	ok = ok && cJSON_AddNumberToObject(c, "vmas_clipped", (double)s->vmas_clipped);
	ok = ok && cJSON_AddNumberToObject(c, "vmas_dropped", (double)s->vmas_dropped);
	ok = ok && cJSON_AddNumberToObject(c, "vmas_va_relocated", (double)s->vmas_va_relocated);
	ok = ok && cJSON_AddNumberToObject(c, "ranges_split", (double)s->ranges_split);
	if (!ok) {
		cJSON_Delete(o);
		avm_errf(err, "translate: out of memory");
		return NULL;
	}
	return o;
}
