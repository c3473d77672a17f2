/*
 * replay.h - the replay loop as a library: one trace, one world per model,
 * one report.
 *
 * Owns: reading the trace once in stream order and feeding every event to
 * every world (world.h), loading snapshot rows where the stream needs them
 * (the start snapshot adopts pre-existing mms; an exec builds the new mm from
 * its snapshot), choosing the arch model (arch.h) the worlds count page
 * tables and lock holds with, the optional validation of the eager world
 * against the kernel records (validate.h), progress and interruption, and
 * assembling the report (report.h, plus the arch, page_tables and locks
 * sections).  anonvma-replay (replay_main.c) is a thin CLI over it;
 * tests and benchmarks call replay_run directly.
 */
#ifndef ANONVMA_REPLAY_H
#define ANONVMA_REPLAY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "error.h"
#include "forkfit.h"
#include "skip.h"
#include "validate.h"

#define REPLAY_MAX_MODELS 4

/*
 * --sweep KEY=V1,V2,...: every combination of the swept values is replayed
 * in the same read of the trace, one world per model and combination, a
 * world shared by the combinations whose swept values it does not depend on
 * (lazy.* keys do not touch the eager world; verdict.* keys touch no world).
 */
#define REPLAY_SWEEP_KEYS 8      /* --sweep options */
#define REPLAY_SWEEP_VALUES 16   /* values of one key */
#define REPLAY_SWEEP_MAX 16      /* combinations in one replay */
#define REPLAY_MAX_WORLDS (REPLAY_MAX_MODELS * REPLAY_SWEEP_MAX)

struct replay_sweep {
	const char *key;
	const char *values[REPLAY_SWEEP_VALUES];
	size_t nvalues;
};

struct replay_opts {
	const char *trace_path;          /* the trace file (or only its name, with trace_mem) */
	/* The name reports and messages give the trace (NULL: trace_path), e.g. the
	   compressed file a temporary trace_path was decompressed from. */
	const char *trace_name;
	/*
	 * Several consecutive segments of one rotated collection replayed as one
	 * (nsegments >= 2; segment_files[0] is trace_path): files to open and the
	 * names to report (NULL: the files).  Each must share the first one's
	 * collection_id and follow the one before it (meta segment), or the replay
	 * stops with one line before it starts.
	 */
	const char *const *segment_files;
	const char *const *segment_names;
	size_t nsegments;
	/* Instead of opening trace_path: an in-memory copy of a trace file (fuzzing). */
	const void *trace_mem;
	size_t trace_mem_len;
	const struct config *cfg;        /* NULL: config_defaults() */
	const char *arch;                /* --arch name or YAML path; NULL: the config's
					    arch, else the one the trace's meta names */
	const char *models[REPLAY_MAX_MODELS]; /* names for model_find(), in report order */
	size_t nmodels;                  /* 0: replay_default_models() */
	bool check_invariants;           /* world checkers after every event (slow) */
	bool check_rmap;                 /* rmap walks compared with the page tables */
	bool validate;                   /* compare the eager world with the kernel records */
	struct validate_params vparams;  /* used when validate */
	const char *calibrate_path;      /* --calibrate FILE: fit the arch's lock and fork costs
					    to the trace's mmap_lock holds (docs/arch.md) */
	bool no_sensitivity;             /* keep no section log: no verdict.sensitivity */
	struct replay_sweep sweep[REPLAY_SWEEP_KEYS]; /* --sweep, in order (the first varies slowest) */
	size_t nsweep;
	/* Set (by a signal handler) to stop: replay_run then fails with "interrupted". */
	const volatile sig_atomic_t *stop;
	/* Called at most about once a second while replaying; may be NULL. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total, double seconds);
	void *progress_ctx;
};

struct replay_result {
	cJSON *report;          /* the whole report; the caller frees it */
	uint64_t events;        /* events replayed */
	double seconds;         /* wall time of the event loop */
	bool validated;         /* validation ran */
	bool validation_passed; /* every validated error within the tolerance */
	char note[256];         /* "" or one line worth telling the user (no arch model, ...) */
	/* CPU seconds of each pipeline thread (benchmarks: the longest bounds the wall time) */
	double reader_cpu;
	double world_cpu[REPLAY_MAX_MODELS];
	uint64_t calibration_holds; /* --calibrate: measured holds the fit used */
	/* skipped.total: the verdict is undecided above verdict.max_skipped_share */
	uint64_t skipped_events;
	double sensitivity_seconds;  /* what re-judging the verdict cost (verdict.sensitivity) */
	/* --calibrate: the fork-latency fit (fork_fit_ran), forks it could not use */
	bool fork_fit_ran;
	struct forkfit_result fork_fit;
	uint64_t fork_forks_switched, fork_forks_threads, fork_forks_unmodelled;
	cJSON *costs; /* the report's `costs` block until the report takes it (internal) */
	/*
	 * Events skipped as unusable, by reason (skip.h; the largest count of any
	 * world), also in the report as trace.skipped.  A total above some share
	 * of `events` makes a verdict doubtful.
	 */
	struct skip_counts skipped;
	bool complete;          /* the writer closed the trace (meta complete = 1) */
	bool recovered;         /* read with the -wal an unfinished writer left */
	char warning[256];      /* "" or one line about an incomplete trace or skipped events */
};

/* Fill opts with the defaults (no trace path; models from replay_default_models). */
void replay_opts_default(struct replay_opts *o);

/* The models replayed when none are named: eager, and lazy once it is built in. */
size_t replay_default_models(const char **names, size_t max);

/*
 * Parse "eager,lazy" into opts->models (pointers into `list`, which is
 * modified and must outlive opts).  Unknown or repeated names fail with one
 * line that lists the models this build has.
 */
int replay_parse_models(struct replay_opts *o, char *list, struct avm_err *err);

/*
 * Parse one --sweep "KEY=V1,V2" into opts->sweep (pointers into `arg`, which
 * is modified and must outlive opts).  An unknown key, a bad value, a key
 * that cannot be swept, or too many combinations fail with one line.
 */
int replay_parse_sweep(struct replay_opts *o, char *arg, struct avm_err *err);

/* Replay the whole trace.  On failure nothing is returned (no partial report). */
int replay_run(const struct replay_opts *o, struct replay_result *res, struct avm_err *err);

#endif
