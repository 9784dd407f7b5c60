/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_args: the command-line options that describe a volume, shared by
 * `tapestry bench-volume` and `tapestryd volume`, so both accept the same
 * spelling:
 *
 *   --name NAME --size SIZE [--block-size N] --state-dir DIR [--create]
 *   --local ZONE=PATH | --replica ZONE=IP:PORT     (repeatable, in order)
 *   [--zone-id ZONE=ID] [--ack all|quorum] [--min-in-sync N]
 *   [--queue-depth N] [--hard-timeout-ms N] [--flush-timeout-ms N]
 *   [--soft-floor-us N] [--soft-mult K] [--lag-cut spare|floor]
 *
 * Strings stored in the opts point into the arguments (borrowed).
 */
#ifndef TAPESTRY_ENGINE_ARGS_H
#define TAPESTRY_ENGINE_ARGS_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

/* getopt_long values of the options above; callers use values below. */
enum {
	ENGINE_ARG_FIRST = 0x1000,
	ENGINE_ARG_NAME = ENGINE_ARG_FIRST,
	ENGINE_ARG_SIZE,
	ENGINE_ARG_BLOCK_SIZE,
	ENGINE_ARG_STATE_DIR,
	ENGINE_ARG_CREATE,
	ENGINE_ARG_LOCAL,
	ENGINE_ARG_REPLICA,
	ENGINE_ARG_ZONE_ID,
	ENGINE_ARG_ACK,
	ENGINE_ARG_MIN_IN_SYNC,
	ENGINE_ARG_QUEUE_DEPTH,
	ENGINE_ARG_HARD_TIMEOUT,
	ENGINE_ARG_SOFT_FLOOR,
	ENGINE_ARG_SOFT_MULT,
	ENGINE_ARG_FLUSH_TIMEOUT,
	ENGINE_ARG_LAG_CUT,
	ENGINE_ARG_LAST,
};

/* The option table, terminated by a zeroed entry; to be copied in front
 * of the caller's own options. */
extern const struct option engine_args_options[];
#define ENGINE_ARGS_NR_OPTIONS (ENGINE_ARG_LAST - ENGINE_ARG_FIRST)

/* Apply one parsed option.  Returns 0, or -EINVAL with a message on
 * stderr (prog: what is wrong). */
int engine_args_apply(struct engine_opts *o, int opt, char *arg);

/* After parsing: zone ids given with --zone-id before their --local or
 * --replica are resolved, then the engine's own rules applied
 * (engine_opts_check), so a volume the engine would refuse is refused
 * before anything is opened or registered.  Returns 0 or -EINVAL with a
 * message naming the option. */
int engine_args_finish(struct engine_opts *o);

/* Usage lines for the options above, saying the caller's defaults: its
 * ack policy and queue depth before parsing (a queue_depth of 0 is the
 * engine's 128). */
void engine_args_usage(FILE *f, enum engine_ack ack,
		       unsigned int queue_depth);

/* "4096", "4k", "256M", "1g", "2T" -> bytes.  -EINVAL on junk or
 * overflow. */
int engine_args_size(const char *s, uint64_t *out);

#endif /* TAPESTRY_ENGINE_ARGS_H */
