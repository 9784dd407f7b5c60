/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Movement and latency: how much the placer moves when the cluster
 * changes, against a theoretical minimum this file computes on its own,
 * and how it treats slow zones and nodes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placer.h"
#include "placer_tc.h"

#define GiB (1ULL << 30)
#define N_PER_ZONE 6
#define VOLUMES 2000

/* Z zones of N equal nodes; V volumes of 4..16 GiB; half full. */
static struct tc *cluster(unsigned int Z, unsigned int R, uint64_t seed)
{
	struct tc *c = tc_new();
	uint64_t s = seed, total = 0, cap;
	unsigned int z, k, v;

	for (v = 0; v < VOLUMES; v++) {
		tc_add_volume(c, GiB * (4 + tc_rand(&s) % 13), R,
			      PLACER_SPREAD_HARD, -1);
		total += c->vols[v].size_bytes * R;
	}
	cap = total / (Z * N_PER_ZONE) * 2;
	for (z = 0; z < Z; z++) {
		tc_add_zone(c);
		for (k = 0; k < N_PER_ZONE; k++)
			tc_add_node(c, z, cap);
	}
	return c;
}

static struct placer_result *place_and_adopt(struct tc *c)
{
	struct placer_result *r;

	tc_input(c);
	r = tc_run(c);
	assert_int_equal(r->nerrors, 0);
	tc_adopt(c, r);
	return r;
}

static struct placer_result *replan(struct tc *c)
{
	struct placer_result *p;

	tc_input(c);
	p = tc_run(c);
	tc_check_layout(c, p);
	tc_check_steps(c, p);
	assert_int_equal(p->nerrors, 0);
	return p;
}

static int node_by_name(const struct tc *c, const char *name)
{
	unsigned int i;

	for (i = 0; i < c->nn; i++)
		if (!strcmp(c->nname[i], name))
			return (int)i;
	return -1;
}

/* The least bytes any placer must move from the current placement to an
 * even spread that obeys the rules.  Two lower bounds, take the larger:
 *   - an even spread puts total/S bytes on each of the S schedulable
 *     nodes, so every node below that must receive the difference;
 *   - replicas on gone or drained nodes must move, and so must those over
 *     ceil(R/D) in one zone of the D zones left. */
static uint64_t theoretical_min(const struct tc *c)
{
	static uint64_t before[TC_MAXN];
	uint64_t total = 0, even, need = 0, forced = 0;
	unsigned int n, S = 0, D = 0, v, j, z, top, cnt[TC_MAXZ];
	bool zone_ok[TC_MAXZ] = { false };
	int nd;

	tc_bytes_current(c, before);
	for (n = 0; n < c->nn; n++) {
		total += before[n];
		if (c->gone[n] || !c->sched[n])
			continue;
		S++;
		if (!zone_ok[c->zone[n]])
			D++;
		zone_ok[c->zone[n]] = true;
	}
	even = total / S;
	for (n = 0; n < c->nn; n++)
		if (!c->gone[n] && c->sched[n] && before[n] < even)
			need += even - before[n];
	for (v = 0; v < c->nv; v++) {
		top = (c->vols[v].replicas + D - 1) / D;
		memset(cnt, 0, sizeof(cnt));
		for (j = 0; j < c->cur_n[v]; j++) {
			nd = node_by_name(c, c->cur[v][j]);
			if (c->gone[nd] || !c->sched[nd])
				forced += c->vols[v].size_bytes;
			else
				cnt[c->zone[nd]]++;
		}
		for (z = 0; z < c->nz; z++)
			if (cnt[z] > top)
				forced += (cnt[z] - top) * c->vols[v].size_bytes;
	}
	return need > forced ? need : forced;
}

/* Used bytes max/mean and min/mean over schedulable nodes. */
static void balance(const struct tc *c, const struct placer_result *r,
		    double *max_mean, double *min_mean)
{
	static uint64_t bytes[TC_MAXN];
	uint64_t sum = 0, max = 0, min = UINT64_MAX;
	unsigned int n, S = 0;

	tc_bytes_result(c, r, bytes);
	for (n = 0; n < c->nn; n++) {
		if (c->gone[n] || !c->sched[n])
			continue;
		S++;
		sum += bytes[n];
		max = bytes[n] > max ? bytes[n] : max;
		min = bytes[n] < min ? bytes[n] : min;
	}
	*max_mean = (double)max * S / (double)sum;
	*min_mean = (double)min * S / (double)sum;
}

static void check_moved(const struct tc *c, const struct placer_result *p,
			uint64_t min, bool balanced)
{
	double hi, lo;

	if (p->moved_bytes > min + min / 20)
		fail_msg("moved %llu > 1.05 x minimum %llu",
			 (unsigned long long)p->moved_bytes,
			 (unsigned long long)min);
	if (!balanced)
		return;
	balance(c, p, &hi, &lo);
	if (hi > 1.05 || lo < 0.95)
		fail_msg("after: max/mean %.4f, min/mean %.4f", hi, lo);
}

