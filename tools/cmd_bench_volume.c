/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestry bench-volume: drive a replicated volume from inside this
 * process, with the engine on this thread's uloop.  It is the load
 * generator of the engine's tests and benchmark, and their data checker:
 * --verify writes self-describing blocks (tools/volcheck.h), --log records
 * every issued and acked write before it counts, --ref keeps the harness's
 * own copy of the data, --check-log reads a volume or image back against a
 * log, --dump copies the volume out through the engine.
 */
#include "commands.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_volume.h"
#include "engine_args.h"
#include "hist.h"
#include "log.h"
#include "volcheck.h"
#include "zonetrace.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: tapestry bench-volume [volume options] [workload options]\n"
"\n"
"Drives a replicated volume from inside the process (the engine runs on\n"
"this thread) and reports IOPS, MB/s, latency percentiles, CPU time and\n"
"the engine's own per-zone timing.\n\n");
	engine_args_usage(f, ENGINE_ACK_ALL, 0);
	fprintf(f,
"workload:\n"
"  --rw MODE               randwrite|randread|write|read|randrw (randwrite)\n"
"  --rwmix-read PCT        reads in randrw, percent (50)\n"
"  --bs SIZE               I/O size (4k)\n"
"  --iodepth N             requests in flight (32)\n"
"  --rate IOPS             start at most IOPS requests per second\n"
"  --zone-registry DIR     take zone ids from the node's zone registry under\n"
"                          bpffs DIR (registering new zones and replica\n"
"                          addresses), so zonetrace can tell the zones\n"
"                          apart (default /sys/fs/bpf/tapestry; if that\n"
"                          cannot be used, e.g. without CAP_BPF, the zones\n"
"                          go untagged and per-zone BPF latency is off);\n"
"                          'none': untagged, the registry is not touched\n"
"  --runtime SECS          stop after SECS (fractions allowed)\n"
"  --bytes SIZE            stop after SIZE bytes (default: the volume size)\n"
"  --fua                   every write is FUA\n"
"  --no-flush              no flush at the end of a write workload\n"
"  --flush-interval MS     also flush every MS while the workload runs (one\n"
"                          at a time; reported as flushes and flush_lat)\n"
"  --verify                self-checking data; reads are checked\n"
"  --seed N                write ids and offsets (default: time)\n"
"  --log FILE              append issued/acked writes to FILE (verify)\n"
"  --ref FILE              apply each acked write to FILE too (verify)\n"
"  --check-log FILE        read the volume back and check it against FILE\n"
"  --image FILE            with --check-log: check FILE (a replica image)\n"
"                          instead of the volume; repeatable\n"
"  --dump FILE             read the whole volume into FILE (with\n"
"                          --check-log: the volume as it is checked)\n"
"  --wait-in-sync SECS     at the end, wait for every replica to be in sync\n"
"  --status FILE           rewrite FILE with engine stats (JSON) every 100 ms\n"
"  --strict-after NS       with --check-log: writes that failed and were\n"
"                          issued at or after NS (realtime) must be nowhere\n"
"  --log-window LOG --from NS --to NS\n"
"                          print what LOG says of that realtime window:\n"
"                          acks, fails, first ack of a write issued after\n"
"                          NS, distinct 64 KiB regions of writes out in it\n"
"  --json                  print the report as JSON\n"
"  -v, --verbose           engine logs at info level\n"
"  -h, --help\n");
}

enum {
	OPT_RW = 0x2000, OPT_RWMIX, OPT_BS, OPT_IODEPTH, OPT_RUNTIME,
	OPT_BYTES, OPT_FUA, OPT_NO_FLUSH, OPT_VERIFY, OPT_SEED, OPT_LOG,
	OPT_REF, OPT_CHECK_LOG, OPT_IMAGE, OPT_DUMP, OPT_WAIT, OPT_STATUS,
	OPT_JSON, OPT_STRICT, OPT_WINDOW, OPT_FROM, OPT_RATE, OPT_REGISTRY,
	OPT_FLUSH_INTERVAL, OPT_TO,
};

