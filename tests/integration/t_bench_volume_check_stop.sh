#!/bin/bash
# timeout: 60
#
# `tapestry bench-volume --check-log` (and --dump) stopped by SIGINT or
# SIGTERM before it has read the whole volume has not checked it: it must
# say so and exit 1, never print "0 bad blocks" and exit 0.  One local
# replica on a sparse 64 GiB image, so the read-back takes many seconds
# and the signal always lands in the middle of it.
set -u
BUILD=${BUILD:-build}
TAPESTRY=$BUILD/bin/tapestry
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$TAPESTRY" ] || fail "$TAPESTRY not built"
TMP=$(mktemp -d /tmp/tapestry-test.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

vol=(--name v --size 64G --state-dir "$TMP/st" --local "z0=$TMP/img"
     --zone-registry none)
"$TAPESTRY" bench-volume "${vol[@]}" --create --rw write --bytes 1M \
	--verify --log "$TMP/log" > "$TMP/w.out" 2>&1 ||
	{ cat "$TMP/w.out"; fail "could not write the volume"; }

# run SIGNAL MODE-ARGS...: start the read-back, signal it once it reads.
run() {
	local sig=$1 i rc
	shift
	rm -f "$TMP/status"
	"$TAPESTRY" bench-volume "${vol[@]}" --status "$TMP/status" "$@" \
		> "$TMP/out" 2> "$TMP/err" &
	pid=$!
	for i in $(seq 200); do
		[ -s "$TMP/status" ] && break
		sleep 0.05
	done
	[ -s "$TMP/status" ] || fail "$*: no status file"
	kill -"$sig" "$pid"
	wait "$pid"
	rc=$?
	pid=
	[ $rc -eq 1 ] ||
		{ cat "$TMP/out" "$TMP/err"; fail "$* stopped by SIG$sig: exit $rc, not 1"; }
	grep -q "stopped after [0-9]* of 68719476736 bytes" "$TMP/err" ||
		{ cat "$TMP/err"; fail "$* stopped by SIG$sig: not said"; }
	echo "$* stopped by SIG$sig: $(grep -h 'stopped after' "$TMP/err")"
}

run INT --check-log "$TMP/log"
run TERM --check-log "$TMP/log"
run INT --dump "$TMP/dump"
echo "PASS"
