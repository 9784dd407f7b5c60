/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_local: a replica on this node, a file or block device opened
 * O_DIRECT.  Caller data moves with READ_FIXED/WRITE_FIXED from the loop's
 * registered buffers.  Like a replica server it keeps the seq of the last
 * write to each block, in a seqmap sidecar in the state dir, so that crash
 * recovery and resync treat it exactly like a remote replica.
 *
 * A file on tmpfs cannot take a non-blocking read or write, so io_uring
 * hands every one to an io-wq worker.  While few ops are out on the
 * replica that costs, per op, a thread wake-up, a completion hand-off and
 * one more sleep of the loop, for a copy of a few microseconds that never
 * waits on a device: such an op (up to INLINE_MAX_LEN) is done in the
 * loop instead, and a NOP carries the completion, so the rest of the
 * engine sees the same CQE-driven sub.  While many ops are out on the
 * replica (INLINE_MAX_OUT), the loop has their completions to wake it,
 * workers are awake and they copy in parallel with the loop: the op
 * joins them.
 */
#include "engine_int.h"

#include <errno.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "dirtymap.h"
#include "log.h"
#include "seqmap.h"

/* A tmpfs replica with this many ops out punts the next to io-wq: the
 * workers are busy then, and their copies run beside the loop's work.
 * Measured both ways (docs/engine.md): with no limit the NBD path gains
 * but one volume's peak IOPS on an idle machine drops to ~0.88x; with a
 * limit of 1, the reverse. */
#define INLINE_MAX_OUT 16
/* Nor is a longer op done inline: its copy dwarfs a worker's hand-off,
 * and a worker copies it beside the loop (1 MiB NBD writes: ~0.6x the
 * MB/s when the loop copied them itself). */
#define INLINE_MAX_LEN (64U << 10)

/* A trim/zero sub's steps, in esub.run: the fallocate, a ZERO_RANGE
 * instead where holes cannot be punched, then (FUA) the fdatasync. */
#define RUN_TZ_FALLOCATE	0
#define RUN_TZ_SYNC		1
#define RUN_TZ_ZERO_RANGE	2

struct elocal {
	int fd;
	bool bdev;
	bool mem;		/* on tmpfs: reads and writes done inline */
	char *path;
	struct seqmap *seq;
	unsigned int inflight;	/* SQEs in the kernel */
	uint64_t inline_ops;	/* reads and writes done in the loop */
};

static int check_size(struct erepl *r, int fd, struct stat *st)
{
	struct engine *e = r->e;
	uint64_t sz;

	if (S_ISBLK(st->st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &sz))
			return -errno;
		r->loc->bdev = true;
	} else if (S_ISREG(st->st_mode)) {
		struct statfs sf;

		r->loc->mem = !fstatfs(fd, &sf) && sf.f_type == TMPFS_MAGIC;
		sz = (uint64_t)st->st_size;
		if (sz < e->size && e->create) {
			if (ftruncate(fd, (off_t)e->size))
				return -errno;
			sz = e->size;
		}
		if (sz != e->size) {
			log_err("%s: %s: %llu bytes, the volume has %llu (an "
				"image file must have the volume's size)",
				e->name, r->loc->path, (unsigned long long)sz,
				(unsigned long long)e->size);
			return -EINVAL;
		}
	} else {
		return -EINVAL;
	}
	if (sz < e->size) {
		log_err("%s: %s: %llu bytes, the volume has %llu", e->name,
			r->loc->path, (unsigned long long)sz,
			(unsigned long long)e->size);
		return -EINVAL;
	}
	return 0;
}

/* Whether zeroing r's image is faster than writing zeroes to it
 * (engine_zero_fast).  A file's zero punches a hole: fast where its file
 * system can, which a punch past its end (no data in it, nothing changes)
 * shows; where it cannot, the zero falls back to ZERO_RANGE, which may
 * write.  A block device takes ZERO_RANGE, which the kernel
 * (blkdev_issue_zeroout) carries out with the device's write-zeroes
 * command when it has one (its queue's write_zeroes_max_bytes; the whole
 * disk's for a partition) and by writing pages of zeroes otherwise.
 * Anything unreadable counts as slow. */
