/*
 * fuzz_trace.c - libFuzzer harness for the trace reader and the replay.
 *
 * Build and run by hand (clang 14, libclang-rt-14-dev), from the top directory:
 *
 *   make -j2 && clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
 *     -D_GNU_SOURCE -Isrc -Ibuild fuzz/fuzz_trace.c $(find src -name '*.c' \
 *     ! -name '*_main.c' ! -name 'collect*') -lsqlite3 -lyaml -lcjson -lm \
 *     -o build/fuzz_trace
 *   mkdir -p build/fuzz-trace && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
 *     nice -n 19 build/fuzz_trace -max_len=1048576 -timeout=20 -rss_limit_mb=2048 \
 *     build/fuzz-trace fuzz/corpus/trace
 *   build/fuzz_trace -runs=0 fuzz/corpus/trace fuzz/regress/trace   (replay only)
 *
 * (UBSAN_OPTIONS makes undefined behaviour a crash, as -fno-sanitize-recover would.)
 * fuzz/regress/trace/ holds the broken traces of the reliability review (time
 * overflow, kind 2^32+1, an events_ef seq of -5, meta size_anon_vma -1 and
 * lost_events -5, missing tail events, an unknown address space, a 2^63-byte
 * mmap), made from the mremap seed through SQL, and whatever the fuzzer finds.
 *
 * An input is a whole trace file.  LLVMFuzzerTestOneInput loads it into an
 * in-memory SQLite database (sqlite3_deserialize, trace_open_memory) and
 * replays it through every model (replay_run with trace_mem), with
 * --validate on for about every other input, and a translated arch
 * (arm64-16k-48bit or arm64-4k-39bit) for about half of the others: the reader
 * must refuse a broken
 * trace with one line, and the replay must neither crash, leak nor hang on
 * whatever it accepts.
 *
 * Byte flips of an SQLite file mostly exercise SQLite's own error paths, so
 * LLVMFuzzerCustomMutator mutates a trace ROW BY ROW through SQL: it loads
 * the input into a writable in-memory database and changes one thing - an
 * events / events_ef / meta / snap_vmas / snap_anon_vmas / lost value (set to
 * an interesting number, a neighbour of the old one, another type), deletes
 * or duplicates rows, truncates the stream - then serialises the database
 * back.  An input that is no database falls back to libFuzzer's byte mutator.
 * Seeds (fuzz/corpus/trace/): the checked-in v1 collection, a synthesised
 * trace and a small collected one, and two of schema version 3 (KSM merges
 * with addresses and scan ends; a MADV_COLLAPSE collapse naming its range).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "replay.h"
#include "trace.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_opts o;
	struct replay_result res;
	struct avm_err err = { "" };
	unsigned pick = 0;

	replay_opts_default(&o);
	o.trace_path = "fuzz";
	o.trace_mem = data;
	o.trace_mem_len = size;
	/* --validate for about every other input: a cheap hash of a few bytes picks it */
	for (size_t i = 0; i < 16 && size; i++)
		pick += data[i * size / 16];
	o.validate = pick & 1;
	/* and about half of the rest through a translation (translate.h) */
	if (!o.validate && (pick & 2))
		o.arch = (pick & 4) ? "arm64-16k-48bit" : "arm64-4k-39bit";
	if (replay_run(&o, &res, &err) == 0) {
		cJSON_Delete(res.report);
	} else if (strchr(err.msg, '\n')) {
		fprintf(stderr, "error message of more than one line: %s\n", err.msg);
		abort();
	}
	return 0;
}

/* ---- the row-level mutator ------------------------------------------------------ */

static uint64_t fz_rand(unsigned *seed)
{
	return (uint64_t)rand_r(seed) << 31 ^ (uint64_t)rand_r(seed);
}

static const char *const fz_event_cols[] = { "dt", "cpu", "tid", "kind", "pid", "mm",
					     "a", "b", "c", "d" };
static const char *const fz_vma_cols[] = { "snap", "mm", "start", "end", "pgoff", "flags",
					   "file", "anon_vma", "av_root", "av_parent",
					   "av_refcount", "av_children", "av_active", "chain_len",
					   "chain" };
static const char *const fz_av_cols[] = { "snap", "id", "root", "parent", "refcount",
					  "num_children", "num_active_vmas" };
