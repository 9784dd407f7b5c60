#!/bin/bash
# timeout: 180
#
# The placer's CLI on real files: tapestry simulate writes a cluster,
# tapestry place and tapestry plan run on it, and jq checks the outputs
# against the rules (spread, capacity, step order, moved bytes), the
# determinism of every output, and the exit codes and messages for bad
# input, impossible volumes and bad usage.
set -euo pipefail

BUILD=${BUILD:-build}
T=$PWD/$BUILD/bin/tapestry
FUZZ=$PWD/$BUILD/fuzz/fuzz_placer_json

if ! command -v jq >/dev/null; then
	echo "SKIP: jq is not installed (scripts/deps.sh installs it)"
	exit 77
fi

dir=$(mktemp -d /tmp/t_placer_cli.XXXXXX)
reader=
trap '[ -z "$reader" ] || kill $reader 2>/dev/null; rm -rf "$dir"' EXIT
cd "$dir"

fail() { echo "FAIL: $*"; exit 1; }
step() { echo "--- $*"; }

# Runs "$@", expects exit status $1 (shifted off); keeps stdout/stderr.
expect_rc() {
	local want=$1 rc=0
	shift
	"$@" > out.txt 2> err.txt || rc=$?
	[ "$rc" -eq "$want" ] || {
		cat err.txt
		fail "'$*' exited $rc, expected $want"
	}
}

step "inputs from the simulator"
"$T" simulate --zones 3 --nodes-per-zone 4 --volumes 300 --seed 7 \
	--event add-zone --save sim > sim.txt
for f in topology volumes placement topology-after plan; do
	[ -s "sim/$f.json" ] || fail "simulate --save wrote no $f.json"
done
TOPO=sim/topology.json VOLS=sim/volumes.json

# jq program: does placement $p obey zone spread and capacity on $t for $v?
cat > check.jq <<'EOF'
($t[0].nodes | map({(.name): .}) | add) as $node
| ($v[0].volumes | map({(.name): .}) | add) as $vol
| ($p[0].volumes) as $pl
| ($pl | length) == ($v[0].volumes | length)
  and all($pl[];
	(.replicas | length) == $vol[.name].replicas
	and ([.replicas[] | $node[.].labels["topology.kubernetes.io/zone"]]
	     | unique | length) == (.replicas | length)
	and all(.replicas[]; $node[.].schedulable))
  and ([$pl[] | .name as $n | .replicas[]
	| {node: ., b: $vol[$n].size_bytes}]
       | group_by(.node)
       | all(.[]; (map(.b) | add) + $node[.[0].node].used_bytes
		  <= $node[.[0].node].capacity_bytes))
EOF
check_placement() {	# topology volumes placement
	jq -e -n --slurpfile t "$1" --slurpfile v "$2" --slurpfile p "$3" \
		-f check.jq > /dev/null || fail "$3 breaks spread or capacity"
}

step "place: a valid placement, the same bytes every time"
expect_rc 0 "$T" place --topology $TOPO --volumes $VOLS --output p1.json
[ ! -s out.txt ] || fail "place --output also wrote to stdout"
check_placement $TOPO $VOLS p1.json
expect_rc 0 "$T" place --topology $TOPO --volumes $VOLS
cmp -s out.txt p1.json || fail "stdout and --output differ"
expect_rc 0 "$T" place --topology $TOPO --volumes $VOLS --output -
cmp -s out.txt p1.json || fail "--output - is not stdout"
[ ! -e ./- ] || fail "--output - wrote a file named '-'"
expect_rc 0 "$T" place --topology $TOPO --volumes $VOLS --output p1b.json
cmp -s p1.json p1b.json || fail "place is not deterministic"
# An output that is not a regular file is written in place: renaming a
# file over it replaced the device node (run as root, --output /dev/null
# left a regular file at /dev/null).  A device node and a FIFO of our own,
# and a symlink to a file: the link stays, the file behind it changes.
mknod devnull c 1 3
expect_rc 0 "$T" place --topology $TOPO --volumes $VOLS --output devnull
[ -c devnull ] || fail "--output on a device node replaced it"
mkfifo fifo
timeout 10 cat fifo > fifo.out &
reader=$!
expect_rc 0 timeout 10 "$T" plan --current p1.json --topology $TOPO \
	--volumes $VOLS --output plan-f.json --write-placement fifo
