#!/bin/bash
# bench/b_placer.sh: the placer at scale, and against Ceph's CRUSH.
#
# Scale: 100,000 volumes on 1,000 nodes in 5 zones (sizes log-uniform,
# 1-512 GiB): time `tapestry place`, then `tapestry plan` after a sixth
# zone is added, end to end through the JSON files, with peak memory
# (/usr/bin/time -v's maximum resident set).  Targets: <= 2 s, <= 512 MiB.
#
# Against CRUSH (crushtool --test from ceph-base), on an equivalent map:
# zones as failure domains, one host per node, one OSD per host, straw2,
# equal weights; 100,000 inputs of 3 replicas.  Both common rules:
#   one-step: chooseleaf firstn 0 type zone
#   two-step: choose firstn 0 type zone, chooseleaf firstn 1 type host
# Tapestry runs the same shape with equal-size volumes, so replicas per
# node is the load for both.  Compared: balance (max/mean replicas per
# node) and the fraction of replicas moved when a zone of 200 hosts, or a
# single host, is added (mappings before/after, diffed per input).
#
# Writes bench/results/placer.md and bench/results/placer.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$PWD/$BUILD/bin/tapestry
RES=bench/results
ZONES=5 HOSTS=200 VOLUMES=100000 REPS=3 SEED=1 RUNS=3
SIZE=$((10 << 30))

for tool in crushtool jq /usr/bin/time; do
	command -v $tool > /dev/null || {
		echo "b_placer: $tool missing (scripts/deps.sh installs it)" >&2
		exit 1
	}
done
[ -x "$T" ] || { echo "b_placer: build $T first (make)" >&2; exit 1; }
work=$(mktemp -d /tmp/b_placer.XXXXXX)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
max() { sort -g | tail -1; }

# --- scale ------------------------------------------------------------------
echo "placer: generating $VOLUMES volumes on $((ZONES * HOSTS)) nodes"
"$T" simulate --zones $ZONES --nodes-per-zone $HOSTS --volumes $VOLUMES \
	--seed $SEED --event add-zone --save "$work/s" > /dev/null
S=$work/s
timed() {	# label, command...: appends "wall_s rss_kib cpu_s" to $work/<label>
	local label=$1
	shift
	/usr/bin/time -f "%e %M %U %S" -o "$work/t" "$@" > /dev/null
	awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$work/t" > "$work/t2"
	mv "$work/t2" "$work/t"
	cat "$work/t" >> "$work/$label"
}
for ((i = 0; i < RUNS; i++)); do
	timed place "$T" place --topology $S/topology.json \
		--volumes $S/volumes.json --output $S/p.json
	timed plan "$T" plan --current $S/p.json \
		--topology $S/topology-after.json --volumes $S/volumes.json \
		--output $S/plan.json
	"$T" simulate --zones $ZONES --nodes-per-zone $HOSTS \
		--volumes $VOLUMES --seed $SEED --event add-zone --timing \
		--json > "$work/core$i.json"
done
place_s=$(cut -d' ' -f1 "$work/place" | median)
place_mib=$(cut -d' ' -f2 "$work/place" | max | awk '{printf "%.0f", $1/1024}')
plan_s=$(cut -d' ' -f1 "$work/plan" | median)
plan_mib=$(cut -d' ' -f2 "$work/plan" | max | awk '{printf "%.0f", $1/1024}')
place_cpu=$(cut -d' ' -f3 "$work/place" | median)
plan_cpu=$(cut -d' ' -f3 "$work/plan" | median)
core_place=$(jq -s 'map(.timing.place_s) | sort | .[1] * 1000 | round / 1000' \
	"$work"/core*.json)
core_plan=$(jq -s 'map(.timing.plan_s) | sort | .[1] * 1000 | round / 1000' \
	"$work"/core*.json)
scale_moved=$(jq '.moved_over_min' "$work/core0.json")

# --- Tapestry, equal-size volumes ---------------------------------------------
tap() {		# event -> simulate JSON
	"$T" simulate --zones $ZONES --nodes-per-zone $HOSTS \
		--volumes $VOLUMES --seed $SEED --volume-size $SIZE \
		--event "$1" --json
}
tap add-zone > "$work/tz.json"
tap add-node > "$work/th.json"
t_bal=$(jq '.before.replicas_max_mean' "$work/tz.json")
t_zone=$(jq '.moved_replica_fraction' "$work/tz.json")
t_host=$(jq '.moved_replica_fraction' "$work/th.json")

