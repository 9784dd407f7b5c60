/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running a checked request against its volume: ordering behind
 * overlapping requests (replica_rules.h), the io_uring operations on the
 * image, and recording the per-block seqs once data is in place.
 */
#include "replica_int.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>

#include "log.h"
#include "proto.h"

#define ALIGN_UP(x, a)	(((x) + (a) - 1) / (a) * (a))

static struct rslot *slot_of(struct replica_oq_item *it)
{
	return (struct rslot *)it;	/* oq is the first member */
}

_Static_assert(__builtin_offsetof(struct rslot, oq) == 0, "oq first");

static uint64_t first_block(const struct rslot *s)
{
	return s->oq.span.off / s->vol->info.block_size;
}

static uint64_t seq_cur(const void *ctx, uint64_t block)
{
	return seqmap_get(ctx, block);
}

static uint64_t ud_io(const struct rslot *s, unsigned int op)
{
	return replica_ud(RK_IO, op, s->c->id, s->idx);
}

static bool prep(struct rslot *s, struct io_uring_sqe **sqe)
{
	*sqe = replica_sqe(s->c->r);
	if (!*sqe) {
		if (!s->res)
			s->res = EBUSY;
		return false;
	}
	s->pending++;
	return true;
}

/* One write or read of the single-range ops, from s->xfer onwards (a
 * short transfer is continued from where it stopped). */
static void rw_submit(struct rslot *s)
{
	struct rvol *v = s->vol;
	bool write = s->req.op == REPL_OP_WRITE;
	uint32_t head = 0, len = (uint32_t)s->oq.span.len;
	struct io_uring_sqe *sqe;

	if (s->req.op == REPL_OP_RESYNC_READ)
		head = s->data_off;
	if (!prep(s, &sqe))
		return;
	if (write)
		io_uring_prep_write_fixed(sqe, v->fd_img,
					  (uint8_t *)s->buf->base + s->xfer,
					  len - s->xfer,
					  s->oq.span.off + s->xfer,
					  s->buf->index);
	else
		io_uring_prep_read_fixed(sqe, v->fd_img,
					 (uint8_t *)s->buf->base + head +
						 s->xfer,
					 len - s->xfer,
					 s->oq.span.off + s->xfer,
					 s->buf->index);
	if (write && (s->req.flags & REPL_F_FUA))
		sqe->rw_flags = RWF_DSYNC;
	sqe->user_data = ud_io(s, write ? UD_OP_WRITE : UD_OP_READ);
}

/* A resync copy: write only the blocks newer than what the replica has. */
static void resync_submit(struct rslot *s)
{
	struct rvol *v = s->vol;
	uint32_t bs = v->info.block_size, n = s->oq.span.nblocks, start, cnt;
	struct replica_resync rs = {
		.seqs = s->buf->base,
		.n = n,
		.first_block = first_block(s),
		.cur = seq_cur,
		.ctx = v->seq,
	};
	uint8_t *data = (uint8_t *)s->buf->base + (size_t)n * 8;
	struct io_uring_sqe *sqe;

	if (v->direct && n * 8 % REPLICA_ALIGN) {
		/* O_DIRECT wants aligned memory: move the blocks up past
		 * the seqs (the payload buffer has room for it). */
		uint8_t *to = (uint8_t *)s->buf->base +
			      ALIGN_UP(n * 8, REPLICA_ALIGN);

		memmove(to, data, (size_t)n * bs);
		data = to;
	}

	while (replica_resync_next(&rs, &start, &cnt)) {
		if (!prep(s, &sqe))
			return;
		io_uring_prep_write_fixed(sqe, v->fd_img,
					  data + (size_t)start * bs, cnt * bs,
					  s->oq.span.off + (uint64_t)start * bs,
					  s->buf->index);
		if (s->req.flags & REPL_F_FUA)
			sqe->rw_flags = RWF_DSYNC;
		sqe->user_data = ud_io(s, UD_OP_RESYNC);
		s->owed += cnt * bs;
	}
}

/* The seqs of a resync read are taken when it starts: every earlier
 * overlapping write has completed, and no later one can start before the
 * read is done, so the seqs describe exactly the data read. */
static void resync_read_seqs(struct rslot *s)
{
	uint64_t b = first_block(s), v;
	uint8_t *p = s->buf->base;
	uint32_t i;

	for (i = 0; i < s->oq.span.nblocks; i++) {
		v = htole64(seqmap_get(s->vol->seq, b + i));
		memcpy(p + (size_t)i * 8, &v, 8);
	}
}

