/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "replica_rules.h"

/* ---- HELLO ---- */

static struct repl_hdr hello_hdr(uint64_t epoch, uint8_t flags)
{
	struct repl_hdr h;

	memset(&h, 0, sizeof(h));
	h.op = REPL_OP_HELLO;
	h.flags = flags;
	h.len = sizeof(struct repl_hello);
	h.epoch = epoch;
	return h;
}

static struct repl_hello hello(const char *name, uint64_t size, uint32_t bs,
			       const char *zone)
{
	struct repl_hello p;

	memset(&p, 0, sizeof(p));
	p.size = htole64(size);
	p.block_size = htole32(bs);
	strncpy(p.volume, name, sizeof(p.volume));
	strncpy(p.zone, zone, sizeof(p.zone));
	return p;
}

static int check_hello(struct repl_hello p, struct replica_hello *out)
{
	struct repl_hdr h = hello_hdr(3, REPL_F_CREATE);

	return replica_hello_check(&h, &p, "z1", out);
}

static void test_replica_rules_hello_accepts(void **state)
{
	struct replica_hello hl;

	(void)state;
	assert_int_equal(check_hello(hello("pvc-1.data_x", 1 << 30, 4096, "z1"),
				     &hl), 0);
	assert_string_equal(hl.volume, "pvc-1.data_x");
	assert_int_equal(hl.size, 1 << 30);
	assert_int_equal(hl.block_size, 4096);
	assert_int_equal(hl.epoch, 3);
	assert_true(hl.create);
	/* an empty zone skips the zone check */
	assert_int_equal(check_hello(hello("v", 512, 512, ""), &hl), 0);
}

static void test_replica_rules_hello_refuses(void **state)
{
	struct replica_hello hl;
	struct repl_hello p;
	struct repl_hdr h = hello_hdr(1, 0);

	(void)state;
	assert_int_equal(check_hello(hello("", 4096, 4096, ""), &hl), EINVAL);
	assert_int_equal(check_hello(hello(".hidden", 4096, 4096, ""), &hl),
			 EINVAL);
	assert_int_equal(check_hello(hello("a/b", 4096, 4096, ""), &hl), EINVAL);
	assert_int_equal(check_hello(hello("a b", 4096, 4096, ""), &hl), EINVAL);
	p = hello("x", 4096, 4096, "");
	memset(p.volume, 'a', sizeof(p.volume));	/* no NUL */
	assert_int_equal(check_hello(p, &hl), EINVAL);
	assert_string_equal(hl.volume, "");		/* zeroed on refusal */
	p = hello("x", 4096, 4096, "");
	memset(p.zone, 'z', sizeof(p.zone));
	assert_int_equal(check_hello(p, &hl), EINVAL);
	assert_int_equal(check_hello(hello("x", 4096, 1000, ""), &hl), EINVAL);
	assert_int_equal(check_hello(hello("x", 4096, 256, ""), &hl), EINVAL);
	assert_int_equal(check_hello(hello("x", 1 << 17, 1 << 17, ""), &hl),
			 EINVAL);
	assert_int_equal(check_hello(hello("x", 0, 4096, ""), &hl), EINVAL);
	assert_int_equal(check_hello(hello("x", 4097, 4096, ""), &hl), EINVAL);
	assert_int_equal(check_hello(hello("x", (512ULL << 32) + 512, 512, ""),
				     &hl), EINVAL);
	assert_int_equal(check_hello(hello("x", 4096, 4096, "z2"), &hl), EXDEV);
	h.len = 100;
	p = hello("x", 4096, 4096, "");
	assert_int_equal(replica_hello_check(&h, &p, "z1", &hl), EINVAL);
}

static void test_replica_rules_hello_match(void **state)
{
	struct replica_volinfo v = { .size = 1 << 20, .block_size = 4096,
				     .generation = 5 };
	struct replica_hello hl = { .size = 1 << 20, .block_size = 4096,
				    .epoch = 5 };

	(void)state;
	assert_int_equal(replica_hello_match(&hl, &v), 0);
	hl.epoch = 9;
	assert_int_equal(replica_hello_match(&hl, &v), 0);
	hl.epoch = 4;
	assert_int_equal(replica_hello_match(&hl, &v), ESTALE);
	hl.epoch = 5;
	hl.size = 2 << 20;
	assert_int_equal(replica_hello_match(&hl, &v), EINVAL);
	hl.size = 1 << 20;
	hl.block_size = 512;
	assert_int_equal(replica_hello_match(&hl, &v), EINVAL);
}

