/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_remote: a replica behind a TCP connection to a replica server
 * (docs/replication-protocol.md).  Frames are pipelined; replies are
 * matched by tag and may come back in any order.
 *
 * Sends: concurrent sends on one stream socket could interleave, so a
 * connection has at most one sendmsg in flight; it carries every frame
 * queued (up to BATCH_MAX), which costs the kernel one TCP send instead of
 * one per frame.  Each frame still gets its own start marker for
 * zonetrace, as include/abi/udata.h describes: an IORING_OP_NOP tagged
 * UD_CLS_REPL | UD_F_REMOTE with the frame's zone and index, submitted in
 * the same io_uring_enter just before the sendmsg.  Receives: one recv at
 * a time into a buffer big enough for the largest reply.  When a reply has
 * been parsed, a NOP tagged UD_CLS_REPL_DONE (UD_F_ERROR if it failed)
 * ends the request for zonetrace.
 */
#include "engine_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc.h"
#include "dirtymap.h"
#include "log.h"
#include "proto.h"

#define BATCH_MAX	64	/* frames per sendmsg */
#define RX_CAP		(REPL_HDR_SIZE + REPL_MAX_PAYLOAD + \
			 REPL_MAX_RESYNC_EXTRA + 65536)

/* CONN_EPOCH: connected, waiting for a durable epoch to say HELLO with. */
enum { CONN_DOWN, CONN_CONNECTING, CONN_EPOCH, CONN_HELLO, CONN_UP };

/* Ops of the connection's own SQEs (class UD_CLS_REPL_RX). */
#define COP_CONNECT	UD_OP_OTHER
#define COP_HELLO	UD_OP_WRITE
#define COP_RECV	UD_OP_READ
#define COP_TIMEOUT	UD_OP_NONE
#define COP_SEND	UD_OP_FLUSH	/* a batch of frames */

struct econn {
	struct erepl *r;
	struct sockaddr_in sa;
	int fd;
	int state;
	unsigned int nsqe;	/* SQEs of this connection in the kernel */
	uint64_t volume_id;
	uint64_t applied_seq;
	uint64_t t_connect;	/* when the connect went out */
	uint64_t epoch;		/* of this connection's HELLO: every frame
				 * on it must carry the same */
	uint32_t txq_head, txq_tail, txq_len;	/* request index + 1 */
	/* the batch of frames in flight: at most one sendmsg at a time */
	uint32_t batch[BATCH_MAX];	/* request indexes */
	unsigned int batch_n;
	size_t batch_bytes;
	struct iovec iov[BATCH_MAX * 3];
	struct msghdr msg;
	uint8_t hello_hdr[REPL_HDR_SIZE];
	struct repl_hello hello;
	struct iovec hiov[2];
	struct msghdr hmsg;
	struct __kernel_timespec cto;
	uint8_t *rx;
	uint32_t rx_head, rx_tail;
	bool refused;		/* the HELLO was refused: logged as such,
				 * not as a bad frame */
};

static uint64_t conn_ud(const struct erepl *r, unsigned int op)
{
	return ud_make(UD_CLS_REPL_RX, op, r->zone_id, 0,
		       (r->e->num << EIDX_SHIFT) | r->idx);
}

int engine_remote_init(struct erepl *r, const char *addr)
{
	struct econn *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r->conn = c;
	c->r = r;
	c->fd = -1;
	/* engine_create() checked it (engine_opts_check). */
	if (engine_addr_parse(addr, &c->sa)) {
		log_err("%s: replica %s: address '%s' is not IPv4:PORT",
			r->e->name, r->zone, addr);
		return -EINVAL;
	}
	c->rx = malloc(RX_CAP);
	if (!c->rx)
		return -ENOMEM;
	return engine_unsync_init(&r->unsync, r->e->size);
}

void engine_remote_free(struct erepl *r)
{
	struct econn *c = r->conn;

	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->rx);
	free(c);
	r->conn = NULL;
	engine_unsync_free(&r->unsync);
}

