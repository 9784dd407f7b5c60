/* SPDX-License-Identifier: Apache-2.0 */
#include "report.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpfsys.h"
#include "cliopt.h"

static const double default_pcts[] = { 50, 90, 99, 99.9 };

enum {
	OPT_JSON = 256,
	OPT_PROM,
	OPT_NO_HIST,
	OPT_PIN_ROOT,
	OPT_BTF,
	OPT_ATTACH,
};

static const struct option long_opts[] = {
	{ "device", required_argument, NULL, 'd' },
	{ "interval", required_argument, NULL, 'i' },
	{ "count", required_argument, NULL, 'c' },
	{ "percentiles", required_argument, NULL, 'p' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "prometheus", no_argument, NULL, OPT_PROM },
	{ "no-hist", no_argument, NULL, OPT_NO_HIST },
	{ "pin-root", required_argument, NULL, OPT_PIN_ROOT },
	{ "btf", required_argument, NULL, OPT_BTF },
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void report_usage(enum report_kind kind, FILE *f)
{
	if (kind == REPORT_IO)
		fprintf(f,
"usage: tapestry report io [--device NAME]... [--interval SEC] [--count N]\n"
"                          [--json | --prometheus] [--percentiles LIST]\n"
"\n"
"Block-I/O latency per device and operation: count, IOPS, bytes, MB/s,\n"
"errors, and percentiles of queue (insert to issue), service (issue to\n"
"completion) and total time, with a histogram of the total.\n"
"\n");
	else
		fprintf(f,
"usage: tapestry report zones [--interval SEC] [--count N]\n"
"                             [--json | --prometheus] [--percentiles LIST]\n"
"\n"
"Replica-request latency per availability zone and operation, as the\n"
"engine's tagged io_uring requests show it, and TCP round-trip time to\n"
"each zone's replica servers.\n"
"\n");
	if (kind == REPORT_IO)
		fprintf(f,
"  -d, --device NAME      only this disk (loop0, /dev/nvme0n1, a link to\n"
"                         one such as /dev/disk/by-id/...); repeatable\n");
	fprintf(f,
"  -i, --interval SEC     length of each report (default 1; 0.001 to 86400)\n"
"  -c, --count N          reports to print, 0 = until interrupted (default 1)\n"
"  -p, --percentiles LIST percentiles to show (default 50,90,99,99.9)\n"
"      --json             one JSON object per report, one per line\n"
"      --prometheus       one Prometheus text exposition of the cumulative\n"
"                         counters (since the tracer was loaded), at the\n"
"                         end of the interval; --count must be 1\n"
"      --no-hist          text: leave out the histograms\n"
"      --pin-root DIR     where tapestryd pins its maps (default %s)\n"
"      --btf FILE         BTF for a kernel without /sys/kernel/btf/vmlinux\n"
"      --attach MODE      auto, tp_btf or raw_tp (default auto)\n"
"  -v, --verbose          show libbpf's messages\n"
"  -h, --help             this text\n"
"\n"
"With tapestryd running it reads the maps pinned under --pin-root (and\n"
"ends, exit 1, if that tapestryd stops); otherwise it loads the tracer\n"
"itself for the length of the report.\n"
"An interrupt (^C) ends the current interval early and prints it.\n"
"Needs CAP_BPF and CAP_PERFMON (or root).\n", BPFSYS_PIN_ROOT);
}

static int parse_interval(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < 0.001 ||
	    v > 86400)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_count(const char *s, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Each percentile becomes a column and a JSON key named by
 * hist_pct_name(): refuse a list in which two get the same name (JSON
 * would keep only the last) or a name that is not the value itself
 * (hist_pct_name() keeps 6 significant digits: 99.99999 reads p100). */
static int check_pct_names(const char *arg, const double *p, unsigned int n,
			   char *err, size_t len)
{
	char name[32], other[32], num[32];
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%.6g", p[i]);
		if (strtod(num, NULL) != p[i] ||
		    hist_pct_name(p[i], name, sizeof(name)))
			return cliopt_fail(err, len, "bad --percentiles '%s': "
					   "%.10g has more than 6 significant "
					   "digits", arg, p[i]);
		for (j = 0; j < i; j++) {
			if (hist_pct_name(p[j], other, sizeof(other)) ||
			    strcmp(name, other))
				continue;
			return cliopt_fail(err, len, "bad --percentiles '%s': "
					   "%g and %g would both be %s", arg,
					   p[j], p[i], name);
		}
	}
	return 0;
}

static void defaults(enum report_kind kind, struct report_args *a)
{
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->format = REPORT_TEXT;
	a->interval_s = 1;
	a->count = 1;
	memcpy(a->pcts, default_pcts, sizeof(default_pcts));
	a->npcts = sizeof(default_pcts) / sizeof(default_pcts[0]);
	a->pin_root = BPFSYS_PIN_ROOT;
	a->attach = "auto";
}

static int set_format(struct report_args *a, enum report_format fmt,
		      char *err, size_t len)
{
	if (a->format != REPORT_TEXT && a->format != fmt)
		return cliopt_fail(err, len, "--json and --prometheus "
				   "exclude each other");
	a->format = fmt;
	return 0;
}

int report_parse(enum report_kind kind, int argc, char **argv,
		 struct report_args *a, char *err, size_t errlen)
{
	int c, n;

	defaults(kind, a);
	optind = 0;	/* GNU: rescan from the start on every call */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:d:i:c:p:vh", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'd':
			if (kind != REPORT_IO)
				return cliopt_fail(err, errlen, "--device is "
						   "for report io");
			if (a->ndevices == REPORT_MAX_DEVICES)
				return cliopt_fail(err, errlen, "at most %d "
						   "--device",
						   REPORT_MAX_DEVICES);
			a->devices[a->ndevices++] = optarg;
			break;
		case 'i':
			if (parse_interval(optarg, &a->interval_s))
				return cliopt_fail(err, errlen, "bad "
						   "--interval '%s': seconds, "
						   "0.001 to 86400", optarg);
			break;
		case 'c':
			if (parse_count(optarg, &a->count))
				return cliopt_fail(err, errlen, "bad --count "
						   "'%s'", optarg);
			break;
		case 'p':
			n = hist_parse_percentiles(optarg, a->pcts,
						   HIST_MAX_PCTS);
			if (n < 0)
				return cliopt_fail(err, errlen, "bad "
						   "--percentiles '%s': up to "
						   "%d values in (0, 100], "
						   "comma-separated", optarg,
						   HIST_MAX_PCTS);
			if (check_pct_names(optarg, a->pcts, (unsigned int)n,
					    err, errlen))
				return -EINVAL;
			a->npcts = (unsigned int)n;
			break;
		case OPT_JSON:
		case OPT_PROM:
			if (set_format(a, c == OPT_JSON ? REPORT_JSON :
				       REPORT_PROM, err, errlen))
				return -EINVAL;
			break;
		case OPT_NO_HIST:
			a->no_hist = true;
			break;
		case OPT_PIN_ROOT:
			if (cliopt_pin_root(optarg, &a->pin_root, err, errlen))
				return -EINVAL;
			break;
		case OPT_BTF:
			a->btf_path = optarg;
			break;
		case OPT_ATTACH:
			if (cliopt_attach(optarg, &a->attach, err, errlen))
				return -EINVAL;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			return 1;
		default:
			return cliopt_bad_option(c, argv, err, errlen);
		}
	}
	/* An exposition is one snapshot of cumulative counters: N of them
	 * back to back repeat every HELP and TYPE, which neither promtool
	 * nor a scraper or textfile collector accepts. */
	if (a->format == REPORT_PROM && a->count != 1)
		return cliopt_fail(err, errlen, "--prometheus prints one "
				   "exposition (cumulative counters): use "
				   "--count 1 and run it again for the next");
	return cliopt_no_operands(argc, argv, err, errlen);
}

