#!/usr/bin/env bash
# anonvma-report as a fleet tool, end to end on real replayed reports: a
# directory and an @list as inputs, a second report of one trace counted once
# (with a warning), sites merged and then the sites merged (equal to merging
# every host), --jsonl queried with the sqlite3 example of docs/report.md (run
# as the docs print it), --diff of two configs of one trace and of two traces
# (text and -o JSON), --redact leaving no hostname or folder in any output.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin="$(cd "$BUILD" && pwd)/anonvma-report"
tmp=$(mktemp -d /tmp/anonvma-e2e-fleet.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# two real replays of one synthesised trace (two configs), then 6 "hosts":
# copies with their own trace id, hostname and a process with comm and exe
"$BUILD/anonvma-synth" configs/scenarios/prefork-server.yaml -o "$tmp/p.db" -q --scale 0.1 2> /dev/null
"$BUILD/anonvma-replay" -q "$tmp/p.db" -o "$tmp/base.json"
"$BUILD/anonvma-replay" -q "$tmp/p.db" --set lazy.mremap=rebase -o "$tmp/rebase.json"
mkdir "$tmp/site1" "$tmp/site2"
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
base = json.load(open(d + "/base.json"))
for h in range(6):
    r = json.loads(json.dumps(base))
    r["trace"]["id"] = "00000000-0000-4000-8000-00000000000%d" % h
    r["trace"]["hostname"] = "db%02d.secret-corp.example" % h
    # vary the figures so the hosts differ: lazy keeps h x 1 KiB more
    r["models"]["lazy"]["bytes_peak_total"] += 1024 * h
    r["top_processes"][0].update(comm="postgres", exe="/opt/secret-corp/bin/postgres")
    site = "site1" if h < 3 else "site2"
    json.dump(r, open("%s/%s/h%d.json" % (d, site, h), "w"))
PY
cp "$tmp/site1/h0.json" "$tmp/site1/h0-again.json"

# a directory: 3 hosts, the copy counted once with one warning line naming both files
"$bin" --merge -o "$tmp/site1.json" "$tmp/site1" > "$tmp/site1.txt" 2> "$tmp/site1.err"
grep -q "^anonvma fleet: 3 hosts" "$tmp/site1.txt" || fail "site1: not 3 hosts: $(head -1 "$tmp/site1.txt")"
grep -q "warning: .*/h0.json is a report of the same trace as .*/h0-again.json (trace id 00000000-0000-4000-8000-000000000000): counted once" \
	"$tmp/site1.err" || fail "no duplicate warning: $(cat "$tmp/site1.err")"
grep -q "^db00.secret-corp.example " "$tmp/site1.txt" || fail "hosts not labelled by hostname"
grep -q "pid [0-9]* *postgres .*/opt/secret-corp/bin/postgres, host db0" "$tmp/site1.txt" ||
	fail "top processes without comm/exe/host"
# an @list: site2's hosts
ls "$tmp"/site2/*.json > "$tmp/site2.list"
"$bin" -o "$tmp/site2.json" "@$tmp/site2.list" > /dev/null
# the fleet of the two sites equals the fleet of the six hosts
"$bin" -o "$tmp/tree.json" "$tmp/site1.json" "$tmp/site2.json" > "$tmp/tree.txt"
"$bin" -o "$tmp/all.json" "$tmp"/site1/*.json "$tmp"/site2/*.json > /dev/null 2>&1
python3 - "$tmp/tree.json" "$tmp/all.json" <<'PY' || fail "merge of merges differs from merge of all"
import json, sys
t, a = (json.load(open(p)) for p in sys.argv[1:])
def close(x, y, path=""):
    if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
        assert abs(x - y) <= 1e-9 * max(1, abs(x)), (path, x, y)
    elif isinstance(x, dict):
        assert list(x) == list(y), (path, list(x), list(y))
        for k in x: close(x[k], y[k], path + "." + k)
    elif isinstance(x, list):
        assert len(x) == len(y), (path, len(x), len(y))
        for i, (p, q) in enumerate(zip(x, y)): close(p, q, "%s[%d]" % (path, i))
    else:
        assert x == y, (path, x, y)
# host_list names each host by its report file: the same files either way
close(t, a)
assert t["hosts"] == 6 and t["duplicates"] == 1 and len(t["trace_ids"]) == 6
assert t["savings_distribution"]["hosts"] == 6
PY
# a site merged twice would count its hosts twice: refused in one line, nothing written
if "$bin" -o "$tmp/twice.json" "$tmp/site1.json" "$tmp/site1.json" 2> "$tmp/twice.err" > /dev/null; then
	fail "a fleet merged twice was accepted"
fi
grep -q "site1.json: holds trace .*, already merged from .*site1.json" "$tmp/twice.err" || fail "twice: $(cat "$tmp/twice.err")"
[ ! -e "$tmp/twice.json" ] || fail "a refused merge wrote its output"

# --jsonl: one flat line per host; the docs' sqlite3 example runs as printed
"$bin" --merge --jsonl "$tmp/hosts.jsonl" "$tmp/site1" "$tmp/site2" > /dev/null 2>&1
[ "$(wc -l < "$tmp/hosts.jsonl")" -eq 6 ] || fail "jsonl: not 6 lines"
sed -n '/^<!-- sqlite3-example -->$/,/^<!-- end -->$/p' docs/report.md | sed -n '/^```sh$/,/^```$/p' |
	sed '1d;$d' > "$tmp/example.sh"
[ -s "$tmp/example.sh" ] || fail "docs/report.md has no sqlite3 example block"
mkdir "$tmp/ex" && cp -r "$tmp/site1" "$tmp/ex/reports" && cp "$tmp"/site2/*.json "$tmp/ex/reports/"
(cd "$tmp/ex" && PATH="$(dirname "$bin"):$PATH" bash -e "$tmp/example.sh") > "$tmp/ex.out" 2> "$tmp/ex.err" ||
	fail "the docs' sqlite3 example failed: $(cat "$tmp/ex.err")"
# its first query lists the 6 hosts, best saving first; its second counts them
[ "$(grep -c '^db0[0-5].secret-corp.example|' "$tmp/ex.out")" -eq 6 ] || fail "example output: $(cat "$tmp/ex.out")"
head -1 "$tmp/ex.out" | grep -q '^db00.secret-corp.example|' || fail "example: best host first: $(head -1 "$tmp/ex.out")"
grep -q '^6|6|' "$tmp/ex.out" || fail "example: fleet line: $(cat "$tmp/ex.out")"

# --diff: one trace, two configs; two traces (a warning); -o writes the JSON
"$bin" --diff "$tmp/base.json" "$tmp/rebase.json" -o "$tmp/diff.json" > "$tmp/diff.txt"
grep -q "^same trace" "$tmp/diff.txt" || fail "diff: same trace not said"
grep -q "^models.lazy.upgrades  *[0-9]*  *[0-9]*  *-[0-9]*  *-[0-9.]*%$" "$tmp/diff.txt" || fail "diff: no upgrades delta"
python3 - "$tmp/diff.json" <<'PY' || fail "diff json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "anonvma-diff/1" and d["same_trace"] is True
c = {x["key"]: x for x in d["changed"]}
assert c["models.lazy.policies.mremap"]["a"] == "upgrade" and c["models.lazy.policies.mremap"]["b"] == "rebase"
u = c["models.lazy.upgrades"]
assert u["delta"] == u["b"] - u["a"] < 0
assert "models.eager.anon_vma.allocs" not in c          # eager does not depend on lazy's policies
PY
"$bin" --diff "$tmp/site1/h0.json" "$tmp/site2/h4.json" > "$tmp/diff2.txt"
grep -q "^warning: A and B come from different traces" "$tmp/diff2.txt" || fail "diff: different traces not said"
if "$bin" --diff "$tmp/base.json" 2> "$tmp/d1.err"; then fail "--diff of one report accepted"; fi
grep -q "diff compares two reports, 1 given" "$tmp/d1.err" || fail "--diff one: $(cat "$tmp/d1.err")"

# --redact: no hostname, no folder, in the summary, the fleet JSON, the jsonl, a diff
"$bin" --redact -o "$tmp/red.json" --jsonl "$tmp/red.jsonl" "$tmp/site1.json" "$tmp/site2.json" > "$tmp/red.txt"
"$bin" --redact --diff "$tmp/site1/h0.json" "$tmp/site2/h4.json" > "$tmp/red-diff.txt"
"$bin" --redact --json "$tmp/site1/h1.json" > "$tmp/red-one.json"
for f in red.json red.jsonl red.txt red-diff.txt red-one.json; do
	if grep -q "secret-corp\|/tmp/" "$tmp/$f"; then
		fail "--redact left a hostname or a path in $f: $(grep -m1 -o '.\{20\}secret-corp.\{10\}\|/tmp/[^ ]*' "$tmp/$f")"
	fi
done
grep -q "^host-1 " "$tmp/red.txt" || fail "redacted host list: $(sed -n 3p "$tmp/red.txt")"
grep -q "postgres .*, dir-[0-9]*/postgres, host host-" "$tmp/red.txt" || fail "redacted exe keeps its name"
python3 - "$tmp/red.json" <<'PY' || fail "redacted fleet"
import json, sys
f = json.load(open(sys.argv[1]))
names = [h["hostname"] for h in f["host_list"]]
assert names == ["host-%d" % i for i in range(1, 7)], names        # stable, in order
assert {t["host"] for t in f["top_processes"]} <= set(names)
PY
echo "report_fleet: ok"
