#!/bin/bash
# timeout: 60
# After a FLUSH fails, no later FLUSH of the volume may say its writes are
# durable.  Linux reports a writeback error to one fdatasync only and
# drops the failed pages' dirty state: the next fdatasync returns 0 with
# the data never written.  So a second FLUSH used to be answered OK,
# though a write acked before it was not on disk (docs: a FLUSH makes
# "every write ... that arrived before it" durable), and the volume was
# then recorded clean on SIGTERM.
#
# The disk: ext2 on a loop device over nbdfuse over nbdkit's memory
# plugin with the error filter, which fails every write while a trigger
# file exists.  The server uses buffered image I/O, so writes sit in the
# page cache until a FLUSH.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/faildisk.sh"

cleanup() {
	cluster_kill 1
	faildisk_stop
	cluster_cleanup
}
cluster_init
trap cleanup EXIT
faildisk_start
faildisk_replica

fail() { echo "FAIL: $*"; cluster_logs 20; exit 1; }

# One connection throughout (a new HELLO would need a metadata write):
# the disk fails from just after write B until the first FLUSH after it
# has failed; the sleeps leave time to turn the failures on and off.
"$R" --create --volume v --size 1M "$A" write 0 4096 fill=0x41 flush \
	write 0 4096 fill=0x42 sleep 1000 flush expect=EIO sleep 1000 \
	flush expect=EIO > "$W/client.out" 2>&1 &
client=$!
faildisk_wait_line 4	# hello, write A, flush, write B
faildisk_fail
echo "write A flushed; write B acked into the page cache; disk fails"
faildisk_wait_line 5	# the flush after write B (sleep prints nothing)
faildisk_heal
grep -q '^flush: EIO' "$W/client.out" || fail "FLUSH on a failing disk: $(cat "$W/client.out")"
echo "FLUSH on the failing disk: EIO; disk healthy again"
wait "$client" ||
	fail "FLUSH after a failed one said write B is durable: $(cat "$W/client.out")"
echo "later FLUSH still EIO (write B never reached the disk)"

cluster_stop 1 && fail "server exited 0 (every volume clean) after losing a write"
m=$("$R" --meta "$FAILDISK_MNT/z1/v.meta") || fail "no metadata record"
grep -q '"state":"sync-failed"' <<<"$m" ||
	fail "volume not recorded as having failed a sync: $m"
echo "on SIGTERM the volume stays dirty and the exit status says so"
echo PASS
