/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_plan.c: choose primaries and read order, then turn the final
 * layout into the result and the plan.
 *
 * Primaries follow latency with hysteresis, and never cost data: the
 * current primary stays unless it is slow, or the volume's preferred zone
 * has a fully recovered (fast) replica and the primary is elsewhere.  A
 * node in the hysteresis band is neither demoted nor promoted.
 */
#include "placer_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t zone_of(const struct pl_state *st, uint32_t n)
{
	return st->key[0].dom_of[n];
}

/* Rank of a candidate primary: lower is better. */
static unsigned int primary_rank(const struct pl_state *st,
				 const struct pl_vol *v, uint32_t n)
{
	unsigned int lat = st->node[n].lat;

	return (lat == PLACER_LAT_SLOW) << 3 |
	       (v->pref == PL_NONE || zone_of(st, n) != v->pref) << 2 |
	       (lat == PLACER_LAT_BAND) << 1 |
	       !pl_was_on(v, n);
}

static bool keep_primary(const struct pl_state *st, const struct pl_vol *v,
			 uint32_t p)
{
	unsigned int i;
	bool all_slow = true;

	if (p == PL_NONE || !pl_holds(v, p))
		return false;
	for (i = 0; i < v->nrep; i++)
		all_slow &= st->node[v->rep[i]].lat == PLACER_LAT_SLOW;
	if (st->node[p].lat == PLACER_LAT_SLOW)
		return all_slow;
	if (v->pref == PL_NONE || zone_of(st, p) == v->pref)
		return true;
	for (i = 0; i < v->nrep; i++)
		if (zone_of(st, v->rep[i]) == v->pref &&
		    st->node[v->rep[i]].lat == PLACER_LAT_FAST)
			return false;
	return true;
}

/* Does the volume keep its current primary? */
static uint32_t kept_primary(const struct pl_state *st, const struct pl_vol *v)
{
	uint32_t p = v->ninit ? v->init[0] : PL_NONE;

	return keep_primary(st, v, p) ? p : PL_NONE;
}

/* Choose the primary: the current one if it stays, else the best ranked
 * replica, and among equals the one whose node leads the fewest volumes,
 * so that primaries (and their write fan-out) spread over the nodes.
 * Then the others follow in their order, slow replicas last (read
 * preference). */
static void order_replicas(const struct pl_state *st, struct pl_vol *v,
			   uint32_t *leads)
{
	uint32_t p = kept_primary(st, v), out[PL_MAXR];
	unsigned int i, n = 0, best = 0, rb, ri;
	int slow;

	if (!v->nrep)
		return;
	if (p == PL_NONE) {
		for (i = 1; i < v->nrep; i++) {
			ri = primary_rank(st, v, v->rep[i]);
			rb = primary_rank(st, v, v->rep[best]);
			if (ri < rb || (ri == rb && leads[v->rep[i]] <
						    leads[v->rep[best]]))
				best = i;
		}
		p = v->rep[best];
		leads[p]++;
	}
	out[n++] = p;
	for (slow = 0; slow < 2; slow++)
		for (i = 0; i < v->nrep; i++)
			if (v->rep[i] != p &&
			    (st->node[v->rep[i]].lat == PLACER_LAT_SLOW) == slow)
				out[n++] = v->rep[i];
	memcpy(v->rep, out, n * sizeof(out[0]));
}

/* Kept primaries first, so that new ones see the whole count. */
static int order_all(struct pl_state *st)
{
	uint32_t *leads = calloc(st->nn ? st->nn : 1, sizeof(*leads));
	uint32_t vid, p;

	if (!leads)
		return -ENOMEM;
	for (vid = 0; vid < st->nv; vid++) {
		p = st->vol[vid].nrep ? kept_primary(st, &st->vol[vid]) :
					PL_NONE;
		if (p != PL_NONE)
			leads[p]++;
	}
	for (vid = 0; vid < st->nv; vid++)
		order_replicas(st, &st->vol[vid], leads);
	free(leads);
	return 0;
}

static const char *init_name(const struct pl_state *st,
			     const struct pl_vol *v, unsigned int i)
{
	if (v->init[i] != PL_NONE)
		return st->in->nodes[st->node[v->init[i]].in_idx].name;
	return st->in->current[v->cur_idx].replicas[i];
}

static const char *name_of(const struct pl_state *st, uint32_t n)
{
	return st->in->nodes[st->node[n].in_idx].name;
}

struct plan_buf {
	struct placer_step *steps;
	struct placer_move *moves;
	size_t nsteps, nmoves;
	uint64_t moved;
};

static void step(struct plan_buf *b, enum placer_action a, uint32_t vol,
		 const char *node, uint64_t bytes)
{
	b->steps[b->nsteps++] = (struct placer_step){
		.action = a, .volume = vol, .node = node, .bytes = bytes,
	};
}

/* Pair each replica leaving with one arriving, same zone first. */
static void pair_moves(const struct pl_state *st, const struct pl_vol *v,
		       const uint32_t *adds, unsigned int nadd,
		       struct plan_buf *b)
{
	bool used[PL_MAXR] = { false };
	unsigned int i, j, pick;

