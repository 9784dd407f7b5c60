/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "iheap.h"

#define N 64

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The id a correct heap must have on top: best key, then lowest id. */
static uint32_t expected_top(const int64_t *key, const bool *in, bool max)
{
	uint32_t best = IHEAP_NONE, i;

	for (i = 0; i < N; i++) {
		if (!in[i])
			continue;
		if (best == IHEAP_NONE ||
		    (max ? key[i] > key[best] : key[i] < key[best]))
			best = i;
	}
	return best;
}

/* Random pushes, pops, key changes and removals agree with a brute-force
 * model, for min and max heaps; ties always go to the lower id. */
static void test_iheap_matches_model(void **state)
{
	uint32_t pos[N], id;
	int64_t key[N];
	bool in[N];
	struct iheap h;
	uint64_t s = 42;
	int round, op, max;

	(void)state;
	for (max = 0; max < 2; max++) {
		memset(pos, 0xff, sizeof(pos));
		memset(in, 0, sizeof(in));
		assert_int_equal(iheap_init(&h, N, pos, key, max), 0);
		for (round = 0; round < 20000; round++) {
			id = (uint32_t)(rng(&s) % N);
			op = (int)(rng(&s) % 4);
			if (op == 0 && !in[id]) {
				key[id] = (int64_t)(rng(&s) % 16) - 8;
				iheap_push(&h, id);
				in[id] = true;
			} else if (op == 1 && in[id]) {
				key[id] = (int64_t)(rng(&s) % 16) - 8;
				iheap_update(&h, id);
			} else if (op == 2 && in[id]) {
				iheap_remove(&h, id);
				in[id] = false;
			} else if (op == 3) {
				uint32_t want = expected_top(key, in, max);

				assert_int_equal(iheap_pop(&h), want);
				if (want != IHEAP_NONE)
					in[want] = false;
			}
			assert_int_equal(iheap_top(&h),
					 expected_top(key, in, max));
			assert_true(iheap_contains(&h, id) == in[id]);
		}
		iheap_fini(&h);
	}
}

/* Two heaps sharing one position array do not see each other's ids. */
static void test_iheap_shared_positions(void **state)
{
	uint32_t pos[N];
	int64_t key[N] = { 0 };
	struct iheap a, b;
	uint32_t i;

	(void)state;
	memset(pos, 0xff, sizeof(pos));
	assert_int_equal(iheap_init(&a, N, pos, key, false), 0);
	assert_int_equal(iheap_init(&b, N, pos, key, false), 0);
	for (i = 0; i < N; i++) {
		key[i] = (int64_t)(N - i);
		iheap_push(i % 2 ? &a : &b, i);
	}
	for (i = 0; i < N; i++) {
		assert_true(iheap_contains(i % 2 ? &a : &b, i));
		assert_false(iheap_contains(i % 2 ? &b : &a, i));
	}
	assert_int_equal(iheap_pop(&a), N - 1);
	assert_int_equal(iheap_pop(&b), N - 2);
	iheap_fini(&a);
	iheap_fini(&b);
	iheap_fini(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iheap_matches_model),
		cmocka_unit_test(test_iheap_shared_positions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
