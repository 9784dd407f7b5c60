/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Volume replicas on disk: opening and creating their files, the metadata
 * record (generation, applied seq, clean/dirty) and making a volume clean
 * when its last user goes away.
 */
#include "replica_int.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "log.h"

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE	0x4000U		/* Linux 6.8 */
#endif

struct rvol *replica_vol_find(struct replica *r, const char *name)
{
	unsigned int i;

	for (i = 0; i < r->vols_cap; i++)
		if (r->vols[i] && !strcmp(r->vols[i]->name, name))
			return r->vols[i];
	return NULL;
}

static int vol_slot(struct replica *r)
{
	struct rvol **n;
	unsigned int i, cap;

	for (i = 0; i < r->vols_cap; i++)
		if (!r->vols[i])
			return (int)i;
	cap = r->vols_cap ? r->vols_cap * 2 : 16;
	if (cap > RK_MAX_ID + 1)
		return -ENFILE;
	n = realloc(r->vols, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	memset(n + r->vols_cap, 0, (cap - r->vols_cap) * sizeof(*n));
	r->vols = n;
	i = r->vols_cap;
	r->vols_cap = cap;
	return (int)i;
}

static void vol_free(struct rvol *v)
{
	if (!v)
		return;
	seqmap_close(v->seq);
	if (v->fd_img >= 0)
		close(v->fd_img);
	if (v->fd_seq >= 0)
		close(v->fd_seq);
	if (v->fd_meta >= 0)
		close(v->fd_meta);
	free(v->meta_buf);
	free(v);
}

static struct rvol *vol_alloc(const char *name)
{
	struct rvol *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	if (posix_memalign((void **)&v->meta_buf, 4096, REPLICA_META_SLOT)) {
		free(v);
		return NULL;
	}
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->fd_img = v->fd_seq = v->fd_meta = -1;
	return v;
}

static int open_at(struct replica *r, const char *name, const char *ext,
		   int flags)
{
	char path[REPL_NAME_MAX + 8];

	snprintf(path, sizeof(path), "%s.%s", name, ext);
	return openat(r->dir_fd, path, flags | O_CLOEXEC, 0600);
}

/* The node's boot id, read once per server.  Unreadable, it stays all
 * zero, which no record matches: every unclean open then zeroes the
 * unsynced seqs, as it would after a power loss. */
static const uint8_t *boot_id(struct replica *r)
{
	char buf[64];
	ssize_t n = -1;
	int fd;

	if (r->boot_id_read)
		return r->boot_id;
	r->boot_id_read = true;
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf));
		close(fd);
	}
	if (n < 0 || replica_boot_id_parse(buf, (size_t)n, r->boot_id))
		log_warn("no boot id in /proc/sys/kernel/random/boot_id: a "
			 "volume reopened after a kill is treated as after a "
			 "power loss (its unflushed writes copied again)");
	return r->boot_id;
}

/* The unique id of the mount the image is open through (0: unknown, a
 * kernel older than 6.8).  Plain STATX_MNT_ID is no use: its ids are
 * reused once a mount goes, so the unmount that drops a file system's
 * page cache (a failed disk, say) and the next mount may share one. */
static uint64_t img_mnt_id(const struct rvol *v)
{
	struct statx stx;

	if (statx(v->fd_img, "", AT_EMPTY_PATH, STATX_MNT_ID_UNIQUE, &stx) ||
	    !(stx.stx_mask & STATX_MNT_ID_UNIQUE))
		return 0;
	return stx.stx_mnt_id;
}

/* Whether the image (open in v->fd_img) may be used with O_DIRECT for
 * this volume's block size and our page-aligned buffers.  The kernel says
 * so through STATX_DIOALIGN; tmpfs does not report it, but takes O_DIRECT
 * at any alignment.  Anything else unknown stays buffered. */
static bool direct_ok(const struct rvol *v)
{
	struct statx stx;
	struct statfs sfs;

	if (!statx(v->fd_img, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN))
		return stx.stx_dio_offset_align &&
		       v->info.block_size % stx.stx_dio_offset_align == 0 &&
		       stx.stx_dio_mem_align <= REPLICA_ALIGN;
	return !fstatfs(v->fd_img, &sfs) && sfs.f_type == TMPFS_MAGIC;
}

/* Swap the buffered descriptor of the image for an O_DIRECT one when the
 * io mode and the filesystem allow it. */
static int img_direct(struct replica *r, struct rvol *v)
{
	int fd;

	if (r->io == REPLICA_IO_BUFFERED)
		return 0;
	if (!direct_ok(v)) {
		if (r->io == REPLICA_IO_DIRECT) {
			log_err("volume %s: --io direct, but the filesystem "
				"cannot do O_DIRECT at block size %u", v->name,
				v->info.block_size);
			return -EINVAL;
		}
		return 0;
	}
	fd = open_at(r, v->name, "img", O_RDWR | O_DIRECT);
	if (fd < 0)
		return r->io == REPLICA_IO_DIRECT ? -errno : 0;
	close(v->fd_img);
	v->fd_img = fd;
	v->direct = true;
	return 0;
}

