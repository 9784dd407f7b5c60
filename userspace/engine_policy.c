/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_policy: the ack and deadline decisions, as pure functions of a
 * few counts, so that every case can be tested without I/O.
 */
#include "engine_int.h"

unsigned int engine_majority(unsigned int nr)
{
	return nr / 2 + 1;
}

unsigned int engine_floor(enum engine_ack ack, unsigned int nr,
			  unsigned int min_in_sync)
{
	if (min_in_sync)
		return min_in_sync;
	return ack == ENGINE_ACK_ALL ? 1 : engine_majority(nr);
}

/* Acks a write needs: under quorum a majority of the replica count, never
 * fewer than the floor. */
static unsigned int need(enum engine_ack ack, unsigned int nr,
			 unsigned int floor)
{
	unsigned int n = ack == ENGINE_ACK_ALL ? 1 : engine_majority(nr);

	return floor > n ? floor : n;
}

bool engine_can_write(enum engine_ack ack, unsigned int nr,
		      unsigned int floor, unsigned int in_sync)
{
	return in_sync >= need(ack, nr, floor);
}

bool engine_may_cut(enum engine_ack ack, unsigned int nr, unsigned int floor,
		    unsigned int in_sync, enum engine_lag_cut mode)
{
	unsigned int left = in_sync ? in_sync - 1 : 0;

	if (mode == ENGINE_LAG_CUT_FLOOR)
		return left >= need(ack, nr, floor);
	return left > need(ack, nr, floor);
}

/* Under `all` the ack waits for every replica that is still in sync (one
 * that fails or times out stops being in sync, and stops being waited
 * for); under `quorum` it goes as soon as a majority has the write, so it
 * never waits for the slowest replicas.  Either way it fails as soon as
 * the floor can no longer be met: never a faked success. */
int engine_verdict(enum engine_ack ack, unsigned int nr, unsigned int floor,
		   unsigned int ok, unsigned int pending)
{
	unsigned int n = need(ack, nr, floor);

	if (ok + pending < n)
		return -1;
	if (ack == ENGINE_ACK_ALL)
		return pending ? 0 : 1;
	return ok >= n ? 1 : 0;
}

/* Exponentially weighted, alpha = 1/8: a few slow samples move it, one
 * outlier does not. */
uint64_t engine_ewma(uint64_t ewma, uint64_t sample)
{
	if (!ewma)
		return sample;
	if (sample > ewma)
		return ewma + (sample - ewma) / 8;
	return ewma - (ewma - sample) / 8;
}

uint64_t engine_soft_deadline(uint64_t ewma, uint64_t floor_ns,
			      unsigned int mult)
{
	uint64_t d = ewma * mult;

	return d > floor_ns ? d : floor_ns;
}

uint64_t engine_hard_deadline(bool flushing, uint64_t t_issue,
			      unsigned int nflush, uint64_t t_flush_clear,
			      uint64_t hard_ns, uint64_t flush_ns)
{
	if (flushing)
		return t_issue + flush_ns;
	if (nflush)
		return 0;	/* maybe queued behind the flush */
	return (t_issue > t_flush_clear ? t_issue : t_flush_clear) + hard_ns;
}

/* Regions of word w that too few members lack in their missed maps to
 * meet every majority of the nr replicas: nr - majority or fewer. */
static uint64_t short_of_majority(unsigned int nr, unsigned int members,
				  const uint64_t *const *missed, uint64_t w,
				  uint64_t bits)
{
	uint64_t out = 0, b;
	unsigned int i, n;

	for (; bits; bits &= bits - 1) {
		b = bits & -bits;
		n = 0;
		for (i = 0; i < nr; i++)
			n += (members & (1U << i)) && !(missed[i][w] & b);
		if (n <= nr - engine_majority(nr))
			out |= b;
	}
	return out;
}

/*
 * Reconciling replicas takes, block by block, the newest copy among the
 * members.  That keeps every acked write if, for every region, some member
 * holds every acked write to it.  A member vouches for a region its missed
 * map does not have (a write acked without it, or that it lost after the
 * ack -- a failed sync, a wiped server -- is always recorded there before
 * the ack or the loss is known) --
 *   - except, after a crash of the engine, for regions of the activity
 *     log: a write acked while this replica's copy was still on its way is
 *     recorded nowhere, so only a replica that was in sync and had every
 *     earlier write done (EMISSED_IN_SYNC: under `all` each ack waited for
 *     it) vouches there;
 *   - and under quorum, where no ack waits for a given replica, the flag
 *     proves nothing there; but members that lack the region in their
 *     missed maps vouch for it together if they are more than nr minus a
 *     majority: each acked write was done on a majority, which must then
 *     include one of them, and one that lost the write since has the
 *     region in its missed map.
 */
uint64_t engine_recon_unsafe(enum engine_ack ack, unsigned int nr,
			     unsigned int members,
			     const uint64_t *const *missed,
			     const bool *in_sync, const uint64_t *crash,
			     uint64_t nr_words)
{
	bool quorum = ack == ENGINE_ACK_QUORUM;
	uint64_t w, acc;
	unsigned int i;

	if (!members)
		return 0;
	for (w = 0; w < nr_words; w++) {
		acc = ~0ULL;
		for (i = 0; i < nr && acc; i++) {
			if (!(members & (1U << i)))
				continue;
			acc &= missed[i][w] |
			       (crash && (quorum || !in_sync[i]) ? crash[w] : 0);
		}
		if (acc && quorum)
			acc = short_of_majority(nr, members, missed, w, acc);
		if (acc)
			return w * 64 + (uint64_t)__builtin_ctzll(acc);
	}
	return UINT64_MAX;
}
