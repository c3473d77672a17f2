/*
 * skip.c - counting skipped trace events by reason (skip.h).
 */
#include "skip.h"

static const char *const skip_names[SKIP_NR] = {
	[SKIP_UNKNOWN_MM] = "unknown_mm",
	[SKIP_RANGE] = "range",
};

void skip_count(struct skip_counts *c, enum skip_reason why)
{
	if (why >= SKIP_NR)
		return;
	c->n[why]++;
	c->total++;
}

const char *skip_reason_name(enum skip_reason why)
{
	return why < SKIP_NR ? skip_names[why] : "unknown";
}

void skip_merge_max(struct skip_counts *into, const struct skip_counts *from)
{
	into->total = 0;
	for (int i = 0; i < SKIP_NR; i++) {
		if (from->n[i] > into->n[i])
			into->n[i] = from->n[i];
		into->total += into->n[i];
	}
}
