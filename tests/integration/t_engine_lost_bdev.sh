#!/bin/bash
# timeout: 60
# A local replica on a block device whose node goes away (a pulled disk, a
# lost NVMe controller: devtmpfs removes the node) must stay degraded.  A
# volume that creates missing images (--create, implied by `tapestryd
# volume`) must not make a regular file of that name on its retry -- in
# /dev that is RAM -- and resync the replica into it.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v losetup > /dev/null || skip "no losetup"
cluster_init
d=$CLUSTER_DIR
LOOP=
cleanup() {
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	cluster_cleanup
}
trap cleanup EXIT

truncate -s 64M "$d/back.img"
LOOP=$(losetup -f --show "$d/back.img") || skip "no loop device"
# The test's own node for it, which it can remove as devtmpfs would.
read -r maj min < <(stat -c '%t %T' "$LOOP")
mknod "$d/disk" b $((16#$maj)) $((16#$min)) || skip "cannot mknod"

bv_bg --name vol --size 64M --state-dir "$d/state" --local "z1=$d/disk" \
	--local "z2=$d/mem.img" --create --ack all --rw randwrite --bs 4k \
	--iodepth 4 --rate 500 --runtime 4 --status "$d/status" --json \
	> "$d/run.json" 2> "$d/run.err" &
bench=$!
engine_wait_state "$d/status" z1 in-sync || fail "volume did not start"
sleep 0.5
# The disk fails (its capacity drops to 0: every I/O to it fails), then
# its node goes.
truncate -s 0 "$d/back.img"
losetup -c "$LOOP"
engine_wait_state "$d/status" z1 degraded || fail "z1 was not degraded"
rm -f "$d/disk"
wait $bench
grep -v "^\[" "$d/run.err" | tail -5
if [ -e "$d/disk" ]; then
	fail "$(stat -c %F "$d/disk") made where the block device was"
fi
state=$(jq -r '.zones[] | select(.zone == "z1") | .state' "$d/run.json")
[ "$state" = degraded ] || fail "z1 is $state without its disk"
echo "PASS: a block device that went away stays degraded, no file made"
