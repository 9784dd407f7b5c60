/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_int.h"
#include "log.h"

static char dir[64];
static struct engine eng;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/engine-state-XXXXXX");
	assert_non_null(mkdtemp(dir));
	memset(&eng, 0, sizeof(eng));
	snprintf(eng.name, sizeof(eng.name), "vol");
	eng.state_dir = dir;
	eng.size = 1 << 20;
	eng.bs = 4096;
	eng.st.fd = -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	engine_state_close(&eng);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* A restarted engine (even after SIGKILL, i.e. without any close) never
 * hands out a seq it may have used, and its epoch only goes up. */
static void test_engine_state_seqs_never_reused(void **state)
{
	uint64_t s1, s2, last = 0, epoch;
	int i;

	(void)state;
	assert_int_equal(engine_state_open(&eng), 0);
	epoch = eng.st.epoch;
	s1 = engine_state_next_seq(&eng);
	assert_true(s1 >= 1);
	for (i = 0; i < 1000; i++)
		last = engine_state_next_seq(&eng);
	assert_int_equal(last, s1 + 1000);
	/* no close: as after a crash */
	memset(&eng.st, 0, sizeof(eng.st));
	assert_int_equal(engine_state_open(&eng), 0);
	s2 = engine_state_next_seq(&eng);
	assert_true(s2 > last);
	assert_true(eng.st.epoch > epoch);
	/* crossing a reservation chunk persists a new one */
	eng.st.next_seq = eng.st.seq_limit;
	s1 = engine_state_next_seq(&eng);
	engine_state_close(&eng);
	assert_int_equal(engine_state_open(&eng), 0);
	assert_true(engine_state_next_seq(&eng) > s1);
}

static void test_engine_state_seen_seq_moves_past(void **state)
{
	(void)state;
	assert_int_equal(engine_state_open(&eng), 0);
	assert_int_equal(engine_state_seen_seq(&eng, 5000000), 0);
	assert_true(engine_state_next_seq(&eng) > 5000000);
	engine_state_close(&eng);
	assert_int_equal(engine_state_open(&eng), 0);
	assert_true(engine_state_next_seq(&eng) > 5000000);
}

static void test_engine_state_other_volume_refused(void **state)
{
	(void)state;
	assert_int_equal(engine_state_open(&eng), 0);
	engine_state_close(&eng);
	eng.size = 2 << 20;
	assert_int_equal(engine_state_open(&eng), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_engine_state_seqs_never_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_engine_state_seen_seq_moves_past, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_engine_state_other_volume_refused, setup, teardown),
	};

	log_init("test_engine_state", LOG_ERR);
	return cmocka_run_group_tests_name("engine_state", tests, NULL, NULL);
}
