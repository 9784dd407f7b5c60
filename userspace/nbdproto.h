/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nbdproto: the NBD wire protocol as pure functions, no I/O.
 *
 * The handshake is a state machine fed with bytes from the client; it
 * writes its replies into a small buffer the caller sends.  Transmission
 * requests are decoded and checked against the export's limits here, so
 * the server only ever acts on requests this module accepted.  Everything
 * here runs on untrusted bytes and is fuzzed (tests/fuzz/fuzz_nbd.c).
 *
 * Constants are those of the NBD protocol document (doc/proto.md of the
 * reference implementation); their names follow it.  All integers on the
 * wire are big-endian.
 */
#ifndef TAPESTRY_NBDPROTO_H
#define TAPESTRY_NBDPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Magic numbers. */
#define NBD_MAGIC_INIT		0x4e42444d41474943ULL	/* "NBDMAGIC" */
#define NBD_MAGIC_OPTS		0x49484156454f5054ULL	/* "IHAVEOPT" */
#define NBD_MAGIC_REP		0x0003e889045565a9ULL	/* option reply */
#define NBD_MAGIC_REQUEST	0x25609513U
#define NBD_MAGIC_SIMPLE	0x67446698U
#define NBD_MAGIC_STRUCTURED	0x668e33efU

/* Handshake flags (server) and client flags. */
#define NBD_FLAG_FIXED_NEWSTYLE		(1U << 0)
#define NBD_FLAG_NO_ZEROES		(1U << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE	(1U << 0)
#define NBD_FLAG_C_NO_ZEROES		(1U << 1)

/* Transmission flags. */
#define NBD_FLAG_HAS_FLAGS		(1U << 0)
#define NBD_FLAG_READ_ONLY		(1U << 1)
#define NBD_FLAG_SEND_FLUSH		(1U << 2)
#define NBD_FLAG_SEND_FUA		(1U << 3)
#define NBD_FLAG_ROTATIONAL		(1U << 4)
#define NBD_FLAG_SEND_TRIM		(1U << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES	(1U << 6)
#define NBD_FLAG_SEND_DF		(1U << 7)
#define NBD_FLAG_CAN_MULTI_CONN		(1U << 8)
#define NBD_FLAG_SEND_RESIZE		(1U << 9)
#define NBD_FLAG_SEND_CACHE		(1U << 10)
#define NBD_FLAG_SEND_FAST_ZERO		(1U << 11)

/* Options. */
#define NBD_OPT_EXPORT_NAME		1
#define NBD_OPT_ABORT			2
#define NBD_OPT_LIST			3
#define NBD_OPT_PEEK_EXPORT		4
#define NBD_OPT_STARTTLS		5
#define NBD_OPT_INFO			6
#define NBD_OPT_GO			7
#define NBD_OPT_STRUCTURED_REPLY	8
#define NBD_OPT_LIST_META_CONTEXT	9
#define NBD_OPT_SET_META_CONTEXT	10

/* Option replies; errors have bit 31 set. */
#define NBD_REP_ACK			1U
#define NBD_REP_SERVER			2U
#define NBD_REP_INFO			3U
#define NBD_REP_META_CONTEXT		4U
#define NBD_REP_FLAG_ERROR		(1U << 31)
#define NBD_REP_ERR_UNSUP		(NBD_REP_FLAG_ERROR + 1)
#define NBD_REP_ERR_POLICY		(NBD_REP_FLAG_ERROR + 2)
#define NBD_REP_ERR_INVALID		(NBD_REP_FLAG_ERROR + 3)
#define NBD_REP_ERR_PLATFORM		(NBD_REP_FLAG_ERROR + 4)
#define NBD_REP_ERR_TLS_REQD		(NBD_REP_FLAG_ERROR + 5)
#define NBD_REP_ERR_UNKNOWN		(NBD_REP_FLAG_ERROR + 6)
#define NBD_REP_ERR_SHUTDOWN		(NBD_REP_FLAG_ERROR + 7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD	(NBD_REP_FLAG_ERROR + 8)
#define NBD_REP_ERR_TOO_BIG		(NBD_REP_FLAG_ERROR + 9)

