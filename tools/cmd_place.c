/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestry place / tapestry plan: the placer on JSON files.
 *
 * Both read every input completely and run the placer before writing a
 * byte: bad input never leaves a partial output behind.  Volumes that
 * cannot be placed are listed on stderr and in the output's "errors", and
 * make the exit status 1; every other volume is still placed.
 */
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cliopt.h"
#include "log.h"
#include "place_io.h"
#include "placer.h"
#include "placer_json.h"

static const char place_usage[] =
"usage: tapestry place --topology FILE --volumes FILE [--stats FILE]\n"
"                      [--current FILE] [--output FILE] [options]\n"
"\n"
"Print where every volume's replicas go (placement.json; the first replica\n"
"is the primary).  With --current, replicas stay where they are unless a\n"
"rule forces a move.\n";

static const char plan_usage[] =
"usage: tapestry plan --current FILE --topology FILE --volumes FILE\n"
"                     [--stats FILE] [--output FILE] [--write-placement FILE]\n"
"                     [options]\n"
"\n"
"Print the plan (plan.json) that takes the current placement to a valid,\n"
"balanced one on the topology: moves, and steps ordered so that no volume\n"
"ever has fewer in-sync replicas than before.\n";

static const char common_usage[] =
"\n"
"  --topology FILE          nodes, labels, capacity (topology.json)\n"
"  --volumes FILE           the volumes (volumes.json)\n"
"  --stats FILE             p99 write latency per node and zone (stats.json)\n"
"  --current FILE           the placement in force now (placement.json)\n"
"  --output FILE            write there, atomically, instead of stdout (-)\n"
"  --slow-factor K          slow: p99 over K x the cluster median (default 3)\n"
"  --slow-band B            recovered only at p99 <= K x (1-B) x median\n"
"                           (default 0.2)\n"
"  --balance-tolerance T    rebalance only nodes off target by more than\n"
"                           T x fill level + 2 x largest volume (default 0.02)\n"
"  --zone-key KEY           zone label (default topology.kubernetes.io/zone)\n";

static const char plan_extra_usage[] =
"  --write-placement FILE   also write the placement the plan leads to\n";

static const char footer_usage[] =
"  -h, --help               this text\n"
"\n"
"FILE may be - for stdin.  Formats: docs/placement.md.\n"
"Exit status: 0 done; 1 bad input, or volumes that could not be placed\n"
"(listed on stderr and in the output; all others are placed); 2 bad usage.\n";

enum {
	OPT_TOPOLOGY = 256,
	OPT_VOLUMES,
	OPT_STATS,
	OPT_CURRENT,
	OPT_OUTPUT,
	OPT_WRITE_PLACEMENT,
	OPT_SLOW_FACTOR,
	OPT_SLOW_BAND,
	OPT_TOLERANCE,
	OPT_ZONE_KEY,
};

static const struct option long_opts[] = {
	{ "topology", required_argument, NULL, OPT_TOPOLOGY },
	{ "volumes", required_argument, NULL, OPT_VOLUMES },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "current", required_argument, NULL, OPT_CURRENT },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "write-placement", required_argument, NULL, OPT_WRITE_PLACEMENT },
	{ "slow-factor", required_argument, NULL, OPT_SLOW_FACTOR },
	{ "slow-band", required_argument, NULL, OPT_SLOW_BAND },
	{ "balance-tolerance", required_argument, NULL, OPT_TOLERANCE },
	{ "zone-key", required_argument, NULL, OPT_ZONE_KEY },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *cmd;
	const char *topology, *volumes, *stats, *current;
	const char *output, *write_placement;
	struct placer_opts opts;
	bool plan;
};

static void usage(FILE *f, bool plan)
{
	fputs(plan ? plan_usage : place_usage, f);
	fputs(common_usage, f);
	if (plan)
		fputs(plan_extra_usage, f);
	fputs(footer_usage, f);
}

static int bad_usage(const struct args *a, const char *fmt, const char *what)
{
	fprintf(stderr, "tapestry %s: ", a->cmd);
	fprintf(stderr, fmt, what);
	fputs("\n", stderr);
	usage(stderr, a->plan);
	return EXIT_USAGE;
}

static bool parse_num(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && isfinite(*out);
}

/* How many input files are read from stdin: it holds one. */
static unsigned int stdin_inputs(const struct args *a)
{
	const char *in[] = { a->topology, a->volumes, a->stats, a->current };
	unsigned int i, n = 0;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		n += in[i] && !strcmp(in[i], "-");
	return n;
}

