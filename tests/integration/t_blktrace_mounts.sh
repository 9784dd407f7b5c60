#!/bin/bash
# timeout: 30
#
# A fresh machine mounts neither bpffs nor tracefs: tapestryd run mounts
# both, pins under the new bpffs, and unpins on exit.  Run in a private
# mount namespace, so that unmounting them there leaves everyone else's
# alone.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v unshare >/dev/null || skip "unshare (util-linux) not installed"

cat >"$TMP/inner.sh" <<'INNER'
set -u
for m in /sys/fs/bpf /sys/kernel/tracing /sys/kernel/debug/tracing; do
	while mountpoint -q "$m"; do umount -l "$m" || exit 3; done
done
mountpoint -q /sys/fs/bpf && exit 3
"$TAPESTRYD" run --no-zones --pin-root "$PIN" 2>"$LOG" &
d=$!
for _ in $(seq 100); do
	grep -q "running; maps pinned" "$LOG" && break
	sleep 0.1
done
grep -q "running; maps pinned" "$LOG" || { cat "$LOG"; exit 4; }
[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ] || exit 5
[ "$(stat -f -c %T /sys/kernel/tracing)" = tracefs ] || exit 6
[ -e "$PIN/blk_stats" ] || exit 7
kill -TERM $d
wait $d || exit 8
[ ! -e "$PIN" ] || exit 9
exit 0
INNER
TAPESTRYD=$TAPESTRYD PIN=/sys/fs/bpf/tapestry-mounts LOG="$TMP/d.log" \
	unshare -m --propagation private bash "$TMP/inner.sh"
rc=$?
case $rc in
0) ;;
3) skip "cannot unmount bpffs/tracefs in a private mount namespace" ;;
4) fail "tapestryd did not start without bpffs mounted" ;;
5) fail "tapestryd did not mount bpffs" ;;
6) fail "tapestryd did not mount tracefs" ;;
7) fail "nothing pinned on the new bpffs" ;;
8) cat "$TMP/d.log"; fail "tapestryd failed on SIGTERM" ;;
9) fail "pins left on the new bpffs" ;;
*) fail "inner script exited $rc" ;;
esac
# The outer namespace never saw that bpffs.
[ ! -e /sys/fs/bpf/tapestry-mounts ] || fail "pinned in the outer namespace"
echo "PASS"
