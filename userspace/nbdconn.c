/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nbdconn: a connection's input and life: the handshake, requests parsed
 * out of the input buffer and started in the engine, and the connection's
 * end.  Its output (replies) is nbdsend.c.
 */
#include "nbdconn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"

#define DIRECT_MIN	(16 * 1024)	/* payload left to recv into place */
/* Chunks of one NO_HOLE zero in the engine at once: enough to keep the
 * replicas busy, few enough to leave the engine's slots to others. */
#define ZERO_DEPTH	8

static void hs_step(struct nbd_conn *c);
static void arm_recv(struct nbd_conn *c);

static struct io_uring_sqe *get_sqe(struct nbd_server *s)
{
	return uloop_get_sqe(s->loop);
}

/* ---- parking: connections waiting for a buffer or an engine slot ---- */

static void park(struct nbd_conn *c)
{
	struct nbd_server *s = c->s;

	if (c->parked)
		return;
	c->parked = true;
	c->park_next = NULL;
	c->park_prev = s->park_tail;
	if (s->park_tail)
		s->park_tail->park_next = c;
	else
		s->park_head = c;
	s->park_tail = c;
	s->nr_parked++;
}

static void unpark(struct nbd_conn *c)
{
	struct nbd_server *s = c->s;

	if (!c->parked)
		return;
	if (c->park_prev)
		c->park_prev->park_next = c->park_next;
	else
		s->park_head = c->park_next;
	if (c->park_next)
		c->park_next->park_prev = c->park_prev;
	else
		s->park_tail = c->park_prev;
	c->parked = false;
	s->nr_parked--;
}

/* Parked connections retry in the order they parked, once each per
 * iteration; then every connection with new replies sends them. */
void nbdconn_resume_parked(void *arg)
{
	struct nbd_server *s = arg;
	unsigned int n = s->nr_parked;
	struct nbd_conn *c;

	while (n-- && (c = s->park_head)) {
		unpark(c);
		nbdconn_process(c);
	}
	nbdconn_send_due(s);
}

/* ---- request slots ---- */

static struct nbd_req *slot_get(struct nbd_conn *c)
{
	struct nbd_req *q = c->free;

	c->free = q->next;
	q->next = NULL;
	q->buf = NULL;
	q->held = q->have = q->err = 0;
	q->hdr_len = q->data_len = 0;
	return q;
}

void nbdconn_buf_release(struct nbd_conn *c, struct nbd_req *q)
{
	if (q->buf)
		uloop_buf_put(c->s->loop, q->buf);
	q->buf = NULL;
	c->buf_bytes -= q->held;
	q->held = 0;
}

void nbdconn_slot_put(struct nbd_conn *c, struct nbd_req *q)
{
	nbdconn_buf_release(c, q);
	q->state = RQ_FREE;
	q->next = c->free;
	c->free = q;
}

/* A registered buffer for q, within the connection's share of the pool
 * (it may always hold one, so a big request cannot wedge it).  The share
 * counts whole buffers, as they are what the pool runs out of: a 4 KiB
 * read holds a 64 KiB buffer until its reply has gone out. */
static bool buf_take(struct nbd_conn *c, struct nbd_req *q)
{
	struct uloop_buf *b;

	if (uloop_buf_get(c->s->loop, q->r.len, &b)) {
		if (!c->pool_wait_ns)
			c->pool_wait_ns = uloop_now(c->s->loop);
		return false;
	}
	c->pool_wait_ns = 0;
	if (c->buf_bytes && c->buf_bytes + b->size > c->s->o.conn_buf_bytes) {
		uloop_buf_put(c->s->loop, b);
		return false;
	}
	q->buf = b;
	q->held = b->size;
	c->buf_bytes += b->size;
	return true;
}

/* ---- engine ---- */

static void req_done(void *arg, int res)
{
	struct nbd_req *q = arg;
	struct nbd_conn *c = q->c;

	c->inflight--;
	c->s->inflight--;
	if (q->r.type != NBD_CMD_READ) {
		/* the engine has finished with the payload buffer */
		c->buf_bytes -= q->held;
		q->held = 0;
	}
	if (c->phase == PH_DEAD) {
		nbdconn_slot_put(c, q);
		nbdconn_reap(c);
		return;
	}
	q->err = nbdproto_error(res);
	nbdconn_reply(q);
	if (!c->parked)
		nbdconn_process(c);	/* a request waiting for a slot */
}

