/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_shed.c: which replicas a node over capacity sheds.
 *
 * The choice is a knapsack: the replicas that leave must free at least
 * the node's excess, and the bytes copied because they leave should be
 * the least.  What a replica costs depends on its volume, not on its
 * size alone: one of a volume with more replicas than it wants, in a
 * domain that holds more of them than the spread rule needs, is dropped,
 * not replaced, and costs nothing; any other costs a copy of its volume.
 * So a replica's cost is the copies its leaving adds to its volume, given
 * what the other nodes shed.
 *
 * Each node's choice is exact: a branch and bound over its replicas,
 * bounded in candidates and in steps so that a node with many replicas
 * costs little more than the greedy choice the search starts from (and
 * never ends worse than it).  One volume's spare replica can serve only
 * one node, so the nodes are revisited, each choosing again given the
 * others, until a round changes nothing or SHED_ROUNDS have run; every
 * change lowers the total.  Two nodes may still both gain only by
 * trading, so when the candidates of all nodes are few, one search over
 * all of them at once, bounded by the rounds' result, finishes the job.
 *
 * A replica that does not fit beside the node's other use leaves
 * whatever else does.  One that would need a copy but has nowhere to go
 * is chosen only when the others cannot free enough: repair then reports
 * it.  Ties go to the choice that sheds fewer bytes, which leaves more
 * spare replicas to other nodes.  The result is the evict mask per
 * volume, which repair reads as "leaves while its node is over capacity".
 */
#include "placer_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SHED_MAX_ITEMS 64
#define SHED_MAX_STEPS 4096
#define SHED_ROUNDS 4

static unsigned int slot_of(const struct pl_vol *v, uint32_t n)
{
	unsigned int s;

	for (s = 0; s < v->nrep && v->rep[s] != n; s++)
		;
	return s;
}

/* Copies the volume needs once the slots in gone and those on drained or
 * unlabeled nodes have left: R less the most of the rest that a layout
 * obeying the spread rule can keep.  With D eligible domains a domain may
 * keep q = R / D of them, and R mod D domains one more. */
static unsigned int copies_needed(const struct pl_state *st,
				  const struct pl_vol *v, uint32_t gone)
{
	const struct pl_key *k = &st->key[v->key];
	uint32_t dom[PL_SLOTS], d;
	uint8_t cnt[PL_SLOTS];
	unsigned int i, j, nd = 0, q, r, keep = 0, more = 0;

	if (!k->nelig_dom)
		return 0;
	for (i = 0; i < v->nrep; i++) {
		d = k->dom_of[v->rep[i]];
		if ((gone >> i & 1) || d == PL_NONE ||
		    !st->node[v->rep[i]].sched)
			continue;
		for (j = 0; j < nd && dom[j] != d; j++)
			;
		if (j == nd) {
			dom[nd] = d;
			cnt[nd++] = 0;
		}
		cnt[j]++;
	}
	q = v->R / k->nelig_dom;
	r = v->R % k->nelig_dom;
	for (j = 0; j < nd; j++) {
		keep += cnt[j] < q ? cnt[j] : q;
		more += cnt[j] > q;
	}
	keep += more < r ? more : r;
	return v->R > keep ? v->R - keep : 0;
}

/* Bytes copied if the replica of vid on n leaves too, given the replicas
 * the other nodes shed. */
static int64_t leave_cost(const struct pl_state *st, uint32_t vid, uint32_t n)
{
	const struct pl_vol *v = &st->vol[vid];
	uint32_t bit = 1u << slot_of(v, n), gone = st->evict[vid] & ~bit;

	return v->size * (int64_t)(copies_needed(st, v, gone | bit) -
				   copies_needed(st, v, gone));
}

/* Has the replica of vid on n somewhere to go under the volume's spread
 * rule (any domain, under soft spread), counting the volume's replicas
 * that stay (not on drained or unlabeled nodes, not shed)?  Room is
 * judged as it is now; repair checks again when it moves the replica. */
