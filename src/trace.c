/*
 * trace.c - the SQLite trace store; see trace.h for the API, schema.sql for
 * the file format (every table and column is documented there).
 *
 * Embedding: schema.sql is pulled into the object file with the assembler's
 * .incbin (below), so the binaries carry the schema and never read the file
 * at run time.  The Makefile makes trace.o depend on schema.sql.
 *
 * Writer.  Events are the bulk of a trace, so their path is:
 *   trace_append -> row buffer (TRACE_BATCH_ROWS events)
 *                -> one prepared multi-row INSERT of TRACE_BATCH_ROWS rows
 *                -> a transaction that is committed every TRACE_TXN_ROWS rows.
 * A partial buffer at flush/close time goes through the one-row INSERT.  The
 * file is created 0600 before SQLite opens it (journal files inherit the
 * mode), runs in WAL mode with synchronous=OFF during the bulk, and is turned
 * back into a rollback-journal file (checkpointed, no -wal/-shm left) by
 * trace_close, so readers need no write access to its directory.  Time is
 * delta-encoded (events.dt), tid is NULL when it equals pid, and the rarely
 * used arguments e and f go to events_ef only when non-zero: together they
 * keep an event near 30 bytes on disk (schema.sql explains the size budget).
 * A meta row set outside a batch is committed at once (the host metadata
 * survives a writer killed before its first batch).  A writer that cannot
 * finish (a full disk) closes without a checkpoint: the file plus its -wal
 * hold every committed batch, and a checkpoint cut short would only leave a
 * main file whose header counts pages it does not have.
 *
 * Creating.  Before SQLite sees the path, lstat checks it and its -wal,
 * -shm and -journal: anything but a regular file is refused, never removed
 * nor followed; regular ones are removed only with overwrite.  The file is
 * made with O_EXCL|O_NOFOLLOW and opened with SQLITE_OPEN_NOFOLLOW; SQLite
 * itself does not follow a symlink planted at -wal/-shm afterwards (the
 * open fails, so the run stops).  Errors name what failed and SQLite's
 * cause (and errno when the system caused it), never the SQL.
 *
 * Reader.  trace_open checks, before trusting SQLite with the file: that it
 * exists and is not empty, the SQLite magic, and - unless a -wal next to it
 * holds newer pages - that the file is as long as its header says (a
 * truncated copy fails here).  With a -wal (a writer that did not finish)
 * the file is opened read-only in place: SQLite reads file and -wal
 * together and never checkpoints on a read-only connection; when the -shm
 * is missing and cannot be made, a private copy is read instead.  Then
 * meta.schema_version, the meta keys against their ranges, and the cheap
 * ends of the tables against meta (last event, events_ef seqs, lost).
 * trace_next checks every row against the tables below (types, column
 * ranges, kinds, enumerated arguments, e/f only where a kind has them, time
 * within 0..INT64_MAX), steps two statements in rowid order (events, and
 * events_ef merged in by seq) and rebuilds t as the running sum of dt: O(1)
 * memory; at the end it compares the count with meta events.  Any SQLite
 * error met later (a corrupt page in the middle) is reported with the last
 * good seq, never skipped.  trace_open_memory reads a byte copy of a trace
 * through sqlite3_deserialize with the same checks (fuzzing).
 */
#include "trace.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

/* schema.sql, embedded; NUL-terminated so it can be handed to sqlite3_exec. */
__asm__(".section .rodata\n"
	".global trace_schema_sql\n"
	".type trace_schema_sql, @object\n"
	".balign 16\n"
	"trace_schema_sql:\n"
	".incbin \"schema.sql\"\n"
	".byte 0\n"
	".size trace_schema_sql, . - trace_schema_sql\n"
	".previous\n");
extern const char trace_schema_sql[];

#define TRACE_BATCH_ROWS 64      /* rows per multi-row INSERT (13 params each) */
#define TRACE_TXN_ROWS   50000   /* rows per transaction */
#define TRACE_EV_COLS    11
#define TRACE_KIND_INDEX 128     /* kinds looked up by index; larger ones by a scan */

struct trace_kind_rule;

struct trace_row {
	int64_t seq, dt;
	struct avm_event ev;
};

struct trace {
	sqlite3 *db;
	char *path;
	bool writer;
	bool in_txn;
	int version;            /* schema version of the file */
	/* writer */
	sqlite3_stmt *ins_batch, *ins_one, *ins_ef, *ins_vma, *ins_av, *ins_lost, *ins_proc;
	struct trace_row rows[TRACE_BATCH_ROWS];
	int nrows;
	uint64_t txn_rows;
	uint64_t last_seq;
	int64_t last_t;
	uint64_t written;
	uint64_t *lost; /* per cpu, summed from AVM_LOST events */
	size_t nlost;
	/* both */
	sqlite3_stmt *meta_set, *meta_get, *snap_vmas, *snap_avs;
	/* reader */
	sqlite3_stmt *read, *read_ef;
	int64_t read_t;
	uint64_t read_seq;
	uint64_t read_count;    /* events returned since the last rewind */
	bool recovered;         /* read together with a -wal its writer left */
	char *copy_dir;         /* private copy of file + -wal being read (removed at close) */
	bool complete;          /* meta complete = 1 */
	int64_t meta_events, meta_lost; /* meta events / lost_events, -1 when absent */
	char errbuf[256];       /* trace_dberr */
	/* reader: the rule of each kind below TRACE_KIND_INDEX (trace_kinds), NULL: none */
	const struct trace_kind_rule *kind_rule[TRACE_KIND_INDEX];
	uint64_t ef_seq;        /* seq of the pending events_ef row; 0: fetch; UINT64_MAX: none */
	int64_t ef_e, ef_f;
};

/*
 * SQLite's message for the last error, on one line: a malformed schema is
 * quoted in it with its newlines, and every message here is one line.
 */
static const char *trace_dberr(struct trace *t)
{
	const char *m = t->db ? sqlite3_errmsg(t->db) : "out of memory";
	size_t i;

	for (i = 0; m[i] && i < sizeof(t->errbuf) - 1; i++)
		t->errbuf[i] = (m[i] == '\n' || m[i] == '\t' || m[i] == '\r') ? ' ' : m[i];
	t->errbuf[i] = '\0';
	return t->errbuf;
}

/*
 * "PATH: WHAT: CAUSE" in one line: SQLite's message plus, when an operating
 * system call failed under it (a full disk, a blocked -shm), that call's errno.
 */
static int trace_sqlerr(struct trace *t, struct avm_err *err, const char *what)
{
	int code = t->db ? sqlite3_errcode(t->db) & 0xff : SQLITE_NOMEM;
	int sys = t->db ? sqlite3_system_errno(t->db) : 0;
	const char *msg = trace_dberr(t);
	/* the errno is only this error's cause when the error came from the system */
	bool os = code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN ||
		  code == SQLITE_PERM || code == SQLITE_READONLY;

	if (sys && os)
		return avm_errf(err, "%s: %s: %s (%s)", t->path, what, msg, strerror(sys));
	return avm_errf(err, "%s: %s: %s", t->path, what, msg);
}

