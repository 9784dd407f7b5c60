/* SPDX-License-Identifier: Apache-2.0 */
#include "replica_rules.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "bytes.h"
#include "crc.h"
#include "proto.h"

/* ---- HELLO ---- */

static bool block_size_ok(uint32_t bs)
{
	return bs >= REPLICA_MIN_BLOCK && bs <= REPLICA_MAX_BLOCK &&
	       !(bs & (bs - 1));
}

int replica_hello_check(const struct repl_hdr *h, const void *payload,
			const char *server_zone, struct replica_hello *out)
{
	struct repl_hello p;

	memset(out, 0, sizeof(*out));
	if (h->len != sizeof(p))
		return EINVAL;
	memcpy(&p, payload, sizeof(p));
	p.size = le64toh(p.size);
	p.block_size = le32toh(p.block_size);
	if (!proto_label_ok(p.volume, strnlen(p.volume, sizeof(p.volume)),
			    sizeof(p.volume)))
		return EINVAL;
	if (!memchr(p.zone, 0, sizeof(p.zone)))
		return EINVAL;
	if (!block_size_ok(p.block_size) || !p.size ||
	    p.size % p.block_size || p.size / p.block_size > (1ULL << 32))
		return EINVAL;
	if (p.zone[0] && strcmp(p.zone, server_zone))
		return EXDEV;
	memcpy(out->volume, p.volume, sizeof(out->volume));
	memcpy(out->zone, p.zone, sizeof(out->zone));
	out->size = p.size;
	out->block_size = p.block_size;
	out->create = h->flags & REPL_F_CREATE;
	out->epoch = h->epoch;
	return 0;
}

int replica_hello_match(const struct replica_hello *hl,
			const struct replica_volinfo *v)
{
	if (hl->size != v->size || hl->block_size != v->block_size)
		return EINVAL;
	if (hl->epoch < v->generation)
		return ESTALE;
	return 0;
}

/* ---- data requests ---- */

static int check_range(uint64_t off, uint64_t len,
		       const struct replica_volinfo *v)
{
	uint64_t bs = v->block_size;

	if (!len || off % bs || len % bs)
		return EINVAL;
	if (off > v->size || len > v->size - off)
		return EINVAL;
	return 0;
}

int replica_check_io(const struct repl_hdr *h, const struct replica_volinfo *v,
		     uint64_t handle_epoch, struct replica_span *out)
{
	uint64_t len = h->len;
	int err;

	memset(out, 0, sizeof(*out));
	if (h->op == REPL_OP_STATUS)
		return 0;
	if (h->epoch < v->generation)
		return ESTALE;
	if (h->epoch != handle_epoch)
		return EINVAL;
	switch (h->op) {
	case REPL_OP_FLUSH:
		out->kind = REPLICA_SPAN_BARRIER;
		return 0;
	case REPL_OP_WRITE:
		if (h->flags & REPL_F_RESYNC) {
			if (!len || len % (8 + (uint64_t)v->block_size))
				return EINVAL;
			len = len / (8 + v->block_size) * v->block_size;
		}
		out->kind = REPLICA_SPAN_WRITE;
		break;
	case REPL_OP_TRIM:
	case REPL_OP_ZERO:
		out->kind = REPLICA_SPAN_WRITE;
		break;
	case REPL_OP_READ:
	case REPL_OP_RESYNC_READ:
		out->kind = REPLICA_SPAN_READ;
		break;
	default:
		return EPROTO;
	}
	err = check_range(h->offset, len, v);
	if (err) {
		memset(out, 0, sizeof(*out));
		return err;
	}
	out->off = h->offset;
	out->len = len;
	out->nblocks = (uint32_t)(len / v->block_size);
	return 0;
}

uint32_t replica_reply_len(const struct repl_hdr *h,
			   const struct replica_span *s)
{
	switch (h->op) {
	case REPL_OP_READ:
		return h->len;
	case REPL_OP_RESYNC_READ:
		return s->nblocks * 8 + h->len;
	default:
		return 0;
	}
}

