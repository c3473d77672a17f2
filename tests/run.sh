#!/usr/bin/env bash
# Run every test of one build folder: the cmocka unit tests, then the
# end-to-end scripts in tests/e2e/ (real binaries, real workloads), then the
# fuzz regression replay of every fuzz/fuzz_*.c harness.
# Prints one closing line "N passed, N failed" and exits non-zero on failure.
#
# An e2e script with the line "# check: normal-build-only" (heavy runs whose
# code the sanitizers add nothing to: install, package, README demo) runs
# only when SAN is not 1, so `make check` runs it once; the sanitized run
# names each one it leaves to the normal build.
set -u
build=${1:-build}
passed=0
failed=0
once=0
failures=()
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$t"); fi
done
for t in tests/e2e/*.sh; do
	[ -f "$t" ] || continue
	if [ "${SAN:-0}" = 1 ] && grep -q '^# check: normal-build-only$' "$t"; then
		echo "[ normal   ] $t: runs in the normal build only"; once=$((once + 1))
		continue
	fi
	echo "[ e2e      ] $t"
	if BUILD="$build" bash "$t"; then
		echo "[       OK ] $t"; passed=$((passed + 1))
	else
		echo "[  FAILED  ] $t"; failed=$((failed + 1)); failures+=("$t")
	fi
done
# libFuzzer harnesses (fuzz/README.md): replay each one's checked-in corpus and
# regression inputs once, never exploring; `make test` builds them first
# (make fuzz-bins), a harness that is not built fails here.  The harnesses
# carry their own ASan/UBSan build, so the sanitized run leaves them to the
# normal one.
for f in fuzz/fuzz_*.c; do
	[ -f "$f" ] || continue
	[ "${SAN:-0}" = 1 ] && { echo "[ normal   ] fuzz $f: replayed in the normal build only"; continue; }
	n=${f#fuzz/fuzz_}
	n=${n%.c}
	echo "[ fuzz     ] $n"
	if scripts/fuzz.sh regress "${FUZZ_BUILD:-build/fuzz}" "$n"; then
		echo "[       OK ] fuzz $n"; passed=$((passed + 1))
	else
		echo "[  FAILED  ] fuzz $n"; failed=$((failed + 1)); failures+=("fuzz/fuzz_$n.c")
	fi
done
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
[ "$once" -eq 0 ] || echo "$once e2e scripts left to the normal build (# check: normal-build-only)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
