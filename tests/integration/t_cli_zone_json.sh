#!/bin/bash
# timeout: 30
#
# tapestry zone register|peer|unpeer --json print one JSON object saying
# what was done (zone, zone_id, pin_root; for a peer its address and the
# registrations it has after the command, 0 once forgotten), not the text
# output or nothing; on an error stdout stays empty.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v jq >/dev/null || skip "jq not installed"
Z() { "$TAPESTRY" zone "$@" --pin-root "$PIN_ROOT"; }

# $1: what, $2: jq filter giving the expected compact JSON, rest: the call.
want() {
	local what=$1 expect=$2 got
	shift 2
	Z "$@" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err"; fail "$what failed"; }
	jq -e . "$TMP/out" >/dev/null 2>&1 ||
		fail "$what: not JSON: $(head -c 200 "$TMP/out")"
	[ "$(jq -s length "$TMP/out")" = 1 ] || fail "$what: not one object"
	got=$(jq -c . "$TMP/out")
	[ "$got" = "$(jq -nc "$expect")" ] ||
		fail "$what: got $got, expected $(jq -nc "$expect")"
}

R=$PIN_ROOT
want "register" "{zone: \"eu-west-1a\", zone_id: 1, pin_root: \"$R\"}" \
	register eu-west-1a --json
want "register again" "{zone: \"eu-west-1a\", zone_id: 1, pin_root: \"$R\"}" \
	register --json eu-west-1a
want "second zone" "{zone: \"eu-west-1b\", zone_id: 2, pin_root: \"$R\"}" \
	register eu-west-1b --json
# Text output is unchanged: the id alone.
[ "$(Z register eu-west-1b)" = 2 ] || fail "text register changed"

P=127.0.3.9:7001
want "peer" "{peer: \"$P\", zone: \"eu-west-1b\", zone_id: 2,
	registrations: 1, pin_root: \"$R\"}" peer "$P" eu-west-1b --json
want "peer again" "{peer: \"$P\", zone: \"eu-west-1b\", zone_id: 2,
	registrations: 2, pin_root: \"$R\"}" peer "$P" eu-west-1b --json
want "unpeer" "{peer: \"$P\", zone: \"eu-west-1b\", zone_id: 2,
	registrations: 1, pin_root: \"$R\"}" unpeer "$P" --json
want "last unpeer" "{peer: \"$P\", zone: \"eu-west-1b\", zone_id: 2,
	registrations: 0, pin_root: \"$R\"}" unpeer "$P" --json
want "IPv6 peer" "{peer: \"[::1]:7002\", zone: \"eu-west-1a\", zone_id: 1,
	registrations: 1, pin_root: \"$R\"}" peer '[::1]:7002' eu-west-1a --json
# Without --json peer and unpeer still print nothing.
Z peer "$P" eu-west-1a >"$TMP/out" || fail "text peer failed"
Z unpeer "$P" >>"$TMP/out" || fail "text unpeer failed"
[ ! -s "$TMP/out" ] || fail "text peer/unpeer printed: $(cat "$TMP/out")"

# Errors: exit 1, a message, nothing on stdout, nothing changed.
err_case() {
	local what=$1 msg=$2
	shift 2
	Z "$@" >"$TMP/out" 2>"$TMP/err" && fail "$what succeeded"
	[ ! -s "$TMP/out" ] || fail "$what: wrote to stdout: $(cat "$TMP/out")"
	grep -qF -- "$msg" "$TMP/err" || { cat "$TMP/err"; fail "$what: no '$msg'"; }
}
err_case "unpeer unknown" "is not registered" unpeer 127.0.3.9:7999 --json
err_case "peer to unknown zone" "'nosuch' is not registered" \
	peer "$P" nosuch --json
err_case "bad name" "invalid zone name" register "bad name" --json
[ "$(Z list --json | jq -c 'map(.zone)')" = '["eu-west-1a","eu-west-1b"]' ] ||
	fail "a failed call changed the registry"
echo "PASS"
