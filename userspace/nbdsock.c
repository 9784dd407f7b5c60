/* SPDX-License-Identifier: Apache-2.0 */
#include "nbdsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Is someone listening on the unix socket at path? */
static bool unix_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return true;	/* cannot tell: do not touch it */
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
	       errno != ECONNREFUSED;
	close(fd);
	return live;
}

static int listen_unix(const char *path, struct nbd_sock *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (!*path || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || unix_live(&sa))
			return -EADDRINUSE;
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, SOMAXCONN)) {
		int err = -errno;

		close(fd);
		return err;
	}
	s->fd = fd;
	s->family = AF_UNIX;
	strcpy(s->path, path);
	snprintf(s->addr, sizeof(s->addr), "unix:%s", path);
	return 0;
}

/* "IP:PORT" or "[IP6]:PORT" into a sockaddr. */
static int parse_tcp(const char *spec, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	char *end;
	unsigned long port;
	size_t n;

	if (*spec == '[') {
		const char *close_br = strchr(spec, ']');

		if (!close_br || close_br[1] != ':')
			return -EINVAL;
		n = (size_t)(close_br - spec - 1);
		colon = close_br + 1;
		spec++;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - spec);
	}
	if (!n || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, n);
	host[n] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr)) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host,
		      &((struct sockaddr_in6 *)ss)->sin6_addr)) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static void describe_tcp(struct nbd_sock *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(s->fd, (struct sockaddr *)&ss, &len))
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(s->addr, sizeof(s->addr), "tcp:%s:%u", host,
			 ntohs(in->sin_port));
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(s->addr, sizeof(s->addr), "tcp:[%s]:%u", host,
			 ntohs(in6->sin6_port));
	}
}

static int listen_tcp(const char *spec, struct nbd_sock *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, err;

	err = parse_tcp(spec, &ss, &len);
	if (err)
		return err;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, SOMAXCONN)) {
		err = -errno;
		close(fd);
		return err;
	}
	s->fd = fd;
	s->family = ss.ss_family;
	s->path[0] = 0;
	describe_tcp(s);
	return 0;
}

bool nbdsock_valid(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!strncmp(spec, "unix:", 5))
		return spec[5] && strlen(spec + 5) <
			sizeof(((struct sockaddr_un *)0)->sun_path);
	if (!strncmp(spec, "tcp:", 4))
		return parse_tcp(spec + 4, &ss, &len) == 0;
	return false;
}

int nbdsock_listen(const char *spec, struct nbd_sock *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (!strncmp(spec, "unix:", 5))
		return listen_unix(spec + 5, s);
	if (!strncmp(spec, "tcp:", 4))
		return listen_tcp(spec + 4, s);
	return -EINVAL;
}

void nbdsock_unlink(struct nbd_sock *s)
{
	if (s->path[0])
		unlink(s->path);
	s->path[0] = 0;
}

void nbdsock_close(struct nbd_sock *s)
{
	nbdsock_unlink(s);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
