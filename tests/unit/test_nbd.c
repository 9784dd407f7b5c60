/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NBD server against a fake engine, driven by a raw-socket client in
 * the same thread: each client step pumps the loop until the bytes it
 * wants have arrived.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_engine.h"
#include "nbd.h"
#include "nbdproto.h"
#include "nbdsock.h"
#include "bytes.h"

#define SIZE (16 << 20)

struct t {
	struct uloop *loop;
	struct engine *e;
	struct nbd_server *s;
	char dir[64], sock[96], addr[112];
};

static struct t *setup(const struct uloop_opts *lo,
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

static void teardown(struct t *t)
{
	nbd_server_destroy(t->s);
	fake_engine_free(t->e);
	uloop_destroy(t->loop);
	unlink(t->sock);
	rmdir(t->dir);
	free(t);
}

static void pump(struct t *t)
{
	uloop_run_once(t->loop, 1000000);
}

/* Pump until cond(t) or a few seconds pass. */
static bool pump_until(struct t *t, bool (*cond)(struct t *t))
{
	int i;

	for (i = 0; i < 5000; i++) {
		if (cond(t))
			return true;
		pump(t);
	}
	return cond(t);
}

static bool no_conns(struct t *t)
{
	return nbd_server_conns(t->s) == 0;
}

static bool one_conn(struct t *t)
{
	return nbd_server_conns(t->s) == 1;
}

static int c_connect(struct t *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, t->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void c_send(struct t *t, int fd, const void *p, size_t n)
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
static bool c_recv(struct t *t, int fd, void *p, size_t n)
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
static bool c_closed(struct t *t, int fd)
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

static void c_opt(struct t *t, int fd, uint32_t opt, const void *d,
		  uint32_t len)
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
static uint32_t c_rep(struct t *t, int fd, void *d, uint32_t max)
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
static int c_open(struct t *t, bool structured, uint64_t *size)
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

static void c_req(struct t *t, int fd, uint16_t flags, uint16_t type,
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
static uint32_t c_simple(struct t *t, int fd, uint64_t *h)
{
	uint8_t b[16];

	assert_true(c_recv(t, fd, b, 16));
	assert_int_equal(get_be32(b), NBD_MAGIC_SIMPLE);
	if (h)
		*h = get_be64(b + 8);
	return get_be32(b + 4);
}

static void pattern(uint8_t *b, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 9));
}

/* Writes land, read back, and flush/trim/zero reach the engine. */
static void test_nbd_basic_io(void **state)
{
	struct t *t = setup(NULL, NULL, NULL);
	static uint8_t w[65536], r[65536];
	struct fake_engine_counts n;
	uint64_t size = 0, h;
	int fd;

	(void)state;
	fd = c_open(t, false, &size);
	assert_true(size == SIZE);
	pattern(w, sizeof(w), 1);
	c_req(t, fd, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 11, 1 << 20,
	      sizeof(w));
	c_send(t, fd, w, sizeof(w));
	assert_int_equal(c_simple(t, fd, &h), 0);
	assert_true(h == 11);
	assert_memory_equal(fake_engine_data(t->e) + (1 << 20), w, sizeof(w));
	c_req(t, fd, 0, NBD_CMD_READ, 12, 1 << 20, sizeof(r));
	assert_int_equal(c_simple(t, fd, &h), 0);
	assert_true(h == 12);
	assert_true(c_recv(t, fd, r, sizeof(r)));
	assert_memory_equal(r, w, sizeof(w));
	c_req(t, fd, 0, NBD_CMD_FLUSH, 13, 0, 0);
	assert_int_equal(c_simple(t, fd, NULL), 0);
	c_req(t, fd, 0, NBD_CMD_TRIM, 14, 1 << 20, 4096);
	assert_int_equal(c_simple(t, fd, NULL), 0);
	c_req(t, fd, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 15,
	      (1 << 20) + 4096, 8192);
	assert_int_equal(c_simple(t, fd, NULL), 0);
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.writes, 1);
	assert_int_equal(n.reads, 1);
	assert_int_equal(n.flushes, 1);
	assert_int_equal(n.trims, 1);
	assert_int_equal(n.zeroes, 1);
	assert_int_equal(n.fua, 1);
	/* DISC: the server closes */
	c_req(t, fd, 0, NBD_CMD_DISC, 16, 0, 0);
	assert_true(c_closed(t, fd));
	close(fd);
	assert_true(pump_until(t, no_conns));
	teardown(t);
}

