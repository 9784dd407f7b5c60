/* SPDX-License-Identifier: Apache-2.0 */
#include "nbd.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "nbdconn.h"

#define TICK_NS		1000000000ULL	/* stall watchdog period */
/* While others wait for the buffer pool, a client holding buffers that
 * has stalled this long (or a quarter of the client timeout, if less) is
 * dropped: its buffers are what the others wait for. */
#define PRESS_NS	2000000000ULL
#define ACCEPT_RETRY_NS	100000000ULL	/* after EMFILE and friends */

static struct io_uring_sqe *get_sqe(struct nbd_server *s)
{
	return uloop_get_sqe(s->loop);
}

/* ---- listener ---- */

static void arm_accept(struct nbd_server *s)
{
	struct io_uring_sqe *sqe;

	if (s->accepting || s->quiescing)
		return;
	sqe = get_sqe(s);
	if (!sqe) {
		uloop_timer_arm(s->loop, &s->accept_timer,
				uloop_now(s->loop) + ACCEPT_RETRY_NS);
		return;
	}
	io_uring_prep_multishot_accept(sqe, s->sock.fd, NULL, NULL,
				       SOCK_CLOEXEC);
	nbd_set_ud(sqe, NBD_OP_ACCEPT, NBD_LISTENER);
	s->accepting = true;
	s->listen_sqes++;
}

static void on_accept_timer(struct uloop_timer *t)
{
	struct nbd_server *s = (struct nbd_server *)((char *)t -
		offsetof(struct nbd_server, accept_timer));

	arm_accept(s);
}

static void on_accept(struct nbd_server *s, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		s->accepting = false;
		s->listen_sqes--;
	}
	if (cqe->res >= 0) {
		nbdconn_new(s, cqe->res);
	} else if (!s->quiescing && cqe->res != -ECANCELED) {
		/* EMFILE and the like: back off rather than spin */
		log_warn("nbd: accept: %s", strerror(-cqe->res));
		if (!s->accepting)
			uloop_timer_arm(s->loop, &s->accept_timer,
					uloop_now(s->loop) + ACCEPT_RETRY_NS);
		return;
	}
	if (!s->accepting)
		arm_accept(s);
}

static void on_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	struct nbd_server *s = ctx;

	if (ud_index(cqe->user_data) == NBD_LISTENER) {
		if (ud_op(cqe->user_data) == NBD_OP_ACCEPT)
			on_accept(s, cqe);
		else
			s->listen_sqes--;
		return;
	}
	nbdconn_on_cqe(s, cqe);
}

/* ---- stall watchdog ---- */

static bool conn_stalled(struct nbd_conn *c, uint64_t now, uint64_t limit)
{
	uint32_t avail;

	if (c->phase == PH_HANDSHAKE)
		return now - c->born_ns > limit;
	if (c->phase == PH_DEAD)
		return false;
	if ((c->batch || c->sending) && now - c->send_ns > limit)
		return true;	/* not reading its replies */
	/* stopped inside a request header: an idle client has none */
	avail = c->in_end - c->in_start;
	if (!c->cur && avail && avail < NBDPROTO_REQ_SIZE &&
	    c->phase == PH_TRANSMIT)
		return now - c->recv_ns > limit;
	/* stopped mid-request, unless a payload received in place turns
	 * out to have moved on (nbdconn_probe_recv) */
	return c->cur && (c->cur->state == RQ_PAYLOAD ||
			  c->cur->state == RQ_DISCARD) &&
	       now - c->recv_ns > limit && !nbdconn_probe_recv(c);
}

/* Has some connection waited for the buffer pool itself (not its own
 * share) for longer than press? */
static bool pool_pressed(const struct nbd_server *s, uint64_t now,
			 uint64_t press)
{
	unsigned int i;

	for (i = 0; i < s->o.max_conns; i++) {
		const struct nbd_conn *c = s->conns[i];

		if (c && c->phase != PH_DEAD && c->parked && c->pool_wait_ns &&
		    now - c->pool_wait_ns > press)
			return true;
	}
	return false;
}

