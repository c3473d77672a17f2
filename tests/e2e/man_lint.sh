#!/usr/bin/env bash
# The man pages: mandoc -T lint finds no warning; every tool has a section-1
# page and the config and scenario formats section-5 pages; every long option
# a tool's --help lists is in its page, and every key of configs/default.yaml
# in anonvma-config(5) and of an arch model in anonvma-arch(5), so the pages
# cannot drift from the tools; the
# scenario example in anonvma-scenario(5) is a valid scenario.
# check: normal-build-only
set -euo pipefail
BUILD=${BUILD:-build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "man_lint: $*" >&2; exit 1; }

pages=(man/*.1 man/*.5)
mandoc -T lint -W warning "${pages[@]}" > "$dir/lint" 2>&1 || fail "mandoc -T lint: $(cat "$dir/lint")"
[ ! -s "$dir/lint" ] || fail "mandoc -T lint: $(cat "$dir/lint")"
for p in anonvma-config.5 anonvma-scenario.5 anonvma-arch.5; do [ -f "man/$p" ] || fail "man/$p missing"; done

for t in "$BUILD"/anonvma-*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	page="man/$name.1"
	[ -f "$page" ] || fail "$name has no man page"
	mandoc -T ascii "$page" | sed "s/.\x08//g" > "$dir/$name.txt"
	"$t" --help > "$dir/help" || fail "$name --help"
	opts=$(grep -o -- '--[a-z][a-z-]*' "$dir/help" | sort -u)
	[ -n "$opts" ] || fail "$name --help lists no long option"
	for o in $opts; do
		grep -q -- "$o" "$dir/$name.txt" || fail "$name: $o is in --help but not in $page"
	done
done

# Every key of the default config (section.key) is documented in anonvma-config(5).
mandoc -T ascii man/anonvma-config.5 | sed "s/.\x08//g" > "$dir/config.txt"
awk '/^[a-z_]+:/ { sec = $1; sub(":", "", sec); next }
     /^  [a-z_]+:/ { k = $1; sub(":", "", k); print sec "." k }' configs/default.yaml > "$dir/keys"
[ "$(wc -l < "$dir/keys")" -gt 10 ] || fail "could not read the keys of configs/default.yaml"
while read -r k; do
	grep -q -- "$k" "$dir/config.txt" || fail "config key $k is not in anonvma-config(5)"
done < "$dir/keys"
grep -q "arch.name" "$dir/config.txt" || fail "arch.name not in anonvma-config(5)"

# Every key of a shipped arch model is documented in anonvma-arch(5).
mandoc -T ascii man/anonvma-arch.5 | sed "s/.\x08//g" > "$dir/arch.txt"
awk '/^[a-z_]+:/ { sec = $1; sub(":", "", sec); if ($2 != "" && $2 !~ /^#/) print sec; next }
     /^  [a-z_]+:/ { k = $1; sub(":", "", k); print sec "." k }' configs/arch/x86_64-4level.yaml > "$dir/akeys"
[ "$(wc -l < "$dir/akeys")" -gt 20 ] || fail "could not read the keys of x86_64-4level.yaml"
while read -r k; do
	grep -q -- "$k" "$dir/arch.txt" || fail "arch key $k is not in anonvma-arch(5)"
done < "$dir/akeys"

# The example scenario of anonvma-scenario(5) synthesises and replays.
sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' man/anonvma-scenario.5 | sed -n '/^scenario:/,/^\.Ed/p' |
	sed '$d' > "$dir/example.yaml"
[ -s "$dir/example.yaml" ] || fail "no example scenario in anonvma-scenario(5)"
"$BUILD/anonvma-synth" "$dir/example.yaml" -o "$dir/ex.db" -q 2>"$dir/err" ||
	fail "the man page's example scenario: $(cat "$dir/err")"
"$BUILD/anonvma-replay" -q "$dir/ex.db" -o "$dir/ex.json" 2>"$dir/err" ||
	fail "replay of the man page's example: $(cat "$dir/err")"
echo "man_lint: ok (${#pages[@]} pages)"