static bool has_room_elsewhere(struct pl_state *st, uint32_t vid, uint32_t n)
{
	const struct pl_vol *v = &st->vol[vid];
	const uint32_t *dom_of = st->key[v->key].dom_of;
	struct pl_pick p = { .vid = vid, .mode = PICK_SPREAD,
			     .only_zone = PL_NONE };
	unsigned int i;

	p.ignore = (uint16_t)(st->evict[vid] | 1u << slot_of(v, n));
	for (i = 0; i < v->nrep; i++)
		if (!st->node[v->rep[i]].sched || dom_of[v->rep[i]] == PL_NONE)
			p.ignore |= (uint16_t)(1u << i);
	pl_pick_prepare(st, &p);
	if (pl_pick(st, &p, 0) != PL_NONE || pl_pick(st, &p, 1) != PL_NONE)
		return true;
	if (v->hard)
		return false;
	p.mode = PICK_ANY;
	return pl_pick(st, &p, 0) != PL_NONE || pl_pick(st, &p, 1) != PL_NONE;
}

static bool is_marked(const struct pl_state *st, uint32_t vid, uint32_t n)
{
	return st->evict[vid] >> slot_of(&st->vol[vid], n) & 1;
}

static void set_mark(struct pl_state *st, uint32_t vid, uint32_t n, bool on)
{
	uint16_t bit = (uint16_t)(1u << slot_of(&st->vol[vid], n));

	if (on)
		st->evict[vid] |= bit;
	else
		st->evict[vid] &= (uint16_t)~bit;
}

/* One node's choice.  cost[] and size[] are per index into the node's
 * list of replicas; pick[] holds the chosen indices. */
struct shed {
	const struct pl_state *st;
	uint32_t n;
	int64_t over;		/* excess left after forced leavers */
	int64_t *cost;		/* per list index; < 0: stuck */
	int64_t *size;
	uint32_t *pick;		/* chosen list indices */
	uint32_t npick;
	int64_t best;		/* cost of pick */
	int64_t best_freed;	/* bytes pick frees */
	/* Search state. */
	uint32_t cand[SHED_MAX_ITEMS];	/* size descending */
	int64_t rest[SHED_MAX_ITEMS + 1];	/* size of cand[i..] */
	uint64_t set, best_set;
	unsigned int ncand, steps;
};

/* Is (cost, freed) better than the best: cheaper, or as cheap and
 * shedding fewer bytes, which leaves more spare replicas to other nodes? */
static bool better(const struct shed *s, int64_t cost, int64_t freed)
{
	return cost < s->best || (cost == s->best && freed < s->best_freed);
}

/* Depth first over include/exclude; a branch stops once it frees the
 * excess, cannot free it, or cannot beat the best. */
static void search(struct shed *s, unsigned int i, int64_t freed,
		   int64_t cost)
{
	uint32_t x;

	if (freed >= s->over) {
		if (better(s, cost, freed)) {
			s->best = cost;
			s->best_freed = freed;
			s->best_set = s->set;
		}
		return;
	}
	if (i == s->ncand || freed + s->rest[i] < s->over ||
	    !better(s, cost, s->over) || ++s->steps > SHED_MAX_STEPS)
		return;
	x = s->cand[i];
	if (cost + s->cost[x] <= s->best) {
		s->set |= 1ULL << i;
		search(s, i + 1, freed + s->size[x], cost + s->cost[x]);
		s->set &= ~(1ULL << i);
	}
	search(s, i + 1, freed, cost);
}

/* The greedy choice the search starts from: free replicas, then paid
 * ones, smallest first, until the excess is freed; then any chosen one
 * the others leave room for stays, largest and paid first.  Returns
 * false (nothing chosen) if all those that may go do not free it. */