/* Whether a ZERO of the volume is faster than writing zeroes: it punches
 * a hole (replica_io.c), fast where the image's file system can, which a
 * punch past the image's end shows (nothing in it changes); where it
 * cannot, ZERO falls back to FALLOC_FL_ZERO_RANGE, which may write. */
static bool img_zero_fast(const struct rvol *v)
{
	struct stat st;

	return !fstat(v->fd_img, &st) &&
	       !fallocate(v->fd_img, FALLOC_FL_PUNCH_HOLE |
			  FALLOC_FL_KEEP_SIZE, st.st_size,
			  (off_t)v->info.block_size);
}

/* The seqmap wants a path; it lives beside the image.  Recording a seq
 * is a store into the shared mapping of NAME.seq, which would raise
 * SIGBUS on a full filesystem were the page under it not allocated:
 * seqmap_open() allocates every page of the file, so running out of
 * space fails this HELLO alone (-ENOSPC).  fd_seq is for the FLUSHes'
 * fdatasyncs. */
static int seq_open(struct replica *r, struct rvol *v, bool create)
{
	uint64_t nblocks = v->info.size / v->info.block_size;
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s.seq", r->dir_fd,
		 v->name);
	err = seqmap_open(path, nblocks, create, &v->seq);
	if (err)
		return err;
	v->fd_seq = open_at(r, v->name, "seq", O_RDWR);
	if (v->fd_seq < 0)
		return -errno;
	return 0;
}

/* A new replica: image, seqmap, then an empty .meta; the first metadata
 * write (before the HELLO is answered) makes it a volume.  A crash before
 * that leaves an empty .meta, which the next create overwrites. */
static int vol_create(struct replica *r, struct rvol *v)
{
	char path[REPL_NAME_MAX + 8];
	int err;

	v->fd_img = open_at(r, v->name, "img", O_RDWR | O_CREAT | O_TRUNC);
	if (v->fd_img < 0 || ftruncate(v->fd_img, (off_t)v->info.size))
		return -errno;
	if (img_direct(r, v))
		return -EIO;
	v->mnt_id = img_mnt_id(v);
	v->zero_fast = img_zero_fast(v);
	snprintf(path, sizeof(path), "%s.seq", v->name);
	if (unlinkat(r->dir_fd, path, 0) && errno != ENOENT)
		return -errno;
	err = seq_open(r, v, true);
	if (err)
		return err;
	v->fd_meta = open_at(r, v->name, "meta", O_RDWR | O_CREAT | O_TRUNC);
	if (v->fd_meta < 0)
		return -errno;
	if (fsync(r->dir_fd))
		return -errno;
	v->state = REPL_STATE_CLEAN;
	return 0;
}

/* A sync of the volume failed while it was last open: the kernel may have
 * dropped writes whose seqs the seqmap still records (the seqmap's own
 * page is written back by any later store into it), and a block that
 * claims a write's seq while holding older data would refuse the resync
 * copy that could repair it (a copy applies only where it is newer).
 * Which blocks is unknown, so every block's seq goes back to 0, durably,
 * before anything trusts them: resync then copies over every block it is
 * sent, and this replica's blocks lose every comparison.  The record
 * and the volume's state stay REPL_STATE_SYNC_FAILED until the volume is
 * next recorded clean, or dirty once a full copy to it is durable
 * (replica_vol_copied): HELLO and STATUS say so, so an engine copies all
 * of it, and a restart before that clean close resets the seqs again
 * (copies applied since may have been lost with the page cache) rather
 * than forgetting the failure. */
static void seqs_zero(struct rvol *v)
{
	seqmap_set(v->seq, 0, seqmap_blocks(v->seq), 0);
	v->synced_seq = 0;
	v->synced_rec = 0;	/* the record it reads as says no more */
}

static int seq_reset(struct rvol *v)
{
	int err;

	seqs_zero(v);
	err = seqmap_sync(v->seq);
	if (err) {
		log_err("volume %s: resetting its seqs: %s", v->name,
			strerror(-err));
		return -EIO;
	}
	log_warn("volume %s: a sync failed while it was last open; every "
		 "block's seq reset to 0, so resync overwrites them", v->name);
	return 0;
}

/* The volume was not closed cleanly: its node may have lost the page
 * cache (power loss), and with it writes acked since the last good
 * FLUSH.  Image and seq file are written back in no fixed order, so a
 * block may hold a seq whose data never reached the disk, and a resync
 * copy (applied only where it is newer) would then refuse to repair it.
 * Every seq above synced_seq was recorded after the last sync the record
 * vouches for (replica_vol_flushed, replica_vol_seq_may_record), so each
 * goes to 0, durably, before anything trusts the seqs; the blocks synced
 * before keep theirs.  applied_seq becomes synced_seq (or the highest
 * seq left, never more: every seq above synced_seq is gone): every write
 * with a seq at most it that this replica applied was synced before the
 * record said so (a later one first lowered it, durably), so the replica
 * holds all of them, even where a newer write's zeroed seq overlies one.
 * Saying less would read, to an engine that knows the replica synced
 * them, as lost durable writes: a rollback to a backup.
 * The engine, which knows the highest seq this replica acked it, copies
 * again what it wrote here since its last good FLUSH began.  Returns 0
 * or -EIO. */
