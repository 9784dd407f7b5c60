/* SPDX-License-Identifier: Apache-2.0 */
#include "node.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bpfsys.h"
#include "cliopt.h"
#include "log.h"
#include "zonetrace.h"

struct node {
	struct node_opts o;
	int claim_fd;
	bool made_dir;
	struct blktrace *blk;
	struct zonetrace *zt;
	unsigned int nwatch;
	struct pollfd pfd[NODE_MAX_WATCH + 1];
	void (*fn[NODE_MAX_WATCH])(void *arg);
	void *arg[NODE_MAX_WATCH];
};

struct node_service {
	const char *name;
	int (*start)(struct node *n);
	void (*stop)(struct node *n);
};

static int blk_start(struct node *n)
{
	struct blktrace_opts o = {
		.btf_path = n->o.btf_path,
		.attach = n->o.attach,
		.slow_ns = n->o.slow_ns,
	};
	int err;

	err = blktrace_load(&o, &n->blk);
	if (err)
		return err;
	err = blktrace_pin(n->blk, n->o.pin_root);
	if (err)
		log_err("cannot pin the block tracer's maps under %s: %s",
			n->o.pin_root, strerror(-err));
	else
		log_info("block tracer attached (%s)", blktrace_mode(n->blk));
	return err;
}

static void blk_stop(struct node *n)
{
	blktrace_destroy(n->blk);	/* unpins first */
	n->blk = NULL;
}

static int zones_start(struct node *n)
{
	struct zonetrace_opts o = {
		.btf_path = n->o.btf_path,
		.attach = n->o.attach,
	};
	int err;

	if (n->o.no_zones)
		return 0;
	err = zonetrace_load(&o, n->o.pin_root, &n->zt);
	if (err)
		return err;
	err = zonetrace_pin(n->zt);
	if (err)
		log_err("cannot pin the zone tracer's maps under %s: %s",
			n->o.pin_root, strerror(-err));
	else
		log_info("zone tracer attached (%s)", zonetrace_mode(n->zt));
	return err;
}

static void zones_stop(struct node *n)
{
	zonetrace_destroy(n->zt);	/* unpins first */
	n->zt = NULL;
}

/* Started in this order, stopped in the reverse. */
static const struct node_service services[] = {
	{ "block tracer", blk_start, blk_stop },
	{ "zone tracer", zones_start, zones_stop },
};

#define NR_SERVICES (sizeof(services) / sizeof(services[0]))

void node_usage(FILE *f)
{
	fprintf(f,
"usage: tapestryd run [--pin-root DIR] [--slow-ms N] [--no-zones]\n"
"                     [--btf FILE] [--attach MODE] [--verbose]\n"
"\n"
"Trace this node's block I/O and replica-request latency per zone, and\n"
"pin the maps for `tapestry report` and bpftool.  Runs until SIGTERM or\n"
"SIGINT, then unpins everything it pinned.\n"
"\n"
"  --pin-root DIR   where to pin the maps (default %s);\n"
"                   one tapestryd per directory\n"
"  --slow-ms N      emit slow-I/O events at or above N ms (default: off;\n"
"                   `tapestry trace slow` sets it while it runs)\n"
"  --no-zones       do not run the zone tracer\n"
"  --btf FILE       BTF for a kernel without /sys/kernel/btf/vmlinux\n"
"  --attach MODE    auto, tp_btf or raw_tp (default auto)\n"
"  -v, --verbose    debug messages, libbpf's included\n"
"  -h, --help       this text\n"
"\n"
"Needs root (CAP_BPF, CAP_PERFMON, and CAP_SYS_ADMIN to mount bpffs or\n"
"tracefs where they are missing).\n", BPFSYS_PIN_ROOT);
}

static const struct option long_opts[] = {
	{ "pin-root", required_argument, NULL, 'P' },
	{ "slow-ms", required_argument, NULL, 's' },
	{ "no-zones", no_argument, NULL, 'Z' },
	{ "btf", required_argument, NULL, 'B' },
	{ "attach", required_argument, NULL, 'A' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int node_parse(int argc, char **argv, struct node_opts *o, char *err,
	       size_t errlen)
{
	const char *mode;
	double ms;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->pin_root = BPFSYS_PIN_ROOT;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			if (cliopt_pin_root(optarg, &o->pin_root, err, errlen))
				return -EINVAL;
			break;
		case 's':
			errno = 0;
			ms = strtod(optarg, &end);
			if (end == optarg || *end || errno || !isfinite(ms) ||
			    ms < 0 || ms > 3.6e6)
				return cliopt_fail(err, errlen, "bad --slow-ms "
						   "'%s'", optarg);
			o->slow_ns = (uint64_t)(ms * 1e6);
			break;
		case 'Z':
			o->no_zones = true;
			break;
		case 'B':
			o->btf_path = optarg;
			break;
		case 'A':
			if (cliopt_attach(optarg, &mode, err, errlen))
				return -EINVAL;
			bpfsys_attach_parse(mode, &o->attach);
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			return 1;
		default:
			return cliopt_bad_option(c, argv, err, errlen);
		}
	}
	return cliopt_no_operands(argc, argv, err, errlen);
}

