/* SPDX-License-Identifier: Apache-2.0 */
#include "volume.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfsys.h"
#include "engine.h"
#include "engine_args.h"
#include "log.h"
#include "nbd.h"
#include "nbdsock.h"
#include "zonetrace.h"

#define DEFAULT_STATE_DIR	"/var/lib/tapestry"
/* What `tapestryd volume` serves with unless told (its --help says so):
 * a quorum ack, so that one slow or lost zone of three holds no write. */
#define VOLUME_ACK		ENGINE_ACK_QUORUM
#define VOLUME_QUEUE_DEPTH	256
#define DRAIN_NS		(10 * 1000000000ULL)

/* The loop's registered buffers: small (64 KiB) ones for the common
 * 4 KiB..64 KiB requests, large (1 MiB) ones for requests up to the
 * maximum.  Small ones: one per engine slot, plus the acked writes a slow
 * replica may still hold under quorum (ENGINE_LAG_MAX), plus reads whose
 * data is on its way to a client; with the default 256 slots that is 52
 * MiB, and 64 MiB of large ones, locked per volume, plus the large one
 * the NBD server keeps full of zeroes for NO_HOLE zeroes. */
#define NR_SMALL(qd)	((qd) + ENGINE_LAG_MAX(qd) + 64)
#define NR_LARGE	(64 + 1)

struct volume_args {
	struct engine_opts eo;
	struct nbd_opts no;
	const char *pin_root;
	bool verbose;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: tapestryd volume --name NAME --size BYTES\n"
"                        [--local ZONE=PATH]... [--replica ZONE=IP:PORT]...\n"
"                        [--ack all|quorum] [--min-in-sync N]\n"
"                        --nbd unix:PATH | --nbd tcp:IP:PORT [options]\n"
"\n"
"Open (or create) a replicated volume and serve it over NBD until SIGTERM,\n"
"then finish requests in flight, flush every replica, disconnect clients\n"
"and exit 0.  Each replica lives in its own availability zone: a local\n"
"file or block device, or a `tapestryd replica` server in another zone.\n"
"Missing replica images are created (--create is implied).  --state-dir\n"
"defaults to %s here.\n"
"\n",
		DEFAULT_STATE_DIR);
	engine_args_usage(f, VOLUME_ACK, VOLUME_QUEUE_DEPTH);
	fprintf(f,
"\nNBD:\n"
"  --nbd ADDR              where to serve: unix:PATH, tcp:IP:PORT or\n"
"                          tcp:[IPv6]:PORT (port 0 picks one; the log\n"
"                          says which)\n"
"  --max-clients N         NBD connections at once (default 1024)\n"
"  --client-timeout S      drop a client stalled this long (default 30)\n"
"  --pin-root DIR          the zone registry's bpffs directory, shared with\n"
"                          `tapestryd run` (default %s)\n"
"  -v, --verbose           debug logging\n"
"  -h, --help              this text\n"
"\n"
"Clients connect with nbd+unix:///NAME?socket=PATH or nbd://IP:PORT/NAME;\n"
"docs/nbd.md says what the server supports.\n"
"\n"
"Exit status: 0 after a clean stop; 2 for a bad option or an --nbd address\n"
"that cannot be listened on (nothing is opened or created then); 1 if the\n"
"volume cannot be opened or served, or the final flush fails.\n",
		BPFSYS_PIN_ROOT);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (end == s || *end || errno || *s == '-' || *out > max)
		return -EINVAL;
	return 0;
}

enum {
	OPT_NBD = ENGINE_ARG_LAST,
	OPT_MAX_CLIENTS,
	OPT_CLIENT_TIMEOUT,
	OPT_PIN_ROOT,
};

