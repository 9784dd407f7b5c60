/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_opts: the engine's rules for struct engine_opts, in one place:
 * engine_create() applies them, and the command lines that describe a
 * volume (engine_args.c) call them before they open or register
 * anything.  No syscalls, no logging.
 */
#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "proto.h"

static int refuse(struct engine_opts_fault *f, enum engine_opt opt,
		  unsigned int replica, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(struct engine_opts_fault *f, enum engine_opt opt,
		  unsigned int replica, const char *fmt, ...)
{
	va_list ap;

	if (f) {
		f->opt = opt;
		f->replica = replica;
		va_start(ap, fmt);
		vsnprintf(f->why, sizeof(f->why), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int engine_addr_parse(const char *addr, struct sockaddr_in *out)
{
	const char *colon = strrchr(addr, ':');
	char host[INET_ADDRSTRLEN];
	struct in_addr in;
	unsigned long port;
	char *end;

	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	/* Digits only: strtoul would take " 80", "+80" and "-65535". */
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || errno || !port || port > 65535 ||
	    inet_pton(AF_INET, host, &in) != 1)
		return -EINVAL;
	if (out) {
		memset(out, 0, sizeof(*out));
		out->sin_family = AF_INET;
		out->sin_port = htons((uint16_t)port);
		out->sin_addr = in;
	}
	return 0;
}

static int check_replica(const struct engine_opts *o, unsigned int i,
			 struct engine_opts_fault *f)
{
	const struct engine_replica_opts *a = &o->replicas[i];
	unsigned int j;

	if (!a->zone ||
	    !proto_label_ok(a->zone, strlen(a->zone), REPL_ZONE_MAX))
		return refuse(f, ENGINE_OPT_REPLICA, i, "zone '%s': want 1..%d "
			      "bytes of [A-Za-z0-9._-], not starting with '.'",
			      a->zone ? a->zone : "", REPL_ZONE_MAX - 1);
	if (!!a->path == !!a->addr)
		return refuse(f, ENGINE_OPT_REPLICA, i, "zone %s: want exactly "
			      "one of a path or an address", a->zone);
	if (a->addr && engine_addr_parse(a->addr, NULL))
		return refuse(f, ENGINE_OPT_REPLICA, i, "zone %s: address "
			      "'%s' is not IPv4:PORT (port 1..65535)", a->zone,
			      a->addr);
	if (a->zone_id > ENGINE_ZONE_ID_MAX)
		return refuse(f, ENGINE_OPT_ZONE_ID, i, "zone %s: id %u: want "
			      "1..%d", a->zone, a->zone_id, ENGINE_ZONE_ID_MAX);
	for (j = 0; j < i; j++) {
		const struct engine_replica_opts *b = &o->replicas[j];

		if (!strcmp(a->zone, b->zone))
			return refuse(f, ENGINE_OPT_REPLICA, i, "zone '%s' has "
				      "a replica already; one replica per zone",
				      a->zone);
		if (a->zone_id && a->zone_id == b->zone_id)
			return refuse(f, ENGINE_OPT_ZONE_ID, i, "zones %s and "
				      "%s both have id %u", b->zone, a->zone,
				      a->zone_id);
	}
	return 0;
}

/* Size and block size: a power of two from 512 B to one region, the
 * size a non-zero multiple of it. */
static int check_geometry(const struct engine_opts *o,
			  struct engine_opts_fault *f)
{
	uint32_t bs = o->block_size ? o->block_size : 4096;

	if (bs < 512 || bs > EREGION || (bs & (bs - 1)))
		return refuse(f, ENGINE_OPT_BLOCK_SIZE, 0, "%u: want a power "
			      "of two from 512 to %u", bs, EREGION);
	if (!o->size)
		return refuse(f, ENGINE_OPT_SIZE, 0, "none given");
	if (o->size % bs)
		return refuse(f, ENGINE_OPT_SIZE, 0, "%llu is not a multiple "
			      "of the block size (%u)",
			      (unsigned long long)o->size, bs);
	return 0;
}

int engine_opts_check(const struct engine_opts *o,
		      struct engine_opts_fault *f)
{
	unsigned int i;
	int err;

	if (!o->name)
		return refuse(f, ENGINE_OPT_NAME, 0, "none given");
	if (!proto_label_ok(o->name, strlen(o->name), REPL_NAME_MAX))
		return refuse(f, ENGINE_OPT_NAME, 0, "'%s': want 1..%d bytes "
			      "of [A-Za-z0-9._-], not starting with '.'",
			      o->name, REPL_NAME_MAX - 1);
	if ((err = check_geometry(o, f)))
		return err;
	if (!o->state_dir)
		return refuse(f, ENGINE_OPT_STATE_DIR, 0, "none given");
	if (!o->nr_replicas)
		return refuse(f, ENGINE_OPT_REPLICAS, 0, "none given");
	if (o->nr_replicas > ENGINE_MAX_REPLICAS)
		return refuse(f, ENGINE_OPT_REPLICAS, 0, "%u: at most %d",
			      o->nr_replicas, ENGINE_MAX_REPLICAS);
	if (o->min_in_sync > o->nr_replicas)
		return refuse(f, ENGINE_OPT_MIN_IN_SYNC, 0, "%u: the volume has "
			      "only %u replica%s", o->min_in_sync,
			      o->nr_replicas, o->nr_replicas == 1 ? "" : "s");
	if (o->ack != ENGINE_ACK_ALL && o->ack != ENGINE_ACK_QUORUM)
		return refuse(f, ENGINE_OPT_ACK, 0, "%d: want all or quorum",
			      (int)o->ack);
	if (o->queue_depth > ENGINE_QUEUE_DEPTH_MAX)
		return refuse(f, ENGINE_OPT_QUEUE_DEPTH, 0, "%u: at most %d",
			      o->queue_depth, ENGINE_QUEUE_DEPTH_MAX);
	for (i = 0; i < o->nr_replicas; i++)
		if ((err = check_replica(o, i, f)))
			return err;
	return 0;
}

const char *engine_opts_fault_name(const struct engine_opts *o,
				   const struct engine_opts_fault *f)
{
	switch (f->opt) {
	case ENGINE_OPT_NAME: return "--name";
	case ENGINE_OPT_SIZE: return "--size";
	case ENGINE_OPT_BLOCK_SIZE: return "--block-size";
	case ENGINE_OPT_STATE_DIR: return "--state-dir";
	case ENGINE_OPT_REPLICAS: return "--local, --replica";
	case ENGINE_OPT_MIN_IN_SYNC: return "--min-in-sync";
	case ENGINE_OPT_ACK: return "--ack";
	case ENGINE_OPT_QUEUE_DEPTH: return "--queue-depth";
	case ENGINE_OPT_REPLICA:
		return f->replica < o->nr_replicas &&
		       o->replicas[f->replica].path ? "--local" : "--replica";
	case ENGINE_OPT_ZONE_ID: return "--zone-id";
	}
	return "options";
}
