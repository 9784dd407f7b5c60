#!/bin/bash
# timeout: 90
# A replica whose FLUSH fails gets every write it acked since its last
# good flush again, not only the last 250 ms of them.  Linux drops the
# dirty pages whose writeback failed and tells one fsync only, so all of
# them may be gone there; the engine used to mark only the activity log's
# regions (swept every 250 ms) for it, and the writes acked earlier were
# never re-sent: the replica came back "in sync" without them.
#
# Zone 2's data dir is ext2 on a loop device over nbdfuse over nbdkit's
# memory plugin with the error filter (every write fails while a trigger
# file exists); its server does buffered I/O.  Writes flow at 100/s with
# a flush every 2.5 s.  After the first flush the disk fails (and zone 2's
# proxy refuses new connections, so the engine cannot come back to a
# server that still fails every FLUSH); the next flush fails on zone 2.
# The server is killed, the disk healed, the file system remounted (the
# page cache, which still held the lost writes, is gone: image and seqs
# are back to what the disk has) and the server restarted; once zone 2 is
# resynced its image must hold every acked write.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (loop device, mount)"; exit 77; }
for t in nbdkit nbdfuse losetup mkfs.ext2 jq; do
	command -v $t > /dev/null || { echo "SKIP: no $t"; exit 77; }
done
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }

W=
FUSE_PID=
LOOP=
BV_PID=
cleanup() {
	[ -z "$BV_PID" ] || { kill -9 "$BV_PID" 2>/dev/null; wait "$BV_PID" 2>/dev/null; }
	cluster_kill 2 2>/dev/null
	if [ -n "$W" ]; then
		mountpoint -q "$W/mnt" && umount "$W/mnt"
		[ -z "$LOOP" ] || losetup -d "$LOOP"
		mountpoint -q "$W/fm" && umount "$W/fm"
	fi
	if [ -n "$FUSE_PID" ]; then
		kill "$FUSE_PID" 2>/dev/null
		wait "$FUSE_PID" 2>/dev/null
	fi
	cluster_cleanup
}
cluster_init
trap cleanup EXIT
W=$CLUSTER_DIR/eio
mkdir -p "$W/fm" "$W/mnt"
ON=$W/errors-on
nbdfuse "$W/fm" --command nbdkit -s --filter=error memory 256M \
	error-pwrite=EIO error-pwrite-rate=100% error-file="$ON" \
	> "$W/nbdfuse.log" 2>&1 &
FUSE_PID=$!
for i in $(seq 100); do
	[ -e "$W/fm/nbd" ] && break
	kill -0 "$FUSE_PID" 2>/dev/null || break
	sleep 0.05
done
[ -e "$W/fm/nbd" ] || { cat "$W/nbdfuse.log"; echo "SKIP: nbdfuse did not mount"; exit 77; }
LOOP=$(losetup -f --show --direct-io=on "$W/fm/nbd") || { echo "SKIP: no loop device"; exit 77; }
mkfs.ext2 -q -F -b 4096 "$LOOP" > /dev/null 2>&1 && mount -t ext2 "$LOOP" "$W/mnt" ||
	{ echo "SKIP: cannot make or mount ext2 on $LOOP"; exit 77; }

cluster_data() {
	if [ "$1" = 2 ]; then echo "$W/mnt/z2"; else echo "$CLUSTER_DIR/z$1/data"; fi
}
cluster_img() { echo "$(cluster_data "$1")/$2.img"; }
CLUSTER_SERVER_ARGS="--io buffered" cluster_start 2 --proxy ||
	fail "cluster did not start"
d=$CLUSTER_DIR
size=64M

# shellcheck disable=SC2046
bv_bg $(engine_vol_args v $size 1 2) --create --ack all \
	--rw randwrite --bs 4k --iodepth 4 --rate 100 --runtime 9 \
	--flush-interval 2500 --verify --log "$d/log" --status "$d/status" \
	--wait-in-sync 30 --seed 7 > "$d/bv.out" 2> "$d/bv.err" &
BV_PID=$!
engine_wait_state "$d/status" z2 in-sync || fail "volume did not start"
sleep 3		# the first flush (2.5 s) is done
cluster_proxy 2 refuse on > /dev/null || fail "proxy refuse"
touch "$ON"
echo "zone 2's disk fails; writes go on into its page cache"
engine_wait_state "$d/status" z2 degraded || fail "zone 2 was not degraded"
grep -h 'degraded\|failed a flush' "$d/bv.err" | head -3
cluster_kill 2
rm -f "$ON"
umount "$W/mnt" && mount -t ext2 "$LOOP" "$W/mnt" || fail "remount"
echo "disk healed, page cache dropped: zone 2 restarts without the lost writes"
cluster_restart 2 || fail "zone 2 did not restart"
cluster_proxy 2 refuse off > /dev/null || fail "proxy refuse off"

wait "$BV_PID"
rc=$?
BV_PID=
[ $rc -eq 0 ] || { cat "$d/bv.err" >&2; fail "bench-volume failed ($rc)"; }
grep -h 'in sync: resynced' "$d/bv.err" | tail -1
for z in 1 2; do
	bv --size $size --check-log "$d/log" --image "$(cluster_img $z v)" ||
		fail "zone $z's image lacks acked writes"
done
echo "PASS: a replica whose FLUSH failed got back every write acked since its last good flush"
