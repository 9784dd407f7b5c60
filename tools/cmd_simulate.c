/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestry simulate: generate a cluster, place it, apply one event, plan,
 * and print how balanced it is and how much moved against the minimum.
 */
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cliopt.h"
#include "log.h"
#include "place_io.h"
#include "placer.h"
#include "placer_json.h"
#include "placer_sim.h"

static const char usage_text[] =
"usage: tapestry simulate --zones Z --nodes-per-zone N --volumes V\n"
"                         [--seed S] [--event EVENT] [options]\n"
"\n"
"Generate a cluster of Z zones of N equal nodes and V volumes, place them,\n"
"apply EVENT, plan, and print balance (max/mean used bytes and replicas\n"
"per schedulable node) and movement (bytes moved, the least any placer\n"
"must move, their ratio).\n"
"\n"
"  --zones Z               zones (1..1000)\n"
"  --nodes-per-zone N      nodes per zone (1..100000; Z x N at most 1000000)\n"
"  --volumes V             volumes (at most 10000000)\n"
"  --seed S                seed for volume sizes (default 1)\n"
"  --event EVENT           none, add-zone, remove-zone, add-node,\n"
"                          drain-node or slow-zone (default none)\n"
"  --replicas R            replicas per volume (default 3)\n"
"  --volume-size BYTES     every volume this big, at most 2^50 (default:\n"
"                          random sizes, log-uniform from 1 to 512 GiB)\n"
"  --fill F                fraction of capacity used after placement\n"
"                          (default 0.5)\n"
"  --json                  JSON instead of text\n"
"  --timing                add the placer's run times (not deterministic)\n"
"  --save DIR              also write the inputs and outputs there:\n"
"                          topology.json, volumes.json, placement.json,\n"
"                          topology-after.json, stats-after.json, plan.json\n"
"  -h, --help              this text\n"
"\n"
"Exit status: 0 done, 1 failure, 2 bad usage.\n";

enum {
	OPT_ZONES = 256,
	OPT_NODES,
	OPT_VOLUMES,
	OPT_SEED,
	OPT_EVENT,
	OPT_REPLICAS,
	OPT_SIZE,
	OPT_FILL,
	OPT_JSON,
	OPT_TIMING,
	OPT_SAVE,
};

static const struct option long_opts[] = {
	{ "zones", required_argument, NULL, OPT_ZONES },
	{ "nodes-per-zone", required_argument, NULL, OPT_NODES },
	{ "volumes", required_argument, NULL, OPT_VOLUMES },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "event", required_argument, NULL, OPT_EVENT },
	{ "replicas", required_argument, NULL, OPT_REPLICAS },
	{ "volume-size", required_argument, NULL, OPT_SIZE },
	{ "fill", required_argument, NULL, OPT_FILL },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "timing", no_argument, NULL, OPT_TIMING },
	{ "save", required_argument, NULL, OPT_SAVE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	struct placer_sim_opts o;
	const char *save;
	bool json, timing;
	bool have_zones, have_nodes, have_volumes;
};

static int bad_usage(const char *fmt, const char *what)
{
	fputs("tapestry simulate: ", stderr);
	fprintf(stderr, fmt, what);
	fputs("\n", stderr);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

/* All of s as a decimal integer: no sign, no empty value, and a leading
 * zero is only a zero ("010" is ten, not octal eight). */
static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return false;
	*out = strtoull(s, &end, 10);
	return !errno && end != s && !*end;
}

static int set_uint(const char *s, unsigned int *out)
{
	uint64_t x;

	if (!parse_u64(s, &x) || x > UINT32_MAX)
		return bad_usage("not a valid count: '%s'", s);
	*out = (unsigned int)x;
	return -1;
}

