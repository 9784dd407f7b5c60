/* SPDX-License-Identifier: Apache-2.0 */
#include "zonesnap.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "abi/udata.h"
#include "report.h"

const char *zonesnap_op_name(unsigned int op)
{
	switch (op) {
	case UD_OP_NONE: return "none";
	case UD_OP_READ: return "read";
	case UD_OP_WRITE: return "write";
	case UD_OP_FLUSH: return "flush";
	case UD_OP_TRIM: return "trim";
	case UD_OP_ZERO: return "zero";
	case UD_OP_RESYNC: return "resync";
	default: return "other";
	}
}

void zonesnap_init(struct zonesnap *s)
{
	memset(s, 0, sizeof(*s));
}

void zonesnap_release(struct zonesnap *s)
{
	free(s->rows);
	free(s->rtts);
	zonesnap_init(s);
}

static struct zonesnap_row *find_row(const struct zonesnap *s,
				     unsigned int zone, unsigned int op)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->rows[i].zone == zone && s->rows[i].op == op)
			return &s->rows[i];
	return NULL;
}

static struct zonesnap_rtt *find_rtt(const struct zonesnap *s,
				     unsigned int zone)
{
	size_t i;

	for (i = 0; i < s->nrtt; i++)
		if (s->rtts[i].zone == zone)
			return &s->rtts[i];
	return NULL;
}

static struct zonesnap_row *add_row(struct zonesnap *s, unsigned int zone,
				    unsigned int op)
{
	struct zonesnap_row *r;

	if (report_grow((void **)&s->rows, s->n, &s->cap, sizeof(*r)))
		return NULL;
	r = &s->rows[s->n++];
	memset(r, 0, sizeof(*r));
	r->zone = zone;
	r->op = op;
	return r;
}

static struct zonesnap_rtt *add_rtt(struct zonesnap *s, unsigned int zone)
{
	struct zonesnap_rtt *r;

	if (report_grow((void **)&s->rtts, s->nrtt, &s->caprtt, sizeof(*r)))
		return NULL;
	r = &s->rtts[s->nrtt++];
	memset(r, 0, sizeof(*r));
	r->zone = zone;
	return r;
}

int zonesnap_add(struct zonesnap *s, const struct zone_key *k,
		 const void *vals, unsigned int ncpu, size_t stride)
{
	const struct zone_stats *v;
	struct zonesnap_row *r;
	unsigned int c;

	r = find_row(s, k->zone, k->op);
	if (!r)
		r = add_row(s, k->zone, k->op);
	if (!r)
		return -ENOMEM;
	for (c = 0; c < ncpu; c++) {
		v = (const void *)((const char *)vals + c * stride);
		r->count += v->count;
		r->errors += v->errors;
		hist_merge(&r->lat, &v->lat);
	}
	return 0;
}

int zonesnap_add_rtt(struct zonesnap *s, unsigned int zone, const void *vals,
		     unsigned int ncpu, size_t stride)
{
	struct zonesnap_rtt *r;
	unsigned int c;

	r = find_rtt(s, zone);
	if (!r)
		r = add_rtt(s, zone);
	if (!r)
		return -ENOMEM;
	for (c = 0; c < ncpu; c++)
		hist_merge(&r->rtt, (const void *)((const char *)vals +
						   c * stride));
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct zonesnap_row *x = a, *y = b;

	if (x->zone != y->zone)
		return x->zone < y->zone ? -1 : 1;
	return x->op < y->op ? -1 : x->op > y->op;
}

static int rtt_cmp(const void *a, const void *b)
{
	const struct zonesnap_rtt *x = a, *y = b;

	return x->zone < y->zone ? -1 : x->zone > y->zone;
}

static void sort(struct zonesnap *s)
{
	if (s->n)
		qsort(s->rows, s->n, sizeof(s->rows[0]), row_cmp);
	if (s->nrtt)
		qsort(s->rtts, s->nrtt, sizeof(s->rtts[0]), rtt_cmp);
}

