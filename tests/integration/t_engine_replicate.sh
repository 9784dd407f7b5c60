#!/bin/bash
# timeout: 120
# Acceptance 1 of issue 3, no divergence: 3 replicas in 3 zones, 256 MiB of
# random writes and a final flush leave the three .img files byte-identical
# to each other and to the harness's own copy of the data written.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 3 || fail "cluster did not start"
ref=$CLUSTER_DIR/ref.img
out=$CLUSTER_DIR/out.json

# shellcheck disable=SC2046
bv $(engine_vol_args vol 256M 1 2 3) --create --ack all \
	--rw randwrite --bs 16k --iodepth 32 --bytes 256M \
	--verify --ref "$ref" --log "$CLUSTER_DIR/log" --json > "$out" ||
	fail "bench-volume failed: $(cat "$out")"

writes=$(jget "$out" .writes)
[ "$writes" = 16384 ] || fail "expected 16384 acked writes, got $writes"
[ "$(jget "$out" .flush_res)" = 0 ] || fail "final flush failed"
echo "acked $writes writes of 16 KiB: $(jget "$out" .iops) IOPS"

sha256sum "$ref" | sed 's/^/  /'
for z in 1 2 3; do
	img=$(cluster_img "$z" vol)
	[ -f "$img" ] || fail "no image in zone $z"
	cmp "$img" "$ref" || fail "zone $z image differs from the data written"
	echo "  zone $z: identical to the harness copy"
done
cmp "$(cluster_img 1 vol)" "$(cluster_img 2 vol)" || fail "zones 1, 2 differ"
cmp "$(cluster_img 1 vol)" "$(cluster_img 3 vol)" || fail "zones 1, 3 differ"
# The copy is not trivially equal: it holds what was written.
bv --size 256M --check-log "$CLUSTER_DIR/log" --image "$ref" ||
	fail "the harness copy does not match the log"
[ "$(cmp "$ref" /dev/zero 2>&1 | grep -c differ)" = 1 ] ||
	fail "the harness copy is all zeroes"
echo "PASS: three images identical to each other and to the harness copy"
