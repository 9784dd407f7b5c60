#!/bin/bash
# timeout: 90
#
# Issue 2, acceptance 3: with tapestryd running, the maps are pinned under
# its pin root, `bpftool map dump pinned` reads them and shows the loop
# device's key with the counts the device saw, `tapestry report io` reads
# the pins instead of loading its own tracer, and after tapestryd stops,
# nothing stays pinned.  report io --prometheus of the pins passes
# promtool.  Also: one daemon per pin root, and the pins a
# SIGKILLed daemon leaves behind are recognised as stale by the reader and
# cleared by the next daemon.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v fio >/dev/null || skip "fio not installed"
command -v jq >/dev/null || skip "jq not installed"
command -v bpftool >/dev/null || skip "bpftool not installed"
tr_loop 16
IFS=: read -r MAJ MIN < "/sys/block/$DEV/dev"
MAPS="blk_stats blk_counters blk_config blk_readers blk_events"

start_daemon() {	# log file
	tr_bg "$TAPESTRYD" run --pin-root "$PIN_ROOT" 2>"$1"
	DPID=$TR_LAST_PID
	tr_wait_for "$1" "running; maps pinned" 20 ||
		{ cat "$1"; fail "tapestryd did not start"; }
}

start_daemon "$TMP/d1.log"
for m in $MAPS; do
	[ -e "$PIN_ROOT/$m" ] || fail "$m not pinned"
done

# A second daemon on the same pin root is refused and touches nothing.
"$TAPESTRYD" run --pin-root "$PIN_ROOT" 2>"$TMP/d2.log" &&
	fail "a second tapestryd started on $PIN_ROOT"
grep -q "another tapestryd runs" "$TMP/d2.log" || { cat "$TMP/d2.log"; fail "no clear refusal"; }
for m in $MAPS; do
	[ -e "$PIN_ROOT/$m" ] || fail "the second daemon removed $m"
done

read -r r0 w0 < <(tr_stat "$DEV")
"$TAPESTRY" report io --device "$DEV" --json --interval 60 \
	--pin-root "$PIN_ROOT" >"$TMP/rep.json" 2>"$TMP/rep.err" &
rep=$!
sleep 0.3	# reading pins needs no load time
fio --name=d --filename="$LOOP" --rw=randwrite --bs=4k --direct=1 \
    --ioengine=psync --size=2M >/dev/null || fail "fio failed"
read -r r1 w1 < <(tr_stat "$DEV")
kill -INT $rep
wait $rep || { cat "$TMP/rep.err"; fail "report io failed"; }
grep -q "tracing block I/O" "$TMP/rep.err" &&
	fail "report io loaded its own tracer although tapestryd runs"
[ "$(jq -r .source "$TMP/rep.json")" = pinned ] || fail "source is not pinned"
got=$(jq --arg d "$DEV" '[.devices[] | select(.device == $d and .op == "write") | .count] | add' "$TMP/rep.json")
[ "$got" -eq $((w1 - w0)) ] || fail "report via pins: $got writes, stat says $((w1 - w0))"

# Prometheus exposition of the same maps: promtool accepts it, and the
# device's write counter covers this test's writes.
"$TAPESTRY" report io --prometheus --interval 0.1 --pin-root "$PIN_ROOT" \
	>"$TMP/io.prom" || fail "report io --prometheus failed"
if command -v promtool >/dev/null; then
	promtool check metrics <"$TMP/io.prom" || fail "promtool rejects report io"
else
	echo "note: promtool not installed; exposition not linted"
fi
grep -q "^tapestry_block_io_latency_seconds_bucket{device=\"$DEV\",op=\"write\",stage=\"total\",le=\"+Inf\"} " \
	"$TMP/io.prom" || fail "no total histogram for $DEV writes"
pw=$(sed -n "s/^tapestry_block_io_requests_total{device=\"$DEV\",op=\"write\"} //p" "$TMP/io.prom")
[ "${pw:-0}" -ge $((w1 - w0)) ] || fail "prometheus counts $pw writes, fewer than stat's $((w1 - w0))"

# bpftool reads the pinned maps (-j puts the BTF view under "formatted");
# the device's write key carries the
# cumulative count, which covers at least this test's writes.
bpftool -j map dump pinned "$PIN_ROOT/blk_stats" >"$TMP/dump.json" ||
	fail "bpftool map dump failed"
n=$(jq --argjson ma "$MAJ" --argjson mi "$MIN" '
	[.[].formatted | select(.key.major == $ma and .key.minor == $mi and .key.op == 1)
	 | .values[].value.count] | add // 0' "$TMP/dump.json")
[ "$n" -ge $((w1 - w0)) ] || fail "bpftool shows $n writes for $MAJ:$MIN"
bpftool map dump pinned "$PIN_ROOT/blk_config" | grep -q slow_ns ||
	fail "blk_config does not dump with field names"
echo "bpftool: key $MAJ:$MIN op write count $n"

kill -TERM $DPID
wait $DPID || { cat "$TMP/d1.log"; fail "tapestryd exited non-zero on SIGTERM"; }
[ ! -e "$PIN_ROOT" ] || { ls -la "$PIN_ROOT"; fail "pins left after tapestryd stopped"; }

# SIGKILL leaves the pins; readers see they are stale, the next daemon
# clears them and stops cleanly.
start_daemon "$TMP/d3.log"
kill -KILL $DPID
wait $DPID 2>/dev/null
[ -e "$PIN_ROOT/blk_stats" ] || fail "pins gone after SIGKILL?"
"$TAPESTRY" report io --json --interval 0.2 --pin-root "$PIN_ROOT" \
	>"$TMP/stale.json" 2>"$TMP/stale.err" || fail "report io failed on stale pins"
grep -q "left over from a tapestryd that is gone" "$TMP/stale.err" ||
	{ cat "$TMP/stale.err"; fail "stale pins not recognised"; }
[ "$(jq -r .source "$TMP/stale.json")" != pinned ] || fail "read stale pins"
start_daemon "$TMP/d4.log"
grep -q "left by a tapestryd that is gone" "$TMP/d4.log" || fail "no stale-pin notice"
kill -TERM $DPID
wait $DPID || fail "tapestryd exited non-zero"
# The directory was there when this daemon came, so it stays, empty.
[ -z "$(ls -A "$PIN_ROOT")" ] || { ls -la "$PIN_ROOT"; fail "pins left after the second stop"; }
echo "PASS"
