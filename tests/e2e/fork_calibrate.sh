#!/usr/bin/env bash
# Fork costs measured, not only estimated (docs/arch.md, "Fork latencies"):
# collect tests/progs/forkcal (150 forks whose VMAs, AVCs, PTEs and page-table
# pages vary independently, then a vfork whose child sleeps 100 ms) with
# anonvma-collect, and calibrate on it:
#   - every fork of the program has a measured latency (FORK e > 0);
#   - the vfork's latency ends when the child is made (sched_process_fork),
#     not when the parent resumes: far below the child's 100 ms;
#   - --calibrate prints the fit (forks, R^2, residuals, every term with its
#     +-2 sigma range) and the rule's verdict; on this workload it accepts,
#     and the fitted per-PTE cost lies in a plausible band (below), whether or
#     not the rule accepts the fit as a whole (the output, YAML and report
#     must agree with its decision);
#   - the calibrated YAML takes pte_copy_ns from the fork fit, the report's
#     costs block says which constants were fitted and which are estimates;
#   - a version-1 trace (no latencies) is refused with that reason.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
db=$tmp/fc.db

"$BUILD/anonvma-collect" -o "$db" -- "$BUILD/progs/forkcal" 150 > "$tmp/collect.out" 2> "$tmp/collect.err" ||
	fail "collect: $(cat "$tmp/collect.err")"
q() { sqlite3 -batch -noheader "$db" "$1"; }
pid=$(q "SELECT pid FROM event_view WHERE kind = 1 GROUP BY pid ORDER BY count(*) DESC LIMIT 1")
forks=$(q "SELECT count(*) FROM event_view WHERE kind = 1 AND pid = $pid")
[ "$forks" -eq 151 ] || fail "expected 151 forks of forkcal, got $forks"
[ "$(q "SELECT count(*) FROM event_view WHERE kind = 1 AND pid = $pid AND e <= 0")" -eq 0 ] ||
	fail "a fork without a measured latency"
# vfork: CLONE_VFORK (0x4000); the child sleeps 100 ms before _exit.  A latency
# to the syscall's exit would be >= 100 ms; the fork itself takes microseconds
# (20 ms allows for a loaded host switching the parent out meanwhile).
vf=$(q "SELECT e FROM event_view WHERE kind = 1 AND pid = $pid AND (c & 16384) != 0")
[ -n "$vf" ] || fail "no vfork in the trace"
[ "$vf" -lt 20000000 ] || fail "vfork latency $vf ns includes the child's 100 ms sleep"
echo "  151 forks measured; vfork latency $vf ns (child slept 100 ms)"
q "SELECT e FROM event_view WHERE kind = 1 AND pid = $pid AND f = 0 ORDER BY e" > "$tmp/lat"
echo "  latencies of forks that ran throughout (ns): n $(wc -l < "$tmp/lat"), min $(head -1 "$tmp/lat")," \
     "median $(sed -n "$(( ($(wc -l < "$tmp/lat") + 1) / 2 ))p" "$tmp/lat"), max $(tail -1 "$tmp/lat")"

"$BUILD/anonvma-replay" --calibrate "$tmp/cal.yaml" "$db" -o "$tmp/r.json" > "$tmp/out" ||
	fail "replay --calibrate failed"
sed -n '/^fork latencies:/,$p' "$tmp/out"
grep -q '^fork latencies: [0-9]* forks, [0-9]* used .*R^2 [0-9.]*, |residual| median' "$tmp/out" ||
	fail "no fit summary in the calibrate output"
grep -q '^  per PTE copied .* +-2s \[' "$tmp/out" || fail "no per-PTE range"
# The rule decides on the data: on a loaded 2-CPU VM the per-fork base term
# sometimes comes out negative beyond its 2-sigma range (the counts do not
# explain the latencies), and then nothing may be replaced.  Either way the
# output, the YAML and the report must agree with the rule's decision.
if grep -q '^  fit accepted, replaced: fork.pte_copy_ns' "$tmp/out"; then
	accepted=1
	grep -q '^  pte_copy_ns: [0-9]*  # \[fit\] fork latencies, [0-9]* forks, R^2' "$tmp/cal.yaml" ||
		fail "pte_copy_ns not taken from the fork fit: $(grep pte_copy_ns "$tmp/cal.yaml")"
