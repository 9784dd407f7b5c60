/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestry-replctl: a small, blocking replication-protocol client for
 * tests.  It opens one connection, sends a HELLO (unless told not to),
 * then runs the commands given on the command line in order and prints
 * one line per command.  Each command expects success unless it carries
 * expect=ERRNO_NAME (or expect=close for "the server hangs up"); the exit
 * status is 0 only if every command got what it expected.
 *
 *   tapestry-replctl [options] IP:PORT COMMAND [ARGS] [COMMAND [ARGS]]...
 *
 * See usage() for the commands.  Numbers take K/M/G suffixes (powers of
 * two).  It is a test tool: simple and strict, not fast (but copy-in
 * pipelines its writes so the server sees concurrency).
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "abi/repl.h"
#include "crc.h"
#include "proto.h"
#include "replica_rules.h"

#define TIMEOUT_MS 10000
#define MAX_ARGS 16

struct cl {
	const char *addr;
	int fd;
	uint64_t vid;
	uint64_t epoch;
	uint64_t tag;
	uint64_t seq;
	uint64_t size;
	uint32_t bs;
	const char *volume;
	const char *zone;
	bool create;
	bool quiet;
};

struct cmd {
	const char *name;
	const char *pos[MAX_ARGS];	/* positional arguments */
	unsigned int npos;
	const char *kv[MAX_ARGS];	/* key=value and flags */
	unsigned int nkv;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: tapestry-replctl [options] IP:PORT COMMAND [ARGS]... [COMMAND...]\n"
"       tapestry-replctl --gen-corpus DIR\n"
"       tapestry-replctl --meta FILE     print a replica's NAME.meta record\n"
"\n"
"options:\n"
"  --volume NAME   volume for the HELLO (default vol0)\n"
"  --size BYTES    volume size (default 64M)      --bs N  block size (4096)\n"
"  --epoch N       engine epoch (default 1)       --zone Z  zone (default none)\n"
"  --create        HELLO with REPL_F_CREATE       --seq N  first seq (1)\n"
"  --no-hello      do not send a HELLO first      -q  quiet\n"
"\n"
"commands (args are positional, or key=value / flags):\n"
"  hello [create] [sync-failed] [volume=V size=N bs=N]  HELLO again, or\n"
"                                 for another volume on this connection\n"
"                                 (later commands use it); prints the\n"
"                                 status (\"zero-fast\": the reply says\n"
"                                 REPL_F_ZERO_FAST); sync-failed:\n"
"                                 REPL_F_SYNC_FAILED\n"
"  write OFF LEN [file=F [foff=N]] [fill=BYTE] [fua] [seq=N]\n"
"  read OFF LEN [out=F]           prints the data's crc32c\n"
"  trim OFF LEN [fua] / zero OFF LEN [fua] / flush\n"
"  status [json]                  prints the replica status\n"
"  resync-read OFF LEN [out=F]    prints the per-block seqs, data to F\n"
"  resync-write OFF file=F seqs=S1,S2,... [foff=N]\n"
"  copy-in FILE [off=N] [chunk=N] [qd=N] [fua]  write FILE, pipelined\n"
"  verify FILE [off=N] [chunk=N]  read back and compare with FILE\n"
"  overlap N                      N rounds: two overlapping writes sent\n"
"                                 back to back, then a read must see the\n"
"                                 second\n"
"  raw HEX|file=F [wait=MS]       send raw bytes, print any replies\n"
"  bad KIND                       send a broken frame: magic, hdr-crc,\n"
"                                 payload-crc, version, op, flags, oversize,\n"
"                                 reply-flag, trunc-hdr, trunc-payload,\n"
"                                 flip at=N (one bit of byte N); checks the\n"
"                                 server's answer (reply, close, or both)\n"
"  sleep MS\n"
"every command takes expect=ERRNAME (e.g. ESTALE) or expect=close.\n");
}

/* ---- small helpers ---- */

static int parse_num(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static uint64_t num(const char *s, const char *what)
{
	uint64_t v;

	if (!s || parse_num(s, &v)) {
		fprintf(stderr, "replctl: bad or missing %s '%s'\n", what,
			s ? s : "");
		exit(2);
	}
	return v;
}

static const char *kv(const struct cmd *c, const char *key)
{
	size_t n = strlen(key);
	unsigned int i;

	for (i = 0; i < c->nkv; i++) {
		if (!strncmp(c->kv[i], key, n) && c->kv[i][n] == '=')
			return c->kv[i] + n + 1;
		if (!strcmp(c->kv[i], key))
			return "";
	}
	return NULL;
}

static const struct {
	const char *name;
	int err;
} errnames[] = {
	{ "OK", 0 }, { "EINVAL", EINVAL }, { "ESTALE", ESTALE },
	{ "EBADF", EBADF }, { "EBADMSG", EBADMSG }, { "EPROTO", EPROTO },
	{ "EMSGSIZE", EMSGSIZE }, { "ENOENT", ENOENT }, { "EIO", EIO },
	{ "EXDEV", EXDEV }, { "EMFILE", EMFILE }, { "ENOSPC", ENOSPC },
	{ "ENOTRECOVERABLE", ENOTRECOVERABLE },
};

static const char *errname(int e)
{
	static char buf[16];
	size_t i;

	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].err == e)
			return errnames[i].name;
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

static int errval(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (!strcmp(errnames[i].name, s))
			return errnames[i].err;
	fprintf(stderr, "replctl: unknown status name '%s'\n", s);
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p) {
		fprintf(stderr, "replctl: out of memory\n");
		exit(1);
	}
	return p;
}

static uint8_t *read_file(const char *path, uint64_t off, uint64_t len)
{
	uint8_t *buf = xmalloc(len);
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || (n = pread(fd, buf, len, (off_t)off)) != (ssize_t)len) {
		fprintf(stderr, "replctl: %s: cannot read %llu bytes at %llu\n",
			path, (unsigned long long)len,
			(unsigned long long)off);
		exit(1);
	}
	close(fd);
	return buf;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st)) {
		fprintf(stderr, "replctl: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return (uint64_t)st.st_size;
}

static void write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "replctl: %s: cannot write\n", path);
		exit(1);
	}
}

