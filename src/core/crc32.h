/*
 * crc32.h - CRC-32 (the zlib / gzip / IEEE 802.3 code, reflected polynomial
 * 0xEDB88320) of the gallery records' format-2 trailer, with carry-less
 * multiplication where the CPU has it: 4 x 128-bit lanes folded 64 bytes
 * at a time with PCLMULQDQ (avx2 level), 4 x 512-bit accumulators folded
 * 256 bytes at a time with VPCLMULQDQ (avx512 levels), zlib's crc32 below
 * (and for the last < 32 bytes). Same value as zlib's crc32 for every input
 * at every level (tests/test_core.c).
 * Shared with: io, bfv, reduce, search, store, net, cluster, cli
 * (library-internal, not part of libhers.so's ABI).
 */
#ifndef HERS_CORE_CRC32_H
#define HERS_CORE_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* zlib's crc32(crc, buf, len): start with crc = 0, chain by passing the
 * previous value. */
uint32_t hers_crc32(uint32_t crc, const void *buf, size_t len);

/* "vpclmulqdq", "pclmulqdq" or "zlib": the path hers_crc32 takes now
 * (hers_simd_active and the CPU). */
const char *hers_crc32_path(void);

#endif
