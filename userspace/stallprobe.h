/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stallprobe: tell a slow sender from a stuck one, for a server that
 * cuts off a client who keeps it waiting mid-request (the NBD server and
 * the replica server).
 *
 * Such a server receives a large payload straight into its buffer with
 * one MSG_WAITALL recv, which completes only when the payload is whole.
 * Its age therefore says nothing of progress: a client sending steadily
 * but slowly looks exactly like one that stopped.  When that recv is
 * overdue the server cancels it instead (the probe).  io_uring completes
 * a cancelled partial MSG_WAITALL recv with the bytes that did arrive:
 * progress, and reception goes on from there.  With -ECANCELED it means
 * nothing arrived since the recv was posted: the client has stalled.
 *
 * The owner keeps one struct stallprobe per connection (zeroed at
 * start), one recv in flight at a time, and tells it of each recv it
 * posts and each that completes.  Single-threaded, like the uloop.
 */
#ifndef TAPESTRY_STALLPROBE_H
#define TAPESTRY_STALLPROBE_H

#include <stdbool.h>
#include <stdint.h>

struct uloop;

struct stallprobe {
	bool posted;	/* a recv is in flight */
	bool direct;	/* it is a MSG_WAITALL recv of a payload into place */
	bool probing;	/* a cancel asks it how far it got */
};

/* A recv was queued; direct says whether it is one that completes only
 * when its destination is full (the kind a probe asks). */
void stallprobe_posted(struct stallprobe *p, bool direct);

/*
 * The recv has been waiting too long: cancel it, through an SQE of l
 * whose user_data is probe_ud, matching the recv by its user_data
 * recv_ud.  Returns:
 *   0        a cancel is queued; *sqes is counted up by one (the caller's
 *            count of SQEs in flight: the cancel's CQE comes back to it);
 *   -EBUSY   no SQE could be had; nothing changed: ask at the next tick;
 *   -ENOENT  nothing to ask: no direct recv in flight, or the last probe
 *            is still unanswered.  The sender has stalled.
 */
int stallprobe_ask(struct stallprobe *p, struct uloop *l, uint64_t recv_ud,
		   uint64_t probe_ud, unsigned int *sqes);

/* The recv completed with res.  Returns true if it was the probe that
 * ended it with nothing received (res -ECANCELED while probing): the
 * sender has stalled.  Either way no recv is in flight any more. */
bool stallprobe_done(struct stallprobe *p, int res);

#endif /* TAPESTRY_STALLPROBE_H */
