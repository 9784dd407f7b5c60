#!/bin/bash
# timeout: 30
#
# `tapestry bench-volume --log` whose log cannot take an ack record (here
# a full 4 KiB tmpfs, the write failing on an ack: at queue depth 1 the
# records alternate issue/ack and one record is there before) must exit
# 1: the log is the ground truth of the crash tests, and an ack missing
# from it makes the checker accept a replica that lost that write.
set -u
BUILD=${BUILD:-build}
TAPESTRY=$BUILD/bin/tapestry
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
[ -x "$TAPESTRY" ] || fail "$TAPESTRY not built"
[ "$(id -u)" -eq 0 ] || skip "needs root (mount)"
TMP=$(mktemp -d /tmp/tapestry-test.XXXXXX)
cleanup() {
	mountpoint -q "$TMP/small" && umount "$TMP/small"
	rm -rf "$TMP"
}
trap cleanup EXIT
mkdir "$TMP/small"
mount -t tmpfs -o size=4k tmpfs "$TMP/small" || skip "cannot mount tmpfs"
# 4096 bytes hold 128 records of 32: one here, then 63 issue/ack pairs
# and an issue, so the 128th record written, an ack, does not fit.
head -c 32 /dev/zero > "$TMP/small/log"

"$TAPESTRY" bench-volume --name v --size 1M --state-dir "$TMP/st" \
	--local "z0=$TMP/img" --create --zone-registry none --rw write \
	--bs 4k --iodepth 1 --verify --log "$TMP/small/log" \
	> "$TMP/out" 2> "$TMP/err"
rc=$?
[ "$(stat -c %s "$TMP/small/log")" -eq 4096 ] ||
	fail "the log is $(stat -c %s "$TMP/small/log") bytes, not full"
grep -q "cannot append to the log" "$TMP/err" ||
	{ cat "$TMP/err"; fail "no error about the log"; }
[ $rc -eq 1 ] || { cat "$TMP/out" "$TMP/err"; fail "exit $rc with an ack missing from the log"; }
echo "PASS"
