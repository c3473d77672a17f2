/*
 * translate.h - replay a trace recorded with one page size and address-space
 * size as if the host had another (an arch with larger pages, or fewer VA
 * bits): the events between the trace reader and the worlds are rewritten.
 *
 * Owns: the per-mm relocation map (source range -> target range and delta),
 * the placement rule for every new mapping, the fault de-duplication, and the
 * counts of what was translated (the report's `arch.translated_from`).
 * Depends on: event.h, error.h, u64map.h, cJSON.  Knows nothing of the
 * simulator or the models: it only rewrites events and snapshot rows.
 *
 * The rules (docs/arch.md "Translated arches"):
 * - a mapping [s, e) becomes [round_down(s + d), round_up(e + d)) in target
 *   pages, d its delta (a multiple of the target page; the region's VA
 *   relocation plus the loader shifts below);
 * - a new mapping that would share a target page with a neighbour it cannot
 *   merge with moves up to the neighbour's next target page (the later one
 *   moves, as a loader laying out segments of a larger p_align would), or
 *   down when the neighbour is above it (top-down placement); a mapping that
 *   fits neither way is clipped at its neighbour, and one left empty is
 *   dropped with every later event on it;
 * - a mapping the kernel placed (no MAP_FIXED) and that is file-backed gets
 *   slack below it for the segments a loader maps into it afterwards;
 * - later events (mprotect, munmap, madvise, mremap, faults...) follow the
 *   relocation map; a range that spans mappings with different deltas becomes
 *   one event per mapping;
 * - faults go to the containing target page; a fault on a target page that
 *   already took the same kind of fault since the mm last changed is dropped
 *   (the target kernel would not have faulted);
 * - with fewer VA bits, three regions keep their distances: low addresses
 *   (non-PIE binaries) unchanged, the PIE/heap region anchored at 2/3 of the
 *   space (ELF_ET_DYN_BASE), the mmap/stack region anchored at the top; a
 *   mapping that does not fit its region in the target fails with one line
 *   naming the region.
 */
#ifndef ANONVMA_TRANSLATE_H
#define ANONVMA_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "event.h"

struct xlate_params {
	uint64_t src_page, dst_page;   /* bytes, powers of two, dst >= src */
	unsigned src_va_bits, dst_va_bits;
	uint64_t src_top, dst_top;     /* top of user space (TASK_SIZE) */
	const char *dst_name;          /* the target arch, for messages */
};

struct xlate_stats {
	uint64_t events_in, events_out;
	uint64_t faults_dup;        /* faults dropped: the target page already took it */
	uint64_t faults_outside;    /* faults dropped: outside every translated mapping */
	uint64_t vmas_placed;       /* mappings translated (snapshot rows, mmap, mremap, brk) */
	uint64_t vmas_moved;        /* moved off a target page a neighbour holds */
	uint64_t vmas_clipped;      /* shortened: no room either way */
	uint64_t vmas_dropped;      /* nothing left: the mapping and its events are gone */
	uint64_t vmas_va_relocated; /* placed with a region (VA) relocation */
	uint64_t ranges_split;      /* extra events from ranges spanning several deltas */
};

/* The top of user space: arm64 2^va_bits; x86_64 2^47 or 2^56 (va_bits 47/48, 56/57). */
uint64_t xlate_user_top(const char *isa, unsigned va_bits);

/* Is a translation needed from (src page, src top) to (dst page, dst top)? */
bool xlate_needed(uint64_t src_page, uint64_t src_top, uint64_t dst_page, uint64_t dst_top);

struct xlate;

/* Fails on dst_page < src_page (only translating to larger pages is modelled). */
int xlate_create(const struct xlate_params *p, struct xlate **out, struct avm_err *err);
void xlate_destroy(struct xlate *x); /* safe on NULL */

/*
 * Translate one event.  On success *out points at *n events (0 when the event
 * is dropped, more than one when a range was split) owned by x, valid until
 * the next call.  Fails (one line naming the region) when a mapping cannot be
 * placed in the target's address space.
 */
int xlate_event(struct xlate *x, const struct avm_event *in, const struct avm_event **out,
		size_t *n, struct avm_err *err);

/*
 * Translate the VMA rows of a snapshot in place (rows in (mm, start) order):
 * each row is placed in its mm's relocation map (a start snapshot adopts,
 * an exec snapshot starts the new mm).  A row left empty gets start == end.
 */
int xlate_snap_vmas(struct xlate *x, struct avm_snap_vma *rows, size_t n, struct avm_err *err);

const struct xlate_stats *xlate_stats(const struct xlate *x);

/* The report's `arch.translated_from`: source page size, VA bits and the counts. */
cJSON *xlate_json(const struct xlate *x, struct avm_err *err);

#endif
