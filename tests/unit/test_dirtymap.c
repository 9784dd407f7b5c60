/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dirtymap.h"

#define RS (64 * 1024)

static char path[64], path2[64];

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/dirtymap-test-%d", (int)getpid());
	snprintf(path2, sizeof(path2), "/tmp/dirtymap-test2-%d", (int)getpid());
	unlink(path);
	unlink(path2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	unlink(path2);
	return 0;
}

static void test_dirtymap_set_range_counts_regions(void **state)
{
	struct dirtymap *m = NULL;

	(void)state;
	assert_int_equal(dirtymap_open(path, 100, RS, false, &m), -ENOENT);
	assert_null(m);
	assert_int_equal(dirtymap_open(path, 100, RS, true, &m), 0);
	assert_int_equal(dirtymap_count(m), 0);
	assert_int_equal(dirtymap_next(m, 0), DIRTYMAP_NONE);
	/* 4 KiB inside region 1 */
	assert_int_equal(dirtymap_set_range(m, RS + 4096, 4096), 1);
	/* straddles regions 1 and 2: only 2 is new */
	assert_int_equal(dirtymap_set_range(m, 2 * RS - 4096, 8192), 1);
	assert_int_equal(dirtymap_count(m), 2);
	assert_false(dirtymap_test(m, 0));
	assert_true(dirtymap_test(m, 1));
	assert_true(dirtymap_test(m, 2));
	assert_true(dirtymap_test_range(m, 2 * RS, 1));
	assert_false(dirtymap_test_range(m, 3 * RS, RS));
	/* clipped at the end of the map; zero length does nothing */
	assert_int_equal(dirtymap_set_range(m, 99ULL * RS, 10ULL * RS), 1);
	assert_int_equal(dirtymap_set_range(m, 500ULL * RS, RS), 0);
	assert_int_equal(dirtymap_set_range(m, 0, 0), 0);
	assert_int_equal(dirtymap_next(m, 0), 1);
	assert_int_equal(dirtymap_next(m, 2), 2);
	assert_int_equal(dirtymap_next(m, 3), 99);
	assert_int_equal(dirtymap_next(m, 100), DIRTYMAP_NONE);
	dirtymap_clear(m, 2);
	dirtymap_clear(m, 2);
	assert_int_equal(dirtymap_count(m), 2);
	assert_int_equal(dirtymap_sync(m), 0);
	dirtymap_close(m);
	dirtymap_close(NULL);

	/* reopened: bits and count kept; other geometry refused */
	assert_int_equal(dirtymap_open(path, 100, RS, false, &m), 0);
	assert_int_equal(dirtymap_count(m), 2);
	assert_true(dirtymap_test(m, 99));
	dirtymap_clear_all(m);
	assert_int_equal(dirtymap_count(m), 0);
	dirtymap_close(m);
	assert_int_equal(dirtymap_open(path, 101, RS, true, &m), -EINVAL);
	assert_int_equal(dirtymap_open(path, 100, 4096, true, &m), -EINVAL);
	assert_int_equal(dirtymap_open(path, 100, 3000, true, &m), -EINVAL);
	assert_int_equal(dirtymap_open(path, 0, RS, true, &m), -EINVAL);
}

static void test_dirtymap_next_crosses_words(void **state)
{
	struct dirtymap *m;
	uint64_t r, n = 0;

	(void)state;
	assert_int_equal(dirtymap_open(path, 1000, RS, true, &m), 0);
	dirtymap_set(m, 63);
	dirtymap_set(m, 64);
	dirtymap_set(m, 640);
	dirtymap_set(m, 999);
	dirtymap_set(m, 1000);	/* out of range: ignored */
	for (r = dirtymap_next(m, 0); r != DIRTYMAP_NONE;
	     r = dirtymap_next(m, r + 1))
		n++;
	assert_int_equal(n, 4);
	assert_int_equal(dirtymap_next(m, 65), 640);
	assert_int_equal(dirtymap_next(m, 641), 999);
	dirtymap_close(m);
}

static void test_dirtymap_merge(void **state)
{
	struct dirtymap *a, *b;

	(void)state;
	assert_int_equal(dirtymap_open(path, 200, RS, true, &a), 0);
	assert_int_equal(dirtymap_open(path2, 200, RS, true, &b), 0);
	dirtymap_set(a, 5);
	dirtymap_set(b, 5);
	dirtymap_set(b, 150);
	assert_int_equal(dirtymap_merge(a, b), 1);
	assert_int_equal(dirtymap_count(a), 2);
	assert_true(dirtymap_test(a, 150));
	dirtymap_close(a);
	dirtymap_close(b);
}

/* A bit set survives SIGKILL of the process that set it, without sync. */
static void test_dirtymap_survives_sigkill(void **state)
{
	struct dirtymap *m;
	int status, p[2];
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dirtymap_open(path, 64, RS, true, &m))
			_exit(1);
		dirtymap_set_range(m, 10ULL * RS, 3ULL * RS);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(p[0], &c, 1), 1);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(dirtymap_open(path, 64, RS, false, &m), 0);
	assert_int_equal(dirtymap_count(m), 3);
	assert_int_equal(dirtymap_next(m, 0), 10);
	dirtymap_close(m);
	close(p[0]);
	close(p[1]);
}

/* Every change moves the version (an asynchronous syncer's cue); flags
 * persist in the header; the words are the bits; the fd stays usable. */
static void test_dirtymap_version_flags_words(void **state)
{
	struct dirtymap *m;
	uint64_t v;

	(void)state;
	assert_int_equal(dirtymap_open(path, 130, RS, true, &m), 0);
	assert_int_equal(dirtymap_flags(m), 0);
	v = dirtymap_version(m);
	dirtymap_set(m, 3);
	assert_true(dirtymap_version(m) > v);
	v = dirtymap_version(m);
	dirtymap_set(m, 3);		/* no change, no new version */
	dirtymap_clear(m, 4);
	assert_int_equal(dirtymap_version(m), v);
	dirtymap_set(m, 129);
	dirtymap_set_flags(m, 0x5);
	assert_true(dirtymap_version(m) > v);
	assert_int_equal(dirtymap_nr_words(m), 3);
	assert_int_equal(dirtymap_words(m)[0], 1ULL << 3);
	assert_int_equal(dirtymap_words(m)[1], 0);
	assert_int_equal(dirtymap_words(m)[2], 1ULL << 1);
	assert_int_equal(fsync(dirtymap_fd(m)), 0);
	dirtymap_close(m);
	assert_int_equal(dirtymap_open(path, 130, RS, false, &m), 0);
	assert_int_equal(dirtymap_flags(m), 0x5);
	assert_true(dirtymap_test(m, 129));
	dirtymap_close(m);
}

/* Every page of the file has its blocks once opened: setting a bit in a
 * hole of a shared mapping on a full filesystem would raise SIGBUS. */
static void test_dirtymap_file_is_allocated(void **state)
{
	struct dirtymap *m = NULL;
	struct stat st;

	(void)state;
	/* 2^16 regions: 8 KiB of bits after the 4 KiB header */
	assert_int_equal(dirtymap_open(path, 1 << 16, RS, true, &m), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size >= 4096 + 8192);
	assert_true((uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size);
	dirtymap_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_dirtymap_set_range_counts_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_dirtymap_next_crosses_words, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirtymap_merge,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirtymap_survives_sigkill,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_dirtymap_version_flags_words, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_dirtymap_file_is_allocated, setup, teardown),
	};

	return cmocka_run_group_tests_name("dirtymap", tests, NULL, NULL);
}
