/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nbdsock: the NBD frontend's listening socket, from an address string:
 *
 *   unix:PATH          a unix stream socket at PATH
 *   tcp:IP:PORT        IPv4, e.g. tcp:127.0.0.1:10809 (port 0: any free)
 *   tcp:[IP6]:PORT     IPv6, e.g. tcp:[::1]:10809
 */
#ifndef TAPESTRY_NBDSOCK_H
#define TAPESTRY_NBDSOCK_H

#include <stdbool.h>
#include <sys/un.h>

struct nbd_sock {
	int fd;				/* -1 when closed */
	int family;			/* AF_UNIX, AF_INET, AF_INET6 */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char addr[160];			/* as bound: tcp:127.0.0.1:40521 */
};

/* Bind and listen (non-blocking, close-on-exec).  A unix socket file that
 * nobody answers on (left by a dead server) is replaced; one that a live
 * server answers on is refused with -EADDRINUSE, and so is any other
 * file at PATH.  -EINVAL for a malformed address.  On failure *s->fd is
 * -1 and nothing is left behind. */
int nbdsock_listen(const char *spec, struct nbd_sock *s);

/* Whether spec is a well-formed address (nothing is bound). */
bool nbdsock_valid(const char *spec);

/* Remove the unix socket file (so new clients fail at once); the socket
 * stays open.  No-op for TCP. */
void nbdsock_unlink(struct nbd_sock *s);

/* Close (and unlink).  Accepts a closed one. */
void nbdsock_close(struct nbd_sock *s);

#endif /* TAPESTRY_NBDSOCK_H */
