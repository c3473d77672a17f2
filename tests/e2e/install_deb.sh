#!/usr/bin/env bash
# make deb builds a package whose control fields are complete and whose
# Depends name the package of every shared library the tools link (dpkg -S
# on each library ldd resolves); the package is extracted with dpkg-deb -x
# into a temporary directory - never installed on this machine - and every
# tool runs from there, from another directory, without ANONVMA_DATADIR:
# --version (naming the extracted data), --help, a synth + replay + report
# run, a real collection of one command replayed, a man page rendered from
# the package.
# check: normal-build-only
set -euo pipefail
BUILD=${BUILD:-build}
root=$PWD
build=$(realpath "$BUILD")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "install_deb: $*" >&2; exit 1; }
unset ANONVMA_DATADIR ANONVMA_ARCH_DIR

deb=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -C "$root" \
	BUILD="$build" deb 2>"$dir/err" | tail -n 1) || fail "make deb: $(cat "$dir/err")"
case "$deb" in /*) ;; *) deb="$root/$deb" ;; esac
[ -f "$deb" ] || fail "make deb did not name its package (got '$deb')"
version=$(cat "$root/VERSION")
[ "$(basename "$deb")" = "anonvma_${version}_$(dpkg --print-architecture).deb" ] ||
	fail "package file name: $(basename "$deb")"
for f in Package Version Architecture Maintainer Depends Description; do
	[ -n "$(dpkg-deb -f "$deb" "$f")" ] || fail "control field $f is empty"
done
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version is not VERSION ($version)"
depends=$(dpkg-deb -f "$deb" Depends)
# Every library a tool links comes from a package named in Depends.
for t in "$build"/anonvma-*; do
	[ -x "$t" ] || continue
	ldd "$t" | awk '/=>/ && $3 ~ /^\// {print $3}'
done | sort -u > "$dir/libs"
[ -s "$dir/libs" ] || fail "ldd found no libraries"
while read -r so; do
	pkg=$( (dpkg -S "$(realpath "$so")" 2>/dev/null || dpkg -S "$so") | head -n 1 | sed 's/:.*//')
	[ -n "$pkg" ] || fail "no package owns $so"
	case ", $depends," in *", $pkg "*|*", $pkg,"*) ;;
		*) fail "Depends lacks $pkg (for $so): $depends" ;; esac
done < "$dir/libs"
for pkg in libsqlite3-0 libyaml-0-2 libcjson1 libbpf1 libelf1 zlib1g libzstd1; do
	case ", $depends," in *", $pkg "*|*", $pkg,"*) ;; *) fail "Depends lacks $pkg: $depends" ;; esac
done
dpkg-deb -c "$deb" > "$dir/list"
grep -q '\./usr/share/man/man5/anonvma-config\.5\.gz$' "$dir/list" || fail "man pages not gzipped in the package"
if awk '{print $2}' "$dir/list" | grep -qv '^root/root$'; then fail "files not owned by root in the package"; fi

x="$dir/x"
dpkg-deb -x "$deb" "$x"
work="$dir/work"
mkdir -p "$work"
cd "$work"
for t in anonvma-collect anonvma-replay anonvma-report anonvma-synth; do
	[ -x "$x/usr/bin/$t" ] || fail "$t missing from the package"
	"$x/usr/bin/$t" --version > "$dir/v" || fail "$t --version exited non-zero"
	grep -qx "$t $version" "$dir/v" || fail "$t --version: $(cat "$dir/v")"
	grep -qx "trace schema [0-9]*; data directory: $(realpath "$x/usr/share/anonvma")" "$dir/v" ||
		fail "$t from the package does not find the package's data: $(cat "$dir/v")"
	"$x/usr/bin/$t" --help > "$dir/help.txt" && grep -q "^examples:" "$dir/help.txt" ||
		fail "$t --help has no examples"
	[ -f "$x/usr/share/man/man1/$t.1.gz" ] || fail "$t.1.gz missing"
done
"$x/usr/bin/anonvma-synth" prefork-server -o p.db --scale 0.2 -q 2>"$dir/err" ||
	fail "synth from the package: $(cat "$dir/err")"
"$x/usr/bin/anonvma-replay" -q p.db -o p.json 2>"$dir/err" || fail "replay from the package: $(cat "$dir/err")"
"$x/usr/bin/anonvma-report" p.json > "$dir/p.txt" && grep -q "^verdict: " "$dir/p.txt" ||
	fail "report from the package has no verdict"
# The stripped collector still carries its BPF object: record a command, replay it.
"$x/usr/bin/anonvma-collect" -o c.db -- /bin/sh -c 'exit 0' 2>"$dir/err" ||
	fail "collect from the package: $(cat "$dir/err")"
[ "$(sqlite3 c.db "SELECT value FROM meta WHERE key = 'tool_version'")" = "$version" ] ||
	fail "the collected trace's tool_version is not $version"
[ "$(sqlite3 c.db "SELECT count(*) FROM events WHERE kind = 2")" -ge 1 ] ||
	fail "the collection from the package recorded no exec"
"$x/usr/bin/anonvma-replay" -q c.db -o c.json 2>"$dir/err" || fail "replay of that trace: $(cat "$dir/err")"
zcat "$x/usr/share/man/man1/anonvma-replay.1.gz" | mandoc -T ascii > "$dir/man" ||
	fail "the packaged man page does not render"
grep -q "ANONVMA_DATADIR" "$dir/man" || fail "the packaged replay man page lacks its FILES section"
echo "install_deb: ok ($(basename "$deb"): $depends)"
