/*
 * config.h - the replay configuration, read from YAML with libyaml.
 *
 * Owns: every knob a user can set (kernel profile, THP, object sizes, lazy
 * policies, arch costs, verdict thresholds), their defaults, and parsing with
 * "file:line: unknown key 'x'" errors.  Modules read the struct; only
 * config.c writes it.  Each section below is a top-level YAML mapping of the
 * same name; docs/config.md lists every key with its default.
 */
#ifndef ANONVMA_CONFIG_H
#define ANONVMA_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* lazy.md §9: the series' open questions, each a named policy. */
enum lazy_mremap_policy { LAZY_MREMAP_UPGRADE = 0, LAZY_MREMAP_REBASE = 1 };
enum lazy_cow_owner { LAZY_COW_CHILD_ROOT = 0, LAZY_COW_PARENT_AV = 1 };
enum lazy_pin_policy { LAZY_PIN_UNTIL_LAST_FOLIO = 0, LAZY_PIN_NONE = 1 };
enum lazy_walk_lock { LAZY_WALK_RCU = 0, LAZY_WALK_VMA_READ = 1, LAZY_WALK_MMAP_TRYLOCK = 2 };

struct config {
	/* kernel: */
	int profile;             /* 1..4 = P1..P4 (eager.md §0); default 3 */
	int thp_enabled;         /* 0 never, 1 madvise, 2 always; default from trace meta, else 1 */
	bool thp_from_trace;     /* true unless the config set thp_enabled */
	bool overcommit_never;
	/* sizes: bytes per object, 0 = from trace meta (defaults 104/64/192) */
	uint32_t size_anon_vma, size_avc, size_vma;
	/* lazy: */
	enum lazy_mremap_policy lazy_mremap;
	enum lazy_cow_owner lazy_cow_owner;
	enum lazy_pin_policy lazy_pin;
	enum lazy_walk_lock lazy_walk_lock;
	double lazy_vma_growth_bytes;  /* extra bytes per vm_area_struct under LAZY */
	int64_t lazy_switch_on_ns;     /* -1: on from the start; else time the switch flips on */
	/* arch: */
	char arch[32];                 /* e.g. "x86_64-4level"; "" = from trace meta */
	/* verdict thresholds: */
	double min_saving_percent;
	double max_lock_hold_regression_percent;
	double max_fork_cost_regression_percent;
};

void config_defaults(struct config *c);
/* Load a YAML file over the defaults; unknown keys and bad values fail with file:line. */
int config_load(struct config *c, const char *path, struct avm_err *err);

#endif
