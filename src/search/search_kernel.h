/*
 * search_kernel.h - private: the fused multiply-accumulate kernels of the
 * encrypted search and the tiled layout they read.
 *
 * Tile layout (all values are residues in [0, q_j), q_j < 2^50, stored as
 * uint64_t). The NTT evaluations 0..N-1 of a polynomial are cut into tiles
 * of HERS_TILE = 8 consecutive evaluation indices (one cache line of
 * residues, one AVX-512 register, two AVX2 registers). For tile s:
 *
 *   gallery tile (both-encrypted): g[prime][i][part][lane]  i < d, part < 2
 *   gallery tile (plain gallery):  g[prime][i][lane]        (1 part)
 *   probe tile:                    p[prime][i][part][lane]  part < 2
 *
 * so a tile of one block is one contiguous run of k * d * parts * 8 words
 * (d = 64, k = 2: 16 KiB) that the kernel reads front to back, one prime
 * at a time (hardware prefetchers see a plain stream), and the probe tile
 * stays in L1/L2 while the gallery tiles of every block stream past it.
 *
 * Both-encrypted kernel (gallery G = t^2 C, probe P as encrypted; the
 * tensor (tP) x (tC) = P x (t^2 C) of the BGV forms of the negated
 * messages, see docs/design.md): for every lane and prime,
 *   S0 = sum_i P0 G0,  S2 = sum_i P1 G1,  S1 = sum_i (P0 + P1)(G0 + G1)
 * as exact integers (Karatsuba: 3 products instead of 4), then
 *   R0 = S0 mod q, R2 = S2 mod q, R1 = (S1 - S0 - S2) mod q
 * = the tensor product (R0, R1, R2) of the probe and gallery ciphertexts
 * summed over the d dimensions.
 * Plain-gallery kernel: R0 = sum_i P0 G mod q, R1 = sum_i P1 G mod q.
 *
 * Output: row r = part * k + prime of the result is out + r * stride; the
 * kernel writes the 8 lanes out[r * stride + 0..7], fully reduced. Rows are
 * 64-byte aligned: some levels write them with non-temporal stores (call
 * hers_kernel_fence before another thread reads them).
 *
 * Exactness: every level computes the same exact integer sums and reduces
 * them with the same scalar Barrett reduction, so results are bit-identical
 * across levels. Accumulator ranges are proved next to each kernel for
 * d <= HERS_KERNEL_MAX_D and q < 2^50.
 */
#ifndef HERS_SEARCH_KERNEL_H
#define HERS_SEARCH_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_cpu.h"
#include "hers/hers_modarith.h"

#define HERS_TILE 8
#define HERS_KERNEL_MAX_D 1024
#define HERS_KERNEL_MAX_Q (UINT64_C(1) << 50)

/* A modulus q < 2^50 with the constants of the kernels' final reduction. */
typedef struct hers_kmod {
    uint64_t q;
    uint64_t r64;        /* 2^64 mod q */
    uint64_t r64_shoup;  /* floor(r64 * 2^64 / q) */
    uint64_t bar;        /* floor(2^64 / q) */
    uint64_t r32;        /* 2^32 mod q (the narrow kernels' vector fold) */
    /* the AVX-512 vector fold (kernel_avx512_fold.h): floor(2^52 / q),
     * 2^52 mod q, 2^104 mod q and their factors floor(w 2^52 / q) */
    uint64_t f1s, f52, f52s, f104, f104s;
} hers_kmod;

/* q in [2, 2^50). */
void hers_kmod_init(hers_kmod *m, uint64_t q);

/* Word offsets inside a tile (lane 0). */
#define HERS_TILE_EE(d, j, i, part) ((((j) * (d) + (i)) * 2 + (part)) * HERS_TILE)
#define HERS_TILE_PG(d, j, i) (((j) * (d) + (i)) * HERS_TILE)

