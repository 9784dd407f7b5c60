/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uloop.h"

struct seen {
	unsigned int n;
	uint64_t ud[64];
	int res[64];
};

static void on_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	struct seen *s = ctx;

	if (s->n < 64) {
		s->ud[s->n] = cqe->user_data;
		s->res[s->n] = cqe->res;
	}
	s->n++;
}

static struct uloop *new_loop(unsigned int nr_small, unsigned int nr_large)
{
	struct uloop_opts o = {
		.entries = 8,
		.nr_small = nr_small,
		.small_size = 4096,
		.nr_large = nr_large,
		.large_size = 65536,
		.max_timers = 4,
	};
	struct uloop *l = NULL;

	assert_int_equal(uloop_create(&o, &l), 0);
	return l;
}

/* CQEs reach the handler of their class; foreign ones are counted. */
static void test_uloop_routes_by_class(void **state)
{
	struct seen nbd = { 0 }, repl = { 0 };
	struct io_uring_sqe *sqe;
	struct uloop *l;
	int i, got = 0;

	(void)state;
	l = new_loop(2, 1);
	assert_int_equal(uloop_set_handler(l, UD_CLS_NBD, on_cqe, &nbd), 0);
	assert_int_equal(uloop_set_handler(l, UD_CLS_REPL, on_cqe, &repl), 0);
	assert_int_equal(uloop_set_handler(l, 16, on_cqe, &repl), -EINVAL);
	sqe = uloop_get_sqe(l);
	io_uring_prep_nop(sqe);
	sqe->user_data = ud_make(UD_CLS_NBD, UD_OP_READ, UD_ZONE_NONE, 0, 7);
	sqe = uloop_get_sqe(l);
	io_uring_prep_nop(sqe);
	sqe->user_data = ud_make(UD_CLS_REPL, UD_OP_WRITE, 3, UD_F_REMOTE, 9);
	sqe = uloop_get_sqe(l);
	io_uring_prep_nop(sqe);
	sqe->user_data = 12345;		/* not ours */
	for (i = 0; i < 10 && got < 3; i++)
		got += uloop_run_once(l, 100000000);
	assert_int_equal(got, 3);
	assert_int_equal(nbd.n, 1);
	assert_int_equal(ud_index(nbd.ud[0]), 7);
	assert_int_equal(repl.n, 1);
	assert_int_equal(ud_zone(repl.ud[0]), 3);
	assert_int_equal(ud_flags(repl.ud[0]), UD_F_REMOTE);
	assert_int_equal(ud_op(repl.ud[0]), UD_OP_WRITE);
	assert_int_equal(uloop_dropped(l), 1);
	uloop_destroy(l);
}

/* More SQEs than the SQ holds: uloop_get_sqe submits to make room. */
static void test_uloop_sqe_overflow_submits(void **state)
{
	struct seen s = { 0 };
	struct io_uring_sqe *sqe;
	struct uloop *l;
	int i;

	(void)state;
	l = new_loop(1, 1);
	uloop_set_handler(l, UD_CLS_OTHER, on_cqe, &s);
	for (i = 0; i < 20; i++) {
		sqe = uloop_get_sqe(l);
		assert_non_null(sqe);
		io_uring_prep_nop(sqe);
		sqe->user_data = ud_make(UD_CLS_OTHER, 0, 0, 0, i);
	}
	for (i = 0; i < 20 && s.n < 20; i++)
		uloop_run_once(l, 100000000);
	assert_int_equal(s.n, 20);
	uloop_destroy(l);
}

/* A linked pair (a write and its fsync, say) queued when the SQ is nearly
 * full stays one chain: uloop_get_sqe must not submit between the two, or
 * the kernel runs the head alone and the second SQE unordered after it.
 * Here the head fails, so an intact chain cancels the NOP after it. */
static void test_uloop_sqe_full_keeps_links(void **state)
{
	struct seen s = { 0 };
	struct io_uring_sqe *sqe;
	struct uloop *l;
	unsigned int fill, i;

	(void)state;
	for (fill = 0; fill < 8; fill++) {
		memset(&s, 0, sizeof(s));
		l = new_loop(1, 1);
		uloop_set_handler(l, UD_CLS_OTHER, on_cqe, &s);
		for (i = 0; i < fill; i++) {
			sqe = uloop_get_sqe(l);
			assert_non_null(sqe);
			io_uring_prep_nop(sqe);
			sqe->user_data = ud_make(UD_CLS_OTHER, 0, 0, 0, 100 + i);
		}
		sqe = uloop_get_sqe(l);
		assert_non_null(sqe);
		io_uring_prep_read(sqe, -1, NULL, 0, 0);	/* -EBADF */
		sqe->user_data = ud_make(UD_CLS_OTHER, 0, 0, 0, 1);
		sqe->flags |= IOSQE_IO_LINK;
		sqe = uloop_get_sqe(l);
		assert_non_null(sqe);
		io_uring_prep_nop(sqe);
		sqe->user_data = ud_make(UD_CLS_OTHER, 0, 0, 0, 2);
		for (i = 0; i < 20 && s.n < fill + 2; i++)
			uloop_run_once(l, 100000000);
		assert_int_equal(s.n, fill + 2);
		for (i = 0; i < s.n; i++) {
			if (ud_index(s.ud[i]) == 1)
				assert_int_equal(s.res[i], -EBADF);
			if (ud_index(s.ud[i]) == 2)
				assert_int_equal(s.res[i], -ECANCELED);
		}
		uloop_destroy(l);
	}
}

