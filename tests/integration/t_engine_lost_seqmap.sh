#!/bin/bash
# timeout: 60
# A local replica whose seqmap is gone (a damaged or half-restored state
# dir) while its image stays must not be trusted with seqs of 0: a resync
# from it applies only blocks newer than the target's, so a stale replica
# resynced from it kept its stale data and was called in sync.  Now the
# replica is copied in full from one that kept its seqs, and every
# replica ends identical, holding every acked write.
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
. "$TAPESTRY_ROOT/tests/integration/lib/engine.sh"

cluster_init
d=$CLUSTER_DIR
vol=(--name v --size 1M --state-dir "$d/state" --local "a=$d/a.img"
	--local "b=$d/b.img" --local "c=$d/c.img")

bv "${vol[@]}" --create --rw write --bs 64k --verify --seed 1 \
	--log "$d/log" > "$d/w1.out" 2>&1 || fail "first write failed"
mv "$d/b.img" "$d/b.away"	# b misses the second pass
bv "${vol[@]}" --rw write --bs 64k --verify --seed 2 --log "$d/log" \
	> "$d/w2.out" 2>&1 || fail "second write failed"
grep -q "replica b unreachable" "$d/w2.out" || fail "b was not degraded"
mv "$d/b.away" "$d/b.img"
rm "$d/state/v.a.seqmap"	# a, the first source, loses its seqs
bv "${vol[@]}" --rw read --bytes 4k --wait-in-sync 20 > "$d/r.out" 2>&1 || {
	cat "$d/r.out" >&2
	fail "the volume did not get back in sync"
}
grep -h "seqmap\|copied\|in sync" "$d/r.out"
for z in a b c; do
	bv --size 1M --check-log "$d/log" --image "$d/$z.img" > "$d/c$z.out" 2>&1 || {
		cat "$d/c$z.out" >&2
		fail "replica $z lacks acked writes"
	}
done
cmp "$d/a.img" "$d/b.img" && cmp "$d/a.img" "$d/c.img" ||
	fail "replicas differ while the engine says they are in sync"
echo "PASS: a replica that lost its seqmap is copied, not copied from"