static int parse_one(int c, struct args *a)
{
	char *end;

	switch (c) {
	case OPT_ZONES:
		a->have_zones = true;
		return set_uint(optarg, &a->o.zones);
	case OPT_NODES:
		a->have_nodes = true;
		return set_uint(optarg, &a->o.nodes_per_zone);
	case OPT_VOLUMES:
		a->have_volumes = true;
		return set_uint(optarg, &a->o.volumes);
	case OPT_REPLICAS:
		return set_uint(optarg, &a->o.replicas);
	case OPT_SEED:
		return parse_u64(optarg, &a->o.seed) ? -1 :
		       bad_usage("not a valid seed: '%s'", optarg);
	case OPT_SIZE:
		return parse_u64(optarg, &a->o.volume_size) ? -1 :
		       bad_usage("not a valid size: '%s'", optarg);
	case OPT_FILL:
		errno = 0;
		a->o.fill = strtod(optarg, &end);
		return !errno && end != optarg && !*end ? -1 :
		       bad_usage("not a number: '%s'", optarg);
	case OPT_EVENT:
		return placer_sim_event_parse(optarg, &a->o.event) ? 
		       bad_usage("unknown event '%s'", optarg) : -1;
	case OPT_JSON:
		a->json = true;
		return -1;
	case OPT_TIMING:
		a->timing = true;
		return -1;
	case OPT_SAVE:
		a->save = optarg;
		return -1;
	}
	return -2;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	char err[128];
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			return 0;
		}
		rc = c == ':' ? -2 : parse_one(c, a);
		if (rc == -2) {		/* ':' or '?' */
			cliopt_bad_option(c, argv, err, sizeof(err));
			return bad_usage("%s", err);
		}
		if (rc >= 0)
			return rc;
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (!a->have_zones)
		return bad_usage("%s is required", "--zones");
	if (!a->have_nodes)
		return bad_usage("%s is required", "--nodes-per-zone");
	if (!a->have_volumes)
		return bad_usage("%s is required", "--volumes");
	return -1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

static void print_text(const struct args *a, const struct placer_sim_report *r,
		       const double *t)
{
	const struct placer_sim_opts *o = &a->o;
	double tib = (double)(1ULL << 40);

	printf("cluster    %u zones x %u nodes, %u volumes x %u replicas, "
	       "%.2f TiB of replicas\n", o->zones, o->nodes_per_zone,
	       o->volumes, o->replicas, (double)r->total_bytes / tib);
	printf("placement  used max/mean %.4f, replicas max/mean %.4f over "
	       "%u nodes, %zu errors\n", r->before.used_max_mean,
	       r->before.replicas_max_mean, r->before.nodes, r->errors_before);
	printf("event      %s\n", placer_sim_event_name(o->event));
	printf("plan       moved %" PRIu64 " replicas (%.2f%%), %.3f TiB "
	       "(%.2f%% of replica bytes), %zu steps\n", r->moved_replicas,
	       100 * ratio(r->moved_replicas, r->total_replicas),
	       (double)r->moved_bytes / tib,
	       100 * ratio(r->moved_bytes, r->total_bytes), r->steps);
	if (r->min_bytes)
		printf("minimum    %.3f TiB; moved/minimum %.4f\n",
		       (double)r->min_bytes / tib,
		       ratio(r->moved_bytes, r->min_bytes));
	else
		printf("minimum    0 bytes\n");
	printf("after      used max/mean %.4f, replicas max/mean %.4f over "
	       "%u nodes, %zu errors, %zu spread violations\n",
	       r->after.used_max_mean, r->after.replicas_max_mean,
	       r->after.nodes, r->errors_after, r->spread_violations);
	printf("primaries  %zu changed, %zu on slow nodes\n",
	       r->primaries_changed, r->primaries_slow);
	if (a->timing)
		printf("timing     place %.3f s, plan %.3f s\n", t[0], t[1]);
}

static void print_json(const struct args *a, const struct placer_sim_report *r,
		       const double *t)
{
	const struct placer_sim_opts *o = &a->o;

	printf("{\"zones\":%u,\"nodes_per_zone\":%u,\"volumes\":%u,"
	       "\"replicas\":%u,\"seed\":%" PRIu64 ",\"event\":\"%s\",\n",
	       o->zones, o->nodes_per_zone, o->volumes, o->replicas, o->seed,
	       placer_sim_event_name(o->event));
	printf("\"total_bytes\":%" PRIu64 ",\"total_replicas\":%" PRIu64 ",\n",
	       r->total_bytes, r->total_replicas);
	printf("\"before\":{\"nodes\":%u,\"used_max_mean\":%.4f,"
	       "\"replicas_max_mean\":%.4f,\"errors\":%zu},\n", r->before.nodes,
	       r->before.used_max_mean, r->before.replicas_max_mean,
	       r->errors_before);
	printf("\"after\":{\"nodes\":%u,\"used_max_mean\":%.4f,"
	       "\"replicas_max_mean\":%.4f,\"errors\":%zu,"
	       "\"spread_violations\":%zu},\n", r->after.nodes,
	       r->after.used_max_mean, r->after.replicas_max_mean,
	       r->errors_after, r->spread_violations);
	printf("\"moved_bytes\":%" PRIu64 ",\"moved_replicas\":%" PRIu64 ","
	       "\"moved_fraction\":%.6f,\"moved_replica_fraction\":%.6f,\n",
	       r->moved_bytes, r->moved_replicas,
	       ratio(r->moved_bytes, r->total_bytes),
	       ratio(r->moved_replicas, r->total_replicas));
	printf("\"min_bytes\":%" PRIu64 ",\"moved_over_min\":%.6f,"
	       "\"primaries_changed\":%zu,\"primaries_slow\":%zu,"
	       "\"steps\":%zu", r->min_bytes,
	       ratio(r->moved_bytes, r->min_bytes), r->primaries_changed,
	       r->primaries_slow, r->steps);
	if (a->timing)
		printf(",\n\"timing\":{\"place_s\":%.6f,\"plan_s\":%.6f}",
		       t[0], t[1]);
	printf("}\n");
}

