/*
 * validate.h - does the eager world match the kernel, object for object?
 *
 * Owns the comparison of the eager world's anon_vma / anon_vma_chain
 * allocations and frees (struct model_stats deltas) with the kernel's own
 * slab events (AVM_SLAB) recorded in the same trace: totals, per process
 * (mm), per kind of operation, live counts, VMA layouts at snapshots, the
 * events where the two part ways, and the differences a trace cannot explain
 * to a model (thread races, frees from kernel threads, lost events).
 *
 * Use (the replay loop):
 *
 *   validate_create(&params, &v, &err);
 *   for every event ev, in stream order:
 *       validate_event(v, ev, &err);               before the eager world sees ev
 *       ... the eager world applies ev ...
 *       validate_world_delta(v, ev, stats, &err);  after (for every event, even
 *                                                  ones the world ignored)
 *       after a snapshot was applied (AVM_EXEC with a snapshot, AVM_SNAPSHOT):
 *       validate_snapshot(v, ev, rows, n, world_vmas, wn, &err);
 *       at an exit snapshot (AVM_SNAPSHOT, reason AVM_SNAP_EXIT), which the
 *       world does not apply: its rows against the world's VMAs of ev->mm
 *       validate_exit_layout(v, ev, rows, n, world_vmas, wn, world_mm, &err);
 *   validate_finish(v, &err);
 *   validate_to_json(v) -> the report's "validation" object
 *   validate_passed(v)  -> exit status
 *
 * Nothing here knows the simulator's internals: model deltas come from
 * model_stats, VMA layouts arrive as plain validate_vma arrays.
 */
#ifndef ANONVMA_VALIDATE_H
#define ANONVMA_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event.h"
#include "model.h"

struct cJSON;
struct validate;

/* The two objects validated (indices into the per-object arrays below). */
enum validate_obj { VALIDATE_AV = 0, VALIDATE_AVC = 1, VALIDATE_OBJ_NR = 2 };

/*
 * Kinds of operation both sides are compared on.  The kernel side is
 * classified by call site (enum avm_site) *and* the event context the task
 * was in (a fault, a syscall, a fork, an exec, an mm teardown); the model
 * side by enum model_why.  See validate.c for the exact mapping.
 */
enum validate_op {
	VALIDATE_OP_PREPARE = 0, /* first-fault prepare (incl. populate)     | why FAULT */
	VALIDATE_OP_FORK,        /* dup_mmap: clone + anon_vma_fork           | why FORK */
	VALIDATE_OP_CLONE,       /* split, merge dup, mremap copy             | SPLIT, MERGE, MREMAP */
	VALIDATE_OP_UNLINK,      /* unlink/put outside exit and exec          | UNMAP + frees of others */
	VALIDATE_OP_EXIT,        /* exit_mmap                                 | why EXIT */
	VALIDATE_OP_EXEC,        /* execve: stack, ELF COWs, old mm teardown  | why EXEC */
	VALIDATE_OP_OTHER,       /* kernel: no context (kernel threads)       | - */
	VALIDATE_OP_NR,
};

struct validate_params {
	double tolerance;          /* max relative allocation error; default 0.01 */
	size_t max_divergences;    /* divergences kept in the list (all are counted); default 50 */
};

/* One VMA of a layout, from a snapshot or from the world. */
struct validate_vma {
	uint64_t start, end;
	uint64_t flags;  /* VM_* */
	bool anon;       /* has an anon_vma (kernel) / anon state (model) */
	/* read by validate_exit_layout only */
	uint64_t pgoff;      /* pages */
	uint64_t file;       /* open-file id, 0 anonymous */
	uint32_t chain_len;  /* AVCs on the VMA's chain */
	bool chain_known;    /* the model can tell chain_len (eager can) */
};

/*
 * Find the world's VMA containing addr in mm (for naming the VMA of a
 * divergence): fill *out and return 1, 0 if none.
 */
typedef int (*validate_vma_lookup_fn)(void *ctx, uint64_t mm, uint64_t addr,
				      struct validate_vma *out);

void validate_params_default(struct validate_params *p);
int validate_create(const struct validate_params *p, struct validate **out, struct avm_err *err);
void validate_destroy(struct validate *v);
void validate_set_vma_lookup(struct validate *v, validate_vma_lookup_fn fn, void *ctx);

/* Every trace event, in stream order, before the eager world applies it. */
int validate_event(struct validate *v, const struct avm_event *ev, struct avm_err *err);
/* After the eager world applied (or ignored) ev: its stats as they are now. */
int validate_world_delta(struct validate *v, const struct avm_event *ev,
			 const struct model_stats *stats, struct avm_err *err);
/*
 * A snapshot was applied (ev is the AVM_EXEC or AVM_SNAPSHOT event): compare
 * the kernel's layout (rows, one mm, address order) with the world's layout
 * of the same mm right after applying it.  Rows of several mms may be passed;
 * they are grouped by mm and each group compared with world VMAs of that mm
 * (world VMAs carry no mm: pass one mm per call, or rows of that mm only).
 */
