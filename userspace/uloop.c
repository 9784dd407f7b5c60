/* SPDX-License-Identifier: Apache-2.0 */
#include "uloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

#include "log.h"

struct handler {
	uloop_cqe_fn fn;
	void *ctx;
};

struct uloop {
	struct io_uring ring;
	struct handler handlers[UD_NR_CLASSES];
	uint64_t now;
	uint64_t dropped;
	bool stopping;

	/* stalls (uloop.h): completed stall time, their count, and when the
	 * last wait returned */
	uint64_t stalled;
	uint64_t nstalls;
	uint64_t t_out;

	/* buffer pool: one mapping, carved into registered buffers */
	void *arena;
	size_t arena_len;
	struct uloop_buf *bufs;
	unsigned int nr_bufs;
	struct uloop_buf *free_small, *free_large;
	unsigned int nfree_small, nfree_large;
	uint32_t small_size, large_size;

	struct {
		void (*fn)(void *arg);
		void *arg;
	} hooks[ULOOP_MAX_HOOKS];
	unsigned int nr_hooks;

	/* timers: binary min-heap on deadline */
	struct uloop_timer **heap;
	unsigned int nr_timers, max_timers;
};

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The fastest setup the kernel accepts.  Flags are probed, not inferred
 * from a version: a kernel without one answers EINVAL and we drop it. */
static int ring_init(struct io_uring *ring, unsigned int entries)
{
	static const unsigned int tries[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
			IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	unsigned int i;
	int err = -EINVAL;

	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		err = io_uring_queue_init_params(entries, ring, &p);
		if (err != -EINVAL)
			break;
	}
	return err;
}

static int pool_init(struct uloop *l, const struct uloop_opts *o)
{
	unsigned int nr_small = o->nr_small ? o->nr_small : 256;
	unsigned int nr_large = o->nr_large ? o->nr_large : 32;
	struct iovec *iov;
	unsigned int i;
	char *p;
	int err;

	l->small_size = o->small_size ? o->small_size : 64 * 1024;
	l->large_size = o->large_size ? o->large_size : 1024 * 1024;
	if (l->small_size % 4096 || l->large_size % 4096 ||
	    l->small_size > l->large_size || nr_small + nr_large > 16384)
		return -EINVAL;
	l->nr_bufs = nr_small + nr_large;
	l->arena_len = (size_t)nr_small * l->small_size +
		       (size_t)nr_large * l->large_size;
	l->arena = mmap(NULL, l->arena_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->arena == MAP_FAILED) {
		l->arena = NULL;
		return -ENOMEM;
	}
	l->bufs = calloc(l->nr_bufs, sizeof(*l->bufs));
	iov = calloc(l->nr_bufs, sizeof(*iov));
	if (!l->bufs || !iov) {
		free(iov);
		return -ENOMEM;
	}
	p = l->arena;
	for (i = 0; i < l->nr_bufs; i++) {
		struct uloop_buf *b = &l->bufs[i];

		b->base = p;
		b->index = (uint16_t)i;
		b->large = i >= nr_small;
		b->size = b->large ? l->large_size : l->small_size;
		iov[i].iov_base = p;
		iov[i].iov_len = b->size;
		p += b->size;
		uloop_buf_put(l, b);
	}
	err = io_uring_register_buffers(&l->ring, iov, l->nr_bufs);
	free(iov);
	return err;
}

int uloop_create(const struct uloop_opts *o, struct uloop **out)
{
	static const struct uloop_opts defaults;
	struct uloop *l;
	int err;

	if (!o)
		o = &defaults;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->max_timers = o->max_timers ? o->max_timers : 4096;
	l->heap = calloc(l->max_timers, sizeof(*l->heap));
	if (!l->heap) {
		free(l);
		return -ENOMEM;
	}
	err = ring_init(&l->ring, o->entries ? o->entries : 256);
	if (err)
		goto err_free;
	err = pool_init(l, o);
	if (err)
		goto err_exit_ring;
	l->now = clock_ns();
	l->t_out = l->now;
	*out = l;
	return 0;

err_exit_ring:
	io_uring_queue_exit(&l->ring);
	if (l->arena)
		munmap(l->arena, l->arena_len);
	free(l->bufs);
err_free:
	free(l->heap);
	free(l);
	return err;
}

void uloop_destroy(struct uloop *l)
{
	if (!l)
		return;
	io_uring_queue_exit(&l->ring);
	munmap(l->arena, l->arena_len);
	free(l->bufs);
	free(l->heap);
	free(l);
}

struct io_uring *uloop_ring(struct uloop *l)
{
	return &l->ring;
}