/* Structured replies: data chunks for reads, error chunks for errors. */
static void test_nbd_structured(void **state)
{
	struct t *t = setup(NULL, NULL, NULL);
	uint8_t b[64], data[4096];
	int fd;

	(void)state;
	memset(fake_engine_data(t->e) + 8192, 0x5a, 4096);
	fd = c_open(t, true, NULL);
	c_req(t, fd, NBD_CMD_FLAG_DF, NBD_CMD_READ, 1, 8192, 4096);
	assert_true(c_recv(t, fd, b, 28));
	assert_int_equal(get_be32(b), NBD_MAGIC_STRUCTURED);
	assert_int_equal(b[5], NBD_REPLY_FLAG_DONE);
	assert_int_equal(b[7], NBD_REPLY_TYPE_OFFSET_DATA);
	assert_int_equal(get_be32(b + 16), 4096 + 8);
	assert_true(get_be64(b + 20) == 8192);
	assert_true(c_recv(t, fd, data, 4096));
	assert_int_equal(data[0], 0x5a);
	assert_int_equal(data[4095], 0x5a);
	/* a read past the end: an error chunk, and no data */
	c_req(t, fd, 0, NBD_CMD_READ, 2, SIZE, 4096);
	assert_true(c_recv(t, fd, b, 26));
	assert_int_equal(get_be32(b), NBD_MAGIC_STRUCTURED);
	assert_int_equal(b[6], 0x80);
	assert_int_equal(b[7], 1);
	assert_int_equal(get_be32(b + 20), NBD_EINVAL);
	assert_true(c_recv(t, fd, b, get_be32(b + 16) - 6));
	/* still in step */
	c_req(t, fd, 0, NBD_CMD_FLUSH, 3, 0, 0);
	assert_int_equal(c_simple(t, fd, NULL), 0);
	close(fd);
	teardown(t);
}

/* Replies go out as requests complete: a slow read is overtaken. */
static void test_nbd_out_of_order(void **state)
{
	struct fake_engine_opts eo = {
		.size = SIZE, .delay_ns = 1000000, .read_delay_ns = 200000000,
	};
	struct t *t = setup(NULL, &eo, NULL);
	uint8_t data[4096];
	uint64_t h;
	int fd;

	(void)state;
	fd = c_open(t, false, NULL);
	c_req(t, fd, 0, NBD_CMD_READ, 1, 0, 4096);
	c_req(t, fd, 0, NBD_CMD_FLUSH, 2, 0, 0);
	assert_int_equal(c_simple(t, fd, &h), 0);
	assert_true(h == 2);
	assert_int_equal(c_simple(t, fd, &h), 0);
	assert_true(h == 1);
	assert_true(c_recv(t, fd, data, 4096));
	close(fd);
	teardown(t);
}

/* More requests than slots, an engine that refuses (EAGAIN) and a pool
 * with few buffers: everything still completes, with the right data. */
