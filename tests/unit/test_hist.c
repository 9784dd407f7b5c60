/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

/* Buckets tile [0, 2^38) with no gap and no overlap, and every bucket is at
 * most 1/8 as wide as its lower bound once past the exact range. */
static void test_hist_boundaries_tile(void **state)
{
	unsigned int i;

	(void)state;
	assert_int_equal(hist_bucket_lo(0), 0);
	for (i = 0; i + 1 < HIST_NBUCKETS; i++) {
		assert_true(hist_bucket_lo(i) < hist_bucket_hi(i));
		assert_int_equal(hist_bucket_hi(i), hist_bucket_lo(i + 1));
		if (i >= 2 * HIST_SUB)
			assert_true((hist_bucket_hi(i) - hist_bucket_lo(i)) * 8 <=
				    hist_bucket_lo(i));
	}
	assert_int_equal(hist_bucket_hi(HIST_NBUCKETS - 1), 1ULL << 38);
}

/* Every bucket's bounds map back to that bucket. */
static void test_hist_bucket_of_bounds(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < HIST_NBUCKETS; i++) {
		assert_int_equal(hist_bucket(hist_bucket_lo(i)), i);
		assert_int_equal(hist_bucket(hist_bucket_hi(i) - 1), i);
	}
}

static void test_hist_bucket_chosen_values(void **state)
{
	(void)state;
	assert_int_equal(hist_bucket(0), 0);
	assert_int_equal(hist_bucket(7), 7);
	assert_int_equal(hist_bucket(15), 15);
	assert_int_equal(hist_bucket(16), 16);	/* [16,18) */
	assert_int_equal(hist_bucket(17), 16);
	assert_int_equal(hist_bucket(18), 17);
	assert_int_equal(hist_bucket(31), 23);	/* [30,32) */
	assert_int_equal(hist_bucket(32), 24);
	/* 1000 ns: msb 9, (1000 >> 6) & 7 = 15 & 7 = 7 -> (9-2)*8+7 = 63,
	 * the bucket [960, 1024). */
	assert_int_equal(hist_bucket(1000), 63);
	assert_int_equal(hist_bucket_lo(63), 960);
	assert_int_equal(hist_bucket_hi(63), 1024);
	/* 1 ms = 1e6 ns: msb 19, (1e6 >> 16) & 7 = 15 & 7 = 7 ->
	 * (19-2)*8+7 = 143, the bucket [983040, 1048576). */
	assert_int_equal(hist_bucket(1000000), 143);
	assert_int_equal(hist_bucket_lo(143), 983040);
	assert_int_equal(hist_bucket(UINT64_MAX), HIST_NBUCKETS - 1);
	assert_int_equal(hist_bucket(1ULL << 38), HIST_NBUCKETS - 1);
	assert_int_equal(hist_bucket((1ULL << 38) - 1), HIST_NBUCKETS - 1);
	assert_int_equal(hist_bucket((1ULL << 37) - 1), HIST_NBUCKETS - 9);
}

static void test_hist_record_counts(void **state)
{
	struct hist h;

	(void)state;
	hist_reset(&h);
	hist_record(&h, 100);
	hist_record(&h, 100);
	hist_record(&h, 5000);
	assert_int_equal(h.count, 3);
	assert_int_equal(h.sum_ns, 5200);
	assert_int_equal(h.max_ns, 5000);
	assert_int_equal(h.slots[hist_bucket(100)], 2);
	assert_int_equal(h.slots[hist_bucket(5000)], 1);
}

static void test_hist_percentile_empty(void **state)
{
	struct hist h;

	(void)state;
	hist_reset(&h);
	assert_true(hist_percentile(&h, 50) == 0.0);
	assert_true(hist_percentile(&h, 99.9) == 0.0);
}

