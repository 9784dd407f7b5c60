/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestry-faultproxy: a TCP proxy for one upstream that stands in for a
 * slow or partitioned availability zone in tests (the kernel here has no
 * netem).  It adds latency and jitter per direction, stalls (holds all
 * traffic), blackholes (swallows traffic, connections stay up), drops
 * (resets every connection) and refuses new connections, all changeable
 * at run time through a control UNIX socket:
 *
 *   tapestry-faultproxy --listen IP:PORT --upstream IP:PORT --ctl PATH
 *   tapestry-faultproxy ctl PATH delay 20        (see usage())
 *
 * Delay is applied to every chunk as it is read: a chunk read at t leaves
 * at max(t + delay + jitter, the previous chunk's departure), so bytes
 * never reorder, and reading goes on while earlier chunks wait, so a
 * pipelined stream keeps its throughput (each byte is late by the delay;
 * the stream is not serialised behind it).  Queued bytes per direction are
 * bounded (--max-queue); past that the proxy stops reading and TCP pushes
 * back.
 *
 * hold-flush MS knows the replication protocol (docs/replication-protocol.md)
 * on the way back: it cuts the replies into frames and holds each FLUSH
 * reply for MS while the replies behind it go on (replies may come in any
 * order): a replica whose fdatasync takes MS while its other requests do
 * not wait for it.
 *
 * One thread, epoll, non-blocking sockets.  A test tool: simple over fast.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CHUNK		(64 * 1024)
#define MAX_CONNS	256
#define FRAME_HDR	64		/* replication protocol header */
#define FRAME_MAX	(4U << 20)	/* a payload beyond this: not framed */
#define OP_FLUSH	4

enum { UP, DOWN };	/* UP: client -> upstream, DOWN: upstream -> client */

struct chunk {
	struct chunk *next;
	uint64_t due;		/* CLOCK_MONOTONIC ns */
	uint32_t len, off;
	uint8_t data[];
};

struct dir {
	int src, dst;
	struct chunk *head, *tail;
	uint64_t queued;	/* bytes */
	uint64_t last_due;
	uint64_t bytes;		/* forwarded so far */
	bool src_eof, dst_shut, blocked;
	/* hold-flush: the frame being put together, and held FLUSH replies
	 * (in due order) */
	struct chunk *frame;
	uint32_t frame_need;
	struct chunk *held, *held_tail;
};

struct conn {
	int cfd, ufd;
	bool connecting;
	struct dir d[2];
	uint32_t mask[2];	/* epoll events now registered: client, up */
};

struct knobs {
	uint64_t delay_ns[2], jitter_ns[2];
	uint64_t hold_flush_ns;
	bool stall, blackhole, refuse;
};

static struct knobs k;
static struct conn *conns[MAX_CONNS];
static int epfd, lfd, cfd_ctl = -1;
static struct sockaddr_storage upstream;
static socklen_t upstream_len;
static uint64_t max_queue = 32 << 20, rng = 0x2545f4914f6cdd1dULL;
static uint64_t accepted, dropped, flushes_held;
static volatile sig_atomic_t stopping;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int parse_addr(const char *spec, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	char host[80], *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;

	snprintf(host, sizeof(host), "%s", spec);
	port = strrchr(host, ':');
	if (!port)
		return -1;
	*port++ = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (getaddrinfo(host, port, &hints, &ai))
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ---- connections ---- */

static void free_list(struct chunk *c)
{
	struct chunk *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
}

static void free_queue(struct dir *d)
{
	free_list(d->head);
	d->head = d->tail = NULL;
	d->queued = 0;
	free_list(d->held);
	d->held = d->held_tail = NULL;
	free(d->frame);
	d->frame = NULL;
}

static void conn_close(struct conn *c, bool reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int i;

	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i] == c)
			conns[i] = NULL;
	if (reset) {
		setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (c->ufd >= 0)
			setsockopt(c->ufd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
	}
	close(c->cfd);
	if (c->ufd >= 0)
		close(c->ufd);
	free_queue(&c->d[UP]);
	free_queue(&c->d[DOWN]);
	free(c);
}

static void conn_new(int fd)
{
	struct conn *c;
	int i, one = 1;

	for (i = 0; i < MAX_CONNS && conns[i]; i++)
		;
	if (k.refuse || i == MAX_CONNS) {
		close(fd);
		dropped++;
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->cfd = fd;
	c->ufd = socket(upstream.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	set_nonblock(fd);
	set_nonblock(c->ufd);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->ufd, (struct sockaddr *)&upstream, upstream_len) &&
	    errno != EINPROGRESS) {
		fprintf(stderr, "faultproxy: connect upstream: %s\n",
			strerror(errno));
		close(c->ufd);
		close(fd);
		free(c);
		return;
	}
	c->connecting = true;
	c->d[UP].src = c->d[DOWN].dst = fd;
	c->d[UP].dst = c->d[DOWN].src = c->ufd;
	conns[i] = c;
	accepted++;
	c->mask[0] = c->mask[1] = 0;
	epoll_ctl(epfd, EPOLL_CTL_ADD, fd,
		  &(struct epoll_event){ .events = 0, .data.ptr = c });
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->ufd,
		  &(struct epoll_event){ .events = EPOLLOUT, .data.ptr = c });
	c->mask[1] = EPOLLOUT;
}

