/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli: small things the tracer's subcommands share: stopping cleanly on
 * SIGINT/SIGTERM and sleeping in step with a clock.
 */
#ifndef TAPESTRY_CLI_H
#define TAPESTRY_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

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

#endif /* TAPESTRY_CLI_H */
