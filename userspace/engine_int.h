/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine internals, shared by engine.c (volume, requests, ack policy),
 * engine_policy.c (pure decisions), engine_order.c (overlap ordering),
 * engine_local.c and engine_remote.c (the two kinds of target),
 * engine_state.c (persistent state), engine_sync.c (durability of the
 * maps), engine_resync.c (resync) and engine_recover.c (crash recovery and
 * reconciling replicas after every one was degraded).  Nothing outside the
 * engine includes this.
 *
 * A request (struct ereq) is one slot of a preallocated array.  It has one
 * sub-request (struct esub) per replica.  A sub moves
 *   NONE -> BLOCKED (waits for an earlier overlapping sub on that replica)
 *        -> ISSUED  (SQE or frame out) -> OK | FAILED
 * and `kref` counts the SQEs/frames of that sub the kernel or the peer may
 * still hold (a failed sub can still have its write SQE in the kernel, so
 * the buffer stays until kref drops to 0).
 *
 * io_uring user_data of replica SQEs: UD_CLS_REPL, the op, the replica's
 * zone id (UD_ZONE_NONE when the caller gave none), UD_F_REMOTE on the
 * send of a remote frame, and index = (engine number << 24) | (replica <<
 * 21) | slot.  The index alone names one replica request while it is in
 * flight, as include/abi/udata.h requires of (zone, index).  The engine's
 * own metadata I/O is UD_CLS_ENGINE, zone UD_ZONE_NONE.
 */
#ifndef TAPESTRY_ENGINE_INT_H
#define TAPESTRY_ENGINE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>

#include "abi/hist.h"
#include "abi/repl.h"
#include "engine.h"

struct dirtymap;
struct seqmap;

#define EREGION_SHIFT	16
#define EREGION		(1U << EREGION_SHIFT)	/* 64 KiB */
#define EIDX_SHIFT	24
#define EIDX_MASK	((1U << EIDX_SHIFT) - 1)
#define EREPL_SHIFT	21		/* replica index within the index */
#define ESLOT_MASK	((1U << EREPL_SHIFT) - 1)
#define ESLOTS_MAX	ESLOT_MASK	/* request slots per engine */
#define EMAX_ENGINES	255
/* Resync/recovery buffers: seqs in the first 4 KiB, data after, so the
 * data is page-aligned for O_DIRECT. */
#define ERS_SEQ_BYTES	4096
#define ERS_BUF_BYTES	(ERS_SEQ_BYTES + EREGION)

enum eop {
	EOP_READ,
	EOP_WRITE,
	EOP_FLUSH,
	EOP_TRIM,
	EOP_ZERO,
	EOP_RREAD,	/* resync read: seqs + data of one region */
	EOP_RWRITE,	/* resync write: apply only newer blocks */
};

enum esub_state {
	SUB_NONE,
	SUB_BLOCKED,
	SUB_ISSUED,
	SUB_OK,
	SUB_FAILED,
};

struct esub {
	uint8_t state;
	uint8_t counts;		/* the replica was in sync at issue */
	uint8_t kref;		/* SQEs/frames outstanding */
	uint8_t run;		/* local: resync write: next block to look at;
				 * trim/zero: its step (engine_local.c) */
	uint8_t flushing;	/* a flush or FUA op, counted in nflush */
	uint8_t inline_io;	/* local: done in the loop; res has its result */
	uint8_t in_rbuf;	/* read: into the request's own buffer (rbuf),
				 * not the caller's */
	int32_t res;
	uint64_t t_issue;	/* live time it became ISSUED (deadlines,
				 * EWMA): see uloop_live_ns() */
	uint64_t t_sqe;		/* first SQE prepared (zone timing) */
	/* remote: the frame header and the sendmsg that carries it */
	uint8_t hdr[REPL_HDR_SIZE];
	struct iovec iov[3];
	struct msghdr msg;
	uint32_t tx_next;	/* remote: next sub in the connection's queue */
};

/* Someone waiting for a round of map syncs (engine_sync.c). */
struct ewait {
	struct ewait *next;
	uint64_t ticket;		/* the round that covers it */
	uint64_t t_wait;		/* live time it began to wait */
	void (*fn)(struct ewait *w, int err);
};

