/*
 * poly.c - coefficient-wise polynomial arithmetic mod one prime
 * (hers_ntt.h): add, sub, neg, pointwise mul, mul-accumulate, scalar mul.
 *
 * Inputs and outputs are fully reduced in [0, q); out may alias inputs.
 * Pointwise products use Barrett reduction (floor(2^128/q)); the scalar
 * product uses one Shoup constant. All branch-free in the data.
 */
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

void hers_poly_mul_portable(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                            const hers_modulus *q)
{
    for (size_t i = 0; i < n; i++)
        out[i] = hers_mul_mod(a[i], b[i], q);
}

void hers_poly_mul_acc_portable(uint64_t *acc, const uint64_t *a, const uint64_t *b, size_t n,
                                const hers_modulus *q)
{
    const uint64_t qv = q->value;
    for (size_t i = 0; i < n; i++)
        acc[i] = hers_add_mod(acc[i], hers_mul_mod(a[i], b[i], q), qv);
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

void hers_poly_mul_scalar(uint64_t *out, const uint64_t *a, uint64_t s, size_t n,
                          const hers_modulus *q)
{
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
