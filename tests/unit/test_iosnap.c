/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iosnap.h"

/* Fault injection: realloc fails while fail_realloc is set. */
static int fail_realloc;
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
	return fail_realloc ? NULL : __real_realloc(p, n);
}

#define NCPU 3

/* Per-CPU values as the map hands them out: NCPU copies, 8-byte aligned
 * stride (struct blk_stats is a multiple of 8 already). */
static struct blk_stats vals[NCPU];

static void fill(unsigned int cpu, uint64_t n, uint64_t ns, uint64_t qns)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		hist_record(&vals[cpu].queue, qns);
		hist_record(&vals[cpu].service, ns);
		hist_record(&vals[cpu].total, ns + qns);
	}
	vals[cpu].count += n;
	vals[cpu].bytes += n * 4096;
}

static void add(struct iosnap *s, unsigned int major, unsigned int minor,
		unsigned int op)
{
	struct blk_key k = { .major = major, .minor = minor, .op = op };

	assert_int_equal(iosnap_add(s, &k, vals, NCPU, sizeof(vals[0])), 0);
}

static void test_iosnap_add_sums_cpus(void **state)
{
	struct iosnap s;

	(void)state;
	memset(vals, 0, sizeof(vals));
	fill(0, 10, 1000, 0);
	fill(2, 30, 3000, 100);
	vals[1].errors = 2;
	vals[1].untimed = 1;
	iosnap_init(&s);
	add(&s, 7, 0, BLK_OP_WRITE);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rows[0].count, 40);
	assert_int_equal(s.rows[0].bytes, 40 * 4096);
	assert_int_equal(s.rows[0].errors, 2);
	assert_int_equal(s.rows[0].untimed, 1);
	assert_int_equal(s.rows[0].total.count, 40);
	assert_int_equal(s.rows[0].total.max_ns, 3100);
	assert_int_equal(s.rows[0].queue.sum_ns, 30 * 100);
	/* The same key again folds into the same row. */
	add(&s, 7, 0, BLK_OP_WRITE);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rows[0].count, 80);
	add(&s, 7, 0, BLK_OP_READ);
	assert_int_equal(s.n, 2);
	iosnap_release(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.rows);
}

static void test_iosnap_add_out_of_memory_changes_nothing(void **state)
{
	struct blk_key k = { .major = 8, .minor = 0, .op = BLK_OP_READ };
	struct iosnap s;
	unsigned int i;

	(void)state;
	memset(vals, 0, sizeof(vals));
	fill(0, 1, 500, 0);
	iosnap_init(&s);
	for (i = 0; i < 8; i++)	/* fills the first allocation */
		add(&s, 7, i, BLK_OP_READ);
	fail_realloc = 1;
	assert_int_equal(iosnap_add(&s, &k, vals, NCPU, sizeof(vals[0])),
			 -ENOMEM);
	fail_realloc = 0;
	assert_int_equal(s.n, 8);
	/* A key already present needs no memory. */
	fail_realloc = 1;
	k.major = 7;
	k.minor = 3;
	assert_int_equal(iosnap_add(&s, &k, vals, NCPU, sizeof(vals[0])), 0);
	fail_realloc = 0;
	assert_int_equal(s.rows[3].count, 2);
	iosnap_release(&s);
}

/* Two snapshots of cumulative maps: the diff holds what happened in
 * between, new keys count from zero, idle keys are left out, rows come out
 * sorted, and the loss counters are diffed too. */