# --- CRUSH --------------------------------------------------------------------
# crush_map ZONES HOSTS_PER_ZONE EXTRA: EXTRA=1 adds one host to zone0.
# Existing ids never change, so before and after maps are comparable.
crush_map() {
	local Z=$1 H=$2 X=$3 n=$(($1 * $2 + $3)) z h i w
	cat <<-EOF
	tunable choose_local_tries 0
	tunable choose_local_fallback_tries 0
	tunable choose_total_tries 50
	tunable chooseleaf_descend_once 1
	tunable chooseleaf_vary_r 1
	tunable chooseleaf_stable 1
	tunable straw_calc_version 1
	tunable allowed_bucket_algs 54
	type 0 osd
	type 1 host
	type 2 zone
	type 3 root
	EOF
	for ((i = 0; i < n; i++)); do echo "device $i osd.$i"; done
	for ((i = 0; i < n; i++)); do
		printf 'host host%d {\n\tid %d\n\talg straw2\n\thash 0\n' \
			$i $((-100 - i))
		printf '\titem osd.%d weight 1.000\n}\n' $i
	done
	for ((z = 0; z < Z; z++)); do
		printf 'zone zone%d {\n\tid %d\n\talg straw2\n\thash 0\n' \
			$z $((-2 - z))
		for ((h = 0; h < H; h++)); do
			printf '\titem host%d weight 1.000\n' $((z * H + h))
		done
		if ((z == 0 && X)); then
			printf '\titem host%d weight 1.000\n' $((Z * H))
		fi
		echo "}"
	done
	printf 'root default {\n\tid -1\n\talg straw2\n\thash 0\n'
	for ((z = 0; z < Z; z++)); do
		w=$H
		((z == 0 && X)) && w=$((H + 1))
		printf '\titem zone%d weight %d.000\n' $z $w
	done
	echo "}"
	cat <<-EOF
	rule onestep {
		id 0
		type replicated
		min_size 1
		max_size 10
		step take default
		step chooseleaf firstn 0 type zone
		step emit
	}
	rule twostep {
		id 1
		type replicated
		min_size 1
		max_size 10
		step take default
		step choose firstn 0 type zone
		step chooseleaf firstn 1 type host
		step emit
	}
	EOF
}
mappings() {	# map-name rule -> $work/<map>.<rule>
	crushtool -i "$work/$1.bin" --test --rule "$2" --num-rep $REPS \
		--min-x 0 --max-x $((VOLUMES - 1)) --show-mappings \
		> "$work/$1.$2"
}
echo "placer: CRUSH mappings (crushtool --test, $VOLUMES inputs)"
crush_map $ZONES $HOSTS 0 > "$work/base.txt"
crush_map $((ZONES + 1)) $HOSTS 0 > "$work/zone.txt"
crush_map $ZONES $HOSTS 1 > "$work/host.txt"
for m in base zone host; do
	crushtool -c "$work/$m.txt" -o "$work/$m.bin"
	for r in 0 1; do mappings $m $r; done
done
# max/mean replicas per OSD over all OSDs of the map
crush_balance() {
	awk -v osds=$((ZONES * HOSTS)) '{gsub(/[][]/, "", $6);
		n = split($6, a, ","); for (i = 1; i <= n; i++) c[a[i]]++;
		t += n} END {for (o in c) if (c[o] > m) m = c[o];
		printf "%.4f", m / (t / osds)}' "$1"
}
# fraction of replicas whose OSD is new for their input
crush_moved() {
	# "CRUSH rule R x X [a,b,c]": the input X is field 5, the OSDs field 6
	awk 'FNR == NR {gsub(/[][]/, "", $6); b[$5] = "," $6 ","; next}
		{gsub(/[][]/, "", $6); n = split($6, a, ",");
		for (i = 1; i <= n; i++) {t++; if (index(b[$5], "," a[i] ",") == 0)
		m++}} END {printf "%.6f", m / t}' "$1" "$2"
}
c1_bal=$(crush_balance "$work/base.0")
c2_bal=$(crush_balance "$work/base.1")
c1_zone=$(crush_moved "$work/base.0" "$work/zone.0")
c2_zone=$(crush_moved "$work/base.1" "$work/zone.1")
c1_host=$(crush_moved "$work/base.0" "$work/host.0")
c2_host=$(crush_moved "$work/base.1" "$work/host.1")
min_zone=$(awk -v z=$ZONES 'BEGIN {printf "%.6f", 1 / (z + 1)}')
min_host=$(awk -v n=$((ZONES * HOSTS)) 'BEGIN {printf "%.6f", 1 / (n + 1)}')