/* ---- socket ---- */

static int dial(const char *spec)
{
	char host[80], *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int fd, one = 1;

	snprintf(host, sizeof(host), "%s", spec);
	port = strrchr(host, ':');
	if (!port)
		return -EINVAL;
	*port++ = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (getaddrinfo(host, port, &hints, &ai))
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		freeaddrinfo(ai);
		return -errno;
	}
	freeaddrinfo(ai);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int send_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	ssize_t n;

	while (len) {
		n = send(fd, b, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* the peer is gone, either way */
			return errno == ECONNRESET ? -EPIPE : -errno;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 0, -EPIPE at EOF (with *got bytes read), -ETIMEDOUT, or -errno. */
static int recv_all(int fd, void *p, size_t len, int timeout_ms, size_t *got)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t *b = p;
	size_t have = 0;
	ssize_t n;
	int rc;

	while (have < len) {
		rc = poll(&pfd, 1, timeout_ms);
		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0 && errno != EINTR)
			return -errno;
		n = recv(fd, b + have, len - have, 0);
		if (n == 0) {
			if (got)
				*got = have;
			return -EPIPE;
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET ? -EPIPE : -errno;
		}
		have += (size_t)n;
	}
	if (got)
		*got = have;
	return 0;
}

/* ---- frames ---- */

static void req_init(struct cl *cl, struct repl_hdr *h, uint8_t op,
		     uint64_t off, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->op = op;
	h->len = len;
	h->volume_id = cl->vid;
	h->offset = off;
	h->epoch = cl->epoch;
	h->tag = ++cl->tag;
}

static int send_frame(struct cl *cl, struct repl_hdr *h, const void *payload)
{
	uint8_t wire[REPL_HDR_SIZE];
	int err;

	h->payload_crc = payload ? proto_payload_crc(payload, h->len) : 0;
	proto_encode(h, wire);
	err = send_all(cl->fd, wire, sizeof(wire));
	if (!err && payload && h->len)
		err = send_all(cl->fd, payload, h->len);
	return err;
}

/* Read one reply: 0, -EPIPE (server closed), -ETIMEDOUT, -EBADMSG (the
 * reply itself is bad).  The payload goes to *payload (malloc'd). */
static int recv_reply(struct cl *cl, struct repl_hdr *h, uint8_t **payload)
{
	uint8_t wire[REPL_HDR_SIZE];
	int err;

	*payload = NULL;
	err = recv_all(cl->fd, wire, sizeof(wire), TIMEOUT_MS, NULL);
	if (err)
		return err;
	err = proto_decode(wire, REPL_MAX_PAYLOAD, h);
	if (err || !(h->flags & REPL_F_REPLY)) {
		fprintf(stderr, "replctl: bad reply header (%s)\n",
			strerror(err ? -err : EPROTO));
		return -EBADMSG;
	}
	if (!proto_has_payload(h))
		return 0;
	*payload = xmalloc(h->len);
	err = recv_all(cl->fd, *payload, h->len, TIMEOUT_MS, NULL);
	if (err)
		return err;
	if (proto_check_payload(h, *payload)) {
		fprintf(stderr, "replctl: reply payload CRC mismatch\n");
		return -EBADMSG;
	}
	return 0;
}

/* Status of a reply as a comparable value: errno, or -1 for "closed". */
#define ST_CLOSED	(-1)

static int expect_of(const struct cmd *c)
{
	const char *e = kv(c, "expect");

	if (!e)
		return 0;
	if (!strcmp(e, "close"))
		return ST_CLOSED;
	return errval(e);
}

static bool judge(const struct cmd *c, int got, const char *detail)
{
	int want = expect_of(c);
	const char *gs = got == ST_CLOSED ? "closed" : errname(got);
	bool ok = got == want;

	printf("%s: %s%s%s%s\n", c->name, gs, detail && *detail ? " " : "",
	       detail ? detail : "",
	       ok ? "" : want == ST_CLOSED ? " (expected close)" : "");
	if (!ok && want != ST_CLOSED)
		printf("%s: expected %s\n", c->name, errname(want));
	fflush(stdout);
	return ok;
}

/* One request, one reply (or a close). */
static int rpc(struct cl *cl, struct repl_hdr *h, const void *payload,
	       struct repl_hdr *rh, uint8_t **rp)
{
	int err = send_frame(cl, h, payload);

	if (err && err != -EPIPE)
		return err;
	if (err == -EPIPE)
		return ST_CLOSED;
	err = recv_reply(cl, rh, rp);
	if (err == -EPIPE)
		return ST_CLOSED;
	if (err)
		return err;
	if (rh->tag != h->tag) {
		fprintf(stderr, "replctl: reply tag %llu, wanted %llu\n",
			(unsigned long long)rh->tag,
			(unsigned long long)h->tag);
		return -EBADMSG;
	}
	return (int)rh->status;
}

static const char *state_name(uint32_t state)
{
	return state == REPL_STATE_CLEAN ? "clean" :
	       state == REPL_STATE_DIRTY ? "dirty" : "sync-failed";
}

static void print_status(const uint8_t *p, bool json)
{
	struct repl_status st;

	memcpy(&st, p, sizeof(st));
	if (json)
		printf("{\"size\":%llu,\"generation\":%llu,\"applied_seq\":%llu,"
		       "\"bytes_written\":%llu,\"block_size\":%u,"
		       "\"state\":\"%s\",\"zone\":\"%.32s\"}\n",
		       (unsigned long long)le64toh(st.size),
		       (unsigned long long)le64toh(st.generation),
		       (unsigned long long)le64toh(st.applied_seq),
		       (unsigned long long)le64toh(st.bytes_written),
		       le32toh(st.block_size),
		       state_name(le32toh(st.state)), st.zone);
	else
		printf("  size %llu block %u generation %llu applied_seq %llu "
		       "bytes_written %llu state %s zone %.32s\n",
		       (unsigned long long)le64toh(st.size),
		       le32toh(st.block_size),
		       (unsigned long long)le64toh(st.generation),
		       (unsigned long long)le64toh(st.applied_seq),
		       (unsigned long long)le64toh(st.bytes_written),
		       state_name(le32toh(st.state)), st.zone);
}

