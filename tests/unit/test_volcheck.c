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

/* Write an image of SIZE whose blocks hold ids[b] (0: zeroes). */
/* A log in which block b's write 10 + b was issued and acked, for every
 * block; ids[b] gets that id. */
static void log_all_acked(uint64_t *ids)
{
	FILE *f = fopen(log_path, "wb");
	uint64_t b;

	assert_non_null(f);
	for (b = 0; b < SIZE / VC_BLOCK; b++) {
		rec(f, VC_ISSUE, b, 10 + b);
		rec(f, VC_ACK, b, 10 + b);
		ids[b] = 10 + b;
	}
	fclose(f);
}

static void image(const char *path, const uint64_t *ids)
{
	static char blk[VC_BLOCK];
	FILE *f = fopen(path, "wb");
	uint64_t b;

	assert_non_null(f);
	for (b = 0; b < SIZE / VC_BLOCK; b++) {
		memset(blk, 0, sizeof(blk));
		if (ids[b])
			vc_fill(blk, b * VC_BLOCK, VC_BLOCK, ids[b]);
		assert_int_equal(fwrite(blk, sizeof(blk), 1, f), 1);
	}
	fclose(f);
}

/* Checking several replica images: each bad block is listed under the
 * image that holds it, even after an earlier image used up the few lines
 * a check prints. */
static void test_volcheck_names_the_image(void **state)
{
	char img1[] = "/tmp/test_volcheck_img1.XXXXXX";
	char img2[] = "/tmp/test_volcheck_img2.XXXXXX";
	char out[] = "/tmp/test_volcheck_err.XXXXXX";
	uint64_t ids[SIZE / VC_BLOCK], b;
	char text[4096], want[128];
	struct vc_check *c;
	int fd, saved;
	ssize_t n;

	(void)state;
	log_all_acked(ids);
	assert_true((fd = mkstemp(img1)) >= 0);
	close(fd);
	assert_true((fd = mkstemp(img2)) >= 0);
	close(fd);
	assert_true((fd = mkstemp(out)) >= 0);
	memset(ids, 0, sizeof(ids));
	image(img1, ids);		/* lost everything */
	for (b = 0; b < SIZE / VC_BLOCK; b++)
		ids[b] = 10 + b;
	ids[13] = 0;			/* lost one block */
	image(img2, ids);
	c = load();
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	assert_int_equal(vc_check_file(c, img1), SIZE / VC_BLOCK);
	assert_int_equal(vc_check_file(c, img2), 1);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	assert_true(n > 0);
	text[n] = 0;
	snprintf(want, sizeof(want), "%s: block 0:", img1);
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof(want), "%s: block 13:", img2);
	assert_non_null(strstr(text, want));
	vc_check_free(c);
	close(fd);
	unlink(img1);
	unlink(img2);
	unlink(out);
}

/* An image longer than the volume by less than a block (a file grown by
 * something else, or --size given smaller than the image) is checked over
 * the volume's blocks, not refused as short; a shorter one is refused. */
static void test_volcheck_longer_image_checked(void **state)
{
	char img[] = "/tmp/test_volcheck_long.XXXXXX";
	uint64_t ids[SIZE / VC_BLOCK];
	struct vc_check *c;
	int fd;

	(void)state;
	log_all_acked(ids);
	assert_true((fd = mkstemp(img)) >= 0);
	close(fd);
	image(img, ids);
	assert_int_equal(truncate(img, SIZE + 100), 0);
	c = load();
	assert_int_equal(vc_check_file(c, img), 0);
	assert_int_equal(truncate(img, SIZE - 100), 0);
	assert_int_equal(vc_check_file(c, img), -ENODATA);
	vc_check_free(c);
	unlink(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_volcheck_every_failed_write_kept),
		cmocka_unit_test(test_volcheck_ack_clears_failed),
		cmocka_unit_test(test_volcheck_names_the_image),
		cmocka_unit_test(test_volcheck_longer_image_checked),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
