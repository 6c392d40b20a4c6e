/*
 * kernel_narrow_portable.c - the fused search kernels over the narrow
 * gallery form (every q_j < 2^30, two residues per word; search_kernel.h) in
 * portable C. Products are < 2^60 and d <= 1024 = 2^10 dimensions, so each
 * 128-bit sum stays below 2^72 (S1: two products per dimension): exact.
 */
#include "search/search_kernel.h"

typedef unsigned __int128 u128;

void hers_kernel_ee_narrow_portable(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                    const hers_kmod *mods, uint64_t *out, size_t stride)
{
    for (size_t j = 0; j < k; j++) {
        const hers_kmod *m = &mods[j];
        for (int l = 0; l < HERS_TILE; l++) {
            u128 a0 = 0, a1 = 0, a2 = 0;
            for (size_t i = 0; i < d; i++) {
                uint64_t x0 = hers_narrow_lane(g + HERS_NTILE_EE(d, j, i, 0), l);
                uint64_t x1 = hers_narrow_lane(g + HERS_NTILE_EE(d, j, i, 1), l);
                uint64_t y0 = p[HERS_TILE_EE(d, j, i, 0) + (size_t)l];
                uint64_t y1 = p[HERS_TILE_EE(d, j, i, 1) + (size_t)l];
                a0 += x0 * y0;                  /* each product < 2^60 */
                a1 += (u128)(x0 * y1) + x1 * y0;
                a2 += x1 * y1;
            }
            out[j * stride + (size_t)l] = hers_kmod_reduce_u128(a0, m);
            out[(k + j) * stride + (size_t)l] = hers_kmod_reduce_u128(a1, m);
            out[(2 * k + j) * stride + (size_t)l] = hers_kmod_reduce_u128(a2, m);
        }
    }
}

void hers_kernel_pe_narrow_portable(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                    const hers_kmod *mods, uint64_t *out, size_t stride)
{
    for (size_t j = 0; j < k; j++)
        for (int l = 0; l < HERS_TILE; l++) {
            u128 a0 = 0, a1 = 0;
            for (size_t i = 0; i < d; i++) {
                uint64_t x = hers_narrow_lane(g + HERS_NTILE_PG(d, j, i), l);
                a0 += x * p[HERS_TILE_EE(d, j, i, 0) + (size_t)l];
                a1 += x * p[HERS_TILE_EE(d, j, i, 1) + (size_t)l];
            }
            out[j * stride + (size_t)l] = hers_kmod_reduce_u128(a0, &mods[j]);
            out[(k + j) * stride + (size_t)l] = hers_kmod_reduce_u128(a1, &mods[j]);
        }
}