/* A resync/recovery buffer: one per (internal slot, replica). */
struct ersbuf {
	uint8_t *base;		/* ERS_BUF_BYTES, page-aligned */
};

struct ereq {
	struct engine *e;
	uint32_t idx;
	uint32_t gen;		/* bumped on reuse; part of remote tags */
	uint8_t op;
	uint8_t fua;
	uint8_t internal;	/* resync/recovery, not the caller's */
	uint8_t acked;		/* done() decided (or not wanted) */
	uint8_t finished;	/* on the reap list */
	uint8_t holds_user;	/* counts against the caller's queue depth */
	uint8_t done_pending;	/* done() deferred to the loop */
	uint8_t starting;	/* subs being started: no verdict yet */
	uint8_t chunk_failed;	/* the policy failed for this chunk */
	uint8_t rs_src;		/* resync: buffer with the payload */
	uint8_t full_copy;	/* flush: tells its rs_target that a full
				 * copy to it is done (REPL_F_FULL_COPY) */
	uint64_t off;
	uint32_t len;
	uint64_t end;		/* trim/zero: end of the caller's range */
	uint64_t seq;
	uint64_t order;		/* submission order, for overlap checks */
	uint64_t t_start;
	struct uloop_buf *buf;	/* the data; a read's: where the attempt
				 * now out reads into (ubuf or rbuf) */
	uint8_t own_buf;	/* put buf back when finished */
	struct uloop_buf *ubuf;	/* read: the caller's buffer */
	struct uloop_buf *rbuf;	/* read: its own, for a retry while an
				 * abandoned read may still write into the
				 * caller's; put back when finished */
	uint8_t tried;		/* read: replicas tried (bitmask) */
	int8_t read_from;	/* read: the replica it went to */
	uint8_t shut;		/* read: to be answered -ESHUTDOWN once
				 * nothing can fill its buffer any more */
	int8_t rs_target;	/* resync: the replica being copied to */
	uint32_t rs_gen;	/* resync: generation of that resync */
	uint64_t region;	/* resync/recovery: the region */
	uint8_t phase;		/* resync/recovery: 0 read, 1 write */
	uint32_t rs_bytes;	/* resync: bytes a target applied */
	uint32_t crc;		/* remote write: payload crc, once */
	uint8_t crc_ok;
	uint8_t waiting;	/* on the seq queue or a sync round */
	uint8_t nmissed;	/* FUA: replicas known to miss it */
	int res;
	int sync_res;		/* the answer once the maps are durable */
	struct ewait sw;	/* waiting for a sync round */
	struct ereq *wlink;	/* seq queue */
	engine_done_fn done;
	void *arg;
	struct ereq *prev, *next;	/* in-flight list, in order */
	struct ereq *link;		/* free list / reap list */
	struct ereq *dlink;		/* deferred done() list */
	struct ersbuf *rsb;		/* internal: per-replica buffers */
	struct esub sub[ENGINE_MAX_REPLICAS];
};

struct elocal;
struct econn;

struct eresync {
	uint32_t gen;
	uint8_t draining;	/* waiting for older requests to finish */
	uint64_t watermark;	/* order of the first request it saw */
	uint64_t cursor;	/* next region to look at */
	unsigned int inflight;
	uint64_t done, total, bytes;
	uint64_t t_start, t_log;
	uint64_t started, completed;	/* counts, for stats and tests */
};

/* A bitmap of regions that knows where its set bits may be, so that
 * emptying it costs what was set, not the volume's size: w holds a bit
 * per region, sum a bit per word of w that may be non-zero, and
 * [lo, hi) the words of sum that may be.  Empty when lo >= hi. */
struct eubits {
	uint64_t *w, *sum;
	uint64_t lo, hi;
};

/* A remote replica's writes that its server may hold only in its page
 * cache (engine_unsync.c): regions written there since the start of its
 * last good FLUSH.  old: sent before the tracked flush (the one FLUSH
 * whose reply may clear them); cur: since.  acked: the highest seq it
 * acked us.  In memory only: the engine's own crash loses it (as it
 * loses the activity log's last moments). */
