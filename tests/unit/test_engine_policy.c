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

static void test_engine_policy_may_cut(void **state)
{
	(void)state;
	/* 3 replicas, quorum (floor 0 = majority 2): cutting one of 3 in
	 * sync leaves exactly the 2 acks needed, no spare. */
	assert_false(engine_may_cut(ENGINE_ACK_QUORUM, 3, 0, 3,
				    ENGINE_LAG_CUT_SPARE));
	assert_true(engine_may_cut(ENGINE_ACK_QUORUM, 3, 0, 3,
				   ENGINE_LAG_CUT_FLOOR));
	assert_false(engine_may_cut(ENGINE_ACK_QUORUM, 3, 0, 2,
				    ENGINE_LAG_CUT_FLOOR));
	/* 5 replicas, quorum 3: one may go and leave a spare, not two */
	assert_true(engine_may_cut(ENGINE_ACK_QUORUM, 5, 0, 5,
				   ENGINE_LAG_CUT_SPARE));
	assert_false(engine_may_cut(ENGINE_ACK_QUORUM, 5, 0, 4,
				    ENGINE_LAG_CUT_SPARE));
	assert_true(engine_may_cut(ENGINE_ACK_QUORUM, 5, 0, 4,
				   ENGINE_LAG_CUT_FLOOR));
	/* a floor above the majority counts */
	assert_false(engine_may_cut(ENGINE_ACK_QUORUM, 5, 4, 5,
				    ENGINE_LAG_CUT_SPARE));
	assert_true(engine_may_cut(ENGINE_ACK_QUORUM, 5, 4, 5,
				   ENGINE_LAG_CUT_FLOOR));
	/* nothing in sync: never */
	assert_false(engine_may_cut(ENGINE_ACK_ALL, 1, 0, 0,
				    ENGINE_LAG_CUT_FLOOR));
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

#define MS 1000000ULL

static void test_engine_policy_hard_deadline(void **state)
{
	(void)state;
	/* a plain write: the hard timeout from its issue */
	assert_int_equal(engine_hard_deadline(false, 1000 * MS, 0, 0,
					      500 * MS, 10000 * MS), 1500 * MS);
	/* a flush or FUA write: the flush timeout, flushes out or not */
	assert_int_equal(engine_hard_deadline(true, 1000 * MS, 3, 0,
					      500 * MS, 10000 * MS),
			 11000 * MS);
	/* queued behind a flush on its replica: not judged now ... */
	assert_int_equal(engine_hard_deadline(false, 1000 * MS, 1, 0,
					      500 * MS, 10000 * MS), 0);
	/* ... then counted from the flush's end, not its own issue */
	assert_int_equal(engine_hard_deadline(false, 1000 * MS, 0, 2500 * MS,
					      500 * MS, 10000 * MS),
			 3000 * MS);
	assert_int_equal(engine_hard_deadline(false, 3000 * MS, 0, 2500 * MS,
					      500 * MS, 10000 * MS),
			 3500 * MS);
}

/* Who may reconcile: a majority under quorum; otherwise, per region, a
 * member whose missed map lacks it -- and after a crash, in the activity
 * log's regions, only a member that was in sync. */
static void test_engine_policy_recon_unsafe(void **state)
{
	uint64_t m0[2] = { 0, 0 }, m1[2] = { 1ULL << 5, 0 }, m2[2] = { 0, 2 };
	uint64_t crash[2] = { 1ULL << 9, 0 };
	const uint64_t *missed[3] = { m0, m1, m2 };
	bool in_sync[3] = { false, false, false };

	(void)state;
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_QUORUM, 3, 0x3, missed,
					     in_sync, crash, 2), UINT64_MAX);
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_QUORUM, 3, 0x4, missed,
					     in_sync, NULL, 2), 65);
	/* replica 1 misses region 5, replica 2 region 65 */
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_ALL, 3, 0x2, missed,
					     in_sync, NULL, 2), 5);
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_ALL, 3, 0x6, missed,
					     in_sync, NULL, 2), UINT64_MAX);
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_ALL, 3, 0x1, missed,
					     in_sync, NULL, 2), UINT64_MAX);
	/* after a crash, region 9 needs a member that was in sync */
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_ALL, 3, 0x7, missed,
					     in_sync, crash, 2), 9);
	in_sync[1] = true;
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_ALL, 3, 0x3, missed,
					     in_sync, crash, 2), UINT64_MAX);
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_ALL, 3, 0x2, missed,
					     in_sync, crash, 2), 5);
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_ALL, 3, 0, missed,
					     in_sync, NULL, 2), 0);
}

/* Under quorum a majority of members vouches only if each of them still
 * holds what it acked: one whose missed map has the region (marked empty:
 * a wiped server, a failed sync; or degraded when the write was acked)
 * does not count.  Replica 0 alone holds a write acked by 0 and 1 while 2
 * was down; 1 then lost all of it. */
static void test_engine_policy_recon_unsafe_quorum_lost(void **state)
{
	uint64_t m0[1] = { 0 }, m1[1] = { ~0ULL }, m2[1] = { 1ULL << 3 };
	uint64_t crash[1] = { 1ULL << 7 };
	const uint64_t *missed[3] = { m0, m1, m2 };
	bool in_sync[3] = { true, true, true };

	(void)state;
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_QUORUM, 3, 0x6, missed,
					     in_sync, NULL, 1), 3);
	/* with 0 as a member, 0 and 2 make a majority that holds it */
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_QUORUM, 3, 0x5, missed,
					     in_sync, NULL, 1), UINT64_MAX);
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_QUORUM, 3, 0x7, missed,
					     in_sync, crash, 1), UINT64_MAX);
	/* after a crash, under quorum, being in sync vouches for nothing in
	 * the activity log's regions: an ack did not wait for it */
	m2[0] = 0;
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_QUORUM, 3, 0x6, missed,
					     in_sync, crash, 1), 7);
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_QUORUM, 3, 0x6, missed,
					     in_sync, NULL, 1), UINT64_MAX);
}

/* Of 4 replicas an acked write is on 3: any 2 that lost nothing meet
 * them; 1 need not. */
static void test_engine_policy_recon_unsafe_quorum_even(void **state)
{
	uint64_t none[1] = { 0 }, all[1] = { ~0ULL }, crash[1] = { 1ULL << 2 };
	const uint64_t *missed[4] = { none, none, all, all };
	bool in_sync[4] = { true, true, true, true };

	(void)state;
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_QUORUM, 4, 0xf, missed,
					     in_sync, crash, 1), UINT64_MAX);
	missed[1] = all;
	assert_int_equal(engine_recon_unsafe(ENGINE_ACK_QUORUM, 4, 0xf, missed,
					     in_sync, crash, 1), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_policy_floor_defaults),
		cmocka_unit_test(test_engine_policy_can_write),
		cmocka_unit_test(test_engine_policy_may_cut),
		cmocka_unit_test(test_engine_policy_verdict_all),
		cmocka_unit_test(test_engine_policy_verdict_quorum),
		cmocka_unit_test(test_engine_policy_ewma_and_deadline),
		cmocka_unit_test(test_engine_policy_hard_deadline),
		cmocka_unit_test(test_engine_policy_recon_unsafe),
		cmocka_unit_test(test_engine_policy_recon_unsafe_quorum_lost),
		cmocka_unit_test(test_engine_policy_recon_unsafe_quorum_even),
	};

	return cmocka_run_group_tests_name("engine_policy", tests, NULL, NULL);
}