static bool zero_fast(const struct erepl *r, int fd, const struct stat *st)
{
	static const char *const queue[] = { "queue", "../queue" };
	char path[128], buf[32];
	unsigned int i;
	ssize_t n;
	int qfd;

	if (!S_ISBLK(st->st_mode))
		return !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)r->e->size, r->e->bs);
	for (i = 0; i < sizeof(queue) / sizeof(queue[0]); i++) {
		snprintf(path, sizeof(path),
			 "/sys/dev/block/%u:%u/%s/write_zeroes_max_bytes",
			 major(st->st_rdev), minor(st->st_rdev), queue[i]);
		qfd = open(path, O_RDONLY | O_CLOEXEC);
		if (qfd < 0)
			continue;
		n = read(qfd, buf, sizeof(buf) - 1);
		close(qfd);
		if (n <= 0)
			return false;
		buf[n] = 0;
		return strtoull(buf, NULL, 10) > 0;
	}
	return false;
}

/* Every seq of r back to 0.  The seqmap was the only record on this node
 * that the volume holds data (engine_local_written): a remote wiped
 * meanwhile, whose HELLO says it holds no write, would then be taken for
 * in sync at the next create and serve zeroes.  So if any seq recorded a
 * write, EMISSED_WRITTEN is set and made durable first: a crash between
 * the two can leave the flag with old seqs, never zeroed seqs without
 * it.  Returns 0 or -errno (the seqs are not touched). */
static int zero_seqs(struct erepl *r)
{
	struct seqmap *seq = r->loc->seq;
	int err;

	if (!(dirtymap_flags(r->missed) & EMISSED_WRITTEN) &&
	    seqmap_max(seq, 0, seqmap_blocks(seq))) {
		dirtymap_set_flags(r->missed, dirtymap_flags(r->missed) |
					      EMISSED_WRITTEN);
		if ((err = dirtymap_sync(r->missed)))
			return err;
	}
	seqmap_set(seq, 0, seqmap_blocks(seq), 0);
	return 0;
}

/* A sync of the image failed (EMISSED_SYNC_FAILED, set by sync_failed()
 * in engine_req.c): the kernel may have dropped writes whose seqs the
 * seqmap still records, and a block that claims a write's seq while
 * holding older data would refuse the resync copy that could repair it.
 * Which blocks is unknown, so every seq goes back to 0, durably, and then
 * the flag is cleared, durably too, before a resync can clear any of its
 * missed bits.  Returns 0 or -EIO (it stays closed, and is retried). */
static int reset_after_failed_sync(struct erepl *r)
{
	struct seqmap *seq = r->loc->seq;
	int err;

	if (!(dirtymap_flags(r->missed) & EMISSED_SYNC_FAILED))
		return 0;
	err = zero_seqs(r);
	if (!err)
		err = seqmap_sync(seq);
	if (!err) {
		dirtymap_set_flags(r->missed, dirtymap_flags(r->missed) &
					      ~EMISSED_SYNC_FAILED);
		err = dirtymap_sync(r->missed);
	}
	if (err) {
		log_err("%s: resetting the seqs of %s after its failed sync: "
			"%s", r->e->name, r->zone, strerror(-err));
		return -EIO;
	}
	log_warn("%s: replica %s: a sync of it failed; every block's seq "
		 "reset to 0, so resync overwrites them", r->e->name, r->zone);
	return 0;
}

/* An image made anew goes in place only once its seqs are 0 and its
 * replica is marked to be copied (when the volume has data), both
 * durably: an image at its path with the old image's seqs, or with maps
 * that say in sync, would be taken for one that holds the data (a
 * resync skips a block whose seq is not older; an in-sync replica serves
 * reads).  Made under tmp, a power loss before leaves nothing at the
 * path, and the next create makes it anew again.  0 or -errno. */
