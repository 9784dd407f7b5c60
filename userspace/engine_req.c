/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_req: the life of a request.  Subs are started on every replica
 * that takes the op, ordered against overlapping earlier subs, completed by
 * the targets, and the request is acked by the policy (engine_policy.c).
 * Replicas that fail are degraded here, and every region they miss goes
 * into their dirty map before the write that missed it is acked.
 */
#include "engine_int.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "dirtymap.h"
#include "hist.h"
#include "log.h"
#include "seqmap.h"

static bool sub_out(const struct esub *s)
{
	return s->state == SUB_BLOCKED || s->state == SUB_ISSUED;
}

uint64_t engine_ud(const struct engine *e, const struct ereq *q,
		   const struct erepl *r, unsigned int op, unsigned int flags)
{
	return ud_make(UD_CLS_REPL, op, r->zone_id, flags,
		       (e->num << EIDX_SHIFT) | (r->idx << EREPL_SHIFT) |
		       q->idx);
}

unsigned int engine_ud_op(const struct ereq *q)
{
	static const unsigned char map[] = {
		[EOP_READ] = UD_OP_READ,	[EOP_WRITE] = UD_OP_WRITE,
		[EOP_FLUSH] = UD_OP_FLUSH,	[EOP_TRIM] = UD_OP_TRIM,
		[EOP_ZERO] = UD_OP_ZERO,	[EOP_RREAD] = UD_OP_RESYNC,
		[EOP_RWRITE] = UD_OP_RESYNC,
	};

	return map[q->op];
}

/* The byte range a write-type op covers, for dirty maps. */
static uint64_t op_len(const struct ereq *q)
{
	if (q->op == EOP_TRIM || q->op == EOP_ZERO)
		return q->end - q->off;
	return q->len;
}

void engine_enter(struct engine *e)
{
	e->nest++;
}

static void req_free(struct engine *e, struct ereq *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		e->head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		e->tail = q->prev;
	e->nr_inflight--;
	if (q->own_buf && q->buf)
		uloop_buf_put(e->loop, q->buf);
	q->buf = NULL;
	q->own_buf = 0;
	uloop_buf_put(e->loop, q->rbuf);
	q->rbuf = NULL;
	q->ubuf = NULL;
	q->gen++;
	q->prev = q->next = NULL;
	if (q->internal) {
		q->link = e->free_internal;
		e->free_internal = q;
	} else {
		q->link = e->free_user;
		e->free_user = q;
	}
}

void engine_leave(struct engine *e)
{
	struct ereq *q;

	if (--e->nest)
		return;
	while ((q = e->reap)) {
		e->reap = q->link;
		req_free(e, q);
	}
}

/* A request is finished when its caller has been answered and no replica,
 * kernel or peer holds any part of it. */
static void maybe_finish(struct ereq *q)
{
	unsigned int i;

	if (q->finished || !q->acked || q->done_pending || q->waiting)
		return;
	for (i = 0; i < q->e->nr; i++)
		if (sub_out(&q->sub[i]) || q->sub[i].kref)
			return;
	q->finished = 1;
	q->link = q->e->reap;
	q->e->reap = q;
}

static void unblock(struct erepl *r);

/* A trim/zero answered early (it failed between chunks) has no chunks to
 * come any more, or one moved on to its next chunk: what waited for
 * those chunks that are no more to come may go now. */
static void release_chunk_waiters(struct engine *e)
{
	unsigned int i;

	for (i = 0; i < e->nr; i++)
		if (e->repl[i].nblocked &&
		    e->repl[i].state != ENGINE_REPLICA_DEGRADED)
			unblock(&e->repl[i]);
}

static void call_done(struct ereq *q)
{
	q->done_pending = 0;
	if (q->done)
		q->done(q->arg, q->res);
	maybe_finish(q);
}

/* Answer the caller once.  Inside an API call done() must not run yet: it
 * is deferred to a timer that fires in this loop iteration. */
static void complete(struct ereq *q, int res)
{
	struct engine *e = q->e;

	if (q->acked)
		return;
	q->acked = 1;
	q->res = res;
	if (q->holds_user) {
		q->holds_user = 0;
		e->user_busy--;
	}
	if (res)
		e->failed++;
	/* Answered at its last chunk, it had none to come before either:
	 * what waits for it waits for its subs, released as they end. */
	if ((q->op == EOP_TRIM || q->op == EOP_ZERO) &&
	    q->off + q->len < q->end)
		release_chunk_waiters(e);
	if (!e->in_api) {
		call_done(q);
		return;
	}
	q->done_pending = 1;
	q->dlink = NULL;
	if (e->deferred_tail)
		e->deferred_tail->dlink = q;
	else
		e->deferred = q;
	e->deferred_tail = q;
	if (!uloop_timer_armed(&e->defer_timer))
		uloop_timer_arm(e->loop, &e->defer_timer, uloop_now(e->loop));
}

