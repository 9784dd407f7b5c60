/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "bpfsys.h"

/* The pin-directory claim is a flock; what it promises holds on any
 * directory, so these run on a temporary one. */
struct lock_fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct lock_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_bpfsys.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct lock_fixture *f = *state;

	rmdir(f->dir);
	free(f);
	return 0;
}

static void *close_later(void *arg)
{
	struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	close(*(int *)arg);
	return NULL;
}

/* A reader asking bpfsys_dir_claimed() holds a shared lock for a moment.
 * A daemon claiming the directory in that moment must wait it out, not
 * fail as if another daemon held the directory. */
static void test_bpfsys_claim_waits_out_a_reader(void **state)
{
	struct lock_fixture *f = *state;
	pthread_t th;
	int reader, fd = -1;

	reader = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(reader >= 0);
	assert_int_equal(flock(reader, LOCK_SH | LOCK_NB), 0);
	assert_int_equal(pthread_create(&th, NULL, close_later, &reader), 0);
	assert_int_equal(bpfsys_claim_dir(f->dir, &fd), 0);
	pthread_join(th, NULL);
	assert_true(fd >= 0);
	assert_true(bpfsys_dir_claimed(f->dir));
	close(fd);
	assert_false(bpfsys_dir_claimed(f->dir));
}

/* A live claim is still refused, and readers see it. */
static void test_bpfsys_claim_refuses_a_live_claim(void **state)
{
	struct lock_fixture *f = *state;
	int first = -1, second = -1;

	assert_int_equal(bpfsys_claim_dir(f->dir, &first), 0);
	assert_int_equal(bpfsys_claim_dir(f->dir, &second), -EBUSY);
	assert_int_equal(second, -1);
	assert_true(bpfsys_dir_claimed(f->dir));
	close(first);
	assert_int_equal(bpfsys_claim_dir(f->dir, &second), 0);
	close(second);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_bpfsys_claim_waits_out_a_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_bpfsys_claim_refuses_a_live_claim, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
