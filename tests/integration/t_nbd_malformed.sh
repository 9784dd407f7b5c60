#!/bin/bash
# timeout: 90
# Acceptance 5: malformed input.
#  - fuzz_nbd (libFuzzer: handshake + request parser) and fuzz_nbdserver
#    (the connection state machine over a fake engine: no leaked buffer,
#    slot or connection) run 8 s each from their committed seed corpora;
#  - nbd-abuse sends bad magic, unknown options and commands, requests
#    past the end, zero lengths, truncated headers, and hangs up in the
#    middle of a write payload: each gets the right error or that one
#    connection closes, while another connection keeps working;
#  - the export's data is untouched and the server leaks no fd.
. "$(dirname "$0")/lib/nbd.sh"
nbd_need nbdcopy nbdinfo cmp
nbd_setup

# fuzz NAME SECONDS: a libFuzzer target from a copy of its seed corpus
fuzz() {
	local bin=$ROOT/$BUILD/fuzz/fuzz_$1
	[ -x "$bin" ] || bin=$ROOT/build/fuzz/fuzz_$1
	[ -x "$bin" ] || fail "fuzz_$1 not built (make fuzz)"
	mkdir -p "$T/corpus-$1"
	cp "$ROOT"/tests/fuzz/corpus/$1/* "$T/corpus-$1/"
	(cd "$T" && "$bin" -max_total_time="$2" -max_len=16384 -timeout=10 \
		-print_final_stats=1 "$T/corpus-$1" >"$T/fuzz-$1.log" 2>&1) ||
		fail "fuzz_$1 found a problem: $(tail -40 "$T/fuzz-$1.log")"
	echo "fuzz_$1: $(grep -o 'number_of_executed_units: *[0-9]*' "$T/fuzz-$1.log")"
}
fuzz nbd 8		# handshake and request parser
fuzz nbdserver 8	# the connection state machine on a fake engine

head -c 32M /dev/urandom > "$T/src"
nbd_start vol 32M --local zone-a="$T/a.img"
nbdcopy "$T/src" "$VOL_URI" || fail "nbdcopy in failed"
before=$(nbd_fds "$VOL_PID")
"$ROOT/$BUILD/bin/nbd_abuse" "$VOL_SOCK" vol $((32 << 20)) ||
	fail "nbd-abuse: some case failed"
kill -0 "$VOL_PID" || fail "the server died"
nbdcopy "$VOL_URI" "$T/out" || fail "nbdcopy out failed"
cmp "$T/src" "$T/out" || fail "the export's data changed"
for _ in $(seq 50); do
	[ "$(nbd_fds "$VOL_PID")" -le "$before" ] && break
	sleep 0.1
done
[ "$(nbd_fds "$VOL_PID")" -eq "$before" ] ||
	fail "fd leak: $before before, $(nbd_fds "$VOL_PID") after"
nbd_stop
echo "PASS"
