#!/bin/bash
# Engine benchmark (issue 3).  Two workloads, 4 KiB random writes at QD32
# and 1 MiB sequential writes at QD8, on four targets, all tmpfs-backed:
#   (a) fio, io_uring, O_DIRECT, registered buffers, on one file: the
#       ceiling;
#   (b) the engine (tapestry bench-volume) with one local replica;
#   (c) the engine with three replicas, one local and two replica servers
#       (tapestryd replica) over loopback, ack all;
#   (d) (c) under ack quorum.
# Then death to next ack (the README's "drops a stuck replica in well
# under a second"; peers take 8-90 s): ack all on three replica servers,
# zone 3 killed (the kernel resets its connection) or partitioned (its
# fault proxy swallows the traffic, the connection stays up: only the
# hard timeout, 500 ms, can tell), ENGINE_BENCH_DEATH_RUNS (default 3)
# runs of each; the time from the fault to the first ack of a write
# issued after it (tests/integration/lib/engine.sh, engine_death_ack).
# Each run lasts ENGINE_BENCH_RUNTIME seconds (default 5).  CPU time is
# measured per process with /usr/bin/time (all threads, io_uring's io-wq
# workers included) and /proc for the replica servers, and reported as
# seconds per GB written; IOPS, MB/s and p50/p99 write latency come from
# fio's and bench-volume's own reports (fio: completion latency).
# Results: bench/results/engine.md (table) and engine.json.
set -u
cd "$(dirname "$0")/.."
export TAPESTRY_ROOT=$PWD
: "${BUILD:=build}"
export BUILD
. tests/integration/lib/cluster.sh
. tests/integration/lib/engine.sh

RUNTIME=${ENGINE_BENCH_RUNTIME:-5}
SIZE=1G
OUT_MD=bench/results/engine.md
OUT_JSON=bench/results/engine.json
command -v fio > /dev/null || { echo "fio is not installed" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is not installed" >&2; exit 1; }

cluster_init
cluster_start 3 --proxy > /dev/null || { echo "cluster did not start" >&2; exit 1; }
d=$CLUSTER_DIR
results=$d/results.jsonl
: > "$results"

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# Every target is written in full once before it is measured, so that
# runs overwrite allocated tmpfs pages instead of timing page allocation.
fill_engine() {
	"$ENGINE_BV" bench-volume --zone-registry none --name "$1" \
		--size $SIZE --state-dir "$d/state" --create "${@:2}" \
		--rw write --bs 1m --iodepth 8 --bytes $SIZE \
		> /dev/null 2> "$d/fill.err" || {
		cat "$d/fill.err" >&2
		return 1
	}
}

# fio_run NAME RW BS QD
fio_run() {
	local name=$1 rw=$2 bs=$3 qd=$4
	/usr/bin/time -f "%U %S" -o "$d/time" fio --name=ceiling \
		--filename="$d/fio.img" --size=$SIZE --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --ioengine=io_uring --direct=1 --fixedbufs \
		--time_based --runtime="$RUNTIME" --output-format=json \
		> "$d/fio.json" 2> "$d/fio.err" || {
		cat "$d/fio.err" >&2
		return 1
	}
	jq -c --arg name "$name" --arg t "a" --argjson cpu \
		"$(awk '{ print $1 + $2 }' "$d/time")" '.jobs[0].write |
		{ target: $t, workload: $name, iops: .iops,
		  mb_s: (.bw_bytes / 1e6),
		  p50_us: (.clat_ns.percentile["50.000000"] / 1e3),
		  p99_us: (.clat_ns.percentile["99.000000"] / 1e3),
		  gb: (.io_bytes / 1e9), cpu_s: $cpu,
		  cpu_engine_s: $cpu, cpu_servers_s: 0 }' "$d/fio.json" \
		>> "$results"
}

# engine_run NAME TARGET VOLUME RW BS QD ARGS...
engine_run() {
	local name=$1 t=$2 vol=$3 rw=$4 bs=$5 qd=$6 s0 s1 srv
	shift 6
	s0=$(( $(ticks "$(cluster_pid 1)") + $(ticks "$(cluster_pid 2)") ))
	/usr/bin/time -f "%U %S" -o "$d/time" "$ENGINE_BV" bench-volume \
		--zone-registry none --name "$vol" --size $SIZE \
		--state-dir "$d/state" "$@" \
		--rw "$rw" --bs "$bs" --iodepth "$qd" --runtime "$RUNTIME" \
		--no-flush --json > "$d/bv.json" 2> "$d/bv.err" || {
		cat "$d/bv.err" >&2
		return 1
	}
	s1=$(( $(ticks "$(cluster_pid 1)") + $(ticks "$(cluster_pid 2)") ))
	srv=$(awk -v t=$((s1 - s0)) -v hz="$hz" 'BEGIN { print t / hz }')
	[ "$t" = b ] && srv=0
	jq -c --arg name "$name" --arg t "$t" --argjson srv "$srv" \
		--argjson cpu "$(awk '{ print $1 + $2 }' "$d/time")" '
		{ target: $t, workload: $name, iops: .iops, mb_s: .mb_s,
		  p50_us: .write_lat.p50_us, p99_us: .write_lat.p99_us,
		  gb: (.mb_s * .runtime_s / 1e3), cpu_s: ($cpu + $srv),
		  cpu_engine_s: $cpu, cpu_servers_s: $srv }' "$d/bv.json" \
		>> "$results"
}

one=(--local "z0=$d/b.img")
three=(--local "z0=$d/c.img" --replica "z1=$(cluster_server_addr 1)"
       --replica "z2=$(cluster_server_addr 2)")
fallocate -l $SIZE "$d/fio.img" || exit 1
fill_engine vb "${one[@]}" || exit 1
fill_engine vr "${three[@]}" || exit 1
for w in "randwrite-4k-qd32 randwrite 4k 32" "write-1m-qd8 write 1m 8"; do
	read -r name rw bs qd <<< "$w"
	echo "== $name"
	fio_run "$name" "$rw" "$bs" "$qd" || exit 1
	engine_run "$name" b vb "$rw" "$bs" "$qd" "${one[@]}" || exit 1
	engine_run "$name" c vr "$rw" "$bs" "$qd" "${three[@]}" --ack all ||
		exit 1
	engine_run "$name" d vr "$rw" "$bs" "$qd" "${three[@]}" --ack quorum ||
		exit 1
	grep "\"workload\":\"$name\"" "$results" | jq -c \
		'{target, iops: (.iops | floor), mb_s: (.mb_s | floor), p50_us, p99_us, cpu_s}'
done

# Death to next ack: the faults alternate, zone 3 restarted or healed
# after each.
DEATH_HARD=500
DEATH_RUNS=${ENGINE_BENCH_DEATH_RUNS:-3}
kill3() { cluster_kill 3; }
partition3() { cluster_proxy 3 blackhole on > /dev/null; }
death=$d/death.jsonl
: > "$death"
echo "== death to next ack"
for i in $(seq "$DEATH_RUNS"); do
	engine_death_ack "sigkill$i" "$(cluster_server_addr 3)" kill3 before \
		$DEATH_HARD 4
	echo "{\"fault\": \"sigkill\", \"ms\": $DEATH_MS}" >> "$death"
	cluster_restart 3 > /dev/null || exit 1
	engine_death_ack "partition$i" "$(cluster_addr 3)" partition3 after \
		$DEATH_HARD 4
	echo "{\"fault\": \"partition\", \"ms\": $DEATH_MS}" >> "$death"
	cluster_proxy 3 blackhole off > /dev/null || exit 1
done
jq -s --argjson hard $DEATH_HARD 'group_by(.fault) | map(
	{ fault: .[0].fault, hard_timeout_ms: $hard,
	  runs_ms: map(.ms), median_ms: (map(.ms) | sort | .[length / 2 | floor]),
	  max_ms: (map(.ms) | max) })' "$death" > "$d/death.json"