void engine_run_deferred(struct engine *e)
{
	struct ereq *q;

	engine_enter(e);
	while ((q = e->deferred)) {
		e->deferred = q->dlink;
		if (!e->deferred)
			e->deferred_tail = NULL;
		call_done(q);
	}
	engine_leave(e);
}

void engine_req_fail_now(struct ereq *q, int res)
{
	complete(q, res);
	maybe_finish(q);
}

/* Flushes and FUA ops may take seconds on a busy disk: they have their
 * own timeout, and other ops on the replica may be queued behind them. */
static bool flushing(const struct ereq *q)
{
	return q->op == EOP_FLUSH || (q->fua && engine_op_writes(q->op));
}

static void sub_issue(struct ereq *q, unsigned int ri)
{
	struct erepl *r = &q->e->repl[ri];
	struct esub *s = &q->sub[ri];
	int err;

	s->state = SUB_ISSUED;
	s->t_issue = uloop_live_ns(q->e->loop);
	s->t_sqe = 0;
	s->flushing = flushing(q);
	r->nflush += s->flushing;
	err = r->local ? engine_local_submit(r, q) :
			 engine_remote_submit(r, q);
	if (err)
		engine_sub_done(q, ri, err);
}

/* The sub is no longer out on its replica (done, failed or abandoned). */
static void sub_end(struct ereq *q, unsigned int ri, int res)
{
	struct erepl *r = &q->e->repl[ri];
	struct esub *s = &q->sub[ri];

	if (s->state == SUB_BLOCKED)
		r->nblocked--;
	if (s->state == SUB_ISSUED && s->flushing && !--r->nflush)
		r->t_flush_clear = uloop_live_ns(q->e->loop);
	s->flushing = 0;
	s->state = res ? SUB_FAILED : SUB_OK;
	s->res = res;
}

void engine_sub_start(struct ereq *q, unsigned int ri, bool counts)
{
	struct esub *s = &q->sub[ri];

	s->counts = counts;
	s->res = 0;
	s->kref = 0;
	s->run = 0;
	s->flushing = 0;
	s->inline_io = 0;
	if (engine_sub_conflicts(q, ri)) {
		s->state = SUB_BLOCKED;
		q->e->repl[ri].nblocked++;
		return;
	}
	sub_issue(q, ri);
}

/* Issue the blocked subs of r that no longer wait for anything, in order.
 * Re-entrant calls (a sub failing while issued) only ask for another
 * pass. */
static void unblock(struct erepl *r)
{
	struct engine *e = r->e;
	struct ereq *q, *next;

	if (r->unblocking) {
		r->rescan = true;
		return;
	}
	r->unblocking = true;
	do {
		r->rescan = false;
		for (q = e->head; q && r->nblocked; q = next) {
			next = q->next;
			if (q->sub[r->idx].state != SUB_BLOCKED ||
			    engine_sub_conflicts(q, r->idx))
				continue;
			r->nblocked--;
			sub_issue(q, r->idx);
		}
	} while (r->rescan && r->nblocked);
	r->unblocking = false;
}

/* The zone histogram takes the wall-clock span (what zonetrace sees); the
 * EWMA the live one, so that a stall of the loop does not make a replica
 * look slow. */
void engine_record_latency(struct erepl *r, struct esub *s, bool write)
{
	uint64_t now = uloop_clock(r->e->loop);
	uint64_t lat = uloop_live_ns(r->e->loop) - s->t_issue;

	if (s->t_sqe)
		hist_record(&r->hist, now - s->t_sqe);
	if (write)
		r->ewma_ns = engine_ewma(r->ewma_ns, lat);
	else
		r->rewma_ns = engine_ewma(r->rewma_ns, lat);
}

static void complete_synced(struct ereq *q, int res);

/* Replicas that missed q (failed, or degraded at issue): each is marked
 * in its missed map if q is a write the caller is to be told succeeded. */
