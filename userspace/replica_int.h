/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replica_int: the replica server's internal types, shared by its files:
 * replica.c (the server's life: listening, accepting, completions,
 * draining), replica_conn.c (connections: frames in, requests dispatched,
 * replies out), replica_vol.c (volume files and metadata) and
 * replica_io.c (running a request against a volume).  Nothing outside
 * the server includes this.
 */
#ifndef TAPESTRY_REPLICA_INT_H
#define TAPESTRY_REPLICA_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "abi/repl.h"
#include "replica.h"
#include "replica_rules.h"
#include "replica_rx.h"
#include "seqmap.h"
#include "stallprobe.h"
#include "uloop.h"

/*
 * user_data index of the server's SQEs (class UD_CLS_SERVER):
 *   31..28 kind (RK_*), 27..12 connection or volume id, 11..0 slot or part.
 */
enum replica_kind {
	RK_ACCEPT = 1,
	RK_RECV,
	RK_SEND,
	RK_SHUT,
	RK_IO,		/* a request slot's image I/O */
	RK_META,	/* a volume's metadata write (part 0) and sync (1) */
	RK_VSYNC,	/* a volume's fdatasyncs before it is marked clean */
	RK_CANCEL,	/* cancelling the accept */
	RK_PROBE,	/* cancelling a connection's direct recv (a probe) */
};

#define RK_MAX_ID	0xffffU
#define RK_MAX_SUB	0xfffU

static inline uint64_t replica_ud(enum replica_kind k, unsigned int op,
				  unsigned int id, unsigned int sub)
{
	return ud_make(UD_CLS_SERVER, op, UD_ZONE_NONE, 0,
		       ((uint32_t)k << 28) | ((id & RK_MAX_ID) << 12) |
		       (sub & RK_MAX_SUB));
}

#define REPLICA_MAX_HANDLES	16	/* volumes open per connection */
#define REPLICA_RXBUF		(64U * 1024)
#define REPLICA_TX_BATCH	32	/* replies per sendmsg */
/* Payload still missing at least this much goes straight into its buffer
 * instead of through the receive buffer. */
#define REPLICA_DIRECT_MIN	(16U * 1024)
/* A FLUSH's fdatasyncs block an io_uring worker thread each for as long
 * as the disk takes, and file writes that cannot be done inline wait for a
 * worker from the same pool (by default 4 per CPU).  So the server keeps
 * at most REPLICA_SYNC_MAX flush fdatasyncs in flight (more FLUSHes wait
 * their turn, as they would for a worker) and lets the pool grow to
 * REPLICA_IOWQ_BOUNDED: at least that difference is always left for the
 * requests behind the flushes, which a FLUSH does not cover and which
 * must not wait for its fdatasync. */
#define REPLICA_SYNC_MAX	64
#define REPLICA_IOWQ_BOUNDED	192

struct rvol {
	struct replica *r;
	unsigned int id;		/* index in r->vols */
	char name[REPL_NAME_MAX];
	int fd_img, fd_seq, fd_meta;
	bool direct;			/* image opened O_DIRECT */
	bool zero_fast;			/* ZERO punches holes here: HELLO
					 * replies say REPL_F_ZERO_FAST */
	uint64_t mnt_id;		/* the image's unique mount id (0:
					 * unknown); records say it */
	struct seqmap *seq;
	struct replica_volinfo info;	/* size, block size, generation */
	uint64_t applied_seq, bytes_written;
	/* synced_seq: every block whose seq is at most this had data and
	 * seq synced together (or holds an older seq on newer data); what
	 * the next record says (replica_meta.synced_seq).  A good FLUSH
	 * raises it to the seq its fdatasyncs could vouch for when they
	 * started (replica_io.c, flush_cand), unless a seq at most that was
	 * recorded since (ooo counts records of seqs at most ooo_below, the
	 * highest such claim so far);
	 * a record of a seq at most synced_seq, or synced_disk, first
	 * lowers it below that seq, durably (seq_waiters wait for the
	 * record).  synced_disk: the highest value a record on disk may
	 * hold (one in flight included). */
	uint64_t synced_seq, synced_disk, synced_in_flight, ooo, ooo_below;
	/* The lowest synced_seq a reader of NAME.meta may find now (the
	 * last record written, or one in flight if lower): what a good
	 * FLUSH's reply says (replica_vol_recorded). */
	uint64_t synced_rec;
	/* A FLUSH raised synced_seq since the last record began: the
	 * server's tick writes one (replica_vol_tick). */
	bool synced_raised;
	struct rslot *seq_waiters;	/* requests whose seqs wait for a
					 * record with a lower synced_seq */
	uint32_t state;			/* REPL_STATE_* in memory; what
					 * HELLO and STATUS say */
	unsigned int refs;		/* handles, and HELLOs in progress */
	struct replica_oq oq;		/* requests in arrival order */

