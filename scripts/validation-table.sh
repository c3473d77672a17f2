#!/usr/bin/env bash
# scripts/validation-table.sh [--update] - the validation table of the suite.
#
# Collects every workload of tests/workloads/ (as root, for real), validates
# the eager model against the kernel's own allocations in each trace
# (anonvma-replay --validate) and prints a markdown table.  With --update the
# table also replaces the generated part of docs/validation.md and README.md.
set -uo pipefail
cd "$(dirname "$0")/.."
update=0
[ "${1:-}" = --update ] && update=1
make -s all >&2 || exit 2
out=$(mktemp -d /tmp/anonvma-table.XXXXXX)
table=$out/table.md
tests/workloads/run.sh -b "${BUILD:-build}" -o "$out" -s \
	pipeline python-mp make-j2 vmops-mprotect vmops-mremap vmops-mapfixed vmops-dontfork \
	vmops-thp vmops-thp-always vmops-forktree vmops-vfork vmops-execstorm vmops-threads \
	host-d5 > "$table"
rc=$?
cat "$table"
# Replace what lies between the table markers of file $1 with the table.
put_table() {
	{
		sed '/^<!-- table:begin -->$/q' "$1"
		echo "Generated $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -r) by \`scripts/validation-table.sh --update\`."
		echo
		cat "$table"
		sed -n '/^<!-- table:end -->$/,$p' "$1"
	} > "$out/put.md" && cat "$out/put.md" > "$1"
}
if [ $update = 1 ]; then
	put_table docs/validation.md
	put_table README.md
fi
exit $rc