void report_pct_header(FILE *f, const char *what, const double *pcts,
		       unsigned int npcts)
{
	char name[32];
	unsigned int i;

	fprintf(f, "  %-8s", what);
	for (i = 0; i < npcts; i++) {
		if (hist_pct_name(pcts[i], name, sizeof(name)))
			snprintf(name, sizeof(name), "p?");
		fprintf(f, " %11s", name);
	}
	fprintf(f, " %11s\n", "max");
}

void report_pct_row(FILE *f, const char *label, const struct hist *h,
		    const double *pcts, unsigned int npcts)
{
	unsigned int i;

	fprintf(f, "  %-8s", label);
	for (i = 0; i < npcts; i++)
		fprintf(f, " %11.3f", hist_percentile(h, pcts[i]) / 1000.0);
	fprintf(f, " %11.3f\n", (double)h->max_ns / 1000.0);
}

int report_grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	size_t c;
	void *p;

	if (n < *cap)
		return 0;
	c = *cap ? 2 * *cap : 8;
	p = realloc(*arr, c * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

int report_json_u64(struct json_object *o, const char *key, uint64_t v)
{
	return hist_json_add(o, key, json_object_new_uint64(v));
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

struct json_object *report_json_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct json_object *o;
	size_t len = strlen(s), i = 0, j = 0, n;
	char *out;

	/* Each bad byte grows to three. */
	out = malloc(3 * len + 1);
	if (!out)
		return NULL;
	while (i < len) {
		n = utf8_len(p + i);
		if (n) {
			memcpy(out + j, p + i, n);
			j += n;
			i += n;
		} else {
			memcpy(out + j, "\xef\xbf\xbd", 3);
			j += 3;
			i++;
		}
	}
	out[j] = '\0';
	o = json_object_new_string_len(out, (int)j);
	free(out);
	return o;
}

struct json_object *report_json_fixed(double v, int decimals)
{
	char s[64];

	snprintf(s, sizeof(s), "%.*f", decimals, v);
	return json_object_new_double_s(v, s);
}

struct json_object *report_json_new(const struct report_fmt *fmt)
{
	struct json_object *o;
	int err;

	o = json_object_new_object();
	if (!o)
		return NULL;
	err = hist_json_add(o, "interval_s",
			    report_json_fixed(fmt->interval_s, 3));
	err = err ?: hist_json_add(o, "source",
			json_object_new_string(fmt->source ? fmt->source : ""));
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int report_json_counts(struct json_object *o, const char *key,
		       const struct report_count *c, unsigned int n)
{
	struct json_object *v = json_object_new_object();
	unsigned int i;
	int err = 0;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < n && !err; i++)
		err = report_json_u64(v, c[i].name, c[i].n);
	if (err) {
		json_object_put(v);
		return err;
	}
	return hist_json_add(o, key, v);
}

int report_prom_counts(FILE *f, const char *family, const char *help,
		       const struct report_count *c, unsigned int n)
{
	unsigned int i;

	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", family, help, family);
	for (i = 0; i < n; i++)
		fprintf(f, "%s{reason=\"%s\"} %llu\n", family, c[i].name,
			(unsigned long long)c[i].n);
	return ferror(f) ? -EIO : 0;
}

int report_json_print(FILE *f, struct json_object *o)
{
	const char *s;

	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (!s)
		return -ENOMEM;
	fprintf(f, "%s\n", s);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
