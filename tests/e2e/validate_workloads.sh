#!/usr/bin/env bash
# Every validation workload, collected for real and validated: each within
# the tolerance, and the deterministic ones (the static vmops scenarios)
# exact - kernel and model allocations and frees equal, no divergence.
# The traces and reports stay in the printed folder when something fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d /tmp/anonvma-e2e-validate.XXXXXX)
tests/workloads/run.sh -b "${BUILD:-build}" -o "$out" -s
rm -rf "$out"
