/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer: decides on which nodes every volume's replicas live, and how to
 * get from one layout to another.
 *
 * Pure logic: no system calls, no I/O, no global mutable state.  The same
 * input gives the same result, byte for byte, whatever the order of nodes
 * and volumes in the input (ties are broken by name).  JSON lives in
 * placer_json; the cluster simulator in placer_sim.
 *
 * One entry point, placer_run(), serves both jobs:
 *   - without a current placement it places every volume from scratch;
 *   - with one it keeps existing replicas where they are unless a rule
 *     forces a move (lost or drained node, capacity, spread, imbalance
 *     beyond the trigger band), and returns the plan from there.
 * docs/placement.md states the rules and the guarantees.
 */
#ifndef TAPESTRY_PLACER_H
#define TAPESTRY_PLACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLACER_MAX_REPLICAS 16
#define PLACER_ZONE_KEY "topology.kubernetes.io/zone"
/* Byte counts and their sums must stay below this (4 EiB), so that every
 * sum the placer forms fits a signed 64-bit integer. */
#define PLACER_MAX_BYTES (1ULL << 62)

enum placer_spread {
	PLACER_SPREAD_HARD,
	PLACER_SPREAD_SOFT,
};

struct placer_label {
	const char *key;
	const char *value;
};

/* A node of topology.json.  used_bytes is space taken by anything other
 * than the replicas of the volumes being placed. */
struct placer_node {
	const char *name;
	const struct placer_label *labels;
	size_t nlabels;
	uint64_t capacity_bytes;
	uint64_t used_bytes;
	bool schedulable;	/* false: drain it, place nothing new on it */
};

struct placer_volume {
	const char *name;
	uint64_t size_bytes;
	unsigned int replicas;		/* 1..PLACER_MAX_REPLICAS */
	enum placer_spread spread;
	const char *spread_key;		/* NULL: the zone key */
	const char *preferred_zone;	/* NULL: none */
};

struct placer_node_stat {
	const char *name;
	double p99_write_us;
	double p50_write_us;		/* reported, not used by the rules */
};

struct placer_zone_stat {
	const char *zone;
	double p99_write_us;
};

/* One volume of the current placement: replica node names, primary first.
 * A name that is not in the topology is a lost replica. */
struct placer_assignment {
	const char *volume;
	const char *const *replicas;
	size_t nreplicas;
};

struct placer_input {
	const struct placer_node *nodes;
	size_t nnodes;
	const struct placer_volume *volumes;
	size_t nvolumes;
	const struct placer_node_stat *node_stats;	/* optional */
	size_t nnode_stats;
	const struct placer_zone_stat *zone_stats;	/* optional */
	size_t nzone_stats;
	const struct placer_assignment *current;	/* optional */
	size_t ncurrent;
};

struct placer_opts {
	/* A node or zone whose p99 is over slow_factor x the cluster median
	 * is slow: no new replicas while others can take them, never the
	 * primary. */
	double slow_factor;
	/* Hysteresis: a node counts as recovered only once its p99 is at or
	 * below slow_factor x (1 - slow_band) x median.  Between the two
	 * thresholds the current primary stays, and none is promoted. */
	double slow_band;
	/* Rebalancing starts on a node only when its used bytes are off its
	 * target by more than balance_tolerance x the cluster's fill level
	 * plus twice the largest volume. */
	double balance_tolerance;
	const char *zone_key;
};

/* Latency class of a node. */
enum placer_latency {
	PLACER_LAT_FAST,
	PLACER_LAT_BAND,	/* inside the hysteresis band */
	PLACER_LAT_SLOW,
};

struct placer_vol_result {
	uint32_t nreplicas;
	/* Indices into input nodes, primary first, then read preference. */
	uint32_t replicas[PLACER_MAX_REPLICAS];
	const char *error;	/* owned by the result; NULL when all is well */
	const char *fallback;	/* soft spread fell back: why; else NULL */
	bool placed;		/* false: the volume has no replicas at all */
	bool pref_unknown;	/* preferred_zone names no zone: ignored */
	/* Every replica was lost: the current placement's names for them,
	 * borrowed from the input.  The placement keeps listing them so that
	 * the volume is neither forgotten nor recreated empty. */
	const char *const *lost;
	uint32_t nlost;
};

enum placer_action {
	PLACER_ADD,		/* copy a replica onto node (in sync after) */
	PLACER_PROMOTE,		/* make node the primary */
	PLACER_REMOVE,		/* drop the replica on node */
};

struct placer_step {
	enum placer_action action;
	uint32_t volume;	/* index into input volumes */
	const char *node;	/* borrowed from the input */
	uint64_t bytes;		/* PLACER_ADD only */
};

struct placer_move {
	uint32_t volume;
	const char *from;	/* NULL: an extra replica, nothing leaves */
	const char *to;
	uint64_t bytes;
};

struct placer_result {
	struct placer_vol_result *vols;	/* one per input volume, same order */
	size_t nvolumes;
	/* Moves of existing volumes' replicas; new volumes are not moves. */
	struct placer_move *moves;
	size_t nmoves;
	uint64_t moved_bytes;
	/* Per volume: adds, then a promote, then removes.  No volume ever has
	 * fewer in-sync replicas than at the start, unless volumes lowered its
	 * replica count; no add goes to a node without room, even counting
	 * space the plan frees only later. */
	struct placer_step *steps;
	size_t nsteps;
	size_t nerrors;
	size_t nfallbacks;
	size_t primaries_changed;
	uint8_t *node_latency;	/* per input node, enum placer_latency */
};

void placer_opts_default(struct placer_opts *o);

/* Place (in->current == NULL) or replan.  Borrows everything in in and o;
 * the result borrows node names from in, so in must outlive it.  Volumes
 * that cannot be placed get an error in the result and do not stop the
 * others.  Returns 0 and *out, -EINVAL for inconsistent input with a
 * message in err (e.g. duplicate names, a current volume missing from the
 * volume list), or -ENOMEM; on failure *out is NULL. */
int placer_run(const struct placer_input *in, const struct placer_opts *o,
	       struct placer_result **out, char *err, size_t errlen);

void placer_result_free(struct placer_result *r);

#endif /* TAPESTRY_PLACER_H */
