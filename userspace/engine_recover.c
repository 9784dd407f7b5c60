/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_recover: reconciling the replicas when none of them is in sync,
 * so there is no copy to resync from: after every replica was degraded at
 * once (all zones stalled past the hard timeout, say), and at startup
 * after an unclean stop (crash recovery).
 *
 * The replicas that are reachable (the *members*) may disagree only in
 * regions of the activity log (writes that were in flight) and of their
 * own dirty maps (writes they missed, or that were abandoned on them).
 * Those regions are put in the activity log (so a crash meanwhile finds
 * them again) and each is read, seqs and data, from every member; where
 * the members differ (by seq or, since a write may land without its seq
 * being recorded, by data), or some replica is not a member, the newest
 * block of each is written back to every member under one fresh seq,
 * newer than any seq used before, so that a replica that comes back later
 * holding a never-acked newer block is overwritten by its resync.  The
 * other replicas get those regions in their dirty and missed maps first.
 * Once every region is done and the maps are durable, the members are in
 * sync and writes resume.
 *
 * It starts only when the members are enough to take writes
 * (engine_can_write) and can vouch for every acked write
 * (engine_recon_unsafe(), engine_policy.c): a member set that cannot is
 * logged, and the engine waits for more replicas to come back.
 */
#include "engine_int.h"

#include <endian.h>
#include <stddef.h>
#include <string.h>

#include "dirtymap.h"
#include "log.h"

static bool member(const struct engine *e, unsigned int i)
{
	return e->recon.members & (1U << i);
}

/* Replicas that are back and wait to be reconciled. */
static unsigned int candidates(const struct engine *e)
{
	unsigned int i, m = 0;

	for (i = 0; i < e->nr; i++)
		if (e->repl[i].up &&
		    e->repl[i].state == ENGINE_REPLICA_RESYNCING)
			m |= 1U << i;
	return m;
}

static uint64_t unsafe_region(const struct engine *e, unsigned int members)
{
	const uint64_t *missed[ENGINE_MAX_REPLICAS];
	bool in_sync[ENGINE_MAX_REPLICAS];
	unsigned int i;

	for (i = 0; i < e->nr; i++) {
		missed[i] = dirtymap_words(e->repl[i].missed);
		in_sync[i] = dirtymap_flags(e->repl[i].missed) &
			     EMISSED_IN_SYNC;
	}
	return engine_recon_unsafe(e->ack, e->nr, members, missed, in_sync,
				   e->recon.crash ?
				   dirtymap_words(e->actlog) : NULL,
				   dirtymap_nr_words(e->actlog));
}

static void refuse(struct engine *e, unsigned int members, uint64_t region)
{
	char who[ENGINE_MAX_REPLICAS * (REPL_ZONE_MAX + 1)] = "";
	unsigned int i;

	if (e->recon.refused == members)
		return;		/* said already */
	e->recon.refused = members;
	for (i = 0; i < e->nr; i++)
		if (!(members & (1U << i))) {
			strcat(who, " ");
			strcat(who, e->repl[i].zone);
		}
	log_warn("%s: no replica in sync, and the reachable ones may all "
		 "lack an acked write (region %llu): waiting for one of:%s",
		 e->name, (unsigned long long)region, who);
}

static void start(struct engine *e, unsigned int members)
{
	struct erecon *rc = &e->recon;
	unsigned int i;

	rc->active = 1;
	rc->members = members;
	rc->refused = 0;
	rc->draining = 1;
	rc->failed = 0;
	rc->syncing = 0;
	rc->watermark = e->next_order;
	rc->cursor = 0;
	rc->inflight = 0;
	rc->rewritten = 0;
	rc->t_start = uloop_now(e->loop);
	for (i = 0; i < e->nr; i++)
		if (member(e, i))
			engine_resync_abort(&e->repl[i]);
}

/* Requests older than the reconciliation may still land on a member
 * (a local write the kernel still holds): they must be done first. */
static bool older_busy(const struct engine *e)
{
	const struct ereq *q;

	for (q = e->head; q && q->order < e->recon.watermark; q = q->next)
		if (!q->finished && !q->internal)
			return true;
	return false;
}

/* The regions to reconcile go into the activity log; the replicas that
 * are not members may lack what the members will hold. */
static void begin(struct engine *e)
{
	struct erecon *rc = &e->recon;
	unsigned int i, n = 0;

	for (i = 0; i < e->nr; i++)
		if (member(e, i))
			dirtymap_merge(e->actlog, e->repl[i].dirty);
	for (i = 0; i < e->nr; i++) {
		if (member(e, i))
			continue;
		dirtymap_merge(e->repl[i].dirty, e->actlog);
		dirtymap_merge(e->repl[i].missed, e->actlog);
	}
	for (i = 0; i < e->nr; i++)
		n += member(e, i);
	rc->regions = dirtymap_count(e->actlog);
	rc->draining = 0;
	log_info("%s: %s: reconciling %llu regions on %u replicas", e->name,
		 rc->crash ? "unclean stop, recovering" : "no replica in sync",
		 (unsigned long long)rc->regions, n);
}

