/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uloop: one io_uring event loop per thread, shared by every module that
 * runs on that thread (the NBD frontend, the engine, the replica server).
 *
 * - Every SQE carries a user_data built with ud_make() (include/abi/udata.h).
 *   The loop routes each CQE to the handler registered for its class.
 * - It owns a pool of registered buffers in two size classes, so the data
 *   path can use READ_FIXED/WRITE_FIXED and never calls malloc.
 * - It runs timers from a fixed-size heap, waking io_uring_enter in time.
 *
 * Single-threaded: nothing here may be called from another thread.
 */
#ifndef TAPESTRY_ULOOP_H
#define TAPESTRY_ULOOP_H

#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "abi/udata.h"

struct uloop;

struct uloop_opts {
	unsigned int entries;		/* SQ entries; 0 = 256 */
	unsigned int nr_small;		/* small registered buffers; 0 = 256 */
	uint32_t small_size;		/* bytes each; 0 = 64 KiB */
	unsigned int nr_large;		/* large registered buffers; 0 = 32 */
	uint32_t large_size;		/* bytes each; 0 = 1 MiB */
	unsigned int max_timers;	/* 0 = 4096 */
};

/* A registered buffer.  base is page-aligned, so it suits O_DIRECT. */
struct uloop_buf {
	void *base;
	uint32_t size;
	uint16_t index;		/* for io_uring_prep_{read,write}_fixed */
	uint16_t large;
	struct uloop_buf *next;	/* free list; the holder may reuse it */
};

struct uloop_timer {
	uint64_t deadline;	/* CLOCK_MONOTONIC ns; read-only for owners */
	void (*fn)(struct uloop_timer *t);
	unsigned int slot;	/* heap position + 1; 0 = not armed */
};

typedef void (*uloop_cqe_fn)(void *ctx, const struct io_uring_cqe *cqe);

/* Creates the ring and the buffer pool and registers the buffers.  Uses
 * SINGLE_ISSUER/DEFER_TASKRUN where the kernel has them.  Returns 0 or
 * -errno (e.g. -ENOMEM when the buffers cannot be locked); *out is set only
 * on success. */
int uloop_create(const struct uloop_opts *o, struct uloop **out);
void uloop_destroy(struct uloop *l);

struct io_uring *uloop_ring(struct uloop *l);

/* Route CQEs of class cls (UD_CLS_*) to fn(ctx, cqe).  A CQE of a class with
 * no handler, or without UD_MAGIC, is counted and dropped.  Returns -EINVAL
 * for a class out of range. */
int uloop_set_handler(struct uloop *l, unsigned int cls, uloop_cqe_fn fn,
		      void *ctx);

/* A free SQE.  When the SQ is (nearly) full it submits first to make room;
 * it returns NULL only if that submit fails, and the caller should fail the
 * request with -EBUSY.  A chain (IOSQE_IO_LINK) of up to ULOOP_MAX_CHAIN
 * SQEs is never split by such a submit, provided the caller sets the link
 * flag on each SQE before it asks for the next one. */
#define ULOOP_MAX_CHAIN 4
struct io_uring_sqe *uloop_get_sqe(struct uloop *l);

/* Take a registered buffer of at least size bytes: a small one when size
 * fits, else a large one.  -E2BIG if size exceeds the large class, -ENOBUFS
 * if none is free right now (back off until one is put back). */
int uloop_buf_get(struct uloop *l, uint32_t size, struct uloop_buf **out);
void uloop_buf_put(struct uloop *l, struct uloop_buf *b);
uint32_t uloop_buf_max(const struct uloop *l);
unsigned int uloop_buf_free(const struct uloop *l, bool large);

/* CLOCK_MONOTONIC nanoseconds, as of the current loop iteration. */
uint64_t uloop_now(struct uloop *l);
/* The clock read afresh (and the cached value refreshed). */
uint64_t uloop_clock(struct uloop *l);

/*
 * Stalls: spans in which the loop could not reap completions although it
 * should have, because its thread was not running (SIGSTOP, CPU
 * starvation, a page-fault storm) or was busy elsewhere (a long handler,
 * a blocking call).  Two kinds are measured: a wait for completions that
 * returns later than the timeout it asked for, and the time between one
 * wait's return and the next wait (handlers, timers, hooks and whatever
 * the caller does between iterations).  Of each span, only what exceeds
 * ULOOP_STALL_MIN_NS counts, so ordinary scheduling jitter and ordinary
 * work are not stalls.
 *
 * "Live" time is CLOCK_MONOTONIC minus the stalled time: it stands still
 * while the loop is stalled and never goes backwards.  Deadlines on work
 * that others do for the loop (a replica's reply) should be judged in
 * live time, so that the loop's own stall is never blamed on them.
 */
#define ULOOP_STALL_MIN_NS 5000000ULL
/* Live time as of uloop_now() (no clock read). */
uint64_t uloop_live_ns(struct uloop *l);
/* Live time read afresh; the span in progress counts if it is a stall. */
uint64_t uloop_live_clock(struct uloop *l);
/* Stalls measured so far (a count, to notice that one just happened). */
uint64_t uloop_stalls(const struct uloop *l);

/* Arm t to fire fn(t) at deadline (re-arming moves it).  -ENOSPC if
 * max_timers are already armed. */
int uloop_timer_arm(struct uloop *l, struct uloop_timer *t, uint64_t deadline);
void uloop_timer_cancel(struct uloop *l, struct uloop_timer *t);
static inline bool uloop_timer_armed(const struct uloop_timer *t)
{
	return t->slot != 0;
}

/* Call fn(arg) after every iteration's completions and timers: the place
 * to resume work that was waiting for a free buffer or request slot.  At
 * most ULOOP_MAX_HOOKS; -ENOSPC beyond that. */
#define ULOOP_MAX_HOOKS 8
int uloop_add_hook(struct uloop *l, void (*fn)(void *arg), void *arg);
/* Remove the hook added with this fn and arg (a module going away before
 * the loop does).  -ENOENT if there is none. */
int uloop_del_hook(struct uloop *l, void (*fn)(void *arg), void *arg);

/* One iteration: submit what is queued, wait for a completion, the next
 * timer, or max_wait_ns (whichever is first), then dispatch every CQE that
 * is ready and every due timer.  Returns the number of CQEs dispatched, or
 * -errno if io_uring failed (-EINTR is not a failure: it returns 0). */
int uloop_run_once(struct uloop *l, uint64_t max_wait_ns);

/* Iterate until *stop becomes non-zero or uloop_stop() is called.  Returns
 * 0, or the -errno that broke the loop. */
int uloop_run(struct uloop *l, const volatile sig_atomic_t *stop);
void uloop_stop(struct uloop *l);

/* CQEs dropped because nothing handled their class (a bug if non-zero). */
uint64_t uloop_dropped(const struct uloop *l);

#endif /* TAPESTRY_ULOOP_H */
