#!/bin/bash
# timeout: 60
# SIGTERM with a client busy writing: tapestryd volume stops taking new
# requests, finishes those in flight, flushes, disconnects the client and
# exits 0 within seconds; the socket file is gone and the volume reopens.
. "$(dirname "$0")/lib/nbd.sh"
nbd_need fio nbdinfo
nbd_setup
fio --enghelp 2>/dev/null | grep -qw nbd || { echo "SKIP: fio lacks ioengine=nbd"; exit 77; }

nbd_start vol 64M --local zone-a="$T/a.img"
fio --name=busy --ioengine=nbd --uri="$VOL_URI" --rw=randwrite --bs=64k \
	--iodepth=16 --size=64M --time_based --runtime=30 \
	--output="$T/fio.txt" >/dev/null 2>&1 &
fio_pid=$!
sleep 1.5
start=$(date +%s%N)
kill -TERM "$VOL_PID"
wait "$VOL_PID"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "exit $rc after ${ms} ms"
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
[ $ms -lt 5000 ] || fail "took ${ms} ms to stop"
grep -q "flushed and closed" "$VOL_LOG" || fail "no clean stop in the log"
[ -e "$VOL_SOCK" ] && fail "socket file left behind"
for _ in $(seq 50); do kill -0 $fio_pid 2>/dev/null || break; sleep 0.1; done
kill -0 $fio_pid 2>/dev/null && fail "the client was not disconnected"
wait $fio_pid
nbd_start vol 64M --local zone-a="$T/a.img"
nbd_stop
echo "PASS"