	/* metadata persistence: change counts edits, persisted is the last
	 * edit on disk; one write (plus its sync) in flight at a time. */
	uint64_t change, persisted, in_flight_change;
	uint64_t meta_counter;
	unsigned int meta_pending;
	int meta_err;
	bool meta_failed;		/* the last write failed: change is
					 * not on disk */
	/* A failed write no HELLO waits for (a failed sync's record, say)
	 * is retried by the server's tick at meta_retry_ns (0: none due),
	 * each failure doubling meta_backoff_ns: see replica_vol_tick(). */
	uint64_t meta_retry_ns, meta_backoff_ns;
	uint8_t *meta_buf;
	struct rslot *waiters;		/* HELLOs waiting for persistence */

	/* A sync of its files failed (errno): Linux reports a writeback
	 * error to one fdatasync only, and may have dropped the writes it
	 * covered, so no later FLUSH may succeed and the volume is never
	 * recorded clean while the server runs. */
	int sync_failed;

	/* being made clean after its last handle went away */
	unsigned int sync_pending;
	/* Why it may not be recorded clean: a failed fdatasync (which also
	 * sets sync_failed), or EBUSY when not both could be submitted,
	 * which drops nothing and so must not set sync_failed. */
	int sync_err;
	bool sync_again;		/* used again while syncing */
	/* Syncs not both submitted (sync_err EBUSY) are started again by
	 * the server's tick at sync_retry_ns (0: none due), with the same
	 * backoff as meta_retry_ns. */
	uint64_t sync_retry_ns, sync_backoff_ns;
};

enum rslot_state {
	RS_FREE,
	RS_RX,		/* header in, payload or a buffer still to come */
	RS_WAIT,	/* queued behind an overlapping request */
	RS_RUN,		/* image I/O in flight, or waiting on metadata */
	RS_TX,		/* reply queued or being sent */
};

struct rslot {
	struct replica_oq_item oq;	/* first: see slot_of() */
	struct rconn *c;
	struct rvol *vol;
	struct repl_hdr req;
	struct uloop_buf *buf;
	uint32_t reply_len;
	uint32_t split;			/* reply payload bytes at buf->base ... */
	uint32_t data_off;		/* ... the rest from buf->base + data_off */
	uint32_t xfer;			/* bytes done by a single-op request */
	uint32_t owed;			/* resync WRITE: bytes submitted, not
					 * yet reported written */
	int res;			/* 0 or a positive errno */
	uint16_t idx;
	uint16_t pending;		/* SQEs in flight */
	enum rslot_state state;
	bool fallback;			/* ZERO retried without punch-hole */
	uint8_t syncs;			/* FLUSH: its fdatasyncs in flight */
	uint64_t meta_need;		/* HELLO: change that must be on disk */
	uint64_t seq_min;		/* write parked in seq_waiters: the
					 * lowest seq it records */
	uint64_t rec_min;		/* once started: the lowest seq its
					 * completion records (0: none) */
	uint64_t flush_seq, flush_ooo;	/* FLUSH: the seq it may vouch for,
					 * and rvol's ooo, when its
					 * fdatasyncs started */
	uint64_t hello_epoch;
	struct rslot *next;		/* free list, reply queue, waiters */
	uint8_t wire[REPL_HDR_SIZE];	/* the reply header */
	uint8_t inl[128] __attribute__((aligned(8)));	/* hello in, status out */
};

