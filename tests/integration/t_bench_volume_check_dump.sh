#!/bin/bash
# timeout: 30
#
# `tapestry bench-volume --check-log LOG --dump FILE`: the one read-back
# both checks the volume and copies it into FILE (FILE used to be left
# all zeroes, sized like the volume, with exit status 0).  One local
# replica; the dump must equal its image.
set -u
BUILD=${BUILD:-build}
TAPESTRY=$BUILD/bin/tapestry
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$TAPESTRY" ] || fail "$TAPESTRY not built"
TMP=$(mktemp -d /tmp/tapestry-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

vol=(--name v --size 4M --state-dir "$TMP/st" --local "z0=$TMP/img"
     --zone-registry none)
"$TAPESTRY" bench-volume "${vol[@]}" --create --rw randwrite --bytes 2M \
	--verify --log "$TMP/log" > "$TMP/w.out" 2>&1 ||
	{ cat "$TMP/w.out"; fail "could not write the volume"; }
"$TAPESTRY" bench-volume "${vol[@]}" --check-log "$TMP/log" \
	--dump "$TMP/dump" > "$TMP/out" 2>&1 ||
	{ cat "$TMP/out"; fail "check with --dump failed"; }
grep -q "^check: 0 bad blocks" "$TMP/out" || { cat "$TMP/out"; fail "no check"; }
cmp "$TMP/dump" "$TMP/img" || fail "the dump differs from the volume"
cmp -s "$TMP/dump" <(head -c 4M /dev/zero) && fail "the dump is all zeroes"
echo "PASS"
