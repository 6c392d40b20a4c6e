/*
 * hers_ntt.h - negacyclic number-theoretic transform over Z_q[X]/(X^n + 1)
 * and coefficient-wise polynomial arithmetic mod one prime.
 *
 * n is a power of two in [16, 32768]; q is prime, q = 1 (mod 2n), q < 2^62
 * (the AVX2 and AVX-512 IFMA kernels are used for q < 2^50; larger q fall
 * back to the portable code, which is also the reference for bit-identity).
 * The pointwise products require reduced inputs (in [0, q)) at every level.
 *
 * Order convention: hers_ntt_forward takes coefficients in standard order
 * and returns evaluations a(psi^(2*brv(i)+1)) in bit-reversed order (psi a
 * primitive 2n-th root of unity); hers_ntt_inverse takes that order back to
 * standard-order coefficients (including the 1/n factor). Pointwise products
 * in between compute negacyclic products. Both are in place; inputs and
 * outputs are fully reduced in [0, q).
 *
 * Every function dispatches on hers_simd_active(); all levels produce
 * bit-identical output. Tables are immutable after creation and may be shared
 * by threads.
 */
#ifndef HERS_NTT_H
#define HERS_NTT_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_modarith.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hers_ntt_table {
    size_t n;
    int log_n;
    hers_modulus q;
    uint64_t psi;            /* the primitive 2n-th root used */
    uint64_t *roots;         /* n: psi^brv(i), bit-reversed, forward twiddles */
    uint64_t *roots_shoup;   /* n: Shoup constants of roots */
    uint64_t *iroots;        /* n: inverse twiddles, in the order the inverse uses */
    uint64_t *iroots_shoup;
    uint64_t n_inv;          /* n^-1 mod q */
    uint64_t n_inv_shoup;
    void *simd;              /* level-specific precomputation (may be NULL) */
} hers_ntt_table;

HERS_API hers_status hers_ntt_table_create(hers_ntt_table **out, size_t n, uint64_t q);
HERS_API void hers_ntt_table_free(hers_ntt_table *t);

HERS_API void hers_ntt_forward(const hers_ntt_table *t, uint64_t *a);
HERS_API void hers_ntt_inverse(const hers_ntt_table *t, uint64_t *a);
/* Out-of-place inverse: dst = inverse NTT of src (n values each; dst == src
 * allowed, other overlaps not). Same result as copying, then
 * hers_ntt_inverse; saves the copy on the AVX2 and IFMA paths. */
HERS_API void hers_ntt_inverse_to(const hers_ntt_table *t, const uint64_t *src, uint64_t *dst);

/* Coefficient-wise, length n, all values in [0, q), out may alias inputs. */
HERS_API void hers_poly_add(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n, const hers_modulus *q);
HERS_API void hers_poly_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n, const hers_modulus *q);
HERS_API void hers_poly_neg(uint64_t *out, const uint64_t *a, size_t n, const hers_modulus *q);
/* out = a * b (pointwise; NTT domain multiplication). */
HERS_API void hers_poly_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n, const hers_modulus *q);
/* acc = acc + a * b (pointwise). */
HERS_API void hers_poly_mul_acc(uint64_t *acc, const uint64_t *a, const uint64_t *b, size_t n, const hers_modulus *q);
/* Sum of products (the multiply-accumulate of key switching, reduced once
 * per coefficient instead of once per term): out[i] = add[i] (0 if add is
 * NULL) + sum_{t < terms} a[t as + i] b[t bs + i] mod q, for inputs in
 * [0, q); out may alias add (not a or b). Bit-identical at every level. */
HERS_API void hers_poly_dot(uint64_t *out, const uint64_t *add, const uint64_t *a, size_t as,
                            const uint64_t *b, size_t bs, size_t terms, size_t n,
                            const hers_modulus *q);
/* Two sums over the same a_t (key switching's two output parts, reading
 * a once): out0 = add0 + sum_t a_t b_t, out1 = add1 + sum_t a_t c_t (a NULL
 * add counts as 0), b_t and c_t both at stride bs. out0 / out1 may alias
 * add0 / add1. */
