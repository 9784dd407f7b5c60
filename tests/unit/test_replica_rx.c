/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "crc.h"
#include "proto.h"
#include "replica_rx.h"

static uint8_t payload[8192], dst[8192];

/* A WRITE frame of len bytes of payload into w; returns its length. */
static size_t write_frame(uint8_t *w, uint32_t len, uint64_t tag)
{
	struct repl_hdr h;
	uint32_t i;

	for (i = 0; i < len; i++)
		payload[i] = (uint8_t)(i * 31 + tag);
	memset(&h, 0, sizeof(h));
	h.op = REPL_OP_WRITE;
	h.len = len;
	h.volume_id = 1;
	h.offset = 4096;
	h.seq = 9;
	h.epoch = 2;
	h.tag = tag;
	h.payload_crc = proto_payload_crc(payload, len);
	proto_encode(&h, w);
	memcpy(w + REPL_HDR_SIZE, payload, len);
	return REPL_HDR_SIZE + len;
}

static size_t header_frame(uint8_t *w, uint8_t op, uint32_t len, uint64_t tag)
{
	struct repl_hdr h;

	memset(&h, 0, sizeof(h));
	h.op = op;
	h.len = len;
	h.volume_id = 1;
	h.tag = tag;
	proto_encode(&h, w);
	return REPL_HDR_SIZE;
}

static void recrc(uint8_t *w)
{
	uint32_t crc;

	memset(w + 60, 0, 4);
	crc = crc32c(0, w, REPL_HDR_SIZE);
	memcpy(w + 60, &crc, 4);	/* little-endian host */
}

/* One byte at a time: the header event comes at byte 64, the request at
 * the last byte, and the payload lands whole in the destination. */
static void test_replica_rx_byte_at_a_time(void **state)
{
	uint8_t w[REPL_HDR_SIZE + 4096];
	size_t n = write_frame(w, 4096, 7), i, used;
	struct replica_rx rx;
	enum replica_rx_ev ev;

	(void)state;
	replica_rx_init(&rx, REPL_MAX_PAYLOAD);
	for (i = 0; i < n; i++) {
		assert_int_equal(replica_rx_mid_frame(&rx), i > 0);
		ev = replica_rx_feed(&rx, w + i, 1, &used);
		assert_int_equal(used, 1);
		if (i == REPL_HDR_SIZE - 1) {
			assert_int_equal(ev, REPLICA_RX_PAYLOAD);
			assert_int_equal(rx.hdr.tag, 7);
			replica_rx_set_dst(&rx, dst);
		} else if (i == n - 1) {
			assert_int_equal(ev, REPLICA_RX_REQUEST);
		} else {
			assert_int_equal(ev, REPLICA_RX_MORE);
		}
	}
	assert_memory_equal(dst, payload, 4096);
	assert_int_equal(rx.hdr.seq, 9);
	assert_false(replica_rx_mid_frame(&rx));
}

/* Several frames in one buffer come out one event at a time. */
static void test_replica_rx_frames_in_one_buffer(void **state)
{
	uint8_t w[3 * REPL_HDR_SIZE + 512];
	size_t n = 0, used, pos = 0;
	struct replica_rx rx;

	(void)state;
	n += header_frame(w + n, REPL_OP_READ, 4096, 1);
	n += write_frame(w + n, 512, 2);
	n += header_frame(w + n, REPL_OP_FLUSH, 0, 3);
	replica_rx_init(&rx, REPL_MAX_PAYLOAD);
	assert_int_equal(replica_rx_feed(&rx, w, n, &used), REPLICA_RX_REQUEST);
	assert_int_equal(used, REPL_HDR_SIZE);
	assert_int_equal(rx.hdr.op, REPL_OP_READ);
	pos += used;
	assert_int_equal(replica_rx_feed(&rx, w + pos, n - pos, &used),
			 REPLICA_RX_PAYLOAD);
	pos += used;
	/* no destination yet: nothing is consumed */
	assert_int_equal(replica_rx_feed(&rx, w + pos, n - pos, &used),
			 REPLICA_RX_PAYLOAD);
	assert_int_equal(used, 0);
	replica_rx_set_dst(&rx, dst);
	assert_int_equal(replica_rx_feed(&rx, w + pos, n - pos, &used),
			 REPLICA_RX_REQUEST);
	assert_int_equal(used, 512);
	assert_memory_equal(dst, payload, 512);
	pos += used;
	assert_int_equal(replica_rx_feed(&rx, w + pos, n - pos, &used),
			 REPLICA_RX_REQUEST);
	assert_int_equal(rx.hdr.op, REPL_OP_FLUSH);
	assert_int_equal(rx.hdr.tag, 3);
	assert_int_equal(pos + used, n);
}

