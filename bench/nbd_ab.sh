#!/bin/bash
# A/B of two tapestryd builds on one NBD workload, with nbdkit as the
# yardstick, interleaved round by round on one machine (not part of
# `make bench`: a tool for judging a change to the NBD or engine path).
#
#   bench/nbd_ab.sh OLD_TAPESTRYD NEW_TAPESTRYD [ROUNDS [SECONDS [RW]]]
#
# Each server (A: old, B: new, both `tapestryd volume` with one local
# replica; K: nbdkit file) has its own 1 GiB backing file on /dev/shm,
# written through once first.  Every round runs one workload against A,
# B and K in turn (the order rotates each round, so none always goes
# first) and records its rate and the server's CPU time per I/O (user +
# system, all threads, io_uring workers included).  RW is
#   randwrite (default), randread, write, read: fio ioengine=nbd, one
#       connection, SECONDS long, 4 KiB at QD32 (BS and QD override;
#       e.g. BS=1M QD=8 RW=write is make bench's sequential write);
#   copyin, copyout: nbdcopy --flush of a 1 GiB random file into the
#       export, or out of it to null: (multi-conn, as nbdcopy chooses);
#       the rate is MB/s and an "I/O" is 1 MiB; NBDCOPY_ARGS adds
#       options (e.g. "-C 1" for one connection).
# On a shared machine single figures swing by 2x; the medians of the
# per-round ratios (B/A, A/K, B/K) are what to quote, since each pairs
# runs made seconds apart.
set -u
OLD=$1 NEW=$2 ROUNDS=${3:-10} RUNTIME=${4:-3} RW=${5:-randwrite}
BS=${BS:-4k} QD=${QD:-32}
SIZE_MB=1024
for t in fio nbdcopy nbdinfo nbdkit jq; do
	command -v $t >/dev/null || { echo "nbd_ab: $t missing"; exit 1; }
done
. "$(dirname "$0")/lib.sh"
bench_scratch nbd_ab

declare -A URI SPID IO CPU
start() {	# NAME old|new|kit
	local s=$1 img=$D/$1.img sock=$D/$1.sock bin=$OLD
	dd if=/dev/zero of="$img" bs=1M count=$SIZE_MB status=none
	case $2 in
	old|new)
		[ "$2" = new ] && bin=$NEW
		"$bin" volume --name vol --size ${SIZE_MB}M --local z1="$img" \
			--nbd unix:"$sock" --state-dir "$D/state-$s" \
			--pin-root "$PIN" >"$D/$s.log" 2>&1 &
		URI[$s]="nbd+unix:///vol?socket=$sock" ;;
	kit)
		nbdkit --unix "$sock" --foreground file file="$img" \
			>"$D/$s.log" 2>&1 &
		URI[$s]="nbd+unix:///?socket=$sock" ;;
	esac
	PIDS+=($!)
	SPID[$s]=$!
	for _ in $(seq 100); do
		nbdinfo --size "${URI[$s]}" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "nbd_ab: server $s did not start"
	cat "$D/$s.log"
	exit 1
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# nbdcopy NAME -> "MB/s cpu_us_per_MiB"
run_copy() {
	local c0 c1 t0 t1 tick src=$D/src dst=${URI[$1]}
	tick=$(getconf CLK_TCK)
	[ "$RW" = copyout ] && src=${URI[$1]} dst=null:
	c0=$(cpu_ticks "${SPID[$1]}")
	t0=$(date +%s%N)
	nbdcopy --flush ${NBDCOPY_ARGS:-} "$src" "$dst" >/dev/null 2>&1 || { echo "0 0"; return; }
	t1=$(date +%s%N)
	c1=$(cpu_ticks "${SPID[$1]}")
	awk -v mb=$SIZE_MB -v ns=$((t1 - t0)) \
		-v us=$(( (c1 - c0) * 1000000 / tick )) \
		'BEGIN { printf "%.0f %.1f\n", mb * 1.048576e9 / ns, us / mb }'
}

run() {	# NAME -> "iops cpu_us_per_io"
	local c0 c1 tick dir
	case $RW in copyin|copyout) run_copy "$1"; return ;; esac
	tick=$(getconf CLK_TCK)
	c0=$(cpu_ticks "${SPID[$1]}")
	fio --name=ab --ioengine=nbd --uri="${URI[$1]}" --rw="$RW" --bs="$BS" \
		--iodepth="$QD" --size=${SIZE_MB}M --time_based --runtime="$RUNTIME" \
		--randrepeat=1 --output-format=json --output="$D/fio.json" \
		>/dev/null 2>&1 || { echo "0 0"; return; }
	c1=$(cpu_ticks "${SPID[$1]}")
	case $RW in *read*) dir=read ;; *) dir=write ;; esac
	jq -r --argjson us $(( (c1 - c0) * 1000000 / tick )) \
		".jobs[0].$dir | \"\(.iops | floor) \
		\((\$us / .total_ios * 100 | floor) / 100)\"" "$D/fio.json"
}

med() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'
}

start A old
start B new
start K kit
case $RW in
copyin|copyout)
	head -c ${SIZE_MB}M /dev/urandom > "$D/src"
	UNIT="MB/s"
	echo "nbd_ab: A=$OLD B=$NEW K=nbdkit; nbdcopy $RW, $ROUNDS rounds" ;;
*)	UNIT=IOPS
	echo "nbd_ab: A=$OLD B=$NEW K=nbdkit; $RW $BS QD$QD, $ROUNDS x ${RUNTIME}s" ;;
esac
: > "$D/ratios"
ORDER=(A B K)
for r in $(seq "$ROUNDS"); do
	line="round $r:"
	for i in 0 1 2; do
		s=${ORDER[$(( (i + r) % 3 ))]}
		read -r IO[$s] CPU[$s] <<<"$(run $s)"
	done
	for s in A B K; do
		line="$line $s ${IO[$s]} $UNIT ${CPU[$s]} us/IO;"
	done
	echo "$line load $(cut -d' ' -f1 /proc/loadavg)"
	echo "${IO[A]} ${IO[B]} ${CPU[A]} ${CPU[B]} ${IO[K]}" >> "$D/rounds"
done
awk '$1 > 0 && $2 > 0 && $5 > 0 {
	print $2 / $1, ($3 > 0 ? $4 / $3 : 0), $1 / $5, $2 / $5 }' \
	"$D/rounds" > "$D/ratios"
col() { cut -d' ' -f"$1" "$D/ratios" | med; }
echo "median of per-round ratios: B/A $UNIT $(col 1), B/A CPU per I/O $(col 2)," \
     "A/nbdkit $UNIT $(col 3), B/nbdkit $UNIT $(col 4)"
