/*
 * kernel_narrow_avx512.c - the fused search kernels over the narrow gallery
 * form (every q_j < 2^30, two residues per word; search_kernel.h) with
 * AVX-512: one 512-bit register holds a whole narrow row pair (one prime,
 * one dimension, both parts, 8 lanes), and one vpmuludq (32 x 32 -> 64 bits,
 * 2 per cycle on Zen 5, the same rate as IFMA's vpmadd52luq, which would need
 * a second multiply for the high half of each 60-bit product) multiplies 8
 * residue pairs.
 *
 * Gallery register (both-encrypted) x = [G0 | G1], word w < 4 of a half
 * holding lanes w (low 32 bits) and w + 4 (high 32 bits). The probe rows
 * (HERS_PTILE_N512, search_kernel.h) are matched to it:
 *   Ya = [P0 lanes 0-3 | P1 lanes 0-3],  Yb = [P0 lanes 4-7 | P1 lanes 4-7],
 *   Ys = (P0 + P1) mod q, lanes 0-7,
 * so that per (prime, dimension, probe) three multiplies give everything:
 *   x        * Ya = [G0 P0 | G1 P1] lanes 0-3   (S0 | S2)
 *   (x >> 32) * Yb = [G0 P0 | G1 P1] lanes 4-7   (S0 | S2)
 *   xs       * Ys = ((G0 + G1) mod q) (P0 + P1 mod q), lanes 0-7   (Karatsuba)
 * with xs computed once per gallery register (32-bit add of x and its
 * halves swapped, reduced by min(s, s - q), then the upper half shifted
 * down). R1 = S1' - R0 - R2 mod q, S1' = sum xs ys = S0 + S1 + S2 (mod q).
 * Plain gallery: a row is 4 words; broadcast to both halves it meets the same
 * Ya, Yb (Ys unused): [G P0 | G P1] = (R0 | R1).
 *
 * Ranges: every factor < 2^30, products < 2^60, so a 64-bit lane holds the
 * exact sum of NCHUNK = 16 dimensions; each chunk sum is split into its low
 * and high 32 bits, added to two sums lo, hi < 2^38 (d <= 1024: 64 chunks).
 * The value lo + 2^32 hi is handed to the IFMA vector fold as
 * (lo + 2^32 (hi mod 2^20)) + 2^52 (hi >> 20), both within its ranges
 * (< 2^53 < 2^62, < 2^18 < 2^60): the canonical residue, bit-identical to
 * every other level.
 *
 * Multi-probe: the gallery register and its two derived forms serve up to
 * NGROUP = 8 probes (3 accumulators each: 24 + 3 of the 32 registers), so
 * each gallery word is loaded once per group of 8 probes and the scan is
 * bound by the multiplies (9 per template x dimension x probe at k = 3, 8
 * lanes each) and the probe rows' loads.
 */
#include <immintrin.h>

#include "search/search_kernel.h"
#include "search/kernel_avx512_fold.h"

#define NGROUP 8
#define NCHUNK 16
#define NTILES 4 /* gallery tiles per pass of the multi-probe kernels */

/* Non-temporal store of one 64-byte-aligned result row (result rows go to
 * other pages and are not read back by the scan; the caller fences). */
static inline void put_row(uint64_t *out, __m512i v)
{
    _mm512_store_si512((void *)out, v);
}

/* lo + 2^32 hi mod q, lo, hi < 2^38. */
static inline __m512i nfold(__m512i lo, __m512i hi, const ifma_fold_consts *fc)
{
    const __m512i m20 = _mm512_set1_epi64((1 << 20) - 1);
    __m512i l = _mm512_add_epi64(lo, _mm512_slli_epi64(_mm512_and_si512(hi, m20), 32));
    return ifma_fold_vec(l, _mm512_srli_epi64(hi, 20), fc);
}

static inline void split_add(__m512i *lo, __m512i *hi, __m512i chunk)
{
    const __m512i mask = _mm512_set1_epi64(0xffffffff);
    *lo = _mm512_add_epi64(*lo, _mm512_and_si512(chunk, mask));
    *hi = _mm512_add_epi64(*hi, _mm512_srli_epi64(chunk, 32));
}