/* ---- data requests ---- */

static const struct replica_volinfo vol = {
	.size = 1 << 20, .block_size = 4096, .generation = 5,
};

static int io(uint8_t op, uint8_t flags, uint64_t off, uint32_t len,
	      uint64_t epoch, struct replica_span *s)
{
	struct repl_hdr h;

	memset(&h, 0, sizeof(h));
	h.op = op;
	h.flags = flags;
	h.offset = off;
	h.len = len;
	h.epoch = epoch;
	return replica_check_io(&h, &vol, 5, s);
}

static void test_replica_rules_io_ranges(void **state)
{
	struct replica_span s;

	(void)state;
	assert_int_equal(io(REPL_OP_WRITE, 0, 8192, 4096, 5, &s), 0);
	assert_int_equal(s.kind, REPLICA_SPAN_WRITE);
	assert_int_equal(s.off, 8192);
	assert_int_equal(s.len, 4096);
	assert_int_equal(s.nblocks, 1);
	/* the last block, exactly */
	assert_int_equal(io(REPL_OP_READ, 0, (1 << 20) - 4096, 4096, 5, &s), 0);
	assert_int_equal(s.kind, REPLICA_SPAN_READ);
	assert_int_equal(io(REPL_OP_READ, 0, (1 << 20) - 4096, 8192, 5, &s),
			 EINVAL);
	assert_int_equal(s.len, 0);
	assert_int_equal(io(REPL_OP_WRITE, 0, 1 << 20, 4096, 5, &s), EINVAL);
	/* an offset that would wrap around */
	assert_int_equal(io(REPL_OP_TRIM, 0, UINT64_MAX - 4095, 8192, 5, &s),
			 EINVAL);
	assert_int_equal(io(REPL_OP_WRITE, 0, 100, 4096, 5, &s), EINVAL);
	assert_int_equal(io(REPL_OP_WRITE, 0, 4096, 100, 5, &s), EINVAL);
	assert_int_equal(io(REPL_OP_ZERO, 0, 4096, 0, 5, &s), EINVAL);
	assert_int_equal(io(REPL_OP_ZERO, 0, 0, 1 << 20, 5, &s), 0);
	assert_int_equal(s.nblocks, 256);
	assert_int_equal(io(REPL_OP_FLUSH, 0, 12345, 0, 5, &s), 0);
	assert_int_equal(s.kind, REPLICA_SPAN_BARRIER);
}

static void test_replica_rules_io_epochs(void **state)
{
	struct replica_span s;

	(void)state;
	assert_int_equal(io(REPL_OP_WRITE, 0, 0, 4096, 4, &s), ESTALE);
	assert_int_equal(io(REPL_OP_FLUSH, 0, 0, 0, 4, &s), ESTALE);
	/* newer than the HELLO that opened the handle */
	assert_int_equal(io(REPL_OP_WRITE, 0, 0, 4096, 6, &s), EINVAL);
	/* STATUS is exempt: a stale engine may still ask */
	assert_int_equal(io(REPL_OP_STATUS, 0, 0, 0, 1, &s), 0);
	assert_int_equal(s.kind, REPLICA_SPAN_NONE);
}

