/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dirtymap: a persistent bitmap of fixed-size regions of a volume (64 KiB
 * in the engine), kept in a file mapped MAP_SHARED.
 *
 * The engine keeps two kinds: one per replica, of the regions that replica
 * missed while degraded (what resync must copy), and one per volume, the
 * activity log, of the regions that may have writes in flight (what crash
 * recovery must reconcile).  A bit set with dirtymap_set() is in the page
 * cache as soon as the call returns, so it survives a SIGKILL of the
 * process.  To make it durable against a machine crash, fsync the file
 * (dirtymap_fd(): an fsync, e.g. IORING_OP_FSYNC, writes back the stores
 * made through the shared mapping just as msync does) or call
 * dirtymap_sync(), which blocks.  dirtymap_version() tells a caller that
 * syncs asynchronously whether anything changed since its last sync.
 *
 * File layout: a 4096-byte header (magic, version, region size, region
 * count, the caller's flags), then one bit per region, little-endian
 * 64-bit words.
 */
#ifndef TAPESTRY_DIRTYMAP_H
#define TAPESTRY_DIRTYMAP_H

#include <stdbool.h>
#include <stdint.h>

struct dirtymap;

#define DIRTYMAP_NONE UINT64_MAX

/* Map path for nr_regions regions of region_size bytes (a power of two).
 * With create, a missing file is made with every bit clear; an existing
 * file must have been made with the same geometry, else -EINVAL (a
 * volume's map is never silently reinterpreted).  Without create a missing
 * file is -ENOENT.  Every page of the file is allocated, so that no store
 * into the map can meet a full filesystem (SIGBUS): no room is -ENOSPC.
 * Returns 0 or -errno; *out is set only on success. */
int dirtymap_open(const char *path, uint64_t nr_regions, uint32_t region_size,
		  bool create, struct dirtymap **out);
void dirtymap_close(struct dirtymap *m);

uint64_t dirtymap_regions(const struct dirtymap *m);
uint32_t dirtymap_region_size(const struct dirtymap *m);
/* Number of set bits, kept up to date by set/clear. */
uint64_t dirtymap_count(const struct dirtymap *m);

/* Set the bits of every region that [off, off + len) touches; the range is
 * clipped to the map.  Returns how many bits were newly set. */
uint64_t dirtymap_set_range(struct dirtymap *m, uint64_t off, uint64_t len);
bool dirtymap_test(const struct dirtymap *m, uint64_t region);
/* Whether any region [off, off + len) touches is set. */
bool dirtymap_test_range(const struct dirtymap *m, uint64_t off, uint64_t len);
void dirtymap_set(struct dirtymap *m, uint64_t region);
void dirtymap_clear(struct dirtymap *m, uint64_t region);
void dirtymap_clear_all(struct dirtymap *m);
/* dst |= src; both must have the same geometry.  Returns bits newly set. */
uint64_t dirtymap_merge(struct dirtymap *dst, const struct dirtymap *src);

/* The first set region >= from, or DIRTYMAP_NONE. */
uint64_t dirtymap_next(const struct dirtymap *m, uint64_t from);

/* msync the mapping if anything changed since the last sync (blocking:
 * for startup and shutdown).  Returns 0 or -errno. */
int dirtymap_sync(struct dirtymap *m);

/* The file, open for as long as the map is (for an asynchronous fsync). */
int dirtymap_fd(const struct dirtymap *m);
/* An fsync of dirtymap_fd() begun at version v has completed: a later
 * dirtymap_sync() has nothing to do unless the map changed since. */
void dirtymap_synced(struct dirtymap *m, uint64_t v);
/* A number that grows with every change to the bits or the flags. */
uint64_t dirtymap_version(const struct dirtymap *m);

/* 32 bits kept in the header for the caller (0 in a new file). */
uint32_t dirtymap_flags(const struct dirtymap *m);
void dirtymap_set_flags(struct dirtymap *m, uint32_t flags);

/* Raw access to the bits, 64 regions per word (bit r % 64 of word r / 64),
 * for set algebra across maps of the same geometry. */
uint64_t dirtymap_nr_words(const struct dirtymap *m);
const uint64_t *dirtymap_words(const struct dirtymap *m);

#endif /* TAPESTRY_DIRTYMAP_H */
