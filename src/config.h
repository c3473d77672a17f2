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
/* The lock a folio->mapping rewrite is done under (fork: try_dup_anon_rmap). */
enum lazy_rewrite_lock { LAZY_REWRITE_PTL = 0, LAZY_REWRITE_VMA_WRITE = 1,
			 LAZY_REWRITE_ANON_VMA_WRITE = 2 };
/* Start-snapshot VMAs that had an anon_vma: keep it, or lazy when their family never forked. */
enum lazy_adopt { LAZY_ADOPT_CONSERVATIVE = 0, LAZY_ADOPT_OPTIMISTIC = 1 };
/* Lazy VMAs naming different roots (equal bases): refuse to merge them, or allow it. */
enum lazy_merge_roots { LAZY_MERGE_ROOTS_REFUSE = 0, LAZY_MERGE_ROOTS_ALLOW = 1 };
/* Upgrade of a TREE_PARENT VMA: mainline's anon_vma reuse test first, or always allocate. */
enum lazy_tree_parent_reuse { LAZY_TP_REUSE_MAINLINE = 0, LAZY_TP_REUSE_ALLOCATE = 1 };
/* A KSM merge of a page in a lazy VMA (lazy.md §9.2 "KSM merge" row: unknown, a PARAM). */
enum lazy_ksm { LAZY_KSM_UPGRADE = 0, LAZY_KSM_ROOT = 1 };

/*
 * cowctx.md §5: the COW context design's open points, each a named policy
 * (docs/cowctx-model.md).  Value 0 is the proof of concept as read.  The
 * values sit in one array indexed by enum cowctx_policy so that the config
 * file, --set, --sweep and the report share one table (config.c).
 */
enum cowctx_policy {
	COWCTX_P_SHORTCUT = 0,   /* P1: c0_identity | c0_all_offsets | never */
	COWCTX_P_WALK_PROTECT,   /* P2: rcu | context_ref | mm_lock */
	COWCTX_P_ORDER,          /* P3: post_newest | pre_newest | post_oldest */
	COWCTX_P_MM_PIN,         /* P4: mmget | none */
	COWCTX_P_FOLIO_REFS,     /* P5: per_folio | none */
	COWCTX_P_REUSE_MOVE,     /* P6: move | never */
	COWCTX_P_TRACK,          /* P7: poc | rfc */
	COWCTX_P_FORK_REMAP,     /* P8: poc | copy_only */
	COWCTX_P_REMAP_ADJUST,   /* P9: none | adjust */
	COWCTX_P_UNMAP_GRAIN,    /* P10: whole_entry | clipped */
	COWCTX_P_LIFETIME,       /* P11: mm_children_folios | mm_children */
	COWCTX_P_MERGE,          /* P13: poc | mainline | pure */
	COWCTX_P_EXCLUSION,      /* P15: none | per_context_lock */
	COWCTX_P_FOLIO_FIELD,    /* P17: page_8b | overlay */
	COWCTX_P_NONEXCL,        /* P20: faulting | root_ancestor | lca */
	COWCTX_P_ADOPT,          /* start snapshot: anon_vma | roots */
	COWCTX_P_NR,
};

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
	enum lazy_rewrite_lock lazy_rewrite_lock;
	enum lazy_adopt lazy_adopt;
	enum lazy_merge_roots lazy_merge_roots;
	enum lazy_tree_parent_reuse lazy_tree_parent_reuse;
	enum lazy_ksm lazy_ksm;                /* default upgrade */
	/* cowctx: the value index of each policy (enum cowctx_policy; 0 = the PoC) */
	int cowctx[COWCTX_P_NR];
	/* arch: */
	char arch[32];                 /* e.g. "x86_64-4level"; "" = from trace meta */
	/* verdict thresholds: */
	double min_saving_percent;
	double max_lock_wait_regression_percent; /* key also read as max_lock_hold_... (old name) */
	double max_fork_cost_regression_percent;
	/* kernel (continued): */
	bool ksm;                      /* apply the trace's KSM merges; default true */
	/* pressure: what-if rmap walks (rmap_walk.h); 0 = off */
	double reclaim_share_per_s;    /* share (0..1) of anon folios reclaim visits per second */
	double compaction_share_per_s; /* share (0..1) of anon folios compaction migrates per second */
	double page_idle_sweep_s;      /* seconds between full page-idle sweeps */
	/* verdict (continued, docs/verdict.md): floors, fork counts, trace quality */
	double lock_wait_floor_ns_per_s;  /* waiting a lock criterion needs to fail, ns/s */
	double trylock_floor_per_s;       /* failed trylocks per second, likewise */
	double fork_cost_floor_ns;        /* fork cost increase, ns per fork, likewise */
	double min_forks_mean;            /* forks before the mean fork cost is judged */
	double min_forks_p99;             /* forks before its p99 is judged */
	double max_lost_share;            /* lost / (events + lost) above it: undecided */
	double max_skipped_share;         /* skipped / (events + skipped) above it: undecided */
};

