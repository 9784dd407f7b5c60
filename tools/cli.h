/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli: small things the tracer's subcommands share: picking a
 * sub-subcommand, stopping cleanly on SIGINT/SIGTERM and sleeping in step
 * with a clock.
 */
#ifndef TAPESTRY_CLI_H
#define TAPESTRY_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct command;

/* `tapestry <cmd> <name> ...`: run the one of subs[0..n) called argv[1]
 * with argv + 1, and return its status.  Without a name: usage(stderr) and
 * EXIT_USAGE; -h or --help: usage(stdout) and 0; any other name: "tapestry
 * <cmd>: unknown <what> '<name>'", usage(stderr) and EXIT_USAGE. */
int cli_dispatch(const char *cmd, const char *what,
		 const struct command *subs, unsigned int n,
		 void (*usage)(FILE *f), int argc, char **argv);

/* Set by SIGINT and SIGTERM once cli_catch_stop() has run. */
extern volatile sig_atomic_t cli_stop;

/* Route SIGINT and SIGTERM to cli_stop, without SA_RESTART so that sleeps
 * and polls return early. */
void cli_catch_stop(void);

/* CLOCK_MONOTONIC ns. */
uint64_t cli_now_ns(void);

/* Sleep until deadline (CLOCK_MONOTONIC ns) or until cli_stop is set.
 * Returns true if the deadline was reached. */
bool cli_sleep_until(uint64_t deadline);

/* Log why --device part, a partition, is refused: the tracer sees a
 * partition's I/O on its whole disk only; names the disk to use when
 * sysfs tells it.  who prefixes the message ("trace slow"). */
void cli_partition_err(const char *who, const char *part);

#endif /* TAPESTRY_CLI_H */