static void region_done(struct engine *e, uint64_t region)
{
	unsigned int i;

	dirtymap_clear(e->actlog, region);
	for (i = 0; i < e->nr; i++) {
		if (!member(e, i))
			continue;
		dirtymap_clear(e->repl[i].dirty, region);
		dirtymap_clear(e->repl[i].missed, region);
	}
}

/* Every region done and the maps durable: the members are in sync. */
static void finish(struct engine *e)
{
	struct erecon *rc = &e->recon;
	unsigned int i, n = 0;

	rc->active = 0;
	e->recon.runs++;
	for (i = 0; i < e->nr; i++) {
		struct erepl *r = &e->repl[i];

		if (!member(e, i) || !r->up ||
		    r->state != ENGINE_REPLICA_RESYNCING) {
			/* Not in sync from now on, whatever it was before
			 * (it may have vouched for a crash until now). */
			dirtymap_set_flags(r->missed, dirtymap_flags(r->missed) &
						      ~EMISSED_IN_SYNC);
			continue;
		}
		r->state = ENGINE_REPLICA_IN_SYNC;
		r->lag_backoff_ns = 0;
		dirtymap_clear_all(r->dirty);	/* all of it was in the log */
		dirtymap_clear_all(r->missed);
		engine_mark_in_sync(r);
		/* Its HELLO on this connection said its sync failed, so all
		 * of it was dirty, and every region has been reconciled onto
		 * it since (or copied by a resync before): a full copy, which
		 * the FLUSH with REPL_F_FULL_COPY tells it, as a resync's end
		 * does.  Else it says sync failed at every HELLO, and each
		 * reconnect copies all of it again. */
		if (r->full_copy == EFC_WANTED || r->full_copy == EFC_COPYING)
			r->full_copy = EFC_TELL;
		n++;
	}
	log_info("%s: %s: reconciled %llu regions (%llu rewritten) in %.2f "
		 "s: %u replicas in sync", e->name,
		 rc->crash ? "recovery done" : "no replica was in sync",
		 (unsigned long long)rc->regions,
		 (unsigned long long)rc->rewritten,
		 (double)(uloop_now(e->loop) - rc->t_start) / 1e9, n);
	rc->crash = 0;
	for (i = 0; i < e->nr; i++)
		if (e->repl[i].up &&
		    e->repl[i].state == ENGINE_REPLICA_RESYNCING)
			engine_resync_start(&e->repl[i]);
}

static void synced(struct ewait *w, int err)
{
	struct engine *e = (struct engine *)((char *)w -
					     offsetof(struct engine, recon.sw));

	e->recon.syncing = 0;
	if (err) {
		e->recon.failed = 1;	/* start over from the tick */
		e->recon.active = 0;
		return;
	}
	finish(e);
}

static void wait_durable(struct engine *e)
{
	struct erecon *rc = &e->recon;
	int ret;

	rc->syncing = 1;
	rc->sw.fn = synced;
	ret = engine_sync_wait(e, &rc->sw);
	if (ret)
		synced(&rc->sw, ret < 0 ? ret : 0);
}

static void read_region(struct engine *e, uint64_t region)
{
	struct ereq *q = engine_req_internal(e, EOP_RREAD,
					     region << EREGION_SHIFT,
					     engine_region_len(e, region));
	unsigned int i;

	if (!q)
		return;
	q->region = region;
	e->recon.cursor = region + 1;
	e->recon.inflight++;
	q->starting = 1;
	for (i = 0; i < e->nr; i++)
		if (member(e, i))
			engine_sub_start(q, i, false);
	q->starting = 0;
	engine_req_progress(q);
}

static bool may_start(struct engine *e, unsigned int *members)
{
	uint64_t bad;
	unsigned int m;

	if (e->shutting_down || engine_in_sync(e))
		return false;
	m = candidates(e);
	if (!m || !engine_can_write(e->ack, e->nr, e->min_in_sync,
				    (unsigned int)__builtin_popcount(m)))
		return false;
	bad = unsafe_region(e, m);
	if (bad != UINT64_MAX) {
		refuse(e, m, bad);
		return false;
	}
	*members = m;
	return true;
}

