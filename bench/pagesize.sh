#!/usr/bin/env bash
# bench/pagesize.sh BUILD TRACE... - what a workload recorded with 4 KiB pages
# would cost on a 16K- or 64K-page arm64 kernel, or in a 39-bit address
# space (docs/arch.md "Translated arches"): each trace replayed with
# x86_64-4level, arm64-16k-48bit, arm64-64k-48bit and arm64-4k-39bit, one row
# per arch: eager/lazy peaks of anon_vma, AVC and VMA
# (models.<m>.<kind>.live_peak), the eager page tables' bytes_peak, the anon
# rmap saving of lazy against eager (savings.anon_rmap.percent), the verdict
# (verdict.lazy_pays_off), and what the translation did
# (arch.translated_from.counts: duplicate/outside faults dropped, VMAs
# moved/clipped/dropped, VMAs relocated by the VA change).
# The traces are only read; reports go to BUILD/bench/pagesize/.
set -euo pipefail
build=${1:?usage: bench/pagesize.sh BUILD TRACE...}
shift
[ $# -gt 0 ] || { echo "usage: bench/pagesize.sh BUILD TRACE..." >&2; exit 2; }
out="$build/bench/pagesize"
mkdir -p "$out"
arches=(x86_64-4level arm64-16k-48bit arm64-64k-48bit arm64-4k-39bit)
for t in "$@"; do
	n=$(basename "$t" .db)
	echo "### $n"
	for a in "${arches[@]}"; do
		if ! "$build/anonvma-replay" -q --arch "$a" -o "$out/$n-$a.json" "$t" 2> "$out/$n-$a.err"; then
			echo "$a: refused: $(tail -1 "$out/$n-$a.err")"
			rm -f "$out/$n-$a.json"
		fi
	done
	python3 - "$out" "$n" "${arches[@]}" <<'PY'
import json, os, sys
out, n, arches = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"| arch | anon_vma e/l | AVC e/l | VMA e/l | page tables (eager, peak) | saving | lazy pays off | faults dropped dup/outside | VMAs moved/clipped/dropped | VA-relocated |")
print("|---|---|---|---|---:|---:|---|---|---|---|")
for a in arches:
    p = f"{out}/{n}-{a}.json"
    if not os.path.exists(p):
        print(f"| {a} | refused | | | | | | | | |")
        continue
    r = json.load(open(p))
    e, l = r["models"]["eager"], r["models"]["lazy"]
    pk = lambda m, k: m[k]["live_peak"]
    c = r["arch"].get("translated_from", {}).get("counts")
    tr = (f"{c['faults_duplicate_dropped']}/{c['faults_outside_dropped']} | "
          f"{c['vmas_moved']}/{c['vmas_clipped']}/{c['vmas_dropped']} | {c['vmas_va_relocated']}"
          if c else "- | - | -")
    print(f"| {a} | {pk(e,'anon_vma')}/{pk(l,'anon_vma')} | {pk(e,'anon_vma_chain')}/{pk(l,'anon_vma_chain')} | "
          f"{pk(e,'vm_area_struct')}/{pk(l,'vm_area_struct')} | {e['page_tables']['bytes_peak']} | "
          f"{r['savings']['anon_rmap']['percent']:.1f} % | {r['verdict']['lazy_pays_off']} | {tr} |")
PY
done
