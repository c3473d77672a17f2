#!/usr/bin/env bash
# anonvma-collect as a command-line tool, for real on this host:
#   -d on an idle host: a complete trace with a start snapshot and host meta;
#   SIGINT mid-run: a readable trace that says it was interrupted;
#   --pid and --comm: only that process (and its descendants) is recorded;
#   bad input: unknown option, nonexistent command, unwritable path, a full
#   disk, no privileges: one line on stderr, non-zero exit, and whatever was
#   recorded stays a valid trace.
set -euo pipefail
BUILD=${BUILD:-build}
C=$(readlink -f "$BUILD/anonvma-collect")
SEQ=$(readlink -f "$BUILD/progs/collect_seq")
tmp=$(mktemp -d)
small=$tmp/small
cleanup() {
	mountpoint -q "$small" && umount "$small"
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0

q() { sqlite3 -batch -noheader "$1" "$2"; }
# Wait until a collector started in the background says it is recording.
ready() {
	for _ in $(seq 300); do
		grep -q "recording" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "collect_cli: collector never started recording: $(cat "$1")" >&2
	exit 1
}
check() {
	if [ "$2" != "$3" ]; then
		echo "collect_cli: $1: expected '$2', got '$3'" >&2
		fail=1
	fi
}
# one_line NAME STATUS_WANTED_NONZERO ERRFILE PATTERN
one_line() {
	local lines
	lines=$(grep -c . "$3" || true)
	check "$1: stderr lines" 1 "$lines"
	grep -q -- "$4" "$3" || { echo "collect_cli: $1: stderr lacks '$4': $(cat "$3")" >&2; fail=1; }
}

# --- whole host, -d 2 -----------------------------------------------------
"$C" -o "$tmp/idle.db" -d 2 2>"$tmp/idle.err"
check "idle: says it records" 1 "$(grep -c 'recording the whole host' "$tmp/idle.err")"
check "idle: complete" 1 "$(q "$tmp/idle.db" "SELECT value FROM meta WHERE key='complete'")"
check "idle: start snapshot event" 1 "$(q "$tmp/idle.db" "SELECT count(*) FROM events WHERE kind=60 AND a=1 AND b=1")"
check "idle: snapshot of several mms" 1 "$(q "$tmp/idle.db" "SELECT count(DISTINCT mm) > 1 FROM snap_vmas WHERE snap=1")"
check "idle: snapshot VMA count" "$(q "$tmp/idle.db" "SELECT count(*) FROM snap_vmas WHERE snap=1")" \
	"$(q "$tmp/idle.db" "SELECT c FROM events WHERE kind=60 AND b=1")"
# exit snapshots (reason 3) are compared, never adopted: they have no anon_vma rows
check "idle: anon_vmas of the chains listed" 0 "$(q "$tmp/idle.db" "
	SELECT count(*) FROM snap_vmas v WHERE v.anon_vma<>0 AND NOT EXISTS
	(SELECT 1 FROM snap_anon_vmas a WHERE a.snap=v.snap AND a.id=v.anon_vma)
	AND v.snap NOT IN (SELECT a FROM events WHERE kind=60 AND b=3)")"
check "idle: exit snapshots list their VMAs" 0 "$(q "$tmp/idle.db" "
	SELECT count(*) FROM events e WHERE kind=60 AND b=3 AND
	c <> (SELECT count(*) FROM snap_vmas v WHERE v.snap=e.a AND v.mm=e.mm)")"
# vma->anon_vma is always one of the anon_vmas its chain links (eager.md §1.4).
check "idle: anon_vma on its own chain" 0 "$(q "$tmp/idle.db" "
	SELECT count(*) FROM snap_vmas WHERE anon_vma<>0 AND chain_len <= 16
	AND ','||chain||',' NOT LIKE '%,'||anon_vma||',%'")"
check "idle: unfaulted VMAs have no chain" 0 "$(q "$tmp/idle.db" "
	SELECT count(*) FROM snap_vmas WHERE anon_vma=0 AND chain_len<>0")"
check "idle: duration" 1 "$(q "$tmp/idle.db" "SELECT CAST(value AS INTEGER) BETWEEN 1900000000 AND 4000000000 FROM meta WHERE key='duration_ns'")"
for k in kernel_release arch page_size va_bits pgtable_levels thp_enabled cpus mem_bytes \
	 size_anon_vma size_anon_vma_chain size_vm_area_struct collection_mode start_ns end_ns; do
	check "idle: meta $k" 1 "$(q "$tmp/idle.db" "SELECT count(*) FROM meta WHERE key='$k' AND value<>''")"
done
check "idle: sizes from BTF" "96 64" "$(q "$tmp/idle.db" "SELECT group_concat(value, ' ') FROM (SELECT value FROM meta WHERE key IN ('size_anon_vma','size_anon_vma_chain') ORDER BY key)")"
check "idle: mode" tracepoint "$(q "$tmp/idle.db" "SELECT value FROM meta WHERE key='collection_mode'")"
check "idle: trace mode 0600" 600 "$(stat -c %a "$tmp/idle.db")"
check "idle: no kernel addresses" 0 "$(q "$tmp/idle.db" "SELECT count(*) FROM events WHERE mm > 1000000000 OR (kind=40 AND d > 1000000000)")"

# --- SIGINT mid-run ---------------------------------------------------------
"$C" -o "$tmp/int.db" 2>"$tmp/int.err" &
cpid=$!
ready "$tmp/int.err"
"$SEQ" "$tmp/int.seq" # some activity to record
kill -INT "$cpid"
set +e
wait "$cpid"
st=$?
set -e
check "sigint: exit status" 0 "$st"
check "sigint: events readable" 1 "$(q "$tmp/int.db" "SELECT count(*) > 0 FROM events")"
check "sigint: interrupted" 1 "$(q "$tmp/int.db" "SELECT value FROM meta WHERE key='interrupted'")"
check "sigint: complete" 1 "$(q "$tmp/int.db" "SELECT value FROM meta WHERE key='complete'")"
seqpid=$(awk '/^pid /{print $2}' "$tmp/int.seq")
check "sigint: workload recorded" 1 "$(q "$tmp/int.db" "SELECT count(*) FROM events WHERE pid=$seqpid AND kind=15 AND c=1001")"

# --- --pid: one process and its descendants ---------------------------------
mkfifo "$tmp/go"
sh -c 'read x < "$1"; ls / >/dev/null; ls / >/dev/null; exit 0' sh "$tmp/go" &
tpid=$!
"$C" -o "$tmp/pid.db" --pid "$tpid" -d 20 2>"$tmp/pid.err" &
cpid=$!
ready "$tmp/pid.err"
echo go > "$tmp/go"
wait "$cpid"
check "pid: stopped when the process ended" 1 "$(q "$tmp/pid.db" "SELECT CAST(value AS INTEGER) < 15000000000 FROM meta WHERE key='duration_ns'")"
check "pid: only the process and its children" 0 "$(q "$tmp/pid.db" "
	SELECT count(*) FROM events WHERE kind NOT IN (4,60,80) AND pid<>$tpid
	AND pid NOT IN (SELECT d FROM events WHERE kind=1 AND pid=$tpid)")"
check "pid: its forks recorded" 1 "$(q "$tmp/pid.db" "SELECT count(*) >= 2 FROM events WHERE kind=1 AND pid=$tpid")"
check "pid: start snapshot of one mm" 1 "$(q "$tmp/pid.db" "SELECT count(DISTINCT mm) FROM snap_vmas WHERE snap=1")"

# --- --comm: processes by name ------------------------------------------------
# A name of this run only: other test runs may be recording at the same time.
name=avmcomm$$
cp "$SEQ" "$tmp/$name"
"$C" -o "$tmp/comm.db" --comm "$name" -d 6 2>"$tmp/comm.err" &
cpid=$!
ready "$tmp/comm.err"
"$tmp/$name" "$tmp/comm.seq"
wait "$cpid"
cp_pid=$(awk '/^pid /{print $2}' "$tmp/comm.seq")
check "comm: the named process recorded" 1 "$(q "$tmp/comm.db" "SELECT count(*) FROM events WHERE pid=$cp_pid AND kind=15 AND c=1001")"
check "comm: nothing else" 0 "$(q "$tmp/comm.db" "
	SELECT count(*) FROM events WHERE kind NOT IN (4,60,80) AND pid<>$cp_pid
	AND pid NOT IN (SELECT d FROM events WHERE kind=1 AND pid=$cp_pid)")"

# --- bad input ---------------------------------------------------------------
set +e
"$C" -o "$tmp/x.db" --bogus 2>"$tmp/e1"; st=$?
[ $st -ne 0 ] || { echo "collect_cli: unknown option accepted" >&2; fail=1; }
one_line "unknown option" 1 "$tmp/e1" "unknown option"

"$C" -o "$tmp/nocmd.db" -- "$tmp/does-not-exist" 2>"$tmp/e2"; st=$?
check "nonexistent command: status" 127 "$st"
one_line "nonexistent command" 1 "$tmp/e2" "cannot run.*does-not-exist.*No such file"
check "nonexistent command: valid trace" 1 "$(q "$tmp/nocmd.db" "SELECT value FROM meta WHERE key='complete'")"

"$C" -o "$tmp/no/such/dir/t.db" -d 1 2>"$tmp/e3"; st=$?
[ $st -ne 0 ] || { echo "collect_cli: unwritable path accepted" >&2; fail=1; }
one_line "unwritable path" 1 "$tmp/e3" "no/such/dir"

"$C" -o "$tmp/idle.db" -d 1 2>"$tmp/e4"; st=$?
[ $st -ne 0 ] || { echo "collect_cli: existing trace overwritten without -f" >&2; fail=1; }
one_line "existing output" 1 "$tmp/e4" "idle.db"
check "existing output untouched" 1 "$(q "$tmp/idle.db" "SELECT value FROM meta WHERE key='complete'")"

setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$C" -o "$tmp/np.db" -d 1 2>"$tmp/e5"; st=$?
[ $st -ne 0 ] || { echo "collect_cli: ran without privileges" >&2; fail=1; }
one_line "no privileges" 1 "$tmp/e5" "missing CAP_BPF and CAP_PERFMON"

# A full disk: a 256 KiB tmpfs fills while a fork/fault-heavy command runs.
mkdir -p "$small"
mount -t tmpfs -o size=256k tmpfs "$small"
"$C" -o "$small/full.db" -- sh -c 'for i in $(seq 200); do ls / >/dev/null; done' 2>"$tmp/e6"; st=$?
set -e
[ $st -ne 0 ] || { echo "collect_cli: full disk not reported" >&2; fail=1; }
one_line "full disk" 1 "$tmp/e6" "full"
check "full disk: what was recorded is readable" 1 \
	"$(q "$small/full.db" "SELECT count(*) >= 0 FROM events" 2>/dev/null || echo unreadable)"
exit $fail
