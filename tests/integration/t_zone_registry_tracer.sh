#!/bin/bash
# timeout: 60
#
# A tracer binds the zone registry's zone_peers map when it loads, and
# goes on using that map.  Another tracer that exits (here a second
# `tapestry report zones`; tapestryd is the same) removes the registry
# when it is empty: if it did so while the first tracer ran, that one
# would keep an unpinned map that no registrar can reach, and never see a
# peer registered later (in a fresh registry).  So the registry stays
# while a loaded program uses it, and goes with the last such tracer.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v jq >/dev/null || skip "jq not installed"
command -v bpftool >/dev/null || skip "bpftool not installed"

# start N: a report zones that loads its own tracer, in $TMP/rN.err.
start() {
	"$TAPESTRY" report zones --json --interval 60 --attach raw_tp \
		--pin-root "$PIN_ROOT" >"$TMP/r$1.out" 2>"$TMP/r$1.err" &
	_tr_pids+=($!)
	TR_LAST_PID=$!
	tr_wait_for "$TMP/r$1.err" "tracing .*raw_tp" 20 ||
		{ cat "$TMP/r$1.err"; fail "report zones $1 did not start"; }
}
stop() {
	kill -INT "$1"
	wait "$1" || fail "report zones (pid $1) failed on SIGINT"
}
# The programs loaded now that use the map pinned at $PIN_ROOT/$1.
users() {
	local id
	id=$(bpftool -j map show pinned "$PIN_ROOT/$1" | jq .id) || return 1
	bpftool -j prog show | jq --argjson id "$id" \
		'[.[] | select((.map_ids // []) | index($id))] | length'
}

start 1
a=$TR_LAST_PID
[ -e "$PIN_ROOT/zone_peers" ] || fail "no registry while tracer 1 runs"
n=$(users zone_peers) || fail "cannot read the pinned zone_peers"
[ "$n" -ge 1 ] || fail "no program uses the pinned zone_peers"
echo "ok: tracer 1 runs, $n programs use the pinned zone_peers"

start 2
stop "$TR_LAST_PID"
for m in zone_names zone_ids zone_peers; do
	[ -e "$PIN_ROOT/$m" ] ||
		fail "tracer 2 exiting removed $m while tracer 1 uses it"
done
n=$(users zone_peers) || fail "cannot read the pinned zone_peers"
[ "$n" -ge 1 ] || fail "the pinned zone_peers is not the one tracer 1 uses"
echo "ok: tracer 2 exited; the registry stays, still tracer 1's"

# The last tracer out still removes the empty registry.
stop "$a"
for m in zone_names zone_ids zone_peers; do
	[ ! -e "$PIN_ROOT/$m" ] || fail "$m left after the last tracer"
done
echo "ok: the last tracer removed the empty registry"
echo "PASS"
