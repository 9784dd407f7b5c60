/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "tapestry";
static enum log_level log_level = LOG_INFO;
static bool log_ts;

static const char *const level_names[] = {
	[LOG_ERR] = "error",
	[LOG_WARN] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_init(const char *prog, enum log_level level)
{
	const char *slash;

	if (prog) {
		slash = strrchr(prog, '/');
		log_prog = slash ? slash + 1 : prog;
	}
	log_level = level;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_set_timestamps(bool on)
{
	log_ts = on;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	va_list ap;
	int n = 0;

	if (level > log_level)
		return;
	/* Build the whole line first so concurrent writers don't interleave. */
	if (log_ts) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		n = snprintf(line, sizeof(line), "[%5ld.%06ld] ",
			     (long)ts.tv_sec, ts.tv_nsec / 1000);
	}
	n += snprintf(line + n, sizeof(line) - n, "%s: %s: ", log_prog,
		      level_names[level]);
	va_start(ap, fmt);
	if (n < (int)sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}
