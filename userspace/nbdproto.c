/* SPDX-License-Identifier: Apache-2.0 */
#include "nbdproto.h"

#include <errno.h>
#include <string.h>

#include "bytes.h"

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

int nbdproto_export_check(const struct nbdproto_export *e)
{
	size_t n = e->name ? strlen(e->name) : 0;

	if (n == 0 || n > NBDPROTO_NAME_MAX)
		return -EINVAL;
	if (e->description && strlen(e->description) > NBDPROTO_NAME_MAX)
		return -EINVAL;
	if (!pow2(e->min_block) || e->min_block > 65536 ||
	    !pow2(e->pref_block) || e->pref_block < e->min_block ||
	    e->pref_block < 512 || !e->max_block ||
	    e->max_block % e->min_block || e->size % e->min_block)
		return -EINVAL;
	return 0;
}

void nbdproto_hs_init(struct nbdproto_hs *h, const struct nbdproto_export *e)
{
	memset(h, 0, sizeof(*h));
	h->exp = e;
	h->state = NBDPROTO_HS_CFLAGS;
	put_be64(h->out, NBD_MAGIC_INIT);
	put_be64(h->out + 8, NBD_MAGIC_OPTS);
	put_be16(h->out + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	h->out_len = NBDPROTO_GREETING_SIZE;
}

void nbdproto_hs_sent(struct nbdproto_hs *h)
{
	h->out_len = 0;
}

void nbdproto_hs_shutdown(struct nbdproto_hs *h)
{
	h->shutting_down = true;
}

uint16_t nbdproto_hs_tflags(const struct nbdproto_hs *h)
{
	uint16_t f = h->exp->tflags | NBD_FLAG_HAS_FLAGS;

	/* Every read goes out as one chunk, so DF is free to honour; the
	 * spec allows advertising it only with structured replies. */
	if (h->structured)
		f |= NBD_FLAG_SEND_DF;
	else
		f &= (uint16_t)~NBD_FLAG_SEND_DF;
	return f;
}

/* Append one option reply.  The replies to any one option fit in out by
 * construction (names are capped), so overflow is a bug, not input. */
static void rep(struct nbdproto_hs *h, uint32_t opt, uint32_t type,
		const void *a, size_t alen, const void *b, size_t blen)
{
	uint8_t *p = h->out + h->out_len;

	if (h->out_len + 20 + alen + blen > sizeof(h->out))
		__builtin_trap();
	put_be64(p, NBD_MAGIC_REP);
	put_be32(p + 8, opt);
	put_be32(p + 12, type);
	put_be32(p + 16, (uint32_t)(alen + blen));
	if (alen)
		memcpy(p + 20, a, alen);
	if (blen)
		memcpy(p + 20 + alen, b, blen);
	h->out_len += 20 + alen + blen;
}

static void rep_err(struct nbdproto_hs *h, uint32_t opt, uint32_t type,
		    const char *msg)
{
	rep(h, opt, type, msg, strlen(msg), NULL, 0);
}

static bool name_matches(const struct nbdproto_hs *h, const uint8_t *name,
			 uint32_t len)
{
	/* The empty name is the default export, which is ours. */
	return len == 0 || (len == strlen(h->exp->name) &&
			    !memcmp(name, h->exp->name, len));
}

static void info_export(struct nbdproto_hs *h, uint32_t opt)
{
	uint8_t b[12];

	put_be16(b, NBD_INFO_EXPORT);
	put_be64(b + 2, h->exp->size);
	put_be16(b + 10, nbdproto_hs_tflags(h));
	rep(h, opt, NBD_REP_INFO, b, sizeof(b), NULL, 0);
}

static void info_string(struct nbdproto_hs *h, uint32_t opt, uint16_t type,
			const char *s)
{
	uint8_t b[2];

	put_be16(b, type);
	rep(h, opt, NBD_REP_INFO, b, 2, s, strlen(s));
}

static void info_block_size(struct nbdproto_hs *h, uint32_t opt)
{
	const struct nbdproto_export *e = h->exp;
	uint8_t b[14];

	put_be16(b, NBD_INFO_BLOCK_SIZE);
	put_be32(b + 2, e->min_block);
	put_be32(b + 6, e->pref_block);
	put_be32(b + 10, e->max_block);
	rep(h, opt, NBD_REP_INFO, b, sizeof(b), NULL, 0);
}

/* NBD_OPT_INFO and NBD_OPT_GO: name, then a list of info requests. */
static enum nbdproto_hs_status opt_info(struct nbdproto_hs *h, uint32_t opt,
					const uint8_t *d, uint32_t len)
{
	bool want_name = false, want_desc = false;
	uint32_t namelen, nreq, i;

	if (len < 6 || (namelen = get_be32(d)) > len - 6) {
		rep_err(h, opt, NBD_REP_ERR_INVALID, "malformed request");
		return NBDPROTO_HS_MORE;
	}
	nreq = get_be16(d + 4 + namelen);
	if (len != 4 + namelen + 2 + 2 * nreq) {
		rep_err(h, opt, NBD_REP_ERR_INVALID, "malformed request");
		return NBDPROTO_HS_MORE;
	}
	if (!name_matches(h, d + 4, namelen)) {
		rep_err(h, opt, NBD_REP_ERR_UNKNOWN, "no such export");
		return NBDPROTO_HS_MORE;
	}
	for (i = 0; i < nreq; i++) {
		uint16_t t = get_be16(d + 4 + namelen + 2 + 2 * i);

		want_name |= t == NBD_INFO_NAME;
		want_desc |= t == NBD_INFO_DESCRIPTION;
	}
	info_export(h, opt);
	if (want_name)
		info_string(h, opt, NBD_INFO_NAME, h->exp->name);
	if (want_desc && h->exp->description)
		info_string(h, opt, NBD_INFO_DESCRIPTION, h->exp->description);
	/* Sent whether asked for or not: our minimum is not the default of
	 * 1, and clients that did not ask get EINVAL on unaligned I/O. */
	info_block_size(h, opt);
	rep(h, opt, NBD_REP_ACK, NULL, 0, NULL, 0);
	if (opt == NBD_OPT_INFO)
		return NBDPROTO_HS_MORE;
	h->state = NBDPROTO_HS_DONE;
	return NBDPROTO_HS_GO;
}

/* NBD_OPT_EXPORT_NAME cannot fail politely: a wrong name ends the
 * session, as the spec requires. */
static enum nbdproto_hs_status opt_export_name(struct nbdproto_hs *h,
					       const uint8_t *d, uint32_t len)
{
	uint8_t *p = h->out + h->out_len;

	if (h->shutting_down || !name_matches(h, d, len)) {
		h->state = NBDPROTO_HS_DEAD;
		return NBDPROTO_HS_HANGUP;
	}
	put_be64(p, h->exp->size);
	put_be16(p + 8, nbdproto_hs_tflags(h));
	h->out_len += 10;
	if (!h->no_zeroes) {
		memset(p + 10, 0, 124);
		h->out_len += 124;
	}
	h->state = NBDPROTO_HS_DONE;
	return NBDPROTO_HS_GO;
}

static void opt_list(struct nbdproto_hs *h, uint32_t len)
{
	const char *desc = h->exp->description ? h->exp->description : "";
	uint32_t n = (uint32_t)strlen(h->exp->name);
	uint8_t b[4 + NBDPROTO_NAME_MAX];

	if (len) {
		rep_err(h, NBD_OPT_LIST, NBD_REP_ERR_INVALID,
			"LIST takes no data");
		return;
	}
	put_be32(b, n);
	memcpy(b + 4, h->exp->name, n);
	rep(h, NBD_OPT_LIST, NBD_REP_SERVER, b, 4 + n, desc, strlen(desc));
	rep(h, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0, NULL, 0);
}

static void opt_structured(struct nbdproto_hs *h, uint32_t len)
{
	if (len)
		rep_err(h, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_INVALID,
			"STRUCTURED_REPLY takes no data");
	else if (h->structured)
		rep_err(h, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_INVALID,
			"already negotiated");
	else {
		h->structured = true;
		rep(h, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0, NULL, 0);
	}
}

/* Options we parse.  Everything else is skipped unread and answered
 * NBD_REP_ERR_UNSUP, so the option stream stays in step. */
static bool opt_known(uint32_t opt)
{
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
	case NBD_OPT_ABORT:
	case NBD_OPT_LIST:
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
	case NBD_OPT_STRUCTURED_REPLY:
		return true;
	default:
		return false;
	}
}

