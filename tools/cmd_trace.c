/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestry trace slow: stream the block I/Os whose total latency passes a
 * threshold, from the tracer's ring buffer.
 */
#include "commands.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkdev.h"
#include "blktrace.h"
#include "bpfsys.h"
#include "cli.h"
#include "cliopt.h"
#include "iosnap.h"
#include "log.h"
#include "report.h"

struct slow_args {
	double threshold_ms;
	bool json;
	unsigned long count;	/* events to print; 0 = until ^C */
	const char *devices[REPORT_MAX_DEVICES];
	unsigned int ndevices;
	unsigned int devs[REPORT_MAX_DEVICES][2];
	const char *pin_root, *btf_path, *attach;
	bool verbose;
};

struct slow_ctx {
	const struct slow_args *a;
	uint64_t threshold_ns, printed;
	uint64_t boot_offset_ns;	/* CLOCK_MONOTONIC -> seconds shown */
};

static void slow_usage(FILE *f)
{
	fprintf(f,
"usage: tapestry trace slow [--threshold-ms N] [--json] [--device NAME]...\n"
"                           [--count N]\n"
"\n"
"Stream block I/Os whose total latency (insert or issue to completion) is\n"
"at least the threshold: time, device, op, sector, bytes, queue and\n"
"service latency, and the pid and comm of the task that issued them.\n"
"\n"
"  -t, --threshold-ms N   threshold in milliseconds, fractions ok\n"
"                         (default 10)\n"
"      --json             one JSON object per event, one per line\n"
"  -d, --device NAME      only this whole disk (loop0, /dev/sda, a link to\n"
"                         one such as /dev/disk/by-id/...; a partition is\n"
"                         traced as part of its disk); repeatable\n"
"  -c, --count N          stop after N events (default: until ^C)\n"
"      --pin-root DIR     where tapestryd pins its maps (default %s)\n"
"      --btf FILE         BTF for a kernel without /sys/kernel/btf/vmlinux\n"
"      --attach MODE      auto, tp_btf or raw_tp (default auto)\n"
"  -v, --verbose          show libbpf's messages\n"
"  -h, --help             this text\n"
"\n"
"With tapestryd running it lowers the daemon's node-wide threshold to N\n"
"while it runs: the threshold is the lowest that the daemon and the\n"
"readers running need, and the daemon's again once they end, whatever\n"
"their order (one killed is dropped 3 s after, by the next reader).  It\n"
"ends, exit 1, if that tapestryd stops; otherwise it loads the tracer.\n"
"One reader at a time: two would share the event stream between them.\n",
		BPFSYS_PIN_ROOT);
}

static const struct option slow_opts[] = {
	{ "threshold-ms", required_argument, NULL, 't' },
	{ "json", no_argument, NULL, 'j' },
	{ "device", required_argument, NULL, 'd' },
	{ "count", required_argument, NULL, 'c' },
	{ "pin-root", required_argument, NULL, 'P' },
	{ "btf", required_argument, NULL, 'B' },
	{ "attach", required_argument, NULL, 'A' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Parse argv[1..argc) into a.  0, 1 for --help, or -EINVAL with the
 * reason in err. */
static int slow_parse(int argc, char **argv, struct slow_args *a, char *err,
		      size_t len)
{
	char *end;
	int c;

	memset(a, 0, sizeof(*a));
	a->threshold_ms = 10;
	a->pin_root = BPFSYS_PIN_ROOT;
	a->attach = "auto";
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:t:d:c:vh", slow_opts,
				NULL)) != -1) {
		switch (c) {
		case 't':
			errno = 0;
			a->threshold_ms = strtod(optarg, &end);
			if (end == optarg || *end || errno ||
			    !isfinite(a->threshold_ms) ||
			    a->threshold_ms <= 0 || a->threshold_ms > 3.6e6)
				return cliopt_fail(err, len, "bad "
						   "--threshold-ms '%s': "
						   "milliseconds, > 0 and at "
						   "most 3600000 (an hour)",
						   optarg);
			break;
		case 'j':
			a->json = true;
			break;
		case 'd':
			if (a->ndevices == REPORT_MAX_DEVICES)
				return cliopt_fail(err, len, "at most %d "
						   "--device",
						   REPORT_MAX_DEVICES);
			a->devices[a->ndevices++] = optarg;
			break;
		case 'c':
			errno = 0;
			a->count = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || errno)
				return cliopt_fail(err, len, "bad --count "
						   "'%s'", optarg);
			break;
		case 'P':
			if (cliopt_pin_root(optarg, &a->pin_root, err, len))
				return -EINVAL;
			break;
		case 'B':
			a->btf_path = optarg;
			break;
		case 'A':
			if (cliopt_attach(optarg, &a->attach, err, len))
				return -EINVAL;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			return 1;
		default:
			return cliopt_bad_option(c, argv, err, len);
		}
	}
	return cliopt_no_operands(argc, argv, err, len);
}