/* Hand q to the engine.  Returns false if it must wait (no slot). */
static bool req_start(struct nbd_req *q)
{
	struct nbd_conn *c = q->c;
	struct engine *e = c->s->e;
	unsigned int fua = q->r.flags & NBD_CMD_FLAG_FUA ? ENGINE_FUA : 0;
	int err;

	switch (q->act) {
	case NBDPROTO_ACT_READ:
		err = engine_read(e, q->r.offset, q->r.len, q->buf, req_done,
				  q);
		break;
	case NBDPROTO_ACT_WRITE:
		err = engine_write(e, q->r.offset, q->r.len, q->buf, fua,
				   req_done, q);
		if (!err)
			q->buf = NULL;	/* the engine's now */
		break;
	case NBDPROTO_ACT_FLUSH:
		err = engine_flush(e, req_done, q);
		break;
	case NBDPROTO_ACT_TRIM:
		err = engine_trim(e, q->r.offset, q->r.len, fua, req_done, q);
		break;
	default:
		err = engine_zero(e, q->r.offset, q->r.len, fua, req_done, q);
		break;
	}
	if (err == -EAGAIN)
		return false;
	if (err) {
		nbdconn_buf_release(c, q);
		q->err = nbdproto_error(err);
		nbdconn_reply(q);
		return true;
	}
	q->state = RQ_ENGINE;
	c->inflight++;
	c->s->inflight++;
	return true;
}

/* ---- NO_HOLE zeroes: writes of zeroes, in chunks ---- */

/* The server's buffer of zeroes, taken from the pool the first time a
 * NO_HOLE zero needs it and kept: every such zero writes from it, however
 * long, so a hole of any size costs one buffer.  False while the pool has
 * none to give (the caller parks). */
static bool zero_buf_ready(struct nbd_conn *c)
{
	struct nbd_server *s = c->s;
	struct uloop_buf *b;

	if (s->zero_buf)
		return true;
	if (uloop_buf_get(s->loop, c->lim.max_block, &b)) {
		if (!c->pool_wait_ns)
			c->pool_wait_ns = uloop_now(s->loop);
		return false;
	}
	c->pool_wait_ns = 0;
	memset(b->base, 0, b->size);
	s->zero_buf = b;
	return true;
}

static void zero_done(void *arg, int res)
{
	struct nbd_req *q = arg;
	struct nbd_conn *c = q->c;

	c->inflight--;
	c->s->inflight--;
	q->zout--;
	if (res && !q->err)
		q->err = nbdproto_error(res);
	if (c->phase == PH_DEAD) {
		if (!q->zout && c->cur != q)
			nbdconn_slot_put(c, q);
		nbdconn_reap(c);
		return;
	}
	/* the last chunk answers, once none is left to start */
	if (!q->zout && c->cur != q)
		nbdconn_reply(q);
	if (!c->parked)
		nbdconn_process(c);	/* chunks to start, or requests */
}

/* Hand the engine the chunks of q that it and ZERO_DEPTH let through.
 * Each is an ordinary write (ordered with overlapping I/O the same way on
 * every replica); the request stays the connection's current one until
 * its last chunk is in the engine, so the requests after it on the
 * connection go to the engine after all of it.  The first failure stops
 * it; the reply waits for the chunks already out.  Returns true when q
 * no longer needs the connection's attention (advance_cur). */
static bool zero_pump(struct nbd_req *q)
{
	struct nbd_conn *c = q->c;
	struct nbd_server *s = c->s;
	uint64_t end = q->r.offset + q->r.len;
	unsigned int flags = ENGINE_BUF_SHARED |
			     (q->r.flags & NBD_CMD_FLAG_FUA ? ENGINE_FUA : 0);
	uint32_t n;
	int err;

	while (q->zoff < end && !q->err) {
		if (q->zout >= ZERO_DEPTH)
			return false;	/* zero_done comes back here */
		n = end - q->zoff < c->lim.max_block ?
		    (uint32_t)(end - q->zoff) : c->lim.max_block;
		err = engine_write(s->e, q->zoff, n, s->zero_buf, flags,
				   zero_done, q);
		if (err == -EAGAIN) {
			park(c);
			return false;
		}
		if (err) {
			q->err = nbdproto_error(err);
			break;
		}
		q->zoff += n;
		q->zout++;
		c->inflight++;
		s->inflight++;
	}
	c->cur = NULL;
	if (q->zout)
		q->state = RQ_ENGINE;
	else
		nbdconn_reply(q);
	return true;
}