/* Adding a zone moves at most 1.05 x the minimum, and ends balanced: from
 * one zone (every replica must spread out) to many (only the new zone's
 * share moves), fewer zones than replicas and more. */
static void test_placer_move_add_zone(void **state)
{
	static const unsigned int cfg[][2] = {
		{ 1, 2 }, { 1, 3 }, { 2, 3 }, { 3, 3 }, { 4, 3 },
		{ 5, 3 }, { 3, 2 }, { 5, 5 }, { 6, 4 },
	};
	struct placer_result *r, *p;
	unsigned int i, k, z;
	uint64_t min;

	(void)state;
	for (i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		struct tc *c = cluster(cfg[i][0], cfg[i][1], 100 + i);

		r = place_and_adopt(c);
		z = tc_add_zone(c);
		for (k = 0; k < N_PER_ZONE; k++)
			tc_add_node(c, z, c->cap[0]);
		min = theoretical_min(c);
		p = replan(c);
		assert_true(min > 0);
		check_moved(c, p, min, true);
		placer_result_free(p);
		placer_result_free(r);
		tc_free(c);
	}
}

/* One node more: it fills to its share, from the most loaded nodes. */
static void test_placer_move_add_node(void **state)
{
	static const unsigned int cfg[][2] = {
		{ 4, 3 }, { 5, 3 }, { 3, 2 }, { 6, 4 },
	};
	struct placer_result *r, *p;
	uint64_t min;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		struct tc *c = cluster(cfg[i][0], cfg[i][1], 200 + i);

		r = place_and_adopt(c);
		tc_add_node(c, 0, c->cap[0]);
		min = theoretical_min(c);
		p = replan(c);
		assert_true(p->moved_bytes > 0);
		check_moved(c, p, min, true);
		placer_result_free(p);
		placer_result_free(r);
		tc_free(c);
	}
}

/* The trigger band is balance_tolerance x the fill level + 2 x the largest
 * volume, whatever the zones.  A node added to a half-full cluster is
 * short of its target by less than the fill level, so at tolerance 1
 * nothing moves.  With as many zones as replicas (3 and 3, 2 and 2) every
 * zone's share is fixed by the spread rule, the level search was satisfied
 * at 0, and the band shrank to 2 x the largest volume: the tolerance had
 * no effect at all. */
static void test_placer_move_tolerance_sets_band(void **state)
{
	static const unsigned int cfg[][2] = {
		{ 3, 3 }, { 2, 2 }, { 4, 3 }, { 3, 2 },
	};
	struct placer_result *r, *p;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		struct tc *c = cluster(cfg[i][0], cfg[i][1], 250 + i);

		r = place_and_adopt(c);
		tc_add_node(c, 0, c->cap[0]);
		c->opts.balance_tolerance = 1;
		p = replan(c);
		if (p->nmoves)
			fail_msg("%u zones, %u replicas: %zu moves inside the "
				 "band", cfg[i][0], cfg[i][1], p->nmoves);
		placer_result_free(p);
		placer_result_free(r);
		tc_free(c);
	}
}

/* Zones of a volume's replicas in r, except on node skip. */
static unsigned int zones_of(const struct tc *c, const struct placer_result *r,
			     unsigned int v, int skip, bool *used)
{
	unsigned int j, n, k = 0;

	memset(used, 0, TC_MAXZ * sizeof(*used));
	for (j = 0; j < r->vols[v].nreplicas; j++) {
		n = tc_node(c, r->vols[v].replicas[j]);
		if ((int)n == skip)
			continue;
		k += !used[c->zone[n]];
		used[c->zone[n]] = true;
	}
	return k;
}

/* Only replicas on the lost (or drained) nodes move; each goes to a zone
 * the volume does not use, when there are zones enough. */
static void check_only_affected(const struct tc *c, const struct placer_result
				*before_in, const struct placer_result *p,
				unsigned int D)
{
	unsigned int v, j, on_lost, moved;
	bool used[TC_MAXZ];
	size_t i;
	int from, to;

	for (i = 0; i < p->nmoves; i++) {
		from = node_by_name(c, p->moves[i].from);
		to = node_by_name(c, p->moves[i].to);
		assert_true(from >= 0 && to >= 0);
		assert_true(c->gone[from] || !c->sched[from]);
		if (D < c->vols[p->moves[i].volume].replicas)
			continue;
		zones_of(c, p, p->moves[i].volume, to, used);
		assert_false(used[c->zone[to]]);
	}
	for (v = 0; v < c->nv; v++) {
		on_lost = moved = 0;
		for (j = 0; j < c->cur_n[v]; j++) {
			from = node_by_name(c, c->cur[v][j]);
			on_lost += c->gone[from] || !c->sched[from];
		}
		for (i = 0; i < p->nmoves; i++)
			moved += p->moves[i].volume == v;
		assert_int_equal(moved, on_lost);
	}
	(void)before_in;
}

