/*
 * poly.c - coefficient-wise polynomial arithmetic mod one prime
 * (hers_ntt.h): add, sub, neg, pointwise mul, mul-accumulate, scalar mul.
 *
 * Inputs and outputs are fully reduced in [0, q); out may alias inputs.
 * Pointwise products use a Barrett reduction specialised to reduced operands
 * (prod_mod); the scalar product uses one Shoup constant. All branch-free in
 * the data.
 */
#include <string.h>

#include "hers/hers_ntt.h"

#include "arithmetic/arith_internal.h"
#include "hers/hers_cpu.h"

/* Level usable for a modulus: the SIMD multiplications need q < 2^50
 * (HERS_NTT_AVX2_MAX_Q = HERS_NTT_IFMA_MAX_Q). */
static hers_simd mul_level(const hers_modulus *q)
{
    hers_simd l = hers_simd_active();
    if (q->value >= HERS_NTT_AVX2_MAX_Q)
        return HERS_SIMD_PORTABLE;
    return l;
}

void hers_poly_add(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                   const hers_modulus *q)
{
    const uint64_t qv = q->value;
    hers_simd level = hers_simd_active();
    if (level >= HERS_SIMD_AVX512) {
        hers_poly_add_avx512(out, a, b, n, qv);
        return;
    }
    if (level >= HERS_SIMD_AVX2) {
        hers_poly_add_avx2(out, a, b, n, qv);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = hers_add_mod(a[i], b[i], qv);
}

void hers_poly_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                   const hers_modulus *q)
{
    const uint64_t qv = q->value;
    hers_simd level = hers_simd_active();
    if (level >= HERS_SIMD_AVX512) {
        hers_poly_sub_avx512(out, a, b, n, qv);
        return;
    }
    if (level >= HERS_SIMD_AVX2) {
        hers_poly_sub_avx2(out, a, b, n, qv);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = hers_sub_mod(a[i], b[i], qv);
}

void hers_poly_neg(uint64_t *out, const uint64_t *a, size_t n, const hers_modulus *q)
{
    const uint64_t qv = q->value;
    hers_simd level = hers_simd_active();
    if (level >= HERS_SIMD_AVX512) {
        hers_poly_neg_avx512(out, a, n, qv);
        return;
    }
    if (level >= HERS_SIMD_AVX2) {
        hers_poly_neg_avx2(out, a, n, qv);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = hers_neg_mod(a[i], qv);
}

/* Barrett for products of reduced operands (3 multiplies instead of the 5
 * of hers_mul_mod, which accepts any 64-bit inputs). L = bit length of q,
 * mu = floor(2^(2L) / q) < 2^(L+1). For p = a b < q^2 < 2^(2L):
 * z = floor(p / 2^(L-1)) < 2^(L+1), Qb = floor(z mu / 2^(L+1)) satisfies
 * p/q - 3 < Qb <= p/q, so p - Qb q is in [0, 3q) (< 2^64 for q < 2^62) and
 * two branch-free subtractions finish. */
typedef struct prod_barrett {
    uint64_t q, mu;
    int l;
} prod_barrett;

static prod_barrett prod_barrett_make(const hers_modulus *m)
{
    prod_barrett b;
    b.q = m->value;
    b.l = m->bits;
    b.mu = (uint64_t)(((unsigned __int128)1 << (2 * b.l)) / b.q);
    return b;
}

static inline uint64_t prod_mod(uint64_t x, uint64_t y, const prod_barrett *b)
{
    unsigned __int128 p = (unsigned __int128)x * y;
    uint64_t z = (uint64_t)(p >> (b->l - 1));
    uint64_t qt = (uint64_t)(((unsigned __int128)z * b->mu) >> (b->l + 1));
    uint64_t r = (uint64_t)p - qt * b->q;
    r -= (2 * b->q) & (0 - (uint64_t)(r >= 2 * b->q));
    r -= b->q & (0 - (uint64_t)(r >= b->q));
    return r;
}

void hers_poly_mul_portable(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                            const hers_modulus *q)
{
    const prod_barrett pb = prod_barrett_make(q);
    for (size_t i = 0; i < n; i++)
        out[i] = prod_mod(a[i], b[i], &pb);
}

void hers_poly_mul_acc_portable(uint64_t *acc, const uint64_t *a, const uint64_t *b, size_t n,
                                const hers_modulus *q)
{
    const prod_barrett pb = prod_barrett_make(q);
    const uint64_t qv = q->value;
    for (size_t i = 0; i < n; i++)
        acc[i] = hers_add_mod(acc[i], prod_mod(a[i], b[i], &pb), qv);
}

void hers_poly_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                   const hers_modulus *q)
{
    hers_simd level = mul_level(q);
    if (level >= HERS_SIMD_AVX512)
        hers_poly_mul_avx512(out, a, b, n, q);
    else if (level >= HERS_SIMD_AVX2)
        hers_poly_mul_avx2(out, a, b, n, q);
    else
        hers_poly_mul_portable(out, a, b, n, q);
}

void hers_poly_mul_acc(uint64_t *acc, const uint64_t *a, const uint64_t *b, size_t n,
                       const hers_modulus *q)
{
    hers_simd level = mul_level(q);
    if (level >= HERS_SIMD_AVX512)
        hers_poly_mul_acc_avx512(acc, a, b, n, q);
    else if (level >= HERS_SIMD_AVX2)
        hers_poly_mul_acc_avx2(acc, a, b, n, q);
    else
        hers_poly_mul_acc_portable(acc, a, b, n, q);
}

void hers_poly_dot_portable(uint64_t *out, const uint64_t *add, const uint64_t *a, size_t as,
                            const uint64_t *b, size_t bs, size_t terms, size_t n,
                            const hers_modulus *q)
{
    const prod_barrett pb = prod_barrett_make(q);
    const uint64_t qv = q->value;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = add ? add[i] : 0;
        for (size_t t = 0; t < terms; t++)
            x = hers_add_mod(x, prod_mod(a[t * as + i], b[t * bs + i], &pb), qv);
        out[i] = x;
    }
}