/* Run SQL; on failure "PATH: WHAT: CAUSE" (never the SQL text: schema.sql is long). */
static int trace_exec(struct trace *t, const char *sql, const char *what, struct avm_err *err)
{
	if (sqlite3_exec(t->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return trace_sqlerr(t, err, what);
	return 0;
}

static int trace_prepare(struct trace *t, const char *sql, sqlite3_stmt **st,
			 struct avm_err *err)
{
	if (sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return trace_sqlerr(t, err, "prepare");
	return 0;
}

/* Remove a private copy made by trace_open_copy: its files, then the directory. */
static void trace_remove_copy(const char *dir)
{
	static const char *const names[] = { "t.db", "t.db-wal", "t.db-shm", "t.db-journal" };
	char p[4096];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void trace_free(struct trace *t)
{
	sqlite3_stmt *sts[] = { t->ins_batch, t->ins_one, t->ins_ef, t->ins_vma, t->ins_av,
				t->ins_lost, t->ins_proc, t->meta_set, t->meta_get, t->snap_vmas, t->snap_avs,
				t->read, t->read_ef };

	for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
		sqlite3_finalize(sts[i]);
	sqlite3_close(t->db);
	if (t->copy_dir)
		trace_remove_copy(t->copy_dir);
	free(t->copy_dir);
	free(t->lost);
	free(t->path);
	free(t);
}

static void trace_free_safe(struct trace *t)
{
	if (t)
		trace_free(t);
}

static struct trace *trace_alloc(const char *path, struct avm_err *err)
{
	struct trace *t = calloc(1, sizeof(*t));

	if (!t || !(t->path = strdup(path))) {
		free(t);
		avm_errf(err, "%s: out of memory", path);
		return NULL;
	}
	return t;
}

/* ---- writer ------------------------------------------------------------- */

static int trace_begin(struct trace *t, struct avm_err *err)
{
	if (t->in_txn)
		return 0;
	if (trace_exec(t, "BEGIN", "begin a transaction", err))
		return -1;
	t->in_txn = true;
	t->txn_rows = 0;
	return 0;
}

static int trace_commit(struct trace *t, struct avm_err *err)
{
	if (!t->in_txn)
		return 0;
	if (trace_exec(t, "COMMIT", "commit", err))
		return -1;
	t->in_txn = false;
	return 0;
}

static int trace_step_done(struct trace *t, sqlite3_stmt *st, const char *what,
			   struct avm_err *err)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return trace_sqlerr(t, err, what);
	return 0;
}

static int trace_bind_row(sqlite3_stmt *st, int base, const struct trace_row *r)
{
	const struct avm_event *ev = &r->ev;
	int rc = 0;

	rc |= sqlite3_bind_int64(st, base + 1, r->seq);
	rc |= sqlite3_bind_int64(st, base + 2, r->dt);
	rc |= sqlite3_bind_int64(st, base + 3, ev->cpu);
	if (ev->tid != ev->pid)
		rc |= sqlite3_bind_int64(st, base + 4, ev->tid);
	else
		rc |= sqlite3_bind_null(st, base + 4);
	rc |= sqlite3_bind_int64(st, base + 5, ev->kind);
	rc |= sqlite3_bind_int64(st, base + 6, ev->pid);
	rc |= sqlite3_bind_int64(st, base + 7, (int64_t)ev->mm);
	rc |= sqlite3_bind_int64(st, base + 8, ev->a);
	rc |= sqlite3_bind_int64(st, base + 9, ev->b);
	rc |= sqlite3_bind_int64(st, base + 10, ev->c);
	rc |= sqlite3_bind_int64(st, base + 11, ev->d);
	return rc;
}

/* The e/f arguments of the buffered rows that have them (schema.sql: events_ef). */
static int trace_write_ef(struct trace *t, struct avm_err *err)
{
	for (int i = 0; i < t->nrows; i++) {
		const struct trace_row *r = &t->rows[i];

		if (!r->ev.e && !r->ev.f)
			continue;
		if (sqlite3_bind_int64(t->ins_ef, 1, r->seq) != SQLITE_OK ||
		    sqlite3_bind_int64(t->ins_ef, 2, r->ev.e) != SQLITE_OK ||
		    sqlite3_bind_int64(t->ins_ef, 3, r->ev.f) != SQLITE_OK)
			return trace_sqlerr(t, err, "bind event e/f");
		if (trace_step_done(t, t->ins_ef, "insert event e/f", err))
			return -1;
	}
	return 0;
}

/* Write the buffered rows: one multi-row INSERT if full, else one row at a time. */
static int trace_write_rows(struct trace *t, struct avm_err *err)
{
	if (t->nrows == 0)
		return 0;
	if (trace_begin(t, err) || trace_write_ef(t, err))
		return -1;
	if (t->nrows == TRACE_BATCH_ROWS) {
		for (int i = 0; i < t->nrows; i++)
			if (trace_bind_row(t->ins_batch, i * TRACE_EV_COLS, &t->rows[i]) != SQLITE_OK)
				return trace_sqlerr(t, err, "bind event");
		if (trace_step_done(t, t->ins_batch, "insert events", err))
			return -1;
	} else {
		for (int i = 0; i < t->nrows; i++) {
			if (trace_bind_row(t->ins_one, 0, &t->rows[i]) != SQLITE_OK)
				return trace_sqlerr(t, err, "bind event");
			if (trace_step_done(t, t->ins_one, "insert event", err))
				return -1;
		}
	}
	t->txn_rows += t->nrows;
	t->nrows = 0;
	if (t->txn_rows >= TRACE_TXN_ROWS)
		return trace_commit(t, err);
	return 0;
}

static int trace_prepare_writer(struct trace *t, struct avm_err *err)
{
	static const char row[] = "(?,?,?,?,?,?,?,?,?,?,?)";
	static const char head[] =
		"INSERT INTO events(rowid,dt,cpu,tid,kind,pid,mm,a,b,c,d) VALUES ";
	char *sql;
	size_t len = sizeof(head) + TRACE_BATCH_ROWS * sizeof(row);
	int rc;

	sql = malloc(len);
	if (!sql)
		return avm_errf(err, "%s: out of memory", t->path);
	strcpy(sql, head);
	for (int i = 0; i < TRACE_BATCH_ROWS; i++) {
		if (i)
			strcat(sql, ",");
		strcat(sql, row);
	}
	rc = trace_prepare(t, sql, &t->ins_batch, err);
	free(sql);
	if (rc)
		return -1;
	if (trace_prepare(t, "INSERT INTO events(rowid,dt,cpu,tid,kind,pid,mm,a,b,c,d) "
			     "VALUES (?,?,?,?,?,?,?,?,?,?,?)", &t->ins_one, err) ||
	    trace_prepare(t, "INSERT INTO events_ef(seq,e,f) VALUES (?,?,?)", &t->ins_ef, err) ||
	    trace_prepare(t, "INSERT INTO snap_vmas VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			  &t->ins_vma, err) ||
	    trace_prepare(t, "INSERT INTO snap_anon_vmas VALUES (?,?,?,?,?,?,?)", &t->ins_av,
			  err) ||
	    trace_prepare(t, "INSERT OR REPLACE INTO lost(cpu,count) VALUES (?,?)", &t->ins_lost,
			  err) ||
	    trace_prepare(t, "INSERT INTO processes(pid,t,comm,exe) VALUES (?,?,?,?)",
			  &t->ins_proc, err))
		return -1;
	return 0;
}

int trace_new_id(char out[33], struct avm_err *err)
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return avm_errf(err, "cannot make a trace id: getrandom: %s", strerror(errno));
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

static int trace_prepare_common(struct trace *t, struct avm_err *err)
{
	if (trace_prepare(t, "SELECT value FROM meta WHERE key = ?", &t->meta_get, err) ||
	    trace_prepare(t, "SELECT mm,start,end,pgoff,flags,file,anon_vma,av_root,av_parent,"
			     "av_refcount,av_children,av_active,chain_len,chain "
			     "FROM snap_vmas WHERE snap = ? ORDER BY mm, start", &t->snap_vmas,
			  err) ||
	    trace_prepare(t, "SELECT id,root,parent,refcount,num_children,num_active_vmas "
			     "FROM snap_anon_vmas WHERE snap = ? ORDER BY id", &t->snap_avs, err))
		return -1;
	return 0;
}

/* SQLite's side files of a trace, which it creates next to it by name. */
static const char *const trace_side_suffixes[] = { "-wal", "-shm", "-journal" };
#define TRACE_NSIDES (sizeof(trace_side_suffixes) / sizeof(trace_side_suffixes[0]))

static const char *trace_file_type(mode_t mode)
{
	return S_ISLNK(mode) ? "a symbolic link" : S_ISDIR(mode) ? "a directory" :
	       S_ISFIFO(mode) ? "a fifo" : S_ISCHR(mode) ? "a character device" :
	       S_ISBLK(mode) ? "a block device" : S_ISSOCK(mode) ? "a socket" : "not a regular file";
}

/*
 * What may stand where a new trace goes: nothing, or (overwrite) a regular
 * file, which is removed.  A device, fifo, symlink or directory is never
 * removed nor followed, at the path or at a side file; a left-over side file
 * without overwrite is refused too (SQLite would read a stale -wal into the
 * new trace).
 */
static int trace_clear_target(const char *path, int overwrite, struct avm_err *err)
{
	char side[TRACE_NSIDES][4096];
	const char *names[TRACE_NSIDES + 1];
	struct stat st;

	names[0] = path;
	for (size_t i = 0; i < TRACE_NSIDES; i++) {
		if ((size_t)snprintf(side[i], sizeof(side[i]), "%s%s", path,
				     trace_side_suffixes[i]) >= sizeof(side[i]))
			return avm_errf(err, "%s: path too long", path);
		names[i + 1] = side[i];
	}
	/* check every name before removing any */
	for (size_t i = 0; i <= TRACE_NSIDES; i++) {
		if (lstat(names[i], &st)) {
			if (errno == ENOENT)
				continue;
			return avm_errf(err, "%s: %s", names[i], strerror(errno));
		}
		if (!S_ISREG(st.st_mode))
			return avm_errf(err, "%s: %s, not a trace: not replacing it", names[i],
					trace_file_type(st.st_mode));
		if (!overwrite)
			return avm_errf(err, i ? "%s: left over from another trace (not overwriting "
					     "it)" : "%s: already exists (not overwriting a trace)",
					names[i]);
	}
	for (size_t i = 0; i <= TRACE_NSIDES; i++)
		if (unlink(names[i]) && errno != ENOENT)
			return avm_errf(err, "%s: cannot remove: %s", names[i], strerror(errno));
	return 0;
}

/* Remove what a failed trace_create made (the file was created by it, O_EXCL). */
static void trace_remove_created(const char *path)
{
	char side[4096];
	struct stat st;

	if (!lstat(path, &st) && S_ISREG(st.st_mode))
		unlink(path);
	for (size_t i = 0; i < TRACE_NSIDES; i++) {
		snprintf(side, sizeof(side), "%s%s", path, trace_side_suffixes[i]);
		if (!lstat(side, &st) && S_ISREG(st.st_mode))
			unlink(side);
	}
}

int trace_create(const char *path, int overwrite, struct trace **out, struct avm_err *err)
{
	char id[33];
	struct trace *t = NULL;
	bool created = false;
	int fd, ret = -1;

	*out = NULL;
	if (trace_clear_target(path, overwrite, err))
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return avm_errf(err, "%s: already exists (not overwriting a trace)", path);
		return avm_errf(err, "%s: cannot create: %s", path, strerror(errno));
	}
	close(fd);
	created = true;
	t = trace_alloc(path, err);
	if (!t)
		goto out;
	t->writer = true;
	/* NOFOLLOW: the path must still be the file made above; SQLite never follows a
	 * symlink at -wal / -shm either (it fails to open them: the run stops) */
	if (sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK) {
		trace_sqlerr(t, err, "cannot open the new trace");
		goto out;
	}
	sqlite3_extended_result_codes(t->db, 1);
	if (trace_exec(t, "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; "
			  "PRAGMA synchronous = OFF", "cannot create the trace", err) ||
	    trace_exec(t, "BEGIN", "cannot create the trace", err) ||
	    trace_exec(t, trace_schema_sql, "cannot create the trace", err) ||
	    trace_exec(t, "COMMIT", "cannot create the trace", err))
		goto out;
	if (trace_prepare_writer(t, err) || trace_prepare_common(t, err))
		goto out;
	if (trace_new_id(id, err) ||
	    trace_meta_set_int(t, "schema_version", TRACE_SCHEMA_VERSION, err) ||
	    trace_meta_set(t, "trace_id", id, err) || trace_meta_set_int(t, "complete", 0, err))
		goto out;
	*out = t;
	t = NULL;
	ret = 0;
out:
	if (ret) {
		trace_free_safe(t);
		if (created)
			trace_remove_created(path); /* a half-created file is no trace */
	}
	return ret;
}

int trace_append(struct trace *t, const struct avm_event *ev, struct avm_err *err)
{
	struct trace_row *r;
	uint64_t seq = ev->seq ? ev->seq : t->last_seq + 1;

	if (!t->writer)
		return avm_errf(err, "%s: opened read-only", t->path);
	if (seq <= t->last_seq)
		return avm_errf(err, "%s: event seq %" PRIu64 " after seq %" PRIu64
			       " (events must be appended in order)", t->path, seq, t->last_seq);
	if (seq > INT64_MAX)
		return avm_errf(err, "%s: event seq %" PRIu64 " out of range", t->path, seq);
	if (ev->kind == AVM_LOST) {
		if (ev->a < 0 || ev->a >= 65536 || ev->b < 0)
			return avm_errf(err, "%s: lost-events record with cpu %" PRId64
				       " count %" PRId64, t->path, ev->a, ev->b);
		if ((size_t)ev->a >= t->nlost) {
			size_t n = (size_t)ev->a + 1;
			uint64_t *l = realloc(t->lost, n * sizeof(*l));

			if (!l)
				return avm_errf(err, "%s: out of memory", t->path);
			memset(l + t->nlost, 0, (n - t->nlost) * sizeof(*l));
			t->lost = l;
			t->nlost = n;
		}
		t->lost[ev->a] += (uint64_t)ev->b;
	}
	r = &t->rows[t->nrows++];
	r->seq = (int64_t)seq;
	r->dt = (int64_t)(ev->t - (uint64_t)t->last_t);
	r->ev = *ev;
	t->last_seq = seq;
	t->last_t = (int64_t)ev->t;
	t->written++;
	if (t->nrows == TRACE_BATCH_ROWS)
		return trace_write_rows(t, err);
	return 0;
}

/* "12,7,3": at most AVM_CHAIN_MAX ids, head first. */
static void trace_chain_text(const struct avm_snap_vma *v, char *buf, size_t len)
{
	size_t n = v->chain_len < AVM_CHAIN_MAX ? v->chain_len : AVM_CHAIN_MAX;
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%" PRIu64, i ? "," : "", v->chain[i]);
}

int trace_append_snap_vma(struct trace *t, const struct avm_snap_vma *v, struct avm_err *err)
{
	sqlite3_stmt *st = t->ins_vma;
	char chain[AVM_CHAIN_MAX * 21 + 1];
	int rc = 0;

	if (!t->writer)
		return avm_errf(err, "%s: opened read-only", t->path);
	if (trace_begin(t, err))
		return -1;
	trace_chain_text(v, chain, sizeof(chain));
	rc |= sqlite3_bind_int64(st, 1, (int64_t)v->snap);
	rc |= sqlite3_bind_int64(st, 2, (int64_t)v->mm);
	rc |= sqlite3_bind_int64(st, 3, (int64_t)v->start);
	rc |= sqlite3_bind_int64(st, 4, (int64_t)v->end);
	rc |= sqlite3_bind_int64(st, 5, (int64_t)v->pgoff);
	rc |= sqlite3_bind_int64(st, 6, (int64_t)v->flags);
	rc |= sqlite3_bind_int64(st, 7, (int64_t)v->file);
	rc |= sqlite3_bind_int64(st, 8, (int64_t)v->anon_vma);
	rc |= sqlite3_bind_int64(st, 9, (int64_t)v->av_root);
	rc |= sqlite3_bind_int64(st, 10, (int64_t)v->av_parent);
	rc |= sqlite3_bind_int64(st, 11, v->av_refcount);
	rc |= sqlite3_bind_int64(st, 12, v->av_children);
	rc |= sqlite3_bind_int64(st, 13, v->av_active);
	rc |= sqlite3_bind_int64(st, 14, v->chain_len);
	rc |= sqlite3_bind_text(st, 15, chain, -1, SQLITE_TRANSIENT);
	if (rc != SQLITE_OK)
		return trace_sqlerr(t, err, "bind snapshot vma");
	if (trace_step_done(t, st, "insert snapshot vma", err))
		return avm_err_prefix(err, "snapshot %" PRIu64 " mm %" PRIu64 " vma %#" PRIx64,
				      v->snap, v->mm, v->start);
	t->txn_rows++;
	return 0;
}

int trace_append_snap_av(struct trace *t, const struct avm_snap_av *a, struct avm_err *err)
{
	sqlite3_stmt *st = t->ins_av;
	int rc = 0;

	if (!t->writer)
		return avm_errf(err, "%s: opened read-only", t->path);
	if (trace_begin(t, err))
		return -1;
	rc |= sqlite3_bind_int64(st, 1, (int64_t)a->snap);
	rc |= sqlite3_bind_int64(st, 2, (int64_t)a->id);
	rc |= sqlite3_bind_int64(st, 3, (int64_t)a->root);
	rc |= sqlite3_bind_int64(st, 4, (int64_t)a->parent);
	rc |= sqlite3_bind_int64(st, 5, a->refcount);
	rc |= sqlite3_bind_int64(st, 6, a->num_children);
	rc |= sqlite3_bind_int64(st, 7, a->num_active_vmas);
	if (rc != SQLITE_OK)
		return trace_sqlerr(t, err, "bind snapshot anon_vma");
	if (trace_step_done(t, st, "insert snapshot anon_vma", err))
		return avm_err_prefix(err, "snapshot %" PRIu64 " anon_vma %" PRIu64, a->snap, a->id);
	t->txn_rows++;
	return 0;
}

int trace_append_proc(struct trace *t, uint32_t pid, int64_t t_ns, const char *comm,
		      const char *exe, struct avm_err *err)
{
	sqlite3_stmt *st = t->ins_proc;
	size_t nc = strnlen(comm, TRACE_COMM_MAX), ne = strnlen(exe, TRACE_EXE_MAX);
	int rc = 0;

	if (!t->writer)
		return avm_errf(err, "%s: opened read-only", t->path);
	if (trace_begin(t, err))
		return -1;
	rc |= sqlite3_bind_int64(st, 1, pid);
	rc |= sqlite3_bind_int64(st, 2, t_ns < 0 ? 0 : t_ns);
	rc |= sqlite3_bind_text(st, 3, comm, (int)nc, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(st, 4, exe, (int)ne, SQLITE_TRANSIENT);
	if (rc != SQLITE_OK)
		return trace_sqlerr(t, err, "bind process");
	if (trace_step_done(t, st, "insert process", err))
		return avm_err_prefix(err, "process %" PRIu32, pid);
	t->txn_rows++;
	return 0;
}

/* Buffered rows, lost counts and lost_events, then commit. */
int trace_flush(struct trace *t, struct avm_err *err)
{
	uint64_t total = 0;

	if (!t->writer)
		return 0;
	if (trace_write_rows(t, err) || trace_begin(t, err))
		return -1;
	for (size_t cpu = 0; cpu < t->nlost; cpu++) {
		if (!t->lost[cpu])
			continue;
		total += t->lost[cpu];
		if (sqlite3_bind_int64(t->ins_lost, 1, (int64_t)cpu) != SQLITE_OK ||
		    sqlite3_bind_int64(t->ins_lost, 2, (int64_t)t->lost[cpu]) != SQLITE_OK)
			return trace_sqlerr(t, err, "bind lost");
		if (trace_step_done(t, t->ins_lost, "insert lost", err))
			return -1;
	}
	if (trace_meta_set_int(t, "lost_events", (int64_t)total, err))
		return -1;
	return trace_commit(t, err);
}

uint64_t trace_events_written(const struct trace *t)
{
	return t->written;
}

static int trace_finish(struct trace *t, bool complete, struct avm_err *err)
{
	/* The final state is written with full syncs, then the WAL is folded in. */
	if (trace_flush(t, err) ||
	    trace_exec(t, "PRAGMA synchronous = FULL", "finish the trace", err) ||
	    trace_begin(t, err) ||
	    trace_meta_set_int(t, "events", (int64_t)t->written, err) ||
	    trace_meta_set_int(t, "complete", complete ? 1 : 0, err) || trace_commit(t, err) ||
	    trace_exec(t, "PRAGMA journal_mode = DELETE", "fold the -wal into the trace", err))
		return -1;
	return 0;
}

static int trace_end(struct trace *t, bool complete, struct avm_err *err)
{
	int ret = 0;

	if (!t)
		return 0;
	if (t->writer)
		ret = trace_finish(t, complete, err);
	/*
	 * A writer that could not finish (a full disk) leaves the trace as the
	 * main file plus its -wal, which together hold every committed batch and
	 * which the reader recovers.  A checkpoint at close would copy -wal pages
	 * into a main file that may not grow: it is not tried.
	 */
	if (ret && t->writer && t->db)
		sqlite3_db_config(t->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	trace_free(t);
	return ret;
}

int trace_close(struct trace *t, struct avm_err *err)
{
	return trace_end(t, true, err);
}

int trace_abort(struct trace *t, struct avm_err *err)
{
	return trace_end(t, false, err);
}

int trace_version(const struct trace *t)
{
	return t->writer ? TRACE_SCHEMA_VERSION : t->version;
}

const char *trace_path(const struct trace *t)
{
	return t->path;
}

/* ---- meta ---------------------------------------------------------------- */

int trace_meta_set(struct trace *t, const char *key, const char *value, struct avm_err *err)
{
	bool own;

	if (!t->writer)
		return avm_errf(err, "%s: opened read-only", t->path);
	if (!t->meta_set &&
	    trace_prepare(t, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
			  &t->meta_set, err))
		return -1;
	/*
	 * Outside a transaction of events a meta row is committed at once: the
	 * host metadata written before the recording starts survives a writer
	 * killed before its first batch (WAL, synchronous=OFF: a cheap commit).
	 */
	own = !t->in_txn;
	if (trace_begin(t, err))
		return -1;
	if (sqlite3_bind_text(t->meta_set, 1, key, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(t->meta_set, 2, value, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return trace_sqlerr(t, err, "bind meta");
	if (trace_step_done(t, t->meta_set, "set meta", err))
		return avm_err_prefix(err, "meta %s", key);
	return own ? trace_commit(t, err) : 0;
}

int trace_meta_set_int(struct trace *t, const char *key, int64_t value, struct avm_err *err)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, value);
	return trace_meta_set(t, key, buf, err);
}

int trace_meta_get(struct trace *t, const char *key, char *buf, size_t len, struct avm_err *err)
{
	sqlite3_stmt *st = t->meta_get;
	const unsigned char *v;
	int rc, ret = -1;

	if (sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		trace_sqlerr(t, err, "bind meta");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = 0;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		trace_sqlerr(t, err, "read meta");
		goto out;
	}
	v = sqlite3_column_text(st, 0);
	if (!v)
		v = (const unsigned char *)"";
	if (strlen((const char *)v) >= len) {
		avm_errf(err, "%s: meta %s: value longer than %zu bytes", t->path, key, len - 1);
		goto out;
	}
	strcpy(buf, (const char *)v);
	ret = 1;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

int trace_meta_get_int(struct trace *t, const char *key, int64_t *value, struct avm_err *err)
{
	char buf[64], *end;
	long long v;
	int rc;

	rc = trace_meta_get(t, key, buf, sizeof(buf), err);
	if (rc <= 0)
		return rc;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf || *end)
		return avm_errf(err, "%s: meta %s = '%s' is not an integer", t->path, key, buf);
	*value = v;
	return 1;
}

int trace_meta_each(struct trace *t, trace_meta_cb cb, void *ctx, struct avm_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	if (trace_prepare(t, "SELECT key, value FROM meta ORDER BY key", &st, err))
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);

		if (cb(ctx, k ? k : "", v ? v : "", err))
			goto out;
	}
	if (rc != SQLITE_DONE) {
		trace_sqlerr(t, err, "read meta");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/* ---- reader -------------------------------------------------------------- */

/*
 * What the reader accepts (docs/trace-checks.md).  A value outside these is a
 * broken trace, refused with one line naming the row; values that are
 * well-formed but that the simulator cannot use are the replay's business
 * (skipped and counted there).  A new event kind, argument or meta key only
 * needs a row in one of these tables.
 */
struct trace_range {
	int64_t lo, hi;
	bool on; /* false: any value */
};

#define TR(lo, hi) { (lo), (hi), true }
#define TR_ID TR(1, INT64_MAX)
#define TR_NONNEG TR(0, INT64_MAX)
#define TR_U32 TR(0, UINT32_MAX)
#define TR_BOOL TR(0, 1)

struct trace_kind_rule {
	uint32_t kind;
	int since;                 /* first schema version that has this kind */
	int ef_since;              /* first version whose rows may have an events_ef row
				      (arguments e, f); 0: never */
	struct trace_range arg[6]; /* a..f */
};

static const struct trace_kind_rule trace_kinds[] = {
	/* child mm 0: none; from version 2, e = measured latency (ns, 0: not measured)
	 * and f = the forking thread's context switches during it */
	{ AVM_FORK, 1, 2, { TR_NONNEG, TR_U32, {0}, TR_U32, TR_NONNEG, TR_NONNEG } },
	{ AVM_EXEC, 1, 0, { TR_ID, TR_NONNEG, TR_U32 } },
	{ AVM_EXIT, 1, 0, { TR_BOOL } },
	{ AVM_MM_RELEASE, 1, 0, { {0} } },
	{ AVM_MMAP, 1, 1, { {0}, {0}, {0}, {0}, TR_NONNEG } },
	{ AVM_MUNMAP, 1, 0, { {0} } },
	{ AVM_MPROTECT, 1, 0, { {0} } },
	{ AVM_MREMAP, 1, 1, { {0} } },
	{ AVM_BRK, 1, 0, { {0} } },
	{ AVM_MADVISE, 1, 0, { {0} } },
	{ AVM_MLOCK, 1, 0, { {0} } },
	{ AVM_MUNLOCK, 1, 0, { {0} } },
	{ AVM_MLOCKALL, 1, 0, { {0} } },
	{ AVM_MUNLOCKALL, 1, 0, { {0} } },
	{ AVM_VMA_NAME, 1, 0, { {0}, {0}, TR_NONNEG } },
	{ AVM_MSEAL, 1, 0, { {0} } },
	{ AVM_SHMAT, 1, 1, { {0}, {0}, {0}, {0}, TR_NONNEG } },
	{ AVM_SHMDT, 1, 0, { {0} } },
	{ AVM_PRCTL_THP, 1, 0, { {0} } },
	{ AVM_FAULT, 1, 0, { {0} } },
	{ AVM_POPULATE, 1, 0, { {0} } },
	{ AVM_SLAB, 1, 1, { TR(AVM_CACHE_ANON_VMA, AVM_CACHE_VMA),
			       TR(AVM_SLAB_ALLOC, AVM_SLAB_FREE), TR(AVM_SITE_UNKNOWN, AVM_SITE_OTHER),
			       TR_NONNEG, TR_BOOL } },
	{ AVM_MMAP_LOCK, 1, 0, { TR_BOOL, TR(AVM_LOCK_START, AVM_LOCK_RELEASED), TR_BOOL } },
	{ AVM_SNAPSHOT, 1, 0, { TR_ID, TR(AVM_SNAP_START, AVM_SNAP_EXIT), TR_NONNEG } },
	{ AVM_MIGRATE, 1, 0, { TR(AVM_MIGRATE_SET_PTE, AVM_MIGRATE_END) } },
	{ AVM_KSM, 1, 0, { TR(AVM_KSM_MERGE, AVM_KSM_SCAN_END) } },
	{ AVM_THP, 1, 0, { TR(AVM_THP_COLLAPSE, AVM_THP_SCAN) } },
	{ AVM_RECLAIM, 1, 0, { {0} } },
	{ AVM_TLB_FLUSH, 1, 0, { {0} } },
	{ AVM_RMAP_CALL, 1, 0, { TR(AVM_RMAP_PREPARE, AVM_RMAP_UNLINK) } },
	{ AVM_LOST, 1, 0, { TR(0, 65535), TR_NONNEG } },
	/* userfaultfd ioctls (version 3): e = the uffd's file id, f = features or mode */
	{ AVM_UFFD_REGISTER, 3, 3, { {0}, {0}, TR(0, 7), {0}, TR_NONNEG, TR_NONNEG } },
	{ AVM_UFFD_UNREGISTER, 3, 3, { {0}, {0}, {0}, {0}, TR_NONNEG } },
	{ AVM_UFFD_COPY, 3, 3, { {0}, {0}, {0}, {0}, TR_NONNEG, TR_NONNEG } },
	{ AVM_UFFD_ZEROPAGE, 3, 3, { {0}, {0}, {0}, {0}, TR_NONNEG, TR_NONNEG } },
	{ AVM_UFFD_MOVE, 3, 3, { {0}, {0}, {0}, {0}, TR_NONNEG, TR_NONNEG } },
	{ AVM_UFFD_CONTINUE, 3, 3, { {0}, {0}, {0}, {0}, TR_NONNEG, TR_NONNEG } },
	{ AVM_UFFD_POISON, 3, 3, { {0}, {0}, {0}, {0}, TR_NONNEG, TR_NONNEG } },
};

/* The columns of an events row, in the reader's SELECT order, with their ranges. */
static const struct {
	const char *name;
	struct trace_range r;
	bool null_ok;
} trace_cols[TRACE_EV_COLS] = {
	{ "seq", TR_ID, false }, { "dt", { 0 }, false }, { "cpu", TR_U32, false },
	{ "tid", TR_U32, true }, { "kind", TR_U32, false }, { "pid", TR_U32, false },
	{ "mm", TR_NONNEG, false }, { "a", { 0 }, false }, { "b", { 0 }, false },
	{ "c", { 0 }, false }, { "d", { 0 }, false },
};

/* Meta keys read as integers, with their ranges (pow2: a power of two). */
static const struct trace_meta_rule {
	const char *key;
	int64_t lo, hi;
	bool pow2;
} trace_meta_rules[] = {
	{ "complete", 0, 1, false },
	{ "events", 0, INT64_MAX, false },
	{ "lost_events", 0, INT64_MAX, false },
	{ "page_size", 4096, 65536, true },
	{ "va_bits", 32, 64, false },
	{ "pgtable_levels", 2, 5, false },
	{ "cpus", 1, 1 << 20, false },
	{ "mem_bytes", 0, INT64_MAX, false },
	{ "size_anon_vma", 1, 65536, false },
	{ "size_anon_vma_chain", 1, 65536, false },
	{ "size_vm_area_struct", 1, 65536, false },
	{ "slab_size_anon_vma", 1, 65536, false },
	{ "slab_size_anon_vma_chain", 1, 65536, false },
	{ "slab_size_vm_area_struct", 1, 65536, false },
	{ "start_ns", 0, INT64_MAX, false },
	{ "end_ns", 0, INT64_MAX, false },
	{ "duration_ns", 0, INT64_MAX, false },
	{ "interrupted", 0, 1, false },
	{ "records_received", 0, INT64_MAX, false },
	{ "events_before_snapshot", 0, INT64_MAX, false },
	{ "segment", 0, INT64_MAX, false },           /* version 3 on */
	{ "segment_offset_ns", 0, INT64_MAX, false }, /* version 3 on */
};

static const struct trace_kind_rule *trace_kind_rule(const struct trace *t, uint32_t kind)
{
	if (kind < TRACE_KIND_INDEX)
		return t->kind_rule[kind];
	for (size_t i = 0; i < sizeof(trace_kinds) / sizeof(trace_kinds[0]); i++)
		if (trace_kinds[i].kind == kind)
			return &trace_kinds[i];
	return NULL;
}

static const char *trace_type_name(int type)
{
	return type == SQLITE_TEXT ? "text" : type == SQLITE_FLOAT ? "a real" :
	       type == SQLITE_BLOB ? "a blob" : type == SQLITE_NULL ? "NULL" : "an integer";
}

static int trace_corrupt(struct trace *t, struct avm_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "PATH: corrupt trace: ..." */
static int trace_corrupt(struct trace *t, struct avm_err *err, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return avm_errf(err, "%s: corrupt trace: %s", t->path, what);
}

/*
 * Column i of st as an integer within r: a value of another type or out of
 * range fails with one line naming `where` and the column.
 */
static int trace_col(struct trace *t, sqlite3_stmt *st, int i, const char *table,
		     const char *col, int64_t row, struct trace_range r, bool null_ok,
		     int64_t *out, struct avm_err *err)
{
	/* one column lookup for type and value (the reader's hot path) */
	sqlite3_value *v = sqlite3_column_value(st, i);
	int type = sqlite3_value_type(v);

	*out = 0;
	if (type == SQLITE_NULL && null_ok)
		return 0;
	if (type != SQLITE_INTEGER)
		return trace_corrupt(t, err, "%s row %" PRId64 ": %s is %s, not an integer", table,
				     row, col, trace_type_name(type));
	*out = sqlite3_value_int64(v);
	if (r.on && (*out < r.lo || *out > r.hi))
		return trace_corrupt(t, err, "%s row %" PRId64 ": %s = %" PRId64 " is out of range "
				     "(%" PRId64 " to %" PRId64 ")", table, row, col, *out, r.lo, r.hi);
	return 0;
}

static uint32_t trace_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * A -wal next to the trace: 1 if there is one with content (a writer that
 * did not finish: killed, or stopped by a full disk), 0 if none or empty, -1
 * (err) if something other than a regular file stands there.
 */
static int trace_has_wal(const char *path, struct avm_err *err)
{
	char wal[4096];
	struct stat st;

	if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", path) >= sizeof(wal))
		return avm_errf(err, "%s: path too long", path);
	if (lstat(wal, &st))
		return 0;
	if (!S_ISREG(st.st_mode))
		return avm_errf(err, "%s: %s, not a trace's -wal", wal, trace_file_type(st.st_mode));
	return st.st_size > 0;
}

/* Checks that need no SQLite: exists, not empty, SQLite magic, not truncated. */
static int trace_check_file(const char *path, bool wal, struct avm_err *err)
{
	unsigned char h[100];
	struct stat st;
	uint64_t page_size, pages;
	ssize_t n;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return avm_errf(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		avm_errf(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		avm_errf(err, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size == 0) {
		avm_errf(err, "%s: empty file, not an anonvma trace", path);
		goto out;
	}
	n = pread(fd, h, sizeof(h), 0);
	if (n < 0) {
		avm_errf(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (n < (ssize_t)sizeof(h) || memcmp(h, "SQLite format 3", 16)) {
		avm_errf(err, "%s: not an SQLite database, so not an anonvma trace", path);
		goto out;
	}
	page_size = (uint64_t)h[16] << 8 | h[17];
	if (page_size == 1)
		page_size = 65536;
	pages = trace_be32(h + 28);
	/*
	 * The in-header size is valid when version-valid-for equals the change
	 * counter.  With a -wal the newest pages (and header) are in the -wal,
	 * and a checkpoint cut short by a full disk may have left the main
	 * file's header ahead of its length: SQLite reads both together.
	 */
	if (!wal && trace_be32(h + 92) == trace_be32(h + 24) &&
	    pages * page_size > (uint64_t)st.st_size) {
		avm_errf(err, "%s: truncated: %lld bytes, the SQLite header says %" PRIu64, path,
			 (long long)st.st_size, pages * page_size);
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* meta.schema_version of the row st stands on: decimal digits only (text or integer). */
static int trace_parse_version(sqlite3_stmt *st, int64_t *version)
{
	const char *text = (const char *)sqlite3_column_text(st, 0);
	char *end;

	if (!text || !*text || *text < '0' || *text > '9' || strlen(text) > 9)
		return -1;
	errno = 0;
	*version = strtoll(text, &end, 10);
	return errno || *end ? -1 : 0;
}

/* Every meta key of trace_meta_rules that is present: a decimal integer in its range. */
static int trace_check_meta(struct trace *t, struct avm_err *err)
{
	for (size_t i = 0; i < sizeof(trace_meta_rules) / sizeof(trace_meta_rules[0]); i++) {
		const struct trace_meta_rule *r = &trace_meta_rules[i];
		int64_t v;
		int rc = trace_meta_get_int(t, r->key, &v, err);

		if (rc < 0)
			return trace_corrupt(t, err, "meta %s is not an integer", r->key);
		if (rc == 0)
			continue;
		if (v < r->lo || v > r->hi || (r->pow2 && (v & (v - 1))))
			return trace_corrupt(t, err, "meta %s = %" PRId64 " is out of range (%" PRId64
					     " to %" PRId64 "%s)", r->key, v, r->lo, r->hi,
					     r->pow2 ? ", a power of two" : "");
		if (!strcmp(r->key, "complete"))
			t->complete = v == 1;
		else if (!strcmp(r->key, "events"))
			t->meta_events = v;
		else if (!strcmp(r->key, "lost_events"))
			t->meta_lost = v;
	}
	return 0;
}

/*
 * Meta against the rows, and the cheap ends of the tables: the events b-tree
 * (a torn file loses its ends first; meta events past the last row means
 * rows are missing), events_ef seqs, the lost table against lost_events.
 */
static int trace_check_rows(struct trace *t, struct avm_err *err)
{
	sqlite3_stmt *st = NULL;
	int64_t first, last, ef_min, ef_max, cpu, count, lost = 0;
	int rc, ret = -1;

	if (trace_prepare(t, "SELECT (SELECT rowid FROM events ORDER BY rowid LIMIT 1), "
			     "(SELECT rowid FROM events ORDER BY rowid DESC LIMIT 1), "
			     "(SELECT seq FROM events_ef ORDER BY seq LIMIT 1), "
			     "(SELECT seq FROM events_ef ORDER BY seq DESC LIMIT 1)", &st, err))
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW) {
		trace_corrupt(t, err, "%s", trace_dberr(t));
		goto out;
	}
	first = sqlite3_column_int64(st, 0);
	last = sqlite3_column_int64(st, 1);
	ef_min = sqlite3_column_int64(st, 2);
	ef_max = sqlite3_column_int64(st, 3);
	if (sqlite3_column_type(st, 0) != SQLITE_NULL && first < 1) {
		trace_corrupt(t, err, "event seq %" PRId64 " (seqs start at 1)", first);
		goto out;
	}
	if (t->meta_events > last) {
		trace_corrupt(t, err, "meta events = %" PRId64 " but the last event is %" PRId64
			      " (events are missing)", t->meta_events, last);
		goto out;
	}
	if (sqlite3_column_type(st, 2) != SQLITE_NULL &&
	    (sqlite3_column_type(st, 2) != SQLITE_INTEGER || ef_min < 1 || ef_max > last)) {
		trace_corrupt(t, err, "events_ef row with seq %s has no event",
			      ef_min < 1 ? (const char *)sqlite3_column_text(st, 2) :
					   (const char *)sqlite3_column_text(st, 3));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (trace_prepare(t, "SELECT cpu, count FROM lost", &st, err))
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (trace_col(t, st, 0, "lost", "cpu", lost, (struct trace_range)TR(0, 65535), false,
			      &cpu, err) ||
		    trace_col(t, st, 1, "lost", "count", cpu, (struct trace_range)TR_NONNEG, false,
			      &count, err))
			goto out;
		if (__builtin_add_overflow(lost, count, &lost)) {
			trace_corrupt(t, err, "lost counts overflow");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		trace_corrupt(t, err, "lost: %s", trace_dberr(t));
		goto out;
	}
	if (t->meta_lost >= 0 && t->meta_lost != lost) {
		trace_corrupt(t, err, "meta lost_events = %" PRId64 " but table lost sums to %" PRId64,
			      t->meta_lost, lost);
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/* The checks and statements shared by trace_open and trace_open_memory. */
static int trace_open_db(struct trace *t, struct avm_err *err)
{
	sqlite3_stmt *st = NULL;
	int64_t version;
	int rc, ret = -1;

	sqlite3_extended_result_codes(t->db, 1);
	/* The schema must parse and meta must exist before anything else is trusted. */
	rc = sqlite3_prepare_v2(t->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
				&st, NULL);
	if (rc != SQLITE_OK) {
		if (strstr(trace_dberr(t), "no such table"))
			avm_errf(err, "%s: not an anonvma trace (no meta table)", t->path);
		else
			trace_corrupt(t, err, "%s", trace_dberr(t));
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		avm_errf(err, "%s: not an anonvma trace (meta has no schema_version)", t->path);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		trace_corrupt(t, err, "%s", trace_dberr(t));
		goto out;
	}
	if (trace_parse_version(st, &version)) {
		trace_corrupt(t, err, "meta schema_version is not a whole number");
		goto out;
	}
	if (version > TRACE_SCHEMA_VERSION) {
		avm_errf(err, "%s: schema version %" PRId64 " was written by a newer anonvma; "
			 "this one reads versions %d to %d", t->path, version,
			 TRACE_SCHEMA_MIN_VERSION, TRACE_SCHEMA_VERSION);
		goto out;
	}
	if (version < TRACE_SCHEMA_MIN_VERSION) {
		avm_errf(err, "%s: schema version %" PRId64 " is older than this anonvma reads "
			 "(versions %d to %d)", t->path, version, TRACE_SCHEMA_MIN_VERSION,
			 TRACE_SCHEMA_VERSION);
		goto out;
	}
	t->version = (int)version;
	for (size_t i = 0; i < sizeof(trace_kinds) / sizeof(trace_kinds[0]); i++)
		if (trace_kinds[i].kind < TRACE_KIND_INDEX)
			t->kind_rule[trace_kinds[i].kind] = &trace_kinds[i];
	t->meta_events = -1;
	t->meta_lost = -1;
	sqlite3_finalize(st);
	st = NULL;
	if (trace_prepare_common(t, err))
		goto out;
	if (trace_prepare(t, "SELECT rowid,dt,cpu,tid,kind,pid,mm,a,b,c,d FROM events "
			     "ORDER BY rowid", &t->read, err) ||
	    trace_prepare(t, "SELECT seq,e,f FROM events_ef ORDER BY seq", &t->read_ef, err))
		goto out;
	if (trace_check_meta(t, err) || trace_check_rows(t, err))
		goto out;
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int trace_copy_file(const char *from, const char *to, struct avm_err *err)
{
	char buf[65536];
	int in = -1, out = -1, ret = -1;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		avm_errf(err, "%s: %s", from, strerror(errno));
		goto done;
	}
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		avm_errf(err, "%s: %s", to, strerror(errno));
		goto done;
	}
	for (;;) {
		n = read(in, buf, sizeof(buf));
		if (n <= 0)
			break;
		errno = 0;
		if (write(out, buf, (size_t)n) != n) {
			avm_errf(err, "%s: copying the trace: %s", to, strerror(errno ? errno : ENOSPC));
			goto done;
		}
	}
	if (n < 0) {
		avm_errf(err, "%s: %s", from, strerror(errno));
		goto done;
	}
	ret = 0;
done:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) && !ret)
		ret = avm_errf(err, "%s: %s", to, strerror(errno));
	return ret;
}

/*
 * A -wal without its -shm in a directory the reader cannot write: SQLite
 * cannot build the -shm index next to the file.  Read a private copy of
 * file + -wal instead (in $TMPDIR, removed at close); the originals are
 * only read.
 */
static int trace_open_copy(struct trace *t, struct avm_err *err)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], db[4200], wal[4200], src[4200];

	snprintf(dir, sizeof(dir), "%s/anonvma-trace.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return avm_errf(err, "%s: has a -wal but no -shm and its directory is not "
				"writable; a private copy failed: %s: %s", t->path, dir,
				strerror(errno));
	t->copy_dir = strdup(dir);
	if (!t->copy_dir) {
		rmdir(dir);
		return avm_errf(err, "%s: out of memory", t->path);
	}
	snprintf(db, sizeof(db), "%s/t.db", dir);
	snprintf(wal, sizeof(wal), "%s/t.db-wal", dir);
	snprintf(src, sizeof(src), "%s-wal", t->path);
	if (trace_copy_file(t->path, db, err) || trace_copy_file(src, wal, err))
		return avm_err_prefix(err, "%s: reading a private copy (a -wal, no -shm, a "
				      "directory not writable)", t->path);
	{
		sqlite3_stmt **sts[] = { &t->meta_get, &t->snap_vmas, &t->snap_avs, &t->read,
					 &t->read_ef };

		for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++) {
			sqlite3_finalize(*sts[i]);
			*sts[i] = NULL;
		}
	}
	sqlite3_close(t->db);
	t->db = NULL;
	if (sqlite3_open_v2(db, &t->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		return trace_sqlerr(t, err, "cannot open a private copy");
	sqlite3_db_config(t->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	return 0;
}

int trace_open(const char *path, struct trace **out, struct avm_err *err)
{
	struct trace *t = NULL;
	int wal, ret = -1;

	*out = NULL;
	wal = trace_has_wal(path, err);
	if (wal < 0 || trace_check_file(path, wal, err))
		return -1;
	t = trace_alloc(path, err);
	if (!t)
		return -1;
	t->recovered = wal;
	/*
	 * Read-only, also with a -wal: SQLite then reads the main file and the
	 * -wal together (using or building the -shm index) and a read-only
	 * connection never checkpoints, so nothing recorded is changed and the
	 * -wal stays.  NO_CKPT_ON_CLOSE makes sure of it.
	 */
	if (sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		trace_sqlerr(t, err, "cannot open");
		goto out;
	}
	sqlite3_db_config(t->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	if (trace_open_db(t, err)) {
		if (!wal || sqlite3_errcode(t->db) != SQLITE_CANTOPEN || t->copy_dir)
			goto out;
		if (trace_open_copy(t, err) || trace_open_db(t, err))
			goto out;
	}
	*out = t;
	t = NULL;
	ret = 0;
out:
	trace_free_safe(t);
	return ret;
}

int trace_open_memory(const void *buf, size_t len, const char *name, struct trace **out,
		      struct avm_err *err)
{
	struct trace *t = NULL;
	unsigned char *copy = NULL;
	int ret = -1;

	*out = NULL;
	if (len < 100 || memcmp(buf, "SQLite format 3", 16))
		return avm_errf(err, "%s: not an SQLite database, so not an anonvma trace", name);
	t = trace_alloc(name, err);
	if (!t)
		return -1;
	if (sqlite3_open_v2(":memory:", &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		trace_sqlerr(t, err, "cannot open");
		goto out;
	}
	copy = sqlite3_malloc64(len);
	if (!copy) {
		avm_errf(err, "%s: out of memory", name);
		goto out;
	}
	memcpy(copy, buf, len);
	/* FREEONCLOSE: SQLite owns copy from here on, also when this fails */
	if (sqlite3_deserialize(t->db, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
				SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) !=
	    SQLITE_OK) {
		trace_sqlerr(t, err, "cannot load");
		goto out;
	}
	if (trace_open_db(t, err))
		goto out;
	*out = t;
	t = NULL;
	ret = 0;
out:
	trace_free_safe(t);
	return ret;
}

bool trace_recovered(const struct trace *t)
{
	return t->recovered;
}

int trace_rewind(struct trace *t, struct avm_err *err)
{
	if (!t->read)
		return avm_errf(err, "%s: not opened for reading", t->path);
	sqlite3_reset(t->read);
	sqlite3_reset(t->read_ef);
	t->read_t = 0;
	t->read_seq = 0;
	t->read_count = 0;
	t->ef_seq = 0;
	return 0;
}

/* Fetch the next events_ef row into t->ef_* (ef_seq UINT64_MAX at the end). */
static int trace_next_ef(struct trace *t, struct avm_err *err)
{
	sqlite3_stmt *st = t->read_ef;
	int64_t seq;
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE) {
		t->ef_seq = UINT64_MAX;
		return 0;
	}
	if (rc != SQLITE_ROW)
		return avm_errf(err, "%s: corrupt trace after event %" PRIu64 ": %s", t->path,
				t->read_seq, trace_dberr(t));
	if (trace_col(t, st, 0, "events_ef", "seq", (int64_t)t->read_seq,
		      (struct trace_range)TR_ID, false, &seq, err) ||
	    trace_col(t, st, 1, "events_ef", "e", seq, (struct trace_range){ 0 }, false,
		      &t->ef_e, err) ||
	    trace_col(t, st, 2, "events_ef", "f", seq, (struct trace_range){ 0 }, false,
		      &t->ef_f, err))
		return -1;
	t->ef_seq = (uint64_t)seq;
	return 0;
}

/* At the end of the events: no events_ef row left over, as many events as meta says. */
static int trace_next_end(struct trace *t, struct avm_err *err)
{
	if (t->ef_seq == 0 && trace_next_ef(t, err))
		return -1;
	if (t->ef_seq != UINT64_MAX)
		return trace_corrupt(t, err, "events_ef row with seq %" PRIu64 " has no event",
				     t->ef_seq);
	if (t->meta_events >= 0 && (uint64_t)t->meta_events != t->read_count)
		return trace_corrupt(t, err, "meta events = %" PRId64 " but the trace holds %" PRIu64
				     " events", t->meta_events, t->read_count);
	return 0;
}

int trace_next(struct trace *t, struct avm_event *ev, struct avm_err *err)
{
	sqlite3_stmt *st = t->read;
	const struct trace_kind_rule *kr;
	int64_t v[TRACE_EV_COLS], time;
	bool tid_null = false;
	int rc;

	if (!st)
		return avm_errf(err, "%s: not opened for reading", t->path);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return trace_next_end(t, err) ? -1 : 0;
	if (rc != SQLITE_ROW)
		return avm_errf(err, "%s: corrupt trace after event %" PRIu64 ": %s", t->path,
				t->read_seq, trace_dberr(t));
	/* one sqlite3_column_value per column: the row number for a message is v[0] once read */
	for (int i = 0; i < TRACE_EV_COLS; i++) {
		/* the hot path inline; anything unusual goes through trace_col, which reports */
		sqlite3_value *x = sqlite3_column_value(st, i);
		const struct trace_range *r = &trace_cols[i].r;

		int type = sqlite3_value_type(x);

		if (type == SQLITE_INTEGER) {
			v[i] = sqlite3_value_int64(x);
			if (!r->on || (v[i] >= r->lo && v[i] <= r->hi))
				continue;
		} else if (type == SQLITE_NULL && trace_cols[i].null_ok) {
			v[i] = 0;
			tid_null |= i == 3;
			continue;
		}
		if (trace_col(t, st, i, "events", trace_cols[i].name,
			      i ? v[0] : sqlite3_column_int64(st, 0), *r,
			      trace_cols[i].null_ok, &v[i], err))
			return -1;
	}
	kr = trace_kind_rule(t, (uint32_t)v[4]);
	if (!kr || kr->since > t->version)
		return trace_corrupt(t, err, "event %" PRId64 ": kind %" PRId64 " is not an event "
				     "kind of schema version %d", v[0], v[4], t->version);
	for (int i = 0; i < 4; i++)
		if (kr->arg[i].on && (v[7 + i] < kr->arg[i].lo || v[7 + i] > kr->arg[i].hi))
			return trace_corrupt(t, err, "event %" PRId64 " (kind %" PRId64 "): %s = %"
					     PRId64 " is out of range (%" PRId64 " to %" PRId64 ")",
					     v[0], v[4], trace_cols[7 + i].name, v[7 + i],
					     kr->arg[i].lo, kr->arg[i].hi);
	/* t is the running sum of dt: it must stay within 0 .. INT64_MAX */
	if (__builtin_add_overflow(t->read_t, v[1], &time) || time < 0)
		return trace_corrupt(t, err, "event %" PRId64 ": dt = %" PRId64 " takes the time "
				     "out of range (from %" PRId64 " ns)", v[0], v[1], t->read_t);
	t->read_t = time;
	memset(ev, 0, sizeof(*ev));
	ev->seq = (uint64_t)v[0];
	ev->t = (uint64_t)time;
	ev->cpu = (uint32_t)v[2];
	ev->kind = (uint32_t)v[4];
	ev->pid = (uint32_t)v[5];
	ev->tid = tid_null ? ev->pid : (uint32_t)v[3];
	ev->mm = (uint64_t)v[6];
	ev->a = v[7];
	ev->b = v[8];
	ev->c = v[9];
	ev->d = v[10];
	if (t->ef_seq == 0 && trace_next_ef(t, err))
		return -1;
	if (t->ef_seq < ev->seq)
		return trace_corrupt(t, err, "events_ef row with seq %" PRIu64 " has no event",
				     t->ef_seq);
	if (t->ef_seq == ev->seq) {
		if (!kr->ef_since || kr->ef_since > t->version)
			return trace_corrupt(t, err, "event %" PRIu64 " (kind %u) has an events_ef "
					     "row, which that kind does not have in schema version %d",
					     ev->seq, ev->kind, t->version);
		ev->e = t->ef_e;
		ev->f = t->ef_f;
		t->ef_seq = 0;
	}
	for (int i = 4; i < 6; i++) {
		int64_t x = i == 4 ? ev->e : ev->f;

		if (kr->arg[i].on && (x < kr->arg[i].lo || x > kr->arg[i].hi))
			return trace_corrupt(t, err, "event %" PRIu64 " (kind %u): %s = %" PRId64
					     " is out of range (%" PRId64 " to %" PRId64 ")", ev->seq,
					     ev->kind, i == 4 ? "e" : "f", x, kr->arg[i].lo,
					     kr->arg[i].hi);
	}
	t->read_seq = ev->seq;
	t->read_count++;
	return 1;
}

uint64_t trace_events_read(const struct trace *t)
{
	return t->read_count;
}

int64_t trace_event_count(struct trace *t, struct avm_err *err)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	if (t->complete && t->meta_events >= 0)
		return t->meta_events;
	/* Incomplete trace: count what is there. */
	if (trace_prepare(t, "SELECT count(*) FROM events", &st, err))
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		trace_sqlerr(t, err, "count events");
	sqlite3_finalize(st);
	return n;
}

/* ---- snapshots ------------------------------------------------------------- */

/* snap_vmas / snap_anon_vmas columns in the readers' SELECT order, with their ranges. */
static const struct {
	const char *name;
	struct trace_range r;
} trace_vma_cols[13] = {
	{ "mm", TR_ID }, { "start", TR_NONNEG }, { "end", TR_NONNEG }, { "pgoff", TR_NONNEG },
	{ "flags", { 0 } }, { "file", TR_NONNEG }, { "anon_vma", TR_NONNEG },
	{ "av_root", TR_NONNEG }, { "av_parent", TR_NONNEG }, { "av_refcount", TR_U32 },
	{ "av_children", TR_U32 }, { "av_active", TR_U32 },
	{ "chain_len", TR(0, AVM_CHAIN_LEN_MAX) },
}, trace_av_cols[6] = {
	{ "id", TR_ID }, { "root", TR_NONNEG }, { "parent", TR_NONNEG }, { "refcount", TR_U32 },
	{ "num_children", TR_U32 }, { "num_active_vmas", TR_U32 },
};

static int trace_parse_chain(struct trace *t, const char *s, struct avm_snap_vma *v,
			     struct avm_err *err)
{
	size_t n = 0;
	char *end;

	while (s && *s) {
		unsigned long long id;

		errno = 0;
		id = strtoull(s, &end, 10);
		if (errno || end == s || (*end && *end != ',') || n >= AVM_CHAIN_MAX)
			return avm_errf(err, "%s: snapshot %" PRIu64 " mm %" PRIu64 " vma %#" PRIx64
					": bad chain '%s'", t->path, v->snap, v->mm, v->start, s);
		v->chain[n++] = id;
		s = *end ? end + 1 : end;
	}
	if (n != (v->chain_len < AVM_CHAIN_MAX ? v->chain_len : AVM_CHAIN_MAX))
		return avm_errf(err, "%s: snapshot %" PRIu64 " mm %" PRIu64 " vma %#" PRIx64
				": chain lists %zu ids, chain_len is %u", t->path, v->snap, v->mm,
				v->start, n, v->chain_len);
	return 0;
}

int trace_snapshot_vmas(struct trace *t, uint64_t snap, trace_snap_vma_cb cb, void *ctx,
			struct avm_err *err)
{
	sqlite3_stmt *st = t->snap_vmas;
	struct avm_snap_vma v;
	int64_t x[13];
	int rc, ret = -1;

	if (sqlite3_bind_int64(st, 1, (int64_t)snap) != SQLITE_OK) {
		trace_sqlerr(t, err, "bind snapshot");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&v, 0, sizeof(v));
		v.snap = snap;
		for (int i = 0; i < 13; i++)
			if (trace_col(t, st, i, "snap_vmas", trace_vma_cols[i].name, (int64_t)snap,
				      trace_vma_cols[i].r, false, &x[i], err))
				goto out;
		if (x[1] >= x[2]) {
			trace_corrupt(t, err, "snapshot %" PRIu64 " mm %" PRId64 ": VMA [%#" PRIx64
				      ", %#" PRIx64 ") is empty or reversed", snap, x[0],
				      (uint64_t)x[1], (uint64_t)x[2]);
			goto out;
		}
		if (sqlite3_column_type(st, 13) != SQLITE_TEXT) {
			trace_corrupt(t, err, "snap_vmas row %" PRIu64 ": chain is %s, not text", snap,
				      trace_type_name(sqlite3_column_type(st, 13)));
			goto out;
		}
		v.mm = (uint64_t)x[0];
		v.start = (uint64_t)x[1];
		v.end = (uint64_t)x[2];
		v.pgoff = (uint64_t)x[3];
		v.flags = (uint64_t)x[4];
		v.file = (uint64_t)x[5];
		v.anon_vma = (uint64_t)x[6];
		v.av_root = (uint64_t)x[7];
		v.av_parent = (uint64_t)x[8];
		v.av_refcount = (uint32_t)x[9];
		v.av_children = (uint32_t)x[10];
		v.av_active = (uint32_t)x[11];
		v.chain_len = (uint32_t)x[12];
		if (trace_parse_chain(t, (const char *)sqlite3_column_text(st, 13), &v, err))
			goto out;
		if (cb(ctx, &v, err))
			goto out;
	}
	if (rc != SQLITE_DONE) {
		avm_errf(err, "%s: corrupt trace: snapshot %" PRIu64 ": %s", t->path, snap,
			 trace_dberr(t));
		goto out;
	}
	ret = 0;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

int trace_snapshot_avs(struct trace *t, uint64_t snap, trace_snap_av_cb cb, void *ctx,
		       struct avm_err *err)
{
	sqlite3_stmt *st = t->snap_avs;
	struct avm_snap_av a;
	int64_t x[6];
	int rc, ret = -1;

	if (sqlite3_bind_int64(st, 1, (int64_t)snap) != SQLITE_OK) {
		trace_sqlerr(t, err, "bind snapshot");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&a, 0, sizeof(a));
		a.snap = snap;
		for (int i = 0; i < 6; i++)
			if (trace_col(t, st, i, "snap_anon_vmas", trace_av_cols[i].name, (int64_t)snap,
				      trace_av_cols[i].r, false, &x[i], err))
				goto out;
		a.id = (uint64_t)x[0];
		a.root = (uint64_t)x[1];
		a.parent = (uint64_t)x[2];
		a.refcount = (uint32_t)x[3];
		a.num_children = (uint32_t)x[4];
		a.num_active_vmas = (uint32_t)x[5];
		if (cb(ctx, &a, err))
			goto out;
	}
	if (rc != SQLITE_DONE) {
		avm_errf(err, "%s: corrupt trace: snapshot %" PRIu64 ": %s", t->path, snap,
			 trace_dberr(t));
		goto out;
	}
	ret = 0;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

/* ---- processes (version 3 on) ------------------------------------------------ */

int trace_procs(struct trace *t, trace_proc_cb cb, void *ctx, struct avm_err *err)
{
	sqlite3_stmt *st = NULL;
	int64_t pid, tn, row = 0;
	int rc, ret = -1;

	if (trace_version(t) < 3)
		return 0;
	if (trace_prepare(t, "SELECT pid, t, comm, exe FROM processes ORDER BY t, rowid", &st,
			  err))
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *comm, *exe;

		row++;
		if (trace_col(t, st, 0, "processes", "pid", row, (struct trace_range)TR_U32, false,
			      &pid, err) ||
		    trace_col(t, st, 1, "processes", "t", row, (struct trace_range)TR_NONNEG, false,
			      &tn, err))
			goto out;
		if (sqlite3_column_type(st, 2) != SQLITE_TEXT ||
		    sqlite3_column_type(st, 3) != SQLITE_TEXT) {
			trace_corrupt(t, err, "processes row %" PRId64 ": comm and exe must be text", row);
			goto out;
		}
		comm = sqlite3_column_text(st, 2);
		exe = sqlite3_column_text(st, 3);
		if (sqlite3_column_bytes(st, 2) > TRACE_COMM_MAX ||
		    sqlite3_column_bytes(st, 3) > TRACE_EXE_MAX ||
		    strlen((const char *)comm) != (size_t)sqlite3_column_bytes(st, 2) ||
		    strlen((const char *)exe) != (size_t)sqlite3_column_bytes(st, 3)) {
			trace_corrupt(t, err, "processes row %" PRId64 ": comm longer than %d or exe "
				      "longer than %d bytes, or a NUL inside", row, TRACE_COMM_MAX,
				      TRACE_EXE_MAX);
			goto out;
		}
		if (cb(ctx, (uint32_t)pid, tn, (const char *)comm, (const char *)exe, err))
			goto out;
	}
	if (rc != SQLITE_DONE) {
		trace_corrupt(t, err, "processes: %s", trace_dberr(t));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}
