/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replica server's connections: receiving and assembling frames
 * (replica_rx), dispatching requests, and sending replies in batches.
 * See replica_int.h for how the server's files divide up.
 *
 * Per connection, memory is bounded: a fixed array of request slots, one
 * registered buffer per slot at most, one receive buffer.  When the slots
 * are all busy the connection is not read from until one frees up, so a
 * fast client is held back by TCP, not by our memory.
 */
#include "replica_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crc.h"
#include "log.h"
#include "proto.h"

#define SOCK_BUF_BYTES	(4 * 1024 * 1024)


/* ---- slots ---- */

static struct rslot *slot_get(struct rconn *c)
{
	struct rslot *s = c->free_slots;

	c->free_slots = s->next;
	s->next = NULL;
	s->state = RS_RX;
	s->vol = NULL;
	s->buf = NULL;
	s->reply_len = 0;
	s->split = UINT32_MAX;
	s->data_off = 0;
	s->res = 0;
	c->nbusy++;
	return s;
}

static void kick(struct rconn *c)
{
	if (c->kicked)
		return;
	c->kicked = true;
	c->next_kick = c->r->kick;
	c->r->kick = c;
}

static void wake_buf_waiters(struct replica *r)
{
	struct rconn *c;

	while ((c = r->buf_waiters)) {
		r->buf_waiters = c->next_wait;
		c->buf_waiting = false;
		kick(c);
	}
}

static void slot_put(struct rslot *s)
{
	struct rconn *c = s->c;

	if (s->buf) {
		uloop_buf_put(c->r->loop, s->buf);
		s->buf = NULL;
		wake_buf_waiters(c->r);
	}
	s->vol = NULL;
	s->state = RS_FREE;
	s->next = c->free_slots;
	c->free_slots = s;
	c->nbusy--;
	if (c->want_slot || c->closing) {
		c->want_slot = false;
		kick(c);
	}
}

struct rhandle *replica_handle(struct rconn *c, uint64_t volume_id)
{
	if (volume_id == 0 || volume_id > REPLICA_MAX_HANDLES)
		return NULL;
	return c->handles[volume_id - 1].vol ? &c->handles[volume_id - 1] :
					       NULL;
}

/* ---- replies ---- */

/* A reply payload is one or two pieces: split bytes at the start of the
 * buffer (or the inline area), then the rest from buf + data_off (a
 * resync read keeps its data block-aligned after its seqs). */
static void *reply_payload(struct rslot *s)
{
	if (s->req.op == REPL_OP_HELLO || s->req.op == REPL_OP_STATUS)
		return s->inl;
	return s->buf ? s->buf->base : NULL;
}

static uint32_t reply_split(const struct rslot *s)
{
	return s->split < s->reply_len ? s->split : s->reply_len;
}

static void tx_add(struct rconn *c, unsigned int *n, void *p, uint32_t len,
		   uint32_t *skip)
{
	if (*skip >= len) {
		*skip -= len;
		return;
	}
	c->iov[*n].iov_base = (uint8_t *)p + *skip;
	c->iov[*n].iov_len = len - *skip;
	*skip = 0;
	(*n)++;
}

static void tx_kick(struct rconn *c)
{
	struct io_uring_sqe *sqe;
	uint32_t skip = c->tx_off;
	unsigned int n = 0, k = 0;
	struct rslot *s;

	if (c->nsending || !c->txq || c->tx_dead)
		return;
	for (s = c->txq; s && k < REPLICA_TX_BATCH; s = s->next, k++) {
		uint32_t first = reply_split(s);

		tx_add(c, &n, s->wire, REPL_HDR_SIZE, &skip);
		if (first)
			tx_add(c, &n, reply_payload(s), first, &skip);
		if (first < s->reply_len)
			tx_add(c, &n, (uint8_t *)reply_payload(s) + s->data_off,
			       s->reply_len - first, &skip);
	}
	sqe = replica_sqe(c->r);
	if (!sqe) {
		c->tx_dead = c->closing = true;
		kick(c);
		return;
	}
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = n;
	io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
	sqe->user_data = replica_ud(RK_SEND, UD_OP_OTHER, c->id, 0);
	c->send_ns = uloop_now(c->r->loop);
	c->nsending = k;
	c->ops++;
}

