#!/usr/bin/env bash
# Collector throughput: does anonvma-collect keep up at a given event rate?
#
# The source is bench/collect_rate_gen.c: 2 threads (one per CPU here) call
# madvise(MADV_NORMAL) on a pre-mapped page, paced to a total rate.  Each
# call is 4 trace events (1 MADVISE + 3 MMAP_LOCK: start, acquired,
# released), so a target of R events/s asks for R/4 calls/s.  Rate "max" is
# flat out.  Each rate runs SECS seconds under
#   anonvma-collect -v -o t.db -- collect_rate_gen CALLS/S SECS
# (default 32 MiB ring) RUNS times (default 5), interleaved with the other
# rates and collectors; medians are reported per rate:
#   events      meta 'events' of the trace
#   rate        events / the generator's elapsed time (achieved events/s)
#   lost        meta 'lost_events' (the max over the runs as well)
#   LOST rows   AVM_LOST events in the trace
#   cpu/event   the collector's user+sys CPU (its -v closing line) minus its
#               CPU when generation began (set-up: BPF load, start snapshot;
#               read by the generator from /proc/PPID/stat), per event
#   cpu load    that CPU / elapsed time (1.00 = one of the 2 CPUs)
#   wl/event    the generator's own user+sys CPU per event: the syscalls and
#               the collector's BPF programs run inside them (the kernel-side
#               cost of recording, which the workload pays)
# BASELINE=/path/to/another/anonvma-collect measures it too, in the same
# interleaved runs, for before/after comparisons of collector changes.
# Usage: bench/collect_rate.sh [BUILD] (env RUNS, SECS, RATES, RINGBUF, BASELINE)
set -euo pipefail
BUILD=${1:-build}
RUNS=${RUNS:-5}
SECS=${SECS:-5}
RATES=${RATES:-"100000 250000 500000 max"}
RINGBUF=${RINGBUF:-}
C=$BUILD/anonvma-collect
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$C" ] || { echo "bench/collect_rate: $C missing (run make)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench/collect_rate: needs root (BPF)" >&2; exit 1; }
mkdir -p "$BUILD/bench"
G=$BUILD/bench/collect_rate_gen
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -static -pthread -o "$G" bench/collect_rate_gen.c

collectors=("new:$C")
[ -n "${BASELINE:-}" ] && collectors=("base:$BASELINE" "${collectors[@]}")
ringopt=()
[ -n "$RINGBUF" ] && ringopt=(--ringbuf-size "$RINGBUF")
hz=$(getconf CLK_TCK)

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# One run: appends "events rate lost lostrows cpu_per_event_us load wl_per_event_us"
# to $tmp/<name>.<rate>.
run_one() {
	local name=$1 bin=$2 rate=$3 calls out db
	calls=$([ "$rate" = max ] && echo 0 || echo $((rate / 4)))
	db=$tmp/t.db
	rm -f "$db"
	out=$("$bin" -v "${ringopt[@]}" -o "$db" -- "$G" "$calls" "$SECS" 2>"$tmp/err") || {
		echo "bench/collect_rate: $name at $rate failed:" >&2
		cat "$tmp/err" >&2
		exit 1
	}
	local cpu ev lost lrows
	cpu=$(sed -n 's/.*cpu \([0-9.]*\) s user \([0-9.]*\) s system.*/\1 \2/p' "$tmp/err")
	[ -n "$cpu" ] || { echo "bench/collect_rate: no cpu line from $bin -v" >&2; exit 1; }
	ev=$(sqlite3 "$db" "SELECT value FROM meta WHERE key='events'")
	lost=$(sqlite3 "$db" "SELECT value FROM meta WHERE key='lost_events'")
	lrows=$(sqlite3 "$db" "SELECT count(*) FROM events WHERE kind=80")
	awk -v out="$out" -v cpu="$cpu" -v ev="$ev" -v lost="$lost" -v lr="$lrows" -v hz="$hz" 'BEGIN {
		split(out, f, /[= ]/); el = f[4] / 1e9; t0 = f[6] / hz
		split(cpu, c, " "); used = c[1] + c[2] - t0
		printf "%d %.0f %d %d %.3f %.2f %.3f\n", ev, ev / el, lost, lr, 1e6 * used / ev, used / el, f[8] / 1e3 / ev
	}' >> "$tmp/$name.$rate"
}

for i in $(seq "$RUNS"); do
	for rate in $RATES; do
		for c in "${collectors[@]}"; do
			run_one "${c%%:*}" "${c#*:}" "$rate"
		done
	done
done

col() { awk -v k="$1" '{print $k}' "$2" | median; }
echo "collect rate bench ($RUNS runs of ${SECS} s, medians; ring ${RINGBUF:-32} MiB; madvise x2 threads, 4 events/call)"
printf "  %-5s %-8s %10s %10s %6s %8s %6s %10s %8s %10s\n" who target events "events/s" lost "max lost" "LOST" "cpu/event" "cpu load" "wl/event"
for rate in $RATES; do
	for c in "${collectors[@]}"; do
		n=${c%%:*}
		f=$tmp/$n.$rate
		printf "  %-5s %-8s %10s %10s %6s %8s %6s %8s us %8s %7s us\n" "$n" "$rate" \
			"$(col 1 "$f")" "$(col 2 "$f")" "$(col 3 "$f")" \
			"$(awk '{print $3}' "$f" | sort -n | tail -1)" "$(col 4 "$f")" \
			"$(col 5 "$f")" "$(col 6 "$f")" "$(col 7 "$f")"
	done
done
