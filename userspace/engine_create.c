/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_create: opening a volume (options, state dir, targets, crash
 * recovery, initial replica states) and closing it.
 */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirtymap.h"
#include "engine_int.h"
#include "hist.h"
#include "log.h"

#define CONNECT_WAIT_NS	3000000000ULL
#define DESTROY_WAIT_NS	5000000000ULL

/* The engine's rules (engine_opts.c), logged where they are handled. */
static int check_opts(const struct engine_opts *o)
{
	struct engine_opts_fault f;
	int err;

	if ((err = engine_opts_check(o, &f))) {
		if (f.opt == ENGINE_OPT_REPLICA || f.opt == ENGINE_OPT_ZONE_ID)
			log_err("%s: replica %u: %s", o->name, f.replica + 1,
				f.why);
		else
			log_err("%s: %s: %s", o->name ? o->name : "volume",
				engine_opts_fault_name(o, &f), f.why);
	}
	return err;
}

static void copy_opts(struct engine *e, const struct engine_opts *o)
{
	snprintf(e->name, sizeof(e->name), "%s", o->name);
	e->size = o->size;
	e->bs = o->block_size ? o->block_size : 4096;
	e->ack = o->ack;
	e->nr = o->nr_replicas;
	e->min_in_sync = engine_floor(o->ack, o->nr_replicas, o->min_in_sync);
	e->create = o->create;
	e->soft_floor_ns = (o->soft_floor_us ? o->soft_floor_us : 2000) *
			   1000ULL;
	e->soft_mult = o->soft_mult ? o->soft_mult : 4;
	e->lag_cut = o->lag_cut;
	e->hard_ns = (o->hard_timeout_ms ? o->hard_timeout_ms : 500) *
		     1000000ULL;
	e->flush_ns = (o->flush_timeout_ms ? o->flush_timeout_ms : 10000) *
		      1000000ULL;
	if (e->flush_ns < e->hard_ns)
		e->flush_ns = e->hard_ns;
	e->tick_ns = e->hard_ns / 10;
	if (e->tick_ns > 20000000ULL)
		e->tick_ns = 20000000ULL;
	e->st.fd = -1;
}

/* dirtymap_open(path), saying which file failed and, for a file that is
 * there but not one of this volume's maps, so. */
static int open_map(const struct engine *e, const char *path, uint64_t nreg,
		    struct dirtymap **out)
{
	int err = dirtymap_open(path, nreg, EREGION, true, out);

	if (err == -EINVAL)
		log_err("%s: %s is not a map of this volume (torn, zeroed, "
			"another file, or of another size)", e->name, path);
	else if (err)
		log_err("%s: %s: %s", e->name, path, strerror(-err));
	return err;
}

/* The missed map beside the dirty one.  A state dir from an engine that
 * kept none: every dirty region may miss an acked write, and a replica
 * with none was in sync. */
static int open_missed(struct engine *e, struct erepl *r, uint64_t nreg)
{
	char path[4096], suffix[REPL_ZONE_MAX + 8];
	bool fresh;
	int err;

	snprintf(suffix, sizeof(suffix), "%s.missed", r->zone);
	if ((err = engine_state_path(e, suffix, path, sizeof(path)))) {
		log_err("%s: missed map of %s: %s", e->name, r->zone,
			strerror(-err));
		return err;
	}
	fresh = engine_state_missing(path);
	if ((err = open_map(e, path, nreg, &r->missed)))
		return err;
	if (fresh) {
		dirtymap_merge(r->missed, r->dirty);
		dirtymap_set_flags(r->missed, dirtymap_count(r->dirty) ? 0 :
					      EMISSED_IN_SYNC);
	}
	return 0;
}

/* A replica new to the volume: its maps are made under temporary names,
 * marked (all of it to copy, if the volume has been written before) and
 * synced, then put in place, the missed map first: the dirty map's
 * absence is what says the replica is new.  In place but not yet synced,
 * a power loss could leave them with no bit set (the size and the
 * header written back, the rest not), and the replica, holding none of
 * the volume, would be taken for in sync.  0 or -errno. */
