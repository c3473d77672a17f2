#!/usr/bin/env bash
# The verdict's sensitivity on a synthesised trace (docs/verdict.md): with
# the shipped x86_64 costs the android-24-apps scenario pays off and
# folio_rewrite_ns (range 2..40) flips it.  Where it flips is checked by hand:
# lazy's mean anon rmap cost per fork is linear in folio_rewrite_ns (every
# rewrite inside a fork adds that cost once) and eager's does not depend on
# it, so two replays at 10 and 20 ns give the line, and the fork criterion
# fails where lazy's mean exceeds eager's by 10 % (the floor of 1 us is far
# below that difference here).  The bisected flip_at must be within 1.5 ns
# of that point.  Also: --set errors are one line naming the option, and
# --sweep replays every combination in one read, sharing the eager world.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d /tmp/anonvma-e2e-sens.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BUILD/anonvma-synth" configs/scenarios/android-24-apps.yaml -o "$tmp/a.db" -q
"$BUILD/anonvma-replay" -q --arch x86_64-4level "$tmp/a.db" -o "$tmp/base.json"
for f in 10 20; do
	sed -e "s/folio_rewrite_ns: {value: 15,/folio_rewrite_ns: {value: $f,/" \
	    -e "s/^name: x86_64-4level/name: rw$f/" configs/arch/x86_64-4level.yaml > "$tmp/rw$f.yaml"
	"$BUILD/anonvma-replay" -q --arch "$tmp/rw$f.yaml" "$tmp/a.db" -o "$tmp/rw$f.json"
done
python3 - "$tmp" <<'PY' || fail "sensitivity flip point"
import json, sys
d = sys.argv[1]
base = json.load(open(d + "/base.json"))
v = base["verdict"]
assert v["lazy_pays_off"] is True, v["reasons"]
s = v["sensitivity"]
assert v["robust"] is False, "folio_rewrite_ns should flip the verdict within 2..40"
assert "rmap.folio_rewrite_ns" in s["flipping"], s["flipping"]
c = [x for x in s["constants"] if x["key"] == "rmap.folio_rewrite_ns"][0]
assert c["low"] == 2 and c["high"] == 40 and c["at_high"] is False and c["at_low"] is True, c
mean = lambda r, m: r["verdict"]["criteria"]["fork_mean"][m]
r10, r20 = json.load(open(d + "/rw10.json")), json.load(open(d + "/rw20.json"))
eager = mean(r10, "eager")
assert eager == mean(r20, "eager")          # eager does not rewrite folios
slope = (mean(r20, "lazy") - mean(r10, "lazy")) / 10
assert slope > 0
flip = 10 + (1.10 * eager - mean(r10, "lazy")) / slope
assert abs(c["flip_at"] - flip) <= 1.5, (c["flip_at"], flip)
print("flip_at %s, by hand %.2f" % (c["flip_at"], flip))
# the summary names it
PY
"$BUILD/anonvma-report" "$tmp/base.json" > "$tmp/sum.txt"
grep -q "^robustness: NOT robust" "$tmp/sum.txt" || fail "summary robustness line"
grep -q "rmap.folio_rewrite_ns flips it at" "$tmp/sum.txt" || fail "summary flip line"

# --set: bad key or value, one line naming the option, exit 2, no report
for bad in "lazy.nothing=1:unknown config key 'lazy.nothing'" \
	   "lazy.mremap=bogus:'lazy.mremap' must be one of upgrade, rebase" \
	   "novalue:is not KEY=VALUE"; do
	arg=${bad%%:*} want=${bad#*:} st=0
	"$BUILD/anonvma-replay" -q --set "$arg" "$tmp/a.db" -o "$tmp/x.json" 2> "$tmp/err" || st=$?
	[ "$st" -eq 2 ] || fail "--set $arg exited $st"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "--set $arg: $(cat "$tmp/err")"
	grep -q -- "--set.*$want" "$tmp/err" || fail "--set $arg: $(cat "$tmp/err")"
	[ ! -e "$tmp/x.json" ] || fail "--set $arg wrote a report"
done
# a good --set lands in the verdict's thresholds
"$BUILD/anonvma-replay" -q --set verdict.min_forks_mean=50 "$tmp/a.db" -o "$tmp/s.json"
python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))["verdict"]
assert v["thresholds"]["min_forks_mean"] == 50
assert v["criteria"]["fork_mean"]["state"] == "not_judged"   # 34 forks < 50
' "$tmp/s.json" || fail "--set verdict.min_forks_mean"

# --sweep: every combination in one read, worlds shared where no swept key touches them
"$BUILD/anonvma-synth" configs/scenarios/prefork-server.yaml -o "$tmp/p.db" -q
"$BUILD/anonvma-replay" -q --sweep lazy.mremap=upgrade,rebase --sweep lazy.pin=until_last_folio,none \
	"$tmp/p.db" -o "$tmp/sw.json" > /dev/null
"$BUILD/anonvma-replay" -q --set lazy.mremap=rebase --set lazy.pin=none "$tmp/p.db" -o "$tmp/one.json"
"$BUILD/anonvma-replay" -q --sweep verdict.min_saving_percent=20,90 "$tmp/p.db" -o "$tmp/sv.json"
python3 - "$tmp" <<'PY' || fail "--sweep"
import json, sys
d = sys.argv[1]
sw, one, sv = (json.load(open(d + f)) for f in ("/sw.json", "/one.json", "/sv.json"))
s = sw["sweep"]
# one eager and one cowctx world (no lazy.* key touches them), four lazy ones
assert len(s) == 4 and sw["sweep_worlds"] == 6, (len(s), sw["sweep_worlds"])
assert [e["config"] for e in s] == [
    {"lazy.mremap": m, "lazy.pin": p} for m in ("upgrade", "rebase")
    for p in ("until_last_folio", "none")]
assert s[0]["verdict"] == sw["verdict"] and s[0]["savings"] == sw["savings"]
# the last combination is what a replay with the same --set gives
assert s[3]["savings"] == one["savings"], "sweep entry differs from a --set replay"
assert s[3]["verdict"]["lazy_pays_off"] == one["verdict"]["lazy_pays_off"]
# verdict.* keys re-judge the same worlds (eager, lazy, cowctx)
assert sv["sweep_worlds"] == 3
assert sv["sweep"][0]["verdict"]["lazy_pays_off"] is True
assert sv["sweep"][1]["verdict"]["lazy_pays_off"] is False   # a 90 % saving is not reached
PY
"$BUILD/anonvma-report" "$tmp/sw.json" > "$tmp/sw.txt"
grep -q "^sweep: 4 combinations in one read of the trace (6 worlds)" "$tmp/sw.txt" ||
	fail "sweep table in the summary"
st=0
"$BUILD/anonvma-replay" -q --sweep lazy.mremap=upgrade,rebase --sweep lazy.pin=until_last_folio,none \
	--sweep lazy.cow_owner=child_root,parent_av --sweep lazy.walk_lock=rcu,vma_read,mmap_trylock \
	"$tmp/p.db" -o "$tmp/cap.json" 2> "$tmp/err" || st=$?
[ "$st" -eq 2 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -q "24 combinations, at most 16" "$tmp/err" ||
	fail "sweep cap: $st $(cat "$tmp/err")"
[ ! -e "$tmp/cap.json" ] || fail "a refused sweep wrote a report"
echo "verdict_sensitivity: ok"
