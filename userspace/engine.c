/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine: the volume, its request slots, the caller's API and the periodic
 * tick (timeouts, activity-log sweep, progress logs).  The request life
 * cycle is in engine_req.c; targets in engine_local.c / engine_remote.c.
 */
#include "engine.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dirtymap.h"
#include "engine_int.h"
#include "hist.h"
#include "log.h"

#define CHUNK_MAX	(1ULL << 30)	/* trim/zero per frame */
#define SWEEP_NS	250000000ULL
#define LOG_NS		2000000000ULL
#define RS_SLOTS	8		/* resync copies in flight */

/* Engines by number, for routing CQEs: user_data has room for an index,
 * and the loop has one handler per class, shared by every engine on it. */
static struct engine *engines[EMAX_ENGINES];
static pthread_mutex_t engines_lock = PTHREAD_MUTEX_INITIALIZER;

static struct engine *lookup(uint64_t ud, struct ereq **q)
{
	uint32_t idx = ud_index(ud);
	struct engine *e = engines[(idx >> EIDX_SHIFT) % EMAX_ENGINES];

	if (!e)
		return NULL;
	if (q) {
		if ((idx & ESLOT_MASK) >= e->nr_reqs)
			return NULL;
		*q = &e->reqs[idx & ESLOT_MASK];
	}
	return e;
}

/* The replica is named by the index, not the zone id: ids are the zone
 * registry's (or UD_ZONE_NONE for all), not the engine's to choose. */
static struct erepl *ud_repl(struct engine *e, uint64_t ud)
{
	unsigned int ri = (ud_index(ud) & EIDX_MASK) >> EREPL_SHIFT;

	return ri < e->nr ? &e->repl[ri] : NULL;
}

static void repl_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	struct ereq *q;
	struct engine *e = lookup(cqe->user_data, &q);
	struct erepl *r;

	(void)ctx;
	if (!e || !(r = ud_repl(e, cqe->user_data)))
		return;
	engine_enter(e);
	if (ud_flags(cqe->user_data) & UD_F_REMOTE)
		engine_remote_send_cqe(e, q, r, cqe);
	else
		engine_local_cqe(e, q, r, cqe);
	engine_leave(e);
}

static void rx_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	struct engine *e = lookup(cqe->user_data, NULL);

	(void)ctx;
	if (!e)
		return;
	engine_enter(e);
	engine_remote_conn_cqe(e, cqe);
	engine_leave(e);
}

/* The engine's own metadata I/O: the state record, map syncs. */
static void meta_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	struct engine *e = lookup(cqe->user_data, NULL);

	(void)ctx;
	if (!e)
		return;
	engine_enter(e);
	if ((ud_index(cqe->user_data) & EIDX_MASK) == EIDX_MASK)
		engine_state_cqe(e, cqe);
	else
		engine_sync_cqe(e, cqe);
	engine_leave(e);
}

/* The NOP that marks a parsed remote reply exists for zonetrace only. */
static void done_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	(void)ctx;
	(void)cqe;
}

int engine_register(struct engine *e)
{
	unsigned int i;
	int err = -ENOSPC;

	pthread_mutex_lock(&engines_lock);
	for (i = 0; i < EMAX_ENGINES; i++) {
		if (!engines[i]) {
			engines[i] = e;
			e->num = i;
			err = 0;
			break;
		}
	}
	pthread_mutex_unlock(&engines_lock);
	if (err)
		return err;
	uloop_set_handler(e->loop, UD_CLS_REPL, repl_cqe, NULL);
	uloop_set_handler(e->loop, UD_CLS_REPL_RX, rx_cqe, NULL);
	uloop_set_handler(e->loop, UD_CLS_REPL_DONE, done_cqe, NULL);
	uloop_set_handler(e->loop, UD_CLS_ENGINE, meta_cqe, NULL);
	return 0;
}

void engine_unregister(struct engine *e)
{
	pthread_mutex_lock(&engines_lock);
	if (engines[e->num] == e)
		engines[e->num] = NULL;
	pthread_mutex_unlock(&engines_lock);
}

/* ---- request slots ---- */

