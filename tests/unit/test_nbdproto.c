/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "nbdproto.h"
#include "bytes.h"

static const struct nbdproto_export exp_default = {
	.name = "vol0",
	.description = "a test volume",
	.size = 1 << 20,
	.tflags = NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
		  NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO |
		  NBD_FLAG_CAN_MULTI_CONN,
	.min_block = 4096,
	.pref_block = 4096,
	.max_block = 65536,
};

/* One option frame: header and payload. */
static size_t opt(uint8_t *p, uint32_t o, const void *data, uint32_t len)
{
	put_be64(p, NBD_MAGIC_OPTS);
	put_be32(p + 8, o);
	put_be32(p + 12, len);
	if (len)
		memcpy(p + 16, data, len);
	return 16 + len;
}

/* GO/INFO payload for name with the given info requests. */
static size_t go_data(uint8_t *p, const char *name, const uint16_t *req,
		      unsigned int n)
{
	size_t nl = strlen(name);
	unsigned int i;

	put_be32(p, (uint32_t)nl);
	memcpy(p + 4, name, nl);
	put_be16(p + 4 + nl, (uint16_t)n);
	for (i = 0; i < n; i++)
		put_be16(p + 6 + nl + 2 * i, req[i]);
	return 6 + nl + 2 * n;
}

struct reply {
	uint32_t opt, type, len;
	const uint8_t *data;
};

/* Split out[] into option replies; fails the test on a bad frame. */
static unsigned int replies(const struct nbdproto_hs *h, struct reply *r,
			    unsigned int max)
{
	size_t off = 0;
	unsigned int n = 0;

	while (off < h->out_len) {
		assert_true(n < max);
		assert_true(h->out_len - off >= 20);
		assert_true(get_be64(h->out + off) == NBD_MAGIC_REP);
		r[n].opt = get_be32(h->out + off + 8);
		r[n].type = get_be32(h->out + off + 12);
		r[n].len = get_be32(h->out + off + 16);
		r[n].data = h->out + off + 20;
		off += 20 + r[n].len;
		assert_true(off <= h->out_len);
		n++;
	}
	return n;
}

/* Past the greeting and client flags. */
static void start(struct nbdproto_hs *h, const struct nbdproto_export *e,
		  uint32_t cflags)
{
	uint8_t b[4];
	size_t used;

	nbdproto_hs_init(h, e);
	put_be32(b, cflags);
	nbdproto_hs_sent(h);
	assert_int_equal(nbdproto_hs_feed(h, b, 4, &used), NBDPROTO_HS_MORE);
	assert_int_equal(used, 4);
	assert_int_equal(h->state, NBDPROTO_HS_OPTIONS);
}

static void test_nbdproto_greeting(void **state)
{
	struct nbdproto_hs h;
	uint8_t b[4] = { 0 };
	size_t used;

	(void)state;
	assert_int_equal(nbdproto_export_check(&exp_default), 0);
	nbdproto_hs_init(&h, &exp_default);
	assert_int_equal(h.out_len, 18);
	assert_true(get_be64(h.out) == NBD_MAGIC_INIT);
	assert_true(get_be64(h.out + 8) == NBD_MAGIC_OPTS);
	assert_int_equal(get_be16(h.out + 16),
			 NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	/* nothing is consumed until the greeting has been sent */
	assert_int_equal(nbdproto_hs_feed(&h, b, 4, &used), NBDPROTO_HS_MORE);
	assert_int_equal(used, 0);
	nbdproto_hs_sent(&h);
	/* a short read of the client flags waits for more */
	assert_int_equal(nbdproto_hs_feed(&h, b, 3, &used), NBDPROTO_HS_MORE);
	assert_int_equal(used, 0);
	/* a flag we never offered ends the session */
	put_be32(b, 1U << 5);
	assert_int_equal(nbdproto_hs_feed(&h, b, 4, &used),
			 NBDPROTO_HS_HANGUP);
}

static void test_nbdproto_go(void **state)
{
	static const uint16_t want[] = { NBD_INFO_NAME, NBD_INFO_BLOCK_SIZE,
					 NBD_INFO_DESCRIPTION, 77 };
	uint8_t in[256], d[64];
	struct nbdproto_hs h;
	struct reply r[8];
	size_t len, used;
	unsigned int n;

	(void)state;
	start(&h, &exp_default, NBD_FLAG_C_FIXED_NEWSTYLE);
	len = opt(in, NBD_OPT_GO, d, (uint32_t)go_data(d, "vol0", want, 4));
	/* an incomplete option is not consumed */
	assert_int_equal(nbdproto_hs_feed(&h, in, len - 1, &used),
			 NBDPROTO_HS_MORE);
	assert_int_equal(used, 0);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used), NBDPROTO_HS_GO);
	assert_int_equal(used, len);
	n = replies(&h, r, 8);
	assert_int_equal(n, 5);
	assert_int_equal(r[0].type, NBD_REP_INFO);
	assert_int_equal(r[0].opt, NBD_OPT_GO);
	assert_int_equal(r[0].len, 12);
	assert_int_equal(get_be16(r[0].data), NBD_INFO_EXPORT);
	assert_true(get_be64(r[0].data + 2) == 1 << 20);
	assert_int_equal(get_be16(r[0].data + 10),
			 exp_default.tflags | NBD_FLAG_HAS_FLAGS);
	assert_int_equal(get_be16(r[1].data), NBD_INFO_NAME);
	assert_memory_equal(r[1].data + 2, "vol0", 4);
	assert_int_equal(get_be16(r[2].data), NBD_INFO_DESCRIPTION);
	assert_int_equal(r[3].len, 14);
	assert_int_equal(get_be16(r[3].data), NBD_INFO_BLOCK_SIZE);
	assert_int_equal(get_be32(r[3].data + 2), 4096);
	assert_int_equal(get_be32(r[3].data + 6), 4096);
	assert_int_equal(get_be32(r[3].data + 10), 65536);
	assert_int_equal(r[4].type, NBD_REP_ACK);
	assert_int_equal(h.state, NBDPROTO_HS_DONE);
}

