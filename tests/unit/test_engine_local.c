/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine_local: a real engine on two local replicas, one a file on
 * tmpfs (/dev/shm), whose plain reads and writes engine_local does in the
 * loop unless many ops are out on it, and one on the disk's file system
 * (/var/tmp), which takes them through io_uring.  Both must end up with
 * the same bytes and seqs.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <cmocka.h>

#include "engine.h"
#include "dirtymap.h"
#include "engine_int.h"
#include "seqmap.h"
#include "uloop.h"

#define SIZE	(8u << 20)
#define BS	4096u
#define NW	64u
#define NBURST	24u	/* rewritten at once: blocks 0..NBURST-1 */
#define MAX_OUT	16u	/* engine_local.c's INLINE_MAX_OUT */

static char shm_dir[64], disk_dir[64], shm_img[96], disk_img[96];
static struct uloop *loop;
static int ndone, nfail;

static void done(void *arg, int res)
{
	(void)arg;
	ndone++;
	nfail += res != 0;
}

static void run_until(int n)
{
	int spins = 0;

	while (ndone < n) {
		assert_true(uloop_run_once(loop, 100000000ULL) >= 0);
		assert_true(++spins < 10000);
	}
}

static void fill(uint8_t *p, uint64_t off, uint8_t gen)
{
	uint32_t i;

	for (i = 0; i < BS; i++)
		p[i] = (uint8_t)(off / BS * 7 + i + gen);
}

/* The options of the volume on both replicas, "mem" (index 0) and
 * "disk" (index 1). */
static void opts_init(struct engine_opts *o, bool create)
{
	*o = (struct engine_opts){
		.name = "loc", .size = SIZE, .ack = ENGINE_ACK_ALL,
		.nr_replicas = 2, .state_dir = disk_dir, .create = create,
	};
	o->replicas[0].zone = "mem";
	o->replicas[0].path = shm_img;
	o->replicas[1].zone = "disk";
	o->replicas[1].path = disk_img;
}

/* The volume on both replicas, or (disk_only) on the disk one alone. */
static struct engine *make_on(bool create, bool disk_only)
{
	struct engine_opts o;
	struct engine *e;

	opts_init(&o, create);
	if (disk_only) {
		o.replicas[0] = o.replicas[1];
		o.nr_replicas = 1;
	}
	assert_int_equal(engine_create(loop, &o, &e), 0);
	return e;
}

static struct engine *make(bool create)
{
	return make_on(create, false);
}

/* Block b's offset: NW blocks spread over the volume, none twice. */
static uint64_t blk(unsigned int i)
{
	return (uint64_t)(i * 37u % (SIZE / BS)) * BS;
}

/* Blocks below NBURST hold generation 2, the rest generation 1. */
static void check_file(const char *path)
{
	uint8_t want[BS], got[BS];
	unsigned int i;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	for (i = 0; i < NW; i++) {
		fill(want, blk(i), i < NBURST ? 2 : 1);
		assert_int_equal(pread(fd, got, BS, (off_t)blk(i)), BS);
		assert_memory_equal(got, want, BS);
	}
	close(fd);
}

