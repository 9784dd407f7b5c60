/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_state: the volume's small persistent state in the state dir,
 * <name>.state: the engine generation (epoch) and the seq reservation.
 *
 * Both are reserved ahead: the record holds seq_limit, and no seq at or
 * above it has ever been handed out, and an epoch limit, above which no
 * epoch has been used.  A restarted engine starts at the old limits, so it
 * never reuses a seq or an epoch, even after a SIGKILL or a power loss.
 *
 * While the engine runs, the record is rewritten through io_uring (a write
 * linked to an fdatasync), never on the loop's thread: a new reservation
 * is started when half of the current one is used, so a write waits for
 * one only if a whole half-chunk (2^19 seqs) goes by within one fdatasync.
 * A seq or an epoch is used only once the reservation that covers it is
 * durable.  engine_state_open() writes synchronously (startup).
 */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define ESTATE_MAGIC	0x4554415453595254ULL	/* "TRYSTATE" */
#define ESEQ_CHUNK	(1ULL << 20)
#define EEPOCH_CHUNK	1024ULL
#define UD_STATE	EIDX_MASK	/* index of the record's SQEs */

int engine_state_path(const struct engine *e, const char *suffix, char *buf,
		      size_t len)
{
	int n = snprintf(buf, len, "%s/%s.%s", e->state_dir, e->name, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool engine_state_missing(const char *path)
{
	struct stat st;

	return stat(path, &st) || st.st_size == 0;
}

int engine_state_place(const char *from, const char *to)
{
	char dir[4096];
	const char *slash = strrchr(to, '/');
	int fd, err = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - to) >= sizeof(dir))
		return -ENAMETOOLONG;
	else
		snprintf(dir, sizeof(dir), "%.*s",
			 slash == to ? 1 : (int)(slash - to), to);
	if (rename(from, to))
		return -errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

/* The record for reservations that reach ESEQ_CHUNK seqs and EEPOCH_CHUNK
 * epochs past what is in use; never below what is already durable. */
static void fill(struct engine *e, struct estate_disk *d)
{
	uint64_t seq = e->st.next_seq + ESEQ_CHUNK;
	uint64_t epoch = e->st.epoch + EEPOCH_CHUNK;

	memset(d, 0, sizeof(*d));
	d->magic = ESTATE_MAGIC;
	d->epoch = epoch > e->st.epoch_limit ? epoch : e->st.epoch_limit;
	d->seq_limit = seq > e->st.seq_limit ? seq : e->st.seq_limit;
	d->size = e->size;
	d->block_size = e->bs;
}

/* No record, in a state dir where the volume has run before: its
 * activity log is made only after the first record is durable.  Starting
 * afresh would hand out seqs the replicas may hold already, and a resync
 * (newer blocks only) would then leave a stale replica stale, in sync.
 * Returns -EIO then, else 0 (or -errno if the log's path cannot be made). */
static int lost(const struct engine *e, const char *path)
{
	char actlog[4096];
	int err = engine_state_path(e, "actlog", actlog, sizeof(actlog));

	if (err)
		return err;
	if (access(actlog, F_OK))
		return 0;
	log_err("%s: %s is empty or missing, but the volume's activity log "
		"%s is there: its seq reservation is lost, and new seqs could "
		"repeat ones its replicas hold; refusing to start", e->name,
		path, actlog);
	return -EIO;
}

int engine_state_open(struct engine *e)
{
	struct estate_disk d;
	char path[4096];
	struct timespec ts;
	uint64_t now_ms;
	ssize_t n;
	int err;

	err = engine_state_path(e, "state", path, sizeof(path));
	if (err)
		return err;
	e->st.fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (e->st.fd < 0)
		goto err_errno;
	memset(&d, 0, sizeof(d));
	n = pread(e->st.fd, &d, sizeof(d), 0);
	if (n == (ssize_t)sizeof(d)) {
		if (d.magic != ESTATE_MAGIC) {
			log_err("%s: %s is not a volume state record (torn, "
				"zeroed or another file)", e->name, path);
			return -EINVAL;
		}
		if (d.size != e->size || d.block_size != e->bs) {
			log_err("%s: %s is the state of a volume of %llu bytes "
				"in blocks of %u, not %llu in blocks of %u",
				e->name, path, (unsigned long long)d.size,
				d.block_size, (unsigned long long)e->size,
				e->bs);
			return -EINVAL;
		}
	} else if (n < 0) {
		goto err_errno;
	} else if (n != 0) {
		log_err("%s: %s: a short state record", e->name, path);
		return -EIO;
	} else if ((err = lost(e, path))) {
		return err;
	}
	e->st.fresh = n == 0;
	/* Replica servers refuse epochs older than the newest they have
	 * seen, which may come from an engine with another (or a lost)
	 * state dir: the wall clock in ms keeps a new engine ahead of every
	 * older one; the persisted limit keeps it monotonic here. */
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	e->st.epoch = d.epoch + 1 > now_ms ? d.epoch + 1 : now_ms;
	e->st.next_seq = d.seq_limit ? d.seq_limit : 1;
	e->st.epoch_limit = e->st.seq_limit = 0;
	fill(e, &d);
	n = pwrite(e->st.fd, &d, sizeof(d), 0);
	if (n >= 0 && n != (ssize_t)sizeof(d))
		errno = EIO;
	if (n != (ssize_t)sizeof(d) || fdatasync(e->st.fd))
		goto err_errno;
	e->st.seq_limit = d.seq_limit;
	e->st.epoch_limit = d.epoch;
	return 0;

err_errno:
	err = -errno;
	log_err("%s: %s: %s", e->name, path, strerror(-err));
	return err;
}

void engine_state_close(struct engine *e)
{
	if (e->st.fd >= 0)
		close(e->st.fd);
	e->st.fd = -1;
}

/* Whether reservations up to these limits leave less than half a chunk
 * ahead of what is in use. */
static bool short_of(const struct estate *st, uint64_t seq_limit,
		     uint64_t epoch_limit)
{
	return st->next_seq + ESEQ_CHUNK / 2 >= seq_limit ||
	       st->epoch + EEPOCH_CHUNK / 2 >= epoch_limit;
}

/* Write the record (a new reservation) unless one is on its way, in
 * which case it is written again after that one if that one will not
 * do.  Without SQEs right now, or after a failure, the wish is kept for
 * engine_state_tick(). */
static void persist(struct engine *e)
{
	struct estate *st = &e->st;
	uint64_t ud = ud_make(UD_CLS_ENGINE, UD_OP_WRITE, UD_ZONE_NONE, 0,
			      (e->num << EIDX_SHIFT) | UD_STATE);
	struct io_uring *ring = uloop_ring(e->loop);
	struct io_uring_sqe *w, *f;

	if (st->busy) {
		st->again = short_of(st, st->rec.seq_limit, st->rec.epoch);
		return;
	}
	st->again = 1;
	if (uloop_now(e->loop) < st->retry_at)
		return;
	if (io_uring_sq_space_left(ring) < 2)
		io_uring_submit(ring);
	if (io_uring_sq_space_left(ring) < 2)
		return;
	w = io_uring_get_sqe(ring);
	f = io_uring_get_sqe(ring);
	fill(e, &st->rec);
	io_uring_prep_write(w, st->fd, &st->rec, sizeof(st->rec), 0);
	w->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data64(w, ud);
	io_uring_prep_fsync(f, st->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(f, ud_make(UD_CLS_ENGINE, UD_OP_FLUSH,
					   UD_ZONE_NONE, 0, ud_index(ud)));
	st->busy = 1;
	st->again = 0;
	st->ncqe = 2;
	st->res = 0;
	st->t_busy = uloop_live_ns(e->loop);
}

/* Retry a reservation that could not be written; and a write that the
 * state disk does not finish within the flush timeout fails whatever
 * waits for it (it stays busy until its completions come). */
void engine_state_tick(struct engine *e)
{
	struct estate *st = &e->st;

	if (st->again && !st->busy && short_of(st, st->seq_limit,
					       st->epoch_limit))
		persist(e);
	if (st->busy && !st->timed_out &&
	    uloop_live_ns(e->loop) - st->t_busy > e->flush_ns) {
		st->timed_out = 1;
		log_err("%s: the volume state is not written after %llu ms",
			e->name, (unsigned long long)(e->flush_ns / 1000000));
		engine_state_durable(e, -ETIMEDOUT);
	}
}

void engine_state_cqe(struct engine *e, const struct io_uring_cqe *cqe)
{
	struct estate *st = &e->st;
	int res = cqe->res;

	if (!st->busy)
		return;
	if (res >= 0 && ud_op(cqe->user_data) == UD_OP_WRITE &&
	    res != (int)sizeof(st->rec))
		res = -EIO;	/* short write: the fsync is cancelled */
	if (res < 0 && !st->res)
		st->res = res;
	if (--st->ncqe)
		return;
	st->busy = 0;
	st->timed_out = 0;
	if (st->res) {
		/* Retried from the tick, once a second. */
		st->failures++;
		st->retry_at = uloop_now(e->loop) + 1000000000ULL;
		log_err("%s: cannot persist the volume state: %s", e->name,
			strerror(-st->res));
	} else {
		st->seq_limit = st->rec.seq_limit;
		st->epoch_limit = st->rec.epoch;
	}
	if (st->again && !st->res)
		persist(e);
	engine_state_durable(e, st->res);
}

bool engine_state_busy(const struct engine *e)
{
	return e->st.busy;
}

uint64_t engine_state_next_seq(struct engine *e)
{
	struct estate *st = &e->st;

	if (short_of(st, st->seq_limit, st->epoch_limit))
		persist(e);
	if (st->next_seq >= st->seq_limit)
		return 0;
	return st->next_seq++;
}

void engine_state_seen_seq(struct engine *e, uint64_t seen)
{
	if (seen < e->st.next_seq)
		return;
	e->st.next_seq = seen + 1;
	if (short_of(&e->st, e->st.seq_limit, e->st.epoch_limit))
		persist(e);
}

int engine_state_bump_epoch(struct engine *e)
{
	struct estate *st = &e->st;

	if (short_of(st, st->seq_limit, st->epoch_limit))
		persist(e);
	if (st->epoch + 1 > st->epoch_limit)
		return -EAGAIN;
	st->epoch++;
	return 0;
}
