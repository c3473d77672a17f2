#!/usr/bin/env bash
# anonvma-replay on bad input: one clear line on stderr, a non-zero exit, and
# no report file (not even a partial one) for every kind of bad trace or
# option, SQL-level mutants of a real trace included; an existing report is
# left as it was.  Well-formed but unusable events are skipped with a warning.
set -euo pipefail
BUILD=${BUILD:-build}
bin="$BUILD/anonvma-replay"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# a small valid trace through the trace API (bench/gentrace.c)
. tests/lib/gentrace.sh
gentrace "$tmp/good.db" 50000

expect_error() { # want_status want_text args...
	local want=$1 text=$2 st=0
	shift 2
	rm -f "$tmp/r.json"
	"$bin" -q -o "$tmp/r.json" "$@" > "$tmp/out" 2> "$tmp/err" || st=$?
	[ "$st" -eq "$want" ] || fail "$* exited $st, want $want ($(cat "$tmp/err"))"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$*: stderr is not one line: $(cat "$tmp/err")"
	grep -q -- "$text" "$tmp/err" || fail "$*: '$(cat "$tmp/err")' lacks '$text'"
	[ ! -e "$tmp/r.json" ] || fail "$*: left a report behind"
	ls "$tmp" | grep -q 'r.json.tmp' && fail "$*: left a temporary report behind"
	return 0
}

# options
expect_error 2 "unknown option '--frobnicate'" --frobnicate "$tmp/good.db"
expect_error 2 "no trace given"
# two files are segments of one rotated collection: a gentrace trace is not one
expect_error 1 "is not a segment of a rotated collection" "$tmp/good.db" "$tmp/good.db"
expect_error 2 "unknown model 'nosuch'" --model nosuch "$tmp/good.db"
expect_error 2 "needs a value" "$tmp/good.db" --model

expect_error 1 "nosuch" --arch nosuch "$tmp/good.db"

# traces
expect_error 1 "missing.db: No such file" "$tmp/missing.db"
# compressed traces (decompressed into $TMPDIR first, which is left empty on failure)
mkdir "$tmp/tmpdir"
printf '\x28\xb5\x2f\xfdnot zstd at all' > "$tmp/bad.db.zst"
TMPDIR=$tmp/tmpdir expect_error 1 "bad.db.zst: not a valid zstd file" "$tmp/bad.db.zst"
zstd -q -c "$tmp/good.db" > "$tmp/full.db.zst"
head -c 20000 "$tmp/full.db.zst" > "$tmp/cut.db.zst"
TMPDIR=$tmp/tmpdir expect_error 1 "cut.db.zst: truncated zstd file" "$tmp/cut.db.zst"
[ -z "$(ls "$tmp/tmpdir")" ] || fail "temporary files left: $(ls "$tmp/tmpdir")"
: > "$tmp/empty.db"
expect_error 1 "empty.db: empty file" "$tmp/empty.db"
head -c 10000 /dev/urandom > "$tmp/junk.db"
expect_error 1 "junk.db: not an SQLite database" "$tmp/junk.db"
head -c $(( $(stat -c %s "$tmp/good.db") / 2 )) "$tmp/good.db" > "$tmp/half.db"
expect_error 1 "half.db: truncated" "$tmp/half.db"
cp "$tmp/good.db" "$tmp/v2.db"
sqlite3 "$tmp/v2.db" "UPDATE meta SET value = '999' WHERE key = 'schema_version'"
expect_error 1 "v2.db: schema version 999 was written by a newer anonvma" "$tmp/v2.db"
sqlite3 "$tmp/v2.db" "UPDATE meta SET value = '0' WHERE key = 'schema_version'"
expect_error 1 "v2.db: schema version 0 is older than this anonvma reads" "$tmp/v2.db"
sqlite3 "$tmp/v2.db" "UPDATE meta SET value = '1x' WHERE key = 'schema_version'"
expect_error 1 "v2.db: corrupt trace: meta schema_version is not a whole number" "$tmp/v2.db"
sqlite3 "$tmp/plain.db" "CREATE TABLE t(x)"
expect_error 1 "plain.db: not an anonvma trace" "$tmp/plain.db"

