/*
 * bitpack.c - residue bit-packing, LSB first (bitpack.h). Formerly two
 * copies (hers_bitpack in src/bfv, se_pack in src/search); this is the search
 * copy (bits up to 64), with the bound check of the serialiser.
 */
#include "core/bitpack.h"

/* 64 bits at a time: `acc` holds `have` < 64 pending bits. n * bits is a
 * multiple of 8 (n a multiple of 8), so the tail is whole bytes. */
int hers_bitpack(uint8_t *out, const uint64_t *v, size_t n, int bits, uint64_t bound)
{
    uint64_t mask = bits == 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
    uint64_t acc = 0, bad = 0;
    int have = 0;
    for (size_t i = 0; i < n; i++) {
        bad |= (uint64_t)(v[i] >= bound);
        uint64_t x = v[i] & mask;
        acc |= x << have;
        if (have + bits >= 64) {
            hers_le_put_u64(out, acc);
            out += 8;
            int used = 64 - have;          /* bits of x already stored */
            acc = used == 64 ? 0 : x >> used;
            have = bits - used;
        } else {
            have += bits;
        }
    }
    for (; have > 0; have -= 8, acc >>= 8)
        *out++ = (uint8_t)acc;
    return bad == 0;
}

int hers_bitunpack(uint64_t *v, const uint8_t *in, size_t n, int bits, uint64_t bound)
{
    uint64_t mask = bits == 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
    size_t total = n / 8 * (size_t)bits, pos = 0; /* bytes */
    uint64_t acc = 0;
    int have = 0, ok = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t x;
        if (have >= bits) {
            x = acc & mask;
            acc = bits == 64 ? 0 : acc >> bits;
            have -= bits;
        } else {
            /* refill: the next 8 bytes (or the remaining tail) */
            uint64_t w;
            int got;
            if (total - pos >= 8) {
                w = hers_le_get_u64(in + pos);
                pos += 8;
                got = 64;
            } else {
                w = 0;
                got = 0;
                while (pos < total) {
                    w |= (uint64_t)in[pos++] << got;
                    got += 8;
                }
            }
            x = (acc | (have == 64 ? 0 : w << have)) & mask;
            int need = bits - have;          /* bits taken from w */
            acc = need >= 64 ? 0 : w >> need;
            have = got - need;
        }
        v[i] = x;
        ok &= x < bound;
    }
    return ok;
}
