#!/bin/bash
# timeout: 60
#
# `tapestryd volume` refuses a bad option value before it opens anything:
# exit status 2, a message on stderr that names the option, nothing on
# stdout, and no replica image, state directory, socket or zone registry
# created.  Each case would otherwise start a volume (a 1 MiB one on a
# local file), so a value that is wrongly accepted shows up as a file left
# behind or as a status other than 2.
set -u
BUILD=${BUILD:-build}
TAPESTRYD=$BUILD/bin/tapestryd
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$TAPESTRYD" ] || fail "$TAPESTRYD not built"
TMP=$(mktemp -d /tmp/tapestry-test.XXXXXX)
VOL=$TMP/vol
# The zone registry's pin root: a private one on bpffs (tapestryd mounts
# /sys/fs/bpf itself if it must), so that a zone registered by a volume
# that is then refused would be seen.  Without root no registry can be
# made anywhere, so that check would pass whatever happened: say so.
if [ "$(id -u)" -eq 0 ]; then
	PIN=/sys/fs/bpf/tapestry-test-volargs-$$
else
	PIN=$TMP/pins
	echo "SKIP: the 'created the zone registry' checks: not root, so" \
		"no zone registry can be made (the other checks run)"
fi
cleanup() {
	pkill -TERM -P $$ 2>/dev/null
	rm -rf "$TMP" "$PIN"
}
trap cleanup EXIT

# bad PATTERN ARG...: the volume's usual options plus ARG... (later ones
# win) are refused with status 2 and a message matching PATTERN, and
# nothing is left in $VOL.  fails: the same with status 1, for what only
# opening the volume can tell.
bad() { check 2 "$@"; }
fails() { check 1 "$@"; }
check() {
	local want=$1 pat=$2 rc
	shift 2
	rm -rf "$VOL" "$PIN"
	mkdir -p "$VOL"
	timeout -k 2 10 "$TAPESTRYD" volume --name v --size 1M \
		--state-dir "$VOL/state" --pin-root "$PIN" \
		--nbd "unix:$VOL/v.sock" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc -eq "$want" ] || { cat "$TMP/err"; fail "$*: exit $rc, not $want"; }
	grep -qE -- "$pat" "$TMP/err" ||
		{ cat "$TMP/err"; fail "$*: no message matching '$pat'"; }
	[ ! -s "$TMP/out" ] || fail "$*: output on stdout"
	[ -z "$(ls -A "$VOL")" ] ||
		fail "$*: refused, but left $(cd "$VOL" && echo *)"
	# (Opening a volume registers its zones first, by design.)
	[ "$want" -ne 2 ] || [ ! -e "$PIN" ] ||
		fail "$*: refused, but created the zone registry"
	echo "ok: $* -> $(head -1 "$TMP/err")"
}

L="--local a=$VOL/a.img"

bad '--size' $L --size 1.5G
bad '--size' $L --size -1
bad '--size' $L --size 0
# Geometry the engine refuses (only after the zone registry was used).
bad '--size' $L --size 1000
bad '--size' $L --size 4k --block-size 64k
bad '--block-size' $L --block-size 1000
bad '--block-size' $L --block-size 256
bad '--block-size' $L --block-size 0
bad '--name' $L --name 'a b'
bad '--name' $L --name .v
bad '--name' $L --name "$(printf 'v%.0s' $(seq 64))"
bad '--ack' $L --ack most
bad '--min-in-sync' $L --min-in-sync -1
bad '--min-in-sync' $L --min-in-sync 2
bad '--min-in-sync' $L --local b=$VOL/b.img --min-in-sync 3
bad '--nbd' $L --nbd foo
bad '--nbd' $L --nbd unix:
bad '--nbd' $L --nbd tcp:127.0.0.1:99999
# Addresses that parse but cannot be listened on: found only after the
# engine had opened (and created) the images and the state files.
bad '--nbd' $L --nbd unix:$VOL/no-such-dir/v.sock
bad '--nbd' $L --nbd unix:$VOL
bad '--nbd' $L --nbd tcp:192.0.2.1:10809
bad '--local' --local a
bad '--local' --local =x
bad '--replica' --replica b
# Zone names the engine refuses, though the zone registry takes them (up
# to 63 bytes, a leading dot): they were registered on the node first.
bad '--local' --local zone-with-a-label-thirty-two-bytes=$VOL/a.img
bad '--local' --local .a=$VOL/a.img
bad '--local' --local "a b=$VOL/a.img"
bad '--replica' $L --replica b/c=127.0.0.1:7000
# A zone named twice, or two zones given one id.
bad '--local' $L --local a=$VOL/b.img
bad '--replica' $L --replica a=127.0.0.1:7000
bad '--zone-id' $L --local b=$VOL/b.img --zone-id a=7 --zone-id b=7
# The engine checks a replica's address only once it has created the
# state files and the other replicas' images.
bad '--replica' $L --replica b=foo
bad '--replica' $L --replica b=127.0.0.1
bad '--replica' $L --replica b=127.0.0.1:0
bad '--replica' $L --replica b=127.0.0.1:65536
bad '--replica' $L --replica b=localhost:7000
# A state dir that cannot be made or used: the engine gave up without a
# word (status 1 and only the zone registry's warning).
fails "state dir $VOL/no/such" $L --state-dir $VOL/no/such
fails "/dev/null" $L --state-dir /dev/null
echo "PASS"
