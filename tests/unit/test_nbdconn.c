/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NBD server's connection handling against the protocol's rules on
 * ending a session, and its robustness: clients that half-close, DISC with
 * requests still waiting, replies that only partly fit in the socket,
 * several connections to one export, the fd limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_engine.h"
#include "nbd.h"
#include "nbd_client.h"
#include "nbdproto.h"
#include "bytes.h"

/* Read n simple replies in any order; each READ handle (1 << 32 | i)
 * must carry the 4 KiB pattern i.  Returns a bitmap of handles seen. */
static uint64_t c_replies(struct t *t, int fd, unsigned int n)
{
	uint8_t data[4096], want[4096];
	uint64_t seen = 0, h;
	unsigned int i;

	for (i = 0; i < n; i++) {
		assert_int_equal(c_simple(t, fd, &h), 0);
		if (h >> 32) {
			assert_true(c_recv(t, fd, data, sizeof(data)));
			pattern(want, sizeof(want), (unsigned int)h);
			assert_memory_equal(data, want, sizeof(want));
		}
		assert_true((h & 0xffffffff) < 64);
		seen |= 1ULL << (h & 63);
	}
	return seen;
}

/* A client that shuts down its sending side (no DISC) still gets the
 * replies to every request it sent whole; then the server closes.  The
 * spec has no half-close, but a client that has said all it will say is
 * owed its answers, exactly as after DISC. */
static void test_nbdconn_half_close_answers_inflight(void **state)
{
	struct fake_engine_opts eo = { .size = SIZE, .delay_ns = 30000000 };
	struct t *t = setup(NULL, &eo, NULL);
	struct fake_engine_counts n;
	static uint8_t w[4096];
	int fd;

	(void)state;
	pattern(fake_engine_data(t->e) + 8192, 4096, 1);
	fd = c_open(t, false, NULL);
	c_req(t, fd, 0, NBD_CMD_READ, 1ULL << 32 | 1, 8192, 4096);
	c_req(t, fd, 0, NBD_CMD_WRITE, 2, 65536, sizeof(w));
	c_send(t, fd, w, sizeof(w));
	c_req(t, fd, 0, NBD_CMD_FLUSH, 3, 0, 0);
	pump(t);
	shutdown(fd, SHUT_WR);
	assert_true(c_replies(t, fd, 3) == (1 << 1 | 1 << 2 | 1 << 3));
	assert_true(c_closed(t, fd));
	close(fd);
	assert_true(pump_until(t, no_conns));
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.reads, 1);
	assert_int_equal(n.writes, 1);
	assert_int_equal(n.flushes, 1);
	teardown(t);
}

/* Half-closed in the middle of a request: the whole requests before it
 * are answered, the cut one never reaches the engine, nothing leaks. */
static void test_nbdconn_half_close_mid_request(void **state)
{
	struct fake_engine_opts eo = { .size = SIZE, .delay_ns = 20000000 };
	struct t *t = setup(NULL, &eo, NULL);
	unsigned int small = uloop_buf_free(t->loop, false);
	unsigned int large = uloop_buf_free(t->loop, true);
	struct fake_engine_counts n;
	static uint8_t w[65536];
	uint8_t r[28];
	int fd;

	(void)state;
	/* cut in a write payload big enough to be received in place */
	fd = c_open(t, false, NULL);
	c_req(t, fd, 0, NBD_CMD_FLUSH, 1, 0, 0);
	c_req(t, fd, 0, NBD_CMD_WRITE, 2, 0, sizeof(w));
	c_send(t, fd, w, sizeof(w) / 2);
	pump(t);
	shutdown(fd, SHUT_WR);
	assert_true(c_replies(t, fd, 1) == 1 << 1);
	assert_true(c_closed(t, fd));
	close(fd);
	/* cut in a request header */
	fd = c_open(t, false, NULL);
	c_req(t, fd, 0, NBD_CMD_FLUSH, 3, 0, 0);
	memset(r, 0, sizeof(r));
	put_be32(r, NBD_MAGIC_REQUEST);
	c_send(t, fd, r, 10);
	shutdown(fd, SHUT_WR);
	assert_true(c_replies(t, fd, 1) == 1 << 3);
	assert_true(c_closed(t, fd));
	close(fd);
	assert_true(pump_until(t, no_conns));
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.writes, 0);
	assert_int_equal(n.flushes, 2);
	assert_int_equal(uloop_buf_free(t->loop, false), small);
	assert_int_equal(uloop_buf_free(t->loop, true), large);
	teardown(t);
}