static void test_placer_move_lose_zone(void **state)
{
	static const unsigned int cfg[][2] = {
		{ 4, 3 }, { 5, 3 }, { 3, 3 }, { 6, 5 }, { 3, 2 },
	};
	struct placer_result *r, *p;
	unsigned int i, n, Z;

	(void)state;
	for (i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		struct tc *c = cluster(cfg[i][0], cfg[i][1], 300 + i);

		Z = cfg[i][0];
		r = place_and_adopt(c);
		for (n = 0; n < c->nn; n++)
			c->gone[n] = c->zone[n] == (int)Z - 1;
		p = replan(c);
		assert_true(p->nmoves > 0);
		assert_int_equal(p->moved_bytes, theoretical_min(c));
		check_only_affected(c, r, p, Z - 1);
		placer_result_free(p);
		placer_result_free(r);
		tc_free(c);
	}
}

static void test_placer_move_lose_or_drain_node(void **state)
{
	struct placer_result *r, *p;
	int drain;

	(void)state;
	for (drain = 0; drain < 2; drain++) {
		struct tc *c = cluster(5, 3, 400 + drain);

		r = place_and_adopt(c);
		if (drain)
			c->sched[7] = false;
		else
			c->gone[7] = true;
		p = replan(c);
		assert_true(p->nmoves > 0);
		assert_int_equal(p->moved_bytes, theoretical_min(c));
		check_only_affected(c, r, p, 5);
		placer_result_free(p);
		placer_result_free(r);
		tc_free(c);
	}
}

/* The least bytes whose leaving brings a node holding sizes[0..n) within
 * cap: every subset is tried. */
static uint64_t least_shed(const uint64_t *sizes, unsigned int n, uint64_t cap)
{
	uint64_t best = UINT64_MAX, out, in;
	unsigned int m, k;

	for (m = 0; m < 1u << n; m++) {
		for (out = in = 0, k = 0; k < n; k++)
			*(m >> k & 1 ? &out : &in) += sizes[k];
		if (in <= cap && out < best)
			best = out;
	}
	return best;
}

/* A node whose capacity shrank sheds only what it must.  One node holds
 * R=1 volumes of random sizes and shrinks; a roomy node beside it can take
 * anything.  Whatever leaves must be needed: putting any one of them back
 * would overfill the node again; and it must be the least that can leave
 * (every subset tried).  With 10, 3, 2 and 1 bytes on a node 10 bytes
 * over, that is the 10 alone (smallest first moved all four, 16 bytes);
 * with 8, 6, 4 and 3 on a node 11 over, the 8 and the 3 (smallest first,
 * then keeping back what fits, moved 6, 4 and 3: 13 bytes). */
static void test_placer_move_over_capacity_sheds_only_needed(void **state)
{
	static const uint64_t fixed[2][4] = { { 10, 3, 2, 1 }, { 8, 6, 4, 3 } };
	static const uint64_t fixed_cap[2] = { 6, 10 }, fixed_moved[2] = { 10, 11 };
	uint64_t s = 77, sizes[6], total, kept;
	unsigned int round, k, nvol, j;
	struct placer_result *p;

	(void)state;
	for (round = 0; round < 200; round++) {
		struct tc *c = tc_new();
		unsigned int x, z = tc_add_zone(c);

		nvol = round > 1 ? 1 + (unsigned int)(tc_rand(&s) % 6) : 4;
		x = tc_add_node(c, z, 1000);
		tc_add_node(c, z, 1000);
		total = 0;
		for (k = 0; k < nvol; k++) {
			sizes[k] = round > 1 ? 1 + tc_rand(&s) % 20 :
					       fixed[round][k];
			tc_add_volume(c, sizes[k], 1, PLACER_SPREAD_HARD, -1);
			c->cur_n[k] = 1;
			c->cur[k][0] = c->nname[x];
			total += sizes[k];
		}
		c->has_cur = true;
		c->cap[x] = round > 1 ? tc_rand(&s) % total : fixed_cap[round];
		p = replan(c);
		kept = 0;
		for (k = 0; k < nvol; k++)
			if (tc_node(c, p->vols[k].replicas[0]) == x)
				kept += sizes[k];
		assert_true(kept <= c->cap[x]);
		assert_int_equal(p->moved_bytes, total - kept);
		for (k = 0; k < nvol; k++)
			if (tc_node(c, p->vols[k].replicas[0]) != x &&
			    kept + sizes[k] <= c->cap[x])
				fail_msg("round %u: moved %llu bytes off a node "
					 "that had room for them (%llu of %llu "
					 "kept)", round,
					 (unsigned long long)sizes[k],
					 (unsigned long long)kept,
					 (unsigned long long)c->cap[x]);
		assert_int_equal(p->moved_bytes,
				 least_shed(sizes, nvol, c->cap[x]));
		if (round <= 1)
			assert_int_equal(p->moved_bytes, fixed_moved[round]);
		for (j = 0; j < p->nsteps; j++)
			assert_true(p->steps[j].action != PLACER_ADD ||
				    strcmp(p->steps[j].node, c->nname[x]));
		placer_result_free(p);
		tc_free(c);
	}
}

