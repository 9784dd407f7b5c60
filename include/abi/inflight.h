/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the tracers' in-flight tables have in common (blk_start in
 * include/abi/blktrace.h, zone_inflight in include/abi/zonetrace.h).
 *
 * Each is a BPF array used as an open-addressed table: an entry lives in
 * one of a few slots probed from a home slot, key 0 marks a free slot,
 * and the end of the request frees its slot.  An array rather than a hash
 * map because a hash-map update and delete per request take a bucket lock
 * and a free-list element (measured: some hundreds of ns per request),
 * where an array slot costs a load and a few stores.
 *
 * Slots are claimed with plain stores, not a compare-and-swap: two CPUs
 * that find the same slot free at the same instant both write it, and the
 * slot can end up a mix of the two.  Each slot therefore carries a check
 * word, inflight_check() of its other fields, which the end of the request
 * verifies: a torn slot costs the requests involved their timing (each
 * tracer counts it) and never yields a wrong sample.
 *
 * Here, in the ABI, so that unit tests (tests/unit/test_inflight.c) hold
 * these to what the BPF programs rely on.
 */
#ifndef TAPESTRY_ABI_INFLIGHT_H
#define TAPESTRY_ABI_INFLIGHT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* The check word for a slot's four fields.  Multiplied, not only XORed:
 * two entries torn together differ by small numbers (times nanoseconds
 * apart, small tgids, keys a few slots apart) that could cancel under
 * XOR, but not once each is spread over the whole word by its own odd
 * constant. */
static __always_inline __u32 inflight_check(__u64 a, __u64 b, __u64 c,
					    __u32 d)
{
	__u64 x = a * 0x9e3779b97f4a7c15ULL + b * 0xc2b2ae3d27d4eb4fULL +
		  c * 0x165667b19e3779f9ULL + (__u64)d * 0x27d4eb2f165667c5ULL;

	return (__u32)(x >> 32);
}

#endif /* TAPESTRY_ABI_INFLIGHT_H */