static void punch_submit(struct rslot *s)
{
	struct rvol *v = s->vol;
	struct io_uring_sqe *sqe;
	int mode = FALLOC_FL_KEEP_SIZE |
		   (s->fallback ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE);

	if (!prep(s, &sqe))
		return;
	io_uring_prep_fallocate(sqe, v->fd_img, mode, (off_t)s->oq.span.off,
				(off_t)s->oq.span.len);
	sqe->user_data = ud_io(s, s->req.op == REPL_OP_TRIM ? UD_OP_TRIM :
							      UD_OP_ZERO);
	if (!(s->req.flags & REPL_F_FUA))
		return;
	sqe->flags |= IOSQE_IO_LINK;
	if (!prep(s, &sqe))
		return;
	io_uring_prep_fsync(sqe, v->fd_img, IORING_FSYNC_DATASYNC);
	sqe->user_data = ud_io(s, UD_OP_FLUSH);
}

static void nop_submit(struct rslot *s);
static uint64_t seqs_min(const struct rslot *s);

/* The highest seq a FLUSH starting its fdatasyncs now may vouch for:
 * every seq recorded so far is in the page cache with its data, but a
 * write still in flight (queued after the FLUSH) may record a lower seq
 * than one recorded already, after the syncs began.  So: below every
 * seq a write in the queue will record, at most applied_seq.  A write
 * arriving later with a seq at most this is caught by ooo (io_done).
 * A started write's lowest seq was taken when it started (rec_min); one
 * still waiting may yet skip blocks, so all its seqs count. */
static uint64_t flush_cand(const struct rvol *v)
{
	const struct replica_oq_item *it;
	const struct rslot *s;
	uint64_t c = v->applied_seq, m;

	for (it = v->oq.head; it; it = it->next) {
		if (it->span.kind != REPLICA_SPAN_WRITE)
			continue;
		s = (const struct rslot *)it;
		m = it->started ? s->rec_min : seqs_min(s);
		if (m && m - 1 < c)
			c = m - 1;
	}
	return c;
}

/* A FLUSH syncs the image and the seqs, two fdatasyncs at once, unless
 * REPLICA_SYNC_MAX are in flight already: then it waits for room (in
 * arrival order), which leaves io_uring workers to the other requests.
 * After a failed sync of the volume it fails with EIO instead, also when
 * it waited for room since before the failure: Linux reports a writeback
 * error to one fdatasync only, so fresh ones would say 0 over lost data.
 * Returns false when it waits. */
static bool flush_submit(struct rslot *s)
{
	struct replica *r = s->c->r;
	struct io_uring_sqe *sqe;
	int i;

	if (s->vol->sync_failed) {
		s->res = EIO;	/* what it would cover may be lost */
		return true;
	}
	if (r->nsync + 2 > REPLICA_SYNC_MAX) {
		s->next = NULL;
		if (r->sync_tail)
			r->sync_tail->next = s;
		else
			r->sync_head = s;
		r->sync_tail = s;
		r->sync_waits++;
		return false;
	}
	/* What these fdatasyncs will have made durable, if both succeed
	 * (replica_vol_flushed) */
	s->flush_seq = flush_cand(s->vol);
	if (s->flush_seq > s->vol->ooo_below)
		s->vol->ooo_below = s->flush_seq;
	s->flush_ooo = s->vol->ooo;
	for (i = 0; i < 2; i++) {
		if (!prep(s, &sqe))
			break;
		io_uring_prep_fsync(sqe, i ? s->vol->fd_seq : s->vol->fd_img,
				    IORING_FSYNC_DATASYNC);
		sqe->user_data = ud_io(s, UD_OP_FLUSH);
		r->nsync++;
		s->syncs++;
	}
	return true;
}

/* A flush fdatasync is done: a waiting FLUSH may go. */
static void flush_room(struct replica *r)
{
	struct rslot *s;

	r->nsync--;
	while ((s = r->sync_head) && r->nsync + 2 <= REPLICA_SYNC_MAX) {
		r->sync_head = s->next;
		if (!r->sync_head)
			r->sync_tail = NULL;
		s->next = NULL;
		flush_submit(s);
		if (!s->pending)
			nop_submit(s);
	}
}

/* A request that needs no I/O still completes through the ring, so that
 * completions never nest inside submissions. */
static void nop_submit(struct rslot *s)
{
	struct io_uring_sqe *sqe;

	if (!prep(s, &sqe))
		return;
	io_uring_prep_nop(sqe);
	sqe->user_data = ud_io(s, UD_OP_NONE);
}

