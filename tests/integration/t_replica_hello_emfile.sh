#!/bin/bash
# timeout: 30
# A HELLO refused because its connection already has 16 volumes open
# (EMFILE) changes nothing, as docs/replication-protocol.md says of every
# refused HELLO: it neither raises the generation of an existing volume
# (which would fence out the engine that owns it) nor creates a volume
# that did not exist.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
cluster_init
cluster_start 1 || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
D=$(cluster_data 1)

fail() { echo "FAIL: $*"; cluster_logs 20; exit 1; }

"$R" -q --create --epoch 1 --volume victim --size 1M "$A" status > /dev/null ||
	fail "creating the victim volume"

# One connection at epoch 2: 16 volumes (v0 by the first HELLO, v1..v15),
# then two HELLOs that must both be refused with EMFILE.
hellos=()
for i in $(seq 15); do hellos+=(hello create "volume=v$i"); done
out=$("$R" -q --create --epoch 2 --volume v0 --size 1M "$A" "${hellos[@]}" \
	hello volume=victim expect=EMFILE \
	hello create volume=newcomer expect=EMFILE 2>&1) ||
	fail "17th HELLO not refused with EMFILE: $out"
echo "17th and 18th HELLO on one connection: EMFILE"

# The engine of epoch 1 still owns the victim.
out=$("$R" --epoch 1 --volume victim --size 1M "$A" status json 2>&1) ||
	fail "victim fenced by a refused HELLO: $out"
grep -q '"generation":1,' <<<"$out" || fail "victim's generation changed: $out"
echo "victim still at generation 1"

# The refused CREATE left no volume behind.
[ ! -e "$D/newcomer.img" ] && [ ! -e "$D/newcomer.meta" ] ||
	fail "refused HELLO created newcomer: $(ls "$D")"
out=$("$R" --epoch 2 --volume newcomer --size 1M "$A" 2>&1)
grep -q 'hello: ENOENT' <<<"$out" || fail "newcomer exists: $out"
echo "no volume created by the refused HELLO"

cluster_stop 1 || fail "unclean exit $?"
echo PASS
