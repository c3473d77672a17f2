/*
 * replay_main.c - anonvma-replay: replay a trace through the models and
 * write the JSON report.  The work is in replay.c; this file is options,
 * signals, progress and the exit status.
 *
 * Compressed segments (.zst from anonvma-collect --compress): SQLite reads
 * only plain files, so each is decompressed into a temporary file under
 * $TMPDIR (default /tmp) before the replay and removed on every way out:
 * the normal end, an error, Ctrl-C (the stop flag ends replay_run, then
 * main's cleanup runs) and the watchdog's forced exit (unlink from the
 * handler).  A SIGKILL cannot be caught: such a file is named
 * anonvma-replay-*.db.
 *
 * Exit status: 0 done; 1 error (one line on stderr, no report written);
 * 2 usage; 3 --validate found an error above the tolerance (report written);
 * 130 interrupted (no report written).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/time.h>
#include <unistd.h>

#include "cfgecho.h"
#include "cliopt.h"
#include "config.h"
#include "outfile.h"
#include "replay.h"
#include "report.h"
#include "version.h"
#include "zstdfile.h"

/* Temporary decompressed traces: removed at exit, also from the watchdog. */
#define REPLAY_MAX_INPUTS 4096
static char *replay_tmp[REPLAY_MAX_INPUTS];
static volatile sig_atomic_t replay_ntmp;

static void replay_tmp_remove(void)
{
	for (sig_atomic_t i = 0; i < replay_ntmp; i++)
		if (replay_tmp[i])
			unlink(replay_tmp[i]);
}

static volatile sig_atomic_t replay_stop;
/* Who prints the last line once stopping began: main (1) or the watchdog (2). */
static atomic_int replay_finisher;

/*
 * The watchdog: replay_run notices the stop flag between events, within
 * 0.1 s; a single event that runs long (or a bug) would keep it from
 * returning, so REPLAY_STOP_GRACE_US after the signal the process ends
 * itself with one line and status 130.  No report exists yet at that point
 * (it is written only after replay_run succeeds), so none is left behind.
 */
#define REPLAY_STOP_GRACE_US 500000

static void on_watchdog(int sig)
{
	static const char msg[] = "anonvma-replay: interrupted (a replay step did not stop in "
				  "time); no report written\n";
	int none = 0;

	(void)sig;
	if (!atomic_compare_exchange_strong(&replay_finisher, &none, 2))
		return; /* main is already finishing: it prints and exits */
	replay_tmp_remove(); /* unlink is async-signal-safe */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do: exiting is all that is left */
	}
	_exit(130);
}

static void on_signal(int sig)
{
	struct itimerval grace = { .it_value = { 0, REPLAY_STOP_GRACE_US } };

	(void)sig;
	if (!replay_stop)
		setitimer(ITIMER_REAL, &grace, NULL);
	replay_stop = 1;
}

/* Main takes over the last line; if the watchdog already has, wait for its exit. */
static void finishing(void)
{
	int none = 0;

	if (!atomic_compare_exchange_strong(&replay_finisher, &none, 1))
		for (;;)
			pause();
}

static void usage(FILE *out)
{
	const char *models[REPLAY_MAX_MODELS];
	size_t n = replay_default_models(models, REPLAY_MAX_MODELS);

	fprintf(out,
		"usage: anonvma-replay [options] trace.db [segment.db ...]\n"
		"\n"
		"Replay a trace (from anonvma-collect or anonvma-synth) through models of the\n"
		"kernel's anonymous reverse mapping, print a summary and write a JSON report\n"
		"(keys documented in docs/report.md).\n"
		"\n"
		"Several files are consecutive segments of one collection (anonvma-collect\n"
		"--rotate), given in order and replayed as one trace.  A zstd-compressed\n"
		"file (.zst, --compress) is first decompressed into a temporary file under\n"
		"$TMPDIR (default /tmp), which needs the space of the plain trace and is\n"
		"removed when the replay ends, fails or is interrupted.\n"
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
		"                         holds and fork latencies the trace measured; write\n"
		"                         them as an arch YAML (load it with --arch FILE)\n"
		"      --validate         compare the eager model with the kernel's own\n"
		"                         allocations and exit-time VMA layouts recorded in\n"
		"                         the trace; exit 3 if an error is above the tolerance\n"
		"      --tolerance X      relative allocation error, and share of anonymous\n"
		"                         VMAs whose exit layout differs, allowed: 0 to 1\n"
		"                         (default 0.01)\n"
		"      --check-invariants run the models' invariant checkers after every event\n"
		"      --check-rmap       compare every rmap walk of each design with the\n"
		"                         simulated page tables: models.<m>.rmap_walks.missed\n"
		"                         and .extra (slower: a page scan per walk)\n"
		"      --set KEY=VALUE    override one config key after --config (docs/config.md),\n"
		"                         e.g. --set lazy.mremap=rebase; may be repeated\n"
		"      --sweep KEY=V1,V2  replay every combination of the swept values in one\n"
		"                         read of the trace (at most 16); the report gets\n"
		"                         `sweep`: [{config, savings, verdict}]; may be repeated\n"
		"      --no-sensitivity   keep no section log: the verdict is not re-judged under\n"
		"                         the cost ranges (verdict.sensitivity is null)\n"
		"  -q, --quiet            no summary, no progress\n"
		"  -h, --help             this help\n"
		"      --version          the version, the trace schema it reads, its data\n"
		"\n"
		"examples:\n"
		"  anonvma-replay build.db -o build.json             # summary on stdout, JSON report\n"
		"  anonvma-replay --validate build.db -o build.json  # also check eager against the kernel\n"
		"  anonvma-replay --arch arm64-4k-48bit -c my.yaml android.db -o android-arm64.json\n"
		"  anonvma-replay -m eager build.db -o eager.json   # one model only\n"
		"  anonvma-replay host.0000.db.zst host.0001.db.zst host.0002.db -o host.json\n"
		"                                  # three segments of one --rotate collection\n"
		"\n"
		"Arch models and the default config come from the data directory (--version\n"
		"names it; docs/install.md).  man anonvma-replay, man 5 anonvma-config\n");
}

