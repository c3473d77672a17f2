/*
 * verdict.h - the verdict rule, and the re-judging behind its sensitivity.
 *
 * Owns: the rule that decides whether lazy pays off against eager
 * (docs/verdict.md), as a pure function of a few figures per model, so the
 * report (report.c, from a report's JSON, also for a fleet) and the
 * sensitivity analysis (here, from re-costed figures) judge with the very
 * same code; the per-world record of fork work that lets the fork figures
 * be re-costed without the trace; and `verdict.sensitivity`: the verdict
 * re-judged with every cost constant of the arch at its low and its high
 * (one at a time), at the two corners that favour each design, and the
 * value where a constant flips it (bisection).
 *
 * The rule, in short.  Lazy pays off when its anon rmap saving reaches
 * min_saving_percent and no judged cost criterion regresses beyond BOTH its
 * relative threshold and its absolute floor:
 *   lock_wait       simulated waiting (all lock classes and modes), ns per
 *                   second of trace;
 *   trylock_failed  failed trylocks per second of trace;
 *   fork_mean       mean anon rmap cost per fork (judged from min_forks_mean
 *                   forks up);
 *   fork_p99        its p99 (judged from min_forks_p99 forks up).
 * A criterion that cannot be judged (no section, too few forks, unknown
 * trace length) does not block; a saving that cannot be judged does.  The
 * answer is undecided (pays = -1, JSON null) when the trace cannot support
 * one: lost or skipped events above their share, or an incomplete trace.
 */
#ifndef ANONVMA_VERDICT_H
#define ANONVMA_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "locks.h"

/* The thresholds (config `verdict:`, docs/config.md). */
struct verdict_rule {
	double min_saving_percent;
	double max_lock_wait_regression_percent; /* lock_wait and trylock_failed */
	double lock_wait_floor_ns_per_s;
	double trylock_floor_per_s;
	double max_fork_cost_regression_percent; /* fork_mean and fork_p99 */
	double fork_cost_floor_ns;
	double min_forks_mean, min_forks_p99;
	double max_lost_share, max_skipped_share;
};

/* One model's judged figures (NAN-free; has_* false: the section is absent). */
struct verdict_model {
	bool has_locks;
	double wait_ns;          /* simulated waiting, every class and mode */
	double trylock_failed;
	bool has_fork;
	double forks;
	double fork_mean_ns;     /* anon rmap cost per fork */
	double fork_p99_ns;
};

struct verdict_input {
	double saving_percent;   /* savings.anon_rmap.percent; NAN: none */
	double duration_ns;      /* trace span; <= 0: unknown */
	double events, lost_events, skipped_events;
	bool complete;
	struct verdict_model base, model; /* eager, lazy */
};

enum verdict_crit {
	VERDICT_SAVING = 0,
	VERDICT_LOCK_WAIT,
	VERDICT_TRYLOCK,
	VERDICT_FORK_MEAN,
	VERDICT_FORK_P99,
	VERDICT_CRIT_NR,
};

enum verdict_state { VERDICT_PASS = 0, VERDICT_FAIL, VERDICT_NOT_JUDGED };

/* Why the answer is undecided (bits of verdict_result.undecided). */
enum {
	VERDICT_UNDECIDED_LOST = 1,
	VERDICT_UNDECIDED_INCOMPLETE = 2,
	VERDICT_UNDECIDED_SKIPPED = 4,
};

struct verdict_crit_result {
	enum verdict_state state;
	double eager, lazy;      /* the figure of each model (per second for the lock criteria) */
	double delta;            /* lazy - eager */
	double percent;          /* 100 * delta / eager; INFINITY when only eager is 0; 0 when both */
	const char *why_not;     /* NOT_JUDGED: why ("too few forks", ...) */
};

struct verdict_result {
	int pays;                /* 1 pays off, 0 does not, -1 undecided */
	unsigned undecided;      /* VERDICT_UNDECIDED_* */
	double lost_share, skipped_share;
	struct verdict_crit_result c[VERDICT_CRIT_NR];
};

void verdict_judge(const struct verdict_input *in, const struct verdict_rule *r,
		   struct verdict_result *out);
/* "saving", "lock_wait", "trylock_failed", "fork_mean", "fork_p99". */
const char *verdict_crit_name(enum verdict_crit c);
const char *verdict_state_name(enum verdict_state s);

/* ---- fork work, re-costable (one per world) ------------------------------------ */