/* Narrow form, for parameter sets whose primes are all below
 * HERS_NARROW_MAX_Q = 2^30 (e.g. "s4096", 3 primes of 30 bits): a gallery
 * row of one (prime, dimension, part) holds the tile's 8 residues in
 * HERS_NROW = 4 words, word w = lane w | lane (w + 4) << 32, so a tile costs
 * 4 bytes per residue instead of 8 (s4096: 24 bytes per template x dimension
 * instead of the 32 of two 50-bit primes) and AVX2's 32 x 32 -> 64-bit
 * multiply (vpmuludq) takes the residues as they are: the even products come
 * from the words, the odd ones from the words shifted right by 32. Rows:
 *
 *   gallery tile (both-encrypted): g[prime][i][part][word]  part < 2
 *   gallery tile (plain gallery):  g[prime][i][word]
 *
 * The probe tile is the canonical one above (one residue per word, < 2^30).
 * Products are < 2^60, so 64-bit lanes hold exact sums of HERS_NARROW_CHUNK
 * = 8 dimensions of S1 (two products per dimension: < 2^61 each, 8 of them <
 * 2^64); every chunk is folded into two 64-bit sums of its low and high 32
 * bits (< 2^42 each for d <= 1024), reduced once per tile. */
#define HERS_NARROW_MAX_Q (UINT64_C(1) << 30)
#define HERS_NROW (HERS_TILE / 2)
#define HERS_NARROW_CHUNK 8
#define HERS_NTILE_EE(d, j, i, part) ((((j) * (d) + (i)) * 2 + (part)) * HERS_NROW)
#define HERS_NTILE_PG(d, j, i) (((j) * (d) + (i)) * HERS_NROW)

/* Packs 8 canonical lanes (each < 2^32) into a narrow row of 4 words. */
static inline void hers_narrow_pack(uint64_t row[HERS_NROW], const uint64_t lanes[HERS_TILE])
{
    for (int w = 0; w < HERS_NROW; w++)
        row[w] = lanes[w] | lanes[w + HERS_NROW] << 32;
}
/* Lane l (0..7) of a narrow row. */
static inline uint64_t hers_narrow_lane(const uint64_t row[HERS_NROW], int l)
{
    return l < HERS_NROW ? row[l] & 0xffffffffu : row[l - HERS_NROW] >> 32;
}

/* Probe tiles are converted once per query, so their layout may depend on
 * the SIMD level and the gallery form (the gallery's may not: an index is
 * built once and searched at any level). The wide form at every level and
 * the narrow form below AVX-512 use the canonical rows P0, P1 (HERS_TILE_EE
 * offsets; a pre-split AVX2 layout was measured slower, kernel_avx2.c). The
 * narrow form at AVX-512 uses 3 rows per (prime j, dimension i), matched to
 * a narrow gallery row pair (one 512-bit register, kernel_narrow_avx512.c):
 *   row 0: P0 lanes 0-3, P1 lanes 0-3      row 1: P0 lanes 4-7, P1 lanes 4-7
 *   row 2: (P0 + P1) mod q_j, lanes 0-7
 * at word offset HERS_PTILE_N512(d, j, i, row). */
#define HERS_PTILE_N512(d, j, i, row) ((((j) * (d) + (i)) * 3 + (row)) * HERS_TILE)
size_t hers_kernel_probe_rows(hers_simd level, int narrow);
/* Words of one probe tile: k * d * rows * 8. */
static inline size_t hers_kernel_probe_words(hers_simd level, int narrow, size_t d, size_t k)
{
    return k * d * hers_kernel_probe_rows(level, narrow) * HERS_TILE;
}
/* Writes the 8 lanes of (prime j, dimension i) of a probe tile from the
 * canonical residues y0 = P0, y1 = P1 (each < q < 2^50; q is prime j's
 * modulus). */
void hers_kernel_probe_put(hers_simd level, int narrow, uint64_t q, uint64_t *tile, size_t d,
                           size_t j, size_t i, const uint64_t y0[HERS_TILE],
                           const uint64_t y1[HERS_TILE]);

