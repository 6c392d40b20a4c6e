/* test_search_kernel.c - the fused search kernels (src/search/search_kernel.h)
 * against a scalar modular reference, on random and worst-case residues, at
 * every SIMD level, plus the AVX-512 IFMA kernel body run on a scalar
 * emulation of its intrinsics (it cannot run natively on CPUs without it). */
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_modarith.h"
#include "search/search_internal.h"
#include "search/search_kernel.h"
#include "support/check.h"
#include "support/search_avx512_emul.h"
#define HERS_IFMA_PREFETCH(ptr) ((void)(ptr))
#include "search/kernel_avx512_body.h"
#include "search/kernel_avx512_streams.h"

#define MAXK 3

/* Reference: R0 = sum P0 G0, R1 = sum P0 G1 + P1 G0, R2 = sum P1 G1 (mod q),
 * computed term by term with hers_mul_mod (no Karatsuba, no wide sums). */
static void ref_ee(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                   const hers_modulus *m, uint64_t *out, size_t stride)
{
    for (size_t j = 0; j < k; j++)
        for (size_t l = 0; l < HERS_TILE; l++) {
            uint64_t q = m[j].value, r0 = 0, r1 = 0, r2 = 0;
            for (size_t i = 0; i < d; i++) {
                size_t b0 = HERS_TILE_EE(d, j, i, 0) + l, b1 = HERS_TILE_EE(d, j, i, 1) + l;
                uint64_t g0 = g[b0], g1 = g[b1], p0 = p[b0], p1 = p[b1];
                r0 = hers_add_mod(r0, hers_mul_mod(p0, g0, &m[j]), q);
                r1 = hers_add_mod(r1, hers_mul_mod(p0, g1, &m[j]), q);
                r1 = hers_add_mod(r1, hers_mul_mod(p1, g0, &m[j]), q);
                r2 = hers_add_mod(r2, hers_mul_mod(p1, g1, &m[j]), q);
            }
            out[j * stride + l] = r0;
            out[(k + j) * stride + l] = r1;
            out[(2 * k + j) * stride + l] = r2;
        }
}

static void ref_pe(const uint64_t *g, const uint64_t *p, size_t d, size_t k,
                   const hers_modulus *m, uint64_t *out, size_t stride)
{
    for (size_t j = 0; j < k; j++)
        for (size_t l = 0; l < HERS_TILE; l++) {
            uint64_t q = m[j].value, r0 = 0, r1 = 0;
            for (size_t i = 0; i < d; i++) {
                uint64_t x = g[HERS_TILE_PG(d, j, i) + l];
                r0 = hers_add_mod(r0, hers_mul_mod(p[HERS_TILE_EE(d, j, i, 0) + l], x, &m[j]), q);
                r1 = hers_add_mod(r1, hers_mul_mod(p[HERS_TILE_EE(d, j, i, 1) + l], x, &m[j]), q);
            }
            out[j * stride + l] = r0;
            out[(k + j) * stride + l] = r1;
        }
}

/* fill: 0 random, 1 all q-1 (the accumulator worst case), 2 mixed extremes */
static void fill(uint64_t *v, size_t words_per_prime_row, size_t rows, size_t k,
                 const hers_modulus *m, int mode)
{
    /* v is [k][rows][8] with rows = d * parts */
    for (size_t j = 0; j < k; j++)
        for (size_t r = 0; r < rows; r++)
            for (size_t l = 0; l < HERS_TILE; l++) {
                uint64_t q = m[j].value, x;
                if (mode == 1) x = q - 1;
                else if (mode == 2) x = (test_rand() & 1) ? q - 1 - (test_rand() & 3) : (test_rand() & 3);
                else x = test_rand() % q;
                v[(j * rows + r) * HERS_TILE + l] = x;
            }
    (void)words_per_prime_row;
}

/* Rearranges canonical gallery rows ([k][rows][8], one residue per word)
 * into the narrow layout ([k][rows][4], two per word). */