static void test_iosnap_diff_snapshots(void **state)
{
	struct iosnap a, b, d;

	(void)state;
	iosnap_init(&a);
	iosnap_init(&b);
	iosnap_init(&d);
	memset(vals, 0, sizeof(vals));
	fill(0, 5, 2000, 0);
	add(&a, 8, 0, BLK_OP_READ);
	add(&a, 7, 1, BLK_OP_WRITE);
	a.ts_ns = 1000000000;
	a.events_dropped = 4;

	add(&b, 8, 0, BLK_OP_READ);	/* idle: same values */
	fill(0, 7, 50000, 0);		/* 7 more, slow */
	add(&b, 7, 1, BLK_OP_WRITE);
	add(&b, 7, 0, BLK_OP_FLUSH);	/* new key: 12 in all */
	b.ts_ns = 3500000000;
	b.events_dropped = 9;
	b.prog_misses = 1;

	assert_int_equal(iosnap_diff(&d, &b, &a), 0);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.ts_ns, 2500000000);
	assert_int_equal(d.events_dropped, 5);
	assert_int_equal(d.prog_misses, 1);
	/* Sorted: 7:0 flush, then 7:1 write. */
	assert_int_equal(d.rows[0].minor, 0);
	assert_int_equal(d.rows[0].op, BLK_OP_FLUSH);
	assert_int_equal(d.rows[0].count, 12);
	assert_int_equal(d.rows[1].minor, 1);
	assert_int_equal(d.rows[1].count, 7);
	assert_int_equal(d.rows[1].bytes, 7 * 4096);
	assert_int_equal(d.rows[1].service.count, 7);
	/* Only the slow ones: p50 near 50 us, not 2 us. */
	assert_true(hist_percentile(&d.rows[1].service, 50) > 45000);
	assert_true(hist_percentile(&d.rows[1].service, 50) <= 50000);
	iosnap_release(&a);
	iosnap_release(&b);
	iosnap_release(&d);
}

static void test_iosnap_filter_keeps_chosen_devices(void **state)
{
	const unsigned int devs[2][2] = { { 7, 1 }, { 259, 0 } };
	struct iosnap s;

	(void)state;
	memset(vals, 0, sizeof(vals));
	fill(1, 1, 100, 0);
	iosnap_init(&s);
	add(&s, 7, 0, BLK_OP_READ);
	add(&s, 7, 1, BLK_OP_READ);
	add(&s, 7, 1, BLK_OP_WRITE);
	add(&s, 259, 0, BLK_OP_WRITE);
	iosnap_filter(&s, devs, 0);
	assert_int_equal(s.n, 4);
	iosnap_filter(&s, devs, 2);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.rows[0].minor, 1);
	assert_int_equal(s.rows[2].major, 259);
	iosnap_filter(&s, devs, 1);
	assert_int_equal(s.n, 2);
	iosnap_release(&s);
}

static struct iosnap one_row(void)
{
	struct iosnap s;

	memset(vals, 0, sizeof(vals));
	fill(0, 100, 10000, 0);
	fill(1, 100, 20000, 500);
	vals[0].errors = 3;
	iosnap_init(&s);
	add(&s, 7, 0, BLK_OP_WRITE);
	strcpy(s.rows[0].dev, "loop\"0");
	s.events_dropped = 6;
	return s;
}

static const double pcts[] = { 50, 99.9 };