wait $reader || fail "nothing came out of the FIFO"
reader=
[ -p fifo ] || fail "--write-placement on a FIFO replaced it"
cmp -s fifo.out p1.json || fail "the FIFO did not carry the placement"
echo OLD > target.json
ln -s target.json link.json
expect_rc 0 "$T" place --topology $TOPO --volumes $VOLS --output link.json
[ -L link.json ] || fail "--output on a symlink replaced the link"
cmp -s target.json p1.json || fail "--output through a symlink: $(head -c 80 target.json)"
ls .*.tmp.* *.tmp.* 2>/dev/null && fail "a temporary file was left behind"
# The same cluster listed backwards places every volume the same way.
jq '.nodes |= reverse' $TOPO > topo-rev.json
jq '.volumes |= reverse' $VOLS > vols-rev.json
expect_rc 0 "$T" place --topology topo-rev.json --volumes vols-rev.json \
	--output p1r.json
cmp -s <(jq -S '.volumes | sort_by(.name)' p1.json) \
	<(jq -S '.volumes | sort_by(.name)' p1r.json) ||
	fail "placement depends on input order"

step "plan on the unchanged cluster: nothing to do"
expect_rc 0 "$T" plan --current p1.json --topology $TOPO --volumes $VOLS
jq -e '.moves == [] and .steps == [] and .moved_bytes == 0' out.txt \
	> /dev/null || fail "replanning an unchanged cluster moved data"
expect_rc 0 "$T" place --current p1.json --topology $TOPO --volumes $VOLS
cmp -s out.txt p1.json || fail "place --current changed a valid placement"

step "plan after adding a zone"
TOPO2=sim/topology-after.json
expect_rc 0 "$T" plan --current p1.json --topology $TOPO2 --volumes $VOLS \
	--output plan.json --write-placement p2.json
check_placement $TOPO2 $VOLS p2.json
jq -e '.moved_bytes == ([.moves[].bytes] | add)' plan.json > /dev/null ||
	fail "moved_bytes is not the sum of the moves"
# Steps per volume: adds, then at most one promote, then removes.
jq -e '[.steps | group_by(.volume)[] | map(.action)
	| (map(select(. == "add")) + map(select(. == "promote"))
	   + map(select(. == "remove"))) == .] | all' plan.json > /dev/null ||
	fail "a volume loses a replica before it gains its new one"
# Applying the steps to p1 gives p2.
jq -e -n --slurpfile a p1.json --slurpfile s plan.json --slurpfile b p2.json '
	($a[0].volumes | map({(.name): .replicas}) | add) as $start
	| reduce $s[0].steps[] as $x ($start;
		if $x.action == "add" then .[$x.volume] += [$x.node]
		elif $x.action == "remove" then .[$x.volume] -= [$x.node]
		else . end)
	| map_values(sort) == ($b[0].volumes | map({(.name): (.replicas | sort)})
				| add)' > /dev/null ||
	fail "the steps do not lead to the written placement"
# Within 5% of the least any placer must move: the new zone's even share.
jq -e -n --slurpfile p plan.json --slurpfile v $VOLS --slurpfile t $TOPO2 '
	([$v[0].volumes[] | .size_bytes * .replicas] | add) as $total
	| ($t[0].nodes | length) as $n
	| ([$t[0].nodes[] | select(.labels["topology.kubernetes.io/zone"]
				    == "zone-d")] | length) as $new
	| $p[0].moved_bytes > 0
	  and $p[0].moved_bytes <= 1.05 * $total * $new / $n' > /dev/null ||
	fail "add-zone moved more than 1.05 x the minimum"
expect_rc 0 "$T" plan --current p2.json --topology $TOPO2 --volumes $VOLS
jq -e '.steps == []' out.txt > /dev/null || fail "the new layout is not stable"

step "plan: a failed plan leaves --write-placement untouched"
# The placement names where replicas will be once the plan has run; it
# must not appear without its plan.
echo "OLD" > wp.json
expect_rc 1 "$T" plan --current p1.json --topology $TOPO2 --volumes $VOLS \
	--write-placement wp.json --output nodir/plan.json
grep -q "nodir/plan.json" err.txt || fail "no error for the plan: $(cat err.txt)"
[ "$(cat wp.json)" = "OLD" ] || fail "placement written without its plan"
rc=0
"$T" plan --current p1.json --topology $TOPO2 --volumes $VOLS \
	--write-placement wp.json >&- 2> err.txt || rc=$?
[ "$rc" -eq 1 ] || fail "plan to a closed stdout exited $rc"
[ "$(cat wp.json)" = "OLD" ] || fail "placement written without its plan"
[ -z "$(ls wp.json.tmp.* 2>/dev/null)" ] || fail "a temporary file was left"