/* INFO answers like GO but stays in option haggling; the empty name is
 * the default export. */
static void test_nbdproto_info_then_go_default(void **state)
{
	uint8_t in[256], d[64];
	struct nbdproto_hs h;
	struct reply r[8];
	size_t len, used;

	(void)state;
	start(&h, &exp_default, NBD_FLAG_C_FIXED_NEWSTYLE);
	len = opt(in, NBD_OPT_INFO, d, (uint32_t)go_data(d, "", NULL, 0));
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_MORE);
	assert_int_equal(replies(&h, r, 8), 3);	/* export, block size, ack */
	assert_int_equal(r[2].type, NBD_REP_ACK);
	assert_int_equal(h.state, NBDPROTO_HS_OPTIONS);
	nbdproto_hs_sent(&h);
	len = opt(in, NBD_OPT_GO, d, (uint32_t)go_data(d, "", NULL, 0));
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used), NBDPROTO_HS_GO);
}

static void test_nbdproto_go_errors(void **state)
{
	uint8_t in[256], d[64];
	struct nbdproto_hs h;
	struct reply r[8];
	size_t len, used;

	(void)state;
	start(&h, &exp_default, NBD_FLAG_C_FIXED_NEWSTYLE);
	/* wrong name */
	len = opt(in, NBD_OPT_GO, d, (uint32_t)go_data(d, "vol1", NULL, 0));
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_MORE);
	assert_int_equal(replies(&h, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_UNKNOWN);
	nbdproto_hs_sent(&h);
	/* name length past the option's end */
	put_be32(d, 200);
	len = opt(in, NBD_OPT_GO, d, 8);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_MORE);
	assert_int_equal(replies(&h, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	nbdproto_hs_sent(&h);
	/* too short to hold the name length and count */
	len = opt(in, NBD_OPT_INFO, d, 5);
	nbdproto_hs_feed(&h, in, len, &used);
	assert_int_equal(replies(&h, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	nbdproto_hs_sent(&h);
	/* info count that disagrees with the length */
	go_data(d, "vol0", NULL, 0);
	put_be16(d + 8, 3);
	len = opt(in, NBD_OPT_GO, d, 10);
	nbdproto_hs_feed(&h, in, len, &used);
	assert_int_equal(replies(&h, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	nbdproto_hs_sent(&h);
	/* still usable after all that */
	len = opt(in, NBD_OPT_GO, d, (uint32_t)go_data(d, "vol0", NULL, 0));
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used), NBDPROTO_HS_GO);
}

/* Unknown options are skipped unread, in pieces, and answered UNSUP; the
 * option after them is understood. */
static void test_nbdproto_unknown_option_keeps_stream(void **state)
{
	static uint8_t in[70000];
	uint8_t d[64];
	struct nbdproto_hs h;
	struct reply r[8];
	size_t len, off = 0, used;

	(void)state;
	start(&h, &exp_default, NBD_FLAG_C_FIXED_NEWSTYLE);
	len = opt(in, 42, NULL, 0);
	put_be32(in + 12, 65000);		/* 65000 bytes of junk follow */
	memset(in + 16, 0xab, 65000);
	len += 65000;
	len += opt(in + len, NBD_OPT_SET_META_CONTEXT, "xx", 2);
	while (!h.out_len) {
		size_t chunk = len - off < 1000 ? len - off : 1000;

		assert_int_equal(nbdproto_hs_feed(&h, in + off, chunk, &used),
				 NBDPROTO_HS_MORE);
		assert_true(used > 0);
		off += used;
	}
	assert_int_equal(replies(&h, r, 8), 1);
	assert_int_equal(r[0].opt, 42);
	assert_int_equal(r[0].type, NBD_REP_ERR_UNSUP);
	assert_int_equal(off, 16 + 65000);
	nbdproto_hs_sent(&h);
	/* meta contexts are not offered */
	assert_int_equal(nbdproto_hs_feed(&h, in + off, len - off, &used),
			 NBDPROTO_HS_MORE);
	/* the header is consumed, then its 2 bytes */
	off += used;
	if (!h.out_len) {
		nbdproto_hs_feed(&h, in + off, len - off, &used);
		off += used;
	}
	assert_int_equal(off, len);
	assert_int_equal(replies(&h, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_UNSUP);
	nbdproto_hs_sent(&h);
	len = opt(in, NBD_OPT_GO, d, (uint32_t)go_data(d, "vol0", NULL, 0));
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used), NBDPROTO_HS_GO);
}

/* A known option longer than we buffer is skipped and refused TOO_BIG;
 * an EXPORT_NAME that long ends the session (it cannot be refused). */
static void test_nbdproto_oversize_option(void **state)
{
	static uint8_t in[NBDPROTO_OPT_MAX + 64];
	struct nbdproto_hs h;
	struct reply r[4];
	size_t used, off = 0;
	uint32_t olen = NBDPROTO_OPT_MAX + 1;

	(void)state;
	start(&h, &exp_default, 0);
	opt(in, NBD_OPT_GO, NULL, 0);
	put_be32(in + 12, olen);
	while (!h.out_len) {
		size_t avail = 16 + olen - off;

		nbdproto_hs_feed(&h, in + off, avail, &used);
		assert_true(used > 0);
		off += used;
	}
	assert_int_equal(off, 16 + olen);
	replies(&h, r, 4);
	assert_int_equal(r[0].type, NBD_REP_ERR_TOO_BIG);
	nbdproto_hs_sent(&h);
	opt(in, NBD_OPT_EXPORT_NAME, NULL, 0);
	put_be32(in + 12, olen);
	assert_int_equal(nbdproto_hs_feed(&h, in, 16, &used),
			 NBDPROTO_HS_HANGUP);
}

static void test_nbdproto_list_abort(void **state)
{
	uint8_t in[64];
	struct nbdproto_hs h;
	struct reply r[4];
	size_t len, used;

	(void)state;
	start(&h, &exp_default, NBD_FLAG_C_FIXED_NEWSTYLE);
	len = opt(in, NBD_OPT_LIST, NULL, 0);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_MORE);
	assert_int_equal(replies(&h, r, 4), 2);
	assert_int_equal(r[0].type, NBD_REP_SERVER);
	assert_int_equal(get_be32(r[0].data), 4);
	assert_memory_equal(r[0].data + 4, "vol0", 4);
	assert_memory_equal(r[0].data + 8, "a test volume", 13);
	assert_int_equal(r[1].type, NBD_REP_ACK);
	nbdproto_hs_sent(&h);
	len = opt(in, NBD_OPT_LIST, "x", 1);
	nbdproto_hs_feed(&h, in, len, &used);
	assert_int_equal(replies(&h, r, 4), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	nbdproto_hs_sent(&h);
	/* ABORT's data is ignored; the ACK goes out, then the close */
	len = opt(in, NBD_OPT_ABORT, "zz", 2);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_CLOSE);
	assert_int_equal(replies(&h, r, 4), 1);
	assert_int_equal(r[0].type, NBD_REP_ACK);
	nbdproto_hs_sent(&h);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_HANGUP);
}

