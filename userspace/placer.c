/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer.c: input checks, the internal model, latency classes, and the
 * order of work: targets, then repair and rebalance until neither changes
 * anything, then primaries and the plan.
 */
#include "placer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placer_int.h"

/* Repair and rebalance alternate until a pass changes nothing; in practice
 * the second pass does.  The cap only bounds pathological inputs. */
#define MAX_PASSES 8

void placer_opts_default(struct placer_opts *o)
{
	o->slow_factor = 3.0;
	o->slow_band = 0.2;
	o->balance_tolerance = 0.02;
	o->zone_key = PLACER_ZONE_KEY;
}

static int fail(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

struct named {
	const char *name;
	uint32_t idx;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Index of name in a sorted array, or PL_NONE. */
static uint32_t find_named(const struct named *a, uint32_t n, const char *name)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(a[mid].name, name);

		if (!c)
			return a[mid].idx;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return PL_NONE;
}

struct setup {
	struct named *nodes;	/* by name -> internal node id */
	struct named *vols;	/* by name -> internal volume id */
	char *err;
	size_t errlen;
};

static int setup_nodes(struct pl_state *st, struct setup *s)
{
	const struct placer_input *in = st->in;
	uint64_t total = 0;
	uint32_t i;

	if (in->nnodes >= PL_NONE)
		return fail(s->err, s->errlen, "too many nodes");
	st->nn = (uint32_t)in->nnodes;
	st->node = calloc(st->nn ? st->nn : 1, sizeof(*st->node));
	s->nodes = calloc(st->nn ? st->nn : 1, sizeof(*s->nodes));
	if (!st->node || !s->nodes)
		return -ENOMEM;
	for (i = 0; i < st->nn; i++) {
		const struct placer_node *n = &in->nodes[i];

		if (!n->name || !n->name[0])
			return fail(s->err, s->errlen,
				    "node %u has no name", i);
		if (n->capacity_bytes > PLACER_MAX_BYTES ||
		    n->used_bytes > PLACER_MAX_BYTES)
			return fail(s->err, s->errlen,
				    "node \"%s\": byte count too large",
				    n->name);
		total += n->capacity_bytes;
		if (total > PLACER_MAX_BYTES)
			return fail(s->err, s->errlen,
				    "total capacity too large");
		s->nodes[i] = (struct named){ n->name, i };
	}
	qsort(s->nodes, st->nn, sizeof(*s->nodes), cmp_named);
	for (i = 0; i < st->nn; i++) {
		const struct placer_node *n = &in->nodes[s->nodes[i].idx];
		struct pl_node *nd = &st->node[i];

		if (i && !strcmp(s->nodes[i - 1].name, n->name))
			return fail(s->err, s->errlen,
				    "duplicate node name \"%s\"", n->name);
		nd->in_idx = s->nodes[i].idx;
		nd->cap = (int64_t)n->capacity_bytes;
		nd->base = (int64_t)n->used_bytes;
		nd->reserved = nd->base;
		nd->sched = n->schedulable;
		s->nodes[i].idx = i;
	}
	return 0;
}

static int check_volume(const struct placer_volume *v, uint32_t i,
			struct setup *s)
{
	if (!v->name || !v->name[0])
		return fail(s->err, s->errlen, "volume %u has no name", i);
	if (v->replicas < 1 || v->replicas > PL_MAXR)
		return fail(s->err, s->errlen,
			    "volume \"%s\": replicas must be 1 to %d",
			    v->name, PL_MAXR);
	if (v->size_bytes < 1 || v->size_bytes > PLACER_MAX_BYTES)
		return fail(s->err, s->errlen,
			    "volume \"%s\": size_bytes must be 1 to 2^62",
			    v->name);
	if (v->spread != PLACER_SPREAD_HARD && v->spread != PLACER_SPREAD_SOFT)
		return fail(s->err, s->errlen,
			    "volume \"%s\": bad spread", v->name);
	return 0;
}

/* Placement order: size descending, then name. */
static int cmp_order(const void *a, const void *b, void *ctx)
{
	const struct placer_volume *vs = ctx;
	const struct placer_volume *x = &vs[*(const uint32_t *)a];
	const struct placer_volume *y = &vs[*(const uint32_t *)b];

	if (x->size_bytes != y->size_bytes)
		return x->size_bytes > y->size_bytes ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int setup_volumes(struct pl_state *st, struct setup *s)
{
	const struct placer_input *in = st->in;
	uint64_t total = 0;
	uint32_t i, *order;
	int rc;

	if (in->nvolumes >= PL_NONE)
		return fail(s->err, s->errlen, "too many volumes");
	st->nv = (uint32_t)in->nvolumes;
	st->vol = calloc(st->nv ? st->nv : 1, sizeof(*st->vol));
	st->vid_of = calloc(st->nv ? st->nv : 1, sizeof(*st->vid_of));
	s->vols = calloc(st->nv ? st->nv : 1, sizeof(*s->vols));
	order = calloc(st->nv ? st->nv : 1, sizeof(*order));
	if (!st->vol || !st->vid_of || !s->vols || !order) {
		free(order);
		return -ENOMEM;
	}
	for (i = 0; i < st->nv; i++) {
		const struct placer_volume *v = &in->volumes[i];

		rc = check_volume(v, i, s);
		if (rc)
			goto out;
		/* Divide, not multiply: size x replicas can pass 2^64. */
		if (v->size_bytes > (PLACER_MAX_BYTES - total) / v->replicas) {
			rc = fail(s->err, s->errlen,
				  "total volume bytes too large");
			goto out;
		}
		total += v->size_bytes * v->replicas;
		s->vols[i] = (struct named){ v->name, i };
		order[i] = i;
	}
	qsort(s->vols, st->nv, sizeof(*s->vols), cmp_named);
	for (i = 1; i < st->nv; i++)
		if (!strcmp(s->vols[i - 1].name, s->vols[i].name)) {
			rc = fail(s->err, s->errlen,
				  "duplicate volume name \"%s\"",
				  s->vols[i].name);
			goto out;
		}
	qsort_r(order, st->nv, sizeof(*order), cmp_order,
		(void *)in->volumes);
	for (i = 0; i < st->nv; i++) {
		const struct placer_volume *v = &in->volumes[order[i]];
		struct pl_vol *pv = &st->vol[i];

		pv->in_idx = order[i];
		pv->size = (int64_t)v->size_bytes;
		pv->R = (uint8_t)v->replicas;
		pv->hard = v->spread == PLACER_SPREAD_HARD;
		pv->cur_idx = PL_NONE;
		pv->pref = PL_NONE;
		st->vid_of[order[i]] = i;
	}
	for (i = 0; i < st->nv; i++)
		s->vols[i].idx = st->vid_of[s->vols[i].idx];
	rc = 0;
out:
	free(order);
	return rc;
}

static const char *label_of(const struct placer_node *n, const char *key)
{
	size_t i;

	for (i = 0; i < n->nlabels; i++)
		if (n->labels[i].key && !strcmp(n->labels[i].key, key))
			return n->labels[i].value;
	return NULL;
}

/* Domains of one spread key: its label values, sorted. */
static int build_key(struct pl_state *st, struct pl_key *k)
{
	struct named *pairs;
	uint32_t n, np = 0, i, d = PL_NONE;
	size_t sz = st->nn ? st->nn : 1;

	pairs = calloc(sz, sizeof(*pairs));
	k->dom_of = malloc(sz * sizeof(*k->dom_of));
	k->dom_name = calloc(sz, sizeof(*k->dom_name));
	k->dom_nodes = calloc(sz, sizeof(*k->dom_nodes));
	k->dom_elig = calloc(sz, 1);
	if (!pairs || !k->dom_of || !k->dom_name || !k->dom_nodes ||
	    !k->dom_elig) {
		free(pairs);
		return -ENOMEM;
	}
	for (n = 0; n < st->nn; n++) {
		const char *val = label_of(&st->in->nodes[st->node[n].in_idx],
					   k->name);

		k->dom_of[n] = PL_NONE;
		if (val)
			pairs[np++] = (struct named){ val, n };
	}
	qsort(pairs, np, sizeof(*pairs), cmp_named);
	for (i = 0; i < np; i++) {
		n = pairs[i].idx;
		if (!i || strcmp(pairs[i - 1].name, pairs[i].name)) {
			d = k->ndom++;
			k->dom_name[d] = pairs[i].name;
		}
		k->dom_of[n] = d;
		k->dom_nodes[d]++;
		if (st->node[n].sched) {
			k->nelig_nodes++;
			if (!k->dom_elig[d]++)
				k->nelig_dom++;
		}
	}
	for (d = 0; d < k->ndom; d++)
		k->dom_elig[d] = !!k->dom_elig[d];
	free(pairs);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint32_t find_str(const char **a, uint32_t n, const char *s)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(a[mid], s);

		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return PL_NONE;
}

/* Distinct spread keys, sorted, the zone key first; volumes' key and
 * preferred zone; and the key the targets follow (the most used). */
static int setup_keys(struct pl_state *st, struct setup *s)
{
	const char *zk = st->o->zone_key, **names;
	uint32_t i, nu = 0, *uses = NULL, k;
	int rc = -ENOMEM;

	names = calloc(st->nv ? st->nv : 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (i = 0; i < st->nv; i++) {
		const char *key = st->in->volumes[i].spread_key;

		if (key && strcmp(key, zk))
			names[nu++] = key;
	}
	qsort(names, nu, sizeof(*names), cmp_str);
	for (i = 0, k = 0; i < nu; i++)
		if (!k || strcmp(names[k - 1], names[i]))
			names[k++] = names[i];
	nu = k;
	if (nu >= UINT8_MAX) {
		rc = fail(s->err, s->errlen, "too many spread keys");
		goto out;
	}
	st->nk = nu + 1;
	st->key = calloc(st->nk, sizeof(*st->key));
	uses = calloc(st->nk, sizeof(*uses));
	if (!st->key || !uses)
		goto out;
	st->key[0].name = zk;
	for (k = 0; k < nu; k++)
		st->key[k + 1].name = names[k];
	for (k = 0; k < st->nk; k++)
		if (build_key(st, &st->key[k]))
			goto out;
	for (i = 0; i < st->nv; i++) {
		struct pl_vol *v = &st->vol[i];
		const struct placer_volume *iv = &st->in->volumes[v->in_idx];

		k = 0;
		if (iv->spread_key && strcmp(iv->spread_key, zk))
			k = find_str(names, nu, iv->spread_key) + 1;
		v->key = (uint8_t)k;
		uses[k]++;
		if (iv->preferred_zone) {
			v->pref = find_str(st->key[0].dom_name,
					   st->key[0].ndom, iv->preferred_zone);
			v->pref_unknown = v->pref == PL_NONE;
		}
	}
	st->bal_key = 0;
	for (k = 1; k < st->nk; k++)
		if (uses[k] > uses[st->bal_key])
			st->bal_key = k;
	rc = 0;
out:
	free(uses);
	free(names);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The lower median: with two values, the faster one is the reference. */
static double lower_median(double *a, uint32_t n)
{
	if (!n)
		return 0;
	qsort(a, n, sizeof(*a), cmp_double);
	return a[(n - 1) / 2];
}

static bool bad_latency(double x)
{
	return !isfinite(x) || x < 0;
}

static uint8_t classify(double p, double med, const struct placer_opts *o)
{
	if (p < 0 || med <= 0)
		return PLACER_LAT_FAST;
	if (p > o->slow_factor * med)
		return PLACER_LAT_SLOW;
	if (p > o->slow_factor * (1 - o->slow_band) * med)
		return PLACER_LAT_BAND;
	return PLACER_LAT_FAST;
}

static int node_latency(struct pl_state *st, struct setup *s, double *p99)
{
	uint32_t i, n;

	for (n = 0; n < st->nn; n++)
		p99[n] = -1;
	for (i = 0; i < st->in->nnode_stats; i++) {
		const struct placer_node_stat *ns = &st->in->node_stats[i];

		if (!ns->name)
			return fail(s->err, s->errlen, "stats: node %u has no "
				    "name", i);
		if (bad_latency(ns->p99_write_us) ||
		    bad_latency(ns->p50_write_us))
			return fail(s->err, s->errlen, "stats: node \"%s\": "
				    "latency must be a non-negative number",
				    ns->name);
		n = find_named(s->nodes, st->nn, ns->name);
		if (n == PL_NONE)
			continue;	/* a node that left: harmless */
		if (p99[n] >= 0)
			return fail(s->err, s->errlen, "stats: node \"%s\" "
				    "listed twice", ns->name);
		p99[n] = ns->p99_write_us;
	}
	return 0;
}

static int zone_latency(struct pl_state *st, struct setup *s, double *zp99)
{
	const struct pl_key *z = &st->key[0];
	uint32_t i, d;

	for (d = 0; d < z->ndom; d++)
		zp99[d] = -1;
	for (i = 0; i < st->in->nzone_stats; i++) {
		const struct placer_zone_stat *zs = &st->in->zone_stats[i];

		if (!zs->zone)
			return fail(s->err, s->errlen, "stats: zone %u has no "
				    "name", i);
		if (bad_latency(zs->p99_write_us))
			return fail(s->err, s->errlen, "stats: zone \"%s\": "
				    "latency must be a non-negative number",
				    zs->zone);
		d = find_str(z->dom_name, z->ndom, zs->zone);
		if (d == PL_NONE)
			continue;
		if (zp99[d] >= 0)
			return fail(s->err, s->errlen, "stats: zone \"%s\" "
				    "listed twice", zs->zone);
		zp99[d] = zs->p99_write_us;
	}
	return 0;
}

/* Compact the measured values of a into b and return their lower
 * median.  A p99 of 0 measured nothing (an empty histogram: no writes in
 * the window) and is left out like a missing one; counted, half the
 * nodes idle made the median 0 and no node could be slow. */
static double median_of(const double *a, uint32_t n, double *b)
{
	uint32_t i, m = 0;

	for (i = 0; i < n; i++)
		if (a[i] > 0)
			b[m++] = a[i];
	return lower_median(b, m);
}

static int setup_latency(struct pl_state *st, struct setup *s)
{
	uint32_t nz = st->key[0].ndom, n, d, sz = st->nn + nz + 1;
	double *p99, *zp99, *tmp, mn, mz;
	uint8_t a, b;
	int rc;

	p99 = calloc(sz, sizeof(*p99));
	tmp = calloc(sz, sizeof(*tmp));
	if (!p99 || !tmp) {
		rc = -ENOMEM;
		goto out;
	}
	zp99 = p99 + st->nn;
	rc = node_latency(st, s, p99);
	if (!rc)
		rc = zone_latency(st, s, zp99);
	if (rc)
		goto out;
	mn = median_of(p99, st->nn, tmp);
	mz = median_of(zp99, nz, tmp);
	for (n = 0; n < st->nn; n++) {
		d = st->key[0].dom_of[n];
		a = classify(p99[n], mn, st->o);
		b = d == PL_NONE ? PLACER_LAT_FAST : classify(zp99[d], mz, st->o);
		st->node[n].lat = a > b ? a : b;
	}
out:
	free(p99);
	free(tmp);
	return rc;
}

static int append_rep(struct pl_node *nd, uint32_t vid)
{
	if (nd->nrep == nd->caprep) {
		uint32_t cap = nd->caprep ? 2 * nd->caprep : 16;
		uint32_t *r = realloc(nd->rep, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		nd->rep = r;
		nd->caprep = cap;
	}
	nd->rep[nd->nrep++] = vid;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int import_one(struct pl_state *st, struct setup *s, uint32_t ai)
{
	const struct placer_assignment *a = &st->in->current[ai];
	struct pl_vol *v;
	uint32_t vid, n;
	size_t r, q;

	if (!a->volume)
		return fail(s->err, s->errlen, "current placement: entry %u "
			    "has no volume name", ai);
	vid = find_named(s->vols, st->nv, a->volume);
	if (vid == PL_NONE)
		return fail(s->err, s->errlen, "current placement: volume "
			    "\"%s\" is not in the volume list", a->volume);
	v = &st->vol[vid];
	if (v->cur_idx != PL_NONE)
		return fail(s->err, s->errlen, "current placement: volume "
			    "\"%s\" is listed twice", a->volume);
	if (a->nreplicas > PL_MAXR)
		return fail(s->err, s->errlen, "current placement: volume "
			    "\"%s\" has %zu replicas, more than %d",
			    a->volume, a->nreplicas, PL_MAXR);
	v->cur_idx = ai;
	for (r = 0; r < a->nreplicas; r++) {
		if (!a->replicas[r])
			return fail(s->err, s->errlen, "current placement: "
				    "volume \"%s\": replica %zu has no node",
				    a->volume, r);
		for (q = 0; q < r; q++)
			if (!strcmp(a->replicas[q], a->replicas[r]))
				return fail(s->err, s->errlen,
					    "current placement: volume \"%s\" "
					    "lists node \"%s\" twice",
					    a->volume, a->replicas[r]);
		n = find_named(s->nodes, st->nn, a->replicas[r]);
		v->init[v->ninit++] = n;
		if (n == PL_NONE)
			continue;
		v->rep[v->nrep++] = n;
		st->node[n].cur += v->size;
		st->node[n].reserved += v->size;
		if (append_rep(&st->node[n], vid))
			return -ENOMEM;
	}
	v->existing = v->ninit > 0;
	return 0;
}

static int setup_current(struct pl_state *st, struct setup *s)
{
	uint32_t ai, n;
	int rc;

	if (st->in->ncurrent >= PL_NONE)
		return fail(s->err, s->errlen, "too many current volumes");
	for (ai = 0; ai < st->in->ncurrent; ai++) {
		rc = import_one(st, s, ai);
		if (rc)
			return rc;
	}
	for (n = 0; n < st->nn; n++)
		if (st->node[n].nrep > 1)
			qsort(st->node[n].rep, st->node[n].nrep,
			      sizeof(uint32_t), cmp_u32);
	return 0;
}

static int check_opts(const struct placer_opts *o, struct setup *s)
{
	if (!(o->slow_factor >= 1) || !isfinite(o->slow_factor))
		return fail(s->err, s->errlen, "slow factor must be >= 1");
	if (!(o->slow_band >= 0 && o->slow_band < 1))
		return fail(s->err, s->errlen, "slow band must be in [0, 1)");
	if (!(o->balance_tolerance >= 0 && o->balance_tolerance <= 1))
		return fail(s->err, s->errlen,
			    "balance tolerance must be in [0, 1]");
	if (!o->zone_key || !o->zone_key[0])
		return fail(s->err, s->errlen, "zone key is empty");
	return 0;
}

static int setup(struct pl_state *st, struct setup *s)
{
	uint32_t maxdom = 0, k;
	int rc;

	rc = check_opts(st->o, s);
	if (!rc)
		rc = setup_nodes(st, s);
	if (!rc)
		rc = setup_volumes(st, s);
	if (!rc)
		rc = setup_keys(st, s);
	if (!rc)
		rc = setup_latency(st, s);
	if (!rc)
		rc = setup_current(st, s);
	if (rc)
		return rc;
	for (k = 0; k < st->nk; k++)
		if (st->key[k].ndom > maxdom)
			maxdom = st->key[k].ndom;
	st->dev = calloc(st->nn ? st->nn : 1, sizeof(*st->dev));
	st->evict = calloc(st->nv ? st->nv : 1, sizeof(*st->evict));
	st->stash = calloc(maxdom + 1, sizeof(*st->stash));
	st->stash2 = calloc(st->nn + 1, sizeof(*st->stash2));
	if (!st->dev || !st->evict || !st->stash || !st->stash2)
		return -ENOMEM;
	return 0;
}

static void teardown(struct pl_state *st, struct setup *s)
{
	uint32_t i;

	pl_rx_fini(st);
	if (st->node)
		for (i = 0; i < st->nn; i++)
			free(st->node[i].rep);
	if (st->vol)
		for (i = 0; i < st->nv; i++) {
			free(st->vol[i].error);
			free(st->vol[i].fallback);
		}
	if (st->key)
		for (i = 0; i < st->nk; i++) {
			free(st->key[i].dom_name);
			free(st->key[i].dom_of);
			free(st->key[i].dom_nodes);
			free(st->key[i].dom_elig);
		}
	free(st->key);
	free(st->node);
	free(st->vol);
	free(st->vid_of);
	free(st->dev);
	free(st->evict);
	free(st->stash);
	free(st->stash2);
	free(s->nodes);
	free(s->vols);
}

int placer_run(const struct placer_input *in, const struct placer_opts *o,
	       struct placer_result **out, char *err, size_t errlen)
{
	struct pl_state st = { .in = in, .o = o };
	struct setup s = { .err = err, .errlen = errlen };
	struct placer_opts def;
	size_t changes;
	int rc, pass;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!o) {
		placer_opts_default(&def);
		st.o = &def;
	}
	rc = setup(&st, &s);
	if (!rc)
		rc = pl_targets(&st);
	if (!rc)
		rc = pl_rx_init(&st);
	for (pass = 0; !rc && pass < MAX_PASSES; pass++) {
		changes = 0;
		rc = pl_repair(&st, &changes);
		if (!rc)
			rc = pl_rebalance(&st, &changes);
		if (!changes)
			break;
	}
	if (!rc)
		rc = pl_result(&st, out);
	if (rc == -ENOMEM && err && errlen)
		snprintf(err, errlen, "out of memory");
	teardown(&st, &s);
	return rc;
}
