#!/bin/bash
# timeout: 90
# After a failed sync, a replica never vouches, by its per-block seqs, for
# data the kernel may have dropped.  Write A (seq 10) to block 0, FLUSH;
# write B (seq 20) to block 0; the disk fails for the FLUSH after it (B's
# writeback is lost, B stays only in the page cache) and recovers; a write
# C (seq 30) to block 1 then dirties the seq file's page again, and the
# close writes it back, seq 20 for block 0 included.  After the page cache
# is gone (the filesystem remounted) and the server restarted, block 0
# holds A on disk; the server used to answer a RESYNC_READ of it with seq
# 20, A's data under B's seq, so a resync copy of B (seq 20, not newer)
# was never applied and the replica kept A for ever.  Now the server
# records the failed sync in NAME.meta and resets every block's seq on
# the next open, so the copy is applied.  The record keeps saying so until
# the volume is recorded clean, also across a kill after the reset.
#
# The disk: ext2 on a loop device over nbdfuse over nbdkit's memory
# plugin with the error filter, which fails every write while a trigger
# file exists (as in t_replica_flush_eio.sh).
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

fail() { echo "FAIL: $*"; cluster_logs 30; exit 1; }

"$R" --create --volume v --size 1M "$A" write 0 4096 fill=0x41 seq=10 \
	flush write 0 4096 fill=0x42 seq=20 sleep 1000 flush expect=EIO \
	sleep 1000 write 4096 4096 fill=0x43 seq=30 > "$W/client.out" 2>&1 &
client=$!
faildisk_wait_line 4	# hello, write A, flush, write B
faildisk_fail
faildisk_wait_line 5	# the flush after write B
faildisk_heal
wait "$client" || fail "client: $(cat "$W/client.out")"
echo "write A flushed; FLUSH after write B failed (EIO); write C to block 1"
cluster_stop 1 && fail "server exited 0 after a failed sync"
m=$("$R" --meta "$FAILDISK_MNT/z1/v.meta") || fail "no metadata record"
grep -q '"state":"sync-failed"' <<<"$m" || fail "failed sync not recorded: $m"

# Drop the page cache of the replica's files: what is left is the disk's.
faildisk_remount || fail "remount"
blk0=$(od -An -tx1 -N1 "$FAILDISK_MNT/z1/v.img" | tr -d ' ')
[ "$blk0" = 41 ] || { echo "SKIP: write B reached the disk after all ($blk0)"; exit 77; }
echo "on disk after a remount, block 0 holds A (B was lost)"

cluster_restart 1 || fail "restart"
A=$(cluster_addr 1)
# Open after the seq reset, and killed before it is recorded clean: the
# record must keep saying sync failed, or the next open would trust the
# seqs and say dirty (the engine would then copy only what it missed).
"$R" --volume v --size 1M "$A" sleep 5000 > "$W/hold.out" 2>&1 &
hold=$!
for _ in $(seq 200); do
	grep -q '^hello: ' "$W/hold.out" && break
	sleep 0.02
done
grep -q '^hello: OK' "$W/hold.out" ||
	fail "HELLO after the seq reset: $(cat "$W/hold.out")"
m=$("$R" --meta "$FAILDISK_MNT/z1/v.meta") || fail "no metadata record"
grep -q '"state":"sync-failed"' <<<"$m" ||
	fail "record after the seq reset's HELLO: $m"
cluster_kill 1
wait "$hold"
cluster_restart 1 || fail "second restart"
A=$(cluster_addr 1)
echo "open after the seq reset, then killed: the record still says sync failed"
out=$("$R" --volume v --size 1M "$A" resync-read 0 4096 status 2>&1) ||
	fail "resync-read: $out"
grep -q ' state sync-failed ' <<<"$out" ||
	fail "STATUS after a second restart does not say sync failed: $out"
seq0=$(sed -n 's/^seqs: //p' <<<"$out")
[ -n "$seq0" ] || fail "no seqs: $out"
[ "$seq0" -lt 20 ] ||
	fail "block 0 holds A but the replica claims seq $seq0 (write B's) for it"
echo "RESYNC_READ of block 0: seq $seq0, below write B's"

head -c 4096 /dev/zero | tr '\0' 'B' > "$W/b"
out=$("$R" --volume v --size 1M "$A" resync-write 0 file="$W/b" seqs=20 \
	read 0 4096 out="$W/got" 2>&1) || fail "resync-write: $out"
cmp -s "$W/got" "$W/b" || fail "a resync copy of write B (seq 20) was not applied"
echo "a resync copy of write B (seq 20) is applied"
echo PASS
