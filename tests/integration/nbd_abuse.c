/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nbd-abuse: a raw NBD client that sends what real clients never do, for
 * t_nbd_malformed.sh.  It never writes valid data: after it has run, the
 * export must read back exactly as before.
 *
 *   nbd-abuse SOCKET EXPORT SIZE
 *
 * Each case opens its own connection and checks the server's answer (an
 * error reply, or that one connection closed); between cases a witness
 * connection, open all along, must still answer.  Prints one line per
 * case; exits 0 if every case passed, 1 otherwise.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "nbdproto.h"
#include "bytes.h"

static const char *sock_path, *export_name;
static uint64_t export_size;
static int failures;

static void check(bool ok, const char *what)
{
	printf("%s  %s\n", ok ? "ok  " : "FAIL", what);
	fflush(stdout);
	failures += !ok;
}

static int dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static bool tx(int fd, const void *p, size_t n)
{
	return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n;
}

static bool rx(int fd, void *p, size_t n)
{
	return recv(fd, p, n, MSG_WAITALL) == (ssize_t)n;
}

/* The server hung up on us (EOF or reset), rather than timing out. */
static bool closed(int fd)
{
	uint8_t b[512];
	ssize_t r;

	while ((r = recv(fd, b, sizeof(b), 0)) > 0)
		;
	return r == 0 || errno == ECONNRESET || errno == EPIPE;
}

static void opt(int fd, uint32_t o, const void *d, uint32_t len)
{
	uint8_t h[16];

	put_be64(h, NBD_MAGIC_OPTS);
	put_be32(h + 8, o);
	put_be32(h + 12, len);
	tx(fd, h, 16);
	if (len)
		tx(fd, d, len);
}

/* One option reply: its type, or 0 on a broken stream. */
static uint32_t rep(int fd)
{
	uint8_t h[20], junk[4096];
	uint32_t len;

	if (!rx(fd, h, 20) || get_be64(h) != NBD_MAGIC_REP)
		return 0;
	len = get_be32(h + 16);
	if (len > sizeof(junk) || (len && !rx(fd, junk, len)))
		return 0;
	return get_be32(h + 12);
}