static int seq_drop_unsynced(struct rvol *v)
{
	uint64_t b, n = seqmap_blocks(v->seq), seq, max = 0, dropped = 0;
	uint64_t run = 0;	/* blocks to zero, ending before b */
	int err;

	for (b = 0; b <= n; b++) {
		seq = b < n ? seqmap_get(v->seq, b) : 0;
		if (b < n && seq > v->synced_seq) {
			run++;
			continue;
		}
		if (run) {	/* one store of zeroes per run */
			seqmap_set(v->seq, b - run, run, 0);
			dropped += run;
			run = 0;
		}
		if (seq > max)
			max = seq;
	}
	if (dropped) {
		err = seqmap_sync(v->seq);
		if (err) {
			log_err("volume %s: zeroing its unsynced seqs: %s",
				v->name, strerror(-err));
			return -EIO;
		}
	}
	v->applied_seq = max > v->synced_seq ? max : v->synced_seq;
	log_warn("volume %s was not closed cleanly; %llu block seqs above its "
		 "last synced seq %llu zeroed (their writes may be lost); "
		 "applied seq %llu", v->name, (unsigned long long)dropped,
		 (unsigned long long)v->synced_seq,
		 (unsigned long long)v->applied_seq);
	return 0;
}

/* syncfs() of the file system fd lies on, as this server's run has seen
 * it: 0, or the first error any check of it met in this run (positive
 * errno).  Linux reports a file system's writeback error to one syncfs
 * caller only; so once the check of one volume took it, the next
 * volume's on the same file system would pass, its seqs kept over pages
 * the error may have dropped.  The error stands for every volume opened
 * there in this run; a later one (not yet seen) is still found. */
static int fs_sync(struct replica *r, int fd)
{
	struct replica_fserr *e = NULL, *n;
	struct stat st;
	unsigned int i;
	int err;

	if (fstat(fd, &st))
		return errno;
	for (i = 0; i < r->nfserr && !e; i++)
		if (r->fserr[i].dev == st.st_dev)
			e = &r->fserr[i];
	if (!e) {
		n = realloc(r->fserr, (r->nfserr + 1) * sizeof(*n));
		if (!n)
			return ENOMEM;
		r->fserr = n;
		e = &n[r->nfserr++];
		e->dev = st.st_dev;
		e->err = 0;
	}
	err = syncfs(fd) ? errno : 0;
	if (!e->err)
		e->err = err;
	return e->err;
}

/* The volume was not closed cleanly, but its record was written on this
 * boot through this very mount of the file system (replica_meta_same_
 * cache): the server was killed, and what it wrote is still in the page
 * cache, which only a power loss or the file system's last unmount drop
 * without an error to show.  A writeback error since may have dropped
 * some, though: an fdatasync of each file reports one no one has seen,
 * and syncfs() one that the file system saw on any of its files that no
 * syncfs has reported (it also covers an error the killed server saw
 * but had no time to record, and an image inode evicted with its error;
 * once per file system and run: fs_sync).
 * True when all three succeed: the seqs describe what is in the page
 * cache, now on disk. */
static bool cache_intact(struct rvol *v)
{
	const char *what = NULL;
	int err = 0;

	if (fdatasync(v->fd_img))
		what = "image";
	else if (fdatasync(v->fd_seq))
		what = "seqs";
	else if ((err = fs_sync(v->r, v->fd_img)))
		what = "file system";
	if (!what)
		return true;
	log_warn("volume %s: syncing its %s after an unclean stop: %s; its "
		 "unsynced writes are taken as lost", v->name, what,
		 strerror(err ? err : errno));
	return false;
}

/* The volume was not closed cleanly by a server that was killed, and its
 * page cache is intact (cache_intact): every seq stands, and applied_seq
 * is what the last server had reached, which its record may lag. */
static int seq_keep_unsynced(struct rvol *v)
{
	uint64_t max = seqmap_max(v->seq, 0, seqmap_blocks(v->seq));

	if (max > v->applied_seq)
		v->applied_seq = max;
	log_warn("volume %s was not closed cleanly, but on this boot and "
		 "mount (its server was killed, its page cache is intact): "
		 "every block seq kept; applied seq %llu", v->name,
		 (unsigned long long)v->applied_seq);
	return 0;
}

