#!/bin/bash
# timeout: 60
# nbdcopy of a sparse image (docs/nbd.md's first example) into a volume
# that holds older data: nbdcopy sends each hole of the source as one
# WRITE_ZEROES as long as the hole (libnbd 1.14 does not split it by the
# maximum block size), so holes of several
# MiB must be zeroed on every replica (local and remote), and the copy
# read back must be the source exactly.
. "$(dirname "$0")/lib/nbd.sh"
nbd_need nbdcopy nbdinfo cmp truncate
nbd_setup

# 32 MiB: data at 0, a 7 MiB hole, data at 8 MiB, a 23 MiB hole to the end
nbd_sparse 32 8

nbd_replicas 1
nbd_start vol 32M --local zone-a="$T/a.img" "${REPLICA_ARGS[@]}"
nbdcopy "$T/old" "$VOL_URI" || fail "nbdcopy of the old data failed"
nbdcopy "$T/sparse" "$VOL_URI" 2>"$T/err" ||
	fail "nbdcopy of a sparse image failed: $(cat "$T/err")"
nbdcopy "$VOL_URI" "$T/out" || fail "nbdcopy out of the volume failed"
cmp "$T/sparse" "$T/out" || fail "the holes did not overwrite the old data"
nbd_stop
cmp "$T/sparse" "$T/a.img" || fail "the local replica's image differs"
cmp "$T/sparse" "$T/replica1/vol.img" || fail "the remote replica's image differs"
echo "PASS: a sparse image with multi-MiB holes copies in exactly"
