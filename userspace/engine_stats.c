/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_stats: what callers can see of a volume and its replicas.
 */
#include "engine.h"

#include <errno.h>
#include <string.h>

#include "dirtymap.h"
#include "engine_int.h"

const char *engine_replica_state_name(enum engine_replica_state s)
{
	switch (s) {
	case ENGINE_REPLICA_IN_SYNC:
		return "in-sync";
	case ENGINE_REPLICA_DEGRADED:
		return "degraded";
	case ENGINE_REPLICA_RESYNCING:
		return "resyncing";
	}
	return "?";
}

void engine_get_stats(const struct engine *e, struct engine_stats *out)
{
	unsigned int i;

	memset(out, 0, sizeof(*out));
	out->nr_replicas = e->nr;
	out->in_sync = engine_in_sync(e);
	out->writes = e->writes;
	out->reads = e->reads;
	out->flushes = e->flushes;
	out->failed = e->failed;
	out->reconciles = e->recon.runs;
	out->reconciling = e->recon.active;
	for (i = 0; i < e->nr; i++) {
		const struct erepl *r = &e->repl[i];
		struct engine_replica_stats *s = &out->replica[i];

		memcpy(s->zone, r->zone, sizeof(s->zone));
		s->zone[sizeof(s->zone) - 1] = 0;
		s->zone_id = r->zone_id;
		s->local = r->local;
		s->state = r->state;
		s->ewma_ns = r->ewma_ns;
		s->writes = r->writes;
		s->errors = r->errors;
		s->dirty_regions = dirtymap_count(r->dirty);
		s->resync_done = r->rs.done;
		s->resync_total = r->rs.total;
		s->resync_bytes = r->rs.bytes;
		s->resync_bytes_per_s = engine_resync_rate(r);
		s->resyncs = r->rs.completed;
		s->lagged = r->lagged;
		s->inline_ops = r->local ? engine_local_inline_ops(r) : 0;
	}
}

int engine_get_zone_hist(const struct engine *e, unsigned int replica,
			 struct hist *out)
{
	if (replica >= e->nr)
		return -EINVAL;
	*out = e->repl[replica].hist;
	return 0;
}
