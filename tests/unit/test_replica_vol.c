/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replica_vol against a real io_uring and real files in a temporary
 * directory: a volume made clean when its last user goes away, when the
 * ring has no SQE for its syncs and when a sync fails.  The server's
 * replica_sqe() and replica_reply() are faked here: the first hands out
 * only as many SQEs as a test allows, the second records the status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replica_int.h"

#define VOL		"v"
#define VOL2		"w"	/* a second volume, for some tests */
#define VOL_SIZE	(1ULL << 20)
#define BLOCK		4096U
#define LATER_NS	(64ULL * 1000000000ULL)	/* past every backoff */

struct fixture {
	struct replica *r;
	char dir[64];
	struct rconn c;
	struct rslot s;
	unsigned int in_flight;		/* our SQEs not yet completed */
	unsigned int vsyncs;		/* fdatasyncs of a close completed */
	int vsync_res;			/* if not 0, what every one returns */
	int reply;			/* -1: none yet */
	unsigned int meta_writes;	/* metadata records written */
	unsigned int durable;		/* replica_io_seqs_durable() calls */
	int durable_err;		/* the last one's err */
};

static struct fixture *fx;
static int sqe_budget;			/* -1: as many as the ring has */
/* A writeback error on the file system not yet reported: the next
 * syncfs() says it, and only that one (as Linux does). */
static int fs_wb_err;

int __real_syncfs(int fd);
int __wrap_syncfs(int fd);
int __wrap_syncfs(int fd)
{
	int err = fs_wb_err;

	fs_wb_err = 0;
	if (err) {
		errno = err;
		return -1;
	}
	return __real_syncfs(fd);
}

struct io_uring_sqe *replica_sqe(struct replica *r)
{
	struct io_uring_sqe *sqe;

	if (!sqe_budget)
		return NULL;
	sqe = uloop_get_sqe(r->loop);
	if (!sqe)
		return NULL;
	if (sqe_budget > 0)
		sqe_budget--;
	fx->in_flight++;
	return sqe;
}

void replica_reply(struct rslot *s, int res)
{
	(void)s;
	fx->reply = res;
}

void replica_io_seqs_durable(struct rslot *s, int err)
{
	(void)s;
	fx->durable++;
	fx->durable_err = err;
}

static void on_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	struct fixture *f = ctx;
	uint32_t idx = ud_index(cqe->user_data);
	enum replica_kind k = (enum replica_kind)(idx >> 28);
	int res = cqe->res;

	f->in_flight--;
	if (k == RK_META && (idx & RK_MAX_SUB) == 0)
		f->meta_writes++;
	if (k == RK_VSYNC) {
		f->vsyncs++;
		if (f->vsync_res)
			res = f->vsync_res;
	}
	replica_vol_cqe(f->r, k, (idx >> 12) & RK_MAX_ID, idx & RK_MAX_SUB,
			res);
}

/* Run the loop until nothing of ours is in flight. */
static void settle(struct fixture *f)
{
	int i;

	for (i = 0; i < 200 && f->in_flight; i++)
		assert_true(uloop_run_once(f->r->loop, 20 * 1000000ULL) >= 0);
	assert_int_equal(f->in_flight, 0);
}

/* The server's tick, as if LATER_NS had passed, then what it started. */
static void tick_later(struct fixture *f)
{
	replica_vol_tick(f->r, uloop_now(f->r->loop) + LATER_NS);
	settle(f);
}

