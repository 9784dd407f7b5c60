/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_floor: attach the empty benchfloor programs and wait for SIGINT or
 * SIGTERM.  Prints "ready" on stdout once attached.  Exit 0, or 1.
 */
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

int main(void)
{
	struct benchfloor_bpf *skel;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	skel = benchfloor_bpf__open_and_load();
	if (!skel || benchfloor_bpf__attach(skel)) {
		fprintf(stderr, "bench_floor: cannot load or attach\n");
		benchfloor_bpf__destroy(skel);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
	benchfloor_bpf__destroy(skel);
	return 0;
}
