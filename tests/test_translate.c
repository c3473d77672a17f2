/*
 * test_translate.c - the page-size and address-space translation
 * (translate.h), one rule per test, layouts drawn and worked out by hand.
 *
 * Notation: p = a 4 KiB source page, P = a 16 KiB target page (4 p).  A
 * source mapping [s, e) with delta d lands on [round_down(s + d, P),
 * round_up(e + d, P)); two mappings that cannot merge never share a target
 * page: a fixed one (snapshot row, MAP_FIXED) moves up past the one below,
 * one the kernel placed moves down (top-down), a file mapping the kernel
 * placed gets 4 P of slack below it for the segments mapped into it later.
 */
#include "evbuild.h"

#include <stdio.h>

#include "translate.h"

#define P16 0x4000ULL
#define R 1
#define RX 5
#define XRW 3

static struct xlate *mk(uint64_t src_page, uint64_t dst_page, uint64_t src_top, uint64_t dst_top)
{
	struct xlate_params p = {
		.src_page = src_page, .dst_page = dst_page, .src_va_bits = 47, .dst_va_bits = 48,
		.src_top = src_top, .dst_top = dst_top, .dst_name = "target",
	};
	struct xlate *x = NULL;
	struct avm_err err = { { 0 } };

	if (xlate_create(&p, &x, &err))
		fail_msg("%s", err.msg);
	return x;
}

static struct xlate *mk16(void)
{
	return mk(PG, P16, 1ULL << 47, 1ULL << 48);
}

/* Translate ev: exactly `want` events out; returns the first (or a zeroed one). */
static struct avm_event tr(struct xlate *x, struct avm_event ev, size_t want)
{
	const struct avm_event *out = NULL;
	size_t n = 0;
	struct avm_err err = { { 0 } };
	struct avm_event none = { 0 };

