/*
 * config.c - YAML configuration: one libyaml wrapper for every YAML file
 * anonvma reads, the value parsers, and the replay config on top of them.
 *
 * Data layout: config_yaml_open() loads the whole file with libyaml's
 * document API (yaml_parser_load), which keeps every node in one array with
 * its start mark, so any node can report its own line.  Files are small
 * (configs, ISA descriptions, scenarios), so a full load is simpler and no
 * slower than streaming events.  Node ids are libyaml's (1-based; 0 = none).
 *
 * config_yaml_scalars() walks that tree depth-first keeping a dotted key path
 * in a fixed buffer, and hands each scalar to a callback.  config_load() is
 * one such callback: a table maps each dotted key to a setter, so the table is
 * the list of keys (docs/config.md mirrors it) and every unknown key or bad
 * value fails with "file:line: ...".
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

struct config_yaml {
	yaml_document_t doc;
	int loaded;
	char path[256];
};

/* ---- document ------------------------------------------------------------ */

int config_yaml_open(const char *path, struct config_yaml **out, struct avm_err *err)
{
	struct config_yaml *y = NULL;
	yaml_parser_t parser;
	int parser_ready = 0;
	FILE *f = NULL;
	int rc = -1;

	*out = NULL;
	f = fopen(path, "r");
	if (!f) {
		avm_errf(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	y = calloc(1, sizeof(*y));
	if (!y) {
		avm_errf(err, "%s: out of memory", path);
		goto out;
	}
	snprintf(y->path, sizeof(y->path), "%s", path);
	if (!yaml_parser_initialize(&parser)) {
		avm_errf(err, "%s: cannot initialise the YAML parser", path);
		goto out;
	}
	parser_ready = 1;
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &y->doc)) {
		avm_errf(err, "%s:%zu: YAML syntax error: %s%s%s", path,
			 parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "unknown problem",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		goto out;
	}
	y->loaded = 1;
	*out = y;
	y = NULL;
	rc = 0;
out:
	if (parser_ready)
		yaml_parser_delete(&parser);
	if (f)
		fclose(f);
	config_yaml_close(y);
	return rc;
}

void config_yaml_close(struct config_yaml *y)
{
	if (!y)
		return;
	if (y->loaded)
		yaml_document_delete(&y->doc);
	free(y);
}

const char *config_yaml_path(const struct config_yaml *y)
{
	return y->path;
}

static yaml_node_t *node_get(const struct config_yaml *y, int node)
{
	if (node <= 0)
		return NULL;
	/* libyaml's accessor takes a non-const document but does not modify it. */
	return yaml_document_get_node((yaml_document_t *)&y->doc, node);
}

int config_yaml_root(const struct config_yaml *y)
{
	/* An empty file has no root node; yaml_document_get_root_node returns NULL. */
	return node_get(y, 1) ? 1 : 0;
}

enum config_node_type config_yaml_type(const struct config_yaml *y, int node)
{
	yaml_node_t *n = node_get(y, node);

	if (!n)
		return 0;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return CONFIG_NODE_SCALAR;
	case YAML_MAPPING_NODE:
		return CONFIG_NODE_MAP;
	case YAML_SEQUENCE_NODE:
		return CONFIG_NODE_SEQ;
	default:
		return 0;
	}
}

int config_yaml_line(const struct config_yaml *y, int node)
{
	yaml_node_t *n = node_get(y, node);

	return n ? (int)n->start_mark.line + 1 : 0;
}