static enum nbdproto_hs_status abort_session(struct nbdproto_hs *h)
{
	rep(h, NBD_OPT_ABORT, NBD_REP_ACK, NULL, 0, NULL, 0);
	h->state = NBDPROTO_HS_DEAD;
	return NBDPROTO_HS_CLOSE;
}

/* The payload of a skipped option has gone by: answer it. */
static enum nbdproto_hs_status skipped(struct nbdproto_hs *h)
{
	uint32_t opt = h->skip_opt;

	h->state = NBDPROTO_HS_OPTIONS;
	if (opt == NBD_OPT_ABORT)
		return abort_session(h);
	if (h->shutting_down)
		rep_err(h, opt, NBD_REP_ERR_SHUTDOWN, "server shutting down");
	else if (opt_known(opt))
		rep_err(h, opt, NBD_REP_ERR_TOO_BIG, "option too long");
	else
		rep_err(h, opt, NBD_REP_ERR_UNSUP, "option not supported");
	return NBDPROTO_HS_MORE;
}

static enum nbdproto_hs_status option(struct nbdproto_hs *h, uint32_t opt,
				      const uint8_t *d, uint32_t len)
{
	h->options++;
	/* The spec: while shutting down, error every option but ABORT with
	 * SHUTDOWN (which the client must answer with ABORT), however it
	 * is formed.  EXPORT_NAME cannot be refused: it hangs up. */
	if (h->shutting_down && opt != NBD_OPT_ABORT &&
	    opt != NBD_OPT_EXPORT_NAME) {
		rep_err(h, opt, NBD_REP_ERR_SHUTDOWN, "server shutting down");
		return NBDPROTO_HS_MORE;
	}
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		return opt_export_name(h, d, len);
	case NBD_OPT_ABORT:
		return abort_session(h);
	case NBD_OPT_LIST:
		opt_list(h, len);
		return NBDPROTO_HS_MORE;
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return opt_info(h, opt, d, len);
	case NBD_OPT_STRUCTURED_REPLY:
		opt_structured(h, len);
		return NBDPROTO_HS_MORE;
	}
	return NBDPROTO_HS_HANGUP;	/* not reached: opt_known() */
}