static void enqueue(struct dir *d, struct chunk *ch)
{
	ch->next = NULL;
	if (d->tail)
		d->tail->next = ch;
	else
		d->head = ch;
	d->tail = ch;
	d->queued += ch->len;
}

/* hold-flush: cut the replies into whole frames; a FLUSH reply is held,
 * every other frame queued as usual.  Returns -1 (the connection is then
 * dropped) on a frame too big to be the protocol's. */
static int frame_in(struct dir *d, const uint8_t *p, uint32_t n,
		    uint64_t due, uint64_t now)
{
	struct chunk *f;
	uint32_t take, len;

	while (n) {
		if (!d->frame) {
			d->frame = malloc(sizeof(*f) + FRAME_HDR);
			if (!d->frame)
				return -1;
			d->frame->len = 0;
			d->frame_need = FRAME_HDR;
		}
		f = d->frame;
		take = d->frame_need - f->len < n ? d->frame_need - f->len : n;
		memcpy(f->data + f->len, p, take);
		f->len += take;
		p += take;
		n -= take;
		if (f->len < d->frame_need)
			break;
		if (d->frame_need == FRAME_HDR) {
			memcpy(&len, f->data + 12, 4);	/* little-endian */
			if (len > FRAME_MAX)
				return -1;
			if (len) {
				f = realloc(f, sizeof(*f) + FRAME_HDR + len);
				if (!f)
					return -1;
				d->frame = f;
				d->frame_need = FRAME_HDR + len;
				continue;
			}
		}
		d->frame = NULL;
		f->off = 0;
		f->due = due;
		if (f->data[6] == OP_FLUSH) {
			f->due = now + k.hold_flush_ns;
			f->next = NULL;
			if (d->held_tail)
				d->held_tail->next = f;
			else
				d->held = f;
			d->held_tail = f;
			flushes_held++;
		} else {
			enqueue(d, f);
		}
	}
	return 0;
}

/* Held FLUSH replies that are due go out next, at a frame boundary (the
 * queue holds whole frames while framing). */
static void release_held(struct dir *d, uint64_t now)
{
	struct chunk *f, **at;

	while ((f = d->held) && f->due <= now) {
		d->held = f->next;
		if (!d->held)
			d->held_tail = NULL;
		at = d->head && d->head->off ? &d->head->next : &d->head;
		f->next = *at;
		*at = f;
		if (!f->next)
			d->tail = f;
		d->queued += f->len;
	}
}

