/*
 * batch_layout.c - where the IFMA batch kernel's time goes, and whether a
 * prime-sequential index layout helps. The Karatsuba multi-tile kernel
 * (hers_kernel_ee_tiles_avx512, 8 probes, 16 tiles per call, d = 64, k = 2)
 * over S tile indices x 64 blocks of random residues, five regimes rotated
 * in one process (thread CPU time per probe x template x dim):
 *   A  the index's layout ([s][b], each tile [prime][dim][part][lane]): the scan
 *   B  [s][prime][b]: a call's 16 tiles of one prime are one sequential run
 *   C  A's memory, B's order (one prime per call)
 *   D  A, every result row written to one small buffer (no result traffic)
 *   E  A, the gallery of tile index 0 again and again (1 MiB: no stream)
 *   F  D and E together: the kernel's compute alone
 *   G  A, each (probe, block) result tile-major: a tile's 6 rows are one
 *      384-byte run (stride 8 words), the next tile index's run after it
 *   H  G, then every (probe, block) transposed to row-major (in place,
 *      through a scratch in L2): what a caller of the full form would pay
 * Not part of the build; links against a release build's static library
 * (docs/benchmarks.md, "Session 12: the floors under the two open targets"):
 *
 *   gcc -O2 -march=native -Isrc -Iinclude -o /tmp/batch_layout \
 *       bench/micro/batch_layout.c build/libhers.a -lm -lpthread
 *   /tmp/batch_layout [probes 8] [tile indices 256] [repetitions 7]
 *
 * Residues are arbitrary (< 2^50): only speed is measured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "search/search_kernel.h"

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* 2 MiB-aligned, with transparent huge pages as the library's hers_alloc
 * asks for them (with 4 KiB pages every scattered result line is also a
 * TLB miss, which exaggerates the row-major layout's cost). */
static void *huge_alloc(size_t bytes)
{
    size_t a = (size_t)2 << 20;
    void *p = aligned_alloc(a, (bytes + a - 1) / a * a);
    if (p)
        (void)madvise(p, (bytes + a - 1) / a * a, MADV_HUGEPAGE);
    return p;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define REGIMES 8
#define NG 16 /* tiles per call, as the scan's SCAN_TILES */

int main(int argc, char **argv)
{
    const size_t d = 64, k = 2, B = 64, N = 4096;
    const size_t NP = argc > 1 ? (size_t)atoi(argv[1]) : 8;
    const size_t S = argc > 2 ? (size_t)atoi(argv[2]) : 256;
    const int reps = argc > 3 ? atoi(argv[3]) : 7;
    if (NP < 1 || NP > 32 || S < 1 || reps < 1 || reps > 64)
        return 2;
    hers_kmod km[2];
    hers_kmod_init(&km[0], 1125899906826241ull);
    hers_kmod_init(&km[1], 1125899906629633ull);
    const size_t tw = HERS_TILE_EE(d, k, 0, 0), pw = HERS_TILE_EE(d, 1, 0, 0), rw = 6 * N;
    uint64_t *g = huge_alloc(S * B * tw * 8), *p = huge_alloc(NP * S * tw * 8);
    uint64_t *scratch = aligned_alloc(64, S * 48 * 8);
    uint64_t *res = huge_alloc(NP * B * rw * 8), *small = aligned_alloc(64, NP * NG * 6 * 64 * 8);
    if (!g || !p || !res || !small || !scratch)
        return 1;
    for (size_t i = 0; i < S * B * tw; i++)
        g[i] = (i * 0x9e3779b97f4a7c15ull) >> 14;
    for (size_t i = 0; i < NP * S * tw; i++)
        p[i] = (i * 0xbf58476d1ce4e5b9ull) >> 14;
    memset(res, 0, NP * B * rw * 8);
    static const char *const name[REGIMES] = {
        "A index layout [s][b] (the scan)", "B [s][prime][b], one prime per call",
        "C A's memory, one prime per call", "D A, results to a small buffer",
        "E A, gallery of tile index 0 only", "F D and E: compute alone",
        "G A, results tile-major (384 B runs)", "H G + transpose to row-major"};
    double tm[REGIMES][64];
    const uint64_t *pts[32];
    uint64_t *outs[NG * 32];
    for (int rep = 0; rep < reps; rep++)
        for (int z = 0; z < REGIMES; z++) {
            const int f = (z + rep) % REGIMES;
            double t0 = cpu();
            for (size_t s = 0; s < S; s++) {
                if (f != 1 && f != 2) {
                    for (size_t r = 0; r < NP; r++)
                        pts[r] = p + (r * S + s) * tw;
                    for (size_t b = 0; b < B; b += NG) {
                        for (size_t t = 0; t < NG; t++)
                            for (size_t r = 0; r < NP; r++)
                                outs[t * NP + r] =
                                    f == 3 || f == 5 ? small + (r * NG + t) * 6 * 64
                                        : f >= 6        ? res + ((r * B + b + t) * S + s) * 6 * 8
                                                    : res + (r * B + b + t) * rw + s * 8;
                        const uint64_t *gs = g + ((f >= 4 ? 0 : s) * B + b) * tw;
                        hers_kernel_ee_tiles_avx512(gs, NG, tw, pts, NP, d, k, km, outs,
                                                    f == 3 || f == 5 ? 64 : f >= 6 ? 8 : N);
                    }
                    continue;
                }
                for (size_t j = 0; j < k; j++) {
                    for (size_t r = 0; r < NP; r++)
                        pts[r] = p + (r * S + s) * tw + j * pw;
                    for (size_t b = 0; b < B; b += NG) {
                        for (size_t t = 0; t < NG; t++)
                            for (size_t r = 0; r < NP; r++)
                                outs[t * NP + r] = res + (r * B + b + t) * rw + s * 8 + j * N;
                        const uint64_t *gs = f == 1 ? g + s * B * tw + j * B * pw + b * pw
                                                    : g + (s * B + b) * tw + j * pw;
                        hers_kernel_ee_tiles_avx512(gs, NG, f == 1 ? pw : tw, pts, NP, d, 1,
                                                    &km[j], outs, 2 * N);
                    }
                }
            }
            hers_kernel_fence();
            if (f == 7) /* region of (probe, block): S tiles x 6 rows x 8 -> 6 rows x 8 S */
                for (size_t c = 0; c < NP * B; c++) {
                    uint64_t *reg = res + c * S * 48;
                    memcpy(scratch, reg, S * 48 * 8);
                    for (size_t row = 0; row < 6; row++)
                        for (size_t s = 0; s < S; s++)
                            memcpy(reg + row * S * 8 + s * 8, scratch + s * 48 + row * 8, 64);
                }
            tm[f][rep] = (cpu() - t0) / ((double)S * B * 8 * NP * d) * 1e9;
        }
    double ratio[64];
    for (int i = 0; i < reps; i++)
        ratio[i] = tm[1][i] / tm[0][i];
    qsort(ratio, (size_t)reps, sizeof(double), cmpd);
    printf("paired B/A: median %.3f (%.3f-%.3f)\n", ratio[reps / 2], ratio[0], ratio[reps - 1]);
    for (int f = 0; f < REGIMES; f++) {
        qsort(tm[f], (size_t)reps, sizeof(double), cmpd);
        printf("%-38s min %.3f med %.3f max %.3f\n", name[f], tm[f][0], tm[f][reps / 2],
               tm[f][reps - 1]);
    }
    free(g);
    free(p);
    free(res);
    free(small);
    free(scratch);
    return 0;
}
