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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_remote_connect_near_full_sq),
	};

	return cmocka_run_group_tests_name("engine_remote", tests, NULL, NULL);
}