static const struct option own_options[] = {
	{ "rw", required_argument, NULL, OPT_RW },
	{ "rwmix-read", required_argument, NULL, OPT_RWMIX },
	{ "bs", required_argument, NULL, OPT_BS },
	{ "iodepth", required_argument, NULL, OPT_IODEPTH },
	{ "runtime", required_argument, NULL, OPT_RUNTIME },
	{ "bytes", required_argument, NULL, OPT_BYTES },
	{ "fua", no_argument, NULL, OPT_FUA },
	{ "no-flush", no_argument, NULL, OPT_NO_FLUSH },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "ref", required_argument, NULL, OPT_REF },
	{ "check-log", required_argument, NULL, OPT_CHECK_LOG },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "dump", required_argument, NULL, OPT_DUMP },
	{ "wait-in-sync", required_argument, NULL, OPT_WAIT },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "strict-after", required_argument, NULL, OPT_STRICT },
	{ "log-window", required_argument, NULL, OPT_WINDOW },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "to", required_argument, NULL, OPT_TO },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "zone-registry", required_argument, NULL, OPT_REGISTRY },
	{ "flush-interval", required_argument, NULL, OPT_FLUSH_INTERVAL },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_rw(const char *s, struct bv_opts *o)
{
	static const char *const names[] = {
		[BV_RANDWRITE] = "randwrite", [BV_RANDREAD] = "randread",
		[BV_WRITE] = "write", [BV_READ] = "read",
		[BV_RANDRW] = "randrw",
	};
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			o->rw = (enum bv_rw)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* All of arg as a finite number in [lo, hi] (a time in seconds or ms
 * becomes integer ns later: hi keeps that in range).  -EINVAL for an
 * empty value, trailing junk, nan or inf. */
static int num(const char *arg, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || *end || errno || !isfinite(v) || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* All of arg as an unsigned integer (base 10, or 0 for 0x too); no sign,
 * no empty value. */
static int unum(const char *arg, int base, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*arg < '0' || *arg > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(arg, &end, base);
	if (*end || errno || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_own(struct bv_opts *o, int opt, char *arg)
{
	uint64_t v;
	int err;

	switch (opt) {
	case OPT_RW: return parse_rw(arg, o);
	case OPT_RWMIX:
		if ((err = unum(arg, 10, 100, &v)))
			return err;
		o->rwmix_read = (unsigned int)v;
		return 0;
	case OPT_BS:
		if (engine_args_size(arg, &v) || !v || v > (1U << 20))
			return -EINVAL;
		o->bs = (uint32_t)v;
		return 0;
	case OPT_IODEPTH:
		if (unum(arg, 10, 1024, &v) || !v)
			return -EINVAL;
		o->iodepth = (unsigned int)v;
		return 0;
	case OPT_RUNTIME:
		return num(arg, 0, 1e9, &o->runtime_s) ||
		       o->runtime_s <= 0 ? -EINVAL : 0;
	case OPT_BYTES: return engine_args_size(arg, &o->bytes);
	case OPT_FUA: o->fua = true; return 0;
	case OPT_NO_FLUSH: o->no_flush = true; return 0;
	case OPT_VERIFY: o->verify = true; return 0;
	case OPT_SEED: return unum(arg, 0, UINT64_MAX, &o->seed);
	case OPT_LOG: o->log = arg; return 0;
	case OPT_REF: o->ref = arg; return 0;
	case OPT_CHECK_LOG: o->check_log = arg; return 0;
	case OPT_IMAGE:
		if (o->nr_images == BV_MAX_IMAGES)
			return -E2BIG;	/* the value is fine: one too many */
		o->images[o->nr_images++] = arg;
		return 0;
	case OPT_DUMP: o->dump = arg; return 0;
	case OPT_WAIT: return num(arg, 0, 1e9, &o->wait_in_sync_s);
	case OPT_STATUS: o->status = arg; return 0;
	case OPT_JSON: o->json = true; return 0;
	case OPT_STRICT: return unum(arg, 10, UINT64_MAX, &o->strict_after);
	case OPT_WINDOW: o->log_window = arg; return 0;
	case OPT_REGISTRY: o->registry = arg; return 0;
	case OPT_RATE: return num(arg, 0, 1e12, &o->rate);
	case OPT_FLUSH_INTERVAL:
		return num(arg, 0, 1e12, &o->flush_interval_ms) ||
		       o->flush_interval_ms <= 0 ? -EINVAL : 0;
	case OPT_FROM: return unum(arg, 10, UINT64_MAX, &o->from_ns);
	case OPT_TO: return unum(arg, 10, UINT64_MAX, &o->to_ns);
	}
	return -EINVAL;
}

static struct option *all_options(void)
{
	size_t ne = ENGINE_ARGS_NR_OPTIONS;
	size_t no = sizeof(own_options) / sizeof(own_options[0]);
	struct option *opts = calloc(ne + no, sizeof(*opts));

	if (!opts)
		return NULL;
	memcpy(opts, engine_args_options, ne * sizeof(*opts));
	memcpy(opts + ne, own_options, no * sizeof(*opts));
	return opts;
}

static int check_opts(struct bv_opts *o)
{
	if (o->ref && !o->verify) {
		fprintf(stderr, "bench-volume: --ref needs --verify\n");
		return -EINVAL;
	}
	if (o->log && !o->verify) {
		fprintf(stderr, "bench-volume: --log needs --verify\n");
		return -EINVAL;
	}
	if (o->verify && o->bs % VC_BLOCK) {
		fprintf(stderr, "bench-volume: --verify needs --bs a multiple "
			"of 4096\n");
		return -EINVAL;
	}
	/* A random workload picks among size / bs slots: it needs one. */
	if (!o->check_log && !o->dump && !o->log_window &&
	    o->bs > o->eo.size) {
		fprintf(stderr, "bench-volume: --bs %u is larger than the "
			"volume (--size %llu)\n", o->bs,
			(unsigned long long)o->eo.size);
		return -EINVAL;
	}
	if (!o->check_log && !o->dump && !o->log_window &&
	    o->bs % (o->eo.block_size ? o->eo.block_size : 4096)) {
		fprintf(stderr, "bench-volume: --bs %u is not a multiple of "
			"the block size (%u; --block-size)\n", o->bs,
			o->eo.block_size ? o->eo.block_size : 4096);
		return -EINVAL;
	}
	if (o->nr_images && !o->check_log) {
		fprintf(stderr, "bench-volume: --image needs --check-log\n");
		return -EINVAL;
	}
	if (o->nr_images && !o->eo.size) {
		fprintf(stderr, "bench-volume: --image needs --size\n");
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct bv_opts *o)
{
	struct option *opts = all_options();
	int c, idx, err = 0;

	if (!opts)
		return -ENOMEM;
	optind = 1;
	while (!err && (c = getopt_long(argc, argv, "vh", opts, &idx)) != -1) {
		if (c == 'h') {
			usage(stdout);
			free(opts);
			return 1;
		} else if (c == 'v') {
			o->verbose = true;
		} else if (c >= ENGINE_ARG_FIRST && c < ENGINE_ARG_LAST) {
			err = engine_args_apply(&o->eo, c, optarg);
		} else if (c >= OPT_RW && c <= OPT_TO) {
			err = parse_own(o, c, optarg);
			if (err == -E2BIG)
				fprintf(stderr, "bench-volume: at most %d "
					"--%s\n", BV_MAX_IMAGES,
					opts[idx].name);
			else if (err)	/* own options are all long-only */
				fprintf(stderr, "bench-volume: bad --%s '%s'\n",
					opts[idx].name, optarg);
		} else {
			err = -EINVAL;
		}
	}
	free(opts);
	if (!err && optind < argc) {
		fprintf(stderr, "bench-volume: unexpected '%s'\n", argv[optind]);
		err = -EINVAL;
	}
	if (!err && !(o->check_log && o->nr_images) && !o->log_window)
		err = engine_args_finish(&o->eo);
	return err ? err : check_opts(o);
}

/* Offline check of replica images against a log; no engine needed.
 * check_opts() saw to --size. */
static int check_images(const struct bv_opts *o)
{
	struct vc_check *c;
	struct stat st;
	unsigned int i;
	int64_t bad;
	int err, rc = 0;

	err = vc_check_load(o->check_log, o->eo.size, o->strict_after, &c);
	if (err)
		return 1;
	for (i = 0; i < o->nr_images; i++) {
		bad = vc_check_file(c, o->images[i]);
		if (bad == -ENODATA && !stat(o->images[i], &st)) {
			fprintf(stderr, "%s: %llu bytes, shorter than the volume "
				"(--size %llu)\n", o->images[i],
				(unsigned long long)st.st_size,
				(unsigned long long)o->eo.size);
			rc = 1;
			continue;
		}
		if (bad < 0) {
			fprintf(stderr, "%s: %s\n", o->images[i],
				strerror((int)-bad));
			rc = 1;
			continue;
		}
		printf("%s: %lld bad blocks of %llu acked\n", o->images[i],
		       (long long)bad,
		       (unsigned long long)vc_check_acked_blocks(c));
		if (bad)
			rc = 1;
	}
	vc_check_free(c);
	return rc;
}

/* Zone ids from the zone registry, so that zonetrace can name the zones;
 * remote replicas' addresses are registered for their RTT (and
 * unregistered at exit).  The engine never makes ids up: without the
 * registry the zones go untagged.  A registry asked for by name must
 * work; the default one may not (no bpffs, no CAP_BPF), which is said
 * once. */
static unsigned int registered;	/* replicas given ids (and peers) here */

static void registry_forget(struct bv_opts *o, const char *root)
{
	unsigned int i;

	for (i = 0; i < o->eo.nr_replicas; i++) {
		if (!(registered & (1U << i)))
			continue;
		if (o->eo.replicas[i].addr)
			zonetrace_peer_unregister(root, o->eo.replicas[i].addr);
		o->eo.replicas[i].zone_id = 0;
	}
	registered = 0;
}

static int registry_ids(struct bv_opts *o, const char *root, bool named)
{
	unsigned int i, id;
	int err = 0;

	for (i = 0; i < o->eo.nr_replicas; i++) {
		struct engine_replica_opts *r = &o->eo.replicas[i];

		if (r->zone_id)
			continue;	/* --zone-id */
		err = zonetrace_zone_register(root, r->zone, &id);
		if (err)
			break;
		r->zone_id = id;
		registered |= 1U << i;
		if (r->addr && (err = zonetrace_peer_register(root, r->addr,
							      id)))
			break;
	}
	if (!err)
		return 0;
	registry_forget(o, root);
	if (named) {
		fprintf(stderr, "bench-volume: zone registry %s, zone %s: %s\n",
			root, o->eo.replicas[i].zone, strerror(-err));
		return err;
	}
	log_warn("bench-volume: zone registry %s: %s: zones untagged, "
		 "per-zone BPF latency is off", root, strerror(-err));
	return 0;
}

/* --log-window: what the log says about [--from, --to], as JSON. */
static int log_window(const struct bv_opts *o)
{
	struct vc_window w;
	int err;

	if (!o->eo.size || !o->to_ns) {
		fprintf(stderr, "bench-volume: --log-window needs --size, "
			"--from and --to\n");
		return EXIT_USAGE;
	}
	err = vc_log_window(o->log_window, o->eo.size, 65536, o->from_ns,
			    o->to_ns, &w);
	if (err) {
		fprintf(stderr, "%s: %s\n", o->log_window, strerror(-err));
		return 1;
	}
	printf("{\"acks\": %llu, \"fails\": %llu, \"first_ack_ns\": %llu, "
	       "\"regions\": %llu}\n", (unsigned long long)w.acks,
	       (unsigned long long)w.fails,
	       (unsigned long long)w.first_ack_ns,
	       (unsigned long long)w.regions);
	return 0;
}

int cmd_bench_volume(int argc, char **argv)
{
	bool use_registry;
	struct bv_opts o;
	const char *root;
	int err;

	memset(&o, 0, sizeof(o));
	o.rw = BV_RANDWRITE;
	o.rwmix_read = 50;
	o.bs = 4096;
	o.iodepth = 32;
	o.eo.ack = ENGINE_ACK_ALL;
	err = parse_args(argc, argv, &o);
	if (err > 0)
		return 0;
	if (err) {
		fprintf(stderr, "see tapestry bench-volume --help\n");
		return EXIT_USAGE;
	}
	if (o.verbose)
		log_set_level(LOG_INFO);
	if (o.check_log && o.nr_images)
		return check_images(&o);
	if (o.log_window)
		return log_window(&o);
	use_registry = !o.registry || strcmp(o.registry, "none");
	root = o.registry ? o.registry : BPFSYS_PIN_ROOT;
	if (use_registry && (err = registry_ids(&o, root, o.registry != NULL)))
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	o.stop = &stop_flag;
	err = bv_run(&o);
	if (use_registry)
		registry_forget(&o, root);
	return err;
}
