/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_floor: attach the empty benchfloor programs and wait for SIGINT or
 * SIGTERM.  Prints "ready" on stdout once attached.  The io_uring pair is
 * left out on kernels whose BTF has no such tracepoints (before 6.0 they
 * had other names); the block pair is always there.  Exit 0, or 1.
 */
#include <bpf/btf.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "benchfloor.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static bool has_tracepoint(const struct btf *btf, const char *typedef_name)
{
	return btf && btf__find_by_name_kind(btf, typedef_name,
					     BTF_KIND_TYPEDEF) > 0;
}

int main(void)
{
	struct benchfloor_bpf *skel;
	struct btf *btf;
	bool uring;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	btf = btf__load_vmlinux_btf();
	uring = has_tracepoint(btf, "btf_trace_io_uring_submit_req") &&
		has_tracepoint(btf, "btf_trace_io_uring_complete");
	btf__free(btf);
	skel = benchfloor_bpf__open();
	if (skel) {
		bpf_program__set_autoload(skel->progs.floor_uring_submit, uring);
		bpf_program__set_autoload(skel->progs.floor_uring_complete,
					  uring);
	}
	if (!skel || benchfloor_bpf__load(skel) ||
	    benchfloor_bpf__attach(skel)) {
		fprintf(stderr, "bench_floor: cannot load or attach\n");
		benchfloor_bpf__destroy(skel);
		return 1;
	}
	printf("ready%s\n", uring ? "" : " (no io_uring floor)");
	fflush(stdout);
	while (!stop)
		pause();
	benchfloor_bpf__destroy(skel);
	return 0;
}