typedef int (*in_writer)(FILE *f, const struct placer_input *in);
typedef int (*res_writer)(FILE *f, const struct placer_input *in,
			  const struct placer_result *r);

static int save_one(const char *dir, const char *name,
		    const struct placer_input *in, in_writer w1,
		    const struct placer_result *r, res_writer w2)
{
	struct place_io_out o;
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = place_io_open(&o);
	if (!rc)
		rc = w1 ? w1(o.f, in) : w2(o.f, in, r);
	if (!rc)
		rc = place_io_commit(&o, path);
	else
		place_io_discard(&o);
	if (rc)
		log_err("%s: %s", path, strerror(-rc));
	return rc;
}

static int save(const char *dir, const struct placer_input *before,
		const struct placer_input *after,
		const struct placer_result *r1, const struct placer_result *r2)
{
	if (mkdir(dir, 0777) && errno != EEXIST) {
		log_err("%s: %s", dir, strerror(errno));
		return -errno;
	}
	if (save_one(dir, "topology.json", before, placer_json_write_topology,
		     NULL, NULL) ||
	    save_one(dir, "volumes.json", before, placer_json_write_volumes,
		     NULL, NULL) ||
	    save_one(dir, "placement.json", before, NULL, r1,
		     placer_json_write_placement) ||
	    save_one(dir, "topology-after.json", after,
		     placer_json_write_topology, NULL, NULL) ||
	    save_one(dir, "stats-after.json", after, placer_json_write_stats,
		     NULL, NULL) ||
	    save_one(dir, "plan.json", after, NULL, r2,
		     placer_json_write_plan))
		return -EIO;
	return 0;
}

int cmd_simulate(int argc, char **argv)
{
	struct placer_result *r1 = NULL, *r2 = NULL;
	const struct placer_input *after;
	struct placer_sim_report rep;
	struct placer_sim *sim = NULL;
	struct args a = { .json = false };
	double t[2], t0;
	char err[512];
	int rc;

	placer_sim_opts_default(&a.o);
	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	rc = placer_sim_create(&a.o, &sim);
	if (rc == -EINVAL)
		return bad_usage("%s", "options out of range (zones 1..1000, "
				 "nodes-per-zone 1..100000, zones x "
				 "nodes-per-zone at most 1000000, volumes at "
				 "most 10000000, replicas 1..16, volume-size "
				 "at most 2^50, fill in (0, 1], remove-zone "
				 "needs 2 zones)");
	if (rc == -ERANGE)
		return bad_usage("%s", "node capacities would pass 2^62 bytes "
				 "in all: raise --fill or use fewer or smaller "
				 "volumes");
	if (rc)
		goto fail;
	t0 = now();
	rc = placer_run(placer_sim_before(sim), NULL, &r1, err, sizeof(err));
	t[0] = now() - t0;
	if (rc)
		goto fail;
	after = placer_sim_after(sim, r1);
	t0 = now();
	rc = placer_run(after, NULL, &r2, err, sizeof(err));
	t[1] = now() - t0;
	if (rc)
		goto fail;
	placer_sim_report(sim, r1, r2, &rep);
	if (a.save && save(a.save, placer_sim_before(sim), after, r1, r2)) {
		rc = 1;
		goto out;
	}
	if (a.json)
		print_json(&a, &rep, t);
	else
		print_text(&a, &rep, t);
	rc = fflush(stdout) ? 1 : 0;
	goto out;
fail:
	log_err("simulate: %s", rc == -ENOMEM ? "out of memory" : err);
	rc = 1;
out:
	placer_result_free(r1);
	placer_result_free(r2);
	placer_sim_free(sim);
	return rc;
}
