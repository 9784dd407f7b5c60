# Helpers for the NBD frontend's integration tests (t_nbd_*.sh); sourced.
#
#   nbd_need TOOL...            SKIP (exit 77) unless every tool exists
#   nbd_setup                   a private temp dir $T, cleaned up on exit
#   nbd_start NAME SIZE ARGS... start `tapestryd volume` serving NAME on
#                               $T/NAME.sock; sets VOL_PID, VOL_URI, VOL_LOG
#   nbd_stop                    SIGTERM it; fails unless it exits 0
#   nbd_fds PID                 open fds of PID
#   fail MSG...                 print FAIL and exit 1
set -u
: "${BUILD:=build}"
ROOT=${TAPESTRY_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
TAPESTRYD=$ROOT/$BUILD/bin/tapestryd
NBD_PIDS=()

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
	[ -n "${T:-}" ] && rm -rf "$T"
}

nbd_setup() {
	T=$(mktemp -d /tmp/t_nbd.XXXXXX)
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
		--nbd "unix:$VOL_SOCK" --state-dir "$T/state" "$@" \
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
