#!/bin/bash
# NBD frontend benchmark: the same workloads, through real NBD clients,
# against four servers backed by files on one tmpfs:
#   (a) Tapestry, one local replica      (tapestryd volume --local)
#   (b) nbdkit file
#   (c) qemu-nbd
#   (d) Tapestry, three replica servers on loopback, ack quorum
# Workloads: fio ioengine=nbd 4 KiB random read and random write at QD32,
# 1 MiB sequential write at QD8; nbdcopy of a 1 GiB file in and out.
# Target: (a) >= 1.0x the faster of (b) and (c), on IOPS and MB/s.
# Results: bench/results/nbd.md (table) and bench/results/nbd.json.
#
#   NBD_BENCH_RUNTIME=10   seconds per fio run
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TAPESTRYD=$PWD/$BUILD/bin/tapestryd
RUNTIME=${NBD_BENCH_RUNTIME:-10}
SIZE_MB=1024
OUT_JSON=bench/results/nbd.json
OUT_MD=bench/results/nbd.md

for t in fio nbdcopy nbdkit qemu-nbd jq; do
	command -v $t >/dev/null || { echo "b_nbd: $t missing (make deps)"; exit 1; }
done
[ -x "$TAPESTRYD" ] || { echo "b_nbd: build first (make)"; exit 1; }

D=$(mktemp -d /dev/shm/b_nbd.XXXXXX)
PIN=/sys/fs/bpf/tapestry-bench-nbd-$$	# a private zone registry
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$D" "$PIN"
}
trap cleanup EXIT

wait_uri() {
	local i
	for i in $(seq 100); do
		nbdinfo --size "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "b_nbd: server at $1 did not come up"; exit 1
}

# Three replica servers, one zone each, on free loopback ports.
start_replicas() {
	local z port
	REPLICA_ARGS=()
	for z in 1 2 3; do
		"$TAPESTRYD" replica --zone z$z --listen 127.0.0.1:0 \
			--data "$D/replica$z" --port-file "$D/port$z" \
			>"$D/replica$z.log" 2>&1 &
		PIDS+=($!)
	done
	for z in 1 2 3; do
		for _ in $(seq 100); do [ -s "$D/port$z" ] && break; sleep 0.1; done
		port=$(cat "$D/port$z" 2>/dev/null) || return 1
		REPLICA_ARGS+=(--replica "z$z=127.0.0.1:$port")
	done
}

# start_server a|b|c|d: sets URI and SPID
start_server() {
	local s=$1 sock=$D/$1.sock
	rm -f "$D/img"
	truncate -s ${SIZE_MB}M "$D/img"
	case $s in
	a)	"$TAPESTRYD" volume --name vol --size ${SIZE_MB}M \
			--local z1="$D/img" --nbd unix:"$sock" \
			--state-dir "$D/state-a" --pin-root "$PIN" >"$D/a.log" 2>&1 &
		URI="nbd+unix:///vol?socket=$sock" ;;
	b)	nbdkit --unix "$sock" --foreground file file="$D/img" \
			>"$D/b.log" 2>&1 &
		URI="nbd+unix:///?socket=$sock" ;;
	c)	qemu-nbd --socket="$sock" --format=raw --export-name=vol \
			--persistent --shared=16 --cache=writeback \
			--aio=threads "$D/img" >"$D/c.log" 2>&1 &
		URI="nbd+unix:///vol?socket=$sock" ;;
	d)	start_replicas || return 1
		"$TAPESTRYD" volume --name vol --size ${SIZE_MB}M \
			"${REPLICA_ARGS[@]}" --ack quorum --nbd unix:"$sock" \
			--state-dir "$D/state-d" --pin-root "$PIN" >"$D/d.log" 2>&1 &
		URI="nbd+unix:///vol?socket=$sock" ;;
	esac
	SPID=$!
	PIDS+=($SPID)
	wait_uri "$URI"
}

stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	rm -rf "$D"/replica* "$D"/port* "$D"/state-*
}

# fio NAME RW BS QD -> "iops mbps p99_us"
run_fio() {
	local name=$1 rw=$2 bs=$3 qd=$4 dir
	fio --name="$name" --ioengine=nbd --uri="$URI" --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --size=${SIZE_MB}M --time_based \
		--runtime="$RUNTIME" --ramp_time=1 --randrepeat=1 \
		--output-format=json --output="$D/fio.json" >/dev/null 2>&1 ||
		{ echo "0 0 0"; return; }
	case $rw in *read*) dir=read ;; *) dir=write ;; esac
	jq -r ".jobs[0].$dir | \"\(.iops) \(.bw_bytes / 1000000) \
		\((.clat_ns.percentile.\"99.000000\" // 0) / 1000)\"" "$D/fio.json"
}

# nbdcopy SRC DST -> MB/s
run_copy() {
	local t0 t1
	t0=$(date +%s%N)
	nbdcopy --flush "$1" "$2" || { echo 0; return; }
	t1=$(date +%s%N)
	echo "$SIZE_MB $t0 $t1" | awk '{ printf "%.1f", $1 * 1.048576 / (($3 - $2) / 1e9) }'
}

echo "b_nbd: making a ${SIZE_MB} MiB random source file"
head -c ${SIZE_MB}M /dev/urandom > "$D/src"

