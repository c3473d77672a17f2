#!/usr/bin/env bash
# Collector overhead against perf record, side by side in one run.
#
# Workload: bench/collect_work (fork/fault-heavy: per round 4 mmaps, 64
# first-write faults, an mprotect split, a fork whose child COW-faults 24
# pages, munmaps).  It times its own rounds, so tool start-up is not counted.
# Three ways, interleaved, RUNS times each (default 5), medians reported:
#   base     the workload alone
#   collect  anonvma-collect -o t.db -- workload
#   perf     perf record -e <the collector's tracepoints> -o perf.data -- workload
# Overhead = median(tool) - median(base); ratio = collect overhead / perf
# overhead (target <= 0.25).  Also: events and lost events of the collector
# (default ring size), bytes per event of trace.db against perf.data (target
# <= 16).  BASELINE=/path/to/another/anonvma-collect runs it too, interleaved
# in the same loop, to measure a change side by side.
# Usage: bench/collect.sh [BUILD] (env RUNS, ITERS, BASELINE).
set -euo pipefail
BUILD=${1:-build}
RUNS=${RUNS:-5}
ITERS=${ITERS:-1500}
C=$BUILD/anonvma-collect
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$C" ] || { echo "bench/collect: $C missing (run make)" >&2; exit 1; }
command -v perf >/dev/null || { echo "bench/collect: perf (linux-perf) missing" >&2; exit 1; }
mkdir -p "$BUILD/bench"
W=$BUILD/bench/collect_work
cc -O2 -static -o "$W" bench/collect_work.c
# perf needs tracefs for tracepoint events.
[ -e /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing

# The tracepoints the collector attaches (tp_btf names -> perf names).
events=task:task_newtask,sched:sched_process_fork,sched:sched_prepare_exec,sched:sched_process_exec
events+=,sched:sched_process_exit,sched:sched_process_free,mmap:exit_mmap
events+=,raw_syscalls:sys_enter,raw_syscalls:sys_exit
events+=,exceptions:page_fault_user,exceptions:page_fault_kernel
events+=,kmem:kmem_cache_alloc,kmem:kmem_cache_free
events+=,mmap_lock:mmap_lock_start_locking,mmap_lock:mmap_lock_acquire_returned
events+=,mmap_lock:mmap_lock_released,migrate:mm_migrate_pages,migrate:mm_migrate_pages_start
events+=,migrate:set_migration_pte,migrate:remove_migration_pte
events+=,ksm:ksm_merge_with_ksm_page,ksm:ksm_remove_rmap_item,ksm:ksm_enter,ksm:ksm_exit
events+=,huge_memory:mm_collapse_huge_page,huge_memory:mm_khugepaged_scan_pmd
events+=,vmscan:mm_vmscan_lru_shrink_inactive,vmscan:mm_vmscan_lru_shrink_active,tlb:tlb_flush

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

for i in $(seq "$RUNS"); do
	"$W" "$ITERS" >> "$tmp/base"
	if [ -n "${BASELINE:-}" ]; then
		rm -f "$tmp/b.db"
		"$BASELINE" -o "$tmp/b.db" -- "$W" "$ITERS" >> "$tmp/collect_base"
		stat -c %s "$tmp/b.db" >> "$tmp/bdbsize"
		sqlite3 "$tmp/b.db" "SELECT value FROM meta WHERE key='events'" >> "$tmp/bevents"
	fi
	rm -f "$tmp/t.db"
	"$C" -o "$tmp/t.db" -- "$W" "$ITERS" >> "$tmp/collect"
	sqlite3 "$tmp/t.db" "SELECT value FROM meta WHERE key='events'" >> "$tmp/events"
	sqlite3 "$tmp/t.db" "SELECT value FROM meta WHERE key='lost_events'" >> "$tmp/lost"
	stat -c %s "$tmp/t.db" >> "$tmp/dbsize"
	rm -f "$tmp/perf.data"
	perf record -q -e "$events" -o "$tmp/perf.data" -- "$W" "$ITERS" >> "$tmp/perf" 2>"$tmp/perf.err"
	perf script -i "$tmp/perf.data" -F event 2>/dev/null | wc -l >> "$tmp/perfevents"
	stat -c %s "$tmp/perf.data" >> "$tmp/perfsize"
done

base=$(median < "$tmp/base")
col=$(median < "$tmp/collect")
prf=$(median < "$tmp/perf")
ev=$(median < "$tmp/events")
pev=$(median < "$tmp/perfevents")
awk -v b="$base" -v c="$col" -v p="$prf" -v ev="$ev" -v pev="$pev" \
    -v lost="$(sort -n "$tmp/lost" | tail -1)" -v dbs="$(median < "$tmp/dbsize")" \
    -v ps="$(median < "$tmp/perfsize")" -v runs="$RUNS" -v iters="$ITERS" 'BEGIN {
	oc = c - b; op = p - b
	printf "collect bench (%d runs, %d rounds, medians)\n", runs, iters
	printf "  workload alone        %8.1f ms\n", b / 1e6
	printf "  under anonvma-collect %8.1f ms  (+%.1f%%)\n", c / 1e6, 100 * oc / b
	printf "  under perf record     %8.1f ms  (+%.1f%%)\n", p / 1e6, 100 * op / b
	printf "  overhead ratio collect/perf: %.2f (target <= 0.25)\n", (op > 0 ? oc / op : 0)
	printf "  collector events %d, lost %d (max over runs)\n", ev, lost
	printf "  trace.db  %d bytes, %.1f bytes/event (target <= 16)\n", dbs, dbs / ev
	printf "  perf.data %d bytes, %d samples, %.1f bytes/event\n", ps, pev, ps / pev
}'
if [ -n "${BASELINE:-}" ]; then
	awk -v b="$base" -v c="$(median < "$tmp/collect_base")" -v ev="$(median < "$tmp/bevents")" \
	    -v dbs="$(median < "$tmp/bdbsize")" -v name="$BASELINE" 'BEGIN {
		printf "  under BASELINE        %8.1f ms  (+%.1f%%)  %s\n", c / 1e6, 100 * (c - b) / b, name
		printf "  BASELINE trace.db %d bytes, %d events, %.1f bytes/event\n", dbs, ev, dbs / ev
	}'
fi