bool engine_remote_idle(const struct erepl *r)
{
	return !r->conn || (r->conn->state == CONN_DOWN && !r->conn->nsqe);
}

uint64_t engine_remote_applied_seq(const struct erepl *r)
{
	return r->conn ? r->conn->applied_seq : 0;
}

static void maybe_close(struct econn *c)
{
	if (c->state == CONN_DOWN && !c->nsqe && c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Stop using the connection: whatever is out fails, and the kernel hands
 * back every SQE of it (shutdown wakes the recv and any send). */
void engine_remote_shutdown(struct erepl *r)
{
	struct econn *c = r->conn;

	if (!c || c->state == CONN_DOWN)
		return;
	c->state = CONN_DOWN;
	c->txq_head = c->txq_tail = c->txq_len = 0;
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	maybe_close(c);
}

static void conn_fail(struct econn *c, int err, const char *what)
{
	struct erepl *r = c->r;
	bool was_up = c->state == CONN_UP;

	if (c->state == CONN_DOWN)
		return;
	engine_remote_shutdown(r);
	if (!was_up) {
		if (!r->e->in_create)
			log_debug("%s: replica %s: %s: %s", r->e->name,
				  r->zone, what, strerror(-err));
		else
			log_warn("%s: replica %s: %s: %s", r->e->name,
				 r->zone, what, strerror(-err));
		if (!r->e->in_create)
			engine_schedule_retry(r);
		return;
	}
	engine_replica_fail(r, err, what);
}

static int post_recv(struct econn *c)
{
	struct io_uring_sqe *sqe = uloop_get_sqe(c->r->e->loop);

	if (!sqe)
		return -EBUSY;
	if (c->rx_head == c->rx_tail) {
		c->rx_head = c->rx_tail = 0;
	} else if (RX_CAP - c->rx_tail < REPL_HDR_SIZE + 65536) {
		memmove(c->rx, c->rx + c->rx_head, c->rx_tail - c->rx_head);
		c->rx_tail -= c->rx_head;
		c->rx_head = 0;
	}
	io_uring_prep_recv(sqe, c->fd, c->rx + c->rx_tail,
			   RX_CAP - c->rx_tail, 0);
	io_uring_sqe_set_data64(sqe, conn_ud(c->r, COP_RECV));
	c->nsqe++;
	return 0;
}

int engine_remote_connect(struct erepl *r)
{
	struct econn *c = r->conn;
	struct io_uring_sqe *sqe, *tsqe;
	uint64_t to = r->e->hard_ns * 2;
	int one = 1, bufsz = 4 << 20;

	if (c->state != CONN_DOWN || c->nsqe)
		return -EBUSY;
	maybe_close(c);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Room for a few 1 MiB frames each way, so a chain of sends does
	 * not stall on the window. */
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	/* Fill each SQE before asking for the next: asking may submit what
	 * is queued, an unfilled SQE too (whatever op its slot last held). */
	sqe = uloop_get_sqe(r->e->loop);
	if (!sqe) {
		close(c->fd);
		c->fd = -1;
		return -EBUSY;
	}
	if (to < 1000000000ULL)
		to = 1000000000ULL;
	c->cto.tv_sec = (long long)(to / 1000000000ULL);
	c->cto.tv_nsec = (long long)(to % 1000000000ULL);
	io_uring_prep_connect(sqe, c->fd, (struct sockaddr *)&c->sa,
			      sizeof(c->sa));
	io_uring_sqe_set_data64(sqe, conn_ud(r, COP_CONNECT));
	sqe->flags |= IOSQE_IO_LINK;
	c->nsqe++;
	/* uloop_get_sqe keeps room for a chain, so this fails only if the
	 * SQ is tiny and cannot be submitted: the connect, already queued,
	 * then goes out alone and ends with the kernel's own timeout. */
	tsqe = uloop_get_sqe(r->e->loop);
	if (tsqe) {
		io_uring_prep_link_timeout(tsqe, &c->cto, 0);
		io_uring_sqe_set_data64(tsqe, conn_ud(r, COP_TIMEOUT));
		c->nsqe++;
	} else {
		sqe->flags &= ~IOSQE_IO_LINK;
	}
	c->state = CONN_CONNECTING;
	c->t_connect = uloop_live_clock(r->e->loop);
	c->rx_head = c->rx_tail = 0;
	return 0;
}

static int send_hello(struct econn *c)
{
	struct engine *e = c->r->e;
	struct io_uring_sqe *sqe = uloop_get_sqe(e->loop);
	struct repl_hdr h;

	if (!sqe)
		return -EBUSY;
	c->epoch = e->st.epoch;
	memset(&c->hello, 0, sizeof(c->hello));
	c->hello.size = htole64(e->size);
	c->hello.block_size = htole32(e->bs);
	snprintf(c->hello.volume, sizeof(c->hello.volume), "%s", e->name);
	snprintf(c->hello.zone, sizeof(c->hello.zone), "%s", c->r->zone);
	memset(&h, 0, sizeof(h));
	h.op = REPL_OP_HELLO;
	h.flags = e->create ? REPL_F_CREATE : 0;
	if (dirtymap_flags(c->r->missed) & EMISSED_SYNC_FAILED)
		h.flags |= REPL_F_SYNC_FAILED;
	h.len = sizeof(c->hello);
	h.epoch = c->epoch;
	h.payload_crc = proto_payload_crc(&c->hello, sizeof(c->hello));
	proto_encode(&h, c->hello_hdr);
	c->hiov[0].iov_base = c->hello_hdr;
	c->hiov[0].iov_len = REPL_HDR_SIZE;
	c->hiov[1].iov_base = &c->hello;
	c->hiov[1].iov_len = sizeof(c->hello);
	memset(&c->hmsg, 0, sizeof(c->hmsg));
	c->hmsg.msg_iov = c->hiov;
	c->hmsg.msg_iovlen = 2;
	io_uring_prep_sendmsg(sqe, c->fd, &c->hmsg, MSG_WAITALL | MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, conn_ud(c->r, COP_HELLO));
	c->nsqe++;
	c->state = CONN_HELLO;
	c->refused = false;
	return post_recv(c);
}

/* Connected: say HELLO with a new epoch.  Reconnecting, frames of the
 * dead connection may still be queued somewhere on the way (a stalled
 * network).  A new epoch makes the server refuse them once this HELLO has
 * raised its generation, so an old write can never land after the resync
 * copies.  Each connection keeps the epoch of its own HELLO (the server
 * wants every frame on it to carry that one).  Epochs are reserved ahead
 * (engine_state.c); without one durable yet the connection waits for
 * engine_remote_state_durable(). */
static int connected(struct econn *c)
{
	struct engine *e = c->r->e;
	int err;

	if (!e->in_create) {
		err = engine_state_bump_epoch(e);
		if (err == -EAGAIN) {
			c->state = CONN_EPOCH;
			return 0;
		}
		if (err)
			return err;
	}
	return send_hello(c);
}

void engine_remote_state_durable(struct erepl *r, int err)
{
	struct econn *c = r->conn;

	if (!c || c->state != CONN_EPOCH)
		return;
	err = err ? err : connected(c);
	if (err)
		conn_fail(c, err, "hello");
}

static void kick(struct econn *c);

/* ---- frames ---- */

static uint64_t tag_of(const struct ereq *q, unsigned int ri)
{
	return ((uint64_t)q->gen << 32) | ((uint64_t)q->idx << 8) | ri;
}

static uint32_t frame_op(const struct ereq *q, uint8_t *flags)
{
	*flags = 0;
	switch (q->op) {
	case EOP_READ:
		return REPL_OP_READ;
	case EOP_WRITE:
		*flags = q->fua ? REPL_F_FUA : 0;
		return REPL_OP_WRITE;
	case EOP_FLUSH:
		/* Only the flush that says so: the flag ends the replica's
		 * "sync failed", so no other flush may carry it. */
		*flags = q->full_copy ? REPL_F_FULL_COPY : 0;
		return REPL_OP_FLUSH;
	case EOP_TRIM:
		*flags = q->fua ? REPL_F_FUA : 0;
		return REPL_OP_TRIM;
	case EOP_ZERO:
		*flags = q->fua ? REPL_F_FUA : 0;
		return REPL_OP_ZERO;
	case EOP_RREAD:
		return REPL_OP_RESYNC_READ;
	default:
		*flags = REPL_F_RESYNC;
		return REPL_OP_WRITE;
	}
}

/* Header and iovecs of q's frame to r: the header, then the payload (a
 * resync write carries its seqs, then its data). */
static void build_frame(struct erepl *r, struct ereq *q)
{
	struct esub *s = &q->sub[r->idx];
	struct repl_hdr h;
	unsigned int niov = 1;
	uint32_t nseq;
	uint8_t *rb;

	memset(&h, 0, sizeof(h));
	h.op = (uint8_t)frame_op(q, &h.flags);
	h.len = q->op == EOP_FLUSH ? 0 : q->len;
	h.volume_id = r->conn->volume_id;
	h.offset = q->off;
	h.seq = q->seq;
	h.epoch = r->conn->epoch;
	h.tag = tag_of(q, r->idx);
	if (q->op == EOP_WRITE) {
		if (!q->crc_ok) {
			q->crc = proto_payload_crc(q->buf->base, q->len);
			q->crc_ok = 1;
		}
		h.payload_crc = q->crc;
		s->iov[niov].iov_base = q->buf->base;
		s->iov[niov++].iov_len = q->len;
	} else if (q->op == EOP_RWRITE) {
		nseq = q->len / r->e->bs * 8;
		rb = q->rsb[q->rs_src].base;
		h.len = nseq + q->len;
		h.payload_crc = crc32c(crc32c(0, rb, nseq),
				       rb + ERS_SEQ_BYTES, q->len);
		s->iov[niov].iov_base = rb;
		s->iov[niov++].iov_len = nseq;
		s->iov[niov].iov_base = rb + ERS_SEQ_BYTES;
		s->iov[niov++].iov_len = q->len;
	}
	proto_encode(&h, s->hdr);
	s->iov[0].iov_base = s->hdr;
	s->iov[0].iov_len = REPL_HDR_SIZE;
	memset(&s->msg, 0, sizeof(s->msg));
	s->msg.msg_iov = s->iov;
	s->msg.msg_iovlen = niov;
}

int engine_remote_submit(struct erepl *r, struct ereq *q)
{
	struct econn *c = r->conn;
	struct esub *s = &q->sub[r->idx];

	if (c->state != CONN_UP)
		return -ENOTCONN;	/* not the server's EIO (a storage error) */
	build_frame(r, q);
	if (engine_op_writes(q->op))
		engine_unsync_write(&r->unsync, q->off, q->len);
	else if (q->op == EOP_FLUSH)
		engine_unsync_flush_sent(&r->unsync, tag_of(q, r->idx));
	s->tx_next = 0;
	if (c->txq_tail)
		r->e->reqs[c->txq_tail - 1].sub[r->idx].tx_next = q->idx + 1;
	else
		c->txq_head = q->idx + 1;
	c->txq_tail = q->idx + 1;
	c->txq_len++;
	kick(c);
	return 0;
}

/* Send the queued frames, if no send is out: one sendmsg carrying up to
 * BATCH_MAX frames (one TCP send instead of one per frame), preceded in
 * the same submission by one start marker per frame (see the top of the
 * file). */
static void kick(struct econn *c)
{
	struct erepl *r = c->r;
	struct engine *e = r->e;
	struct io_uring *ring = uloop_ring(e->loop);
	struct io_uring_sqe *sqe;
	unsigned int n, i, j, niov = 0;
	uint64_t now;

	if (c->batch_n || !c->txq_len || c->state != CONN_UP)
		return;
	n = c->txq_len < BATCH_MAX ? c->txq_len : BATCH_MAX;
	if (io_uring_sq_space_left(ring) < n + 1)
		io_uring_submit(ring);
	if (io_uring_sq_space_left(ring) < 2)
		return;		/* the next completion kicks again */
	if (io_uring_sq_space_left(ring) < n + 1)
		n = io_uring_sq_space_left(ring) - 1;
	now = uloop_clock(e->loop);
	c->batch_bytes = 0;
	for (i = 0; i < n; i++) {
		struct ereq *q = &e->reqs[c->txq_head - 1];
		struct esub *s = &q->sub[r->idx];

		c->txq_head = s->tx_next;
		if (!--c->txq_len)
			c->txq_tail = 0;
		for (j = 0; j < s->msg.msg_iovlen; j++) {
			c->iov[niov++] = s->iov[j];
			c->batch_bytes += s->iov[j].iov_len;
		}
		sqe = io_uring_get_sqe(ring);
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, engine_ud(e, q, r,
						       engine_ud_op(q),
						       UD_F_REMOTE));
		s->t_sqe = now;
		s->kref++;
		c->batch[i] = q->idx;
	}
	c->batch_n = n;
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = niov;
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_WAITALL | MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, conn_ud(r, COP_SEND));
	c->nsqe++;
}

