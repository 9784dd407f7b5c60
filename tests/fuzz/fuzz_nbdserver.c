/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the NBD server's connection state machine
 * (userspace/nbdconn.c): request slots, payload assembly, discards,
 * parking, replies, hang-ups.  One server on a fake engine and a small
 * buffer pool lives for the whole run; each input is what one client
 * (or two) sends before ending its side.  The first byte picks:
 *   bits 0-1  a valid handshake prefix (none, GO, GO with structured
 *             replies), so most inputs reach the transmission phase;
 *   bit 2     how the client ends: shut its sending side (and read what
 *             comes) or close outright;
 *   bit 3     a second client, sent the second half of the input,
 *             interleaved with the first;
 *   bits 4-5  the next 0-3 engine requests fail (EIO);
 *   bits 6-7  the next 0-6 engine calls are refused (EAGAIN).
 *
 * After each input every connection must be gone, every registered
 * buffer back in the pool and the process must hold the sockets it held
 * before: a leak of a buffer, a slot, an fd or a connection aborts.
 * ASan and UBSan catch the rest.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
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
static unsigned int small0, large0, fds0;

static void die(const char *why)
{
	fprintf(stderr, "fuzz_nbdserver: %s\n", why);
	abort();
}

/* Sockets this process holds (libFuzzer's symbolizer adds pipes of its
 * own as it goes, so only sockets are counted). */
static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned int n = 0;
	char path[64], target[64];
	ssize_t len;

	if (!d)
		abort();
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		n += len > 7 && !strncmp(target, "socket:", 7);
	}
	closedir(d);
	return n;
}

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
	fds0 = count_fds();
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

static int dial(unsigned int mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static uint8_t buf[256];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	size_t n;

	strcpy(sa.sun_path, sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		abort();
	n = prefix(buf, mode);
	if (n && send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
		abort();
	return fd;
}

/* Feed each client its bytes as its socket takes them, pumping the
 * server.  A client the server hung up on stops (its fd becomes -1 only
 * in the caller's eyes: it is still closed there). */
static void feed(int *fd, const uint8_t **d, size_t *n, unsigned int nr)
{
	size_t off[2] = { 0, 0 };
	bool live[2] = { true, true };
	unsigned int k;
	int i;

	for (i = 0; i < 2000; i++) {
		bool more = false;

		for (k = 0; k < nr; k++) {
			ssize_t r;

			if (!live[k] || off[k] == n[k])
				continue;
			r = send(fd[k], d[k] + off[k], n[k] - off[k],
				 MSG_NOSIGNAL);
			if (r > 0)
				off[k] += (size_t)r;
			else if (r < 0 && errno != EAGAIN)
				live[k] = false;	/* hung up on */
			more |= live[k] && off[k] < n[k];
		}
		uloop_run_once(loop, 100000);
		for (k = 0; k < nr; k++)
			drain(fd[k]);
		if (!more)
			break;
	}
}

/* The client ends: shut its side and read until the server closes, or
 * just close. */
static void finish(int fd, bool half)
{
	int i;

	if (half) {
		shutdown(fd, SHUT_WR);
		for (i = 0; i < 5000; i++) {
			uint8_t b[4096];
			ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);

			if (r == 0 || (r < 0 && errno != EAGAIN))
				break;
			uloop_run_once(loop, 100000);
		}
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *d[2];
	size_t n[2];
	unsigned int mode, nr, k;
	struct nbd_stats st;
	uint64_t accepted;
	int fd[2], i;

	if (!srv)
		setup();
	if (!size)
		return 0;
	mode = data[0];
	data++;
	size--;
	nr = mode & 8 ? 2 : 1;
	d[0] = data;
	n[0] = nr == 2 ? size / 2 : size;
	d[1] = data + n[0];
	n[1] = size - n[0];
	if (mode & 0x30)
		fake_engine_fail(eng, (mode >> 4) & 3, -EIO);
	if (mode & 0xc0)
		fake_engine_refuse(eng, ((mode >> 6) & 3) * 2);
	nbd_server_get_stats(srv, &st);
	accepted = st.accepted;
	for (k = 0; k < nr; k++)
		fd[k] = dial((mode + k) % 3);
	/* every accepted fd is the server's before its client goes */
	for (i = 0; i < 2000 && st.accepted < accepted + nr; i++) {
		uloop_run_once(loop, 100000);
		nbd_server_get_stats(srv, &st);
	}
	feed(fd, d, n, nr);
	for (k = 0; k < nr; k++)
		finish(fd[k], mode & 4);
	for (i = 0; i < 2000 && nbd_server_conns(srv); i++)
		uloop_run_once(loop, 100000);
	fake_engine_fail(eng, 0, 0);
	fake_engine_refuse(eng, 0);
	if (nbd_server_conns(srv) || !nbd_server_idle(srv))
		die("a connection outlived its client");
	if (uloop_buf_free(loop, false) != small0 ||
	    uloop_buf_free(loop, true) != large0)
		die("a registered buffer leaked");
	if (count_fds() != fds0)
		die("a socket leaked");
	return 0;
}
