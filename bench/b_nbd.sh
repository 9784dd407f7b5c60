#!/bin/bash
# NBD frontend benchmark: the same workloads, through real NBD clients,
# against four servers whose backing files are all on one tmpfs:
#   (a) Tapestry, one local replica      (tapestryd volume --local)
#   (b) nbdkit file
#   (c) qemu-nbd
#   (d) Tapestry, three replica servers on loopback, ack quorum
# Workloads: fio ioengine=nbd 4 KiB random read and random write at QD32,
# 1 MiB sequential write at QD8; nbdcopy of a 1 GiB file in and out.
# Target: (a) >= 1.0x the faster of (b) and (c), on IOPS and MB/s.
# Results: bench/results/nbd.md (table) and bench/results/nbd.json.
#
# The four servers run side by side, each on its own backing file, and
# every workload visits them in turn, round after round; each figure is
# the best of the rounds.  On a shared, noisy machine that keeps a burst
# of someone else's load from landing on one server only.
#
# A 1 GiB copy takes about half a second, so one copy's MB/s swings
# with whatever else the machine does in that half second; the copies
# are repeated (NBD_BENCH_COPIES rounds, each visiting every server, the
# order rotating) and the ratio quoted for them is the median of the
# per-round ratios (a) / best of (b),(c), with each server's CPU time per
# GiB copied, which does not depend on the machine's other load.
#
# The copies run twice: first with client and servers free to share all
# cores, then with the cores split (every server thread on CPU 0, nbdcopy
# on the rest), which measures each server on a core of its own.
#
#   NBD_BENCH_RUNTIME=8    seconds per fio run
#   NBD_BENCH_ROUNDS=2     rounds
#   NBD_BENCH_COPIES=7     rounds of copies
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TAPESTRYD=$PWD/$BUILD/bin/tapestryd
RUNTIME=${NBD_BENCH_RUNTIME:-8}
ROUNDS=${NBD_BENCH_ROUNDS:-2}
COPIES=${NBD_BENCH_COPIES:-7}
SIZE_MB=1024
SERVERS="a b c d"
OUT_JSON=bench/results/nbd.json
OUT_MD=bench/results/nbd.md

for t in fio nbdcopy nbdinfo nbdkit qemu-nbd jq; do
	command -v $t >/dev/null || { echo "b_nbd: $t missing (make deps)"; exit 1; }
done
[ -x "$TAPESTRYD" ] || { echo "b_nbd: build first (make)"; exit 1; }

. bench/lib.sh
bench_scratch b_nbd

wait_uri() {
	local i
	for i in $(seq 100); do
		nbdinfo --size "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "b_nbd: server at $1 did not come up"
	return 1
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
		SPIDS[d]="${SPIDS[d]:-} $!"
	done
	for z in 1 2 3; do
		for _ in $(seq 100); do [ -s "$D/port$z" ] && break; sleep 0.1; done
		port=$(cat "$D/port$z" 2>/dev/null) || return 1
		REPLICA_ARGS+=(--replica "z$z=127.0.0.1:$port")
	done
}

# start_server a|b|c|d, each on its own backing file; sets URI[s] and
# SPIDS[s] (the server's processes, for CPU time).
declare -A URI SPIDS
start_server() {
	local s=$1 sock=$D/$1.sock img=$D/$1.img
	truncate -s ${SIZE_MB}M "$img"
	case $s in
	a)	"$TAPESTRYD" volume --name vol --size ${SIZE_MB}M \
			--local z1="$img" --nbd unix:"$sock" \
			--state-dir "$D/state-a" --pin-root "$PIN" \
			>"$D/a.log" 2>&1 &
		URI[$s]="nbd+unix:///vol?socket=$sock" ;;
	b)	nbdkit --unix "$sock" --foreground file file="$img" \
			>"$D/b.log" 2>&1 &
		URI[$s]="nbd+unix:///?socket=$sock" ;;
	c)	qemu-nbd --socket="$sock" --format=raw --export-name=vol \
			--persistent --shared=16 --cache=writeback \
			--aio=threads "$img" >"$D/c.log" 2>&1 &
		URI[$s]="nbd+unix:///vol?socket=$sock" ;;
	d)	start_replicas || return 1
		"$TAPESTRYD" volume --name vol --size ${SIZE_MB}M \
			"${REPLICA_ARGS[@]}" --ack quorum --nbd unix:"$sock" \
			--state-dir "$D/state-d" --pin-root "$PIN" \
			>"$D/d.log" 2>&1 &
		URI[$s]="nbd+unix:///vol?socket=$sock" ;;
	esac
	PIDS+=($!)
	SPIDS[$s]="${SPIDS[$s]:-} $!"
	wait_uri "${URI[$s]}"
}