struct rhandle {
	struct rvol *vol;	/* NULL: free */
	uint64_t epoch;		/* of the HELLO that opened it */
};

struct rconn {
	struct replica *r;
	unsigned int id;
	int fd;
	char peer[64];
	struct replica_rx rx;
	uint8_t *rxbuf;
	uint32_t rx_pos, rx_end;
	struct stallprobe probe;	/* the recv in flight, and whether a
					 * cancel asks it how far it got
					 * (see replica_conn_stalled) */
	bool closing;		/* read no more; finish, then close */
	bool tx_dead;		/* sending failed: drop replies */
	bool shut_sent, rd_shut;
	bool kicked, want_slot;
	unsigned int ops;	/* network SQEs in flight */
	uint64_t recv_ns;	/* recv posted or data received */
	uint64_t send_ns;	/* sendmsg posted or data sent */

	struct rslot *slots;
	unsigned int nslots, nbusy;
	struct rslot *free_slots;
	struct rslot *cur;	/* frame being received, or parked */
	uint32_t cur_need;	/* bytes of buffer cur waits for (0: none) */
	bool cur_for_reply;	/* the buffer is for the reply, not payload */
	struct rconn *next_wait;	/* r->buf_waiters */
	struct rconn *next_kick;	/* r->kick */
	bool buf_waiting;

	struct rhandle handles[REPLICA_MAX_HANDLES];

	struct rslot *txq, *txq_tail;
	unsigned int nsending;	/* slots at the head of txq being sent */
	uint32_t tx_off;	/* bytes of the head slot already sent */
	struct iovec iov[REPLICA_TX_BATCH * 3];
	struct msghdr msg;
};

struct replica {
	struct uloop *loop;
	char zone[REPL_ZONE_MAX];
	int dir_fd, lock_fd, listen_fd;
	char addr[80];
	uint16_t port;
	bool accept_armed, cancel_sent;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct uloop_timer accept_timer;

	unsigned int max_conns, nslots;
	enum replica_io_mode io;
	struct rconn **conns;
	unsigned int nconns;
	struct rconn *kick;
	struct rconn *buf_waiters;

	struct rvol **vols;
	unsigned int vols_cap, nvols;
	/* The node's boot id, read at the first volume open (all zero:
	 * unknown); records say it (replica_meta.boot_id). */
	uint8_t boot_id[REPLICA_BOOT_ID_LEN];
	bool boot_id_read;
	/* Per file system (st_dev) an unclean open checked in this run, the
	 * first syncfs() error it met (0: none yet): syncfs reports a
	 * writeback error to one caller only, so the next volume's check
	 * on that file system would pass over dropped pages. */
	struct replica_fserr {
		dev_t dev;
		int err;
	} *fserr;
	unsigned int nfserr;

	bool draining, drain_expired, unclean;
	struct uloop_timer drain_timer;
	uint64_t client_timeout_ns;
	struct uloop_timer tick;	/* the stalled-client watchdog */

	unsigned int nsync;		/* flush fdatasyncs in flight */
	struct rslot *sync_head, *sync_tail;	/* FLUSHes waiting for room */
	uint64_t sync_waits;		/* FLUSHes that had to wait */
};

/* replica.c */
struct io_uring_sqe *replica_sqe(struct replica *r);
void replica_accept_arm(struct replica *r);

/* replica_conn.c */
void replica_conn_new(struct replica *r, int fd);
/* Read, assemble and dispatch what has arrived, as far as slots and
 * buffers allow; on a closing connection, finish it when it may. */
void replica_conn_process(struct rconn *c);
void replica_conn_recv_done(struct rconn *c, int res);
void replica_conn_send_done(struct rconn *c, int res);
void replica_conn_maybe_finish(struct rconn *c);
void replica_conn_close(struct rconn *c);
void replica_conn_cut(struct rconn *c, const char *why);
/* Whether c has kept the server waiting on it longer than limit_ns:
 * a reply it does not take, or the rest of a frame it began.  A payload
 * received in place is one recv that completes only when whole, so its
 * age says nothing of progress: instead of answering true, this cancels
 * it, which completes it with the bytes that did arrive (reception goes
 * on) or with -ECANCELED if none did (replica_conn_recv_done() then cuts
 * c off). */
