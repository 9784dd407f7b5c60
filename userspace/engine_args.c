/* SPDX-License-Identifier: Apache-2.0 */
#include "engine_args.h"

#include "abi/repl.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const struct option engine_args_options[] = {
	{ "name", required_argument, NULL, ENGINE_ARG_NAME },
	{ "size", required_argument, NULL, ENGINE_ARG_SIZE },
	{ "block-size", required_argument, NULL, ENGINE_ARG_BLOCK_SIZE },
	{ "state-dir", required_argument, NULL, ENGINE_ARG_STATE_DIR },
	{ "create", no_argument, NULL, ENGINE_ARG_CREATE },
	{ "local", required_argument, NULL, ENGINE_ARG_LOCAL },
	{ "replica", required_argument, NULL, ENGINE_ARG_REPLICA },
	{ "zone-id", required_argument, NULL, ENGINE_ARG_ZONE_ID },
	{ "ack", required_argument, NULL, ENGINE_ARG_ACK },
	{ "min-in-sync", required_argument, NULL, ENGINE_ARG_MIN_IN_SYNC },
	{ "queue-depth", required_argument, NULL, ENGINE_ARG_QUEUE_DEPTH },
	{ "hard-timeout-ms", required_argument, NULL, ENGINE_ARG_HARD_TIMEOUT },
	{ "soft-floor-us", required_argument, NULL, ENGINE_ARG_SOFT_FLOOR },
	{ "soft-mult", required_argument, NULL, ENGINE_ARG_SOFT_MULT },
	{ "flush-timeout-ms", required_argument, NULL,
	  ENGINE_ARG_FLUSH_TIMEOUT },
	{ "lag-cut", required_argument, NULL, ENGINE_ARG_LAG_CUT },
	{ NULL, 0, NULL, 0 },
};

/* Zone ids named before their replica; resolved in _finish. */
static struct {
	char zone[REPL_ZONE_MAX];
	unsigned int id;
} pending_ids[ENGINE_MAX_REPLICAS * 2];
static unsigned int nr_pending;