# CPU time (user + system, ms) used so far by server s's processes.
server_cpu() {
	local p t=0 tick
	tick=$(getconf CLK_TCK)
	for p in ${SPIDS[$1]}; do
		t=$((t + $(awk '{ print $14 + $15 }' /proc/$p/stat 2>/dev/null || echo 0)))
	done
	echo $((t * 1000 / tick))
}

# settle SERVER: wait until the server's processes have used no CPU for
# 200 ms (10 s at most).  Work a run leaves behind (a quorum volume's
# third replica still writing when the client has its acks) then counts
# as that server's CPU and does not slow the next server's run.
settle() {
	local a b i
	b=$(server_cpu $1)
	for ((i = 0; i < 50; i++)); do
		sleep 0.2
		a=$b
		b=$(server_cpu $1)
		[ "$a" = "$b" ] && return
	done
}

# run_fio SERVER RW BS QD -> "iops mbps p99_us cpu_us_per_io"; the last
# is the server's CPU time (all its processes) per I/O.  No ramp: the
# servers are warm from the copies.
run_fio() {
	local rw=$2 dir c0 c1
	c0=$(server_cpu $1)
	fio --name="$rw" --ioengine=nbd --uri="${URI[$1]}" --rw="$rw" \
		--bs="$3" --iodepth="$4" --size=${SIZE_MB}M --time_based \
		--runtime="$RUNTIME" --randrepeat=1 \
		--output-format=json --output="$D/fio.json" >/dev/null 2>&1 ||
		{ echo "0 0 0 0"; return; }
	settle $1
	c1=$(server_cpu $1)
	case $rw in *read*) dir=read ;; *) dir=write ;; esac
	jq -r --argjson cpu $((c1 - c0)) ".jobs[0].$dir | \"\(.iops) \
		\(.bw_bytes / 1000000) \
		\((.clat_ns.percentile.\"99.000000\" // 0) / 1000) \
		\(if .total_ios > 0 then \$cpu * 10000 / .total_ios | floor / 10
		   else 0 end)\"" \
		"$D/fio.json"
}

# run_copy SERVER SRC DST -> "MB/s cpu_s_per_GiB" (the server's CPU);
# CLIENT_PIN prefixes nbdcopy (the split rounds below).
run_copy() {
	local t0 t1 c0 c1
	c0=$(server_cpu $1)
	t0=$(date +%s%N)
	${CLIENT_PIN:-} nbdcopy --flush "$2" "$3" || { echo "0 0"; return; }
	t1=$(date +%s%N)
	settle $1
	c1=$(server_cpu $1)
	awk -v mb=$SIZE_MB -v t0="$t0" -v t1="$t1" -v cpu=$((c1 - c0)) \
		'BEGIN { printf "%.1f %.3f", mb * 1.048576 / ((t1 - t0) / 1e9),
			 cpu / 1000 / (mb / 1024) }'
}

