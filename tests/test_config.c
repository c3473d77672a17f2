/*
 * test_config.c - the YAML config reader: defaults, every key, and the
 * bad-input rules (unknown key and bad value with file:line, YAML syntax
 * errors, missing file), plus the generic scalar walker and value parsers
 * other modules reuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfgecho.h"
#include "config.h"

static char tmp_path[64];

/* Write text to a fresh temporary file and return its path. */
static const char *write_tmp(const char *text)
{
	int fd;
	size_t len = strlen(text);

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/test_config_XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return tmp_path;
}

static int teardown(void **state)
{
	(void)state;
	if (tmp_path[0])
		unlink(tmp_path);
	tmp_path[0] = '\0';
	return 0;
}

/* Expect config_load to fail with message "<tmp>:<suffix>". */
static void expect_load_error(const char *text, const char *suffix)
{
	struct config c;
	struct avm_err err = { "" };
	char want[512];
	const char *path = write_tmp(text);

	config_defaults(&c);
	c.profile = 2; /* a failed load must leave the struct as it was */
	assert_int_equal(config_load(&c, path, &err), -1);
	snprintf(want, sizeof(want), "%s:%s", path, suffix);
	assert_string_equal(err.msg, want);
	assert_int_equal(c.profile, 2);
}

static void test_defaults(void **state)
{
	struct config c;

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	config_defaults(&c);
	assert_int_equal(c.profile, 3);
	assert_int_equal(c.thp_enabled, 1);
	assert_true(c.thp_from_trace);
	assert_false(c.overcommit_never);
	assert_true(c.ksm);
	assert_int_equal(c.size_anon_vma, 0);
	assert_int_equal(c.size_avc, 0);
	assert_int_equal(c.size_vma, 0);
	assert_int_equal(c.lazy_mremap, LAZY_MREMAP_UPGRADE);
	assert_int_equal(c.lazy_cow_owner, LAZY_COW_CHILD_ROOT);
	assert_int_equal(c.lazy_pin, LAZY_PIN_UNTIL_LAST_FOLIO);
	assert_int_equal(c.lazy_walk_lock, LAZY_WALK_RCU);
	assert_true(c.lazy_vma_growth_bytes > 0.2 * 192 / 100 - 1e-9);
	assert_true(c.lazy_vma_growth_bytes < 1.0 * 192 / 100 + 1e-9);
	assert_int_equal(c.lazy_switch_on_ns, -1);
	assert_int_equal(c.lazy_rewrite_lock, LAZY_REWRITE_PTL);
	assert_int_equal(c.lazy_adopt, LAZY_ADOPT_CONSERVATIVE);
	assert_int_equal(c.lazy_merge_roots, LAZY_MERGE_ROOTS_REFUSE);
	assert_int_equal(c.lazy_tree_parent_reuse, LAZY_TP_REUSE_MAINLINE);
	assert_string_equal(c.arch, "");
	assert_true(c.min_saving_percent > 0);
	assert_true(c.max_lock_wait_regression_percent > 0);
	assert_true(c.max_fork_cost_regression_percent > 0);
	assert_true(c.reclaim_share_per_s == 0.0);
	assert_true(c.compaction_share_per_s == 0.0);
	assert_true(c.page_idle_sweep_s == 0.0);
}