/* A node over capacity sheds replicas that have somewhere to go.  Two
 * nodes in one zone: x (100 bytes) and y (10) both hold v0 (1 byte) and
 * v1 (3 bytes), R=2, and y also holds v2 (8 bytes, R=1): 12 on y.  The
 * smallest that free 2 bytes are v1's 3, but v1 has no other node to go
 * to (x holds it already), so the greedy choice failed with an error;
 * moving v2 to x (8 bytes) fixes y. */
static void test_placer_move_over_capacity_sheds_what_can_go(void **state)
{
	struct tc *c = tc_new();
	unsigned int z = tc_add_zone(c), x, y, v;
	struct placer_result *p;

	(void)state;
	x = tc_add_node(c, z, 100);
	y = tc_add_node(c, z, 10);
	tc_add_volume(c, 1, 2, PLACER_SPREAD_HARD, -1);
	tc_add_volume(c, 3, 2, PLACER_SPREAD_HARD, -1);
	tc_add_volume(c, 8, 1, PLACER_SPREAD_HARD, -1);
	c->has_cur = true;
	for (v = 0; v < 2; v++) {
		c->cur_n[v] = 2;
		c->cur[v][0] = c->nname[x];
		c->cur[v][1] = c->nname[y];
	}
	c->cur_n[2] = 1;
	c->cur[2][0] = c->nname[y];
	p = replan(c);
	assert_int_equal(p->nerrors, 0);
	assert_int_equal(p->moved_bytes, 8);
	assert_int_equal(p->nmoves, 1);
	assert_string_equal(p->moves[0].from, c->nname[y]);
	assert_string_equal(p->moves[0].to, c->nname[x]);
	placer_result_free(p);
	tc_free(c);
}

/* A replica that leaves an over-full node for another rule frees room the
 * capacity rule then need not.  Node x (zone b, 10 bytes) holds v0 (7
 * bytes, both replicas in zone b) and v1 (5 bytes): 2 over.  v0 must put
 * a replica in zone a anyway, and the one on x is the one to move; then x
 * holds 5 and v1 stays.  Moving v1 as well cost 12 bytes for 7. */
static void test_placer_move_over_capacity_counts_other_leavers(void **state)
{
	struct tc *c = tc_new();
	unsigned int za = tc_add_zone(c), zb = tc_add_zone(c), z, x, y, w;
	struct placer_result *p;

	(void)state;
	z = tc_add_node(c, za, 100);
	w = tc_add_node(c, za, 100);
	x = tc_add_node(c, zb, 100);
	y = tc_add_node(c, zb, 100);
	tc_add_volume(c, 7, 2, PLACER_SPREAD_HARD, -1);
	tc_add_volume(c, 5, 2, PLACER_SPREAD_HARD, -1);
	c->has_cur = true;
	c->cur_n[0] = c->cur_n[1] = 2;
	c->cur[0][0] = c->nname[x];
	c->cur[0][1] = c->nname[y];
	c->cur[1][0] = c->nname[x];
	c->cur[1][1] = c->nname[z];
	c->cap[x] = 10;
	p = replan(c);
	assert_int_equal(p->moved_bytes, 7);
	assert_int_equal(p->nmoves, 1);
	assert_string_equal(p->moves[0].from, c->nname[x]);
	assert_string_equal(p->moves[0].to, c->nname[w]);
	placer_result_free(p);
	tc_free(c);
}

/* Of two replicas crowding a domain, the one on an over-full node moves:
 * that also makes the room the capacity rule wants.  v0 (9 bytes) has both
 * replicas in zone b, on x and on y; x (10 bytes) also holds v1 (2 bytes),
 * 1 over; y is the more loaded (v2, 20 bytes).  Moving v0 off x costs 9;
 * moving it off y and then v1 off x cost 11. */
static void test_placer_move_spread_leaver_from_over_full_node(void **state)
{
	struct tc *c = tc_new();
	unsigned int za = tc_add_zone(c), zb = tc_add_zone(c), w, x, y;
	struct placer_result *p;

	(void)state;
	w = tc_add_node(c, za, 100);
	x = tc_add_node(c, zb, 100);
	y = tc_add_node(c, zb, 100);
	tc_add_volume(c, 9, 2, PLACER_SPREAD_HARD, -1);
	tc_add_volume(c, 2, 1, PLACER_SPREAD_HARD, -1);
	tc_add_volume(c, 20, 1, PLACER_SPREAD_HARD, -1);
	c->has_cur = true;
	c->cur_n[0] = 2;
	c->cur[0][0] = c->nname[x];
	c->cur[0][1] = c->nname[y];
	c->cur_n[1] = c->cur_n[2] = 1;
	c->cur[1][0] = c->nname[x];
	c->cur[2][0] = c->nname[y];
	c->cap[x] = 10;
	p = replan(c);
	assert_int_equal(p->moved_bytes, 9);
	assert_int_equal(p->nmoves, 1);
	assert_string_equal(p->moves[0].from, c->nname[x]);
	assert_string_equal(p->moves[0].to, c->nname[w]);
	placer_result_free(p);
	tc_free(c);
}

/* Lowering a replica count drops replicas and copies none.  With 4
 * replicas in 3 zones one zone holds two; at 3 replicas that zone must
 * give one up.  Dropping the extra elsewhere (the most loaded node, in a
 * zone with one replica) made the spread rule copy a replica back into
 * that zone: a full copy per volume, for nothing. */
