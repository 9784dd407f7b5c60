/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestry: the command-line tool.  It dispatches to one subcommand per
 * job; each lives in its own tools/cmd_*.c.
 */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static const struct command commands[] = {
	/* --- tracer --- */
	{ "report", cmd_report, "latency reports: io (block devices), zones" },
	{ "trace", cmd_trace, "event streams: slow (slow block I/O)" },
	{ "zone", cmd_zone, "the node's zone registry: ids, names, peers" },

	/* --- placer --- */
	{ "place", cmd_place, "place volumes' replicas across zones and nodes" },
	{ "plan", cmd_plan, "plan the moves from a placement to a balanced one" },
	{ "simulate", cmd_simulate, "simulate a cluster event, measure the placer" },

	/* --- engine --- */
	{ "bench-volume", cmd_bench_volume,
	  "drive a replicated volume in-process: load, verify, dump" },

	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	const struct command *c;

	fprintf(f, "usage: tapestry <command> [options]\n"
		   "       tapestry <command> --help\n\ncommands:\n");
	for (c = commands; c->name; c++)
		fprintf(f, "  %-14s %s\n", c->name, c->summary);
}

int main(int argc, char **argv)
{
	const struct command *c;

	log_init("tapestry", LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (c = commands; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "tapestry: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
