#!/bin/bash
# timeout: 60
# NBD_CMD_FLAG_FAST_ZERO with remote replicas.  A replica server says in
# its HELLO reply (REPL_F_ZERO_FAST) whether its zeroes of the volume are
# fast: its image's file system punches holes.  One whose data dir is on
# tapestry-slowfs --no-punch (PUNCH_HOLE fails, ZERO_RANGE writes zeroes)
# does not say so, like a server that predates the flag, and a volume
# with it refuses FAST_ZERO (ENOTSUP), data unchanged; a volume whose
# replicas all zero fast (a server on tmpfs, a local tmpfs file) zeroes.
# qemu-io's `write -z -n -u` is a WRITE_ZEROES with FAST_ZERO.
set -u
. "$(dirname "$0")/lib/nbd.sh"
nbd_need qemu-io nbdinfo
nbd_setup
REPLCTL=$ROOT/$BUILD/bin/tapestry-replctl
nbd_nopunch_mount
mkdir "$FM/replica2"
ln -s "$FM/replica2" "$T/replica2"

# z1 on tmpfs, z2 on the file system that cannot punch holes
nbd_replicas 2
"$REPLCTL" --volume probe --size 16M --create "127.0.0.1:${REPLICA_PORT[1]}" \
	> "$T/hello1.out" 2>&1 || { cat "$T/hello1.out"; fail "HELLO to z1"; }
grep -q "^hello: OK.* zero-fast" "$T/hello1.out" ||
	{ cat "$T/hello1.out"; fail "z1 (tmpfs) did not say its zeroes are fast"; }
"$REPLCTL" --volume probe --size 16M --create "127.0.0.1:${REPLICA_PORT[2]}" \
	> "$T/hello2.out" 2>&1 || { cat "$T/hello2.out"; fail "HELLO to z2"; }
grep -q "^hello: OK" "$T/hello2.out" && ! grep -q "zero-fast" "$T/hello2.out" ||
	{ cat "$T/hello2.out"; fail "z2 (no hole punching) said its zeroes are fast"; }

# Every replica zeroes fast: carried out.
nbd_start fast 16M --ack all --local "a=$T/a.img" \
	--replica "z1=127.0.0.1:${REPLICA_PORT[1]}"
nbd_fast_zero done
nbd_stop

# z2 cannot say so: refused.  Zeroes without FAST_ZERO still zero.
nbd_start slow 16M --ack all --local "a=$T/s.img" "${REPLICA_ARGS[@]}"
nbd_fast_zero refused
nbd_plain_zero
grep -i "degraded" "$VOL_LOG" && fail "a replica degraded"
nbd_stop
echo "PASS: HELLO replies say whether zeroes are fast; FAST_ZERO follows them"