static int diff_rows(struct zonesnap *out, const struct zonesnap *now,
		     const struct zonesnap *before)
{
	static const struct zonesnap_row zero;
	const struct zonesnap_row *a, *b;
	struct zonesnap_row *r;
	size_t i;

	for (i = 0; i < now->n; i++) {
		a = &now->rows[i];
		b = find_row(before, a->zone, a->op);
		if (!b)
			b = &zero;
		if (a->count == b->count)
			continue;
		r = add_row(out, a->zone, a->op);
		if (!r)
			return -ENOMEM;
		memcpy(r->name, a->name, sizeof(r->name));
		r->count = report_sub0(a->count, b->count);
		r->errors = report_sub0(a->errors, b->errors);
		hist_diff(&r->lat, &a->lat, &b->lat);
	}
	return 0;
}

static int diff_rtts(struct zonesnap *out, const struct zonesnap *now,
		     const struct zonesnap *before)
{
	static const struct zonesnap_rtt zero;
	const struct zonesnap_rtt *a, *b;
	struct zonesnap_rtt *r;
	size_t i;

	for (i = 0; i < now->nrtt; i++) {
		a = &now->rtts[i];
		b = find_rtt(before, a->zone);
		if (!b)
			b = &zero;
		if (a->rtt.count == b->rtt.count)
			continue;
		r = add_rtt(out, a->zone);
		if (!r)
			return -ENOMEM;
		memcpy(r->name, a->name, sizeof(r->name));
		hist_diff(&r->rtt, &a->rtt, &b->rtt);
	}
	return 0;
}

int zonesnap_diff(struct zonesnap *out, const struct zonesnap *now,
		  const struct zonesnap *before)
{
	zonesnap_release(out);
	if (diff_rows(out, now, before) || diff_rtts(out, now, before)) {
		zonesnap_release(out);
		return -ENOMEM;
	}
	out->ts_ns = report_sub0(now->ts_ns, before->ts_ns);
	out->inflight_failed = report_sub0(now->inflight_failed,
					   before->inflight_failed);
	out->unmatched_ends = report_sub0(now->unmatched_ends,
					  before->unmatched_ends);
	out->stats_failed = report_sub0(now->stats_failed,
					before->stats_failed);
	out->rtt_failed = report_sub0(now->rtt_failed, before->rtt_failed);
	sort(out);
	return 0;
}

int zonesnap_copy(struct zonesnap *out, const struct zonesnap *s)
{
	zonesnap_release(out);
	*out = *s;
	out->rows = NULL;
	out->rtts = NULL;
	out->n = out->cap = out->nrtt = out->caprtt = 0;
	if (s->n) {
		out->rows = malloc(s->n * sizeof(s->rows[0]));
		if (!out->rows)
			goto err;
		memcpy(out->rows, s->rows, s->n * sizeof(s->rows[0]));
		out->n = out->cap = s->n;
	}
	if (s->nrtt) {
		out->rtts = malloc(s->nrtt * sizeof(s->rtts[0]));
		if (!out->rtts)
			goto err;
		memcpy(out->rtts, s->rtts, s->nrtt * sizeof(s->rtts[0]));
		out->nrtt = out->caprtt = s->nrtt;
	}
	sort(out);
	return 0;
err:
	zonesnap_release(out);
	return -ENOMEM;
}

static void name_one(char *buf, unsigned int id,
		     int (*namer)(unsigned int, char *, size_t, void *),
		     void *arg)
{
	if (!namer || namer(id, buf, ZONE_NAME_LEN, arg))
		snprintf(buf, ZONE_NAME_LEN, "zone-%u", id);
}

