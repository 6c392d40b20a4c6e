/*
 * hers_rns.h - residue number system (RNS) bases: CRT composition, exact
 * fast base conversion and scale-and-round, after Halevi, Polyakov and Shoup
 * ("An Improved RNS Variant of the BFV Homomorphic Encryption Scheme",
 * CT-RSA 2019), with 128-bit fixed-point fractions instead of doubles.
 *
 * A base is k distinct primes m_0..m_{k-1} (each in [2, 2^62)), M their
 * product. A value x in [0, M) is held as residues x_i = x mod m_i; arrays of
 * n values are prime-major (residue j of modulus i at [i*n + j]), all
 * residues fully reduced.
 *
 * Every routine writes y_i = [x_i * (M/m_i)^-1]_{m_i}, so that
 *   x = sum_i y_i * (M/m_i) - v*M,   v = floor(sum_i y_i/m_i)  (x in [0,M))
 * and computes the fractional quantities sum_i y_i * (c_i/m_i) with c_i/m_i
 * held as a 128-bit fixed-point fraction. The error of such a sum is below
 * k * 2^-77 (y_i < 2^62, fractions truncated at 2^-128, and the
 * accumulation is exact), so a rounding or a choice of v is wrong only if the
 * exact value lies within k*2^-77 of a rounding boundary; for the uses in
 * BFV (values far from +-M/2, fractions with denominator M) this never
 * occurs in practice, and when it does the result is off by one unit in one
 * coefficient (one more unit of noise), never out of range.
 *
 * The portable code is constant-time in the data. The AVX2 kernels (used
 * when every modulus is below 2^50 and k <= 7) evaluate the fraction sums in
 * doubles and branch to the exact fixed-point code only for lanes within
 * 2^-40 of a rounding boundary, so results are bit-identical at every SIMD
 * level. Objects are immutable after creation (thread-safe).
 */
#ifndef HERS_RNS_H
#define HERS_RNS_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_modarith.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_RNS_MAX 40        /* moduli in one base */
#define HERS_RNS_MAX_LIMBS 40  /* 64-bit limbs of a base product (<= 40*62 bits) */

typedef struct hers_rns_base {
    size_t k;
    hers_modulus m[HERS_RNS_MAX];
    uint64_t mhat_inv[HERS_RNS_MAX];       /* (M/m_i)^-1 mod m_i */
    uint64_t mhat_inv_shoup[HERS_RNS_MAX];
    /* 1/m_i as a 128-bit fraction floor(2^128/m_i): [0] low, [1] high word. */
    uint64_t inv_m[HERS_RNS_MAX][2];
    size_t limbs;                          /* limbs of M */
    uint64_t prod[HERS_RNS_MAX_LIMBS];     /* M, little-endian 64-bit limbs */
    uint64_t *mhat;                        /* k x limbs: M/m_i (hers_alloc) */
    double log2_prod;                      /* log2 M */
} hers_rns_base;

/* k distinct primes (or pairwise coprime moduli) in [2, 2^62), 1 <= k <=
 * HERS_RNS_MAX. HERS_ERR_ARG otherwise. */
HERS_API hers_status hers_rns_base_create(hers_rns_base **out, const uint64_t *moduli, size_t k);
HERS_API void hers_rns_base_free(hers_rns_base *b);

/* CRT composition of one value: residues r[0..k-1] (stride `stride` between
 * consecutive moduli, i.e. r[i*stride]) -> x in [0, M) as b->limbs limbs. */
HERS_API void hers_rns_compose(const hers_rns_base *b, const uint64_t *r, size_t stride, uint64_t *x);

/* Fast base conversion from base `from` to the moduli `to` (exact). */
typedef struct hers_rns_conv {
    const hers_rns_base *from;
    size_t k_to;
    hers_modulus to[HERS_RNS_MAX];
    uint64_t *mhat_mod;    /* [i*k_to + j] = (M/m_i) mod to_j */
    uint64_t m_mod[HERS_RNS_MAX]; /* M mod to_j */
} hers_rns_conv;

HERS_API hers_status hers_rns_conv_create(hers_rns_conv **out, const hers_rns_base *from, const uint64_t *to,
                                          size_t k_to);
HERS_API void hers_rns_conv_free(hers_rns_conv *c);

/* in: from->k polys of n residues; out: k_to polys of n residues (must not
 * alias in). centered = 0: converts x in [0, M); centered = 1: converts the
 * representative of x in [-M/2, M/2). */
HERS_API void hers_rns_convert(const hers_rns_conv *c, const uint64_t *in, uint64_t *out, size_t n,
                               int centered);

/*
 * Scale-and-round: for x held in a base A = D*E whose first kd moduli make
 * D and the remaining ones E, computes round(T*x/D) for x in [0, A) (HPS
 * "ScaleAndRound"), reduced
 *   - mod each modulus of E (E not empty; out has k-kd polys), or
 *   - mod T itself (E empty, i.e. kd = k; out has one poly; any T >= 2).
 * T < 2^62. For a centred x in [-A/2, A/2) the result is round(T*x/D) for
 * that representative as long as T*A/D is a multiple of every output
 * modulus, which holds in both cases.
 */
typedef struct hers_rns_scaler {
    const hers_rns_base *in;
    size_t kd;
    uint64_t T;
    size_t k_out;
    hers_modulus out[HERS_RNS_MAX];
    uint64_t theta[HERS_RNS_MAX][2];  /* frac(T*E/d_i) as 128-bit fraction, [1] high */
    uint64_t *omega;                  /* [i*k_out + j] = floor(T*E/d_i) mod out_j */
    uint64_t self[HERS_RNS_MAX];      /* E case: T * D^-1 mod e_j */
    uint64_t self_shoup[HERS_RNS_MAX];
} hers_rns_scaler;

HERS_API hers_status hers_rns_scaler_create(hers_rns_scaler **out, const hers_rns_base *in, size_t kd, uint64_t T);
HERS_API void hers_rns_scaler_free(hers_rns_scaler *s);
HERS_API void hers_rns_scale_round(const hers_rns_scaler *s, const uint64_t *in, uint64_t *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* HERS_RNS_H */
