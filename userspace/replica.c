/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replica server's life: the data directory lock, listening and
 * accepting, routing completions, and the graceful drain.  Connections
 * are replica_conn.c's; see replica_int.h for how the files divide up.
 */
#include "replica.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "replica_int.h"

struct io_uring_sqe *replica_sqe(struct replica *r)
{
	struct io_uring_sqe *sqe = uloop_get_sqe(r->loop);

	if (!sqe)
		log_err("io_uring: no SQE (submit failed)");
	return sqe;
}

/* ---- accepting ---- */

void replica_accept_arm(struct replica *r)
{
	struct io_uring_sqe *sqe = replica_sqe(r);

	if (!sqe)
		return;
	r->peer_len = sizeof(r->peer);
	io_uring_prep_accept(sqe, r->listen_fd, (struct sockaddr *)&r->peer,
			     &r->peer_len, SOCK_CLOEXEC);
	sqe->user_data = replica_ud(RK_ACCEPT, UD_OP_OTHER, 0, 0);
	r->accept_armed = true;
}

static void accept_retry(struct uloop_timer *t)
{
	struct replica *r = (struct replica *)((char *)t -
		offsetof(struct replica, accept_timer));

	if (!r->draining && !r->accept_armed)
		replica_accept_arm(r);
}

static void close_listen(struct replica *r)
{
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	r->listen_fd = -1;
}

static void accept_done(struct replica *r, int res)
{
	r->accept_armed = false;
	if (r->draining) {
		if (res >= 0)
			close(res);
		close_listen(r);
		return;
	}
	if (res < 0) {
		/* EMFILE and friends: back off rather than spin. */
		log_warn("accept: %s", strerror(-res));
		uloop_timer_arm(r->loop, &r->accept_timer,
				uloop_now(r->loop) + 100000000ULL);
		return;
	}
	replica_conn_new(r, res);
	if (r->nconns < r->max_conns) {
		replica_accept_arm(r);
	} else {
		log_warn("at --max-conns (%u): not accepting until one closes",
			 r->max_conns);
	}
}

/* ---- completions ---- */

static void on_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	struct replica *r = ctx;
	uint32_t idx = ud_index(cqe->user_data);
	enum replica_kind k = (enum replica_kind)(idx >> 28);
	unsigned int id = (idx >> 12) & RK_MAX_ID, sub = idx & RK_MAX_SUB;
	struct rconn *c;

	switch (k) {
	case RK_ACCEPT:
		accept_done(r, cqe->res);
		return;
	case RK_CANCEL:
		return;
	case RK_META:
	case RK_VSYNC:
		replica_vol_cqe(r, k, id, sub, cqe->res);
		return;
	default:
		break;
	}
	c = id < r->max_conns ? r->conns[id] : NULL;
	if (!c) {
		log_err("completion for unknown connection %u", id);
		return;
	}
	switch (k) {
	case RK_RECV:
		c->ops--;
		replica_conn_recv_done(c, cqe->res);
		break;
	case RK_SEND:
		c->ops--;
		replica_conn_send_done(c, cqe->res);
		break;
	case RK_SHUT:
	case RK_PROBE:
		c->ops--;
		replica_conn_maybe_finish(c);
		break;
	case RK_IO:
		if (sub < c->nslots)
			replica_io_cqe(&c->slots[sub], ud_op(cqe->user_data),
				       cqe->res);
		break;
	default:
		log_err("completion of unknown kind %u", k);
	}
}

/* After each batch of completions: resume connections that were waiting
 * for a slot or a buffer, or that are closing. */
static void on_hook(void *arg)
{
	struct replica *r = arg;
	struct rconn *c, *list;

	while ((list = r->kick)) {
		r->kick = NULL;
		while ((c = list)) {
			list = c->next_kick;
			c->kicked = false;
			replica_conn_process(c);
		}
	}
}

/* ---- stalled clients ---- */

#define TICK_NS		1000000000ULL