static void test_nbdproto_export_name(void **state)
{
	uint8_t in[64];
	struct nbdproto_hs h;
	size_t len, used;

	(void)state;
	start(&h, &exp_default, NBD_FLAG_C_FIXED_NEWSTYLE);
	len = opt(in, NBD_OPT_EXPORT_NAME, "vol0", 4);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used), NBDPROTO_HS_GO);
	assert_int_equal(h.out_len, 134);
	assert_true(get_be64(h.out) == 1 << 20);
	assert_int_equal(get_be16(h.out + 8),
			 exp_default.tflags | NBD_FLAG_HAS_FLAGS);
	start(&h, &exp_default, NBD_FLAG_C_FIXED_NEWSTYLE |
				  NBD_FLAG_C_NO_ZEROES);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used), NBDPROTO_HS_GO);
	assert_int_equal(h.out_len, 10);
	/* an unknown name cannot be refused: hang up */
	start(&h, &exp_default, 0);
	len = opt(in, NBD_OPT_EXPORT_NAME, "nope", 4);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_HANGUP);
}

static void test_nbdproto_bad_option_magic(void **state)
{
	uint8_t in[64];
	struct nbdproto_hs h;
	size_t len, used;

	(void)state;
	start(&h, &exp_default, 0);
	len = opt(in, NBD_OPT_LIST, NULL, 0);
	in[3] ^= 1;
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_HANGUP);
}