static int vol_load(struct replica *r, struct rvol *v,
		    const struct replica_meta *m)
{
	struct stat st;
	uint64_t max;
	int err;

	/* The record says the volume exists: a missing image is damage
	 * (EIO), never "no such volume" (ENOENT). */
	v->fd_img = open_at(r, v->name, "img", O_RDWR);
	if (v->fd_img < 0) {
		err = errno;
		log_err("volume %s: %s.img: %s", v->name, v->name,
			strerror(err));
		return -EIO;
	}
	if (fstat(v->fd_img, &st))
		return -errno;
	if ((uint64_t)st.st_size != m->size) {
		log_err("volume %s: image is %lld bytes, metadata says %llu",
			v->name, (long long)st.st_size,
			(unsigned long long)m->size);
		return -EIO;
	}
	if (img_direct(r, v))
		return -EIO;
	v->mnt_id = img_mnt_id(v);
	v->zero_fast = img_zero_fast(v);
	err = seq_open(r, v, false);
	if (err) {
		log_err("volume %s: seqmap: %s", v->name, strerror(-err));
		return -EIO;
	}
	v->info.generation = m->generation;
	v->applied_seq = m->applied_seq;
	v->bytes_written = m->bytes_written;
	v->meta_counter = m->counter;
	v->state = m->state;
	v->synced_disk = m->synced_seq;
	/* Closed clean: everything applied was synced. */
	v->synced_seq = m->state == REPL_STATE_CLEAN ? m->applied_seq :
						      m->synced_seq;
	v->synced_rec = v->synced_seq;	/* how an open reads the record */
	if (m->state == REPL_STATE_DIRTY) {
		if (replica_meta_same_cache(m, boot_id(r), v->mnt_id) &&
		    cache_intact(v))
			return seq_keep_unsynced(v);
		/* The record names another writer (boot or mount): the
		 * HELLO writes one naming this server, under which every seq
		 * from now on is recorded, so that a kill of it keeps them. */
		v->change++;
		return seq_drop_unsynced(v);
	}
	if (m->state == REPL_STATE_SYNC_FAILED) {
		/* The seqmap (page cache, survives a process kill) knows
		 * writes the record has not caught up with; applied_seq
		 * keeps them across the reset. */
		max = seqmap_max(v->seq, 0, seqmap_blocks(v->seq));
		if (max > v->applied_seq)
			v->applied_seq = max;
		log_warn("volume %s was not closed cleanly; applied seq %llu",
			 v->name, (unsigned long long)v->applied_seq);
		return seq_reset(v);
	}
	return 0;
}

/* Read .meta.  -ENOENT if there is no volume (no file, or an empty one
 * left by an interrupted create), -EIO if it is unreadable. */
