/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The placer's rules as properties over hundreds of seeded random clusters
 * (1..7 zones of 1..6 nodes, uneven capacities, 2..5 replicas, hard and
 * soft spread, preferred zones, latency stats), each placed, changed at
 * random and replanned; plus determinism, order independence, stability,
 * impossible requests and inconsistent input, with exact messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placer.h"
#include "placer_tc.h"

#define GiB (1ULL << 30)
/* Sized so that this file, run plain and under ASan/UBSan, stays within a
 * few seconds each. */
#define PROP_SEEDS 300
#define ORDER_SEEDS 40

static void gen_stats(struct tc *c, uint64_t *s)
{
	unsigned int i;

	for (i = 0; i < c->nn; i++)
		c->p99[i] = 800 + (double)(tc_rand(s) % 400);
	for (i = 0; i < c->nz; i++)
		c->zp99[i] = 900 + (double)(tc_rand(s) % 200);
	if (tc_rand(s) % 2 && c->nz)
		c->zp99[tc_rand(s) % c->nz] *= 10;
	if (tc_rand(s) % 4 == 0 && c->nn)
		c->p99[tc_rand(s) % c->nn] *= 10;
}

static void gen_volume(struct tc *c, uint64_t *s)
{
	uint64_t size = GiB * (1 + tc_rand(s) % 60);
	unsigned int R = 2 + (unsigned int)(tc_rand(s) % 4), n, nodes = 0;

	/* Mostly requests the cluster can meet; some it cannot. */
	for (n = 0; n < c->nn; n++)
		nodes += c->sched[n] && !c->gone[n];
	if (tc_rand(s) % 10 && R > nodes)
		R = nodes > 2 ? nodes : 2;
	enum placer_spread sp = tc_rand(s) % 4 ? PLACER_SPREAD_HARD :
						 PLACER_SPREAD_SOFT;
	int pref = tc_rand(s) % 5 ? -1 : (int)(tc_rand(s) % c->nz);

	n = tc_add_volume(c, size, R, sp, pref);
	if (tc_rand(s) % 10 == 0)	/* some spread by another label */
		c->vols[n].spread_key = "kubernetes.io/hostname";
}

/* Uneven everything: zone sizes, capacities (weights 1..4, scaled so the
 * volumes fill 25..95% of the cluster), pre-used space. */
static void gen_cluster(struct tc *c, uint64_t *s)
{
	unsigned int Z = 1 + (unsigned int)(tc_rand(s) % 7), z, k, N, V, n;
	uint64_t total = 0, wsum = 0, fill = 25 + tc_rand(s) % 71, per;

	for (z = 0; z < Z; z++) {
		tc_add_zone(c);
		N = 1 + (unsigned int)(tc_rand(s) % 6);
		for (k = 0; k < N; k++) {
			n = tc_add_node(c, z, 1 + tc_rand(s) % 4);
			wsum += c->cap[n];
			if (tc_rand(s) % 20 == 0)
				c->sched[n] = false;
		}
	}
	V = 20 + (unsigned int)(tc_rand(s) % 120);
	for (k = 0; k < V; k++) {
		gen_volume(c, s);
		total += c->vols[k].size_bytes * c->vols[k].replicas;
	}
	per = total * 100 / fill / wsum;
	for (n = 0; n < c->nn; n++) {
		c->cap[n] *= per;
		if (tc_rand(s) % 4 == 0)
			c->used[n] = c->cap[n] * (tc_rand(s) % 30) / 100;
	}
	if (tc_rand(s) % 3 == 0)
		gen_stats(c, s);
}

/* A random live node, or -1. */
static int some_node(const struct tc *c, uint64_t *s)
{
	unsigned int i, k = (unsigned int)(tc_rand(s) % c->nn);

	for (i = 0; i < c->nn; i++)
		if (!c->gone[(k + i) % c->nn])
			return (int)((k + i) % c->nn);
	return -1;
}

