#!/usr/bin/env bash
# scripts/mkdeb.sh BUILD VERSION - `make deb`: BUILD/anonvma_VERSION_ARCH.deb.
#
# Stages `make install DESTDIR=BUILD/deb/root PREFIX=/usr` (the same binaries
# as BUILD/: they find /usr/share/anonvma relative to /usr/bin, see
# docs/install.md), strips the tools, gzips the man pages as Debian policy
# wants, writes DEBIAN/control with Depends from dpkg-shlibdeps (the packages
# of the shared libraries the tools link, with the minimum versions their
# symbols need) and builds the package with dpkg-deb --root-owner-group.
# Prints the path of the .deb on stdout.
set -euo pipefail
build=${1:-build}
version=${2:?usage: mkdeb.sh BUILD VERSION}
cd "$(dirname "$0")/.."
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
arch=$(dpkg --print-architecture)
stage="$build/deb"
root="$stage/root"
deb="$build/anonvma_${version}_${arch}.deb"

rm -rf "$stage"
mkdir -p "$stage"
make --no-print-directory -s install BUILD="$build" DESTDIR="$root" PREFIX=/usr >&2
strip --strip-unneeded --remove-section=.comment "$root"/usr/bin/*
gzip -9n "$root"/usr/share/man/man*/*

# dpkg-shlibdeps wants a source package around the binaries it reads.
mkdir -p "$stage/src/debian"
printf 'Source: anonvma\n\nPackage: anonvma\nArchitecture: any\n' > "$stage/src/debian/control"
bins=()
for b in "$root"/usr/bin/*; do bins+=("-e$b"); done
depends=$(cd "$stage/src" && dpkg-shlibdeps -O "${bins[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# dpkg-shlibdeps leaves out a library whose symbols a tool does not call
# (libelf, zlib: linked for libbpf), but the loader still needs every NEEDED
# entry: add the package of each one it left out, unversioned.
for b in "$root"/usr/bin/*; do
	ldd "$b" | awk '/=>/ && $3 ~ /^\// {print $3}'
done | sort -u | while read -r so; do
	dpkg -S "$(realpath "$so")" 2>/dev/null || dpkg -S "$so"
done | sed 's/:.*//' | sort -u > "$stage/needed-packages"
while read -r pkg; do
	case ", $depends," in *", $pkg "*|*", $pkg,"*) ;; *) depends="$depends, $pkg" ;; esac
done < "$stage/needed-packages"

size=$(du -sk "$root" | cut -f1)
mkdir -p "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: anonvma
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-anonvma developers <anonvma@localhost>}
Installed-Size: $size
Depends: $depends
Section: devel
Priority: optional
Description: replay Linux anonymous reverse-mapping traces through kernel models
 anonvma records what a host does with anonymous memory (anonvma-collect,
 eBPF with libbpf CO-RE), replays the trace through models of the kernel's
 anon_vma reverse mapping (the eager mainline design and the lazy proposal)
 and reports memory, lock hold time and fork cost as JSON (anonvma-replay,
 anonvma-report).  anonvma-synth writes traces from described workloads.
CONTROL
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb"
