#!/bin/bash
# make demo: Tapestry's main job, on this one machine.
#
# Three availability zones, each a replica server on loopback with its own
# data directory; one volume replicated across them with `ack quorum`,
# served over NBD; fio writing and verifying through NBD.  Halfway through,
# one zone's server is killed: writes go on (two of three is a quorum).
# It comes back and is resynced, copying only the regions it missed.
# Finally the tracer's view: replica latency per zone, and the block I/O
# underneath.  Needs root (BPF, a loop device, mounts); takes about a
# minute; cleans up after itself, also when interrupted.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TAPESTRY=$PWD/$BUILD/bin/tapestry
TAPESTRYD=$PWD/$BUILD/bin/tapestryd
ZONES=(us-east-1a us-east-1b us-east-1c)
RUN_S=30	# fio's run; the zone dies at 8 s and returns at 16 s

bold() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
say() { echo "    $*"; }
die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (BPF tracing, a loop device)"
for t in fio nbdinfo mkfs.ext4 losetup jq; do
	command -v $t >/dev/null || die "$t is missing: make deps"
done
fio --enghelp 2>/dev/null | grep -qw nbd || die "this fio has no ioengine=nbd"
[ -x "$TAPESTRYD" ] || die "build first: make"

WORK=$(mktemp -d /tmp/tapestry-demo.XXXXXX)
PIN_ROOT=/sys/fs/bpf/tapestry-demo-$$
LOOP= PIDS=()
declare -A SERVER PORT ADDR
# Each zone's server on its own loopback address, so that `ss -tn` shows
# which zone a replica connection goes to.
ADDR=([us-east-1a]=127.0.1.1 [us-east-1b]=127.0.2.1 [us-east-1c]=127.0.3.1)
cleanup() {
	local p
	for p in "${PIDS[@]}" "${SERVER[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for p in "${SERVER[@]}"; do	# disowned: poll
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	mountpoint -q "$WORK/disk" && umount "$WORK/disk"
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	mountpoint -q "$WORK/ram" && umount "$WORK/ram"
	rm -rf "$WORK" "$PIN_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {	# FILE PATTERN SECONDS
	local i
	for i in $(seq $(( $3 * 10 ))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

start_zone() {	# ZONE [PORT]
	local z=$1
	rm -f "$WORK/$z.port"
	"$TAPESTRYD" replica --zone "$z" --listen "${ADDR[$z]}:${2:-0}" \
		--data "$WORK/disk/$z" --port-file "$WORK/$z.port" \
		>>"$WORK/$z.log" 2>&1 &
	SERVER[$z]=$!
	disown "${SERVER[$z]}"	# killed on purpose later: no job notice
	wait_for "$WORK/$z.port" . 5 || die "replica server $z did not start"
	PORT[$z]=$(cat "$WORK/$z.port")
}

# Volume log lines from the engine and NBD, less the timestamps.
show_log() {	# PATTERN
	grep -E "$1" "$WORK/volume.log" | sed 's/^\[[ 0-9.]*\] tapestryd: /    volume: /'
}

# MiB written and write errors so far, from fio's terse status lines.
fio_written() {
	tail -1 "$WORK/fio.terse" 2>/dev/null |
		awk -F';' '{ printf "%d", $47 / 1024 }'
}

bold "The disk under the zones: a loop device over 1 GiB of RAM, with ext4"
mkdir -p "$WORK/ram" "$WORK/disk"
mount -t tmpfs -o size=1100m tmpfs "$WORK/ram"
fallocate -l 1G "$WORK/ram/disk.img"
LOOP=$(losetup --find --show "$WORK/ram/disk.img") || die "no free loop device"
mkfs.ext4 -q -E lazy_itable_init=0 "$LOOP" && mount "$LOOP" "$WORK/disk"
say "$LOOP mounted on $WORK/disk"

bold "tapestryd run: the BPF tracers (block I/O, replica latency per zone)"
"$TAPESTRYD" run --pin-root "$PIN_ROOT" 2>"$WORK/run.log" &
PIDS+=($!)
wait_for "$WORK/run.log" "running; maps pinned" 20 ||
	{ cat "$WORK/run.log"; die "tapestryd run did not start"; }
say "maps pinned under $PIN_ROOT"

bold "Three zones: a replica server each, on loopback"
for z in "${ZONES[@]}"; do
	start_zone "$z"
	say "$z: tapestryd replica on ${ADDR[$z]}:${PORT[$z]}, data in disk/$z"
done

bold "One volume across the three zones, ack quorum, served over NBD"
SOCK=$WORK/demo.sock
# A replica silent for 5 s is cut off.  The default, 0.5 s, is for real
# deployments; here three zones and their disk share one small machine,
# which can stall a process that long.  A killed server is noticed at
# once anyway (its connection resets), and under quorum a dead zone never
# holds writes up.
"$TAPESTRYD" volume --name demo --size 512M --ack quorum \
	--hard-timeout-ms 5000 \
	--replica "us-east-1a=${ADDR[us-east-1a]}:${PORT[us-east-1a]}" \
	--replica "us-east-1b=${ADDR[us-east-1b]}:${PORT[us-east-1b]}" \
	--replica "us-east-1c=${ADDR[us-east-1c]}:${PORT[us-east-1c]}" \
	--nbd unix:"$SOCK" --state-dir "$WORK/ram/state" --pin-root "$PIN_ROOT" \
	>"$WORK/volume.log" 2>&1 &
VOLUME=$!
PIDS+=($VOLUME)
wait_for "$WORK/volume.log" "serving demo" 10 ||
	{ cat "$WORK/volume.log"; die "tapestryd volume did not start"; }
URI="nbd+unix:///demo?socket=$SOCK"
show_log "serving"
nbdinfo "$URI" | grep -E "export-size:|can_multi_conn|block_size" | sed 's/^\t*/    nbdinfo: /'

bold "fio through NBD: 4 KiB random reads (3000/s) and writes (500/s), QD32, every block checked (crc32c)"
"$TAPESTRY" report zones --interval $((RUN_S - 2)) --pin-root "$PIN_ROOT" \
	--percentiles 50,99 --no-hist >"$WORK/zones.txt" 2>&1 &
ZREP=$!
PIDS+=($ZREP)
"$TAPESTRY" report io --device "${LOOP#/dev/}" --interval $((RUN_S - 2)) \
	--pin-root "$PIN_ROOT" --percentiles 50,99 --no-hist \
	>"$WORK/io.txt" 2>&1 &
IOREP=$!
PIDS+=($IOREP)
fio --name=demo --ioengine=nbd --uri="$URI" --rw=randrw --bs=4k \
	--iodepth=32 --size=512M --time_based --runtime=$RUN_S \
	--rwmixread=85 --rate_iops=3000,500 \
	--verify=crc32c --verify_backlog=256 --verify_fatal=1 --verify_state_save=0 \
	--status-interval=1 --output-format=terse --terse-version=3 \
	--output="$WORK/fio.terse" >/dev/null 2>&1 &
FIO=$!
PIDS+=($FIO)
sleep 7
say "after 7 s: $(fio_written) MiB written, acked by at least two zones each"

bold "Zone us-east-1c fails: its replica server is killed (SIGKILL)"
before=$(fio_written)
kill -KILL "${SERVER[us-east-1c]}"
wait_for "$WORK/volume.log" "us-east-1c degraded" 5
show_log "degraded"
sleep 7
say "while us-east-1c is down: $(( $(fio_written) - before )) MiB more written;" \
    "us-east-1a and us-east-1b are a quorum"
say "the regions us-east-1c misses go into a persistent dirty map"

bold "Zone us-east-1c comes back: only the regions it missed are copied"
say "(the volume is 8192 regions of 64 KiB)"
start_zone us-east-1c "${PORT[us-east-1c]}"
wait_for "$WORK/volume.log" "us-east-1c in sync" 20 || say "(resync still running)"
show_log "us-east-1c (is back|in sync)|resync"

bold "fio finishes"
wait $FIO
rc=$?
tail -1 "$WORK/fio.terse" | awk -F';' '{
	printf "    %d MiB read, %d MiB written in %d s; error code %d; ",
	       $6 / 1024, $47 / 1024, $9 / 1000, $5 }'
[ $rc -eq 0 ] && echo "every block read back matched what was written" ||
	echo "fio FAILED (exit $rc)"

bold "tapestry report zones: replica-request latency per zone, over the run"
wait $ZREP 2>/dev/null
cat "$WORK/zones.txt"

bold "tapestry report io: the block I/O on $LOOP underneath the zones"
wait $IOREP 2>/dev/null
cat "$WORK/io.txt"

bold "Stop the volume (SIGTERM): finish in-flight requests, flush, disconnect"
kill -TERM $VOLUME
wait $VOLUME && say "tapestryd volume exited 0"
show_log "nbd:|stopping|flushed"
echo
echo "Done.  docs/nbd.md describes the NBD side; docs/architecture.md the rest."
[ $rc -eq 0 ]