static void mutate(struct tc *c, uint64_t *s)
{
	unsigned int z, k, N, i;
	int n;

	switch (tc_rand(s) % 10) {
	case 0:	/* add a zone */
		if (c->nz == TC_MAXZ)
			break;
		z = tc_add_zone(c);
		N = 1 + (unsigned int)(tc_rand(s) % 5);
		for (k = 0; k < N; k++)
			tc_add_node(c, z, c->cap[0]);
		break;
	case 1:	/* lose a zone */
		z = (unsigned int)(tc_rand(s) % c->nz);
		for (i = 0; i < c->nn; i++)
			if (c->zone[i] == (int)z)
				c->gone[i] = true;
		break;
	case 2:	/* lose a node */
		if ((n = some_node(c, s)) >= 0)
			c->gone[n] = true;
		break;
	case 3:	/* drain a node */
		if ((n = some_node(c, s)) >= 0)
			c->sched[n] = false;
		break;
	case 4:	/* add a node */
		tc_add_node(c, (unsigned int)(tc_rand(s) % c->nz), c->cap[0]);
		break;
	case 5:	/* latency changes */
		gen_stats(c, s);
		break;
	case 6:	/* new volumes */
		for (k = 0; k < 10; k++)
			gen_volume(c, s);
		break;
	case 7:	/* a node shrinks: its replicas no longer fit */
		if ((n = some_node(c, s)) >= 0)
			c->cap[n] /= 3;
		break;
	case 8:	/* replica counts change */
		for (k = 0; k < c->nv; k += 7) {
			unsigned int R = c->vols[k].replicas;

			c->vols[k].replicas = k % 2 ? R + 1 : R - 1 ? R - 1 : 1;
		}
		break;
	default:
		break;
	}
}

/* Could a room check have stopped any move of r?  A node's room is
 * counted against its used bytes plus everything it held or gained during
 * the plan; if that left room for the largest volume everywhere, nothing
 * was stopped, and replanning after r must move nothing.  (Otherwise the
 * next plan may use the space r frees.) */
static bool room_was_tight(struct tc *c, const struct placer_result *r)
{
	static uint64_t held[TC_MAXN];
	uint64_t smax = 0;
	unsigned int v, j, k, n;
	bool had;

	tc_bytes_current(c, held);
	for (v = 0; v < c->nv; v++) {
		if (c->vols[v].size_bytes > smax)
			smax = c->vols[v].size_bytes;
		for (j = 0; j < r->vols[v].nreplicas; j++) {
			n = tc_node(c, r->vols[v].replicas[j]);
			had = false;
			for (k = 0; c->has_cur && k < c->cur_n[v]; k++)
				had |= !strcmp(c->cur[v][k], c->nname[n]);
			if (!had)
				held[n] += c->vols[v].size_bytes;
		}
	}
	for (n = 0; n < c->nn; n++)
		if (!c->gone[n] && c->used[n] + held[n] + smax > c->cap[n])
			return true;
	return false;
}

static void check_stable(struct tc *c, const struct placer_result *r)
{
	struct placer_result *again;

	tc_adopt(c, r);
	tc_input(c);
	again = tc_run(c);
	assert_int_equal(again->nsteps, 0);
	assert_int_equal(again->moved_bytes, 0);
	placer_result_free(again);
}

/* Place, check, replan unchanged; change, plan, check every step. */
static void one_seed(uint64_t seed)
{
	struct placer_result *r, *r2, *p, *p2;
	struct tc *c = tc_new();
	uint64_t s = seed;
	int round;
	bool tight;

	gen_cluster(c, &s);
	tc_input(c);
	r = tc_run(c);
	tc_check_layout(c, r);
	tc_check_steps(c, r);
	r2 = tc_run(c);
	tc_check_same(r, r2);
	placer_result_free(r2);
	check_stable(c, r);	/* a placement is a fixpoint */
	placer_result_free(r);

	mutate(c, &s);
	tc_input(c);
	p = tc_run(c);
	tc_check_layout(c, p);
	tc_check_steps(c, p);
	p2 = tc_run(c);
	tc_check_same(p, p2);
	placer_result_free(p2);
	/* Replanning after the plan moves nothing, unless the plan's own
	 * frees were what a rule or a waiting volume needed; then the
	 * daemon's loop of plans still comes to rest (no cycles). */
	tight = room_was_tight(c, p);
	for (round = 0;; round++) {
		tc_adopt(c, p);
		tc_input(c);
		p2 = tc_run(c);
		tc_check_layout(c, p2);
		tc_check_steps(c, p2);
		placer_result_free(p);
		p = p2;
		if (!p->nsteps)
			break;
		assert_true(tight);
		assert_true(round < 10);
	}
	placer_result_free(p);
	tc_free(c);
}