uint32_t replica_state_copied(uint32_t state, int flush_res, bool sync_failed)
{
	if (state != REPL_STATE_SYNC_FAILED || flush_res || sync_failed)
		return state;
	return REPL_STATE_DIRTY;
}

/* ---- ordering ---- */

void replica_oq_add(struct replica_oq *q, struct replica_oq_item *it)
{
	it->next = NULL;
	it->prev = q->tail;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->nr++;
}

void replica_oq_del(struct replica_oq *q, struct replica_oq_item *it)
{
	if (it->prev)
		it->prev->next = it->next;
	else
		q->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		q->tail = it->prev;
	it->prev = it->next = NULL;
	q->nr--;
}

/* Must `later` wait for `earlier`? */
static bool conflicts(const struct replica_span *earlier,
		      const struct replica_span *later)
{
	if (later->kind == REPLICA_SPAN_BARRIER)
		return earlier->kind == REPLICA_SPAN_WRITE;
	if (earlier->kind == REPLICA_SPAN_BARRIER)
		return false;
	if (earlier->kind != REPLICA_SPAN_WRITE &&
	    later->kind != REPLICA_SPAN_WRITE)
		return false;
	return earlier->off < later->off + later->len &&
	       later->off < earlier->off + earlier->len;
}

bool replica_oq_may_start(const struct replica_oq *q,
			  const struct replica_oq_item *it)
{
	const struct replica_oq_item *e;

	(void)q;
	for (e = it->prev; e; e = e->prev)
		if (conflicts(&e->span, &it->span))
			return false;
	return true;
}

/* ---- resync copies ---- */

uint64_t replica_resync_seq(const uint8_t *seqs, uint32_t i)
{
	uint64_t v;

	memcpy(&v, seqs + (size_t)i * 8, 8);
	return le64toh(v);
}

static bool resync_apply(struct replica_resync *rs, uint32_t i)
{
	uint64_t s = replica_resync_seq(rs->seqs, i);

	if (s > rs->cur(rs->ctx, rs->first_block + i))
		return true;
	memset(rs->seqs + (size_t)i * 8, 0, 8);
	return false;
}

bool replica_resync_next(struct replica_resync *rs, uint32_t *start,
			 uint32_t *count)
{
	while (rs->pos < rs->n && !resync_apply(rs, rs->pos))
		rs->pos++;
	if (rs->pos >= rs->n)
		return false;
	*start = rs->pos++;
	while (rs->pos < rs->n && resync_apply(rs, rs->pos))
		rs->pos++;
	*count = rs->pos - *start;
	return true;
}

/* ---- metadata record ---- */

/* Slot layout, little-endian: magic, version, counter, size, generation,
 * applied_seq, bytes_written, block_size, state, synced_seq, mnt_id,
 * boot_id (16 bytes as the kernel prints them), zero padding, and the
 * CRC-32C of everything before it in the last four bytes.  synced_seq,
 * mnt_id and boot_id sit in what older servers wrote as padding (zero)
 * and still read as padding: the version stays 1 both ways, and a record
 * from an older server reads as synced_seq 0 and an unknown writer, the
 * most cautious values. */
enum {
	M_MAGIC = 0, M_VERSION = 4, M_COUNTER = 8, M_SIZE = 16, M_GEN = 24,
	M_APPLIED = 32, M_WRITTEN = 40, M_BS = 48, M_STATE = 52,
	M_SYNCED = 56, M_MNT = 64, M_BOOT = 72,
	M_END = M_BOOT + REPLICA_BOOT_ID_LEN, M_CRC = REPLICA_META_SLOT - 4,
};
_Static_assert(M_END <= M_CRC, "metadata fields overlap the CRC");

