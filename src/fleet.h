/*
 * fleet.h - merging reports into a fleet report, one report at a time.
 *
 * Owns: the fleet report's mergeable form (docs/report.md "fleet report"):
 * every fleet figure is a sum, a count, a min/max or a histogram, so a
 * fleet report can itself be merged (sites merge their hosts, the fleet
 * merges the sites) and a merge of merges equals the merge of all hosts
 * (up to the rounding of a floating sum); the trace ids already merged
 * (a second report of one trace is skipped with a warning, a fleet that
 * holds a trace already merged is refused); the per-host lines of --jsonl.
 *
 * Memory: the accumulator holds the summed model blocks, the savings
 * histogram, the top processes, at most FLEET_HOST_LIST_MAX host entries
 * and one key per merged trace id (~60 B each) - flat in the number of
 * reports apart from those ids.  The caller loads, adds and frees one
 * report at a time.
 *
 * Depends on report.h (savings, verdict, model block merge), redact.h.
 */
#ifndef ANONVMA_FLEET_H
#define ANONVMA_FLEET_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "redact.h"

/* host_list keeps the first this many hosts (host_list_omitted counts the rest). */
#define FLEET_HOST_LIST_MAX 1000
/* top_processes keeps the largest this many savings over every host. */
#define FLEET_TOP 10
/* savings_distribution histogram: bins of 0.1 percentage point over [-100 %, 100 %]. */
#define FLEET_BIN_PERCENT 0.1
#define FLEET_BINS 2000

struct fleet_opts {
	FILE *warn;             /* warnings (duplicate trace ids), one line each; NULL: none */
	FILE *jsonl;            /* one flat JSON line per host as it is merged; NULL: none */
	struct redact *redact;  /* applied to jsonl lines (the caller redacts the result); may be NULL */
};

struct fleet;

int fleet_new(const struct fleet_opts *o, struct fleet **out, struct avm_err *err);
void fleet_free(struct fleet *f); /* safe on NULL */

/*
 * Merge one report (schema anonvma-report/2 or /3) or fleet report
 * (anonvma-fleet/3); name names it in messages and, when the report has
 * no trace.hostname, in the host list.  Returns 0 when merged, 1 when
 * skipped (a report of a trace already merged: one warning line), -1 on
 * error (err: one line naming the input).  The report is only read.
 */
int fleet_add(struct fleet *f, const cJSON *report, const char *name, struct avm_err *err);

/* Reports merged so far (hosts) and reports skipped as duplicates. */
size_t fleet_hosts(const struct fleet *f);
size_t fleet_duplicates(const struct fleet *f);

/* The fleet report (schema anonvma-fleet/3); the fleet can be freed afterwards. */
int fleet_finish(struct fleet *f, cJSON **out, struct avm_err *err);

/* Convenience for tests and small merges: fleet_new + fleet_add each + fleet_finish. */
int fleet_merge(const cJSON *const *reports, const char *const *names, size_t n, cJSON **out,
		struct avm_err *err);

#endif