static void test_placer_properties_random(void **state)
{
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= PROP_SEEDS; seed++)
		one_seed(seed);
}

static void shuffle(void *base, size_t n, size_t size, uint64_t *s)
{
	char tmp[256], *a = base;
	size_t i, j;

	assert_true(size <= sizeof(tmp));
	for (i = n; i > 1; i--) {
		j = tc_rand(s) % i;
		memcpy(tmp, a + (i - 1) * size, size);
		memcpy(a + (i - 1) * size, a + j * size, size);
		memcpy(a + j * size, tmp, size);
	}
}

static size_t vol_index(const struct placer_input *in, const char *name)
{
	size_t i;

	for (i = 0; i < in->nvolumes; i++)
		if (!strcmp(in->volumes[i].name, name))
			return i;
	fail_msg("volume %s missing", name);
	return 0;
}

/* The same cluster listed in another order gets the same placement. */
static void test_placer_order_independent(void **state)
{
	static struct placer_node nodes[TC_MAXN];
	static struct placer_volume vols[TC_MAXV];
	struct placer_result *a, *b;
	struct placer_input in;
	uint64_t seed, s;
	size_t v, w, j;
	char err[256];

	(void)state;
	for (seed = 1000; seed < 1000 + ORDER_SEEDS; seed++) {
		struct tc *c = tc_new();

		s = seed;
		gen_cluster(c, &s);
		in = *tc_input(c);
		a = tc_run(c);
		memcpy(nodes, in.nodes, in.nnodes * sizeof(*nodes));
		memcpy(vols, in.volumes, in.nvolumes * sizeof(*vols));
		shuffle(nodes, in.nnodes, sizeof(*nodes), &s);
		shuffle(vols, in.nvolumes, sizeof(*vols), &s);
		in.nodes = nodes;
		in.volumes = vols;
		assert_int_equal(placer_run(&in, &c->opts, &b, err,
					    sizeof(err)), 0);
		for (v = 0; v < in.nvolumes; v++) {
			w = vol_index(&c->in, vols[v].name);
			assert_int_equal(a->vols[w].nreplicas,
					 b->vols[v].nreplicas);
			for (j = 0; j < b->vols[v].nreplicas; j++)
				assert_string_equal(
					c->in.nodes[a->vols[w].replicas[j]].name,
					nodes[b->vols[v].replicas[j]].name);
		}
		placer_result_free(a);
		placer_result_free(b);
		tc_free(c);
	}
}

static struct tc *even_cluster(unsigned int Z, unsigned int N, uint64_t cap)
{
	struct tc *c = tc_new();
	unsigned int z, k;

	for (z = 0; z < Z; z++) {
		tc_add_zone(c);
		for (k = 0; k < N; k++)
			tc_add_node(c, z, cap);
	}
	return c;
}

/* Used bytes max/mean <= 1.05 over schedulable nodes on a cluster large
 * enough: 5 zones of 8 nodes, 3,000 volumes of 1..20 GiB. */
static void test_placer_balance_large(void **state)
{
	static uint64_t bytes[TC_MAXN];
	struct tc *c = even_cluster(5, 8, 4000 * GiB);
	struct placer_result *r;
	uint64_t s = 7, max = 0, min = UINT64_MAX, sum = 0;
	unsigned int v, n;

	(void)state;
	for (v = 0; v < 3000; v++)
		tc_add_volume(c, GiB * (1 + tc_rand(&s) % 20), 3,
			      PLACER_SPREAD_HARD, -1);
	tc_input(c);
	r = tc_run(c);
	tc_check_layout(c, r);
	assert_int_equal(r->nerrors, 0);
	tc_bytes_result(c, r, bytes);
	for (n = 0; n < c->nn; n++) {
		sum += bytes[n];
		max = bytes[n] > max ? bytes[n] : max;
		min = bytes[n] < min ? bytes[n] : min;
	}
	assert_true((double)max * c->nn / (double)sum <= 1.05);
	assert_true((double)min * c->nn / (double)sum >= 0.95);
	placer_result_free(r);
	tc_free(c);
}

