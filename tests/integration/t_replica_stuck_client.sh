#!/bin/bash
# timeout: 60
# A stuck client cannot stall a replica server's other clients.  One
# client sends the header of a 1 MiB WRITE and never its payload; another
# sends 64 READs of 1 MiB and never reads a reply.  Between them they hold
# every large registered buffer (32), which every request over 64 KiB
# needs, so before the server had a stall watchdog a third client's 1 MiB
# write waited for ever.  With --client-timeout 1 both stuck clients are
# cut off within seconds, their buffers come back, the third client's
# writes go through, and the server stops cleanly.
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
R=$CLUSTER_REPLCTL
T=$CLUSTER_DIR
S=$TAPESTRY_ROOT/$BUILD/bin/repl_stuck
IP=${A%:*}
PORT=${A##*:}

fail() { echo "FAIL: $*"; cluster_logs 20; exit 1; }
wait_stuck() {
	local i
	for i in $(seq 100); do
		grep -q stuck "$1" && return 0
		sleep 0.05
	done
	fail "stuck client did not start: $(cat "$1")"
}

"$S" "$IP" "$PORT" s1 payload 1048576 > "$T/s1.out" 2>&1 &
STUCK+=($!)
wait_stuck "$T/s1.out"
"$S" "$IP" "$PORT" s2 reads 64 1048576 > "$T/s2.out" 2>&1 &
STUCK+=($!)
wait_stuck "$T/s2.out"
sleep 0.2
echo "two stuck clients holding the server's large buffers"

head -c 4M /dev/urandom > "$T/data"
t0=$(date +%s%N)
out=$(timeout 20 "$R" -q --create --volume other --size 16M "$A" \
	copy-in "$T/data" chunk=1M qd=4 verify "$T/data" chunk=1M 2>&1) ||
	fail "another client's 1 MiB writes did not go through: $out"
t1=$(date +%s%N)
echo "another client wrote and verified 4 MiB in $(( (t1 - t0) / 1000000 )) ms"

n=$(grep -c 'stalled (no progress' "$(cluster_log 1)")
[ "$n" -eq 2 ] || fail "expected 2 stuck clients cut off, log has $n"
echo "both stuck clients cut off"
kill -0 "$(cluster_pid 1)" || fail "server died"
cluster_stop 1 || fail "unclean exit $?"
echo PASS