# SQL-level mutants of a real collection (tests/traces/v1.db, 2240 events): a
# broken structure is refused with one line naming the row (docs/trace-checks.md)
mutant() { # name sql
	cp tests/traces/v1.db "$tmp/$1.db"
	sqlite3 "$tmp/$1.db" "$2"
}
mutant tail "DELETE FROM events WHERE rowid > 1720"
expect_error 1 "tail.db: corrupt trace: meta events = 2240 but the last event is 1720 (events are missing)" "$tmp/tail.db"
mutant kind "UPDATE events SET kind = 4294967297 WHERE rowid = 100"
expect_error 1 "kind.db: corrupt trace: events row 100: kind = 4294967297 is out of range" "$tmp/kind.db"
mutant kind99 "UPDATE events SET kind = 99 WHERE rowid = 100"
expect_error 1 "event 100: kind 99 is not an event kind of schema version 1" "$tmp/kind99.db"
mutant efneg "INSERT INTO events_ef VALUES (-5, 3, 1); INSERT INTO events_ef VALUES (273, 0, 16)"
expect_error 1 "efneg.db: corrupt trace: events_ef row with seq -5 has no event" "$tmp/efneg.db"
mutant efkind "INSERT INTO events_ef VALUES (1, 7, 7)"
expect_error 1 "event 1 (kind 60) has an events_ef row, which that kind does not have" "$tmp/efkind.db"
# a fork's measured latency (events_ef e, f) exists from schema version 2 on only
mutant forkef "INSERT INTO events_ef VALUES (321, 1000, 0)"
expect_error 1 "event 321 (kind 1) has an events_ef row, which that kind does not have in schema version 1" "$tmp/forkef.db"
mutant size "UPDATE meta SET value = '-1' WHERE key = 'size_anon_vma'"
expect_error 1 "size.db: corrupt trace: meta size_anon_vma = -1 is out of range" "$tmp/size.db"
mutant lostneg "UPDATE meta SET value = '-5' WHERE key = 'lost_events'"
expect_error 1 "meta lost_events = -5 is out of range" "$tmp/lostneg.db"
mutant lostsum "UPDATE meta SET value = '3' WHERE key = 'lost_events'"
expect_error 1 "meta lost_events = 3 but table lost sums to 0" "$tmp/lostsum.db"
mutant type "UPDATE events SET dt = 'later' WHERE rowid = 10"
expect_error 1 "events row 10: dt is text, not an integer" "$tmp/type.db"
mutant time "UPDATE events SET dt = 9223372036854775000 WHERE rowid = 10"
expect_error 1 "event 10: dt = 9223372036854775000 takes the time out of range" "$tmp/time.db"
mutant enum "UPDATE events SET b = 9 WHERE rowid = 1"
expect_error 1 "event 1 (kind 60): b = 9 is out of range (1 to 3)" "$tmp/enum.db"
mutant chain "UPDATE snap_vmas SET chain_len = 999"
expect_error 1 "chain_len = 999 is out of range (0 to 64)" "$tmp/chain.db"

# found by the fuzzer: a start snapshot's anon_vma whose parent is not on its VMA's
# chain, in another tree (24) or in the same one (23): use after free at teardown before
cp fuzz/corpus/trace/collect-vmops-mremap "$tmp/tree.db"
sqlite3 "$tmp/tree.db" "UPDATE snap_anon_vmas SET parent = 21 WHERE snap = 1 AND id = 24"
expect_error 1 "anon_vma 24 has parent 21, which is not on its chain" "$tmp/tree.db"
cp fuzz/corpus/trace/collect-vmops-mremap "$tmp/chain.db"
sqlite3 "$tmp/chain.db" "UPDATE snap_anon_vmas SET parent = 21 WHERE snap = 1 AND id = 23"
expect_error 1 "anon_vma 23 has parent 21, which is not on its chain" "$tmp/chain.db"

# a byte-level mutant the fuzzer found: SQLite quotes the broken schema, newlines and all
expect_error 1 "corrupt trace: malformed database schema" fuzz/regress/trace/crash-schema-message-lines

# well-formed but unusable events are skipped with one warning and counted by
# reason in trace.skipped: faults on an address space the trace never made, an
# mmap whose range no address space holds
expect_skip() { # db reason count
	local st=0
	"$bin" -q -o "$tmp/skip.json" "$1" 2> "$tmp/err" || st=$?
	[ "$st" -eq 0 ] || fail "$1 exited $st: $(cat "$tmp/err")"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$1: stderr is not one line: $(cat "$tmp/err")"
	grep -q "warning: .*skipped $3 of 2240 events the simulator cannot use ($2 $3" "$tmp/err" ||
		fail "$1: no skip warning: $(cat "$tmp/err")"
	python3 - "$tmp/skip.json" "$2" "$3" <<'PY' || fail "$1: trace.skipped"
import json, sys
s = json.load(open(sys.argv[1]))["trace"]["skipped"]
assert s[sys.argv[2]] == int(sys.argv[3]) and s["total"] == int(sys.argv[3]), s
PY
}
mutant unknown "UPDATE events SET mm = 999 WHERE kind = 30"
expect_skip "$tmp/unknown.db" unknown_mm 225
mutant range "UPDATE events SET b = 9223372036854775807 WHERE rowid = (SELECT min(rowid) FROM events WHERE kind = 10)"
expect_skip "$tmp/range.db" range 1

# a config with an unknown key is named with file:line
printf 'kernel:\n  profile: P3\n  no_such_key: 1\n' > "$tmp/bad.yaml"
expect_error 1 "bad.yaml:3" --config "$tmp/bad.yaml" "$tmp/good.db"

# an existing report survives a failed run untouched
echo '{"old": true}' > "$tmp/keep.json"
st=0
"$bin" -q -o "$tmp/keep.json" "$tmp/junk.db" 2> /dev/null || st=$?
[ "$st" -eq 1 ] || fail "junk trace over an existing report exited $st"
grep -q '"old": true' "$tmp/keep.json" || fail "a failed run changed an existing report"
echo "replay_bad_input: ok"