/* The batch's sendmsg is done: the kernel holds none of its buffers. */
static void on_send(struct econn *c, int res)
{
	struct engine *e = c->r->e;
	unsigned int i, n = c->batch_n;

	c->batch_n = 0;
	if (res < 0 || (size_t)res != c->batch_bytes)
		conn_fail(c, res < 0 ? res : -EIO, "send");
	for (i = 0; i < n; i++)
		engine_sub_unref(&e->reqs[c->batch[i]], c->r->idx);
	kick(c);
}

/* A server that takes the connection but never answers the HELLO (a
 * partitioned zone behind a proxy, a wedged server) must not hold the
 * replica in limbo: the same bound as the connect's own timeout, in live
 * time (now) like every other deadline. */
void engine_remote_tick(struct erepl *r, uint64_t now)
{
	struct econn *c = r->conn;
	uint64_t limit = r->e->hard_ns * 2;

	if (limit < 1000000000ULL)
		limit = 1000000000ULL;
	if (c && (c->state == CONN_CONNECTING || c->state == CONN_EPOCH ||
		  c->state == CONN_HELLO) && now - c->t_connect > limit)
		conn_fail(c, -ETIMEDOUT, "hello");
}

/* A frame's start marker completed: nothing to do, it exists for
 * zonetrace. */
