#!/usr/bin/env bash
# anonvma-report end to end: summary of one report, fleet view of two, the
# fleet JSON, and one clear line + non-zero exit for every bad input.
# The reports are written here by hand (two hosts, eager and lazy), so the
# expected fleet figures can be checked by arithmetic.
set -euo pipefail
BUILD=${BUILD:-build}
bin="$BUILD/anonvma-report"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# host a: eager peak 6000 B, lazy 5100 B (15 % saved); host b: 12000 vs 12000 (0 %)
report() { # name kernel eager_peak lazy_peak av_allocs
	local kinds=""
	cat > "$tmp/$1" <<JSON
{ "schema": "anonvma-report/2",
  "trace": { "file": "$1.db", "events": 1000, "lost_events": 1, "complete": true,
             "host": { "kernel_release": "$2", "arch": "x86_64", "cpus": 2 } },
  "models": {
    "eager": {
      "anon_vma":       { "allocs": $5, "frees": 0, "live_end": $5, "live_peak": $5, "bytes_peak": 104, "bytes_end": 104, "preexisting": 0, "object_size": 104 },
      "anon_vma_chain": { "allocs": 1, "frees": 0, "live_end": 1, "live_peak": 1, "bytes_peak": 64, "bytes_end": 64, "preexisting": 0, "object_size": 64 },
      "vm_area_struct": { "allocs": 1, "frees": 0, "live_end": 1, "live_peak": 1, "bytes_peak": 192, "bytes_end": 192, "preexisting": 0, "object_size": 192 },
      "allocs_by_operation": { "anon_vma": { "fault": $5 } },
      "bytes_peak_total": $3, "bytes_end_total": $3 },
    "lazy": {
      "anon_vma":       { "allocs": 0, "frees": 0, "live_end": 0, "live_peak": 0, "bytes_peak": 0, "bytes_end": 0, "preexisting": 0, "object_size": 104 },
      "anon_vma_chain": { "allocs": 0, "frees": 0, "live_end": 0, "live_peak": 0, "bytes_peak": 0, "bytes_end": 0, "preexisting": 0, "object_size": 64 },
      "vm_area_struct": { "allocs": 1, "frees": 0, "live_end": 1, "live_peak": 1, "bytes_peak": 192, "bytes_end": 192, "preexisting": 0, "object_size": 192 },
      "bytes_peak_total": $4, "bytes_end_total": $4, "upgrades": 2, "folio_rewrites": 7, "pinned_vmas_peak": 0 } },
  "savings": { "total": { "peak": { "bytes": $(( $3 - $4 )), "percent": $(( ($3 - $4) * 100 / $3 )) } } } }
JSON
}
report a.json 6.18.44 6000 5100 3
report b.json 6.1.0 12000 12000 5

# one report: text summary
"$bin" "$tmp/a.json" > "$tmp/one.txt"
grep -q "anonvma report: a.json.db, 1000 events, 1 lost" "$tmp/one.txt" || fail "summary header"
grep -q "^eager" "$tmp/one.txt" && grep -q "^lazy" "$tmp/one.txt" || fail "summary models"
grep -q "2 upgrades, 7 folio rewrites" "$tmp/one.txt" || fail "lazy figures"

# two reports: fleet view, and its JSON with the sums
"$bin" "$tmp/a.json" "$tmp/b.json" -o "$tmp/fleet.json" > "$tmp/fleet.txt"
grep -q "anonvma fleet: 2 hosts, 2000 events, 2 lost" "$tmp/fleet.txt" || fail "fleet header"
grep -q "min 0.0 %, median 7.5 % (+-0.05), mean 7.5 %, max 15.0 %" "$tmp/fleet.txt" || fail "fleet distribution"
python3 - "$tmp/fleet.json" <<'PY' || fail "fleet json"
import json, sys
f = json.load(open(sys.argv[1]))
assert f["schema"] == "anonvma-fleet/3"
assert f["hosts"] == 2
assert f["models"]["eager"]["anon_vma"]["allocs"] == 8
assert f["models"]["eager"]["allocs_by_operation"]["anon_vma"]["fault"] == 8
assert f["models"]["eager"]["bytes_peak_total"] == 18000
assert f["models"]["lazy"]["upgrades"] == 4
assert f["savings"]["total"]["peak"]["bytes"] == 900
assert f["savings"]["total"]["peak"]["percent"] == 5.0
PY
# the fleet file is itself readable
"$bin" "$tmp/fleet.json" > "$tmp/fleet.txt" || fail "fleet file summary failed"
grep -q "anonvma fleet: 2 hosts" "$tmp/fleet.txt" || fail "fleet file summary"
"$bin" --json "$tmp/a.json" | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "--json"
"$bin" --help > "$tmp/help.txt" && grep -q "usage: anonvma-report" "$tmp/help.txt" || fail "--help"