const char *config_yaml_scalar(const struct config_yaml *y, int node)
{
	yaml_node_t *n = node_get(y, node);

	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

int config_yaml_count(const struct config_yaml *y, int node)
{
	yaml_node_t *n = node_get(y, node);

	if (!n)
		return 0;
	if (n->type == YAML_MAPPING_NODE)
		return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (n->type == YAML_SEQUENCE_NODE)
		return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
	return 0;
}

int config_yaml_pair(const struct config_yaml *y, int map, int i, int *key, int *value)
{
	yaml_node_t *n = node_get(y, map);
	yaml_node_pair_t *p;

	if (!n || n->type != YAML_MAPPING_NODE || i < 0 || i >= config_yaml_count(y, map))
		return -1;
	p = n->data.mapping.pairs.start + i;
	*key = p->key;
	*value = p->value;
	return 0;
}

int config_yaml_item(const struct config_yaml *y, int seq, int i)
{
	yaml_node_t *n = node_get(y, seq);

	if (!n || n->type != YAML_SEQUENCE_NODE || i < 0 || i >= config_yaml_count(y, seq))
		return 0;
	return n->data.sequence.items.start[i];
}

int config_yaml_get(const struct config_yaml *y, int map, const char *key)
{
	int i, k, v;
	const char *s;

	for (i = 0; i < config_yaml_count(y, map); i++) {
		if (config_yaml_pair(y, map, i, &k, &v))
			break;
		s = config_yaml_scalar(y, k);
		if (s && strcmp(s, key) == 0)
			return v;
	}
	return 0;
}

int config_yaml_errf(const struct config_yaml *y, int node, struct avm_err *err,
		     const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return avm_errf(err, "%s:%d: %s", y->path, config_yaml_line(y, node), msg);
}

/* ---- scalar walk ----------------------------------------------------------- */

struct walk {
	const struct config_yaml *y;
	config_scalar_cb cb;
	void *ctx;
	char key[256];
};

/* Append ".part" (or "part" at the top) to w->key; returns the old length or -1. */
static int walk_push(struct walk *w, const char *part, int node, struct avm_err *err)
{
	size_t len = strlen(w->key);
	int n;

	n = snprintf(w->key + len, sizeof(w->key) - len, "%s%s", len ? "." : "", part);
	if (n < 0 || (size_t)n >= sizeof(w->key) - len) {
		w->key[len] = '\0';
		return config_yaml_errf(w->y, node, err, "key path too long");
	}
	return (int)len;
}

static int walk_node(struct walk *w, int node, struct avm_err *err)
{
	const struct config_yaml *y = w->y;
	char idx[16];
	int i, k, v, old, rc = 0;
	const char *ks;

	switch (config_yaml_type(y, node)) {
	case CONFIG_NODE_SCALAR:
		return w->cb(w->ctx, w->key, config_yaml_scalar(y, node),
			     config_yaml_line(y, node), err);
	case CONFIG_NODE_MAP:
		for (i = 0; rc == 0 && config_yaml_pair(y, node, i, &k, &v) == 0; i++) {
			ks = config_yaml_scalar(y, k);
			if (!ks)
				return config_yaml_errf(y, k, err, "mapping keys must be scalars");
			old = walk_push(w, ks, k, err);
			if (old < 0)
				return -1;
			rc = walk_node(w, v, err);
			w->key[old] = '\0';
		}
		return rc;
	case CONFIG_NODE_SEQ:
		for (i = 0; rc == 0 && i < config_yaml_count(y, node); i++) {
			snprintf(idx, sizeof(idx), "%d", i);
			old = walk_push(w, idx, node, err);
			if (old < 0)
				return -1;
			rc = walk_node(w, config_yaml_item(y, node, i), err);
			w->key[old] = '\0';
		}
		return rc;
	}
	return config_yaml_errf(y, node, err, "unsupported YAML node");
}

int config_yaml_scalars(const char *path, config_scalar_cb cb, void *ctx, struct avm_err *err)
{
	struct config_yaml *y = NULL;
	struct walk w = { .cb = cb, .ctx = ctx };
	int root, rc = -1;

	if (config_yaml_open(path, &y, err))
		goto out;
	w.y = y;
	root = config_yaml_root(y);
	if (root && config_yaml_type(y, root) != CONFIG_NODE_MAP) {
		config_yaml_errf(y, root, err, "the top level must be a mapping of keys");
		goto out;
	}
	rc = root ? walk_node(&w, root, err) : 0;
out:
	config_yaml_close(y);
	return rc;
}

/* ---- value parsers --------------------------------------------------------- */

static int bad_value(const char *file, int line, const char *key, const char *value,
		     const char *what, struct avm_err *err)
{
	if (file)
		return avm_errf(err, "%s:%d: '%s' must be %s (got '%s')", file, line, key, what,
				value);
	return avm_errf(err, "'%s' must be %s (got '%s')", key, what, value);
}

/* Parse an unsigned decimal/hex number with an optional suffix from table. */
struct suffix {
	const char *name;
	uint64_t mult;
};

/*
 * A decimal number written with a leading zero ("010"): YAML 1.1 reads it as
 * octal (8), YAML 1.2 as ten, so it is refused rather than guessed.  "0",
 * "0.5" and hex "0x10" (the same in both) are fine.
 */
static bool leading_zero(const char *value)
{
	if (*value == '-' || *value == '+')
		value++;
	return value[0] == '0' && value[1] >= '0' && value[1] <= '9';
}

static int leading_zero_error(const char *file, int line, const char *key, const char *value,
			      struct avm_err *err)
{
	if (file)
		return avm_errf(err, "%s:%d: '%s' has a leading zero (got '%s'): YAML 1.1 reads "
				"it as octal, YAML 1.2 as decimal; write it without the zero",
				file, line, key, value);
	return avm_errf(err, "'%s' has a leading zero (got '%s'): YAML 1.1 reads it as octal, "
			"YAML 1.2 as decimal; write it without the zero", key, value);
}

/* 0, or -1 (not a number of this kind), or -2 (a leading zero). */
static int parse_scaled(const char *value, const struct suffix *sfx, uint64_t *out)
{
	char *end;
	unsigned long long v;
	const struct suffix *s;

	if (!value || !*value || *value == '-' || *value == '+')
		return -1;
	if (leading_zero(value))
		return -2;
	errno = 0;
	v = strtoull(value, &end, 0);
	if (errno || end == value)
		return -1;
	while (*end == ' ')
		end++;
	if (!*end) {
		*out = v;
		return 0;
	}
	for (s = sfx; s && s->name; s++) {
		if (strcasecmp(end, s->name) == 0) {
			if (v > UINT64_MAX / s->mult)
				return -1;
			*out = v * s->mult;
			return 0;
		}
	}
	return -1;
}

int config_parse_u64(const char *file, int line, const char *key, const char *value,
		     uint64_t *out, struct avm_err *err)
{
	int rc = parse_scaled(value, NULL, out);

	if (rc == -2)
		return leading_zero_error(file, line, key, value, err);
	if (rc)
		return bad_value(file, line, key, value, "a non-negative integer", err);
	return 0;
}

int config_parse_i64(const char *file, int line, const char *key, const char *value,
		     int64_t *out, struct avm_err *err)
{
	char *end;
	long long v;

	if (value && leading_zero(value))
		return leading_zero_error(file, line, key, value, err);
	errno = 0;
	v = value ? strtoll(value, &end, 0) : 0;
	if (!value || !*value || errno || *end)
		return bad_value(file, line, key, value ? value : "", "an integer", err);
	*out = v;
	return 0;
}

int config_parse_size(const char *file, int line, const char *key, const char *value,
		      uint64_t *out, struct avm_err *err)
{
	static const struct suffix sfx[] = {
		{ "K", 1ULL << 10 }, { "KiB", 1ULL << 10 }, { "M", 1ULL << 20 },
		{ "MiB", 1ULL << 20 }, { "G", 1ULL << 30 }, { "GiB", 1ULL << 30 },
		{ "T", 1ULL << 40 }, { "TiB", 1ULL << 40 }, { NULL, 0 },
	};
	int rc = parse_scaled(value, sfx, out);

	if (rc == -2)
		return leading_zero_error(file, line, key, value, err);
	if (rc)
		return bad_value(file, line, key, value,
				 "a size in bytes (optionally with K, M, G or T)", err);
	return 0;
}

int config_parse_duration(const char *file, int line, const char *key, const char *value,
			  uint64_t *out, struct avm_err *err)
{
	static const struct suffix sfx[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 }, { NULL, 0 },
	};
	int rc = parse_scaled(value, sfx, out);

	if (rc == -2)
		return leading_zero_error(file, line, key, value, err);
	if (rc)
		return bad_value(file, line, key, value,
				 "a duration (ns, or with a ns, us, ms or s suffix)", err);
	return 0;
}

