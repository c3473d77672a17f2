#!/usr/bin/env bash
# bench/sensitivity.sh BUILD [TRACE...] - what the verdict's sensitivity
# (docs/verdict.md) adds to a replay: wall time and peak RSS of
# anonvma-replay with the section log and re-judging (default) against
# --no-sensitivity, side by side, median of 3 runs each, and what the report
# says re-judging itself took (verdict.sensitivity.cost: seconds,
# re-simulations, bytes of the logs and fork records, sections logged,
# folded, unsimulated).
#
# Traces: the arguments, else the synthesised scenarios of configs/scenarios
# and the 2 M-event bench trace of bench/run.sh (written if missing).
set -euo pipefail
build=${1:-build}
shift || true
cd "$(dirname "$0")/.."
out="$build/bench"
mkdir -p "$out"
traces=("$@")
if [ ${#traces[@]} -eq 0 ]; then
	for s in configs/scenarios/*.yaml; do
		db="$out/$(basename "$s" .yaml).db"
		[ -f "$db" ] || "$build/anonvma-synth" "$s" -o "$db" -q
		traces+=("$db")
	done
	if [ ! -f "$out/gentrace-2M.db" ]; then
		${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Isrc -I"$build" bench/gentrace.c \
			"$build/libanonvma.a" -lsqlite3 -lyaml -lcjson -lm -o "$out/gentrace"
		"$out/gentrace" "$out/gentrace-2M.db" 2000000
	fi
	traces+=("$out/gentrace-2M.db")
fi
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf "%-22s %9s %9s %7s %9s %9s %7s  %s\n" trace "s (sens)" "s (none)" "+%" \
	"MiB sens" "MiB none" "+%" "re-judging (report)"
for t in "${traces[@]}"; do
	for mode in sens none; do
		opt=()
		[ "$mode" = none ] && opt=(--no-sensitivity)
		: > "$out/sens.$mode"
		for i in 1 2 3; do
			/usr/bin/time -f "%e %M" -o "$out/time.txt" \
				"$build/anonvma-replay" -q "${opt[@]}" "$t" -o "$out/sens-$mode.json"
			cat "$out/time.txt" >> "$out/sens.$mode"
		done
	done
	ts=$(awk '{print $1}' "$out/sens.sens" | median); tn=$(awk '{print $1}' "$out/sens.none" | median)
	ms=$(awk '{print $2}' "$out/sens.sens" | median); mn=$(awk '{print $2}' "$out/sens.none" | median)
	cost=$(python3 -c '
import json, sys
c = (json.load(open(sys.argv[1]))["verdict"]["sensitivity"] or {}).get("cost", {})
print("%.3f s, %d resims, %.1f MiB, %d logged, %d folded, %d unsimulated" % (
    c.get("seconds", 0), c.get("resimulations", 0), c.get("bytes", 0) / 2**20,
    c.get("sections_logged", 0), c.get("sections_folded", 0), c.get("sections_unsimulated", 0)))
' "$out/sens-sens.json")
	awk -v n="$(basename "$t")" -v ts="$ts" -v tn="$tn" -v ms="$ms" -v mn="$mn" -v c="$cost" 'BEGIN {
		dt = tn > 0 ? 100 * (ts - tn) / tn : 0
		dm = mn > 0 ? 100 * (ms - mn) / mn : 0
		printf "%-22s %9.2f %9.2f %6.0f%% %9.1f %9.1f %6.0f%%  %s\n", n, ts, tn, dt,
			ms / 1024, mn / 1024, dm, c }'
done