static int meta_read(struct replica *r, struct rvol *v, struct replica_meta *m)
{
	uint8_t buf[2 * REPLICA_META_SLOT];
	ssize_t n;

	v->fd_meta = open_at(r, v->name, "meta", O_RDWR);
	if (v->fd_meta < 0)
		return -errno;
	n = pread(v->fd_meta, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	if (n == 0) {
		close(v->fd_meta);
		v->fd_meta = -1;
		return -ENOENT;
	}
	if (replica_meta_pick(buf, (uint64_t)n, m)) {
		log_err("volume %s: no valid metadata record in %s.meta",
			v->name, v->name);
		return -EIO;
	}
	return 0;
}

int replica_vol_open(struct replica *r, const struct replica_hello *hl,
		     struct rvol **out)
{
	struct replica_meta m;
	struct rvol *v;
	int id, err;

	id = vol_slot(r);
	if (id < 0)
		return ENFILE;
	boot_id(r);	/* read before any record says it */
	v = vol_alloc(hl->volume);
	if (!v)
		return ENOMEM;
	v->r = r;
	v->id = (unsigned int)id;
	err = meta_read(r, v, &m);
	if (err == -ENOENT && hl->create) {
		v->info.size = hl->size;
		v->info.block_size = hl->block_size;
		err = vol_create(r, v);
		if (!err)
			log_info("volume %s: created, %llu bytes, block %u%s",
				 v->name, (unsigned long long)hl->size,
				 hl->block_size, v->direct ? ", O_DIRECT" : "");
	} else if (!err) {
		v->info.size = m.size;
		v->info.block_size = m.block_size;
		if (m.size != hl->size || m.block_size != hl->block_size) {
			log_warn("volume %s: HELLO wants %llu bytes block %u, "
				 "replica has %llu block %u", v->name,
				 (unsigned long long)hl->size, hl->block_size,
				 (unsigned long long)m.size, m.block_size);
			vol_free(v);
			return EINVAL;
		}
		err = vol_load(r, v, &m);
		if (!err)
			log_info("volume %s: opened, generation %llu, %s%s",
				 v->name,
				 (unsigned long long)v->info.generation,
				 v->state == REPL_STATE_CLEAN ? "clean" :
								"dirty",
				 v->direct ? ", O_DIRECT" : "");
	}
	if (err) {
		if (err != -ENOENT)
			log_err("volume %s: open: %s", v->name, strerror(-err));
		vol_free(v);
		return err == -ENOENT ? ENOENT : EIO;
	}
	r->vols[id] = v;
	r->nvols++;
	*out = v;
	return 0;
}

/* ---- metadata writes ---- */

static void meta_done(struct rvol *v);

static void meta_kick(struct rvol *v)
{
	struct replica_meta m = {
		.size = v->info.size,
		.generation = v->info.generation,
		.applied_seq = v->applied_seq,
		.bytes_written = v->bytes_written,
		.block_size = v->info.block_size,
		.state = v->state,
		.synced_seq = v->synced_seq,
		.mnt_id = v->mnt_id,
	};
	struct io_uring_sqe *sqe;
	struct replica *r = v->r;

	if (v->meta_pending || v->persisted >= v->change)
		return;
	memcpy(m.boot_id, r->boot_id, sizeof(m.boot_id));
	v->synced_raised = false;	/* this record carries it */
	m.counter = ++v->meta_counter;
	replica_meta_encode(&m, v->meta_buf);
	/* From the write's start the disk may hold it */
	v->synced_in_flight = v->synced_seq;
	if (v->synced_in_flight > v->synced_disk)
		v->synced_disk = v->synced_in_flight;
	if (v->synced_in_flight < v->synced_rec)
		v->synced_rec = v->synced_in_flight;
	v->in_flight_change = v->change;
	v->meta_err = 0;
	sqe = replica_sqe(r);
	if (!sqe)
		goto err;
	io_uring_prep_write(sqe, v->fd_meta, v->meta_buf, REPLICA_META_SLOT,
			    (m.counter & 1) * REPLICA_META_SLOT);
	sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = replica_ud(RK_META, UD_OP_OTHER, v->id, 0);
	v->meta_pending++;
	sqe = replica_sqe(r);
	if (!sqe)
		goto err;
	io_uring_prep_fsync(sqe, v->fd_meta, IORING_FSYNC_DATASYNC);
	sqe->user_data = replica_ud(RK_META, UD_OP_OTHER, v->id, 1);
	v->meta_pending++;
	return;
err:
	/* Without an SQE the link head (if any) still completes and
	 * reports; with none at all, report here. */
	v->meta_err = EIO;
	if (!v->meta_pending)
		meta_done(v);
}

static void vol_maybe_free(struct rvol *v)
{
	struct replica *r = v->r;

	/* A record that failed to write is given up on: what the disk has
	 * is older (a dirty state, or no volume), which is what the next
	 * open should find, and no HELLO was told otherwise. */
	if (v->refs || v->meta_pending || v->sync_pending || v->waiters ||
	    v->oq.nr || (v->persisted < v->change && !v->meta_failed) ||
	    v->state != REPL_STATE_CLEAN)
		return;
	r->vols[v->id] = NULL;
	r->nvols--;
	if (v->persisted < v->change) {
		/* Clean in memory only: the record on disk does not say so,
		 * and a stop must not claim every volume clean. */
		log_warn("volume %s: closed, but the record saying it is "
			 "clean was not written", v->name);
		r->unclean = true;
	} else {
		log_info("volume %s: closed clean, generation %llu, applied "
			 "seq %llu", v->name,
			 (unsigned long long)v->info.generation,
			 (unsigned long long)v->applied_seq);
	}
	vol_free(v);
}

/* Why a HELLO for v is refused after a failed sync (see
 * replica_vol_refuse_hello): logged at each refusal, which an engine
 * retries only every few seconds. */
static void log_sync_refusal(const struct rvol *v, const struct rslot *s)
{
	log_warn("%s: HELLO %s refused: a sync of it failed since this "
		 "server started, so no FLUSH of it can succeed; restart the "
		 "server to let the engine copy it in full", s->c->peer,
		 v->name);
}

bool replica_vol_refuse_hello(struct rvol *v, struct rslot *s)
{
	if (!v->sync_failed || v->persisted < v->change || v->meta_pending)
		return false;
	log_sync_refusal(v, s);
	s->vol = v;
	replica_reply(s, ENOTRECOVERABLE);
	return true;
}

static void hello_done(struct rvol *v, struct rslot *s, int res)
{
	struct rconn *c = s->c;
	struct rhandle *h = NULL;
	unsigned int i;

	/* The record of the failed sync is on disk now (res 0): a restart
	 * will reset the seqs, and only then can a full copy land. */
	if (!res && v->sync_failed) {
		log_sync_refusal(v, s);
		res = ENOTRECOVERABLE;
	}
	if (res) {
		replica_vol_put(v);
		replica_reply(s, res);
		return;
	}
	for (i = 0; i < REPLICA_MAX_HANDLES && !h; i++)
		if (c->handles[i].vol == v)
			h = &c->handles[i];
	if (h) {
		replica_vol_put(v);	/* the handle has one */
	} else {
		/* One is free: do_hello() let this HELLO in only if c had
		 * a handle for the volume or a free one, counting the
		 * HELLOs still waiting (handle_room), and a handle is given
		 * back only when c goes. */
		for (i = 0; i < REPLICA_MAX_HANDLES && !h; i++)
			if (!c->handles[i].vol)
				h = &c->handles[i];
	}
	if (!h) {	/* handle_room() miscounted: refuse, do not crash */
		log_err("%s: HELLO %s: no free volume handle", c->peer,
			v->name);
		replica_vol_put(v);
		replica_reply(s, EMFILE);
		return;
	}
	h->vol = v;
	h->epoch = s->hello_epoch;
	s->req.volume_id = (uint64_t)(h - c->handles) + 1;
	replica_vol_status(v, c->r->zone, s->inl);
	s->reply_len = sizeof(struct repl_status);
	replica_reply(s, 0);
}

/* Between retries of a failed metadata write that no HELLO waits for */
#define META_RETRY_MIN_NS	1000000000ULL
#define META_RETRY_MAX_NS	32000000000ULL

/* When to make the next retry of a failed write or close-time sync
 * (replica_vol_tick): each one twice as far off as the last, up to
 * META_RETRY_MAX_NS. */
static uint64_t retry_at(struct rvol *v, uint64_t *backoff_ns)
{
	uint64_t b = *backoff_ns;

	b = b ? b * 2 : META_RETRY_MIN_NS;
	if (b > META_RETRY_MAX_NS)
		b = META_RETRY_MAX_NS;
	*backoff_ns = b;
	return uloop_now(v->r->loop) + b;
}

static void meta_retry_later(struct rvol *v)
{
	v->meta_retry_ns = retry_at(v, &v->meta_backoff_ns);
}

static bool seq_may_record(const struct rvol *v, uint64_t seq_min)
{
	return seq_min > v->synced_seq && seq_min > v->synced_disk;
}

/* A record saying less than seq_min is wanted (v->change: meta_kick
 * writes it).  synced_seq goes to 0, not just below seq_min: the writes
 * that record seqs at most it are resync copies, which come in bursts of
 * all sorts of old seqs, and each lower one would cost another record.
 * The next good FLUSH after them raises it again. */
static void synced_lower(struct rvol *v)
{
	v->synced_seq = 0;
	v->change++;
}

bool replica_vol_seq_may_record(struct rvol *v, struct rslot *s,
				uint64_t seq_min)
{
	if (seq_may_record(v, seq_min))
		return true;
	synced_lower(v);	/* writes coalesce: one in flight at a time */
	s->seq_min = seq_min;
	s->next = v->seq_waiters;
	v->seq_waiters = s;
	meta_kick(v);
	return false;
}

/* A metadata write ended (err: it failed).  The writes waiting for a
 * lower synced_seq on disk record their seqs now, or fail (their data
 * stays, under older seqs: what a copy may overwrite). */
static void seq_waiters_done(struct rvol *v, int err)
{
	struct rslot **pp = &v->seq_waiters, *s;

	while ((s = *pp)) {
		if (err || seq_may_record(v, s->seq_min)) {
			*pp = s->next;
			s->next = NULL;
			replica_io_seqs_durable(s, err ? EIO : 0);
		} else {
			/* the record carried a value from before the
			 * lowering: the next one (change) says 0 */
			pp = &s->next;
		}
	}
}

static void meta_done(struct rvol *v)
{
	struct rslot **pp = &v->waiters, *s;
	int err = v->meta_err;

	/* A failed write persisted nothing: the HELLOs it was for fail, and
	 * later ones must wait for a write of their own (one each, so that
	 * a disk that keeps failing is not retried in a loop).  The retry
	 * goes to the same slot: the other one holds the last good record,
	 * which only a completed write may replace.  A change no HELLO
	 * waits for (a failed sync's record) is retried with backoff. */
	if (err) {
		log_err("volume %s: metadata write failed: %s", v->name,
			strerror(err));
		v->meta_counter--;
	} else {
		if (v->meta_failed)
			log_info("volume %s: metadata written on a retry",
				 v->name);
		v->persisted = v->in_flight_change;
		v->synced_disk = v->synced_in_flight;
		v->synced_rec = v->synced_in_flight;
		v->meta_retry_ns = v->meta_backoff_ns = 0;
	}
	v->meta_failed = err != 0;
	seq_waiters_done(v, err);
	while ((s = *pp)) {
		if (s->meta_need <= v->in_flight_change) {
			*pp = s->next;
			s->next = NULL;
			hello_done(v, s, err ? EIO : 0);
		} else {
			pp = &s->next;
		}
	}
	if (!err || v->waiters)
		meta_kick(v);
	else
		meta_retry_later(v);
	vol_maybe_free(v);
}

/* The engine says a sync of v failed (REPL_F_SYNC_FAILED): its own record
 * of it may never have landed (the failing disk holds .meta as well), and
 * then the open trusted seqs that can claim writes the kernel dropped.
 * The same rule as after a recorded failure (seq_reset): every seq goes
 * to 0, and the state says so until the volume is next recorded clean
 * (or a FULL_COPY flush succeeds).  The HELLO's reply waits for that
 * record, so a restart before then resets the seqs again; the reset
 * itself need not be durable first.  A volume already in that state
 * keeps its seqs: reset at the open, or its sync failed in this run (and
 * the HELLO is refused). */
static void hello_sync_failed(struct rvol *v, const struct rslot *s)
{
	if (!(s->req.flags & REPL_F_SYNC_FAILED) ||
	    v->state == REPL_STATE_SYNC_FAILED)
		return;
	seqs_zero(v);
	v->state = REPL_STATE_SYNC_FAILED;
	v->change++;
	log_warn("volume %s: %s says a sync failed here; every block's seq "
		 "reset to 0, so resync overwrites them", v->name, s->c->peer);
}

static void vol_start_sync(struct rvol *v);

void replica_vol_tick(struct replica *r, uint64_t now)
{
	struct rvol *v;
	unsigned int i;

	for (i = 0; i < r->vols_cap; i++) {
		v = r->vols[i];
		/* FLUSHes raised synced_seq since the last record: one
		 * record for all of them (a failed write's retry carries it
		 * when due) */
		if (v && v->synced_raised && !v->meta_pending &&
		    !v->meta_failed) {
			v->change++;
			meta_kick(v);
		}
		v = r->vols[i];	/* meta_kick() may have freed it */
		if (v && v->meta_retry_ns && now >= v->meta_retry_ns) {
			v->meta_retry_ns = 0;
			meta_kick(v);
		}
		v = r->vols[i];	/* meta_kick() may have freed it */
		if (!v || !v->sync_retry_ns || now < v->sync_retry_ns)
			continue;
		v->sync_retry_ns = 0;
		/* Used again since: its next close syncs it */
		if (v->refs || v->sync_pending)
			continue;
		v->sync_again = false;	/* this sync covers those writes */
		vol_start_sync(v);
	}
}

void replica_vol_hello(struct rvol *v, struct rslot *s)
{
	s->vol = v;
	s->hello_epoch = s->req.epoch;
	/* After a failed sync hello_done() refuses it: it changes nothing
	 * (hello_sync_failed() neither: the state says so already) */
	hello_sync_failed(v, s);
	if (s->req.epoch > v->info.generation && !v->sync_failed) {
		log_info("volume %s: generation %llu -> %llu (from %s)",
			 v->name, (unsigned long long)v->info.generation,
			 (unsigned long long)s->req.epoch, s->c->peer);
		v->info.generation = s->req.epoch;
		v->change++;
	}
	if (v->state == REPL_STATE_CLEAN) {
		v->state = REPL_STATE_DIRTY;
		v->change++;
	}
	s->meta_need = v->change;
	if (v->persisted >= s->meta_need && !v->meta_pending) {
		hello_done(v, s, 0);
		return;
	}
	s->state = RS_RUN;
	s->next = v->waiters;
	v->waiters = s;
	meta_kick(v);
}

/* ---- references and becoming clean ---- */

/* The close-time syncs could not both be submitted (no SQE): nothing
 * failed or was dropped, so the server's tick starts both again. */
static void sync_retry_later(struct rvol *v)
{
	v->sync_retry_ns = retry_at(v, &v->sync_backoff_ns);
	log_warn("volume %s: no SQE to sync it before it is recorded clean; "
		 "trying again in %llu s", v->name,
		 (unsigned long long)(v->sync_backoff_ns / 1000000000ULL));
}

static void vol_start_sync(struct rvol *v)
{
	struct io_uring_sqe *sqe;
	int i;

	v->sync_err = 0;
	for (i = 0; i < 2; i++) {
		sqe = replica_sqe(v->r);
		if (!sqe) {
			v->sync_err = EBUSY;
			break;
		}
		io_uring_prep_fsync(sqe, i ? v->fd_seq : v->fd_img,
				    IORING_FSYNC_DATASYNC);
		sqe->user_data = replica_ud(RK_VSYNC, UD_OP_FLUSH, v->id, i);
		v->sync_pending++;
	}
	if (v->sync_pending)
		return;
	if (v->sync_failed)	/* never recorded clean: see vsync_done() */
		log_err("volume %s: no SQE to sync it; it stays dirty", v->name);
	else
		sync_retry_later(v);
}

void replica_vol_sync_failed(struct rvol *v, int err)
{
	if (v->sync_failed)
		return;
	v->sync_failed = err;
	v->r->unclean = true;
	log_err("volume %s: sync failed: %s; writes acked before it may be "
		"lost, so every later FLUSH fails; after a restart, which "
		"resets its seqs, it reports a failed sync until it is next "
		"closed clean or copied in full again", v->name,
		strerror(err));
	/* Recorded, so that the next open resets the seqs (seq_reset) */
	v->state = REPL_STATE_SYNC_FAILED;
	v->change++;
	meta_kick(v);
}

/* The engine copied every block to v since a HELLO told it the sync had
 * failed, and this flush made the copies durable: v's seqs (reset when it
 * was opened) now describe data that is on disk, so it may say dirty
 * again, and later HELLOs let the engine resync only what it missed.
 * The record changes in the background: a HELLO waits for it, and until
 * it lands a restart finds SYNC_FAILED, resets the seqs again and says
 * so (copies since may be lost with the page cache).  Not after a failed
 * sync in this run (replica_state_copied). */
void replica_vol_copied(struct rvol *v, int res)
{
	uint32_t st = replica_state_copied(v->state, res, v->sync_failed);

	if (st == v->state)
		return;
	log_info("volume %s: a full copy to it is durable: no longer sync "
		 "failed", v->name);
	v->state = st;
	v->change++;
	meta_kick(v);
}

/* Lazily: a FLUSH's reply does not wait for this record, and FLUSHes do
 * not write one each (a write and an fdatasync of NAME.meta apiece): the
 * server's tick writes one for all the FLUSHes of its second
 * (replica_vol_tick), or any record written before carries it.  Until it
 * lands, the record on disk says a lower synced_seq, which only makes an
 * unclean open after a power loss zero more seqs (of blocks whose data
 * is durable), and the engine copy them again. */
void replica_vol_flushed(struct rvol *v, uint64_t seq, uint64_t ooo)
{
	if (v->ooo != ooo || seq <= v->synced_seq || v->seq_waiters)
		return;
	v->synced_seq = seq;
	v->synced_raised = true;
}

static void vsync_done(struct rvol *v)
{
	if (v->sync_failed) {
		log_err("volume %s: sync before close failed: %s; it stays "
			"dirty", v->name, strerror(v->sync_failed));
		v->r->unclean = true;
		meta_kick(v);	/* retries a failed write of the record */
		return;
	}
	if (v->sync_err) {	/* EBUSY: not both submitted */
		sync_retry_later(v);
		return;
	}
	v->sync_backoff_ns = 0;
	if (v->refs)	/* someone opened it meanwhile */
		return;
	if (v->sync_again) {	/* and wrote while we synced */
		v->sync_again = false;
		vol_start_sync(v);
		return;
	}
	v->state = REPL_STATE_CLEAN;
	v->synced_seq = v->applied_seq;
	v->change++;
	meta_kick(v);
}

void replica_vol_get(struct rvol *v)
{
	v->refs++;
}

/* Last user gone: make data and seqs durable, then say clean. */
void replica_vol_put(struct rvol *v)
{
	if (--v->refs)
		return;
	if (v->state == REPL_STATE_CLEAN) {
		vol_maybe_free(v);
		return;
	}
	if (v->sync_pending) {
		v->sync_again = true;
		return;
	}
	vol_start_sync(v);
}

void replica_vol_cqe(struct replica *r, enum replica_kind k, unsigned int id,
		     unsigned int sub, int res)
{
	struct rvol *v = id < r->vols_cap ? r->vols[id] : NULL;

	(void)sub;
	if (!v) {
		log_err("completion for unknown volume %u", id);
		return;
	}
	if (k == RK_META) {
		if (res < 0 && !v->meta_err)
			v->meta_err = -res;
		else if (sub == 0 && res >= 0 &&
			 res != (int)REPLICA_META_SLOT && !v->meta_err)
			v->meta_err = EIO;
		if (--v->meta_pending == 0)
			meta_done(v);
		return;
	}
	if (res < 0 && !v->sync_err)
		v->sync_err = -res;
	if (res < 0)
		replica_vol_sync_failed(v, -res);
	/* No vol_maybe_free() after vsync_done(): the volume may go only
	 * once recorded clean, and meta_done() frees it then; without an
	 * SQE for that record, meta_done() has already run, and freed v,
	 * inside vsync_done(). */
	if (--v->sync_pending == 0)
		vsync_done(v);
}

void replica_vol_status(const struct rvol *v, const char *zone, void *out)
{
	struct repl_status st;

	memset(&st, 0, sizeof(st));
	st.size = htole64(v->info.size);
	st.generation = htole64(v->info.generation);
	st.applied_seq = htole64(v->applied_seq);
	st.bytes_written = htole64(v->bytes_written);
	st.block_size = htole32(v->info.block_size);
	/* v->state is SYNC_FAILED from a failed sync (or its record found
	 * at open) until the volume is next recorded clean, or dirty by a
	 * FLUSH with REPL_F_FULL_COPY (replica_vol_copied). */
	st.state = htole32(v->state);
	snprintf(st.zone, sizeof(st.zone), "%s", zone);
	memcpy(out, &st, sizeof(st));
}

/* A reader takes the valid slot with the higher counter: the last record
 * written, or the one in flight (a failed write may have landed too, and
 * stays counted until a write succeeds).  So the lower of their synced
 * seqs: a FLUSH's reply that said more than is on disk would have the
 * engine take an unclean open's applied_seq for a rollback.  A record
 * older servers wrote, state dirty, reads as 0 here, as at the open. */
uint64_t replica_vol_recorded(const struct rvol *v)
{
	return v->synced_rec;
}

void replica_vol_close_all(struct replica *r)
{
	unsigned int i;

	for (i = 0; i < r->vols_cap; i++) {
		if (!r->vols[i])
			continue;
		log_warn("volume %s: left dirty", r->vols[i]->name);
		r->unclean = true;
		vol_free(r->vols[i]);
		r->vols[i] = NULL;
	}
	r->nvols = 0;
}