void engine_recon_pump(struct engine *e)
{
	struct erecon *rc = &e->recon;
	unsigned int members;
	uint64_t region;

	if (!rc->active) {
		if (!may_start(e, &members))
			return;
		start(e, members);
	}
	if (rc->draining) {
		if (older_busy(e))
			return;
		begin(e);
	}
	if (rc->syncing)
		return;
	if (rc->failed || e->shutting_down) {
		if (!rc->inflight)
			rc->active = 0;	/* the tick starts over */
		return;
	}
	while ((region = dirtymap_next(e->actlog, rc->cursor)) !=
	       DIRTYMAP_NONE) {
		unsigned int before = rc->inflight;

		read_region(e, region);
		if (rc->inflight == before)
			return;		/* no slot: after a completion */
	}
	if (rc->inflight)
		return;
	if (dirtymap_count(e->actlog)) {
		rc->cursor = 0;		/* some had no seq yet: again */
		return;
	}
	wait_durable(e);
}

/* Merge the members' copies of q's region, newest block wins, into the
 * spare buffer under one fresh seq.  Returns 1 to write it back, 0 if
 * there is nothing to write (every replica is a member and all agree),
 * -1 if no seq is available yet. */
static int merge(struct ereq *q)
{
	struct engine *e = q->e;
	uint32_t b, n = q->len / e->bs;
	uint8_t *out = q->rsb[e->nr].base;
	unsigned int i, have = 0;
	bool differ = false;
	uint64_t fresh;

	for (i = 0; i < e->nr; i++)
		have += q->sub[i].state == SUB_OK;
	for (b = 0; b < n; b++) {
		uint64_t best = 0, s;
		int from = -1;

		for (i = 0; i < e->nr; i++) {
			if (q->sub[i].state != SUB_OK)
				continue;
			s = le64toh(((uint64_t *)q->rsb[i].base)[b]);
			if (from >= 0 && s != best)
				differ = true;
			if (from < 0 || s > best) {
				best = s;
				from = (int)i;
			}
		}
		memcpy(out + ERS_SEQ_BYTES + (size_t)b * e->bs,
		       q->rsb[from].base + ERS_SEQ_BYTES + (size_t)b * e->bs,
		       e->bs);
		/* Equal seqs do not prove equal data: a write the engine
		 * never saw complete may have landed on one replica
		 * without its seq being recorded. */
		for (i = 0; i < e->nr && !differ; i++)
			if (q->sub[i].state == SUB_OK &&
			    memcmp(out + ERS_SEQ_BYTES + (size_t)b * e->bs,
				   q->rsb[i].base + ERS_SEQ_BYTES +
				   (size_t)b * e->bs, e->bs))
				differ = true;
	}
	if (!differ && have == e->nr)
		return 0;
	fresh = engine_state_next_seq(e);
	if (!fresh)
		return -1;
	for (b = 0; b < n; b++)
		((uint64_t *)out)[b] = htole64(fresh);
	q->seq = fresh;
	return 1;
}

static bool members_ok(const struct ereq *q)
{
	unsigned int i;

	for (i = 0; i < q->e->nr; i++)
		if (member(q->e, i) && q->sub[i].state != SUB_OK)
			return false;
	return true;
}

void engine_recon_step(struct ereq *q)
{
	struct engine *e = q->e;
	struct erecon *rc = &e->recon;
	bool go = rc->active && !rc->failed && !e->shutting_down &&
		  members_ok(q);
	unsigned int i;
	int m;

	if (q->phase == 0 && go && (m = merge(q)) != 0) {
		if (m < 0)
			goto out;	/* the region stays for the next pass */
		q->phase = 1;
		q->op = EOP_RWRITE;
		q->rs_src = (uint8_t)e->nr;
		q->starting = 1;
		for (i = 0; i < e->nr; i++)
			if (member(e, i))
				engine_sub_start(q, i, false);
		q->starting = 0;
		engine_req_progress(q);
		return;
	}
	if (go) {
		region_done(e, q->region);
		if (q->phase == 1) {
			rc->rewritten++;
			e->recovered++;
			for (i = 0; i < e->nr; i++)
				if (q->sub[i].state == SUB_OK)
					e->recovered_bytes += q->len;
		}
	}
out:
	rc->inflight--;
	engine_req_finish_internal(q);
	engine_recon_pump(e);
}

int engine_recover(struct engine *e)
{
	int ret;

	engine_enter(e);
	engine_recon_pump(e);
	engine_leave(e);
	if (!e->recon.active) {
		if (e->recon.crash)
			log_warn("%s: unclean stop: the replicas cannot be "
				 "reconciled yet; writes wait for them",
				 e->name);
		return 0;
	}
	while (e->recon.active) {
		ret = uloop_run_once(e->loop, 10000000ULL);
		if (ret < 0)
			return ret;
		engine_enter(e);
		engine_recon_pump(e);
		engine_leave(e);
	}
	return 0;
}
