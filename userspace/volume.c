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
#include "log.h"
#include "nbd.h"
#include "nbdsock.h"
#include "zonetrace.h"

#define DEFAULT_STATE_DIR	"/var/lib/tapestry"
#define DRAIN_NS		(10 * 1000000000ULL)

/* The loop's registered buffers: small ones for the common 4 KiB..64 KiB
 * requests, large ones for requests up to the 1 MiB maximum.  80 MiB of
 * locked memory per volume. */
#define NR_SMALL	512
#define NR_LARGE	64

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
"\n"
"  --name NAME            volume name, [A-Za-z0-9._-], 1..63 bytes\n"
"  --size BYTES           volume size; K, M, G, T suffixes (powers of 1024)\n"
"  --local ZONE=PATH      a replica in a local file or device (created if\n"
"                         missing)\n"
"  --replica ZONE=IP:PORT a replica on a replica server\n"
"  --ack all|quorum       ack a write once every in-sync replica has it, or\n"
"                         a majority of the replicas (default: quorum)\n"
"  --min-in-sync N        refuse writes when fewer replicas are in sync\n"
"                         (default: 1 for all, the majority for quorum)\n"
"  --nbd ADDR             where to serve NBD: unix:PATH or tcp:IP:PORT\n"
"                         (port 0 picks a free port; the log says which)\n"
"  --state-dir DIR        dirty maps and sequence state (default %s)\n"
"  --block-size 512|4096  the volume's block size (default 4096)\n"
"  --queue-depth N        engine request slots (default 256)\n"
"  --replica-timeout-ms N a replica silent this long is degraded\n"
"                         (default 500)\n"
"  --max-clients N        NBD connections at once (default 1024)\n"
"  --client-timeout S     drop a client stalled this long (default 30)\n"
"  --pin-root DIR         the zone registry's bpffs directory, shared with\n"
"                         `tapestryd run` (default %s)\n"
"  -v, --verbose          debug logging\n"
"  -h, --help             this text\n"
"\n"
"Clients connect with nbd+unix:///NAME?socket=PATH or nbd://IP:PORT/NAME.\n",
		DEFAULT_STATE_DIR, BPFSYS_PIN_ROOT);
}

/* "1G", "512M", "1073741824": bytes, powers of 1024 for suffixes. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned int shift = 0;
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 0:
		break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
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

/* ZONE=TARGET into the next replica slot; the strings are argv's. */
static int add_replica(struct engine_opts *eo, char *arg, bool local)
{
	struct engine_replica_opts *r;
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg || !eq[1]) {
		fprintf(stderr, "tapestryd volume: '%s': want ZONE=%s\n", arg,
			local ? "PATH" : "IP:PORT");
		return -EINVAL;
	}
	if (eo->nr_replicas == ENGINE_MAX_REPLICAS) {
		fprintf(stderr, "tapestryd volume: at most %d replicas\n",
			ENGINE_MAX_REPLICAS);
		return -EINVAL;
	}
	*eq = 0;
	r = &eo->replicas[eo->nr_replicas++];
	r->zone = arg;
	r->zone_id = 0;		/* filled from the zone registry */
	if (local)
		r->path = eq + 1;
	else
		r->addr = eq + 1;
	return 0;
}

