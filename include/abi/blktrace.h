/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps and events of the block-I/O tracer (bpf/blktrace.bpf.c), shared
 * with its loader (userspace/blktrace.c) and visible to `bpftool map dump`.
 * docs/bpftool.md shows each map with a sample dump.
 *
 *   blk_stats     per-CPU hash  struct blk_key -> struct blk_stats
 *   blk_counters  per-CPU array 0 -> struct blk_counters
 *   blk_config    array         0 -> struct blk_config
 *   blk_readers   hash          __u64 token -> struct blk_reader
 *   blk_events    ring buffer   struct blk_event records
 *   blk_start     array         slot -> struct blk_start, a table of the
 *                               requests in flight (never pinned)
 *
 * Everything in blk_stats and blk_counters is cumulative for the life of
 * the map; readers take two snapshots and subtract.
 */
#ifndef TAPESTRY_ABI_BLKTRACE_H
#define TAPESTRY_ABI_BLKTRACE_H

#include "abi/hist.h"
#include "abi/inflight.h"

/* blk_key.op: the request's operation, folded to five classes. */
#define BLK_OP_READ	0
#define BLK_OP_WRITE	1
#define BLK_OP_FLUSH	2
#define BLK_OP_DISCARD	3
#define BLK_OP_OTHER	4
#define BLK_NR_OPS	5

/* Whole-disk device numbers, as in /sys/block/<dev>/dev. */
struct blk_key {
	__u32 major;
	__u32 minor;
	__u32 op;
};

_Static_assert(sizeof(struct blk_key) == 12, "blk_key size is ABI");

/* One per (device, op) and CPU.  count is requests completed (a request
 * a driver completes in parts counts once, at its last part; a
 * PREFLUSH/FUA write the block layer sequences with flushes counts once,
 * when its last flush is done, and an empty PREFLUSH write, which no
 * driver sees, not at all: its flush counts as a flush), bytes the
 * bytes completed, errors the completions (parts included) that reported
 * an error.  The histograms cover only requests whose issue was seen too,
 * so their counts trail count by `untimed`: requests in flight when the
 * tracer attached, or that found no free blk_start slot or lost theirs to
 * a racing claim. */
struct blk_stats {
	__u64 count;
	__u64 bytes;
	__u64 errors;
	__u64 untimed;
	struct hist queue;	/* insert -> issue; 0 when issued directly */
	struct hist service;	/* issue -> complete */
	struct hist total;	/* insert (or issue) -> complete */
};

_Static_assert(sizeof(struct blk_stats) == 32 + 3 * sizeof(struct hist),
	       "blk_stats has no padding");

/* Things the tracer could not do, so that nothing is lost silently. */
struct blk_counters {
	__u64 events_dropped;	/* blk_events full: slow-I/O event lost */
	__u64 start_failed;	/* no blk_start slot, or one torn by a racing
				 * claim: request left untimed */
	__u64 stats_failed;	/* blk_stats full: completion not counted */
	__u64 __pad;
};

_Static_assert(sizeof(struct blk_counters) == 32, "blk_counters size");

/* Run-time settings: the loader and `tapestry trace slow` write these while
 * the programs run. */
struct blk_config {
	__u64 slow_ns;		/* emit a blk_event at or above; 0 = never */
	__u64 base_ns;		/* the node's own threshold (the loader's, or
				 * one set by hand); slow_ns is the lowest
				 * nonzero of it and each live blk_readers
				 * entry's */
};

_Static_assert(sizeof(struct blk_config) == 16, "blk_config size");

/* A `tapestry trace slow` reading a daemon's pins, which needs slow_ns at
 * most its own while it runs: in blk_readers under a random token of its
 * own (the programs never read the map).  A reader refreshes beat_ns
 * (CLOCK_MONOTONIC) several times a second; one not refreshed for
 * BLK_READER_STALE_NS is gone (killed) and the next reader drops it. */
struct blk_reader {
	__u64 slow_ns;
	__u64 beat_ns;
};

_Static_assert(sizeof(struct blk_reader) == 16, "blk_reader size");

#define BLK_MAX_READERS		64
#define BLK_READER_STALE_NS	(3ULL * 1000000000ULL)

/* In-flight request, in blk_start: an in-flight table as
 * include/abi/inflight.h describes, keyed by the request, probed from
 * blk_slot_home().  check is inflight_check(rq, insert_ns, issue_ns,
 * tgid). */
struct blk_start {
	__u64 rq;		/* key: the struct request's address (raw_tp)
				 * or its distance from a fixed address
				 * (tp_btf); 0 = free */
	__u64 insert_ns;	/* 0: not inserted (issued directly) */
	__u64 issue_ns;		/* 0: not issued yet */
	__u32 tgid;		/* task that inserted or issued it */
	__u32 check;
};

_Static_assert(sizeof(struct blk_start) == 32, "blk_start size");

#define BLK_START_SLOTS		65536	/* a power of two */
#define BLK_START_PROBES	4

/* The first slot to probe for key k: its cache-line number.  struct
 * requests are cache-line aligned and at least four lines long (struct
 * request alone is 248 bytes on 6.18), and blk-mq allocates those of a tag
 * set side by side, so a disk's requests get distinct home slots at least
 * four apart, no two share a probe window, and the ones in flight sit in
 * a few pages of the table.  A multiplicative hash scattered them over all
 * of its 2 MiB, a TLB miss per access: ~20 ns more per I/O. */
static __always_inline __u32 blk_slot_home(__u64 k)
{
	return (__u32)(k >> 6) & (BLK_START_SLOTS - 1);
}

/* A slow I/O, from blk_events.  Times are CLOCK_MONOTONIC ns.  The
 * kernel knows no task at completion, so tgid is the task that inserted or
 * issued the request (a kworker when the block layer issued it on its
 * own); readers find its comm in /proc. */
struct blk_event {
	__u64 ts_ns;		/* completion time */
	__u64 sector;
	__u64 queue_ns;
	__u64 service_ns;
	__u32 major;
	__u32 minor;
	__u32 op;		/* BLK_OP_* */
	__u32 bytes;
	__u32 tgid;		/* 0 if unknown */
	__s32 error;		/* blk_status_t as the kernel gave it */
};

_Static_assert(sizeof(struct blk_event) == 56, "blk_event size is ABI");

#endif /* TAPESTRY_ABI_BLKTRACE_H */