/* ---- transmission: parsing requests out of the input buffer ---- */

static uint32_t in_avail(const struct nbd_conn *c)
{
	return c->in_end - c->in_start;
}

/* Move c->cur forward.  Returns false when it has to wait for input or
 * a resource (then it is parked or a recv is due). */
static bool advance_cur(struct nbd_conn *c)
{
	struct nbd_req *q = c->cur;
	uint32_t n;

	switch (q->state) {
	case RQ_DISCARD:
		n = in_avail(c) < c->discard ? in_avail(c) : (uint32_t)c->discard;
		c->in_start += n;
		c->discard -= n;
		if (c->discard)
			return false;
		c->cur = NULL;
		nbdconn_reply(q);
		return true;
	case RQ_NEED_BUF:
		if (q->act == NBDPROTO_ACT_ZERO_WRITE ? !zero_buf_ready(c) :
		    !buf_take(c, q)) {
			park(c);
			return false;
		}
		q->zoff = q->r.offset;
		q->state = q->act == NBDPROTO_ACT_WRITE ? RQ_PAYLOAD : RQ_START;
		return true;
	case RQ_PAYLOAD:
		n = q->r.len - q->have;
		if (n > in_avail(c))
			n = in_avail(c);
		memcpy((uint8_t *)q->buf->base + q->have, c->in + c->in_start,
		       n);
		c->in_start += n;
		q->have += n;
		if (q->have < q->r.len)
			return false;
		q->state = RQ_START;
		return true;
	case RQ_START:
		if (q->act == NBDPROTO_ACT_ZERO_WRITE)
			return zero_pump(q);
		if (!req_start(q)) {
			park(c);
			return false;
		}
		c->cur = NULL;
		return true;
	default:
		return false;
	}
}

/* Take one request header off the input buffer and set it going. */
static void parse_one(struct nbd_conn *c)
{
	struct nbd_server *s = c->s;
	struct nbdproto_req r;
	struct nbd_req *q;
	uint32_t err = 0;
	enum nbdproto_act act;

	if (nbdproto_req_decode(c->in + c->in_start, &r)) {
		nbdconn_hangup(c, "bad request magic");
		return;
	}
	/* Whether zeroing is fast may change as replicas come and go. */
	if (r.type == NBD_CMD_WRITE_ZEROES &&
	    (r.flags & NBD_CMD_FLAG_FAST_ZERO))
		c->lim.zero_slow = !engine_zero_fast(s->e);
	act = nbdproto_req_check(&c->lim, &r, &err);
	if (s->quiescing && act != NBDPROTO_ACT_DISC &&
	    act != NBDPROTO_ACT_HANGUP) {
		act = nbdproto_req_payload(&r) > NBDPROTO_DISCARD_MAX ?
		      NBDPROTO_ACT_HANGUP : NBDPROTO_ACT_ERROR;
		err = NBD_ESHUTDOWN;
	}
	if (act == NBDPROTO_ACT_HANGUP) {
		nbdconn_hangup(c, "oversized write");
		return;
	}
	c->in_start += NBDPROTO_REQ_SIZE;
	if (act == NBDPROTO_ACT_DISC) {
		c->phase = PH_DRAIN;	/* stop reading; close when done */
		nbdconn_drain_check(c);
		return;
	}
	q = slot_get(c);
	q->r = r;
	q->act = act;
	q->start_ns = uloop_now(s->loop);
	s->st.requests[nbdconn_opc(r.type)]++;
	c->recv_ns = q->start_ns;
	if (act == NBDPROTO_ACT_ERROR) {
		q->err = err;
		c->discard = nbdproto_req_payload(&r);
		if (!c->discard) {
			nbdconn_reply(q);
			return;
		}
		q->state = RQ_DISCARD;
	} else if (act == NBDPROTO_ACT_READ || act == NBDPROTO_ACT_WRITE ||
		   act == NBDPROTO_ACT_ZERO_WRITE) {
		q->state = RQ_NEED_BUF;
	} else {
		q->state = RQ_START;
	}
	c->cur = q;
}

