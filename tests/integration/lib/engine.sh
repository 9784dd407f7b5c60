# shellcheck shell=bash
# Helpers for the engine's integration tests (t_engine_*.sh), on top of
# cluster.sh.  Source cluster.sh first.
#
#   bv ARGS...            tapestry bench-volume ARGS...
#   bv_bg ARGS...         the same in the background, $! its own pid (so
#                         that kill -9 $! kills bench-volume itself)
#                         Both leave the node's zone registry alone
#                         (--zone-registry none: zones untagged) unless
#                         ENGINE_REGISTRY names a pin root, or ARGS give
#                         their own --zone-registry.
#   engine_vol_args NAME SIZE ZONES...   volume options for zones 1..N
#   engine_death_ack ...  time from a replica's death to the next ack (below)
#   engine_cluster N [ARGS...]
#                         zones 1..N, and the EXIT trap that kills
#                         bench-volume ($BV_PID) and the cluster (below)
#   engine_disk_cluster DISK N [ARGS...]
#                         zones 1..N with zone 2's data on a failing disk,
#                         and the EXIT trap that takes it all down (below)
#   engine_bv_wait ERR [WHO]   wait for $BV_PID; fail unless it exited 0
#   engine_check_images VOL SIZE ZONES...   each image holds every acked write
#   engine_meta_state Z VOL   the state zone Z's record of VOL says
#   engine_wait_meta Z VOL STATE   wait until it says STATE
#   engine_resynced Z ERR     zone Z's resync counts in bench-volume's ERR
#   engine_wait_resyncs Z ERR N   wait until there are N of them
#   engine_z2_sync_fails STATUS   zone 2's disk fails a FLUSH, then heals
#   engine_z2_down VOL        zone 2's server killed, its page cache dropped
#   now_ns                CLOCK_REALTIME in ns (what bench-volume logs)
#   jget FILE FILTER      jq -r FILTER FILE
#   fail MSG              print MSG (and cluster logs) and exit 1

ENGINE_BV=$TAPESTRY_ROOT/$BUILD/bin/tapestry

bv() {
	"$ENGINE_BV" bench-volume --zone-registry "${ENGINE_REGISTRY:-none}" "$@"
}
bv_bg() {
	exec "$ENGINE_BV" bench-volume --zone-registry \
		"${ENGINE_REGISTRY:-none}" "$@"
}
now_ns() { date +%s%N; }
jget() { jq -r "$2" "$1"; }

fail() {
	echo "FAIL: $*" >&2
	cluster_logs 10 >&2
	exit 1
}

# --replica zZ=ADDR for each zone Z given, with the engine's state in
# $CLUSTER_DIR/state.
engine_vol_args() {
	local name=$1 size=$2 z
	shift 2
	echo "--name $name --size $size --state-dir $CLUSTER_DIR/state"
	for z in "$@"; do
		echo "--replica $(cluster_zone "$z")=$(cluster_addr "$z")"
	done
}

