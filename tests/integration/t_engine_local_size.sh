#!/bin/bash
# timeout: 30
# A local image file whose size is not the volume's is refused, and the
# error says the file's real size (it used to say "0 bytes").
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
d=$CLUSTER_DIR
for mb in 32 8; do
	truncate -s ${mb}M "$d/img$mb"
	if bv --name v$mb --size 16M --state-dir "$d/state" \
		--local "a=$d/img$mb" --runtime 0.1 > "$d/out$mb" 2>&1; then
		fail "a ${mb} MiB image was taken for a 16 MiB volume"
	fi
	cat "$d/out$mb"
	grep -q "$((mb << 20)) bytes, the volume has 16777216" "$d/out$mb" ||
		fail "the error does not say the ${mb} MiB image's size"
done
echo "PASS: images of the wrong size are refused with their size"
