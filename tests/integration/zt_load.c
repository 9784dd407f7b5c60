/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zt_load: drive the zone tracer the way the engine will, before the
 * engine exists, and time every request from user space.
 *
 * Each --zone NAME:DELAY_US[:ERR_EVERY] is registered through the zone
 * registry (zonetrace_zone_register) and gets --requests replica requests
 * tagged per include/abi/udata.h:
 *   DELAY_US > 0  "remote": a UD_CLS_REPL|UD_F_REMOTE NOP starts it, an
 *                 io_uring timeout of DELAY_US..1.9*DELAY_US stands in for
 *                 the network, then a UD_CLS_REPL_DONE NOP ends it
 *                 (UD_F_ERROR on every ERR_EVERY-th);
 *   DELAY_US = 0  "local": a 4 KiB write to --file starts it and its
 *                 completion ends it (every ERR_EVERY-th goes to a
 *                 read-only descriptor and fails).  NAME:0:ERR_EVERY:TAIL_US
 *                 makes it a flush (UD_OP_FLUSH) of two SQEs with the same
 *                 user_data, the write and a NOP hard-linked behind an
 *                 io_uring timeout of TAIL_US, as the engine's local flush
 *                 is an fsync of the data and one of the seqs: the request
 *                 ends when both have completed.
 * Up to --depth requests are in flight at once, zones interleaved.
 * --rtt-zone NAME registers a loopback TCP server as that zone's peer and
 * ping-pongs over it so tcp_probe sees round trips.
 *
 * zt_load --pin-root DIR --register NAME... only registers the names, in
 * the order given, and prints "NAME ID" per line (for races between
 * registering processes).
 *
 * zt_load --pin-root DIR --race-remove N runs N trials, each under its own
 * pin root DIR/N: a child process removes the registry whenever it is
 * empty (zonetrace_registry_remove_if_empty, as an exiting tracer does)
 * while this process registers zone "race-a"; then "race-a" must still be
 * registered with its id, and "race-b" must get another.  Prints the
 * number of trials that lost the zone and exits 1 if any did.
 *
 * It prints its own view as JSON, in the shape of report zones:
 *   {"zones":[{"zone","zone_id","op":"write"|"flush","count","errors",
 *              "p50_us","p99_us"}],"rtt_pings":N}
 * Exit 0, or 1 with a message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "abi/udata.h"
#include "hist.h"
#include "log.h"
#include "zonetrace.h"

#define MAX_ZONES 8
#define MAX_DEPTH 64

struct zone {
	char name[ZONE_NAME_LEN];
	unsigned int id, delay_us, err_every, tail_us, started, done, errors;
	struct hist h;
};

struct slot {
	int zone;		/* -1: free */
	unsigned int idx;
	uint64_t t0;
	bool error;
	unsigned int pending;	/* local: SQEs not completed yet */
	struct __kernel_timespec ts;
};

static struct zone zones[MAX_ZONES];
static unsigned int nzones, requests = 200, depth = 16;
static struct slot slots[MAX_DEPTH];
static int data_fd = -1, ro_fd = -1;
static char buf[4096] __attribute__((aligned(4096)));

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "zt_load: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int parse_zone(const char *s, const char *pin_root)
{
	struct zone *z = &zones[nzones];
	char name[ZONE_NAME_LEN];
	int n, err;

	if (nzones == MAX_ZONES)
		return -ENOSPC;
	n = sscanf(s, "%63[^:]:%u:%u:%u", name, &z->delay_us, &z->err_every,
		   &z->tail_us);
	if (n < 2)
		return -EINVAL;
	strcpy(z->name, name);
	err = zonetrace_zone_register(pin_root, z->name, &z->id);
	if (err)
		return err;
	nzones++;
	return 0;
}

static struct io_uring_sqe *sqe_of(struct io_uring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(r);

	if (!sqe)
		die("no free SQE", EBUSY);
	return sqe;
}

/* The op a local zone's requests carry: a flush when two SQEs make one. */
static unsigned int zone_op(const struct zone *z)
{
	return z->tail_us ? UD_OP_FLUSH : UD_OP_WRITE;
}

