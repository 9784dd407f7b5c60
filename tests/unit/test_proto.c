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

static struct repl_hdr write_req(void)
{
	struct repl_hdr h;

	memset(&h, 0, sizeof(h));
	h.op = REPL_OP_WRITE;
	h.flags = REPL_F_FUA;
	h.len = 4096;
	h.volume_id = 3;
	h.offset = 1ULL << 33;
	h.seq = 77;
	h.epoch = 5;
	h.tag = 0xdeadbeefcafeULL;
	h.payload_crc = 0x1234;
	return h;
}

static void test_proto_roundtrip(void **state)
{
	struct repl_hdr h = write_req(), d;
	uint8_t w[REPL_HDR_SIZE];

	(void)state;
	proto_encode(&h, w);
	/* little-endian magic: the bytes spell TPRY */
	assert_memory_equal(w, "TPRY", 4);
	assert_int_equal(proto_decode(w, REPL_MAX_PAYLOAD, &d), 0);
	assert_int_equal(d.op, REPL_OP_WRITE);
	assert_int_equal(d.flags, REPL_F_FUA);
	assert_int_equal(d.len, 4096);
	assert_int_equal(d.volume_id, 3);
	assert_int_equal(d.offset, 1ULL << 33);
	assert_int_equal(d.seq, 77);
	assert_int_equal(d.epoch, 5);
	assert_int_equal(d.tag, 0xdeadbeefcafeULL);
	assert_int_equal(d.payload_crc, 0x1234);
	assert_true(proto_has_payload(&d));
}

/* Any single flipped bit in the header is caught. */
static void test_proto_any_bit_flip_refused(void **state)
{
	struct repl_hdr h = write_req(), d;
	uint8_t w[REPL_HDR_SIZE], bad[REPL_HDR_SIZE];
	int i;

	(void)state;
	proto_encode(&h, w);
	for (i = 0; i < REPL_HDR_SIZE * 8; i++) {
		memcpy(bad, w, sizeof(bad));
		bad[i / 8] ^= (uint8_t)(1 << (i % 8));
		assert_int_equal(proto_decode(bad, REPL_MAX_PAYLOAD, &d),
				 -EBADMSG);
	}
}

static int decode_modified(struct repl_hdr h, uint32_t max)
{
	uint8_t w[REPL_HDR_SIZE];
	struct repl_hdr d;

	proto_encode(&h, w);
	return proto_decode(w, max, &d);
}

static void test_proto_refuses_bad_fields(void **state)
{
	struct repl_hdr h;
	uint8_t w[REPL_HDR_SIZE];
	struct repl_hdr d;

	(void)state;
	/* another version, re-sealed so only the version is wrong */
	h = write_req();
	proto_encode(&h, w);
	w[4] = 2;
	memset(w + 60, 0, 4);
	{
		uint32_t c = crc32c(0, w, REPL_HDR_SIZE);

		memcpy(w + 60, &c, 4);
	}
	assert_int_equal(proto_decode(w, REPL_MAX_PAYLOAD, &d), -EPROTO);

	h = write_req();
	h.op = 0;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EPROTO);
	h.op = REPL_OP_MAX + 1;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EPROTO);
	/* resync writes may carry per-block seqs beyond the data limit */
	h = write_req();
	h.flags = REPL_F_RESYNC;
	h.len = 4096 + 4096 / 64;
	assert_int_equal(decode_modified(h, 4096), 0);
	h.len++;
	assert_int_equal(decode_modified(h, 4096), -EMSGSIZE);
	h = write_req();
	h.op = REPL_OP_RESYNC_READ;
	h.flags = REPL_F_REPLY;
	h.len = 4096 + 64;
	assert_int_equal(decode_modified(h, 4096), 0);
	h.flags = 0;
	assert_int_equal(decode_modified(h, 4096), -EMSGSIZE);
	h = write_req();
	h.flags = REPL_F_CREATE;	/* create on a write */
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EPROTO);
	h = write_req();
	h.status = 5;			/* status in a request */
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EPROTO);
	h = write_req();
	h.len = REPL_MAX_PAYLOAD + 1;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EMSGSIZE);
	h.len = 8192;
	assert_int_equal(decode_modified(h, 4096), -EMSGSIZE);
	h = write_req();
	h.op = REPL_OP_HELLO;
	h.flags = REPL_F_CREATE;
	h.len = sizeof(struct repl_hello) + 1;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EMSGSIZE);
	h.len = sizeof(struct repl_hello);
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), 0);
	/* an engine's word that a sync failed: HELLO only */
	h.flags = REPL_F_CREATE | REPL_F_SYNC_FAILED;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), 0);
	h.flags = REPL_F_SYNC_FAILED;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), 0);
	h.op = REPL_OP_FLUSH;
	h.len = 0;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EPROTO);
	h = write_req();
	h.flags = REPL_F_SYNC_FAILED;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EPROTO);
	h.op = REPL_OP_FLUSH;
	h.flags = 0;
	h.len = 1;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EMSGSIZE);
	/* FULL_COPY is a FLUSH's flag, and only a FLUSH's */
	h.len = 0;
	h.flags = REPL_F_FULL_COPY;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), 0);
	h = write_req();
	h.flags = REPL_F_FULL_COPY;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EPROTO);
}