jq -c '.[]' "$d/death.json"

# Ratios to (a), CPU per GB, and the tables.
jq -s '
	map(. + { cpu_s_per_gb: (if .gb > 0 then .cpu_s / .gb else 0 end),
		  engine_us_per_write: (.cpu_engine_s * 1e6 / (.iops * '"$RUNTIME"')),
		  servers_us_per_write: (.cpu_servers_s * 1e6 / (.iops * '"$RUNTIME"')) })
	| group_by(.workload)
	| map((map(select(.target == "a")) | first) as $a
	      | map(. + { iops_ratio: (.iops / $a.iops) }))
	| flatten' "$results" > "$d/all.json"
jq -n --slurpfile r "$d/all.json" --arg runtime "$RUNTIME" \
	--arg kernel "$(uname -r)" --arg cpus "$(nproc)" '
	{ benchmark: "engine", runtime_s: ($runtime | tonumber),
	  kernel: $kernel, cpus: ($cpus | tonumber), results: $r[0],
	  death_to_ack: $death[0] }' --slurpfile death "$d/death.json" \
	> "$OUT_JSON"

{
	echo "# Engine benchmark"
	echo
	echo "\`bench/b_engine.sh\`, $(date -u +%Y-%m-%d), kernel $(uname -r)," \
	     "$(nproc) CPUs, ${RUNTIME} s per run, every file on tmpfs."
	echo
	echo "Targets: (a) fio io_uring O_DIRECT on one file (the ceiling);" \
	     "(b) engine, one local replica; (c) engine, one local + two" \
	     "replica servers over loopback, ack all; (d) (c) under quorum."
	echo "CPU is every process involved (engine with its io-wq workers," \
	     "replica servers), per GB written."
	echo
	echo "| workload | target | IOPS | MB/s | p50 us | p99 us | vs (a) | CPU s/GB | CPU us/write: engine | servers |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	jq -r '.[] | "| \(.workload) | (\(.target)) | \(.iops | floor) | \(.mb_s | floor) | \(.p50_us | floor) | \(.p99_us | floor) | \(.iops_ratio * 100 | floor)% | \(.cpu_s_per_gb * 100 | floor / 100) | \(.engine_us_per_write * 10 | floor / 10) | \(.servers_us_per_write * 10 | floor / 10) |"' \
		"$d/all.json"
	echo
	echo "Death to next ack, ack all, three replica servers, hard timeout" \
	     "${DEATH_HARD} ms, $DEATH_RUNS runs each (the time from zone 3's" \
	     "death to the first ack of a write issued after it; peers: 8-90 s):"
	echo
	echo "| fault | median ms | max ms | runs ms |"
	echo "|---|---:|---:|---|"
	jq -r '.[] | "| \(.fault) | \(.median_ms) | \(.max_ms) | \(.runs_ms | map(tostring) | join(", ")) |"' \
		"$d/death.json"
	echo
	cat bench/engine-notes.md
} > "$OUT_MD"
echo "results: $OUT_MD, $OUT_JSON"