static void test_placer_move_lower_replicas_copies_nothing(void **state)
{
	struct placer_result *r, *p;
	uint64_t seed, s;
	unsigned int v, z, k;

	(void)state;
	for (seed = 1; seed <= 5; seed++) {
		struct tc *c = tc_new();

		s = seed;
		for (z = 0; z < 3; z++) {
			tc_add_zone(c);
			for (k = 0; k < 3; k++)
				tc_add_node(c, z, 1000 * GiB);
		}
		for (v = 0; v < 40; v++)
			tc_add_volume(c, GiB * (1 + tc_rand(&s) % 20), 4,
				      PLACER_SPREAD_HARD, -1);
		r = place_and_adopt(c);
		for (v = 0; v < 40; v++)
			c->vols[v].replicas = 3;
		p = replan(c);
		assert_int_equal(p->nmoves, 0);
		assert_int_equal(p->moved_bytes, 0);
		for (k = 0; k < p->nsteps; k++)
			assert_int_not_equal(p->steps[k].action, PLACER_ADD);
		placer_result_free(p);
		placer_result_free(r);
		tc_free(c);
	}
}

/* --- brute force on tiny inputs ----------------------------------------- */

#define BF_SEEDS 3000

/* Does node set m obey the spread rule for R replicas on c's zones? */
static bool bf_spread_ok(const struct tc *c, unsigned int m, unsigned int R)
{
	unsigned int cnt[TC_MAXZ] = { 0 }, n, z, lo = UINT32_MAX, hi = 0;
	bool elig[TC_MAXZ] = { false };

	if ((unsigned int)__builtin_popcount(m) != R)
		return false;
	for (n = 0; n < c->nn; n++)
		elig[c->zone[n]] |= !c->gone[n] && c->sched[n];
	for (n = 0; n < c->nn; n++)
		if (m >> n & 1) {
			if (c->gone[n] || !c->sched[n])
				return false;
			cnt[c->zone[n]]++;
		}
	for (z = 0; z < c->nz; z++)
		if (elig[z]) {
			lo = cnt[z] < lo ? cnt[z] : lo;
			hi = cnt[z] > hi ? cnt[z] : hi;
		}
	return hi - lo <= 1;
}

/* The least bytes any plan must copy to take one volume from live (node
 * set) to a layout obeying the rules, or UINT64_MAX if none does: every
 * node set of R is tried.  A kept replica must fit its node; a new one
 * must fit beside everything the node held at the start. */
static uint64_t bf_least(const struct tc *c, unsigned int live, unsigned int R,
			 uint64_t size)
{
	uint64_t best = UINT64_MAX, cost;
	unsigned int m, n;
	bool ok;

	for (m = 0; m < 1u << c->nn; m++) {
		if (!bf_spread_ok(c, m, R))
			continue;
		ok = true;
		cost = 0;
		for (n = 0; n < c->nn && ok; n++) {
			uint64_t held = (live >> n & 1) ? size : 0;

			if (!(m >> n & 1))
				continue;
			ok = c->used[n] + held + (held ? 0 : size) <= c->cap[n];
			cost += held ? 0 : size;
		}
		if (ok && cost < best)
			best = cost;
	}
	return best;
}

/* A tiny random cluster drawn from *s: 1..zmax zones, 2..nmax nodes of
 * room 5..24, some drained or gone, some pre-used.  Returns the nodes. */
static unsigned int bf_cluster(struct tc *c, uint64_t *s, unsigned int zmax,
			       unsigned int nmax)
{
	unsigned int Z, N, i, n;

	Z = 1 + (unsigned int)(tc_rand(s) % zmax);
	for (i = 0; i < Z; i++)
		tc_add_zone(c);
	N = 2 + (unsigned int)(tc_rand(s) % (nmax - 1));
	for (i = 0; i < N; i++) {
		n = tc_add_node(c, (unsigned int)(tc_rand(s) % Z),
				5 + tc_rand(s) % 20);
		c->sched[n] = tc_rand(s) % 6 != 0;
		c->gone[n] = tc_rand(s) % 8 == 0;
		if (tc_rand(s) % 3 == 0)
			c->used[n] = tc_rand(s) % 10;
	}
	return N;
}

/* Volume v (R replicas wanted) starts on 1..R+1 random nodes of the N,
 * drawn from *s.  Returns the set of those that are not gone. */
static unsigned int bf_start(struct tc *c, uint64_t *s, unsigned int v,
			     unsigned int R, unsigned int N)
{
	unsigned int k, n, init, live = 0;

	k = 1 + (unsigned int)(tc_rand(s) % (R + 1));
	k = k > N ? N : k;
	do
		init = (unsigned int)(tc_rand(s) % (1u << N));
	while ((unsigned int)__builtin_popcount(init) != k);
	c->has_cur = true;
	for (n = 0; n < N; n++) {
		if (!(init >> n & 1))
			continue;
		c->cur[v][c->cur_n[v]++] = c->nname[n];
		live |= (unsigned int)!c->gone[n] << n;
	}
	return live;
}

