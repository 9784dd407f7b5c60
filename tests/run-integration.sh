#!/bin/bash
# Run every tests/integration/t_*.sh as its own process with a timeout.
# Each script exits 0 (pass), 77 (skip: it printed "SKIP: <reason>"), or
# anything else (fail).  TESTS="a b" runs only those scripts (names with
# or without the t_ prefix and .sh suffix).  Per-test output goes to
# $BUILD/test-logs/<name>.log and is printed in full when a test fails.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export TAPESTRY_ROOT=$PWD
logs=$BUILD/test-logs
mkdir -p "$logs"

scripts=()
if [ -n "${TESTS:-}" ]; then
	for n in $TESTS; do
		n=${n%.sh}
		scripts+=("tests/integration/t_${n#t_}.sh")
	done
else
	for s in tests/integration/t_*.sh; do
		[ -e "$s" ] && scripts+=("$s")
	done
fi

pass=0 fail=0 skip=0 failed=""
for s in "${scripts[@]}"; do
	name=$(basename "$s" .sh)
	name=${name#t_}
	# A script may raise its own limit with a "# timeout: N" line.
	limit=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$s" | head -1)
	limit=${limit:-300}
	start=$(date +%s)
	timeout -k 10 "$limit" bash "$s" > "$logs/$name.log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) pass=$((pass + 1)); printf 'PASS  %-28s %4ss\n' "$name" "$secs" ;;
	77) skip=$((skip + 1))
	    printf 'SKIP  %-28s %s\n' "$name" \
		"$(grep -m1 '^SKIP' "$logs/$name.log" || echo 'no reason given')" ;;
	*) fail=$((fail + 1)); failed="$failed $name"
	   [ $rc -eq 124 ] && why="timed out after ${limit}s" || why="exit $rc"
	   printf 'FAIL  %-28s %4ss (%s)\n' "$name" "$secs" "$why"
	   sed 's/^/    | /' "$logs/$name.log" | tail -n 80 ;;
	esac
done
echo "integration: $pass passed, $fail failed, $skip skipped${failed:+ (failed:$failed)}"
[ $fail -eq 0 ]