void replica_reply(struct rslot *s, int res)
{
	struct rconn *c = s->c;
	struct repl_hdr h;
	uint8_t *payload;
	uint32_t first;

	s->res = res;
	if (res)
		s->reply_len = 0;
	if (c->tx_dead) {
		slot_put(s);
		return;
	}
	payload = s->reply_len ? reply_payload(s) : NULL;
	first = reply_split(s);
	memset(&h, 0, sizeof(h));
	h.op = s->req.op;
	h.flags = REPL_F_REPLY;
	if (!res && s->req.op == REPL_OP_HELLO && s->vol &&
	    s->vol->zero_fast)
		h.flags |= REPL_F_ZERO_FAST;
	h.status = (uint32_t)res;
	h.len = s->reply_len;
	h.volume_id = s->req.volume_id;
	h.offset = s->req.offset;
	/* A good FLUSH says the synced seq its volume's record holds
	 * (docs/replication-protocol.md, Durability: power loss); every
	 * other reply echoes the request's. */
	h.seq = s->req.op == REPL_OP_FLUSH && !res && s->vol ?
		replica_vol_recorded(s->vol) : s->req.seq;
	/* The replica's generation when it knows the volume: a refused
	 * engine learns what it is up against. */
	h.epoch = s->vol ? s->vol->info.generation : s->req.epoch;
	h.tag = s->req.tag;
	h.payload_crc = proto_payload_crc(payload, first);
	if (first < s->reply_len)
		h.payload_crc = crc32c(h.payload_crc, payload + s->data_off,
				       s->reply_len - first);
	proto_encode(&h, s->wire);
	s->state = RS_TX;
	s->next = NULL;
	if (c->txq_tail)
		c->txq_tail->next = s;
	else
		c->txq = s;
	c->txq_tail = s;
	tx_kick(c);
}

/* Free every queued reply but the first keep (those being sent). */
static void txq_drop(struct rconn *c, unsigned int keep)
{
	struct rslot *s = c->txq, *last = NULL, *next;
	unsigned int i;

	for (i = 0; s && i < keep; i++) {
		last = s;
		s = s->next;
	}
	if (last)
		last->next = NULL;
	else
		c->txq = NULL;
	c->txq_tail = last;
	for (; s; s = next) {
		next = s->next;
		slot_put(s);
	}
}

void replica_conn_send_done(struct rconn *c, int res)
{
	unsigned int k = c->nsending;
	uint32_t left, total;
	struct rslot *s;

	c->nsending = 0;
	if (res <= 0) {
		if (res != -EPIPE && res != -ECONNRESET)
			log_warn("%s: send: %s", c->peer,
				 strerror(res ? -res : EIO));
		c->tx_dead = c->closing = true;
		txq_drop(c, 0);
		replica_conn_process(c);
		return;
	}
	left = (uint32_t)res;
	while ((s = c->txq) && k--) {
		total = REPL_HDR_SIZE + s->reply_len - c->tx_off;
		if (left < total) {
			c->tx_off += left;
			break;
		}
		left -= total;
		c->tx_off = 0;
		c->txq = s->next;
		if (!c->txq)
			c->txq_tail = NULL;
		slot_put(s);
	}
	tx_kick(c);
}

/* ---- requests ---- */

/* Whether a HELLO for volume `name` can get a handle on c once it is
 * answered: c already has one for it (or a HELLO for it is in progress),
 * or fewer than REPLICA_MAX_HANDLES volumes are open or being opened.
 * Checked before the volume is touched, so that a HELLO refused with
 * EMFILE creates nothing and raises no generation. */
static bool handle_room(const struct rconn *c, const char *name)
{
	const struct rvol *pend[REPLICA_MAX_HANDLES];
	unsigned int i, j, used = 0, npend = 0;
	const struct rslot *s;

	for (i = 0; i < REPLICA_MAX_HANDLES; i++) {
		if (!c->handles[i].vol)
			continue;
		if (!strcmp(c->handles[i].vol->name, name))
			return true;
		used++;
	}
	for (i = 0; i < c->nslots; i++) {
		s = &c->slots[i];
		if (s->state != RS_RUN || s->req.op != REPL_OP_HELLO ||
		    !s->vol)
			continue;
		if (!strcmp(s->vol->name, name))
			return true;
		for (j = 0; j < REPLICA_MAX_HANDLES; j++)
			if (c->handles[j].vol == s->vol)
				break;
		if (j < REPLICA_MAX_HANDLES)
			continue;	/* counted with the handles */
		for (j = 0; j < npend && pend[j] != s->vol; j++)
			;
		if (j == npend && npend < REPLICA_MAX_HANDLES)
			pend[npend++] = s->vol;
	}
	return used + npend < REPLICA_MAX_HANDLES;
}

