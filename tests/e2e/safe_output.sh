#!/usr/bin/env bash
# Outputs of replay, report and synth never clobber what is not theirs, and
# text from a trace never reaches a terminal raw:
#   -o onto a character device: written through (a /dev/null node stays a
#   device, a /dev/full node gives one error line and a non-zero exit);
#   /dev/stdout (a link like it) and a FIFO get the report; a directory or a block device is
#   refused; a symlink planted by another user is refused, the file it points
#   to untouched; synth --force never removes a device node or FIFO (the trace
#   or its -wal); escape sequences in trace meta come out as \xHH in replay's
#   summary and errors, report's text, and \u00HH in every JSON; every numeric
#   option refuses inf, nan, hex, blanks and out-of-range values in one line.
# Device nodes are private ones made with mknod: never the machine's own.
set -euo pipefail
BUILD=${BUILD:-build}
R=$(readlink -f "$BUILD/anonvma-replay")
P=$(readlink -f "$BUILD/anonvma-report")
S=$(readlink -f "$BUILD/anonvma-synth")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "safe_output: $*" >&2; fail=1; }

# one_line NAME ERRFILE PATTERN: exactly one stderr line, containing PATTERN
one_line() {
	[ "$(grep -c . "$2" || true)" -eq 1 ] || bad "$1: stderr is not one line: $(cat "$2")"
	grep -q -- "$3" "$2" || bad "$1: stderr lacks '$3': $(cat "$2")"
}
# is_dev NAME PATH MAJOR MINOR: still the character device it was made as
is_dev() {
	[ "$(stat -c '%F %t %T' "$2")" = "character special file $3 $4" ] ||
		bad "$1: $2 is no longer the device: $(stat -c '%F %s' "$2")"
}
# run NAME WANT_STATUS CMD...: the exit status (0, or non-zero for "!0")
run() {
	local name=$1 want=$2 st=0
	shift 2
	"$@" > "$tmp/out" 2> "$tmp/err" || st=$?
	if [ "$want" = "!0" ]; then
		[ "$st" -ne 0 ] || bad "$name: exited 0"
	else
		[ "$st" -eq "$want" ] || bad "$name: exited $st, want $want: $(cat "$tmp/err")"
	fi
}

mknod "$tmp/full" c 1 7
mknod "$tmp/null" c 1 3
mknod "$tmp/blk" b 7 200
"$S" configs/scenarios/prefork-server.yaml -o "$tmp/t.db" -q --scale 0.05 2> /dev/null

# --- replay -o ---------------------------------------------------------------
run "replay -o full" "!0" "$R" -q -o "$tmp/full" "$tmp/t.db"
one_line "replay -o full" "$tmp/err" "No space left on device"
is_dev "replay -o full" "$tmp/full" 1 7
run "replay -o null" 0 "$R" -q -o "$tmp/null" "$tmp/t.db"
is_dev "replay -o null" "$tmp/null" 1 3
# /dev/stdout on a pipe: a private link made like /dev/stdout (root's, to
# /proc/self/fd/1), so a broken build replaces this link, not the machine's
ln -s /proc/self/fd/1 "$tmp/stdout"
schema=$("$R" -q -o "$tmp/stdout" "$tmp/t.db" | jq -r .schema) || true
[ "$schema" = anonvma-report/3 ] || bad "replay -o stdout link: no report on the pipe ('$schema')"
[ -L "$tmp/stdout" ] || bad "replay -o stdout link: the link was replaced"
# ... and on a file (the shell's redirection): the report lands in that file
"$R" -q -o "$tmp/stdout" "$tmp/t.db" > "$tmp/redir.json" 2> "$tmp/err" || bad "stdout to a file: $(cat "$tmp/err")"
[ "$(jq -r .schema "$tmp/redir.json" 2> /dev/null)" = anonvma-report/3 ] || bad "stdout to a file: no report in it"
[ -L "$tmp/stdout" ] || bad "stdout to a file: the link was replaced"
mkfifo "$tmp/fifo"
# (bounded: a replay that replaces the FIFO never opens it, and the reader waits)
timeout 60 cat "$tmp/fifo" > "$tmp/fifo.out" &
reader=$!
run "replay -o fifo" 0 "$R" -q -o "$tmp/fifo" "$tmp/t.db"
wait "$reader" || true
[ "$(jq -r .schema "$tmp/fifo.out" 2> /dev/null)" = anonvma-report/3 ] ||
	bad "replay -o fifo: the reader got no report"
[ -p "$tmp/fifo" ] || bad "replay -o fifo: the FIFO was replaced"
run "replay -o dir" 1 "$R" -q -o "$tmp" "$tmp/t.db"
one_line "replay -o dir" "$tmp/err" "is a directory"
run "replay -o blk" 1 "$R" -q -o "$tmp/blk" "$tmp/t.db"
one_line "replay -o blk" "$tmp/err" "is a block device"
[ -b "$tmp/blk" ] || bad "replay -o blk: the node was replaced"
# a symlink another user planted where the report goes
echo precious > "$tmp/victim"
ln -s "$tmp/victim" "$tmp/planted.json"
chown -h nobody "$tmp/planted.json"
run "replay -o planted link" 1 "$R" -q -o "$tmp/planted.json" "$tmp/t.db"
one_line "replay -o planted link" "$tmp/err" "owned by uid $(id -u nobody)"
[ "$(cat "$tmp/victim")" = precious ] || bad "replay -o planted link: the victim was written"
run "replay -o r.json" 0 "$R" -q -o "$tmp/r.json" "$tmp/t.db"
ls "$tmp" | grep -q '\.tmp' && bad "replay: a temporary file was left: $(ls "$tmp")"

