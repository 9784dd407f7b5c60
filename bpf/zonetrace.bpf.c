// SPDX-License-Identifier: GPL-2.0-only
/*
 * zonetrace: latency of each replica request per availability zone, from
 * the io_uring submit and complete tracepoints, and TCP round-trip time
 * per zone from tcp_probe.
 *
 * The engine packs class, operation, zone and request index into every
 * SQE's user_data (include/abi/udata.h).  A UD_CLS_REPL submit starts a
 * replica request; it ends at its own completion when local, or at the
 * submit of the matching UD_CLS_REPL_DONE marker when remote.  Anything
 * without UD_MAGIC costs one load and a compare: measured on a 2-vCPU
 * guest, ~3 ns above what an empty program on the same tracepoint costs.
 * A replica request costs two or three program runs with a clock read
 * and a zone_inflight slot each, and one zone_stats lookup; the slot
 * table replaced a hash map whose update and delete (bucket lock, element
 * free list) took about half of the ~2 us per request it cost then.
 *
 * Tracepoint prototypes differ between kernels: io_uring_submit_sqe (5.x,
 * user_data as an argument) became io_uring_submit_req (6.x, the request
 * itself), and io_uring_complete went from (ctx, user_data, res, ...) to
 * (ctx, req, cqe).  The loader reads the prototypes from BTF and sets the
 * knobs below; the attach target is set by name at load time.  Each
 * program exists as tp_btf and as raw_tp, as in blktrace.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "abi/udata.h"
#include "abi/zonetrace.h"
#include "tpargs.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* How to find user_data at submit: in the struct io_kiocb at argument
 * submit_arg, or as argument submit_arg itself. */
#define ZT_FROM_REQ	0
#define ZT_FROM_ARG	1
const volatile __u32 submit_mode = ZT_FROM_REQ;
const volatile __u32 submit_arg = 0;
/* At completion: in the struct io_uring_cqe at argument cqe_arg, or as
 * arguments ud_arg and res_arg (res_size 4 or 8 bytes, signed). */
const volatile __u32 complete_mode = ZT_FROM_REQ;
const volatile __u32 cqe_arg = 2;
const volatile __u32 ud_arg = 1;
const volatile __u32 res_arg = 2;
const volatile __u32 res_size = 4;
/* Position of struct sock in tcp_probe. */
const volatile __u32 sk_arg = 0;

#define ZONE_MAX_KEYS 4096
/* A slot whose request has not ended in this long is taken over when a
 * new request finds no free slot: its end never came (the process died, or
 * gave up on the replica without a UD_CLS_REPL_DONE). */
#define ZONE_STALE_NS (600ULL * 1000000000ULL)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, ZONE_MAX_KEYS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct zone_key);
	__type(value, struct zone_stats);
} zone_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, ZONE_ID_MAX + 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct hist);
} zone_rtt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zone_counters);
} zone_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ZONE_INFLIGHT_SLOTS);
	__type(key, __u32);
	__type(value, struct zone_start);
} zone_inflight SEC(".maps");

#include "zonepeers.bpf.h"

static const struct zone_stats zero_stats;
static const struct hist zero_hist;

/* Before 6.0 user_data sat in the request itself, not in its cqe. */
struct io_kiocb___old {
	__u64 user_data;
} __attribute__((preserve_access_index));

enum { C_INFLIGHT, C_UNMATCHED, C_STATS, C_RTT };

static __always_inline void count(int which)
{
	struct zone_counters *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&zone_counters, &zero);
	if (!c)
		return;
	if (which == C_INFLIGHT)
		c->inflight_failed++;
	else if (which == C_UNMATCHED)
		c->unmatched_ends++;
	else if (which == C_STATS)
		c->stats_failed++;
	else
		c->rtt_failed++;
}

static __always_inline void record(__u32 zone, __u32 op, __u64 ns,
				   bool error)
{
	struct zone_key k = { .zone = zone, .op = op };
	struct zone_stats *st;

	st = bpf_map_lookup_elem(&zone_stats, &k);
	if (!st) {
		bpf_map_update_elem(&zone_stats, &k, &zero_stats, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&zone_stats, &k);
		if (!st) {
			count(C_STATS);
			return;
		}
	}
	st->count++;
	if (error)
		st->errors++;
	hist_add(&st->lat, ns);
}

