/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_repair.c: make every volume obey the rules, touching only the
 * replicas a rule condemns.
 *
 * A replica must leave when its node is drained (unschedulable), lacks the
 * volume's spread-key label, is over capacity, or when it is one too many
 * in its domain.  Missing replicas (new volumes, lost nodes) are added.
 * Every replacement is placed before the replica it replaces is dropped,
 * and a condemned replica with no replacement stays where it is: repair
 * never lowers redundancy.  Volumes go largest first, so the big ones get
 * first pick of scarce room and a volume that fits nowhere does not take
 * space from those that do.
 */
#include "placer_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum leave {
	L_NO,
	L_DROP,		/* more replicas than wanted: removed, not replaced */
	L_DRAIN,
	L_LABEL,
	L_CAP,
	L_SPREAD,
};

static const char *const leave_why[] = {
	[L_DRAIN] = "node unschedulable",
	[L_LABEL] = "node has no spread-key label",
	[L_CAP] = "node over capacity",
	[L_SPREAD] = "spread",
};

/* Is node n over capacity now?  Volumes go largest first, so a replica
 * that left for another rule (a drain, a crowded domain, an extra) has
 * often made room already; then the ones pl_shed_mark() marked stay. */
static bool over_now(const struct pl_state *st, uint32_t n)
{
	const struct pl_node *nd = &st->node[n];

	return nd->base + nd->cur > nd->cap;
}

/* Should slot i go rather than slot b?  Slow first when asked, then one
 * on a node over capacity, whose room the capacity rule then need not
 * make by moving another replica; else the one on the most loaded node,
 * so that what leaves also evens out the nodes (and no rebalancing has to
 * follow); on equal load not the primary, then the latest slot. */
static bool goes_first(const struct pl_state *st, const struct pl_vol *v,
		       unsigned int i, unsigned int b, bool slow_first)
{
	uint32_t n = v->rep[i], m = v->rep[b];
	bool sn = st->node[n].lat == PLACER_LAT_SLOW;
	bool sm = st->node[m].lat == PLACER_LAT_SLOW;

	if (slow_first && sn != sm)
		return sn;
	if (over_now(st, n) != over_now(st, m))
		return over_now(st, n);
	if (st->dev[n] != st->dev[m])
		return st->dev[n] > st->dev[m];
	return b == 0 || i != 0;
}

/* Which of the slots still staying (in only_dom, unless PL_NONE) should
 * go first; -1 if none. */
static int worst_slot(const struct pl_state *st, const struct pl_vol *v,
		      const uint8_t *why, uint32_t only_dom, bool slow_first)
{
	const uint32_t *dom_of = st->key[v->key].dom_of;
	int best = -1;
	unsigned int i;

	for (i = 0; i < v->nrep; i++) {
		if (why[i] != L_NO ||
		    (only_dom != PL_NONE && dom_of[v->rep[i]] != only_dom))
			continue;
		if (best < 0 || goes_first(st, v, i, (unsigned int)best,
					   slow_first))
			best = (int)i;
	}
	return best;
}

/* Per-domain counts of the staying replicas; dom and cnt hold PL_SLOTS. */
static unsigned int count_staying(const struct pl_state *st,
				  const struct pl_vol *v, const uint8_t *why,
				  uint32_t *dom, uint8_t *cnt)
{
	const uint32_t *dom_of = st->key[v->key].dom_of;
	unsigned int i, j, nd = 0;

	for (i = 0; i < v->nrep; i++) {
		if (why[i] != L_NO)
			continue;
		for (j = 0; j < nd && dom[j] != dom_of[v->rep[i]]; j++)
			;
		if (j == nd) {
			dom[nd] = dom_of[v->rep[i]];
			cnt[nd++] = 0;
		}
		cnt[j]++;
	}
	return nd;
}

/* The extra replica to drop when a volume has more than it wants: one from
 * a domain with the most of its replicas, so that the spread rule need not
 * copy one back where it was dropped; among those, slow first. */
static int drop_slot(const struct pl_state *st, const struct pl_vol *v,
		     const uint8_t *why)
{
	uint32_t dom[PL_SLOTS];
	uint8_t cnt[PL_SLOTS], top = 0;
	unsigned int j, nd;
	int best = -1, s;

	nd = count_staying(st, v, why, dom, cnt);
	for (j = 0; j < nd; j++)
		if (cnt[j] > top)
			top = cnt[j];
	for (j = 0; j < nd; j++) {
		if (cnt[j] != top)
			continue;
		s = worst_slot(st, v, why, dom[j], true);
		if (best < 0 || goes_first(st, v, (unsigned int)s,
					   (unsigned int)best, true))
			best = s;
	}
	return best;
}

