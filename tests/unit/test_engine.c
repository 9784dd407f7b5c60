/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine's request life cycle against fake targets: the target seam
 * (engine_local_*, engine_remote_*) is wrapped with -Wl,--wrap, so each
 * test sees exactly which subs went to which replica and completes them
 * by hand, in any order, with any result.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dirtymap.h"
#include "engine_int.h"
#include "log.h"

/* ---- fake targets ---- */

#define MAX_SUBS 256

static struct {
	struct ereq *q;
	unsigned int ri;
	uint8_t op;
	struct uloop_buf *buf;	/* the buffer it reads into or writes */
} subs[MAX_SUBS];
static unsigned int nsubs;
static int submit_err[ENGINE_MAX_REPLICAS];
static int reopen_err = -EIO;
static int open_err[ENGINE_MAX_REPLICAS];

int __wrap_engine_local_open(struct erepl *r, const char *path)
{
	(void)path;
	return open_err[r->idx];
}

void __wrap_engine_local_close(struct erepl *r)
{
	(void)r;
}

int __wrap_engine_local_reopen(struct erepl *r)
{
	(void)r;
	return reopen_err;
}

int __wrap_engine_local_submit(struct erepl *r, struct ereq *q)
{
	if (submit_err[r->idx])
		return submit_err[r->idx];
	assert_true(nsubs < MAX_SUBS);
	subs[nsubs].q = q;
	subs[nsubs].ri = r->idx;
	subs[nsubs].op = q->op;
	subs[nsubs].buf = q->buf;
	nsubs++;
	return 0;
}

int __wrap_engine_remote_init(struct erepl *r, const char *addr)
{
	(void)r;
	(void)addr;
	return 0;
}

void __wrap_engine_remote_free(struct erepl *r)
{
	(void)r;
}

int __wrap_engine_remote_connect(struct erepl *r)
{
	(void)r;
	return -ECONNREFUSED;
}

void __wrap_engine_remote_shutdown(struct erepl *r)
{
	(void)r;
}

bool __wrap_engine_remote_idle(const struct erepl *r)
{
	(void)r;
	return true;
}

int __wrap_engine_remote_submit(struct erepl *r, struct ereq *q)
{
	return __wrap_engine_local_submit(r, q);
}

/* ---- helpers ---- */

static struct uloop *loop;
static struct engine *eng;
static char dir[64];
static int ndone, last_res;

static void done(void *arg, int res)
{
	(void)arg;
	ndone++;
	last_res = res;
}

/* engine_opts.lag_cut and .size of the next make(); setup() resets
 * them. */
static enum engine_lag_cut lag_cut;
static uint64_t vol_size;

static void make(enum engine_ack ack, unsigned int min_in_sync,
		 unsigned int qd)
{
	struct engine_opts o;
	unsigned int i;
	static const char *const zones[] = { "a", "b", "c" };

	memset(&o, 0, sizeof(o));
	o.name = "vol";
	o.size = vol_size;
	o.ack = ack;
	o.min_in_sync = min_in_sync;
	o.nr_replicas = 3;
	o.state_dir = dir;
	o.queue_depth = qd;
	o.lag_cut = lag_cut;
	for (i = 0; i < 3; i++) {
		o.replicas[i].zone = zones[i];
		o.replicas[i].path = "/fake";
	}
	assert_int_equal(engine_create(loop, &o, &eng), 0);
}

