#!/bin/bash
# timeout: 60
#
# Every tapestry command's --help: exit 0, the text on stdout and nothing
# on stderr, and each option it lists in the option list (not after the
# closing notes: "Exit status" ends the text where it appears).  Usage
# errors go to stderr with exit 2.
set -euo pipefail

. "$(dirname "$0")/lib/cli.sh"
cli_init

for cmd in "" report "report io" "report zones" trace "trace slow" zone \
		place plan simulate bench-volume; do
	rc=0
	# shellcheck disable=SC2086
	"$T" $cmd --help > "$dir/out" 2> "$dir/err" || rc=$?
	[ "$rc" = 0 ] || fail "tapestry $cmd --help: exit $rc"
	[ -s "$dir/out" ] || fail "tapestry $cmd --help: nothing on stdout"
	[ ! -s "$dir/err" ] || fail "tapestry $cmd --help: stderr: $(cat "$dir/err")"
	grep -q "usage: tapestry" "$dir/out" ||
		fail "tapestry $cmd --help: no usage line"
	# Nothing that reads as an option line after "Exit status".
	late=$(awk '/^Exit status/ { e = 1; next }
		    e && /^ +-/ { print; }' "$dir/out")
	[ -z "$late" ] || fail "tapestry $cmd --help lists an option after" \
		"its exit status notes: $late"
done

# plan's own option is in its help, and place does not take it.
"$T" plan --help | grep -q -- "--write-placement FILE" ||
	fail "plan --help does not list --write-placement"
! "$T" place --help | grep -q -- "--write-placement" ||
	fail "place --help lists --write-placement"

for cmd in "" report trace "report nosuch" "zone nosuch"; do
	rc=0
	# shellcheck disable=SC2086
	"$T" $cmd > "$dir/out" 2> "$dir/err" || rc=$?
	[ "$rc" = 2 ] || fail "tapestry $cmd: exit $rc, expected 2"
	[ ! -s "$dir/out" ] || fail "tapestry $cmd: usage error on stdout"
	grep -q "usage:" "$dir/err" || fail "tapestry $cmd: no usage on stderr"
done
echo "PASS"