static int hello_rpc(struct cl *cl, uint8_t flags, struct repl_hdr *rh,
		     uint8_t **rp)
{
	struct repl_hello p;
	struct repl_hdr h;
	int st;

	memset(&p, 0, sizeof(p));
	p.size = htole64(cl->size);
	p.block_size = htole32(cl->bs);
	snprintf(p.volume, sizeof(p.volume), "%s", cl->volume);
	snprintf(p.zone, sizeof(p.zone), "%s", cl->zone ? cl->zone : "");
	req_init(cl, &h, REPL_OP_HELLO, 0, sizeof(p));
	h.volume_id = 0;
	h.flags |= flags;
	st = rpc(cl, &h, &p, rh, rp);
	if (st == 0)
		cl->vid = rh->volume_id;
	return st;
}

/* ---- commands ---- */

static uint8_t *payload_for(const struct cmd *c, uint64_t len)
{
	const char *file = kv(c, "file"), *fill = kv(c, "fill");
	uint8_t *p;

	if (file)
		return read_file(file, kv(c, "foff") ? num(kv(c, "foff"),
							     "foff") : 0, len);
	p = xmalloc(len);
	memset(p, fill ? (int)num(fill, "fill") : 0, len);
	return p;
}

static bool cmd_hello(struct cl *cl, const struct cmd *c)
{
	struct repl_hdr rh = { 0 };
	uint8_t *rp = NULL;
	char d[64];
	int st;

	/* another volume on the same connection: later commands use it */
	if (kv(c, "volume"))
		cl->volume = kv(c, "volume");
	if (kv(c, "size"))
		cl->size = num(kv(c, "size"), "size");
	if (kv(c, "bs"))
		cl->bs = (uint32_t)num(kv(c, "bs"), "bs");
	st = hello_rpc(cl, (cl->create || kv(c, "create") ? REPL_F_CREATE : 0) |
			   (kv(c, "sync-failed") ? REPL_F_SYNC_FAILED : 0),
		       &rh, &rp);

	snprintf(d, sizeof(d), "volume_id %llu generation %llu%s",
		 (unsigned long long)rh.volume_id,
		 (unsigned long long)rh.epoch,
		 rh.flags & REPL_F_ZERO_FAST ? " zero-fast" : "");
	if (st < ST_CLOSED)
		return judge(c, EIO, strerror(-st));
	if (!judge(c, st, st >= 0 ? d : NULL)) {
		free(rp);
		return false;
	}
	if (st == 0 && !cl->quiet)
		print_status(rp, false);
	free(rp);
	return true;
}

static bool simple(struct cl *cl, const struct cmd *c, uint8_t op,
		   uint64_t off, uint32_t len, uint8_t flags,
		   const void *payload, uint32_t plen, uint64_t seq)
{
	struct repl_hdr h, rh;
	uint8_t *rp = NULL;
	char d[96] = "";
	int st;

	req_init(cl, &h, op, off, len);
	h.flags = flags;
	h.seq = seq;
	if (payload)
		h.len = plen;
	st = rpc(cl, &h, payload, &rh, &rp);
	if (st < ST_CLOSED)
		return judge(c, EIO, strerror(-st));
	if (st == 0 && rp && op == REPL_OP_READ) {
		const char *out = kv(c, "out");

		snprintf(d, sizeof(d), "crc32c %08x", crc32c(0, rp, rh.len));
		if (out)
			write_file(out, rp, rh.len);
	}
	if (st == 0 && rp && op == REPL_OP_STATUS) {
		if (!judge(c, st, NULL))
			return false;
		print_status(rp, kv(c, "json"));
		free(rp);
		return true;
	}
	if (st == 0 && rp && op == REPL_OP_RESYNC_READ) {
		uint32_t n = (uint32_t)(len / cl->bs), i;
		const char *out = kv(c, "out");

		printf("seqs:");
		for (i = 0; i < n; i++) {
			uint64_t s;

			memcpy(&s, rp + i * 8, 8);
			printf("%s%llu", i ? "," : " ",
			       (unsigned long long)le64toh(s));
		}
		printf("\n");
		if (out)
			write_file(out, rp + n * 8, rh.len - n * 8);
	}
	free(rp);
	return judge(c, st, d);
}

static uint64_t next_seq(struct cl *cl, const struct cmd *c)
{
	const char *s = kv(c, "seq");

	return s ? num(s, "seq") : cl->seq++;
}

static bool cmd_write(struct cl *cl, const struct cmd *c)
{
	uint64_t off = num(c->pos[0], "offset"), len = num(c->pos[1], "len");
	uint8_t *p = payload_for(c, len);
	bool ok = simple(cl, c, REPL_OP_WRITE, off, 0,
			 kv(c, "fua") ? REPL_F_FUA : 0, p, (uint32_t)len,
			 next_seq(cl, c));

	free(p);
	return ok;
}

static bool cmd_range(struct cl *cl, const struct cmd *c, uint8_t op)
{
	uint64_t off = num(c->pos[0], "offset"), len = num(c->pos[1], "len");
	uint64_t seq = op == REPL_OP_TRIM || op == REPL_OP_ZERO ?
		       next_seq(cl, c) : 0;

	return simple(cl, c, op, off, (uint32_t)len,
		      kv(c, "fua") ? REPL_F_FUA : 0, NULL, 0, seq);
}