/* DISC behind a request that is still waiting for an engine slot, the
 * client's side then shut: the spec says the server MUST handle every
 * outstanding request before it closes, so the waiting one runs and is
 * answered. */
static void test_nbdconn_disc_then_eof_answers_waiting(void **state)
{
	struct t *t = setup(NULL, NULL, NULL);
	struct fake_engine_counts n;
	int fd;

	(void)state;
	pattern(fake_engine_data(t->e), 4096, 2);
	fd = c_open(t, false, NULL);
	fake_engine_refuse(t->e, 3);	/* the read waits for a slot */
	c_req(t, fd, 0, NBD_CMD_READ, 1ULL << 32 | 2, 0, 4096);
	c_req(t, fd, 0, NBD_CMD_DISC, 3, 0, 0);
	shutdown(fd, SHUT_WR);
	assert_true(c_replies(t, fd, 1) == 1 << 2);
	assert_true(c_closed(t, fd));
	close(fd);
	assert_true(pump_until(t, no_conns));
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.reads, 1);
	assert_true(n.refused >= 3);
	teardown(t);
}

/* Replies that fill the socket: sends go out short and are resumed; no
 * reply ever starts before the one ahead of it has gone out whole, so a
 * client reading the stream in order finds every header and every data
 * block where it belongs.  Structured read chunks and simple write
 * replies are mixed in the same batches. */
static void test_nbdconn_short_sends_never_interleave(void **state)
{
	struct t *t = setup(NULL, NULL, NULL);
	static uint8_t w[4096], data[65536], want[65536];
	unsigned int i, reads = 0, writes = 0;
	uint8_t b[28];
	int fd;

	(void)state;
	for (i = 0; i < 48; i++)
		pattern(fake_engine_data(t->e) + (size_t)i * 65536, 65536, i);
	fd = c_open(t, true, NULL);
	for (i = 0; i < 48; i++) {
		c_req(t, fd, 0, NBD_CMD_READ, 1000 + i, (uint64_t)i * 65536,
		      65536);
		c_req(t, fd, 0, NBD_CMD_WRITE, 2000 + i, (8ULL << 20) + i * 4096,
		      4096);
		c_send(t, fd, w, sizeof(w));
	}
	/* let the server fill the socket before anything is read */
	for (i = 0; i < 50; i++)
		pump(t);
	while (reads + writes < 96) {
		uint64_t h;

		assert_true(c_recv(t, fd, b, 4));
		if (get_be32(b) == NBD_MAGIC_SIMPLE) {
			assert_true(c_recv(t, fd, b + 4, 12));
			assert_int_equal(get_be32(b + 4), 0);
			h = get_be64(b + 8);
			assert_true(h >= 2000 && h < 2048);
			writes++;
			continue;
		}
		assert_int_equal(get_be32(b), NBD_MAGIC_STRUCTURED);
		assert_true(c_recv(t, fd, b + 4, 24));
		h = get_be64(b + 8);
		assert_true(h >= 1000 && h < 1048);
		assert_int_equal(get_be16(b + 4), NBD_REPLY_FLAG_DONE);
		assert_int_equal(get_be16(b + 6), NBD_REPLY_TYPE_OFFSET_DATA);
		assert_int_equal(get_be32(b + 16), 8 + 65536);
		assert_true(get_be64(b + 20) == (h - 1000) * 65536);
		assert_true(c_recv(t, fd, data, sizeof(data)));
		pattern(want, sizeof(want), (unsigned int)(h - 1000));
		assert_memory_equal(data, want, sizeof(want));
		reads++;
	}
	close(fd);
	assert_true(pump_until(t, no_conns));
	teardown(t);
}

/* CAN_MULTI_CONN: a write is answered only once the engine has finished
 * it, so a FLUSH sent on another connection after that answer reaches the
 * engine after the write (and the engine's flush covers every write done
 * before it). */
