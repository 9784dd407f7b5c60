/* SPDX-License-Identifier: Apache-2.0 */
#include "iosnap.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static const char *const op_names[BLK_NR_OPS] = {
	[BLK_OP_READ] = "read",
	[BLK_OP_WRITE] = "write",
	[BLK_OP_FLUSH] = "flush",
	[BLK_OP_DISCARD] = "discard",
	[BLK_OP_OTHER] = "other",
};

const char *iosnap_op_name(unsigned int op)
{
	return op < BLK_NR_OPS ? op_names[op] : "?";
}

void iosnap_init(struct iosnap *s)
{
	memset(s, 0, sizeof(*s));
}

void iosnap_release(struct iosnap *s)
{
	free(s->rows);
	iosnap_init(s);
}

static struct iosnap_row *find_row(const struct iosnap *s, unsigned int major,
				   unsigned int minor, unsigned int op)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->rows[i].major == major && s->rows[i].minor == minor &&
		    s->rows[i].op == op)
			return &s->rows[i];
	return NULL;
}

static struct iosnap_row *new_row(struct iosnap *s)
{
	if (report_grow((void **)&s->rows, s->n, &s->cap, sizeof(s->rows[0])))
		return NULL;
	memset(&s->rows[s->n], 0, sizeof(s->rows[0]));
	return &s->rows[s->n++];
}

int iosnap_add(struct iosnap *s, const struct blk_key *k, const void *vals,
	       unsigned int ncpu, size_t stride)
{
	const struct blk_stats *v;
	struct iosnap_row *r;
	unsigned int c;

	r = find_row(s, k->major, k->minor, k->op);
	if (!r) {
		r = new_row(s);
		if (!r)
			return -ENOMEM;
		r->major = k->major;
		r->minor = k->minor;
		r->op = k->op;
	}
	for (c = 0; c < ncpu; c++) {
		v = (const void *)((const char *)vals + c * stride);
		r->count += v->count;
		r->bytes += v->bytes;
		r->errors += v->errors;
		r->untimed += v->untimed;
		hist_merge(&r->queue, &v->queue);
		hist_merge(&r->service, &v->service);
		hist_merge(&r->total, &v->total);
	}
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct iosnap_row *x = a, *y = b;

	if (x->major != y->major)
		return x->major < y->major ? -1 : 1;
	if (x->minor != y->minor)
		return x->minor < y->minor ? -1 : 1;
	if (x->op != y->op)
		return x->op < y->op ? -1 : 1;
	return 0;
}

int iosnap_diff(struct iosnap *out, const struct iosnap *now,
		const struct iosnap *before)
{
	static const struct iosnap_row zero;
	const struct iosnap_row *a, *b;
	struct iosnap_row *r;
	size_t i;

	iosnap_release(out);
	for (i = 0; i < now->n; i++) {
		a = &now->rows[i];
		b = find_row(before, a->major, a->minor, a->op);
		if (!b)
			b = &zero;
		/* A key that was re-created in between reads as smaller:
		 * sub0 and hist_diff count it from zero. */
		if (a->count == b->count)
			continue;
		r = new_row(out);
		if (!r) {
			iosnap_release(out);
			return -ENOMEM;
		}
		*r = *a;
		r->count = report_sub0(a->count, b->count);
		r->bytes = report_sub0(a->bytes, b->bytes);
		r->errors = report_sub0(a->errors, b->errors);
		r->untimed = report_sub0(a->untimed, b->untimed);
		hist_diff(&r->queue, &a->queue, &b->queue);
		hist_diff(&r->service, &a->service, &b->service);
		hist_diff(&r->total, &a->total, &b->total);
	}
	out->ts_ns = report_sub0(now->ts_ns, before->ts_ns);
	out->events_dropped = report_sub0(now->events_dropped,
					  before->events_dropped);
	out->start_failed = report_sub0(now->start_failed,
					before->start_failed);
	out->stats_failed = report_sub0(now->stats_failed,
					before->stats_failed);
	out->prog_misses = report_sub0(now->prog_misses, before->prog_misses);
	if (out->n)
		qsort(out->rows, out->n, sizeof(out->rows[0]), row_cmp);
	return 0;
}

