#!/bin/sh
# Run each unit test binary; exit 0 only if all pass.  liburing's
# convention: 0 pass, 77 skip (said out loud, with the reason), else fail.
fail=0 pass=0 skip=0
for t in "$@"; do
	"$t"
	rc=$?
	case $rc in
	0) pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)); echo "SKIP: $t" ;;
	*) fail=$((fail + 1)); echo "FAIL: $t (exit $rc)" ;;
	esac
done
echo "unit: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
