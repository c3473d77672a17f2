#!/usr/bin/env bash
# The systemd service and timer (contrib/systemd, docs/collect.md "Unattended
# collection"): make install into a DESTDIR puts them under
# share/anonvma/systemd with ExecStart naming the installed collector, and
# `systemd-analyze verify --root=DESTDIR` accepts them without a word about
# them (an unknown key, a missing binary, a bad calendar fail); the options
# ExecStart passes are ones the collector accepts (run for one second into a
# temporary directory).  make uninstall removes them.
# check: normal-build-only
set -euo pipefail
BUILD=${BUILD:-build}
root=$PWD
build=$(realpath "$BUILD")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "systemd_units: $*" >&2; exit 1; }
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -C "$root" BUILD="$build" "$@"; }

stage=$dir/stage
mk install DESTDIR="$stage" > "$dir/out" 2>&1 || fail "make install: $(cat "$dir/out")"
units=$stage/usr/local/share/anonvma/systemd
for u in anonvma-collect.service anonvma-collect.timer; do
	[ -f "$units/$u" ] || fail "$u not installed in $units"
done
grep -qx 'ExecStart=/usr/local/bin/anonvma-collect .*' "$units/anonvma-collect.service" ||
	fail "ExecStart does not name the installed collector: $(grep ExecStart "$units/anonvma-collect.service")"
! grep -q '@BINDIR@' "$units"/* || fail "@BINDIR@ left in a unit"

# verify inside the staged tree: the units where systemd looks, the host's own
# units for the targets they name, the staged man pages for Documentation=
verify() {
	mkdir -p "$stage/etc/systemd/system" "$stage/usr/lib/systemd"
	cp "$units"/* "$stage/etc/systemd/system/"
	[ -d "$stage/usr/lib/systemd/system" ] || cp -rL /usr/lib/systemd/system "$stage/usr/lib/systemd/" 2> /dev/null || true
	(cd "$dir" && MANPATH=$stage/usr/local/share/man systemd-analyze verify --root="$stage" \
		anonvma-collect.service anonvma-collect.timer) > "$dir/verify" 2>&1
}
verify || fail "systemd-analyze verify: $(grep anonvma "$dir/verify")"
! grep -q anonvma "$dir/verify" || fail "systemd-analyze verify: $(grep anonvma "$dir/verify")"

# the check can fail: a unit with an unknown key and one whose binary is missing
cp "$units/anonvma-collect.service" "$dir/good.service"
sed -i 's/^UMask=/BogusKey=1\nUMask=/' "$units/anonvma-collect.service"
verify || true
grep -q "Unknown key 'BogusKey'" "$dir/verify" || fail "verify did not notice an unknown key"
cp "$dir/good.service" "$units/anonvma-collect.service"
mv "$stage/usr/local/bin/anonvma-collect" "$dir/c"
if verify; then fail "verify accepted a service whose binary is missing"; fi
mv "$dir/c" "$stage/usr/local/bin/anonvma-collect"

# ExecStart's options, for one second into a temporary directory
cmd=$(sed -n 's/^ExecStart=//p' "$units/anonvma-collect.service" | sed -e 's/%%/%/g' \
	-e "s|/var/lib/anonvma|$dir/state|" -e 's/-d 3600/-d 1/' -e "s|^/usr/local/bin|$stage/usr/local/bin|")
mkdir "$dir/state"
# shellcheck disable=SC2086
$cmd 2> "$dir/run.err" || fail "ExecStart's command failed: $(cat "$dir/run.err")"
grep -q '^anonvma-collect: done: ' "$dir/run.err" || fail "no summary: $(cat "$dir/run.err")"
ls "$dir/state"/host-2*.0000.db.zst > /dev/null || fail "no compressed segment: $(ls "$dir/state")"

mk uninstall DESTDIR="$stage" > "$dir/out" 2>&1 || fail "make uninstall: $(cat "$dir/out")"
[ ! -e "$units" ] || fail "make uninstall left $(ls "$units")"
echo "systemd_units: ok"
