#!/usr/bin/env bash
# Every shipped scenario replays through anonvma-replay without a rejected
# event (invariant checkers on where they are affordable), and the eager
# model's counts agree with what the scenario is known to contain:
#  - each exec allocates 3 anon_vmas (stack + the padzero'd data segments of the
#    program and ld.so: every image in these scenarios has a partial last page);
#  - build's processes are all short-lived: at the end only init's 3 adopted
#    anon_vmas (data, heap, stack) are live.
set -euo pipefail
BUILD=${BUILD:-build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "synth_replay: $*" >&2; exit 1; }

synth() { "$BUILD/anonvma-synth" "configs/scenarios/$1.yaml" -o "$dir/$1.db" --scale "$2" -q 2>/dev/null; }
field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval('r' + sys.argv[2]))" "$@"; }

synth build 0.05
"$BUILD/anonvma-replay" "$dir/build.db" -o "$dir/build.json" --check-invariants -q ||
	fail "build: replay failed"
execs=$(sqlite3 "$dir/build.db" "SELECT count(*) FROM events WHERE kind = 2")
[ "$(field "$dir/build.json" "['models']['eager']['allocs_by_operation']['anon_vma']['exec']")" = \
	$((3 * execs)) ] || fail "build: exec anon_vmas are not 3 per exec ($execs execs)"
[ "$(field "$dir/build.json" "['models']['eager']['anon_vma']['live_end']")" = 3 ] ||
	fail "build: anon_vmas left alive after every process exited"

synth prefork-server 0.1
"$BUILD/anonvma-replay" "$dir/prefork-server.db" -o "$dir/prefork.json" --check-invariants -q ||
	fail "prefork-server: replay failed"
[ "$(field "$dir/prefork.json" "['models']['eager']['allocs_by_operation']['anon_vma']['fork']")" -gt 0 ] ||
	fail "prefork-server: workers forked without anon_vmas"

# android's zygote has ~500 VMAs: checking invariants after every event is too slow here.
synth android-24-apps 0.25
"$BUILD/anonvma-replay" "$dir/android-24-apps.db" -o "$dir/android.json" -q ||
	fail "android-24-apps: replay failed"
execs=$(sqlite3 "$dir/android-24-apps.db" "SELECT count(*) FROM events WHERE kind = 2")
[ "$(field "$dir/android.json" "['models']['eager']['allocs_by_operation']['anon_vma']['exec']")" = \
	$((3 * execs)) ] || fail "android-24-apps: exec anon_vmas are not 3 per exec"

# android-boot: 72 execs (init-services, zygote, the daemons), 3 anon_vmas each.
synth android-boot 0.25
"$BUILD/anonvma-replay" "$dir/android-boot.db" -o "$dir/boot.json" -q ||
	fail "android-boot: replay failed"
execs=$(sqlite3 "$dir/android-boot.db" "SELECT count(*) FROM events WHERE kind = 2")
[ "$(field "$dir/boot.json" "['models']['eager']['allocs_by_operation']['anon_vma']['exec']")" = \
	$((3 * execs)) ] || fail "android-boot: exec anon_vmas are not 3 per exec"
exit 0