static void to_narrow(const uint64_t *canon, uint64_t *narrow, size_t rows_total)
{
    for (size_t r = 0; r < rows_total; r++)
        hers_narrow_pack(narrow + r * HERS_NROW, canon + r * HERS_TILE);
}

/* The multi-probe kernels (native where the CPU has them, and the emulated
 * IFMA body) for every group size 1..MULTI_MAX: probe r is the probe p with
 * its residues rotated by r within each row (distinct probes, still < q);
 * each probe's result must equal the term-by-term reference. */
/* 0 when the kernel's output rows for gallery tile g x probe tile p equal the
 * term-by-term reference (ee: 3k rows, pe: 2k), else 1 + the first row that
 * differs. want: scratch of 3 k stride words. */
static size_t rows_differ(const uint64_t *out, const uint64_t *g, const uint64_t *p, size_t d,
                          size_t k, int ee, const hers_modulus *m, uint64_t *want, size_t stride)
{
    if (ee)
        ref_ee(g, p, d, k, m, want, stride);
    else
        ref_pe(g, p, d, k, m, want, stride);
    for (size_t row = 0; row < (ee ? 3 * k : 2 * k); row++)
        if (memcmp(out + row * stride, want + row * stride, HERS_TILE * 8) != 0)
            return row + 1;
    return 0;
}

