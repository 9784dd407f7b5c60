/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cliopt: what the tracer's option parsers (report_parse(), node_parse(),
 * trace slow's) say about bad options, in the same words.  Each helper
 * writes a one-line reason into the caller's buffer and returns -EINVAL;
 * the caller prints it with its usage and exits 2.
 */
#ifndef TAPESTRY_CLIOPT_H
#define TAPESTRY_CLIOPT_H

#include <stddef.h>

/* Format the reason into err (len bytes, truncated to fit) and return
 * -EINVAL. */
int cliopt_fail(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* What getopt_long() (run with opterr = 0 and a leading ':' in its
 * optstring) meant by returning c, ':' or '?': "option '-x' needs a value"
 * or "unknown option '-x'".  A short option is named by its letter, also
 * inside a cluster ("-vx"); a long one as argv[optind - 1] has it.  argv
 * must end in NULL, as main()'s does.  Returns -EINVAL. */
int cliopt_bad_option(int c, char **argv, char *err, size_t len);

/* After getopt_long(): -EINVAL with "unexpected argument 'x'" if any
 * operand is left, else 0. */
int cliopt_no_operands(int argc, char **argv, char *err, size_t len);

/* --pin-root DIR: *out = arg if absolute; else -EINVAL, *out unchanged,
 * and the reason, which names arg. */
int cliopt_pin_root(const char *arg, const char **out, char *err,
		    size_t len);

/* --attach MODE: *out = arg if it is auto, tp_btf or raw_tp (what
 * bpfsys_attach_parse() takes); else -EINVAL, *out unchanged, and the
 * reason. */
int cliopt_attach(const char *arg, const char **out, char *err, size_t len);

#endif /* TAPESTRY_CLIOPT_H */
