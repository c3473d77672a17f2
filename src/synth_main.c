/*
 * synth_main.c - anonvma-synth: write a trace from a scenario.
 *
 *   anonvma-synth scenario.yaml -o trace.db [--seed N] [--scale X] [--force]
 *
 * Loads the scenario (synth.h), creates the trace (trace.h), records the
 * meta a collector would (host facts the models read: page size, THP, object
 * sizes) with writer "synth <name>", and streams the generated events into
 * it.  Ctrl-C stops generation, commits what was written and leaves the trace
 * marked incomplete (meta complete=0), exit status 130.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliopt.h"
#include "config.h"
#include "datadir.h"
#include "outfile.h"
#include "synth.h"
#include "trace.h"
#include "version.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: anonvma-synth SCENARIO -o TRACE.db [--seed N] [--scale X] [--force]\n"
		"\n"
		"Write a trace (same schema as anonvma-collect) from a described workload.\n"
		"SCENARIO is a YAML file, or the name of a shipped one (android-24-apps,\n"
		"android-boot, prefork-server, build) found in scenarios/ of the data\n"
		"directory (--version names it); docs/scenarios.md, man 5 anonvma-scenario\n"
		"describe the format.\n"
		"\n"
		"  -o, --output FILE  trace to create (required; refuses to overwrite without --force)\n"
		"  -s, --seed N       random seed, 0 to 2^63-1 (default: the scenario's `seed`)\n"
		"  -x, --scale X      multiply the counts the scenario marks `scaled`, 1e-6 to\n"
		"                     1e6 (default 1; 5 makes ~10^6 events from android-24-apps)\n"
		"  -f, --force        overwrite an existing trace\n"
		"  -q, --quiet        no progress line on stderr\n"
		"  -h, --help         this text\n"
		"      --version      the version, the trace schema it writes, its data\n"
		"\n"
		"examples:\n"
		"  anonvma-synth android-24-apps -o android.db        # a shipped scenario by name\n"
		"  anonvma-synth my-fleet.yaml -o fleet.db --scale 5  # your own, 5x the counts\n"
		"  anonvma-replay android.db -o android.json         # then replay it\n");
}

static int sink_event(void *ctx, const struct avm_event *ev, struct avm_err *err)
{
	return trace_append(ctx, ev, err);
}

static int sink_snap_vma(void *ctx, const struct avm_snap_vma *v, struct avm_err *err)
{
	return trace_append_snap_vma(ctx, v, err);
}

static int sink_snap_av(void *ctx, const struct avm_snap_av *a, struct avm_err *err)
{
	return trace_append_snap_av(ctx, a, err);
}

/* Meta a collector would record (schema.sql), with this scenario's host. */
static int write_meta(struct trace *t, const struct synth_scenario *s,
		      const struct synth_opts *o, struct avm_err *err)
{
	char writer[128];

	snprintf(writer, sizeof(writer), "synth %s", synth_name(s));
	if (synth_mem(s) && trace_meta_set_int(t, "mem_bytes", (int64_t)synth_mem(s), err))
		return -1;
	return trace_meta_set(t, "writer", writer, err) ||
	       trace_meta_set(t, "tool_version", avm_version(), err) ||
	       trace_meta_set(t, "collection_mode", "synth", err) ||
	       trace_meta_set(t, "kernel_release", "synth (6.18, profile P3)", err) ||
	       trace_meta_set(t, "arch", "x86_64", err) ||
	       trace_meta_set_int(t, "page_size", 4096, err) ||
	       trace_meta_set_int(t, "va_bits", 47, err) ||
	       trace_meta_set_int(t, "pgtable_levels", 4, err) ||
	       trace_meta_set(t, "thp_enabled", synth_thp(s), err) ||
	       trace_meta_set_int(t, "cpus", synth_cpus(s), err) ||
	       trace_meta_set_int(t, "size_anon_vma", 104, err) ||
	       trace_meta_set_int(t, "size_anon_vma_chain", 64, err) ||
	       trace_meta_set_int(t, "size_vm_area_struct", 192, err) ||
	       trace_meta_set_int(t, "synth_seed", (int64_t)o->seed, err) ||
	       trace_meta_set(t, "synth_scenario", synth_name(s), err) ||
	       trace_meta_set_int(t, "start_ns", 0, err)
		       ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 's' },
		{ "scale", required_argument, NULL, 'x' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct synth_opts o = { .scale = 1.0, .progress = true, .stop = &stop_flag };
	struct synth_sink sink = { .event = sink_event, .snap_vma = sink_snap_vma,
				   .snap_av = sink_snap_av };
	struct synth_scenario *s = NULL;
	struct synth_stats st;
	struct trace *t = NULL;
	struct avm_err err = { "" };
	struct sigaction sa;
	const char *out = NULL;
	char scenario[DATADIR_PATH_MAX];
	bool seed_set = false, force = false;
	int c, rc = 1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:s:x:fqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 's':
			/* the seed is kept in the trace's meta as a signed 64-bit integer */
			if (cliopt_u64("--seed", optarg, 0, INT64_MAX, "a seed", &o.seed, &err))
				goto fail;
			seed_set = true;
			break;
		case 'x':
			if (cliopt_double("--scale", optarg, 1e-6, 1e6, "a factor", &o.scale, &err))
				goto fail;
			break;
		case 'f':
			force = true;
			break;
		case 'q':
			o.progress = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			avm_version_print(stdout, "anonvma-synth");
			return 0;
		case ':':
			avm_errf(&err, "option '%s' needs a value (see --help)", argv[optind - 1]);
			goto fail;
		default:
			avm_errf(&err, "unknown option '%s' (see --help)", argv[optind - 1]);
			goto fail;
		}
	}
	if (optind != argc - 1) {
		avm_errf(&err, "%s (see --help)", optind >= argc ? "missing scenario file" :
			 "exactly one scenario file expected");
		goto fail;
	}
	if (!out) {
		avm_errf(&err, "missing -o TRACE.db (see --help)");
		goto fail;
	}
	datadir_resolve("scenarios", argv[optind], scenario, sizeof(scenario));
	if (synth_load(scenario, &s, &err))
		goto fail;
	if (!seed_set)
		o.seed = synth_default_seed(s);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (trace_create(out, force, &t, &err) || write_meta(t, s, &o, &err))
		goto fail;
	sink.ctx = t;
	if (synth_run(s, &o, &sink, &st, &err) || trace_meta_set_int(t, "duration_ns",
								    (int64_t)st.end_ns, &err) ||
	    trace_meta_set_int(t, "end_ns", (int64_t)st.end_ns, &err))
		goto fail;
	if (st.stopped) {
		rc = trace_abort(t, &err);
		t = NULL;
		if (rc)
			goto fail;
		fprintf(stderr, "anonvma-synth: interrupted: %s holds the %llu events written so far "
			"(marked incomplete)\n", out, (unsigned long long)st.events);
		rc = 130;
		goto out;
	}
	rc = trace_close(t, &err);
	t = NULL;
	if (rc)
		goto fail;
	fprintf(stderr,
		"anonvma-synth: %s: %llu events, %llu processes (%llu forks, %llu vforks, "
		"%llu threads, %llu execs, %llu exits), %llu faults, %.3f s simulated\n",
		out, (unsigned long long)st.events, (unsigned long long)st.processes,
		(unsigned long long)st.forks, (unsigned long long)st.vforks,
		(unsigned long long)st.threads, (unsigned long long)st.execs,
		(unsigned long long)st.exits, (unsigned long long)st.faults,
		(double)st.end_ns / 1e9);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "anonvma-synth: ");
	outfile_escape(stderr, err.msg, OUTFILE_ESC_LINE);
	fputc('\n', stderr);
	rc = rc == 130 ? 130 : 1;
	if (t) {
		struct avm_err ignored;

		/* Keep what was written, marked incomplete; the first error is the one shown. */
		if (trace_abort(t, &ignored))
			fprintf(stderr, "anonvma-synth: also: %s\n", ignored.msg);
	}
out:
	synth_free(s);
	return rc;
}
