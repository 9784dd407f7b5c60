/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_resync: bringing a returning replica up to date from an in-sync
 * one.
 *
 * Resync copies only the target's dirty regions, one 64 KiB region per
 * internal request: a RESYNC_READ (seqs + data) from an in-sync source,
 * then a resync write to the target, which applies only blocks newer than
 * its own.  New writes keep flowing to the target meanwhile, so its newer
 * blocks win over the copies.  A resync starts only once every request
 * issued before the target came back has finished: such a write may have
 * skipped the target (it went into the dirty map instead) and not yet
 * reached the source either.
 *
 * A remote replica whose HELLO said its sync had failed is copied in full
 * (engine_remote.c marks it empty); it says so at every HELLO until it
 * knows the copy landed, so once a resync of every region, started after
 * that HELLO, is done on the same connection, a FLUSH with
 * REPL_F_FULL_COPY tells it (erepl.full_copy).  A failure of that flush,
 * or of the connection, ends the claim; the next HELLO says what is true.
 *
 * Crash recovery, and reconciling replicas when none is in sync, are in
 * engine_recover.c.
 */
#include "engine_int.h"

#include <string.h>

#include "dirtymap.h"
#include "log.h"

#define RS_PER_REPLICA	4

uint64_t engine_resync_rate(const struct erepl *r)
{
	uint64_t dt = uloop_now(r->e->loop) - r->rs.t_start;

	if (r->state != ENGINE_REPLICA_RESYNCING || r->rs.draining || !dt)
		return 0;
	return (uint64_t)((double)r->rs.bytes * 1e9 / (double)dt);
}

void engine_resync_start(struct erepl *r)
{
	struct eresync *rs = &r->rs;

	rs->gen++;
	rs->draining = 1;
	rs->watermark = r->e->next_order;
	rs->cursor = 0;
	rs->inflight = 0;
	rs->done = 0;
	rs->bytes = 0;
	rs->total = dirtymap_count(r->dirty);
	rs->t_start = uloop_now(r->e->loop);
	rs->started++;
	/* Only a copy of every region may be claimed to be a full one. */
	if (r->full_copy == EFC_WANTED &&
	    rs->total == (r->e->size + EREGION - 1) >> EREGION_SHIFT)
		r->full_copy = EFC_COPYING;
	engine_resync_pump(r->e);
}

void engine_resync_abort(struct erepl *r)
{
	r->rs.gen++;
	r->rs.draining = 0;
	r->rs.inflight = 0;
}

static bool older_busy(const struct engine *e, uint64_t watermark)
{
	const struct ereq *q;

	for (q = e->head; q && q->order < watermark; q = q->next)
		if (!q->finished && !q->internal)
			return true;
	return false;
}

/* An in-sync replica to copy from: local first, then the fastest. */
static int pick_source(const struct engine *e)
{
	uint64_t best_lat = UINT64_MAX, lat;
	int i, best = -1;

	for (i = 0; i < (int)e->nr; i++) {
		const struct erepl *r = &e->repl[i];

		if (r->state != ENGINE_REPLICA_IN_SYNC)
			continue;
		lat = r->local ? 0 : r->ewma_ns + 1;
		if (lat < best_lat) {
			best = i;
			best_lat = lat;
		}
	}
	return best;
}

uint32_t engine_region_len(const struct engine *e, uint64_t region)
{
	uint64_t off = region << EREGION_SHIFT;

	return (uint32_t)(e->size - off < EREGION ? e->size - off : EREGION);
}

static void caught_up(struct erepl *r)
{
	struct engine *e = r->e;
	double secs = (double)(uloop_now(e->loop) - r->rs.t_start) / 1e9;

	r->state = ENGINE_REPLICA_IN_SYNC;
	r->rs.completed++;
	r->lag_backoff_ns = 0;
	dirtymap_clear_all(r->missed);
	engine_mark_in_sync(r);
	if (r->full_copy == EFC_COPYING)
		r->full_copy = EFC_TELL;
	log_info("%s: replica %s in sync: resynced %llu regions, %llu bytes "
		 "in %.2f s", e->name, r->zone, (unsigned long long)r->rs.done,
		 (unsigned long long)r->rs.bytes, secs);
}

