/*
 * kernel_avx512_fold.h - the AVX-512 IFMA vector fold of the search kernels:
 * (lo + 2^52 hi) mod q in [0, q) for lo < 2^62, hi < 2^60 and any q < 2^50,
 * the canonical residue (equal to the scalar hers_kernel_fold). Shared by
 * the wide multi-probe kernels (kernel_avx512_body.h, whose comment derives
 * it) and the narrow AVX-512 kernels (kernel_narrow_avx512.c). Include after
 * <immintrin.h> or the test emulation (tests/support/search_avx512_emul.h),
 * and after search/search_kernel.h.
 */
#ifndef HERS_KERNEL_AVX512_FOLD_H
#define HERS_KERNEL_AVX512_FOLD_H

#define IFMA_M52 ((UINT64_C(1) << 52) - 1)

/* The constants of the vector fold for one modulus q < 2^50. */
typedef struct ifma_fold_consts {
    __m512i q, q2, q4, m52;
    __m512i w1, w1s;    /* 1 and floor(2^52 / q) */
    __m512i w52, w52s;  /* 2^52 mod q and its Shoup factor */
    __m512i w104, w104s; /* 2^104 mod q and its Shoup factor */
} ifma_fold_consts;

/* Broadcasts the fold constants of m (precomputed by hers_kmod_init: no
 * division per kernel call). */
static inline void ifma_fold_init(ifma_fold_consts *c, const hers_kmod *m)
{
    uint64_t q = m->q;
    c->q = _mm512_set1_epi64((long long)q);
    c->q2 = _mm512_set1_epi64((long long)(2 * q));
    c->q4 = _mm512_set1_epi64((long long)(4 * q));
    c->m52 = _mm512_set1_epi64((long long)IFMA_M52);
    c->w1 = _mm512_set1_epi64(1);
    c->w1s = _mm512_set1_epi64((long long)m->f1s);
    c->w52 = _mm512_set1_epi64((long long)m->f52);
    c->w52s = _mm512_set1_epi64((long long)m->f52s);
    c->w104 = _mm512_set1_epi64((long long)m->f104);
    c->w104s = _mm512_set1_epi64((long long)m->f104s);
}

/* x w mod q in [0, 2q), x < 2^52 (see above). */
static inline __m512i ifma_mulmod_lazy(__m512i x, __m512i w, __m512i ws, const ifma_fold_consts *c)
{
    __m512i z = _mm512_setzero_si512();
    __m512i qe = _mm512_madd52hi_epu64(z, x, ws);
    __m512i r = _mm512_sub_epi64(_mm512_madd52lo_epu64(z, x, w), _mm512_madd52lo_epu64(z, qe, c->q));
    return _mm512_and_si512(r, c->m52);
}

/* min(s, s - c): s - c when s >= c (unsigned), else s. */
static inline __m512i ifma_csub(__m512i s, __m512i c)
{
    return _mm512_min_epu64(s, _mm512_sub_epi64(s, c));
}

/* (lo + 2^52 hi) mod q in [0, q), lo < 2^62, hi < 2^60. */
static inline __m512i ifma_fold_vec(__m512i lo, __m512i hi, const ifma_fold_consts *c)
{
    __m512i l = _mm512_and_si512(lo, c->m52);
    __m512i h = _mm512_add_epi64(hi, _mm512_srli_epi64(lo, 52));
    __m512i a = _mm512_and_si512(h, c->m52), b = _mm512_srli_epi64(h, 52);
    __m512i s = ifma_mulmod_lazy(l, c->w1, c->w1s, c);
    s = _mm512_add_epi64(s, ifma_mulmod_lazy(a, c->w52, c->w52s, c));
    s = _mm512_add_epi64(s, ifma_mulmod_lazy(b, c->w104, c->w104s, c));
    s = ifma_csub(s, c->q4);
    s = ifma_csub(s, c->q2);
    return ifma_csub(s, c->q);
}

/* (x - y) mod q for x, y in [0, q). */
static inline __m512i ifma_submod(__m512i x, __m512i y, const ifma_fold_consts *c)
{
    return ifma_csub(_mm512_sub_epi64(_mm512_add_epi64(x, c->q), y), c->q);
}

#endif