struct eunsync {
	struct eubits old, cur;
	uint64_t words;		/* of each w */
	uint64_t sumwords;	/* of each sum */
	uint64_t flush_tag;	/* the tracked flush's frame tag */
	bool tracking;		/* a tracked flush is out */
	bool flushed;		/* a tracked flush succeeded in this run */
	uint64_t acked;
	uint64_t durable;	/* the highest synced seq a good FLUSH's reply
				 * said its server had recorded */
	uint64_t visited;	/* words read to move or clear bits: a count
				 * for tests */
};

struct erepl {
	struct engine *e;
	unsigned int idx;
	char zone[REPL_ZONE_MAX];
	unsigned int zone_id;
	bool local;
	bool up;		/* open / connected and usable */
	enum engine_replica_state state;
	/* dirty: regions where it may differ from the in-sync replicas
	 * (what resync copies).  missed, a subset: regions where it may
	 * lack a write that was acked (what reconciling must not trust it
	 * for); its header flag EMISSED_IN_SYNC says it was in sync, with
	 * every earlier write done on it, and no write has been acked
	 * without it since that the map does not record (kept while it is
	 * degraded; cleared when it is back beside an in-sync replica). */
	struct dirtymap *dirty;
	struct dirtymap *missed;
	uint64_t insync_mark;	/* order before which its subs must end
				 * for EMISSED_IN_SYNC; 0: none pending */
	unsigned int nflush;	/* flush/FUA subs out on it */
	uint64_t t_flush_clear;	/* live time nflush last fell to 0 */
	struct elocal *loc;
	struct econn *conn;
	struct eunsync unsync;	/* remote */
	uint64_t ewma_ns;	/* writes */
	uint64_t rewma_ns;	/* reads */
	uint64_t writes, reads, errors;
	uint64_t lagged;	/* times cut off for falling behind */
	uint64_t lag_backoff_ns;
	bool slow;		/* an op is past its soft deadline */
	unsigned int nblocked;
	bool unblocking, rescan;
	bool said_hello;	/* a remote's first HELLO of this run came */
	/* Zeroing it does not write zero pages (engine_zero_fast): local,
	 * probed at each open (engine_local.c); remote, its last HELLO reply
	 * said REPL_F_ZERO_FAST. */
	bool zero_fast;
	/* Remote: a full copy after its HELLO said sync failed (EFC_*). */
	uint8_t full_copy;
	/* Remote: the errno its server refused the last HELLO answered
	 * with, 0 if accepted.  A refusal is said once, and again only when
	 * the reason changes, and while it lasts the replica is retried at
	 * most every ERETRY_REFUSED_NS: the server is alive and answered,
	 * and retrying sooner only repeats the answer (ENOTRECOVERABLE: a
	 * sync of the volume failed since the server started, no copy to it
	 * can be made durable until it restarts; EPROTO: a server older than
	 * the engine's HELLO flags; a size that differs, ...). */
	uint32_t hello_refused;
	bool maybe_empty;	/* it said HELLO with no write while it was not
				 * known whether the volume held any before
				 * this run: marked empty if it did */
	struct hist hist;	/* userspace timing of its requests */
	struct eresync rs;
	struct uloop_timer retry;
	uint64_t backoff_ns;
	uint64_t t_down;	/* when it became degraded */
};

/* Reconnect backoff: from 100 ms, doubling to 1 s; to 5 s while the
 * replica's server refuses the volume after a failed sync (it waits for
 * someone to restart it: a retry every second would only fill both logs). */
#define ERETRY_MIN_NS		100000000ULL
#define ERETRY_MAX_NS		1000000000ULL
#define ERETRY_REFUSED_NS	5000000000ULL

#define EMISSED_IN_SYNC	0x1	/* missed map flag, see struct erepl */
/* Missed map flag: a sync of the replica failed, so its seqs may vouch
 * for writes the kernel dropped.  Local: reset before it is used again
 * (engine_local.c).  Remote: its HELLOs say REPL_F_SYNC_FAILED until a
 * reply says REPL_STATE_SYNC_FAILED, its server's own record (which may
 * not have landed: the failing disk holds it too). */
