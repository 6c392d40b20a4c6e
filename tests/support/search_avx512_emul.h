/*
 * search_avx512_emul.h - scalar emulation of the few AVX-512 (F + IFMA)
 * intrinsics the search kernels use (src/search/kernel_avx512_body.h), so
 * their logic can be tested on CPUs without AVX-512. Semantics follow the
 * Intel Intrinsics Guide:
 *   vpmadd52luq: a + low 52 bits of (b[51:0] * c[51:0])
 *   vpmadd52huq: a + bits 103..52 of (b[51:0] * c[51:0])
 * Do not include together with <immintrin.h>.
 */
#ifndef HERS_SEARCH_AVX512_EMUL_H
#define HERS_SEARCH_AVX512_EMUL_H

#include <stdint.h>
#include <string.h>

typedef struct emul_m512i {
    uint64_t v[8];
} emul_m512i;

#define __m512i emul_m512i
#define EMUL_M52 ((UINT64_C(1) << 52) - 1)

static inline emul_m512i _mm512_setzero_si512(void)
{
    emul_m512i r;
    memset(&r, 0, sizeof r);
    return r;
}

static inline emul_m512i _mm512_load_si512(const void *p)
{
    emul_m512i r;
    /* the real instruction faults on a misaligned address: so do we */
    if ((uintptr_t)p % 64 != 0)
        __builtin_trap();
    memcpy(r.v, p, sizeof r.v);
    return r;
}

static inline void _mm512_storeu_si512(void *p, emul_m512i a)
{
    memcpy(p, a.v, sizeof a.v);
}

static inline emul_m512i _mm512_add_epi64(emul_m512i a, emul_m512i b)
{
    for (int i = 0; i < 8; i++)
        a.v[i] += b.v[i];
    return a;
}

static inline emul_m512i _mm512_set1_epi64(long long x)
{
    emul_m512i r;
    for (int i = 0; i < 8; i++)
        r.v[i] = (uint64_t)x;
    return r;
}

static inline emul_m512i _mm512_sub_epi64(emul_m512i a, emul_m512i b)
{
    for (int i = 0; i < 8; i++)
        a.v[i] -= b.v[i];
    return a;
}

static inline emul_m512i _mm512_and_si512(emul_m512i a, emul_m512i b)
{
    for (int i = 0; i < 8; i++)
        a.v[i] &= b.v[i];
    return a;
}

static inline emul_m512i _mm512_srli_epi64(emul_m512i a, unsigned int n)
{
    for (int i = 0; i < 8; i++)
        a.v[i] = n > 63 ? 0 : a.v[i] >> n;
    return a;
}

static inline emul_m512i _mm512_min_epu64(emul_m512i a, emul_m512i b)
{
    for (int i = 0; i < 8; i++)
        a.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
    return a;
}

static inline emul_m512i _mm512_madd52lo_epu64(emul_m512i a, emul_m512i b, emul_m512i c)
{
    for (int i = 0; i < 8; i++) {
        unsigned __int128 p = (unsigned __int128)(b.v[i] & EMUL_M52) * (c.v[i] & EMUL_M52);
        a.v[i] += (uint64_t)p & EMUL_M52;
    }
    return a;
}

static inline emul_m512i _mm512_madd52hi_epu64(emul_m512i a, emul_m512i b, emul_m512i c)
{
    for (int i = 0; i < 8; i++) {
        unsigned __int128 p = (unsigned __int128)(b.v[i] & EMUL_M52) * (c.v[i] & EMUL_M52);
        a.v[i] += (uint64_t)(p >> 52);
    }
    return a;
}

#endif