static void test_every_key(void **state)
{
	struct config c;
	struct avm_err err = { "" };
	const char *path = write_tmp("kernel:\n"
				     "  profile: P1\n"
				     "  thp_enabled: always\n"
				     "  overcommit_never: true\n"
				     "  ksm: no\n"
				     "sizes:\n"
				     "  anon_vma: 96\n"
				     "  anon_vma_chain: 72\n"
				     "  vm_area_struct: 1K\n"
				     "lazy:\n"
				     "  mremap: rebase\n"
				     "  cow_owner: parent_av\n"
				     "  pin: none\n"
				     "  walk_lock: mmap_trylock\n"
				     "  vma_growth_bytes: 8\n"
				     "  switch_on: 250ms\n"
				     "  rewrite_lock: anon_vma_write\n"
				     "  adopt: optimistic\n"
				     "  merge_roots: allow\n"
				     "  tree_parent_reuse: allocate\n"
				     "arch:\n"
				     "  name: arm64-4k-48\n"
				     "verdict:\n"
				     "  min_saving_percent: 5.5\n"
				     "  max_lock_hold_regression_percent: 3\n"
				     "  max_fork_cost_regression_percent: 7.25\n"
				     "pressure:\n"
				     "  reclaim_share_per_s: 0.01\n"
				     "  compaction_share_per_s: 0.5\n"
				     "  page_idle_sweep_s: 120\n");

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, &err), 0);
	assert_int_equal(c.profile, 1);
	assert_int_equal(c.thp_enabled, 2);
	assert_false(c.thp_from_trace);
	assert_true(c.overcommit_never);
	assert_false(c.ksm);
	assert_int_equal(c.size_anon_vma, 96);
	assert_int_equal(c.size_avc, 72);
	assert_int_equal(c.size_vma, 1024);
	assert_int_equal(c.lazy_mremap, LAZY_MREMAP_REBASE);
	assert_int_equal(c.lazy_cow_owner, LAZY_COW_PARENT_AV);
	assert_int_equal(c.lazy_pin, LAZY_PIN_NONE);
	assert_int_equal(c.lazy_walk_lock, LAZY_WALK_MMAP_TRYLOCK);
	assert_true(c.lazy_vma_growth_bytes == 8.0);
	assert_int_equal(c.lazy_switch_on_ns, 250000000);
	assert_int_equal(c.lazy_rewrite_lock, LAZY_REWRITE_ANON_VMA_WRITE);
	assert_int_equal(c.lazy_adopt, LAZY_ADOPT_OPTIMISTIC);
	assert_int_equal(c.lazy_merge_roots, LAZY_MERGE_ROOTS_ALLOW);
	assert_int_equal(c.lazy_tree_parent_reuse, LAZY_TP_REUSE_ALLOCATE);
	assert_string_equal(config_lazy_rewrite_lock_name(c.lazy_rewrite_lock), "anon_vma_write");
	assert_string_equal(config_lazy_adopt_name(c.lazy_adopt), "optimistic");
	assert_string_equal(config_lazy_merge_roots_name(c.lazy_merge_roots), "allow");
	assert_string_equal(config_lazy_tree_parent_reuse_name(c.lazy_tree_parent_reuse),
			    "allocate");
	assert_string_equal(config_lazy_rewrite_lock_name((enum lazy_rewrite_lock)7), "?");
	assert_string_equal(c.arch, "arm64-4k-48");
	assert_true(c.min_saving_percent == 5.5);
	assert_true(c.max_lock_wait_regression_percent == 3.0);
	assert_true(c.max_fork_cost_regression_percent == 7.25);
	assert_true(c.reclaim_share_per_s == 0.01);
	assert_true(c.compaction_share_per_s == 0.5);
	assert_true(c.page_idle_sweep_s == 120.0);
}

/* A partial file changes only what it names; thp_enabled "never" is 0, not "unset". */
static void test_partial_file_keeps_defaults(void **state)
{
	struct config c;
	struct avm_err err = { "" };
	const char *path = write_tmp("# only two keys\nkernel:\n  thp_enabled: never\nlazy:\n"
				     "  switch_on: start\n");

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, &err), 0);
	assert_int_equal(c.thp_enabled, 0);
	assert_false(c.thp_from_trace);
	assert_int_equal(c.profile, 3);
	assert_int_equal(c.lazy_switch_on_ns, -1);
}