static void do_hello(struct rconn *c, struct rslot *s)
{
	struct replica *r = c->r;
	struct replica_hello hl;
	struct rvol *v;
	int err;

	err = replica_hello_check(&s->req, s->inl, r->zone, &hl);
	if (err) {
		log_warn("%s: HELLO refused: %s", c->peer, strerror(err));
		replica_reply(s, err);
		return;
	}
	if (!handle_room(c, hl.volume)) {
		log_warn("%s: HELLO %s refused: %u volumes open on the "
			 "connection", c->peer, hl.volume, REPLICA_MAX_HANDLES);
		replica_reply(s, EMFILE);
		return;
	}
	v = replica_vol_find(r, hl.volume);
	if (v && replica_vol_refuse_hello(v, s))
		return;
	if (!v) {
		err = replica_vol_open(r, &hl, &v);
		if (err) {
			replica_reply(s, err);
			return;
		}
	}
	replica_vol_get(v);
	err = replica_hello_match(&hl, &v->info);
	if (err) {
		log_warn("%s: HELLO %s refused: %s", c->peer, hl.volume,
			 err == ESTALE ? "epoch older than generation" :
					 "size or block size differs");
		s->vol = v;
		replica_reply(s, err);
		replica_vol_put(v);
		return;
	}
	replica_vol_hello(v, s);
}

static bool need_buf(struct rconn *c);

static void dispatch(struct rconn *c, struct rslot *s)
{
	struct rhandle *h;
	uint32_t need;
	int err;

	if (s->req.op == REPL_OP_HELLO) {
		do_hello(c, s);
		return;
	}
	h = replica_handle(c, s->req.volume_id);
	if (!h) {
		replica_reply(s, EBADF);
		return;
	}
	s->vol = h->vol;
	err = replica_check_io(&s->req, &h->vol->info, h->epoch, &s->oq.span);
	if (err) {
		replica_reply(s, err);
		return;
	}
	if (s->req.op == REPL_OP_STATUS) {
		replica_vol_status(s->vol, c->r->zone, s->inl);
		s->reply_len = sizeof(struct repl_status);
		replica_reply(s, 0);
		return;
	}
	need = replica_io_reply_buf(s);
	if (need && !s->buf) {
		c->cur = s;
		c->cur_need = need;
		c->cur_for_reply = true;
		need_buf(c);	/* submits it, or parks it for a buffer */
		return;
	}
	replica_io_submit(s);
}

/* Give c->cur the buffer it waits for; false (and c is queued for a
 * wake-up) if there is none free. */
static bool need_buf(struct rconn *c)
{
	struct rslot *s = c->cur;
	struct uloop_buf *b;

	if (uloop_buf_get(c->r->loop, c->cur_need, &b)) {
		if (!c->buf_waiting) {
			c->buf_waiting = true;
			c->next_wait = c->r->buf_waiters;
			c->r->buf_waiters = c;
		}
		return false;
	}
	s->buf = b;
	c->cur_need = 0;
	if (c->cur_for_reply) {
		c->cur = NULL;
		c->cur_for_reply = false;
		replica_io_submit(s);
	} else {
		replica_rx_set_dst(&c->rx, b->base);
	}
	return true;
}

static const char *rx_why(int err)
{
	switch (err) {
	case -EBADMSG: return "bad magic or header CRC";
	case -EPROTO: return "bad version, op or flags";
	case -EMSGSIZE: return "length out of bounds";
	default: return strerror(-err);
	}
}

static void on_event(struct rconn *c, enum replica_rx_ev ev)
{
	const struct repl_hdr *h = &c->rx.hdr;
	struct rslot *s;

	switch (ev) {
	case REPLICA_RX_MORE:
		return;
	case REPLICA_RX_PAYLOAD:
		s = c->cur = slot_get(c);
		s->req = *h;
		if (h->op == REPL_OP_HELLO) {
			replica_rx_set_dst(&c->rx, s->inl);
			return;
		}
		/* a resync copy may need its data moved up to alignment */
		c->cur_need = h->len +
			      (h->flags & REPL_F_RESYNC ? REPLICA_ALIGN : 0);
		c->cur_for_reply = false;
		need_buf(c);
		return;
	case REPLICA_RX_REQUEST:
		s = c->cur ? c->cur : slot_get(c);
		c->cur = NULL;
		s->req = *h;
		dispatch(c, s);
		return;
	case REPLICA_RX_BAD_PAYLOAD:
		s = c->cur;
		c->cur = NULL;
		log_warn("%s: %s tag %llu: payload CRC mismatch, refused",
			 c->peer, proto_op_name(h->op),
			 (unsigned long long)h->tag);
		replica_reply(s, EBADMSG);
		return;
	case REPLICA_RX_REFUSE:
		s = slot_get(c);
		s->req = *h;
		log_warn("%s: %s frame refused (%s); closing", c->peer,
			 proto_op_name(h->op), rx_why(c->rx.err));
		c->closing = true;
		replica_reply(s, -c->rx.err);
		return;
	case REPLICA_RX_CORRUPT:
		log_warn("%s: corrupt frame (%s); closing without reply",
			 c->peer, rx_why(c->rx.err));
		c->closing = true;
		return;
	}
}

