#!/bin/bash
# timeout: 60
# A client that sends a large WRITE payload slowly but steadily is not
# cut off as stalled.  A payload of 16 KiB or more is received by one
# MSG_WAITALL recv that completes only when whole, so the watchdog used
# to count from when that recv was posted: with --client-timeout 1, a
# 1 MiB payload sent 64 KiB every 200 ms (3.2 s in all, never pausing for
# more than 0.2 s) was cut after a second or two.  Now the write lands
# whole, and a client that stops half-way through its payload is still
# cut off.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
STUCK=()
cleanup() {
	local p
	for p in "${STUCK[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	cluster_cleanup
}
cluster_init
trap cleanup EXIT
CLUSTER_SERVER_ARGS="--client-timeout 1" cluster_start 1 || exit 1
A=$(cluster_addr 1)
T=$CLUSTER_DIR
S=$TAPESTRY_ROOT/$BUILD/bin/repl_stuck
IP=${A%:*}
PORT=${A##*:}
LOG=$(cluster_log 1)

fail() { echo "FAIL: $*"; cluster_logs 20; exit 1; }

head -c 1M /dev/urandom > "$T/data"
t0=$(date +%s%N)
out=$(timeout 20 "$S" "$IP" "$PORT" slow1 slow "$T/data" 65536 200 2>&1) ||
	fail "slow but steady 1 MiB write refused or cut off: $out"
t1=$(date +%s%N)
echo "1 MiB payload sent over $(( (t1 - t0) / 1000000 )) ms: $out"
grep -q 'stalled (no progress' "$LOG" && fail "a steady client was cut off"
cmp -n 1048576 "$(cluster_img 1 slow1)" "$T/data" ||
	fail "the slow write did not land whole"
echo "written whole, not cut off"

# One that stops half-way is still cut off (within a few timeouts).
"$S" "$IP" "$PORT" slow2 slow "$T/data" 65536 100 524288 > "$T/s2.out" 2>&1 &
STUCK+=($!)
for _ in $(seq 100); do
	grep -q 'stalled (no progress' "$LOG" && break
	sleep 0.1
done
grep -q stuck "$T/s2.out" || fail "half-way client did not start: $(cat "$T/s2.out")"
n=$(grep -c 'stalled (no progress' "$LOG")
[ "$n" -eq 1 ] || fail "expected the half-way client cut off, log has $n"
echo "a client stopped half-way through its payload is cut off"
kill -0 "$(cluster_pid 1)" || fail "server died"
cluster_stop 1 || fail "unclean exit $?"
echo PASS
