/* SPDX-License-Identifier: Apache-2.0 */
#include "iheap.h"

#include <errno.h>
#include <stdlib.h>

int iheap_init(struct iheap *h, uint32_t cap, uint32_t *pos,
	       const int64_t *key, bool max)
{
	h->n = 0;
	h->cap = 0;
	h->pos = pos;
	h->key = key;
	h->max = max;
	h->a = malloc((cap ? cap : 1) * sizeof(*h->a));
	if (!h->a)
		return -ENOMEM;
	h->cap = cap;
	return 0;
}

void iheap_fini(struct iheap *h)
{
	if (!h)
		return;
	free(h->a);
	h->a = NULL;
	h->n = h->cap = 0;
}

/* Does id x belong above id y? */
static bool above(const struct iheap *h, uint32_t x, uint32_t y)
{
	int64_t kx = h->key[x], ky = h->key[y];

	if (kx != ky)
		return h->max ? kx > ky : kx < ky;
	return x < y;
}

static void place(struct iheap *h, uint32_t i, uint32_t id)
{
	h->a[i] = id;
	h->pos[id] = i;
}

static void sift_up(struct iheap *h, uint32_t i)
{
	uint32_t id = h->a[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (!above(h, id, h->a[p]))
			break;
		place(h, i, h->a[p]);
		i = p;
	}
	place(h, i, id);
}

static void sift_down(struct iheap *h, uint32_t i)
{
	uint32_t id = h->a[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && above(h, h->a[c + 1], h->a[c]))
			c++;
		if (!above(h, h->a[c], id))
			break;
		place(h, i, h->a[c]);
		i = c;
	}
	place(h, i, id);
}

void iheap_push(struct iheap *h, uint32_t id)
{
	place(h, h->n++, id);
	sift_up(h, h->n - 1);
}

uint32_t iheap_top(const struct iheap *h)
{
	return h->n ? h->a[0] : IHEAP_NONE;
}

void iheap_remove(struct iheap *h, uint32_t id)
{
	uint32_t i = h->pos[id];
	uint32_t last = h->a[--h->n];

	h->pos[id] = IHEAP_NONE;
	if (i == h->n)
		return;
	place(h, i, last);
	sift_up(h, i);
	sift_down(h, h->pos[last]);
}

uint32_t iheap_pop(struct iheap *h)
{
	uint32_t id;

	if (!h->n)
		return IHEAP_NONE;
	id = h->a[0];
	iheap_remove(h, id);
	return id;
}

void iheap_update(struct iheap *h, uint32_t id)
{
	sift_up(h, h->pos[id]);
	sift_down(h, h->pos[id]);
}
