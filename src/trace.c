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
 *
 * Reader.  trace_open checks, before trusting SQLite with the file: that it
 * exists and is not empty, the SQLite magic, and that the file is as long as
 * its header says (a truncated copy fails here).  Then meta.schema_version,
 * the presence of every table, and both ends of the events b-tree (the rows
 * a truncated or torn file loses first).  trace_next steps two statements
 * in rowid order (events, and events_ef merged in by seq) and rebuilds t as
 * the running sum of dt: O(1) memory.  Any
 * SQLite error met later (a corrupt page in the middle) is reported with the
 * last good seq, never skipped.
 */
#include "trace.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	sqlite3_stmt *ins_batch, *ins_one, *ins_ef, *ins_vma, *ins_av, *ins_lost;
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
	uint64_t ef_seq;        /* seq of the pending events_ef row; 0: fetch; UINT64_MAX: none */
	int64_t ef_e, ef_f;
};

static int trace_sqlerr(struct trace *t, struct avm_err *err, const char *what)
{
	return avm_errf(err, "%s: %s: %s", t->path, what, sqlite3_errmsg(t->db));
}

static int trace_exec(struct trace *t, const char *sql, struct avm_err *err)
{
	char *msg = NULL;
	int rc;

	rc = sqlite3_exec(t->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		avm_errf(err, "%s: %s: %s", t->path, sql, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int trace_prepare(struct trace *t, const char *sql, sqlite3_stmt **st,
			 struct avm_err *err)
{
	if (sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return trace_sqlerr(t, err, "prepare");
	return 0;
}

static void trace_free(struct trace *t)
{
	sqlite3_stmt *sts[] = { t->ins_batch, t->ins_one, t->ins_ef, t->ins_vma, t->ins_av,
				t->ins_lost, t->meta_set, t->meta_get, t->snap_vmas, t->snap_avs,
				t->read, t->read_ef };

	for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
		sqlite3_finalize(sts[i]);
	sqlite3_close(t->db);
	free(t->lost);
	free(t->path);
	free(t);
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
	if (trace_exec(t, "BEGIN", err))
		return -1;
	t->in_txn = true;
	t->txn_rows = 0;
	return 0;
}

static int trace_commit(struct trace *t, struct avm_err *err)
{
	if (!t->in_txn)
		return 0;
	if (trace_exec(t, "COMMIT", err))
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
			  err))
		return -1;
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

int trace_create(const char *path, int overwrite, struct trace **out, struct avm_err *err)
{
	static const char *suffixes[] = { "-wal", "-shm", "-journal" };
	struct trace *t = NULL;
	char side[4096];
	int fd, ret = -1;

	*out = NULL;
	if (overwrite) {
		/* only regular files are removed: never a device node, FIFO or symlink */
		for (size_t i = 0; i <= 3; i++) {
			snprintf(side, sizeof(side), "%s%s", path, i ? suffixes[i - 1] : "");
			if (outfile_check_removable(side, err))
				return -1;
		}
		if (unlink(path) && errno != ENOENT)
			return avm_errf(err, "%s: cannot remove: %s", path, strerror(errno));
		for (size_t i = 0; i < 3; i++) {
			snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);
			if (unlink(side) && errno != ENOENT)
				return avm_errf(err, "%s: cannot remove: %s", side, strerror(errno));
		}
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return avm_errf(err, "%s: already exists (not overwriting a trace)", path);
		return avm_errf(err, "%s: cannot create: %s", path, strerror(errno));
	}
	close(fd);
	t = trace_alloc(path, err);
	if (!t)
		goto out;
	t->writer = true;
	if (sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		trace_sqlerr(t, err, "open");
		goto out;
	}
	sqlite3_extended_result_codes(t->db, 1);
	if (trace_exec(t, "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; "
			  "PRAGMA synchronous = OFF", err) ||
	    trace_exec(t, "BEGIN", err) || trace_exec(t, trace_schema_sql, err) ||
	    trace_exec(t, "COMMIT", err))
		goto out;
	if (trace_prepare_writer(t, err) || trace_prepare_common(t, err))
		goto out;
	if (trace_meta_set_int(t, "schema_version", TRACE_SCHEMA_VERSION, err) ||
	    trace_meta_set_int(t, "complete", 0, err) || trace_commit(t, err))
		goto out;
	*out = t;
	t = NULL;
	ret = 0;
out:
	if (t) {
		trace_free(t);
		unlink(path); /* a half-created file is no trace */
		for (size_t i = 0; i < 3; i++) {
			snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);
			unlink(side);
		}
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
	if (trace_flush(t, err) || trace_exec(t, "PRAGMA synchronous = FULL", err) ||
	    trace_begin(t, err) ||
	    trace_meta_set_int(t, "events", (int64_t)t->written, err) ||
	    trace_meta_set_int(t, "complete", complete ? 1 : 0, err) || trace_commit(t, err) ||
	    trace_exec(t, "PRAGMA journal_mode = DELETE", err))
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
	if (!t->writer)
		return avm_errf(err, "%s: opened read-only", t->path);
	if (!t->meta_set &&
	    trace_prepare(t, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
			  &t->meta_set, err))
		return -1;
	if (trace_begin(t, err))
		return -1;
	if (sqlite3_bind_text(t->meta_set, 1, key, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(t->meta_set, 2, value, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return trace_sqlerr(t, err, "bind meta");
	if (trace_step_done(t, t->meta_set, "set meta", err))
		return avm_err_prefix(err, "meta %s", key);
	return 0;
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

static uint32_t trace_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks that need no SQLite: exists, not empty, SQLite magic, not truncated. */
static int trace_check_file(const char *path, struct avm_err *err)
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
	/* The in-header size is valid when version-valid-for equals the change counter. */
	if (trace_be32(h + 92) == trace_be32(h + 24) && pages * page_size > (uint64_t)st.st_size) {
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

int trace_open(const char *path, struct trace **out, struct avm_err *err)
{
	struct trace *t = NULL;
	sqlite3_stmt *st = NULL;
	int64_t version;
	int rc, ret = -1;

	*out = NULL;
	if (trace_check_file(path, err))
		return -1;
	t = trace_alloc(path, err);
	if (!t)
		return -1;
	if (sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		trace_sqlerr(t, err, "cannot open");
		goto out;
	}
	sqlite3_extended_result_codes(t->db, 1);
	/* The schema must parse and meta must exist before anything else is trusted. */
	rc = sqlite3_prepare_v2(t->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
				&st, NULL);
	if (rc != SQLITE_OK) {
		if (strstr(sqlite3_errmsg(t->db), "no such table"))
			avm_errf(err, "%s: not an anonvma trace (no meta table)", path);
		else
			avm_errf(err, "%s: corrupt trace: %s", path, sqlite3_errmsg(t->db));
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		avm_errf(err, "%s: not an anonvma trace (meta has no schema_version)", path);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		avm_errf(err, "%s: corrupt trace: %s", path, sqlite3_errmsg(t->db));
		goto out;
	}
	if (trace_parse_version(st, &version)) {
		avm_errf(err, "%s: corrupt trace: meta schema_version is not a whole number", path);
		goto out;
	}
	if (version > TRACE_SCHEMA_VERSION) {
		avm_errf(err, "%s: schema version %" PRId64 " was written by a newer anonvma; "
			 "this one reads versions %d to %d", path, version,
			 TRACE_SCHEMA_MIN_VERSION, TRACE_SCHEMA_VERSION);
		goto out;
	}
	if (version < TRACE_SCHEMA_MIN_VERSION) {
		avm_errf(err, "%s: schema version %" PRId64 " is older than this anonvma reads "
			 "(versions %d to %d)", path, version, TRACE_SCHEMA_MIN_VERSION,
			 TRACE_SCHEMA_VERSION);
		goto out;
	}
	t->version = (int)version;
	sqlite3_finalize(st);
	st = NULL;
	if (trace_prepare_common(t, err))
		goto out;
	if (trace_prepare(t, "SELECT rowid,dt,cpu,tid,kind,pid,mm,a,b,c,d FROM events "
			     "ORDER BY rowid", &t->read, err) ||
	    trace_prepare(t, "SELECT seq,e,f FROM events_ef ORDER BY seq", &t->read_ef, err))
		goto out;
	/* Both ends of the events b-trees: what a torn or truncated file loses first. */
	if (trace_prepare(t, "SELECT (SELECT rowid FROM events ORDER BY rowid LIMIT 1), "
			     "(SELECT rowid FROM events ORDER BY rowid DESC LIMIT 1), "
			     "(SELECT seq FROM events_ef ORDER BY seq DESC LIMIT 1), "
			     "(SELECT count(*) FROM lost)", &st, err))
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW) {
		avm_errf(err, "%s: corrupt trace: %s", path, sqlite3_errmsg(t->db));
		goto out;
	}
	*out = t;
	t = NULL;
	ret = 0;
out:
	sqlite3_finalize(st);
	if (t)
		trace_free(t);
	return ret;
}

int trace_rewind(struct trace *t, struct avm_err *err)
{
	if (!t->read)
		return avm_errf(err, "%s: not opened for reading", t->path);
	sqlite3_reset(t->read);
	sqlite3_reset(t->read_ef);
	t->read_t = 0;
	t->read_seq = 0;
	t->ef_seq = 0;
	return 0;
}

/* Fetch the next events_ef row into t->ef_* (ef_seq UINT64_MAX at the end). */
static int trace_next_ef(struct trace *t, struct avm_err *err)
{
	int rc = sqlite3_step(t->read_ef);

	if (rc == SQLITE_DONE) {
		t->ef_seq = UINT64_MAX;
		return 0;
	}
	if (rc != SQLITE_ROW)
		return avm_errf(err, "%s: corrupt trace after event %" PRIu64 ": %s", t->path,
				t->read_seq, sqlite3_errmsg(t->db));
	t->ef_seq = (uint64_t)sqlite3_column_int64(t->read_ef, 0);
	t->ef_e = sqlite3_column_int64(t->read_ef, 1);
	t->ef_f = sqlite3_column_int64(t->read_ef, 2);
	if (t->ef_seq == 0) /* seq starts at 1: 0 would read as "fetch again" */
		return avm_errf(err, "%s: corrupt trace: events_ef row with seq 0", t->path);
	return 0;
}

int trace_next(struct trace *t, struct avm_event *ev, struct avm_err *err)
{
	sqlite3_stmt *st = t->read;
	int rc;

	if (!st)
		return avm_errf(err, "%s: not opened for reading", t->path);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return avm_errf(err, "%s: corrupt trace after event %" PRIu64 ": %s", t->path,
				t->read_seq, sqlite3_errmsg(t->db));
	ev->seq = (uint64_t)sqlite3_column_int64(st, 0);
	t->read_t += sqlite3_column_int64(st, 1);
	ev->t = (uint64_t)t->read_t;
	ev->cpu = (uint32_t)sqlite3_column_int64(st, 2);
	ev->kind = (uint32_t)sqlite3_column_int64(st, 4);
	ev->pid = (uint32_t)sqlite3_column_int64(st, 5);
	if (sqlite3_column_type(st, 3) == SQLITE_NULL)
		ev->tid = ev->pid;
	else
		ev->tid = (uint32_t)sqlite3_column_int64(st, 3);
	ev->mm = (uint64_t)sqlite3_column_int64(st, 6);
	ev->a = sqlite3_column_int64(st, 7);
	ev->b = sqlite3_column_int64(st, 8);
	ev->c = sqlite3_column_int64(st, 9);
	ev->d = sqlite3_column_int64(st, 10);
	ev->e = 0;
	ev->f = 0;
	if (t->ef_seq == 0 && trace_next_ef(t, err))
		return -1;
	if (t->ef_seq < ev->seq)
		return avm_errf(err, "%s: corrupt trace: events_ef row %" PRIu64 " has no event",
				t->path, t->ef_seq);
	if (t->ef_seq == ev->seq) {
		ev->e = t->ef_e;
		ev->f = t->ef_f;
		t->ef_seq = 0;
	}
	t->read_seq = ev->seq;
	return 1;
}

int64_t trace_event_count(struct trace *t, struct avm_err *err)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1, complete = 0;
	int rc;

	rc = trace_meta_get_int(t, "complete", &complete, err);
	if (rc < 0)
		return -1;
	if (rc == 1 && complete == 1) {
		rc = trace_meta_get_int(t, "events", &n, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			return n;
	}
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
	int rc, ret = -1;

	if (sqlite3_bind_int64(st, 1, (int64_t)snap) != SQLITE_OK) {
		trace_sqlerr(t, err, "bind snapshot");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&v, 0, sizeof(v));
		v.snap = snap;
		v.mm = (uint64_t)sqlite3_column_int64(st, 0);
		v.start = (uint64_t)sqlite3_column_int64(st, 1);
		v.end = (uint64_t)sqlite3_column_int64(st, 2);
		v.pgoff = (uint64_t)sqlite3_column_int64(st, 3);
		v.flags = (uint64_t)sqlite3_column_int64(st, 4);
		v.file = (uint64_t)sqlite3_column_int64(st, 5);
		v.anon_vma = (uint64_t)sqlite3_column_int64(st, 6);
		v.av_root = (uint64_t)sqlite3_column_int64(st, 7);
		v.av_parent = (uint64_t)sqlite3_column_int64(st, 8);
		v.av_refcount = (uint32_t)sqlite3_column_int64(st, 9);
		v.av_children = (uint32_t)sqlite3_column_int64(st, 10);
		v.av_active = (uint32_t)sqlite3_column_int64(st, 11);
		v.chain_len = (uint32_t)sqlite3_column_int64(st, 12);
		if (trace_parse_chain(t, (const char *)sqlite3_column_text(st, 13), &v, err))
			goto out;
		if (cb(ctx, &v, err))
			goto out;
	}
	if (rc != SQLITE_DONE) {
		avm_errf(err, "%s: corrupt trace: snapshot %" PRIu64 ": %s", t->path, snap,
			 sqlite3_errmsg(t->db));
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
	int rc, ret = -1;

	if (sqlite3_bind_int64(st, 1, (int64_t)snap) != SQLITE_OK) {
		trace_sqlerr(t, err, "bind snapshot");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&a, 0, sizeof(a));
		a.snap = snap;
		a.id = (uint64_t)sqlite3_column_int64(st, 0);
		a.root = (uint64_t)sqlite3_column_int64(st, 1);
		a.parent = (uint64_t)sqlite3_column_int64(st, 2);
		a.refcount = (uint32_t)sqlite3_column_int64(st, 3);
		a.num_children = (uint32_t)sqlite3_column_int64(st, 4);
		a.num_active_vmas = (uint32_t)sqlite3_column_int64(st, 5);
		if (cb(ctx, &a, err))
			goto out;
	}
	if (rc != SQLITE_DONE) {
		avm_errf(err, "%s: corrupt trace: snapshot %" PRIu64 ": %s", t->path, snap,
			 sqlite3_errmsg(t->db));
		goto out;
	}
	ret = 0;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}
