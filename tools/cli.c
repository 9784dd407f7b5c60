/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blkdev.h"
#include "commands.h"
#include "log.h"

int cli_dispatch(const char *cmd, const char *what,
		 const struct command *subs, unsigned int n,
		 void (*usage)(FILE *f), int argc, char **argv)
{
	unsigned int i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "tapestry %s: unknown %s '%s'\n", cmd, what, argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}

volatile sig_atomic_t cli_stop;

static void on_stop(int sig)
{
	(void)sig;
	cli_stop = 1;
}

void cli_catch_stop(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

uint64_t cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool cli_sleep_until(uint64_t deadline)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / 1000000000ULL),
		.tv_nsec = (long)(deadline % 1000000000ULL),
	};

	while (!cli_stop) {
		if (!clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
			return true;
	}
	return false;
}

void cli_partition_err(const char *who, const char *part)
{
	char disk[BLKDEV_NAME_MAX];

	if (blkdev_disk_of("/sys", part, disk, sizeof(disk))) {
		log_err("%s: %s is a partition; Tapestry traces whole disks "
			"only (a partition's I/O reaches the tracer as its "
			"disk's): give the disk that holds it", who, part);
		return;
	}
	log_err("%s: %s is a partition of %s; Tapestry traces whole disks "
		"only (a partition's I/O reaches the tracer as its disk's): "
		"use --device %s, which covers every partition on it", who,
		part, disk, disk);
}
