#!/bin/bash
# timeout: 120
# A replica whose sync failed, brought in sync by crash recovery's
# reconciling rather than by a resync, must be told its full copy is
# done, as after a resync (t_engine_sync_fail_once.sh).  Its HELLO says
# sync failed (state 2), so all of it is dirty and reconciling rewrites
# every region onto it; but only a resync's end sent the FLUSH with
# REPL_F_FULL_COPY, so its server kept the volume "sync failed" and
# every reconnect (a network blip) copied all of it again.
#
# Zone 2's data dir is on lib/faildisk.sh's disk.  A first engine runs
# writes under ack all; zone 2's disk fails (a FLUSH fails), is healed
# and remounted, its server restarted (its record says sync failed);
# the engine is SIGKILLed while writes are out.  A second engine then
# finds an unclean stop and reconciles both replicas.  Zone 2's record
# must leave "sync failed", and a blip must resync only a few regions,
# its HELLO no longer saying sync failed.  Before the fix, the record
# stayed "sync-failed" and the blip copied all 512 regions again.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/faildisk.sh"

FAILDISK_SIZE=128M engine_disk_cluster faildisk 2 --proxy
d=$CLUSTER_DIR
v=v
size=32M
regions=$((32 * 1024 * 1024 / 65536))

# shellcheck disable=SC2046
bv_bg $(engine_vol_args "$v" $size 1 2) --create --ack all \
	--rw randwrite --bs 4k --iodepth 4 --rate 400 --runtime 30 \
	--flush-interval 1000 --status "$d/$v.status" --seed 3 \
	> "$d/$v.out" 2> "$d/$v.err" &
BV_PID=$!
engine_z2_sync_fails "$d/$v.status"
# Its server refuses the engine once its record (sync failed) is on disk.
engine_wait_grep "$d/$v.err" 'replica z2 refused hello: a sync' ||
	fail "zone 2's server did not refuse the engine after the disk healed"
cluster_proxy 2 refuse on > /dev/null || fail "proxy refuse"
engine_z2_down "$v"
cluster_restart 2 || fail "zone 2 did not restart"
# The engine dies with writes out: its activity log is not empty.
kill -9 "$BV_PID"
wait "$BV_PID" 2>/dev/null
BV_PID=
cluster_proxy 2 refuse off > /dev/null || fail "proxy refuse off"
echo "zone 2's sync failed, its server restarted; the engine was killed"

# shellcheck disable=SC2046
bv_bg $(engine_vol_args "$v" $size 1 2) --ack all -v \
	--rw randwrite --bs 4k --iodepth 4 --rate 100 --runtime 12 \
	--flush-interval 1000 --status "$d/$v.status2" --wait-in-sync 30 \
	--seed 4 > "$d/$v.out2" 2> "$d/$v.err2" &
BV_PID=$!
engine_wait_state "$d/$v.status2" z2 in-sync ||
	fail "zone 2 was not brought in sync: $(cat "$d/$v.err2")"
grep -q 'unclean stop, recovering' "$d/$v.err2" ||
	fail "the second engine did not reconcile: $(cat "$d/$v.err2")"
engine_wait_meta 2 "$v" dirty
echo "zone 2's record after reconciling: $(engine_meta_state 2 "$v")"
[ "$(engine_meta_state 2 "$v")" = dirty ] ||
	fail "zone 2's record after reconciling: $(engine_meta_state 2 "$v"), not dirty"
n0=$(engine_resynced 2 "$d/$v.err2" | wc -l)
f0=$(grep -c 'replica z2 reports a failed sync' "$d/$v.err2")
cluster_proxy 2 drop-client > /dev/null || fail "proxy drop-client"
engine_wait_resyncs 2 "$d/$v.err2" $((n0 + 1))
again=$(engine_resynced 2 "$d/$v.err2" | tail -1)
f1=$(grep -c 'replica z2 reports a failed sync' "$d/$v.err2")
echo "after the blip: ${again:-none} of $regions regions resynced;" \
     "HELLOs saying sync failed: $f0 before the blip, $f1 after"
engine_bv_wait "$d/$v.err2"
grep -h 'z2' "$d/$v.err2" | grep -v progress | tail -6
[ -n "$again" ] || fail "zone 2 was not resynced after the blip"
[ "$f1" -eq "$f0" ] || fail "zone 2 still said sync failed after reconciling"
[ "$again" -lt $((regions / 4)) ] ||
	fail "zone 2 was copied in full again after a blip ($again regions)"
cmp "$(cluster_img 1 "$v")" "$(cluster_img 2 "$v")" ||
	fail "the images differ"
echo "PASS: a replica whose sync failed, reconciled after a crash, was told its full copy landed"