static int setup(void **state)
{
	struct uloop_opts lo = { .nr_small = 128, .nr_large = 2 };

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/engine-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(uloop_create(&lo, &loop), 0);
	nsubs = 0;
	ndone = 0;
	last_res = 1;
	lag_cut = ENGINE_LAG_CUT_SPARE;
	vol_size = 16 << 20;
	reopen_err = -EIO;
	memset(submit_err, 0, sizeof(submit_err));
	memset(open_err, 0, sizeof(open_err));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	engine_destroy(eng);
	eng = NULL;
	uloop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void complete(unsigned int n, int res)
{
	engine_enter(eng);
	engine_sub_done(subs[n].q, subs[n].ri, res);
	engine_leave(eng);
}

/* Run the loop once without blocking: deferred done() calls fire. */
static void spin(void)
{
	uloop_run_once(loop, 1000000);
}

static int write4k(uint64_t off)
{
	struct uloop_buf *b;
	int err;

	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	err = engine_write(eng, off, 4096, b, 0, done, NULL);
	if (err)
		uloop_buf_put(loop, b);
	return err;
}

/* ---- tests ---- */

static void test_engine_all_waits_for_every_replica(void **state)
{
	unsigned int free0 = uloop_buf_free(loop, false);

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(write4k(0), 0);
	assert_int_equal(nsubs, 3);
	assert_int_equal(ndone, 0);	/* never from inside the call */
	complete(0, 0);
	complete(2, 0);
	assert_int_equal(ndone, 0);
	complete(1, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
	/* the buffer went back with the last replica */
	assert_int_equal(uloop_buf_free(loop, false), free0);
	assert_int_equal(eng->nr_inflight, 0);
}

static void test_engine_quorum_acks_before_the_slowest(void **state)
{
	unsigned int free0 = uloop_buf_free(loop, false);

	(void)state;
	make(ENGINE_ACK_QUORUM, 0, 8);
	assert_int_equal(write4k(65536), 0);
	complete(1, 0);
	assert_int_equal(ndone, 0);
	complete(2, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
	/* the slow replica still holds the buffer and the slot */
	assert_int_equal(uloop_buf_free(loop, false), free0 - 1);
	assert_int_equal(eng->nr_inflight, 1);
	complete(0, 0);
	assert_int_equal(uloop_buf_free(loop, false), free0);
	assert_int_equal(eng->nr_inflight, 0);
	assert_int_equal(ndone, 1);
}

/* ENGINE_BUF_SHARED: one buffer serves two writes at once, and the engine
 * never puts it back, not even after the slow replica is done with it. */
static void test_engine_shared_buffer_is_borrowed(void **state)
{
	unsigned int free0 = uloop_buf_free(loop, false);
	struct uloop_buf *b;
	unsigned int i;

	(void)state;
	make(ENGINE_ACK_QUORUM, 0, 8);
	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	assert_int_equal(engine_write(eng, 0, 4096, b, ENGINE_BUF_SHARED,
				      done, NULL), 0);
	assert_int_equal(engine_write(eng, 65536, 4096, b, ENGINE_BUF_SHARED,
				      done, NULL), 0);
	assert_int_equal(nsubs, 6);
	for (i = 0; i < 6; i++)
		complete(i, 0);
	assert_int_equal(ndone, 2);
	assert_int_equal(last_res, 0);
	assert_int_equal(eng->nr_inflight, 0);
	assert_int_equal(uloop_buf_free(loop, false), free0 - 1);
	uloop_buf_put(loop, b);
}

static void test_engine_failed_replica_is_degraded_and_dirty(void **state)
{
	struct engine_stats st;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(write4k(3 * 65536), 0);
	complete(0, 0);
	complete(1, -EIO);
	assert_int_equal(ndone, 0);
	complete(2, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);	/* two in sync still have it */
	engine_get_stats(eng, &st);
	assert_int_equal(st.in_sync, 2);
	assert_int_equal(st.replica[1].state, ENGINE_REPLICA_DEGRADED);
	assert_int_equal(st.replica[1].dirty_regions, 1);
	assert_true(dirtymap_test(eng->repl[1].dirty, 3));
	/* the next write skips it and marks its region dirty before the
	 * ack */
	nsubs = 0;
	assert_int_equal(write4k(7 * 65536), 0);
	assert_int_equal(nsubs, 2);
	assert_true(subs[0].ri != 1 && subs[1].ri != 1);
	assert_true(dirtymap_test(eng->repl[1].dirty, 7));
	complete(0, 0);
	complete(1, 0);
	assert_int_equal(ndone, 2);
	assert_int_equal(last_res, 0);
}

static void test_engine_below_floor_fails_without_io(void **state)
{
	(void)state;
	make(ENGINE_ACK_ALL, 3, 8);
	assert_int_equal(write4k(0), 0);
	complete(0, -EIO);	/* replica 0 degraded: 2 < 3 */
	complete(1, 0);
	complete(2, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, -EIO);
	/* a failed write still left its region dirty for replica 0 */
	assert_true(dirtymap_test(eng->repl[0].dirty, 0));
	nsubs = 0;
	assert_int_equal(write4k(65536), 0);
	assert_int_equal(nsubs, 0);	/* nothing went anywhere */
	assert_int_equal(ndone, 1);
	spin();
	assert_int_equal(ndone, 2);
	assert_int_equal(last_res, -EIO);
	assert_false(dirtymap_test(eng->actlog, 1));
	assert_false(dirtymap_test(eng->repl[1].dirty, 1));
}

static void test_engine_quorum_lost_mid_write_is_accounted(void **state)
{
	(void)state;
	make(ENGINE_ACK_QUORUM, 0, 8);
	assert_int_equal(write4k(2 * 65536), 0);
	complete(0, 0);
	complete(1, -EIO);
	assert_int_equal(ndone, 0);
	complete(2, -ETIMEDOUT);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, -EIO);
	/* replica 0 took it; 1 and 2 know they miss it */
	assert_true(dirtymap_test(eng->repl[1].dirty, 2));
	assert_true(dirtymap_test(eng->repl[2].dirty, 2));
	assert_false(dirtymap_test(eng->repl[0].dirty, 2));
}

static void test_engine_overlap_is_ordered_per_replica(void **state)
{
	(void)state;
	make(ENGINE_ACK_QUORUM, 0, 8);
	assert_int_equal(write4k(0), 0);
	assert_int_equal(write4k(0), 0);
	assert_int_equal(nsubs, 3);	/* the second is held everywhere */
	complete(1, 0);
	assert_int_equal(nsubs, 4);	/* released on replica 1 only */
	assert_int_equal(subs[3].ri, 1);
	assert_ptr_not_equal(subs[3].q, subs[1].q);
	complete(2, 0);
	assert_int_equal(nsubs, 5);
	assert_int_equal(subs[4].ri, 2);
	assert_int_equal(ndone, 1);
}

static void test_engine_slots_run_out_with_eagain(void **state)
{
	(void)state;
	make(ENGINE_ACK_ALL, 0, 2);
	assert_int_equal(write4k(0), 0);
	assert_int_equal(write4k(65536), 0);
	assert_int_equal(write4k(2 * 65536), -EAGAIN);
	complete(0, 0);
	complete(1, 0);
	complete(2, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(write4k(2 * 65536), 0);
}

static void test_engine_bad_requests_refused(void **state)
{
	struct uloop_buf *b;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	assert_int_equal(engine_write(eng, 100, 4096, b, 0, done, NULL),
			 -EINVAL);
	assert_int_equal(engine_write(eng, 16 << 20, 4096, b, 0, done, NULL),
			 -EINVAL);
	assert_int_equal(engine_write(eng, 0, 0, b, 0, done, NULL), -EINVAL);
	assert_int_equal(engine_read(eng, 0, 8192, b, done, NULL), 0);
	uloop_buf_put(loop, b);
	assert_int_equal(nsubs, 1);	/* one read, to one replica */
}

static void test_engine_read_retries_another_replica(void **state)
{
	struct uloop_buf *b;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	assert_int_equal(engine_read(eng, 0, 4096, b, done, NULL), 0);
	assert_int_equal(nsubs, 1);
	complete(0, -EIO);
	assert_int_equal(nsubs, 2);
	assert_int_not_equal(subs[1].ri, subs[0].ri);
	assert_int_equal(ndone, 0);
	complete(1, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
	uloop_buf_put(loop, b);
}

/* A local read that the hard timeout abandons still has its READ_FIXED
 * in the kernel, into the caller's buffer: the retry on another replica
 * may finish first, but done() (after which the caller reuses the
 * buffer) must wait until the kernel has given the buffer back. */
static void test_engine_read_answer_waits_for_the_buffer(void **state)
{
	struct uloop_buf *b;
	struct ereq *q;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	assert_int_equal(engine_read(eng, 0, 4096, b, done, NULL), 0);
	assert_int_equal(nsubs, 1);
	q = subs[0].q;
	q->sub[subs[0].ri].kref = 1;	/* its SQE is in the kernel */
	q->sub[subs[0].ri].t_issue = uloop_live_clock(loop) - 2 * eng->hard_ns;
	engine_tick(&eng->tick);
	assert_int_equal(eng->repl[subs[0].ri].state,
			 ENGINE_REPLICA_DEGRADED);
	assert_int_equal(nsubs, 2);		/* retried elsewhere */
	complete(1, 0);
	spin();
	assert_int_equal(ndone, 0);		/* the kernel still holds b */
	engine_enter(eng);
	engine_sub_unref(q, subs[0].ri);	/* its CQE came */
	engine_leave(eng);
	spin();
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
	assert_int_equal(eng->nr_inflight, 0);
	uloop_buf_put(loop, b);
}

/* A local read abandoned by the hard timeout whose READ_FIXED ends late,
 * after part of a DMA into the buffer it was given (a failing disk), must
 * not spoil what the retry on another replica read: the answer is the
 * retry's data. */
static void test_engine_late_abandoned_read_cannot_spoil_the_retry(void **state)
{
	unsigned int free0 = uloop_buf_free(loop, false);
	uint8_t want[4096];
	struct uloop_buf *b;
	struct ereq *q;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	memset(b->base, 0, 4096);
	assert_int_equal(engine_read(eng, 0, 4096, b, done, NULL), 0);
	assert_int_equal(nsubs, 1);
	assert_ptr_equal(subs[0].buf, b);
	q = subs[0].q;
	q->sub[subs[0].ri].kref = 1;	/* its SQE is in the kernel */
	q->sub[subs[0].ri].t_issue = uloop_live_clock(loop) - 2 * eng->hard_ns;
	engine_tick(&eng->tick);
	assert_int_equal(nsubs, 2);		/* retried elsewhere */
	memset(want, 0xa5, sizeof(want));
	/* the good data */
	memcpy(subs[1].buf->base, want, sizeof(want));
	complete(1, 0);
	spin();
	assert_int_equal(ndone, 0);
	/* the abandoned read: half a DMA of junk, then its failed CQE */
	memset(subs[0].buf->base, 0xee, 2048);
	engine_enter(eng);
	engine_sub_unref(q, subs[0].ri);
	engine_leave(eng);
	spin();
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
	assert_memory_equal(b->base, want, sizeof(want));
	assert_int_equal(eng->nr_inflight, 0);
	uloop_buf_put(loop, b);
	assert_int_equal(uloop_buf_free(loop, false), free0);
}

/* With no buffer free for it, the retry waits until the abandoned read
 * has given the caller's buffer back, and then reads into it. */
static void test_engine_read_retry_without_a_free_buffer_waits(void **state)
{
	struct uloop_buf *hog[256], *b;
	unsigned int nhog = 0, i;
	struct ereq *q;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	while (nhog < 256 && !uloop_buf_get(loop, 4096, &hog[nhog]))
		nhog++;
	assert_int_equal(uloop_buf_free(loop, false), 0);
	assert_int_equal(uloop_buf_free(loop, true), 0);
	assert_int_equal(engine_read(eng, 0, 4096, b, done, NULL), 0);
	q = subs[0].q;
	q->sub[subs[0].ri].kref = 1;
	q->sub[subs[0].ri].t_issue = uloop_live_clock(loop) - 2 * eng->hard_ns;
	engine_tick(&eng->tick);
	assert_int_equal(eng->repl[subs[0].ri].state,
			 ENGINE_REPLICA_DEGRADED);
	assert_int_equal(nsubs, 1);	/* nowhere to read into yet */
	engine_enter(eng);
	engine_sub_unref(q, subs[0].ri);
	engine_leave(eng);
	assert_int_equal(nsubs, 2);
	assert_ptr_equal(subs[1].buf, b);
	assert_int_not_equal(subs[1].ri, subs[0].ri);
	complete(1, 0);
	spin();
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
	for (i = 0; i < nhog; i++)
		uloop_buf_put(loop, hog[i]);
	uloop_buf_put(loop, b);
}

/* The read engine_destroy() finds in flight, and the moment its done()
 * runs: whether the kernel then still held its buffer. */
static struct ereq *held_q;
static unsigned int held_ri;
static int held_at_done;

static void done_held(void *arg, int res)
{
	done(arg, res);
	held_at_done = held_q->sub[held_ri].kref;
}

static void read_cqe_comes(struct uloop_timer *t)
{
	(void)t;
	held_q->sub[held_ri].kref = 0;
	engine_enter(eng);
	engine_sub_done(held_q, held_ri, 0);
	engine_leave(eng);
}

/* At shutdown a read still in the kernel, into the caller's buffer, is
 * answered (-ESHUTDOWN) only once the kernel has given the buffer back:
 * after done() the caller reuses it. */
static void test_engine_shutdown_read_waits_for_the_buffer(void **state)
{
	struct uloop_timer t = { .fn = read_cqe_comes };
	struct uloop_buf *b;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	assert_int_equal(engine_read(eng, 0, 4096, b, done_held, NULL), 0);
	assert_int_equal(nsubs, 1);
	held_q = subs[0].q;
	held_ri = subs[0].ri;
	held_q->sub[held_ri].kref = 1;	/* its READ_FIXED is in the kernel */
	held_at_done = -1;
	/* its CQE comes while the engine drains */
	assert_int_equal(uloop_timer_arm(loop, &t, uloop_now(loop) +
					 50000000ULL), 0);
	engine_destroy(eng);
	eng = NULL;
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, -ESHUTDOWN);
	assert_int_equal(held_at_done, 0);
	uloop_buf_put(loop, b);
}

static void test_engine_hard_timeout_degrades(void **state)
{
	struct engine_stats st;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(write4k(0), 0);
	complete(0, 0);
	complete(1, 0);
	/* replica 2 has sat on it past the hard timeout */
	subs[2].q->sub[2].t_issue = uloop_live_clock(loop) - 2 * eng->hard_ns;
	engine_tick(&eng->tick);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[2].state, ENGINE_REPLICA_DEGRADED);
	assert_true(dirtymap_test(eng->repl[2].dirty, 0));
}

static void test_engine_submit_failure_is_a_replica_failure(void **state)
{
	(void)state;
	make(ENGINE_ACK_QUORUM, 0, 8);
	submit_err[0] = -EBUSY;
	assert_int_equal(write4k(0), 0);
	assert_int_equal(nsubs, 2);
	assert_int_equal(eng->repl[0].state, ENGINE_REPLICA_DEGRADED);
	complete(0, 0);
	complete(1, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
}

static void test_engine_trim_and_zero_are_ordered_writes(void **state)
{
	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(engine_zero(eng, 0, 16 << 20, 0, done, NULL), 0);
	assert_int_equal(nsubs, 3);
	assert_int_equal(subs[0].op, EOP_ZERO);
	assert_true(subs[0].q->seq > 0);
	/* a write into the range waits for the zero on every replica */
	assert_int_equal(write4k(8 << 20), 0);
	assert_int_equal(nsubs, 3);
	assert_int_equal(engine_trim(eng, 4096, 100, 0, done, NULL), -EINVAL);
	complete(0, 0);
	complete(1, 0);
	complete(2, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
	assert_int_equal(nsubs, 6);
	assert_int_equal(subs[3].op, EOP_WRITE);
	assert_true(subs[3].q->seq > subs[0].q->seq);
}

/* A zero longer than a chunk (1 GiB) goes out chunk by chunk; a later
 * write into a chunk still to come must wait for that chunk on every
 * replica, not slip in between two chunks (and be zeroed by the next one
 * on some replicas only). */
static void test_engine_long_zero_is_not_overtaken(void **state)
{
	const struct ereq *w;
	unsigned int i;

	(void)state;
	vol_size = 2ULL << 30;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(engine_zero(eng, 0, 2ULL << 30, 0, done, NULL), 0);
	assert_int_equal(nsubs, 3);			/* chunk 1 */
	assert_int_equal(write4k((1ULL << 30) + 65536), 0);
	w = eng->tail;
	assert_int_equal(w->op, EOP_WRITE);
	assert_int_equal(nsubs, 3);
	complete(0, 0);
	complete(1, 0);
	assert_int_equal(nsubs, 3);	/* the write still waits for chunk 2 */
	complete(2, 0);
	assert_int_equal(nsubs, 6);			/* chunk 2 */
	for (i = 3; i < 6; i++)
		assert_int_equal(subs[i].op, EOP_ZERO);
	assert_true(subs[3].q->off == 1ULL << 30);
	/* and the write, applied after chunk 2, is newer than it: a resync
	 * or recovery that goes by seqs must not take the zeroes for newer */
	assert_true(subs[3].q->seq < w->seq);
	complete(3, 0);
	complete(4, 0);
	complete(5, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
	assert_int_equal(nsubs, 9);			/* now the write */
	for (i = 6; i < 9; i++)
		assert_int_equal(subs[i].op, EOP_WRITE);
}

/* A request that overlaps only chunks of a long zero that every replica
 * has done goes as soon as the last replica is done with them, not after
 * the chunks still to come; one that overlaps a chunk to come still
 * waits for it.  Before, the write into chunk 1 waited for some sub of
 * chunk 2 to end on each replica. */
static void test_engine_long_zero_lets_done_chunks_go(void **state)
{
	const struct ereq *a, *b;
	unsigned int i;

	(void)state;
	vol_size = 3ULL << 30;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(engine_zero(eng, 0, 3ULL << 30, 0, done, NULL), 0);
	assert_int_equal(nsubs, 3);			/* chunk 1 */
	assert_int_equal(write4k(65536), 0);		/* into chunk 1 */
	a = eng->tail;
	assert_int_equal(write4k((1ULL << 30) + 65536), 0);	/* chunk 2 */
	b = eng->tail;
	assert_int_equal(nsubs, 3);
	complete(0, 0);
	complete(1, 0);
	complete(2, 0);
	/* chunk 2, and at once the write into chunk 1 on every replica */
	assert_int_equal(nsubs, 9);
	for (i = 3; i < 6; i++)
		assert_int_equal(subs[i].op, EOP_ZERO);
	for (i = 6; i < 9; i++)
		assert_true(subs[i].op == EOP_WRITE && subs[i].q == a);
	assert_true(subs[3].q->seq < a->seq);
	complete(6, 0);
	complete(7, 0);
	complete(8, 0);
	assert_int_equal(ndone, 1);			/* the write */
	assert_int_equal(nsubs, 9);		/* b still waits for chunk 2 */
	complete(3, 0);
	complete(4, 0);
	complete(5, 0);
	assert_int_equal(nsubs, 15);			/* chunk 3, then b */
	for (i = 9; i < 12; i++)
		assert_int_equal(subs[i].op, EOP_ZERO);
	for (i = 12; i < 15; i++)
		assert_true(subs[i].op == EOP_WRITE && subs[i].q == b);
	for (i = 9; i < 15; i++)
		complete(i, 0);
	assert_int_equal(ndone, 3);
	assert_int_equal(last_res, 0);
}

/* A long zero that fails between chunks lets the writes that waited for
 * its remaining chunks go (they must not hang). */
static void test_engine_failed_long_zero_releases_waiters(void **state)
{
	(void)state;
	vol_size = 2ULL << 30;
	make(ENGINE_ACK_ALL, 3, 8);
	assert_int_equal(engine_zero(eng, 0, 2ULL << 30, 0, done, NULL), 0);
	assert_int_equal(write4k((1ULL << 30) + 65536), 0);
	assert_int_equal(nsubs, 3);
	complete(0, -EIO);	/* below the floor: the zero fails */
	complete(1, 0);
	complete(2, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, -EIO);
	/* the write went out to the two replicas left; it fails too */
	assert_int_equal(nsubs, 5);
	complete(3, 0);
	complete(4, 0);
	assert_int_equal(ndone, 2);
	assert_int_equal(last_res, -EIO);
	assert_int_equal(eng->nr_inflight, 0);
}

/* Quorum writes acked by replicas 0 and 1 pile up on replica 2, which has
 * answered only the first; returns how many were accepted.  The fake
 * targets record no latency: the tests set the EWMAs. */
static unsigned int pile_up(void)
{
	unsigned int i, n;

	for (n = 0; n < 256; n++) {
		unsigned int first = nsubs;

		if (write4k((uint64_t)n * 65536))
			break;
		for (i = first; i < nsubs; i++) {
			if (subs[i].ri != 2 || n == 0)
				complete(i, 0);
		}
	}
	return n;
}

/* With lag_cut floor, the laggard goes as soon as the slots are full. */
static void test_engine_laggard_is_cut_off_with_lag_cut_floor(void **state)
{
	struct engine_stats st;
	unsigned int n;

	(void)state;
	lag_cut = ENGINE_LAG_CUT_FLOOR;
	make(ENGINE_ACK_QUORUM, 0, 2);
	/* 50 ms against 100 us: much slower */
	eng->repl[0].ewma_ns = eng->repl[1].ewma_ns = 100000;
	eng->repl[2].ewma_ns = 50000000;
	n = pile_up();
	assert_int_equal(ndone, n);
	/* every slot, plus the first write, which replica 2 finished too */
	assert_int_equal(n, eng->nr_reqs - eng->nr_internal + 1);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[2].state, ENGINE_REPLICA_DEGRADED);
	assert_int_equal(st.replica[2].lagged, 1);
	assert_int_equal(st.replica[2].dirty_regions, n - 1);
	/* the slots came back: writes go on without it */
	assert_int_equal(write4k(0), 0);
	engine_get_stats(eng, &st);
	assert_int_equal(st.in_sync, 2);
}

/* By default a replica that is much slower is still waited for while it
 * is the volume's spare (3 replicas, quorum 2): cutting it would leave
 * the volume one failure away from refusing writes. */
static void test_engine_slow_spare_is_waited_for(void **state)
{
	struct engine_stats st;
	unsigned int n;

	(void)state;
	make(ENGINE_ACK_QUORUM, 0, 2);
	eng->repl[0].ewma_ns = eng->repl[1].ewma_ns = 100000;
	eng->repl[2].ewma_ns = 50000000;
	n = pile_up();
	/* every slot taken by a write acked by 0 and 1 (plus the first,
	 * which replica 2 finished too); the next write waits */
	assert_int_equal(n, eng->nr_reqs - eng->nr_internal + 1);
	assert_int_equal(ndone, n);
	assert_int_equal(write4k(0), -EAGAIN);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[2].state, ENGINE_REPLICA_IN_SYNC);
	assert_int_equal(st.replica[2].lagged, 0);
	assert_int_equal(st.in_sync, 3);
}

static void test_engine_a_little_behind_is_waited_for(void **state)
{
	struct engine_stats st;

	(void)state;
	make(ENGINE_ACK_QUORUM, 0, 2);
	/* as fast as the others so far: a burst, not a slow zone */
	eng->repl[0].ewma_ns = eng->repl[1].ewma_ns = 1000000;
	eng->repl[2].ewma_ns = 1500000;
	pile_up();
	assert_int_equal(write4k(0), -EAGAIN);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[2].state, ENGINE_REPLICA_IN_SYNC);
	assert_int_equal(st.replica[2].lagged, 0);
}

/* Run the loop until done() has been called n times (map syncs and
 * state writes are real io_uring I/O on the state dir). */
static void spin_until(int n)
{
	int i;

	for (i = 0; i < 2000 && ndone < n; i++)
		uloop_run_once(loop, 5000000);
	assert_int_equal(ndone, n);
}

static int flush(void)
{
	return engine_flush(eng, done, NULL);
}

/* A flush is answered only once the data is synced on the replicas AND
 * the dirty maps it depends on (a replica missed an acked write) are
 * durable -- by an fsync through the ring, not on the caller's thread. */
static void test_engine_flush_waits_for_the_dirty_maps(void **state)
{
	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(write4k(0), 0);
	complete(0, 0);
	complete(1, -EIO);		/* replica 1 misses it: dirty */
	complete(2, 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, 0);
	assert_int_equal(flush(), 0);
	assert_int_equal(nsubs, 5);	/* replicas 0 and 2 */
	assert_int_equal(subs[3].op, EOP_FLUSH);
	complete(3, 0);
	complete(4, 0);
	/* the data is synced; the dirty map's fsync is still out */
	assert_int_equal(ndone, 1);
	assert_false(engine_sync_idle(eng));
	spin_until(2);
	assert_int_equal(last_res, 0);
	assert_true(engine_sync_idle(eng));
	/* nothing changed since: the next flush needs no map sync */
	assert_int_equal(flush(), 0);
	complete(5, 0);
	complete(6, 0);
	spin();
	assert_int_equal(ndone, 3);
	assert_int_equal(last_res, 0);
}

/* A FUA write that a replica missed is acked only once the record of
 * that is durable too. */
static void test_engine_fua_with_a_missing_replica_syncs(void **state)
{
	struct uloop_buf *b;

	(void)state;
	make(ENGINE_ACK_QUORUM, 0, 8);
	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	assert_int_equal(engine_write(eng, 0, 4096, b, ENGINE_FUA, done,
				      NULL), 0);
	/* not a storage error, which would mark all of the volume (see
	 * test_engine_failed_flush_loses_all_since_the_last) */
	complete(0, -ECONNRESET);
	complete(1, 0);
	complete(2, 0);
	assert_int_equal(ndone, 0);	/* replica 0's record not durable */
	assert_true(dirtymap_test(eng->repl[0].missed, 0));
	spin_until(1);
	assert_int_equal(last_res, 0);
	/* replica 0, degraded, misses the next one at issue: the same */
	nsubs = 0;
	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	assert_int_equal(engine_write(eng, 65536, 4096, b, ENGINE_FUA, done,
				      NULL), 0);
	assert_int_equal(nsubs, 2);
	complete(0, 0);
	complete(1, 0);
	assert_int_equal(ndone, 1);
	spin_until(2);
	assert_true(dirtymap_test(eng->repl[0].missed, 1));
	/* a plain write is acked at once all the same */
	nsubs = 0;
	assert_int_equal(write4k(2 * 65536), 0);
	complete(0, 0);
	complete(1, 0);
	assert_int_equal(ndone, 3);
}

/* With no seq durably reserved a write waits (the reservation is written
 * in the background) and then goes out, in order with later writes. */
static void test_engine_write_waits_for_a_seq(void **state)
{
	int i;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	eng->st.next_seq = eng->st.seq_limit;
	assert_int_equal(write4k(0), 0);
	assert_int_equal(write4k(65536), 0);
	assert_int_equal(nsubs, 0);
	assert_true(engine_state_busy(eng));
	for (i = 0; i < 2000 && nsubs < 6; i++)
		uloop_run_once(loop, 5000000);
	assert_int_equal(nsubs, 6);
	assert_true(subs[0].q->seq < subs[3].q->seq);
	assert_int_equal(subs[0].q->off, 0);
}

/* A flush may take seconds: neither it nor what is queued behind it on
 * that replica is judged by the hard timeout; the flush timeout applies. */
static void test_engine_flush_has_its_own_timeout(void **state)
{
	struct engine_stats st;
	uint64_t now;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(flush(), 0);
	assert_int_equal(write4k(0), 0);
	assert_int_equal(nsubs, 6);
	complete(0, 0);			/* the flush on 0 and 1 is done */
	complete(1, 0);
	complete(3, 0);			/* the write on 0 and 1 too */
	complete(4, 0);
	now = uloop_live_clock(loop);
	subs[2].q->sub[2].t_issue = now - 2 * eng->hard_ns;
	subs[5].q->sub[2].t_issue = now - 2 * eng->hard_ns;
	engine_tick(&eng->tick);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[2].state, ENGINE_REPLICA_IN_SYNC);
	/* the flush ends: the write is judged from then on, not before */
	complete(2, 0);
	spin_until(1);
	engine_tick(&eng->tick);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[2].state, ENGINE_REPLICA_IN_SYNC);
	eng->repl[2].t_flush_clear = uloop_live_clock(loop) - 2 * eng->hard_ns;
	engine_tick(&eng->tick);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[2].state, ENGINE_REPLICA_DEGRADED);
	assert_int_equal(ndone, 2);
	assert_int_equal(last_res, 0);
	/* a flush past the flush timeout degrades its replica */
	nsubs = 0;
	assert_int_equal(flush(), 0);
	assert_int_equal(nsubs, 2);
	subs[1].q->sub[subs[1].ri].t_issue = uloop_live_clock(loop) -
					      eng->flush_ns - 1;
	engine_tick(&eng->tick);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[subs[1].ri].state,
			 ENGINE_REPLICA_DEGRADED);
}