static bool wanted(const struct slow_args *a, const struct blk_event *e)
{
	unsigned int i;

	if (!a->ndevices)
		return true;
	for (i = 0; i < a->ndevices; i++)
		if (a->devs[i][0] == e->major && a->devs[i][1] == e->minor)
			return true;
	return false;
}

static void comm_of(__u32 tgid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(buf, len, "?");
	if (!tgid)
		return;
	snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static int print_json(const struct blk_event *e, const char *dev,
		      const char *comm, double t)
{
	struct json_object *o = json_object_new_object();
	int err;

	if (!o)
		return -ENOMEM;
	err = hist_json_add(o, "time_s", report_json_fixed(t, 6));
	err = err ?: hist_json_add(o, "device", json_object_new_string(dev));
	err = err ?: hist_json_add(o, "op",
			json_object_new_string(iosnap_op_name(e->op)));
	err = err ?: report_json_u64(o, "sector", e->sector);
	err = err ?: report_json_u64(o, "bytes", e->bytes);
	err = err ?: hist_json_add(o, "queue_us",
			report_json_fixed(e->queue_ns / 1e3, 3));
	err = err ?: hist_json_add(o, "service_us",
			report_json_fixed(e->service_ns / 1e3, 3));
	err = err ?: hist_json_add(o, "total_us",
			report_json_fixed((e->queue_ns + e->service_ns) / 1e3, 3));
	err = err ?: hist_json_add(o, "pid", json_object_new_int64(e->tgid));
	err = err ?: hist_json_add(o, "comm", report_json_string(comm));
	err = err ?: hist_json_add(o, "error", json_object_new_int(e->error));
	err = err ?: report_json_print(stdout, o);
	json_object_put(o);
	return err;
}

static int on_event(void *arg, void *data, size_t size)
{
	struct slow_ctx *c = arg;
	const struct blk_event *e = data;
	char dev[BLKDEV_NAME_MAX], comm[32];
	double t;

	if (size < sizeof(*e) || !wanted(c->a, e))
		return 0;
	/* One poll hands over every record that is ready. */
	if (c->a->count && c->printed >= c->a->count)
		return 0;
	/* Another reader may have set the shared threshold lower. */
	if (e->queue_ns + e->service_ns < c->threshold_ns)
		return 0;
	blkdev_name("/sys", e->major, e->minor, dev, sizeof(dev));
	comm_of(e->tgid, comm, sizeof(comm));
	t = (double)e->ts_ns / 1e9;
	if (c->a->json) {
		if (print_json(e, dev, comm, t))
			return -EIO;
	} else {
		printf("%-14.6f %-10s %-7s %12llu %8u %10.3f %10.3f %10.3f "
		       "%7u %-16s %d\n", t, dev, iosnap_op_name(e->op),
		       (unsigned long long)e->sector, e->bytes,
		       e->queue_ns / 1e3, e->service_ns / 1e3,
		       (e->queue_ns + e->service_ns) / 1e3, e->tgid, comm,
		       e->error);
		fflush(stdout);
	}
	c->printed++;
	if (c->a->count && c->printed >= c->a->count)
		cli_stop = 1;
	return 0;
}

static int open_tracer(const struct slow_args *a, uint64_t ns,
		       struct blktrace **t, bool *pinned)
{
	struct blktrace_opts o = { .btf_path = a->btf_path, .slow_ns = ns };
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", a->pin_root, BLKTRACE_MAP_STATS);
	*pinned = false;
	if (!access(path, F_OK) && bpfsys_dir_claimed(a->pin_root) &&
	    !blktrace_open_pinned(a->pin_root, t)) {
		*pinned = true;
		return 0;
	}
	if (bpfsys_require_caps("trace slow", BPFSYS_LOAD_TRACING))
		return -EPERM;
	bpfsys_attach_parse(a->attach, &o.attach);
	return blktrace_load(&o, t);
}

static int stream(struct blktrace *t, struct slow_ctx *c)
{
	struct ring_buffer *rb;
	int n = 0;

	bool warned = false;

	rb = ring_buffer__new(blktrace_events_fd(t), on_event, c, NULL);
	if (!rb)
		return -errno;
	if (!c->a->json)
		printf("%-14s %-10s %-7s %12s %8s %10s %10s %10s %7s %-16s %s\n",
		       "TIME(s)", "DEVICE", "OP", "SECTOR", "BYTES",
		       "QUEUE(us)", "SERV(us)", "TOTAL(us)", "PID", "COMM",
		       "ERR");
	while (!cli_stop) {
		n = ring_buffer__poll(rb, 200);
		if (n < 0 && n != -EINTR)
			break;
		n = 0;
		/* Alive, and the shared threshold right (a reader that ended
		 * meanwhile may have put its own value back). */
		if (blktrace_slow_refresh(t) && !warned) {
			log_warn("trace slow: cannot refresh this reader's "
				 "slow-I/O threshold in %s/%s", c->a->pin_root,
				 BLKTRACE_MAP_READERS);
			warned = true;
		}
		/* No event comes from the pins of a daemon that is gone. */
		if (!blktrace_live(t)) {
			log_err("trace slow: the tapestryd whose maps under %s "
				"it reads has stopped", c->a->pin_root);
			n = -ESRCH;
			break;
		}
	}
	ring_buffer__free(rb);
	return n < 0 ? n : 0;
}

static int trace_slow(int argc, char **argv)
{
	struct slow_args a;
	struct slow_ctx c = { .a = &a };
	struct blktrace *t = NULL;
	bool pinned = false;
	unsigned int i;
	char msg[256];
	int rc, err;

	rc = slow_parse(argc, argv, &a, msg, sizeof(msg));
	if (rc == 1) {
		slow_usage(stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "tapestry trace slow: %s\n\n", msg);
		slow_usage(stderr);
		return EXIT_USAGE;
	}
	if (a.verbose)
		log_set_level(LOG_DEBUG);
	bpfsys_quiet_libbpf();
	if (bpfsys_require_caps("trace slow", BPFSYS_READ_MAPS))
		return 1;
	for (i = 0; i < a.ndevices; i++) {
		err = blkdev_lookup("/sys", a.devices[i], &a.devs[i][0],
				    &a.devs[i][1]);
		if (err == -EISDIR) {
			cli_partition_err("trace slow", a.devices[i]);
			return 1;
		}
		if (err) {
			log_err("trace slow: unknown device '%s': no such "
				"block device in /sys/class/block",
				a.devices[i]);
			return 1;
		}
	}
	c.threshold_ns = (uint64_t)(a.threshold_ms * 1e6);
	if (!c.threshold_ns)
		c.threshold_ns = 1;
	cli_catch_stop();
	err = open_tracer(&a, c.threshold_ns, &t, &pinned);
	if (err)
		goto out;
	/* Share the node-wide threshold: blktrace_destroy() drops us. */
	if (pinned && (err = blktrace_slow_register(t, c.threshold_ns)) ==
	    -ENOSPC) {
		log_err("trace slow: %d readers of the tapestryd under %s run "
			"already; no room for another", BLK_MAX_READERS,
			a.pin_root);
		err = -ESRCH;	/* said */
	}
	if (!err) {
		fprintf(stderr, "tapestry: tracing block I/O slower than %g ms "
			"(%s); ^C stops\n", a.threshold_ms, blktrace_mode(t));
		err = stream(t, &c);
	}
	if (err && err != -ESRCH)
		log_err("trace slow: %s", strerror(-err));
out:
	blktrace_destroy(t);
	return err ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: tapestry trace slow [options]\n"
		   "       tapestry trace slow --help\n");
}

int cmd_trace(int argc, char **argv)
{
	static const struct command traces[] = {
		{ "slow", trace_slow, NULL },
	};

	return cli_dispatch("trace", "trace", traces,
			    sizeof(traces) / sizeof(traces[0]), usage, argc,
			    argv);
}
