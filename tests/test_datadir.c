/*
 * test_datadir.c - the data directory search order (datadir.h).
 *
 * The test binary is build/tests/test_datadir (or build/asan/tests/...), so
 * the source tree's configs/ is reached as <exe>/../../configs or
 * <exe>/../../../configs and ./configs (the tests run from the top of the
 * source tree).  $ANONVMA_DATADIR comes first; a data directory without the
 * file is skipped; scenario names resolve to scenarios/<name>.yaml, and an
 * argument that is a path or an existing file is kept as typed.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch.h"
#include "datadir.h"

static char tmpdir[64];

static int setup(void **state)
{
	char path[128];
	FILE *f;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_datadir.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof(path), "%s/scenarios", tmpdir);
	if (mkdir(path, 0755))
		return -1;
	snprintf(path, sizeof(path), "%s/scenarios/mine.yaml", tmpdir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("scenario: mine\n", f);
	return fclose(f);
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	unsetenv("ANONVMA_DATADIR");
	snprintf(path, sizeof(path), "%s/scenarios/mine.yaml", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/scenarios", tmpdir);
	rmdir(path);
	rmdir(tmpdir);
	return 0;
}

/* Does path name the same file as the source tree's configs/<entry>? */
static int same_file(const char *path, const char *entry)
{
	char want[PATH_MAX], a[PATH_MAX], b[PATH_MAX];

	snprintf(want, sizeof(want), "configs/%s", entry);
	return realpath(path, a) && realpath(want, b) && strcmp(a, b) == 0;
}

static void test_order(void **state)
{
	char dirs[DATADIR_MAX][DATADIR_PATH_MAX];
	char out[DATADIR_PATH_MAX];
	int n;

	(void)state;
	unsetenv("ANONVMA_DATADIR");
	n = datadir_candidates(dirs, DATADIR_MAX);
	/* source tree x2, <exe>/../share/anonvma, ./configs */
	assert_int_equal(n, 4);
	assert_non_null(strstr(dirs[0], "/../configs"));
	assert_non_null(strstr(dirs[1], "/../../configs"));
	assert_non_null(strstr(dirs[2], "/../share/anonvma"));
	assert_string_equal(dirs[3], "configs");

	setenv("ANONVMA_DATADIR", tmpdir, 1);
	n = datadir_candidates(dirs, DATADIR_MAX);
	assert_int_equal(n, 5);
	assert_string_equal(dirs[0], tmpdir);
	/* A short buffer gets the first candidates only. */
	assert_int_equal(datadir_candidates(dirs, 2), 2);

	/* Found in $ANONVMA_DATADIR first ... */
	assert_int_equal(datadir_find("scenarios/mine.yaml", out, sizeof(out)), 0);
	assert_true(strncmp(out, tmpdir, strlen(tmpdir)) == 0);
	/* ... and what it lacks comes from the next directory that has it. */
	assert_int_equal(datadir_find("arch/x86_64-4level.yaml", out, sizeof(out)), 0);
	assert_true(same_file(out, "arch/x86_64-4level.yaml"));
	assert_int_equal(datadir_find("arch/no-such.yaml", out, sizeof(out)), -1);
	assert_string_equal(out, "");
}

static void test_resolve(void **state)
{
	char out[DATADIR_PATH_MAX];

	(void)state;
	unsetenv("ANONVMA_DATADIR");
	/* A shipped name, with or without .yaml; "build" is also the build directory here. */
	assert_int_equal(datadir_resolve("scenarios", "build", out, sizeof(out)), 1);
	assert_true(same_file(out, "scenarios/build.yaml"));
	assert_int_equal(datadir_resolve("scenarios", "build.yaml", out, sizeof(out)), 1);
	assert_true(same_file(out, "scenarios/build.yaml"));
	/* A path, an unknown name: kept as typed, so the open names it. */
	assert_int_equal(datadir_resolve("scenarios", "x/build.yaml", out, sizeof(out)), 0);
	assert_string_equal(out, "x/build.yaml");
	assert_int_equal(datadir_resolve("scenarios", "no-such", out, sizeof(out)), 0);
	assert_string_equal(out, "no-such");
	/* An existing file in the current directory wins over a shipped name. */
	assert_int_equal(datadir_resolve("scenarios", "README.md", out, sizeof(out)), 0);
	assert_string_equal(out, "README.md");
	/* $ANONVMA_DATADIR's own scenario. */
	setenv("ANONVMA_DATADIR", tmpdir, 1);
	assert_int_equal(datadir_resolve("scenarios", "mine", out, sizeof(out)), 1);
	assert_true(strncmp(out, tmpdir, strlen(tmpdir)) == 0);
}

static void test_arch_lookup(void **state)
{
	struct avm_err err = { "" };
	struct arch a;

	(void)state;
	/* An empty ANONVMA_DATADIR is skipped: the arch comes from the tree. */
	setenv("ANONVMA_DATADIR", tmpdir, 1);
	assert_int_equal(arch_load("arm64-4k-48bit", NULL, &a, &err), 0);
	assert_string_equal(a.name, "arm64-4k-48bit");
	/* An unknown name says where it looked. */
	assert_int_equal(arch_load("sparc64", NULL, &a, &err), -1);
	assert_non_null(strstr(err.msg, "unknown arch 'sparc64'"));
	assert_non_null(strstr(err.msg, "$ANONVMA_DATADIR"));
	assert_non_null(strstr(err.msg, "share/anonvma"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_arch_lookup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
