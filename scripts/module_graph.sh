#!/usr/bin/env bash
# scripts/module_graph.sh [--levels] [DIR] - the project's include graph by module,
# from the #include "..." lines of DIR (default src/), as docs/architecture.md
# shows it.
#
# A module is a file name without .c/.h (mm.c and mm.h are module mm; a
# X_test.h, a module's insides shown to tests, is part of module X).  Each
# output line is one module and the modules it includes, directly:
#   replay: config error event mm model replay report skip trace world
# (its own header left out).  With --levels the modules are grouped by layer
# instead: layer 0 includes no other module, layer n includes only modules
# below n.  A module on an include cycle would never get a layer; it is
# listed as "cycle:" (there is none today: headers forward-declare).
set -euo pipefail
levels=0
if [ "${1:-}" = "--levels" ]; then
	levels=1
	shift
fi
dir=${1:-src}
cd "$(dirname "$0")/.."
for f in "$dir"/*.c "$dir"/*.h; do
	[ -f "$f" ] || continue
	m=$(basename "$f")
	m=${m%.c}
	m=${m%.h}
	m=${m%_test} # world_test.h: the world's insides for tests, part of module world
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)\.h".*/\1/p' "$f" |
		sed "s|^.*/||; s|_test\$||; s|^|$m |"
	echo "$m"
done | awk -v levels="$levels" '
	NF == 1 { mods[$1] = 1; next }
	{
		mods[$1] = 1
		if ($2 != $1 && !(($1, $2) in edge)) {
			edge[$1, $2] = 1
			deps[$1] = deps[$1] " " $2
		}
	}
	END {
		n = 0
		for (m in mods)
			names[++n] = m
		# sort the names (portable awk: insertion sort)
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && names[j - 1] > names[j]; j--) {
				t = names[j]; names[j] = names[j - 1]; names[j - 1] = t
			}
		if (!levels) {
			for (i = 1; i <= n; i++) {
				m = names[i]
				k = split(deps[m], d, " ")
				for (a = 2; a <= k; a++)
					for (b = a; b > 1 && d[b - 1] > d[b]; b--) {
						t = d[b]; d[b] = d[b - 1]; d[b - 1] = t
					}
				line = m ":"
				for (a = 1; a <= k; a++)
					line = line " " d[a]
				print line
			}
			exit
		}
		# layers: repeat until no module changes (a generated header such as
		# collect.skel.h is not a module: it counts as layer 0)
		for (pass = 0; pass <= n; pass++) {
			changed = 0
			for (i = 1; i <= n; i++) {
				m = names[i]
				if (m in lvl)
					continue
				k = split(deps[m], d, " ")
				ok = 1
				top = 0
				for (a = 1; a <= k; a++) {
					if (!(d[a] in mods))
						continue
					if (!(d[a] in lvl)) {
						ok = 0
						break
					}
					if (lvl[d[a]] + 1 > top)
						top = lvl[d[a]] + 1
				}
				if (ok) {
					lvl[m] = top
					changed = 1
				}
			}
			if (!changed)
				break
		}
		max = 0
		for (i = 1; i <= n; i++)
			if ((names[i] in lvl) && lvl[names[i]] > max)
				max = lvl[names[i]]
		for (l = 0; l <= max; l++) {
			line = "layer " l ":"
			for (i = 1; i <= n; i++)
				if ((names[i] in lvl) && lvl[names[i]] == l)
					line = line " " names[i]
			print line
		}
		line = ""
		for (i = 1; i <= n; i++)
			if (!(names[i] in lvl))
				line = line " " names[i]
		if (line != "")
			print "cycle:" line
	}'
