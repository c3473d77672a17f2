/*
 * fuzz_report.c - libFuzzer harness for anonvma-report's reader: report_load
 * (JSON parse and the schema checks), then what the tool does with a report
 * it accepted: the text summary, a fleet merge of the report (and of that
 * fleet again) with their summaries, a diff of the report with itself, its
 * HTML page, a redacted copy, and a verdict under the default thresholds.  Whatever
 * the loader accepts, the readers after it must handle without crashing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "fleet.h"
#include "html.h"
#include "redact.h"
#include "repdiff.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct avm_err err = { "" };
	struct report_thresholds th;
	struct config cfg;
	cJSON *r = NULL, *fleet = NULL, *again = NULL, *diff = NULL, *copy;
	const cJSON *one[1];
	const char *names[1] = { "a.json" };
	struct redact *rd = NULL;

	if (!null)
		null = fopen("/dev/null", "w");
	if (!null)
		abort();
	if (report_load(fuzz_input_path(data, size), &r, &err)) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	report_summary(r, null, &err);
	one[0] = r;
	if (fleet_merge(one, names, 1, &fleet, &err) == 0) {
		report_summary(fleet, null, &err);
		one[0] = fleet;
		if (fleet_merge(one, names, 1, &again, &err) == 0)
			report_summary(again, null, &err);
		cJSON_Delete(again);
		cJSON_Delete(fleet);
	}
	if (repdiff_build(r, r, "a.json", "b.json", &diff, &err) == 0)
		repdiff_print(diff, null, &err);
	cJSON_Delete(diff);
	html_write(r, "/dev/null", &err);
	copy = cJSON_Duplicate(r, 1);
	if (copy && redact_new(&rd, &err) == 0)
		redact_json(rd, copy, &err);
	redact_free(rd);
	cJSON_Delete(copy);
	config_defaults(&cfg);
	report_thresholds_from_config(&cfg, &th);
	report_verdict(r, &th, &err);
	cJSON_Delete(r);
	return 0;
}
