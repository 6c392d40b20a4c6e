/*
 * rns_avx2.c - AVX2 kernels of the exact base conversion and scale-and-round
 * (hers_rns.h), bit-identical to the portable code in rns.c.
 *
 * Four coefficients at a time. Residues (< 2^50) are held in doubles; a
 * product a*b mod p (a < 2^50, b < p < 2^50) is computed exactly: h = fl(ab),
 * l = ab - h by FMA (exact), quot = round(h / p) (within 3/4 of ab/p since
 * h * pinv has relative error < 2^-52 and ab/p < 2^50), r = (h - quot p) + l
 * exactly, in [-3p/4, 3p/4], then +p if negative. Sums of up to 8 residues
 * (< 2^53) are exact and reduced with a floor quotient and two corrections.
 * The quotient v of the conversion and the rounding of scale-and-round are
 * sums of fractions below 1, computed in doubles and, in the rare lanes
 * where doubles cannot decide them (within 2^-40 of the boundary), by the
 * same 128-bit fixed-point code as rns.c. So every result equals the
 * portable one exactly.
 */
#include <immintrin.h>

#include "bfv/rns_internal.h"

typedef unsigned __int128 u128;

#define MAGIC_ROUND 6755399441055744.0 /* 1.5 * 2^52: adding it rounds to an integer */
#define TWO52 4503599627370496.0

static inline __m256d load_d(const uint64_t *p)
{
    __m256i x = _mm256_loadu_si256((const __m256i *)p);
    __m256i bits = _mm256_set1_epi64x(0x4330000000000000LL);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(x, bits)), _mm256_set1_pd(TWO52));
}

static inline void store_d(uint64_t *p, __m256d v)
{
    __m256i bits = _mm256_set1_epi64x(0x4330000000000000LL);
    __m256i x = _mm256_castpd_si256(_mm256_add_pd(v, _mm256_set1_pd(TWO52)));
    _mm256_storeu_si256((__m256i *)p, _mm256_xor_si256(x, bits));
}

/* a*b mod p in [0, p) for a < 2^50, b < p < 2^50 (as exact doubles). */
static inline __m256d mulmod(__m256d a, __m256d b, __m256d P, __m256d Pinv)
{
    const __m256d M = _mm256_set1_pd(MAGIC_ROUND);
    __m256d h = _mm256_mul_pd(a, b);
    __m256d l = _mm256_fmsub_pd(a, b, h);
    __m256d quot = _mm256_sub_pd(_mm256_fmadd_pd(h, Pinv, M), M);
    __m256d r = _mm256_add_pd(_mm256_fnmadd_pd(quot, P, h), l);
    return _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, _mm256_setzero_pd(), _CMP_LT_OQ), P));
}

/* s mod p for an integer 0 <= s < 2^53 held exactly in a double. */
static inline __m256d reduce_sum(__m256d s, __m256d P, __m256d Pinv)
{
    __m256d quot = _mm256_round_pd(_mm256_mul_pd(s, Pinv), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(quot, P, s);   /* exact: an integer in (-p, 2p) */
    r = _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, _mm256_setzero_pd(), _CMP_LT_OQ), P));
    return _mm256_sub_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, P, _CMP_GE_OQ), P));
}

