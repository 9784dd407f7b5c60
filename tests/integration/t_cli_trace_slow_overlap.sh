#!/bin/bash
# timeout: 60
#
# `tapestry trace slow` readers of a tapestryd share its node-wide slow-I/O
# threshold: while they run it is the lowest any of them needs (or the
# daemon's own, if lower), and once they end it is the daemon's again,
# whatever order they end in.  Before, two overlapping readers ending in
# the wrong order left it lowered for good (first 50 ms, then 20 ms, end
# 50 first: 50 ms stayed), or raised it under a reader still running (20
# then 50, end 20 first: 100 ms, so the 50 ms reader saw nothing between).
# A reader killed with SIGKILL is dropped once its registration goes
# stale, by the next reader.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v jq >/dev/null || skip "jq not installed"
command -v bpftool >/dev/null || skip "bpftool not installed"

tr_bg "$TAPESTRYD" run --pin-root "$PIN_ROOT" --slow-ms 100 --no-zones \
	2>"$TMP/d.log"
tr_wait_for "$TMP/d.log" "running; maps pinned" 20 ||
	{ cat "$TMP/d.log"; fail "tapestryd did not start"; }

slow_ns() {
	bpftool map dump pinned "$PIN_ROOT/blk_config" | jq '.[0].value.slow_ns'
}
want() {	# ms, what
	local got
	got=$(slow_ns)
	[ "$got" = $(($1 * 1000000)) ] ||
		fail "$2: threshold is $got ns, expected $1 ms"
}
n=0
reader() {	# ms; sets R to its pid
	n=$((n + 1))
	tr_bg "$TAPESTRY" trace slow --threshold-ms "$1" --json \
		--pin-root "$PIN_ROOT" >"$TMP/r$n.out" 2>"$TMP/r$n.err"
	R=$TR_LAST_PID
	tr_wait_for "$TMP/r$n.err" "tracing block I/O slower than" 20 ||
		{ cat "$TMP/r$n.err"; fail "trace slow $1 ms did not start"; }
}
stop() {	# pid
	kill -INT "$1"
	wait "$1" || fail "trace slow $1 exited $?"
}

want 100 "daemon alone"

# Lowered by the second, ends first-started first.
reader 50; a=$R
want 50 "one reader at 50 ms"
reader 20; b=$R
want 20 "readers at 50 and 20 ms"
stop $a
want 20 "the 50 ms reader ended, the 20 ms one runs"
stop $b
want 100 "both readers ended (50 ms one first)"

# The lower one starts first and ends first.
reader 20; a=$R
reader 50; b=$R
want 20 "readers at 20 and 50 ms"
stop $a
want 50 "the 20 ms reader ended, the 50 ms one runs"
stop $b
want 100 "both readers ended (20 ms one first)"

# A reader that cannot put it back (SIGKILL): the next reader drops its
# registration once stale, and puts the daemon's back at its own end.
reader 30; a=$R
kill -KILL $a
wait $a 2>/dev/null
want 30 "right after SIGKILL"
sleep 3.5
reader 40; b=$R
want 40 "a reader at 40 ms after the 30 ms one was killed"
stop $b
want 100 "after the killed reader and another one"
echo "PASS"
