/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

/* Parse a NULL-terminated list of words as `tapestry report <kind> ...`. */
static int parse(enum report_kind kind, struct report_args *a, char *err,
		 const char *first, ...)
{
	char *argv[64];
	const char *w;
	va_list ap;
	int argc = 0;

	argv[argc++] = (char *)(kind == REPORT_IO ? "io" : "zones");
	va_start(ap, first);
	for (w = first; w; w = va_arg(ap, const char *))
		argv[argc++] = (char *)w;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return report_parse(kind, argc, argv, a, err, 256);
}

static void test_report_defaults(void **state)
{
	struct report_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse(REPORT_IO, &a, err, NULL), 0);
	assert_int_equal(a.format, REPORT_TEXT);
	assert_true(a.interval_s == 1.0);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.npcts, 4);
	assert_true(a.pcts[3] == 99.9);
	assert_int_equal(a.ndevices, 0);
	assert_string_equal(a.pin_root, "/sys/fs/bpf/tapestry");
	assert_string_equal(a.attach, "auto");
	assert_null(a.btf_path);
}

static void test_report_parses_every_option(void **state)
{
	struct report_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse(REPORT_IO, &a, err, "--device", "loop0", "-d",
			       "/dev/vda", "--interval", "0.5", "--count",
			       "3", "--json", "--percentiles", "50,99.99",
			       "--pin-root", "/sys/fs/bpf/t1", "--btf",
			       "/tmp/x.btf", "--attach", "raw_tp", "-v",
			       "--no-hist", NULL), 0);
	assert_int_equal(a.ndevices, 2);
	assert_string_equal(a.devices[0], "loop0");
	assert_string_equal(a.devices[1], "/dev/vda");
	assert_true(a.interval_s == 0.5);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.format, REPORT_JSON);
	assert_int_equal(a.npcts, 2);
	assert_true(a.pcts[1] == 99.99);
	assert_string_equal(a.pin_root, "/sys/fs/bpf/t1");
	assert_string_equal(a.btf_path, "/tmp/x.btf");
	assert_string_equal(a.attach, "raw_tp");
	assert_true(a.verbose);
	assert_true(a.no_hist);

	assert_int_equal(parse(REPORT_ZONES, &a, err, "--prometheus", "-c",
			       "1", NULL), 0);
	assert_int_equal(a.format, REPORT_PROM);
	assert_int_equal(a.count, 1);
}

static void test_report_help(void **state)
{
	struct report_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse(REPORT_IO, &a, err, "--help", NULL), 1);
	assert_int_equal(parse(REPORT_ZONES, &a, err, "-h", NULL), 1);
}

/* Each bad command line is refused with a reason naming the culprit. */
static void test_report_refuses_bad_flags(void **state)
{
	static const struct {
		enum report_kind kind;
		const char *w[4];
		const char *why;
	} bad[] = {
		{ REPORT_IO, { "--bogus" }, "unknown option" },
		{ REPORT_IO, { "-x" }, "unknown option" },
		{ REPORT_IO, { "--interval" }, "needs a value" },
		{ REPORT_IO, { "--interval", "0" }, "--interval" },
		{ REPORT_IO, { "--interval", "-1" }, "--interval" },
		{ REPORT_IO, { "--interval", "soon" }, "--interval" },
		{ REPORT_IO, { "--interval", "1e9" }, "--interval" },
		{ REPORT_IO, { "--interval", "nan" }, "--interval" },
		{ REPORT_IO, { "--interval", "1e-300" }, "0.001 to 86400" },
		{ REPORT_IO, { "--count", "-1" }, "--count" },
		{ REPORT_IO, { "--count", "2x" }, "--count" },
		{ REPORT_IO, { "--percentiles", "50,,99" }, "--percentiles" },
		{ REPORT_IO, { "--percentiles", "101" }, "--percentiles" },
		/* Names that collide (JSON keeps one "p99_us", "p999_us") or
		 * that round (99.99999 would print as p100). */
		{ REPORT_IO, { "--percentiles", "99,99" }, "p99" },
		{ REPORT_IO, { "--percentiles", "9.99,99.9" }, "p999" },
		{ REPORT_IO, { "--percentiles", "1.25,12.5" }, "p125" },
		{ REPORT_IO, { "--percentiles", "99.99999" }, "99.99999" },
		{ REPORT_IO, { "--json", "--prometheus" }, "exclude" },
		/* One exposition: several back to back are not one. */
		{ REPORT_IO, { "--prometheus", "--count", "2" }, "--count 1" },
		{ REPORT_ZONES, { "-c", "0", "--prometheus" }, "--count 1" },
		{ REPORT_IO, { "--pin-root", "relative" }, "absolute" },
		{ REPORT_IO, { "--attach", "kprobe" }, "--attach" },
		{ REPORT_IO, { "extra" }, "unexpected argument" },
		{ REPORT_ZONES, { "--device", "loop0" }, "report io" },
	};
	struct report_args a;
	char err[256];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].kind, &a, err, bad[i].w[0],
				       bad[i].w[1], bad[i].w[2], NULL),
				 -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("case %u: '%s' lacks '%s'", i, err,
				 bad[i].why);
	}
}

static void test_report_refuses_too_many_devices(void **state)
{
	char *argv[2 * REPORT_MAX_DEVICES + 4];
	struct report_args a;
	char err[256];
	int argc = 0, i;

	(void)state;
	argv[argc++] = "io";
	for (i = 0; i <= REPORT_MAX_DEVICES; i++) {
		argv[argc++] = "-d";
		argv[argc++] = "loop0";
	}
	argv[argc] = NULL;
	assert_int_equal(report_parse(REPORT_IO, argc, argv, &a, err,
				      sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--device"));
}

static void test_report_usage_names_the_flags(void **state)
{
	char buf[4096] = "";
	FILE *f;

	(void)state;
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	assert_non_null(f);
	report_usage(REPORT_IO, f);
	fclose(f);
	assert_non_null(strstr(buf, "usage: tapestry report io"));
	assert_non_null(strstr(buf, "--device"));
	assert_non_null(strstr(buf, "--prometheus"));
	assert_non_null(strstr(buf, "CAP_BPF"));
}

/* Bytes that are not UTF-8 (a process name may hold any) become U+FFFD,
 * each; valid sequences, 1 to 4 bytes, pass through. */
static void test_report_json_string_replaces_bad_utf8(void **state)
{
#define R "\xef\xbf\xbd"	/* U+FFFD, as json-c prints it: raw */
	static const char *const cases[][2] = {
		{ "fio", "\"fio\"" },
		{ "fio\xff\xfe-\xc3", "\"fio" R R "-" R "\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
		{ "\xc0\xaf", "\"" R R "\"" },			/* overlong */
		{ "\xed\xa0\x80", "\"" R R R "\"" },		/* surrogate */
		{ "\xf4\x90\x80\x80", "\"" R R R R "\"" },	/* > U+10FFFF */
		{ "\xe2\x82", "\"" R R "\"" },			/* cut short */
	};
#undef R
	struct json_object *o;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o = report_json_string(cases[i][0]);
		assert_non_null(o);
		assert_string_equal(json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			cases[i][1]);
		json_object_put(o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_defaults),
		cmocka_unit_test(test_report_parses_every_option),
		cmocka_unit_test(test_report_help),
		cmocka_unit_test(test_report_refuses_bad_flags),
		cmocka_unit_test(test_report_refuses_too_many_devices),
		cmocka_unit_test(test_report_usage_names_the_flags),
		cmocka_unit_test(test_report_json_string_replaces_bad_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
