/*
 * collect_procmaps.h - VMA snapshots from /proc/PID/maps (collector only).
 *
 * Owns: the reduced-fidelity snapshot path for kernels without the BPF
 * task_vma iterator or kfuncs (or with --proc-maps).  /proc/PID/maps gives
 * start, end, offset, permissions and the file (device, inode), but no
 * anon_vma state and no kernel addresses, so the rows carry:
 *   flags     VM_READ/VM_WRITE/VM_EXEC/VM_SHARED from the permissions, and
 *             VM_GROWSDOWN for [stack];
 *   file      a pseudo address made from (device, inode), never a kernel
 *             address (COLLECT_PROCMAPS_FILE_TAG in the top bits), which the
 *             caller maps to a file id like any struct file;
 *   anon_vma  0, chain_len 0 (unknown).
 */
#ifndef ANONVMA_COLLECT_PROCMAPS_H
#define ANONVMA_COLLECT_PROCMAPS_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "event.h"

/* Pseudo addresses: never a kernel address (those start with 0xffff). */
#define COLLECT_PROCMAPS_FILE_TAG (2ULL << 60)
#define COLLECT_PROCMAPS_MM_TAG (1ULL << 60) /* | tgid: an mm known only by its process */

typedef int (*collect_procmaps_cb)(void *ctx, const struct avm_snap_vma *v, struct avm_err *err);

/*
 * Call cb for every VMA of process pid, with v->snap = snap and v->mm = mm.
 * Returns the number of VMAs (0 if the process is gone) or -1 with err.
 */
int collect_procmaps_read(pid_t pid, uint64_t snap, uint64_t mm, unsigned page_shift,
			  collect_procmaps_cb cb, void *ctx, struct avm_err *err);

#endif
