/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tapestry CLI's subcommands.  Each takes the arguments after its own
 * name (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 failure, 2 bad usage (usage printed on stderr).
 */
#ifndef TAPESTRY_COMMANDS_H
#define TAPESTRY_COMMANDS_H

#define EXIT_USAGE 2

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* --- tracer --- */
int cmd_report(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_zone(int argc, char **argv);

/* --- placer --- */
int cmd_place(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_simulate(int argc, char **argv);

/* --- engine --- */
int cmd_bench_volume(int argc, char **argv);

#endif /* TAPESTRY_COMMANDS_H */