static void pump_one(struct erepl *r)
{
	struct engine *e = r->e;
	struct eresync *rs = &r->rs;
	uint64_t region;
	struct ereq *q;
	int src;

	/* No replica in sync: nothing can vouch for an empty dirty map
	 * either; the replicas are reconciled instead (engine_recover.c). */
	if (!engine_in_sync(e))
		return;
	if (rs->draining) {
		if (older_busy(e, rs->watermark))
			return;
		rs->draining = 0;
		rs->t_start = uloop_now(e->loop);
	}
	while (rs->inflight < RS_PER_REPLICA) {
		region = dirtymap_next(r->dirty, rs->cursor);
		if (region == DIRTYMAP_NONE && rs->cursor) {
			if (rs->inflight)
				break;
			rs->cursor = 0;	/* retry regions whose copy failed */
			continue;
		}
		if (region == DIRTYMAP_NONE)
			break;
		src = pick_source(e);
		if (src < 0)
			break;
		q = engine_req_internal(e, EOP_RREAD, region << EREGION_SHIFT,
					engine_region_len(e, region));
		if (!q)
			break;
		q->rs_target = (int8_t)r->idx;
		q->rs_gen = rs->gen;
		q->rs_src = (uint8_t)src;
		q->region = region;
		rs->cursor = region + 1;
		rs->inflight++;
		engine_sub_start(q, (unsigned int)src, false);
	}
	if (!rs->inflight && r->state == ENGINE_REPLICA_RESYNCING &&
	    !dirtymap_count(r->dirty))
		caught_up(r);
}

/* r's full copy is done: send it the FLUSH that tells it so, if an
 * internal slot is free (else the next pump tries again).  The flush
 * goes after every write r has out, so it covers every copy. */
static void tell_full_copy(struct erepl *r)
{
	struct ereq *q;

	if (r->state != ENGINE_REPLICA_IN_SYNC || !r->up)
		return;
	q = engine_req_internal(r->e, EOP_FLUSH, 0, 0);
	if (!q)
		return;
	q->rs_target = (int8_t)r->idx;
	q->rs_gen = r->rs.gen;
	q->full_copy = 1;
	r->full_copy = EFC_TELLING;
	engine_sub_start(q, r->idx, false);
}

/* The flagged flush is done.  If it failed, engine_sub_done() has
 * degraded r already (and marked all of it to copy when its sync
 * failed). */
static void told_full_copy(struct ereq *q)
{
	struct erepl *r = &q->e->repl[q->rs_target];

	if (q->sub[r->idx].state == SUB_OK && r->full_copy == EFC_TELLING &&
	    r->rs.gen == q->rs_gen) {
		r->full_copy = EFC_NONE;
		log_info("%s: replica %s: its full copy is durable; told so",
			 q->e->name, r->zone);
	}
	engine_req_finish_internal(q);
}

void engine_resync_pump(struct engine *e)
{
	unsigned int i;

	if (e->shutting_down || e->recon.active)
		return;
	for (i = 0; i < e->nr; i++) {
		if (e->repl[i].state == ENGINE_REPLICA_RESYNCING)
			pump_one(&e->repl[i]);
		if (e->repl[i].full_copy == EFC_TELL)
			tell_full_copy(&e->repl[i]);
	}
}

void engine_resync_step(struct ereq *q)
{
	struct engine *e = q->e;
	struct erepl *r = &e->repl[q->rs_target];
	bool valid = r->state == ENGINE_REPLICA_RESYNCING &&
		     r->rs.gen == q->rs_gen && !e->shutting_down;

	if (q->full_copy) {
		told_full_copy(q);
		return;
	}
	if (q->phase == 0 && valid && q->sub[q->rs_src].state == SUB_OK) {
		q->phase = 1;
		q->op = EOP_RWRITE;
		engine_sub_start(q, r->idx, false);
		return;
	}
	if (q->phase == 1 && valid && q->sub[r->idx].state == SUB_OK) {
		dirtymap_clear(r->dirty, q->region);
		dirtymap_clear(r->missed, q->region);
		r->rs.done++;
		r->rs.bytes += q->len;
	}
	if (q->rs_gen == r->rs.gen && r->rs.inflight)
		r->rs.inflight--;
	engine_req_finish_internal(q);
	if (valid)
		engine_resync_pump(e);
}