void engine_remote_send_cqe(struct engine *e, struct ereq *q, struct erepl *r,
			    const struct io_uring_cqe *cqe)
{
	(void)e;
	(void)q;
	(void)r;
	(void)cqe;
}

/* ---- replies ---- */

static void done_marker(struct erepl *r, struct ereq *q, bool err)
{
	struct io_uring_sqe *sqe = uloop_get_sqe(r->e->loop);

	if (!sqe)
		return;
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, ud_make(UD_CLS_REPL_DONE, engine_ud_op(q),
					     r->zone_id, err ? UD_F_ERROR : 0,
					     ud_index(engine_ud(r->e, q, r, 0, 0))));
}

void engine_remote_abandon(struct erepl *r, struct ereq *q)
{
	done_marker(r, q, true);
}

/* Mark empty the replicas that said HELLO with no write before the volume
 * was known to hold any from before this run.  One that is up already
 * (resyncing only its dirty map, or in sync) is failed, to be resynced in
 * full after it reconnects.  At create engine_remote_check_empty does it. */
static void note_had_data(struct engine *e)
{
	unsigned int i;

	if (e->had_data)
		return;
	e->had_data = true;
	if (e->in_create)
		return;
	for (i = 0; i < e->nr; i++) {
		struct erepl *r = &e->repl[i];

		if (!r->maybe_empty)
			continue;
		r->maybe_empty = false;
		engine_mark_empty(r, "holds none of the volume's earlier "
				     "writes");
		if (r->up)
			engine_replica_fail(r, -ENODATA, "held no write");
	}
}