/* Fewer zones than replicas: counts per zone differ by at most one. */
static void test_placer_fewer_zones_than_replicas(void **state)
{
	struct tc *c = even_cluster(2, 4, 1000 * GiB);
	struct placer_result *r;
	unsigned int v, j, cnt[2];

	(void)state;
	for (v = 0; v < 60; v++)
		tc_add_volume(c, GiB * (1 + v % 7), v % 2 ? 3 : 5,
			      PLACER_SPREAD_HARD, -1);
	tc_input(c);
	r = tc_run(c);
	assert_int_equal(r->nerrors, 0);
	for (v = 0; v < c->nv; v++) {
		cnt[0] = cnt[1] = 0;
		for (j = 0; j < r->vols[v].nreplicas; j++)
			cnt[c->zone[tc_node(c, r->vols[v].replicas[j])]]++;
		assert_int_equal(cnt[0] + cnt[1], c->vols[v].replicas);
		assert_true(cnt[0] <= cnt[1] + 1 && cnt[1] <= cnt[0] + 1);
	}
	placer_result_free(r);
	tc_free(c);
}

/* Any label can be the spread key, and keys mix in one run: each volume
 * spreads by its own key (here hostnames: all replicas on distinct hosts,
 * even two in one zone), the others by zone. */
static void test_placer_other_spread_keys(void **state)
{
	struct tc *c = even_cluster(2, 4, 1000 * GiB);
	struct placer_result *r;
	unsigned int v, j, zones[2];

	(void)state;
	for (v = 0; v < 60; v++) {
		tc_add_volume(c, GiB * (1 + v % 5), v % 2 ? 4 : 2,
			      PLACER_SPREAD_HARD, -1);
		if (v % 2)
			c->vols[v].spread_key = "kubernetes.io/hostname";
	}
	tc_add_volume(c, GiB, 9, PLACER_SPREAD_HARD, -1);
	c->vols[60].spread_key = "kubernetes.io/hostname";
	tc_input(c);
	r = tc_run(c);
	for (v = 0; v < 60; v++) {
		assert_true(r->vols[v].placed);
		assert_null(r->vols[v].error);
		zones[0] = zones[1] = 0;
		for (j = 0; j < r->vols[v].nreplicas; j++)
			zones[c->zone[tc_node(c, r->vols[v].replicas[j])]]++;
		if (v % 2 == 0)	/* zone key, R = 2: one per zone */
			assert_true(zones[0] == 1 && zones[1] == 1);
	}
	assert_false(r->vols[60].placed);
	assert_string_equal(r->vols[60].error, "needs 9 replicas but only 8 "
			    "schedulable nodes have label "
			    "\"kubernetes.io/hostname\"");
	tc_check_layout(c, r);	/* distinct nodes, capacity */
	placer_result_free(r);
	tc_free(c);
}

/* Impossible requests get their own error; every other volume is placed. */
static void test_placer_impossible_volumes(void **state)
{
	struct tc *c = even_cluster(3, 1, 100 * GiB);
	struct placer_result *r;
	unsigned int v;

	(void)state;
	tc_add_volume(c, GiB, 4, PLACER_SPREAD_HARD, -1);
	tc_add_volume(c, 200 * GiB, 3, PLACER_SPREAD_HARD, -1);
	tc_add_volume(c, 200 * GiB, 2, PLACER_SPREAD_SOFT, -1);
	for (v = 0; v < 10; v++)
		tc_add_volume(c, GiB, 3, PLACER_SPREAD_HARD, v % 3);
	v = tc_add_volume(c, GiB, 3, PLACER_SPREAD_HARD, -1);
	c->vols[v].preferred_zone = "zone-x";	/* a typo: said, not fatal */
	tc_input(c);
	r = tc_run(c);
	assert_true(r->vols[v].placed);
	assert_true(r->vols[v].pref_unknown);
	assert_false(r->vols[0].placed);
	assert_string_equal(r->vols[0].error,
		"needs 4 replicas but only 3 schedulable nodes have label "
		"\"topology.kubernetes.io/zone\"");
	assert_false(r->vols[1].placed);
	assert_string_equal(r->vols[1].error,
		"no room for replica 1 of 3 (214748364800 bytes) under hard "
		"spread on \"topology.kubernetes.io/zone\"");
	assert_false(r->vols[2].placed);
	assert_string_equal(r->vols[2].error,
		"no room for replica 1 of 2 (214748364800 bytes) on any "
		"schedulable node");
	for (v = 3; v < c->nv - 1; v++) {
		assert_true(r->vols[v].placed);
		assert_null(r->vols[v].error);
		assert_false(r->vols[v].pref_unknown);
	}
	assert_int_equal(r->nerrors, 3);
	tc_check_layout(c, r);
	placer_result_free(r);
	tc_free(c);
}

