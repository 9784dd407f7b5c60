/* SPDX-License-Identifier: Apache-2.0 */
/*
 * repl_stuck: a replication client that gets stuck, for
 * t_replica_stuck_client.sh.  It opens (creating) VOLUME of 64 MiB, then
 *   reads N LEN    sends N READs of LEN bytes and never reads a reply;
 *   payload LEN    sends the header of a LEN-byte WRITE and never its
 *                  payload;
 * prints "stuck" and sleeps until killed; or
 *   slow FILE CHUNK MS [STOP]
 *                  writes FILE (at most 1 MiB, whole blocks) at offset 0
 *                  as one WRITE whose payload goes out CHUNK bytes every
 *                  MS milliseconds; prints "written" and exits 0 if the
 *                  reply says 0.  With STOP, sends only the first STOP
 *                  payload bytes, then prints "stuck" and sleeps.
 *
 *   repl_stuck IP PORT VOLUME reads N LEN | payload LEN |
 *              slow FILE CHUNK MS [STOP]
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "abi/repl.h"
#include "proto.h"

static int send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t k;

	while (n) {
		k = send(fd, c, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

static int frame(int fd, uint8_t op, uint8_t flags, uint32_t len,
		 uint64_t vid, uint64_t tag, const void *payload, uint32_t plen)
{
	struct repl_hdr h = { .op = op, .flags = flags, .len = len,
			      .volume_id = vid, .epoch = 1, .tag = tag };
	uint8_t wire[REPL_HDR_SIZE];

	h.payload_crc = proto_payload_crc(payload, plen);
	proto_encode(&h, wire);
	if (send_all(fd, wire, sizeof(wire)))
		return -1;
	return plen ? send_all(fd, payload, plen) : 0;
}

/* One WRITE of FILE at offset 0, its payload trickled out. */
static int slow_write(int fd, char **argv, int argc)
{
	static uint8_t data[REPL_MAX_PAYLOAD];
	unsigned long chunk = strtoul(argv[1], NULL, 0);
	unsigned long ms = strtoul(argv[2], NULL, 0);
	unsigned long stop, off, n;
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000L };
	struct repl_hdr h = { .op = REPL_OP_WRITE, .volume_id = 1,
			      .epoch = 1, .seq = 1, .tag = 100 };
	uint8_t wire[REPL_HDR_SIZE];
	size_t len, got = 0;
	FILE *f = fopen(argv[0], "rb");
	ssize_t k;

	if (!f || !chunk) {
		fprintf(stderr, "repl_stuck: slow: bad FILE or CHUNK\n");
		return 2;
	}
	len = fread(data, 1, sizeof(data), f);
	fclose(f);
	stop = argc > 3 ? strtoul(argv[3], NULL, 0) : len;
	h.len = (uint32_t)len;
	h.payload_crc = proto_payload_crc(data, (uint32_t)len);
	proto_encode(&h, wire);
	if (send_all(fd, wire, sizeof(wire)))
		return 1;
	for (off = 0; off < stop; off += n) {
		n = stop - off < chunk ? stop - off : chunk;
		if (send_all(fd, data + off, n)) {
			fprintf(stderr, "repl_stuck: send failed after %lu "
				"payload bytes (cut off?)\n", off);
			return 1;
		}
		if (off + n < len)
			nanosleep(&ts, NULL);
	}
	if (stop < len) {
		printf("stuck\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	while (got < REPL_HDR_SIZE) {
		k = recv(fd, wire + got, REPL_HDR_SIZE - got, 0);
		if (k <= 0) {
			fprintf(stderr, "repl_stuck: no WRITE reply (cut off?)\n");
			return 1;
		}
		got += (size_t)k;
	}
	if (proto_decode(wire, REPL_MAX_PAYLOAD, &h) || h.status) {
		fprintf(stderr, "repl_stuck: WRITE failed: status %u\n",
			h.status);
		return 1;
	}
	printf("written\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct repl_hello hl;
	uint8_t reply[REPL_HDR_SIZE + sizeof(struct repl_status)];
	unsigned long n, len, i;
	int fd, small = 4096;
	size_t got = 0;
	ssize_t k;

	if (argc < 6 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: repl_stuck IP PORT VOLUME reads N LEN | "
				"payload LEN |\n"
				"       slow FILE CHUNK MS [STOP]\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	/* a small receive buffer, so that the replies back up at once */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("repl_stuck: connect");
		return 1;
	}
	memset(&hl, 0, sizeof(hl));
	hl.size = htole64(64ULL << 20);
	hl.block_size = htole32(4096);
	snprintf(hl.volume, sizeof(hl.volume), "%s", argv[3]);
	if (frame(fd, REPL_OP_HELLO, REPL_F_CREATE, sizeof(hl), 0, 1, &hl,
		  sizeof(hl)))
		return 1;
	while (got < sizeof(reply)) {
		k = recv(fd, reply + got, sizeof(reply) - got, 0);
		if (k <= 0) {
			fprintf(stderr, "repl_stuck: no HELLO reply\n");
			return 1;
		}
		got += (size_t)k;
	}
	if (reply[8] | reply[9] | reply[10] | reply[11]) {
		fprintf(stderr, "repl_stuck: HELLO refused\n");
		return 1;
	}
	if (!strcmp(argv[4], "reads") && argc == 7) {
		n = strtoul(argv[5], NULL, 0);
		len = strtoul(argv[6], NULL, 0);
		for (i = 0; i < n; i++)
			if (frame(fd, REPL_OP_READ, 0, (uint32_t)len, 1, 100 + i,
				  NULL, 0))
				return 1;
	} else if (!strcmp(argv[4], "slow") && (argc == 8 || argc == 9)) {
		return slow_write(fd, argv + 5, argc - 5);
	} else if (!strcmp(argv[4], "payload")) {
		len = strtoul(argv[5], NULL, 0);
		/* the header alone: the payload never follows */
		if (frame(fd, REPL_OP_WRITE, 0, (uint32_t)len, 1, 100, NULL, 0))
			return 1;
	} else {
		fprintf(stderr, "repl_stuck: bad mode %s\n", argv[4]);
		return 2;
	}
	printf("stuck\n");
	fflush(stdout);
	for (;;)
		pause();
}
