/*
 * ntt_ifma_kernel.h - AVX-512 IFMA (52-bit multiply-add) kernels for primes
 * q < 2^50: negacyclic NTT / inverse NTT and coefficient-wise operations,
 * 8 lanes of uint64, bit-identical to ntt_portable.c and poly.c.
 *
 * This file is included twice: by ntt_avx512.c with <immintrin.h> and
 * HERS_IFMA_FN(x) = x##_avx512 (the library kernels), and by
 * tests/test_ntt_ifma_emul.c with tests/support/avx512_emul.h (a scalar
 * model of the intrinsics) so the lane arithmetic and shuffles are checked
 * on machines without AVX-512. Keep the intrinsic set small; it is exactly:
 *   _mm512_loadu_si512 _mm512_storeu_si512 _mm512_set1_epi64
 *   _mm512_setzero_si512 _mm512_add_epi64 _mm512_sub_epi64 _mm512_and_si512
 *   _mm512_or_si512 _mm512_min_epu64 _mm512_sllv_epi64 _mm512_srlv_epi64
 *   _mm512_madd52lo_epu64 _mm512_madd52hi_epu64 _mm512_permutex2var_epi64
 *   _mm512_unpacklo_epi64 _mm512_unpackhi_epi64 _mm512_shuffle_i64x2
 *   _mm512_stream_si512 _mm_sfence
 *
 * Shoup product with 52-bit quotients (q < 2^50, 0 <= y < 2^52, w < q,
 * w52 = floor(w 2^52 / q)):
 *   Qh = floor(y w52 / 2^52)                       madd52hi
 *   r  = (lo52(y w) + lo52(Qh (2^52 - q))) mod 2^52  madd52lo x2, and
 * y w / q - Qh in [0, 2), so y w - Qh q = r is in [0, 2q) < 2^52 and the
 * sum mod 2^52 recovers it exactly.
 *
 * Ranges follow Harvey: forward butterflies take [0, 4q) to [0, 4q) (X is
 * first reduced into [0, 2q) with min(X, X - 2q), unsigned), inverse
 * butterflies keep [0, 2q); 4q < 2^52 keeps every multiplicand inside the
 * 52-bit multiplier. Outputs are fully reduced into [0, q). Forward output
 * order is bit-reversed, as in ntt_portable.c.
 *
 * Stages with gap >= 16 work on whole vectors (radix-4 passes, two stages
 * per pass over the array); the gaps 8, 4, 2, 1 run in one pass, in
 * registers, on groups of 16 values (8 groups interleaved), moving lanes
 * with unpacklo/hi and shuffle_i64x2 (lane layouts in the comments).
 *
 * Pointwise products a b (a, b < q < 2^50, L = bit length of q): Barrett
 * with z = floor(a b / 2^(L-2)) < 2^52 and mu = floor(2^(L+50) / q) < 2^52:
 * Qb = floor(z mu / 2^52) satisfies a b / q - 2.5 < Qb <= a b / q, so the
 * remainder is in [0, 2.5q) and two conditional subtractions finish.
 */
#ifndef HERS_IFMA_FN
#error "define HERS_IFMA_FN before including ntt_ifma_kernel.h"
#endif

#include "arithmetic/arith_internal.h"

void HERS_IFMA_FN(hers_ntt_forward)(const hers_ntt_table *t, uint64_t *a);
void HERS_IFMA_FN(hers_ntt_inverse)(const hers_ntt_table *t, uint64_t *a);
void HERS_IFMA_FN(hers_ntt_inverse_to)(const hers_ntt_table *t, const uint64_t *src, uint64_t *a);
void HERS_IFMA_FN(hers_poly_add)(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                                 uint64_t q);
void HERS_IFMA_FN(hers_poly_sub)(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                                 uint64_t q);
void HERS_IFMA_FN(hers_poly_neg)(uint64_t *out, const uint64_t *a, size_t n, uint64_t q);
void HERS_IFMA_FN(hers_poly_mul)(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                                 const hers_modulus *m);
void HERS_IFMA_FN(hers_poly_mul_acc)(uint64_t *acc, const uint64_t *a, const uint64_t *b,
                                     size_t n, const hers_modulus *m);
void HERS_IFMA_FN(hers_poly_mul_scalar)(uint64_t *out, const uint64_t *a, uint64_t s, size_t n,
                                        const hers_modulus *m);
void HERS_IFMA_FN(hers_poly_split)(uint64_t *c, uint64_t *r, const uint64_t *t, const uint64_t *mono,
                                   size_t n, const hers_modulus *m);
void HERS_IFMA_FN(hers_poly_balance)(uint64_t *x, size_t n, uint64_t q, uint64_t H);
void HERS_IFMA_FN(hers_poly_permute8)(uint64_t *out, const uint64_t *in, const uint32_t *dst,
                                      const uint8_t *sel, const int64_t *pats, size_t nv);
void HERS_IFMA_FN(hers_poly_digit)(uint64_t *out, const uint64_t *y, unsigned sh, uint64_t mask,
                                   uint64_t c, uint64_t q, size_t n);
void HERS_IFMA_FN(hers_poly_round_bits_q)(uint64_t *y, const uint64_t *x, size_t n, uint64_t q,
                                          unsigned K, unsigned keep);
void HERS_IFMA_FN(hers_poly_dot)(uint64_t *out, const uint64_t *add, const uint64_t *a, size_t as,
                                 const uint64_t *b, size_t bs, size_t terms, size_t n,
                                 const hers_modulus *m);
void HERS_IFMA_FN(hers_poly_dot2)(uint64_t *out0, const uint64_t *add0, uint64_t *out1, const uint64_t *add1,
                                  const uint64_t *a, size_t as, const uint64_t *b,
                                  const uint64_t *c, size_t bs, size_t terms, size_t n,
                                  const hers_modulus *m);
void HERS_IFMA_FN(hers_poly_switch_split)(uint64_t *c0, uint64_t *c1, uint64_t *r0, uint64_t *r1,
                                          const uint64_t *t0, const uint64_t *dg, size_t ds,
                                          const uint64_t *kb, const uint64_t *ka, size_t ks,
                                          size_t terms, const uint64_t *mono, unsigned msh,
                                          size_t n, const hers_modulus *m);

#define IFMA_MASK52 ((UINT64_C(1) << 52) - 1)

static inline __m512i ifma_load(const uint64_t *p)
{
    return _mm512_loadu_si512((const void *)p);
}

static inline void ifma_store(uint64_t *p, __m512i v)
{
    _mm512_storeu_si512((void *)p, v);
}

static inline __m512i ifma_idx(const int64_t *idx)
{
    return _mm512_loadu_si512((const void *)idx);
}

/* y * w mod q in [0, 2q): y < 2^52, w < q < 2^50, ws = floor(w 2^52 / q);
 * negq = 2^52 - q, mask = 2^52 - 1. */
static inline __m512i ifma_mulshoup(__m512i y, __m512i w, __m512i ws, __m512i negq, __m512i mask)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i qh = _mm512_madd52hi_epu64(zero, y, ws);
    __m512i r = _mm512_madd52lo_epu64(_mm512_madd52lo_epu64(zero, y, w), qh, negq);
    return _mm512_and_si512(r, mask);
}