static void req_init(struct engine *e, struct ereq *q, enum eop op,
		     uint64_t off, uint32_t len)
{
	uint32_t gen = q->gen;
	uint32_t idx = q->idx;
	struct ersbuf *rsb = q->rsb;
	uint8_t internal = q->internal;

	memset(q, 0, offsetof(struct ereq, sub));
	q->e = e;
	q->idx = idx;
	q->gen = gen;
	q->rsb = rsb;
	q->internal = internal;
	q->op = (uint8_t)op;
	q->off = off;
	q->len = len;
	q->end = off + len;
	q->read_from = -1;
	q->rs_target = -1;
	q->order = e->next_order++;
	q->t_start = uloop_now(e->loop);
	memset(q->sub, 0, sizeof(q->sub[0]) * e->nr);
	q->prev = e->tail;
	if (e->tail)
		e->tail->next = q;
	else
		e->head = q;
	e->tail = q;
	e->nr_inflight++;
}

/* Whether replica ri is slow against the replicas the acks wait for, not
 * just a little behind them for a moment (a burst, a page fault): its
 * recent latency is past the soft deadline that the latency of the
 * slowest replica an ack needs would set (under quorum the k-th fastest
 * of the others, k the acks needed; a local replica far faster than the
 * rest does not make the remote ones "slow").  Otherwise callers wait
 * (-EAGAIN), as they must. */
static bool much_slower(const struct engine *e, unsigned int ri,
			uint64_t lat_ri)
{
	uint64_t lat[ENGINE_MAX_REPLICAS], t;
	unsigned int i, j, n = 0, k;

	for (i = 0; i < e->nr; i++) {
		if (i == ri || e->repl[i].state != ENGINE_REPLICA_IN_SYNC ||
		    !e->repl[i].ewma_ns)
			continue;
		t = e->repl[i].ewma_ns;
		for (j = n++; j > 0 && lat[j - 1] > t; j--)
			lat[j] = lat[j - 1];
		lat[j] = t;
	}
	if (!n)
		return false;
	k = e->ack == ENGINE_ACK_ALL ? n :
	    engine_floor(e->ack, e->nr, e->min_in_sync);
	if (k < engine_majority(e->nr) && e->ack == ENGINE_ACK_QUORUM)
		k = engine_majority(e->nr);
	if (k > n)
		k = n;
	return lat_ri > engine_soft_deadline(lat[k - 1], e->soft_floor_ns,
					     e->soft_mult);
}

/* Every slot is taken while the caller has room: acked requests are
 * lingering on a replica that cannot keep up.  Waiting for it makes every
 * caller wait for the slowest zone after all, so the replica that holds
 * the most of them is cut off instead (its writes go to its dirty map; it
 * resyncs when it is back), if e->lag_cut allows it: by default only
 * while a spare stays in sync.  Cutting the spare for speed would leave a
 * 3-replica quorum volume one failure away from refusing writes, and a
 * replica that is merely slow for a moment on a busy node would be enough
 * to do it; then callers wait (-EAGAIN) for it instead. */
static void cut_laggard(struct engine *e)
{
	unsigned int i, lag[ENGINE_MAX_REPLICAS] = { 0 }, worst = 0;
	uint64_t now = uloop_live_clock(e->loop), oldest = now, lat;
	const struct ereq *q;
	struct erepl *r;

	for (q = e->head; q; q = q->next) {
		if (!q->acked || q->internal)
			continue;
		for (i = 0; i < e->nr; i++)
			lag[i] += q->sub[i].state == SUB_ISSUED ||
				  q->sub[i].state == SUB_BLOCKED;
	}
	for (i = 1; i < e->nr; i++)
		if (lag[i] > lag[worst])
			worst = i;
	/* Its recent latency; but a replica that answers nothing at all
	 * keeps its old EWMA, so an op it has sat on past the hard timeout
	 * (not judged by it: queued behind a flush) counts instead.  A
	 * shorter hiccup does not: that is a burst, and is waited for. */
	for (q = e->head; q; q = q->next)
		if (q->sub[worst].state == SUB_ISSUED &&
		    q->sub[worst].t_issue < oldest)
			oldest = q->sub[worst].t_issue;
	lat = e->repl[worst].ewma_ns;
	if (now - oldest > e->hard_ns && now - oldest > lat)
		lat = now - oldest;
	if (!lag[worst] || !much_slower(e, worst, lat) ||
	    (e->repl[worst].state == ENGINE_REPLICA_IN_SYNC &&
	     !engine_may_cut(e->ack, e->nr, e->min_in_sync, engine_in_sync(e),
			     e->lag_cut)))
		return;
	r = &e->repl[worst];
	log_warn("%s: replica %s is %u acked writes behind: cutting it off",
		 e->name, r->zone, lag[worst]);
	r->lagged++;
	/* It is alive, only slow: retry it later and later while it keeps
	 * falling behind (1 s, doubling to 8 s), so it does not flap. */
	r->lag_backoff_ns = r->lag_backoff_ns ?
			    r->lag_backoff_ns * 2 : 1000000000ULL;
	if (r->lag_backoff_ns > 8000000000ULL)
		r->lag_backoff_ns = 8000000000ULL;
	r->backoff_ns = r->lag_backoff_ns;
	engine_replica_fail(r, -ETIMEDOUT, "falling behind");
}

