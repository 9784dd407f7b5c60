/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine: a replicated volume.  Every write fans out through io_uring to
 * all in-sync replicas at once, each in its own availability zone, and is
 * acked by the volume's policy (all, or a quorum of the replica count).
 * Slow replicas are not waited for past their soft deadline under quorum;
 * replicas past their hard timeout, or failing, become degraded and the
 * regions they miss go into a persistent dirty bitmap; when they return,
 * only those regions are resynced.
 *
 * The engine runs on a caller's uloop (one thread).  Callers: the NBD
 * frontend (userspace/nbd.c), `tapestryd volume`, and `tapestry
 * bench-volume`.
 *
 * ---- Contract between the engine and its callers ----
 * - All calls come from the loop's thread.
 * - A request call returns 0 when accepted: its done() callback then runs
 *   exactly once, later, from the loop, never from inside the call.  It
 *   returns -errno when refused (done() is not called):
 *     -EINVAL    offset/length not block-aligned, zero length, or past the
 *                end of the volume
 *     -E2BIG     longer than engine_max_io()
 *     -EAGAIN    no free request slot: retry after a completion (uloop
 *                hooks run after each batch of completions)
 *     -ESHUTDOWN the engine is shutting down
 * - done(arg, res): res is 0 on success or -errno: -EIO when the ack policy
 *   could not be met (fewer than min_in_sync replicas took the write),
 *   never a faked success.
 * - Writes take their buffer: it comes from uloop_buf_get() on the same
 *   loop, and the engine puts it back when the last replica is finished
 *   with it, which may be after done() has run.  If the call is refused the
 *   caller still owns the buffer.  (A write flagged ENGINE_BUF_SHARED
 *   borrows its buffer instead.)
 * - Reads borrow their buffer (a registered one, so local replicas can use
 *   READ_FIXED); the data lands at buf->base before done() runs, and no
 *   I/O into it is left in the kernel then (a read abandoned on a failed
 *   local replica is waited for, though its retry may be done first).
 * - Overlapping writes are applied in submission order on every replica.
 * - One uloop may carry several engines (up to 255 per process).  Do not
 *   call engine_destroy() from inside a done() callback.
 *
 * Changes since the first version of this header (all additions):
 * engine_opts.soft_mult, engine_replica_stats.resyncs and .lagged,
 * engine_get_zone_hist(), ENGINE_LAG_MAX(); engine_opts.flush_timeout_ms,
 * engine_stats.reconciles and .reconciling, ENGINE_ZONE_ID_MAX,
 * engine_replica_stats.inline_ops, engine_opts.lag_cut,
 * engine_opts_check(), engine_addr_parse(), ENGINE_QUEUE_DEPTH_MAX,
 * ENGINE_BUF_SHARED, engine_zero_fast().  One
 * change of meaning: a zone_id of 0 now means "no zone tag"
 * (UD_ZONE_NONE), where the engine used to number zones by position,
 * which collided with the node's zone registry.
 */
#ifndef TAPESTRY_ENGINE_H
#define TAPESTRY_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "uloop.h"

struct engine;

enum engine_ack {
	ENGINE_ACK_ALL,		/* every in-sync replica */
	ENGINE_ACK_QUORUM,	/* a majority of the replica count */
};

/* When a replica that is alive but cannot keep up (acked writes pile up
 * on it, see ENGINE_LAG_MAX) may be cut off rather than waited for. */
enum engine_lag_cut {
	/* Only while the replicas left in sync outnumber the acks a write
	 * needs: cutting never leaves the volume one failure away from
	 * refusing writes.  3 replicas under quorum: never; callers wait. */
	ENGINE_LAG_CUT_SPARE,
	/* Down to the acks needed: the fast zones' throughput, at the price
	 * of no spare until the slow one has resynced. */
	ENGINE_LAG_CUT_FLOOR,
};

#define ENGINE_MAX_REPLICAS 8

#define ENGINE_ZONE_ID_MAX 254

#define ENGINE_QUEUE_DEPTH_MAX 65536

struct engine_replica_opts {
	const char *zone;	/* required, unique within the volume */
	/* Zone id for io_uring user_data (1..ENGINE_ZONE_ID_MAX), as the
	 * node's zone registry hands out (zonetrace_zone_register()), so
	 * that the zone tracer attributes the requests to this zone.  0: no
	 * zone id; the requests are tagged UD_ZONE_NONE and the zone tracer
	 * does not see them.  The engine never makes ids up: an id that is
	 * not the registry's would count as some other zone's traffic. */
	unsigned int zone_id;
	const char *path;	/* local target: file or block device ... */
	const char *addr;	/* ... or remote: "IP:PORT" of a replica server */
};

