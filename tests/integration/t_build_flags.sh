#!/bin/bash
# timeout: 30
#
# The Makefile's own compiler flags survive CFLAGS/LDFLAGS given on the
# make command line (`make CFLAGS="-O0 -g"` for a debug build used to
# drop -Iinclude, -std=gnu11, -Werror, -D_GNU_SOURCE, the sanitizers of
# SAN=1 and fuse3's include path, and fail).  Dry runs only (make -n -W):
# nothing is built or changed.
set -u
cd "${TAPESTRY_ROOT:-.}" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
command -v make > /dev/null || { echo "SKIP: no make"; exit 77; }
# Not the variables of a `make check` this may run under.
unset MAKEFLAGS MFLAGS MAKELEVEL

# cmd TARGET SOURCE MAKE-ARGS...: the command make would run for TARGET.
cmd() {
	local target=$1 src=$2
	shift 2
	make -n -W "$src" "$@" "$target" 2>&1 | grep -e "-o $target "
}

c=$(cmd build/obj/userspace/uloop.o userspace/uloop.c CFLAGS="-O0 -g")
echo "CFLAGS=-O0: $c"
for f in -O0 -Iinclude -std=gnu11 -Werror -D_GNU_SOURCE -MMD; do
	[[ " $c " == *" $f "* ]] || fail "CFLAGS=-O0: no $f"
done

c=$(cmd build/san/obj/userspace/uloop.o userspace/uloop.c SAN=1 \
	CFLAGS=-O1 LDFLAGS=-Wl,-O1)
echo "SAN=1 CFLAGS=-O1: $c"
for f in -O1 -Iinclude -fsanitize=address,undefined; do
	[[ " $c " == *" $f "* ]] || fail "SAN=1 CFLAGS=-O1: no $f"
done
c=$(cmd build/san/bin/tapestry-replctl tests/tools/replctl.c SAN=1 \
	CFLAGS=-O1 LDFLAGS=-Wl,-O1)
echo "SAN=1 LDFLAGS=-Wl,-O1: $c"
for f in -Wl,-O1 -fsanitize=address,undefined; do
	[[ " $c " == *" $f "* ]] || fail "SAN=1 LDFLAGS=-Wl,-O1: no $f link flag $f"
done

# scripts/deps.sh installs libfuse3-dev, so in CI this check runs.
if ! fuse=$(pkg-config --cflags fuse3 2>/dev/null); then
	echo "SKIP: the slowfs fuse3 flags check: pkg-config finds no fuse3" \
		"(libfuse3-dev, scripts/deps.sh)"
elif [ -z "$fuse" ]; then
	echo "SKIP: the slowfs fuse3 flags check: fuse3 needs no cflags" \
		"here, so there is no flag to look for"
else
	c=$(cmd build/obj/tests/tools/slowfs.o tests/tools/slowfs.c CFLAGS=-O0)
	echo "slowfs, CFLAGS=-O0: $c"
	[[ " $c " == *" ${fuse%% *} "* ]] || fail "slowfs: no fuse3 flags ($fuse)"
fi
echo "PASS"