HERS_API void hers_poly_dot2(uint64_t *out0, const uint64_t *add0, uint64_t *out1, const uint64_t *add1,
                             const uint64_t *a, size_t as, const uint64_t *b, const uint64_t *c,
                             size_t bs, size_t terms, size_t n, const hers_modulus *q);
/* Key-switching digits. hers_poly_balance: x = x + H - (x > floor(q/2) ? q : 0)
 * for x in [0, q), H < 2^63 - q (the centred residue shifted up by H);
 * hers_poly_digit: out = u + c mod q with u = (y >> sh) & mask, sh < 64,
 * for u + c < 2q (the balanced digit u - 2^(w-1) with c = q - 2^(w-1)). */
HERS_API void hers_poly_balance(uint64_t *x, size_t n, uint64_t q, uint64_t H);
HERS_API void hers_poly_digit(uint64_t *out, const uint64_t *y, unsigned sh, uint64_t mask, uint64_t c,
                              uint64_t q, size_t n);
/* Rounding to K bits modulo one odd prime q < 2^63, K in [1, 52], keep in
 * [1, K]: v = round(2^K x / q) mod 2^K = floor((2^K x + (q - 1)/2) / q)
 * mod 2^K (x taken mod q), then its low `keep` bits, written as
 * y[c] = v mod 2^32, y[n + c] = v >> 32 (the compact records' two planes:
 * hers_poly_round_bits at one prime, the result window). */
HERS_API void hers_poly_round_bits_q(uint64_t *y, const uint64_t *x, size_t n, uint64_t q, unsigned K,
                                     unsigned keep);
/* The split of a node of the query expansion, in one pass: with c, t, m in
 * [0, q): r = (c - t) m, then c = c + t (r must not alias c or t). */
HERS_API void hers_poly_split(uint64_t *c, uint64_t *r, const uint64_t *t, const uint64_t *m, size_t n,
                              const hers_modulus *q);
/* The key switch (one prime) and the split of an expansion node in one
 * pass: T0 = t0 + sum_{u < terms} dg[u ds + i] kb[u ks + i],
 * T1 = sum_u dg[u ds + i] ka[u ks + i] (as hers_poly_dot2), then with
 * M = mono[i >> msh]: r0 = (c0 - T0) M, c0 = c0 + T0, r1 = (c1 - T1) M,
 * c1 = c1 + T1 (as hers_poly_split). All inputs in [0, q); r0, r1 must not
 * alias an input. msh lets a monomial's NTT, constant over runs of 2^msh
 * (x^-h, h = 2^msh, in the bit-reversed order), be stored once per run. */
HERS_API void hers_poly_switch_split(uint64_t *c0, uint64_t *c1, uint64_t *r0, uint64_t *r1,
                                     const uint64_t *t0, const uint64_t *dg, size_t ds,
                                     const uint64_t *kb, const uint64_t *ka, size_t ks, size_t terms,
                                     const uint64_t *mono, unsigned msh, size_t n,
                                     const hers_modulus *q);
/* Permutation by 8-word blocks (the NTT-domain Galois automorphisms of the
 * query expansion move whole blocks, permuting the lanes of each): for every
 * block v < nv, out[8 dst[v] + l] = in[8 v + pats[8 sel[v] + l]], l < 8,
 * with pats entries in [0, 8). out must not alias in. */
HERS_API void hers_poly_permute8(uint64_t *out, const uint64_t *in, const uint32_t *dst,
                                 const uint8_t *sel, const int64_t *pats, size_t nv);
/* out = a * s for a scalar s in [0, q). */
HERS_API void hers_poly_mul_scalar(uint64_t *out, const uint64_t *a, uint64_t s, size_t n, const hers_modulus *q);
/* out = a * s + e mod q for a scalar s in [0, q) and small signed e
 * (|e| <= 127, q > 256): the scaled message plus the error of an
 * encryption, in one pass. */
HERS_API void hers_poly_mul_scalar_add_small(uint64_t *out, const uint64_t *a, uint64_t s, const int8_t *e,
                                             size_t n, const hers_modulus *q);

#ifdef __cplusplus
}
#endif
#endif /* HERS_NTT_H */
