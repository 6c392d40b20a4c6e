/*
 * rns_avx2.c - AVX2 kernels of the exact base conversion and scale-and-round
 * (hers_rns.h), bit-identical to the portable code in rns.c.
 *
 * Four coefficients at a time. Residues (< 2^50) are held in doubles; a
 * product a*b mod p (a < 2^50, b < p < 2^50) is computed exactly: h = fl(ab),
 * l = ab - h by FMA (exact), quot = round(h / p) (within 3/4 of ab/p since
 * h * pinv has relative error < 2^-52 and ab/p < 2^50), r = (h - quot p) + l
 * exactly, in [-3p/4, 3p/4] ("lazy"), then +p if negative when a value in
 * [0, p) is needed (the y_i / z_i that enter the fractions). The output sums
 * keep the lazy products: a sum of up to 8 terms of magnitude < 2^50 is an
 * exact integer of magnitude < 2^53, reduced with a floor quotient (off by
 * at most one either way) and two corrections. The loops are specialised
 * for the input base size k (1..7), so every y_i stays in a register.
 * The quotient v of the conversion and the rounding of scale-and-round are
 * sums of fractions below 1, computed in doubles and, in the rare lanes
 * where doubles cannot decide them (within 2^-40 of the boundary), by the
 * same 128-bit fixed-point code as rns.c. So every result equals the
 * portable one exactly.
 */
#include <immintrin.h>

#include "arithmetic/fma_avx2.h"
#include "arithmetic/rns_internal.h"

typedef unsigned __int128 u128;

/* a*b mod p in [0, p). */
static inline __m256d mulmod(__m256d a, __m256d b, __m256d P, __m256d Pinv)
{
    return hers_fma_add_q_if_neg(hers_fma_mulmod_lazy(a, b, P, Pinv), P);
}

/* s mod p in [0, p) for an integer |s| < 2^53 held exactly in a double:
 * floor(s * pinv) is floor(s / p) or one off (relative error < 2^-52 of a
 * quotient below 2^53 / p), so r = s - quot p is exact and in (-p, 2p). */
static inline __m256d reduce_sum(__m256d s, __m256d P, __m256d Pinv)
{
    __m256d quot = _mm256_round_pd(_mm256_mul_pd(s, Pinv), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(quot, P, s);
    r = _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, _mm256_setzero_pd(), _CMP_LT_OQ), P));
    return _mm256_sub_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, P, _CMP_GE_OQ), P));
}

/* Exact 128-bit fixed-point sum of the four lanes of y_i * F_i (rns.c):
 * floor, plus one when `up` and the fraction is >= 1/2. */
static __m256d exact_quot(const __m256d *y, size_t k, const uint64_t (*F)[2], uint64_t up)
{
    uint64_t yi[HERS_RNS_MAX][4], v[4];
    for (size_t i = 0; i < k; i++)
        hers_fma_store_u52(yi[i], y[i]);
    for (int l = 0; l < 4; l++) {
        u128 lo = 0, mid = 0, hi = 0;
        for (size_t i = 0; i < k; i++) {
            u128 a = (u128)yi[i][l] * F[i][0];
            u128 bb = (u128)yi[i][l] * F[i][1];
            lo += (uint64_t)a;
            mid += (a >> 64) + (uint64_t)bb;
            hi += bb >> 64;
        }
        mid += lo >> 64;
        hi += mid >> 64;
        v[l] = (uint64_t)hi + ((((uint64_t)mid) >> 63) & up);
    }
    return hers_fma_load_u52(v);
}

/* Nonzero when a lane of g is within 2^-40 of an integer: doubles cannot
 * decide floor / round there, the exact fixed-point code does. */
