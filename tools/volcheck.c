/* SPDX-License-Identifier: Apache-2.0 */
#include "volcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VC_MAGIC 0x4b434c4259525054ULL	/* "TPRYBLCK" */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static void fill_block(uint64_t *w, uint64_t blk, uint64_t id)
{
	uint64_t s = mix(id ^ (blk * 0x9e3779b97f4a7c15ULL)) | 1;
	unsigned int i;

	w[0] = VC_MAGIC;
	w[1] = id;
	w[2] = blk;
	for (i = 3; i < VC_BLOCK / 8; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		w[i] = s;
	}
}

void vc_fill(void *buf, uint64_t off, uint32_t len, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < len / VC_BLOCK; i++)
		fill_block((uint64_t *)((char *)buf + (size_t)i * VC_BLOCK),
			   off / VC_BLOCK + i, id);
}

uint64_t vc_block_id(const void *block, uint64_t off)
{
	const uint64_t *w = block;
	uint64_t want[VC_BLOCK / 8];
	unsigned int i;

	if (w[0] != VC_MAGIC) {
		for (i = 0; i < VC_BLOCK / 8; i++)
			if (w[i])
				return UINT64_MAX;
		return 0;
	}
	if (w[2] != off / VC_BLOCK || !w[1])
		return UINT64_MAX;
	fill_block(want, off / VC_BLOCK, w[1]);
	return memcmp(want, w, VC_BLOCK) ? UINT64_MAX : w[1];
}

struct vc_check {
	uint64_t nblocks;
	uint64_t strict_after;
	uint64_t *acked;		/* last acked id per block */
	/* Later unacked ids per block, all of them: a list per block
	 * through alts[], from head[b] (index + 1; 0 = none).  While no
	 * replica can be written, every write is refused at once, and a
	 * block can collect any number of those after one that did reach a
	 * replica before failing; keeping a few would drop that one. */
	uint32_t *head;
	struct vc_alt {
		uint64_t id;
		uint32_t next;
	} *alts;
	size_t nalts, capalts;
	uint64_t bad, acked_blocks;
	/* Bad blocks are listed, the first few of each image (src) or of
	 * the volume read back (src NULL). */
	const char *src;
	uint64_t shown;
	struct vc_rec *open;		/* issued, not yet answered */
	size_t nopen, capopen;
};

static int add_alt(struct vc_check *c, uint64_t b, uint64_t id)
{
	if (c->nalts == c->capalts) {
		size_t cap = c->capalts ? 2 * c->capalts : 4096;
		void *p;

		if (cap >= UINT32_MAX)
			return -E2BIG;
		p = realloc(c->alts, cap * sizeof(*c->alts));
		if (!p)
			return -ENOMEM;
		c->alts = p;
		c->capalts = cap;
	}
	c->alts[c->nalts].id = id;
	c->alts[c->nalts].next = c->head[b];
	c->head[b] = (uint32_t)++c->nalts;
	return 0;
}

static int take_open(struct vc_check *c, const struct vc_rec *r,
		     struct vc_rec *out)
{
	size_t i;

	for (i = c->nopen; i-- > 0;) {
		if (c->open[i].id == r->id) {
			*out = c->open[i];
			c->open[i] = c->open[--c->nopen];
			return 0;
		}
	}
	return -ENOENT;
}

static int push_open(struct vc_check *c, const struct vc_rec *r)
{
	if (c->nopen == c->capopen) {
		size_t cap = c->capopen ? 2 * c->capopen : 1024;
		void *p = realloc(c->open, cap * sizeof(*c->open));

		if (!p)
			return -ENOMEM;
		c->open = p;
		c->capopen = cap;
	}
	c->open[c->nopen++] = *r;
	return 0;
}

static int apply(struct vc_check *c, const struct vc_rec *r)
{
	struct vc_rec w;
	uint64_t b;
	int err;

	if (r->type == VC_ISSUE)
		return push_open(c, r);
	if (take_open(c, r, &w))
		return -EINVAL;
	if (w.off / VC_BLOCK + w.len / VC_BLOCK > c->nblocks)
		return -EINVAL;
	for (b = w.off / VC_BLOCK; b < (w.off + w.len) / VC_BLOCK; b++) {
		if (r->type == VC_ACK) {
			c->acked[b] = w.id;
			c->head[b] = 0;
		} else if (!c->strict_after || w.t_ns < c->strict_after) {
			if ((err = add_alt(c, b, w.id)))
				return err;
		}
	}
	return 0;
}