static void test_nbdconn_multi_conn_flush_after_reply(void **state)
{
	struct fake_engine_opts eo = { .size = SIZE, .delay_ns = 20000000 };
	struct t *t = setup(NULL, &eo, NULL);
	struct fake_engine_counts n;
	static uint8_t w[4096];
	uint8_t r[4096];
	int a, b;

	(void)state;
	a = c_open(t, false, NULL);
	b = c_open(t, true, NULL);
	pattern(w, sizeof(w), 7);
	c_req(t, b, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 1, 4096, sizeof(w));
	c_send(t, b, w, sizeof(w));
	assert_int_equal(c_simple(t, b, NULL), 0);
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.writes, 1);
	assert_int_equal(n.inflight, 0);	/* done before its reply */
	c_req(t, a, 0, NBD_CMD_FLUSH, 2, 0, 0);
	assert_int_equal(c_simple(t, a, NULL), 0);
	c_req(t, a, 0, NBD_CMD_READ, 3, 4096, 4096);
	assert_int_equal(c_simple(t, a, NULL), 0);
	assert_true(c_recv(t, a, r, sizeof(r)));
	assert_memory_equal(r, w, sizeof(w));
	close(a);
	close(b);
	teardown(t);
}

/* A connection holds at most conn_buf_bytes of registered buffers,
 * counted in whole buffers: 4 KiB reads each hold a 64 KiB one, so a
 * 200 KiB share lets 3 of them be out at once (a fourth would hold
 * 256 KiB), however many the client sends; the rest wait, and all
 * complete. */
static void test_nbdconn_buffer_share_counts_whole_buffers(void **state)
{
	struct uloop_opts lo = {
		.nr_small = 32, .small_size = 65536, .nr_large = 2,
		.large_size = 1 << 20,
	};
	struct fake_engine_opts eo = { .size = SIZE, .delay_ns = 2000000 };
	struct nbd_opts no = { .conn_buf_bytes = 200 * 1024 };
	struct t *t = setup(&lo, &eo, &no);
	struct fake_engine_counts n;
	unsigned int i;
	int fd;

	(void)state;
	for (i = 0; i < 32; i++)
		pattern(fake_engine_data(t->e) + i * 4096, 4096, i);
	fd = c_open(t, false, NULL);
	for (i = 0; i < 32; i++)
		c_req(t, fd, 0, NBD_CMD_READ, 1ULL << 32 | i, i * 4096, 4096);
	assert_true(c_replies(t, fd, 32) == 0xffffffffULL);
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.reads, 32);
	assert_int_equal(n.max_inflight, 3);
	close(fd);
	assert_true(pump_until(t, no_conns));
	assert_int_equal(uloop_buf_free(t->loop, false), 32);
	teardown(t);
}

/* WRITE_ZEROES with NO_HOLE MUST leave the range fully provisioned; the
 * replicas' zeroing punches holes in files, so those zeroes are written
 * as data.  With FAST_ZERO too that cannot be fast: ENOTSUP at once, and
 * nothing changes. */
static void test_nbdconn_zero_no_hole_writes_zeroes(void **state)
{
	static const uint8_t zero[8192];
	struct t *t = setup(NULL, NULL, NULL);
	uint8_t *data = fake_engine_data(t->e);
	struct fake_engine_counts n;
	int fd;

	(void)state;
	pattern(data, 3 * 8192, 5);
	fd = c_open(t, false, NULL);
	c_req(t, fd, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FUA,
	      NBD_CMD_WRITE_ZEROES, 1, 0, 8192);
	assert_int_equal(c_simple(t, fd, NULL), 0);
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.writes, 1);
	assert_int_equal(n.fua, 1);
	assert_int_equal(n.zeroes, 0);
	assert_memory_equal(data, zero, 8192);
	c_req(t, fd, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO,
	      NBD_CMD_WRITE_ZEROES, 2, 8192, 8192);
	assert_int_equal(c_simple(t, fd, NULL), NBD_ENOTSUP);
	assert_memory_not_equal(data + 8192, zero, 8192);
	c_req(t, fd, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 3, 16384,
	      8192);
	assert_int_equal(c_simple(t, fd, NULL), 0);
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.writes, 1);
	assert_int_equal(n.zeroes, 1);
	close(fd);
	assert_true(pump_until(t, no_conns));
	teardown(t);
}

/* FAST_ZERO when the engine says zeroing the volume is not fast now (a
 * replica would write zero pages, or cannot say): ENOTSUP at once, the
 * engine not asked to do anything, nothing changed.  Once it says fast,
 * FAST_ZERO zeroes as before; zeroes without the flag always do. */
