#!/usr/bin/env bash
# Exit snapshots, collected for real and compared by --validate: the kernel's
# layout of every mm when its last user leaves it (exit, or exec away from
# it) against the eager world's VMAs of that mm after a life of mmap,
# mprotect, mremap, munmap and fork.
#
#   1. vmops mprotect, mremap and forktree (tests/workloads/run.sh: collect
#      under the THP lock, validate, deterministic counts exact): one exit
#      snapshot per mm that ends, every anonymous and file VMA matched, none
#      of an unknown mm; the snapshots per workload are derived below.
#   2. The check can fail: one anonymous VMA's end moved by a page in a
#      copy of the forktree trace -> exactly one mismatch, field "end", and
#      replay exit status 3 with --tolerance 0 (one VMA of ~80, or of ~280
#      under ASan, whose collector has many shadow maps, is below 0.01).
#   3. --no-exit-snapshots: no exit snapshot in the trace.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
C=$B/anonvma-collect
R=$B/anonvma-replay
out=$(mktemp -d /tmp/anonvma-e2e-exitsnap.XXXXXX)
fail() { echo "validate_exit_layouts: $*" >&2; echo "traces and reports in $out" >&2; exit 1; }

# 1. Exit snapshots per workload: the command's first mm (a fork of the
# collector, left at the exec of vmops) + vmops itself, and for forktree its
# root child and, per level 0..4, the short child a, the middle b and the
# next level's c: 2 + 1 + 5 * 3 = 18.
declare -A want=([vmops-mprotect]=2 [vmops-mremap]=2 [vmops-forktree]=18)
tests/workloads/run.sh -b "$B" -o "$out" -s vmops-mprotect vmops-mremap vmops-forktree \
	> "$out/run.log" 2>&1 || { cat "$out/run.log" >&2; fail "run.sh failed"; }
for w in vmops-mprotect vmops-mremap vmops-forktree; do
	missed=$(sqlite3 "$out/$w.db" "SELECT value FROM meta WHERE key='exit_snapshots_missed'")
	rows=$(sqlite3 "$out/$w.db" "SELECT count(*) FROM events WHERE kind=60 AND b=3")
	python3 - "$out/$w.json" "$w" "${want[$w]}" "$missed" "$rows" <<'EOF' || fail "$w: exit layouts"
import json, sys
path, name, want, missed, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
v = json.load(open(path))["validation"]
e = v["exit_layouts"]
a, f = e["anon"], e["file"]
print("%s: %d exit snapshots (%d missed), anon VMAs %d/%d matched, file %d/%d, unmodelled %s"
      % (name, e["snapshots"], missed, a["matched"], a["compared"], f["matched"], f["compared"],
         e["unmodelled"]))
bad = []
if e["snapshots"] != rows or e["snapshots"] + missed != want:
    bad.append("snapshots %d (+%d missed, %d in the trace), expected %d"
               % (e["snapshots"], missed, rows, want))
if e["snapshots_unknown_mm"] or e["unmodelled"]["unknown_mm"]:
    bad.append("an mm the trace does not know")
if a["compared"] < 2 * e["snapshots"]:
    bad.append("only %d anonymous VMAs compared" % a["compared"])
for cls, c in (("anon", a), ("file", f)):
    if c["mismatched"] or c["matched"] != c["compared"]:
        bad.append("%s: %d mismatched: %s" % (cls, c["mismatched"], e["mismatches"][:3]))
if e["snapshots_equal"] != e["snapshots"]:
    bad.append("%d of %d snapshots equal" % (e["snapshots_equal"], e["snapshots"]))
if not v["passed"]:
    bad.append("validation not passed")
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
done

# 2. Break one anonymous VMA of the last exit snapshot: the comparison must see it.
cp "$out/vmops-forktree.db" "$out/broken.db"
snap=$(sqlite3 "$out/broken.db" "SELECT max(a) FROM events WHERE kind=60 AND b=3")
start=$(sqlite3 "$out/broken.db" "SELECT min(start) FROM snap_vmas WHERE snap=$snap AND anon_vma<>0 AND file=0")
[ -n "$start" ] || fail "the last exit snapshot has no anonymous VMA"
sqlite3 "$out/broken.db" "UPDATE snap_vmas SET end=end+4096 WHERE snap=$snap AND start=$start"
rc=0
"$R" --validate --tolerance 0 -o "$out/broken.json" "$out/broken.db" > "$out/broken.log" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "a moved VMA end: replay exit status $rc, expected 3"
python3 - "$out/broken.json" "$start" <<'EOF' || fail "a moved VMA end was not reported"
import json, sys
e = json.load(open(sys.argv[1]))["validation"]["exit_layouts"]
m = e["mismatches"]
assert e["anon"]["mismatched"] == 1, e["anon"]
assert len(m) == 1 and m[0]["field"] == "end" and int(m[0]["start"], 16) == int(sys.argv[2]), m
assert int(m[0]["kernel"], 16) == int(m[0]["model"], 16) + 4096, m
EOF

# 3. Turned off: the trace says so and has none.
"$C" -f -o "$out/off.db" --no-exit-snapshots -- "$B/workloads/vmops" mprotect \
	> "$out/off.log" 2>&1 || fail "collect --no-exit-snapshots failed"
[ "$(sqlite3 "$out/off.db" "SELECT value FROM meta WHERE key='exit_snapshots'")" = 0 ] ||
	fail "--no-exit-snapshots: meta exit_snapshots is not 0"
[ "$(sqlite3 "$out/off.db" "SELECT count(*) FROM events WHERE kind=60 AND b=3")" = 0 ] ||
	fail "--no-exit-snapshots: the trace has exit snapshots"
"$R" --validate -o "$out/off.json" "$out/off.db" > "$out/off.log" 2>&1 || fail "replay of off.db"
python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['validation']['exit_layouts']; \
sys.exit(e['snapshots'] != 0)" "$out/off.json" || fail "--no-exit-snapshots: snapshots compared"
rm -rf "$out"
echo "validate_exit_layouts: ok"