static void test_replica_rules_io_resync(void **state)
{
	struct repl_hdr h = { .op = REPL_OP_RESYNC_READ, .len = 8192,
			      .offset = 4096, .epoch = 5 };
	struct replica_span s;

	(void)state;
	/* 3 blocks: 3 * (8 + 4096) bytes of payload, 3 blocks of range */
	assert_int_equal(io(REPL_OP_WRITE, REPL_F_RESYNC, 4096, 3 * 4104, 5,
			    &s), 0);
	assert_int_equal(s.len, 3 * 4096);
	assert_int_equal(s.nblocks, 3);
	assert_int_equal(io(REPL_OP_WRITE, REPL_F_RESYNC, 4096, 3 * 4096, 5,
			    &s), EINVAL);
	assert_int_equal(io(REPL_OP_WRITE, REPL_F_RESYNC,
			    (1 << 20) - 4096, 2 * 4104, 5, &s), EINVAL);
	assert_int_equal(replica_check_io(&h, &vol, 5, &s), 0);
	assert_int_equal(replica_reply_len(&h, &s), 2 * 8 + 8192);
	h.op = REPL_OP_READ;
	assert_int_equal(replica_reply_len(&h, &s), 8192);
}

/* ---- ordering ---- */

static struct replica_oq_item item(enum replica_span_kind k, uint64_t off,
				   uint64_t len)
{
	struct replica_oq_item it;

	memset(&it, 0, sizeof(it));
	it.span.kind = k;
	it.span.off = off;
	it.span.len = len;
	return it;
}

static void test_replica_rules_order(void **state)
{
	struct replica_oq q = { 0 };
	struct replica_oq_item w1 = item(REPLICA_SPAN_WRITE, 0, 8192);
	struct replica_oq_item w2 = item(REPLICA_SPAN_WRITE, 4096, 4096);
	struct replica_oq_item w3 = item(REPLICA_SPAN_WRITE, 8192, 4096);
	struct replica_oq_item r1 = item(REPLICA_SPAN_READ, 8192, 8192);
	struct replica_oq_item r2 = item(REPLICA_SPAN_READ, 8192, 4096);
	struct replica_oq_item f = item(REPLICA_SPAN_BARRIER, 0, 0);
	struct replica_oq_item w4 = item(REPLICA_SPAN_WRITE, 4096, 4096);

	(void)state;
	replica_oq_add(&q, &w1);
	replica_oq_add(&q, &w2);	/* overlaps w1 */
	replica_oq_add(&q, &w3);	/* touches w1's end: no overlap */
	replica_oq_add(&q, &r1);	/* overlaps w3 */
	replica_oq_add(&q, &r2);	/* overlaps w3, and r1 (reads) */
	replica_oq_add(&q, &f);
	replica_oq_add(&q, &w4);	/* overlaps w1, w2; after the flush */
	assert_int_equal(q.nr, 7);
	assert_true(replica_oq_may_start(&q, &w1));
	assert_false(replica_oq_may_start(&q, &w2));
	assert_true(replica_oq_may_start(&q, &w3));
	assert_false(replica_oq_may_start(&q, &r1));
	assert_false(replica_oq_may_start(&q, &r2));
	assert_false(replica_oq_may_start(&q, &f));
	assert_false(replica_oq_may_start(&q, &w4));

	replica_oq_del(&q, &w3);
	assert_true(replica_oq_may_start(&q, &r1));
	assert_true(replica_oq_may_start(&q, &r2));	/* reads share */
	replica_oq_del(&q, &w1);
	assert_true(replica_oq_may_start(&q, &w2));
	assert_false(replica_oq_may_start(&q, &f));	/* w2 still there */
	assert_false(replica_oq_may_start(&q, &w4));	/* w2 overlaps */
	replica_oq_del(&q, &w2);
	/* a flush waits for no read; a write does not wait for a flush */
	assert_true(replica_oq_may_start(&q, &f));
	assert_true(replica_oq_may_start(&q, &w4));
	replica_oq_del(&q, &r1);
	replica_oq_del(&q, &r2);
	replica_oq_del(&q, &f);
	replica_oq_del(&q, &w4);
	assert_int_equal(q.nr, 0);
	assert_null(q.head);
	assert_null(q.tail);
}

/* ---- resync ---- */

static uint64_t cur_of(const void *ctx, uint64_t b)
{
	return ((const uint64_t *)ctx)[b];
}

static void put_seqs(uint8_t *p, const uint64_t *s, unsigned int n)
{
	unsigned int i;
	uint64_t v;

	for (i = 0; i < n; i++) {
		v = htole64(s[i]);
		memcpy(p + 8 * i, &v, 8);
	}
}