/* x in [0, 2r) -> [0, r) (unsigned: x - r wraps above x when x < r). */
static inline __m512i ifma_sub_if_ge(__m512i x, __m512i r)
{
    return _mm512_min_epu64(x, _mm512_sub_epi64(x, r));
}

/* Forward butterfly on whole vectors: X in [0, 4q) is reduced into [0, 2q),
 * T = W Y in [0, 2q); *x = X + T, *y = X - T + 2q, both in [0, 4q). */
static inline void ifma_fwd_bf(__m512i *x, __m512i *y, __m512i W, __m512i Ws, __m512i Q2,
                               __m512i negq, __m512i mask)
{
    __m512i X = ifma_sub_if_ge(*x, Q2);
    __m512i T = ifma_mulshoup(*y, W, Ws, negq, mask);
    *x = _mm512_add_epi64(X, T);
    *y = _mm512_add_epi64(_mm512_sub_epi64(X, T), Q2);
}

/* ifma_fwd_bf for outputs that the next stage only multiplies (its Y
 * operands): T is left unmasked, lo52(y w) + lo52(Qh (2^52 - q)) = T + c 2^52
 * with c in {0, 1}, so *x and *y are X + T and X - T + 2q plus a multiple of
 * 2^52 (mod 2^64), and the multiplier reads only their low 52 bits, which
 * are exact (both values are below 4q < 2^52). */
static inline void ifma_fwd_bf_ymul(__m512i *x, __m512i *y, __m512i W, __m512i Ws, __m512i Q2,
                                    __m512i negq)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i X = ifma_sub_if_ge(*x, Q2);
    __m512i qh = _mm512_madd52hi_epu64(zero, *y, Ws);
    __m512i T = _mm512_madd52lo_epu64(_mm512_madd52lo_epu64(zero, *y, W), qh, negq);
    *x = _mm512_add_epi64(X, T);
    *y = _mm512_add_epi64(_mm512_sub_epi64(X, T), Q2);
}

/* Inverse butterfly: X, Y in [0, 2q); *x = X + Y reduced into [0, 2q),
 * *y = W (X - Y + 2q) in [0, 2q). */
static inline void ifma_inv_bf(__m512i *x, __m512i *y, __m512i W, __m512i Ws, __m512i Q2,
                               __m512i negq, __m512i mask)
{
    __m512i X = *x, Y = *y;
    *x = ifma_sub_if_ge(_mm512_add_epi64(X, Y), Q2);
    *y = ifma_mulshoup(_mm512_add_epi64(_mm512_sub_epi64(X, Y), Q2), W, Ws, negq, mask);
}

/* The forward transform's last pass: stages gap 8 (m = n/16), 4, 2, 1 on
 * U groups of 16 values p[0..15] (group k = k0 + u), in registers, the U
 * groups' operations interleaved. Lane layouts (value indices, 128-bit
 * units in brackets) use the in-lane unpack and the 128-bit shuffle where
 * they can, which are cheaper than a two-source permute:
 *   gap 8: X = 0-7, Y = 8-15
 *   gap 4: X = [0 1][2 3][8 9][10 11], Y = [4 5][6 7][12 13][14 15]   shuffle_i64x2
 *   gap 2: X = [0 1][8 9][4 5][12 13], Y = [2 3][10 11][6 7][14 15]   shuffle_i64x2
 *   gap 1: X = 0 2 8 10 4 6 12 14, Y = 1 3 9 11 5 7 13 15            unpacklo/hi
 * and two permutes put the outputs back in order. */
/* Groups of 16 values (and radix-4 units) in flight per loop iteration:
 * each group's chain of dependent stages is long (about 15 cycles a stage)
 * and the scheduler holds only a window of the instruction stream, so the
 * interleaved chains are what fills the two IFMA and four vector ALU
 * pipes. Measured at n = 4096 (Zen 5): 8 groups beat 4 by ~12% and 2 by
 * ~20%; 16 spill registers and lose ~12%. */
#define IFMA_GROUPS 8

struct ifma_fwd_tail {
    __m512i Q, Q2, negq, mask, i_out0, i_out1;
    const uint64_t *w8, *ws8, *f4w, *f4s, *f2w, *f2s, *f1w, *f1s;
};

/* Lane permutations on pairs of vectors (indices 0..7 = first, 8..15 = second). */
static const int64_t ifma_fout0[8] = {0, 8, 1, 9, 4, 12, 5, 13};
static const int64_t ifma_fout1[8] = {2, 10, 3, 11, 6, 14, 7, 15};
static const int64_t ifma_iin0[8] = {0, 2, 8, 10, 4, 6, 12, 14};
static const int64_t ifma_iin1[8] = {1, 3, 9, 11, 5, 7, 13, 15};

static inline __attribute__((always_inline)) void
ifma_fwd_tail_run(const struct ifma_fwd_tail *c, uint64_t *a, size_t k0, int U)
{
    __m512i v0[IFMA_GROUPS], v1[IFMA_GROUPS], X[IFMA_GROUPS], Y[IFMA_GROUPS];
    for (int u = 0; u < U; u++) {
        v0[u] = ifma_load(a + 16 * (k0 + (size_t)u));
        v1[u] = ifma_load(a + 16 * (k0 + (size_t)u) + 8);
    }
    /* gap 8: block k (one twiddle) */
    for (int u = 0; u < U; u++)
        ifma_fwd_bf(&v0[u], &v1[u], _mm512_set1_epi64((long long)c->w8[k0 + (size_t)u]),
                    _mm512_set1_epi64((long long)c->ws8[k0 + (size_t)u]), c->Q2, c->negq,
                    c->mask);
    /* gap 4: blocks 2k (lanes 0-3), 2k+1 (lanes 4-7) */
    for (int u = 0; u < U; u++) {
        const size_t k = k0 + (size_t)u;
        X[u] = _mm512_shuffle_i64x2(v0[u], v1[u], 0x44);
        Y[u] = _mm512_shuffle_i64x2(v0[u], v1[u], 0xee);
        ifma_fwd_bf(&X[u], &Y[u], ifma_load(c->f4w + 8 * k), ifma_load(c->f4s + 8 * k), c->Q2,
                    c->negq, c->mask);
    }
    /* gap 2: blocks 4k + (0, 0, 2, 2, 1, 1, 3, 3) */
    for (int u = 0; u < U; u++) {
        const size_t k = k0 + (size_t)u;
        v0[u] = _mm512_shuffle_i64x2(X[u], Y[u], 0x88);
        v1[u] = _mm512_shuffle_i64x2(X[u], Y[u], 0xdd);
        ifma_fwd_bf(&v0[u], &v1[u], ifma_load(c->f2w + 8 * k), ifma_load(c->f2s + 8 * k), c->Q2,
                    c->negq, c->mask);
    }
    /* gap 1: blocks 8k + (0, 1, 4, 5, 2, 3, 6, 7) */
    for (int u = 0; u < U; u++) {
        const size_t k = k0 + (size_t)u;
        X[u] = _mm512_unpacklo_epi64(v0[u], v1[u]);
        Y[u] = _mm512_unpackhi_epi64(v0[u], v1[u]);
        ifma_fwd_bf(&X[u], &Y[u], ifma_load(c->f1w + 8 * k), ifma_load(c->f1s + 8 * k), c->Q2,
                    c->negq, c->mask);
    }
    for (int u = 0; u < U; u++) {
        uint64_t *p = a + 16 * (k0 + (size_t)u);
        __m512i E = ifma_sub_if_ge(ifma_sub_if_ge(X[u], c->Q2), c->Q);
        __m512i O = ifma_sub_if_ge(ifma_sub_if_ge(Y[u], c->Q2), c->Q);
        ifma_store(p, _mm512_permutex2var_epi64(E, c->i_out0, O));
        ifma_store(p + 8, _mm512_permutex2var_epi64(E, c->i_out1, O));
    }
}

