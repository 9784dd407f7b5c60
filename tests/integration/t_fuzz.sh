#!/bin/bash
# timeout: 240
# Run every libFuzzer target in $BUILD/fuzz/ for FUZZ_SECONDS (default 10)
# from its seed corpus (tests/fuzz/corpus/<name>/, if there is one).  New
# inputs go to a temp dir, never into the tree.  Any crash, leak, timeout
# or failed check in a harness fails the test, and the input that did it is
# printed (hex) for a reproducer.
set -u
cd "$TAPESTRY_ROOT"
secs=${FUZZ_SECONDS:-10}
shopt -s nullglob
targets=("$BUILD"/fuzz/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
	echo "SKIP: no fuzz targets built in $BUILD/fuzz (make fuzz needs clang)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
for bin in "${targets[@]}"; do
	name=${bin##*/fuzz_}
	mkdir -p "$tmp/$name/new" "$tmp/$name/art"
	seeds=()
	[ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
	echo "=== fuzz_$name for ${secs}s (seeds: ${seeds[*]:-none})"
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$tmp/$name/art/" \
		"$tmp/$name/new" "${seeds[@]}" > "$tmp/$name/log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^Done|cov:' \
			"$tmp/$name/log" | tail -n 3
	else
		rc=1
		echo "FAIL: fuzz_$name"
		tail -n 40 "$tmp/$name/log"
		for a in "$tmp/$name/art/"*; do
			echo "--- reproducer $a"
			od -A d -t x1 "$a" | head -n 40
		done
	fi
done
exit $rc
