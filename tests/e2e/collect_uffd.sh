#!/usr/bin/env bash
# Android's GC steps for real: collect tests/progs/uffd_gc (mremap DONTUNMAP,
# userfaultfd REGISTER, COPY, ZEROPAGE, MOVE, UNREGISTER) and check that
#   - the collector recorded the ioctls (kinds 90-94) with their results,
#     and nothing for the program's other ioctls;
#   - the kernel's own anon_vma (AV) / anon_vma_chain (AVC) slab events
#     between the program's markers follow mm/userfaultfd.c and mm/mremap.c
#     (eager.md §2.2, §2.7): the DONTUNMAP move clones the chain (+1 AVC) and
#     unlinks the emptied heap (-1 AVC); COPY prepares the heap (+1 AV, +1
#     AVC) and MOVE allocates nothing; a COPY into an unregistered private VMA
#     fails with ENOENT after preparing it (+1 AV, +1 AVC); registering the
#     middle of a faulted VMA splits it (+2 AVCs), unregistering merges (-2);
#   - anonvma-replay --validate is exact on the trace: allocations, frees,
#     no divergence, every exit layout (flags included: VM_LOCKED cleared by
#     DONTUNMAP, the uffd flags gone after UNREGISTER) matched.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/t.db
fail=0

. tests/lib/dbcheck.sh

"$BUILD/anonvma-collect" -o "$db" -- "$BUILD/progs/uffd_gc" "$tmp/gc.out" 2> "$tmp/collect.log" || {
	cat "$tmp/collect.log" >&2
	exit 1
}
read -r _ pid < "$tmp/gc.out"
mk() { q "SELECT seq FROM event_view WHERE pid=$pid AND kind=15 AND c=$((1000 + $1))"; }
# n FROM TO CACHE OP [SITE]: slab events of the program between markers FROM and TO.
n() {
	local lo hi
	lo=$(mk "$1")
	hi=$(mk "$2")
	[ -n "$lo" ] && [ -n "$hi" ] || { echo "collect_uffd: marker $1 or $2 missing" >&2; exit 1; }
	q "SELECT count(*) FROM event_view WHERE kind=40 AND pid=$pid AND seq>$lo AND seq<$hi AND a=$3 AND b=$4 AND e=0 ${5:+AND c=$5}"
}
AV=1 AVC=2 ALLOC=1 FREE=2 PG=4096

# The ioctls: two cycles of REGISTER, COPY, ZEROPAGE, MOVE, UNREGISTER, the
# failed COPY, and the split/merge pair (UFFDIO_API is not recorded).
check "uffd events by kind" "90:3 91:3 92:3 93:2 94:2" \
	"$(q "SELECT group_concat(k || ':' || c, ' ') FROM (SELECT kind k, count(*) c FROM event_view WHERE kind>=90 AND pid=$pid GROUP BY kind ORDER BY kind)")"
check "COPY, ZEROPAGE, MOVE bytes done" "$((16 * PG)) $((8 * PG)) $((16 * PG))" \
	"$(q "SELECT (SELECT d FROM event_view WHERE kind=92 AND pid=$pid ORDER BY seq LIMIT 1), (SELECT d FROM event_view WHERE kind=93 AND pid=$pid ORDER BY seq LIMIT 1), (SELECT d FROM event_view WHERE kind=94 AND pid=$pid ORDER BY seq LIMIT 1)" | tr '|' ' ')"
check "the failed COPY says -ENOENT" "-2" \
	"$(q "SELECT d FROM event_view WHERE kind=92 AND pid=$pid ORDER BY seq DESC LIMIT 1")"
check "one uffd (file id) on every ioctl" "1" \
	"$(q "SELECT count(DISTINCT e) FROM event_view WHERE kind>=90 AND pid=$pid AND e>0")"
check "REGISTER mode MISSING" "1 1 1" \
	"$(q "SELECT group_concat(c, ' ') FROM event_view WHERE kind=90 AND pid=$pid")"

for c in 1 5; do
	check "cycle $c: DONTUNMAP move: AV allocs, AVC clone, AV frees, AVC frees" "0 1 0 1" \
		"$(n $c $((c + 1)) $AV $ALLOC) $(n $c $((c + 1)) $AVC $ALLOC 2) $(n $c $((c + 1)) $AV $FREE) $(n $c $((c + 1)) $AVC $FREE)"
	check "cycle $c: register + COPY + ZEROPAGE + MOVE: prepare only" "1 1 1 1" \
		"$(n $((c + 1)) $((c + 2)) $AV $ALLOC) $(n $((c + 1)) $((c + 2)) $AVC $ALLOC) $(n $((c + 1)) $((c + 2)) $AV $ALLOC 1) $(n $((c + 1)) $((c + 2)) $AVC $ALLOC 1)"
done
check "COPY into an unregistered VMA (ENOENT) prepares it" "1 1" "$(n 8 9 $AV $ALLOC 1) $(n 8 9 $AVC $ALLOC 1)"
check "REGISTER of a middle piece splits: AVC clones" "0 2" "$(n 10 11 $AV $ALLOC) $(n 10 11 $AVC $ALLOC 2)"
check "UNREGISTER merges back: AVC frees" "0 2" "$(n 11 12 $AVC $ALLOC) $(n 11 12 $AVC $FREE)"

# The eager model is exact on it.
rc=0
"$BUILD/anonvma-replay" --validate -o "$tmp/r.json" "$db" > "$tmp/replay.log" 2>&1 || rc=$?
[ $rc = 0 ] || { echo "collect_uffd: replay --validate failed ($rc)" >&2; tail -5 "$tmp/replay.log" >&2; exit 1; }
got=$(python3 - "$tmp/r.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))["validation"]
out = []
for o in ("anon_vma", "anon_vma_chain"):
    x = v[o]
    out.append("%d/%d %d/%d" % (x["kernel_allocs"], x["model_allocs"], x["kernel_frees"], x["model_frees"]))
el = v["exit_layouts"]
print(" ".join(out), v["divergence_count"], el["anon"]["mismatched"], el["snapshots"] == el["snapshots_equal"])
PY
)
read -r avk avf avck avcf ndiv mis alleq <<< "$got"
for pair in "$avk" "$avf" "$avck" "$avcf"; do
	check "replay --validate: kernel/model" "${pair%/*}" "${pair#*/}"
done
check "replay --validate: divergences, exit-layout mismatches, all exit snapshots equal" "0 0 True" "$ndiv $mis $alleq"
# The lazy model's invariants hold across the moves (folios re-pointed to the heap's root).
"$BUILD/anonvma-replay" --check-invariants -o "$tmp/i.json" "$db" > "$tmp/inv.log" 2>&1 ||
	{ echo "collect_uffd: --check-invariants failed" >&2; tail -3 "$tmp/inv.log" >&2; fail=1; }
[ $fail = 0 ] && echo "collect_uffd: ok"
exit $fail