/* Start request number z->started of zone z in slot s. */
static void start(struct io_uring *r, int zi, unsigned int s)
{
	struct zone *z = &zones[zi];
	struct slot *sl = &slots[s];
	struct io_uring_sqe *sqe;
	uint64_t d;
	int fd, ret;

	sl->zone = zi;
	sl->idx = z->started++;
	sl->error = z->err_every && sl->idx % z->err_every == z->err_every - 1;
	if (z->delay_us) {
		sqe = sqe_of(r);
		io_uring_prep_nop(sqe);
		sqe->user_data = ud_make(UD_CLS_REPL, UD_OP_WRITE, z->id,
					 UD_F_REMOTE, sl->idx);
		d = (uint64_t)z->delay_us * (10 + sl->idx % 10) / 10;
		sl->ts.tv_sec = (long long)(d / 1000000);
		sl->ts.tv_nsec = (long long)(d % 1000000) * 1000;
		sqe = sqe_of(r);
		io_uring_prep_timeout(sqe, &sl->ts, 0, 0);
		sqe->user_data = ud_make(UD_CLS_OTHER, UD_OP_NONE,
					 UD_ZONE_NONE, 0, s);
	} else {
		fd = sl->error ? ro_fd : data_fd;
		sqe = sqe_of(r);
		io_uring_prep_write(sqe, fd, buf, sizeof(buf),
				    (uint64_t)(sl->idx % 256) * sizeof(buf));
		sqe->user_data = ud_make(UD_CLS_REPL, zone_op(z), z->id, 0,
					 sl->idx);
		sl->pending = 1;
		if (z->tail_us) {
			sl->ts.tv_sec = 0;
			sl->ts.tv_nsec = (long long)z->tail_us * 1000;
			sqe = sqe_of(r);
			io_uring_prep_timeout(sqe, &sl->ts, 0, 0);
			sqe->user_data = ud_make(UD_CLS_LOOP, UD_OP_NONE,
						 UD_ZONE_NONE, 0, s);
			sqe->flags |= IOSQE_IO_HARDLINK;
			sqe = sqe_of(r);
			io_uring_prep_nop(sqe);
			sqe->user_data = ud_make(UD_CLS_REPL, UD_OP_FLUSH,
						 z->id, 0, sl->idx);
			sl->pending = 2;
		}
	}
	sl->t0 = now_ns();
	ret = io_uring_submit(r);
	if (ret < 0)
		die("io_uring_submit", ret);
}

static void finish(unsigned int s, uint64_t t1, bool error)
{
	struct zone *z = &zones[slots[s].zone];

	hist_record(&z->h, t1 - slots[s].t0);
	z->done++;
	if (error)
		z->errors++;
	slots[s].zone = -1;
}

static int find_slot(int zi, unsigned int idx)
{
	unsigned int s;

	for (s = 0; s < depth; s++)
		if (slots[s].zone == zi && slots[s].idx == idx)
			return (int)s;
	return -1;
}

static int zone_of(unsigned int id)
{
	unsigned int i;

	for (i = 0; i < nzones; i++)
		if (zones[i].id == id)
			return (int)i;
	return -1;
}

/* A remote request's network delay is over: submit its end marker. */
static void end_remote(struct io_uring *r, unsigned int s)
{
	struct zone *z = &zones[slots[s].zone];
	struct io_uring_sqe *sqe = sqe_of(r);
	int ret;

	io_uring_prep_nop(sqe);
	sqe->user_data = ud_make(UD_CLS_REPL_DONE, UD_OP_WRITE, z->id,
				 slots[s].error ? UD_F_ERROR : 0,
				 slots[s].idx);
	ret = io_uring_submit(r);
	if (ret < 0)
		die("io_uring_submit", ret);
	finish(s, now_ns(), slots[s].error);
}

/* true when cqe ended a request. */
static bool handle(struct io_uring *r, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	int zi, s;

	if (ud_cls(ud) == UD_CLS_LOOP) {	/* a TAIL_US timeout */
		if (cqe->res != -ETIME)
			die("tail timeout", cqe->res);
		return false;
	}
	if (ud_cls(ud) == UD_CLS_OTHER) {
		if (cqe->res != -ETIME)
			die("timeout", cqe->res);
		end_remote(r, ud_index(ud));
		return true;
	}
	if (ud_cls(ud) != UD_CLS_REPL || (ud_flags(ud) & UD_F_REMOTE))
		return false;	/* start and end NOPs */
	zi = zone_of(ud_zone(ud));
	s = zi < 0 ? -1 : find_slot(zi, ud_index(ud));
	if (s < 0)
		die("completion for no request", EPROTO);
	/* With TAIL_US, the NOP succeeds whether the write did or not. */
	if (cqe->res < 0 ? !slots[s].error :
	    slots[s].error && !zones[zi].tail_us)
		die("local write", cqe->res < 0 ? cqe->res : EPROTO);
	if (--slots[s].pending)
		return false;
	finish((unsigned int)s, now_ns(), slots[s].error);
	return true;
}

