/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_sync: making the replicas' dirty and missed maps durable without
 * blocking the loop.
 *
 * The maps are MAP_SHARED files: a bit is in the page cache when it is
 * set, which a SIGKILL of the engine cannot undo; a power loss can.  A
 * *round* makes every change made to them so far durable: it submits one
 * IORING_OP_FSYNC per map whose version moved since its last sync (an
 * fsync writes back the stores made through a shared mapping, as msync
 * does), all at once, and is done when the last completes.
 *
 * Whoever needs durability (a flush before it answers, a FUA write that
 * a replica missed) waits for a round that started after its own changes
 * were made: if none is in flight, one starts at once; if one is, the
 * waiter takes the next, which starts when the current one ends (group
 * commit: one round serves every waiter that arrived meanwhile).  A round
 * in which an fsync fails fails its waiters with -EIO.
 */
#include "engine_int.h"

#include <errno.h>
#include <string.h>

#include "dirtymap.h"
#include "log.h"

/* The maps a round covers: every replica's dirty map, then its missed
 * map.  (The activity log is not among them: see docs/engine.md.) */
static unsigned int nr_maps(const struct engine *e)
{
	return 2 * e->nr;
}

static struct dirtymap *map_at(const struct engine *e, unsigned int i)
{
	return i < e->nr ? e->repl[i].dirty : e->repl[i - e->nr].missed;
}

/* Whether some map changed since the round that covers it. */
static bool changed(const struct engine *e, bool count_inflight)
{
	const struct esync *y = &e->sync;
	unsigned int i;
	uint64_t v;

	for (i = 0; i < nr_maps(e); i++) {
		v = dirtymap_version(map_at(e, i));
		if (v != y->synced[i] &&
		    !(count_inflight && y->pending && v == y->inflight[i]))
			return true;
	}
	return false;
}

static void round_done(struct engine *e);

/* Start a round: one fsync per changed map.  Returns false when nothing
 * needed syncing (the round is complete at once). */
static bool round_start(struct engine *e)
{
	struct esync *y = &e->sync;
	struct io_uring_sqe *sqe;
	unsigned int i;
	uint64_t v;

	y->started++;
	y->err = 0;
	y->pending = 0;
	for (i = 0; i < nr_maps(e); i++) {
		v = dirtymap_version(map_at(e, i));
		y->inflight[i] = y->synced[i];
		if (v == y->synced[i])
			continue;
		sqe = uloop_get_sqe(e->loop);
		if (!sqe) {
			y->err = -EBUSY;
			continue;
		}
		io_uring_prep_fsync(sqe, dirtymap_fd(map_at(e, i)), 0);
		io_uring_sqe_set_data64(sqe, ud_make(UD_CLS_ENGINE, UD_OP_FLUSH,
						     UD_ZONE_NONE, 0,
						     (e->num << EIDX_SHIFT) | i));
		y->inflight[i] = v;
		y->pending++;
	}
	if (y->pending)
		return true;
	round_done(e);
	return false;
}

/* The round in flight has ended: answer the waiters it covers, and start
 * the next round if any waiter needs one. */
static void round_done(struct engine *e)
{
	struct esync *y = &e->sync;
	struct ewait *w;
	int err = y->err;

	if (err)
		log_err("%s: cannot make the dirty maps durable: %s", e->name,
			strerror(-err));
	y->done = y->started;
	while ((w = y->head) && w->ticket <= y->done) {
		y->head = w->next;
		if (!y->head)
			y->tail = NULL;
		w->next = NULL;
		w->fn(w, err ? -EIO : 0);
	}
	if (y->head && !y->pending)
		round_start(e);
}

#define ACTLOG_IDX	(EIDX_MASK - 1)	/* the activity log's fsync */