static const char *const fz_meta_keys[] = {
	"schema_version", "complete", "events", "lost_events", "page_size", "va_bits",
	"pgtable_levels", "cpus", "mem_bytes", "size_anon_vma", "size_anon_vma_chain",
	"size_vm_area_struct", "arch", "thp_enabled", "start_ns", "end_ns", "duration_ns",
	"writer", "kernel_release",
};
static const char *const fz_kinds[] = { "1", "2", "3", "4", "10", "11", "12", "13", "14",
					"15", "16", "17", "18", "19", "20", "21", "22", "23",
					"24", "30", "31", "40", "50", "60", "70", "71", "72",
					"73", "74", "75", "80" };

/* An SQL value: an interesting constant, a neighbour of the old value, or another type. */
static void fz_value(unsigned *seed, const char *col, char *out, size_t len)
{
	static const char *const special[] = {
		"0", "1", "-1", "2", "3", "-5", "4096", "-4096", "9223372036854775807",
		"-9223372036854775808", "4294967297", "4294967295", "65536", "140737488355328",
		"144115188075855872", "9223372036854771712", "NULL", "'x'", "1.5", "x'00'",
		"''", "'12,7,3'", "2097152", "-9223372036854775000", "9223372036854775000",
	};
	uint64_t r = fz_rand(seed);

	switch (r % 5) {
	case 0:
	case 1:
		snprintf(out, len, "%s", special[(r >> 8) % (sizeof(special) / sizeof(*special))]);
		break;
	case 2: /* a neighbour of the current value */
		snprintf(out, len, "%s + %d", col, (int)((r >> 8) % 9) - 4);
		break;
	case 3: /* a power of two, maybe negative */
		snprintf(out, len, "%s%llu", (r >> 8) & 1 ? "-" : "",
			 1ULL << ((r >> 9) % 63));
		break;
	default:
		snprintf(out, len, "%s", fz_kinds[(r >> 8) % (sizeof(fz_kinds) / sizeof(*fz_kinds))]);
		break;
	}
}

#define FZ_PICK(a) (a)[fz_rand(seed) % (sizeof(a) / sizeof(*(a)))]

