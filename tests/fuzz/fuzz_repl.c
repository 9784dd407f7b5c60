/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the replication frame parser and the replica server's
 * request state machine, fed one connection's byte stream.
 *
 * The input is what a client sends.  It is cut into pieces of varying
 * size (some received "directly" into the payload buffer, as the server
 * does for large payloads) and fed to replica_rx.  Each request it yields
 * goes through the same rules the server applies (replica_rules): HELLO
 * checks and generations, per-request checks, ordering of overlapping
 * requests, the resync conditional apply.  Requests then "run" against
 * in-memory volumes, started and completed in an order the input
 * decides.  Payload buffers and images are allocated to their exact size,
 * so ASan catches any range a check let through wrongly.
 *
 * Checked here beyond memory safety:
 *   - every request yielded has an authentic header and payload (CRCs
 *     recomputed independently) and is not a reply;
 *   - two requests that conflict (overlap, one writes; a flush after a
 *     write) never run at the same time, and nothing waits forever;
 *   - a resync copy only writes blocks whose seq is newer;
 *   - metadata records decode to what was encoded.
 * The last byte of an input picks how it is read:
 *   even: as raw bytes (what an attacker controls);
 *   1:    raw, with each frame's CRCs fixed up, so that mutations reach
 *         the rules behind the CRC checks instead of dying at them;
 *   3:    as a program of 12-byte records, each encoded into a valid frame
 *         with offsets and lengths near the edges of small volumes, so
 *         that the fuzzer steers ops, ranges, seqs and epochs directly.
 * Seed corpus: tests/fuzz/corpus/repl/ (tapestry-replctl --gen-corpus).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "proto.h"
#include "replica_rules.h"
#include "replica_rx.h"
#include "bytes.h"

#define NVOLS		3
#define NHANDLES	4
#define NSLOTS		8
#define MAX_SIZE	(1U << 20)

struct fvol {
	bool used;
	char name[REPL_NAME_MAX];
	struct replica_volinfo info;
	uint8_t *img;
	uint64_t *seq;
	struct replica_oq oq;
};

struct freq {
	struct replica_oq_item oq;	/* first */
	bool used;
	struct fvol *v;
	struct repl_hdr h;
	uint8_t *payload;
};

struct fz {
	struct fvol vols[NVOLS];
	struct {
		struct fvol *v;
		uint64_t epoch;
	} handles[NHANDLES];
	struct freq slots[NSLOTS];
	uint64_t rng;
};

static uint64_t rnd(struct fz *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng;
}

/* The ordering rule, written out again independently of replica_rules. */
static bool must_wait(const struct replica_span *a, const struct replica_span *b)
{
	bool overlap = a->off < b->off + b->len && b->off < a->off + a->len;

	if (b->kind == REPLICA_SPAN_BARRIER)
		return a->kind == REPLICA_SPAN_WRITE;
	if (a->kind == REPLICA_SPAN_BARRIER)
		return false;
	if (a->kind == REPLICA_SPAN_READ && b->kind == REPLICA_SPAN_READ)
		return false;
	return overlap;
}

static void check_running(struct fvol *v)
{
	struct replica_oq_item *a, *b;

	for (a = v->oq.head; a; a = a->next)
		for (b = a->next; b; b = b->next)
			if (a->started && b->started &&
			    must_wait(&a->span, &b->span))
				abort();
}

static uint64_t cur_seq(const void *ctx, uint64_t block)
{
	return ((const uint64_t *)ctx)[block];
}