static void io_start(struct rslot *s)
{
	s->oq.started = true;
	s->state = RS_RUN;
	switch (s->req.op) {
	case REPL_OP_WRITE:
		if (s->req.flags & REPL_F_RESYNC)
			resync_submit(s);
		else
			rw_submit(s);
		break;
	case REPL_OP_RESYNC_READ:
		resync_read_seqs(s);
		rw_submit(s);
		break;
	case REPL_OP_READ:
		rw_submit(s);
		break;
	case REPL_OP_TRIM:
	case REPL_OP_ZERO:
		punch_submit(s);
		break;
	case REPL_OP_FLUSH:
		if (!flush_submit(s))
			return;		/* waits for room */
		break;
	}
	/* The payload's seqs are final now (a resync copy's skipped blocks
	 * zeroed): what the completion records, taken once (a resync
	 * copy's are a scan of all its seqs). */
	s->rec_min = seqs_min(s);
	if (!s->pending)
		nop_submit(s);
	if (!s->pending) {
		/* Not even a NOP could be queued: the ring is broken. */
		log_err("volume %s: cannot queue I/O", s->vol->name);
	}
}

uint32_t replica_io_reply_buf(const struct rslot *s)
{
	uint32_t seqs = s->oq.span.nblocks * 8;

	if (s->req.op == REPL_OP_RESYNC_READ)
		return ALIGN_UP(seqs, REPLICA_ALIGN) + s->req.len;
	return replica_reply_len(&s->req, &s->oq.span);
}

void replica_io_submit(struct rslot *s)
{
	s->res = 0;
	s->xfer = 0;
	s->owed = 0;
	s->pending = 0;
	if (s->req.op == REPL_OP_RESYNC_READ) {
		s->split = s->oq.span.nblocks * 8;
		s->data_off = ALIGN_UP(s->split, REPLICA_ALIGN);
	}
	s->fallback = false;
	s->syncs = 0;
	s->rec_min = 0;		/* set when it starts */
	s->oq.started = false;
	s->state = RS_WAIT;
	replica_oq_add(&s->vol->oq, &s->oq);
	if (replica_oq_may_start(&s->vol->oq, &s->oq))
		io_start(s);
}

static void note_applied(struct rvol *v, uint64_t seq)
{
	if (seq > v->applied_seq)
		v->applied_seq = seq;
}

/* Data is in place: now the seqs may say so. */
static void record_seqs(struct rslot *s)
{
	struct rvol *v = s->vol;
	uint64_t b = first_block(s), seq;
	uint32_t i;

	switch (s->req.op) {
	case REPL_OP_WRITE:
		if (s->req.flags & REPL_F_RESYNC) {
			for (i = 0; i < s->oq.span.nblocks; i++) {
				seq = replica_resync_seq(s->buf->base, i);
				if (!seq)
					continue;
				seqmap_set(v->seq, b + i, 1, seq);
				note_applied(v, seq);
				v->bytes_written += v->info.block_size;
			}
			return;
		}
		v->bytes_written += s->oq.span.len;
		/* fall through */
	case REPL_OP_TRIM:
	case REPL_OP_ZERO:
		seqmap_set(v->seq, b, s->oq.span.nblocks, s->req.seq);
		note_applied(v, s->req.seq);
		break;
	}
}

static void wake_waiters(struct rvol *v)
{
	struct replica_oq_item *it, *next;

	for (it = v->oq.head; it; it = next) {
		next = it->next;
		if (!it->started && replica_oq_may_start(&v->oq, it))
			io_start(slot_of(it));
	}
}

/* The lowest seq s's completion records (0: none). */
static uint64_t seqs_min(const struct rslot *s)
{
	uint64_t seq, min = 0;
	uint32_t i;

	switch (s->req.op) {
	case REPL_OP_WRITE:
		if (!(s->req.flags & REPL_F_RESYNC))
			return s->req.seq;
		for (i = 0; i < s->oq.span.nblocks; i++) {
			seq = replica_resync_seq(s->buf->base, i);
			if (seq && (!min || seq < min))
				min = seq;
		}
		return min;
	case REPL_OP_TRIM:
	case REPL_OP_ZERO:
		return s->req.seq;
	}
	return 0;
}

static void io_finish(struct rslot *s)
{
	struct rvol *v = s->vol;

	if (!s->res)
		record_seqs(s);
	else
		log_warn("volume %s: %s at %llu+%llu failed: %s", v->name,
			 proto_op_name(s->req.op),
			 (unsigned long long)s->oq.span.off,
			 (unsigned long long)s->oq.span.len, strerror(s->res));
	replica_oq_del(&v->oq, &s->oq);
	wake_waiters(v);
	s->reply_len = s->res ? 0 : replica_reply_len(&s->req, &s->oq.span);
	replica_reply(s, s->res);
}

/* Data is in place.  A seq at most what the volume's record says was
 * synced (a resync copy's old seq, say) could be written back without
 * its data before the next sync; then a restart after a power loss
 * would trust it over stale data.  So such a record waits until the
 * volume's record says less (replica_vol_seq_may_record).  ooo counts
 * records of seqs at most what a FLUSH may have claimed (ooo_below): a
 * FLUSH whose syncs began before one must not claim it
 * (replica_vol_flushed). */