#define EMISSED_SYNC_FAILED	0x2
/* Missed map flag of a local replica: its seqmap recorded a write before
 * its seqs were reset (a failed sync, an image made anew), so the volume
 * holds data whatever its seqmap says now (engine_local_written), as a
 * replica server keeps its applied_seq across its own seq reset. */
#define EMISSED_WRITTEN	0x4

/* erepl.full_copy: a remote replica whose HELLO said sync failed is
 * copied in full; once that copy is done, a FLUSH with REPL_F_FULL_COPY
 * tells it so, and it stops saying sync failed (engine_resync.c). */
enum {
	EFC_NONE,
	EFC_WANTED,	/* its HELLO on this connection said sync failed */
	EFC_COPYING,	/* a resync of every region started after it */
	EFC_TELL,	/* that resync is done: the flagged FLUSH is due */
	EFC_TELLING,	/* the flagged FLUSH is out */
};

/* <name>.state on disk (little-endian x86/arm64 layout, as written). */
struct estate_disk {
	uint64_t magic;
	uint64_t epoch;		/* no epoch above this was ever used */
	uint64_t seq_limit;	/* no seq at or above this was ever used */
	uint64_t size;
	uint32_t block_size;
	uint32_t __pad;
};

struct estate {
	int fd;
	uint64_t epoch;		/* in use */
	uint64_t epoch_limit;	/* durable: epochs up to it may be used */
	uint64_t next_seq;
	uint64_t seq_limit;	/* durable: seqs below it may be used */
	struct estate_disk rec;	/* the record being written */
	uint8_t busy;		/* write + fdatasync in flight */
	uint8_t again;		/* another reservation is wanted */
	uint8_t ncqe;
	uint8_t timed_out;	/* waiters told already */
	uint8_t fresh;		/* no record before: a new volume */
	int res;
	uint64_t failures;
	uint64_t retry_at;
	uint64_t t_busy;	/* live time the write in flight began */
};

/* Rounds of map syncs (engine_sync.c). */
struct esync {
	uint64_t started, done;
	unsigned int pending;	/* fsyncs of the round in flight */
	int err;
	uint64_t synced[2 * ENGINE_MAX_REPLICAS];	/* versions durable */
	uint64_t inflight[2 * ENGINE_MAX_REPLICAS];	/* being synced */
	struct ewait *head, *tail;
	uint8_t actlog_out;	/* shutdown: the activity log's fsync */
	uint64_t actlog_ver;
};

/* Reconciling the replicas when none is in sync (engine_recover.c). */
struct erecon {
	uint8_t active;
	uint8_t draining;	/* older requests still out */
	uint8_t syncing;	/* waiting for the maps to be durable */
	uint8_t failed;		/* a member failed: start over */
	uint8_t crash;		/* the activity log is from a dead engine */
	unsigned int members;	/* bitmask of the replicas it reads */
	unsigned int refused;	/* the set last found unsafe (logged) */
	uint64_t watermark;
	uint64_t cursor;
	unsigned int inflight;
	uint64_t regions, rewritten, runs;
	uint64_t t_start;
	struct ewait sw;
};

struct engine {
	struct uloop *loop;
	unsigned int num;	/* in user_data indexes */
	char name[REPL_NAME_MAX];
	uint64_t size;
	uint32_t bs;
	enum engine_ack ack;
	unsigned int min_in_sync;
	unsigned int nr;
	struct erepl repl[ENGINE_MAX_REPLICAS];
	char *state_dir;
	bool create;

	uint64_t soft_floor_ns, hard_ns, flush_ns, tick_ns;
	unsigned int soft_mult;
	enum engine_lag_cut lag_cut;
	uint64_t stalls_seen;		/* uloop_stalls() at the last tick */
	bool skipped_tick;		/* the last tick judged nothing */

	struct ereq *reqs;
	unsigned int nr_reqs;		/* all slots */
	unsigned int nr_user;		/* caller's queue depth */
	unsigned int user_busy;		/* caller requests not yet acked */
	unsigned int nr_internal;
	struct ereq *free_user, *free_internal;
	struct ereq *head, *tail;	/* in flight, by order */
	struct ereq *reap;		/* finished, to free */
	struct ereq *deferred, *deferred_tail;	/* done() to call */
	uint64_t next_order;
	unsigned int nr_inflight;
	uint8_t *rs_arena;
	size_t rs_arena_len;