/* Both-encrypted: prime j of the ng <= NTILES gallery tiles g + t gstride
 * against np <= NGROUP probes p[r] (np a compile-time constant after
 * inlining); results to out[t * ostride + r]. The loop runs over chunks of
 * NCHUNK dimensions outside the tiles, so the probes' rows of one chunk
 * (np x 16 x 192 bytes: 24 KiB for 8 probes) stay in L1 while the rows of
 * ng gallery tiles stream past them; the per-(tile, probe) sums wait in a
 * small stack array (L1). pf: prefetch distance in words (0: none). */
static inline __attribute__((always_inline)) void
ee_group(const uint64_t *g, size_t ng, size_t gstride, const uint64_t *const *p, size_t np,
         size_t d, size_t j, size_t k, const hers_kmod *m, uint64_t *const *out, size_t ostride,
         size_t stride, size_t pf, const char **pfs)
{
    __m512i lo[NTILES][3][NGROUP], hi[NTILES][3][NGROUP];
    for (size_t t = 0; t < ng; t++)
#pragma GCC unroll 8
        for (size_t r = 0; r < NGROUP; r++)
            lo[t][0][r] = lo[t][1][r] = lo[t][2][r] = hi[t][0][r] = hi[t][1][r] = hi[t][2][r] =
                _mm512_setzero_si512();
    const __m512i q32 = _mm512_set1_epi32((int)m->q);
    const size_t po = HERS_PTILE_N512(d, j, 0, 0);
    for (size_t i0 = 0; i0 < d; i0 += NCHUNK) {
        size_t i1 = i0 + NCHUNK < d ? i0 + NCHUNK : d;
        for (size_t t = 0; t < ng; t++) {
            const uint64_t *gj = g + t * gstride + HERS_NTILE_EE(d, j, 0, 0);
            __m512i a[NGROUP], b[NGROUP], c[NGROUP];
#pragma GCC unroll 8
            for (size_t r = 0; r < NGROUP; r++)
                a[r] = b[r] = c[r] = _mm512_setzero_si512();
            for (size_t i = i0; i < i1; i++) {
                const uint64_t *gr = gj + i * 2 * HERS_NROW;
                if (pf)
                    _mm_prefetch((const char *)(gr + pf), _MM_HINT_T0);
                if (pfs) { /* one line of the next tiles per row pair */
                    _mm_prefetch(*pfs, _MM_HINT_T0);
                    *pfs += 64;
                }
                __m512i x = _mm512_load_si512((const void *)gr);
                __m512i xo = _mm512_srli_epi64(x, 32);
                __m512i xs = _mm512_add_epi32(x, _mm512_shuffle_i64x2(x, x, 0x4E));
                xs = _mm512_min_epu32(xs, _mm512_sub_epi32(xs, q32));
                xs = _mm512_mask_srli_epi64(xs, 0xF0, xs, 32);
#pragma GCC unroll 8
                for (size_t r = 0; r < NGROUP; r++) {
                    if (r >= np)
                        break;
                    const uint64_t *pr = p[r] + po + i * 3 * HERS_TILE;
                    a[r] = _mm512_add_epi64(a[r], _mm512_mul_epu32(x, _mm512_load_si512(pr)));
                    b[r] = _mm512_add_epi64(
                        b[r], _mm512_mul_epu32(xo, _mm512_load_si512(pr + HERS_TILE)));
                    c[r] = _mm512_add_epi64(
                        c[r], _mm512_mul_epu32(xs, _mm512_load_si512(pr + 2 * HERS_TILE)));
                }
            }
#pragma GCC unroll 8
            for (size_t r = 0; r < NGROUP; r++) {
                if (r >= np)
                    break;
                split_add(&lo[t][0][r], &hi[t][0][r], a[r]);
                split_add(&lo[t][1][r], &hi[t][1][r], b[r]);
                split_add(&lo[t][2][r], &hi[t][2][r], c[r]);
            }
        }
    }
    ifma_fold_consts fc;
    ifma_fold_init(&fc, m);
    for (size_t t = 0; t < ng; t++)
#pragma GCC unroll 8
        for (size_t r = 0; r < NGROUP; r++) {
            if (r >= np)
                break;
            /* a = [S0 | S2] lanes 0-3, b = [S0 | S2] lanes 4-7 */
            __m512i r0 = nfold(_mm512_shuffle_i64x2(lo[t][0][r], lo[t][1][r], 0x44),
                               _mm512_shuffle_i64x2(hi[t][0][r], hi[t][1][r], 0x44), &fc);
            __m512i r2 = nfold(_mm512_shuffle_i64x2(lo[t][0][r], lo[t][1][r], 0xEE),
                               _mm512_shuffle_i64x2(hi[t][0][r], hi[t][1][r], 0xEE), &fc);
            __m512i r1 = nfold(lo[t][2][r], hi[t][2][r], &fc);
            r1 = ifma_submod(ifma_submod(r1, r0, &fc), r2, &fc);
            uint64_t *o = out[t * ostride + r];
            put_row(o + j * stride, r0);
            put_row(o + (k + j) * stride, r1);
            put_row(o + (2 * k + j) * stride, r2);
        }
}

