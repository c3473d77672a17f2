#!/usr/bin/env bash
# The README's example output is what `make demo` prints now
# (scripts/readme-demo.sh --check).  The checker itself: on a copy of the
# README with one figure changed it fails and shows the changed line in a
# diff; --update on that copy restores exactly the real README.
# check: normal-build-only
set -euo pipefail
BUILD=${BUILD:-build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "readme_demo: $*" >&2; exit 1; }

scripts/readme-demo.sh --check "$BUILD" > "$dir/out" 2>&1 ||
	fail "README.md's example is not what make demo prints (run 'make readme'):
$(cat "$dir/out")"

cp README.md "$dir/README.md"
sed -i '/^<!-- demo:begin -->$/,/^<!-- demo:end -->$/ s/^host RAM: .*/host RAM: a drifted line/' \
	"$dir/README.md"
grep -q '^host RAM: a drifted line$' "$dir/README.md" || fail "could not alter the copy"
if README_FILE="$dir/README.md" scripts/readme-demo.sh --check "$BUILD" > "$dir/out" 2>&1; then
	fail "--check passed on a drifted README"
fi
grep -q '^-host RAM: a drifted line$' "$dir/out" || fail "--check shows no diff: $(cat "$dir/out")"
README_FILE="$dir/README.md" scripts/readme-demo.sh --update "$BUILD" > "$dir/out" 2>&1 ||
	fail "--update: $(cat "$dir/out")"
cmp -s README.md "$dir/README.md" || fail "--update did not restore the README: $(diff README.md "$dir/README.md")"
echo "readme_demo: ok"
