/*
 * kernel_avx512_body.h - the AVX-512 IFMA search kernels, as static
 * functions. Included by kernel_avx512.c (real intrinsics, <immintrin.h>)
 * and by tests/test_search_kernel.c against a scalar emulation of the few
 * intrinsics used (tests/support/search_avx512_emul.h), so the kernel's logic
 * is tested on machines without AVX-512. Intrinsics used: __m512i,
 * _mm512_setzero_si512, _mm512_set1_epi64, _mm512_load_si512,
 * _mm512_storeu_si512, _mm512_add_epi64, _mm512_sub_epi64, _mm512_and_si512,
 * _mm512_srli_epi64, _mm512_min_epu64, _mm512_madd52lo_epu64,
 * _mm512_madd52hi_epu64.
 *
 * vpmadd52luq / vpmadd52huq multiply the low 52 bits of two lanes and add
 * the low / high 52 bits of the 104-bit product to a 64-bit accumulator.
 * Operands here are < 2^51 (residues < 2^50 and sums of two), so the
 * multiplier sees them whole and the exact product is lo52 + 2^52 hi52.
 * Ranges for d <= 1024 = 2^10:
 *   lo accumulator: d terms < 2^52: < 2^62;
 *   hi accumulator: d terms < 2^(102 - 52) = 2^50: < 2^60;
 * no wrap; the exact sum lo + 2^52 hi is folded once per tile, by the same
 * scalar reduction as the other levels (bit-identical results).
 * Requires: search/search_kernel.h included first, and HERS_IFMA_PREFETCH(p)
 * defined (a prefetch hint, or nothing).
 */
#ifndef HERS_KERNEL_AVX512_BODY_H
#define HERS_KERNEL_AVX512_BODY_H

#include "search/kernel_avx512_fold.h"

#ifndef HERS_IFMA_PREFETCH_FAR /* a prefetch into L2 (defaults to HERS_IFMA_PREFETCH) */
#define HERS_IFMA_PREFETCH_FAR(ptr) HERS_IFMA_PREFETCH(ptr)
#endif
#ifndef HERS_IFMA_STORE /* a result row (64-byte aligned), e.g. non-temporal */
#define HERS_IFMA_STORE(ptr, v) _mm512_storeu_si512((void *)(ptr), (v))
#endif

static inline void ifma_fold(__m512i lo, __m512i hi, const hers_kmod *m, uint64_t r[8])
{
    uint64_t l[8], h[8];
    _mm512_storeu_si512((void *)l, lo);
    _mm512_storeu_si512((void *)h, hi);
    for (int i = 0; i < 8; i++)
        r[i] = hers_kernel_fold(l[i], 0, 0, h[i], 52, m);
}

static inline __attribute__((always_inline)) void
ifma_ee_group(const uint64_t *g, const uint64_t *const *p, size_t np, size_t d, size_t j,
              size_t k, const ifma_fold_consts *fc, uint64_t *const *out, size_t stride,
              const uint64_t *pf, int far);

/* The single-probe kernel's software prefetch along the gallery stream
 * (consecutive tiles are adjacent in memory): each row read is matched by a
 * prefetch into L1 IFMA_STREAM_L1 words ahead and one into L2 a further
 * IFMA_STREAM_L2 words ahead. Paired in-process comparisons on the Zen 5
 * (docs/benchmarks.md, session 8): into L1 8 KiB ahead is 5-6% faster than
 * the former two tiles (32 KiB at d = 64), which with the 16 KiB probe tile
 * and the tile being read overflow the 48 KiB L1; adding the L2 prefetch
 * 128 KiB further gains another 7-10% (the hardware prefetchers alone keep
 * fewer lines in flight); no software prefetch is 18% slower. */
#define IFMA_STREAM_L1 1024
#define IFMA_STREAM_L2 16384

/* One probe: the gallery tile streams from memory once (prefetched as
 * above), folded in vectors like the multi-probe kernels. */
static void ifma_kernel_ee(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                           const hers_kmod *mods, uint64_t *out, size_t stride)
{
    const size_t pf = IFMA_STREAM_L1;
    for (size_t j = 0; j < k; j++) {
        ifma_fold_consts fc;
        ifma_fold_init(&fc, &mods[j]);
        ifma_ee_group(g, &p, 1, d, j, k, &fc, &out, stride, g + HERS_TILE_EE(d, j, 0, 0) + pf,
                      0);
    }
}