static void test_nbd_backpressure(void **state)
{
	struct uloop_opts lo = {
		.nr_small = 4, .small_size = 65536, .nr_large = 1,
		.large_size = 1 << 20,
	};
	struct fake_engine_opts eo = {
		.size = SIZE, .queue_depth = 3, .delay_ns = 100000,
	};
	struct nbd_opts no = { .max_requests = 8 };
	struct t *t = setup(&lo, &eo, &no);
	static uint8_t w[300][4096];
	struct fake_engine_counts n;
	uint8_t got[4096];
	unsigned int i, seen[300] = { 0 };
	uint64_t h;
	int fd;

	(void)state;
	fd = c_open(t, false, NULL);
	fake_engine_refuse(t->e, 5);
	for (i = 0; i < 300; i++) {
		pattern(w[i], 4096, i);
		c_req(t, fd, 0, NBD_CMD_WRITE, i, (uint64_t)i * 4096, 4096);
		c_send(t, fd, w[i], 4096);
	}
	for (i = 0; i < 300; i++) {
		assert_int_equal(c_simple(t, fd, &h), 0);
		assert_true(h < 300);
		seen[h]++;
	}
	for (i = 0; i < 300; i++)
		assert_int_equal(seen[i], 1);
	for (i = 0; i < 300; i++)
		c_req(t, fd, 0, NBD_CMD_READ, i, (uint64_t)i * 4096, 4096);
	for (i = 0; i < 300; i++) {
		assert_int_equal(c_simple(t, fd, &h), 0);
		assert_true(c_recv(t, fd, got, 4096));
		assert_memory_equal(got, w[h], 4096);
	}
	fake_engine_counts(t->e, &n);
	assert_true(n.refused >= 5);
	assert_true(n.max_inflight <= 3);
	close(fd);
	/* every buffer is back in the pool */
	for (i = 0; i < 100 && nbd_server_conns(t->s); i++)
		pump(t);
	assert_int_equal(uloop_buf_free(t->loop, false), 4);
	assert_int_equal(uloop_buf_free(t->loop, true), 1);
	teardown(t);
}

/* Engine errors become NBD errors; the connection carries on. */
static void test_nbd_engine_errors(void **state)
{
	struct t *t = setup(NULL, NULL, NULL);
	int fd;

	(void)state;
	fd = c_open(t, false, NULL);
	fake_engine_fail(t->e, 1, -EIO);
	c_req(t, fd, 0, NBD_CMD_READ, 1, 0, 4096);
	assert_int_equal(c_simple(t, fd, NULL), NBD_EIO);
	fake_engine_fail(t->e, 1, -ESHUTDOWN);
	c_req(t, fd, 0, NBD_CMD_FLUSH, 2, 0, 0);
	assert_int_equal(c_simple(t, fd, NULL), NBD_ESHUTDOWN);
	fake_engine_fail(t->e, 1, -EOPNOTSUPP);
	c_req(t, fd, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 3, 0,
	      4096);
	assert_int_equal(c_simple(t, fd, NULL), NBD_ENOTSUP);
	c_req(t, fd, 0, NBD_CMD_READ, 4, 0, 4096);
	assert_int_equal(c_simple(t, fd, NULL), 0);
	close(fd);
	teardown(t);
}

/* Refused requests never reach the engine; a refused write's payload is
 * skipped and the stream stays in step. */
static void test_nbd_refusals(void **state)
{
	struct t *t = setup(NULL, NULL, NULL);
	static uint8_t w[8192];
	struct fake_engine_counts n;
	uint8_t data[4096];
	int fd;

	(void)state;
	fd = c_open(t, false, NULL);
	c_req(t, fd, 0, NBD_CMD_WRITE, 1, SIZE - 4096, 8192);
	c_send(t, fd, w, 8192);
	assert_int_equal(c_simple(t, fd, NULL), NBD_ENOSPC);
	c_req(t, fd, 0, NBD_CMD_WRITE, 2, 100, 4096);
	c_send(t, fd, w, 4096);
	assert_int_equal(c_simple(t, fd, NULL), NBD_EINVAL);
	c_req(t, fd, 0, NBD_CMD_READ, 3, 0, 0);
	assert_int_equal(c_simple(t, fd, NULL), NBD_EINVAL);
	c_req(t, fd, 0, NBD_CMD_READ, 4, 0, (1 << 20) + 4096);
	assert_int_equal(c_simple(t, fd, NULL), NBD_EINVAL);
	c_req(t, fd, 0, 42, 5, 0, 4096);
	assert_int_equal(c_simple(t, fd, NULL), NBD_EINVAL);
	c_req(t, fd, 0, NBD_CMD_BLOCK_STATUS, 6, 0, 4096);
	assert_int_equal(c_simple(t, fd, NULL), NBD_EINVAL);
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.reads + n.writes + n.trims + n.zeroes, 0);
	c_req(t, fd, 0, NBD_CMD_READ, 7, 0, 4096);
	assert_int_equal(c_simple(t, fd, NULL), 0);
	assert_true(c_recv(t, fd, data, 4096));
	close(fd);
	teardown(t);
}