/* Whether paths a and b name one directory entry, so that renaming a file
 * over one replaces the other: the same last component in the same
 * directory, however the directory is spelled ("x", "./x", "d/../x", an
 * absolute path).  Two directory entries (a hard link; a symlink, unless
 * followed first: same_output) are two files to rename(2).  Directories
 * that cannot be stat'ed, or no memory, fall back to comparing the
 * strings. */
static bool same_entry(const char *a, const char *b)
{
	char *ca = strdup(a), *cb = strdup(b), *ba, *bb;
	struct stat sa, sb;
	bool same = !strcmp(a, b);

	if (!same && ca && cb) {
		ba = strdup(basename(ca));
		bb = strdup(basename(cb));
		/* basename() may have changed its argument: start again. */
		strcpy(ca, a);
		strcpy(cb, b);
		same = ba && bb && !strcmp(ba, bb) &&
		       !stat(dirname(ca), &sa) && !stat(dirname(cb), &sb) &&
		       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
		free(ba);
		free(bb);
	}
	free(ca);
	free(cb);
	return same;
}

/* The entry an output at path replaces: the file a symlink names, as
 * place_io follows it (a dangling one is replaced itself).  NULL for no
 * memory. */
static char *rename_target(const char *path)
{
	struct stat st;
	char *real;

	if (!lstat(path, &st) && S_ISLNK(st.st_mode) &&
	    (real = realpath(path, NULL)))
		return real;
	return strdup(path);
}

/* Whether outputs at a and b land in one file: the same entry once their
 * symlinks are followed ("out.json" and a link to it). */
static bool same_output(const char *a, const char *b)
{
	char *ra = rename_target(a), *rb = rename_target(b);
	bool same = ra && rb ? same_entry(ra, rb) : same_entry(a, b);

	free(ra);
	free(rb);
	return same;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
	char err[128];
	double x;
	int c, li = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, &li)) != -1) {
		/* "" would run the placer, then fail on a file named "". */
		if (c >= OPT_TOPOLOGY && c <= OPT_OUTPUT && !optarg[0])
			return bad_usage(a, "--%s needs a file name",
					 long_opts[li].name);
		switch (c) {
		case OPT_TOPOLOGY: a->topology = optarg; break;
		case OPT_VOLUMES: a->volumes = optarg; break;
		case OPT_STATS: a->stats = optarg; break;
		case OPT_CURRENT: a->current = optarg; break;
		case OPT_OUTPUT:	/* "-": stdout, as without it */
			a->output = strcmp(optarg, "-") ? optarg : NULL;
			break;
		case OPT_ZONE_KEY: a->opts.zone_key = optarg; break;
		case OPT_WRITE_PLACEMENT:
			if (!a->plan)
				return bad_usage(a, "unknown option '%s'",
						 "--write-placement");
			if (!optarg[0])
				return bad_usage(a, "%s needs a file name",
						 "--write-placement");
			/* stdout carries the plan: no second document there,
			 * and no file named "-" either. */
			if (!strcmp(optarg, "-"))
				return bad_usage(a, "%s needs a file name, not "
						 "'-'", "--write-placement");
			a->write_placement = optarg;
			break;
		case OPT_SLOW_FACTOR:
		case OPT_SLOW_BAND:
		case OPT_TOLERANCE:
			if (!parse_num(optarg, &x))
				return bad_usage(a, "not a number: '%s'",
						 optarg);
			if (c == OPT_SLOW_FACTOR)
				a->opts.slow_factor = x;
			else if (c == OPT_SLOW_BAND)
				a->opts.slow_band = x;
			else
				a->opts.balance_tolerance = x;
			break;
		case 'h':
			usage(stdout, a->plan);
			return 0;
		default:	/* ':' or '?' */
			cliopt_bad_option(c, argv, err, sizeof(err));
			return bad_usage(a, "%s", err);
		}
	}
	if (optind < argc)
		return bad_usage(a, "unexpected argument '%s'", argv[optind]);
	if (!a->topology)
		return bad_usage(a, "%s is required", "--topology");
	if (!a->volumes)
		return bad_usage(a, "%s is required", "--volumes");
	if (a->plan && !a->current)
		return bad_usage(a, "%s is required", "--current");
	/* The placement would be renamed over the plan just written. */
	if (a->write_placement && a->output &&
	    same_output(a->write_placement, a->output))
		return bad_usage(a, "%s", "--output and --write-placement "
				 "name the same file");
	if (stdin_inputs(a) > 1)
		return bad_usage(a, "%s", "only one of the input files can be "
				 "'-' (stdin)");
	return -1;
}