int iosnap_copy(struct iosnap *out, const struct iosnap *s)
{
	iosnap_release(out);
	*out = *s;
	out->rows = NULL;
	out->n = out->cap = 0;
	if (!s->n)
		return 0;
	out->rows = malloc(s->n * sizeof(s->rows[0]));
	if (!out->rows) {
		iosnap_init(out);
		return -ENOMEM;
	}
	memcpy(out->rows, s->rows, s->n * sizeof(s->rows[0]));
	out->n = out->cap = s->n;
	qsort(out->rows, out->n, sizeof(out->rows[0]), row_cmp);
	return 0;
}

void iosnap_filter(struct iosnap *s, const unsigned int (*devs)[2],
		   size_t ndev)
{
	size_t i, j, o = 0;

	if (!ndev)
		return;
	for (i = 0; i < s->n; i++) {
		for (j = 0; j < ndev; j++)
			if (s->rows[i].major == devs[j][0] &&
			    s->rows[i].minor == devs[j][1])
				break;
		if (j == ndev)
			continue;
		if (o != i)
			s->rows[o] = s->rows[i];
		o++;
	}
	s->n = o;
}

void iosnap_name_devices(struct iosnap *s, const char *sysfs)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		blkdev_name(sysfs, s->rows[i].major, s->rows[i].minor,
			    s->rows[i].dev, sizeof(s->rows[i].dev));
}

static const char *const stage_names[3] = { "queue", "service", "total" };

static const struct hist *stage(const struct iosnap_row *r, unsigned int i)
{
	return i == 0 ? &r->queue : i == 1 ? &r->service : &r->total;
}

int iosnap_print_text(FILE *f, const struct iosnap *d,
		      const struct report_fmt *fmt)
{
	const struct iosnap_row *r;
	double secs = fmt->interval_s > 0 ? fmt->interval_s : 1;
	unsigned int s;
	size_t i;

	if (!d->n)
		fprintf(f, "no block I/O in %.1f s\n", fmt->interval_s);
	for (i = 0; i < d->n; i++) {
		r = &d->rows[i];
		fprintf(f, "%s %s: %llu I/Os, %.1f IOPS, %llu bytes, %.2f MB/s, "
			"%llu errors",
			r->dev, iosnap_op_name(r->op),
			(unsigned long long)r->count, (double)r->count / secs,
			(unsigned long long)r->bytes,
			(double)r->bytes / secs / 1e6,
			(unsigned long long)r->errors);
		if (r->untimed)
			fprintf(f, ", %llu untimed",
				(unsigned long long)r->untimed);
		fputc('\n', f);
		report_pct_header(f, "usecs", fmt->pcts, fmt->npcts);
		for (s = 0; s < 3; s++)
			report_pct_row(f, stage_names[s], stage(r, s),
				       fmt->pcts, fmt->npcts);
		if (fmt->hist_width) {
			fprintf(f, "  total latency:\n");
			hist_print_text(f, &r->total, fmt->hist_width);
		}
		fputc('\n', f);
	}
	fprintf(f, "lost: %llu slow-I/O events dropped, %llu untimed "
		"(start map full), %llu uncounted (stats map full), "
		"%llu recursion misses\n",
		(unsigned long long)d->events_dropped,
		(unsigned long long)d->start_failed,
		(unsigned long long)d->stats_failed,
		(unsigned long long)d->prog_misses);
	return ferror(f) ? -EIO : 0;
}

static int row_json(struct json_object *arr, const struct iosnap_row *r,
		    const struct report_fmt *fmt)
{
	double secs = fmt->interval_s > 0 ? fmt->interval_s : 1;
	struct json_object *o;
	unsigned int s;
	int err;

	o = json_object_new_object();
	err = hist_json_append(arr, o);	/* arr owns o from here */
	err = err ?: hist_json_add(o, "device",
				   json_object_new_string(r->dev));
	err = err ?: hist_json_add(o, "major", json_object_new_int(r->major));
	err = err ?: hist_json_add(o, "minor", json_object_new_int(r->minor));
	err = err ?: hist_json_add(o, "op",
			json_object_new_string(iosnap_op_name(r->op)));
	err = err ?: report_json_u64(o, "count", r->count);
	err = err ?: hist_json_add(o, "iops",
			report_json_fixed((double)r->count / secs, 1));
	err = err ?: report_json_u64(o, "bytes", r->bytes);
	err = err ?: hist_json_add(o, "mb_per_s",
			report_json_fixed((double)r->bytes / secs / 1e6, 3));
	err = err ?: report_json_u64(o, "errors", r->errors);
	err = err ?: report_json_u64(o, "untimed", r->untimed);
	for (s = 3; s-- > 0 && !err;)	/* total first, as documented */
		err = hist_json_add(o, stage_names[s],
				    hist_to_json(stage(r, s), fmt->pcts,
						 fmt->npcts));
	return err;
}

