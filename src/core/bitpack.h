/*
 * bitpack.h - the one home of byte order and bit packing in hers: every
 * on-disk and on-wire integer is little-endian (except the store's big-endian
 * LMDB keys, which sort numerically), and residues are packed LSB first.
 * Shared with: io, bfv, reduce, search, store, net, cluster, cli
 * (scripts/check-layers: library-internal, not part of libhers.so's ABI).
 */
#ifndef HERS_CORE_BITPACK_H
#define HERS_CORE_BITPACK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void hers_le_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void hers_le_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t hers_le_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t hers_le_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t hers_le_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Big-endian 32-bit (IDX file headers). */
static inline uint32_t hers_be_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Big-endian 64-bit (keys that must sort as numbers under memcmp). */
static inline void hers_be_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline uint64_t hers_be_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Number of bits of x (0 for 0): residues mod q pack in hers_bitlen(q - 1)
 * = ceil(log2 q) bits. */
static inline int hers_bitlen(uint64_t x)
{
    return x ? 64 - __builtin_clzll(x) : 0;
}

/* Bytes of n values of `bits` bits each (n a multiple of 8). */
static inline size_t hers_packed_bytes(size_t n, int bits)
{
    return n / 8 * (size_t)bits;
}

/* Packs n values (n a multiple of 8, 1 <= bits <= 64; each value masked to
 * `bits` bits) into hers_packed_bytes(n, bits) bytes, LSB first. Returns 1
 * if every value is < bound, 0 otherwise (an invariant violation: the bytes
 * are still written). */
int hers_bitpack(uint8_t *out, const uint64_t *v, size_t n, int bits, uint64_t bound);
/* Unpacks exactly hers_packed_bytes(n, bits) bytes (1 <= bits <= 64); returns
 * 1 if every value is < bound, 0 otherwise (all values are still written). */
int hers_bitunpack(uint64_t *v, const uint8_t *in, size_t n, int bits, uint64_t bound);

#endif
