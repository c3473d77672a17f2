/*
 * trace.h - the SQLite trace store (trace.db), created from schema.sql.
 *
 * Owns: creating a trace (schema, meta), the batched writer used by the
 * collector and the synthesiser, the schema-version check, and the streaming
 * reader used by the replay.  Nobody else opens trace.db.
 *
 * Writer: WAL, one prepared multi-row INSERT, large transactions; events must
 * be appended in stream order (seq is assigned here when ev->seq is 0).
 * trace_close() commits what was appended and sets meta complete=1, so an
 * interrupted (Ctrl-C'd) collection still leaves a valid trace; trace_abort()
 * is for failures after which the file should say it is incomplete: it
 * commits what was appended but leaves meta complete=0.  AVM_LOST events are
 * summed per CPU into table `lost` and meta `lost_events` by the writer.
 *
 * Meta (host facts) set outside a batch of events is committed at once, so a
 * writer killed before its first batch still leaves the host metadata.  A
 * writer that cannot finish (a full disk) leaves the file plus its -wal,
 * which hold every committed batch; the reader reads them together.
 *
 * Creating never removes nor follows anything but a regular file: a device,
 * fifo, symlink or directory at the path or at its -wal/-shm/-journal is
 * refused with one line, as is a left-over side file without overwrite.
 *
 * Reader: trace_open() accepts meta schema_version from TRACE_SCHEMA_MIN_VERSION
 * to TRACE_SCHEMA_VERSION and checks the file's integrity (a truncated or
 * non-SQLite file fails here with one line); trace_next() streams events in
 * seq order with O(1) memory.  The reader checks what it reads against the
 * layout (docs/trace-checks.md): column types and ranges, event kinds and
 * their enumerated arguments, events_ef rows against events, meta keys and
 * meta against the rows, snapshot rows.  A broken trace fails with one line
 * naming the row; nothing is skipped here.
 */
#ifndef ANONVMA_TRACE_H
#define ANONVMA_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "error.h"
#include "event.h"

/*
 * Trace layout versions (docs/trace-versions.md lists each one).  Every layout
 * change - a table, a column, the meaning of a meta key, a new event kind or a
 * changed argument - bumps TRACE_SCHEMA_VERSION by one; the reader keeps
 * reading every version from TRACE_SCHEMA_MIN_VERSION on, and code that reads
 * something a version lacks asks trace_version() first.  tests/traces/ holds a
 * small trace of every version, replayed by make check.
 */
#define TRACE_SCHEMA_VERSION 3
#define TRACE_SCHEMA_MIN_VERSION 1

struct trace;

/* Create a new trace at path (mode 0600; fails if it exists unless overwrite). */
int trace_create(const char *path, int overwrite, struct trace **out, struct avm_err *err);
/*
 * Open an existing trace read-only; checks the schema version.  A -wal left by
 * a writer that did not finish is read with the file, never changed nor
 * removed (trace_recovered() then says so).
 */
int trace_open(const char *path, struct trace **out, struct avm_err *err);
/* The same reader over an in-memory copy of a trace file (buf is copied); name is for messages. */
int trace_open_memory(const void *buf, size_t len, const char *name, struct trace **out,
		      struct avm_err *err);
/* Reader: the trace was read together with a -wal its writer left (killed, full disk). */
bool trace_recovered(const struct trace *t);
/* Commit and close (writer) or close (reader).  Safe on NULL.  Frees t even on error. */
int trace_close(struct trace *t, struct avm_err *err);
/* Writer after a failure: commit what was appended, keep complete=0, close.  Safe on NULL. */
int trace_abort(struct trace *t, struct avm_err *err);
/* The path the trace was opened or created with (for messages). */
const char *trace_path(const struct trace *t);
/* The trace's schema version: what it was written with (reader), TRACE_SCHEMA_VERSION (writer). */
int trace_version(const struct trace *t);

/* meta table: text values; ints are stored as decimal text. */
int trace_meta_set(struct trace *t, const char *key, const char *value, struct avm_err *err);
int trace_meta_set_int(struct trace *t, const char *key, int64_t value, struct avm_err *err);
/* Returns 1 and copies the value if present, 0 if absent, -1 on error. */
int trace_meta_get(struct trace *t, const char *key, char *buf, size_t len, struct avm_err *err);
/* Same 1 / 0 / -1 contract; a value that is not a decimal integer is an error. */
int trace_meta_get_int(struct trace *t, const char *key, int64_t *value, struct avm_err *err);
/* Every meta row in key order.  The callback returns 0 to go on, -1 to stop with its error. */
typedef int (*trace_meta_cb)(void *ctx, const char *key, const char *value, struct avm_err *err);
int trace_meta_each(struct trace *t, trace_meta_cb cb, void *ctx, struct avm_err *err);

/* Writer. */
int trace_append(struct trace *t, const struct avm_event *ev, struct avm_err *err);
int trace_append_snap_vma(struct trace *t, const struct avm_snap_vma *v, struct avm_err *err);
int trace_append_snap_av(struct trace *t, const struct avm_snap_av *a, struct avm_err *err);
/* Commit the current batch (the writer also commits by itself every N rows). */
int trace_flush(struct trace *t, struct avm_err *err);
uint64_t trace_events_written(const struct trace *t);

/*
 * Reader: stream events in seq order.  Returns 1 with *ev filled, 0 at the
 * end, -1 on error (a broken row, or at the end: events_ef rows without an
 * event, fewer or more events than meta `events` says).
 */
int trace_rewind(struct trace *t, struct avm_err *err);
int trace_next(struct trace *t, struct avm_event *ev, struct avm_err *err);
int64_t trace_event_count(struct trace *t, struct avm_err *err);

/*
 * Snapshot rows of one snapshot id, in (mm, start) order (avs: in id order).
 * The callback returns 0 to go on, -1 to stop with its error.  These use
 * their own statements, so they may be called between two trace_next().
 */
typedef int (*trace_snap_vma_cb)(void *ctx, const struct avm_snap_vma *v, struct avm_err *err);
typedef int (*trace_snap_av_cb)(void *ctx, const struct avm_snap_av *a, struct avm_err *err);
int trace_snapshot_vmas(struct trace *t, uint64_t snap, trace_snap_vma_cb cb, void *ctx,
			struct avm_err *err);
int trace_snapshot_avs(struct trace *t, uint64_t snap, trace_snap_av_cb cb, void *ctx,
		       struct avm_err *err);

#endif
