#!/bin/bash
# timeout: 90
# A replica restored from a backup while the engine runs on.  The engine
# knew what a good FLUSH had made durable on it; the restored replica
# says HELLO with an older applied_seq, and the engine used to take it
# for a server that lost its page cache: it copied again only the regions
# written since the replica's last good flush began, and every write
# acked between the backup and that flush stayed lost on it (it then
# counted as in sync, and could serve reads or vouch in a reconcile).
#
# Now an applied_seq below the highest seq a good flush covered there
# means the replica lost flushed writes: all of it is copied.
#
# Three zones under quorum, writes at 300/s with a flush every 200 ms.
# Zone 2's server is stopped after a flush, its data dir copied aside,
# restarted and resynced; more writes and flushes land on it; it is
# stopped again, the old copy put back, and restarted.  The engine must
# say it was rolled back, and every image must end equal to the data
# written.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

engine_cluster 3
d=$CLUSTER_DIR
v=v
size=32M

# shellcheck disable=SC2046
bv_bg $(engine_vol_args "$v" $size 1 2 3) --create --ack quorum \
	--rw randwrite --bs 4k --iodepth 4 --rate 300 --runtime 7 \
	--flush-interval 200 --verify --log "$d/$v.log" --ref "$d/ref.img" \
	--status "$d/$v.status" --wait-in-sync 30 --seed 11 \
	> "$d/$v.out" 2> "$d/$v.err" &
BV_PID=$!
engine_wait_state "$d/$v.status" z2 in-sync || fail "the volume did not start"
sleep 1
cluster_stop 2 || fail "zone 2 did not stop cleanly"
engine_wait_state "$d/$v.status" z2 degraded || fail "zone 2 not degraded"
cp -a "$(cluster_data 2)" "$d/backup" || fail "cannot copy zone 2's data"
cluster_restart 2 || fail "zone 2 did not restart"
engine_wait_state "$d/$v.status" z2 in-sync || fail "zone 2 did not resync"
# Writes and good flushes (every 200 ms) land on zone 2.
sleep 1.5
cluster_stop 2 || fail "zone 2 did not stop cleanly (2)"
engine_wait_state "$d/$v.status" z2 degraded || fail "zone 2 not degraded (2)"
rm -rf "$(cluster_data 2)"
mv "$d/backup" "$(cluster_data 2)" || fail "cannot put the backup back"
echo "zone 2 restored from its backup; its server restarts"
cluster_restart 2 || fail "zone 2 did not restart (2)"

engine_bv_wait "$d/$v.err"
grep -h 'z2' "$d/$v.err" | grep -v 'progress' | tail -4
engine_check_images "$v" $size 1 2 3
for z in 1 2 3; do
	cmp "$(cluster_img $z "$v")" "$d/ref.img" ||
		fail "zone $z differs from the data written"
done
grep -q 'replica z2 .*below seq .*good flush made durable' "$d/$v.err" ||
	fail "the engine did not report zone 2's rollback"
echo "PASS: a replica rolled back to a backup was copied in full and holds every acked write"
