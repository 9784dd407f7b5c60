#!/bin/bash
# timeout: 90
# A replica server killed while writes and flushes go on, and restarted
# in a new mount namespace (a restarted container): it cannot tell the
# kill from a power loss, so it zeroes the seqs its record's synced seq
# does not vouch for, and reports the highest seq left.  That record is
# written by the server's once-a-second tick, so it lags the FLUSHes of
# the last second; the engine knew what those FLUSHes made durable and
# took the lower applied_seq for a rollback to a backup: it copied all of
# the volume, where the regions written since the replica's last good
# flush began were all it lacked (docs/replication-protocol.md).
#
# Three zones under quorum, writes at 300/s with a flush every 200 ms.
# Zone 2's server is SIGKILLed and restarted under unshare -m.  The
# engine must not call it rolled back nor mark all of it to copy, and
# every image must end holding every acked write.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

command -v unshare > /dev/null || { echo "SKIP: no unshare"; exit 77; }
unshare -m true 2> /dev/null || { echo "SKIP: unshare -m refused"; exit 77; }
engine_cluster 3
d=$CLUSTER_DIR
v=v
size=32M

# shellcheck disable=SC2046
bv_bg $(engine_vol_args "$v" $size 1 2 3) --create --ack quorum \
	--rw randwrite --bs 4k --iodepth 4 --rate 300 --runtime 5 \
	--flush-interval 200 --verify --log "$d/$v.log" --ref "$d/ref.img" \
	--status "$d/$v.status" --wait-in-sync 30 --seed 11 \
	> "$d/$v.out" 2> "$d/$v.err" &
BV_PID=$!
engine_wait_state "$d/$v.status" z2 in-sync || fail "the volume did not start"
sleep 1.5	# writes and good flushes on zone 2
# The same server, in a mount namespace of its own: its image's mount id
# differs from the one its record names.
printf '#!/bin/sh\nexec unshare -m %s "$@"\n' "$CLUSTER_TAPESTRYD" > "$d/newns"
chmod +x "$d/newns"
cluster_kill 2
CLUSTER_TAPESTRYD=$d/newns cluster_restart 2 || fail "zone 2 did not restart"
echo "zone 2 killed and restarted in a new mount namespace"

engine_bv_wait "$d/$v.err"
grep -h "not closed cleanly" "$d"/z2/server.log | sed 's/^/    /'
grep -h 'z2' "$d/$v.err" | grep -v 'progress' | tail -4
grep -q "not closed cleanly, but on this boot and mount" "$d"/z2/server.log &&
	fail "zone 2's server took the restart for a kill it could recognise"
engine_check_images "$v" $size 1 2 3
for z in 1 2 3; do
	cmp "$(cluster_img $z "$v")" "$d/ref.img" ||
		fail "zone $z differs from the data written"
done
grep 'replica z2 ' "$d/$v.err" | grep -q 'good flush made durable\|all of it is to be copied' &&
	fail "a killed replica was taken for one rolled back: all of it copied"
echo "PASS: a replica killed and restarted in a new mount namespace was" \
     "copied only where it lacked writes"
