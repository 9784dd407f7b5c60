/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"

/* The check value from the CRC catalogue and RFC 3720's test vectors. */
static void test_crc_known_vectors(void **state)
{
	uint8_t zeros[32], ones[32], inc[32];
	int i;

	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283);
	memset(zeros, 0, sizeof(zeros));
	memset(ones, 0xff, sizeof(ones));
	for (i = 0; i < 32; i++)
		inc[i] = (uint8_t)i;
	assert_int_equal(crc32c(0, zeros, 32), 0x8a9136aa);
	assert_int_equal(crc32c(0, ones, 32), 0x62a8ab43);
	assert_int_equal(crc32c(0, inc, 32), 0x46dd794e);
	assert_int_equal(crc32c(0, "", 0), 0);
}

static void test_crc_chains(void **state)
{
	static char buf[70000];
	uint32_t whole, part;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 31 + 7);
	whole = crc32c(0, buf, sizeof(buf));
	part = crc32c(crc32c(0, buf, 12345), buf + 12345,
		      sizeof(buf) - 12345);
	assert_int_equal(whole, part);
	buf[100] ^= 1;
	assert_int_not_equal(crc32c(0, buf, sizeof(buf)), whole);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_known_vectors),
		cmocka_unit_test(test_crc_chains),
	};

	return cmocka_run_group_tests_name("crc", tests, NULL, NULL);
}
