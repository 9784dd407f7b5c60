#!/bin/bash
# timeout: 60
#
# Removing an empty zone registry (what an exiting tracer does) races
# with processes that register zones: a zone registered between the
# remover's emptiness check and its unpinning must keep its registry and
# its id, and no other zone may get that id afterwards.  zt_load
# --race-remove runs many such races, each under a fresh pin root; then
# parallel registrars must agree on every id, and the CLI list them.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
ZT=$BUILD/bin/zt_load
[ -x "$ZT" ] || fail "$ZT not built"

"$ZT" --pin-root "$PIN_ROOT/trials" --race-remove 100 >"$TMP/lost" 2>"$TMP/err" ||
	{ cat "$TMP/err"; fail "$(cat "$TMP/lost") of 100 races lost a registered zone"; }

# Four registrars of the same eight names, in parallel, starting on no
# registry at all: each
# name must come out with one id everywhere, and distinct names distinct ids.
R=$PIN_ROOT/cli
for p in 1 2 3 4; do
	(for n in a b c d e f g h; do
		"$ZT" --pin-root "$R" --register "zone-$n" || exit 1
	done) >"$TMP/reg.$p" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a registrar failed: $(cat "$TMP"/reg.*)"
done
sort -u "$TMP"/reg.* >"$TMP/ids"
[ "$(wc -l <"$TMP/ids")" -eq 8 ] || { cat "$TMP/ids"; fail "a name got two ids"; }
[ "$(cut -d' ' -f2 "$TMP/ids" | sort -u | wc -l)" -eq 8 ] ||
	{ cat "$TMP/ids"; fail "two names share an id"; }
"$TAPESTRY" zone list --pin-root "$R" | awk '{ print $2, $1 }' | sort >"$TMP/list"
diff "$TMP/ids" "$TMP/list" || fail "the registry does not hold the ids handed out"
echo "PASS"
