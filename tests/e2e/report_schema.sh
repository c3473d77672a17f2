#!/usr/bin/env bash
# docs/report.schema.json against real reports: two synthesised scenarios and
# two workloads collected for real (BPF) are replayed, each report and the
# fleet report of all four must validate, and a report or fleet report that
# lacks a required key must not.  The fleet's additive keys (counts, lock,
# fork-cost and rmap-walk histograms, page tables) must be the sums of the
# hosts', its verdict and host counts agree with the hosts' own verdicts, and
# the text summary shows the verdict with its reasons.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d /tmp/anonvma-e2e-schema.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
schema=docs/report.schema.json

# The validator: python3 -m jsonschema's library (Debian python3-jsonschema,
# scripts/deps.sh); the first python3 on PATH that has it.
py=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import jsonschema' 2> /dev/null; then py=$p; break; fi
done
[ -n "$py" ] || fail "no python3 with the jsonschema module (make deps installs python3-jsonschema)"
cat > "$tmp/validate.py" <<'PY'
import json, sys
from jsonschema import validators
schema = json.load(open(sys.argv[1]))
cls = validators.validator_for(schema)
cls.check_schema(schema)          # the schema itself is a valid 2020-12 schema
v = cls(schema)
bad = 0
for path in sys.argv[2:]:
    errors = sorted(v.iter_errors(json.load(open(path))), key=lambda e: list(e.absolute_path))
    for e in errors[:5]:
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        print("%s: %s: %s" % (path, where, e.message), file=sys.stderr)
    bad |= bool(errors)
sys.exit(1 if bad else 0)
PY
validate() { "$py" "$tmp/validate.py" "$schema" "$@"; }

# two synthesised hosts
"$BUILD/anonvma-synth" configs/scenarios/prefork-server.yaml -o "$tmp/prefork.db" -q --scale 0.1 2> /dev/null
"$BUILD/anonvma-synth" configs/scenarios/android-boot.yaml -o "$tmp/android.db" -q --scale 0.2 2> /dev/null
for t in prefork android; do
	"$BUILD/anonvma-replay" -q "$tmp/$t.db" -o "$tmp/$t.json"
done
# two workloads collected for real, replayed with --validate (tests/workloads/run.sh)
tests/workloads/run.sh -b "$BUILD" -o "$tmp/real" pipeline vmops-forktree > "$tmp/real.log" 2>&1 ||
	fail "collecting the workloads: $(tail -3 "$tmp/real.log")"
reports=("$tmp/prefork.json" "$tmp/android.json" "$tmp/real/pipeline.json"
	 "$tmp/real/vmops-forktree.json")
validate "${reports[@]}" || fail "a replayed report does not match $schema"

# what the schema requires is really there (a vacuous schema would pass anything)
"$py" - "${reports[@]}" <<'PY' || fail "report contents"
import json, sys
for p in sys.argv[1:]:
    r = json.load(open(p))
    v = r["verdict"]
    # a collected trace with lost events is undecided (null), whatever its figures
    assert len(v["reasons"]) >= 5 and (isinstance(v["lazy_pays_off"], bool) or
                                      v["lazy_pays_off"] is None and v["undecided"]), p
    assert v["thresholds"]["min_saving_percent"] == 20, p   # the config default
    assert set(v["criteria"]) == {"saving", "lock_wait", "trylock_failed", "fork_mean", "fork_p99"}, p
    # every report of a replay with an arch re-judges under the cost ranges
    assert v["sensitivity"] is not None and "constants" in v["sensitivity"], p
    assert v["robust"] is None if v["lazy_pays_off"] is None else isinstance(v["robust"], bool), p
    assert r["trace"]["duration_ns"] > 0, p
    # the effective config: every key with its source; no unnamed operation anywhere
    c = r["config"]["keys"]
    assert c["lazy.mremap"]["from"] == "default" and c["verdict.min_saving_percent"]["value"] == 20, p
    assert all(not k.startswith("why_") for m in r["models"].values()
               for ops in m["allocs_by_operation"].values() for k in ops), p
    s = r["savings"]
    assert s["anon_rmap"]["eager_bytes_peak"] == (r["models"]["eager"]["anon_vma"]["bytes_peak"] +
                                                  r["models"]["eager"]["anon_vma_chain"]["bytes_peak"]), p
    assert s["mm_metadata"]["page_tables"] is True, p     # every trace here names its ISA
    if v["criteria"]["saving"]["state"] != "not_judged":
        assert abs(v["criteria"]["saving"]["lazy"] - s["anon_rmap"]["percent"]) < 1e-9, p
    # collected: the host's MemTotal; synthesised: the scenario's mem:
    assert s["host_ram"]["mem_bytes"] > 0 and s["host_ram"]["percent"] is not None, p
    assert s["host_ram"]["mem_bytes"] == r["trace"]["host"]["mem_bytes"], p
PY