static bool greedy(struct shed *s, bool *on)
{
	const struct pl_node *nd = &s->st->node[s->n];
	int64_t left = s->over;
	uint32_t i;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (i = nd->nrep; left > 0 && i-- > 0;)
			if (s->cost[i] >= 0 && (s->cost[i] > 0) == pass) {
				on[i] = true;
				left -= s->size[i];
			}
	if (left > 0)
		return false;
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < nd->nrep && left < 0; i++)
			if (on[i] && (s->cost[i] > 0) == !pass &&
			    s->size[i] <= -left) {
				on[i] = false;
				left += s->size[i];
			}
	s->best = 0;
	s->best_freed = s->over - left;
	s->npick = 0;
	for (i = 0; i < nd->nrep; i++)
		if (on[i]) {
			s->pick[s->npick++] = i;
			s->best += s->cost[i];
		}
	return true;
}

/* Try to beat the greedy choice: candidates are the replicas that may go
 * and could be in a better choice (cheaper than it, or as cheap and
 * smaller), at most SHED_MAX_ITEMS, by size descending (the node's list
 * order). */
static void exact(struct shed *s)
{
	const struct pl_node *nd = &s->st->node[s->n];
	int64_t cost = s->best, freed = s->best_freed;
	uint32_t i;
	int j;

	s->ncand = 0;
	for (i = 0; i < nd->nrep && s->ncand < SHED_MAX_ITEMS; i++)
		if (s->cost[i] >= 0 && (s->cost[i] < s->best ||
		    (s->cost[i] == s->best && s->size[i] < s->best_freed)))
			s->cand[s->ncand++] = i;
	s->rest[s->ncand] = 0;
	for (j = (int)s->ncand - 1; j >= 0; j--)
		s->rest[j] = s->rest[j + 1] + s->size[s->cand[j]];
	if (!s->ncand || s->rest[0] < s->over)
		return;
	s->best_set = 0;
	s->set = 0;
	s->steps = 0;
	search(s, 0, 0, 0);
	if (s->best == cost && s->best_freed == freed)
		return;
	s->npick = 0;
	for (i = 0; i < s->ncand; i++)
		if (s->best_set >> i & 1)
			s->pick[s->npick++] = s->cand[i];
}

struct work {
	int64_t *cost, *size;
	uint32_t *pick;
	bool *on;
	uint32_t cap;
	bool stuck;		/* some node cannot free its excess */
};

static int work_grow(struct work *w, uint32_t n)
{
	void *a, *b, *c, *d;

	if (n <= w->cap)
		return 0;
	a = realloc(w->cost, n * sizeof(*w->cost));
	if (a)
		w->cost = a;
	b = realloc(w->size, n * sizeof(*w->size));
	if (b)
		w->size = b;
	c = realloc(w->pick, n * sizeof(*w->pick));
	if (c)
		w->pick = c;
	d = realloc(w->on, n * sizeof(*w->on));
	if (d)
		w->on = d;
	if (!a || !b || !c || !d)
		return -ENOMEM;
	w->cap = n;
	return 0;
}

/* Choose again what node n sheds, given what the others shed; keep the
 * present choice unless the new one costs less.  Returns whether the
 * marks changed. */
static bool shed_node(struct pl_state *st, uint32_t n, struct work *w)
{
	const struct pl_node *nd = &st->node[n];
	struct shed s = { .st = st, .n = n, .cost = w->cost, .size = w->size,
			  .pick = w->pick };
	int64_t now = 0, freed = 0, forced = 0;
	bool changed = false;
	uint32_t i, vid;

	for (i = 0; i < nd->nrep; i++) {
		vid = nd->rep[i];
		s.size[i] = st->vol[vid].size;
		w->on[i] = false;
		if (nd->base + s.size[i] > nd->cap) {
			forced += s.size[i];
			s.cost[i] = -1;
			continue;
		}
		s.cost[i] = leave_cost(st, vid, n);
		if (is_marked(st, vid, n)) {
			now += s.cost[i];
			freed += s.size[i];
		}
		if (s.cost[i] > 0 && !has_room_elsewhere(st, vid, n))
			s.cost[i] = -1;		/* stuck */
	}
	s.over = nd->base + nd->cur - nd->cap - forced;
	if (s.over <= 0)
		return false;
	if (!greedy(&s, w->on)) {
		/* Not enough may go: the smallest stuck ones too. */
		int64_t left = s.over;

		w->stuck = true;
		for (i = 0; i < nd->nrep; i++)
			w->on[i] = s.cost[i] >= 0;
		for (i = 0; i < nd->nrep; i++)
			left -= w->on[i] ? s.size[i] : 0;
		for (i = nd->nrep; left > 0 && i-- > 0;)
			if (!w->on[i] && nd->base + s.size[i] <= nd->cap) {
				w->on[i] = true;
				left -= s.size[i];
			}
	} else {
		exact(&s);
		if (freed >= s.over &&
		    (s.best > now || (s.best == now && s.best_freed >= freed)))
			return false;	/* the new choice is no better */
		memset(w->on, 0, nd->nrep * sizeof(*w->on));
		for (i = 0; i < s.npick; i++)
			w->on[s.pick[i]] = true;
	}
	for (i = 0; i < nd->nrep; i++) {
		vid = nd->rep[i];
		if (nd->base + s.size[i] > nd->cap ||
		    is_marked(st, vid, n) == w->on[i])
			continue;
		set_mark(st, vid, n, w->on[i]);
		changed = true;
	}
	return changed;
}