static void test_shipped_default_yaml(void **state)
{
	struct config a, b;
	struct avm_err err = { "" };

	(void)state;
	/* configs/default.yaml spells out every default: loading it changes nothing. */
	config_defaults(&a);
	config_defaults(&b);
	assert_int_equal(config_load(&b, "configs/default.yaml", &err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_empty_file(void **state)
{
	struct config c;
	struct avm_err err = { "" };
	const char *path = write_tmp("");

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, &err), 0);
	assert_int_equal(c.profile, 3);
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_load_error("kernel:\n  profile: P3\n  foo: 1\n", "3: unknown key 'kernel.foo'");
	teardown(NULL);
	expect_load_error("\n\nbogus:\n  a: 1\n", "4: unknown key 'bogus.a'");
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_load_error("kernel:\n  profile: P9\n",
			  "2: 'kernel.profile' must be one of P1, P2, P3, P4 (got 'P9')");
	teardown(NULL);
	expect_load_error("sizes:\n  anon_vma: lots\n",
			  "2: 'sizes.anon_vma' must be a size in bytes (optionally with K, M, G "
			  "or T) (got 'lots')");
	teardown(NULL);
	expect_load_error("kernel:\n  ksm: maybe\n",
			  "2: 'kernel.ksm' must be true or false (got 'maybe')");
	teardown(NULL);
	expect_load_error("verdict:\n  min_saving_percent: -3\n",
			  "2: 'verdict.min_saving_percent' must be between 0 and 100 (got '-3')");
	teardown(NULL);
	expect_load_error("pressure:\n  reclaim_share_per_s: 2\n",
			  "2: 'pressure.reclaim_share_per_s' must be between 0 and 1 (got '2')");
	teardown(NULL);
	expect_load_error("lazy:\n  walk_lock: spin\n",
			  "2: 'lazy.walk_lock' must be one of rcu, vma_read, mmap_trylock "
			  "(got 'spin')");
	teardown(NULL);
	teardown(NULL);
	expect_load_error("lazy:\n  rewrite_lock: rcu\n",
			  "2: 'lazy.rewrite_lock' must be one of ptl, vma_write, anon_vma_write "
			  "(got 'rcu')");
	teardown(NULL);
	expect_load_error("lazy:\n  adopt: yes\n",
			  "2: 'lazy.adopt' must be one of conservative, optimistic (got 'yes')");
	teardown(NULL);
	expect_load_error("lazy:\n  merge_roots: true\n",
			  "2: 'lazy.merge_roots' must be one of refuse, allow (got 'true')");
	teardown(NULL);
	expect_load_error("lazy:\n  tree_parent_reuse: never\n",
			  "2: 'lazy.tree_parent_reuse' must be one of mainline, allocate "
			  "(got 'never')");
	teardown(NULL);
	expect_load_error("kernel: P3\n", "1: 'kernel' must be a mapping of keys");
}

/* Every numeric key is range-checked at load, with file:line (docs/config.md "Ranges"). */
static void test_ranges(void **state)
{
	(void)state;
	/* 1e18 bytes more per VMA would make each vm_area_struct an exabyte */
	expect_load_error("lazy:\n  vma_growth_bytes: 1e18\n",
			  "2: 'lazy.vma_growth_bytes' must be between 0 and 4096 (got '1e18')");
	teardown(NULL);
	expect_load_error("sizes:\n  vm_area_struct: 1M\n",
			  "2: 'sizes.vm_area_struct' must be between 0 and 65536 bytes (got '1M')");
	teardown(NULL);
	/* a sweep every microsecond: walks without bound (one sweep per 0.1 s tick at most) */
	expect_load_error("pressure:\n  page_idle_sweep_s: 0.000001\n",
			  "2: 'pressure.page_idle_sweep_s' must be 0 (off) or between 0.1 and 1e+09 "
			  "(got '0.000001')");
	teardown(NULL);
	/* 1e-300 underflows nothing here, it is just below the range; 1e-400 underflows */
	expect_load_error("pressure:\n  page_idle_sweep_s: 1e-300\n",
			  "2: 'pressure.page_idle_sweep_s' must be 0 (off) or between 0.1 and 1e+09 "
			  "(got '1e-300')");
	teardown(NULL);
	expect_load_error("pressure:\n  page_idle_sweep_s: 1e-400\n",
			  "2: 'pressure.page_idle_sweep_s' must be a number (got '1e-400')");
	teardown(NULL);
	expect_load_error("verdict:\n  max_fork_cost_regression_percent: 1e300\n",
			  "2: 'verdict.max_fork_cost_regression_percent' must be between 0 and "
			  "1e+06 (got '1e300')");
	teardown(NULL);
	expect_load_error("lazy:\n  switch_on: 18446744073709551615\n",
			  "2: 'lazy.switch_on' must be between 0 and 9223372036854775807 ns (got "
			  "'18446744073709551615')");
	teardown(NULL);
	/* YAML 1.1 reads 010 as 8, YAML 1.2 as 10: refused, never guessed */
	expect_load_error("sizes:\n  anon_vma: 010\n",
			  "2: 'sizes.anon_vma' has a leading zero (got '010'): YAML 1.1 reads it "
			  "as octal, YAML 1.2 as decimal; write it without the zero");
	teardown(NULL);
	expect_load_error("verdict:\n  min_saving_percent: 010\n",
			  "2: 'verdict.min_saving_percent' has a leading zero (got '010'): YAML 1.1 "
			  "reads it as octal, YAML 1.2 as decimal; write it without the zero");
	teardown(NULL);
}

static void test_range_edges(void **state)
{
	struct avm_err err = { "" };
	uint64_t u = 7;
	double d = 7;

	(void)state;
	/* the bounds themselves are in range */
	assert_int_equal(config_u64_in_range("f", 1, "k", "4K", CONFIG_UNIT_SIZE, 4096, 4096, &u,
					     &err), 0);
	assert_int_equal(u, 4096);
	assert_int_equal(config_u64_in_range("f", 1, "k", "4097", CONFIG_UNIT_NONE, 0, 4096, &u,
					     &err), -1);
	assert_string_equal(err.msg, "f:1: 'k' must be between 0 and 4096 (got '4097')");
	assert_int_equal(u, 4096); /* unchanged on error */
	assert_int_equal(config_u64_in_range(NULL, 0, "k", "2s", CONFIG_UNIT_DURATION, 0,
					     1000000000, &u, &err), -1);
	assert_string_equal(err.msg, "'k' must be between 0 and 1000000000 ns (got '2s')");
	assert_int_equal(config_u64_in_range("f", 1, "k", "0", CONFIG_UNIT_NONE, 0, 1, &u, &err),
			 0);
	assert_int_equal(u, 0);
	assert_int_equal(config_u64_in_range("f", 1, "k", "0x10", CONFIG_UNIT_NONE, 0, 99, &u,
					     &err), 0);
	assert_int_equal(u, 16); /* hex is the same in YAML 1.1 and 1.2 */
	assert_int_equal(config_u64_in_range("f", 1, "k", "007", CONFIG_UNIT_NONE, 0, 99, &u,
					     &err), -1);
	assert_int_equal(config_double_in_range("f", 1, "k", "0.5", 0, 1, &d, &err), 0);
	assert_true(d == 0.5);
	assert_int_equal(config_double_in_range("f", 1, "k", "nan", 0, 1, &d, &err), -1);
	assert_int_equal(config_double_in_range("f", 1, "k", "-0.1", 0, 1, &d, &err), -1);
	assert_string_equal(err.msg, "f:1: 'k' must be between 0 and 1 (got '-0.1')");
	assert_true(d == 0.5);
}

static void test_bad_yaml_syntax(void **state)
{
	struct config c;
	struct avm_err err = { "" };
	char want[128];
	const char *path = write_tmp("kernel:\n  profile: P3\n   thp_enabled: [always\n");

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, &err), -1);
	snprintf(want, sizeof(want), "%s:3: YAML syntax error", path);
	assert_memory_equal(err.msg, want, strlen(want));
}