static int greet(void)
{
	uint8_t b[18];
	int fd = dial();

	if (!rx(fd, b, 18) || get_be64(b) != NBD_MAGIC_INIT) {
		fprintf(stderr, "no greeting\n");
		exit(1);
	}
	put_be32(b, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	tx(fd, b, 4);
	return fd;
}

static bool go(int fd)
{
	uint8_t d[300];
	size_t n = strlen(export_name);
	uint32_t t;

	put_be32(d, (uint32_t)n);
	memcpy(d + 4, export_name, n);
	put_be16(d + 4 + n, 0);
	opt(fd, NBD_OPT_GO, d, (uint32_t)(n + 6));
	while ((t = rep(fd)) == NBD_REP_INFO)
		;
	return t == NBD_REP_ACK;
}

static int open_export(void)
{
	int fd = greet();

	if (!go(fd)) {
		fprintf(stderr, "GO failed\n");
		exit(1);
	}
	return fd;
}

static void req(int fd, uint16_t flags, uint16_t type, uint64_t h,
		uint64_t off, uint32_t len)
{
	uint8_t r[28];

	put_be32(r, NBD_MAGIC_REQUEST);
	put_be16(r + 4, flags);
	put_be16(r + 6, type);
	put_be64(r + 8, h);
	put_be64(r + 16, off);
	put_be32(r + 24, len);
	tx(fd, r, 28);
}

/* A simple reply's error, or -1 if none came. */
static int64_t reply(int fd, uint64_t want_handle)
{
	uint8_t b[16];

	if (!rx(fd, b, 16) || get_be32(b) != NBD_MAGIC_SIMPLE ||
	    get_be64(b + 8) != want_handle)
		return -1;
	return get_be32(b + 4);
}

static int witness;

/* The connection opened before any abuse still reads. */
static void witness_ok(const char *after)
{
	static uint8_t buf[4096];
	char what[128];
	bool ok;

	req(witness, 0, NBD_CMD_READ, 7, 0, 4096);
	ok = reply(witness, 7) == 0 && rx(witness, buf, sizeof(buf));
	snprintf(what, sizeof(what), "other clients unaffected after %s",
		 after);
	check(ok, what);
}

static void case_handshake(void)
{
	uint8_t junk[64];
	int fd;

	fd = dial();
	rx(fd, junk, 18);
	put_be32(junk, 0x80000000U);	/* a client flag nobody offered */
	tx(fd, junk, 4);
	check(closed(fd), "unknown client flags: connection closed");
	close(fd);

	fd = greet();
	memset(junk, 0x42, sizeof(junk));
	tx(fd, junk, sizeof(junk));
	check(closed(fd), "bad option magic: connection closed");
	close(fd);

	fd = greet();
	opt(fd, 4242, "whatever", 8);
	check(rep(fd) == NBD_REP_ERR_UNSUP, "unknown option: ERR_UNSUP");
	opt(fd, NBD_OPT_STARTTLS, NULL, 0);
	check(rep(fd) == NBD_REP_ERR_UNSUP, "STARTTLS: ERR_UNSUP");
	opt(fd, 11, NULL, 0);
	check(rep(fd) == NBD_REP_ERR_UNSUP, "EXTENDED_HEADERS: ERR_UNSUP");
	opt(fd, NBD_OPT_STRUCTURED_REPLY, "x", 1);
	check(rep(fd) == NBD_REP_ERR_INVALID,
	      "STRUCTURED_REPLY with data: ERR_INVALID");
	opt(fd, NBD_OPT_LIST, "x", 1);
	check(rep(fd) == NBD_REP_ERR_INVALID, "LIST with data: ERR_INVALID");
	opt(fd, NBD_OPT_GO, "\0\0\0\x09nope", 8);
	check(rep(fd) == NBD_REP_ERR_INVALID, "GO, name past end: INVALID");
	check(go(fd), "GO after all that: accepted");
	close(fd);

	fd = greet();
	tx(fd, "IHAVEOPT\0\0\0\x07", 12);	/* a truncated header */
	close(fd);
	witness_ok("truncated option header");
}

static void case_requests(void)
{
	static uint8_t payload[8192];
	int fd = open_export();
	uint32_t max = 1 << 20;

	req(fd, 0, 77, 1, 0, 4096);
	check(reply(fd, 1) == NBD_EINVAL, "unknown command: EINVAL");
	req(fd, 1U << 12, NBD_CMD_READ, 2, 0, 4096);
	check(reply(fd, 2) == NBD_EINVAL, "unknown flag: EINVAL");
	req(fd, 0, NBD_CMD_READ, 3, export_size, 4096);
	check(reply(fd, 3) == NBD_EINVAL, "read past the end: EINVAL");
	req(fd, 0, NBD_CMD_WRITE, 4, export_size - 4096, 8192);
	tx(fd, payload, 8192);
	check(reply(fd, 4) == NBD_ENOSPC, "write past the end: ENOSPC");
	req(fd, 0, NBD_CMD_WRITE_ZEROES, 5, export_size, 4096);
	check(reply(fd, 5) == NBD_ENOSPC, "zeroes past the end: ENOSPC");
	req(fd, 0, NBD_CMD_TRIM, 6, UINT64_MAX - 4095, 4096);
	check(reply(fd, 6) == NBD_EINVAL, "trim at 2^64-4096: EINVAL");
	req(fd, 0, NBD_CMD_READ, 7, 0, 0);
	check(reply(fd, 7) == NBD_EINVAL, "zero-length read: EINVAL");
	req(fd, 0, NBD_CMD_WRITE, 8, 0, 0);
	check(reply(fd, 8) == NBD_EINVAL, "zero-length write: EINVAL");
	req(fd, 0, NBD_CMD_WRITE, 9, 512, 4096);
	tx(fd, payload, 4096);
	check(reply(fd, 9) == NBD_EINVAL, "unaligned write: EINVAL");
	req(fd, 0, NBD_CMD_READ, 10, 0, max + 4096);
	check(reply(fd, 10) == NBD_EINVAL, "read above max block: EINVAL");
	req(fd, 0, NBD_CMD_FLUSH, 11, 4096, 0);
	check(reply(fd, 11) == NBD_EINVAL, "flush with offset: EINVAL");
	req(fd, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO,
	    NBD_CMD_WRITE_ZEROES, 14, 0, 4096);
	check(reply(fd, 14) == NBD_ENOTSUP,
	      "fast zeroes that must stay allocated: ENOTSUP");
	req(fd, 0, NBD_CMD_FLUSH, 12, 0, 0);
	check(reply(fd, 12) == 0, "the same connection still works");
	/* a write payload far too big to skip: that connection ends */
	req(fd, 0, NBD_CMD_WRITE, 13, 0, 0xfffff000U);
	check(closed(fd), "4 GiB write: connection closed");
	close(fd);
	witness_ok("bad requests");
}

static void case_disconnects(void)
{
	static uint8_t payload[1 << 20];
	uint8_t r[28];
	int fd;

	/* bad request magic */
	fd = open_export();
	memset(r, 0x5a, sizeof(r));
	tx(fd, r, sizeof(r));
	check(closed(fd), "bad request magic: connection closed");
	close(fd);

	/* a request header cut short, then gone */
	fd = open_export();
	req(fd, 0, NBD_CMD_READ, 1, 0, 4096);
	tx(fd, r, 10);
	close(fd);
	witness_ok("truncated request header");

	/* gone half-way through a write payload: nothing of it lands */
	fd = open_export();
	memset(payload, 0xee, sizeof(payload));
	req(fd, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 1, 0, sizeof(payload));
	tx(fd, payload, sizeof(payload) / 2 + 123);
	close(fd);
	witness_ok("disconnect mid-write payload");

	/* gone with requests in flight and replies unread */
	fd = open_export();
	for (unsigned int i = 0; i < 64; i++)
		req(fd, 0, NBD_CMD_READ, i, (uint64_t)i * 65536, 65536);
	close(fd);
	witness_ok("disconnect with 64 reads in flight");

	/* half-closed with a read outstanding: answered, then closed */
	fd = open_export();
	req(fd, 0, NBD_CMD_READ, 5, 0, 65536);
	shutdown(fd, SHUT_WR);
	check(reply(fd, 5) == 0 && rx(fd, payload, 65536) && closed(fd),
	      "half-close: the read is answered, then EOF");
	close(fd);

	/* DISC with nonzero fields still disconnects cleanly */
	fd = open_export();
	req(fd, 0, NBD_CMD_DISC, 1, 4096, 4096);
	check(closed(fd), "DISC: connection closed");
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: nbd-abuse SOCKET EXPORT SIZE\n");
		return 2;
	}
	sock_path = argv[1];
	export_name = argv[2];
	export_size = strtoull(argv[3], NULL, 0);
	witness = open_export();
	case_handshake();
	case_requests();
	case_disconnects();
	witness_ok("everything");
	req(witness, 0, NBD_CMD_DISC, 99, 0, 0);
	check(closed(witness), "witness: DISC closes");
	printf("%d failed\n", failures);
	return failures ? 1 : 0;
}
