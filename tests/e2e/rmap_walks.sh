#!/usr/bin/env bash
# models.<name>.rmap_walks (docs/report.md) on a synthesised trace: off by
# default (observed walks only), reclaim/compaction/page-idle pressure from a
# config walks the same number of folios in both models, eager visits at
# least as many VMAs per walk as lazy (lazy folios look up one), reruns are
# identical, and the invariant checker stays green with pressure on.
set -euo pipefail
BUILD=${BUILD:-build}
replay="$BUILD/anonvma-replay"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BUILD/anonvma-synth" configs/scenarios/android-boot.yaml -o "$tmp/t.db" -q --scale 0.1 2> /dev/null

# pressure off: only observed walks (a synthesised trace has no migration events)
"$replay" -q "$tmp/t.db" -o "$tmp/off.json"
python3 - "$tmp/off.json" <<'PY' || fail "pressure off"
import json, sys
r = json.load(open(sys.argv[1]))
for name, m in r["models"].items():
    w = m["rmap_walks"]
    assert set(w) == {"walks", "by_source", "unresolved", "failed", "vmas_visited",
                      "stale_vmas", "lazy_folio_walks", "hold", "measured_mmap_holds"}, sorted(w)
    # a synthesised trace records no mmap_lock: no measured hold a walk could fail against
    assert w["measured_mmap_holds"] == 0, (name, w["measured_mmap_holds"])
    assert set(w["by_source"]) == {"migration", "reclaim", "compaction", "page_idle"}
    assert set(w["unresolved"]) == {"migration", "ksm", "thp"}
    assert w["walks"] == w["by_source"]["migration"] == 0, (name, w["walks"])
    assert w["vmas_visited"]["count"] == w["hold"]["count"] == 0
PY

cat > "$tmp/c.yaml" <<'YAML'
pressure:
  reclaim_share_per_s: 0.1
  compaction_share_per_s: 0.05
  page_idle_sweep_s: 60
YAML
"$replay" -q -c "$tmp/c.yaml" "$tmp/t.db" -o "$tmp/on.json"
"$replay" -q -c "$tmp/c.yaml" "$tmp/t.db" -o "$tmp/on2.json"
python3 - "$tmp/on.json" "$tmp/on2.json" <<'PY' || fail "pressure on"
import json, sys
r, r2 = (json.load(open(p)) for p in sys.argv[1:3])
e, l = r["models"]["eager"]["rmap_walks"], r["models"]["lazy"]["rmap_walks"]
for name, w in (("eager", e), ("lazy", l)):
    assert w["walks"] > 0, name
    assert w["by_source"]["reclaim"] > 0 and w["by_source"]["page_idle"] > 0, name
    # compaction walks twice per folio: unmap, then remove_migration_ptes
    assert w["by_source"]["compaction"] % 2 == 0 and w["by_source"]["compaction"] > 0, name
    assert sum(w["by_source"].values()) == w["walks"], name
    assert w["vmas_visited"]["count"] == w["hold"]["count"] == w["walks"] - w["failed"], name
    assert w["hold"]["min_ns"] > 0, name
    assert w["stale_vmas"] <= w["vmas_visited"]["total"], name
# the same share of the same folios in both worlds
assert e["by_source"] == l["by_source"], (e["by_source"], l["by_source"])
# eager walks the anon_vma's covering VMAs, lazy folios one VMA
assert e["vmas_visited"]["p99"] >= l["vmas_visited"]["p99"], (e["vmas_visited"], l["vmas_visited"])
assert e["lazy_folio_walks"] == 0 and l["lazy_folio_walks"] > 0
# the walks are read sections of the lock classes they take
assert r["models"]["eager"]["locks"]["anon_vma_rwsem"]["read"]["by_reason"]["rmap_walk"]["count"] > 0
assert r["models"]["lazy"]["locks"]["rcu"]["read"]["by_reason"]["rmap_walk"]["count"] == l["lazy_folio_walks"]
# reruns are identical
for name in ("eager", "lazy"):
    assert r["models"][name]["rmap_walks"] == r2["models"][name]["rmap_walks"], name
PY
# the invariant checkers stay green while walks run (a smaller forking trace: the
# checkers run after every event)
"$BUILD/anonvma-synth" configs/scenarios/prefork-server.yaml -o "$tmp/p.db" -q --scale 0.05 2> /dev/null
"$replay" -q --check-invariants -c "$tmp/c.yaml" "$tmp/p.db" -o "$tmp/p.json" ||
	fail "--check-invariants with pressure"
python3 - "$tmp/p.json" <<'PY' || fail "pressure with --check-invariants"
import json, sys
r = json.load(open(sys.argv[1]))
for name, m in r["models"].items():
    w = m["rmap_walks"]
    assert w["walks"] > 0 and w["by_source"]["reclaim"] > 0, name
    # prefork children share their parent's folios: eager walks visit both
    assert w["vmas_visited"]["max"] >= 2, (name, w["vmas_visited"])
PY
echo "rmap_walks: ok"