static int setup(void **state)
{
	struct uloop_opts o = {
		.entries = 8, .nr_small = 1, .small_size = 4096,
		.nr_large = 1, .large_size = 65536, .max_timers = 4,
	};
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fx = f;
	f->r = calloc(1, sizeof(*f->r));
	assert_non_null(f->r);
	assert_int_equal(uloop_create(&o, &f->r->loop), 0);
	assert_int_equal(uloop_set_handler(f->r->loop, UD_CLS_SERVER, on_cqe,
					   f), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_replica_vol.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->r->dir_fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->r->dir_fd >= 0);
	f->r->io = REPLICA_IO_BUFFERED;
	snprintf(f->r->zone, sizeof(f->r->zone), "z1");
	f->c.r = f->r;
	f->s.c = &f->c;
	f->reply = -1;
	sqe_budget = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const ext[] = { "img", "seq", "meta" };
	char path[PATH_MAX];
	unsigned int i;

	sqe_budget = -1;
	settle(f);
	replica_vol_close_all(f->r);
	free(f->r->vols);
	free(f->r->fserr);
	fs_wb_err = 0;
	for (i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "%s.%s", i < 3 ? VOL : VOL2,
			 ext[i % 3]);
		unlinkat(f->r->dir_fd, path, 0);
	}
	close(f->r->dir_fd);
	assert_int_equal(rmdir(f->dir), 0);
	uloop_destroy(f->r->loop);
	free(f->r);
	free(f);
	fx = NULL;
	return 0;
}

/* Create the volume and HELLO it, as do_hello() does: it is dirty, and
 * the connection's handle holds the one reference. */
static struct rvol *open_vol(struct fixture *f)
{
	struct replica_hello hl = {
		.volume = VOL, .size = VOL_SIZE, .block_size = BLOCK,
		.create = true, .epoch = 1,
	};
	struct rvol *v;

	assert_int_equal(replica_vol_open(f->r, &hl, &v), 0);
	replica_vol_get(v);
	f->s.req.epoch = 1;
	replica_vol_hello(v, &f->s);
	settle(f);
	assert_int_equal(f->reply, 0);
	assert_ptr_equal(f->c.handles[0].vol, v);
	assert_int_equal(v->refs, 1);
	assert_int_equal(v->state, REPL_STATE_DIRTY);
	return v;
}

/* The connection goes, with sqes SQEs to be had (-1: all of them). */
static void close_vol(struct fixture *f, struct rvol *v, int sqes)
{
	f->c.handles[0].vol = NULL;
	sqe_budget = sqes;
	replica_vol_put(v);
	sqe_budget = -1;
	settle(f);
}

/* The state NAME.meta records. */
static uint32_t meta_state(struct fixture *f)
{
	uint8_t buf[2 * REPLICA_META_SLOT];
	struct replica_meta m;
	ssize_t n;
	int fd;

	fd = openat(f->r->dir_fd, VOL ".meta", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	assert_true(n > 0);
	assert_int_equal(replica_meta_pick(buf, (uint64_t)n, &m), 0);
	return m.state;
}

/* The record NAME.meta holds. */
static struct replica_meta meta_read_rec(struct fixture *f)
{
	uint8_t buf[2 * REPLICA_META_SLOT];
	struct replica_meta m;
	ssize_t n;
	int fd;

	fd = openat(f->r->dir_fd, VOL ".meta", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	assert_true(n > 0);
	assert_int_equal(replica_meta_pick(buf, (uint64_t)n, &m), 0);
	return m;
}

/* The server dies (SIGKILL: the volume is not recorded clean) and is
 * started again: the volume is opened again from its files. */
static struct rvol *crash_reopen(struct fixture *f)
{
	settle(f);
	replica_vol_close_all(f->r);
	memset(f->c.handles, 0, sizeof(f->c.handles));
	f->r->unclean = false;
	return open_vol(f);
}

/* Make every record in NAME.meta look written by another boot (a power
 * loss since; with zero boot id and mount id, an older server): what an
 * unclean open must then treat as a lost page cache. */
static void meta_other_writer(struct fixture *f, bool older_server)
{
	uint8_t buf[2 * REPLICA_META_SLOT];
	struct replica_meta m;
	unsigned int i;
	int fd;

	fd = openat(f->r->dir_fd, VOL ".meta", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), sizeof(buf));
	for (i = 0; i < 2; i++) {
		if (replica_meta_decode(buf + i * REPLICA_META_SLOT, &m))
			continue;
		if (older_server) {
			m.mnt_id = 0;
			memset(m.boot_id, 0, sizeof(m.boot_id));
		} else {
			m.boot_id[0] = (uint8_t)~f->r->boot_id[0];
		}
		replica_meta_encode(&m, buf + i * REPLICA_META_SLOT);
	}
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	close(fd);
}

/* The node lost power with the server (its page cache gone) and boots
 * again: the volume is opened again from its files by another boot. */
static struct rvol *powerloss_reopen(struct fixture *f)
{
	settle(f);
	replica_vol_close_all(f->r);
	meta_other_writer(f, false);
	memset(f->c.handles, 0, sizeof(f->c.handles));
	f->r->unclean = false;
	return open_vol(f);
}

/* Blocks 0..9 hold seqs 1..10, as ten writes would leave them. */
static void ten_writes(struct rvol *v)
{
	uint64_t b;

	for (b = 0; b < 10; b++)
		seqmap_set(v->seq, b, 1, b + 1);
	v->applied_seq = 10;
}

/* A FLUSH that started at applied seq 6 succeeded: the record says so
 * (lazily).  An unclean open zeroes every seq above it (their data may
 * be lost with the page cache, and their seqs may be on disk without
 * it), keeps the others, and says applied seq 6: less than the writes
 * the engine had acked, so it copies them again. */
static void test_replica_vol_unclean_open_zeroes_unsynced_seqs(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);
	uint8_t st[sizeof(struct repl_status)];
	struct repl_status rs;
	uint64_t b;

	ten_writes(v);
	replica_vol_flushed(v, 6, v->ooo);
	tick_later(f);
	assert_int_equal(meta_read_rec(f).synced_seq, 6);
	v = powerloss_reopen(f);
	for (b = 0; b < 10; b++)
		assert_int_equal(seqmap_get(v->seq, b), b < 6 ? b + 1 : 0);
	assert_int_equal(v->applied_seq, 6);
	replica_vol_status(v, "z1", st);
	memcpy(&rs, st, sizeof(rs));
	assert_int_equal(le64toh(rs.applied_seq), 6);
	/* A second unclean open finds the same: nothing more is lost. */
	v = powerloss_reopen(f);
	assert_int_equal(seqmap_get(v->seq, 5), 6);
	assert_int_equal(v->applied_seq, 6);
	close_vol(f, v, -1);
}