/* Samples in two known buckets; check the interpolation arithmetic. */
static void test_hist_percentile_interpolation(void **state)
{
	struct hist h;
	double p;
	int i;

	(void)state;
	hist_reset(&h);
	/* 10 samples in [960,1024), 10 in [983040,1048576). */
	for (i = 0; i < 10; i++) {
		hist_record(&h, 1000);
		hist_record(&h, 1040000);
	}
	/* rank 5 of 20: halfway through the first bucket. */
	p = hist_percentile(&h, 25);
	assert_true(fabs(p - (960 + 64 * 0.5)) < 1e-6);
	/* rank 10: the top of the first bucket. */
	p = hist_percentile(&h, 50);
	assert_true(fabs(p - 1024) < 1e-6);
	/* rank 15: halfway through the second bucket, below max. */
	p = hist_percentile(&h, 75);
	assert_true(fabs(p - (983040 + 65536 * 0.5)) < 1e-6);
	/* p100 would be the bucket top, but is capped at the real max. */
	p = hist_percentile(&h, 100);
	assert_true(fabs(p - 1040000) < 1e-6);
}

/* Percentiles of a known distribution are good to well within 20%. */
/* A histogram of zeros (queue time of directly issued requests) has every
 * percentile at 0, not somewhere inside [0, 1) ns. */
static void test_hist_percentile_all_zero(void **state)
{
	struct hist h;
	int i;

	(void)state;
	hist_reset(&h);
	for (i = 0; i < 100; i++)
		hist_record(&h, 0);
	assert_true(hist_percentile(&h, 50) == 0.0);
	assert_true(hist_percentile(&h, 99.9) == 0.0);
	/* An untracked max (0) above bucket 0 still interpolates. */
	hist_reset(&h);
	h.slots[hist_bucket(1000)] = 10;
	h.count = 10;
	assert_true(hist_percentile(&h, 50) > 960.0);
}

static void test_hist_percentile_accuracy(void **state)
{
	static const double pcts[] = { 50, 90, 99, 99.9 };
	struct hist h;
	uint64_t i, n = 100000, exact;
	unsigned int k;
	double p;

	(void)state;
	hist_reset(&h);
	/* Uniform on 10us..1010us: the q-quantile is 10000 + q * 1e6. */
	for (i = 0; i < n; i++)
		hist_record(&h, 10000 + i * 1000000 / n);
	for (k = 0; k < 4; k++) {
		exact = 10000 + (uint64_t)(pcts[k] / 100 * 1e6);
		p = hist_percentile(&h, pcts[k]);
		assert_true(fabs(p - (double)exact) / (double)exact < 0.07);
	}
}

static void test_hist_merge(void **state)
{
	struct hist a, b;

	(void)state;
	hist_reset(&a);
	hist_reset(&b);
	hist_record(&a, 10);
	hist_record(&a, 2000);
	hist_record(&b, 2000);
	hist_record(&b, 90000);
	hist_merge(&a, &b);
	assert_int_equal(a.count, 4);
	assert_int_equal(a.sum_ns, 10 + 2000 + 2000 + 90000);
	assert_int_equal(a.max_ns, 90000);
	assert_int_equal(a.slots[hist_bucket(2000)], 2);
	assert_int_equal(a.slots[hist_bucket(10)], 1);
	assert_int_equal(a.slots[hist_bucket(90000)], 1);
}

static void test_hist_diff_snapshots(void **state)
{
	struct hist before, now, d;

	(void)state;
	hist_reset(&now);
	hist_record(&now, 500);
	hist_record(&now, 700000);	/* the old max, before the window */
	before = now;
	hist_record(&now, 500);
	hist_record(&now, 3000);
	hist_diff(&d, &now, &before);
	assert_int_equal(d.count, 2);
	assert_int_equal(d.sum_ns, 3500);
	assert_int_equal(d.slots[hist_bucket(500)], 1);
	assert_int_equal(d.slots[hist_bucket(3000)], 1);
	assert_int_equal(d.slots[hist_bucket(700000)], 0);
	/* The interval's max is bounded by its highest bucket, not the
	 * all-time max. */
	assert_true(d.max_ns >= 3000);
	assert_true(d.max_ns < hist_bucket_hi(hist_bucket(3000)));
}

