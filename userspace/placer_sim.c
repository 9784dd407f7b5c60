/* SPDX-License-Identifier: Apache-2.0 */
#include "placer_sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)
#define NAME_LEN 32
#define NLABELS 3

struct placer_sim {
	struct placer_sim_opts o;
	struct placer_input before, after;
	struct placer_node *nodes;	/* before's, then the added ones */
	struct placer_node *after_nodes;
	struct placer_label *labels;
	char (*names)[NAME_LEN];	/* node names */
	char (*znames)[NAME_LEN];
	char (*vnames)[NAME_LEN];
	struct placer_volume *vols;
	struct placer_node_stat *nstats;
	struct placer_zone_stat zstats[2];
	struct placer_assignment *cur;
	const char **cur_names;
	unsigned int nzones_total;	/* zones named, incl. an added one */
	unsigned int nall;		/* nodes in the nodes array */
};

static const char *const event_names[] = {
	[PLACER_SIM_NONE] = "none",
	[PLACER_SIM_ADD_ZONE] = "add-zone",
	[PLACER_SIM_REMOVE_ZONE] = "remove-zone",
	[PLACER_SIM_ADD_NODE] = "add-node",
	[PLACER_SIM_DRAIN_NODE] = "drain-node",
	[PLACER_SIM_SLOW_ZONE] = "slow-zone",
};

void placer_sim_opts_default(struct placer_sim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->zones = 3;
	o->nodes_per_zone = 4;
	o->volumes = 100;
	o->replicas = 3;
	o->seed = 1;
	o->fill = 0.5;
}

