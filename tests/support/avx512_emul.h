/*
 * avx512_emul.h - a scalar model of the few AVX-512 F / IFMA intrinsics
 * that src/arithmetic/ntt_ifma_kernel.h uses, so its lane arithmetic and
 * permutations can be tested on machines without AVX-512 (this one).
 *
 * Semantics follow the Intel Intrinsics Guide pseudo-code:
 *   madd52lo(a, b, c)[i] = a[i] + lo52(b[i][51:0] * c[i][51:0])
 *   madd52hi(a, b, c)[i] = a[i] + (b[i][51:0] * c[i][51:0]) >> 52
 *   permutex2var_epi64(a, idx, b)[i] = (idx[i] bit 3 ? b : a)[idx[i] & 7]
 *   unpacklo_epi64(a, b) = a0 b0 a2 b2 a4 b4 a6 b6, unpackhi = a1 b1 a3 b3 ...
 *   shuffle_i64x2(a, b, imm): 128-bit unit j = (j < 2 ? a : b)[imm bits 2j+1:2j]
 *   sllv/srlv: counts > 63 give 0
 * Include this INSTEAD of <immintrin.h> (never both in one file).
 */
#ifndef HERS_AVX512_EMUL_H
#define HERS_AVX512_EMUL_H

#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t v[8];
} __m512i;

static inline __m512i _mm512_loadu_si512(const void *p)
{
    __m512i r;
    memcpy(r.v, p, sizeof r.v);
    return r;
}

static inline void _mm512_storeu_si512(void *p, __m512i a)
{
    memcpy(p, a.v, sizeof a.v);
}

/* non-temporal store and its fence: plain memory semantics in the model */
static inline void _mm512_stream_si512(void *p, __m512i a)
{
    memcpy(p, a.v, sizeof a.v);
}

static inline void _mm_sfence(void) {}

static inline __m512i _mm512_set1_epi64(long long x)
{
    __m512i r;
    for (int i = 0; i < 8; i++)
        r.v[i] = (uint64_t)x;
    return r;
}

static inline __m512i _mm512_setzero_si512(void)
{
    return _mm512_set1_epi64(0);
}

#define HERS_EMUL_BINOP(name, expr)                                         \
    static inline __m512i name(__m512i a, __m512i b)                        \
    {                                                                       \
        __m512i r;                                                          \
        for (int i = 0; i < 8; i++) {                                       \
            uint64_t x = a.v[i], y = b.v[i];                                \
            r.v[i] = (expr);                                                \
        }                                                                   \
        return r;                                                           \
    }

HERS_EMUL_BINOP(_mm512_add_epi64, x + y)
HERS_EMUL_BINOP(_mm512_sub_epi64, x - y)
HERS_EMUL_BINOP(_mm512_and_si512, x & y)
HERS_EMUL_BINOP(_mm512_or_si512, x | y)
HERS_EMUL_BINOP(_mm512_min_epu64, x < y ? x : y)
HERS_EMUL_BINOP(_mm512_sllv_epi64, y > 63 ? 0 : x << y)
HERS_EMUL_BINOP(_mm512_srlv_epi64, y > 63 ? 0 : x >> y)
#undef HERS_EMUL_BINOP

static inline __m512i _mm512_madd52lo_epu64(__m512i a, __m512i b, __m512i c)
{
    const uint64_t m52 = (UINT64_C(1) << 52) - 1;
    __m512i r;
    for (int i = 0; i < 8; i++) {
        unsigned __int128 p = (unsigned __int128)(b.v[i] & m52) * (c.v[i] & m52);
        r.v[i] = a.v[i] + ((uint64_t)p & m52);
    }
    return r;
}

static inline __m512i _mm512_madd52hi_epu64(__m512i a, __m512i b, __m512i c)
{
    const uint64_t m52 = (UINT64_C(1) << 52) - 1;
    __m512i r;
    for (int i = 0; i < 8; i++) {
        unsigned __int128 p = (unsigned __int128)(b.v[i] & m52) * (c.v[i] & m52);
        r.v[i] = a.v[i] + (uint64_t)(p >> 52);
    }
    return r;
}

/* unpacklo/hi_epi64: per 128-bit unit i, (a[2i], b[2i]) / (a[2i+1], b[2i+1]) */
static inline __m512i _mm512_unpacklo_epi64(__m512i a, __m512i b)
{
    __m512i r;
    for (int i = 0; i < 4; i++) {
        r.v[2 * i] = a.v[2 * i];
        r.v[2 * i + 1] = b.v[2 * i];
    }
    return r;
}

static inline __m512i _mm512_unpackhi_epi64(__m512i a, __m512i b)
{
    __m512i r;
    for (int i = 0; i < 4; i++) {
        r.v[2 * i] = a.v[2 * i + 1];
        r.v[2 * i + 1] = b.v[2 * i + 1];
    }
    return r;
}

/* shuffle_i64x2: 128-bit units 0, 1 from a and 2, 3 from b, unit j chosen by
 * imm bits [2j+1:2j] */
static inline __m512i _mm512_shuffle_i64x2(__m512i a, __m512i b, int imm)
{
    __m512i r;
    for (int j = 0; j < 4; j++) {
        const __m512i *src = j < 2 ? &a : &b;
        int u = (imm >> (2 * j)) & 3;
        r.v[2 * j] = src->v[2 * u];
        r.v[2 * j + 1] = src->v[2 * u + 1];
    }
    return r;
}

static inline __m512i _mm512_permutex2var_epi64(__m512i a, __m512i idx, __m512i b)
{
    __m512i r;
    for (int i = 0; i < 8; i++) {
        uint64_t k = idx.v[i];
        r.v[i] = (k & 8) ? b.v[k & 7] : a.v[k & 7];
    }
    return r;
}

#endif