/* The loss counters by name, as JSON and Prometheus show them. */
#define NR_LOST 4

static void lost_counts(const struct iosnap *s, struct report_count *c)
{
	c[0] = (struct report_count){ "events_dropped", s->events_dropped };
	c[1] = (struct report_count){ "start_failed", s->start_failed };
	c[2] = (struct report_count){ "stats_failed", s->stats_failed };
	c[3] = (struct report_count){ "prog_misses", s->prog_misses };
}

struct json_object *iosnap_to_json(const struct iosnap *d,
				   const struct report_fmt *fmt)
{
	struct report_count lost[NR_LOST];
	struct json_object *o, *arr;
	size_t i;
	int err;

	o = report_json_new(fmt);
	if (!o)
		return NULL;
	arr = json_object_new_array();
	err = hist_json_add(o, "devices", arr);
	for (i = 0; i < d->n && !err; i++)
		err = row_json(arr, &d->rows[i], fmt);
	lost_counts(d, lost);
	err = err ?: report_json_counts(o, "lost", lost, NR_LOST);
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

#define PROM_LAT "tapestry_block_io_latency_seconds"

static int row_labels(const struct iosnap_row *r, char *buf, size_t len)
{
	char dev[2 * BLKDEV_NAME_MAX];
	int n;

	if (hist_prom_escape(r->dev, dev, sizeof(dev)))
		return -ENOSPC;
	n = snprintf(buf, len, "device=\"%s\",op=\"%s\"", dev,
		     iosnap_op_name(r->op));
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

static int prom_counter(FILE *f, const struct iosnap *s, const char *name,
			const char *help, size_t field)
{
	char labels[128];
	uint64_t v;
	size_t i;

	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (i = 0; i < s->n; i++) {
		if (row_labels(&s->rows[i], labels, sizeof(labels)))
			return -ENOSPC;
		memcpy(&v, (const char *)&s->rows[i] + field, sizeof(v));
		fprintf(f, "%s{%s} %llu\n", name, labels,
			(unsigned long long)v);
	}
	return ferror(f) ? -EIO : 0;
}

int iosnap_print_prom(FILE *f, const struct iosnap *s)
{
	struct report_count lost[NR_LOST];
	char labels[160], base[128];
	unsigned int st;
	size_t i;
	int err;

	err = hist_prom_header(f, PROM_LAT, "Block I/O latency by device, "
			       "operation and stage (queue: insert to issue, "
			       "service: issue to completion, total).");
	for (i = 0; i < s->n && !err; i++) {
		err = row_labels(&s->rows[i], base, sizeof(base));
		for (st = 0; st < 3 && !err; st++) {
			snprintf(labels, sizeof(labels), "%s,stage=\"%s\"",
				 base, stage_names[st]);
			err = hist_prom_series(f, PROM_LAT, labels,
					       stage(&s->rows[i], st));
		}
	}
	err = err ?: prom_counter(f, s, "tapestry_block_io_requests_total",
			"Block I/O requests completed.",
			offsetof(struct iosnap_row, count));
	err = err ?: prom_counter(f, s, "tapestry_block_io_bytes_total",
			"Bytes completed by block I/O requests.",
			offsetof(struct iosnap_row, bytes));
	err = err ?: prom_counter(f, s, "tapestry_block_io_errors_total",
			"Block I/O requests completed with an error.",
			offsetof(struct iosnap_row, errors));
	err = err ?: prom_counter(f, s, "tapestry_block_io_untimed_total",
			"Completions counted but not timed (issue not seen).",
			offsetof(struct iosnap_row, untimed));
	if (err)
		return err;
	lost_counts(s, lost);
	return report_prom_counts(f, "tapestry_block_trace_lost_total",
				  "Things the block tracer could not record.",
				  lost, NR_LOST);
}