# the fleet of all four
"$BUILD/anonvma-report" -o "$tmp/fleet.json" "${reports[@]}" > "$tmp/fleet.txt"
validate "$tmp/fleet.json" || fail "the fleet report does not match $schema"
"$py" - "$tmp/fleet.json" "${reports[@]}" <<'PY' || fail "fleet verdicts"
import json, sys
f = json.load(open(sys.argv[1]))
hosts = [json.load(open(p)) for p in sys.argv[2:]]
yes = sum(h["verdict"]["lazy_pays_off"] is True for h in hosts)
no = sum(h["verdict"]["lazy_pays_off"] is False for h in hosts)
assert f["verdicts"] == {"pays_off": yes, "does_not": no, "no_verdict": len(hosts) - yes - no}, f["verdicts"]
assert f["verdict"]["sensitivity"] is None and f["verdict"]["robust"] is None  # not re-judged
assert f["trace"]["mem_bytes"] == sum(h["trace"]["host"]["mem_bytes"] for h in hosts)
e = sum(h["savings"]["anon_rmap"]["eager_bytes_peak"] for h in hosts)
l = sum(h["savings"]["anon_rmap"]["lazy_bytes_peak"] for h in hosts)
assert f["savings"]["anon_rmap"]["eager_bytes_peak"] == e
assert abs(f["verdict"]["criteria"]["saving"]["lazy"] - 100.0 * (e - l) / e) < 1e-9
for m in f["models"].values():
    assert "series" not in m                    # series are not merged
# additive keys of the fleet = the sums over the hosts, sections merged by their owners
def total(path):
    out = 0
    for h in hosts:
        o = h
        for k in path.split("."):
            o = o[k]
        out += o
    return out
def fleet(path):
    o = f
    for k in path.split("."):
        o = o[k]
    return o
for m in ("eager", "lazy"):
    for key in ("anon_vma.allocs", "anon_vma_chain.live_peak", "vm_area_struct.frees",
                "bytes_peak_total", "page_tables.bytes_peak", "fork_cost.forks",
                "fork_cost.total.count", "fork_cost.total.total_ns", "rmap_walks.walks",
                "locks.anon_vma_rwsem.write.hold.count",
                "locks.anon_vma_rwsem.write.hold.total_ns", "locks.mmap_lock.read.hold.total_ns"):
        p = "models.%s.%s" % (m, key)
        assert fleet(p) == total(p), (p, fleet(p), total(p))
    p = "models.%s.fork_cost.total.max_ns" % m
    assert fleet(p) == max(h["models"][m]["fork_cost"]["total"]["max_ns"] for h in hosts), p
assert len(f["top_processes"]) == 10 and all("host" in t for t in f["top_processes"])
best = max(t["saving_bytes"] for h in hosts for t in h["top_processes"])
assert f["top_processes"][0]["saving_bytes"] == best
PY
grep -q "^verdict (fleet totals): \(lazy \|undecided\)" "$tmp/fleet.txt" || fail "fleet summary has no verdict"
grep -q "^hosts where lazy pays off: " "$tmp/fleet.txt" || fail "fleet summary has no host counts"

# the text summary of a real report: savings in context and the verdict with its reasons
"$BUILD/anonvma-report" "$tmp/real/vmops-forktree.json" > "$tmp/one.txt"
grep -q "^anon rmap (anon_vma + anon_vma_chain) at peak: eager " "$tmp/one.txt" ||
	fail "summary: no anon rmap saving"
grep -q "^host RAM: the saving at the peak (.*) is .* of " "$tmp/one.txt" || fail "summary: host RAM"
grep -q "^verdict: \(lazy pays off\|lazy does not pay off\|undecided .*\)$" "$tmp/one.txt" ||
	fail "summary: verdict"
[ "$(grep -c '^  - .* \(passes\|FAILS\|not judged\)' "$tmp/one.txt")" -eq 5 ] ||
	fail "summary: not 5 criteria"
grep -q "^robustness: " "$tmp/one.txt" || fail "summary: robustness"

# --check-rmap adds the completeness keys (docs/report.md "rmap completeness"):
# valid, and a malformed first_missed is not
"$BUILD/anonvma-replay" -q --check-rmap --set pressure.page_idle_sweep_s=0.1 "$tmp/prefork.db" \
	-o "$tmp/rmap.json"
validate "$tmp/rmap.json" || fail "a --check-rmap report does not match $schema"
"$py" - "$tmp/rmap.json" "$tmp/badrmap.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
w = r["models"]["eager"]["rmap_walks"]
assert w["checked_walks"] > 0 and w["missed"] == 0, w
w["first_missed"] = {"seq": 1}
json.dump(r, open(sys.argv[2], "w"))
PY
if validate "$tmp/badrmap.json" 2> /dev/null; then
	fail "a report with a malformed first_missed validates"
fi

# a missing required key fails validation: one report, and one fleet report
drop() { # in out dotted.key
	"$py" - "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
*path, last = sys.argv[3].split(".")
o = r
for k in path:
    o = o[int(k)] if isinstance(o, list) else o[k]
del o[last]
json.dump(r, open(sys.argv[2], "w"))
PY
}
for key in config config.keys verdict verdict.reasons top_processes savings.anon_rmap savings.host_ram.mem_bytes trace.events \
	   models.lazy.bytes_peak_total models.eager.rmap_walks.hold; do
	drop "$tmp/prefork.json" "$tmp/bad.json" "$key"
	if validate "$tmp/bad.json" 2> "$tmp/err"; then
		fail "a report without $key validates"
	fi
done
grep -q "'hold' is a required property" "$tmp/err" || fail "validator message: $(cat "$tmp/err")"
for key in verdicts top_processes host_list.0.lazy_pays_off trace.mem_bytes savings.mm_metadata.page_tables; do
	drop "$tmp/fleet.json" "$tmp/badfleet.json" "$key"
	if validate "$tmp/badfleet.json" 2> /dev/null; then
		fail "a fleet report without $key validates"
	fi
done
echo "report_schema: ok"
