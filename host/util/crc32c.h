/* host/util/crc32c.h — CRC-32C (Castagnoli, as iSCSI, ext4 and Btrfs use it): the checksum of
 * the decompressed-data cache. On x86-64 with SSE4.2 the processor's crc32 instruction computes
 * it (about 6 GB/s, three times zlib's crc32); elsewhere a table does (about 0.5 GB/s). Both give
 * the same values, so a file checksummed on one machine checks on any other. */
#ifndef LH_CRC32C_H
#define LH_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue `crc` (0 to start) over n bytes: lh_crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t lh_crc32c(uint32_t crc, const void *p, size_t n);

/* The same with the table only, whatever the processor (for tests and other architectures). */
uint32_t lh_crc32c_portable(uint32_t crc, const void *p, size_t n);

#endif
