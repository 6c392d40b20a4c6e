/*
 * kernel_avx2.c - the fused search kernels with AVX2 (4 lanes of 64 bits).
 * Layout and contract: search_kernel.h.
 *
 * AVX2 has no 64x64-bit multiply, only 32x32->64 (vpmuludq). A residue
 * x < 2^51 is split into limbs x = xl + 2^26 xh with xl < 2^26, xh < 2^25;
 * a product is accumulated as three 64-bit columns
 *   lo += xl yl,  mid += xl yh + xh yl,  hi += xh yh,
 * and the exact sum is lo + 2^26 mid + 2^52 hi (folded once per tile).
 * Ranges for d <= 1024 = 2^10 dimensions:
 *   lo:  xl yl < 2^52 per term, one term per dimension: < 2^62;
 *   mid: < 2 * 2^26 * 2^25 = 2^52 per dimension: < 2^62;
 *   hi:  < 2^50 per dimension: < 2^60;
 * so no 64-bit column wraps. S1 uses the sums G0 + G1 and P0 + P1 (< 2^51),
 * which the limb bounds above already cover. (A probe tile pre-split into
 * limbs, with the Karatsuba sum precomputed, saves 9 of 45 instructions per
 * iteration but triples the probe's cache footprint; it measured slower,
 * 6.1-15 vs 4.9-6.6 ns per template x dimension, so both operands are split
 * here. Re-checked with a packed-limb probe (yl | yh << 32, 1.5x footprint):
 * 9% fewer instructions, same time; and a limb-level Karatsuba product (3
 * vpmuludq instead of 4): no gain. Streaming from DRAM the kernel is bound by
 * the memory stream, not by its multiplies; docs/benchmarks.md, "Search".)
 */
#include <immintrin.h>

#include "search/search_kernel.h"

#define MASK26 ((1LL << 26) - 1)

struct acc3 {
    __m256i lo, mid, hi;
};

static inline void mac(struct acc3 *a, __m256i x, __m256i y, __m256i mask)
{
    __m256i xl = _mm256_and_si256(x, mask), xh = _mm256_srli_epi64(x, 26);
    __m256i yl = _mm256_and_si256(y, mask), yh = _mm256_srli_epi64(y, 26);
    a->lo = _mm256_add_epi64(a->lo, _mm256_mul_epu32(xl, yl));
    a->mid = _mm256_add_epi64(a->mid, _mm256_add_epi64(_mm256_mul_epu32(xl, yh),
                                                       _mm256_mul_epu32(xh, yl)));
    a->hi = _mm256_add_epi64(a->hi, _mm256_mul_epu32(xh, yh));
}

static inline void fold_store(const struct acc3 *a, const hers_kmod *m, uint64_t r[4])
{
    uint64_t lo[4], mid[4], hi[4];
    _mm256_storeu_si256((__m256i *)lo, a->lo);
    _mm256_storeu_si256((__m256i *)mid, a->mid);
    _mm256_storeu_si256((__m256i *)hi, a->hi);
    for (int l = 0; l < 4; l++)
        r[l] = hers_kernel_fold(lo[l], mid[l], 26, hi[l], 52, m);
}

#define LD(ptr) _mm256_load_si256((const __m256i *)(ptr))

void hers_kernel_ee_avx2(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                         const hers_kmod *mods, uint64_t *out, size_t stride)
{
    /* pf: prefetch distance, two tiles of this layout ahead */
    const size_t step = 2 * HERS_TILE, pf = 4 * HERS_TILE * d * k;
    const __m256i mask = _mm256_set1_epi64x(MASK26);
    for (size_t j = 0; j < k; j++) {
        for (size_t h = 0; h < HERS_TILE; h += 4) {
            const uint64_t *g0 = g + HERS_TILE_EE(d, j, 0, 0) + h;
            const uint64_t *p0 = p + HERS_TILE_EE(d, j, 0, 0) + h;
            struct acc3 s0 = {_mm256_setzero_si256(), _mm256_setzero_si256(),
                              _mm256_setzero_si256()};
            struct acc3 s1 = s0, s2 = s0;
            for (size_t i = 0; i < d; i++, g0 += step, p0 += step) {
                /* the lines of this (dimension, prime) in the next-but-one
                 * tile, one per iteration in either pass (g0 is offset by h:
                 * part 0's line in the first pass, part 1's in the second), so
                 * that misses are requested evenly rather than two per
                 * iteration in the first pass and none in the second (the
                 * streaming kernel measured ~10% faster, 3.8 vs 4.2 ns per
                 * template x dimension) */
                _mm_prefetch((const char *)(g0 + pf + h), _MM_HINT_T0);
                __m256i x0 = LD(g0), x1 = LD(g0 + HERS_TILE);
                __m256i y0 = LD(p0), y1 = LD(p0 + HERS_TILE);
                mac(&s0, x0, y0, mask);
                mac(&s2, x1, y1, mask);
                mac(&s1, _mm256_add_epi64(x0, x1), _mm256_add_epi64(y0, y1), mask);
            }
            const hers_kmod *m = &mods[j];
            uint64_t r0[4], r1[4], r2[4];
            fold_store(&s0, m, r0);
            fold_store(&s1, m, r1);
            fold_store(&s2, m, r2);
            for (int l = 0; l < 4; l++) {
                out[j * stride + h + (size_t)l] = r0[l];
                out[(k + j) * stride + h + (size_t)l] = hers_kernel_mid(r1[l], r0[l], r2[l], m->q);
                out[(2 * k + j) * stride + h + (size_t)l] = r2[l];
            }
        }
    }
}

void hers_kernel_pe_avx2(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                         const hers_kmod *mods, uint64_t *out, size_t stride)
{
    const size_t pf = 2 * HERS_TILE * d * k;
    const __m256i mask = _mm256_set1_epi64x(MASK26);
    for (size_t j = 0; j < k; j++) {
        for (size_t h = 0; h < HERS_TILE; h += 4) {
            const uint64_t *gj = g + HERS_TILE_PG(d, j, 0) + h;
            const uint64_t *p0 = p + HERS_TILE_EE(d, j, 0, 0) + h;
            struct acc3 s0 = {_mm256_setzero_si256(), _mm256_setzero_si256(),
                              _mm256_setzero_si256()};
            struct acc3 s1 = s0;
            for (size_t i = 0; i < d; i++, gj += HERS_TILE, p0 += 2 * HERS_TILE) {
                if (h == 0)
                    _mm_prefetch((const char *)(gj + pf), _MM_HINT_T0);
                __m256i x = LD(gj);
                mac(&s0, x, LD(p0), mask);
                mac(&s1, x, LD(p0 + HERS_TILE), mask);
            }
            uint64_t r0[4], r1[4];
            fold_store(&s0, &mods[j], r0);
            fold_store(&s1, &mods[j], r1);
            for (int l = 0; l < 4; l++) {
                out[j * stride + h + (size_t)l] = r0[l];
                out[(k + j) * stride + h + (size_t)l] = r1[l];
            }
        }
    }
}