static const struct option own_options[] = {
	{ "nbd", required_argument, NULL, OPT_NBD },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "client-timeout", required_argument, NULL, OPT_CLIENT_TIMEOUT },
	{ "pin-root", required_argument, NULL, OPT_PIN_ROOT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_own(struct volume_args *a, int c, char *arg)
{
	unsigned long v;

	switch (c) {
	case OPT_NBD:
		a->no.listen = arg;
		return nbdsock_valid(arg) ? 0 : -EINVAL;
	case OPT_MAX_CLIENTS:
		if (parse_uint(arg, 65536, &v) || !v)
			return -EINVAL;
		a->no.max_conns = (unsigned int)v;
		return 0;
	case OPT_CLIENT_TIMEOUT:
		if (parse_uint(arg, 86400, &v) || !v)
			return -EINVAL;
		a->no.client_timeout_ms = (uint32_t)(v * 1000);
		return 0;
	case OPT_PIN_ROOT:
		a->pin_root = arg;
		return 0;
	case 'v':
		a->verbose = true;
		return 0;
	}
	return -EINVAL;
}

/* The engine's options (engine_args, shared with `tapestry bench-volume`)
 * and ours, in one table. */
static struct option *all_options(void)
{
	size_t ne = ENGINE_ARGS_NR_OPTIONS;
	size_t no = sizeof(own_options) / sizeof(own_options[0]);
	struct option *opts = calloc(ne + no, sizeof(*opts));

	if (opts) {
		memcpy(opts, engine_args_options, ne * sizeof(*opts));
		memcpy(opts + ne, own_options, no * sizeof(*opts));
	}
	return opts;
}

static void defaults(struct volume_args *a)
{
	memset(a, 0, sizeof(*a));
	a->eo.ack = VOLUME_ACK;
	a->eo.state_dir = DEFAULT_STATE_DIR;
	a->eo.queue_depth = VOLUME_QUEUE_DEPTH;
	a->eo.create = true;	/* "opens, or creates" */
}

/* Returns 0 to run, 1 when --help was printed, or -EINVAL (after saying
 * what is wrong on stderr). */
static int parse_args(int argc, char **argv, struct volume_args *a)
{
	struct option *opts = all_options();
	int c, idx, err = 0;

	if (!opts)
		return -ENOMEM;
	defaults(a);
	optind = 1;
	while (!err && (c = getopt_long(argc, argv, "vh", opts, &idx)) != -1) {
		if (c == 'h') {
			usage(stdout);
			free(opts);
			return 1;
		}
		if (c >= ENGINE_ARG_FIRST && c < ENGINE_ARG_LAST) {
			err = engine_args_apply(&a->eo, c, optarg);
		} else if (c == '?') {
			err = -EINVAL;	/* getopt said why */
		} else if ((err = parse_own(a, c, optarg))) {
			fprintf(stderr, "tapestryd volume: bad value '%s' for "
				"--%s\n", optarg, opts[idx].name);
		}
	}
	free(opts);
	if (!err && optind < argc) {
		fprintf(stderr, "tapestryd volume: unexpected '%s'\n",
			argv[optind]);
		err = -EINVAL;
	}
	if (!err)
		err = engine_args_finish(&a->eo);
	if (!err && !a->no.listen) {
		fprintf(stderr, "tapestryd volume: --nbd is required\n");
		err = -EINVAL;
	}
	if (err)
		fprintf(stderr, "Try 'tapestryd volume --help'.\n");
	a->no.name = a->eo.name;
	return err;
}

/* The URI a client uses, for the log. */
static void print_uri(const char *name, const char *addr)
{
	if (!strncmp(addr, "unix:", 5))
		log_info("serving %s at nbd+unix:///%s?socket=%s", name, name,
			 addr + 5);
	else
		log_info("serving %s at nbd://%s/%s", name, addr + 4, name);
}

static void flush_done(void *arg, int res)
{
	int *out = arg;

	*out = res;
}

/* Run the loop until cond(arg) holds or deadline passes. */
static bool run_until(struct uloop *loop, bool (*cond)(void *arg), void *arg,
		      uint64_t deadline)
{
	while (!cond(arg)) {
		if (uloop_clock(loop) > deadline)
			return false;
		if (uloop_run_once(loop, 50000000ULL) < 0)
			return false;
	}
	return true;
}

static bool server_idle(void *arg)
{
	return nbd_server_idle(arg);
}

static bool no_conns(void *arg)
{
	return nbd_server_conns(arg) == 0;
}

static bool flushed(void *arg)
{
	return *(int *)arg != 1;
}

static void log_stats(const struct nbd_server *s)
{
	struct nbd_stats st;

	nbd_server_get_stats(s, &st);
	log_info("nbd: %llu connections (at most %u at once, %llu dropped, "
		 "%llu refused); %llu reads, %llu writes, %llu other; "
		 "%llu errors",
		 (unsigned long long)st.accepted, st.peak_conns,
		 (unsigned long long)st.hangups,
		 (unsigned long long)st.refused,
		 (unsigned long long)st.requests[NBD_OPC_READ],
		 (unsigned long long)st.requests[NBD_OPC_WRITE],
		 (unsigned long long)st.requests[NBD_OPC_OTHER],
		 (unsigned long long)st.errors);
}

/* SIGTERM: refuse new work, finish what is in flight, flush, then hang
 * up on every client.  Returns 0, or -EIO if the flush failed. */
static int stop_cleanly(struct uloop *loop, struct engine *e,
			struct nbd_server *s)
{
	uint64_t deadline = uloop_clock(loop) + DRAIN_NS;
	int flush_res = 1, err;

	nbd_server_quiesce(s);
	if (!run_until(loop, server_idle, s, deadline))
		log_warn("requests still in flight after %llu s",
			 (unsigned long long)(DRAIN_NS / 1000000000ULL));
	err = engine_flush(e, flush_done, &flush_res);
	while (err == -EAGAIN && uloop_clock(loop) < deadline) {
		uloop_run_once(loop, 10000000ULL);
		err = engine_flush(e, flush_done, &flush_res);
	}
	if (!err)
		run_until(loop, flushed, &flush_res, deadline + DRAIN_NS);
	else
		flush_res = err;
	if (flush_res)
		log_err("final flush failed: %s",
			strerror(flush_res == 1 ? ETIMEDOUT : -flush_res));
	nbd_server_disconnect(s);
	run_until(loop, no_conns, s, uloop_clock(loop) + DRAIN_NS / 2);
	log_stats(s);
	return flush_res ? -EIO : 0;
}

/* Give each replica its node-wide zone id from the zone registry, so the
 * zone tracer's reports name its zones.  Without the registry (no bpffs,
 * no CAP_BPF) the volume still runs, its requests untagged (UD_ZONE_NONE)
 * so the tracer does not count them as some other zone's; that is said
 * once.  The engine never makes ids up. */
static void register_zones(struct volume_args *a)
{
	struct engine_opts *eo = &a->eo;
	bool given[ENGINE_MAX_REPLICAS];
	unsigned int i, id;
	int err = bpfsys_mount_bpffs();

	for (i = 0; i < eo->nr_replicas; i++)
		given[i] = eo->replicas[i].zone_id != 0;	/* --zone-id */
	for (i = 0; !err && i < eo->nr_replicas; i++) {
		if (given[i])
			continue;
		err = zonetrace_zone_register(a->pin_root,
					      eo->replicas[i].zone, &id);
		eo->replicas[i].zone_id = err ? 0 : id;
	}
	if (!err)
		return;
	log_warn("zone registry under %s: %s: zones untagged, per-zone BPF "
		 "latency is off for this volume",
		 a->pin_root ? a->pin_root : BPFSYS_PIN_ROOT, strerror(-err));
	for (i = 0; i < eo->nr_replicas; i++)
		if (!given[i])
			eo->replicas[i].zone_id = 0;
}

/* Map remote replicas' addresses to their zones, for the tracer's RTT
 * figures (after the engine has accepted the addresses). */
static void register_peers(struct volume_args *a)
{
	unsigned int i;
	int err;

	for (i = 0; i < a->eo.nr_replicas; i++) {
		const struct engine_replica_opts *r = &a->eo.replicas[i];

		if (!r->addr || !r->zone_id)
			continue;
		err = zonetrace_peer_register(a->pin_root, r->addr, r->zone_id);
		if (err)
			log_warn("zone registry: peer %s: %s", r->addr,
				 strerror(-err));
	}
}

static void unregister_peers(struct volume_args *a)
{
	unsigned int i;

	for (i = 0; i < a->eo.nr_replicas; i++)
		if (a->eo.replicas[i].addr && a->eo.replicas[i].zone_id)
			zonetrace_peer_unregister(a->pin_root,
						  a->eo.replicas[i].addr);
}

static int serve(struct volume_args *a)
{
	struct uloop_opts lo = {
		.entries = 512,
		.nr_small = NR_SMALL(a->eo.queue_depth ? a->eo.queue_depth : 128),
		.nr_large = NR_LARGE,
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct nbd_sock sock;
	struct nbd_server *s = NULL;
	struct engine *e = NULL;
	struct uloop *loop = NULL;
	int err;

	/* Listen first: an address that cannot be used is refused before
	 * the engine opens (or creates) the images and the state files. */
	err = nbdsock_listen(a->no.listen, &sock);
	if (err) {
		log_err("--nbd %s: %s", a->no.listen, strerror(-err));
		return 2;
	}
	a->no.sock = &sock;
	err = uloop_create(&lo, &loop);
	if (err) {
		log_err("io_uring setup: %s", strerror(-err));
		nbdsock_close(&sock);
		return 1;
	}
	register_zones(a);
	err = engine_create(loop, &a->eo, &e);
	if (err)
		goto out;	/* the engine said why */
	register_peers(a);
	err = nbd_server_create(loop, e, &a->no, &s);
	if (err) {
		log_err("nbd %s: %s", a->no.listen, strerror(-err));
		goto out;
	}
	print_uri(a->eo.name, nbd_server_address(s));
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	err = uloop_run(loop, &stop_signal);
	if (err) {
		log_err("event loop: %s", strerror(-err));
		goto out;
	}
	log_info("%s: stopping", strsignal(stop_signal));
	err = stop_cleanly(loop, e, s);
	if (!err)
		log_info("%s: flushed and closed", a->eo.name);
out:
	/* The engine first: requests it still holds call back into nbd. */
	engine_destroy(e);
	nbd_server_destroy(s);
	nbdsock_close(&sock);	/* unless the server took it */
	uloop_destroy(loop);
	unregister_peers(a);
	return err ? 1 : 0;
}

int volume_main(int argc, char **argv)
{
	struct volume_args a;
	int err = parse_args(argc, argv, &a);

	if (err)
		return err > 0 ? 0 : 2;
	log_set_timestamps(true);
	if (a.verbose)
		log_set_level(LOG_DEBUG);
	return serve(&a);
}
