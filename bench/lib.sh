# Sourced by the NBD benchmark scripts.
#
# bench_scratch NAME: a scratch directory D on /dev/shm, a private zone
# registry PIN under bpffs, and PIDS, the servers started; on exit every
# server in PIDS is stopped and waited for, and D and PIN are removed.
bench_scratch() {
	D=$(mktemp -d "/dev/shm/$1.XXXXXX") || exit 1
	PIN=/sys/fs/bpf/tapestry-$1-$$
	PIDS=()
	trap bench_cleanup EXIT
}

bench_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$D" "$PIN"
}