#define MULTI_MAX 9
#define TILES_MAX 6
static void run_multi(const uint64_t *g, const uint64_t *p, size_t d, size_t k, int ee,
                      const hers_modulus *m, const hers_kmod *km, size_t stride)
{
    size_t pw = d * 2 * k * HERS_TILE;
    uint64_t *ps[MULTI_MAX], *outs[MULTI_MAX], *want = hers_alloc_array(3 * k * stride, 8);
    for (size_t r = 0; r < MULTI_MAX; r++) {
        ps[r] = hers_alloc_array(pw, 8);
        outs[r] = hers_alloc_array(3 * k * stride, 8);
        for (size_t w = 0; w < pw; w++)
            ps[r][w] = p[w - w % HERS_TILE + (w + r) % HERS_TILE];
    }
    for (size_t np = 1; np <= MULTI_MAX; np++) {
        for (int native = 0; native < 2; native++) {
            hers_kernel_ee_multi_fn *f = NULL;
            if (native) {
                if (hers_cpu_max_simd() < HERS_SIMD_AVX512)
                    continue;
                f = ee ? hers_kernel_ee_multi_select(HERS_SIMD_AVX512, 0)
                       : hers_kernel_pe_multi_select(HERS_SIMD_AVX512, 0);
                CHECK(f != NULL);
                if (!f)
                    continue;
            }
            for (size_t r = 0; r < np; r++)
                memset(outs[r], 0xff, 3 * k * stride * 8);
            const uint64_t *const *pc = (const uint64_t *const *)ps;
            if (f)
                f(g, pc, np, d, k, km, outs, stride);
            else if (ee)
                ifma_kernel_ee_multi(g, pc, np, d, k, km, outs, stride);
            else
                ifma_kernel_pe_multi(g, pc, np, d, k, km, outs, stride);
            for (size_t r = 0; r < np; r++) {
                size_t bad = rows_differ(outs[r], g, ps[r], d, k, ee, m, want, stride);
                if (bad) {
                    fprintf(stderr, "multi kernel (%s, %s) d=%zu k=%zu np=%zu probe %zu row %zu "
                                    "differs\n", native ? "native" : "emulated",
                            ee ? "ee" : "pe", d, k, np, r, bad - 1);
                    CHECK(0);
                }
            }
        }
    }
    /* the multi-tile kernel: TILES_MAX gallery tiles (tile t: the gallery
     * rotated by t lanes), every group size, native and emulated */
    size_t gw = ee ? d * 2 * k * HERS_TILE : d * k * HERS_TILE;
    uint64_t *gc = hers_alloc_array(TILES_MAX * gw, 8), *tout[TILES_MAX * MULTI_MAX];
    CHECK(gc != NULL);
    for (size_t t = 0; gc && t < TILES_MAX; t++)
        for (size_t w = 0; w < gw; w++)
            gc[t * gw + w] = g[w - w % HERS_TILE + (w + t) % HERS_TILE];
    for (size_t x = 0; x < TILES_MAX * MULTI_MAX; x++)
        tout[x] = hers_alloc_array(3 * k * stride, 8);
    /* tile counts 1 and 3 (the prefetch's three cases), group sizes
     * crossing IFMA_GROUP = 4 twice */
    const size_t ngs[] = {1, 3}, nps[] = {1, 2, 3, 4, 5, 8, 9};
    for (size_t a = 0; gc && a < sizeof ngs / sizeof ngs[0]; a++)
        for (size_t b = 0; b < sizeof nps / sizeof nps[0]; b++)
            for (int native = 0; native < 2; native++) {
                size_t ng = ngs[a], np = nps[b];
                hers_kernel_tiles_fn *tf = NULL;
                if (native) {
                    if (hers_cpu_max_simd() < HERS_SIMD_AVX512)
                        continue;
                    tf = hers_kernel_tiles_select(HERS_SIMD_AVX512, 0, ee);
                    CHECK(tf != NULL);
                    if (!tf)
                        continue;
                }
                uint64_t *o[TILES_MAX * MULTI_MAX];
                for (size_t t = 0; t < ng; t++)
                    for (size_t r = 0; r < np; r++) {
                        o[t * np + r] = tout[t * MULTI_MAX + r];
                        memset(o[t * np + r], 0xff, 3 * k * stride * 8);
                    }
                const uint64_t *const *pc = (const uint64_t *const *)ps;
                if (tf)
                    tf(gc, ng, gw, pc, np, d, k, km, o, stride);
                else if (ee)
                    ifma_kernel_ee_tiles(gc, ng, gw, pc, np, d, k, km, o, stride);
                else
                    ifma_kernel_pe_tiles(gc, ng, gw, pc, np, d, k, km, o, stride);
                hers_kernel_fence();
                for (size_t t = 0; t < ng; t++)
                    for (size_t r = 0; r < np; r++) {
                        size_t bad = rows_differ(o[t * np + r], gc + t * gw, ps[r], d, k, ee, m,
                                                 want, stride);
                        if (bad) {
                            fprintf(stderr, "tiles kernel (%s, %s) d=%zu k=%zu ng=%zu np=%zu "
                                            "tile %zu probe %zu row %zu differs\n",
                                    native ? "native" : "emulated", ee ? "ee" : "pe", d, k, ng, np,
                                    t, r, bad - 1);
                            CHECK(0);
                        }
                    }
            }
    /* the single-probe streams kernel: ns = 1 .. TILES_MAX tiles (crossing
     * IFMA_STREAMS = 4: a second round), in reverse memory order (the tiles
     * are independent pointers), native and emulated */
    for (size_t ns = 1; gc && ns <= TILES_MAX; ns++)
        for (int native = 0; native < 2; native++) {
            hers_kernel_streams_fn *sf = NULL;
            if (native) {
                if (hers_cpu_max_simd() < HERS_SIMD_AVX512)
                    continue;
                sf = hers_kernel_streams_select(HERS_SIMD_AVX512, 0, ee);
                CHECK(sf != NULL);
                if (!sf)
                    continue;
            }
            const uint64_t *gt[TILES_MAX];
            uint64_t *o[TILES_MAX];
            for (size_t t = 0; t < ns; t++) {
                gt[t] = gc + (ns - 1 - t) * gw;
                o[t] = tout[t];
                memset(o[t], 0xff, 3 * k * stride * 8);
            }
            if (sf)
                sf(gt, ns, ps[1], d, k, km, o, stride);
            else if (ee)
                ifma_kernel_ee_streams(gt, ns, ps[1], d, k, km, o, stride);
            else
                ifma_kernel_pe_streams(gt, ns, ps[1], d, k, km, o, stride);
            hers_kernel_fence();
            for (size_t t = 0; t < ns; t++) {
                size_t bad = rows_differ(o[t], gt[t], ps[1], d, k, ee, m, want, stride);
                if (bad) {
                    fprintf(stderr, "streams kernel (%s, %s) d=%zu k=%zu ns=%zu tile %zu row %zu "
                                    "differs\n", native ? "native" : "emulated", ee ? "ee" : "pe",
                            d, k, ns, t, bad - 1);
                    CHECK(0);
                }
            }
        }
    for (size_t x = 0; x < TILES_MAX * MULTI_MAX; x++)
        hers_free(tout[x]);
    hers_free(gc);
    for (size_t r = 0; r < MULTI_MAX; r++) {
        hers_free(ps[r]);
        hers_free(outs[r]);
    }
    hers_free(want);
}