/* Place c with rebalancing held off (tolerance 1); checks the layout and
 * step rules.  The caller frees the result. */
static struct placer_result *bf_run(struct tc *c)
{
	struct placer_result *p;

	c->opts.balance_tolerance = 1;
	tc_input(c);
	p = tc_run(c);
	tc_check_layout(c, p);
	tc_check_steps(c, p);
	return p;
}

/* One volume on a tiny random cluster (1..4 zones, 2..8 nodes, some
 * drained or gone, some pre-used), starting on 1..R+1 random nodes, R
 * possibly just lowered.  Rebalancing is held off (tolerance 1), so the
 * placer must fix the volume whenever some layout does, and copy exactly
 * the least bytes the brute force finds. */
static void test_placer_move_brute_force_single_volume(void **state)
{
	uint64_t seed, s, size, least;
	unsigned int N, R, live;
	struct placer_result *p;

	(void)state;
	for (seed = 1; seed <= BF_SEEDS; seed++) {
		struct tc *c = tc_new();

		s = seed * 7;
		N = bf_cluster(c, &s, 4, 8);
		R = 1 + (unsigned int)(tc_rand(&s) % 4);
		size = 1 + tc_rand(&s) % 10;
		tc_add_volume(c, size, R, tc_rand(&s) % 2 ? PLACER_SPREAD_SOFT :
				PLACER_SPREAD_HARD, -1);
		live = bf_start(c, &s, 0, R, N);
		least = live ? bf_least(c, live, R, size) : UINT64_MAX;
		p = bf_run(c);
		if (least != UINT64_MAX &&
		    (p->vols[0].error || p->vols[0].fallback ||
		     p->moved_bytes != least))
			fail_msg("seed %llu: least %llu, moved %llu (%s)",
				 (unsigned long long)seed,
				 (unsigned long long)least,
				 (unsigned long long)p->moved_bytes,
				 p->vols[0].error ? p->vols[0].error :
				 p->vols[0].fallback ? p->vols[0].fallback :
				 "no error");
		placer_result_free(p);
		tc_free(c);
	}
}

/* --- brute force: several volumes ----------------------------------- */

#define BFM_SEEDS 6000
#define BFM_MAXV 3
#define BFM_MAXSETS 64

struct bfm {
	const struct tc *c;
	unsigned int nv;
	uint64_t size[BFM_MAXV];
	unsigned int live[BFM_MAXV];		/* node set each starts on */
	unsigned int nsets[BFM_MAXV];
	unsigned int set[BFM_MAXV][BFM_MAXSETS];	/* layouts obeying spread */
	uint64_t start[TC_MAXN];		/* bytes held at the start */
	uint64_t fin[TC_MAXN];			/* bytes held in the layout */
	uint64_t add[TC_MAXN];			/* bytes copied onto a node */
	uint64_t best;
};

/* Every node: what it keeps must fit, and what it receives must fit
 * beside everything it held at the start. */
static bool bfm_fits(const struct bfm *b)
{
	unsigned int n;

	for (n = 0; n < b->c->nn; n++) {
		if (b->c->used[n] + b->fin[n] > b->c->cap[n])
			return false;
		if (b->add[n] &&
		    b->c->used[n] + b->start[n] + b->add[n] > b->c->cap[n])
			return false;
	}
	return true;
}

static void bfm_walk(struct bfm *b, unsigned int v, uint64_t cost)
{
	unsigned int i, n, m;

	if (cost >= b->best)
		return;
	if (v == b->nv) {
		if (bfm_fits(b))
			b->best = cost;
		return;
	}
	for (i = 0; i < b->nsets[v]; i++) {
		m = b->set[v][i];
		for (n = 0; n < b->c->nn; n++) {
			if (!(m >> n & 1))
				continue;
			b->fin[n] += b->size[v];
			if (!(b->live[v] >> n & 1))
				b->add[n] += b->size[v];
		}
		bfm_walk(b, v + 1, cost + b->size[v] *
			 (unsigned int)__builtin_popcount(m & ~b->live[v]));
		for (n = 0; n < b->c->nn; n++) {
			if (!(m >> n & 1))
				continue;
			b->fin[n] -= b->size[v];
			if (!(b->live[v] >> n & 1))
				b->add[n] -= b->size[v];
		}
	}
}

/* The least bytes any plan must copy to take every volume to a layout
 * obeying spread and room, or UINT64_MAX if none does. */
static uint64_t bfm_least(struct bfm *b)
{
	unsigned int v, m, n;

	memset(b->start, 0, sizeof(b->start));
	memset(b->fin, 0, sizeof(b->fin));
	memset(b->add, 0, sizeof(b->add));
	for (v = 0; v < b->nv; v++) {
		b->nsets[v] = 0;
		for (m = 0; m < 1u << b->c->nn; m++)
			if (bf_spread_ok(b->c, m, b->c->vols[v].replicas))
				b->set[v][b->nsets[v]++] = m;
		for (n = 0; n < b->c->nn; n++)
			if (b->live[v] >> n & 1)
				b->start[n] += b->size[v];
	}
	b->best = UINT64_MAX;
	for (v = 0; v < b->nv; v++)
		if (!b->live[v])
			return UINT64_MAX;	/* all lost: an error by rule */
	bfm_walk(b, 0, 0);
	return b->best;
}

