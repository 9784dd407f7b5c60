#!/bin/bash
# timeout: 60
#
# A local replica request made of two SQEs with the same user_data ends
# at the later completion.  The engine's local flush is one: an fsync of
# the data and an fsync of the seqs, both tagged as the flush, and the
# sub is done when both are.  The zone tracer took the second submit as
# a restart and the first completion as the end, and counted the second
# completion as an end without a start: local flush latency read as the
# faster fsync's, and every local flush showed as a lost sample.
# zt_load stands in for the engine: a local zone whose requests are
# flushes (UD_OP_FLUSH, the only op whose later parts the tracer looks
# for in the submit batch) of two SQEs under one user_data, a 4 KiB write
# and a NOP 2 ms later, every 5th write failing.  `report zones` must
# count each request once, as a flush, failed if a part failed, with
# zt_load's latency (p50 not under 80% of zt_load's, whose interval holds
# the tracer's), and report no end without a start.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v jq >/dev/null || skip "jq not installed"
ZT=$BUILD/bin/zt_load
[ -x "$ZT" ] || fail "$ZT not built"
mkdir -p "$TMP/shm"
mount -t tmpfs -o size=16m tmpfs "$TMP/shm" || fail "cannot mount tmpfs"
_tr_mounts+=("$TMP/shm")
N=100

# Zone ids are the node's (other tests tag low ones): work above 230.
pads=()
for i in $(seq 230); do pads+=(--register "pad-$i"); done
"$ZT" --pin-root "$PIN_ROOT" "${pads[@]}" >"$TMP/pads" || fail "cannot register pads"

for mode in tp_btf raw_tp; do
	rep=$TMP/rep-$mode.json own=$TMP/own-$mode.json err=$TMP/rep-$mode.err
	tr_bg "$TAPESTRY" report zones --json --interval 60 --attach $mode \
		--pin-root "$PIN_ROOT" >"$rep" 2>"$err"
	pid=$TR_LAST_PID
	tr_wait_for "$err" "tracing replica requests ($mode)" 20 ||
		{ cat "$err"; fail "$mode: report zones did not start"; }
	"$ZT" --pin-root "$PIN_ROOT" --zone zsplit:0:5:2000 \
		--file "$TMP/shm/data" --requests $N --depth 8 >"$own" ||
		fail "zt_load failed"
	kill -INT "$pid"
	wait "$pid" || { cat "$err"; fail "$mode: report zones failed"; }
	read -r id p50 errs < <(jq -r '.zones[0] |
		"\(.zone_id) \(.p50_us) \(.errors)"' "$own")
	row=$(jq -c --argjson id "$id" '[.zones[] | select(.zone_id == $id) |
		{op, count, errors, p50: .latency.p50_us}] |
		if length == 1 then .[0] else empty end' "$rep")
	echo "$mode: zt_load zone $id p50 $p50 us | report $row" \
	     "lost $(jq -c .lost "$rep")"
	[ -n "$row" ] || { cat "$rep"; fail "$mode: not one row for zone $id"; }
	[ "$(jq -r .op <<<"$row")" = flush ] || fail "$mode: the op is not flush"
	[ "$(jq .count <<<"$row")" -eq $N ] || fail "$mode: count is not $N"
	[ "$errs" -eq $((N / 5)) ] || fail "zt_load failed $errs, not $((N / 5))"
	[ "$(jq .errors <<<"$row")" -eq "$errs" ] ||
		fail "$mode: errors are not zt_load's $errs"
	awk -v b="$(jq .p50 <<<"$row")" -v u="$p50" \
		'BEGIN { exit !(b >= 0.8 * u && b <= 1.15 * u) }' ||
		fail "$mode: report p50 is not zt_load's: the request ended early"
	# Node-wide, but this test alone makes N of them if the bug is back.
	[ "$(jq .lost.unmatched_ends "$rep")" -lt $((N / 2)) ] ||
		fail "$mode: second completions counted as ends without a start"
done
echo "PASS"