static unsigned int mark_missed(struct ereq *q)
{
	struct engine *e = q->e;
	unsigned int i, n = 0;

	for (i = 0; i < e->nr; i++) {
		if (q->sub[i].state == SUB_FAILED && engine_op_writes(q->op))
			engine_mark_missed(&e->repl[i], q->off, op_len(q));
		n += q->sub[i].state == SUB_FAILED ||
		     q->sub[i].state == SUB_NONE;
	}
	return n;
}

/* The maps are durable (or could not be made so): answer q, unless a
 * write lost another replica meanwhile, whose record must be durable too
 * before the ack. */
static void req_synced(struct ewait *w, int err)
{
	struct ereq *q = (struct ereq *)((char *)w - offsetof(struct ereq, sw));
	unsigned int n;

	q->waiting = 0;
	if (!err && !q->sync_res && q->op != EOP_FLUSH &&
	    (n = mark_missed(q)) > q->nmissed) {
		q->nmissed = (uint8_t)n;
		complete_synced(q, 0);
		return;
	}
	complete(q, err ? err : q->sync_res);
	maybe_finish(q);
}

/* Answer q with res once every map change made so far is durable. */
static void complete_synced(struct ereq *q, int res)
{
	int ret;

	q->sync_res = res;
	q->sw.fn = req_synced;
	ret = engine_sync_wait(q->e, &q->sw);
	if (ret)
		complete(q, ret < 0 ? ret : res);
	else
		q->waiting = 2;
}

/* q is about to be acked: every replica whose sub failed (or that was
 * degraded at issue, marked then) now misses an acked write.  A FUA write
 * is durable when acked, and so must be the record of who missed it. */
static void ack_write(struct ereq *q)
{
	q->nmissed = (uint8_t)mark_missed(q);
	if (q->fua && q->nmissed)
		complete_synced(q, 0);
	else
		complete(q, 0);
}

static void write_progress(struct ereq *q)
{
	struct engine *e = q->e;
	unsigned int i, ok = 0, pending = 0, out = 0;
	int v;

	for (i = 0; i < e->nr; i++) {
		const struct esub *s = &q->sub[i];

		out += sub_out(s);
		if (!s->counts)
			continue;
		ok += s->state == SUB_OK;
		pending += sub_out(s);
	}
	if (!q->acked && !q->chunk_failed && !q->waiting) {
		v = engine_verdict(e->ack, e->nr, e->min_in_sync, ok, pending);
		if (v < 0)
			q->chunk_failed = 1;
		else if (v > 0 && q->off + q->len >= q->end)
			ack_write(q);
	}
	if (out)
		return;
	/* Every replica is done with this chunk: on to the next one (a trim
	 * or zero longer than a chunk), or answer a failure. */
	if (q->chunk_failed) {
		complete(q, -EIO);
		return;
	}
	if (q->off + q->len < q->end) {
		engine_next_chunk(q);
		/* What waited only for the chunk just done, on every replica
		 * now, may go: it no longer overlaps the chunks to come
		 * (engine_order.c), and on each replica it follows this one.
		 * Nothing else asks again before a sub on its replica ends. */
		release_chunk_waiters(e);
	}
}

/* Whether the kernel may still write into one of q's read buffers (own:
 * q->rbuf, else the caller's): a READ_FIXED on a local replica, abandoned
 * when the replica failed, whose completion has not come yet.  It may
 * end with a partial DMA, so no other attempt may read into that buffer
 * meanwhile. */
static bool read_buf_held(const struct ereq *q, bool own)
{
	unsigned int i;

	for (i = 0; i < q->e->nr; i++)
		if (q->e->repl[i].local && q->sub[i].kref &&
		    q->sub[i].in_rbuf == own)
			return true;
	return false;
}

int engine_read_pick_buf(struct ereq *q)
{
	if (!read_buf_held(q, false)) {
		q->buf = q->ubuf;
		return 0;
	}
	if ((!q->rbuf && uloop_buf_get(q->e->loop, q->len, &q->rbuf)) ||
	    read_buf_held(q, true))
		return -EBUSY;
	q->buf = q->rbuf;
	return 0;
}

/* Whether a replica may still write into q's read buffers: a sub out (a
 * remote reply is copied into one), or a local SQE still held. */
static bool read_busy(const struct ereq *q)
{
	unsigned int i;

	for (i = 0; i < q->e->nr; i++)
		if (sub_out(&q->sub[i]))
			return true;
	return read_buf_held(q, false) || read_buf_held(q, true);
}

void engine_req_shutdown(struct ereq *q)
{
	if (q->op == EOP_READ && read_busy(q)) {
		q->shut = 1;	/* read_progress() answers it */
		return;
	}
	engine_req_fail_now(q, -ESHUTDOWN);
}

