#!/usr/bin/env bash
# anonvma-collect's inputs as an attacker or a careless user would give them,
# for real on this host:
#   -d 1e99 / inf / 2e10 / nan / 0x10, '-o t.db --' with no command, a pid or
#   ring size out of range: one line, non-zero, no trace created (before, some
#   stopped after 30 ms with a "complete" trace, others recorded the whole host
#   until Ctrl-C; each run here is bounded by timeout so that shows as a failure);
#   -f onto a device node: refused, the node stays;
#   a script without '#!': refused with one line (no /bin/sh fallback);
#   -u USER: the command runs with USER's uid, gid and groups only, and sees
#   none of the collector's files; an unknown user is one line;
#   replay --calibrate FILE with a symlink planted at FILE.tmp: the file the
#   link points to is untouched.
set -euo pipefail
BUILD=${BUILD:-build}
C=$(readlink -f "$BUILD/anonvma-collect")
R=$(readlink -f "$BUILD/anonvma-replay")
tmp=$(mktemp -d)
chmod 755 "$tmp" # the -u command (nobody) runs in here
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "collect_safety: $*" >&2; fail=1; }
one_line() {
	[ "$(grep -c . "$2" || true)" -eq 1 ] || bad "$1: stderr is not one line: $(head -c 300 "$2")"
	grep -q -- "$3" "$2" || bad "$1: stderr lacks '$3': $(head -c 300 "$2")"
}
q() { sqlite3 -batch -noheader "$1" "$2"; }

# refused NAME PATTERN ARGS...: non-zero, one line, no trace
refused() {
	local name=$1 pat=$2 st=0
	shift 2
	rm -f "$tmp/r.db"
	timeout -s INT 20 "$C" -o "$tmp/r.db" "$@" > /dev/null 2> "$tmp/err" || st=$?
	[ "$st" -ne 0 ] || bad "$name: exited 0"
	[ "$st" -ne 124 ] || bad "$name: still recording after 20 s"
	one_line "$name" "$tmp/err" "$pat"
	[ ! -e "$tmp/r.db" ] || bad "$name: created a trace"
}
for d in 1e99 inf 2e10 nan -1 0 0x10 " 5" 1e-9; do
	refused "-d '$d'" "--duration '$d' is not a number of seconds from 0.001 to 31536000" -d "$d"
done
refused "'--' and no command" "'--' must be followed by a command" --
refused "-d 1 --" "'--' must be followed by a command" -d 1 --
refused "--pid -1" "--pid '-1' is not a process id" --pid -1
refused "--pid 2^32+1" "is not a process id from 1 to 4194304" --pid 4294967297
refused "--ringbuf-size 0" "--ringbuf-size '0' is not a size in MiB from 1 to 4096" --ringbuf-size 0
refused "--ringbuf-size -1" "is not a size in MiB" --ringbuf-size -1
refused "-u unknown" "no user named 'no-such-user-x'" -u no-such-user-x -- true
refused "-u without command" "give -- CMD" -u nobody -d 1

# -f onto a device node
mknod "$tmp/null" c 1 3
st=0
timeout -s INT 20 "$C" -f -o "$tmp/null" -d 0.5 2> "$tmp/err" || st=$?
[ "$st" -ne 0 ] || bad "-f -o null: exited 0"
one_line "-f -o null" "$tmp/err" "null: a character device, not a trace: not replacing it"
[ -c "$tmp/null" ] || bad "-f -o null: the device node was replaced: $(stat -c %F "$tmp/null")"

# a script without '#!': no shell runs it
printf 'touch %s/ran\n' "$tmp" > "$tmp/noshebang"
chmod 755 "$tmp/noshebang"
st=0
timeout -s INT 60 "$C" -o "$tmp/ns.db" -- "$tmp/noshebang" 2> "$tmp/err" || st=$?
[ "$st" -eq 127 ] || bad "no '#!': exited $st, want 127"
one_line "no '#!'" "$tmp/err" "Exec format error.*'#!'"
[ ! -e "$tmp/ran" ] || bad "no '#!': the script ran through a shell"

# -u nobody: uid, gid and groups of nobody; no descriptor of the collector's files
printf '#!/bin/sh\nid -u; id -g; id -G\nls -l /proc/self/fd/\n' > "$tmp/who"
chmod 755 "$tmp/who"
nobody="$(id -u nobody) $(id -g nobody) $(id -G nobody)"
st=0
timeout -s INT 60 "$C" -o "$tmp/u.db" -u nobody -- "$tmp/who" > "$tmp/who.out" 2> "$tmp/err" || st=$?
[ "$st" -eq 0 ] || bad "-u nobody: exited $st: $(cat "$tmp/err")"
[ "$(head -3 "$tmp/who.out" | tr '\n' ' ')" = "$nobody " ] ||
	bad "-u nobody: ran as '$(head -3 "$tmp/who.out" | tr '\n' ' ')', want '$nobody '"
grep -q -- '->' "$tmp/who.out" || bad "-u nobody: no descriptor list: $(cat "$tmp/who.out")"
if grep -q 'u\.db' "$tmp/who.out"; then bad "-u nobody: the command holds the trace open"; fi
[ "$(q "$tmp/u.db" "SELECT value FROM meta WHERE key='complete'")" = 1 ] || bad "-u nobody: trace not complete"
[ "$(q "$tmp/u.db" "SELECT count(*) > 0 FROM events WHERE kind=2")" = 1 ] ||
	bad "-u nobody: the command's exec was not recorded"

# --calibrate FILE with a symlink planted at FILE.tmp
cat > "$tmp/forker.py" <<'PY'
import os
buf = bytearray(4 << 20)
for i in range(0, len(buf), 4096):
    buf[i] = 1
for i in range(40):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
PY
timeout -s INT 120 "$C" -o "$tmp/c.db" -- python3 "$tmp/forker.py" 2> "$tmp/err" || bad "collect forker: $(tail -1 "$tmp/err")"
echo precious > "$tmp/victim"
ln -s "$tmp/victim" "$tmp/cal.yaml.tmp"
chown -h nobody "$tmp/cal.yaml.tmp"
st=0
"$R" -q --calibrate "$tmp/cal.yaml" -o "$tmp/c.json" "$tmp/c.db" 2> "$tmp/err" || st=$?
[ "$st" -eq 0 ] || bad "--calibrate: exited $st: $(cat "$tmp/err")"
[ "$(cat "$tmp/victim")" = precious ] || bad "--calibrate wrote through the planted FILE.tmp symlink"
[ -f "$tmp/cal.yaml" ] && [ ! -L "$tmp/cal.yaml" ] || bad "--calibrate: cal.yaml is not a regular file"
grep -q '^name: cal$' "$tmp/cal.yaml" || bad "--calibrate: cal.yaml not written"
[ "$(ls "$tmp" | grep -c 'cal\.yaml\.tmp\.')" -eq 0 ] || bad "--calibrate left a temporary file"

exit $fail