/* The client has shut its sending side (EOF) and everything it sent has
 * been parsed.  The requests it sent whole are carried out and answered,
 * as after DISC, then the connection closes; one cut short (in its header
 * or its payload) never reaches the engine and is not answered. */
static void input_ended(struct nbd_conn *c)
{
	struct nbd_req *q = c->cur;

	if (c->parked || (!q && in_avail(c) >= NBDPROTO_REQ_SIZE) ||
	    (q && q->state == RQ_START))
		return;		/* whole requests wait for a slot or buffer,
				 * or a zero for its chunks to go out */
	if (q) {
		c->cur = NULL;	/* waiting for payload that will not come */
		c->discard = 0;
		nbdconn_slot_put(c, q);
	}
	c->in_start = c->in_end = 0;
	c->phase = PH_DRAIN;
	nbdconn_drain_check(c);
}

void nbdconn_process(struct nbd_conn *c)
{
	if (c->phase == PH_HANDSHAKE) {
		hs_step(c);
		return;
	}
	while (c->phase == PH_TRANSMIT && !c->parked) {
		if (c->cur) {
			if (!advance_cur(c))
				break;
			continue;
		}
		if (in_avail(c) < NBDPROTO_REQ_SIZE || !c->free)
			break;
		parse_one(c);
	}
	if (c->rd_eof && c->phase == PH_TRANSMIT)
		input_ended(c);
	arm_recv(c);
}

/* ---- socket I/O ---- */

static void arm_recv(struct nbd_conn *c)
{
	struct io_uring_sqe *sqe;
	struct nbd_req *q = c->cur;
	bool direct;
	void *dst;
	uint32_t len;

	if (c->probe.posted || c->rd_eof ||
	    (c->phase != PH_HANDSHAKE && c->phase != PH_TRANSMIT))
		return;
	if (c->phase == PH_HANDSHAKE && c->hs.out_len)
		return;		/* the handshake reads after it answers */
	if (in_avail(c) == 0)
		c->in_start = c->in_end = 0;
	direct = q && q->state == RQ_PAYLOAD && in_avail(c) == 0 &&
		 q->r.len - q->have >= DIRECT_MIN;
	if (direct) {
		dst = (uint8_t *)q->buf->base + q->have;
		len = q->r.len - q->have;
	} else {
		if (c->in_end == NBDCONN_IN_CAP || c->in_start > NBDCONN_IN_CAP / 2) {
			memmove(c->in, c->in + c->in_start, in_avail(c));
			c->in_end -= c->in_start;
			c->in_start = 0;
		}
		if (c->in_end == NBDCONN_IN_CAP)
			return;		/* full: parsing is waiting on us */
		dst = c->in + c->in_end;
		len = NBDCONN_IN_CAP - c->in_end;
	}
	sqe = get_sqe(c->s);
	if (!sqe) {
		nbdconn_hangup(c, "no SQE");
		return;
	}
	/* A payload received in place is taken whole: one completion, not
	 * one per socket buffer's worth. */
	io_uring_prep_recv(sqe, c->fd, dst, len, direct ? MSG_WAITALL : 0);
	nbd_set_ud(sqe, NBD_OP_RECV, c->id);
	stallprobe_posted(&c->probe, direct);
	c->sqes++;
}

bool nbdconn_probe_recv(struct nbd_conn *c)
{
	/* without an SQE (-EBUSY), ask at the next tick */
	return stallprobe_ask(&c->probe, c->s->loop,
			      ud_make(UD_CLS_NBD, NBD_OP_RECV, UD_ZONE_NONE,
				      0, c->id),
			      ud_make(UD_CLS_NBD, NBD_OP_CANCEL, UD_ZONE_NONE,
				      0, c->id),
			      &c->sqes) != -ENOENT;
}

static void on_recv(struct nbd_conn *c, int res)
{
	bool stalled = stallprobe_done(&c->probe, res);

	if (c->phase == PH_DEAD) {
		nbdconn_reap(c);
		return;
	}
	if (stalled) {
		/* cancelled with nothing received since it began */
		nbdconn_hangup(c, "stalled");
		return;
	}
	if (res == -EINTR || res == -EAGAIN || res == -ENOBUFS) {
		arm_recv(c);
		return;
	}
	if (res == 0 && c->phase != PH_HANDSHAKE) {
		/* EOF: the client has said all it will; it is still owed the
		 * answers to what it sent (it may have half-closed) */
		c->rd_eof = true;
		nbdconn_process(c);
		return;
	}
	if (res <= 0) {
		/* An error (or EOF mid-handshake): the client is gone.
		 * Requests it left in the engine still complete; nothing
		 * more goes out. */
		nbdconn_hangup(c, res ? "recv failed" : NULL);
		return;
	}
	c->recv_ns = uloop_now(c->s->loop);
	if (c->probe.direct)
		c->cur->have += (uint32_t)res;
	else
		c->in_end += (uint32_t)res;
	nbdconn_process(c);
}

