// SPDX-License-Identifier: GPL-2.0-only
/*
 * blktrace: per-(device, op) block-I/O latency from the block_rq_insert,
 * block_rq_issue and block_rq_complete tracepoints.
 *
 * Each program exists twice: as tp_btf (direct, typed loads from struct
 * request) and as raw_tp (the same body, reading through
 * bpf_probe_read_kernel).  The loader enables one set after probing the
 * kernel's BTF.  Argument positions differ between kernels (block_rq_insert
 * and block_rq_issue lost their request_queue argument in 5.11); the loader
 * reads them from the tracepoints' BTF prototypes into the rq_arg_* knobs,
 * so nothing here depends on a kernel version.
 *
 * Cost per request, which the tracer pays on every I/O of the node: two
 * clock reads (three with an I/O scheduler), a blk_start slot written at
 * issue and read and freed at completion, one blk_stats lookup and three
 * histogram bumps.  Measured on a 2-vCPU KVM guest (bench/b_tracer.sh,
 * docs/bpftool.md), what is not the cost of running any program at all
 * goes, roughly, to: the clock reads, ~30 ns each; the blk_start slot,
 * whose cache line the completing CPU must fetch from the issuing one,
 * ~40 ns per side; the blk_stats lookup ~15 ns; the histograms ~10 ns.
 * Hence the choices below: no helper or map trip to turn the request
 * into a key, slots indexed so that the in-flight requests of a disk sit
 * in a few pages, and no atomic instruction (a torn claim is detected).
 * blk_stats is per-CPU, so the bumps need no atomics either; a program
 * never runs twice at once on one CPU (the kernel counts the nested run
 * as a recursion miss instead).
 *
 * Why not use the kernel's own stamps (rq->start_time_ns,
 * rq->io_start_time_ns)?  They are set only when I/O accounting or
 * blk-stat is enabled on the queue, and blk_time_get_ns() caches one
 * reading per plug, so within a batch several requests share a stamp that
 * can be microseconds old.  They are not insert and issue times.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "abi/blktrace.h"
#include "tpargs.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Position of the struct request pointer among each tracepoint's
 * arguments; block_rq_complete's error and byte count follow it. */
const volatile __u32 rq_arg_insert = 0;
const volatile __u32 rq_arg_issue = 0;
const volatile __u32 rq_arg_complete = 0;

#define BLK_MAX_DEV_OPS 1024
/* A slot whose request has not completed in this long is taken over when
 * a new request finds no free slot: its request was freed without a
 * completion (merged away, or its disk went). */
#define BLK_STALE_NS (60ULL * 1000000000ULL)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, BLK_MAX_DEV_OPS);
	/* Values are 7 KiB per CPU: allocate per key, not up front. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct blk_key);
	__type(value, struct blk_stats);
} blk_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BLK_START_SLOTS);
	__type(key, __u32);
	__type(value, struct blk_start);
} blk_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct blk_counters);
} blk_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct blk_config);
} blk_config SEC(".maps");

/* Pinned beside blk_config for the readers that lower its threshold: each
 * can then put back what the others still need.  Not used here. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BLK_MAX_READERS);
	__type(key, __u64);
	__type(value, struct blk_reader);
} blk_readers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} blk_events SEC(".maps");

/* The zero value a new blk_stats key starts from (too big for the stack). */
static const struct blk_stats zero_stats;

/* Before 5.16 the disk hung off the request itself. */
struct request___old {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline void count(__u32 field)
{
	struct blk_counters *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&blk_counters, &zero);
	if (!c)
		return;
	if (field == 0)
		c->events_dropped++;
	else if (field == 1)
		c->start_failed++;
	else
		c->stats_failed++;
}

