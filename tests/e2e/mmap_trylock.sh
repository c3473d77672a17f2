#!/usr/bin/env bash
# lazy.walk_lock: mmap_trylock against the mmap_lock write holds the trace
# measured (locks.h locks_measured, docs/lazy-model.md "Rmap walks"), on two
# real collections (root, BPF):
#   python-mp   tests/workloads/mp.py (fork Pool, Process + Queue): what must
#               hold - the trace has write holds (measured_mmap_holds > 0 in
#               both models), failed <= walks, nothing fails under rcu, both
#               policies walk the same folios, and the lazy trylock failures
#               are on mmap_lock read;
#   storm       build/progs/mprotect_storm: one mm write-held most of the time
#               (mprotect has no downgrade); when the trace shows it held for
#               more than half of the run, reclaim walks at the 100 ms ticks
#               must fail under mmap_trylock (all ticks free: < 0.5^ticks).
# Prints the measured failure shares.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
tmp=$(mktemp -d /tmp/anonvma-e2e-trylock.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (the workloads are collected with BPF)"

for pol in mmap_trylock rcu; do
	cat > "$tmp/$pol.yaml" <<YAML
lazy:
  walk_lock: $pol
pressure:
  reclaim_share_per_s: 1.0
  compaction_share_per_s: 0.2
YAML
done

collect() { # name db cmd...
	local name=$1 db=$2
	shift 2
	"$BUILD/anonvma-collect" -f -o "$db" -- "$@" > "$tmp/$name.collect.log" 2>&1 ||
		{ tail -3 "$tmp/$name.collect.log" >&2; fail "$name: collection failed"; }
}

collect python-mp "$tmp/mp.db" python3 tests/workloads/mp.py
collect storm "$tmp/storm.db" "$BUILD/progs/mprotect_storm" 64 1000

for t in mp storm; do
	for pol in mmap_trylock rcu; do
		"$BUILD/anonvma-replay" -q -c "$tmp/$pol.yaml" "$tmp/$t.db" -o "$tmp/$t-$pol.json" ||
			fail "$t: replay with walk_lock $pol"
	done
done

python3 - "$tmp" <<'PY' || fail "mmap_trylock reports"
import json, sqlite3, sys
tmp = sys.argv[1]

def load(t, pol):
    return json.load(open("%s/%s-%s.json" % (tmp, t, pol)))

def held_share(db):
    """Time share of the trace during which the most-held mm was write-held,
    from the events themselves, with the rules of locks.h: acquire opens,
    the holder's release, a read acquisition (downgrade), the holder's exit
    or the mm's release closes."""
    c = sqlite3.connect(db)
    t = t0 = None
    open_, held = {}, {}
    def close(mm):
        tid, since = open_.pop(mm)
        held[mm] = held.get(mm, 0) + t - since
    for dt, kind, tid, pid, mm, a, b, ok in c.execute(
            "select dt, kind, tid, pid, mm, a, b, c from events order by rowid"):
        t = dt if t is None else t + dt
        t0 = t if t0 is None else t0
        tid = pid if tid is None else tid
        if kind == 3:
            for m in [m for m, (h, _) in open_.items() if h == tid]:
                close(m)
        elif kind == 4 and mm in open_:
            close(mm)
        elif kind == 50 and b == 1 and ok and a == 1:
            if mm in open_:
                close(mm)
            open_[mm] = (tid, t)
        elif kind == 50 and mm in open_ and ((b == 1 and ok and a == 0) or
                                             (b == 2 and a == 1 and open_[mm][0] == tid)):
            close(mm)
    for mm in list(open_):
        close(mm)
    return max(held.values(), default=0) / (t - t0) if t > t0 else 0.0

for t in ("mp", "storm"):
    tl, rc = load(t, "mmap_trylock"), load(t, "rcu")
    for name in ("eager", "lazy"):
        wt, wr = tl["models"][name]["rmap_walks"], rc["models"][name]["rmap_walks"]
        for w in (wt, wr):
            assert w["measured_mmap_holds"] > 0, (t, name, w["measured_mmap_holds"])
            assert w["walks"] > 0 and w["failed"] <= w["walks"], (t, name, w)
            assert w["vmas_visited"]["count"] == w["walks"] - w["failed"], (t, name)
        assert wt["measured_mmap_holds"] == wr["measured_mmap_holds"]
        # the policy changes what a walk locks, not which folios are walked
        assert wt["by_source"] == wr["by_source"], (t, name)
    lt, lr = tl["models"]["lazy"], rc["models"]["lazy"]
    assert lt["rmap_walks"]["lazy_folio_walks"] > 0, t
    # rcu never fails; eager reclaim trylocks the anon_vma rwsem whatever the policy
    assert lr["locks"]["mmap_lock"]["read"]["trylock_failed"] == 0, t
    assert lr["rmap_walks"]["failed"] == lr["locks"]["anon_vma_rwsem"]["read"]["trylock_failed"], t
    assert tl["models"]["eager"]["rmap_walks"] == rc["models"]["eager"]["rmap_walks"], t
    # under mmap_trylock the extra failures are mmap_lock read trylocks, one per lazy walk
    extra = lt["rmap_walks"]["failed"] - lr["rmap_walks"]["failed"]
    mm_failed = lt["locks"]["mmap_lock"]["read"]["trylock_failed"]
    assert mm_failed <= lt["rmap_walks"]["lazy_folio_walks"], t
    assert extra == mm_failed, (t, extra, mm_failed)
    share = held_share("%s/%s.db" % (tmp, "mp" if t == "mp" else "storm"))
    w = lt["rmap_walks"]
    print("%s: %d write holds, the most-held mm write-held %.1f %% of the trace; lazy mmap_trylock: "
          "%d of %d walks failed (%.1f %%), %d of %d lazy-folio walks on a measured hold"
          % (t, w["measured_mmap_holds"], 100 * share, w["failed"], w["walks"],
             100.0 * w["failed"] / w["walks"], mm_failed, w["lazy_folio_walks"]))
    if t == "storm" and share > 0.5:
        assert mm_failed > 0, "storm: the mm was write-held %.0f %% of the run" % (100 * share)
PY
echo "mmap_trylock: ok"