# bad input: one line on stderr, non-zero exit, nothing on stdout
expect_error() { # want_status want_text args...
	local want=$1 text=$2 st=0
	shift 2
	"$bin" "$@" > "$tmp/out" 2> "$tmp/err" || st=$?
	[ "$st" -eq "$want" ] || fail "$* exited $st, want $want"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$*: stderr is not one line: $(cat "$tmp/err")"
	grep -q -- "$text" "$tmp/err" || fail "$*: '$(cat "$tmp/err")' lacks '$text'"
	[ ! -s "$tmp/out" ] || fail "$*: printed something on stdout"
}
printf '{"schema": "anonvma-report/1",\n  "trace": {' > "$tmp/cut.json"
expect_error 1 "cut.json:2: not valid JSON" "$tmp/cut.json"
echo '{"schema": "anonvma-report/9"}' > "$tmp/v9.json"
expect_error 1 "v9.json: schema anonvma-report/9" "$tmp/v9.json"
python3 - "$tmp/a.json" "$tmp/eager.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); del r["models"]["lazy"]; del r["savings"]
r["trace"]["id"] = "eager-only"  # another trace: a second report of a.json's would be skipped
json.dump(r, open(sys.argv[2], "w"))
PY
expect_error 1 "eager.json: replayed models differ" "$tmp/a.json" "$tmp/eager.json"
expect_error 1 "missing.json: No such file" "$tmp/a.json" "$tmp/missing.json"
expect_error 2 "unknown option '--frobnicate'" --frobnicate "$tmp/a.json"
expect_error 2 "no report given"
[ ! -e "$tmp/fleet2.json" ] || fail "fleet2 exists"
expect_error 1 "replayed models differ" -o "$tmp/fleet2.json" "$tmp/a.json" "$tmp/eager.json"
[ ! -e "$tmp/fleet2.json" ] || fail "a failed merge left a fleet file"
# hosts judged with different verdict thresholds cannot share a fleet verdict
python3 - "$tmp/a.json" "$tmp/va.json" "$tmp/vb.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def verdict(fork):
    return {"lazy_pays_off": False, "reasons": ["a", "b", "c"], "not_judged": [], "figures": {},
            "thresholds": {"min_saving_percent": 20, "max_lock_wait_regression_percent": 10,
                           "lock_wait_floor_ns_per_s": 1000, "trylock_floor_per_s": 1,
                           "max_fork_cost_regression_percent": fork, "fork_cost_floor_ns": 1000,
                           "min_forks_mean": 10, "min_forks_p99": 100, "max_lost_share": 0,
                           "max_skipped_share": 0}}
r["verdict"] = verdict(10); r["trace"]["id"] = "va"; json.dump(r, open(sys.argv[2], "w"))
r["verdict"] = verdict(5); r["trace"]["id"] = "vb"; json.dump(r, open(sys.argv[3], "w"))
PY
expect_error 1 "vb.json: verdict threshold max_fork_cost_regression_percent is 5, .*va.json's is 10" \
	"$tmp/va.json" "$tmp/vb.json"
# a second report of one trace with another config is skipped (one warning), not refused
"$bin" "$tmp/va.json" "$tmp/va.json" > /dev/null 2> "$tmp/dup.err" || fail "a duplicate was refused"
grep -q "warning: .*va.json is a report of the same trace as .*va.json (trace id va): counted once" "$tmp/dup.err" ||
	fail "duplicate warning: $(cat "$tmp/dup.err")"
# a top_processes entry without its saving
python3 - "$tmp/a.json" "$tmp/tp.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["top_processes"] = [{"pid": 1}]
r["trace"]["id"] = "tp"  # another trace (a second report of a.json's trace is skipped)
json.dump(r, open(sys.argv[2], "w"))
PY
expect_error 1 "tp.json: top_processes\[0\].saving_bytes missing" "$tmp/a.json" "$tmp/tp.json"
# the fleet of the hand-made hosts: verdict counts (no host has a verdict) and a fleet verdict
"$bin" --json "$tmp/a.json" "$tmp/b.json" | python3 -c '
import json, sys
f = json.load(sys.stdin)
assert f["verdicts"] == {"pays_off": 0, "does_not": 0, "no_verdict": 2}, f["verdicts"]
assert f["verdict"]["thresholds"]["min_saving_percent"] == 20      # the config default
assert "lock_wait" in f["verdict"]["not_judged"]  # no locks blocks
assert f["verdict"]["lazy_pays_off"] is None      # 2 lost events of 2000: undecided
' || fail "fleet verdict of reports without one"
# an anonvma-report/1 report still prints, and says in one line what it cannot show; it does not merge
sed 's#"anonvma-report/2"#"anonvma-report/1"#' "$tmp/a.json" > "$tmp/old.json"
"$bin" "$tmp/old.json" > "$tmp/old.txt" || fail "a /1 report does not print"
[ "$(grep -c "^note: an anonvma-report/1 report cannot show lock waiting" "$tmp/old.txt")" -eq 1 ] ||
	fail "the /1 note: $(cat "$tmp/old.txt")"
expect_error 1 "old.json: an anonvma-report/1 report: .*replay its trace again" "$tmp/a.json" "$tmp/old.json"
echo "report_cli: ok"
