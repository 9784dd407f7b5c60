#!/bin/bash
# timeout: 60
#
# tapestry plan refuses --output and --write-placement that name one
# file, however each is spelled ("out.json", "./out.json",
# "sub/../out.json", an absolute path): the placement, renamed last,
# would replace the plan, and the run would still exit 0.  Both
# outputs in different files still work, and a refused run writes
# nothing.  A symlink to the other output names it too.
set -euo pipefail

. "$(dirname "$0")/lib/cli.sh"
cli_init jq
cd "$dir"

"$T" simulate --zones 3 --nodes-per-zone 3 --volumes 40 --seed 3 \
	--event add-zone --save sim > /dev/null
"$T" place --topology sim/topology.json --volumes sim/volumes.json \
	--output cur.json
mkdir sub
plan() {	# --output X --write-placement Y: exit status
	local rc=0
	"$T" plan --current cur.json --topology sim/topology-after.json \
		--volumes sim/volumes.json "$@" > out.txt 2> err.txt || rc=$?
	echo $rc
}

# Two files: the plan has steps, the placement has volumes.
[ "$(plan --output p.json --write-placement w.json)" = 0 ] ||
	fail "plan with two output files failed: $(cat err.txt)"
jq -e 'has("steps")' p.json > /dev/null || fail "p.json is not a plan"
jq -e 'has("volumes") and (has("steps") | not)' w.json > /dev/null ||
	fail "w.json is not a placement"

for spelling in ./out.json sub/../out.json "$dir/out.json" \
		"$dir/sub/../out.json"; do
	rm -f out.json
	rc=$(plan --output out.json --write-placement "$spelling")
	[ "$rc" = 2 ] || fail "--output out.json --write-placement" \
		"$spelling: exit $rc, expected 2 (out.json now:" \
		"$(head -c 60 out.json 2>/dev/null))"
	grep -q "name the same file" err.txt ||
		fail "$spelling: no clear message: $(head -1 err.txt)"
	[ ! -e out.json ] || fail "$spelling: a refused run wrote out.json"
	# And the other way round.
	rc=$(plan --output "$spelling" --write-placement out.json)
	[ "$rc" = 2 ] || fail "--output $spelling --write-placement" \
		"out.json: exit $rc, expected 2"
done
ls "$dir"/*.tmp.* 2>/dev/null && fail "temporary files left behind"

# A symlink is followed to the file it names (place_io): a link to the
# other output names that file too, either way round.
echo '{}' > out.json
ln -s out.json link.json
for pair in "link.json out.json" "out.json link.json"; do
	set -- $pair
	rc=$(plan --output "$1" --write-placement "$2")
	[ "$rc" = 2 ] || fail "--output $1 --write-placement $2 (link.json" \
		"-> out.json): exit $rc, expected 2 (out.json now:" \
		"$(head -c 60 out.json 2>/dev/null))"
	grep -q "name the same file" err.txt ||
		fail "$1 $2: no clear message: $(head -1 err.txt)"
	[ "$(cat out.json)" = "{}" ] ||
		fail "$1 $2: a refused run wrote out.json"
done
rm -f link.json out.json

# Same name in different directories is two files.
[ "$(plan --output out.json --write-placement sub/out.json)" = 0 ] ||
	fail "out.json and sub/out.json refused: $(cat err.txt)"
jq -e 'has("steps")' out.json > /dev/null || fail "out.json is not a plan"
jq -e 'has("steps") | not' sub/out.json > /dev/null ||
	fail "sub/out.json is not a placement"
echo "PASS"
