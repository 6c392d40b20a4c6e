/*
 * ntt_avx2.c - AVX2 + FMA negacyclic NTT for primes q < 2^50, in double
 * precision (4 lanes), bit-identical to ntt_portable.c.
 *
 * Why doubles: AVX2 has no 64x64-bit high multiply, so an integer Shoup
 * product needs about ten 32x32 multiplies per 4 lanes; an FMA-based exact
 * modular product needs six FP operations (four of them multiplies).
 *
 * Representation: during the transform each value is a signed integer held
 * exactly in a double (|v| < 2^53), congruent to the true value mod q; the
 * uint64 buffer is reused in place (loaded and stored only via intrinsics,
 * which may alias). Twiddles w are centred into (-q/2, q/2] with
 * wq = fl(w / q).
 *
 * Modular product of y (|y| <= B) by a twiddle w (mulmod below):
 *   quot = round(y * wq)            fma(y, wq, 1.5*2^52) - 1.5*2^52, exact
 *                                   rounding for |y*wq| < 2^51
 *   h + l = y * w exactly           h = fl(y*w), l = fma(y, w, -h)
 *   r = (h - quot*q) + l            fma is exact: the true value is an
 *                                   integer of magnitude < 2^51
 *   |quot - y*w/q| <= 1/2 + |y*w/q| * 2^-53, so |r| <= q (1/2 + B * 2^-54),
 *   which is <= 0.75 q whenever B <= 4q < 2^52.
 * Reduction of a value v: r = v - round(v / q) * q, |r| <= q/2 (1 + 2^-50).
 *
 * Forward (Cooley-Tukey, same twiddles and order as ntt_portable.c:
 * standard in, bit-reversed out). X + T, X - T grow the bound by at most
 * 0.75 q per stage, so X is reduced in every 4th stage, counted back from
 * the last (stage s reduces iff (log n - 1 - s) % 4 == 0): starting from
 * [0, q), at most three stages precede a reducing one, bounds run q, 1.75q,
 * 2.5q, 3.25q, then <= 1.25q after a reducing stage, never above 4q (so
 * B < 2^52 holds), and the last stage ends with |v| <= 1.25q, which the
 * fused final reduction (final_u64) needs.
 * Stages with gap >= 8 are radix-2 passes over memory; the last three
 * stages (gaps 4, 2 and 1) run in registers on 8 values, followed by the
 * reduction into [0, q).
 *
 * Inverse (Gentleman-Sande, bit-reversed in, standard out): the sum X + Y
 * doubles the bound, so it is reduced at odd stages: bounds stay <= 2q on
 * entry of the product (|X - Y| <= 4q). The first three stages (gaps 1, 2,
 * 4) run in registers; the last stage is fused with n^-1 (both outputs pass
 * through mulmod) and the final reduction into [0, q).
 *
 * All operations are data-independent (no branches on values).
 */
#include <immintrin.h>

#include "arithmetic/arith_internal.h"
#include "arithmetic/fma_avx2.h"


typedef struct consts {
    __m256d q, qinv, magic, two52, zero, half; /* half = (q - 1) / 2 */
    __m256i two52_bits;
} consts;

static inline consts make_consts(uint64_t q)
{
    consts c;
    c.q = _mm256_set1_pd((double)q);
    c.qinv = _mm256_set1_pd(1.0 / (double)q);
    c.magic = _mm256_set1_pd(HERS_FMA_MAGIC_ROUND);
    c.two52 = _mm256_set1_pd(HERS_FMA_TWO52);
    c.zero = _mm256_setzero_pd();
    c.half = _mm256_set1_pd((double)((q - 1) / 2));
    c.two52_bits = _mm256_set1_epi64x(HERS_FMA_TWO52_BITS);
    return c;
}

/* uint64 in [0, 2^52) -> double, exactly. */
static inline __m256d load_u64(const uint64_t *p, const consts *c)
{
    __m256i x = _mm256_loadu_si256((const __m256i *)p);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(x, c->two52_bits)), c->two52);
}

static inline __m256d load_d(const uint64_t *p)
{
    return _mm256_loadu_pd((const double *)(const void *)p);
}

static inline void store_d(uint64_t *p, __m256d v)
{
    _mm256_storeu_pd((double *)(void *)p, v);
}

/* y * w mod q, result |r| <= 0.75 q (see the header comment). */
static inline __m256d mulmod(__m256d y, __m256d w, __m256d wq, const consts *c)
{
    __m256d quot = _mm256_sub_pd(_mm256_fmadd_pd(y, wq, c->magic), c->magic);
    __m256d h = _mm256_mul_pd(y, w);
    __m256d l = _mm256_fmsub_pd(y, w, h);
    return _mm256_add_pd(_mm256_fnmadd_pd(quot, c->q, h), l);
}

