/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stall probe against a real io_uring: a MSG_WAITALL recv on a socket
 * pair, cancelled by the probe, ends with the bytes that arrived (a slow
 * sender) or with -ECANCELED (a stuck one).  uloop_get_sqe is wrapped so
 * that a test can take the SQEs away.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stallprobe.h"
#include "uloop.h"

#define RECV_UD		ud_make(UD_CLS_OTHER, UD_OP_READ, UD_ZONE_NONE, 0, 7)
#define PROBE_UD	ud_make(UD_CLS_OTHER, UD_OP_NONE, UD_ZONE_NONE, 0, 7)
#define PAYLOAD		(64 * 1024)

struct io_uring_sqe *__real_uloop_get_sqe(struct uloop *l);

static bool no_sqes;

struct io_uring_sqe *__wrap_uloop_get_sqe(struct uloop *l)
{
	return no_sqes ? NULL : __real_uloop_get_sqe(l);
}

struct fixture {
	struct uloop *l;
	int fd[2];		/* [0] receives, [1] sends */
	struct stallprobe p;
	unsigned int sqes;
	bool recv_done, probe_done;
	int recv_res, probe_res;
	uint8_t buf[PAYLOAD];
};

static void on_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	struct fixture *f = ctx;

	f->sqes--;
	if (cqe->user_data == RECV_UD) {
		f->recv_done = true;
		f->recv_res = cqe->res;
	} else if (cqe->user_data == PROBE_UD) {
		f->probe_done = true;
		f->probe_res = cqe->res;
	} else {
		fail_msg("unexpected CQE %llx",
			 (unsigned long long)cqe->user_data);
	}
}

static int setup(void **state)
{
	struct uloop_opts o = {
		.entries = 8, .nr_small = 1, .small_size = 4096,
		.nr_large = 1, .large_size = 65536, .max_timers = 4,
	};
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(uloop_create(&o, &f->l), 0);
	assert_int_equal(uloop_set_handler(f->l, UD_CLS_OTHER, on_cqe, f), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->fd), 0);
	no_sqes = false;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->fd[0]);
	close(f->fd[1]);
	uloop_destroy(f->l);
	free(f);
	return 0;
}

/* Post a recv as the servers do: direct ones take the whole payload. */
static void post(struct fixture *f, bool direct)
{
	struct io_uring_sqe *sqe = uloop_get_sqe(f->l);

	assert_non_null(sqe);
	io_uring_prep_recv(sqe, f->fd[0], f->buf, PAYLOAD,
			   direct ? MSG_WAITALL : 0);
	sqe->user_data = RECV_UD;
	stallprobe_posted(&f->p, direct);
	f->sqes++;
	f->recv_done = f->probe_done = false;
}

/* Queue the probe as a server's tick does. */
static int ask(struct fixture *f)
{
	return stallprobe_ask(&f->p, f->l, RECV_UD, PROBE_UD, &f->sqes);
}

/* Let the recv reach the socket (and take what is there). */
static void submit(struct fixture *f)
{
	assert_true(uloop_run_once(f->l, 1000000ULL) >= 0);
}

/* Run the loop until nothing of ours is in flight (or give up). */
static void settle(struct fixture *f)
{
	int i;

	for (i = 0; i < 100 && f->sqes; i++)
		assert_true(uloop_run_once(f->l, 20 * 1000000ULL) >= 0);
	assert_int_equal(f->sqes, 0);
}

/* Nothing to ask before any recv, of a recv that is not direct (it
 * completes at each arrival, so its age is progress), and after the recv
 * completed: the sender has stalled, and no SQE is spent. */
static void test_stallprobe_nothing_to_ask(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ask(f), -ENOENT);
	post(f, false);
	assert_int_equal(ask(f), -ENOENT);
	assert_int_equal(f->sqes, 1);
	assert_false(f->p.probing);
	assert_int_equal(write(f->fd[1], "x", 1), 1);
	settle(f);
	assert_int_equal(f->recv_res, 1);
	assert_false(stallprobe_done(&f->p, f->recv_res));
	assert_false(f->p.posted);
	assert_int_equal(ask(f), -ENOENT);
	assert_int_equal(f->sqes, 0);
}

