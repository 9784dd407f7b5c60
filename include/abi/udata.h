/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The io_uring user_data layout that every Tapestry ring uses.
 *
 * user_data travels with each SQE into the kernel and comes back in its
 * CQE, and the io_uring tracepoints expose it.  Tapestry packs the request's
 * class, operation and availability zone into it, so that the zonetrace BPF
 * program can attribute each replica request to a zone without reading
 * any user memory, and so that the event loop can route completions.
 *
 *   63..56  UD_MAGIC: marks the SQE as Tapestry's; anything else is ignored
 *   55..52  class (UD_CLS_*)
 *   51..48  operation (UD_OP_*)
 *   47..40  zone id, 0..254; UD_ZONE_NONE when the SQE has no zone
 *   39..32  flags (UD_F_*)
 *   31..0   owner's index: request slot, connection id, ...
 *
 * Replica-request latency as zonetrace measures it:
 *   - a UD_CLS_REPL SQE without UD_F_REMOTE is a local replica I/O; its
 *     submit starts the request and its completion ends it; several such
 *     SQEs in flight under one user_data are one request (the engine's
 *     flush: an fsync of the data and one of the seqs), which ends at the
 *     last completion and failed if any part did.  For UD_OP_FLUSH the
 *     tracer also counts, at the first submit, the parts still to come in
 *     the same io_uring_enter, so a part that completes before the next
 *     is submitted does not end the request; a request of several SQEs
 *     under another op is one only while a part is still in flight;
 *   - a UD_CLS_REPL SQE with UD_F_REMOTE starts a request to a remote
 *     replica: its submit starts the request.  The engine makes it an
 *     IORING_OP_NOP submitted in the same io_uring_enter as, and just
 *     before, the sendmsg that carries the frame (one sendmsg carries a
 *     batch of frames, each with its own marker);
 *   - a UD_CLS_REPL_DONE SQE (an IORING_OP_NOP with the same zone and
 *     index) is submitted by the engine when the remote reply has been
 *     parsed; its submit ends the request.  UD_F_ERROR on it marks a failed
 *     replica request.
 * The pair (tgid, user_data with class, op and flags masked off) identifies
 * one replica request while it is in flight.
 */
#ifndef TAPESTRY_ABI_UDATA_H
#define TAPESTRY_ABI_UDATA_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define UD_MAGIC	0xa7ULL

#define UD_CLS_LOOP	0x0	/* the event loop's own (timers, wakeups) */
#define UD_CLS_REPL	0x1	/* a replica request, see above */
#define UD_CLS_REPL_DONE 0x2	/* end marker of a remote replica request */
#define UD_CLS_REPL_RX	0x3	/* receive from a remote replica */
#define UD_CLS_NBD	0x4	/* NBD frontend client I/O */
#define UD_CLS_SERVER	0x5	/* replica server I/O */
#define UD_CLS_OTHER	0x6	/* anything else: tests, tools */
#define UD_CLS_ENGINE	0x7	/* the engine's own metadata I/O (no zone) */
#define UD_NR_CLASSES	16

#define UD_OP_NONE	0x0
#define UD_OP_READ	0x1
#define UD_OP_WRITE	0x2
#define UD_OP_FLUSH	0x3
#define UD_OP_TRIM	0x4
#define UD_OP_ZERO	0x5
#define UD_OP_RESYNC	0x6
#define UD_OP_OTHER	0xf
#define UD_NR_OPS	16

#define UD_ZONE_NONE	0xffU
#define UD_MAX_ZONES	255

#define UD_F_REMOTE	0x01U
#define UD_F_ERROR	0x02U

#define UD_SHIFT_MAGIC	56
#define UD_SHIFT_CLS	52
#define UD_SHIFT_OP	48
#define UD_SHIFT_ZONE	40
#define UD_SHIFT_FLAGS	32

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

static __always_inline __u64 ud_make(__u32 cls, __u32 op, __u32 zone,
				     __u32 flags, __u32 index)
{
	return (UD_MAGIC << UD_SHIFT_MAGIC) |
	       ((__u64)(cls & 0xf) << UD_SHIFT_CLS) |
	       ((__u64)(op & 0xf) << UD_SHIFT_OP) |
	       ((__u64)(zone & 0xff) << UD_SHIFT_ZONE) |
	       ((__u64)(flags & 0xff) << UD_SHIFT_FLAGS) |
	       (__u64)index;
}

static __always_inline int ud_is_ours(__u64 ud)
{
	return (ud >> UD_SHIFT_MAGIC) == UD_MAGIC;
}

static __always_inline __u32 ud_cls(__u64 ud)
{
	return (ud >> UD_SHIFT_CLS) & 0xf;
}

static __always_inline __u32 ud_op(__u64 ud)
{
	return (ud >> UD_SHIFT_OP) & 0xf;
}

static __always_inline __u32 ud_zone(__u64 ud)
{
	return (ud >> UD_SHIFT_ZONE) & 0xff;
}

static __always_inline __u32 ud_flags(__u64 ud)
{
	return (ud >> UD_SHIFT_FLAGS) & 0xff;
}

static __always_inline __u32 ud_index(__u64 ud)
{
	return (__u32)ud;
}

/* The part of user_data that names one replica request: zone and index. */
static __always_inline __u64 ud_req_key(__u64 ud)
{
	return ud & ((0xffULL << UD_SHIFT_ZONE) | 0xffffffffULL);
}

#endif /* TAPESTRY_ABI_UDATA_H */