static void test_top_level_not_mapping(void **state)
{
	(void)state;
	expect_load_error("- a\n- b\n", "1: the top level must be a mapping of keys");
}

static void test_missing_file(void **state)
{
	struct config c;
	struct avm_err err = { "" };

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, "/nonexistent/anonvma.yaml", &err), -1);
	assert_string_equal(err.msg, "/nonexistent/anonvma.yaml: No such file or directory");
}

struct seen {
	char lines[8][96];
	int n;
};

static int record_scalar(void *ctx, const char *key, const char *value, int line,
			 struct avm_err *err)
{
	struct seen *s = ctx;

	(void)err;
	assert_true(s->n < 8);
	snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%d %s=%s", line, key, value);
	return 0;
}

static int refuse_scalar(void *ctx, const char *key, const char *value, int line,
			 struct avm_err *err)
{
	(void)ctx;
	(void)value;
	return avm_errf(err, "refused %s at %d", key, line);
}

/* The generic walker: dotted paths, sequence indexes, lines, and a callback's error. */
static void test_yaml_scalars_walk(void **state)
{
	struct seen s = { .n = 0 };
	struct avm_err err = { "" };
	const char *path = write_tmp("name: x86_64-4level\n"
				     "costs:\n"
				     "  tlb_flush_ns: 120\n"
				     "levels:\n"
				     "  - bits: 9\n"
				     "  - bits: 12\n");

	(void)state;
	assert_int_equal(config_yaml_scalars(path, record_scalar, &s, &err), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.lines[0], "1 name=x86_64-4level");
	assert_string_equal(s.lines[1], "3 costs.tlb_flush_ns=120");
	assert_string_equal(s.lines[2], "5 levels.0.bits=9");
	assert_string_equal(s.lines[3], "6 levels.1.bits=12");
	assert_int_equal(config_yaml_scalars(path, refuse_scalar, NULL, &err), -1);
	assert_string_equal(err.msg, "refused name at 1");
}

