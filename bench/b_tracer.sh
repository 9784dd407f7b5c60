#!/bin/bash
# The tracers' overhead (issue 2's benchmark, and the zone tracer's cost).
#
# Workload: fio, 4 KiB random reads, queue depth 32, io_uring, O_DIRECT, on a
# loop device over a file on a private tmpfs: the cheapest I/O the block
# layer can do, so a tracer's cost shows as clearly as it ever will.
#
# 1. IOPS in three modes, interleaved and repeated (ROUNDS) so that the
#    noise of a shared machine falls on all of them alike; median per mode:
#      none       no tracer
#      tapestry   `tapestryd run --no-zones`: the block tracer, pinned
#      bpftrace   the biolatency one-liner below
# 2. Cost per event, with kernel.bpf_stats_enabled=1: each program's
#    run_time_ns / run_cnt, in ROUNDS more interleaved rounds of the same
#    workload, now with these modes:
#      tapestry   `tapestryd run` (both tracers: the zone tracer's programs
#                 see fio's SQEs, none of them Tapestry's)
#      bpftrace   as above
#      floor      empty programs on the same tracepoints (bench_floor):
#                 what any program there costs, the stats' clock reads
#                 included
#    The headline is per I/O: all of a tracer's block programs' run time
#    over the I/Os completed, which weighs each program by how often it
#    runs (block_rq_insert fires for few requests on a disk without a
#    scheduler, and those few runs are cold and slow).  "Above the floor"
#    is tapestry minus floor within each round, then the median.
# 3. The zone tracer per replica request: zt_load (the engine's stand-in)
#    drives ZT_REQUESTS tagged requests in a local and a remote zone, with
#    `tapestryd run` or with the floor programs, ROUNDS interleaved rounds;
#    the programs' run time over the requests.
#
# Results: bench/results/tracer.md and tracer.json, medians with [min..max]
# over the rounds.  On a busy machine use more, shorter rounds (ROUNDS=12
# RUNTIME=2).  Targets (issue 2): at most 60 ns per event summed over the
# block programs, at most 3% IOPS lost, and cheaper than bpftrace.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-5}
RUNTIME=${RUNTIME:-5}
ZT_REQUESTS=${ZT_REQUESTS:-20000}
OUT=bench/results
TAPESTRYD=$BUILD/bin/tapestryd
FLOOR=$BUILD/bin/bench_floor
ZT_LOAD=$BUILD/bin/zt_load

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
[ -x "$TAPESTRYD" ] && [ -x "$FLOOR" ] && [ -x "$ZT_LOAD" ] ||
	die "build first (make)"

TMP=$(mktemp -d /tmp/b_tracer.XXXXXX)
PIN_ROOT=/sys/fs/bpf/b_tracer-$$
ZT_PINS=/sys/fs/bpf/b_tracer-zt-$$
LOOP=
BG=
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	[ -n "$BG" ] && kill "$BG" 2>/dev/null && wait "$BG" 2>/dev/null
	sysctl -q kernel.bpf_stats_enabled="$STATS_WAS"
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	mountpoint -q "$TMP/fs" && umount "$TMP/fs"
	rm -rf "$TMP" "$PIN_ROOT" "$ZT_PINS"
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

# wait_for FILE PATTERN TENTHS: until FILE has PATTERN or BG is gone.
wait_for() {
	for _ in $(seq "$3"); do
		grep -q "$2" "$1" && return 0
		kill -0 "$BG" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "$2" "$1"
}

