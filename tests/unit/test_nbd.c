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
#include <time.h>
#include <unistd.h>

#include "fake_engine.h"
#include "nbd.h"
#include "nbd_client.h"
#include "nbdproto.h"
#include "nbdsock.h"
#include "bytes.h"

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
	c_req(t, fd, 0, NBD_CMD_WRITE_ZEROES, 15,
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

/* Pump the loop for ms milliseconds. */
static void pump_ms(struct t *t, unsigned int ms)
{
	struct timespec now, end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	end.tv_sec += ms / 1000 + end.tv_nsec / 1000000000L;
	end.tv_nsec %= 1000000000L;
	do {
		pump(t);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec ||
		 (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
}

/* A client that sends a large write's payload slowly but without a pause
 * as long as the timeout is not a stalled client: it keeps its connection
 * and the write lands whole.  (Such a payload is received straight into
 * its buffer by one recv that completes only once all of it is in, so
 * the watchdog cannot judge it by completions alone.) */
static void test_nbd_slow_payload_not_stalled(void **state)
{
	struct nbd_opts no = { .client_timeout_ms = 300 };
	struct t *t = setup(NULL, NULL, &no);
	static uint8_t w[512 << 10];
	struct nbd_stats st;
	size_t off;
	int fd;

	(void)state;
	fd = c_open(t, false, NULL);
	pattern(w, sizeof(w), 5);
	c_req(t, fd, 0, NBD_CMD_WRITE, 1, 1 << 20, sizeof(w));
	pump_ms(t, 20);
	/* 16 KiB every 75 ms: 2.4 s in all, at least one watchdog tick
	 * (each second) after more than a timeout since the recv began */
	for (off = 0; off < sizeof(w); off += 16384) {
		c_send(t, fd, w + off, 16384);
		pump_ms(t, 75);
	}
	assert_int_equal(c_simple(t, fd, NULL), 0);
	assert_memory_equal(fake_engine_data(t->e) + (1 << 20), w, sizeof(w));
	nbd_server_get_stats(t->s, &st);
	assert_int_equal(st.hangups, 0);
	/* a client that does stop half-way is still dropped */
	c_req(t, fd, 0, NBD_CMD_WRITE, 2, 0, sizeof(w));
	c_send(t, fd, w, 32768);
	assert_true(c_closed(t, fd));
	nbd_server_get_stats(t->s, &st);
	assert_int_equal(st.hangups, 1);
	close(fd);
	assert_true(pump_until(t, no_conns));
	teardown(t);
}

/* A client that stops half-way through a request header is stalled too
 * (docs/nbd.md: "stops half-way through a request"), and is dropped after
 * the timeout; a client that is merely idle between requests is not. */
static void test_nbd_stalled_partial_header_dropped(void **state)
{
	struct nbd_opts no = { .client_timeout_ms = 300 };
	struct t *t = setup(NULL, NULL, &no);
	uint8_t hdr[NBDPROTO_REQ_SIZE] = { 0 };
	struct nbd_stats st;
	int part, idle;

	(void)state;
	part = c_open(t, false, NULL);
	idle = c_open(t, false, NULL);
	put_be32(hdr, NBD_MAGIC_REQUEST);
	c_send(t, part, hdr, 12);
	assert_true(c_closed(t, part));
	nbd_server_get_stats(t->s, &st);
	assert_int_equal(st.hangups, 1);
	assert_true(pump_until(t, one_conn));
	c_req(t, idle, 0, NBD_CMD_FLUSH, 1, 0, 0);
	assert_int_equal(c_simple(t, idle, NULL), 0);
	close(part);
	close(idle);
	assert_true(pump_until(t, no_conns));
	teardown(t);
}

/* Clients that pipeline large reads and never read the replies hold the
 * whole buffer pool.  Another client that needs a large buffer must not
 * wait the full client timeout for them: while it waits for the pool,
 * those holding buffers and not reading are dropped after the shorter
 * pressure limit, and its read goes through. */
static void test_nbd_pool_hogs_dropped(void **state)
{
	struct uloop_opts lo = {
		.nr_small = 8, .small_size = 65536, .nr_large = 4,
		.large_size = 1 << 20,
	};
	struct nbd_opts no = { .client_timeout_ms = 60000,
			       .conn_buf_bytes = 4 << 20 };
	struct t *t = setup(&lo, NULL, &no);
	static uint8_t got[1 << 20];
	struct timespec t0, t1;
	struct nbd_stats st;
	unsigned int i;
	int hog, good;

	(void)state;
	hog = c_open(t, false, NULL);
	/* the socket takes a couple of replies; the rest hold buffers */
	for (i = 0; i < 12; i++)
		c_req(t, hog, 0, NBD_CMD_READ, i, (uint64_t)i << 20, 1 << 20);
	pump_ms(t, 200);
	assert_int_equal(uloop_buf_free(t->loop, true), 0);
	good = c_open(t, false, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c_req(t, good, 0, NBD_CMD_READ, 100, 0, 1 << 20);
	pump_ms(t, 3500);
	assert_int_equal(c_simple(t, good, NULL), 0);
	assert_true(c_recv(t, good, got, sizeof(got)));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* well inside the 60 s client timeout */
	assert_true(t1.tv_sec - t0.tv_sec < 15);
	assert_true(c_closed(t, hog));
	nbd_server_get_stats(t->s, &st);
	assert_int_equal(st.hangups, 1);
	/* the good client, which read everything, stays */
	c_req(t, good, 0, NBD_CMD_READ, 101, 1 << 20, 1 << 20);
	assert_int_equal(c_simple(t, good, NULL), 0);
	assert_true(c_recv(t, good, got, sizeof(got)));
	close(hog);
	close(good);
	assert_true(pump_until(t, no_conns));
	assert_int_equal(uloop_buf_free(t->loop, true), 4);
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
		cmocka_unit_test(test_nbd_slow_payload_not_stalled),
		cmocka_unit_test(test_nbd_stalled_partial_header_dropped),
		cmocka_unit_test(test_nbd_pool_hogs_dropped),
		cmocka_unit_test(test_nbd_client_vanishes),
		cmocka_unit_test(test_nbd_quiesce),
		cmocka_unit_test(test_nbd_max_conns),
		cmocka_unit_test(test_nbd_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