/* Bad magic ends that connection only; data written before stays. */
static void test_nbd_bad_magic_isolated(void **state)
{
	struct t *t = setup(NULL, NULL, NULL);
	uint8_t junk[28] = { 1, 2, 3, 4 }, w[4096], r[4096];
	struct nbd_stats st;
	int a, b;

	(void)state;
	a = c_open(t, false, NULL);
	b = c_open(t, false, NULL);
	pattern(w, sizeof(w), 9);
	c_req(t, b, 0, NBD_CMD_WRITE, 1, 4096, 4096);
	c_send(t, b, w, 4096);
	assert_int_equal(c_simple(t, b, NULL), 0);
	c_send(t, a, junk, sizeof(junk));
	assert_true(c_closed(t, a));
	close(a);
	assert_true(pump_until(t, one_conn));
	c_req(t, b, 0, NBD_CMD_READ, 2, 4096, 4096);
	assert_int_equal(c_simple(t, b, NULL), 0);
	assert_true(c_recv(t, b, r, 4096));
	assert_memory_equal(r, w, 4096);
	nbd_server_get_stats(t->s, &st);
	assert_int_equal(st.hangups, 1);
	assert_int_equal(st.conns, 1);
	close(b);
	teardown(t);
}

/* DISC waits for the requests in flight and answers them first. */
static void test_nbd_disc_drains(void **state)
{
	struct fake_engine_opts eo = { .size = SIZE, .delay_ns = 50000000 };
	struct t *t = setup(NULL, &eo, NULL);
	uint8_t data[4096];
	uint64_t h;
	int fd;

	(void)state;
	fd = c_open(t, false, NULL);
	c_req(t, fd, 0, NBD_CMD_READ, 1, 0, 4096);
	c_req(t, fd, 0, NBD_CMD_FLUSH, 2, 0, 0);
	c_req(t, fd, 0, NBD_CMD_DISC, 3, 0, 0);
	assert_int_equal(c_simple(t, fd, &h), 0);
	if (h == 1) {
		assert_true(c_recv(t, fd, data, 4096));
		assert_int_equal(c_simple(t, fd, &h), 0);
		assert_true(h == 2);
	} else {
		assert_int_equal(c_simple(t, fd, &h), 0);
		assert_true(h == 1);
		assert_true(c_recv(t, fd, data, 4096));
	}
	assert_true(c_closed(t, fd));
	close(fd);
	teardown(t);
}


/* A client that stops half-way through a write payload, and one that
 * never finishes its handshake, are dropped after the timeout and give
 * their buffers back; a healthy client is untouched. */
static void test_nbd_stalled_clients_dropped(void **state)
{
	struct nbd_opts no = { .client_timeout_ms = 300 };
	struct t *t = setup(NULL, NULL, &no);
	static uint8_t w[65536];
	unsigned int small = uloop_buf_free(t->loop, false);
	unsigned int large = uloop_buf_free(t->loop, true);
	struct nbd_stats st;
	int a, b, good;

	(void)state;
	a = c_open(t, false, NULL);
	c_req(t, a, 0, NBD_CMD_WRITE, 1, 0, sizeof(w));
	c_send(t, a, w, 1000);
	b = c_connect(t);
	good = c_open(t, false, NULL);
	c_req(t, good, 0, NBD_CMD_FLUSH, 1, 0, 0);
	assert_int_equal(c_simple(t, good, NULL), 0);
	assert_true(c_closed(t, a));
	assert_true(c_closed(t, b));
	assert_true(pump_until(t, one_conn));
	nbd_server_get_stats(t->s, &st);
	assert_int_equal(st.hangups, 2);
	assert_int_equal(st.conns, 1);
	c_req(t, good, 0, NBD_CMD_READ, 2, 0, 4096);
	assert_int_equal(c_simple(t, good, NULL), 0);
	assert_true(c_recv(t, good, w, 4096));
	close(a);
	close(b);
	close(good);
	assert_true(pump_until(t, no_conns));
	assert_int_equal(uloop_buf_free(t->loop, false), small);
	assert_int_equal(uloop_buf_free(t->loop, true), large);
	teardown(t);
}

