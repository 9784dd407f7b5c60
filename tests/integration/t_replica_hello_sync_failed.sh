#!/bin/bash
# timeout: 60
# A HELLO with REPL_F_SYNC_FAILED (the engine saw a sync of this replica
# fail) makes the server distrust its per-block seqs as it does after a
# failed sync it recorded itself: every seq goes to 0 and the volume says
# sync-failed, recorded before the reply, until it is next recorded
# clean.  The server's own record may never land (the failing disk holds
# NAME.meta too); the seqs it trusts at the next open can then claim
# writes whose data the kernel dropped, and a resync copy of such a write
# (not newer) was never applied.
#
# Here the lost page is made by hand: write A (seq 10) to block 0, FLUSH,
# kill the server, zero block 0 of the image (as if its page had been
# lost and the seq file's not), restart.  The server says dirty and still
# claims seq 10; after a HELLO with the flag, seq 0, and a copy of A with
# seq 10 is applied.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"

cluster_init
W=$CLUSTER_DIR/w
mkdir -p "$W"
cluster_start 1 || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
IMG=$(cluster_img 1 v)

fail() { echo "FAIL: $*"; cluster_logs 20; exit 1; }
# rc [--OPTION]... COMMAND...: replctl on volume v
rc() {
	local o=()
	while [[ $1 == --* ]]; do o+=("$1"); shift; done
	"$R" "${o[@]}" --volume v --size 1M "$A" "$@" 2>&1
}
# seq0 OUTPUT: the seq of block 0 a resync-read printed
seq0() { sed -n 's/^seqs: *//p' <<<"$1" | cut -d' ' -f1; }

out=$(rc --create write 0 4096 fill=0x41 seq=10 flush) || fail "write A: $out"
cluster_kill 1
dd if=/dev/zero of="$IMG" bs=4096 count=1 conv=notrunc status=none ||
	fail "cannot zero block 0"
cluster_restart 1 || fail "restart"
echo "write A (seq 10) flushed; block 0 zeroed while the server was down"

# Without the flag: the seqs are trusted (the control).
out=$(rc resync-read 0 4096 status) || fail "resync-read: $out"
[ "$(seq0 "$out")" = 10 ] || fail "block 0 should still claim seq 10: $out"
grep -q ' state dirty ' <<<"$out" || fail "not dirty: $out"

# With it: the seqs are reset, and the record says sync failed.  One
# connection holds the volume open throughout (its last close would
# record it clean).
head -c 4096 /dev/zero | tr '\0' 'A' > "$W/a"
rc --no-hello hello sync-failed resync-read 0 4096 status \
	resync-write 0 file="$W/a" seqs=10 read 0 4096 out="$W/got" \
	hello sync-failed resync-read 0 4096 sleep 5000 > "$W/hold.out" &
hold=$!
cluster_client "$hold"
for _ in $(seq 200); do
	[ "$(grep -c '^seqs:' "$W/hold.out")" -ge 2 ] && break
	sleep 0.02
done
out=$(cat "$W/hold.out")
[ "$(grep -c '^seqs:' <<<"$out")" -ge 2 ] || fail "client stuck: $out"
[ "$(seq0 "$(grep -m1 '^seqs:' <<<"$out")")" = 0 ] ||
	fail "block 0 still claims a seq after the flag: $out"
grep -q ' state sync-failed ' <<<"$out" || fail "state not sync-failed: $out"
m=$("$R" --meta "$(cluster_data 1)/v.meta") || fail "no metadata record"
grep -q '"state":"sync-failed"' <<<"$m" || fail "not recorded: $m"
echo "HELLO with REPL_F_SYNC_FAILED: block 0 claims seq 0, sync-failed recorded"
cmp -s "$W/got" "$W/a" || fail "the copy of write A (seq 10) was not applied"
echo "a resync copy of write A (seq 10) is applied"
# Already sync-failed: the flag again keeps the copies' seqs.
[ "$(seq0 "$(grep '^seqs:' <<<"$out" | tail -1)")" = 10 ] ||
	fail "a second flagged HELLO reset the seqs again: $out"

# Killed before a clean close: the record still says so, and the next
# open resets the seqs itself.
cluster_kill 1
kill "$hold" 2>/dev/null
wait "$hold" 2>/dev/null
cluster_restart 1 || fail "second restart"
out=$(rc resync-read 0 4096 status) || fail "resync-read: $out"
[ "$(seq0 "$out")" = 0 ] || fail "the open after a kill trusted the seqs: $out"
grep -q ' state sync-failed ' <<<"$out" || fail "state after a kill: $out"
echo "killed and restarted: seqs reset again, still sync-failed"
echo PASS