/* Every second: write the records of synced seqs raised by FLUSHes since
 * the last one, retry failed metadata writes that are due, and cut the
 * clients that have kept the server waiting longer than --client-timeout.
 * Each holds registered buffers (a payload it does not finish sending,
 * replies it does not take) that every other client needs; left alone,
 * one such client stalls them all. */
static void on_tick(struct uloop_timer *t)
{
	struct replica *r = (struct replica *)((char *)t -
		offsetof(struct replica, tick));
	uint64_t now = uloop_now(r->loop);
	unsigned int i;

	for (i = 0; i < r->max_conns; i++)
		if (r->conns[i] && replica_conn_stalled(r->conns[i], now,
							r->client_timeout_ns))
			replica_conn_cut(r->conns[i], "stalled (no progress "
					 "for --client-timeout)");
	replica_vol_tick(r, now);
	uloop_timer_arm(r->loop, &r->tick, now + TICK_NS);
}

/* ---- setup ---- */

static int parse_listen(const char *s, struct sockaddr_storage *ss,
			socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2], *port;
	struct addrinfo hints, *ai;
	size_t n;
	int err;

	n = strlen(s);
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n + 1);
	port = strrchr(host, ':');
	if (!port || port == host)
		return -EINVAL;
	*port++ = '\0';
	n = strlen(host);
	if (host[0] == '[') {
		if (host[n - 1] != ']')
			return -EINVAL;
		host[n - 1] = '\0';
		memmove(host, host + 1, n - 1);
	}
	/* getaddrinfo() takes any number as a service and truncates it to
	 * 16 bits: 70000 would listen on 4464. */
	if (!*port || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5 || atoi(port) > 65535)
		return -EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	err = getaddrinfo(host, port, &hints, &ai);
	if (err)
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

bool replica_listen_ok(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return !parse_listen(spec, &ss, &len);
}

static int listen_on(struct replica *r, const char *spec)
{
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN];
	socklen_t len;
	int one = 1, fd;

	if (parse_listen(spec, &ss, &len)) {
		log_err("--listen %s: want IP:PORT or [IPv6]:PORT, port 0..65535",
			spec);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A restarted server must get its old port back at once. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128)) {
		int err = -errno;

		log_err("listen on %s: %s", spec, strerror(-err));
		close(fd);
		return err;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		r->port = ntohs(a->sin6_port);
		snprintf(r->addr, sizeof(r->addr), "[%s]:%u", host, r->port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		r->port = ntohs(a->sin_port);
		snprintf(r->addr, sizeof(r->addr), "%s:%u", host, r->port);
	}
	r->listen_fd = fd;
	return 0;
}

static int lock_dir(struct replica *r, const char *dir)
{
	r->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dir_fd < 0) {
		log_err("--data %s: %s", dir, strerror(errno));
		return -errno;
	}
	r->lock_fd = openat(r->dir_fd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC,
			    0600);
	if (r->lock_fd < 0)
		return -errno;
	if (flock(r->lock_fd, LOCK_EX | LOCK_NB)) {
		log_err("--data %s: in use by another replica server", dir);
		return -EBUSY;
	}
	return 0;
}

/* Room in the io_uring worker pool for file I/O beside the flushes'
 * fdatasyncs (see REPLICA_SYNC_MAX).  The pool belongs to the thread, so
 * this also covers anything else on this thread's rings. */
static void grow_workers(struct replica *r)
{
	unsigned int vals[2] = { REPLICA_IOWQ_BOUNDED, 0 };
	int err = io_uring_register_iowq_max_workers(uloop_ring(r->loop), vals);

	if (err)
		log_warn("io_uring worker pool: %s: slow flushes may hold up "
			 "writes", strerror(-err));
	else if (vals[0] > REPLICA_IOWQ_BOUNDED)
		log_debug("io_uring worker pool already allows %u", vals[0]);
}

int replica_create(struct uloop *loop, const struct replica_opts *o,
		   struct replica **out)
{
	struct replica *r;
	int err;