# One round of copies in direction DIR (in|out), every server once, the
# order rotated by round number N: keeps the best of each server, and
# appends this round's (a) / best of (b),(c) to RATIOS[KEY] and each
# server's CPU per GiB to CPUS[s,KEY]; KEY is DIR, or DIR_split for the
# split rounds.
declare -A RATIOS CPUS
copy_round() {
	local dir=$1 n=$2 key=$1${3:-} s got i list=($UP)
	declare -A mb
	for ((i = 0; i < ${#list[@]}; i++)); do
		s=${list[$(( (i + n) % ${#list[@]} ))]}
		if [ "$dir" = in ]; then
			got=$(run_copy $s "$D/src" "${URI[$s]}")
		else
			got=$(run_copy $s "${URI[$s]}" null:)
		fi
		keep "$s,copy_$key" "${got%% *}"
		mb[$s]=${got%% *}
		CPUS[$s,$key]="${CPUS[$s,$key]:-} ${got##* }"
	done
	RATIOS[$key]="${RATIOS[$key]:-} $(ratio "${mb[a]:-0}" "${mb[b]:-0}" "${mb[c]:-0}")"
}

# pin_servers CPULIST: every thread of every server process onto CPULIST
# (io_uring workers included).  Fails if a thread would not move.
pin_servers() {
	local s p t
	for s in $UP; do
		for p in ${SPIDS[$s]}; do
			for t in /proc/$p/task/*; do
				taskset -c -p "$1" "${t##*/}" >/dev/null || return 1
			done
		done
	done
}

# pinned_ok CPULIST: every server thread is still allowed only CPULIST
# (one started after pin_servers might not be).
pinned_ok() {
	local s p t
	for s in $UP; do
		for p in ${SPIDS[$s]}; do
			for t in /proc/$p/task/*; do
				[ "$(awk '/^Cpus_allowed_list/ { print $2 }' \
					"$t/status")" = "$1" ] || return 1
			done
		done
	done
}
median() { tr ' ' '\n' | grep -v '^$' | grep -v null | sort -g |
	awk '{ v[NR] = $1 } END { if (!NR) print "null";
		else if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

field() { echo "${R[$1,$2]:-0 0 0 0}" | awk -v f="$3" '{ print $f }'; }
ratio() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN {
	m = b > c ? b : c; if (m > 0) printf "%.2f", a / m; else print "null" }'; }
int() { printf '%.0f' "$1"; }

# keep KEY VALUE: R[KEY] becomes VALUE if its first field is larger.
declare -A R
keep() {
	local old=${R[$1]:-}
	if [ -z "$old" ] || awk -v n="${2%% *}" -v o="${old%% *}" \
		'BEGIN { exit !(n > o) }'; then
		R[$1]=$2
	fi
}

echo "b_nbd: making a ${SIZE_MB} MiB random source file"
head -c ${SIZE_MB}M /dev/urandom > "$D/src"
UP=""
for s in $SERVERS; do
	if start_server $s; then UP="$UP $s"; else echo "b_nbd: ($s) skipped"; fi
done
echo "b_nbd: servers up:$UP; $ROUNDS rounds of ${RUNTIME} s runs"
# One unmeasured copy into each server first: the images start sparse,
# and tmpfs allocating their pages would weigh on round 1 only.
for s in $UP; do run_copy $s "$D/src" "${URI[$s]}" >/dev/null; done
for n in $(seq "$COPIES"); do
	copy_round in "$n"
	copy_round out "$n"
	echo "  copies, round $n: (a) / best peer, in:${RATIOS[in]}; out:${RATIOS[out]}"
done
# The same copies with the cores split: every server on CPU 0, nbdcopy
# on the others.  Above, client and server threads share both cores as
# the scheduler places them; here each server has one core of its own,
# as a storage daemon given a reserved core would, and the client
# cannot take it.
SPLIT=""
if [ "$(nproc)" -ge 2 ] && pin_servers 0; then
	CLIENT_PIN="taskset -c 1-$(( $(nproc) - 1 ))"
	for n in $(seq "$COPIES"); do
		copy_round in "$n" _split
		copy_round out "$n" _split
		echo "  split copies, round $n: (a) / best peer," \
		     "in:${RATIOS[in_split]}; out:${RATIOS[out_split]}"
	done
	CLIENT_PIN=""
	if pinned_ok 0; then SPLIT=1; else
		echo "b_nbd: a server thread left CPU 0; split rows dropped"
	fi
else
	echo "b_nbd: split copies skipped (one core, or taskset failed)"
fi
pin_servers "0-$(( $(nproc) - 1 ))" ||
	echo "b_nbd: could not give the servers all cores back"
for round in $(seq "$ROUNDS"); do
	for s in $UP; do keep "$s,randread" "$(run_fio $s randread 4k 32)"; done
	for s in $UP; do keep "$s,randwrite" "$(run_fio $s randwrite 4k 32)"; done
	for s in $UP; do keep "$s,seqwrite" "$(run_fio $s write 1M 8)"; done
	for s in $UP; do
		echo "  after round $round ($s): copy in ${R[$s,copy_in]} MB/s," \
		     "out ${R[$s,copy_out]}; randread ${R[$s,randread]};" \
		     "randwrite ${R[$s,randwrite]}; seqwrite ${R[$s,seqwrite]}" \
		     "(iops MB/s p99us)"
	done
done


{
	echo "{"
	echo "  \"runtime_s\": $RUNTIME, \"rounds\": $ROUNDS, \"size_mib\": $SIZE_MB,"
	echo "  \"loadavg_at_end\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
	echo "  \"servers\": {\"a\": \"tapestry 1 local replica\", \"b\": \"nbdkit file\","
	echo "              \"c\": \"qemu-nbd\", \"d\": \"tapestry 3 replicas quorum\"},"
	echo "  \"results\": {"
	first=1
	for w in randread randwrite seqwrite; do
		for s in $SERVERS; do
			[ $first = 1 ] || echo ","
			first=0
			printf '    "%s_%s": {"iops": %s, "mbps": %s, "p99_us": %s, "server_cpu_us_per_io": %s}' \
				"$w" "$s" "$(field $s $w 1)" "$(field $s $w 2)" \
				"$(field $s $w 3)" "$(field $s $w 4)"
		done
	done
	for w in copy_in copy_out ${SPLIT:+copy_in_split copy_out_split}; do
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
	printf '    "copy_out_mbps": %s,\n' "$(ratio "${R[a,copy_out]:-0}" "${R[b,copy_out]:-0}" "${R[c,copy_out]:-0}")"
	printf '    "copy_in_mbps_median_of_rounds": %s,\n' "$(echo "${RATIOS[in]:-}" | median)"
	printf '    "copy_out_mbps_median_of_rounds": %s,\n' "$(echo "${RATIOS[out]:-}" | median)"
	printf '    "copy_in_split_mbps_median_of_rounds": %s,\n' "$(echo "${RATIOS[in_split]:-}" | median)"
	printf '    "copy_out_split_mbps_median_of_rounds": %s\n' "$(echo "${RATIOS[out_split]:-}" | median)"
	echo "  },"
	echo "  \"copy_rounds\": $COPIES,"
	echo "  \"copy_ratio_rounds\": {"
	first=1
	for k in in out ${SPLIT:+in_split out_split}; do
		[ $first = 1 ] || echo ","
		first=0
		printf '    "%s": [%s]' $k "$(echo ${RATIOS[$k]:-} | tr ' ' ',')"
	done
	echo
	echo "  },"
	echo "  \"copy_server_cpu_s_per_gib_median\": {"
	first=1
	for s in $SERVERS; do
		[ $first = 1 ] || echo ","
		first=0
		printf '    "%s": {"in": %s, "out": %s, "in_split": %s, "out_split": %s}' "$s" \
			"$(echo "${CPUS[$s,in]:-}" | median)" "$(echo "${CPUS[$s,out]:-}" | median)" \
			"$(echo "${CPUS[$s,in_split]:-}" | median)" "$(echo "${CPUS[$s,out_split]:-}" | median)"
	done
	echo
	echo "  }"
	echo "}"
} > "$D/out.json" && jq . "$D/out.json" > "$OUT_JSON" ||
	{ echo "b_nbd: bad JSON"; cat "$D/out.json"; exit 1; }

row() {	# LABEL WORKLOAD FIELD
	echo "| $1 | $(int "$(field a $2 $3)") | $(int "$(field b $2 $3)") |" \
	     "$(int "$(field c $2 $3)") | $(int "$(field d $2 $3)") |" \
	     "$(ratio "$(field a $2 $3)" "$(field b $2 $3)" "$(field c $2 $3)") |"
}
copyrow() {	# LABEL KEY DIR
	echo "| $1 | ${R[a,$2]:-0} | ${R[b,$2]:-0} | ${R[c,$2]:-0} | ${R[d,$2]:-0} |" \
	     "$(ratio "${R[a,$2]:-0}" "${R[b,$2]:-0}" "${R[c,$2]:-0}");" \
	     "median of rounds **$(echo "${RATIOS[$3]:-}" | median)** |"
}
{
	echo "# NBD frontend benchmark"
	echo
	echo "\`bench/b_nbd.sh\`, $(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r);"
	echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end.  fio ${RUNTIME} s per run,"
	echo "ioengine=nbd, one connection; nbdcopy of a ${SIZE_MB} MiB"
	echo "random file with --flush (nbdcopy's defaults: up to 4 connections where"
	echo "the server allows multi-conn, no more than its threads, one per core,"
	echo "so $(nproc) here).  Every backing file is on one tmpfs.  The servers run side"
	echo "by side and each workload visits them in turn; each fio figure is the"
	echo "best of $ROUNDS rounds (its p99 from the same run), each copy figure the"
	echo "best of $COPIES rounds, and for the copies the ratio is also given as the"
	echo "median of the $COPIES per-round ratios (each pairs copies made seconds"
	echo "apart; a single half-second copy swings with the machine's other load)."
	if [ -n "$SPLIT" ]; then
		echo "The \"cores split\" rows repeat the copies with every server's"
		echo "threads on CPU 0 and nbdcopy on the other cores (\`taskset\`), so"
		echo "that each server has a core of its own and competes only with itself;"
		echo "in the other rows client and server threads share all cores."
	fi
	echo
	echo "| workload | (a) Tapestry 1 local | (b) nbdkit file | (c) qemu-nbd | (d) Tapestry 3 quorum | (a) / best of (b),(c) |"
	echo "|---|---|---|---|---|---|"
	row "4 KiB randread QD32, IOPS" randread 1
	row "4 KiB randwrite QD32, IOPS" randwrite 1
	row "1 MiB seq write QD8, MB/s" seqwrite 2
	copyrow "nbdcopy in, MB/s" copy_in in
	copyrow "nbdcopy out, MB/s" copy_out out
	if [ -n "$SPLIT" ]; then
		copyrow "nbdcopy in, cores split, MB/s" copy_in_split in_split
		copyrow "nbdcopy out, cores split, MB/s" copy_out_split out_split
	fi
	echo
	echo "p99 completion latency (fio clat), microseconds:"
	echo
	echo "| workload | (a) | (b) | (c) | (d) |"
	echo "|---|---|---|---|---|"
	for w in randread randwrite seqwrite; do
		echo "| $w | $(int "$(field a $w 3)") | $(int "$(field b $w 3)") |" \
		     "$(int "$(field c $w 3)") | $(int "$(field d $w 3)") |"
	done
	echo
	echo "Server CPU time per I/O (user + system, every process of the server,"
	echo "io_uring workers included), microseconds; less is better, and it is"
	echo "steadier than throughput when the machine is shared:"
	echo
	echo "| workload | (a) | (b) | (c) | (d) |"
	echo "|---|---|---|---|---|"
	for w in randread randwrite seqwrite; do
		echo "| $w | $(field a $w 4) | $(field b $w 4) | $(field c $w 4) | $(field d $w 4) |"
	done
	echo
	echo "Server CPU time per GiB copied (median of the rounds), seconds:"
	echo
	echo "| copy | (a) | (b) | (c) | (d) |"
	echo "|---|---|---|---|---|"
	for dir in in out ${SPLIT:+in_split out_split}; do
		echo "| nbdcopy ${dir/_split/, cores split} | $(echo "${CPUS[a,$dir]:-}" | median) |" \
		     "$(echo "${CPUS[b,$dir]:-}" | median) |" \
		     "$(echo "${CPUS[c,$dir]:-}" | median) |" \
		     "$(echo "${CPUS[d,$dir]:-}" | median) |"
	done
	echo
	echo "A 0 means that server or run did not complete (see the script's output)."
} > "$OUT_MD"
cat "$OUT_MD"
