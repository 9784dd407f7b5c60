/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "engine_int.h"

static struct engine eng;
static struct ereq reqs[8];
static unsigned int nreq;

static int setup(void **state)
{
	(void)state;
	memset(&eng, 0, sizeof(eng));
	memset(reqs, 0, sizeof(reqs));
	nreq = 0;
	eng.nr = 2;
	return 0;
}

/* Append a request to the in-flight list with its subs in `st`. */
static struct ereq *add(enum eop op, uint64_t off, uint32_t len, int st0,
			int st1)
{
	struct ereq *q = &reqs[nreq++];

	q->e = &eng;
	q->op = (uint8_t)op;
	q->off = off;
	q->len = len;
	q->end = off + len;
	q->sub[0].state = (uint8_t)st0;
	q->sub[1].state = (uint8_t)st1;
	q->prev = eng.tail;
	if (eng.tail)
		eng.tail->next = q;
	else
		eng.head = q;
	eng.tail = q;
	return q;
}

static void test_engine_order_overlapping_writes_wait(void **state)
{
	struct ereq *b;

	(void)state;
	add(EOP_WRITE, 0, 8192, SUB_ISSUED, SUB_OK);
	b = add(EOP_WRITE, 4096, 4096, SUB_NONE, SUB_NONE);
	/* replica 0 still has the earlier write out; replica 1 is done */
	assert_true(engine_sub_conflicts(b, 0));
	assert_false(engine_sub_conflicts(b, 1));
}

static void test_engine_order_disjoint_and_reads(void **state)
{
	struct ereq *b, *c, *d;

	(void)state;
	add(EOP_WRITE, 0, 4096, SUB_ISSUED, SUB_ISSUED);
	b = add(EOP_WRITE, 4096, 4096, SUB_NONE, SUB_NONE);
	assert_false(engine_sub_conflicts(b, 0));
	/* a read waits for an overlapping write: it must see it */
	c = add(EOP_READ, 0, 4096, SUB_NONE, SUB_NONE);
	assert_true(engine_sub_conflicts(c, 0));
	/* reads do not order against reads */
	reqs[0].sub[0].state = SUB_OK;
	reqs[0].sub[1].state = SUB_OK;
	c->sub[0].state = SUB_ISSUED;
	d = add(EOP_READ, 0, 4096, SUB_NONE, SUB_NONE);
	assert_false(engine_sub_conflicts(d, 0));
	/* but a write waits for an earlier overlapping read */
	d = add(EOP_WRITE, 0, 4096, SUB_NONE, SUB_NONE);
	assert_true(engine_sub_conflicts(d, 0));
	assert_false(engine_sub_conflicts(d, 1));
}

static void test_engine_order_blocked_earlier_blocks_later(void **state)
{
	struct ereq *c;

	(void)state;
	add(EOP_WRITE, 0, 4096, SUB_ISSUED, SUB_OK);
	add(EOP_WRITE, 0, 4096, SUB_BLOCKED, SUB_OK);
	c = add(EOP_WRITE, 0, 4096, SUB_NONE, SUB_NONE);
	/* c must not overtake the blocked one when the first finishes */
	reqs[0].sub[0].state = SUB_OK;
	assert_true(engine_sub_conflicts(c, 0));
}

static void test_engine_order_flush_is_a_barrier(void **state)
{
	struct ereq *f, *w;

	(void)state;
	add(EOP_WRITE, 1 << 20, 4096, SUB_ISSUED, SUB_OK);
	f = add(EOP_FLUSH, 0, 0, SUB_NONE, SUB_NONE);
	assert_true(engine_sub_conflicts(f, 0));
	assert_false(engine_sub_conflicts(f, 1));
	/* writes after a flush do not wait for it */
	f->sub[0].state = SUB_BLOCKED;
	w = add(EOP_WRITE, 0, 4096, SUB_NONE, SUB_NONE);
	assert_false(engine_sub_conflicts(w, 0));
}

static void test_engine_order_trim_covers_its_whole_range(void **state)
{
	struct ereq *t, *w;

	(void)state;
	t = add(EOP_TRIM, 0, 4096, SUB_ISSUED, SUB_ISSUED);
	t->end = 8ULL << 30;	/* later chunks still to come */
	w = add(EOP_WRITE, 5ULL << 30, 4096, SUB_NONE, SUB_NONE);
	assert_true(engine_sub_conflicts(w, 0));
	assert_true(engine_range_busy(&eng, 5ULL << 30, 4096));
	assert_false(engine_range_busy(&eng, 9ULL << 30, 4096));
}

static void test_engine_order_resync_copy_waits_for_later_write(void **state)
{
	struct ereq *copy, *w;

	(void)state;
	copy = add(EOP_RWRITE, 0, 65536, SUB_NONE, SUB_OK);
	w = add(EOP_WRITE, 4096, 4096, SUB_ISSUED, SUB_OK);
	/* the copy was read before w went out: it must land after it */
	assert_true(engine_sub_conflicts(copy, 0));
	w->sub[0].state = SUB_OK;
	assert_false(engine_sub_conflicts(copy, 0));
}

static void test_engine_order_range_busy_ignores_finished(void **state)
{
	struct ereq *a;

	(void)state;
	a = add(EOP_WRITE, 0, 4096, SUB_OK, SUB_OK);
	add(EOP_READ, 65536, 4096, SUB_ISSUED, SUB_NONE);
	assert_true(engine_range_busy(&eng, 0, 65536));
	a->finished = 1;
	assert_false(engine_range_busy(&eng, 0, 65536));
	/* reads never keep a region in the activity log */
	assert_false(engine_range_busy(&eng, 65536, 65536));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_engine_order_overlapping_writes_wait,
				       setup),
		cmocka_unit_test_setup(test_engine_order_disjoint_and_reads,
				       setup),
		cmocka_unit_test_setup(
			test_engine_order_blocked_earlier_blocks_later, setup),
		cmocka_unit_test_setup(test_engine_order_flush_is_a_barrier,
				       setup),
		cmocka_unit_test_setup(
			test_engine_order_trim_covers_its_whole_range, setup),
		cmocka_unit_test_setup(
			test_engine_order_resync_copy_waits_for_later_write,
			setup),
		cmocka_unit_test_setup(
			test_engine_order_range_busy_ignores_finished, setup),
	};

	return cmocka_run_group_tests_name("engine_order", tests, NULL, NULL);
}
