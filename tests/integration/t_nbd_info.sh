#!/bin/bash
# timeout: 60
# Acceptance 1: nbdinfo --json, a client we did not write, sees the size,
# block sizes and flags tapestryd volume advertises, over unix and TCP.
. "$(dirname "$0")/lib/nbd.sh"
nbd_need nbdinfo jq
nbd_setup

nbd_start vol1 64M --local zone-a="$T/a.img"
nbdinfo --json "$VOL_URI" > "$T/info.json" || fail "nbdinfo failed"
cat "$T/info.json"
jq -e '.protocol == "newstyle-fixed" and .structured == true' "$T/info.json" >/dev/null ||
	fail "not fixed newstyle with structured replies"
jq -e '.exports | length == 1' "$T/info.json" >/dev/null || fail "want one export"
e() { jq -e ".exports[0] | $1" "$T/info.json" >/dev/null || fail "expected $1"; }
e '."export-name" == "vol1"'
e '."export-size" == 67108864'
e '.block_size_minimum == 4096'
e '.block_size_preferred == 4096'
e '.block_size_maximum == 1048576'
e '.can_flush and .can_fua and .can_trim and .can_zero and .can_fast_zero'
e '.can_multi_conn and .can_df'
e '(.is_read_only | not) and (.is_rotational | not)'

# NBD_OPT_LIST names the export; an unknown name is refused cleanly.
nbdinfo --list --json "$VOL_URI" | jq -e '.exports[0]."export-name" == "vol1"' >/dev/null ||
	fail "nbdinfo --list does not show vol1"
if nbdinfo --size "nbd+unix:///nosuch?socket=$VOL_SOCK" 2>"$T/err"; then
	fail "an unknown export name was accepted"
fi
grep -qi "export\|unknown" "$T/err" || fail "no useful error for an unknown export: $(cat "$T/err")"
nbd_stop

# 512-byte blocks, over TCP on a free port.
VOL_LOG=$T/tcp.log
"$TAPESTRYD" volume --name vol2 --size 8M --block-size 512 \
	--local zone-a="$T/b.img" --nbd tcp:127.0.0.1:0 --state-dir "$T/state" \
	--pin-root "$NBD_PIN" \
	>"$VOL_LOG" 2>&1 &
VOL_PID=$!
NBD_PIDS+=("$VOL_PID")
for _ in $(seq 100); do
	VOL_URI=$(sed -n 's/.*serving vol2 at \(nbd:.*\)/\1/p' "$VOL_LOG")
	[ -n "$VOL_URI" ] && break
	sleep 0.1
done
[ -n "$VOL_URI" ] || fail "no TCP address in the log"
echo "TCP: $VOL_URI"
nbdinfo --json "$VOL_URI" > "$T/tcp.json" || fail "nbdinfo over TCP failed"
jq -e '.exports[0] | ."export-size" == 8388608 and .block_size_minimum == 512
	and .block_size_preferred == 4096' "$T/tcp.json" >/dev/null ||
	fail "wrong sizes over TCP: $(cat "$T/tcp.json")"
nbd_stop
echo "PASS"
