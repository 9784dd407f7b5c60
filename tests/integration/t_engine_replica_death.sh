#!/bin/bash
# timeout: 120
# Acceptance 2 of issue 3, replica death and resync.  SIGKILL one replica
# server during writes under quorum:
#   - writes keep succeeding while it is down;
#   - after its restart, resync copies at most 1.1 x the 64 KiB regions
#     written while it was down, or since the last flush before (counted
#     from the writer's own log, not from the engine): the bound a
#     server that cannot tell its own kill from a power loss (restarted
#     in a new mount namespace, say) would need, since it then zeroes
#     what it acked since its last good flush and those regions are
#     copied again (the writer flushes every 200 ms; the window starts
#     500 ms before the kill); restarted here on the same boot and mount,
#     it keeps them, and copies only what it missed while down;
#   - afterwards the three images are identical and hold the acked data.
# Also prints the time from the kill to the first ack of a write issued
# after it.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 3 || fail "cluster did not start"
d=$CLUSTER_DIR
size=256M

# A paced load so that the dirty set is a part of the volume, not all of
# it.
# shellcheck disable=SC2046
bv_bg $(engine_vol_args vol $size 1 2 3) --create --ack quorum \
	--rw randwrite --bs 4k --iodepth 4 --rate 1500 --runtime 4 \
	--flush-interval 200 --verify --log "$d/log" --ref "$d/ref.img" --status "$d/status" \
	--wait-in-sync 20 --json -v > "$d/out.json" 2> "$d/bench.err" &
bench=$!
engine_wait_state "$d/status" z3 in-sync || fail "volume did not start"
sleep 1
t_kill=$(now_ns)
cluster_kill 3
sleep 1
cluster_restart 3 || fail "zone 3 did not restart"
t_restart=$(now_ns)
wait $bench
rc=$?
cat "$d/bench.err" >&2
[ $rc = 0 ] || fail "bench-volume failed (rc $rc): $(cat "$d/out.json")"

out=$d/out.json
[ "$(jget "$out" .write_errors)" = 0 ] || fail "writes failed"
t_resync=$(jq -r '[.events[] | select(.zone == "z3" and .state == "resyncing")
		| .t_ns] | first' "$out")
t_insync=$(jq -r '[.events[] | select(.zone == "z3" and .state == "in-sync")
		| .t_ns] | last' "$out")
[ "$t_resync" != null ] && [ "$t_insync" != null ] ||
	fail "zone 3 never resynced: $(jq -c .events "$out")"

# While it was down (kill .. restart), writes kept being acked.
bv --log-window "$d/log" --size $size --from "$t_kill" --to "$t_restart" \
	> "$d/down.json" || fail "log window"
acks=$(jget "$d/down.json" .acks)
[ "$acks" -gt 100 ] || fail "only $acks writes acked while zone 3 was down"
first=$(jget "$d/down.json" .first_ack_ns)
echo "death to next ack (quorum): $(( (first - t_kill) / 1000 )) us;" \
     "$acks writes acked while zone 3 was down"
[ $(( first - t_kill )) -lt 1000000000 ] || fail "death to next ack >= 1 s"

# Regions written while it missed writes: writes out at any time from the
# kill to the start of its resync, and since its last good flush before.
bv --log-window "$d/log" --size $size --from $((t_kill - 500000000)) \
	--to "$t_resync" \
	> "$d/dirty.json" || fail "log window"
regions=$(jget "$d/dirty.json" .regions)
copied=$(jq -r '.zones[] | select(.zone == "z3") | .resync_bytes' "$out")
echo "regions written while down or since the flush before: $regions (of 4096);" \
     "resync copied $copied bytes = $(( copied / 65536 )) regions"
[ "$regions" -gt 0 ] && [ "$regions" -lt 4096 ] ||
	fail "the test wrote $regions regions: not a partial dirty set"
[ "$copied" -gt 0 ] || fail "nothing was resynced"
[ $(( copied * 10 )) -le $(( regions * 65536 * 11 )) ] ||
	fail "resync copied $copied bytes > 1.1 x $regions regions"
echo "resync ratio: $(awk -v c="$copied" -v r="$regions" \
	'BEGIN { printf "%.3f", c / (r * 65536) }') of the dirty regions;" \
     "in sync $(( (t_insync - t_resync) / 1000000 )) ms after it started"

for z in 1 2 3; do
	cmp "$(cluster_img "$z" vol)" "$d/ref.img" ||
		fail "zone $z differs from the data written"
done
echo "PASS: writes went on, resync copied only dirty regions, replicas identical"