int placer_sim_event_parse(const char *name, enum placer_sim_event *ev)
{
	unsigned int i;

	for (i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (!strcmp(name, event_names[i])) {
			*ev = (enum placer_sim_event)i;
			return 0;
		}
	return -EINVAL;
}

const char *placer_sim_event_name(enum placer_sim_event ev)
{
	return event_names[ev];
}

/* splitmix64: small, fast, and the same everywhere. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* zone-a ... zone-z, zone-aa, ... */
static void zone_name(char *buf, unsigned int i)
{
	char tmp[16];
	int n = 0;

	i++;
	while (i) {
		i--;
		tmp[n++] = (char)('a' + i % 26);
		i /= 26;
	}
	memcpy(buf, "zone-", 5);
	buf += 5;
	while (n)
		*buf++ = tmp[--n];
	*buf = '\0';
}

static void make_node(struct placer_sim *s, unsigned int i, unsigned int zone,
		      unsigned int nth, uint64_t cap)
{
	struct placer_node *n = &s->nodes[i];
	struct placer_label *l = &s->labels[i * NLABELS];
	const char *zn = s->znames[zone];

	snprintf(s->names[i], NAME_LEN, "%s-n%04u", zn, nth);
	l[0] = (struct placer_label){ "kubernetes.io/hostname", s->names[i] };
	l[1] = (struct placer_label){ "topology.kubernetes.io/region", "r1" };
	l[2] = (struct placer_label){ PLACER_ZONE_KEY, zn };
	*n = (struct placer_node){ .name = s->names[i], .labels = l,
				   .nlabels = NLABELS, .capacity_bytes = cap,
				   .schedulable = true };
}

static uint64_t make_volumes(struct placer_sim *s)
{
	uint64_t seed = s->o.seed, total = 0, size;
	unsigned int i;

	for (i = 0; i < s->o.volumes; i++) {
		uint64_t r = next_rand(&seed);

		size = s->o.volume_size;
		if (!size)	/* 2^k GiB times [1, 2): log-uniform-ish */
			size = (1024 + (r >> 20) % 1024) * MiB << (r % 9);
		snprintf(s->vnames[i], NAME_LEN, "pvc-%06u", i);
		s->vols[i] = (struct placer_volume){
			.name = s->vnames[i], .size_bytes = size,
			.replicas = s->o.replicas, .spread = PLACER_SPREAD_HARD,
		};
		total += size * s->o.replicas;
	}
	return total;
}

static void make_stats(struct placer_sim *s)
{
	const char *slow = s->znames[0];
	unsigned int i;

	for (i = 0; i < s->after.nnodes; i++) {
		const struct placer_node *n = &s->after.nodes[i];
		bool in_slow = !strcmp(n->labels[2].value, slow);

		s->nstats[i] = (struct placer_node_stat){
			.name = n->name, .p99_write_us = in_slow ? 10000 : 1000,
			.p50_write_us = in_slow ? 3000 : 300,
		};
	}
	s->zstats[0] = (struct placer_zone_stat){ slow, 10000 };
	s->zstats[1] = (struct placer_zone_stat){ s->znames[1], 1000 };
	s->after.node_stats = s->nstats;
	s->after.nnode_stats = s->after.nnodes;
	s->after.zone_stats = s->zstats;
	s->after.nzone_stats = s->o.zones > 1 ? 2 : 1;
}

static void make_after(struct placer_sim *s)
{
	unsigned int Z = s->o.zones, N = s->o.nodes_per_zone, zn = Z * N;

	s->after = s->before;
	switch (s->o.event) {
	case PLACER_SIM_ADD_ZONE:
		s->after.nnodes = zn + N;
		break;
	case PLACER_SIM_ADD_NODE:
		s->after.nnodes = zn + 1;
		break;
	case PLACER_SIM_REMOVE_ZONE:
		s->after.nnodes = zn - N;
		break;
	case PLACER_SIM_DRAIN_NODE:
		memcpy(s->after_nodes, s->nodes, zn * sizeof(*s->nodes));
		s->after_nodes[0].schedulable = false;
		s->after.nodes = s->after_nodes;
		break;
	case PLACER_SIM_SLOW_ZONE:
		make_stats(s);
		break;
	case PLACER_SIM_NONE:
		break;
	}
}

static int check_opts(const struct placer_sim_opts *o)
{
	if (o->zones < 1 || o->zones > 1000 || o->nodes_per_zone < 1 ||
	    o->nodes_per_zone > 100000 || o->volumes > 10000000 ||
	    o->replicas < 1 || o->replicas > PLACER_MAX_REPLICAS ||
	    !(o->fill > 0 && o->fill <= 1) ||
	    o->volume_size > (1ULL << 50) ||
	    (uint64_t)o->zones * o->nodes_per_zone > 1000000)
		return -EINVAL;
	if (o->event == PLACER_SIM_REMOVE_ZONE && o->zones < 2)
		return -EINVAL;
	return 0;
}

int placer_sim_create(const struct placer_sim_opts *o, struct placer_sim **out)
{
	unsigned int Z = o->zones, N = o->nodes_per_zone, i, z;
	struct placer_sim *s;
	uint64_t total, cap;
	double capd;

	*out = NULL;
	if (check_opts(o))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	s->nall = Z * N + N;
	s->nzones_total = Z + 1;
	s->nodes = calloc(s->nall, sizeof(*s->nodes));
	s->after_nodes = calloc(s->nall, sizeof(*s->after_nodes));
	s->labels = calloc((size_t)s->nall * NLABELS, sizeof(*s->labels));
	s->names = calloc(s->nall, sizeof(*s->names));
	s->znames = calloc(s->nzones_total, sizeof(*s->znames));
	s->vnames = calloc(o->volumes + 1, sizeof(*s->vnames));
	s->vols = calloc(o->volumes + 1, sizeof(*s->vols));
	s->nstats = calloc(s->nall, sizeof(*s->nstats));
	s->cur = calloc(o->volumes + 1, sizeof(*s->cur));
	s->cur_names = calloc((size_t)(o->volumes + 1) * PLACER_MAX_REPLICAS,
			      sizeof(*s->cur_names));
	if (!s->nodes || !s->after_nodes || !s->labels || !s->names ||
	    !s->znames ||
	    !s->vnames || !s->vols || !s->nstats || !s->cur || !s->cur_names) {
		placer_sim_free(s);
		return -ENOMEM;
	}
	for (z = 0; z < s->nzones_total; z++)
		zone_name(s->znames[z], z);
	total = make_volumes(s);
	capd = (double)total / (Z * N) / o->fill;
	/* Every node, an added zone's too, within the placer's byte limit;
	 * a larger double would not even convert. */
	if ((capd + GiB) * s->nall > (double)PLACER_MAX_BYTES) {
		placer_sim_free(s);
		return -ERANGE;
	}
	cap = ((uint64_t)capd / GiB + 1) * GiB;
	for (i = 0; i < Z * N; i++)
		make_node(s, i, i / N, i % N + 1, cap);
	if (o->event == PLACER_SIM_ADD_ZONE)
		for (i = 0; i < N; i++)
			make_node(s, Z * N + i, Z, i + 1, cap);
	if (o->event == PLACER_SIM_ADD_NODE)
		make_node(s, Z * N, 0, N + 1, cap);
	s->before = (struct placer_input){
		.nodes = s->nodes, .nnodes = Z * N,
		.volumes = s->vols, .nvolumes = o->volumes,
	};
	make_after(s);
	*out = s;
	return 0;
}

void placer_sim_free(struct placer_sim *s)
{
	if (!s)
		return;
	free(s->nodes);
	free(s->after_nodes);
	free(s->labels);
	free(s->names);
	free(s->znames);
	free(s->vnames);
	free(s->vols);
	free(s->nstats);
	free(s->cur);
	free(s->cur_names);
	free(s);
}

const struct placer_input *placer_sim_before(const struct placer_sim *s)
{
	return &s->before;
}

const struct placer_input *placer_sim_after(struct placer_sim *s,
					    const struct placer_result *first)
{
	size_t i, j, k = 0;

	for (i = 0; i < first->nvolumes; i++) {
		const struct placer_vol_result *v = &first->vols[i];
		const char **names = &s->cur_names[i * PLACER_MAX_REPLICAS];

		if (!v->placed)
			continue;
		for (j = 0; j < v->nreplicas; j++)
			names[j] = s->nodes[v->replicas[j]].name;
		s->cur[k++] = (struct placer_assignment){
			.volume = s->vols[i].name, .replicas = names,
			.nreplicas = v->nreplicas,
		};
	}
	s->after.current = s->cur;
	s->after.ncurrent = k;
	return &s->after;
}

/* Per-node bytes and replica counts of a result. */
static void tally(const struct placer_input *in, const struct placer_result *r,
		  uint64_t *bytes, uint32_t *count)
{
	size_t i, j;

	memset(bytes, 0, in->nnodes * sizeof(*bytes));
	memset(count, 0, in->nnodes * sizeof(*count));
	for (i = 0; i < r->nvolumes; i++)
		for (j = 0; j < r->vols[i].nreplicas; j++) {
			bytes[r->vols[i].replicas[j]] += in->volumes[i].size_bytes;
			count[r->vols[i].replicas[j]]++;
		}
}

static void balance(const struct placer_input *in, const uint64_t *bytes,
		    const uint32_t *count, struct placer_sim_balance *b)
{
	double sb = 0, sc = 0, mb = 0, mc = 0;
	size_t i;

	b->nodes = 0;
	for (i = 0; i < in->nnodes; i++) {
		if (!in->nodes[i].schedulable)
			continue;
		b->nodes++;
		sb += (double)bytes[i];
		sc += count[i];
		if (bytes[i] > mb)
			mb = (double)bytes[i];
		if (count[i] > mc)
			mc = count[i];
	}
	b->used_max_mean = sb > 0 ? mb * b->nodes / sb : 0;
	b->replicas_max_mean = sc > 0 ? mc * b->nodes / sc : 0;
}

/* Zone of node i (the same index in the before and after arrays). */
static unsigned int zone_of(const struct placer_sim *s, size_t i)
{
	unsigned int Z = s->o.zones, N = s->o.nodes_per_zone;

	if (i < (size_t)Z * N)
		return (unsigned int)(i / N);
	return s->o.event == PLACER_SIM_ADD_ZONE ? Z : 0;
}

struct zcount {
	unsigned int n;
	unsigned int zone[PLACER_MAX_REPLICAS];
	unsigned int cnt[PLACER_MAX_REPLICAS];
};

static void zc_add(struct zcount *zc, unsigned int z)
{
	unsigned int i;

	for (i = 0; i < zc->n && zc->zone[i] != z; i++)
		;
	if (i == zc->n) {
		zc->zone[zc->n] = z;
		zc->cnt[zc->n++] = 0;
	}
	zc->cnt[i]++;
}

/* Bytes that must leave: replicas on gone or drained nodes, and replicas
 * over ceil(R/D) in any zone once the event changed the zone count D. */
static uint64_t forced_bytes(const struct placer_sim *s,
			     const struct placer_result *first)
{
	unsigned int D = s->o.zones, top, z, over;
	uint64_t forced = 0;
	size_t i, j;

	if (s->o.event == PLACER_SIM_ADD_ZONE)
		D++;
	if (s->o.event == PLACER_SIM_REMOVE_ZONE)
		D--;
	top = (s->o.replicas + D - 1) / D;
	for (i = 0; i < first->nvolumes; i++) {
		const struct placer_vol_result *v = &first->vols[i];
		struct zcount zc = { .n = 0 };

		over = 0;
		for (j = 0; j < v->nreplicas; j++) {
			uint32_t n = v->replicas[j];

			if (n >= s->after.nnodes ||
			    !s->after.nodes[n].schedulable)
				over++;
			else
				zc_add(&zc, zone_of(s, n));
		}
		for (z = 0; z < zc.n; z++)
			if (zc.cnt[z] > top)
				over += zc.cnt[z] - top;
		forced += over * s->vols[i].size_bytes;
	}
	return forced;
}

/* Volumes whose zone counts differ by more than one after the plan. */
static size_t violations(const struct placer_sim *s,
			 const struct placer_result *r)
{
	unsigned int D = s->o.zones, z, minc, maxc;
	size_t i, j, bad = 0;

	if (s->o.event == PLACER_SIM_ADD_ZONE)
		D++;
	if (s->o.event == PLACER_SIM_REMOVE_ZONE)
		D--;
	for (i = 0; i < r->nvolumes; i++) {
		const struct placer_vol_result *v = &r->vols[i];
		struct zcount zc = { .n = 0 };

		if (!v->placed)
			continue;
		for (j = 0; j < v->nreplicas; j++)
			zc_add(&zc, zone_of(s, v->replicas[j]));
		minc = UINT32_MAX;
		maxc = 0;
		for (z = 0; z < zc.n; z++) {
			minc = zc.cnt[z] < minc ? zc.cnt[z] : minc;
			maxc = zc.cnt[z] > maxc ? zc.cnt[z] : maxc;
		}
		if (zc.n < D)
			minc = 0;
		if (maxc - minc > 1)
			bad++;
	}
	return bad;
}

void placer_sim_report(const struct placer_sim *s,
		       const struct placer_result *first,
		       const struct placer_result *second,
		       struct placer_sim_report *rep)
{
	uint64_t *b1 = calloc(s->nall, sizeof(*b1));
	uint64_t *b2 = calloc(s->nall, sizeof(*b2));
	uint32_t *c = calloc(s->nall, sizeof(*c));
	uint64_t deficit = 0, even, forced;
	size_t i;

	memset(rep, 0, sizeof(*rep));
	if (!b1 || !b2 || !c)
		goto out;
	tally(&s->before, first, b1, c);
	balance(&s->before, b1, c, &rep->before);
	for (i = 0; i < s->before.nnodes; i++) {
		rep->total_bytes += b1[i];
		rep->total_replicas += c[i];
	}
	tally(&s->after, second, b2, c);
	balance(&s->after, b2, c, &rep->after);
	even = rep->after.nodes ? rep->total_bytes / rep->after.nodes : 0;
	for (i = 0; i < s->after.nnodes; i++) {
		uint64_t had = i < s->before.nnodes ? b1[i] : 0;

		if (s->after.nodes[i].schedulable && had < even)
			deficit += even - had;
	}
	forced = forced_bytes(s, first);
	rep->min_bytes = deficit > forced ? deficit : forced;
	rep->moved_bytes = second->moved_bytes;
	rep->moved_replicas = second->nmoves;
	rep->errors_before = first->nerrors;
	rep->errors_after = second->nerrors;
	rep->spread_violations = violations(s, second);
	rep->primaries_changed = second->primaries_changed;
	rep->steps = second->nsteps;
	for (i = 0; i < second->nvolumes; i++)
		if (second->vols[i].nreplicas &&
		    second->node_latency[second->vols[i].replicas[0]] ==
			    PLACER_LAT_SLOW)
			rep->primaries_slow++;
out:
	free(b1);
	free(b2);
	free(c);
}
