/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_balance.c: per-node targets, and the moves that bring nodes to
 * them.
 *
 * Targets come first, from a fluid model: a water level of used bytes,
 * clamped by each node's free space and by what the spread rule lets each
 * domain hold (with D domains, a volume of R replicas puts between
 * floor(R/D) and ceil(R/D) of them in each).  Targets depend on the
 * cluster and the volumes only, never on where replicas are now.
 *
 * Then only surplus moves.  A node is a driver when it is off its target
 * by more than the trigger band (slack); drivers move toward their target
 * and every counterpart must get no further from its own, so a node that
 * was in the band stays in it.  Each move strictly lowers the sum of
 * squared deviations, so rebalancing ends, and it ends at a state where no
 * driver has a legal move: running it again moves nothing.
 */
#include "placer_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Pull: how many more senders to ask for a replica they do not lead,
 * once one offered only a replica it leads (moving it costs a promote). */
#define PULL_SCAN 32
#define MAX_ROUNDS 1000

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

static int64_t node_free(const struct pl_node *nd)
{
	return nd->cap > nd->base ? nd->cap - nd->base : 0;
}

/* Replica bytes a schedulable node holds when the used level is L. */
static int64_t node_fill(const struct pl_node *nd, int64_t L)
{
	return clamp64(L - nd->base, 0, node_free(nd));
}

struct fluid {
	uint32_t ngrp;		/* domains of bal_key, plus one: unlabeled */
	uint32_t *start;	/* per group: first index into members */
	uint32_t *members;	/* schedulable node ids, grouped */
	int64_t *lo;
	int64_t *hi;
};

static int64_t grp_fill(const struct pl_state *st, const struct fluid *f,
			uint32_t g, int64_t L)
{
	int64_t sum = 0;
	uint32_t i;

	for (i = f->start[g]; i < f->start[g + 1]; i++)
		sum += node_fill(&st->node[f->members[i]], L);
	return sum;
}

static int64_t total_fill(const struct pl_state *st, const struct fluid *f,
			  int64_t L)
{
	int64_t sum = 0;
	uint32_t g;

	for (g = 0; g < f->ngrp; g++)
		sum += clamp64(grp_fill(st, f, g, L), f->lo[g], f->hi[g]);
	return sum;
}

