/* SPDX-License-Identifier: Apache-2.0 */
#include "bench_volume.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "log.h"
#include "uloop.h"
#include "volcheck.h"

enum { MODE_WORK, MODE_CHECK, MODE_DUMP };

struct bv;

struct bv_job {
	struct bv *b;
	bool busy, write;
	uint64_t off;
	uint32_t len;
	uint64_t id;
	uint64_t t0;
	struct uloop_buf *rbuf;
};

struct bv {
	const struct bv_opts *o;
	struct engine_opts eo;
	int mode;
	enum bv_rw rw;
	uint32_t bs;
	unsigned int qd, inflight;
	struct uloop *loop;
	struct engine *e;
	struct bv_job *jobs;
	uint64_t size, issued, limit, seq_cursor, rng, next_id;
	uint64_t t_start, t_end, t_deadline, t_status;
	struct hist wlat, rlat;
	uint64_t nw, nr, werr, rerr, bad, wbytes, rbytes, started;
	int logfd, reffd, dumpfd;
	bool log_failed;	/* a record is missing: the log is not whole */
	uint64_t *expect;
	void *scratch;
	struct vc_check *chk;
	struct json_object *events;
	enum engine_replica_state last[ENGINE_MAX_REPLICAS];
	bool flushed;
	int flush_res;
	double flush_ms, cpu_s;
	/* --flush-interval: flushes during the run, one at a time */
	bool pflush_out;
	uint64_t t_next_flush, t_pflush, pflushes, pflush_errors;
	struct hist flat;
	struct rusage ru0;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(struct bv *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

static int log_rec(struct bv *b, uint32_t type, const struct bv_job *j)
{
	struct vc_rec r = {
		.type = type, .len = j->len, .off = j->off, .id = j->id,
		.t_ns = real_ns(),
	};

	if (b->logfd < 0)
		return 0;
	if (write(b->logfd, &r, sizeof(r)) != (ssize_t)sizeof(r)) {
		log_err("bench-volume: cannot append to the log");
		b->log_failed = true;
		*(volatile sig_atomic_t *)b->o->stop = 1;
		return -EIO;
	}
	return 0;
}

static void read_done(struct bv *b, struct bv_job *j)
{
	const uint8_t *p = j->rbuf->base;
	uint32_t i;

	for (i = 0; i < j->len; i += VC_BLOCK) {
		uint64_t off = j->off + i;

		if (b->mode == MODE_CHECK) {
			if (!vc_check_block(b->chk, p + i, off))
				b->bad++;
		} else if (b->expect && b->expect[off / VC_BLOCK] &&
			   vc_block_id(p + i, off) != b->expect[off / VC_BLOCK]) {
			if (b->bad++ < 10)
				log_err("verify: block %llu: not the last "
					"acked write",
					(unsigned long long)(off / VC_BLOCK));
		}
	}
	/* --dump, alone or with --check-log: the same read-back */
	if (b->dumpfd >= 0 &&
	    pwrite(b->dumpfd, p, j->len, (off_t)j->off) != (ssize_t)j->len)
		b->rerr++;
}

static void write_done(struct bv *b, struct bv_job *j)
{
	uint32_t i;

	if (b->reffd >= 0) {
		vc_fill(b->scratch, j->off, j->len, j->id);
		if (pwrite(b->reffd, b->scratch, j->len, (off_t)j->off) !=
		    (ssize_t)j->len)
			b->werr++;
	}
	if (b->expect)
		for (i = 0; i < j->len; i += VC_BLOCK)
			b->expect[(j->off + i) / VC_BLOCK] = j->id;
}

static void job_done(void *arg, int res)
{
	struct bv_job *j = arg;
	struct bv *b = j->b;
	uint64_t lat = mono_ns() - j->t0;

	if (j->write) {
		log_rec(b, res ? VC_FAIL : VC_ACK, j);
		if (res) {
			b->werr++;
		} else {
			b->nw++;
			b->wbytes += j->len;
			hist_record(&b->wlat, lat);
			write_done(b, j);
		}
	} else if (res) {
		b->rerr++;
	} else {
		b->nr++;
		b->rbytes += j->len;
		hist_record(&b->rlat, lat);
		read_done(b, j);
	}
	if (res && (b->werr + b->rerr) <= 3)
		log_warn("bench-volume: %s at %llu: %s",
			 j->write ? "write" : "read",
			 (unsigned long long)j->off, strerror(-res));
	j->busy = false;
	b->inflight--;
}

static bool overlaps_inflight(const struct bv *b, uint64_t off, uint32_t len)
{
	unsigned int i;

	for (i = 0; i < b->qd; i++)
		if (b->jobs[i].busy && b->jobs[i].off < off + len &&
		    off < b->jobs[i].off + b->jobs[i].len)
			return true;
	return false;
}

/* Offset of the next I/O, or false when the workload has none left. */
static bool next_off(struct bv *b, uint64_t *off)
{
	uint64_t nslots = b->size / b->bs;
	unsigned int tries;

	if (b->rw == BV_WRITE || b->rw == BV_READ) {
		if (b->seq_cursor >= b->size) {
			if (b->mode != MODE_WORK)
				return false;
			b->seq_cursor = 0;
		}
		*off = b->seq_cursor;
		b->seq_cursor += b->bs;
		return true;
	}
	for (tries = 0; tries < 16; tries++) {
		*off = (rnd(b) % nslots) * b->bs;
		/* Verify mode never has two overlapping requests out, so
		 * every block's history is a plain sequence. */
		if (!b->o->verify || !overlaps_inflight(b, *off, b->bs))
			return true;
	}
	return false;
}

static bool want_write(struct bv *b)
{
	switch (b->rw) {
	case BV_RANDWRITE:
	case BV_WRITE:
		return true;
	case BV_RANDRW:
		return rnd(b) % 100 >= b->o->rwmix_read;
	default:
		return false;
	}
}

static int submit_write(struct bv *b, struct bv_job *j)
{
	struct uloop_buf *buf;
	int err;

	if (uloop_buf_get(b->loop, j->len, &buf))
		return -EAGAIN;
	if (b->o->verify) {
		j->id = b->next_id++;
		vc_fill(buf->base, j->off, j->len, j->id);
		if (log_rec(b, VC_ISSUE, j)) {
			uloop_buf_put(b->loop, buf);
			return -EIO;
		}
	}
	err = engine_write(b->e, j->off, j->len, buf,
			   b->o->fua ? ENGINE_FUA : 0, job_done, j);
	if (err) {
		uloop_buf_put(b->loop, buf);
		if (b->o->verify)
			log_rec(b, VC_FAIL, j);
	}
	return err;
}

/* Start one job.  -EAGAIN: the engine or the buffer pool is full. */
static int start_job(struct bv *b, struct bv_job *j)
{
	uint64_t off;
	int err;

	if (!next_off(b, &off))
		return -EAGAIN;
	j->off = off;
	j->len = (uint32_t)(b->size - off < b->bs ? b->size - off : b->bs);
	j->write = want_write(b);
	j->t0 = mono_ns();
	j->busy = true;
	if (j->write)
		err = submit_write(b, j);
	else
		err = engine_read(b->e, j->off, j->len, j->rbuf, job_done, j);
	if (err) {
		j->busy = false;
		if (b->rw == BV_WRITE || b->rw == BV_READ)
			b->seq_cursor -= b->bs;
		return err;
	}
	b->inflight++;
	b->started++;
	b->issued += j->len;
	return 0;
}

static bool more_work(const struct bv *b)
{
	if (*b->o->stop)
		return false;
	if (b->t_deadline && mono_ns() >= b->t_deadline)
		return false;
	return !b->limit || b->issued < b->limit;
}

/* Under --rate: whether another request may start now. */
static bool paced_ok(struct bv *b)
{
	double allowed;

	if (b->o->rate <= 0)
		return true;
	allowed = (double)(mono_ns() - b->t_start) / 1e9 * b->o->rate + 1;
	return (double)b->started < allowed;
}

static int fill(struct bv *b)
{
	unsigned int i;
	int err;

	for (i = 0; i < b->qd && more_work(b) && paced_ok(b); i++) {
		if (b->jobs[i].busy)
			continue;
		err = start_job(b, &b->jobs[i]);
		if (err == -EAGAIN)
			return 0;
		if (err) {
			log_err("bench-volume: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

static struct json_object *replica_json(const struct engine *e,
					const struct engine_replica_stats *r,
					unsigned int i)
{
	struct json_object *z = json_object_new_object();
	struct hist h;

	engine_get_zone_hist(e, i, &h);
	json_object_object_add(z, "zone", json_object_new_string(r->zone));
	json_object_object_add(z, "zone_id", json_object_new_int((int)r->zone_id));
	json_object_object_add(z, "local", json_object_new_boolean(r->local));
	json_object_object_add(z, "state", json_object_new_string(
		engine_replica_state_name(r->state)));
	json_object_object_add(z, "count", json_object_new_int64((int64_t)h.count));
	json_object_object_add(z, "p50_us",
			       json_object_new_double(hist_percentile(&h, 50) / 1e3));
	json_object_object_add(z, "p99_us",
			       json_object_new_double(hist_percentile(&h, 99) / 1e3));
	json_object_object_add(z, "p999_us",
			       json_object_new_double(hist_percentile(&h, 99.9) / 1e3));
	json_object_object_add(z, "ewma_us",
			       json_object_new_double((double)r->ewma_ns / 1e3));
	json_object_object_add(z, "writes", json_object_new_int64((int64_t)r->writes));
	json_object_object_add(z, "errors", json_object_new_int64((int64_t)r->errors));
	json_object_object_add(z, "dirty_regions",
			       json_object_new_int64((int64_t)r->dirty_regions));
	json_object_object_add(z, "resync_done",
			       json_object_new_int64((int64_t)r->resync_done));
	json_object_object_add(z, "resync_total",
			       json_object_new_int64((int64_t)r->resync_total));
	json_object_object_add(z, "resync_bytes",
			       json_object_new_int64((int64_t)r->resync_bytes));
	json_object_object_add(z, "resync_bytes_per_s",
			       json_object_new_int64((int64_t)r->resync_bytes_per_s));
	json_object_object_add(z, "resyncs", json_object_new_int64((int64_t)r->resyncs));
	json_object_object_add(z, "lagged", json_object_new_int64((int64_t)r->lagged));
	json_object_object_add(z, "inline_ops", json_object_new_int64((int64_t)r->inline_ops));
	return z;
}

static struct json_object *stats_json(const struct bv *b,
				      const struct engine_stats *st)
{
	struct json_object *o = json_object_new_object();
	struct json_object *zs = json_object_new_array();
	unsigned int i;

	json_object_object_add(o, "in_sync", json_object_new_int((int)st->in_sync));
	json_object_object_add(o, "acked", json_object_new_int64((int64_t)b->nw));
	json_object_object_add(o, "write_errors",
			       json_object_new_int64((int64_t)b->werr));
	for (i = 0; i < st->nr_replicas; i++)
		json_object_array_add(zs, replica_json(b->e, &st->replica[i], i));
	json_object_object_add(o, "zones", zs);
	return o;
}

static void bv_write_status(struct bv *b, const struct engine_stats *st)
{
	struct json_object *o = stats_json(b, st);
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", b->o->status);
	f = fopen(tmp, "w");
	if (f) {
		fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), f);
		fputc('\n', f);
		if (!fclose(f))
			rename(tmp, b->o->status);
	}
	json_object_put(o);
}

static struct json_object *lat_json(const struct hist *h)
{
	static const double pcts[] = { 50, 99, 99.9 };

	return hist_to_json(h, pcts, 3);
}

/* The engine's full per-zone histograms, for comparison with zonetrace's
 * (same bucket scheme). */
static void zone_hists(const struct bv *b, struct json_object *o)
{
	static const double pcts[] = { 50, 90, 99, 99.9 };
	struct json_object *zones;
	struct hist h;
	size_t i;

	if (!json_object_object_get_ex(o, "zones", &zones))
		return;
	for (i = 0; i < json_object_array_length(zones); i++) {
		if (engine_get_zone_hist(b->e, (unsigned int)i, &h))
			break;
		json_object_object_add(json_object_array_get_idx(zones, i),
				       "hist", hist_to_json(&h, pcts, 4));
	}
}

static void report(struct bv *b)
{
	static const char *const rw[] = { "randwrite", "randread", "write",
					  "read", "randrw" };
	double secs = (double)(b->t_end - b->t_start) / 1e9;
	double mb = (double)(b->wbytes + b->rbytes) / 1e6;
	double gbw = (double)b->wbytes / 1e9;
	struct engine_stats st;
	struct json_object *o;

	engine_get_stats(b->e, &st);
	if (secs <= 0)
		secs = 1e-9;
	o = stats_json(b, &st);
	json_object_object_add(o, "rw", json_object_new_string(rw[b->rw]));
	json_object_object_add(o, "bs", json_object_new_int((int)b->bs));
	json_object_object_add(o, "iodepth", json_object_new_int((int)b->qd));
	json_object_object_add(o, "runtime_s", json_object_new_double(secs));
	json_object_object_add(o, "writes", json_object_new_int64((int64_t)b->nw));
	json_object_object_add(o, "reads", json_object_new_int64((int64_t)b->nr));
	json_object_object_add(o, "read_errors", json_object_new_int64((int64_t)b->rerr));
	json_object_object_add(o, "verify_bad", json_object_new_int64((int64_t)b->bad));
	json_object_object_add(o, "iops",
			       json_object_new_double((double)(b->nw + b->nr) / secs));
	json_object_object_add(o, "mb_s", json_object_new_double(mb / secs));
	json_object_object_add(o, "write_lat", lat_json(&b->wlat));
	json_object_object_add(o, "read_lat", lat_json(&b->rlat));
	json_object_object_add(o, "cpu_s", json_object_new_double(b->cpu_s));
	json_object_object_add(o, "cpu_s_per_gb_written",
			       json_object_new_double(gbw > 0 ? b->cpu_s / gbw : 0));
	json_object_object_add(o, "flush_res", json_object_new_int(b->flush_res));
	json_object_object_add(o, "flush_ms", json_object_new_double(b->flush_ms));
	json_object_object_add(o, "flushes", json_object_new_int64((int64_t)b->pflushes));
	json_object_object_add(o, "flush_errors",
			       json_object_new_int64((int64_t)b->pflush_errors));
	json_object_object_add(o, "flush_lat", lat_json(&b->flat));
	json_object_object_add(o, "events", json_object_get(b->events));
	zone_hists(b, o);
	if (b->o->json) {
		printf("%s\n", json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	} else {
		printf("%s bs=%u qd=%u: %.0f IOPS, %.1f MB/s over %.2f s; "
		       "write p50 %.1f us p99 %.1f us; cpu %.2f s\n",
		       rw[b->rw], b->bs, b->qd, (double)(b->nw + b->nr) / secs,
		       mb / secs, secs, hist_percentile(&b->wlat, 50) / 1e3,
		       hist_percentile(&b->wlat, 99) / 1e3, b->cpu_s);
		printf("errors: %llu write, %llu read, %llu verify; %u/%u in sync\n",
		       (unsigned long long)b->werr, (unsigned long long)b->rerr,
		       (unsigned long long)b->bad, st.in_sync, st.nr_replicas);
	}
	json_object_put(o);
}

static void watch(struct bv *b)
{
	struct engine_stats st;
	uint64_t now = mono_ns();
	unsigned int i;

	engine_get_stats(b->e, &st);
	for (i = 0; i < st.nr_replicas; i++) {
		struct json_object *ev;

		if (st.replica[i].state == b->last[i])
			continue;
		b->last[i] = st.replica[i].state;
		ev = json_object_new_object();
		json_object_object_add(ev, "t_ns",
				       json_object_new_int64((int64_t)real_ns()));
		json_object_object_add(ev, "zone",
				       json_object_new_string(st.replica[i].zone));
		json_object_object_add(ev, "state", json_object_new_string(
			engine_replica_state_name(st.replica[i].state)));
		json_object_array_add(b->events, ev);
	}
	if (b->o->status && now - b->t_status >= 100000000ULL) {
		b->t_status = now;
		bv_write_status(b, &st);
	}
}

static void pflush_done(void *arg, int res)
{
	struct bv *b = arg;

	b->pflush_out = false;
	b->inflight--;
	if (res) {
		if (b->pflush_errors++ < 3)
			log_warn("bench-volume: flush: %s", strerror(-res));
		return;
	}
	b->pflushes++;
	hist_record(&b->flat, mono_ns() - b->t_pflush);
}

/* --flush-interval: a flush every so often, while writes go on. */
static void maybe_flush(struct bv *b)
{
	uint64_t now = mono_ns();

	if (b->o->flush_interval_ms <= 0 || b->pflush_out ||
	    now < b->t_next_flush)
		return;
	if (engine_flush(b->e, pflush_done, b))
		return;		/* -EAGAIN: next time round */
	b->pflush_out = true;
	b->inflight++;
	b->t_pflush = now;
	b->t_next_flush = now + (uint64_t)(b->o->flush_interval_ms * 1e6);
}

static int run_loop(struct bv *b)
{
	uint64_t wait = b->o->rate > 0 ? 500000ULL : 100000000ULL;
	int err;

	if (b->o->flush_interval_ms > 0 && wait > 10000000ULL)
		wait = 10000000ULL;
	while (more_work(b) || b->inflight) {
		if (more_work(b) && (err = fill(b)))
			return err;
		if (more_work(b))
			maybe_flush(b);
		if (!b->inflight && !more_work(b))
			break;
		err = uloop_run_once(b->loop, wait);
		if (err < 0)
			return err;
		watch(b);
		if (!b->inflight && b->limit && b->issued >= b->limit)
			break;
	}
	return 0;
}

static void flush_done(void *arg, int res)
{
	struct bv *b = arg;

	b->flushed = true;
	b->flush_res = res;
}

static int final_flush(struct bv *b)
{
	uint64_t t0 = mono_ns();
	int err;

	b->flushed = false;
	while ((err = engine_flush(b->e, flush_done, b)) == -EAGAIN)
		uloop_run_once(b->loop, 10000000ULL);
	if (err)
		return err;
	while (!b->flushed)
		if ((err = uloop_run_once(b->loop, 100000000ULL)) < 0)
			return err;
	b->flush_ms = (double)(mono_ns() - t0) / 1e6;
	return b->flush_res;
}

static bool all_in_sync(struct bv *b)
{
	struct engine_stats st;

	engine_get_stats(b->e, &st);
	return st.in_sync == st.nr_replicas;
}

static int wait_in_sync(struct bv *b)
{
	uint64_t deadline = mono_ns() + (uint64_t)(b->o->wait_in_sync_s * 1e9);

	while (!all_in_sync(b)) {
		if (mono_ns() > deadline || *b->o->stop) {
			log_err("bench-volume: replicas not in sync after "
				"%.1f s", b->o->wait_in_sync_s);
			return -ETIMEDOUT;
		}
		uloop_run_once(b->loop, 50000000ULL);
		watch(b);
	}
	return 0;
}

static double cpu_since(const struct rusage *r0)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return (double)(r.ru_utime.tv_sec - r0->ru_utime.tv_sec) +
	       (double)(r.ru_stime.tv_sec - r0->ru_stime.tv_sec) +
	       (double)(r.ru_utime.tv_usec - r0->ru_utime.tv_usec) / 1e6 +
	       (double)(r.ru_stime.tv_usec - r0->ru_stime.tv_usec) / 1e6;
}

static int open_loop(struct bv *b)
{
	struct uloop_opts lo;
	/* Write buffers: the queue depth, those lingering on a slow
	 * replica (engine.h), and read buffers of every job. */
	unsigned int need = 2 * b->qd + ENGINE_LAG_MAX(b->qd) + 8;
	unsigned int entries = 256;

	memset(&lo, 0, sizeof(lo));
	while (entries < 8 * b->qd && entries < 4096)
		entries *= 2;
	lo.entries = entries;
	if (b->bs <= 65536) {
		lo.nr_small = need;
		lo.nr_large = 8;
	} else {
		lo.nr_small = 16;
		lo.nr_large = need;
	}
	return uloop_create(&lo, &b->loop);
}

static int open_files(struct bv *b)
{
	const struct bv_opts *o = b->o;

	b->logfd = b->reffd = b->dumpfd = -1;
	if (o->log && (b->logfd = open(o->log, O_WRONLY | O_CREAT | O_APPEND |
				       O_CLOEXEC, 0644)) < 0)
		goto err;
	if (o->ref && (b->reffd = open(o->ref, O_RDWR | O_CREAT | O_CLOEXEC,
				       0644)) < 0)
		goto err;
	if (o->ref && ftruncate(b->reffd, (off_t)b->size))
		goto err;
	if (o->dump && ((b->dumpfd = open(o->dump, O_WRONLY | O_CREAT |
					  O_TRUNC | O_CLOEXEC, 0644)) < 0 ||
			ftruncate(b->dumpfd, (off_t)b->size)))
		goto err;
	return 0;
err:
	log_err("bench-volume: %s", strerror(errno));
	return -errno;
}

static int setup(struct bv *b)
{
	const struct bv_opts *o = b->o;
	unsigned int i;
	int err;

	if (o->check_log) {
		b->mode = MODE_CHECK;
		if ((err = vc_check_load(o->check_log, b->size, o->strict_after, &b->chk)))
			return err;
	} else if (o->dump) {
		b->mode = MODE_DUMP;
	}
	if (b->mode != MODE_WORK) {
		b->rw = BV_READ;
		b->bs = 1U << 20;
		b->limit = b->size;
	}
	if ((err = open_loop(b)) || (err = open_files(b)))
		return err;
	if (!b->eo.queue_depth)
		b->eo.queue_depth = b->qd + 1;
	if ((err = engine_create(b->loop, &b->eo, &b->e)))
		return err;
	if (b->bs > engine_max_io(b->e))
		b->bs = engine_max_io(b->e);
	b->jobs = calloc(b->qd, sizeof(*b->jobs));
	b->scratch = aligned_alloc(4096, b->bs);
	if (o->verify && !(b->expect = calloc(b->size / VC_BLOCK, 8)))
		return -ENOMEM;
	if (!b->jobs || !b->scratch)
		return -ENOMEM;
	for (i = 0; i < b->qd; i++) {
		b->jobs[i].b = b;
		if (b->rw != BV_RANDWRITE && b->rw != BV_WRITE &&
		    (err = uloop_buf_get(b->loop, b->bs, &b->jobs[i].rbuf)))
			return err;
	}
	return 0;
}

static void cleanup(struct bv *b)
{
	unsigned int i;

	engine_destroy(b->e);
	for (i = 0; b->jobs && i < b->qd; i++)
		uloop_buf_put(b->loop, b->jobs[i].rbuf);
	uloop_destroy(b->loop);
	free(b->jobs);
	free(b->scratch);
	free(b->expect);
	vc_check_free(b->chk);
	if (b->logfd >= 0)
		close(b->logfd);
	if (b->reffd >= 0)
		close(b->reffd);
	if (b->dumpfd >= 0)
		close(b->dumpfd);
	json_object_put(b->events);
}

static int workload(struct bv *b)
{
	int err;

	hist_reset(&b->wlat);
	hist_reset(&b->rlat);
	hist_reset(&b->flat);
	getrusage(RUSAGE_SELF, &b->ru0);
	b->t_start = mono_ns();
	if (b->o->runtime_s > 0 && b->mode == MODE_WORK)
		b->t_deadline = b->t_start + (uint64_t)(b->o->runtime_s * 1e9);
	err = run_loop(b);
	b->t_end = mono_ns();
	/* A failed final flush (EIO while no replica is in sync, say) is
	 * reported and makes the exit status 1 (flush_res), but it is no
	 * reason to skip --wait-in-sync: the replicas may well come back. */
	if (!err && b->nw && !b->o->no_flush && !*b->o->stop &&
	    (b->flush_res = final_flush(b)))
		log_err("bench-volume: final flush: %s",
			strerror(-b->flush_res));
	b->cpu_s = cpu_since(&b->ru0);
	if (err)
		log_err("bench-volume: %s", strerror(-err));
	return err;
}

int bv_run(const struct bv_opts *o)
{
	struct bv b;
	int err, rc = 0;

	memset(&b, 0, sizeof(b));
	b.o = o;
	b.eo = o->eo;
	b.rw = o->rw;
	b.bs = o->bs;
	b.qd = o->iodepth;
	b.size = o->eo.size;
	b.rng = (o->seed ? o->seed : real_ns()) | 1;
	b.next_id = (b.rng & 0xffffffULL) << 32 | 1;
	b.events = json_object_new_array();
	if (o->bytes)
		b.limit = o->bytes;
	else if (o->runtime_s <= 0)
		b.limit = b.size;
	memset(b.last, 0, sizeof(b.last));
	err = setup(&b);
	if (!err)
		err = workload(&b);
	/* A check or dump cut short (SIGINT, SIGTERM) covered only part of
	 * the volume: it must not pass for a whole one. */
	if (!err && b.mode != MODE_WORK && b.issued < b.size) {
		log_err("bench-volume: %s stopped after %llu of %llu bytes",
			b.mode == MODE_CHECK ? "check" : "dump",
			(unsigned long long)b.issued,
			(unsigned long long)b.size);
		err = -EINTR;
	}
	if (!err && o->wait_in_sync_s > 0)
		err = wait_in_sync(&b);
	if (b.e)
		report(&b);
	if (b.mode == MODE_CHECK && b.chk)
		printf("check: %llu bad blocks, %llu blocks acked in the log\n",
		       (unsigned long long)b.bad,
		       (unsigned long long)vc_check_acked_blocks(b.chk));
	if (err || b.werr || b.rerr || b.bad || b.flush_res || b.pflush_errors ||
	    b.log_failed)
		rc = 1;
	if (err && !b.e)
		log_err("bench-volume: %s", strerror(-err));
	cleanup(&b);
	return rc;
}
