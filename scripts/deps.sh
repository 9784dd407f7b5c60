#!/bin/sh
# Install the Debian packages that Tapestry's build, tests, demo and
# benchmarks need.  Packages already present are left alone, so this is
# cheap to run before every build.  Only Debian's own repositories are used.
#
#   scripts/deps.sh           install what is missing (needs root)
#   scripts/deps.sh --check   list what is missing, exit 1 if anything is
set -eu

# Build: compilers, BPF toolchain, libraries found through pkg-config.
BUILD_PKGS="gcc make pkg-config clang llvm bpftool libbpf-dev libelf-dev
zlib1g-dev liburing-dev libjson-c-dev libisal-dev libcmocka-dev
libclang-rt-14-dev libfuse3-dev"

# Tests, demo and benchmarks: real peers and tools we measure against.
TEST_PKGS="fio libnbd-bin nbdkit qemu-utils bpftrace ceph-base prometheus
etcd-server iproute2 util-linux procps kmod psmisc coreutils time jq python3
e2fsprogs"

missing=""
for p in $BUILD_PKGS $TEST_PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = "installed" ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "${1:-}" = "--check" ]; then
	echo "missing packages:$missing"
	exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run 'make deps' as root, or install them with apt-get" >&2
	exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have never fetched the package lists.
if ! apt-get install -y -q --no-install-recommends $missing; then
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi
