/*
 * arith_internal.h - private declarations shared by the arithmetic layer:
 * the per-level NTT and pointwise kernels behind the dispatching functions
 * of hers_ntt.h, and small helpers.
 *
 * Kernel contracts (every level, bit-identical results):
 *   *_ntt_forward / *_ntt_inverse: as hers_ntt_forward / hers_ntt_inverse,
 *     inputs and outputs fully reduced in [0, q).
 *   *_poly_*: as the hers_poly_* functions.
 * The AVX2 and AVX-512 kernels only accept tables/moduli they support
 * (hers_ntt_avx2_ok / hers_ntt_avx512_ok); the dispatcher falls back to the
 * portable code otherwise.
 */
#ifndef HERS_ARITH_INTERNAL_H
#define HERS_ARITH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_modarith.h"
#include "hers/hers_ntt.h"

/* Distinct prime factors of n >= 1 (at most 15 for 64-bit n), unordered.
 * Returns how many were written. */
int hers_distinct_prime_factors(uint64_t n, uint64_t f[64]);

/* Bit reversal of the low `bits` bits of x. */
static inline uint32_t hers_bitrev(uint32_t x, int bits)
{
    uint32_t r = 0;
    for (int i = 0; i < bits; i++) {
        r = (r << 1) | (x & 1);
        x >>= 1;
    }
    return r;
}

/* Moduli bounds of the SIMD kernels (exclusive). */
#define HERS_NTT_AVX2_MAX_Q (UINT64_C(1) << 50)
#define HERS_NTT_IFMA_MAX_Q (UINT64_C(1) << 50)

/* Level-specific precomputation hung on hers_ntt_table.simd. */
typedef struct hers_ntt_simd {
    int avx2_ok;    /* q < HERS_AVX2_MAX_Q: AVX2 kernels usable */
    int avx512_ok;  /* q < 2^50: IFMA kernels usable */
    /* AVX2 (double precision, see ntt_avx2.c): twiddles centred into
     * (-q/2, q/2] as doubles, and w / q rounded. */
    double *fw, *fwq;        /* n: forward, indexed like roots */
    double *fw2, *fwq2;      /* n/2: stage gap 2, lanes (2k, 2k, 2k+1, 2k+1) */
    double *iw, *iwq;        /* n: inverse, indexed like iroots (use order) */
    double *iw1p, *iwq1p;    /* n/2: inverse gap-1 stage, lanes (4k, 4k+2, 4k+1, 4k+3) */
    double *iw2, *iwq2;      /* n/2: inverse gap-2 stage, lanes (2k, 2k, 2k+1, 2k+1) */
    double n_inv_c, n_inv_cq;
    /* IFMA: Shoup constants with 52-bit scale, floor(w * 2^52 / q). */
    uint64_t *roots_shoup52;
    uint64_t *iroots_shoup52;
    uint64_t n_inv_shoup52;
    /* IFMA in-register stages (n/2 each, value and Shoup-52 constant, 8
     * lanes per group k of 16 values; lane layouts in ntt_ifma_kernel.h):
     * forward gap 4 (blocks 2k x4, 2k+1 x4 of stage m = n/8), gap 2 (4k +
     * 0 0 2 2 1 1 3 3 of m = n/4), gap 1 (8k + 0 1 4 5 2 3 6 7 of m = n/2);
     * inverse gap 1 and gap 2 (same blocks as forward, stages m = n/2, n/4),
     * gap 4 (2k + 0 0 1 1 0 0 1 1 of m = n/8). */
    uint64_t *f4w, *f4s, *f2w, *f2s, *i2w, *i2s, *i4w, *i4s;
    uint64_t *f1w, *f1s, *i1w, *i1s;
} hers_ntt_simd;

/* Portable kernels (ntt_portable.c, poly.c). */
void hers_ntt_forward_portable(const hers_ntt_table *t, uint64_t *a);
void hers_ntt_inverse_portable(const hers_ntt_table *t, uint64_t *a);
void hers_poly_mul_portable(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                            const hers_modulus *q);
void hers_poly_mul_acc_portable(uint64_t *acc, const uint64_t *a, const uint64_t *b, size_t n,
                                const hers_modulus *q);
void hers_poly_dot_portable(uint64_t *out, const uint64_t *add, const uint64_t *a, size_t as,
                            const uint64_t *b, size_t bs, size_t terms, size_t n,
                            const hers_modulus *q);

/* AVX2 kernels (ntt_avx2.c, poly_avx2.c): q < HERS_NTT_AVX2_MAX_Q for the
 * multiplications; add/sub/neg work for every q < 2^62. */