/*
 * The files to replay: names[0..n) as given; a zstd file is decompressed
 * into a temporary file first (files[i] then names that, the report the
 * original name).  Two or more: the segments of one collection.
 */
static int replay_inputs(struct replay_opts *ro, int n, char **names, const char **files,
			 struct avm_err *err)
{
	const char *dir = getenv("TMPDIR");

	if (!dir || !*dir)
		dir = "/tmp";
	for (int i = 0; i < n; i++) {
		char tmp[PATH_MAX];
		int z = zstdfile_is_zstd(names[i], err), fd;

		files[i] = names[i];
		if (z <= 0)
			continue; /* unreadable: the trace reader says why, in its words */
		if (snprintf(tmp, sizeof(tmp), "%s/anonvma-replay-XXXXXX.db", dir) >= (int)sizeof(tmp))
			return avm_errf(err, "TMPDIR is too long");
		fd = mkostemps(tmp, 3, O_CLOEXEC);
		if (fd < 0)
			return avm_errf(err, "%s: cannot create a temporary file in %s to decompress it "
				       "into: %s", names[i], dir, strerror(errno));
		replay_tmp[replay_ntmp] = strdup(tmp);
		if (!replay_tmp[replay_ntmp]) {
			unlink(tmp);
			close(fd);
			return avm_errf(err, "out of memory");
		}
		replay_ntmp++;
		if (zstdfile_decompress_fd(names[i], fd, &replay_stop, err)) {
			close(fd);
			return -1;
		}
		if (close(fd))
			return avm_errf(err, "%s: cannot write the decompressed trace: %s", tmp,
					strerror(errno));
		files[i] = replay_tmp[replay_ntmp - 1];
	}
	ro->trace_path = files[0];
	ro->trace_name = names[0];
	if (n >= 2) {
		ro->segment_files = files;
		ro->segment_names = (const char *const *)names;
		ro->nsegments = (size_t)n;
	}
	return 0;
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
	enum { OPT_VALIDATE = 256, OPT_TOLERANCE, OPT_CHECK, OPT_ARCH, OPT_CALIBRATE, OPT_SET,
	       OPT_SWEEP, OPT_NO_SENS, OPT_CHECK_RMAP };
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "model", required_argument, NULL, 'm' },
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "calibrate", required_argument, NULL, OPT_CALIBRATE },
		{ "validate", no_argument, NULL, OPT_VALIDATE },
		{ "tolerance", required_argument, NULL, OPT_TOLERANCE },
		{ "check-invariants", no_argument, NULL, OPT_CHECK },
		{ "check-rmap", no_argument, NULL, OPT_CHECK_RMAP },
		{ "set", required_argument, NULL, OPT_SET },
		{ "sweep", required_argument, NULL, OPT_SWEEP },
		{ "no-sensitivity", no_argument, NULL, OPT_NO_SENS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct avm_err err = { "" };
	struct replay_opts ro;
	struct replay_result res = { 0 };
	struct progress prog = { .tty = isatty(STDERR_FILENO) };
	struct config cfg;
	struct sigaction sa;
	static const char *files[REPLAY_MAX_INPUTS];
	const char *out_path = "report.json", *cfg_path = NULL;
	char *sets[64];
	size_t nsets = 0;
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
			if (cliopt_double("--tolerance", optarg, 0, 1, "a share", &ro.vparams.tolerance,
					  &err)) {
				fprintf(stderr, "anonvma-replay: ");
				outfile_escape(stderr, err.msg, OUTFILE_ESC_LINE);
				fputc('\n', stderr);
				return 2;
			}
			break;
		case OPT_CHECK: ro.check_invariants = true; break;
		case OPT_CHECK_RMAP: ro.check_rmap = true; break;
		case OPT_SET:
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				fprintf(stderr, "anonvma-replay: --set '%s' is not KEY=VALUE\n", optarg);
				return 2;
			}
			if (nsets == sizeof(sets) / sizeof(sets[0])) {
				fprintf(stderr, "anonvma-replay: --set given more than %zu times\n",
					sizeof(sets) / sizeof(sets[0]));
				return 2;
			}
			sets[nsets++] = optarg;
			break;
		case OPT_NO_SENS: ro.no_sensitivity = true; break;
		case OPT_SWEEP:
			if (replay_parse_sweep(&ro, optarg, &err)) {
				fprintf(stderr, "anonvma-replay: --sweep: %s\n", err.msg);
				return 2;
			}
			break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': avm_version_print(stdout, "anonvma-replay"); return 0;
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
	if (argc == optind) {
		fprintf(stderr, "anonvma-replay: no trace given (see --help)\n");
		return 2;
	}
	if (argc - optind > REPLAY_MAX_INPUTS) {
		fprintf(stderr, "anonvma-replay: at most %d segments in one replay\n",
			REPLAY_MAX_INPUTS);
		return 2;
	}
	ro.trace_path = argv[optind];
	if (cfg_path && config_load(&cfg, cfg_path, &err))
		goto out;
	for (size_t i = 0; i < nsets; i++) {
		char *eq = strchr(sets[i], '=');

		*eq = '\0';
		if (config_set(&cfg, sets[i], eq + 1, &err)) {
			fprintf(stderr, "anonvma-replay: --set %s=%s: %s\n", sets[i], eq + 1, err.msg);
			return 2;
		}
		*eq = '=';
	}
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
	sa.sa_handler = on_watchdog;
	sigaction(SIGALRM, &sa, NULL);

	if (replay_inputs(&ro, argc - optind, argv + optind, files, &err))
		goto out;
	if (!quiet && ro.nsweep) {
		size_t n = 1;

		for (size_t k = 0; k < ro.nsweep; k++)
			n *= ro.sweep[k].nvalues;
		fprintf(stderr, "anonvma-replay: sweeping %zu combinations in one read of the trace\n",
			n);
	}
	if (replay_run(&ro, &res, &err)) {
		finishing();
		if (prog.tty && !quiet)
			fputc('\n', stderr);
		if (replay_stop)
			ret = 130;
		goto out;
	}
	/* A signal from here on: the replay is complete, its report is written whole. */
	finishing();
	if (prog.tty && !quiet && res.seconds >= 1.0)
		fprintf(stderr, "\r\033[K");
	{
		/* config: every key with its value and source (cfgecho.h) */
		const char *set_keys[sizeof(sets) / sizeof(sets[0])], *sweep_keys[REPLAY_SWEEP_KEYS];
		char key_buf[sizeof(sets) / sizeof(sets[0])][128];
		struct cfgecho_input ci = { .cfg = &cfg, .config_path = cfg_path, .set_keys = set_keys,
					    .nsets = nsets, .sweep_keys = sweep_keys,
					    .nsweeps = ro.nsweep,
					    .arch = cJSON_GetObjectItemCaseSensitive(res.report, "arch") };

		for (size_t i = 0; i < nsets; i++) {
			snprintf(key_buf[i], sizeof(key_buf[i]), "%.*s",
				 (int)(strchr(sets[i], '=') - sets[i]), sets[i]);
			set_keys[i] = key_buf[i];
		}
		for (size_t i = 0; i < ro.nsweep; i++)
			sweep_keys[i] = ro.sweep[i].key;
		if (report_add_section(res.report, "config", cfgecho_json(&ci, &err), &err))
			goto out;
	}
	if (report_write(res.report, out_path, &err))
		goto out;
	if (res.note[0]) {
		fprintf(stderr, "anonvma-replay: note: ");
		outfile_escape(stderr, res.note, OUTFILE_ESC_LINE);
		fputc('\n', stderr);
	}
	if (res.warning[0]) {
		fprintf(stderr, "anonvma-replay: warning: ");
		outfile_escape(stderr, ro.trace_name ? ro.trace_name : ro.trace_path, OUTFILE_ESC_LINE);
		fputs(": ", stderr);
		outfile_escape(stderr, res.warning, OUTFILE_ESC_LINE);
		fputc('\n', stderr);
	}
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
		if (ro.calibrate_path && res.fork_fit_ran) {
			forkfit_print(&res.fork_fit, stdout);
			if (res.fork_forks_switched || res.fork_forks_threads ||
			    res.fork_forks_unmodelled)
				printf("  not in the fit: %llu forks switched out while forking, %llu "
				       "sharing the mm (threads, vfork), %llu of an mm the model does "
				       "not know\n", (unsigned long long)res.fork_forks_switched,
				       (unsigned long long)res.fork_forks_threads,
				       (unsigned long long)res.fork_forks_unmodelled);
		}
	}
	ret = res.validated && !res.validation_passed ? 3 : 0;
out:
	if (replay_stop && ret == 1)
		ret = 130;
	if (ret == 1 || ret == 130) {
		fprintf(stderr, "anonvma-replay: ");
		outfile_escape(stderr, err.msg, OUTFILE_ESC_LINE);
		fputc('\n', stderr);
	}
	replay_tmp_remove();
	for (sig_atomic_t i = 0; i < replay_ntmp; i++)
		free(replay_tmp[i]);
	cJSON_Delete(res.report);
	return ret;
}
