/*
 * cfgecho.h - the report's `config` section: every key of the effective
 * replay config with its value and where the value came from, and every
 * cost constant of the arch model with the file it came from, so a report
 * says exactly which reading of the kernel and which thresholds made it
 * (docs/report.md "config").
 *
 * Sources, latest wins: "default" (config_defaults), "config file" (-c,
 * with its line), "--set", "--sweep" (the key varies per sweep entry; the
 * value shown is the base one), "trace" (a key whose default is "take it
 * from the trace's meta": THP mode, object sizes, arch).  Costs: "arch file"
 * (the arch YAML named by arch.source), or "fitted" when --calibrate
 * replaced a constant.
 *
 * Depends on config.h (the key list, the struct) only; the caller attaches
 * the section with report_add_section().
 */
#ifndef ANONVMA_CFGECHO_H
#define ANONVMA_CFGECHO_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "error.h"

/* The effective value of key as config text ("upgrade", "20", "from trace"); -1: no such key. */
int cfgecho_value(const struct config *c, const char *key, char *buf, size_t len);

struct cfgecho_input {
	const struct config *cfg;      /* the effective config */
	const char *config_path;       /* -c FILE, or NULL */
	const char *const *set_keys;   /* --set keys, in order */
	size_t nsets;
	const char *const *sweep_keys; /* --sweep keys */
	size_t nsweeps;
	const cJSON *arch;             /* the report's `arch` section (NULL: none) */
};

/* The section: { "file", "keys": {key: {value, from[, line]}}, "costs": {...} }. */
cJSON *cfgecho_json(const struct cfgecho_input *in, struct avm_err *err);

#endif
