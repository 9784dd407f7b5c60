/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tools/volcheck.h"

#define SIZE (16 * VC_BLOCK)

static char log_path[] = "/tmp/test_volcheck.XXXXXX";

static void rec(FILE *f, uint32_t type, uint64_t block, uint64_t id)
{
	struct vc_rec r = {
		.type = type, .len = VC_BLOCK, .off = block * VC_BLOCK,
		.id = id, .t_ns = id,
	};

	assert_int_equal(fwrite(&r, sizeof(r), 1, f), 1);
}

static struct vc_check *load(void)
{
	struct vc_check *c = NULL;

	assert_int_equal(vc_check_load(log_path, SIZE, 0, &c), 0);
	return c;
}

/* Whether block b, holding write id (0: never written), passes. */
static bool holds(struct vc_check *c, uint64_t b, uint64_t id)
{
	static char blk[VC_BLOCK];

	memset(blk, 0, sizeof(blk));
	if (id)
		vc_fill(blk, b * VC_BLOCK, VC_BLOCK, id);
	return vc_check_block(c, blk, b * VC_BLOCK);
}

static int setup(void **state)
{
	int fd = mkstemp(log_path);

	(void)state;
	return fd < 0 ? -1 : close(fd);
}

static int teardown(void **state)
{
	(void)state;
	unlink(log_path);
	return 0;
}

/* A write that failed after it reached a replica may be on it, however
 * many writes to the same block were refused after it (while no replica
 * could be written, every write is). */
static void test_volcheck_every_failed_write_kept(void **state)
{
	struct vc_check *c;
	FILE *f = fopen(log_path, "wb");
	uint64_t id;

	(void)state;
	assert_non_null(f);
	rec(f, VC_ISSUE, 3, 1);
	rec(f, VC_ACK, 3, 1);
	for (id = 2; id < 40; id++) {
		rec(f, VC_ISSUE, 3, id);
		rec(f, VC_FAIL, 3, id);
	}
	rec(f, VC_ISSUE, 5, 50);	/* open at the end */
	fclose(f);
	c = load();
	assert_true(holds(c, 3, 1));	/* the acked one */
	assert_true(holds(c, 3, 2));	/* the first failed one */
	assert_true(holds(c, 3, 39));
	assert_true(holds(c, 5, 50));
	assert_true(holds(c, 5, 0));	/* never written, nothing acked */
	assert_int_equal(vc_check_bad(c), 0);
	assert_false(holds(c, 3, 0));	/* lost the acked write */
	assert_false(holds(c, 3, 41));	/* never issued */
	assert_false(holds(c, 4, 2));	/* another block's failed write */
	assert_int_equal(vc_check_bad(c), 3);
	assert_int_equal(vc_check_acked_blocks(c), 1);
	vc_check_free(c);
}

/* An ack makes the failed writes before it stale: the block must hold
 * the acked one or a write after it. */
static void test_volcheck_ack_clears_failed(void **state)
{
	struct vc_check *c;
	FILE *f = fopen(log_path, "wb");

	(void)state;
	assert_non_null(f);
	rec(f, VC_ISSUE, 7, 1);
	rec(f, VC_FAIL, 7, 1);
	rec(f, VC_ISSUE, 7, 2);
	rec(f, VC_ACK, 7, 2);
	rec(f, VC_ISSUE, 7, 3);
	rec(f, VC_FAIL, 7, 3);
	fclose(f);
	c = load();
	assert_false(holds(c, 7, 1));
	assert_true(holds(c, 7, 2));
	assert_true(holds(c, 7, 3));
	assert_int_equal(vc_check_bad(c), 1);
	vc_check_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_volcheck_every_failed_write_kept),
		cmocka_unit_test(test_volcheck_ack_clears_failed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