static void on_tick(struct uloop_timer *t)
{
	struct nbd_server *s = (struct nbd_server *)((char *)t -
		offsetof(struct nbd_server, tick));
	uint64_t now = uloop_now(s->loop);
	uint64_t limit = (uint64_t)s->o.client_timeout_ms * 1000000ULL;
	uint64_t press = limit / 4 < PRESS_NS ? limit / 4 : PRESS_NS;
	bool pressed = pool_pressed(s, now, press);
	unsigned int i;

	for (i = 0; i < s->o.max_conns; i++) {
		struct nbd_conn *c = s->conns[i];
		/* once per connection: the check may send a probe */
		bool short_lim = c && pressed && c->buf_bytes &&
				 c->phase != PH_HANDSHAKE;

		if (!c)
			continue;
		if (c->phase == PH_DEAD && !c->sqes)
			nbdconn_reap(c);
		else if (conn_stalled(c, now, short_lim ? press : limit))
			nbdconn_hangup(c, c->phase == PH_HANDSHAKE ?
				    "handshake timed out" : short_lim ?
				    "stalled while others wait for buffers" :
				    "stalled");
	}
	uloop_timer_arm(s->loop, &s->tick, now + TICK_NS);
}

/* ---- the server ---- */

/* Block sizes: the engine's block is the minimum (it refuses anything
 * unaligned); the maximum is the largest request one registered buffer
 * and one engine call take. */
static int export_init(struct nbd_server *s)
{
	struct nbdproto_export *x = &s->exp;
	uint32_t max = engine_max_io(s->e);

	if (uloop_buf_max(s->loop) < max)
		max = uloop_buf_max(s->loop);
	if (s->o.max_block && s->o.max_block < max)
		max = s->o.max_block;
	if (max > NBDPROTO_DISCARD_MAX)
		max = NBDPROTO_DISCARD_MAX;
	x->name = s->name;
	x->description = s->description;
	x->size = engine_size(s->e);
	x->min_block = engine_block_size(s->e);
	x->pref_block = x->min_block > 4096 ? x->min_block : 4096;
	x->max_block = x->min_block ? max - max % x->min_block : 0;
	/* CAN_MULTI_CONN: every connection goes to the one engine, whose
	 * flush covers every write acked before it, from any connection,
	 * and whose reads see every acked write (docs/nbd.md). */
	x->tflags = NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
		    NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
		    NBD_FLAG_SEND_FAST_ZERO | NBD_FLAG_CAN_MULTI_CONN;
	if (x->max_block < x->pref_block)
		return -EINVAL;
	return nbdproto_export_check(x);
}

/* Every connection is an fd: make room for max_conns of them (and the
 * engine's) under the soft RLIMIT_NOFILE, raising it toward the hard
 * limit.  systemd's default soft limit, 1024, is also our default
 * max_conns.  Not fatal: past the limit accept backs off and retries,
 * which is said once here. */
static void raise_fd_limit(unsigned int max_conns)
{
	rlim_t want = (rlim_t)max_conns + 256;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < want)
		log_warn("nbd: the fd limit (%llu) is too low for %u clients; "
			 "those past it wait to be accepted",
			 (unsigned long long)rl.rlim_cur, max_conns);
}

static void opts_init(struct nbd_opts *o, const struct nbd_opts *in)
{
	*o = *in;
	o->sock = NULL;		/* taken into s->sock, not kept */
	if (!o->max_conns)
		o->max_conns = 1024;
	if (!o->max_requests)
		o->max_requests = 128;
	if (!o->conn_buf_bytes)
		o->conn_buf_bytes = 16U << 20;
	if (!o->client_timeout_ms)
		o->client_timeout_ms = 30000;
}

