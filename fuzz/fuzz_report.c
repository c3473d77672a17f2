/*
 * fuzz_report.c - libFuzzer harness for anonvma-report's reader: report_load
 * (JSON parse and the schema checks), then what the tool does with a report
 * it accepted: the text summary, a fleet merge of the report with itself and
 * the fleet's summary, and a verdict under the default thresholds.  Whatever
 * the loader accepts, the readers after it must handle without crashing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct avm_err err = { "" };
	struct report_thresholds th;
	struct config cfg;
	cJSON *r = NULL, *fleet = NULL;
	const cJSON *two[2];
	const char *names[2] = { "a.json", "b.json" };

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
	two[0] = r;
	two[1] = r;
	if (report_merge(two, names, 2, &fleet, &err) == 0) {
		report_summary(fleet, null, &err);
		cJSON_Delete(fleet);
	}
	config_defaults(&cfg);
	report_thresholds_from_config(&cfg, &th);
	report_verdict(r, &th, &err);
	cJSON_Delete(r);
	return 0;
}
