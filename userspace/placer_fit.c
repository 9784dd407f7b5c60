/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_fit.c: the placer's bookkeeping of who holds what, and the search
 * for the best node to receive a replica.
 *
 * Receivers are kept per spread key and latency class in two levels of
 * heaps (domains by their best node, nodes by deviation from target), so
 * that choosing a node costs a few heap operations, not a scan of the
 * cluster: 100,000 volumes on 1,000 nodes is 300,000 such choices.
 */
#include "placer_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *pl_strf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static void rx_fini_one(struct pl_rx *rx, uint32_t ndom)
{
	uint32_t d;

	if (rx->node)
		for (d = 0; d < ndom; d++)
			iheap_fini(&rx->node[d]);
	free(rx->node);
	iheap_fini(&rx->dom);
	free(rx->dkey);
	free(rx->dpos);
	free(rx->npos);
	memset(rx, 0, sizeof(*rx));
}

void pl_rx_fini(struct pl_state *st)
{
	uint32_t k;
	int c;

	if (!st->key)
		return;
	for (k = 0; k < st->nk; k++)
		for (c = 0; c < 2; c++)
			rx_fini_one(&st->key[k].rx[c], st->key[k].ndom);
}

/* Keep domain d's place in the domain heap in step with its best node. */
static void rx_refresh_dom(const struct pl_state *st, struct pl_rx *rx,
			   uint32_t d)
{
	uint32_t top = iheap_top(&rx->node[d]);

	if (top == IHEAP_NONE) {
		if (iheap_contains(&rx->dom, d))
			iheap_remove(&rx->dom, d);
		return;
	}
	rx->dkey[d] = st->dev[top];
	if (iheap_contains(&rx->dom, d))
		iheap_update(&rx->dom, d);
	else
		iheap_push(&rx->dom, d);
}

static int rx_init_one(struct pl_state *st, struct pl_key *k, int cls)
{
	struct pl_rx *rx = &k->rx[cls];
	uint32_t d, n;

	rx->node = calloc(k->ndom ? k->ndom : 1, sizeof(*rx->node));
	rx->dkey = calloc(k->ndom ? k->ndom : 1, sizeof(*rx->dkey));
	rx->dpos = malloc((k->ndom ? k->ndom : 1) * sizeof(*rx->dpos));
	rx->npos = malloc((st->nn ? st->nn : 1) * sizeof(*rx->npos));
	if (!rx->node || !rx->dkey || !rx->dpos || !rx->npos)
		return -ENOMEM;
	memset(rx->dpos, 0xff, (k->ndom ? k->ndom : 1) * sizeof(*rx->dpos));
	memset(rx->npos, 0xff, (st->nn ? st->nn : 1) * sizeof(*rx->npos));
	if (iheap_init(&rx->dom, k->ndom, rx->dpos, rx->dkey, false))
		return -ENOMEM;
	for (d = 0; d < k->ndom; d++)
		if (iheap_init(&rx->node[d], k->dom_nodes[d], rx->npos,
			       st->dev, false))
			return -ENOMEM;
	for (n = 0; n < st->nn; n++) {
		d = k->dom_of[n];
		if (d == PL_NONE || !st->node[n].sched ||
		    (st->node[n].lat == PLACER_LAT_SLOW) != cls)
			continue;
		iheap_push(&rx->node[d], n);
	}
	for (d = 0; d < k->ndom; d++)
		rx_refresh_dom(st, rx, d);
	return 0;
}

/* Build the receiver heaps from the nodes' current dev.  Returns 0 or
 * -ENOMEM; pl_rx_fini() cleans up either way. */
int pl_rx_init(struct pl_state *st)
{
	uint32_t k;
	int c, rc;

	for (k = 0; k < st->nk; k++)
		for (c = 0; c < 2; c++) {
			rc = rx_init_one(st, &st->key[k], c);
			if (rc)
				return rc;
		}
	return 0;
}

void pl_node_changed(struct pl_state *st, uint32_t n)
{
	const struct pl_node *nd = &st->node[n];
	struct pl_rx *rx;
	uint32_t k, d;

	st->dev[n] = nd->cur - nd->target;
	for (k = 0; k < st->nk; k++) {
		d = st->key[k].dom_of[n];
		if (d == PL_NONE)
			continue;
		rx = &st->key[k].rx[nd->lat == PLACER_LAT_SLOW];
		if (!rx->node || !iheap_contains(&rx->node[d], n))
			continue;
		iheap_update(&rx->node[d], n);
		rx_refresh_dom(st, rx, d);
	}
	if (st->senders_on)
		iheap_update(&st->over, n);
}

bool pl_holds(const struct pl_vol *v, uint32_t n)
{
	unsigned int i;

	for (i = 0; i < v->nrep; i++)
		if (v->rep[i] == n)
			return true;
	return false;
}