static inline int near_integer(__m256d g)
{
    const __m256d eps = _mm256_set1_pd(0x1p-40);
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    __m256d near = _mm256_round_pd(g, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d dist = _mm256_and_pd(_mm256_sub_pd(g, near), absmask);
    return _mm256_movemask_pd(_mm256_cmp_pd(dist, eps, _CMP_LT_OQ));
}

/* Constants of one conversion or scaling, as doubles. */
typedef struct avx_consts {
    double qd[HERS_RNS_MAX], qinv[HERS_RNS_MAX], w[HERS_RNS_MAX];   /* input side */
    double pd[HERS_RNS_MAX], pinv[HERS_RNS_MAX], c0[HERS_RNS_MAX];  /* per output */
    double cross[HERS_RNS_MAX * 7];                                 /* [j*k + i] */
} avx_consts;

static inline __attribute__((always_inline)) void
convert_k(const hers_rns_conv *c, const avx_consts *K, const uint64_t *in, uint64_t *out, size_t n,
          uint64_t cm, const size_t k)
{
    const hers_rns_base *b = c->from;
    size_t kt = c->k_to;
    const __m256d half = _mm256_set1_pd(cm ? 0.5 : 0.0);
    for (size_t x = 0; x < n; x += 4) {
        __m256d y[7];
        /* g = sum y_i / q_i (+ 1/2 when centred) in doubles: every term is
         * below 1 with error < 2^-52, so floor(g) is v unless g is within
         * k*2^-51 of an integer; then (probability ~2^-40 for centred
         * ciphertext data) the exact fixed-point code decides. */
        __m256d g = half;
        for (size_t i = 0; i < k; i++) {
            __m256d qinv = _mm256_set1_pd(K->qinv[i]);
            y[i] = mulmod(hers_fma_load_u52(in + i * n + x), _mm256_set1_pd(K->w[i]), _mm256_set1_pd(K->qd[i]), qinv);
            g = _mm256_fmadd_pd(y[i], qinv, g);
        }
        __m256d vd = _mm256_round_pd(g, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        if (near_integer(g))
            vd = exact_quot(y, k, (const uint64_t(*)[2])b->inv_m, cm);
        for (size_t j = 0; j < kt; j++) {
            __m256d P = _mm256_set1_pd(K->pd[j]), Pinv = _mm256_set1_pd(K->pinv[j]);
            /* v <= k <= 7 and -M mod p < p: the product is exact (< 2^53);
             * reduced first when it and k lazy terms could reach 2^53 */
            __m256d acc = _mm256_mul_pd(vd, _mm256_set1_pd(K->c0[j]));
            if (k >= 4)
                acc = reduce_sum(acc, P, Pinv);
            const double *cr = K->cross + j * k;
            for (size_t i = 0; i < k; i++)
                acc = _mm256_add_pd(acc, hers_fma_mulmod_lazy(y[i], _mm256_set1_pd(cr[i]), P, Pinv));
            hers_fma_store_u52(out + j * n + x, reduce_sum(acc, P, Pinv));
        }
    }
}

void hers_rns_convert_avx2(const hers_rns_conv *c, const struct conv_priv *cp, const uint64_t *in,
                           uint64_t *out, size_t n, uint64_t centered)
{
    const hers_rns_base *b = c->from;
    size_t k = b->k, kt = c->k_to;
    avx_consts K;
    for (size_t i = 0; i < k; i++) {
        K.qd[i] = (double)b->m[i].value;
        K.qinv[i] = 1.0 / K.qd[i];
        K.w[i] = (double)b->mhat_inv[i];
    }
    for (size_t j = 0; j < kt; j++) {
        K.pd[j] = (double)c->to[j].value;
        K.pinv[j] = 1.0 / K.pd[j];
        K.c0[j] = (double)cp->neg_m[j];
        for (size_t i = 0; i < k; i++)
            K.cross[j * k + i] = (double)c->mhat_mod[i * kt + j];
    }
    uint64_t cm = centered & 1;
    switch (k) {
    case 1: convert_k(c, &K, in, out, n, cm, 1); break;
    case 2: convert_k(c, &K, in, out, n, cm, 2); break;
    case 3: convert_k(c, &K, in, out, n, cm, 3); break;
    case 4: convert_k(c, &K, in, out, n, cm, 4); break;
    case 5: convert_k(c, &K, in, out, n, cm, 5); break;
    case 6: convert_k(c, &K, in, out, n, cm, 6); break;
    default: convert_k(c, &K, in, out, n, cm, 7); break;   /* avx2_ok: k <= 7 */
    }
}

static inline __attribute__((always_inline)) void
scale_k(const hers_rns_scaler *s, const avx_consts *K, const uint64_t *in, uint64_t *out, size_t n,
        const size_t kd)
{
    const hers_rns_base *b = s->in;
    size_t ko = s->k_out;
    int has_e = b->k > kd;
    for (size_t x = 0; x < n; x += 4) {
        __m256d z[7];
        /* g = 1/2 + sum z_i / d_i (terms < 1, error < kd 2^-52): floor(g)
         * is the rounding unless g is within 2^-40 of an integer; then the
         * fixed-point code of rns.c decides (identical results). */
        __m256d g = _mm256_set1_pd(0.5);
        for (size_t i = 0; i < kd; i++) {
            __m256d qinv = _mm256_set1_pd(K->qinv[i]);
            z[i] = mulmod(hers_fma_load_u52(in + i * n + x), _mm256_set1_pd(K->w[i]), _mm256_set1_pd(K->qd[i]), qinv);
            g = _mm256_fmadd_pd(z[i], qinv, g);
        }
        __m256d rd = _mm256_round_pd(g, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        if (near_integer(g))
            rd = exact_quot(z, kd, (const uint64_t(*)[2])b->inv_m, 1);
        for (size_t j = 0; j < ko; j++) {
            __m256d P = _mm256_set1_pd(K->pd[j]), Pinv = _mm256_set1_pd(K->pinv[j]);
            /* rnd <= kd <= 6 plus at most kd + 1 lazy terms (< 2^50 each):
             * below 2^53, reduced once */
            __m256d acc = rd;
            const double *cr = K->cross + j * kd;
            for (size_t i = 0; i < kd; i++)
                acc = _mm256_add_pd(acc, hers_fma_mulmod_lazy(z[i], _mm256_set1_pd(cr[i]), P, Pinv));
            if (has_e)
                acc = _mm256_add_pd(acc, hers_fma_mulmod_lazy(hers_fma_load_u52(in + (kd + j) * n + x),
                                                     _mm256_set1_pd(K->c0[j]), P, Pinv));
            hers_fma_store_u52(out + j * n + x, reduce_sum(acc, P, Pinv));
        }
    }
}

void hers_rns_scale_avx2(const hers_rns_scaler *s, const struct scaler_priv *sp, const uint64_t *in,
                         uint64_t *out, size_t n)
{
    const hers_rns_base *b = s->in;
    size_t kd = s->kd, ko = s->k_out;
    avx_consts K;
    for (size_t i = 0; i < kd; i++) {
        K.qd[i] = (double)b->m[i].value;
        K.qinv[i] = 1.0 / K.qd[i];
        K.w[i] = (double)sp->zc[i];
    }
    for (size_t j = 0; j < ko; j++) {
        K.pd[j] = (double)s->out[j].value;
        K.pinv[j] = 1.0 / K.pd[j];
        K.c0[j] = (double)s->self[j];
        for (size_t i = 0; i < kd; i++)
            K.cross[j * kd + i] = (double)sp->ndinv[i * ko + j];
    }
    switch (kd) {
    case 1: scale_k(s, &K, in, out, n, 1); break;
    case 2: scale_k(s, &K, in, out, n, 2); break;
    case 3: scale_k(s, &K, in, out, n, 3); break;
    case 4: scale_k(s, &K, in, out, n, 4); break;
    case 5: scale_k(s, &K, in, out, n, 5); break;
    default: scale_k(s, &K, in, out, n, 6); break;   /* avx2_ok: kd <= 6 */
    }
}

void hers_rns_lift_centred_avx2(const uint64_t *in, uint64_t *out, size_t n, uint64_t qi, uint64_t qj)
{
    /* c in [0, qi) -> centred value (c or c - qi) mod qj; needs qi/2 < 2 qj
     * (the magnitude needs at most one subtraction of qj) and qi, qj < 2^63
     * (signed 64-bit compares). Branch-free like the scalar code in mul.c. */
    const __m256i half = _mm256_set1_epi64x((long long)(qi >> 1));
    const __m256i Qi = _mm256_set1_epi64x((long long)qi), Qj = _mm256_set1_epi64x((long long)qj);
    const __m256i zero = _mm256_setzero_si256();
    for (size_t x = 0; x < n; x += 4) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(in + x));
        __m256i neg = _mm256_cmpgt_epi64(c, half);
        __m256i mag = _mm256_blendv_epi8(c, _mm256_sub_epi64(Qi, c), neg);
        __m256i r = _mm256_sub_epi64(mag, _mm256_andnot_si256(_mm256_cmpgt_epi64(Qj, mag), Qj));
        __m256i nr = _mm256_andnot_si256(_mm256_cmpeq_epi64(r, zero), _mm256_sub_epi64(Qj, r));
        _mm256_storeu_si256((__m256i *)(out + x), _mm256_blendv_epi8(r, nr, neg));
    }
}