static void test_iosnap_json_has_the_documented_fields(void **state)
{
	struct report_fmt fmt = { .pcts = pcts, .npcts = 2, .interval_s = 2,
				  .source = "tp_btf" };
	struct json_object *o, *dev, *v, *h, *lost;
	struct iosnap s = one_row();

	(void)state;
	o = iosnap_to_json(&s, &fmt);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "interval_s", &v));
	assert_true(json_object_get_double(v) == 2.0);
	assert_true(json_object_object_get_ex(o, "devices", &v));
	assert_int_equal(json_object_array_length(v), 1);
	dev = json_object_array_get_idx(v, 0);
	assert_true(json_object_object_get_ex(dev, "device", &v));
	assert_string_equal(json_object_get_string(v), "loop\"0");
	assert_true(json_object_object_get_ex(dev, "op", &v));
	assert_string_equal(json_object_get_string(v), "write");
	assert_true(json_object_object_get_ex(dev, "count", &v));
	assert_int_equal(json_object_get_int64(v), 200);
	assert_true(json_object_object_get_ex(dev, "bytes", &v));
	assert_int_equal(json_object_get_int64(v), 200 * 4096);
	assert_true(json_object_object_get_ex(dev, "errors", &v));
	assert_int_equal(json_object_get_int64(v), 3);
	assert_true(json_object_object_get_ex(dev, "iops", &v));
	assert_true(json_object_get_double(v) == 100.0);
	assert_true(json_object_object_get_ex(dev, "queue", &h));
	assert_true(json_object_object_get_ex(dev, "service", &h));
	assert_true(json_object_object_get_ex(dev, "total", &h));
	assert_true(json_object_object_get_ex(h, "p50_us", &v));
	assert_true(json_object_get_double(v) > 9.0);
	assert_true(json_object_get_double(v) < 11.0);
	assert_true(json_object_object_get_ex(h, "p999_us", &v));
	assert_true(json_object_get_double(v) > 19.0);
	assert_true(json_object_object_get_ex(h, "buckets", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_true(json_object_object_get_ex(o, "lost", &lost));
	assert_true(json_object_object_get_ex(lost, "events_dropped", &v));
	assert_int_equal(json_object_get_int64(v), 6);
	json_object_put(o);
	iosnap_release(&s);
}

static char *render(int (*fn)(FILE *, const struct iosnap *,
			      const struct report_fmt *),
		    const struct iosnap *s, const struct report_fmt *fmt)
{
	static char buf[1 << 16];
	FILE *f;

	memset(buf, 0, sizeof(buf));
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	assert_non_null(f);
	if (fn)
		assert_int_equal(fn(f, s, fmt), 0);
	else
		assert_int_equal(iosnap_print_prom(f, s), 0);
	fclose(f);
	return buf;
}

static void test_iosnap_prom_families_and_labels(void **state)
{
	struct iosnap s = one_row();
	char *out;

	(void)state;
	out = render(NULL, &s, NULL);
	/* One family header each, histogram series per stage, escaped
	 * device label, counters ending in _total. */
	assert_non_null(strstr(out, "# TYPE tapestry_block_io_latency_seconds "
			       "histogram\n"));
	assert_null(strstr(strstr(out, "# TYPE tapestry_block_io_latency") + 1,
			   "# TYPE tapestry_block_io_latency"));
	assert_non_null(strstr(out, "tapestry_block_io_latency_seconds_count{"
			       "device=\"loop\\\"0\",op=\"write\","
			       "stage=\"total\"} 200\n"));
	assert_non_null(strstr(out, "stage=\"queue\",le=\"+Inf\"} 200\n"));
	/* 100 at 10 us and 100 at 20 us: 100 at or below 16.383 us. */
	assert_non_null(strstr(out, "stage=\"service\",le=\"0.000016383\"} "
			       "100\n"));
	assert_non_null(strstr(out, "tapestry_block_io_requests_total{device="
			       "\"loop\\\"0\",op=\"write\"} 200\n"));
	assert_non_null(strstr(out, "tapestry_block_io_bytes_total{"));
	assert_non_null(strstr(out, "tapestry_block_io_errors_total{device="
			       "\"loop\\\"0\",op=\"write\"} 3\n"));
	assert_non_null(strstr(out, "tapestry_block_trace_lost_total{reason="
			       "\"events_dropped\"} 6\n"));
	iosnap_release(&s);
}

static void test_iosnap_text_shows_rows_and_losses(void **state)
{
	struct report_fmt fmt = { .pcts = pcts, .npcts = 2, .interval_s = 2,
				  .hist_width = 20 };
	struct iosnap s = one_row(), empty;
	char *out;

	(void)state;
	out = render(iosnap_print_text, &s, &fmt);
	assert_non_null(strstr(out, "loop\"0 write: 200 I/Os, 100.0 IOPS"));
	assert_non_null(strstr(out, "3 errors"));
	assert_non_null(strstr(out, "p999"));
	assert_non_null(strstr(out, "service"));
	assert_non_null(strstr(out, "distribution"));
	assert_non_null(strstr(out, "6 slow-I/O events dropped"));
	iosnap_init(&empty);
	out = render(iosnap_print_text, &empty, &fmt);
	assert_non_null(strstr(out, "no block I/O in 2.0 s"));
	iosnap_release(&s);
}

static void test_iosnap_op_names(void **state)
{
	(void)state;
	assert_string_equal(iosnap_op_name(BLK_OP_READ), "read");
	assert_string_equal(iosnap_op_name(BLK_OP_DISCARD), "discard");
	assert_string_equal(iosnap_op_name(BLK_OP_OTHER), "other");
	assert_string_equal(iosnap_op_name(BLK_NR_OPS), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iosnap_add_sums_cpus),
		cmocka_unit_test(test_iosnap_add_out_of_memory_changes_nothing),
		cmocka_unit_test(test_iosnap_diff_snapshots),
		cmocka_unit_test(test_iosnap_filter_keeps_chosen_devices),
		cmocka_unit_test(test_iosnap_json_has_the_documented_fields),
		cmocka_unit_test(test_iosnap_prom_families_and_labels),
		cmocka_unit_test(test_iosnap_text_shows_rows_and_losses),
		cmocka_unit_test(test_iosnap_op_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
