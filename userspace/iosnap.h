/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iosnap: a snapshot of the block tracer's cumulative statistics, one row
 * per (device, op) summed over CPUs, and what `tapestry report io` does
 * with two of them: diff, filter by device, render as text, JSON or
 * Prometheus exposition.  No BPF here: blktrace_snapshot() fills a
 * snapshot, and everything else is plain data, tested by
 * tests/unit/test_iosnap.c.
 */
#ifndef TAPESTRY_IOSNAP_H
#define TAPESTRY_IOSNAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "abi/blktrace.h"
#include "blkdev.h"
#include "hist.h"
#include "report.h"

struct json_object;

struct iosnap_row {
	unsigned int major, minor, op;	/* BLK_OP_* */
	char dev[BLKDEV_NAME_MAX];	/* set by iosnap_name_devices() */
	uint64_t count, bytes, errors, untimed;
	struct hist queue, service, total;
};

struct iosnap {
	uint64_t ts_ns;			/* CLOCK_MONOTONIC when taken */
	uint64_t events_dropped, start_failed, stats_failed, prog_misses;
	struct iosnap_row *rows;
	size_t n, cap;
};

/* "read", "write", "flush", "discard", "other"; "?" out of range. */
const char *iosnap_op_name(unsigned int op);

void iosnap_init(struct iosnap *s);
/* Frees the rows and re-initialises s.  Accepts a zeroed s. */
void iosnap_release(struct iosnap *s);

/* Fold one key's per-CPU values (ncpu of them, stride bytes apart) into
 * the row for that key, adding the row if new.  -ENOMEM leaves s as it
 * was. */
int iosnap_add(struct iosnap *s, const struct blk_key *k, const void *vals,
	       unsigned int ncpu, size_t stride);

/* out = now - before, row by row (a row missing from before counts from
 * zero; rows that did nothing in between are left out), sorted by device
 * and op; counters are diffed too and ts_ns becomes the interval length.
 * out must be initialised and is replaced.  -ENOMEM leaves out empty. */
int iosnap_diff(struct iosnap *out, const struct iosnap *now,
		const struct iosnap *before);

/* A copy of s sorted by device and op, all rows kept (for cumulative
 * output).  -ENOMEM leaves out empty. */
int iosnap_copy(struct iosnap *out, const struct iosnap *s);

/* Keep only the rows whose device is one of devs[0..ndev) (major, minor
 * pairs); ndev 0 keeps all. */
void iosnap_filter(struct iosnap *s, const unsigned int (*devs)[2],
		   size_t ndev);

/* Fill each row's dev with its kernel name (from sysfs; "MAJ:MIN" for a
 * disk that is gone). */
void iosnap_name_devices(struct iosnap *s, const char *sysfs);

/* Text: per (device, op) count, IOPS, bytes, MB/s, errors, then a table of
 * the percentiles and max for queue, service and total, then the text
 * histogram of total; then the tracer's loss counters.  Returns 0 or
 * -EIO. */
int iosnap_print_text(FILE *f, const struct iosnap *d,
		      const struct report_fmt *fmt);

/* {"interval_s":..., "source":..., "devices":[{"device","major","minor",
 * "op","count","iops","bytes","mb_per_s","errors","untimed",
 * "total":{hist},"queue":{hist},"service":{hist}}],
 * "lost":{"events_dropped","start_failed","stats_failed","prog_misses"}}
 * with {hist} as hist_to_json() makes it.  A new object, or NULL when out
 * of memory. */
struct json_object *iosnap_to_json(const struct iosnap *d,
				   const struct report_fmt *fmt);

/* Prometheus exposition of cumulative values (counters never go down):
 * tapestry_block_io_latency_seconds{device,op,stage} histograms,
 * tapestry_block_io_requests_total, _bytes_total, _errors_total,
 * _untimed_total{device,op}, and tapestry_block_trace_lost_total{reason}.
 * Returns 0 or -EIO / -ENOSPC. */
int iosnap_print_prom(FILE *f, const struct iosnap *s);

#endif /* TAPESTRY_IOSNAP_H */
