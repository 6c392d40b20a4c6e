/*
 * sample.c - constant-time samplers of small secret polynomials, and the
 * expansion of uniform polynomials from a seed (bfv_precomp.h,
 * bfv_internal.h).
 */
#include <string.h>

#include "bfv/bfv_kernel.h"
#include "bfv/bfv_precomp.h"
#include "hers/hers_mem.h"

#define SAMPLE_BLOCK 256

void hers_sample_ternary(hers_prg *g, int8_t *out, size_t n)
{
    uint8_t buf[SAMPLE_BLOCK * 8];
    for (size_t i = 0; i < n; i += SAMPLE_BLOCK) {
        size_t m = n - i < SAMPLE_BLOCK ? n - i : SAMPLE_BLOCK;
        hers_prg_bytes(g, buf, m * 8);
        for (size_t j = 0; j < m; j++) {
            const uint8_t *b = buf + 8 * j;
            uint64_t w = 0;
            for (int l = 7; l >= 0; l--)
                w = (w << 8) | b[l];
            /* floor(3*w / 2^64) in {0,1,2}, then -1: bias < 2^-62. */
            uint64_t v = (uint64_t)(((unsigned __int128)w * 3) >> 64);
            out[i + j] = (int8_t)((int)v - 1);
        }
    }
    hers_wipe(buf, sizeof buf);
}

/* Centred binomial: popcount(21 bits) - popcount(21 bits), computed with a
 * branch- and table-free SWAR expression (libgcc's fallback for
 * __builtin_popcount may use a lookup table: not constant time). */
void hers_sample_cbd(hers_prg *g, int8_t *out, size_t n)
{
    /* 6 bytes per coefficient: 21 + 21 bits used. */
    uint8_t buf[SAMPLE_BLOCK * 6];
    for (size_t i = 0; i < n; i += SAMPLE_BLOCK) {
        size_t m = n - i < SAMPLE_BLOCK ? n - i : SAMPLE_BLOCK;
        hers_prg_bytes(g, buf, m * 6);
        for (size_t j = 0; j < m; j++) {
            const uint8_t *b = buf + 6 * j;
            uint64_t w = (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 |
                         (uint64_t)b[3] << 24 | (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40;
            /* both 21-bit halves counted at once: low half in bits 0..31,
             * high half in bits 32..63 */
            uint64_t z = (w & 0x1fffff) | (((w >> 21) & 0x1fffff) << 32);
            z = z - ((z >> 1) & 0x5555555555555555ull);
            z = (z & 0x3333333333333333ull) + ((z >> 2) & 0x3333333333333333ull);
            z = (z + (z >> 4)) & 0x0f0f0f0f0f0f0f0full;
            z = z + (z >> 8);
            z = z + (z >> 16);   /* byte 0: low count, byte 4: high count */
            out[i + j] = (int8_t)((int)(z & 0xff) - (int)((z >> 32) & 0xff));
        }
    }
    hers_wipe(buf, sizeof buf);
}

void hers_bfv_expand_uniform(const hers_params *p, const uint8_t seed[HERS_SEED_BYTES],
                             uint64_t stream, size_t num_primes, uint64_t *out)
{
    hers_prg g;
    hers_prg_init(&g, seed, stream);
    size_t n = p->n;
    uint8_t buf[SAMPLE_BLOCK * 8];
    size_t avail = 0, pos = 0;
    for (size_t i = 0; i < p->k; i++) {
        uint64_t q = p->q[i].value;
        int bits = p->q[i].bits;
        uint64_t mask = bits >= 64 ? ~UINT64_C(0) : ((UINT64_C(1) << bits) - 1);
        /* Primes beyond num_primes are still drawn (and discarded) so that
         * the first blocks do not depend on num_primes. They are never
         * needed today: stop early. */
        if (i >= num_primes)
            break;
        uint64_t *o = out + i * n;
        /* Candidate words: 4 little-endian PRG bytes for primes below 2^32,
         * 8 bytes otherwise (the 8-byte rule predates the narrow sets and
         * fixes the streams of the 50-bit sets: KATs). sizeof buf is a
         * multiple of 8, so a word never straddles two refills. */
        size_t wb = q < (UINT64_C(1) << 32) ? 4 : 8;
        for (size_t j = 0; j < n;) {
            if (pos == avail) {
                hers_prg_bytes(&g, buf, sizeof buf);
                avail = sizeof buf;
                pos = 0;
            }
            /* the buffered words, branch-free: every candidate is written
             * at o[j] (j < n) and kept by advancing j only if it is < q (a
             * rejection branch mispredicted on ~1 in 4 words of a 30-bit
             * prime 0.76 * 2^30; the output is the same) */
            for (; pos < avail && j < n; pos += wb) {
                const uint8_t *b = buf + pos;
                uint64_t w = (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 |
                             (uint64_t)b[3] << 24;
                if (wb == 8)
                    w |= (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 | (uint64_t)b[6] << 48 |
                         (uint64_t)b[7] << 56;
                w &= mask;
                o[j] = w;
                j += w < q;
            }
        }
    }
    hers_prg_wipe(&g);
}

void hers_bfv_kernel_expand_a(const hers_params *p, const uint8_t seed[HERS_SEED_BYTES],
                              size_t num_primes, uint64_t *out)
{
    hers_bfv_expand_uniform(p, seed, HERS_STREAM_CT_A, num_primes, out);
}