/* ---- connections ---- */

static void post_recv(struct rconn *c)
{
	struct io_uring_sqe *sqe;
	uint32_t want;
	bool direct;
	void *at;

	if (c->probe.posted)
		return;
	sqe = replica_sqe(c->r);
	if (!sqe) {
		c->closing = true;
		kick(c);
		return;
	}
	want = replica_rx_direct(&c->rx, &at);
	direct = want >= REPLICA_DIRECT_MIN;
	if (direct) {
		/* the whole rest in one completion (partial only at EOF) */
		io_uring_prep_recv(sqe, c->fd, at, want, MSG_WAITALL);
	} else {
		c->rx_pos = c->rx_end = 0;
		io_uring_prep_recv(sqe, c->fd, c->rxbuf, REPLICA_RXBUF, 0);
	}
	sqe->user_data = replica_ud(RK_RECV, UD_OP_OTHER, c->id, 0);
	c->recv_ns = uloop_now(c->r->loop);
	stallprobe_posted(&c->probe, direct);
	c->ops++;
}

/* Drop the frame being received when closing.  Not while a recv is still
 * filling its buffer: replica_conn_recv_done() comes back here when it has finished. */
static void drop_partial(struct rconn *c)
{
	struct rslot *s = c->cur;

	if (!s || c->cur_for_reply || (c->probe.posted && c->probe.direct))
		return;
	c->cur = NULL;
	c->cur_need = 0;
	slot_put(s);
}

void replica_conn_process(struct rconn *c)
{
	enum replica_rx_ev ev;
	size_t used;

	for (;;) {
		if (c->closing)
			drop_partial(c);
		if (c->cur_need && !need_buf(c))
			return;
		if (c->closing) {
			replica_conn_maybe_finish(c);
			return;
		}
		if (!c->cur && !c->free_slots) {
			c->want_slot = true;
			return;
		}
		if (c->rx_pos == c->rx_end) {
			post_recv(c);
			return;
		}
		ev = replica_rx_feed(&c->rx, c->rxbuf + c->rx_pos,
				     c->rx_end - c->rx_pos, &used);
		c->rx_pos += (uint32_t)used;
		on_event(c, ev);
	}
}

void replica_conn_recv_done(struct rconn *c, int res)
{
	bool stalled = stallprobe_done(&c->probe, res);

	if (c->closing) {
		replica_conn_process(c);
		return;
	}
	if (stalled) {
		/* cancelled with nothing received since it was posted */
		replica_conn_cut(c, "stalled (no progress for "
				 "--client-timeout)");
		replica_conn_process(c);
		return;
	}
	if (res == -ECANCELED) {
		/* a probe meant for the recv before this one, which had
		 * completed: nothing was lost, receive again */
		replica_conn_process(c);
		return;
	}
	if (res > 0) {
		c->recv_ns = uloop_now(c->r->loop);
		if (c->probe.direct)
			on_event(c, replica_rx_direct_done(&c->rx,
							   (uint32_t)res));
		else
			c->rx_end = (uint32_t)res;
	} else if (res == 0) {
		if (replica_rx_mid_frame(&c->rx))
			log_warn("%s: connection closed mid-frame (truncated "
				 "%s); frame dropped", c->peer,
				 c->rx.state == REPLICA_RX_S_HDR ?
					 "header" : "payload");
		else
			log_debug("%s: closed by peer", c->peer);
		c->closing = true;
	} else {
		if (res != -ECONNRESET)
			log_warn("%s: recv: %s", c->peer, strerror(-res));
		c->closing = c->tx_dead = true;
		txq_drop(c, c->nsending);
	}
	replica_conn_process(c);
}

static void unlink_conn(struct rconn **head, struct rconn *c, bool kick_list)
{
	struct rconn **pp;

	for (pp = head; *pp; pp = kick_list ? &(*pp)->next_kick :
					      &(*pp)->next_wait) {
		if (*pp == c) {
			*pp = kick_list ? c->next_kick : c->next_wait;
			return;
		}
	}
}

