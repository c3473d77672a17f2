#!/usr/bin/env bash
# anonvma-synth end to end: every shipped scenario becomes a complete trace
# readable with plain sqlite3; determinism for a seed; bad input (unknown
# option, unknown scenario key, existing output) fails with one line and
# leaves nothing half-written; Ctrl-C keeps what was written, marked incomplete.
set -euo pipefail
BUILD=${BUILD:-build}
synth="$BUILD/anonvma-synth"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "synth_cli: $*" >&2; exit 1; }

"$synth" --help > "$dir/help.txt" && grep -q "usage: anonvma-synth" "$dir/help.txt" || fail "--help"

for s in android-24-apps android-boot prefork-server build; do
	"$synth" "configs/scenarios/$s.yaml" -o "$dir/$s.db" --scale 0.25 -q 2>"$dir/err" ||
		fail "$s: $(cat "$dir/err")"
	n=$(sqlite3 "$dir/$s.db" "SELECT count(*) FROM events")
	[ "$n" -gt 1000 ] || fail "$s: only $n events"
	[ "$(sqlite3 "$dir/$s.db" "SELECT value FROM meta WHERE key='complete'")" = 1 ] ||
		fail "$s: not marked complete"
	[ "$(sqlite3 "$dir/$s.db" "SELECT value FROM meta WHERE key='events'")" = "$n" ] ||
		fail "$s: meta events differs from the table"
	[ "$(sqlite3 "$dir/$s.db" "SELECT value FROM meta WHERE key='writer'")" = "synth $s" ] ||
		fail "$s: writer"
	# every exec (kind 2) names a snapshot that has rows for its new mm
	missing=$(sqlite3 "$dir/$s.db" "SELECT count(*) FROM event_view e WHERE e.kind = 2 AND
		NOT EXISTS (SELECT 1 FROM snap_vmas v WHERE v.snap = e.b AND v.mm = e.a)")
	[ "$missing" = 0 ] || fail "$s: $missing execs without snapshot rows"
done

# Same seed, same trace; another seed, another trace.
"$synth" configs/scenarios/prefork-server.yaml -o "$dir/a.db" --seed 3 --scale 0.25 -q 2>/dev/null
"$synth" configs/scenarios/prefork-server.yaml -o "$dir/b.db" --seed 3 --scale 0.25 -q 2>/dev/null
"$synth" configs/scenarios/prefork-server.yaml -o "$dir/c.db" --seed 4 --scale 0.25 -q 2>/dev/null
dump() { sqlite3 "$1" "SELECT * FROM event_view" | md5sum; }
[ "$(dump "$dir/a.db")" = "$(dump "$dir/b.db")" ] || fail "same seed, different traces"
[ "$(dump "$dir/a.db")" != "$(dump "$dir/c.db")" ] || fail "different seeds, same trace"

# Unknown option: one line, non-zero.
if "$synth" --frobnicate configs/scenarios/build.yaml -o "$dir/x.db" 2>"$dir/err"; then
	fail "unknown option accepted"
fi
[ "$(wc -l <"$dir/err")" = 1 ] && grep -q "unknown option '--frobnicate'" "$dir/err" ||
	fail "unknown option message: $(cat "$dir/err")"
[ ! -e "$dir/x.db" ] || fail "unknown option left a trace behind"

# Unknown scenario key: file:line, non-zero, no trace file.
printf 'scenario: t\nprocesses:\n  p:\n    start: 1\n    stepz: []\n' >"$dir/bad.yaml"
if "$synth" "$dir/bad.yaml" -o "$dir/x.db" 2>"$dir/err"; then fail "unknown key accepted"; fi
grep -qx "anonvma-synth: $dir/bad.yaml:5: unknown key 'stepz'" "$dir/err" ||
	fail "unknown key message: $(cat "$dir/err")"
[ ! -e "$dir/x.db" ] || fail "a bad scenario left a trace behind"

# Missing scenario file.
if "$synth" "$dir/none.yaml" -o "$dir/x.db" 2>"$dir/err"; then fail "missing file accepted"; fi
grep -q "none.yaml: No such file or directory" "$dir/err" || fail "missing file message"

# An existing trace is not overwritten without --force.
before=$(md5sum <"$dir/a.db")
if "$synth" configs/scenarios/build.yaml -o "$dir/a.db" -q 2>"$dir/err"; then
	fail "overwrote an existing trace"
fi
[ "$(md5sum <"$dir/a.db")" = "$before" ] || fail "existing trace changed"
"$synth" configs/scenarios/build.yaml -o "$dir/a.db" --scale 0.25 --force -q 2>/dev/null ||
	fail "--force"

# Ctrl-C: exit 130, the events so far are kept, the trace says it is incomplete.
"$synth" configs/scenarios/build.yaml -o "$dir/int.db" --scale 100 -q 2>"$dir/err" &
pid=$!
sleep 1
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 130 ] || fail "Ctrl-C: exit status $rc ($(cat "$dir/err"))"
[ "$(sqlite3 "$dir/int.db" "SELECT value FROM meta WHERE key='complete'")" = 0 ] ||
	fail "Ctrl-C: trace claims to be complete"
[ "$(sqlite3 "$dir/int.db" "SELECT count(*) FROM events")" -gt 0 ] || fail "Ctrl-C: no events kept"
exit 0
