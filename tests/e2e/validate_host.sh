#!/usr/bin/env bash
# A whole-host collection (-d 5) while vmops and shell pipelines run:
# pre-existing processes start from the start snapshot, everything else is
# created in the trace; the eager model must stay within the tolerance.
# The trace and report stay in the printed folder when something fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d /tmp/anonvma-e2e-host.XXXXXX)
tests/workloads/run.sh -b "${BUILD:-build}" -o "$out" host-d5
# The workload really ran inside the window: 3 rounds of every vmops
# scenario and the pipelines make thousands of anon_vmas (a trace that
# missed them would pass the comparison trivially).
python3 - "$out/host-d5.json" <<'PY' || { echo "validate_host: the trace missed the workload; kept in $out" >&2; exit 1; }
import json, sys
v = json.load(open(sys.argv[1]))["validation"]
assert v["anon_vma"]["kernel_allocs"] >= 1000, v["anon_vma"]["kernel_allocs"]
PY
rm -rf "$out"
