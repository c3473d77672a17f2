#!/usr/bin/env bash
# bench/host.sh BUILD - the whole-host bench: what an hour of a busy host costs.
#
# anonvma-collect records the whole host (no CMD, no filter) for DURATION
# seconds (default 60) while a mixed workload keeps both cores busy:
#   loop 1  bench/collect_work (fork/fault-heavy rounds: mmaps, first-write
#           faults, an mprotect split, a fork whose child COW-faults)
#   loop 2  process churn: a compiler run (cc -c of a bench source), a short
#           shell pipeline and bench/workloads/forkserver.py (a forking
#           server with 8 MiB of inherited heap), over and over
# That workload and the rate it reaches define "busy host".  Printed: the
# trace's bytes, events, events/s, lost events, bytes/event (target <= 16),
# bytes/hour (target <= 5 GB), the wall time of anonvma-replay on the trace
# (default models), and the load average.  A figure that misses its target
# says so.  One run (a collection cannot be repeated side by side).
# Usage: bench/host.sh [BUILD] (env DURATION: seconds, e.g. DURATION=10 for a
# quick run; `make bench` runs the full 60).
set -euo pipefail
BUILD=${1:-build}
DURATION=${DURATION:-60}
C=$BUILD/anonvma-collect
R=$BUILD/anonvma-replay
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

[ -x "$C" ] && [ -x "$R" ] || { echo "bench/host: $C or $R missing (run make)" >&2; exit 1; }
case $DURATION in '' | *[!0-9]* | 0) echo "bench/host: DURATION must be whole seconds > 0" >&2; exit 1 ;; esac
mkdir -p "$BUILD/bench"
W=$BUILD/bench/collect_work
[ -x "$W" ] && [ "$W" -nt bench/collect_work.c ] || cc -O2 -static -o "$W" bench/collect_work.c

"$C" -o "$tmp/host.db" -d "$DURATION" --status-interval 0 2> "$tmp/collect.err" &
cpid=$!
pids+=("$cpid")
sleep 2 # the collector attaches and takes its start snapshot
end=$((SECONDS + DURATION))
( while [ $SECONDS -lt $end ]; do "$W" 200 > /dev/null; done ) &
pids+=($!)
( while [ $SECONDS -lt $end ]; do
	cc -O1 -c bench/collect_rate_gen.c -o "$tmp/gen.o" 2> /dev/null
	seq 1 2000 | sort -r | awk '{ s += $1 } END { print s }' > /dev/null
	python3 bench/workloads/forkserver.py 40 > /dev/null 2>&1
  done ) &
pids+=($!)
if ! wait "$cpid"; then
	echo "bench/host: anonvma-collect failed:" >&2
	tail -3 "$tmp/collect.err" >&2
	exit 1
fi

load=$(cut -d' ' -f1 /proc/loadavg)
bytes=$(stat -c %s "$tmp/host.db")
events=$(sqlite3 "$tmp/host.db" "SELECT value FROM meta WHERE key='events'")
lost=$(sqlite3 "$tmp/host.db" "SELECT value FROM meta WHERE key='lost_events'")
dur=$(sqlite3 "$tmp/host.db" "SELECT value FROM meta WHERE key='duration_ns'")
t0=$(date +%s.%N)
"$R" -q "$tmp/host.db" -o "$tmp/host.json" > /dev/null 2> "$tmp/replay.err" || {
	echo "bench/host: anonvma-replay failed:" >&2
	tail -3 "$tmp/replay.err" >&2
	exit 1
}
t1=$(date +%s.%N)
awk -v b="$bytes" -v n="$events" -v lost="$lost" -v ns="$dur" -v d="$DURATION" \
    -v rt="$(echo "$t1 - $t0" | bc)" -v load="$load" 'BEGIN {
	s = ns > 0 ? ns / 1e9 : d
	bpe = n > 0 ? b / n : 0
	bph = b / s * 3600
	printf "whole-host bench (%d s requested, %.1f s recorded, mixed workload on both cores), load average %s\n", d, s, load
	printf "  trace %d bytes, %d events, %.0f events/s\n", b, n, n / s
	printf "  lost events %d (target 0)%s\n", lost, (lost == 0 ? "" : " MISSES the target")
	printf "  %.1f bytes/event (target <= 16)%s\n", bpe, (bpe <= 16 ? "" : " MISSES the target")
	printf "  %.2f GB/hour (target <= 5)%s\n", bph / 1e9, (bph <= 5e9 ? "" : " MISSES the target")
	printf "  anonvma-replay of the trace (default models): %.2f s wall\n", rt
}'