# --- report --merge -o -------------------------------------------------------
run "report -o full" "!0" "$P" --merge -o "$tmp/full" "$tmp/r.json"
one_line "report -o full" "$tmp/err" "No space left on device"
is_dev "report -o full" "$tmp/full" 1 7
run "report -o null" 0 "$P" --merge -o "$tmp/null" "$tmp/r.json"
is_dev "report -o null" "$tmp/null" 1 3
run "report -o dir" 1 "$P" --merge -o "$tmp" "$tmp/r.json"
one_line "report -o dir" "$tmp/err" "is a directory"
# stdout itself full: one line, non-zero
st=0
"$P" "$tmp/r.json" > "$tmp/full" 2> "$tmp/err" || st=$?
[ "$st" -ne 0 ] || bad "report > full: exited 0"
one_line "report > full" "$tmp/err" "write"

# --- synth --force never removes what is not a trace --------------------------
run "synth -f -o null" 1 "$S" configs/scenarios/build.yaml -f -q -o "$tmp/null"
one_line "synth -f -o null" "$tmp/err" "null: a character device, not a trace: not replacing it"
is_dev "synth -f -o null" "$tmp/null" 1 3
cp "$tmp/t.db" "$tmp/w.db"
mkfifo "$tmp/w.db-wal"
run "synth -f, a FIFO as -wal" 1 "$S" configs/scenarios/build.yaml -f -q -o "$tmp/w.db"
one_line "synth -f, a FIFO as -wal" "$tmp/err" "w.db-wal: a fifo, not a trace: not replacing it"
[ -p "$tmp/w.db-wal" ] || bad "synth -f: the FIFO -wal was removed"
cmp -s "$tmp/t.db" "$tmp/w.db" || bad "synth -f refused, yet changed the trace"

# --- escape sequences from a trace --------------------------------------------
cp "$tmp/t.db" "$tmp/e.db"
sqlite3 "$tmp/e.db" "UPDATE meta SET value = 'EVIL' || char(27) || ']0;pwned' || char(7) ||
	char(27) || '[2J' || char(127) || char(155) || CAST(X'9b' AS TEXT) || 'END'
	WHERE key = 'kernel_release'"
raw() { LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f\x9b]' "$1" || true; }
run "replay escaped" 0 "$R" -o "$tmp/e.json" "$tmp/e.db"
grep -q 'EVIL\\x1b\]0;pwned\\x07\\x1b\[2J\\x7f\\xc2\\x9b\\x9bEND' "$tmp/out" ||
	bad "replay summary: kernel_release not escaped: $(grep -a EVIL "$tmp/out")"
[ "$(raw "$tmp/out")" -eq 0 ] || bad "replay summary: raw control bytes"
[ "$(raw "$tmp/e.json")" -eq 0 ] || bad "replay report: raw control bytes"
jq -e '.trace.host.kernel_release | startswith("EVIL\u001b]0;pwned")' "$tmp/e.json" > /dev/null ||
	bad "replay report: not valid JSON with the escaped string"
run "report text escaped" 0 "$P" "$tmp/e.json"
grep -q 'EVIL\\x1b\]0;pwned\\x07' "$tmp/out" || bad "report text: not escaped: $(grep -a EVIL "$tmp/out")"
[ "$(raw "$tmp/out")" -eq 0 ] || bad "report text: raw control bytes"
run "report json escaped" 0 "$P" --json "$tmp/e.json"
[ "$(raw "$tmp/out")" -eq 0 ] || bad "report --json: raw control bytes"
jq -e . "$tmp/out" > /dev/null || bad "report --json: not valid JSON"
# trace text in an error line
sqlite3 "$tmp/e.db" "UPDATE meta SET value = 'x86' || char(27) || '[2J' || char(10) || 'forged line'
	WHERE key = 'arch'"
run "replay error escaped" 1 "$R" -q -o "$tmp/e2.json" "$tmp/e.db"
one_line "replay error escaped" "$tmp/err" 'x86\\x1b\[2J\\x0aforged line'
[ "$(raw "$tmp/err")" -eq 0 ] || bad "replay error: raw control bytes"

# --- numeric options: strict, in their documented range -----------------------
for v in nan inf -1 2 1e99 0x1 " 0.5" ""; do
	run "replay --tolerance '$v'" 2 "$R" -q --tolerance "$v" -o "$tmp/x.json" "$tmp/t.db"
	one_line "replay --tolerance '$v'" "$tmp/err" "is not a share from 0 to 1"
done
run "replay --tolerance 1" 0 "$R" -q --tolerance 1 -o "$tmp/x.json" "$tmp/t.db"
for v in nan inf 0 -1 1e7 0x10 " 1"; do
	run "synth --scale '$v'" 1 "$S" configs/scenarios/build.yaml -q --scale "$v" -o "$tmp/s.db"
	one_line "synth --scale '$v'" "$tmp/err" "is not a factor from"
done
for v in -1 " -1" 0x10 1e3 9223372036854775808 18446744073709551616; do
	run "synth --seed '$v'" 1 "$S" configs/scenarios/build.yaml -q --seed "$v" -o "$tmp/s.db"
	one_line "synth --seed '$v'" "$tmp/err" "is not a seed from 0 to 9223372036854775807"
done
[ ! -e "$tmp/s.db" ] || bad "a refused synth option left a trace"

exit $fail