/* v mod q, |r| <= q/2 (1 + 2^-50). */
static inline __m256d reduce(__m256d v, const consts *c)
{
    __m256d quot = _mm256_sub_pd(_mm256_fmadd_pd(v, c->qinv, c->magic), c->magic);
    return _mm256_fnmadd_pd(quot, c->q, v);
}

/* Final reduction of the forward transform, fused with the conversion:
 * vh = v - (q-1)/2 and v52 = v + 2^52 for an integer v with |v| < 3q.
 * Writing v = k q + r with r in [0, q), vh / q = k + (r - (q-1)/2) / q whose
 * fractional part lies in [-1/2 + 1/(2q), 1/2 - 1/(2q)] (q is odd), and
 * vh * qinv is within |vh / q| 2^-53 < 1/(2q) of vh / q (qinv = fl(1/q) has
 * relative error <= 2^-53, and |vh| < 2q here, far below the 2^52 this
 * needs), so rounding gives k exactly. The result v52 - k q = r + 2^52 is
 * exact (< 2^53). Returns the double r + 2^52, whose bit pattern is r with
 * the exponent field of 2^52. */
static inline __m256d final_u64(__m256d vh, __m256d v52, const consts *c)
{
    __m256d quot = _mm256_sub_pd(_mm256_fmadd_pd(vh, c->qinv, c->magic), c->magic);
    return _mm256_fnmadd_pd(quot, c->q, v52);
}

/* v in (-q, q) (a mulmod result) -> r + 2^52 with r = v mod q in [0, q). */
static inline __m256d small_u64(__m256d v, const consts *c)
{
    __m256d neg = _mm256_and_pd(_mm256_cmp_pd(v, c->zero, _CMP_LT_OQ), c->q);
    return _mm256_add_pd(_mm256_add_pd(v, c->two52), neg);
}

/* Stores doubles in [2^52, 2^53) as the uint64 of their mantissa. */
static inline void store_biased(uint64_t *p, __m256d v, const consts *c)
{
    __m256i x = _mm256_castpd_si256(v);
    _mm256_storeu_si256((__m256i *)p, _mm256_xor_si256(x, c->two52_bits));
}

/* One forward stage with gap >= 4. conv: input is uint64 (first stage). */
static inline __attribute__((always_inline)) void
fwd_stage(uint64_t *a, size_t m, size_t gap, const double *w, const double *wq, const consts *c,
          const int conv, const int red)
{
    for (size_t i = 0; i < m; i++) {
        const __m256d W = _mm256_broadcast_sd(w + m + i), Wq = _mm256_broadcast_sd(wq + m + i);
        uint64_t *x = a + 2 * i * gap, *y = x + gap;
        for (size_t j = 0; j < gap; j += 4) {
            __m256d X = conv ? load_u64(x + j, c) : load_d(x + j);
            __m256d Y = conv ? load_u64(y + j, c) : load_d(y + j);
            if (red)
                X = reduce(X, c);
            __m256d T = mulmod(Y, W, Wq, c);
            store_d(x + j, _mm256_add_pd(X, T));
            store_d(y + j, _mm256_sub_pd(X, T));
        }
    }
}

/* Forward stages gap 4 and gap 2 on the 8 values at p (chunk k, which is
 * block k of the gap-4 stage, m = n/8; that stage never reduces X, its index
 * is last - 2): B0 = b0 b1 b4 b5, B1 = b2 b3 b6 b7. */
static inline void fwd_gap42(const uint64_t *p, size_t k, size_t n, const hers_ntt_simd *s,
                             const consts *c, __m256d *B0, __m256d *B1)
{
    __m256d v0 = load_d(p), v1 = load_d(p + 4);
    __m256d T4 = mulmod(v1, _mm256_broadcast_sd(s->fw + n / 8 + k),
                        _mm256_broadcast_sd(s->fwq + n / 8 + k), c);
    v1 = _mm256_sub_pd(v0, T4);
    v0 = _mm256_add_pd(v0, T4);
    __m256d X = _mm256_permute2f128_pd(v0, v1, 0x20); /* a0 a1 a4 a5 */
    __m256d Y = _mm256_permute2f128_pd(v0, v1, 0x31); /* a2 a3 a6 a7 */
    __m256d T = mulmod(Y, _mm256_loadu_pd(s->fw2 + 4 * k), _mm256_loadu_pd(s->fwq2 + 4 * k), c);
    *B0 = _mm256_add_pd(X, T);
    *B1 = _mm256_sub_pd(X, T);
}

/* Last three forward stages (gaps 4, 2, 1) and the final reduction, software
 * pipelined (the gap-4/2 stages of chunk k+1 are issued before the gap-1
 * stage of chunk k: measured ~15% faster, the chain of one chunk is long). */
