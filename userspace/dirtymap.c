/* SPDX-License-Identifier: Apache-2.0 */
#include "dirtymap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DM_MAGIC	0x50414d5959525054ULL	/* "TPRYYMAP" */
#define DM_VERSION	1
#define DM_HDR		4096

struct dm_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t region_size;
	uint64_t nr_regions;
	uint32_t flags;		/* the caller's; 0 in files of old engines */
	uint32_t __pad;
};

struct dirtymap {
	uint8_t *map;		/* header page, then the words */
	uint64_t *words;
	size_t len;
	uint64_t nr_regions;
	uint64_t nr_words;
	uint64_t count;
	uint32_t region_size;
	unsigned int shift;
	int fd;
	uint64_t version;	/* changes so far */
	uint64_t synced;	/* version at the last dirtymap_sync() */
};

static size_t map_len(uint64_t nr_regions)
{
	return DM_HDR + (size_t)((nr_regions + 63) / 64) * 8;
}

static int check_or_init(int fd, uint64_t nr_regions, uint32_t region_size,
			 bool create, size_t len)
{
	struct dm_hdr h;
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st))
		return -errno;
	if (st.st_size == 0 && create) {
		if (ftruncate(fd, (off_t)len))
			return -errno;
		memset(&h, 0, sizeof(h));
		h.magic = DM_MAGIC;
		h.version = DM_VERSION;
		h.region_size = region_size;
		h.nr_regions = nr_regions;
		n = pwrite(fd, &h, sizeof(h), 0);
		return n == (ssize_t)sizeof(h) ? 0 : -EIO;
	}
	if ((uint64_t)st.st_size != len)
		return -EINVAL;
	n = pread(fd, &h, sizeof(h), 0);
	if (n != (ssize_t)sizeof(h))
		return -EIO;
	if (h.magic != DM_MAGIC || h.version != DM_VERSION ||
	    h.region_size != region_size || h.nr_regions != nr_regions)
		return -EINVAL;
	return 0;
}

static uint64_t count_bits(const struct dirtymap *m)
{
	uint64_t i, n = 0;

	for (i = 0; i < m->nr_words; i++)
		n += (uint64_t)__builtin_popcountll(m->words[i]);
	return n;
}

int dirtymap_open(const char *path, uint64_t nr_regions, uint32_t region_size,
		  bool create, struct dirtymap **out)
{
	struct dirtymap *m;
	size_t len;
	int fd, err;

	if (!nr_regions || nr_regions > (1ULL << 40) || region_size < 512 ||
	    (region_size & (region_size - 1)))
		return -EINVAL;
	len = map_len(nr_regions);
	fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0)
		return -errno;
	err = check_or_init(fd, nr_regions, region_size, create, len);
	if (err)
		goto err_close;
	/* Setting a bit stores into a shared mapping: on a full filesystem a
	 * page with no block under it would raise SIGBUS then.  Allocate
	 * every page now, where running out of space is an error. */
	err = -posix_fallocate(fd, 0, (off_t)len);
	if (err)
		goto err_close;
	m = calloc(1, sizeof(*m));
	if (!m) {
		err = -ENOMEM;
		goto err_close;
	}
	m->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m->map == MAP_FAILED) {
		err = -errno;
		free(m);
		goto err_close;
	}
	m->fd = fd;
	m->words = (uint64_t *)(m->map + DM_HDR);
	m->len = len;
	m->nr_regions = nr_regions;
	m->nr_words = (nr_regions + 63) / 64;
	m->region_size = region_size;
	m->shift = (unsigned int)__builtin_ctz(region_size);
	m->count = count_bits(m);
	*out = m;
	return 0;

err_close:
	close(fd);
	return err;
}

void dirtymap_close(struct dirtymap *m)
{
	if (!m)
		return;
	munmap(m->map, m->len);
	close(m->fd);
	free(m);
}

uint64_t dirtymap_regions(const struct dirtymap *m)
{
	return m->nr_regions;
}

uint32_t dirtymap_region_size(const struct dirtymap *m)
{
	return m->region_size;
}

uint64_t dirtymap_count(const struct dirtymap *m)
{
	return m->count;
}

bool dirtymap_test(const struct dirtymap *m, uint64_t region)
{
	if (region >= m->nr_regions)
		return false;
	return (m->words[region / 64] >> (region % 64)) & 1;
}