	for (i = 0; i < v->ninit; i++) {
		uint32_t from = v->init[i];

		if (from != PL_NONE && pl_holds(v, from))
			continue;
		pick = nadd;
		for (j = 0; j < nadd && pick == nadd; j++)
			if (!used[j] && from != PL_NONE &&
			    zone_of(st, adds[j]) == zone_of(st, from))
				pick = j;
		for (j = 0; j < nadd && pick == nadd; j++)
			if (!used[j])
				pick = j;
		if (pick == nadd)
			continue;
		used[pick] = true;
		b->moves[b->nmoves++] = (struct placer_move){
			.volume = v->in_idx, .from = init_name(st, v, i),
			.to = name_of(st, adds[pick]), .bytes = (uint64_t)v->size,
		};
		b->moved += (uint64_t)v->size;
	}
	for (j = 0; j < nadd; j++) {
		if (used[j])
			continue;
		b->moves[b->nmoves++] = (struct placer_move){
			.volume = v->in_idx, .to = name_of(st, adds[j]),
			.bytes = (uint64_t)v->size,
		};
		b->moved += (uint64_t)v->size;
	}
}

/* Adds, then the promote, then removes: the volume never has fewer
 * in-sync replicas than at the start until it has more than it wants. */
static size_t plan_volume(const struct pl_state *st, const struct pl_vol *v,
			  struct plan_buf *b)
{
	uint32_t adds[PL_MAXR], p0;
	unsigned int i, nadd = 0;
	size_t promoted = 0;

	if (v->failed)
		return 0;
	for (i = 0; i < v->nrep; i++)
		if (!pl_was_on(v, v->rep[i]))
			adds[nadd++] = v->rep[i];
	for (i = 0; i < nadd; i++)
		step(b, PLACER_ADD, v->in_idx, name_of(st, adds[i]),
		     (uint64_t)v->size);
	p0 = v->ninit ? v->init[0] : PL_NONE;
	if (v->existing && v->nrep && v->rep[0] != p0) {
		step(b, PLACER_PROMOTE, v->in_idx, name_of(st, v->rep[0]), 0);
		promoted = 1;
	}
	for (i = 0; i < v->ninit; i++)
		if (v->init[i] == PL_NONE || !pl_holds(v, v->init[i]))
			step(b, PLACER_REMOVE, v->in_idx, init_name(st, v, i), 0);
	if (v->existing)
		pair_moves(st, v, adds, nadd, b);
	return promoted;
}

static void fill_vol(const struct pl_state *st, const struct pl_vol *v,
		     struct placer_vol_result *r)
{
	unsigned int i;

	r->placed = !v->failed && v->nrep > 0;
	r->nreplicas = r->placed ? v->nrep : 0;
	for (i = 0; i < r->nreplicas; i++)
		r->replicas[i] = st->node[v->rep[i]].in_idx;
	r->error = v->error;
	r->fallback = v->fallback;
	r->pref_unknown = v->pref_unknown;
	if (v->failed && v->existing && !v->nrep) {
		r->lost = st->in->current[v->cur_idx].replicas;
		r->nlost = v->ninit;
	}
}

/* Build the result; takes the volumes' message strings.  Returns 0 or
 * -ENOMEM (*out NULL, the strings still owned by st). */
int pl_result(struct pl_state *st, struct placer_result **out)
{
	struct placer_result *r;
	struct plan_buf b = { 0 };
	size_t nsteps = 0, vi;
	uint32_t vid, n;

	*out = NULL;
	if (order_all(st))
		return -ENOMEM;
	for (vid = 0; vid < st->nv; vid++)
		nsteps += st->vol[vid].nrep + st->vol[vid].ninit + 1;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->vols = calloc(st->nv ? st->nv : 1, sizeof(*r->vols));
	r->node_latency = calloc(st->nn ? st->nn : 1, 1);
	b.steps = calloc(nsteps ? nsteps : 1, sizeof(*b.steps));
	b.moves = calloc(nsteps ? nsteps : 1, sizeof(*b.moves));
	if (!r->vols || !r->node_latency || !b.steps || !b.moves) {
		free(b.steps);
		free(b.moves);
		placer_result_free(r);
		return -ENOMEM;
	}
	r->nvolumes = st->nv;
	for (vi = 0; vi < st->nv; vi++) {
		/* Output follows the input's volume order. */
		const struct pl_vol *v = &st->vol[st->vid_of[vi]];

		fill_vol(st, v, &r->vols[vi]);
		r->primaries_changed += plan_volume(st, v, &b);
		r->nerrors += v->error != NULL;
		r->nfallbacks += v->fallback != NULL;
	}
	for (vid = 0; vid < st->nv; vid++)
		st->vol[vid].error = st->vol[vid].fallback = NULL;
	for (n = 0; n < st->nn; n++)
		r->node_latency[st->node[n].in_idx] = st->node[n].lat;
	r->steps = b.steps;
	r->nsteps = b.nsteps;
	r->moves = b.moves;
	r->nmoves = b.nmoves;
	r->moved_bytes = b.moved;
	*out = r;
	return 0;
}

void placer_result_free(struct placer_result *r)
{
	size_t i;

	if (!r)
		return;
	if (r->vols)
		for (i = 0; i < r->nvolumes; i++) {
			free((char *)r->vols[i].error);
			free((char *)r->vols[i].fallback);
		}
	free(r->vols);
	free(r->steps);
	free(r->moves);
	free(r->node_latency);
	free(r);
}