bool pl_was_on(const struct pl_vol *v, uint32_t n)
{
	unsigned int i;

	for (i = 0; i < v->ninit; i++)
		if (v->init[i] == n)
			return true;
	return false;
}

/* First index in the node's list whose volume id is >= vid. */
static uint32_t list_lower(const struct pl_node *nd, uint32_t vid)
{
	uint32_t lo = 0, hi = nd->nrep;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (nd->rep[mid] < vid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int list_insert(struct pl_node *nd, uint32_t vid)
{
	uint32_t i;

	if (nd->nrep == nd->caprep) {
		uint32_t cap = nd->caprep ? 2 * nd->caprep : 16;
		uint32_t *r = realloc(nd->rep, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		nd->rep = r;
		nd->caprep = cap;
	}
	i = list_lower(nd, vid);
	memmove(nd->rep + i + 1, nd->rep + i,
		(nd->nrep - i) * sizeof(*nd->rep));
	nd->rep[i] = vid;
	nd->nrep++;
	return 0;
}

static void list_remove(struct pl_node *nd, uint32_t vid)
{
	uint32_t i = list_lower(nd, vid);

	memmove(nd->rep + i, nd->rep + i + 1,
		(nd->nrep - i - 1) * sizeof(*nd->rep));
	nd->nrep--;
}

/* Put a replica of vid on node n (appended to the volume's list).  The
 * caller has checked room and that n does not hold vid yet.  Returns 0 or
 * -ENOMEM with nothing changed. */
int pl_rep_add(struct pl_state *st, uint32_t vid, uint32_t n)
{
	struct pl_vol *v = &st->vol[vid];
	struct pl_node *nd = &st->node[n];

	if (list_insert(nd, vid))
		return -ENOMEM;
	v->rep[v->nrep++] = n;
	nd->cur += v->size;
	if (!pl_was_on(v, n))
		nd->reserved += v->size;
	pl_node_changed(st, n);
	return 0;
}

void pl_rep_del(struct pl_state *st, uint32_t vid, unsigned int slot)
{
	struct pl_vol *v = &st->vol[vid];
	uint32_t n = v->rep[slot];
	struct pl_node *nd = &st->node[n];

	memmove(v->rep + slot, v->rep + slot + 1,
		(v->nrep - slot - 1) * sizeof(v->rep[0]));
	v->nrep--;
	list_remove(nd, vid);
	nd->cur -= v->size;
	if (!pl_was_on(v, n))
		nd->reserved -= v->size;
	pl_node_changed(st, n);
}

/* Move the replica in slot to node to; it goes to the end of the list. */
int pl_rep_move(struct pl_state *st, uint32_t vid, unsigned int slot,
		uint32_t to)
{
	int rc = pl_rep_add(st, vid, to);

	if (rc)
		return rc;
	pl_rep_del(st, vid, slot);
	return 0;
}

/* Count the volume's replicas per domain of its spread key, leaving out
 * the slots in p->ignore, and find the count a new replica must go to. */
void pl_pick_prepare(const struct pl_state *st, struct pl_pick *p)
{
	const struct pl_vol *v = &st->vol[p->vid];
	const struct pl_key *k = &st->key[v->key];
	unsigned int i, j, used = 0;
	uint8_t minc = UINT8_MAX;
	uint32_t d;

	p->n = 0;
	for (i = 0; i < v->nrep; i++) {
		if (p->ignore & (1u << i))
			continue;
		d = k->dom_of[v->rep[i]];
		if (d == PL_NONE)
			continue;
		for (j = 0; j < p->n && p->dom[j] != d; j++)
			;
		if (j == p->n) {
			p->dom[p->n] = d;
			p->cnt[p->n++] = 0;
		}
		p->cnt[j]++;
	}
	for (j = 0; j < p->n; j++) {
		if (!k->dom_elig[p->dom[j]])
			continue;
		used++;
		if (p->cnt[j] < minc)
			minc = p->cnt[j];
	}
	p->minc = used < k->nelig_dom ? 0 : minc;
}

static uint8_t pick_count(const struct pl_pick *p, uint32_t dom)
{
	unsigned int j;

	for (j = 0; j < p->n; j++)
		if (p->dom[j] == dom)
			return p->cnt[j];
	return 0;
}

/* May a replica of the volume go to domain dom (of its spread key)? */
bool pl_pick_dom_ok(const struct pl_pick *p, uint32_t dom)
{
	switch (p->mode) {
	case PICK_SPREAD:
		return pick_count(p, dom) == p->minc;
	case PICK_ANY:
		return true;
	case PICK_MOVE:
		return dom == p->from_dom ||
		       pick_count(p, dom) < pick_count(p, p->from_dom);
	}
	return false;
}

/* The best node of domain d that can take the replica: room, not holding
 * the volume, and (when the search runs on another key) a domain of the
 * volume's own key that the pick allows. */
static uint32_t search_domain(struct pl_state *st, struct pl_rx *rx,
			      uint32_t d, const struct pl_pick *p,
			      bool check_key)
{
	const struct pl_vol *v = &st->vol[p->vid];
	const uint32_t *dom_of = st->key[v->key].dom_of;
	uint32_t n, found = PL_NONE, ns = 0, i;

	while ((n = iheap_pop(&rx->node[d])) != IHEAP_NONE) {
		const struct pl_node *nd = &st->node[n];

		st->stash2[ns++] = n;
		if (nd->reserved + v->size > nd->cap || pl_holds(v, n))
			continue;
		if (check_key && (dom_of[n] == PL_NONE ||
				  !pl_pick_dom_ok(p, dom_of[n])))
			continue;
		found = n;
		break;
	}
	for (i = 0; i < ns; i++)
		iheap_push(&rx->node[d], st->stash2[i]);
	return found;
}

/* A fixed pseudo-random rank of node n for volume vid. */
static uint64_t mix(uint32_t vid, uint32_t n)
{
	uint64_t z = ((uint64_t)vid << 32 | n) + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Among the first SPREAD_PICKS nodes of domain d that can take the
 * replica and are within one replica size of the best, the one the
 * volume's hash ranks first.  Strict "most under first" would hand out
 * roles in lockstep: which nodes hold the second replica of a doubled
 * domain, which volumes share nodes.  Then a later change (a zone added to
 * fewer zones than replicas) finds some nodes with nothing it may shed,
 * and must move more than the minimum.  Hashing breaks the pattern and
 * keeps the balance within one replica. */
#define SPREAD_PICKS 8

static uint32_t spread_domain(struct pl_state *st, struct pl_rx *rx,
			      uint32_t d, const struct pl_pick *p,
			      bool check_key, int64_t limit)
{
	const struct pl_vol *v = &st->vol[p->vid];
	const uint32_t *dom_of = st->key[v->key].dom_of;
	uint32_t n, best = PL_NONE, ns = 0, seen = 0, i;
	uint64_t best_rank = 0, rank;

	while (seen < SPREAD_PICKS && (n = iheap_pop(&rx->node[d])) !=
	       IHEAP_NONE) {
		const struct pl_node *nd = &st->node[n];

		st->stash2[ns++] = n;
		if (st->dev[n] > limit)
			break;
		if (nd->reserved + v->size > nd->cap || pl_holds(v, n))
			continue;
		if (check_key && (dom_of[n] == PL_NONE ||
				  !pl_pick_dom_ok(p, dom_of[n])))
			continue;
		seen++;
		rank = mix(p->vid, n);
		if (best == PL_NONE || rank < best_rank) {
			best = n;
			best_rank = rank;
		}
	}
	for (i = 0; i < ns; i++)
		iheap_push(&rx->node[d], st->stash2[i]);
	return best;
}

/* A node that may take a replica of p->vid under p's rule, among class
 * cls (0 fast, 1 slow): in the domain whose best node is most under its
 * target, one of the few best there (see spread_domain).  PL_NONE if
 * there is none.  The heaps are left as they were. */
uint32_t pl_pick(struct pl_state *st, const struct pl_pick *p, int cls)
{
	const struct pl_vol *v = &st->vol[p->vid];
	bool by_zone = p->only_zone != PL_NONE;
	struct pl_key *k = &st->key[by_zone ? 0 : v->key];
	struct pl_rx *rx = &k->rx[cls];
	uint32_t d, n, best = PL_NONE, best_d = PL_NONE, nd = 0, i;
	bool check_key = by_zone && v->key != 0;
	int64_t best_dev = 0, limit;

	while ((d = iheap_pop(&rx->dom)) != IHEAP_NONE) {
		st->stash[nd++] = d;
		if (best != PL_NONE && rx->dkey[d] >= best_dev)
			break;
		if (p->bounded && rx->dkey[d] > p->max_dev)
			break;
		if (by_zone && d != p->only_zone)
			continue;
		if ((!by_zone || v->key == 0) && !pl_pick_dom_ok(p, d))
			continue;
		n = search_domain(st, rx, d, p, check_key);
		if (n == PL_NONE)
			continue;
		if (best == PL_NONE || st->dev[n] < best_dev ||
		    (st->dev[n] == best_dev && n < best)) {
			best = n;
			best_d = d;
			best_dev = st->dev[n];
		}
	}
	for (i = 0; i < nd; i++)
		iheap_push(&rx->dom, st->stash[i]);
	if (best == PL_NONE || (p->bounded && best_dev > p->max_dev))
		return PL_NONE;
	limit = best_dev + v->size;
	if (p->bounded && limit > p->max_dev)
		limit = p->max_dev;
	return spread_domain(st, rx, best_d, p, check_key, limit);
}