/* The probe tile p (canonical rows) in the layout of (level, narrow). */
static uint64_t *probe_layout(const uint64_t *p, hers_simd level, int narrow, size_t d, size_t k,
                              const hers_modulus *m)
{
    uint64_t *pl = hers_alloc_array(hers_kernel_probe_words(level, narrow, d, k), 8);
    CHECK(pl != NULL);
    for (size_t j = 0; pl && j < k; j++)
        for (size_t i = 0; i < d; i++)
            hers_kernel_probe_put(level, narrow, m[j].value, pl, d, j, i,
                                  p + HERS_TILE_EE(d, j, i, 0), p + HERS_TILE_EE(d, j, i, 1));
    return pl;
}

/* The narrow multi-probe kernels (native only: they have no emulation) for
 * every group size 1..MULTI_MAX (crossing the group of 8), probes as in
 * run_multi; g: canonical gallery rows for the reference, gn: narrow. */
static void run_multi_narrow(const uint64_t *g, const uint64_t *gn, const uint64_t *p, size_t d,
                             size_t k, int ee, const hers_modulus *m, const hers_kmod *km,
                             size_t stride)
{
    hers_kernel_ee_multi_fn *f = ee ? hers_kernel_ee_multi_select(HERS_SIMD_AVX512, 1)
                                    : hers_kernel_pe_multi_select(HERS_SIMD_AVX512, 1);
    if (hers_cpu_max_simd() < HERS_SIMD_AVX512 || !f)
        return;
    size_t pw = d * 2 * k * HERS_TILE;
    uint64_t *ps[MULTI_MAX], *pl[MULTI_MAX], *outs[MULTI_MAX];
    uint64_t *want = hers_alloc_array(3 * k * stride, 8);
    for (size_t r = 0; r < MULTI_MAX; r++) {
        ps[r] = hers_alloc_array(pw, 8);
        outs[r] = hers_alloc_array(3 * k * stride, 8);
        for (size_t w = 0; w < pw; w++)
            ps[r][w] = p[w - w % HERS_TILE + (w + r) % HERS_TILE];
        pl[r] = probe_layout(ps[r], HERS_SIMD_AVX512, 1, d, k, m);
    }
    for (size_t np = 1; np <= MULTI_MAX; np++) {
        for (size_t r = 0; r < np; r++)
            memset(outs[r], 0xff, 3 * k * stride * 8);
        f(gn, (const uint64_t *const *)pl, np, d, k, km, outs, stride);
        hers_kernel_fence();
        for (size_t r = 0; r < np; r++) {
            size_t bad = rows_differ(outs[r], g, ps[r], d, k, ee, m, want, stride);
            if (bad) {
                fprintf(stderr, "narrow multi kernel (%s) d=%zu k=%zu np=%zu probe %zu row %zu "
                                "differs\n", ee ? "ee" : "pe", d, k, np, r, bad - 1);
                CHECK(0);
            }
        }
    }
    /* the multi-tile kernel: TILES_MAX gallery tiles (tile t: the gallery
     * rotated by t lanes), crossing its internal group of 4 */
    hers_kernel_tiles_fn *tf = hers_kernel_tiles_select(HERS_SIMD_AVX512, 1, ee);
    CHECK(tf != NULL);
    size_t gw = ee ? d * 2 * k * HERS_TILE : d * k * HERS_TILE, gnw = gw / 2;
    uint64_t *gc = hers_alloc_array(TILES_MAX * gw, 8), *gt = hers_alloc_array(TILES_MAX * gnw, 8);
    uint64_t *tout[TILES_MAX * MULTI_MAX];
    for (size_t t = 0; t < TILES_MAX; t++) {
        for (size_t w = 0; w < gw; w++)
            gc[t * gw + w] = g[w - w % HERS_TILE + (w + t) % HERS_TILE];
        to_narrow(gc + t * gw, gt + t * gnw, gw / HERS_TILE);
        for (size_t r = 0; r < MULTI_MAX; r++)
            tout[t * MULTI_MAX + r] = hers_alloc_array(3 * k * stride, 8);
    }
    const size_t nps[] = {1, 3, 8, 9};
    for (size_t ng = 1; tf && ng <= TILES_MAX; ng++)
        for (size_t a = 0; a < sizeof nps / sizeof nps[0]; a++) {
            size_t np = nps[a];
            uint64_t *o[TILES_MAX * MULTI_MAX];
            for (size_t t = 0; t < ng; t++)
                for (size_t r = 0; r < np; r++) {
                    o[t * np + r] = tout[t * MULTI_MAX + r];
                    memset(o[t * np + r], 0xff, 3 * k * stride * 8);
                }
            tf(gt, ng, gnw, (const uint64_t *const *)pl, np, d, k, km, o, stride);
            hers_kernel_fence();
            for (size_t t = 0; t < ng; t++)
                for (size_t r = 0; r < np; r++) {
                    size_t bad = rows_differ(o[t * np + r], gc + t * gw, ps[r], d, k, ee, m, want,
                                             stride);
                    if (bad) {
                        fprintf(stderr, "narrow tiles kernel (%s) d=%zu k=%zu ng=%zu np=%zu "
                                        "tile %zu probe %zu row %zu differs\n",
                                ee ? "ee" : "pe", d, k, ng, np, t, r, bad - 1);
                        CHECK(0);
                    }
                }
        }
    for (size_t x = 0; x < TILES_MAX * MULTI_MAX; x++)
        hers_free(tout[x]);
    hers_free(gc);
    hers_free(gt);
    for (size_t r = 0; r < MULTI_MAX; r++) {
        hers_free(ps[r]);
        hers_free(pl[r]);
        hers_free(outs[r]);
    }
    hers_free(want);
}

