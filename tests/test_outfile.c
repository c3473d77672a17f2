/*
 * test_outfile.c - the output module (src/outfile.c) and the strict option
 * numbers (src/cliopt.c).
 *
 * Outputs: a new or regular file is replaced whole (new inode, no temporary
 * left, the old content kept when the write is abandoned); a character device
 * or FIFO is written through and stays what it was (private nodes made with
 * mknod, never the machine's own /dev/null or /dev/full); a device that fails
 * the write (the /dev/full node) is an error; a directory, a block device, a
 * symlink of another user and a dangling symlink are refused; a symlink of our
 * own to a regular file replaces the target and keeps the link.  --force
 * style removal refuses everything but regular files.
 *
 * Escaping: what passes (printable ASCII, UTF-8), what becomes \xHH (C0, DEL,
 * C1, bytes that are not UTF-8) and the JSON forms.
 *
 * Runs as root (mknod, lchown), as every test of this project does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cliopt.h"
#include "outfile.h"

static char dir[256];

static const char *tpath(const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_outfile.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *get(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Entries of the test folder: a temporary file left behind would show here. */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	for (de = readdir(d); de; de = readdir(d))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void test_new_and_replaced_file(void **state)
{
	struct avm_err err;
	struct stat a, b;
	const char *p = tpath("r.json");
	mode_t mask = umask(022);

	(void)state;
	assert_int_equal(outfile_write(p, "one\n", 4, &err), 0);
	assert_string_equal(get(p), "one\n");
	assert_int_equal(stat(p, &a), 0);
	assert_int_equal(a.st_mode & 0777, 0644);
	assert_int_equal(outfile_write(p, "two\n", 4, &err), 0);
	assert_string_equal(get(p), "two\n");
	assert_int_equal(stat(p, &b), 0);
	assert_int_not_equal(a.st_ino, b.st_ino); /* renamed into place, not rewritten */
	assert_int_equal(entries(), 1);
	umask(mask);
	unlink(p);
}

static void test_abort_keeps_old(void **state)
{
	struct outfile o;
	struct avm_err err;
	const char *p = tpath("keep.json");

	(void)state;
	put(p, "old\n");
	assert_int_equal(outfile_open(&o, p, &err), 0);
	fputs("half", o.f);
	outfile_abort(&o);
	assert_string_equal(get(p), "old\n");
	assert_int_equal(entries(), 1);
	unlink(p);
}

