#!/bin/bash
# timeout: 40
#
# --device takes a disk by a symlink to its /dev node, as udev's stable
# /dev/disk/by-id/ names are: `report io` traced by such a name reports
# the disk's I/O under its kernel name.  Such names used to be refused as
# "unknown device ...: no such block device", though the disk exists.  A
# link to a partition is refused naming the disk to use; a link to
# something that is no block device is still unknown.
. "$(dirname "$0")/lib_tracer.sh"
tr_init

command -v jq >/dev/null || skip "jq is not installed (scripts/deps.sh installs it)"
mkdir -p "$TMP/by-id"
tr_loop 16 --partscan
tr_part 2048 8192
ln -s "$LOOP" "$TMP/by-id/disk"
ln -s "../../../..${LOOP}p1" "$TMP/by-id/part"	# relative, as udev's
ln -s "$TMP/tmpfs/disk.img" "$TMP/by-id/file"

# The disk by its link: the report's rows are the disk's, by its name.
tr_bg "$TAPESTRY" report io --device "$TMP/by-id/disk" --json \
	--interval 2 --pin-root "$PIN_ROOT" >"$TMP/r.json" 2>"$TMP/r.err"
pid=$TR_LAST_PID
tr_wait_for "$TMP/r.err" "tracing block I/O" 20 ||
	{ cat "$TMP/r.err"; fail "report io --device <link> did not start"; }
dd if=/dev/zero of="$LOOP" bs=4k count=64 oflag=direct status=none ||
	fail "cannot write $LOOP"
wait "$pid" || { cat "$TMP/r.err"; fail "report io --device <link> failed"; }
cat "$TMP/r.json"
jq -e --arg d "$DEV" '[.devices[] | select(.op == "write")] |
	length == 1 and .[0].device == $d and .[0].count >= 64' \
	"$TMP/r.json" >/dev/null || fail "no writes of $DEV in the report"
jq -e --arg d "$DEV" 'all(.devices[]; .device == $d)' "$TMP/r.json" \
	>/dev/null || fail "the report has other devices than $DEV"

# A link to a partition: refused at once, naming the disk.
out=$TMP/part.out
rc=0
timeout 10 "$TAPESTRY" report io --device "$TMP/by-id/part" --count 1 \
	--interval 0.1 --pin-root "$PIN_ROOT" >"$out" 2>&1 || rc=$?
cat "$out"
[ $rc = 1 ] || fail "a link to ${DEV}p1: exit $rc, expected 1"
grep -q "is a partition of $DEV" "$out" || fail "does not name the disk"
grep -q -- "use --device $DEV\b" "$out" || fail "does not say what to use"
grep -q "tracing block I/O" "$out" && fail "started tracing"

# A link to a regular file, and a path that does not exist: unknown.
for name in "$TMP/by-id/file" "$TMP/by-id/none"; do
	rc=0
	timeout 10 "$TAPESTRY" trace slow --device "$name" --count 1 \
		--pin-root "$PIN_ROOT" >"$out" 2>&1 || rc=$?
	cat "$out"
	[ $rc = 1 ] || fail "$name: exit $rc, expected 1"
	grep -q "unknown device '$name'" "$out" || fail "$name: not unknown"
	grep -q "tracing block I/O" "$out" && fail "$name: started tracing"
done
echo "PASS"
