# tests/lib/gentrace.sh - sourced by end-to-end tests (not a test itself).
# gentrace OUT.db EVENTS: a synthetic fork/fault trace through the trace API
# (bench/gentrace.c), linked against $BUILD's library; the program is built
# once per test into $tmp.  A SAN=1 library needs the sanitizers at link time.
gentrace() {
	if [ ! -x "$tmp/gentrace" ]; then
		local san=()
		if nm "$BUILD/libanonvma.a" 2> /dev/null | grep __asan_ > /dev/null; then
			san=(-fsanitize=address,undefined)
		fi
		${CC:-cc} -std=c11 -D_GNU_SOURCE -O1 "${san[@]}" -Isrc bench/gentrace.c \
			"$BUILD/libanonvma.a" -lsqlite3 -lyaml -lcjson -lm -o "$tmp/gentrace"
	fi
	"$tmp/gentrace" "$1" "$2"
}