/* Spin the loop until the activity log's sweep has dropped region reg
 * (no write in flight there any more). */
static void swept(uint64_t reg)
{
	int i;

	for (i = 0; i < 200 && dirtymap_test(eng->actlog, reg); i++)
		uloop_run_once(loop, 5000000);
	assert_false(dirtymap_test(eng->actlog, reg));
}

/* A replica whose FLUSH (or FUA write) fails may have lost every write
 * it acked since its last good flush: Linux drops the pages whose
 * writeback failed and tells one fsync only.  The activity log, swept
 * every 250 ms, knows only the recent ones: the whole volume is to be
 * copied to it. */
static void test_engine_failed_flush_loses_all_since_the_last(void **state)
{
	struct uloop_buf *b;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(write4k(5 * 65536), 0);
	complete(0, 0);
	complete(1, 0);
	complete(2, 0);
	assert_int_equal(ndone, 1);
	swept(5);
	assert_int_equal(flush(), 0);
	complete(3, 0);
	complete(4, -EIO);		/* replica 1's sync failed */
	complete(5, 0);
	assert_true(dirtymap_test(eng->repl[1].missed, 5));
	assert_true(dirtymap_test(eng->repl[1].dirty, 5));
	assert_true(dirtymap_test(eng->repl[1].missed,
				  (eng->size - 1) >> EREGION_SHIFT));
	assert_false(dirtymap_test(eng->repl[0].missed, 5));
	spin_until(2);
	assert_int_equal(last_res, 0);
	/* the same for a FUA write whose sync fails on replica 0 */
	nsubs = 0;
	assert_int_equal(uloop_buf_get(loop, 4096, &b), 0);
	assert_int_equal(engine_write(eng, 7 * 65536, 4096, b, ENGINE_FUA,
				      done, NULL), 0);
	assert_int_equal(nsubs, 2);	/* replica 1 is degraded */
	complete(0, -EIO);
	complete(1, 0);
	assert_true(dirtymap_test(eng->repl[0].missed, 5));
	assert_false(dirtymap_test(eng->repl[2].missed, 5));
}

