/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replica_rules: the decisions a replica server makes about a request,
 * kept free of I/O so they can be unit-tested and fuzzed:
 *   - which HELLOs and data requests are acceptable (and with what status);
 *   - the order in which overlapping requests may run;
 *   - which blocks of a resync copy are newer than what the replica holds;
 *   - the on-disk metadata record of a volume replica.
 * The server (replica.c) does the I/O these decisions call for.
 *
 * Statuses are positive errno values, as they go on the wire.
 */
#ifndef TAPESTRY_REPLICA_RULES_H
#define TAPESTRY_REPLICA_RULES_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "abi/repl.h"

/* Block sizes a volume may have: powers of two in this range. */
#define REPLICA_MIN_BLOCK	512U
#define REPLICA_MAX_BLOCK	65536U

/* ---- HELLO ---- */

struct replica_hello {
	char volume[REPL_NAME_MAX];	/* NUL-terminated, validated */
	char zone[REPL_ZONE_MAX];	/* NUL-terminated; may be empty */
	uint64_t size;
	uint32_t block_size;
	bool create;
	uint64_t epoch;
};

/* Check a HELLO request (header h, payload of h->len bytes) and copy it
 * out.  Refuses with EINVAL: a name that is empty, too long, not
 * NUL-terminated or not [A-Za-z0-9._-] (or starting with '.'), an
 * unterminated zone, a block size that is not a power of two in
 * [REPLICA_MIN_BLOCK, REPLICA_MAX_BLOCK], a size that is zero or not a
 * multiple of it, or more than 2^32 blocks.  EXDEV: a zone that is set and
 * differs from server_zone.  Returns 0 or a status; *out is always
 * written (zeroed on refusal). */
int replica_hello_check(const struct repl_hdr *h, const void *payload,
			const char *server_zone, struct replica_hello *out);

/* What the server knows of an open volume replica. */
struct replica_volinfo {
	uint64_t size;
	uint32_t block_size;
	uint64_t generation;
};

/* A HELLO against an existing replica: EINVAL if size or block size
 * differ, ESTALE if its epoch is older than the generation, else 0. */
int replica_hello_match(const struct replica_hello *hl,
			const struct replica_volinfo *v);

/* ---- data requests ---- */

enum replica_span_kind {
	REPLICA_SPAN_NONE,	/* takes no part in ordering (STATUS) */
	REPLICA_SPAN_READ,	/* READ, RESYNC_READ */
	REPLICA_SPAN_WRITE,	/* WRITE (plain or resync), TRIM, ZERO */
	REPLICA_SPAN_BARRIER,	/* FLUSH: after every earlier write */
};

/* The byte range a checked request touches. */
struct replica_span {
	uint64_t off;		/* bytes */
	uint64_t len;		/* bytes of the volume (not of the payload) */
	uint32_t nblocks;	/* len / block size (0 for FLUSH) */
	enum replica_span_kind kind;
};

/* Check a request on an open volume (any op but HELLO).  handle_epoch is
 * the epoch of the HELLO that opened h->volume_id on this connection.
 * Refuses with:
 *   ESTALE  h->epoch older than the volume's generation (a newer engine
 *           has taken over); STATUS is exempt, so a stale engine can learn
 *           the generation;
 *   EINVAL  h->epoch differs from handle_epoch; offset or length not a
 *           multiple of the block size; zero length; a range past the end
 *           of the volume; a resync write whose length is not
 *           n * (8 + block size).
 * Returns 0 (and *out describes the range) or a status. */
int replica_check_io(const struct repl_hdr *h, const struct replica_volinfo *v,
		     uint64_t handle_epoch, struct replica_span *out);

/* Payload bytes of a READ or RESYNC_READ reply for a checked request. */
uint32_t replica_reply_len(const struct repl_hdr *h,
			   const struct replica_span *s);

/* The state a volume replica is in after a FLUSH with REPL_F_FULL_COPY
 * (the engine copied every block to it since its HELLO said sync failed)
 * that ended with status flush_res.  sync_failed: a sync of the volume
 * has failed while the server runs (rvol.sync_failed), so its seqs may
 * still claim writes the kernel dropped and copies may not have landed.
 * Only a SYNC_FAILED volume whose flush succeeded, with no failed sync
 * in this run, becomes REPL_STATE_DIRTY: every block it holds was copied
 * after its seqs were reset and is now durable.  Anything else keeps its
 * state. */
uint32_t replica_state_copied(uint32_t state, int flush_res, bool sync_failed);

/* ---- ordering ----
 * Requests on one volume are queued in arrival order.  A request may start
 * once no earlier request in the queue conflicts with it:
 *   - two requests conflict when their ranges overlap and one writes;
 *   - a FLUSH waits for every earlier write, whatever its range;
 *   - nothing waits for a FLUSH, and reads never wait for reads.
 * So overlapping writes land in arrival order, a read sees every write
 * that arrived before it, and a resync copy is judged against the seqs of
 * every earlier write (they have completed by the time it starts). */
struct replica_oq_item {
	struct replica_oq_item *prev, *next;
	struct replica_span span;
	bool started;		/* the owner's: set once it has started */
};

