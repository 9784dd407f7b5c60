/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps of the zone tracer (bpf/zonetrace.bpf.c) and of the zone registry
 * (bpf/zoneregistry.bpf.c), shared with userspace/zonetrace.c and visible
 * to `bpftool map dump`.  docs/bpftool.md shows each with a sample dump.
 *
 * Tracer, pinned by tapestryd while it runs:
 *   zone_stats     per-CPU hash   struct zone_key -> struct zone_stats
 *   zone_rtt       per-CPU hash   zone id (__u32) -> struct hist (RTT)
 *   zone_counters  per-CPU array  0 -> struct zone_counters
 *   zone_inflight  array          slot -> struct zone_start, a table of
 *                                 the requests in flight (never pinned)
 *
 * Registry, pinned for as long as any zone is registered on the node, so
 * that a zone keeps its id across daemon and engine restarts:
 *   zone_names     hash  zone id (__u32) -> struct zone_name
 *   zone_ids       hash  struct zone_name -> zone id (__u32)
 *   zone_peers     hash  struct zone_peer -> zone id (__u32); the tracer
 *                        reads it to attribute TCP RTT samples to zones
 *   zone_peer_refs hash  struct zone_peer -> registrations of it (__u32),
 *                        so that a peer goes with its last unregistration
 *
 * Zone ids are those of include/abi/udata.h: 1..254 (0 and UD_ZONE_NONE
 * are never handed out).
 */
#ifndef TAPESTRY_ABI_ZONETRACE_H
#define TAPESTRY_ABI_ZONETRACE_H

#include "abi/hist.h"
#include "abi/inflight.h"

#define ZONE_ID_MIN	1
#define ZONE_ID_MAX	254
#define ZONE_NAME_LEN	64	/* with the NUL; names are 1..63 bytes */

/* Per (zone, operation); op is the UD_OP_* of the request's first SQE. */
struct zone_key {
	__u32 zone;
	__u32 op;
};

_Static_assert(sizeof(struct zone_key) == 8, "zone_key size is ABI");

struct zone_stats {
	__u64 count;		/* replica requests ended */
	__u64 errors;		/* of those, failed (UD_F_ERROR or res < 0) */
	struct hist lat;	/* start to end, every request counted */
};

_Static_assert(sizeof(struct zone_stats) == 16 + sizeof(struct hist),
	       "zone_stats has no padding");

struct zone_counters {
	__u64 inflight_failed;	/* no zone_inflight slot, or one torn by a
				 * racing claim: request not timed */
	__u64 unmatched_ends;	/* an end with no start (tracer attached
				 * mid-request, or start not recorded) */
	__u64 stats_failed;	/* zone_stats full: request not counted */
	__u64 rtt_failed;	/* zone_rtt full: sample not recorded */
};

_Static_assert(sizeof(struct zone_counters) == 32, "zone_counters size");

/* One replica request in flight, in zone_inflight: an in-flight table as
 * include/abi/inflight.h describes, keyed by the submitting process and
 * the zone and index bits of its user_data (ud_req_key()), probed from
 * zone_slot_home().  check is inflight_check(key, start_ns,
 * op << 16 | remote, tgid).  A local request may be several SQEs under
 * one user_data (the engine's flush: two fsyncs); it ends when the last
 * of them completes.  Its first submit counts the later SQEs with its
 * user_data in the same submission batch as parts still to come
 * (pending, unsubmitted), since one may complete before the next is
 * submitted. */
struct zone_start {
	__u64 key;		/* ud_req_key() | ZONE_KEY_USED; 0 = free */
	__u64 start_ns;
	__u32 tgid;
	__u16 op;		/* UD_OP_* */
	__u16 remote;		/* ends at a UD_CLS_REPL_DONE submit */
	__u32 check;
	__u16 pending;		/* local: SQEs of it not completed */
	__u8 failed;		/* local: 1 once a completed part failed */
	__u8 unsubmitted;	/* local: of pending, not submitted yet */
};

_Static_assert(sizeof(struct zone_start) == 32, "zone_start size");

#define ZONE_INFLIGHT_SLOTS	65536	/* a power of two */
#define ZONE_INFLIGHT_PROBES	4
#define ZONE_KEY_USED		(1ULL << 63)	/* never in ud_req_key() */

/* The first slot to probe for (key, tgid).  An engine numbers its requests
 * with small indices that it reuses, or a test with a counter: each run of
 * 16 consecutive indices of one process and zone shares a 64-slot block
 * (2 KiB) picked by a hash, index i at slot 4 * (i % 16) of it, so probe
 * windows within a block never overlap and the requests of one engine sit
 * in few cache lines and pages.  Hashing every key to its own place cost
 * ~100 ns per request more (a cache and TLB miss each time) in the
 * zonetrace benchmark. */
static __always_inline __u32 zone_slot_home(__u64 key, __u32 tgid)
{
	__u64 h = ((key >> 4) ^ ((__u64)tgid << 44)) * 0x9e3779b97f4a7c15ULL;

	return ((__u32)(h >> 54) << 6 | ((__u32)key & 15) << 2) &
	       (ZONE_INFLIGHT_SLOTS - 1);
}

/* A zone's name, NUL-padded to the full length (it is a hash key). */
struct zone_name {
	char name[ZONE_NAME_LEN];
};

_Static_assert(sizeof(struct zone_name) == 64, "zone_name size");

/* A replica server's address: IPv4 in the first four bytes of addr
 * (network order) with family AF_INET (2), IPv6 with AF_INET6 (10);
 * port in host order.  Unused bytes are zero. */
struct zone_peer {
	__u8 addr[16];
	__u16 port;
	__u16 family;
	__u32 __pad;
};

_Static_assert(sizeof(struct zone_peer) == 24, "zone_peer size");

#define ZONE_AF_INET	2
#define ZONE_AF_INET6	10

#endif /* TAPESTRY_ABI_ZONETRACE_H */