/* A failed read is retried on another replica at once, into a buffer no
 * abandoned read can still write into (engine_read_pick_buf), but
 * answered only once no abandoned read can land in the caller's buffer
 * any more: after done() the caller reuses it (engine_sub_unref() comes
 * back here).  Data read into q's own buffer is copied to the caller's
 * then.  At shutdown it is not retried. */
static void read_progress(struct ereq *q)
{
	const struct esub *s = &q->sub[q->read_from];
	int res = 0;

	if (q->shut) {
		if (!read_busy(q))
			complete(q, -ESHUTDOWN);
		return;
	}
	if (sub_out(s))
		return;
	if (s->state != SUB_OK) {
		if (!engine_read_retry(q))
			return;
		res = -EIO;
	}
	if (read_buf_held(q, false))
		return;
	if (!res && q->buf != q->ubuf)
		memcpy(q->ubuf->base, q->buf->base, q->len);
	complete(q, res);
}

/* A flush is answered when every in-sync replica has synced its data and
 * then the dirty and missed maps are durable: a replica that missed a
 * write acked before the flush (its bits were set before that ack), or
 * that failed this very flush, must still be known as such after a power
 * loss. */
static void flush_progress(struct ereq *q)
{
	struct engine *e = q->e;
	unsigned int i, ok = 0;

	if (q->waiting)
		return;
	for (i = 0; i < e->nr; i++) {
		if (sub_out(&q->sub[i]))
			return;
		ok += q->sub[i].state == SUB_OK;
	}
	if (ok < e->min_in_sync || !ok) {
		complete(q, -EIO);
		return;
	}
	complete_synced(q, 0);
}

static void progress(struct ereq *q)
{
	if (q->starting)
		return;
	if (q->internal) {
		unsigned int i;

		for (i = 0; i < q->e->nr; i++)
			if (sub_out(&q->sub[i]))
				return;
		if (!q->acked && q->rs_target >= 0)
			engine_resync_step(q);
		else if (!q->acked)
			engine_recon_step(q);
	} else if (q->op == EOP_READ) {
		read_progress(q);
	} else if (q->op == EOP_FLUSH) {
		flush_progress(q);
	} else {
		write_progress(q);
	}
	maybe_finish(q);
}

void engine_req_progress(struct ereq *q)
{
	progress(q);
}

/* A write-type sub failed or was abandoned: r misses that range (and, if
 * the write was already acked, an acked write).  A trim or zero chunk is
 * recorded as missed at once: its ack, after the last chunk, no longer
 * knows the earlier chunks' ranges. */
static void missed(struct erepl *r, const struct ereq *q)
{
	if (engine_op_writes(q->op) && q->op != EOP_RWRITE) {
		if (q->op != EOP_WRITE || (q->acked && !q->res))
			engine_mark_missed(r, q->off, op_len(q));
		else
			dirtymap_set_range(r->dirty, q->off, op_len(q));
	} else if (q->op == EOP_FLUSH) {
		/* What was written since its last flush may be lost on a
		 * crash of its node: the activity log bounds it. */
		dirtymap_merge(r->dirty, q->e->actlog);
		dirtymap_merge(r->missed, q->e->actlog);
	} else if (q->op == EOP_READ) {
		dirtymap_set_range(r->dirty, q->off, q->len);
	}
}

/* Whether res, on q's sub on r, says r's storage may have lost writes it
 * acked before: a flush or FUA op failed with a storage error, or a
 * remote's server answered a write with EIO (its disk failed it: what it
 * acked before may still sit in a cache whose writeback fails as well,
 * the page cache or the device's; a server that restarts before its own
 * sync finds that out knows nothing of it). */
static bool storage_failed(const struct erepl *r, const struct ereq *q,
			   int res)
{
	if (flushing(q))
		return res == -EIO || res == -ENOSPC || res == -EDQUOT;
	return !r->local && engine_op_writes(q->op) && res == -EIO;
}

/* r's storage failed a sync (storage_failed()): Linux drops the dirty
 * pages whose writeback failed and tells one fsync only, so every write r
 * acked since its last good flush may be lost there, not just the recent
 * ones the activity log still holds.  No record says which: all of the
 * volume is to be copied to it.  Its seqs still vouch for those writes,
 * and a resync copy applies only where it is newer: the missed map's
 * flag, durable with the map, says to reset them.  A local replica's are
 * reset when it is next opened; a remote's server records the failure
 * itself (.meta says SYNC_FAILED) on the disk that failed, where it may
 * not land, so its next HELLOs say so too (REPL_F_SYNC_FAILED). */
