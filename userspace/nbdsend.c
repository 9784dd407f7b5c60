/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nbdsend: a connection's output.  Replies are queued as their requests
 * finish and go out at the end of the loop iteration, many per sendmsg;
 * a short send is resumed from where it stopped before anything else is
 * sent, so replies never interleave on the wire.  Also sends the
 * handshake's replies.  Private to the nbd module.
 */
#include "nbdconn.h"

#include <errno.h>
#include <string.h>

#include "hist.h"

/* Replies completed during a loop iteration go out together at its end:
 * the SQE would not be submitted before the next io_uring_enter anyway,
 * and one sendmsg then carries all of them. */
static void send_later(struct nbd_conn *c)
{
	struct nbd_server *s = c->s;

	if (c->sending || c->send_due)
		return;
	if (s->nr_due == 2 * s->o.max_conns) {
		/* the list is full (ids reused this iteration) */
		nbdconn_kick_send(c);
		return;
	}
	c->send_due = true;
	s->due[s->nr_due++] = c->id;
}

/* Every connection with replies that became ready during this loop
 * iteration sends them, one sendmsg each. */
void nbdconn_send_due(struct nbd_server *s)
{
	unsigned int n = s->nr_due, i;
	struct nbd_conn *c;

	s->nr_due = 0;
	for (i = 0; i < n; i++) {
		c = s->conns[s->due[i]];
		if (!c || !c->send_due)
			continue;	/* gone, or its id reused */
		c->send_due = false;
		nbdconn_kick_send(c);
	}
}

static const char *err_text(uint32_t err)
{
	switch (err) {
	case NBD_EINVAL:
		return "invalid request";
	case NBD_ENOSPC:
		return "no space, or past the end of the export";
	case NBD_ESHUTDOWN:
		return "server shutting down";
	case NBD_ENOTSUP:
		return "not supported";
	case NBD_EPERM:
		return "read-only export";
	default:
		return "I/O error";
	}
}

void nbdconn_reply(struct nbd_req *q)
{
	struct nbd_conn *c = q->c;

	if (q->err && q->r.type == NBD_CMD_READ)
		nbdconn_buf_release(c, q);	/* no data goes out */
	if (q->err && c->structured)
		q->hdr_len = (uint32_t)nbdproto_error_chunk(q->hdr, q->r.handle,
							    q->err,
							    err_text(q->err));
	else if (q->r.type == NBD_CMD_READ && c->structured)
		q->hdr_len = (uint32_t)nbdproto_read_chunk(q->hdr, q->r.handle,
							   q->r.offset,
							   q->r.len);
	else
		q->hdr_len = (uint32_t)nbdproto_simple_reply(q->hdr,
							     q->r.handle,
							     q->err);
	q->data_len = !q->err && q->r.type == NBD_CMD_READ ? q->r.len : 0;
	if (q->err)
		c->s->st.errors++;
	q->state = RQ_QUEUED;
	q->next = NULL;
	if (c->q_tail)
		c->q_tail->next = q;
	else
		c->q_head = q;
	c->q_tail = q;
	c->s->unsent++;
	send_later(c);
}

/* A reply is on the wire: account it and free the slot. */
static void reply_done(struct nbd_conn *c, struct nbd_req *q)
{
	struct nbd_server *s = c->s;
	enum nbd_op_class k = nbdconn_opc(q->r.type);

	s->unsent--;
	if (!q->err) {
		if (k == NBD_OPC_READ)
			s->st.bytes_read += q->r.len;
		else if (k == NBD_OPC_WRITE)
			s->st.bytes_written += q->r.len;
	}
	hist_record(&s->st.latency[k], uloop_now(s->loop) - q->start_ns);
	nbdconn_slot_put(c, q);
}