static void conn_free(struct rconn *c)
{
	struct replica *r = c->r;
	unsigned int i;

	if (c->kicked)
		unlink_conn(&r->kick, c, true);
	if (c->buf_waiting)
		unlink_conn(&r->buf_waiters, c, false);
	close(c->fd);
	for (i = 0; i < REPLICA_MAX_HANDLES; i++)
		if (c->handles[i].vol)
			replica_vol_put(c->handles[i].vol);
	r->conns[c->id] = NULL;
	r->nconns--;
	log_debug("%s: connection closed", c->peer);
	free(c->rxbuf);
	free(c->slots);
	free(c);
	if (!r->draining && !r->accept_armed)
		replica_accept_arm(r);
}

static void shut(struct rconn *c, int how)
{
	struct io_uring_sqe *sqe = replica_sqe(c->r);

	if (!sqe)
		return;
	io_uring_prep_shutdown(sqe, c->fd, how);
	sqe->user_data = replica_ud(RK_SHUT, UD_OP_OTHER, c->id, 0);
	c->ops++;
}

/* A closing connection: stop the receive side at once (a posted recv
 * returns), let requests finish and their replies go out, then shut the
 * socket and free the connection once nothing of it is in flight. */
void replica_conn_maybe_finish(struct rconn *c)
{
	if (!c->closing)
		return;
	if (c->probe.posted && !c->rd_shut && !c->shut_sent) {
		shut(c, SHUT_RD);
		c->rd_shut = true;
	}
	if (c->cur || c->nbusy || c->nsending)
		return;
	if (!c->shut_sent) {
		shut(c, SHUT_RDWR);
		c->shut_sent = true;
	}
	if (!c->ops)
		conn_free(c);
}

void replica_conn_new(struct replica *r, int fd)
{
	int one = 1, bytes = SOCK_BUF_BYTES;
	struct rconn *c;
	unsigned int i, id;
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;

	for (id = 0; id < r->max_conns && r->conns[id]; id++)
		;
	c = id < r->max_conns ? calloc(1, sizeof(*c)) : NULL;
	if (c) {
		c->rxbuf = malloc(REPLICA_RXBUF);
		c->slots = calloc(r->nslots, sizeof(*c->slots));
	}
	if (!c || !c->rxbuf || !c->slots) {
		log_warn("connection refused: %s", c ? "out of memory" :
			 "too many connections (--max-conns)");
		if (c) {
			free(c->rxbuf);
			free(c->slots);
			free(c);
		}
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (r->peer.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&r->peer;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	} else if (r->peer.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&r->peer;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
	c->r = r;
	c->id = id;
	c->fd = fd;
	c->nslots = r->nslots;
	for (i = r->nslots; i-- > 0;) {
		c->slots[i].c = c;
		c->slots[i].idx = (uint16_t)i;
		c->slots[i].next = c->free_slots;
		c->free_slots = &c->slots[i];
	}
	replica_rx_init(&c->rx, REPL_MAX_PAYLOAD);
	r->conns[id] = c;
	r->nconns++;
	log_debug("%s: connected", c->peer);
	replica_conn_process(c);
}

/* Stop reading and close once what was received is answered (SIGTERM). */
void replica_conn_close(struct rconn *c)
{
	c->closing = true;
	kick(c);
}

/* Cancel c's direct recv to learn how far it got: false if there is none
 * or the last probe is still unanswered (then c has stalled). */
static bool probe_recv(struct rconn *c)
{
	int ret = stallprobe_ask(&c->probe, c->r->loop,
				 replica_ud(RK_RECV, UD_OP_OTHER, c->id, 0),
				 replica_ud(RK_PROBE, UD_OP_OTHER, c->id, 0),
				 &c->ops);

	if (ret == -EBUSY)	/* ask again at the next tick */
		log_err("io_uring: no SQE (submit failed)");
	return ret != -ENOENT;
}

bool replica_conn_stalled(struct rconn *c, uint64_t now, uint64_t limit_ns)
{
	if (c->shut_sent)
		return false;	/* on its way out already */
	if (c->nsending && now - c->send_ns > limit_ns)
		return true;
	/* Waiting for bytes of a frame it began (not for a buffer or slot
	 * of ours: then no recv is posted). */
	return c->probe.posted && replica_rx_mid_frame(&c->rx) &&
	       now - c->recv_ns > limit_ns && !probe_recv(c);
}

/* Give up on a client that keeps the server waiting: drop its replies and
 * shut the socket, so that I/O in flight fails and the connection (and
 * the buffers it holds) can go. */
void replica_conn_cut(struct rconn *c, const char *why)
{
	log_warn("%s: %s; cut off", c->peer, why);
	c->closing = c->tx_dead = true;
	txq_drop(c, c->nsending);
	if (!c->shut_sent) {
		shut(c, SHUT_RDWR);
		c->shut_sent = true;
	}
}
