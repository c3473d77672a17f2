/*
 * test_trace.c - the trace store (src/trace.c): round trip of every field,
 * the file's mode, and every way a bad file must fail with one clear line
 * (wrong schema version, truncated, garbage, empty, missing, corrupt middle),
 * plus the writer's promises: an interrupted writer's committed batches stay
 * readable, close commits a partial batch, abort leaves complete=0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
	ev->kind = (i % 2) ? AVM_FAULT : AVM_SLAB;
	ev->mm = 1 + i % 9;
	ev->a = (int64_t)(0x7f0000000000ULL + i * 4096);
	ev->b = -(int64_t)(i % 11);          /* negative values survive */
	ev->c = (int64_t)i;
	ev->d = (i % 13) ? 0 : INT64_MAX;    /* extremes survive */
	ev->e = (i % 17) ? 0 : INT64_MIN;
	ev->f = (i % 3 == 0); /* most events have no events_ef row */
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
	};

	return cmocka_run_group_tests_name("trace", tests, setup, teardown);
}
