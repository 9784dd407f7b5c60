#!/bin/bash
# timeout: 60
# Zone ids come from the node's zone registry, never from the engine:
#  1. with a registry, each zone's id in the engine's user_data tags is the
#     registry's id for that zone name (the registry is padded first, so
#     the ids are far from the positions 1..3 an engine used to invent);
#  2. where the registry cannot be used (here: no CAP_BPF/CAP_SYS_ADMIN,
#     the default pin root), the zones are untagged (UD_ZONE_NONE, 255),
#     so the zone tracer cannot count them as some other volume's zones,
#     and that is said once;
#  3. --zone-registry none: untagged, silently, registry untouched.
# The same holds for `tapestryd volume` (its --pin-root), shown by the NBD
# tests' zone reports; here bench-volume, both through the same rules.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v setpriv > /dev/null || skip "no setpriv"
command -v bpftool > /dev/null || skip "no bpftool"
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf || skip "cannot mount bpffs"
fi
PIN_ROOT=/sys/fs/bpf/tapestry-test-zids-$$-$RANDOM
cleanup() { rm -rf "$PIN_ROOT"; cluster_cleanup; }
cluster_init
trap cleanup EXIT
cluster_start 3 || fail "cluster did not start"
d=$CLUSTER_DIR

pad=$((20 + RANDOM % 50))
for i in $(seq $pad); do
	"$ENGINE_BV" zone register "pad$i" --pin-root "$PIN_ROOT" > /dev/null ||
		fail "zone register"
done
# shellcheck disable=SC2207
vol=($(engine_vol_args vol 16M 1 2 3) --create --ack quorum --rw randwrite
	--bs 4k --iodepth 4 --bytes 1M --json)

ids() { jq -c '[.zones[] | {zone, zone_id}]' "$1"; }

peers() { bpftool map dump pinned "$PIN_ROOT/zone_peers" -j | jq length; }

# 1. the registry's ids; the replicas' addresses registered for RTT while
#    it runs, and forgotten when it exits
bv_bg "${vol[@]}" --bytes 0 --runtime 1.5 --status "$d/status" \
	--zone-registry "$PIN_ROOT" > "$d/reg.json" 2> "$d/reg.err" &
bench=$!
engine_wait_state "$d/status" z3 in-sync || fail "volume did not start"
during=$(peers)
wait $bench || fail "bench-volume with a registry: $(cat "$d/reg.err")"
after=$(peers)
echo "replica addresses in the registry: $during while running, $after after"
[ "$during" = 3 ] && [ "$after" = 0 ] || fail "peers not (un)registered"
"$ENGINE_BV" zone list --json --pin-root "$PIN_ROOT" > "$d/list.json" ||
	fail "zone list"
echo "with the registry: $(ids "$d/reg.json")"
for z in z1 z2 z3; do
	want=$(jq --arg z $z '.[] | select(.zone == $z) | .zone_id' "$d/list.json")
	got=$(jq --arg z $z '.zones[] | select(.zone == $z) | .zone_id' \
		"$d/reg.json")
	[ -n "$want" ] && [ "$want" = "$got" ] ||
		fail "$z: engine tags $got, the registry says ${want:-nothing}"
	[ "$got" -gt $pad ] || fail "$z: id $got is not from the registry"
done

# 2. no registry to be had: untagged, said once
rm -rf "$d/state"
# In a mount namespace with a bpffs of its own: the node's default
# registry may exist, and opening existing pins needs no CAP_BPF.
unshare --mount --propagation private sh -c \
	'mount -t bpf bpf /sys/fs/bpf && exec "$@"' sh \
	setpriv --bounding-set -bpf,-sys_admin,-perfmon \
	"$ENGINE_BV" bench-volume "${vol[@]}" > "$d/nocap.json" \
	2> "$d/nocap.err" || fail "bench-volume without CAP_BPF: $(cat "$d/nocap.err")"
echo "without CAP_BPF: $(ids "$d/nocap.json"); $(grep -c 'latency is off' \
	"$d/nocap.err") warning: $(grep 'latency is off' "$d/nocap.err")"
[ "$(jq '[.zones[].zone_id] | unique' -c "$d/nocap.json")" = "[255]" ] ||
	fail "zones tagged without the registry"
[ "$(grep -c 'latency is off' "$d/nocap.err")" = 1 ] ||
	fail "not said exactly once"

# 3. asked not to use it
rm -rf "$d/state"
bv "${vol[@]}" --zone-registry none > "$d/none.json" 2> "$d/none.err" ||
	fail "bench-volume --zone-registry none"
[ "$(jq '[.zones[].zone_id] | unique' -c "$d/none.json")" = "[255]" ] ||
	fail "zones tagged with --zone-registry none"
! grep -q 'latency is off' "$d/none.err" || fail "warned with none"
echo "PASS: zone ids only from the registry; untagged without it"