/* The pool hands out each buffer once, falls back from small to large,
 * refuses oversize requests, and the buffers work with fixed I/O. */
static void test_uloop_buffers(void **state)
{
	struct uloop_buf *a, *b, *c, *d;
	char path[] = "/tmp/uloop-test-XXXXXX";
	struct seen s = { 0 };
	struct io_uring_sqe *sqe;
	struct uloop *l;
	int fd, i;

	(void)state;
	l = new_loop(2, 1);
	assert_int_equal(uloop_buf_max(l), 65536);
	assert_int_equal(uloop_buf_get(l, 65537, &a), -E2BIG);
	assert_int_equal(uloop_buf_get(l, 100, &a), 0);
	assert_int_equal(uloop_buf_get(l, 4096, &b), 0);
	assert_ptr_not_equal(a->base, b->base);
	assert_int_equal(a->size, 4096);
	assert_int_equal((uintptr_t)a->base % 4096, 0);
	assert_int_equal(uloop_buf_get(l, 100, &c), 0);	/* small gone */
	assert_int_equal(c->size, 65536);
	assert_int_equal(uloop_buf_get(l, 100, &d), -ENOBUFS);
	assert_int_equal(uloop_buf_free(l, false), 0);
	uloop_buf_put(l, b);
	assert_int_equal(uloop_buf_free(l, false), 1);
	assert_int_equal(uloop_buf_get(l, 10, &d), 0);
	assert_ptr_equal(d, b);

	/* write_fixed from one registered buffer, read_fixed into another */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	memset(a->base, 0x5a, 4096);
	memset(c->base, 0, 4096);
	uloop_set_handler(l, UD_CLS_OTHER, on_cqe, &s);
	sqe = uloop_get_sqe(l);
	io_uring_prep_write_fixed(sqe, fd, a->base, 4096, 0, a->index);
	sqe->user_data = ud_make(UD_CLS_OTHER, UD_OP_WRITE, 0, 0, 1);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = uloop_get_sqe(l);
	io_uring_prep_read_fixed(sqe, fd, c->base, 4096, 0, c->index);
	sqe->user_data = ud_make(UD_CLS_OTHER, UD_OP_READ, 0, 0, 2);
	for (i = 0; i < 10 && s.n < 2; i++)
		uloop_run_once(l, 100000000);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.res[0], 4096);
	assert_int_equal(s.res[1], 4096);
	assert_int_equal(memcmp(a->base, c->base, 4096), 0);
	close(fd);
	uloop_buf_put(l, a);
	uloop_buf_put(l, c);
	uloop_buf_put(l, d);
	uloop_destroy(l);
}

struct tick {
	struct uloop_timer t;
	unsigned int *order;
	unsigned int *n;
	unsigned int id;
};

static void on_timer(struct uloop_timer *t)
{
	struct tick *k = (struct tick *)t;

	k->order[(*k->n)++] = k->id;
}

/* Timers fire in deadline order, a cancelled one never fires, and the heap
 * refuses more than max_timers. */
static void test_uloop_timers_order(void **state)
{
	unsigned int order[8], n = 0, i;
	struct tick k[5];
	struct uloop *l;
	uint64_t now;

	(void)state;
	l = new_loop(1, 1);
	now = uloop_clock(l);
	for (i = 0; i < 5; i++) {
		k[i].t.fn = on_timer;
		k[i].t.slot = 0;
		k[i].order = order;
		k[i].n = &n;
		k[i].id = i;
	}
	assert_int_equal(uloop_timer_arm(l, &k[0].t, now + 30000000), 0);
	assert_int_equal(uloop_timer_arm(l, &k[1].t, now + 10000000), 0);
	assert_int_equal(uloop_timer_arm(l, &k[2].t, now + 20000000), 0);
	assert_int_equal(uloop_timer_arm(l, &k[3].t, now + 5000000), 0);
	assert_int_equal(uloop_timer_arm(l, &k[4].t, now + 1000), -ENOSPC);
	uloop_timer_cancel(l, &k[2].t);
	assert_false(uloop_timer_armed(&k[2].t));
	/* re-arming moves a timer rather than adding it twice */
	assert_int_equal(uloop_timer_arm(l, &k[3].t, now + 15000000), 0);
	for (i = 0; i < 50 && n < 3; i++)
		uloop_run_once(l, 1000000000);
	assert_int_equal(n, 3);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 3);
	assert_int_equal(order[2], 0);
	/* no timer fired early */
	assert_true(uloop_now(l) >= now + 30000000);
	uloop_destroy(l);
}

