#!/usr/bin/env bash
# scripts/demo.sh BUILD - `make demo`: the main job on an embedded default.
#
# Writes the android-24-apps scenario (a zygote that maps and touches its
# heap and libraries, then forks 24 apps; configs/scenarios/) as a trace,
# replays it through every model this build has (eager, and lazy once it is
# built in), and prints the report's summary.  Everything lands in
# BUILD/demo/: the trace, the JSON report (keys: docs/report.md).
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
scenario=${DEMO_SCENARIO:-configs/scenarios/android-24-apps.yaml}
out="$build/demo"
name=$(basename "$scenario" .yaml)
mkdir -p "$out"

echo "demo: writing the $name scenario as a trace: $out/$name.db"
"$build/anonvma-synth" "$scenario" -o "$out/$name.db" --force -q
echo "demo: replaying it: anonvma-replay $out/$name.db -o $out/$name.json"
echo
"$build/anonvma-replay" -q "$out/$name.db" -o "$out/$name.json"
"$build/anonvma-report" "$out/$name.json"
echo
echo "demo: the JSON report is $out/$name.json (every key: docs/report.md)"
