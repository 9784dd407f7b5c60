/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report: what `tapestry report io` and `tapestry report zones` share:
 * their command-line options and the pieces of text and JSON output that
 * both print.  Parsing is here, not in the tool, so that unit tests can
 * throw bad flags at it.
 */
#ifndef TAPESTRY_REPORT_H
#define TAPESTRY_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"

struct json_object;

#define REPORT_MAX_DEVICES 32

enum report_kind {
	REPORT_IO,
	REPORT_ZONES,
};

enum report_format {
	REPORT_TEXT,
	REPORT_JSON,
	REPORT_PROM,
};

struct report_args {
	enum report_kind kind;
	enum report_format format;
	const char *devices[REPORT_MAX_DEVICES];	/* io only */
	unsigned int ndevices;
	double interval_s;		/* > 0; default 1 */
	unsigned long count;		/* reports to print; 0 = until ^C */
	double pcts[HIST_MAX_PCTS];	/* default 50, 90, 99, 99.9 */
	unsigned int npcts;
	bool no_hist;			/* text: leave out the histograms */
	const char *pin_root;		/* default BPFSYS_PIN_ROOT */
	const char *btf_path;		/* NULL: the kernel's own */
	const char *attach;		/* "auto", "tp_btf", "raw_tp" */
	bool verbose;
};

/* Parse argv[1..argc) (argv[0] is the report's name) into a, after
 * filling in the defaults.  Returns 0, 1 when --help was asked for (print
 * report_usage() on stdout and exit 0), or -EINVAL with a one-line reason
 * in err.  Strings in a point into argv. */
int report_parse(enum report_kind kind, int argc, char **argv,
		 struct report_args *a, char *err, size_t errlen);

void report_usage(enum report_kind kind, FILE *f);

/* "  <what>   p50   p90 ... max" with each percentile's name. */
void report_pct_header(FILE *f, const char *what, const double *pcts,
		       unsigned int npcts);
/* "  <label> <p50> <p90> ... <max>" in microseconds. */
void report_pct_row(FILE *f, const char *label, const struct hist *h,
		    const double *pcts, unsigned int npcts);

/* Add v under key, taking v (NULL v is -ENOMEM).  0 or -ENOMEM; v is freed
 * on failure. */
int report_json_add(struct json_object *o, const char *key,
		    struct json_object *v);
int report_json_u64(struct json_object *o, const char *key, uint64_t v);
/* A double that prints with the given number of decimals. */
struct json_object *report_json_fixed(double v, int decimals);

/* Print one JSON object as a single line (NDJSON: one per interval).
 * Returns 0 or -EIO. */
int report_json_print(FILE *f, struct json_object *o);

#endif /* TAPESTRY_REPORT_H */
