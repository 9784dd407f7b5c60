/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the NBD protocol parser (userspace/nbdproto.c).
 *
 * The input is what a client sends on one connection.  It is fed the way
 * the server feeds it: through a bounded input buffer, in pieces whose
 * sizes come from the first input byte, through the handshake and, once
 * GO or EXPORT_NAME succeeds, through request decoding and checking,
 * skipping write payloads as the server does.  Invariants are asserted:
 * the handshake never consumes more than it was given, its output stays
 * within its buffer and is well-framed, accepted requests lie inside the
 * export and obey the advertised limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nbdproto.h"
#include "bytes.h"

static const struct nbdproto_export exp_fuzz = {
	.name = "fuzzvol",
	.description = "fuzz",
	.size = 64ULL << 20,
	.tflags = NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
		  NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
		  NBD_FLAG_SEND_FAST_ZERO | NBD_FLAG_CAN_MULTI_CONN,
	.min_block = 512,
	.pref_block = 4096,
	.max_block = 1 << 20,
};

#define IN_CAP (NBDPROTO_HS_IN_MIN + 4096)

/* Option replies in out[] must be whole frames with the reply magic. */
static void check_output(const struct nbdproto_hs *h)
{
	size_t off = 0;

	if (h->out_len > sizeof(h->out))
		abort();
	/* neither the greeting nor EXPORT_NAME's reply is framed */
	if (h->state == NBDPROTO_HS_CFLAGS || h->state == NBDPROTO_HS_DONE)
		return;
	while (off < h->out_len) {
		uint32_t len;

		if (h->out_len - off < 20 || get_be32(h->out + off) != 0x0003e889)
			abort();
		len = get_be32(h->out + off + 16);
		off += 20 + (size_t)len;
	}
	if (off != h->out_len)
		abort();
}

static void transmission(const struct nbdproto_hs *h, const uint8_t *p,
			 size_t n)
{
	struct nbdproto_limits l = {
		.size = h->exp->size,
		.min_block = h->exp->min_block,
		.max_block = h->exp->max_block,
		.tflags = nbdproto_hs_tflags(h),
	};
	struct nbdproto_req r;
	uint8_t reply[NBDPROTO_ERR_CHUNK_MAX];
	enum nbdproto_act a;
	uint32_t err;

	while (n >= NBDPROTO_REQ_SIZE) {
		if (nbdproto_req_decode(p, &r))
			return;		/* server hangs up */
		p += NBDPROTO_REQ_SIZE;
		n -= NBDPROTO_REQ_SIZE;
		err = 0;
		a = nbdproto_req_check(&l, &r, &err);
		switch (a) {
		case NBDPROTO_ACT_HANGUP:
		case NBDPROTO_ACT_DISC:
			return;
		case NBDPROTO_ACT_ERROR:
			if (!err)
				abort();
			nbdproto_error_chunk(reply, r.handle, err,
					     nbdproto_cmd_name(r.type));
			break;
		case NBDPROTO_ACT_FLUSH:
			break;
		default:
			if (!r.len || r.offset + r.len > l.size ||
			    r.offset % l.min_block || r.len % l.min_block)
				abort();
			/* a NO_HOLE zero may be any length: the server
			 * writes it in chunks of at most max_block */
			if ((a == NBDPROTO_ACT_READ ||
			     a == NBDPROTO_ACT_WRITE) && r.len > l.max_block)
				abort();
			if (a == NBDPROTO_ACT_ZERO_WRITE &&
			    (r.type != NBD_CMD_WRITE_ZEROES ||
			     !(r.flags & NBD_CMD_FLAG_NO_HOLE)))
				abort();
			if (a == NBDPROTO_ACT_READ)
				nbdproto_read_chunk(reply, r.handle, r.offset,
						    r.len);
			break;
		}
		if (nbdproto_req_payload(&r) >= n)
			return;
		p += nbdproto_req_payload(&r);
		n -= nbdproto_req_payload(&r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t in[IN_CAP];
	struct nbdproto_hs h;
	size_t pos = 0, have = 0, used, step;
	enum nbdproto_hs_status st = NBDPROTO_HS_MORE;

	if (size < 1)
		return 0;
	/* first byte: how many bytes arrive per "recv" (1..256) */
	step = (size_t)data[0] + 1;
	data++;
	size--;
	nbdproto_hs_init(&h, &exp_fuzz);
	for (;;) {
		check_output(&h);
		nbdproto_hs_sent(&h);	/* the client reads everything */
		if (st != NBDPROTO_HS_MORE)
			break;
		st = nbdproto_hs_feed(&h, in, have, &used);
		if (used > have)
			abort();
		memmove(in, in + used, have - used);
		have -= used;
		if (used || h.out_len || st != NBDPROTO_HS_MORE)
			continue;
		if (pos == size || have == IN_CAP)
			return 0;	/* the server would wait / hang up */
		{
			size_t n = size - pos < step ? size - pos : step;

			if (n > IN_CAP - have)
				n = IN_CAP - have;
			memcpy(in + have, data + pos, n);
			have += n;
			pos += n;
		}
	}
	if (st == NBDPROTO_HS_GO) {
		uint8_t *rest = malloc(have + (size - pos) + 1);

		if (!rest)
			return 0;
		memcpy(rest, in, have);
		memcpy(rest + have, data + pos, size - pos);
		transmission(&h, rest, have + (size - pos));
		free(rest);
	}
	return 0;
}
