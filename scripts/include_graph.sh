#!/usr/bin/env bash
# The include graph of src/, and its one rule: the tools' sources (synth*,
# validate*, replay*, report*, collect*) never reach the simulator's header
# mm.h, directly or through another header; they see a world through
# world.h.  Prints "file: every project header it reaches"; with --check,
# prints only the files that break the rule and exits non-zero if any do.
#   scripts/include_graph.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = --check ] && check=1
bad=0
for f in src/*.c; do
	# -MG: generated headers (vmlinux.h, collect.skel.h) need not exist yet.
	deps=$(${CC:-gcc} -std=c11 -D_GNU_SOURCE -D__TARGET_ARCH_x86 -MM -MG -Isrc "$f" |
	       tr ' \\' '\n\n' | grep -E '^src/.*\.h$' | sed 's|^src/||' | sort -u | tr '\n' ' ')
	name=$(basename "$f")
	if [ $check = 0 ]; then
		echo "$name: $deps"
		continue
	fi
	case $name in
	synth*.c | validate*.c | replay*.c | report*.c | collect*.c)
		case " $deps " in
		*" mm.h "*) echo "$name reaches mm.h: $deps"; bad=1 ;;
		esac ;;
	esac
done
exit $bad