/* NBD_REP_INFO types. */
#define NBD_INFO_EXPORT			0
#define NBD_INFO_NAME			1
#define NBD_INFO_DESCRIPTION		2
#define NBD_INFO_BLOCK_SIZE		3

/* Commands and command flags. */
#define NBD_CMD_READ			0
#define NBD_CMD_WRITE			1
#define NBD_CMD_DISC			2
#define NBD_CMD_FLUSH			3
#define NBD_CMD_TRIM			4
#define NBD_CMD_CACHE			5
#define NBD_CMD_WRITE_ZEROES		6
#define NBD_CMD_BLOCK_STATUS		7

#define NBD_CMD_FLAG_FUA		(1U << 0)
#define NBD_CMD_FLAG_NO_HOLE		(1U << 1)
#define NBD_CMD_FLAG_DF			(1U << 2)
#define NBD_CMD_FLAG_REQ_ONE		(1U << 3)
#define NBD_CMD_FLAG_FAST_ZERO		(1U << 4)

/* Structured reply chunks. */
#define NBD_REPLY_FLAG_DONE		(1U << 0)
#define NBD_REPLY_TYPE_NONE		0
#define NBD_REPLY_TYPE_OFFSET_DATA	1
#define NBD_REPLY_TYPE_OFFSET_HOLE	2
#define NBD_REPLY_TYPE_ERROR		((1U << 15) + 1)
#define NBD_REPLY_TYPE_ERROR_OFFSET	((1U << 15) + 2)

/* Error values in replies (not host errnos, though they match Linux). */
#define NBD_EPERM			1
#define NBD_EIO				5
#define NBD_ENOMEM			12
#define NBD_EINVAL			22
#define NBD_ENOSPC			28
#define NBD_EOVERFLOW			75
#define NBD_ENOTSUP			95
#define NBD_ESHUTDOWN			108

/* Sizes on the wire. */
#define NBDPROTO_GREETING_SIZE		18	/* magic, magic, flags */
#define NBDPROTO_OPT_HDR_SIZE		16	/* magic, option, length */
#define NBDPROTO_REQ_SIZE		28
#define NBDPROTO_SIMPLE_SIZE		16
#define NBDPROTO_CHUNK_SIZE		20	/* structured chunk header */
#define NBDPROTO_READ_HDR_SIZE		28	/* chunk header + offset */

/* The longest option payload the handshake buffers.  Longer options of
 * known types are skipped and refused with NBD_REP_ERR_TOO_BIG; unknown
 * ones are skipped whatever their length.  The spec caps strings (export
 * names) at 4096 bytes; GO/INFO add 6 bytes and 2 per info request. */
#define NBDPROTO_OPT_MAX		(4096 + 6 + 2 * 32)
/* A caller's input buffer must hold one whole option. */
#define NBDPROTO_HS_IN_MIN		(NBDPROTO_OPT_HDR_SIZE + NBDPROTO_OPT_MAX)
/* Room for the replies to one option (the longest is GO's). */
#define NBDPROTO_HS_OUT_MAX		1024
/* Export names and descriptions we serve are at most this long. */
#define NBDPROTO_NAME_MAX		255
/* Write payloads up to this size are read and thrown away when the
 * request is refused, to keep the stream in step; the spec asks servers
 * not to treat anything below 32 MiB as an attack.  Beyond it the
 * connection is dropped. */
#define NBDPROTO_DISCARD_MAX		(32U << 20)

