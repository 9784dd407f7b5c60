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

/* What the renderers of both reports print (iosnap_print_text(),
 * zonesnap_to_json(), ...). */
struct report_fmt {
	const double *pcts;		/* percentiles, e.g. 50, 90, 99, 99.9 */
	unsigned int npcts;
	double interval_s;		/* length of the diffed interval */
	const char *source;		/* "pinned", "tp_btf", "raw_tp" */
	unsigned int hist_width;	/* text histogram bar width; 0 = none */
};

/* A named count, such as one reason a tracer lost something. */
struct report_count {
	const char *name;
	uint64_t n;
};

/* a - b, or 0 if a counter went backwards (its map was re-created). */
static inline uint64_t report_sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* Room for one more element of size sz in *arr, which holds n of *cap:
 * doubles the array (from 8) when full.  0, or -ENOMEM with *arr and *cap
 * unchanged. */
int report_grow(void **arr, size_t n, size_t *cap, size_t sz);

/* "  <what>   p50   p90 ... max" with each percentile's name. */
void report_pct_header(FILE *f, const char *what, const double *pcts,
		       unsigned int npcts);
/* "  <label> <p50> <p90> ... <max>" in microseconds. */
void report_pct_row(FILE *f, const char *label, const struct hist *h,
		    const double *pcts, unsigned int npcts);

/* Add a u64 member (with hist_json_add(), which the renderers use for the
 * rest).  0 or -ENOMEM. */
int report_json_u64(struct json_object *o, const char *key, uint64_t v);
/* A JSON string of s, which need not be UTF-8 (a process name is any
 * bytes): each byte that does not belong to a valid UTF-8 sequence
 * becomes U+FFFD, so that strict parsers accept the output.  NULL when out
 * of memory. */
struct json_object *report_json_string(const char *s);
/* A double that prints with the given number of decimals. */
struct json_object *report_json_fixed(double v, int decimals);

/* A new report object: {"interval_s":..., "source":...}, which the caller
 * fills in and owns.  NULL when out of memory. */
struct json_object *report_json_new(const struct report_fmt *fmt);

/* Add {"<name>":n, ...} under key.  0 or -ENOMEM. */
int report_json_counts(struct json_object *o, const char *key,
		       const struct report_count *c, unsigned int n);

/* A Prometheus counter family with one series per count, labelled
 * reason="<name>".  0 or -EIO. */
int report_prom_counts(FILE *f, const char *family, const char *help,
		       const struct report_count *c, unsigned int n);

/* Print one JSON object as a single line (NDJSON: one per interval).
 * Returns 0 or -EIO. */
int report_json_print(FILE *f, struct json_object *o);

#endif /* TAPESTRY_REPORT_H */
