/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volume: `tapestryd volume`, one replicated volume served over NBD.
 * Opens (or creates) the volume's replicas through the engine, serves it
 * with the NBD frontend until SIGTERM or SIGINT, then stops cleanly:
 * refuse new work, finish what is in flight, flush, disconnect, exit 0.
 */
#ifndef TAPESTRY_VOLUME_H
#define TAPESTRY_VOLUME_H

/* The role's entry point: argv[0] is "volume".  Returns the exit status:
 * 0 after a clean stop, 1 on failure, 2 on bad usage. */
int volume_main(int argc, char **argv);

#endif /* TAPESTRY_VOLUME_H */
