#!/bin/bash
# timeout: 20
#
# `tapestry bench-volume` refuses a bad workload value before it needs any
# volume options, exits 2, and names the option: numbers must be finite
# and whole (nan, inf, an empty value or trailing junk are refused, not
# read as 0 or "no limit").  No process but the CLI itself.
set -u
BUILD=${BUILD:-build}
TAPESTRY=$BUILD/bin/tapestry
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$TAPESTRY" ] || fail "$TAPESTRY not built"
TMP=$(mktemp -d /tmp/tapestry-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# bad OPTION VALUE: refused with status 2 and a message naming --OPTION.
bad() {
	local opt=$1 val=$2
	"$TAPESTRY" bench-volume "--$opt=$val" >"$TMP/out" 2>"$TMP/err"
	local rc=$?
	[ $rc -eq 2 ] || fail "--$opt='$val': exit $rc, not 2"
	grep -q -- "bad --$opt '$val'" "$TMP/err" ||
		{ cat "$TMP/err"; fail "--$opt='$val': no message naming it"; }
	[ ! -s "$TMP/out" ] || fail "--$opt='$val': output on stdout"
}

bad runtime nan
bad runtime inf
bad runtime 1e300
bad runtime -1
bad runtime ""
bad rate nan
bad rate -5
bad flush-interval nan
bad flush-interval 0
bad wait-in-sync nan
bad wait-in-sync 5x
bad rwmix-read ""
bad rwmix-read 101
bad rwmix-read -1
bad iodepth 0
bad iodepth ""
bad seed ""
bad seed 12z
bad strict-after ""
bad from ""
bad to nan
bad rw sideways
bad bs 0

# An I/O size larger than the whole volume is refused before the volume
# is opened (a random workload had no offset to pick: SIGFPE).
for rw in randwrite randread write; do
	"$TAPESTRY" bench-volume --name v --size 4k --state-dir "$TMP/st" \
		--local "z0=$TMP/img" --create --zone-registry none \
		--rw $rw --bs 8k >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc -eq 2 ] || { cat "$TMP/err"; fail "--bs 8k, --size 4k, $rw: exit $rc, not 2"; }
	grep -q -- "--bs 8192 is larger than the volume" "$TMP/err" ||
		{ cat "$TMP/err"; fail "--bs 8k, --size 4k: no message naming --bs"; }
	[ ! -e "$TMP/img" ] || fail "--bs 8k, --size 4k: the image was created"
done

# An I/O size that is not a multiple of the volume's block size is refused
# up front, naming --bs and the block size (every I/O used to fail with
# a bare "Invalid argument").
for args in "--bs 6k" "--bs 6k --rw write" "--bs 1k --block-size 2048"; do
	# shellcheck disable=SC2086
	"$TAPESTRY" bench-volume --name v --size 1M --state-dir "$TMP/st" \
		--local "z0=$TMP/img" --create --zone-registry none \
		$args >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc -eq 2 ] || { cat "$TMP/err"; fail "$args: exit $rc, not 2"; }
	grep -q -- "--bs [0-9]* is not a multiple of the block size" "$TMP/err" ||
		{ cat "$TMP/err"; fail "$args: no message naming --bs"; }
	[ ! -e "$TMP/img" ] || fail "$args: the image was created"
done

# A replica image shorter than --size: said so, not "Input/output error".
: > "$TMP/empty.log"
head -c 4096 /dev/zero > "$TMP/short.img"
"$TAPESTRY" bench-volume --size 8k --check-log "$TMP/empty.log" \
	--image "$TMP/short.img" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 1 ] || { cat "$TMP/err"; fail "short image: exit $rc, not 1"; }
grep -q "short.img: 4096 bytes, shorter than the volume (--size 8192)" \
	"$TMP/err" || { cat "$TMP/err"; fail "short image: not said"; }
echo "PASS"