static struct ereq *req_user(struct engine *e, enum eop op, uint64_t off,
			     uint32_t len, engine_done_fn done, void *arg)
{
	struct ereq *q = e->free_user;

	if (!q && e->user_busy < e->nr_user)
		cut_laggard(e);
	if (!q || e->user_busy >= e->nr_user)
		return NULL;
	e->free_user = q->link;
	req_init(e, q, op, off, len);
	q->holds_user = 1;
	e->user_busy++;
	q->done = done;
	q->arg = arg;
	return q;
}

struct ereq *engine_req_internal(struct engine *e, enum eop op, uint64_t off,
				 uint32_t len)
{
	struct ereq *q = e->free_internal;

	if (!q)
		return NULL;
	e->free_internal = q->link;
	req_init(e, q, op, off, len);
	return q;
}

void engine_req_finish_internal(struct ereq *q)
{
	q->acked = 1;
	engine_req_progress(q);
}

int engine_alloc_slots(struct engine *e, unsigned int qd)
{
	unsigned int i, j;
	size_t per;

	e->nr_user = qd;
	e->nr_internal = RS_SLOTS;
	/* Acked writes may linger on a slow replica: room for
	 * ENGINE_LAG_MAX(qd) of those; when they fill it, the replica is cut
	 * off (cut_laggard) rather than make callers wait for it. */
	e->nr_reqs = qd + ENGINE_LAG_MAX(qd) + e->nr_internal;
	e->reqs = calloc(e->nr_reqs, sizeof(*e->reqs));
	per = (size_t)(e->nr + 1) * ERS_BUF_BYTES;
	e->rs_arena_len = per * e->nr_internal;
	if (!e->reqs || posix_memalign((void **)&e->rs_arena, 4096,
				       e->rs_arena_len))
		return -ENOMEM;
	for (i = 0; i < e->nr_reqs; i++) {
		struct ereq *q = &e->reqs[i];

		q->e = e;
		q->idx = i;
		if (i < e->nr_internal) {
			q->internal = 1;
			q->rsb = calloc(e->nr + 1, sizeof(*q->rsb));
			if (!q->rsb)
				return -ENOMEM;
			for (j = 0; j <= e->nr; j++)
				q->rsb[j].base = e->rs_arena + i * per +
						 (size_t)j * ERS_BUF_BYTES;
			q->link = e->free_internal;
			e->free_internal = q;
		} else {
			q->link = e->free_user;
			e->free_user = q;
		}
	}
	return 0;
}

/* ---- the caller's API ---- */

static int check_range(const struct engine *e, uint64_t off, uint64_t len)
{
	if (!len || off % e->bs || len % e->bs || off > e->size ||
	    len > e->size - off)
		return -EINVAL;
	return 0;
}

unsigned int engine_in_sync(const struct engine *e)
{
	unsigned int i, n = 0;

	for (i = 0; i < e->nr; i++)
		n += e->repl[i].state == ENGINE_REPLICA_IN_SYNC;
	return n;
}

/* Send a write-type op that has its seq to every replica that takes
 * writes; a degraded one gets the range in its dirty and missed maps
 * instead, before the op can be acked. */
static void issue_write(struct ereq *q)
{
	struct engine *e = q->e;
	uint64_t len = q->op == EOP_WRITE ? q->len : q->end - q->off;
	unsigned int i;

	dirtymap_set_range(e->actlog, q->off, len);
	e->written = true;
	q->starting = 1;
	for (i = 0; i < e->nr; i++) {
		struct erepl *r = &e->repl[i];

		if (r->state == ENGINE_REPLICA_IN_SYNC)
			engine_sub_start(q, i, true);
		else if (r->state == ENGINE_REPLICA_RESYNCING)
			engine_sub_start(q, i, false);
		else
			engine_mark_missed(r, q->off, len);
	}
	q->starting = 0;
	engine_req_progress(q);
}

