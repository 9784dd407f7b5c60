#!/bin/bash
# timeout: 90
# A flush may take seconds on a real disk, and that is no failure: zone 3
# answers every FLUSH 1.5 s late (the fault proxy holds its FLUSH replies;
# replies to the writes behind it go on, as from a server whose fdatasync
# is slow), three times the 500 ms hard timeout.  Under ack all, with a
# flush every 300 ms and writes all the while:
#   - zone 3 is never degraded (flushes have their own, longer timeout,
#     and what is queued behind a flush is not judged by the hard one);
#   - no write or flush fails, each flush takes the 1.5 s;
#   - writes are not held up by the flushes (their p99 stays far below);
# and with a flush timeout of 1 s, the same zone is degraded: the
# timeout is real.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 3 --proxy || fail "cluster did not start"
d=$CLUSTER_DIR
cluster_proxy 3 hold-flush 1500 > /dev/null || fail "proxy hold-flush"

run() {
	local name=$1
	shift
	rm -rf "$d/state"
	# shellcheck disable=SC2046
	bv $(engine_vol_args "v$name" 64M 1 2 3) --create --ack all \
		--hard-timeout-ms 500 --rw randwrite --bs 4k --iodepth 8 \
		--rate 2000 --runtime 4 --flush-interval 300 --no-flush --json \
		"$@" > "$d/$name.json" 2> "$d/$name.err"
}

run slow
jq -c '{writes, write_errors, flushes, flush_errors,
	write_p99_us: .write_lat.p99_us, flush_max_us: .flush_lat.max_us,
	events: [.events[] | "\(.zone) \(.state)"]}' "$d/slow.json"
[ "$(jget "$d/slow.json" .write_errors)" = 0 ] || fail "writes failed"
[ "$(jget "$d/slow.json" .flush_errors)" = 0 ] || fail "flushes failed"
[ "$(jq '.events | length' "$d/slow.json")" = 0 ] ||
	fail "a replica busy flushing was degraded"
[ "$(jget "$d/slow.json" .flushes)" -ge 2 ] || fail "too few flushes"
awk -v m="$(jget "$d/slow.json" .flush_lat.p50_us)" \
	-v w="$(jget "$d/slow.json" .write_lat.p99_us)" \
	'BEGIN { exit !(m >= 1400000 && w < 300000) }' ||
	fail "flushes not held 1.5 s, or writes waited for them"
echo "$(cluster_proxy 3 stats | grep -o 'flushes_held [0-9]*') by zone 3's proxy"

run timeout --flush-timeout-ms 1000
rc=$?
echo "flush timeout 1 s: rc $rc, $(jq -c '[.events[] |
	"\(.zone) \(.state)"]' "$d/timeout.json")"
[ "$(jq '[.events[] | select(.zone == "z3" and .state == "degraded")] |
	length' "$d/timeout.json")" -ge 1 ] ||
	fail "a flush past its timeout did not degrade its replica"
[ "$(jget "$d/timeout.json" .write_errors)" = 0 ] ||
	fail "writes failed when a zone was cut off"
echo "PASS: slow flushes were waited for, not held against the replica"
