#!/usr/bin/env bash
# anonvma-replay on bad input: one clear line on stderr, a non-zero exit, and
# no report file (not even a partial one) for every kind of bad trace or
# option; an existing report is left as it was.
set -euo pipefail
BUILD=${BUILD:-build}
bin="$BUILD/anonvma-replay"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# a small valid trace through the trace API (bench/gentrace.c)
san=()  # the library of a SAN=1 build needs the sanitizers at link time
if nm "$BUILD/libanonvma.a" 2> /dev/null | grep __asan_ > /dev/null; then san=(-fsanitize=address,undefined); fi
${CC:-cc} -std=c11 -D_GNU_SOURCE -O1 "${san[@]}" -Isrc bench/gentrace.c "$BUILD/libanonvma.a" \
	-lsqlite3 -lyaml -lcjson -lm -o "$tmp/gentrace"
"$tmp/gentrace" "$tmp/good.db" 50000

expect_error() { # want_status want_text args...
	local want=$1 text=$2 st=0
	shift 2
	rm -f "$tmp/r.json"
	"$bin" -q -o "$tmp/r.json" "$@" > "$tmp/out" 2> "$tmp/err" || st=$?
	[ "$st" -eq "$want" ] || fail "$* exited $st, want $want ($(cat "$tmp/err"))"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$*: stderr is not one line: $(cat "$tmp/err")"
	grep -q -- "$text" "$tmp/err" || fail "$*: '$(cat "$tmp/err")' lacks '$text'"
	[ ! -e "$tmp/r.json" ] || fail "$*: left a report behind"
	ls "$tmp" | grep -q 'r.json.tmp' && fail "$*: left a temporary report behind"
	return 0
}

# options
expect_error 2 "unknown option '--frobnicate'" --frobnicate "$tmp/good.db"
expect_error 2 "no trace given"
expect_error 2 "one trace at a time" "$tmp/good.db" "$tmp/good.db"
expect_error 2 "unknown model 'nosuch'" --model nosuch "$tmp/good.db"
expect_error 2 "needs a value" "$tmp/good.db" --model

expect_error 1 "nosuch" --arch nosuch "$tmp/good.db"

# traces
expect_error 1 "missing.db: No such file" "$tmp/missing.db"
: > "$tmp/empty.db"
expect_error 1 "empty.db: empty file" "$tmp/empty.db"
head -c 10000 /dev/urandom > "$tmp/junk.db"
expect_error 1 "junk.db: not an SQLite database" "$tmp/junk.db"
head -c $(( $(stat -c %s "$tmp/good.db") / 2 )) "$tmp/good.db" > "$tmp/half.db"
expect_error 1 "half.db: truncated" "$tmp/half.db"
cp "$tmp/good.db" "$tmp/v2.db"
sqlite3 "$tmp/v2.db" "UPDATE meta SET value = '999' WHERE key = 'schema_version'"
expect_error 1 "v2.db: schema version 999 was written by a newer anonvma" "$tmp/v2.db"
sqlite3 "$tmp/v2.db" "UPDATE meta SET value = '0' WHERE key = 'schema_version'"
expect_error 1 "v2.db: schema version 0 is older than this anonvma reads" "$tmp/v2.db"
sqlite3 "$tmp/v2.db" "UPDATE meta SET value = '1x' WHERE key = 'schema_version'"
expect_error 1 "v2.db: corrupt trace: meta schema_version is not a whole number" "$tmp/v2.db"
sqlite3 "$tmp/plain.db" "CREATE TABLE t(x)"
expect_error 1 "plain.db: not an anonvma trace" "$tmp/plain.db"

# a config with an unknown key is named with file:line
printf 'kernel:\n  profile: P3\n  no_such_key: 1\n' > "$tmp/bad.yaml"
expect_error 1 "bad.yaml:3" --config "$tmp/bad.yaml" "$tmp/good.db"

# an existing report survives a failed run untouched
echo '{"old": true}' > "$tmp/keep.json"
st=0
"$bin" -q -o "$tmp/keep.json" "$tmp/junk.db" 2> /dev/null || st=$?
[ "$st" -eq 1 ] || fail "junk trace over an existing report exited $st"
grep -q '"old": true' "$tmp/keep.json" || fail "a failed run changed an existing report"
echo "replay_bad_input: ok"