int config_parse_double(const char *file, int line, const char *key, const char *value,
			double *out, struct avm_err *err)
{
	char *end;
	double v;

	if (value && leading_zero(value))
		return leading_zero_error(file, line, key, value, err);
	errno = 0;
	v = value ? strtod(value, &end) : 0;
	/* ERANGE also covers underflow: 1e-400 is not silently 0 */
	if (!value || !*value || errno || *end || !isfinite(v))
		return bad_value(file, line, key, value ? value : "", "a number", err);
	*out = v;
	return 0;
}

/* "between lo and hi" in the unit of the key, e.g. "between 1 and 65536 bytes". */
static int out_of_range(const char *file, int line, const char *key, const char *value,
			const char *lo, const char *hi, const char *unit, struct avm_err *err)
{
	if (file)
		return avm_errf(err, "%s:%d: '%s' must be between %s and %s%s (got '%s')", file,
				line, key, lo, hi, unit, value);
	return avm_errf(err, "'%s' must be between %s and %s%s (got '%s')", key, lo, hi, unit,
			value);
}

int config_u64_in_range(const char *file, int line, const char *key, const char *value,
			enum config_unit unit, uint64_t lo, uint64_t hi, uint64_t *out,
			struct avm_err *err)
{
	static const char *const unit_names[] = { "", " bytes", " ns" };
	char los[24], his[24];
	uint64_t v;
	int rc;

