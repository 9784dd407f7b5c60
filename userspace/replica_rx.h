/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replica_rx: the replica server's per-connection frame assembler.
 *
 * It turns the bytes a connection receives, in whatever pieces they come,
 * into requests that have passed every check that needs no server state:
 * header magic and CRC, version, op, flags, length bounds, and the payload
 * CRC.  It is a pure state machine (no I/O, no allocation), so it is fuzzed
 * directly (tests/fuzz/fuzz_repl.c) and the server trusts what it yields.
 *
 * Use:
 *   feed bytes with replica_rx_feed() until it returns an event;
 *   REPLICA_RX_PAYLOAD: give a destination of hdr.len bytes with
 *     replica_rx_set_dst(), then keep feeding (or receive straight into
 *     the destination: replica_rx_direct() / replica_rx_direct_done());
 *   REPLICA_RX_REQUEST: hdr (and the payload in the destination) is a
 *     whole, checked request; the assembler is ready for the next frame;
 *   REPLICA_RX_BAD_PAYLOAD: the header was good but the payload failed its
 *     CRC.  Refuse the request (EBADMSG) and never act on the payload; the
 *     stream is still in step, so the next frame may follow;
 *   REPLICA_RX_REFUSE: the header is authentic (its CRC holds) but the
 *     frame cannot be served: another version, an unknown op, bad flags, a
 *     reply sent to a server, or an oversized length.  hdr and err (-errno)
 *     say what; reply with the error, then close: the framing of what
 *     follows cannot be trusted;
 *   REPLICA_RX_CORRUPT: bad magic or header CRC.  Nothing in the header can
 *     be trusted, not even the tag: close without a reply.
 * After REFUSE or CORRUPT the assembler is dead: it consumes nothing more.
 */
#ifndef TAPESTRY_REPLICA_RX_H
#define TAPESTRY_REPLICA_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/repl.h"

enum replica_rx_ev {
	REPLICA_RX_MORE,	/* every byte consumed; feed more */
	REPLICA_RX_PAYLOAD,	/* header accepted; set a destination */
	REPLICA_RX_REQUEST,
	REPLICA_RX_BAD_PAYLOAD,
	REPLICA_RX_REFUSE,
	REPLICA_RX_CORRUPT,
};

enum replica_rx_state {
	REPLICA_RX_S_HDR,
	REPLICA_RX_S_NEED_DST,
	REPLICA_RX_S_PAYLOAD,
	REPLICA_RX_S_DEAD,
};

/* Filled by the caller with replica_rx_init(); read hdr and err only. */
struct replica_rx {
	struct repl_hdr hdr;	/* after PAYLOAD, REQUEST, BAD_PAYLOAD, REFUSE */
	int err;		/* after REFUSE/CORRUPT: -EBADMSG, -EPROTO, ... */
	/* private */
	uint8_t wire[REPL_HDR_SIZE];
	uint32_t have;		/* header bytes so far, then payload bytes */
	uint32_t max_payload;
	uint8_t *dst;
	enum replica_rx_state state;
};

/* max_payload bounds data payloads (REPL_MAX_PAYLOAD normally). */
void replica_rx_init(struct replica_rx *rx, uint32_t max_payload);

/* Consume bytes from buf[0, len) until an event; *used says how many were
 * taken (all of them for REPLICA_RX_MORE).  Must not be called in the
 * NEED_DST state (it returns REPLICA_RX_PAYLOAD again, consuming nothing)
 * or after REFUSE/CORRUPT (it returns CORRUPT, consuming nothing). */
enum replica_rx_ev replica_rx_feed(struct replica_rx *rx, const void *buf,
				   size_t len, size_t *used);

/* Where the payload goes: hdr.len bytes, borrowed until the next event. */
void replica_rx_set_dst(struct replica_rx *rx, void *dst);

/* To receive payload bytes straight into the destination: *at and the
 * count still missing (0 when no payload is being assembled). */
uint32_t replica_rx_direct(const struct replica_rx *rx, void **at);

/* n bytes (at most replica_rx_direct()'s count) arrived at *at.  Returns
 * MORE, REQUEST or BAD_PAYLOAD. */
enum replica_rx_ev replica_rx_direct_done(struct replica_rx *rx, uint32_t n);

/* Whether part of a frame has arrived (EOF now means a truncated frame). */
bool replica_rx_mid_frame(const struct replica_rx *rx);

#endif /* TAPESTRY_REPLICA_RX_H */