/* Mark replicas that crowd a domain.  With D eligible domains and R
 * replicas, a domain may hold at most ceil(R/D), and only R mod D domains
 * may hold that many (all of them when D divides R); filling the rest into
 * the least used domains then gives counts that differ by at most one. */
static void mark_spread(const struct pl_state *st, const struct pl_vol *v,
			uint8_t *why, unsigned int *kept)
{
	uint32_t D = st->key[v->key].nelig_dom, dom[PL_SLOTS];
	unsigned int q, r, top, j, ntop, nd;
	uint8_t cnt[PL_SLOTS];
	int slot;

	if (!D)
		return;
	q = D >= v->R ? 1 : v->R / D;
	r = D >= v->R ? 0 : v->R % D;
	top = r ? q + 1 : q;
	nd = count_staying(st, v, why, dom, cnt);
	for (j = 0; j < nd; j++)
		for (; cnt[j] > top; cnt[j]--, (*kept)--) {
			slot = worst_slot(st, v, why, dom[j], false);
			why[slot] = L_SPREAD;
		}
	if (!r)
		return;
	for (ntop = 0, j = 0; j < nd; j++)
		ntop += cnt[j] == top;
	while (ntop > r) {
		/* Shed one from the crowded domain with the most loaded
		 * node, so the move also helps balance. */
		int pick = -1;
		int64_t worst = INT64_MIN;

		for (j = 0; j < nd; j++) {
			if (cnt[j] != top)
				continue;
			slot = worst_slot(st, v, why, dom[j], false);
			if (st->dev[v->rep[slot]] > worst) {
				worst = st->dev[v->rep[slot]];
				pick = (int)j;
			}
		}
		slot = worst_slot(st, v, why, dom[pick], false);
		why[slot] = L_SPREAD;
		cnt[pick]--;
		(*kept)--;
		ntop--;
	}
}

static bool fast_in_zone(const struct pl_state *st, const struct pl_vol *v,
			 uint32_t zone, uint16_t ignore)
{
	unsigned int i;

	for (i = 0; i < v->nrep; i++)
		if (!(ignore & (1u << i)) &&
		    st->key[0].dom_of[v->rep[i]] == zone &&
		    st->node[v->rep[i]].lat != PLACER_LAT_SLOW)
			return true;
	return false;
}

static uint16_t leaving_mask(const struct pl_vol *v, const uint8_t *why)
{
	uint16_t m = 0;
	unsigned int i;

	for (i = 0; i < v->nrep; i++)
		if (why[i] != L_NO)
			m |= 1u << i;
	return m;
}

/* Where the next replica goes: the preferred zone if the volume has no
 * fast replica there, else the least loaded allowed node, fast nodes
 * before slow ones, and under soft spread any domain as a last resort. */
static uint32_t choose(struct pl_state *st, uint32_t vid, const uint8_t *why,
		       bool may_fall)
{
	const struct pl_vol *v = &st->vol[vid];
	struct pl_pick p = { .vid = vid, .mode = PICK_SPREAD,
			     .only_zone = PL_NONE };
	uint32_t t = PL_NONE;

	p.ignore = leaving_mask(v, why);
	pl_pick_prepare(st, &p);
	if (v->pref != PL_NONE && !fast_in_zone(st, v, v->pref, p.ignore)) {
		p.only_zone = v->pref;
		t = pl_pick(st, &p, 0);
		p.only_zone = PL_NONE;
	}
	if (t == PL_NONE)
		t = pl_pick(st, &p, 0);
	if (t == PL_NONE)
		t = pl_pick(st, &p, 1);
	if (t == PL_NONE && !v->hard && may_fall) {
		p.mode = PICK_ANY;
		t = pl_pick(st, &p, 0);
		if (t == PL_NONE)
			t = pl_pick(st, &p, 1);
	}
	return t;
}

/* Does the volume's layout obey its spread rule?  Fills the most crowded
 * domain for messages. */