int engine_args_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	/* Decimal, or hex after 0x; never octal: 010M is ten MiB. */
	errno = 0;
	v = strtoull(s, &end, s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ?
			      16 : 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end += (end[0] == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int uint_arg(const char *s, unsigned int max, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static int add_replica(struct engine_opts *o, char *arg, bool local)
{
	const char *opt = local ? "--local" : "--replica";
	struct engine_replica_opts *r;
	char *eq = strchr(arg, '=');

	/* The zone and the path or address are the engine's to judge
	 * (engine_args_finish); here only the spelling ZONE=VALUE. */
	if (!eq || eq == arg || !eq[1]) {
		fprintf(stderr, "%s: want ZONE=%s, got '%s'\n", opt,
			local ? "PATH" : "IPv4:PORT (port 1..65535)", arg);
		return -EINVAL;
	}
	if (o->nr_replicas == ENGINE_MAX_REPLICAS) {
		fprintf(stderr, "%s: at most %d replicas\n", opt,
			ENGINE_MAX_REPLICAS);
		return -EINVAL;
	}
	*eq = 0;
	r = &o->replicas[o->nr_replicas++];
	memset(r, 0, sizeof(*r));
	r->zone = arg;
	if (local)
		r->path = eq + 1;
	else
		r->addr = eq + 1;
	return 0;
}

static int zone_id(char *arg)
{
	char *eq = strchr(arg, '=');
	unsigned int id;

	/* 0 would mean "no id"; the upper bound is the engine's. */
	if (!eq || eq == arg || uint_arg(eq + 1, UINT_MAX, &id) || !id ||
	    nr_pending == sizeof(pending_ids) / sizeof(pending_ids[0]) ||
	    (size_t)(eq - arg) >= REPL_ZONE_MAX) {
		fprintf(stderr, "--zone-id: want ZONE=1..254, got '%s'\n", arg);
		return -EINVAL;
	}
	memcpy(pending_ids[nr_pending].zone, arg, (size_t)(eq - arg));
	pending_ids[nr_pending].zone[eq - arg] = 0;
	pending_ids[nr_pending++].id = id;
	return 0;
}

static int bad(const char *opt, const char *arg)
{
	fprintf(stderr, "bad value for --%s: '%s'\n", opt, arg);
	return -EINVAL;
}

int engine_args_apply(struct engine_opts *o, int opt, char *arg)
{
	uint64_t v;
	unsigned int u;

	switch (opt) {
	case ENGINE_ARG_NAME: o->name = arg; return 0;
	case ENGINE_ARG_STATE_DIR: o->state_dir = arg; return 0;
	case ENGINE_ARG_CREATE: o->create = true; return 0;
	case ENGINE_ARG_LOCAL: return add_replica(o, arg, true);
	case ENGINE_ARG_REPLICA: return add_replica(o, arg, false);
	case ENGINE_ARG_ZONE_ID: return zone_id(arg);
	case ENGINE_ARG_SIZE:
		if (engine_args_size(arg, &o->size) || !o->size)
			return bad("size", arg);
		return 0;
	case ENGINE_ARG_BLOCK_SIZE:
		/* 0 would mean the default; the rest is the engine's rule. */
		if (engine_args_size(arg, &v) || !v || v > UINT32_MAX)
			return bad("block-size", arg);
		o->block_size = (uint32_t)v;
		return 0;
	case ENGINE_ARG_ACK:
		if (!strcmp(arg, "all"))
			o->ack = ENGINE_ACK_ALL;
		else if (!strcmp(arg, "quorum"))
			o->ack = ENGINE_ACK_QUORUM;
		else
			return bad("ack", arg);
		return 0;
	case ENGINE_ARG_LAG_CUT:
		if (!strcmp(arg, "spare"))
			o->lag_cut = ENGINE_LAG_CUT_SPARE;
		else if (!strcmp(arg, "floor"))
			o->lag_cut = ENGINE_LAG_CUT_FLOOR;
		else
			return bad("lag-cut", arg);
		return 0;
	case ENGINE_ARG_MIN_IN_SYNC:
		if (uint_arg(arg, UINT_MAX, &o->min_in_sync))
			return bad("min-in-sync", arg);
		return 0;
	case ENGINE_ARG_QUEUE_DEPTH:
		/* Tighter than the engine's ENGINE_QUEUE_DEPTH_MAX: the
		 * callers register queue depth + ENGINE_LAG_MAX + 64 buffers,
		 * and io_uring takes at most 16384. */
		if (uint_arg(arg, 4096, &o->queue_depth) || !o->queue_depth)
			return bad("queue-depth", arg);
		return 0;
	case ENGINE_ARG_HARD_TIMEOUT:
		if (uint_arg(arg, 600000, &u) || !u)
			return bad("hard-timeout-ms", arg);
		o->hard_timeout_ms = u;
		return 0;
	case ENGINE_ARG_FLUSH_TIMEOUT:
		if (uint_arg(arg, 3600000, &u) || !u)
			return bad("flush-timeout-ms", arg);
		o->flush_timeout_ms = u;
		return 0;
	case ENGINE_ARG_SOFT_FLOOR:
		if (uint_arg(arg, 60000000, &u) || !u)
			return bad("soft-floor-us", arg);
		o->soft_floor_us = u;
		return 0;
	case ENGINE_ARG_SOFT_MULT:
		if (uint_arg(arg, 1000, &o->soft_mult) || !o->soft_mult)
			return bad("soft-mult", arg);
		return 0;
	}
	return -EINVAL;
}

int engine_args_finish(struct engine_opts *o)
{
	struct engine_opts_fault f;
	unsigned int i, j;

	for (i = 0; i < nr_pending; i++) {
		for (j = 0; j < o->nr_replicas; j++)
			if (!strcmp(o->replicas[j].zone, pending_ids[i].zone))
				break;
		if (j == o->nr_replicas) {
			fprintf(stderr, "--zone-id %s: no such zone\n",
				pending_ids[i].zone);
			return -EINVAL;
		}
		o->replicas[j].zone_id = pending_ids[i].id;
	}
	nr_pending = 0;
	if (engine_opts_check(o, &f)) {
		fprintf(stderr, "%s: %s\n", engine_opts_fault_name(o, &f),
			f.why);
		return -EINVAL;
	}
	return 0;
}

void engine_args_usage(FILE *f, enum engine_ack ack,
		       unsigned int queue_depth)
{
	fprintf(f,
"volume:\n"
"  --name NAME             volume name ([A-Za-z0-9._-], < 64 bytes)\n"
"  --size SIZE             volume size (4096, 64k, 256M, 1G ...)\n"
"  --block-size N          block size: 512 .. 64k, a power of two (default\n"
"                          4096); --size must be a multiple of it\n"
"  --state-dir DIR         dirty maps, activity log, seq state\n"
"  --create                create missing replica images\n"
"  --local ZONE=PATH       a replica in a local file or block device\n"
"  --replica ZONE=IP:PORT  a replica on a replica server (tapestryd replica)\n"
"  --zone-id ZONE=ID       zone id in io_uring user_data (1..254)\n"
"  --ack all|quorum        ack policy (default %s)\n"
"  --min-in-sync N         below this, writes fail with EIO\n"
"  --queue-depth N         request slots (default %u)\n"
"  --hard-timeout-ms N     degrade a replica after N ms (default 500)\n"
"  --flush-timeout-ms N    ... but give a flush or FUA write N ms, and do not\n"
"                          time out what waits behind one (default 10000)\n"
"  --soft-floor-us N       soft deadline floor (default 2000)\n"
"  --soft-mult K           soft deadline = max(floor, K x EWMA) (default 4)\n"
"  --lag-cut spare|floor   cut off a replica that cannot keep up only while\n"
"                          a spare stays in sync (spare, the default; else\n"
"                          callers wait for it), or down to the acks needed\n",
		ack == ENGINE_ACK_QUORUM ? "quorum" : "all",
		queue_depth ? queue_depth : 128);
}
