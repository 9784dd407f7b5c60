#!/bin/bash
# timeout: 120
# A replica server that comes back with none of its data (a replaced disk,
# a node whose data dir was wiped) must be copied in full: the engine asks
# it to create missing images (--create, as `tapestryd volume` always
# does), and a fresh image must not be taken to hold everything but the
# regions it missed while it was away.
#   1. while the volume is in use: zone 3's server is killed, its data
#      dir emptied, and it is restarted;
#   2. with the engine stopped: the same for zone 2, then the volume is
#      opened again.
# Each time every image must end up holding every acked write.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 3 || fail "cluster did not start"
d=$CLUSTER_DIR
size=64M
# shellcheck disable=SC2207
vol=($(engine_vol_args vol $size 1 2 3) --ack quorum --create)

check_images() {
	local z
	for z in 1 2 3; do
		bv --size $size --check-log "$d/log" --image \
			"$(cluster_img "$z" vol)" > "$d/img$z.out" 2>&1 || {
			cat "$d/img$z.out" >&2
			fail "$1: zone $z lacks acked writes"
		}
	done
}

wipe() {
	cluster_kill "$1"
	rm -rf "$(cluster_data "$1")"/*
	cluster_restart "$1" || fail "zone $1 did not restart"
}

# Every block written once, so that a replica that lacks data shows it.
bv "${vol[@]}" --rw write --bs 1M --verify --log "$d/log" \
	> "$d/fill.out" 2>&1 || { cat "$d/fill.out" >&2; fail "fill"; }

# 1. A paced load, so that what zone 3 misses while away is a part of
# the volume.
bv_bg "${vol[@]}" --rw randwrite --bs 4k --iodepth 2 --rate 200 \
	--runtime 3 --verify --log "$d/log" --status "$d/status" \
	--wait-in-sync 20 --json > "$d/run.json" 2> "$d/run.err" &
bench=$!
engine_wait_state "$d/status" z3 in-sync || fail "volume did not start"
sleep 0.5
wipe 3
wait $bench || { cat "$d/run.err" >&2; fail "bench-volume failed"; }
copied=$(jq -r '.zones[] | select(.zone == "z3") | .resync_bytes' \
	"$d/run.json")
echo "zone 3 came back empty while in use: resync copied $copied bytes"
check_images "zone 3 wiped while in use"

# 2. The volume is opened again after zone 2 lost its data.
wipe 2
bv "${vol[@]}" --check-log "$d/log" --wait-in-sync 20 -v \
	> "$d/reopen.out" 2> "$d/reopen.err" || {
	cat "$d/reopen.out" "$d/reopen.err" >&2
	fail "reopen: the volume read back wrong"
}
grep -h "check:\|copied" "$d/reopen.out" "$d/reopen.err"
check_images "zone 2 wiped while the engine was stopped"
echo "PASS: a replica that came back empty was copied in full"