/* The joint search: all the nodes' choices at once, when the replicas
 * they could shed are few.  The rounds above settle each node given the
 * others, and can stop where two nodes would both gain only by trading
 * (each using the other's spare replica).  The search starts from their
 * result as the bound, so it only ever improves on it. */
#define JOINT_MAX_ITEMS 48
#define JOINT_MAX_STEPS 65536

struct joint {
	struct pl_state *st;
	uint32_t vid[JOINT_MAX_ITEMS];
	uint32_t node[JOINT_MAX_ITEMS];
	int64_t rest[JOINT_MAX_ITEMS];	/* bytes of items i.. of i's node */
	uint8_t grp[JOINT_MAX_ITEMS];	/* the item's node, numbered here */
	bool last[JOINT_MAX_ITEMS];	/* the last item of its node */
	bool was[JOINT_MAX_ITEMS];	/* chosen by the rounds */
	int64_t need[JOINT_MAX_ITEMS];	/* per node: excess after forced */
	int64_t freed[JOINT_MAX_ITEMS];
	unsigned int n, ngrp, steps;
	uint64_t set, best_set;
	int64_t best, best_freed;
	bool found;
};

/* Mark item i, returning the copies it adds (bytes). */
static int64_t joint_mark(struct joint *j, unsigned int i)
{
	const struct pl_vol *v = &j->st->vol[j->vid[i]];
	uint32_t gone = j->st->evict[j->vid[i]];
	uint32_t bit = 1u << slot_of(v, j->node[i]);

	j->st->evict[j->vid[i]] |= (uint16_t)bit;
	return v->size * (int64_t)(copies_needed(j->st, v, gone | bit) -
				   copies_needed(j->st, v, gone));
}

static void joint_unmark(struct joint *j, unsigned int i)
{
	set_mark(j->st, j->vid[i], j->node[i], false);
}

static int64_t item_size(const struct joint *j, unsigned int i)
{
	return j->st->vol[j->vid[i]].size;
}

/* Include or exclude item i and go on; copies only grow with what is
 * shed, so the cost so far bounds every completion. */
static void joint_search(struct joint *j, unsigned int i, int64_t cost,
			 int64_t freed)
{
	unsigned int g;
	int64_t add;

	if (cost > j->best || (cost == j->best && freed >= j->best_freed))
		return;
	if (i == j->n) {
		j->best = cost;
		j->best_freed = freed;
		j->best_set = j->set;
		j->found = true;
		return;
	}
	g = j->grp[i];
	if (j->freed[g] + j->rest[i] < j->need[g] ||
	    ++j->steps > JOINT_MAX_STEPS)
		return;
	add = joint_mark(j, i);
	j->freed[g] += item_size(j, i);
	j->set |= 1ULL << i;
	joint_search(j, i + 1, cost + add, freed + item_size(j, i));
	j->set &= ~(1ULL << i);
	j->freed[g] -= item_size(j, i);
	joint_unmark(j, i);
	if (!j->last[i] || j->freed[g] >= j->need[g])
		joint_search(j, i + 1, cost, freed);
}

