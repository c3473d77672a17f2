/*
 * test_zstdfile.c - zstd compression of closed trace segments (src/zstdfile.c):
 * a round trip restores every byte (a file larger than zstd's stream buffers,
 * so the loops run more than once), the magic is recognised, an existing
 * output is never overwritten, a truncated or foreign file is refused with
 * one line, and a set stop flag abandons the work without leaving the output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zstdfile.h"

static char dir[] = "/tmp/test_zstdfile.XXXXXX";

static const char *tpath(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

/* 3 MiB of half-compressible bytes, deterministic */
#define TZ_LEN (3u << 20)

static unsigned char *tz_data(void)
{
	unsigned char *b = malloc(TZ_LEN);
	uint32_t x = 12345;

	assert_non_null(b);
	for (size_t i = 0; i < TZ_LEN; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (i & 64) ? (unsigned char)(x >> 24) : (unsigned char)(i / 512);
	}
	return b;
}

static void tz_write(const char *path, const void *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_round_trip(void **state)
{
	struct avm_err err = { "" };
	unsigned char *in = tz_data(), *out = malloc(TZ_LEN + 1);
	struct stat st;
	int fd;

	(void)state;
	tz_write(tpath("a.db"), in, TZ_LEN);
	assert_int_equal(zstdfile_is_zstd(tpath("a.db"), &err), 0);
	assert_int_equal(zstdfile_compress(tpath("a.db"), tpath("a.db.zst"), ZSTDFILE_LEVEL, NULL,
					   &err), 0);
	assert_int_equal(zstdfile_is_zstd(tpath("a.db.zst"), &err), 1);
	assert_int_equal(stat(tpath("a.db.zst"), &st), 0);
	assert_true(st.st_size < TZ_LEN);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(access(tpath("a.db.zst.tmp"), F_OK), -1); /* renamed into place */
	fd = open(tpath("b.db"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(zstdfile_decompress_fd(tpath("a.db.zst"), fd, NULL, &err), 0);
	assert_int_equal(pread(fd, out, TZ_LEN + 1, 0), TZ_LEN);
	assert_memory_equal(in, out, TZ_LEN);
	close(fd);
	/* never over an existing file */
	assert_int_equal(zstdfile_compress(tpath("a.db"), tpath("a.db.zst"), ZSTDFILE_LEVEL, NULL,
					   &err), -1);
	assert_non_null(strstr(err.msg, "already exists"));
	free(in);
	free(out);
}

static void test_refusals(void **state)
{
	struct avm_err err = { "" };
	volatile sig_atomic_t stop = 1;
	unsigned char *in = tz_data(), *z;
	struct stat st;
	FILE *f;
	int fd;

	(void)state;
	tz_write(tpath("c.db"), in, TZ_LEN);
	assert_int_equal(zstdfile_compress(tpath("c.db"), tpath("c.db.zst"), 1, NULL, &err), 0);
	assert_int_equal(stat(tpath("c.db.zst"), &st), 0);
	z = malloc((size_t)st.st_size);
	f = fopen(tpath("c.db.zst"), "rb");
	assert_int_equal(fread(z, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	/* cut in the middle: truncated */
	tz_write(tpath("cut.zst"), z, (size_t)st.st_size / 2);
	fd = open(tpath("out.db"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(zstdfile_decompress_fd(tpath("cut.zst"), fd, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "truncated zstd file"));
	assert_null(strchr(err.msg, '\n'));
	/* the magic and then garbage: not zstd */
	memset(z + 4, 0xff, 64);
	tz_write(tpath("bad.zst"), z, 68);
	assert_int_equal(zstdfile_decompress_fd(tpath("bad.zst"), fd, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "not a valid zstd file"));
	close(fd);
	/* stopped (a signal): nothing left under the output's name */
	assert_int_equal(zstdfile_compress(tpath("c.db"), tpath("s.zst"), 1, &stop, &err), -1);
	assert_non_null(strstr(err.msg, "interrupted"));
	assert_int_equal(access(tpath("s.zst"), F_OK), -1);
	assert_int_equal(access(tpath("s.zst.tmp"), F_OK), -1);
	/* a missing input */
	assert_int_equal(zstdfile_is_zstd(tpath("missing"), &err), -1);
	free(in);
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
	};
	char cmd[300];
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