static int parse_opt(struct volume_args *a, int c, char *arg)
{
	unsigned long v;

	switch (c) {
	case 'n': a->eo.name = arg; a->no.name = arg; return 0;
	case 's': return parse_size(arg, &a->eo.size);
	case 'l': return add_replica(&a->eo, arg, true);
	case 'r': return add_replica(&a->eo, arg, false);
	case 'N': a->no.listen = arg; return 0;
	case 'd': a->eo.state_dir = arg; return 0;
	case 'p': a->pin_root = arg; return 0;
	case 'v': a->verbose = true; return 0;
	case 'a':
		if (!strcmp(arg, "all"))
			a->eo.ack = ENGINE_ACK_ALL;
		else if (!strcmp(arg, "quorum"))
			a->eo.ack = ENGINE_ACK_QUORUM;
		else
			return -EINVAL;
		return 0;
	case 'm':
		if (parse_uint(arg, ENGINE_MAX_REPLICAS, &v) || !v)
			return -EINVAL;
		a->eo.min_in_sync = (unsigned int)v;
		return 0;
	case 'b':
		if (parse_uint(arg, 65536, &v) || (v != 512 && v != 4096))
			return -EINVAL;
		a->eo.block_size = (uint32_t)v;
		return 0;
	case 'q':
		if (parse_uint(arg, 65536, &v) || !v)
			return -EINVAL;
		a->eo.queue_depth = (unsigned int)v;
		return 0;
	case 't':
		if (parse_uint(arg, 3600000, &v) || !v)
			return -EINVAL;
		a->eo.hard_timeout_ms = (uint32_t)v;
		return 0;
	case 'c':
		if (parse_uint(arg, 65536, &v) || !v)
			return -EINVAL;
		a->no.max_conns = (unsigned int)v;
		return 0;
	case 'T':
		if (parse_uint(arg, 86400, &v) || !v)
			return -EINVAL;
		a->no.client_timeout_ms = (uint32_t)(v * 1000);
		return 0;
	}
	return -EINVAL;
}

/* Returns 0 to run, 1 when --help was printed, or -EINVAL (after saying
 * what is wrong on stderr). */
static int parse_args(int argc, char **argv, struct volume_args *a)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "local", required_argument, NULL, 'l' },
		{ "replica", required_argument, NULL, 'r' },
		{ "ack", required_argument, NULL, 'a' },
		{ "min-in-sync", required_argument, NULL, 'm' },
		{ "nbd", required_argument, NULL, 'N' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "queue-depth", required_argument, NULL, 'q' },
		{ "replica-timeout-ms", required_argument, NULL, 't' },
		{ "max-clients", required_argument, NULL, 'c' },
		{ "client-timeout", required_argument, NULL, 'T' },
		{ "pin-root", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, idx = 0;

	memset(a, 0, sizeof(*a));
	a->eo.ack = ENGINE_ACK_QUORUM;
	a->eo.state_dir = DEFAULT_STATE_DIR;
	a->eo.queue_depth = 256;
	a->eo.create = true;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", longopts, &idx)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c == '?')
			goto bad;	/* getopt said why */
		if (parse_opt(a, c, optarg)) {
			fprintf(stderr, "tapestryd volume: bad value '%s' for "
				"--%s\n", optarg, longopts[idx].name);
			goto bad;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tapestryd volume: unexpected '%s'\n",
			argv[optind]);
		goto bad;
	}
	if (!a->eo.name || !a->eo.size || !a->no.listen ||
	    !a->eo.nr_replicas) {
		fprintf(stderr, "tapestryd volume: --name, --size, --nbd and at "
			"least one --local or --replica are required\n");
		goto bad;
	}
	if (!nbdsock_valid(a->no.listen)) {
		fprintf(stderr, "tapestryd volume: --nbd '%s': want unix:PATH, "
			"tcp:IP:PORT or tcp:[IPv6]:PORT\n", a->no.listen);
		goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "Try 'tapestryd volume --help'.\n");
	return -EINVAL;
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
 * no CAP_BPF) the volume still runs; its zones are numbered by position
 * and reports show numbers, which is said once. */
static void register_zones(struct volume_args *a)
{
	struct engine_opts *eo = &a->eo;
	unsigned int i, id;
	int err = bpfsys_mount_bpffs();

	for (i = 0; !err && i < eo->nr_replicas; i++) {
		err = zonetrace_zone_register(a->pin_root,
					      eo->replicas[i].zone, &id);
		eo->replicas[i].zone_id = err ? 0 : id;
	}
	if (!err)
		return;
	log_warn("zone registry under %s: %s: zones numbered by position",
		 a->pin_root ? a->pin_root : BPFSYS_PIN_ROOT, strerror(-err));
	for (i = 0; i < eo->nr_replicas; i++)
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
		.entries = 512, .nr_small = NR_SMALL, .nr_large = NR_LARGE,
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct nbd_server *s = NULL;
	struct engine *e = NULL;
	struct uloop *loop = NULL;
	int err;

	err = uloop_create(&lo, &loop);
	if (err) {
		log_err("io_uring setup: %s", strerror(-err));
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
