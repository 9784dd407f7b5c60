/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto: encoding and checking of replication frames (include/abi/repl.h).
 *
 * A replica server decodes bytes from the network here before it trusts
 * any of them, so everything proto_decode() accepts is safe to act on:
 * known op, sane flags, a length within bounds and consistent with the op.
 * It never allocates and never reads past the 64 header bytes.
 */
#ifndef TAPESTRY_PROTO_H
#define TAPESTRY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/repl.h"

/* The protocol's rule for a volume name or a zone: 1..max-1 bytes of
 * [A-Za-z0-9._-], not starting with a dot (max counts the field's NUL).
 * s need not be NUL-terminated: n is its length. */
static inline bool proto_label_ok(const char *s, size_t n, size_t max)
{
	size_t i;

	if (!n || n >= max || s[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* Write h as 64 wire bytes, filling in magic, version and hdr_crc (the
 * caller sets every other field, payload_crc included). */
void proto_encode(const struct repl_hdr *h, void *wire);

/* Parse 64 wire bytes into *out (host order).  Refuses, leaving *out
 * unspecified:
 *   -EBADMSG   wrong magic or header CRC (garbage, or a torn stream);
 *   -EPROTO    another version, an unknown op, or flags the op can't take;
 *   -EMSGSIZE  a payload longer than max_payload (plus max_payload / 64
 *              of per-block seqs for resync frames), a HELLO/STATUS
 *              payload of the wrong size, or a len on a reply that has
 *              no payload (an error reply; a TRIM or ZERO reply). */
int proto_decode(const void *wire, uint32_t max_payload, struct repl_hdr *out);

/* Whether h->len bytes of payload follow this header on the wire. */
bool proto_has_payload(const struct repl_hdr *h);

/* CRC-32C of a payload, for payload_crc. */
uint32_t proto_payload_crc(const void *payload, uint32_t len);

/* 0 if payload matches h->payload_crc, else -EBADMSG. */
int proto_check_payload(const struct repl_hdr *h, const void *payload);

/* Name of an op for logs: "write", ...; "op?" for unknown ones. */
const char *proto_op_name(unsigned int op);

#endif /* TAPESTRY_PROTO_H */