static void count_hook(void *arg)
{
	(*(unsigned int *)arg)++;
}

/* Hooks run once per iteration, and only ULOOP_MAX_HOOKS fit. */
static void test_uloop_hooks(void **state)
{
	unsigned int calls = 0, i;
	struct uloop *l;

	(void)state;
	l = new_loop(1, 1);
	assert_int_equal(uloop_add_hook(l, count_hook, &calls), 0);
	for (i = 1; i < ULOOP_MAX_HOOKS; i++)
		assert_int_equal(uloop_add_hook(l, count_hook, &calls), 0);
	assert_int_equal(uloop_add_hook(l, count_hook, &calls), -ENOSPC);
	uloop_run_once(l, 1000);
	uloop_run_once(l, 1000);
	assert_int_equal(calls, 2 * ULOOP_MAX_HOOKS);
	/* a removed hook no longer runs, and frees its place */
	assert_int_equal(uloop_del_hook(l, count_hook, &calls), 0);
	assert_int_equal(uloop_del_hook(l, count_hook, &state), -ENOENT);
	calls = 0;
	uloop_run_once(l, 1000);
	assert_int_equal(calls, ULOOP_MAX_HOOKS - 1);
	assert_int_equal(uloop_add_hook(l, count_hook, &calls), 0);
	uloop_destroy(l);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

static void slow_timer(struct uloop_timer *t)
{
	(void)t;
	sleep_ms(100);	/* a handler that blocks the loop */
}

/* Work that keeps the loop from reaping (here a blocking timer) is a
 * stall: live time stands still for it, and only for it. */
static void test_uloop_stall_in_a_handler(void **state)
{
	struct uloop_timer t = { .fn = slow_timer };
	uint64_t live0, real0, live, real;
	struct uloop *l;
	int i;

	(void)state;
	l = new_loop(1, 1);
	uloop_run_once(l, 0);
	live0 = uloop_live_clock(l);
	real0 = uloop_now(l);
	assert_int_equal(uloop_stalls(l), 0);
	assert_int_equal(uloop_timer_arm(l, &t, real0), 0);
	uloop_run_once(l, 0);		/* the timer blocks for 100 ms */
	/* the span in progress already counts, before the next wait */
	live = uloop_live_clock(l);
	real = uloop_now(l);
	assert_true(real - real0 >= 100000000);
	assert_true(live - live0 < real - real0 - 90000000);
	uloop_run_once(l, 0);
	assert_true(uloop_stalls(l) >= 1);
	/* plain waiting is not a stall: 10 waits of 10 ms */
	live0 = uloop_live_clock(l);
	real0 = uloop_now(l);
	for (i = 0; i < 10; i++)
		uloop_run_once(l, 10000000);
	live = uloop_live_clock(l);
	real = uloop_now(l);
	assert_true(real - real0 >= 100000000);
	assert_true(live - live0 >= (real - real0) / 2);
	assert_true(live >= live0);
	uloop_destroy(l);
}

/* A thread that is not running (SIGSTOP) while the loop should be waking
 * up: the wait returns late, and the lateness is a stall. */
static void test_uloop_stall_while_stopped(void **state)
{
	uint64_t live0, real0, live, real;
	struct uloop *l;
	pid_t parent = getpid(), child;
	int status;

	(void)state;
	l = new_loop(1, 1);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		sleep_ms(30);
		kill(parent, SIGSTOP);
		sleep_ms(300);
		kill(parent, SIGCONT);
		_exit(0);
	}
	live0 = uloop_live_clock(l);
	real0 = uloop_now(l);
	while (uloop_now(l) - real0 < 500000000ULL)
		uloop_run_once(l, 10000000);
	live = uloop_live_clock(l);
	real = uloop_now(l);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(uloop_stalls(l) >= 1);
	assert_true(real - live > 200000000ULL + (real0 - live0));
	uloop_destroy(l);
}

static void test_uloop_bad_opts(void **state)
{
	struct uloop_opts o = { .small_size = 1000 };
	struct uloop *l = NULL;

	(void)state;
	assert_int_equal(uloop_create(&o, &l), -EINVAL);
	assert_null(l);
	uloop_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uloop_routes_by_class),
		cmocka_unit_test(test_uloop_sqe_overflow_submits),
		cmocka_unit_test(test_uloop_sqe_full_keeps_links),
		cmocka_unit_test(test_uloop_buffers),
		cmocka_unit_test(test_uloop_timers_order),
		cmocka_unit_test(test_uloop_hooks),
		cmocka_unit_test(test_uloop_stall_in_a_handler),
		cmocka_unit_test(test_uloop_stall_while_stopped),
		cmocka_unit_test(test_uloop_bad_opts),
	};

	return cmocka_run_group_tests_name("uloop", tests, NULL, NULL);
}
