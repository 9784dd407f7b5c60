/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log: one line per message on stderr, "prog: level: text".
 *
 * Log an error once, where it is handled; lower layers return -errno and
 * let their caller decide whether it is worth a line.
 */
#ifndef TAPESTRY_LOG_H
#define TAPESTRY_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_ERR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* Set the program name printed before each line; the string is borrowed
 * and must outlive all logging. */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Prefix each line with a monotonic timestamp (for daemons). */
void log_set_timestamps(bool on);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* TAPESTRY_LOG_H */