static __always_inline __u32 fold_op(__u32 cmd_flags)
{
	/* enum req_op: READ 0, WRITE 1, FLUSH 2, DISCARD 3, unchanged since
	 * REQ_OP_* replaced the rw flags; the op lives in the low 8 bits. */
	switch (cmd_flags & 0xff) {
	case 0: return BLK_OP_READ;
	case 1: return BLK_OP_WRITE;
	case 2: return BLK_OP_FLUSH;
	case 3: return BLK_OP_DISCARD;
	default: return BLK_OP_OTHER;
	}
}

/* btf: the program is tp_btf, so plain loads through rq are allowed and
 * cheaper than bpf_probe_read_kernel.  It is a compile-time constant at
 * every call site. */
static __always_inline struct gendisk *rq_disk(struct request *rq, bool btf)
{
	struct request___old *old = (void *)rq;

	if (bpf_core_field_exists(old->rq_disk))
		return btf ? old->rq_disk : BPF_CORE_READ(old, rq_disk);
	return btf ? rq->q->disk : BPF_CORE_READ(rq, q, disk);
}

/* The request as a blk_start key: a number that stays the same while the
 * request lives and differs between requests.  A raw_tp argument is a
 * number already.  A tp_btf argument is a typed pointer the verifier will
 * not do arithmetic on, but it lets a tracing program (which runs with
 * CAP_PERFMON) subtract two pointers into a plain number: the request's
 * distance from a fixed address in this object's .rodata.  That costs one
 * instruction, where storing the pointer to a per-CPU map and loading it
 * back as a number cost a map lookup and a round trip through memory. */
static __always_inline __u64 rq_key(struct request *rq, bool btf)
{
	__u64 k = (__u64)rq;

	if (btf)
		asm volatile("%0 -= %1" : "+r"(k) : "r"(&rq_arg_insert));
	return k;
}

static __always_inline void slot_fill(struct blk_start *s, __u64 insert_ns,
				      __u64 issue_ns, __u32 tgid)
{
	s->insert_ns = insert_ns;
	s->issue_ns = issue_ns;
	s->tgid = tgid;
	s->check = inflight_check(s->rq, insert_ns, issue_ns, tgid);
}

static __always_inline bool slot_whole(const struct blk_start *s)
{
	return s->check == inflight_check(s->rq, s->insert_ns, s->issue_ns,
					  s->tgid);
}

/* The slot holding key k, or, with claim, a free (or stale) slot claimed
 * for it (*fresh is then set: its times are the last occupant's); NULL if
 * there is none.  Probing starts at blk_slot_home(k).  A claim is a plain
 * store; a slot torn by two racing claims fails its check at completion
 * (include/abi/inflight.h).  Measured, a locked cmpxchg cost ~10 ns per
 * issue, for a race that needs two claims of one slot within
 * nanoseconds. */
static __always_inline struct blk_start *slot_get(__u64 k, bool claim,
						  __u64 now, bool *fresh)
{
	struct blk_start *s, *free = NULL, *stale = NULL;
	__u32 h = blk_slot_home(k), i, idx;
	__u64 t;

	for (i = 0; i < BLK_START_PROBES; i++) {
		idx = (h + i) & (BLK_START_SLOTS - 1);
		s = bpf_map_lookup_elem(&blk_start, &idx);
		if (!s)
			return NULL;
		if (s->rq == k)
			return s;
		if (!s->rq) {
			/* A claim takes the first free slot: the request's
			 * own slot, if an insert made one, comes before any
			 * slot that was free then.  (One that has been freed
			 * since would make a duplicate; it ages out.) */
			if (claim) {
				free = s;
				break;
			}
			continue;
		}
		/* t is 0 while another CPU is still filling in its claim. */
		t = s->issue_ns ? s->issue_ns : s->insert_ns;
		if (!stale && t && (__s64)(now - t) > (__s64)BLK_STALE_NS)
			stale = s;
	}
	if (!claim)
		return NULL;
	s = free ? free : stale;
	if (!s)
		return NULL;
	s->rq = k;
	*fresh = true;
	return s;
}

