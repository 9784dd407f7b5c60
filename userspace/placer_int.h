/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_int.h: state shared by the placer's source files, which split one
 * module by job: placer.c (input, validation, orchestration), placer_fit.c
 * (receiver heaps, replica bookkeeping, target choice), placer_repair.c
 * (rule enforcement), placer_shed.c (what an over-full node sheds),
 * placer_balance.c (targets and rebalancing), placer_plan.c (primaries,
 * result and plan).  Nothing outside the placer includes this header.
 *
 * Internal ids: nodes are numbered by name, volumes by (size descending,
 * name ascending), the order in which volumes are placed.  Every list and
 * tie is ordered by these ids, which is what makes the result independent
 * of input order.
 */
#ifndef TAPESTRY_PLACER_INT_H
#define TAPESTRY_PLACER_INT_H

#include "placer.h"

#include "iheap.h"

#define PL_NONE UINT32_MAX
#define PL_MAXR PLACER_MAX_REPLICAS
/* Working replica slots of a volume.  A replacement is added before the
 * replica it replaces is dropped, so a volume holds up to R plus its
 * leaving replicas (at most PL_MAXR each) for a moment. */
#define PL_SLOTS (2 * PL_MAXR)

struct pl_node {
	int64_t cap;		/* capacity_bytes */
	int64_t base;		/* used_bytes: space not ours */
	int64_t cur;		/* bytes of the replicas on it now */
	/* base + bytes of replicas on it at the start + bytes added since.
	 * Room is checked against this, so a plan never relies on space
	 * that it frees only later: any step order is capacity-safe. */
	int64_t reserved;
	int64_t target;		/* replica bytes it should hold */
	uint32_t in_idx;
	uint32_t nrep;
	uint32_t caprep;
	uint32_t *rep;		/* volume ids, ascending */
	uint8_t lat;		/* enum placer_latency */
	bool sched;
};

struct pl_vol {
	int64_t size;
	char *error;
	char *fallback;
	uint32_t in_idx;
	uint32_t cur_idx;	/* index into input current, or PL_NONE */
	uint32_t pref;		/* zone-key domain of preferred_zone */
	uint32_t rep[PL_SLOTS];	/* working placement, output order */
	uint32_t init[PL_MAXR];	/* start: node ids, PL_NONE when lost */
	uint8_t nrep;
	uint8_t ninit;
	uint8_t R;
	uint8_t key;		/* index into pl_state.key */
	bool hard;
	bool existing;		/* listed in the current placement */
	bool failed;		/* fresh volume that could not be placed */
	bool pref_unknown;	/* preferred_zone is not a zone we know */
};

/* Schedulable nodes of one spread key and one latency class, by domain.
 * The node heaps are min-heaps on dev (most under target on top); the
 * domain heap orders domains by the dev of their best node. */
struct pl_rx {
	struct iheap dom;
	struct iheap *node;	/* one per domain */
	int64_t *dkey;		/* per domain */
	uint32_t *dpos;
	uint32_t *npos;		/* per node, shared by the node heaps */
};

struct pl_key {
	const char *name;
	const char **dom_name;	/* sorted */
	uint32_t *dom_of;	/* per node: domain, or PL_NONE without label */
	uint32_t *dom_nodes;	/* per domain: number of nodes */
	uint8_t *dom_elig;	/* per domain: has a schedulable node */
	uint32_t ndom;
	uint32_t nelig_dom;
	uint32_t nelig_nodes;	/* schedulable nodes with the label */
	struct pl_rx rx[2];	/* [0] fast or in band, [1] slow */
};

struct pl_state {
	const struct placer_input *in;
	const struct placer_opts *o;
	struct pl_node *node;
	struct pl_vol *vol;
	struct pl_key *key;	/* key[0] is the zone key */
	int64_t *dev;		/* per node: cur - target */
	uint16_t *evict;	/* per volume: replica slots over capacity */
	uint32_t *vid_of;	/* per input volume: its id */
	uint32_t *stash;	/* scratch, nn + ndom entries */
	uint32_t *stash2;
	uint32_t nn;
	uint32_t nv;
	uint32_t nk;
	uint32_t bal_key;	/* key the targets are spread by */
	int64_t slack;		/* rebalance trigger band */
	/* The sender heap, live during rebalancing only. */
	bool senders_on;
	struct iheap over;	/* all nodes, max dev on top */
	uint32_t *over_pos;
};

enum pl_pick_mode {
	PICK_SPREAD,	/* a domain with the fewest of the volume's replicas */
	PICK_ANY,	/* any domain (soft spread fallback) */
	PICK_MOVE,	/* from from_dom to a domain that keeps spread */
};

struct pl_pick {
	uint32_t vid;
	enum pl_pick_mode mode;
	uint32_t from_dom;	/* PICK_MOVE */
	uint32_t only_zone;	/* zone-key domain, or PL_NONE */
	uint16_t ignore;	/* replica slots not counted */
	bool bounded;		/* only nodes with dev <= max_dev */
	int64_t max_dev;
	/* Filled by pl_pick_prepare(). */
	uint8_t n;
	uint8_t minc;
	uint32_t dom[PL_MAXR];
	uint8_t cnt[PL_MAXR];
};

/* placer_fit.c */
int pl_rx_init(struct pl_state *st);
void pl_rx_fini(struct pl_state *st);
void pl_node_changed(struct pl_state *st, uint32_t n);
bool pl_holds(const struct pl_vol *v, uint32_t n);
bool pl_was_on(const struct pl_vol *v, uint32_t n);
int pl_rep_add(struct pl_state *st, uint32_t vid, uint32_t n);
void pl_rep_del(struct pl_state *st, uint32_t vid, unsigned int slot);
int pl_rep_move(struct pl_state *st, uint32_t vid, unsigned int slot,
		uint32_t to);
void pl_pick_prepare(const struct pl_state *st, struct pl_pick *p);
bool pl_pick_dom_ok(const struct pl_pick *p, uint32_t dom);
uint32_t pl_pick(struct pl_state *st, const struct pl_pick *p, int cls);

/* placer_repair.c */
int pl_repair(struct pl_state *st, size_t *changes);

/* placer_shed.c: set st->evict, per volume the replica slots that leave
 * while their node is over capacity.  Returns 0 or -ENOMEM. */
int pl_shed_mark(struct pl_state *st);

/* placer_balance.c */
int pl_targets(struct pl_state *st);
int pl_rebalance(struct pl_state *st, size_t *moves);

/* placer_plan.c */
int pl_result(struct pl_state *st, struct placer_result **out);

/* printf into a fresh string; NULL on ENOMEM. */
char *pl_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* TAPESTRY_PLACER_INT_H */