/* r's server refused the HELLO with status (a positive errno).  Said
 * once per reason: a refusal repeats at every retry, for as long as the
 * server stays as it is (engine_schedule_retry backs off to
 * ERETRY_REFUSED_NS meanwhile).  Returns -status. */
static int hello_refused(struct erepl *r, uint32_t status)
{
	struct engine *e = r->e;
	unsigned long long every = ERETRY_REFUSED_NS / 1000000000ULL;
	bool said = r->hello_refused == status;

	r->hello_refused = status;
	if (said)
		return -(int)status;
	if (status == ENOTRECOVERABLE)
		/* Its server's sync of the volume failed in its current run:
		 * every FLUSH there fails until it restarts, so a copy to it
		 * (all of the volume: any write it acked may be lost) could
		 * never be made durable, and would be made again at each
		 * reconnect.  It stays degraded, nothing is marked or
		 * copied; the retries only look for the restart. */
		log_warn("%s: replica %s refused hello: a sync of the "
			 "volume failed there since its server started; it "
			 "stays degraded until that server is restarted (then "
			 "it is copied in full)", e->name, r->zone);
	else
		log_warn("%s: replica %s refused hello: %s%s; it stays "
			 "degraded, retried up to every %llu s, said again "
			 "only if the answer changes", e->name, r->zone,
			 strerror((int)status),
			 status == EPROTO ? " (a server older than this "
					    "engine, that does not know a "
					    "HELLO flag it sent?)" : "",
			 every);
	return -(int)status;
}