static void ifma_kernel_pe(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                           const hers_kmod *mods, uint64_t *out, size_t stride)
{
    const size_t gstep = HERS_TILE, pstep = 2 * HERS_TILE;
    for (size_t j = 0; j < k; j++) {
        const uint64_t *gj = g + HERS_TILE_PG(d, j, 0);
        const uint64_t *p0 = p + HERS_TILE_EE(d, j, 0, 0), *p1 = p0 + HERS_TILE;
        __m512i l0 = _mm512_setzero_si512(), h0 = _mm512_setzero_si512();
        __m512i l1 = _mm512_setzero_si512(), h1 = _mm512_setzero_si512();
        for (size_t i = 0; i < d; i++) {
            HERS_IFMA_PREFETCH(gj + i * gstep + IFMA_STREAM_L1);
            HERS_IFMA_PREFETCH_FAR(gj + i * gstep + IFMA_STREAM_L1 + IFMA_STREAM_L2);
            __m512i x = _mm512_load_si512((const void *)(gj + i * gstep));
            __m512i y0 = _mm512_load_si512((const void *)(p0 + i * pstep));
            __m512i y1 = _mm512_load_si512((const void *)(p1 + i * pstep));
            l0 = _mm512_madd52lo_epu64(l0, x, y0);
            h0 = _mm512_madd52hi_epu64(h0, x, y0);
            l1 = _mm512_madd52lo_epu64(l1, x, y1);
            h1 = _mm512_madd52hi_epu64(h1, x, y1);
        }
        uint64_t r0[8], r1[8];
        ifma_fold(l0, h0, &mods[j], r0);
        ifma_fold(l1, h1, &mods[j], r1);
        for (size_t l = 0; l < 8; l++) {
            out[j * stride + l] = r0[l];
            out[(k + j) * stride + l] = r1[l];
        }
    }
}

/* ------------------------------------------------------ several probes
 *
 * The multi-probe kernels multiply one gallery tile with a group of up to
 * IFMA_GROUP probe tiles while its rows are in registers: per (prime,
 * dimension) the gallery rows are loaded once and serve every probe of the
 * group (6 IFMA per probe), so the scan is bound by the multiplier (2 IFMA
 * per cycle on Zen 5) instead of by loads. The tile's rows of one prime
 * (d x 2 x 8 words, 8 KiB at d = 64) stay in L1 for the next group.
 * Register budget (ee): 6 accumulators x 4 probes + 3 gallery + 3 probe
 * vectors = 30 of the 32 zmm registers.
 *
 * The per-lane fold is vectorised with IFMA (the scalar fold of the
 * single-probe kernel would cost as much as the products here). A sum is
 * V = lo + 2^52 hi with lo < 2^62, hi < 2^60 (the ranges above); with
 * l = lo mod 2^52, h = hi + floor(lo / 2^52) < 2^61 = a + 2^52 b
 * (a < 2^52, b < 2^9):  V = l + 2^52 a + 2^104 b, and each term is reduced
 * to [0, 2q) by a Shoup multiplication in 52-bit arithmetic (x < 2^52,
 * w < q, w' = floor(w 2^52 / q): x w - floor(x w' / 2^52) q lies in
 * [0, 2q), 2q < 2^51, so it is exact mod 2^52). The sum < 6q < 2^53 is
 * brought to [0, q) by three conditional subtractions (min(s, s - c): a
 * wrapped difference is the larger). The result is the canonical residue,
 * the same as every other level's (kernel_avx512_fold.h). */
#define IFMA_GROUP 4

/* The three Karatsuba sums of one probe tile against one gallery tile, for
 * one prime, as lo/hi IFMA accumulators (ranges above): R0 = sum x0 y0,
 * R2 = sum x1 y1, S1 = sum (x0 + x1)(y0 + y1). Shared by the multi-probe
 * group (one gallery row, several probes) and the single-probe streams
 * kernel (one probe row, several gallery tiles: kernel_avx512_streams.h). */
typedef struct {
    __m512i l0, h0, l1, h1, l2, h2;
} ifma_ee_sums;

static inline __attribute__((always_inline)) void ifma_ee_sums_zero(ifma_ee_sums *a)
{
    a->l0 = a->h0 = a->l1 = a->h1 = a->l2 = a->h2 = _mm512_setzero_si512();
}

/* One dimension: gallery rows x0, x1 (xs = x0 + x1), probe rows y0, y1
 * (ys = y0 + y1); 6 IFMA. */
