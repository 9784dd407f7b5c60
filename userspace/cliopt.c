/* SPDX-License-Identifier: Apache-2.0 */
#include "cliopt.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int cliopt_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool in_cluster(const char *arg, int letter)
{
	return arg && arg[0] == '-' && arg[1] && arg[1] != '-' &&
	       strchr(arg + 1, letter);
}

int cliopt_bad_option(int c, char **argv, char *err, size_t len)
{
	const char *what = argv[optind - 1];
	char letter[3];

	/* A short option's letter is in optopt.  getopt_long() leaves optind
	 * on a cluster ("-xv") until it has read its last letter, so the
	 * cluster is argv[optind - 1] or argv[optind] (argv ends in NULL),
	 * and argv[optind - 1] alone could name the argument before it. */
	if (optopt > 0 && optopt < 128 && isgraph(optopt) &&
	    (in_cluster(argv[optind - 1], optopt) ||
	     in_cluster(argv[optind], optopt))) {
		snprintf(letter, sizeof(letter), "-%c", optopt);
		what = letter;
	}
	if (c == ':')
		return cliopt_fail(err, len, "option '%s' needs a value",
				   what);
	return cliopt_fail(err, len, "unknown option '%s'", what);
}

int cliopt_no_operands(int argc, char **argv, char *err, size_t len)
{
	if (optind < argc)
		return cliopt_fail(err, len, "unexpected argument '%s'",
				   argv[optind]);
	return 0;
}

int cliopt_pin_root(const char *arg, const char **out, char *err,
		    size_t len)
{
	if (arg[0] != '/')
		return cliopt_fail(err, len, "--pin-root must be an absolute "
				   "path, not '%s'", arg);
	*out = arg;
	return 0;
}

int cliopt_attach(const char *arg, const char **out, char *err, size_t len)
{
	if (strcmp(arg, "auto") && strcmp(arg, "tp_btf") &&
	    strcmp(arg, "raw_tp"))
		return cliopt_fail(err, len, "bad --attach '%s': auto, tp_btf "
				   "or raw_tp", arg);
	*out = arg;
	return 0;
}