static void test_engine_local_tmpfs_inline(void **state)
{
	struct engine_stats st;
	struct uloop_buf *b;
	struct engine *e;
	unsigned int i;

	(void)state;
	e = make(true);
	/* Plain writes, then one FUA write, which stays on io_uring. */
	for (i = 0; i < NW; i++) {
		assert_int_equal(uloop_buf_get(loop, BS, &b), 0);
		fill(b->base, blk(i), 1);
		assert_int_equal(engine_write(e, blk(i), BS, b,
					      i == NW - 1 ? ENGINE_FUA : 0,
					      done, NULL), 0);
		run_until((int)i + 1);
	}
	assert_int_equal(nfail, 0);
	engine_get_stats(e, &st);
	assert_int_equal(st.in_sync, 2);
	assert_int_equal(st.replica[0].inline_ops, NW - 1);
	assert_int_equal(st.replica[1].inline_ops, 0);

	/* A burst: the first MAX_OUT writes are done inline, each leaving
	 * a NOP out; the rest find that many out and go to io-wq workers. */
	for (i = 0; i < NBURST; i++) {
		assert_int_equal(uloop_buf_get(loop, BS, &b), 0);
		fill(b->base, blk(i), 2);
		assert_int_equal(engine_write(e, blk(i), BS, b, 0, done, NULL),
				 0);
	}
	run_until((int)(NW + NBURST));
	assert_int_equal(nfail, 0);
	engine_get_stats(e, &st);
	assert_int_equal(st.replica[0].inline_ops, NW - 1 + MAX_OUT);

	/* Reads come back right, whichever replica serves them. */
	assert_int_equal(uloop_buf_get(loop, BS, &b), 0);
	for (i = 0; i < NW; i++) {
		uint8_t want[BS];

		assert_int_equal(engine_read(e, blk(i), BS, b, done, NULL), 0);
		run_until((int)(NW + NBURST + i + 1));
		fill(want, blk(i), i < NBURST ? 2 : 1);
		assert_memory_equal(b->base, want, BS);
	}
	uloop_buf_put(loop, b);
	assert_int_equal(engine_flush(e, done, NULL), 0);
	run_until((int)(2 * NW + NBURST + 1));
	assert_int_equal(nfail, 0);
	engine_destroy(e);

	check_file(shm_img);
	check_file(disk_img);

	/* Reopened, both replicas' seqs agree: in sync, nothing to copy. */
	e = make(false);
	engine_get_stats(e, &st);
	assert_int_equal(st.in_sync, 2);
	assert_int_equal(st.replica[0].dirty_regions, 0);
	assert_int_equal(st.replica[1].dirty_regions, 0);
	engine_destroy(e);
}

/* NW blocks of generation 1, written and flushed; done() counts from 0. */
static void write_all(struct engine *e)
{
	struct uloop_buf *b;
	unsigned int i;

	ndone = nfail = 0;
	for (i = 0; i < NW; i++) {
		assert_int_equal(uloop_buf_get(loop, BS, &b), 0);
		fill(b->base, blk(i), 1);
		assert_int_equal(engine_write(e, blk(i), BS, b, 0, done, NULL),
				 0);
		run_until((int)i + 1);
	}
	assert_int_equal(engine_flush(e, done, NULL), 0);
	run_until((int)NW + 1);
	assert_int_equal(nfail, 0);
}

/* Both replicas in sync, then every block reads back (local replicas are
 * read first in order: the "mem" one), and both files hold the data. */
static void check_resynced(struct engine *e)
{
	struct engine_stats st;
	struct uloop_buf *b;
	uint8_t want[BS];
	unsigned int i, spins = 0;

	for (;;) {
		engine_get_stats(e, &st);
		if (st.in_sync == 2)
			break;
		assert_true(uloop_run_once(loop, 10000000ULL) >= 0);
		assert_true(++spins < 1000);
	}
	ndone = nfail = 0;
	assert_int_equal(uloop_buf_get(loop, BS, &b), 0);
	for (i = 0; i < NW; i++) {
		assert_int_equal(engine_read(e, blk(i), BS, b, done, NULL), 0);
		run_until((int)i + 1);
		fill(want, blk(i), 1);
		assert_memory_equal(b->base, want, BS);
	}
	uloop_buf_put(loop, b);
	assert_int_equal(nfail, 0);
	engine_destroy(e);
	for (i = 0; i < NW; i++) {
		uint8_t got[BS];
		int fd = open(i & 1 ? disk_img : shm_img, O_RDONLY);

		assert_true(fd >= 0);
		fill(want, blk(i), 1);
		assert_int_equal(pread(fd, got, BS, (off_t)blk(i)), BS);
		assert_memory_equal(got, want, BS);
		close(fd);
	}
}

