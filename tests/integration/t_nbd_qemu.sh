#!/bin/bash
# timeout: 90
# Acceptance 3: qemu-io writes patterns at several offsets and reads them
# back; qemu-img compare finds the export identical to a file that had the
# same writes.
. "$(dirname "$0")/lib/nbd.sh"
nbd_need qemu-io qemu-img nbdcopy
nbd_setup

size=$((64 << 20))
head -c $size /dev/urandom > "$T/ref"
nbd_start vol 64M --local zone-a="$T/a.img"
nbdcopy "$T/ref" "$VOL_URI" || fail "nbdcopy failed"

# offset:length:pattern, over the start, block edges, the middle, the end
writes="0:4k:0x11 4096:64k:0x22 1044480:8k:0x33 34603008:1M:0x44
	$((size - 131072)):64k:0x55 $((size - 4096)):4k:0x66"
for target in "$T/ref" "$VOL_URI"; do
	args=()
	for w in $writes; do
		IFS=: read -r off len pat <<<"$w"
		args+=(-c "write -P $pat $off $len")
	done
	qemu-io -f raw "${args[@]}" "$target" >"$T/qemu-w.log" 2>&1 ||
		fail "qemu-io write to $target: $(cat "$T/qemu-w.log")"
done
args=()
for w in $writes; do
	IFS=: read -r off len pat <<<"$w"
	args+=(-c "read -P $pat $off $len")
done
qemu-io -f raw "${args[@]}" "$VOL_URI" >"$T/qemu-r.log" 2>&1 ||
	fail "qemu-io read back: $(cat "$T/qemu-r.log")"
grep -qi "pattern verification failed\|error" "$T/qemu-r.log" &&
	fail "qemu-io: $(cat "$T/qemu-r.log")"
# a write-zeroes and a discard through qemu too
qemu-io -f raw -c "write -z 8M 1M" -c "read -P 0 8M 1M" "$VOL_URI" >"$T/z.log" 2>&1 ||
	fail "qemu-io write -z: $(cat "$T/z.log")"
qemu-io -f raw -c "write -z 8M 1M" "$T/ref" >/dev/null
qemu-img compare -f raw -F raw "$T/ref" "$VOL_URI" || fail "qemu-img compare: images differ"
nbd_stop
echo "PASS"
