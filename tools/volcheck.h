/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volcheck: self-describing data for `tapestry bench-volume --verify`, the
 * log of issued and acked writes, and the checker that reads a volume (or
 * a replica image) back against that log.
 *
 * Every 4 KiB block written in verify mode starts with a magic, the write
 * id and its own block number, then a pseudo-random stream seeded by both,
 * so a block read back names the write it came from and shows whether it
 * is whole.  The log holds one fixed-size record per event, appended with
 * write(2) before the event counts: an ISSUE before the write is handed to
 * the engine, an ACK (or FAIL) in its done() before it is counted.  A
 * SIGKILL of the writer therefore never loses an ack that was counted.
 */
#ifndef TAPESTRY_VOLCHECK_H
#define TAPESTRY_VOLCHECK_H

#include <stdbool.h>
#include <stdint.h>

#define VC_BLOCK	4096U

enum { VC_ISSUE = 1, VC_ACK = 2, VC_FAIL = 3 };

struct vc_rec {
	uint32_t type;
	uint32_t len;
	uint64_t off;
	uint64_t id;
	uint64_t t_ns;		/* CLOCK_REALTIME */
};

/* Fill len bytes (a multiple of VC_BLOCK) for write id at byte off. */
void vc_fill(void *buf, uint64_t off, uint32_t len, uint64_t id);

/* The write id a block holds: 0 if it has no pattern (never written),
 * UINT64_MAX if it has one that is torn or belongs to another block. */
uint64_t vc_block_id(const void *block, uint64_t off);

/* The checker: load a log, then test blocks read back from anywhere. */
struct vc_check;

/* Returns 0 or -errno; prints what is wrong with the log on stderr.
 * Writes that failed (FAIL) and were issued at or after strict_after_ns
 * (CLOCK_REALTIME; 0 = never) are not allowed anywhere: they were refused
 * before any replica could take them. */
int vc_check_load(const char *log_path, uint64_t size,
		  uint64_t strict_after_ns, struct vc_check **out);
void vc_check_free(struct vc_check *c);
/* Whether the block at off (VC_BLOCK bytes) may hold what it holds: the
 * last acked write to it, or a write issued after that one that was never
 * acked (in flight at a crash, or failed).  Counts and, for the first few,
 * prints the blocks that may not. */
bool vc_check_block(struct vc_check *c, const void *block, uint64_t off);
uint64_t vc_check_bad(const struct vc_check *c);
uint64_t vc_check_acked_blocks(const struct vc_check *c);
/* Check the volume's blocks of a raw image file; the first few bad blocks
 * of each file are printed under its path.  Bytes past the volume's end
 * are not read, so an image longer than the volume is checked as well.
 * Returns bad blocks, or -errno: -ENODATA if the file is shorter than the
 * volume. */
int64_t vc_check_file(struct vc_check *c, const char *path);

/* What a log says about a time window [from_ns, to_ns] (CLOCK_REALTIME). */
struct vc_window {
	uint64_t acks, fails;		/* answered inside the window */
	uint64_t first_ack_ns;		/* first ack of a write issued at or
					 * after from_ns; 0 if none */
	uint64_t regions;		/* distinct regions of writes out at
					 * some time in the window */
};

/* Scan a log for a window.  region_size is a power of two.  Returns 0 or
 * -errno. */
int vc_log_window(const char *log_path, uint64_t size, uint32_t region_size,
		  uint64_t from_ns, uint64_t to_ns, struct vc_window *out);

#endif /* TAPESTRY_VOLCHECK_H */