static enum nbdproto_hs_status feed_option(struct nbdproto_hs *h,
					   const uint8_t *in, size_t len,
					   size_t *used)
{
	uint32_t opt, olen;

	if (len < NBDPROTO_OPT_HDR_SIZE)
		return NBDPROTO_HS_MORE;
	if (get_be64(in) != NBD_MAGIC_OPTS) {
		h->state = NBDPROTO_HS_DEAD;
		return NBDPROTO_HS_HANGUP;
	}
	opt = get_be32(in + 8);
	olen = get_be32(in + 12);
	if (!opt_known(opt) || olen > NBDPROTO_OPT_MAX) {
		if (opt == NBD_OPT_EXPORT_NAME) {
			/* cannot be refused politely */
			h->state = NBDPROTO_HS_DEAD;
			return NBDPROTO_HS_HANGUP;
		}
		*used = NBDPROTO_OPT_HDR_SIZE;
		h->options++;
		h->skip_opt = opt;
		h->skip_left = olen;
		h->state = NBDPROTO_HS_SKIP;
		return olen ? NBDPROTO_HS_MORE : skipped(h);
	}
	if (len < NBDPROTO_OPT_HDR_SIZE + (size_t)olen)
		return NBDPROTO_HS_MORE;
	*used = NBDPROTO_OPT_HDR_SIZE + olen;
	return option(h, opt, in + NBDPROTO_OPT_HDR_SIZE, olen);
}

enum nbdproto_hs_status nbdproto_hs_feed(struct nbdproto_hs *h,
					 const uint8_t *in, size_t len,
					 size_t *used)
{
	uint32_t cflags;
	size_t n;

	*used = 0;
	switch (h->state) {
	case NBDPROTO_HS_DONE:
		return NBDPROTO_HS_GO;
	case NBDPROTO_HS_DEAD:
		return NBDPROTO_HS_HANGUP;
	default:
		break;
	}
	if (h->out_len)
		return NBDPROTO_HS_MORE;
	switch (h->state) {
	case NBDPROTO_HS_CFLAGS:
		if (len < 4)
			return NBDPROTO_HS_MORE;
		cflags = get_be32(in);
		*used = 4;
		/* The spec: drop clients that set flags we did not offer.
		 * Fixed newstyle is honoured even if the client did not set
		 * its bit, which the spec allows. */
		if (cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE |
			       NBD_FLAG_C_NO_ZEROES)) {
			h->state = NBDPROTO_HS_DEAD;
			return NBDPROTO_HS_HANGUP;
		}
		h->no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
		h->state = NBDPROTO_HS_OPTIONS;
		return NBDPROTO_HS_MORE;
	case NBDPROTO_HS_SKIP:
		n = len < h->skip_left ? len : (size_t)h->skip_left;
		*used = n;
		h->skip_left -= n;
		return h->skip_left ? NBDPROTO_HS_MORE : skipped(h);
	case NBDPROTO_HS_OPTIONS:
		return feed_option(h, in, len, used);
	default:
		return NBDPROTO_HS_HANGUP;
	}
}

