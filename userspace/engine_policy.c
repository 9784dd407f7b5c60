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