static void run(struct io_uring *r)
{
	unsigned int s, inflight = 0, next = 0, left = requests * nzones;
	struct io_uring_cqe *cqe;
	int ret;

	for (s = 0; s < MAX_DEPTH; s++)
		slots[s].zone = -1;
	while (left || inflight) {
		for (s = 0; s < depth && left; s++) {
			if (slots[s].zone >= 0)
				continue;
			while (zones[next % nzones].started == requests)
				next++;
			start(r, (int)(next++ % nzones), s);
			left--;
			inflight++;
		}
		ret = io_uring_wait_cqe(r, &cqe);
		if (ret < 0)
			die("io_uring_wait_cqe", ret);
		do {
			if (handle(r, cqe))
				inflight--;
			io_uring_cqe_seen(r, cqe);
		} while (!io_uring_peek_cqe(r, &cqe));
	}
}

/* Ping-pong over loopback TCP with the server registered as zone's peer. */
static unsigned int rtt_pings(const char *pin_root, const char *zone)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int ls, cs, as, zi, err;
	unsigned int i, n = 200;
	char peer[64], c = 'x';

	zi = -1;
	for (i = 0; i < nzones; i++)
		if (!strcmp(zones[i].name, zone))
			zi = (int)i;
	if (zi < 0)
		die("--rtt-zone names no --zone", EINVAL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (void *)&sa, sizeof(sa)) || listen(ls, 1) ||
	    getsockname(ls, (void *)&sa, &len))
		die("listen", errno);
	snprintf(peer, sizeof(peer), "127.0.0.1:%u", ntohs(sa.sin_port));
	err = zonetrace_peer_register(pin_root, peer, zones[zi].id);
	if (err)
		die("zonetrace_peer_register", err);
	cs = socket(AF_INET, SOCK_STREAM, 0);
	if (cs < 0 || connect(cs, (void *)&sa, sizeof(sa)))
		die("connect", errno);
	as = accept(ls, NULL, NULL);
	if (as < 0)
		die("accept", errno);
	for (i = 0; i < n; i++)
		if (write(cs, &c, 1) != 1 || read(as, &c, 1) != 1 ||
		    write(as, &c, 1) != 1 || read(cs, &c, 1) != 1)
			die("ping", errno);
	zonetrace_peer_unregister(pin_root, peer);
	close(as);
	close(cs);
	close(ls);
	return n;
}

static void print_json(unsigned int pings)
{
	unsigned int i;

	printf("{\"zones\":[");
	for (i = 0; i < nzones; i++)
		printf("%s{\"zone\":\"%s\",\"zone_id\":%u,\"op\":\"%s\","
		       "\"count\":%u,\"errors\":%u,\"p50_us\":%.3f,"
		       "\"p99_us\":%.3f}", i ? "," : "", zones[i].name,
		       zones[i].id,
		       !zones[i].delay_us && zones[i].tail_us ? "flush" : "write",
		       zones[i].done, zones[i].errors,
		       hist_percentile(&zones[i].h, 50) / 1e3,
		       hist_percentile(&zones[i].h, 99) / 1e3);
	printf("],\"rtt_pings\":%u}\n", pings);
}

/* One trial of --race-remove under root: 0 if the registry kept race-a
 * with its id, 1 if it lost it (or handed its id to race-b). */