/* The document API used by scenario readers. */
static void test_yaml_document(void **state)
{
	struct config_yaml *y = NULL;
	struct avm_err err = { "" };
	const char *path = write_tmp("procs:\n  - name: a\n    n: 3\n  - name: b\n");
	int root, procs, p1, name;

	(void)state;
	assert_int_equal(config_yaml_open(path, &y, &err), 0);
	root = config_yaml_root(y);
	assert_int_equal(config_yaml_type(y, root), CONFIG_NODE_MAP);
	procs = config_yaml_get(y, root, "procs");
	assert_int_equal(config_yaml_type(y, procs), CONFIG_NODE_SEQ);
	assert_int_equal(config_yaml_count(y, procs), 2);
	p1 = config_yaml_item(y, procs, 1);
	assert_int_equal(config_yaml_line(y, p1), 4);
	name = config_yaml_get(y, p1, "name");
	assert_string_equal(config_yaml_scalar(y, name), "b");
	assert_int_equal(config_yaml_get(y, p1, "n"), 0);
	assert_int_equal(config_yaml_item(y, procs, 2), 0);
	assert_null(config_yaml_scalar(y, procs));
	assert_int_equal(config_yaml_errf(y, name, &err, "bad %s", "name"), -1);
	{
		char want[96];

		snprintf(want, sizeof(want), "%s:4: bad name", path);
		assert_string_equal(err.msg, want);
	}
	config_yaml_close(y);
}

static void test_value_parsers(void **state)
{
	struct avm_err err = { "" };
	uint64_t u;
	int64_t i;
	double d;
	bool b;
	int e;
	static const char *const names[] = { "a", "b" };

	(void)state;
	assert_int_equal(config_parse_size("f", 1, "k", "4K", &u, &err), 0);
	assert_int_equal(u, 4096);
	assert_int_equal(config_parse_size("f", 1, "k", "2M", &u, &err), 0);
	assert_int_equal(u, 2 << 20);
	assert_int_equal(config_parse_size("f", 1, "k", "3GiB", &u, &err), 0);
	assert_int_equal(u, 3ULL << 30);
	assert_int_equal(config_parse_size("f", 1, "k", "0x1000", &u, &err), 0);
	assert_int_equal(u, 4096);
	assert_int_equal(config_parse_size("f", 1, "k", "-4K", &u, &err), -1);
	assert_int_equal(config_parse_size("f", 1, "k", "99999999999T", &u, &err), -1);
	assert_int_equal(config_parse_duration("f", 1, "k", "3ms", &u, &err), 0);
	assert_int_equal(u, 3000000);
	assert_int_equal(config_parse_duration("f", 1, "k", "5", &u, &err), 0);
	assert_int_equal(u, 5);
	assert_int_equal(config_parse_duration("f", 7, "k", "5 parsecs", &u, &err), -1);
	assert_string_equal(err.msg,
			    "f:7: 'k' must be a duration (ns, or with a ns, us, ms or s suffix) "
			    "(got '5 parsecs')");
	assert_int_equal(config_parse_u64("f", 1, "k", "12x", &u, &err), -1);
	assert_int_equal(config_parse_i64("f", 1, "k", "-12", &i, &err), 0);
	assert_int_equal(i, -12);
	assert_int_equal(config_parse_double("f", 1, "k", "1e3", &d, &err), 0);
	assert_true(d == 1000.0);
	assert_int_equal(config_parse_double("f", 1, "k", "nan", &d, &err), -1);
	assert_int_equal(config_parse_bool("f", 1, "k", "Off", &b, &err), 0);
	assert_false(b);
	assert_int_equal(config_parse_enum(NULL, 0, "k", "b", names, 2, &e, &err), 0);
	assert_int_equal(e, 1);
	assert_int_equal(config_parse_enum(NULL, 0, "k", "c", names, 2, &e, &err), -1);
	assert_string_equal(err.msg, "'k' must be one of a, b (got 'c')");
}

