/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_sim: synthetic clusters for the placer, one event applied to
 * them, and the figures that say how well the placer coped: balance before
 * and after, bytes moved against the least any placer could move.
 *
 * Pure logic like the placer: a seed in, the same cluster out.  The
 * cluster: Z zones of N equal nodes (labels zone, hostname, region),
 * V volumes of R replicas under hard zone spread, sizes log-uniform in
 * [1 GiB, 512 GiB) unless fixed, node capacity such that placement fills
 * the cluster to the given fraction.
 */
#ifndef TAPESTRY_PLACER_SIM_H
#define TAPESTRY_PLACER_SIM_H

#include <stdint.h>

#include "placer.h"

enum placer_sim_event {
	PLACER_SIM_NONE,	/* replan the unchanged cluster */
	PLACER_SIM_ADD_ZONE,	/* one more zone of N nodes */
	PLACER_SIM_REMOVE_ZONE,	/* the last zone is lost */
	PLACER_SIM_ADD_NODE,	/* one more node in the first zone */
	PLACER_SIM_DRAIN_NODE,	/* the first node turns unschedulable */
	PLACER_SIM_SLOW_ZONE,	/* the first zone's p99 goes 10x */
};

struct placer_sim_opts {
	unsigned int zones;
	unsigned int nodes_per_zone;
	unsigned int volumes;
	unsigned int replicas;
	uint64_t seed;
	uint64_t volume_size;	/* 0: random sizes */
	double fill;		/* in (0, 1] */
	enum placer_sim_event event;
};

struct placer_sim_balance {
	double used_max_mean;		/* over schedulable nodes */
	double replicas_max_mean;
	unsigned int nodes;
};

struct placer_sim_report {
	struct placer_sim_balance before, after;
	uint64_t total_bytes;		/* of placed replicas, before */
	uint64_t total_replicas;
	uint64_t moved_bytes;
	uint64_t moved_replicas;
	/* The least any placer must move to reach an even spread that obeys
	 * the rules: max(what must arrive on under-filled nodes, what must
	 * leave gone, drained or over-crowded places). */
	uint64_t min_bytes;
	size_t errors_before;
	size_t errors_after;
	size_t spread_violations;	/* after the plan */
	size_t primaries_changed;
	size_t primaries_slow;		/* primaries on slow nodes, after */
	size_t steps;
};

struct placer_sim;

void placer_sim_opts_default(struct placer_sim_opts *o);
/* Parse an event name ("add-zone", ...); -EINVAL if unknown. */
int placer_sim_event_parse(const char *name, enum placer_sim_event *ev);
const char *placer_sim_event_name(enum placer_sim_event ev);

/* Generate the cluster and its post-event twin.  Returns 0, -EINVAL (bad
 * options: zones, nodes, replicas 1..16, fill), -ERANGE (node capacities
 * would pass PLACER_MAX_BYTES in all) or -ENOMEM. */
int placer_sim_create(const struct placer_sim_opts *o, struct placer_sim **out);
void placer_sim_free(struct placer_sim *s);

/* The input before the event (no current placement). */
const struct placer_input *placer_sim_before(const struct placer_sim *s);
/* The input after the event, with first's placement as the current one.
 * Borrowed by s until the next call or placer_sim_free.  Returns NULL on
 * ENOMEM. */
const struct placer_input *placer_sim_after(struct placer_sim *s,
					    const struct placer_result *first);

/* Figures for a placement (first, on the before input) and the plan that
 * followed the event (second, on the after input). */
void placer_sim_report(const struct placer_sim *s,
		       const struct placer_result *first,
		       const struct placer_result *second,
		       struct placer_sim_report *rep);

#endif /* TAPESTRY_PLACER_SIM_H */
