#!/bin/bash
# timeout: 20
#
# `tapestry bench-volume --check-log LOG --image FILE...` usage errors
# exit 2 and say what is wrong: more images than it checks at once is
# named as such (not as a bad image name), and a missing --size is bad
# usage like every other missing option.  No process but the CLI.
set -u
BUILD=${BUILD:-build}
TAPESTRY=$PWD/$BUILD/bin/tapestry
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$TAPESTRY" ] || fail "$TAPESTRY not built"
TMP=$(mktemp -d /tmp/tapestry-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
: > log
truncate -s 1M img

images=()
for i in 1 2 3 4 5 6 7 8 9; do
	images+=(--image img)
done
"$TAPESTRY" bench-volume --check-log log --size 1M "${images[@]}" \
	>out 2>err
rc=$?
cat err
[ $rc -eq 2 ] || fail "9 images: exit $rc, not 2"
grep -q "at most 8 --image" err || fail "9 images: the limit is not named"
grep -q "bad --image 'img'" err && fail "9 images: blames the image name"
[ ! -s out ] || fail "9 images: output on stdout"

# Eight are fine: an empty log acks nothing, every block passes.
"$TAPESTRY" bench-volume --check-log log --size 1M "${images[@]:2}" \
	>out 2>err || { cat err; fail "8 images refused"; }
[ "$(grep -c "0 bad blocks" out)" -eq 8 ] || { cat out; fail "8 images not checked"; }

"$TAPESTRY" bench-volume --check-log log --image img >out 2>err
rc=$?
cat err
[ $rc -eq 2 ] || fail "--image without --size: exit $rc, not 2"
grep -q -- "--image needs --size" err || fail "no message for --size"
echo "PASS"
