/*
 * gentrace.c - write a large, realistic-looking trace through the trace API,
 * for the trace-size measurement and the replay benchmark.
 *
 *   gentrace OUT.db EVENTS [SEED]
 *
 * Workload (a prefork server shape, repeated until EVENTS are written): a
 * master (mm 1) maps a heap and a few libraries and touches them; then,
 * generation after generation, it forks a worker that maps and touches
 * memory of its own, write-faults some of the inherited heap (CoW), splits a
 * mapping with mprotect, unmaps part of it and exits.  Every syscall comes
 * with the mmap_lock events a collector records (start, acquired, released),
 * and every anon rmap object the kernel would allocate comes as an
 * AVM_SLAB event (observed.md's counts), so the mix of kinds and the value
 * ranges (pids near pid_max/2, 47-bit addresses, µs-spaced times on two
 * CPUs) match what anonvma-collect writes.  It is a benchmark input, not a
 * model test: the slab events are plausible, not validated.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

#define PAGE 4096ULL

struct gen {
	struct trace *t;
	struct avm_err err;
	uint64_t want, now, rng, next_obj;
	int failed;
};

static uint64_t gen_rand(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

static void emit(struct gen *g, uint32_t pid, uint64_t mm, uint32_t kind, int64_t a, int64_t b,
		 int64_t c, int64_t d, int64_t e, int64_t f)
{
	struct avm_event ev = { 0 };

	if (g->failed || trace_events_written(g->t) >= g->want)
		return;
	g->now += 300 + gen_rand(g) % 4000;
	ev.t = g->now;
	ev.cpu = (uint32_t)(gen_rand(g) & 1);
	ev.pid = pid;
	ev.tid = (gen_rand(g) % 8) ? pid : pid + 1;
	ev.kind = kind;
	ev.mm = mm;
	ev.a = a, ev.b = b, ev.c = c, ev.d = d, ev.e = e, ev.f = f;
	if (trace_append(g->t, &ev, &g->err))
		g->failed = 1;
}

static void lock(struct gen *g, uint32_t pid, uint64_t mm, int phase)
{
	emit(g, pid, mm, AVM_MMAP_LOCK, 1, phase, 1, 0, 0, 0);
}

static void slab(struct gen *g, uint32_t pid, uint64_t mm, int cache, int op, int site)
{
	emit(g, pid, mm, AVM_SLAB, cache, op, site, (int64_t)++g->next_obj, 0, 0);
}

static void syscall_mmap(struct gen *g, uint32_t pid, uint64_t mm, uint64_t addr, uint64_t len,
			 uint64_t file)
{
	lock(g, pid, mm, AVM_LOCK_START);
	lock(g, pid, mm, AVM_LOCK_ACQUIRED);
	slab(g, pid, mm, AVM_CACHE_VMA, AVM_SLAB_ALLOC, AVM_SITE_VMA);
	lock(g, pid, mm, AVM_LOCK_RELEASED);
	emit(g, pid, mm, AVM_MMAP, (int64_t)addr, (int64_t)len, 3, file ? 0x02 : 0x22,
	     (int64_t)file, 0);
}

static void touch(struct gen *g, uint32_t pid, uint64_t mm, uint64_t addr, uint64_t pages,
		  int first)
{
	for (uint64_t i = 0; i < pages; i++) {
		emit(g, pid, mm, AVM_FAULT, (int64_t)(addr + i * PAGE), AVM_PF_USER | AVM_PF_WRITE,
		     0, 0, 0, 0);
		if (first && i == 0) {
			slab(g, pid, mm, AVM_CACHE_ANON_VMA, AVM_SLAB_ALLOC, AVM_SITE_PREPARE);
			slab(g, pid, mm, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_PREPARE);
		}
	}
}

static void run(struct gen *g)
{
	const uint32_t master = 16000;
	const uint64_t heap = 0x55d4a0000000ULL, lib = 0x7f3c10000000ULL;
	uint64_t gen_no = 0;

	emit(g, master, 0, AVM_EXEC, 1, 0, master, 0, 0, 0);
	syscall_mmap(g, master, 1, heap, 256 * PAGE, 0);
	touch(g, master, 1, heap, 256, 1);
	for (int l = 0; l < 4; l++) {
		syscall_mmap(g, master, 1, lib + (uint64_t)l * 0x200000, 64 * PAGE, 10 + (uint64_t)l);
		touch(g, master, 1, lib + (uint64_t)l * 0x200000, 8, 1);
	}
	while (!g->failed && trace_events_written(g->t) < g->want) {
		uint32_t pid = master + 1 + (uint32_t)(gen_no % 15000);
		uint64_t mm = 2 + gen_no;
		uint64_t mine = 0x7f5000000000ULL + (gen_rand(g) % 1024) * 0x1000000ULL;
		uint64_t pages = 16 + gen_rand(g) % 96;

		gen_no++;
		/* fork: one anon_vma + two AVCs per faulted parent VMA (observed.md) */
		lock(g, master, 1, AVM_LOCK_START);
		lock(g, master, 1, AVM_LOCK_ACQUIRED);
		for (int v = 0; v < 5; v++) {
			slab(g, master, 1, AVM_CACHE_VMA, AVM_SLAB_ALLOC, AVM_SITE_VMA);
			slab(g, master, 1, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_CLONE);
			slab(g, master, 1, AVM_CACHE_ANON_VMA, AVM_SLAB_ALLOC, AVM_SITE_FORK);
			slab(g, master, 1, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_FORK);
		}
		lock(g, master, 1, AVM_LOCK_RELEASED);
		emit(g, master, 1, AVM_FORK, (int64_t)mm, pid, 0x1200011, pid, 0, 0);
		/* the worker: CoW on the heap, its own memory, a split, a partial unmap */
		touch(g, pid, mm, heap + (gen_rand(g) % 128) * PAGE, 16, 0);
		syscall_mmap(g, pid, mm, mine, pages * PAGE, 0);
		touch(g, pid, mm, mine, pages, 1);
		lock(g, pid, mm, AVM_LOCK_START);
		lock(g, pid, mm, AVM_LOCK_ACQUIRED);
		slab(g, pid, mm, AVM_CACHE_VMA, AVM_SLAB_ALLOC, AVM_SITE_VMA);
		slab(g, pid, mm, AVM_CACHE_AVC, AVM_SLAB_ALLOC, AVM_SITE_CLONE);
		lock(g, pid, mm, AVM_LOCK_RELEASED);
		emit(g, pid, mm, AVM_MPROTECT, (int64_t)mine, 4 * PAGE, 1, 0, 0, 0);
		lock(g, pid, mm, AVM_LOCK_START);
		lock(g, pid, mm, AVM_LOCK_ACQUIRED);
		lock(g, pid, mm, AVM_LOCK_RELEASED);
		emit(g, pid, mm, AVM_MUNMAP, (int64_t)(mine + 8 * PAGE), 4 * PAGE, 0, 0, 0, 0);
		emit(g, pid, mm, AVM_EXIT, 1, 0, 0, 0, 0, 0);
		for (int v = 0; v < 7; v++) {
			slab(g, pid, mm, AVM_CACHE_AVC, AVM_SLAB_FREE, AVM_SITE_UNLINK);
			slab(g, pid, mm, AVM_CACHE_VMA, AVM_SLAB_FREE, AVM_SITE_VMA);
		}
		slab(g, pid, mm, AVM_CACHE_ANON_VMA, AVM_SLAB_FREE, AVM_SITE_PUT);
		emit(g, pid, mm, AVM_MM_RELEASE, 0, 0, 0, 0, 0, 0);
	}
}

int main(int argc, char **argv)
{
	struct gen g = { .rng = 88172645463325252ULL };
	int ret = 1;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: gentrace OUT.db EVENTS [SEED]\n");
		return 2;
	}
	g.want = strtoull(argv[2], NULL, 10);
	if (argc == 4)
		g.rng ^= strtoull(argv[3], NULL, 10) * 2654435761ULL;
	if (trace_create(argv[1], 1, &g.t, &g.err))
		goto out;
	if (trace_meta_set(g.t, "writer", "gentrace", &g.err) ||
	    trace_meta_set(g.t, "collection_mode", "synth", &g.err) ||
	    trace_meta_set(g.t, "arch", "x86_64", &g.err) ||
	    trace_meta_set_int(g.t, "page_size", 4096, &g.err)) {
		trace_abort(g.t, NULL);
		goto out;
	}
	run(&g);
	if (g.failed) {
		trace_abort(g.t, NULL);
		goto out;
	}
	if (trace_close(g.t, &g.err))
		goto out;
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "gentrace: %s\n", g.err.msg);
	return ret;
}