# start_tracer MODE: in the background; BG is its pid.
start_tracer() {
	case $1 in
	none) BG= ;;
	tapestry|tapestry-zones)
		"$TAPESTRYD" run --pin-root "$PIN_ROOT" \
			$([ "$1" = tapestry ] && echo --no-zones) \
			2>"$TMP/tapestryd.log" &
		BG=$!
		wait_for "$TMP/tapestryd.log" "running; maps pinned" 300 ||
			die "tapestryd did not start in 30 s: $(cat "$TMP/tapestryd.log")"
		;;
	bpftrace)
		bpftrace -e "$BIOLATENCY" >"$TMP/bpftrace.out" 2>&1 &
		BG=$!
		wait_for "$TMP/bpftrace.out" Attaching 100 ||
			die "bpftrace did not start: $(cat "$TMP/bpftrace.out")"
		sleep 0.5	# "Attaching" comes before the probes are live
		;;
	floor)
		"$FLOOR" >"$TMP/floor.out" &
		BG=$!
		wait_for "$TMP/floor.out" ready 100 || die "bench_floor failed"
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

# prog_stats BEFORE: "name run_time_ns run_cnt" for the tracer programs
# loaded since the id list BEFORE was taken (others may load BPF programs
# on this machine meanwhile).
prog_stats() {
	local new
	new=$(prog_ids | comm -13 "$1" - | paste -sd, -)
	bpftool prog show -j | jq -r --arg ids "$new" '
		($ids | split(",") | map(tonumber? // empty)) as $new |
		.[] | select(.id as $i | $new | index($i) != null) |
		select(.name | test("^(blk_|zt_|block_rq_|floor_)")) |
		"\(.name) \(.run_time_ns // 0) \(.run_cnt // 0)"'
}

# rotate R WORDS...: WORDS, starting at the R-th (so no mode always runs
# first).
rotate() {
	local r=$1
	shift
	echo "$@" | tr ' ' '\n' | awk -v r="$r" '{ a[NR] = $0 }
		END { for (i = 0; i < NR; i++) print a[(i + r - 1) % NR + 1] }'
}

echo "b_tracer: fio 4 KiB randread QD32 io_uring on $LOOP (tmpfs), ${RUNTIME}s x $ROUNDS rounds"

# 1. IOPS, stats off.
declare -A IOPS
sysctl -q kernel.bpf_stats_enabled=0
for r in $(seq "$ROUNDS"); do
	for m in $(rotate "$r" none tapestry bpftrace); do
		start_tracer "$m"
		v=$(fio_iops)
		stop_tracer
		IOPS[$m]="${IOPS[$m]:-} $v"
		echo "  round $r  $m: $v IOPS"
	done
done

# 2. Per-program cost.  STATS lines: "mode round name run_time_ns run_cnt".
STATS=$TMP/stats
: >"$STATS"
sysctl -q kernel.bpf_stats_enabled=1
for r in $(seq "$ROUNDS"); do
	for m in $(rotate "$r" tapestry-zones bpftrace floor); do
		prog_ids >"$TMP/ids.before"
		start_tracer "$m"
		fio_iops >/dev/null
		prog_stats "$TMP/ids.before" | sed "s/^/$m $r /" >>"$STATS"
		stop_tracer
		echo "  round $r  $m: bpf_stats taken"
	done
done

# 3. The zone tracer per replica request.  ZT lines: "mode round
# run_time_ns_total".
ZT=$TMP/zt
: >"$ZT"
mkdir -p "$TMP/fs/zt"
for r in $(seq "$ROUNDS"); do
	for m in $(rotate "$r" tapestry-zones floor); do
		prog_ids >"$TMP/ids.before"
		start_tracer "$m"
		pins=$PIN_ROOT
		[ "$m" = floor ] && pins=$ZT_PINS
		"$ZT_LOAD" --pin-root "$pins" --zone zl:0 --zone zr:20 \
			--requests $((ZT_REQUESTS / 2)) --depth 32 \
			--file "$TMP/fs/zt/data" >"$TMP/zt_load.json" ||
			die "zt_load failed"
		prog_stats "$TMP/ids.before" |
			awk -v m="$m" -v r="$r" '$1 ~ /^(zt_submit|zt_complete|floor_uring)/ { t += $2 }
				END { print m, r, t + 0 }' >>"$ZT"
		stop_tracer
		rm -rf "$ZT_PINS"
		echo "  round $r  $m: zt_load done"
	done
done
sysctl -q kernel.bpf_stats_enabled="$STATS_WAS"

# med3: numbers on stdin -> "median min max" (0 0 0 for none).
med3() {
	sort -g | awk '{ a[NR] = $1 }
		END { if (!NR) { print "0 0 0"; exit }
		      m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		      printf "%.1f %.1f %.1f\n", m, a[1], a[NR] }'
}
# per_io MODE NAMES: per round, the block programs' run time (names
# matching NAMES) over the I/Os (the most frequent program's run count).
per_io() {
	awk -v m="$1" -v re="$2" '$1 == m && $3 ~ re {
			t[$2] += $4; if ($5 > n[$2]) n[$2] = $5 }
		END { for (r in t) if (n[r]) printf "%s %.1f\n", r, t[r] / n[r] }' \
		"$STATS" | sort
}
# ns_run MODE NAME: per round, NAME's run_time_ns / run_cnt.
ns_run() {
	awk -v m="$1" -v p="$2" '$1 == m && $3 == p && $5 {
		printf "%s %.1f\n", $2, $4 / $5 }' "$STATS" | sort
}
# runs MODE NAME: median run count of NAME.
runs() {
	awk -v m="$1" -v p="$2" '$1 == m && $3 == p { print $5 }' "$STATS" |
		med3 | cut -d' ' -f1 | cut -d. -f1
}
# minus A B: per round A - B (files of "round value", sorted for join).
minus() {
	join "$1" "$2" | awk '{ printf "%.1f\n", $2 - $3 }'
}
col2() { cut -d' ' -f2 "$1"; }

