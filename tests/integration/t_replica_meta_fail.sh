#!/bin/bash
# timeout: 60
# A HELLO is answered OK only once the volume's metadata record is on
# disk (docs/replication-protocol.md, HELLO: "Before it replies, the
# server has made durable ... the volume's existence").  Here the record
# cannot be written: the data directory is a slow disk (tapestry-slowfs,
# fsync 2 s) over a tmpfs of the test's own with room for the new
# volume's seqmap but not for its .meta.  The first HELLO gets EIO; a
# second one, sent while the server is still syncing the volume it gave
# up on, must get EIO too (the server used to count the failed write as
# persisted and answer OK), and after a restart the volume must not
# exist, nor have been acked as existing.  The server gives the volume up
# as clean in memory only, so SIGTERM before the restart exits 1.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/slowfs.sh"

BACK_MOUNTED=
cleanup() {
	cluster_kill 1
	slowfs_stop
	[ -z "$BACK_MOUNTED" ] || umount "$BACK_MOUNTED" 2>/dev/null ||
		umount -l "$BACK_MOUNTED"
	cluster_cleanup
}
cluster_init
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
mkdir -p "$CLUSTER_DIR/slow.back"
mount -t tmpfs -o size=1M tapestry-metafail "$CLUSTER_DIR/slow.back" ||
	{ echo "SKIP: cannot mount a tmpfs"; exit 77; }
BACK_MOUNTED=$CLUSTER_DIR/slow.back
slowfs_start
cluster_data() { echo "$SLOWFS_MNT/z$1"; }
cluster_start 1 || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
B="$R --create --volume m --size 4M $A"	# seqmap: 8 KiB, two pages

fail() { echo "FAIL: $*"; cluster_logs 20; exit 1; }

# fill the backing filesystem, then give back two pages: the seqmap's
head -c 8192 /dev/zero > "$BACK_MOUNTED/spare"
dd if=/dev/zero of="$BACK_MOUNTED/filler" bs=4096 status=none 2>/dev/null
rm "$BACK_MOUNTED/spare"
slowfs_delay 2000

out=$($B 2>&1)
grep -q 'hello: EIO' <<<"$out" || fail "first HELLO: $out"
# the server now fdatasyncs the volume it gave up on, for 2 s
out=$($B 2>&1)
grep -q 'hello: EIO' <<<"$out" || fail "HELLO acked with no metadata on disk: $out"
echo "both HELLOs refused with EIO"

slowfs_delay 0
sleep 2.5	# let the syncs finish
# The volume was synced and freed, but the record saying it is clean
# could not be written either: the server must not claim a clean stop.
grep -q 'volume m: closed clean' "$(cluster_log 1)" &&
	fail "the log says volume m closed clean, with no record of it"
rm -f "$BACK_MOUNTED/filler"
cluster_stop 1
rc=$?
[ $rc -eq 1 ] || fail "SIGTERM after an unwritten clean record: exit $rc, not 1"
echo "stopped with exit 1: the clean record was never written"
cluster_restart 1 || fail "restart"
out=$($R --volume m --size 4M "$A" 2>&1)
grep -q 'hello: ENOENT' <<<"$out" || fail "volume m after restart: $out"
echo "after a restart the volume does not exist"
cluster_stop 1 || fail "unclean exit $?"
echo PASS