	struct estate st;
	struct esync sync;
	struct erecon recon;
	struct ereq *seqq, *seqq_tail;	/* writes waiting for a seq */
	struct dirtymap *actlog;
	uint64_t t_sweep;

	struct uloop_timer tick, defer_timer;
	bool shutting_down;
	bool in_api;			/* inside a caller's request call */
	bool in_create;
	unsigned int nest;		/* entry depth, reap at 0 */

	uint64_t writes, reads, flushes, failed;
	/* Some replica holds a write of this volume: a seq was handed out,
	 * or a replica reported or recorded one. */
	bool written;
	/* Some replica held a write before this run: a remote's first HELLO
	 * (before any write of this run reached it) or, at create, a local
	 * replica's seqmap.  Writes of this run do not count: a replica
	 * up since before them got them, one down has them in its maps. */
	bool had_data;
	uint64_t t_log;
	uint64_t recovered, recovered_bytes;
};

/* ---- engine.c: the request lifecycle, called by the targets ---- */

/* A flushing sub of q that was abandoned when r failed (past its
 * timeout, say) ended with res: a failed sync is recorded as for one that
 * was not (engine_req.c sync_failed): all of r to copy, and a local
 * replica's seqs reset at its reopen. */
void engine_abandoned_sync_done(struct erepl *r, const struct ereq *q,
				int res);
/* A sub finished on replica ri with res (0 or -errno). */
void engine_sub_done(struct ereq *q, unsigned int ri, int res);
/* One of the sub's SQEs/frames is no longer held by the kernel/peer. */
void engine_sub_unref(struct ereq *q, unsigned int ri);
/* Replica r failed (error, timeout, lost connection): degrade it. */
void engine_replica_fail(struct erepl *r, int err, const char *why);
/* Replica r is reachable again: start its resync. */
void engine_replica_up(struct erepl *r);
/* Enter/leave a top-level event: requests finished meanwhile are freed
 * when the outermost leaves. */
void engine_enter(struct engine *e);
void engine_leave(struct engine *e);
uint64_t engine_ud(const struct engine *e, const struct ereq *q,
		   const struct erepl *r, unsigned int op, unsigned int flags);
unsigned int engine_ud_op(const struct ereq *q);
/* Issue q on replica ri, or block it behind an earlier overlapping sub. */
void engine_sub_start(struct ereq *q, unsigned int ri, bool counts);
/* Internal request slots (resync, recovery); NULL when none is free. */
struct ereq *engine_req_internal(struct engine *e, enum eop op, uint64_t off,
				 uint32_t len);
void engine_req_finish_internal(struct ereq *q);
void engine_record_latency(struct erepl *r, struct esub *s, bool write);
void engine_run_deferred(struct engine *e);
/* Answer q with res now (e.g. refused by the policy before any I/O). */
void engine_req_fail_now(struct ereq *q, int res);
/* Shutdown: answer q with -ESHUTDOWN; a read that a replica or the
 * kernel may still fill (a sub out, a local SQE held) once none can. */
void engine_req_shutdown(struct ereq *q);
/* Re-evaluate q after its subs changed outside engine_sub_done(). */
void engine_req_progress(struct ereq *q);
void engine_replica_retry(struct uloop_timer *t);
/* Shutdown: subs still waiting for an earlier one are never issued; their
 * ranges go to the dirty maps. */
void engine_abandon_blocked(struct engine *e);
const char *engine_op_name(unsigned int op);
/* r may lack an acked write in [off, off + len): dirty and missed. */
void engine_mark_missed(struct erepl *r, uint64_t off, uint64_t len);
/* r holds none of the volume's data (new to it, or its image was made
 * anew): all of it is dirty and missed, and it vouches for nothing. */
void engine_mark_empty(struct erepl *r, const char *why);
/* r is in sync: its missed map gets EMISSED_IN_SYNC once every request
 * issued before now has left it (see engine_mark_in_sync_tick). */
void engine_mark_in_sync(struct erepl *r);
void engine_mark_in_sync_tick(struct engine *e);

/* ---- engine.c ---- */

