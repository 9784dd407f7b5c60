#!/bin/bash
# timeout: 90
# A replica whose sync failed gets every write it acked since its last
# good flush again, not only the last 250 ms of them.  Linux drops the
# dirty pages whose writeback failed and tells one fsync only, so all of
# them may be gone there.
#
# Zone 2's data dir is ext2 on a loop device over nbdfuse over nbdkit's
# memory plugin with the error filter (every write fails while a trigger
# file exists).  Writes flow at 100/s with a flush every 2.5 s.  After
# the first flush the disk fails, and zone 2 is degraded (a FLUSH or a
# write fails).  Its server is then killed, the disk healed, the file
# system remounted (the page cache, which still held the lost writes, is
# gone) and the server restarted (it resets the volume's seqs after a
# failed sync); once zone 2 is resynced its image must hold every acked
# write.  Rounds (see round() below):
#   v1: its FLUSH fails; it cannot reconnect before the restart.  The
#       engine used to mark only the activity log's regions for it.
#   v2: the same, but it reconnects at once to the server that still
#       fails every FLUSH: a copy of everything to it does not land (its
#       seqs claim the lost writes), and it must be copied again after
#       the restart.
#   v3: its server does O_DIRECT: a write fails first, the engine hangs
#       up, and the server's own sync at close fails.  The engine has
#       seen no failed FLUSH; only the HELLO state (sync failed) says it.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/faildisk.sh"

command -v jq > /dev/null || { echo "SKIP: no jq"; exit 77; }

BV_PID=
cleanup() {
	[ -z "$BV_PID" ] || { kill -9 "$BV_PID" 2>/dev/null; wait "$BV_PID" 2>/dev/null; }
	cluster_kill 2 2>/dev/null
	faildisk_stop
	cluster_cleanup
}
cluster_init
trap cleanup EXIT
FAILDISK_SIZE=256M faildisk_start
W=$CLUSTER_DIR/eio
mkdir -p "$W"

cluster_data() {
	if [ "$1" = 2 ]; then echo "$FAILDISK_MNT/z2"; else echo "$CLUSTER_DIR/z$1/data"; fi
}
cluster_img() { echo "$(cluster_data "$1")/$2.img"; }
CLUSTER_SERVER_ARGS="--io buffered"	# restarts too
cluster_start 2 --proxy ||
	fail "cluster did not start"
d=$CLUSTER_DIR
size=64M

# remount [mkfs]: zone 2's server must be down; its io_uring workers may
# hold the files a moment longer.
remount() {
	faildisk_remount "${1:-}" || fail "cannot remount zone 2's disk"
}

# round NAME MODE IO: write volume NAME, fail zone 2's disk after the
# first flush, check zone 2's image once it is back and resynced.
#   MODE refuse:    zone 2's proxy refuses reconnects until its server
#                   has restarted;
#   MODE reconnect: the disk heals at once, and the engine may come back
#                   to the server for 1.5 s before it is restarted.
#   IO: zone 2's server's image I/O (--io).
round() {
	local v=$1 mode=$2 rc z
	rm -rf "$d/state"
	CLUSTER_SERVER_ARGS="--io $3"
	# a fresh file system, with no trace of an earlier round's errors
	cluster_kill 2
	remount mkfs
	cluster_restart 2 || fail "zone 2 did not restart"
	# shellcheck disable=SC2046
	bv_bg $(engine_vol_args "$v" $size 1 2) --create --ack all \
		--rw randwrite --bs 4k --iodepth 4 --rate 100 --runtime 9 \
		--flush-interval 2500 --verify --log "$d/$v.log" \
		--status "$d/$v.status" --wait-in-sync 30 --seed 7 \
		> "$d/$v.out" 2> "$d/$v.err" &
	BV_PID=$!
	engine_wait_state "$d/$v.status" z2 in-sync || fail "$v did not start"
	sleep 3		# the first flush (2.5 s) is done
	[ "$mode" = reconnect ] ||
		cluster_proxy 2 refuse on > /dev/null || fail "proxy refuse"
	faildisk_fail
	echo "$v: zone 2's disk fails; writes go on into its page cache"
	engine_wait_state "$d/$v.status" z2 degraded ||
		fail "$v: zone 2 was not degraded"
	grep -h 'degraded\|failed a' "$d/$v.err" | head -2
	if [ "$mode" = reconnect ]; then
		faildisk_heal
		echo "$v: disk healed; zone 2's server runs on for 1.5 s"
		sleep 1.5
	fi
	cluster_kill 2
	faildisk_heal
	remount
	echo "$v: page cache dropped: zone 2 restarts without the lost writes"
	cluster_restart 2 || fail "zone 2 did not restart"
	cluster_proxy 2 refuse off > /dev/null || fail "proxy refuse off"

	wait "$BV_PID"
	rc=$?
	BV_PID=
	[ $rc -eq 0 ] || { cat "$d/$v.err" >&2; fail "$v: bench-volume failed ($rc)"; }
	grep -h 'in sync: resynced' "$d/$v.err" | tail -1
	for z in 1 2; do
		bv --size $size --check-log "$d/$v.log" \
			--image "$(cluster_img $z "$v")" || {
			grep -h 'z2' "$d/$v.err" >&2
			fail "$v: zone $z's image lacks acked writes"
		}
	done
}

round v1 refuse buffered
round v2 reconnect buffered
round v3 reconnect direct
echo "PASS: a replica whose FLUSH failed got back every write acked since its last good flush"
