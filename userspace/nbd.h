/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nbd: the NBD frontend.  Serves one engine volume to any number of NBD
 * clients over a unix or TCP socket, on the engine's uloop.
 *
 * - Accept, receive and send all go through io_uring (user_data class
 *   UD_CLS_NBD); nothing blocks the loop.
 * - Each connection has a fixed set of request slots; requests run in the
 *   engine concurrently and their replies go out as they complete, in any
 *   order, batched into one sendmsg.
 * - Memory per connection is bounded: a fixed input buffer, a fixed number
 *   of slots, and a cap on the registered buffers it may hold.  When a
 *   connection hits a limit it stops reading; the others carry on.
 * - A client that stops reading its replies, or stops half-way through a
 *   request, for longer than client_timeout_ms is disconnected, which
 *   hands its buffers back.  While another connection waits for the
 *   buffer pool, a stalled one holding buffers goes sooner: after a
 *   quarter of that, at most 2 s.
 * - Write payloads land in registered buffers that the engine takes;
 *   large payloads are received straight into them.
 *
 * The protocol itself is userspace/nbdproto.c; docs/nbd.md says what is
 * supported.
 */
#ifndef TAPESTRY_NBD_H
#define TAPESTRY_NBD_H

#include <stdbool.h>
#include <stdint.h>

#include "abi/hist.h"
#include "uloop.h"

struct engine;
struct nbd_server;
struct nbd_sock;

struct nbd_opts {
	const char *listen;		/* "unix:PATH" or "tcp:IP:PORT" */
	/* Or a socket already listening there (nbdsock_listen), so that a
	 * caller can find out that it cannot listen before it opens the
	 * volume: taken on success (*sock is left closed), still the
	 * caller's on failure.  NULL: listen on listen. */
	struct nbd_sock *sock;
	const char *name;		/* export name, 1..255 bytes */
	const char *description;	/* NULL for none */
	unsigned int max_conns;		/* 0 = 1024 */
	unsigned int max_requests;	/* in flight per connection; 0 = 128 */
	uint32_t conn_buf_bytes;	/* pool bytes per connection; 0 = 16 MiB */
	uint32_t client_timeout_ms;	/* 0 = 30000 */
	uint32_t max_block;		/* 0 = what the engine and pool allow */
};

/* Listen on o->listen and serve e (borrowed; it must outlive the server)
 * on loop.  A unix socket path left over by a dead server is replaced;
 * one a live server answers on is refused with -EADDRINUSE.  Returns 0
 * or -errno (-EINVAL for a bad address or limits the engine cannot
 * meet); *out is set only on success. */
int nbd_server_create(struct uloop *loop, struct engine *e,
		      const struct nbd_opts *o, struct nbd_server **out);

/* The address actually bound, e.g. "tcp:127.0.0.1:40521" for port 0. */
const char *nbd_server_address(const struct nbd_server *s);

/* Begin a clean shutdown: stop accepting, refuse further options with
 * NBD_REP_ERR_SHUTDOWN and further requests with ESHUTDOWN, let requests
 * already in the engine finish and their replies go out. */
void nbd_server_quiesce(struct nbd_server *s);

/* No request is in the engine and no reply is waiting to be sent. */
bool nbd_server_idle(const struct nbd_server *s);

/* Disconnect every client (after quiesce and idle, that is clean).  The
 * connections are gone once nbd_server_conns() is 0. */
void nbd_server_disconnect(struct nbd_server *s);

unsigned int nbd_server_conns(const struct nbd_server *s);

/* Close the listener and every connection and free it all.  Requests
 * still in the engine would call back into freed memory, so destroy the
 * engine first (its in-flight requests complete before it returns), or
 * wait for nbd_server_idle().  Accepts NULL. */
void nbd_server_destroy(struct nbd_server *s);

enum nbd_op_class { NBD_OPC_READ, NBD_OPC_WRITE, NBD_OPC_OTHER,
		    NBD_NR_OPC };

struct nbd_stats {
	uint64_t accepted;	/* connections */
	uint64_t refused;	/* over max_conns */
	uint64_t hangups;	/* dropped for protocol errors or stalls */
	unsigned int conns;	/* open now */
	unsigned int peak_conns;	/* most open at once */
	uint64_t requests[NBD_NR_OPC];
	uint64_t errors;	/* replies with a nonzero error */
	uint64_t bytes_read, bytes_written;
	struct hist latency[NBD_NR_OPC];	/* header in to reply sent */
};

void nbd_server_get_stats(const struct nbd_server *s, struct nbd_stats *out);

#endif /* TAPESTRY_NBD_H */