void hers_poly_dot(uint64_t *out, const uint64_t *add, const uint64_t *a, size_t as,
                   const uint64_t *b, size_t bs, size_t terms, size_t n, const hers_modulus *q)
{
    hers_simd level = mul_level(q);
    if (level >= HERS_SIMD_AVX512) {
        hers_poly_dot_avx512(out, add, a, as, b, bs, terms, n, q);
    } else if (level >= HERS_SIMD_AVX2) {
        if (!add)
            memset(out, 0, n * sizeof(uint64_t));
        else if (out != add)
            memcpy(out, add, n * sizeof(uint64_t));
        for (size_t t = 0; t < terms; t++)
            hers_poly_mul_acc_avx2(out, a + t * as, b + t * bs, n, q);
    } else {
        hers_poly_dot_portable(out, add, a, as, b, bs, terms, n, q);
    }
}

void hers_poly_dot2(uint64_t *out0, const uint64_t *add0, uint64_t *out1, const uint64_t *add1, const uint64_t *a,
                    size_t as, const uint64_t *b, const uint64_t *c, size_t bs, size_t terms,
                    size_t n, const hers_modulus *q)
{
    if (mul_level(q) >= HERS_SIMD_AVX512) {
        hers_poly_dot2_avx512(out0, add0, out1, add1, a, as, b, c, bs, terms, n, q);
        return;
    }
    hers_poly_dot(out0, add0, a, as, b, bs, terms, n, q);
    hers_poly_dot(out1, add1, a, as, c, bs, terms, n, q);
}

void hers_poly_balance(uint64_t *x, size_t n, uint64_t q, uint64_t H)
{
    if (hers_simd_active() >= HERS_SIMD_AVX512) {
        hers_poly_balance_avx512(x, n, q, H);
        return;
    }
    const uint64_t half = q / 2;
    for (size_t c = 0; c < n; c++) {
        uint64_t v = x[c];
        x[c] = v + H - (q & (0 - ((half - v) >> 63)));
    }
}

