#!/usr/bin/env bash
# anonvma-replay under an arch with larger pages or fewer VA bits than the
# trace's (src/translate.h, docs/arch.md "Translated arches"):
# - a hand-made trace (tests/traces/v2.db's meta, events written here) whose
#   counts at 4K, 16K, 64K and 39-bit VA are worked out below;
# - the real collection tests/traces/v2.db at the same four arches: it runs,
#   the counts move the right way, 39-bit keeps every rmap count;
# - --validate (and --calibrate) with a translated arch is refused in one line.
set -euo pipefail
BUILD=${BUILD:-build}
replay="$BUILD/anonvma-replay"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The hand-made trace.  Start snapshot, mm 1 (x86_64, 4 KiB pages, 47-bit):
#
#   0x400000 |r-x|rw- rw-|        text (file 7) and data (file 7, pgoff 1)
#   0x7ffc12345000 .. 0x7ffc12366000   stack (rw, grows down)
#   then: mmap A = 0x7f0000010000, 64 KiB anonymous rw (64K-aligned)
#         a write fault on each of its 16 pages; writes at 0x401010, 0x402010
#         fork -> mm 2; the child writes A (CoW); nobody exits.
#
# PTEs at the end (mm 1 + mm 2: fork copies the PTEs of the two VMAs with an
# anon_vma, the CoW replaces one):
#   4K:  A 16 + data 2 = 18, x2 = 36
#   16K: A 4 + data 1 (both data pages are one 16K page) = 5, x2 = 10;
#        dropped duplicate faults 12 + 1 = 13; the data row moves up one page
#        (its natural 16K page is the text's)
#   64K: A 1 + data 1 = 2, x2 = 4; duplicates 15 + 1 = 16; data moved
#   39-bit (arm64-4k-39bit, 4K pages): as 4K, 36; stack and A relocated (2),
#        text and data are below 2^39 / 3 and stay
# anon rmap (eager) at every size: anon_vmas 2 (data, A) + 2 at fork = 4
# allocated; AVCs 2 + fork (2 clones + 2 own) = 6.
cp tests/traces/v2.db "$tmp/hand.db"
chmod u+w "$tmp/hand.db"
python3 - "$tmp/hand.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for t in ["events", "events_ef", "snap_vmas", "snap_anon_vmas", "lost"]:
    c.execute(f"delete from {t}")
ev = []
def E(kind, pid, mm, a=0, b=0, cc=0, d=0):
    ev.append((kind, pid, mm, a, b, cc, d))
A = 0x7f0000010000
E(60, 0, 0, 1, 1, 3)                       # start snapshot 1, 3 VMAs
E(10, 100, 1, A, 0x10000, 3, 0x22)         # mmap anon rw (MAP_PRIVATE|MAP_ANONYMOUS)
for i in range(16):
    E(30, 100, 1, A + i * 4096 + 8, 6)     # user write faults
E(30, 100, 1, 0x401010, 6)
E(30, 100, 1, 0x402010, 6)
E(1, 100, 1, 2, 101, 0x1200011, 101)       # fork -> mm 2
E(30, 101, 2, A + 8, 7)                    # CoW write of a present page
for kind, pid, mm, a, b, cc, d in ev:
    c.execute("insert into events(dt,cpu,tid,kind,pid,mm,a,b,c,d) values(1000,0,NULL,?,?,?,?,?,?,?)",
              (kind, pid, mm, a, b, cc, d))
rows = [(0x400000, 0x401000, 0, 0x75, 7), (0x401000, 0x403000, 1, 0x73, 7),
        (0x7ffc12345000, 0x7ffc12366000, 0x7ffc12345, 0x100173, 0)]
for s, e, pg, fl, fi in rows:
    c.execute("insert into snap_vmas values(1,1,?,?,?,?,?,0,0,0,0,0,0,0,'')", (s, e, pg, fl, fi))
c.execute("update meta set value=? where key='events'", (len(ev),))
c.commit()
PY
for a in x86_64-4level arm64-16k-48bit arm64-64k-48bit arm64-4k-39bit; do
	"$replay" -q --arch "$a" -o "$tmp/hand-$a.json" "$tmp/hand.db" || fail "hand trace at $a"
