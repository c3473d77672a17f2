#!/usr/bin/env bash
# KSM on a real collection (docs/model-eager.md "KSM"): with ksmd running for
# the length of one run (/sys/kernel/mm/ksm/run restored on every exit path;
# ksmd only scans MADV_MERGEABLE memory, so other processes are untouched),
# tests/progs/ksm_merge has 64 identical pages merged, then unmaps them.
# The trace must hold the merges of the recorded process although ksmd ran
# them, each with a page address inside the region (schema 3), and scan ends;
# the replay keeps the eager model exact against the kernel's own records
# (the one anon_vma free ksmd made outside the recorded process may show as
# an explained divergence), and the lazy VMA is upgraded by the merge
# (policy lazy.ksm upgrade: the process never forks).
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
knob=/sys/kernel/mm/ksm/run
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -w "$knob" ] || fail "$knob is not writable (CONFIG_KSM and root needed)"
old=$(cat "$knob")
restore() { echo "$old" > "$knob"; }
trap 'restore; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

echo 1 > "$knob"
"$BUILD/anonvma-collect" -o "$tmp/t.db" -- "$BUILD/progs/ksm_merge" > "$tmp/out" 2> "$tmp/log" ||
	{ cat "$tmp/log" >&2; fail "collection failed"; }
restore
read -r _ region _ merged < <(grep '^region' "$tmp/out")
[ "${merged:-0}" -gt 0 ] || fail "ksmd merged nothing: $(cat "$tmp/out")"
lo=$((region))
hi=$((region + 64 * 4096))
q() { sqlite3 -batch -noheader "$tmp/t.db" "$1"; }
n=$(q "SELECT count(*) FROM event_view WHERE kind = 71 AND a = 1 AND c = 0")
[ "$n" -gt 0 ] || fail "no KSM merge recorded"
out=$(q "SELECT count(*) FROM event_view WHERE kind = 71 AND a = 1 AND (d < $lo OR d >= $hi)")
[ "$out" = 0 ] || fail "$out merges outside the region"
ends=$(q "SELECT count(*) FROM event_view WHERE kind = 71 AND a = 5")
[ "$ends" -gt 0 ] || fail "no ksmd scan end recorded"

"$BUILD/anonvma-replay" -q --validate "$tmp/t.db" -o "$tmp/r.json" || fail "replay --validate failed"
python3 - "$tmp/r.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
v = r["validation"]
assert v["passed"], "validation failed"
for kind in ("anon_vma", "anon_vma_chain"):
    assert v[kind]["error"] == 0 and v[kind]["kernel_allocs"] == v[kind]["model_allocs"], v[kind]
assert r["models"]["lazy"]["upgrades"] >= 1, r["models"]["lazy"]["upgrades"]
PY
echo "  $merged pages merged, $n merges recorded, $ends scan ends, validate exact"
