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

/* "report io": who asks, in messages. */
static const char *report_name(enum report_kind kind)
{
	return kind == REPORT_IO ? "report io" : "report zones";
}

/* Parse (or print usage) and check that we may read the tracer's maps.
 * Returns -1 to go on, else the exit status. */
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
	if (bpfsys_require_caps(report_name(kind), BPFSYS_READ_MAPS))
		return 1;
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
			cli_partition_err("report io", a->devices[i]);
		else if (err)
			log_err("report io: unknown device '%s': no such "
				"block device in /sys/class/block",
				a->devices[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Where a report's figures come from: its tracer (from the pins of a live
 * daemon, or else loaded here) and the two snapshots the report diffs.
 * One of each union, as kind says.  The functions below are the only
 * places that tell the tracers apart; the report loop is run_report(). */
struct source {
	enum report_kind kind;
	union {
		struct blktrace *blk;
		struct zonetrace *zt;
	} t;
	union {
		struct iosnap io;
		struct zonesnap zones;
	} snap[2];
	unsigned int (*devs)[2];	/* report io: a->devices resolved */
	bool loaded;			/* a tracer of its own, not pins */
};

static void source_init(struct source *s, enum report_kind kind,
			unsigned int (*devs)[2])
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->devs = devs;
	if (kind == REPORT_IO) {
		iosnap_init(&s->snap[0].io);
		iosnap_init(&s->snap[1].io);
	} else {
		zonesnap_init(&s->snap[0].zones);
		zonesnap_init(&s->snap[1].zones);
	}
}

static void source_close(struct source *s)
{
	if (s->kind == REPORT_IO) {
		iosnap_release(&s->snap[0].io);
		iosnap_release(&s->snap[1].io);
		blktrace_destroy(s->t.blk);
	} else {
		zonesnap_release(&s->snap[0].zones);
		zonesnap_release(&s->snap[1].zones);
		zonetrace_destroy(s->t.zt);
	}
}

static const char *source_mode(const struct source *s)
{
	return s->kind == REPORT_IO ? blktrace_mode(s->t.blk) :
		zonetrace_mode(s->t.zt);
}

static int open_pinned(struct source *s, const char *root)
{
	if (s->kind == REPORT_IO)
		return blktrace_open_pinned(root, &s->t.blk);
	return zonetrace_open_pinned(root, &s->t.zt);
}

static int load(struct source *s, const struct report_args *a)
{
	struct blktrace_opts bo = { .btf_path = a->btf_path };
	struct zonetrace_opts zo = { .btf_path = a->btf_path };

	if (s->kind == REPORT_IO) {
		bpfsys_attach_parse(a->attach, &bo.attach);
		return blktrace_load(&bo, &s->t.blk);
	}
	bpfsys_attach_parse(a->attach, &zo.attach);
	return zonetrace_load(&zo, a->pin_root, &s->t.zt);
}

/* Open the daemon's pins if a live daemon left them, else load a tracer
 * (a failure to open the pins is warned about, then loading is tried).
 * 0 or -errno, logged here only for missing capabilities. */
static int open_source(const struct report_args *a, struct source *s)
{
	const char *marker = s->kind == REPORT_IO ? BLKTRACE_MAP_STATS :
		ZONETRACE_MAP_STATS;
	int err;

	if (daemon_pins(a->pin_root, marker)) {
		err = open_pinned(s, a->pin_root);
		if (!err)
			return 0;
		log_warn("cannot open the maps pinned under %s (%s); loading "
			 "a tracer for this report instead", a->pin_root,
			 strerror(-err));
	}
	if (bpfsys_require_caps(report_name(s->kind), BPFSYS_LOAD_TRACING))
		return -EPERM;
	err = load(s, a);
	s->loaded = !err;
	return err;
}

/* Replace snapshot i with a new one.  0 or -errno. */
static int take_snapshot(struct source *s, int i)
{
	if (s->kind == REPORT_IO) {
		iosnap_release(&s->snap[i].io);
		return blktrace_snapshot(s->t.blk, &s->snap[i].io);
	}
	zonesnap_release(&s->snap[i].zones);
	return zonetrace_snapshot(s->t.zt, &s->snap[i].zones);
}

static uint64_t snapshot_ns(const struct source *s, int i)
{
	return s->kind == REPORT_IO ? s->snap[i].io.ts_ns :
		s->snap[i].zones.ts_ns;
}

/* A report from a daemon's pins ends with the daemon: the maps it holds
 * open are not updated any more, and it would print zeros (or frozen
 * counters) for ever.  0, or -ESRCH, logged here. */
static int source_live(const struct report_args *a, const struct source *s)
{
	bool live = s->kind == REPORT_IO ? blktrace_live(s->t.blk) :
		zonetrace_live(s->t.zt);

	if (live)
		return 0;
	log_err("%s: the tapestryd whose maps under %s it reads has stopped",
		report_name(s->kind), a->pin_root);
	return -ESRCH;
}

/* Wait for the end of interval i (counted from 0) of a report that began
 * at start.  false once the report has printed its count of intervals or
 * an interrupt cut the last one short (*more then false: that interval
 * still gets printed). */
static bool next_interval(const struct report_args *a, uint64_t start,
			  unsigned long i, bool *more)
{
	if (!*more || (a->count && i >= a->count))
		return false;
	*more = cli_sleep_until(start + (uint64_t)((double)(i + 1) *
					a->interval_s * 1e9));
	return true;
}

