/* SPDX-License-Identifier: Apache-2.0 */
/*
 * blktrace: loader and reader of the block-I/O latency tracer
 * (bpf/blktrace.bpf.c).  Two ways in:
 *
 *   blktrace_load()         load and attach the programs in this process;
 *                           blktrace_pin() then shares the maps (tapestryd)
 *   blktrace_open_pinned()  read the maps a running tapestryd pinned
 *
 * Either way the handle reads cumulative snapshots (blktrace_snapshot),
 * sets the slow-I/O threshold, and hands out the event ring.
 */
#ifndef TAPESTRY_BLKTRACE_H
#define TAPESTRY_BLKTRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "abi/blktrace.h"
#include "bpfsys.h"

struct blktrace;
struct iosnap;

/* Names of the maps blktrace_pin() creates under its directory. */
#define BLKTRACE_MAP_STATS	"blk_stats"
#define BLKTRACE_MAP_COUNTERS	"blk_counters"
#define BLKTRACE_MAP_CONFIG	"blk_config"
#define BLKTRACE_MAP_EVENTS	"blk_events"
#define BLKTRACE_MAP_READERS	"blk_readers"

struct blktrace_opts {
	const char *btf_path;	/* kernel types; NULL = the kernel's own */
	enum bpfsys_attach attach;
	uint64_t slow_ns;	/* slow-I/O event threshold; 0 = none */
};

/* Load the programs and attach them.  Logs what went wrong, once, and
 * returns -ENOENT when there is no BTF for the kernel, -EINVAL when
 * btf_path is not BTF, -EOPNOTSUPP when tp_btf was asked for and the kernel
 * cannot attach it, or the -errno of the load or attach.  Nothing is pinned
 * and nothing stays attached on failure.  *out only on success. */
int blktrace_load(const struct blktrace_opts *o, struct blktrace **out);

/* Open the maps pinned under dir by a running tapestryd.  -ENOENT when
 * they are not all there (no daemon, or one starting or stopping).  The
 * caller checks liveness first (bpfsys/node lock); see node.h. */
int blktrace_open_pinned(const char *dir, struct blktrace **out);

/* Pin the maps of a loaded tracer under dir (created on bpffs if needed),
 * all or nothing; blk_stats goes last, so a reader that finds it finds
 * the rest.  -EEXIST if any is pinned already, -EXDEV if dir is not on
 * bpffs, -EINVAL for a tracer opened from pins. */
int blktrace_pin(struct blktrace *t, const char *dir);

/* Remove the pins blktrace_pin() made (blk_stats first), and dir if
 * blktrace_pin() created it and it is now empty.  No-op if not pinned. */
void blktrace_unpin(struct blktrace *t);

/* Unpins (if pinned), detaches, closes.  Accepts NULL. */
void blktrace_destroy(struct blktrace *t);

/* "tp_btf" or "raw_tp" for a loaded tracer, "pinned" for one opened from
 * pins. */
const char *blktrace_mode(const struct blktrace *t);

/* false for a tracer opened from the pins of a tapestryd that has stopped
 * since (bpfsys_pin_live()): its maps no longer change.  true for one
 * loaded here. */
bool blktrace_live(const struct blktrace *t);

/* Add the cumulative per-(device, op) statistics, summed over CPUs, and
 * the counters to snap (which the caller initialised).  Returns 0 or
 * -errno (snap may then hold part of the rows). */
int blktrace_snapshot(struct blktrace *t, struct iosnap *snap);

/* The slow-I/O threshold in force (0: no events). */
int blktrace_get_slow_ns(struct blktrace *t, uint64_t *ns);
/* Set the node's own threshold; the one in force is the lowest of it and
 * the registered readers' (below).  0 or -errno. */
int blktrace_set_slow_ns(struct blktrace *t, uint64_t ns);

/* Register this process as a reader of a tracer opened from pins that
 * needs events at ns (> 0) or above: the threshold in force is at most
 * ns until blktrace_slow_unregister() or blktrace_destroy(), whichever
 * other readers come and go meanwhile.  -EINVAL for a loaded tracer or a
 * second registration, -ENOSPC when BLK_MAX_READERS are registered, or
 * -errno; nothing is registered then. */
int blktrace_slow_register(struct blktrace *t, uint64_t ns);
/* While registered, call at least once a second: it shows this reader is
 * alive (one silent for BLK_READER_STALE_NS is dropped by the others, and
 * comes back here) and puts the threshold right.  0 (also when not
 * registered) or -errno. */
int blktrace_slow_refresh(struct blktrace *t);
/* Drop the registration and put the threshold back to the lowest of the
 * node's own and the other live readers'.  No-op if not registered. */
void blktrace_slow_unregister(struct blktrace *t);

/* The blk_events ring buffer's map fd (owned by t), for ring_buffer__new();
 * records are struct blk_event. */
int blktrace_events_fd(const struct blktrace *t);

/* The kernel's count of recursion misses (runs skipped because the program
 * was already running on that CPU) summed over the programs, or 0 for a
 * tracer opened from pins. */
uint64_t blktrace_prog_misses(const struct blktrace *t);

#endif /* TAPESTRY_BLKTRACE_H */