static int hello_reply(struct econn *c, const struct repl_hdr *h,
		       const uint8_t *payload)
{
	struct erepl *r = c->r;
	struct engine *e = r->e;
	struct repl_status st;
	uint64_t lost, durable;

	if (h->op != REPL_OP_HELLO)
		return -EPROTO;
	c->refused = h->status != 0;
	if (h->status)
		return hello_refused(r, h->status);
	r->hello_refused = 0;
	if (proto_check_payload(h, payload))
		return -EBADMSG;
	memcpy(&st, payload, sizeof(st));
	if (le64toh(st.size) != e->size || le32toh(st.block_size) != e->bs) {
		log_err("%s: replica %s has size %llu, block size %u; the "
			"volume has %llu, %u", e->name, r->zone,
			(unsigned long long)le64toh(st.size),
			le32toh(st.block_size), (unsigned long long)e->size,
			e->bs);
		return -EINVAL;
	}
	c->volume_id = h->volume_id;
	c->applied_seq = le64toh(st.applied_seq);
	engine_state_seen_seq(e, c->applied_seq);
	/* Below a seq a good FLUSH made durable there: it was rolled back
	 * (restored from a backup), and may lack any write since. */
	durable = engine_unsync_rollback(&r->unsync, c->applied_seq);
	/* Below a seq it acked: its server lost writes (engine_unsync.c) */
	lost = engine_unsync_hello(r, c->applied_seq);
	if (durable) {
		log_warn("%s: replica %s says applied seq %llu, below seq %llu "
			 "that a good flush made durable there: it lost "
			 "flushed writes (restored from a backup?)", e->name,
			 r->zone, (unsigned long long)c->applied_seq,
			 (unsigned long long)durable);
		engine_mark_empty(r, "was rolled back");
	}
	/* A replica that holds no write at all, of a volume that has some,
	 * is a new image (the server made it on REPL_F_CREATE: a wiped data
	 * dir, a replaced disk): what it missed while away is not all it
	 * lacks.  At create this is judged once every replica has answered
	 * (engine_remote_check_empty); later, if no replica is known to
	 * hold a write yet, once one does (note_had_data).  Not when its
	 * server zeroed every seq after losing its page cache and the
	 * regions just marked are all it ever held (engine_unsync_all). */
	if (c->applied_seq) {
		e->written = true;
		if (!r->said_hello)
			note_had_data(e);
	} else if (e->written && !e->in_create && !engine_unsync_all(r, lost)) {
		r->maybe_empty = false;
		engine_mark_empty(r, "holds no write");
	} else if (!e->in_create) {
		r->maybe_empty = true;
	}
	r->said_hello = true;
	/* A sync failed there (a FLUSH of ours, or its own at close): any
	 * write it acked may be lost, not only what it is known to have
	 * missed.  Told again after its restart, whose seq reset lets the
	 * copies land. */
	r->full_copy = EFC_NONE;
	if (le32toh(st.state) == REPL_STATE_SYNC_FAILED) {
		engine_mark_empty(r, "reports a failed sync");
		r->full_copy = EFC_WANTED;
		/* Its own record says so now (the reply waited for it). */
		dirtymap_set_flags(r->missed, dirtymap_flags(r->missed) &
					      ~EMISSED_SYNC_FAILED);
	}
	/* Not said (an older server, or a file system that cannot punch
	 * holes): its zeroes may write, so NBD's FAST_ZERO is refused. */
	r->zero_fast = h->flags & REPL_F_ZERO_FAST;
	c->state = CONN_UP;
	engine_replica_up(r);
	return 0;
}

