/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the NBD server's connection state machine
 * (userspace/nbdconn.c): request slots, payload assembly, discards,
 * parking, replies, hang-ups.  One server on a fake engine and a small
 * buffer pool lives for the whole run; each input is what one client
 * sends on one connection before closing its side.  The first byte picks
 * a valid handshake prefix (none, GO, GO with structured replies), so
 * most inputs reach the transmission phase.
 *
 * After each input the connection must be gone and every registered
 * buffer back in the pool: a leak of a buffer, a slot or the connection
 * itself aborts.  ASan and UBSan catch the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../unit/fake_engine.h"
#include "log.h"
#include "nbd.h"
#include "nbdproto.h"
#include "bytes.h"

static struct uloop *loop;
static struct engine *eng;
static struct nbd_server *srv;
static char sock_path[108];
static unsigned int small0, large0;

static void setup(void)
{
	struct uloop_opts lo = {
		.nr_small = 8, .small_size = 65536, .nr_large = 2,
		.large_size = 1 << 20,
	};
	struct fake_engine_opts eo = {
		.size = 8 << 20, .block_size = 512, .queue_depth = 4,
	};
	struct nbd_opts no = { .name = "fuzz", .max_requests = 8 };
	char addr[120];

	log_init("fuzz_nbdserver", LOG_ERR);
	snprintf(sock_path, sizeof(sock_path), "/tmp/fuzz-nbd-%d.sock",
		 (int)getpid());
	snprintf(addr, sizeof(addr), "unix:%s", sock_path);
	if (uloop_create(&lo, &loop))
		abort();
	eng = fake_engine_new(loop, &eo);
	no.listen = addr;
	if (nbd_server_create(loop, eng, &no, &srv))
		abort();
	small0 = uloop_buf_free(loop, false);
	large0 = uloop_buf_free(loop, true);
}

static size_t opt(uint8_t *p, uint32_t o, const void *d, uint32_t len)
{
	static const uint8_t magic[8] = "IHAVEOPT";

	memcpy(p, magic, 8);
	put_be32(p + 8, o);
	put_be32(p + 12, len);
	memcpy(p + 16, d, len);
	return 16 + len;
}

/* The handshake prefix selected by mode: 0 none, 1 GO, 2 structured+GO. */
static size_t prefix(uint8_t *p, unsigned int mode)
{
	static const uint8_t go[] = { 0, 0, 0, 4, 'f', 'u', 'z', 'z', 0, 0 };
	size_t n;

	if (mode == 0)
		return 0;
	put_be32(p, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	n = 4;
	if (mode == 2)
		n += opt(p + n, NBD_OPT_STRUCTURED_REPLY, "", 0);
	n += opt(p + n, NBD_OPT_GO, go, sizeof(go));
	return n;
}

static void drain(int fd)
{
	uint8_t junk[65536];

	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static uint8_t buf[256];
	size_t off = 0, n;
	int fd, i;

	if (!srv)
		setup();
	if (!size)
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	strcpy(sa.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		abort();
	n = prefix(buf, data[0] % 3);
	if (n && send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
		abort();
	data++;
	size--;
	/* Feed the rest as the socket takes it, pumping the server. */
	for (i = 0; i < 2000 && off < size; i++) {
		ssize_t r = send(fd, data + off, size - off, MSG_NOSIGNAL);

		if (r > 0)
			off += (size_t)r;
		else if (r < 0 && errno != EAGAIN)
			break;		/* the server hung up */
		uloop_run_once(loop, 100000);
		drain(fd);
	}
	/* Our side is done: the server must notice and hang up. */
	shutdown(fd, SHUT_WR);
	for (i = 0; i < 5000; i++) {
		uint8_t b[4096];
		ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);

		if (r == 0 || (r < 0 && errno != EAGAIN))
			break;
		uloop_run_once(loop, 100000);
	}
	close(fd);
	for (i = 0; i < 2000 && nbd_server_conns(srv); i++)
		uloop_run_once(loop, 100000);
	if (nbd_server_conns(srv) || !nbd_server_idle(srv))
		abort();	/* a connection outlived its client */
	if (uloop_buf_free(loop, false) != small0 ||
	    uloop_buf_free(loop, true) != large0)
		abort();	/* a registered buffer leaked */
	return 0;
}
