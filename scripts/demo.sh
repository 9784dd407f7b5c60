#!/bin/bash
# make demo: Tapestry on this machine.
#
# Until the engine lands this shows the block-I/O tracer: it makes a disk
# (a loop device over a file in RAM), starts the node daemon, runs a fio
# workload on the disk, and prints what `tapestry report io` saw.  The
# 3-zone replication demo grows from here.  Needs root; cleans up after
# itself, also when interrupted.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TAPESTRY=$BUILD/bin/tapestry
TAPESTRYD=$BUILD/bin/tapestryd

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the tracer loads BPF programs)"
command -v fio >/dev/null || die "fio is missing: make deps"
[ -x "$TAPESTRYD" ] || die "build first: make"

WORK=$(mktemp -d /tmp/tapestry-demo.XXXXXX)
PIN_ROOT=/sys/fs/bpf/tapestry-demo-$$
LOOP= DAEMON=
cleanup() {
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON"
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	mountpoint -q "$WORK/ram" && umount "$WORK/ram"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "A disk to trace: a loop device over a 256 MiB file on tmpfs"
mkdir "$WORK/ram"
mount -t tmpfs -o size=300m tmpfs "$WORK/ram"
fallocate -l 256M "$WORK/ram/disk.img"
LOOP=$(losetup --find --show "$WORK/ram/disk.img") || die "no free loop device"
DEV=${LOOP#/dev/}
echo "$LOOP"

step "tapestryd run: load the tracers, pin their maps under $PIN_ROOT"
"$TAPESTRYD" run --pin-root "$PIN_ROOT" 2>"$WORK/daemon.log" &
DAEMON=$!
for _ in $(seq 100); do
	grep -q "running; maps pinned" "$WORK/daemon.log" && break
	sleep 0.1
done
grep -q "running; maps pinned" "$WORK/daemon.log" || { cat "$WORK/daemon.log"; die "tapestryd did not start"; }
sed 's/^/    /' "$WORK/daemon.log"
ls "$PIN_ROOT" | sed 's/^/    /'

step "A workload: 3 s of 4 KiB random writes, then 3 s of random reads, QD 32"
"$TAPESTRY" report io --device "$DEV" --interval 8 --pin-root "$PIN_ROOT" \
	--percentiles 50,90,99,99.9 >"$WORK/report.txt" 2>&1 &
REPORT=$!
fio --name=writes --filename="$LOOP" --rw=randwrite --bs=4k --direct=1 \
    --ioengine=io_uring --iodepth=32 --time_based --runtime=3 \
    --name=reads --stonewall --filename="$LOOP" --rw=randread --bs=4k \
    --direct=1 --ioengine=io_uring --iodepth=32 --time_based --runtime=3 \
    --output-format=terse --terse-version=3 >/dev/null || die "fio failed"
echo "    fio done; waiting for the report interval to close"
wait $REPORT

step "tapestry report io --device $DEV (read from the daemon's pins)"
cat "$WORK/report.txt"

step "The same, as Prometheus would scrape it (first lines)"
"$TAPESTRY" report io --device "$DEV" --prometheus --interval 0.1 \
	--pin-root "$PIN_ROOT" | grep -v '_bucket{' | head -12

step "Done.  The maps are plain BPF maps, e.g.:"
echo "    bpftool map dump pinned $PIN_ROOT/blk_stats   (see docs/bpftool.md)"
echo "Stopping tapestryd, which unpins everything."
