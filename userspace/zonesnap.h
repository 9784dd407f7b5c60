/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zonesnap: a snapshot of the zone tracer's cumulative statistics (one
 * row per zone and operation, one RTT histogram per zone, summed over
 * CPUs) and what `tapestry report zones` does with two of them: diff and
 * render as text, JSON or Prometheus exposition, in the same forms as
 * report io (iosnap).  Plain data; tested by tests/unit/test_zonesnap.c.
 */
#ifndef TAPESTRY_ZONESNAP_H
#define TAPESTRY_ZONESNAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "abi/zonetrace.h"
#include "hist.h"
#include "report.h"

struct json_object;

struct zonesnap_row {
	unsigned int zone, op;		/* op: UD_OP_* */
	char name[ZONE_NAME_LEN];	/* set by zonesnap_name_zones() */
	uint64_t count, errors;
	struct hist lat;
};

struct zonesnap_rtt {
	unsigned int zone;
	char name[ZONE_NAME_LEN];
	struct hist rtt;
};

struct zonesnap {
	uint64_t ts_ns;
	uint64_t inflight_failed, unmatched_ends, stats_failed, rtt_failed;
	struct zonesnap_row *rows;
	size_t n, cap;
	struct zonesnap_rtt *rtts;
	size_t nrtt, caprtt;
};

/* "read", "write", "flush", "trim", "zero", "resync", "other", "none". */
const char *zonesnap_op_name(unsigned int op);

void zonesnap_init(struct zonesnap *s);
void zonesnap_release(struct zonesnap *s);

/* Fold ncpu per-CPU values (stride bytes apart) of one key into its row,
 * adding the row if new.  -ENOMEM leaves s as it was. */
int zonesnap_add(struct zonesnap *s, const struct zone_key *k,
		 const void *vals, unsigned int ncpu, size_t stride);
int zonesnap_add_rtt(struct zonesnap *s, unsigned int zone, const void *vals,
		     unsigned int ncpu, size_t stride);

/* out = now - before: rows and RTTs with activity in between, sorted by
 * zone and op; counters diffed; ts_ns the interval.  -ENOMEM leaves out
 * empty. */
int zonesnap_diff(struct zonesnap *out, const struct zonesnap *now,
		  const struct zonesnap *before);
/* A sorted copy with every row (for cumulative output). */
int zonesnap_copy(struct zonesnap *out, const struct zonesnap *s);

/* Name each row: namer(id, buf, len, arg) returns 0 when it knows the
 * zone; otherwise the name is "zone-<id>". */
void zonesnap_name_zones(struct zonesnap *s,
			 int (*namer)(unsigned int id, char *buf, size_t len,
				      void *arg), void *arg);

int zonesnap_print_text(FILE *f, const struct zonesnap *d,
			const struct report_fmt *fmt);

/* {"interval_s","source","zones":[{"zone","zone_id","op","count",
 * "per_s","errors","latency":{hist}}],"rtt":[{"zone","zone_id",
 * "rtt":{hist}}],"lost":{"inflight_failed","unmatched_ends",
 * "stats_failed","rtt_failed"}}; NULL when out of memory. */
struct json_object *zonesnap_to_json(const struct zonesnap *d,
				     const struct report_fmt *fmt);

/* tapestry_zone_latency_seconds{zone,op} and tapestry_zone_rtt_seconds
 * {zone} histograms, tapestry_zone_requests_total and
 * tapestry_zone_errors_total{zone,op}, tapestry_zone_trace_lost_total
 * {reason}; cumulative values.  0 or -EIO / -ENOSPC. */
int zonesnap_print_prom(FILE *f, const struct zonesnap *s);

#endif /* TAPESTRY_ZONESNAP_H */