/* Soft spread falls back and says so; hard spread refuses. */
static void test_placer_soft_fallback(void **state)
{
	struct tc *c = even_cluster(2, 2, 100 * GiB);
	struct placer_result *r;
	unsigned int z;

	(void)state;
	z = tc_add_zone(c);
	tc_add_node(c, z, 10 * GiB);	/* zone-c: too small */
	tc_add_volume(c, 40 * GiB, 3, PLACER_SPREAD_SOFT, -1);
	tc_add_volume(c, 40 * GiB, 3, PLACER_SPREAD_HARD, -1);
	tc_input(c);
	r = tc_run(c);
	assert_true(r->vols[0].placed);
	assert_int_equal(r->vols[0].nreplicas, 3);
	assert_null(r->vols[0].error);
	assert_non_null(r->vols[0].fallback);
	assert_true(!strcmp(r->vols[0].fallback, "2 replicas share "
			    "topology.kubernetes.io/zone \"zone-a\": no room "
			    "elsewhere") ||
		    !strcmp(r->vols[0].fallback, "2 replicas share "
			    "topology.kubernetes.io/zone \"zone-b\": no room "
			    "elsewhere"));
	assert_false(r->vols[1].placed);
	assert_string_equal(r->vols[1].error,
		"no room for replica 3 of 3 (42949672960 bytes) under hard "
		"spread on \"topology.kubernetes.io/zone\"");
	assert_int_equal(r->nfallbacks, 1);
	tc_check_layout(c, r);
	placer_result_free(r);
	tc_free(c);
}

/* A drain that nothing can absorb keeps the replica and says why. */
static void test_placer_drain_blocked(void **state)
{
	struct tc *c = even_cluster(3, 1, 100 * GiB);
	struct placer_result *r;

	(void)state;
	tc_add_volume(c, 10 * GiB, 3, PLACER_SPREAD_HARD, -1);
	tc_input(c);
	r = tc_run(c);
	tc_adopt(c, r);
	placer_result_free(r);
	c->sched[0] = false;
	tc_input(c);
	r = tc_run(c);
	assert_int_equal(r->nsteps, 0);
	assert_string_equal(r->vols[0].error, "replica on n000-a must move "
			    "(node unschedulable) but no node can take it");
	tc_check_layout(c, r);
	placer_result_free(r);
	tc_free(c);
}

/* All replicas lost: an error, never a silent empty volume. */
static void test_placer_all_replicas_lost(void **state)
{
	struct tc *c = even_cluster(3, 2, 100 * GiB);
	struct placer_result *r;
	unsigned int i;

	(void)state;
	tc_add_volume(c, 10 * GiB, 2, PLACER_SPREAD_HARD, -1);
	tc_input(c);
	r = tc_run(c);
	tc_adopt(c, r);
	for (i = 0; i < r->vols[0].nreplicas; i++)
		c->gone[tc_node(c, r->vols[0].replicas[i])] = true;
	placer_result_free(r);
	tc_input(c);
	r = tc_run(c);
	assert_false(r->vols[0].placed);
	assert_string_equal(r->vols[0].error, "all 2 replicas are on nodes "
			    "not in the topology");
	/* Still listed, by its old names: the next plan must not see a new,
	 * empty volume to create. */
	assert_int_equal(r->vols[0].nlost, 2);
	assert_string_equal(r->vols[0].lost[0], c->cur[0][0]);
	tc_adopt(c, r);
	placer_result_free(r);
	tc_input(c);
	r = tc_run(c);
	assert_int_equal(r->nsteps, 0);
	assert_int_equal(r->vols[0].nlost, 2);
	placer_result_free(r);
	tc_free(c);
}

