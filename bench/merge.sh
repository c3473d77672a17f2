#!/usr/bin/env bash
# bench/merge.sh BUILD - the streaming fleet merge: wall time and peak RSS of
# `anonvma-report --merge -o fleet.json DIR` for 1,000 and 10,000 reports with
# distinct trace ids (target: 10,000 reports within 100 MiB).
#
# The reports are copies of one real replay (a synthesised prefork-server trace,
# ~70 KB of JSON each, with its series, lock and fork-cost histograms), each
# with its own trace.id and hostname, written once under $BUILD/bench/merge/
# and kept between runs.  Peak RSS is GNU time's "Maximum resident set size".
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
out="$build/bench/merge"
mkdir -p "$out"
[ -x "$build/anonvma-report" ] || { echo "bench: $build/anonvma-report missing: run make first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (Debian package time)" >&2; exit 1; }
if [ ! -f "$out/base.json" ]; then
	"$build/anonvma-synth" configs/scenarios/prefork-server.yaml -o "$out/base.db" -q --scale 0.1 2> /dev/null
	"$build/anonvma-replay" -q "$out/base.db" -o "$out/base.json"
fi
for n in 1000 10000; do
	dir="$out/r$n"
	if [ ! -f "$dir/.done" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		python3 - "$out/base.json" "$dir" "$n" <<'PY'
import json, sys
base, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(base))
r["trace"]["id"] = "@ID@"
r["trace"]["hostname"] = "@HOST@"
text = json.dumps(r, indent=1)
for i in range(n):
    with open("%s/h%05d.json" % (d, i), "w") as f:
        f.write(text.replace("@ID@", "bench-%08d" % i).replace("@HOST@", "host%05d" % i))
PY
		touch "$dir/.done"
	fi
	bytes=$(du -sb "$dir" | cut -f1)
	/usr/bin/time -f "%e %M" -o "$out/time$n" "$build/anonvma-report" --merge -o "$out/fleet$n.json" \
		"$dir" > /dev/null
	read -r secs kib < "$out/time$n"
	hosts=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hosts"])' "$out/fleet$n.json")
	[ "$hosts" = "$n" ] || { echo "bench: merged $hosts hosts, expected $n" >&2; exit 1; }
	awk -v n="$n" -v s="$secs" -v k="$kib" -v b="$bytes" 'BEGIN {
		printf "merge: %d reports (%.0f MB of JSON): %.2f s, peak RSS %.1f MiB (target <= 100 MiB at 10,000)\n",
		       n, b / 1e6, s, k / 1024 }'
done
