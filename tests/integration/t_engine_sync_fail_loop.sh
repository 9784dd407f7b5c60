#!/bin/bash
# timeout: 90
# A replica server whose sync failed in its current run is not copied in
# full again and again.  Such a server fails every later FLUSH with EIO
# until it restarts, and its HELLO says "sync failed" (state 2), after
# which the engine copies all of the volume to it and ends the copy with
# a FLUSH carrying REPL_F_FULL_COPY.  That flush failed too, the replica
# was degraded, the engine reconnected (100 ms backoff, reset when the
# replica came up), the HELLO said sync failed again, and the whole
# volume was copied again: a loop of full copies to a disk that cannot
# make them durable, until someone restarted the server.  Now the server
# refuses the HELLO (ENOTRECOVERABLE) and the engine leaves the replica
# degraded, retrying cheaply, until the server restarts; then it is
# copied in full exactly once.
#
# Zone 2's data dir is on lib/faildisk.sh's disk.  Writes flow at 100/s
# with a flush every second; the disk fails, zone 2 is degraded (a FLUSH
# fails), the disk heals with the server still running, and the full
# copies to zone 2 are counted for 4 s: at most one may start.  Then the
# server is killed, the disk remounted (its page cache dropped) and the
# server restarted: zone 2 must be copied in full exactly once and come
# back in sync, and both images must hold every acked write.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/faildisk.sh"

engine_disk_cluster faildisk 2
d=$CLUSTER_DIR
v=v
size=8M
regions=$((8 * 1024 * 1024 / 65536))

# Full copies to zone 2 done ("in sync: resynced <all> regions"); each
# one ends with the FLUSH that tells the server so.
copies() {
	grep -c "replica z2 in sync: resynced $regions regions" "$d/$v.err"
}

# shellcheck disable=SC2046
bv_bg $(engine_vol_args "$v" $size 1 2) --create --ack all -v \
	--rw randwrite --bs 4k --iodepth 4 --rate 100 --runtime 12 \
	--flush-interval 1000 --verify --log "$d/$v.log" \
	--status "$d/$v.status" --wait-in-sync 30 --seed 5 \
	> "$d/$v.out" 2> "$d/$v.err" &
BV_PID=$!
engine_z2_sync_fails "$d/$v.status"
echo "zone 2's sync failed; its disk healed, its server runs on"

c0=$(copies)
sleep 4
kill -0 "$BV_PID" 2>/dev/null || fail "bench-volume ended early"
loop=$(($(copies) - c0))
echo "while the server ran on: $loop full copies of zone 2 in 4 s"
[ "$loop" -le 1 ] ||
	fail "zone 2 was copied in full $loop times in 4 s to a server whose sync failed"
grep -q 'replica z2 refused hello: a sync .*until that server is restarted' "$d/$v.err" ||
	fail "the engine did not say zone 2's server must be restarted"
! grep 'replica z2 sent a bad frame' "$d/$v.err" ||
	fail "the engine took zone 2's refusal for a bad frame"
st=$(jq -r '.zones[] | select(.zone == "z2") | .state' "$d/$v.status")
[ "$st" = degraded ] || fail "zone 2 is $st, not degraded, while its sync is failed"

engine_z2_down "$v"
c1=$(copies)
cluster_restart 2 || fail "zone 2 did not restart"
echo "zone 2's server restarted (seqs reset)"

engine_bv_wait "$d/$v.err"
after=$(($(copies) - c1))
echo "after the restart: $after full copies of zone 2"
[ "$after" -eq 1 ] ||
	fail "zone 2 was copied in full $after times after its restart, not once"
st=$(engine_meta_state 2 "$v")
[ "$st" = dirty ] || [ "$st" = clean ] ||
	fail "zone 2's record after a finished full copy: $st"
engine_check_images "$v" $size 1 2
echo "PASS: $loop full copies while the failed server ran on, $after after its restart"
