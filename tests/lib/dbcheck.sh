# tests/lib/dbcheck.sh - sourced by end-to-end tests that check a trace's rows
# (not a test itself).  The test sets $db (the trace) and fail=0, then:
#   q SQL                      one query's rows, no header
#   check NAME EXPECTED ACTUAL  a mismatch is one line on stderr and sets fail=1,
#                              so every check runs and the test ends `exit $fail`
q() { sqlite3 -batch -noheader "$db" "$1"; }
check() {
	if [ "$2" != "$3" ]; then
		echo "$(basename "$0" .sh): $1: expected '$2', got '$3'" >&2
		fail=1
	fi
}