/* The largest replica count: a replacement is copied before the replica it
 * replaces leaves, so a volume briefly holds R + 1 replicas.  With R = 16
 * that must neither overrun the placer's per-volume lists nor drop the
 * drained replica's remove from the plan.  Both a drain (repair) and an
 * added node (rebalancing moves) are replanned and replayed. */
static void test_placer_max_replicas_replan(void **state)
{
	struct tc *c = even_cluster(2, 8, 100 * GiB);
	struct placer_result *r;
	unsigned int v, j, drained, fresh, adds = 0, removes = 0, gone = 0;
	unsigned int on_fresh = 0;

	(void)state;
	for (v = 0; v < 6; v++) {
		tc_add_volume(c, GiB, 16, PLACER_SPREAD_HARD, -1);
		c->vols[v].spread_key = "kubernetes.io/hostname";
	}
	tc_input(c);
	r = tc_run(c);
	assert_int_equal(r->nerrors, 0);
	tc_adopt(c, r);
	placer_result_free(r);

	/* Two nodes join, then one old node drains. */
	fresh = tc_add_node(c, 0, 100 * GiB);
	tc_add_node(c, 1, 100 * GiB);
	drained = 3;
	c->sched[drained] = false;
	tc_input(c);
	r = tc_run(c);
	tc_check_layout(c, r);
	tc_check_steps(c, r);
	assert_int_equal(r->nerrors, 0);
	for (v = 0; v < c->nv; v++) {
		assert_int_equal(r->vols[v].nreplicas, 16);
		for (j = 0; j < 16; j++) {
			unsigned int n = tc_node(c, r->vols[v].replicas[j]);

			assert_int_not_equal(n, drained);
			on_fresh += n >= fresh;
		}
	}
	for (j = 0; j < r->nsteps; j++) {
		adds += r->steps[j].action == PLACER_ADD;
		removes += r->steps[j].action == PLACER_REMOVE;
		gone += r->steps[j].action == PLACER_REMOVE &&
			!strcmp(r->steps[j].node, c->nname[drained]);
	}
	/* Every volume had a replica on the drained node, and the new nodes
	 * took replicas by rebalancing too. */
	assert_int_equal(gone, c->nv);
	assert_int_equal(adds, removes);
	assert_true(adds > c->nv);
	assert_true(on_fresh > 0);
	assert_int_equal(r->moved_bytes, adds * GiB);
	placer_result_free(r);
	tc_free(c);
}