static inline __attribute__((always_inline)) void
ifma_ee_sums_add(ifma_ee_sums *a, __m512i x0, __m512i x1, __m512i xs, __m512i y0, __m512i y1,
                 __m512i ys)
{
    a->l0 = _mm512_madd52lo_epu64(a->l0, x0, y0);
    a->h0 = _mm512_madd52hi_epu64(a->h0, x0, y0);
    a->l2 = _mm512_madd52lo_epu64(a->l2, x1, y1);
    a->h2 = _mm512_madd52hi_epu64(a->h2, x1, y1);
    a->l1 = _mm512_madd52lo_epu64(a->l1, xs, ys);
    a->h1 = _mm512_madd52hi_epu64(a->h1, xs, ys);
}

/* Folds the sums to canonical residues, R1 = S1 - R0 - R2, and writes row j
 * of parts 0, 1, 2 of the result (k primes, rows stride words apart). */
static inline __attribute__((always_inline)) void
ifma_ee_sums_store(const ifma_ee_sums *a, const ifma_fold_consts *fc, uint64_t *out, size_t j,
                   size_t k, size_t stride)
{
    __m512i r0 = ifma_fold_vec(a->l0, a->h0, fc), r2 = ifma_fold_vec(a->l2, a->h2, fc);
    __m512i r1 = ifma_fold_vec(a->l1, a->h1, fc);
    r1 = ifma_submod(ifma_submod(r1, r0, fc), r2, fc);
    HERS_IFMA_STORE(out + j * stride, r0);
    HERS_IFMA_STORE(out + (k + j) * stride, r1);
    HERS_IFMA_STORE(out + (2 * k + j) * stride, r2);
}

/* One prime j of the gallery tile g against np <= IFMA_GROUP probe tiles. */
static inline __attribute__((always_inline)) void
ifma_ee_group(const uint64_t *g, const uint64_t *const *p, size_t np, size_t d, size_t j,
              size_t k, const ifma_fold_consts *fc, uint64_t *const *out, size_t stride,
              const uint64_t *pf, int far)
{
    ifma_ee_sums acc[IFMA_GROUP];
#pragma GCC unroll 4
    for (size_t r = 0; r < IFMA_GROUP; r++)
        ifma_ee_sums_zero(&acc[r]);
    const uint64_t *g0 = g + HERS_TILE_EE(d, j, 0, 0);
    const size_t off = HERS_TILE_EE(d, j, 0, 0);
    for (size_t i = 0, o = 0; i < d; i++, o += 2 * HERS_TILE) {
        if (pf && far) { /* the rows read next from memory */
            HERS_IFMA_PREFETCH_FAR(pf + o);
            HERS_IFMA_PREFETCH_FAR(pf + o + HERS_TILE);
        } else if (pf) { /* the single-probe stream: into L1 and far into L2 */
            HERS_IFMA_PREFETCH(pf + o);
            HERS_IFMA_PREFETCH(pf + o + HERS_TILE);
            HERS_IFMA_PREFETCH_FAR(pf + o + IFMA_STREAM_L2);
            HERS_IFMA_PREFETCH_FAR(pf + o + IFMA_STREAM_L2 + HERS_TILE);
        }
        __m512i x0 = _mm512_load_si512((const void *)(g0 + o));
        __m512i x1 = _mm512_load_si512((const void *)(g0 + o + HERS_TILE));
        __m512i xs = _mm512_add_epi64(x0, x1);
#pragma GCC unroll 4
        for (size_t r = 0; r < IFMA_GROUP; r++) {
            if (r >= np)
                break;
            const uint64_t *pr = p[r] + off + o;
            __m512i y0 = _mm512_load_si512((const void *)pr);
            __m512i y1 = _mm512_load_si512((const void *)(pr + HERS_TILE));
            __m512i ys = _mm512_add_epi64(y0, y1);
            ifma_ee_sums_add(&acc[r], x0, x1, xs, y0, y1, ys);
        }
    }
#pragma GCC unroll 4
    for (size_t r = 0; r < IFMA_GROUP; r++) {
        if (r >= np)
            break;
        ifma_ee_sums_store(&acc[r], fc, out[r], j, k, stride);
    }
}

/* ifma_ee_group with a constant group size (the accumulators stay in
 * registers). */
