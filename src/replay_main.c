/*
 * replay_main.c - anonvma-replay: replay a trace through the models and
 * write the JSON report.  The work is in replay.c; this file is options,
 * signals, progress and the exit status.
 *
 * Exit status: 0 done; 1 error (one line on stderr, no report written);
 * 2 usage; 3 --validate found an error above the tolerance (report written);
 * 130 interrupted (no report written).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "replay.h"
#include "report.h"

static volatile sig_atomic_t replay_stop;

static void on_signal(int sig)
{
	(void)sig;
	replay_stop = 1;
}

static void usage(FILE *out)
{
	const char *models[REPLAY_MAX_MODELS];
	size_t n = replay_default_models(models, REPLAY_MAX_MODELS);

	fprintf(out,
		"usage: anonvma-replay [options] trace.db\n"
		"\n"
		"Replay a trace (from anonvma-collect or anonvma-synth) through models of the\n"
		"kernel's anonymous reverse mapping, print a summary and write a JSON report\n"
		"(keys documented in docs/report.md).\n"
		"\n"
		"options:\n"
		"  -o, --output FILE      write the report to FILE (default report.json)\n"
		"  -c, --config FILE      replay configuration (YAML, see docs/config.md)\n"
		"  -m, --model LIST       models to replay, comma-separated (default ");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s", i ? "," : "", models[i]);
	fprintf(out,
		")\n"
		"      --arch NAME        page-table and cost model: a name from configs/arch\n"
		"                         (x86_64-4level, arm64-4k-48bit, ...) or a YAML path\n"
		"                         (default: the config's arch, else the trace's host)\n"
		"      --calibrate FILE   fit the arch's lock and fork costs to the mmap_lock\n"
		"                         holds the trace measured; write them as an arch YAML\n"
		"                         (load it with --arch FILE)\n"
		"      --validate         compare the eager model with the kernel's own\n"
		"                         allocations and exit-time VMA layouts recorded in\n"
		"                         the trace; exit 3 if an error is above the tolerance\n"
		"      --tolerance X      relative allocation error, and share of anonymous\n"
		"                         VMAs whose exit layout differs, allowed (default 0.01)\n"
		"      --check-invariants run the models' invariant checkers after every event\n"
		"  -q, --quiet            no summary, no progress\n"
		"  -h, --help             this help\n");
}

struct progress {
	int tty;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total, double seconds)
{
	struct progress *p = ctx;
	double pct = total ? 100.0 * (double)done / (double)total : 0;

	fprintf(stderr, "%sanonvma-replay: %llu / %llu events (%.0f %%), %.0f k events/s%s",
		p->tty ? "\r" : "", (unsigned long long)done, (unsigned long long)total, pct,
		(double)done / seconds / 1000, p->tty ? "\033[K" : "\n");
	fflush(stderr);
}

int main(int argc, char **argv)
{
	enum { OPT_VALIDATE = 256, OPT_TOLERANCE, OPT_CHECK, OPT_ARCH, OPT_CALIBRATE };
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "model", required_argument, NULL, 'm' },
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "calibrate", required_argument, NULL, OPT_CALIBRATE },
		{ "validate", no_argument, NULL, OPT_VALIDATE },
		{ "tolerance", required_argument, NULL, OPT_TOLERANCE },
		{ "check-invariants", no_argument, NULL, OPT_CHECK },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct avm_err err = { "" };
	struct replay_opts ro;
	struct replay_result res = { 0 };
	struct progress prog = { .tty = isatty(STDERR_FILENO) };
	struct config cfg;
	struct sigaction sa;
	const char *out_path = "report.json", *cfg_path = NULL;
	char *end;
	bool quiet = false;
	int c, ret = 1;

	replay_opts_default(&ro);
	config_defaults(&cfg);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:c:m:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out_path = optarg; break;
		case 'c': cfg_path = optarg; break;
		case 'm':
			if (replay_parse_models(&ro, optarg, &err)) {
				fprintf(stderr, "anonvma-replay: --model: %s\n", err.msg);
				return 2;
			}
			break;
		case OPT_ARCH: ro.arch = optarg; break;
		case OPT_CALIBRATE: ro.calibrate_path = optarg; break;
		case OPT_VALIDATE: ro.validate = true; break;
		case OPT_TOLERANCE:
			errno = 0;
			ro.vparams.tolerance = strtod(optarg, &end);
			if (errno || end == optarg || *end || ro.vparams.tolerance < 0) {
				fprintf(stderr, "anonvma-replay: --tolerance '%s' is not a number >= 0\n",
					optarg);
				return 2;
			}
			break;
		case OPT_CHECK: ro.check_invariants = true; break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		case ':':
			fprintf(stderr, "anonvma-replay: option %s needs a value (see --help)\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "anonvma-replay: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "anonvma-replay: %s (see --help)\n",
			argc == optind ? "no trace given" : "one trace at a time");
		return 2;
	}
	ro.trace_path = argv[optind];
	if (cfg_path && config_load(&cfg, cfg_path, &err))
		goto out;
	ro.cfg = &cfg;
	ro.stop = &replay_stop;
	if (!quiet) {
		ro.progress = on_progress;
		ro.progress_ctx = &prog;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (replay_run(&ro, &res, &err)) {
		if (prog.tty && !quiet)
			fputc('\n', stderr);
		if (replay_stop)
			ret = 130;
		goto out;
	}
	if (prog.tty && !quiet && res.seconds >= 1.0)
		fprintf(stderr, "\r\033[K");
	if (report_write(res.report, out_path, &err))
		goto out;
	if (res.note[0])
		fprintf(stderr, "anonvma-replay: note: %s\n", res.note);
	if (res.warning[0])
		fprintf(stderr, "anonvma-replay: warning: %s: %s\n", ro.trace_path, res.warning);
	if (!quiet) {
		if (report_summary(res.report, stdout, &err))
			goto out;
		printf("replayed %llu events in %.2f s; report: %s\n",
		       (unsigned long long)res.events, res.seconds, out_path);
		if (res.validated)
			printf("validation: %s (see \"validation\" in the report)\n",
			       res.validation_passed ? "within tolerance" : "ERROR ABOVE TOLERANCE");
		if (ro.calibrate_path)
			printf("calibration: %llu mmap_lock holds fitted; costs written to %s\n",
			       (unsigned long long)res.calibration_holds, ro.calibrate_path);
	}
	ret = res.validated && !res.validation_passed ? 3 : 0;
out:
	if (ret == 1 || ret == 130)
		fprintf(stderr, "anonvma-replay: %s\n", err.msg);
	cJSON_Delete(res.report);
	return ret;
}
