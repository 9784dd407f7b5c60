/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_tc: test clusters for the placer's unit tests, and checkers that
 * verify the placer's rules from the outside, with their own code (no
 * placer helper is trusted to check the placer).
 *
 * A cluster keeps every node it ever had; removed nodes are marked gone
 * and left out of the input, so names in a current placement stay valid
 * strings and lost replicas can be told apart.
 */
#ifndef TAPESTRY_PLACER_TC_H
#define TAPESTRY_PLACER_TC_H

#include <stdbool.h>
#include <stdint.h>

#include "placer.h"

#define TC_MAXN 320
#define TC_MAXZ 12
#define TC_MAXV 6000
#define TC_NAME 24

struct tc {
	/* Every node ever added, by tc index. */
	char nname[TC_MAXN][TC_NAME];
	struct placer_label lab[TC_MAXN][2];
	uint64_t cap[TC_MAXN], used[TC_MAXN];
	int zone[TC_MAXN];
	bool sched[TC_MAXN], gone[TC_MAXN];
	double p99[TC_MAXN];		/* < 0: no stat */
	unsigned int nn;
	char zname[TC_MAXZ][TC_NAME];
	double zp99[TC_MAXZ];
	unsigned int nz;
	struct placer_volume vols[TC_MAXV];
	char vname[TC_MAXV][TC_NAME];
	unsigned int nv;
	/* The current placement, by volume (tc index = input index). */
	bool has_cur;
	unsigned int cur_n[TC_MAXV];
	const char *cur[TC_MAXV][PLACER_MAX_REPLICAS];
	struct placer_opts opts;
	/* Built by tc_input(). */
	struct placer_node in_nodes[TC_MAXN];
	unsigned int in_map[TC_MAXN];	/* input index -> tc index */
	struct placer_node_stat in_nst[TC_MAXN];
	struct placer_zone_stat in_zst[TC_MAXZ];
	struct placer_assignment in_cur[TC_MAXV];
	struct placer_input in;
};

struct tc *tc_new(void);
void tc_free(struct tc *c);
unsigned int tc_add_zone(struct tc *c);
unsigned int tc_add_node(struct tc *c, unsigned int zone, uint64_t cap);
unsigned int tc_add_volume(struct tc *c, uint64_t size, unsigned int R,
			   enum placer_spread spread, int pref_zone);
/* Build c->in from the cluster (nodes not gone, stats, current). */
const struct placer_input *tc_input(struct tc *c);
/* Run the placer on c->in (call tc_input first); asserts success. */
struct placer_result *tc_run(struct tc *c);
/* Make r (a result on c->in) the current placement. */
void tc_adopt(struct tc *c, const struct placer_result *r);
/* tc index of the node at input index i of the last tc_input(). */
unsigned int tc_node(const struct tc *c, uint32_t i);

/* Every rule on the final layout of r: sizes, distinct nodes, spread,
 * capacity; problems must be reported.  With a current placement, a node
 * over capacity is allowed only if it was so before and gained nothing. */
void tc_check_layout(struct tc *c, const struct placer_result *r);
/* Replay r's steps from the current placement: adds land on schedulable
 * nodes with room at that moment, in-sync replicas never drop below
 * min(before, wanted), the end state is r's layout, moved_bytes adds up. */
void tc_check_steps(struct tc *c, const struct placer_result *r);
/* Two results are the same, field by field. */
void tc_check_same(const struct placer_result *a,
		   const struct placer_result *b);
/* Bytes on each tc node (before: the current placement; after: r). */
void tc_bytes_current(const struct tc *c, uint64_t *bytes);
void tc_bytes_result(const struct tc *c, const struct placer_result *r,
		     uint64_t *bytes);

uint64_t tc_rand(uint64_t *s);

#endif /* TAPESTRY_PLACER_TC_H */