static void test_hist_diff_never_negative(void **state)
{
	struct hist before, now, d;

	(void)state;
	hist_reset(&before);
	hist_reset(&now);
	hist_record(&before, 100);	/* map recreated: now < before */
	hist_diff(&d, &now, &before);
	assert_int_equal(d.count, 0);
	assert_int_equal(d.slots[hist_bucket(100)], 0);
	assert_int_equal(d.max_ns, 0);
}

static void test_hist_parse_percentiles(void **state)
{
	double p[HIST_MAX_PCTS];

	(void)state;
	assert_int_equal(hist_parse_percentiles("50,90,99,99.9", p, 16), 4);
	assert_true(p[0] == 50 && p[1] == 90 && p[2] == 99);
	assert_true(fabs(p[3] - 99.9) < 1e-9);
	assert_int_equal(hist_parse_percentiles("100", p, 16), 1);
	assert_int_equal(hist_parse_percentiles("", p, 16), -EINVAL);
	assert_int_equal(hist_parse_percentiles("50,,90", p, 16), -EINVAL);
	assert_int_equal(hist_parse_percentiles("50,", p, 16), -EINVAL);
	assert_int_equal(hist_parse_percentiles("0", p, 16), -EINVAL);
	assert_int_equal(hist_parse_percentiles("101", p, 16), -EINVAL);
	assert_int_equal(hist_parse_percentiles("abc", p, 16), -EINVAL);
	assert_int_equal(hist_parse_percentiles("50x", p, 16), -EINVAL);
	assert_int_equal(hist_parse_percentiles("nan", p, 16), -EINVAL);
	assert_int_equal(hist_parse_percentiles("1,2,3", p, 2), -EINVAL);
}

static void test_hist_pct_name(void **state)
{
	char b[16];

	(void)state;
	assert_int_equal(hist_pct_name(50, b, sizeof(b)), 0);
	assert_string_equal(b, "p50");
	assert_int_equal(hist_pct_name(99.9, b, sizeof(b)), 0);
	assert_string_equal(b, "p999");
	assert_int_equal(hist_pct_name(99.99, b, sizeof(b)), 0);
	assert_string_equal(b, "p9999");
	assert_int_equal(hist_pct_name(99.9, b, 3), -ENOSPC);
}

static void test_hist_json_renders(void **state)
{
	static const double pcts[] = { 50, 99.9 };
	struct json_object *o, *v, *arr, *b;
	struct hist h;
	const char *s;

	(void)state;
	hist_reset(&h);
	hist_record(&h, 1000);
	hist_record(&h, 1000);
	hist_record(&h, 1000000);
	o = hist_to_json(&h, pcts, 2);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "p50_us", &v));
	/* rank 1.5 of the 2 samples in [960,1024): 960 + 64 * 0.75 ns */
	assert_true(fabs(json_object_get_double(v) - 1.008) < 1e-9);
	assert_true(json_object_object_get_ex(o, "p999_us", &v));
	assert_true(json_object_object_get_ex(o, "max_us", &v));
	assert_true(fabs(json_object_get_double(v) - 1000.0) < 1e-9);
	assert_true(json_object_object_get_ex(o, "count", &v));
	assert_int_equal(json_object_get_uint64(v), 3);
	assert_true(json_object_object_get_ex(o, "buckets", &arr));
	assert_int_equal(json_object_array_length(arr), 2);
	b = json_object_array_get_idx(arr, 0);
	assert_true(json_object_object_get_ex(b, "le_us", &v));
	assert_true(fabs(json_object_get_double(v) - 1.024) < 1e-9);
	assert_true(json_object_object_get_ex(b, "count", &v));
	assert_int_equal(json_object_get_uint64(v), 2);
	/* Serialised with three decimals, not seventeen digits. */
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	assert_non_null(strstr(s, "\"max_us\":1000.000"));
	assert_non_null(strstr(s, "\"p50_us\":1.008,"));
	assert_non_null(strstr(s, "{\"le_us\":1.024,\"count\":2}"));
	json_object_put(o);
}

/* The JSON helpers take the value: added, or freed (ASan would see a leak
 * otherwise); a NULL value is the allocation failure it stands for. */