static bool holds_nothing(const struct erepl *r)
{
	return !r->local && r->up && !engine_remote_applied_seq(r);
}

void engine_remote_check_empty(struct engine *e)
{
	unsigned int i, remotes = 0;

	for (i = 0; i < e->nr; i++)
		remotes += !e->repl[i].local;
	/* Nothing is written yet in this run: what replicas hold is from
	 * before.  The local replicas' seqmaps are scanned only if no remote
	 * said so and some remote may hold nothing (now or once up). */
	for (i = 0; i < e->nr && remotes && !e->written; i++)
		if (e->repl[i].local && engine_local_written(&e->repl[i]))
			e->written = true;
	e->had_data = e->written;
	for (i = 0; i < e->nr; i++) {
		if (!holds_nothing(&e->repl[i]))
			continue;
		if (e->had_data)
			engine_mark_empty(&e->repl[i], "holds no write");
		else
			e->repl[i].maybe_empty = true;
	}
}

/* The sub a reply answers, or NULL if the tag names none that is out. */
static struct ereq *reply_req(struct econn *c, const struct repl_hdr *h)
{
	struct engine *e = c->r->e;
	uint32_t idx = (uint32_t)(h->tag >> 8) & EIDX_MASK;
	struct ereq *q;
	uint8_t flags;

	if ((h->tag & 0xff) != c->r->idx || idx >= e->nr_reqs)
		return NULL;
	q = &e->reqs[idx];
	if (q->gen != (uint32_t)(h->tag >> 32) ||
	    q->sub[c->r->idx].state != SUB_ISSUED || frame_op(q, &flags) != h->op)
		return NULL;
	return q;
}

/* Copy a read's or resync read's payload where its request wants it. */
static int take_payload(struct erepl *r, struct ereq *q,
			const struct repl_hdr *h, const uint8_t *payload)
{
	uint32_t nseq = q->len / r->e->bs * 8;
	uint8_t *rb;

	if (q->op == EOP_READ) {
		if (h->len != q->len || proto_check_payload(h, payload))
			return -EBADMSG;
		memcpy(q->buf->base, payload, q->len);
	} else if (q->op == EOP_RREAD) {
		if (h->len != nseq + q->len || proto_check_payload(h, payload))
			return -EBADMSG;
		rb = q->rsb[r->idx].base;
		memcpy(rb, payload, nseq);
		memcpy(rb + ERS_SEQ_BYTES, payload + nseq, q->len);
	} else if (q->op == EOP_RWRITE) {
		q->rs_bytes += q->len;
	}
	return 0;
}

/* What a reply h tells engine_unsync.c: the highest seq the replica
 * acked (a resync copy's: the newest block it sent), a FLUSH's end and
 * the synced seq its server had recorded (h->seq). */
static void unsync_reply(struct erepl *r, const struct ereq *q,
			 const struct repl_hdr *h, int err)
{
	uint32_t i, n = q->len / r->e->bs;
	uint64_t seq;
	const uint8_t *rb;

	if (q->op == EOP_FLUSH) {
		engine_unsync_flush_done(&r->unsync, h->tag, err, h->seq);
		return;
	}
	if (err || !engine_op_writes(q->op))
		return;
	if (q->op != EOP_RWRITE) {
		engine_unsync_acked(&r->unsync, q->seq);
		return;
	}
	rb = q->rsb[q->rs_src].base;
	for (i = 0; i < n; i++) {
		memcpy(&seq, rb + (size_t)i * 8, 8);
		engine_unsync_acked(&r->unsync, le64toh(seq));
	}
}

