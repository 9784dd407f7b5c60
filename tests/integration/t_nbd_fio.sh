#!/bin/bash
# timeout: 120
# Acceptance 4: fio, ioengine=nbd, 4 KiB random read/write at QD32 with
# crc32c verification, against a quorum volume on three replica servers:
# once undisturbed, and once while one zone's server is killed and
# restarted in the middle of the run.  Afterwards the killed replica has
# been resynced and all three images are identical.
. "$(dirname "$0")/lib/nbd.sh"
nbd_need fio nbdinfo cmp
nbd_setup
fio --enghelp 2>/dev/null | grep -qw nbd || { echo "SKIP: fio lacks ioengine=nbd"; exit 77; }

nbd_replicas 3
# 2 s: a loaded test machine can stall a replica server past the default
# 0.5 s; a killed server is noticed at once (its connection resets).
nbd_start vol 256M "${REPLICA_ARGS[@]}" --ack quorum --hard-timeout-ms 2000

# fio NAME SECONDS: randrw with every written block read back and checked
# as it goes (verify_backlog) and fatal on the first mismatch.
run_fio() {
	fio --name="$1" --ioengine=nbd --uri="$VOL_URI" --rw=randrw --bs=4k \
		--iodepth=32 --size=256M --time_based --runtime="$2" \
		--verify=crc32c --verify_backlog=256 --verify_fatal=1 --verify_state_save=0 \
		--output-format=json --output="$T/$1.json" >"$T/$1.err" 2>&1
}
check_fio() {
	jq -e '.jobs[0].error == 0 and .jobs[0].write.total_ios > 1000
		and .jobs[0].read.total_ios > 1000' "$T/$1.json" >/dev/null ||
		fail "fio $1: $(cat "$T/$1.err"; jq -c '.jobs[0] | {error, r: .read.total_ios, w: .write.total_ios}' "$T/$1.json")"
	echo "fio $1: $(jq -r '.jobs[0] | "\(.read.total_ios) reads, \(.write.total_ios) writes, error \(.error)"' "$T/$1.json")"
}

run_fio calm 4 || fail "fio (undisturbed) failed: $(cat "$T/calm.err")"
check_fio calm

run_fio storm 8 &
fio_pid=$!
sleep 2
echo "killing zone z2's replica server"
nbd_replica_kill 2
nbd_log_wait "replica z2 degraded" 5 || fail "the engine never noticed z2 die"
sleep 1.5
echo "restarting it"
nbd_replica_restart 2
wait $fio_pid || fail "fio failed while z2 was killed and restarted: $(cat "$T/storm.err")"
check_fio storm
nbd_log_wait "replica z2 in sync" 20 || fail "z2 never resynced"
grep "z2" "$VOL_LOG"
nbd_stop
for i in 2 3; do
	cmp "$T/replica1/vol.img" "$T/replica$i/vol.img" ||
		fail "replica image z$i differs from z1"
done
echo "PASS"
