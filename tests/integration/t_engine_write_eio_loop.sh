#!/bin/bash
# timeout: 90
# A replica server whose disk fails a write with EIO is not copied in
# full again and again.  The engine takes a remote's EIO on a write as a
# failed disk that may have lost what it acked: it marks all of the
# volume, says SYNC_FAILED in its next HELLO (the server resets its seqs,
# state 2) and copies all of it.  The server itself took a write's EIO
# (without FUA) for nothing worse than that write failing: it let the
# engine in, the copy reached the bad stretch, failed with EIO, the
# replica was degraded, and 100 ms later the whole volume was copied
# again, until someone restarted the server.  Now the server takes a
# write's EIO as the engine does, a failed sync, and refuses the HELLO
# (ENOTRECOVERABLE) until it restarts, as after a failed FLUSH.
#
# Zone 2's data dir is on tapestry-slowfs, which fails every write to
# the first MiB of an image with EIO (a bad stretch of disk: the
# metadata and seq files stay writable).  Writes flow at 100/s; once one
# hits the bad stretch zone 2 is degraded, and the full copies started
# to it are counted for 4 s: at most one may start.  Then the disk heals
# and the server restarts: zone 2 must come back in sync, and both
# images must hold every acked write.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/slowfs.sh"

engine_disk_cluster slowfs 2
d=$CLUSTER_DIR
v=v
size=8M
regions=$((8 * 1024 * 1024 / 65536))

# Full copies to zone 2 started (it came up with every region to copy)
copies() {
	grep -c "replica z2 is back; resyncing $regions regions" "$d/$v.err"
}

# shellcheck disable=SC2046
bv_bg $(engine_vol_args "$v" $size 1 2) --create --ack all -v \
	--rw randwrite --bs 4k --iodepth 4 --rate 100 --runtime 12 \
	--flush-interval 1000 --verify --log "$d/$v.log" \
	--status "$d/$v.status" --wait-in-sync 30 --seed 5 \
	> "$d/$v.out" 2> "$d/$v.err" &
BV_PID=$!
engine_wait_state "$d/$v.status" z2 in-sync || fail "the volume did not start"
c0=$(copies)
slowfs_eio 0 1048576
engine_wait_state "$d/$v.status" z2 degraded || fail "zone 2 was not degraded"
grep -h 'replica z2 failed a' "$d/$v.err" | head -1
echo "zone 2's disk fails writes to the first MiB of the image"

sleep 4
kill -0 "$BV_PID" 2>/dev/null || fail "bench-volume ended early"
loop=$(($(copies) - c0))
echo "while the server ran on: $loop full copies of zone 2 started in 4 s"
[ "$loop" -le 1 ] ||
	fail "zone 2 was copied in full $loop times in 4 s to a disk that fails its writes"
grep -q 'replica z2 refused hello: a sync .*until that server is restarted' "$d/$v.err" ||
	fail "the engine did not say zone 2's server must be restarted"

cluster_kill 2
slowfs_eio 0 0
cluster_restart 2 || fail "zone 2 did not restart"
echo "disk healed, zone 2's server restarted"

engine_bv_wait "$d/$v.err"
engine_check_images "$v" $size 1 2
echo "PASS: $loop full copies while the failing server ran on"
