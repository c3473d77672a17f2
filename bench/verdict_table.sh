#!/usr/bin/env bash
# bench/verdict_table.sh TRACE.db... - the verdict of each trace with the default
# policies and under 31 combinations of the open lazy policies (three sweeps of
# one read each: rewrite_lock x adopt x mremap, cow_owner x pin x merge_roots x
# tree_parent_reuse, walk_lock), as one markdown row per trace:
#   | trace | saving | verdict | robust | flipping constants | sweeps | flips in sweeps |
# B: the build folder (default build); OUT: where the reports go (default a temp dir).
# docs/verdict.md shows its table for tests/workloads/run.sh
# pipeline python-mp make-j2, bench/workloads/forkserver.py 300 and
# bench/workloads/browser.sh (headless Chromium), each under anonvma-collect -- CMD.
set -u
B=${B:-build}
out=${OUT:-$(mktemp -d)}; mkdir -p "$out"
A="--sweep lazy.rewrite_lock=ptl,vma_write,anon_vma_write --sweep lazy.adopt=conservative,optimistic --sweep lazy.mremap=upgrade,rebase"
C="--sweep lazy.cow_owner=child_root,parent_av --sweep lazy.pin=until_last_folio,none --sweep lazy.merge_roots=refuse,allow --sweep lazy.tree_parent_reuse=mainline,allocate"
D="--sweep lazy.walk_lock=rcu,vma_read,mmap_trylock"
for t in "$@"; do
	n=$(basename "$t" .db)
	$B/anonvma-replay -q "$t" -o "$out/$n.def.json" 2>"$out/$n.err" || { echo "$n: replay failed: $(cat $out/$n.err)"; continue; }
	$B/anonvma-replay -q $A "$t" -o "$out/$n.A.json" 2>>"$out/$n.err"
	$B/anonvma-replay -q $C "$t" -o "$out/$n.C.json" 2>>"$out/$n.err"
	$B/anonvma-replay -q $D "$t" -o "$out/$n.D.json" 2>>"$out/$n.err"
	python3 - "$n" "$out" <<'PY'
import json, sys
n, d = sys.argv[1], sys.argv[2]
def v(x):
    return {True: "pays", False: "does not", None: "undecided"}[x["lazy_pays_off"]]
def flips(x):
    s = x.get("sensitivity") or {}
    f = [(c["key"].split(".")[-1], c["flip_at"]) for c in s.get("constants", []) if c.get("flips")]
    txt = ", ".join("%s@%s" % (k, a) for k, a in f)
    if not f and x.get("robust") is False: txt = "corner only"
    return txt or "-"
r = json.load(open(f"{d}/{n}.def.json"))
vd = r["verdict"]
sav = r["savings"]["anon_rmap"]["percent"]
fm = vd["criteria"]["fork_mean"]
forks = fm.get("forks", fm.get("count", "?"))
row = [n, "%.1f %%" % sav, v(vd), {True: "yes", False: "NO", None: "-"}[vd.get("robust")], flips(vd)]
sw = []
for k in "ACD":
    s = json.load(open(f"{d}/{n}.{k}.json"))["sweep"]
    sw += [e["verdict"] for e in s]
pays = sum(1 for e in sw if e["lazy_pays_off"] is True)
rob = sum(1 for e in sw if e.get("robust") is True)
fl = sorted({flips(e) for e in sw if flips(e) != "-"})
row += ["%d/%d pay, %d robust" % (pays, len(sw), rob), "; ".join(fl) or "-"]
print("| " + " | ".join(map(str, row)) + " |")
PY
done