static int open_new_maps(struct engine *e, struct erepl *r, uint64_t nreg,
			 const char *dirty)
{
	char missed[4096], tmp_d[4096], tmp_m[4096];
	char suffix[REPL_ZONE_MAX + 8];
	int err;

	snprintf(suffix, sizeof(suffix), "%s.missed", r->zone);
	if ((err = engine_state_path(e, suffix, missed, sizeof(missed))))
		return err;
	if (snprintf(tmp_d, sizeof(tmp_d), "%s.new", dirty) >=
	    (int)sizeof(tmp_d) ||
	    snprintf(tmp_m, sizeof(tmp_m), "%s.new", missed) >=
	    (int)sizeof(tmp_m))
		return -ENAMETOOLONG;
	unlink(tmp_d);		/* left by a create that did not finish */
	unlink(tmp_m);
	if ((err = open_map(e, tmp_d, nreg, &r->dirty)) ||
	    (err = open_map(e, tmp_m, nreg, &r->missed)))
		goto err_unlink;
	dirtymap_set_flags(r->missed, EMISSED_IN_SYNC);
	/* One new to a volume that has been written before (its state
	 * record is older than this engine) holds none of it. */
	if (!e->st.fresh)
		engine_mark_empty(r, "has no dirty map (new to the volume)");
	if ((err = dirtymap_sync(r->dirty)) ||
	    (err = dirtymap_sync(r->missed)) ||
	    (err = engine_state_place(tmp_m, missed)) ||
	    (err = engine_state_place(tmp_d, dirty))) {
		log_err("%s: making the maps of %s durable: %s", e->name,
			r->zone, strerror(-err));
		goto err_unlink;
	}
	return 0;

err_unlink:
	/* Whichever is still under its temporary name (the dirty map not in
	 * place: the next create takes the replica for new again). */
	unlink(tmp_m);
	unlink(tmp_d);
	return err;
}

static int open_replica(struct engine *e, unsigned int i,
			const struct engine_replica_opts *ro)
{
	struct erepl *r = &e->repl[i];
	uint64_t nreg = (e->size + EREGION - 1) >> EREGION_SHIFT;
	char path[4096], suffix[REPL_ZONE_MAX + 8];
	int err;

	r->e = e;
	r->idx = i;
	snprintf(r->zone, sizeof(r->zone), "%s", ro->zone);
	/* No id: no zone tag (the engine never invents ids, which would
	 * collide with the node's zone registry). */
	r->zone_id = ro->zone_id ? ro->zone_id : UD_ZONE_NONE;
	r->local = ro->path != NULL;
	r->state = ENGINE_REPLICA_DEGRADED;
	r->retry.fn = engine_replica_retry;
	hist_reset(&r->hist);
	snprintf(suffix, sizeof(suffix), "%s.dirty", r->zone);
	if ((err = engine_state_path(e, suffix, path, sizeof(path)))) {
		log_err("%s: dirty map of %s: %s", e->name, r->zone,
			strerror(-err));
		return err;
	}
	if (engine_state_missing(path))
		err = open_new_maps(e, r, nreg, path);
	else if (!(err = open_map(e, path, nreg, &r->dirty)))
		err = open_missed(e, r, nreg);
	if (err)
		return err;
	if (!r->local)
		return engine_remote_init(r, ro->addr);
	err = engine_local_open(r, ro->path);
	if (err == -ENOMEM || err == -EINVAL)
		return err;	/* a bad option, not a missing replica */
	if (!err)
		r->up = true;
	return 0;
}

static void wait_connects(struct engine *e)
{
	uint64_t deadline = uloop_clock(e->loop) + CONNECT_WAIT_NS;
	unsigned int i, waiting;

	for (i = 0; i < e->nr; i++)
		if (!e->repl[i].local && engine_remote_connect(&e->repl[i]))
			engine_remote_shutdown(&e->repl[i]);
	do {
		waiting = 0;
		for (i = 0; i < e->nr; i++)
			waiting += !e->repl[i].local && !e->repl[i].up &&
				   !engine_remote_idle(&e->repl[i]);
		if (!waiting || uloop_clock(e->loop) > deadline)
			break;
		uloop_run_once(e->loop, 10000000ULL);
	} while (1);
	for (i = 0; i < e->nr; i++)
		if (!e->repl[i].local && !e->repl[i].up)
			engine_remote_shutdown(&e->repl[i]);
}

/* Reachable replicas with nothing dirty are in sync, the others resync;
 * unreachable ones are degraded and retried.  After an unclean stop (the
 * activity log is not empty) no replica is in sync before the reachable
 * ones have been reconciled (engine_recover). */
