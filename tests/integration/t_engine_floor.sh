#!/bin/bash
# timeout: 120
# Acceptance 5 of issue 3, below the floor: three zones, ack all,
# min-in-sync 3.  Zone 3 dies during writes.  From then on writes fail
# with EIO, and no replica takes a write it cannot account for:
#   - writes refused below the floor are on no replica at all (checked
#     block by block against the writer's log, --strict-after);
#   - writes that were in flight when zone 3 died may be on zones 1-2, but
#     they are in zone 3's dirty map: after zone 3 is back and resynced,
#     the three images are identical and hold every acked write.
# It also shows the floor is a real floor: creating the volume with only
# two zones reachable fails.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 3 || fail "cluster did not start"
d=$CLUSTER_DIR
size=64M
# shellcheck disable=SC2207
vol=($(engine_vol_args vol $size 1 2 3) --ack all --min-in-sync 3)

bv_bg "${vol[@]}" --create --rw randwrite --bs 16k --iodepth 8 \
	--runtime 4 --verify --log "$d/log" --status "$d/status" \
	--json > "$d/out.json" 2> "$d/bench.err" &
bench=$!
engine_wait_state "$d/status" z3 in-sync || fail "volume did not start"
sleep 0.5
cluster_kill 3
wait $bench
rc=$?
out=$d/out.json
[ $rc = 1 ] || fail "bench-volume should report failed writes (rc $rc)"
t_down=$(jq -r '[.events[] | select(.zone == "z3" and .state == "degraded")
	| .t_ns] | first' "$out")
[ "$t_down" != null ] || fail "zone 3 was never degraded"
grep -q "Input/output error" "$d/bench.err" || fail "writes did not fail with EIO"
bv --log-window "$d/log" --size $size --from $((t_down + 1)) \
	--to $((t_down + 10000000000)) > "$d/after.json"
echo "acked $(jget "$out" .writes), failed $(jget "$out" .write_errors);" \
     "after zone 3 went down: $(jget "$d/after.json" .acks) acked," \
     "$(jget "$d/after.json" .fails) failed"
[ "$(jget "$d/after.json" .acks)" = 0 ] || fail "writes acked below the floor"
[ "$(jget "$d/after.json" .fails)" -gt 10 ] || fail "too few writes refused"

# Refused writes reached no replica; acked ones are all there.
for z in 1 2 3; do
	bv --size $size --check-log "$d/log" --strict-after $((t_down + 1)) \
		--image "$(cluster_img "$z" vol)" ||
		fail "zone $z holds a write it cannot account for, or lost one"
done

# Two of three reachable: the volume does not even open.
if bv "${vol[@]}" --rw read --bytes 4k > "$d/open2.out" 2>&1; then
	fail "the volume opened with 2 zones and min-in-sync 3"
fi
grep -q "min-in-sync" "$d/open2.out" || fail "no clear error: $(cat "$d/open2.out")"

# Zone 3 back: it resyncs what it missed, and all three agree.
cluster_restart 3 || fail "zone 3 did not restart"
bv "${vol[@]}" --rw read --bytes 4k --wait-in-sync 20 --json \
	> "$d/resync.json" || fail "resync failed"
echo "zone 3 resync: $(jq -r '.zones[] | select(.zone == "z3") |
	"\(.resync_done) regions, \(.resync_bytes) bytes"' "$d/resync.json")"
cmp "$(cluster_img 1 vol)" "$(cluster_img 3 vol)" &&
	cmp "$(cluster_img 2 vol)" "$(cluster_img 3 vol)" ||
	fail "replicas differ after resync: a write went unaccounted"
bv --size $size --check-log "$d/log" --strict-after $((t_down + 1)) \
	--image "$(cluster_img 3 vol)" || fail "zone 3 after resync"
echo "PASS: EIO below the floor, nothing unaccounted on any replica"