else
	accepted=0
	grep -q '^  fit refused, fork costs not replaced: ' "$tmp/out" ||
		fail "neither accepted nor refused with a reason: $(cat "$tmp/out")"
	grep -q '^# Fork latencies: fit refused' "$tmp/cal.yaml" || fail "the YAML does not say the fit was refused"
	if grep -q '^  pte_copy_ns: [0-9]*  # \[fit\] fork latencies' "$tmp/cal.yaml"; then
		fail "a refused fit replaced pte_copy_ns"
	fi
	echo "  (the rule refused this fit: $(grep '^  fit refused' "$tmp/out" | sed 's/^  //'))"
fi
grep -q '^  folio_rewrite_ns: .*\[estimate\]' "$tmp/cal.yaml" || fail "folio_rewrite_ns not an estimate"
"$BUILD/anonvma-replay" -q --arch "$tmp/cal.yaml" "$db" -o "$tmp/r2.json" ||
	fail "the calibrated arch does not load"

python3 - "$tmp/r.json" "$accepted" <<'PY' || fail "costs block"
import json, sys
r = json.load(open(sys.argv[1]))
accepted = sys.argv[2] == "1"
c = r["costs"]
ff = c["fork_fit"]
if accepted:
    assert ff["accepted"] is True and ff["why"] is None, ff
    assert ff["used"] >= 20 and ff["r2"] >= 0.5, ff
else:
    assert ff["accepted"] is False and ff["why"], ff
    assert ff["used"] >= 20, ff
pte = ff["terms"]["pte"]
# Plausible band for copy_present_ptes per 4 KiB PTE of a small anon folio:
# read the entry, take a folio reference and a mapcount (two atomics),
# write-protect the parent's entry and write the child's.  Bare metal does it
# in ~10-50 ns (the shipped 49 ns: Redis, 13 ms per GB forked).  This host is
# a 2-CPU VM shared with other builds, where memory-bound work slows with the
# load: measured 68 ns at load average 7 up to 171 ns at 18 (docs/arch.md), so
# the band allows 8x the bare-metal figure.  Below 5 ns would mean the model's
# PTE counts are wrong (a batch per folio, not per PTE); above 400 ns that the
# fit charges PTEs with work they do not cause.
assert 5 <= pte["value"] <= 400, pte
assert 0 < pte["low"] < pte["value"] < pte["high"] and pte["resolved"] is True, pte
k = c["constants"]
if accepted:
    assert k["fork.pte_copy_ns"]["source"] == "fitted", k["fork.pte_copy_ns"]
    assert k["fork.pte_copy_ns"]["from"] == "fork_latencies", k["fork.pte_copy_ns"]
    assert k["fork.pte_copy_ns"]["n"] == ff["used"]
    # a term is written only where resolved (its +-2 sigma range above 0)
    for term, key in (("avc", "rmap.avc_alloc_ns"), ("table", "fork.table_ns")):
        t = ff["terms"][term]
        assert t["resolved"] == (t["low"] > 0), (term, t)
        assert (k[key]["from"] == "fork_latencies") == t["resolved"], (term, t, k[key])
else:
    # nothing comes from a refused fit
    for key in ("fork.pte_copy_ns", "fork.table_ns", "rmap.avc_alloc_ns"):
        assert k[key].get("from") != "fork_latencies", (key, k[key])
for est in ("rmap.folio_rewrite_ns", "rmap.vma_lookup_ns", "rmap.rmap_vma_ns"):
    assert k[est]["source"] == "estimate", (est, k[est])
print("  per-PTE %.1f ns [%.1f, %.1f], R^2 %.3f over %d forks" %
      (pte["value"], pte["low"], pte["high"], ff["r2"], ff["used"]))
PY

# a version-1 trace has no latencies: said so, nothing fitted from zeros
"$BUILD/anonvma-replay" --calibrate "$tmp/cal1.yaml" tests/traces/v1.db -o "$tmp/r1.json" \
	> "$tmp/out1" || fail "replay --calibrate of v1.db failed"
grep -q 'fork latencies: fit refused, fork costs not replaced: the trace (schema version 1) has no fork latencies' \
	"$tmp/out1" || fail "v1 trace: $(grep 'fork latencies' "$tmp/out1")"
grep -q '^# Fork latencies: fit refused' "$tmp/cal1.yaml" || fail "v1 trace: YAML does not say why"
python3 -c "
import json, sys
f = json.load(open('$tmp/r1.json'))['costs']['fork_fit']
assert f['accepted'] is False and f['forks'] == 0 and 'no fork latencies' in f['why'], f
" || fail "v1 trace: costs block"
