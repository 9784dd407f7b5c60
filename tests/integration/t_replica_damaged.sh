#!/bin/bash
# timeout: 30
# A volume whose files are damaged is refused with EIO and a log line
# that names the file, as docs/replication-protocol.md says ("the
# replica's files cannot be read or created: EIO"), with or without
# CREATE, and nothing is recreated over it.  ENOENT is only for a volume
# the server does not have: an engine must not read "no such volume" when
# the volume exists but lost its image (the server used to say ENOENT,
# and log nothing, for a missing NAME.img).
set -u
. "$TAPESTRY_ROOT/tests/integration/lib/cluster.sh"
cluster_init
cluster_start 1 || exit 1
A=$(cluster_addr 1)
R=$CLUSTER_REPLCTL
D=$(cluster_data 1)
LOG=$(cluster_log 1)

fail() { echo "FAIL: $*"; cluster_logs 20; exit 1; }
# refused NAME: HELLO NAME with and without CREATE gets EIO
refused() {
	local out flag
	for flag in --create ""; do
		# shellcheck disable=SC2086
		out=$("$R" -q $flag --volume "$1" --size 1M "$A" 2>&1)
		grep -q 'hello: EIO' <<<"$out" ||
			fail "$1 ${flag:-without --create}: $out"
	done
}

for v in noimg noseq; do
	"$R" -q --create --volume $v --size 1M "$A" write 0 4096 fill=1 \
		> /dev/null || fail "creating $v"
done
rm "$D/noimg.img" "$D/noseq.seq"

refused noimg
[ ! -e "$D/noimg.img" ] || fail "noimg.img recreated over the damaged volume"
grep -q 'volume noimg: .*noimg.img' "$LOG" || fail "no log line names noimg.img"
echo "missing image: EIO, logged, not recreated"
refused noseq
[ ! -e "$D/noseq.seq" ] || fail "noseq.seq recreated over the damaged volume"
echo "missing seqmap: EIO, not recreated"
out=$("$R" -q --volume none --size 1M "$A" 2>&1)
grep -q 'hello: ENOENT' <<<"$out" || fail "a volume that never was: $out"
echo "a volume that never was: ENOENT"
cluster_stop 1 || fail "unclean exit $?"
echo PASS
