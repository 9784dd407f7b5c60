/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hist: reading, combining and rendering the log-linear latency histograms
 * of include/abi/hist.h.  The same struct is filled by BPF programs (one per
 * CPU) and by user space timing its own requests.
 *
 * Nothing here allocates except the JSON renderer, and nothing fails except
 * through its return value.
 */
#ifndef TAPESTRY_HIST_H
#define TAPESTRY_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "abi/hist.h"

struct json_object;

#define HIST_MAX_PCTS 16

void hist_reset(struct hist *h);

/* Add one sample of ns nanoseconds. */
void hist_record(struct hist *h, uint64_t ns);

/* Lower (inclusive) and upper (exclusive) bound of bucket i, in ns.  The
 * last bucket's upper bound is reported as 2^HIST_MAX_LOG2 although it also
 * holds larger values; max_ns says how far it really goes. */
uint64_t hist_bucket_lo(unsigned int i);
uint64_t hist_bucket_hi(unsigned int i);

/* dst += src, bucket by bucket; dst->max_ns becomes the larger max.  Used to
 * fold per-CPU copies together and to sum over devices. */
void hist_merge(struct hist *dst, const struct hist *src);

/* out = now - before, for two snapshots of one cumulative histogram.  A
 * bucket that went backwards (a map recreated between the snapshots) counts
 * as zero.  The max of an interval is not recorded anywhere; it is
 * estimated as the upper bound of the highest non-empty bucket of the
 * difference, capped at now->max_ns.  out may alias neither input. */
void hist_diff(struct hist *out, const struct hist *now,
	       const struct hist *before);

/* The pct-th percentile (0 < pct <= 100) in ns, interpolated linearly inside
 * the bucket that holds it and capped at max_ns.  0 for an empty
 * histogram. */
double hist_percentile(const struct hist *h, double pct);

/* Parse "50,90,99,99.9" into out[] (at most max values).  Refuses empty
 * items, values outside (0, 100], more than max values, and anything that is
 * not a number.  Returns the count, or -EINVAL; out is then unspecified. */
int hist_parse_percentiles(const char *s, double *out, unsigned int max);

/* The key a percentile gets in reports: 50 -> "p50", 99.9 -> "p999",
 * 99.99 -> "p9999", 12.5 -> "p125".  Returns -ENOSPC if buf is too small. */
int hist_pct_name(double pct, char *buf, size_t len);

/* Add v to object o under key (hist_json_add) or at the end of array arr
 * (hist_json_append), taking v either way: on failure v is freed.  A NULL
 * v, as a failed json_object_new_*() returns, is -ENOMEM.  For
 * hist_to_json() and for callers that build their output around it.
 * Return 0 or -ENOMEM. */
int hist_json_add(struct json_object *o, const char *key,
		  struct json_object *v);
int hist_json_append(struct json_object *arr, struct json_object *v);

/* {"p50_us":..., <one per pct>, "max_us":..., "count":..., "sum_us":...,
 *  "buckets":[{"le_us":<upper bound>,"count":<samples in this bucket>}]}
 * Only non-empty buckets are listed; counts are per bucket, not cumulative.
 * Returns a new object the caller owns, or NULL when out of memory. */
struct json_object *hist_to_json(const struct hist *h, const double *pcts,
				 unsigned int npcts);

/* Prometheus text exposition.  hist_prom_header writes the HELP and TYPE
 * lines of a histogram family once; hist_prom_series writes one labelled
 * series: cumulative _bucket lines, one per power of two 2^k ns from 2^10
 * (1.024 us) to 2^(HIST_MAX_LOG2 - 1), then +Inf, then _sum in seconds and
 * _count.  Each 2^k is a bucket edge, so the count of samples below it is
 * exact; samples are whole nanoseconds, so that is the count of samples of
 * at most 2^k - 1 ns, and le says just that, exactly, in seconds with nine
 * decimals: le="0.000001023" counts samples <= 1023 ns.  labels is the
 * inside of the braces, e.g. device="loop0",op="write", already escaped;
 * it may be empty.
 * Return 0 or -EIO if the stream failed. */
int hist_prom_header(FILE *f, const char *name, const char *help);
int hist_prom_series(FILE *f, const char *name, const char *labels,
		     const struct hist *h);

/* Escape a label value for the exposition format (\\, \", \n).  Returns
 * -ENOSPC if it does not fit. */
int hist_prom_escape(const char *in, char *out, size_t len);

/* A text histogram in the manner of biolatency, over the non-empty range
 * of buckets, in microseconds, with a bar of up to width stars.  Three or
 * more empty buckets in a row are folded into one line. */
void hist_print_text(FILE *f, const struct hist *h, unsigned int width);

#endif /* TAPESTRY_HIST_H */
