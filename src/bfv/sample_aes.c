/*
 * sample_aes.c - the uniform polynomial of a seed from the AES-256-CTR key
 * stream (hers_expand_uniform with HERS_EXPAND_AES256, hers_bfv.h): the
 * expander of gallery format version 2, ~10x cheaper than ChaCha20 on
 * hardware with AES instructions (docs/benchmarks.md, "Store").
 *
 * Same sampling rule as the ChaCha20 expander (sample.c), only the byte
 * source differs: one key stream (key = the 32-byte seed, counter blocks
 * LE64(stream) || LE64(j), j = 0, 1, ...) consumed prime after prime; a
 * candidate is 4 little-endian bytes for primes below 2^32, else 8, masked
 * to bitlen(q) bits and kept iff < q (rejection: exactly uniform mod q).
 * The AVX-512 path keeps 8 (or 16) candidates at a time with one compare
 * and one compress, while a whole vector of survivors still fits below N;
 * the portable loop finishes every prime, so both give the same residues.
 * The seed and the stream are public (stored beside the ciphertext).
 */
#include <immintrin.h>
#include <string.h>

#include "bfv/bfv_kernel.h"
#include "bfv/bfv_precomp.h"
#include "core/aes256.h"
#include "core/bitpack.h"
#include "hers/hers_cpu.h"

#define KS_BLOCKS 256   /* 4 KiB of key stream per refill (stays in L1) */

/* Candidates of buf[*pos ..) while a full vector of survivors fits below
 * n; advances *pos and *j exactly as the scalar loop would. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static void
keep_avx512(const uint8_t *buf, size_t *pos, size_t avail, uint64_t *o, size_t *j, size_t n,
            uint64_t q, uint64_t mask, size_t wb)
{
    size_t p = *pos, x = *j;
    if (wb == 8) {
        __m512i vq = _mm512_set1_epi64((long long)q), vm = _mm512_set1_epi64((long long)mask);
        for (; p + 64 <= avail && x + 8 <= n; p += 64) {
            __m512i w = _mm512_and_si512(_mm512_loadu_si512(buf + p), vm);
            __mmask8 k = _mm512_cmplt_epu64_mask(w, vq);
            _mm512_storeu_si512(o + x, _mm512_maskz_compress_epi64(k, w));
            x += (size_t)__builtin_popcount(k);
        }
    } else {
        __m512i vq = _mm512_set1_epi32((int)q), vm = _mm512_set1_epi32((int)mask);
        for (; p + 64 <= avail && x + 16 <= n; p += 64) {
            __m512i w = _mm512_and_si512(_mm512_loadu_si512(buf + p), vm);
            __mmask16 k = _mm512_cmplt_epu32_mask(w, vq);
            __m512i c = _mm512_maskz_compress_epi32(k, w);
            _mm512_storeu_si512(o + x, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(c)));
            _mm512_storeu_si512(o + x + 8, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(c, 1)));
            x += (size_t)__builtin_popcount(k);
        }
    }
    *pos = p;
    *j = x;
}

static void expand_aes(const hers_params *p, const uint8_t seed[HERS_SEED_BYTES],
                                 uint64_t stream, size_t num_primes, uint64_t *out)
{
    hers_aes256 key;
    hers_aes256_init(&key, seed);
    _Alignas(64) uint8_t buf[KS_BLOCKS * 16];
    uint64_t next_block = 0;
    size_t avail = 0, pos = 0, n = p->n;
    int vec = hers_simd_active() >= HERS_SIMD_AVX512;
    for (size_t i = 0; i < p->k && i < num_primes; i++) {
        uint64_t q = p->q[i].value;
        int bits = p->q[i].bits;
        uint64_t mask = bits >= 64 ? ~UINT64_C(0) : ((UINT64_C(1) << bits) - 1);
        size_t wb = q < (UINT64_C(1) << 32) ? 4 : 8;
        uint64_t *o = out + i * n;
        for (size_t j = 0; j < n;) {
            if (pos == avail) {
                hers_aes256_ctr(&key, stream, next_block, KS_BLOCKS, buf);
                next_block += KS_BLOCKS;
                avail = sizeof buf;
                pos = 0;
            }
            if (vec)
                keep_avx512(buf, &pos, avail, o, &j, n, q, mask, wb);
            /* the rest (and every candidate on the other levels),
             * branch-free as in sample.c: written at o[j], kept iff < q */
            for (; pos < avail && j < n; pos += wb) {
                uint64_t w;
                if (wb == 8) {
                    w = hers_le_get_u64(buf + pos);
                } else {
                    w = hers_le_get_u32(buf + pos);
                }
                w &= mask;
                o[j] = w;
                j += w < q;
            }
        }
    }
}

void hers_bfv_kernel_expand_a_with(const hers_params *p, hers_expander x,
                                   const uint8_t seed[HERS_SEED_BYTES], size_t num_primes,
                                   uint64_t *out)
{
    hers_expand_uniform(p, x, seed, HERS_STREAM_CT_A, num_primes, out);
}

void hers_expand_uniform(const hers_params *p, hers_expander x,
                         const uint8_t seed[HERS_SEED_BYTES], uint64_t stream, size_t num_primes,
                         uint64_t *out)
{
    if (x == HERS_EXPAND_AES256)
        expand_aes(p, seed, stream, num_primes, out);
    else
        hers_bfv_expand_uniform(p, seed, stream, num_primes, out);
}