/* A sender that sent nothing since the recv was posted: the probe ends
 * the recv with -ECANCELED, which is a stall; a second ask while the
 * first is unanswered says so at once. */
static void test_stallprobe_stuck_sender_is_stalled(void **state)
{
	struct fixture *f = *state;

	post(f, true);
	submit(f);
	assert_false(f->recv_done);
	assert_int_equal(ask(f), 0);
	assert_int_equal(f->sqes, 2);
	assert_true(f->p.probing);
	assert_int_equal(ask(f), -ENOENT);
	assert_int_equal(f->sqes, 2);
	settle(f);
	assert_true(f->probe_done);
	assert_int_equal(f->probe_res, 0);
	assert_int_equal(f->recv_res, -ECANCELED);
	assert_true(stallprobe_done(&f->p, f->recv_res));
	assert_false(f->p.posted);
	assert_false(f->p.probing);
}

/* A sender that sent part of the payload: the probe ends the recv with
 * the bytes that arrived, which is progress, and the next recv can be
 * probed again. */
static void test_stallprobe_slow_sender_is_not_stalled(void **state)
{
	struct fixture *f = *state;
	uint8_t part[1000];

	memset(part, 0xa5, sizeof(part));
	post(f, true);
	assert_int_equal(write(f->fd[1], part, sizeof(part)),
			 (ssize_t)sizeof(part));
	submit(f);
	assert_false(f->recv_done);	/* MSG_WAITALL: still waiting */
	assert_int_equal(ask(f), 0);
	settle(f);
	assert_int_equal(f->recv_res, (int)sizeof(part));
	assert_memory_equal(f->buf, part, sizeof(part));
	assert_false(stallprobe_done(&f->p, f->recv_res));
	assert_false(f->p.probing);

	post(f, true);
	assert_true(f->p.direct);
	submit(f);
	assert_int_equal(ask(f), 0);
	settle(f);
	assert_true(stallprobe_done(&f->p, f->recv_res));
}

/* Without an SQE nothing is queued and nothing changes: the caller asks
 * at its next tick, and that ask goes out. */
static void test_stallprobe_no_sqe_asks_later(void **state)
{
	struct fixture *f = *state;

	post(f, true);
	submit(f);
	no_sqes = true;
	assert_int_equal(ask(f), -EBUSY);
	no_sqes = false;
	assert_int_equal(f->sqes, 1);
	assert_false(f->p.probing);
	assert_int_equal(ask(f), 0);
	settle(f);
	assert_true(stallprobe_done(&f->p, f->recv_res));
}

/* Only the probe's own -ECANCELED is a stall: another failure of a probed
 * recv (a reset), or a -ECANCELED no probe of ours asked for, is the
 * recv's own result. */
static void test_stallprobe_only_probed_cancel_is_stall(void **state)
{
	struct fixture *f = *state;

	f->p = (struct stallprobe){ .posted = true, .direct = true,
				    .probing = true };
	assert_false(stallprobe_done(&f->p, -ECONNRESET));
	assert_false(f->p.probing);
	f->p = (struct stallprobe){ .posted = true, .direct = true };
	assert_false(stallprobe_done(&f->p, -ECANCELED));
	f->p = (struct stallprobe){ .posted = true, .direct = true,
				    .probing = true };
	assert_false(stallprobe_done(&f->p, 0));	/* EOF */
	assert_false(f->p.posted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stallprobe_nothing_to_ask,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_stallprobe_stuck_sender_is_stalled,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_stallprobe_slow_sender_is_not_stalled,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_stallprobe_no_sqe_asks_later, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_stallprobe_only_probed_cancel_is_stall,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
