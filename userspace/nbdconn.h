/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nbdconn: one client connection of the NBD frontend: its handshake, its
 * requests through the engine (nbdconn.c) and its replies (nbdsend.c).
 * Private to the nbd module (userspace/nbd.c owns the listener, the
 * watchdog and the server).
 */
#ifndef TAPESTRY_NBDCONN_H
#define TAPESTRY_NBDCONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "nbd.h"
#include "nbdproto.h"
#include "nbdsock.h"
#include "stallprobe.h"

#define NBDCONN_IN_CAP	(64 * 1024)	/* input buffer per connection */
#define NBDCONN_NR_IOV	64		/* iovecs per sendmsg */
#define NBDCONN_KEEPALIVE_S 120	/* a dead idle TCP peer is dropped */

/* user_data ops of our SQEs; the index is the connection's id. */
#define NBD_OP_ACCEPT	UD_OP_OTHER
#define NBD_OP_RECV	UD_OP_READ
#define NBD_OP_SEND	UD_OP_WRITE
#define NBD_OP_CANCEL	UD_OP_NONE
#define NBD_LISTENER	0xffffffffU	/* index of the listener's SQEs */

enum req_state {
	RQ_FREE,
	RQ_NEED_BUF,	/* parsed; waiting for a registered buffer */
	RQ_PAYLOAD,	/* write: receiving its payload */
	RQ_DISCARD,	/* refused write: skipping its payload */
	RQ_START,	/* ready for the engine (may be refused EAGAIN); a
			 * zero written as data stays here until its last
			 * chunk is in the engine */
	RQ_ENGINE,	/* in the engine */
	RQ_QUEUED,	/* reply waiting for the socket */
	RQ_SENDING,	/* reply in a sendmsg */
};

enum phase {
	PH_HANDSHAKE,
	PH_TRANSMIT,
	PH_DRAIN,	/* after DISC or EOF: finish requests, then close */
	PH_DEAD,	/* closing: wait for SQEs and engine callbacks */
};

struct nbd_conn;

struct nbd_req {
	struct nbd_conn *c;
	struct nbd_req *next;
	struct nbdproto_req r;
	enum req_state state;
	enum nbdproto_act act;
	struct uloop_buf *buf;	/* read data, or write payload until taken */
	uint32_t held;		/* pool bytes charged to the connection */
	uint32_t have;		/* payload bytes in buf */
	uint32_t err;		/* NBD error for the reply */
	uint32_t hdr_len, data_len;
	uint64_t start_ns;
	/* NBDPROTO_ACT_ZERO_WRITE: written in chunks of at most max_block
	 * from the server's shared buffer of zeroes. */
	uint64_t zoff;		/* the next chunk to hand the engine */
	uint32_t zout;		/* chunks in the engine */
	uint8_t hdr[NBDPROTO_ERR_CHUNK_MAX];
};

struct nbd_conn {
	struct nbd_server *s;
	int fd;
	uint32_t id;
	enum phase phase;
	bool sending, parked, structured, send_due;
	bool rd_eof;			/* the client shut its sending side */
	struct stallprobe probe;	/* the recv in flight, and whether a
					 * cancel asks it how far it got
					 * (nbdconn_probe_recv) */
	unsigned int sqes;		/* our SQEs not yet completed */
	unsigned int inflight;		/* requests (zero chunks) in the
					 * engine */
	uint64_t discard;		/* payload bytes left to skip */
	uint64_t buf_bytes;		/* pool bytes held */
	uint64_t born_ns, recv_ns, send_ns;	/* for the stall watchdog */
	uint64_t pool_wait_ns;		/* since when a request waits for the
					 * pool (not its share); 0: none */
	struct nbdproto_hs hs;
	enum nbdproto_hs_status hs_next;	/* once hs.out is sent */
	size_t hs_sent;
	struct nbdproto_limits lim;
	struct nbd_req *cur;		/* being received, or parked */
	struct nbd_req *free;
	struct nbd_req *q_head, *q_tail;	/* replies to send */
	struct nbd_req *batch;		/* replies in the sendmsg */
	uint64_t batch_off;		/* bytes of batch already sent */
	struct nbd_conn *park_prev, *park_next;
	struct msghdr msg;
	struct iovec iov[NBDCONN_NR_IOV];
	uint32_t in_start, in_end;
	uint8_t *in;
	struct nbd_req reqs[];
};