static bool cmd_resync_write(struct cl *cl, const struct cmd *c)
{
	uint64_t off = num(c->pos[0], "offset"), seqs[256], n = 0;
	const char *s = kv(c, "seqs");
	char *list, *tok, *save = NULL;
	uint8_t *data, *p;
	uint64_t i, v;
	bool ok;

	if (!s || !kv(c, "file")) {
		fprintf(stderr, "replctl: resync-write needs file= and seqs=\n");
		exit(2);
	}
	list = strdup(s);
	for (tok = strtok_r(list, ",", &save); tok && n < 256;
	     tok = strtok_r(NULL, ",", &save))
		seqs[n++] = num(tok, "seq");
	free(list);
	data = read_file(kv(c, "file"), kv(c, "foff") ?
			 num(kv(c, "foff"), "foff") : 0, n * cl->bs);
	p = xmalloc(n * (8 + cl->bs));
	for (i = 0; i < n; i++) {
		v = htole64(seqs[i]);
		memcpy(p + i * 8, &v, 8);
	}
	memcpy(p + n * 8, data, n * cl->bs);
	ok = simple(cl, c, REPL_OP_WRITE, off, 0, REPL_F_RESYNC, p,
		    (uint32_t)(n * (8 + cl->bs)), 0);
	free(p);
	free(data);
	return ok;
}

/* Write a file with up to qd writes outstanding; replies may come back in
 * any order. */
static bool cmd_copy_in(struct cl *cl, const struct cmd *c)
{
	const char *path = c->pos[0];
	uint64_t size = file_size(path);
	uint64_t off = kv(c, "off") ? num(kv(c, "off"), "off") : 0;
	uint64_t chunk = kv(c, "chunk") ? num(kv(c, "chunk"), "chunk") : 65536;
	uint64_t qd = kv(c, "qd") ? num(kv(c, "qd"), "qd") : 16, done = 0;
	uint64_t nchunks = (size + chunk - 1) / chunk, first = cl->tag + 1;
	uint8_t *data = read_file(path, 0, size), *rp;
	bool *acked = xmalloc(nchunks + 1);
	uint64_t sent = 0, inflight = 0, writes = 0, prefix = 0;
	struct repl_hdr h, rh;
	char d[96];
	int st = 0, err;

	while ((sent < size || inflight) && !st) {
		while (sent < size && inflight < qd) {
			uint32_t n = (uint32_t)(size - sent < chunk ?
						size - sent : chunk);

			req_init(cl, &h, REPL_OP_WRITE, off + sent, n);
			h.seq = cl->seq++;
			h.flags = kv(c, "fua") ? REPL_F_FUA : 0;
			if ((err = send_frame(cl, &h, data + sent))) {
				st = err == -EPIPE ? ST_CLOSED : EIO;
				break;
			}
			sent += n;
			inflight++;
			writes++;
		}
		if (st)
			break;
		err = recv_reply(cl, &rh, &rp);
		free(rp);
		if (err) {
			st = err == -EPIPE ? ST_CLOSED : EIO;
			break;
		}
		inflight--;
		done++;
		if (rh.status)
			st = (int)rh.status;
		else if (rh.tag >= first && rh.tag - first < nchunks)
			acked[rh.tag - first] = true;
	}
	while (prefix < nchunks && acked[prefix])
		prefix++;
	free(data);
	free(acked);
	/* acked_prefix: every byte before it was acked (for tests that cut
	 * the server off mid-way) */
	snprintf(d, sizeof(d), "%llu writes, %llu acked, acked_prefix %llu",
		 (unsigned long long)writes, (unsigned long long)done,
		 (unsigned long long)(prefix * chunk < size ? prefix * chunk :
							      size));
	return judge(c, st, d);
}