/* Ranges of the replay config's numeric keys (docs/config.md lists them). */
#define CONFIG_MAX_OBJ_SIZE 65536ULL     /* sizes.*: bytes per object */
#define CONFIG_MAX_VMA_GROWTH 4096.0     /* lazy.vma_growth_bytes: at most a page */
#define CONFIG_MAX_PERCENT 1e6           /* verdict.max_*_regression_percent */
#define CONFIG_MAX_AMOUNT 1e15           /* verdict floors (ns/s, /s, ns) and fork counts */
#define CONFIG_MIN_IDLE_SWEEP_S 0.1      /* pressure.page_idle_sweep_s: one tick (rmap_walk.h) */
#define CONFIG_MAX_IDLE_SWEEP_S 1e9

void config_defaults(struct config *c);
/* Load a YAML file over the defaults; unknown keys and bad values fail with file:line. */
int config_load(struct config *c, const char *path, struct avm_err *err);
/*
 * Set one key ("lazy.mremap", "verdict.min_saving_percent", ...) from its
 * text, as the YAML would (anonvma-replay --set / --sweep).  An unknown key
 * or a bad value fails with one line naming the key; *c is then unchanged.
 */
int config_set(struct config *c, const char *key, const char *value, struct avm_err *err);
/* Is `key` a key of the replay config? */
bool config_has_key(const char *key);
/* The i-th key config_set accepts (table order, old names included); NULL past the last. */
const char *config_key_name(size_t i);
/*
 * The value names of the lazy policies, as the config file spells them
 * (docs/config.md): "ptl", "conservative", ... for reports; "?" if out of range.
 */
const char *config_lazy_mremap_name(enum lazy_mremap_policy p);
const char *config_lazy_cow_owner_name(enum lazy_cow_owner p);
const char *config_lazy_pin_name(enum lazy_pin_policy p);
const char *config_lazy_walk_lock_name(enum lazy_walk_lock p);
const char *config_lazy_rewrite_lock_name(enum lazy_rewrite_lock p);
const char *config_lazy_adopt_name(enum lazy_adopt p);
const char *config_lazy_merge_roots_name(enum lazy_merge_roots p);
const char *config_lazy_tree_parent_reuse_name(enum lazy_tree_parent_reuse p);
const char *config_lazy_ksm_name(enum lazy_ksm p);
/* cowctx policies: the key after "cowctx." and the value name of value index v ("?" if bad). */
const char *config_cowctx_key(enum cowctx_policy p);
const char *config_cowctx_value_name(enum cowctx_policy p, int v);

/*
 * Generic YAML reading, shared by every module that reads a YAML file
 * (replay config, configs/arch/ files, synth scenarios), so there is one
 * libyaml wrapper and one error format: "file:line: message".  Lines are
 * 1-based.
 */

/* A loaded YAML document (the first document of the file); nodes are small ints > 0. */
struct config_yaml;

enum config_node_type { CONFIG_NODE_SCALAR = 1, CONFIG_NODE_MAP = 2, CONFIG_NODE_SEQ = 3 };

/* Parse path.  A missing file or a syntax error fails with "file:line: ..." (or "file: ...").
 * An empty file loads as a document whose root is 0. */
