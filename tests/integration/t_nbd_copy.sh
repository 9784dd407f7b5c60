#!/bin/bash
# timeout: 120
# Acceptance 2: nbdcopy copies a 256 MiB random file into a quorum volume
# on three replica servers (three zones) and back out; the copy and every
# replica image are identical to the source.
. "$(dirname "$0")/lib/nbd.sh"
nbd_need nbdcopy nbdinfo cmp
nbd_setup

head -c 256M /dev/urandom > "$T/src"
nbd_replicas 3
nbd_start vol 256M "${REPLICA_ARGS[@]}" --ack quorum
nbdcopy "$T/src" "$VOL_URI" || fail "nbdcopy into the volume failed"
nbdcopy "$VOL_URI" "$T/out" || fail "nbdcopy out of the volume failed"
cmp "$T/src" "$T/out" || fail "the copy out differs from the source"
nbd_stop
grep -q "degraded" "$VOL_LOG" && fail "a replica was degraded during the copy"
for i in 1 2 3; do
	cmp "$T/src" "$T/replica$i/vol.img" ||
		fail "replica image in zone z$i differs from the source"
done
echo "PASS: copy and all three replica images identical"
