#!/bin/bash
# timeout: 60
#
# Writes that the block layer sequences with cache flushes count once.
# On a disk with a write-back cache and no FUA (a loop device), an
# O_DSYNC write is a data request followed by an empty REQ_PREFLUSH
# write (fdatasync); the flush machinery turns the latter into a
# REQ_OP_FLUSH request of its own and ends the original, never issued,
# with a completion of 0 bytes.  A PREFLUSH/FUA data write ends twice:
# once after its data, once after its post-flush.  `report io` must
# count N writes for N O_DSYNC writes, every one timed, and the flushes
# as flushes; it counted the empty and second completions as more
# writes, untimed, as if the tracer had lost them.
# Once with each attach mode.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v jq >/dev/null || skip "jq not installed"
tr_loop 16
N=16
[ "$(cat "/sys/block/$DEV/queue/write_cache")" = "write back" ] ||
	skip "$DEV has no write-back cache: no flush sequences"

for mode in tp_btf raw_tp; do
	out=$TMP/report-$mode.json err=$TMP/report-$mode.err
	tr_bg "$TAPESTRY" report io --device "$DEV" --json --interval 60 \
		--attach "$mode" --pin-root "$PIN_ROOT" >"$out" 2>"$err"
	rep=$TR_LAST_PID
	tr_wait_for "$err" "tracing block I/O ($mode)" 20 ||
		{ cat "$err"; fail "$mode: report io did not start"; }
	# Tell the sequenced writes apart from a plain one too.
	dd if=/dev/zero of="$LOOP" bs=4k count=$N oflag=direct,dsync \
		2>/dev/null || fail "dd failed"
	dd if=/dev/zero of="$LOOP" bs=4k count=1 seek=$N oflag=direct \
		2>/dev/null || fail "dd failed"
	kill -INT "$rep"
	wait "$rep" || { cat "$err"; fail "$mode: report io failed"; }

	w=$(jq -c --arg d "$DEV" '.devices[] | select(.device == $d and
		.op == "write") | {count, bytes, untimed, timed: .total.count}' "$out")
	f=$(jq -c --arg d "$DEV" '.devices[] | select(.device == $d and
		.op == "flush") | {count, untimed}' "$out")
	echo "$mode: write $w flush $f"
	[ "$(jq .count <<<"$w")" -eq $((N + 1)) ] ||
		fail "$mode: $((N + 1)) writes counted as $(jq .count <<<"$w")"
	[ "$(jq .bytes <<<"$w")" -eq $(((N + 1) * 4096)) ] ||
		fail "$mode: write bytes $(jq .bytes <<<"$w")"
	[ "$(jq .untimed <<<"$w")" -eq 0 ] && [ "$(jq .timed <<<"$w")" -eq $((N + 1)) ] ||
		fail "$mode: writes not all timed"
	[ -n "$f" ] && [ "$(jq .count <<<"$f")" -ge $N ] ||
		fail "$mode: the flushes are not counted as flushes"
	[ "$(jq .untimed <<<"$f")" -eq 0 ] || fail "$mode: flushes untimed"
done
[ ! -e "$PIN_ROOT" ] || fail "report io pinned something under $PIN_ROOT"
echo "PASS"
