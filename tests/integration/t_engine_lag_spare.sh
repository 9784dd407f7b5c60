#!/bin/bash
# timeout: 120
# A replica that is alive but slow is not cut off when the volume would be
# left without a spare.  Three replicas under quorum at full load; zone 1
# gets 20 ms on every request through the fault proxy, so acked writes
# pile up on it until they hold every spare request slot.  Cutting it
# then would leave exactly the two acks a write needs, and the next
# failure would refuse writes: so with the default (--lag-cut spare) the
# engine makes callers wait for it instead.  Then zone 3 is SIGKILLed:
# zones 1 and 2 still make a quorum, and every write must succeed.
#
# The same run with --lag-cut floor cuts zone 1 off (counted in .lagged),
# and killing zone 3 then leaves a single replica, below the quorum:
# writes fail with EIO, as they must, never faked.  That run shows the
# first half is not passing by luck (the slow zone does fall behind).
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 3 --proxy || fail "cluster did not start"
d=$CLUSTER_DIR
# shellcheck disable=SC2046
bv $(engine_vol_args vol 64M 1 2 3) --create --rw write --bs 256k \
	--iodepth 4 --bytes 64M > /dev/null || fail "fill failed"
cluster_delay 1 20 || fail "proxy delay"

# One run: quorum, QD32 random writes for 3 s; zone 3 killed after 1.5 s.
# Prints the run's figures; leaves its JSON in $d/$1.json.
run() {
	local mode=$1 out=$d/$1.json bench
	rm -rf "$d/state"
	# shellcheck disable=SC2046
	bv_bg $(engine_vol_args vol 64M 1 2 3) --ack quorum --lag-cut "$mode" \
		--rw randwrite --bs 4k --iodepth 32 --runtime 3 --no-flush \
		--json > "$out" 2> "$d/$mode.err" &
	bench=$!
	sleep 1.5
	cluster_kill 3
	wait $bench
	echo "lag-cut $mode: $(jget "$out" .writes) writes," \
	     "$(jget "$out" .write_errors) failed; zone 1 cut off" \
	     "$(jq -r '.zones[] | select(.zone == "z1") | .lagged' "$out")" \
	     "times; in sync at the end: $(jget "$out" .in_sync)"
	cluster_restart 3 || fail "zone 3 did not restart"
}

run spare
out=$d/spare.json
[ -s "$out" ] || { cat "$d/spare.err"; fail "spare: no result"; }
[ "$(jget "$out" .write_errors)" = 0 ] ||
	fail "spare: writes failed after zone 3 died"
[ "$(jq -r '.zones[] | select(.zone == "z1") | .lagged' "$out")" = 0 ] ||
	fail "spare: the slow zone was cut off though it was the spare"
[ "$(jget "$out" .writes)" -gt 100 ] || fail "spare: too few writes"

run floor
out=$d/floor.json
[ -s "$out" ] || { cat "$d/floor.err"; fail "floor: no result"; }
[ "$(jq -r '.zones[] | select(.zone == "z1") | .lagged' "$out")" -ge 1 ] ||
	fail "floor: the slow zone was never cut off: the test did not load it"
[ "$(jget "$out" .write_errors)" -gt 0 ] ||
	fail "floor: a single replica left, yet no write failed"
echo "PASS: a slow spare is waited for, not cut; zone 3's death leaves a quorum"
