/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_volume: the workload runner behind `tapestry bench-volume`.
 */
#ifndef TAPESTRY_BENCH_VOLUME_H
#define TAPESTRY_BENCH_VOLUME_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

enum bv_rw { BV_RANDWRITE, BV_RANDREAD, BV_WRITE, BV_READ, BV_RANDRW };

#define BV_MAX_IMAGES 8

struct bv_opts {
	struct engine_opts eo;
	enum bv_rw rw;
	unsigned int rwmix_read;
	uint32_t bs;
	unsigned int iodepth;
	double rate;			/* IOPS cap; 0 = none */
	double flush_interval_ms;	/* a flush this often; 0 = none */
	double runtime_s;
	uint64_t bytes;
	bool fua, no_flush, verify, json, verbose;
	uint64_t seed;
	const char *log, *ref, *check_log, *dump, *status;
	const char *images[BV_MAX_IMAGES];
	unsigned int nr_images;
	double wait_in_sync_s;
	uint64_t strict_after;		/* --strict-after NS */
	const char *log_window;		/* --log-window LOG */
	const char *registry;		/* --zone-registry PIN_ROOT */
	uint64_t from_ns, to_ns;
	const volatile sig_atomic_t *stop;
};

/* Run the workload (or the check / dump) and print the report.  Returns
 * the exit status: 0 success, 1 failure (engine errors, I/O errors,
 * verify mismatches). */
int bv_run(const struct bv_opts *o);

#endif /* TAPESTRY_BENCH_VOLUME_H */
