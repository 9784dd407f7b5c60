/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestry report io | zones: latency reports, one per interval, from the
 * maps a running tapestryd pinned or from a tracer loaded for the report.
 */
#include "commands.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blkdev.h"
#include "blktrace.h"
#include "bpfsys.h"
#include "cli.h"
#include "iosnap.h"
#include "log.h"
#include "report.h"
#include "zonesnap.h"
#include "zonetrace.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tapestry report io [options]\n"
		   "       tapestry report zones [options]\n"
		   "       tapestry report <io|zones> --help\n");
}

/* Parse or print usage; returns -1 to go on, else the exit status. */
static int parse(enum report_kind kind, int argc, char **argv,
		 struct report_args *a)
{
	char err[256];
	int r;

	r = report_parse(kind, argc, argv, a, err, sizeof(err));
	if (r == 1) {
		report_usage(kind, stdout);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "tapestry report %s: %s\n\n", argv[0], err);
		report_usage(kind, stderr);
		return EXIT_USAGE;
	}
	if (a->verbose)
		log_set_level(LOG_DEBUG);
	bpfsys_quiet_libbpf();
	return -1;
}

/* Pins of a live daemon, or none.  Pins that outlived their daemon are
 * stale: the programs behind them are gone, so their figures are frozen. */
static bool daemon_pins(const char *root, const char *marker)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", root, marker);
	if (access(path, F_OK))
		return false;
	if (bpfsys_dir_claimed(root))
		return true;
	log_warn("%s is left over from a tapestryd that is gone; "
		 "loading a tracer for this report instead", path);
	return false;
}

static int resolve_devices(const struct report_args *a,
			   unsigned int (*devs)[2])
{
	unsigned int i;
	int err;

	for (i = 0; i < a->ndevices; i++) {
		err = blkdev_lookup("/sys", a->devices[i], &devs[i][0],
				    &devs[i][1]);
		if (err == -EISDIR)
			log_err("report io: %s is a partition; Tapestry traces "
				"whole disks", a->devices[i]);
		else if (err)
			log_err("report io: unknown device '%s': no such "
				"block device in /sys/class/block",
				a->devices[i]);
		if (err)
			return err;
	}
	return 0;
}

static int io_open(const struct report_args *a, struct blktrace **out)
{
	struct blktrace_opts o = { .btf_path = a->btf_path };
	int err;

	if (daemon_pins(a->pin_root, BLKTRACE_MAP_STATS)) {
		err = blktrace_open_pinned(a->pin_root, out);
		if (!err)
			return 0;
		log_warn("cannot open the maps pinned under %s (%s); loading "
			 "a tracer for this report instead", a->pin_root,
			 strerror(-err));
	}
	if (bpfsys_require_caps("report io", BPFSYS_LOAD_TRACING))
		return -EPERM;
	bpfsys_attach_parse(a->attach, &o.attach);
	err = blktrace_load(&o, out);
	if (!err)
		fprintf(stderr, "tapestry: tracing block I/O (%s); ^C ends "
			"the interval early\n", blktrace_mode(*out));
	return err;
}

static int io_print(const struct report_args *a, struct blktrace *t,
		    const struct iosnap *now, const struct iosnap *before,
		    unsigned int (*devs)[2])
{
	struct iosnap_fmt fmt = {
		.pcts = a->pcts,
		.npcts = a->npcts,
		.source = blktrace_mode(t),
		.hist_width = a->no_hist ? 0 : 40,
	};
	struct iosnap d;
	struct json_object *j;
	char when[32];
	time_t wall;
	int err;

	iosnap_init(&d);
	if (a->format == REPORT_PROM)
		err = iosnap_copy(&d, now);	/* counters are cumulative */
	else
		err = iosnap_diff(&d, now, before);
	if (err)
		goto out;
	fmt.interval_s = (double)(now->ts_ns - before->ts_ns) / 1e9;
	iosnap_filter(&d, (const unsigned int (*)[2])devs, a->ndevices);
	iosnap_name_devices(&d, "/sys");
	switch (a->format) {
	case REPORT_PROM:
		err = iosnap_print_prom(stdout, &d);
		break;
	case REPORT_JSON:
		j = iosnap_to_json(&d, &fmt);
		err = j ? report_json_print(stdout, j) : -ENOMEM;
		json_object_put(j);
		break;
	default:
		wall = time(NULL);
		strftime(when, sizeof(when), "%H:%M:%S", localtime(&wall));
		printf("%s  block I/O over %.3f s (%s)\n", when,
		       fmt.interval_s, fmt.source);
		err = iosnap_print_text(stdout, &d, &fmt);
		break;
	}
	fflush(stdout);
out:
	iosnap_release(&d);
	return err;
}

