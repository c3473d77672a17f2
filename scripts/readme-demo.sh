#!/usr/bin/env bash
# scripts/readme-demo.sh [--update|--check] BUILD - keep the README's example
# output equal to what `make demo` prints.
#
# Runs scripts/demo.sh BUILD and takes from its output the headline lines of
# the summary (from "anon rmap (" through "host RAM:"), the verdict with
# its reasons ("verdict:" and the indented lines after it), how robust it
# is ("robustness:" and the constants that flip it), and the three designs
# side by side ("designs against eager", "lazy vs cowctx:" and its reasons).  The README holds
# them in the code block between <!-- demo:begin --> and <!-- demo:end -->.
#   --check   (default) exit 1 with a diff when the README's block differs
#   --update  rewrite the block (`make readme`: one command after a change to
#             the summary or the verdict)
set -euo pipefail
mode=--check
case "${1:-}" in --check|--update) mode=$1; shift ;; esac
build=${1:-build}
cd "$(dirname "$0")/.."
readme=${README_FILE:-README.md}   # README_FILE: another copy (the tests)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

scripts/demo.sh "$build" > "$tmp/demo.out" 2> "$tmp/demo.err" || {
	echo "readme-demo: make demo failed:" >&2; cat "$tmp/demo.err" >&2; exit 1; }
awk '
	/^anon rmap \(/          { head = 1 }
	head                     { print }
	/^host RAM:/             { head = 0 }
	/^verdict:/ || /^robustness:/ || /^designs against eager/ || /^lazy vs cowctx:/ {
		verdict = 1; print; next }
	verdict && /^  /         { print; next }
	verdict                  { verdict = 0 }
' "$tmp/demo.out" > "$tmp/block"
grep -q '^anon rmap (' "$tmp/block" && grep -q '^host RAM:' "$tmp/block" &&
	grep -q '^verdict:' "$tmp/block" || {
	echo "readme-demo: the demo output has no summary headline or verdict:" >&2
	cat "$tmp/demo.out" >&2; exit 1; }
{ echo '```'; cat "$tmp/block"; echo '```'; } > "$tmp/section"

grep -q '^<!-- demo:begin -->$' "$readme" && grep -q '^<!-- demo:end -->$' "$readme" || {
	echo "readme-demo: $readme has no <!-- demo:begin --> / <!-- demo:end --> markers" >&2
	exit 1; }
sed -n '/^<!-- demo:begin -->$/,/^<!-- demo:end -->$/p' "$readme" | sed '1d;$d' > "$tmp/current"

if [ "$mode" = --update ]; then
	awk -v section="$tmp/section" '
		/^<!-- demo:begin -->$/ { print; while ((getline l < section) > 0) print l; skip = 1; next }
		/^<!-- demo:end -->$/   { skip = 0 }
		!skip                   { print }
	' "$readme" > "$tmp/readme"
	cat "$tmp/readme" > "$readme"
	if cmp -s "$tmp/current" "$tmp/section"; then
		echo "readme-demo: $readme already matches make demo"
	else
		echo "readme-demo: $readme example output rewritten from make demo"
	fi
	exit 0
fi
if ! diff -u --label "$readme (example output)" --label "make demo" "$tmp/current" "$tmp/section"; then
	echo "readme-demo: $readme's example output differs from make demo: run 'make readme'" >&2
	exit 1
fi
echo "readme-demo: $readme example output matches make demo"