/* Read what src has (up to the queue bound) and stamp each chunk. */
static int pump_in(int dirn, struct dir *d, uint64_t now)
{
	struct chunk *ch;
	uint64_t due;
	ssize_t n;

	while (!d->src_eof && d->queued < max_queue) {
		ch = malloc(sizeof(*ch) + CHUNK);
		if (!ch)
			return -1;
		n = recv(d->src, ch->data, CHUNK, 0);
		if (n <= 0) {
			free(ch);
			if (n == 0) {
				d->src_eof = true;
				break;
			}
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1;
		}
		if (k.blackhole) {
			free(ch);
			continue;
		}
		due = now + k.delay_ns[dirn];
		if (k.jitter_ns[dirn])
			due += rnd() % k.jitter_ns[dirn];
		if (due < d->last_due)
			due = d->last_due;	/* never reorder */
		d->last_due = due;
		if (dirn == DOWN && (k.hold_flush_ns || d->frame)) {
			int err = frame_in(d, ch->data, (uint32_t)n, due, now);

			free(ch);
			if (err)
				return -1;
			continue;
		}
		ch->due = due;
		ch->len = (uint32_t)n;
		ch->off = 0;
		enqueue(d, ch);
	}
	return 0;
}

/* Send every chunk that is due. */
static int pump_out(struct dir *d, uint64_t now)
{
	struct chunk *ch;
	ssize_t n;

	d->blocked = false;
	if (!k.stall)
		release_held(d, now);
	while ((ch = d->head) && !k.stall && ch->due <= now) {
		n = send(d->dst, ch->data + ch->off, ch->len - ch->off,
			 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				d->blocked = true;
				break;
			}
			return -1;
		}
		ch->off += (uint32_t)n;
		d->queued -= (uint64_t)n;
		d->bytes += (uint64_t)n;
		if (ch->off < ch->len)
			continue;
		d->head = ch->next;
		if (!d->head)
			d->tail = NULL;
		free(ch);
	}
	if (d->src_eof && !d->head && !d->held && !d->dst_shut) {
		shutdown(d->dst, SHUT_WR);
		d->dst_shut = true;
	}
	return 0;
}

static void set_mask(struct conn *c, int which, uint32_t m)
{
	if (c->mask[which] == m)
		return;
	c->mask[which] = m;
	epoll_ctl(epfd, EPOLL_CTL_MOD, which ? c->ufd : c->cfd,
		  &(struct epoll_event){ .events = m, .data.ptr = c });
}

/* Move data both ways; false when the connection is over. */
static bool conn_pump(struct conn *c, uint64_t now)
{
	uint32_t m[2] = { 0, 0 };
	int i;

	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err)
			return false;
		/* Still in progress unless writable. */
		if (poll(&(struct pollfd){ .fd = c->ufd, .events = POLLOUT },
			 1, 0) <= 0)
			return true;
		c->connecting = false;
	}
	for (i = 0; i < 2; i++) {
		struct dir *d = &c->d[i];

		if (pump_in(i, d, now) || pump_out(d, now))
			return false;
		if (!d->src_eof && d->queued < max_queue)
			m[d->src == c->cfd ? 0 : 1] |= EPOLLIN;
		if (d->blocked)
			m[d->dst == c->cfd ? 0 : 1] |= EPOLLOUT;
	}
	if (c->d[UP].src_eof && c->d[DOWN].src_eof && !c->d[UP].head &&
	    !c->d[DOWN].head && !c->d[DOWN].held)
		return false;
	set_mask(c, 0, m[0]);
	set_mask(c, 1, m[1]);
	return true;
}

/* ---- control ---- */