static int initial_states(struct engine *e)
{
	unsigned int i, up = 0;

	for (i = 0; i < e->nr; i++) {
		struct erepl *r = &e->repl[i];

		if (!r->up) {
			r->state = ENGINE_REPLICA_DEGRADED;
			r->t_down = uloop_clock(e->loop);
			log_warn("%s: replica %s unreachable: degraded",
				 e->name, r->zone);
		} else {
			up++;
			r->state = dirtymap_count(r->dirty) || e->recon.crash ?
				   ENGINE_REPLICA_RESYNCING :
				   ENGINE_REPLICA_IN_SYNC;
		}
	}
	/* A resyncing replica gets writes whose acks do not wait for it:
	 * it no longer vouches for the activity log's regions.  With none in
	 * sync (after a crash, or every replica degraded) no write is acked
	 * before the replicas are reconciled, and the flags say who may
	 * vouch if the engine dies meanwhile (engine_recover.c). */
	for (i = 0; i < e->nr && engine_in_sync(e); i++)
		if (e->repl[i].state == ENGINE_REPLICA_RESYNCING)
			dirtymap_set_flags(e->repl[i].missed,
					   dirtymap_flags(e->repl[i].missed) &
					   ~EMISSED_IN_SYNC);
	if (up < e->min_in_sync) {
		log_err("%s: %u of %u replicas reachable, min-in-sync is %u",
			e->name, up, e->nr, e->min_in_sync);
		return -EIO;
	}
	for (i = 0; i < e->nr; i++) {
		struct erepl *r = &e->repl[i];

		if (!r->up)
			engine_schedule_retry(r);
		else if (r->state == ENGINE_REPLICA_IN_SYNC)
			engine_mark_in_sync(r);
		else if (engine_in_sync(e))
			engine_resync_start(r);
	}
	return 0;
}

/* The map syncs, state writes and local flushes each hold an io_uring
 * worker for as long as their disk takes; file writes that cannot be done
 * inline (an O_DIRECT write that allocates, say) wait for a worker of the
 * same pool, 4 per CPU by default.  Room for both: the pool (the
 * thread's) may grow to ENGINE_IOWQ_MIN if it is smaller. */
#define ENGINE_IOWQ_MIN	128

static void grow_workers(struct engine *e)
{
	struct io_uring *ring = uloop_ring(e->loop);
	unsigned int cur[2] = { 0, 0 }, want[2] = { ENGINE_IOWQ_MIN, 0 };

	if (io_uring_register_iowq_max_workers(ring, cur))
		return;	/* an old kernel: nothing to do about it */
	if (cur[0] < ENGINE_IOWQ_MIN)
		io_uring_register_iowq_max_workers(ring, want);
}

static int open_all(struct engine *e, const struct engine_opts *o)
{
	uint64_t nreg = (e->size + EREGION - 1) >> EREGION_SHIFT;
	char path[4096];
	unsigned int i;
	int err;

	if (mkdir(o->state_dir, 0700) && errno != EEXIST) {
		err = -errno;
		log_err("%s: state dir %s: %s", e->name, o->state_dir,
			strerror(-err));
		return err;
	}
	grow_workers(e);
	if ((err = engine_register(e)) ||
	    (err = engine_alloc_slots(e, o->queue_depth ? o->queue_depth : 128)) ||
	    (err = engine_state_open(e)))
		return err;
	if ((err = engine_state_path(e, "actlog", path, sizeof(path)))) {
		log_err("%s: activity log: %s", e->name, strerror(-err));
		return err;
	}
	if ((err = open_map(e, path, nreg, &e->actlog)))
		return err;
	for (i = 0; i < e->nr; i++)
		if ((err = open_replica(e, i, &o->replicas[i])))
			return err;
	return 0;
}

int engine_create(struct uloop *loop, const struct engine_opts *o,
		  struct engine **out)
{
	struct engine *e;
	int err;

	if ((err = check_opts(o)))
		return err;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->loop = loop;
	e->num = EMAX_ENGINES;
	copy_opts(e, o);
	e->state_dir = strdup(o->state_dir);
	e->tick.fn = engine_tick;
	e->defer_timer.fn = engine_defer_fire;
	e->in_create = true;
	if (!e->state_dir)
		err = -ENOMEM;
	else
		err = open_all(e, o);
	if (!err) {
		wait_connects(e);
		engine_remote_check_empty(e);
		e->recon.crash = dirtymap_count(e->actlog) != 0;
	}
	e->in_create = false;
	if (!err)
		err = initial_states(e);
	/* The tick judges deadlines: crash recovery's reads from a replica
	 * that does not answer fail it at its hard timeout, as later. */
	e->t_sweep = e->t_log = uloop_now(loop);
	uloop_timer_arm(loop, &e->tick, uloop_now(loop) + e->tick_ns);
	if (!err && !engine_in_sync(e))
		err = engine_recover(e);
	if (err) {
		e->in_create = true;	/* keep the activity log as it is */
		engine_destroy(e);
		return err;
	}
	*out = e;
	return 0;
}

/* Requests, map syncs and the state record's write all done (the last
 * writes from memory this engine owns). */
static bool idle(const struct engine *e)
{
	return !e->nr_inflight && engine_sync_idle(e) && !engine_state_busy(e);
}