/* One case: the kernels of every level (and, for the wide form, the
 * emulated IFMA body) against the term-by-term reference, the probe in the
 * layout of each (level, form). narrow: the gallery in the narrow layout
 * (every q < 2^30), and the narrow multi-probe kernels. */
static void run_case(size_t d, size_t k, int mode, const hers_modulus *m, const hers_kmod *km,
                     int narrow)
{
    size_t gw = d * 2 * k * HERS_TILE, pw = d * 2 * k * HERS_TILE, gpw = d * k * HERS_TILE;
    const size_t stride = 24; /* out rows wider than a tile, like a real N */
    uint64_t *g = hers_alloc_array(gw, 8), *p = hers_alloc_array(pw, 8);
    uint64_t *gp = hers_alloc_array(gpw, 8);
    uint64_t *gn = hers_alloc_array(gw / 2, 8), *gpn = hers_alloc_array(gpw / 2, 8);
    uint64_t *want = hers_alloc_array(3 * k * stride, 8), *got = hers_alloc_array(3 * k * stride, 8);
    CHECK(g && p && gp && gn && gpn && want && got);
    if (!g || !p || !gp || !gn || !gpn || !want || !got)
        goto done;
    fill(g, 0, d * 2, k, m, mode);
    fill(p, 0, d * 2, k, m, mode);
    fill(gp, 0, d, k, m, mode);
    if (narrow) {
        to_narrow(g, gn, d * 2 * k);
        to_narrow(gp, gpn, d * k);
        for (size_t r = 0; r < d * 2 * k; r++)
            for (int l = 0; l < HERS_TILE; l++)
                if (hers_narrow_lane(gn + r * HERS_NROW, l) != g[r * HERS_TILE + (size_t)l])
                    CHECK(0);
    }
    const uint64_t *ge = narrow ? gn : g, *gpe = narrow ? gpn : gp;

    for (int ee = 1; ee >= 0; ee--) {
        size_t rows = ee ? 3 * k : 2 * k;
        if (ee)
            ref_ee(g, p, d, k, m, want, stride);
        else
            ref_pe(gp, p, d, k, m, want, stride);
        FOR_EACH_SIMD(level) {
            /* the probe tile in the layout of (level, form) */
            uint64_t *pl = probe_layout(p, level, narrow, d, k, m);
            memset(got, 0xff, 3 * k * stride * 8);
            if (ee)
                hers_kernel_ee_select(level, narrow)(ge, pl, d, k, km, got, stride);
            else
                hers_kernel_pe_select(level, narrow)(gpe, pl, d, k, km, got, stride);
            for (size_t r = 0; r < rows; r++)
                CHECK(memcmp(got + r * stride, want + r * stride, HERS_TILE * 8) == 0);
            hers_free(pl);
        }
        if (narrow) {
            run_multi_narrow(ee ? g : gp, ee ? gn : gpn, p, d, k, ee, m, km, stride);
            continue;
        }
        memset(got, 0xff, 3 * k * stride * 8); /* emulated IFMA */
        if (ee)
            ifma_kernel_ee(g, p, d, k, km, got, stride);
        else
            ifma_kernel_pe(gp, p, d, k, km, got, stride);
        for (size_t r = 0; r < rows; r++)
            CHECK(memcmp(got + r * stride, want + r * stride, HERS_TILE * 8) == 0);
        run_multi(ee ? g : gp, p, d, k, ee, m, km, stride);
    }
done:
    hers_free(g);
    hers_free(p);
    hers_free(gp);
    hers_free(gn);
    hers_free(gpn);
    hers_free(want);
    hers_free(got);
}