int config_yaml_open(const char *path, struct config_yaml **out, struct avm_err *err);
void config_yaml_close(struct config_yaml *y);   /* safe on NULL */
const char *config_yaml_path(const struct config_yaml *y);
int config_yaml_root(const struct config_yaml *y);            /* 0: empty document */
enum config_node_type config_yaml_type(const struct config_yaml *y, int node);
int config_yaml_line(const struct config_yaml *y, int node);
const char *config_yaml_scalar(const struct config_yaml *y, int node); /* NULL if not a scalar */
/* Items of a mapping (pairs) or sequence (entries); 0 for a scalar. */
int config_yaml_count(const struct config_yaml *y, int node);
/* i-th pair of a mapping: key and value nodes.  Returns -1 (no message) if out of range. */
int config_yaml_pair(const struct config_yaml *y, int map, int i, int *key, int *value);
/* i-th entry of a sequence, 0 if out of range. */
int config_yaml_item(const struct config_yaml *y, int seq, int i);
/* Value node of `key` in a mapping, 0 if absent. */
int config_yaml_get(const struct config_yaml *y, int map, const char *key);
/* Fail with "file:LINE: message" where LINE is the node's line.  Returns -1. */
int config_yaml_errf(const struct config_yaml *y, int node, struct avm_err *err,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Walk every scalar of the file in document order and call cb with its dotted
 * key path ("costs.tlb_flush_ns"; sequence entries appear as their index,
 * "levels.0.bits"), the value text and its line.  cb returns 0 to go on, or
 * -1 with err filled (use config_parse_* or config_yaml_errf-style messages).
 * Non-scalar mapping keys are an error.  Returns 0 or -1.
 */
typedef int (*config_scalar_cb)(void *ctx, const char *key_path, const char *value, int line,
				struct avm_err *err);
int config_yaml_scalars(const char *path, config_scalar_cb cb, void *ctx, struct avm_err *err);

/*
 * Value parsers.  Each converts `value` (the text of key `key` at file:line)
 * or fails with one line such as "f.yaml:3: 'profile' must be one of P1, P2,
 * P3, P4" (got 'P9').  file may be NULL (the message then starts with the key).
 */
int config_parse_u64(const char *file, int line, const char *key, const char *value,
		     uint64_t *out, struct avm_err *err);
int config_parse_i64(const char *file, int line, const char *key, const char *value,
		     int64_t *out, struct avm_err *err);
/* Sizes: a plain number of bytes or one with a K, M, G, T suffix (powers of 1024). */
int config_parse_size(const char *file, int line, const char *key, const char *value,
		      uint64_t *out, struct avm_err *err);
/* Durations to nanoseconds: a plain number is ns; suffixes ns, us, ms, s. */
int config_parse_duration(const char *file, int line, const char *key, const char *value,
			  uint64_t *out, struct avm_err *err);
int config_parse_double(const char *file, int line, const char *key, const char *value,
			double *out, struct avm_err *err);
/*
 * The one range check every numeric key of every YAML file goes through:
 * parse `value` as a plain number, a size or a duration (unit) and require
 * lo <= value <= hi, else fail with "file:line: 'key' must be between LO and
 * HI[ bytes| ns] (got 'v')".  Decimal numbers with a leading zero ("010") are
 * refused by every parser (YAML 1.1 reads them as octal, YAML 1.2 as decimal).
 */
enum config_unit { CONFIG_UNIT_NONE = 0, CONFIG_UNIT_SIZE = 1, CONFIG_UNIT_DURATION = 2 };
int config_u64_in_range(const char *file, int line, const char *key, const char *value,
			enum config_unit unit, uint64_t lo, uint64_t hi, uint64_t *out,
			struct avm_err *err);
/* The same for a finite number in [lo, hi]. */
int config_double_in_range(const char *file, int line, const char *key, const char *value,
			   double lo, double hi, double *out, struct avm_err *err);
/* true/false, yes/no, on/off, 1/0. */
int config_parse_bool(const char *file, int line, const char *key, const char *value,
		      bool *out, struct avm_err *err);
/* names[0..n-1] (case-sensitive); *out = index. */
int config_parse_enum(const char *file, int line, const char *key, const char *value,
		      const char *const *names, int n, int *out, struct avm_err *err);

#endif
