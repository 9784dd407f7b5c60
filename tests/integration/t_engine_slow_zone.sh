#!/bin/bash
# timeout: 120
# Acceptance 4 of issue 3, slow zone: the fault proxy adds 20 ms to every
# request of zone 3 (20 ms on the way to it).  Under quorum the volume's
# write p99 stays within 1.25 x the p99 of the two fast zones; under all
# it follows the slow zone.  Zone p99s are the engine's own userspace
# timing of each zone's requests; the volume p99 is bench-volume's timing
# of each write from submission to done().  Both are printed.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
cluster_start 3 --proxy || fail "cluster did not start"
d=$CLUSTER_DIR
cluster_proxy 3 delay-up 20 > /dev/null || fail "proxy delay"

run() {
	local ack=$1 out=$d/$1.json
	# shellcheck disable=SC2046
	bv $(engine_vol_args vol 64M 1 2 3) --create --ack "$ack" \
		--rw randwrite --bs 4k --iodepth 4 --rate 400 --runtime 3 \
		--no-flush --json > "$out" || fail "bench-volume ($ack) failed"
	[ "$(jget "$out" .write_errors)" = 0 ] || fail "$ack: write errors"
	[ "$(jget "$out" .in_sync)" = 3 ] ||
		fail "$ack: a zone was degraded; the test wants it slow only"
}

run quorum
run all
for ack in quorum all; do
	out=$d/$ack.json
	vol=$(jget "$out" .write_lat.p99_us)
	z1=$(jq -r '.zones[] | select(.zone == "z1") | .p99_us' "$out")
	z2=$(jq -r '.zones[] | select(.zone == "z2") | .p99_us' "$out")
	z3=$(jq -r '.zones[] | select(.zone == "z3") | .p99_us' "$out")
	printf '%-6s volume write p99 %8.0f us; zone p99: z1 %6.0f us, z2 %6.0f us, z3 (slow) %6.0f us; %s writes\n' \
		"$ack" "$vol" "$z1" "$z2" "$z3" "$(jget "$out" .writes)"
	fast=$(awk -v a="$z1" -v b="$z2" 'BEGIN { print (a > b ? a : b) }')
	eval "vol_$ack=$vol fast_$ack=$fast slow_$ack=$z3"
done
# shellcheck disable=SC2154
awk -v z="$slow_quorum" 'BEGIN { exit !(z >= 20000) }' ||
	fail "zone 3 was not slowed down (p99 $slow_quorum us)"
# shellcheck disable=SC2154
awk -v v="$vol_quorum" -v f="$fast_quorum" 'BEGIN { exit !(v <= 1.25 * f) }' ||
	fail "quorum: volume p99 $vol_quorum us > 1.25 x fast zones' $fast_quorum us"
# shellcheck disable=SC2154
awk -v v="$vol_all" -v s="$slow_all" 'BEGIN { exit !(v >= 0.8 * s && v >= 20000) }' ||
	fail "all: volume p99 $vol_all us does not follow the slow zone ($slow_all us)"
echo "PASS: quorum p99 within 1.25x of the fast zones; all follows the slow zone"