void zonesnap_name_zones(struct zonesnap *s,
			 int (*namer)(unsigned int id, char *buf, size_t len,
				      void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		name_one(s->rows[i].name, s->rows[i].zone, namer, arg);
	for (i = 0; i < s->nrtt; i++)
		name_one(s->rtts[i].name, s->rtts[i].zone, namer, arg);
}

int zonesnap_print_text(FILE *f, const struct zonesnap *d,
			const struct report_fmt *fmt)
{
	double secs = fmt->interval_s > 0 ? fmt->interval_s : 1;
	const struct zonesnap_row *r;
	size_t i;

	if (!d->n)
		fprintf(f, "no replica requests in %.1f s\n", fmt->interval_s);
	for (i = 0; i < d->n; i++) {
		r = &d->rows[i];
		fprintf(f, "zone %s (%u) %s: %llu requests, %.1f/s, %llu "
			"errors\n", r->name, r->zone, zonesnap_op_name(r->op),
			(unsigned long long)r->count, (double)r->count / secs,
			(unsigned long long)r->errors);
		report_pct_header(f, "usecs", fmt->pcts, fmt->npcts);
		report_pct_row(f, "latency", &r->lat, fmt->pcts, fmt->npcts);
		if (fmt->hist_width)
			hist_print_text(f, &r->lat, fmt->hist_width);
		fputc('\n', f);
	}
	if (d->nrtt) {
		fprintf(f, "TCP round-trip time to each zone's replica "
			"servers:\n");
		report_pct_header(f, "usecs", fmt->pcts, fmt->npcts);
	}
	for (i = 0; i < d->nrtt; i++)
		report_pct_row(f, d->rtts[i].name, &d->rtts[i].rtt, fmt->pcts,
			       fmt->npcts);
	fprintf(f, "lost: %llu untimed (in-flight map full), %llu ends "
		"without a start, %llu uncounted (stats map full), %llu RTT "
		"samples\n", (unsigned long long)d->inflight_failed,
		(unsigned long long)d->unmatched_ends,
		(unsigned long long)d->stats_failed,
		(unsigned long long)d->rtt_failed);
	return ferror(f) ? -EIO : 0;
}

static int row_json(struct json_object *arr, const struct zonesnap_row *r,
		    const struct report_fmt *fmt)
{
	double secs = fmt->interval_s > 0 ? fmt->interval_s : 1;
	struct json_object *o = json_object_new_object();
	int err = hist_json_append(arr, o);	/* arr owns o from here */

	err = err ?: hist_json_add(o, "zone", json_object_new_string(r->name));
	err = err ?: hist_json_add(o, "zone_id", json_object_new_int(r->zone));
	err = err ?: hist_json_add(o, "op",
			json_object_new_string(zonesnap_op_name(r->op)));
	err = err ?: report_json_u64(o, "count", r->count);
	err = err ?: hist_json_add(o, "per_s",
			report_json_fixed((double)r->count / secs, 1));
	err = err ?: report_json_u64(o, "errors", r->errors);
	err = err ?: hist_json_add(o, "latency",
			hist_to_json(&r->lat, fmt->pcts, fmt->npcts));
	return err;
}

static int rtt_json(struct json_object *arr, const struct zonesnap_rtt *r,
		    const struct report_fmt *fmt)
{
	struct json_object *o = json_object_new_object();
	int err = hist_json_append(arr, o);	/* arr owns o from here */

	err = err ?: hist_json_add(o, "zone", json_object_new_string(r->name));
	err = err ?: hist_json_add(o, "zone_id", json_object_new_int(r->zone));
	err = err ?: hist_json_add(o, "rtt",
			hist_to_json(&r->rtt, fmt->pcts, fmt->npcts));
	return err;
}

/* The loss counters by name, as JSON and Prometheus show them. */
#define NR_LOST 4

static void lost_counts(const struct zonesnap *s, struct report_count *c)
{
	c[0] = (struct report_count){ "inflight_failed", s->inflight_failed };
	c[1] = (struct report_count){ "unmatched_ends", s->unmatched_ends };
	c[2] = (struct report_count){ "stats_failed", s->stats_failed };
	c[3] = (struct report_count){ "rtt_failed", s->rtt_failed };
}

struct json_object *zonesnap_to_json(const struct zonesnap *d,
				     const struct report_fmt *fmt)
{
	struct json_object *o, *zones, *rtt = NULL;
	struct report_count lost[NR_LOST];
	size_t i;
	int err;

	o = report_json_new(fmt);
	if (!o)
		return NULL;
	zones = json_object_new_array();
	err = hist_json_add(o, "zones", zones);
	for (i = 0; i < d->n && !err; i++)
		err = row_json(zones, &d->rows[i], fmt);
	if (!err)
		rtt = json_object_new_array();
	err = err ?: hist_json_add(o, "rtt", rtt);
	for (i = 0; i < d->nrtt && !err; i++)
		err = rtt_json(rtt, &d->rtts[i], fmt);
	lost_counts(d, lost);
	err = err ?: report_json_counts(o, "lost", lost, NR_LOST);
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

#define PROM_LAT "tapestry_zone_latency_seconds"
#define PROM_RTT "tapestry_zone_rtt_seconds"

static int zone_label(const char *name, char *buf, size_t len)
{
	char esc[2 * ZONE_NAME_LEN];
	int n;

	if (hist_prom_escape(name, esc, sizeof(esc)))
		return -ENOSPC;
	n = snprintf(buf, len, "zone=\"%s\"", esc);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

static int prom_rows(FILE *f, const struct zonesnap *s)
{
	char zl[160], labels[192];
	size_t i;
	int err;

	err = hist_prom_header(f, PROM_LAT, "Replica request latency by "
			       "availability zone and operation.");
	for (i = 0; i < s->n && !err; i++) {
		err = zone_label(s->rows[i].name, zl, sizeof(zl));
		snprintf(labels, sizeof(labels), "%s,op=\"%s\"", zl,
			 zonesnap_op_name(s->rows[i].op));
		err = err ?: hist_prom_series(f, PROM_LAT, labels,
					      &s->rows[i].lat);
	}
	if (err)
		return err;
	fprintf(f, "# HELP tapestry_zone_requests_total Replica requests "
		"ended, by zone and operation.\n"
		"# TYPE tapestry_zone_requests_total counter\n");
	for (i = 0; i < s->n; i++) {
		zone_label(s->rows[i].name, zl, sizeof(zl));
		fprintf(f, "tapestry_zone_requests_total{%s,op=\"%s\"} %llu\n",
			zl, zonesnap_op_name(s->rows[i].op),
			(unsigned long long)s->rows[i].count);
	}
	fprintf(f, "# HELP tapestry_zone_errors_total Replica requests that "
		"failed, by zone and operation.\n"
		"# TYPE tapestry_zone_errors_total counter\n");
	for (i = 0; i < s->n; i++) {
		zone_label(s->rows[i].name, zl, sizeof(zl));
		fprintf(f, "tapestry_zone_errors_total{%s,op=\"%s\"} %llu\n",
			zl, zonesnap_op_name(s->rows[i].op),
			(unsigned long long)s->rows[i].errors);
	}
	return ferror(f) ? -EIO : 0;
}

int zonesnap_print_prom(FILE *f, const struct zonesnap *s)
{
	struct report_count lost[NR_LOST];
	char zl[160];
	size_t i;
	int err;

	err = prom_rows(f, s);
	err = err ?: hist_prom_header(f, PROM_RTT, "Smoothed TCP round-trip "
				      "time to the replica servers of each "
				      "zone, one sample per segment received.");
	for (i = 0; i < s->nrtt && !err; i++) {
		err = zone_label(s->rtts[i].name, zl, sizeof(zl));
		err = err ?: hist_prom_series(f, PROM_RTT, zl, &s->rtts[i].rtt);
	}
	if (err)
		return err;
	lost_counts(s, lost);
	return report_prom_counts(f, "tapestry_zone_trace_lost_total",
				  "Things the zone tracer could not record.",
				  lost, NR_LOST);
}
