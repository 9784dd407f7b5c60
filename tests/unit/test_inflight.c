/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pieces of the tracers' in-flight tables that live in include/abi,
 * held to what the BPF programs rely on: blk_slot_home() and
 * zone_slot_home() keep neighbouring requests in distinct probe windows
 * and few pages, and inflight_check() tells a slot torn between two
 * claims from a whole one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi/blktrace.h"
#include "abi/inflight.h"
#include "abi/udata.h"
#include "abi/zonetrace.h"

/* A deterministic generator, so a failure reproduces. */
static uint64_t rnd_state = 0x853c49e6748fea9bULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

_Static_assert(BLK_START_SLOTS == ZONE_INFLIGHT_SLOTS, "dist() serves both");

static unsigned int dist(unsigned int a, unsigned int b)
{
	unsigned int d = (a - b) & (BLK_START_SLOTS - 1);

	return d < BLK_START_SLOTS - d ? d : BLK_START_SLOTS - d;
}

/* A tag set's requests, side by side from a cache-line-aligned base, at
 * any size blk-mq rounds them to (struct request is 248 bytes, so 256 and
 * up): home slots pairwise at least BLK_START_PROBES apart, so no request
 * probes another's home, and all within a few pages of the table.  The
 * key may be offset by any constant (tp_btf keys are distances from a
 * fixed address), which shifts the homes but not their spacing. */
static void test_inflight_blk_home_spreads_a_tag_set(void **state)
{
	static const unsigned int sizes[] = { 256, 320, 384, 512, 1024 };
	static const uint64_t offsets[] = {
		0, 8, 0x1234, 0xffffc90001a2b3c8ULL,
	};
	unsigned int homes[128], s, o, b, i, j, span;
	uint64_t base, k;

	(void)state;
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	for (o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++)
	for (b = 0; b < 16; b++) {
		base = 0xffff888000000000ULL + (rnd() & 0x3fffffffc0ULL);
		for (i = 0; i < 128; i++) {
			k = base + (uint64_t)i * sizes[s] - offsets[o];
			homes[i] = blk_slot_home(k);
		}
		for (i = 0; i < 128; i++)
			for (j = 0; j < i; j++)
				assert_true(dist(homes[i], homes[j]) >=
					    BLK_START_PROBES);
		/* Homes rise with the address (modulo the table).  Slots
		 * are 32 bytes and requests at least 256: the set takes up
		 * about half its own size of the table. */
		span = ((homes[127] - homes[0]) & (BLK_START_SLOTS - 1)) +
		       BLK_START_PROBES;
		assert_true(span * sizeof(struct blk_start) <=
			    128 * sizes[s] / 2 + 4096);
	}
}

/* An engine's requests: indices 0..255 of a few engines (the engine puts
 * its number above bit 24) in a few zones, from one process and from
 * several.  Any two with the same process and zone and indices in one run
 * of 16 have disjoint probe windows inside one 64-slot block; keys that
 * differ in process or zone land in different blocks nearly always. */
static void test_inflight_zone_home_keeps_runs_together(void **state)
{
	unsigned int h[256], e, z, i, j, same = 0, pairs = 0;
	uint32_t tgid;
	uint64_t key;

	(void)state;
	for (tgid = 100; tgid < 4000000; tgid = tgid * 7 + 1)
	for (e = 0; e < 4; e++)
	for (z = 1; z < 5; z++) {
		for (i = 0; i < 256; i++) {
			key = ud_req_key(ud_make(UD_CLS_REPL, UD_OP_WRITE, z,
						 0, e << 24 | i)) |
			      ZONE_KEY_USED;
			h[i] = zone_slot_home(key, tgid);
			assert_true(h[i] < ZONE_INFLIGHT_SLOTS);
			assert_int_equal(h[i] % 64, 4 * (i % 16));
		}
		for (i = 0; i < 256; i++)
			for (j = i + 1; j < 256 && j / 16 == i / 16; j++) {
				assert_int_equal(h[i] / 64, h[j] / 64);
				assert_true(dist(h[i], h[j]) >=
					    ZONE_INFLIGHT_PROBES);
			}
		/* Runs of one engine and zone spread over blocks. */
		for (i = 0; i < 256; i += 16)
			for (j = i + 16; j < 256; j += 16, pairs++)
				same += h[i] / 64 == h[j] / 64;
	}
	/* 1024 blocks: a pair shares one by chance, 1/1024 of the time. */
	assert_true(same * 100 < pairs);
}

struct entry {
	uint64_t rq, insert_ns, issue_ns;
	uint32_t tgid, check;
};

static void fill(struct entry *e, uint64_t rq, uint64_t ins, uint64_t iss,
		 uint32_t tgid)
{
	e->rq = rq;
	e->insert_ns = ins;
	e->issue_ns = iss;
	e->tgid = tgid;
	e->check = inflight_check(rq, ins, iss, tgid);
}

static int whole(const struct entry *e)
{
	return e->check == inflight_check(e->rq, e->insert_ns, e->issue_ns,
					  e->tgid);
}

/* Two claims of one slot racing: each field comes from either.  Every mix
 * that is not one whole entry must fail the check, even though the two
 * entries differ by little (issue times nanoseconds apart, tgids small,
 * keys a few requests apart), which is where a plain XOR would let
 * differences cancel. */
static void test_inflight_check_catches_torn_slots(void **state)
{
	struct entry x, y, m;
	unsigned int n, mask, torn = 0;
	uint64_t t;

	(void)state;
	for (n = 0; n < 20000; n++) {
		t = 1000000000ULL + (rnd() & 0xffffffffffULL);
		fill(&x, 0xffff888012340000ULL + (rnd() & 0xfff) * 64,
		     n & 1 ? t - (rnd() & 0xfff) : 0, t,
		     (uint32_t)(rnd() & 0xffff));
		fill(&y, x.rq + 64 * (1 + (rnd() & 63)),
		     n & 2 ? t - (rnd() & 0xfff) : 0, t + (rnd() & 0x3ff),
		     (uint32_t)(rnd() & 0xffff));
		assert_true(whole(&x));
		assert_true(whole(&y));
		for (mask = 1; mask < 31; mask++) {
			m.rq = mask & 1 ? y.rq : x.rq;
			m.insert_ns = mask & 2 ? y.insert_ns : x.insert_ns;
			m.issue_ns = mask & 4 ? y.issue_ns : x.issue_ns;
			m.tgid = mask & 8 ? y.tgid : x.tgid;
			m.check = mask & 16 ? y.check : x.check;
			/* A mix equal to x or y in every field is whole. */
			if (!memcmp(&m, &x, sizeof(m)) ||
			    !memcmp(&m, &y, sizeof(m)))
				continue;
			assert_false(whole(&m));
			torn++;
		}
	}
	assert_true(torn > 20000 * 20);
}

/* A whole entry passes whatever its values, 0 times included. */
static void test_inflight_check_accepts_whole_slots(void **state)
{
	struct entry e;
	unsigned int n;

	(void)state;
	fill(&e, 1, 0, 0, 0);
	assert_true(whole(&e));
	for (n = 0; n < 1000; n++) {
		fill(&e, rnd(), rnd(), rnd(), (uint32_t)rnd());
		assert_true(whole(&e));
		e.issue_ns++;
		assert_false(whole(&e));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflight_blk_home_spreads_a_tag_set),
		cmocka_unit_test(test_inflight_zone_home_keeps_runs_together),
		cmocka_unit_test(test_inflight_check_catches_torn_slots),
		cmocka_unit_test(test_inflight_check_accepts_whole_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
