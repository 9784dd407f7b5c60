#!/bin/bash
# timeout: 90
# The engine's state dir on a busy disk: every fsync there takes 1.5 s
# (tapestry-slowfs).  A replica dies, so its dirty map changes under
# writes and every flush must make it durable; later it comes back, which
# takes a new epoch, and resyncs.  The engine's loop never waits for that
# disk: writes under ack all keep being acked at their usual latency (no
# replica is degraded for the loop's sake, no write fails), flushes take
# the 1.5 s they must and succeed, and at the end the replicas are
# identical.  (Before the engine did this through io_uring, one msync of
# the dirty map stalled the loop for the whole fsync, every replica hit
# its hard timeout at once and writes failed with EIO.)
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/slowfs.sh"

cleanup() { slowfs_stop; cluster_cleanup; }
cluster_init
trap cleanup EXIT
slowfs_start
cluster_start 3 || fail "cluster did not start"
d=$CLUSTER_DIR

bv_bg --name vol --size 64M --state-dir "$SLOWFS_MNT/state" --create \
	--replica "z1=$(cluster_addr 1)" --replica "z2=$(cluster_addr 2)" \
	--replica "z3=$(cluster_addr 3)" --ack all --hard-timeout-ms 500 \
	--rw randwrite --bs 4k --iodepth 8 --rate 2000 --runtime 6 \
	--flush-interval 300 --verify --ref "$d/ref" --status "$d/status" \
	--wait-in-sync 20 --json > "$d/run.json" 2> "$d/run.err" &
bench=$!
engine_wait_state "$d/status" z3 in-sync || fail "volume did not start"
slowfs_delay 1500
f0=$(slowfs_fsyncs)
sleep 0.5
cluster_kill 3
sleep 1.5
cluster_restart 3 || fail "zone 3 did not restart"
wait $bench || fail "bench-volume failed: $(tail -5 "$d/run.err")"
f1=$(slowfs_fsyncs)
jq -c '{writes, write_errors, flushes, flush_errors, in_sync,
	write_p99_us: .write_lat.p99_us, flush_lat,
	events: [.events[] | "\(.zone) \(.state)"]}' "$d/run.json"
echo "fsyncs on the slow state dir during the run: $((f1 - f0))"
[ "$(jget "$d/run.json" .write_errors)" = 0 ] || fail "writes failed"
[ "$(jget "$d/run.json" .flush_errors)" = 0 ] || fail "flushes failed"
[ "$(jq '[.events[] | select(.zone != "z3")] | length' "$d/run.json")" = 0 ] ||
	fail "a live replica was degraded"
[ "$(jget "$d/run.json" .in_sync)" = 3 ] || fail "not all in sync at the end"
[ $((f1 - f0)) -ge 1 ] || fail "nothing was synced on the slow disk"
awk -v m="$(jget "$d/run.json" '.flush_lat.max_us // .flush_lat.p99_us')" \
	'BEGIN { exit !(m >= 1400000) }' ||
	fail "no flush waited for the slow disk: the test proves nothing"
awk -v p="$(jget "$d/run.json" .write_lat.p99_us)" \
	'BEGIN { exit !(p < 300000) }' || fail "writes waited for the slow disk"
for z in 1 2 3; do
	cmp "$(cluster_img $z vol)" "$d/ref" || fail "zone $z differs"
done
echo "PASS: a 1.5 s fsync in the state dir held up flushes, never the loop"