static bool cmd_verify(struct cl *cl, const struct cmd *c)
{
	const char *path = c->pos[0];
	uint64_t size = file_size(path), pos;
	uint64_t off = kv(c, "off") ? num(kv(c, "off"), "off") : 0;
	uint64_t chunk = kv(c, "chunk") ? num(kv(c, "chunk"), "chunk") :
					   1 << 20;
	uint8_t *data = read_file(path, 0, size), *rp;
	struct repl_hdr h, rh;
	char d[96] = "";
	int st = 0;

	for (pos = 0; pos < size && !st; pos += chunk) {
		uint32_t n = (uint32_t)(size - pos < chunk ? size - pos : chunk);

		req_init(cl, &h, REPL_OP_READ, off + pos, n);
		st = rpc(cl, &h, NULL, &rh, &rp);
		if (st < ST_CLOSED)
			st = EIO;
		if (!st && (rh.len != n || memcmp(rp, data + pos, n))) {
			uint32_t i = 0;

			while (rp && i < n && i < rh.len &&
			       rp[i] == data[pos + i])
				i++;
			snprintf(d, sizeof(d), "MISMATCH at byte %llu",
				 (unsigned long long)(off + pos + i));
			st = EIO;
		}
		free(rp);
	}
	free(data);
	return judge(c, st, d);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Two overlapping writes back to back, then a read of both: the read and
 * the final data must show the second write on the overlap. */
static bool cmd_overlap(struct cl *cl, const struct cmd *c)
{
	uint64_t rounds = num(c->pos[0], "rounds"), s = 0x9e3779b97f4a7c15ULL;
	uint64_t base = kv(c, "off") ? num(kv(c, "off"), "off") / cl->bs : 0;
	uint64_t nblk = kv(c, "span") ? num(kv(c, "span"), "span") / cl->bs :
					cl->size / cl->bs - base;
	uint64_t i;
	uint8_t *a = xmalloc(32 * cl->bs), *b = xmalloc(32 * cl->bs), *rp;
	struct repl_hdr h[3], rh;
	char d[96] = "";
	int st = 0, k, got;

	for (i = 0; i < rounds && !st; i++) {
		uint64_t la = 1 + rnd(&s) % 16, lb = 1 + rnd(&s) % 16;
		uint64_t oa = base + rnd(&s) % (nblk - 32);
		uint64_t ob = oa + rnd(&s) % la;	/* overlaps a */
		uint64_t lo = oa, hi = ob + lb > oa + la ? ob + lb : oa + la;
		uint64_t x;

		memset(a, (int)(2 * i + 1), la * cl->bs);
		memset(b, (int)(2 * i + 2), lb * cl->bs);
		req_init(cl, &h[0], REPL_OP_WRITE, oa * cl->bs,
			 (uint32_t)(la * cl->bs));
		h[0].seq = cl->seq++;
		req_init(cl, &h[1], REPL_OP_WRITE, ob * cl->bs,
			 (uint32_t)(lb * cl->bs));
		h[1].seq = cl->seq++;
		req_init(cl, &h[2], REPL_OP_READ, lo * cl->bs,
			 (uint32_t)((hi - lo) * cl->bs));
		if (send_frame(cl, &h[0], a) || send_frame(cl, &h[1], b) ||
		    send_frame(cl, &h[2], NULL)) {
			st = ST_CLOSED;
			break;
		}
		for (k = 0, got = 0; k < 3 && !st; k++) {
			if (recv_reply(cl, &rh, &rp)) {
				st = EIO;
				break;
			}
			if (rh.status)
				st = (int)rh.status;
			if (rh.tag == h[2].tag && !st) {
				for (x = lo; x < hi && !st; x++) {
					uint8_t want = x >= ob && x < ob + lb ?
						       b[0] : a[0];

					if (rp[(x - lo) * cl->bs] != want ||
					    rp[(x - lo + 1) * cl->bs - 1] !=
						    want) {
						snprintf(d, sizeof(d),
							 "round %llu: block %llu "
							 "has the older write",
							 (unsigned long long)i,
							 (unsigned long long)x);
						st = EIO;
					}
				}
				got = 1;
			}
			free(rp);
		}
		if (!st && !got)
			st = EIO;
	}
	free(a);
	free(b);
	if (!st)
		snprintf(d, sizeof(d), "%llu rounds in order",
			 (unsigned long long)rounds);
	return judge(c, st, d);
}

/* Read replies until the server closes or wait_ms pass quietly.  Returns
 * ST_CLOSED if it closed, else the first non-zero status seen (0 if
 * none). */
static int drain_replies(struct cl *cl, int wait_ms, uint64_t tag)
{
	uint8_t wire[REPL_HDR_SIZE], *p;
	struct repl_hdr h;
	int first = 0, err;
	size_t got;

	for (;;) {
		err = recv_all(cl->fd, wire, sizeof(wire), wait_ms, &got);
		if (err == -ETIMEDOUT)
			return first;
		if (err == -EPIPE) {
			if (got)
				printf("  (%zu stray bytes)\n", got);
			return ST_CLOSED;
		}
		if (err)
			return EIO;
		if (proto_decode(wire, REPL_MAX_PAYLOAD, &h)) {
			printf("  undecodable reply\n");
			return EIO;
		}
		printf("  reply %s tag %llu status %s%s\n", proto_op_name(h.op),
		       (unsigned long long)h.tag, errname((int)h.status),
		       tag && h.tag != tag ? " (unexpected tag)" : "");
		if (tag && h.tag != tag)
			return EIO;
		if (proto_has_payload(&h)) {
			p = xmalloc(h.len);
			err = recv_all(cl->fd, p, h.len, wait_ms, NULL);
			free(p);
			if (err)
				return err == -EPIPE ? ST_CLOSED : EIO;
		}
		if (h.status && !first)
			first = (int)h.status;
	}
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool cmd_raw(struct cl *cl, const struct cmd *c)
{
	const char *file = kv(c, "file"), *hex = c->npos ? c->pos[0] : "";
	int wait = kv(c, "wait") ? (int)num(kv(c, "wait"), "wait") : 1000;
	uint8_t *bytes;
	size_t n = 0, i;
	int st;

	if (file) {
		n = file_size(file);
		bytes = read_file(file, 0, n);
	} else {
		bytes = xmalloc(strlen(hex) / 2 + 1);
		for (i = 0; hex[i] && hex[i + 1]; i += 2) {
			if (hexval(hex[i]) < 0 || hexval(hex[i + 1]) < 0) {
				fprintf(stderr, "replctl: bad hex\n");
				exit(2);
			}
			bytes[n++] = (uint8_t)(hexval(hex[i]) << 4 |
					       hexval(hex[i + 1]));
		}
	}
	st = send_all(cl->fd, bytes, n);
	free(bytes);
	if (kv(c, "eof"))
		shutdown(cl->fd, SHUT_WR);
	st = st ? ST_CLOSED : drain_replies(cl, wait, 0);
	return judge(c, st, NULL);
}

/* A refusal echoes the request's op, which may be one proto_decode()
 * rejects (that is the point): check magic and CRC, read status and tag,
 * and expect no payload. */
static int recv_loose(struct cl *cl, struct repl_hdr *h)
{
	uint8_t wire[REPL_HDR_SIZE], copy[REPL_HDR_SIZE];
	uint32_t v32, crc;
	uint64_t v64;
	int err;

	err = recv_all(cl->fd, wire, sizeof(wire), TIMEOUT_MS, NULL);
	if (err)
		return err;
	memcpy(copy, wire, sizeof(copy));
	memset(copy + 60, 0, 4);
	memcpy(&crc, wire + 60, 4);
	memcpy(&v32, wire, 4);
	if (le32toh(v32) != REPL_MAGIC ||
	    crc32c(0, copy, sizeof(copy)) != le32toh(crc))
		return -EBADMSG;
	memset(h, 0, sizeof(*h));
	h->op = wire[6];
	h->flags = wire[7];
	memcpy(&v32, wire + 8, 4);
	h->status = le32toh(v32);
	memcpy(&v32, wire + 12, 4);
	h->len = le32toh(v32);
	memcpy(&v64, wire + 48, 8);
	h->tag = le64toh(v64);
	return h->flags & REPL_F_REPLY && !h->len ? 0 : -EBADMSG;
}

static void reencode_crc(uint8_t *w)
{
	uint32_t crc;

	memset(w + 60, 0, 4);
	crc = htole32(crc32c(0, w, REPL_HDR_SIZE));
	memcpy(w + 60, &crc, 4);
}

/* A frame broken in one way, and the server's documented answer to it. */
struct bad {
	uint8_t frame[REPL_HDR_SIZE + REPLICA_MAX_BLOCK];
	size_t send_len;	/* bytes of frame to send */
	uint64_t tag;
	int want;		/* status of the reply, or ST_CLOSED */
	bool closes;		/* the server hangs up after replying */
	bool eof;		/* we hang up after sending */
};

/* Corrupt a wire header and make its CRC right again, so that the field
 * itself is what the server objects to. */
static void corrupt_field(uint8_t *w, size_t at, uint8_t v)
{
	w[at] = v;
	reencode_crc(w);
}

/* The base: a WRITE of one block of 0xEE at offset 0. */
static void bad_build(struct cl *cl, const char *kind, uint64_t at,
		      struct bad *b)
{
	uint32_t len = cl->bs;
	uint8_t *w = b->frame, *data = b->frame + REPL_HDR_SIZE;
	struct repl_hdr h;

	memset(data, 0xee, len);
	req_init(cl, &h, REPL_OP_WRITE, 0, len);
	h.seq = cl->seq++;
	h.payload_crc = proto_payload_crc(data, len);
	b->tag = h.tag;
	b->send_len = REPL_HDR_SIZE + len;
	b->want = EPROTO;
	b->closes = true;
	b->eof = false;
	if (!strcmp(kind, "flags"))
		h.flags = REPL_F_CREATE;	/* not a WRITE flag */
	if (!strcmp(kind, "reply-flag") || !strcmp(kind, "oversize")) {
		/* a write "reply" (no payload), or a length past the limit */
		h.flags = kind[0] == 'r' ? REPL_F_REPLY : 0;
		h.len = kind[0] == 'r' ? 0 : REPL_MAX_PAYLOAD + len;
		b->want = kind[0] == 'r' ? EPROTO : EMSGSIZE;
		b->send_len = REPL_HDR_SIZE;
	}
	proto_encode(&h, w);
	if (!strcmp(kind, "magic") || !strcmp(kind, "hdr-crc")) {
		w[kind[0] == 'm' ? 0 : 20] ^= 0x01;	/* magic, or offset */
		b->want = ST_CLOSED;
	} else if (!strcmp(kind, "payload-crc")) {
		data[len / 2] ^= 0x40;
		b->want = EBADMSG;
		b->closes = false;
	} else if (!strcmp(kind, "version")) {
		corrupt_field(w, 4, REPL_VERSION + 1);
	} else if (!strcmp(kind, "op")) {
		corrupt_field(w, 6, 0x7f);
	} else if (!strcmp(kind, "flip")) {
		/* one bit of byte at: in the header the CRC fails (close);
		 * in the payload the payload CRC does (EBADMSG, stays open) */
		at %= REPL_HDR_SIZE + len;
		w[at] ^= 0x10;
		b->want = at < REPL_HDR_SIZE ? ST_CLOSED : EBADMSG;
		b->closes = at < REPL_HDR_SIZE;
	} else if (!strcmp(kind, "trunc-hdr") ||
		   !strcmp(kind, "trunc-payload")) {
		b->send_len = kind[6] == 'h' ? 30 : REPL_HDR_SIZE + len / 2;
		b->want = ST_CLOSED;
		b->eof = true;
	} else if (strcmp(kind, "flags") && strcmp(kind, "reply-flag") &&
		   strcmp(kind, "oversize")) {
		fprintf(stderr, "replctl: unknown bad-frame kind '%s'\n", kind);
		exit(2);
	}
}

/* What the server did: a reply's status (then, if it must close, checked
 * that it did), or ST_CLOSED. */
static int bad_outcome(struct cl *cl, const struct bad *b)
{
	struct repl_hdr rh;
	int st;

	if (b->want == ST_CLOSED)
		return drain_replies(cl, TIMEOUT_MS, 0);
	st = recv_loose(cl, &rh);
	if (st)
		return st == -EPIPE ? ST_CLOSED : EIO;
	if (rh.tag != b->tag)
		return EIO;
	st = (int)rh.status;
	/* ... and then the server must hang up */
	if (st == b->want && b->closes &&
	    drain_replies(cl, TIMEOUT_MS, 0) != ST_CLOSED)
		return EIO;
	return st;
}

/* Send a broken frame; the expected answer is built in (expect=
 * overrides it). */
static bool cmd_bad(struct cl *cl, const struct cmd *c)
{
	const char *kind = c->npos ? c->pos[0] : "";
	struct bad *b = xmalloc(sizeof(*b));
	bool ok;
	int st;

	bad_build(cl, kind, kv(c, "at") ? num(kv(c, "at"), "at") : 0, b);
	st = send_all(cl->fd, b->frame, b->send_len);
	if (b->eof)
		shutdown(cl->fd, SHUT_WR);
	st = st ? ST_CLOSED : bad_outcome(cl, b);
	if (kv(c, "expect")) {
		free(b);
		return judge(c, st, kind);
	}
	ok = st == b->want;
	printf("bad %s: %s%s\n", kind, st == ST_CLOSED ? "closed" :
	       errname(st), !ok ? " (unexpected)" :
	       b->closes && b->want != ST_CLOSED ? ", then closed" : "");
	fflush(stdout);
	free(b);
	return ok;
}

/* ---- seed corpus for tests/fuzz/fuzz_repl.c ---- */

struct out {
	uint8_t buf[1 << 16];
	size_t len;
};

static void put_frame(struct out *o, struct repl_hdr *h, const void *p)
{
	h->payload_crc = p ? proto_payload_crc(p, h->len) : 0;
	proto_encode(h, o->buf + o->len);
	o->len += REPL_HDR_SIZE;
	if (p && h->len) {
		memcpy(o->buf + o->len, p, h->len);
		o->len += h->len;
	}
}

static void put_hello(struct out *o, const char *vol, uint64_t size,
		      uint32_t bs, uint64_t epoch)
{
	struct repl_hello p;
	struct repl_hdr h = { .op = REPL_OP_HELLO, .flags = REPL_F_CREATE,
			      .len = sizeof(p), .epoch = epoch, .tag = 1 };

	memset(&p, 0, sizeof(p));
	p.size = htole64(size);
	p.block_size = htole32(bs);
	snprintf(p.volume, sizeof(p.volume), "%s", vol);
	put_frame(o, &h, &p);
}

static void put_op(struct out *o, uint8_t op, uint8_t flags, uint64_t vid,
		   uint64_t off, uint32_t len, uint64_t seq, const void *p)
{
	struct repl_hdr h = { .op = op, .flags = flags, .len = len,
			      .volume_id = vid, .offset = off, .seq = seq,
			      .epoch = 1, .tag = seq + 100 };

	put_frame(o, &h, p);
}

static void save(const char *dir, const char *name, struct out *o)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, o->buf, o->len);
	o->len = 0;
}

