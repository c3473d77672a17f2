/*
 * collect.h - the wire between collect.bpf.c and the collector's user side.
 *
 * Owns: the record layouts that travel through the ring buffer and the
 * task_vma iterator, the collector-internal record kinds, the call-site
 * ranges user space passes to BPF, and the per-CPU statistics slots.
 *
 * Every record starts with a struct avm_event.  Ordinary events use it alone
 * (80 bytes) with raw kernel addresses in mm and in the object fields named in
 * event.h; collect.c turns those into ids.  Snapshot rows travel as a header
 * whose kind is one of the COLLECT_REC_* values below followed by the row, so
 * they go through the same time-ordered queue as the events and are mapped to
 * ids in the same order as the slab events that create and free the objects.
 *
 * Nothing here reaches the trace: trace.db holds only event.h records.
 */
#ifndef ANONVMA_COLLECT_H
#define ANONVMA_COLLECT_H

#include "event.h"

/* Internal record kinds (never written to the trace as events). */
enum collect_rec {
	COLLECT_REC_SNAP_VMA = 1001, /* struct collect_snap_vma_rec */
	COLLECT_REC_SNAP_AV = 1002,  /* struct collect_snap_av_rec */
	COLLECT_REC_EXEC_DONE = 1003,/* the new image is loaded (h.mm = new mm): user
	                                space reads /proc/PID/maps when BPF cannot
	                                snapshot; never written to the trace */
	COLLECT_REC_PROC = 1004,     /* struct collect_proc_rec: at exec, the process's
	                                new comm and the file it runs (table processes) */
};

/* COLLECT_REC_PROC: the path as given to execve, cut at COLLECT_EXE_LEN - 1 bytes. */
#define COLLECT_EXE_LEN 256
struct collect_proc_rec {
	struct avm_event h;
	char comm[16];
	char exe[COLLECT_EXE_LEN];
};

/* Snapshot rows: h.t is when the row was read; pointers are raw. */
struct collect_snap_vma_rec {
	struct avm_event h;
	struct avm_snap_vma v;
};

struct collect_snap_av_rec {
	struct avm_event h;
	struct avm_snap_av a;
};

/*
 * Call sites that allocate and free anon rmap objects: [start, end) address
 * ranges of these functions, read from /proc/kallsyms by user space and
 * written into the BPF object's read-only data before load.
 */
enum collect_site_fn {
	COLLECT_FN_PREPARE = 0, /* __anon_vma_prepare */
	COLLECT_FN_CLONE,       /* anon_vma_clone */
	COLLECT_FN_FORK,        /* anon_vma_fork */
	COLLECT_FN_UNLINK,      /* unlink_anon_vmas */
	COLLECT_FN_PUT,         /* __put_anon_vma */
	COLLECT_FN_AVC_FREE,    /* anon_vma_chain_free, when not inlined */
	COLLECT_FN_MAX,
};

struct collect_site_range {
	avm_u64 start, end;
};

/* Per-CPU statistics (array map "stats", one slot each). */
enum collect_stat {
	COLLECT_STAT_LOST = 0,      /* ring-buffer reserve failures */
	COLLECT_STAT_SLAB_OTHER,    /* anon_vma_chain-cache events of other users (dropped) */
	COLLECT_STAT_SLAB_FAILED,   /* kmem_cache_alloc events with ptr NULL */
	COLLECT_STAT_SNAP_TRUNC,    /* snapshot chains longer than the walk bound */
	COLLECT_STAT_SNAP_MISSED,   /* exit snapshots not taken: mmap_lock busy or a row lost */
	COLLECT_STAT_MAX,
};

/* The longest chain the BPF side walks to count it (it records AVM_CHAIN_MAX). */
#define COLLECT_CHAIN_WALK AVM_CHAIN_LEN_MAX

#endif