struct engine_opts {
	const char *name;		/* [A-Za-z0-9._-], 1..63 bytes */
	uint64_t size;			/* bytes; a multiple of block_size */
	uint32_t block_size;		/* 0 = 4096 */
	enum engine_ack ack;
	unsigned int min_in_sync;	/* 0 = 1 for all, majority for quorum */
	unsigned int nr_replicas;
	struct engine_replica_opts replicas[ENGINE_MAX_REPLICAS];
	const char *state_dir;		/* dirty bitmaps and sequence state */
	bool create;			/* create missing replica images */
	unsigned int queue_depth;	/* request slots; 0 = 128; at most
					 * ENGINE_QUEUE_DEPTH_MAX */
	uint32_t soft_floor_us;		/* soft deadline is max(floor, k * EWMA) */
	uint32_t hard_timeout_ms;	/* 0 = 500 */
	/* Added by the engine: k of the soft deadline; 0 = 4.  A
	 * soft_floor_us of 0 means 2000. */
	unsigned int soft_mult;
	/* Added: the timeout of a flush, or of a FUA write, on a replica
	 * (0 = 10000, never below hard_timeout_ms).  A disk may take
	 * seconds to flush; other requests issued to that replica while a
	 * flush or FUA write is out on it are not judged by the hard timeout
	 * before it ends (they may be queued behind it). */
	uint32_t flush_timeout_ms;
	/* Added: see enum engine_lag_cut; 0 = spare. */
	enum engine_lag_cut lag_cut;
};

/* Added by the engine: under quorum, acked writes may still be out on a
 * slow replica, each holding its buffer; up to ENGINE_LAG_MAX(queue_depth)
 * of them.  Then callers wait for it (-EAGAIN until it catches up) or, if
 * engine_opts.lag_cut allows, that replica is cut off (degraded, resynced
 * later).  A caller that takes write buffers from the loop's pool should
 * size it for queue_depth + ENGINE_LAG_MAX of them or it runs short of
 * buffers first. */
#define ENGINE_LAG_MAX(qd) ((qd) * 2 > 64 ? (qd) * 2 : 64)

/* Ack-time flags for engine_write / engine_zero / engine_trim. */
#define ENGINE_FUA 0x1	/* durable on the acking replicas before done() */
/* engine_write only: the buffer is borrowed, not taken.  The engine only
 * reads it, and may go on reading it after done() (a replica behind under
 * quorum), so the caller keeps it, unchanged, until engine_destroy().
 * Lets one buffer of zeroes serve any number of writes at once. */
#define ENGINE_BUF_SHARED 0x2

typedef void (*engine_done_fn)(void *arg, int res);

/* Open the volume on its replicas (creating images if o->create), read the
 * persistent state in o->state_dir and start resync of any replica that
 * missed writes.  Replicas that cannot be reached start degraded; if fewer
 * than min_in_sync are usable it fails with -EIO.  Returns 0 or -errno;
 * *out is set only on success. */
int engine_create(struct uloop *loop, const struct engine_opts *o,
		  struct engine **out);

/* Which option engine_opts_check() refused (a field of struct
 * engine_opts; for REPLICA and ZONE_ID, replicas[replica]). */
enum engine_opt {
	ENGINE_OPT_NAME = 1,
	ENGINE_OPT_SIZE,
	ENGINE_OPT_BLOCK_SIZE,
	ENGINE_OPT_STATE_DIR,
	ENGINE_OPT_REPLICAS,	/* none, or more than ENGINE_MAX_REPLICAS */
	ENGINE_OPT_MIN_IN_SYNC,
	ENGINE_OPT_ACK,
	ENGINE_OPT_QUEUE_DEPTH,
	ENGINE_OPT_REPLICA,	/* its zone, path or address */
	ENGINE_OPT_ZONE_ID,
};

struct engine_opts_fault {
	enum engine_opt opt;
	unsigned int replica;	/* index into replicas[] */
	/* Why, in words that read after the option's name ("--size: ...")
	 * and do not depend on how a caller spells its options. */
	char why[160];
};

/* The engine's rules for its options, as engine_create() applies them, so
 * that a command line can be refused before anything is opened or
 * registered.  Returns 0, or -EINVAL with *f saying which option is wrong
 * and why (f may be NULL); logs nothing. */
int engine_opts_check(const struct engine_opts *o,
		      struct engine_opts_fault *f);
