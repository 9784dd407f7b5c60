#!/bin/bash
# timeout: 60
#
# Volumes of a node share replica servers, so they register the same
# peer addresses for RTT; one volume that stops must not take the
# attribution away from the others.  Two engines (bench-volume, two
# volumes) against the same three servers and zone registry: after the
# short one exits, the long one's three peers must still be in
# zone_peers (they were all forgotten), and after both, none.  The same
# through `tapestry zone peer`/`unpeer`: a peer registered twice stays
# after one unpeer and goes with the second.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v bpftool >/dev/null || skip "no bpftool"
command -v jq >/dev/null || skip "jq not installed"
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf || skip "cannot mount bpffs"
fi
PIN_ROOT=/sys/fs/bpf/tapestry-test-zpeers-$$-$RANDOM
cleanup() { rm -rf "$PIN_ROOT"; cluster_cleanup; }
cluster_init
trap cleanup EXIT
cluster_start 3 || fail "cluster did not start"
d=$CLUSTER_DIR

peers() { bpftool map dump pinned "$PIN_ROOT/zone_peers" -j | jq length; }

run_vol() {	# name runtime
	# shellcheck disable=SC2046
	ENGINE_REGISTRY=$PIN_ROOT bv $(engine_vol_args "$1" 16M 1 2 3) \
		--state-dir "$d/state-$1" --create --ack quorum --rw randwrite \
		--bs 4k --iodepth 2 --rate 200 --bytes 0 --runtime "$2" \
		--status "$d/status-$1" --json >"$d/$1.json" 2>"$d/$1.err"
}
run_vol long 4 &
long=$!
engine_wait_state "$d/status-long" z3 in-sync || fail "volume long did not start"
run_vol short 0.5 || fail "volume short failed: $(cat "$d/short.err")"
n=$(peers)
echo "peers after the short volume stopped: $n (the long one runs)"
kill -0 $long 2>/dev/null || fail "the long volume ended too soon"
[ "$n" = 3 ] || fail "a stopping volume forgot the peers the other uses"
wait $long || fail "volume long failed: $(cat "$d/long.err")"
n=$(peers)
echo "peers after both stopped: $n"
[ "$n" = 0 ] || fail "peers left after every volume stopped"

Z() { "$ENGINE_BV" zone "$@" --pin-root "$PIN_ROOT"; }
Z register zx >/dev/null || fail "zone register"
Z peer 127.0.9.1:7009 zx && Z peer 127.0.9.1:7009 zx || fail "zone peer"
Z unpeer 127.0.9.1:7009 || fail "zone unpeer"
[ "$(peers)" = 1 ] || fail "one unpeer of two forgot the peer"
Z unpeer 127.0.9.1:7009 || fail "second zone unpeer"
[ "$(peers)" = 0 ] || fail "peer left after as many unpeers as peers"
Z unpeer 127.0.9.1:7009 2>/dev/null && fail "unpeer of a forgotten peer succeeded"
echo "PASS"