struct replica_oq {
	struct replica_oq_item *head, *tail;
	unsigned int nr;
};

void replica_oq_add(struct replica_oq *q, struct replica_oq_item *it);
void replica_oq_del(struct replica_oq *q, struct replica_oq_item *it);
/* it is queued: true if no earlier item conflicts with it. */
bool replica_oq_may_start(const struct replica_oq *q,
			  const struct replica_oq_item *it);

/* ---- resync copies ----
 * A resync WRITE's payload is n little-endian u64 seqs, then n blocks.
 * Block i is applied only if seqs[i] > the block's current seq.  The
 * iterator yields runs of blocks to apply, and zeroes in the payload the
 * seqs of the blocks it skips, so that afterwards every non-zero seq
 * names a block that was written.  (A seq of 0 is never newer than any
 * block, so zero is free to mean "skipped".) */
struct replica_resync {
	uint8_t *seqs;		/* the payload: n LE u64, modified */
	uint32_t n;
	uint64_t first_block;
	uint64_t (*cur)(const void *ctx, uint64_t block);
	const void *ctx;
	uint32_t pos;		/* iterator state; start at 0 */
};

/* Next run [*start, *start + *count) of blocks (indexes into the frame)
 * to apply.  Returns false when there are no more. */
bool replica_resync_next(struct replica_resync *rs, uint32_t *start,
			 uint32_t *count);

/* Seq i of a resync payload (as left by the iterator). */
uint64_t replica_resync_seq(const uint8_t *seqs, uint32_t i);

/* ---- metadata record ----
 * DIR/<volume>.meta holds two slots of REPLICA_META_SLOT bytes.  Each
 * update writes the slot the previous one did not use, then fdatasyncs;
 * a reader takes the valid slot with the higher counter.  A torn write
 * therefore loses at most the update in progress, never the last good
 * record. */
#define REPLICA_META_SLOT	512U
#define REPLICA_META_MAGIC	0x4d525054U	/* "TPRM" */
#define REPLICA_META_VERSION	1U
#define REPLICA_BOOT_ID_LEN	16U	/* /proc/sys/kernel/random/boot_id */

struct replica_meta {
	uint64_t counter;	/* updates so far; slot = counter & 1 */
	uint64_t size;
	uint64_t generation;
	uint64_t applied_seq;
	uint64_t bytes_written;
	uint32_t block_size;
	uint32_t state;		/* REPL_STATE_CLEAN, REPL_STATE_DIRTY or
				 * REPL_STATE_SYNC_FAILED: the wire's values
				 * (abi/repl.h).  SYNC_FAILED: a sync of the
				 * volume's files failed, so Linux may have
				 * dropped writes whose seqs the seqmap
				 * records; the next open resets every
				 * block's seq to 0 before it trusts any. */
	uint64_t synced_seq;	/* every block whose seq is at most this
				 * had its data and seq synced together (a
				 * FLUSH's fdatasyncs, or the sync before a
				 * clean close), or has an older seq on newer
				 * data: an open that finds the volume not
				 * closed cleanly zeroes every seq above it
				 * (replica_vol.c) before trusting any.
				 * 0 in records of older servers. */
	/* Who wrote the record: the node's boot id and the unique id of the
	 * mount the image was opened through (STATX_MNT_ID_UNIQUE; 0 when
	 * the kernel has none).  An unclean open that finds both unchanged
	 * knows the page cache the last server wrote through is still there
	 * (a process kill), and keeps the seqs above synced_seq
	 * (replica_meta_same_cache).  Zero in records of older servers:
	 * never the same. */
	uint64_t mnt_id;
	uint8_t boot_id[REPLICA_BOOT_ID_LEN];
};

/* Encode m into one slot (REPLICA_META_SLOT bytes, zero padded). */
void replica_meta_encode(const struct replica_meta *m, void *slot);
/* Decode one slot: 0, or -EBADMSG (bad magic/CRC) or -EPROTO (version,
 * impossible state or geometry). */
int replica_meta_decode(const void *slot, struct replica_meta *out);
/* The newest valid record of a file's len bytes (two slots; a file cut
 * short counts its missing slot as invalid).  0 or -EBADMSG if neither is
 * valid. */
int replica_meta_pick(const void *file, uint64_t len, struct replica_meta *out);

/* Whether record m was written on this boot (boot_id) through this very
 * mount (mnt_id) of the data file system: then a server killed since
 * left its writes in a page cache that is still there.  False when
 * either is unknown (all zero: an older record, no boot id, a kernel
 * without unique mount ids). */
bool replica_meta_same_cache(const struct replica_meta *m,
			     const uint8_t boot_id[REPLICA_BOOT_ID_LEN],
			     uint64_t mnt_id);

/* Parse a boot id as the kernel prints it (36 characters, 8-4-4-4-12 hex
 * digits, then an optional newline) into 16 bytes.  0, or -EINVAL and out
 * unchanged. */
int replica_boot_id_parse(const char *s, size_t len,
			  uint8_t out[REPLICA_BOOT_ID_LEN]);

#endif /* TAPESTRY_REPLICA_RULES_H */
