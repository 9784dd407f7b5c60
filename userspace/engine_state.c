/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_state: the volume's small persistent state in the state dir,
 * <name>.state: the engine generation (epoch) and the seq reservation.
 *
 * Seqs are reserved in chunks: the file records seq_limit, and no seq at or
 * above it has ever been handed out.  A restarted engine starts at the old
 * limit, so it never reuses a seq even after a SIGKILL, and pays one
 * fdatasync per ESEQ_CHUNK writes.
 */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define ESTATE_MAGIC	0x4554415453595254ULL	/* "TRYSTATE" */
#define ESEQ_CHUNK	(1ULL << 20)

struct estate_disk {
	uint64_t magic;
	uint64_t epoch;
	uint64_t seq_limit;
	uint64_t size;
	uint32_t block_size;
	uint32_t __pad;
};

int engine_state_path(const struct engine *e, const char *suffix, char *buf,
		      size_t len)
{
	int n = snprintf(buf, len, "%s/%s.%s", e->state_dir, e->name, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int persist(struct engine *e)
{
	struct estate_disk d;

	memset(&d, 0, sizeof(d));
	d.magic = ESTATE_MAGIC;
	d.epoch = e->st.epoch;
	d.seq_limit = e->st.seq_limit;
	d.size = e->size;
	d.block_size = e->bs;
	if (pwrite(e->st.fd, &d, sizeof(d), 0) != (ssize_t)sizeof(d))
		return -EIO;
	return fdatasync(e->st.fd) ? -errno : 0;
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
		return -errno;
	memset(&d, 0, sizeof(d));
	n = pread(e->st.fd, &d, sizeof(d), 0);
	if (n == (ssize_t)sizeof(d)) {
		if (d.magic != ESTATE_MAGIC || d.size != e->size ||
		    d.block_size != e->bs) {
			log_err("%s: %s is not this volume's state (size or "
				"block size differ)", e->name, path);
			return -EINVAL;
		}
	} else if (n != 0) {
		return -EIO;
	}
	/* Replica servers refuse epochs older than the newest they have
	 * seen, which may come from an engine with another (or a lost)
	 * state dir: the wall clock in ms keeps a new engine ahead of every
	 * older one; the persisted epoch keeps it monotonic here. */
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	e->st.epoch = d.epoch + 1 > now_ms ? d.epoch + 1 : now_ms;
	e->st.next_seq = d.seq_limit ? d.seq_limit : 1;
	e->st.seq_limit = e->st.next_seq + ESEQ_CHUNK;
	return persist(e);
}

void engine_state_close(struct engine *e)
{
	if (e->st.fd > 0)
		close(e->st.fd);
	e->st.fd = -1;
}

uint64_t engine_state_next_seq(struct engine *e)
{
	if (e->st.next_seq >= e->st.seq_limit) {
		e->st.seq_limit = e->st.next_seq + ESEQ_CHUNK;
		if (persist(e)) {
			log_err("%s: cannot persist the seq reservation",
				e->name);
			return 0;
		}
	}
	return e->st.next_seq++;
}

int engine_state_seen_seq(struct engine *e, uint64_t seen)
{
	if (seen < e->st.next_seq)
		return 0;
	e->st.next_seq = seen + 1;
	e->st.seq_limit = e->st.next_seq + ESEQ_CHUNK;
	return persist(e);
}

int engine_state_bump_epoch(struct engine *e)
{
	e->st.epoch++;
	return persist(e);
}