BLK='^blk_(insert|issue|complete)_'
per_io tapestry-zones "$BLK" >"$TMP/io.tap"
per_io bpftrace '^block_rq_' >"$TMP/io.bt"
per_io floor '^floor_(issue|complete)$' >"$TMP/io.floor"
read -r tap_io tap_lo tap_hi < <(col2 "$TMP/io.tap" | med3)
read -r bt_io bt_lo bt_hi < <(col2 "$TMP/io.bt" | med3)
read -r fl_io fl_lo fl_hi < <(col2 "$TMP/io.floor" | med3)
read -r net net_lo net_hi < <(minus "$TMP/io.tap" "$TMP/io.floor" | med3)

# Zone tracer on fio's (foreign) SQEs, per program, and above its floor.
ns_run tapestry-zones zt_submit_btf >"$TMP/zs"
ns_run tapestry-zones zt_complete_btf >"$TMP/zc"
ns_run floor floor_uring_submit >"$TMP/fs_"
ns_run floor floor_uring_complete >"$TMP/fc"
read -r zs zs_lo zs_hi < <(col2 "$TMP/zs" | med3)
read -r zc zc_lo zc_hi < <(col2 "$TMP/zc" | med3)
read -r fs fs_lo fs_hi < <(col2 "$TMP/fs_" | med3)
read -r fc fc_lo fc_hi < <(col2 "$TMP/fc" | med3)
read -r zs_net _ _ < <(minus "$TMP/zs" "$TMP/fs_" | med3)
read -r zc_net _ _ < <(minus "$TMP/zc" "$TMP/fc" | med3)

# Per replica request.
zt_req() {
	awk -v m="$1" -v n="$ZT_REQUESTS" '$1 == m { printf "%s %.1f\n", $2, $3 / n }' \
		"$ZT" | sort
}
zt_req tapestry-zones >"$TMP/zr.tap"
zt_req floor >"$TMP/zr.floor"
read -r zr zr_lo zr_hi < <(col2 "$TMP/zr.tap" | med3)
read -r zrf zrf_lo zrf_hi < <(col2 "$TMP/zr.floor" | med3)
read -r zr_net zr_net_lo zr_net_hi < <(minus "$TMP/zr.tap" "$TMP/zr.floor" | med3)

