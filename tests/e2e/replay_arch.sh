#!/usr/bin/env bash
# anonvma-replay with the arch models (docs/arch.md): the report's arch,
# page_tables and locks on a synthesised trace, --arch choosing another
# geometry, a bad --arch named, --calibrate refused without mmap_lock holds
# and, on a real collection of a forking program, writing a fitted arch that
# loads back with --arch FILE.
set -euo pipefail
BUILD=${BUILD:-build}
replay="$BUILD/anonvma-replay"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BUILD/anonvma-synth" configs/scenarios/prefork-server.yaml -o "$tmp/t.db" -q --scale 0.1 2> /dev/null

# the trace says x86_64, 4 KiB pages, 4 levels: x86_64-4level
"$replay" -q "$tmp/t.db" -o "$tmp/r.json"
python3 - "$tmp/r.json" <<'PY' || fail "arch sections"
import json, sys
r = json.load(open(sys.argv[1]))
a = r["arch"]
assert a["name"] == "x86_64-4level", a["name"]
assert [l["name"] for l in a["levels"]] == ["pgd", "pud", "pmd", "pte"]
assert a["costs"]["walk_ns"] == 4 * a["costs"]["walk_level_ns"]
for model, m in r["models"].items():
    pt = m["page_tables"]
    lv = pt["levels"]
    # every mm has its pgd; the peak holds at least what is left
    assert lv["pgd"]["tables_peak"] >= 1
    assert pt["bytes_peak"] >= pt["bytes_end"] > 0
    assert pt["bytes_end"] == sum(l["bytes_end"] for l in lv.values())
    assert pt["bytes_peak"] <= sum(l["bytes_peak"] for l in lv.values())
    for l in lv.values():
        assert l["tables_end"] == l["allocs"] - l["frees"]
    # a prefork server forks: page tables are copied
    assert pt["fork_copy"]["copies"] > 0 and pt["fork_copy"]["ptes"] > 0
    w = m["locks"]["anon_vma_rwsem"]["write"]
    h = w["hold"]
    assert h["count"] > 0 and h["min_ns"] <= h["p50_ns"] <= h["p99_ns"] <= h["max_ns"]
    assert sum(v["count"] for v in w["by_reason"].values()) == h["count"]
    assert sum(v["total_ns"] for v in w["by_reason"].values()) == h["total_ns"]
    assert w["by_reason"]["fork"]["count"] > 0
    assert sum(c for _, c in h["buckets"]) == h["count"]
PY

# another geometry: the same trace on 5-level paging has a p4d level
"$replay" -q --arch x86_64-5level "$tmp/t.db" -o "$tmp/r5.json"
python3 - "$tmp/r.json" "$tmp/r5.json" <<'PY' || fail "--arch x86_64-5level"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert b["arch"]["name"] == "x86_64-5level"
for name in b["models"]:
    pa, pb = a["models"][name]["page_tables"], b["models"][name]["page_tables"]
    assert "p4d" in pb["levels"] and "p4d" not in pa["levels"]
    # one more level, same leaves: same PTE pages, more tables in all
    assert pb["levels"]["pte"] == pa["levels"]["pte"]
    assert pb["bytes_peak"] > pa["bytes_peak"]
    # the anon rmap does not depend on the page-table geometry
    for kind in ("anon_vma", "anon_vma_chain", "vm_area_struct"):
        assert a["models"][name][kind] == b["models"][name][kind]
PY

# bad input: an unknown arch
if "$replay" -q --arch sparc64 "$tmp/t.db" -o "$tmp/x.json" 2> "$tmp/err"; then fail "sparc64 accepted"; fi
grep -q "unknown arch 'sparc64'" "$tmp/err" || fail "unknown arch not named: $(cat "$tmp/err")"
[ ! -e "$tmp/x.json" ] || fail "a report was written on error"
# a 64K arch on a 4K trace is a translation (tests/e2e/replay_translate.sh), said in the report
"$replay" -q --arch arm64-64k-42bit "$tmp/t.db" -o "$tmp/x.json" || fail "64K arch on a 4K trace"
python3 - "$tmp/x.json" <<'PY' || fail "64K translation not reported"
import json, sys
a = json.load(open(sys.argv[1]))["arch"]
assert a["page_size"] == 65536 and a["translated_from"]["page_size"] == 4096, a
PY
rm -f "$tmp/x.json"

# --calibrate needs measured holds; synth traces have none
if "$replay" -q --calibrate "$tmp/cal.yaml" "$tmp/t.db" -o "$tmp/x.json" 2> "$tmp/err"; then
	fail "--calibrate without holds succeeded"
fi
grep -q "no mmap_lock write holds" "$tmp/err" || fail "calibrate error: $(cat "$tmp/err")"
[ ! -e "$tmp/cal.yaml" ] || fail "a calibration file was written on error"

# a real collection of a forking program: its mmap_lock holds fit the costs
cat > "$tmp/forker.py" <<'PY'
import os
buf = bytearray(4 << 20)          # anonymous memory the forks copy page tables for
for i in range(0, len(buf), 4096):
    buf[i] = 1
for i in range(60):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
PY
"$BUILD/anonvma-collect" -f -o "$tmp/c.db" -- python3 "$tmp/forker.py" 2> "$tmp/cerr" ||
	fail "collect: $(tail -1 "$tmp/cerr")"
"$replay" --calibrate "$tmp/mybox.yaml" "$tmp/c.db" -o "$tmp/c.json" > "$tmp/cout"
grep -q "^calibration: [1-9][0-9]* mmap_lock holds fitted" "$tmp/cout" || fail "calibration line: $(cat "$tmp/cout")"
grep -q "^name: mybox$" "$tmp/mybox.yaml" || fail "calibrated file not named after itself"
grep -q "pte_copy_ns: [0-9]*  # \[fit\]" "$tmp/mybox.yaml" || fail "fork PTE copy cost not fitted"
"$replay" -q --arch "$tmp/mybox.yaml" "$tmp/c.db" -o "$tmp/c2.json"
python3 - "$tmp/c2.json" <<'PY' || fail "calibrated arch not used"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["arch"]["name"] == "mybox"
PY
echo "replay_arch: ok"