done
python3 - "$tmp" <<'PY' || fail "hand trace counts"
import json, sys
d = sys.argv[1]
want = {  # arch: (ptes_end, dup faults, moved, va relocated)
    "x86_64-4level": (36, None, None, None),
    "arm64-16k-48bit": (10, 13, 1, 0),
    "arm64-64k-48bit": (4, 16, 1, 0),
    "arm64-4k-39bit": (36, 0, 0, 2),
}
for a, (ptes, dup, moved, va) in want.items():
    r = json.load(open(f"{d}/hand-{a}.json"))
    e = r["models"]["eager"]
    assert e["page_tables"]["ptes_end"] == ptes, (a, e["page_tables"]["ptes_end"])
    assert e["anon_vma"]["allocs"] == 4, (a, e["anon_vma"])
    assert e["anon_vma_chain"]["allocs"] == 6, (a, e["anon_vma_chain"])
    tf = r["arch"].get("translated_from")
    if dup is None:
        assert tf is None, tf
        continue
    assert tf["page_size"] == 4096 and tf["va_bits"] == 47, tf
    c = tf["counts"]
    assert c["faults_duplicate_dropped"] == dup, (a, c)
    assert c["faults_outside_dropped"] == 0, (a, c)
    assert c["vmas_moved"] == moved, (a, c)
    assert c["vmas_va_relocated"] == va, (a, c)
    assert c["vmas_clipped"] == 0 and c["vmas_dropped"] == 0, (a, c)
    assert c["events_in"] == 22 and c["events_out"] == 22 - dup, (a, c)
PY

# The real collection: it runs at every size, and the counts move the right way.
for a in x86_64-4level arm64-16k-48bit arm64-64k-48bit arm64-4k-39bit; do
	"$replay" -q --arch "$a" -o "$tmp/v2-$a.json" tests/traces/v2.db || fail "v2.db at $a"
done
python3 - "$tmp" <<'PY' || fail "v2.db counts"
import json, sys
d = sys.argv[1]
r = {a: json.load(open(f"{d}/v2-{a}.json")) for a in
     ["x86_64-4level", "arm64-16k-48bit", "arm64-64k-48bit", "arm64-4k-39bit"]}
e = {a: x["models"]["eager"] for a, x in r.items()}
k4, k16, k64, va39 = "x86_64-4level", "arm64-16k-48bit", "arm64-64k-48bit", "arm64-4k-39bit"
c16, c64 = (r[k]["arch"]["translated_from"]["counts"] for k in (k16, k64))
# larger pages: more faults fall on a page already mapped, fewer events reach the worlds
assert 0 < c16["faults_duplicate_dropped"] <= c64["faults_duplicate_dropped"], (c16, c64)
assert c16["events_out"] >= c64["events_out"], (c16, c64)
# segments that shared a 16K page were moved apart; none clipped or lost
assert c16["vmas_moved"] > 0 and c64["vmas_moved"] >= c16["vmas_moved"]
for c in (c16, c64):
    assert c["vmas_dropped"] == 0 and c["faults_outside_dropped"] == 0, c
# page tables: one table maps more with larger pages, but each costs a page
pte = lambda k: e[k]["page_tables"]["levels"]["pte"]["tables_peak"]
assert pte(k64) <= pte(k16) <= pte(k4), (pte(k4), pte(k16), pte(k64))
bp = lambda k: e[k]["page_tables"]["bytes_peak"]
assert bp(k4) < bp(k16) < bp(k64), (bp(k4), bp(k16), bp(k64))
# the anon rmap: never more objects with larger pages (merges may only grow)
for kind in ("anon_vma", "anon_vma_chain", "vm_area_struct"):
    assert e[k64][kind]["live_peak"] <= e[k4][kind]["live_peak"], kind
# 39-bit VA, same pages: distances kept, so every rmap count is the 4K one;
# one level fewer, so fewer page-table bytes
assert r[va39]["arch"]["translated_from"]["counts"]["vmas_va_relocated"] > 0
for kind in ("anon_vma", "anon_vma_chain", "vm_area_struct"):
    assert e[va39][kind] == e[k4][kind], kind
assert bp(va39) < bp(k4)
PY

# --validate compares with the kernel that recorded the trace: refused
if "$replay" -q --validate --arch arm64-16k-48bit -o "$tmp/x.json" tests/traces/v2.db \
	2> "$tmp/err"; then
	fail "--validate with a translated arch accepted"
fi
grep -q "^anonvma-replay: --validate: arch arm64-16k-48bit is translated from the trace's 4096-byte pages" \
	"$tmp/err" || fail "--validate refusal: $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "--validate refusal is not one line"
[ ! -e "$tmp/x.json" ] || fail "a report was written on error"
# --calibrate fits costs to holds the recording kernel measured: refused too
if "$replay" -q --calibrate "$tmp/cal.yaml" --arch arm64-16k-48bit -o "$tmp/x.json" \
	tests/traces/v2.db 2> "$tmp/err"; then
	fail "--calibrate with a translated arch accepted"
fi
grep -q "^anonvma-replay: --calibrate: arch arm64-16k-48bit is translated" "$tmp/err" ||
	fail "--calibrate refusal: $(cat "$tmp/err")"
[ ! -e "$tmp/cal.yaml" ] || fail "a calibration was written on error"
echo "replay_translate: ok"