# Wait (up to 10 s) until the status file says zone $2 is in state $3.
engine_wait_state() {
	local status=$1 zone=$2 state=$3 i
	for i in $(seq 200); do
		if [ -s "$status" ] && [ "$(jq -r --arg z "$zone" \
			'.zones[] | select(.zone == $z) | .state' "$status" \
			2>/dev/null)" = "$state" ]; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# engine_death_ack NAME ADDR3 ACTION WHEN HARD_MS RUNTIME_S: 4 KiB random
# writes at QD 8 under ack all, no flush, with --hard-timeout-ms HARD_MS,
# for RUNTIME_S, to volume vNAME on zones 1 and 2 (their servers) and zone
# 3 dialled at ADDR3.  1 s after zone 3 is in sync, run ACTION (a command:
# the fault) and set DEATH_MS to the time from the fault to the first ack
# of a write issued after it, from the writer's log: counted from just
# before ACTION (a kill takes effect at once) or, with WHEN=after, from
# when it returned (a proxy applies a partition when it gets the command,
# which takes a few ms to send).  Calls fail if the run fails or no write
# issued after the fault was acked.  Leaves $CLUSTER_DIR/NAME.{json,err,
# log,win}; the engine's state goes to $CLUSTER_DIR/death-state.
engine_death_ack() {
	local name=$1 addr3=$2 action=$3 when=$4 hard=$5 runtime=$6
	local d=$CLUSTER_DIR t bench first
	rm -rf "$d/death-state" "$d/death-status"
	bv_bg --name "v$name" --size 64M --state-dir "$d/death-state" \
		--create --replica "z1=$(cluster_server_addr 1)" \
		--replica "z2=$(cluster_server_addr 2)" \
		--replica "z3=$addr3" --ack all --hard-timeout-ms "$hard" \
		--rw randwrite --bs 4k --iodepth 8 --runtime "$runtime" \
		--no-flush --verify --log "$d/$name.log" \
		--status "$d/death-status" --json \
		> "$d/$name.json" 2> "$d/$name.err" &
	bench=$!
	engine_wait_state "$d/death-status" z3 in-sync || fail "$name: no start"
	sleep 1
	t=$(now_ns)
	$action
	[ "$when" = after ] && t=$(now_ns)
	wait $bench || fail "$name: bench-volume failed: $(cat "$d/$name.err")"
	bv --log-window "$d/$name.log" --size 64M --from "$t" \
		--to $((t + (runtime + 1) * 1000000000)) > "$d/$name.win" ||
		fail "$name: log window"
	first=$(jget "$d/$name.win" .first_ack_ns)
	[ "$first" != 0 ] || fail "$name: no write acked after the fault"
	# shellcheck disable=SC2034 # the result, for the caller
	DEATH_MS=$(( (first - t) / 1000000 ))
}

# engine_disk_cluster DISK N [ARGS...]: the setup of the tests whose zone
# 2 keeps its data on a disk that fails.  DISK is faildisk or slowfs; the
# test sources its lib (lib/faildisk.sh, lib/slowfs.sh), and may size a
# faildisk with FAILDISK_SIZE=... on this call.  Skips the test (77)
# without jq or without what the disk needs.  Makes the cluster's dir,
# mounts the disk, points zone 2's data dir at it (cluster_data and
# cluster_img: $ENGINE_DISK_MNT/z2), sets CLUSTER_SERVER_ARGS to
# "--io buffered" (restarts keep it unless the test changes it) and
# starts zones 1..N with cluster_start N ARGS; calls fail if they do not
# start.  Sets BV_PID empty: the test puts bench-volume's pid there.
# The EXIT trap it installs (engine_disk_cleanup) kills, in this order,
# bench-volume (-9), zone 2's server (it holds files on the disk), then
# unmounts and stops the disk, then cluster_cleanup the rest.
engine_disk_cluster() {
	local disk=$1 n=$2
	shift 2
	case $disk in
	faildisk|slowfs) ;;
	*) echo "engine_disk_cluster: no disk \"$disk\"" >&2; exit 1 ;;
	esac
	command -v jq > /dev/null || { echo "SKIP: no jq"; exit 77; }
	BV_PID=
	ENGINE_DISK=$disk
	cluster_init
	trap engine_disk_cleanup EXIT
	"${disk}_start"
	if [ "$disk" = faildisk ]; then ENGINE_DISK_MNT=$FAILDISK_MNT
	else ENGINE_DISK_MNT=$SLOWFS_MNT; fi
	# shellcheck disable=SC2317 # called by cluster.sh and the test
	cluster_data() {
		if [ "$1" = 2 ]; then echo "$ENGINE_DISK_MNT/z2"
		else echo "$CLUSTER_DIR/z$1/data"; fi
	}
	# shellcheck disable=SC2317
	cluster_img() { echo "$(cluster_data "$1")/$2.img"; }
	# shellcheck disable=SC2034 # read by cluster_start, cluster_restart
	CLUSTER_SERVER_ARGS="--io buffered"
	cluster_start "$n" "$@" || fail "cluster did not start"
}

engine_disk_cleanup() {
	engine_bv_kill
	cluster_kill 2 2>/dev/null
	"${ENGINE_DISK}_stop"
	cluster_cleanup
}

# engine_cluster N [ARGS...]: the setup of the tests on plain zones.
# Skips the test (77) without jq; starts zones 1..N with cluster_start N
# ARGS (calls fail if they do not start) under an EXIT trap that kills
# bench-volume (-9) before cluster_cleanup.  Sets BV_PID empty: the test
# puts bench-volume's pid there.
engine_cluster() {
	command -v jq > /dev/null || { echo "SKIP: no jq"; exit 77; }
	BV_PID=
	cluster_init
	trap 'engine_bv_kill; cluster_cleanup' EXIT
	cluster_start "$@" || fail "cluster did not start"
}

