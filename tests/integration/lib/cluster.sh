# shellcheck shell=bash
# A local Tapestry cluster for integration tests: one replica server per
# zone, each on its own loopback address, optionally behind a fault proxy.
# Source it from a test (see tests/README.md):
#
#   . "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
#   cluster_init                # temp dir + EXIT trap (cluster_cleanup)
#   cluster_start 3 --proxy     # zones 1..3: servers (and proxies)
#   addr=$(cluster_addr 2)      # what an engine dials for zone 2
#   cluster_delay 2 20          # +20 ms each way on zone 2, at run time
#   cluster_kill 2; cluster_restart 2
#   cluster_client $!          # a client left running: cleanup kills it
#
# Zone Z is labelled "zZ" (cluster_zone Z) and lives on 127.0.Z.1 (Linux
# routes all of 127.0.0.0/8 to lo, so nothing needs setting up).  Ports
# are picked by the kernel on the first start and kept across restarts, so
# an engine can redial the same address.  Everything the cluster starts is
# killed, and its directory removed, by cluster_cleanup (the EXIT trap that
# cluster_init installs; a test with its own trap must call it).

: "${TAPESTRY_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}"
: "${BUILD:=build}"
CLUSTER_BIN=$TAPESTRY_ROOT/$BUILD/bin
CLUSTER_TAPESTRYD=$CLUSTER_BIN/tapestryd
CLUSTER_REPLCTL=$CLUSTER_BIN/tapestry-replctl
CLUSTER_PROXY=$CLUSTER_BIN/tapestry-faultproxy
CLUSTER_DIR=
CLUSTER_N=0
CLUSTER_SERVER_ARGS=${CLUSTER_SERVER_ARGS:-}
declare -A CLUSTER_PID=() CLUSTER_PORT=() CLUSTER_PPID=() CLUSTER_PPORT=()
CLUSTER_CLIENTS=()

# Create the cluster's directory (tmpfs when there is one) and install the
# cleanup trap.  CLUSTER_TMP overrides where it goes.
cluster_init() {
	local base=${CLUSTER_TMP:-}
	if [ -z "$base" ]; then
		if [ -d /dev/shm ] && [ -w /dev/shm ]; then base=/dev/shm
		else base=${TMPDIR:-/tmp}; fi
	fi
	CLUSTER_DIR=$(mktemp -d "$base/tapestry-cluster.XXXXXX") || return 1
	trap cluster_cleanup EXIT
	trap 'exit 130' INT TERM
}

cluster_zone() { echo "z$1"; }
cluster_ip() { echo "127.0.$1.1"; }
cluster_data() { echo "$CLUSTER_DIR/z$1/data"; }
cluster_img() { echo "$CLUSTER_DIR/z$1/data/$2.img"; }
cluster_log() { echo "$CLUSTER_DIR/z$1/server.log"; }
cluster_pid() { echo "${CLUSTER_PID[$1]:-}"; }
# The server's own address, and the one engines should dial (the proxy's
# when the zone has one).
cluster_server_addr() { echo "$(cluster_ip "$1"):${CLUSTER_PORT[$1]}"; }
cluster_addr() {
	if [ -n "${CLUSTER_PPORT[$1]:-}" ]; then
		echo "$(cluster_ip "$1"):${CLUSTER_PPORT[$1]}"
	else
		cluster_server_addr "$1"
	fi
}

