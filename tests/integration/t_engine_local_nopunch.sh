#!/bin/bash
# timeout: 60
# A local replica whose file (or block device) cannot punch holes answers
# FALLOC_FL_PUNCH_HOLE with EOPNOTSUPP.  A trim is a hint and a zero can
# be done with FALLOC_FL_ZERO_RANGE, as the replica server does: neither
# may degrade the replica.  The file here is an NBD export with no trim
# (nbdkit eval over a plain file), mounted with nbdfuse; the other replica
# is a tmpfs file.  Trims and zeroes go in over NBD with qemu-io.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/nbd.sh"

nbd_need nbdkit nbdfuse qemu-io nbdinfo
nbd_need_fuse
nbd_setup

size=$((16 << 20))
back=$T/back.img
truncate -s $size "$back"
# No trim method: the export cannot trim, so nbdfuse refuses PUNCH_HOLE.
nbdkit -f -U "$T/kit.sock" eval \
	get_size="echo $size" can_write='exit 0' \
	pread="dd if=$back skip=\$4 count=\$3 iflag=skip_bytes,count_bytes status=none" \
	pwrite="dd of=$back seek=\$4 oflag=seek_bytes conv=notrunc status=none" \
	flush='exit 0' can_flush='exit 0' > "$T/kit.log" 2>&1 &
KIT_PID=$!
for _ in $(seq 50); do [ -S "$T/kit.sock" ] && break; sleep 0.1; done
FM=$T/fm
mkdir -p "$FM"
NBD_FUSE+=("$FM")
nbdfuse "$FM" "nbd+unix:///?socket=$T/kit.sock" > "$T/fuse.log" 2>&1 &
# nbd_cleanup stops nbdfuse before nbdkit, once the mount is gone
NBD_FUSE_PIDS+=("$!" "$KIT_PID")
for _ in $(seq 50); do [ -e "$FM/nbd" ] && break; sleep 0.1; done
[ -e "$FM/nbd" ] || { cat "$T/kit.log" "$T/fuse.log"; echo "SKIP: nbdfuse did not mount"; exit 77; }
if fallocate -p -o 0 -l 4096 "$FM/nbd" 2>/dev/null; then
	echo "SKIP: this nbdfuse punches holes after all"; exit 77
fi

nbd_start vol $size --ack all --local "slow=$FM/nbd" \
	--local "mem=$T/mem.img" --hard-timeout-ms 5000
qemu-io -f raw "$VOL_URI" \
	-c 'write -P 0x5a 0 256k' \
	-c 'discard 0 64k' \
	-c 'write -z 64k 64k' \
	-c 'write -z -u 128k 64k' \
	-c 'flush' > "$T/qemu.out" 2>&1 || { cat "$T/qemu.out"; fail "qemu-io"; }
grep -i "degraded" "$VOL_LOG" && fail "a trim or zero degraded a replica"
# Zeroes read back from both replicas (the one that cannot punch holes
# took ZERO_RANGE); the rest of what was written is there on both.
for img in "$FM/nbd" "$T/mem.img"; do
	qemu-io -f raw -r "$img" -c 'read -P 0 64k 128k' \
		-c 'read -P 0x5a 192k 64k' > "$T/check.out" 2>&1 &&
		! grep -q "Pattern verification failed" "$T/check.out" ||
		{ cat "$T/check.out"; fail "$img: wrong data"; }
done
nbd_stop
echo "PASS: trims and zeroes left a replica that cannot punch holes in sync"