static __always_inline bool slot_whole(const struct zone_start *s)
{
	return s->check == inflight_check(s->key, s->start_ns,
					  (__u64)s->op << 16 | s->remote,
					  s->tgid);
}

/* The slot of (key, tgid) (*found set), or, with claim, a free (or stale)
 * slot claimed for it; NULL if there is none.  A claim is a plain store; a
 * slot torn by two racing claims fails its check at the end
 * (include/abi/inflight.h). */
static __always_inline struct zone_start *slot_get(__u64 key, __u32 tgid,
						   bool claim, __u64 now,
						   bool *found)
{
	struct zone_start *s, *free = NULL, *stale = NULL;
	__u32 h = zone_slot_home(key, tgid), i, idx;

	for (i = 0; i < ZONE_INFLIGHT_PROBES; i++) {
		idx = (h + i) & (ZONE_INFLIGHT_SLOTS - 1);
		s = bpf_map_lookup_elem(&zone_inflight, &idx);
		if (!s)
			return NULL;
		if (s->key == key && s->tgid == tgid) {
			*found = true;
			return s;
		}
		if (!s->key) {
			if (claim && !free)
				free = s;
			continue;
		}
		if (claim && !stale && s->start_ns &&
		    (__s64)(now - s->start_ns) > (__s64)ZONE_STALE_NS)
			stale = s;
	}
	if (!claim)
		return NULL;
	s = free ? free : stale;
	if (s) {
		s->key = key;
		s->tgid = tgid;
	}
	return s;
}

/* SQEs after the current one to look at for more parts of a request. */
#define ZT_PEEK_SQES		8
#define ZT_SETUP_SQE128		(1U << 10)	/* IORING_SETUP_SQE128 */

/* The ring of the SQE being submitted: a submit tracepoint's request's
 * ctx, or (before 6.0) its first argument. */
static __always_inline struct io_ring_ctx *submit_ring(const __u64 *ctx)
{
	struct io_kiocb *req;

	if (submit_mode == ZT_FROM_ARG)
		return (struct io_ring_ctx *)tp_arg(ctx, 0);
	req = (struct io_kiocb *)tp_arg(ctx, submit_arg);
	return BPF_CORE_READ(req, ctx);
}

/* How many of the next ZT_PEEK_SQES SQEs in the submission queue carry ud:
 * the parts of a local request still to be submitted in this batch.  The
 * submit tracepoint fires after the kernel took the current SQE
 * (cached_sq_head is past it); the rest of the batch is already in the
 * ring, up to its tail.  0 if the ring cannot be read. */
static __always_inline __u32 later_parts(const __u64 *ctx, __u64 ud)
{
	struct io_ring_ctx *rc = submit_ring(ctx);
	struct io_uring_sqe *sqes;
	__u32 head, tail, entries, flags, idx, i, n = 0;
	__u32 *sq_array;
	__u64 ud2;

	if (!rc)
		return 0;
	head = BPF_CORE_READ(rc, cached_sq_head);
	entries = BPF_CORE_READ(rc, sq_entries);
	flags = BPF_CORE_READ(rc, flags);
	sq_array = BPF_CORE_READ(rc, sq_array);	/* NULL: NO_SQARRAY */
	sqes = BPF_CORE_READ(rc, sq_sqes);
	tail = BPF_CORE_READ(rc, rings, sq.tail);
	if (!sqes || !entries)
		return 0;
	for (i = 0; i < ZT_PEEK_SQES; i++) {
		if ((__s32)(tail - head - i) <= 0)
			break;
		idx = (head + i) & (entries - 1);
		if (sq_array &&
		    bpf_probe_read_kernel(&idx, sizeof(idx), &sq_array[idx]))
			break;
		if (idx >= entries)
			continue;	/* the kernel drops such an entry */
		if (flags & ZT_SETUP_SQE128)
			idx <<= 1;
		if (bpf_probe_read_kernel(&ud2, sizeof(ud2),
					  &sqes[idx].user_data))
			break;
		if (ud2 == ud)
			n++;
	}
	return n;
}

