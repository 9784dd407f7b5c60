/* SPDX-License-Identifier: Apache-2.0 */
/* A raw NBD client for unit tests of the server; see nbd_client.h. */
#include "nbd_client.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bytes.h"
#include "nbdproto.h"

struct t *setup(const struct uloop_opts *lo,
		const struct fake_engine_opts *eo,
		const struct nbd_opts *no)
{
	struct fake_engine_opts edef = { .size = SIZE };
	struct nbd_opts o = { .name = "vol" };
	struct t *t = calloc(1, sizeof(*t));

	strcpy(t->dir, "/tmp/test-nbd-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof(t->sock), "%s/sock", t->dir);
	snprintf(t->addr, sizeof(t->addr), "unix:%s", t->sock);
	assert_int_equal(uloop_create(lo, &t->loop), 0);
	t->e = fake_engine_new(t->loop, eo ? eo : &edef);
	if (no)
		o = *no;
	if (!o.name)
		o.name = "vol";
	o.listen = t->addr;
	assert_int_equal(nbd_server_create(t->loop, t->e, &o, &t->s), 0);
	return t;
}

void teardown(struct t *t)
{
	nbd_server_destroy(t->s);
	fake_engine_free(t->e);
	uloop_destroy(t->loop);
	unlink(t->sock);
	rmdir(t->dir);
	free(t);
}

void pump(struct t *t)
{
	uloop_run_once(t->loop, 1000000);
}

/* Pump until cond(t) or a few seconds pass. */
bool pump_until(struct t *t, bool (*cond)(struct t *t))
{
	int i;

	for (i = 0; i < 5000; i++) {
		if (cond(t))
			return true;
		pump(t);
	}
	return cond(t);
}

bool no_conns(struct t *t)
{
	return nbd_server_conns(t->s) == 0;
}

bool one_conn(struct t *t)
{
	return nbd_server_conns(t->s) == 1;
}

int c_connect(struct t *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, t->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

void c_send(struct t *t, int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	int spins = 0;

	while (n) {
		ssize_t r = send(fd, b, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0) {
			b += r;
			n -= (size_t)r;
			continue;
		}
		assert_true(r < 0 && errno == EAGAIN);
		assert_true(++spins < 5000);
		pump(t);
	}
}

/* Receive exactly n bytes; false on EOF or after a few seconds. */
bool c_recv(struct t *t, int fd, void *p, size_t n)
{
	uint8_t *b = p;
	int spins = 0;

	while (n) {
		ssize_t r = recv(fd, b, n, MSG_DONTWAIT);

		if (r > 0) {
			b += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return false;
		if (++spins > 5000)
			return false;
		pump(t);
	}
	return true;
}

/* The server closed this connection (EOF or reset) in time. */
bool c_closed(struct t *t, int fd)
{
	uint8_t b[4096];
	int spins;

	for (spins = 0; spins < 5000; spins++) {
		ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);

		if (r == 0 || (r < 0 && errno != EAGAIN))
			return true;
		if (r < 0)
			pump(t);
	}
	return false;
}

void c_opt(struct t *t, int fd, uint32_t opt, const void *d, uint32_t len)
{
	uint8_t h[16];

	put_be64(h, NBD_MAGIC_OPTS);
	put_be32(h + 8, opt);
	put_be32(h + 12, len);
	c_send(t, fd, h, 16);
	if (len)
		c_send(t, fd, d, len);
}

/* Read one option reply; returns its type, data into d (up to max). */
uint32_t c_rep(struct t *t, int fd, void *d, uint32_t max)
{
	uint8_t h[20], junk[256];
	uint32_t len;

	assert_true(c_recv(t, fd, h, 20));
	assert_true(get_be64(h) == NBD_MAGIC_REP);
	len = get_be32(h + 16);
	assert_true(len <= max || len <= sizeof(junk));
	assert_true(c_recv(t, fd, len <= max ? d : junk, len));
	return get_be32(h + 12);
}

/* Connect and GO; returns the fd.  *size gets the export size. */
int c_open(struct t *t, bool structured, uint64_t *size)
{
	uint8_t b[128], d[16];
	int fd = c_connect(t);
	uint32_t type;

	assert_true(c_recv(t, fd, b, 18));
	assert_true(get_be64(b) == NBD_MAGIC_INIT);
	put_be32(b, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	c_send(t, fd, b, 4);
	if (structured) {
		c_opt(t, fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
		assert_int_equal(c_rep(t, fd, b, sizeof(b)), NBD_REP_ACK);
	}
	put_be32(d, 3);
	memcpy(d + 4, "vol", 3);
	put_be16(d + 7, 1);
	put_be16(d + 9, NBD_INFO_BLOCK_SIZE);
	c_opt(t, fd, NBD_OPT_GO, d, 11);
	while ((type = c_rep(t, fd, b, sizeof(b))) == NBD_REP_INFO)
		if (b[1] == NBD_INFO_EXPORT && size)
			*size = get_be64(b + 2);
	assert_int_equal(type, NBD_REP_ACK);
	return fd;
}

void c_req(struct t *t, int fd, uint16_t flags, uint16_t type,
	   uint64_t handle, uint64_t off, uint32_t len)
{
	uint8_t r[28];

	put_be32(r, NBD_MAGIC_REQUEST);
	put_be16(r + 4, flags);
	put_be16(r + 6, type);
	put_be64(r + 8, handle);
	put_be64(r + 16, off);
	put_be32(r + 24, len);
	c_send(t, fd, r, 28);
}

/* A simple reply: returns the error; handle into *h. */
uint32_t c_simple(struct t *t, int fd, uint64_t *h)
{
	uint8_t b[16];

	assert_true(c_recv(t, fd, b, 16));
	assert_int_equal(get_be32(b), NBD_MAGIC_SIMPLE);
	if (h)
		*h = get_be64(b + 8);
	return get_be32(b + 4);
}

void pattern(uint8_t *b, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 9));
}