/* Start a write-type op (write, trim, zero chunk).  Refused by the policy:
 * nothing goes anywhere, not even to the activity log, and the caller
 * gets -EIO.  Without a durably reserved seq it waits, in order behind any
 * other write already waiting, for engine_state_durable().  The chunks of
 * a long trim/zero after the first keep the request's seq: they cover
 * other blocks, and a write submitted after the request, which waits for
 * them, must carry a newer seq than every one of them. */
static void start_write(struct ereq *q)
{
	struct engine *e = q->e;

	q->chunk_failed = 0;
	if (!engine_can_write(e->ack, e->nr, e->min_in_sync,
			      engine_in_sync(e))) {
		engine_req_fail_now(q, -EIO);
		return;
	}
	if (q->seq) {
		issue_write(q);
		return;
	}
	if (!e->seqq && (q->seq = engine_state_next_seq(e))) {
		issue_write(q);
		return;
	}
	q->waiting = 1;
	q->wlink = NULL;
	if (e->seqq_tail)
		e->seqq_tail->wlink = q;
	else
		e->seqq = q;
	e->seqq_tail = q;
}

void engine_state_durable(struct engine *e, int err)
{
	struct ereq *q;
	unsigned int i;

	while ((q = e->seqq)) {
		if (!err && !engine_can_write(e->ack, e->nr, e->min_in_sync,
					      engine_in_sync(e)))
			err = -EIO;
		if (!err && !(q->seq = engine_state_next_seq(e)))
			break;	/* not enough yet: wait for the next */
		e->seqq = q->wlink;
		if (!e->seqq)
			e->seqq_tail = NULL;
		q->waiting = 0;
		if (err)
			engine_req_fail_now(q, -EIO);
		else
			issue_write(q);
	}
	for (i = 0; i < e->nr; i++)
		if (!e->repl[i].local)
			engine_remote_state_durable(&e->repl[i], err);
}

void engine_next_chunk(struct ereq *q)
{
	uint64_t left;

	q->off += q->len;
	left = q->end - q->off;
	q->len = (uint32_t)(left < CHUNK_MAX ? left : CHUNK_MAX);
	start_write(q);
}

static int api_enter(struct engine *e)
{
	if (e->shutting_down)
		return -ESHUTDOWN;
	engine_enter(e);
	e->in_api = true;
	return 0;
}

static void api_leave(struct engine *e)
{
	e->in_api = false;
	engine_leave(e);
}

int engine_write(struct engine *e, uint64_t off, uint32_t len,
		 struct uloop_buf *buf_take, unsigned int flags,
		 engine_done_fn done, void *arg)
{
	struct ereq *q;
	int err = check_range(e, off, len);

	if (err || !buf_take || len > buf_take->size)
		return err ? err : -EINVAL;
	if (len > engine_max_io(e))
		return -E2BIG;
	if ((err = api_enter(e)))
		return err;
	q = req_user(e, EOP_WRITE, off, len, done, arg);
	if (!q) {
		api_leave(e);
		return -EAGAIN;
	}
	q->buf = buf_take;
	q->own_buf = !(flags & ENGINE_BUF_SHARED);
	q->fua = !!(flags & ENGINE_FUA);
	e->writes++;
	start_write(q);
	api_leave(e);
	return 0;
}

static int range_op(struct engine *e, enum eop op, uint64_t off, uint64_t len,
		    unsigned int flags, engine_done_fn done, void *arg)
{
	struct ereq *q;
	int err = check_range(e, off, len);

	if (err)
		return err;
	if ((err = api_enter(e)))
		return err;
	q = req_user(e, op, off, 0, done, arg);
	if (!q) {
		api_leave(e);
		return -EAGAIN;
	}
	q->end = off + len;
	q->len = (uint32_t)(len < CHUNK_MAX ? len : CHUNK_MAX);
	q->fua = !!(flags & ENGINE_FUA);
	e->writes++;
	start_write(q);
	api_leave(e);
	return 0;
}

int engine_trim(struct engine *e, uint64_t off, uint64_t len,
		unsigned int flags, engine_done_fn done, void *arg)
{
	return range_op(e, EOP_TRIM, off, len, flags, done, arg);
}

int engine_zero(struct engine *e, uint64_t off, uint64_t len,
		unsigned int flags, engine_done_fn done, void *arg)
{
	return range_op(e, EOP_ZERO, off, len, flags, done, arg);
}

