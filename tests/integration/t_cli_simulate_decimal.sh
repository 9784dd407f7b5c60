#!/bin/bash
# timeout: 60
#
# tapestry simulate reads its counts, seed and size in decimal: a leading
# zero does not make "010" octal (8, silently a different cluster) nor
# "08" an error; a number that is not decimal is refused as bad usage.
set -euo pipefail

. "$(dirname "$0")/lib/cli.sh"
cli_init jq
cd "$dir"

"$T" simulate --zones 03 --nodes-per-zone 02 --volumes 010 --replicas 02 \
	--seed 010 --volume-size 04096 --json > a.json ||
	fail "leading zeros refused: exit $?"
"$T" simulate --zones 3 --nodes-per-zone 2 --volumes 10 --replicas 2 \
	--seed 10 --volume-size 4096 --json > b.json
jq -e '.zones == 3 and .nodes_per_zone == 2 and .volumes == 10 and
       .replicas == 2 and .seed == 10 and .total_bytes == 10 * 2 * 4096' \
	a.json > /dev/null || fail "010 is not 10: $(head -1 a.json)"
cmp -s a.json b.json || fail "'010' and '10' simulate different clusters"
"$T" simulate --zones 3 --nodes-per-zone 2 --volumes 08 --json > c.json ||
	fail "--volumes 08 refused"
jq -e '.volumes == 8' c.json > /dev/null || fail "08 is not 8"

for bad in "--volumes 0x10" "--zones 1e1" "--seed 0x1" "--volume-size 0x1000"; do
	rc=0
	# shellcheck disable=SC2086
	"$T" simulate --zones 3 --nodes-per-zone 2 --volumes 5 $bad \
		> out.txt 2> err.txt || rc=$?
	[ "$rc" = 2 ] || fail "$bad: exit $rc, expected 2"
	[ ! -s out.txt ] || fail "$bad: printed a result"
	grep -q "not a valid" err.txt || fail "$bad: unclear: $(head -1 err.txt)"
done
echo "PASS"