static inline void fwd_last3(uint64_t *a, size_t n, const hers_ntt_simd *s, const consts *c)
{
    const double *w1 = s->fw + n / 2, *wq1 = s->fwq + n / 2;
    const size_t chunks = n / 8;
    __m256d B0, B1;
    fwd_gap42(a, 0, n, s, c, &B0, &B1);
    for (size_t k = 0; k < chunks; k++) {
        uint64_t *p = a + 8 * k;
        __m256d N0 = B0, N1 = B1;
        if (k + 1 < chunks)
            fwd_gap42(p + 8, k + 1, n, s, c, &N0, &N1);
        __m256d X = _mm256_unpacklo_pd(B0, B1); /* b0 b2 b4 b6 */
        __m256d Y = _mm256_unpackhi_pd(B0, B1); /* b1 b3 b5 b7 */
        X = reduce(X, c); /* the last stage always reduces X: |X +- T| <= 1.25q */
        __m256d T = mulmod(Y, _mm256_loadu_pd(w1 + 4 * k), _mm256_loadu_pd(wq1 + 4 * k), c);
        /* outputs X +- T reduced into [0, q) and biased by 2^52 in one go:
         * floor((X +- T) / q) = round((X - (q-1)/2 +- T) / q) (see
         * final_u64), remainder taken from X + 2^52 +- T */
        __m256d Xh = _mm256_sub_pd(X, c->half), X52 = _mm256_add_pd(X, c->two52);
        __m256d E = final_u64(_mm256_add_pd(Xh, T), _mm256_add_pd(X52, T), c); /* c0 c2 c4 c6 */
        __m256d O = final_u64(_mm256_sub_pd(Xh, T), _mm256_sub_pd(X52, T), c); /* c1 c3 c5 c7 */
        __m256d lo = _mm256_unpacklo_pd(E, O);         /* c0 c1 c4 c5 */
        __m256d hi = _mm256_unpackhi_pd(E, O);         /* c2 c3 c6 c7 */
        store_biased(p, _mm256_permute2f128_pd(lo, hi, 0x20), c);
        store_biased(p + 4, _mm256_permute2f128_pd(lo, hi, 0x31), c);
        B0 = N0;
        B1 = N1;
    }
}

void hers_ntt_forward_avx2(const hers_ntt_table *t, uint64_t *a)
{
    const hers_ntt_simd *s = (const hers_ntt_simd *)t->simd;
    const size_t n = t->n;
    const consts c = make_consts(t->q.value);
    const double *w = s->fw, *wq = s->fwq;
    const int last = t->log_n - 1;
    /* stages 0 .. log n - 4 have gap >= 8; stage st reduces X iff
     * (last - st) % 4 == 0. (Radix-4 passes were measured: no faster here.) */
    int st = 0;
    size_t m = 1, gap = n / 2;
    for (; gap >= 8; m <<= 1, gap >>= 1, st++) {
        const int r = ((last - st) & 3) == 0;
        if (st == 0)
            fwd_stage(a, m, gap, w, wq, &c, 1, r);
        else if (r)
            fwd_stage(a, m, gap, w, wq, &c, 0, 1);
        else
            fwd_stage(a, m, gap, w, wq, &c, 0, 0);
    }
    /* st = last - 2: no reduction there nor at last - 1; the last stage
     * always reduces X */
    fwd_last3(a, n, s, &c);
}

/* Inverse stage gap 1 on the 8 uint64 values at p (chunk k), with the
 * shuffles into the gap-2 layout: X = b0 b1 b4 b5, Y = b2 b3 b6 b7. */
static inline void inv_gap1(const uint64_t *p, size_t k, const hers_ntt_simd *s,
                            const consts *c, __m256d *X, __m256d *Y)
{
    /* twiddle lanes = blocks 4k + {0, 2, 1, 3} */
    __m256d v0 = load_u64(p, c), v1 = load_u64(p + 4, c);
    __m256d A = _mm256_unpacklo_pd(v0, v1); /* a0 a4 a2 a6 */
    __m256d B = _mm256_unpackhi_pd(v0, v1); /* a1 a5 a3 a7 */
    /* stage 0: no reduction of the sum */
    __m256d S = _mm256_add_pd(A, B); /* b0 b4 b2 b6 */
    __m256d D = mulmod(_mm256_sub_pd(A, B), _mm256_loadu_pd(s->iw1p + 4 * k),
                       _mm256_loadu_pd(s->iwq1p + 4 * k), c); /* b1 b5 b3 b7 */
    __m256d lo = _mm256_unpacklo_pd(S, D); /* b0 b1 b2 b3 */
    __m256d hi = _mm256_unpackhi_pd(S, D); /* b4 b5 b6 b7 */
    *X = _mm256_permute2f128_pd(lo, hi, 0x20); /* b0 b1 b4 b5 */
    *Y = _mm256_permute2f128_pd(lo, hi, 0x31); /* b2 b3 b6 b7 */
}

