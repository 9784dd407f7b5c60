#!/bin/bash
# timeout: 90
# A replica server acks a write once it is in its page cache; it is
# durable only at the server's next good FLUSH.  If the server's node
# loses its page cache before that (power loss), the writes it acked
# since are gone, and so may be the seqs of some of them, in any mix:
# image and seq file are written back in no fixed order.  The server
# used to reopen the volume as merely "not closed cleanly", trust its
# seqs, and the engine took it back as in sync for every region it had
# not seen fail: the lost writes stayed lost on that replica.
#
# Now the server records, lazily after each good FLUSH, the highest seq
# whose data and seq were synced (S), and on an unclean open zeroes
# every seq above S and reports what is left; the engine, seeing the
# replica report less than it acked, copies again every region it wrote
# there since its last good FLUSH began.
#
# Three zones under quorum; zone 2's data dir is on lib/faildisk.sh's
# disk, its server does buffered I/O.  Writes flow at 200/s with a flush
# every 3 s.  After the first flush, the writes sit in zone 2's page
# cache; then its disk fails, its server is killed, the file system is
# unmounted while the disk still fails (the page cache is dropped, as in
# a power loss), healed, checked (e2fsck), mounted again, and the server
# restarted.  Once zone 2 is back in sync, its image must hold every
# acked write.  Before the fix it lacked hundreds of them (231 to 291 of
# 1603 acked blocks a run); now none.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/faildisk.sh"

FAILDISK_SIZE=128M engine_disk_cluster faildisk 3
d=$CLUSTER_DIR
v=v
size=32M

# shellcheck disable=SC2046
bv_bg $(engine_vol_args "$v" $size 1 2 3) --create --ack quorum \
	--rw randwrite --bs 4k --iodepth 4 --rate 200 --runtime 9 \
	--flush-interval 3000 --verify --log "$d/$v.log" \
	--status "$d/$v.status" --wait-in-sync 30 --seed 5 \
	> "$d/$v.out" 2> "$d/$v.err" &
BV_PID=$!
engine_wait_state "$d/$v.status" z2 in-sync || fail "the volume did not start"
sleep 4.5	# the first flush (3 s) is done; the next is due at 6 s
faildisk_fail
cluster_kill 2
# Unmount while every write fails: the dirty pages, image's and seq
# file's, are dropped, as a power loss would.
faildisk_umount || fail "cannot unmount zone 2's disk"
faildisk_heal
# ext2 has no journal: after a power loss its block bitmaps may free
# blocks that synced files use (an fdatasync does not write them), and a
# mount without a check would hand them out again.  Check it, as a node
# would at boot (1: errors fixed).
e2fsck -fy "$FAILDISK_LOOP" > "$d/fsck.out" 2>&1
rc=$?
[ $rc -le 1 ] || { cat "$d/fsck.out"; fail "e2fsck: exit $rc"; }
mount -t ext2 "$FAILDISK_LOOP" "$FAILDISK_MNT" || fail "cannot mount zone 2's disk"
echo "zone 2 lost its page cache; its server restarts"
cluster_restart 2 || fail "zone 2 did not restart"

engine_bv_wait "$d/$v.err"
grep -h 'z2' "$d/$v.err" | grep -v 'progress' | tail -4
out=
for z in 1 2 3; do
	out=$(bv --size $size --check-log "$d/$v.log" \
		--image "$(cluster_img $z "$v")" 2>&1) || {
		echo "$out" | tail -3 >&2
		fail "zone $z's image lacks acked writes"
	}
done
echo "PASS: a replica that lost its page cache got back every write it acked since its last good flush"
