#!/bin/bash
# timeout: 60
# A failed sync is recorded in NAME.meta (state sync-failed) so that the
# next open resets the seqs that may vouch for lost writes.  When the
# disk fails, the write of that record usually fails too; it used to be
# retried only for a HELLO waiting on it (or at the volume's close), so
# with the volume held open and no new HELLO the disk kept a record
# saying dirty, and a crash then trusted the seqs.  Now the server retries
# a failed record on its own, with backoff: fail the disk for one FLUSH
# and the first retry of its record, heal it, and the record on disk
# (read with O_DIRECT, past the page cache) must say sync-failed while
# the one connection still holds the volume and sends nothing.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/faildisk.sh"

cleanup() {
	[ -z "${client:-}" ] || kill "$client" 2>/dev/null
	cluster_kill 1
	faildisk_stop
	cluster_cleanup
}
cluster_init
trap cleanup EXIT
faildisk_start
faildisk_replica

fail() { echo "FAIL: $*"; cluster_logs 30; exit 1; }

# disk_state: the state in v.meta as the disk has it, not the page cache
disk_state() {
	dd if="$FAILDISK_MNT/z1/v.meta" of="$W/meta" bs=4096 count=1 \
		iflag=direct status=none 2>/dev/null || return 1
	"$R" --meta "$W/meta" 2>/dev/null |
		sed -n 's/.*"state":"\([a-z-]*\)".*/\1/p'
}

"$R" --create --volume v --size 1M "$A" write 0 4096 fill=0x41 flush \
	write 0 4096 fill=0x42 sleep 1000 flush expect=EIO \
	sleep 15000 > "$W/client.out" 2>&1 &
client=$!
faildisk_wait_line 4	# hello, write A, flush, write B
s=$(disk_state)
[ "$s" = dirty ] || fail "record on disk after the HELLO: '$s', not dirty"
faildisk_fail
faildisk_wait_line 5	# the flush after write B
grep -q '^flush: EIO' "$W/client.out" ||
	fail "FLUSH on a failing disk: $(cat "$W/client.out")"
# the record of the failed sync is written while the disk still fails
for _ in $(seq 100); do
	grep -q 'metadata write failed' "$(cluster_log 1)" && break
	sleep 0.02
done
grep -q 'metadata write failed' "$(cluster_log 1)" ||
	{ echo "SKIP: the record of the failed sync reached the disk"; exit 77; }
# and retried, unasked, while the disk still fails
for _ in $(seq 150); do
	[ "$(grep -c 'metadata write failed' "$(cluster_log 1)")" -ge 2 ] && break
	sleep 0.02
done
[ "$(grep -c 'metadata write failed' "$(cluster_log 1)")" -ge 2 ] ||
	fail "a failed record of a failed sync not retried within 3 s"
faildisk_heal
echo "FLUSH failed, and so did the record saying so, twice; disk healthy again"

for _ in $(seq 80); do
	s=$(disk_state)
	[ "$s" = sync-failed ] && break
	sleep 0.1
done
[ "$s" = sync-failed ] ||
	fail "8 s after the disk healed, the record on disk says '$s'"
kill -0 "$client" 2>/dev/null || fail "client gone: $(cat "$W/client.out")"
[ "$(grep -c '^hello: ' "$W/client.out")" -eq 1 ] ||
	fail "more than one HELLO: $(cat "$W/client.out")"
echo "without a new HELLO, the record on disk now says sync-failed"
kill "$client" 2>/dev/null
wait "$client" 2>/dev/null
client=
echo PASS