static inline __attribute__((always_inline)) void
ifma_ee_group_n(const uint64_t *g, const uint64_t *const *p, size_t n, size_t d, size_t j,
                size_t k, const ifma_fold_consts *fc, uint64_t *const *out, size_t stride,
                const uint64_t *pf)
{
    switch (n) {
    case 4: ifma_ee_group(g, p, 4, d, j, k, fc, out, stride, pf, 1); break;
    case 3: ifma_ee_group(g, p, 3, d, j, k, fc, out, stride, pf, 1); break;
    case 2: ifma_ee_group(g, p, 2, d, j, k, fc, out, stride, pf, 1); break;
    default: ifma_ee_group(g, p, 1, d, j, k, fc, out, stride, pf, 1); break;
    }
}

static void ifma_kernel_ee_multi(const uint64_t *g, const uint64_t *const *p, size_t np, size_t d,
                                 size_t k, const hers_kmod *mods, uint64_t *const *out,
                                 size_t stride)
{
    for (size_t j = 0; j < k; j++) {
        ifma_fold_consts fc;
        ifma_fold_init(&fc, &mods[j]);
        for (size_t r = 0; r < np; r += IFMA_GROUP) {
            size_t n = np - r < IFMA_GROUP ? np - r : IFMA_GROUP;
            ifma_ee_group_n(g, p + r, n, d, j, k, &fc, out + r, stride, NULL);
        }
    }
}

/* Plain gallery: one prime j against np <= IFMA_GROUP probes (4 IFMA each). */
static inline __attribute__((always_inline)) void
ifma_pe_group(const uint64_t *g, const uint64_t *const *p, size_t np, size_t d, size_t j,
              size_t k, const ifma_fold_consts *fc, uint64_t *const *out, size_t stride,
              const uint64_t *pf, int far)
{
    __m512i l0[IFMA_GROUP], h0[IFMA_GROUP], l1[IFMA_GROUP], h1[IFMA_GROUP];
#pragma GCC unroll 4
    for (size_t r = 0; r < IFMA_GROUP; r++)
        l0[r] = h0[r] = l1[r] = h1[r] = _mm512_setzero_si512();
    const uint64_t *gj = g + HERS_TILE_PG(d, j, 0);
    const size_t off = HERS_TILE_EE(d, j, 0, 0);
    for (size_t i = 0; i < d; i++) {
        if (pf && far) /* the row read next from memory */
            HERS_IFMA_PREFETCH_FAR(pf + i * HERS_TILE);
        else if (pf)
            HERS_IFMA_PREFETCH(pf + i * HERS_TILE);
        __m512i x = _mm512_load_si512((const void *)(gj + i * HERS_TILE));
#pragma GCC unroll 4
        for (size_t r = 0; r < IFMA_GROUP; r++) {
            if (r >= np)
                break;
            const uint64_t *pr = p[r] + off + i * 2 * HERS_TILE;
            __m512i y0 = _mm512_load_si512((const void *)pr);
            __m512i y1 = _mm512_load_si512((const void *)(pr + HERS_TILE));
            l0[r] = _mm512_madd52lo_epu64(l0[r], x, y0);
            h0[r] = _mm512_madd52hi_epu64(h0[r], x, y0);
            l1[r] = _mm512_madd52lo_epu64(l1[r], x, y1);
            h1[r] = _mm512_madd52hi_epu64(h1[r], x, y1);
        }
    }
#pragma GCC unroll 4
    for (size_t r = 0; r < IFMA_GROUP; r++) {
        if (r >= np)
            break;
        HERS_IFMA_STORE(out[r] + j * stride, ifma_fold_vec(l0[r], h0[r], fc));
        HERS_IFMA_STORE(out[r] + (k + j) * stride, ifma_fold_vec(l1[r], h1[r], fc));
    }
}

static inline __attribute__((always_inline)) void
ifma_pe_group_n(const uint64_t *g, const uint64_t *const *p, size_t n, size_t d, size_t j,
                size_t k, const ifma_fold_consts *fc, uint64_t *const *out, size_t stride,
                const uint64_t *pf)
{
    switch (n) {
    case 4: ifma_pe_group(g, p, 4, d, j, k, fc, out, stride, pf, 1); break;
    case 3: ifma_pe_group(g, p, 3, d, j, k, fc, out, stride, pf, 1); break;
    case 2: ifma_pe_group(g, p, 2, d, j, k, fc, out, stride, pf, 1); break;
    default: ifma_pe_group(g, p, 1, d, j, k, fc, out, stride, pf, 1); break;
    }
}