static int report_io(int argc, char **argv)
{
	unsigned int devs[REPORT_MAX_DEVICES][2];
	struct iosnap snap[2];
	struct report_args a;
	struct blktrace *t = NULL;
	uint64_t start;
	unsigned long i;
	int rc, err, cur = 1;
	bool more = true;

	rc = parse(REPORT_IO, argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (bpfsys_require_caps("report io", BPFSYS_READ_MAPS))
		return 1;
	if (resolve_devices(&a, devs))
		return 1;
	cli_catch_stop();
	iosnap_init(&snap[0]);
	iosnap_init(&snap[1]);
	err = io_open(&a, &t);
	if (err)
		goto out;
	err = blktrace_snapshot(t, &snap[0]);
	start = snap[0].ts_ns;
	for (i = 0; !err && more && (!a.count || i < a.count); i++) {
		more = cli_sleep_until(start + (uint64_t)((double)(i + 1) *
					a.interval_s * 1e9));
		iosnap_release(&snap[cur]);
		err = blktrace_snapshot(t, &snap[cur]);
		if (!err)
			err = io_print(&a, t, &snap[cur], &snap[!cur], devs);
		cur = !cur;
	}
	if (err)
		log_err("report io: %s", strerror(-err));
out:
	iosnap_release(&snap[0]);
	iosnap_release(&snap[1]);
	blktrace_destroy(t);
	return err ? 1 : 0;
}

static int zones_open(const struct report_args *a, struct zonetrace **out)
{
	struct zonetrace_opts o = { .btf_path = a->btf_path };
	int err;

	if (daemon_pins(a->pin_root, ZONETRACE_MAP_STATS)) {
		err = zonetrace_open_pinned(a->pin_root, out);
		if (!err)
			return 0;
		log_warn("cannot open the maps pinned under %s (%s); loading "
			 "a tracer for this report instead", a->pin_root,
			 strerror(-err));
	}
	if (bpfsys_require_caps("report zones", BPFSYS_LOAD_TRACING))
		return -EPERM;
	bpfsys_attach_parse(a->attach, &o.attach);
	err = zonetrace_load(&o, a->pin_root, out);
	if (!err)
		fprintf(stderr, "tapestry: tracing replica requests (%s); ^C "
			"ends the interval early\n", zonetrace_mode(*out));
	return err;
}

static int namer(unsigned int id, char *buf, size_t len, void *arg)
{
	return zonetrace_zone_name(arg, id, buf, len);
}

static int zones_print(const struct report_args *a, struct zonetrace *t,
		       const struct zonesnap *now,
		       const struct zonesnap *before)
{
	struct zonesnap_fmt fmt = {
		.pcts = a->pcts,
		.npcts = a->npcts,
		.source = zonetrace_mode(t),
		.hist_width = a->no_hist ? 0 : 40,
		.interval_s = (double)(now->ts_ns - before->ts_ns) / 1e9,
	};
	struct json_object *j;
	struct zonesnap d;
	char when[32];
	time_t wall;
	int err;

	zonesnap_init(&d);
	err = a->format == REPORT_PROM ? zonesnap_copy(&d, now) :
		zonesnap_diff(&d, now, before);
	if (err)
		goto out;
	zonesnap_name_zones(&d, namer, (void *)a->pin_root);
	switch (a->format) {
	case REPORT_PROM:
		err = zonesnap_print_prom(stdout, &d);
		break;
	case REPORT_JSON:
		j = zonesnap_to_json(&d, &fmt);
		err = j ? report_json_print(stdout, j) : -ENOMEM;
		json_object_put(j);
		break;
	default:
		wall = time(NULL);
		strftime(when, sizeof(when), "%H:%M:%S", localtime(&wall));
		printf("%s  replica requests over %.3f s (%s)\n", when,
		       fmt.interval_s, fmt.source);
		err = zonesnap_print_text(stdout, &d, &fmt);
		break;
	}
	fflush(stdout);
out:
	zonesnap_release(&d);
	return err;
}

static int report_zones(int argc, char **argv)
{
	struct zonesnap snap[2];
	struct zonetrace *t = NULL;
	struct report_args a;
	uint64_t start;
	unsigned long i;
	int rc, err, cur = 1;
	bool more = true;

	rc = parse(REPORT_ZONES, argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (bpfsys_require_caps("report zones", BPFSYS_READ_MAPS))
		return 1;
	cli_catch_stop();
	zonesnap_init(&snap[0]);
	zonesnap_init(&snap[1]);
	err = zones_open(&a, &t);
	if (err)
		goto out;
	err = zonetrace_snapshot(t, &snap[0]);
	start = snap[0].ts_ns;
	for (i = 0; !err && more && (!a.count || i < a.count); i++) {
		more = cli_sleep_until(start + (uint64_t)((double)(i + 1) *
					a.interval_s * 1e9));
		zonesnap_release(&snap[cur]);
		err = zonetrace_snapshot(t, &snap[cur]);
		if (!err)
			err = zones_print(&a, t, &snap[cur], &snap[!cur]);
		cur = !cur;
	}
	if (err)
		log_err("report zones: %s", strerror(-err));
out:
	zonesnap_release(&snap[0]);
	zonesnap_release(&snap[1]);
	zonetrace_destroy(t);
	return err ? 1 : 0;
}

int cmd_report(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "io"))
		return report_io(argc - 1, argv + 1);
	if (!strcmp(argv[1], "zones"))
		return report_zones(argc - 1, argv + 1);
	fprintf(stderr, "tapestry report: unknown report '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
