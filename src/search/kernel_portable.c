/*
 * kernel_portable.c - the fused search kernels in portable C (64x64->128-bit
 * products, 128-bit accumulators). Layout and contract: search_kernel.h.
 *
 * Ranges (q < 2^50, d <= HERS_KERNEL_MAX_D = 1024 = 2^10):
 *   S0, S2: d products of two values < 2^50, each < 2^100: sum < 2^110;
 *   S1: (P0 + P1) and (G0 + G1) < 2^51, product < 2^102: sum < 2^112;
 * all far below 2^128, so the 128-bit accumulators never wrap and the
 * final sums are exact.
 */
#include "search/search_kernel.h"

typedef unsigned __int128 u128;

void hers_kernel_ee_portable(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                             const hers_kmod *mods, uint64_t *out, size_t stride)
{
    const size_t step = 2 * HERS_TILE; /* words between dimensions */
    for (size_t j = 0; j < k; j++) {
        const uint64_t *g0 = g + HERS_TILE_EE(d, j, 0, 0), *g1 = g + HERS_TILE_EE(d, j, 0, 1);
        const uint64_t *p0 = p + HERS_TILE_EE(d, j, 0, 0), *p1 = p + HERS_TILE_EE(d, j, 0, 1);
        for (size_t l = 0; l < HERS_TILE; l += 2) {
            /* two lanes at once: more independent multiplies in flight */
            u128 a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, b2 = 0;
            for (size_t i = 0, o = l; i < d; i++, o += step) {
                uint64_t x0 = g0[o], x1 = g1[o], y0 = p0[o], y1 = p1[o];
                a0 += (u128)x0 * y0;
                a2 += (u128)x1 * y1;
                a1 += (u128)(x0 + x1) * (y0 + y1);
                x0 = g0[o + 1], x1 = g1[o + 1], y0 = p0[o + 1], y1 = p1[o + 1];
                b0 += (u128)x0 * y0;
                b2 += (u128)x1 * y1;
                b1 += (u128)(x0 + x1) * (y0 + y1);
            }
            const hers_kmod *m = &mods[j];
            uint64_t r0 = hers_kmod_reduce_u128(a0, m), r2 = hers_kmod_reduce_u128(a2, m);
            uint64_t r1 = hers_kernel_mid(hers_kmod_reduce_u128(a1, m), r0, r2, m->q);
            out[j * stride + l] = r0;
            out[(k + j) * stride + l] = r1;
            out[(2 * k + j) * stride + l] = r2;
            r0 = hers_kmod_reduce_u128(b0, m), r2 = hers_kmod_reduce_u128(b2, m);
            r1 = hers_kernel_mid(hers_kmod_reduce_u128(b1, m), r0, r2, m->q);
            out[j * stride + l + 1] = r0;
            out[(k + j) * stride + l + 1] = r1;
            out[(2 * k + j) * stride + l + 1] = r2;
        }
    }
}

void hers_kernel_pe_portable(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                             const hers_kmod *mods, uint64_t *out, size_t stride)
{
    const size_t gstep = HERS_TILE, pstep = 2 * HERS_TILE;
    for (size_t j = 0; j < k; j++) {
        const uint64_t *gj = g + HERS_TILE_PG(d, j, 0);
        const uint64_t *p0 = p + HERS_TILE_EE(d, j, 0, 0), *p1 = p + HERS_TILE_EE(d, j, 0, 1);
        for (size_t l = 0; l < HERS_TILE; l++) {
            u128 a0 = 0, a1 = 0;
            for (size_t i = 0; i < d; i++) {
                uint64_t x = gj[i * gstep + l];
                a0 += (u128)x * p0[i * pstep + l];
                a1 += (u128)x * p1[i * pstep + l];
            }
            out[j * stride + l] = hers_kmod_reduce_u128(a0, &mods[j]);
            out[(k + j) * stride + l] = hers_kmod_reduce_u128(a1, &mods[j]);
        }
    }
}
