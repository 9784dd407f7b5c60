/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake engine for unit tests of engine callers (the NBD frontend): the
 * engine.h API over a memory array, on the caller's uloop, keeping the
 * contract (done() once, later, from the loop; writes take their buffer,
 * unless ENGINE_BUF_SHARED, and it goes back to the pool after done();
 * -EAGAIN when the queue is full).  Completion delays and failures are set by the test.
 */
#ifndef TAPESTRY_FAKE_ENGINE_H
#define TAPESTRY_FAKE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

struct fake_engine_opts {
	uint64_t size;
	uint32_t block_size;
	uint32_t max_io;
	unsigned int queue_depth;
	uint64_t delay_ns;	/* every request takes this long ... */
	uint64_t read_delay_ns;	/* ... reads this long, if nonzero */
};

struct engine *fake_engine_new(struct uloop *loop,
			       const struct fake_engine_opts *o);
void fake_engine_free(struct engine *e);

/* The next n requests (of any kind) complete with res (-errno). */
void fake_engine_fail(struct engine *e, unsigned int n, int res);
/* The next n calls are refused with -EAGAIN, as if the queue were full. */
void fake_engine_refuse(struct engine *e, unsigned int n);

/* What engine_zero_fast() answers (true until set). */
void fake_engine_set_zero_fast(struct engine *e, bool fast);

uint8_t *fake_engine_data(struct engine *e);

struct fake_engine_counts {
	unsigned long reads, writes, flushes, trims, zeroes, fua;
	unsigned long shared;	/* writes with ENGINE_BUF_SHARED */
	unsigned long refused, inflight, max_inflight;
};
void fake_engine_counts(const struct engine *e, struct fake_engine_counts *c);

#endif /* TAPESTRY_FAKE_ENGINE_H */
