/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_state: seqs and epochs reserved ahead, the record rewritten
 * through io_uring (never blocking the caller), nothing ever reused across
 * a crash.  The engine around it is faked: engine_state_durable() is
 * recorded here, and CQEs of class UD_CLS_ENGINE are routed to
 * engine_state_cqe() by this test's own handler.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_int.h"
#include "log.h"

static char dir[64];
static struct engine eng;
static struct uloop *loop;
static unsigned int ndurable;
static int last_err;

void engine_state_durable(struct engine *e, int err)
{
	(void)e;
	ndurable++;
	last_err = err;
}

static void on_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	(void)ctx;
	engine_state_cqe(&eng, cqe);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/engine-state-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(uloop_create(NULL, &loop), 0);
	uloop_set_handler(loop, UD_CLS_ENGINE, on_cqe, NULL);
	memset(&eng, 0, sizeof(eng));
	snprintf(eng.name, sizeof(eng.name), "vol");
	eng.loop = loop;
	eng.state_dir = dir;
	eng.size = 1 << 20;
	eng.bs = 4096;
	eng.st.fd = -1;
	ndurable = 0;
	last_err = 1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	engine_state_close(&eng);
	uloop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void run_until_durable(unsigned int n)
{
	int i;

	for (i = 0; i < 1000 && ndurable < n; i++)
		uloop_run_once(loop, 10000000);
	assert_int_equal(ndurable, n);
}

/* As after a SIGKILL: the state is reopened without a close. */
static void crash_and_reopen(void)
{
	close(eng.st.fd);
	memset(&eng.st, 0, sizeof(eng.st));
	assert_int_equal(engine_state_open(&eng), 0);
}

/* A restarted engine never hands out a seq it may have used, and its
 * epoch only goes up. */
static void test_engine_state_seqs_never_reused(void **state)
{
	uint64_t s1, last = 0, epoch;
	int i;

	(void)state;
	assert_int_equal(engine_state_open(&eng), 0);
	epoch = eng.st.epoch;
	s1 = engine_state_next_seq(&eng);
	assert_true(s1 >= 1);
	for (i = 0; i < 1000; i++)
		last = engine_state_next_seq(&eng);
	assert_int_equal(last, s1 + 1000);
	assert_false(engine_state_busy(&eng));	/* far from the limit */
	crash_and_reopen();
	assert_true(engine_state_next_seq(&eng) > last);
	assert_true(eng.st.epoch > epoch);
}

/* Half-way through a reservation the next one is written in the
 * background; seqs keep coming meanwhile, and a crash after it is
 * durable starts past it. */
static void test_engine_state_reserves_ahead(void **state)
{
	uint64_t limit, s;

	(void)state;
	assert_int_equal(engine_state_open(&eng), 0);
	limit = eng.st.seq_limit;
	eng.st.next_seq = limit - (1 << 19);	/* half of 2^20 left */
	s = engine_state_next_seq(&eng);
	assert_true(s > 0);
	assert_true(engine_state_busy(&eng));	/* on its way ... */
	assert_true(engine_state_next_seq(&eng) == s + 1);	/* no wait */
	assert_int_equal(eng.st.seq_limit, limit);
	run_until_durable(1);
	assert_int_equal(last_err, 0);
	assert_true(eng.st.seq_limit > limit);
	assert_false(engine_state_busy(&eng));
	crash_and_reopen();
	assert_true(engine_state_next_seq(&eng) >= limit + (1 << 19));
}

/* With nothing durably reserved, no seq is handed out: 0, and the
 * reservation follows; then seqs come again. */
