/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replication protocol: the frames an engine and a replica server
 * exchange over TCP.  docs/replication-protocol.md is the prose version.
 *
 * Every frame is a 64-byte header, then `len` bytes of payload when the op
 * carries data.  All integers are little-endian.  Both checksums are
 * CRC-32C: hdr_crc over the 64 header bytes with hdr_crc itself zero,
 * payload_crc over the payload (0 when there is none).
 *
 * A request's `tag` is echoed in its reply, so replies may come back in
 * any order.  A reply has REPL_F_REPLY set and its `status` is 0 or a
 * positive errno.
 */
#ifndef TAPESTRY_ABI_REPL_H
#define TAPESTRY_ABI_REPL_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define REPL_MAGIC		0x59525054U	/* "TPRY" as bytes on the wire */
#define REPL_VERSION		1
#define REPL_HDR_SIZE		64
/* The largest data payload either side accepts; bigger writes are split.
 * Resync frames carry 8 bytes of seq per block on top of their data; with
 * blocks of at least 512 bytes that is at most REPL_MAX_PAYLOAD / 64. */
#define REPL_MAX_PAYLOAD	(1U << 20)
#define REPL_MAX_RESYNC_EXTRA	(REPL_MAX_PAYLOAD / 64)

enum {
	REPL_OP_HELLO		= 1,	/* open (or create) a volume replica */
	REPL_OP_WRITE		= 2,	/* payload: data at offset */
	REPL_OP_READ		= 3,	/* reply payload: len bytes at offset */
	REPL_OP_FLUSH		= 4,	/* make every completed write durable */
	REPL_OP_TRIM		= 5,	/* discard [offset, offset + len) */
	REPL_OP_RESYNC_READ	= 6,	/* like READ, for resync; see docs */
	REPL_OP_STATUS		= 7,	/* reply payload: struct repl_status */
	REPL_OP_ZERO		= 8,	/* write zeroes over [offset, +len) */
	REPL_OP_MAX		= 8,
};

#define REPL_F_REPLY		0x01	/* this frame is a reply */
#define REPL_F_FUA		0x02	/* write/trim/zero: durable before reply */
#define REPL_F_CREATE		0x04	/* hello: create the image if missing */
#define REPL_F_RESYNC		0x08	/* write: a resync copy, see below */
/* flush: the engine has copied every block of the volume to this replica
 * on this connection since its HELLO said REPL_STATE_SYNC_FAILED; once the
 * flush succeeds the replica records itself out of that state (see
 * docs/replication-protocol.md, Durability). */
#define REPL_F_FULL_COPY	0x10
/* hello: a sync of this replica failed (the engine saw a FLUSH or FUA op
 * fail with EIO, ENOSPC or EDQUOT, or a write with EIO), which its server
 * may have been unable to record (the failing disk holds the record too,
 * or it never synced since).  The server treats it as its own failed
 * sync: resets every block's seq and says REPL_STATE_SYNC_FAILED
 * (recorded before the reply).  The engine copies all of the volume to
 * it, as after any HELLO that says so. */
#define REPL_F_SYNC_FAILED	0x20
/* hello reply: a ZERO of this volume is faster than writing the zeroes
 * (its image's file system punches holes; where it cannot, ZERO falls back
 * to FALLOC_FL_ZERO_RANGE, which may write).  Replies only: it shares
 * REPL_F_CREATE's bit, which only requests carry, because an older
 * engine's decoder refuses a HELLO reply with any bit a HELLO request may
 * not carry (a new bit would cut every older engine off) and ignores the
 * flags of one it takes.  An older server never sets it: an engine takes
 * its zeroes for slow. */
#define REPL_F_ZERO_FAST	0x04

/*
 * Per-block sequence numbers.  A replica records, for every block, the seq
 * of the last write applied to it (userspace/seqmap.h).  Resync moves data
 * together with those seqs:
 *   - RESYNC_READ request: offset and len (block-aligned).  Its reply
 *     payload is n = len / block_size little-endian __u64 seqs, one per
 *     block, followed by the len bytes of data.
 *   - WRITE with REPL_F_RESYNC: the same layout (n seqs, then n blocks);
 *     the header's len is n * (8 + block_size).  The replica applies each
 *     block only if its seq is newer than the block's current seq
 *     (counting writes still in flight), so a copy never overwrites a
 *     newer write.
 */

/* Fields in wire order. */
struct repl_hdr {
	__u32 magic;
	__u16 version;
	__u8 op;
	__u8 flags;
	__u32 status;		/* replies: 0 or a positive errno */
	__u32 len;		/* payload bytes (READ request: bytes wanted) */
	__u64 volume_id;	/* from the hello reply; 0 in a hello */
	__u64 offset;		/* byte offset in the volume */
	__u64 seq;		/* per-volume sequence number of the write */
	__u64 epoch;		/* engine generation; stale ones are refused */
	__u64 tag;		/* request id, echoed in the reply */
	__u32 payload_crc;
	__u32 hdr_crc;
};

_Static_assert(sizeof(struct repl_hdr) == REPL_HDR_SIZE, "repl_hdr is 64 bytes");

#define REPL_NAME_MAX	64	/* volume name, NUL-padded */
#define REPL_ZONE_MAX	32	/* zone label, NUL-padded */

/* Payload of a HELLO request. */
struct repl_hello {
	__u64 size;		/* volume bytes; the replica must match */
	__u32 block_size;
	__u32 __pad;
	char volume[REPL_NAME_MAX];
	char zone[REPL_ZONE_MAX];	/* zone the engine believes it dials */
};

_Static_assert(sizeof(struct repl_hello) == 112, "repl_hello size");

#define REPL_STATE_CLEAN	0
#define REPL_STATE_DIRTY	1
/* Dirty, and a sync of the volume failed, while the server runs or
 * before a restart (which reset its seqs), and the volume has not been
 * recorded clean since, nor dirty by a FLUSH with REPL_F_FULL_COPY: what
 * it acked may be lost anywhere, and (before a restart) copies to it may
 * not land. */
#define REPL_STATE_SYNC_FAILED	2

/* Payload of a HELLO reply and of a STATUS reply. */
struct repl_status {
	__u64 size;
	__u64 generation;	/* highest epoch this replica has accepted */
	__u64 applied_seq;	/* highest write seq applied */
	__u64 bytes_written;
	__u32 block_size;
	__u32 state;		/* REPL_STATE_*: dirty between open and close;
				 * SYNC_FAILED after a failed sync */
	char zone[REPL_ZONE_MAX];	/* the server's own zone */
};

_Static_assert(sizeof(struct repl_status) == 72, "repl_status size");

#endif /* TAPESTRY_ABI_REPL_H */