/* Runs of unsynced seqs, between synced ones and up to the map's last
 * block, are zeroed whole, and nothing else. */
static void test_replica_vol_unclean_open_zeroes_runs(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);
	uint64_t n = seqmap_blocks(v->seq), b;
	uint64_t want[] = { 0, 0, 2, 0, 0, 4 };

	seqmap_set(v->seq, 0, 2, 7);		/* a run of two */
	seqmap_set(v->seq, 2, 1, 2);
	seqmap_set(v->seq, 3, 2, 9);
	seqmap_set(v->seq, 5, 1, 4);
	seqmap_set(v->seq, n - 3, 1, 3);
	seqmap_set(v->seq, n - 2, 2, 20);	/* up to the end */
	v->applied_seq = 20;
	replica_vol_flushed(v, 5, v->ooo);
	tick_later(f);
	v = powerloss_reopen(f);
	for (b = 0; b < 6; b++)
		assert_int_equal(seqmap_get(v->seq, b), want[b]);
	for (b = 6; b < n - 3; b++)
		assert_int_equal(seqmap_get(v->seq, b), 0);
	assert_int_equal(seqmap_get(v->seq, n - 3), 3);
	assert_int_equal(seqmap_get(v->seq, n - 2), 0);
	assert_int_equal(seqmap_get(v->seq, n - 1), 0);
	/* The synced seq, not the highest left (4): the write of seq 5 was
	 * synced, though a newer one's zeroed seq now overlies it. */
	assert_int_equal(v->applied_seq, 5);
	close_vol(f, v, -1);
}

/* With no good FLUSH at all, every seq goes: applied seq 0, which tells
 * the engine the replica holds nothing it can vouch for. */
static void test_replica_vol_unclean_open_without_flush(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);

	ten_writes(v);
	v = powerloss_reopen(f);
	assert_int_equal(seqmap_max(v->seq, 0, seqmap_blocks(v->seq)), 0);
	assert_int_equal(v->applied_seq, 0);
	close_vol(f, v, -1);
}

/* The server was killed (no power loss): the record was written on this
 * boot through this mount, so the page cache holds every write it made,
 * and the open keeps every seq, above the synced one too, and says the
 * highest as its applied seq (the record's lags).  When every replica
 * server of a volume is killed, the engine then finds each one holding
 * what it acked, and reconciles them with no operator. */