int validate_snapshot(struct validate *v, const struct avm_event *ev,
		      const struct avm_snap_vma *rows, size_t n,
		      const struct validate_vma *world, size_t wn, struct avm_err *err);
/*
 * An exit snapshot (ev: AVM_SNAPSHOT, reason AVM_SNAP_EXIT, mm ev->mm): the
 * kernel's layout of an mm at the end of its life (rows, address order)
 * against the world's VMAs of that mm at the same point of the stream
 * (world, address order; wm: whether the world really modelled that mm).
 * Nothing is adopted.  Every VMA is classified (struct validate_exit_stats).
 */
enum validate_world_mm {
	VALIDATE_MM_MODELLED = 0, /* the world built it (snapshot, fork, exec) */
	VALIDATE_MM_NONE,         /* the world has no such mm */
	VALIDATE_MM_OPAQUE,       /* only an empty guess made by a later event (mm.h) */
};
int validate_exit_layout(struct validate *v, const struct avm_event *ev,
			 const struct avm_snap_vma *rows, size_t n,
			 const struct validate_vma *world, size_t wn, enum validate_world_mm wm,
			 struct avm_err *err);
/* End of the trace: settle what is still open, turn what cannot be settled into divergences. */
int validate_finish(struct validate *v, struct avm_err *err);

/* Results. */
struct validate_totals {
	uint64_t kernel_allocs, model_allocs, kernel_frees, model_frees;
	uint64_t explained_allocs;  /* kernel allocations explained (thread races) */
	uint64_t explained_frees;   /* kernel frees explained (races, other contexts, untracked mms) */
	double error;               /* |(kernel - explained) - model| / (kernel - explained) */
	double raw_error;           /* |kernel - model| / kernel */
};
void validate_totals(const struct validate *v, enum validate_obj o, struct validate_totals *out);
size_t validate_divergence_count(const struct validate *v);

/*
 * Exit layouts.  A VMA is in one class: anon (no file, not special) or file
 * (file-backed, shmem and SysV shm included) when compared; or unmodelled:
 * special mappings (VM_IO, VM_PFNMAP, VM_MIXEDMAP, VM_DONTEXPAND: [vdso],
 * [vvar], device maps; the world only copies them), every VMA of an mm the
 * trace does not fully know (never created or snapshotted in it), of an mm
 * the world lost (tore down, then re-created empty from later events), and a
 * shared map of a file opened read-only whose only difference is the
 * VM_SHARED | VM_MAYWRITE the kernel clears (the trace has no open mode).  A compared
 * VMA matches, or mismatches on the first differing field, in this order:
 */
enum validate_field {
	VALIDATE_F_START = 0,  /* the kernel's VMA starts where no model VMA does */
	VALIDATE_F_END,
	VALIDATE_F_PGOFF,
	VALIDATE_F_FLAGS,      /* vm_flags except VM_SOFTDIRTY */
	VALIDATE_F_ANON_VMA,   /* one side has an anon_vma, the other not */
	VALIDATE_F_CHAIN_LEN,  /* AVCs on the chain (when both have an anon_vma) */
	VALIDATE_F_MODEL_ONLY, /* a model VMA starts where no kernel VMA does */
	VALIDATE_F_NR,
};
enum validate_class { VALIDATE_CLASS_ANON = 0, VALIDATE_CLASS_FILE = 1, VALIDATE_CLASS_NR = 2 };

struct validate_exit_stats {
	uint64_t snapshots;           /* exit snapshots met */
	uint64_t snapshots_unknown;   /* ... of an mm the trace does not fully know */
	uint64_t snapshots_opaque;    /* ... of an mm the world holds only as an opaque guess */
	uint64_t snapshots_equal;     /* ... whose compared VMAs all matched */
	uint64_t compared[VALIDATE_CLASS_NR], matched[VALIDATE_CLASS_NR];
	uint64_t mismatched[VALIDATE_CLASS_NR];
	uint64_t by_field[VALIDATE_CLASS_NR][VALIDATE_F_NR]; /* mismatches by first field */
	uint64_t unmodelled_special, unmodelled_unknown_mm, unmodelled_opaque_mm;
	uint64_t unmodelled_file_mode; /* read-only shared file maps: flags only (see validate.c) */
};
void validate_exit_stats(const struct validate *v, struct validate_exit_stats *out);
const char *validate_field_name(enum validate_field f);
/* Sequence number of the first divergence (0: none). */
uint64_t validate_first_divergence_seq(const struct validate *v);
/*
 * Every allocation error within the tolerance, and the exit layouts' anon
 * mismatch rate (mismatched / compared anon VMAs) too?  (Start and exec
 * layouts, file-backed exit layouts and frees are reported, not judged.)
 */
bool validate_passed(const struct validate *v);
/* The report's "validation" object; NULL on allocation failure. */
struct cJSON *validate_to_json(const struct validate *v);

const char *validate_op_name(enum validate_op op);

#endif
