/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_unsync: what a remote replica may hold only in its page cache.
 *
 * A replica server acks a write once it is in its page cache; it is
 * durable there only at the server's next good FLUSH.  Should its node
 * lose the page cache first (a power loss), the server zeroes, when it
 * reopens the volume, every block seq it cannot vouch for and reports the
 * highest seq left as applied_seq (docs/replication-protocol.md,
 * Durability).  Nothing else tells the engine which acked writes are
 * gone, so per remote replica it keeps the regions written there since
 * the start of its last good FLUSH, and when a HELLO reports less than
 * the replica acked, copies them all again.
 *
 * Two bitmaps, not one: writes sent while a FLUSH is out are not covered
 * by it, and must not be cleared by its reply.  Frames go out on one
 * stream in the order they were queued, and the server's FLUSH covers
 * every write that arrived before it, so "sent before" is "queued
 * before" (engine_remote_submit).
 */
#include "engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirtymap.h"
#include "log.h"

int engine_unsync_init(struct eunsync *u, uint64_t size)
{
	uint64_t regions = (size + EREGION - 1) >> EREGION_SHIFT;

	memset(u, 0, sizeof(*u));
	u->words = (regions + 63) / 64;
	u->old = calloc(u->words ? u->words : 1, sizeof(uint64_t));
	u->cur = calloc(u->words ? u->words : 1, sizeof(uint64_t));
	if (!u->old || !u->cur) {
		engine_unsync_free(u);
		return -ENOMEM;
	}
	return 0;
}

void engine_unsync_free(struct eunsync *u)
{
	if (!u)
		return;
	free(u->old);
	free(u->cur);
	u->old = u->cur = NULL;
	u->words = 0;
}

void engine_unsync_write(struct eunsync *u, uint64_t off, uint64_t len)
{
	uint64_t r, last;

	if (!len || !u->cur)
		return;
	last = (off + len - 1) >> EREGION_SHIFT;
	for (r = off >> EREGION_SHIFT; r <= last && r / 64 < u->words; r++)
		u->cur[r / 64] |= 1ULL << (r % 64);
}

void engine_unsync_flush_sent(struct eunsync *u, uint64_t tag)
{
	uint64_t i;

	if (u->tracking || !u->cur)
		return;
	/* What it covers joins whatever an earlier failed or lost flush
	 * left uncovered: all of it waits for this one. */
	for (i = 0; i < u->words; i++) {
		u->old[i] |= u->cur[i];
		u->cur[i] = 0;
	}
	u->flush_tag = tag;
	u->flush_acked = u->acked;
	u->tracking = true;
}

void engine_unsync_flush_done(struct eunsync *u, uint64_t tag, int err)
{
	if (!u->tracking || tag != u->flush_tag)
		return;
	u->tracking = false;
	if (err)
		return;
	memset(u->old, 0, u->words * sizeof(uint64_t));
	u->flushed = true;
	if (u->flush_acked > u->durable)
		u->durable = u->flush_acked;
}

void engine_unsync_acked(struct eunsync *u, uint64_t seq)
{
	if (seq > u->acked)
		u->acked = seq;
}

uint64_t engine_unsync_hello(struct erepl *r, uint64_t applied_seq)
{
	struct eunsync *u = &r->unsync;
	struct engine *e = r->e;
	uint64_t i, w, n = 0, region;
	unsigned int b;

	u->tracking = false;	/* a new connection: no reply will come */
	if (applied_seq >= u->acked || !u->old)
		return 0;
	for (i = 0; i < u->words; i++) {
		w = u->old[i] | u->cur[i];
		u->old[i] = u->cur[i] = 0;
		for (; w; w &= w - 1) {
			b = (unsigned int)__builtin_ctzll(w);
			region = i * 64 + b;
			engine_mark_missed(r, region << EREGION_SHIFT,
					   engine_region_len(e, region));
			n++;
		}
	}
	log_warn("%s: replica %s says applied seq %llu, but acked %llu: its "
		 "server lost writes it acked (its page cache?); %llu regions "
		 "written there since its last good flush began are to be "
		 "copied again", e->name, r->zone,
		 (unsigned long long)applied_seq,
		 (unsigned long long)u->acked, (unsigned long long)n);
	/* What it holds now is the baseline: the rest is marked. */
	u->acked = applied_seq;
	return n;
}

/* Every seq it acked before the FLUSH was sent was applied there before
 * the FLUSH arrived, so a good FLUSH made it durable.  A server that lost
 * its page cache zeroes only seqs above its own synced seq, whose record
 * may lag the FLUSH (it is written after the reply), so it can report
 * less than this after a power loss too: then the whole volume is copied
 * where the regions since the last good flush would have done.  That is
 * the cautious side; taking a rollback for a power loss loses writes. */
uint64_t engine_unsync_rollback(struct eunsync *u, uint64_t applied_seq)
{
	uint64_t durable = u->durable;

	if (applied_seq >= durable)
		return 0;
	u->durable = applied_seq;
	return durable;
}

bool engine_unsync_all(const struct erepl *r, uint64_t lost)
{
	return lost && !r->unsync.flushed && !r->e->had_data;
}