/* Start the request ud names.  Another local SQE of a local request in
 * flight is one more part of it (the engine's flush is two fsyncs under
 * one user_data); otherwise a request in flight under the same name
 * starts again (a remote one whose end never came): the clock restarts.
 *
 * A part can complete before the next part is submitted: io-wq runs an
 * fsync (or a buffered write the file cannot do without blocking) on
 * another CPU while the submitter is still walking the batch.  Counting
 * parts only as their submits arrive, the request would end at the first
 * completion and the next part start a second one.  So the first submit
 * of a local flush counts the parts still to come in its batch
 * (later_parts()) into pending up front, and their submits only count
 * down unsubmitted.  Only a flush: it is the engine's only local request
 * of several SQEs, and the look-ahead reads up to ZT_PEEK_SQES entries of
 * the ring, which every local read and write would pay for nothing.  A
 * part outside the window (another batch, or of another op) is still
 * added at its submit, if the request has not ended by then.  A submit and a completion of
 * one request can run at once on two CPUs: the submit of a counted part
 * writes only unsubmitted, a completion only pending and failed; just
 * that pending++ of a part from another batch can race a completion. */
static __always_inline void start(const __u64 *ctx, __u64 ud)
{
	__u64 key = ud_req_key(ud) | ZONE_KEY_USED;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns();
	__u16 remote = (ud_flags(ud) & UD_F_REMOTE) ? 1 : 0;
	struct zone_start *s;
	bool found = false;
	__u32 more = 0;

	s = slot_get(key, tgid, true, now, &found);
	if (!s) {
		count(C_INFLIGHT);
		return;
	}
	if (found && !remote && !s->remote && s->pending &&
	    (__s64)(now - s->start_ns) <= (__s64)ZONE_STALE_NS) {
		if (s->unsubmitted)
			s->unsubmitted--;
		else if (s->pending < 0xffff)
			s->pending++;
		return;
	}
	if (!remote && ud_op(ud) == UD_OP_FLUSH)
		more = later_parts(ctx, ud);
	s->start_ns = now;
	s->op = ud_op(ud);
	s->remote = remote;
	s->pending = 1 + more;
	s->unsubmitted = more;
	s->failed = 0;
	s->check = inflight_check(key, now, (__u64)s->op << 16 | s->remote,
				  tgid);
}

/* End the request ud names, if it is in flight and ends this way. */
static __always_inline void finish(__u64 ud, bool error, bool remote_end)
{
	__u64 key = ud_req_key(ud) | ZONE_KEY_USED;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns();
	struct zone_start *p, s = {};	/* = {}: clang may spill it unset */
	bool found = false;

	p = slot_get(key, tgid, false, now, &found);
	if (!p) {
		count(C_UNMATCHED);
		return;
	}
	/* A remote request's own SQE completing is not its end. */
	if (p->remote != (remote_end ? 1 : 0))
		return;
	/* Nor is one part of a local request of several. */
	if (!remote_end && p->pending > 1) {
		p->pending--;
		if (error)
			p->failed = 1;
		return;
	}
	s = *p;
	error = error || s.failed;
	/* Free the slot only after copying it out. */
	*(volatile __u64 *)&p->key = 0;
	if (!slot_whole(&s)) {
		count(C_INFLIGHT);	/* torn: see slot_get */
		return;
	}
	record(ud_zone(ud), s.op, now - s.start_ns, error);
}

static __always_inline int on_submit(const __u64 *ctx, __u64 ud)
{
	__u32 cls;

	if (!ud_is_ours(ud) || ud_zone(ud) == UD_ZONE_NONE)
		return 0;
	cls = ud_cls(ud);
	if (cls == UD_CLS_REPL)
		start(ctx, ud);
	else if (cls == UD_CLS_REPL_DONE)
		finish(ud, ud_flags(ud) & UD_F_ERROR, true);
	return 0;
}

static __always_inline int on_complete(__u64 ud, __s64 res)
{
	if (!ud_is_ours(ud) || ud_zone(ud) == UD_ZONE_NONE ||
	    ud_cls(ud) != UD_CLS_REPL || (ud_flags(ud) & UD_F_REMOTE))
		return 0;
	finish(ud, res < 0, false);
	return 0;
}