static void run_until_idle(struct engine *e, uint64_t ns)
{
	uint64_t deadline = uloop_clock(e->loop) + ns;

	while (!idle(e) && uloop_clock(e->loop) < deadline)
		uloop_run_once(e->loop, 10000000ULL);
}

/* Writes waiting for a seq never got one: refused. */
static void drop_seq_waiters(struct engine *e)
{
	struct ereq *q;

	while ((q = e->seqq)) {
		e->seqq = q->wlink;
		q->waiting = 0;
		engine_req_fail_now(q, -ESHUTDOWN);
	}
	e->seqq_tail = NULL;
}

/* Answer every caller still waiting with -ESHUTDOWN (a read once no
 * replica or SQE can fill its buffer any more); let what is out
 * finish on its own for up to a hard timeout (so a slow replica's
 * lingering acked writes are not needlessly marked dirty); then cut the
 * replicas off, which marks whatever they still had in their dirty maps,
 * and wait (bounded) for the kernel to give back what it holds. */
static void drain(struct engine *e)
{
	struct ereq *q;
	unsigned int i;

	engine_run_deferred(e);
	engine_enter(e);
	drop_seq_waiters(e);
	for (q = e->head; q; q = q->next)
		if (!q->acked && !q->internal && !q->waiting)
			engine_req_shutdown(q);
	engine_leave(e);
	run_until_idle(e, e->hard_ns);
	engine_enter(e);
	for (i = 0; i < e->nr; i++)
		if (e->repl[i].up && e->nr_inflight)
			engine_replica_fail(&e->repl[i], -ESHUTDOWN, "shutdown");
	engine_abandon_blocked(e);
	engine_leave(e);
	run_until_idle(e, DESTROY_WAIT_NS);
	for (i = 0; i < e->nr; i++) {
		uint64_t deadline = uloop_clock(e->loop) + DESTROY_WAIT_NS;

		if (!e->repl[i].local)
			engine_remote_shutdown(&e->repl[i]);
		while (!engine_remote_idle(&e->repl[i]) &&
		       uloop_clock(e->loop) < deadline)
			uloop_run_once(e->loop, 10000000ULL);
	}
	/* Every read is answered before destroy returns, even one whose
	 * buffer the kernel has not given back by now. */
	engine_enter(e);
	for (q = e->head; q; q = q->next)
		if (!q->acked && q->shut) {
			log_err("%s: shutdown: a read's buffer is still held "
				"by the kernel after %llu s", e->name,
				(unsigned long long)(DESTROY_WAIT_NS /
						     1000000000ULL));
			engine_req_fail_now(q, -ESHUTDOWN);
		}
	engine_leave(e);
}

/* Every replica's maps are open: not so when create failed on one, and
 * a round of map syncs (engine_sync_all) takes every map. */
static bool maps_open(const struct engine *e)
{
	unsigned int i;

	for (i = 0; i < e->nr; i++)
		if (!e->repl[i].dirty || !e->repl[i].missed)
			return false;
	return true;
}

void engine_destroy(struct engine *e)
{
	unsigned int i;

	if (!e)
		return;
	e->shutting_down = true;
	uloop_timer_cancel(e->loop, &e->tick);
	uloop_timer_cancel(e->loop, &e->defer_timer);
	for (i = 0; i < e->nr; i++)
		uloop_timer_cancel(e->loop, &e->repl[i].retry);
	if (e->reqs)
		drain(e);
	/* A clean stop: nothing in flight, nothing for recovery to do --
	 * unless the log lists regions still to be reconciled. */
	if (e->actlog && idle(e) && !e->in_create && !e->recon.active &&
	    !e->recon.crash) {
		engine_mark_in_sync_tick(e);
		dirtymap_clear_all(e->actlog);
	}
	if (e->actlog && e->reqs && e->num < EMAX_ENGINES && maps_open(e))
		engine_sync_all(e, DESTROY_WAIT_NS);
	for (i = 0; i < e->nr; i++) {
		struct erepl *r = &e->repl[i];

		if (r->local)
			engine_local_close(r);
		else
			engine_remote_free(r);
		if (r->dirty)
			dirtymap_sync(r->dirty);
		dirtymap_close(r->dirty);
		if (r->missed)
			dirtymap_sync(r->missed);
		dirtymap_close(r->missed);
	}
	if (e->actlog)
		dirtymap_sync(e->actlog);
	dirtymap_close(e->actlog);
	engine_state_close(e);
	if (e->num < EMAX_ENGINES)
		engine_unregister(e);
	if (e->reqs)
		for (i = 0; i < e->nr_internal; i++)
			free(e->reqs[i].rsb);
	free(e->reqs);
	free(e->rs_arena);
	free(e->state_dir);
	free(e);
}