static int place_image(struct erepl *r, const char *tmp)
{
	struct engine *e = r->e;
	int err;

	if (!e->in_create || !e->st.fresh)
		engine_mark_empty(r, "has a new image");
	if ((err = seqmap_sync(r->loc->seq)) ||
	    (err = dirtymap_sync(r->dirty)) ||
	    (err = dirtymap_sync(r->missed)) ||
	    (err = engine_state_place(tmp, r->loc->path)))
		log_err("%s: making the new image %s durable: %s", e->name,
			r->loc->path, strerror(-err));
	return err;
}

static int do_open(struct erepl *r)
{
	struct engine *e = r->e;
	struct elocal *l = r->loc;
	char path[4096], suffix[REPL_ZONE_MAX + 8], tmp[4096];
	struct stat st;
	bool made = false, seqs_lost = false;
	int fd, err;

	/* A block device whose node is gone (a pulled disk) is not replaced
	 * by a file of that name: in /dev that would be RAM. */
	fd = open(l->path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && e->create && !l->bdev) {
		if (snprintf(tmp, sizeof(tmp), "%s.new", l->path) >=
		    (int)sizeof(tmp))
			return -ENAMETOOLONG;
		unlink(tmp);	/* left by a create that did not finish */
		fd = open(tmp, O_RDWR | O_DIRECT | O_CLOEXEC | O_CREAT |
			  O_EXCL, 0600);
		made = fd >= 0;
	}
	if (fd < 0) {
		err = -errno;
		log_warn("%s: %s: %s", e->name, l->path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		goto err_unlink;
	}
	if ((err = check_size(r, fd, &st)))
		goto err_unlink;
	r->zero_fast = zero_fast(r, fd, &st);
	snprintf(suffix, sizeof(suffix), "%s.seqmap", r->zone);
	if (!l->seq &&
	    ((err = engine_state_path(e, suffix, path, sizeof(path))) ||
	     (seqs_lost = engine_state_missing(path),
	      err = seqmap_open(path, e->size / e->bs, true, &l->seq)))) {
		log_err("%s: seqmap of %s: %s", e->name, r->zone,
			strerror(-err));
		goto err_unlink;
	}
	if ((err = reset_after_failed_sync(r)))
		goto err_unlink;
	/* A new image holds no write, whatever the seqmap of the one it
	 * replaces says (a resync would skip every block); and if the
	 * volume has been written before (a lost or replaced disk), none of
	 * its data. */
	if (made && (err = zero_seqs(r))) {
		log_err("%s: resetting the seqs of %s for its new image: %s",
			e->name, r->zone, strerror(-err));
		goto err_unlink;
	}
	if (made && (err = place_image(r, tmp))) {
		/* In place, its seqs reset and marks durable: it stays. */
		made = access(tmp, F_OK) == 0;
		goto err_unlink;
	}
	l->fd = fd;
	/* An image of a volume that has run before, without the seqs of its
	 * blocks: 0 would lose to any copy in a merge and let a resync from
	 * it skip every block of a stale target.  It is copied from the
	 * others instead (with none, there is nothing to choose from). */
	if (!made && seqs_lost && !e->st.fresh && e->nr > 1)
		engine_mark_empty(r, "has no seqmap (its seqs are lost)");
	return 0;

err_unlink:
	/* An image made here is still under its temporary name: an image
	 * left at its path would be opened as an existing one next time,
	 * its seqmap not reset, nor a full copy asked for. */
	if (made && unlink(tmp))
		log_warn("%s: %s: cannot remove the image made: %s", e->name,
			 tmp, strerror(errno));
	close(fd);
	return err;
}

int engine_local_open(struct erepl *r, const char *path)
{
	r->loc = calloc(1, sizeof(*r->loc));
	if (!r->loc)
		return -ENOMEM;
	r->loc->fd = -1;
	r->loc->path = strdup(path);
	if (!r->loc->path)
		return -ENOMEM;
	return do_open(r);
}

bool engine_local_idle(const struct erepl *r)
{
	return !r->loc || !r->loc->inflight;
}

uint64_t engine_local_inline_ops(const struct erepl *r)
{
	return r->loc ? r->loc->inline_ops : 0;
}

bool engine_local_written(const struct erepl *r)
{
	if (r->missed && (dirtymap_flags(r->missed) & EMISSED_WRITTEN))
		return true;
	return r->loc && r->loc->seq &&
	       seqmap_max(r->loc->seq, 0, seqmap_blocks(r->loc->seq)) != 0;
}

int engine_local_reopen(struct erepl *r)
{
	if (r->loc->inflight)
		return -EBUSY;
	if (r->loc->fd >= 0)
		close(r->loc->fd);
	r->loc->fd = -1;
	return do_open(r);
}

void engine_local_close(struct erepl *r)
{
	if (!r->loc)
		return;
	if (r->loc->fd >= 0)
		close(r->loc->fd);
	seqmap_close(r->loc->seq);
	free(r->loc->path);
	free(r->loc);
	r->loc = NULL;
}

/* Next run of blocks in a resync payload that are newer than ours, from
 * block *first on.  Returns its length in blocks (0: none left). */
static uint32_t newer_run(const struct erepl *r, const struct ereq *q,
			  uint32_t *first)
{
	const uint64_t *seqs = (const uint64_t *)q->rsb[q->rs_src].base;
	uint32_t i, n = q->len / r->e->bs;
	uint64_t b0 = q->off / r->e->bs;

	for (i = *first; i < n; i++)
		if (le64toh(seqs[i]) > seqmap_get(r->loc->seq, b0 + i))
			break;
	*first = i;
	while (i < n && le64toh(seqs[i]) > seqmap_get(r->loc->seq, b0 + i))
		i++;
	return i - *first;
}

static void prep(struct erepl *r, struct ereq *q, struct io_uring_sqe *sqe,
		 uint32_t first, uint32_t n)
{
	struct elocal *l = r->loc;
	uint32_t bs = r->e->bs;
	int mode;

	switch (q->op) {
	case EOP_READ:
		io_uring_prep_read_fixed(sqe, l->fd, q->buf->base, q->len,
					 q->off, q->buf->index);
		break;
	case EOP_WRITE:
		io_uring_prep_write_fixed(sqe, l->fd, q->buf->base, q->len,
					  q->off, q->buf->index);
		if (q->fua)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case EOP_FLUSH:	/* the data; issue() adds the seqmap's */
		io_uring_prep_fsync(sqe, l->fd, IORING_FSYNC_DATASYNC);
		break;
	case EOP_TRIM:
	case EOP_ZERO:
		if (q->sub[r->idx].run == RUN_TZ_SYNC) {
			io_uring_prep_fsync(sqe, l->fd, IORING_FSYNC_DATASYNC);
			break;
		}
		/* Files: a punched hole reads back as zeroes.  Block devices
		 * take ZERO_RANGE for zeroes and PUNCH_HOLE to discard.  A
		 * zero where holes cannot be punched: ZERO_RANGE. */
		mode = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
		if ((l->bdev && q->op == EOP_ZERO) ||
		    q->sub[r->idx].run == RUN_TZ_ZERO_RANGE)
			mode = FALLOC_FL_KEEP_SIZE | FALLOC_FL_ZERO_RANGE;
		io_uring_prep_fallocate(sqe, l->fd, mode, q->off, q->len);
		break;
	case EOP_RREAD:
		io_uring_prep_read(sqe, l->fd,
				   q->rsb[r->idx].base + ERS_SEQ_BYTES, q->len,
				   q->off);
		break;
	case EOP_RWRITE:
		io_uring_prep_write(sqe, l->fd,
				    q->rsb[q->rs_src].base + ERS_SEQ_BYTES +
				    (size_t)first * bs, n * bs,
				    q->off + (uint64_t)first * bs);
		break;
	}
}

/* A plain read or write of a tmpfs file, done now unless many ops are out
 * on the replica (see the top of this file).  A write done now has its
 * seqs set at once: its data is in the file even if the sub is abandoned
 * before the NOP completes. */
static bool io_inline(struct erepl *r, struct ereq *q, struct esub *s)
{
	struct elocal *l = r->loc;
	ssize_t n;

	if (!l->mem || l->inflight >= INLINE_MAX_OUT ||
	    q->len > INLINE_MAX_LEN || q->fua ||
	    (q->op != EOP_READ && q->op != EOP_WRITE))
		return false;
	if (q->op == EOP_READ)
		n = pread(l->fd, q->buf->base, q->len, (off_t)q->off);
	else
		n = pwrite(l->fd, q->buf->base, q->len, (off_t)q->off);
	s->res = n < 0 ? -errno : (int32_t)n;
	s->inline_io = 1;
	l->inline_ops++;
	if (q->op == EOP_WRITE && n == (ssize_t)q->len)
		seqmap_set(l->seq, q->off / r->e->bs, q->len / r->e->bs,
			   q->seq);
	return true;
}

/* Prepare the next SQE of q's sub on r.  1: nothing left to do (a resync
 * write with no newer block left). */
static int issue(struct erepl *r, struct ereq *q)
{
	struct engine *e = r->e;
	struct esub *s = &q->sub[r->idx];
	struct io_uring_sqe *sqe;
	uint32_t first = 0, n = 0;

	if (q->op == EOP_RWRITE) {
		first = s->run;
		n = newer_run(r, q, &first);
		if (!n)
			return 1;
		s->run = (uint8_t)first;
	}
	sqe = uloop_get_sqe(e->loop);
	if (!sqe)
		return -EBUSY;
	if (!io_inline(r, q, s))
		prep(r, q, sqe, first, n);
	else
		io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, engine_ud(e, q, r, engine_ud_op(q), 0));
	if (!s->t_sqe)
		s->t_sqe = uloop_clock(e->loop);
	s->kref++;
	r->loc->inflight++;
	if (q->op != EOP_FLUSH)
		return 0;
	/* A flush also makes the seqs durable, at the same time: an fsync
	 * of the mapped file writes back what msync would, without blocking
	 * the loop.  The sub is done when both are. */
	sqe = uloop_get_sqe(e->loop);
	if (!sqe) {
		s->res = -EBUSY;	/* answered with the data fsync */
		return 0;
	}
	io_uring_prep_fsync(sqe, seqmap_fd(r->loc->seq), IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, engine_ud(e, q, r, engine_ud_op(q), 0));
	s->kref++;
	r->loc->inflight++;
	return 0;
}