/* Plain gallery: as ee_group (Ys unused, 2 sums per probe). */
static inline __attribute__((always_inline)) void
pe_group(const uint64_t *g, size_t ng, size_t gstride, const uint64_t *const *p, size_t np,
         size_t d, size_t j, size_t k, const hers_kmod *m, uint64_t *const *out, size_t ostride,
         size_t stride, size_t pf, const char **pfs)
{
    __m512i lo[NTILES][2][NGROUP], hi[NTILES][2][NGROUP];
    for (size_t t = 0; t < ng; t++)
#pragma GCC unroll 8
        for (size_t r = 0; r < NGROUP; r++)
            lo[t][0][r] = lo[t][1][r] = hi[t][0][r] = hi[t][1][r] = _mm512_setzero_si512();
    const size_t po = HERS_PTILE_N512(d, j, 0, 0);
    for (size_t i0 = 0; i0 < d; i0 += NCHUNK) {
        size_t i1 = i0 + NCHUNK < d ? i0 + NCHUNK : d;
        for (size_t t = 0; t < ng; t++) {
            const uint64_t *gj = g + t * gstride + HERS_NTILE_PG(d, j, 0);
            __m512i a[NGROUP], b[NGROUP];
#pragma GCC unroll 8
            for (size_t r = 0; r < NGROUP; r++)
                a[r] = b[r] = _mm512_setzero_si512();
            for (size_t i = i0; i < i1; i++) {
                const uint64_t *gr = gj + i * HERS_NROW;
                if (pf && !(i & 1)) /* a line holds two dimensions' rows */
                    _mm_prefetch((const char *)(gr + pf), _MM_HINT_T0);
                if (pfs && !(i & 1)) {
                    _mm_prefetch(*pfs, _MM_HINT_T0);
                    *pfs += 64;
                }
                __m512i x = _mm512_broadcast_i64x4(_mm256_load_si256((const __m256i *)gr));
                __m512i xo = _mm512_srli_epi64(x, 32);
#pragma GCC unroll 8
                for (size_t r = 0; r < NGROUP; r++) {
                    if (r >= np)
                        break;
                    const uint64_t *pr = p[r] + po + i * 3 * HERS_TILE;
                    a[r] = _mm512_add_epi64(a[r], _mm512_mul_epu32(x, _mm512_load_si512(pr)));
                    b[r] = _mm512_add_epi64(
                        b[r], _mm512_mul_epu32(xo, _mm512_load_si512(pr + HERS_TILE)));
                }
            }
#pragma GCC unroll 8
            for (size_t r = 0; r < NGROUP; r++) {
                if (r >= np)
                    break;
                split_add(&lo[t][0][r], &hi[t][0][r], a[r]);
                split_add(&lo[t][1][r], &hi[t][1][r], b[r]);
            }
        }
    }
    ifma_fold_consts fc;
    ifma_fold_init(&fc, m);
    for (size_t t = 0; t < ng; t++)
#pragma GCC unroll 8
        for (size_t r = 0; r < NGROUP; r++) {
            if (r >= np)
                break;
            uint64_t *o = out[t * ostride + r];
            put_row(o + j * stride, nfold(_mm512_shuffle_i64x2(lo[t][0][r], lo[t][1][r], 0x44),
                                          _mm512_shuffle_i64x2(hi[t][0][r], hi[t][1][r], 0x44),
                                          &fc));
            put_row(o + (k + j) * stride,
                    nfold(_mm512_shuffle_i64x2(lo[t][0][r], lo[t][1][r], 0xEE),
                          _mm512_shuffle_i64x2(hi[t][0][r], hi[t][1][r], 0xEE), &fc));
        }
}

void hers_kernel_ee_narrow_avx512(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                  const hers_kmod *mods, uint64_t *out, size_t stride)
{
    /* prefetch: the same line of the tile two tiles ahead */
    const size_t pf = 2 * k * d * 2 * HERS_NROW;
    for (size_t j = 0; j < k; j++)
        ee_group(g, 1, 0, &p, 1, d, j, k, &mods[j], &out, 1, stride, pf, NULL);
}