void HERS_IFMA_FN(hers_ntt_forward)(const hers_ntt_table *t, uint64_t *a)
{
    const hers_ntt_simd *s = (const hers_ntt_simd *)t->simd;
    const size_t n = t->n;
    const uint64_t q = t->q.value;
    const uint64_t *roots = t->roots, *roots52 = s->roots_shoup52;
    const __m512i Q2 = _mm512_set1_epi64((long long)(2 * q));
    const __m512i negq = _mm512_set1_epi64((long long)((UINT64_C(1) << 52) - q));
    const __m512i mask = _mm512_set1_epi64((long long)IFMA_MASK52);
    size_t m = 1, gap = n / 2;
    /* two stages per pass, (m, gap) then (2m, gap/2), while gap/2 >= 16:
     * the very butterflies of the one-stage loop below, in another order,
     * with four vectors in registers (half the loads and stores) */
    for (; gap >= 32; m <<= 2, gap >>= 2) {
        const size_t h = gap / 2;
        for (size_t i = 0; i < m; i++) {
            const __m512i W = _mm512_set1_epi64((long long)roots[m + i]);
            const __m512i Ws = _mm512_set1_epi64((long long)roots52[m + i]);
            const __m512i Wa = _mm512_set1_epi64((long long)roots[2 * m + 2 * i]);
            const __m512i Was = _mm512_set1_epi64((long long)roots52[2 * m + 2 * i]);
            const __m512i Wb = _mm512_set1_epi64((long long)roots[2 * m + 2 * i + 1]);
            const __m512i Wbs = _mm512_set1_epi64((long long)roots52[2 * m + 2 * i + 1]);
            uint64_t *x0 = a + 2 * i * gap, *x1 = x0 + h, *x2 = x0 + gap, *x3 = x2 + h;
            /* h >= 16: two vectors per half block in flight */
            for (size_t j = 0; j < h; j += 16) {
                __m512i A[2], B[2], C[2], D[2];
                for (int v = 0; v < 2; v++) {
                    A[v] = ifma_load(x0 + j + 8 * v);
                    B[v] = ifma_load(x1 + j + 8 * v);
                    C[v] = ifma_load(x2 + j + 8 * v);
                    D[v] = ifma_load(x3 + j + 8 * v);
                }
                for (int v = 0; v < 2; v++) {
                    ifma_fwd_bf(&A[v], &C[v], W, Ws, Q2, negq, mask);
                    ifma_fwd_bf_ymul(&B[v], &D[v], W, Ws, Q2, negq); /* Y of the next stage */
                }
                for (int v = 0; v < 2; v++) {
                    ifma_fwd_bf(&A[v], &B[v], Wa, Was, Q2, negq, mask);
                    ifma_fwd_bf(&C[v], &D[v], Wb, Wbs, Q2, negq, mask);
                }
                for (int v = 0; v < 2; v++) {
                    ifma_store(x0 + j + 8 * v, A[v]);
                    ifma_store(x1 + j + 8 * v, B[v]);
                    ifma_store(x2 + j + 8 * v, C[v]);
                    ifma_store(x3 + j + 8 * v, D[v]);
                }
            }
        }
    }
    for (; gap >= 16; m <<= 1, gap >>= 1) {
        for (size_t i = 0; i < m; i++) {
            const __m512i W = _mm512_set1_epi64((long long)roots[m + i]);
            const __m512i Ws = _mm512_set1_epi64((long long)roots52[m + i]);
            uint64_t *x = a + 2 * i * gap, *y = x + gap;
            for (size_t j = 0; j < gap; j += 8) {
                __m512i X = ifma_load(x + j), Y = ifma_load(y + j);
                ifma_fwd_bf(&X, &Y, W, Ws, Q2, negq, mask);
                ifma_store(x + j, X);
                ifma_store(y + j, Y);
            }
        }
    }
    /* gaps 8, 4, 2, 1 on 16 values: stages m = n/16, n/8, n/4, n/2 */
    struct ifma_fwd_tail c;
    c.Q = _mm512_set1_epi64((long long)q);
    c.Q2 = Q2;
    c.negq = negq;
    c.mask = mask;
    c.i_out0 = ifma_idx(ifma_fout0);
    c.i_out1 = ifma_idx(ifma_fout1);
    c.w8 = roots + n / 16;
    c.ws8 = roots52 + n / 16;
    c.f4w = s->f4w;
    c.f4s = s->f4s;
    c.f2w = s->f2w;
    c.f2s = s->f2s;
    c.f1w = s->f1w;
    c.f1s = s->f1s;
    size_t k = 0;
    for (; k + IFMA_GROUPS <= n / 16; k += IFMA_GROUPS)
        ifma_fwd_tail_run(&c, a, k, IFMA_GROUPS);
    for (; k < n / 16; k++)
        ifma_fwd_tail_run(&c, a, k, 1);
}

void HERS_IFMA_FN(hers_ntt_inverse)(const hers_ntt_table *t, uint64_t *a)
{
    HERS_IFMA_FN(hers_ntt_inverse_to)(t, a, a);
}

/* The inverse transform's first pass: stages gap 1, 2, 4 (m = n/2, n/4,
 * n/8) and, when g8, gap 8 (m = n/16) on U groups of 16 values, reading src
 * and writing a (groups k0 .. k0 + U - 1), operations interleaved. Lane
 * layouts (128-bit units in brackets), the forward tail's in reverse:
 *   gap 1: X = 0 2 8 10 4 6 12 14, Y = 1 3 9 11 5 7 13 15            two permutes
 *   gap 2: X = [0 1][8 9][4 5][12 13], Y = [2 3][10 11][6 7][14 15]   unpacklo/hi
 *   gap 4: X = [0 1][8 9][2 3][10 11], Y = [4 5][12 13][6 7][14 15]   shuffle_i64x2
 *   gap 8: X = 0-7, Y = 8-15                                          shuffle_i64x2 */
struct ifma_inv_head {
    __m512i Q2, negq, mask, i_in0, i_in1;
    const uint64_t *i1w, *i1s, *i2w, *i2s, *i4w, *i4s, *w8, *ws8;
};

