# Helpers for the NBD frontend's integration tests (t_nbd_*.sh); sourced.
#
#   nbd_need TOOL...            SKIP (exit 77) unless every tool exists
#   nbd_setup                   a private temp dir $T, cleaned up on exit
#   nbd_start NAME SIZE ARGS... start `tapestryd volume` serving NAME on
#                               $T/NAME.sock; sets VOL_PID, VOL_URI, VOL_LOG
#   nbd_stop                    SIGTERM it; fails unless it exits 0
#   nbd_fds PID                 open fds of PID
#   nbd_need_fuse               SKIP (exit 77) without root or /dev/fuse
#   nbd_nopunch_mount           a FUSE mount on $FM that cannot punch holes
#   nbd_fast_zero EXPECT        a FAST_ZERO on the volume: refused or done
#   nbd_plain_zero              a zero without FAST_ZERO zeroes
#   nbd_sparse SIZE_MB AT_MB    $T/sparse (mostly holes) and $T/old (data)
#   fail MSG...                 print FAIL and exit 1
#
# FUSE mounts a test makes go in NBD_FUSE (mount points) and their
# servers' pids in NBD_FUSE_PIDS: nbd_cleanup unmounts them once the
# volume and replica servers are gone, then stops the servers.
set -u
: "${BUILD:=build}"
ROOT=${TAPESTRY_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
TAPESTRYD=$ROOT/$BUILD/bin/tapestryd
NBD_PIDS=()
NBD_FUSE=()
NBD_FUSE_PIDS=()

fail() {
	echo "FAIL: $*"
	[ -n "${VOL_LOG:-}" ] && [ -f "$VOL_LOG" ] && sed 's/^/    log| /' "$VOL_LOG" | tail -30
	exit 1
}

nbd_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not installed"; exit 77; }
	done
	[ -x "$TAPESTRYD" ] || { echo "FAIL: $TAPESTRYD not built"; exit 1; }
}

nbd_cleanup() {
	local p
	for p in "${NBD_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${NBD_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${NBD_FUSE[@]}"; do
		mountpoint -q "$p" || continue
		umount "$p" 2>/dev/null || umount -l "$p"
	done
	for p in "${NBD_FUSE_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "${T:-}" ] && rm -rf "$T"
	[ -n "${NBD_PIN:-}" ] && rm -rf "$NBD_PIN"
}

# On tmpfs when there is one: fast, and no disk writeback stalls in
# flushes (which the engine's replica timeout would count as failures).
nbd_setup() {
	local base=/tmp
	[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
	T=$(mktemp -d "$base/t_nbd.XXXXXX")
	# a private zone registry: never the node's own
	NBD_PIN=/sys/fs/bpf/tapestry-test-nbd-$$-$RANDOM
	trap nbd_cleanup EXIT
}

# Wait until the volume answers NBD (or died).
nbd_wait() {
	local i
	for i in $(seq 100); do
		kill -0 "$VOL_PID" 2>/dev/null || fail "tapestryd volume exited early"
		nbdinfo --size "$VOL_URI" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "tapestryd volume did not come up"
}

nbd_start() {
	local name=$1 size=$2
	shift 2
	VOL_LOG=$T/$name.log
	VOL_SOCK=$T/$name.sock
	VOL_URI="nbd+unix:///$name?socket=$VOL_SOCK"
	"$TAPESTRYD" volume --name "$name" --size "$size" \
		--nbd "unix:$VOL_SOCK" --state-dir "$T/state" \
		--pin-root "$NBD_PIN" "$@" \
		>>"$VOL_LOG" 2>&1 &
	VOL_PID=$!
	NBD_PIDS+=("$VOL_PID")
	nbd_wait
}

nbd_stop() {
	local rc
	kill -TERM "$VOL_PID"
	wait "$VOL_PID"
	rc=$?
	[ $rc -eq 0 ] || fail "tapestryd volume exited $rc after SIGTERM"
	grep -q "flushed and closed" "$VOL_LOG" || fail "no clean stop in the log"
}

nbd_fds() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}

# Replica servers, one zone each, on free loopback ports:
#   nbd_replicas N          start zones z1..zN; sets REPLICA_ARGS (for
#                           nbd_start), REPLICA_PID[i], REPLICA_PORT[i]
#   nbd_replica_kill I      SIGKILL zone zI's server
#   nbd_replica_restart I   start it again on the same port and data
REPLICA_ARGS=()
declare -a REPLICA_PID REPLICA_PORT
nbd_replica_start() {
	local i=$1 port=${2:-0}
	rm -f "$T/port$i"
	"$TAPESTRYD" replica --zone "z$i" --listen "127.0.0.1:$port" \
		--data "$T/replica$i" --port-file "$T/port$i" \
		>>"$T/replica$i.log" 2>&1 &
	REPLICA_PID[$i]=$!
	NBD_PIDS+=("$!")
	for _ in $(seq 100); do [ -s "$T/port$i" ] && break; sleep 0.1; done
	[ -s "$T/port$i" ] || fail "replica server z$i did not come up"
	REPLICA_PORT[$i]=$(cat "$T/port$i")
}