/* Both-encrypted: g = k x d x 2 x 8, p = probe tile (above), out 3 parts. */
typedef void hers_kernel_ee_fn(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                               const hers_kmod *mods, uint64_t *out, size_t stride);
/* Plain gallery: g = k x d x 8, p = k x d x 2 x 8, out 2 parts. */
typedef void hers_kernel_pe_fn(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                               const hers_kmod *mods, uint64_t *out, size_t stride);

void hers_kernel_ee_portable(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                             const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_pe_portable(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                             const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_ee_avx2(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                         const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_pe_avx2(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                         const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_ee_avx512(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                           const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_pe_avx512(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                           const hers_kmod *mods, uint64_t *out, size_t stride);

/* Several probes against one gallery tile: probe tiles p[0 .. np-1] (np >=
 * 1, each in the layout above), result tiles out[0 .. np-1] (each as out of
 * the single-probe kernel, same stride); results identical to np calls of
 * the single-probe kernel. Levels with a multi-probe kernel load each
 * gallery row once per group of probes instead of once per probe. */
typedef void hers_kernel_ee_multi_fn(const uint64_t *g, const uint64_t *const *p, size_t np,
                                     size_t d, size_t k, const hers_kmod *mods,
                                     uint64_t *const *out, size_t stride);
typedef hers_kernel_ee_multi_fn hers_kernel_pe_multi_fn;
void hers_kernel_ee_multi_avx512(const uint64_t *g, const uint64_t *const *p, size_t np, size_t d,
                                 size_t k, const hers_kmod *mods, uint64_t *const *out,
                                 size_t stride);
void hers_kernel_pe_multi_avx512(const uint64_t *g, const uint64_t *const *p, size_t np, size_t d,
                                 size_t k, const hers_kmod *mods, uint64_t *const *out,
                                 size_t stride);
/* Several probes against ng gallery tiles g + t * gstride (t < ng, e.g. the
 * consecutive blocks of one tile index): results out[t * np + r] for probe
 * r; identical to ng x np calls of the single-probe kernel. Levels with such
 * a kernel keep a chunk of the probes' rows in L1 while several gallery
 * tiles stream past it. */
typedef void hers_kernel_tiles_fn(const uint64_t *g, size_t ng, size_t gstride,
                                  const uint64_t *const *p, size_t np, size_t d, size_t k,
                                  const hers_kmod *mods, uint64_t *const *out, size_t stride);
hers_kernel_tiles_fn hers_kernel_ee_tiles_narrow_avx512, hers_kernel_pe_tiles_narrow_avx512;
hers_kernel_tiles_fn hers_kernel_ee_tiles_avx512, hers_kernel_pe_tiles_avx512;
/* The multi-tile kernel of a level and form (ee: both-encrypted), or NULL. */
hers_kernel_tiles_fn *hers_kernel_tiles_select(hers_simd level, int narrow, int ee);
/* One probe against ns gallery tiles g[0 .. ns-1] (anywhere, e.g. blocks of
 * one tile index far apart: each its own sequential stream through the
 * index): results out[r] for tile r; identical to ns calls of the
 * single-probe kernel. ee: both-encrypted (else plain gallery). */
typedef void hers_kernel_streams_fn(const uint64_t *const *g, size_t ns, const uint64_t *p,
                                    size_t d, size_t k, const hers_kmod *mods,
                                    uint64_t *const *out, size_t stride);
hers_kernel_streams_fn hers_kernel_ee_streams_avx512, hers_kernel_pe_streams_avx512;
/* The streams kernel of a level and form, or NULL (the caller then calls the
 * single-probe kernel per tile). */
hers_kernel_streams_fn *hers_kernel_streams_select(hers_simd level, int narrow, int ee);
/* The multi-probe kernels of a level, or NULL where it has none (the caller
 * then calls the single-probe kernel once per probe). */
hers_kernel_ee_multi_fn *hers_kernel_ee_multi_select(hers_simd level, int narrow);
hers_kernel_pe_multi_fn *hers_kernel_pe_multi_select(hers_simd level, int narrow);

/* Orders the non-temporal stores some kernels write their results with
 * (sfence on x86; nothing elsewhere). Call once after a run of kernel calls,
 * before the results are handed to another thread. */
void hers_kernel_fence(void);

/* Narrow-form kernels: same contract, gallery tiles in the narrow layout
 * (every q_j < HERS_NARROW_MAX_Q). */
void hers_kernel_ee_narrow_portable(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                    const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_pe_narrow_portable(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                    const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_ee_narrow_avx2(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_pe_narrow_avx2(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_ee_narrow_avx512(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                  const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_pe_narrow_avx512(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                                  const hers_kmod *mods, uint64_t *out, size_t stride);
void hers_kernel_ee_multi_narrow_avx512(const uint64_t *g, const uint64_t *const *p, size_t np,
                                        size_t d, size_t k, const hers_kmod *mods,
                                        uint64_t *const *out, size_t stride);
void hers_kernel_pe_multi_narrow_avx512(const uint64_t *g, const uint64_t *const *p, size_t np,
                                        size_t d, size_t k, const hers_kmod *mods,
                                        uint64_t *const *out, size_t stride);

/* The kernels of a SIMD level for the wide (narrow = 0) or narrow gallery
 * form; the probe tile must be in the layout of the same (level, narrow). */
hers_kernel_ee_fn *hers_kernel_ee_select(hers_simd level, int narrow);
hers_kernel_pe_fn *hers_kernel_pe_select(hers_simd level, int narrow);

/* x = H 2^64 + L mod q in [0, q), any 64-bit H and L: H 2^64 = H r64 is
 * reduced with Shoup's method (result in [0, 2q)), L with a one-word
 * Barrett step (quotient estimate floor(L bar / 2^64) is at most 1 short,
 * result in [0, 2q)); the sum < 4q takes two conditional subtractions.
 * Constant-time, two high and two low multiplies. */
static inline uint64_t hers_kmod_reduce(uint64_t hi, uint64_t lo, const hers_kmod *m)
{
    uint64_t a = hers_mul_shoup_lazy(hi, m->r64, m->r64_shoup, m->q);
    uint64_t b = lo - (uint64_t)(((unsigned __int128)lo * m->bar) >> 64) * m->q;
    uint64_t s = a + b, q2 = 2 * m->q;
    s -= q2 & (0 - (uint64_t)(s >= q2));
    s -= m->q & (0 - (uint64_t)(s >= m->q));
    return s;
}

/* An exact unsigned 128-bit sum mod q (the portable kernels' sums). */
static inline uint64_t hers_kmod_reduce_u128(unsigned __int128 s, const hers_kmod *m)
{
    return hers_kmod_reduce((uint64_t)(s >> 64), (uint64_t)s, m);
}

/* Final reductions shared by every level. A lane's sum is given as three
 * 64-bit limbs with weights 1, 2^w1, 2^w2 (w1, w2 < 64, limb values such
 * that the total is < 2^128); returns it mod q in [0, q). */
static inline uint64_t hers_kernel_fold(uint64_t l0, uint64_t l1, int w1, uint64_t l2, int w2,
                                        const hers_kmod *m)
{
    unsigned __int128 s = (unsigned __int128)l0 + ((unsigned __int128)l1 << w1) +
                          ((unsigned __int128)l2 << w2);
    return hers_kmod_reduce_u128(s, m);
}

/* R1 = S1 - S0 - S2 mod q from reduced r0, r2 and reduced s1. */
static inline uint64_t hers_kernel_mid(uint64_t s1, uint64_t r0, uint64_t r2, uint64_t q)
{
    return hers_sub_mod(hers_sub_mod(s1, r0, q), r2, q);
}

#endif