	switch (unit) {
	case CONFIG_UNIT_SIZE:
		rc = config_parse_size(file, line, key, value, &v, err);
		break;
	case CONFIG_UNIT_DURATION:
		rc = config_parse_duration(file, line, key, value, &v, err);
		break;
	default:
		rc = config_parse_u64(file, line, key, value, &v, err);
		break;
	}
	if (rc)
		return -1;
	if (v < lo || v > hi) {
		snprintf(los, sizeof(los), "%llu", (unsigned long long)lo);
		snprintf(his, sizeof(his), "%llu", (unsigned long long)hi);
		return out_of_range(file, line, key, value, los, his,
				    unit_names[unit <= CONFIG_UNIT_DURATION ? unit : 0], err);
	}
	*out = v;
	return 0;
}

int config_double_in_range(const char *file, int line, const char *key, const char *value,
			   double lo, double hi, double *out, struct avm_err *err)
{
	char los[32], his[32];
	double v;

	if (config_parse_double(file, line, key, value, &v, err))
		return -1;
	if (!(v >= lo && v <= hi)) {
		snprintf(los, sizeof(los), "%g", lo);
		snprintf(his, sizeof(his), "%g", hi);
		return out_of_range(file, line, key, value, los, his, "", err);
	}
	*out = v;
	return 0;
}

int config_parse_bool(const char *file, int line, const char *key, const char *value,
		      bool *out, struct avm_err *err)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; value && i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return bad_value(file, line, key, value ? value : "", "true or false", err);
}