void engine_sync_cqe(struct engine *e, const struct io_uring_cqe *cqe)
{
	struct esync *y = &e->sync;
	unsigned int i = ud_index(cqe->user_data) & EIDX_MASK;

	if (i == ACTLOG_IDX) {
		y->actlog_out = 0;
		if (cqe->res >= 0)
			dirtymap_synced(e->actlog, y->actlog_ver);
		return;
	}
	if (i >= nr_maps(e) || !y->pending)
		return;
	if (cqe->res < 0 && !y->err)
		y->err = cqe->res;
	else if (cqe->res >= 0) {
		y->synced[i] = y->inflight[i];
		dirtymap_synced(map_at(e, i), y->inflight[i]);
	}
	if (!--y->pending)
		round_done(e);
}

int engine_sync_wait(struct engine *e, struct ewait *w)
{
	struct esync *y = &e->sync;

	if (!y->pending) {
		if (!changed(e, false))
			return 1;
		if (!round_start(e))
			return y->err ? -EIO : 1;
		w->ticket = y->started;
	} else {
		/* The round in flight covers the waiter only if nothing
		 * changed since it started. */
		w->ticket = changed(e, true) ? y->started + 1 : y->started;
	}
	w->next = NULL;
	w->t_wait = uloop_live_ns(e->loop);
	if (y->tail)
		y->tail->next = w;
	else
		y->head = w;
	y->tail = w;
	return 0;
}

void engine_sync_tick(struct engine *e)
{
	struct esync *y = &e->sync;
	uint64_t now = uloop_live_ns(e->loop);
	struct ewait *w;

	while ((w = y->head) && now - w->t_wait > e->flush_ns) {
		log_err("%s: the dirty maps are not durable after %llu ms: "
			"giving up on a flush", e->name,
			(unsigned long long)(e->flush_ns / 1000000));
		y->head = w->next;
		if (!y->head)
			y->tail = NULL;
		w->next = NULL;
		w->fn(w, -EIO);
	}
}

bool engine_sync_idle(const struct engine *e)
{
	return !e->sync.pending && !e->sync.head;
}

struct final_wait {
	struct ewait w;
	bool done;
};

static void final_done(struct ewait *w, int err)
{
	(void)err;
	((struct final_wait *)w)->done = true;	/* w is the first member */
}

static void unlink_waiter(struct esync *y, struct ewait *w)
{
	struct ewait **p, *prev = NULL;

	for (p = &y->head; *p; prev = *p, p = &(*p)->next) {
		if (*p != w)
			continue;
		*p = w->next;
		if (y->tail == w)
			y->tail = prev;
		return;
	}
}

/* Shutdown: every map durable, the activity log too, all at once through
 * the ring; the loop runs until then or for timeout_ns.  What is left
 * (an fsync that failed, a timeout) the caller's msyncs do. */
void engine_sync_all(struct engine *e, uint64_t timeout_ns)
{
	struct esync *y = &e->sync;
	uint64_t deadline = uloop_clock(e->loop) + timeout_ns;
	struct final_wait fw = { .w = { .fn = final_done } };
	struct io_uring_sqe *sqe;

	y->actlog_ver = dirtymap_version(e->actlog);
	if (!y->actlog_out && (sqe = uloop_get_sqe(e->loop))) {
		io_uring_prep_fsync(sqe, dirtymap_fd(e->actlog), 0);
		io_uring_sqe_set_data64(sqe, ud_make(UD_CLS_ENGINE, UD_OP_FLUSH,
						     UD_ZONE_NONE, 0,
						     (e->num << EIDX_SHIFT) |
						     ACTLOG_IDX));
		y->actlog_out = 1;
	}
	engine_enter(e);
	fw.done = engine_sync_wait(e, &fw.w) != 0;
	engine_leave(e);
	while ((!fw.done || y->actlog_out || y->pending) &&
	       uloop_clock(e->loop) < deadline)
		uloop_run_once(e->loop, 10000000ULL);
	if (!fw.done)
		unlink_waiter(y, &fw.w);	/* it must not outlive us */
}
