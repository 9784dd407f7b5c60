#!/bin/bash
# timeout: 90
# Acceptance 7: a live replica server takes truncated, oversized,
# bad-magic, bad-CRC (header and payload), bad version/op/flags frames,
# random garbage, and frames with single flipped bits.  Each one is refused
# the way docs/replication-protocol.md says (error reply when the header
# can be trusted, else the connection closed), the server stays up, another
# client keeps working throughout, and the target image is unchanged
# (sha256 before/after).  Every broken frame is a write of 0xEE bytes at
# offset 0 of the target: had any byte of one been applied, the checksum
# would change.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
cluster_init
cluster_start 1 || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
T=$CLUSTER_DIR
IMG=$(cluster_img 1 target)
PID=$(cluster_pid 1)

fail() { echo "FAIL: $*"; cluster_logs 40; exit 1; }

head -c 1M /dev/urandom > "$T/data"
head -c 1M /dev/urandom > "$T/other"
"$R" --create --volume target --size 16M "$A" copy-in "$T/data" flush ||
	fail "seeding the target"
"$R" --create --volume other --size 16M "$A" status > /dev/null ||
	fail "creating the other volume"
before=$(sha256sum < "$IMG")

# Another client keeps writing and verifying its own volume meanwhile.
(
	for i in $(seq 40); do
		"$R" -q --volume other --size 16M "$A" copy-in "$T/other" off=$((i % 8))M \
			chunk=64K qd=8 verify "$T/other" off=$((i % 8))M \
			> /dev/null || { echo "other client failed at round $i"; exit 1; }
	done
	echo "other client: 40 rounds OK"
) > "$T/worker.out" 2>&1 &
worker=$!

B="$R --volume target --size 16M $A"
for kind in magic hdr-crc payload-crc version op flags oversize reply-flag \
	    trunc-hdr trunc-payload; do
	$B bad $kind || fail "bad $kind"
done
# after a payload CRC failure the stream is still in step
$B bad payload-crc status | grep -q 'status: OK' || fail "stream lost after bad payload"
# single flipped bits anywhere in a frame (header and payload)
for i in $(seq 60); do
	at=$((RANDOM % 4160))
	$B bad flip at=$at > "$T/flip.out" || fail "flip at $at: $(cat "$T/flip.out")"
done
echo "60 single-bit flips refused"
# garbage, and a header cut short by EOF mid-stream
for i in 1 2 3; do
	head -c 65536 /dev/urandom > "$T/junk"
	$B raw file="$T/junk" eof expect=close > /dev/null || fail "garbage $i"
done
printf 'TPRY' > "$T/magic-only"
$B raw file="$T/magic-only" eof expect=close > /dev/null || fail "magic only"
echo "garbage refused"

wait $worker || fail "$(cat "$T/worker.out")"
cat "$T/worker.out"
kill -0 "$PID" || fail "server died"
after=$(sha256sum < "$IMG")
[ "$before" = "$after" ] || fail "target image changed"
$B verify "$T/data" status || fail "target unreadable"
grep -c 'refused\|corrupt frame\|mid-frame' "$(cluster_log 1)" |
	sed 's/^/server log lines about refused frames: /'
cluster_stop 1 || fail "unclean exit $?"
echo PASS