/* A client that pipelines options gets them answered one at a time: the
 * output never holds more than one option's replies. */
static void test_nbdproto_pipelined_options_bounded(void **state)
{
	uint8_t in[64 * 16];
	struct nbdproto_hs h;
	struct reply r[4];
	size_t len = 0, off = 0, used;
	unsigned int i, answered = 0;

	(void)state;
	start(&h, &exp_default, 0);
	for (i = 0; i < 64; i++)
		len += opt(in + len, NBD_OPT_LIST, NULL, 0);
	while (off < len) {
		nbdproto_hs_feed(&h, in + off, len - off, &used);
		assert_int_equal(used, 16);
		off += used;
		assert_int_equal(replies(&h, r, 4), 2);
		/* not drained: nothing more is taken */
		nbdproto_hs_feed(&h, in + off, len - off, &used);
		assert_int_equal(used, 0);
		nbdproto_hs_sent(&h);
		answered++;
	}
	assert_int_equal(answered, 64);
}

static void test_nbdproto_structured_and_shutdown(void **state)
{
	uint8_t in[128], d[64];
	struct nbdproto_hs h;
	struct reply r[4];
	size_t len, used;

	(void)state;
	start(&h, &exp_default, 0);
	assert_false(nbdproto_hs_tflags(&h) & NBD_FLAG_SEND_DF);
	len = opt(in, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	nbdproto_hs_feed(&h, in, len, &used);
	assert_int_equal(replies(&h, r, 4), 1);
	assert_int_equal(r[0].type, NBD_REP_ACK);
	assert_true(h.structured);
	assert_true(nbdproto_hs_tflags(&h) & NBD_FLAG_SEND_DF);
	nbdproto_hs_sent(&h);
	nbdproto_hs_feed(&h, in, len, &used);
	replies(&h, r, 4);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	nbdproto_hs_sent(&h);
	nbdproto_hs_shutdown(&h);
	len = opt(in, NBD_OPT_GO, d, (uint32_t)go_data(d, "vol0", NULL, 0));
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_MORE);
	replies(&h, r, 4);
	assert_int_equal(r[0].type, NBD_REP_ERR_SHUTDOWN);
	nbdproto_hs_sent(&h);
	/* every option but ABORT, even one that is malformed or repeated */
	len = opt(in, NBD_OPT_GO, d, 3);
	nbdproto_hs_feed(&h, in, len, &used);
	assert_int_equal(replies(&h, r, 4), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_SHUTDOWN);
	nbdproto_hs_sent(&h);
	len = opt(in, NBD_OPT_LIST, d, 1);
	nbdproto_hs_feed(&h, in, len, &used);
	assert_int_equal(replies(&h, r, 4), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_SHUTDOWN);
	nbdproto_hs_sent(&h);
	len = opt(in, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	nbdproto_hs_feed(&h, in, len, &used);
	assert_int_equal(replies(&h, r, 4), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_SHUTDOWN);
	nbdproto_hs_sent(&h);
	len = opt(in, NBD_OPT_ABORT, NULL, 0);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_CLOSE);
}

/* Options we do not do are refused without losing the stream or any
 * state: STRUCTURED_REPLY with data (the spec: SHOULD be ERR_INVALID),
 * EXTENDED_HEADERS (11), STARTTLS and the meta-context options (not
 * supported: ERR_UNSUP).  Info requests listed twice, or that we do not
 * know, get at most one reply each; the export always comes first.  A
 * name of the spec's longest (4096 bytes) is simply unknown; a GO longer
 * than we buffer is ERR_TOO_BIG. */
