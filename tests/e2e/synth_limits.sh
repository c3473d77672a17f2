#!/usr/bin/env bash
# anonvma-synth refuses scenarios beyond its documented limits (docs/scenarios.md
# "Limits") with one line naming file:line, quickly and in bounded memory.
# Each case once ran away: two long sleeps wrapped the clock (time went
# backwards), 1 TiB mmaps in a loop wrapped the mmap base below 0, a fork
# bomb grew without end (3 GB in seconds), a repeat of steps that do nothing
# spun for ever.  Every run is under `timeout`, so a regression fails here.
set -euo pipefail
BUILD=${BUILD:-build}
synth="$BUILD/anonvma-synth"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

head='scenario: t
images:
  prog: { text: 8K }
processes:
  p:
    start: 1
    steps:
      - exec: prog'

# expect NAME "STEPS" "TEXT": the scenario (head + steps) fails with TEXT
expect() {
	local name=$1 steps=$2 text=$3 st=0
	printf '%s\n%s\n' "$head" "$steps" > "$tmp/$name.yaml"
	timeout -s KILL 60 "$synth" -q -f -o "$tmp/$name.db" "$tmp/$name.yaml" \
		> /dev/null 2> "$tmp/err" || st=$?
	[ "$st" -ne 137 ] || fail "$name: anonvma-synth ran away (killed after 60 s)"
	[ "$st" -eq 1 ] || fail "$name: exited $st, want 1: $(cat "$tmp/err")"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$name: stderr is not one line: $(cat "$tmp/err")"
	grep -qF -- "$text" "$tmp/err" || fail "$name: '$(cat "$tmp/err")' lacks '$text'"
	return 0
}

# values: ranges checked at load
expect sleep_range "      - sleep: 20000000s" \
	"sleep_range.yaml:9: 'sleep' must be between 0 and 2592000000000000 ns (got '20000000s')"
expect octal "      - mmap: { name: m, size: 4K, count: 010 }" \
	"octal.yaml:9: 'count' has a leading zero (got '010')"
expect size_range "      - mmap: { name: m, size: 2T }" \
	"size_range.yaml:9: 'size' must be between 0 and 1099511627776 bytes (got '2T')"
# simulated time: 30 days, no wrap
expect long_sleeps "      - repeat: { count: 100, steps: [ { sleep: 2592000s } ] }" \
	"long_sleeps.yaml:9: process 'p' runs past 30 days of simulated time"
# mapped memory: 2 TiB across live processes, before the mmap base could wrap
expect tib_mmaps "      - repeat: { count: 100, steps: [ { mmap: { name: m, size: 1T, noreserve: true } } ] }" \
	"tib_mmaps.yaml:9: live processes would map more than 2048 GiB"
# mappings of one process: vm.max_map_count
expect many_maps "      - repeat: { count: 100000, steps: [ { mmap: { name: m, size: 4K } } ] }" \
	"many_maps.yaml:9: a process would have more than 65530 mappings"
# a fork bomb: 100,000 live processes
expect fork_bomb "      - fork: { process: c, count: 10000000 }
  c:
    steps:
      - sleep: 1000s" \
	"fork_bomb.yaml:9: more than 100000 processes would be alive at once"
# threads of one process
expect thread_bomb "      - repeat: { count: 40, steps: [ { threads: 1024 } ] }" \
	"thread_bomb.yaml:9: a process would have more than 32768 threads"
# steps that do nothing, 10^14 times
expect spin "      - repeat: { count: 10000000, steps: [ { repeat: { count: 10000000, steps: [ { exit: 0 } ] } } ] }" \
	"spin.yaml:9: process 'p' runs more than 1000000 steps in a row without an event"
expect spin_sleep0 "      - repeat: { count: 10000000, steps: [ { repeat: { count: 10000000, steps: [ { sleep: 0 } ] } } ] }" \
	"spin_sleep0.yaml:9: process 'p' runs more than 1000000 steps in a row"
echo "synth_limits: ok"
