/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seqmap: the sequence number of the last write applied to each block of a
 * replica image, kept in a sidecar file mapped MAP_SHARED.
 *
 * Why: replicas under a quorum ack may each miss a different in-flight
 * write when an engine dies.  With the seq of every block, recovery and
 * resync can tell, block by block, which replica holds the newest data, and
 * a resync copy can be applied only where it is newer than what is there
 * ("a copied region never overwrites a newer write").
 *
 * A store into the mapping is in the page cache at once, so it survives a
 * SIGKILL of the process; an fsync of seqmap_fd() makes it durable (on
 * flush).
 * Record a block's seq only after its data write has completed: a crash in
 * between then leaves an older seq on newer data, which errs toward copying
 * more, never toward trusting data that is not there.
 */
#ifndef TAPESTRY_SEQMAP_H
#define TAPESTRY_SEQMAP_H

#include <stdbool.h>
#include <stdint.h>

struct seqmap;

/* Map path, sized for nr_blocks blocks (8 bytes each).  With create, a
 * missing file is made (all zero) and a shorter one is extended; without
 * it, a missing file is -ENOENT and a size mismatch -EINVAL.  Every page
 * of the file is allocated, so that no store into the map can meet a full
 * filesystem (SIGBUS): no room is -ENOSPC.  Returns 0 or -errno; *out is
 * set only on success. */
int seqmap_open(const char *path, uint64_t nr_blocks, bool create,
		struct seqmap **out);
void seqmap_close(struct seqmap *m);

uint64_t seqmap_blocks(const struct seqmap *m);

/* block must be < seqmap_blocks(). */
uint64_t seqmap_get(const struct seqmap *m, uint64_t block);

/* Set blocks [first, first + n) to seq.  The range must be in bounds. */
void seqmap_set(struct seqmap *m, uint64_t first, uint64_t n, uint64_t seq);

/* Largest seq over blocks [first, first + n). */
uint64_t seqmap_max(const struct seqmap *m, uint64_t first, uint64_t n);

/* msync the mapping (blocking: for startup and shutdown).  Returns 0 or
 * -errno. */
int seqmap_sync(struct seqmap *m);

/* The file, open for as long as the map is: an fsync of it (e.g.
 * IORING_OP_FSYNC, which does not block the caller) makes the stores
 * durable just as msync does. */
int seqmap_fd(const struct seqmap *m);

#endif /* TAPESTRY_SEQMAP_H */
