#!/usr/bin/env bash
# Collect tests/progs/collect_seq with `anonvma-collect -- prog` and check that
# the trace holds exactly the program's address-space operations, with the
# right arguments and address-space (mm) identities:
#   - the four mmaps, the mprotect split, the two faults, the mremap, the munmap
#     between their marker madvise() calls, and nothing else of those kinds;
#   - fork gives the child a new mm (its events carry it; it exits and its mm
#     is released); vfork and a thread share the parent's mm; the thread's own
#     mmap carries its tid, the process's pid and the parent's mm;
#   - exec replaces the mm, with a snapshot of the new one in snap_vmas;
#   - the collection started with a snapshot of the held command's mm.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/t.db
out=$tmp/seq.out
fail=0

. tests/lib/dbcheck.sh

"$BUILD/anonvma-collect" -o "$db" -- "$BUILD/progs/collect_seq" "$out"
[ "$(stat -c %a "$db")" = 600 ] || { echo "collect_seq: trace mode is not 0600" >&2; fail=1; }

pid=$(awk '/^pid /{print $2}' "$out")
ev="event_view"
# Cut the main process's stream at its markers (madvise advice 1000 + k).
mk() { q "SELECT seq FROM $ev WHERE pid=$pid AND kind=15 AND c=$((1000 + $1))"; }
for k in 1 2 3 4 5 6 7 8 9 90 91; do
	s=$(mk $k)
	[ -n "$s" ] || { echo "collect_seq: marker $k missing" >&2; exit 1; }
	eval "m$k=$s"
done
mm=$(q "SELECT mm FROM $ev WHERE seq=$m1")
between() { # kind from to [extra condition] -> rows "a|b|c|d|e|f"
	q "SELECT a||'|'||b||'|'||c||'|'||d||'|'||e||'|'||f FROM $ev WHERE kind=$1 AND seq>$2 AND seq<$3 AND pid=$pid ${4:-} ORDER BY seq"
}
hex() { printf '%d' "0x$1"; }

check "meta complete" 1 "$(q "SELECT value FROM meta WHERE key='complete'")"
check "meta command_status" 0 "$(q "SELECT value FROM meta WHERE key='command_status'")"
check "meta lost_events" 0 "$(q "SELECT value FROM meta WHERE key='lost_events'")"
check "start snapshot" 1 "$(q "SELECT count(*) FROM $ev WHERE kind=60 AND a=1 AND b=1 AND c>0")"
check "start snapshot rows" 1 "$(q "SELECT count(*)>0 FROM snap_vmas WHERE snap=1")"

# 1..2: exactly the four mmaps, anonymous (file 0), pgoff 0, the main mm.
want=""
while read -r _ a len prot flags; do
	want+="$(hex "$a")|$len|$prot|$flags|0|0"$'\n'
done < <(grep '^mmap ' "$out")
check "mmaps" "${want%$'\n'}" "$(between 10 "$m1" "$m2")"
check "mmap mm" 4 "$(q "SELECT count(*) FROM $ev WHERE kind=10 AND seq>$m1 AND seq<$m2 AND mm=$mm")"

# 2..3: one mprotect, result 0.
read -r _ a len prot _ < <(grep '^mprotect ' "$out")
check "mprotect" "$(hex "$a")|$len|$prot|0|0|0" "$(between 12 "$m2" "$m3")"

# 3..4: a user write fault then a user read fault (x86 error code W=2, U=4).
read -r _ w r _ < <(grep '^fault ' "$out")
check "faults" "$(hex "$w")|6|0|0|0|0"$'\n'"$(hex "$r")|4|0|0|0|0" "$(between 30 "$m3" "$m4" "AND c=0")"

# 4..5: mremap 16 -> 32 pages, MREMAP_MAYMOVE, result = new address.
read -r _ a ol nl res < <(grep '^mremap ' "$out")
check "mremap" "$(hex "$a")|$ol|$nl|1|$(hex "$res")|0" "$(between 13 "$m4" "$m5")"

# 5..6: munmap, result 0.
read -r _ a len _ < <(grep '^munmap ' "$out")
check "munmap" "$(hex "$a")|$len|0|0|0|0" "$(between 11 "$m5" "$m6")"
check "vma syscalls 1..6" 7 "$(q "SELECT count(*) FROM $ev WHERE kind BETWEEN 10 AND 14 AND pid=$pid AND seq>$m1 AND seq<$m6")"