/* A client that vanishes with requests in the engine: nothing leaks and
 * the engine's callbacks land safely. */
static void test_nbd_client_vanishes(void **state)
{
	struct fake_engine_opts eo = { .size = SIZE, .delay_ns = 30000000 };
	struct t *t = setup(NULL, &eo, NULL);
	static uint8_t w[4096];
	unsigned int i, small = uloop_buf_free(t->loop, false);
	struct fake_engine_counts n;
	int fd;

	(void)state;
	fd = c_open(t, false, NULL);
	for (i = 0; i < 16; i++) {
		c_req(t, fd, 0, i & 1 ? NBD_CMD_READ : NBD_CMD_WRITE, i,
		      i * 4096, 4096);
		if (!(i & 1))
			c_send(t, fd, w, 4096);
	}
	/* and half a request */
	c_req(t, fd, 0, NBD_CMD_WRITE, 99, 0, 4096);
	c_send(t, fd, w, 100);
	pump(t);
	pump(t);
	close(fd);
	assert_true(pump_until(t, no_conns));
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.inflight, 0);
	assert_int_equal(uloop_buf_free(t->loop, false), small);
	teardown(t);
}

/* Quiesce: new requests get ESHUTDOWN, options SHUTDOWN, no new
 * connections; then disconnect ends the rest. */
