#!/bin/bash
# timeout: 30
#
# The block tracer keys I/O by whole disk: the block layer issues a
# partition's requests on its disk, so `--device loopNp1` cannot be
# honoured as asked.  `tapestry trace slow` refused a partition with
# "unknown device ...: no such whole-disk block device", which reads as
# if the partition did not exist.  Now it and `report io` fail, start
# nothing, and say that it is a partition of loopN and to use --device
# loopN, for the name and its /dev path; an unknown name still says
# unknown, and the whole disk is accepted.
. "$(dirname "$0")/lib_tracer.sh"
tr_init

tr_loop 16 --partscan
tr_part 2048 30720

# expect_refused NAME CMD...: CMD fails at once, naming the partition's
# disk and the --device to use instead.
expect_refused() {
	local name=$1 out=$TMP/out
	shift
	timeout 10 "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	[ $rc -ne 0 ] && [ $rc -ne 124 ] ||
		fail "$*: accepted a partition (exit $rc)"
	grep -q "$name is a partition of $DEV" "$out" ||
		fail "$*: does not say $name is a partition of $DEV"
	grep -q -- "use --device $DEV\b" "$out" ||
		fail "$*: does not say to use --device $DEV"
	grep -q "no such" "$out" && fail "$*: says the partition does not exist"
	grep -q "tracing block I/O" "$out" && fail "$*: started tracing"
	return 0
}

for name in "${DEV}p1" "/dev/${DEV}p1"; do
	expect_refused "$name" "$TAPESTRY" trace slow --device "$name" \
		--count 1 --pin-root "$PIN_ROOT"
	expect_refused "$name" "$TAPESTRY" report io --device "$name" \
		--count 1 --interval 0.1 --pin-root "$PIN_ROOT"
done

# A name that is no device at all is still unknown.
timeout 10 "$TAPESTRY" trace slow --device "${DEV}p9" --count 1 \
	--pin-root "$PIN_ROOT" >"$TMP/none" 2>&1 && fail "accepted ${DEV}p9"
cat "$TMP/none"
grep -q "unknown device '${DEV}p9'" "$TMP/none" ||
	fail "an unknown device is not called unknown"

# The whole disk is accepted: trace slow starts, and stops at ^C.
tr_bg "$TAPESTRY" trace slow --device "$DEV" --pin-root "$PIN_ROOT" \
	>/dev/null 2>"$TMP/disk.err"
pid=$TR_LAST_PID
tr_wait_for "$TMP/disk.err" "tracing block I/O slower than" 20 ||
	{ cat "$TMP/disk.err"; fail "trace slow --device $DEV did not start"; }
kill -INT "$pid"
wait "$pid" || { cat "$TMP/disk.err"; fail "trace slow --device $DEV failed"; }
echo "PASS"