static void wipe(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/* %s/*", shm_dir, disk_dir);
	assert_int_equal(system(cmd), 0);
}

/* make_on() with the disk replica alone, in make()'s shape. */
static struct engine *make_disk_only(bool create)
{
	return make_on(create, true);
}

/* A volume made anew by make_it on wiped dirs, with write_all() done. */
static struct engine *make_written(struct engine *(*make_it)(bool create))
{
	struct engine *e;

	wipe();
	e = make_it(true);
	write_all(e);
	return e;
}

/* Replica idx is not taken for in sync: every region is to be copied. */
static void check_full_copy(struct engine *e, unsigned int idx)
{
	struct engine_stats st;

	engine_get_stats(e, &st);
	assert_int_not_equal(st.replica[idx].state, ENGINE_REPLICA_IN_SYNC);
	assert_int_equal(st.replica[idx].dirty_regions, SIZE / 65536);
}

/* A power loss of the state dir, modelled for the files of replica "mem"
 * (loc.mem.*): each comes back as it was when last synced (through
 * dirtymap_sync or seqmap_sync, wrapped below; or before
 * powerloss_begin(), after a clean stop), known by its inode whatever its
 * name now; a file made since and never synced comes back with its size
 * and first page (its header) but nothing after: what writeback may
 * leave of it. */
#define NSHADOW 8
static struct {
	ino_t ino;
	uint8_t *buf;
	size_t len;
} shadows[NSHADOW];
static int nshadow;
static bool tracking;

static void shadow_fd(int fd)
{
	struct stat st;
	int i;

	assert_int_equal(fstat(fd, &st), 0);
	for (i = 0; i < nshadow && shadows[i].ino != st.st_ino; i++)
		;
	assert_true(i < NSHADOW);
	if (i == nshadow)
		nshadow++;
	shadows[i].ino = st.st_ino;
	shadows[i].len = (size_t)st.st_size;
	shadows[i].buf = realloc(shadows[i].buf, shadows[i].len + 1);
	assert_non_null(shadows[i].buf);
	assert_int_equal(pread(fd, shadows[i].buf, shadows[i].len, 0),
			 (ssize_t)shadows[i].len);
}

int __real_dirtymap_sync(struct dirtymap *m);
int __wrap_dirtymap_sync(struct dirtymap *m)
{
	int err = __real_dirtymap_sync(m);

	if (!err && tracking)
		shadow_fd(dirtymap_fd(m));
	return err;
}

int __real_seqmap_sync(struct seqmap *m);
int __wrap_seqmap_sync(struct seqmap *m)
{
	int err = __real_seqmap_sync(m);

	if (!err && tracking)
		shadow_fd(seqmap_fd(m));
	return err;
}

/* Calls fn(path) for each of mem's state files. */
static void each_mem_file(void (*fn)(const char *path))
{
	static const char *const sfx[] = { "dirty", "missed", "seqmap" };
	char path[160];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/loc.mem.%s", disk_dir, sfx[i]);
		if (!access(path, F_OK))
			fn(path);
	}
}

static void shadow_path(const char *path)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	shadow_fd(fd);
	close(fd);
}

/* After a clean stop: what is on disk now is durable. */
static void powerloss_begin(void)
{
	nshadow = 0;
	each_mem_file(shadow_path);
	tracking = true;
}

static void lose_unsynced(const char *path)
{
	static uint8_t zero[4096];
	struct stat st;
	int i, fd = open(path, O_WRONLY);
	off_t off, n;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	for (i = 0; i < nshadow && shadows[i].ino != st.st_ino; i++)
		;
	if (i < nshadow) {
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(pwrite(fd, shadows[i].buf, shadows[i].len, 0),
				 (ssize_t)shadows[i].len);
	} else {
		for (off = 4096; off < st.st_size; off += n) {
			n = st.st_size - off < 4096 ? st.st_size - off : 4096;
			assert_int_equal(pwrite(fd, zero, (size_t)n, off), n);
		}
	}
	close(fd);
}

/* The node loses power with e running: e is gone (its stores since the
 * last sync with it), and mem's files are as they were last synced. */
static void powerloss(struct engine *e)
{
	tracking = false;
	engine_destroy(e);
	each_mem_file(lose_unsynced);
}

/* A replica image that is gone (a replaced disk) is made anew by a
 * volume that creates missing images: it holds none of the data, so it
 * must be copied in full, not taken for in sync. */
static void test_engine_local_recreated_image_resyncs_all(void **state)
{
	struct engine_stats st;
	struct engine *e;

	(void)state;
	e = make_written(make);
	engine_destroy(e);
	assert_int_equal(unlink(shm_img), 0);
	e = make(true);
	check_full_copy(e, 0);
	engine_get_stats(e, &st);
	assert_int_equal(st.replica[1].state, ENGINE_REPLICA_IN_SYNC);
	check_resynced(e);
}