static void test_nbdproto_option_refusals(void **state)
{
	static const uint16_t dup[] = { NBD_INFO_NAME, NBD_INFO_EXPORT, 999,
					NBD_INFO_BLOCK_SIZE, NBD_INFO_NAME,
					NBD_INFO_BLOCK_SIZE };
	static const uint32_t unsup[] = { 11, NBD_OPT_STARTTLS,
					  NBD_OPT_LIST_META_CONTEXT,
					  NBD_OPT_SET_META_CONTEXT };
	static uint8_t in[2 * NBDPROTO_HS_IN_MIN], d[16384];
	static char name[4097];
	struct nbdproto_hs h;
	struct reply r[8];
	size_t len, used;
	unsigned int i;

	(void)state;
	start(&h, &exp_default, NBD_FLAG_C_FIXED_NEWSTYLE);
	len = opt(in, NBD_OPT_STRUCTURED_REPLY, "x", 1);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_MORE);
	assert_int_equal(used, len);
	assert_int_equal(replies(&h, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	assert_false(h.structured);
	nbdproto_hs_sent(&h);
	for (i = 0; i < sizeof(unsup) / sizeof(unsup[0]); i++) {
		len = opt(in, unsup[i], NULL, 0);
		nbdproto_hs_feed(&h, in, len, &used);
		assert_int_equal(used, len);
		assert_int_equal(replies(&h, r, 8), 1);
		assert_int_equal(r[0].opt, unsup[i]);
		assert_int_equal(r[0].type, NBD_REP_ERR_UNSUP);
		nbdproto_hs_sent(&h);
	}
	assert_false(h.structured);
	assert_false(nbdproto_hs_tflags(&h) & NBD_FLAG_SEND_DF);
	len = opt(in, NBD_OPT_INFO, d, (uint32_t)go_data(d, "vol0", dup, 6));
	nbdproto_hs_feed(&h, in, len, &used);
	assert_int_equal(replies(&h, r, 8), 4);	/* export, name, size, ack */
	assert_int_equal(get_be16(r[0].data), NBD_INFO_EXPORT);
	assert_int_equal(get_be16(r[1].data), NBD_INFO_NAME);
	assert_int_equal(get_be16(r[2].data), NBD_INFO_BLOCK_SIZE);
	assert_int_equal(r[3].type, NBD_REP_ACK);
	nbdproto_hs_sent(&h);
	memset(name, 'v', 4096);
	len = opt(in, NBD_OPT_GO, d, (uint32_t)go_data(d, name, NULL, 0));
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
			 NBDPROTO_HS_MORE);
	assert_int_equal(replies(&h, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_UNKNOWN);
	nbdproto_hs_sent(&h);
	/* a GO one byte longer than we buffer, then a good one */
	memset(d, 0, NBDPROTO_OPT_MAX + 1);
	len = opt(in, NBD_OPT_GO, d, NBDPROTO_OPT_MAX + 1);
	len += opt(in + len, NBD_OPT_GO, d + 8192,
		   (uint32_t)go_data(d + 8192, "vol0", NULL, 0));
	while (!h.out_len) {
		assert_int_equal(nbdproto_hs_feed(&h, in, len, &used),
				 NBDPROTO_HS_MORE);
		assert_true(used > 0);
		memmove(in, in + used, len - used);
		len -= used;
	}
	assert_int_equal(replies(&h, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_TOO_BIG);
	nbdproto_hs_sent(&h);
	assert_int_equal(nbdproto_hs_feed(&h, in, len, &used), NBDPROTO_HS_GO);
	assert_int_equal(used, len);
}

static void req(uint8_t *p, uint16_t flags, uint16_t type, uint64_t handle,
		uint64_t off, uint32_t len)
{
	put_be32(p, NBD_MAGIC_REQUEST);
	put_be16(p + 4, flags);
	put_be16(p + 6, type);
	put_be64(p + 8, handle);
	put_be64(p + 16, off);
	put_be32(p + 24, len);
}

static void test_nbdproto_req_decode(void **state)
{
	struct nbdproto_req r;
	uint8_t w[28];

	(void)state;
	req(w, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 0x1122334455667788ULL,
	    0x10000, 4096);
	assert_int_equal(nbdproto_req_decode(w, &r), 0);
	assert_int_equal(r.flags, NBD_CMD_FLAG_FUA);
	assert_int_equal(r.type, NBD_CMD_WRITE);
	assert_true(r.handle == 0x1122334455667788ULL);
	assert_true(r.offset == 0x10000);
	assert_int_equal(r.len, 4096);
	assert_int_equal(nbdproto_req_payload(&r), 4096);
	r.type = NBD_CMD_READ;
	assert_int_equal(nbdproto_req_payload(&r), 0);
	w[0] ^= 0x80;
	assert_int_equal(nbdproto_req_decode(w, &r), -EBADMSG);
}

static int check(const struct nbdproto_limits *l, uint16_t flags,
		 uint16_t type, uint64_t off, uint32_t len, uint32_t *err)
{
	struct nbdproto_req r = {
		.flags = flags, .type = type, .offset = off, .len = len,
	};

	*err = 0;
	return nbdproto_req_check(l, &r, err);
}

static void test_nbdproto_req_check(void **state)
{
	struct nbdproto_limits l = {
		.size = 1 << 20, .min_block = 4096, .max_block = 65536,
		.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
			  NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
			  NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO,
	};
	uint32_t e;

	(void)state;
	assert_int_equal(check(&l, 0, NBD_CMD_READ, 0, 4096, &e),
			 NBDPROTO_ACT_READ);
	assert_int_equal(check(&l, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE,
			       (1 << 20) - 65536, 65536, &e),
			 NBDPROTO_ACT_WRITE);
	assert_int_equal(check(&l, 0, NBD_CMD_FLUSH, 0, 0, &e),
			 NBDPROTO_ACT_FLUSH);
	/* FUA is accepted on every command once advertised */
	assert_int_equal(check(&l, NBD_CMD_FLAG_FUA, NBD_CMD_FLUSH, 0, 0, &e),
			 NBDPROTO_ACT_FLUSH);
	assert_int_equal(check(&l, 0, NBD_CMD_DISC, 0, 0, &e),
			 NBDPROTO_ACT_DISC);
	/* TRIM and zeroes not written as data may exceed max_block
	 * (nbdcopy sends a whole hole as one WRITE_ZEROES) */
	assert_int_equal(check(&l, 0, NBD_CMD_TRIM, 0, 1 << 20, &e),
			 NBDPROTO_ACT_TRIM);
	assert_int_equal(check(&l, NBD_CMD_FLAG_FAST_ZERO,
			       NBD_CMD_WRITE_ZEROES, 0, 1 << 20, &e),
			 NBDPROTO_ACT_ZERO);
	assert_int_equal(check(&l, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE_ZEROES, 0,
			       1 << 20, &e), NBDPROTO_ACT_ZERO);
	/* unknown command, unknown or misplaced flags */
	assert_int_equal(check(&l, 0, 99, 0, 4096, &e), NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_BLOCK_STATUS, 0, 4096, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(check(&l, 1 << 9, NBD_CMD_READ, 0, 4096, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(check(&l, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE, 0,
			       4096, &e), NBDPROTO_ACT_ERROR);
	/* DF only once structured replies (SEND_DF) are on */
	assert_int_equal(check(&l, NBD_CMD_FLAG_DF, NBD_CMD_READ, 0, 4096,
			       &e), NBDPROTO_ACT_ERROR);
	l.tflags |= NBD_FLAG_SEND_DF;
	assert_int_equal(check(&l, NBD_CMD_FLAG_DF, NBD_CMD_READ, 0, 4096,
			       &e), NBDPROTO_ACT_READ);
	/* zero length, misalignment, above max */
	assert_int_equal(check(&l, 0, NBD_CMD_READ, 0, 0, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_WRITE, 512, 4096, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_READ, 0, 4097, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(check(&l, 0, NBD_CMD_READ, 0, 65536 + 4096, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_EINVAL);
	/* past the end: ENOSPC for writes, EINVAL for reads and trims */
	assert_int_equal(check(&l, 0, NBD_CMD_WRITE, 1 << 20, 4096, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_ENOSPC);
	assert_int_equal(check(&l, 0, NBD_CMD_WRITE_ZEROES, (1 << 20) - 4096,
			       8192, &e), NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_ENOSPC);
	assert_int_equal(check(&l, 0, NBD_CMD_READ, (1 << 20) - 4096, 8192,
			       &e), NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_TRIM, UINT64_MAX - 4095, 4096,
			       &e), NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_EINVAL);
	/* flush with offset or length */
	assert_int_equal(check(&l, 0, NBD_CMD_FLUSH, 4096, 0, &e),
			 NBDPROTO_ACT_ERROR);
	/* a refused write whose payload is too big to skip: hang up */
	assert_int_equal(check(&l, 0, NBD_CMD_WRITE, 0, 64 << 20, &e),
			 NBDPROTO_ACT_HANGUP);
	/* read-only exports refuse writes with EPERM */
	l.tflags |= NBD_FLAG_READ_ONLY;
	assert_int_equal(check(&l, 0, NBD_CMD_TRIM, 0, 4096, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_EPERM);
	/* commands not advertised */
	l.tflags = NBD_FLAG_HAS_FLAGS;
	assert_int_equal(check(&l, 0, NBD_CMD_FLUSH, 0, 0, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(check(&l, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 0, 4096,
			       &e), NBDPROTO_ACT_ERROR);
}

/* NO_HOLE: the range MUST end up fully provisioned.  A backend whose
 * zeroing may punch holes writes zeroes instead, and cannot do that
 * faster than a write, so FAST_ZERO with NO_HOLE is ENOTSUP (after the
 * usual validity checks); one whose zeroing allocates just zeroes. */
static void test_nbdproto_zero_no_hole(void **state)
{
	struct nbdproto_limits l = {
		.size = 1 << 20, .min_block = 4096, .max_block = 65536,
		.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_WRITE_ZEROES |
			  NBD_FLAG_SEND_FAST_ZERO,
	};
	uint32_t e = 0;

	(void)state;
	assert_int_equal(check(&l, 0, NBD_CMD_WRITE_ZEROES, 0, 65536, &e),
			 NBDPROTO_ACT_ZERO);
	assert_int_equal(check(&l, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES,
			       0, 65536, &e), NBDPROTO_ACT_ZERO_WRITE);
	assert_int_equal(check(&l, NBD_CMD_FLAG_NO_HOLE |
			       NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES,
			       0, 4096, &e), NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_ENOTSUP);
	assert_int_equal(check(&l, NBD_CMD_FLAG_NO_HOLE |
			       NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES,
			       0, 1 << 20, &e), NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_ENOTSUP);
	/* written in chunks: any length within the export (nbdcopy
	 * --allocated sends a whole hole as one) */
	assert_int_equal(check(&l, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES,
			       0, 1 << 20, &e), NBDPROTO_ACT_ZERO_WRITE);
	/* invalid requests are still EINVAL/ENOSPC first */
	assert_int_equal(check(&l, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES,
			       4096, 1 << 20, &e), NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_ENOSPC);
	assert_int_equal(check(&l, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES,
			       512, 4096, &e), NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_EINVAL);
	assert_int_equal(check(&l, NBD_CMD_FLAG_NO_HOLE |
			       NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES,
			       1 << 20, 4096, &e), NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_ENOSPC);
	l.zero_allocates = true;
	assert_int_equal(check(&l, NBD_CMD_FLAG_NO_HOLE |
			       NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES,
			       0, 1 << 20, &e), NBDPROTO_ACT_ZERO);
}

/* FAST_ZERO: the spec says a zero that would not be faster than a write
 * MUST fail with ENOTSUP.  When the backend's zeroing is not known to be
 * fast (zero_slow), every FAST_ZERO is refused, after the usual validity
 * checks; zeroes without it go on as before. */
static void test_nbdproto_fast_zero_slow(void **state)
{
	struct nbdproto_limits l = {
		.size = 1 << 20, .min_block = 4096, .max_block = 65536,
		.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_WRITE_ZEROES |
			  NBD_FLAG_SEND_FAST_ZERO | NBD_FLAG_SEND_FUA,
		.zero_slow = true,
	};
	uint32_t e = 0;

	(void)state;
	assert_int_equal(check(&l, NBD_CMD_FLAG_FAST_ZERO,
			       NBD_CMD_WRITE_ZEROES, 0, 65536, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_ENOTSUP);
	e = 0;
	assert_int_equal(check(&l, NBD_CMD_FLAG_FAST_ZERO | NBD_CMD_FLAG_FUA,
			       NBD_CMD_WRITE_ZEROES, 0, 1 << 20, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_ENOTSUP);
	l.zero_allocates = true;	/* even if it would stay allocated */
	e = 0;
	assert_int_equal(check(&l, NBD_CMD_FLAG_FAST_ZERO |
			       NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES,
			       0, 4096, &e), NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_ENOTSUP);
	l.zero_allocates = false;
	/* zeroes without FAST_ZERO are carried out as before */
	assert_int_equal(check(&l, 0, NBD_CMD_WRITE_ZEROES, 0, 1 << 20, &e),
			 NBDPROTO_ACT_ZERO);
	assert_int_equal(check(&l, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES,
			       0, 1 << 20, &e), NBDPROTO_ACT_ZERO_WRITE);
	/* invalid requests are still EINVAL/ENOSPC first */
	assert_int_equal(check(&l, NBD_CMD_FLAG_FAST_ZERO,
			       NBD_CMD_WRITE_ZEROES, 512, 4096, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_EINVAL);
	assert_int_equal(check(&l, NBD_CMD_FLAG_FAST_ZERO,
			       NBD_CMD_WRITE_ZEROES, 1 << 20, 4096, &e),
			 NBDPROTO_ACT_ERROR);
	assert_int_equal(e, NBD_ENOSPC);
	/* fast again: carried out */
	l.zero_slow = false;
	assert_int_equal(check(&l, NBD_CMD_FLAG_FAST_ZERO,
			       NBD_CMD_WRITE_ZEROES, 0, 65536, &e),
			 NBDPROTO_ACT_ZERO);
}

static void test_nbdproto_errors_and_replies(void **state)
{
	char msg[128];
	uint8_t b[128];
	size_t n;

	(void)state;
	assert_int_equal(nbdproto_error(0), 0);
	assert_int_equal(nbdproto_error(-EIO), NBD_EIO);
	assert_int_equal(nbdproto_error(-EDQUOT), NBD_ENOSPC);
	assert_int_equal(nbdproto_error(-EFBIG), NBD_ENOSPC);
	assert_int_equal(nbdproto_error(-EOPNOTSUPP), NBD_ENOTSUP);
	assert_int_equal(nbdproto_error(-ESHUTDOWN), NBD_ESHUTDOWN);
	assert_int_equal(nbdproto_error(-EOVERFLOW), NBD_EOVERFLOW);
	assert_int_equal(nbdproto_error(-ETIMEDOUT), NBD_EIO);
	assert_int_equal(nbdproto_simple_reply(b, 7, NBD_EINVAL), 16);
	assert_int_equal(get_be32(b), NBD_MAGIC_SIMPLE);
	assert_int_equal(get_be32(b + 4), NBD_EINVAL);
	assert_true(get_be64(b + 8) == 7);
	assert_int_equal(nbdproto_read_chunk(b, 9, 8192, 4096), 28);
	assert_int_equal(get_be32(b), NBD_MAGIC_STRUCTURED);
	assert_int_equal(get_be16(b + 4), NBD_REPLY_FLAG_DONE);
	assert_int_equal(get_be16(b + 6), NBD_REPLY_TYPE_OFFSET_DATA);
	assert_int_equal(get_be32(b + 16), 4096 + 8);
	assert_true(get_be64(b + 20) == 8192);
	n = nbdproto_error_chunk(b, 9, NBD_ENOSPC, "past the end");
	assert_int_equal(n, 20 + 6 + 12);
	assert_int_equal(get_be16(b + 6), NBD_REPLY_TYPE_ERROR);
	assert_int_equal(get_be32(b + 16), 6 + 12);
	assert_int_equal(get_be32(b + 20), NBD_ENOSPC);
	assert_int_equal(get_be16(b + 24), 12);
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = 0;
	n = nbdproto_error_chunk(b, 9, NBD_EIO, msg);
	assert_int_equal(n, NBDPROTO_ERR_CHUNK_MAX);
	assert_string_equal(nbdproto_cmd_name(NBD_CMD_WRITE_ZEROES),
			    "write_zeroes");
	assert_string_equal(nbdproto_opt_name(1000), "opt?");
}

static void test_nbdproto_export_check(void **state)
{
	struct nbdproto_export e = exp_default;

	(void)state;
	e.min_block = 3000;
	assert_int_equal(nbdproto_export_check(&e), -EINVAL);
	e = exp_default;
	e.max_block = 65536 + 512;
	assert_int_equal(nbdproto_export_check(&e), -EINVAL);
	e = exp_default;
	e.size += 512;
	assert_int_equal(nbdproto_export_check(&e), -EINVAL);
	e = exp_default;
	e.name = "";
	assert_int_equal(nbdproto_export_check(&e), -EINVAL);
	e = exp_default;
	e.min_block = 512;
	e.pref_block = 4096;
	assert_int_equal(nbdproto_export_check(&e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nbdproto_greeting),
		cmocka_unit_test(test_nbdproto_go),
		cmocka_unit_test(test_nbdproto_info_then_go_default),
		cmocka_unit_test(test_nbdproto_go_errors),
		cmocka_unit_test(test_nbdproto_unknown_option_keeps_stream),
		cmocka_unit_test(test_nbdproto_oversize_option),
		cmocka_unit_test(test_nbdproto_list_abort),
		cmocka_unit_test(test_nbdproto_export_name),
		cmocka_unit_test(test_nbdproto_bad_option_magic),
		cmocka_unit_test(test_nbdproto_pipelined_options_bounded),
		cmocka_unit_test(test_nbdproto_structured_and_shutdown),
		cmocka_unit_test(test_nbdproto_option_refusals),
		cmocka_unit_test(test_nbdproto_req_decode),
		cmocka_unit_test(test_nbdproto_req_check),
		cmocka_unit_test(test_nbdproto_zero_no_hole),
		cmocka_unit_test(test_nbdproto_fast_zero_slow),
		cmocka_unit_test(test_nbdproto_errors_and_replies),
		cmocka_unit_test(test_nbdproto_export_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