/* One SQL mutation of a trace into sql[]. */
static void fz_mutation(sqlite3 *db, unsigned *seed, char *sql, size_t len)
{
	char v[64];
	sqlite3_int64 n = 1;
	sqlite3_stmt *st;
	uint64_t row;

	if (sqlite3_prepare_v2(db, "SELECT max(rowid) FROM events", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	row = 1 + fz_rand(seed) % (uint64_t)n;
	switch (fz_rand(seed) % 16) {
	case 0: case 1: case 2: case 3: case 4: {
		const char *col = FZ_PICK(fz_event_cols);

		fz_value(seed, col, v, sizeof(v));
		snprintf(sql, len, "UPDATE events SET %s = %s WHERE rowid = %llu", col, v,
			 (unsigned long long)row);
		break;
	}
	case 5:
		snprintf(sql, len, "UPDATE events SET kind = %s WHERE rowid = %llu", FZ_PICK(fz_kinds),
			 (unsigned long long)row);
		break;
	case 6: {
		const char *col = fz_rand(seed) & 1 ? "e" : fz_rand(seed) & 1 ? "f" : "seq";

		fz_value(seed, col, v, sizeof(v));
		snprintf(sql, len, "UPDATE events_ef SET %s = %s WHERE seq = (SELECT seq FROM "
			 "events_ef LIMIT 1 OFFSET %llu)", col, v,
			 (unsigned long long)(fz_rand(seed) % 64));
		break;
	}
	case 7:
		fz_value(seed, "e", v, sizeof(v));
		snprintf(sql, len, "INSERT OR REPLACE INTO events_ef VALUES (%llu, %s, %llu)",
			 (unsigned long long)row, v, (unsigned long long)(fz_rand(seed) % 1000));
		break;
	case 8: {
		const char *key = FZ_PICK(fz_meta_keys);

		fz_value(seed, "value", v, sizeof(v));
		if (fz_rand(seed) % 4 == 0)
			snprintf(sql, len, "DELETE FROM meta WHERE key = '%s'", key);
		else
			snprintf(sql, len, "INSERT OR REPLACE INTO meta VALUES ('%s', %s)", key, v);
		break;
	}
	case 9: {
		const char *col = FZ_PICK(fz_vma_cols);

		fz_value(seed, col, v, sizeof(v));
		/* WITHOUT ROWID: a row is addressed by its key */
		snprintf(sql, len, "UPDATE OR IGNORE snap_vmas SET %s = %s WHERE (snap, mm, start) = "
			 "(SELECT snap, mm, start FROM snap_vmas LIMIT 1 OFFSET %llu)", col, v,
			 (unsigned long long)(fz_rand(seed) % 256));
		break;
	}
	case 10: {
		const char *col = FZ_PICK(fz_av_cols);

		fz_value(seed, col, v, sizeof(v));
		snprintf(sql, len, "UPDATE OR IGNORE snap_anon_vmas SET %s = %s WHERE (snap, id) = "
			 "(SELECT snap, id FROM snap_anon_vmas LIMIT 1 OFFSET %llu)", col, v,
			 (unsigned long long)(fz_rand(seed) % 256));
		break;
	}
	case 11:
		snprintf(sql, len, "DELETE FROM events WHERE rowid %s %llu",
			 fz_rand(seed) & 1 ? ">" : "=", (unsigned long long)row);
		break;
	case 12: /* a copy of one event, at the end or over another */
		snprintf(sql, len, "INSERT OR REPLACE INTO events(rowid,dt,cpu,tid,kind,pid,mm,a,b,"
			 "c,d) SELECT %llu,dt,cpu,tid,kind,pid,mm,a,b,c,d FROM events WHERE rowid = "
			 "%llu", (unsigned long long)(fz_rand(seed) & 1 ? (uint64_t)n + 1 :
						       1 + fz_rand(seed) % (uint64_t)n),
			 (unsigned long long)row);
		break;
	case 13: /* two events swap their arguments */
		snprintf(sql, len, "UPDATE events SET (a,b,c,d) = (SELECT a,b,c,d FROM events WHERE "
			 "rowid = %llu) WHERE rowid = %llu",
			 (unsigned long long)(1 + fz_rand(seed) % (uint64_t)n),
			 (unsigned long long)row);
		break;
	case 14:
		fz_value(seed, "count", v, sizeof(v));
		snprintf(sql, len, "INSERT OR REPLACE INTO lost VALUES (%llu, %s)",
			 (unsigned long long)(fz_rand(seed) % 4), v);
		break;
	default: /* a snapshot row copied into another snapshot or mm */
		snprintf(sql, len, "INSERT OR IGNORE INTO snap_vmas SELECT snap + %d, mm + %d, start "
			 "+ %d, end, pgoff, flags, file, anon_vma, av_root, av_parent, av_refcount, "
			 "av_children, av_active, chain_len, chain FROM snap_vmas LIMIT 1 OFFSET %llu",
			 (int)(fz_rand(seed) % 3), (int)(fz_rand(seed) % 3),
			 (int)(fz_rand(seed) % 3) * 4096, (unsigned long long)(fz_rand(seed) % 64));
		break;
	}
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	sqlite3 *db = NULL;
	unsigned char *copy, *out = NULL;
	sqlite3_int64 out_len = 0;
	char sql[512];
	size_t ret = 0;
	int k;

	if (size < 100 || memcmp(data, "SQLite format 3", 16) || fz_rand(&seed) % 16 == 0)
		return LLVMFuzzerMutate(data, size, max_size);
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		goto out;
	copy = sqlite3_malloc64(size);
	if (!copy)
		goto out;
	memcpy(copy, data, size);
	if (sqlite3_deserialize(db, "main", copy, (sqlite3_int64)size, (sqlite3_int64)size,
				SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) !=
	    SQLITE_OK)
		goto out;
	/* one to three row-level changes; a statement SQLite refuses changes nothing */
	k = 1 + (int)(fz_rand(&seed) % 3);
	for (int i = 0; i < k; i++) {
		fz_mutation(db, &seed, sql, sizeof(sql));
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	out = sqlite3_serialize(db, "main", &out_len, 0);
	if (out && out_len > 0 && (size_t)out_len <= max_size) {
		memcpy(data, out, (size_t)out_len);
		ret = (size_t)out_len;
	}
out:
	sqlite3_free(out);
	sqlite3_close(db);
	return ret ? ret : LLVMFuzzerMutate(data, size, max_size);
}