void hers_ntt_forward_avx2(const hers_ntt_table *t, uint64_t *a);
void hers_ntt_inverse_avx2(const hers_ntt_table *t, uint64_t *a);
/* Out of place: reads src (n values in [0, q)), writes a; src may equal a. */
void hers_ntt_inverse_to_avx2(const hers_ntt_table *t, const uint64_t *src, uint64_t *a);
void hers_poly_add_avx2(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n, uint64_t q);
void hers_poly_sub_avx2(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n, uint64_t q);
void hers_poly_neg_avx2(uint64_t *out, const uint64_t *a, size_t n, uint64_t q);
void hers_poly_mul_avx2(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                        const hers_modulus *m);
void hers_poly_mul_acc_avx2(uint64_t *acc, const uint64_t *a, const uint64_t *b, size_t n,
                            const hers_modulus *m);
void hers_poly_mul_scalar_avx2(uint64_t *out, const uint64_t *a, uint64_t s, size_t n,
                               const hers_modulus *m);
void hers_poly_mul_scalar_add_small_avx2(uint64_t *out, const uint64_t *a, uint64_t s,
                                         const int8_t *e, size_t n, const hers_modulus *m);

/* AVX-512 IFMA kernels (ntt_avx512.c = ntt_ifma_kernel.h): q < 2^50. */
void hers_ntt_forward_avx512(const hers_ntt_table *t, uint64_t *a);
void hers_ntt_inverse_avx512(const hers_ntt_table *t, uint64_t *a);
void hers_ntt_inverse_to_avx512(const hers_ntt_table *t, const uint64_t *src, uint64_t *a);
void hers_poly_add_avx512(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                          uint64_t q);
void hers_poly_sub_avx512(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                          uint64_t q);
void hers_poly_neg_avx512(uint64_t *out, const uint64_t *a, size_t n, uint64_t q);
void hers_poly_mul_avx512(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                          const hers_modulus *m);
void hers_poly_mul_acc_avx512(uint64_t *acc, const uint64_t *a, const uint64_t *b, size_t n,
                              const hers_modulus *m);
void hers_poly_dot_avx512(uint64_t *out, const uint64_t *add, const uint64_t *a, size_t as,
                          const uint64_t *b, size_t bs, size_t terms, size_t n,
                          const hers_modulus *m);
void hers_poly_dot2_avx512(uint64_t *out0, const uint64_t *add0, uint64_t *out1, const uint64_t *add1,
                           const uint64_t *a, size_t as, const uint64_t *b, const uint64_t *c,
                           size_t bs, size_t terms, size_t n, const hers_modulus *m);
void hers_poly_split_portable(uint64_t *c, uint64_t *r, const uint64_t *t, const uint64_t *m,
                              size_t n, const hers_modulus *q);
void hers_poly_split_avx512(uint64_t *c, uint64_t *r, const uint64_t *t, const uint64_t *m, size_t n,
                            const hers_modulus *q);
void hers_poly_switch_split_avx512(uint64_t *c0, uint64_t *c1, uint64_t *r0, uint64_t *r1,
                                   const uint64_t *t0, const uint64_t *dg, size_t ds,
                                   const uint64_t *kb, const uint64_t *ka, size_t ks, size_t terms,
                                   const uint64_t *mono, unsigned msh, size_t n,
                                   const hers_modulus *m);
void hers_poly_permute8_avx512(uint64_t *out, const uint64_t *in, const uint32_t *dst,
                               const uint8_t *sel, const int64_t *pats, size_t nv);
void hers_poly_balance_avx512(uint64_t *x, size_t n, uint64_t q, uint64_t H);
void hers_poly_digit_avx512(uint64_t *out, const uint64_t *y, unsigned sh, uint64_t mask, uint64_t c,
                            uint64_t q, size_t n);
/* floor((2^K x' + (q - 1)/2) / q) mod 2^K, x' = x mod q, q odd < 2^63,
 * K <= 52, sc = 2^K / q in double: a double estimate of the quotient (off
 * by a unit or two: K <= 52 keeps 2^K x / q within the mantissa) corrected
 * with the exact 128-bit remainder; the corrections rarely run and their
 * branches predict well. */
static inline uint64_t hers_round_bits_one(uint64_t x, uint64_t q, unsigned K, double sc)
{
    uint64_t xc = x < q ? x : x % q;
    unsigned __int128 num = ((unsigned __int128)xc << K) + (q >> 1);
    uint64_t v = (uint64_t)(int64_t)((double)(int64_t)xc * sc + 0.5);
    unsigned __int128 pr = (unsigned __int128)v * q;
    while (pr > num) {
        v--;
        pr -= q;
    }
    while (num - pr >= q) {
        v++;
        pr += q;
    }
    return v & ((UINT64_C(1) << K) - 1);
}
void hers_poly_round_bits_q_portable(uint64_t *y, const uint64_t *x, size_t n, uint64_t q,
                                     unsigned K, unsigned keep);
void hers_poly_round_bits_q_avx512(uint64_t *y, const uint64_t *x, size_t n, uint64_t q, unsigned K,
                                   unsigned keep);
void hers_poly_mul_scalar_avx512(uint64_t *out, const uint64_t *a, uint64_t s, size_t n,
                                 const hers_modulus *m);

#endif
