/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stallprobe: the probe that asks an overdue MSG_WAITALL recv how far it
 * got (see stallprobe.h).
 */
#include "stallprobe.h"

#include <errno.h>

#include "uloop.h"

void stallprobe_posted(struct stallprobe *p, bool direct)
{
	p->posted = true;
	p->direct = direct;
}

int stallprobe_ask(struct stallprobe *p, struct uloop *l, uint64_t recv_ud,
		   uint64_t probe_ud, unsigned int *sqes)
{
	struct io_uring_sqe *sqe;

	/* An unanswered probe means the cancel has not ended the recv yet:
	 * a second one would learn nothing more. */
	if (!p->posted || !p->direct || p->probing)
		return -ENOENT;
	sqe = uloop_get_sqe(l);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, recv_ud, 0);
	sqe->user_data = probe_ud;
	p->probing = true;
	(*sqes)++;
	return 0;
}

bool stallprobe_done(struct stallprobe *p, int res)
{
	bool probed = p->probing;

	p->posted = false;
	p->probing = false;
	/* Any byte that arrived completes a cancelled recv with its count;
	 * another failure (a reset) is the recv's own, not a stall. */
	return probed && res == -ECANCELED;
}
