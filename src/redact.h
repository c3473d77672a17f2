/*
 * redact.h - replace hostnames and paths in a report before it leaves the
 * company (anonvma-report --redact).
 *
 * Rules (docs/report.md "redaction"): a string under a key named
 * "hostname" or "host" becomes host-N; a string under "file" or "report"
 * (trace and report file names, which often carry a hostname) becomes
 * file-N; an absolute path anywhere ("exe", an arch "source", a
 * validation message) keeps its last component and loses its folders
 * (dir-N/name); any other string that contains a hostname already seen
 * gets it replaced by its pseudonym.  N counts distinct values in the
 * order they are met, so one hostname is the same host-N everywhere in
 * one run and a fleet stays readable.  Numbers, trace ids and process
 * names (comm) are kept.
 */
#ifndef ANONVMA_REDACT_H
#define ANONVMA_REDACT_H

#include <cjson/cJSON.h>

#include "error.h"

struct redact;

int redact_new(struct redact **out, struct avm_err *err);
void redact_free(struct redact *r); /* safe on NULL */
/* Redact every string of node in place. */
int redact_json(struct redact *r, cJSON *node, struct avm_err *err);

#endif