/* Apply a started request's effect to its in-memory volume. */
static void complete(struct freq *q)
{
	struct fvol *v = q->v;
	uint32_t bs = v->info.block_size, start, count, i;
	uint64_t first = q->oq.span.off / bs;
	uint8_t *out;

	switch (q->h.op) {
	case REPL_OP_WRITE:
		if (q->h.flags & REPL_F_RESYNC) {
			struct replica_resync rs = {
				.seqs = q->payload, .n = q->oq.span.nblocks,
				.first_block = first, .cur = cur_seq,
				.ctx = v->seq,
			};
			uint32_t n = q->oq.span.nblocks;
			uint64_t s;

			while (replica_resync_next(&rs, &start, &count)) {
				if (start + count > n || !count)
					abort();
				for (i = start; i < start + count; i++) {
					s = replica_resync_seq(q->payload, i);
					if (s <= v->seq[first + i])
						abort();
					memcpy(v->img + (first + i) * bs,
					       q->payload + (size_t)n * 8 +
						       (size_t)i * bs, bs);
					v->seq[first + i] = s;
				}
			}
			break;
		}
		memcpy(v->img + q->oq.span.off, q->payload, q->oq.span.len);
		for (i = 0; i < q->oq.span.nblocks; i++)
			v->seq[first + i] = q->h.seq;
		break;
	case REPL_OP_TRIM:
	case REPL_OP_ZERO:
		memset(v->img + q->oq.span.off, 0, q->oq.span.len);
		for (i = 0; i < q->oq.span.nblocks; i++)
			v->seq[first + i] = q->h.seq;
		break;
	case REPL_OP_READ:
	case REPL_OP_RESYNC_READ:
		out = malloc(replica_reply_len(&q->h, &q->oq.span));
		if (!out)
			abort();
		memcpy(out + (q->h.op == REPL_OP_READ ? 0 :
			      (size_t)q->oq.span.nblocks * 8),
		       v->img + q->oq.span.off, q->oq.span.len);
		free(out);
		break;
	}
	replica_oq_del(&v->oq, &q->oq);
	free(q->payload);
	q->payload = NULL;
	q->used = false;
}

/* Start whatever may start; then maybe complete one running request.
 * Returns whether anything happened. */
static bool step(struct fz *f, bool force)
{
	struct replica_oq_item *it;
	struct freq *run[NSLOTS];
	unsigned int nrun = 0, v;
	bool any = false;

	for (v = 0; v < NVOLS; v++) {
		for (it = f->vols[v].oq.head; it; it = it->next) {
			if (!it->started &&
			    replica_oq_may_start(&f->vols[v].oq, it)) {
				it->started = true;
				any = true;
			}
			if (it->started && nrun < NSLOTS)
				run[nrun++] = (struct freq *)it;
		}
		check_running(&f->vols[v]);
	}
	if (nrun && (force || rnd(f) % 3 == 0)) {
		complete(run[rnd(f) % nrun]);
		any = true;
	}
	return any;
}

static struct freq *free_slot(struct fz *f)
{
	unsigned int i;

	for (;;) {
		for (i = 0; i < NSLOTS; i++)
			if (!f->slots[i].used)
				return &f->slots[i];
		if (!step(f, true))
			abort();	/* all slots stuck: a deadlock */
	}
}

static void do_hello(struct fz *f, const struct repl_hdr *h,
		     const uint8_t *payload)
{
	struct replica_hello hl;
	struct fvol *v = NULL;
	unsigned int i;

	if (replica_hello_check(h, payload, "z1", &hl))
		return;
	for (i = 0; i < NVOLS; i++)
		if (f->vols[i].used && !strcmp(f->vols[i].name, hl.volume))
			v = &f->vols[i];
	if (!v) {
		if (!hl.create || hl.size > MAX_SIZE)
			return;
		for (i = 0; i < NVOLS && !v; i++)
			if (!f->vols[i].used)
				v = &f->vols[i];
		if (!v)
			return;
		memset(v, 0, sizeof(*v));
		v->used = true;
		memcpy(v->name, hl.volume, sizeof(v->name));
		v->info.size = hl.size;
		v->info.block_size = hl.block_size;
		v->img = calloc(1, hl.size);
		v->seq = calloc(hl.size / hl.block_size, sizeof(uint64_t));
		if (!v->img || !v->seq)
			abort();
	}
	if (replica_hello_match(&hl, &v->info))
		return;
	if (hl.epoch > v->info.generation)
		v->info.generation = hl.epoch;
	for (i = 0; i < NHANDLES; i++) {
		if (!f->handles[i].v || f->handles[i].v == v) {
			f->handles[i].v = v;
			f->handles[i].epoch = hl.epoch;
			return;
		}
	}
}

