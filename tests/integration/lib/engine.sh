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