/* --set: one key from its text; errors name the key, with no file:line; *c unchanged on error. */
static void test_config_set(void **state)
{
	struct avm_err err = { "" };
	struct config c, before;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "lazy.mremap", "rebase", &err), 0);
	assert_int_equal(c.lazy_mremap, LAZY_MREMAP_REBASE);
	assert_int_equal(config_set(&c, "verdict.fork_cost_floor_ns", "250", &err), 0);
	assert_true(c.fork_cost_floor_ns == 250);
	/* the /1 name of the lock threshold sets the new field */
	assert_int_equal(config_set(&c, "verdict.max_lock_hold_regression_percent", "7", &err), 0);
	assert_true(c.max_lock_wait_regression_percent == 7);
	before = c;
	assert_int_equal(config_set(&c, "lazy.mremap", "sideways", &err), -1);
	assert_string_equal(err.msg, "'lazy.mremap' must be one of upgrade, rebase (got 'sideways')");
	assert_int_equal(config_set(&c, "verdict.max_lost_share", "2", &err), -1);
	assert_non_null(strstr(err.msg, "'verdict.max_lost_share' must be between 0 and 1"));
	assert_null(strstr(err.msg, "--set:"));
	assert_int_equal(config_set(&c, "lazy.nope", "1", &err), -1);
	assert_string_equal(err.msg, "unknown config key 'lazy.nope' (docs/config.md lists them)");
	assert_memory_equal(&c, &before, sizeof(c));
	assert_true(config_has_key("verdict.min_forks_p99"));
	assert_false(config_has_key("verdict"));
}

/* The report's config section names every key config_set accepts (none left out). */
static void test_echo_every_key(void **state)
{
	struct config c;
	const char *k;
	char buf[128];

	(void)state;
	config_defaults(&c);
	for (size_t i = 0; (k = config_key_name(i)); i++) {
		if (cfgecho_value(&c, k, buf, sizeof(buf)))
			fail_msg("config key %s has no rendering in cfgecho_value()", k);
		assert_true(buf[0] != '\0');
	}
	assert_int_equal(cfgecho_value(&c, "lazy.nonsense", buf, sizeof(buf)), -1);
}

/* Sources: default, config file (with its line), --set over the file, an old name mapped. */
static void test_echo_sources(void **state)
{
	struct avm_err err = { "" };
	const char *path = write_tmp("lazy:\n  mremap: rebase\n  pin: none\nverdict:\n"
				     "  max_lock_hold_regression_percent: 7\n");
	const char *sets[] = { "lazy.pin" };
	struct config c;
	cJSON *sec, *keys;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, &err), 0);
	assert_int_equal(config_set(&c, "lazy.pin", "until_last_folio", &err), 0);
	{
		struct cfgecho_input in = { .cfg = &c, .config_path = path, .set_keys = sets, .nsets = 1 };

		sec = cfgecho_json(&in, &err);
	}
	assert_non_null(sec);
	keys = cJSON_GetObjectItem(sec, "keys");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(keys, "lazy.mremap"), "value")->valuestring, "rebase");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(keys, "lazy.mremap"), "from")->valuestring, "config file");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(keys, "lazy.mremap"), "line")->valueint, 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(keys, "lazy.pin"), "from")->valuestring, "--set");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(keys, "lazy.pin"), "value")->valuestring, "until_last_folio");
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(keys, "verdict.max_lock_wait_regression_percent"), "value")->valuedouble == 7);
	assert_null(cJSON_GetObjectItem(keys, "verdict.max_lock_hold_regression_percent"));
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(keys, "kernel.profile"), "from")->valuestring, "default");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(keys, "arch.name"), "from")->valuestring, "trace");
	/* default true: replay applies the trace's KSM merges (config.h) */
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(keys, "kernel.ksm"), "value")));
	cJSON_Delete(sec);

}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_defaults, teardown),
		cmocka_unit_test(test_echo_every_key),
		cmocka_unit_test_teardown(test_echo_sources, teardown),
		cmocka_unit_test_teardown(test_every_key, teardown),
		cmocka_unit_test_teardown(test_partial_file_keeps_defaults, teardown),
		cmocka_unit_test_teardown(test_shipped_default_yaml, teardown),
		cmocka_unit_test_teardown(test_empty_file, teardown),
		cmocka_unit_test_teardown(test_unknown_key, teardown),
		cmocka_unit_test_teardown(test_bad_values, teardown),
		cmocka_unit_test_teardown(test_ranges, teardown),
		cmocka_unit_test(test_range_edges),
		cmocka_unit_test_teardown(test_bad_yaml_syntax, teardown),
		cmocka_unit_test_teardown(test_top_level_not_mapping, teardown),
		cmocka_unit_test_teardown(test_missing_file, teardown),
		cmocka_unit_test_teardown(test_yaml_scalars_walk, teardown),
		cmocka_unit_test_teardown(test_yaml_document, teardown),
		cmocka_unit_test_teardown(test_value_parsers, teardown),
		cmocka_unit_test(test_config_set),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