void hers_poly_digit(uint64_t *out, const uint64_t *y, unsigned sh, uint64_t mask, uint64_t c,
                     uint64_t q, size_t n)
{
    if (hers_simd_active() >= HERS_SIMD_AVX512) {
        hers_poly_digit_avx512(out, y, sh, mask, c, q, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t v = ((y[i] >> sh) & mask) + c;
        out[i] = v >= q ? v - q : v;
    }
}

void hers_poly_permute8(uint64_t *out, const uint64_t *in, const uint32_t *dst, const uint8_t *sel,
                        const int64_t *pats, size_t nv)
{
    if (hers_simd_active() >= HERS_SIMD_AVX512) {
        hers_poly_permute8_avx512(out, in, dst, sel, pats, nv);
        return;
    }
    for (size_t v = 0; v < nv; v++) {
        const int64_t *pv = pats + 8 * (size_t)sel[v];
        uint64_t *o = out + 8 * (size_t)dst[v];
        for (size_t l = 0; l < 8; l++)
            o[l] = in[8 * v + (size_t)pv[l]];
    }
}

void hers_poly_split_portable(uint64_t *c, uint64_t *r, const uint64_t *t, const uint64_t *m,
                              size_t n, const hers_modulus *q)
{
    const prod_barrett pb = prod_barrett_make(q);
    const uint64_t qv = q->value;
    for (size_t i = 0; i < n; i++) {
        r[i] = prod_mod(hers_sub_mod(c[i], t[i], qv), m[i], &pb);
        c[i] = hers_add_mod(c[i], t[i], qv);
    }
}

void hers_poly_split(uint64_t *c, uint64_t *r, const uint64_t *t, const uint64_t *m, size_t n,
                     const hers_modulus *q)
{
    hers_simd level = mul_level(q);
    if (level >= HERS_SIMD_AVX512) {
        hers_poly_split_avx512(c, r, t, m, n, q);
    } else if (level >= HERS_SIMD_AVX2) {
        hers_poly_sub_avx2(r, c, t, n, q->value);
        hers_poly_mul_avx2(r, r, m, n, q);
        hers_poly_add_avx2(c, c, t, n, q->value);
    } else {
        hers_poly_split_portable(c, r, t, m, n, q);
    }
}

void hers_poly_switch_split(uint64_t *c0, uint64_t *c1, uint64_t *r0, uint64_t *r1,
                            const uint64_t *t0, const uint64_t *dg, size_t ds, const uint64_t *kb,
                            const uint64_t *ka, size_t ks, size_t terms, const uint64_t *mono,
                            unsigned msh, size_t n, const hers_modulus *q)
{
    if (mul_level(q) >= HERS_SIMD_AVX512 && (msh == 0 || msh >= 3)) {
        hers_poly_switch_split_avx512(c0, c1, r0, r1, t0, dg, ds, kb, ka, ks, terms, mono, msh, n, q);
        return;
    }
    /* the two passes it fuses, in blocks that stay in L1 */
    enum { BLK = 256 };
    uint64_t T0[BLK], T1[BLK], M[BLK];
    for (size_t i = 0; i < n; i += BLK) {
        size_t len = n - i < BLK ? n - i : BLK;
        hers_poly_dot2(T0, t0 + i, T1, NULL, dg + i, ds, kb + i, ka + i, ks, terms, len, q);
        for (size_t j = 0; j < len; j++)
            M[j] = mono[(i + j) >> msh];
        hers_poly_split(c0 + i, r0 + i, T0, M, len, q);
        hers_poly_split(c1 + i, r1 + i, T1, M, len, q);
    }
}

void hers_poly_mul_scalar(uint64_t *out, const uint64_t *a, uint64_t s, size_t n,
                          const hers_modulus *q)
{
    s = hers_reduce64(s, q); /* documented as [0, q); any 64-bit s is accepted */
    hers_simd level = mul_level(q);
    if (level >= HERS_SIMD_AVX512) {
        hers_poly_mul_scalar_avx512(out, a, s, n, q);
        return;
    }
    if (level >= HERS_SIMD_AVX2) {
        hers_poly_mul_scalar_avx2(out, a, s, n, q);
        return;
    }
    const uint64_t qv = q->value, ss = hers_shoup_precompute(s, qv);
    for (size_t i = 0; i < n; i++)
        out[i] = hers_mul_shoup(a[i], s, ss, qv);
}

void hers_poly_mul_scalar_add_small(uint64_t *out, const uint64_t *a, uint64_t s, const int8_t *e,
                                    size_t n, const hers_modulus *q)
{
    s = hers_reduce64(s, q);
    if (mul_level(q) >= HERS_SIMD_AVX2) { /* AVX-512 machines take the AVX2 pass */
        hers_poly_mul_scalar_add_small_avx2(out, a, s, e, n, q);
        return;
    }
    const uint64_t qv = q->value, ss = hers_shoup_precompute(s, qv);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = hers_mul_shoup(a[i], s, ss, qv), ev = (uint64_t)(int64_t)e[i];
        r += ev + (qv & (0 - (ev >> 63)));  /* + e + q if e < 0: [0, 2q) */
        out[i] = r - (qv & (0 - (uint64_t)(r >= qv)));
    }
}

void hers_poly_round_bits_q_portable(uint64_t *y, const uint64_t *x, size_t n, uint64_t q,
                                     unsigned K, unsigned keep)
{
    const double sc = (double)(UINT64_C(1) << K) / (double)q;
    const uint64_t km = (UINT64_C(1) << keep) - 1;
    for (size_t c = 0; c < n; c++) {
        uint64_t v = hers_round_bits_one(x[c], q, K, sc) & km;
        y[c] = v & 0xffffffffu;
        y[n + c] = v >> 32;
    }
}

void hers_poly_round_bits_q(uint64_t *y, const uint64_t *x, size_t n, uint64_t q, unsigned K,
                            unsigned keep)
{
    if (keep > K)
        keep = K;
    /* the IFMA kernel: q < 2^50 and 2^K < q (its quotient estimate) */
    if (hers_simd_active() >= HERS_SIMD_AVX512 && q < HERS_NTT_IFMA_MAX_Q && K < 50 &&
        (UINT64_C(1) << K) < q) {
        hers_poly_round_bits_q_avx512(y, x, n, q, K, keep);
        return;
    }
    hers_poly_round_bits_q_portable(y, x, n, q, K, keep);
}
