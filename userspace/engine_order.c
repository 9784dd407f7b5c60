/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_order: overlapping requests reach each replica in submission
 * order.  A sub waits (BLOCKED) while an earlier request's sub on the same
 * replica is still out, or an earlier trim/zero not yet answered has
 * chunks still to come (chunks_to_come), and the two overlap with at least
 * one of them writing.  This does not rely on the replica server's
 * ordering, and it also keeps reads from overtaking an acked write that a
 * slow replica has not applied yet.
 */
#include "engine_int.h"

bool engine_op_writes(unsigned int op)
{
	return op == EOP_WRITE || op == EOP_TRIM || op == EOP_ZERO ||
	       op == EOP_RWRITE;
}

static uint64_t req_end(const struct ereq *q)
{
	/* A trim/zero is split into chunks (under the request's one seq);
	 * later requests must not overtake the chunks still to come. */
	if (q->op == EOP_TRIM || q->op == EOP_ZERO)
		return q->end;
	return q->off + q->len;
}

static bool overlap(const struct ereq *a, const struct ereq *b)
{
	return a->off < req_end(b) && b->off < req_end(a);
}

static bool out(const struct esub *s)
{
	return s->state == SUB_BLOCKED || s->state == SUB_ISSUED;
}

/* A trim/zero longer than a chunk has chunks still to come until it is
 * answered: between two chunks none of its subs is out, but a later
 * overlapping request must not slip in before the chunks to come on some
 * replicas.  Its off is the chunk under way, so what overlaps only
 * chunks done on every replica does not wait (engine_req.c asks again
 * when the next chunk starts).  (Only its first chunk may wait for a
 * seq, and later writes queue behind it for theirs.) */
static bool chunks_to_come(const struct ereq *p)
{
	return (p->op == EOP_TRIM || p->op == EOP_ZERO) && !p->acked &&
	       p->off + p->len < p->end;
}

/* Whether p's sub on ri, earlier than q's, must finish before q's. */
static bool must_wait(const struct ereq *p, const struct ereq *q,
		      unsigned int ri)
{
	bool pending = out(&p->sub[ri]);

	if (q->op == EOP_FLUSH)
		return pending && engine_op_writes(p->op);
	if (p->op == EOP_FLUSH || (!pending && !chunks_to_come(p)))
		return false;
	if (!engine_op_writes(p->op) && !engine_op_writes(q->op))
		return false;
	return overlap(p, q);
}

bool engine_sub_conflicts(const struct ereq *q, unsigned int ri)
{
	const struct ereq *p;

	for (p = q->prev; p; p = p->prev)
		if (must_wait(p, q, ri))
			return true;
	/* A resync copy is issued after later requests may have gone out
	 * to the same replica: it also waits for those, so a copy never
	 * races a newer write to the same blocks. */
	if (q->op != EOP_RWRITE)
		return false;
	for (p = q->next; p; p = p->next)
		if (p->sub[ri].state == SUB_ISSUED &&
		    engine_op_writes(p->op) && overlap(p, q))
			return true;
	return false;
}

bool engine_range_busy(const struct engine *e, uint64_t off, uint64_t len)
{
	const struct ereq *p;

	for (p = e->head; p; p = p->next)
		if (!p->finished && engine_op_writes(p->op) &&
		    p->off < off + len && off < req_end(p))
			return true;
	return false;
}