/* First three inverse stages (gaps 1, 2 and 4) from uint64 input, software
 * pipelined like fwd_last3. */
static inline void inv_first3(const uint64_t *src, uint64_t *a, size_t n, const hers_ntt_simd *s,
                              const consts *c)
{
    /* reads src, writes a (src == a allowed: chunk k+1 is read before chunk
     * k is written, and chunks are disjoint) */
    const double *w2 = s->iw2, *wq2 = s->iwq2; /* lanes = blocks 2k, 2k, 2k+1, 2k+1 */
    const double *w4 = s->iw + 3 * n / 4, *wq4 = s->iwq + 3 * n / 4; /* stage m = n/8 */
    const size_t chunks = n / 8;
    __m256d X, Y;
    inv_gap1(src, 0, s, c, &X, &Y);
    for (size_t k = 0; k < chunks; k++) {
        uint64_t *p = a + 8 * k;
        __m256d NX = X, NY = Y;
        if (k + 1 < chunks)
            inv_gap1(src + 8 * (k + 1), k + 1, s, c, &NX, &NY);
        /* stage 1: odd, the sum is reduced */
        __m256d S = reduce(_mm256_add_pd(X, Y), c); /* c0 c1 c4 c5 */
        __m256d D = mulmod(_mm256_sub_pd(X, Y), _mm256_loadu_pd(w2 + 4 * k),
                           _mm256_loadu_pd(wq2 + 4 * k), c); /* c2 c3 c6 c7 */
        /* stage 2 (gap 4, m = n/8, block k): even, no reduction */
        X = _mm256_permute2f128_pd(S, D, 0x20); /* c0 c1 c2 c3 */
        Y = _mm256_permute2f128_pd(S, D, 0x31); /* c4 c5 c6 c7 */
        store_d(p, _mm256_add_pd(X, Y));
        store_d(p + 4, mulmod(_mm256_sub_pd(X, Y), _mm256_broadcast_sd(w4 + k),
                              _mm256_broadcast_sd(wq4 + k), c));
        X = NX;
        Y = NY;
    }
}

static inline __attribute__((always_inline)) void
inv_stage(uint64_t *a, size_t m, size_t gap, const double *w, const double *wq, const consts *c,
          const int red)
{
    for (size_t i = 0; i < m; i++) {
        const __m256d W = _mm256_broadcast_sd(w + i), Wq = _mm256_broadcast_sd(wq + i);
        uint64_t *x = a + 2 * i * gap, *y = x + gap;
        for (size_t j = 0; j < gap; j += 4) {
            __m256d X = load_d(x + j), Y = load_d(y + j);
            __m256d S = _mm256_add_pd(X, Y);
            if (red)
                S = reduce(S, c);
            store_d(x + j, S);
            store_d(y + j, mulmod(_mm256_sub_pd(X, Y), W, Wq, c));
        }
    }
}

void hers_ntt_inverse_avx2(const hers_ntt_table *t, uint64_t *a)
{
    hers_ntt_inverse_to_avx2(t, a, a);
}

void hers_ntt_inverse_to_avx2(const hers_ntt_table *t, const uint64_t *src, uint64_t *a)
{
    const hers_ntt_simd *s = (const hers_ntt_simd *)t->simd;
    const size_t n = t->n;
    const consts c = make_consts(t->q.value);
    inv_first3(src, a, n, s, &c);
    int stage = 3;
    size_t gap = 8;
    for (size_t m = n / 16; m > 1; m >>= 1, gap <<= 1, stage++) {
        const size_t off = n - 2 * m; /* use-order offset of this stage's twiddles */
        if (stage & 1)
            inv_stage(a, m, gap, s->iw + off, s->iwq + off, &c, 1);
        else
            inv_stage(a, m, gap, s->iw + off, s->iwq + off, &c, 0);
    }
    /* last stage, fused with n^-1: twiddles iw[n-1] = psi^-brv(1) n^-1 */
    const __m256d Ni = _mm256_set1_pd(s->n_inv_c), Niq = _mm256_set1_pd(s->n_inv_cq);
    const __m256d W = _mm256_set1_pd(s->iw[n - 1]), Wq = _mm256_set1_pd(s->iwq[n - 1]);
    uint64_t *x = a, *y = a + gap;
    for (size_t j = 0; j < gap; j += 4) {
        __m256d X = load_d(x + j), Y = load_d(y + j);
        __m256d S = mulmod(_mm256_add_pd(X, Y), Ni, Niq, &c);
        __m256d D = mulmod(_mm256_sub_pd(X, Y), W, Wq, &c);
        store_biased(x + j, small_u64(S, &c), &c);
        store_biased(y + j, small_u64(D, &c), &c);
    }
}
