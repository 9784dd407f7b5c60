/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* One IPv4:PORT parser: what the engine dials is what the command line
 * accepts. */
static void test_engine_args_addr_parse(void **state)
{
	static const char *const bad[] = {
		"", "foo", "127.0.0.1", "127.0.0.1:", ":7000", "127.0.0.1:0",
		"127.0.0.1:65536", "127.0.0.1: 80", "127.0.0.1:+80",
		"127.0.0.1:-1", "127.0.0.1:80x", "localhost:7000",
		"::1:7000", "127.0.0.1:99999999999999999999999",
	};
	struct sockaddr_in sa;
	size_t i;

	(void)state;
	assert_int_equal(engine_addr_parse("127.0.0.2:7000", &sa), 0);
	assert_int_equal(sa.sin_family, AF_INET);
	assert_int_equal(ntohs(sa.sin_port), 7000);
	assert_int_equal(ntohl(sa.sin_addr.s_addr), 0x7f000002);
	assert_int_equal(engine_addr_parse("10.0.0.1:65535", NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&sa, 0x5a, sizeof(sa));
		assert_int_equal(engine_addr_parse(bad[i], &sa), -EINVAL);
		assert_int_equal(sa.sin_family, 0x5a5a);
	}
}

/* Parse argv-style pairs into o, then finish: the result of both. */
static int parse(struct engine_opts *o, const char *const *args)
{
	static char buf[16][128];
	unsigned int i;
	int err = 0;

	memset(o, 0, sizeof(*o));
	for (i = 0; !err && args[2 * i]; i++) {
		int opt = (int)(intptr_t)args[2 * i];

		snprintf(buf[i], sizeof(buf[i]), "%s", args[2 * i + 1]);
		err = engine_args_apply(o, opt, buf[i]);
	}
	return err ? err : engine_args_finish(o);
}

#define A(opt, val) (const char *)(intptr_t)(opt), (val)
#define BASE A(ENGINE_ARG_NAME, "v"), A(ENGINE_ARG_SIZE, "1M"), \
	     A(ENGINE_ARG_STATE_DIR, "/nonexistent"), \
	     A(ENGINE_ARG_LOCAL, "a=/x.img")

/* The parser applies the engine's own rules (engine_opts_check), and what
 * it accepts the engine accepts. */
static void test_engine_args_engine_rules(void **state)
{
	static const char *const ok[] = { BASE,
		A(ENGINE_ARG_REPLICA, "b=127.0.0.1:7000"),
		A(ENGINE_ARG_ZONE_ID, "b=254"), A(ENGINE_ARG_MIN_IN_SYNC, "2"),
		A(ENGINE_ARG_BLOCK_SIZE, "64k"), NULL };
	static const char *const bad[][16] = {
		{ BASE, A(ENGINE_ARG_NAME, ".v"), NULL },
		{ BASE, A(ENGINE_ARG_SIZE, "1000"), NULL },
		{ BASE, A(ENGINE_ARG_BLOCK_SIZE, "1000"), NULL },
		{ BASE, A(ENGINE_ARG_BLOCK_SIZE, "128k"), NULL },
		{ BASE, A(ENGINE_ARG_MIN_IN_SYNC, "2"), NULL },
		{ BASE, A(ENGINE_ARG_LOCAL, "a=/y.img"), NULL },
		{ BASE, A(ENGINE_ARG_LOCAL, ".b=/y.img"), NULL },
		{ BASE, A(ENGINE_ARG_REPLICA, "b=127.0.0.1:0"), NULL },
		{ BASE, A(ENGINE_ARG_REPLICA, "b=localhost:7000"), NULL },
		{ BASE, A(ENGINE_ARG_ZONE_ID, "a=255"), NULL },
		{ BASE, A(ENGINE_ARG_LOCAL, "b=/y.img"),
		  A(ENGINE_ARG_ZONE_ID, "a=7"), A(ENGINE_ARG_ZONE_ID, "b=7"),
		  NULL },
		{ A(ENGINE_ARG_SIZE, "1M"), A(ENGINE_ARG_STATE_DIR, "/d"),
		  A(ENGINE_ARG_LOCAL, "a=/x.img"), NULL },
	};
	struct engine_opts o;
	size_t i;

	(void)state;
	assert_int_equal(parse(&o, ok), 0);
	assert_int_equal(engine_opts_check(&o, NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&o, bad[i]), -EINVAL);
		assert_int_equal(engine_opts_check(&o, NULL), -EINVAL);
	}
}