static void expect_einval(const struct placer_input *in, const char *msg)
{
	struct placer_result *r = (struct placer_result *)1;
	char err[256];

	assert_int_equal(placer_run(in, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_null(r);
	assert_string_equal(err, msg);
}

/* Inconsistent input is refused whole, with a message naming the culprit. */
static void test_placer_inconsistent_input(void **state)
{
	struct tc *c = even_cluster(2, 2, 100 * GiB);
	const char *twice[] = { "n000-a", "n000-a" };
	struct placer_assignment bad = { "nope", twice, 1 };
	struct placer_node_stat ns[2] = { { "n000-a", 1, 1 },
					  { "n000-a", 2, 1 } };
	struct placer_input in;

	(void)state;
	tc_add_volume(c, GiB, 2, PLACER_SPREAD_HARD, -1);
	in = *tc_input(c);
	c->in_nodes[1].name = "n000-a";
	expect_einval(&in, "duplicate node name \"n000-a\"");
	c->in_nodes[1].name = c->nname[1];
	in.current = &bad;
	in.ncurrent = 1;
	expect_einval(&in, "current placement: volume \"nope\" is not in "
		      "the volume list");
	bad.volume = "vol-00000";
	bad.nreplicas = 2;
	expect_einval(&in, "current placement: volume \"vol-00000\" lists "
		      "node \"n000-a\" twice");
	in.current = NULL;
	in.ncurrent = 0;
	in.node_stats = ns;
	in.nnode_stats = 2;
	expect_einval(&in, "stats: node \"n000-a\" listed twice");
	in.nnode_stats = 0;
	c->vols[0].replicas = 0;
	expect_einval(&in, "volume \"vol-00000\": replicas must be 1 to 16");
	tc_free(c);
}

/* Sizes times replicas that pass 2^64 are refused, not wrapped: 2^61 x 8
 * would be 0 in 64 bits and slip past the total. */
static void test_placer_volume_bytes_wrap(void **state)
{
	struct tc *c = even_cluster(8, 1, 1ULL << 58);
	struct placer_input in;

	(void)state;
	tc_add_volume(c, 1ULL << 61, 8, PLACER_SPREAD_HARD, -1);
	tc_add_volume(c, GiB, 3, PLACER_SPREAD_HARD, -1);
	in = *tc_input(c);
	expect_einval(&in, "total volume bytes too large");
	c->vols[0].size_bytes = 1ULL << 60;
	c->vols[0].replicas = 16;
	expect_einval(&in, "total volume bytes too large");
	c->vols[0].replicas = 4;	/* 2^62, the limit: one byte more */
	c->vols[1].size_bytes = 1;
	c->vols[1].replicas = 1;
	expect_einval(&in, "total volume bytes too large");
	c->vols[0].replicas = 3;
	tc_input(c);
	placer_result_free(tc_run(c));
	tc_free(c);
}

/* A p99 of 0 is an empty histogram (hist_percentile): a node or zone
 * that wrote nothing in the window, not one that is infinitely fast.
 * It is left out of the median, so idle nodes, however many, do not
 * hide a slow one (with half or more of them idle the median was 0 and
 * nothing was ever slow), and is itself never slow. */
static void test_placer_latency_zero_p99_is_no_measurement(void **state)
{
	struct tc *c = tc_new();
	struct placer_result *r;
	unsigned int z, n;

	(void)state;
	for (z = 0; z < 4; z++) {
		tc_add_zone(c);
		for (n = 0; n < 2; n++)
			tc_add_node(c, z, 1000 * GiB);
	}
	for (n = 0; n < 4; n++)
		tc_add_volume(c, GiB, 3, PLACER_SPREAD_HARD, -1);
	/* Nodes: five idle, two at 1 ms, node 5 at 10 ms. */
	for (n = 0; n < 8; n++)
		c->p99[n] = n < 5 ? 0 : 1000;
	c->p99[5] = 10000;
	tc_input(c);
	r = tc_run(c);
	assert_non_null(r);
	for (n = 0; n < 8; n++)
		assert_int_equal(r->node_latency[n],
				 n == 5 ? PLACER_LAT_SLOW : PLACER_LAT_FAST);
	placer_result_free(r);
	/* Zones: two idle, zone 2 at 10x zone 3. */
	for (n = 0; n < 8; n++)
		c->p99[n] = -1;
	c->zp99[0] = c->zp99[1] = 0;
	c->zp99[2] = 10000;
	c->zp99[3] = 1000;
	tc_input(c);
	r = tc_run(c);
	assert_non_null(r);
	for (n = 0; n < 8; n++)
		assert_int_equal(r->node_latency[n], n / 2 == 2 ?
				 PLACER_LAT_SLOW : PLACER_LAT_FAST);
	placer_result_free(r);
	tc_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_placer_properties_random),
		cmocka_unit_test(test_placer_order_independent),
		cmocka_unit_test(test_placer_balance_large),
		cmocka_unit_test(test_placer_fewer_zones_than_replicas),
		cmocka_unit_test(test_placer_other_spread_keys),
		cmocka_unit_test(test_placer_impossible_volumes),
		cmocka_unit_test(test_placer_soft_fallback),
		cmocka_unit_test(test_placer_drain_blocked),
		cmocka_unit_test(test_placer_all_replicas_lost),
		cmocka_unit_test(test_placer_max_replicas_replan),
		cmocka_unit_test(test_placer_inconsistent_input),
		cmocka_unit_test(test_placer_volume_bytes_wrap),
		cmocka_unit_test(test_placer_latency_zero_p99_is_no_measurement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