/* The replica a read goes to: in sync, not yet tried for this read, local
 * first, then the lowest recent latency. */
static int pick_reader(const struct engine *e, uint8_t tried)
{
	uint64_t best_lat = UINT64_MAX, lat;
	int i, best = -1;

	for (i = 0; i < (int)e->nr; i++) {
		const struct erepl *r = &e->repl[i];

		if (r->state != ENGINE_REPLICA_IN_SYNC || (tried & (1U << i)))
			continue;
		lat = r->rewma_ns ? r->rewma_ns : r->ewma_ns;
		if (r->slow)
			lat += 1ULL << 40;
		else if (r->local)
			lat = 0;
		if (best < 0 || lat < best_lat) {
			best = i;
			best_lat = lat;
		}
	}
	return best;
}

int engine_read_retry(struct ereq *q)
{
	int ri = pick_reader(q->e, q->tried);

	if (ri < 0)
		return -EIO;
	if (engine_read_pick_buf(q))
		return 0;	/* once an abandoned read gives one back */
	q->read_from = (int8_t)ri;
	q->tried |= (uint8_t)(1U << ri);
	q->sub[ri].in_rbuf = q->buf == q->rbuf;
	engine_sub_start(q, (unsigned int)ri, true);
	return 0;
}

int engine_read(struct engine *e, uint64_t off, uint32_t len,
		struct uloop_buf *buf, engine_done_fn done, void *arg)
{
	struct ereq *q;
	int err = check_range(e, off, len);

	if (err || !buf || len > buf->size)
		return err ? err : -EINVAL;
	if (len > engine_max_io(e))
		return -E2BIG;
	if ((err = api_enter(e)))
		return err;
	q = req_user(e, EOP_READ, off, len, done, arg);
	if (!q) {
		api_leave(e);
		return -EAGAIN;
	}
	q->buf = buf;
	q->ubuf = buf;
	e->reads++;
	if (engine_read_retry(q))
		engine_req_fail_now(q, -EIO);
	api_leave(e);
	return 0;
}

int engine_flush(struct engine *e, engine_done_fn done, void *arg)
{
	struct ereq *q;
	unsigned int i;
	int err;

	if ((err = api_enter(e)))
		return err;
	q = req_user(e, EOP_FLUSH, 0, 0, done, arg);
	if (!q) {
		api_leave(e);
		return -EAGAIN;
	}
	e->flushes++;
	if (engine_in_sync(e) < e->min_in_sync || !engine_in_sync(e)) {
		engine_req_fail_now(q, -EIO);
		api_leave(e);
		return 0;
	}
	q->starting = 1;
	for (i = 0; i < e->nr; i++)
		if (e->repl[i].state == ENGINE_REPLICA_IN_SYNC)
			engine_sub_start(q, i, true);
	q->starting = 0;
	engine_req_progress(q);
	api_leave(e);
	return 0;
}

bool engine_zero_fast(const struct engine *e)
{
	unsigned int i;

	/* the replicas issue_write() sends a zero to */
	for (i = 0; i < e->nr; i++)
		if ((e->repl[i].state == ENGINE_REPLICA_IN_SYNC ||
		     e->repl[i].state == ENGINE_REPLICA_RESYNCING) &&
		    !e->repl[i].zero_fast)
			return false;
	return true;
}

uint64_t engine_size(const struct engine *e)
{
	return e->size;
}

uint32_t engine_block_size(const struct engine *e)
{
	return e->bs;
}

uint32_t engine_max_io(const struct engine *e)
{
	uint32_t m = uloop_buf_max(e->loop);

	return m < REPL_MAX_PAYLOAD ? m : REPL_MAX_PAYLOAD;
}

/* ---- the tick: deadlines, activity log, progress ---- */

/* Whether the sub must be done by a deadline, and when (live time). */
static uint64_t hard_deadline(const struct engine *e, const struct esub *s,
			      const struct erepl *r)
{
	return engine_hard_deadline(s->flushing, s->t_issue, r->nflush,
				    r->t_flush_clear, e->hard_ns, e->flush_ns);
}

/* Deadlines are judged in live time (uloop.h), so the time the loop
 * itself was stalled never counts against a replica; and not at all in
 * the first tick after a stall, so that the replies that arrived
 * meanwhile are reaped first -- but never two ticks running, so that a
 * loop that keeps stalling still judges. */
