/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>

#include "engine_args.h"

static uint64_t size_of(const char *s)
{
	uint64_t v = 12345;

	assert_int_equal(engine_args_size(s, &v), 0);
	return v;
}

static void test_engine_args_size_units(void **state)
{
	(void)state;
	assert_int_equal(size_of("4096"), 4096);
	assert_int_equal(size_of("64k"), 65536);
	assert_int_equal(size_of("256M"), 256ULL << 20);
	assert_int_equal(size_of("1GiB"), 1ULL << 30);
	assert_int_equal(size_of("2T"), 2ULL << 40);
	assert_int_equal(size_of("0x1000"), 4096);
}

/* A leading zero is a decimal digit, as in every other size a user
 * types: 010M is ten MiB, not eight (strtoull's base 0 reads octal). */
static void test_engine_args_size_leading_zero_is_decimal(void **state)
{
	(void)state;
	assert_int_equal(size_of("010M"), 10ULL << 20);
	assert_int_equal(size_of("0100"), 100);
	assert_int_equal(size_of("08G"), 8ULL << 30);
	assert_int_equal(size_of("0"), 0);
}

static void test_engine_args_size_refuses_junk(void **state)
{
	static const char *const bad[] = {
		"", "-1", "1.5G", "1X", "G", "0x", "1 G", "17179869184T",
		"99999999999999999999",
	};
	uint64_t v = 7;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(engine_args_size(bad[i], &v), -EINVAL);
		assert_int_equal(v, 7);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_args_size_units),
		cmocka_unit_test(test_engine_args_size_leading_zero_is_decimal),
		cmocka_unit_test(test_engine_args_size_refuses_junk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