/* Print j as the interval's JSON line, taking it; NULL is -ENOMEM. */
static int print_json(struct json_object *j)
{
	int err = j ? report_json_print(stdout, j) : -ENOMEM;

	json_object_put(j);
	return err;
}

/* The first line of an interval's text: "12:00:01  block I/O over 1.000 s
 * (tp_btf)". */
static void print_text_header(const char *what, const struct report_fmt *f)
{
	char when[32];
	time_t wall = time(NULL);

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&wall));
	printf("%s  %s over %.3f s (%s)\n", when, what, f->interval_s,
	       f->source);
}

/* d is the interval's diff, or for Prometheus the cumulative snapshot
 * (counters never go down). */
static int io_print(const struct report_args *a, const struct source *s,
		    struct iosnap *d, const struct report_fmt *fmt)
{
	iosnap_filter(d, (const unsigned int (*)[2])s->devs, a->ndevices);
	iosnap_name_devices(d, "/sys");
	if (a->format == REPORT_PROM)
		return iosnap_print_prom(stdout, d);
	if (a->format == REPORT_JSON)
		return print_json(iosnap_to_json(d, fmt));
	print_text_header("block I/O", fmt);
	return iosnap_print_text(stdout, d, fmt);
}

/* arg: the registry's names map from zonetrace_names_open(). */
static int namer(unsigned int id, char *buf, size_t len, void *arg)
{
	return zonetrace_names_get(*(const int *)arg, id, buf, len);
}

static int zones_print(const struct report_args *a, struct zonesnap *d,
		       const struct report_fmt *fmt)
{
	int fd = zonetrace_names_open(a->pin_root);

	/* Without the registry every zone is named by its id. */
	zonesnap_name_zones(d, fd >= 0 ? namer : NULL, &fd);
	if (fd >= 0)
		close(fd);
	if (a->format == REPORT_PROM)
		return zonesnap_print_prom(stdout, d);
	if (a->format == REPORT_JSON)
		return print_json(zonesnap_to_json(d, fmt));
	print_text_header("replica requests", fmt);
	return zonesnap_print_text(stdout, d, fmt);
}

/* Print the interval that snapshot cur ends, in a's format.  0 or -errno. */
static int print_interval(const struct report_args *a, struct source *s,
			  int cur)
{
	const bool prom = a->format == REPORT_PROM;
	struct report_fmt fmt = {
		.pcts = a->pcts,
		.npcts = a->npcts,
		.interval_s = (double)(snapshot_ns(s, cur) -
				       snapshot_ns(s, !cur)) / 1e9,
		.source = source_mode(s),
		.hist_width = a->no_hist ? 0 : 40,
	};
	struct iosnap io;
	struct zonesnap zones;
	int err;

	if (s->kind == REPORT_IO) {
		iosnap_init(&io);
		err = prom ? iosnap_copy(&io, &s->snap[cur].io) :
			iosnap_diff(&io, &s->snap[cur].io, &s->snap[!cur].io);
		err = err ?: io_print(a, s, &io, &fmt);
		iosnap_release(&io);
	} else {
		zonesnap_init(&zones);
		err = prom ? zonesnap_copy(&zones, &s->snap[cur].zones) :
			zonesnap_diff(&zones, &s->snap[cur].zones,
				      &s->snap[!cur].zones);
		err = err ?: zones_print(a, &zones, &fmt);
		zonesnap_release(&zones);
	}
	fflush(stdout);
	return err;
}

/* The report: a snapshot at the start, then one per interval, each
 * printed against the one before.  The exit status. */
static int run_report(const struct report_args *a, unsigned int (*devs)[2])
{
	struct source s;
	uint64_t start;
	unsigned long i;
	bool more = true;
	int err, cur = 1;

	cli_catch_stop();
	source_init(&s, a->kind, devs);
	err = open_source(a, &s);
	if (err)
		goto out;
	err = take_snapshot(&s, 0);
	/* Said only once the first snapshot is taken: what a workload
	 * started on seeing it does all falls inside the report. */
	if (!err && s.loaded)
		fprintf(stderr, "tapestry: tracing %s (%s); ^C ends the "
			"interval early\n", s.kind == REPORT_IO ?
			"block I/O" : "replica requests", source_mode(&s));
	start = snapshot_ns(&s, 0);
	for (i = 0; !err && next_interval(a, start, i, &more); i++) {
		err = take_snapshot(&s, cur);
		err = err ?: print_interval(a, &s, cur);
		err = err ?: source_live(a, &s);
		cur = !cur;
	}
	if (err && err != -ESRCH)
		log_err("%s: %s", report_name(s.kind), strerror(-err));
out:
	source_close(&s);
	return err ? 1 : 0;
}

static int report_io(int argc, char **argv)
{
	unsigned int devs[REPORT_MAX_DEVICES][2];
	struct report_args a;
	int rc;

	rc = parse(REPORT_IO, argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (resolve_devices(&a, devs))
		return 1;
	return run_report(&a, devs);
}

static int report_zones(int argc, char **argv)
{
	struct report_args a;
	int rc;

	rc = parse(REPORT_ZONES, argc, argv, &a);
	return rc >= 0 ? rc : run_report(&a, NULL);
}

int cmd_report(int argc, char **argv)
{
	static const struct command reports[] = {
		{ "io", report_io, NULL },
		{ "zones", report_zones, NULL },
	};

	return cli_dispatch("report", "report", reports,
			    sizeof(reports) / sizeof(reports[0]), usage, argc,
			    argv);
}