static void test_replica_vol_killed_keeps_unsynced_seqs(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);
	struct replica_meta m;
	uint64_t b;

	if (!v->mnt_id) {
		close_vol(f, v, -1);
		skip();		/* a kernel without unique mount ids */
	}
	ten_writes(v);
	replica_vol_flushed(v, 6, v->ooo);
	tick_later(f);
	m = meta_read_rec(f);
	assert_int_equal(m.synced_seq, 6);
	assert_int_equal(m.mnt_id, v->mnt_id);
	assert_memory_equal(m.boot_id, f->r->boot_id, sizeof(m.boot_id));
	assert_true(m.boot_id[0] | m.boot_id[7] | m.boot_id[15]);
	v = crash_reopen(f);
	for (b = 0; b < 10; b++)
		assert_int_equal(seqmap_get(v->seq, b), b + 1);
	assert_int_equal(v->applied_seq, 10);
	/* A power loss after that still loses what no FLUSH synced: the
	 * record still says 6. */
	assert_int_equal(v->synced_seq, 6);
	v = powerloss_reopen(f);
	assert_int_equal(seqmap_get(v->seq, 5), 6);
	assert_int_equal(seqmap_get(v->seq, 6), 0);
	assert_int_equal(v->applied_seq, 6);
	/* The HELLO after it recorded this boot again: a kill now keeps
	 * what is written since. */
	assert_memory_equal(meta_read_rec(f).boot_id, f->r->boot_id,
			    sizeof(m.boot_id));
	seqmap_set(v->seq, 6, 1, 11);
	v = crash_reopen(f);
	assert_int_equal(seqmap_get(v->seq, 6), 11);
	assert_int_equal(v->applied_seq, 11);
	close_vol(f, v, -1);
}

/* A record of an older server says no writer (zero boot and mount ids):
 * that is never this one, and the unsynced seqs go, as they used to. */
static void test_replica_vol_older_record_zeroes_unsynced_seqs(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);

	ten_writes(v);
	replica_vol_flushed(v, 6, v->ooo);
	tick_later(f);
	replica_vol_close_all(f->r);
	meta_other_writer(f, true);
	v = crash_reopen(f);
	assert_int_equal(seqmap_get(v->seq, 5), 6);
	assert_int_equal(seqmap_get(v->seq, 6), 0);
	assert_int_equal(v->applied_seq, 6);
	close_vol(f, v, -1);
}

/* A sync failed (recorded) before the server was killed: the writes it
 * covered may be gone from the page cache too, so the same boot and
 * mount do not save the seqs: every one goes, as before. */
static void test_replica_vol_killed_after_sync_failed_resets(void **state)
{
	struct replica_hello hl = {
		.volume = VOL, .size = VOL_SIZE, .block_size = BLOCK,
	};
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);

	ten_writes(v);
	replica_vol_flushed(v, 6, v->ooo);
	tick_later(f);
	replica_vol_sync_failed(v, EIO);
	settle(f);
	assert_int_equal(meta_state(f), REPL_STATE_SYNC_FAILED);
	replica_vol_close_all(f->r);
	memset(f->c.handles, 0, sizeof(f->c.handles));
	assert_int_equal(replica_vol_open(f->r, &hl, &v), 0);
	assert_int_equal(seqmap_max(v->seq, 0, seqmap_blocks(v->seq)), 0);
	assert_int_equal(v->state, REPL_STATE_SYNC_FAILED);
	assert_int_equal(v->applied_seq, 10);
}

/* A clean close synced everything: its record says so, and the next
 * open, clean or not, keeps every seq. */
static void test_replica_vol_clean_close_syncs_every_seq(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);

	ten_writes(v);
	close_vol(f, v, -1);
	assert_int_equal(meta_read_rec(f).synced_seq, 10);
	v = open_vol(f);
	assert_int_equal(seqmap_get(v->seq, 9), 10);
	v = crash_reopen(f);
	assert_int_equal(seqmap_get(v->seq, 9), 10);
	assert_int_equal(v->applied_seq, 10);
	close_vol(f, v, -1);
}

