#!/usr/bin/env bash
# make install into a temporary DESTDIR (and a second PREFIX), then every
# tool runs from another directory and finds its data next to itself: the
# default replay run that once failed with "unknown arch" (the arch chosen
# from the trace), a shipped scenario by name, --version naming the staged
# data directory, --help with examples.  A binary copied alone fails with one
# line naming the search order and works with ANONVMA_DATADIR.  make uninstall
# leaves no file behind.
# check: normal-build-only
set -euo pipefail
BUILD=${BUILD:-build}
root=$PWD
build=$(realpath "$BUILD")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "install_destdir: $*" >&2; exit 1; }
# A make started by this test must not inherit the variables of the make running it.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -C "$root" BUILD="$build" "$@"; }

stage="$dir/stage"
mk install DESTDIR="$stage" >"$dir/out" 2>&1 || fail "make install: $(cat "$dir/out")"
p="$stage/usr/local"
tools=(anonvma-collect anonvma-replay anonvma-report anonvma-synth)
for t in "${tools[@]}"; do
	[ -x "$p/bin/$t" ] || fail "$t not installed in $p/bin"
	[ -f "$p/share/man/man1/$t.1" ] || fail "man page of $t not installed"
done
for f in default.yaml arch/x86_64-4level.yaml arch/arm64-4k-48bit.yaml scenarios/android-24-apps.yaml \
	 ../man/man5/anonvma-config.5 ../man/man5/anonvma-scenario.5 ../doc/anonvma/install.md; do
	[ -f "$p/share/anonvma/$f" ] || fail "$f not installed"
done
[ "$(ls "$p/share/anonvma/arch" | wc -l)" = "$(ls "$root/configs/arch" | wc -l)" ] ||
	fail "not every arch model installed"

# From a directory with no configs/ in sight.
work="$dir/work"
mkdir -p "$work"
cd "$work"
for t in "${tools[@]}"; do
	"$p/bin/$t" --version > "$dir/v" || fail "$t --version exited non-zero"
	grep -qx "$t $(cat "$root/VERSION")" "$dir/v" || fail "$t --version: $(cat "$dir/v")"
	grep -qx "trace schema [0-9]*; data directory: $(realpath "$p/share/anonvma")" "$dir/v" ||
		fail "$t --version does not name the staged data: $(cat "$dir/v")"
	"$p/bin/$t" --help > "$dir/h" || fail "$t --help exited non-zero"
	grep -q "^examples:" "$dir/h" || fail "$t --help has no examples"
done
"$p/bin/anonvma-synth" android-24-apps -o a.db --scale 0.25 -q 2>"$dir/err" ||
	fail "synth by name: $(cat "$dir/err")"
[ "$(sqlite3 a.db "SELECT value FROM meta WHERE key = 'tool_version'")" = "$(cat "$root/VERSION")" ] ||
	fail "the trace's tool_version is not VERSION"
"$p/bin/anonvma-replay" -q a.db -o a.json 2>"$dir/err" || fail "default replay: $(cat "$dir/err")"
"$p/bin/anonvma-replay" -q --arch arm64-4k-48bit a.db -o arm.json 2>"$dir/err" ||
	fail "--arch by name: $(cat "$dir/err")"
"$p/bin/anonvma-replay" -q -c "$p/share/anonvma/default.yaml" a.db -o d.json 2>"$dir/err" ||
	fail "--config default.yaml: $(cat "$dir/err")"
"$p/bin/anonvma-report" a.json > "$dir/r" || fail "report"
grep -q "^verdict: " "$dir/r" || fail "report has no verdict: $(head -5 "$dir/r")"
arch_of() { python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["arch"]; print(a["name"], a["source"])' "$1"; }
[ "$(arch_of a.json)" = "x86_64-4level $p/bin/../share/anonvma/arch/x86_64-4level.yaml" ] ||
	fail "default arch not the staged x86_64-4level: $(arch_of a.json)"
[ "$(arch_of arm.json)" = "arm64-4k-48bit $p/bin/../share/anonvma/arch/arm64-4k-48bit.yaml" ] ||
	fail "--arch arm64-4k-48bit not the staged one: $(arch_of arm.json)"

# A binary copied alone: one clear line, then ANONVMA_DATADIR finds the data.
mkdir lonely
cp "$p/bin/anonvma-replay" lonely/
if lonely/anonvma-replay -q a.db -o x.json 2>"$dir/err"; then fail "a lone binary found data"; fi
[ "$(wc -l < "$dir/err")" = 1 ] || fail "lone binary: not one line: $(cat "$dir/err")"
grep -q "unknown arch 'x86_64-4level'.*ANONVMA_DATADIR" "$dir/err" ||
	fail "lone binary: the error does not name ANONVMA_DATADIR: $(cat "$dir/err")"
ANONVMA_DATADIR="$p/share/anonvma" lonely/anonvma-replay -q a.db -o x.json 2>"$dir/err" ||
	fail "ANONVMA_DATADIR not used: $(cat "$dir/err")"
cd "$root"

# Another PREFIX, same binaries: the data is found relative to bin/.
mk install DESTDIR="$stage" PREFIX=/opt/anonvma >"$dir/out" 2>&1 || fail "PREFIX install: $(cat "$dir/out")"
(cd "$work" && "$stage/opt/anonvma/bin/anonvma-synth" build -o b.db --scale 0.1 -q) 2>"$dir/err" ||
	fail "synth under PREFIX=/opt/anonvma: $(cat "$dir/err")"

# Uninstall removes every file install wrote.
mk uninstall DESTDIR="$stage" >"$dir/out" 2>&1 || fail "make uninstall: $(cat "$dir/out")"
mk uninstall DESTDIR="$stage" PREFIX=/opt/anonvma >"$dir/out" 2>&1 || fail "make uninstall: $(cat "$dir/out")"
left=$(find "$stage" -type f)
[ -z "$left" ] || fail "files left after uninstall: $left"
[ ! -d "$p/share/anonvma" ] || fail "share/anonvma left after uninstall"
echo "install_destdir: ok"