static void test_proto_payload_rules(void **state)
{
	struct repl_hdr h;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.op = REPL_OP_READ;
	h.len = 4096;
	assert_false(proto_has_payload(&h));	/* request: len is wanted */
	h.flags = REPL_F_REPLY;
	assert_true(proto_has_payload(&h));
	h.status = EIO;
	assert_false(proto_has_payload(&h));
	h.op = REPL_OP_TRIM;
	h.flags = 0;
	h.status = 0;
	h.len = 1 << 30;
	assert_false(proto_has_payload(&h));
	assert_int_equal(decode_modified(h, 4096), 0);	/* a range, not data */
}

/* A reply carries a payload only with status 0 (docs: "its len is then 0
 * and it has no payload"), and ops without reply data carry none. */
static void test_proto_error_reply_has_no_len(void **state)
{
	struct repl_hdr h;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.op = REPL_OP_READ;
	h.flags = REPL_F_REPLY;
	h.len = 4096;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), 0);
	h.status = EIO;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EMSGSIZE);
	h.len = 0;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), 0);
	h.op = REPL_OP_RESYNC_READ;
	h.len = 8;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EMSGSIZE);
	h.status = 0;
	h.op = REPL_OP_TRIM;
	h.len = 4096;	/* a TRIM reply has nothing to say in len */
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EMSGSIZE);
	h.op = REPL_OP_ZERO;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), -EMSGSIZE);
	h.len = 0;
	assert_int_equal(decode_modified(h, REPL_MAX_PAYLOAD), 0);
}

/* A HELLO reply saying REPL_F_ZERO_FAST decodes, with the flag kept.  Its
 * bit must be one a HELLO request may carry: an older engine's decoder
 * (the same table) refuses any other on a HELLO reply and would drop
 * every connection to a newer server.  On other replies it is refused. */
static void test_proto_hello_reply_zero_fast(void **state)
{
	struct repl_hdr h, d;
	uint8_t w[REPL_HDR_SIZE];

	(void)state;
	assert_int_equal(REPL_F_ZERO_FAST & ~(REPL_F_CREATE |
					      REPL_F_SYNC_FAILED), 0);
	memset(&h, 0, sizeof(h));
	h.op = REPL_OP_HELLO;
	h.flags = REPL_F_REPLY | REPL_F_ZERO_FAST;
	h.len = sizeof(struct repl_status);
	h.volume_id = 1;
	proto_encode(&h, w);
	assert_int_equal(proto_decode(w, REPL_MAX_PAYLOAD, &d), 0);
	assert_int_equal(d.flags, REPL_F_REPLY | REPL_F_ZERO_FAST);
	h.op = REPL_OP_STATUS;
	proto_encode(&h, w);
	assert_int_equal(proto_decode(w, REPL_MAX_PAYLOAD, &d), -EPROTO);
}

static void test_proto_payload_crc(void **state)
{
	char data[4096];
	struct repl_hdr h;

	(void)state;
	memset(data, 0xab, sizeof(data));
	memset(&h, 0, sizeof(h));
	h.len = sizeof(data);
	h.payload_crc = proto_payload_crc(data, h.len);
	assert_int_equal(h.payload_crc, crc32c(0, data, sizeof(data)));
	assert_int_equal(proto_check_payload(&h, data), 0);
	data[4095] ^= 0x80;
	assert_int_equal(proto_check_payload(&h, data), -EBADMSG);
	assert_string_equal(proto_op_name(REPL_OP_RESYNC_READ), "resync-read");
	assert_string_equal(proto_op_name(99), "op?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_roundtrip),
		cmocka_unit_test(test_proto_any_bit_flip_refused),
		cmocka_unit_test(test_proto_refuses_bad_fields),
		cmocka_unit_test(test_proto_payload_rules),
		cmocka_unit_test(test_proto_error_reply_has_no_len),
		cmocka_unit_test(test_proto_payload_crc),
		cmocka_unit_test(test_proto_hello_reply_zero_fast),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
