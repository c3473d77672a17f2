#!/usr/bin/env bash
# The simulator's narrow face: no tool source (synth*, validate*, replay*,
# report*, collect*) includes mm.h, directly or through another header
# (scripts/include_graph.sh --check names any that does).
# check: normal-build-only
set -euo pipefail
out=$(scripts/include_graph.sh --check) || { echo "include_graph: $out" >&2; exit 1; }
# The check itself must see the graph: mm.c reaches mm.h.
graph=$(scripts/include_graph.sh)
case $graph in
*"mm.c: "*"mm.h"*) ;;
*) echo "include_graph: the graph lists no mm.c -> mm.h edge" >&2; exit 1 ;;
esac
