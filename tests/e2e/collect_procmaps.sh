#!/usr/bin/env bash
# The reduced-fidelity snapshot path (kernels without the BPF task_vma
# iterator or kfuncs), forced here with --proc-maps: the start snapshot and
# the exec snapshots come from /proc/PID/maps.  Checks: meta says so; the
# start snapshot lists the held command, and its mm id is the one the
# command's first event (its EXEC) carries, though /proc knows no mm address;
# an exec gets rows for the new mm, with files and no anon_vma state.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/t.db
fail=0
. tests/lib/dbcheck.sh

# The command execs sh, which execs sleep: sleep runs long enough for its
# maps to be read (a /proc snapshot races with the process it lists).
"$BUILD/anonvma-collect" --proc-maps -o "$db" -- sh -c 'exec sleep 1'

check "meta snapshot_source" proc_maps "$(q "SELECT value FROM meta WHERE key='snapshot_source'")"
check "start snapshot: one mm" 1 "$(q "SELECT count(DISTINCT mm) FROM snap_vmas WHERE snap=1")"
check "start snapshot event counts its rows" "$(q "SELECT count(*) FROM snap_vmas WHERE snap=1")" \
	"$(q "SELECT c FROM events WHERE kind=60 AND a=1")"
check "two execs" 2 "$(q "SELECT count(*) FROM events WHERE kind=2")"
omm=$(q "SELECT mm FROM event_view WHERE kind=2 ORDER BY seq LIMIT 1")
check "start snapshot mm is the first exec's old mm" "$omm" "$(q "SELECT mm FROM snap_vmas WHERE snap=1 LIMIT 1")"
IFS='|' read -r nmm snap <<<"$(q "SELECT a||'|'||b FROM event_view WHERE kind=2 ORDER BY seq DESC LIMIT 1")"
[ "$snap" -gt 1 ] || { echo "collect_procmaps: exec without a snapshot id" >&2; fail=1; }
check "exec snapshot rows of the new mm" 1 "$(q "SELECT count(*) > 2 AND min(mm)=$nmm AND max(mm)=$nmm FROM snap_vmas WHERE snap=$snap")"
check "exec snapshot: the program's file mapped" 1 "$(q "SELECT count(*) > 0 FROM snap_vmas WHERE snap=$snap AND file<>0")"
check "no anon_vma state from /proc" "0 0" "$(q "SELECT sum(anon_vma) || ' ' || sum(chain_len) FROM snap_vmas")"
check "a stack" 1 "$(q "SELECT count(*) FROM snap_vmas WHERE snap=$snap AND (flags & 256)<>0")"
check "complete" 1 "$(q "SELECT value FROM meta WHERE key='complete'")"
exit $fail
