#!/bin/bash
# timeout: 30
#
# tapestry zone refuses bad usage (exit 2, usage on stderr, nothing on
# stdout, no registry touched) and says what is wrong: an option missing
# its value is named as such, not as an unknown option.
set -euo pipefail

. "$(dirname "$0")/lib/cli.sh"
cli_init

usage_err() {	# expected message, then the arguments after "zone"
	local want=$1 rc=0
	shift
	"$T" zone "$@" > "$dir/out" 2> "$dir/err" || rc=$?
	[ "$rc" = 2 ] || fail "zone $*: exit $rc, expected 2"
	[ ! -s "$dir/out" ] || fail "zone $*: wrote to stdout"
	grep -q "usage: tapestry zone" "$dir/err" || fail "zone $*: no usage"
	grep -qF -- "$want" "$dir/err" ||
		fail "zone $*: wanted '$want', got: $(head -1 "$dir/err")"
}

usage_err "option '--pin-root' needs a value" list --pin-root
usage_err "option '--pin-root' needs a value" register a --pin-root
usage_err "unknown option '--bogus'" list --bogus
usage_err "unknown option '-x'" list -x
usage_err "unknown option '--json=1'" list --json=1
usage_err "register takes one argument, NAME" register
usage_err "unknown action 'nosuch'" nosuch
usage_err "which action?"
echo "PASS"
