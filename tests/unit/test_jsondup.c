/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_jsondup.c: the key count that lets a document without repeats skip
 * the per-object scan.  It reads 64 bytes at a time, so each case is tried
 * at every offset within a block; a count one short would let a repeat
 * through.
 */
#include "jsondup.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

struct kcase {
	const char *text;	/* printf format: %*s is the padding */
	size_t keys;
};

static const struct kcase cases[] = {
	{ "{\"a\":\"%*s\",\"b\":1}", 2 },
	/* Colons and escaped quotes inside strings, keys and values. */
	{ "{\"a:\":\"%*s\\\":\\\\\",\"b\":\":\"}", 2 },
	{ "[\"%*s\\\\\\\\\\\":\",{\"k\":{\"x\":[1,{\"y\":2}]}}]", 3 },
	{ "{\"%*s\\u0022:\":[\":\",\"\\\\\",{\"q\":\"\\\"\"}],\"r\":null}", 3 },
	{ "{\"a\":1,\"a\":2,\"%*s\":{\"a\":\"::\"}}", 4 },
	{ "[\"%*s\"]", 0 },
	/* An escape at a block's end, and no backslash in the next block. */
	{ "{\"a\":\"%*s\\\"x::::::::::::::::::::::::::::::::::::::::"
	  "::::::::::::::::::::::::::::::::::\",\"b\":1}", 2 },
};

static void test_jsondup_text_keys_any_offset(void **state)
{
	char text[512];
	size_t i, pad;
	int n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (pad = 0; pad < 200; pad++) {
			n = snprintf(text, sizeof(text), cases[i].text,
				     (int)pad, "");
			assert_in_range(n, 1, sizeof(text) - 1);
			assert_int_equal(jsondup_text_keys(text, (size_t)n),
					 cases[i].keys);
		}
}

/* Many keys, so most blocks take the fast path with no string open at
 * their start, and some with one open. */
static void test_jsondup_text_keys_long(void **state)
{
	char text[8192];
	size_t len = 0, i;

	(void)state;
	text[len++] = '{';
	for (i = 0; i < 300; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"%s\"k%zu\":\"v:%zu\"", i ? "," : "",
					i, i * 7);
	text[len++] = '}';
	assert_int_equal(jsondup_text_keys(text, len), 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsondup_text_keys_any_offset),
		cmocka_unit_test(test_jsondup_text_keys_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