static int race_trial(const char *root)
{
	unsigned int a, a2, b;
	int p[2], err, st;
	pid_t pid;
	ssize_t n;
	char c;

	if (pipe(p))
		die("pipe", errno);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (!pid) {
		close(p[1]);
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		/* Until the parent says it has registered; an EOF (or any
		 * error) means it is gone without saying so: stop too. */
		while ((n = read(p[0], &c, 1)) != 1) {
			if (!n || (errno != EAGAIN && errno != EINTR))
				_exit(1);
			zonetrace_registry_remove_if_empty(root);
		}
		zonetrace_registry_remove_if_empty(root);
		_exit(0);
	}
	close(p[0]);
	err = zonetrace_zone_register(root, "race-a", &a);
	if (write(p[1], "x", 1) != 1)
		die("write", errno);
	close(p[1]);
	waitpid(pid, &st, 0);
	if (err) {
		fprintf(stderr, "zt_load: register race-a: %s\n",
			strerror(-err));
		return 1;
	}
	err = zonetrace_zone_lookup(root, "race-a", &a2);
	if (err || a2 != a) {
		fprintf(stderr, "zt_load: %s: race-a (id %u) lost: %s\n", root,
			a, err ? strerror(-err) : "id changed");
		return 1;
	}
	err = zonetrace_zone_register(root, "race-b", &b);
	if (err || b == a) {
		fprintf(stderr, "zt_load: %s: race-b: %s\n", root,
			err ? strerror(-err) : "got race-a's id");
		return 1;
	}
	return 0;
}

static int race_remove(const char *pin_root, unsigned int trials)
{
	char root[4096];
	unsigned int i, lost = 0;

	for (i = 0; i < trials; i++) {
		snprintf(root, sizeof(root), "%s/%u", pin_root, i);
		lost += race_trial(root);
	}
	printf("%u\n", lost);
	return lost ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: zt_load --pin-root DIR --zone NAME:DELAY_US"
		"[:ERR_EVERY[:TAIL_US]]... [--requests N] [--depth N] [--file PATH] "
		"[--rtt-zone NAME]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-root", required_argument, NULL, 'P' },
		{ "zone", required_argument, NULL, 'z' },
		{ "requests", required_argument, NULL, 'n' },
		{ "depth", required_argument, NULL, 'd' },
		{ "file", required_argument, NULL, 'f' },
		{ "rtt-zone", required_argument, NULL, 'r' },
		{ "register", required_argument, NULL, 'R' },
		{ "race-remove", required_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pin_root = NULL, *file = NULL, *rtt_zone = NULL;
	struct io_uring ring;
	unsigned int pings = 0;
	char *zspec[MAX_ZONES], *reg[ZONE_ID_MAX];
	unsigned int nspec = 0, nreg = 0, i, id, race = 0;
	int c, err;

	log_init("zt_load", LOG_WARN);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'P': pin_root = optarg; break;
		case 'z':
			if (nspec == MAX_ZONES)
				usage();
			zspec[nspec++] = optarg;
			break;
		case 'n': requests = (unsigned int)atoi(optarg); break;
		case 'd': depth = (unsigned int)atoi(optarg); break;
		case 'f': file = optarg; break;
		case 'r': rtt_zone = optarg; break;
		case 'R':
			if (nreg == ZONE_ID_MAX)
				usage();
			reg[nreg++] = optarg;
			break;
		case 'X': race = (unsigned int)atoi(optarg); break;
		default: usage();
		}
	}
	if (race && pin_root)
		return race_remove(pin_root, race);
	for (i = 0; i < nreg && pin_root; i++) {
		err = zonetrace_zone_register(pin_root, reg[i], &id);
		if (err)
			die(reg[i], err);
		printf("%s %u\n", reg[i], id);
	}
	if (nreg)
		return 0;
	if (!nspec || !requests || !depth || depth > MAX_DEPTH || !pin_root)
		usage();
	for (i = 0; i < nspec; i++) {
		err = parse_zone(zspec[i], pin_root);
		if (err)
			die(zspec[i], err);
	}
	if (file) {
		data_fd = open(file, O_RDWR | O_CREAT, 0600);
		ro_fd = open(file, O_RDONLY);
		if (data_fd < 0 || ro_fd < 0)
			die(file, errno);
	}
	for (i = 0; i < nzones; i++)
		if (!zones[i].delay_us && data_fd < 0)
			die("a local zone needs --file", EINVAL);
	memset(buf, 'z', sizeof(buf));
	err = io_uring_queue_init(2 * MAX_DEPTH + 8, &ring, 0);
	if (err)
		die("io_uring_queue_init", err);
	run(&ring);
	io_uring_queue_exit(&ring);
	if (rtt_zone)
		pings = rtt_pings(pin_root, rtt_zone);
	print_json(pings);
	return 0;
}
