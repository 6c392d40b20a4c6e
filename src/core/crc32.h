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

/* CRC-32 of a message A || B from crc(A) and crc(B) when B has len2 bytes:
 * hers_crc32_combine_op(crc(A), crc(B), hers_crc32_combine_gen(len2))
 * (zlib's crc32_combine_gen / _op: the operator made once per length, then
 * one multiplication mod P per join). */
uint32_t hers_crc32_combine_gen(size_t len2);
uint32_t hers_crc32_combine_op(uint32_t crc1, uint32_t crc2, uint32_t op);

/* "vpclmulqdq", "pclmulqdq" or "zlib": the path hers_crc32 takes now
 * (hers_simd_active and the CPU). */
const char *hers_crc32_path(void);

#endif