/* ---- handshake ---- */

void nbdconn_hs_sent(struct nbd_conn *c, uint32_t sent)
{
	c->hs_sent += sent;
	if (c->hs_sent < c->hs.out_len) {
		nbdconn_kick_send(c);
		return;
	}
	c->hs_sent = 0;
	nbdproto_hs_sent(&c->hs);
	switch (c->hs_next) {
	case NBDPROTO_HS_GO:
		c->phase = PH_TRANSMIT;
		c->structured = c->hs.structured;
		c->lim.tflags = nbdproto_hs_tflags(&c->hs);
		break;
	case NBDPROTO_HS_CLOSE:
	case NBDPROTO_HS_HANGUP:
		nbdconn_hangup(c, NULL);
		return;
	default:
		break;
	}
	nbdconn_process(c);
}

static void hs_step(struct nbd_conn *c)
{
	enum nbdproto_hs_status st;
	size_t used;

	for (;;) {
		if (c->hs.out_len) {
			nbdconn_kick_send(c);
			return;
		}
		st = nbdproto_hs_feed(&c->hs, c->in + c->in_start, in_avail(c),
				      &used);
		c->in_start += (uint32_t)used;
		c->hs_next = st;
		if (c->hs.out_len)
			continue;
		if (st == NBDPROTO_HS_HANGUP || st == NBDPROTO_HS_CLOSE) {
			nbdconn_hangup(c, st == NBDPROTO_HS_HANGUP ?
				    "handshake violation" : NULL);
			return;
		}
		if (!used)
			break;
	}
	arm_recv(c);
}

/* ---- connection lifetime ---- */

/* A dying connection lets go of its current request: a zero with chunks
 * still in the engine is put back by the last of them (zero_done). */
static void cur_drop(struct nbd_conn *c)
{
	struct nbd_req *q = c->cur;

	c->cur = NULL;
	if (q->zout)
		q->state = RQ_ENGINE;
	else
		nbdconn_slot_put(c, q);
}

static void conn_free(struct nbd_conn *c)
{
	struct nbd_server *s = c->s;

	unpark(c);
	close(c->fd);
	s->conns[c->id] = NULL;
	s->free_ids[s->nr_free_ids++] = c->id;
	s->nr_conns--;
	free(c->in);
	free(c);
}

/* A dead connection lets go of what nothing else uses any more, and is
 * freed when no SQE and no engine request refers to it.  Called from each
 * of their completions, at the top of a callback (the caller returns at
 * once), never from inside other connection code. */
void nbdconn_reap(struct nbd_conn *c)
{
	/* a direct recv may still be writing into its buffer */
	if (c->cur && !c->probe.posted)
		cur_drop(c);
	nbdconn_drop_queue(c);
	if (!c->sqes && !c->inflight)
		conn_free(c);
}

/* Drop the connection now.  why is logged (NULL for a normal end).  It
 * is never freed here, so callers may go on looking at it: an SQE of its
 * own (the cancel) keeps it until the CQE handler reaps it. */
void nbdconn_hangup(struct nbd_conn *c, const char *why)
{
	struct io_uring_sqe *sqe;

	if (c->phase == PH_DEAD)
		return;
	if (why) {
		c->s->st.hangups++;
		log_warn("nbd: client %u: %s: disconnecting", c->id, why);
	}
	c->phase = PH_DEAD;
	unpark(c);
	shutdown(c->fd, SHUT_RDWR);
	/* Also ends a recv or send parked in the kernel. */
	sqe = get_sqe(c->s);
	if (sqe) {
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
		nbd_set_ud(sqe, NBD_OP_CANCEL, c->id);
		c->sqes++;
	}
	/* without an SQE, the watchdog tick reaps it */
	if (c->cur && !c->probe.posted)
		cur_drop(c);
	nbdconn_drop_queue(c);
}

