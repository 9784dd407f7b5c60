/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seqmap.h"

static char path[64];

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/seqmap-test-%d", (int)getpid());
	unlink(path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void test_seqmap_create_set_get(void **state)
{
	struct seqmap *m = NULL;
	struct stat st;

	(void)state;
	assert_int_equal(seqmap_open(path, 100, false, &m), -ENOENT);
	assert_null(m);
	assert_int_equal(seqmap_open(path, 100, true, &m), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 800);
	assert_int_equal(seqmap_blocks(m), 100);
	assert_int_equal(seqmap_get(m, 0), 0);
	seqmap_set(m, 10, 5, 42);
	seqmap_set(m, 12, 1, 43);
	assert_int_equal(seqmap_get(m, 9), 0);
	assert_int_equal(seqmap_get(m, 10), 42);
	assert_int_equal(seqmap_get(m, 12), 43);
	assert_int_equal(seqmap_get(m, 14), 42);
	assert_int_equal(seqmap_get(m, 15), 0);
	assert_int_equal(seqmap_max(m, 0, 100), 43);
	assert_int_equal(seqmap_max(m, 13, 2), 42);
	assert_int_equal(seqmap_sync(m), 0);
	seqmap_close(m);
	seqmap_close(NULL);

	/* reopened: values kept; wrong size refused without create */
	assert_int_equal(seqmap_open(path, 100, false, &m), 0);
	assert_int_equal(seqmap_get(m, 12), 43);
	seqmap_close(m);
	assert_int_equal(seqmap_open(path, 99, false, &m), -EINVAL);
	assert_int_equal(seqmap_open(path, 99, true, &m), -EINVAL);
	assert_int_equal(seqmap_open(path, 200, false, &m), -EINVAL);
	assert_int_equal(seqmap_open(path, 200, true, &m), 0);
	assert_int_equal(seqmap_get(m, 12), 43);
	assert_int_equal(seqmap_get(m, 199), 0);
	seqmap_close(m);
	assert_int_equal(seqmap_open(path, 0, true, &m), -EINVAL);
}

/* Every page of the file has its blocks once opened: a store into a hole
 * of a shared mapping on a full filesystem would raise SIGBUS. */
static void test_seqmap_file_is_allocated(void **state)
{
	struct seqmap *m = NULL;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(seqmap_open(path, 4096, true, &m), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 >= 4096 * 8);
	seqmap_close(m);
	/* a sparse file left by an older engine: allocated at open */
	assert_int_equal(unlink(path), 0);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096 * 8), 0);
	close(fd);
	assert_int_equal(seqmap_open(path, 4096, false, &m), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 >= 4096 * 8);
	seqmap_close(m);
}

/* A store survives SIGKILL of the process that made it, without msync. */
static void test_seqmap_survives_sigkill(void **state)
{
	struct seqmap *m;
	int status, p[2];
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (seqmap_open(path, 64, true, &m))
			_exit(1);
		seqmap_set(m, 0, 64, 7);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(p[0], &c, 1), 1);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(seqmap_open(path, 64, false, &m), 0);
	assert_int_equal(seqmap_max(m, 0, 64), 7);
	assert_int_equal(seqmap_get(m, 63), 7);
	seqmap_close(m);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_seqmap_create_set_get,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_seqmap_file_is_allocated,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_seqmap_survives_sigkill,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("seqmap", tests, NULL, NULL);
}