static inline __attribute__((always_inline)) void
ifma_inv_head_run(const struct ifma_inv_head *c, const uint64_t *src, uint64_t *a, size_t k0,
                  int U, int g8)
{
    __m512i S[IFMA_GROUPS], D[IFMA_GROUPS], X[IFMA_GROUPS], Y[IFMA_GROUPS];
    for (int u = 0; u < U; u++) {
        const size_t k = k0 + (size_t)u;
        __m512i v0 = ifma_load(src + 16 * k), v1 = ifma_load(src + 16 * k + 8);
        S[u] = _mm512_permutex2var_epi64(v0, c->i_in0, v1);
        D[u] = _mm512_permutex2var_epi64(v0, c->i_in1, v1);
    }
    /* gap 1: blocks 8k + (0, 1, 4, 5, 2, 3, 6, 7) */
    for (int u = 0; u < U; u++) {
        const size_t k = k0 + (size_t)u;
        ifma_inv_bf(&S[u], &D[u], ifma_load(c->i1w + 8 * k), ifma_load(c->i1s + 8 * k), c->Q2,
                    c->negq, c->mask);
    }
    /* gap 2: blocks 4k + (0, 0, 2, 2, 1, 1, 3, 3) */
    for (int u = 0; u < U; u++) {
        const size_t k = k0 + (size_t)u;
        X[u] = _mm512_unpacklo_epi64(S[u], D[u]);
        Y[u] = _mm512_unpackhi_epi64(S[u], D[u]);
        ifma_inv_bf(&X[u], &Y[u], ifma_load(c->i2w + 8 * k), ifma_load(c->i2s + 8 * k), c->Q2,
                    c->negq, c->mask);
    }
    /* gap 4: blocks 2k + (0, 0, 1, 1, 0, 0, 1, 1) */
    for (int u = 0; u < U; u++) {
        const size_t k = k0 + (size_t)u;
        S[u] = _mm512_shuffle_i64x2(X[u], Y[u], 0x44);
        D[u] = _mm512_shuffle_i64x2(X[u], Y[u], 0xee);
        ifma_inv_bf(&S[u], &D[u], ifma_load(c->i4w + 8 * k), ifma_load(c->i4s + 8 * k), c->Q2,
                    c->negq, c->mask);
    }
    /* gap 8: block k (one twiddle) */
    for (int u = 0; u < U; u++) {
        const size_t k = k0 + (size_t)u;
        X[u] = _mm512_shuffle_i64x2(S[u], D[u], 0x88);
        Y[u] = _mm512_shuffle_i64x2(S[u], D[u], 0xdd);
        if (g8)
            ifma_inv_bf(&X[u], &Y[u], _mm512_set1_epi64((long long)c->w8[k]),
                        _mm512_set1_epi64((long long)c->ws8[k]), c->Q2, c->negq, c->mask);
        ifma_store(a + 16 * k, X[u]);
        ifma_store(a + 16 * k + 8, Y[u]);
    }
}

/* a = inverse NTT of src: the first pass (gaps 1, 2, 4, 8) reads src and
 * writes a, so an out-of-place transform costs no copy; src == a or the
 * two do not overlap. */
void HERS_IFMA_FN(hers_ntt_inverse_to)(const hers_ntt_table *t, const uint64_t *src, uint64_t *a)
{
    const hers_ntt_simd *s = (const hers_ntt_simd *)t->simd;
    const size_t n = t->n;
    const uint64_t q = t->q.value;
    const uint64_t *iroots = t->iroots, *iroots52 = s->iroots_shoup52;
    const __m512i Q2 = _mm512_set1_epi64((long long)(2 * q)), Q = _mm512_set1_epi64((long long)q);
    const __m512i negq = _mm512_set1_epi64((long long)((UINT64_C(1) << 52) - q));
    const __m512i mask = _mm512_set1_epi64((long long)IFMA_MASK52);
    /* gap 8 is the last stage (m = 1, fused with n^-1) when n = 16: then
     * the first pass stops at gap 4 */
    const int g8 = n >= 32;
    struct ifma_inv_head c;
    c.Q2 = Q2;
    c.negq = negq;
    c.mask = mask;
    c.i_in0 = ifma_idx(ifma_iin0);
    c.i_in1 = ifma_idx(ifma_iin1);
    c.i1w = s->i1w;
    c.i1s = s->i1s;
    c.i2w = s->i2w;
    c.i2s = s->i2s;
    c.i4w = s->i4w;
    c.i4s = s->i4s;
    c.w8 = iroots + n - n / 8;
    c.ws8 = iroots52 + n - n / 8;
    size_t k = 0;
    if (g8) {
        for (; k + IFMA_GROUPS <= n / 16; k += IFMA_GROUPS)
            ifma_inv_head_run(&c, src, a, k, IFMA_GROUPS, 1);
        for (; k < n / 16; k++)
            ifma_inv_head_run(&c, src, a, k, 1, 1);
    } else {
        ifma_inv_head_run(&c, src, a, 0, 1, 0);
        k = 1;
    }
    size_t gap = g8 ? 16 : 8, m = n / (2 * gap);
    /* two stages per pass, (m, gap) then (m/2, 2 gap), while m/2 > 1: the
     * butterflies of the one-stage loop below, four vectors in registers */
    for (; m >= 4; m >>= 2, gap <<= 2) {
        const size_t off = n - 2 * m, off2 = n - m;
        for (size_t i = 0; i < m / 2; i++) {
            const __m512i Wa = _mm512_set1_epi64((long long)iroots[off + 2 * i]);
            const __m512i Was = _mm512_set1_epi64((long long)iroots52[off + 2 * i]);
            const __m512i Wb = _mm512_set1_epi64((long long)iroots[off + 2 * i + 1]);
            const __m512i Wbs = _mm512_set1_epi64((long long)iroots52[off + 2 * i + 1]);
            const __m512i W = _mm512_set1_epi64((long long)iroots[off2 + i]);
            const __m512i Ws = _mm512_set1_epi64((long long)iroots52[off2 + i]);
            uint64_t *x0 = a + 4 * i * gap, *x1 = x0 + gap, *x2 = x1 + gap, *x3 = x2 + gap;
            /* gap >= 16: two vectors per quarter block in flight */
            for (size_t j = 0; j < gap; j += 16) {
                __m512i A[2], B[2], C[2], D[2];
                for (int v = 0; v < 2; v++) {
                    A[v] = ifma_load(x0 + j + 8 * v);
                    B[v] = ifma_load(x1 + j + 8 * v);
                    C[v] = ifma_load(x2 + j + 8 * v);
                    D[v] = ifma_load(x3 + j + 8 * v);
                }
                for (int v = 0; v < 2; v++) {
                    ifma_inv_bf(&A[v], &B[v], Wa, Was, Q2, negq, mask);
                    ifma_inv_bf(&C[v], &D[v], Wb, Wbs, Q2, negq, mask);
                }
                for (int v = 0; v < 2; v++) {
                    ifma_inv_bf(&A[v], &C[v], W, Ws, Q2, negq, mask);
                    ifma_inv_bf(&B[v], &D[v], W, Ws, Q2, negq, mask);
                }
                for (int v = 0; v < 2; v++) {
                    ifma_store(x0 + j + 8 * v, A[v]);
                    ifma_store(x1 + j + 8 * v, B[v]);
                    ifma_store(x2 + j + 8 * v, C[v]);
                    ifma_store(x3 + j + 8 * v, D[v]);
                }
            }
        }
    }
    /* the last stage (m = 1) is fused with n^-1 (iroots[n-1] = psi^-brv(1)
     * n^-1): S = n^-1 (X + Y), D = W (X - Y + 2q), reduced into [0, q) */
    const __m512i Ni = _mm512_set1_epi64((long long)t->n_inv);
    const __m512i Nis = _mm512_set1_epi64((long long)s->n_inv_shoup52);
    const __m512i W = _mm512_set1_epi64((long long)iroots[n - 1]);
    const __m512i Ws = _mm512_set1_epi64((long long)iroots52[n - 1]);
    if (m == 2) {
        /* stages m = 2 and m = 1 in one pass (gap = n/4) */
        const __m512i Wa = _mm512_set1_epi64((long long)iroots[n - 4]);
        const __m512i Was = _mm512_set1_epi64((long long)iroots52[n - 4]);
        const __m512i Wb = _mm512_set1_epi64((long long)iroots[n - 3]);
        const __m512i Wbs = _mm512_set1_epi64((long long)iroots52[n - 3]);
        uint64_t *x0 = a, *x1 = x0 + gap, *x2 = x1 + gap, *x3 = x2 + gap;
        /* gap >= 16: two vectors per quarter in flight */
        for (size_t j = 0; j < gap; j += 16) {
            __m512i A[2], B[2], C[2], D[2];
            for (int v = 0; v < 2; v++) {
                A[v] = ifma_load(x0 + j + 8 * v);
                B[v] = ifma_load(x1 + j + 8 * v);
                C[v] = ifma_load(x2 + j + 8 * v);
                D[v] = ifma_load(x3 + j + 8 * v);
            }
            for (int v = 0; v < 2; v++) {
                ifma_inv_bf(&A[v], &B[v], Wa, Was, Q2, negq, mask);
                ifma_inv_bf(&C[v], &D[v], Wb, Wbs, Q2, negq, mask);
            }
            for (int v = 0; v < 2; v++) {
                __m512i S0 = ifma_mulshoup(_mm512_add_epi64(A[v], C[v]), Ni, Nis, negq, mask);
                __m512i D0 = ifma_mulshoup(_mm512_add_epi64(_mm512_sub_epi64(A[v], C[v]), Q2), W,
                                           Ws, negq, mask);
                __m512i S1 = ifma_mulshoup(_mm512_add_epi64(B[v], D[v]), Ni, Nis, negq, mask);
                __m512i D1 = ifma_mulshoup(_mm512_add_epi64(_mm512_sub_epi64(B[v], D[v]), Q2), W,
                                           Ws, negq, mask);
                ifma_store(x0 + j + 8 * v, ifma_sub_if_ge(S0, Q));
                ifma_store(x2 + j + 8 * v, ifma_sub_if_ge(D0, Q));
                ifma_store(x1 + j + 8 * v, ifma_sub_if_ge(S1, Q));
                ifma_store(x3 + j + 8 * v, ifma_sub_if_ge(D1, Q));
            }
        }
        return;
    }
    uint64_t *x = a, *y = a + gap;
    for (size_t j = 0; j < gap; j += 8) {
        __m512i X = ifma_load(x + j), Y = ifma_load(y + j);
        __m512i S = ifma_mulshoup(_mm512_add_epi64(X, Y), Ni, Nis, negq, mask);
        __m512i D = ifma_mulshoup(_mm512_add_epi64(_mm512_sub_epi64(X, Y), Q2), W, Ws, negq, mask);
        ifma_store(x + j, ifma_sub_if_ge(S, Q));
        ifma_store(y + j, ifma_sub_if_ge(D, Q));
    }
}

