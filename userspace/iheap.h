/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iheap: an indexed binary heap of small integer ids.
 *
 * The keys live outside the heap, in an int64_t array indexed by id, and so
 * does the position array: several heaps that hold disjoint sets of ids
 * (the node heaps of the domains of one spread key, say) share one position
 * array, so memory stays O(ids) however many heaps there are.  After a
 * caller changes key[id] it calls iheap_update() to restore the order.
 *
 * Order is total and deterministic: by key (ascending, or descending for a
 * max-heap), then by id ascending.  Pop order therefore depends only on the
 * keys and ids present, never on the history of pushes.
 */
#ifndef TAPESTRY_IHEAP_H
#define TAPESTRY_IHEAP_H

#include <stdbool.h>
#include <stdint.h>

#define IHEAP_NONE UINT32_MAX

struct iheap {
	uint32_t *a;		/* the heap, a[0] on top */
	uint32_t n;
	uint32_t cap;
	uint32_t *pos;		/* borrowed, shared: pos[id] or IHEAP_NONE */
	const int64_t *key;	/* borrowed: key[id] */
	bool max;		/* largest key on top */
};

/* Prepare an empty heap for at most cap ids.  pos and key are borrowed and
 * must outlive the heap; the caller sets pos[] to IHEAP_NONE for every id
 * before first use.  Returns 0 or -ENOMEM (h is then empty and safe to
 * fini). */
int iheap_init(struct iheap *h, uint32_t cap, uint32_t *pos,
	       const int64_t *key, bool max);
/* Release the heap's array; accepts a zeroed or failed heap. */
void iheap_fini(struct iheap *h);

/* Push an id that is in no heap sharing pos.  The heap must have room. */
void iheap_push(struct iheap *h, uint32_t id);
/* Pop the top id; IHEAP_NONE when empty. */
uint32_t iheap_pop(struct iheap *h);
/* The top id without removing it; IHEAP_NONE when empty. */
uint32_t iheap_top(const struct iheap *h);
/* Restore order after key[id] changed.  id must be in this heap. */
void iheap_update(struct iheap *h, uint32_t id);
/* Remove id, which must be in this heap. */
void iheap_remove(struct iheap *h, uint32_t id);

static inline bool iheap_contains(const struct iheap *h, uint32_t id)
{
	uint32_t p = h->pos[id];

	return p < h->n && h->a[p] == id;
}

#endif /* TAPESTRY_IHEAP_H */