static void test_nbdconn_fast_zero_when_slow(void **state)
{
	static const uint8_t zero[8192];
	struct t *t = setup(NULL, NULL, NULL);
	uint8_t *data = fake_engine_data(t->e);
	struct fake_engine_counts n;
	int fd;

	(void)state;
	pattern(data, 3 * 8192, 9);
	fd = c_open(t, false, NULL);
	fake_engine_set_zero_fast(t->e, false);
	c_req(t, fd, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 1, 0,
	      8192);
	assert_int_equal(c_simple(t, fd, NULL), NBD_ENOTSUP);
	c_req(t, fd, NBD_CMD_FLAG_FAST_ZERO | NBD_CMD_FLAG_FUA,
	      NBD_CMD_WRITE_ZEROES, 2, 8192, 8192);
	assert_int_equal(c_simple(t, fd, NULL), NBD_ENOTSUP);
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.zeroes + n.writes + n.trims, 0);
	assert_memory_not_equal(data, zero, 8192);
	assert_memory_not_equal(data + 8192, zero, 8192);
	/* without FAST_ZERO: zeroed, slow or not */
	c_req(t, fd, 0, NBD_CMD_WRITE_ZEROES, 3, 0, 8192);
	assert_int_equal(c_simple(t, fd, NULL), 0);
	assert_memory_equal(data, zero, 8192);
	/* fast again */
	fake_engine_set_zero_fast(t->e, true);
	c_req(t, fd, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 4, 8192,
	      8192);
	assert_int_equal(c_simple(t, fd, NULL), 0);
	assert_memory_equal(data + 8192, zero, 8192);
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.zeroes, 2);
	close(fd);
	assert_true(pump_until(t, no_conns));
	teardown(t);
}

/* Whether the len bytes at b are all zero. */
static bool all_zero(const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* A NO_HOLE zero longer than the maximum block size (nbdcopy --allocated
 * sends a whole hole as one) is written as data, in chunks of at most
 * max_block, all from one shared buffer of zeroes (the pool lends one
 * large buffer, once), at most 8 chunks in the engine at a time, each
 * with FUA if the request had it.  An engine queue that is full at first
 * only delays it.  A write sent after it on the connection lands after
 * all of it; a DISC after both closes once both are answered. */
static void test_nbdconn_long_zero_no_hole_in_chunks(void **state)
{
	struct uloop_opts lo = {
		.nr_small = 8, .small_size = 65536, .nr_large = 2,
		.large_size = 1 << 20,
	};
	struct fake_engine_opts eo = { .size = SIZE, .delay_ns = 1000000 };
	struct t *t = setup(&lo, &eo, NULL);
	uint8_t *data = fake_engine_data(t->e);
	uint64_t zoff = 1 << 20, zlen = (12 << 20) + 8192, h1 = 0, h2 = 0;
	static uint8_t w[4096], want[4096];
	struct fake_engine_counts n;
	int fd;

	(void)state;
	pattern(data, SIZE, 3);
	pattern(w, sizeof(w), 9);
	memcpy(want, w, sizeof(w));
	fake_engine_refuse(t->e, 2);
	fd = c_open(t, false, NULL);
	c_req(t, fd, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FUA,
	      NBD_CMD_WRITE_ZEROES, 1, zoff, (uint32_t)zlen);
	c_req(t, fd, 0, NBD_CMD_WRITE, 2, 2 << 20, sizeof(w));
	c_send(t, fd, w, sizeof(w));
	c_req(t, fd, 0, NBD_CMD_DISC, 3, 0, 0);
	assert_int_equal(c_simple(t, fd, &h1), 0);
	assert_int_equal(c_simple(t, fd, &h2), 0);
	assert_true(h1 + h2 == 3);
	assert_true(c_closed(t, fd));	/* DISC: after both replies */
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.refused, 2);
	assert_int_equal(n.zeroes, 0);
	assert_int_equal(n.shared, 13);		/* 12 x 1 MiB + 8 KiB */
	assert_int_equal(n.writes, 14);
	assert_int_equal(n.fua, 13);
	assert_true(n.max_inflight >= 2 && n.max_inflight <= 9);
	assert_true(all_zero(data + zoff, (2 << 20) - zoff));
	assert_memory_equal(data + (2 << 20), want, sizeof(w));
	assert_true(all_zero(data + (2 << 20) + 4096,
			     zoff + zlen - (2 << 20) - 4096));
	pattern(want, sizeof(want), 3);
	assert_memory_equal(data, want, sizeof(want));
	assert_true(data[zoff - 1] && data[zoff + zlen]);
	/* one large buffer holds the zeroes for good; nothing else leaks */
	assert_int_equal(uloop_buf_free(t->loop, true), 1);
	assert_int_equal(uloop_buf_free(t->loop, false), 8);
	close(fd);
	assert_true(pump_until(t, no_conns));
	teardown(t);
}