static void ifma_kernel_pe_multi(const uint64_t *g, const uint64_t *const *p, size_t np, size_t d,
                                 size_t k, const hers_kmod *mods, uint64_t *const *out,
                                 size_t stride)
{
    for (size_t j = 0; j < k; j++) {
        ifma_fold_consts fc;
        ifma_fold_init(&fc, &mods[j]);
        for (size_t r = 0; r < np; r += IFMA_GROUP) {
            size_t n = np - r < IFMA_GROUP ? np - r : IFMA_GROUP;
            ifma_pe_group_n(g, p + r, n, d, j, k, &fc, out + r, stride, NULL);
        }
    }
}

/* ------------------------------------------------- several gallery tiles
 *
 * ng gallery tiles g + t gstride (t < ng: consecutive blocks of one tile
 * index, adjacent in memory) against np probes; results out[t * np + r].
 * Loop order: prime j, then groups of IFMA_GROUP probes, then the tiles, so
 * a group's probe rows of prime j (4 x d x 2 x 64 B: 32 KiB at d = 64) stay
 * in L1 while the ng tiles' rows of prime j (8 KiB each) stream past them;
 * the multi-probe kernel instead re-read every probe's rows from L2 for
 * every gallery tile (8 probes: 128 KiB of L2 reads per 16 KiB tile), and
 * the probe rows of a tile index, not the gallery, set its pace. The rows of
 * tile t that the next round reads (prime j + 1 of the same tile, or after
 * the last prime tile t of the next call, g + (ng + t) gstride: the next
 * blocks of the index; a prefetch past its end never faults) are prefetched
 * into L2 while group t mod (number of groups) multiplies tile t: a whole
 * round (ng x 8 KiB) ahead, spread over all the groups, so the memory
 * streams while every group computes (it used to be one tile ahead, into L1,
 * from the first group only, which then waited on memory while the others
 * left it idle).
 * Result rows go out with non-temporal stores where the includer defines
 * HERS_IFMA_STORE so (no read for ownership of lines written whole). */
static inline const uint64_t *ifma_next_rows(const uint64_t *g, size_t ng, size_t gstride,
                                             size_t t, size_t j, size_t k, size_t prime_words)
{
    if (j + 1 < k)
        return g + t * gstride + (j + 1) * prime_words;
    return g + (ng + t) * gstride;
}

/* Both forms' multi-tile driver: per prime, each group of up to IFMA_GROUP
 * probes against ng consecutive gallery tiles; the first group prefetches the
 * rows that come next. ee is a constant at each call (inlined: no branch). */
static inline __attribute__((always_inline)) void
ifma_kernel_tiles(const uint64_t *g, size_t ng, size_t gstride, const uint64_t *const *p,
                  size_t np, size_t d, size_t k, const hers_kmod *mods, uint64_t *const *out,
                  size_t stride, int ee)
{
    uint64_t *o[IFMA_GROUP];
    const size_t prime_words = ee ? HERS_TILE_EE(d, 1, 0, 0) : HERS_TILE_PG(d, 1, 0);
    const size_t groups = (np + IFMA_GROUP - 1) / IFMA_GROUP;
    for (size_t j = 0; j < k; j++) {
        ifma_fold_consts fc;
        ifma_fold_init(&fc, &mods[j]);
        for (size_t r = 0; r < np; r += IFMA_GROUP) {
            size_t n = np - r < IFMA_GROUP ? np - r : IFMA_GROUP;
            for (size_t t = 0; t < ng; t++) {
                for (size_t x = 0; x < n; x++)
                    o[x] = out[t * np + r + x];
                const uint64_t *pf = t % groups == r / IFMA_GROUP
                                         ? ifma_next_rows(g, ng, gstride, t, j, k, prime_words)
                                         : NULL;
                if (ee)
                    ifma_ee_group_n(g + t * gstride, p + r, n, d, j, k, &fc, o, stride, pf);
                else
                    ifma_pe_group_n(g + t * gstride, p + r, n, d, j, k, &fc, o, stride, pf);
            }
        }
    }
}

static void ifma_kernel_ee_tiles(const uint64_t *g, size_t ng, size_t gstride,
                                 const uint64_t *const *p, size_t np, size_t d, size_t k,
                                 const hers_kmod *mods, uint64_t *const *out, size_t stride)
{
    ifma_kernel_tiles(g, ng, gstride, p, np, d, k, mods, out, stride, 1);
}

static void ifma_kernel_pe_tiles(const uint64_t *g, size_t ng, size_t gstride,
                                 const uint64_t *const *p, size_t np, size_t d, size_t k,
                                 const hers_kmod *mods, uint64_t *const *out, size_t stride)
{
    ifma_kernel_tiles(g, ng, gstride, p, np, d, k, mods, out, stride, 0);
}

#endif