	if (!o->zone || !o->zone[0] || strlen(o->zone) >= REPL_ZONE_MAX ||
	    !o->listen || !o->data_dir || o->slots > RK_MAX_SUB + 1 ||
	    o->max_conns > RK_MAX_ID + 1) {
		log_err("replica: bad options");
		return -EINVAL;
	}
	if (uloop_buf_max(loop) < REPLICA_BUF_MIN) {
		log_err("replica: registered buffers smaller than a frame");
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->dir_fd = r->lock_fd = r->listen_fd = -1;
	snprintf(r->zone, sizeof(r->zone), "%s", o->zone);
	r->max_conns = o->max_conns ? o->max_conns : 256;
	r->nslots = o->slots ? o->slots : 64;
	r->io = o->io;
	r->conns = calloc(r->max_conns, sizeof(*r->conns));
	r->accept_timer.fn = accept_retry;
	r->tick.fn = on_tick;
	r->client_timeout_ns = (uint64_t)(o->client_timeout_ms ?
					  o->client_timeout_ms : 30000) *
			       1000000ULL;
	err = r->conns ? 0 : -ENOMEM;
	if (!err)
		err = lock_dir(r, o->data_dir);
	if (!err)
		err = listen_on(r, o->listen);
	if (!err)
		err = uloop_set_handler(loop, UD_CLS_SERVER, on_cqe, r);
	if (!err)
		err = uloop_add_hook(loop, on_hook, r);
	if (err) {
		replica_destroy(r);
		return err;
	}
	grow_workers(r);
	replica_accept_arm(r);
	uloop_timer_arm(loop, &r->tick, uloop_now(loop) + TICK_NS);
	*out = r;
	return 0;
}

const char *replica_addr(const struct replica *r)
{
	return r->addr;
}

uint16_t replica_port(const struct replica *r)
{
	return r->port;
}

static void drain_expired(struct uloop_timer *t)
{
	struct replica *r = (struct replica *)((char *)t -
		offsetof(struct replica, drain_timer));
	unsigned int i;

	r->drain_expired = true;
	for (i = 0; i < r->max_conns; i++)
		if (r->conns[i])
			replica_conn_cut(r->conns[i],
					 "draining, and not taking its replies");
}

void replica_drain(struct replica *r, unsigned int drain_ms)
{
	struct io_uring_sqe *sqe;
	unsigned int i;

	if (r->draining)
		return;
	r->draining = true;
	uloop_timer_cancel(r->loop, &r->accept_timer);
	if (r->accept_armed && (sqe = replica_sqe(r))) {
		io_uring_prep_cancel64(sqe, replica_ud(RK_ACCEPT, UD_OP_OTHER,
						       0, 0), 0);
		sqe->user_data = replica_ud(RK_CANCEL, UD_OP_OTHER, 0, 0);
	} else if (!r->accept_armed) {
		close_listen(r);
	}
	for (i = 0; i < r->max_conns; i++)
		if (r->conns[i])
			replica_conn_close(r->conns[i]);
	r->drain_timer.fn = drain_expired;
	uloop_timer_arm(r->loop, &r->drain_timer,
			uloop_now(r->loop) + drain_ms * 1000000ULL);
}

bool replica_done(const struct replica *r)
{
	return r->draining && !r->accept_armed && !r->nconns &&
	       (!r->nvols || r->drain_expired);
}

bool replica_clean(const struct replica *r)
{
	return !r->nvols && !r->unclean;
}

void replica_destroy(struct replica *r)
{
	unsigned int i;

	if (!r)
		return;
	for (i = 0; i < r->max_conns && r->conns; i++) {
		if (r->conns[i]) {
			close(r->conns[i]->fd);
			free(r->conns[i]->rxbuf);
			free(r->conns[i]->slots);
			free(r->conns[i]);
		}
	}
	free(r->conns);
	replica_vol_close_all(r);
	free(r->vols);
	free(r->fserr);
	uloop_timer_cancel(r->loop, &r->accept_timer);
	uloop_timer_cancel(r->loop, &r->drain_timer);
	uloop_timer_cancel(r->loop, &r->tick);
	close_listen(r);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	if (r->dir_fd >= 0)
		close(r->dir_fd);
	free(r);
}