# --- verdict and results ------------------------------------------------------
better() {	# tapestry crush1 crush2: 1 if strictly below both
	awk -v t="$1" -v a="$2" -v b="$3" 'BEGIN {print (t < a && t < b)}'
}
le() { awk -v a="$1" -v b="$2" 'BEGIN {print (a <= b)}'; }
ok_bal=$(better "$t_bal" "$c1_bal" "$c2_bal")
ok_zone=$(better "$t_zone" "$c1_zone" "$c2_zone")
ok_host=$(better "$t_host" "$c1_host" "$c2_host")
ok_time=$(( $(le "$place_s" 2) && $(le "$plan_s" 2) ))
ok_mem=$(( $(le "$place_mib" 512) && $(le "$plan_mib" 512) ))
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
pct() { awk -v a="$1" 'BEGIN {printf "%.3f%%", 100 * a}'; }
yes() { [ "$1" = 1 ] && echo yes || echo NO; }

mkdir -p $RES
cat > $RES/placer.json <<EOF
{"machine":"$(uname -n | sed 's/"//g'), $(nproc) cores","date":"$(date -u +%FT%TZ)",
 "scale":{"volumes":$VOLUMES,"nodes":$((ZONES * HOSTS)),"zones":$ZONES,
  "place_s":$place_s,"place_cpu_s":$place_cpu,"place_peak_mib":$place_mib,
  "plan_add_zone_s":$plan_s,"plan_add_zone_cpu_s":$plan_cpu,
  "plan_peak_mib":$plan_mib,
  "core_place_s":$core_place,"core_plan_s":$core_plan,
  "add_zone_moved_over_min":$scale_moved,"runs":$RUNS},
 "balance_max_mean":{"tapestry":$t_bal,"crush_onestep":$c1_bal,
  "crush_twostep":$c2_bal},
 "moved_add_zone":{"minimum":$min_zone,"tapestry":$t_zone,
  "crush_onestep":$c1_zone,"crush_twostep":$c2_zone},
 "moved_add_host":{"minimum":$min_host,"tapestry":$t_host,
  "crush_onestep":$c1_host,"crush_twostep":$c2_host},
 "targets_met":{"time":$ok_time,"memory":$ok_mem,"balance":$ok_bal,
  "add_zone":$ok_zone,"add_host":$ok_host}}
EOF
jq . $RES/placer.json > /dev/null

cat > $RES/placer.md <<EOF
# Placer benchmark

\`bench/b_placer.sh\`, $(date -u +%F), $(nproc) cores, load average
$(cut -d' ' -f1 /proc/loadavg) when it ended.  Times are the median of
$RUNS runs (CPU is user + system); memory is the peak resident set.

## Scale: $VOLUMES volumes, $((ZONES * HOSTS)) nodes, $ZONES zones

| | wall (CLI, JSON in and out) | CPU (CLI) | placer alone | peak memory | target |
|---|---|---|---|---|---|
| \`tapestry place\` | $place_s s | $place_cpu s | $core_place s | $place_mib MiB | <= 2 s, <= 512 MiB: $(yes $(( $(le "$place_s" 2) && $(le "$place_mib" 512) ))) |
| \`tapestry plan\` after add-zone | $plan_s s | $plan_cpu s | $core_plan s | $plan_mib MiB | <= 2 s, <= 512 MiB: $(yes $(( $(le "$plan_s" 2) && $(le "$plan_mib" 512) ))) |

Bytes moved by that plan / the least any placer must move: $scale_moved.

## Against CRUSH ($VOLUMES inputs x $REPS replicas, equal sizes, equal weights)

| | Tapestry | CRUSH one-step | CRUSH two-step | least possible |
|---|---|---|---|---|
| balance: max/mean replicas per node | $t_bal | $c1_bal | $c2_bal | 1.0000 |
| replicas moved, add a zone of $HOSTS hosts | $(pct $t_zone) | $(pct $c1_zone) | $(pct $c2_zone) | $(pct $min_zone) |
| replicas moved, add one host | $(pct $t_host) | $(pct $c1_host) | $(pct $c2_host) | $(pct $min_host) |
| add-zone moved / least possible | $(ratio $t_zone $min_zone) | $(ratio $c1_zone $min_zone) | $(ratio $c2_zone $min_zone) | 1.00 |

Tapestry better than both CRUSH rules: balance $(yes $ok_bal), add-zone
$(yes $ok_zone), add-host $(yes $ok_host).

One-step rule: \`chooseleaf firstn 0 type zone\`.  Two-step rule:
\`choose firstn 0 type zone\` then \`chooseleaf firstn 1 type host\`.  Maps:
one OSD per host, straw2 everywhere, tunables as in current Ceph
(chooseleaf_stable 1); existing bucket and device ids are kept across the
change, so only the change itself moves data.
EOF
cat $RES/placer.md
