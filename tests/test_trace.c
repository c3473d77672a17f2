/*
 * test_trace.c - the trace store (src/trace.c): round trip of every field,
 * the file's mode, and every way a bad file must fail with one clear line
 * (wrong schema version, truncated, garbage, empty, missing, corrupt middle),
 * plus the writer's promises: an interrupted writer's committed batches stay
 * readable, close commits a partial batch, abort leaves complete=0.  Then
 * the safety of creating (no device, fifo or symlink at the path or a side
 * file is removed or followed; one line naming the cause of a failure), a
 * writer that did not finish (meta committed first; a -wal left by a full
 * disk is read, never changed), and every class of broken row the reader
 * refuses (docs/trace-checks.md).
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "trace.h"

static char dir[256];

static const char *tpath(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* A deterministic event i with every field used and varied. */
static void make_event(uint64_t i, struct avm_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->t = 1000 * i + (i % 7) * 13;
	ev->cpu = (uint32_t)(i % 3);
	ev->pid = 100 + (uint32_t)(i % 5);
	ev->tid = (i % 4 == 0) ? ev->pid + 1 : ev->pid; /* NULL-encoded when equal */
	ev->mm = 1 + i % 9;
	ev->a = (int64_t)(0x7f0000000000ULL + i * 4096);
	ev->b = -(int64_t)(i % 11);          /* negative values survive */
	ev->c = (int64_t)i;
	ev->d = (i % 13) ? 0 : INT64_MAX;    /* extremes survive */
	ev->e = (i % 17) ? 0 : INT64_MIN;
	ev->f = (i % 3 == 0); /* most events have no events_ef row */
	/* e/f only on a kind that has them (mremap: e result, f new addr, any values) */
	ev->kind = (ev->e || ev->f) ? AVM_MREMAP : (i % 2) ? AVM_FAULT : AVM_MUNMAP;
}

static void write_events(struct trace *t, uint64_t n)
{
	struct avm_err err = { "" };
	struct avm_event ev;

	for (uint64_t i = 1; i <= n; i++) {
		make_event(i, &ev);
		assert_int_equal(trace_append(t, &ev, &err), 0);
	}
}

static void check_events(struct trace *t, uint64_t n)
{
	struct avm_err err = { "" };
	struct avm_event ev, want;
	uint64_t i = 0;
	int rc;

	while ((rc = trace_next(t, &ev, &err)) == 1) {
		i++;
		make_event(i, &want);
		want.seq = i;
		assert_memory_equal(&ev, &want, sizeof(ev));
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, n);
}

static struct trace *create_or_die(const char *name)
{
	struct avm_err err = { "" };
	struct trace *t = NULL;

	if (trace_create(tpath(name), 1, &t, &err))
		fail_msg("%s", err.msg);
	return t;
}

/* trace_open must fail, and its one line must contain `want`. */
static void expect_open_error(const char *path, const char *want)
{
	struct avm_err err = { "" };
	struct trace *t = NULL;

	assert_int_equal(trace_open(path, &t, &err), -1);
	assert_null(t);
	assert_non_null(strstr(err.msg, want));
	assert_null(strchr(err.msg, '\n'));
	assert_non_null(strstr(err.msg, path)); /* names the file */
}

struct vma_seen {
	int n;
	struct avm_snap_vma v[4];
};

static int on_vma(void *ctx, const struct avm_snap_vma *v, struct avm_err *err)
{
	struct vma_seen *s = ctx;

	(void)err;
	if (s->n < 4)
		s->v[s->n] = *v;
	s->n++;
	return 0;
}

static int on_av(void *ctx, const struct avm_snap_av *a, struct avm_err *err)
{
	struct avm_snap_av *out = ctx;

	(void)err;
	*out = *a;
	return 0;
}

static int count_meta(void *ctx, const char *k, const char *v, struct avm_err *err)
{
	(void)err;
	(void)v;
	if (!strcmp(k, "kernel_release"))
		(*(int *)ctx)++;
	return 0;
}

