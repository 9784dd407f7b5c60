#!/bin/bash
# timeout: 90
# A replica whose sync failed gets every write it acked since its last
# good flush again, not only the last 250 ms of them.  Linux drops the
# dirty pages whose writeback failed and tells one fsync only, so all of
# them may be gone there.
#
# Zone 2's data dir is ext2 on a loop device over nbdfuse over nbdkit's
# memory plugin with the error filter (every write fails while a trigger
# file exists).  Writes flow at 100/s with a flush every 2.5 s.  After
# the first flush the disk fails, and zone 2 is degraded (a FLUSH or a
# write fails).  Its server is then killed, the disk healed, the file
# system remounted (the page cache, which still held the lost writes, is
# gone) and the server restarted (it resets the volume's seqs after a
# failed sync); once zone 2 is resynced its image must hold every acked
# write.  Rounds (see round() below):
#   v1: its FLUSH fails; it cannot reconnect before the restart.  The
#       engine used to mark only the activity log's regions for it.
#   v2: the same, but it reconnects at once to the server that still
#       fails every FLUSH: a copy of everything to it does not land (its
#       seqs claim the lost writes), and it must be copied again after
#       the restart.
#   v3: its server does O_DIRECT: a write fails first, the engine hangs
#       up, and the server's own sync at close fails.  The engine has
#       seen no failed FLUSH; only the HELLO state (sync failed) says it.
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
		# a killed server's io_uring workers may hold files a moment
		for i in $(seq 50); do
			mountpoint -q "$W/mnt" || break
			umount "$W/mnt" 2>/dev/null || sleep 0.1
		done
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
CLUSTER_SERVER_ARGS="--io buffered"	# restarts too
cluster_start 2 --proxy ||
	fail "cluster did not start"
d=$CLUSTER_DIR
size=64M

# remount [mkfs]: zone 2's server must be down; its io_uring workers may
# hold the files a moment longer.
remount() {
	local i
	for i in $(seq 50); do
		umount "$W/mnt" 2>/dev/null && break
		sleep 0.1
	done
	! mountpoint -q "$W/mnt" || fail "cannot unmount zone 2's disk"
	[ -z "${1:-}" ] || mkfs.ext2 -q -F -b 4096 "$LOOP" > /dev/null 2>&1 ||
		fail "mkfs"
	mount -t ext2 "$LOOP" "$W/mnt" || fail "remount"
}

# round NAME MODE IO: write volume NAME, fail zone 2's disk after the
# first flush, check zone 2's image once it is back and resynced.
#   MODE refuse:    zone 2's proxy refuses reconnects until its server
#                   has restarted;
#   MODE reconnect: the disk heals at once, and the engine may come back
#                   to the server for 1.5 s before it is restarted.
#   IO: zone 2's server's image I/O (--io).
round() {
	local v=$1 mode=$2 rc z
	rm -rf "$d/state"
	CLUSTER_SERVER_ARGS="--io $3"
	# a fresh file system, with no trace of an earlier round's errors
	cluster_kill 2
	remount mkfs
	cluster_restart 2 || fail "zone 2 did not restart"
	# shellcheck disable=SC2046
	bv_bg $(engine_vol_args "$v" $size 1 2) --create --ack all \
		--rw randwrite --bs 4k --iodepth 4 --rate 100 --runtime 9 \
		--flush-interval 2500 --verify --log "$d/$v.log" \
		--status "$d/$v.status" --wait-in-sync 30 --seed 7 \
		> "$d/$v.out" 2> "$d/$v.err" &
	BV_PID=$!
	engine_wait_state "$d/$v.status" z2 in-sync || fail "$v did not start"
	sleep 3		# the first flush (2.5 s) is done
	[ "$mode" = reconnect ] ||
		cluster_proxy 2 refuse on > /dev/null || fail "proxy refuse"
	touch "$ON"
	echo "$v: zone 2's disk fails; writes go on into its page cache"
	engine_wait_state "$d/$v.status" z2 degraded ||
		fail "$v: zone 2 was not degraded"
	grep -h 'degraded\|failed a' "$d/$v.err" | head -2
	if [ "$mode" = reconnect ]; then
		rm -f "$ON"
		echo "$v: disk healed; zone 2's server runs on for 1.5 s"
		sleep 1.5
	fi
	cluster_kill 2
	rm -f "$ON"
	remount
	echo "$v: page cache dropped: zone 2 restarts without the lost writes"
	cluster_restart 2 || fail "zone 2 did not restart"
	cluster_proxy 2 refuse off > /dev/null || fail "proxy refuse off"

	wait "$BV_PID"
	rc=$?
	BV_PID=
	[ $rc -eq 0 ] || { cat "$d/$v.err" >&2; fail "$v: bench-volume failed ($rc)"; }
	grep -h 'in sync: resynced' "$d/$v.err" | tail -1
	for z in 1 2; do
		bv --size $size --check-log "$d/$v.log" \
			--image "$(cluster_img $z "$v")" || {
			grep -h 'z2' "$d/$v.err" >&2
			fail "$v: zone $z's image lacks acked writes"
		}
	done
}

round v1 refuse buffered
round v2 reconnect buffered
round v3 reconnect direct
echo "PASS: a replica whose FLUSH failed got back every write acked since its last good flush"
