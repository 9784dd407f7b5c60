#!/bin/bash
# timeout: 60
# NBD_CMD_FLAG_FAST_ZERO: the spec says a WRITE_ZEROES with it MUST fail
# (ENOTSUP) unless zeroing is faster than writing.  A volume with a local
# replica on a file system that cannot punch holes (tapestry-slowfs
# --no-punch: its ZERO_RANGE writes zeroes) cannot zero fast: FAST_ZERO is
# refused and the data stays; a plain zero still zeroes.  With every
# local replica on tmpfs (holes punched), or on a block device with
# write-zeroes (a loop device over tmpfs), FAST_ZERO zeroes.  qemu-io's
# `write -z -n -u` is a WRITE_ZEROES with FAST_ZERO (and no NO_HOLE).
set -u
. "$(dirname "$0")/lib/nbd.sh"
nbd_need qemu-io nbdinfo
nbd_setup
LOOP=
trap 'nbd_cleanup; [ -z "$LOOP" ] || losetup -d "$LOOP"' EXIT
nbd_nopunch_mount
truncate -s 16M "$FM/probe"
fallocate -p -o 0 -l 4096 "$FM/probe" 2>/dev/null &&
	fail "slowfs --no-punch punched a hole"

# A replica on a file system without hole punching: not fast.
nbd_start slow 16M --ack all --local "mem=$T/mem.img" \
	--local "nopunch=$FM/slow.img" --create
nbd_fast_zero refused
# Zeroes without FAST_ZERO still zero (ZERO_RANGE there writes them).
nbd_plain_zero
grep -i "degraded" "$VOL_LOG" && fail "a replica degraded"
nbd_stop

# Every replica punches holes (tmpfs): fast, carried out.
nbd_start fast 16M --ack all --local "a=$T/a.img" --local "b=$T/b.img" \
	--create
nbd_fast_zero done
nbd_stop

# A block device whose queue has write-zeroes (a loop device passes them
# to its tmpfs file as fallocate): fast.
truncate -s 16M "$T/loop.img"
LOOP=$(losetup -f --show "$T/loop.img") || fail "losetup"
wz=/sys/dev/block/$(cat "/sys/block/${LOOP#/dev/}/dev")/queue/write_zeroes_max_bytes
[ "$(cat "$wz")" -gt 0 ] || fail "$LOOP has no write-zeroes here"
nbd_start bdev 16M --ack all --local "a=$T/c.img" --local "b=$LOOP"
nbd_fast_zero done
nbd_stop
echo "PASS: FAST_ZERO refused (ENOTSUP) with a replica that cannot punch holes; done on tmpfs files and a block device with write-zeroes"