/* The replica image a newly added replica starts with: empty, of the
 * volume's size, where none was. */
static void add_empty_image(void)
{
	int fd = open(shm_img, O_RDWR | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SIZE), 0);
	close(fd);
}

/* A replica added to a volume that has data (an empty image of the right
 * size, no dirty map yet) is copied in full too. */
static void test_engine_local_added_replica_resyncs_all(void **state)
{
	struct engine *e;

	(void)state;
	e = make_written(make_disk_only);
	engine_destroy(e);
	add_empty_image();
	e = make(false);
	check_full_copy(e, 0);
	check_resynced(e);
}

/* The same, and the node loses power before anything is synced: the
 * new image must still be copied in full.  Its seqs were reset and the
 * replica marked in memory only, so the old seqs and in-sync maps came
 * back beside an image that holds none of the data, which was then
 * taken for in sync. */
static void test_engine_local_recreated_image_survives_power_loss(
	void **state)
{
	struct engine *e;

	(void)state;
	e = make_written(make);
	engine_destroy(e);
	powerloss_begin();
	assert_int_equal(unlink(shm_img), 0);
	e = make(true);
	powerloss(e);
	e = make(false);
	check_full_copy(e, 0);
	check_resynced(e);
}

/* A replica added to a volume that has data, and a power loss before
 * anything is synced: its new maps must not come back in place with no
 * bit set (in sync), as they could when made in place and not synced. */
static void test_engine_local_added_replica_survives_power_loss(void **state)
{
	struct engine *e;

	(void)state;
	e = make_written(make_disk_only);
	engine_destroy(e);
	powerloss_begin();
	add_empty_image();
	e = make(false);
	powerloss(e);
	e = make(false);
	check_full_copy(e, 0);
	check_resynced(e);
}

/* How many lines of file path contain str. */
static int count_lines(const char *path, const char *str)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, str) != NULL;
	fclose(f);
	return n;
}

/* A replica new to the volume whose image is made anew too is marked
 * empty once: the second mark would scan every region again and say so
 * again. */
static void test_engine_local_marked_empty_once(void **state)
{
	struct engine *e;
	char logf[128];
	int fd, saved;

	(void)state;
	e = make_written(make_disk_only);
	engine_destroy(e);
	snprintf(logf, sizeof(logf), "%s/log", shm_dir);
	fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	e = make(true);		/* mem: no maps, no image */
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	check_full_copy(e, 0);
	assert_int_equal(count_lines(logf, "all of it is to be copied"), 1);
	check_resynced(e);
}

/* An image made anew whose seqmap then cannot be opened is removed again:
 * left behind, the next open would take it for an existing image (its
 * seqmap not reset, no full copy asked for). */