int nbdproto_req_decode(const void *wire, struct nbdproto_req *out)
{
	const uint8_t *p = wire;

	if (get_be32(p) != NBD_MAGIC_REQUEST)
		return -EBADMSG;
	out->flags = get_be16(p + 4);
	out->type = get_be16(p + 6);
	out->handle = get_be64(p + 8);
	out->offset = get_be64(p + 16);
	out->len = get_be32(p + 24);
	return 0;
}

uint32_t nbdproto_req_payload(const struct nbdproto_req *r)
{
	return r->type == NBD_CMD_WRITE ? r->len : 0;
}

/* Flags each command may carry, given what was advertised. */
static uint16_t flags_allowed(const struct nbdproto_limits *l, uint16_t type)
{
	/* The spec: FUA is valid on every command once advertised. */
	uint16_t f = l->tflags & NBD_FLAG_SEND_FUA ? NBD_CMD_FLAG_FUA : 0;

	if (type == NBD_CMD_READ && (l->tflags & NBD_FLAG_SEND_DF))
		f |= NBD_CMD_FLAG_DF;
	if (type == NBD_CMD_WRITE_ZEROES) {
		f |= NBD_CMD_FLAG_NO_HOLE;
		if (l->tflags & NBD_FLAG_SEND_FAST_ZERO)
			f |= NBD_CMD_FLAG_FAST_ZERO;
	}
	return f;
}

static bool cmd_advertised(const struct nbdproto_limits *l, uint16_t type)
{
	switch (type) {
	case NBD_CMD_READ:
	case NBD_CMD_WRITE:
		return true;
	case NBD_CMD_FLUSH:
		return l->tflags & NBD_FLAG_SEND_FLUSH;
	case NBD_CMD_TRIM:
		return l->tflags & NBD_FLAG_SEND_TRIM;
	case NBD_CMD_WRITE_ZEROES:
		return l->tflags & NBD_FLAG_SEND_WRITE_ZEROES;
	default:
		return false;
	}
}

static enum nbdproto_act refuse(const struct nbdproto_req *r, uint32_t e,
				uint32_t *err)
{
	if (nbdproto_req_payload(r) > NBDPROTO_DISCARD_MAX)
		return NBDPROTO_ACT_HANGUP;
	*err = e;
	return NBDPROTO_ACT_ERROR;
}

static enum nbdproto_act act_of(uint16_t type)
{
	switch (type) {
	case NBD_CMD_READ:
		return NBDPROTO_ACT_READ;
	case NBD_CMD_WRITE:
		return NBDPROTO_ACT_WRITE;
	case NBD_CMD_TRIM:
		return NBDPROTO_ACT_TRIM;
	default:
		return NBDPROTO_ACT_ZERO;
	}
}