/* The fault names the option and, for a replica, which one. */
static void test_engine_args_fault_names_the_replica(void **state)
{
	struct engine_opts o = {
		.name = "v", .size = 1 << 20, .state_dir = "/d",
		.nr_replicas = 3,
		.replicas = { { .zone = "a", .path = "/a" },
			      { .zone = "b", .addr = "127.0.0.1:1" },
			      { .zone = "a", .addr = "127.0.0.1:2" } },
	};
	struct engine_opts_fault f;

	(void)state;
	assert_int_equal(engine_opts_check(&o, &f), -EINVAL);
	assert_int_equal(f.opt, ENGINE_OPT_REPLICA);
	assert_int_equal(f.replica, 2);
	assert_non_null(strstr(f.why, "one replica per zone"));
	assert_string_equal(engine_opts_fault_name(&o, &f), "--replica");
	f.replica = 0;
	assert_string_equal(engine_opts_fault_name(&o, &f), "--local");
	o.replicas[2].zone = "c";
	o.replicas[2].zone_id = o.replicas[1].zone_id = 9;
	assert_int_equal(engine_opts_check(&o, &f), -EINVAL);
	assert_int_equal(f.opt, ENGINE_OPT_ZONE_ID);
	assert_int_equal(f.replica, 2);
	assert_string_equal(engine_opts_fault_name(&o, &f), "--zone-id");
	o.replicas[2].zone_id = 10;
	assert_int_equal(engine_opts_check(&o, &f), 0);
}

/* Every option the engine's rules can refuse is named as the command
 * lines spell it, for engine_args_finish and engine_create alike. */
static void test_engine_args_fault_name_every_option(void **state)
{
	static const char *const want[] = {
		[ENGINE_OPT_NAME] = "--name",
		[ENGINE_OPT_SIZE] = "--size",
		[ENGINE_OPT_BLOCK_SIZE] = "--block-size",
		[ENGINE_OPT_STATE_DIR] = "--state-dir",
		[ENGINE_OPT_REPLICAS] = "--local, --replica",
		[ENGINE_OPT_MIN_IN_SYNC] = "--min-in-sync",
		[ENGINE_OPT_ACK] = "--ack",
		[ENGINE_OPT_QUEUE_DEPTH] = "--queue-depth",
		[ENGINE_OPT_REPLICA] = "--replica",
		[ENGINE_OPT_ZONE_ID] = "--zone-id",
	};
	struct engine_opts o = { .nr_replicas = 0 };
	struct engine_opts_fault f = { .replica = 3 };
	unsigned int i;

	(void)state;
	for (i = ENGINE_OPT_NAME; i <= ENGINE_OPT_ZONE_ID; i++) {
		f.opt = (enum engine_opt)i;
		assert_string_equal(engine_opts_fault_name(&o, &f), want[i]);
	}
}

/* The usage text says the caller's defaults: `tapestryd volume` serves
 * quorum with 256 slots, bench-volume all with the engine's 128.  One
 * text said "all" and "128" for both. */
static char *usage_of(enum engine_ack ack, unsigned int qd)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	engine_args_usage(f, ack, qd);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void test_engine_args_usage_says_callers_defaults(void **state)
{
	char *t;

	(void)state;
	t = usage_of(ENGINE_ACK_QUORUM, 256);
	assert_non_null(strstr(t, "ack policy (default quorum)"));
	assert_non_null(strstr(t, "request slots (default 256)"));
	assert_null(strstr(t, "(default all)"));
	free(t);
	t = usage_of(ENGINE_ACK_ALL, 0);
	assert_non_null(strstr(t, "ack policy (default all)"));
	assert_non_null(strstr(t, "request slots (default 128)"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_args_size_units),
		cmocka_unit_test(test_engine_args_size_leading_zero_is_decimal),
		cmocka_unit_test(test_engine_args_size_refuses_junk),
		cmocka_unit_test(test_engine_args_addr_parse),
		cmocka_unit_test(test_engine_args_engine_rules),
		cmocka_unit_test(test_engine_args_fault_names_the_replica),
		cmocka_unit_test(test_engine_args_fault_name_every_option),
		cmocka_unit_test(test_engine_args_usage_says_callers_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