/* A remote's server that answers a write with EIO has a failing disk:
 * what it acked before may sit in a cache whose writeback fails too, and
 * a restart before its own sync knows nothing of it.  All of the volume
 * is to be copied to it, and its HELLOs say REPL_F_SYNC_FAILED (the flag
 * in its missed map) so that its server stops trusting its seqs.  A
 * write lost to the connection (not the server's EIO) marks only its own
 * range. */
static void test_engine_remote_write_eio_loses_all(void **state)
{
	uint64_t last = (16 << 20) - 1;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	eng->repl[1].local = false;	/* played as remotes */
	eng->repl[2].local = false;
	assert_int_equal(write4k(5 * 65536), 0);
	complete(0, 0);
	complete(1, -EIO);
	complete(2, -ECONNRESET);
	assert_true(dirtymap_test(eng->repl[1].missed, 5));
	assert_true(dirtymap_test(eng->repl[1].missed, last >> EREGION_SHIFT));
	assert_true(dirtymap_flags(eng->repl[1].missed) & EMISSED_SYNC_FAILED);
	assert_true(dirtymap_test(eng->repl[2].missed, 5));
	assert_false(dirtymap_test(eng->repl[2].missed,
				   last >> EREGION_SHIFT));
	assert_false(dirtymap_flags(eng->repl[2].missed) &
		     EMISSED_SYNC_FAILED);
}

