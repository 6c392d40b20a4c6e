/*
 * poly_avx2.c - AVX2 coefficient-wise arithmetic, bit-identical to poly.c.
 *
 * add/sub/neg: 64-bit integer lanes, any q < 2^62 (signed compares are
 * exact since all values are < 2^63). Inputs and outputs in [0, q).
 * mul, mul_acc, mul_scalar: q < 2^50 only, exact FMA products in doubles
 * (see ntt_avx2.c): for a, b in [0, q), h + l = a*b exactly,
 * quot = round(h / q) is within 3/4 of a*b/q (the relative error of h * qinv
 * is below 2^-52 and a*b/q < 2^50), so r = (h - quot q) + l lies in
 * [-3q/4, 3q/4] and one conditional +q brings it into [0, q).
 * Remainders (n not a multiple of 4) use the scalar formulas.
 */
#include <immintrin.h>
#include <string.h>

#include "arithmetic/arith_internal.h"
#include "arithmetic/fma_avx2.h"

void hers_poly_add_avx2(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n, uint64_t q)
{
    const __m256i Q = _mm256_set1_epi64x((long long)q), Qm1 = _mm256_set1_epi64x((long long)q - 1);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256i s = _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(a + i)),
                                     _mm256_loadu_si256((const __m256i *)(b + i)));
        s = _mm256_sub_epi64(s, _mm256_and_si256(_mm256_cmpgt_epi64(s, Qm1), Q));
        _mm256_storeu_si256((__m256i *)(out + i), s);
    }
    for (; i < n; i++)
        out[i] = hers_add_mod(a[i], b[i], q);
}

void hers_poly_sub_avx2(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n, uint64_t q)
{
    const __m256i Q = _mm256_set1_epi64x((long long)q), Z = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256i d = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(a + i)),
                                     _mm256_loadu_si256((const __m256i *)(b + i)));
        d = _mm256_add_epi64(d, _mm256_and_si256(_mm256_cmpgt_epi64(Z, d), Q));
        _mm256_storeu_si256((__m256i *)(out + i), d);
    }
    for (; i < n; i++)
        out[i] = hers_sub_mod(a[i], b[i], q);
}

void hers_poly_neg_avx2(uint64_t *out, const uint64_t *a, size_t n, uint64_t q)
{
    const __m256i Q = _mm256_set1_epi64x((long long)q), Z = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i nz = _mm256_andnot_si256(_mm256_cmpeq_epi64(x, Z), _mm256_set1_epi64x(-1));
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_and_si256(_mm256_sub_epi64(Q, x), nz));
    }
    for (; i < n; i++)
        out[i] = hers_neg_mod(a[i], q);
}

void hers_poly_mul_avx2(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n, const hers_modulus *m)
{
    const uint64_t q = m->value;
    const __m256d Q = _mm256_set1_pd((double)q), Qinv = _mm256_set1_pd(1.0 / (double)q);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d r = hers_fma_mulmod_lazy(hers_fma_load_u52(a + i), hers_fma_load_u52(b + i), Q, Qinv);
        hers_fma_store_u52(out + i, hers_fma_add_q_if_neg(r, Q));
    }
    for (; i < n; i++)
        out[i] = hers_mul_mod(a[i], b[i], m);
}

void hers_poly_mul_acc_avx2(uint64_t *acc, const uint64_t *a, const uint64_t *b, size_t n,
                            const hers_modulus *m)
{
    const uint64_t q = m->value;
    const __m256d Q = _mm256_set1_pd((double)q), Qinv = _mm256_set1_pd(1.0 / (double)q);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d r = hers_fma_mulmod_lazy(hers_fma_load_u52(a + i), hers_fma_load_u52(b + i), Q, Qinv);
        r = hers_fma_add_q_if_neg(r, Q);                        /* [0, q) */
        r = _mm256_add_pd(r, hers_fma_load_u52(acc + i)); /* [0, 2q) */
        r = _mm256_sub_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, Q, _CMP_GE_OQ), Q));
        hers_fma_store_u52(acc + i, r);
    }
    for (; i < n; i++)
        acc[i] = hers_add_mod(acc[i], hers_mul_mod(a[i], b[i], m), q);
}

void hers_poly_mul_scalar_avx2(uint64_t *out, const uint64_t *a, uint64_t s, size_t n, const hers_modulus *m)
{
    const uint64_t q = m->value;
    const __m256d Q = _mm256_set1_pd((double)q), Qinv = _mm256_set1_pd(1.0 / (double)q);
    const __m256d S = _mm256_set1_pd((double)s);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d r = hers_fma_mulmod_lazy(hers_fma_load_u52(a + i), S, Q, Qinv);
        hers_fma_store_u52(out + i, hers_fma_add_q_if_neg(r, Q));
    }
    for (; i < n; i++)
        out[i] = hers_mul_mod(a[i], s, m);
}

void hers_poly_mul_scalar_add_small_avx2(uint64_t *out, const uint64_t *a, uint64_t s,
                                         const int8_t *e, size_t n, const hers_modulus *m)
{
    const uint64_t q = m->value;
    const __m256d Q = _mm256_set1_pd((double)q), Qinv = _mm256_set1_pd(1.0 / (double)q);
    const __m256d S = _mm256_set1_pd((double)s);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        int32_t e4;
        memcpy(&e4, e + i, 4);
        __m256d E = _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(e4)));
        /* [-3q/4 - 127, 3q/4 + 127]: one correction each way (q > 256) */
        __m256d r = _mm256_add_pd(hers_fma_mulmod_lazy(hers_fma_load_u52(a + i), S, Q, Qinv), E);
        r = hers_fma_add_q_if_neg(r, Q);
        r = _mm256_sub_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, Q, _CMP_GE_OQ), Q));
        hers_fma_store_u52(out + i, r);
    }
    for (; i < n; i++) {
        int64_t v = (int64_t)hers_mul_mod(a[i], s, m) + e[i];
        v += (int64_t)q & -(int64_t)(v < 0);
        v -= (int64_t)q & -(int64_t)(v >= (int64_t)q);
        out[i] = (uint64_t)v;
    }
}