/* What the server exports, as the handshake describes it. */
struct nbdproto_export {
	const char *name;		/* canonical name, 1..NAME_MAX bytes */
	const char *description;	/* NULL for none */
	uint64_t size;			/* bytes, a multiple of min_block */
	uint16_t tflags;		/* NBD_FLAG_*; HAS_FLAGS is added, and
					 * SEND_DF once structured replies are
					 * negotiated */
	uint32_t min_block;		/* power of 2, 1..64 KiB */
	uint32_t pref_block;		/* power of 2, >= max(min, 512) */
	uint32_t max_block;		/* multiple of min_block */
};

/* 0 if e is something the handshake may advertise, else -EINVAL. */
int nbdproto_export_check(const struct nbdproto_export *e);

enum nbdproto_hs_status {
	NBDPROTO_HS_MORE,	/* send the output, then feed more input */
	NBDPROTO_HS_GO,		/* send the output; transmission follows */
	NBDPROTO_HS_CLOSE,	/* send the output, then close (OPT_ABORT) */
	NBDPROTO_HS_HANGUP,	/* the client broke the protocol: close now */
};

enum nbdproto_hs_state {
	NBDPROTO_HS_CFLAGS,	/* waiting for the client flags */
	NBDPROTO_HS_OPTIONS,	/* option haggling */
	NBDPROTO_HS_SKIP,	/* discarding an option's oversize payload */
	NBDPROTO_HS_DONE,	/* GO or EXPORT_NAME accepted */
	NBDPROTO_HS_DEAD,	/* aborted or hung up */
};

/* Handshake state of one connection.  Plain data: no allocation. */
struct nbdproto_hs {
	const struct nbdproto_export *exp;	/* borrowed */
	enum nbdproto_hs_state state;
	bool no_zeroes;		/* client set NBD_FLAG_C_NO_ZEROES */
	bool structured;	/* NBD_OPT_STRUCTURED_REPLY accepted */
	bool shutting_down;	/* refuse further options with SHUTDOWN */
	uint32_t skip_opt;	/* option whose payload is being skipped */
	uint64_t skip_left;
	uint32_t options;	/* options handled, for logs */
	size_t out_len;
	uint8_t out[NBDPROTO_HS_OUT_MAX];
};

/* Start a handshake: out holds the server greeting.  e is borrowed and
 * must be valid (nbdproto_export_check) for the handshake's life. */
void nbdproto_hs_init(struct nbdproto_hs *h, const struct nbdproto_export *e);

/* Feed the client's bytes in[0, len).  Consumes nothing while out holds
 * unsent replies (the caller sends them and calls nbdproto_hs_sent), so
 * the output stays bounded whatever the client pipelines.  Otherwise it
 * consumes at most one option (or the client flags), setting *used, and
 * says what to do next.  An option whose payload has not fully arrived
 * is left unconsumed: call again with more bytes (the caller's buffer
 * must hold NBDPROTO_HS_IN_MIN bytes). */
enum nbdproto_hs_status nbdproto_hs_feed(struct nbdproto_hs *h,
					 const uint8_t *in, size_t len,
					 size_t *used);

/* The caller has sent all of out. */
void nbdproto_hs_sent(struct nbdproto_hs *h);

/* From now on refuse options (but ABORT) with NBD_REP_ERR_SHUTDOWN. */
void nbdproto_hs_shutdown(struct nbdproto_hs *h);

/* Transmission flags as advertised on this connection. */
uint16_t nbdproto_hs_tflags(const struct nbdproto_hs *h);

/* One transmission request, in host order. */
struct nbdproto_req {
	uint16_t flags;
	uint16_t type;
	uint64_t handle;
	uint64_t offset;
	uint32_t len;
};

/* Decode NBDPROTO_REQ_SIZE wire bytes; -EBADMSG on a wrong magic (the
 * stream is lost: hang up). */
int nbdproto_req_decode(const void *wire, struct nbdproto_req *out);

/* Bytes of payload that follow the header on the wire, whether or not
 * the request is valid. */