/* A long NO_HOLE zero whose first chunk fails stops there: one EIO
 * reply once the chunks already out are done.  A client that goes away
 * with chunks in the engine costs nothing: they finish, its slot and the
 * connection are freed. */
static void test_nbdconn_long_zero_no_hole_fails_and_hangs_up(void **state)
{
	struct fake_engine_opts eo = { .size = SIZE, .delay_ns = 5000000 };
	struct t *t = setup(NULL, &eo, NULL);
	struct fake_engine_counts n;
	int fd;

	(void)state;
	fd = c_open(t, false, NULL);
	fake_engine_fail(t->e, 1, -EIO);
	c_req(t, fd, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 1, 0,
	      10 << 20);
	assert_int_equal(c_simple(t, fd, NULL), NBD_EIO);
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.inflight, 0);
	assert_true(n.writes >= 1 && n.writes <= 8);	/* none after it */
	c_req(t, fd, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 2, 0,
	      10 << 20);
	while (fake_engine_counts(t->e, &n), !n.inflight)
		pump(t);
	close(fd);
	assert_true(pump_until(t, no_conns));
	fake_engine_counts(t->e, &n);
	assert_int_equal(n.inflight, 0);
	teardown(t);
}

static uint16_t port_of(int fd, bool peer)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&sa,
					       &len) || sa.sin_family != AF_INET)
		return 0;
	return ntohs(sa.sin_port);
}

/* The server's end of the TCP connection whose client end is cfd (the
 * test process holds both). */
static int server_end(int cfd)
{
	uint16_t cport = port_of(cfd, false), sport = port_of(cfd, true);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int fd, found = -1;

	assert_non_null(d);
	while ((de = readdir(d))) {
		fd = atoi(de->d_name);
		if (fd != cfd && port_of(fd, false) == sport &&
		    port_of(fd, true) == cport)
			found = fd;
	}
	closedir(d);
	return found;
}

/* TCP clients get keepalive probes: an idle client whose node died sends
 * no FIN and no requests, so nothing else would ever notice it. */
static void test_nbdconn_tcp_keepalive(void **state)
{
	struct fake_engine_opts eo = { .size = SIZE };
	struct nbd_opts o = { .name = "vol", .listen = "tcp:127.0.0.1:0" };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct nbd_server *s;
	struct uloop *loop;
	struct engine *e;
	int cfd, sfd = -1, v = 0, i;
	socklen_t len = sizeof(v);

	(void)state;
	assert_int_equal(uloop_create(NULL, &loop), 0);
	e = fake_engine_new(loop, &eo);
	assert_int_equal(nbd_server_create(loop, e, &o, &s), 0);
	sa.sin_port = htons((uint16_t)atoi(strrchr(nbd_server_address(s),
						   ':') + 1));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (i = 0; i < 1000 && nbd_server_conns(s) == 0; i++)
		uloop_run_once(loop, 1000000);
	assert_int_equal(nbd_server_conns(s), 1);
	sfd = server_end(cfd);
	assert_true(sfd >= 0);
	assert_int_equal(getsockopt(sfd, SOL_SOCKET, SO_KEEPALIVE, &v, &len),
			 0);
	assert_int_equal(v, 1);
	assert_int_equal(getsockopt(sfd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len),
			 0);
	assert_true(v > 0 && v <= 120);
	assert_int_equal(getsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &v, &len),
			 0);
	assert_int_equal(v, 1);
	close(cfd);
	nbd_server_destroy(s);
	fake_engine_free(e);
	uloop_destroy(loop);
}

/* The server's end of a unix connection to path (the test process holds
 * both ends): bound to path, and not the listener. */
