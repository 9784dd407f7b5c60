/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_unsync: what a remote replica may hold only in its page cache.
 *
 * A replica server acks a write once it is in its page cache; it is
 * durable there only at the server's next good FLUSH.  Should its node
 * lose the page cache first (a power loss), the server zeroes, when it
 * reopens the volume, every block seq it cannot vouch for and reports the
 * seq it last recorded synced as applied_seq (docs/replication-protocol.md,
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

static int bits_init(struct eubits *b, uint64_t words, uint64_t sumwords)
{
	memset(b, 0, sizeof(*b));
	b->w = calloc(words ? words : 1, sizeof(uint64_t));
	b->sum = calloc(sumwords ? sumwords : 1, sizeof(uint64_t));
	return b->w && b->sum ? 0 : -ENOMEM;
}

static void bits_free(struct eubits *b)
{
	free(b->w);
	free(b->sum);
	memset(b, 0, sizeof(*b));
}

static bool bits_empty(const struct eubits *b)
{
	return b->lo >= b->hi;
}

/* ORs v into word i of b, and notes where it is. */
static void bits_or(struct eubits *b, uint64_t i, uint64_t v)
{
	uint64_t s = i / 64;

	b->w[i] |= v;
	b->sum[s] |= 1ULL << (i % 64);
	if (bits_empty(b)) {
		b->lo = s;
		b->hi = s + 1;
	} else if (s < b->lo) {
		b->lo = s;
	} else if (s >= b->hi) {
		b->hi = s + 1;
	}
}

/* Empties b, handing each word that may be non-zero to fn (if any)
 * before it is zeroed.  Visits the words of sum in [lo, hi) and the
 * words of w whose sum bit is set, nothing else. */
static void bits_drain(struct eunsync *u, struct eubits *b,
		       void (*fn)(struct eunsync *u, uint64_t i, uint64_t v,
				  void *arg), void *arg)
{
	uint64_t s, m, i;

	for (s = b->lo; s < b->hi; s++) {
		u->visited++;
		for (m = b->sum[s]; m; m &= m - 1) {
			i = s * 64 + (uint64_t)__builtin_ctzll(m);
			u->visited++;
			if (fn && b->w[i])
				fn(u, i, b->w[i], arg);
			b->w[i] = 0;
		}
		b->sum[s] = 0;
	}
	b->lo = b->hi = 0;
}

int engine_unsync_init(struct eunsync *u, uint64_t size)
{
	uint64_t regions = (size + EREGION - 1) >> EREGION_SHIFT;

	memset(u, 0, sizeof(*u));
	u->words = (regions + 63) / 64;
	u->sumwords = (u->words + 63) / 64;
	if (bits_init(&u->old, u->words, u->sumwords) ||
	    bits_init(&u->cur, u->words, u->sumwords)) {
		engine_unsync_free(u);
		return -ENOMEM;
	}
	return 0;
}

void engine_unsync_free(struct eunsync *u)
{
	if (!u)
		return;
	bits_free(&u->old);
	bits_free(&u->cur);
	u->words = u->sumwords = 0;
}

void engine_unsync_write(struct eunsync *u, uint64_t off, uint64_t len)
{
	uint64_t r, last, i, v;

	if (!len || !u->cur.w)
		return;
	last = (off + len - 1) >> EREGION_SHIFT;
	r = off >> EREGION_SHIFT;
	/* A word at a time: a long zero or trim sets many bits. */
	while (r <= last && r / 64 < u->words) {
		i = r / 64;
		v = ~0ULL << (r % 64);
		if (last / 64 == i && last % 64 != 63)
			v &= (2ULL << (last % 64)) - 1;
		bits_or(&u->cur, i, v);
		r = (i + 1) * 64;
	}
}

static void or_into(struct eunsync *u, uint64_t i, uint64_t v, void *arg)
{
	(void)u;
	bits_or(arg, i, v);
}

void engine_unsync_flush_sent(struct eunsync *u, uint64_t tag)
{
	struct eubits t;

	if (u->tracking || !u->cur.w)
		return;
	/* What it covers joins whatever an earlier failed or lost flush
	 * left uncovered: all of it waits for this one.  Nothing left: the
	 * two swap, and cur starts empty. */
	if (bits_empty(&u->old)) {
		t = u->old;
		u->old = u->cur;
		u->cur = t;
	} else {
		bits_drain(u, &u->cur, or_into, &u->old);
	}
	u->flush_tag = tag;
	u->tracking = true;
}

void engine_unsync_flush_done(struct eunsync *u, uint64_t tag, int err,
			      uint64_t recorded)
{
	/* Any good FLUSH's, tracked or not: what its server's record held
	 * (engine_unsync_rollback) */
	if (!err && recorded > u->durable)
		u->durable = recorded;
	if (!u->tracking || tag != u->flush_tag)
		return;
	u->tracking = false;
	if (err)
		return;
	bits_drain(u, &u->old, NULL, NULL);
	u->flushed = true;
}

void engine_unsync_acked(struct eunsync *u, uint64_t seq)
{
	if (seq > u->acked)
		u->acked = seq;
}

struct mark_arg {
	struct erepl *r;
	uint64_t n;
};

static void mark_word(struct eunsync *u, uint64_t i, uint64_t v, void *arg)
{
	struct mark_arg *a = arg;
	struct engine *e = a->r->e;
	uint64_t region;

	(void)u;
	for (; v; v &= v - 1) {
		region = i * 64 + (uint64_t)__builtin_ctzll(v);
		engine_mark_missed(a->r, region << EREGION_SHIFT,
				   engine_region_len(e, region));
		a->n++;
	}
}

uint64_t engine_unsync_hello(struct erepl *r, uint64_t applied_seq)
{
	struct eunsync *u = &r->unsync;
	struct engine *e = r->e;
	struct mark_arg a = { .r = r };

	u->tracking = false;	/* a new connection: no reply will come */
	if (applied_seq >= u->acked || !u->old.w)
		return 0;
	bits_drain(u, &u->old, or_into, &u->cur);
	bits_drain(u, &u->cur, mark_word, &a);
	log_warn("%s: replica %s says applied seq %llu, but acked %llu: its "
		 "server lost writes it acked (its page cache?); %llu regions "
		 "written there since its last good flush began are to be "
		 "copied again", e->name, r->zone,
		 (unsigned long long)applied_seq,
		 (unsigned long long)u->acked, (unsigned long long)a.n);
	/* What it holds now is the baseline: the rest is marked. */
	u->acked = applied_seq;
	return a.n;
}

/* A server that lost its page cache (or was killed in another mount
 * namespace) zeroes only the seqs above the synced seq S its record
 * holds, and reports S (or more); its good FLUSHes' replies said what S
 * the record held then (docs/replication-protocol.md, Durability: power
 * loss).  So an applied_seq below one of those is no restart: its disk
 * went back in time.  Not the seq acked when a good FLUSH was sent,
 * though that is durable there too: its record may land a tick later,
 * and every unclean restart before it (a containerised server killed)
 * would read as a rollback, the whole volume copied.  Below a value its
 * server recorded, then lowered (a resync copy's old seq), a restart
 * reads as one too; but S was lowered to 0, every seq is zeroed, and
 * the replica, saying 0, is as a rule copied in full anyway ("holds no
 * write"). */
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