int engine_local_submit(struct erepl *r, struct ereq *q)
{
	int ret;

	if (!r->up || r->loc->fd < 0)
		return -EIO;
	ret = issue(r, q);
	if (ret == 1)	/* a resync write with nothing newer to apply */
		engine_sub_done(q, r->idx, 0);
	return ret < 0 ? ret : 0;
}

static void fill_seqs(struct erepl *r, struct ereq *q)
{
	uint64_t *seqs = (uint64_t *)q->rsb[r->idx].base;
	uint32_t i, n = q->len / r->e->bs;
	uint64_t b0 = q->off / r->e->bs;

	for (i = 0; i < n; i++)
		seqs[i] = htole64(seqmap_get(r->loc->seq, b0 + i));
}

/* A resync write run landed: record its blocks' seqs, go on.  Returns 1
 * while more runs are out. */
static int rwrite_next(struct erepl *r, struct ereq *q, int res)
{
	const uint64_t *seqs = (const uint64_t *)q->rsb[q->rs_src].base;
	struct esub *s = &q->sub[r->idx];
	uint32_t first = s->run, bs = r->e->bs;
	uint32_t i, n = (uint32_t)res / bs;
	int ret;

	for (i = first; i < first + n; i++)
		seqmap_set(r->loc->seq, q->off / bs + i, 1, le64toh(seqs[i]));
	q->rs_bytes += (uint32_t)res;
	s->run = (uint8_t)(first + n);
	ret = issue(r, q);
	return ret < 0 ? ret : !ret;
}

