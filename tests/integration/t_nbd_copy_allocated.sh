#!/bin/bash
# timeout: 60
# nbdcopy --allocated of a sparse image with a 64 MiB hole: nbdcopy sends
# each hole as one WRITE_ZEROES with NO_HOLE, as long as the hole (libnbd
# 1.14), and the spec says the range MUST then end up fully provisioned.
# The server writes those zeroes as data in chunks of the maximum block
# size, so the copy succeeds, reads back as the source, and every
# replica's image (local and remote, both files) is fully allocated,
# also where a plain copy had punched holes before.
. "$(dirname "$0")/lib/nbd.sh"
nbd_need nbdcopy cmp truncate stat
nbd_setup

# allocated bytes of a file (st_blocks is in 512-byte units)
alloc() { echo $(( $(stat -c %b "$1") * 512 )); }

# 80 MiB: data at 0, a 64 MiB hole, data at 65 MiB, a 14 MiB hole
SIZE=$((80 << 20))
nbd_sparse 80 65

nbd_replicas 1
nbd_start vol 80M --local zone-a="$T/a.img" "${REPLICA_ARGS[@]}"
nbdcopy "$T/old" "$VOL_URI" || fail "nbdcopy of the old data failed"
# a plain copy punches the holes: the check below can fail
nbdcopy "$T/sparse" "$VOL_URI" || fail "nbdcopy of the sparse image failed"
[ "$(alloc "$T/a.img")" -lt $((SIZE / 2)) ] ||
	fail "a plain copy left the local image allocated ($(alloc "$T/a.img") bytes)"
nbdcopy --allocated "$T/sparse" "$VOL_URI" 2>"$T/err" ||
	fail "nbdcopy --allocated failed: $(cat "$T/err")"
nbdcopy "$VOL_URI" "$T/out" || fail "nbdcopy out of the volume failed"
cmp "$T/sparse" "$T/out" || fail "the copy reads back different"
nbd_stop
for img in "$T/a.img" "$T/replica1/vol.img"; do
	cmp "$T/sparse" "$img" || fail "$img differs from the source"
	[ "$(alloc "$img")" -ge "$SIZE" ] ||
		fail "$img is not fully allocated: $(alloc "$img") of $SIZE bytes"
done
echo "PASS: nbdcopy --allocated of a 64 MiB hole: equal, fully allocated"
