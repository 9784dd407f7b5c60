/* SPDX-License-Identifier: Apache-2.0 */
#include "crc.h"

#include <isa-l/crc.h>
#include <limits.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	unsigned char *p = (unsigned char *)buf;
	size_t chunk;

	/* ISA-L's crc32_iscsi neither pre- nor post-inverts; the standard
	 * CRC-32C does both.  Its length is an int, hence the chunks. */
	crc = ~crc;
	while (len) {
		chunk = len > (size_t)INT_MAX ? (size_t)1 << 30 : len;
		crc = crc32_iscsi(p, (int)chunk, crc);
		p += chunk;
		len -= chunk;
	}
	return ~crc;
}
