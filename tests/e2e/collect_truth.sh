#!/usr/bin/env bash
# Kernel ground truth: collect tests/progs/collect_gt and count the kernel's own
# anon_vma (AV) and anon_vma_chain (AVC) slab events between its markers.  The
# expected deltas are observed.md's micro-test table (and eager.md §2.2-§2.7):
#   read a fresh page 0/0; write it +1/+1 (prepare); fork with one more faulted
#   VMA +1/+2; with five more +5/+10; that child's fork: chains of 2, so
#   1 AV + 3 AVCs per faulted VMA (+6/+18 for the six); mprotect of a middle
#   page 0/+2; mprotect back frees 2 AVCs and allocates nothing; mremap move
#   +1 AVC and frees 1 AVC.  Call sites must say prepare / clone / fork / unlink,
#   and no event of the merged cache's other users may be in the trace.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/t.db
fail=0

. tests/lib/dbcheck.sh

"$BUILD/anonvma-collect" -o "$db" -- "$BUILD/progs/collect_gt" "$tmp/gt.out"
read -r _ pid _ child < "$tmp/gt.out"
mk() { q "SELECT seq FROM event_view WHERE pid=$1 AND kind=15 AND c=$((1000 + $2))"; }
# n PID FROM TO CACHE OP [SITE]: slab events of PID between markers FROM and TO.
n() {
	local lo hi
	lo=$(mk "$1" "$2")
	hi=$(mk "$1" "$3")
	[ -n "$lo" ] && [ -n "$hi" ] || { echo "collect_truth: marker $2 or $3 of $1 missing" >&2; exit 1; }
	q "SELECT count(*) FROM event_view WHERE kind=40 AND pid=$1 AND seq>$lo AND seq<$hi AND a=$4 AND b=$5 AND e=0 ${6:+AND c=$6}"
}
AV=1 AVC=2 ALLOC=1 FREE=2

check "read: AV, AVC allocs" "0 0" "$(n "$pid" 1 2 $AV $ALLOC) $(n "$pid" 1 2 $AVC $ALLOC)"
f0av=$(n "$pid" 2 3 $AV $ALLOC)
f0avc=$(n "$pid" 2 3 $AVC $ALLOC)
[ "$f0av" -gt 0 ] || { echo "collect_truth: baseline fork copied no anon_vma" >&2; fail=1; }
check "baseline fork: 1 AV + 2 AVCs per faulted VMA" $((2 * f0av)) "$f0avc"
check "write: AV, AVC allocs" "1 1" "$(n "$pid" 3 4 $AV $ALLOC) $(n "$pid" 3 4 $AVC $ALLOC)"
check "write: call sites prepare" "1 1" "$(n "$pid" 3 4 $AV $ALLOC 1) $(n "$pid" 3 4 $AVC $ALLOC 1)"
check "fork with 1 more faulted VMA" "1 2" \
	"$(($(n "$pid" 4 5 $AV $ALLOC) - f0av)) $(($(n "$pid" 4 5 $AVC $ALLOC) - f0avc))"
check "fork sites: AV fork, AVC clone+fork" "$((f0av + 1)) $((f0av + 1)) $((f0av + 1))" \
	"$(n "$pid" 4 5 $AV $ALLOC 3) $(n "$pid" 4 5 $AVC $ALLOC 2) $(n "$pid" 4 5 $AVC $ALLOC 3)"
check "write 5 VMAs" "5 5" "$(n "$pid" 5 6 $AV $ALLOC) $(n "$pid" 5 6 $AVC $ALLOC)"
check "fork with 5 more faulted VMAs" "5 10" \
	"$(($(n "$pid" 6 7 $AV $ALLOC) - f0av - 1)) $(($(n "$pid" 6 7 $AVC $ALLOC) - f0avc - 2))"
check "child's fork, chains of 2: 1 AV + 3 AVCs per VMA" "$((f0av + 6)) $((3 * f0av + 18))" \
	"$(n "$child" 50 51 $AV $ALLOC) $(n "$child" 50 51 $AVC $ALLOC)"
check "write C" "1 1" "$(n "$pid" 7 8 $AV $ALLOC) $(n "$pid" 7 8 $AVC $ALLOC)"
check "mprotect middle split" "0 2 0 0" "$(n "$pid" 8 9 $AV $ALLOC) $(n "$pid" 8 9 $AVC $ALLOC 2) $(n "$pid" 8 9 $AV $FREE) $(n "$pid" 8 9 $AVC $FREE)"
check "mprotect back (merge)" "0 0 0 2" "$(n "$pid" 9 10 $AV $ALLOC) $(n "$pid" 9 10 $AVC $ALLOC) $(n "$pid" 9 10 $AV $FREE) $(n "$pid" 9 10 $AVC $FREE 4)"
check "mremap move" "0 1 0 1" "$(n "$pid" 10 11 $AV $ALLOC) $(n "$pid" 10 11 $AVC $ALLOC 2) $(n "$pid" 10 11 $AV $FREE) $(n "$pid" 10 11 $AVC $FREE 4)"

# Ids: every freed AVC id of the merge step was allocated earlier in the trace
# and never freed before (generations agree across alloc/free).
check "merge frees known AVCs" 2 "$(q "
	WITH f AS (SELECT seq, d FROM event_view WHERE kind=40 AND a=2 AND b=2 AND pid=$pid
	           AND seq>$(mk "$pid" 9) AND seq<$(mk "$pid" 10))
	SELECT count(*) FROM f WHERE
	  (SELECT count(*) FROM event_view e WHERE e.kind=40 AND e.a=2 AND e.b=1 AND e.d=f.d AND e.seq<f.seq)=1
	  AND (SELECT count(*) FROM event_view e WHERE e.kind=40 AND e.a=2 AND e.b=2 AND e.d=f.d AND e.seq<f.seq)=0")"
check "no foreign objects of the merged cache" 0 "$(q "SELECT count(*) FROM events WHERE kind=40 AND c=7")"
check "AVC events always classified" 0 "$(q "SELECT count(*) FROM events WHERE kind=40 AND a=2 AND c=0")"
exit $fail
