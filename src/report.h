/*
 * report.h - the JSON report (cJSON), its text summary, and the fleet merge.
 *
 * Owns: the report's keys and their meaning (docs/report.md lists every key),
 * turning a replay's results (trace facts + one model_stats per model) into
 * that JSON, writing it so that a failed run never leaves a file that looks
 * complete, loading and checking a report written earlier, the savings in
 * context and the verdict (from the config's thresholds), the human summary
 * of one report, and merging several reports (one per host) into a fleet view.
 *
 * Other modules that add sections later (validation, arch, locks) build
 * their own cJSON object and attach it with report_add_section(); report.c
 * never reaches into their structs, they never edit its keys.
 *
 * Schemas: a report says "schema": "anonvma-report/3"; a merged fleet report
 * says "schema": "anonvma-fleet/3" (fleet.h merges them).  /2 reports load,
 * print and merge; /1 reports and /1, /2 fleets load and print (with one line
 * on what they cannot show) but do not merge.  Counts are JSON numbers (exact up to
 * 2^53).
 */
#ifndef ANONVMA_REPORT_H
#define ANONVMA_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "error.h"
#include "model.h"
#include "verdict.h"

#define REPORT_SCHEMA "anonvma-report/3"
#define REPORT_FLEET_SCHEMA "anonvma-fleet/3"
/* Read and merged (a /2 report has no config or trace id); a /2 fleet is shown but not merged. */
#define REPORT_SCHEMA_V2 "anonvma-report/2"
#define REPORT_FLEET_SCHEMA_V2 "anonvma-fleet/2"
/* Read for the summary only: a /1 report has the old verdict (report_summary says what is missing). */
#define REPORT_SCHEMA_V1 "anonvma-report/1"
#define REPORT_FLEET_SCHEMA_V1 "anonvma-fleet/1"

/* One meta row of the trace (trace.host in the report). */
struct report_meta {
	const char *key, *value;
};

/* One replayed model. */
struct report_model {
	const char *name;               /* "eager", "lazy" */
	const struct model_stats *stats;
	bool lazy_figures;              /* emit upgrades, folio_rewrites, pinned_vmas_peak */
	const struct config *cfg;       /* with lazy_figures: the lazy policies echoed (may be NULL) */
};

struct report_input {
	const char *trace_path;
	const struct report_meta *meta; /* every meta row; schema_version, events,
					   lost_events and complete are reported apart */
	size_t nmeta;
	uint64_t events;                /* events replayed */
	uint64_t lost_events;
	bool complete;                  /* the trace's meta complete = 1 */
	uint64_t duration_ns;           /* last event time - first (trace.duration_ns) */
	uint64_t skipped_events;        /* events the reader skipped as unusable (0: none) */
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
 * stats blocks as they appear in a report (models.<name>): per object kind,
 * the three together, and in context (anon rmap, mm metadata with the
 * blocks' page_tables when both have them, host RAM).  mem_bytes is the
 * host RAM the saving is set against (<= 0: unknown).  NULL on a missing
 * key (err filled).  Used by report_build, report_finish and the fleet merge.
 */
cJSON *report_savings(const cJSON *baseline, const cJSON *model, const char *baseline_name,
		      const char *model_name, double mem_bytes, struct avm_err *err);

/* The verdict thresholds (config `verdict:` section, docs/config.md): the rule's (verdict.h). */
#define report_thresholds verdict_rule

void report_thresholds_from_config(const struct config *cfg, struct report_thresholds *t);

/*
 * Top-level `verdict` of a report or a fleet report (docs/verdict.md): does
 * lazy pay off against eager under thresholds `t` (verdict_judge), judged
 * from `savings.anon_rmap`, `trace` (span, lost, skipped, complete),
 * `models.<m>.locks` and `models.<m>.fork_cost`.  Replaces an earlier
 * verdict; `sensitivity` and `robust` are null until report_set_sensitivity.
 * No verdict (returns 0) without savings (eager and lazy did not both run).
 */
int report_verdict(cJSON *report, const struct report_thresholds *t, struct avm_err *err);
/* The figures report_verdict judges, read from a report (also what sensitivity re-costs). */
int report_verdict_input(const cJSON *report, struct verdict_input *in, struct avm_err *err);
/* verdict.sensitivity = sensitivity (taken, also on error), verdict.robust = robust (-1: null). */
int report_set_sensitivity(cJSON *report, cJSON *sensitivity, int robust, struct avm_err *err);

/*
 * Run once after every section is attached (arch, page_tables, locks,
 * fork_cost, ...): recompute `savings` (mm metadata now includes the page
 * tables) and add the `verdict` under the config's thresholds (cfg NULL:
 * config_defaults()).
 */
int report_finish(cJSON *report, const struct config *cfg, struct avm_err *err);

/* Attach a section built by another module under `key` (takes ownership, also on error). */
int report_add_section(cJSON *report, const char *key, cJSON *section, struct avm_err *err);

/* Write JSON to path through a temporary file in the same folder and a rename. */
int report_write(const cJSON *report, const char *path, struct avm_err *err);

/* Load and check a report or a fleet report (schema and the keys the summary reads). */
int report_load(const char *path, cJSON **out, struct avm_err *err);

/* The text summary of one report (or of a fleet report). */
int report_summary(const cJSON *report, FILE *out, struct avm_err *err);

/*
 * Helpers the fleet merge (fleet.c) shares with the report: the item at a
 * dotted path ("savings.total.peak", NULL where missing), a number at
 * obj.key (0 when missing), host RAM of a report or fleet (-1: unknown),
 * one model block added into a sum (counts added, sections merged by their
 * owners), savings recomputed from `models`, the thresholds by JSON name.
 */
const cJSON *report_path(const cJSON *obj, const char *dotted);
double report_number(const cJSON *obj, const char *key);
double report_mem_bytes(const cJSON *root);
int report_merge_model(cJSON *sum, const cJSON *m, struct avm_err *err);
int report_update_savings(cJSON *report, struct avm_err *err);
#define REPORT_NTHRESHOLDS 10
void report_threshold_fields(struct report_thresholds *t, const char *names[], double *fields[]);

#endif