# Wait until FILE exists and is non-empty, or until PID dies, or 10 s.
_cluster_wait_file() {
	local file=$1 pid=$2 i
	for i in $(seq 200); do
		[ -s "$file" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# Start zone Z's server on its address; PORT 0 (or none) picks one.
_cluster_server() {
	local z=$1 port=${2:-0} dir="$CLUSTER_DIR/z$1" pid try
	mkdir -p "$dir"
	for try in 1 2 3 4 5 6 7 8 9 10; do
		rm -f "$dir/port"
		# shellcheck disable=SC2086
		"$CLUSTER_TAPESTRYD" replica --zone "$(cluster_zone "$z")" \
			--listen "$(cluster_ip "$z"):$port" \
			--data "$(cluster_data "$z")" --port-file "$dir/port" \
			$CLUSTER_SERVER_ARGS >> "$dir/server.log" 2>&1 &
		pid=$!
		if _cluster_wait_file "$dir/port" "$pid"; then
			CLUSTER_PID[$z]=$pid
			CLUSTER_PORT[$z]=$(cat "$dir/port")
			return 0
		fi
		kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		# A restart can race a lingering socket on its fixed port.
		[ "$port" = 0 ] && break
		sleep 0.2
	done
	echo "cluster: zone $z server did not start; log:" >&2
	tail -n 20 "$dir/server.log" >&2
	return 1
}

_cluster_proxy() {
	local z=$1 dir="$CLUSTER_DIR/z$1" pid
	"$CLUSTER_PROXY" --listen "$(cluster_ip "$z"):0" \
		--upstream "$(cluster_server_addr "$z")" --ctl "$dir/proxy.sock" \
		--port-file "$dir/proxy.port" >> "$dir/proxy.log" 2>&1 &
	pid=$!
	if ! _cluster_wait_file "$dir/proxy.port" "$pid"; then
		echo "cluster: zone $z proxy did not start" >&2
		return 1
	fi
	CLUSTER_PPID[$z]=$pid
	CLUSTER_PPORT[$z]=$(cat "$dir/proxy.port")
}

# cluster_start N [--proxy]: zones 1..N.  Extra server options can be put
# in CLUSTER_SERVER_ARGS beforehand.
cluster_start() {
	local n=$1 proxy=${2:-} z
	[ -n "$CLUSTER_DIR" ] || cluster_init || return 1
	for z in $(seq "$n"); do
		_cluster_server "$z" 0 || return 1
		if [ "$proxy" = --proxy ]; then
			_cluster_proxy "$z" || return 1
		fi
	done
	CLUSTER_N=$n
}

# SIGKILL zone Z's server (its proxy stays up, so clients see resets or
# refused connections, as from a dead zone).
cluster_kill() {
	local pid=${CLUSTER_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	CLUSTER_PID[$1]=
}

# SIGTERM zone Z's server and wait; returns its exit status (0 = it
# stopped cleanly with every volume marked clean).
cluster_stop() {
	local pid=${CLUSTER_PID[$1]:-} rc
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	CLUSTER_PID[$1]=
	return $rc
}

# Start zone Z's server again: same data directory, address and port.
cluster_restart() {
	[ -z "${CLUSTER_PID[$1]:-}" ] || cluster_kill "$1"
	_cluster_server "$1" "${CLUSTER_PORT[$1]}"
}

# Send one control command to zone Z's proxy: delay MS [JITTER], delay-up,
# delay-down, stall on|off, blackhole on|off, drop, refuse on|off, stats.
cluster_proxy() {
	local z=$1
	shift
	"$CLUSTER_PROXY" ctl "$CLUSTER_DIR/z$z/proxy.sock" "$@"
}
cluster_delay() { cluster_proxy "$1" delay "$2" ${3:+"$3"} >/dev/null; }

# The last lines of every log, for a failing test's output.
cluster_logs() {
	local f
	for f in "$CLUSTER_DIR"/z*/server.log "$CLUSTER_DIR"/z*/proxy.log; do
		[ -s "$f" ] || continue
		echo "--- $f"
		tail -n "${1:-20}" "$f"
	done
}

# cluster_client PID: a client the test left running in the background
# (a replctl holding a volume open): cluster_cleanup stops it (SIGTERM)
# before the servers.
cluster_client() { CLUSTER_CLIENTS+=("$1"); }

cluster_cleanup() {
	local z pid
	for pid in "${CLUSTER_CLIENTS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	CLUSTER_CLIENTS=()
	for z in "${!CLUSTER_PID[@]}" "${!CLUSTER_PPID[@]}"; do
		for pid in "${CLUSTER_PID[$z]:-}" "${CLUSTER_PPID[$z]:-}"; do
			[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
		done
	done
	for z in "${!CLUSTER_PID[@]}" "${!CLUSTER_PPID[@]}"; do
		for pid in "${CLUSTER_PID[$z]:-}" "${CLUSTER_PPID[$z]:-}"; do
			[ -n "$pid" ] && wait "$pid" 2>/dev/null
		done
	done
	CLUSTER_PID=() CLUSTER_PPID=()
	if [ -n "$CLUSTER_DIR" ] && [ -d "$CLUSTER_DIR" ]; then
		if [ -n "${CLUSTER_KEEP:-}" ]; then
			echo "cluster: kept $CLUSTER_DIR" >&2
		else
			rm -rf "$CLUSTER_DIR"
		fi
	fi
	CLUSTER_DIR=
}
