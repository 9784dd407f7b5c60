# shellcheck shell=bash
# A busy disk for engine tests: tapestry-slowfs (a FUSE passthrough whose
# fsync sleeps) mounted at $SLOWFS_MNT over $SLOWFS_BACK.  Source after
# cluster.sh; call slowfs_start (skips the test with 77 when FUSE is
# missing) and make the test's EXIT trap call slowfs_stop before
# cluster_cleanup.
#
#   slowfs_start            mount on $CLUSTER_DIR/slow (delay 0)
#   slowfs_delay MS         every fsync from now on sleeps MS first
#   slowfs_fsyncs           fsyncs so far
#   slowfs_eio OFF LEN      writes to *.img over [OFF, OFF + LEN) fail
#                           with EIO (slowfs_eio 0 0 heals)

SLOWFS_BIN=$TAPESTRY_ROOT/$BUILD/bin/tapestry-slowfs
SLOWFS_MNT=
SLOWFS_PID=

slowfs_start() {
	local i
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: slowfs needs root"; exit 77; }
	[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
	SLOWFS_BACK=$CLUSTER_DIR/slow.back
	SLOWFS_MNT=$CLUSTER_DIR/slow
	mkdir -p "$SLOWFS_BACK" "$SLOWFS_MNT"
	"$SLOWFS_BIN" --backing "$SLOWFS_BACK" --mount "$SLOWFS_MNT" \
		> "$CLUSTER_DIR/slowfs.log" 2>&1 &
	SLOWFS_PID=$!
	for i in $(seq 100); do
		[ -e "$SLOWFS_MNT/.slowfs" ] && return 0
		kill -0 "$SLOWFS_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$CLUSTER_DIR/slowfs.log"
	echo "SKIP: cannot mount a FUSE filesystem"
	exit 77
}

slowfs_delay() { echo "$1" > "$SLOWFS_MNT/.slowfs"; }
slowfs_eio() { echo "eio $1 $2" > "$SLOWFS_MNT/.slowfs"; }
slowfs_fsyncs() { awk '{ print $2 }' "$SLOWFS_MNT/.slowfs"; }

slowfs_stop() {
	[ -n "$SLOWFS_MNT" ] || return 0
	umount "$SLOWFS_MNT" 2>/dev/null || umount -l "$SLOWFS_MNT" 2>/dev/null
	if [ -n "$SLOWFS_PID" ]; then
		kill "$SLOWFS_PID" 2>/dev/null
		wait "$SLOWFS_PID" 2>/dev/null
	fi
	SLOWFS_MNT=
}