static uint32_t expect(const struct ereq *q, const struct esub *s)
{
	if (q->op == EOP_FLUSH || q->op == EOP_TRIM || q->op == EOP_ZERO ||
	    q->op == EOP_RWRITE)
		return 0;
	(void)s;
	return q->len;
}

static int finish(struct erepl *r, struct ereq *q, int res)
{
	struct esub *s = &q->sub[r->idx];
	uint32_t bs = r->e->bs;

	if (res == -EOPNOTSUPP && s->run == RUN_TZ_FALLOCATE) {
		/* No hole punching here (a file system without it, a block
		 * device without discard), as a replica server may find
		 * too: a trim is a hint, done; a zero takes ZERO_RANGE --
		 * unless it was one already (a block device's), which would
		 * only fail the same way again. */
		if (q->op == EOP_TRIM) {
			res = 0;
		} else if (q->op == EOP_ZERO && !r->loc->bdev) {
			r->zero_fast = false;	/* it may write, from now on */
			s->run = RUN_TZ_ZERO_RANGE;
			return issue(r, q) ? -EBUSY : 1;
		}
	}
	if (res < 0)
		return res;
	if (q->op != EOP_RWRITE && (uint32_t)res != expect(q, s))
		return -EIO;
	switch (q->op) {
	case EOP_WRITE:
		seqmap_set(r->loc->seq, q->off / bs, q->len / bs, q->seq);
		break;
	case EOP_TRIM:
	case EOP_ZERO:
		if (s->run == RUN_TZ_SYNC)
			break;
		seqmap_set(r->loc->seq, q->off / bs, q->len / bs, q->seq);
		if (q->fua) {
			s->run = RUN_TZ_SYNC;
			return issue(r, q) ? -EBUSY : 1;
		}
		break;
	case EOP_RREAD:
		fill_seqs(r, q);
		break;
	case EOP_RWRITE:
		return rwrite_next(r, q, res);
	}
	return 0;
}

