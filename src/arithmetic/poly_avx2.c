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

#define MAGIC_ROUND 6755399441055744.0 /* 1.5 * 2^52 */
#define TWO52 4503599627370496.0

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

static inline __m256d to_d(const uint64_t *p, __m256i bits, __m256d two52)
{
    __m256i x = _mm256_loadu_si256((const __m256i *)p);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(x, bits)), two52);
}

static inline void from_d(uint64_t *p, __m256d v, __m256i bits, __m256d two52)
{
    __m256i x = _mm256_castpd_si256(_mm256_add_pd(v, two52));
    _mm256_storeu_si256((__m256i *)p, _mm256_xor_si256(x, bits));
}

/* a * b mod q in [-3q/4, 3q/4] for a, b in [0, q), q < 2^50. */
static inline __m256d mul_signed(__m256d A, __m256d B, __m256d Q, __m256d Qinv, __m256d M)
{
    __m256d h = _mm256_mul_pd(A, B);
    __m256d l = _mm256_fmsub_pd(A, B, h);
    __m256d quot = _mm256_sub_pd(_mm256_fmadd_pd(h, Qinv, M), M);
    return _mm256_add_pd(_mm256_fnmadd_pd(quot, Q, h), l);
}

static inline __m256d add_q_if_neg(__m256d r, __m256d Q)
{
    return _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, _mm256_setzero_pd(), _CMP_LT_OQ), Q));
}

void hers_poly_mul_avx2(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n, const hers_modulus *m)
{
    const uint64_t q = m->value;
    const __m256d Q = _mm256_set1_pd((double)q), Qinv = _mm256_set1_pd(1.0 / (double)q);
    const __m256d M = _mm256_set1_pd(MAGIC_ROUND), T52 = _mm256_set1_pd(TWO52);
    const __m256i bits = _mm256_set1_epi64x(0x4330000000000000LL);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d r = mul_signed(to_d(a + i, bits, T52), to_d(b + i, bits, T52), Q, Qinv, M);
        from_d(out + i, add_q_if_neg(r, Q), bits, T52);
    }
    for (; i < n; i++)
        out[i] = hers_mul_mod(a[i], b[i], m);
}

void hers_poly_mul_acc_avx2(uint64_t *acc, const uint64_t *a, const uint64_t *b, size_t n,
                            const hers_modulus *m)
{
    const uint64_t q = m->value;
    const __m256d Q = _mm256_set1_pd((double)q), Qinv = _mm256_set1_pd(1.0 / (double)q);
    const __m256d M = _mm256_set1_pd(MAGIC_ROUND), T52 = _mm256_set1_pd(TWO52);
    const __m256i bits = _mm256_set1_epi64x(0x4330000000000000LL);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d r = mul_signed(to_d(a + i, bits, T52), to_d(b + i, bits, T52), Q, Qinv, M);
        r = add_q_if_neg(r, Q);                        /* [0, q) */
        r = _mm256_add_pd(r, to_d(acc + i, bits, T52)); /* [0, 2q) */
        r = _mm256_sub_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, Q, _CMP_GE_OQ), Q));
        from_d(acc + i, r, bits, T52);
    }
    for (; i < n; i++)
        acc[i] = hers_add_mod(acc[i], hers_mul_mod(a[i], b[i], m), q);
}

void hers_poly_mul_scalar_avx2(uint64_t *out, const uint64_t *a, uint64_t s, size_t n, const hers_modulus *m)
{
    const uint64_t q = m->value;
    const __m256d Q = _mm256_set1_pd((double)q), Qinv = _mm256_set1_pd(1.0 / (double)q);
    const __m256d M = _mm256_set1_pd(MAGIC_ROUND), T52 = _mm256_set1_pd(TWO52);
    const __m256i bits = _mm256_set1_epi64x(0x4330000000000000LL);
    const __m256d S = _mm256_set1_pd((double)s);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d r = mul_signed(to_d(a + i, bits, T52), S, Q, Qinv, M);
        from_d(out + i, add_q_if_neg(r, Q), bits, T52);
    }
    for (; i < n; i++)
        out[i] = hers_mul_mod(a[i], s, m);
}

void hers_poly_mul_scalar_add_small_avx2(uint64_t *out, const uint64_t *a, uint64_t s,
                                         const int8_t *e, size_t n, const hers_modulus *m)
{
    const uint64_t q = m->value;
    const __m256d Q = _mm256_set1_pd((double)q), Qinv = _mm256_set1_pd(1.0 / (double)q);
    const __m256d M = _mm256_set1_pd(MAGIC_ROUND), T52 = _mm256_set1_pd(TWO52);
    const __m256i bits = _mm256_set1_epi64x(0x4330000000000000LL);
    const __m256d S = _mm256_set1_pd((double)s);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        int32_t e4;
        memcpy(&e4, e + i, 4);
        __m256d E = _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(e4)));
        /* [-3q/4 - 127, 3q/4 + 127]: one correction each way (q > 256) */
        __m256d r = _mm256_add_pd(mul_signed(to_d(a + i, bits, T52), S, Q, Qinv, M), E);
        r = add_q_if_neg(r, Q);
        r = _mm256_sub_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, Q, _CMP_GE_OQ), Q));
        from_d(out + i, r, bits, T52);
    }
    for (; i < n; i++) {
        int64_t v = (int64_t)hers_mul_mod(a[i], s, m) + e[i];
        v += (int64_t)q & -(int64_t)(v < 0);
        v -= (int64_t)q & -(int64_t)(v >= (int64_t)q);
        out[i] = (uint64_t)v;
    }
}
