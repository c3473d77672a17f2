/*
 * skip.h - trace events the replay could not use, counted by reason.
 *
 * The reader (trace.h) refuses a trace whose structure is broken.  An event
 * that is well-formed but that the simulator cannot apply - on an address
 * space the trace never introduced, over a range no address space can hold -
 * is skipped instead and counted here, so the report can say how much of the
 * trace was not modelled (report `trace.skipped`; docs/trace-checks.md lists
 * which defect goes which way).  Each simulator counts into its own
 * skip_counts (worlds run in parallel threads); the replay reports the
 * largest count of each reason over its worlds, and `total`.
 *
 * A new reason is one enum entry before SKIP_NR plus its name in skip.c.
 */
#ifndef ANONVMA_SKIP_H
#define ANONVMA_SKIP_H

#include <stdint.h>

enum skip_reason {
	SKIP_UNKNOWN_MM, /* an address space no fork, exec or snapshot of the trace made */
	SKIP_RANGE,      /* an address range beyond any address space (wraps, or past 2^57) */
	SKIP_NR
};

struct skip_counts {
	uint64_t n[SKIP_NR];
	uint64_t total; /* sum of n[] */
};

/* Count one skipped event. */
void skip_count(struct skip_counts *c, enum skip_reason why);
/* The report's JSON key of a reason ("unknown_mm", "range"). */
const char *skip_reason_name(enum skip_reason why);
/* into = per reason the larger of into and from; total recomputed. */
void skip_merge_max(struct skip_counts *into, const struct skip_counts *from);

#endif
