#!/bin/bash
# timeout: 30
# State files that are torn, zeroed or another volume's are refused with
# an error, never a crash (a replica's dirty map that could not be opened
# used to crash the engine as it cleaned up), and the error names the
# file and says what is wrong with it (a zeroed state record used to be
# reported as "size or block size differ"; a damaged dirty map or
# activity log only as "Invalid argument", with no file).
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
d=$CLUSTER_DIR
vol=(--name v --size 1M --state-dir "$d/state" --local "a=$d/a.img"
	--local "b=$d/b.img")
bv "${vol[@]}" --create --rw write --bs 64k > /dev/null 2>&1 ||
	fail "first run failed"
cp -a "$d/state" "$d/good"

# expect_refused WHAT PATTERN: the volume must not start, it must exit
# with an error (1), not a signal, and its error must match PATTERN.
expect_refused() {
	local rc=0
	bv "${vol[@]}" --rw read --bytes 4k > "$d/out" 2>&1 || rc=$?
	[ $rc = 0 ] && fail "$1: the volume started"
	[ $rc = 1 ] || { cat "$d/out" >&2; fail "$1: exit status $rc"; }
	grep -E "$2" "$d/out" || {
		cat "$d/out" >&2
		fail "$1: the error does not say what is wrong"
	}
	rm -rf "$d/state" && cp -a "$d/good" "$d/state"
}

size=$(stat -c %s "$d/state/v.b.dirty")
head -c "$size" /dev/zero > "$d/state/v.b.dirty"
expect_refused "zeroed dirty map" "v.b.dirty is not a map of this volume"
truncate -s 100 "$d/state/v.actlog"
expect_refused "torn activity log" "v.actlog is not a map of this volume"
head -c 40 /dev/zero > "$d/state/v.state"
expect_refused "zeroed state record" "v.state.*not a volume state record"
bv --name v --size 2M --state-dir "$d/state" --local "a=$d/c.img" --create \
	--rw read --bytes 4k > "$d/out" 2>&1 && fail "a 2 MiB volume started"
grep -E "v.state.*1048576 bytes" "$d/out" || {
	cat "$d/out" >&2
	fail "another size: the error does not say the recorded size"
}
echo "PASS: torn and foreign state files are refused with a clear error"