static void io_done(struct rslot *s)
{
	struct rvol *v = s->vol;
	uint64_t min;

	if (!s->res) {
		min = s->rec_min;
		if (min && min <= v->ooo_below)
			v->ooo++;
		if (min && !replica_vol_seq_may_record(v, s, min))
			return;
	}
	io_finish(s);
}

void replica_io_seqs_durable(struct rslot *s, int err)
{
	if (err && !s->res) {
		log_warn("volume %s: %s at %llu: its seqs wait for a record "
			 "that failed", s->vol->name, proto_op_name(s->req.op),
			 (unsigned long long)s->oq.span.off);
		s->res = err;
	}
	io_finish(s);
}

/* A completion for one of s's SQEs. */
void replica_io_cqe(struct rslot *s, unsigned int ud_op, int res)
{
	struct replica *r = s->c->r;
	bool single = s->req.op == REPL_OP_READ ||
		      s->req.op == REPL_OP_RESYNC_READ ||
		      (s->req.op == REPL_OP_WRITE &&
		       !(s->req.flags & REPL_F_RESYNC));
	bool punch = s->req.op == REPL_OP_TRIM || s->req.op == REPL_OP_ZERO;
	bool resync = s->req.op == REPL_OP_WRITE &&
		      (s->req.flags & REPL_F_RESYNC);

	s->pending--;
	/* A failed fdatasync (a FLUSH's, or a FUA TRIM/ZERO's), or a FUA
	 * write's sync failing (EIO): writeback errors are reported once.
	 * Any write, trim or zero failing with EIO counts as well: the disk
	 * failed it, what it took before may sit in a cache whose writeback
	 * fails too, and the engine, told EIO, takes it as a failed sync
	 * and copies all of the volume here; let in again, it would copy it
	 * all at every reconnect, each copy failing on the same bad
	 * stretch.  So the HELLO is refused until a restart. */
	if (res < 0 && res != -ECANCELED &&
	    (ud_op == UD_OP_FLUSH ||
	     (res == -EIO && ((s->req.flags & REPL_F_FUA) ||
			      s->req.op == REPL_OP_WRITE || punch))))
		replica_vol_sync_failed(s->vol, -res);
	if (s->req.op == REPL_OP_FLUSH && s->syncs) {
		s->syncs--;
		flush_room(r);
	}
	if (res == -EOPNOTSUPP && punch && !s->fallback) {
		/* No punch-hole here.  TRIM is a hint: done.  ZERO must
		 * read back zeroes: try zero-range, which may write (HELLO
		 * replies stop saying REPL_F_ZERO_FAST). */
		s->vol->zero_fast = false;
		if (s->req.op == REPL_OP_ZERO) {
			s->fallback = true;
			punch_submit(s);
		}
		res = 0;
	} else if (res == -ECANCELED) {
		/* A linked fsync whose fallocate failed (and said why) or
		 * was retried: nothing to add. */
	} else if (res < 0) {
		if (!s->res)
			s->res = -res;
	} else if (single && !s->res) {
		s->xfer += (uint32_t)res;
		if (res == 0)
			s->res = EIO;	/* past the end of the image?! */
		else if (s->xfer < s->oq.span.len)
			rw_submit(s);
	} else if (resync) {
		s->owed -= (uint32_t)res < s->owed ? (uint32_t)res : s->owed;
	}
	if (s->pending)
		return;
	if (resync && s->owed && !s->res) {
		/* A run of blocks written short: the filesystem filled up
		 * (a write to a regular file stops short only for lack of
		 * room).  Its seqs must not claim data that is not there,
		 * so the copy fails as a whole and records none, with
		 * ENOSPC: EIO would tell the engine the disk failed and may
		 * have lost what it acked, and it would copy all of the
		 * volume again at each reconnect. */
		log_warn("volume %s: resync write at %llu: %u bytes not "
			 "written", s->vol->name,
			 (unsigned long long)s->oq.span.off, s->owed);
		s->res = ENOSPC;
	}
	/* A FLUSH whose fdatasyncs ran beside the one that failed may have
	 * got 0 only because that one took the error report. */
	if (s->req.op == REPL_OP_FLUSH && !s->res && s->vol->sync_failed)
		s->res = EIO;
	if (s->req.op == REPL_OP_FLUSH && !s->res)
		replica_vol_flushed(s->vol, s->flush_seq, s->flush_ooo);
	if (s->req.op == REPL_OP_FLUSH && (s->req.flags & REPL_F_FULL_COPY))
		replica_vol_copied(s->vol, s->res);
	io_done(s);
}