static void sync_failed(struct erepl *r, const struct ereq *q, int res)
{
	if (!storage_failed(r, q, res))
		return;
	log_warn("%s: replica %s failed a %s (%s): what it acked since its "
		 "last flush may be lost", r->e->name, r->zone,
		 engine_op_name(q->op), strerror(-res));
	engine_mark_empty(r, "failed a sync");
	dirtymap_set_flags(r->missed, dirtymap_flags(r->missed) |
				      EMISSED_SYNC_FAILED);
}

void engine_abandoned_sync_done(struct erepl *r, const struct ereq *q,
				int res)
{
	sync_failed(r, q, res);
}

void engine_sub_done(struct ereq *q, unsigned int ri, int res)
{
	struct erepl *r = &q->e->repl[ri];
	struct esub *s = &q->sub[ri];

	if (!sub_out(s))
		return;		/* abandoned when r failed */
	sub_end(q, ri, res);
	if (res) {
		r->errors++;
		sync_failed(r, q, res);
		missed(r, q);
		engine_replica_fail(r, res, engine_op_name(q->op));
	} else if (q->op == EOP_WRITE) {
		r->writes++;
	} else if (q->op == EOP_READ) {
		r->reads++;
	}
	if (r->nblocked)
		unblock(r);
	progress(q);
}

void engine_sub_unref(struct ereq *q, unsigned int ri)
{
	if (q->sub[ri].kref)
		q->sub[ri].kref--;
	/* A read's answer or retry may have waited for a local replica's
	 * SQE to give its buffer back (read_buf_held); a remote one's send
	 * holds no read buffer. */
	if (q->op == EOP_READ && !q->internal && !q->acked &&
	    q->e->repl[ri].local)
		progress(q);
	maybe_finish(q);
}

const char *engine_op_name(unsigned int op)
{
	static const char *const names[] = {
		[EOP_READ] = "read",	[EOP_WRITE] = "write",
		[EOP_FLUSH] = "flush",	[EOP_TRIM] = "trim",
		[EOP_ZERO] = "zero",	[EOP_RREAD] = "resync read",
		[EOP_RWRITE] = "resync write",
	};

	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "op";
}

void engine_schedule_retry(struct erepl *r)
{
	struct engine *e = r->e;
	uint64_t cap = r->hello_refused ? ERETRY_REFUSED_NS : ERETRY_MAX_NS;

	if (e->shutting_down)
		return;
	if (!r->backoff_ns)
		r->backoff_ns = ERETRY_MIN_NS;
	uloop_timer_arm(e->loop, &r->retry, uloop_now(e->loop) + r->backoff_ns);
	r->backoff_ns *= 2;
	if (r->backoff_ns > cap)
		r->backoff_ns = cap;
}

/* Degrade r at once: from now on it takes no acks and no reads, and every
 * region it misses goes into its dirty map.  Subs it still has out are
 * abandoned: each one's range is marked dirty first, then its request
 * moves on without it. */
void engine_replica_fail(struct erepl *r, int err, const char *why)
{
	struct engine *e = r->e;
	struct ereq *q;

	if (r->state == ENGINE_REPLICA_DEGRADED && !r->up)
		return;
	if (!e->shutting_down)
		log_warn("%s: replica %s degraded (%s: %s)", e->name,
			 r->zone, why, strerror(-err));
	if (r->state == ENGINE_REPLICA_RESYNCING)
		engine_resync_abort(r);
	if (e->recon.active && (e->recon.members & (1U << r->idx)))
		e->recon.failed = 1;
	/* EMISSED_IN_SYNC stays: a degraded replica gets no write, so no
	 * ack can go without it that its missed map does not record (at
	 * issue, or as its subs end below).  It goes when the replica is
	 * back and gets writes whose acks do not wait for it
	 * (engine_replica_up); clearing it here left recovery after a
	 * crash with every replica degraded no one to trust, for ever. */
	r->insync_mark = 0;
	r->full_copy = EFC_NONE;	/* the claim was for that connection */
	r->state = ENGINE_REPLICA_DEGRADED;
	r->up = false;
	r->slow = false;
	r->t_down = uloop_clock(e->loop);
	if (!r->local)
		engine_remote_shutdown(r);
	for (q = e->head; q; q = q->next) {
		struct esub *s = &q->sub[r->idx];

		if (!sub_out(s))
			continue;
		/* A frame that went out ends for zonetrace too: else the
		 * zone that lost it never shows it, as an error or at all. */
		if (!r->local && s->state == SUB_ISSUED && s->t_sqe)
			engine_remote_abandon(r, q);
		missed(r, q);
		sub_end(q, r->idx, -EIO);
		progress(q);
	}
	r->nblocked = 0;
	engine_schedule_retry(r);
}