static int reply(struct econn *c, const struct repl_hdr *h,
		 const uint8_t *payload)
{
	struct erepl *r = c->r;
	struct ereq *q;
	int err;

	if (c->state == CONN_HELLO)
		return hello_reply(c, h, payload);
	q = reply_req(c, h);
	if (!q)
		return -EPROTO;
	err = h->status ? -(int)h->status : take_payload(r, q, h, payload);
	unsync_reply(r, q, h, err);
	done_marker(r, q, err != 0);
	if (err == -EBADMSG)
		return err;	/* the stream is not to be trusted */
	if (!err)
		engine_record_latency(r, &q->sub[r->idx],
				      engine_op_writes(q->op));
	engine_sub_done(q, r->idx, err);
	return 0;
}

/* Parse every whole frame in the receive buffer. */
static int parse(struct econn *c)
{
	struct repl_hdr h;
	uint32_t plen;
	int err;

	while (c->state != CONN_DOWN &&
	       c->rx_tail - c->rx_head >= REPL_HDR_SIZE) {
		err = proto_decode(c->rx + c->rx_head, REPL_MAX_PAYLOAD, &h);
		if (err || !(h.flags & REPL_F_REPLY))
			return err ? err : -EPROTO;
		plen = proto_has_payload(&h) ? h.len : 0;
		if (c->rx_tail - c->rx_head < REPL_HDR_SIZE + plen) {
			/* A partial frame: make room for all of it. */
			if (RX_CAP - c->rx_head < REPL_HDR_SIZE + plen) {
				memmove(c->rx, c->rx + c->rx_head,
					c->rx_tail - c->rx_head);
				c->rx_tail -= c->rx_head;
				c->rx_head = 0;
			}
			break;
		}
		err = reply(c, &h, c->rx + c->rx_head + REPL_HDR_SIZE);
		if (err)
			return err;
		c->rx_head += REPL_HDR_SIZE + plen;
	}
	return 0;
}

static void on_recv(struct econn *c, int res)
{
	int err;

	if (c->state == CONN_DOWN)
		return;
	if (res <= 0) {
		conn_fail(c, res ? res : -ECONNRESET, "connection");
		return;
	}
	c->rx_tail += (uint32_t)res;
	err = parse(c);
	if (err) {
		if (!c->refused)
			log_err("%s: replica %s sent a bad frame: %s",
				c->r->e->name, c->r->zone, strerror(-err));
		conn_fail(c, err, "reply");
		return;
	}
	if (c->state != CONN_DOWN && (err = post_recv(c)))
		conn_fail(c, err, "recv");
}

void engine_remote_conn_cqe(struct engine *e, const struct io_uring_cqe *cqe)
{
	unsigned int ri = ud_index(cqe->user_data) & EIDX_MASK;
	struct econn *c;
	int err;

	if (ri >= e->nr || !(c = e->repl[ri].conn))
		return;
	c->nsqe--;
	switch (ud_op(cqe->user_data)) {
	case COP_CONNECT:
		if (c->state != CONN_CONNECTING)
			break;
		if (cqe->res < 0)
			conn_fail(c, cqe->res, "connect");
		else if ((err = connected(c)))
			conn_fail(c, err, "hello");
		break;
	case COP_HELLO:
		if (cqe->res != (int)(REPL_HDR_SIZE + sizeof(c->hello)))
			conn_fail(c, cqe->res < 0 ? cqe->res : -EIO, "hello");
		break;
	case COP_RECV:
		on_recv(c, cqe->res);
		break;
	case COP_SEND:
		on_send(c, cqe->res);
		break;
	default:	/* the connect's link timeout */
		break;
	}
	maybe_close(c);
}