void HERS_IFMA_FN(hers_poly_add)(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                                 uint64_t q)
{
    const __m512i Q = _mm512_set1_epi64((long long)q);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        ifma_store(out + i, ifma_sub_if_ge(_mm512_add_epi64(ifma_load(a + i), ifma_load(b + i)), Q));
    for (; i < n; i++)
        out[i] = hers_add_mod(a[i], b[i], q);
}

void HERS_IFMA_FN(hers_poly_sub)(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                                 uint64_t q)
{
    const __m512i Q = _mm512_set1_epi64((long long)q);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i d = _mm512_sub_epi64(ifma_load(a + i), ifma_load(b + i));
        ifma_store(out + i, _mm512_min_epu64(d, _mm512_add_epi64(d, Q)));
    }
    for (; i < n; i++)
        out[i] = hers_sub_mod(a[i], b[i], q);
}

void HERS_IFMA_FN(hers_poly_neg)(uint64_t *out, const uint64_t *a, size_t n, uint64_t q)
{
    const __m512i Q = _mm512_set1_epi64((long long)q), Z = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i x = ifma_load(a + i);
        /* min(q - x, -x): q - x when x > 0 (-x wraps high), 0 when x = 0 */
        ifma_store(out + i, _mm512_min_epu64(_mm512_sub_epi64(Q, x), _mm512_sub_epi64(Z, x)));
    }
    for (; i < n; i++)
        out[i] = hers_neg_mod(a[i], q);
}

/* a b mod q in [0, q) for a, b < q < 2^50 (Barrett, see the header). */
static inline __m512i ifma_mulmod(__m512i A, __m512i B, __m512i Q, __m512i Q2, __m512i negq,
                                  __m512i mask, __m512i mu, __m512i shl, __m512i shr)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i lo = _mm512_madd52lo_epu64(zero, A, B); /* a b mod 2^52 */
    __m512i hi = _mm512_madd52hi_epu64(zero, A, B); /* floor(a b / 2^52) */
    __m512i z = _mm512_or_si512(_mm512_sllv_epi64(hi, shl), _mm512_srlv_epi64(lo, shr));
    __m512i qb = _mm512_madd52hi_epu64(zero, z, mu);
    __m512i r = _mm512_and_si512(_mm512_madd52lo_epu64(lo, qb, negq), mask); /* [0, 2.5q) */
    return ifma_sub_if_ge(ifma_sub_if_ge(r, Q2), Q);
}

struct ifma_barrett {
    __m512i Q, Q2, negq, mask, mu, shl, shr;
};

static inline struct ifma_barrett ifma_barrett_make(const hers_modulus *m)
{
    const uint64_t q = m->value;
    const int L = m->bits; /* 2 <= L <= 50 */
    struct ifma_barrett c;
    c.Q = _mm512_set1_epi64((long long)q);
    c.Q2 = _mm512_set1_epi64((long long)(2 * q));
    c.negq = _mm512_set1_epi64((long long)((UINT64_C(1) << 52) - q));
    c.mask = _mm512_set1_epi64((long long)IFMA_MASK52);
    c.mu = _mm512_set1_epi64((long long)(uint64_t)(((unsigned __int128)1 << (L + 50)) / q));
    c.shl = _mm512_set1_epi64(54 - L);
    c.shr = _mm512_set1_epi64(L - 2);
    return c;
}