int main(void)
{
    (void)test_seed();
    int quick = getenv("HERS_TEST_QUICK") != NULL;
    /* the largest moduli the kernels accept (just below 2^50), a typical
     * 50-bit NTT prime and a small one */
    const uint64_t qs[MAXK] = {(UINT64_C(1) << 50) - 27, UINT64_C(1125899906826241),
                               UINT64_C(1032193)};
    hers_modulus m[MAXK];
    hers_kmod km[MAXK];
    for (int j = 0; j < MAXK; j++) {
        CHECK_OK(hers_modulus_init(&m[j], qs[j]));
        hers_kmod_init(&km[j], qs[j]);
    }

    /* the final reduction, any 128-bit value, against hers_reduce128 */
    for (int j = 0; j < MAXK; j++)
        for (int r = 0; r < 20000; r++) {
            uint64_t hi = test_rand(), lo = test_rand();
            if (r % 4 == 1) hi = UINT64_MAX - (test_rand() & 7);
            if (r % 4 == 2) lo = UINT64_MAX - (test_rand() & 7);
            if (r % 8 == 3) hi = 0;
            if (hers_kmod_reduce(hi, lo, &km[j]) != hers_reduce128(hi, lo, &m[j]))
                CHECK(0);
        }

    /* the multi-probe kernels' vector fold (emulated IFMA): lo + 2^52 hi
     * mod q for every lo < 2^62, hi < 2^60 (the accumulator ranges), edges
     * included, against hers_reduce128 */
    for (int j = 0; j < MAXK; j++) {
        ifma_fold_consts fc;
        ifma_fold_init(&fc, &km[j]);
        for (int r = 0; r < 4000; r++) {
            uint64_t lo[8], hi[8], got[8];
            for (int l = 0; l < 8; l++) {
                lo[l] = test_rand() >> 2;
                hi[l] = test_rand() >> 4;
                int e = (r + l) % 6;
                if (e == 1) lo[l] = (UINT64_C(1) << 62) - 1 - (test_rand() & 7);
                if (e == 2) hi[l] = (UINT64_C(1) << 60) - 1 - (test_rand() & 7);
                if (e == 3) lo[l] = hi[l] = 0;
                if (e == 4) lo[l] = qs[j] * (test_rand() & 0xfff);
            }
            __m512i vlo, vhi;
            memcpy(vlo.v, lo, sizeof lo);
            memcpy(vhi.v, hi, sizeof hi);
            _mm512_storeu_si512(got, ifma_fold_vec(vlo, vhi, &fc));
            for (int l = 0; l < 8; l++) {
                unsigned __int128 v = (unsigned __int128)lo[l] + ((unsigned __int128)hi[l] << 52);
                if (got[l] != hers_reduce128((uint64_t)(v >> 64), (uint64_t)v, &m[j]))
                    CHECK(0);
            }
        }
    }

    /* bit-packing: round trip and the byte layout (LSB first) vs a bit loop */
    for (int bits = 1; bits <= 64; bits++) {
        uint64_t v[64], w[64];
        uint8_t buf[64 * 8 + 8], ref[64 * 8 + 8];
        size_t n = 8 * (1 + test_rand() % 8), bytes = n / 8 * (size_t)bits;
        uint64_t mask = bits == 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
        for (size_t i = 0; i < n; i++)
            v[i] = test_rand() & mask;
        memset(ref, 0, sizeof ref);
        for (size_t i = 0; i < n; i++)
            for (int b = 0; b < bits; b++)
                if ((v[i] >> b) & 1)
                    ref[(i * (size_t)bits + (size_t)b) / 8] |= (uint8_t)(1u << ((i * (size_t)bits + (size_t)b) % 8));
        memset(buf, 0xee, sizeof buf);
        se_pack(buf, v, n, bits);
        CHECK(memcmp(buf, ref, bytes) == 0 && buf[bytes] == 0xee);
        CHECK(hers_bitunpack(w, buf, n, bits, bits == 64 ? ~UINT64_C(0) : mask + 1) == 1);
        CHECK(memcmp(v, w, n * 8) == 0);
        if (bits < 64 && n > 1)
            CHECK(hers_bitunpack(w, buf, n, bits, v[0] > v[1] ? v[0] : v[1]) == 0);
    }

    const size_t dims[] = {1, 2, 16, 63, 64, 128, 512, 1024};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        if (quick && dims[di] > 128 && dims[di] != 1024)
            continue;
        for (size_t k = 1; k <= MAXK; k++)
            for (int mode = 0; mode < 3; mode++)
                run_case(dims[di], k, mode, m, km, 0);
    }

    /* narrow form: the largest modulus it accepts (2^30 - 35 is prime), a
     * 30-bit NTT prime = 1 mod 8192 and a small one */
    const uint64_t nqs[MAXK] = {(UINT64_C(1) << 30) - 35, UINT64_C(1073668097), UINT64_C(12289)};
    hers_modulus nm[MAXK];
    hers_kmod nkm[MAXK];
    for (int j = 0; j < MAXK; j++) {
        CHECK(nqs[j] < HERS_NARROW_MAX_Q);
        CHECK_OK(hers_modulus_init(&nm[j], nqs[j]));
        hers_kmod_init(&nkm[j], nqs[j]);
    }
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        if (quick && dims[di] > 128 && dims[di] != 1024)
            continue;
        for (size_t k = 1; k <= MAXK; k++)
            for (int mode = 0; mode < 3; mode++)
                run_case(dims[di], k, mode, nm, nkm, 1);
    }
    return test_finish();
}
