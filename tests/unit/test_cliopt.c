/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "cliopt.h"

static void test_cliopt_fail_formats_and_truncates(void **state)
{
	char err[16];

	(void)state;
	assert_int_equal(cliopt_fail(err, sizeof(err), "bad --x '%s'", "y"),
			 -EINVAL);
	assert_string_equal(err, "bad --x 'y'");
	assert_int_equal(cliopt_fail(err, sizeof(err), "%s",
				     "a reason far too long to fit"), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

/* The words for what getopt_long() found, as the parsers run it (opterr
 * 0, leading ':'): a missing value and an unknown option. */
static void test_cliopt_bad_option_names_the_option(void **state)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	char a0[] = "x", a1[] = "--count", a2[] = "--bogus";
	char *argv[] = { a0, a1, NULL };
	char *argv2[] = { a0, a2, NULL };
	char err[64];
	int c;

	(void)state;
	optind = 0;
	opterr = 0;
	c = getopt_long(2, argv, "+:c:", opts, NULL);
	assert_int_equal(c, ':');
	assert_int_equal(cliopt_bad_option(c, argv, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "option '--count' needs a value");
	optind = 0;
	c = getopt_long(2, argv2, "+:c:", opts, NULL);
	assert_int_equal(c, '?');
	assert_int_equal(cliopt_bad_option(c, argv2, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "unknown option '--bogus'");
}

/* An unknown letter inside a cluster ("-xv"): getopt_long() leaves optind
 * on the cluster until its last letter, so argv[optind - 1] is the
 * argument before it (here the report's own name).  The message must
 * name the letter, wherever it sits in the cluster. */
static void test_cliopt_bad_option_names_letter_in_cluster(void **state)
{
	char a0[] = "io", a1[] = "-xv", a2[] = "-vx", a3[] = "-vi";
	char *first[] = { a0, a1, NULL };
	char *last[] = { a0, a2, NULL };
	char *value[] = { a0, a3, NULL };
	char err[64];
	int c;

	(void)state;
	opterr = 0;
	optind = 0;
	c = getopt_long(2, first, "+:vi:", NULL, NULL);
	assert_int_equal(c, '?');
	assert_int_equal(cliopt_bad_option(c, first, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "unknown option '-x'");
	optind = 0;
	c = getopt_long(2, last, "+:vi:", NULL, NULL);
	assert_int_equal(c, 'v');
	c = getopt_long(2, last, "+:vi:", NULL, NULL);
	assert_int_equal(c, '?');
	assert_int_equal(cliopt_bad_option(c, last, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "unknown option '-x'");
	optind = 0;
	c = getopt_long(2, value, "+:vi:", NULL, NULL);
	assert_int_equal(c, 'v');
	c = getopt_long(2, value, "+:vi:", NULL, NULL);
	assert_int_equal(c, ':');
	assert_int_equal(cliopt_bad_option(c, value, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "option '-i' needs a value");
}

static void test_cliopt_no_operands(void **state)
{
	char a0[] = "x", a1[] = "stray";
	char *argv[] = { a0, a1, NULL };
	char err[64];

	(void)state;
	optind = 1;
	assert_int_equal(cliopt_no_operands(2, argv, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "unexpected argument 'stray'");
	optind = 2;
	assert_int_equal(cliopt_no_operands(2, argv, err, sizeof(err)), 0);
}

static void test_cliopt_pin_root_wants_absolute(void **state)
{
	const char *out = NULL;
	char err[64];

	(void)state;
	assert_int_equal(cliopt_pin_root("rel/dir", &out, err, sizeof(err)),
			 -EINVAL);
	assert_null(out);
	assert_string_equal(err, "--pin-root must be an absolute path, not "
			    "'rel/dir'");
	assert_int_equal(cliopt_pin_root("/sys/fs/bpf/t", &out, err,
					 sizeof(err)), 0);
	assert_string_equal(out, "/sys/fs/bpf/t");
}

static void test_cliopt_attach_modes(void **state)
{
	const char *out = "unset";
	char err[128];

	(void)state;
	assert_int_equal(cliopt_attach("kprobe", &out, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(out, "unset");
	assert_string_equal(err, "bad --attach 'kprobe': auto, tp_btf or "
			    "raw_tp");
	assert_int_equal(cliopt_attach("raw_tp", &out, err, sizeof(err)), 0);
	assert_string_equal(out, "raw_tp");
	assert_int_equal(cliopt_attach("tp_btf", &out, err, sizeof(err)), 0);
	assert_int_equal(cliopt_attach("auto", &out, err, sizeof(err)), 0);
	assert_string_equal(out, "auto");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cliopt_fail_formats_and_truncates),
		cmocka_unit_test(test_cliopt_bad_option_names_the_option),
		cmocka_unit_test(test_cliopt_bad_option_names_letter_in_cluster),
		cmocka_unit_test(test_cliopt_no_operands),
		cmocka_unit_test(test_cliopt_pin_root_wants_absolute),
		cmocka_unit_test(test_cliopt_attach_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