/* A stall of the loop itself: the first tick after it judges nothing
 * (the replies that came meanwhile are reaped first). */
static void test_engine_no_verdict_right_after_a_stall(void **state)
{
	struct engine_stats st;

	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	assert_int_equal(write4k(0), 0);
	complete(0, 0);
	complete(1, 0);
	subs[2].q->sub[2].t_issue = uloop_live_clock(loop) - 2 * eng->hard_ns;
	eng->stalls_seen = uloop_stalls(loop) - 1;	/* as after one */
	engine_tick(&eng->tick);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[2].state, ENGINE_REPLICA_IN_SYNC);
	/* another stall right away: a loop that keeps stalling still
	 * judges, every other tick at least */
	eng->stalls_seen = uloop_stalls(loop) - 1;
	engine_tick(&eng->tick);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[2].state, ENGINE_REPLICA_DEGRADED);
}

/* Complete every sub the fakes hold from index `from` on with 0. */
static void complete_all(unsigned int from)
{
	unsigned int i;

	for (i = from; i < nsubs; i++)
		complete(i, 0);
}

/* Every replica degraded at once (say, all zones stalled): writes fail
 * with EIO and nothing can be resynced, since no replica is in sync.
 * When they come back the engine reconciles them on its own (reads every
 * region that may differ from all of them), then they are in sync and
 * writes go on. */