static int gen_corpus(const char *dir)
{
	static uint8_t blk[3 * 4096], rs[2 * (8 + 512)];
	static struct out o;
	uint64_t s;

	memset(blk, 0xa5, sizeof(blk));
	put_hello(&o, "v0", 1 << 20, 4096, 1);
	save(dir, "hello", &o);

	put_hello(&o, "v0", 1 << 20, 4096, 1);
	put_op(&o, REPL_OP_WRITE, 0, 1, 4096, 8192, 1, blk);
	put_op(&o, REPL_OP_WRITE, REPL_F_FUA, 1, 8192, 4096, 2, blk);
	put_op(&o, REPL_OP_READ, 0, 1, 0, 16384, 0, NULL);
	put_op(&o, REPL_OP_FLUSH, 0, 1, 0, 0, 0, NULL);
	put_op(&o, REPL_OP_STATUS, 0, 1, 0, 0, 0, NULL);
	save(dir, "write_read", &o);

	put_hello(&o, "v1", 1 << 16, 512, 1);
	s = htole64(7);
	memcpy(rs, &s, 8);
	s = htole64(0);
	memcpy(rs + 8, &s, 8);
	memset(rs + 16, 0x5a, 2 * 512);
	put_op(&o, REPL_OP_WRITE, 0, 1, 0, 1024, 9, blk);
	put_op(&o, REPL_OP_WRITE, REPL_F_RESYNC, 1, 512, sizeof(rs), 0, rs);
	put_op(&o, REPL_OP_RESYNC_READ, 0, 1, 0, 2048, 0, NULL);
	save(dir, "resync", &o);

	put_hello(&o, "v0", 1 << 20, 4096, 1);
	put_op(&o, REPL_OP_TRIM, 0, 1, 0, 65536, 3, NULL);
	put_op(&o, REPL_OP_ZERO, REPL_F_FUA, 1, 65536, 4096, 4, NULL);
	save(dir, "trim_zero", &o);

	put_hello(&o, "v0", 1 << 20, 4096, 1);
	put_hello(&o, "v1", 1 << 16, 512, 2);
	put_op(&o, REPL_OP_WRITE, 0, 2, 0, 512, 5, blk);
	put_op(&o, REPL_OP_WRITE, 0, 1, 0, 4096, 6, blk);
	put_op(&o, REPL_OP_WRITE, 0, 1, 0, 4096, 7, blk);
	save(dir, "two_volumes", &o);

	put_hello(&o, "v0", 1 << 20, 4096, 1);
	put_op(&o, REPL_OP_WRITE, 0, 1, 0, 4096, 8, blk);
	o.buf[o.len - 1] ^= 1;		/* payload CRC now wrong */
	put_op(&o, REPL_OP_WRITE, 0, 1, 4096, 4096, 9, blk);
	save(dir, "bad_payload", &o);

	/* fuzz_repl's program form (12-byte records, last byte 3): op,
	 * flags, volume id, epoch, offset/512, len/512, seq, spare */
	{
		static const uint8_t prog[][12] = {
			{ REPL_OP_HELLO, REPL_F_CREATE, 1, 1 },
			{ REPL_OP_WRITE, 0, 1, 1, 10, 0, 4, 0, 5 },
			{ REPL_OP_WRITE, REPL_F_RESYNC, 1, 1, 0, 0, 65, 0, 0 },
			{ REPL_OP_READ, 0, 1, 1, 120, 0, 8, 0 },
			{ REPL_OP_TRIM, 0, 1, 1, 100, 0, 4, 0, 9 },
			{ REPL_OP_FLUSH, 0, 1, 1 },
			{ REPL_OP_RESYNC_READ, 0, 1, 1, 0, 0, 16, 0 },
			{ REPL_OP_ZERO, REPL_F_FUA, 1, 1, 2, 0, 2, 0, 11 },
			{ REPL_OP_HELLO, REPL_F_CREATE, 2, 2 },
			{ REPL_OP_WRITE, REPL_F_FUA, 2, 2, 8, 0, 8, 0, 12 },
			{ REPL_OP_STATUS, 0, 1, 1 },
		};

		memcpy(o.buf, prog, sizeof(prog));
		o.buf[sizeof(prog)] = 3;
		o.len = sizeof(prog) + 1;
		save(dir, "program", &o);
	}
	return 0;
}

