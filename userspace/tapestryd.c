/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestryd: the node daemon.  One binary, one role per subcommand:
 *
 *   tapestryd run       trace this node's block I/O and zones; pin the maps
 *   tapestryd replica   serve replica images to engines in other zones
 *   tapestryd volume    run a volume's engine and serve it over NBD
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "node.h"
/* --- replica server --- */
#include "replica.h"
/* --- nbd frontend --- */
#include "volume.h"

struct role {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* --- daemon roles --- */

static const struct role roles[] = {
	/* --- tracer --- */
	{ "run", node_main, "trace this node's block I/O and zones; pin "
	  "the maps" },

	/* --- replica server --- */
	{ "replica", replica_main, "serve volume replicas to engines over TCP" },

	/* --- nbd frontend --- */
	{ "volume", volume_main, "run a volume's engine and serve it over NBD" },

	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	const struct role *r;

	fprintf(f, "usage: tapestryd <role> [options]\n"
		   "       tapestryd <role> --help\n\nroles:\n");
	for (r = roles; r->name; r++)
		fprintf(f, "  %-10s %s\n", r->name, r->summary);
}

int main(int argc, char **argv)
{
	const struct role *r;

	log_init("tapestryd", LOG_INFO);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	for (r = roles; r->name; r++)
		if (!strcmp(argv[1], r->name))
			return r->run(argc - 1, argv + 1);
	fprintf(stderr, "tapestryd: unknown role '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
