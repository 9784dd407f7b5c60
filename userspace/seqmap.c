/* SPDX-License-Identifier: Apache-2.0 */
#include "seqmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct seqmap {
	uint64_t *seq;
	uint64_t nr_blocks;
	size_t len;
	int fd;
};

int seqmap_open(const char *path, uint64_t nr_blocks, bool create,
		struct seqmap **out)
{
	struct seqmap *m;
	struct stat st;
	size_t len;
	int fd, err;

	if (!nr_blocks || nr_blocks > (SIZE_MAX / 8))
		return -EINVAL;
	len = (size_t)nr_blocks * 8;
	fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto err_close;
	}
	if ((uint64_t)st.st_size != len) {
		if (!create || (uint64_t)st.st_size > len) {
			err = -EINVAL;
			goto err_close;
		}
		if (ftruncate(fd, (off_t)len)) {
			err = -errno;
			goto err_close;
		}
	}
	/* A store into a page of a shared mapping that has no block under
	 * it on a full filesystem raises SIGBUS: allocate every page now,
	 * where running out of space is an error the caller can report. */
	err = -posix_fallocate(fd, 0, (off_t)len);
	if (err)
		goto err_close;
	m = calloc(1, sizeof(*m));
	if (!m) {
		err = -ENOMEM;
		goto err_close;
	}
	m->seq = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m->seq == MAP_FAILED) {
		err = -errno;
		free(m);
		goto err_close;
	}
	m->fd = fd;
	m->nr_blocks = nr_blocks;
	m->len = len;
	*out = m;
	return 0;

err_close:
	close(fd);
	return err;
}

void seqmap_close(struct seqmap *m)
{
	if (!m)
		return;
	munmap(m->seq, m->len);
	close(m->fd);
	free(m);
}

uint64_t seqmap_blocks(const struct seqmap *m)
{
	return m->nr_blocks;
}

uint64_t seqmap_get(const struct seqmap *m, uint64_t block)
{
	return __atomic_load_n(&m->seq[block], __ATOMIC_RELAXED);
}

void seqmap_set(struct seqmap *m, uint64_t first, uint64_t n, uint64_t seq)
{
	uint64_t i;

	for (i = first; i < first + n; i++)
		__atomic_store_n(&m->seq[i], seq, __ATOMIC_RELAXED);
}

uint64_t seqmap_max(const struct seqmap *m, uint64_t first, uint64_t n)
{
	uint64_t i, v, max = 0;

	for (i = first; i < first + n; i++) {
		v = seqmap_get(m, i);
		if (v > max)
			max = v;
	}
	return max;
}

int seqmap_sync(struct seqmap *m)
{
	return msync(m->seq, m->len, MS_SYNC) ? -errno : 0;
}

int seqmap_fd(const struct seqmap *m)
{
	return m->fd;
}