/* A volume replica's metadata record, for tests that look at it while
 * the server is down. */
static int print_meta(const char *path)
{
	uint64_t len = file_size(path);
	struct replica_meta m;
	uint8_t *buf;

	buf = read_file(path, 0, len);
	if (replica_meta_pick(buf, len, &m)) {
		fprintf(stderr, "replctl: %s: no valid record\n", path);
		free(buf);
		return 1;
	}
	free(buf);
	printf("{\"counter\":%llu,\"size\":%llu,\"block_size\":%u,"
	       "\"generation\":%llu,\"applied_seq\":%llu,"
	       "\"bytes_written\":%llu,\"state\":\"%s\","
	       "\"synced_seq\":%llu}\n",
	       (unsigned long long)m.counter, (unsigned long long)m.size,
	       m.block_size, (unsigned long long)m.generation,
	       (unsigned long long)m.applied_seq,
	       (unsigned long long)m.bytes_written,
	       m.state == REPL_STATE_CLEAN ? "clean" :
	       m.state == REPL_STATE_DIRTY ? "dirty" : "sync-failed",
	       (unsigned long long)m.synced_seq);
	return 0;
}

/* ---- main ---- */

static const char *const command_names[] = {
	"hello", "write", "read", "trim", "zero", "flush", "status",
	"resync-read", "resync-write", "copy-in", "verify", "overlap", "raw",
	"bad", "sleep", NULL,
};