static void test_engine_all_degraded_then_reconciled(void **state)
{
	struct engine_stats st;
	unsigned int i, first;

	(void)state;
	make(ENGINE_ACK_QUORUM, 0, 8);
	assert_int_equal(write4k(5 * 65536), 0);
	for (i = 0; i < 3; i++)
		engine_replica_fail(&eng->repl[i], -ETIMEDOUT, "test");
	spin_until(1);
	assert_int_equal(last_res, -EIO);
	assert_int_equal(write4k(0), 0);
	spin_until(2);
	assert_int_equal(last_res, -EIO);
	/* two come back: enough for quorum, and a majority vouches */
	engine_replica_up(&eng->repl[0]);
	engine_replica_up(&eng->repl[1]);
	engine_get_stats(eng, &st);
	assert_true(st.reconciling);
	assert_int_equal(st.in_sync, 0);
	first = 3;
	assert_int_equal(nsubs, first + 2);	/* region 5, on 0 and 1 */
	assert_int_equal(subs[first].op, EOP_RREAD);
	assert_int_equal(subs[first].q->off, 5 * 65536);
	complete_all(first);
	/* not every replica is there: written back under a fresh seq */
	assert_int_equal(nsubs, first + 4);
	assert_int_equal(subs[first + 2].op, EOP_RWRITE);
	complete_all(first + 2);
	for (i = 0; i < 2000 && !engine_in_sync(eng); i++)
		uloop_run_once(loop, 5000000);
	engine_get_stats(eng, &st);
	assert_int_equal(st.in_sync, 2);
	assert_int_equal(st.reconciles, 1);
	assert_false(st.reconciling);
	/* the third one lacks what the others now hold */
	assert_true(dirtymap_test(eng->repl[2].dirty, 5));
	assert_false(dirtymap_test(eng->repl[0].dirty, 5));
	nsubs = 0;
	assert_int_equal(write4k(0), 0);
	complete_all(0);
	spin_until(3);
	assert_int_equal(last_res, 0);
}