int node_watch(struct node *n, int fd, void (*fn)(void *arg), void *arg)
{
	if (n->nwatch == NODE_MAX_WATCH)
		return -ENOSPC;
	n->pfd[n->nwatch + 1] = (struct pollfd){ .fd = fd, .events = POLLIN };
	n->fn[n->nwatch] = fn;
	n->arg[n->nwatch] = arg;
	n->nwatch++;
	return 0;
}

/* Mounts, then the pin directory and its claim.  Pins a killed daemon
 * left behind are stale once we hold the claim: remove them. */
static int prepare(struct node *n)
{
	static const char *const stale[] = {
		BLKTRACE_MAP_STATS, BLKTRACE_MAP_COUNTERS,
		BLKTRACE_MAP_CONFIG, BLKTRACE_MAP_READERS, BLKTRACE_MAP_EVENTS,
	};
	const unsigned int nstale = sizeof(stale) / sizeof(stale[0]);
	int err;

	err = bpfsys_mount_bpffs();
	if (err) {
		log_err("cannot mount bpffs on %s: %s", BPFSYS_BPFFS,
			strerror(-err));
		return err;
	}
	err = bpfsys_mount_tracefs();
	if (err)	/* tp_btf and raw_tp do not need it; bpftrace does */
		log_warn("cannot mount tracefs on %s: %s", BPFSYS_TRACEFS,
			 strerror(-err));
	err = bpfsys_pin_dir(n->o.pin_root, &n->made_dir);
	if (err) {
		log_err("cannot use %s as the pin directory: %s",
			n->o.pin_root, err == -EXDEV ?
			"not on a BPF filesystem" : strerror(-err));
		return err;
	}
	err = bpfsys_claim_dir(n->o.pin_root, &n->claim_fd);
	if (err) {
		log_err("%s: %s", n->o.pin_root, err == -EBUSY ?
			"another tapestryd runs with this pin directory" :
			strerror(-err));
		return err;
	}
	if (bpfsys_pinned_count(n->o.pin_root, stale, nstale))
		log_warn("removing pins under %s left by a tapestryd that is "
			 "gone", n->o.pin_root);
	bpfsys_unpin(n->o.pin_root, stale, nstale);
	zonetrace_unpin_stale(n->o.pin_root);
	return 0;
}

static int run_loop(struct node *n)
{
	struct signalfd_siginfo si;
	unsigned int i;
	sigset_t mask;
	int sfd, r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;
	n->pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		r = poll(n->pfd, n->nwatch + 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			break;
		}
		if (n->pfd[0].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				log_info("%s: stopping", strsignal(si.ssi_signo));
			r = 0;
			break;
		}
		for (i = 0; i < n->nwatch; i++)
			if (n->pfd[i + 1].revents & POLLIN)
				n->fn[i](n->arg[i]);
	}
	close(sfd);
	return r;
}

static void cleanup(struct node *n, unsigned int started)
{
	while (started-- > 0)
		services[started].stop(n);
	if (n->claim_fd >= 0)
		close(n->claim_fd);
	if (n->made_dir && rmdir(n->o.pin_root) && errno != ENOENT)
		log_warn("left %s in place: %s", n->o.pin_root,
			 strerror(errno));
}

static int run(struct node *n)
{
	unsigned int started = 0;
	sigset_t mask;
	int err;

	/* Signals wait in the signalfd from now on, so that a SIGTERM that
	 * comes while loading still unpins everything on the way out. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	err = prepare(n);
	for (; !err && started < NR_SERVICES; started++) {
		err = services[started].start(n);
		if (err)
			log_err("%s failed to start; stopping",
				services[started].name);
	}
	if (!err) {
		log_info("running; maps pinned under %s", n->o.pin_root);
		err = run_loop(n);
	}
	cleanup(n, started);
	return err;
}

int node_main(int argc, char **argv)
{
	struct node n = { .claim_fd = -1 };
	char err[256];
	int r;

	r = node_parse(argc, argv, &n.o, err, sizeof(err));
	if (r == 1) {
		node_usage(stdout);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "tapestryd run: %s\n\n", err);
		node_usage(stderr);
		return 2;
	}
	log_set_timestamps(true);
	if (n.o.verbose)
		log_set_level(LOG_DEBUG);
	bpfsys_quiet_libbpf();
	if (bpfsys_require_caps("tapestryd run", BPFSYS_LOAD_TRACING))
		return 1;
	return run(&n) ? 1 : 0;
}