static int unix_server_end(const char *path)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int fd, found = -1;

	assert_non_null(d);
	while ((de = readdir(d))) {
		struct sockaddr_un sa;
		socklen_t len = sizeof(sa);
		int listening = 1;
		socklen_t llen = sizeof(listening);

		fd = atoi(de->d_name);
		memset(&sa, 0, sizeof(sa));
		if (getsockname(fd, (struct sockaddr *)&sa, &len) ||
		    sa.sun_family != AF_UNIX || strcmp(sa.sun_path, path) ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
			       &llen) || listening)
			continue;
		found = fd;
	}
	closedir(d);
	return found;
}

static long read_sysctl(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Unix clients get a send buffer with room for two replies of the
 * maximum block size (as far as net.core.wmem_max allows): with the
 * default one a 256 KiB read reply goes out in pieces, the client and
 * the server taking turns. */
static void test_nbdconn_unix_send_buffer(void **state)
{
	struct nbd_opts no = { .max_block = 512 << 10 };
	long wmem_max = read_sysctl("/proc/sys/net/core/wmem_max");
	struct t *t;
	int cfd, sfd, v = 0;
	socklen_t len = sizeof(v);

	(void)state;
	if (wmem_max <= 0)
		skip();
	t = setup(NULL, NULL, &no);
	cfd = c_open(t, false, NULL);
	sfd = unix_server_end(t->sock);
	assert_true(sfd >= 0);
	assert_int_equal(getsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
	assert_int_equal(v, 2 * (wmem_max < (512 << 10) ? wmem_max :
				 (512 << 10)));
	close(cfd);
	assert_true(pump_until(t, no_conns));
	teardown(t);
}

/* Once the server quiesces (SIGTERM), new TCP clients are refused at
 * once rather than left waiting in the listen backlog. */
static void test_nbdconn_quiesce_refuses_tcp(void **state)
{
	struct fake_engine_opts eo = { .size = SIZE };
	struct nbd_opts o = { .name = "vol", .listen = "tcp:127.0.0.1:0" };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct nbd_server *s;
	struct uloop *loop;
	struct engine *e;
	int fd, i;

	(void)state;
	assert_int_equal(uloop_create(NULL, &loop), 0);
	e = fake_engine_new(loop, &eo);
	assert_int_equal(nbd_server_create(loop, e, &o, &s), 0);
	sa.sin_port = htons((uint16_t)atoi(strrchr(nbd_server_address(s),
						   ':') + 1));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	nbd_server_quiesce(s);
	for (i = 0; i < 10; i++)
		uloop_run_once(loop, 1000000);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
	nbd_server_destroy(s);
	fake_engine_free(e);
	uloop_destroy(loop);
}

/* max_conns connections need max_conns fds: a soft RLIMIT_NOFILE below
 * that (systemd's default soft limit is 1024, our default max_conns too)
 * is raised toward the hard limit when the server starts. */
static void test_nbdconn_raises_fd_limit(void **state)
{
	struct nbd_opts no = { .max_conns = 300 };
	struct rlimit old, low, now;
	struct t *t;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 512)
		skip();
	low = old;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	t = setup(NULL, NULL, &no);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
	setrlimit(RLIMIT_NOFILE, &old);
	assert_true(now.rlim_cur >= 300 + 64);
	teardown(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nbdconn_half_close_answers_inflight),
		cmocka_unit_test(test_nbdconn_half_close_mid_request),
		cmocka_unit_test(test_nbdconn_disc_then_eof_answers_waiting),
		cmocka_unit_test(test_nbdconn_short_sends_never_interleave),
		cmocka_unit_test(test_nbdconn_multi_conn_flush_after_reply),
		cmocka_unit_test(test_nbdconn_buffer_share_counts_whole_buffers),
		cmocka_unit_test(test_nbdconn_zero_no_hole_writes_zeroes),
		cmocka_unit_test(test_nbdconn_fast_zero_when_slow),
		cmocka_unit_test(test_nbdconn_long_zero_no_hole_in_chunks),
		cmocka_unit_test(test_nbdconn_long_zero_no_hole_fails_and_hangs_up),
		cmocka_unit_test(test_nbdconn_tcp_keepalive),
		cmocka_unit_test(test_nbdconn_unix_send_buffer),
		cmocka_unit_test(test_nbdconn_quiesce_refuses_tcp),
		cmocka_unit_test(test_nbdconn_raises_fd_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