/* 100 good FLUSHes in a second, each raising synced_seq: not one record
 * each (a write and an fdatasync of NAME.meta per FLUSH), but one, at the
 * server's next tick, carrying the last.  A power loss before that tick
 * zeroes more seqs (the record's lags), which is only more copying. */
static void test_replica_vol_flushes_record_on_the_tick(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);
	unsigned int i, before;

	before = f->meta_writes;
	for (i = 1; i <= 100; i++) {
		seqmap_set(v->seq, i % 10, 1, i);
		v->applied_seq = i;
		replica_vol_flushed(v, i, v->ooo);
		settle(f);
	}
	assert_int_equal(v->synced_seq, 100);
	print_message("metadata records for 100 FLUSHes: %u before the "
		      "tick\n", f->meta_writes - before);
	assert_int_equal(f->meta_writes - before, 0);
	assert_int_equal(meta_read_rec(f).synced_seq, 0);
	tick_later(f);
	assert_int_equal(f->meta_writes - before, 1);
	assert_int_equal(meta_read_rec(f).synced_seq, 100);
	tick_later(f);		/* nothing new: no record */
	assert_int_equal(f->meta_writes - before, 1);
	close_vol(f, v, -1);
}

/* A seq recorded out of order after the FLUSH's fdatasyncs started (a
 * write that overtook another): the flush cannot vouch for it, so it
 * raises nothing. */
static void test_replica_vol_flush_after_out_of_order_claims_nothing(
	void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);
	uint64_t mark;

	ten_writes(v);
	mark = v->ooo;
	v->ooo++;		/* as replica_io's io_done() counts one */
	replica_vol_flushed(v, 10, mark);
	tick_later(f);
	assert_int_equal(v->synced_seq, 0);
	assert_int_equal(meta_read_rec(f).synced_seq, 0);
	replica_vol_flushed(v, 10, v->ooo);
	tick_later(f);
	assert_int_equal(meta_read_rec(f).synced_seq, 10);
	close_vol(f, v, -1);
}

/* A seq at most the synced one (a resync copy's old seq) may be written
 * back before its data: it is recorded only once the record on disk says
 * less (0: copies come with all sorts of old seqs, one record serves
 * them all until a FLUSH raises it again).  A newer one is recorded at
 * once. */
static void test_replica_vol_old_seq_waits_for_a_lower_record(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);
	struct rslot w = { 0 };

	ten_writes(v);
	replica_vol_flushed(v, 10, v->ooo);
	tick_later(f);
	assert_true(replica_vol_seq_may_record(v, &w, 11));
	assert_false(replica_vol_seq_may_record(v, &w, 4));
	assert_int_equal(f->durable, 0);
	settle(f);
	assert_int_equal(f->durable, 1);
	assert_int_equal(f->durable_err, 0);
	assert_int_equal(meta_read_rec(f).synced_seq, 0);
	assert_true(replica_vol_seq_may_record(v, &w, 4));
	assert_true(replica_vol_seq_may_record(v, &w, 1));
	/* Its record failing fails the write. */
	replica_vol_flushed(v, 10, v->ooo);
	tick_later(f);
	assert_int_equal(meta_read_rec(f).synced_seq, 10);
	sqe_budget = 0;
	assert_false(replica_vol_seq_may_record(v, &w, 2));
	sqe_budget = -1;
	settle(f);
	assert_int_equal(f->durable, 2);
	assert_int_equal(f->durable_err, EIO);
	close_vol(f, v, -1);
}

/* What a good FLUSH's reply says: the synced seq the record on disk
 * holds, not what the FLUSHes raised since (written at the next tick);
 * while a record saying less is in flight, the lower one; a failed
 * record that may have landed stays counted.  Whatever an unclean open
 * then zeroes, it says an applied seq at least that. */