void engine_local_cqe(struct engine *e, struct ereq *q, struct erepl *r,
		      const struct io_uring_cqe *cqe)
{
	struct esub *s = &q->sub[r->idx];
	int res = s->inline_io ? s->res : cqe->res;
	int ret;

	(void)e;
	if (r->loc->inflight)
		r->loc->inflight--;
	if (s->state != SUB_ISSUED) {
		/* Abandoned when r failed; a write that landed anyway still
		 * gets its seq, so its data is not mistaken for older. */
		if (q->op == EOP_WRITE && !s->inline_io &&
		    cqe->res == (int)q->len)
			seqmap_set(r->loc->seq, q->off / r->e->bs,
				   q->len / r->e->bs, q->seq);
		/* A sync that fails now lost writes all the same: r's seqs
		 * are to be reset before its reopen (it waits for this). */
		engine_abandoned_sync_done(r, q, res);
		engine_sub_unref(q, r->idx);
		return;
	}
	if (s->kref)
		s->kref--;
	if (q->op == EOP_FLUSH) {
		if (cqe->res < 0 && !s->res)
			s->res = cqe->res;
		if (s->kref)
			return;	/* its other fsync is still out */
		ret = s->res;
	} else {
		ret = finish(r, q, res);
	}
	if (ret == 1)
		return;		/* another SQE of this sub is out */
	if (!ret)
		engine_record_latency(r, s, engine_op_writes(q->op));
	engine_sub_done(q, r->idx, ret);
}