/* The option f (from engine_opts_check(o, f)) is about, spelt as the
 * command lines that fill struct engine_opts spell it ("--size"; for a
 * replica "--local" or "--replica", as o says which).  A static string. */
const char *engine_opts_fault_name(const struct engine_opts *o,
				   const struct engine_opts_fault *f);

/* A replica server's address as the engine dials it: "IPv4:PORT", port
 * 1..65535 in decimal.  Returns 0 and fills *out (when not NULL), or
 * -EINVAL and leaves it alone. */
struct sockaddr_in;
int engine_addr_parse(const char *addr, struct sockaddr_in *out);

/* Stop without flushing; in-flight requests complete with -ESHUTDOWN before
 * this returns.  Accepts NULL. */
void engine_destroy(struct engine *e);

int engine_write(struct engine *e, uint64_t off, uint32_t len,
		 struct uloop_buf *buf_take, unsigned int flags,
		 engine_done_fn done, void *arg);
int engine_read(struct engine *e, uint64_t off, uint32_t len,
		struct uloop_buf *buf, engine_done_fn done, void *arg);
/* Every write acked before this call is durable on every in-sync replica
 * when done() runs with 0. */
int engine_flush(struct engine *e, engine_done_fn done, void *arg);
/* Discard (a hint: the range may read back as anything written before or
 * zeroes) and write-zeroes (the range reads back as zeroes).  len may
 * exceed engine_max_io(). */
int engine_trim(struct engine *e, uint64_t off, uint64_t len,
		unsigned int flags, engine_done_fn done, void *arg);
int engine_zero(struct engine *e, uint64_t off, uint64_t len,
		unsigned int flags, engine_done_fn done, void *arg);

/* Added: whether engine_zero() of the volume is now faster than writing
 * the zeroes (for NBD's FAST_ZERO): every replica it would reach now (in
 * sync or resyncing) zeroes without writing zero pages -- a file whose
 * file system punches holes, a block device with write-zeroes, a remote
 * whose server said so in its HELLO reply.  Unknown counts as not fast
 * (a server that predates the flag).  True when it would reach none (the
 * zero then fails on its own). */
bool engine_zero_fast(const struct engine *e);

uint64_t engine_size(const struct engine *e);
uint32_t engine_block_size(const struct engine *e);
uint32_t engine_max_io(const struct engine *e);

enum engine_replica_state {
	ENGINE_REPLICA_IN_SYNC,
	ENGINE_REPLICA_DEGRADED,	/* missing writes; dirty map growing */
	ENGINE_REPLICA_RESYNCING,	/* back, copying dirty regions */
};

struct engine_replica_stats {
	char zone[32];
	unsigned int zone_id;		/* as in io_uring user_data */
	bool local;
	enum engine_replica_state state;
	uint64_t ewma_ns;		/* recent write latency */
	uint64_t writes, errors;
	uint64_t dirty_regions;		/* 64 KiB regions still to copy */
	uint64_t resync_done, resync_total;	/* regions, this resync */
	uint64_t resync_bytes;		/* bytes copied, this resync */
	uint64_t resync_bytes_per_s;
	uint64_t resyncs;		/* added: resyncs completed */
	uint64_t lagged;		/* added: times cut off for falling
					 * behind (acked writes piling up) */
	/* Added: a local replica's reads and writes done in the loop, not
	 * through io_uring: a file on tmpfs, which cannot take them
	 * without blocking, so io_uring would punt each to a worker. */
	uint64_t inline_ops;
};

struct engine_stats {
	unsigned int nr_replicas, in_sync;
	uint64_t writes, reads, flushes, failed;
	struct engine_replica_stats replica[ENGINE_MAX_REPLICAS];
	/* Added: times every replica had been degraded and the reachable
	 * ones were reconciled and brought back in sync (or, at create,
	 * recovered after an unclean stop); whether that is going on. */
	uint64_t reconciles;
	bool reconciling;
};

void engine_get_stats(const struct engine *e, struct engine_stats *out);

const char *engine_replica_state_name(enum engine_replica_state s);

/* Added by the engine: the userspace timing of replica `replica`'s
 * requests (position in engine_opts.replicas), cumulative since create:
 * from the SQE that starts a request (local I/O, or the send of a remote
 * frame) to its completion (local CQE, or the remote reply parsed), the
 * same span zonetrace measures from the io_uring tracepoints.  Returns 0
 * or -EINVAL for a position out of range. */
struct hist;
int engine_get_zone_hist(const struct engine *e, unsigned int replica,
			 struct hist *out);

#endif /* TAPESTRY_ENGINE_H */