static void test_replica_vol_flush_reply_says_recorded_seq(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);
	struct rslot w = { 0 };

	ten_writes(v);
	assert_int_equal(replica_vol_recorded(v), 0);
	replica_vol_flushed(v, 6, v->ooo);
	assert_int_equal(replica_vol_recorded(v), 0);	/* not recorded */
	tick_later(f);
	assert_int_equal(replica_vol_recorded(v), 6);
	seqmap_set(v->seq, 5, 1, 12);	/* overlies the write of seq 6 */
	v->applied_seq = 12;
	replica_vol_flushed(v, 10, v->ooo);
	assert_int_equal(replica_vol_recorded(v), 6);
	v = powerloss_reopen(f);
	assert_true(v->applied_seq >= 6);
	assert_int_equal(seqmap_get(v->seq, 5), 0);
	/* A seq at most the synced one lowers the record: from its write's
	 * start the disk may say 0. */
	replica_vol_flushed(v, 6, v->ooo);
	tick_later(f);
	assert_int_equal(replica_vol_recorded(v), 6);
	assert_false(replica_vol_seq_may_record(v, &w, 3));
	assert_int_equal(replica_vol_recorded(v), 0);
	settle(f);
	assert_int_equal(replica_vol_recorded(v), 0);
	replica_vol_flushed(v, 6, v->ooo);
	tick_later(f);
	assert_int_equal(replica_vol_recorded(v), 6);
	/* A record whose write fails may still have landed. */
	v->applied_seq = 8;
	seqmap_set(v->seq, 7, 1, 8);
	sqe_budget = 0;
	assert_false(replica_vol_seq_may_record(v, &w, 2));
	sqe_budget = -1;
	settle(f);
	assert_int_equal(replica_vol_recorded(v), 0);
	replica_vol_flushed(v, 8, v->ooo);
	tick_later(f);
	assert_int_equal(replica_vol_recorded(v), 8);
	/* An open reads the record as the reply said. */
	v = crash_reopen(f);
	assert_int_equal(replica_vol_recorded(v), 8);
	close_vol(f, v, -1);
}

/* Open (creating) volume name on handle h, as open_vol() does. */
static struct rvol *open_named(struct fixture *f, const char *name,
			       unsigned int h)
{
	struct replica_hello hl = {
		.size = VOL_SIZE, .block_size = BLOCK, .create = true,
		.epoch = 1,
	};
	struct rvol *v;

	snprintf(hl.volume, sizeof(hl.volume), "%s", name);
	assert_int_equal(replica_vol_open(f->r, &hl, &v), 0);
	replica_vol_get(v);
	f->reply = -1;
	f->s.req.epoch = 1;
	replica_vol_hello(v, &f->s);
	settle(f);
	assert_int_equal(f->reply, 0);
	assert_ptr_equal(f->c.handles[h].vol, v);
	return v;
}

/* Two volumes on one file system, both left dirty by a killed server on
 * this boot and mount; a writeback error on the file system since.  The
 * first open's syncfs() takes the error (its seqs above the synced one
 * go); the second's syncfs() says 0, as Linux reports the error once,
 * yet its pages may be the ones dropped: it must zero its unsynced seqs
 * too, not keep them over lost data. */
static void test_replica_vol_fs_error_counts_for_every_volume(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f), *w;

	if (!v->mnt_id) {
		close_vol(f, v, -1);
		skip();		/* a kernel without unique mount ids */
	}
	w = open_named(f, VOL2, 1);
	ten_writes(v);
	ten_writes(w);
	replica_vol_flushed(v, 6, v->ooo);
	replica_vol_flushed(w, 6, w->ooo);
	tick_later(f);
	settle(f);
	replica_vol_close_all(f->r);	/* killed */
	memset(f->c.handles, 0, sizeof(f->c.handles));
	fs_wb_err = EIO;
	v = open_named(f, VOL, 0);
	assert_int_equal(seqmap_get(v->seq, 6), 0);
	assert_int_equal(v->applied_seq, 6);
	w = open_named(f, VOL2, 1);
	assert_int_equal(seqmap_get(w->seq, 5), 6);
	assert_int_equal(seqmap_get(w->seq, 6), 0);
	assert_int_equal(w->applied_seq, 6);
	/* Later in the run, still: the error stands for this file system. */
	replica_vol_close_all(f->r);
	memset(f->c.handles, 0, sizeof(f->c.handles));
	w = open_named(f, VOL2, 0);
	assert_int_equal(w->applied_seq, 6);
}