void hers_rns_convert_avx2(const hers_rns_conv *c, const struct conv_priv *cp, const uint64_t *in,
                           uint64_t *out, size_t n, uint64_t centered)
{
    const hers_rns_base *b = c->from;
    size_t k = b->k, kt = c->k_to;
    double qd[HERS_RNS_MAX], qinv[HERS_RNS_MAX], wd[HERS_RNS_MAX];
    for (size_t i = 0; i < k; i++) {
        qd[i] = (double)b->m[i].value;
        qinv[i] = 1.0 / qd[i];
        wd[i] = (double)b->mhat_inv[i];
    }
    uint64_t cm = centered & 1;
    const __m256d half = _mm256_set1_pd(cm ? 0.5 : 0.0);
    const __m256d eps = _mm256_set1_pd(0x1p-40);
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    for (size_t x = 0; x < n; x += 4) {
        __m256d y[HERS_RNS_MAX];
        /* g = sum y_i / q_i (+ 1/2 when centred) in doubles: every term is
         * below 1 with error < 2^-52, so floor(g) is v unless g is within
         * k*2^-51 of an integer; then (probability ~2^-45 for centred
         * ciphertext data) the exact fixed-point code decides. */
        __m256d g = half;
        for (size_t i = 0; i < k; i++) {
            y[i] = mulmod(load_d(in + i * n + x), _mm256_set1_pd(wd[i]), _mm256_set1_pd(qd[i]),
                          _mm256_set1_pd(qinv[i]));
            g = _mm256_fmadd_pd(y[i], _mm256_set1_pd(qinv[i]), g);
        }
        __m256d vd = _mm256_round_pd(g, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        __m256d near = _mm256_round_pd(g, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256d dist = _mm256_and_pd(_mm256_sub_pd(g, near), absmask);
        if (_mm256_movemask_pd(_mm256_cmp_pd(dist, eps, _CMP_LT_OQ))) {
            uint64_t yi[HERS_RNS_MAX][4], v[4];
            for (size_t i = 0; i < k; i++)
                store_d(yi[i], y[i]);
            for (int l = 0; l < 4; l++) {
                u128 lo = 0, mid = 0, hi = 0;
                for (size_t i = 0; i < k; i++) {
                    u128 a = (u128)yi[i][l] * b->inv_m[i][0];
                    u128 bb = (u128)yi[i][l] * b->inv_m[i][1];
                    lo += (uint64_t)a;
                    mid += (a >> 64) + (uint64_t)bb;
                    hi += bb >> 64;
                }
                mid += lo >> 64;
                hi += mid >> 64;
                v[l] = (uint64_t)hi + ((((uint64_t)mid) >> 63) & cm);
            }
            vd = load_d(v);
        }
        for (size_t j = 0; j < kt; j++) {
            double pd = (double)c->to[j].value;
            __m256d P = _mm256_set1_pd(pd), Pinv = _mm256_set1_pd(1.0 / pd);
            /* v <= k <= 7 and -M mod p < p: the product is exact (< 2^53);
             * reduced first when k + k terms could reach 2^53 */
            __m256d acc = _mm256_mul_pd(vd, _mm256_set1_pd((double)cp->neg_m[j]));
            if (k >= 4)
                acc = reduce_sum(acc, P, Pinv);
            for (size_t i = 0; i < k; i++)
                acc = _mm256_add_pd(acc, mulmod(y[i], _mm256_set1_pd((double)c->mhat_mod[i * kt + j]), P, Pinv));
            store_d(out + j * n + x, reduce_sum(acc, P, Pinv));
        }
    }
}

void hers_rns_scale_avx2(const hers_rns_scaler *s, const struct scaler_priv *sp, const uint64_t *in,
                         uint64_t *out, size_t n)
{
    const hers_rns_base *b = s->in;
    size_t kd = s->kd, ko = s->k_out;
    int has_e = b->k > kd;
    double qd[HERS_RNS_MAX], qinv[HERS_RNS_MAX], zc[HERS_RNS_MAX];
    for (size_t i = 0; i < kd; i++) {
        qd[i] = (double)b->m[i].value;
        qinv[i] = 1.0 / qd[i];
        zc[i] = (double)sp->zc[i];
    }
    const __m256d eps = _mm256_set1_pd(0x1p-40);
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    for (size_t x = 0; x < n; x += 4) {
        __m256d z[HERS_RNS_MAX];
        /* g = 1/2 + sum z_i / d_i (terms < 1, error < kd 2^-52): floor(g)
         * is the rounding unless g is within 2^-40 of an integer; then the
         * fixed-point code of rns.c decides (identical results). */
        __m256d g = _mm256_set1_pd(0.5);
        for (size_t i = 0; i < kd; i++) {
            z[i] = mulmod(load_d(in + i * n + x), _mm256_set1_pd(zc[i]), _mm256_set1_pd(qd[i]),
                          _mm256_set1_pd(qinv[i]));
            g = _mm256_fmadd_pd(z[i], _mm256_set1_pd(qinv[i]), g);
        }
        __m256d rd = _mm256_round_pd(g, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        __m256d near = _mm256_round_pd(g, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256d dist = _mm256_and_pd(_mm256_sub_pd(g, near), absmask);
        if (_mm256_movemask_pd(_mm256_cmp_pd(dist, eps, _CMP_LT_OQ))) {
            uint64_t zi[HERS_RNS_MAX][4], rnd[4];
            for (size_t i = 0; i < kd; i++)
                store_d(zi[i], z[i]);
            for (int l = 0; l < 4; l++) {
                u128 lo = 0, mid = 0, hi = 0;
                for (size_t i = 0; i < kd; i++) {
                    u128 a = (u128)zi[i][l] * b->inv_m[i][0];
                    u128 bb = (u128)zi[i][l] * b->inv_m[i][1];
                    lo += (uint64_t)a;
                    mid += (a >> 64) + (uint64_t)bb;
                    hi += bb >> 64;
                }
                mid += lo >> 64;
                hi += mid >> 64;
                rnd[l] = (uint64_t)hi + (((uint64_t)mid) >> 63);
            }
            rd = load_d(rnd);   /* <= kd */
        }
        for (size_t j = 0; j < ko; j++) {
            double pd = (double)s->out[j].value;
            __m256d P = _mm256_set1_pd(pd), Pinv = _mm256_set1_pd(1.0 / pd);
            /* rnd <= kd < p unless p is tiny: reduce it anyway (exact) */
            __m256d acc = reduce_sum(rd, P, Pinv);
            for (size_t i = 0; i < kd; i++)
                acc = _mm256_add_pd(acc, mulmod(z[i], _mm256_set1_pd((double)sp->ndinv[i * ko + j]), P, Pinv));
            if (has_e)
                acc = _mm256_add_pd(acc, mulmod(load_d(in + (kd + j) * n + x),
                                                _mm256_set1_pd((double)s->self[j]), P, Pinv));
            store_d(out + j * n + x, reduce_sum(acc, P, Pinv));
        }
    }
}