static void test_device_written_through(void **state)
{
	struct avm_err err;
	struct stat st;
	const char *null = tpath("null"), *full = tpath("full");

	(void)state;
	assert_int_equal(mknod(null, S_IFCHR | 0666, makedev(1, 3)), 0);
	assert_int_equal(mknod(full, S_IFCHR | 0666, makedev(1, 7)), 0);
	assert_int_equal(outfile_write(null, "x\n", 2, &err), 0);
	assert_int_equal(lstat(null, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	/* the /dev/full node: the error is the device's, the node stays */
	assert_int_equal(outfile_write(full, "x\n", 2, &err), -1);
	assert_non_null(strstr(err.msg, "No space left on device"));
	assert_int_equal(lstat(full, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 7));
	assert_int_equal(entries(), 2);
	unlink(null);
	unlink(full);
}

static void test_fifo_written_through(void **state)
{
	struct avm_err err;
	struct stat st;
	const char *p = tpath("fifo");
	char buf[16] = "";
	int rd;

	(void)state;
	assert_int_equal(mkfifo(p, 0600), 0);
	rd = open(p, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	assert_int_equal(outfile_write(p, "piped\n", 6, &err), 0);
	assert_int_equal(read(rd, buf, sizeof(buf) - 1), 6);
	assert_string_equal(buf, "piped\n");
	close(rd);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	unlink(p);
}

static void test_refused_targets(void **state)
{
	struct avm_err err;
	struct stat st;
	const char *d = tpath("sub"), *blk = tpath("blk");

	(void)state;
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(outfile_write(d, "x", 1, &err), -1);
	assert_non_null(strstr(err.msg, "is a directory"));
	assert_int_equal(mknod(blk, S_IFBLK | 0600, makedev(7, 0)), 0);
	assert_int_equal(outfile_write(blk, "x", 1, &err), -1);
	assert_non_null(strstr(err.msg, "is a block device"));
	assert_int_equal(lstat(blk, &st), 0);
	assert_true(S_ISBLK(st.st_mode));
	assert_int_equal(outfile_write("", "x", 1, &err), -1);
	assert_int_equal(entries(), 2);
	rmdir(d);
	unlink(blk);
}

static void test_symlinks(void **state)
{
	struct avm_err err;
	struct stat st;
	const char *victim = tpath("victim"), *link = tpath("link.json");
	const char *dangling = tpath("dangling.json");

	(void)state;
	put(victim, "precious\n");
	/* planted by another user: refused, the victim untouched */
	assert_int_equal(symlink(victim, link), 0);
	assert_int_equal(lchown(link, 65534, 65534), 0);
	assert_int_equal(outfile_write(link, "report\n", 7, &err), -1);
	assert_non_null(strstr(err.msg, "owned by uid 65534"));
	assert_string_equal(get(victim), "precious\n");
	/* our own link: the target is replaced in its folder, the link stays */
	assert_int_equal(lchown(link, geteuid(), getegid()), 0);
	assert_int_equal(outfile_write(link, "report\n", 7, &err), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_string_equal(get(victim), "report\n");
	/* a link to nothing: refused, nothing created */
	assert_int_equal(symlink(tpath("nowhere"), dangling), 0);
	assert_int_equal(outfile_write(dangling, "x", 1, &err), -1);
	assert_int_equal(access(tpath("nowhere"), F_OK), -1);
	assert_int_equal(entries(), 3);
	unlink(victim);
	unlink(link);
	unlink(dangling);
}

static void test_check_removable(void **state)
{
	struct avm_err err;
	const char *f = tpath("t.db"), *fifo = tpath("t.db-wal"), *l = tpath("l.db");

	(void)state;
	assert_int_equal(outfile_check_removable(tpath("absent"), &err), 0);
	put(f, "x");
	assert_int_equal(outfile_check_removable(f, &err), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(outfile_check_removable(fifo, &err), -1);
	assert_non_null(strstr(err.msg, "is a FIFO"));
	assert_int_equal(symlink(f, l), 0);
	assert_int_equal(outfile_check_removable(l, &err), -1);
	assert_non_null(strstr(err.msg, "is a symlink"));
	assert_int_equal(outfile_check_removable("/dev/null", &err), -1);
	assert_non_null(strstr(err.msg, "is a character device"));
	unlink(f);
	unlink(fifo);
	unlink(l);
}

static char *esc(const char *s, enum outfile_esc how)
{
	static char buf[256];
	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);

	assert_non_null(f);
	assert_int_equal(outfile_escape(f, s, how), 0);
	fclose(f);
	/* the buffer form gives the same text */
	outfile_escape_buf(buf, sizeof(buf), s, how);
	assert_string_equal(buf, mem);
	free(mem);
	return buf;
}

static void test_escape(void **state)
{
	char small[8];

	(void)state;
	/* an OSC title change and a colour: the ESC and BEL bytes become text */
	assert_string_equal(esc("a\033]0;x\007\033[31mb", OUTFILE_ESC_TEXT),
			    "a\\x1b]0;x\\x07\\x1b[31mb");
	assert_string_equal(esc("l1\n\tl2\r", OUTFILE_ESC_TEXT), "l1\n\tl2\\x0d");
	assert_string_equal(esc("l1\n\tl2", OUTFILE_ESC_LINE), "l1\\x0a\\x09l2");
	assert_string_equal(esc("del\177", OUTFILE_ESC_LINE), "del\\x7f");
	/* UTF-8 passes; C1 (U+009B, the 8-bit CSI) and bytes that are not UTF-8 do not */
	assert_string_equal(esc("caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80", OUTFILE_ESC_TEXT),
			    "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80");
	assert_string_equal(esc("\xc2\x9b" "2J", OUTFILE_ESC_TEXT), "\\xc2\\x9b2J");
	assert_string_equal(esc("\x9b\xff\xc3(", OUTFILE_ESC_TEXT), "\\x9b\\xff\\xc3(");
	assert_string_equal(esc("\xed\xa0\x80", OUTFILE_ESC_TEXT), "\\xed\\xa0\\x80"); /* surrogate */
	assert_string_equal(esc("\xc0\xaf", OUTFILE_ESC_TEXT), "\\xc0\\xaf");          /* overlong */
	/* JSON keeps its own layout, escapes stay valid JSON */
	assert_string_equal(esc("{\n\t\"k\":\t\"a\177\xc2\x9b\xff\"\n}", OUTFILE_ESC_JSON),
			    "{\n\t\"k\":\t\"a\\u007f\\u009b\\ufffd\"\n}");
	assert_string_equal(esc("\"\033\"", OUTFILE_ESC_JSON), "\"\\u001b\"");
	/* cut at a whole piece, always terminated */
	outfile_escape_buf(small, sizeof(small), "ab\033cdef", OUTFILE_ESC_TEXT);
	assert_string_equal(small, "ab\\x1bc");
	outfile_escape_buf(small, 3, "\033", OUTFILE_ESC_TEXT);
	assert_string_equal(small, "");
}

static void test_cliopt(void **state)
{
	static const char *const bad[] = { "1e99", "inf", "nan", "-1", "+1", " 5", "5 ", "0x10",
					   "", ".", "1e", "2e10", "1.5.2", "0" };
	struct avm_err err;
	uint64_t u;
	double d;

	(void)state;
	assert_int_equal(cliopt_double("-d", "2", 0.001, 31536000, "seconds", &d, &err), 0);
	assert_true(d == 2);
	assert_int_equal(cliopt_double("-d", "0.5", 0.001, 31536000, "seconds", &d, &err), 0);
	assert_int_equal(cliopt_double("-d", ".25", 0.001, 31536000, "seconds", &d, &err), 0);
	assert_int_equal(cliopt_double("-d", "3e2", 0.001, 31536000, "seconds", &d, &err), 0);
	assert_true(d == 300);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = -7;
		assert_int_equal(cliopt_double("-d", bad[i], 0.001, 31536000, "seconds", &d, &err),
				 -1);
		assert_true(d == -7);
		assert_non_null(strstr(err.msg, "is not seconds from 0.001 to 31536000"));
	}
	assert_int_equal(cliopt_u64("--pid", "42", 1, 4194304, "a pid", &u, &err), 0);
	assert_int_equal(u, 42);
	assert_int_equal(cliopt_u64("--seed", "18446744073709551615", 0, UINT64_MAX, "a seed", &u,
				    &err), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(cliopt_u64("--seed", "18446744073709551616", 0, UINT64_MAX, "a seed",
				    &u, &err), -1);
	assert_int_equal(cliopt_u64("--pid", "-1", 1, 4194304, "a pid", &u, &err), -1);
	assert_int_equal(cliopt_u64("--pid", "0", 1, 4194304, "a pid", &u, &err), -1);
	assert_int_equal(cliopt_u64("--pid", "1e3", 1, 4194304, "a pid", &u, &err), -1);
	assert_int_equal(cliopt_u64("--pid", "4194305", 1, 4194304, "a pid", &u, &err), -1);
	assert_string_equal(err.msg, "--pid '4194305' is not a pid from 1 to 4194304");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_replaced_file),
		cmocka_unit_test(test_abort_keeps_old),
		cmocka_unit_test(test_device_written_through),
		cmocka_unit_test(test_fifo_written_through),
		cmocka_unit_test(test_refused_targets),
		cmocka_unit_test(test_symlinks),
		cmocka_unit_test(test_check_removable),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_cliopt),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