/* After DISC: close once every request has been answered. */
void nbdconn_drain_check(struct nbd_conn *c)
{
	if (c->phase == PH_DRAIN && !c->inflight && !c->q_head &&
	    !c->batch && !c->cur)
		nbdconn_hangup(c, NULL);
}

void nbdconn_on_cqe(struct nbd_server *s, const struct io_uring_cqe *cqe)
{
	uint32_t id = ud_index(cqe->user_data);
	struct nbd_conn *c = id < s->o.max_conns ? s->conns[id] : NULL;

	if (!c)
		return;		/* cannot happen: ids outlive their SQEs */
	c->sqes--;
	switch (ud_op(cqe->user_data)) {
	case NBD_OP_RECV:
		on_recv(c, cqe->res);
		break;
	case NBD_OP_SEND:
		nbdconn_on_send(c, cqe->res);
		break;
	default:
		if (c->phase == PH_DEAD)
			nbdconn_reap(c);
		break;
	}
}

/* TCP clients: no Nagle delay on replies (the spec asks for it), and
 * keepalive probes, so that an idle client whose node died (no FIN, no
 * requests to fail) is noticed within NBDCONN_KEEPALIVE_S and its slot
 * and fd come back.  Best effort: a refused option costs only that. */
static void tcp_opts(int fd)
{
	int one = 1, idle = NBDCONN_KEEPALIVE_S / 2;
	int intvl = NBDCONN_KEEPALIVE_S / 12, cnt = 6;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Unix clients: a send buffer with room for two of the largest replies
 * (the kernel doubles what it is asked for), so that one is queued while
 * the client reads the other.  The default (net.core.wmem_default, about
 * 208 KiB) holds less than one 256 KiB read: such a reply then goes out
 * in pieces, each a wait for the client to drain the socket and a loop
 * wake-up, and client and server take turns rather than work at the same
 * time (bench/nbd-notes.md).  TCP sizes its own send buffer
 * (net.ipv4.tcp_wmem), which setting SO_SNDBUF would turn off.  The
 * kernel caps the size at net.core.wmem_max; the server says so once.
 * Best effort: a refusal costs only speed. */
static void unix_opts(struct nbd_server *s, int fd)
{
	int want = (int)s->exp.max_block, got = 0;
	socklen_t len = sizeof(got);

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) ||
	    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len) ||
	    got >= 2 * want || s->sndbuf_capped)
		return;
	s->sndbuf_capped = true;
	log_info("nbd: unix socket send buffers are %d bytes, less than two "
		 "%d-byte reads (net.core.wmem_max); large reads go out in "
		 "pieces", got, want);
}

void nbdconn_new(struct nbd_server *s, int fd)
{
	size_t sz = sizeof(struct nbd_conn) +
		    s->o.max_requests * sizeof(struct nbd_req);
	struct nbd_conn *c;
	unsigned int i;

	if (!s->nr_free_ids || s->quiescing) {
		s->st.refused++;
		close(fd);
		return;
	}
	c = calloc(1, sz);
	if (c)
		c->in = malloc(NBDCONN_IN_CAP);
	if (!c || !c->in) {
		if (c)
			free(c);
		s->st.refused++;
		close(fd);
		return;
	}
	if (s->sock.family == AF_UNIX)
		unix_opts(s, fd);
	else
		tcp_opts(fd);
	c->s = s;
	c->fd = fd;
	c->id = s->free_ids[--s->nr_free_ids];
	c->born_ns = c->recv_ns = c->send_ns = uloop_now(s->loop);
	c->lim.size = s->exp.size;
	c->lim.min_block = s->exp.min_block;
	c->lim.max_block = s->exp.max_block;
	/* Replicas zero files by punching holes (engine_local, replica_io),
	 * so NO_HOLE zeroes are written as data. */
	c->lim.zero_allocates = false;
	for (i = 0; i < s->o.max_requests; i++) {
		c->reqs[i].c = c;
		nbdconn_slot_put(c, &c->reqs[i]);
	}
	s->conns[c->id] = c;
	s->nr_conns++;
	if (s->nr_conns > s->st.peak_conns)
		s->st.peak_conns = s->nr_conns;
	s->st.accepted++;
	nbdproto_hs_init(&c->hs, &s->exp);
	hs_step(c);
}

