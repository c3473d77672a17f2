/*
 * forkfit.h - fit the fork cost constants to measured fork latencies.
 *
 * Owns: the samples of one calibration (per fork: the model's counts of the
 * work dup_mmap did - VMAs copied, AVCs cloned, PTEs and page-table pages
 * copied - and the latency the collector measured from the fork syscall's
 * entry to sched_process_fork), the ordinary least-squares fit
 *
 *     latency ~ base + a * VMAs + b * AVCs + c * PTEs + d * tables
 *
 * with standard errors, R^2 and residuals, and the RULE that decides whether
 * the fit may replace the arch's constants (docs/arch.md, "Fork latencies"):
 * refused when there are too few forks, when a term cannot be told apart from
 * the others over these forks (the design is degenerate), when a term comes
 * out negative beyond its +-2 sigma range (no work costs negative time: the
 * model's counts do not explain the latencies), or when R^2 is below a
 * threshold.  An accepted fit replaces a cost only where the term is
 * resolved: its +-2 sigma range lies above 0 (a per-AVC cost of 230 +- 380 ns
 * says nothing; that constant is kept and the output says so).  Forks whose thread was switched out while forking are not
 * offered (world.c): their latency holds other tasks' time.  A refused fit
 * replaces nothing and says why in one line.
 *
 * Unlike locks_calib_fit (non-negative, on mmap_lock holds), this fit is not
 * constrained: a negative term is a finding the rule reports, not something
 * to clip away.  Samples are kept (a fork is rare next to other events:
 * 48 bytes each, at most FORKFIT_MAX_SAMPLES) because residual quantiles and
 * the one outlier pass need them.  Latencies are skewed upwards only (a fork
 * preempted or interrupted takes longer, never shorter), so one pass drops
 * forks whose residual is above FORKFIT_OUTLIER_K robust standard deviations
 * (1.4826 x median absolute residual), at most a tenth of them, and refits.
 */
#ifndef ANONVMA_FORKFIT_H
#define ANONVMA_FORKFIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "error.h"

enum forkfit_term {
	FORKFIT_BASE = 0, /* 1 per fork: task, files, signals ... everything the models do not see */
	FORKFIT_VMA,      /* vm_area_structs dup_mmap allocated (VMAs copied) */
	FORKFIT_AVC,      /* anon_vma_chains the fork allocated (cloned and new) */
	FORKFIT_PTE,      /* present PTEs copy_page_range copied */
	FORKFIT_TABLE,    /* page-table pages the child allocated */
	FORKFIT_NR,
};

#define FORKFIT_MAX_SAMPLES (1u << 20)
#define FORKFIT_MIN_FORKS 20    /* default rule: at least this many forks */
#define FORKFIT_MIN_R2 0.5      /* default rule: R^2 at least this */
#define FORKFIT_OUTLIER_K 6.0

struct forkfit_sample {
	double x[FORKFIT_NR];
	double y; /* measured latency, ns */
};

struct forkfit {
	struct forkfit_sample *s;
	size_t n, cap;
	uint64_t over_cap;   /* samples not kept past FORKFIT_MAX_SAMPLES */
	/* forks with a measured latency the fit cannot use, by reason */
	uint64_t switched;   /* the thread was switched out during the fork (FORK f > 0) */
	uint64_t threads;    /* CLONE_VM: no address space copied */
	uint64_t unmodelled; /* the model copied nothing (parent mm unknown to it) */
};

struct forkfit_rule {
	size_t min_forks;
	double min_r2;
};

struct forkfit_result {
	bool accepted;          /* the rule let the fit replace the constants */
	char why[512];          /* accepted: ""; refused: every reason, "; "-separated */
	size_t forks;           /* samples offered */
	size_t used;            /* samples in the final fit */
	size_t outliers;        /* dropped by the outlier pass */
	bool identifiable[FORKFIT_NR];
	bool resolved[FORKFIT_NR];  /* identifiable and coef - 2 se > 0 */
	double coef[FORKFIT_NR]; /* ns per unit; 0 for a term that is not identifiable */
	double se[FORKFIT_NR];   /* standard error of coef */
	double r2;
	double resid_median, resid_p90, resid_max; /* absolute residuals of the used forks, ns */
	double lat_min, lat_median, lat_p90, lat_max; /* measured latencies of the used forks */
};

void forkfit_rule_default(struct forkfit_rule *r);
/*
 * The rule's negative-term test: negative beyond the +-2 sigma range (a base
 * of -9 +- 70 us is "about zero", not a contradiction; a negative cost that
 * is about zero is only unresolved and never written).
 */
bool forkfit_term_refused_negative(enum forkfit_term t, double coef, double se);
/* Does the calibrated file take this term as a cost (avc, pte, table)? */
bool forkfit_term_written(enum forkfit_term t);
const char *forkfit_term_name(enum forkfit_term t);

/* One fork: features x (x[FORKFIT_BASE] is set to 1 here) and its latency. */
int forkfit_add(struct forkfit *f, const double x[FORKFIT_NR], double y_ns, struct avm_err *err);
void forkfit_free(struct forkfit *f); /* safe on a zeroed struct */

/* Fit and judge; out is always filled (refused with a reason when nothing fits). */
void forkfit_solve(const struct forkfit *f, const struct forkfit_rule *rule,
		   struct forkfit_result *out);

/* The calibrate output: a few lines, every coefficient with its +-2 sigma range. */
void forkfit_print(const struct forkfit_result *r, FILE *out);
/*
 * The report's costs block entry for the fit: {accepted, why, forks, used,
 * outliers, r2, residual_ns {median, p90, max}, latency_ns {...},
 * terms {base, vma, avc, pte, table: {value, low, high, se, resolved}}}.
 */
cJSON *forkfit_json(const struct forkfit_result *r, struct avm_err *err);

#endif