void dirtymap_set(struct dirtymap *m, uint64_t region)
{
	uint64_t bit = 1ULL << (region % 64);

	if (region >= m->nr_regions || (m->words[region / 64] & bit))
		return;
	m->words[region / 64] |= bit;
	m->count++;
	m->version++;
}

void dirtymap_clear(struct dirtymap *m, uint64_t region)
{
	uint64_t bit = 1ULL << (region % 64);

	if (region >= m->nr_regions || !(m->words[region / 64] & bit))
		return;
	m->words[region / 64] &= ~bit;
	m->count--;
	m->version++;
}

void dirtymap_clear_all(struct dirtymap *m)
{
	if (!m->count)
		return;
	memset(m->words, 0, m->nr_words * 8);
	m->count = 0;
	m->version++;
}

/* Regions [*first, *last] touched by [off, off + len), clipped; false if
 * none. */
static bool range_regions(const struct dirtymap *m, uint64_t off, uint64_t len,
			  uint64_t *first, uint64_t *last)
{
	if (!len)
		return false;
	*first = off >> m->shift;
	*last = (off + len - 1) >> m->shift;
	if (*first >= m->nr_regions)
		return false;
	if (*last >= m->nr_regions)
		*last = m->nr_regions - 1;
	return true;
}

uint64_t dirtymap_set_range(struct dirtymap *m, uint64_t off, uint64_t len)
{
	uint64_t r, first, last, before = m->count;

	if (!range_regions(m, off, len, &first, &last))
		return 0;
	for (r = first; r <= last; r++)
		dirtymap_set(m, r);
	return m->count - before;
}

bool dirtymap_test_range(const struct dirtymap *m, uint64_t off, uint64_t len)
{
	uint64_t r, first, last;

	if (!range_regions(m, off, len, &first, &last))
		return false;
	for (r = first; r <= last; r++)
		if (dirtymap_test(m, r))
			return true;
	return false;
}

uint64_t dirtymap_merge(struct dirtymap *dst, const struct dirtymap *src)
{
	uint64_t i, before = dst->count;

	if (dst->nr_regions != src->nr_regions)
		return 0;
	for (i = 0; i < dst->nr_words; i++) {
		uint64_t add = src->words[i] & ~dst->words[i];

		if (add) {
			dst->words[i] |= add;
			dst->count += (uint64_t)__builtin_popcountll(add);
			dst->version++;
		}
	}
	return dst->count - before;
}

uint64_t dirtymap_next(const struct dirtymap *m, uint64_t from)
{
	uint64_t w, word;

	if (from >= m->nr_regions || !m->count)
		return DIRTYMAP_NONE;
	w = from / 64;
	word = m->words[w] & (~0ULL << (from % 64));
	for (;;) {
		if (word) {
			uint64_t r = w * 64 + (uint64_t)__builtin_ctzll(word);

			return r < m->nr_regions ? r : DIRTYMAP_NONE;
		}
		if (++w >= m->nr_words)
			return DIRTYMAP_NONE;
		word = m->words[w];
	}
}

int dirtymap_sync(struct dirtymap *m)
{
	uint64_t v = m->version;

	if (v == m->synced)
		return 0;
	if (msync(m->map, m->len, MS_SYNC))
		return -errno;
	m->synced = v;
	return 0;
}

int dirtymap_fd(const struct dirtymap *m)
{
	return m->fd;
}

void dirtymap_synced(struct dirtymap *m, uint64_t v)
{
	if (v > m->synced)
		m->synced = v;
}

uint64_t dirtymap_version(const struct dirtymap *m)
{
	return m->version;
}

uint32_t dirtymap_flags(const struct dirtymap *m)
{
	const struct dm_hdr *h = (const struct dm_hdr *)m->map;

	return __atomic_load_n(&h->flags, __ATOMIC_RELAXED);
}

void dirtymap_set_flags(struct dirtymap *m, uint32_t flags)
{
	struct dm_hdr *h = (struct dm_hdr *)m->map;

	if (h->flags == flags)
		return;
	__atomic_store_n(&h->flags, flags, __ATOMIC_RELAXED);
	m->version++;
}

uint64_t dirtymap_nr_words(const struct dirtymap *m)
{
	return m->nr_words;
}

const uint64_t *dirtymap_words(const struct dirtymap *m)
{
	return m->words;
}