static __always_inline __u64 submit_ud(const __u64 *ctx, bool btf)
{
	struct io_kiocb *req;
	struct io_kiocb___old *old;

	if (submit_mode == ZT_FROM_ARG)
		return tp_arg(ctx, submit_arg);
	req = (struct io_kiocb *)tp_arg(ctx, submit_arg);
	old = (void *)req;
	if (bpf_core_field_exists(old->user_data))
		return btf ? old->user_data : BPF_CORE_READ(old, user_data);
	return btf ? req->cqe.user_data : BPF_CORE_READ(req, cqe.user_data);
}

static __always_inline int complete(const __u64 *ctx, bool btf)
{
	struct io_uring_cqe *cqe;
	__u64 ud;
	__s64 res;

	if (complete_mode == ZT_FROM_ARG) {
		ud = tp_arg(ctx, ud_arg);
		res = tp_arg(ctx, res_arg);
		if (res_size == 4)
			res = (__s32)res;
		return on_complete(ud, res);
	}
	cqe = (struct io_uring_cqe *)tp_arg(ctx, cqe_arg);
	ud = btf ? cqe->user_data : BPF_CORE_READ(cqe, user_data);
	/* Filter before the second load: most CQEs on a node are not ours. */
	if (!ud_is_ours(ud))
		return 0;
	res = btf ? cqe->res : BPF_CORE_READ(cqe, res);
	return on_complete(ud, res);
}

/* The peer of sk as a zone_peer key; false if not IPv4 or IPv6. */
static __always_inline bool peer_of(struct sock *sk, struct zone_peer *p,
				    bool btf)
{
	struct sock_common *c = &sk->__sk_common;
	__u16 family;
	__u32 *a32 = (__u32 *)p->addr;

	family = btf ? c->skc_family : BPF_CORE_READ(c, skc_family);
	p->port = bpf_ntohs(btf ? c->skc_dport : BPF_CORE_READ(c, skc_dport));
	if (family == ZONE_AF_INET) {
		p->family = ZONE_AF_INET;
		a32[0] = btf ? c->skc_daddr : BPF_CORE_READ(c, skc_daddr);
		return true;
	}
	if (family != ZONE_AF_INET6)
		return false;
	if (btf)
		__builtin_memcpy(p->addr, &c->skc_v6_daddr, 16);
	else
		bpf_probe_read_kernel(p->addr, 16, &c->skc_v6_daddr);
	/* An IPv4 peer reached through a dual-stack socket. */
	if (!a32[0] && !a32[1] && a32[2] == bpf_htonl(0xffff)) {
		a32[0] = a32[3];
		a32[1] = a32[2] = a32[3] = 0;
		p->family = ZONE_AF_INET;
		return true;
	}
	p->family = ZONE_AF_INET6;
	return true;
}

static __always_inline int on_tcp(struct sock *sk, bool btf)
{
	struct zone_peer p = {};
	struct hist *h;
	__u32 *zone, srtt;

	if (!peer_of(sk, &p, btf))
		return 0;
	zone = bpf_map_lookup_elem(&zone_peers, &p);
	if (!zone)
		return 0;
	/* srtt_us is eight times the smoothed RTT in microseconds. */
	srtt = BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3;
	if (!srtt)
		return 0;
	h = bpf_map_lookup_elem(&zone_rtt, zone);
	if (!h) {
		bpf_map_update_elem(&zone_rtt, zone, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&zone_rtt, zone);
		if (!h) {
			count(C_RTT);
			return 0;
		}
	}
	hist_add(h, (__u64)srtt * 1000);
	return 0;
}

SEC("tp_btf")
int zt_submit_btf(__u64 *ctx)
{
	return on_submit(ctx, submit_ud(ctx, true));
}

SEC("tp_btf")
int zt_complete_btf(__u64 *ctx)
{
	return complete(ctx, true);
}

SEC("tp_btf/tcp_probe")
int zt_tcp_btf(__u64 *ctx)
{
	return on_tcp((struct sock *)tp_arg(ctx, sk_arg), true);
}

SEC("raw_tp")
int zt_submit_raw(__u64 *ctx)
{
	return on_submit(ctx, submit_ud(ctx, false));
}

SEC("raw_tp")
int zt_complete_raw(__u64 *ctx)
{
	return complete(ctx, false);
}

SEC("raw_tp")
int zt_tcp_raw(__u64 *ctx)
{
	return on_tcp((struct sock *)tp_arg(ctx, sk_arg), false);
}
