/*
 * report_main.c - anonvma-report: read reports written by anonvma-replay.
 *
 *   anonvma-report report.json             text summary of one host
 *   anonvma-report a.json b.json ...       fleet view: totals over hosts and
 *                                          the distribution of savings
 *   anonvma-report --merge -o fleet.json a.json b.json ...
 *
 * Every input is loaded and checked before anything is printed, so a bad or
 * mismatched file is named in one line and no partial output is produced.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outfile.h"
#include "report.h"
#include "version.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: anonvma-report [options] report.json...\n"
		"\n"
		"Summarise reports written by anonvma-replay.  One report: its text summary.\n"
		"Several reports (one per host): a fleet view with totals over the hosts and the\n"
		"distribution of the lazy model's saving across them.\n"
		"\n"
		"options:\n"
		"  --merge        merge even a single report into a fleet view\n"
		"  -o FILE        also write the fleet view as JSON (schema anonvma-fleet/1)\n"
		"  --json         print JSON (the report, or the fleet view) instead of text\n"
		"  -h, --help     this help\n"
		"  --version      the version\n"
		"\n"
		"examples:\n"
		"  anonvma-report build.json                       # text summary of one report\n"
		"  anonvma-report hostA.json hostB.json hostC.json # fleet: totals, spread of savings\n"
		"  anonvma-report --merge -o fleet.json host*.json # the fleet view as JSON\n"
		"  anonvma-report --json build.json | jq .verdict  # one key of a report\n"
		"\n"
		"man anonvma-report; every key: docs/report.md\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "merge", no_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct avm_err err = { "" };
	cJSON **reports = NULL, *shown = NULL, *fleet = NULL;
	const char *out_path = NULL;
	bool merge = false, json = false;
	int c, n = 0, ret = 1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'm': merge = true; break;
		case 'j': json = true; break;
		case 'o': out_path = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': avm_version_print(stdout, "anonvma-report"); return 0;
		case ':':
			fprintf(stderr, "anonvma-report: option %s needs a value (see --help)\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "anonvma-report: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	n = argc - optind;
	if (n < 1) {
		fprintf(stderr, "anonvma-report: no report given (see --help)\n");
		return 2;
	}
	if (n > 1)
		merge = true;
	if (out_path && !merge) {
		fprintf(stderr, "anonvma-report: -o writes a fleet view: give several reports or --merge\n");
		return 2;
	}
	reports = calloc((size_t)n, sizeof(*reports));
	if (!reports) {
		fprintf(stderr, "anonvma-report: out of memory\n");
		return 1;
	}
	for (int i = 0; i < n; i++)
		if (report_load(argv[optind + i], &reports[i], &err))
			goto out;
	shown = reports[0];
	if (merge) {
		if (report_merge((const cJSON *const *)reports, (const char *const *)&argv[optind],
				 (size_t)n, &fleet, &err))
			goto out;
		shown = fleet;
		if (out_path && report_write(fleet, out_path, &err))
			goto out;
	}
	if (json) {
		char *text = cJSON_Print(shown);

		if (!text) {
			snprintf(err.msg, sizeof(err.msg), "out of memory");
			goto out;
		}
		outfile_escape(stdout, text, OUTFILE_ESC_JSON);
		putchar('\n');
		cJSON_free(text);
	} else if (report_summary(shown, stdout, &err)) {
		goto out;
	}
	if (fflush(stdout)) {
		snprintf(err.msg, sizeof(err.msg), "cannot write to stdout");
		goto out;
	}
	ret = 0;
out:
	if (ret) {
		fprintf(stderr, "anonvma-report: ");
		outfile_escape(stderr, err.msg, OUTFILE_ESC_LINE);
		fputc('\n', stderr);
	}
	for (int i = 0; i < n; i++)
		cJSON_Delete(reports[i]);
	free(reports);
	cJSON_Delete(fleet);
	return ret;
}
