#!/bin/bash
# timeout: 60
# A replica server whose data filesystem fills up refuses what it cannot
# store and stays up for everyone else.  The data directory is on a 2 MiB
# tmpfs of the test's own; a filler file takes every page but one.
#   - A write into a region of the volume no write has touched yet takes
#     the last page for its data; recording its seq must not need another
#     page (the server used to store into an unallocated page of the
#     mapped NAME.seq and die of SIGBUS).  The next write gets ENOSPC.
#   - A resync copy written short (room for part of it) is refused with
#     ENOSPC, not EIO (a disk that failed), and records no seq.
#   - Creating a volume on the full filesystem is refused (EIO), and the
#     server keeps serving the existing volume.
set -u
[ "$(id -u)" -eq 0 ] || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
M=$(mktemp -d "${TMPDIR:-/tmp}/tapestry-fullfs.XXXXXX") || exit 1
if ! mount -t tmpfs -o size=2M tapestry-fullfs "$M"; then
	rmdir "$M"
	echo "SKIP: cannot mount a tmpfs"
	exit 77
fi
S=$(mktemp -d "${TMPDIR:-/tmp}/tapestry-fullfs-scratch.XXXXXX") || exit 1
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
CLUSTER_TMP=$M cluster_init
trap 'cluster_cleanup; umount "$M" 2>/dev/null || umount -l "$M"; rmdir "$M"; rm -rf "$S"' EXIT
cluster_start 1 || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
PID=$(cluster_pid 1)
B="$R -q --volume v --size 64M $A"

fail() { echo "FAIL: $*"; cluster_logs 20; exit 1; }
alive() { kill -0 "$PID" 2>/dev/null || fail "server died ($1)"; }

$R -q --create --volume v --size 64M "$A" write 0 4096 fill=0x41 seq=1 \
	> /dev/null || fail "creating the volume"
# fill the filesystem, then give back exactly one page
head -c 4096 /dev/zero > "$M/spare"
head -c 4096 /dev/zero > "$M/spare2"
dd if=/dev/zero of="$M/filler" bs=4096 status=none 2>/dev/null
rm "$M/spare"
echo "filesystem full but one page"

# 4 MiB in: a fresh page of the image and of the seqmap
out=$($B write 4M 4096 fill=0x42 seq=2 2>&1)
alive "write into an untouched region"
grep -q 'write: OK' <<<"$out" || fail "write with one page left: $out"
out=$($B write 8M 4096 fill=0x43 seq=3 expect=ENOSPC 2>&1) ||
	fail "write on a full filesystem: $out"
alive "write on a full filesystem"
echo "last page taken by a write, the next one refused with ENOSPC"

out=$($B resync-read 4M 4096 resync-read 8M 4096 2>&1) || fail "resync-read: $out"
grep -q 'seqs: 2$' <<<"$out" || fail "seq of the write at 4M not recorded: $out"
grep -q 'seqs: 0$' <<<"$out" || fail "refused write at 8M recorded: $out"

# A resync copy of two blocks with room for one: a block whose seq the
# replica records must hold the copy's data.  The write comes back short,
# which is the filesystem filling up: the reply says ENOSPC, as a write
# refused outright does.  EIO would tell the engine the disk failed and
# may have lost what it acked: it would copy all of the volume again,
# and again each time the copy reached the full filesystem.
rm "$M/spare2"
head -c 8192 /dev/urandom > "$S/copy"
out=$($B resync-write 12M file="$S/copy" seqs=5,6 expect=ENOSPC 2>&1) ||
	fail "resync copy on a full filesystem: $out"
alive "resync copy on a full filesystem"
echo "resync copy with one page left: $(head -c 200 <<<"$out" | tr '\n' ' ')"
out=$($B resync-read 12M 8192 out="$S/back" 2>&1) ||
	fail "resync-read after the copy: $out"
seqs=$(sed -n 's/^seqs: //p' <<<"$out")
i=0
for s in ${seqs//,/ }; do
	if [ "$s" != 0 ]; then
		cmp -s <(dd if="$S/copy" bs=4096 skip=$i count=1 status=none) \
		       <(dd if="$S/back" bs=4096 skip=$i count=1 status=none) ||
			fail "block $i of the copy recorded with seq $s but not written"
	fi
	i=$((i + 1))
done
echo "resync copy: seqs $seqs, each recorded block holds its data"

out=$($R -q --create --volume other --size 64M "$A" 2>&1)
alive "creating a volume on a full filesystem"
grep -q 'hello: EIO' <<<"$out" || fail "create on a full filesystem: $out"
$B read 0 4096 > /dev/null || fail "existing volume unreadable"
echo "create refused with EIO; the existing volume still served"

rm -f "$M/filler"
cluster_stop 1 || fail "unclean exit $?"
echo PASS
