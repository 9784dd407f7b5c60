# Shared by the tracer's integration tests (sourced, not run).
#
#   tr_init           root, BTF, bpffs checks (SKIP otherwise); temp dir,
#                     cleanup trap, a private pin root in $PIN_ROOT
#   tr_loop SIZE_MB [--partscan]
#                     a loop device over a file on a private tmpfs;
#                     sets $LOOP (/dev/loopN) and $DEV (loopN)
#   tr_part START LEN partition 1 of $LOOP, in sectors (SKIP without addpart)
#   tr_bg CMD...      start CMD in the background; cleanup kills it
#   tr_wait_for FILE PATTERN SECS
#   fail MSG / skip MSG
set -u

BUILD=${BUILD:-build}
TAPESTRY=$BUILD/bin/tapestry
TAPESTRYD=$BUILD/bin/tapestryd
_tr_pids=()
_tr_loops=()
_tr_mounts=()

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

_tr_cleanup() {
	local p l m
	for p in "${_tr_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${_tr_pids[@]}"; do
		# Give a daemon the chance to unpin before it is killed.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for l in "${_tr_loops[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	for m in "${_tr_mounts[@]}"; do
		umount "$m" 2>/dev/null
	done
	[ -n "${PIN_ROOT:-}" ] && rm -rf "$PIN_ROOT"
	[ -n "${TMP:-}" ] && rm -rf "$TMP"
}

tr_init() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
	[ -x "$TAPESTRY" ] || fail "$TAPESTRY not built"
	if ! mountpoint -q /sys/fs/bpf; then
		mount -t bpf bpf /sys/fs/bpf || skip "cannot mount bpffs"
	fi
	TMP=$(mktemp -d /tmp/tapestry-test.XXXXXX)
	PIN_ROOT=/sys/fs/bpf/tapestry-test-$$-$RANDOM
	trap _tr_cleanup EXIT
}

tr_loop() {
	local mb=$1 scan=${2:-}
	mkdir -p "$TMP/tmpfs"
	mount -t tmpfs -o size=$((mb + 16))m tmpfs "$TMP/tmpfs" ||
		fail "cannot mount tmpfs"
	_tr_mounts+=("$TMP/tmpfs")
	truncate -s "${mb}M" "$TMP/tmpfs/disk.img"
	LOOP=$(losetup --find --show $scan "$TMP/tmpfs/disk.img") ||
		skip "no free loop device"
	_tr_loops+=("$LOOP")
	DEV=${LOOP#/dev/}
}

# Partition 1 of $LOOP (made with tr_loop --partscan) from sector START,
# LEN sectors long: BLKPG, not a partition table (the kernel may have no
# table parsers); it goes with the loop device.  Fails unless its sysfs
# entry and /dev node appear within 5 s.
tr_part() {
	local i
	command -v addpart >/dev/null || skip "addpart (util-linux) not installed"
	addpart "$LOOP" 1 "$1" "$2" || fail "cannot add partition 1 to $LOOP"
	for i in $(seq 50); do
		[ -e "/sys/class/block/${DEV}p1/partition" ] && [ -b "${LOOP}p1" ] &&
			return 0
		sleep 0.1
	done
	fail "addpart made no ${DEV}p1 in /sys/class/block or /dev"
}

tr_bg() {
	"$@" &
	_tr_pids+=($!)
	TR_LAST_PID=$!
}

tr_wait_for() {
	local file=$1 pattern=$2 secs=$3 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Read and write completions of a disk, from /sys/block/<dev>/stat.
tr_stat() {
	awk '{ print $1, $5 }' "/sys/block/$1/stat"
}
