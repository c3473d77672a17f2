#!/usr/bin/env bash
# bench/run.sh BUILD - every benchmark of anonvma, figures as ratios measured
# side by side in one run (median of 5).  Used by `make bench`.
#
#   trace size   bytes per event on disk of a large fork/fault-heavy trace
#                (target: <= 16)
#   replay       replay events/s vs a bare SQLite scan of the same trace
#                (target: ratio >= 0.8 with eager + lazy, >= 0.6 with three
#                designs)
#   collector    overhead against perf record (bench/collect.sh, target
#                <= 0.25x perf record's) and throughput (bench/collect_rate.sh)
#   merge        anonvma-report --merge of 1,000 and 10,000 reports: seconds
#                and peak RSS (target: <= 100 MiB at 10,000)
# The current targets are printed first, each figure then names its own.
#
# The trace: BENCH_TRACE if set (e.g. a real collection), else 2 M events
# written by bench/gentrace.c into $BUILD/bench/ (kept between runs).
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
out="$build/bench"
mkdir -p "$out"
lib="$build/libanonvma.a"
[ -f "$lib" ] || { echo "bench: $lib missing: run make first" >&2; exit 1; }
cflags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -Isrc -I"$build")
libs=(-lsqlite3 -lyaml -lcjson -lm)
for p in gentrace replay_bench; do
	if [ ! -x "$out/$p" ] || [ "bench/$p.c" -nt "$out/$p" ] || [ "$lib" -nt "$out/$p" ]; then
		${CC:-cc} "${cflags[@]}" "bench/$p.c" "$lib" "${libs[@]}" -o "$out/$p"
	fi
done

trace=${BENCH_TRACE:-$out/gentrace-2M.db}
if [ ! -f "$trace" ]; then
	echo "bench: writing $trace (2 M events)" >&2
	"$out/gentrace" "$trace" 2000000
fi

cat <<'TARGETS'
targets (each figure below names its own):
  replay               >= 0.8x a bare SQLite scan with eager + lazy, >= 0.6x with three designs
  sweep                8 lazy policy combinations in one pass <= 4x a two-model replay
                       (not measured by this bench yet)
  trace size           <= 16 bytes/event and <= 5 GB/hour on a busy host
                       (bytes/hour: not measured by this bench yet)
  collector overhead   <= 0.25x perf record's on the same tracepoints
TARGETS

events=$(sqlite3 "$trace" 'SELECT count(*) FROM events')
bytes=$(stat -c %s "$trace")
awk -v b="$bytes" -v n="$events" -v f="$trace" \
	'BEGIN { printf "trace size: %s, %d events, %d bytes, %.2f bytes/event (target <= 16)\n", f, n, b, b / n }'

"$out/replay_bench" "$trace" 5

# The collector against perf record (root: BPF and perf); see bench/collect.sh.
bench/collect.sh "$build"

# Collector throughput at 100 k .. 500 k events/s (root: BPF); see bench/collect_rate.sh.
bench/collect_rate.sh "$build"

# The streaming fleet merge: time and peak RSS for 1,000 and 10,000 reports; see bench/merge.sh.
bench/merge.sh "$build"
