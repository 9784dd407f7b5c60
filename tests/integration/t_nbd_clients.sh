#!/bin/bash
# timeout: 120
# Acceptance 6: 200 concurrent NBD connections (fio, ioengine=nbd, one
# connection per job) doing small verified I/O all complete correctly,
# and the server holds no more fds afterwards than before.
. "$(dirname "$0")/lib/nbd.sh"
nbd_need fio nbdinfo
nbd_setup
fio --enghelp 2>/dev/null | grep -qw nbd || { echo "SKIP: fio lacks ioengine=nbd"; exit 77; }

jobs=200
nbd_start vol 256M --local zone-a="$T/a.img" --max-clients 1024
nbdinfo --size "$VOL_URI" >/dev/null
before=$(nbd_fds "$VOL_PID")
echo "server fds before: $before"

# Each job owns 1 MiB: 4 KiB random writes, rate-limited so that every
# connection stays open a while, then reads back and checks crc32c.
fio --name=many --ioengine=nbd --uri="$VOL_URI" --thread --numjobs=$jobs \
	--rw=randwrite --bs=4k --size=256k --offset_increment=1m \
	--iodepth=2 --rate_iops=64 --verify=crc32c --do_verify=1 --verify_state_save=0 \
	--verify_fatal=1 --group_reporting --output="$T/fio.txt" \
	>"$T/fio.err" 2>&1 &
fio_pid=$!
peak=0
while kill -0 $fio_pid 2>/dev/null; do
	n=$(nbd_fds "$VOL_PID")
	[ "$n" -gt "$peak" ] && peak=$n
	sleep 0.2
done
wait $fio_pid || fail "fio failed: $(tail -20 "$T/fio.txt" "$T/fio.err")"
grep -q "err= 0" "$T/fio.txt" || fail "fio reported errors: $(cat "$T/fio.txt")"
echo "server fds at peak: $peak"
[ "$peak" -ge $((before + jobs)) ] || fail "never saw $jobs connections at once (peak fds $peak)"

for _ in $(seq 50); do
	[ "$(nbd_fds "$VOL_PID")" -le "$before" ] && break
	sleep 0.1
done
after=$(nbd_fds "$VOL_PID")
echo "server fds after: $after"
[ "$after" -eq "$before" ] || fail "fd leak: $before before, $after after"
nbd_stop
grep "nbd: " "$VOL_LOG" | tail -1
most=$(sed -n 's/.*at most \([0-9]*\) at once.*/\1/p' "$VOL_LOG" | tail -1)
[ "${most:-0}" -ge $jobs ] || fail "the server had at most ${most:-?} connections at once"
grep -q " 0 errors" "$VOL_LOG" || fail "the server answered errors"
echo "PASS"
