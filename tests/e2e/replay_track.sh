#!/usr/bin/env bash
# anonvma-replay's fork cost, live-object series and top processes
# (docs/report.md, src/track.h) on a synthesised zygote + 24 apps trace:
# every dup_mmap fork of the trace is timed once per model, the series stays
# within its 512 points, both models sample the same times and end at the
# end state, and top_processes is sorted by saving.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BUILD/anonvma-synth" configs/scenarios/android-24-apps.yaml -o "$tmp/t.db" -q 2> /dev/null
"$BUILD/anonvma-replay" -q "$tmp/t.db" -o "$tmp/r.json"
python3 - "$tmp/t.db" "$tmp/r.json" <<'PY' || fail "fork_cost / series / top_processes"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
r = json.load(open(sys.argv[2]))
CLONE_VM = 0x100
# AVM_FORK = 1: a = child mm (== mm for CLONE_VM, 0 when unknown), c = clone flags
forks, last_t = db.execute(
    "SELECT (SELECT count(*) FROM events WHERE kind = 1 AND a != mm AND a != 0 AND (c & ?) = 0),"
    " (SELECT max(t) FROM event_view)", (CLONE_VM,)).fetchone()
assert forks > 0, "the scenario forks"
series_t = None
for name in ("eager", "lazy"):
    m = r["models"][name]
    fc = m["fork_cost"]
    assert fc["forks"] == forks, (name, fc["forks"], forks)
    for k in ("anon_rmap", "page_table_copy", "total"):
        h = fc[k]
        assert h["count"] == forks, (name, k)
        assert h["min_ns"] <= h["p50_ns"] <= h["p99_ns"] <= h["max_ns"], (name, k, h)
        assert sum(c for _, c in h["buckets"]) == forks
    assert fc["total"]["total_ns"] == fc["anon_rmap"]["total_ns"] + fc["page_table_copy"]["total_ns"]
    assert abs(fc["anon_rmap_share"] - fc["anon_rmap"]["total_ns"] / fc["total"]["total_ns"]) < 1e-12
    assert fc["anon_rmap"]["total_ns"] > 0 and fc["page_table_copy"]["total_ns"] > 0
    # the page-table copy is the arch model's fork copy, summed per fork
    pt = m["page_tables"]["fork_copy"]
    assert fc["page_table_copy"]["total_ns"] == pt["ns"], (fc["page_table_copy"], pt)
    s = m["series"]
    n = len(s["t_ns"])
    assert s["max_points"] == 512 and 2 <= n <= 512, n
    for k in ("anon_vma", "anon_vma_chain", "vm_area_struct", "bytes"):
        assert len(s[k]) == n, k
    assert all(t % s["interval_ns"] == 0 for t in s["t_ns"][:-1])
    assert s["t_ns"] == sorted(set(s["t_ns"]))
    assert s["t_ns"][-1] == last_t, (s["t_ns"][-1], last_t)
    assert s["anon_vma"][-1] == m["anon_vma"]["live_end"]
    assert s["anon_vma_chain"][-1] == m["anon_vma_chain"]["live_end"]
    assert s["vm_area_struct"][-1] == m["vm_area_struct"]["live_end"]
    assert s["bytes"][-1] == m["bytes_end_total"]
    assert max(s["bytes"]) <= m["bytes_peak_total"]
    if series_t is None:
        series_t = s["t_ns"]
    assert s["t_ns"] == series_t, "both models sample the same times"
top = r["top_processes"]
assert 0 < len(top) <= 10
sv = [e["saving_bytes"] for e in top]
assert sv == sorted(sv, reverse=True), sv
for e in top:
    assert e["saving_bytes"] == e["eager_bytes_peak"] - e["lazy_bytes_peak"]
    if e["eager_bytes_peak"]:
        assert abs(e["saving_percent"] - 100 * e["saving_bytes"] / e["eager_bytes_peak"]) < 1e-9
    else:
        assert e["saving_percent"] is None
# zygote children save: lazy defers their anon_vmas
assert top[0]["saving_bytes"] > 0
PY

# one model: no top_processes (it compares eager with lazy), the model's own sections stay
"$BUILD/anonvma-replay" -q --model eager "$tmp/t.db" -o "$tmp/e.json"
python3 - "$tmp/e.json" <<'PY' || fail "single model"
import json, sys
r = json.load(open(sys.argv[1]))
assert "top_processes" not in r
assert r["models"]["eager"]["fork_cost"]["forks"] > 0
assert len(r["models"]["eager"]["series"]["t_ns"]) >= 2
PY
echo "ok"
