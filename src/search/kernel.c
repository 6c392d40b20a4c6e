/* kernel.c - run-time selection of the search kernels (search_kernel.h). */
#include <string.h>

#include "search/search_kernel.h"

hers_kernel_ee_fn *hers_kernel_ee_select(hers_simd level, int narrow)
{
    if (narrow)
        return level >= HERS_SIMD_AVX512 ? hers_kernel_ee_narrow_avx512
               : level >= HERS_SIMD_AVX2 ? hers_kernel_ee_narrow_avx2
                                         : hers_kernel_ee_narrow_portable;
    switch (level) {
    case HERS_SIMD_AVX512: return hers_kernel_ee_avx512;
    case HERS_SIMD_AVX2: return hers_kernel_ee_avx2;
    default: return hers_kernel_ee_portable;
    }
}

hers_kernel_pe_fn *hers_kernel_pe_select(hers_simd level, int narrow)
{
    if (narrow)
        return level >= HERS_SIMD_AVX512 ? hers_kernel_pe_narrow_avx512
               : level >= HERS_SIMD_AVX2 ? hers_kernel_pe_narrow_avx2
                                         : hers_kernel_pe_narrow_portable;
    switch (level) {
    case HERS_SIMD_AVX512: return hers_kernel_pe_avx512;
    case HERS_SIMD_AVX2: return hers_kernel_pe_avx2;
    default: return hers_kernel_pe_portable;
    }
}

hers_kernel_ee_multi_fn *hers_kernel_ee_multi_select(hers_simd level, int narrow)
{
    if (level < HERS_SIMD_AVX512)
        return NULL;
    return narrow ? hers_kernel_ee_multi_narrow_avx512 : hers_kernel_ee_multi_avx512;
}

hers_kernel_pe_multi_fn *hers_kernel_pe_multi_select(hers_simd level, int narrow)
{
    if (level < HERS_SIMD_AVX512)
        return NULL;
    return narrow ? hers_kernel_pe_multi_narrow_avx512 : hers_kernel_pe_multi_avx512;
}

/* floor(w 2^52 / q), w < q */
static uint64_t shoup52(uint64_t w, uint64_t q)
{
    return (uint64_t)(((unsigned __int128)w << 52) / q);
}

hers_kernel_tiles_fn *hers_kernel_tiles_select(hers_simd level, int narrow, int ee)
{
    if (level < HERS_SIMD_AVX512)
        return NULL;
    if (!narrow)
        return ee ? hers_kernel_ee_tiles_avx512 : hers_kernel_pe_tiles_avx512;
    return ee ? hers_kernel_ee_tiles_narrow_avx512 : hers_kernel_pe_tiles_narrow_avx512;
}

hers_kernel_streams_fn *hers_kernel_streams_select(hers_simd level, int narrow, int ee)
{
    if (level < HERS_SIMD_AVX512 || narrow)
        return NULL;
    return ee ? hers_kernel_ee_streams_avx512 : hers_kernel_pe_streams_avx512;
}

void hers_kmod_init(hers_kmod *m, uint64_t q)
{
    m->q = q;
    m->bar = (uint64_t)(((unsigned __int128)1 << 64) / q);
    m->r64 = (uint64_t)(0 - q * m->bar); /* 2^64 - q floor(2^64/q) < q */
    m->r64_shoup = hers_shoup_precompute(m->r64, q);
    m->r32 = (UINT64_C(1) << 32) % q;
    m->f52 = (uint64_t)(((unsigned __int128)1 << 52) % q);
    m->f104 = (uint64_t)(((unsigned __int128)m->f52 << 52) % q);
    m->f1s = shoup52(1, q);
    m->f52s = shoup52(m->f52, q);
    m->f104s = shoup52(m->f104, q);
}

static int probe_n512(hers_simd level, int narrow)
{
    return narrow && level >= HERS_SIMD_AVX512;
}

size_t hers_kernel_probe_rows(hers_simd level, int narrow)
{
    return probe_n512(level, narrow) ? 3 : 2;
}

void hers_kernel_probe_put(hers_simd level, int narrow, uint64_t q, uint64_t *tile, size_t d,
                           size_t j, size_t i, const uint64_t y0[HERS_TILE],
                           const uint64_t y1[HERS_TILE])
{
    if (!probe_n512(level, narrow)) {
        memcpy(tile + HERS_TILE_EE(d, j, i, 0), y0, HERS_TILE * sizeof(uint64_t));
        memcpy(tile + HERS_TILE_EE(d, j, i, 1), y1, HERS_TILE * sizeof(uint64_t));
        return;
    }
    uint64_t *a = tile + HERS_PTILE_N512(d, j, i, 0), *b = a + HERS_TILE, *s = b + HERS_TILE;
    for (int l = 0; l < HERS_NROW; l++) {
        a[l] = y0[l];
        a[HERS_NROW + l] = y1[l];
        b[l] = y0[HERS_NROW + l];
        b[HERS_NROW + l] = y1[HERS_NROW + l];
    }
    for (int l = 0; l < HERS_TILE; l++) /* y0, y1 < q: no secret-dependent branch */
        s[l] = hers_add_mod(y0[l], y1[l], q);
}

void hers_kernel_fence(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#endif
}
