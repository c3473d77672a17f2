#!/usr/bin/env bash
# Real folio sizes on a real collection (docs/model-eager.md "Folio sizes"):
# with 64 KiB mTHP enabled for the length of one run, tests/progs/mthp_fault
# faults a 64 KiB-aligned region (12 one-write blocks, a block whose range a
# zero-page read spoils, one a partial MADV_DONTNEED spoils, a forked child's
# COW) and writes the kernel's own view (large folios, base pages, from
# /proc/kpageflags).  The trace's meta must list the sizes and PT_RECLAIM
# with its source; the replay must apply 6.18's order choice
# (folios.order_source "model") and allocate exactly as many 64 KiB folios as
# the kernel maps in the process (the region's 13, plus any its heap or stack
# took where ASLR left room), and --validate must stay exact.  A MADV_COLLAPSE collapse
# is recorded with its range and replayed as one PMD folio.  A version-2 trace (no
# sizes in its meta) replays with base pages below the PMD.
#
# The 64 KiB setting is shared by the whole machine: it is restored on every
# exit path (trap) and right after the run, so the window stays short.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
knob=/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -w "$knob" ] || fail "$knob is not writable (mTHP sizes need Linux 6.8 and root)"
old=$(sed 's/.*\[\(.*\)\].*/\1/' "$knob")
restore() { echo "$old" > "$knob"; }
trap 'restore; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

echo always > "$knob"
"$BUILD/anonvma-collect" -o "$tmp/t.db" -- "$BUILD/progs/mthp_fault" "$tmp/kernel.out" > "$tmp/collect.log" 2>&1 ||
	{ cat "$tmp/collect.log" >&2; fail "collection failed"; }
restore
read -r _ large _ small _ plarge < "$tmp/kernel.out"
[ "$large" -gt 0 ] || fail "the kernel mapped no 64 KiB folio ($(cat "$tmp/kernel.out"))"

sizes=$(sqlite3 "$tmp/t.db" "SELECT value FROM meta WHERE key = 'thp_anon_sizes'")
case ",$sizes," in *,64kB=always,*) ;; *) fail "meta thp_anon_sizes: '$sizes'" ;; esac
want_ptr=unknown
if [ -r /proc/config.gz ]; then
	want_ptr=n
	if zcat /proc/config.gz > "$tmp/config"; grep -q '^CONFIG_PT_RECLAIM=y' "$tmp/config"; then
		want_ptr=y
	fi
fi
got_ptr=$(sqlite3 "$tmp/t.db" "SELECT value FROM meta WHERE key = 'pt_reclaim'")
[ "$want_ptr" = unknown ] || [ "$got_ptr" = "$want_ptr" ] || fail "meta pt_reclaim: '$got_ptr', want '$want_ptr'"

"$BUILD/anonvma-replay" -q --validate "$tmp/t.db" -o "$tmp/r.json" || fail "replay --validate failed"
python3 - "$tmp/r.json" "$plarge" "$got_ptr" "$tmp/kernel.out" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
large, ptr = int(sys.argv[2]), sys.argv[3]
f = r["folios"]
assert f["order_source"] == "model", f
assert f["pt_reclaim"] == ptr, f
# the model counts the 64 KiB folios faults allocated over the whole run; the
# kernel's count is what the process maps when it reads kpageflags.  Equal,
# unless the process freed one of its heap's before that read (malloc trimming
# the heap, seen under load and in the sanitizer build): never fewer, and at
# most 2 more.
model4 = f["allocated_by_order"].get("4", 0)
assert large <= model4 <= large + 2, (f["allocated_by_order"], large, open(sys.argv[4]).read())
v = r["validation"]
assert v["passed"], "validation failed"
for kind in ("anon_vma", "anon_vma_chain"):
    assert v[kind]["error"] == 0 and v[kind]["kernel_allocs"] == v[kind]["model_allocs"], v[kind]
PY
echo "  kernel: $large 64 KiB folios in the region ($plarge in the process), $small base pages; model: $plarge order-4, validate exact"

"$BUILD/anonvma-replay" -q tests/traces/v2.db -o "$tmp/v2.json" || fail "v2 replay"
python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["folios"]
assert f["order_source"] == "base-pages" and f["pt_reclaim"] == "unknown", f
' "$tmp/v2.json" || fail "a version-2 trace must replay with base pages"

# MADV_COLLAPSE (the collapse runs in the recorded process): the trace names the
# range through a folio's index, and the model maps one PMD-sized folio there
"$BUILD/anonvma-collect" -o "$tmp/c.db" -- "$BUILD/progs/thp_collapse" "$tmp/c.out" \
	> "$tmp/c.log" 2>&1 || { cat "$tmp/c.log" >&2; fail "collapse collection failed"; }
read -r _ crc _ clarge < "$tmp/c.out"
[ "$crc" = 0 ] && [ "$clarge" = 1 ] || fail "MADV_COLLAPSE did not collapse: $(cat "$tmp/c.out")"
"$BUILD/anonvma-replay" -q --validate "$tmp/c.db" -o "$tmp/c.json" || fail "collapse replay --validate"
python3 - "$tmp/c.json" <<'PY' || fail "collapse report"
import json, sys
r = json.load(open(sys.argv[1]))
f = r["folios"]
assert f["thp_collapses"] == 1 and f["allocated_by_order"].get("9") == 1, f
v = r["validation"]
assert v["passed"] and v["anon_vma"]["error"] == 0 and v["anon_vma_chain"]["error"] == 0, v["anon_vma"]
PY
echo "  MADV_COLLAPSE: kernel 1 PMD folio, model 1 collapse (order 9), validate exact"

# a malformed size list in the meta is one error line naming it, and no report
cp tests/traces/v3.db "$tmp/bad.db"
sqlite3 "$tmp/bad.db" "UPDATE meta SET value = '64kB=sometimes' WHERE key = 'thp_anon_sizes'"
if "$BUILD/anonvma-replay" -q "$tmp/bad.db" -o "$tmp/bad.json" 2> "$tmp/err"; then
	fail "a malformed thp_anon_sizes was accepted"
fi
[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "more than one error line: $(cat "$tmp/err")"
grep -q "meta thp_anon_sizes: 'sometimes' is not never, always, madvise or inherit" "$tmp/err" ||
	fail "unexpected error: $(cat "$tmp/err")"
[ ! -e "$tmp/bad.json" ] || fail "a report was written for a refused trace"