/* HELLO v again on the same connection (do_hello() takes a reference
 * first), with the given flags. */
static void hello_again(struct fixture *f, struct rvol *v, uint8_t flags)
{
	replica_vol_get(v);
	f->reply = -1;
	f->s.req.flags = flags;
	replica_vol_hello(v, &f->s);
	settle(f);
	f->s.req.flags = 0;
	assert_int_equal(f->reply, 0);
	assert_int_equal(v->refs, 1);
}

/* A HELLO with REPL_F_SYNC_FAILED: the engine saw a sync fail here that
 * the server may have been unable to record, so its seqs may claim lost
 * writes.  They go to 0 and the volume says sync failed, recorded; FLUSHes
 * are not failed for it (this run's syncs did not fail).  Once in that
 * state, the flag again leaves the seqs (copies landed since) alone; a
 * HELLO without it never touches them. */
static void test_replica_vol_hello_sync_failed_resets_seqs(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);

	seqmap_set(v->seq, 3, 1, 10);
	hello_again(f, v, 0);
	assert_int_equal(seqmap_get(v->seq, 3), 10);
	assert_int_equal(v->state, REPL_STATE_DIRTY);
	hello_again(f, v, REPL_F_SYNC_FAILED);
	assert_int_equal(seqmap_get(v->seq, 3), 0);
	assert_int_equal(v->state, REPL_STATE_SYNC_FAILED);
	assert_int_equal(meta_state(f), REPL_STATE_SYNC_FAILED);
	assert_int_equal(v->sync_failed, 0);
	seqmap_set(v->seq, 3, 1, 10);	/* a copy landed */
	hello_again(f, v, REPL_F_SYNC_FAILED);
	assert_int_equal(seqmap_get(v->seq, 3), 10);
	close_vol(f, v, -1);
}

/* A HELLO that finds no free handle on its connection when its record
 * lands (do_hello's count should prevent it) is refused with EMFILE and
 * gives its reference back; it used to write through a NULL handle. */
static void test_replica_vol_hello_no_handle_refused(void **state)
{
	struct replica_hello hl = {
		.volume = VOL, .size = VOL_SIZE, .block_size = BLOCK,
		.create = true, .epoch = 1,
	};
	struct fixture *f = *state;
	static struct rvol other;
	struct rvol *v;
	unsigned int i;

	for (i = 0; i < REPLICA_MAX_HANDLES; i++)
		f->c.handles[i].vol = &other;
	assert_int_equal(replica_vol_open(f->r, &hl, &v), 0);
	replica_vol_get(v);
	f->s.req.epoch = 1;
	replica_vol_hello(v, &f->s);
	settle(f);
	assert_int_equal(f->reply, EMFILE);
	for (i = 0; i < REPLICA_MAX_HANDLES; i++)
		assert_ptr_equal(f->c.handles[i].vol, &other);
	memset(f->c.handles, 0, sizeof(f->c.handles));
	/* its reference given back: the volume closed clean */
	assert_int_equal(f->r->nvols, 0);
	assert_int_equal(meta_state(f), REPL_STATE_CLEAN);
}

/* The plain close: both files synced, recorded clean, volume freed. */
static void test_replica_vol_close_clean(void **state)
{
	struct fixture *f = *state;

	close_vol(f, open_vol(f), -1);
	assert_int_equal(f->r->nvols, 0);
	assert_false(f->r->unclean);
	assert_int_equal(meta_state(f), REPL_STATE_CLEAN);
}

/* A close whose syncs got only sqes SQEs (0 or 1 of the 2) and none
 * failed: the volume stays, and the server's tick syncs it again and
 * records it clean rather than leaving it dirty. */
static void check_close_retried(struct fixture *f, int sqes)
{
	struct rvol *v = open_vol(f);

	close_vol(f, v, sqes);
	assert_int_equal(f->r->nvols, 1);
	assert_int_equal(v->sync_failed, 0);
	tick_later(f);
	assert_int_equal(f->r->nvols, 0);
	assert_false(f->r->unclean);
	assert_int_equal(meta_state(f), REPL_STATE_CLEAN);
}

/* No SQE at all for the close's syncs: nothing failed, so the server's
 * tick starts them again, and the volume is then recorded clean. */