# SIGKILL the bench-volume in $BV_PID, if any, and reap it.
engine_bv_kill() {
	[ -z "$BV_PID" ] || { kill -9 "$BV_PID" 2>/dev/null; wait "$BV_PID" 2>/dev/null; }
	BV_PID=
}

# engine_bv_wait ERR [WHO]: wait for the bench-volume in $BV_PID and empty
# BV_PID (the EXIT trap has nothing left to kill).  Calls fail, after
# printing ERR (its stderr), unless it exited 0; the message starts
# "WHO: " when WHO is given.
engine_bv_wait() {
	local rc=0
	wait "$BV_PID" || rc=$?
	BV_PID=
	[ $rc -eq 0 ] || { cat "$1" >&2; fail "${2:+$2: }bench-volume failed ($rc)"; }
}

# engine_check_images VOL SIZE ZONES...: calls fail unless each zone's
# image of volume VOL (SIZE) holds every write acked in its bench-volume
# log, $CLUSTER_DIR/VOL.log.
engine_check_images() {
	local v=$1 size=$2 z
	shift 2
	for z in "$@"; do
		bv --size "$size" --check-log "$CLUSTER_DIR/$v.log" \
			--image "$(cluster_img "$z" "$v")" ||
			fail "zone $z's image lacks acked writes"
	done
}

# engine_meta_state Z VOL: the state (clean, dirty, sync-failed) that zone
# Z's .meta record of volume VOL says.
engine_meta_state() {
	"$CLUSTER_REPLCTL" --meta "$(cluster_data "$1")/$2.meta" | jq -r .state
}

# engine_wait_meta Z VOL STATE: wait (up to 5 s) until zone Z's record of
# VOL says STATE; returns 1 if it does not.
engine_wait_meta() {
	local i
	for i in $(seq 100); do
		[ "$(engine_meta_state "$1" "$2")" = "$3" ] && return 0
		sleep 0.05
	done
	return 1
}

# engine_resynced Z ERR: the "in sync: resynced N regions" counts of zone
# Z in bench-volume's stderr ERR, one per line.
engine_resynced() {
	sed -n "s/.*replica z$1 in sync: resynced \([0-9]*\) regions.*/\1/p" "$2"
}

# engine_wait_resyncs Z ERR N: wait (up to 20 s, while bench-volume
# $BV_PID runs) until zone Z has finished N resyncs by ERR (above);
# returns 1 if it has not.
engine_wait_resyncs() {
	local i
	for i in $(seq 400); do
		[ "$(engine_resynced "$1" "$2" | wc -l)" -ge "$3" ] && return 0
		kill -0 "$BV_PID" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

# engine_wait_grep FILE PATTERN: wait (up to 10 s) until a line of FILE
# matches PATTERN (grep); returns 1 if none does.
engine_wait_grep() {
	local i
	for i in $(seq 200); do
		grep -q -- "$2" "$1" && return 0
		sleep 0.05
	done
	return 1
}

# engine_z2_sync_fails STATUS: the failed sync of the tests whose zone 2
# is on lib/faildisk.sh's disk, with bench-volume flushing every second
# and writing its status to STATUS.  Once zone 2 is in sync and a flush
# done, the disk fails until zone 2 is degraded (a FLUSH failed there),
# then heals; its server runs on.  Calls fail if zone 2 does not get
# there.
engine_z2_sync_fails() {
	engine_wait_state "$1" z2 in-sync || fail "the volume did not start"
	sleep 1.5	# a flush is done
	faildisk_fail
	engine_wait_state "$1" z2 degraded || fail "zone 2 was not degraded"
	faildisk_heal
}

# engine_z2_down VOL: after engine_z2_sync_fails, kill zone 2's server and
# remount its disk (its page cache dropped).  Calls fail unless its record
# of VOL then says sync-failed.
engine_z2_down() {
	cluster_kill 2
	faildisk_remount || fail "cannot remount zone 2's disk"
	[ "$(engine_meta_state 2 "$1")" = sync-failed ] ||
		fail "zone 2's record after its failed sync: $(engine_meta_state 2 "$1")"
}
