/*
 * hers_modarith.h - modular arithmetic on word-size primes.
 *
 * Ranges: moduli q are odd primes with 2 <= q < 2^62 (lazy Harvey butterflies
 * keep values below 4q < 2^64). Primes below 2^50 also work with the AVX-512
 * IFMA (52-bit multiplier) kernels; the default parameter sets use those.
 * Unless a name says "lazy", inputs and outputs are fully reduced in [0, q).
 *
 * Barrett: hers_mul_mod uses the 128-bit constant floor(2^128 / q).
 * Shoup: for a fixed operand w in [0, q), w' = floor(w * 2^64 / q); then
 * hers_mul_shoup_lazy(a, w, w', q) returns a*w mod q in [0, 2q) for any
 * 64-bit a, with one high multiply, one low multiply and no division.
 * All functions here are constant-time in their arguments (no secret-
 * dependent branches or memory access), except prime generation.
 */
#ifndef HERS_MODARITH_H
#define HERS_MODARITH_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 128-bit unsigned integer (a GCC/Clang extension; __extension__ keeps
 * programs that include this header with -pedantic warning-free). */
__extension__ typedef unsigned __int128 hers_uint128;

typedef struct hers_modulus {
    uint64_t value;      /* q */
    uint64_t barrett_hi; /* floor(2^128 / q) >> 64 */
    uint64_t barrett_lo; /* floor(2^128 / q) mod 2^64 */
    int bits;            /* bit length of q */
} hers_modulus;

/* q in [2, 2^62). HERS_ERR_ARG otherwise. */
HERS_API hers_status hers_modulus_init(hers_modulus *m, uint64_t q);

/* Constant-time select: returns mask ? a : b (mask is 0 or all ones). */
static inline uint64_t hers_consttime_select(uint64_t mask, uint64_t a, uint64_t b)
{
    return b ^ (mask & (a ^ b));
}

/* a, b in [0, q). */
static inline uint64_t hers_add_mod(uint64_t a, uint64_t b, uint64_t q)
{
    uint64_t s = a + b - q;
    return s + (q & (0 - (s >> 63)));
}

static inline uint64_t hers_sub_mod(uint64_t a, uint64_t b, uint64_t q)
{
    uint64_t d = a - b;
    return d + (q & (0 - (d >> 63)));
}

static inline uint64_t hers_neg_mod(uint64_t a, uint64_t q)
{
    uint64_t nz = 0 - (uint64_t)(a != 0);
    return (q - a) & nz;
}

/* Reduces a 128-bit value x (hi:lo) mod q, any x < 2^128. */
static inline uint64_t hers_reduce128(uint64_t hi, uint64_t lo, const hers_modulus *m)
{
    hers_uint128 x = ((hers_uint128)hi << 64) | lo;
    /* quotient estimate floor(x * floor(2^128/q) / 2^128), off by at most 2 */
    hers_uint128 a = (hers_uint128)lo * m->barrett_lo;
    hers_uint128 b = (hers_uint128)lo * m->barrett_hi;
    hers_uint128 c = (hers_uint128)hi * m->barrett_lo;
    hers_uint128 d = (hers_uint128)hi * m->barrett_hi;
    hers_uint128 mid = (a >> 64) + (uint64_t)b + (uint64_t)c;
    hers_uint128 qt = d + (b >> 64) + (c >> 64) + (mid >> 64);
    uint64_t r = (uint64_t)(x - qt * m->value);
    r -= m->value & (0 - (uint64_t)(r >= m->value));
    r -= m->value & (0 - (uint64_t)(r >= m->value));
    return r;
}

/* a mod q for any 64-bit a. */
static inline uint64_t hers_reduce64(uint64_t a, const hers_modulus *m)
{
    return hers_reduce128(0, a, m);
}

/* a * b mod q; a, b any 64-bit values. */
static inline uint64_t hers_mul_mod(uint64_t a, uint64_t b, const hers_modulus *m)
{
    hers_uint128 p = (hers_uint128)a * b;
    return hers_reduce128((uint64_t)(p >> 64), (uint64_t)p, m);
}

/* Shoup precomputation for a fixed w in [0, q): floor(w * 2^64 / q). */
static inline uint64_t hers_shoup_precompute(uint64_t w, uint64_t q)
{
    return (uint64_t)(((hers_uint128)w << 64) / q);
}

/* a * w mod q in [0, 2q), a any 64-bit value, w in [0, q). */
static inline uint64_t hers_mul_shoup_lazy(uint64_t a, uint64_t w, uint64_t w_shoup, uint64_t q)
{
    uint64_t hi = (uint64_t)(((hers_uint128)a * w_shoup) >> 64);
    return a * w - hi * q;
}

/* a * w mod q in [0, q). */
static inline uint64_t hers_mul_shoup(uint64_t a, uint64_t w, uint64_t w_shoup, uint64_t q)
{
    uint64_t r = hers_mul_shoup_lazy(a, w, w_shoup, q);
    return r - (q & (0 - (uint64_t)(r >= q)));
}

/* base^exp mod q (exp public). */
HERS_API uint64_t hers_pow_mod(uint64_t base, uint64_t exp, const hers_modulus *m);
/* Inverse of a mod q (q prime, a != 0 mod q); 0 if a = 0 mod q. */
HERS_API uint64_t hers_inv_mod(uint64_t a, const hers_modulus *m);
/* a^-1 mod m for any modulus m >= 2 (extended Euclid; not constant
 * time: public values only); 0 if gcd(a, m) != 1. */
HERS_API uint64_t hers_inv_mod_any(uint64_t a, uint64_t m);

/* Deterministic Miller-Rabin, exact for every 64-bit n. */
HERS_API int hers_is_prime(uint64_t n);

/* Writes the `count` largest primes p < 2^bits with p = 1 (mod step), in
 * descending order, skipping any listed in `exclude` (may be NULL).
 * bits in [2, 62], step >= 2 even. HERS_ERR_PARAMS if too few exist. */
HERS_API hers_status hers_primes_below(int bits, uint64_t step, size_t count, const uint64_t *exclude,
                                       size_t exclude_count, uint64_t *out);

/* The smallest generator g of the multiplicative group mod prime q, then a
 * primitive `order`-th root of unity g^((q-1)/order) (order | q-1), chosen
 * as the minimal one among the primitive roots of that order so the choice is
 * canonical. HERS_ERR_ARG if order does not divide q-1. */
HERS_API hers_status hers_primitive_root(uint64_t q, uint64_t order, uint64_t *root);

#ifdef __cplusplus
}
#endif
#endif /* HERS_MODARITH_H */
