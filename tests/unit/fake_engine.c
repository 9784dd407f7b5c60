/* SPDX-License-Identifier: Apache-2.0 */
#include "fake_engine.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum fop { F_READ, F_WRITE, F_FLUSH, F_TRIM, F_ZERO };

struct freq {
	struct uloop_timer t;	/* first: the timer callback finds us */
	struct engine *e;
	enum fop op;
	uint64_t off, len;
	struct uloop_buf *buf;
	engine_done_fn done;
	void *arg;
	int res;
	bool shared;		/* ENGINE_BUF_SHARED: the buffer is borrowed */
	struct freq *next;
};

struct engine {
	struct uloop *loop;
	struct fake_engine_opts o;
	uint8_t *data;
	struct freq *reqs, *free;
	unsigned int fail_n, refuse_n;
	int fail_res;
	bool zero_slow;
	struct fake_engine_counts n;
};

static void complete(struct uloop_timer *t)
{
	struct freq *r = (struct freq *)t;
	struct engine *e = r->e;

	if (r->op == F_READ && !r->res)
		memcpy(r->buf->base, e->data + r->off, r->len);
	e->n.inflight--;
	r->done(r->arg, r->res);
	/* as the real engine may: the write buffer goes back after done() */
	if (r->op == F_WRITE && !r->shared)
		uloop_buf_put(e->loop, r->buf);
	r->next = e->free;
	e->free = r;
}

static int submit(struct engine *e, enum fop op, uint64_t off, uint64_t len,
		  struct uloop_buf *buf, unsigned int flags,
		  engine_done_fn done, void *arg)
{
	struct freq *r;
	uint64_t delay;

	if (e->refuse_n) {
		e->refuse_n--;
		e->n.refused++;
		return -EAGAIN;
	}
	if (op != F_FLUSH) {
		if (!len || off % e->o.block_size || len % e->o.block_size ||
		    off > e->o.size || len > e->o.size - off)
			return -EINVAL;
		if ((op == F_READ || op == F_WRITE) && len > e->o.max_io)
			return -E2BIG;
	}
	if (!e->free) {
		e->n.refused++;
		return -EAGAIN;
	}
	r = e->free;
	e->free = r->next;
	r->e = e;
	r->op = op;
	r->off = off;
	r->len = len;
	r->buf = buf;
	r->done = done;
	r->arg = arg;
	r->res = 0;
	r->shared = !!(flags & ENGINE_BUF_SHARED);
	if (e->fail_n) {
		e->fail_n--;
		r->res = e->fail_res;
	}
	/* Writes apply now, in submission order; readers see them once
	 * done() has run, which is all the contract promises. */
	if (!r->res && op == F_WRITE)
		memcpy(e->data + off, buf->base, len);
	if (!r->res && (op == F_ZERO || op == F_TRIM))
		memset(e->data + off, 0, len);
	e->n.fua += !!(flags & ENGINE_FUA);
	e->n.shared += r->shared;
	e->n.inflight++;
	if (e->n.inflight > e->n.max_inflight)
		e->n.max_inflight = e->n.inflight;
	delay = op == F_READ && e->o.read_delay_ns ? e->o.read_delay_ns :
		e->o.delay_ns;
	r->t.fn = complete;
	r->t.slot = 0;
	uloop_timer_arm(e->loop, &r->t, uloop_clock(e->loop) + delay);
	return 0;
}

struct engine *fake_engine_new(struct uloop *loop,
			       const struct fake_engine_opts *o)
{
	struct engine *e = calloc(1, sizeof(*e));
	unsigned int i;

	e->loop = loop;
	e->o = *o;
	if (!e->o.block_size)
		e->o.block_size = 4096;
	if (!e->o.max_io)
		e->o.max_io = 1 << 20;
	if (!e->o.queue_depth)
		e->o.queue_depth = 128;
	e->data = calloc(1, o->size);
	e->reqs = calloc(e->o.queue_depth, sizeof(*e->reqs));
	for (i = 0; i < e->o.queue_depth; i++) {
		e->reqs[i].next = e->free;
		e->free = &e->reqs[i];
	}
	return e;
}

void fake_engine_free(struct engine *e)
{
	if (!e)
		return;
	free(e->data);
	free(e->reqs);
	free(e);
}

void fake_engine_fail(struct engine *e, unsigned int n, int res)
{
	e->fail_n = n;
	e->fail_res = res;
}

void fake_engine_refuse(struct engine *e, unsigned int n)
{
	e->refuse_n = n;
}

void fake_engine_set_zero_fast(struct engine *e, bool fast)
{
	e->zero_slow = !fast;
}

bool engine_zero_fast(const struct engine *e)
{
	return !e->zero_slow;
}

uint8_t *fake_engine_data(struct engine *e)
{
	return e->data;
}

void fake_engine_counts(const struct engine *e, struct fake_engine_counts *c)
{
	*c = e->n;
}

int engine_write(struct engine *e, uint64_t off, uint32_t len,
		 struct uloop_buf *buf_take, unsigned int flags,
		 engine_done_fn done, void *arg)
{
	int err = submit(e, F_WRITE, off, len, buf_take, flags, done, arg);

	e->n.writes += !err;
	return err;
}

int engine_read(struct engine *e, uint64_t off, uint32_t len,
		struct uloop_buf *buf, engine_done_fn done, void *arg)
{
	int err = submit(e, F_READ, off, len, buf, 0, done, arg);

	e->n.reads += !err;
	return err;
}

int engine_flush(struct engine *e, engine_done_fn done, void *arg)
{
	int err = submit(e, F_FLUSH, 0, 0, NULL, 0, done, arg);

	e->n.flushes += !err;
	return err;
}

int engine_trim(struct engine *e, uint64_t off, uint64_t len,
		unsigned int flags, engine_done_fn done, void *arg)
{
	int err = submit(e, F_TRIM, off, len, NULL, flags, done, arg);

	e->n.trims += !err;
	return err;
}

int engine_zero(struct engine *e, uint64_t off, uint64_t len,
		unsigned int flags, engine_done_fn done, void *arg)
{
	int err = submit(e, F_ZERO, off, len, NULL, flags, done, arg);

	e->n.zeroes += !err;
	return err;
}

uint64_t engine_size(const struct engine *e)
{
	return e->o.size;
}

uint32_t engine_block_size(const struct engine *e)
{
	return e->o.block_size;
}

uint32_t engine_max_io(const struct engine *e)
{
	return e->o.max_io;
}