/* Payload received straight into the destination, in two pieces. */
static void test_replica_rx_direct(void **state)
{
	uint8_t w[REPL_HDR_SIZE + 8192];
	size_t used;
	struct replica_rx rx;
	void *at;

	(void)state;
	write_frame(w, 8192, 5);
	replica_rx_init(&rx, REPL_MAX_PAYLOAD);
	assert_int_equal(replica_rx_direct(&rx, &at), 0);
	assert_int_equal(replica_rx_feed(&rx, w, REPL_HDR_SIZE + 100, &used),
			 REPLICA_RX_PAYLOAD);
	replica_rx_set_dst(&rx, dst);
	assert_int_equal(replica_rx_feed(&rx, w + used,
					 REPL_HDR_SIZE + 100 - used, &used),
			 REPLICA_RX_MORE);
	assert_int_equal(replica_rx_direct(&rx, &at), 8092);
	assert_ptr_equal(at, dst + 100);
	memcpy(at, w + REPL_HDR_SIZE + 100, 4000);
	assert_int_equal(replica_rx_direct_done(&rx, 4000), REPLICA_RX_MORE);
	assert_int_equal(replica_rx_direct(&rx, &at), 4092);
	memcpy(at, w + REPL_HDR_SIZE + 4100, 4092);
	assert_int_equal(replica_rx_direct_done(&rx, 4092), REPLICA_RX_REQUEST);
	assert_memory_equal(dst, payload, 8192);
	assert_int_equal(replica_rx_direct(&rx, &at), 0);
}

/* A payload failing its CRC is reported, and the next frame still
 * parses: the stream is in step. */
static void test_replica_rx_bad_payload_keeps_stream(void **state)
{
	uint8_t w[2 * REPL_HDR_SIZE + 1024];
	size_t n, used, pos;
	struct replica_rx rx;

	(void)state;
	n = write_frame(w, 1024, 1);
	w[REPL_HDR_SIZE + 10] ^= 0x80;
	n += header_frame(w + n, REPL_OP_STATUS, 0, 2);
	replica_rx_init(&rx, REPL_MAX_PAYLOAD);
	assert_int_equal(replica_rx_feed(&rx, w, n, &used), REPLICA_RX_PAYLOAD);
	replica_rx_set_dst(&rx, dst);
	pos = used;
	assert_int_equal(replica_rx_feed(&rx, w + pos, n - pos, &used),
			 REPLICA_RX_BAD_PAYLOAD);
	assert_int_equal(rx.hdr.tag, 1);
	pos += used;
	assert_int_equal(replica_rx_feed(&rx, w + pos, n - pos, &used),
			 REPLICA_RX_REQUEST);
	assert_int_equal(rx.hdr.op, REPL_OP_STATUS);
}

static enum replica_rx_ev feed_all(struct replica_rx *rx, uint8_t *w,
				   size_t n)
{
	size_t used;

	replica_rx_init(rx, REPL_MAX_PAYLOAD);
	return replica_rx_feed(rx, w, n, &used);
}

/* Bad magic or header CRC: not trustworthy, and the assembler is dead. */
static void test_replica_rx_corrupt_header(void **state)
{
	uint8_t w[REPL_HDR_SIZE + 512];
	struct replica_rx rx;
	size_t used;

	(void)state;
	write_frame(w, 512, 1);
	w[0] ^= 1;
	assert_int_equal(feed_all(&rx, w, sizeof(w)), REPLICA_RX_CORRUPT);
	assert_int_equal(rx.err, -EBADMSG);
	assert_int_equal(replica_rx_feed(&rx, w, sizeof(w), &used),
			 REPLICA_RX_CORRUPT);
	assert_int_equal(used, 0);
	assert_false(replica_rx_mid_frame(&rx));

	write_frame(w, 512, 1);
	w[30] ^= 4;	/* the offset: CRC no longer holds */
	assert_int_equal(feed_all(&rx, w, sizeof(w)), REPLICA_RX_CORRUPT);
	assert_int_equal(rx.err, -EBADMSG);
}

/* Authentic headers that cannot be served: refused with the reason, the
 * header (tag) available for the error reply. */
static void test_replica_rx_refused_headers(void **state)
{
	uint8_t w[REPL_HDR_SIZE];
	struct replica_rx rx;
	struct repl_hdr h;

	(void)state;
	header_frame(w, REPL_OP_READ, 4096, 11);
	w[4] = 2;	/* version */
	recrc(w);
	assert_int_equal(feed_all(&rx, w, sizeof(w)), REPLICA_RX_REFUSE);
	assert_int_equal(rx.err, -EPROTO);
	assert_int_equal(rx.hdr.tag, 11);

	header_frame(w, 0x42, 0, 12);	/* unknown op */
	assert_int_equal(feed_all(&rx, w, sizeof(w)), REPLICA_RX_REFUSE);
	assert_int_equal(rx.err, -EPROTO);

	header_frame(w, REPL_OP_READ, REPL_MAX_PAYLOAD + 1, 13);
	assert_int_equal(feed_all(&rx, w, sizeof(w)), REPLICA_RX_REFUSE);
	assert_int_equal(rx.err, -EMSGSIZE);

	memset(&h, 0, sizeof(h));
	h.op = REPL_OP_FLUSH;
	h.flags = REPL_F_REPLY;
	h.tag = 14;
	proto_encode(&h, w);
	assert_int_equal(feed_all(&rx, w, sizeof(w)), REPLICA_RX_REFUSE);
	assert_int_equal(rx.err, -EPROTO);
	assert_int_equal(rx.hdr.tag, 14);

	h.flags = REPL_F_CREATE;	/* a flag FLUSH cannot take */
	proto_encode(&h, w);
	assert_int_equal(feed_all(&rx, w, sizeof(w)), REPLICA_RX_REFUSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replica_rx_byte_at_a_time),
		cmocka_unit_test(test_replica_rx_frames_in_one_buffer),
		cmocka_unit_test(test_replica_rx_direct),
		cmocka_unit_test(test_replica_rx_bad_payload_keeps_stream),
		cmocka_unit_test(test_replica_rx_corrupt_header),
		cmocka_unit_test(test_replica_rx_refused_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
