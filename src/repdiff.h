/*
 * repdiff.h - key-by-key deltas between two reports (anonvma-report --diff),
 * as perf diff compares two profiles.
 *
 * Both reports are flattened to dotted keys ("models.lazy.anon_vma.allocs");
 * numbers give a delta and a percent, other scalars a before/after; keys
 * present in one report only are listed as such.  Histogram buckets and the
 * time series are compared by their summary keys only (count, p50, ...).
 * The diff names both traces by id and says when they differ: then the
 * deltas mix a workload difference with a config difference.
 */
#ifndef ANONVMA_REPDIFF_H
#define ANONVMA_REPDIFF_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "error.h"

#define REPDIFF_SCHEMA "anonvma-diff/1"

/* The diff of a and b (any two reports or fleet reports) as JSON. */
int repdiff_build(const cJSON *a, const cJSON *b, const char *aname, const char *bname,
		  cJSON **out, struct avm_err *err);
/* Its text form: a header, then one line per changed key. */
int repdiff_print(const cJSON *diff, FILE *out, struct avm_err *err);

#endif