void HERS_IFMA_FN(hers_poly_mul)(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                                 const hers_modulus *m)
{
    const struct ifma_barrett c = ifma_barrett_make(m);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        ifma_store(out + i, ifma_mulmod(ifma_load(a + i), ifma_load(b + i), c.Q, c.Q2, c.negq,
                                        c.mask, c.mu, c.shl, c.shr));
    for (; i < n; i++)
        out[i] = hers_mul_mod(a[i], b[i], m);
}

void HERS_IFMA_FN(hers_poly_mul_acc)(uint64_t *acc, const uint64_t *a, const uint64_t *b,
                                     size_t n, const hers_modulus *m)
{
    const struct ifma_barrett c = ifma_barrett_make(m);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i r = ifma_mulmod(ifma_load(a + i), ifma_load(b + i), c.Q, c.Q2, c.negq, c.mask,
                                c.mu, c.shl, c.shr);
        ifma_store(acc + i, ifma_sub_if_ge(_mm512_add_epi64(r, ifma_load(acc + i)), c.Q));
    }
    for (; i < n; i++)
        acc[i] = hers_add_mod(acc[i], hers_mul_mod(a[i], b[i], m), m->value);
}

/* x + H - (x > floor(q/2) ? q : 0) (hers_poly_balance): the sign of
 * floor(q/2) - x, shifted down, selects q. */
void HERS_IFMA_FN(hers_poly_balance)(uint64_t *x, size_t n, uint64_t q, uint64_t H)
{
    const __m512i Q = _mm512_set1_epi64((long long)q), Hv = _mm512_set1_epi64((long long)H);
    const __m512i half = _mm512_set1_epi64((long long)(q / 2)), s63 = _mm512_set1_epi64(63);
    const __m512i zero = _mm512_setzero_si512();
    size_t c = 0;
    for (; c + 8 <= n; c += 8) {
        __m512i v = ifma_load(x + c);
        __m512i sel = _mm512_sub_epi64(zero, _mm512_srlv_epi64(_mm512_sub_epi64(half, v), s63));
        ifma_store(x + c, _mm512_sub_epi64(_mm512_add_epi64(v, Hv), _mm512_and_si512(Q, sel)));
    }
    for (; c < n; c++)
        x[c] = x[c] + H - (q & (0 - ((q / 2 - x[c]) >> 63)));
}

/* ((y >> sh) & mask) + c mod q, the sum < 2q (hers_poly_digit). */
void HERS_IFMA_FN(hers_poly_digit)(uint64_t *out, const uint64_t *y, unsigned sh, uint64_t mask,
                                   uint64_t c, uint64_t q, size_t n)
{
    const __m512i S = _mm512_set1_epi64((long long)sh), M = _mm512_set1_epi64((long long)mask);
    const __m512i C = _mm512_set1_epi64((long long)c), Q = _mm512_set1_epi64((long long)q);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i u = _mm512_and_si512(_mm512_srlv_epi64(ifma_load(y + i), S), M);
        ifma_store(out + i, ifma_sub_if_ge(_mm512_add_epi64(u, C), Q));
    }
    for (; i < n; i++) {
        uint64_t v = ((y[i] >> sh) & mask) + c;
        out[i] = v >= q ? v - q : v;
    }
}

/* v = floor((2^K x + (q - 1)/2) / q) mod 2^keep, split into two 32-bit
 * planes (hers_poly_round_bits_q), for q odd < 2^50 and 2^K < q (the
 * caller checks): m = floor(2^(52+K) / q) < 2^52, and for x < q the
 * estimate e = floor(x m / 2^52) (madd52hi) is floor(2^K x / q) or one
 * less (2^K x / q - x m / 2^52 < x / 2^52 < 1/4), and one less only when
 * the fraction of 2^K x / q is below that 1/4; so the remainder
 * r = 2^K x + (q - 1)/2 - e q is below q + q/2 (e exact) or below
 * q + q/4 + q/2 (e one less): in [0, 1.75q) < 2^52, exact modulo 2^52 from
 * the low 52 bits of each product, and one conditional subtraction of q,
 * adding one to e, gives the quotient. A lane with
 * x >= q (outside the contract of the search, allowed by the API) sends the
 * whole call to the portable code, which reduces x first. */
void HERS_IFMA_FN(hers_poly_round_bits_q)(uint64_t *y, const uint64_t *x, size_t n, uint64_t q,
                                          unsigned K, unsigned keep)
{
    const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi64(1);
    const __m512i s63 = _mm512_set1_epi64(63), s32 = _mm512_set1_epi64(32);
    const __m512i Kv = _mm512_set1_epi64((long long)K), Q = _mm512_set1_epi64((long long)q);
    const __m512i M = _mm512_set1_epi64((long long)(uint64_t)(((unsigned __int128)1 << (52 + K)) / q));
    const __m512i H = _mm512_set1_epi64((long long)(q >> 1));
    const __m512i m52 = _mm512_set1_epi64((long long)IFMA_MASK52);
    const __m512i lo32 = _mm512_set1_epi64((long long)UINT64_C(0xffffffff));
    const __m512i km = _mm512_set1_epi64((long long)((UINT64_C(1) << keep) - 1));
    __m512i bad = zero;
    size_t c = 0;
    for (; c + 8 <= n; c += 8) {
        __m512i X = ifma_load(x + c);
        /* x >= q: x >= 2^63, or x - q does not wrap */
        bad = _mm512_or_si512(bad, _mm512_or_si512(_mm512_srlv_epi64(X, s63),
                                                   _mm512_sub_epi64(one, _mm512_srlv_epi64(
                                                                             _mm512_sub_epi64(X, Q), s63))));
        __m512i e = _mm512_madd52hi_epu64(zero, X, M);
        __m512i num = _mm512_add_epi64(_mm512_and_si512(_mm512_sllv_epi64(X, Kv), m52), H);
        __m512i r = _mm512_and_si512(_mm512_sub_epi64(num, _mm512_madd52lo_epu64(zero, e, Q)), m52);
        __m512i t = _mm512_sub_epi64(r, Q);   /* wraps (top bit set) when r < q */
        e = _mm512_add_epi64(e, _mm512_sub_epi64(one, _mm512_srlv_epi64(t, s63)));
        e = _mm512_and_si512(e, km);
        ifma_store(y + c, _mm512_and_si512(e, lo32));
        ifma_store(y + n + c, _mm512_srlv_epi64(e, s32));
    }
    uint64_t b[8];
    ifma_store(b, bad);
    if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5] | b[6] | b[7]) != 0) {
        hers_poly_round_bits_q_portable(y, x, n, q, K, keep);
        return;
    }
    const double sc = (double)(UINT64_C(1) << K) / (double)q;
    for (; c < n; c++) {
        uint64_t v = hers_round_bits_one(x[c], q, K, sc) & ((UINT64_C(1) << keep) - 1);
        y[c] = v & 0xffffffffu;
        y[n + c] = v >> 32;
    }
}