static int ctl_exec(char *line, char *out, size_t outlen)
{
	char *argv[4] = { 0 }, *save = NULL, *t;
	int argc = 0, i, n;
	uint64_t total[2] = { 0, 0 }, q = 0;

	for (t = strtok_r(line, " \t\r\n", &save); t && argc < 4;
	     t = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = t;
	if (!argc)
		return snprintf(out, outlen, "err empty\n");
	if (!strcmp(argv[0], "delay") || !strcmp(argv[0], "delay-up") ||
	    !strcmp(argv[0], "delay-down")) {
		int lo = strcmp(argv[0], "delay-down") ? UP : DOWN;
		int hi = strcmp(argv[0], "delay-up") ? DOWN : UP;
		double ms, jit = 0;

		if (argc < 2 || sscanf(argv[1], "%lf", &ms) != 1 || ms < 0 ||
		    (argc > 2 && (sscanf(argv[2], "%lf", &jit) != 1 ||
				  jit < 0)))
			return snprintf(out, outlen, "err usage: %s MS "
					"[JITTER_MS]\n", argv[0]);
		for (i = lo; i <= hi; i++) {
			k.delay_ns[i] = (uint64_t)(ms * 1e6);
			k.jitter_ns[i] = (uint64_t)(jit * 1e6);
		}
		return snprintf(out, outlen, "ok\n");
	}
	if (!strcmp(argv[0], "hold-flush")) {
		double ms;

		if (argc != 2 || sscanf(argv[1], "%lf", &ms) != 1 || ms < 0)
			return snprintf(out, outlen, "err usage: hold-flush MS\n");
		k.hold_flush_ns = (uint64_t)(ms * 1e6);
		return snprintf(out, outlen, "ok\n");
	}
	if ((!strcmp(argv[0], "stall") || !strcmp(argv[0], "blackhole") ||
	     !strcmp(argv[0], "refuse")) && argc == 2 &&
	    (!strcmp(argv[1], "on") || !strcmp(argv[1], "off"))) {
		bool on = !strcmp(argv[1], "on");

		if (argv[0][0] == 's')
			k.stall = on;
		else if (argv[0][0] == 'r')
			k.refuse = on;
		else
			k.blackhole = on;
		if (k.blackhole)	/* what was in flight is lost too */
			for (i = 0; i < MAX_CONNS; i++)
				if (conns[i]) {
					free_queue(&conns[i]->d[UP]);
					free_queue(&conns[i]->d[DOWN]);
				}
		return snprintf(out, outlen, "ok\n");
	}
	if (!strcmp(argv[0], "drop")) {
		for (i = 0, n = 0; i < MAX_CONNS; i++)
			if (conns[i]) {
				conn_close(conns[i], true);
				n++;
			}
		return snprintf(out, outlen, "ok dropped %d\n", n);
	}
	if (!strcmp(argv[0], "drop-client")) {
		/* A partition the upstream does not see: the client is reset,
		 * the upstream side stays open and silent (not polled, never
		 * closed) until the proxy exits. */
		for (i = 0, n = 0; i < MAX_CONNS; i++)
			if (conns[i]) {
				epoll_ctl(epfd, EPOLL_CTL_DEL, conns[i]->ufd,
					  NULL);
				conns[i]->ufd = -1;	/* kept open */
				conn_close(conns[i], true);
				n++;
			}
		return snprintf(out, outlen, "ok dropped %d\n", n);
	}
	if (!strcmp(argv[0], "stats") || !strcmp(argv[0], "show")) {
		for (i = 0, n = 0; i < MAX_CONNS; i++) {
			if (!conns[i])
				continue;
			n++;
			total[UP] += conns[i]->d[UP].bytes;
			total[DOWN] += conns[i]->d[DOWN].bytes;
			q += conns[i]->d[UP].queued + conns[i]->d[DOWN].queued;
		}
		return snprintf(out, outlen,
				"ok conns %d accepted %llu refused %llu "
				"up_bytes %llu down_bytes %llu queued %llu "
				"delay_up_ms %.3f delay_down_ms %.3f "
				"jitter_up_ms %.3f jitter_down_ms %.3f "
				"stall %s blackhole %s refuse %s "
				"hold_flush_ms %.3f flushes_held %llu\n", n,
				(unsigned long long)accepted,
				(unsigned long long)dropped,
				(unsigned long long)total[UP],
				(unsigned long long)total[DOWN],
				(unsigned long long)q, k.delay_ns[UP] / 1e6,
				k.delay_ns[DOWN] / 1e6, k.jitter_ns[UP] / 1e6,
				k.jitter_ns[DOWN] / 1e6,
				k.stall ? "on" : "off",
				k.blackhole ? "on" : "off",
				k.refuse ? "on" : "off", k.hold_flush_ns / 1e6,
				(unsigned long long)flushes_held);
	}
	return snprintf(out, outlen, "err unknown command '%s'\n", argv[0]);
}

/* One short request per control connection. */
static void ctl_serve(void)
{
	char line[256], out[512];
	ssize_t n = 0, r;
	int fd = accept4(cfd_ctl, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	while (n < (ssize_t)sizeof(line) - 1 &&
	       poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1,
		    1000) > 0) {
		r = read(fd, line + n, sizeof(line) - 1 - (size_t)n);
		if (r <= 0)
			break;
		n += r;
		if (memchr(line, '\n', (size_t)n))
			break;
	}
	line[n] = '\0';
	n = ctl_exec(line, out, sizeof(out));
	if (write(fd, out, (size_t)n) < 0)
		perror("faultproxy: ctl reply");
	close(fd);
}

static int ctl_client(const char *path, int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[256] = "", out[512];
	ssize_t n, got = 0;
	int fd, i;

	for (i = 0; i < argc; i++) {
		strncat(line, argv[i], sizeof(line) - strlen(line) - 2);
		strcat(line, i + 1 < argc ? " " : "\n");
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "faultproxy ctl: %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	if (write(fd, line, strlen(line)) < 0)
		return 1;
	while ((n = read(fd, out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	close(fd);
	fputs(out, stdout);
	return strncmp(out, "ok", 2) ? 1 : 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: tapestry-faultproxy --listen IP:PORT --upstream IP:PORT\n"
"                           [--ctl PATH] [--port-file PATH]\n"
"                           [--delay MS] [--jitter MS] [--max-queue BYTES]\n"
"       tapestry-faultproxy ctl PATH COMMAND [ARGS]\n"
"\n"
"control commands:\n"
"  delay MS [JITTER_MS]       add latency both ways (per direction, on\n"
"  delay-up MS [JITTER_MS]    every chunk; up = client->upstream)\n"
"  delay-down MS [JITTER_MS]\n"
"  stall on|off               hold all traffic (queued, not forwarded)\n"
"  blackhole on|off           swallow all traffic; connections stay up\n"
"  drop                       reset every connection\n"
"  drop-client                reset every client connection; the upstream\n"
"                             ones stay open and silent (a partition the\n"
"                             upstream does not notice)\n"
"  refuse on|off              close new connections at once\n"
"  hold-flush MS              hold each FLUSH reply (replication protocol)\n"
"                             MS; replies behind it go on (0: off)\n"
"  stats                      counters and current settings\n"
"Prints \"listening on IP:PORT\" on stdout once ready.\n");
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int listen_tcp(const char *spec, char *name, size_t namelen,
		      unsigned int *port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	socklen_t len;
	char host[INET6_ADDRSTRLEN] = "";
	int fd, one = 1;

	if (parse_addr(spec, &ss, &len))
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) ||
	    listen(fd, 128))
		return -1;
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		*port = ntohs(a->sin_port);
		snprintf(name, namelen, "%s:%u", host, *port);
	} else {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		*port = ntohs(a6->sin6_port);
		snprintf(name, namelen, "[%s]:%u", host, *port);
	}
	set_nonblock(fd);
	return fd;
}

static int listen_ctl(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 16))
		return -1;
	return fd;
}

