#!/usr/bin/env bash
# anonvma-replay --check-rmap (docs/report.md "rmap completeness") on a real
# collection (the python-mp workload, ~0.4 s, collected here: tests/traces/v3.db lasts
# 10 ms, shorter than one pressure tick) with a page-idle sweep that
# walks every live folio every 100 ms: every walk of every design is compared
# with the simulated page tables.  Mainline's walk never misses a mapping
# (eager.md §5: every mapping is a VMA on the folio's anon_vma), the check is
# off by default (no keys), and turning it on changes no other figure.
set -euo pipefail
BUILD=${BUILD:-build}
replay="$BUILD/anonvma-replay"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

tests/workloads/run.sh -b "$BUILD" -o "$tmp/real" python-mp > "$tmp/real.log" 2>&1 ||
	fail "collecting the python-mp workload: $(tail -3 "$tmp/real.log")"
cp "$tmp/real/python-mp.db" "$tmp/t.db"
"$replay" -q --set pressure.page_idle_sweep_s=0.1 "$tmp/t.db" -o "$tmp/off.json"
"$replay" -q --check-rmap --set pressure.page_idle_sweep_s=0.1 "$tmp/t.db" -o "$tmp/on.json"
python3 - "$tmp/off.json" "$tmp/on.json" <<'PY' || fail "--check-rmap on a python-mp collection"
import json, sys
off, on = (json.load(open(p)) for p in sys.argv[1:3])
keys = {"checked_walks", "missed", "extra", "missed_walks", "extra_walks",
        "first_missed", "first_extra"}
assert set(on["models"]) == {"eager", "lazy", "cowctx"}, sorted(on["models"])
for name in on["models"]:
    a, b = off["models"][name]["rmap_walks"], on["models"][name]["rmap_walks"]
    assert not keys & set(a), (name, sorted(a))          # off by default
    assert keys <= set(b), (name, sorted(b))
    assert b["checked_walks"] == b["walks"] - b["failed"] > 0, (name, b["walks"])
    assert b["extra"] == b["stale_vmas"], (name, b["extra"], b["stale_vmas"])
    assert b["missed_walks"] <= b["missed"] and b["extra_walks"] <= b["extra"]
    assert (b["first_missed"] is None) == (b["missed"] == 0), name
    if b["first_missed"]:
        assert b["first_missed"]["seq"] > 0 and b["first_missed"]["mm"] > 0, b["first_missed"]
    # the check only observes: every other figure is the same
    for k in a:
        assert a[k] == b[k], (name, k)
    for k in ("anon_vma", "anon_vma_chain", "vm_area_struct", "bytes_peak_total"):
        assert off["models"][name].get(k) == on["models"][name].get(k), (name, k)
assert on["models"]["eager"]["rmap_walks"]["missed"] == 0, on["models"]["eager"]["rmap_walks"]
PY
echo "rmap_check: ok"