# 6..7: fork: a new mm for the child, used by its events, released after exit.
cpid=$(awk '/^fork /{print $2}' "$out")
row=$(between 1 "$m6" "$m7")
check "fork count" 1 "$(printf '%s\n' "$row" | grep -c .)"
IFS='|' read -r cmm ctid cflags ctgid _ _ <<<"$row"
check "fork child tid" "$cpid" "$ctid"
check "fork child tgid" "$cpid" "$ctgid"
check "fork without CLONE_VM" 0 $((cflags & 0x100))
[ "$cmm" != "$mm" ] && [ "$cmm" -gt 0 ] || { echo "collect_seq: fork child mm $cmm is not new (parent $mm)" >&2; fail=1; }
check "child events on child mm" 0 "$(q "SELECT count(*) FROM $ev WHERE pid=$cpid AND kind IN (3,30) AND mm<>$cmm")"
check "child write fault" 1 "$(q "SELECT count(*)>0 FROM $ev WHERE pid=$cpid AND kind=30 AND mm=$cmm")"
check "child exit group_dead" 1 "$(q "SELECT a FROM $ev WHERE pid=$cpid AND kind=3")"
check "child mm released" 1 "$(q "SELECT count(*) FROM $ev WHERE kind=4 AND mm=$cmm")"

# 7..8: vfork shares the mm.
vpid=$(awk '/^vfork /{print $2}' "$out")
IFS='|' read -r vmm vtid vflags vtgid _ _ <<<"$(between 1 "$m7" "$m8")"
check "vfork mm shared" "$mm" "$vmm"
check "vfork child" "$vpid|$vpid" "$vtid|$vtgid"
check "vfork flags" $((0x4100)) $((vflags & 0x4100))
check "vfork child exit mm" "$mm" "$(q "SELECT mm FROM $ev WHERE pid=$vpid AND kind=3")"

# 8..9: a thread shares mm and pid; its own mmap carries its tid.
read -r _ ttid tmap _ < <(grep '^thread ' "$out")
IFS='|' read -r tmm ttid2 tflags ttgid _ _ <<<"$(between 1 "$m8" "$m9")"
check "thread mm shared" "$mm" "$tmm"
check "thread tid/tgid" "$ttid|$pid" "$ttid2|$ttgid"
check "thread CLONE_THREAD" $((0x10000)) $((tflags & 0x10000))
check "thread mmap" "1" "$(q "SELECT count(*) FROM $ev WHERE kind=10 AND tid=$ttid AND pid=$pid AND mm=$mm AND a=$(hex "$tmap") AND b=4096")"
check "thread exit not group_dead" "0" "$(q "SELECT a FROM $ev WHERE kind=3 AND tid=$ttid")"

# 9..90: exec: old mm = main mm, a new mm with a snapshot; stage 2 runs on it.
IFS='|' read -r emm enew esnap eold <<<"$(q "SELECT mm||'|'||a||'|'||b||'|'||c FROM $ev WHERE kind=2 AND pid=$pid AND seq>$m9 AND seq<$m90")"
check "exec old mm" "$mm" "$emm"
check "exec old pid" "$pid" "$eold"
[ "$enew" != "$mm" ] && [ "$esnap" -gt 1 ] || { echo "collect_seq: exec new mm $enew snap $esnap" >&2; fail=1; }
check "exec snapshot of the new mm" 1 "$(q "SELECT count(*)>2 AND min(mm)=$enew AND max(mm)=$enew FROM snap_vmas WHERE snap=$esnap")"
check "stage 2 on the new mm" "$enew" "$(q "SELECT mm FROM $ev WHERE seq=$m90")"
read -r _ a _ < <(grep '^exec2 ' "$out")
check "stage 2 mmap" "$(hex "$a")|4096|3|34|0|0" "$(between 10 "$m90" "$m91")"
check "main mm released at exec" 1 "$(q "SELECT count(*) FROM $ev WHERE kind=4 AND mm=$mm AND seq>$m9")"

exit $fail