int nbd_server_create(struct uloop *loop, struct engine *e,
		      const struct nbd_opts *o, struct nbd_server **out)
{
	struct nbd_server *s;
	unsigned int i;
	int err;

	if (!o->name || !o->listen || o->max_conns > 65536 ||
	    o->max_requests > 4096)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->e = e;
	s->sock.fd = -1;
	opts_init(&s->o, o);
	s->name = strdup(o->name);
	s->description = o->description ? strdup(o->description) : NULL;
	s->conns = calloc(s->o.max_conns, sizeof(*s->conns));
	s->free_ids = calloc(s->o.max_conns, sizeof(*s->free_ids));
	s->due = calloc(2 * (size_t)s->o.max_conns, sizeof(*s->due));
	err = -ENOMEM;
	if (!s->name || (o->description && !s->description) || !s->conns ||
	    !s->free_ids || !s->due)
		goto err_free;
	for (i = 0; i < s->o.max_conns; i++)
		s->free_ids[i] = s->o.max_conns - 1 - i;
	s->nr_free_ids = s->o.max_conns;
	raise_fd_limit(s->o.max_conns);
	err = export_init(s);
	if (err)
		goto err_free;
	if (o->sock)
		s->sock = *o->sock;
	else
		err = nbdsock_listen(o->listen, &s->sock);
	if (err)
		goto err_free;
	err = uloop_set_handler(loop, UD_CLS_NBD, on_cqe, s);
	if (!err)
		err = uloop_add_hook(loop, nbdconn_resume_parked, s);
	if (err)
		goto err_close;
	s->accept_timer.fn = on_accept_timer;
	s->tick.fn = on_tick;
	uloop_timer_arm(loop, &s->tick, uloop_now(loop) + TICK_NS);
	arm_accept(s);
	if (o->sock) {
		o->sock->fd = -1;
		o->sock->path[0] = 0;
	}
	*out = s;
	return 0;

err_close:
	uloop_set_handler(loop, UD_CLS_NBD, NULL, NULL);
	if (!o->sock)
		nbdsock_close(&s->sock);
err_free:
	free(s->due);
	free(s->free_ids);
	free(s->conns);
	free(s->description);
	free(s->name);
	free(s);
	return err;
}

const char *nbd_server_address(const struct nbd_server *s)
{
	return s->sock.addr;
}

void nbd_server_quiesce(struct nbd_server *s)
{
	struct io_uring_sqe *sqe;
	unsigned int i;

	if (s->quiescing)
		return;
	s->quiescing = true;
	uloop_timer_cancel(s->loop, &s->accept_timer);
	if (s->accepting && (sqe = get_sqe(s))) {
		io_uring_prep_cancel_fd(sqe, s->sock.fd, IORING_ASYNC_CANCEL_ALL);
		nbd_set_ud(sqe, NBD_OP_CANCEL, NBD_LISTENER);
		s->listen_sqes++;
	}
	/* New clients fail at once: the unix socket file goes, and a shut
	 * listening socket refuses connections (TCP ones included, which
	 * would otherwise wait in the backlog until the process exits). */
	nbdsock_unlink(&s->sock);
	shutdown(s->sock.fd, SHUT_RDWR);
	for (i = 0; i < s->o.max_conns; i++)
		if (s->conns[i])
			nbdproto_hs_shutdown(&s->conns[i]->hs);
}

bool nbd_server_idle(const struct nbd_server *s)
{
	unsigned int i;

	if (s->inflight || s->unsent)
		return false;
	for (i = 0; i < s->o.max_conns; i++) {
		const struct nbd_conn *c = s->conns[i];

		if (c && c->phase != PH_DEAD && c->cur)
			return false;
	}
	return true;
}

void nbd_server_disconnect(struct nbd_server *s)
{
	unsigned int i;

	for (i = 0; i < s->o.max_conns; i++)
		if (s->conns[i])
			nbdconn_hangup(s->conns[i], NULL);
}

unsigned int nbd_server_conns(const struct nbd_server *s)
{
	return s->nr_conns;
}

void nbd_server_get_stats(const struct nbd_server *s, struct nbd_stats *out)
{
	*out = s->st;
	out->conns = s->nr_conns;
}

void nbd_server_destroy(struct nbd_server *s)
{
	unsigned int i;

	if (!s)
		return;
	/* Stale CQEs of ours, if the loop runs again, are dropped. */
	uloop_set_handler(s->loop, UD_CLS_NBD, NULL, NULL);
	uloop_del_hook(s->loop, nbdconn_resume_parked, s);
	uloop_timer_cancel(s->loop, &s->tick);
	uloop_timer_cancel(s->loop, &s->accept_timer);
	for (i = 0; i < s->o.max_conns; i++) {
		struct nbd_conn *c = s->conns[i];

		if (!c)
			continue;
		/* Buffers in flight in the kernel or the engine are not
		 * handed back: the loop is going away with them. */
		shutdown(c->fd, SHUT_RDWR);
		close(c->fd);
		free(c->in);
		free(c);
	}
	/* Nor is the buffer of zeroes: a replica behind may still be
	 * reading it if the engine lives on. */
	nbdsock_close(&s->sock);
	free(s->due);
	free(s->free_ids);
	free(s->conns);
	free(s->description);
	free(s->name);
	free(s);
}