void replica_meta_encode(const struct replica_meta *m, void *slot)
{
	uint8_t *p = slot;

	memset(p, 0, REPLICA_META_SLOT);
	put_le32(p + M_MAGIC, REPLICA_META_MAGIC);
	put_le32(p + M_VERSION, REPLICA_META_VERSION);
	put_le64(p + M_COUNTER, m->counter);
	put_le64(p + M_SIZE, m->size);
	put_le64(p + M_GEN, m->generation);
	put_le64(p + M_APPLIED, m->applied_seq);
	put_le64(p + M_WRITTEN, m->bytes_written);
	put_le32(p + M_BS, m->block_size);
	put_le32(p + M_STATE, m->state);
	put_le64(p + M_SYNCED, m->synced_seq);
	put_le64(p + M_MNT, m->mnt_id);
	memcpy(p + M_BOOT, m->boot_id, REPLICA_BOOT_ID_LEN);
	put_le32(p + M_CRC, crc32c(0, p, M_CRC));
}

int replica_meta_decode(const void *slot, struct replica_meta *out)
{
	const uint8_t *p = slot;

	if (get_le32(p + M_MAGIC) != REPLICA_META_MAGIC ||
	    get_le32(p + M_CRC) != crc32c(0, p, M_CRC))
		return -EBADMSG;
	if (get_le32(p + M_VERSION) != REPLICA_META_VERSION)
		return -EPROTO;
	out->counter = get_le64(p + M_COUNTER);
	out->size = get_le64(p + M_SIZE);
	out->generation = get_le64(p + M_GEN);
	out->applied_seq = get_le64(p + M_APPLIED);
	out->bytes_written = get_le64(p + M_WRITTEN);
	out->block_size = get_le32(p + M_BS);
	out->state = get_le32(p + M_STATE);
	out->synced_seq = get_le64(p + M_SYNCED);
	out->mnt_id = get_le64(p + M_MNT);
	memcpy(out->boot_id, p + M_BOOT, REPLICA_BOOT_ID_LEN);
	if (out->state > REPL_STATE_SYNC_FAILED ||
	    !block_size_ok(out->block_size) ||
	    !out->size || out->size % out->block_size ||
	    out->size / out->block_size > (1ULL << 32))
		return -EPROTO;
	return 0;
}

int replica_meta_pick(const void *file, uint64_t len, struct replica_meta *out)
{
	const uint8_t *p = file;
	struct replica_meta m[2];
	bool ok[2] = { false, false };
	int i;

	for (i = 0; i < 2; i++)
		if (len >= (uint64_t)(i + 1) * REPLICA_META_SLOT)
			ok[i] = !replica_meta_decode(p + i * REPLICA_META_SLOT,
						     &m[i]);
	if (!ok[0] && !ok[1])
		return -EBADMSG;
	if (ok[0] && ok[1])
		*out = m[0].counter >= m[1].counter ? m[0] : m[1];
	else
		*out = ok[0] ? m[0] : m[1];
	return 0;
}

bool replica_meta_same_cache(const struct replica_meta *m,
			     const uint8_t boot_id[REPLICA_BOOT_ID_LEN],
			     uint64_t mnt_id)
{
	static const uint8_t none[REPLICA_BOOT_ID_LEN];

	return mnt_id && m->mnt_id == mnt_id &&
	       memcmp(boot_id, none, REPLICA_BOOT_ID_LEN) &&
	       !memcmp(m->boot_id, boot_id, REPLICA_BOOT_ID_LEN);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int replica_boot_id_parse(const char *s, size_t len,
			  uint8_t out[REPLICA_BOOT_ID_LEN])
{
	uint8_t id[REPLICA_BOOT_ID_LEN];
	unsigned int n = 0;
	size_t i;
	int hi, lo;

	if (len == 37 && s[36] == '\n')
		len = 36;
	if (len != 36)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		hi = hex_digit(s[i]);
		lo = i + 1 < len ? hex_digit(s[i + 1]) : -1;
		if (hi < 0 || lo < 0)
			return -EINVAL;
		id[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	memcpy(out, id, sizeof(id));
	return 0;
}
