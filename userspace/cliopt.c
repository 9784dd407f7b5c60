/* SPDX-License-Identifier: Apache-2.0 */
#include "cliopt.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
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

int cliopt_bad_option(int c, char **argv, char *err, size_t len)
{
	if (c == ':')
		return cliopt_fail(err, len, "option '%s' needs a value",
				   argv[optind - 1]);
	return cliopt_fail(err, len, "unknown option '%s'", argv[optind - 1]);
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