static void test_hist_json_helpers_take_the_value(void **state)
{
	struct json_object *o, *arr, *v;

	(void)state;
	o = json_object_new_object();
	arr = json_object_new_array();
	assert_non_null(o);
	assert_non_null(arr);
	assert_int_equal(hist_json_add(o, "n", json_object_new_int(7)), 0);
	assert_true(json_object_object_get_ex(o, "n", &v));
	assert_int_equal(json_object_get_int(v), 7);
	assert_int_equal(hist_json_add(o, "x", NULL), -ENOMEM);
	assert_false(json_object_object_get_ex(o, "x", &v));
	assert_int_equal(hist_json_append(arr, json_object_new_int(1)), 0);
	assert_int_equal(hist_json_append(arr, NULL), -ENOMEM);
	assert_int_equal(json_object_array_length(arr), 1);
	assert_int_equal(hist_json_add(o, "arr", arr), 0);
	json_object_put(o);
}

/* hist_add() (what the BPF programs run) and hist_record() agree, and a
 * bucket index past the end lands in the last bucket. */
static void test_hist_add_matches_record(void **state)
{
	static const uint64_t v[] = { 0, 15, 16, 1000, 123456789, 1ULL << 40 };
	struct hist a, b;
	unsigned int i;

	(void)state;
	hist_reset(&a);
	hist_reset(&b);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hist_add(&a, v[i]);
		hist_record(&b, v[i]);
	}
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(a.count, 6);
	assert_int_equal(a.max_ns, 1ULL << 40);
	assert_int_equal(a.slots[HIST_NBUCKETS - 1], 1);
	hist_add_at(&a, HIST_NBUCKETS + 5, 1);
	assert_int_equal(a.slots[HIST_NBUCKETS - 1], 2);
}

static char *render_prom(const struct hist *h, const char *labels)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(hist_prom_header(f, "tapestry_t_seconds", "test"), 0);
	assert_int_equal(hist_prom_series(f, "tapestry_t_seconds", labels, h),
			 0);
	fclose(f);
	return buf;
}