int config_parse_enum(const char *file, int line, const char *key, const char *value,
		      const char *const *names, int n, int *out, struct avm_err *err)
{
	char list[256] = "";
	size_t len = 0;
	int i;

	for (i = 0; value && i < n; i++) {
		if (strcmp(value, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	for (i = 0; i < n && len < sizeof(list); i++)
		len += snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "one of ",
				names[i]);
	return bad_value(file, line, key, value ? value : "", list, err);
}

/* ---- the replay config ------------------------------------------------------ */

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->profile = 3;                 /* this host's kernel, observed.md */
	c->thp_enabled = 1;             /* madvise, unless the trace says otherwise */
	c->thp_from_trace = true;
	c->overcommit_never = false;
	c->size_anon_vma = 0;           /* 0: from trace meta, else 104/64/192 */
	c->size_avc = 0;
	c->size_vma = 0;
	c->lazy_mremap = LAZY_MREMAP_UPGRADE;
	c->lazy_cow_owner = LAZY_COW_CHILD_ROOT;
	c->lazy_pin = LAZY_PIN_UNTIL_LAST_FOLIO;
	c->lazy_walk_lock = LAZY_WALK_RCU;
	/* 0.6 % of a 192-byte vm_area_struct: the middle of the series' +0.2…+1.0 % (lazy.md §2.2). */
	c->lazy_vma_growth_bytes = 1.15;
	c->lazy_switch_on_ns = -1;
	c->lazy_rewrite_lock = LAZY_REWRITE_PTL;
	c->lazy_adopt = LAZY_ADOPT_CONSERVATIVE;
	c->lazy_merge_roots = LAZY_MERGE_ROOTS_REFUSE;
	c->lazy_tree_parent_reuse = LAZY_TP_REUSE_MAINLINE;
	c->lazy_ksm = LAZY_KSM_UPGRADE;
	c->arch[0] = '\0';
	c->min_saving_percent = 20.0;
	c->max_lock_wait_regression_percent = 10.0;
	c->max_fork_cost_regression_percent = 10.0;
	c->lock_wait_floor_ns_per_s = 1000.0; /* 1 us of waiting per second of trace */
	c->trylock_floor_per_s = 1.0;
	c->fork_cost_floor_ns = 1000.0;       /* 1 us per fork: ~1-3 % of the cheapest fork */
	c->min_forks_mean = 10;
	c->min_forks_p99 = 100;
	c->max_lost_share = 0;
	c->max_skipped_share = 0;
	c->ksm = true;
	c->reclaim_share_per_s = 0.0;
	c->compaction_share_per_s = 0.0;
	c->page_idle_sweep_s = 0.0;
}

struct load_ctx {
	struct config *c;
	const char *path;
};

typedef int (*key_setter)(struct load_ctx *lc, const char *key, const char *value, int line,
			  struct avm_err *err);

static int set_profile(struct load_ctx *lc, const char *key, const char *v, int line,
		       struct avm_err *err)
{
	static const char *const names[] = { "P1", "P2", "P3", "P4" };
	int i;

	if (config_parse_enum(lc->path, line, key, v, names, 4, &i, err))
		return -1;
	lc->c->profile = i + 1;
	return 0;
}

static int set_thp(struct load_ctx *lc, const char *key, const char *v, int line,
		   struct avm_err *err)
{
	static const char *const names[] = { "never", "madvise", "always" };
	int i;

	if (config_parse_enum(lc->path, line, key, v, names, 3, &i, err))
		return -1;
	lc->c->thp_enabled = i;
	lc->c->thp_from_trace = false;
	return 0;
}

static int set_overcommit(struct load_ctx *lc, const char *key, const char *v, int line,
			  struct avm_err *err)
{
	return config_parse_bool(lc->path, line, key, v, &lc->c->overcommit_never, err);
}

static int set_ksm(struct load_ctx *lc, const char *key, const char *v, int line,
		   struct avm_err *err)
{
	return config_parse_bool(lc->path, line, key, v, &lc->c->ksm, err);
}

static int set_size(uint32_t *dst, struct load_ctx *lc, const char *key, const char *v,
		    int line, struct avm_err *err)
{
	uint64_t n;

	if (config_u64_in_range(lc->path, line, key, v, CONFIG_UNIT_SIZE, 0, CONFIG_MAX_OBJ_SIZE,
				&n, err))
		return -1;
	*dst = (uint32_t)n;
	return 0;
}

static int set_size_av(struct load_ctx *lc, const char *key, const char *v, int line,
		       struct avm_err *err)
{
	return set_size(&lc->c->size_anon_vma, lc, key, v, line, err);
}

static int set_size_avc(struct load_ctx *lc, const char *key, const char *v, int line,
			struct avm_err *err)
{
	return set_size(&lc->c->size_avc, lc, key, v, line, err);
}

static int set_size_vma(struct load_ctx *lc, const char *key, const char *v, int line,
			struct avm_err *err)
{
	return set_size(&lc->c->size_vma, lc, key, v, line, err);
}

/* Value names of the lazy policies, indexed by their enums (config.h). */
static const char *const mremap_names[] = { "upgrade", "rebase" };
static const char *const cow_names[] = { "child_root", "parent_av" };
static const char *const pin_names[] = { "until_last_folio", "none" };
static const char *const walk_names[] = { "rcu", "vma_read", "mmap_trylock" };
static const char *const rewrite_names[] = { "ptl", "vma_write", "anon_vma_write" };
static const char *const adopt_names[] = { "conservative", "optimistic" };
static const char *const merge_roots_names[] = { "refuse", "allow" };
static const char *const tp_reuse_names[] = { "mainline", "allocate" };
static const char *const lazy_ksm_names[] = { "upgrade", "root" };
#define NAMES_N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define NAME_OF(a, i) ((unsigned)(i) < (unsigned)NAMES_N(a) ? (a)[i] : "?")

const char *config_lazy_mremap_name(enum lazy_mremap_policy p) { return NAME_OF(mremap_names, p); }
const char *config_lazy_cow_owner_name(enum lazy_cow_owner p) { return NAME_OF(cow_names, p); }
const char *config_lazy_pin_name(enum lazy_pin_policy p) { return NAME_OF(pin_names, p); }
const char *config_lazy_walk_lock_name(enum lazy_walk_lock p) { return NAME_OF(walk_names, p); }
const char *config_lazy_rewrite_lock_name(enum lazy_rewrite_lock p)
{
	return NAME_OF(rewrite_names, p);
}
const char *config_lazy_adopt_name(enum lazy_adopt p) { return NAME_OF(adopt_names, p); }
const char *config_lazy_merge_roots_name(enum lazy_merge_roots p)
{
	return NAME_OF(merge_roots_names, p);
}
const char *config_lazy_tree_parent_reuse_name(enum lazy_tree_parent_reuse p)
{
	return NAME_OF(tp_reuse_names, p);
}
const char *config_lazy_ksm_name(enum lazy_ksm p) { return NAME_OF(lazy_ksm_names, p); }

static int set_lazy_mremap(struct load_ctx *lc, const char *key, const char *v, int line,
			   struct avm_err *err)
{
	const char *const *names = mremap_names;
	int i;

	if (config_parse_enum(lc->path, line, key, v, names, 2, &i, err))
		return -1;
	lc->c->lazy_mremap = (enum lazy_mremap_policy)i;
	return 0;
}

static int set_lazy_cow(struct load_ctx *lc, const char *key, const char *v, int line,
			struct avm_err *err)
{
	const char *const *names = cow_names;
	int i;

	if (config_parse_enum(lc->path, line, key, v, names, 2, &i, err))
		return -1;
	lc->c->lazy_cow_owner = (enum lazy_cow_owner)i;
	return 0;
}

static int set_lazy_pin(struct load_ctx *lc, const char *key, const char *v, int line,
			struct avm_err *err)
{
	const char *const *names = pin_names;
	int i;

	if (config_parse_enum(lc->path, line, key, v, names, 2, &i, err))
		return -1;
	lc->c->lazy_pin = (enum lazy_pin_policy)i;
	return 0;
}

static int set_lazy_walk(struct load_ctx *lc, const char *key, const char *v, int line,
			 struct avm_err *err)
{
	const char *const *names = walk_names;
	int i;

	if (config_parse_enum(lc->path, line, key, v, names, 3, &i, err))
		return -1;
	lc->c->lazy_walk_lock = (enum lazy_walk_lock)i;
	return 0;
}

static int set_lazy_rewrite(struct load_ctx *lc, const char *key, const char *v, int line,
			    struct avm_err *err)
{
	int i;

	if (config_parse_enum(lc->path, line, key, v, rewrite_names, NAMES_N(rewrite_names), &i,
			      err))
		return -1;
	lc->c->lazy_rewrite_lock = (enum lazy_rewrite_lock)i;
	return 0;
}

static int set_lazy_adopt(struct load_ctx *lc, const char *key, const char *v, int line,
			  struct avm_err *err)
{
	int i;

	if (config_parse_enum(lc->path, line, key, v, adopt_names, NAMES_N(adopt_names), &i, err))
		return -1;
	lc->c->lazy_adopt = (enum lazy_adopt)i;
	return 0;
}

static int set_lazy_merge_roots(struct load_ctx *lc, const char *key, const char *v, int line,
				struct avm_err *err)
{
	int i;

	if (config_parse_enum(lc->path, line, key, v, merge_roots_names,
			      NAMES_N(merge_roots_names), &i, err))
		return -1;
	lc->c->lazy_merge_roots = (enum lazy_merge_roots)i;
	return 0;
}

static int set_lazy_tp_reuse(struct load_ctx *lc, const char *key, const char *v, int line,
			     struct avm_err *err)
{
	int i;

	if (config_parse_enum(lc->path, line, key, v, tp_reuse_names, NAMES_N(tp_reuse_names), &i,
			      err))
		return -1;
	lc->c->lazy_tree_parent_reuse = (enum lazy_tree_parent_reuse)i;
	return 0;
}

static int set_lazy_ksm(struct load_ctx *lc, const char *key, const char *v, int line,
			struct avm_err *err)
{
	int i;

	if (config_parse_enum(lc->path, line, key, v, lazy_ksm_names, NAMES_N(lazy_ksm_names), &i,
			      err))
		return -1;
	lc->c->lazy_ksm = (enum lazy_ksm)i;
	return 0;
}

static int set_percent(double *dst, struct load_ctx *lc, const char *key, const char *v,
		       int line, struct avm_err *err)
{
	return config_double_in_range(lc->path, line, key, v, 0, CONFIG_MAX_PERCENT, dst, err);
}

static int set_share(double *dst, struct load_ctx *lc, const char *key, const char *v,
		     int line, struct avm_err *err)
{
	return config_double_in_range(lc->path, line, key, v, 0, 1, dst, err);
}

/* The verdict's floors and fork counts: 0 .. CONFIG_MAX_AMOUNT. */
static int set_amount(double *dst, struct load_ctx *lc, const char *key, const char *v,
		      int line, struct avm_err *err)
{
	return config_double_in_range(lc->path, line, key, v, 0, CONFIG_MAX_AMOUNT, dst, err);
}

static int set_lazy_growth(struct load_ctx *lc, const char *key, const char *v, int line,
			   struct avm_err *err)
{
	return config_double_in_range(lc->path, line, key, v, 0, CONFIG_MAX_VMA_GROWTH,
				      &lc->c->lazy_vma_growth_bytes, err);
}

static int set_lazy_switch(struct load_ctx *lc, const char *key, const char *v, int line,
			   struct avm_err *err)
{
	uint64_t ns;

	if (v && (strcmp(v, "-1") == 0 || strcmp(v, "start") == 0)) {
		lc->c->lazy_switch_on_ns = -1;
		return 0;
	}
	if (config_u64_in_range(lc->path, line, key, v, CONFIG_UNIT_DURATION, 0, INT64_MAX, &ns,
				err))
		return -1;
	lc->c->lazy_switch_on_ns = (int64_t)ns;
	return 0;
}

static int set_arch(struct load_ctx *lc, const char *key, const char *v, int line,
		    struct avm_err *err)
{
	if (strlen(v) >= sizeof(lc->c->arch))
		return avm_errf(err, "%s:%d: '%s' is too long (got '%s')", lc->path, line, key, v);
	snprintf(lc->c->arch, sizeof(lc->c->arch), "%s", v);
	return 0;
}

static int set_min_saving(struct load_ctx *lc, const char *key, const char *v, int line,
			  struct avm_err *err)
{
	return config_double_in_range(lc->path, line, key, v, 0, 100, &lc->c->min_saving_percent,
				      err);
}

static int set_max_lock(struct load_ctx *lc, const char *key, const char *v, int line,
			struct avm_err *err)
{
	return set_percent(&lc->c->max_lock_wait_regression_percent, lc, key, v, line, err);
}

static int set_wait_floor(struct load_ctx *lc, const char *key, const char *v, int line,
			  struct avm_err *err)
{
	return set_amount(&lc->c->lock_wait_floor_ns_per_s, lc, key, v, line, err);
}

static int set_try_floor(struct load_ctx *lc, const char *key, const char *v, int line,
			 struct avm_err *err)
{
	return set_amount(&lc->c->trylock_floor_per_s, lc, key, v, line, err);
}

static int set_fork_floor(struct load_ctx *lc, const char *key, const char *v, int line,
			  struct avm_err *err)
{
	return set_amount(&lc->c->fork_cost_floor_ns, lc, key, v, line, err);
}

static int set_min_forks(struct load_ctx *lc, const char *key, const char *v, int line,
			 struct avm_err *err)
{
	return set_amount(&lc->c->min_forks_mean, lc, key, v, line, err);
}

static int set_min_forks_p99(struct load_ctx *lc, const char *key, const char *v, int line,
			     struct avm_err *err)
{
	return set_amount(&lc->c->min_forks_p99, lc, key, v, line, err);
}

static int set_lost_share(struct load_ctx *lc, const char *key, const char *v, int line,
			  struct avm_err *err)
{
	return set_share(&lc->c->max_lost_share, lc, key, v, line, err);
}

static int set_skipped_share(struct load_ctx *lc, const char *key, const char *v, int line,
			     struct avm_err *err)
{
	return set_share(&lc->c->max_skipped_share, lc, key, v, line, err);
}

static int set_max_fork(struct load_ctx *lc, const char *key, const char *v, int line,
			struct avm_err *err)
{
	return set_percent(&lc->c->max_fork_cost_regression_percent, lc, key, v, line, err);
}

static int set_reclaim(struct load_ctx *lc, const char *key, const char *v, int line,
		       struct avm_err *err)
{
	return set_share(&lc->c->reclaim_share_per_s, lc, key, v, line, err);
}

static int set_compaction(struct load_ctx *lc, const char *key, const char *v, int line,
			  struct avm_err *err)
{
	return set_share(&lc->c->compaction_share_per_s, lc, key, v, line, err);
}

static int set_idle_sweep(struct load_ctx *lc, const char *key, const char *v, int line,
			  struct avm_err *err)
{
	double d;

	if (config_double_in_range(lc->path, line, key, v, 0, CONFIG_MAX_IDLE_SWEEP_S, &d, err))
		return -1;
	/* Faster than one sweep per pressure tick would walk each folio several
	 * times between two ticks of the same state: refused, not clamped. */
	if (d > 0 && d < CONFIG_MIN_IDLE_SWEEP_S)
		return avm_errf(err, "%s:%d: '%s' must be 0 (off) or between %g and %g (got '%s')",
				lc->path, line, key, CONFIG_MIN_IDLE_SWEEP_S,
				CONFIG_MAX_IDLE_SWEEP_S, v);
	lc->c->page_idle_sweep_s = d;
	return 0;
}

/* Every key of the replay config; docs/config.md and configs/default.yaml list the same. */
static const struct {
	const char *key;
	key_setter set;
} config_keys[] = {
	{ "kernel.profile", set_profile },
	{ "kernel.thp_enabled", set_thp },
	{ "kernel.overcommit_never", set_overcommit },
	{ "kernel.ksm", set_ksm },
	{ "sizes.anon_vma", set_size_av },
	{ "sizes.anon_vma_chain", set_size_avc },
	{ "sizes.vm_area_struct", set_size_vma },
	{ "lazy.mremap", set_lazy_mremap },
	{ "lazy.cow_owner", set_lazy_cow },
	{ "lazy.pin", set_lazy_pin },
	{ "lazy.walk_lock", set_lazy_walk },
	{ "lazy.vma_growth_bytes", set_lazy_growth },
	{ "lazy.switch_on", set_lazy_switch },
	{ "lazy.rewrite_lock", set_lazy_rewrite },
	{ "lazy.adopt", set_lazy_adopt },
	{ "lazy.merge_roots", set_lazy_merge_roots },
	{ "lazy.tree_parent_reuse", set_lazy_tp_reuse },
	{ "lazy.ksm", set_lazy_ksm },
	{ "arch.name", set_arch },
	{ "verdict.min_saving_percent", set_min_saving },
	{ "verdict.max_lock_wait_regression_percent", set_max_lock },
	{ "verdict.max_lock_hold_regression_percent", set_max_lock }, /* the old name */
	{ "verdict.max_fork_cost_regression_percent", set_max_fork },
	{ "verdict.lock_wait_floor_ns_per_s", set_wait_floor },
	{ "verdict.trylock_floor_per_s", set_try_floor },
	{ "verdict.fork_cost_floor_ns", set_fork_floor },
	{ "verdict.min_forks_mean", set_min_forks },
	{ "verdict.min_forks_p99", set_min_forks_p99 },
	{ "verdict.max_lost_share", set_lost_share },
	{ "verdict.max_skipped_share", set_skipped_share },
	{ "pressure.reclaim_share_per_s", set_reclaim },
	{ "pressure.compaction_share_per_s", set_compaction },
	{ "pressure.page_idle_sweep_s", set_idle_sweep },
};

static const char *const config_sections[] = {
	"kernel", "sizes", "lazy", "arch", "verdict", "pressure",
};

static int load_scalar(void *ctx, const char *key, const char *value, int line,
		       struct avm_err *err)
{
	struct load_ctx *lc = ctx;
	size_t i;

	for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		if (strcmp(config_keys[i].key, key) == 0)
			return config_keys[i].set(lc, key, value, line, err);
	}
	/* A null value ("kernel:" with nothing under it) is an empty section. */
	for (i = 0; value[0] == '\0' && i < sizeof(config_sections) / sizeof(config_sections[0]);
	     i++) {
		if (strcmp(config_sections[i], key) == 0)
			return 0;
	}
	for (i = 0; i < sizeof(config_sections) / sizeof(config_sections[0]); i++) {
		if (strcmp(config_sections[i], key) == 0)
			return avm_errf(err, "%s:%d: '%s' must be a mapping of keys", lc->path,
					line, key);
	}
	return avm_errf(err, "%s:%d: unknown key '%s'", lc->path, line, key);
}

