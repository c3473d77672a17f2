#!/usr/bin/env bash
# tests/workloads/run.sh - collect and validate the validation workloads.
#
#   tests/workloads/run.sh [-b BUILD] [-o OUTDIR] [-s] [WORKLOAD...]
#
# For each workload: anonvma-collect records it for real (root, BPF), then
# anonvma-replay --validate compares the eager model with the kernel's own
# anon_vma / anon_vma_chain allocations in that trace.  Prints one markdown
# table row per workload (kernel vs model allocations and the error of each
# object) and, with -s, checks that the deterministic workloads are exact
# (kernel == model, allocations and frees, no divergence).  Exit status:
# 0 if every workload is within the tolerance (and exact where it must be).
#
# Workloads (default: all but host-d5):
#   pipeline        shell pipelines (dash: vfork, fork, pipes, subshells)
#   python-mp       Python multiprocessing: fork Pool, Process + Queue, Array
#   make-j2         make -j2 of the small C project in tests/workloads/cproj
#   vmops-NAME      tests/workloads/vmops.c scenario NAME (static binary)
#   vmops-thp-always  the thp scenario under THP "always"
#   host-d5         whole host for 5 s while vmops and pipelines run
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-build}
out=
strict=0
while getopts "b:o:s" opt; do
	case $opt in
	b) build=$OPTARG ;;
	o) out=$OPTARG ;;
	s) strict=1 ;;
	*) echo "usage: $0 [-b BUILD] [-o OUTDIR] [-s] [WORKLOAD...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case $build in /*) ;; *) build=$root/$build ;; esac
[ -n "$out" ] || out=$(mktemp -d /tmp/anonvma-validate.XXXXXX)
mkdir -p "$out"

deterministic="vmops-mprotect vmops-mremap vmops-mapfixed vmops-dontfork vmops-thp
vmops-thp-always vmops-forktree vmops-vfork vmops-execstorm"
all="pipeline python-mp make-j2 $deterministic vmops-threads"
[ $# -gt 0 ] || set -- $all

collect=$build/anonvma-collect
replay=$build/anonvma-replay
vmops=$build/workloads/vmops
for b in "$collect" "$replay" "$vmops"; do
	[ -x "$b" ] || { echo "run.sh: $b is missing (make first)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "run.sh: the workloads are collected with BPF: run as root" >&2; exit 2; }

# The THP mode is global and decides which read faults prepare (eager.md
# §2.8): every collection runs under an exclusive lock, so concurrent runs
# (other worktrees' test suites) cannot flip the mode under it.
thp=/sys/kernel/mm/transparent_hugepage/enabled
lockfile=/tmp/anonvma-thp.lock
exec 9>>"$lockfile"
thp_saved=
restore_thp() { [ -z "$thp_saved" ] || echo "$thp_saved" > "$thp"; thp_saved=; }
trap restore_thp EXIT

# The THP mode each workload needs (eager.md §2.8: the PMD path prepares on reads).
thp_mode() {
	case $1 in
	vmops-thp-always) echo always ;;
	*) echo madvise ;;
	esac
}

# Run workload $1 under the collector into $2.
collect_one() {
	local name=$1 db=$2
	case $name in
	pipeline) "$collect" -f -o "$db" -- sh "$here/pipeline.sh" ;;
	python-mp) "$collect" -f -o "$db" -- python3 "$here/mp.py" ;;
	make-j2)
		rm -rf "$out/cproj" && cp -r "$here/cproj" "$out/cproj" &&
			"$collect" -f -o "$db" -- make -s -j2 -C "$out/cproj" ;;
	vmops-thp-always) "$collect" -f -o "$db" -- "$vmops" thp ;;
	vmops-*) "$collect" -f -o "$db" -- "$vmops" "${name#vmops-}" ;;
	host-d5)
		# Whole host; a workload runs meanwhile.  It starts once the collector
		# says it is recording (probes attached, start snapshot taken: the -d
		# window starts there), not after a fixed sleep: on a loaded machine
		# loading the BPF programs can take longer than the workload runs.
		local log="$db.stderr" rc i
		: > "$log"
		"$collect" -f -o "$db" -d 5 2> "$log" &
		local cpid=$!
		for i in $(seq 600); do
			grep -q "recording" "$log" && break
			kill -0 $cpid 2> /dev/null || break
			sleep 0.1
		done
		for _ in 1 2 3; do "$vmops" all; sh "$here/pipeline.sh"; done
		wait $cpid
		rc=$?
		cat "$log" >&2
		rm -f "$log"
		return $rc ;;
	*) echo "run.sh: unknown workload '$name'" >&2; return 2 ;;
	esac
}

# "k_av m_av err_av k_avc m_avc err_avc exact divergences explained"
summarise() {
	python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
v = r["validation"]
av, avc = v["anon_vma"], v["anon_vma_chain"]
exact = all(o[k] == o[m] for o in (av, avc)
            for k, m in (("kernel_allocs", "model_allocs"), ("kernel_frees", "model_frees")))
exact = exact and v["divergence_count"] == 0
expl = ",".join("%s=%d" % (e["name"], e["count"]) for e in v["explained"]) or "-"
print(av["kernel_allocs"], av["model_allocs"], "%.4f" % av["error"],
      avc["kernel_allocs"], avc["model_allocs"], "%.4f" % avc["error"],
      int(exact), v["divergence_count"], expl)
EOF
}

failed=0
echo "| workload | anon_vma kernel | anon_vma model | error | anon_vma_chain kernel | anon_vma_chain model | error | divergences | explained |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
for name in "$@"; do
	db=$out/$name.db
	json=$out/$name.json
	flock -x 9
	thp_saved=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp")
	echo "$(thp_mode "$name")" > "$thp"
	collect_one "$name" "$db" > "$out/$name.collect.log" 2>&1
	rc=$?
	if ! grep -q "\[$(thp_mode "$name")\]" "$thp"; then
		echo "run.sh: $name: the THP mode changed during the collection ($(cat "$thp")):" \
			"another process wrote $thp" >&2
		rc=1
	fi
	restore_thp
	flock -u 9
	if [ $rc -ne 0 ]; then
		echo "run.sh: $name: collection failed (see $out/$name.collect.log)" >&2
		tail -3 "$out/$name.collect.log" >&2
		failed=1
		continue
	fi
	"$replay" --validate -o "$json" "$db" > "$out/$name.replay.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
		echo "run.sh: $name: replay failed ($rc, see $out/$name.replay.log)" >&2
		tail -3 "$out/$name.replay.log" >&2
		failed=1
		continue
	fi
	read -r kav mav eav kavc mavc eavc exact ndiv expl < <(summarise "$json")
	echo "| $name | $kav | $mav | $eav | $kavc | $mavc | $eavc | $ndiv | $expl |"
	if [ $rc -ne 0 ]; then
		echo "run.sh: $name: error above the tolerance (report: $json)" >&2
		failed=1
	fi
	if [ $strict = 1 ] && [ "$exact" != 1 ] && echo "$deterministic" | grep -qw -- "$name"; then
		echo "run.sh: $name: deterministic workload is not exact (report: $json)" >&2
		failed=1
	fi
done
echo "run.sh: traces and reports in $out" >&2
exit $failed