static void test_replica_vol_close_no_sqe_retried(void **state)
{
	check_close_retried(*state, 0);
}

/* An SQE for the first sync only: it completes, the second never ran,
 * and the tick syncs both again rather than leaving the volume dirty. */
static void test_replica_vol_close_half_submitted_retried(void **state)
{
	check_close_retried(*state, 1);
}

/* Used again before the retry is due: the retry is dropped, and the
 * next close syncs it as usual. */
static void test_replica_vol_close_no_sqe_reopened(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);

	close_vol(f, v, 0);
	replica_vol_get(v);		/* a new HELLO's reference */
	f->c.handles[0].vol = v;
	tick_later(f);
	assert_int_equal(f->r->nvols, 1);
	assert_int_equal(v->state, REPL_STATE_DIRTY);
	close_vol(f, v, -1);
	assert_int_equal(f->r->nvols, 0);
	assert_int_equal(meta_state(f), REPL_STATE_CLEAN);
}

/* A close whose syncs got sqes SQEs (-1: all they asked for) and whose
 * syncs that ran failed with EIO: nothing is retried, by two ticks, and
 * the volume stays, recorded sync-failed.  Returns the volume. */
static struct rvol *check_close_eio_not_retried(struct fixture *f, int sqes)
{
	unsigned int vsyncs;
	struct rvol *v = open_vol(f);

	f->vsync_res = -EIO;
	close_vol(f, v, sqes);
	f->vsync_res = 0;
	assert_int_equal(v->sync_failed, EIO);
	vsyncs = f->vsyncs;
	tick_later(f);
	tick_later(f);
	assert_int_equal(f->r->nvols, 1);
	assert_true(f->r->unclean);
	assert_int_equal(meta_state(f), REPL_STATE_SYNC_FAILED);
	assert_int_equal(f->vsyncs, vsyncs);
	assert_int_equal(v->sync_pending, 0);
	return v;
}

/* A sync that fails (EIO) is not retried: the volume stays, recorded
 * sync-failed, and the server will not claim a clean stop. */
static void test_replica_vol_close_sync_eio_not_retried(void **state)
{
	struct rvol *v = check_close_eio_not_retried(*state, -1);

	assert_int_equal(v->state, REPL_STATE_SYNC_FAILED);
}

/* Half submitted, and the half that ran failed: a real failure wins
 * over the missing SQE, so nothing is retried either. */
static void test_replica_vol_close_half_submitted_eio_not_retried(void **state)
{
	check_close_eio_not_retried(*state, 1);
}

/* SQEs for both syncs, none for the record saying clean: its write fails
 * at once (meta_kick() reports it), and the volume is given up on as
 * clean in memory only (freed, r->unclean, .meta still dirty).  The
 * completion that got there used to touch the freed volume. */
static void test_replica_vol_close_clean_record_no_sqe(void **state)
{
	struct fixture *f = *state;
	struct rvol *v = open_vol(f);

	f->c.handles[0].vol = NULL;
	sqe_budget = 2;
	replica_vol_put(v);
	settle(f);
	sqe_budget = -1;
	assert_int_equal(f->r->nvols, 0);
	assert_true(f->r->unclean);
	assert_int_equal(meta_state(f), REPL_STATE_DIRTY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replica_vol_close_clean,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_close_no_sqe_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_close_half_submitted_retried, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_close_no_sqe_reopened, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_close_sync_eio_not_retried, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_close_half_submitted_eio_not_retried,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_close_clean_record_no_sqe, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_hello_sync_failed_resets_seqs, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_unclean_open_zeroes_unsynced_seqs,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_unclean_open_without_flush, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_unclean_open_zeroes_runs, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_clean_close_syncs_every_seq, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_killed_keeps_unsynced_seqs, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_older_record_zeroes_unsynced_seqs,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_killed_after_sync_failed_resets, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_flush_after_out_of_order_claims_nothing,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_old_seq_waits_for_a_lower_record,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_flushes_record_on_the_tick, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_flush_reply_says_recorded_seq, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_fs_error_counts_for_every_volume,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_replica_vol_hello_no_handle_refused, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
