#!/usr/bin/env bash
# What recording userfaultfd ioctls costs other ioctls, and what a recorded one costs.
#
# Workload: bench/collect_ioctl_work (N ioctls in a loop, timed by itself).
#   other   ioctl(FIONREAD) on a pipe: the collector's sys_enter program sees
#           it and drops it on the ioctl's type byte (not 0xAA) before any map
#           or file lookup; nothing is recorded
#   uffd    UFFDIO_ZEROPAGE that fails with EEXIST: the collector checks the
#           file, stashes the arguments and records one UFFD_ZEROPAGE event
#   madvise madvise(MADV_NORMAL): a syscall recorded before userfaultfd was
#           (one MADVISE event and 3 MMAP_LOCK events), for comparison
# Each mode runs alone, under anonvma-collect, and (BASELINE=/path/to/another
# anonvma-collect, e.g. one built before userfaultfd recording) under that one,
# interleaved, RUNS times (default 5); medians in ns per ioctl.
# Usage: bench/collect_ioctl.sh [BUILD] (env RUNS, N, BASELINE).
set -euo pipefail
BUILD=${1:-build}
RUNS=${RUNS:-5}
N=${N:-200000}
C=$BUILD/anonvma-collect
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$C" ] || { echo "bench/collect_ioctl: $C missing (run make)" >&2; exit 1; }
mkdir -p "$BUILD/bench"
W=$BUILD/bench/collect_ioctl_work
cc -O2 -static -o "$W" bench/collect_ioctl_work.c

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

for i in $(seq "$RUNS"); do
	for m in other uffd madvise; do
		"$W" "$m" "$N" >> "$tmp/base.$m"
		if [ -n "${BASELINE:-}" ]; then
			rm -f "$tmp/b.db"
			"$BASELINE" -o "$tmp/b.db" -- "$W" "$m" "$N" >> "$tmp/old.$m"
		fi
		rm -f "$tmp/t.db"
		"$C" -o "$tmp/t.db" -- "$W" "$m" "$N" >> "$tmp/new.$m"
		sqlite3 "$tmp/t.db" "SELECT value FROM meta WHERE key = 'events'" >> "$tmp/ev.$m"
	done
done

echo "collect ioctl bench ($RUNS runs, $N ioctls each, medians, ns per ioctl)"
for m in other uffd madvise; do
	b=$(median < "$tmp/base.$m")
	c=$(median < "$tmp/new.$m")
	o=
	[ -z "${BASELINE:-}" ] || o=$(median < "$tmp/old.$m")
	awk -v m="$m" -v b="$b" -v c="$c" -v o="$o" -v n="$N" -v ev="$(median < "$tmp/ev.$m")" 'BEGIN {
		printf "  %-6s alone %7.1f   under anonvma-collect %7.1f (+%.1f)", m, b / n, c / n, (c - b) / n
		if (o != "")
			printf "   under BASELINE %7.1f (+%.1f)", o / n, (o - b) / n
		printf "   events recorded: %d\n", ev
	}'
done