/* A whole request from the assembler: payload_take is ours to free. */
static void request(struct fz *f, const struct repl_hdr *h,
		    uint8_t *payload_take)
{
	struct replica_span span;
	struct freq *q;
	uint64_t id = h->volume_id;

	if (h->flags & REPL_F_REPLY)
		abort();
	if (payload_take && proto_payload_crc(payload_take, h->len) !=
			    h->payload_crc)
		abort();
	if (h->op == REPL_OP_HELLO) {
		do_hello(f, h, payload_take);
		free(payload_take);
		return;
	}
	if (id == 0 || id > NHANDLES || !f->handles[id - 1].v ||
	    replica_check_io(h, &f->handles[id - 1].v->info,
			     f->handles[id - 1].epoch, &span) ||
	    span.kind == REPLICA_SPAN_NONE) {
		free(payload_take);
		return;
	}
	q = free_slot(f);
	q->used = true;
	q->v = f->handles[id - 1].v;
	q->h = *h;
	q->payload = payload_take;
	q->oq.span = span;
	q->oq.started = false;
	replica_oq_add(&q->v->oq, &q->oq);
	step(f, false);
}

static void meta_roundtrip(const uint8_t *data, size_t size)
{
	struct replica_meta m, m2;
	uint8_t slot[REPLICA_META_SLOT];

	if (replica_meta_pick(data, size, &m))
		return;
	replica_meta_encode(&m, slot);
	if (replica_meta_decode(slot, &m2) || memcmp(&m, &m2, sizeof(m)))
		abort();
}

/* Make every frame's CRCs right, guessing its payload the way a server
 * would: HELLO and non-reply WRITE carry len bytes. */
static void fix_crcs(uint8_t *d, size_t size)
{
	size_t pos = 0, plen;
	uint8_t op, flags;

	while (size - pos >= REPL_HDR_SIZE) {
		uint8_t *h = d + pos;

		op = h[6];
		flags = h[7];
		plen = 0;
		if (op == REPL_OP_HELLO ||
		    (op == REPL_OP_WRITE && !(flags & REPL_F_REPLY)))
			plen = get_le32(h + 12);
		if (plen > size - pos - REPL_HDR_SIZE)
			plen = size - pos - REPL_HDR_SIZE;
		put_le32(h + 56, plen ? crc32c(0, h + REPL_HDR_SIZE, plen) : 0);
		put_le32(h + 60, 0);
		put_le32(h + 60, crc32c(0, h, REPL_HDR_SIZE));
		pos += REPL_HDR_SIZE + plen;
	}
}

/*
 * Program records: op, flags, volume id, epoch, then little-endian u16s:
 * offset (x 512, mod 256 KiB), len (x 512, up to 36 KiB), seq, spare.  A
 * HELLO's volume id picks its name, size and block size from a table.
 * Flag 0x80 corrupts the payload CRC.  At most MAX_REC records are read.
 */
#define REC		12
#define MAX_REC		64
#define REC_MAX_LEN	(72 * 512)	/* room for 64 resync blocks of 512 */

static const struct {
	const char *name;
	uint64_t size;
	uint32_t bs;
} fz_vols[4] = {
	{ "v0", 1 << 20, 4096 }, { "v1", 64 << 10, 512 },
	{ "v2", 192 << 10, 4096 }, { "v1", 1 << 20, 512 },
};