static void test_hist_prom_renders(void **state)
{
	struct hist h;
	char *s;

	(void)state;
	hist_reset(&h);
	hist_record(&h, 1500);		/* between 2^10 and 2^11 ns */
	hist_record(&h, 3000000);	/* between 2^21 and 2^22 ns */
	s = render_prom(&h, "device=\"loop0\",op=\"write\"");
	assert_non_null(strstr(s, "# TYPE tapestry_t_seconds histogram\n"));
	/* Cumulative: nothing up to 1.023us, one up to 2.047us, both up to
	 * 2^22 - 1 ns, and +Inf matches _count. */
	assert_non_null(strstr(s, "tapestry_t_seconds_bucket{device=\"loop0\","
				  "op=\"write\",le=\"0.000001023\"} 0\n"));
	assert_non_null(strstr(s, "le=\"0.000002047\"} 1\n"));
	assert_non_null(strstr(s, "le=\"0.002097151\"} 1\n"));
	assert_non_null(strstr(s, "le=\"0.004194303\"} 2\n"));
	assert_non_null(strstr(s, "le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(s, "tapestry_t_seconds_sum{device=\"loop0\","
				  "op=\"write\"} 0.003001500\n"));
	assert_non_null(strstr(s, "tapestry_t_seconds_count{device=\"loop0\","
				  "op=\"write\"} 2\n"));
	free(s);

	s = render_prom(&h, "");
	assert_non_null(strstr(s, "tapestry_t_seconds_bucket{le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(s, "tapestry_t_seconds_count{} 2\n"));
	free(s);
}

/* Every _bucket line is true to Prometheus' meaning of le, "less than or
 * equal": its count is exactly the samples of at most le seconds, for
 * samples on either side of and on each power of two, up to the largest
 * edge (whose label needs 12 significant digits). */
static void test_hist_prom_le_is_exact(void **state)
{
	static const unsigned int ks[] = { 10, 11, 20, 34, 37 };
	uint64_t samples[3 * sizeof(ks) / sizeof(ks[0])], le_ns;
	unsigned int i, n = 0, lines = 0;
	unsigned long long got, want;
	char *s, *p, le[64];
	struct hist h;

	(void)state;
	hist_reset(&h);
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		samples[n++] = (1ULL << ks[i]) - 1;
		samples[n++] = 1ULL << ks[i];
		samples[n++] = (1ULL << ks[i]) + 1;
	}
	for (i = 0; i < n; i++)
		hist_record(&h, samples[i]);
	s = render_prom(&h, "");
	for (p = strstr(s, "_bucket{le=\""); p;
	     p = strstr(p + 1, "_bucket{le=\"")) {
		assert_int_equal(sscanf(p, "_bucket{le=\"%63[^\"]\"} %llu", le,
					&got), 2);
		if (!strcmp(le, "+Inf"))
			continue;
		le_ns = (uint64_t)llroundl(strtold(le, NULL) * 1e9L);
		for (want = 0, i = 0; i < n; i++)
			want += samples[i] <= le_ns;
		if (got != want)
			fail_msg("le=\"%s\" (%llu ns) counts %llu, want %llu",
				 le, (unsigned long long)le_ns, got, want);
		lines++;
	}
	assert_int_equal(lines, HIST_MAX_LOG2 - 10);
	free(s);
}

static void test_hist_prom_escape(void **state)
{
	char b[32];

	(void)state;
	assert_int_equal(hist_prom_escape("a\"b\\c\nd", b, sizeof(b)), 0);
	assert_string_equal(b, "a\\\"b\\\\c\\nd");
	assert_int_equal(hist_prom_escape("abcdef", b, 4), -ENOSPC);
}

static void test_hist_text_renders(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	struct hist h;
	FILE *f;

	(void)state;
	hist_reset(&h);
	hist_record(&h, 1000);
	hist_record(&h, 1000);
	hist_record(&h, 1200);
	f = open_memstream(&buf, &len);
	hist_print_text(f, &h, 10);
	fclose(f);
	assert_non_null(strstr(buf, "0.960 -> 1.024"));
	assert_non_null(strstr(buf, "|**********|"));
	assert_non_null(strstr(buf, "|*****     |"));
	free(buf);
}

/* A long empty stretch between samples folds into one line; a short one
 * (here one bucket) is printed as it is. */
static void test_hist_text_folds_empty_runs(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	struct hist h;
	FILE *f;

	(void)state;
	hist_reset(&h);
	hist_record(&h, 1000);		/* bucket 63 */
	hist_record(&h, 1200);		/* bucket 65 */
	hist_record(&h, 1000000);	/* ~1 ms, far above */
	f = open_memstream(&buf, &len);
	hist_print_text(f, &h, 10);
	fclose(f);
	assert_non_null(strstr(buf, "1.024 -> 1.152      : 0          |"));
	assert_non_null(strstr(buf, "1.280 -> 983.040    : 0          "
			       "(77 empty buckets)"));
	assert_non_null(strstr(buf, "983.040 -> 1048.576"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_boundaries_tile),
		cmocka_unit_test(test_hist_bucket_of_bounds),
		cmocka_unit_test(test_hist_bucket_chosen_values),
		cmocka_unit_test(test_hist_record_counts),
		cmocka_unit_test(test_hist_percentile_empty),
		cmocka_unit_test(test_hist_percentile_interpolation),
		cmocka_unit_test(test_hist_percentile_all_zero),
		cmocka_unit_test(test_hist_percentile_accuracy),
		cmocka_unit_test(test_hist_merge),
		cmocka_unit_test(test_hist_diff_snapshots),
		cmocka_unit_test(test_hist_diff_never_negative),
		cmocka_unit_test(test_hist_parse_percentiles),
		cmocka_unit_test(test_hist_pct_name),
		cmocka_unit_test(test_hist_json_renders),
		cmocka_unit_test(test_hist_prom_renders),
		cmocka_unit_test(test_hist_prom_le_is_exact),
		cmocka_unit_test(test_hist_prom_escape),
		cmocka_unit_test(test_hist_text_renders),
		cmocka_unit_test(test_hist_text_folds_empty_runs),
		cmocka_unit_test(test_hist_json_helpers_take_the_value),
		cmocka_unit_test(test_hist_add_matches_record),
	};

	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
