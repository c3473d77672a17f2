#!/usr/bin/env bash
# Every trace layout this anonvma has written stays readable (docs/trace-versions.md):
# tests/traces/vN.db is a small real collection (build/workloads/vmops forktree,
# recorded by anonvma-collect) written with schema version N.  Each one must say
# version N, replay, and keep the eager model exact against the kernel's own
# anon_vma / anon_vma_chain allocations recorded in it (tests/traces/vN.expect:
# events, then kernel anon_vma and AVC allocations).  A version newer than this
# build reads is refused with one line.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

newest=$(sed -n 's/^#define TRACE_SCHEMA_VERSION \([0-9]*\)$/\1/p' src/trace.h)
oldest=$(sed -n 's/^#define TRACE_SCHEMA_MIN_VERSION \([0-9]*\)$/\1/p' src/trace.h)
[ -n "$newest" ] && [ -n "$oldest" ] || fail "no schema versions in src/trace.h"
for v in $(seq "$oldest" "$newest"); do
	t=tests/traces/v$v.db
	[ -f "$t" ] || fail "$t: no checked-in trace of schema version $v"
	[ "$(sqlite3 "$t" "SELECT value FROM meta WHERE key = 'schema_version'")" = "$v" ] ||
		fail "$t does not say schema version $v"
	# the reader never writes: replay a copy in a read-only directory
	mkdir -p "$tmp/ro$v" && cp "$t" "$tmp/ro$v/t.db" && chmod 0555 "$tmp/ro$v"
	"$BUILD/anonvma-replay" -q --validate "$tmp/ro$v/t.db" -o "$tmp/r$v.json" ||
		fail "$t: replay --validate failed"
	read -r events avs avcs < "tests/traces/v$v.expect"
	python3 - "$tmp/r$v.json" "$events" "$avs" "$avcs" <<'PY' || fail "$t: report"
import json, sys
r = json.load(open(sys.argv[1]))
events, avs, avcs = map(int, sys.argv[2:5])
assert r["trace"]["events"] == events, (r["trace"]["events"], events)
v = r["validation"]
assert v["passed"], "validation failed"
for kind, n in (("anon_vma", avs), ("anon_vma_chain", avcs)):
    assert v[kind]["kernel_allocs"] == n, (kind, v[kind]["kernel_allocs"], n)
    assert v[kind]["model_allocs"] == n, (kind, v[kind]["model_allocs"], n)
PY
	echo "  v$v: $events events, anon_vma $avs/$avs, anon_vma_chain $avcs/$avcs"
done

next=$((newest + 1))
cp "tests/traces/v$newest.db" "$tmp/next.db"
sqlite3 "$tmp/next.db" "UPDATE meta SET value = '$next' WHERE key = 'schema_version'"
if "$BUILD/anonvma-replay" -q "$tmp/next.db" -o "$tmp/next.json" 2> "$tmp/err"; then
	fail "a trace of schema version $next was accepted"
fi
[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "more than one error line: $(cat "$tmp/err")"
grep -q "schema version $next was written by a newer anonvma; this one reads versions $oldest to $newest" \
	"$tmp/err" || fail "unexpected error: $(cat "$tmp/err")"
[ ! -e "$tmp/next.json" ] || fail "a report was written for a refused trace"