int uloop_set_handler(struct uloop *l, unsigned int cls, uloop_cqe_fn fn,
		      void *ctx)
{
	if (cls >= UD_NR_CLASSES)
		return -EINVAL;
	l->handlers[cls].fn = fn;
	l->handlers[cls].ctx = ctx;
	return 0;
}

/* Whether the last SQE queued and not yet submitted asks to be linked to
 * the next one: a caller is in the middle of a chain. */
static bool chain_open(const struct io_uring *ring)
{
	const struct io_uring_sq *sq = &ring->sq;
	const struct io_uring_sqe *last;

	if (sq->sqe_tail == sq->sqe_head)
		return false;
	last = &sq->sqes[(sq->sqe_tail - 1) & sq->ring_mask];
	return last->flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK);
}

struct io_uring_sqe *uloop_get_sqe(struct uloop *l)
{
	struct io_uring_sqe *sqe;

	/* Make room before a chain starts, never inside one: the kernel
	 * ends a chain at the end of a submission, so the rest of it would
	 * run unordered (a FUA write's fsync before the write).  If this
	 * submit fails, the SQEs still free serve. */
	if (!chain_open(&l->ring) &&
	    io_uring_sq_space_left(&l->ring) < ULOOP_MAX_CHAIN)
		io_uring_submit(&l->ring);
	sqe = io_uring_get_sqe(&l->ring);
	if (sqe)
		return sqe;
	/* Only a chain longer than ULOOP_MAX_CHAIN gets here. */
	if (io_uring_submit(&l->ring) < 0)
		return NULL;
	return io_uring_get_sqe(&l->ring);
}

int uloop_buf_get(struct uloop *l, uint32_t size, struct uloop_buf **out)
{
	struct uloop_buf *b;

	if (size > l->large_size)
		return -E2BIG;
	if (size <= l->small_size && l->free_small) {
		b = l->free_small;
		l->free_small = b->next;
		l->nfree_small--;
	} else if (l->free_large) {
		b = l->free_large;
		l->free_large = b->next;
		l->nfree_large--;
	} else {
		return -ENOBUFS;
	}
	b->next = NULL;
	*out = b;
	return 0;
}

void uloop_buf_put(struct uloop *l, struct uloop_buf *b)
{
	if (!b)
		return;
	if (b->large) {
		b->next = l->free_large;
		l->free_large = b;
		l->nfree_large++;
	} else {
		b->next = l->free_small;
		l->free_small = b;
		l->nfree_small++;
	}
}

uint32_t uloop_buf_max(const struct uloop *l)
{
	return l->large_size;
}

unsigned int uloop_buf_free(const struct uloop *l, bool large)
{
	return large ? l->nfree_large : l->nfree_small;
}

uint64_t uloop_now(struct uloop *l)
{
	return l->now;
}

uint64_t uloop_clock(struct uloop *l)
{
	l->now = clock_ns();
	return l->now;
}

/* What of a span of `span` ns, which should have taken `expect`, is a
 * stall. */
static uint64_t stall_part(uint64_t span, uint64_t expect)
{
	if (span <= expect + ULOOP_STALL_MIN_NS)
		return 0;
	return span - expect - ULOOP_STALL_MIN_NS;
}

static uint64_t live_at(const struct uloop *l, uint64_t t)
{
	uint64_t gap = t > l->t_out ? t - l->t_out : 0;

	return t - l->stalled - stall_part(gap, 0);
}

uint64_t uloop_live_ns(struct uloop *l)
{
	return live_at(l, l->now);
}

uint64_t uloop_live_clock(struct uloop *l)
{
	return live_at(l, uloop_clock(l));
}

uint64_t uloop_stalls(const struct uloop *l)
{
	return l->nstalls;
}

static void add_stall(struct uloop *l, uint64_t ns)
{
	if (!ns)
		return;
	l->stalled += ns;
	l->nstalls++;
}

/* Heap positions are 0-based here; timer->slot stores position + 1. */
static void heap_set(struct uloop *l, unsigned int pos, struct uloop_timer *t)
{
	l->heap[pos] = t;
	t->slot = pos + 1;
}

static void heap_up(struct uloop *l, unsigned int pos)
{
	struct uloop_timer *t = l->heap[pos];
	unsigned int parent;

	while (pos > 0) {
		parent = (pos - 1) / 2;
		if (l->heap[parent]->deadline <= t->deadline)
			break;
		heap_set(l, pos, l->heap[parent]);
		pos = parent;
	}
	heap_set(l, pos, t);
}

