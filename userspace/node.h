/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node: `tapestryd run`, the node agent.
 *
 * It mounts bpffs and tracefs where they are missing, claims its pin
 * directory (an flock that tells readers a live daemon stands behind the
 * pins), starts its services in order, and runs until SIGTERM or SIGINT.
 * Then it stops them in reverse order, which unpins everything they
 * pinned, and removes the pin directory if it made it.
 *
 * A service is a start/stop pair over the node (struct node_service in
 * node.c).  Today: the block tracer and the zone tracer.  Cluster mode
 * adds services the same way (topology watcher, metrics endpoint); a
 * service that needs a descriptor watched registers it with
 * node_watch().
 */
#ifndef TAPESTRY_NODE_H
#define TAPESTRY_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "blktrace.h"

struct node;

struct node_opts {
	const char *pin_root;		/* default BPFSYS_PIN_ROOT */
	const char *btf_path;		/* NULL: the kernel's own */
	enum bpfsys_attach attach;
	uint64_t slow_ns;		/* slow-I/O events; 0 = off */
	bool no_zones;			/* do not run the zone tracer */
	bool verbose;
};

/* Parse `tapestryd run` arguments (argv[0] is "run").  Returns 0, 1 for
 * --help, or -EINVAL with a reason in err. */
int node_parse(int argc, char **argv, struct node_opts *o, char *err,
	       size_t errlen);

void node_usage(FILE *f);

/* Call fn(arg) whenever fd is readable, from the node's loop.  At most
 * NODE_MAX_WATCH descriptors; -ENOSPC beyond. */
#define NODE_MAX_WATCH 16
int node_watch(struct node *n, int fd, void (*fn)(void *arg), void *arg);

/* The role's entry point: parse, run, clean up.  Returns the exit status:
 * 0 after a clean stop, 1 on failure, 2 on bad usage. */
int node_main(int argc, char **argv);

#endif /* TAPESTRY_NODE_H */
