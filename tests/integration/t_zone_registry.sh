#!/bin/bash
# timeout: 30
#
# The zone registry from the shell (`tapestry zone`): ids are handed out
# from 1, stable for a name, listed by name; peers attach to registered
# zones only and show in bpftool with their fields; bad names, addresses
# and unknown zones are refused with a clear message.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v jq >/dev/null || skip "jq not installed"
command -v bpftool >/dev/null || skip "bpftool not installed"
Z() { "$TAPESTRY" zone "$@" --pin-root "$PIN_ROOT"; }

[ "$(Z register eu-west-1a)" = 1 ] || fail "first id is not 1"
[ "$(Z register eu-west-1b)" = 2 ] || fail "second id is not 2"
[ "$(Z register eu-west-1a)" = 1 ] || fail "id of a known name changed"
Z peer 127.0.3.1:7001 eu-west-1b || fail "peer failed"
Z peer '[::1]:7002' eu-west-1a || fail "IPv6 peer failed"
[ "$(Z list --json | jq -c 'map([.zone, .zone_id])')" = \
  '[["eu-west-1a",1],["eu-west-1b",2]]' ] || fail "list is wrong"
bpftool map dump pinned "$PIN_ROOT/zone_peers" >"$TMP/peers"
grep -q '"port": 7001' "$TMP/peers" || { cat "$TMP/peers"; fail "peer not in zone_peers"; }
grep -q '"family": 10' "$TMP/peers" || fail "IPv6 peer not in zone_peers"

Z peer 127.0.3.1:7001 nosuch-zone 2>"$TMP/err" && fail "peer to an unknown zone"
grep -q "'nosuch-zone' is not registered" "$TMP/err" || fail "no clear message"
Z register "bad name" 2>"$TMP/err" && fail "bad zone name accepted"
grep -q "invalid zone name" "$TMP/err" || fail "no clear message for a bad name"
Z peer 127.0.3.1 eu-west-1a 2>"$TMP/err" && fail "address without port accepted"
Z unpeer 127.0.3.1:7001 || fail "unpeer failed"
Z unpeer 127.0.3.1:7001 2>/dev/null && fail "unpeer of an unknown address succeeded"
Z nonsense 2>"$TMP/err"; [ $? -eq 2 ] || fail "bad action is not a usage error"
grep -q "unknown action 'nonsense'" "$TMP/err" ||
	{ cat "$TMP/err"; fail "no clear message for an unknown action"; }
Z register 2>"$TMP/err"; [ $? -eq 2 ] || fail "register without a name"
grep -q "register takes one argument" "$TMP/err" ||
	{ cat "$TMP/err"; fail "no clear message for a missing name"; }
# A pin root that is not on bpffs: say so, not "Invalid cross-device link".
mkdir "$TMP/notbpf"
"$TAPESTRY" zone register eu-west-1a --pin-root "$TMP/notbpf" 2>"$TMP/err" &&
	fail "register under a pin root off bpffs succeeded"
grep -q "$TMP/notbpf is not on a BPF filesystem" "$TMP/err" ||
	{ cat "$TMP/err"; fail "no clear message for a pin root off bpffs"; }
timeout 10 "$TAPESTRY" report zones --pin-root "$TMP/notbpf" -i 0.1 \
	>/dev/null 2>"$TMP/err" && fail "report zones under a pin root off bpffs"
grep -q "$TMP/notbpf: it is not on a BPF filesystem" "$TMP/err" ||
	{ cat "$TMP/err"; fail "report zones: no clear message off bpffs"; }
"$TAPESTRY" zone list --pin-root "$TMP/notbpf" >"$TMP/out" 2>"$TMP/err" &&
	fail "zone list under a pin root off bpffs succeeded"
grep -q "$TMP/notbpf is not on a BPF filesystem" "$TMP/err" ||
	{ cat "$TMP/err"; fail "zone list: no clear message off bpffs"; }
[ -s "$TMP/out" ] && fail "zone list off bpffs printed a list"
# peer and unpeer too: not "'eu-west-1a' is not registered".
"$TAPESTRY" zone peer 127.0.3.1:7001 eu-west-1a --pin-root "$TMP/notbpf" \
	2>"$TMP/err" && fail "zone peer under a pin root off bpffs succeeded"
grep -q "$TMP/notbpf is not on a BPF filesystem" "$TMP/err" ||
	{ cat "$TMP/err"; fail "zone peer: no clear message off bpffs"; }
"$TAPESTRY" zone unpeer 127.0.3.1:7001 --pin-root "$TMP/notbpf" \
	2>"$TMP/err" && fail "zone unpeer under a pin root off bpffs succeeded"
grep -q "$TMP/notbpf is not on a BPF filesystem" "$TMP/err" ||
	{ cat "$TMP/err"; fail "zone unpeer: no clear message off bpffs"; }
# A pin root that is a file: not a directory (not "off bpffs").
: >"$TMP/afile"
"$TAPESTRY" zone list --pin-root "$TMP/afile" 2>"$TMP/err" &&
	fail "zone list under a file succeeded"
grep -q "$TMP/afile is not a directory" "$TMP/err" ||
	{ cat "$TMP/err"; fail "zone list: no clear message for a file"; }
[ -z "$(ls -A "$TMP/notbpf")" ] || fail "something was left in $TMP/notbpf"
echo "PASS"
