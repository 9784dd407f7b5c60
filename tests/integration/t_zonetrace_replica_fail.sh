#!/bin/bash
# timeout: 90
#
# A remote replica request that the engine gives up on ends, for the zone
# tracer, as a failed request of its zone.  Zone 3 goes silent (its proxy
# swallows everything) under quorum writes: its requests in flight time
# out, the engine degrades the replica and fails them.  The engine
# started each with a UD_CLS_REPL marker but sent no UD_CLS_REPL_DONE for
# the ones it failed, so `report zones` showed no error at all for the
# zone that lost its requests, and left the slowest of its requests out
# of its latency.  Zone 3 must show failed requests; zones 1 and 2 none.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root"
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
command -v jq >/dev/null || skip "jq not installed"
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf || skip "cannot mount bpffs"
fi
PIN_ROOT=/sys/fs/bpf/tapestry-test-zfail-$$-$RANDOM
rep=
cleanup() {
	if [ -n "$rep" ]; then
		kill -INT "$rep" 2>/dev/null
		wait "$rep" 2>/dev/null
	fi
	rm -rf "$PIN_ROOT"
	cluster_cleanup
}
cluster_init
trap cleanup EXIT
cluster_start 3 --proxy || fail "cluster did not start"
d=$CLUSTER_DIR

# Other engines on this machine number their zones from 1: take ours from
# a range far from those (the tracer is node-wide).
pad=$((100 + RANDOM % 100))
for i in $(seq $pad); do
	"$ENGINE_BV" zone register "pad$i" --pin-root "$PIN_ROOT" >/dev/null ||
		fail "zone register"
done

"$ENGINE_BV" report zones --json --interval 60 --pin-root "$PIN_ROOT" \
	>"$d/report.json" 2>"$d/report.err" &
rep=$!
for _ in $(seq 200); do
	grep -q "tracing replica requests" "$d/report.err" && break
	sleep 0.1
done
grep -q "tracing replica requests" "$d/report.err" ||
	{ cat "$d/report.err"; fail "report zones did not start"; }

# shellcheck disable=SC2046
ENGINE_REGISTRY=$PIN_ROOT bv_bg $(engine_vol_args vol 64M 1 2 3) --create \
	--ack quorum --hard-timeout-ms 300 --rw randwrite --bs 4k --iodepth 8 \
	--rate 1000 --runtime 3 --status "$d/status" --json \
	>"$d/run.json" 2>"$d/run.err" &
bench=$!
engine_wait_state "$d/status" z3 in-sync || fail "volume did not start"
sleep 0.5
cluster_proxy 3 blackhole on >/dev/null || fail "proxy blackhole"
wait $bench || fail "bench-volume failed: $(tail -5 "$d/run.err")"
kill -INT $rep
wait $rep || { cat "$d/report.err"; fail "report zones failed"; }
rep=

jq -c '{writes, write_errors, events: [.events[] | {zone, state}]}' "$d/run.json"
[ "$(jq '[.events[] | select(.zone == "z3" and .state == "degraded")] |
	length' "$d/run.json")" -gt 0 ] || fail "zone 3 was not degraded"
for z in z1 z2 z3; do
	row=$(jq -c --arg z $z '[.zones[] | select(.zone == $z and .op == "write")]
		| first | {count, errors}' "$d/report.json")
	echo "zone $z: $row"
	[ "$row" != null ] || { cat "$d/report.json"; fail "$z: not in the report"; }
	if [ $z = z3 ]; then
		[ "$(jq .errors <<<"$row")" -gt 0 ] ||
			fail "$z: the requests the engine failed are not errors"
	else
		[ "$(jq .errors <<<"$row")" -eq 0 ] || fail "$z: errors"
	fi
done
echo "PASS"