/* Two or three volumes on a tiny random cluster (1..3 zones, 2..6 nodes,
 * some drained or gone, some pre-used, room tight), each starting on
 * 1..R+1 random nodes.  Rebalancing is held off (tolerance 1).  Which
 * replicas over-full nodes shed is a knapsack across nodes and volumes
 * (a volume's extra replica is dropped for free, but only once), and a
 * greedy choice copied up to 8 bytes more than the least (seed 5157: 22
 * for 17), or shed a replica with nowhere to go and gave up with an
 * error.  Whenever the placer fixes every volume, it must copy exactly
 * the least bytes the brute force finds.  Where it reports an error
 * although some layout exists, its receiver choice (largest volume
 * first, least loaded node) took room another volume needed: that is not
 * shedding, and is not checked here beyond the layout and step rules. */
static void test_placer_move_brute_force_volumes(void **state)
{
	static struct bfm b;
	uint64_t seed, s, least;
	unsigned int N, R, v;
	struct placer_result *p;

	(void)state;
	for (seed = 1; seed <= BFM_SEEDS; seed++) {
		struct tc *c = tc_new();

		s = seed * 13;
		N = bf_cluster(c, &s, 3, 6);
		b.c = c;
		b.nv = 2 + (unsigned int)(tc_rand(&s) % 2);
		c->has_cur = true;
		for (v = 0; v < b.nv; v++) {
			R = 1 + (unsigned int)(tc_rand(&s) % 3);
			b.size[v] = 1 + tc_rand(&s) % 10;
			tc_add_volume(c, b.size[v], R, PLACER_SPREAD_HARD, -1);
			b.live[v] = bf_start(c, &s, v, R, N);
		}
		least = bfm_least(&b);
		p = bf_run(c);
		if (least != UINT64_MAX && !p->nerrors &&
		    (p->nfallbacks || p->moved_bytes != least))
			fail_msg("seed %llu: least %llu, moved %llu",
				 (unsigned long long)seed,
				 (unsigned long long)least,
				 (unsigned long long)p->moved_bytes);
		placer_result_free(p);
		tc_free(c);
	}
}

/* --- latency --------------------------------------------------------- */

static struct tc *small(unsigned int Z, unsigned int nvol, int pref)
{
	struct tc *c = tc_new();
	unsigned int z, k, v;

	for (z = 0; z < Z; z++) {
		tc_add_zone(c);
		for (k = 0; k < 3; k++)
			tc_add_node(c, z, 4000 * GiB);
	}
	for (v = 0; v < nvol; v++)
		tc_add_volume(c, GiB * (1 + v % 9), 3, PLACER_SPREAD_HARD,
			      v % 3 ? -1 : pref);
	for (z = 0; z < Z; z++)
		c->zp99[z] = 1000;
	for (k = 0; k < c->nn; k++)
		c->p99[k] = 900 + 10 * k;
	return c;
}

/* Replicas and primaries of r in zone z. */
static void in_zone(const struct tc *c, const struct placer_result *r, int z,
		    unsigned int *reps, unsigned int *prims)
{
	unsigned int v, j;

	*reps = *prims = 0;
	for (v = 0; v < c->nv; v++)
		for (j = 0; j < r->vols[v].nreplicas; j++)
			if (c->zone[tc_node(c, r->vols[v].replicas[j])] == z) {
				(*reps)++;
				*prims += j == 0;
			}
}

/* A 10x zone gets nothing new while three others can take it all. */
static void test_placer_latency_slow_zone_avoided(void **state)
{
	struct tc *c = small(4, 300, -1);
	struct placer_result *r;
	unsigned int reps, prims;

	(void)state;
	c->zp99[0] = 10000;
	c->p99[3] = 20000;	/* and one slow node in zone-b */
	tc_input(c);
	r = tc_run(c);
	assert_int_equal(r->nerrors, 0);
	in_zone(c, r, 0, &reps, &prims);
	assert_int_equal(reps, 0);
	assert_int_equal(r->node_latency[0], PLACER_LAT_SLOW);
	assert_int_equal(r->node_latency[3], PLACER_LAT_SLOW);
	assert_int_equal(r->node_latency[4], PLACER_LAT_FAST);
	tc_bytes_result(c, r, c->used);	/* borrow: bytes per node */
	assert_int_equal(c->used[3], 0);
	placer_result_free(r);
	tc_free(c);
}

/* With as many zones as replicas the slow zone must hold one of each,
 * but it leads none of them. */
static void test_placer_latency_slow_zone_not_primary(void **state)
{
	struct tc *c = small(3, 300, 0);
	struct placer_result *r;
	unsigned int reps, prims;

	(void)state;
	c->zp99[0] = 10000;
	tc_input(c);
	r = tc_run(c);
	in_zone(c, r, 0, &reps, &prims);
	assert_int_equal(reps, 300);
	assert_int_equal(prims, 0);
	placer_result_free(r);
	tc_free(c);
}

