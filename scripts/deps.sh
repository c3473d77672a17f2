#!/usr/bin/env bash
# Install the Debian packages anonvma needs, only those that are missing.
set -euo pipefail
pkgs=(gcc make clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libsqlite3-dev sqlite3
      libyaml-dev libcjson-dev libcmocka-dev linux-perf python3 python3-jsonschema
      mandoc dpkg-dev jq clang-14 libclang-rt-14-dev chromium time)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages (${missing[*]}) and not root: install them with apt-get" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
