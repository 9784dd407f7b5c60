// SPDX-License-Identifier: GPL-2.0-only
/*
 * benchfloor: empty programs on the tracers' tracepoints, for
 * bench/b_tracer.sh.  What bpf_stats reports for them (run_time_ns /
 * run_cnt) is the cost of running any program there plus the stats'
 * own clock reads: the floor under the tracers' per-event figures.
 * The io_uring pair is for the zone tracer (6.0+ tracepoint names; the
 * loader leaves them out where the kernel has other ones).
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/block_rq_issue")
int floor_issue(__u64 *ctx)
{
	return 0;
}

SEC("tp_btf/block_rq_complete")
int floor_complete(__u64 *ctx)
{
	return 0;
}

SEC("tp_btf/io_uring_submit_req")
int floor_uring_submit(__u64 *ctx)
{
	return 0;
}

SEC("tp_btf/io_uring_complete")
int floor_uring_complete(__u64 *ctx)
{
	return 0;
}
