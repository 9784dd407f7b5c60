#!/bin/bash
# timeout: 60
# A connection may hold 16 volumes.  A HELLO still waiting for its
# metadata write has no handle yet, but will take one: the limit must
# count it, or a HELLO sent behind it would be let in, open (or create)
# its volume and raise its generation, and then find no handle left.
# One connection opens 15 volumes, then sends two HELLOs back to back
# while the data directory's fsyncs are slow (tapestry-slowfs): the first
# (an existing volume, marked dirty on disk) waits for its record; the
# second, creating a new volume, must be refused with EMFILE and create
# nothing, and the first must then be answered OK.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/slowfs.sh"

cleanup() {
	cluster_kill 1
	slowfs_stop
	cluster_cleanup
}
cluster_init
trap cleanup EXIT
command -v python3 > /dev/null || { echo "SKIP: no python3"; exit 77; }
slowfs_start
cluster_data() { echo "$SLOWFS_MNT/z$1"; }
cluster_start 1 || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
D=$(cluster_data 1)
W=$CLUSTER_DIR/w
mkdir -p "$W"

fail() { echo "FAIL: $*"; cluster_logs 20; exit 1; }

"$R" -q --create --volume waiter --size 1M "$A" status > /dev/null ||
	fail "creating volume waiter"

# hello_frame NAME TAG [create]: a HELLO frame (epoch 1, 1 MiB, block 4096)
hello_frame() {
	python3 - "$@" <<'EOF'
import struct, sys
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff
name, tag = sys.argv[1], int(sys.argv[2])
flags = 4 if len(sys.argv) > 3 else 0
p = struct.pack('<QII64s32s', 1 << 20, 4096, 0, name.encode(), b'')
h = struct.pack('<IHBBIIQQQQQI', 0x59525054, 1, 1, flags, 0, len(p),
                0, 0, 0, 1, tag, crc32c(p))
h += struct.pack('<I', crc32c(h + b'\0' * 4))
sys.stdout.write((h + p).hex())
EOF
}
frames=$(hello_frame waiter 901)$(hello_frame newcomer 902 create) ||
	fail "building the HELLO frames"

hellos=()
for i in $(seq 14); do hellos+=(hello create "volume=v$i"); done
slowfs_delay 0
"$R" --create --volume v0 --size 1M "$A" "${hellos[@]}" sleep 300 \
	raw "$frames" wait=3000 expect=EMFILE > "$W/out" 2>&1 &
client=$!
# the 15 volumes are open: from now on the waiter's record takes 1 s
for _ in $(seq 250); do
	[ "$(grep -c '^hello: OK' "$W/out")" -ge 15 ] && break
	sleep 0.02
done
[ "$(grep -c '^hello: OK' "$W/out")" -ge 15 ] ||
	fail "15 HELLOs: $(cat "$W/out")"
slowfs_delay 1000
wait "$client" || fail "client: $(cat "$W/out")"
grep -q 'reply hello tag 902 status EMFILE' "$W/out" ||
	fail "HELLO behind one waiting for its record not refused: $(tail -3 "$W/out")"
grep -q 'reply hello tag 901 status OK' "$W/out" ||
	fail "the waiting HELLO: $(tail -3 "$W/out")"
echo "16th volume waiting for its record: a 17th refused with EMFILE"
[ ! -e "$D/newcomer.img" ] && [ ! -e "$D/newcomer.meta" ] ||
	fail "the refused HELLO created its volume: $(ls "$D")"
echo "nothing created by the refused HELLO"
slowfs_delay 0
cluster_stop 1 || fail "unclean exit $?"
echo PASS
