#!/bin/bash
# timeout: 120
# Many connections and volumes at once on one replica server, with few
# request slots and few large buffers so that connections stall on both
# and resume: 8 volumes x 3 clients, each client copying its own data into
# its own region (pipelined, 64 KiB and 1 MiB writes) and reading it back,
# plus an overlap-ordering client per volume.  Afterwards every image
# region is compared byte for byte with what its client wrote.  Then
# --max-conns: a connection beyond the limit waits for one to close.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
cluster_init
CLUSTER_SERVER_ARGS="--slots 8 --buffers 3" cluster_start 1 || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
T=$CLUSTER_DIR

fail() { echo "FAIL: $*"; cluster_logs 30; exit 1; }

pids=()
for v in $(seq 8); do
	for c in 1 2 3; do
		f=$T/v$v.c$c
		head -c $((c * 768 * 1024)) /dev/urandom > "$f"
		chunk=$([ $c = 2 ] && echo 1M || echo 64K)
		"$R" -q --create --volume vol$v --size 32M "$A" \
			copy-in "$f" off=$((c * 4))M chunk=$chunk qd=16 \
			verify "$f" off=$((c * 4))M > "$f.out" 2>&1 &
		pids+=($!)
	done
	"$R" -q --create --volume vol$v --size 32M "$A" \
		overlap 100 off=20M span=8M > "$T/v$v.ov.out" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || { cat "$T"/*.out; fail "a client failed"; }
done
for v in $(seq 8); do
	for c in 1 2 3; do
		f=$T/v$v.c$c
		dd if="$(cluster_img 1 vol$v)" bs=1M skip=$((c * 4)) \
			count=$(( ($(stat -c %s "$f") + 1048575) / 1048576 )) \
			status=none | head -c "$(stat -c %s "$f")" | cmp - "$f" ||
			fail "vol$v region of client $c differs"
	done
done
echo "32 clients on 8 volumes: every region byte-for-byte; overlaps in order"
grep -c . "$T"/*.out > /dev/null

# --max-conns 2: a third connection is served only once one closes.
cluster_stop 1 || fail "SIGTERM exit $?"
CLUSTER_SERVER_ARGS="--max-conns 2" cluster_restart 1 || fail "restart"
"$R" --volume vol1 --size 32M "$A" sleep 1500 > /dev/null &
h1=$!
"$R" --volume vol1 --size 32M "$A" sleep 1500 > /dev/null &
h2=$!
sleep 0.3
start=$(date +%s%N)
"$R" --volume vol1 --size 32M "$A" status > "$T/third.out" 2>&1 || fail "third client: $(cat "$T/third.out")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
wait $h1 && wait $h2 || fail "a holder failed"
echo "third connection served after ${ms} ms"
[ "$ms" -ge 800 ] || fail "third connection served at once (${ms} ms) past --max-conns 2"
cluster_stop 1 || fail "SIGTERM exit $?"
echo PASS