void engine_abandon_blocked(struct engine *e)
{
	struct ereq *q;
	unsigned int i;

	for (q = e->head; q; q = q->next) {
		for (i = 0; i < e->nr; i++) {
			struct esub *s = &q->sub[i];

			if (s->state != SUB_BLOCKED)
				continue;
			missed(&e->repl[i], q);
			sub_end(q, i, -ESHUTDOWN);
		}
		progress(q);
	}
}

void engine_replica_retry(struct uloop_timer *t)
{
	struct erepl *r = (struct erepl *)((char *)t -
					   offsetof(struct erepl, retry));
	struct engine *e = r->e;
	int err;

	if (r->up || e->shutting_down)
		return;
	engine_enter(e);
	if (r->local) {
		err = engine_local_reopen(r);
		if (!err)
			engine_replica_up(r);
		else
			engine_schedule_retry(r);
	} else if (engine_remote_connect(r)) {
		engine_schedule_retry(r);
	}
	engine_leave(e);
}

/* Back, with no replica in sync to copy from: it waits (resyncing, with
 * no source) to be reconciled with the others (engine_recover.c). */
void engine_replica_up(struct erepl *r)
{
	struct engine *e = r->e;

	r->up = true;
	r->backoff_ns = 0;	/* lag_backoff_ns stays until it catches up */
	if (e->in_create)
		return;
	r->state = ENGINE_REPLICA_RESYNCING;
	if (!engine_in_sync(e)) {
		log_info("%s: replica %s is back; no replica is in sync: it "
			 "waits to be reconciled with the others", e->name,
			 r->zone);
		engine_recon_pump(e);
		return;
	}
	/* From now on writes are acked without waiting for it: after a
	 * crash it cannot vouch for the activity log's regions. */
	dirtymap_set_flags(r->missed, dirtymap_flags(r->missed) &
				      ~EMISSED_IN_SYNC);
	log_info("%s: replica %s is back; resyncing %llu regions", e->name,
		 r->zone, (unsigned long long)dirtymap_count(r->dirty));
	engine_resync_start(r);
}

void engine_mark_missed(struct erepl *r, uint64_t off, uint64_t len)
{
	dirtymap_set_range(r->dirty, off, len);
	dirtymap_set_range(r->missed, off, len);
}

void engine_mark_empty(struct erepl *r, const char *why)
{
	uint64_t n = dirtymap_regions(r->missed);

	/* Marked already, for another reason found at the same time (a
	 * replica new to the volume with an image made anew, a HELLO both
	 * holding no write and reporting a failed sync): nothing changes. */
	if (dirtymap_count(r->missed) == n && dirtymap_count(r->dirty) == n &&
	    !(dirtymap_flags(r->missed) & EMISSED_IN_SYNC))
		return;
	log_warn("%s: replica %s %s: all of it is to be copied", r->e->name,
		 r->zone, why);
	engine_mark_missed(r, 0, r->e->size);
	dirtymap_set_flags(r->missed, dirtymap_flags(r->missed) &
				      ~EMISSED_IN_SYNC);
}

void engine_mark_in_sync(struct erepl *r)
{
	r->insync_mark = r->e->next_order + 1;
	engine_mark_in_sync_tick(r->e);
}

/* A replica that went in sync vouches for every acked write (the flag)
 * once the requests issued before, which did not wait for it, have all
 * left it. */
void engine_mark_in_sync_tick(struct engine *e)
{
	const struct ereq *q;
	unsigned int i;

	for (i = 0; i < e->nr; i++) {
		struct erepl *r = &e->repl[i];

		if (!r->insync_mark || r->state != ENGINE_REPLICA_IN_SYNC)
			continue;
		for (q = e->head; q && q->order < r->insync_mark - 1;
		     q = q->next)
			if (sub_out(&q->sub[i]) || q->sub[i].kref)
				break;
		if (q && q->order < r->insync_mark - 1)
			continue;
		r->insync_mark = 0;
		dirtymap_set_flags(r->missed, dirtymap_flags(r->missed) |
					      EMISSED_IN_SYNC);
	}
}