uint32_t nbdproto_req_payload(const struct nbdproto_req *r);

/* What the transmission checks need to know about the connection. */
struct nbdproto_limits {
	uint64_t size;
	uint32_t min_block, max_block;
	uint16_t tflags;	/* as advertised (nbdproto_hs_tflags) */
	/* The backend's zeroing keeps the range allocated.  If not (it may
	 * punch holes), WRITE_ZEROES with NO_HOLE, which the spec says MUST
	 * leave the range fully provisioned, is carried out as a write of
	 * zeroes instead. */
	bool zero_allocates;
	/* Zeroing the volume is not known to be faster than writing it now
	 * (some replica it would reach writes zero pages, or cannot say):
	 * WRITE_ZEROES with FAST_ZERO, which the spec says MUST then fail,
	 * is refused.  The caller sets it, as it may change, before each
	 * such request is checked (engine_zero_fast). */
	bool zero_slow;
};

enum nbdproto_act {
	NBDPROTO_ACT_READ,
	NBDPROTO_ACT_WRITE,
	NBDPROTO_ACT_DISC,
	NBDPROTO_ACT_FLUSH,
	NBDPROTO_ACT_TRIM,
	NBDPROTO_ACT_ZERO,
	NBDPROTO_ACT_ZERO_WRITE,	/* write len zero bytes (NO_HOLE); len
					 * may exceed max_block */
	NBDPROTO_ACT_ERROR,	/* reply *err (after skipping any payload) */
	NBDPROTO_ACT_HANGUP,	/* payload too large to skip: drop the link */
};

/* Check r against l, per the spec's error rules:
 *   EINVAL   unknown command, flag not valid for the command or not
 *            advertised, zero length, READ or WRITE longer than
 *            max_block, offset or length not a multiple of min_block,
 *            READ/TRIM past the end, FLUSH with nonzero offset or length;
 *   ENOSPC   WRITE/WRITE_ZEROES past the end;
 *   ENOTSUP  WRITE_ZEROES with FAST_ZERO when l->zero_slow, or with
 *            NO_HOLE too when zeroing does not keep the range allocated
 *            (a write of zeroes is not faster than a write).
 * WRITE_ZEROES with NO_HOLE is NBDPROTO_ACT_ZERO_WRITE unless
 * l->zero_allocates.  *err is set only for NBDPROTO_ACT_ERROR. */
enum nbdproto_act nbdproto_req_check(const struct nbdproto_limits *l,
				     const struct nbdproto_req *r,
				     uint32_t *err);

/* The NBD error value for a -errno from the engine: EPERM, EIO, ENOMEM,
 * EINVAL, ENOSPC (also for EDQUOT and EFBIG), EOVERFLOW, ENOTSUP,
 * ESHUTDOWN pass through; anything else is EIO.  0 stays 0. */
uint32_t nbdproto_error(int neg_errno);

/* Reply encoders; each returns the bytes written to buf. */
size_t nbdproto_simple_reply(void *buf, uint64_t handle, uint32_t err);
/* Header of a structured OFFSET_DATA chunk (flags DONE) carrying len
 * bytes read at offset; the data follows it on the wire. */
size_t nbdproto_read_chunk(void *buf, uint64_t handle, uint64_t offset,
			   uint32_t len);
/* A structured ERROR chunk (flags DONE) with a message of at most
 * msg_max bytes (truncated). */
#define NBDPROTO_ERR_MSG_MAX		64
#define NBDPROTO_ERR_CHUNK_MAX	(NBDPROTO_CHUNK_SIZE + 6 + NBDPROTO_ERR_MSG_MAX)
size_t nbdproto_error_chunk(void *buf, uint64_t handle, uint32_t err,
			    const char *msg);

/* Names for logs. */
const char *nbdproto_cmd_name(unsigned int type);
const char *nbdproto_opt_name(unsigned int opt);

#endif /* TAPESTRY_NBDPROTO_H */