/* Gather the items: per node over capacity, its replicas that may go
 * (not forced, and free or with somewhere to go).  Returns false when
 * there are too many. */
static bool joint_items(struct joint *j)
{
	struct pl_state *st = j->st;
	uint32_t n, i, vid;
	int64_t over;
	unsigned int first;

	for (n = 0; n < st->nn; n++) {
		const struct pl_node *nd = &st->node[n];

		if (nd->base + nd->cur <= nd->cap || !nd->sched)
			continue;
		over = nd->base + nd->cur - nd->cap;
		first = j->n;
		for (i = 0; i < nd->nrep; i++) {
			vid = nd->rep[i];
			if (nd->base + st->vol[vid].size > nd->cap) {
				over -= st->vol[vid].size;
				continue;
			}
			if (leave_cost(st, vid, n) > 0 &&
			    !has_room_elsewhere(st, vid, n))
				continue;
			if (j->n == JOINT_MAX_ITEMS)
				return false;
			j->vid[j->n] = vid;
			j->node[j->n] = n;
			j->grp[j->n] = (uint8_t)j->ngrp;
			j->was[j->n] = is_marked(st, vid, n);
			j->n++;
		}
		if (over <= 0) {
			j->n = first;	/* forced leavers do it */
			continue;
		}
		if (j->n == first)
			return false;	/* cannot happen unless stuck */
		j->need[j->ngrp++] = over;
		j->last[j->n - 1] = true;
	}
	for (i = j->n; i-- > 0;)
		j->rest[i] = item_size(j, i) +
			     (j->last[i] ? 0 : j->rest[i + 1]);
	return true;
}

/* Returns 0 or -ENOMEM. */
static int joint(struct pl_state *st)
{
	struct joint *j = calloc(1, sizeof(*j));
	unsigned int i;

	if (!j)
		return -ENOMEM;
	j->st = st;
	if (!joint_items(j) || !j->n)
		goto out;
	for (i = 0; i < j->n; i++)
		joint_unmark(j, i);
	for (i = 0; i < j->n; i++)
		if (j->was[i]) {
			j->best += joint_mark(j, i);
			j->best_freed += item_size(j, i);
		}
	for (i = 0; i < j->n; i++)
		joint_unmark(j, i);
	joint_search(j, 0, 0, 0);
	for (i = 0; i < j->n; i++)
		if (j->found ? j->best_set >> i & 1 : j->was[i])
			set_mark(st, j->vid[i], j->node[i], true);
out:
	free(j);
	return 0;
}

/* Mark, per node over capacity, the replicas it sheds (st->evict).
 * Returns 0 or -ENOMEM. */
int pl_shed_mark(struct pl_state *st)
{
	struct work w = { 0 };
	uint32_t n, i;
	int round, rc = 0;
	bool changed = true;

	memset(st->evict, 0, st->nv * sizeof(*st->evict));
	for (n = 0; n < st->nn; n++) {
		const struct pl_node *nd = &st->node[n];

		if (nd->base + nd->cur <= nd->cap || !nd->sched)
			continue;	/* a drained node sheds everything */
		for (i = 0; i < nd->nrep; i++)
			if (nd->base + st->vol[nd->rep[i]].size > nd->cap)
				set_mark(st, nd->rep[i], n, true);
	}
	for (round = 0; changed && round < SHED_ROUNDS; round++) {
		changed = false;
		for (n = 0; n < st->nn; n++) {
			const struct pl_node *nd = &st->node[n];

			if (nd->base + nd->cur <= nd->cap || !nd->sched)
				continue;
			rc = work_grow(&w, nd->nrep);
			if (rc)
				goto out;
			changed |= shed_node(st, n, &w);
		}
	}
	if (!w.stuck)
		rc = joint(st);
out:
	free(w.cost);
	free(w.size);
	free(w.pick);
	free(w.on);
	return rc;
}