/*
 * The anon rmap work of every fork (locks_mark differences): their sum
 * (exact mean under any costs) and a reservoir of up to
 * VERDICT_FORK_SAMPLE forks for the p99 (exact below that many forks; a
 * uniform sample with a fixed seed above).  Memory: at most
 * VERDICT_FORK_SAMPLE x sizeof(struct locks_mark) (~6 MiB).
 */
#define VERDICT_FORK_SAMPLE 65536
struct verdict_forks;

int verdict_forks_create(struct verdict_forks **out, struct avm_err *err);
void verdict_forks_destroy(struct verdict_forks *f); /* safe on NULL */
/* One fork's work; -1 only when out of memory (err filled). */
int verdict_forks_add(struct verdict_forks *f, const struct locks_mark *m, struct avm_err *err);
uint64_t verdict_forks_count(const struct verdict_forks *f);
/* Mean and p99 (nearest rank) of the anon rmap cost per fork under costs c. */
void verdict_forks_cost(const struct verdict_forks *f, const struct locks_recost *c,
			double *mean, double *p99);
size_t verdict_forks_bytes(const struct verdict_forks *f);

/* ---- sensitivity ---------------------------------------------------------------- */

/* One cost constant with its plausible range (from the arch, arch.h). */
struct verdict_const {
	const char *key;         /* "rmap.folio_rewrite_ns", "fork.pte_copy_ns", ... */
	double value, low, high;
	bool ranged;             /* false: a legacy scalar, low = high = value */
	/*
	 * Where it enters the re-costing: an index of locks_recost.rmap.ns,
	 * LOCKS_OP_NR for walk_ns (= mult x the value: arch_walk_ns is levels
	 * x walk.level_ns), -1 for none (it enters no judged figure).
	 */
	int op;
	double mult;
};

/* A world's re-costable record: its section log and its forks. */
struct verdict_world {
	const struct locks *locks;
	const struct verdict_forks *forks;
};

/*
 * Re-judge in (whose lock and fork figures are replaced by re-costed ones)
 * under costs base +/- each constant (docs/verdict.md "Sensitivity"), and
 * build the `verdict.sensitivity` object; *robust is 1 when every variant
 * gives the baseline's answer, 0 when one differs, -1 when undecided.
 * `seconds` and `bytes` (may be NULL) get what it cost.
 */
int verdict_sensitivity(const struct verdict_input *in, const struct verdict_rule *r,
			const struct locks_recost *base, const struct verdict_const *k, size_t nk,
			const struct verdict_world *eager, const struct verdict_world *lazy,
			cJSON **out, int *robust, struct avm_err *err);

/* ---- lazy against cowctx (verdict.lazy_vs_cowctx, docs/report.md) ------------------- */

/*
 * The two proposals compared like for like, not against a threshold: per
 * criterion the lower figure wins, a tie within VERDICT_VS_TIE of the larger
 * or within the criterion's floor.  memory does not depend on the costs;
 * lock_waits and fork_cost are re-costed by the sensitivity.
 */
#define VERDICT_VS_TIE 0.05
struct verdict_vs_input {
	double lazy_mem, cowctx_mem;       /* anon-rmap bytes at the peak */
	struct verdict_model lazy, cowctx; /* lock waits (has_locks) and fork means (has_fork) */
	double wait_floor_ns;              /* the verdict's lock-wait floor over the trace span */
	double fork_floor_ns;
};
/* One criterion: 1 lazy lower, -1 cowctx lower, 0 a tie. */
int verdict_vs_crit(double lazy, double cowctx, double floor);
/* Every judged criterion summed: > 0 lazy is better, < 0 cowctx, 0 a tie. */
int verdict_vs_judge(const struct verdict_vs_input *in);
/* "lazy", "cowctx", "tie" for a verdict_vs_judge or verdict_vs_crit result. */
const char *verdict_vs_name(int score);
/*
 * Re-decide under base +/- each constant's range, re-costing the lazy and
 * cowctx worlds' lock waits and fork costs: *out = { baseline, constants:
 * [{key, at_low, at_high, flips}], flipping: [key], robust }.
 */
int verdict_vs_sensitivity(const struct verdict_vs_input *in, const struct locks_recost *base,
			   const struct verdict_const *k, size_t nk,
			   const struct verdict_world *lazy, const struct verdict_world *cowctx,
			   cJSON **out, struct avm_err *err);

#endif