void hers_kernel_pe_narrow_avx512(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                  const hers_kmod *mods, uint64_t *out, size_t stride)
{
    const size_t pf = 2 * k * d * HERS_NROW;
    for (size_t j = 0; j < k; j++)
        pe_group(g, 1, 0, &p, 1, d, j, k, &mods[j], &out, 1, stride, pf, NULL);
}

/* Constant group sizes, so that the accumulators stay in registers. */
#define GROUP_SWITCH(fn, n, ...)                                                                   \
    switch (n) {                                                                                   \
    case 8: fn(g, nt, gstride, p + r, 8, __VA_ARGS__); break;                                      \
    case 7: fn(g, nt, gstride, p + r, 7, __VA_ARGS__); break;                                      \
    case 6: fn(g, nt, gstride, p + r, 6, __VA_ARGS__); break;                                      \
    case 5: fn(g, nt, gstride, p + r, 5, __VA_ARGS__); break;                                      \
    case 4: fn(g, nt, gstride, p + r, 4, __VA_ARGS__); break;                                      \
    case 3: fn(g, nt, gstride, p + r, 3, __VA_ARGS__); break;                                      \
    case 2: fn(g, nt, gstride, p + r, 2, __VA_ARGS__); break;                                      \
    default: fn(g, nt, gstride, p + r, 1, __VA_ARGS__); break;                                     \
    }

void hers_kernel_ee_tiles_narrow_avx512(const uint64_t *g, size_t ng, size_t gstride,
                                        const uint64_t *const *p, size_t np, size_t d, size_t k,
                                        const hers_kmod *mods, uint64_t *const *out,
                                        size_t stride)
{
    for (size_t t0 = 0; t0 < ng; t0 += NTILES, g += NTILES * gstride, out += NTILES * np) {
        size_t nt = ng - t0 < NTILES ? ng - t0 : NTILES;
        /* the first probe group streams the next nt tiles into L1 (they
         * follow in memory in a search: consecutive blocks), one line per
         * row pair read; prefetches past the index do not fault */
        const char *next = (const char *)(g + nt * gstride);
        for (size_t j = 0; j < k; j++)
            for (size_t r = 0; r < np; r += NGROUP) {
                size_t n = np - r < NGROUP ? np - r : NGROUP;
                const char **pfs = r == 0 ? &next : NULL;
                GROUP_SWITCH(ee_group, n, d, j, k, &mods[j], out + r, np, stride, 0, pfs)
            }
    }
}

void hers_kernel_pe_tiles_narrow_avx512(const uint64_t *g, size_t ng, size_t gstride,
                                        const uint64_t *const *p, size_t np, size_t d, size_t k,
                                        const hers_kmod *mods, uint64_t *const *out,
                                        size_t stride)
{
    for (size_t t0 = 0; t0 < ng; t0 += NTILES, g += NTILES * gstride, out += NTILES * np) {
        size_t nt = ng - t0 < NTILES ? ng - t0 : NTILES;
        /* the first probe group streams the next nt tiles into L1 (they
         * follow in memory in a search: consecutive blocks), one line per
         * row pair read; prefetches past the index do not fault */
        const char *next = (const char *)(g + nt * gstride);
        for (size_t j = 0; j < k; j++)
            for (size_t r = 0; r < np; r += NGROUP) {
                size_t n = np - r < NGROUP ? np - r : NGROUP;
                const char **pfs = r == 0 ? &next : NULL;
                GROUP_SWITCH(pe_group, n, d, j, k, &mods[j], out + r, np, stride, 0, pfs)
            }
    }
}

void hers_kernel_ee_multi_narrow_avx512(const uint64_t *g, const uint64_t *const *p, size_t np,
                                        size_t d, size_t k, const hers_kmod *mods,
                                        uint64_t *const *out, size_t stride)
{
    hers_kernel_ee_tiles_narrow_avx512(g, 1, 0, p, np, d, k, mods, out, stride);
}

void hers_kernel_pe_multi_narrow_avx512(const uint64_t *g, const uint64_t *const *p, size_t np,
                                        size_t d, size_t k, const hers_kmod *mods,
                                        uint64_t *const *out, size_t stride)
{
    hers_kernel_pe_tiles_narrow_avx512(g, 1, 0, p, np, d, k, mods, out, stride);
}