/* A volume under `all` (floor 1) with replica 2 degraded, and a write
 * to region acked by 0 and 1 alone: 2 lacks it. */
static void write_missed_by_2(unsigned int region)
{
	make(ENGINE_ACK_ALL, 1, 8);
	engine_replica_fail(&eng->repl[2], -ETIMEDOUT, "test");
	assert_int_equal(write4k(region * 65536), 0);
	complete_all(0);
	spin_until(1);
}

/* Under `all` an acked write may be on one replica only.  If that one is
 * not back, the others must not be reconciled among themselves (the
 * newest copy they hold is not the acked one): the engine waits. */
static void test_engine_reconcile_waits_for_a_holder(void **state)
{
	struct engine_stats st;
	unsigned int i;

	(void)state;
	write_missed_by_2(7);
	assert_int_equal(last_res, 0);
	assert_true(dirtymap_test(eng->repl[2].missed, 7));
	engine_replica_fail(&eng->repl[0], -ETIMEDOUT, "test");
	engine_replica_fail(&eng->repl[1], -ETIMEDOUT, "test");
	nsubs = 0;
	engine_replica_up(&eng->repl[2]);	/* the one that missed it */
	engine_get_stats(eng, &st);
	assert_false(st.reconciling);
	assert_int_equal(nsubs, 0);
	engine_replica_up(&eng->repl[1]);	/* one that has it */
	engine_get_stats(eng, &st);
	assert_true(st.reconciling);
	assert_int_equal(nsubs, 2);
	complete_all(0);
	complete_all(2);
	for (i = 0; i < 2000 && !engine_in_sync(eng); i++)
		uloop_run_once(loop, 5000000);
	assert_int_equal(engine_in_sync(eng), 2);
}

/* A state disk that does not answer must not hang flushes: past the flush
 * timeout a flush waiting for the maps fails with EIO, never succeeds. */
static void test_engine_flush_gives_up_on_a_dead_state_disk(void **state)
{
	(void)state;
	make(ENGINE_ACK_ALL, 0, 8);
	engine_replica_fail(&eng->repl[2], -ETIMEDOUT, "test");
	assert_int_equal(write4k(0), 0);	/* replica 2's maps change */
	complete_all(0);
	assert_int_equal(ndone, 1);
	assert_int_equal(flush(), 0);
	complete_all(2);
	assert_int_equal(ndone, 1);		/* waiting for the round */
	assert_non_null(eng->sync.head);
	eng->sync.head->t_wait = uloop_live_clock(loop) - eng->flush_ns - 1;
	engine_tick(&eng->tick);
	assert_int_equal(ndone, 2);
	assert_int_equal(last_res, -EIO);
	spin();				/* the late fsync changes nothing */
	assert_int_equal(ndone, 2);
}

/* Kill the engine here: its state dir is left as a SIGKILL leaves it
 * (the maps' stores are in the page cache), and make() restarts it. */
static void crash_and_restart(enum engine_ack ack, unsigned int min_in_sync)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "cp -a %s %s.crash", dir, dir);
	assert_int_equal(system(cmd), 0);
	engine_destroy(eng);
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mv %s.crash %s", dir, dir,
		 dir);
	assert_int_equal(system(cmd), 0);
	nsubs = 0;
	make(ack, min_in_sync, 8);
}

/* The engine dies (its state dir is kept as it was, mid-flight) under
 * `all`; it restarts with only the replica that had been degraded before
 * reachable.  That one lacks an acked write, and a crash leaves no record
 * of writes acked while in flight: recovery must not reconcile from it
 * alone (it used to, making its stale copy the newest).  Once a replica
 * that was in sync comes back, recovery runs. */
static void test_engine_crash_recovery_needs_a_holder(void **state)
{
	struct engine_stats st;
	unsigned int i;

	(void)state;
	write_missed_by_2(7);
	assert_int_equal(write4k(9 * 65536), 0);	/* in flight */
	open_err[0] = open_err[1] = -ENOENT;
	crash_and_restart(ENGINE_ACK_ALL, 1);
	engine_get_stats(eng, &st);
	assert_int_equal(st.in_sync, 0);
	assert_false(st.reconciling);
	assert_int_equal(nsubs, 0);	/* nothing read, nothing rewritten */
	eng->repl[1].up = true;		/* it is back */
	engine_replica_up(&eng->repl[1]);
	engine_get_stats(eng, &st);
	assert_true(st.reconciling);
	for (i = 0; i < 2000 && !engine_in_sync(eng); i++) {
		complete_all(0);
		nsubs = 0;
		uloop_run_once(loop, 5000000);
	}
	assert_int_equal(engine_in_sync(eng), 2);
}