typedef int (*load_fn)(const char *label, const char *buf, size_t len,
		       struct placer_input *in, struct placer_doc **doc,
		       char *err, size_t errlen);

struct loaded {
	struct placer_input in;
	struct placer_doc *docs[4];
	unsigned int ndocs;
};

static int load(struct loaded *l, const char *path, load_fn fn)
{
	char err[512], *buf;
	size_t len;
	int rc;

	if (!path)
		return 0;
	rc = place_io_read(path, &buf, &len);
	if (rc) {
		log_err("%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = fn(path, buf, len, &l->in, &l->docs[l->ndocs], err, sizeof(err));
	free(buf);
	if (rc) {
		log_err("%s", rc == -ENOMEM ? "out of memory" : err);
		return rc;
	}
	l->ndocs++;
	return 0;
}

static void loaded_free(struct loaded *l)
{
	unsigned int i;

	for (i = 0; i < l->ndocs; i++)
		placer_doc_free(l->docs[i]);
}

/* Problems per volume on stderr, then one summary line. */
static void report(const struct placer_input *in, const struct placer_result *r)
{
	size_t i, unplaced = 0;

	for (i = 0; i < r->nvolumes; i++) {
		if (r->vols[i].pref_unknown)
			log_warn("volume \"%s\": preferred zone \"%s\" is not "
				 "in the topology; ignored", in->volumes[i].name,
				 in->volumes[i].preferred_zone);
		if (r->vols[i].fallback)
			log_warn("volume \"%s\": spread fell back: %s",
				 in->volumes[i].name, r->vols[i].fallback);
		if (!r->vols[i].error)
			continue;
		unplaced += !r->vols[i].placed;
		log_err("volume \"%s\": %s", in->volumes[i].name,
			r->vols[i].error);
	}
	if (r->nerrors)
		log_err("%zu of %zu volumes have errors, %zu of them not "
			"placed", r->nerrors, r->nvolumes, unplaced);
}

typedef int (*write_fn)(FILE *f, const struct placer_input *in,
			const struct placer_result *r);

/* Build the output in o; with stage, only stage it in a file beside path
 * (the caller publishes it), else commit it there (stdout when NULL). */
static int emit(const struct placer_input *in, const struct placer_result *r,
		write_fn fn, const char *path, struct place_io_out *o,
		bool stage)
{
	int rc;

	rc = place_io_open(o);
	if (!rc)
		rc = fn(o->f, in, r);
	if (rc)
		place_io_discard(o);
	else if (stage)
		rc = place_io_stage(o, path);
	else
		rc = place_io_commit(o, path);
	if (rc)
		log_err("%s: %s", path ? path : "stdout", strerror(-rc));
	return rc;
}

static int run(int argc, char **argv, bool plan)
{
	struct args a = { .cmd = argv[0], .plan = plan };
	struct placer_result *r = NULL;
	struct loaded l = { .ndocs = 0 };
	struct place_io_out o, wp = { .f = NULL };
	char err[512];
	int rc;

	placer_opts_default(&a.opts);
	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (load(&l, a.topology, placer_json_topology) ||
	    load(&l, a.volumes, placer_json_volumes) ||
	    load(&l, a.stats, placer_json_stats) ||
	    load(&l, a.current, placer_json_placement)) {
		rc = 1;
		goto out;
	}
	rc = placer_run(&l.in, &a.opts, &r, err, sizeof(err));
	if (rc) {
		log_err("%s", err);
		rc = 1;
		goto out;
	}
	report(&l.in, r);
	/* The placement a plan leads to lands only once its plan has: staged
	 * first, so that a placement that cannot be written stops the plan,
	 * and published last. */
	if (plan && a.write_placement &&
	    emit(&l.in, r, placer_json_write_placement, a.write_placement,
		 &wp, true)) {
		rc = 1;
		goto out;
	}
	if (emit(&l.in, r, plan ? placer_json_write_plan :
				  placer_json_write_placement, a.output, &o,
		 false)) {
		rc = 1;
		goto out;
	}
	rc = wp.path ? place_io_publish(&wp) : 0;
	if (rc) {
		log_err("%s: %s", a.write_placement, strerror(-rc));
		rc = 1;
		goto out;
	}
	rc = r->nerrors ? 1 : 0;
out:
	place_io_discard(&wp);
	placer_result_free(r);
	loaded_free(&l);
	return rc;
}

int cmd_place(int argc, char **argv)
{
	return run(argc, argv, false);
}

int cmd_plan(int argc, char **argv)
{
	return run(argc, argv, true);
}
