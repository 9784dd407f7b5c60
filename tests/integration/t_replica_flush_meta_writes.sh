#!/bin/bash
# timeout: 30
# A good FLUSH raises the volume's synced seq, which NAME.meta records so
# that an unclean open after a power loss zeroes only what no FLUSH
# synced.  That record used to be written (and fdatasynced) after nearly
# every FLUSH: 100 write+FLUSH pairs cost over 100 records.  Now the
# server's once-a-second tick writes one for all the FLUSHes of its
# second.  Here 100 write+FLUSH pairs on one connection, the connection
# held open (its close would record the volume clean), then 1.5 s for a
# tick: the record's counter (one per record written) may grow by at
# most 4 (the HELLO's, and the ticks' over the run), and the record must
# say the last FLUSH's synced seq.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"

cluster_init
cluster_start 1 || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
META=$(cluster_data 1)/v.meta
fail() { echo "FAIL: $*"; cluster_logs 20; exit 1; }
field() { "$R" --meta "$META" | jq -r ".$1"; }
command -v jq > /dev/null || { echo "SKIP: no jq"; exit 77; }

out=$("$R" --volume v --size 1M --create "$A" write 0 4096 fill=0x41 seq=1 \
	2>&1) || fail "create: $out"
c0=$(field counter)
args=()
for i in $(seq 2 101); do
	args+=(write $(( (i % 256) * 4096 )) 4096 fill=0x42 "seq=$i" flush)
done
"$R" --volume v --size 1M "$A" "${args[@]}" sleep 5000 > "$CLUSTER_DIR/hold.out" 2>&1 &
hold=$!
cluster_client "$hold"
for _ in $(seq 200); do
	[ "$(grep -c 'flush: OK' "$CLUSTER_DIR/hold.out")" -ge 100 ] && break
	kill -0 $hold 2>/dev/null || break
	sleep 0.05
done
n=$(grep -c 'flush: OK' "$CLUSTER_DIR/hold.out")
[ "$n" = 100 ] || fail "$n of 100 FLUSHes OK: $(tail -3 "$CLUSTER_DIR/hold.out")"
sleep 1.5
c1=$(field counter)
synced=$(field synced_seq)
echo "NAME.meta records written for 100 FLUSHes: $((c1 - c0)); synced_seq $synced"
[ $((c1 - c0)) -le 4 ] || fail "$((c1 - c0)) records for 100 FLUSHes"
[ "$synced" -ge 100 ] || fail "the record says synced seq $synced, not 100 or more"
echo PASS
