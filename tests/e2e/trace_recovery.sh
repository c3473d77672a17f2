#!/usr/bin/env bash
# A collection that did not finish keeps what it committed, and replay reads it
# without changing it (docs/collect.md "When a collection fails"):
#   - a full disk, for real: anonvma-collect into a 3 MiB tmpfs stops with one
#     line naming the cause; the trace file plus its -wal (the main file's
#     header may count pages the disk never took) replays with a warning, the
#     report says trace.recovered, and neither file changes - also for a user
#     with read access only, with and without the -shm index;
#   - `kill -9` of the collector during a collection: the host metadata was
#     committed before the first batch, so the replay of what is left still
#     names the host, and says the trace is incomplete.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
mnt=$tmp/full
child=
cleanup() {
	[ -n "$child" ] && kill "$child" 2> /dev/null || true
	mountpoint -q "$mnt" && umount "$mnt"
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
report() { # file python-expression...
	python3 - "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["trace"]
for expr in sys.argv[2:]:
    assert eval(expr), (expr, {k: t[k] for k in ("events", "complete", "recovered", "skipped")})
PY
}

# --- a full disk --------------------------------------------------------------
mkdir "$mnt"
mount -t tmpfs -o size=3m tmpfs "$mnt" || fail "cannot mount a tmpfs (root needed)"
st=0
"$BUILD/anonvma-collect" -o "$mnt/t.db" -- "$BUILD/progs/mprotect_storm" 256 2000 \
	> /dev/null 2> "$tmp/collect.err" || st=$?
[ "$st" -ne 0 ] || fail "a collection onto a full disk exited 0"
[ "$(wc -l < "$tmp/collect.err")" -eq 1 ] || fail "collector stderr: $(cat "$tmp/collect.err")"
grep -q "disk is full" "$tmp/collect.err" || fail "no cause named: $(cat "$tmp/collect.err")"
[ -s "$mnt/t.db-wal" ] || fail "the full disk left no -wal"
sums() { (cd "$1" && md5sum t.db t.db-wal); }
before=$(sums "$mnt")
"$BUILD/anonvma-replay" -q "$mnt/t.db" -o "$tmp/full.json" 2> "$tmp/replay.err" ||
	fail "replay of a full-disk trace: $(cat "$tmp/replay.err")"
grep -q "warning: .*read with the -wal its writer left" "$tmp/replay.err" ||
	fail "no warning: $(cat "$tmp/replay.err")"
report "$tmp/full.json" 't["recovered"] is True' 't["events"] > 10000' \
	't["host"]["kernel_release"]'
[ "$(sums "$mnt")" = "$before" ] || fail "replay changed the trace or its -wal"
[ -s "$mnt/t.db-wal" ] || fail "replay removed the -wal"
events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["trace"]["events"])' \
	"$tmp/full.json")

# a user who may only read: the files as left (with -shm), then without the -shm
ro=$tmp/ro
mkdir -p "$ro" "$tmp/out" "$tmp/utmp"
cp "$mnt"/t.db* "$ro/"
chmod 0444 "$ro"/*
chmod 0555 "$ro"
chmod 0777 "$tmp/out" "$tmp/utmp"
chmod 0755 "$tmp"
asuser() { setpriv --reuid=65534 --regid=65534 --clear-groups env TMPDIR="$tmp/utmp" "$@"; }
asuser "$BUILD/anonvma-replay" -q "$ro/t.db" -o "$tmp/out/ro.json" 2> /dev/null ||
	fail "read-only replay with -shm failed"
report "$tmp/out/ro.json" "t['events'] == $events" 't["recovered"] is True'
chmod 0755 "$ro" && rm "$ro/t.db-shm" && chmod 0555 "$ro"
asuser "$BUILD/anonvma-replay" -q "$ro/t.db" -o "$tmp/out/noshm.json" 2> "$tmp/noshm.err" ||
	fail "read-only replay without -shm failed: $(cat "$tmp/noshm.err")"
report "$tmp/out/noshm.json" "t['events'] == $events"
[ "$(sums "$ro")" = "$before" ] || fail "a read-only replay changed the trace"
[ -z "$(ls -A "$tmp/utmp")" ] || fail "the private copy was left behind: $(ls "$tmp/utmp")"
umount "$mnt"

# --- kill -9 of the collector during a collection ---------------------------------
db=$tmp/k.db
"$BUILD/anonvma-collect" -o "$db" -- sleep 60 > /dev/null 2>&1 &
cpid=$!
for _ in $(seq 300); do
	[ -n "$(sqlite3 -readonly "$db" "SELECT value FROM meta WHERE key = 'start_ns'" \
		2> /dev/null)" ] && break
	sleep 0.1
done
child=$(pgrep -P "$cpid" || true)
kill -9 "$cpid"
wait "$cpid" 2> /dev/null || true
[ -n "$child" ] && kill "$child" 2> /dev/null
child=
[ -s "$db-wal" ] || fail "the killed collector left no -wal"
"$BUILD/anonvma-replay" -q "$db" -o "$tmp/k.json" 2> "$tmp/k.err" ||
	fail "replay after kill -9: $(cat "$tmp/k.err")"
grep -q "warning: .*the trace is incomplete" "$tmp/k.err" || fail "no warning: $(cat "$tmp/k.err")"
report "$tmp/k.json" 't["complete"] is False' 't["recovered"] is True' \
	't["host"]["kernel_release"]' 't["host"]["collect_command"] == "sleep 60"'
echo "trace_recovery: ok (full disk: $events events recovered; kill -9: host metadata kept)"
