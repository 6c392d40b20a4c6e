/*
 * kernel_avx512_streams.h - the single-probe AVX-512 IFMA kernels over
 * several gallery tiles at once ("streams"), as static functions. Included
 * after kernel_avx512_body.h (its fold and HERS_IFMA_STORE) by
 * kernel_avx512.c and by tests/test_search_kernel.c (scalar emulation).
 *
 * Why: one probe against one gallery stream (ifma_kernel_ee, prefetching)
 * ran at ~0.75x a plain single-stream read loop on the Zen 5, although its
 * multiplies take only ~40% of the memory time (docs/benchmarks.md, session
 * 10): with one stream the hardware prefetchers keep too few lines in flight
 * while the core computes, and software prefetch (into L1 and L2, hints T0,
 * T1, T2, NTA, distances 4 KiB to 512 KiB) does not make up for it (the
 * same prefetches cost a plain read loop 20-25% of its bandwidth). Here
 * two to four tiles of the same tile index from blocks far apart (each its
 * own sequential stream through the index) meet the one probe tile, which
 * stays in L1, row by row: the hardware prefetchers track every stream and
 * the scan runs at ~0.92x the plain read loop, with no software prefetch
 * (4 streams; the scheduler, search.c, cuts a task's blocks into them).
 * Each gallery row is used as in ifma_kernel_ee (Karatsuba: 6 IFMA per
 * dimension and prime) and every sum is folded the same way: the results
 * are bit-identical to ns calls of the single-tile kernel.
 */
#ifndef HERS_KERNEL_AVX512_STREAMS_H
#define HERS_KERNEL_AVX512_STREAMS_H

/* Most gallery tiles per call (accumulators: 6 x 4 = 24 zmm, plus 3 probe
 * and 3 gallery vectors). */
#define IFMA_STREAMS 4

/* Both-encrypted: prime j of the tiles g[0 .. ns-1] against probe tile p. */
static inline __attribute__((always_inline)) void
ifma_streams_ee_prime(const uint64_t *const *g, size_t ns, const uint64_t *p, size_t d, size_t j,
                      size_t k, const ifma_fold_consts *fc, uint64_t *const *out, size_t stride)
{
    ifma_ee_sums acc[IFMA_STREAMS];
#pragma GCC unroll 4
    for (size_t r = 0; r < IFMA_STREAMS; r++)
        ifma_ee_sums_zero(&acc[r]);
    const size_t off = HERS_TILE_EE(d, j, 0, 0);
    const uint64_t *pj = p + off;
    for (size_t i = 0, o = 0; i < d; i++, o += 2 * HERS_TILE) {
        __m512i y0 = _mm512_load_si512((const void *)(pj + o));
        __m512i y1 = _mm512_load_si512((const void *)(pj + o + HERS_TILE));
        __m512i ys = _mm512_add_epi64(y0, y1);
#pragma GCC unroll 4
        for (size_t r = 0; r < IFMA_STREAMS; r++) {
            if (r >= ns)
                break;
            const uint64_t *gr = g[r] + off + o;
            __m512i x0 = _mm512_load_si512((const void *)gr);
            __m512i x1 = _mm512_load_si512((const void *)(gr + HERS_TILE));
            __m512i xs = _mm512_add_epi64(x0, x1);
            ifma_ee_sums_add(&acc[r], x0, x1, xs, y0, y1, ys);
        }
    }
#pragma GCC unroll 4
    for (size_t r = 0; r < IFMA_STREAMS; r++) {
        if (r >= ns)
            break;
        ifma_ee_sums_store(&acc[r], fc, out[r], j, k, stride);
    }
}

/* Plain gallery: prime j of the tiles g[0 .. ns-1] (one row per dimension)
 * against probe tile p (4 IFMA per dimension and tile). */
