#!/bin/bash
# timeout: 60
# NBD_CMD_FLAG_FAST_ZERO with remote replicas.  A replica server says in
# its HELLO reply (REPL_F_ZERO_FAST) whether its zeroes of the volume are
# fast: its image's file system punches holes.  One whose data dir is on
# tapestry-slowfs --no-punch (PUNCH_HOLE fails, ZERO_RANGE writes zeroes)
# does not say so, like a server that predates the flag, and a volume
# with it refuses FAST_ZERO (ENOTSUP), data unchanged; a volume whose
# replicas all zero fast (a server on tmpfs, a local tmpfs file) zeroes.
# qemu-io's `write -z -n -u` is a WRITE_ZEROES with FAST_ZERO.
set -u
. "$(dirname "$0")/lib/nbd.sh"
nbd_need qemu-io nbdinfo
[ "$(id -u)" -eq 0 ] || { echo "SKIP: FUSE needs root"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
nbd_setup
SLOWFS=$ROOT/$BUILD/bin/tapestry-slowfs
REPLCTL=$ROOT/$BUILD/bin/tapestry-replctl
FM=
FS_PID=
cleanup() {
	local p
	[ -n "${VOL_PID:-}" ] && kill -TERM "$VOL_PID" 2>/dev/null &&
		wait "$VOL_PID" 2>/dev/null
	# the servers hold files on the mount
	for p in "${REPLICA_PID[@]}"; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ -n "$FM" ] && mountpoint -q "$FM"; then
		umount "$FM" 2>/dev/null || umount -l "$FM"
	fi
	[ -n "$FS_PID" ] && kill "$FS_PID" 2>/dev/null && wait "$FS_PID" 2>/dev/null
	nbd_cleanup
}
trap cleanup EXIT

mkdir -p "$T/back" "$T/fm"
"$SLOWFS" --backing "$T/back" --mount "$T/fm" --no-punch > "$T/fs.log" 2>&1 &
FS_PID=$!
for _ in $(seq 100); do [ -e "$T/fm/.slowfs" ] && break; sleep 0.05; done
[ -e "$T/fm/.slowfs" ] || { cat "$T/fs.log"; echo "SKIP: cannot mount FUSE"; exit 77; }
FM=$T/fm
mkdir "$FM/replica2"
ln -s "$FM/replica2" "$T/replica2"

# z1 on tmpfs, z2 on the file system that cannot punch holes
nbd_replicas 2
"$REPLCTL" --volume probe --size 16M --create "127.0.0.1:${REPLICA_PORT[1]}" \
	> "$T/hello1.out" 2>&1 || { cat "$T/hello1.out"; fail "HELLO to z1"; }
grep -q "^hello: OK.* zero-fast" "$T/hello1.out" ||
	{ cat "$T/hello1.out"; fail "z1 (tmpfs) did not say its zeroes are fast"; }
"$REPLCTL" --volume probe --size 16M --create "127.0.0.1:${REPLICA_PORT[2]}" \
	> "$T/hello2.out" 2>&1 || { cat "$T/hello2.out"; fail "HELLO to z2"; }
grep -q "^hello: OK" "$T/hello2.out" && ! grep -q "zero-fast" "$T/hello2.out" ||
	{ cat "$T/hello2.out"; fail "z2 (no hole punching) said its zeroes are fast"; }

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

# Every replica zeroes fast: carried out.
nbd_start fast 16M --ack all --local "a=$T/a.img" \
	--replica "z1=127.0.0.1:${REPLICA_PORT[1]}"
fast_zero done
nbd_stop
VOL_PID=

# z2 cannot say so: refused.  Zeroes without FAST_ZERO still zero.
nbd_start slow 16M --ack all --local "a=$T/s.img" "${REPLICA_ARGS[@]}"
fast_zero refused
qemu-io -f raw "$VOL_URI" -c 'write -z -u 0 64k' -c 'read -P 0 0 64k' \
	> "$T/plain.out" 2>&1
grep -q "failed" "$T/plain.out" && { cat "$T/plain.out"; fail "plain zero"; }
grep -i "degraded" "$VOL_LOG" && fail "a replica degraded"
nbd_stop
VOL_PID=
echo "PASS: HELLO replies say whether zeroes are fast; FAST_ZERO follows them"
