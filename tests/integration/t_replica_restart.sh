#!/bin/bash
# timeout: 60
# A replica server keeps a volume's generation, applied seq and clean flag
# across restarts: SIGTERM leaves it clean with the exact seq; SIGKILL
# leaves it dirty, and on reopen, since the record was written on this
# boot through this mount (the page cache that holds the writes since the
# last sync is still there), every seq is kept and the applied seq is the
# last one written (t_engine_replica_powerloss.sh covers a lost page
# cache, where they are zeroed); the data survives both (a process kill
# keeps the page cache); the restarted server listens on the same
# address and port.  SIGTERM during pipelined writes answers the requests
# already read, and every acked write is on the image.  It runs on a disk filesystem (not tmpfs) with
# buffered image I/O: the other tests cover O_DIRECT on tmpfs.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
CLUSTER_TMP=${TMPDIR:-/tmp} cluster_init
CLUSTER_SERVER_ARGS="--io buffered" cluster_start 1 --proxy || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
T=$CLUSTER_DIR
META=$(cluster_data 1)/vol0.meta

fail() { echo "FAIL: $*"; cluster_logs; exit 1; }
run() {
	local want=$1 out
	shift
	out=$("$R" "$@" 2>&1) || fail "replctl $* -> $out"
	echo "$out"
	[ -z "$want" ] || grep -Eq -- "$want" <<<"$out" || fail "replctl $*: no '$want'"
}
meta_has() {
	local m
	m=$("$R" --meta "$META") || fail "no metadata record"
	echo "meta: $m"
	for want in "$@"; do
		grep -q -- "$want" <<<"$m" || fail "metadata lacks $want"
	done
}

head -c 2M /dev/urandom > "$T/f1"
head -c 1M /dev/urandom > "$T/f2"

# generation 7, seqs 1..32 (64 KiB writes)
run 'copy-in: OK 32 writes' --create --epoch 7 --seq 1 "$A" copy-in "$T/f1" chunk=64K qd=8
run '"applied_seq":32' --epoch 7 "$A" status json

# SIGTERM: clean on disk, nothing lost
cluster_stop 1 || fail "SIGTERM exit status $?"
meta_has '"state":"clean"' '"generation":7' '"applied_seq":32'
CLUSTER_SERVER_ARGS="--io buffered" cluster_restart 1 || fail "restart"
[ "$(cluster_addr 1)" = "$A" ] || fail "address changed: $(cluster_addr 1) vs $A"
meta_has '"state":"clean"'	# a restart alone changes nothing
run '"generation":7,"applied_seq":32' --epoch 7 "$A" status json verify "$T/f1"

# SIGKILL after acked writes 33..48 (no flush) while the client still has
# the volume open: dirty on disk; reopening on the same boot and mount
# keeps the seqs of those writes and says applied seq 48, so an engine
# need copy nothing again; the data is there
"$R" --epoch 7 --seq 33 "$A" copy-in "$T/f2" off=4M chunk=64K qd=8 \
	sleep 5000 > "$T/held.out" 2>&1 &
held=$!
for i in $(seq 100); do
	grep -q 'copy-in: OK 16 writes' "$T/held.out" && break
	sleep 0.05
done
grep -q 'copy-in: OK 16 writes' "$T/held.out" || fail "copy-in: $(cat "$T/held.out")"
cluster_kill 1
kill "$held" 2>/dev/null
wait "$held" 2>/dev/null
meta_has '"state":"dirty"' '"generation":7'
CLUSTER_SERVER_ARGS="--io buffered" cluster_restart 1 ||
	fail "restart after SIGKILL"
run '"generation":7,"applied_seq":48' --epoch 7 "$A" status json \
	verify "$T/f1" verify "$T/f2" off=4M
grep -q "was not closed cleanly, but on this boot and mount.*every block seq kept; applied seq 48" \
	"$(cluster_log 1)" || fail "no recovery message"

# an older epoch is still refused after the restarts
run 'hello: ESTALE' --no-hello --epoch 6 "$A" hello expect=ESTALE

# SIGTERM in the middle of pipelined writes (20 ms each way through the
# proxy keeps requests in flight; the copy takes over a second): the server answers what it had read,
# closes, exits 0 clean; every write acked before the close is there.
head -c 32M /dev/urandom > "$T/f3"
cluster_delay 1 20
"$R" --epoch 7 --seq 100 "$A" copy-in "$T/f3" off=8M chunk=256K qd=4 \
	expect=close > "$T/term.out" 2>&1 &
writer=$!
sleep 0.4
cluster_stop 1 || fail "SIGTERM during writes: exit status $?"
wait $writer || fail "writer: $(cat "$T/term.out")"
cat "$T/term.out"
prefix=$(sed -n 's/.*acked_prefix \([0-9]*\).*/\1/p' "$T/term.out")
[ -n "$prefix" ] && [ "$prefix" -gt 0 ] && [ "$prefix" -lt $((32 << 20)) ] ||
	fail "SIGTERM did not land mid-stream (acked prefix ${prefix:-?})"
meta_has '"state":"clean"' '"generation":7'
cluster_delay 1 0
CLUSTER_SERVER_ARGS="--io buffered" cluster_restart 1 || fail "restart"
head -c "$prefix" "$T/f3" > "$T/f3.acked"
run 'verify: OK' --epoch 7 "$A" verify "$T/f3.acked" off=8M
echo "SIGTERM mid-stream: $prefix acked bytes all on the image"

cluster_stop 1 || fail "final SIGTERM exit status $?"
! grep -q O_DIRECT "$(cluster_log 1)" || fail "--io buffered used O_DIRECT"
meta_has '"state":"clean"' '"generation":7'
echo PASS
