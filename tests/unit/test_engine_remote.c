/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine_remote: engine_remote's use of the loop's SQ, on a real
 * uloop with a hand-built engine (only the fields engine_remote reads).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>

#include "dirtymap.h"
#include "engine_int.h"
#include "uloop.h"

struct seen {
	unsigned int n, stale;
};

static void on_other(void *ctx, const struct io_uring_cqe *cqe)
{
	struct seen *s = ctx;

	s->n++;
	if (ud_index(cqe->user_data) < 100)
		s->stale++;
}

/* A connect queued when the SQ is nearly full: the SQ slots it takes still
 * hold SQEs that were submitted long ago.  None of them may go to the
 * kernel again (here a NOP, in real life an old write), and the connect
 * and its link timeout must both go out. */
static void test_engine_remote_connect_near_full_sq(void **state)
{
	struct uloop_opts lo = {
		.entries = 8, .nr_small = 1, .small_size = 4096,
		.nr_large = 1, .large_size = 65536, .max_timers = 4,
	};
	struct io_uring_sqe *sqe;
	struct engine *e;
	struct erepl *r;
	struct seen s = { 0 };
	unsigned int i, spins;

	(void)state;
	e = calloc(1, sizeof(*e));
	assert_non_null(e);
	assert_int_equal(uloop_create(&lo, &e->loop), 0);
	uloop_set_handler(e->loop, UD_CLS_OTHER, on_other, &s);
	strcpy(e->name, "vol");
	e->hard_ns = 1000000000ULL;
	r = &e->repl[0];
	r->e = e;
	strcpy(r->zone, "z1");
	/* Nothing listens on port 1 of 127.0.0.1: the connect is refused. */
	assert_int_equal(engine_remote_init(r, "127.0.0.1:1"), 0);

	/* Every SQ slot once held a NOP (index < 100), now reaped. */
	for (i = 0; i < 8; i++) {
		sqe = uloop_get_sqe(e->loop);
		io_uring_prep_nop(sqe);
		sqe->user_data = ud_make(UD_CLS_OTHER, 0, 0, 0, i);
	}
	for (spins = 0; s.n < 8 && spins < 20; spins++)
		uloop_run_once(e->loop, 100000000ULL);
	assert_int_equal(s.n, 8);
	s.stale = 0;
	/* Four fresh ones queued: four slots left. */
	for (i = 0; i < 4; i++) {
		sqe = uloop_get_sqe(e->loop);
		io_uring_prep_nop(sqe);
		sqe->user_data = ud_make(UD_CLS_OTHER, 0, 0, 0, 100 + i);
	}
	assert_int_equal(engine_remote_connect(r), 0);
	for (spins = 0; spins < 20 && (s.n < 12 ||
				       uloop_dropped(e->loop) < 2); spins++)
		uloop_run_once(e->loop, 100000000ULL);
	assert_int_equal(s.stale, 0);
	assert_int_equal(s.n, 12);
	/* the connect's and the timeout's CQEs (no REPL_RX handler here) */
	assert_int_equal(uloop_dropped(e->loop), 2);
	engine_remote_free(r);
	uloop_destroy(e->loop);
	free(e);
}

/* A hand-built engine of 16 regions with one remote replica whose dirty
 * and missed maps are real files in dir. */
static struct engine *unsync_engine(char *dir)
{
	char path[PATH_MAX];
	struct engine *e = calloc(1, sizeof(*e));
	struct erepl *r;

	assert_non_null(e);
	assert_non_null(mkdtemp(dir));
	strcpy(e->name, "vol");
	e->size = 16ULL * EREGION;
	e->bs = 4096;
	r = &e->repl[0];
	r->e = e;
	strcpy(r->zone, "z2");
	snprintf(path, sizeof(path), "%s/dirty", dir);
	assert_int_equal(dirtymap_open(path, 16, EREGION, true, &r->dirty), 0);
	snprintf(path, sizeof(path), "%s/missed", dir);
	assert_int_equal(dirtymap_open(path, 16, EREGION, true, &r->missed),
			 0);
	assert_int_equal(engine_unsync_init(&r->unsync, e->size), 0);
	return e;
}