bool replica_conn_stalled(struct rconn *c, uint64_t now, uint64_t limit_ns);
/* Finish a request: queue its reply (status res, reply_len payload bytes
 * from its buffer or inline area) or drop it if the peer is gone. */
void replica_reply(struct rslot *s, int res);
struct rhandle *replica_handle(struct rconn *c, uint64_t volume_id);

/* replica_vol.c */
struct rvol *replica_vol_find(struct replica *r, const char *name);
/* Open (or with hl->create, create) a volume replica: 0 or a positive
 * status (ENOENT, EINVAL, EIO...), logged. */
int replica_vol_open(struct replica *r, const struct replica_hello *hl,
		     struct rvol **out);
/* HELLO on an open volume (s holds a ref): raise the generation, mark it
 * dirty, and reply once that is on disk.  After a failed sync of v in
 * this run the reply, once the record saying so is on disk, refuses it
 * (ENOTRECOVERABLE): see replica_vol_refuse_hello(). */
void replica_vol_hello(struct rvol *v, struct rslot *s);
/* A HELLO for v (s holds no ref) is refused with ENOTRECOVERABLE, and
 * true returned, if a sync of v failed since the server started and the
 * record saying so is on disk: v then fails every FLUSH until a restart
 * resets its seqs, so a copy to it could never be made durable.  Else
 * false, nothing done. */
bool replica_vol_refuse_hello(struct rvol *v, struct rslot *s);
void replica_vol_get(struct rvol *v);
void replica_vol_put(struct rvol *v);
void replica_vol_cqe(struct replica *r, enum replica_kind k, unsigned int id,
		     unsigned int sub, int res);
void replica_vol_status(const struct rvol *v, const char *zone, void *out);
/* The synced seq S that v's record on disk holds at least, now: an
 * unclean open, whatever it zeroes, reports an applied_seq of at least
 * S, unless a write with a seq at most S lowers it first.  A good
 * FLUSH's reply says it (its header's seq). */
uint64_t replica_vol_recorded(const struct rvol *v);
/* The server's periodic tick (now: uloop_now): write the records of
 * synced_seq raised by FLUSHes since the last, retry the failed metadata
 * writes, and the close-time syncs that could not be submitted, that are
 * due. */
void replica_vol_tick(struct replica *r, uint64_t now);
void replica_vol_close_all(struct replica *r);

/* replica_io.c */
/* Registered-buffer bytes a checked request needs for its reply. */
uint32_t replica_io_reply_buf(const struct rslot *s);
/* A checked request on its volume: queue it in order, start it when it
 * may, reply when done. */
void replica_io_submit(struct rslot *s);
/* A completion of one of s's SQEs; ud_op is the op of its user_data. */
void replica_io_cqe(struct rslot *s, unsigned int ud_op, int res);
/* A sync of v's files failed with err (positive): see rvol.sync_failed. */
void replica_vol_sync_failed(struct rvol *v, int err);
/* A FLUSH whose fdatasyncs started when they could vouch for seq, and
 * v's ooo count was ooo, succeeded: raise v's synced_seq to seq unless a
 * seq at most that was recorded since; the record follows at the
 * server's next tick, or with any record written before. */
void replica_vol_flushed(struct rvol *v, uint64_t seq, uint64_t ooo);
/* A write whose lowest seq to record is seq_min: true if it may record
 * its seqs now; else false, and s waits (v->seq_waiters) for a record
 * saying a synced_seq below seq_min, then replica_io_seqs_durable(). */
bool replica_vol_seq_may_record(struct rvol *v, struct rslot *s,
				uint64_t seq_min);
/* A write parked by replica_vol_seq_may_record: its record is on disk
 * (err 0), or could not be written (err EIO: the write fails, its seqs
 * unrecorded, which leaves older seqs on newer data). */
void replica_io_seqs_durable(struct rslot *s, int err);
/* A FLUSH with REPL_F_FULL_COPY ended with res (0 or a positive errno):
 * a sync-failed volume whose copy is now durable is recorded dirty. */
void replica_vol_copied(struct rvol *v, int res);

#endif /* TAPESTRY_REPLICA_INT_H */
