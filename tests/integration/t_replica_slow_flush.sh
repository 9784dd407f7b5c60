#!/bin/bash
# timeout: 90
# A replica server on a busy disk (tapestry-slowfs: every fsync takes 1.5
# s): flushes of many volumes are in progress at once -- each FLUSH holds
# two fdatasyncs, more than the kernel's default io_uring worker pool for
# file I/O (4 per CPU) -- while another volume takes writes.  A FLUSH only
# covers what was written before it, so nothing after it may wait for its
# fdatasync: the writes must not queue behind the flushes (p99 far below
# 1.5 s), and every flush still takes its 1.5 s and succeeds.  (Before the
# server grew its worker pool and capped the flushes' share of it, the
# writes waited for workers and the engine degraded the replica.)
# NFLUSH=40 (more fdatasyncs than the cap of 64) passes too, slower.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/slowfs.sh"

# The server (which holds files on the slow disk) goes before the disk.
cleanup() {
	local p
	for p in ${FLUSHERS:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	cluster_kill 1
	slowfs_stop
	cluster_cleanup
}
cluster_init
trap cleanup EXIT
slowfs_start
d=$CLUSTER_DIR
# zone 1's data dir on the slow disk
cluster_data() { echo "$SLOWFS_MNT/z$1"; }
cluster_start 1 || fail "server did not start"
addr=$(cluster_addr 1)
RC=$CLUSTER_REPLCTL
nflush=${NFLUSH:-8}
for i in $(seq $nflush); do
	"$RC" -q --create --volume "f$i" --size 16M "$addr" write 0 4K ||
		fail "cannot create volume f$i"
done
slowfs_delay 1500
FLUSHERS=
for i in $(seq $nflush); do
	"$RC" --volume "f$i" --size 16M "$addr" flush flush flush \
		> "$d/flush$i.out" 2>&1 &
	FLUSHERS="$FLUSHERS $!"
done
sleep 0.3
t0=$(now_ns)
bv --name w --size 64M --state-dir "$d/state" --create \
	--replica "z1=$addr" --rw randwrite --bs 4k --iodepth 4 --runtime 2 \
	--no-flush --json > "$d/w.json" 2> "$d/w.err" ||
	fail "writer failed: $(tail -3 "$d/w.err")"
t1=$(now_ns)
for p in $FLUSHERS; do
	wait "$p" || fail "a flusher failed: $(cat "$d"/flush*.out)"
done
FLUSHERS=
t2=$(now_ns)
echo "$nflush volumes flushing (3 x 1.5 s each, $(( (t2 - t0) / 1000000 )) ms)" \
	"while the writer ran $(( (t1 - t0) / 1000000 )) ms: $(jq -c \
	'{writes, write_errors, p50_us: .write_lat.p50_us,
	  p99_us: .write_lat.p99_us, max_us: .write_lat.max_us}' "$d/w.json")"
[ $(( (t2 - t0) / 1000000 )) -ge 3500 ] ||
	fail "the flushes did not wait for the slow disk"
[ "$(jget "$d/w.json" .write_errors)" = 0 ] || fail "writes failed"
awk -v p="$(jget "$d/w.json" .write_lat.p99_us)" 'BEGIN { exit !(p < 500000) }' ||
	fail "writes waited behind the flushes' fdatasyncs"
echo "PASS: writes went on while flushes waited for a slow disk"