static __always_inline int on_insert(struct request *rq, bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	struct blk_start *s;
	bool fresh = false;

	s = slot_get(rq_key(rq, btf), true, now, &fresh);
	if (!s) {
		count(1);
		return 0;
	}
	slot_fill(s, now, 0, bpf_get_current_pid_tgid() >> 32);
	return 0;
}

static __always_inline int on_issue(struct request *rq, bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	struct blk_start *s;
	bool fresh = false;

	s = slot_get(rq_key(rq, btf), true, now, &fresh);
	if (!s) {
		count(1);
		return 0;
	}
	if (!fresh && s->insert_ns && !s->issue_ns) {
		slot_fill(s, s->insert_ns, now, s->tgid);
		return 0;
	}
	/* Issued directly, or issued again after a requeue: the clock of
	 * this attempt starts now. */
	slot_fill(s, 0, now, bpf_get_current_pid_tgid() >> 32);
	return 0;
}

static __always_inline void emit(struct request *rq, const struct blk_key *k,
				 const struct blk_start *s, __u64 now,
				 __u32 bytes, __s32 error, bool btf)
{
	struct blk_event *e;

	e = bpf_ringbuf_reserve(&blk_events, sizeof(*e), 0);
	if (!e) {
		count(0);
		return;
	}
	e->ts_ns = now;
	e->sector = btf ? rq->__sector : BPF_CORE_READ(rq, __sector);
	e->queue_ns = s->insert_ns ? s->issue_ns - s->insert_ns : 0;
	e->service_ns = now - s->issue_ns;
	e->major = k->major;
	e->minor = k->minor;
	e->op = k->op;
	e->bytes = bytes;
	e->tgid = s->tgid;
	e->error = error;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void account(struct request *rq, struct blk_key *k,
				    bool final, const struct blk_start *s,
				    __u64 now, __u32 bytes, __s32 error,
				    bool btf)
{
	struct blk_config *cfg;
	struct blk_stats *st;
	__u64 queue, service, total;
	__u32 zero = 0, b;

	st = bpf_map_lookup_elem(&blk_stats, k);
	if (!st) {
		/* First completion for this key: another CPU may race us to
		 * create it, which is fine (BPF_NOEXIST loses, we look up). */
		bpf_map_update_elem(&blk_stats, k, &zero_stats, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&blk_stats, k);
		if (!st) {
			count(2);
			return;
		}
	}
	st->bytes += bytes;
	if (error)
		st->errors++;
	if (!final)
		return;
	st->count++;
	if (!s) {
		st->untimed++;
		return;
	}
	service = now - s->issue_ns;
	if (s->insert_ns) {
		queue = s->issue_ns - s->insert_ns;
		total = now - s->insert_ns;
		hist_add(&st->queue, queue);
		hist_add(&st->service, service);
		hist_add(&st->total, total);
	} else {
		/* Issued directly: no queue time, total is service; one
		 * bucket computation for both. */
		total = service;
		b = hist_bucket(service);
		hist_add_at(&st->queue, 0, 0);
		hist_add_at(&st->service, b, service);
		hist_add_at(&st->total, b, service);
	}

	cfg = bpf_map_lookup_elem(&blk_config, &zero);
	if (cfg && cfg->slow_ns && total >= cfg->slow_ns)
		emit(rq, k, s, now, bytes, error, btf);
}

/* RQF_FLUSH_SEQ: an enum bit since 6.11, bit 4 before. */
static __always_inline __u32 rqf_flush_seq(void)
{
	if (bpf_core_enum_value_exists(enum rqf_flags, __RQF_FLUSH_SEQ))
		return 1U << bpf_core_enum_value(enum rqf_flags,
						  __RQF_FLUSH_SEQ);
	return 1U << 4;
}

static __always_inline int on_complete(struct request *rq, __s32 error,
				       __u32 bytes, bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	struct blk_start *p, s = {};	/* = {}: clang may spill it unset */
	struct gendisk *disk;
	struct blk_key k;
	bool timed = false, final, fresh;
	__u32 left, flags, cmd, state;

	/* A driver may complete a request in parts; the tracepoint fires for
	 * each, before the request advances.  The last part ends it. */
	left = btf ? rq->__data_len : BPF_CORE_READ(rq, __data_len);
	final = bytes >= left;
	flags = btf ? rq->rq_flags : BPF_CORE_READ(rq, rq_flags);
	cmd = btf ? rq->cmd_flags : BPF_CORE_READ(rq, cmd_flags);
	/* A PREFLUSH/FUA write that the flush machinery sequences completes
	 * its data with RQF_FLUSH_SEQ set (its own REQ_OP_FLUSH requests
	 * carry the flag too), then ends again, with 0 bytes, once its
	 * post-flush is done: that end is the request's. */
	if ((flags & rqf_flush_seq()) && fold_op(cmd) != BLK_OP_FLUSH) {
		final = false;
		error = 0;	/* the end reports it */
	}
	if (final) {
		p = slot_get(rq_key(rq, btf), false, now, &fresh);
		if (p) {
			s = *p;
			/* Free the slot only after copying it out: the request
			 * cannot be reissued before this completion returns. */
			*(volatile __u64 *)&p->rq = 0;
			timed = s.issue_ns && slot_whole(&s);
			if (s.issue_ns && !timed)
				count(1);	/* torn: see slot_get */
		}
		/* A request without data that no driver ever started and
		 * that did not fail did no I/O: an empty PREFLUSH write,
		 * whose flush the flush machinery issued as a REQ_OP_FLUSH
		 * request of its own (counted as a flush), or an empty flush
		 * to a disk without a write cache.  Counting it would add an
		 * untimed write per fsync.  The state is read last: nearly
		 * every completion has bytes, and the raw_tp read is a
		 * helper call. */
		if (!bytes && !left && !error) {
			state = btf ? rq->state : BPF_CORE_READ(rq, state);
			if (state == MQ_RQ_IDLE)
				return 0;
		}
	}
	disk = rq_disk(rq, btf);
	if (!disk)	/* passthrough to a queue without a disk */
		return 0;
	k.major = btf ? disk->major : BPF_CORE_READ(disk, major);
	k.minor = btf ? disk->first_minor : BPF_CORE_READ(disk, first_minor);
	k.op = fold_op(cmd);
	account(rq, &k, final, timed ? &s : NULL, now, bytes, error, btf);
	return 0;
}

#define RQ(arg) ((struct request *)tp_arg(ctx, arg))

SEC("tp_btf/block_rq_insert")
int blk_insert_btf(__u64 *ctx)
{
	return on_insert(RQ(rq_arg_insert), true);
}

SEC("tp_btf/block_rq_issue")
int blk_issue_btf(__u64 *ctx)
{
	return on_issue(RQ(rq_arg_issue), true);
}

SEC("tp_btf/block_rq_complete")
int blk_complete_btf(__u64 *ctx)
{
	return on_complete(RQ(rq_arg_complete),
			   (__s32)tp_arg(ctx, rq_arg_complete + 1),
			   (__u32)tp_arg(ctx, rq_arg_complete + 2), true);
}

SEC("raw_tp/block_rq_insert")
int blk_insert_raw(__u64 *ctx)
{
	return on_insert(RQ(rq_arg_insert), false);
}

SEC("raw_tp/block_rq_issue")
int blk_issue_raw(__u64 *ctx)
{
	return on_issue(RQ(rq_arg_issue), false);
}

SEC("raw_tp/block_rq_complete")
int blk_complete_raw(__u64 *ctx)
{
	return on_complete(RQ(rq_arg_complete),
			   (__s32)tp_arg(ctx, rq_arg_complete + 1),
			   (__u32)tp_arg(ctx, rq_arg_complete + 2), false);
}
