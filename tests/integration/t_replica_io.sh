#!/bin/bash
# timeout: 90
# Replica server basics over the wire, checked against an expected image
# built independently with dd: writes (plain, FUA, pipelined), trim, zero,
# flush, reads; per-block seqs and the resync conditional apply; ordering
# of overlapping writes; epochs (generation raised by HELLO, stale frames
# refused); HELLO checks; refused requests change nothing; SIGTERM leaves
# the image clean.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
cluster_init
cluster_start 1 || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
T=$CLUSTER_DIR
IMG=$(cluster_img 1 vol0)
EXP=$T/expected.img

fail() { echo "FAIL: $*"; cluster_logs; exit 1; }
# run EXPECTED-OUTPUT-REGEX replctl-args...: replctl must succeed and print it
run() {
	local want=$1 out
	shift
	out=$("$R" "$@" 2>&1) || fail "replctl $* -> $out"
	echo "$out"
	[ -z "$want" ] || grep -Eq -- "$want" <<<"$out" || fail "replctl $*: no '$want'"
}
# fill FILE BYTE LEN: LEN bytes of BYTE (octal escape, e.g. 101 for 'A')
fill() { head -c "$3" /dev/zero | tr '\0' "\\$2" > "$1"; }
put() { dd if="$1" of="$EXP" bs=4096 seek=$(($2 / 4096)) conv=notrunc status=none; }

truncate -s 64M "$EXP"
head -c 3M /dev/urandom > "$T/f"
fill "$T/a" 101 8192
fill "$T/b" 102 4096

# 1. create, pipelined copy-in, fill writes (one FUA), trim, zero, flush
run '"generation":1' --create --zone z1 --size 64M "$A" status json
run 'copy-in: OK 48 writes' "$A" copy-in "$T/f" off=1M chunk=64K qd=16
put "$T/f" $((1 << 20))
run '' "$A" write 8M 8K fill=0x41 seq=1000 write 8392704 4K fill=0x42 fua seq=1001
put "$T/a" $((8 << 20)); put "$T/b" $(((8 << 20) + 4096))
run '' "$A" trim 1M 64K zero 2M 4K fua flush
dd if=/dev/zero of="$EXP" bs=4096 seek=256 count=16 conv=notrunc status=none
dd if=/dev/zero of="$EXP" bs=4096 seek=512 count=1 conv=notrunc status=none
cmp "$IMG" "$EXP" || fail "image differs from the expected bytes"
run 'verify: OK' "$A" verify "$EXP"
echo "image byte-for-byte as expected (dd-built reference)"

# 2. per-block seqs, and a resync copy applied only where it is newer
run 'seqs: 1000,1001,0' "$A" resync-read 8M 12K
fill "$T/q" 121 4096; fill "$T/r" 122 4096; fill "$T/s" 123 4096
cat "$T/q" "$T/r" "$T/s" > "$T/rs"
run 'resync-write: OK' "$A" resync-write 8M file="$T/rs" seqs=999,1002,5
run 'seqs: 1000,1002,5' "$A" resync-read 8M 12K
dd if="$T/rs" of="$EXP" bs=4096 skip=1 seek=$(((8 << 20) / 4096 + 1)) count=2 conv=notrunc status=none
cmp "$IMG" "$EXP" || fail "resync copy applied where it was older"
echo "resync copy: older block kept, newer blocks applied"

# 3. overlapping writes on one connection land in arrival order (own volume)
run 'overlap: OK 300 rounds' --volume ov --create --size 16M "$A" overlap 300

# 3b. several volumes on one connection, each with its own volume id
run 'hello: OK volume_id 2' --volume m1 --create --size 1M "$A" \
	write 0 4K fill=0x61 hello create volume=m2 size=2M write 0 4K fill=0x62 \
	hello volume=m1 size=1M write 4K 4K fill=0x63
fill "$T/m1" 141 4096; fill "$T/m1b" 143 4096; fill "$T/m2" 142 4096
cmp <(head -c 4096 "$(cluster_img 1 m1)") "$T/m1" || fail "m1 block 0"
cmp <(dd if="$(cluster_img 1 m1)" bs=4K skip=1 count=1 status=none) "$T/m1b" ||
	fail "m1 block 1"
cmp <(head -c 4096 "$(cluster_img 1 m2)") "$T/m2" || fail "m2 block 0"
echo "two volumes on one connection, ids 1 and 2"

# 4. refused requests: nothing changes
run '' "$A" write 100 4K expect=EINVAL write 64M 4K expect=EINVAL \
	read 66584576 1M expect=EINVAL trim 4K 100 expect=EINVAL
run 'status: EBADF' --no-hello "$A" status expect=EBADF
run 'hello: EINVAL' --no-hello --size 32M "$A" hello expect=EINVAL
run 'hello: ENOENT' --no-hello --volume nosuch "$A" hello expect=ENOENT
run 'hello: EXDEV' --no-hello --zone z9 "$A" hello expect=EXDEV
run 'hello: EINVAL' --no-hello --volume ../x --create "$A" hello expect=EINVAL
[ ! -e "$(cluster_data 1)/nosuch.img" ] || fail "a refused HELLO created an image"
cmp "$IMG" "$EXP" || fail "a refused request changed the image"
echo "refused requests changed nothing"

# 5. epochs: HELLO raises the generation; older frames get ESTALE
run '"generation":5' --epoch 5 "$A" status json
run 'hello: ESTALE' --no-hello --epoch 3 "$A" hello expect=ESTALE
"$R" --epoch 5 "$A" sleep 1500 write 0 4K expect=ESTALE > "$T/stale.out" 2>&1 &
stale=$!
sleep 0.5
run '"generation":6' --epoch 6 "$A" status json
wait $stale || fail "old-epoch write was not refused: $(cat "$T/stale.out")"
cat "$T/stale.out"
cmp "$IMG" "$EXP" || fail "a stale write changed the image"

# 6. SIGTERM: exit 0, image clean, generation and seq on disk
cluster_stop 1 || fail "server exit status $? on SIGTERM"
meta=$("$R" --meta "$(cluster_data 1)/vol0.meta") || fail "no meta"
echo "$meta"
grep -q '"state":"clean"' <<<"$meta" || fail "not clean after SIGTERM"
grep -q '"generation":6' <<<"$meta" || fail "generation not persisted"
grep -q '"applied_seq":1002' <<<"$meta" || fail "applied seq not persisted"
cmp "$IMG" "$EXP" || fail "image changed on shutdown"
# on tmpfs the image was driven O_DIRECT (auto): the aligned resync paths
# above ran; t_replica_restart covers buffered I/O on a disk filesystem
if [ "$(stat -f -c %T "$T")" = tmpfs ]; then
	grep -q "vol0: created.*O_DIRECT" "$(cluster_log 1)" ||
		fail "auto I/O mode did not use O_DIRECT on tmpfs"
fi
echo "PASS"