static void heap_down(struct uloop *l, unsigned int pos)
{
	struct uloop_timer *t = l->heap[pos];
	unsigned int child;

	for (;;) {
		child = 2 * pos + 1;
		if (child >= l->nr_timers)
			break;
		if (child + 1 < l->nr_timers &&
		    l->heap[child + 1]->deadline < l->heap[child]->deadline)
			child++;
		if (t->deadline <= l->heap[child]->deadline)
			break;
		heap_set(l, pos, l->heap[child]);
		pos = child;
	}
	heap_set(l, pos, t);
}

void uloop_timer_cancel(struct uloop *l, struct uloop_timer *t)
{
	unsigned int pos;
	struct uloop_timer *last;

	if (!t->slot)
		return;
	pos = t->slot - 1;
	t->slot = 0;
	last = l->heap[--l->nr_timers];
	if (last == t)
		return;
	heap_set(l, pos, last);
	heap_up(l, pos);
	heap_down(l, last->slot - 1);
}

int uloop_timer_arm(struct uloop *l, struct uloop_timer *t, uint64_t deadline)
{
	uloop_timer_cancel(l, t);
	if (l->nr_timers == l->max_timers)
		return -ENOSPC;
	t->deadline = deadline;
	heap_set(l, l->nr_timers++, t);
	heap_up(l, t->slot - 1);
	return 0;
}

static void run_timers(struct uloop *l)
{
	struct uloop_timer *t;

	while (l->nr_timers && l->heap[0]->deadline <= l->now) {
		t = l->heap[0];
		uloop_timer_cancel(l, t);
		t->fn(t);
	}
}

static unsigned int dispatch(struct uloop *l)
{
	struct io_uring_cqe *cqe;
	struct handler *h;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&l->ring, head, cqe) {
		n++;
		h = &l->handlers[ud_cls(cqe->user_data)];
		if (!ud_is_ours(cqe->user_data) || !h->fn) {
			l->dropped++;
			continue;
		}
		h->fn(h->ctx, cqe);
	}
	io_uring_cq_advance(&l->ring, n);
	return n;
}

int uloop_run_once(struct uloop *l, uint64_t max_wait_ns)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	uint64_t wait = max_wait_ns, t_in = clock_ns();
	unsigned int n, i;
	int ret;

	/* Since the last wait returned the loop has been at work (handlers,
	 * timers, hooks, the caller): past the threshold that is a stall. */
	add_stall(l, stall_part(t_in - l->t_out, 0));
	if (l->nr_timers) {
		uint64_t due = l->heap[0]->deadline;

		wait = due > t_in ? due - t_in : 0;
		if (wait > max_wait_ns)
			wait = max_wait_ns;
	}
	ts.tv_sec = (long long)(wait / 1000000000ULL);
	ts.tv_nsec = (long long)(wait % 1000000000ULL);
	ret = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
	l->now = clock_ns();
	/* A wait that returns late: the thread was not running when the
	 * kernel woke it (an early return is never a stall). */
	add_stall(l, stall_part(l->now - t_in, wait));
	l->t_out = l->now;
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN &&
	    ret != -EBUSY)
		return ret;
	n = dispatch(l);
	run_timers(l);
	for (i = 0; i < l->nr_hooks; i++)
		l->hooks[i].fn(l->hooks[i].arg);
	return (int)n;
}

int uloop_add_hook(struct uloop *l, void (*fn)(void *arg), void *arg)
{
	if (l->nr_hooks == ULOOP_MAX_HOOKS)
		return -ENOSPC;
	l->hooks[l->nr_hooks].fn = fn;
	l->hooks[l->nr_hooks].arg = arg;
	l->nr_hooks++;
	return 0;
}

int uloop_del_hook(struct uloop *l, void (*fn)(void *arg), void *arg)
{
	unsigned int i;

	for (i = 0; i < l->nr_hooks; i++) {
		if (l->hooks[i].fn != fn || l->hooks[i].arg != arg)
			continue;
		memmove(&l->hooks[i], &l->hooks[i + 1],
			(l->nr_hooks - i - 1) * sizeof(l->hooks[0]));
		l->nr_hooks--;
		return 0;
	}
	return -ENOENT;
}

int uloop_run(struct uloop *l, const volatile sig_atomic_t *stop)
{
	int ret;

	l->stopping = false;
	while (!l->stopping && !(stop && *stop)) {
		/* Bounded wait: a signal landing just before io_uring_enter
		 * is noticed within 100 ms. */
		ret = uloop_run_once(l, 100000000ULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void uloop_stop(struct uloop *l)
{
	l->stopping = true;
}

uint64_t uloop_dropped(const struct uloop *l)
{
	return l->dropped;
}