nbd_replicas() {
	local i
	REPLICA_ARGS=()
	for i in $(seq "$1"); do
		nbd_replica_start "$i"
		REPLICA_ARGS+=(--replica "z$i=127.0.0.1:${REPLICA_PORT[$i]}")
	done
}

nbd_replica_kill() {
	kill -KILL "${REPLICA_PID[$1]}"
	wait "${REPLICA_PID[$1]}" 2>/dev/null
}

nbd_replica_restart() {
	nbd_replica_start "$1" "${REPLICA_PORT[$1]}"
}

# Wait (up to $2 s) until the volume log matches $1.
nbd_log_wait() {
	local i
	for i in $(seq $(( ${2:-10} * 10 ))); do
		grep -q "$1" "$VOL_LOG" && return 0
		sleep 0.1
	done
	return 1
}

nbd_need_fuse() {
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: FUSE needs root"; exit 77; }
	[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
}

# nbd_nopunch_mount: tapestry-slowfs --no-punch (PUNCH_HOLE fails,
# ZERO_RANGE writes zeroes) over $T/back, mounted on $FM ($T/fm), its log
# in $T/fs.log.  SKIP (77) without root or FUSE, or if it does not mount.
nbd_nopunch_mount() {
	nbd_need_fuse
	mkdir -p "$T/back" "$T/fm"
	"$ROOT/$BUILD/bin/tapestry-slowfs" --backing "$T/back" --mount "$T/fm" \
		--no-punch > "$T/fs.log" 2>&1 &
	NBD_FUSE_PIDS+=("$!")
	NBD_FUSE+=("$T/fm")
	for _ in $(seq 100); do [ -e "$T/fm/.slowfs" ] && break; sleep 0.05; done
	[ -e "$T/fm/.slowfs" ] || { cat "$T/fs.log"; echo "SKIP: cannot mount FUSE"; exit 77; }
	FM=$T/fm
}

# nbd_fast_zero EXPECT: write 0x5a over [0, 128k) of the volume, then a
# WRITE_ZEROES with FAST_ZERO over [0, 64k) (qemu-io's `write -z -n -u`).
# EXPECT refused: fails unless it is refused (ENOTSUP) and the data is
# unchanged; done: unless it succeeds and zeroes [0, 64k) only.
nbd_fast_zero() {
	qemu-io -f raw "$VOL_URI" -c 'write -P 0x5a 0 128k' \
		-c 'write -z -n -u 0 64k' > "$T/qemu.out" 2>&1
	case $1 in
	refused)
		grep -q "Operation not supported" "$T/qemu.out" ||
			{ cat "$T/qemu.out"; fail "FAST_ZERO not refused"; }
		qemu-io -f raw -r "$VOL_URI" -c 'read -P 0x5a 0 128k' \
			> "$T/check.out" 2>&1 ;;
	done)
		grep -q "failed" "$T/qemu.out" &&
			{ cat "$T/qemu.out"; fail "FAST_ZERO failed"; }
		qemu-io -f raw -r "$VOL_URI" -c 'read -P 0 0 64k' \
			-c 'read -P 0x5a 64k 64k' > "$T/check.out" 2>&1 ;;
	esac
	! grep -q -e "Pattern verification failed" -e "failed" "$T/check.out" ||
		{ cat "$T/check.out"; fail "$1: wrong data read back"; }
}

# nbd_plain_zero: a WRITE_ZEROES without FAST_ZERO over [0, 64k) of the
# volume, read back; fails unless both succeed and it reads zeroes.
nbd_plain_zero() {
	qemu-io -f raw "$VOL_URI" -c 'write -z -u 0 64k' -c 'read -P 0 0 64k' \
		> "$T/plain.out" 2>&1
	grep -q "failed" "$T/plain.out" && { cat "$T/plain.out"; fail "plain zero"; }
	return 0
}

# nbd_sparse SIZE_MB AT_MB: $T/sparse, a file of SIZE_MB MiB holding 1 MiB
# of random data at 0 and at AT_MB MiB and holes elsewhere, and $T/old,
# SIZE_MB MiB of random data (what a volume holds before a copy).
nbd_sparse() {
	truncate -s "$1M" "$T/sparse"
	head -c 1M /dev/urandom | dd of="$T/sparse" conv=notrunc status=none
	head -c 1M /dev/urandom | dd of="$T/sparse" bs=1M seek="$2" \
		conv=notrunc status=none
	head -c "$1M" /dev/urandom > "$T/old"
}