/* Block permutation (hers_poly_permute8): one load, one lane permute and
 * one store per 8 words, against 8 scalar moves. */
void HERS_IFMA_FN(hers_poly_permute8)(uint64_t *out, const uint64_t *in, const uint32_t *dst,
                                      const uint8_t *sel, const int64_t *pats, size_t nv)
{
    for (size_t v = 0; v < nv; v++) {
        __m512i x = ifma_load(in + 8 * v);
        __m512i idx = ifma_idx(pats + 8 * (size_t)sel[v]);
        ifma_store(out + 8 * (size_t)dst[v], _mm512_permutex2var_epi64(x, idx, x));
    }
}

/* r = (c - t) mono, c = c + t (hers_poly_split): one pass. */
void HERS_IFMA_FN(hers_poly_split)(uint64_t *c, uint64_t *r, const uint64_t *t, const uint64_t *mono,
                                   size_t n, const hers_modulus *m)
{
    const struct ifma_barrett k = ifma_barrett_make(m);
    /* r is a fresh output (the expansion's right child, not read again
     * soon): streamed past the caches when 64-byte aligned */
    const int stream = ((uintptr_t)r & 63) == 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i C = ifma_load(c + i), T = ifma_load(t + i);
        __m512i d = _mm512_sub_epi64(C, T);
        d = _mm512_min_epu64(d, _mm512_add_epi64(d, k.Q));
        __m512i R = ifma_mulmod(d, ifma_load(mono + i), k.Q, k.Q2, k.negq, k.mask, k.mu, k.shl,
                                k.shr);
        if (stream)
            _mm512_stream_si512((void *)(r + i), R);
        else
            ifma_store(r + i, R);
        ifma_store(c + i, ifma_sub_if_ge(_mm512_add_epi64(C, T), k.Q));
    }
    if (stream)
        _mm_sfence();
    for (; i < n; i++) {
        r[i] = hers_mul_mod(hers_sub_mod(c[i], t[i], m->value), mono[i], m);
        c[i] = hers_add_mod(c[i], t[i], m->value);
    }
}

void HERS_IFMA_FN(hers_poly_mul_scalar)(uint64_t *out, const uint64_t *a, uint64_t s, size_t n,
                                        const hers_modulus *m)
{
    const uint64_t q = m->value;
    const __m512i Q = _mm512_set1_epi64((long long)q);
    const __m512i negq = _mm512_set1_epi64((long long)((UINT64_C(1) << 52) - q));
    const __m512i mask = _mm512_set1_epi64((long long)IFMA_MASK52);
    const __m512i S = _mm512_set1_epi64((long long)s);
    const __m512i Ss = _mm512_set1_epi64((long long)(uint64_t)(((unsigned __int128)s << 52) / q));
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        ifma_store(out + i, ifma_sub_if_ge(ifma_mulshoup(ifma_load(a + i), S, Ss, negq, mask), Q));
    for (; i < n; i++)
        out[i] = hers_mul_mod(a[i], s, m);
}

/* out = add + sum_t a_t b_t mod q (hers_poly_dot). Products of residues
 * < q < 2^50 are split by the multiplier into lo = a b mod 2^52 and
 * hi = floor(a b / 2^52) < 2^48; up to 16 terms are summed unreduced
 * (lo sum < 2^56, hi sum < 2^52), then x = H 2^52 + Lw with
 * H = hi + (lo >> 52) < 2^52 and Lw = lo mod 2^52, and
 * x mod q = Shoup(H, 2^52 mod q) + Shoup(Lw, 1), each in [0, 2q). */
struct ifma_dot {
    __m512i Q, Q2, negq, mask, R, Rs, One, Ones, s52;
};

static inline struct ifma_dot ifma_dot_make(uint64_t q)
{
    const uint64_t r52 = (uint64_t)(((unsigned __int128)1 << 52) % q);
    struct ifma_dot k;
    k.Q = _mm512_set1_epi64((long long)q);
    k.Q2 = _mm512_set1_epi64((long long)(2 * q));
    k.negq = _mm512_set1_epi64((long long)((UINT64_C(1) << 52) - q));
    k.mask = _mm512_set1_epi64((long long)IFMA_MASK52);
    k.R = _mm512_set1_epi64((long long)r52);
    k.Rs = _mm512_set1_epi64((long long)(uint64_t)(((unsigned __int128)r52 << 52) / q));
    k.One = _mm512_set1_epi64(1);
    k.Ones = _mm512_set1_epi64((long long)(uint64_t)(((unsigned __int128)1 << 52) / q));
    k.s52 = _mm512_set1_epi64(52);
    return k;
}

/* lo + 2^52 hi (at most 16 unreduced terms) mod q, in [0, q). */
static inline __m512i ifma_dot_reduce(const struct ifma_dot *k, __m512i lo, __m512i hi)
{
    __m512i H = _mm512_add_epi64(hi, _mm512_srlv_epi64(lo, k->s52));
    __m512i r = _mm512_add_epi64(ifma_mulshoup(H, k->R, k->Rs, k->negq, k->mask),
                                 ifma_mulshoup(_mm512_and_si512(lo, k->mask), k->One, k->Ones,
                                               k->negq, k->mask)); /* [0, 4q) */
    return ifma_sub_if_ge(ifma_sub_if_ge(r, k->Q2), k->Q);
}

void HERS_IFMA_FN(hers_poly_dot)(uint64_t *out, const uint64_t *add, const uint64_t *a, size_t as,
                                 const uint64_t *b, size_t bs, size_t terms, size_t n,
                                 const hers_modulus *m)
{
    const uint64_t q = m->value;
    const struct ifma_dot k = ifma_dot_make(q);
    const __m512i zero = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i x = add ? ifma_load(add + i) : zero;
        for (size_t t0 = 0; t0 < terms; t0 += 16) {
            size_t t1 = terms - t0 < 16 ? terms : t0 + 16;
            __m512i lo = zero, hi = zero;
            for (size_t t = t0; t < t1; t++) {
                __m512i A = ifma_load(a + t * as + i), B = ifma_load(b + t * bs + i);
                lo = _mm512_madd52lo_epu64(lo, A, B);
                hi = _mm512_madd52hi_epu64(hi, A, B);
            }
            x = ifma_sub_if_ge(_mm512_add_epi64(x, ifma_dot_reduce(&k, lo, hi)), k.Q);
        }
        ifma_store(out + i, x);
    }
    for (; i < n; i++) {
        uint64_t x = add ? add[i] : 0;
        for (size_t t = 0; t < terms; t++)
            x = hers_add_mod(x, hers_mul_mod(a[t * as + i], b[t * bs + i], m), q);
        out[i] = x;
    }
}

/* One vector of two sums over the same a (hers_poly_dot2's and
 * hers_poly_switch_split's products): *x0 += sum_t a_t b_t, *x1 += sum_t
 * a_t c_t mod q, with a_t = a[t as], b_t = b[t bs], c_t = c[t bs] (8 lanes
 * each); *x0, *x1 in [0, q) before and after. 16 terms per reduction
 * (ifma_dot_reduce's bound). */