int engine_register(struct engine *e);
void engine_unregister(struct engine *e);
int engine_alloc_slots(struct engine *e, unsigned int qd);
void engine_tick(struct uloop_timer *t);
void engine_defer_fire(struct uloop_timer *t);
unsigned int engine_in_sync(const struct engine *e);
void engine_schedule_retry(struct erepl *r);

/* Start the next chunk of a long trim/zero. */
void engine_next_chunk(struct ereq *q);
/* A state write ended (err 0: the reservations it carried are durable):
 * writes waiting for a seq go on (or fail), connections waiting for an
 * epoch go on. */
void engine_state_durable(struct engine *e, int err);
/* A read failed on q->read_from: try another replica.  Returns 0 if a
 * retry went out (or waits for a buffer, see engine_read_pick_buf), -EIO
 * if no replica is left. */
int engine_read_retry(struct ereq *q);
/* Point q->buf where q's next read attempt is to read: the caller's
 * buffer unless an abandoned local read may still write into it, else
 * q's own (taken from the loop's pool on first need).  -EBUSY when both
 * are held or none is free: the attempt is to wait for an abandoned read's
 * completion (engine_sub_unref() re-runs the request). */
int engine_read_pick_buf(struct ereq *q);

/* ---- engine_policy.c: decisions without side effects ---- */

unsigned int engine_majority(unsigned int nr);
/* min_in_sync as configured, 0 meaning the policy's default. */
unsigned int engine_floor(enum engine_ack ack, unsigned int nr,
			  unsigned int min_in_sync);
/* Whether a write may start with in_sync replicas in sync. */
bool engine_can_write(enum engine_ack ack, unsigned int nr,
		      unsigned int floor, unsigned int in_sync);
/* Whether an in-sync replica that lags may be cut off, in_sync counting
 * it: under ENGINE_LAG_CUT_SPARE only while the others still number more
 * than the acks a write needs, so that one more failure leaves the volume
 * writable; under ENGINE_LAG_CUT_FLOOR down to the acks needed. */
bool engine_may_cut(enum engine_ack ack, unsigned int nr, unsigned int floor,
		    unsigned int in_sync, enum engine_lag_cut mode);
/* Ack verdict: 1 = ack now, 0 = wait, -1 = fail with EIO.  ok: counting
 * subs that succeeded; pending: counting subs still out on replicas that
 * are still in sync. */
int engine_verdict(enum engine_ack ack, unsigned int nr, unsigned int floor,
		   unsigned int ok, unsigned int pending);
uint64_t engine_ewma(uint64_t ewma, uint64_t sample);
uint64_t engine_soft_deadline(uint64_t ewma, uint64_t floor_ns,
			      unsigned int mult);
/* When a sub on a replica must be done by (live time), or 0 when it is
 * not judged now.  flushing: the sub is a flush or a FUA write, which may
 * legitimately take seconds: flush_ns from its issue.  Any other sub is
 * judged by hard_ns, but not while the replica has a flush or FUA op out
 * (nflush), since it may be queued behind it, and counted from the later
 * of its issue and the end of the last such op (t_flush_clear). */
uint64_t engine_hard_deadline(bool flushing, uint64_t t_issue,
			      unsigned int nflush, uint64_t t_flush_clear,
			      uint64_t hard_ns, uint64_t flush_ns);
/* Whether reconciling from the replicas in `members` (bitmask) keeps
 * every acked write: see engine_recover.c.  missed[i], in_sync[i]: replica
 * i's missed map words and EMISSED_IN_SYNC flag; crash: the activity log's
 * words when it is from a dead engine, else NULL.  Returns the first
 * region no member can vouch for, or UINT64_MAX when it is safe. */
uint64_t engine_recon_unsafe(enum engine_ack ack, unsigned int nr,
			     unsigned int members,
			     const uint64_t *const *missed,
			     const bool *in_sync, const uint64_t *crash,
			     uint64_t nr_words);

/* ---- engine_order.c: overlap ordering per replica ---- */

bool engine_op_writes(unsigned int op);
/* Whether q's sub on replica ri must wait for an earlier request's. */
bool engine_sub_conflicts(const struct ereq *q, unsigned int ri);
/* Whether any unfinished write-type request touches [off, off + len). */
bool engine_range_busy(const struct engine *e, uint64_t off, uint64_t len);

