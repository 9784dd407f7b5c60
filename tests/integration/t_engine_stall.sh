#!/bin/bash
# timeout: 90
# A stall of the engine's own thread is not the replicas' fault: SIGSTOP
# the engine (bench-volume) for 2 s, four times its 500 ms hard timeout,
# in the middle of pipelined writes, then SIGCONT.  The replies that
# arrived meanwhile are reaped before any deadline is judged, and the time
# the loop was stopped does not count against any replica: no replica is
# degraded, no write fails, and the writes go on.  One local replica and
# two remote ones, under ack all (every replica counts).
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 2 || fail "cluster did not start"
d=$CLUSTER_DIR

# shellcheck disable=SC2046
bv_bg $(engine_vol_args vol 64M 1 2) --local "z0=$d/local.img" --create \
	--ack all --hard-timeout-ms 500 --rw randwrite --bs 4k --iodepth 16 \
	--rate 4000 --runtime 5 --verify --log "$d/log" --status "$d/status" \
	--json > "$d/run.json" 2> "$d/run.err" &
bench=$!
engine_wait_state "$d/status" z2 in-sync || fail "volume did not start"
sleep 1
kill -STOP $bench
t_stop=$(now_ns)
sleep 2
kill -CONT $bench
t_cont=$(now_ns)
wait $bench || fail "bench-volume failed: $(tail -5 "$d/run.err")"
echo "stopped the engine for $(( (t_cont - t_stop) / 1000000 )) ms"
bv --log-window "$d/log" --size 64M --from "$t_cont" \
	--to $((t_cont + 10000000000)) > "$d/win" || fail "log window"
echo "after SIGCONT: $(cat "$d/win")"
jq -c '{writes, write_errors, in_sync, events: [.events[] |
	{zone, state}]}' "$d/run.json"
[ "$(jget "$d/run.json" .write_errors)" = 0 ] || fail "writes failed"
[ "$(jq '[.events[] | select(.state != "in-sync")] | length' \
	"$d/run.json")" = 0 ] || fail "a replica was degraded by the stall"
[ "$(jget "$d/run.json" .in_sync)" = 3 ] || fail "not all replicas in sync"
[ "$(jget "$d/win" .acks)" -gt 100 ] || fail "writes did not go on"
echo "PASS: a 2 s stall of the engine degraded no replica and failed no write"
