/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine_int.h"

static void test_engine_policy_floor_defaults(void **state)
{
	(void)state;
	assert_int_equal(engine_majority(1), 1);
	assert_int_equal(engine_majority(2), 2);
	assert_int_equal(engine_majority(3), 2);
	assert_int_equal(engine_majority(4), 3);
	assert_int_equal(engine_majority(5), 3);
	assert_int_equal(engine_floor(ENGINE_ACK_ALL, 3, 0), 1);
	assert_int_equal(engine_floor(ENGINE_ACK_QUORUM, 3, 0), 2);
	assert_int_equal(engine_floor(ENGINE_ACK_QUORUM, 3, 3), 3);
	assert_int_equal(engine_floor(ENGINE_ACK_ALL, 3, 2), 2);
}

static void test_engine_policy_can_write(void **state)
{
	(void)state;
	/* all: the floor is all that matters */
	assert_true(engine_can_write(ENGINE_ACK_ALL, 3, 1, 1));
	assert_false(engine_can_write(ENGINE_ACK_ALL, 3, 2, 1));
	assert_false(engine_can_write(ENGINE_ACK_ALL, 3, 1, 0));
	/* quorum: a majority of the replica count, never below the floor */
	assert_true(engine_can_write(ENGINE_ACK_QUORUM, 3, 2, 2));
	assert_false(engine_can_write(ENGINE_ACK_QUORUM, 3, 1, 1));
	assert_false(engine_can_write(ENGINE_ACK_QUORUM, 3, 3, 2));
	assert_true(engine_can_write(ENGINE_ACK_QUORUM, 5, 3, 3));
}

static void test_engine_policy_verdict_all(void **state)
{
	(void)state;
	/* waits for every in-sync replica still out */
	assert_int_equal(engine_verdict(ENGINE_ACK_ALL, 3, 1, 2, 1), 0);
	assert_int_equal(engine_verdict(ENGINE_ACK_ALL, 3, 1, 3, 0), 1);
	/* one failed (no longer pending): acks with the rest */
	assert_int_equal(engine_verdict(ENGINE_ACK_ALL, 3, 1, 2, 0), 1);
	/* below the floor: fails, early if it cannot be met */
	assert_int_equal(engine_verdict(ENGINE_ACK_ALL, 3, 2, 1, 0), -1);
	assert_int_equal(engine_verdict(ENGINE_ACK_ALL, 3, 3, 1, 1), -1);
	assert_int_equal(engine_verdict(ENGINE_ACK_ALL, 3, 1, 0, 0), -1);
}

static void test_engine_policy_verdict_quorum(void **state)
{
	(void)state;
	/* never waits for the third once two have it */
	assert_int_equal(engine_verdict(ENGINE_ACK_QUORUM, 3, 2, 2, 1), 1);
	assert_int_equal(engine_verdict(ENGINE_ACK_QUORUM, 3, 2, 1, 2), 0);
	assert_int_equal(engine_verdict(ENGINE_ACK_QUORUM, 3, 2, 1, 1), 0);
	/* two failed: the majority is out of reach */
	assert_int_equal(engine_verdict(ENGINE_ACK_QUORUM, 3, 2, 1, 0), -1);
	/* a floor above the majority */
	assert_int_equal(engine_verdict(ENGINE_ACK_QUORUM, 3, 3, 2, 1), 0);
	assert_int_equal(engine_verdict(ENGINE_ACK_QUORUM, 3, 3, 2, 0), -1);
	assert_int_equal(engine_verdict(ENGINE_ACK_QUORUM, 5, 3, 3, 0), 1);
}

static void test_engine_policy_ewma_and_deadline(void **state)
{
	uint64_t e = 0;
	int i;

	(void)state;
	e = engine_ewma(e, 1000);
	assert_int_equal(e, 1000);
	e = engine_ewma(e, 9000);
	assert_int_equal(e, 2000);
	for (i = 0; i < 100; i++)
		e = engine_ewma(e, 500);
	assert_in_range(e, 500, 520);
	/* one outlier moves it by an eighth */
	assert_int_equal(engine_ewma(800, 80800), 10800);
	assert_int_equal(engine_soft_deadline(100000, 2000000, 4), 2000000);
	assert_int_equal(engine_soft_deadline(1000000, 2000000, 4), 4000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_policy_floor_defaults),
		cmocka_unit_test(test_engine_policy_can_write),
		cmocka_unit_test(test_engine_policy_verdict_all),
		cmocka_unit_test(test_engine_policy_verdict_quorum),
		cmocka_unit_test(test_engine_policy_ewma_and_deadline),
	};

	return cmocka_run_group_tests_name("engine_policy", tests, NULL, NULL);
}
