/* SPDX-License-Identifier: Apache-2.0 */
#include "hist.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Prometheus bucket edges: every power of two from 2^10 ns (1.024 us) to
 * 2^(HIST_MAX_LOG2 - 1) ns.  Each is a bucket edge of the log-linear
 * scheme, so the count of samples below it is exact.  Samples are whole
 * nanoseconds, so "below 2^k ns" is "at most 2^k - 1 ns": that is the le
 * printed, which makes Prometheus' "less than or equal" true as well.  The
 * last edge stops one short of 2^HIST_MAX_LOG2 because the top bucket also
 * holds values past it. */
#define PROM_FIRST_LOG2 10
#define PROM_LAST_LOG2 (HIST_MAX_LOG2 - 1)

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

void hist_record(struct hist *h, uint64_t ns)
{
	hist_add(h, ns);
}

uint64_t hist_bucket_lo(unsigned int i)
{
	if (i < 2 * HIST_SUB)
		return i;
	return (uint64_t)(HIST_SUB + i % HIST_SUB) << (i / HIST_SUB - 1);
}

uint64_t hist_bucket_hi(unsigned int i)
{
	if (i < 2 * HIST_SUB)
		return i + 1;
	return (uint64_t)(HIST_SUB + i % HIST_SUB + 1) << (i / HIST_SUB - 1);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	for (i = 0; i < HIST_NBUCKETS; i++)
		dst->slots[i] += src->slots[i];
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

static uint64_t sub_clamp(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

void hist_diff(struct hist *out, const struct hist *now,
	       const struct hist *before)
{
	unsigned int i;
	int top = -1;

	for (i = 0; i < HIST_NBUCKETS; i++) {
		out->slots[i] = sub_clamp(now->slots[i], before->slots[i]);
		if (out->slots[i])
			top = (int)i;
	}
	out->count = sub_clamp(now->count, before->count);
	out->sum_ns = sub_clamp(now->sum_ns, before->sum_ns);
	out->max_ns = 0;
	if (top >= 0) {
		out->max_ns = hist_bucket_hi(top) - 1;
		if (now->max_ns && now->max_ns < out->max_ns)
			out->max_ns = now->max_ns;
	}
}

double hist_percentile(const struct hist *h, double pct)
{
	uint64_t total = 0, seen = 0;
	double rank, lo, hi, v;
	unsigned int i;

	for (i = 0; i < HIST_NBUCKETS; i++)
		total += h->slots[i];
	if (!total || pct <= 0)
		return 0;
	if (pct > 100)
		pct = 100;
	rank = pct / 100.0 * (double)total;
	for (i = 0; i < HIST_NBUCKETS; i++) {
		if (!h->slots[i])
			continue;
		if ((double)(seen + h->slots[i]) >= rank)
			break;
		seen += h->slots[i];
	}
	if (i == HIST_NBUCKETS)	/* rounding left rank past the total */
		i = HIST_NBUCKETS - 1;
	lo = (double)hist_bucket_lo(i);
	hi = (double)hist_bucket_hi(i);
	if (i == HIST_NBUCKETS - 1 && (double)h->max_ns > hi)
		hi = (double)h->max_ns;
	v = lo + (hi - lo) * (rank - (double)seen) / (double)h->slots[i];
	/* max_ns is known when it reaches this bucket; 0 with samples above
	 * bucket 0 means nobody tracked it.  All samples 0 ns read as 0. */
	if (v > (double)h->max_ns && h->max_ns >= hist_bucket_lo(i))
		v = (double)h->max_ns;
	return v;
}

int hist_parse_percentiles(const char *s, double *out, unsigned int max)
{
	unsigned int n = 0;
	const char *p = s;
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		if (*p == ',' || *p == '\0' || n == max)
			return -EINVAL;
		errno = 0;
		v = strtod(p, &end);
		if (end == p || errno || !isfinite(v) || v <= 0 || v > 100)
			return -EINVAL;
		out[n++] = v;
		if (*end == '\0')
			return (int)n;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
}

int hist_pct_name(double pct, char *buf, size_t len)
{
	char num[32];
	size_t i, o = 0;
	int n;

	/* %.6g keeps 99.9 as "99.9" and 50 as "50"; then drop the dot. */
	n = snprintf(num, sizeof(num), "%.6g", pct);
	if (n < 0 || (size_t)n >= sizeof(num))
		return -EINVAL;
	if (len < 2)
		return -ENOSPC;
	buf[o++] = 'p';
	for (i = 0; num[i]; i++) {
		if (num[i] == '.')
			continue;
		if (o + 1 >= len)
			return -ENOSPC;
		buf[o++] = num[i];
	}
	buf[o] = '\0';
	return 0;
}

/* A double that serialises with three decimals (nanosecond resolution in
 * microseconds) instead of json-c's seventeen significant digits. */
static struct json_object *json_us(double ns)
{
	char s[48];

	snprintf(s, sizeof(s), "%.3f", ns / 1000.0);
	return json_object_new_double_s(ns / 1000.0, s);
}

int hist_json_add(struct json_object *o, const char *key,
		  struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int hist_json_append(struct json_object *arr, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_array_add(arr, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* Children are added to their parent first and filled in after, so that
 * on failure freeing o frees everything. */
static int json_add_buckets(struct json_object *o, const struct hist *h)
{
	struct json_object *arr = json_object_new_array(), *b;
	int err = hist_json_add(o, "buckets", arr);
	unsigned int i;

	for (i = 0; i < HIST_NBUCKETS && !err; i++) {
		if (!h->slots[i])
			continue;
		b = json_object_new_object();
		err = hist_json_append(arr, b);
		err = err ?: hist_json_add(b, "le_us",
					   json_us((double)hist_bucket_hi(i)));
		err = err ?: hist_json_add(b, "count",
					   json_object_new_uint64(h->slots[i]));
	}
	return err;
}

struct json_object *hist_to_json(const struct hist *h, const double *pcts,
				 unsigned int npcts)
{
	struct json_object *o;
	char key[40], name[32];
	unsigned int i;
	int err = 0;

	o = json_object_new_object();
	if (!o)
		return NULL;
	for (i = 0; i < npcts && !err; i++) {
		err = hist_pct_name(pcts[i], name, sizeof(name));
		if (err)
			break;
		snprintf(key, sizeof(key), "%s_us", name);
		err = hist_json_add(o, key,
				    json_us(hist_percentile(h, pcts[i])));
	}
	err = err ?: hist_json_add(o, "max_us", json_us((double)h->max_ns));
	err = err ?: hist_json_add(o, "count",
				   json_object_new_uint64(h->count));
	err = err ?: hist_json_add(o, "sum_us", json_us((double)h->sum_ns));
	err = err ?: json_add_buckets(o, h);
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int hist_prom_header(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	return ferror(f) ? -EIO : 0;
}

int hist_prom_series(FILE *f, const char *name, const char *labels,
		     const struct hist *h)
{
	const char *sep = labels && *labels ? "," : "";
	uint64_t cum = 0, total = 0, le;
	unsigned int i = 0, k, edge;

	if (!labels)
		labels = "";
	for (k = PROM_FIRST_LOG2; k <= PROM_LAST_LOG2; k++) {
		/* 2^k is the lower bound of bucket (k - SUB_BITS + 1) * SUB. */
		edge = (k - HIST_SUB_BITS + 1) * HIST_SUB;
		for (; i < edge; i++)
			cum += h->slots[i];
		/* In seconds, exactly: whole ns are nine decimals. */
		le = (1ULL << k) - 1;
		fprintf(f, "%s_bucket{%s%sle=\"%llu.%09llu\"} %llu\n", name,
			labels, sep, (unsigned long long)(le / 1000000000),
			(unsigned long long)(le % 1000000000),
			(unsigned long long)cum);
	}
	for (i = 0; i < HIST_NBUCKETS; i++)
		total += h->slots[i];
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
		(unsigned long long)total);
	fprintf(f, "%s_sum{%s} %.9f\n", name, labels,
		(double)h->sum_ns / 1e9);
	fprintf(f, "%s_count{%s} %llu\n", name, labels,
		(unsigned long long)total);
	return ferror(f) ? -EIO : 0;
}

int hist_prom_escape(const char *in, char *out, size_t len)
{
	size_t o = 0;
	const char *esc;

	for (; *in; in++) {
		esc = NULL;
		if (*in == '\\')
			esc = "\\\\";
		else if (*in == '"')
			esc = "\\\"";
		else if (*in == '\n')
			esc = "\\n";
		if (esc) {
			if (o + 2 >= len)
				return -ENOSPC;
			out[o++] = esc[0];
			out[o++] = esc[1];
		} else {
			if (o + 1 >= len)
				return -ENOSPC;
			out[o++] = *in;
		}
	}
	if (o >= len)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

void hist_print_text(FILE *f, const struct hist *h, unsigned int width)
{
	unsigned int i, j, stars;
	int first = -1, last = -1;
	uint64_t peak = 0;

	for (i = 0; i < HIST_NBUCKETS; i++) {
		if (!h->slots[i])
			continue;
		if (first < 0)
			first = (int)i;
		last = (int)i;
		if (h->slots[i] > peak)
			peak = h->slots[i];
	}
	if (first < 0) {
		fprintf(f, "      (no samples)\n");
		return;
	}
	fprintf(f, "%26s : %-10s distribution\n", "usecs", "count");
	for (i = (unsigned int)first; i <= (unsigned int)last; i++) {
		/* With eight buckets per power of two, long empty stretches
		 * between outliers would drown the shape: fold them. */
		for (j = i; j <= (unsigned int)last && !h->slots[j]; j++)
			;
		if (j - i >= 3) {
			fprintf(f, "%12.3f -> %-10.3f : 0          (%u empty "
				"buckets)\n", hist_bucket_lo(i) / 1000.0,
				hist_bucket_hi(j - 1) / 1000.0, j - i);
			i = j - 1;
			continue;
		}
		stars = (unsigned int)((h->slots[i] * width + peak - 1) / peak);
		fprintf(f, "%12.3f -> %-10.3f : %-10llu |",
			hist_bucket_lo(i) / 1000.0, hist_bucket_hi(i) / 1000.0,
			(unsigned long long)h->slots[i]);
		for (j = 0; j < width; j++)
			fputc(j < stars ? '*' : ' ', f);
		fputs("|\n", f);
	}
}
