#!/usr/bin/env bash
# anonvma-replay end to end on a synthesised trace: the report has the
# stable keys with self-consistent values, counts every event of the trace,
# is the same on a second run and under --check-invariants, is readable by
# anonvma-report, and SIGINT stops a replay with no report left behind.
set -euo pipefail
BUILD=${BUILD:-build}
replay="$BUILD/anonvma-replay"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# a small prefork server (~150 k events): --check-invariants costs O(state) per event
"$BUILD/anonvma-synth" configs/scenarios/prefork-server.yaml -o "$tmp/t.db" -q --scale 0.1 2> /dev/null
events=$(sqlite3 "$tmp/t.db" 'SELECT count(*) FROM events')

"$replay" "$tmp/t.db" -o "$tmp/r.json" > "$tmp/out"
grep -q "^eager" "$tmp/out" || fail "no summary on stdout"
grep -q "replayed $events events" "$tmp/out" || fail "summary does not count $events events"
python3 - "$tmp/r.json" "$events" <<'PY' || fail "report keys/values"
import json, sys
r = json.load(open(sys.argv[1]))
events = int(sys.argv[2])
assert r["schema"] == "anonvma-report/3"
assert r["trace"]["events"] == events, (r["trace"]["events"], events)
assert r["trace"]["lost_events"] == 0
assert r["trace"]["complete"] is True
for name, m in r["models"].items():
    for kind in ("anon_vma", "anon_vma_chain", "vm_area_struct"):
        k = m[kind]
        for key in ("allocs", "frees", "live_end", "live_peak", "bytes_peak"):
            assert isinstance(k[key], (int, float)) and k[key] >= 0, (name, kind, key)
        # what is live at the end was allocated or adopted and not freed
        assert k["live_end"] == k["allocs"] + k["preexisting"] - k["frees"], (name, kind, k)
        assert k["live_peak"] >= k["live_end"]
        assert k["bytes_peak"] == k["live_peak"] * k["object_size"]
        assert sum(m["allocs_by_operation"][kind].values()) == k["allocs"], (name, kind)
    kinds = ["anon_vma", "anon_vma_chain", "vm_area_struct"]
    if name == "cowctx":
        # no anon_vma or AVC ever; a context per mm (the prefork server forks)
        assert m["anon_vma"]["allocs"] == 0 and m["anon_vma_chain"]["allocs"] == 0
        assert m["cow_context"]["allocs"] > 0
        assert m["allocs_by_operation"]["cow_context"]["fork"] > 0
        kinds += ["cow_context", "remap", "remap_array"]
    else:
        assert m["anon_vma"]["allocs"] > 0, "a prefork server faults anonymous memory"
    assert m["bytes_peak_total"] <= sum(m[k]["bytes_peak"] for k in kinds)
# arch sections: the arch the trace's meta names, page tables and lock holds per model
assert r["arch"]["name"] == "x86_64-4level", r["arch"].get("name")
for name, m in r["models"].items():
    assert m["page_tables"]["bytes_peak"] >= m["page_tables"]["bytes_end"] > 0
    assert "anon_vma_rwsem" in m["locks"] and "mmap_lock" in m["locks"]
# eager takes the anon_vma root lock for write at every prepare, fork, clone, unlink
hold = r["models"]["eager"]["locks"]["anon_vma_rwsem"]["write"]["hold"]
assert hold["count"] > 0 and hold["total_ns"] > 0
if "lazy" in r["models"]:
    assert "savings" in r and r["savings"]["baseline"] == "eager"
PY

# deterministic, and the invariant checkers find nothing
"$replay" -q --check-invariants "$tmp/t.db" -o "$tmp/r2.json" > "$tmp/out2"
[ ! -s "$tmp/out2" ] || fail "-q printed something"
python3 - "$tmp/r.json" "$tmp/r2.json" <<'PY' || fail "second run differs"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["models"] == b["models"] and a["trace"] == b["trace"]
PY
# (into a file: grep -q quits at the first match and the writer would get EPIPE)
"$BUILD/anonvma-report" "$tmp/r.json" > "$tmp/sum.txt" || fail "report summary failed"
grep -q "anonvma report: t.db" "$tmp/sum.txt" || fail "report summary"

# --arch picks another page-table model: same objects, other page tables
# (a 64K-page arch translates the 4K trace: tests/e2e/replay_translate.sh)
"$replay" -q --arch x86_64-5level "$tmp/t.db" -o "$tmp/x5.json"
python3 - "$tmp/r.json" "$tmp/x5.json" <<'PY' || fail "--arch x86_64-5level"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert b["arch"]["name"] == "x86_64-5level"
e4, e5 = a["models"]["eager"], b["models"]["eager"]
assert e4["anon_vma"] == e5["anon_vma"]              # the rmap does not depend on the arch
assert "p4d" in e5["page_tables"]["levels"] and "p4d" not in e4["page_tables"]["levels"]
PY

# Ctrl-C: 3 M events (bench/gentrace.c) take seconds to replay, far more than 0.3 s
. tests/lib/gentrace.sh
gentrace "$tmp/big.db" 3000000
st=0
"$replay" -q "$tmp/big.db" -o "$tmp/int.json" 2> "$tmp/err" &
pid=$!
sleep 0.3
kill -INT $pid
wait $pid || st=$?
[ $st -eq 130 ] || fail "SIGINT exit status $st, want 130"
[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "SIGINT: not one line: $(cat "$tmp/err")"
grep -q "interrupted after [0-9]* of 3000000 events; no report written" "$tmp/err" ||
	fail "no interruption line: $(cat "$tmp/err")"
[ ! -e "$tmp/int.json" ] || fail "an interrupted replay left a report"
ls "$tmp" | grep -q 'int.json.tmp' && fail "an interrupted replay left a temporary file"
echo "replay_synth: ok ($events events)"