/* Every replica degraded (all zones stalled, one after the other), and
 * the engine killed before its activity log was swept: no write was
 * acked since they failed, and each failure marked the acked writes it
 * lacked in its missed map.  Restarted, recovery waits while only the
 * replica that missed writes is back, and runs once the others are; it
 * used to wait for ever for a replica "in sync at the crash", since
 * failing had cleared every one's flag. */
static void test_engine_crash_after_all_degraded_recovers(void **state)
{
	struct engine_stats st;
	unsigned int i;

	(void)state;
	write_missed_by_2(3);
	assert_int_equal(last_res, 0);			/* acked by 0, 1 */
	assert_int_equal(write4k(5 * 65536), 0);	/* in flight */
	engine_replica_fail(&eng->repl[0], -ETIMEDOUT, "test");
	engine_replica_fail(&eng->repl[1], -ETIMEDOUT, "test");
	spin_until(2);
	assert_int_equal(last_res, -EIO);
	assert_true(dirtymap_test(eng->actlog, 5));
	/* restarted with 0 and 1 not back yet */
	open_err[0] = open_err[1] = -ENOENT;
	crash_and_restart(ENGINE_ACK_ALL, 1);
	engine_get_stats(eng, &st);
	assert_false(st.reconciling);	/* 2 alone lacks region 3 */
	for (i = 0; i < 2; i++) {
		eng->repl[i].up = true;
		engine_replica_up(&eng->repl[i]);
	}
	engine_get_stats(eng, &st);
	assert_true(st.reconciling);
	for (i = 0; i < 2000 && engine_in_sync(eng) < 3; i++) {
		complete_all(0);
		nsubs = 0;
		uloop_run_once(loop, 5000000);
	}
	engine_get_stats(eng, &st);
	assert_int_equal(st.in_sync, 3);
}

/* A replica's dirty and missed maps cut to nothing (an engine killed
 * while making them, a damaged state dir) are no record of a replica in
 * sync: it is copied in full.  Empty files used to be taken for new
 * clean maps, and the stale replica for one in sync. */
static void test_engine_empty_maps_are_not_trusted(void **state)
{
	struct engine_stats st;
	char path[128];

	(void)state;
	write_missed_by_2(3);
	assert_true(dirtymap_test(eng->repl[2].dirty, 3));
	engine_destroy(eng);
	snprintf(path, sizeof(path), "%s/vol.c.dirty", dir);
	assert_int_equal(truncate(path, 0), 0);
	snprintf(path, sizeof(path), "%s/vol.c.missed", dir);
	assert_int_equal(truncate(path, 0), 0);
	nsubs = 0;
	make(ENGINE_ACK_ALL, 1, 8);
	engine_get_stats(eng, &st);
	assert_int_equal(st.replica[2].state, ENGINE_REPLICA_RESYNCING);
	assert_true(dirtymap_test(eng->repl[2].dirty, 3));
	assert_true(dirtymap_test(eng->repl[2].missed, 3));
}

/* Crash recovery in engine_create() reads from replicas that do not
 * answer: the hard timeout degrades them, as it would any time later,
 * and create returns (writes wait for the replicas to come back).  It
 * used to wait for them for ever: the tick that judges deadlines was
 * armed only after recovery.  SIGALRM ends a hung run. */
static void test_engine_crash_recovery_times_out(void **state)
{
	struct engine_stats st;

	(void)state;
	make(ENGINE_ACK_ALL, 1, 8);
	assert_int_equal(write4k(5 * 65536), 0);	/* in flight */
	alarm(30);
	crash_and_restart(ENGINE_ACK_ALL, 1);		/* nothing answers */
	alarm(0);
	assert_true(nsubs > 0);		/* recovery started ... */
	engine_get_stats(eng, &st);
	assert_false(st.reconciling);	/* ... and gave up on them */
	assert_int_equal(st.in_sync, 0);
	assert_int_equal(st.replica[0].state, ENGINE_REPLICA_DEGRADED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_engine_all_waits_for_every_replica),
		T(test_engine_quorum_acks_before_the_slowest),
		T(test_engine_shared_buffer_is_borrowed),
		T(test_engine_failed_replica_is_degraded_and_dirty),
		T(test_engine_below_floor_fails_without_io),
		T(test_engine_quorum_lost_mid_write_is_accounted),
		T(test_engine_overlap_is_ordered_per_replica),
		T(test_engine_slots_run_out_with_eagain),
		T(test_engine_bad_requests_refused),
		T(test_engine_read_retries_another_replica),
		T(test_engine_hard_timeout_degrades),
		T(test_engine_read_answer_waits_for_the_buffer),
		T(test_engine_shutdown_read_waits_for_the_buffer),
		T(test_engine_late_abandoned_read_cannot_spoil_the_retry),
		T(test_engine_read_retry_without_a_free_buffer_waits),
		T(test_engine_submit_failure_is_a_replica_failure),
		T(test_engine_trim_and_zero_are_ordered_writes),
		T(test_engine_long_zero_is_not_overtaken),
		T(test_engine_failed_long_zero_releases_waiters),
		T(test_engine_long_zero_lets_done_chunks_go),
		T(test_engine_laggard_is_cut_off_with_lag_cut_floor),
		T(test_engine_slow_spare_is_waited_for),
		T(test_engine_a_little_behind_is_waited_for),
		T(test_engine_flush_waits_for_the_dirty_maps),
		T(test_engine_fua_with_a_missing_replica_syncs),
		T(test_engine_write_waits_for_a_seq),
		T(test_engine_flush_has_its_own_timeout),
		T(test_engine_no_verdict_right_after_a_stall),
		T(test_engine_failed_flush_loses_all_since_the_last),
		T(test_engine_remote_write_eio_loses_all),
		T(test_engine_all_degraded_then_reconciled),
		T(test_engine_reconcile_waits_for_a_holder),
		T(test_engine_flush_gives_up_on_a_dead_state_disk),
		T(test_engine_crash_recovery_needs_a_holder),
		T(test_engine_crash_after_all_degraded_recovers),
		T(test_engine_empty_maps_are_not_trusted),
		T(test_engine_crash_recovery_times_out),
#undef T
	};

	log_init("test_engine", LOG_ERR);
	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