iops_med() { echo "${IOPS[$1]}" | tr ' ' '\n' | grep . | med3 | cut -d' ' -f1 | cut -d. -f1; }
none=$(iops_med none)
tap=$(iops_med tapestry)
bt=$(iops_med bpftrace)
loss() { awk -v a="$none" -v b="$1" 'BEGIN { printf "%.1f", (a - b) * 100 / a }'; }
spread=$(echo "${IOPS[none]}" | tr ' ' '\n' | grep . | sort -n |
	awk -v m="$none" '{ a[NR] = $1 } END { printf "%.0f", (a[NR] - a[1]) * 100 / m }')
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# prog_rows MODE LABEL NAMES...: "| label name | median [min..max] | runs |"
prog_rows() {
	local m=$1 label=$2 p
	shift 2
	for p in "$@"; do
		[ -n "$(ns_run "$m" "$p")" ] || continue
		read -r a lo hi < <(ns_run "$m" "$p" | col2 /dev/stdin | med3)
		echo "| $label $p | $a [$lo..$hi] | $(runs "$m" "$p") |"
	done
}

mkdir -p "$OUT"
{
	echo "# Tracer overhead"
	echo
	echo "Measured $when on $(uname -r), $(nproc) CPUs, load average" \
	     "$(cut -d' ' -f1-3 /proc/loadavg) at the end."
	echo "fio 4 KiB random reads, QD32, io_uring, O_DIRECT, loop device on" \
	     "tmpfs, ${RUNTIME} s per run, $ROUNDS rounds, modes interleaved;" \
	     "medians, [min..max] over the rounds."
	echo
	echo "| mode | IOPS (median) | runs | IOPS lost vs none |"
	echo "|------|--------------:|------|------------------:|"
	echo "| none | $none | ${IOPS[none]# } | - |"
	echo "| tapestry (tapestryd run --no-zones) | $tap | ${IOPS[tapestry]# } | $(loss "$tap")% |"
	echo "| bpftrace biolatency | $bt | ${IOPS[bpftrace]# } | $(loss "$bt")% |"
	echo
	if [ "$spread" -gt 10 ]; then
		echo "**Not quiet enough:** the no-tracer runs alone spread over" \
		     "${spread}% of their median, so these IOPS cannot resolve a" \
		     "3% difference.  Re-run on a quiet machine; the per-I/O" \
		     "costs below depend much less on it."
		echo
	fi
	echo "## Block tracer, per I/O"
	echo
	echo "kernel.bpf_stats_enabled=1: all of a tracer's block programs'" \
	     "run_time_ns over the I/Os completed."
	echo
	echo "| tracer | ns per I/O, summed over its programs |"
	echo "|--------|-------------------------------------:|"
	echo "| tapestry | **$tap_io** [$tap_lo..$tap_hi] |"
	echo "| bpftrace biolatency | $bt_io [$bt_lo..$bt_hi] |"
	echo "| empty programs on the same tracepoints (floor) | $fl_io [$fl_lo..$fl_hi] |"
	echo "| tapestry above the floor (per round) | **$net** [$net_lo..$net_hi] |"
	echo
	echo "Per program (run_time_ns / run_cnt):"
	echo
	echo "| program | ns/run | runs |"
	echo "|---------|-------:|-----:|"
	prog_rows tapestry-zones tapestry blk_insert_btf blk_issue_btf \
		blk_complete_btf blk_insert_raw blk_issue_raw blk_complete_raw
	prog_rows bpftrace bpftrace block_rq_issue block_rq_comple
	prog_rows floor empty floor_issue floor_complete
	echo
	echo "The floor is what bpf_stats reports for a program that does" \
	     "nothing: the program call and the stats' own two clock reads." \
	     "Targets: <= 60 ns per event summed over the programs, <= 3%" \
	     "IOPS lost, cheaper than bpftrace."
	echo
	echo "## Zone tracer"
	echo
	echo "Per SQE that is not Tapestry's (fio's, in the runs above), and" \
	     "above empty programs on the same tracepoints (per round):"
	echo
	echo "| program | ns/run | floor ns/run | above the floor |"
	echo "|---------|-------:|-------------:|----------------:|"
	echo "| zt_submit_btf | $zs [$zs_lo..$zs_hi] | $fs [$fs_lo..$fs_hi] | $zs_net |"
	echo "| zt_complete_btf | $zc [$zc_lo..$zc_hi] | $fc [$fc_lo..$fc_hi] | $zc_net |"
	echo
	echo "Per replica request (zt_load: $ZT_REQUESTS tagged requests, half" \
	     "local 4 KiB writes, half remote NOP/timeout/done, QD32): the" \
	     "zone tracer's submit and complete programs' run time over the" \
	     "requests, against the empty programs."
	echo
	echo "| | ns per replica request |"
	echo "|-|-----------------------:|"
	echo "| zone tracer | **$zr** [$zr_lo..$zr_hi] |"
	echo "| empty programs (floor) | $zrf [$zrf_lo..$zrf_hi] |"
	echo "| above the floor (per round) | **$zr_net** [$zr_net_lo..$zr_net_hi] |"
} >"$OUT/tracer.md"