int config_load(struct config *c, const char *path, struct avm_err *err)
{
	struct config tmp = *c;
	struct load_ctx lc = { .c = &tmp, .path = path };

	/* Load into a copy so a failed load leaves *c as it was. */
	if (config_yaml_scalars(path, load_scalar, &lc, err))
		return -1;
	*c = tmp;
	return 0;
}

/* ---- one key at a time (--set, --sweep) -------------------------------------------------- */

const char *config_key_name(size_t i)
{
	return i < sizeof(config_keys) / sizeof(config_keys[0]) ? config_keys[i].key : NULL;
}

bool config_has_key(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
		if (strcmp(config_keys[i].key, key) == 0)
			return true;
	return false;
}

int config_set(struct config *c, const char *key, const char *value, struct avm_err *err)
{
	struct config tmp = *c;
	static const char prefix[] = "--set:0: ";
	struct load_ctx lc = { .c = &tmp, .path = "--set" };
	size_t i;

	for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		if (strcmp(config_keys[i].key, key) != 0)
			continue;
		if (config_keys[i].set(&lc, key, value, 0, err)) {
			/* the setters speak of file:line; a --set value has neither */
			if (err && !strncmp(err->msg, prefix, sizeof(prefix) - 1))
				memmove(err->msg, err->msg + sizeof(prefix) - 1,
					strlen(err->msg) - (sizeof(prefix) - 1) + 1);
			return -1;
		}
		*c = tmp;
		return 0;
	}
	return avm_errf(err, "unknown config key '%s' (docs/config.md lists them)", key);
}