/* Blocks apply only where the copy is newer; equal and zero seqs never;
 * skipped blocks have their seq zeroed in the payload. */
static void test_replica_rules_resync_newer_only(void **state)
{
	/* volume blocks 10..17 */
	uint64_t cur[18] = { [10] = 5, [11] = 5, [12] = 9, [13] = 0,
			     [14] = 3, [15] = 7, [16] = 7, [17] = 1 };
	uint64_t copy[8] = { 6, 7, 9, 0, 4, 8, 6, 2 };
	uint8_t seqs[64];
	struct replica_resync rs = { .seqs = seqs, .n = 8, .first_block = 10,
				     .cur = cur_of, .ctx = cur };
	uint32_t start, count;

	(void)state;
	put_seqs(seqs, copy, 8);
	assert_true(replica_resync_next(&rs, &start, &count));
	assert_int_equal(start, 0);	/* 6 > 5, 7 > 5 */
	assert_int_equal(count, 2);
	assert_true(replica_resync_next(&rs, &start, &count));
	assert_int_equal(start, 4);	/* 9 = 9 and 0 skipped; 4 > 3, 8 > 7 */
	assert_int_equal(count, 2);
	assert_true(replica_resync_next(&rs, &start, &count));
	assert_int_equal(start, 7);	/* 6 < 7 skipped; 2 > 1 */
	assert_int_equal(count, 1);
	assert_false(replica_resync_next(&rs, &start, &count));
	assert_int_equal(replica_resync_seq(seqs, 0), 6);
	assert_int_equal(replica_resync_seq(seqs, 1), 7);
	assert_int_equal(replica_resync_seq(seqs, 2), 0);
	assert_int_equal(replica_resync_seq(seqs, 3), 0);
	assert_int_equal(replica_resync_seq(seqs, 4), 4);
	assert_int_equal(replica_resync_seq(seqs, 5), 8);
	assert_int_equal(replica_resync_seq(seqs, 6), 0);
	assert_int_equal(replica_resync_seq(seqs, 7), 2);
}

static void test_replica_rules_resync_nothing_newer(void **state)
{
	uint64_t cur[4] = { 9, 9, 9, 9 }, copy[4] = { 9, 1, 0, 8 };
	uint8_t seqs[32];
	struct replica_resync rs = { .seqs = seqs, .n = 4, .cur = cur_of,
				     .ctx = cur };
	uint32_t start, count;

	(void)state;
	put_seqs(seqs, copy, 4);
	assert_false(replica_resync_next(&rs, &start, &count));
	assert_int_equal(replica_resync_seq(seqs, 0), 0);
	assert_int_equal(replica_resync_seq(seqs, 3), 0);
}

/* ---- metadata ---- */

static const struct replica_meta meta1 = {
	.counter = 7, .size = 1 << 30, .generation = 1795533407925ULL,
	.applied_seq = 123456, .bytes_written = 999, .block_size = 4096,
	.synced_seq = 123000,
	.state = REPL_STATE_DIRTY,
	.mnt_id = 0x1000000a5ULL,
	.boot_id = { 0x3f, 0x1c, 0x9e, 0x02, 0x57, 0x44, 0x4b, 0x8a,
		     0x91, 0x0d, 0xe6, 0x7b, 0x20, 0xc4, 0x55, 0x18 },
};

static void test_replica_rules_meta_roundtrip(void **state)
{
	uint8_t slot[REPLICA_META_SLOT];
	struct replica_meta m;

	(void)state;
	replica_meta_encode(&meta1, slot);
	assert_memory_equal(slot, "TPRM", 4);
	assert_int_equal(replica_meta_decode(slot, &m), 0);
	assert_memory_equal(&m, &meta1, sizeof(m));
}

