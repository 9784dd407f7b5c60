#!/bin/bash
# make bench: run every bench/b_*.sh in turn (BENCH="a b" picks some).
# Each writes its results under bench/results/ (a .md table for people,
# a .json for machines) and prints a summary.  Benchmarks are never run by
# make check: their figures are only meaningful side by side with the peer
# measured in the same run.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export TAPESTRY_ROOT=$PWD
mkdir -p bench/results
scripts=()
if [ -n "${BENCH:-}" ]; then
	for n in $BENCH; do scripts+=("bench/b_$n.sh"); done
else
	for s in bench/b_*.sh; do [ -e "$s" ] && scripts+=("$s"); done
fi
rc=0
for s in "${scripts[@]}"; do
	echo "=== $(basename "$s" .sh)"
	bash "$s" || { echo "bench $(basename "$s") failed"; rc=1; }
done
exit $rc
