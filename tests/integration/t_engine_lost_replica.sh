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
#      opened again;
#   3. a second volume, on a local replica and zone 3: with the engine
#      stopped zone 3's data dir is emptied, and its server comes back
#      only once the volume is open again, with no write since (only the
#      local seqmap says the volume was written before);
#   4. a third volume, on zones 1 and 2: with the engine stopped zone 1's
#      server is killed and zone 2's data dir emptied; the volume is
#      opened with zone 2 only, and zone 1 comes back after.
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
# 3. Zone 3 comes back empty after the volume is open, before any write.
# shellcheck disable=SC2207
lvol=(--name lv --size 16M --state-dir "$d/state" --local "z0=$d/lv.img"
	--replica "$(cluster_zone 3)=$(cluster_addr 3)" --ack quorum
	--min-in-sync 1 --create)
bv "${lvol[@]}" --rw write --bs 1M --verify --log "$d/llog" \
	> "$d/lfill.out" 2>&1 || { cat "$d/lfill.out" >&2; fail "lv fill"; }
cluster_kill 3
rm -rf "$(cluster_data 3)"/*
bv_bg "${lvol[@]}" --check-log "$d/llog" --status "$d/lstatus" \
	--wait-in-sync 20 -v > "$d/lreopen.out" 2> "$d/lreopen.err" &
bench=$!
for _ in $(seq 200); do
	[ -s "$d/lstatus" ] && break
	sleep 0.05
done
[ -s "$d/lstatus" ] || { cat "$d/lreopen.out" "$d/lreopen.err" >&2
	fail "lv did not open"; }
cluster_restart 3 || fail "zone 3 did not restart"
wait $bench || { cat "$d/lreopen.out" "$d/lreopen.err" >&2
	fail "lv reopen: not in sync or read back wrong"; }
bv --size 16M --check-log "$d/llog" --image "$(cluster_img 3 lv)" \
	> "$d/limg3.out" 2>&1 || { cat "$d/limg3.out" "$d/lreopen.err" >&2
	fail "lv: zone 3, back after the volume was opened, lacks acked writes"; }
# 4. Zone 2 comes back empty and says HELLO before zone 1, the only zone
# holding the volume's data, is back.
# shellcheck disable=SC2207
rvol=(--name rv --size 16M --state-dir "$d/state"
	--replica "$(cluster_zone 1)=$(cluster_addr 1)"
	--replica "$(cluster_zone 2)=$(cluster_addr 2)" --ack quorum
	--min-in-sync 1 --create)
bv "${rvol[@]}" --rw write --bs 1M --verify --log "$d/rlog" \
	> "$d/rfill.out" 2>&1 || { cat "$d/rfill.out" >&2; fail "rv fill"; }
cluster_kill 1
wipe 2
bv_bg "${rvol[@]}" --check-log "$d/rlog" --status "$d/rstatus" \
	--wait-in-sync 20 -v > "$d/rreopen.out" 2> "$d/rreopen.err" &
bench=$!
for _ in $(seq 200); do
	[ -s "$d/rstatus" ] && break
	sleep 0.05
done
[ -s "$d/rstatus" ] || { cat "$d/rreopen.out" "$d/rreopen.err" >&2
	fail "rv did not open"; }
cluster_restart 1 || fail "zone 1 did not restart"
# Until zone 1 is back nothing says the volume was written: reads served
# by zone 2 then see its empty image, so only the images are checked.
wait $bench
bv --size 16M --check-log "$d/rlog" --image "$(cluster_img 2 rv)" \
	> "$d/rimg2.out" 2>&1 || { cat "$d/rimg2.out" "$d/rreopen.err" >&2
	fail "rv: zone 2, empty before zone 1 was back, lacks acked writes"; }
echo "PASS: a replica that came back empty was copied in full"
