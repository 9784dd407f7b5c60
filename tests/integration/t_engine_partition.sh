#!/bin/bash
# timeout: 120
# A zone partitioned and healed, under quorum writes, two ways through the
# fault proxy: traffic swallowed (blackhole), and traffic held and then
# released all at once (stall), which delivers the dead connection's old
# frames to the server after the engine has reconnected.  Each time the
# zone is degraded by the hard timeout, comes back, resyncs, and all three
# images equal the harness's copy: no old frame lands over a newer write.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 3 --proxy || fail "cluster did not start"
d=$CLUSTER_DIR

for mode in blackhole stall; do
	rm -rf "$d/state" "$d/status"
	# shellcheck disable=SC2046
	bv_bg $(engine_vol_args "v$mode" 64M 1 2 3) --create --ack quorum \
		--rw randwrite --bs 4k --iodepth 8 --rate 3000 --runtime 4 \
		--verify --ref "$d/$mode.ref" --status "$d/status" \
		--wait-in-sync 20 --json > "$d/$mode.json" 2> "$d/$mode.err" &
	bench=$!
	engine_wait_state "$d/status" z3 in-sync || fail "$mode: no start"
	sleep 0.5
	cluster_proxy 3 "$mode" on > /dev/null || fail "proxy $mode"
	engine_wait_state "$d/status" z3 degraded || fail "$mode: z3 not degraded"
	sleep 1.5
	cluster_proxy 3 "$mode" off > /dev/null || fail "proxy $mode off"
	wait $bench || fail "$mode: bench-volume failed: $(cat "$d/$mode.err")"
	[ "$(jget "$d/$mode.json" .write_errors)" = 0 ] || fail "$mode: write errors"
	echo "$mode: $(jq -c '[.events[] | select(.zone == "z3") | .state]' \
		"$d/$mode.json"); resync $(jq -r '.zones[] |
		select(.zone == "z3") | "\(.resync_done) regions"' "$d/$mode.json")"
	for z in 1 2 3; do
		cmp "$(cluster_img "$z" "v$mode")" "$d/$mode.ref" ||
			fail "$mode: zone $z differs from the data written"
	done
done
echo "PASS: partitions healed by resync, replicas identical"
