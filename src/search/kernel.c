/* kernel.c - run-time selection of the search kernels (search_kernel.h). */
#include <string.h>

#include "search/search_kernel.h"

hers_kernel_ee_fn *hers_kernel_ee_select(hers_simd level, int narrow)
{
    if (narrow)
        return level >= HERS_SIMD_AVX2 ? hers_kernel_ee_narrow_avx2 : hers_kernel_ee_narrow_portable;
    switch (level) {
    case HERS_SIMD_AVX512: return hers_kernel_ee_avx512;
    case HERS_SIMD_AVX2: return hers_kernel_ee_avx2;
    default: return hers_kernel_ee_portable;
    }
}

hers_kernel_pe_fn *hers_kernel_pe_select(hers_simd level, int narrow)
{
    if (narrow)
        return level >= HERS_SIMD_AVX2 ? hers_kernel_pe_narrow_avx2 : hers_kernel_pe_narrow_portable;
    switch (level) {
    case HERS_SIMD_AVX512: return hers_kernel_pe_avx512;
    case HERS_SIMD_AVX2: return hers_kernel_pe_avx2;
    default: return hers_kernel_pe_portable;
    }
}

hers_kernel_ee_multi_fn *hers_kernel_ee_multi_select(hers_simd level, int narrow)
{
    return !narrow && level == HERS_SIMD_AVX512 ? hers_kernel_ee_multi_avx512 : NULL;
}

hers_kernel_pe_multi_fn *hers_kernel_pe_multi_select(hers_simd level, int narrow)
{
    return !narrow && level == HERS_SIMD_AVX512 ? hers_kernel_pe_multi_avx512 : NULL;
}

void hers_kmod_init(hers_kmod *m, uint64_t q)
{
    m->q = q;
    m->bar = (uint64_t)(((unsigned __int128)1 << 64) / q);
    m->r64 = (uint64_t)(0 - q * m->bar); /* 2^64 - q floor(2^64/q) < q */
    m->r64_shoup = hers_shoup_precompute(m->r64, q);
    m->r32 = (UINT64_C(1) << 32) % q;
}

size_t hers_kernel_probe_rows(hers_simd level)
{
    (void)level; /* every level uses the canonical rows today */
    return 2;
}

void hers_kernel_probe_put(hers_simd level, uint64_t *tile, size_t d, size_t j, size_t i,
                           const uint64_t y0[HERS_TILE], const uint64_t y1[HERS_TILE])
{
    (void)level;
    memcpy(tile + HERS_TILE_EE(d, j, i, 0), y0, HERS_TILE * sizeof(uint64_t));
    memcpy(tile + HERS_TILE_EE(d, j, i, 1), y1, HERS_TILE * sizeof(uint64_t));
}

void hers_kernel_fence(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#endif
}
