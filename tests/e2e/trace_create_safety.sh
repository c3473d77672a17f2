#!/usr/bin/env bash
# Creating a trace (anonvma-synth -o, anonvma-collect -o, with and without -f)
# never removes, replaces or follows anything but a regular file: a symlink,
# fifo or device node at the path, or a symlink planted at its -wal / -shm,
# is refused with one line and left as it was, and so is what it points to.
# A failure while creating (a full disk) is one line naming the cause, not the
# schema, and leaves no half-made trace.
set -euo pipefail
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
mnt=$tmp/small
cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
scenario=configs/scenarios/prefork-server.yaml

refused() { # text command...
	local text=$1 st=0
	shift
	"$@" > /dev/null 2> "$tmp/err" || st=$?
	[ "$st" -ne 0 ] || fail "$*: exited 0"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$*: stderr is not one line: $(cat "$tmp/err")"
	grep -q -- "$text" "$tmp/err" || fail "$*: '$(cat "$tmp/err")' lacks '$text'"
}
synth() { "$BUILD/anonvma-synth" "$scenario" -q -x 0.01 "$@"; }

echo precious > "$tmp/victim"
ln -s "$tmp/victim" "$tmp/link.db"
mkfifo "$tmp/fifo.db"
mknod "$tmp/null.db" c 1 3 # a private /dev/null
for f in "" -f; do
	refused "link.db: a symbolic link, not a trace: not replacing it" synth $f -o "$tmp/link.db"
	refused "fifo.db: a fifo, not a trace" synth $f -o "$tmp/fifo.db"
	refused "null.db: a character device, not a trace" synth $f -o "$tmp/null.db"
done
[ -L "$tmp/link.db" ] || fail "the symlink was replaced"
[ -p "$tmp/fifo.db" ] || fail "the fifo was replaced"
[ -c "$tmp/null.db" ] || fail "the device node was replaced"

# a symlink planted at the -wal or the -shm is never followed (nor removed)
for side in wal shm; do
	ln -s "$tmp/victim" "$tmp/p$side.db-$side"
	for f in "" -f; do
		refused "p$side.db-$side: a symbolic link" synth $f -o "$tmp/p$side.db"
	done
	[ -L "$tmp/p$side.db-$side" ] || fail "the planted -$side link was removed"
	[ ! -e "$tmp/p$side.db" ] || fail "a trace was created next to a planted -$side"
done
[ "$(cat "$tmp/victim")" = precious ] || fail "the link target was written"

# the collector creates its trace the same way (before it loads anything)
refused "link.db: a symbolic link, not a trace" "$BUILD/anonvma-collect" -f -o "$tmp/link.db" -- true
refused "pwal.db-wal: a symbolic link" "$BUILD/anonvma-collect" -f -o "$tmp/pwal.db" -- true

# -f replaces a regular trace, and a left-over -wal only with -f
synth -o "$tmp/t.db" 2> /dev/null
refused "t.db: already exists" synth -o "$tmp/t.db"
synth -f -o "$tmp/t.db" 2> /dev/null
echo stale > "$tmp/s.db-wal"
refused "s.db-wal: left over from another trace" synth -o "$tmp/s.db"
synth -f -o "$tmp/s.db" 2> /dev/null
[ ! -e "$tmp/s.db-wal" ] || fail "-f kept the stale -wal"
"$BUILD/anonvma-replay" -q "$tmp/s.db" -o "$tmp/s.json" || fail "the -f trace does not replay"

# a full disk while creating: one line naming the cause, nothing left behind
mkdir "$mnt"
mount -t tmpfs -o size=64k tmpfs "$mnt" || fail "cannot mount a tmpfs (root needed)"
head -c 60000 /dev/zero > "$mnt/filler" 2> /dev/null || true
refused "cannot create the trace: database or disk is full" synth -o "$mnt/t.db"
grep -q CREATE "$tmp/err" && fail "the schema was printed"
[ ! -e "$mnt/t.db" ] || fail "a half-made trace was left on the full disk"
echo "trace_create_safety: ok"