# JSON: numbers as the table has them.
arr() { echo "${IOPS[$1]}" | tr ' ' '\n' | grep . | paste -sd, -; }
triple() { echo "{\"median\":$1,\"min\":$2,\"max\":$3}"; }
progs_json() {
	local m=$1 p first=1
	shift
	printf '['
	for p in "$@"; do
		[ -n "$(ns_run "$m" "$p")" ] || continue
		read -r a lo hi < <(ns_run "$m" "$p" | col2 /dev/stdin | med3)
		[ $first = 1 ] || printf ','
		first=0
		printf '{"name":"%s","ns_per_run":%s,"runs":%s}' "$p" \
			"$(triple "$a" "$lo" "$hi")" "$(runs "$m" "$p")"
	done
	printf ']'
}
cat >"$OUT/tracer.json" <<EOF
{"measured":"$when","kernel":"$(uname -r)","cpus":$(nproc),
 "workload":{"fio":"randread 4k qd32 io_uring direct","device":"loop on tmpfs","runtime_s":$RUNTIME,"rounds":$ROUNDS},
 "iops":{"none":$none,"tapestry":$tap,"bpftrace":$bt},
 "iops_runs":{"none":[$(arr none)],"tapestry":[$(arr tapestry)],"bpftrace":[$(arr bpftrace)]},
 "iops_lost_pct":{"tapestry":$(loss "$tap"),"bpftrace":$(loss "$bt")},
 "iops_none_spread_pct":$spread,
 "ns_per_io":{"tapestry":$(triple $tap_io $tap_lo $tap_hi),"bpftrace":$(triple $bt_io $bt_lo $bt_hi),"floor":$(triple $fl_io $fl_lo $fl_hi),"tapestry_above_floor":$(triple $net $net_lo $net_hi)},
 "programs":{"tapestry":$(progs_json tapestry-zones blk_insert_btf blk_issue_btf blk_complete_btf blk_insert_raw blk_issue_raw blk_complete_raw),"bpftrace":$(progs_json bpftrace block_rq_issue block_rq_comple),"floor":$(progs_json floor floor_issue floor_complete)},
 "zone_tracer":{"foreign_sqe":{"submit":$(triple $zs $zs_lo $zs_hi),"complete":$(triple $zc $zc_lo $zc_hi),"floor_submit":$(triple $fs $fs_lo $fs_hi),"floor_complete":$(triple $fc $fc_lo $fc_hi),"submit_above_floor":$zs_net,"complete_above_floor":$zc_net},
  "ns_per_replica_request":{"requests":$ZT_REQUESTS,"tracer":$(triple $zr $zr_lo $zr_hi),"floor":$(triple $zrf $zrf_lo $zrf_hi),"above_floor":$(triple $zr_net $zr_net_lo $zr_net_hi)}}}
EOF
jq . "$OUT/tracer.json" >/dev/null || die "wrote bad JSON"
cat "$OUT/tracer.md"
