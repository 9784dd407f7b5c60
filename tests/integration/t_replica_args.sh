#!/bin/bash
# timeout: 60
#
# `tapestryd replica` refuses a bad option value with a message that
# names the option, nothing on stdout (where it says "listening on" once
# serving), and exit status 2 when the value is wrong in itself (1 when
# only trying it tells, e.g. an address that is not local).  A value that
# is wrongly accepted shows up as a server that starts: the case fails.
set -u
BUILD=${BUILD:-build}
TAPESTRYD=$BUILD/bin/tapestryd
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$TAPESTRYD" ] || fail "$TAPESTRYD not built"
TMP=$(mktemp -d /tmp/tapestry-test.XXXXXX)
cleanup() {
	pkill -TERM -P $$ 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# bad STATUS PATTERN ARG...: the usual options plus ARG... (later ones
# win) are refused with STATUS and a message matching PATTERN; with
# status 2, the data directory is not created either.
bad() {
	local want=$1 pat=$2 rc
	shift 2
	rm -rf "$TMP/data"
	timeout -k 2 5 "$TAPESTRYD" replica --zone a --listen 127.0.0.1:0 \
		--data "$TMP/data" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc -eq "$want" ] || { cat "$TMP/out" "$TMP/err"; fail "$*: exit $rc, not $want"; }
	grep -qE -- "$pat" "$TMP/err" ||
		{ cat "$TMP/err"; fail "$*: no message matching '$pat'"; }
	[ ! -s "$TMP/out" ] || fail "$*: output on stdout: $(cat "$TMP/out")"
	[ "$want" -ne 2 ] || [ ! -e "$TMP/data" ] ||
		fail "$*: refused, but created the data directory"
	echo "ok: $* -> $(grep -m1 -- "$pat" "$TMP/err")"
}

bad 2 "--max-conns" --max-conns 0
bad 2 "--max-conns" --max-conns 65537
bad 2 "--slots" --slots x
bad 2 "--buffers" --buffers 0
bad 2 "--drain-ms" --drain-ms -5
bad 2 "--client-timeout" --client-timeout 0
bad 2 "--io" --io fast
# A stray word: said as such, not as missing options.
bad 2 "unexpected argument 'extra'" extra
# Zones no engine can name (the engine's rule: 1..31 bytes of
# [A-Za-z0-9._-], no leading dot): every HELLO would be refused.
bad 2 "--zone" --zone 'a b'
bad 2 "--zone" --zone .a
bad 2 "--zone" --zone ''
bad 2 "--zone" --zone zone-with-a-label-thirty-two-bytes
# Not an address with a port 0..65535: status 2, nothing created.
# (getaddrinfo() would take port 70000 and wrap it to 4464.)
bad 2 "--listen" --listen 127.0.0.1:70000
bad 2 "--listen" --listen '[::1]:65536'
bad 2 "--listen" --listen 127.0.0.1:-1
bad 2 "--listen" --listen localhost:7000
bad 2 "--listen" --listen 127.0.0.1
echo "PASS"