declare -A R
SERVERS="a b c d"
for s in $SERVERS; do
	echo "b_nbd: server ($s)"
	if ! start_server $s; then
		echo "b_nbd: ($s) could not start; skipped"
		stop_all
		continue
	fi
	R[$s,copy_in]=$(run_copy "$D/src" "$URI")
	R[$s,copy_out]=$(run_copy "$URI" null:)
	R[$s,randread]=$(run_fio randread randread 4k 32)
	R[$s,randwrite]=$(run_fio randwrite randwrite 4k 32)
	R[$s,seqwrite]=$(run_fio seqwrite write 1M 8)
	echo "  copy in ${R[$s,copy_in]} MB/s, out ${R[$s,copy_out]} MB/s;" \
	     "randread ${R[$s,randread]}; randwrite ${R[$s,randwrite]};" \
	     "seqwrite ${R[$s,seqwrite]} (iops MB/s p99us)"
	stop_all
done

field() { echo "${R[$1,$2]:-0 0 0}" | awk -v f="$3" '{ print $f }'; }
ratio() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN {
	m = b > c ? b : c; if (m > 0) printf "%.2f", a / m; else print "n/a" }'; }

{
	echo "{"
	echo "  \"runtime_s\": $RUNTIME, \"size_mib\": $SIZE_MB,"
	echo "  \"servers\": {\"a\": \"tapestry 1 local replica\", \"b\": \"nbdkit file\","
	echo "              \"c\": \"qemu-nbd\", \"d\": \"tapestry 3 replicas quorum\"},"
	echo "  \"results\": {"
	first=1
	for w in randread randwrite seqwrite; do
		for s in $SERVERS; do
			[ $first = 1 ] || echo ","
			first=0
			printf '    "%s_%s": {"iops": %s, "mbps": %s, "p99_us": %s}' \
				"$w" "$s" "$(field $s $w 1)" "$(field $s $w 2)" "$(field $s $w 3)"
		done
	done
	for w in copy_in copy_out; do
		for s in $SERVERS; do
			printf ',\n    "%s_%s": {"mbps": %s}' "$w" "$s" "${R[$s,$w]:-0}"
		done
	done
	echo
	echo "  },"
	echo "  \"ratios_a_vs_best_peer\": {"
	printf '    "randread_iops": %s,\n' "$(ratio "$(field a randread 1)" "$(field b randread 1)" "$(field c randread 1)")"
	printf '    "randwrite_iops": %s,\n' "$(ratio "$(field a randwrite 1)" "$(field b randwrite 1)" "$(field c randwrite 1)")"
	printf '    "seqwrite_mbps": %s,\n' "$(ratio "$(field a seqwrite 2)" "$(field b seqwrite 2)" "$(field c seqwrite 2)")"
	printf '    "copy_in_mbps": %s,\n' "$(ratio "${R[a,copy_in]:-0}" "${R[b,copy_in]:-0}" "${R[c,copy_in]:-0}")"
	printf '    "copy_out_mbps": %s\n' "$(ratio "${R[a,copy_out]:-0}" "${R[b,copy_out]:-0}" "${R[c,copy_out]:-0}")"
	echo "  }"
	echo "}"
} > "$OUT_JSON.tmp" && jq . "$OUT_JSON.tmp" > "$OUT_JSON" && rm -f "$OUT_JSON.tmp"

{
	echo "# NBD frontend benchmark"
	echo
	echo "$(date -u +%Y-%m-%d) on $(nproc) cores, $(uname -r); fio ${RUNTIME} s per run"
	echo "(after 1 s ramp), ioengine=nbd, one connection; nbdcopy of a ${SIZE_MB} MiB"
	echo "random file with --flush (its default 4 connections where the server"
	echo "allows multi-conn).  Every server's backing file is on one tmpfs."
	echo
	echo "| workload | (a) Tapestry 1 local | (b) nbdkit file | (c) qemu-nbd | (d) Tapestry 3 quorum | (a) / best of (b),(c) |"
	echo "|---|---|---|---|---|---|"
	for w in randread randwrite; do
		echo "| 4 KiB $w QD32, IOPS | $(field a $w 1 | cut -d. -f1) | $(field b $w 1 | cut -d. -f1) | $(field c $w 1 | cut -d. -f1) | $(field d $w 1 | cut -d. -f1) | $(ratio "$(field a $w 1)" "$(field b $w 1)" "$(field c $w 1)") |"
	done
	echo "| 1 MiB seq write QD8, MB/s | $(field a seqwrite 2 | cut -d. -f1) | $(field b seqwrite 2 | cut -d. -f1) | $(field c seqwrite 2 | cut -d. -f1) | $(field d seqwrite 2 | cut -d. -f1) | $(ratio "$(field a seqwrite 2)" "$(field b seqwrite 2)" "$(field c seqwrite 2)") |"
	echo "| nbdcopy in, MB/s | ${R[a,copy_in]:-0} | ${R[b,copy_in]:-0} | ${R[c,copy_in]:-0} | ${R[d,copy_in]:-0} | $(ratio "${R[a,copy_in]:-0}" "${R[b,copy_in]:-0}" "${R[c,copy_in]:-0}") |"
	echo "| nbdcopy out, MB/s | ${R[a,copy_out]:-0} | ${R[b,copy_out]:-0} | ${R[c,copy_out]:-0} | ${R[d,copy_out]:-0} | $(ratio "${R[a,copy_out]:-0}" "${R[b,copy_out]:-0}" "${R[c,copy_out]:-0}") |"
	echo
	echo "p99 completion latency (fio clat), microseconds:"
	echo
	echo "| workload | (a) | (b) | (c) | (d) |"
	echo "|---|---|---|---|---|"
	for w in randread randwrite seqwrite; do
		echo "| $w | $(field a $w 3 | cut -d. -f1) | $(field b $w 3 | cut -d. -f1) | $(field c $w 3 | cut -d. -f1) | $(field d $w 3 | cut -d. -f1) |"
	done
	echo
	echo "A 0 means that server or run did not complete (see the script's output)."
} > "$OUT_MD"
cat "$OUT_MD"