	if (xlate_event(x, &ev, &out, &n, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(n, want);
	return n ? out[0] : none;
}

static struct avm_snap_vma row(uint64_t mm, uint64_t s, uint64_t e, uint64_t vmflags, uint64_t file)
{
	return ev_snap_row(mm, s, e, vmflags, file, 0);
}

/*
 * ELF segments of one binary in a start snapshot (rows, fixed addresses):
 *
 *   source  0x400000 |r-x|rw-|rw-|           (p each; text and data)
 *   target  0x400000 |r-x . . .|rw- . . .|   (P each)
 *
 * The data row's natural place [0x400000, 0x404000) is the text's page:
 * it moves up one P (d = +0x4000).  Faults follow the delta; the second
 * write fault on the data's target page is dropped (already mapped).
 */
static void test_elf_segments_move_up(void **state)
{
	struct xlate *x = mk16();
	struct avm_snap_vma rows[2] = {
		row(1, 0x400000, 0x401000, VM_READ | VM_EXEC, 7),
		row(1, 0x401000, 0x403000, VM_READ | VM_WRITE, 7),
	};
	struct avm_err err = { { 0 } };
	struct avm_event o;

	(void)state;
	rows[1].pgoff = 1;
	if (xlate_snap_vmas(x, rows, 2, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(rows[0].start, 0x400000);
	assert_int_equal(rows[0].end, 0x404000);
	assert_int_equal(rows[1].start, 0x404000);
	assert_int_equal(rows[1].end, 0x408000);
	/* file offset of the target start: 0x1000 - (0x405000 - 0x404000) = 0 */
	assert_int_equal(rows[1].pgoff, 0);
	assert_int_equal(xlate_stats(x)->vmas_moved, 1);

	o = tr(x, ev_write(1, 0x402010), 1);
	assert_int_equal(o.a, 0x404000);
	tr(x, ev_write(1, 0x401000), 0);          /* same target page, same access */
	o = tr(x, ev_read(1, 0x400010), 1);
	assert_int_equal(o.a, 0x400000);
	tr(x, ev_read(1, 0x401800), 0);           /* a read after a write: present */
	assert_int_equal(xlate_stats(x)->faults_dup, 2);

	/* mprotect of the second data page: rounded out to the whole target page */
	o = tr(x, ev_mprotect(1, 0x402000, 0x1000, PROT_READ), 1);
	assert_int_equal(o.a, 0x404000);
	assert_int_equal(o.b, P16);
	/* the mm changed: the same fault is taken again */
	o = tr(x, ev_write(1, 0x401000), 1);
	assert_int_equal(o.a, 0x404000);
	xlate_destroy(x);
}

/*
 * RELRO: the loader makes the first p of the data segment read-only.
 *
 *   source  0x401000 |r-- (relro)|rw-|       (data: 2 p)
 *   target  0x404000 |rw- . . . . . .|       (one P: the call rounds its end down)
 *
 * glibc aligns the RELRO end down to the page: on a 16K kernel a RELRO
 * shorter than a page protects nothing, and the data stays writable.  The
 * same call ending at the mapping's end protects the whole page.
 */
static void test_relro_rounds_in(void **state)
{
	struct xlate *x = mk16();
	struct avm_snap_vma rows[2] = {
		row(1, 0x400000, 0x401000, VM_READ | VM_EXEC, 7),
		row(1, 0x401000, 0x403000, VM_READ | VM_WRITE, 7),
	};
	struct avm_err err = { { 0 } };
	struct avm_event o;

	(void)state;
	if (xlate_snap_vmas(x, rows, 2, &err))
		fail_msg("%s", err.msg);
	tr(x, ev_mprotect(1, 0x401000, PG, PROT_READ), 0);
	o = tr(x, ev_write(1, 0x402000), 1);       /* still writable: the fault goes on */
	assert_int_equal(o.a, 0x404000);
	o = tr(x, ev_mprotect(1, 0x402000, PG, PROT_READ), 1);
	assert_int_equal(o.a, 0x404000);
	assert_int_equal(o.b, P16);
	xlate_destroy(x);
}

/*
 * A guard page: mprotect(PROT_NONE) of the first p of an anonymous mapping.
 *
 *   source  A |--- . . . . . . . . . . . . . . .|  (16 p, first one PROT_NONE)
 *   target  A |---- - - -|rw-|rw-|rw-|            (the whole first P is the guard)
 *
 * A = 0x7f0000010000 (P-aligned, no neighbour: no move).
 */
static void test_guard_page(void **state)
{
	struct xlate *x = mk16();
	const uint64_t A = 0x7f0000010000ULL;
	struct avm_event o;

	(void)state;
	o = tr(x, ev_mmap(1, A, 16 * PG, RW, ANON), 1);
	assert_int_equal(o.a, A);
	assert_int_equal(o.b, 16 * PG);
	o = tr(x, ev_mprotect(1, A, PG, PROT_NONE), 1);
	assert_int_equal(o.a, A);
	assert_int_equal(o.b, P16);
	o = tr(x, ev_write(1, A + 4 * PG), 1);
	assert_int_equal(o.a, A + P16);
	tr(x, ev_write(1, A + 5 * PG), 0);
	tr(x, ev_write(1, A + 7 * PG + 8), 0);
	o = tr(x, ev_write(1, A + 8 * PG), 1);
	assert_int_equal(o.a, A + 2 * P16);
	o = tr(x, ev_munmap(1, A, 16 * PG), 1);
	assert_int_equal(o.a, A);
	assert_int_equal(o.b, 4 * P16);
	tr(x, ev_write(1, A + 8 * PG), 0);        /* nothing mapped there any more */
	assert_int_equal(xlate_stats(x)->faults_outside, 1);
	xlate_destroy(x);
}

/*
 * Top-down: the kernel put a one-page anonymous mapping N just below a file
 * mapping F (a row).
 *
 *   source  0x7f0000020000 |N|F|
 *   target  0x7f000001c000 |N . . .|F . . .|     (F's row: [0x..20000, 0x..24000))
 *
 * N's natural target is F's page: being kernel-placed it moves down one P.
 */
static void test_topdown_moves_down(void **state)
{
	struct xlate *x = mk16();
	struct avm_snap_vma f = row(1, 0x7f0000021000ULL, 0x7f0000022000ULL, VM_READ, 9);
	struct avm_err err = { { 0 } };
	struct avm_event o;

	(void)state;
	if (xlate_snap_vmas(x, &f, 1, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(f.start, 0x7f0000020000ULL);
	assert_int_equal(f.end, 0x7f0000024000ULL);
	o = tr(x, ev_mmap(1, 0x7f0000020000ULL, PG, RW, ANON), 1);
	assert_int_equal(o.a, 0x7f000001c000ULL);
	assert_int_equal(o.b, P16);
	assert_int_equal(xlate_stats(x)->vmas_moved, 1);
	o = tr(x, ev_write(1, 0x7f0000020800ULL), 1);
	assert_int_equal(o.a, 0x7f000001c000ULL);
	xlate_destroy(x);
}

/*
 * The dynamic loader: reserve the whole object (file, r--), then map the
 * other segments into it with MAP_FIXED.
 *
 *   source  B |r--|r-x r-x|rw-|           B = 0x7f0000100000 (4 p)
 *   target  B-0x10000 |r-- ...|r-x ...|rw- ...|.. slack ..|B
 *
 * The reservation gets 4 P of slack (d = -0x10000); the r-x segment's
 * natural place is the r-- page: it moves up one P (d = -0xc000) and the
 * rest of the reservation above it gives way; the bss (anonymous, MAP_FIXED
 * over the last p) moves up one more P (d = -0x8000).  Nothing is clipped.
 */
static void test_loader_reservation(void **state)
{
	struct xlate *x = mk16();
	const uint64_t B = 0x7f0000100000ULL, T = B - 0x10000;
	struct avm_event o;

	(void)state;
	o = tr(x, ev_mmap_file(1, B, 4 * PG, PROT_READ, MAP_PRIVATE, 3, 0), 1);
	assert_int_equal(o.a, T);
	assert_int_equal(o.b, P16);
	o = tr(x, ev_mmap_file(1, B + PG, 2 * PG, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED,
			       3, 1), 1);
	assert_int_equal(o.a, T + P16);
	assert_int_equal(o.b, P16);
	assert_int_equal(o.f, 0); /* 0x1000 into the file, 0x1000 into its target page */
	o = tr(x, ev_mmap(1, B + 3 * PG, PG, RW, ANON | MAP_FIXED), 1);
	assert_int_equal(o.a, T + 2 * P16);
	assert_int_equal(o.b, P16);
	assert_int_equal(xlate_stats(x)->vmas_moved, 2);
	assert_int_equal(xlate_stats(x)->vmas_clipped, 0);
	assert_int_equal(xlate_stats(x)->vmas_dropped, 0);
	/* a write into the bss lands on its page */
	o = tr(x, ev_write(1, B + 3 * PG + 0x10), 1);
	assert_int_equal(o.a, T + 2 * P16);
	xlate_destroy(x);
}

/*
 * Fork copies the relocation map; the child's faults follow the parent's
 * deltas; exit of the child forgets its map.
 */
static void test_fork_follows(void **state)
{
	struct xlate *x = mk16();
	struct avm_snap_vma rows[2] = {
		row(1, 0x400000, 0x401000, VM_READ | VM_EXEC, 7),
		row(1, 0x401000, 0x402000, VM_READ | VM_WRITE, 7),
	};
	struct avm_err err = { { 0 } };
	struct avm_event o;

	(void)state;
	if (xlate_snap_vmas(x, rows, 2, &err))
		fail_msg("%s", err.msg);
	tr(x, ev_fork(1, 2), 1);
	o = tr(x, ev_write(2, 0x401000), 1);
	assert_int_equal(o.a, 0x404000);
	xlate_destroy(x);
}

/*
 * Later events follow a moved range: the data row sits one P up (d =
 * +0x4000); mremap moves it to M = 0x7f0000000000 (kernel-chosen, no
 * neighbour, no slack), then faults and munmap follow the new place.
 *
 *   source  0x400000 |r-x|rw- rw-|   ->   M |rw- rw-|
 *   target  0x400000 |r-x ...|rw- ...|   ->   M |rw- ...|
 */
static void test_mremap_follows(void **state)
{
	struct xlate *x = mk16();
	struct avm_snap_vma rows[2] = {
		row(1, 0x400000, 0x401000, VM_READ | VM_EXEC, 7),
		row(1, 0x401000, 0x403000, VM_READ | VM_WRITE, 7),
	};
	const uint64_t M = 0x7f0000000000ULL;
	struct avm_err err = { { 0 } };
	struct avm_event o;

	(void)state;
	if (xlate_snap_vmas(x, rows, 2, &err))
		fail_msg("%s", err.msg);
	o = tr(x, ev_mremap(1, 0x401000, 2 * PG, 2 * PG, 1 /* MREMAP_MAYMOVE */, (int64_t)M, 0), 1);
	assert_int_equal(o.a, 0x404000);
	assert_int_equal(o.b, P16);
	assert_int_equal(o.c, P16);
	assert_int_equal(o.e, M);
	o = tr(x, ev_write(1, M + PG + 8), 1);
	assert_int_equal(o.a, M);
	tr(x, ev_write(1, 0x401000), 0);          /* the old place is gone */
	assert_int_equal(xlate_stats(x)->faults_outside, 1);
	o = tr(x, ev_munmap(1, M, 2 * PG), 1);
	assert_int_equal(o.a, M);
	assert_int_equal(o.b, P16);
	xlate_destroy(x);
}

/*
 * 39-bit VA: an x86_64 process (user space 2^47) under arm64-4k-39bit
 * (2^39), 4 KiB pages both sides.  Each region keeps its distances:
 *
 *   PIE  0x555555554000 -> 0x5555554000  (lowest PIE mapping's GiB at 2^39*2/3's GiB)
 *   lib  0x7f1234567000 -> 0x7ef4567000  (highest mmap GiB, 0x7f1240000000, 4 GiB
 *                                          below the top: 0x7f00000000)
 *   stk  0x7ffc12345000 -> 0x7fd2345000  (highest GiB, 0x7ffc40000000, at the top)
 *
 * The stack region is what lies within 4 GiB of the highest mapping's GiB
 * (x86_64 puts mmap_base at least 128 MiB and up to ~1 TiB below the stack).
 */
static void test_va_39bit(void **state)
{
	struct xlate *x = mk(PG, PG, 1ULL << 47, 1ULL << 39);
	struct avm_snap_vma rows[3] = {
		row(1, 0x555555554000ULL, 0x555555556000ULL, VM_READ | VM_EXEC, 1),
		row(1, 0x7f1234567000ULL, 0x7f1234569000ULL, VM_READ, 2),
		row(1, 0x7ffc12345000ULL, 0x7ffc12366000ULL, VM_READ | VM_WRITE | VM_GROWSDOWN, 0),
	};
	struct avm_err err = { { 0 } };
	struct avm_event o;

	(void)state;
	if (xlate_snap_vmas(x, rows, 3, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(rows[0].start, 0x5555554000ULL);
	assert_int_equal(rows[1].start, 0x7ef4567000ULL);
	assert_int_equal(rows[2].start, 0x7fd2345000ULL);
	assert_int_equal(rows[2].end, 0x7fd2366000ULL);
	assert_int_equal(xlate_stats(x)->vmas_va_relocated, 3);
	/* a fault just below the stack grows it (within the window) */
	o = tr(x, ev_write(1, 0x7ffc12344008ULL), 1);
	assert_int_equal(o.a, 0x7fd2344000ULL);
	/* the heap starts at the first break, with the PIE region's delta */
	o = tr(x, ev_brk(1, 0, 0x555555560000ULL), 1);
	assert_int_equal(o.b, 0x5555560000ULL);
	o = tr(x, ev_brk(1, 0x555555581000ULL, 0x555555581000ULL), 1);
	assert_int_equal(o.b, 0x5555581000ULL);
	o = tr(x, ev_write(1, 0x555555570000ULL), 1);
	assert_int_equal(o.a, 0x5555570000ULL);
	xlate_destroy(x);
}

/* Where the target's space cannot hold a region: one line naming it. */
static void test_va_refusals(void **state)
{
	struct xlate *x = mk(PG, PG, 1ULL << 47, 1ULL << 39);
	struct avm_snap_vma rows[3] = {
		/* 128 GiB below the library: 0x7ef4567000 - 128 GiB = 0x5ef4567000, under
		 * the target's mmap region [0x6000000000, 0x7f00000000) (124 GiB) */
		row(1, 0x7ef234567000ULL, 0x7ef234568000ULL, VM_READ, 3),
		row(1, 0x7f1234567000ULL, 0x7f1234569000ULL, VM_READ, 2),
		row(1, 0x7ffc12345000ULL, 0x7ffc12366000ULL, VM_READ | VM_WRITE | VM_GROWSDOWN, 0),
	};
	struct avm_err err = { { 0 } };
	const struct avm_event *out;
	struct avm_event ev;
	size_t n;

	(void)state;
	assert_int_equal(xlate_snap_vmas(x, rows, 3, &err), -1);
	assert_non_null(strstr(err.msg, "region 'mmap area' does not fit target"));
	xlate_destroy(x);

	/* a MAP_FIXED reservation at 16 TiB: low region, above the target's 2^39 / 3 */
	x = mk(PG, PG, 1ULL << 47, 1ULL << 39);
	ev = ev_mmap(1, 0x100000000000ULL, 1ULL << 30, PROT_NONE, ANON | MAP_FIXED);
	memset(&err, 0, sizeof(err));
	assert_int_equal(xlate_event(x, &ev, &out, &n, &err), -1);
	assert_non_null(strstr(err.msg, "region 'low"));
	assert_null(strchr(err.msg, '\n'));
	xlate_destroy(x);
}

/* An event without an address space (mm 0: a broken trace) goes through as it is. */
static void test_no_mm_passes(void **state)
{
	struct xlate *x = mk16();
	struct avm_event o;

	(void)state;
	o = tr(x, ev_brk(0, 0x1234, 0x5678), 1);
	assert_int_equal(o.a, 0x1234);
	assert_int_equal(o.b, 0x5678);
	o = tr(x, ev_write(0, 0x401008), 1);
	assert_int_equal(o.a, 0x401008);
	xlate_destroy(x);
}

/* Smaller target pages are refused at creation. */
static void test_smaller_pages_refused(void **state)
{
	struct xlate_params p = {
		.src_page = P16, .dst_page = PG, .src_top = 1ULL << 47, .dst_top = 1ULL << 48,
		.dst_name = "x86_64-4level",
	};
	struct xlate *x = NULL;
	struct avm_err err = { { 0 } };

	(void)state;
	assert_int_equal(xlate_create(&p, &x, &err), -1);
	assert_null(x);
	assert_non_null(strstr(err.msg, "only translating to larger pages"));
	assert_false(xlate_needed(PG, 1ULL << 47, PG, 1ULL << 47));
	assert_true(xlate_needed(PG, 1ULL << 47, P16, 1ULL << 48));
	assert_true(xlate_needed(PG, 1ULL << 47, PG, 1ULL << 39));
	assert_int_equal(xlate_user_top("x86_64", 47), 1ULL << 47);
	assert_int_equal(xlate_user_top("x86_64", 48), 1ULL << 47);
	assert_int_equal(xlate_user_top("arm64", 39), 1ULL << 39);
}

/*
 * Through an eager world on arm64-16k-48bit: 16 write faults, one per p of
 * a 16 p anonymous mapping, become 4 (one per P): 4 PTEs, 4 page-table
 * pages (pgd pud pmd pte), one anon_vma and one AVC, as a 16K kernel would
 * have (one fault per 16K page, do_anonymous_page maps it whole).
 */
static void test_world_16k(void **state)
{
	struct xlate *x = mk16();
	struct arch a;
	struct config cfg;
	struct world_meta meta;
	struct world *w = NULL;
	struct avm_err err = { { 0 } };
	const uint64_t A = 0x10000000ULL;
	const struct arch_pt_stats *ps;
	const struct model_stats *ms;
	struct avm_event evs[18];
	size_t nev = 0;
	uint64_t tables = 0;

	(void)state;
	if (arch_load("arm64-16k-48bit", NULL, &a, &err))
		fail_msg("%s", err.msg);
	tw_config(&cfg, 3);
	world_meta_defaults(&meta);
	meta.arch = &a;
	meta.page_size = a.page_size;
	if (world_create(&cfg, model_find("eager"), &meta, &w, &err))
		fail_msg("%s", err.msg);
	world_set_check(w, true);
	evs[nev++] = ev_mmap(1, A, 16 * PG, RW, ANON);
	for (int i = 0; i < 16; i++)
		evs[nev++] = ev_write(1, A + (uint64_t)i * PG);
	for (size_t i = 0; i < nev; i++) {
		const struct avm_event *out;
		size_t n;

		if (xlate_event(x, &evs[i], &out, &n, &err))
			fail_msg("%s", err.msg);
		for (size_t k = 0; k < n; k++)
			if (world_apply(w, &out[k], &err))
				fail_msg("%s", err.msg);
	}
	assert_int_equal(xlate_stats(x)->faults_dup, 12);
	ps = world_pt_stats(w);
	assert_int_equal(ps->ptes, 4);
	for (unsigned i = 0; i < a.levels; i++)
		tables += ps->tables[i];
	assert_int_equal(tables, 4);
	ms = world_stats(w);
	assert_int_equal(ms->obj[MODEL_OBJ_ANON_VMA].live, 1);
	assert_int_equal(ms->obj[MODEL_OBJ_AVC].live, 1);
	world_destroy(w);
	xlate_destroy(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf_segments_move_up),
		cmocka_unit_test(test_relro_rounds_in),
		cmocka_unit_test(test_guard_page),
		cmocka_unit_test(test_topdown_moves_down),
		cmocka_unit_test(test_loader_reservation),
		cmocka_unit_test(test_fork_follows),
		cmocka_unit_test(test_mremap_follows),
		cmocka_unit_test(test_va_39bit),
		cmocka_unit_test(test_va_refusals),
		cmocka_unit_test(test_no_mm_passes),
		cmocka_unit_test(test_smaller_pages_refused),
		cmocka_unit_test(test_world_16k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