static size_t program(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t len = 0, i;

	if (n > MAX_REC * REC)
		n = MAX_REC * REC;
	for (i = 0; i + REC <= n; i += REC) {
		const uint8_t *r = in + i;
		struct repl_hdr h = { .op = r[0] % (REPL_OP_MAX + 1),
				      .flags = r[1] & 0x0f,
				      .volume_id = r[2] % 6, .epoch = r[3] % 4 };
		uint32_t plen = 0, j;
		uint8_t *p;

		h.offset = (uint64_t)(r[4] | r[5] << 8) % 512 * 512;
		h.len = (uint32_t)(r[6] | r[7] << 8) % (REC_MAX_LEN / 512 + 1) *
			512;
		h.seq = (uint64_t)(r[8] | r[9] << 8);
		h.tag = i;
		if (h.op == REPL_OP_HELLO) {
			struct repl_hello hl;

			memset(&hl, 0, sizeof(hl));
			hl.size = fz_vols[r[2] % 4].size;
			hl.block_size = fz_vols[r[2] % 4].bs;
			strcpy(hl.volume, fz_vols[r[2] % 4].name);
			if (r[10] & 1)
				strcpy(hl.zone, r[10] & 2 ? "z1" : "z2");
			h.volume_id = 0;
			h.flags &= REPL_F_CREATE;
			plen = h.len = sizeof(hl);
			if (len + REPL_HDR_SIZE + plen > cap)
				break;
			memcpy(out + len + REPL_HDR_SIZE, &hl, sizeof(hl));
		} else if (h.op == REPL_OP_WRITE) {
			h.flags &= REPL_F_FUA | REPL_F_RESYNC;
			plen = h.len;
			if (len + REPL_HDR_SIZE + plen > cap)
				break;
			p = out + len + REPL_HDR_SIZE;
			for (j = 0; j < plen; j++)
				p[j] = (uint8_t)(j * 7 + r[11]);
			/* resync: leading bytes read as seqs, varied by r[11] */
		} else if (h.op == REPL_OP_FLUSH || h.op == REPL_OP_STATUS) {
			h.len = 0;
			h.flags = 0;
		}
		if (len + REPL_HDR_SIZE + plen > cap)
			break;
		h.payload_crc = proto_payload_crc(out + len + REPL_HDR_SIZE, plen);
		if (r[1] & 0x80)
			h.payload_crc ^= 1;
		proto_encode(&h, out + len);
		len += REPL_HDR_SIZE + plen;
	}
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The stream to feed, by the input's last byte (see the top); *copy_take
 * is what to free afterwards. */
static size_t prepare(const uint8_t **data, size_t size, uint8_t **copy_take)
{
	uint8_t mode = size ? (*data)[size - 1] & 3 : 0;
	size_t nrec = size / REC < MAX_REC ? size / REC : MAX_REC;
	size_t cap = mode == 3 ? nrec * (REPL_HDR_SIZE + REC_MAX_LEN) : size;
	uint8_t *copy;

	*copy_take = NULL;
	if (mode != 1 && mode != 3)
		return size;
	copy = malloc(cap ? cap : 1);
	if (!copy)
		abort();
	if (mode == 1) {
		memcpy(copy, *data, size);
		fix_crcs(copy, size);
	} else {
		size = program(*data, size - 1, copy, cap);
	}
	*data = copy;
	*copy_take = copy;
	return size;
}

/* Act on one assembler event; false once the connection is over. */
static bool on_event(struct fz *f, struct replica_rx *rx,
		     enum replica_rx_ev ev, uint8_t **payload)
{
	switch (ev) {
	case REPLICA_RX_MORE:
		return true;
	case REPLICA_RX_PAYLOAD:
		*payload = malloc(rx->hdr.len);
		if (!*payload)
			abort();
		replica_rx_set_dst(rx, *payload);
		return true;
	case REPLICA_RX_REQUEST:
		request(f, &rx->hdr, *payload);
		*payload = NULL;
		return true;
	case REPLICA_RX_BAD_PAYLOAD:
		if (!*payload || proto_payload_crc(*payload, rx->hdr.len) ==
				 rx->hdr.payload_crc)
			abort();
		free(*payload);
		*payload = NULL;
		return true;
	case REPLICA_RX_REFUSE:
	case REPLICA_RX_CORRUPT:
		if (rx->err >= 0)
			abort();
		return false;
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	uint8_t *copy, *payload = NULL;
	struct replica_rx rx;
	enum replica_rx_ev ev;
	size_t pos = 0, n, used;
	unsigned int i;
	bool live = true;

	memset(&f, 0, sizeof(f));
	f.rng = 0x9e3779b97f4a7c15ULL ^ size ^ (size ? data[size - 1] : 0);
	replica_rx_init(&rx, REPL_MAX_PAYLOAD);
	meta_roundtrip(data, size);
	size = prepare(&data, size, &copy);
	while (pos < size && live) {
		void *at;
		uint32_t want = replica_rx_direct(&rx, &at);

		n = 1 + rnd(&f) % (rnd(&f) % 2 ? 64 : 5000);
		if (n > size - pos)
			n = size - pos;
		if (want && rnd(&f) % 2) {
			/* straight into the payload, as a big recv would */
			if (n > want)
				n = want;
			memcpy(at, data + pos, n);
			pos += n;
			ev = replica_rx_direct_done(&rx, (uint32_t)n);
		} else {
			ev = replica_rx_feed(&rx, data + pos, n, &used);
			if (used > n)
				abort();
			pos += used;
		}
		live = on_event(&f, &rx, ev, &payload);
	}
	free(payload);
	while (step(&f, true))
		;
	for (i = 0; i < NVOLS; i++) {
		if (f.vols[i].oq.nr)
			abort();	/* a request that could never start */
		free(f.vols[i].img);
		free(f.vols[i].seq);
	}
	free(copy);
	return 0;
}