/* Time until the earliest queued chunk is due (-1: nothing queued). */
static int64_t next_due(uint64_t now)
{
	int64_t best = -1, w;
	int i, j;

	if (k.stall)
		return -1;
	for (i = 0; i < MAX_CONNS; i++) {
		if (!conns[i])
			continue;
		for (j = 0; j < 2; j++) {
			struct chunk *ch = conns[i]->d[j].head;
			struct chunk *h = conns[i]->d[j].held;

			if (h) {
				w = h->due > now ? (int64_t)(h->due - now) : 0;
				if (best < 0 || w < best)
					best = w;
			}
			if (!ch || conns[i]->d[j].blocked)
				continue;
			w = ch->due > now ? (int64_t)(ch->due - now) : 0;
			if (best < 0 || w < best)
				best = w;
		}
	}
	return best;
}

static void loop(void)
{
	struct epoll_event ev[64];
	struct timespec ts, *tsp;
	int64_t wait;
	uint64_t now;
	int n, i;

	while (!stopping) {
		wait = next_due(now_ns());
		if (wait < 0 || wait > 100000000)
			wait = 100000000;	/* notice stall/knob changes */
		ts.tv_sec = wait / 1000000000;
		ts.tv_nsec = wait % 1000000000;
		tsp = &ts;
		n = epoll_pwait2(epfd, ev, 64, tsp, NULL);
		if (n < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == &lfd) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_CLOEXEC)) >= 0)
					conn_new(fd);
			} else if (ev[i].data.ptr == &cfd_ctl) {
				ctl_serve();
			}
		}
		/* Pump every connection: due chunks leave on time even if
		 * no socket event woke us. */
		now = now_ns();
		for (i = 0; i < MAX_CONNS; i++)
			if (conns[i] && !conn_pump(conns[i], now))
				conn_close(conns[i], false);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "upstream", required_argument, NULL, 'u' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "delay", required_argument, NULL, 'd' },
		{ "jitter", required_argument, NULL, 'j' },
		{ "max-queue", required_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_spec = NULL, *up = NULL, *ctl = NULL, *pf = NULL;
	double delay = 0, jitter = 0;
	char name[96];
	unsigned int port;
	int ch;

	if (argc >= 3 && !strcmp(argv[1], "ctl"))
		return ctl_client(argv[2], argc - 3, argv + 3);
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': listen_spec = optarg; break;
		case 'u': up = optarg; break;
		case 'c': ctl = optarg; break;
		case 'p': pf = optarg; break;
		case 'd': delay = atof(optarg); break;
		case 'j': jitter = atof(optarg); break;
		case 'q': max_queue = strtoull(optarg, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!listen_spec || !up || parse_addr(up, &upstream, &upstream_len)) {
		usage(stderr);
		return 2;
	}
	k.delay_ns[UP] = k.delay_ns[DOWN] = (uint64_t)(delay * 1e6);
	k.jitter_ns[UP] = k.jitter_ns[DOWN] = (uint64_t)(jitter * 1e6);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	lfd = listen_tcp(listen_spec, name, sizeof(name), &port);
	if (lfd < 0) {
		fprintf(stderr, "faultproxy: listen %s: %s\n", listen_spec,
			strerror(errno));
		return 1;
	}
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd,
		  &(struct epoll_event){ .events = EPOLLIN, .data.ptr = &lfd });
	if (ctl) {
		cfd_ctl = listen_ctl(ctl);
		if (cfd_ctl < 0) {
			fprintf(stderr, "faultproxy: ctl %s: %s\n", ctl,
				strerror(errno));
			return 1;
		}
		epoll_ctl(epfd, EPOLL_CTL_ADD, cfd_ctl,
			  &(struct epoll_event){ .events = EPOLLIN,
						 .data.ptr = &cfd_ctl });
	}
	if (pf) {
		FILE *f = fopen(pf, "w");

		if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f))
			return 1;
	}
	printf("listening on %s\n", name);
	fflush(stdout);
	loop();
	if (ctl)
		unlink(ctl);
	return 0;
}