/* Fill c->iov from the batch, skipping what is already sent. */
static unsigned int build_iov(struct nbd_conn *c)
{
	uint64_t skip = c->batch_off;
	unsigned int n = 0;
	struct nbd_req *q;

	for (q = c->batch; q && n < NBDCONN_NR_IOV; q = q->next) {
		struct iovec part[2] = {
			{ q->hdr, q->hdr_len },
			{ q->buf ? q->buf->base : NULL, q->data_len },
		};
		int i;

		for (i = 0; i < 2; i++) {
			if (!part[i].iov_len)
				continue;
			if (skip >= part[i].iov_len) {
				skip -= part[i].iov_len;
				continue;
			}
			c->iov[n].iov_base = (uint8_t *)part[i].iov_base + skip;
			c->iov[n].iov_len = part[i].iov_len - skip;
			skip = 0;
			n++;
		}
	}
	return n;
}

static void submit_send(struct nbd_conn *c, unsigned int niov)
{
	struct io_uring_sqe *sqe = uloop_get_sqe(c->s->loop);

	if (!sqe) {
		nbdconn_hangup(c, "no SQE");
		return;
	}
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = niov;
	io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
	nbd_set_ud(sqe, NBD_OP_SEND, c->id);
	c->sending = true;
	c->sqes++;
}

/* Start a sendmsg of queued replies if none is running.  At most
 * NBDCONN_NR_IOV / 2 replies go in one batch, so that all of them fit in
 * the iovec array. */
void nbdconn_kick_send(struct nbd_conn *c)
{
	struct nbd_req *q, **tail = &c->batch;
	unsigned int n = 0;

	if (c->sending || c->phase == PH_DEAD)
		return;
	if (c->phase == PH_HANDSHAKE) {
		if (c->hs_sent == c->hs.out_len)
			return;
		c->iov[0].iov_base = c->hs.out + c->hs_sent;
		c->iov[0].iov_len = c->hs.out_len - c->hs_sent;
		submit_send(c, 1);
		return;
	}
	if (!c->batch) {
		c->batch_off = 0;
		c->send_ns = uloop_now(c->s->loop);
		while (c->q_head && n < NBDCONN_NR_IOV / 2) {
			q = c->q_head;
			c->q_head = q->next;
			q->next = NULL;
			q->state = RQ_SENDING;
			*tail = q;
			tail = &q->next;
			n++;
		}
		if (!c->q_head)
			c->q_tail = NULL;
		if (!c->batch)
			return;
	}
	submit_send(c, build_iov(c));
}

void nbdconn_on_send(struct nbd_conn *c, int res)
{
	struct nbd_req *q;

	c->sending = false;
	if (c->phase != PH_DEAD && (res == -EINTR || res == -EAGAIN)) {
		nbdconn_kick_send(c);
		return;
	}
	if (c->phase == PH_DEAD) {
		nbdconn_reap(c);
		return;
	}
	if (res <= 0) {
		nbdconn_hangup(c, "send failed");
		return;
	}
	c->send_ns = uloop_now(c->s->loop);
	if (c->phase == PH_HANDSHAKE) {
		nbdconn_hs_sent(c, (uint32_t)res);
		return;
	}
	c->batch_off += (uint64_t)res;
	while ((q = c->batch) &&
	       c->batch_off >= (uint64_t)q->hdr_len + q->data_len) {
		c->batch_off -= (uint64_t)q->hdr_len + q->data_len;
		c->batch = q->next;
		reply_done(c, q);
	}
	if (c->batch)
		nbdconn_kick_send(c);	/* the rest of a short send */
	else if (c->q_head)
		send_later(c);
	if (c->phase == PH_DRAIN) {
		nbdconn_drain_check(c);
		return;
	}
	if (!c->parked)
		nbdconn_process(c);	/* slots are free again */
}

void nbdconn_drop_queue(struct nbd_conn *c)
{
	struct nbd_req *q;

	while ((q = c->q_head)) {
		c->q_head = q->next;
		c->s->unsent--;
		nbdconn_slot_put(c, q);
	}
	c->q_tail = NULL;
	if (c->sending)
		return;		/* the batch is the kernel's until its CQE */
	while ((q = c->batch)) {
		c->batch = q->next;
		c->s->unsent--;
		nbdconn_slot_put(c, q);
	}
}
