/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Latency histogram shared by the BPF programs and user space.
 *
 * Buckets are log-linear over nanoseconds: each power of two is split into
 * HIST_SUB (8) equal sub-buckets, so a bucket is at most 1/8 as wide as its
 * lower bound and an interpolated percentile is good to a few percent.
 * Plain log2 buckets would be off by up to 2x, too coarse for a placer that
 * compares p99s across zones.
 *
 *   index 0..15        exact values 0..15 ns
 *   index i >= 16      [ (8 + i%8) << (i/8 - 1), (9 + i%8) << (i/8 - 1) )
 *   index 287          also takes every value above 2^HIST_MAX_LOG2 ns (~275 s)
 *
 * A histogram is cumulative for the life of the map.  Readers never reset
 * or delete it: they take two snapshots and subtract.
 */
#ifndef TAPESTRY_ABI_HIST_H
#define TAPESTRY_ABI_HIST_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define HIST_SUB_BITS	3
#define HIST_SUB	(1U << HIST_SUB_BITS)
#define HIST_MAX_LOG2	38
#define HIST_NBUCKETS	((HIST_MAX_LOG2 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	__u64 count;
	__u64 sum_ns;
	__u64 max_ns;
	__u64 slots[HIST_NBUCKETS];
};

_Static_assert(HIST_NBUCKETS == 288, "bucket count is part of the ABI");
_Static_assert(sizeof(struct hist) == 8 * (3 + HIST_NBUCKETS),
	       "struct hist has no padding");

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Index of the most significant set bit; v must be non-zero.  BPF has no
 * count-leading-zeros instruction, so this is a fixed five-step search. */
static __always_inline __u32 hist_msb(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8)  { v >>= 8;  r += 8; }
	if (v >> 4)  { v >>= 4;  r += 4; }
	if (v >> 2)  { v >>= 2;  r += 2; }
	if (v >> 1)  { r += 1; }
	return r;
}

/* Bucket of a value in nanoseconds.  Always < HIST_NBUCKETS. */
static __always_inline __u32 hist_bucket(__u64 ns)
{
	__u32 k, idx;

	if (ns < 2 * HIST_SUB)
		return (__u32)ns;
	k = hist_msb(ns);
	if (k >= HIST_MAX_LOG2)
		return HIST_NBUCKETS - 1;
	idx = (k - HIST_SUB_BITS + 1) * HIST_SUB +
	      (__u32)((ns >> (k - HIST_SUB_BITS)) & (HIST_SUB - 1));
	return idx;
}

/* Add one sample of ns nanoseconds that falls in bucket b.  The clamp is
 * for the BPF verifier, which cannot see that hist_bucket() stays in
 * range. */
static __always_inline void hist_add_at(struct hist *h, __u32 b, __u64 ns)
{
	if (b >= HIST_NBUCKETS)
		b = HIST_NBUCKETS - 1;
	h->slots[b]++;
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

/* Add one sample: what the BPF programs do per event (the per-CPU copy
 * needs no atomics) and what hist_record() does in user space. */
static __always_inline void hist_add(struct hist *h, __u64 ns)
{
	hist_add_at(h, hist_bucket(ns), ns);
}

#endif /* TAPESTRY_ABI_HIST_H */
