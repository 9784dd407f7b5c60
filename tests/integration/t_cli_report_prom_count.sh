#!/bin/bash
# timeout: 60
#
# tapestry report io|zones --prometheus prints one exposition, which
# promtool accepts; --count other than 1 with it (N back to back, or 0 =
# for ever, is no exposition promtool or a scraper accepts) is bad usage:
# exit 2, a message saying why, nothing on stdout, no tracer loaded.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v promtool >/dev/null || skip "promtool not installed"

for kind in io zones; do
	for n in 2 0; do
		rc=0
		timeout 20 "$TAPESTRY" report $kind --prometheus --count $n \
			--interval 0.05 --pin-root "$PIN_ROOT" \
			>"$TMP/out" 2>"$TMP/err" || rc=$?
		if [ "$rc" = 0 ] && [ -s "$TMP/out" ]; then
			promtool check metrics <"$TMP/out" >"$TMP/lint" 2>&1 ||
				fail "report $kind --count $n: exit 0 with an" \
				     "exposition promtool rejects:" \
				     "$(head -3 "$TMP/lint")"
		fi
		[ "$rc" = 2 ] || fail "report $kind --count $n: exit $rc, expected 2"
		[ ! -s "$TMP/out" ] || fail "report $kind --count $n: wrote to stdout"
		grep -q -- "--prometheus prints one exposition.*--count 1" \
			"$TMP/err" || { cat "$TMP/err";
			fail "report $kind --count $n: no clear message"; }
		grep -q "tracing" "$TMP/err" &&
			fail "report $kind --count $n: loaded a tracer"
	done
	# One exposition (--count 1, the default, said or not): promtool-clean.
	for c in "" "--count 1"; do
		timeout 20 "$TAPESTRY" report $kind --prometheus $c \
			--interval 0.05 --pin-root "$PIN_ROOT" >"$TMP/out" \
			2>"$TMP/err" || { cat "$TMP/err";
			fail "report $kind --prometheus $c failed"; }
		[ "$(grep -c '^# HELP tapestry_' "$TMP/out")" -gt 0 ] ||
			fail "report $kind $c: no tapestry_ metric"
		promtool check metrics <"$TMP/out" ||
			fail "promtool rejects report $kind --prometheus $c"
	done
done
echo "PASS"