static unsigned int count_actions(const struct placer_result *r,
				  enum placer_action a)
{
	unsigned int k = 0;
	size_t i;

	for (i = 0; i < r->nsteps; i++)
		k += r->steps[i].action == a;
	return k;
}

/* Latency alone moves primaries, never data; after recovery the
 * preferred zone leads again and then all is stable. */
static void test_placer_latency_change_and_recovery(void **state)
{
	struct tc *c = small(3, 300, 0);
	struct placer_result *r, *p;
	unsigned int reps, prims, prims0;

	(void)state;
	r = place_and_adopt(c);
	in_zone(c, r, 0, &reps, &prims0);
	assert_true(prims0 >= 100);	/* all that prefer zone-a */
	c->zp99[0] = 10000;
	p = replan(c);
	assert_int_equal(p->moved_bytes, 0);
	assert_int_equal(p->nmoves, 0);
	assert_int_equal(count_actions(p, PLACER_PROMOTE), p->nsteps);
	assert_int_equal(p->nsteps, prims0);
	in_zone(c, p, 0, &reps, &prims);
	assert_int_equal(prims, 0);
	tc_adopt(c, p);
	placer_result_free(p);

	c->zp99[0] = 1000;	/* recovered */
	p = replan(c);
	assert_int_equal(p->nmoves, 0);
	in_zone(c, p, 0, &reps, &prims);
	assert_int_equal(prims, 100);	/* those preferring zone-a */
	tc_adopt(c, p);
	placer_result_free(p);
	p = replan(c);
	assert_int_equal(p->nsteps, 0);
	placer_result_free(p);
	placer_result_free(r);
	tc_free(c);
}

/* Noise around the threshold moves primaries once, not back and forth:
 * between k(1-band) and k nothing is demoted or promoted. */
static void test_placer_latency_hysteresis(void **state)
{
	static const double seq[] = { 2900, 3100, 2900, 3100, 2700, 2900 };
	struct tc *c = small(3, 300, 0);
	struct placer_result *r, *p;
	unsigned int i, promotes = 0, reps, prims;

	(void)state;
	r = place_and_adopt(c);
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		c->zp99[0] = seq[i];
		p = replan(c);
		assert_int_equal(p->nmoves, 0);
		promotes += count_actions(p, PLACER_PROMOTE);
		if (i == 1)
			assert_true(count_actions(p, PLACER_PROMOTE) > 0);
		else
			assert_int_equal(count_actions(p, PLACER_PROMOTE), 0);
		tc_adopt(c, p);
		placer_result_free(p);
	}
	in_zone(c, r, 0, &reps, &prims);
	assert_int_equal(promotes, prims);
	c->zp99[0] = 2000;	/* below 3 x 0.8: fully recovered */
	p = replan(c);
	in_zone(c, p, 0, &reps, &prims);
	assert_int_equal(prims, 100);
	placer_result_free(p);
	placer_result_free(r);
	tc_free(c);
}

/* k is a knob: a 4x zone is slow at k = 3, not at k = 5. */
static void test_placer_latency_factor(void **state)
{
	struct tc *c = small(4, 100, -1);
	struct placer_result *r;
	unsigned int reps, prims;

	(void)state;
	c->zp99[0] = 4000;
	tc_input(c);
	r = tc_run(c);
	in_zone(c, r, 0, &reps, &prims);
	assert_int_equal(reps, 0);
	placer_result_free(r);
	c->opts.slow_factor = 5;
	r = tc_run(c);
	in_zone(c, r, 0, &reps, &prims);
	assert_true(reps > 0 && prims > 0);
	assert_int_equal(r->node_latency[0], PLACER_LAT_FAST);
	placer_result_free(r);
	tc_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_placer_move_add_zone),
		cmocka_unit_test(test_placer_move_add_node),
		cmocka_unit_test(test_placer_move_tolerance_sets_band),
		cmocka_unit_test(test_placer_move_lose_zone),
		cmocka_unit_test(test_placer_move_lose_or_drain_node),
		cmocka_unit_test(test_placer_move_over_capacity_sheds_only_needed),
		cmocka_unit_test(test_placer_move_over_capacity_sheds_what_can_go),
		cmocka_unit_test(test_placer_move_over_capacity_counts_other_leavers),
		cmocka_unit_test(test_placer_move_spread_leaver_from_over_full_node),
		cmocka_unit_test(test_placer_move_lower_replicas_copies_nothing),
		cmocka_unit_test(test_placer_move_brute_force_single_volume),
		cmocka_unit_test(test_placer_move_brute_force_volumes),
		cmocka_unit_test(test_placer_latency_slow_zone_avoided),
		cmocka_unit_test(test_placer_latency_slow_zone_not_primary),
		cmocka_unit_test(test_placer_latency_change_and_recovery),
		cmocka_unit_test(test_placer_latency_hysteresis),
		cmocka_unit_test(test_placer_latency_factor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
