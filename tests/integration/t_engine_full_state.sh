#!/bin/bash
# timeout: 60
# An engine whose state directory cannot hold a local replica's seqmap
# refuses the volume at open, with a clear error, instead of dying.  The
# seqmap (8 bytes per block) is a shared mapping of a file in the state
# dir; made sparse, the first store into a page not yet allocated on a
# full filesystem raised SIGBUS and killed the engine (and every volume
# it served) in the middle of the workload.
#
# The state dir is a 1 MiB tmpfs of the test's own; a 1 GiB volume's
# seqmap needs 2 MiB.  A 16 MiB volume's (32 KiB) fits and is served.
set -u
[ "$(id -u)" -eq 0 ] || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

M=
cleanup() {
	if [ -n "$M" ]; then
		umount "$M" 2>/dev/null || umount -l "$M"
		rmdir "$M"
	fi
	cluster_cleanup
}
cluster_init
trap cleanup EXIT
M=$(mktemp -d "${TMPDIR:-/tmp}/tapestry-fullstate.XXXXXX") || exit 1
if ! mount -t tmpfs -o size=1M tapestry-fullstate "$M"; then
	rmdir "$M"
	M=
	echo "SKIP: cannot mount a tmpfs"
	exit 77
fi
d=$CLUSTER_DIR
truncate -s 1G "$d/big.img"
bv --name big --size 1G --state-dir "$M" --local "a=$d/big.img" \
	--rw randwrite --bs 4k --iodepth 8 --bytes 16M --seed 1 \
	> "$d/big.out" 2>&1
rc=$?
cat "$d/big.out"
[ $rc -lt 128 ] || fail "engine killed by signal $((rc - 128)) (full state dir)"
[ $rc -ne 0 ] || fail "a 1 GiB volume was served with no room for its seqmap"
grep -q 'seqmap of a: No space left on device' "$d/big.out" ||
	fail "the error does not say the seqmap has no room"
echo "1 GiB volume refused at open: no room for its seqmap"

rm -f "$M"/big.*
truncate -s 16M "$d/small.img"
bv --name small --size 16M --state-dir "$M" --local "a=$d/small.img" \
	--rw randwrite --bs 4k --iodepth 8 --bytes 4M --seed 1 \
	> "$d/small.out" 2>&1 || { cat "$d/small.out"; fail "16 MiB volume"; }
echo "PASS: a seqmap that does not fit is refused at open, one that fits is served"
