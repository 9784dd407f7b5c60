#!/bin/bash
# The block tracer's overhead (issue 2's benchmark).
#
# Workload: fio, 4 KiB random reads, queue depth 32, io_uring, O_DIRECT, on a
# loop device over a file on a private tmpfs: the cheapest I/O the block
# layer can do, so a tracer's cost shows as clearly as it ever will.
#
# IOPS in three modes, interleaved and repeated (ROUNDS, default 3) so that
# the noise of a shared machine falls on all of them alike; the median per
# mode is reported:
#   none       no tracer
#   tapestry   `tapestryd run --no-zones`: the block tracer, pinned
#   bpftrace   the biolatency one-liner below
# Then, with kernel.bpf_stats_enabled=1, one more run per tracer reads each
# program's run_time_ns / run_cnt, next to empty programs on the same
# tracepoints (bench_floor): what any program there costs, the stats'
# clock reads included.  The headline is per I/O: all of a tracer's
# programs' run time over the I/Os completed, which weighs each program
# by how often it runs (block_rq_insert fires for few requests on a disk
# without a scheduler, and those few runs are cold and slow).
#
# Results: bench/results/tracer.md and tracer.json.  On a busy machine
# use more, shorter rounds (ROUNDS=12 RUNTIME=2) so that load swings fall
# on every mode alike.  Targets: at most 60 ns
# per event summed over the three programs, at most 3% IOPS lost, and
# cheaper than bpftrace.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-5}
RUNTIME=${RUNTIME:-5}
OUT=bench/results
TAPESTRYD=$BUILD/bin/tapestryd
FLOOR=$BUILD/bin/bench_floor

BIOLATENCY='tracepoint:block:block_rq_issue { @start[args->dev, args->sector] = nsecs; }
tracepoint:block:block_rq_complete /@start[args->dev, args->sector]/ {
	@usecs = hist((nsecs - @start[args->dev, args->sector]) / 1000);
	delete(@start[args->dev, args->sector]);
}'

die() { echo "b_tracer: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
for t in fio bpftrace bpftool jq losetup; do
	command -v $t >/dev/null || die "$t not installed"
done
[ -x "$TAPESTRYD" ] && [ -x "$FLOOR" ] || die "build first (make)"

TMP=$(mktemp -d /tmp/b_tracer.XXXXXX)
PIN_ROOT=/sys/fs/bpf/b_tracer-$$
LOOP=
BG=
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	[ -n "$BG" ] && kill "$BG" 2>/dev/null && wait "$BG" 2>/dev/null
	sysctl -q kernel.bpf_stats_enabled="$STATS_WAS"
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	mountpoint -q "$TMP/fs" && umount "$TMP/fs"
	rm -rf "$TMP" "$PIN_ROOT"
}
trap cleanup EXIT

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mkdir -p "$TMP/fs"
mount -t tmpfs -o size=300m tmpfs "$TMP/fs" || die "cannot mount tmpfs"
fallocate -l 256M "$TMP/fs/disk.img" || die "fallocate"
LOOP=$(losetup --find --show "$TMP/fs/disk.img") || die "no loop device"

fio_iops() {	# -> IOPS of one run
	fio --name=b_tracer --filename="$LOOP" --rw=randread --bs=4k \
	    --direct=1 --ioengine=io_uring --iodepth=32 --size=256M \
	    --time_based --runtime="$RUNTIME" --ramp_time=1 \
	    --output-format=json | jq '.jobs[0].read.iops | floor'
}

# start_tracer MODE: in the background; BG is its pid.
start_tracer() {
	case $1 in
	none) BG= ;;
	tapestry)
		"$TAPESTRYD" run --no-zones --pin-root "$PIN_ROOT" \
			2>"$TMP/tapestryd.log" &
		BG=$!
		for _ in $(seq 300); do
			grep -q "running; maps pinned" "$TMP/tapestryd.log" && break
			kill -0 "$BG" 2>/dev/null || break
			sleep 0.1
		done
		grep -q "running; maps pinned" "$TMP/tapestryd.log" ||
			die "tapestryd did not start in 30 s (pid $BG$(kill -0 "$BG" 2>/dev/null && echo ", still running: $(cat /proc/$BG/wchan 2>/dev/null)"; true)): $(cat "$TMP/tapestryd.log")"
		;;
	bpftrace)
		bpftrace -e "$BIOLATENCY" >"$TMP/bpftrace.out" 2>&1 &
		BG=$!
		for _ in $(seq 100); do
			grep -q "Attaching" "$TMP/bpftrace.out" && break
			sleep 0.1
		done
		sleep 0.5	# "Attaching" comes before the probes are live
		;;
	floor)
		"$FLOOR" >"$TMP/floor.out" &
		BG=$!
		for _ in $(seq 100); do
			grep -q ready "$TMP/floor.out" && break
			sleep 0.1
		done
		;;
	esac
}

