/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replica: the replica server behind `tapestryd replica`.  It keeps
 * volume replicas in a data directory and serves them to engines over TCP
 * with the replication protocol (docs/replication-protocol.md).
 *
 * For each volume NAME in the data directory:
 *   NAME.img   sparse raw image: byte k of the volume is byte k of the file
 *   NAME.seq   per-block seq of the last write applied (userspace/seqmap.h)
 *   NAME.meta  two checksummed slots: size, block size, generation (the
 *              highest epoch accepted), last applied seq, bytes written,
 *              clean/dirty (replica_rules.h)
 *
 * The server runs on a caller's uloop (one thread) and does every network
 * and image operation through io_uring: accept, recv, send, image reads
 * and writes from registered buffers, fallocate for TRIM/ZERO, fdatasync
 * for FLUSH and FUA.  Images are opened O_DIRECT where the filesystem
 * allows the volume's block size (io mode auto): buffered writes to some
 * filesystems (tmpfs among them) cannot be issued without blocking, so
 * io_uring hands each one to a worker thread, which costs a context
 * switch per write.  Opening or creating a volume's files (at HELLO) uses
 * plain syscalls: it is rare and off the data path.
 */
#ifndef TAPESTRY_REPLICA_H
#define TAPESTRY_REPLICA_H

#include <stdbool.h>
#include <stdint.h>

#include "abi/repl.h"
#include "uloop.h"

struct replica;

enum replica_io_mode {
	REPLICA_IO_AUTO,	/* O_DIRECT where the filesystem allows it */
	REPLICA_IO_DIRECT,	/* O_DIRECT or refuse the volume (EIO) */
	REPLICA_IO_BUFFERED,	/* through the page cache */
};

struct replica_opts {
	const char *zone;	/* this server's zone label, < 32 bytes */
	const char *listen;	/* "IP:PORT" or "[IPv6]:PORT"; port 0 = any */
	const char *data_dir;	/* must exist */
	unsigned int max_conns;	/* 0 = 256 */
	unsigned int slots;	/* request slots per connection; 0 = 64 */
	/* A client that leaves its replies untaken, or stops in the middle
	 * of a frame, this long is cut off: it holds registered buffers
	 * every other client needs.  0 = 30000. */
	unsigned int client_timeout_ms;
	enum replica_io_mode io;
};

/* The loop's registered buffers must hold a whole resync frame, with room
 * to align its data for O_DIRECT: uloop_buf_max(loop) >= REPLICA_BUF_MIN,
 * else -EINVAL. */
#define REPLICA_ALIGN	4096U
#define REPLICA_BUF_MIN	(REPL_MAX_PAYLOAD + REPL_MAX_RESYNC_EXTRA + REPLICA_ALIGN)

/* Whether spec is a --listen address: a numeric IPv4 "IP:PORT" or
 * "[IPv6]:PORT" with a decimal port 0..65535.  Says nothing of whether
 * it can be bound (replica_create() tells). */
bool replica_listen_ok(const char *spec);

/* Lock the data directory (-EBUSY if another server has it), bind and
 * listen, and start accepting on loop.  Returns 0 or -errno, logging the
 * reason; *out is set only on success. */
int replica_create(struct uloop *loop, const struct replica_opts *o,
		   struct replica **out);

/* The bound address as "IP:PORT" (the real port when 0 was asked). */
const char *replica_addr(const struct replica *r);
uint16_t replica_port(const struct replica *r);

/* Graceful stop: stop accepting and reading, finish the requests already
 * received and send their replies, fdatasync every image and mark it
 * clean.  Connections that will not take their replies are cut after
 * drain_ms.  replica_done() turns true when all of that is over. */
void replica_drain(struct replica *r, unsigned int drain_ms);
bool replica_done(const struct replica *r);
/* Whether every volume was closed clean (meaningful once done). */
bool replica_clean(const struct replica *r);

/* Frees everything; files of volumes still open are closed as they are
 * (dirty).  Call after the loop stopped.  Accepts NULL. */
void replica_destroy(struct replica *r);

/* `tapestryd replica ...`: argv[0] is "replica".  Returns the exit
 * status. */
int replica_main(int argc, char **argv);

#endif /* TAPESTRY_REPLICA_H */
