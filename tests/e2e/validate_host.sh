#!/usr/bin/env bash
# A whole-host collection (-d 5) while vmops and shell pipelines run:
# pre-existing processes start from the start snapshot, everything else is
# created in the trace; the eager model must stay within the tolerance.
# The trace and report stay in the printed folder when something fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d /tmp/anonvma-e2e-host.XXXXXX)
tests/workloads/run.sh -b "${BUILD:-build}" -o "$out" host-d5
rm -rf "$out"
