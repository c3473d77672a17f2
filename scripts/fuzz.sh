#!/usr/bin/env bash
# Run the libFuzzer harnesses built from fuzz/fuzz_*.c (see fuzz/README.md).
#
#   scripts/fuzz.sh regress DIR [NAME]    replay fuzz/corpus/NAME/ and
#                                        fuzz/regress/NAME/ once per file
#                                        (-runs=0: never explores); every
#                                        harness unless NAME is given
#   scripts/fuzz.sh explore DIR SECONDS [NAME]
#                                        explore SECONDS per harness, niced,
#                                        one job; new inputs go to
#                                        DIR/corpus/NAME/ (not checked in),
#                                        crashes, leaks, timeouts and
#                                        out-of-memory inputs to
#                                        fuzz/regress/NAME/ (check them in);
#                                        fuzz/NAME.dict is used if present
#
# DIR holds the harness binaries (make fuzz-bins builds DIR=build/fuzz).
# Exits non-zero if a harness is missing or any input fails.
set -u
mode=${1:-}
dir=${2:-build/fuzz}
fail() { echo "fuzz: $*" >&2; exit 1; }

names() {
	local f
	for f in fuzz/fuzz_*.c; do
		[ -f "$f" ] || continue
		f=${f#fuzz/fuzz_}
		echo "${f%.c}"
	done
}

regress_one() { # name
	local name=$1 bin="$dir/fuzz_$1" log files=()
	[ -x "$bin" ] || fail "$bin is not built (make fuzz-bins)"
	while IFS= read -r -d '' f; do files+=("$f"); done < <(find "fuzz/corpus/$name" \
		"fuzz/regress/$name" -type f ! -name README -print0 2> /dev/null | sort -z)
	[ ${#files[@]} -gt 0 ] || fail "$name: no inputs in fuzz/corpus/$name/"
	log=$(mktemp)
	# Individual files: each runs exactly once, in order; a hang is a failure
	# after -timeout seconds, a leak or sanitizer report fails the run.
	if (cd "$(mktemp -d)" && "$OLDPWD/$bin" -runs=0 -timeout=30 -rss_limit_mb=2048 \
		"${files[@]/#/$OLDPWD/}") > "$log" 2>&1; then
		echo "fuzz $name: ${#files[@]} inputs replayed, no failure"
		rm -f "$log"
		return 0
	fi
	tail -n 40 "$log" >&2
	rm -f "$log"
	echo "fuzz $name: FAILED replaying fuzz/corpus/$name and fuzz/regress/$name" >&2
	return 1
}

explore_one() { # name seconds
	local name=$1 secs=$2 bin="$dir/fuzz_$1" work="$dir/corpus/$1"
	[ -x "$bin" ] || fail "$bin is not built (make fuzz-bins)"
	mkdir -p "$work" "fuzz/regress/$name"
	echo "fuzz $name: exploring for $secs s (new corpus in $work)"
	# -fork=1 with -ignore_*: one child process at a time, and a crash
	# does not end the session (each one is saved and exploring goes on).
	local dict=()
	[ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
	nice -n 19 "$bin" "${dict[@]}" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="fuzz/regress/$name/" "$work" "fuzz/corpus/$name" \
		> "$dir/explore-$name.log" 2>&1
	# the last status line: "#EXECS: cov: ... oom/timeout/crash: O/T/C time: S"
	grep -E "^#[0-9]+: " "$dir/explore-$name.log" | tail -n 1
	grep -E "^(SUMMARY|INFO: log from the inner process|CRASH|TIMEOUT|OOM)" \
		"$dir/explore-$name.log" | sort | uniq -c | head -n 20
}

case "$mode" in
regress)
	rc=0
	if [ -n "${3:-}" ]; then
		regress_one "$3" || rc=1
	else
		for n in $(names); do regress_one "$n" || rc=1; done
	fi
	exit $rc
	;;
explore)
	secs=${3:-60}
	if [ -n "${4:-}" ]; then
		explore_one "$4" "$secs"
	else
		for n in $(names); do explore_one "$n" "$secs"; done
	fi
	;;
*)
	fail "usage: scripts/fuzz.sh regress DIR [NAME] | explore DIR SECONDS [NAME]"
	;;
esac