enum nbdproto_act nbdproto_req_check(const struct nbdproto_limits *l,
				     const struct nbdproto_req *r,
				     uint32_t *err)
{
	bool writes = r->type == NBD_CMD_WRITE ||
		      r->type == NBD_CMD_WRITE_ZEROES;
	bool capped;

	if (r->type == NBD_CMD_DISC)
		return NBDPROTO_ACT_DISC;
	if (!cmd_advertised(l, r->type) ||
	    (r->flags & ~flags_allowed(l, r->type)))
		return refuse(r, NBD_EINVAL, err);
	if (r->type == NBD_CMD_FLUSH) {
		if (r->offset || r->len)
			return refuse(r, NBD_EINVAL, err);
		return NBDPROTO_ACT_FLUSH;
	}
	if ((l->tflags & NBD_FLAG_READ_ONLY) && r->type != NBD_CMD_READ)
		return refuse(r, NBD_EPERM, err);
	/* max_block bounds what needs a buffer of its own: READ and WRITE.
	 * TRIM and zeroes go to the engine whatever their length (zeroes
	 * written as data, NO_HOLE, are written in chunks from one shared
	 * buffer of zeroes).  The spec bounds WRITE_ZEROES without FAST_ZERO
	 * too, but nbdcopy (libnbd 1.14) sends each hole of a sparse source
	 * as one WRITE_ZEROES, NO_HOLE with --allocated, so refusing those
	 * would fail its copy of any image with a hole over max_block. */
	capped = r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE;
	if (r->len == 0 || (capped && r->len > l->max_block) ||
	    r->offset % l->min_block || r->len % l->min_block)
		return refuse(r, NBD_EINVAL, err);
	if (r->offset > l->size || r->len > l->size - r->offset)
		return refuse(r, writes ? NBD_ENOSPC : NBD_EINVAL, err);
	if (r->type != NBD_CMD_WRITE_ZEROES)
		return act_of(r->type);
	/* The spec: a FAST_ZERO that would not be faster than a write MUST
	 * fail, at once, with ENOTSUP (the client then writes the data). */
	if ((r->flags & NBD_CMD_FLAG_FAST_ZERO) && l->zero_slow)
		return refuse(r, NBD_ENOTSUP, err);
	if ((r->flags & NBD_CMD_FLAG_NO_HOLE) && !l->zero_allocates) {
		/* provisioning means writing zeroes: never "fast" */
		if (r->flags & NBD_CMD_FLAG_FAST_ZERO)
			return refuse(r, NBD_ENOTSUP, err);
		return NBDPROTO_ACT_ZERO_WRITE;
	}
	return act_of(r->type);
}

uint32_t nbdproto_error(int neg_errno)
{
	switch (-neg_errno) {
	case 0:
		return 0;
	case EPERM:
		return NBD_EPERM;
	case EIO:
		return NBD_EIO;
	case ENOMEM:
		return NBD_ENOMEM;
	case EINVAL:
		return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case EOPNOTSUPP:
		return NBD_ENOTSUP;
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	default:
		return NBD_EIO;
	}
}

size_t nbdproto_simple_reply(void *buf, uint64_t handle, uint32_t err)
{
	uint8_t *p = buf;

	put_be32(p, NBD_MAGIC_SIMPLE);
	put_be32(p + 4, err);
	put_be64(p + 8, handle);
	return NBDPROTO_SIMPLE_SIZE;
}

static void chunk_hdr(uint8_t *p, uint16_t flags, uint16_t type,
		      uint64_t handle, uint32_t len)
{
	put_be32(p, NBD_MAGIC_STRUCTURED);
	put_be16(p + 4, flags);
	put_be16(p + 6, type);
	put_be64(p + 8, handle);
	put_be32(p + 16, len);
}

size_t nbdproto_read_chunk(void *buf, uint64_t handle, uint64_t offset,
			   uint32_t len)
{
	uint8_t *p = buf;

	chunk_hdr(p, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, handle,
		  8 + len);
	put_be64(p + NBDPROTO_CHUNK_SIZE, offset);
	return NBDPROTO_READ_HDR_SIZE;
}

size_t nbdproto_error_chunk(void *buf, uint64_t handle, uint32_t err,
			    const char *msg)
{
	size_t n = msg ? strlen(msg) : 0;
	uint8_t *p = buf;

	if (n > NBDPROTO_ERR_MSG_MAX)
		n = NBDPROTO_ERR_MSG_MAX;
	chunk_hdr(p, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, handle,
		  (uint32_t)(6 + n));
	put_be32(p + NBDPROTO_CHUNK_SIZE, err);
	put_be16(p + NBDPROTO_CHUNK_SIZE + 4, (uint16_t)n);
	if (n)
		memcpy(p + NBDPROTO_CHUNK_SIZE + 6, msg, n);
	return NBDPROTO_CHUNK_SIZE + 6 + n;
}

const char *nbdproto_cmd_name(unsigned int type)
{
	static const char *const names[] = {
		"read", "write", "disc", "flush", "trim", "cache",
		"write_zeroes", "block_status",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "cmd?";
}

const char *nbdproto_opt_name(unsigned int opt)
{
	static const char *const names[] = {
		"opt?", "export_name", "abort", "list", "peek_export",
		"starttls", "info", "go", "structured_reply",
		"list_meta_context", "set_meta_context",
	};

	return opt < sizeof(names) / sizeof(names[0]) ? names[opt] : "opt?";
}