static inline __attribute__((always_inline)) void
ifma_streams_pe_prime(const uint64_t *const *g, size_t ns, const uint64_t *p, size_t d, size_t j,
                      size_t k, const ifma_fold_consts *fc, uint64_t *const *out, size_t stride)
{
    __m512i l0[IFMA_STREAMS], h0[IFMA_STREAMS], l1[IFMA_STREAMS], h1[IFMA_STREAMS];
#pragma GCC unroll 4
    for (size_t r = 0; r < IFMA_STREAMS; r++)
        l0[r] = h0[r] = l1[r] = h1[r] = _mm512_setzero_si512();
    const size_t goff = HERS_TILE_PG(d, j, 0);
    const uint64_t *pj = p + HERS_TILE_EE(d, j, 0, 0);
    for (size_t i = 0; i < d; i++) {
        __m512i y0 = _mm512_load_si512((const void *)(pj + i * 2 * HERS_TILE));
        __m512i y1 = _mm512_load_si512((const void *)(pj + i * 2 * HERS_TILE + HERS_TILE));
#pragma GCC unroll 4
        for (size_t r = 0; r < IFMA_STREAMS; r++) {
            if (r >= ns)
                break;
            __m512i x = _mm512_load_si512((const void *)(g[r] + goff + i * HERS_TILE));
            l0[r] = _mm512_madd52lo_epu64(l0[r], x, y0);
            h0[r] = _mm512_madd52hi_epu64(h0[r], x, y0);
            l1[r] = _mm512_madd52lo_epu64(l1[r], x, y1);
            h1[r] = _mm512_madd52hi_epu64(h1[r], x, y1);
        }
    }
#pragma GCC unroll 4
    for (size_t r = 0; r < IFMA_STREAMS; r++) {
        if (r >= ns)
            break;
        HERS_IFMA_STORE(out[r] + j * stride, ifma_fold_vec(l0[r], h0[r], fc));
        HERS_IFMA_STORE(out[r] + (k + j) * stride, ifma_fold_vec(l1[r], h1[r], fc));
    }
}

/* One prime with a constant stream count (the accumulators stay in
 * registers). */
static inline __attribute__((always_inline)) void
ifma_streams_prime(const uint64_t *const *g, size_t ns, const uint64_t *p, size_t d, size_t j,
                   size_t k, const ifma_fold_consts *fc, uint64_t *const *out, size_t stride,
                   int ee)
{
#define IFMA_STREAMS_CASE(n)                                                                       \
    case n:                                                                                        \
        if (ee)                                                                                    \
            ifma_streams_ee_prime(g, n, p, d, j, k, fc, out, stride);                              \
        else                                                                                       \
            ifma_streams_pe_prime(g, n, p, d, j, k, fc, out, stride);                              \
        break;
    switch (ns) {
        IFMA_STREAMS_CASE(4)
        IFMA_STREAMS_CASE(3)
        IFMA_STREAMS_CASE(2)
    default:
        IFMA_STREAMS_CASE(1)
    }
#undef IFMA_STREAMS_CASE
}

/* One probe tile p against the ns <= IFMA_STREAMS gallery tiles g[r]
 * (anywhere in memory); results out[r], each as the single-tile kernel's.
 * ns > IFMA_STREAMS is served in rounds. */
static inline __attribute__((always_inline)) void
ifma_kernel_streams(const uint64_t *const *g, size_t ns, const uint64_t *p, size_t d, size_t k,
                    const hers_kmod *mods, uint64_t *const *out, size_t stride, int ee)
{
    for (size_t r = 0; r < ns; r += IFMA_STREAMS) {
        size_t n = ns - r < IFMA_STREAMS ? ns - r : IFMA_STREAMS;
        for (size_t j = 0; j < k; j++) {
            ifma_fold_consts fc;
            ifma_fold_init(&fc, &mods[j]);
            ifma_streams_prime(g + r, n, p, d, j, k, &fc, out + r, stride, ee);
        }
    }
}

static void ifma_kernel_ee_streams(const uint64_t *const *g, size_t ns, const uint64_t *p,
                                   size_t d, size_t k, const hers_kmod *mods,
                                   uint64_t *const *out, size_t stride)
{
    ifma_kernel_streams(g, ns, p, d, k, mods, out, stride, 1);
}

static void ifma_kernel_pe_streams(const uint64_t *const *g, size_t ns, const uint64_t *p,
                                   size_t d, size_t k, const hers_kmod *mods,
                                   uint64_t *const *out, size_t stride)
{
    ifma_kernel_streams(g, ns, p, d, k, mods, out, stride, 0);
}

#endif