static void test_replica_rules_meta_damage(void **state)
{
	uint8_t slot[REPLICA_META_SLOT];
	struct replica_meta m, bad = meta1;
	int i;

	(void)state;
	replica_meta_encode(&meta1, slot);
	for (i = 0; i < (int)REPLICA_META_SLOT * 8; i += 7) {
		slot[i / 8] ^= (uint8_t)(1 << (i % 8));
		assert_int_equal(replica_meta_decode(slot, &m), -EBADMSG);
		slot[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	bad.state = REPL_STATE_SYNC_FAILED + 1;
	replica_meta_encode(&bad, slot);
	assert_int_equal(replica_meta_decode(slot, &m), -EPROTO);
	/* a volume whose sync failed is a valid record, and says so */
	bad.state = REPL_STATE_SYNC_FAILED;
	replica_meta_encode(&bad, slot);
	assert_int_equal(replica_meta_decode(slot, &m), 0);
	assert_int_equal(m.state, REPL_STATE_SYNC_FAILED);
	bad = meta1;
	bad.size = 4097;
	replica_meta_encode(&bad, slot);
	assert_int_equal(replica_meta_decode(slot, &m), -EPROTO);
}

/* The valid slot with the higher counter wins; a torn newer slot leaves
 * the older one in charge. */
static void test_replica_rules_meta_pick(void **state)
{
	uint8_t file[2 * REPLICA_META_SLOT];
	struct replica_meta m, newer = meta1;

	(void)state;
	newer.counter = 8;
	newer.state = REPL_STATE_CLEAN;
	replica_meta_encode(&meta1, file + REPLICA_META_SLOT);	/* 7: slot 1 */
	replica_meta_encode(&newer, file);			/* 8: slot 0 */
	assert_int_equal(replica_meta_pick(file, sizeof(file), &m), 0);
	assert_int_equal(m.counter, 8);
	assert_int_equal(m.state, REPL_STATE_CLEAN);
	file[100] ^= 1;		/* slot 0 torn */
	assert_int_equal(replica_meta_pick(file, sizeof(file), &m), 0);
	assert_int_equal(m.counter, 7);
	/* a file cut short after one (torn) slot */
	assert_int_equal(replica_meta_pick(file, REPLICA_META_SLOT, &m),
			 -EBADMSG);
	file[100] ^= 1;
	assert_int_equal(replica_meta_pick(file, REPLICA_META_SLOT, &m), 0);
	assert_int_equal(m.counter, 8);
	file[REPLICA_META_SLOT + 3] ^= 1;
	file[3] ^= 1;
	assert_int_equal(replica_meta_pick(file, sizeof(file), &m), -EBADMSG);
	assert_int_equal(replica_meta_pick(file, 0, &m), -EBADMSG);
}

/* The writer's identity sits after synced_seq, in what older servers
 * wrote as zero padding, and every older field keeps its offset: a
 * record of an older server (those bytes zero) reads as an unknown
 * writer, never as this one. */
static void test_replica_rules_meta_writer(void **state)
{
	static const uint8_t none[REPLICA_BOOT_ID_LEN];
	uint8_t slot[REPLICA_META_SLOT];
	struct replica_meta m, old = meta1;
	uint64_t u;

	(void)state;
	replica_meta_encode(&meta1, slot);
	memcpy(&u, slot + 56, 8);
	assert_int_equal(le64toh(u), meta1.synced_seq);
	memcpy(&u, slot + 64, 8);
	assert_int_equal(le64toh(u), meta1.mnt_id);
	assert_memory_equal(slot + 72, meta1.boot_id, REPLICA_BOOT_ID_LEN);
	assert_true(replica_meta_same_cache(&meta1, meta1.boot_id,
					    meta1.mnt_id));
	/* another boot, another mount */
	assert_false(replica_meta_same_cache(&meta1, none, meta1.mnt_id));
	assert_false(replica_meta_same_cache(&meta1, meta1.boot_id,
					     meta1.mnt_id + 1));
	/* an older server's record */
	old.mnt_id = 0;
	memset(old.boot_id, 0, sizeof(old.boot_id));
	replica_meta_encode(&old, slot);
	assert_int_equal(replica_meta_decode(slot, &m), 0);
	assert_false(replica_meta_same_cache(&m, meta1.boot_id, meta1.mnt_id));
	/* unknown here: a kernel without unique mount ids, no boot id */
	assert_false(replica_meta_same_cache(&m, none, 0));
	m = meta1;
	m.mnt_id = 0;
	assert_false(replica_meta_same_cache(&m, meta1.boot_id, 0));
	memset(m.boot_id, 0, sizeof(m.boot_id));
	m.mnt_id = meta1.mnt_id;
	assert_false(replica_meta_same_cache(&m, none, meta1.mnt_id));
}

static void test_replica_rules_boot_id_parse(void **state)
{
	static const char good[] = "3f1c9e02-5744-4b8a-910d-E67B20c45518\n";
	uint8_t id[REPLICA_BOOT_ID_LEN], keep[REPLICA_BOOT_ID_LEN];

	(void)state;
	assert_int_equal(replica_boot_id_parse(good, strlen(good), id), 0);
	assert_memory_equal(id, meta1.boot_id, sizeof(id));
	assert_int_equal(replica_boot_id_parse(good, 36, id), 0);
	assert_memory_equal(id, meta1.boot_id, sizeof(id));
	memset(keep, 0xee, sizeof(keep));
	memcpy(id, keep, sizeof(id));
	assert_int_equal(replica_boot_id_parse(good, 35, id), -EINVAL);
	assert_int_equal(replica_boot_id_parse("", 0, id), -EINVAL);
	assert_int_equal(replica_boot_id_parse(
		"3f1c9e0205744-4b8a-910d-e67b20c45518", 36, id), -EINVAL);
	assert_int_equal(replica_boot_id_parse(
		"3f1c9e02-5744-4b8a-910d-e67b20c4551g", 36, id), -EINVAL);
	assert_int_equal(replica_boot_id_parse(
		"3f1c9e02-5744-4b8a-910d-e67b20c455189", 37, id), -EINVAL);
	assert_memory_equal(id, keep, sizeof(id));
}

/* A FLUSH saying a full copy is done takes a volume out of SYNC_FAILED
 * only when the flush succeeded and no sync failed in this run (its seqs
 * could still claim dropped writes, and copies not have landed); any
 * other state is left as it is. */
static void test_replica_rules_state_copied(void **state)
{
	(void)state;
	assert_int_equal(replica_state_copied(REPL_STATE_SYNC_FAILED, 0,
					      false), REPL_STATE_DIRTY);
	assert_int_equal(replica_state_copied(REPL_STATE_SYNC_FAILED, EIO,
					      false), REPL_STATE_SYNC_FAILED);
	assert_int_equal(replica_state_copied(REPL_STATE_SYNC_FAILED, 0,
					      true), REPL_STATE_SYNC_FAILED);
	assert_int_equal(replica_state_copied(REPL_STATE_SYNC_FAILED, EIO,
					      true), REPL_STATE_SYNC_FAILED);
	assert_int_equal(replica_state_copied(REPL_STATE_DIRTY, 0, false),
			 REPL_STATE_DIRTY);
	assert_int_equal(replica_state_copied(REPL_STATE_DIRTY, EIO, true),
			 REPL_STATE_DIRTY);
	assert_int_equal(replica_state_copied(REPL_STATE_CLEAN, 0, false),
			 REPL_STATE_CLEAN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replica_rules_hello_accepts),
		cmocka_unit_test(test_replica_rules_hello_refuses),
		cmocka_unit_test(test_replica_rules_hello_match),
		cmocka_unit_test(test_replica_rules_io_ranges),
		cmocka_unit_test(test_replica_rules_io_epochs),
		cmocka_unit_test(test_replica_rules_io_resync),
		cmocka_unit_test(test_replica_rules_order),
		cmocka_unit_test(test_replica_rules_resync_newer_only),
		cmocka_unit_test(test_replica_rules_resync_nothing_newer),
		cmocka_unit_test(test_replica_rules_meta_roundtrip),
		cmocka_unit_test(test_replica_rules_meta_damage),
		cmocka_unit_test(test_replica_rules_meta_pick),
		cmocka_unit_test(test_replica_rules_meta_writer),
		cmocka_unit_test(test_replica_rules_boot_id_parse),
		cmocka_unit_test(test_replica_rules_state_copied),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