static void test_round_trip(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = create_or_die("rt.db");
	struct avm_snap_vma v = { .snap = 3, .mm = 2, .start = 0x1000, .end = 0x5000,
				  .pgoff = 1, .flags = 0x100073, .file = 0, .anon_vma = 12,
				  .av_root = 3, .av_parent = 7, .av_refcount = 2, .av_children = 1,
				  .av_active = 1, .chain_len = 3, .chain = { 12, 7, 3 } };
	struct avm_snap_vma big = v;
	struct avm_snap_av a = { .snap = 3, .id = 7, .root = 3, .parent = 3, .refcount = 4,
				 .num_children = 2, .num_active_vmas = 1 }, got_av;
	struct avm_event lost = { .kind = AVM_LOST, .a = 1, .b = 5 };
	struct vma_seen seen = { 0 };
	char buf[64];
	int64_t x;
	int nmeta = 0;

	(void)state;
	assert_int_equal(trace_meta_set(t, "kernel_release", "6.18.0-test", &err), 0);
	assert_int_equal(trace_meta_set_int(t, "size_anon_vma", 104, &err), 0);
	write_events(t, 1000); /* 15 full batches and a partial one */
	assert_int_equal(trace_append_snap_vma(t, &v, &err), 0);
	big.start = 0x9000;
	big.end = 0xa000;
	big.chain_len = 40; /* longer than the 16 ids kept */
	for (int i = 0; i < AVM_CHAIN_MAX; i++)
		big.chain[i] = 100 + (uint64_t)i;
	assert_int_equal(trace_append_snap_vma(t, &big, &err), 0);
	assert_int_equal(trace_append_snap_av(t, &a, &err), 0);
	assert_int_equal(trace_events_written(t), 1000);
	assert_int_equal(trace_close(t, &err), 0);

	assert_int_equal(trace_open(tpath("rt.db"), &t, &err), 0);
	assert_int_equal(trace_meta_get(t, "kernel_release", buf, sizeof(buf), &err), 1);
	assert_string_equal(buf, "6.18.0-test");
	assert_int_equal(trace_meta_get(t, "absent", buf, sizeof(buf), &err), 0);
	assert_int_equal(trace_meta_get_int(t, "size_anon_vma", &x, &err), 1);
	assert_int_equal(x, 104);
	assert_int_equal(trace_meta_get_int(t, "complete", &x, &err), 1);
	assert_int_equal(x, 1);
	assert_int_equal(trace_meta_get_int(t, "lost_events", &x, &err), 1);
	assert_int_equal(x, 0);
	assert_int_equal(trace_meta_get_int(t, "kernel_release", &x, &err), -1);
	assert_non_null(strstr(err.msg, "not an integer"));
	assert_int_equal(trace_meta_each(t, count_meta, &nmeta, &err), 0);
	assert_int_equal(nmeta, 1);
	assert_int_equal(trace_event_count(t, &err), 1000);
	check_events(t, 1000);
	/* snapshots between reads, then a second pass after rewind */
	assert_int_equal(trace_snapshot_vmas(t, 3, on_vma, &seen, &err), 0);
	assert_int_equal(seen.n, 2);
	assert_memory_equal(&seen.v[0], &v, sizeof(v));
	assert_memory_equal(&seen.v[1], &big, sizeof(big));
	assert_int_equal(trace_snapshot_avs(t, 3, on_av, &got_av, &err), 0);
	assert_memory_equal(&got_av, &a, sizeof(a));
	seen.n = 0;
	assert_int_equal(trace_snapshot_vmas(t, 4, on_vma, &seen, &err), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(trace_rewind(t, &err), 0);
	check_events(t, 1000);
	assert_int_equal(trace_close(t, &err), 0);

	/* lost events are summed per cpu into meta lost_events */
	t = create_or_die("lost.db");
	assert_int_equal(trace_append(t, &lost, &err), 0);
	lost.b = 7;
	assert_int_equal(trace_append(t, &lost, &err), 0);
	lost.a = 0;
	lost.b = 1;
	assert_int_equal(trace_append(t, &lost, &err), 0);
	assert_int_equal(trace_close(t, &err), 0);
	assert_int_equal(trace_open(tpath("lost.db"), &t, &err), 0);
	assert_int_equal(trace_meta_get_int(t, "lost_events", &x, &err), 1);
	assert_int_equal(x, 13);
	assert_int_equal(trace_close(t, &err), 0);
}

static void test_mode_and_overwrite(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = NULL;
	struct stat st;
	mode_t old = umask(0);

	(void)state;
	t = create_or_die("mode.db");
	write_events(t, 10);
	assert_int_equal(trace_close(t, &err), 0);
	umask(old);
	assert_int_equal(stat(tpath("mode.db"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* no -wal / -shm left behind: readers need no write access */
	assert_int_equal(access(tpath("mode.db-wal"), F_OK), -1);
	assert_int_equal(access(tpath("mode.db-shm"), F_OK), -1);
	/* an existing trace is not overwritten unless asked */
	assert_int_equal(trace_create(tpath("mode.db"), 0, &t, &err), -1);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_int_equal(trace_open(tpath("mode.db"), &t, &err), 0);
	assert_int_equal(trace_event_count(t, &err), 10);
	assert_int_equal(trace_close(t, &err), 0);
}

static void test_out_of_order(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = create_or_die("order.db");
	struct avm_event ev = { .seq = 5, .kind = AVM_FAULT };

	(void)state;
	assert_int_equal(trace_append(t, &ev, &err), 0);
	ev.seq = 5;
	assert_int_equal(trace_append(t, &ev, &err), -1);
	assert_non_null(strstr(err.msg, "in order"));
	ev.seq = 0; /* assigned: 6 */
	assert_int_equal(trace_append(t, &ev, &err), 0);
	assert_int_equal(trace_close(t, &err), 0);
	assert_int_equal(trace_open(tpath("order.db"), &t, &err), 0);
	assert_int_equal(trace_next(t, &ev, &err), 1);
	assert_int_equal(ev.seq, 5);
	assert_int_equal(trace_next(t, &ev, &err), 1);
	assert_int_equal(ev.seq, 6);
	assert_int_equal(trace_next(t, &ev, &err), 0);
	assert_int_equal(trace_close(t, &err), 0);
}

static void test_wrong_version(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = create_or_die("v2.db");
	struct avm_err e2 = { "" };
	char want[128];

	(void)state;
	write_events(t, 3);
	assert_int_equal(trace_meta_set_int(t, "schema_version", TRACE_SCHEMA_VERSION + 1, &err), 0);
	assert_int_equal(trace_close(t, &err), 0);
	snprintf(want, sizeof(want),
		 "schema version %d was written by a newer anonvma; this one reads versions %d to %d",
		 TRACE_SCHEMA_VERSION + 1, TRACE_SCHEMA_MIN_VERSION, TRACE_SCHEMA_VERSION);
	expect_open_error(tpath("v2.db"), want);
	assert_int_equal(trace_open(tpath("v2.db"), &t, &e2), -1);
	printf("  wrong version: %s\n", e2.msg);
}

static void copy_prefix(const char *from, const char *to, off_t len)
{
	char buf[4096];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	off_t done = 0;

	assert_true(in >= 0 && out >= 0);
	while (done < len) {
		ssize_t n = read(in, buf, sizeof(buf));

		assert_true(n > 0);
		if (done + n > len)
			n = len - done;
		assert_int_equal(write(out, buf, (size_t)n), n);
		done += n;
	}
	close(in);
	close(out);
}

static void test_truncated(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = create_or_die("full.db");
	char full[512];
	struct stat st;

	(void)state;
	write_events(t, 20000);
	assert_int_equal(trace_close(t, &err), 0);
	assert_int_equal(stat(tpath("full.db"), &st), 0);
	strcpy(full, tpath("full.db"));
	copy_prefix(full, tpath("half.db"), st.st_size / 2);
	expect_open_error(tpath("half.db"), "truncated");
	copy_prefix(full, tpath("short.db"), 50); /* not even a header */
	expect_open_error(tpath("short.db"), "not an SQLite database");
}

static void test_corrupt_middle(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = create_or_die("mid.db");
	struct avm_event ev;
	struct stat st;
	char junk[4096];
	uint64_t n = 0;
	int fd, rc;

	(void)state;
	write_events(t, 20000);
	assert_int_equal(trace_close(t, &err), 0);
	assert_int_equal(stat(tpath("mid.db"), &st), 0);
	memset(junk, 0xa5, sizeof(junk));
	fd = open(tpath("mid.db"), O_WRONLY);
	assert_true(fd >= 0);
	/* a page in the middle of the events b-tree */
	assert_int_equal(pwrite(fd, junk, sizeof(junk), (st.st_size / 2) & ~4095L), 4096);
	close(fd);
	/* Either open notices, or the stream stops with an error: never a full, clean read. */
	if (trace_open(tpath("mid.db"), &t, &err) == 0) {
		while ((rc = trace_next(t, &ev, &err)) == 1)
			n++;
		assert_int_equal(rc, -1);
		assert_true(n < 20000);
		assert_non_null(strstr(err.msg, "corrupt"));
		trace_close(t, &err);
	}
	assert_non_null(strstr(err.msg, tpath("mid.db")));
}

static void test_garbage_empty_missing(void **state)
{
	char junk[8192];
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 37 + 11);
	fd = open(tpath("junk.db"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	expect_open_error(tpath("junk.db"), "not an SQLite database");

	fd = open(tpath("empty.db"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	close(fd);
	expect_open_error(tpath("empty.db"), "empty file");

	expect_open_error(tpath("missing.db"), "No such file");
	expect_open_error(dir, "not a regular file");
}

static void test_not_a_trace(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = create_or_die("other.db");

	(void)state;
	assert_int_equal(trace_close(t, &err), 0);
	/* a valid SQLite file that is not a trace */
	assert_int_equal(system("sqlite3 /dev/null 'select 1' >/dev/null 2>&1"), 0);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "sqlite3 %s 'create table x(y)'", tpath("plain.db"));
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "sqlite3 %s 'delete from meta where key=\"schema_version\"'",
			 tpath("other.db"));
		assert_int_equal(system(cmd), 0);
	}
	expect_open_error(tpath("plain.db"), "no meta table");
	expect_open_error(tpath("other.db"), "no schema_version");
}

/* close() commits a batch that never filled (what a Ctrl-C'd collector does). */
static void test_close_commits_partial_batch(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = create_or_die("partial.db");

	(void)state;
	write_events(t, 37);
	assert_int_equal(trace_close(t, &err), 0);
	assert_int_equal(trace_open(tpath("partial.db"), &t, &err), 0);
	check_events(t, 37);
	assert_int_equal(trace_close(t, &err), 0);
}

/* A writer killed mid-way: every committed transaction is still readable. */
static void test_killed_writer(void **state)
{
	struct avm_err err = { "" };
	struct trace *t;
	int64_t complete = -1, n;
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		t = create_or_die("killed.db");
		write_events(t, 60000); /* one commit near 50000, the rest uncommitted */
		_exit(0);               /* no trace_close */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_int_equal(trace_open(tpath("killed.db"), &t, &err), 0);
	assert_int_equal(trace_meta_get_int(t, "complete", &complete, &err), 1);
	assert_int_equal(complete, 0);
	/* the transaction that crossed 50000 rows (at a 64-row batch boundary) */
	n = trace_event_count(t, &err);
	assert_true(n >= 50000 && n < 50064);
	check_events(t, (uint64_t)n);
	assert_int_equal(trace_close(t, &err), 0);
}

static void test_abort_keeps_incomplete(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = create_or_die("abort.db");
	int64_t complete = -1;

	(void)state;
	write_events(t, 100);
	assert_int_equal(trace_abort(t, &err), 0);
	assert_int_equal(trace_open(tpath("abort.db"), &t, &err), 0);
	assert_int_equal(trace_meta_get_int(t, "complete", &complete, &err), 1);
	assert_int_equal(complete, 0);
	assert_int_equal(trace_event_count(t, &err), 100);
	check_events(t, 100);
	assert_int_equal(trace_close(t, &err), 0);
}

static void test_reader_is_read_only(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = create_or_die("ro.db");
	struct avm_event ev = { .kind = AVM_FAULT };

	(void)state;
	assert_int_equal(trace_close(t, &err), 0);
	assert_int_equal(trace_open(tpath("ro.db"), &t, &err), 0);
	assert_int_equal(trace_append(t, &ev, &err), -1);
	assert_int_equal(trace_meta_set(t, "k", "v", &err), -1);
	assert_int_equal(trace_next(t, &ev, &err), 0);
	assert_int_equal(trace_close(t, &err), 0);
	assert_int_equal(trace_close(NULL, &err), 0);
}

/* ---- creating a trace never destroys or follows what is not a trace ---------- */

static void expect_create_error(const char *path, int overwrite, const char *want)
{
	struct avm_err err = { "" };
	struct trace *t = NULL;

	assert_int_equal(trace_create(path, overwrite, &t, &err), -1);
	assert_null(t);
	if (!strstr(err.msg, want))
		fail_msg("'%s' lacks '%s'", err.msg, want);
	assert_null(strchr(err.msg, '\n'));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void expect_file(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f) ? buf : (char *)"");
	fclose(f);
	assert_string_equal(buf, text);
}

static void test_create_refuses_non_regular(void **state)
{
	char victim[512], side[600];
	struct stat st;

	(void)state;
	snprintf(victim, sizeof(victim), "%s", tpath("victim"));
	write_file(victim, "precious\n");
	/* a symlink at the path: neither replaced (-f) nor followed */
	assert_int_equal(symlink(victim, tpath("link.db")), 0);
	expect_create_error(tpath("link.db"), 0, "a symbolic link, not a trace: not replacing it");
	expect_create_error(tpath("link.db"), 1, "a symbolic link, not a trace: not replacing it");
	assert_int_equal(lstat(tpath("link.db"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	expect_file(victim, "precious\n");
	/* a fifo (and, the same path, any device) is not unlinked by -f */
	assert_int_equal(mkfifo(tpath("fifo.db"), 0600), 0);
	expect_create_error(tpath("fifo.db"), 1, "a fifo, not a trace");
	assert_int_equal(lstat(tpath("fifo.db"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	expect_create_error("/dev/null", 1, "a character device, not a trace");
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	/* a planted -wal / -shm symlink blocks the run, with or without -f, and is kept */
	snprintf(side, sizeof(side), "%s-wal", tpath("w.db"));
	assert_int_equal(symlink(victim, side), 0);
	expect_create_error(tpath("w.db"), 0, "w.db-wal: a symbolic link");
	expect_create_error(tpath("w.db"), 1, "w.db-wal: a symbolic link");
	assert_int_equal(lstat(side, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(access(tpath("w.db"), F_OK), -1); /* nothing was created */
	snprintf(side, sizeof(side), "%s-shm", tpath("s.db"));
	assert_int_equal(symlink(victim, side), 0);
	expect_create_error(tpath("s.db"), 1, "s.db-shm: a symbolic link");
	expect_file(victim, "precious\n");
	/* a left-over regular -wal would be read into the new trace: refused without -f */
	snprintf(side, sizeof(side), "%s-wal", tpath("stale.db"));
	write_file(side, "stale\n");
	expect_create_error(tpath("stale.db"), 0, "stale.db-wal: left over from another trace");
	{
		struct avm_err err = { "" };
		struct trace *t = NULL;

		assert_int_equal(trace_create(tpath("stale.db"), 1, &t, &err), 0);
		assert_int_equal(trace_close(t, &err), 0);
		assert_int_equal(access(side, F_OK), -1);
	}
}

/* A failure while creating is one line naming the cause (here: the file size limit). */
static void test_create_error_one_line(void **state)
{
	struct rlimit rl = { .rlim_cur = 4096, .rlim_max = RLIM_INFINITY };
	struct avm_err err = { "" };
	struct trace *t = NULL;
	int fds[2], status;
	char msg[600] = "";
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG */
		setrlimit(RLIMIT_FSIZE, &rl);
		if (trace_create(tpath("limit.db"), 1, &t, &err) == 0)
			_exit(2);
		if (write(fds[1], err.msg, strlen(err.msg)) < 0)
			_exit(3);
		_exit(0);
	}
	close(fds[1]);
	assert_true(read(fds[0], msg, sizeof(msg) - 1) > 0);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	printf("  creation error: %s\n", msg);
	assert_null(strchr(msg, '\n'));
	assert_null(strstr(msg, "CREATE"));
	assert_non_null(strstr(msg, "cannot create the trace"));
	assert_non_null(strstr(msg, "File too large"));
	assert_int_equal(access(tpath("limit.db"), F_OK), -1); /* no half-made trace left */
}

/* ---- a writer that did not finish: what it committed is read ------------------- */

/* Host metadata set before the first batch survives a writer killed before it. */
static void test_meta_before_first_commit(void **state)
{
	struct avm_err err = { "" };
	struct trace *t;
	char buf[64];
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		t = create_or_die("early.db");
		if (trace_meta_set(t, "kernel_release", "6.18-early", &err))
			_exit(1);
		write_events(t, 10); /* a batch never committed */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_int_equal(trace_open(tpath("early.db"), &t, &err), 0);
	assert_true(trace_recovered(t));
	assert_int_equal(trace_meta_get(t, "kernel_release", buf, sizeof(buf), &err), 1);
	assert_string_equal(buf, "6.18-early");
	assert_int_equal(trace_event_count(t, &err), 0);
	assert_int_equal(trace_close(t, &err), 0);
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void md5_of(const char *path, char *out, size_t len)
{
	char cmd[600];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "md5sum < '%s'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)len, p));
	pclose(p);
}

/*
 * A full disk stops a checkpoint half-way: the main file's header already
 * counts pages the file never got, the -wal holds them.  Replay reads the
 * committed batches through the -wal and changes neither file.
 */
static void test_wal_recovery(void **state)
{
	struct avm_err err = { "" };
	char path[512], wal[600], before[2][64], after[2][64];
	unsigned char h[100];
	struct trace *t;
	pid_t pid;
	int status, fd;
	int64_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s", tpath("cut.db"));
	snprintf(wal, sizeof(wal), "%s-wal", path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		t = create_or_die("cut.db");
		write_events(t, 60000); /* one commit near 50000 */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	/* the header of a checkpoint cut short: 100000 pages, valid for this change counter */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	wr32(h + 28, 100000);
	wr32(h + 92, rd32(h + 24));
	assert_int_equal(pwrite(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	md5_of(path, before[0], sizeof(before[0]));
	md5_of(wal, before[1], sizeof(before[1]));
	assert_int_equal(trace_open(path, &t, &err), 0);
	assert_true(trace_recovered(t));
	n = trace_event_count(t, &err);
	assert_true(n >= 50000 && n < 50064);
	check_events(t, (uint64_t)n);
	assert_int_equal(trace_close(t, &err), 0);
	md5_of(path, after[0], sizeof(after[0]));
	md5_of(wal, after[1], sizeof(after[1]));
	assert_string_equal(before[0], after[0]);
	assert_string_equal(before[1], after[1]);
	/* without its -wal the same file is what it is: truncated */
	assert_int_equal(rename(wal, tpath("cut.db-wal.kept")), 0);
	expect_open_error(path, "truncated");
}

/* ---- the reader checks what it reads ------------------------------------------- */

static void sql(const char *path, const char *stmt)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, stmt, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", stmt, msg);
	sqlite3_close(db);
}

/* A closed trace of 1520 events (100 with e/f), one snapshot row, for mutants. */
static void make_good(const char *name)
{
	struct avm_err err = { "" };
	struct trace *t = create_or_die(name);
	struct avm_snap_vma v = { .snap = 1, .mm = 2, .start = 0x1000, .end = 0x5000,
				  .chain_len = 1, .chain = { 3 } };
	struct avm_event snap = { .kind = AVM_SNAPSHOT, .mm = 0, .a = 1, .b = AVM_SNAP_START,
				  .c = 1, .t = 1 };

	assert_int_equal(trace_append_snap_vma(t, &v, &err), 0);
	assert_int_equal(trace_append(t, &snap, &err), 0);
	for (uint64_t i = 2; i <= 1520; i++) {
		struct avm_event ev;

		make_event(i, &ev);
		assert_int_equal(trace_append(t, &ev, &err), 0);
	}
	assert_int_equal(trace_close(t, &err), 0);
}

static int skip_vma(void *ctx, const struct avm_snap_vma *v, struct avm_err *err)
{
	(void)ctx;
	(void)v;
	(void)err;
	return 0;
}

/* Open and read every event and snapshot row: the first error, "" if none. */
static const char *read_all(const char *path)
{
	static struct avm_err err;
	struct avm_event ev;
	struct trace *t = NULL;
	int rc;

	err.msg[0] = '\0';
	if (trace_open(path, &t, &err))
		return err.msg;
	while ((rc = trace_next(t, &ev, &err)) == 1)
		if (ev.kind == AVM_SNAPSHOT && trace_snapshot_vmas(t, (uint64_t)ev.a, skip_vma,
								   NULL, &err))
			break;
	trace_close(t, NULL);
	return err.msg;
}

#define AVM_STR_(x) #x
#define AVM_STR(x) AVM_STR_(x) /* a macro's value as a string literal */

static void expect_broken(const char *stmt, const char *want)
{
	const char *msg;

	make_good("mut.db");
	sql(tpath("mut.db"), stmt);
	msg = read_all(tpath("mut.db"));
	if (!strstr(msg, want))
		fail_msg("%s: '%s' lacks '%s'", stmt, msg, want);
	assert_null(strchr(msg, '\n'));
	assert_non_null(strstr(msg, "mut.db")); /* names the file */
}

static void test_reader_checks(void **state)
{
	(void)state;
	make_good("mut.db");
	assert_string_equal(read_all(tpath("mut.db")), "");
	/* rows missing at the end or in the middle of a closed trace */
	expect_broken("DELETE FROM events WHERE rowid > 1000",
		      "meta events = 1520 but the last event is 1000 (events are missing)");
	expect_broken("DELETE FROM events WHERE rowid BETWEEN 500 AND 600",
		      "events_ef row with seq 501 has no event");
	expect_broken("DELETE FROM events WHERE rowid BETWEEN 500 AND 600 AND "
		      "rowid NOT IN (SELECT seq FROM events_ef)",
		      "meta events = 1520 but the trace holds 1457 events");
	/* impossible kinds, values of the wrong type or out of a column's range */
	expect_broken("UPDATE events SET kind = 4294967297 WHERE rowid = 7",
		      "events row 7: kind = 4294967297 is out of range");
	expect_broken("UPDATE events SET kind = 99 WHERE rowid = 7",
		      "event 7: kind 99 is not an event kind of schema version "
		      AVM_STR(TRACE_SCHEMA_VERSION));
	expect_broken("UPDATE events SET dt = 'soon' WHERE rowid = 9",
		      "events row 9: dt is text, not an integer");
	expect_broken("UPDATE events SET a = 1.5 WHERE rowid = 9",
		      "events row 9: a is a real, not an integer");
	expect_broken("UPDATE events SET cpu = -1 WHERE rowid = 9", "cpu = -1 is out of range");
	expect_broken("UPDATE events SET mm = -3 WHERE rowid = 9", "mm = -3 is out of range");
	expect_broken("UPDATE events SET b = 7 WHERE rowid = 1",
		      "event 1 (kind 60): b = 7 is out of range (1 to 3)");
	/* time: the running sum of dt leaves 0 .. INT64_MAX */
	expect_broken("UPDATE events SET dt = 9223372036854775000 WHERE rowid = 5",
		      "event 5: dt = 9223372036854775000 takes the time out of range");
	expect_broken("UPDATE events SET dt = -9223372036854775000 WHERE rowid = 5",
		      "takes the time out of range");
	/* events_ef rows against the events */
	expect_broken("UPDATE events_ef SET seq = -5 WHERE seq = (SELECT min(seq) FROM events_ef)",
		      "events_ef row with seq -5 has no event");
	expect_broken("INSERT INTO events_ef VALUES (99999, 1, 1)",
		      "events_ef row with seq 99999 has no event");
	expect_broken("INSERT INTO events_ef VALUES (2, 1, 1)",
		      "event 2 (kind 11) has an events_ef row, which that kind does not have");
	/* meta: ranges, and against the rows */
	expect_broken("UPDATE meta SET value = '-1' WHERE key = 'lost_events'",
		      "meta lost_events = -1 is out of range");
	expect_broken("UPDATE meta SET value = '-5' WHERE key = 'lost_events'",
		      "meta lost_events = -5 is out of range");
	expect_broken("UPDATE meta SET value = '5' WHERE key = 'lost_events'",
		      "meta lost_events = 5 but table lost sums to 0");
	expect_broken("INSERT INTO meta VALUES ('size_anon_vma', '-1')",
		      "meta size_anon_vma = -1 is out of range (1 to 65536)");
	expect_broken("INSERT INTO meta VALUES ('page_size', '5000')",
		      "meta page_size = 5000 is out of range (4096 to 65536, a power of two)");
	expect_broken("UPDATE meta SET value = 'yes' WHERE key = 'complete'",
		      "meta complete is not an integer");
	expect_broken("INSERT INTO lost VALUES (1, -4)", "lost row 1: count = -4 is out of range");
	/* snapshot rows */
	expect_broken("UPDATE snap_vmas SET chain_len = 999",
		      "snap_vmas row 1: chain_len = 999 is out of range (0 to 64)");
	expect_broken("UPDATE snap_vmas SET end = 4096",
		      "snapshot 1 mm 2: VMA [0x1000, 0x1000) is empty or reversed");
	expect_broken("UPDATE snap_vmas SET mm = 'x'", "snap_vmas row 1: mm is text, not an integer");
}

/* Process identity rows (version 3 on) and the trace id every new trace gets. */
struct procs_seen {
	int n;
	uint32_t pid[4];
	int64_t t[4];
	char comm[4][16], exe[4][64];
};

static int on_proc(void *ctx, uint32_t pid, int64_t t_ns, const char *comm, const char *exe,
		   struct avm_err *err)
{
	struct procs_seen *s = ctx;

	(void)err;
	if (s->n < 4) {
		s->pid[s->n] = pid;
		s->t[s->n] = t_ns;
		snprintf(s->comm[s->n], sizeof(s->comm[0]), "%s", comm);
		snprintf(s->exe[s->n], sizeof(s->exe[0]), "%s", exe);
	}
	s->n++;
	return 0;
}

static void procs_sql(const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(tpath("procs.db"), &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_processes(void **state)
{
	struct avm_err err = { "" };
	struct procs_seen seen = { 0 };
	struct trace *t = create_or_die("procs.db"), *t2 = create_or_die("procs2.db");
	char id[64], id2[64];

	(void)state;
	assert_int_equal(trace_append_proc(t, 42, 500, "worker", "/usr/bin/worker", &err), 0);
	/* comm is cut at TRACE_COMM_MAX bytes */
	assert_int_equal(trace_append_proc(t, 7, 100, "a-very-long-process-name", "", &err), 0);
	assert_int_equal(trace_append_proc(t, 42, 900, "sh", "/bin/sh", &err), 0);
	assert_int_equal(trace_close(t, &err), 0);
	assert_int_equal(trace_close(t2, &err), 0);
	assert_int_equal(trace_open(tpath("procs.db"), &t, &err), 0);
	assert_int_equal(trace_procs(t, on_proc, &seen, &err), 0);
	assert_int_equal(seen.n, 3);
	/* in time order: the latest row of a pid comes last */
	assert_int_equal(seen.pid[0], 7);
	assert_string_equal(seen.comm[0], "a-very-long-pro");
	assert_string_equal(seen.exe[0], "");
	assert_int_equal(seen.pid[2], 42);
	assert_int_equal(seen.t[2], 900);
	assert_string_equal(seen.comm[2], "sh");
	assert_string_equal(seen.exe[2], "/bin/sh");
	/* a fresh 32-hex-digit id per trace */
	assert_int_equal(trace_meta_get(t, "trace_id", id, sizeof(id), &err), 1);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	trace_close(t, NULL);
	assert_int_equal(trace_open(tpath("procs2.db"), &t, &err), 0);
	assert_int_equal(trace_meta_get(t, "trace_id", id2, sizeof(id2), &err), 1);
	assert_string_not_equal(id, id2);
	trace_close(t, NULL);
	/* broken rows: one line naming the row */
	procs_sql("UPDATE processes SET comm = x'41' WHERE pid = 7");
	assert_int_equal(trace_open(tpath("procs.db"), &t, &err), 0);
	assert_int_equal(trace_procs(t, on_proc, &seen, &err), -1);
	assert_non_null(strstr(err.msg, "processes row 1: comm and exe must be text"));
	trace_close(t, NULL);
	procs_sql("UPDATE processes SET comm = 'x', pid = -1 WHERE pid = 7");
	assert_int_equal(trace_open(tpath("procs.db"), &t, &err), 0);
	assert_int_equal(trace_procs(t, on_proc, &seen, &err), -1);
	assert_non_null(strstr(err.msg, "processes row 1: pid = -1 is out of range"));
	trace_close(t, NULL);
	/* a version-2 trace has no table: no rows, no error */
	procs_sql("DROP TABLE processes; UPDATE meta SET value = '2' WHERE key = 'schema_version'");
	assert_int_equal(trace_open(tpath("procs.db"), &t, &err), 0);
	seen.n = 0;
	assert_int_equal(trace_procs(t, on_proc, &seen, &err), 0);
	assert_int_equal(seen.n, 0);
	trace_close(t, NULL);
}

/* The in-memory reader (fuzzing) reads the same bytes as the file reader. */
static void test_open_memory(void **state)
{
	struct avm_err err = { "" };
	struct trace *t = NULL;
	struct stat st;
	char *buf;
	FILE *f;

	(void)state;
	make_good("mem.db");
	assert_int_equal(stat(tpath("mem.db"), &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	f = fopen(tpath("mem.db"), "rb");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	assert_int_equal(trace_open_memory(buf, (size_t)st.st_size, "mem", &t, &err), 0);
	assert_int_equal(trace_event_count(t, &err), 1520);
	assert_false(trace_recovered(t));
	assert_int_equal(trace_close(t, &err), 0);
	assert_int_equal(trace_open_memory(buf, 50, "mem", &t, &err), -1);
	assert_non_null(strstr(err.msg, "mem: not an SQLite database"));
	memset(buf + 100, 0xff, 4000); /* page 1 after the header: the schema is gone */
	assert_int_equal(trace_open_memory(buf, (size_t)st.st_size, "mem", &t, &err), -1);
	assert_null(t);
	free(buf);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_trace.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_mode_and_overwrite),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_wrong_version),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt_middle),
		cmocka_unit_test(test_garbage_empty_missing),
		cmocka_unit_test(test_not_a_trace),
		cmocka_unit_test(test_close_commits_partial_batch),
		cmocka_unit_test(test_killed_writer),
		cmocka_unit_test(test_abort_keeps_incomplete),
		cmocka_unit_test(test_reader_is_read_only),
		cmocka_unit_test(test_create_refuses_non_regular),
		cmocka_unit_test(test_create_error_one_line),
		cmocka_unit_test(test_meta_before_first_commit),
		cmocka_unit_test(test_wal_recovery),
		cmocka_unit_test(test_reader_checks),
		cmocka_unit_test(test_open_memory),
		cmocka_unit_test(test_processes),
	};

	return cmocka_run_group_tests_name("trace", tests, setup, teardown);
}
