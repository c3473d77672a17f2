/*
 * report.h - the JSON report (cJSON), its text summary, and the fleet merge.
 *
 * Owns: the report's keys and their meaning (docs/report.md lists every key),
 * turning a replay's results (trace facts + one model_stats per model) into
 * that JSON, writing it so that a failed run never leaves a file that looks
 * complete, loading and checking a report written earlier, the human summary
 * of one report, and merging several reports (one per host) into a fleet view.
 *
 * Other modules that add sections later (validation, arch, locks) build
 * their own cJSON object and attach it with report_add_section(); report.c
 * never reaches into their structs, they never edit its keys.
 *
 * Schemas: a report says "schema": "anonvma-report/1"; a merged fleet report
 * says "schema": "anonvma-fleet/1".  Counts are JSON numbers (exact up to
 * 2^53).
 */
#ifndef ANONVMA_REPORT_H
#define ANONVMA_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "model.h"

#define REPORT_SCHEMA "anonvma-report/1"
#define REPORT_FLEET_SCHEMA "anonvma-fleet/1"

/* One meta row of the trace (trace.host in the report). */
struct report_meta {
	const char *key, *value;
};

/* One replayed model. */
struct report_model {
	const char *name;               /* "eager", "lazy" */
	const struct model_stats *stats;
	bool lazy_figures;              /* emit upgrades, folio_rewrites, pinned_vmas_peak */
};

struct report_input {
	const char *trace_path;
	const struct report_meta *meta; /* every meta row; schema_version, events,
					   lost_events and complete are reported apart */
	size_t nmeta;
	uint64_t events;                /* events replayed */
	uint64_t lost_events;
	bool complete;                  /* the trace's meta complete = 1 */
	const struct report_model *models;
	size_t nmodels;
};

/* JSON names of the object kinds and of the operations (model_why; NULL if unnamed), for every writer of reports. */
const char *report_obj_name(enum model_obj o);
const char *report_why_name(enum model_why w);

/* Build the report.  Savings are added when models "eager" and "lazy" both ran. */
int report_build(const struct report_input *in, cJSON **out, struct avm_err *err);

/*
 * savings of `model` against `baseline` (eager - lazy), from two model
 * stats blocks as they appear in a report (models.<name>); NULL on a
 * missing key (err filled).  Used by report_build and the fleet merge.
 */
cJSON *report_savings(const cJSON *baseline, const cJSON *model, const char *baseline_name,
		      const char *model_name, struct avm_err *err);

/* Attach a section built by another module under `key` (takes ownership, also on error). */
int report_add_section(cJSON *report, const char *key, cJSON *section, struct avm_err *err);

/* Write JSON to path through a temporary file in the same folder and a rename. */
int report_write(const cJSON *report, const char *path, struct avm_err *err);

/* Load and check a report or a fleet report (schema and the keys the summary reads). */
int report_load(const char *path, cJSON **out, struct avm_err *err);

/* The text summary of one report (or of a fleet report). */
int report_summary(const cJSON *report, FILE *out, struct avm_err *err);

/*
 * Merge reports of several hosts: per model, counts summed (peaks are the sum
 * of the per-host peaks), savings recomputed from the sums, and the
 * distribution of the per-host total saving at the peak.  names[i] names
 * reports[i] in messages and in the host list.  Every report must have the
 * same set of models.
 */
int report_merge(const cJSON *const *reports, const char *const *names, size_t n, cJSON **out,
		 struct avm_err *err);

#endif