step "plan: --write-placement - is refused, not a file named '-'"
# stdout carries the plan; a placement there too would be one stream of
# two documents, and a file named '-' is what nobody meant.
expect_rc 2 "$T" plan --current p1.json --topology $TOPO2 --volumes $VOLS \
	--output plan-x.json --write-placement -
grep -q -- "--write-placement" err.txt || fail "unclear error: $(cat err.txt)"
[ ! -e ./- ] || fail "--write-placement - wrote a file named '-'"
[ ! -e plan-x.json ] || fail "a refused plan was written"

step "plan: --output and --write-placement must differ"
# The placement would be renamed over the plan just written: exit 0 with
# the plan gone.
expect_rc 2 "$T" plan --current p1.json --topology $TOPO2 --volumes $VOLS \
	--output same.json --write-placement same.json
grep -q "same file" err.txt || fail "same file twice: $(head -1 err.txt)"
[ ! -e same.json ] || fail "a refused plan was written"

step "a slow zone: primaries move, data does not"
jq '{nodes: [.nodes[] | {name, p99_write_us: 1000}],
     zones: [{zone: "zone-a", p99_write_us: 10000},
	     {zone: "zone-b", p99_write_us: 1000},
	     {zone: "zone-c", p99_write_us: 1000}]}' $TOPO > slow.json
expect_rc 0 "$T" plan --current p1.json --topology $TOPO --volumes $VOLS \
	--stats slow.json --output plan-slow.json --write-placement p3.json
jq -e '.moved_bytes == 0 and (.steps | length) > 0
	and all(.steps[]; .action == "promote")' plan-slow.json > /dev/null ||
	fail "a latency change moved data"
jq -e '[.volumes[].replicas[0] | select(test("^zone-a-"))] == []' \
	p3.json > /dev/null || fail "a slow zone still leads volumes"

step "malformed input: file:line:column, nothing written"
echo "OLD" > keep.json
printf '{"nodes": [\n  {"name": "n1",, }\n]}\n' > bad.json
expect_rc 1 "$T" place --topology bad.json --volumes $VOLS --output keep.json
grep -q "bad.json:2:17: quoted object property name expected" err.txt ||
	fail "no line and column: $(cat err.txt)"
[ "$(cat keep.json)" = "OLD" ] || fail "a failed run touched the output"
[ -z "$(ls keep.json.tmp.* 2>/dev/null)" ] || fail "a temporary file was left"
jq '.volumes[0].size_bytes = -5' $VOLS > neg.json
expect_rc 1 "$T" place --topology $TOPO --volumes neg.json --output new.json
grep -q "neg.json: volumes\[0\].size_bytes: must not be negative (got -5)" \
	err.txt || fail "negative size: $(cat err.txt)"
[ ! -e new.json ] || fail "an output was written after bad input"
jq '.nodes[0].capcity = 1' $TOPO > unk.json
expect_rc 1 "$T" place --topology unk.json --volumes $VOLS
grep -q 'unk.json: nodes\[0\]: unknown field "capcity"' err.txt ||
	fail "unknown field: $(cat err.txt)"
[ ! -s out.txt ] || fail "stdout got output after bad input"
jq '.nodes[1].name = .nodes[0].name' $TOPO > dup.json
expect_rc 1 "$T" place --topology dup.json --volumes $VOLS
grep -q 'dup.json: nodes\[1\].name: duplicate node name' err.txt ||
	fail "duplicate name: $(cat err.txt)"

step "an impossible volume: an error for it, all others placed, exit 1"
jq '.volumes += [{name: "huge", size_bytes: 1, replicas: 16}]' $VOLS \
	> imp.json
expect_rc 1 "$T" place --topology $TOPO --volumes imp.json --output p4.json
grep -q 'volume "huge": needs 16 replicas but only 12 schedulable nodes' \
	err.txt || fail "no per-volume error: $(cat err.txt)"
grep -q "1 of 301 volumes have errors, 1 of them not placed" err.txt ||
	fail "no summary: $(cat err.txt)"
jq -e '(.volumes | length) == 300 and (.errors | length) == 1
	and .errors[0].volume == "huge"' p4.json > /dev/null ||
	fail "the placeable volumes were not all placed"

step "usage"
expect_rc 2 "$T" place --topology $TOPO --volumes $VOLS --bogus
grep -q "unknown option '--bogus'" err.txt && grep -q "^usage: tapestry place" \
	err.txt || fail "bad flag: $(cat err.txt)"