stop_tracer() {
	[ -n "$BG" ] || return 0
	kill -INT "$BG"
	wait "$BG" 2>/dev/null
	BG=
}

prog_ids() { bpftool prog show -j | jq -r '.[].id' | sort -n; }

# prog_stats BEFORE NAMES: "name run_time_ns run_cnt" for the programs
# loaded since the id list BEFORE was taken whose names match the regex
# NAMES (others may load BPF programs on this machine meanwhile).
prog_stats() {
	local new
	new=$(prog_ids | comm -13 "$1" - | paste -sd, -)
	bpftool prog show -j | jq -r --arg ids "$new" --arg re "$2" '
		($ids | split(",") | map(tonumber? // empty)) as $new |
		.[] | select(.id as $i | $new | index($i) != null) |
		select(.name | test($re)) |
		"\(.name) \(.run_time_ns // 0) \(.run_cnt // 0)"'
}

# measure MODE NAMES OUT: load MODE, run fio once, save the stats of its
# programs (names matching NAMES).
measure() {
	prog_ids >"$TMP/ids.before"
	start_tracer "$1"
	fio_iops >/dev/null
	prog_stats "$TMP/ids.before" "$2" >"$3"
	stop_tracer
}

declare -A IOPS
MODES="none tapestry bpftrace"
echo "b_tracer: fio 4 KiB randread QD32 io_uring on $LOOP (tmpfs), ${RUNTIME}s x $ROUNDS rounds"
sysctl -q kernel.bpf_stats_enabled=0
for r in $(seq "$ROUNDS"); do
	# Rotate the order each round so no mode always runs first.
	order=$(echo $MODES | tr ' ' '\n' | awk -v r=$r '{ a[NR] = $0 }
		END { for (i = 0; i < NR; i++) print a[(i + r - 1) % NR + 1] }')
	for m in $order; do
		start_tracer $m
		v=$(fio_iops)
		stop_tracer
		IOPS[$m]="${IOPS[$m]:-} $v"
		echo "  round $r  $m: $v IOPS"
	done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 }
	END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

# Per-program cost, with the kernel's BPF run-time statistics on.
sysctl -q kernel.bpf_stats_enabled=1
measure tapestry '^blk_(insert|issue|complete)_' "$TMP/ours"
measure bpftrace '^block_rq_' "$TMP/bt"
measure floor '^floor_' "$TMP/floor"
sysctl -q kernel.bpf_stats_enabled="$STATS_WAS"

# nsrun FILE: per-program "name ns/run runs" lines.
nsrun() { awk '{ printf "%s %.1f %d\n", $1, $3 ? $2 / $3 : 0, $3 }' "$1"; }
nsrun "$TMP/ours" >"$TMP/ours.ns"
nsrun "$TMP/bt" >"$TMP/bt.ns"
nsrun "$TMP/floor" >"$TMP/floor.ns"
# per_io FILE: all programs' run time over the number of I/Os (the most
# frequent program's run count: one run per completion).
per_io() { awk '{ t += $2; if ($3 > n) n = $3 } END { printf "%.1f", n ? t / n : 0 }' "$1"; }

none=$(echo "${IOPS[none]}" | median)
tap=$(echo "${IOPS[tapestry]}" | median)
bt=$(echo "${IOPS[bpftrace]}" | median)
loss() { awk -v a="$none" -v b="$1" 'BEGIN { printf "%.1f", (a - b) * 100 / a }'; }
ours_io=$(per_io "$TMP/ours")
bt_io=$(per_io "$TMP/bt")
floor_io=$(per_io "$TMP/floor")
net=$(awk -v a="$ours_io" -v f="$floor_io" 'BEGIN { printf "%.1f", a - f }')
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)

mkdir -p "$OUT"
{
	echo "# Block tracer overhead"
	echo
	echo "Measured $when on $(uname -r), $(nproc) CPUs, load average" \
	     "$(cut -d' ' -f1-3 /proc/loadavg) at the end."
	echo "fio 4 KiB random reads, QD32, io_uring, O_DIRECT, loop device on" \
	     "tmpfs, ${RUNTIME} s per run, $ROUNDS rounds, modes interleaved;" \
	     "median IOPS."
	echo
	echo "| mode | IOPS (median) | runs | IOPS lost vs none |"
	echo "|------|--------------:|------|------------------:|"
	echo "| none | $none | ${IOPS[none]# } | - |"
	echo "| tapestry (tapestryd run) | $tap | ${IOPS[tapestry]# } | $(loss "$tap")% |"
	echo "| bpftrace biolatency | $bt | ${IOPS[bpftrace]# } | $(loss "$bt")% |"
	echo
	spread=$(echo "${IOPS[none]}" | tr ' ' '\n' | grep . | sort -n |
		awk -v m="$none" '{ a[NR] = $1 } END { printf "%.0f", (a[NR] - a[1]) * 100 / m }')
	if [ "$spread" -gt 10 ]; then
		echo "**Not quiet enough:** the no-tracer runs alone spread over" \
		     "${spread}% of their median, so these IOPS cannot resolve a" \
		     "3% difference.  Re-run on a quiet machine; the per-I/O" \
		     "costs below depend much less on it."
		echo
	fi
	echo "Cost per I/O with kernel.bpf_stats_enabled=1: all of a tracer's" \
	     "programs' run_time_ns over the I/Os completed."
	echo
	echo "| tracer | ns per I/O, summed over its programs |"
	echo "|--------|-------------------------------------:|"
	echo "| tapestry | **$ours_io** |"
	echo "| bpftrace biolatency | $bt_io |"
	echo "| empty programs on the same tracepoints (floor) | $floor_io |"
	echo "| tapestry above the floor | $net |"
	echo
	echo "Per program (run_time_ns / run_cnt):"
	echo
	echo "| program | ns/run | runs |"
	echo "|---------|-------:|-----:|"
	awk '{ printf "| tapestry %s | %s | %s |\n", $1, $2, $3 }' "$TMP/ours.ns"
	awk '{ printf "| bpftrace %s | %s | %s |\n", $1, $2, $3 }' "$TMP/bt.ns"
	awk '{ printf "| empty %s | %s | %s |\n", $1, $2, $3 }' "$TMP/floor.ns"
	echo
	echo "The floor is what bpf_stats reports for a program that does" \
	     "nothing: the program call and the stats' own two clock reads." \
	     "Targets: <= 60 ns per event summed over the programs, <= 3%" \
	     "IOPS lost, cheaper than bpftrace."
} >"$OUT/tracer.md"

progs_json() { awk '{ printf "%s{\"name\":\"%s\",\"ns_per_run\":%s,\"runs\":%s}", n++ ? "," : "", $1, $2, $3 }' "$1"; }
cat >"$OUT/tracer.json" <<EOF
{"measured":"$when","kernel":"$(uname -r)","cpus":$(nproc),
 "workload":{"fio":"randread 4k qd32 io_uring direct","device":"loop on tmpfs","runtime_s":$RUNTIME,"rounds":$ROUNDS},
 "iops":{"none":$none,"tapestry":$tap,"bpftrace":$bt},
 "iops_runs":{"none":[$(echo ${IOPS[none]} | tr ' ' ',')],"tapestry":[$(echo ${IOPS[tapestry]} | tr ' ' ',')],"bpftrace":[$(echo ${IOPS[bpftrace]} | tr ' ' ',')]},
 "iops_lost_pct":{"tapestry":$(loss "$tap"),"bpftrace":$(loss "$bt")},
 "iops_none_spread_pct":$spread,
 "ns_per_io":{"tapestry":$ours_io,"bpftrace":$bt_io,"floor":$floor_io,"tapestry_above_floor":$net},
 "programs":{"tapestry":[$(progs_json "$TMP/ours.ns")],"bpftrace":[$(progs_json "$TMP/bt.ns")],"floor":[$(progs_json "$TMP/floor.ns")]}}
EOF
jq . "$OUT/tracer.json" >/dev/null || die "wrote bad JSON"
cat "$OUT/tracer.md"