/* ---- engine_local.c ---- */

int engine_local_open(struct erepl *r, const char *path);
void engine_local_close(struct erepl *r);
int engine_local_reopen(struct erepl *r);
/* Prepare the SQE(s) of q's sub on r.  Returns 0 or -errno (nothing
 * prepared). */
int engine_local_submit(struct erepl *r, struct ereq *q);
void engine_local_cqe(struct engine *e, struct ereq *q, struct erepl *r,
		      const struct io_uring_cqe *cqe);
bool engine_local_idle(const struct erepl *r);
/* Reads and writes done in the loop, not through io_uring (tmpfs). */
uint64_t engine_local_inline_ops(const struct erepl *r);
/* Whether it has recorded a write of the volume: its seqmap, or its
 * missed map's EMISSED_WRITTEN if its seqs were reset since (a scan: for
 * create only). */
bool engine_local_written(const struct erepl *r);

/* ---- engine_remote.c ---- */

int engine_remote_init(struct erepl *r, const char *addr);
void engine_remote_free(struct erepl *r);
/* Start connecting (async).  engine_replica_up() or _fail() follows. */
int engine_remote_connect(struct erepl *r);
/* Tear the connection down: pending frames fail. */
void engine_remote_shutdown(struct erepl *r);
bool engine_remote_idle(const struct erepl *r);
int engine_remote_submit(struct erepl *r, struct ereq *q);
/* q's frame to r, whose start marker went out, is given up on (the
 * replica failed): end it for zonetrace as a failed request of r's zone,
 * as a reply with an error would. */
void engine_remote_abandon(struct erepl *r, struct ereq *q);
void engine_remote_send_cqe(struct engine *e, struct ereq *q, struct erepl *r,
			    const struct io_uring_cqe *cqe);
void engine_remote_conn_cqe(struct engine *e, const struct io_uring_cqe *cqe);
uint64_t engine_remote_applied_seq(const struct erepl *r);
/* At create, once every reachable replica has said HELLO: replicas that
 * hold no write of a volume that has some are marked empty; if none is
 * known to have any yet, they are marked once one is (a remote's HELLO). */
void engine_remote_check_empty(struct engine *e);
/* From the tick: give up on a connection stuck before it is up. */
void engine_remote_tick(struct erepl *r, uint64_t now);
/* The state record was written (err 0: a new epoch may be available):
 * a connection waiting to say HELLO goes on. */
void engine_remote_state_durable(struct erepl *r, int err);

/* ---- engine_unsync.c ---- */

/* For a volume of e->size bytes: 0 or -ENOMEM. */
int engine_unsync_init(struct eunsync *u, uint64_t size);
void engine_unsync_free(struct eunsync *u);
/* A write (plain, trim, zero or resync copy) of [off, off + len) was
 * sent, after every frame sent before it. */
void engine_unsync_write(struct eunsync *u, uint64_t off, uint64_t len);
/* A FLUSH was sent with this frame tag.  It is tracked unless one is
 * out already (then it clears nothing: cautious). */
void engine_unsync_flush_sent(struct eunsync *u, uint64_t tag);
/* A FLUSH with this tag ended with err (0: what was sent before it is
 * durable there); recorded is its reply's seq (with err 0: the synced
 * seq its server's record holds; 0 from a server that predates that,
 * which echoes the request's 0: nothing known). */
void engine_unsync_flush_done(struct eunsync *u, uint64_t tag, int err,
			      uint64_t recorded);
/* The replica acked a write of seq. */
void engine_unsync_acked(struct eunsync *u, uint64_t seq);
/* r's HELLO reply says applied_seq.  Below a seq it acked, its server
 * lost writes it acked (its node lost the page cache, and the server
 * zeroed the seqs it could not vouch for: docs/replication-protocol.md,
 * Durability): every region written to it since the start of its last
 * good FLUSH is marked missed and dirty, to be copied again.  Returns
 * the regions marked. */
