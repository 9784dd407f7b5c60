/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crc: CRC-32C (Castagnoli), the checksum of every replication frame.
 * Backed by ISA-L, which picks the SSE4.2/PCLMUL path at run time.
 */
#ifndef TAPESTRY_CRC_H
#define TAPESTRY_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Standard CRC-32C of buf, continuing from crc (0 to start).  Chaining
 * crc32c(crc32c(0, a), b) equals crc32c(0, a || b). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* TAPESTRY_CRC_H */