struct nbd_server {
	struct uloop *loop;
	struct engine *e;
	struct nbd_opts o;
	char *name, *description;
	struct nbdproto_export exp;
	struct nbd_sock sock;
	bool accepting, quiescing;
	bool sndbuf_capped;		/* said once: wmem_max caps SO_SNDBUF */
	unsigned int listen_sqes;
	struct uloop_timer accept_timer, tick;
	struct nbd_conn **conns;
	unsigned int nr_conns;
	uint32_t *free_ids;
	unsigned int nr_free_ids;
	struct nbd_conn *park_head, *park_tail;
	unsigned int nr_parked;
	uint32_t *due;			/* ids of connections with replies
					 * to send at the end of the loop
					 * iteration; 2 x max_conns */
	unsigned int nr_due;
	uint64_t inflight, unsent;
	/* max_block of zeroes that every NO_HOLE zero writes from
	 * (ENGINE_BUF_SHARED): taken from the pool at the first one, kept
	 * until the server goes, after the engine */
	struct uloop_buf *zero_buf;
	struct nbd_stats st;
};

static inline void nbd_set_ud(struct io_uring_sqe *sqe, unsigned int op,
			      uint32_t index)
{
	sqe->user_data = ud_make(UD_CLS_NBD, op, UD_ZONE_NONE, 0, index);
}

static inline enum nbd_op_class nbdconn_opc(uint16_t type)
{
	if (type == NBD_CMD_READ)
		return NBD_OPC_READ;
	if (type == NBD_CMD_WRITE)
		return NBD_OPC_WRITE;
	return NBD_OPC_OTHER;
}

/* A connection for an accepted socket (fd is taken: closed on refusal). */
void nbdconn_new(struct nbd_server *s, int fd);
/* Route a CQE of a connection's SQE. */
void nbdconn_on_cqe(struct nbd_server *s, const struct io_uring_cqe *cqe);
/* Drop the connection; why is logged (NULL: a normal end).  It is freed
 * later, from a completion, never inside this call. */
void nbdconn_hangup(struct nbd_conn *c, const char *why);
/* The watchdog found c mid-payload with no recv completed for the
 * timeout.  A payload received in place is one recv that completes only
 * once whole, so that says nothing of progress: cancel it, which
 * completes it with the bytes that did arrive (reception then goes on)
 * or with -ECANCELED if none did (on_recv then hangs up).  Returns false
 * if there is nothing to ask (no such recv, or the last probe is still
 * unanswered): the client has stalled. */
bool nbdconn_probe_recv(struct nbd_conn *c);
/* Free a dead connection if nothing refers to it any more. */
void nbdconn_reap(struct nbd_conn *c);
/* uloop hook, after each iteration's completions: retry connections
 * parked for a buffer or engine slot, then send the replies of every
 * connection that has new ones, one sendmsg each. */
void nbdconn_resume_parked(void *arg);

/* Between nbdconn.c (input, requests, lifetime) and nbdsend.c (output). */

/* Parse and start what the input buffer holds, as far as slots, buffers
 * and the engine allow; then receive more. */
void nbdconn_process(struct nbd_conn *c);
/* Give back q's registered buffer, or q's slot (and its buffer). */
void nbdconn_buf_release(struct nbd_conn *c, struct nbd_req *q);
void nbdconn_slot_put(struct nbd_conn *c, struct nbd_req *q);
/* The socket took sent bytes of the handshake's output. */
void nbdconn_hs_sent(struct nbd_conn *c, uint32_t sent);
/* After DISC (or the client's EOF): close once all is answered. */
void nbdconn_drain_check(struct nbd_conn *c);

/* q is finished (q->err set, 0 for success): queue its reply; it goes
 * out at the end of this loop iteration. */
void nbdconn_reply(struct nbd_req *q);
/* Start a sendmsg of what is queued, unless one is running. */
void nbdconn_kick_send(struct nbd_conn *c);
/* uloop hook part: send the replies that became ready. */
void nbdconn_send_due(struct nbd_server *s);
/* The CQE of the connection's send. */
void nbdconn_on_send(struct nbd_conn *c, int res);
/* Free the slots of replies not yet handed to the kernel. */
void nbdconn_drop_queue(struct nbd_conn *c);

#endif /* TAPESTRY_NBDCONN_H */