static bool is_command(const char *s)
{
	const char *const *n;

	for (n = command_names; *n; n++)
		if (!strcmp(*n, s))
			return true;
	return false;
}

static bool need_pos(const struct cmd *c, unsigned int n)
{
	if (c->npos >= n)
		return true;
	fprintf(stderr, "replctl: %s needs %u arguments\n", c->name, n);
	exit(2);
}

static bool run(struct cl *cl, const struct cmd *c)
{
	const char *n = c->name;

	if (!strcmp(n, "hello"))
		return cmd_hello(cl, c);
	if (!strcmp(n, "write") && need_pos(c, 2))
		return cmd_write(cl, c);
	if (!strcmp(n, "read") && need_pos(c, 2))
		return cmd_range(cl, c, REPL_OP_READ);
	if (!strcmp(n, "trim") && need_pos(c, 2))
		return cmd_range(cl, c, REPL_OP_TRIM);
	if (!strcmp(n, "zero") && need_pos(c, 2))
		return cmd_range(cl, c, REPL_OP_ZERO);
	if (!strcmp(n, "resync-read") && need_pos(c, 2))
		return cmd_range(cl, c, REPL_OP_RESYNC_READ);
	if (!strcmp(n, "flush"))
		return simple(cl, c, REPL_OP_FLUSH, 0, 0, 0, NULL, 0, 0);
	if (!strcmp(n, "status"))
		return simple(cl, c, REPL_OP_STATUS, 0, 0, 0, NULL, 0, 0);
	if (!strcmp(n, "resync-write") && need_pos(c, 1))
		return cmd_resync_write(cl, c);
	if (!strcmp(n, "copy-in") && need_pos(c, 1))
		return cmd_copy_in(cl, c);
	if (!strcmp(n, "verify") && need_pos(c, 1))
		return cmd_verify(cl, c);
	if (!strcmp(n, "overlap") && need_pos(c, 1))
		return cmd_overlap(cl, c);
	if (!strcmp(n, "raw"))
		return cmd_raw(cl, c);
	if (!strcmp(n, "bad") && need_pos(c, 1))
		return cmd_bad(cl, c);
	if (!strcmp(n, "sleep") && need_pos(c, 1)) {
		usleep((useconds_t)num(c->pos[0], "ms") * 1000);
		return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "volume", required_argument, NULL, 'V' },
		{ "size", required_argument, NULL, 'S' },
		{ "bs", required_argument, NULL, 'B' },
		{ "epoch", required_argument, NULL, 'E' },
		{ "zone", required_argument, NULL, 'Z' },
		{ "seq", required_argument, NULL, 'Q' },
		{ "create", no_argument, NULL, 'C' },
		{ "no-hello", no_argument, NULL, 'N' },
		{ "gen-corpus", required_argument, NULL, 'G' },
		{ "meta", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cl cl = { .volume = "vol0", .size = 64 << 20, .bs = 4096,
			 .epoch = 1, .seq = 1 };
	struct cmd *cmds;
	unsigned int ncmds = 0, i;
	bool hello = true, ok = true;
	int ch;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ch = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'V': cl.volume = optarg; break;
		case 'S': cl.size = num(optarg, "size"); break;
		case 'B': cl.bs = (uint32_t)num(optarg, "bs"); break;
		case 'E': cl.epoch = num(optarg, "epoch"); break;
		case 'Z': cl.zone = optarg; break;
		case 'Q': cl.seq = num(optarg, "seq"); break;
		case 'C': cl.create = true; break;
		case 'N': hello = false; break;
		case 'q': cl.quiet = true; break;
		case 'G': return gen_corpus(optarg);
		case 'M': return print_meta(optarg);
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cl.addr = argv[optind++];
	cmds = xmalloc(sizeof(*cmds) * (size_t)(argc + 1));
	for (i = (unsigned int)optind; i < (unsigned int)argc; i++) {
		if (is_command(argv[i])) {
			cmds[ncmds++].name = argv[i];
		} else if (!ncmds) {
			fprintf(stderr, "replctl: '%s' is not a command\n",
				argv[i]);
			return 2;
		} else if (strchr(argv[i], '=') || !strcmp(argv[i], "fua") ||
			   !strcmp(argv[i], "json") ||
			   !strcmp(argv[i], "create") ||
			   !strcmp(argv[i], "sync-failed") ||
			   !strcmp(argv[i], "eof")) {
			struct cmd *c = &cmds[ncmds - 1];

			if (c->nkv < MAX_ARGS)
				c->kv[c->nkv++] = argv[i];
		} else {
			struct cmd *c = &cmds[ncmds - 1];

			if (c->npos < MAX_ARGS)
				c->pos[c->npos++] = argv[i];
		}
	}
	cl.fd = dial(cl.addr);
	if (cl.fd < 0) {
		fprintf(stderr, "replctl: connect %s: %s\n", cl.addr,
			strerror(-cl.fd));
		return 1;
	}
	if (hello) {
		struct cmd h = { .name = "hello" };

		cl.quiet = true;
		ok = cmd_hello(&cl, &h);
		cl.quiet = false;
	}
	for (i = 0; i < ncmds && ok; i++)
		ok = run(&cl, &cmds[i]);
	close(cl.fd);
	free(cmds);
	return ok ? 0 : 1;
}