/* Smallest level in [0, top] whose fill reaches want (top if none). */
static int64_t level_for(const struct pl_state *st, const struct fluid *f,
			 int64_t g, int64_t want, int64_t top)
{
	int64_t lo = 0, hi = top;

	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		int64_t got = g < 0 ? total_fill(st, f, mid) :
				      grp_fill(st, f, (uint32_t)g, mid);

		if (got >= want)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int fluid_groups(const struct pl_state *st, struct fluid *f)
{
	const struct pl_key *k = &st->key[st->bal_key];
	uint32_t n, g, *fill;

	f->ngrp = k->ndom + 1;
	f->start = calloc(f->ngrp + 1, sizeof(*f->start));
	f->members = malloc((st->nn ? st->nn : 1) * sizeof(*f->members));
	f->lo = calloc(f->ngrp, sizeof(*f->lo));
	f->hi = calloc(f->ngrp, sizeof(*f->hi));
	fill = calloc(f->ngrp, sizeof(*fill));
	if (!f->start || !f->members || !f->lo || !f->hi || !fill) {
		free(fill);
		return -ENOMEM;
	}
	for (n = 0; n < st->nn; n++) {
		if (!st->node[n].sched)
			continue;
		g = k->dom_of[n] == PL_NONE ? k->ndom : k->dom_of[n];
		f->start[g + 1]++;
	}
	for (g = 0; g < f->ngrp; g++)
		f->start[g + 1] += f->start[g];
	for (n = 0; n < st->nn; n++) {
		if (!st->node[n].sched)
			continue;
		g = k->dom_of[n] == PL_NONE ? k->ndom : k->dom_of[n];
		f->members[f->start[g] + fill[g]++] = n;
	}
	free(fill);
	return 0;
}

static void fluid_free(struct fluid *f)
{
	free(f->start);
	free(f->members);
	free(f->lo);
	free(f->hi);
}

/* Demand X and per-group bounds; returns the largest volume size. */
static int64_t fluid_bounds(const struct pl_state *st, struct fluid *f,
			    int64_t *X)
{
	const struct pl_key *k = &st->key[st->bal_key];
	int64_t lo_all = 0, hi_all = 0, other = 0, smax = 0;
	uint32_t vid, g, D = k->nelig_dom;

	*X = 0;
	for (vid = 0; vid < st->nv; vid++) {
		const struct pl_vol *v = &st->vol[vid];
		int64_t b = (int64_t)v->R * v->size;

		if (st->key[v->key].nelig_nodes < v->R)
			continue;	/* cannot be placed at all */
		*X += b;
		if (v->size > smax)
			smax = v->size;
		if (v->key != st->bal_key) {
			other += b;
			continue;
		}
		lo_all += (int64_t)(v->R / D) * v->size;
		hi_all += (int64_t)((v->R + D - 1) / D) * v->size;
	}
	for (g = 0; g < k->ndom; g++) {
		f->lo[g] = k->dom_elig[g] ? lo_all : 0;
		f->hi[g] = k->dom_elig[g] ? hi_all + other : 0;
	}
	f->lo[k->ndom] = 0;
	f->hi[k->ndom] = other;
	return smax;
}

/* Set every node's target and dev, and the rebalance trigger band.
 * Returns 0 or -ENOMEM. */
int pl_targets(struct pl_state *st)
{
	struct fluid f = { 0 };
	int64_t X, L, top = 0, smax, Lg, Lmax, x;
	uint32_t n, g, i;

	if (fluid_groups(st, &f)) {
		fluid_free(&f);
		return -ENOMEM;
	}
	smax = fluid_bounds(st, &f, &X);
	for (n = 0; n < st->nn; n++) {
		st->node[n].target = 0;
		if (st->node[n].sched && st->node[n].cap > top)
			top = st->node[n].cap;
	}
	L = level_for(st, &f, -1, X, top);
	for (g = 0, Lmax = 0; g < f.ngrp; g++) {
		x = clamp64(grp_fill(st, &f, g, L), f.lo[g], f.hi[g]);
		Lg = level_for(st, &f, g, x, top);
		for (i = f.start[g]; i < f.start[g + 1]; i++) {
			n = f.members[i];
			st->node[n].target = node_fill(&st->node[n], Lg);
		}
		if (f.start[g + 1] > f.start[g] && Lg > Lmax)
			Lmax = Lg;
	}
	/* The fill level is the groups' own: where the spread rule fixes
	 * every domain's share (as many domains as replicas), L is met at
	 * 0 and would leave the tolerance no effect. */
	st->slack = (int64_t)(st->o->balance_tolerance * (double)Lmax) +
		    2 * smax;
	for (n = 0; n < st->nn; n++)
		st->dev[n] = st->node[n].cur - st->node[n].target;
	fluid_free(&f);
	return 0;
}

/* The volume's only replica in its preferred zone stays put. */
static bool pref_lock(const struct pl_state *st, const struct pl_vol *v,
		      uint32_t a)
{
	const uint32_t *zone = st->key[0].dom_of;
	unsigned int i, c = 0;

	if (v->pref == PL_NONE || zone[a] != v->pref)
		return false;
	for (i = 0; i < v->nrep; i++)
		c += zone[v->rep[i]] == v->pref;
	return c == 1;
}

static unsigned int slot_of(const struct pl_vol *v, uint32_t n)
{
	unsigned int i;

	for (i = 0; i < v->nrep && v->rep[i] != n; i++)
		;
	return i;
}

/* First index of the node's list with a volume no larger than lim (the
 * list is in volume id order, that is by size descending). */
static uint32_t first_fitting(const struct pl_state *st,
			      const struct pl_node *nd, int64_t lim)
{
	uint32_t lo = 0, hi = nd->nrep;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (st->vol[nd->rep[mid]].size > lim)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Push the replica of vid on a to the best receiver, if the move takes
 * both nodes closer to their targets.  Primaries are tried only in the
 * second pass: moving one costs a promotion too.  Returns 1 moved, 0 not,
 * -ENOMEM. */
static int try_push(struct pl_state *st, uint32_t a, uint32_t vid,
		    bool primaries)
{
	const struct pl_vol *v = &st->vol[vid];
	struct pl_pick p = { .vid = vid, .mode = PICK_MOVE,
			     .only_zone = PL_NONE, .bounded = true,
			     .max_dev = -(v->size + 1) / 2 };
	int64_t s = v->size, da = st->dev[a], db;
	uint32_t b;
	int rc;

	const struct pl_rx *rx = &st->key[v->key].rx[0];
	uint32_t top = iheap_top(&rx->dom);

	if ((v->rep[0] == a) != primaries)
		return 0;
	/* No receiver anywhere is under target by half this replica. */
	if (top == IHEAP_NONE || s > -2 * rx->dkey[top])
		return 0;
	p.from_dom = st->key[v->key].dom_of[a];
	if (p.from_dom == PL_NONE || pref_lock(st, v, a))
		return 0;
	pl_pick_prepare(st, &p);
	b = pl_pick(st, &p, 0);
	if (b == PL_NONE)
		return 0;
	db = st->dev[b];
	if (db >= 0 || s > -2 * db || s > 2 * da || s >= da - db)
		return 0;
	rc = pl_rep_move(st, vid, slot_of(v, a), b);
	return rc ? rc : 1;
}

/* One move off driver a, largest replica that does not overshoot first. */
static int push_one(struct pl_state *st, uint32_t a)
{
	const struct pl_node *nd = &st->node[a];
	int64_t da = st->dev[a];
	uint32_t i0 = first_fitting(st, nd, da), i;
	int rc, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = i0; i < nd->nrep; i++) {
			rc = try_push(st, a, nd->rep[i], pass);
			if (rc)
				return rc;
		}
		for (i = i0; i-- > 0;) {
			if (st->vol[nd->rep[i]].size > 2 * da)
				break;
			rc = try_push(st, a, nd->rep[i], pass);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Replicas on a that may move to b: the first that a does not lead in
 * *plain, the first it leads in *lead (PL_NONE if none). */
static void pull_from(struct pl_state *st, uint32_t a, uint32_t b,
		      uint32_t *plain, uint32_t *lead)
{
	const struct pl_node *na = &st->node[a], *nb = &st->node[b];
	int64_t da = st->dev[a], db = st->dev[b];
	int64_t lim = -2 * db;
	uint32_t i, vid, kb, from;

	*plain = *lead = PL_NONE;
	if (da + st->slack < lim)
		lim = da + st->slack;
	if (da - db - 1 < lim)
		lim = da - db - 1;
	for (i = first_fitting(st, na, lim); i < na->nrep; i++) {
		const struct pl_vol *v;
		struct pl_pick p = { .mode = PICK_MOVE, .only_zone = PL_NONE };
		bool leads;

		vid = na->rep[i];
		v = &st->vol[vid];
		leads = v->rep[0] == a;
		if (leads ? *lead != PL_NONE : *plain != PL_NONE)
			continue;
		kb = st->key[v->key].dom_of[b];
		from = st->key[v->key].dom_of[a];
		if (kb == PL_NONE || from == PL_NONE || pl_holds(v, b) ||
		    nb->reserved + v->size > nb->cap || pref_lock(st, v, a))
			continue;
		if (kb != from) {
			p.vid = vid;
			p.from_dom = from;
			pl_pick_prepare(st, &p);
			if (!pl_pick_dom_ok(&p, kb))
				continue;
		}
		*(leads ? lead : plain) = vid;
		if (*plain != PL_NONE)
			return;
	}
}

/* Ask the nodes, most loaded first, for a replica for b.  A
 * node that has none for b is marked: within one pull phase its replicas
 * only leave and b's needs only shrink, so it never will.  A replica the
 * node does not lead is worth looking PULL_SCAN nodes further for. */
static uint32_t pull_scan(struct pl_state *st, uint32_t b, uint32_t *from,
			  uint32_t *stash, uint32_t *dry)
{
	uint32_t a, ns = 0, vid = PL_NONE, plain, lead, i, after = 0;

	while ((a = iheap_pop(&st->over)) != IHEAP_NONE) {
		stash[ns++] = a;
		/* Nodes at or a little under target may give too, down to
		 * -slack: they may be the only ones holding volumes that can
		 * enter b's domain. */
		if (st->dev[a] <= -st->slack)
			break;
		if (a == b || dry[a] == b)
			continue;
		pull_from(st, a, b, &plain, &lead);
		if (plain != PL_NONE) {
			vid = plain;
			*from = a;
			break;
		}
		if (lead == PL_NONE) {
			dry[a] = b;
			continue;
		}
		if (vid == PL_NONE) {
			vid = lead;
			*from = a;
		}
		if (++after >= PULL_SCAN)
			break;
	}
	for (i = 0; i < ns; i++)
		iheap_push(&st->over, stash[i]);
	return vid;
}

static int pull_one(struct pl_state *st, uint32_t b, uint32_t *stash,
		    uint32_t *dry)
{
	uint32_t a = PL_NONE, vid;
	int rc;

	vid = pull_scan(st, b, &a, stash, dry);
	if (vid == PL_NONE)
		return 0;
	rc = pl_rep_move(st, vid, slot_of(&st->vol[vid], a), b);
	return rc ? rc : 1;
}

struct drivers {
	struct iheap h;
	uint32_t *pos;
	uint32_t *stash;
	uint32_t *dry;		/* per node: the receiver it has nothing for */
};

static int push_phase(struct pl_state *st, struct drivers *dr, size_t *moves)
{
	uint32_t n;
	int rc;

	dr->h.max = true;
	for (n = 0; n < st->nn; n++)
		if (st->dev[n] > st->slack)
			iheap_push(&dr->h, n);
	while ((n = iheap_pop(&dr->h)) != IHEAP_NONE) {
		if (st->dev[n] <= 0)
			continue;
		rc = push_one(st, n);
		if (rc < 0)
			return rc;
		if (rc) {
			(*moves)++;
			if (st->dev[n] > 0)
				iheap_push(&dr->h, n);
		}
	}
	return 0;
}

static int pull_phase(struct pl_state *st, struct drivers *dr, size_t *moves)
{
	uint32_t n;
	int rc;

	dr->h.max = false;
	memset(dr->dry, 0xff, st->nn * sizeof(*dr->dry));
	for (n = 0; n < st->nn; n++)
		if (st->dev[n] < -st->slack && st->node[n].sched &&
		    st->node[n].lat != PLACER_LAT_SLOW)
			iheap_push(&dr->h, n);
	while ((n = iheap_pop(&dr->h)) != IHEAP_NONE) {
		if (st->dev[n] >= 0)
			continue;
		rc = pull_one(st, n, dr->stash, dr->dry);
		if (rc < 0)
			return rc;
		if (rc) {
			(*moves)++;
			if (st->dev[n] < 0)
				iheap_push(&dr->h, n);
		}
	}
	return 0;
}

static int senders_init(struct pl_state *st)
{
	size_t sz = (st->nn ? st->nn : 1) * sizeof(uint32_t);
	uint32_t n;

	st->over_pos = malloc(sz);
	if (!st->over_pos)
		return -ENOMEM;
	memset(st->over_pos, 0xff, sz);
	if (iheap_init(&st->over, st->nn, st->over_pos, st->dev, true))
		return -ENOMEM;
	for (n = 0; n < st->nn; n++)
		iheap_push(&st->over, n);
	st->senders_on = true;
	return 0;
}

static void senders_fini(struct pl_state *st)
{
	st->senders_on = false;
	iheap_fini(&st->over);
	free(st->over_pos);
	st->over_pos = NULL;
}

/* Rebalance until no driver can move.  Adds the number of moves made to
 * *moves.  Returns 0 or -ENOMEM. */
int pl_rebalance(struct pl_state *st, size_t *moves)
{
	size_t sz = (st->nn ? st->nn : 1) * sizeof(uint32_t);
	struct drivers dr = { 0 };
	size_t before;
	int rc = -ENOMEM, round;

	dr.pos = malloc(sz);
	dr.stash = malloc(sz);
	dr.dry = malloc(sz);
	if (!dr.pos || !dr.stash || !dr.dry)
		goto out;
	memset(dr.pos, 0xff, sz);
	if (iheap_init(&dr.h, st->nn, dr.pos, st->dev, true))
		goto out;
	rc = senders_init(st);
	if (rc)
		goto out;
	for (round = 0; round < MAX_ROUNDS; round++) {
		before = *moves;
		rc = push_phase(st, &dr, moves);
		if (!rc)
			rc = pull_phase(st, &dr, moves);
		if (rc || *moves == before)
			break;
	}
out:
	senders_fini(st);
	iheap_fini(&dr.h);
	free(dr.pos);
	free(dr.stash);
	free(dr.dry);
	return rc;
}