uint64_t engine_unsync_hello(struct erepl *r, uint64_t applied_seq);
/* r's HELLO said applied_seq 0 after engine_unsync_hello() marked lost
 * regions: true if those are all it ever held, so it need not be copied
 * in full.  So it is when no flush to it succeeded in this run (nothing
 * cleared the bitmaps) and it held nothing before this run (no replica
 * said it held a write at its first HELLO: e->had_data). */
bool engine_unsync_all(const struct erepl *r, uint64_t lost);
/* r's HELLO says applied_seq.  Below the highest synced seq a good
 * FLUSH's reply said its server had recorded (in this run), the replica
 * lost writes that no power loss nor kill can take (a restored backup,
 * a rolled-back disk snapshot): what it lacks is not bounded by what was
 * written since its last good flush.  Returns that seq (the new baseline
 * is applied_seq), or 0 when nothing durable was lost.  Call before
 * engine_unsync_hello(). */
uint64_t engine_unsync_rollback(struct eunsync *u, uint64_t applied_seq);

/* ---- engine_state.c ---- */

int engine_state_open(struct engine *e);
void engine_state_close(struct engine *e);
/* The next write seq, or 0 when none is durably reserved yet: a new
 * reservation is then on its way, and engine_state_durable() says when
 * it is there.  New reservations start in the background well before
 * they are needed. */
uint64_t engine_state_next_seq(struct engine *e);
/* Make every seq up to `seen` unusable (a replica reported it applied). */
void engine_state_seen_seq(struct engine *e, uint64_t seen);
/* A new epoch for every frame from now on.  -EAGAIN when none is durably
 * reserved yet (engine_state_durable() follows). */
int engine_state_bump_epoch(struct engine *e);
/* Completions of the state record's SQEs (UD_CLS_ENGINE). */
void engine_state_cqe(struct engine *e, const struct io_uring_cqe *cqe);
/* From the tick: retry a reservation that could not be written. */
void engine_state_tick(struct engine *e);
bool engine_state_busy(const struct engine *e);
int engine_state_path(const struct engine *e, const char *suffix, char *buf,
		      size_t len);
/* No state file (map, seqmap) at path yet: none, or an empty one (an
 * engine killed while making it, or a damaged state dir), which records
 * nothing and must not pass for a clean one. */
bool engine_state_missing(const char *path);
/* rename(from, to), then fsync of to's directory: a file made under a
 * temporary name, complete and synced, appears at to, durably, or (a
 * power loss before) not at all.  0 or -errno; from may be at to
 * already when the fsync fails. */
int engine_state_place(const char *from, const char *to);

/* ---- engine_sync.c ---- */

/* Wait for a round that makes every map change made so far durable.
 * Returns 1 when that is already so (w is not used), 0 when w->fn(w, err)
 * will be called (err 0 or -EIO), -EIO when it cannot be done. */
int engine_sync_wait(struct engine *e, struct ewait *w);
void engine_sync_cqe(struct engine *e, const struct io_uring_cqe *cqe);
bool engine_sync_idle(const struct engine *e);
/* Shutdown: all maps and the activity log durable at once (bounded). */
void engine_sync_all(struct engine *e, uint64_t timeout_ns);
/* From the tick: waiters older than the flush timeout give up with -EIO
 * (a state disk that does not answer must not hang flushes). */
void engine_sync_tick(struct engine *e);

/* ---- engine_resync.c ---- */

void engine_resync_start(struct erepl *r);
void engine_resync_abort(struct erepl *r);
/* Called from the tick and after completions: start more copies. */
void engine_resync_pump(struct engine *e);
void engine_resync_step(struct ereq *q);
uint64_t engine_resync_rate(const struct erepl *r);
uint32_t engine_region_len(const struct engine *e, uint64_t region);

/* ---- engine_recover.c ---- */

/* When no replica is in sync: reconcile the reachable ones, if they are
 * enough and safe, and bring them in sync.  Called from the tick, when a
 * replica comes back, and after completions. */
void engine_recon_pump(struct engine *e);
void engine_recon_step(struct ereq *q);
/* At create, after an unclean stop (the activity log is not empty) or with
 * no replica in sync: reconcile now if possible, running the loop until
 * done.  Returns 0 or a -errno of the loop. */
int engine_recover(struct engine *e);

#endif /* TAPESTRY_ENGINE_INT_H */
