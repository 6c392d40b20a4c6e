/*
 * fma_avx2.h - private to the AVX2 kernels (files compiled with AVX2 + FMA,
 * any layer above arithmetic may include it): exact integer arithmetic in
 * 4 double lanes. Shared with: bfv, search (scripts/check-layers).
 *
 * - An integer 0 <= x < 2^52 and the double 2^52 + x share their low 52
 *   bits, so conversions are one OR/XOR with the bits of 2^52 and one
 *   subtraction/addition of 2^52, both exact.
 * - Adding and subtracting 1.5 * 2^52 rounds |x| < 2^51 to the nearest
 *   integer (round-to-nearest-even mode, the default).
 * - For a * b with |a * b / q| < 2^50 and q < 2^50: h = fl(a b) and
 *   l = fma(a, b, -h) give a b = h + l exactly; quot = round(h * fl(1/q)) is
 *   within 1/2 + |a b / q| 2^-52 of a b / q, so (h - quot q) + l, each step
 *   exact (the true values are integers below 2^52), lies in [-3q/4, 3q/4].
 */
#ifndef HERS_FMA_AVX2_H
#define HERS_FMA_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#define HERS_FMA_MAGIC_ROUND 6755399441055744.0 /* 1.5 * 2^52 */
#define HERS_FMA_TWO52 4503599627370496.0
#define HERS_FMA_TWO52_BITS 0x4330000000000000LL

/* x < 2^52 -> double, exactly. */
static inline __m256d hers_fma_from_u52(__m256i x)
{
    __m256i b = _mm256_or_si256(x, _mm256_set1_epi64x(HERS_FMA_TWO52_BITS));
    return _mm256_sub_pd(_mm256_castsi256_pd(b), _mm256_set1_pd(HERS_FMA_TWO52));
}

/* An integral double in [0, 2^52) -> uint64, exactly. */
static inline __m256i hers_fma_to_u52(__m256d v)
{
    __m256i b = _mm256_castpd_si256(_mm256_add_pd(v, _mm256_set1_pd(HERS_FMA_TWO52)));
    return _mm256_xor_si256(b, _mm256_set1_epi64x(HERS_FMA_TWO52_BITS));
}

static inline __m256d hers_fma_load_u52(const uint64_t *p)
{
    return hers_fma_from_u52(_mm256_loadu_si256((const __m256i *)p));
}

static inline void hers_fma_store_u52(uint64_t *p, __m256d v)
{
    _mm256_storeu_si256((__m256i *)p, hers_fma_to_u52(v));
}

/* round(x) for |x| < 2^51. */
static inline __m256d hers_fma_round(__m256d x)
{
    const __m256d m = _mm256_set1_pd(HERS_FMA_MAGIC_ROUND);
    return _mm256_sub_pd(_mm256_add_pd(x, m), m);
}

/* a * b mod q in [-3q/4, 3q/4] for |a b / q| < 2^50 (header comment);
 * Qinv = fl(1/q). */
static inline __m256d hers_fma_mulmod_lazy(__m256d a, __m256d b, __m256d Q, __m256d Qinv)
{
    const __m256d m = _mm256_set1_pd(HERS_FMA_MAGIC_ROUND);
    __m256d h = _mm256_mul_pd(a, b);
    __m256d l = _mm256_fmsub_pd(a, b, h);
    __m256d quot = _mm256_sub_pd(_mm256_fmadd_pd(h, Qinv, m), m);
    return _mm256_add_pd(_mm256_fnmadd_pd(quot, Q, h), l);
}

/* v - round(v / q) q for an integer |v| < 2^51: |result| <= q/2 (1 + 2^-50). */
static inline __m256d hers_fma_reduce(__m256d v, __m256d Q, __m256d Qinv)
{
    const __m256d m = _mm256_set1_pd(HERS_FMA_MAGIC_ROUND);
    __m256d quot = _mm256_sub_pd(_mm256_fmadd_pd(v, Qinv, m), m);
    return _mm256_fnmadd_pd(quot, Q, v);
}

/* r + q where r < 0: (-q, q) -> [0, q). */
static inline __m256d hers_fma_add_q_if_neg(__m256d r, __m256d Q)
{
    return _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, _mm256_setzero_pd(), _CMP_LT_OQ), Q));
}

#endif
