#!/bin/bash
# timeout: 60
#
# A report that reads a tapestryd's pinned maps notices when that daemon
# stops.  The report holds the maps open, so they live on after the
# daemon has unpinned them (or died with them pinned), but nothing
# updates them any more: `report io --count 0` went on printing "no
# block I/O" (and `report zones` frozen figures) for ever, and `trace
# slow` waited for events that could not come.  Each must end, exit 1
# and say why, once the daemon is gone: stopped (SIGTERM, pins removed)
# or killed (SIGKILL, pins left).
. "$(dirname "$0")/lib_tracer.sh"
tr_init

start_daemon() {	# log file
	tr_bg "$TAPESTRYD" run --pin-root "$PIN_ROOT" 2>"$1"
	DPID=$TR_LAST_PID
	tr_wait_for "$1" "running; maps pinned" 20 ||
		{ cat "$1"; fail "tapestryd did not start"; }
}

# ends PID ERRFILE WHAT: PID exits 1 within 5 s, saying the daemon went.
ends() {
	local pid=$1 err=$2 what=$3 rc i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -INT "$pid"
		wait "$pid"
		fail "$what still running 5 s after tapestryd went"
	fi
	wait "$pid"
	rc=$?
	[ $rc -eq 1 ] || { cat "$err"; fail "$what exited $rc, want 1"; }
	grep -q "tapestryd .* has stopped" "$err" ||
		{ cat "$err"; fail "$what does not say why it stopped"; }
	echo "ok: $what ended: $(grep stopped "$err")"
}

for sig in TERM KILL; do
	start_daemon "$TMP/d-$sig.log"
	tr_bg "$TAPESTRY" report io --json --count 0 --interval 0.2 \
		--pin-root "$PIN_ROOT" >"$TMP/io.json" 2>"$TMP/io.err"
	io=$TR_LAST_PID
	# (--prometheus prints one exposition: it takes no --count 0.)
	tr_bg "$TAPESTRY" report zones --json --count 0 --interval 0.2 \
		--pin-root "$PIN_ROOT" >"$TMP/zones.json" 2>"$TMP/zones.err"
	zones=$TR_LAST_PID
	tr_bg "$TAPESTRY" trace slow --json --pin-root "$PIN_ROOT" \
		>"$TMP/slow.json" 2>"$TMP/slow.err"
	slow=$TR_LAST_PID
	tr_wait_for "$TMP/slow.err" "tracing block I/O slower" 20 ||
		{ cat "$TMP/slow.err"; fail "trace slow did not start"; }
	sleep 0.5
	grep -q '"source":"pinned"' "$TMP/io.json" ||
		{ cat "$TMP/io.err"; fail "report io is not reading the pins"; }
	kill -$sig "$DPID"
	wait "$DPID" 2>/dev/null
	ends "$io" "$TMP/io.err" "report io ($sig)"
	ends "$zones" "$TMP/zones.err" "report zones ($sig)"
	ends "$slow" "$TMP/slow.err" "trace slow ($sig)"
	# Stale pins of the killed daemon: the next one clears them.
done
start_daemon "$TMP/d-last.log"
kill -TERM "$DPID"
wait "$DPID" || fail "tapestryd exited non-zero"
echo "PASS"
