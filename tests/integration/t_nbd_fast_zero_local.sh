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
[ "$(id -u)" -eq 0 ] || { echo "SKIP: FUSE needs root"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
nbd_setup
SLOWFS=$ROOT/$BUILD/bin/tapestry-slowfs
FM=
FS_PID=
LOOP=
cleanup() {
	[ -n "${VOL_PID:-}" ] && kill -TERM "$VOL_PID" 2>/dev/null &&
		wait "$VOL_PID" 2>/dev/null
	if [ -n "$FM" ] && mountpoint -q "$FM"; then
		umount "$FM" 2>/dev/null || umount -l "$FM"
	fi
	[ -n "$FS_PID" ] && kill "$FS_PID" 2>/dev/null && wait "$FS_PID" 2>/dev/null
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	nbd_cleanup
}
trap cleanup EXIT

mkdir -p "$T/back" "$T/fm"
"$SLOWFS" --backing "$T/back" --mount "$T/fm" --no-punch > "$T/fs.log" 2>&1 &
FS_PID=$!
for _ in $(seq 100); do [ -e "$T/fm/.slowfs" ] && break; sleep 0.05; done
[ -e "$T/fm/.slowfs" ] || { cat "$T/fs.log"; echo "SKIP: cannot mount FUSE"; exit 77; }
FM=$T/fm
truncate -s 16M "$FM/probe"
fallocate -p -o 0 -l 4096 "$FM/probe" 2>/dev/null &&
	fail "slowfs --no-punch punched a hole"

# $1: expected outcome of a FAST_ZERO over [0, 64k) of data 0x5a
fast_zero() {
	qemu-io -f raw "$VOL_URI" -c 'write -P 0x5a 0 128k' \
		-c 'write -z -n -u 0 64k' > "$T/qemu.out" 2>&1
	case $1 in
	refused)
		grep -q "Operation not supported" "$T/qemu.out" ||
			{ cat "$T/qemu.out"; fail "FAST_ZERO not refused"; }
		qemu-io -f raw -r "$VOL_URI" -c 'read -P 0x5a 0 128k' \
			> "$T/check.out" 2>&1 ;;
	done)
		grep -q "failed" "$T/qemu.out" &&
			{ cat "$T/qemu.out"; fail "FAST_ZERO failed"; }
		qemu-io -f raw -r "$VOL_URI" -c 'read -P 0 0 64k' \
			-c 'read -P 0x5a 64k 64k' > "$T/check.out" 2>&1 ;;
	esac
	! grep -q -e "Pattern verification failed" -e "failed" "$T/check.out" ||
		{ cat "$T/check.out"; fail "$1: wrong data read back"; }
}

# A replica on a file system without hole punching: not fast.
nbd_start slow 16M --ack all --local "mem=$T/mem.img" \
	--local "nopunch=$FM/slow.img" --create
fast_zero refused
# Zeroes without FAST_ZERO still zero (ZERO_RANGE there writes them).
qemu-io -f raw "$VOL_URI" -c 'write -z -u 0 64k' -c 'read -P 0 0 64k' \
	> "$T/plain.out" 2>&1
grep -q -e "failed" "$T/plain.out" && { cat "$T/plain.out"; fail "plain zero"; }
grep -i "degraded" "$VOL_LOG" && fail "a replica degraded"
nbd_stop
VOL_PID=

# Every replica punches holes (tmpfs): fast, carried out.
nbd_start fast 16M --ack all --local "a=$T/a.img" --local "b=$T/b.img" \
	--create
fast_zero done
nbd_stop
VOL_PID=

# A block device whose queue has write-zeroes (a loop device passes them
# to its tmpfs file as fallocate): fast.
truncate -s 16M "$T/loop.img"
LOOP=$(losetup -f --show "$T/loop.img") || fail "losetup"
wz=/sys/dev/block/$(cat "/sys/block/${LOOP#/dev/}/dev")/queue/write_zeroes_max_bytes
[ "$(cat "$wz")" -gt 0 ] || fail "$LOOP has no write-zeroes here"
nbd_start bdev 16M --ack all --local "a=$T/c.img" --local "b=$LOOP"
fast_zero done
nbd_stop
VOL_PID=
echo "PASS: FAST_ZERO refused (ENOTSUP) with a replica that cannot punch holes; done on tmpfs files and a block device with write-zeroes"