static void test_engine_state_waits_at_the_limit(void **state)
{
	uint64_t limit;

	(void)state;
	assert_int_equal(engine_state_open(&eng), 0);
	limit = eng.st.seq_limit;
	eng.st.next_seq = limit;
	assert_int_equal(engine_state_next_seq(&eng), 0);
	assert_int_equal(engine_state_next_seq(&eng), 0);
	run_until_durable(1);
	assert_int_equal(engine_state_next_seq(&eng), limit);
	/* a replica that saw newer seqs moves the engine past them */
	engine_state_seen_seq(&eng, limit + (5ULL << 20));
	assert_int_equal(engine_state_next_seq(&eng), 0);
	run_until_durable(2);
	assert_int_equal(engine_state_next_seq(&eng), limit + (5ULL << 20) + 1);
	crash_and_reopen();
	assert_true(engine_state_next_seq(&eng) > limit + (5ULL << 20) + 1);
}

/* Epochs (one per reconnect) are reserved ahead too: past half of a
 * reservation the next is written in the background, no bump waits. */
static void test_engine_state_epochs_reserved(void **state)
{
	uint64_t e0, limit;
	int i;

	(void)state;
	assert_int_equal(engine_state_open(&eng), 0);
	e0 = eng.st.epoch;
	limit = eng.st.epoch_limit;
	assert_true(limit >= e0 + 1000);
	for (i = 0; i < 600; i++)
		assert_int_equal(engine_state_bump_epoch(&eng), 0);
	assert_true(engine_state_busy(&eng));
	run_until_durable(1);
	assert_true(eng.st.epoch_limit >= e0 + 512 + 1000);
	/* beyond the durable limit: -EAGAIN until the next is written */
	eng.st.epoch = eng.st.epoch_limit;
	assert_int_equal(engine_state_bump_epoch(&eng), -EAGAIN);
	run_until_durable(2);
	assert_int_equal(engine_state_bump_epoch(&eng), 0);
	e0 = eng.st.epoch;
	crash_and_reopen();
	assert_true(eng.st.epoch > e0);
}

/* A record that cannot be written is reported, no seq past the durable
 * limit is handed out, and it is retried later. */
static void test_engine_state_write_failure(void **state)
{
	int fd;

	(void)state;
	assert_int_equal(engine_state_open(&eng), 0);
	fd = eng.st.fd;
	eng.st.fd = open("/dev/null", O_RDONLY);
	eng.st.next_seq = eng.st.seq_limit;
	assert_int_equal(engine_state_next_seq(&eng), 0);
	run_until_durable(1);
	assert_true(last_err < 0);
	assert_int_equal(engine_state_next_seq(&eng), 0);
	assert_false(engine_state_busy(&eng));	/* not before a second */
	close(eng.st.fd);
	eng.st.fd = fd;
	eng.st.retry_at = 0;
	engine_state_tick(&eng);
	run_until_durable(2);
	assert_int_equal(last_err, 0);
	assert_true(engine_state_next_seq(&eng) > 0);
}

static void test_engine_state_other_volume_refused(void **state)
{
	(void)state;
	assert_int_equal(engine_state_open(&eng), 0);
	engine_state_close(&eng);
	eng.size = 2 << 20;
	assert_int_equal(engine_state_open(&eng), -EINVAL);
}

/* A record gone (emptied, deleted) from a volume that has run (its
 * activity log is there) is refused: a fresh start would hand out seqs
 * the replicas hold already, and a resync, which applies only newer
 * blocks, would leave a stale replica stale and call it in sync. */
static void test_engine_state_lost_record_refused(void **state)
{
	char path[128];
	int fd;

	(void)state;
	assert_int_equal(engine_state_open(&eng), 0);
	assert_true(engine_state_next_seq(&eng) > 0);
	engine_state_close(&eng);
	snprintf(path, sizeof(path), "%s/vol.actlog", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/vol.state", dir);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(engine_state_open(&eng), -EIO);
	engine_state_close(&eng);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(engine_state_open(&eng), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_engine_state_seqs_never_reused),
		T(test_engine_state_reserves_ahead),
		T(test_engine_state_waits_at_the_limit),
		T(test_engine_state_epochs_reserved),
		T(test_engine_state_write_failure),
		T(test_engine_state_other_volume_refused),
		T(test_engine_state_lost_record_refused),
#undef T
	};

	log_init("test_engine_state", LOG_ERR);
	return cmocka_run_group_tests_name("engine_state", tests, NULL, NULL);
}