static bool spread_ok(const struct pl_state *st, const struct pl_vol *v,
		      uint32_t *crowded, unsigned int *crowd)
{
	const struct pl_key *k = &st->key[v->key];
	uint8_t why[PL_SLOTS] = { 0 }, cnt[PL_SLOTS];
	uint32_t dom[PL_SLOTS];
	unsigned int nd, j, used = 0, minc = UINT32_MAX, maxc = 0;
	bool ok = true;

	nd = count_staying(st, v, why, dom, cnt);
	*crowd = 0;
	for (j = 0; j < nd; j++) {
		if (dom[j] == PL_NONE || !k->dom_elig[dom[j]]) {
			ok = false;
			continue;
		}
		used++;
		if (cnt[j] < minc)
			minc = cnt[j];
		if (cnt[j] > maxc)
			maxc = cnt[j];
		if (cnt[j] > *crowd) {
			*crowd = cnt[j];
			*crowded = dom[j];
		}
	}
	if (used < k->nelig_dom)
		minc = 0;
	if (used && maxc - minc > 1)
		return false;
	*crowded = PL_NONE;	/* off only by a stuck leaver: said apart */
	return ok;
}

struct outcome {
	char buf[512];
	size_t len;
};

static void say(struct outcome *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct outcome *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= sizeof(o->buf) - 1)
		return;
	if (o->len)
		o->len += snprintf(o->buf + o->len, sizeof(o->buf) - o->len,
				   "; ");
	if (o->len >= sizeof(o->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
	if (o->len >= sizeof(o->buf))
		o->len = sizeof(o->buf) - 1;
}

static const char *node_name(const struct pl_state *st, uint32_t n)
{
	return st->in->nodes[st->node[n].in_idx].name;
}

/* Why replica nth could not be placed: no node left at all, or no room. */
static void no_room(const struct pl_state *st, const struct pl_vol *v,
		    unsigned int nth, struct outcome *o)
{
	const struct pl_key *k = &st->key[v->key];
	const char *key = k->name;
	uint32_t n, free_nodes = 0;

	for (n = 0; n < st->nn; n++)
		free_nodes += st->node[n].sched && k->dom_of[n] != PL_NONE &&
			      !pl_holds(v, n);
	if (!free_nodes)
		say(o, "no schedulable node left for replica %u of %u",
		    nth, v->R);
	else if (v->hard)
		say(o, "no room for replica %u of %u (%" PRId64 " bytes) "
		       "under hard spread on \"%s\"", nth, v->R, v->size, key);
	else
		say(o, "no room for replica %u of %u (%" PRId64 " bytes) "
		       "on any schedulable node", nth, v->R, v->size);
}

/* Drop leaving replicas, in order of reason, while the volume has more
 * than it wants; extras (L_DROP) always go. */
static size_t drop_leavers(struct pl_state *st, uint32_t vid, uint8_t *why)
{
	struct pl_vol *v = &st->vol[vid];
	unsigned int total = v->nrep, i;
	size_t changes = 0;
	int c;

	for (c = L_DROP; c <= L_SPREAD; c++)
		for (i = v->nrep; i-- > 0;) {
			if (why[i] != c || (c != L_DROP && total <= v->R))
				continue;
			pl_rep_del(st, vid, i);
			memmove(why + i, why + i + 1, v->nrep - i);
			total--;
			changes++;
		}
	return changes;
}

static int set_msgs(struct pl_vol *v, const struct outcome *err,
		    const char *fallback)
{
	if (err->len) {
		v->error = pl_strf("%s", err->buf);
		if (!v->error)
			return -ENOMEM;
	}
	if (fallback) {
		v->fallback = pl_strf("%s", fallback);
		if (!v->fallback)
			return -ENOMEM;
	}
	return 0;
}

static void report_layout(struct pl_state *st, struct pl_vol *v,
			  const uint8_t *why, struct outcome *err,
			  char *fb, size_t fblen)
{
	const struct pl_key *k = &st->key[v->key];
	unsigned int i, crowd;
	uint32_t crowded = PL_NONE;

	for (i = 0; i < v->nrep; i++)
		if (why[i] != L_NO && why[i] != L_DROP && why[i] != L_SPREAD)
			say(err, "replica on %s must move (%s) but no node "
				 "can take it", node_name(st, v->rep[i]),
			    leave_why[why[i]]);
	if (spread_ok(st, v, &crowded, &crowd) || crowded == PL_NONE)
		return;
	if (v->hard)
		say(err, "hard spread on \"%s\" not met: %u replicas in "
			 "\"%s\"", k->name, crowd, k->dom_name[crowded]);
	else
		snprintf(fb, fblen, "%u replicas share %s \"%s\": no room "
			 "elsewhere", crowd, k->name, k->dom_name[crowded]);
}

/* Condemn replicas: drained node, no label, over capacity, extras, and
 * crowding.  Returns how many stay. */
static unsigned int condemn(struct pl_state *st, uint32_t vid, uint8_t *why)
{
	struct pl_vol *v = &st->vol[vid];
	const struct pl_key *k = &st->key[v->key];
	unsigned int i, kept = 0;

	for (i = 0; i < v->nrep; i++) {
		uint32_t n = v->rep[i];

		if (!st->node[n].sched)
			why[i] = L_DRAIN;
		else if (k->dom_of[n] == PL_NONE)
			why[i] = L_LABEL;
		else if ((st->evict[vid] & (1u << i)) && over_now(st, n))
			why[i] = L_CAP;
		kept += why[i] == L_NO;
	}
	while (kept > v->R) {
		why[drop_slot(st, v, why)] = L_DROP;
		kept--;
	}
	mark_spread(st, v, why, &kept);
	return kept;
}

/* Add the replicas the volume lacks after condemn(): first those missing
 * outright, then replacements for condemned ones, then for ones leaving a
 * crowded domain.  Only the last may not fall back to any domain, and a
 * failed replacement is reported with the replica it was to replace.
 * Returns the number added, or -ENOMEM. */
static int add_missing(struct pl_state *st, uint32_t vid, uint8_t *why,
		       unsigned int kept, struct outcome *err)
{
	struct pl_vol *v = &st->vol[vid];
	unsigned int i, need, nspread = 0, nleave = 0, missing, added;
	uint32_t t;

	for (i = 0; i < v->nrep; i++) {
		nspread += why[i] == L_SPREAD;
		nleave += why[i] != L_NO && why[i] != L_DROP &&
			  why[i] != L_SPREAD;
	}
	need = kept < v->R ? v->R - kept : 0;
	missing = need > nleave + nspread ? need - nleave - nspread : 0;
	for (added = 0; added < need; added++) {
		t = choose(st, vid, why, added < missing + nleave);
		if (t == PL_NONE) {
			if (added < missing)
				no_room(st, v, kept + added + 1, err);
			break;
		}
		if (pl_rep_add(st, vid, t))
			return -ENOMEM;
		why[v->nrep - 1] = L_NO;
	}
	return (int)added;
}

static int repair_vol(struct pl_state *st, uint32_t vid, size_t *changes)
{
	struct pl_vol *v = &st->vol[vid];
	const struct pl_key *k = &st->key[v->key];
	uint8_t why[PL_SLOTS] = { 0 };
	struct outcome err = { .len = 0 };
	unsigned int start = v->nrep;
	char fb[256] = "";
	int added;

	if (v->existing && v->ninit && !start) {
		say(&err, "all %u replicas are on nodes not in the topology",
		    v->ninit);
		v->failed = true;
		return set_msgs(v, &err, NULL);
	}
	if (!start && k->nelig_nodes < v->R) {
		say(&err, "needs %u replicas but only %u schedulable nodes "
			  "have label \"%s\"", v->R, k->nelig_nodes, k->name);
		v->failed = true;
		return set_msgs(v, &err, NULL);
	}
	added = add_missing(st, vid, why, condemn(st, vid, why), &err);
	if (added < 0)
		return added;
	*changes += (size_t)added;
	if (!start && v->nrep < v->R) {
		/* A new volume is placed whole or not at all. */
		while (v->nrep)
			pl_rep_del(st, vid, v->nrep - 1);
		*changes -= (size_t)added;
		v->failed = true;
		return set_msgs(v, &err, NULL);
	}
	v->failed = false;
	*changes += drop_leavers(st, vid, why);
	if (v->nrep < v->R && start) {
		struct outcome deg = { .len = 0 };

		say(&deg, "degraded: %u of %u replicas placed", v->nrep, v->R);
		if (err.len)
			say(&deg, "%s", err.buf);
		err = deg;
	}
	report_layout(st, v, why, &err, fb, sizeof(fb));
	return set_msgs(v, &err, fb[0] ? fb : NULL);
}

/* One repair pass over all volumes.  Adds the replica adds and removes it
 * made to *changes.  Returns 0 or -ENOMEM. */
int pl_repair(struct pl_state *st, size_t *changes)
{
	uint32_t vid;
	int rc;

	rc = pl_shed_mark(st);
	if (rc)
		return rc;
	for (vid = 0; vid < st->nv; vid++) {
		struct pl_vol *v = &st->vol[vid];

		free(v->error);
		free(v->fallback);
		v->error = v->fallback = NULL;
		rc = repair_vol(st, vid, changes);
		if (rc)
			return rc;
	}
	return 0;
}