static void unsync_engine_free(struct engine *e, const char *dir)
{
	char path[PATH_MAX];

	engine_unsync_free(&e->repl[0].unsync);
	dirtymap_close(e->repl[0].dirty);
	dirtymap_close(e->repl[0].missed);
	snprintf(path, sizeof(path), "%s/dirty", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/missed", dir);
	unlink(path);
	rmdir(dir);
	free(e);
}

/* Regions 0 and 1 are written and covered by a good FLUSH; region 2
 * before a second FLUSH, region 3 while it is out (not covered by it),
 * region 4 after it succeeded.  The replica's server then comes back
 * saying it holds less than it acked (it lost its page cache, and the
 * record of that second flush had not landed: it vouches for seq 2
 * only): regions 3 and 4, written since the start of its last good
 * flush, are missed and dirty; 0 to 2, which the flushes made durable,
 * are not (the server zeroed the seq of region 2's block, over data
 * that is on disk). */
static void test_engine_remote_lost_page_cache_marks_since_last_flush(
	void **state)
{
	char dir[] = "/tmp/test_engine_remote.XXXXXX";
	struct engine *e = unsync_engine(dir);
	struct erepl *r = &e->repl[0];
	struct eunsync *u = &r->unsync;
	uint64_t i;

	(void)state;
	engine_unsync_write(u, 0, 2 * EREGION);
	engine_unsync_acked(u, 2);
	engine_unsync_flush_sent(u, 100);
	engine_unsync_flush_done(u, 100, 0);
	engine_unsync_write(u, 2 * EREGION + 4096, 4096);
	engine_unsync_acked(u, 3);
	engine_unsync_flush_sent(u, 101);
	engine_unsync_write(u, 3 * EREGION, 4096);
	engine_unsync_acked(u, 4);
	/* A second flush while 101 is out is not tracked: it clears nothing */
	engine_unsync_flush_sent(u, 102);
	engine_unsync_flush_done(u, 102, 0);
	engine_unsync_flush_done(u, 101, 0);
	engine_unsync_write(u, 4 * EREGION, 4096);
	engine_unsync_acked(u, 5);
	/* A blip: the server acked nothing it does not still hold. */
	assert_int_equal(engine_unsync_hello(r, 5), 0);
	assert_int_equal(dirtymap_count(r->dirty), 0);
	/* A restart after a power loss: it vouches for seq 2 only. */
	assert_int_equal(engine_unsync_hello(r, 2), 2);
	for (i = 0; i < 16; i++) {
		assert_int_equal(dirtymap_test(r->missed, i), i == 3 || i == 4);
		assert_int_equal(dirtymap_test(r->dirty, i), i == 3 || i == 4);
	}
	/* Marked once: the next HELLO saying the same adds nothing. */
	assert_int_equal(engine_unsync_hello(r, 2), 0);
	/* A flush succeeded: the regions marked are not all it held. */
	assert_false(engine_unsync_all(r, 2));
	unsync_engine_free(e, dir);
}

/* A FLUSH that failed, or whose connection went (a HELLO comes before
 * its reply), clears nothing: what it was to cover waits for the next
 * good one. */
static void test_engine_remote_failed_flush_clears_nothing(void **state)
{
	char dir[] = "/tmp/test_engine_remote.XXXXXX";
	struct engine *e = unsync_engine(dir);
	struct erepl *r = &e->repl[0];
	struct eunsync *u = &r->unsync;

	(void)state;
	engine_unsync_write(u, 5 * EREGION, EREGION);
	engine_unsync_acked(u, 7);
	engine_unsync_flush_sent(u, 200);
	engine_unsync_flush_done(u, 200, -EIO);
	engine_unsync_flush_sent(u, 201);
	assert_int_equal(engine_unsync_hello(r, 7), 0);	/* a blip */
	engine_unsync_flush_done(u, 201, 0);	/* not this connection's */
	engine_unsync_write(u, 6 * EREGION, 1);
	engine_unsync_acked(u, 8);
	assert_int_equal(engine_unsync_hello(r, 6), 2);
	assert_true(dirtymap_test(r->missed, 5));
	assert_true(dirtymap_test(r->missed, 6));
	/* No flush ever succeeded there, and the volume held nothing before
	 * this run: what was marked is all it ever held, so a HELLO saying
	 * it holds no write (every seq zeroed) needs no full copy.  Unless
	 * some replica held data from before the run. */
	assert_true(engine_unsync_all(r, 2));
	assert_false(engine_unsync_all(r, 0));
	e->had_data = true;
	assert_false(engine_unsync_all(r, 2));
	unsync_engine_free(e, dir);
}

/* What a good FLUSH made durable: the seqs acked when it was sent, not
 * those acked while it was out, nor what a failed one was to cover.  A
 * HELLO below that says the replica was rolled back (a backup put
 * back); one at or above it is a blip or a lost page cache. */
static void test_engine_remote_rollback_below_flushed_seq(void **state)
{
	char dir[] = "/tmp/test_engine_remote.XXXXXX";
	struct engine *e = unsync_engine(dir);
	struct eunsync *u = &e->repl[0].unsync;

	(void)state;
	engine_unsync_acked(u, 10);
	engine_unsync_flush_sent(u, 300);
	engine_unsync_acked(u, 12);	/* sent after the flush */
	assert_int_equal(engine_unsync_rollback(u, 0), 0);	/* not done */
	engine_unsync_flush_done(u, 300, 0);
	engine_unsync_acked(u, 20);
	engine_unsync_flush_sent(u, 301);
	engine_unsync_flush_done(u, 301, -EIO);
	assert_int_equal(engine_unsync_rollback(u, 10), 0);
	assert_int_equal(engine_unsync_rollback(u, 15), 0);
	assert_int_equal(engine_unsync_rollback(u, 9), 10);
	/* What it says now is the baseline: said again, nothing new. */
	assert_int_equal(engine_unsync_rollback(u, 9), 0);
	unsync_engine_free(e, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_remote_connect_near_full_sq),
		cmocka_unit_test(
			test_engine_remote_lost_page_cache_marks_since_last_flush),
		cmocka_unit_test(test_engine_remote_failed_flush_clears_nothing),
		cmocka_unit_test(test_engine_remote_rollback_below_flushed_seq),
	};

	return cmocka_run_group_tests_name("engine_remote", tests, NULL, NULL);
}