static void check_deadlines(struct engine *e)
{
	uint64_t now = uloop_live_clock(e->loop), dl;
	unsigned int i, fail = 0, slow = 0;
	uint64_t stalls = uloop_stalls(e->loop);
	struct ereq *q;

	if (stalls != e->stalls_seen) {
		e->stalls_seen = stalls;
		if (!e->skipped_tick) {
			e->skipped_tick = true;
			return;
		}
	}
	e->skipped_tick = false;
	for (q = e->head; q; q = q->next) {
		for (i = 0; i < e->nr; i++) {
			const struct esub *s = &q->sub[i];
			const struct erepl *r = &e->repl[i];

			if (s->state != SUB_ISSUED)
				continue;
			dl = hard_deadline(e, s, r);
			if (dl && now > dl)
				fail |= 1U << i;
			else if (now - s->t_issue >
				 engine_soft_deadline(r->ewma_ns,
						      e->soft_floor_ns,
						      e->soft_mult))
				slow |= 1U << i;
		}
	}
	/* A flush or FUA op past its timeout is not taken for a failed sync
	 * (EMISSED_SYNC_FAILED): its outcome is unknown.  A local one's is
	 * judged when its CQE comes (engine_abandoned_sync_done).  A remote
	 * server whose sync then fails knows it: it refuses HELLOs until it
	 * restarts, then says state 2 if its record landed (all of it is
	 * copied), or else opens the volume uncleanly, zeroes every seq its
	 * last good sync does not vouch for and reports less than it acked,
	 * and the pages a failed writeback drops were written since that
	 * sync, so engine_unsync.c copies them again.  Marking it all to
	 * copy here would cost a full copy for every flush that is merely
	 * slow.  What neither covers is an engine that dies meanwhile, whose
	 * in-memory unsync maps go with it: the same for any remote that
	 * loses its page cache then (docs/engine.md, what this does not
	 * cover), not only one that timed out. */
	for (i = 0; i < e->nr; i++) {
		e->repl[i].slow = slow & (1U << i);
		if (fail & (1U << i))
			engine_replica_fail(&e->repl[i], -ETIMEDOUT,
					    "hard timeout");
		else if (!e->repl[i].local && !e->repl[i].up)
			engine_remote_tick(&e->repl[i], now);
	}
}

/* Clear activity-log bits of regions no unfinished write touches.  Lazy:
 * a bit that stays set a little longer only costs a little more work in
 * recovery. */
static void sweep_actlog(struct engine *e)
{
	uint64_t r;

	/* While the replicas are being reconciled (or wait to be, after a
	 * crash) the log is the list of regions to reconcile. */
	if (e->recon.active || e->recon.crash)
		return;
	for (r = dirtymap_next(e->actlog, 0); r != DIRTYMAP_NONE;
	     r = dirtymap_next(e->actlog, r + 1))
		if (!engine_range_busy(e, r << EREGION_SHIFT, EREGION))
			dirtymap_clear(e->actlog, r);
}

static void log_progress(struct engine *e)
{
	unsigned int i;

	for (i = 0; i < e->nr; i++) {
		struct erepl *r = &e->repl[i];

		if (r->state == ENGINE_REPLICA_RESYNCING && !r->rs.draining)
			log_info("%s: resync %s: %llu/%llu regions, %llu MB/s",
				 e->name, r->zone,
				 (unsigned long long)r->rs.done,
				 (unsigned long long)r->rs.total,
				 (unsigned long long)(engine_resync_rate(r) >> 20));
	}
}

void engine_tick(struct uloop_timer *t)
{
	struct engine *e = (struct engine *)((char *)t -
					     offsetof(struct engine, tick));
	uint64_t now;

	engine_enter(e);
	check_deadlines(e);
	now = uloop_now(e->loop);
	if (now - e->t_sweep >= SWEEP_NS) {
		e->t_sweep = now;
		sweep_actlog(e);
	}
	engine_state_tick(e);
	engine_sync_tick(e);
	engine_mark_in_sync_tick(e);
	engine_recon_pump(e);
	engine_resync_pump(e);
	if (now - e->t_log >= LOG_NS) {
		e->t_log = now;
		log_progress(e);
	}
	uloop_timer_arm(e->loop, &e->tick, now + e->tick_ns);
	engine_leave(e);
}

void engine_defer_fire(struct uloop_timer *t)
{
	engine_run_deferred((struct engine *)((char *)t -
				offsetof(struct engine, defer_timer)));
}
