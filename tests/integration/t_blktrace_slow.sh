#!/bin/bash
# timeout: 60
#
# `tapestry trace slow` streams slow-I/O events from the ring buffer: with a
# threshold below every I/O's latency it reports the fio job's I/Os on the
# chosen device, with op, sizes, latencies that add up, and fio's pid and
# comm; with a threshold above all of them it reports none.  --count stops
# it after exactly that many.  A comm that is not UTF-8 still makes valid
# JSON (its bad bytes become U+FFFD), which a strict parser accepts.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v fio >/dev/null || skip "fio not installed"
command -v jq >/dev/null || skip "jq not installed"
command -v python3 >/dev/null || skip "python3 not installed"
tr_loop 16

run_fio() {	# rw
	fio --name=slow --filename="$LOOP" --rw="$1" --bs=4k --direct=1 \
	    --ioengine=psync --size=1M >/dev/null || fail "fio failed"
}

# 1 us: every I/O qualifies.  Stop after 5.
tr_bg "$TAPESTRY" trace slow --threshold-ms 0.001 --json --count 5 \
	--device "$DEV" --pin-root "$PIN_ROOT" >"$TMP/ev.json" 2>"$TMP/ev.err"
pid=$TR_LAST_PID
tr_wait_for "$TMP/ev.err" "tracing block I/O slower than" 20 ||
	{ cat "$TMP/ev.err"; fail "trace slow did not start"; }
run_fio randwrite &
fio_pid=$!
wait $fio_pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { cat "$TMP/ev.err"; fail "trace slow did not stop after --count 5"; }
wait $pid || { cat "$TMP/ev.err"; fail "trace slow failed"; }
[ "$(wc -l < "$TMP/ev.json")" -eq 5 ] || { cat "$TMP/ev.json"; fail "want exactly 5 events"; }
jq -e --arg d "$DEV" --argjson p "$fio_pid" '
	.device == $d and .op == "write" and .bytes == 4096 and
	.total_us >= 1 and (.queue_us + .service_us - .total_us | fabs) < 0.01 and
	.error == 0 and .comm == "fio" and .pid > 0' "$TMP/ev.json" >/dev/null ||
	{ cat "$TMP/ev.json"; fail "events do not describe fio's writes"; }

# fio under a name with bytes that are not UTF-8: its comm is that name.
bad=$'fio\xff\xfe-\xc3'
ln -s "$(command -v fio)" "$TMP/$bad"
tr_bg "$TAPESTRY" trace slow --threshold-ms 0.001 --json --count 3 \
	--device "$DEV" --pin-root "$PIN_ROOT" >"$TMP/bad.json" 2>"$TMP/bad.err"
pid=$TR_LAST_PID
tr_wait_for "$TMP/bad.err" "tracing block I/O slower than" 20 ||
	{ cat "$TMP/bad.err"; fail "trace slow did not start"; }
"$TMP/$bad" --name=slow --filename="$LOOP" --rw=randwrite --bs=4k --direct=1 \
	--ioengine=psync --size=1M >/dev/null || fail "fio failed"
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
wait $pid || { cat "$TMP/bad.err"; fail "trace slow failed"; }
python3 -c '
import json, sys
comms = [json.loads(l)["comm"] for l in sys.stdin.buffer]
assert len(comms) == 3 and all(c == "fio\ufffd\ufffd-\ufffd" for c in comms), comms
' <"$TMP/bad.json" || { cat -v "$TMP/bad.json"; fail "a comm that is not UTF-8 made invalid JSON"; }

# 10 s: nothing on a tmpfs-backed loop device is that slow.
tr_bg "$TAPESTRY" trace slow --threshold-ms 10000 --device "$DEV" \
	--pin-root "$PIN_ROOT" >"$TMP/none.txt" 2>"$TMP/none.err"
pid=$TR_LAST_PID
tr_wait_for "$TMP/none.err" "tracing block I/O slower than" 20 ||
	{ cat "$TMP/none.err"; fail "trace slow did not start"; }
run_fio randread
sleep 0.5
kill -INT $pid
wait $pid || { cat "$TMP/none.err"; fail "trace slow failed on SIGINT"; }
[ "$(wc -l < "$TMP/none.txt")" -eq 1 ] ||
	{ cat "$TMP/none.txt"; fail "events above a 10 s threshold"; }
grep -q "^TIME" "$TMP/none.txt" || fail "no header in text mode"
echo "PASS"