# An unknown letter in a cluster is named by its letter, not by the
# argument before the cluster.
expect_rc 2 "$T" place --topology $TOPO --volumes $VOLS -xh
grep -q "unknown option '-x'" err.txt || fail "-xh: $(head -1 err.txt)"
expect_rc 2 "$T" simulate --zones 3 -xh
grep -q "unknown option '-x'" err.txt || fail "-xh: $(head -1 err.txt)"
expect_rc 2 "$T" plan --topology $TOPO --volumes $VOLS
grep -q -- "--current is required" err.txt || fail "plan without --current"
expect_rc 2 "$T" place --volumes $VOLS --topology
grep -q "option '--topology' needs a value" err.txt ||
	fail "missing value: $(head -1 err.txt)"
expect_rc 2 "$T" simulate --zones 3 --nodes-per-zone 2 --volumes
grep -q "option '--volumes' needs a value" err.txt ||
	fail "missing value: $(head -1 err.txt)"
expect_rc 2 "$T" simulate --zones 3
expect_rc 2 "$T" simulate --zones 3 --nodes-per-zone 2 --volumes 5 \
	--event flood
# An empty file name is bad usage, said before any work: it used to run
# the placer and then fail with "tapestry: error: : No such file or
# directory" and exit 1.
for opt in --topology --volumes --stats --current --output; do
	args=(--topology $TOPO --volumes $VOLS "$opt" "")
	expect_rc 2 "$T" place "${args[@]}"
	grep -q -- "$opt needs a file name" err.txt ||
		fail "$opt '': $(head -1 err.txt)"
done
expect_rc 2 "$T" plan --current p1.json --topology $TOPO --volumes $VOLS \
	--write-placement ""
grep -q -- "--write-placement needs a file name" err.txt ||
	fail "--write-placement '': $(head -1 err.txt)"
# stdin holds one file: a second '-' would read an empty one and report
# "-:1:1: unexpected end of input" about a file that was never empty.
expect_rc 2 "$T" place --topology - --volumes - < $TOPO
grep -q "only one of the input files can be '-'" err.txt ||
	fail "two inputs from stdin: $(head -1 err.txt)"
# Every limit an option breaks is named, not only some of them.
expect_rc 2 "$T" simulate --zones 3 --nodes-per-zone 0 --volumes 5
grep -q "nodes-per-zone 1\.\.100000" err.txt ||
	fail "--nodes-per-zone 0: $(head -1 err.txt)"
expect_rc 2 "$T" simulate --zones 3 --nodes-per-zone 2 --volumes 5 \
	--volume-size 2251799813685248
grep -q "volume-size" err.txt || fail "huge --volume-size: $(head -1 err.txt)"
expect_rc 2 "$T" simulate --zones 1000 --nodes-per-zone 1001 --volumes 5
grep -q "zones x nodes-per-zone" err.txt ||
	fail "too many nodes: $(head -1 err.txt)"
# A fill so low that node capacities pass 2^62 bytes in all: refused,
# not wrapped into a cluster where nothing fits.
expect_rc 2 "$T" simulate --zones 3 --nodes-per-zone 2 --volumes 10 \
	--fill 1e-12
grep -q "node capacities would pass 2^62 bytes" err.txt ||
	fail "tiny --fill: $(head -2 out.txt err.txt)"
for c in place plan simulate; do
	expect_rc 0 "$T" $c --help
	grep -q "^usage: tapestry $c" out.txt || fail "$c --help"
done

step "simulate: JSON, deterministic"
expect_rc 0 "$T" simulate --zones 4 --nodes-per-zone 5 --volumes 400 \
	--event remove-zone --json
cp out.txt sim1.json
jq -e '.event == "remove-zone" and .after.spread_violations == 0
	and .moved_bytes == .min_bytes' sim1.json > /dev/null ||
	fail "remove-zone moved other than the lost replicas"
expect_rc 0 "$T" simulate --zones 4 --nodes-per-zone 5 --volumes 400 \
	--event remove-zone --json
cmp -s out.txt sim1.json || fail "simulate is not deterministic"

if [ -x "$FUZZ" ]; then
	step "fuzz the parsers briefly"
	mkdir corpus
	{ printf '\000'; cat $TOPO; } > corpus/t
	{ printf '\001'; cat $VOLS; } > corpus/v
	{ printf '\002'; cat slow.json; } > corpus/s
	{ printf '\003'; cat p1.json; } > corpus/p
	"$FUZZ" -runs=3000 -max_len=4096 corpus > fuzz.log 2>&1 ||
		{ tail -20 fuzz.log; fail "fuzz_placer_json found a crash"; }
fi
echo "PASS"