static void test_engine_local_made_image_removed_on_failure(void **state)
{
	struct engine_opts o;
	struct engine_stats st;
	char seqmap[128];
	struct engine *e;

	(void)state;
	e = make_written(make);
	engine_destroy(e);
	assert_int_equal(unlink(shm_img), 0);
	snprintf(seqmap, sizeof(seqmap), "%s/loc.mem.seqmap", disk_dir);
	assert_int_equal(unlink(seqmap), 0);
	assert_int_equal(mkdir(seqmap, 0700), 0);
	opts_init(&o, true);
	o.min_in_sync = 1;
	assert_int_equal(engine_create(loop, &o, &e), 0);
	engine_get_stats(e, &st);
	assert_int_not_equal(st.replica[0].state, ENGINE_REPLICA_IN_SYNC);
	engine_destroy(e);
	assert_int_equal(access(shm_img, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rmdir(seqmap), 0);
	e = make(true);
	check_full_copy(e, 0);
	check_resynced(e);
}

/* A flush started, done() counting from 0, its fdatasync on the disk
 * replica issued.  Returns its request. */
static struct ereq *start_flush(struct engine *e)
{
	struct ereq *q;

	ndone = nfail = 0;
	assert_int_equal(engine_flush(e, done, NULL), 0);
	q = e->tail;
	assert_non_null(q);
	assert_int_equal(q->op, EOP_FLUSH);
	assert_int_equal(q->sub[1].state, SUB_ISSUED);
	return q;
}

/* A flush whose fdatasync on the disk replica fails with EIO (the fault
 * is injected at the engine's completion seam: the real fsync CQEs come
 * later and find the sub abandoned). */
static void fail_disk_sync(struct engine *e)
{
	struct ereq *q = start_flush(e);

	engine_enter(e);
	engine_sub_done(q, 1, -EIO);
	engine_leave(e);
	run_until(1);
}

/* What the kernel drops when the writeback behind a failed sync fails:
 * the disk image holds other bytes than its seqmap vouches for. */
static void drop_disk_writes(void)
{
	uint8_t junk[BS];
	unsigned int i;
	int fd = open(disk_img, O_WRONLY);

	assert_true(fd >= 0);
	memset(junk, 0x5a, sizeof(junk));
	for (i = 0; i < NW; i++)
		assert_int_equal(pwrite(fd, junk, BS, (off_t)blk(i)), BS);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

/* After a failed sync a local replica's seqs vouch for writes that may
 * be lost, so its resync (a copy applies only where it is newer) would
 * leave those blocks as they are: its seqs must be reset before it is
 * used again, as a replica server resets its own. */
static void test_engine_local_failed_sync_resets_seqs(void **state)
{
	struct engine_stats st;
	struct engine *e;

	(void)state;
	e = make_written(make);
	fail_disk_sync(e);
	engine_get_stats(e, &st);
	assert_int_equal(st.replica[1].state, ENGINE_REPLICA_DEGRADED);
	drop_disk_writes();
	check_resynced(e);	/* reopened by its retry, copied from mem */
}

/* Flush CQEs of the disk replica (index 1) that the kernel completes
 * while this is set come back failed with EIO, as from a disk whose
 * writeback failed (at the seam between the loop and engine_local). */
static bool fail_disk_flush_cqes;

void __real_engine_local_cqe(struct engine *e, struct ereq *q,
			     struct erepl *r, const struct io_uring_cqe *cqe);

void __wrap_engine_local_cqe(struct engine *e, struct ereq *q,
			     struct erepl *r, const struct io_uring_cqe *cqe)
{
	struct io_uring_cqe c = *cqe;

	if (fail_disk_flush_cqes && r->idx == 1 && q->op == EOP_FLUSH &&
	    c.res >= 0)
		c.res = -EIO;
	__real_engine_local_cqe(e, q, r, &c);
}

/* A flush the disk replica was failed for before its fdatasync ended (it
 * ran past the flush timeout, or another op failed there first): the
 * sync then failing still means that writes may be lost there, and its
 * seqs must be reset before its resync, or they keep vouching for them. */
static void test_engine_local_abandoned_failed_sync_resets_seqs(void **state)
{
	struct engine *e;
	int spins = 0;

	(void)state;
	e = make_written(make);
	drop_disk_writes();
	fail_disk_flush_cqes = true;
	start_flush(e);
	engine_enter(e);
	engine_replica_fail(&e->repl[1], -ETIMEDOUT, "test: flush timeout");
	engine_leave(e);
	run_until(1);
	while (!engine_local_idle(&e->repl[1])) {
		assert_true(uloop_run_once(loop, 10000000ULL) >= 0);
		assert_true(++spins < 1000);
	}
	fail_disk_flush_cqes = false;
	check_resynced(e);	/* reopened by its retry, copied from mem */
}

/* The same across a restart before the replica was reopened: the failed
 * sync is on record, and the next open resets the seqs. */
static void test_engine_local_seqs_reset_after_restart(void **state)
{
	struct engine *e;

	(void)state;
	e = make_written(make);
	fail_disk_sync(e);
	engine_destroy(e);
	drop_disk_writes();
	e = make(false);
	check_full_copy(e, 1);
	check_resynced(e);
}

/* ---- a fake remote replica: up at once, holding no write (its HELLO
 * would say applied_seq 0: a server whose data dir was wiped), acking
 * every op as it is submitted. ---- */

int __wrap_engine_remote_init(struct erepl *r, const char *addr)
{
	(void)r;
	(void)addr;
	return 0;
}

void __wrap_engine_remote_free(struct erepl *r)
{
	(void)r;
}

int __wrap_engine_remote_connect(struct erepl *r)
{
	engine_replica_up(r);
	return 0;
}

void __wrap_engine_remote_shutdown(struct erepl *r)
{
	(void)r;
}

bool __wrap_engine_remote_idle(const struct erepl *r)
{
	(void)r;
	return true;
}

int __wrap_engine_remote_submit(struct erepl *r, struct ereq *q)
{
	engine_sub_done(q, r->idx, 0);
	return 0;
}

/* The volume on a remote replica (index 0, "far") and the disk one. */
static struct engine *make_far(bool create)
{
	struct engine_opts o;
	struct engine *e;

	opts_init(&o, create);
	o.min_in_sync = 1;
	o.replicas[0].zone = "far";
	o.replicas[0].path = NULL;
	o.replicas[0].addr = "127.0.0.1:1";
	assert_int_equal(engine_create(loop, &o, &e), 0);
	return e;
}

/* The wiped remote is copied in full, its missed map saying all of it
 * was written; e is destroyed. */
static void check_far_copied_in_full(struct engine *e)
{
	check_full_copy(e, 0);
	assert_int_equal(dirtymap_count(e->repl[0].missed), SIZE / 65536);
	engine_destroy(e);
}

/* The disk replica's sync failed, and at the restart its seqs are reset
 * (no seq of it vouches for the volume's writes any more) while the
 * remote that held them comes back wiped: the volume was written all the
 * same, so that remote holds none of it and must be copied in full, not
 * taken for in sync (every read from it would return zeroes). */
static void test_engine_local_reset_seqs_still_say_written(void **state)
{
	struct engine *e;

	(void)state;
	e = make_written(make_far);
	fail_disk_sync(e);
	engine_destroy(e);
	e = make_far(false);
	check_far_copied_in_full(e);
}

/* The same when the disk replica's image is made anew (a replaced disk)
 * at the restart that finds the remote wiped: its seqs are reset there,
 * before the remote's HELLO is judged. */
static void test_engine_local_new_image_still_says_written(void **state)
{
	struct engine *e;

	(void)state;
	e = make_written(make_far);
	engine_destroy(e);
	assert_int_equal(unlink(disk_img), 0);
	e = make_far(true);
	check_far_copied_in_full(e);
}

static int setup(void **state)
{
	struct uloop_opts lo = { .nr_small = 64, .nr_large = 2 };
	struct statfs sf;

	(void)state;
	if (statfs("/dev/shm", &sf) || sf.f_type != TMPFS_MAGIC) {
		print_message("SKIP: /dev/shm is not a tmpfs\n");
		return -1;
	}
	snprintf(shm_dir, sizeof(shm_dir), "/dev/shm/engine-local-XXXXXX");
	snprintf(disk_dir, sizeof(disk_dir), "/var/tmp/engine-local-XXXXXX");
	assert_non_null(mkdtemp(shm_dir));
	assert_non_null(mkdtemp(disk_dir));
	assert_true(statfs(disk_dir, &sf) == 0 && sf.f_type != TMPFS_MAGIC);
	snprintf(shm_img, sizeof(shm_img), "%s/img", shm_dir);
	snprintf(disk_img, sizeof(disk_img), "%s/img", disk_dir);
	assert_int_equal(uloop_create(&lo, &loop), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	uloop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", shm_dir, disk_dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_local_tmpfs_inline),
		cmocka_unit_test(test_engine_local_recreated_image_resyncs_all),
		cmocka_unit_test(test_engine_local_added_replica_resyncs_all),
		cmocka_unit_test(
			test_engine_local_recreated_image_survives_power_loss),
		cmocka_unit_test(
			test_engine_local_added_replica_survives_power_loss),
		cmocka_unit_test(test_engine_local_made_image_removed_on_failure),
		cmocka_unit_test(test_engine_local_marked_empty_once),
		cmocka_unit_test(test_engine_local_failed_sync_resets_seqs),
		cmocka_unit_test(test_engine_local_seqs_reset_after_restart),
		cmocka_unit_test(test_engine_local_abandoned_failed_sync_resets_seqs),
		cmocka_unit_test(test_engine_local_reset_seqs_still_say_written),
		cmocka_unit_test(test_engine_local_new_image_still_says_written),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
