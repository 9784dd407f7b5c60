#!/bin/bash
# timeout: 90
# A replica whose sync failed is copied in full once, not at every
# reconnect.  Its server reports "sync failed" (state 2) in HELLO until
# the volume is recorded otherwise, and the engine copies all of the
# volume to a replica that says so.  That used to last until the
# volume's last close, so after a finished full copy every network blip
# (a reconnect) copied the whole volume again.  Now the engine, once the
# full copy is done, sends the replica a FLUSH with REPL_F_FULL_COPY; when
# that flush succeeds the server records the volume dirty (no longer sync
# failed) in its .meta, and the next reconnect resyncs only what the
# replica missed.
#
# Zone 2's data dir is on lib/faildisk.sh's disk.  Writes flow at 100/s
# with a flush every second; the disk fails, zone 2 is degraded (a FLUSH
# fails), its server is killed, the disk healed and remounted and the
# server restarted: its HELLO says sync failed, and zone 2 is copied in
# full.  Then the proxy drops the connection once: zone 2 must come back
# with a resync of a few regions, its HELLO no longer saying sync failed,
# and both images must hold every acked write.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/faildisk.sh"

FAILDISK_SIZE=128M engine_disk_cluster faildisk 2 --proxy
d=$CLUSTER_DIR
v=v
size=32M
regions=$((32 * 1024 * 1024 / 65536))

# The "in sync: resynced N regions" counts of zone 2, one per line.
resynced() { engine_resynced 2 "$d/$v.err"; }

# shellcheck disable=SC2046
bv_bg $(engine_vol_args "$v" $size 1 2) --create --ack all -v \
	--rw randwrite --bs 4k --iodepth 4 --rate 100 --runtime 14 \
	--flush-interval 1000 --verify --log "$d/$v.log" \
	--status "$d/$v.status" --wait-in-sync 30 --seed 11 \
	> "$d/$v.out" 2> "$d/$v.err" &
BV_PID=$!
engine_z2_sync_fails "$d/$v.status"
# Healed, the server runs on until it refuses the engine's HELLO (a
# sync failed in its current run): a HELLO is answered only once the
# record (sync failed) is on disk, which the write at the failure could
# not do.
engine_wait_grep "$d/$v.err" 'replica z2 refused hello: a sync' ||
	fail "zone 2's server did not refuse the engine after the disk healed"
cluster_proxy 2 refuse on > /dev/null || fail "proxy refuse"
engine_z2_down "$v"
n0=$(resynced | wc -l)
cluster_restart 2 || fail "zone 2 did not restart"
cluster_proxy 2 refuse off > /dev/null || fail "proxy refuse off"
echo "zone 2's sync failed; its server restarted (seqs reset)"

engine_wait_resyncs 2 "$d/$v.err" $((n0 + 1)) ||
	fail "zone 2 was not resynced after its restart"
full=$(resynced | tail -1)
[ "$full" -eq "$regions" ] ||
	fail "zone 2 reported a failed sync, but $full of $regions regions were copied"
echo "full copy: $full regions"
# The record leaves "sync failed" once the flag's FLUSH is done.
engine_wait_meta 2 "$v" dirty ||
	fail "zone 2's record after a finished full copy: $(engine_meta_state 2 "$v")"
echo "zone 2's .meta says dirty after the full copy"

# A network blip: the engine's connection is reset, the server's stays
# open (it does not see the partition), so the volume stays open there
# and is not recorded clean; the engine reconnects.
kill -0 "$BV_PID" 2>/dev/null || fail "bench-volume ended before the blip"
f0=$(grep -c 'replica z2 reports a failed sync' "$d/$v.err")
cluster_proxy 2 drop-client > /dev/null || fail "proxy drop-client"
engine_wait_resyncs 2 "$d/$v.err" $((n0 + 2)) ||
	fail "zone 2 was not resynced after the blip"
again=$(resynced | tail -1)
echo "after the blip: $again of $regions regions resynced"
[ "$again" -lt $((regions / 4)) ] ||
	fail "zone 2 was copied in full again after a blip ($again regions)"
[ "$(grep -c 'replica z2 reports a failed sync' "$d/$v.err")" -eq "$f0" ] ||
	fail "zone 2 still reported a failed sync: $(grep 'z2' "$d/$v.err")"

engine_bv_wait "$d/$v.err"
engine_check_images "$v" $size 1 2
echo "PASS: a replica whose sync failed was copied in full once; a blip after resynced $again regions"
