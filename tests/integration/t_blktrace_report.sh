#!/bin/bash
# timeout: 150
#
# Issue 2, acceptance 2: `tapestry report io --device loopX --json` over a
# fixed fio workload on a tmpfs-backed loop device (N O_DIRECT 4 KiB
# random writes, then N random reads) reports:
#   - read and write counts equal to the delta of /sys/block/loopX/stat
#     over the same window, exactly, and every completion timed;
#   - bytes = N * 4096;
#   - a total-latency p50 within one power of two of fio's own
#     completion-latency p50 for the same job.
# Once with each attach mode: tp_btf, and the raw_tp fallback.
#
# The workload is io_uring at queue depth 1, so that fio's clat and the
# tracer's total time cover nearly the same interval.  fio stamps an
# io_uring I/O's start after io_uring_enter returns (the request has been
# issued by then) and its end when it reaps the completion; the block
# layer's issue-to-complete contains the loop worker's wake-up, fio's
# clat contains fio's own wake-up.  Measured here the ratio sits at
# 0.55-0.9.  A deeper queue compares different things: at depth 32 the
# loop device on tmpfs finishes requests faster than fio reaps them, so
# most of fio's clat is spent done-but-unreaped, outside the block layer,
# and the two p50s were 3-10x apart on an idle VM.  fio runs at a
# real-time priority (it sleeps waiting for completions, so it cannot hog
# a CPU) and a p50 outside 2x is retried with a fresh workload, up to
# five times.
#
# Counts are exact, with one exception the kernel forces.  This kernel
# now and then does not run a program attached to block_rq_complete at
# all, and counts no recursion miss for it: seen on the 6.18 VM kernel
# the tests run on, where in 5 of 5 short runs (about one run in eight)
# the one or two requests missing were exactly the completions that the
# block softirq ran on the interrupt-exit path of a task outside the test
# (the VM's agent), while tracefs's own block_rq_complete event recorded
# them and /sys/block/<dev>/stat counted them; a counter bumped by the
# program's first instruction (debug build) stayed short by the same
# number.  No tracer can count an event its program never saw.  So a
# count at most SHORT_MAX under stat's, with bytes, timing and errors
# consistent with that count, retries the window like a p50 outside 2x.
# Five windows in a row that need a retry fail, as does any count over
# stat's or further short, or bytes or timing that disagree with it: a
# tracer that loses requests every time still fails.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v fio >/dev/null || skip "fio not installed"
command -v jq >/dev/null || skip "jq not installed"
command -v chrt >/dev/null || skip "chrt (util-linux) not installed"
tr_loop 64

# Random order over N distinct blocks, so fio does exactly N I/Os of each
# kind; no merging, so each is one request.
N=2048
SHORT_MAX=2
echo 2 > "/sys/block/$DEV/queue/nomerges"
fio_job() {	# rw, output file
	chrt -f 10 fio --name="$1" --filename="$LOOP" --rw="rand$1" --bs=4k \
	    --direct=1 --ioengine=io_uring --iodepth=1 --size=$((N * 4096)) \
	    --output-format=json --output="$2" >/dev/null ||
		fail "fio $1 failed"
	[ "$(jq ".jobs[0].$1.total_ios" "$2")" -eq "$N" ] ||
		fail "fio did not do $N ${1}s"
}

# One measured window.  Fails the test on a wrong count; returns 1, with
# the reason in $WHY, if a p50 is outside 2x of fio's or a count is up to
# SHORT_MAX short of stat's (see the top of the file).
attempt() {
	local mode=$1 out=$TMP/report.json err=$TMP/report.err
	local rep rc op want row got bytes timed p50 fio_p50 ok=0 short
	local r0 w0 r1 w1

	# A long interval ended by SIGINT: the report covers exactly the
	# time between the tracer attaching and the signal.
	tr_bg "$TAPESTRY" report io --device "$DEV" --json --interval 60 \
		--attach "$mode" --pin-root "$PIN_ROOT" >"$out" 2>"$err"
	rep=$TR_LAST_PID
	tr_wait_for "$err" "tracing block I/O ($mode)" 20 ||
		{ cat "$err"; fail "$mode: report io did not start"; }
	read -r r0 w0 < <(tr_stat "$DEV")
	fio_job write "$TMP/fio-write.json"
	fio_job read "$TMP/fio-read.json"
	read -r r1 w1 < <(tr_stat "$DEV")
	kill -INT "$rep"
	wait "$rep"
	rc=$?
	[ $rc -eq 0 ] || { cat "$err"; fail "$mode: report io exited $rc"; }

	for op in read write; do
		if [ $op = read ]; then want=$((r1 - r0)); else want=$((w1 - w0)); fi
		[ "$want" -eq "$N" ] ||
			fail "$mode: stat shows $want ${op}s, fio did $N"
		row=$(jq -c --arg d "$DEV" --arg op $op \
			'.devices[] | select(.device == $d and .op == $op)' "$out")
		[ -n "$row" ] || { cat "$out"; fail "$mode: no $op row"; }
		got=$(jq .count <<<"$row")
		bytes=$(jq .bytes <<<"$row")
		timed=$(jq .total.count <<<"$row")
		p50=$(jq .total.p50_us <<<"$row")
		short=$((want - got))
		[ "$short" -ge 0 ] && [ "$short" -le $SHORT_MAX ] ||
			fail "$mode: report says $got ${op}s, /sys/block/$DEV/stat says $want"
		[ "$bytes" -eq $((got * 4096)) ] ||
			fail "$mode: $op bytes $bytes for $got ${op}s of 4096"
		if [ "$short" -gt 0 ]; then
			echo "$mode: report says $got ${op}s, /sys/block/$DEV/stat" \
			     "says $want ($short short: the kernel may not have" \
			     "run the program for them); retrying"
			WHY="counts short of /sys/block/$DEV/stat"
			ok=1
		fi
		[ "$timed" -eq "$got" ] ||
			fail "$mode: only $timed of $got ${op}s timed"
		[ "$(jq .errors <<<"$row")" -eq 0 ] || fail "$mode: $op errors"
		fio_p50=$(jq ".jobs[0].$op.clat_ns.percentile[\"50.000000\"] / 1000" \
			"$TMP/fio-$op.json")
		echo "$mode $op: count $got (stat $want) bytes $bytes," \
		     "p50 $p50 us, fio clat p50 $fio_p50 us"
		awk -v a="$p50" -v b="$fio_p50" \
			'BEGIN { exit !(a > 0 && b > 0 && a <= 2 * b && b <= 2 * a) }' ||
			{ echo "$mode: $op p50 not within 2x of fio's"; ok=1;
			  WHY="p50 outside 2x of fio's"; }
	done
	[ "$(jq '.lost.start_failed + .lost.stats_failed' "$out")" -eq 0 ] ||
		fail "$mode: tracer lost samples"
	return $ok
}

for mode in tp_btf raw_tp; do
	for try in 1 2 3 4 5; do
		attempt "$mode" && break
		[ $try -lt 5 ] || fail "$mode: $WHY in 5 runs in a row"
	done
done
[ ! -e "$PIN_ROOT" ] || fail "report io pinned something under $PIN_ROOT"
echo "PASS"
