#!/bin/bash
# timeout: 120
# Every zone stalls at once past the hard timeout (the fault proxies hold
# all traffic for 1.5 s), then heals.  All three replicas are degraded,
# so there is no in-sync copy to resync from and writes fail with EIO
# meanwhile (never faked).  Once enough replicas are reachable again the
# engine reconciles them on its own -- the regions they may disagree on,
# newest block wins -- and writes resume; the third catches up by resync.
# Every write acked before, during or after reads back from every image,
# and the images are identical.  Under quorum, then under all with
# min-in-sync 1 (where the engine must also wait for a replica that holds
# every acked write).
#
# The run has no fixed end: it is stopped (SIGTERM; the engine drains
# every write out on its way down) once all three replicas are in sync
# again and writes issued after the heal have been acked, with --runtime
# only a cap.  A fixed runtime raced the recovery against the load on the
# machine: the engine redials a stalled zone after its HELLO timed out
# (max(2 x hard timeout, 1 s)) and a backoff of up to 1 s, then
# reconciles, and under load that once took more than the 3 s a 6 s run
# had left after the heal, so the test failed though nothing was wrong.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 3 --proxy || fail "cluster did not start"
d=$CLUSTER_DIR

# All three at once (in parallel), and with room for 64 writes out: a
# replica is judged only by the ops it has out, so a zone that stalled
# after the writer's slots had filled (acks need two zones) would have
# nothing out, stay in sync and not be degraded (right, but not this
# test's case; it made the test fail about 1 run in 10 with the zones
# stalled one after another and 8 slots).
proxies() {
	local z pids=()
	for z in 1 2 3; do
		cluster_proxy $z stall "$1" > /dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
}

for ack in quorum all; do
	rm -rf "$d/state" "$d/status" "$d/log"
	# shellcheck disable=SC2046
	bv_bg $(engine_vol_args "v$ack" 64M 1 2 3) --create --ack $ack \
		--min-in-sync $([ $ack = all ] && echo 1 || echo 2) \
		--hard-timeout-ms 500 --rw randwrite --bs 4k --iodepth 64 \
		--rate 2000 --runtime 50 --verify --log "$d/log" \
		--status "$d/status" --wait-in-sync 30 --json -v \
		> "$d/$ack.json" 2> "$d/$ack.err" &
	bench=$!
	engine_wait_state "$d/status" z3 in-sync || fail "$ack: no start"
	sleep 1
	t_stall=$(now_ns)
	proxies on
	for z in z1 z2 z3; do
		engine_wait_state "$d/status" $z degraded ||
			fail "$ack: $z not degraded by the stall"
	done
	sleep 1
	proxies off
	t_heal=$(now_ns)
	# Back in sync, and writes issued after the heal acked (or 30 s).
	for i in $(seq 150); do
		[ "$(jget "$d/status" .in_sync)" = 3 ] &&
			bv --log-window "$d/log" --size 64M --from "$t_heal" \
				--to $(now_ns) > "$d/win" &&
			[ "$(jget "$d/win" .acks)" -gt 100 ] && break
		kill -0 $bench 2>/dev/null || break
		sleep 0.2
	done
	echo "$ack: stopped $(( ($(now_ns) - t_heal) / 1000000 )) ms after the heal"
	kill -TERM $bench 2>/dev/null
	wait $bench
	rc=$?
	bv --log-window "$d/log" --size 64M --from "$t_heal" \
		--to $((t_heal + 60000000000)) > "$d/win" || fail "log window"
	echo "$ack: rc $rc; $(jq -c '{writes, write_errors, in_sync}' \
		"$d/$ack.json"); after the heal $(cat "$d/win")"
	grep -h "reconcil" "$d/$ack.err" | sed 's/^/    /'
	[ "$(jget "$d/$ack.json" .in_sync)" = 3 ] ||
		fail "$ack: replicas not back in sync"
	[ "$(jget "$d/win" .acks)" -gt 100 ] ||
		fail "$ack: writes did not resume after the heal"
	grep -q "no replica was in sync: reconciled" "$d/$ack.err" ||
		fail "$ack: no reconciliation"
	for z in 1 2 3; do
		bv --size 64M --check-log "$d/log" --image "$(cluster_img $z "v$ack")" ||
			fail "$ack: zone $z lost acked writes"
	done
	cmp "$(cluster_img 1 "v$ack")" "$(cluster_img 2 "v$ack")" &&
		cmp "$(cluster_img 1 "v$ack")" "$(cluster_img 3 "v$ack")" ||
		fail "$ack: replicas differ"
done
echo "PASS: all zones stalled and healed: reconciled, writes resumed, no acked write lost"
