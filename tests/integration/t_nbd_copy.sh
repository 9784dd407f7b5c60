#!/bin/bash
# timeout: 120
# Acceptance 2: nbdcopy copies a 256 MiB random file into a three-replica
# volume and back out; the copy and every replica image are identical to
# the source.
. "$(dirname "$0")/lib/nbd.sh"
nbd_need nbdcopy nbdinfo cmp
nbd_setup

head -c 256M /dev/urandom > "$T/src"
nbd_start vol 256M --ack all \
	--local zone-a="$T/a.img" --local zone-b="$T/b.img" --local zone-c="$T/c.img"
nbdcopy "$T/src" "$VOL_URI" || fail "nbdcopy into the volume failed"
nbdcopy "$VOL_URI" "$T/out" || fail "nbdcopy out of the volume failed"
cmp "$T/src" "$T/out" || fail "the copy out differs from the source"
nbd_stop
for z in a b c; do
	cmp "$T/src" "$T/$z.img" || fail "replica image $z differs from the source"
done
echo "PASS: copy and all three replica images identical"
