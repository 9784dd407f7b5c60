#!/bin/bash
# timeout: 120
# The test harness itself: tests/integration/lib/cluster.sh and
# tapestry-faultproxy.  Three zones behind proxies on 127.0.Z.1; delay
# added at run time shows in round trips on that zone only, per direction;
# a pipelined stream through a delayed, jittered zone keeps its order (data
# verified) and its throughput (not serialised behind the delay); stall,
# blackhole, drop and refuse do what they say; SIGKILL and restart keep
# the address; cleanup leaves no process or directory behind.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
cluster_init
cluster_start 3 --proxy || exit 1
R=$CLUSTER_REPLCTL
T=$CLUSTER_DIR

fail() { echo "FAIL: $*"; cluster_logs; exit 1; }
ms_of() {	# ms_of CMD...: run it, print elapsed ms; fail if it fails
	local s e
	s=$(date +%s%N)
	"$@" > "$T/cmd.out" 2>&1 || fail "$* -> $(cat "$T/cmd.out")"
	e=$(date +%s%N)
	echo $(( (e - s) / 1000000 ))
}
alive() { kill -0 "$1" 2>/dev/null; }

for z in 1 2 3; do
	addr=$(cluster_addr "$z")
	case $addr in 127.0.$z.1:*) ;; *) fail "zone $z at $addr" ;; esac
	"$R" --create --zone "$(cluster_zone "$z")" "$(cluster_addr "$z")" status |
		grep -q "zone z$z" || fail "zone $z does not answer as z$z"
done
echo "3 zones on 127.0.{1,2,3}.1 behind proxies"

# 1. delay: six round trips (HELLO + 5 STATUS) on a zone with +20 ms each
# way take >= 240 ms; the other zones stay fast.
cluster_delay 2 20
slow=$(ms_of "$R" "$(cluster_addr 2)" status status status status status)
fast=$(ms_of "$R" "$(cluster_addr 1)" status status status status status)
echo "6 round trips: zone 2 (+20 ms) ${slow} ms, zone 1 ${fast} ms"
[ "$slow" -ge 240 ] || fail "delay not applied (${slow} ms)"
[ "$fast" -lt 200 ] || fail "zone 1 slowed too (${fast} ms)"
cluster_proxy 2 delay 0 > /dev/null
cluster_proxy 2 delay-up 30 > /dev/null
one=$(ms_of "$R" "$(cluster_addr 2)" status status status status status)
echo "6 round trips with +30 ms upstream only: ${one} ms"
[ "$one" -ge 180 ] && [ "$one" -lt "$((slow + 100))" ] ||
	fail "per-direction delay wrong (${one} ms)"

# 2. pipelining through delay and jitter: 8 MiB as 128 writes at QD 16
# with 20 +- 5 ms each way.  Serialised it would take 128 x 40 ms = 5 s.
cluster_proxy 2 delay 20 5 > /dev/null
head -c 8M /dev/urandom > "$T/f"
pipe=$(ms_of "$R" "$(cluster_addr 2)" copy-in "$T/f" chunk=64K qd=16)
echo "8 MiB, QD 16, through 20+-5 ms: ${pipe} ms (serialised: ~5100 ms)"
[ "$pipe" -lt 2500 ] || fail "proxy serialises requests (${pipe} ms)"
ms_of "$R" "$(cluster_addr 2)" verify "$T/f" > /dev/null
echo "data in order through jitter"
cluster_proxy 2 delay 0 > /dev/null

# 3. stall holds everything until released
"$R" "$(cluster_addr 2)" status > "$T/stall.out" 2>&1 &
cluster_proxy 2 stall on > /dev/null
sp=$!
sleep 0.3
"$R" "$(cluster_addr 2)" status > "$T/stall2.out" 2>&1 &
sp2=$!
sleep 0.7
alive $sp2 || fail "stalled zone answered: $(cat "$T/stall2.out")"
cluster_proxy 2 stall off > /dev/null
wait $sp2 || fail "no answer after the stall: $(cat "$T/stall2.out")"
wait $sp
echo "stall held a request 0.7 s, released it intact"

# 4. blackhole: traffic vanishes, connections stay up
cluster_proxy 2 blackhole on > /dev/null
"$R" "$(cluster_addr 2)" status > "$T/bh.out" 2>&1 &
bh=$!
sleep 0.7
alive $bh || fail "blackholed zone answered: $(cat "$T/bh.out")"
kill $bh; wait $bh 2>/dev/null
cluster_proxy 2 blackhole off > /dev/null
ms_of "$R" "$(cluster_addr 2)" status > /dev/null
echo "blackhole swallowed a request; zone back after"

# 5. drop resets live connections; refuse closes new ones
"$R" "$(cluster_addr 2)" sleep 1000 status expect=close > "$T/drop.out" 2>&1 &
dp=$!
sleep 0.4
cluster_proxy 2 drop | grep -q 'dropped 1' || fail "drop found no connection"
wait $dp || fail "dropped connection still answered: $(cat "$T/drop.out")"
cluster_proxy 2 refuse on > /dev/null
if "$R" "$(cluster_addr 2)" status > "$T/ref.out" 2>&1; then
	fail "refused zone answered"
fi
cluster_proxy 2 refuse off > /dev/null
ms_of "$R" "$(cluster_addr 2)" status > /dev/null
echo "drop and refuse work"

# 6. SIGKILL and restart: same address, data kept, clients get through
addr3=$(cluster_addr 3)
saddr3=$(cluster_server_addr 3)
ms_of "$R" "$addr3" copy-in "$T/f" chunk=1M qd=4 > /dev/null
cluster_kill 3
if "$R" "$addr3" status > "$T/dead.out" 2>&1; then
	fail "killed zone answered"
fi
cluster_restart 3 || fail "restart"
[ "$(cluster_server_addr 3)" = "$saddr3" ] || fail "server moved"
ms_of "$R" "$addr3" verify "$T/f" > /dev/null
echo "zone 3 killed and restarted on $saddr3 with its data"

# 7. cleanup kills everything it started and removes its directory
sub=$(bash -c '
	. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
	cluster_init
	cluster_start 2 --proxy >/dev/null || exit 1
	echo "$CLUSTER_DIR ${CLUSTER_PID[1]} ${CLUSTER_PID[2]} ${CLUSTER_PPID[1]} ${CLUSTER_PPID[2]}"
') || fail "sub-cluster"
set -- $sub
dir=$1
shift
sleep 0.2
for p in "$@"; do
	alive "$p" && fail "process $p outlived cluster_cleanup"
done
[ ! -e "$dir" ] || fail "$dir outlived cluster_cleanup"
echo "cleanup: 4 processes and $dir gone"
echo PASS
