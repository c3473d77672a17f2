/*
 * synth.h - the workload synthesiser behind anonvma-synth.
 *
 * Owns: the scenario format (YAML in configs/scenarios/, documented in
 * docs/scenarios.md), its parsing with file:line errors, and turning a
 * scenario into the event stream a collector would have recorded for it:
 * forks, vforks, threads, execs with their VMA snapshots, mmap/munmap/
 * mprotect/madvise/mremap/brk, page faults with x86 error codes, exits.
 *
 * Output goes through a sink (three callbacks), so the generator does not
 * depend on the trace store: anonvma-synth connects it to trace.h, tests
 * check the stream in memory.  Deterministic for a given seed and scale.
 */
#ifndef ANONVMA_SYNTH_H
#define ANONVMA_SYNTH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "event.h"

struct synth_scenario;

/*
 * What anonvma-synth refuses to generate (docs/scenarios.md "Limits"): each
 * bounds the time or memory of a run; a scenario that reaches one fails with
 * file:line of the step that did.  Values in the scenario file have ranges
 * of their own, checked at load (sizes at most SYNTH_MAX_SIZE, counts at
 * most 10,000,000, durations at most SYNTH_MAX_NS).
 */
#define SYNTH_MAX_LIVE_PROCS 100000            /* processes alive at once */
#define SYNTH_MAX_PROCESSES 10000000ULL        /* processes created over the run */
#define SYNTH_MAX_THREADS 32768                /* threads of one process */
#define SYNTH_MAX_MAPPINGS 65530               /* mappings of one process (vm.max_map_count) */
#define SYNTH_MAX_PAGES (1ULL << 29)           /* 4 KiB pages mapped by live processes: 2 TiB */
#define SYNTH_MAX_SIZE (1ULL << 40)            /* one size in a scenario: 1 TiB */
#define SYNTH_MAX_NS (30ULL * 86400 * 1000000000) /* simulated time: 30 days */
#define SYNTH_MAX_STEPS 1000000000ULL          /* steps executed, all processes */
#define SYNTH_MAX_IDLE_STEPS 1000000           /* steps in a row without an event or time */

/* Parse a scenario file; unknown keys and bad values fail with file:line. */
int synth_load(const char *path, struct synth_scenario **out, struct avm_err *err);
void synth_free(struct synth_scenario *s);   /* safe on NULL */
const char *synth_name(const struct synth_scenario *s);
uint64_t synth_default_seed(const struct synth_scenario *s);
int synth_cpus(const struct synth_scenario *s);
/* Host RAM in bytes the scenario names (`mem:`), 0 when it names none. */
uint64_t synth_mem(const struct synth_scenario *s);
/* THP "enabled" the scenario assumes: "never", "madvise" or "always". */
const char *synth_thp(const struct synth_scenario *s);

/* Where events go.  Each callback returns 0, or -1 with err filled. */
struct synth_sink {
	void *ctx;
	int (*event)(void *ctx, const struct avm_event *ev, struct avm_err *err);
	int (*snap_vma)(void *ctx, const struct avm_snap_vma *v, struct avm_err *err);
	int (*snap_av)(void *ctx, const struct avm_snap_av *a, struct avm_err *err);
};

struct synth_opts {
	uint64_t seed;
	double scale;                       /* multiplies process counts; 1.0 = as written */
	bool progress;                      /* one line on stderr at most once a second */
	volatile sig_atomic_t *stop;        /* set (e.g. by SIGINT) to stop early; may be NULL */
	uint64_t max_steps;                 /* 0: SYNTH_MAX_STEPS (tests and fuzzing lower it) */
};

struct synth_stats {
	uint64_t events;
	uint64_t processes;   /* thread groups created (including init) */
	uint64_t forks, vforks, threads, execs, exits, faults;
	uint64_t snap_vmas, snap_avs;
	uint64_t end_ns;      /* time of the last event */
	bool stopped;         /* opts.stop was set before the scenario finished */
};

/* Generate the whole scenario into sink. */
int synth_run(const struct synth_scenario *s, const struct synth_opts *o,
	      const struct synth_sink *sink, struct synth_stats *st, struct avm_err *err);

#endif