int vc_check_load(const char *log_path, uint64_t size,
		  uint64_t strict_after_ns, struct vc_check **out)
{
	struct vc_check *c;
	struct vc_rec r;
	uint64_t b;
	size_t i;
	FILE *f;
	int err = 0;

	f = fopen(log_path, "rb");
	if (!f)
		return -errno;
	c = calloc(1, sizeof(*c));
	if (!c) {
		fclose(f);
		return -ENOMEM;
	}
	c->nblocks = size / VC_BLOCK;
	c->strict_after = strict_after_ns;
	c->acked = calloc(c->nblocks, sizeof(*c->acked));
	c->head = calloc(c->nblocks, sizeof(*c->head));
	if (!c->acked || !c->head)
		err = -ENOMEM;
	while (!err && fread(&r, sizeof(r), 1, f) == 1)
		err = apply(c, &r);
	fclose(f);
	if (err) {
		fprintf(stderr, "log %s: %s\n", log_path, strerror(-err));
		vc_check_free(c);
		return err;
	}
	/* Still open at the end: in flight when the writer died. */
	for (i = 0; !err && i < c->nopen; i++)
		for (b = c->open[i].off / VC_BLOCK; !err &&
		     b < (c->open[i].off + c->open[i].len) / VC_BLOCK &&
		     b < c->nblocks; b++)
			err = add_alt(c, b, c->open[i].id);
	if (err) {
		vc_check_free(c);
		return err;
	}
	for (b = 0; b < c->nblocks; b++)
		c->acked_blocks += c->acked[b] != 0;
	*out = c;
	return 0;
}

void vc_check_free(struct vc_check *c)
{
	if (!c)
		return;
	free(c->acked);
	free(c->head);
	free(c->alts);
	free(c->open);
	free(c);
}

bool vc_check_block(struct vc_check *c, const void *block, uint64_t off)
{
	uint64_t b = off / VC_BLOCK, got = vc_block_id(block, off);
	uint32_t a;

	if (b >= c->nblocks)
		return false;
	if (got == c->acked[b])
		return true;
	for (a = c->head[b]; a && got != UINT64_MAX; a = c->alts[a - 1].next)
		if (got == c->alts[a - 1].id)
			return true;
	c->bad++;
	if (c->shown++ < 10)
		fprintf(stderr, "%s%sblock %llu: holds write %llx, last acked "
			"%llx\n", c->src ? c->src : "", c->src ? ": " : "",
			(unsigned long long)b, (unsigned long long)got,
			(unsigned long long)c->acked[b]);
	return false;
}

uint64_t vc_check_bad(const struct vc_check *c)
{
	return c->bad;
}

uint64_t vc_check_acked_blocks(const struct vc_check *c)
{
	return c->acked_blocks;
}

int64_t vc_check_file(struct vc_check *c, const char *path)
{
	static char buf[1 << 20];
	uint64_t before = c->bad, off = 0, end = c->nblocks * VC_BLOCK;
	ssize_t n, i;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	c->src = path;
	c->shown = 0;
	while (off < end) {
		/* Never past the volume: a longer image's tail is not ours. */
		size_t want = end - off < sizeof(buf) ? end - off : sizeof(buf);

		n = pread(fd, buf, want, (off_t)off);
		if (n <= 0 || n % VC_BLOCK) {
			int err = n < 0 ? -errno : -ENODATA;	/* short */

			close(fd);
			c->src = NULL;
			return err;
		}
		for (i = 0; i < n; i += VC_BLOCK)
			vc_check_block(c, buf + i, off + (uint64_t)i);
		off += (uint64_t)n;
	}
	close(fd);
	c->src = NULL;
	return (int64_t)(c->bad - before);
}

int vc_log_window(const char *log_path, uint64_t size, uint32_t region_size,
		  uint64_t from_ns, uint64_t to_ns, struct vc_window *out)
{
	uint64_t nreg = (size + region_size - 1) / region_size, r;
	struct vc_check c = { 0 };
	struct vc_rec rec, w;
	uint8_t *hit;
	size_t i;
	FILE *f;
	int err = 0;

	memset(out, 0, sizeof(*out));
	hit = calloc(nreg, 1);
	f = fopen(log_path, "rb");
	if (!hit || !f) {
		err = hit ? -errno : -ENOMEM;
		goto out;
	}
	/* Every write out at some time in [from, to]: issued by `to` and
	 * answered no earlier than `from` (or never). */
	while (fread(&rec, sizeof(rec), 1, f) == 1) {
		if (rec.type == VC_ISSUE) {
			if ((err = push_open(&c, &rec)))
				goto out;
			continue;
		}
		if (take_open(&c, &rec, &w))
			continue;
		if (rec.t_ns >= from_ns && rec.t_ns <= to_ns) {
			out->acks += rec.type == VC_ACK;
			out->fails += rec.type == VC_FAIL;
		}
		if (rec.type == VC_ACK && w.t_ns >= from_ns &&
		    (!out->first_ack_ns || rec.t_ns < out->first_ack_ns))
			out->first_ack_ns = rec.t_ns;
		if (w.t_ns <= to_ns && rec.t_ns >= from_ns)
			for (r = w.off / region_size;
			     r <= (w.off + w.len - 1) / region_size && r < nreg;
			     r++)
				hit[r] = 1;
	}
	for (i = 0; i < c.nopen; i++)
		if (c.open[i].t_ns <= to_ns)
			for (r = c.open[i].off / region_size;
			     r <= (c.open[i].off + c.open[i].len - 1) /
				  region_size && r < nreg; r++)
				hit[r] = 1;
	for (r = 0; r < nreg; r++)
		out->regions += hit[r];
out:
	if (f)
		fclose(f);
	free(hit);
	free(c.open);
	return err;
}