static inline void ifma_dot2_lanes(__m512i *x0, __m512i *x1, const struct ifma_dot *k,
                                   const uint64_t *a, size_t as, const uint64_t *b,
                                   const uint64_t *c, size_t bs, size_t terms)
{
    const __m512i zero = _mm512_setzero_si512();
    for (size_t t0 = 0; t0 < terms; t0 += 16) {
        size_t t1 = terms - t0 < 16 ? terms : t0 + 16;
        __m512i lo0 = zero, hi0 = zero, lo1 = zero, hi1 = zero;
        for (size_t t = t0; t < t1; t++) {
            __m512i A = ifma_load(a + t * as);
            __m512i B = ifma_load(b + t * bs), C = ifma_load(c + t * bs);
            lo0 = _mm512_madd52lo_epu64(lo0, A, B);
            hi0 = _mm512_madd52hi_epu64(hi0, A, B);
            lo1 = _mm512_madd52lo_epu64(lo1, A, C);
            hi1 = _mm512_madd52hi_epu64(hi1, A, C);
        }
        *x0 = ifma_sub_if_ge(_mm512_add_epi64(*x0, ifma_dot_reduce(k, lo0, hi0)), k->Q);
        *x1 = ifma_sub_if_ge(_mm512_add_epi64(*x1, ifma_dot_reduce(k, lo1, hi1)), k->Q);
    }
}

void HERS_IFMA_FN(hers_poly_dot2)(uint64_t *out0, const uint64_t *add0, uint64_t *out1, const uint64_t *add1,
                                  const uint64_t *a, size_t as, const uint64_t *b,
                                  const uint64_t *c, size_t bs, size_t terms, size_t n,
                                  const hers_modulus *m)
{
    const uint64_t q = m->value;
    const struct ifma_dot k = ifma_dot_make(q);
    const __m512i zero = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i x0 = add0 ? ifma_load(add0 + i) : zero, x1 = add1 ? ifma_load(add1 + i) : zero;
        ifma_dot2_lanes(&x0, &x1, &k, a + i, as, b + i, c + i, bs, terms);
        ifma_store(out0 + i, x0);
        ifma_store(out1 + i, x1);
    }
    for (; i < n; i++) {
        uint64_t x0 = add0 ? add0[i] : 0, x1 = add1 ? add1[i] : 0;
        for (size_t t = 0; t < terms; t++) {
            x0 = hers_add_mod(x0, hers_mul_mod(a[t * as + i], b[t * bs + i], m), q);
            x1 = hers_add_mod(x1, hers_mul_mod(a[t * as + i], c[t * bs + i], m), q);
        }
        out0[i] = x0;
        out1[i] = x1;
    }
}

/* The key switch of one prime and the node split in one pass
 * (hers_poly_switch_split): T0 = t0 + sum_t dg_t kb_t, T1 = sum_t dg_t ka_t
 * (as hers_poly_dot2), then per part r = (c - T) M, c = c + T (as
 * hers_poly_split) with M = mono[i >> msh]; msh is 0 or >= 3 (one M per
 * vector). T0 and T1 never leave the registers. */
static inline __attribute__((always_inline)) size_t
ifma_switch_split_run(uint64_t *c0, uint64_t *c1, uint64_t *r0, uint64_t *r1, const uint64_t *t0,
                      const uint64_t *dg, size_t ds, const uint64_t *kb, const uint64_t *ka,
                      size_t ks, size_t terms, const uint64_t *mono, unsigned msh, size_t n,
                      const hers_modulus *m)
{
    const uint64_t q = m->value;
    const struct ifma_dot k = ifma_dot_make(q);
    const struct ifma_barrett br = ifma_barrett_make(m);
    const __m512i zero = _mm512_setzero_si512();
    const int stream = ((uintptr_t)r0 & 63) == 0 && ((uintptr_t)r1 & 63) == 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i x0 = ifma_load(t0 + i), x1 = zero;
        ifma_dot2_lanes(&x0, &x1, &k, dg + i, ds, kb + i, ka + i, ks, terms);
        const __m512i M = msh ? _mm512_set1_epi64((long long)mono[i >> msh]) : ifma_load(mono + i);
        __m512i C = ifma_load(c0 + i);
        __m512i d = _mm512_sub_epi64(C, x0);
        d = _mm512_min_epu64(d, _mm512_add_epi64(d, br.Q));
        __m512i R = ifma_mulmod(d, M, br.Q, br.Q2, br.negq, br.mask, br.mu, br.shl, br.shr);
        ifma_store(c0 + i, ifma_sub_if_ge(_mm512_add_epi64(C, x0), br.Q));
        if (stream)
            _mm512_stream_si512((void *)(r0 + i), R);
        else
            ifma_store(r0 + i, R);
        C = ifma_load(c1 + i);
        d = _mm512_sub_epi64(C, x1);
        d = _mm512_min_epu64(d, _mm512_add_epi64(d, br.Q));
        R = ifma_mulmod(d, M, br.Q, br.Q2, br.negq, br.mask, br.mu, br.shl, br.shr);
        ifma_store(c1 + i, ifma_sub_if_ge(_mm512_add_epi64(C, x1), br.Q));
        if (stream)
            _mm512_stream_si512((void *)(r1 + i), R);
        else
            ifma_store(r1 + i, R);
    }
    if (stream)
        _mm_sfence();
    return i;
}

void HERS_IFMA_FN(hers_poly_switch_split)(uint64_t *c0, uint64_t *c1, uint64_t *r0, uint64_t *r1,
                                          const uint64_t *t0, const uint64_t *dg, size_t ds,
                                          const uint64_t *kb, const uint64_t *ka, size_t ks,
                                          size_t terms, const uint64_t *mono, unsigned msh,
                                          size_t n, const hers_modulus *m)
{
    const uint64_t q = m->value;
    /* terms = 4 (the n4096 keys' digits) as a constant: the product loops
     * unroll, so the multiplier chains of neighbouring vectors overlap */
    size_t i = terms == 4 ? ifma_switch_split_run(c0, c1, r0, r1, t0, dg, ds, kb, ka, ks, 4, mono,
                                                  msh, n, m)
                          : ifma_switch_split_run(c0, c1, r0, r1, t0, dg, ds, kb, ka, ks, terms,
                                                  mono, msh, n, m);
    for (; i < n; i++) {
        uint64_t x0 = t0[i], x1 = 0, M = mono[i >> msh];
        for (size_t u = 0; u < terms; u++) {
            x0 = hers_add_mod(x0, hers_mul_mod(dg[u * ds + i], kb[u * ks + i], m), q);
            x1 = hers_add_mod(x1, hers_mul_mod(dg[u * ds + i], ka[u * ks + i], m), q);
        }
        r0[i] = hers_mul_mod(hers_sub_mod(c0[i], x0, q), M, m);
        c0[i] = hers_add_mod(c0[i], x0, q);
        r1[i] = hers_mul_mod(hers_sub_mod(c1[i], x1, q), M, m);
        c1[i] = hers_add_mod(c1[i], x1, q);
    }
}
