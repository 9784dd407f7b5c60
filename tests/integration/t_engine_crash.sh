#!/bin/bash
# timeout: 120
# Acceptance 3 of issue 3, engine crash: SIGKILL the engine (bench-volume)
# during writes, twice, at different moments.  After each restart every
# write acked before the kill reads back with the acked data, through the
# engine and from every replica image (one local, two remote), and the
# replicas are identical again (recovery reconciled the writes that were
# in flight, resync caught up any replica that was degraded).  bench-volume logs each ack to a file before counting it,
# so the log is the ground truth of what was acked.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 2 || fail "cluster did not start"
d=$CLUSTER_DIR
size=64M
# shellcheck disable=SC2207
vol=($(engine_vol_args vol $size 1 2) --local "z0=$d/local.img" --ack quorum)

for round in 1 2; do
	rm -f "$d/status"
	bv_bg "${vol[@]}" --create --rw randwrite --bs 16k --iodepth 32 \
		--runtime 30 --verify --log "$d/log" --status "$d/status" \
		--seed $round > /dev/null 2> "$d/w$round.err" &
	pid=$!
	engine_wait_state "$d/status" z2 in-sync || fail "volume did not start"
	sleep 0.$((3 + 4 * round))
	kill -9 $pid
	wait $pid 2>/dev/null
	acked=$(jq -r .acked "$d/status")
	echo "round $round: killed the engine after >= $acked acked writes"
	[ "$acked" -gt 100 ] || fail "too few writes before the kill"

	# Restart: recovery runs in engine_create, then the whole volume
	# is read back through the engine and checked against the log.
	# A replica that was degraded (or cut off for falling behind) when
	# the engine died is resynced first: the images are checked once
	# every replica is in sync again.
	bv "${vol[@]}" --check-log "$d/log" --wait-in-sync 30 -v \
		> "$d/check$round.out" \
		2> "$d/check$round.err" || {
		cat "$d/check$round.out" "$d/check$round.err" >&2
		fail "round $round: read back through the engine failed"
	}
	grep -h "recover\|check:" "$d/check$round.out" "$d/check$round.err"
	for img in "$d/local.img" "$(cluster_img 1 vol)" "$(cluster_img 2 vol)"; do
		bv --size $size --check-log "$d/log" --image "$img" ||
			fail "round $round: $img lost acked data"
	done
	cmp "$d/local.img" "$(cluster_img 1 vol)" &&
		cmp "$d/local.img" "$(cluster_img 2 vol)" ||
		fail "round $round: replicas differ after recovery"
done
echo "PASS: every acked write survived two engine crashes on every replica"
