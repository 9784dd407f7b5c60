/* SPDX-License-Identifier: Apache-2.0 */
#include "proto.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "bytes.h"
#include "crc.h"

_Static_assert(offsetof(struct repl_hdr, hdr_crc) == REPL_HDR_SIZE - 4,
	       "hdr_crc is the last field");

void proto_encode(const struct repl_hdr *h, void *wire)
{
	uint8_t *w = wire;

	put_le32(w + offsetof(struct repl_hdr, magic), REPL_MAGIC);
	put_le16(w + offsetof(struct repl_hdr, version), REPL_VERSION);
	w[offsetof(struct repl_hdr, op)] = h->op;
	w[offsetof(struct repl_hdr, flags)] = h->flags;
	put_le32(w + offsetof(struct repl_hdr, status), h->status);
	put_le32(w + offsetof(struct repl_hdr, len), h->len);
	put_le64(w + offsetof(struct repl_hdr, volume_id), h->volume_id);
	put_le64(w + offsetof(struct repl_hdr, offset), h->offset);
	put_le64(w + offsetof(struct repl_hdr, seq), h->seq);
	put_le64(w + offsetof(struct repl_hdr, epoch), h->epoch);
	put_le64(w + offsetof(struct repl_hdr, tag), h->tag);
	put_le32(w + offsetof(struct repl_hdr, payload_crc), h->payload_crc);
	put_le32(w + offsetof(struct repl_hdr, hdr_crc), 0);
	put_le32(w + offsetof(struct repl_hdr, hdr_crc),
	      crc32c(0, w, REPL_HDR_SIZE));
}

/* Flags each op may carry in a request; REPL_F_REPLY is always allowed.
 * A reply may carry the same (a HELLO reply's REPL_F_ZERO_FAST is
 * REPL_F_CREATE's bit). */
static const uint8_t op_flags[REPL_OP_MAX + 1] = {
	[REPL_OP_HELLO] = REPL_F_CREATE | REPL_F_SYNC_FAILED,
	[REPL_OP_WRITE] = REPL_F_FUA | REPL_F_RESYNC,
	[REPL_OP_READ] = 0,
	[REPL_OP_FLUSH] = REPL_F_FULL_COPY,
	[REPL_OP_TRIM] = REPL_F_FUA,
	[REPL_OP_RESYNC_READ] = 0,
	[REPL_OP_STATUS] = 0,
	[REPL_OP_ZERO] = REPL_F_FUA,
};

static int check_len(const struct repl_hdr *h, uint32_t max_payload)
{
	bool reply = h->flags & REPL_F_REPLY;

	/* An error reply has no payload, so nothing for len to count. */
	if (reply && h->status)
		return h->len == 0 ? 0 : -EMSGSIZE;
	switch (h->op) {
	case REPL_OP_HELLO:
		if (reply)
			return h->len == sizeof(struct repl_status) ? 0 : -EMSGSIZE;
		return h->len == sizeof(struct repl_hello) ? 0 : -EMSGSIZE;
	case REPL_OP_STATUS:
		if (reply)
			return h->len == sizeof(struct repl_status) ? 0 : -EMSGSIZE;
		return h->len == 0 ? 0 : -EMSGSIZE;
	case REPL_OP_WRITE:
		if (reply)
			return h->len == 0 ? 0 : -EMSGSIZE;
		if (h->flags & REPL_F_RESYNC)
			return h->len <= max_payload + max_payload / 64 ?
			       0 : -EMSGSIZE;
		return h->len <= max_payload ? 0 : -EMSGSIZE;
	case REPL_OP_RESYNC_READ:
		if (reply)
			return h->len <= max_payload + max_payload / 64 ?
			       0 : -EMSGSIZE;
		return h->len <= max_payload ? 0 : -EMSGSIZE;
	case REPL_OP_READ:
		return h->len <= max_payload ? 0 : -EMSGSIZE;
	case REPL_OP_FLUSH:
		return h->len == 0 ? 0 : -EMSGSIZE;
	default:	/* TRIM, ZERO: len is a range, nothing follows */
		return reply && h->len ? -EMSGSIZE : 0;
	}
}

int proto_decode(const void *wire, uint32_t max_payload, struct repl_hdr *out)
{
	const uint8_t *w = wire;
	uint8_t copy[REPL_HDR_SIZE];
	uint32_t crc;

	if (get_le32(w + offsetof(struct repl_hdr, magic)) != REPL_MAGIC)
		return -EBADMSG;
	memcpy(copy, w, sizeof(copy));
	memset(copy + offsetof(struct repl_hdr, hdr_crc), 0, 4);
	crc = get_le32(w + offsetof(struct repl_hdr, hdr_crc));
	if (crc32c(0, copy, sizeof(copy)) != crc)
		return -EBADMSG;

	out->magic = REPL_MAGIC;
	out->version = get_le16(w + offsetof(struct repl_hdr, version));
	out->op = w[offsetof(struct repl_hdr, op)];
	out->flags = w[offsetof(struct repl_hdr, flags)];
	out->status = get_le32(w + offsetof(struct repl_hdr, status));
	out->len = get_le32(w + offsetof(struct repl_hdr, len));
	out->volume_id = get_le64(w + offsetof(struct repl_hdr, volume_id));
	out->offset = get_le64(w + offsetof(struct repl_hdr, offset));
	out->seq = get_le64(w + offsetof(struct repl_hdr, seq));
	out->epoch = get_le64(w + offsetof(struct repl_hdr, epoch));
	out->tag = get_le64(w + offsetof(struct repl_hdr, tag));
	out->payload_crc = get_le32(w + offsetof(struct repl_hdr, payload_crc));
	out->hdr_crc = crc;

	if (out->version != REPL_VERSION)
		return -EPROTO;
	if (out->op == 0 || out->op > REPL_OP_MAX)
		return -EPROTO;
	if (out->flags & ~(op_flags[out->op] | REPL_F_REPLY))
		return -EPROTO;
	if (!(out->flags & REPL_F_REPLY) && out->status)
		return -EPROTO;
	return check_len(out, max_payload);
}

bool proto_has_payload(const struct repl_hdr *h)
{
	bool reply = h->flags & REPL_F_REPLY;

	switch (h->op) {
	case REPL_OP_HELLO:
		return h->len > 0;
	case REPL_OP_WRITE:
		return !reply && h->len > 0;
	case REPL_OP_READ:
	case REPL_OP_RESYNC_READ:
	case REPL_OP_STATUS:
		return reply && h->status == 0 && h->len > 0;
	default:
		return false;
	}
}

uint32_t proto_payload_crc(const void *payload, uint32_t len)
{
	return len ? crc32c(0, payload, len) : 0;
}

int proto_check_payload(const struct repl_hdr *h, const void *payload)
{
	return proto_payload_crc(payload, h->len) == h->payload_crc ?
	       0 : -EBADMSG;
}

const char *proto_op_name(unsigned int op)
{
	static const char *const names[REPL_OP_MAX + 1] = {
		[REPL_OP_HELLO] = "hello",
		[REPL_OP_WRITE] = "write",
		[REPL_OP_READ] = "read",
		[REPL_OP_FLUSH] = "flush",
		[REPL_OP_TRIM] = "trim",
		[REPL_OP_RESYNC_READ] = "resync-read",
		[REPL_OP_STATUS] = "status",
		[REPL_OP_ZERO] = "zero",
	};

	return op <= REPL_OP_MAX && names[op] ? names[op] : "op?";
}