static void test_nbd_quiesce(void **state)
{
	static const uint8_t zero4k[4096];
	struct t *t = setup(NULL, NULL, NULL);
	uint8_t b[128], d[16];
	int fd, hs;

	(void)state;
	fd = c_open(t, false, NULL);
	hs = c_connect(t);
	assert_true(c_recv(t, hs, b, 18));
	put_be32(b, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_send(t, hs, b, 4);
	pump(t);
	nbd_server_quiesce(t->s);
	c_req(t, fd, 0, NBD_CMD_READ, 1, 0, 4096);
	assert_int_equal(c_simple(t, fd, NULL), NBD_ESHUTDOWN);
	c_req(t, fd, 0, NBD_CMD_WRITE, 2, 0, 4096);
	c_send(t, fd, zero4k, 4096);
	assert_int_equal(c_simple(t, fd, NULL), NBD_ESHUTDOWN);
	put_be32(d, 0);
	put_be16(d + 4, 0);
	c_opt(t, hs, NBD_OPT_GO, d, 6);
	assert_int_equal(c_rep(t, hs, b, sizeof(b)), NBD_REP_ERR_SHUTDOWN);
	assert_true(nbd_server_idle(t->s));
	assert_int_equal(access(t->sock, F_OK), -1);
	nbd_server_disconnect(t->s);
	assert_true(c_closed(t, fd));
	assert_true(c_closed(t, hs));
	close(fd);
	close(hs);
	assert_true(pump_until(t, no_conns));
	teardown(t);
}

/* Connections beyond max_conns are closed at once. */
static void test_nbd_max_conns(void **state)
{
	struct nbd_opts no = { .max_conns = 2 };
	struct t *t = setup(NULL, NULL, &no);
	struct nbd_stats st;
	int a, b, c;

	(void)state;
	a = c_open(t, false, NULL);
	b = c_open(t, false, NULL);
	c = c_connect(t);
	assert_true(c_closed(t, c));
	nbd_server_get_stats(t->s, &st);
	assert_int_equal(st.refused, 1);
	close(a);
	close(b);
	close(c);
	teardown(t);
}

/* Address parsing: TCP port 0 reports the bound port; junk is refused;
 * a live unix socket is not stolen. */
static void test_nbd_addresses(void **state)
{
	struct fake_engine_opts eo = { .size = SIZE };
	struct nbd_opts o = { .name = "vol", .listen = "tcp:127.0.0.1:0" };
	struct nbd_server *s = NULL, *s2 = NULL;
	struct uloop *loop;
	struct engine *e;
	char dir[] = "/tmp/test-nbd-XXXXXX", addr[96];

	(void)state;
	assert_int_equal(uloop_create(NULL, &loop), 0);
	e = fake_engine_new(loop, &eo);
	assert_int_equal(nbd_server_create(loop, e, &o, &s), 0);
	assert_int_equal(strncmp(nbd_server_address(s), "tcp:127.0.0.1:", 14),
			 0);
	assert_string_not_equal(nbd_server_address(s), "tcp:127.0.0.1:0");
	nbd_server_destroy(s);
	o.listen = "tcp:[::1]:0";
	if (nbd_server_create(loop, e, &o, &s) == 0) {
		assert_int_equal(strncmp(nbd_server_address(s), "tcp:[::1]:",
					 10), 0);
		nbd_server_destroy(s);
	}
	/* a live unix socket is not stolen; a dead one is replaced */
	assert_non_null(mkdtemp(dir));
	snprintf(addr, sizeof(addr), "unix:%s/s", dir);
	o.listen = addr;
	assert_int_equal(nbd_server_create(loop, e, &o, &s), 0);
	assert_int_equal(nbd_server_create(loop, e, &o, &s2), -EADDRINUSE);
	nbd_server_destroy(s);
	s = NULL;
	assert_int_equal(access(addr + 5, F_OK), -1);	/* unlinked */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		strcpy(sa.sun_path, addr + 5);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)),
				 0);
		close(fd);	/* a stale socket file, as a crash leaves */
	}
	assert_int_equal(nbd_server_create(loop, e, &o, &s), 0);
	nbd_server_destroy(s);
	s = NULL;
	/* any other file is left alone */
	close(open(addr + 5, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(nbd_server_create(loop, e, &o, &s), -EADDRINUSE);
	unlink(addr + 5);
	assert_true(nbdsock_valid("unix:/run/x.sock"));
	assert_true(nbdsock_valid("tcp:127.0.0.1:0"));
	assert_true(nbdsock_valid("tcp:[::1]:10809"));
	assert_false(nbdsock_valid("unix:"));
	assert_false(nbdsock_valid("tcp:1.2.3:4"));
	assert_false(nbdsock_valid("tcp:127.0.0.1:65536"));
	assert_false(nbdsock_valid("tcp:[::1]10809"));
	assert_false(nbdsock_valid("127.0.0.1:80"));
	o.listen = "tcp:300.1.1.1:80";
	assert_int_equal(nbd_server_create(loop, e, &o, &s2), -EINVAL);
	o.listen = "tcp:127.0.0.1";
	assert_int_equal(nbd_server_create(loop, e, &o, &s2), -EINVAL);
	o.listen = "udp:1.2.3.4:5";
	assert_int_equal(nbd_server_create(loop, e, &o, &s2), -EINVAL);
	assert_null(s2);
	nbd_server_destroy(s);
	rmdir(dir);
	fake_engine_free(e);
	uloop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nbd_basic_io),
		cmocka_unit_test(test_nbd_structured),
		cmocka_unit_test(test_nbd_out_of_order),
		cmocka_unit_test(test_nbd_backpressure),
		cmocka_unit_test(test_nbd_engine_errors),
		cmocka_unit_test(test_nbd_refusals),
		cmocka_unit_test(test_nbd_bad_magic_isolated),
		cmocka_unit_test(test_nbd_disc_drains),
		cmocka_unit_test(test_nbd_stalled_clients_dropped),
		cmocka_unit_test(test_nbd_client_vanishes),
		cmocka_unit_test(test_nbd_quiesce),
		cmocka_unit_test(test_nbd_max_conns),
		cmocka_unit_test(test_nbd_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
