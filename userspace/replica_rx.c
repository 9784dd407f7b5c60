/* SPDX-License-Identifier: Apache-2.0 */
#include "replica_rx.h"

#include <errno.h>
#include <string.h>

#include "proto.h"

void replica_rx_init(struct replica_rx *rx, uint32_t max_payload)
{
	memset(rx, 0, sizeof(*rx));
	rx->max_payload = max_payload;
	rx->state = REPLICA_RX_S_HDR;
}

static enum replica_rx_ev payload_done(struct replica_rx *rx)
{
	bool good = proto_check_payload(&rx->hdr, rx->dst) == 0;

	rx->state = REPLICA_RX_S_HDR;
	rx->have = 0;
	rx->dst = NULL;
	return good ? REPLICA_RX_REQUEST : REPLICA_RX_BAD_PAYLOAD;
}

static enum replica_rx_ev refuse(struct replica_rx *rx, int err,
				 enum replica_rx_ev ev)
{
	rx->err = err;
	rx->state = REPLICA_RX_S_DEAD;
	return ev;
}

/* The 64 header bytes are in rx->wire: decide what they are. */
static enum replica_rx_ev header_done(struct replica_rx *rx)
{
	int err = proto_decode(rx->wire, rx->max_payload, &rx->hdr);

	rx->have = 0;
	if (err == -EBADMSG)
		return refuse(rx, err, REPLICA_RX_CORRUPT);
	if (err)
		return refuse(rx, err, REPLICA_RX_REFUSE);
	/* A server takes requests only; a reply here means a confused peer. */
	if (rx->hdr.flags & REPL_F_REPLY)
		return refuse(rx, -EPROTO, REPLICA_RX_REFUSE);
	if (!proto_has_payload(&rx->hdr))
		return REPLICA_RX_REQUEST;
	rx->state = REPLICA_RX_S_NEED_DST;
	return REPLICA_RX_PAYLOAD;
}

enum replica_rx_ev replica_rx_feed(struct replica_rx *rx, const void *buf,
				   size_t len, size_t *used)
{
	const uint8_t *p = buf;
	size_t n;

	*used = 0;
	switch (rx->state) {
	case REPLICA_RX_S_DEAD:
		return REPLICA_RX_CORRUPT;
	case REPLICA_RX_S_NEED_DST:
		return REPLICA_RX_PAYLOAD;
	case REPLICA_RX_S_PAYLOAD:
		n = rx->hdr.len - rx->have;
		if (n > len)
			n = len;
		memcpy(rx->dst + rx->have, p, n);
		rx->have += (uint32_t)n;
		*used = n;
		if (rx->have < rx->hdr.len)
			return REPLICA_RX_MORE;
		return payload_done(rx);
	case REPLICA_RX_S_HDR:
		n = REPL_HDR_SIZE - rx->have;
		if (n > len)
			n = len;
		memcpy(rx->wire + rx->have, p, n);
		rx->have += (uint32_t)n;
		*used = n;
		if (rx->have < REPL_HDR_SIZE)
			return REPLICA_RX_MORE;
		return header_done(rx);
	}
	return REPLICA_RX_CORRUPT;
}

void replica_rx_set_dst(struct replica_rx *rx, void *dst)
{
	if (rx->state != REPLICA_RX_S_NEED_DST)
		return;
	rx->dst = dst;
	rx->have = 0;
	rx->state = REPLICA_RX_S_PAYLOAD;
}

uint32_t replica_rx_direct(const struct replica_rx *rx, void **at)
{
	if (rx->state != REPLICA_RX_S_PAYLOAD)
		return 0;
	*at = rx->dst + rx->have;
	return rx->hdr.len - rx->have;
}

enum replica_rx_ev replica_rx_direct_done(struct replica_rx *rx, uint32_t n)
{
	if (rx->state != REPLICA_RX_S_PAYLOAD)
		return REPLICA_RX_MORE;
	if (n > rx->hdr.len - rx->have)
		n = rx->hdr.len - rx->have;
	rx->have += n;
	if (rx->have < rx->hdr.len)
		return REPLICA_RX_MORE;
	return payload_done(rx);
}

bool replica_rx_mid_frame(const struct replica_rx *rx)
{
	switch (rx->state) {
	case REPLICA_RX_S_HDR:
		return rx->have > 0;
	case REPLICA_RX_S_DEAD:
		return false;
	default:
		return true;
	}
}
