# shellcheck shell=bash
# A disk whose writes can be made to fail, for durability tests: ext2 on
# a loop device over nbdfuse over nbdkit's memory plugin with the error
# filter, which fails every write while a trigger file exists.  Source
# after cluster.sh; call faildisk_start after cluster_init (it skips the
# test with 77 when a piece is missing) and make the test's EXIT trap
# call faildisk_stop after stopping the processes that use the disk and
# before cluster_cleanup.
#
#   faildisk_start      mount it on $FAILDISK_MNT ($FAILDISK_SIZE, 64M)
#   faildisk_fail       from now on, every write to the disk fails (EIO)
#   faildisk_heal       writes succeed again
#   faildisk_remount [mkfs]
#                       unmount and mount again (drops its page cache);
#                       with an argument, make a fresh file system between
#   faildisk_replica    one replica server (zone 1) with its data on the
#                       disk; sets A, R and W (below)
#   faildisk_wait_line N
#                       wait for the test's replctl client

FAILDISK_SIZE=${FAILDISK_SIZE:-64M}
FAILDISK_DIR=
FAILDISK_MNT=
FAILDISK_LOOP=
FAILDISK_PID=

faildisk_start() {
	local t i d=$CLUSTER_DIR/faildisk
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (loop device, mount)"; exit 77; }
	for t in nbdkit nbdfuse losetup mkfs.ext2; do
		command -v $t > /dev/null || { echo "SKIP: no $t"; exit 77; }
	done
	[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
	FAILDISK_DIR=$d
	mkdir -p "$d/fm" "$d/mnt"
	nbdfuse "$d/fm" --command nbdkit -s --filter=error memory "$FAILDISK_SIZE" \
		error-pwrite=EIO error-pwrite-rate=100% \
		error-file="$d/errors-on" > "$d/nbdfuse.log" 2>&1 &
	FAILDISK_PID=$!
	for i in $(seq 100); do
		[ -e "$d/fm/nbd" ] && break
		kill -0 "$FAILDISK_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -e "$d/fm/nbd" ] ||
		{ cat "$d/nbdfuse.log"; echo "SKIP: nbdfuse did not mount"; exit 77; }
	FAILDISK_LOOP=$(losetup -f --show --direct-io=on "$d/fm/nbd") ||
		{ echo "SKIP: no loop device"; exit 77; }
	mkfs.ext2 -q -F -b 4096 "$FAILDISK_LOOP" > /dev/null 2>&1 &&
		mount -t ext2 "$FAILDISK_LOOP" "$d/mnt" ||
		{ echo "SKIP: cannot make or mount ext2 on $FAILDISK_LOOP"; exit 77; }
	FAILDISK_MNT=$d/mnt
}

faildisk_fail() { touch "$FAILDISK_DIR/errors-on"; }
faildisk_heal() { rm -f "$FAILDISK_DIR/errors-on"; }

# Unmount; a killed server's io_uring ring is torn down after the process
# is reaped, and holds its files until the I/O it had out ends: on this
# disk (nbdfuse, a user-space process) that took over 5 s under the load
# of a full `make check`.  Wait up to 30 s; on failure say who holds it.
faildisk_umount() {
	local i
	for i in $(seq 300); do
		mountpoint -q "$FAILDISK_MNT" || return 0
		umount "$FAILDISK_MNT" 2>/dev/null || sleep 0.1
	done
	mountpoint -q "$FAILDISK_MNT" || return 0
	echo "faildisk: $FAILDISK_MNT still busy after 30 s:" >&2
	! command -v fuser > /dev/null || fuser -vm "$FAILDISK_MNT" >&2 2>&1
	return 1
}

faildisk_remount() {
	faildisk_umount || return 1
	if [ -n "${1:-}" ]; then
		mkfs.ext2 -q -F -b 4096 "$FAILDISK_LOOP" > /dev/null 2>&1 || return 1
	fi
	mount -t ext2 "$FAILDISK_LOOP" "$FAILDISK_MNT"
}

faildisk_stop() {
	local d=$FAILDISK_DIR
	[ -n "$d" ] || return 0
	faildisk_umount || umount -l "$FAILDISK_MNT"
	[ -z "$FAILDISK_LOOP" ] || losetup -d "$FAILDISK_LOOP"
	mountpoint -q "$d/fm" && umount "$d/fm"
	if [ -n "$FAILDISK_PID" ]; then
		kill "$FAILDISK_PID" 2>/dev/null
		wait "$FAILDISK_PID" 2>/dev/null
	fi
	FAILDISK_DIR= FAILDISK_LOOP= FAILDISK_PID=
}

# faildisk_replica: start one replica server (zone 1) with its data on
# the disk and buffered image I/O, so writes sit in the page cache until
# a FLUSH.  Sets A (its address), R (the replctl client) and W (a work
# directory; the client's output goes to $W/client.out).
faildisk_replica() {
	cluster_data() { echo "$FAILDISK_MNT/z$1"; }
	CLUSTER_SERVER_ARGS="--io buffered --drain-ms 500" cluster_start 1 ||
		exit 1
	A=$(cluster_addr 1)
	R=$CLUSTER_REPLCTL
	W=$CLUSTER_DIR/eio
	mkdir -p "$W"
}

# faildisk_wait_line N: until the client has printed N result lines to
# $W/client.out (fails the test, with the test's fail(), after 4 s)
faildisk_wait_line() {
	local i
	for i in $(seq 200); do
		[ "$(grep -c '^[a-z]*: ' "$W/client.out")" -ge "$1" ] && return 0
		sleep 0.02
	done
	fail "client stuck: $(cat "$W/client.out")"
}
