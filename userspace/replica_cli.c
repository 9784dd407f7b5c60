/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `tapestryd replica`: options, signals, and the loop around the server.
 */
#include "replica.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: tapestryd replica --zone ZONE --listen IP:PORT --data DIR [options]\n"
"\n"
"Serve volume replicas in DIR to Tapestry engines over TCP, with the\n"
"replication protocol (docs/replication-protocol.md).  Each volume NAME is\n"
"DIR/NAME.img (sparse raw image), DIR/NAME.seq (per-block write seqs) and\n"
"DIR/NAME.meta (generation, applied seq, clean/dirty).\n"
"\n"
"  --zone ZONE        this server's availability zone (HELLOs naming another\n"
"                     zone are refused)\n"
"  --listen IP:PORT   address to listen on; [IPv6]:PORT; port 0 picks one\n"
"  --data DIR         data directory (created if missing); one server each\n"
"  --max-conns N      connections at once (default 256)\n"
"  --slots N          requests in flight per connection (default 64)\n"
"  --buffers N        large (1 MiB) registered buffers (default 32)\n"
"  --io MODE          image I/O: auto (O_DIRECT where the filesystem allows\n"
"                     the volume's block size; default), direct, buffered\n"
"  --port-file PATH   write the bound port to PATH once listening\n"
"  --drain-ms MS      on SIGTERM, how long to wait for clients to take their\n"
"                     last replies (default 10000)\n"
"  --client-timeout S cut off a client that takes none of its replies, or\n"
"                     sends none of a frame it began, this long (default 30)\n"
"  -v, --verbose      log every connection\n"
"  -h, --help         this text\n"
"\n"
"Prints \"listening on IP:PORT\" on stdout once ready.  SIGTERM/SIGINT: stop\n"
"accepting, finish requests in flight, fdatasync and mark every image\n"
"clean, exit 0.\n");
}

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static int write_port_file(const char *path, unsigned int port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%u\n", port);
	if (fclose(f) || rename(tmp, path))
		return -errno;
	return 0;
}

struct cli {
	struct replica_opts o;
	const char *port_file;
	unsigned int nr_large, drain_ms;
};

static int parse(int argc, char **argv, struct cli *cli)
{
	static const struct option longopts[] = {
		{ "zone", required_argument, NULL, 'z' },
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'd' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "slots", required_argument, NULL, 's' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "drain-ms", required_argument, NULL, 'D' },
		{ "client-timeout", required_argument, NULL, 'T' },
		{ "io", required_argument, NULL, 'i' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, idx = 0;

	while ((ch = getopt_long(argc, argv, "vh", longopts, &idx)) != -1) {
		switch (ch) {
		case 'z':
			if (!proto_label_ok(optarg, strlen(optarg), REPL_ZONE_MAX)) {
				fprintf(stderr, "tapestryd replica: --zone '%s': "
					"want 1..%d bytes of [A-Za-z0-9._-], not "
					"starting with '.'\n", optarg,
					REPL_ZONE_MAX - 1);
				return -EINVAL;
			}
			cli->o.zone = optarg;
			break;
		case 'l':
			/* Refused here, before the data directory is made. */
			if (!replica_listen_ok(optarg)) {
				fprintf(stderr, "tapestryd replica: --listen '%s': "
					"want IP:PORT or [IPv6]:PORT, port "
					"0..65535\n", optarg);
				return -EINVAL;
			}
			cli->o.listen = optarg;
			break;
		case 'd': cli->o.data_dir = optarg; break;
		case 'p': cli->port_file = optarg; break;
		case 'i':
			if (!strcmp(optarg, "auto"))
				cli->o.io = REPLICA_IO_AUTO;
			else if (!strcmp(optarg, "direct"))
				cli->o.io = REPLICA_IO_DIRECT;
			else if (!strcmp(optarg, "buffered"))
				cli->o.io = REPLICA_IO_BUFFERED;
			else
				goto bad;
			break;
		case 'v': log_set_level(LOG_DEBUG); break;
		case 'h': usage(stdout); exit(0);
		case 'm':
			if (parse_uint(optarg, 65536, &cli->o.max_conns))
				goto bad;
			break;
		case 's':
			if (parse_uint(optarg, 4096, &cli->o.slots))
				goto bad;
			break;
		case 'b':
			if (parse_uint(optarg, 4096, &cli->nr_large))
				goto bad;
			break;
		case 'D':
			if (parse_uint(optarg, 3600000, &cli->drain_ms))
				goto bad;
			break;
		case 'T':
			if (parse_uint(optarg, 86400, &cli->o.client_timeout_ms))
				goto bad;
			cli->o.client_timeout_ms *= 1000;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tapestryd replica: unexpected argument "
				"'%s'\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	if (!cli->o.zone || !cli->o.listen || !cli->o.data_dir) {
		fprintf(stderr, "tapestryd replica: --zone, --listen and "
				"--data are required\n");
		usage(stderr);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "tapestryd replica: bad value '%s' for --%s\n",
		optarg, longopts[idx].name);
	return -EINVAL;
}

static int serve(struct uloop *loop, struct replica *r, unsigned int drain_ms)
{
	int err;

	while (!replica_done(r)) {
		err = uloop_run_once(loop, 100000000ULL);
		if (err < 0) {
			log_err("io_uring: %s", strerror(-err));
			return 1;
		}
		if (stop_signal && !replica_done(r)) {
			if (stop_signal > 0)
				log_info("signal %d: draining", stop_signal);
			stop_signal = -1;
			replica_drain(r, drain_ms);
		}
	}
	if (!replica_clean(r)) {
		log_err("stopped with volumes left dirty");
		return 1;
	}
	log_info("stopped; every volume clean");
	return 0;
}

int replica_main(int argc, char **argv)
{
	struct cli cli = { .nr_large = 32, .drain_ms = 10000 };
	struct uloop_opts lo = { 0 };
	struct sigaction sa;
	struct uloop *loop = NULL;
	struct replica *r = NULL;
	int err, rc = 1;

	if (parse(argc, argv, &cli))
		return 2;
	log_set_timestamps(true);
	if (mkdir(cli.o.data_dir, 0700) && errno != EEXIST) {
		log_err("--data %s: %s", cli.o.data_dir, strerror(errno));
		return 1;
	}
	lo.entries = 1024;
	lo.nr_small = 256;
	lo.small_size = 64 * 1024;
	lo.nr_large = cli.nr_large;
	lo.large_size = REPLICA_BUF_MIN;
	err = uloop_create(&lo, &loop);
	if (err) {
		log_err("io_uring setup: %s", strerror(-err));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake io_uring_enter */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	err = replica_create(loop, &cli.o, &r);
	if (err)
		goto out;
	if (cli.port_file && (err = write_port_file(cli.port_file,
						    replica_port(r)))) {
		log_err("--port-file %s: %s", cli.port_file, strerror(-err));
		goto out;
	}
	log_info("zone %s, data %s, listening on %s", cli.o.zone,
		 cli.o.data_dir, replica_addr(r));
	printf("listening on %s\n", replica_addr(r));
	fflush(stdout);
	rc = serve(loop, r, cli.drain_ms);
out:
	replica_destroy(r);
	uloop_destroy(loop);
	return rc;
}
