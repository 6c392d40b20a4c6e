/*
 * search.c - the server's search: probes rearranged once into the kernel's
 * tiled form, then one pass over the index
 * in which every gallery tile is multiplied with every probe's tile while it
 * is in cache, parallel over (tile range, block range) tasks; then the
 * optional shrinking of the results (modulus switching, relinearisation).
 * Also the reference path (generic BFV multiply + relinearise + add per
 * dimension, as the authors' code does).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/crc32.h"
#include "hers/hers_mem.h"
#include "search/search_internal.h"

hers_status hers_searcher_create(unsigned threads, hers_searcher **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "searcher: out is NULL");
    *out = NULL;
    hers_searcher *s = hers_alloc(sizeof *s);
    if (!s)
        return hers_error(HERS_ERR_NOMEM, "searcher: out of memory");
    hers_status st = hers_pool_create(threads, &s->pool);
    if (st != HERS_OK) {
        hers_free(s);
        return st;
    }
    *out = s;
    return HERS_OK;
}

void hers_searcher_free(hers_searcher *s)
{
    if (!s)
        return;
    hers_pool_free(s->pool);
    hers_free(s->probe);
    hers_free(s->untile);
    hers_free(s);
}

unsigned hers_searcher_threads(const hers_searcher *s)
{
    return hers_pool_threads(s->pool);
}

void hers_searcher_phases(const hers_searcher *s, hers_search_phases *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (s)
        *out = s->last;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ results */

/* The result pool: result memory freed by hers_result_free, kept for the
 * next searches. A result's memory is written by the kernels once per
 * search; fresh memory costs a page fault and a page clear per 2 MiB (per
 * 4 KiB without huge pages) plus hers_alloc's zeroing, and on this VM a
 * first touch runs at 0.03-1.7 GB/s against ~15 GB/s for memory written
 * before (docs/design.md "Enrolment: the fresh-page bound"): 50 MB per probe
 * at n = 2^20, d = 64 (3 parts, 2 primes), i.e. 30 ms to seconds per probe,
 * more than its share of the scan. A server's passes differ in size (1 to
 * 32 probes) and overlap (a pass's results live while its callers encode
 * their responses and the next pass scans), so hers_search takes one slab
 * per probe and the pool keeps many: a pass of any size reuses them.
 *
 * Only pieces from ARENA_KEEP_MIN up are kept. A piece is reused for a
 * request between half and all of its size (best fit); the kernels write
 * every word, so a reused piece needs no zeroing. What the pool keeps is
 * bounded twice: kept + in use never exceeds 1.25 x the most that was ever
 * in use at once (the pool never makes the process much larger than its
 * busiest moment made it; pool_bound), and kept <= a quarter of the
 * physical memory. When a request
 * fits no kept piece, kept pieces are freed until a fresh one fits in that
 * bound. Results hold public data only (ciphertexts). */
#define ARENA_KEEP_MIN ((size_t)4 << 20)
/* Under AddressSanitizer a kept piece is poisoned until it is handed out
 * again: a read through a stale pointer (an answer still sending a body
 * that went back to the pool: hers_service_search_pieces) is reported. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POOL_POISON(a, n) ASAN_POISON_MEMORY_REGION((a), (n))
#define POOL_UNPOISON(a, n) ASAN_UNPOISON_MEMORY_REGION((a), (n))
#else
#define POOL_POISON(a, n) ((void)(a), (void)(n))
#define POOL_UNPOISON(a, n) ((void)(a), (void)(n))
#endif
#define POOL_MAX 512
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hers_slab pool[POOL_MAX];
static size_t npool, pool_bytes, in_use, peak_in_use, pool_cap;
static size_t pool_fresh;   /* fresh pieces made (res_pool_fresh) */

/* A quarter of the physical memory (1 GiB if unknown). */
static size_t pool_cap_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return (size_t)1 << 30;
    return (size_t)((uint64_t)pages / 4 * (uint64_t)page);
}

/* What kept + in use may reach: the busiest moment so far plus a quarter.
 * Without the quarter, a pass one probe larger than any before (a server's
 * 32 after 31s) needs one fresh slab, and staying under the old peak for it
 * dropped the kept pieces the same pass needed next (its body), which were
 * then made fresh too, every time the sizes alternated. */
static size_t pool_bound(void)
{
    return peak_in_use + peak_in_use / 4;
}

static uint64_t *arena_get(size_t bytes, size_t *got)
{
    *got = bytes;
    if (bytes < ARENA_KEEP_MIN)
        return hers_alloc(bytes);
    struct hers_slab drop[POOL_MAX];
    size_t ndrop = 0;
    uint64_t *a = NULL;
    pthread_mutex_lock(&pool_mu);
    size_t best = npool;
    for (size_t i = 0; i < npool; i++)
        if (pool[i].bytes >= bytes && pool[i].bytes / 2 <= bytes &&
            (best == npool || pool[i].bytes < pool[best].bytes))
            best = i;
    if (best < npool) {
        a = pool[best].a;
        *got = pool[best].bytes;
        pool_bytes -= pool[best].bytes;
        pool[best] = pool[--npool];
    } else {
        /* a fresh piece: make room for it in the bound (front of the list first) */
        while (npool && in_use + pool_bytes + bytes > pool_bound()) {
            drop[ndrop++] = pool[0];
            pool_bytes -= pool[0].bytes;
            memmove(pool, pool + 1, --npool * sizeof *pool);
        }
    }
    if (!a)
        pool_fresh++;
    in_use += *got;
    if (in_use > peak_in_use)
        peak_in_use = in_use;
    pthread_mutex_unlock(&pool_mu);
    for (size_t i = 0; i < ndrop; i++) {
        POOL_UNPOISON(drop[i].a, drop[i].bytes);
        hers_free(drop[i].a);
    }
    if (a)
        POOL_UNPOISON(a, *got);
    if (!a && !(a = hers_alloc(bytes))) {
        pthread_mutex_lock(&pool_mu);
        in_use -= bytes;
        pthread_mutex_unlock(&pool_mu);
    }
    return a;
}

static void arena_put(uint64_t *a, size_t bytes)
{
    if (a && bytes >= ARENA_KEEP_MIN) {
        pthread_mutex_lock(&pool_mu);
        if (!pool_cap)
            pool_cap = pool_cap_bytes();
        in_use -= bytes;
        if (npool < POOL_MAX && pool_bytes + bytes <= pool_cap &&
            in_use + pool_bytes + bytes <= pool_bound()) {
            POOL_POISON(a, bytes);
            pool[npool].a = a;
            pool[npool].bytes = bytes;
            npool++;
            pool_bytes += bytes;
            a = NULL;
        }
        pthread_mutex_unlock(&pool_mu);
    }
    hers_free(a);
}

void *res_pool_get(size_t bytes, size_t *got)
{
    return arena_get(bytes, got);
}

size_t res_pool_fresh(void)
{
    pthread_mutex_lock(&pool_mu);
    size_t n = pool_fresh;
    pthread_mutex_unlock(&pool_mu);
    return n;
}

void res_pool_put(void *a, size_t bytes)
{
    arena_put(a, bytes);
}

void hers_result_free(hers_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->cts && i < r->count * r->blocks; i++)
        hers_ciphertext_free(&r->cts[i]);
    hers_free(r->cts);
    hers_free(r->win);
    hers_free(r->arena);
    for (size_t i = 0; r->slabs && i < r->nslabs; i++)
        arena_put(r->slabs[i].a, r->slabs[i].bytes);
    hers_free(r->slabs);
    if (r->body_mem) {   /* the owner (views borrow body and body_crc) */
        arena_put((uint64_t *)(void *)r->body_mem, r->body_bytes);
        hers_free(r->body_crc);
    }
    hers_free(r);
}

hers_status hers_result_alloc(const hers_params *p, hers_search_mode mode, size_t count, size_t n,
                              size_t d, hers_result **out)
{
    hers_result *r = hers_alloc(sizeof *r);
    if (!r)
        return hers_error(HERS_ERR_NOMEM, "result: out of memory");
    memcpy(r->params_id, hers_params_id(p), HERS_PARAMS_ID_BYTES);
    r->mode = mode;
    r->count = count;
    r->n = n;
    r->d = d;
    size_t N = hers_params_n(p);
    r->blocks = (n + N - 1) / N;
    r->cts = hers_alloc_array(count * r->blocks, sizeof *r->cts);
    if (!r->cts) {
        hers_free(r);
        return hers_error(HERS_ERR_NOMEM, "result: out of memory");
    }
    *out = r;
    return HERS_OK;
}

/* ------------------------------------------------------------ the scan */

/* Probes scanned in one pass over the index (their tiles of one tile index
 * share L2 with the gallery tile). */
#define HERS_SEARCH_MAX_BATCH 16

struct scan_ctx {
    const hers_params *p;
    const hers_index *ix;
    const hers_query *q;
    hers_result *res;
    uint64_t *probe;        /* batch x tiles x probe tile words */
    size_t r0, rc;          /* current batch: probes r0 .. r0 + rc - 1 */
    size_t ptw;             /* probe tile words = k*d*2*8 */
    size_t tile_groups, block_groups, tg, bg;
    hers_simd level;
    hers_kernel_ee_fn *ee;
    hers_kernel_pe_fn *pe;
    hers_kernel_ee_multi_fn *ee_multi; /* NULL: the level has none */
    hers_kernel_pe_multi_fn *pe_multi;
    hers_kernel_tiles_fn *tiles;       /* NULL: the level has none */
    hers_kernel_streams_fn *streams;   /* NULL: the level has none */
    const hers_search_opts *opts;
    size_t keep;            /* primes of a shrunk result (hers_search_result_primes) */
    res_compact_plan plan;  /* HERS_RESULT_COMPACT: the body's form */
    uint64_t *ys;           /* HERS_RESULT_COMPACT: 2N words of scratch per worker */
    /* staged: the kernels write each result ciphertext tile-major (see
     * res_tile); untile() makes it row-major again, with rows x N words of
     * scratch per worker at untile */
    int staged;
    size_t rows;            /* rows of a result ciphertext: parts x k */
    uint64_t *untile;
    hers_task_error err;
};

/* Where the kernels write row 0 of tile s of result ciphertext i; its rows
 * are res_stride(c) words apart. Row-major (the ciphertext's own layout),
 * a tile's row r is 8 words of row r, N words from the next row: a batch's
 * kernel call then writes every 64-byte line to another place (16 tiles x
 * 8 probes x 6 rows, each row 32 KiB from the next, each ciphertext 192 KiB
 * from the next block's). Staged (tile-major), tile s of a ciphertext is
 * its rows x 8 words at s x rows x 8: one 384-byte run per tile, the next
 * tile index's run after it. Measured on the Zen 5 (docs/benchmarks.md,
 * session 12): the batch kernel takes 0.81x the time with staged results
 * (perf samples of 60 searches of 8 probes, 2^18 x 64, one thread), the
 * search ~0.9x with the untile pass. untile() restores the row-major layout
 * once per ciphertext, in cache, inside the pass that reads the ciphertext
 * next where there is one (compaction, shrinking), else in a pass of its
 * own. */
static inline uint64_t *res_tile(const struct scan_ctx *c, size_t i, size_t s)
{
    uint64_t *a = c->res->cts[i].data;
    return c->staged ? a + s * c->rows * HERS_TILE : a + s * HERS_TILE;
}

static inline size_t res_stride(const struct scan_ctx *c)
{
    return c->staged ? HERS_TILE : c->ix->N;
}

/* Ciphertext a (rows x N words, tile-major) -> row-major, through
 * scratch (rows x N words): one sequential read, then rows sequential
 * writes, both in L2 (192 KiB at n4096, 3 parts). */
static void untile(uint64_t *a, uint64_t *scratch, size_t rows, size_t N)
{
    memcpy(scratch, a, rows * N * sizeof *a);
    for (size_t r = 0; r < rows; r++) {
        uint64_t *row = a + r * N;
        const uint64_t *src = scratch + r * HERS_TILE;
        for (size_t s = 0; s < N / HERS_TILE; s++)
            memcpy(row + s * HERS_TILE, src + s * rows * HERS_TILE, HERS_TILE * sizeof *a);
    }
}

static void untile_ct(const struct scan_ctx *c, hers_ciphertext *ct, unsigned w)
{
    size_t N = c->ix->N;
    untile(ct->data, c->untile + (size_t)w * c->rows * N, c->rows, N);
}

/* Task: result ciphertext i, staged -> row-major (the full form). */
static void untile_task(void *vctx, size_t task, unsigned w)
{
    struct scan_ctx *c = vctx;
    untile_ct(c, &c->res->cts[task], w);
}

/* Task (r, i): probe r, dimension i -> its rows of every probe tile, in the
 * layout of the active SIMD level. The probe is used as encrypted: the
 * factor t of both sides lives in the index (t^2 C). */
static void probe_task(void *vctx, size_t task, unsigned w)
{
    (void)w;
    struct scan_ctx *c = vctx;
    const hers_params *p = c->p;
    const hers_index *ix = c->ix;
    size_t d = ix->d, r = task / d, i = task % d; /* r: probe within the batch */
    const hers_ciphertext *ct = &c->q->cts[(c->r0 + r) * d + i];
    uint64_t *base = c->probe + r * ix->tiles * c->ptw;
    for (size_t j = 0; j < ix->k; j++) {
        const uint64_t *s0 = hers_ct_poly(ct, 0, j), *s1 = hers_ct_poly(ct, 1, j);
        uint64_t q = hers_params_prime(p, j);
        for (size_t s = 0; s < ix->tiles; s++)
            hers_kernel_probe_put(c->level, ix->narrow, q, base + s * c->ptw, d, j, i,
                                  s0 + s * HERS_TILE,
                                  s1 + s * HERS_TILE);
    }
}

/* Gallery tiles per call of a multi-tile kernel (the IFMA one prefetches a
 * round of them, 16 x 8 KiB at d = 64, ahead into L2). */
#define SCAN_TILES 16
/* Gallery streams a single probe's scan reads side by side (the streams
 * kernel, kernel_avx512_streams.h): on the Zen 5, 1.15-1.2x the single
 * stream's speed with 3 or 4 (2: 1.0-1.17x; docs/benchmarks.md, session 10). */
#define SCAN_STREAMS 4

/* Blocks per scan task when several threads scan a batch: the result rows
 * a task writes per tile index (blocks x probes x 3 k lines, each in a
 * different ciphertext) stay few enough for the memory's write locality,
 * while its runs of the index stay long (64 tiles, 1 MiB at d = 64).
 * docs/benchmarks.md, session 11 (b14): at n = 2^20, 2 threads, batch 16,
 * 0.91x the old block split where whole tile indices were 1.2x. */
#define SCAN_TASK_BLOCKS 64

/* Tasks of the scan pass (c->rc probes): enough for balance (4 per thread;
 * 1 for one thread), each a run of consecutive tile indices with the same
 * blocks, so a task reads the index's [tile][block] order in long runs and
 * the multi-tile kernel's prefetch of "the tiles after this call" is the
 * task's own next call. With one thread, or one probe, a task takes every
 * block of its tile indices (one sequential stream; the single-probe
 * streams kernel reads blocks far apart within it); a batch on several
 * threads takes at most SCAN_TASK_BLOCKS blocks. (Tasks used to split the
 * blocks alone: at n = 2^18 and 2 threads, runs of 8 tiles 1 MiB apart,
 * and the kernel prefetched the next task's blocks instead of its own.) */
static void scan_split(struct scan_ctx *c, unsigned threads)
{
    const hers_index *ix = c->ix;
    size_t want = threads <= 1 ? 1 : 4 * (size_t)threads;
    size_t bmax = threads > 1 && c->rc > 1 ? SCAN_TASK_BLOCKS : ix->blocks;
    size_t bgs = (ix->blocks + bmax - 1) / bmax;      /* block groups */
    size_t tgs = (want + bgs - 1) / bgs;              /* tile groups */
    if (tgs > ix->tiles) {                            /* a tiny index: split blocks more */
        tgs = ix->tiles;
        size_t more = (want + tgs - 1) / tgs;
        bgs = more > bgs ? more : bgs;
        bgs = bgs > ix->blocks ? ix->blocks : bgs;
    }
    c->bg = (ix->blocks + bgs - 1) / bgs;
    c->tg = (ix->tiles + tgs - 1) / tgs;
    c->tile_groups = (ix->tiles + c->tg - 1) / c->tg;
    c->block_groups = (ix->blocks + c->bg - 1) / c->bg;
}

static void scan_task(void *vctx, size_t task, unsigned w)
{
    (void)w;
    struct scan_ctx *c = vctx;
    const hers_index *ix = c->ix;
    size_t sgi = task / c->block_groups, bgi = task % c->block_groups;
    size_t s0 = sgi * c->tg, s1 = s0 + c->tg < ix->tiles ? s0 + c->tg : ix->tiles;
    size_t b0 = bgi * c->bg, b1 = b0 + c->bg < ix->blocks ? b0 + c->bg : ix->blocks;
    size_t count = c->rc, tiles = ix->tiles, stride = res_stride(c);
    int ee = ix->mode == HERS_MODE_BOTH_ENCRYPTED;
    hers_kernel_ee_multi_fn *multi = ee ? c->ee_multi : c->pe_multi;
    /* The narrow form's multi-tile kernel has its own probe layout: every
     * pass, even of one probe, goes there. The wide form's uses the
     * canonical one: a single probe keeps the streaming single-probe kernel. */
    if (c->tiles && (ix->narrow || count > 1)) {
        /* runs of gallery tiles of one tile index (consecutive blocks,
         * adjacent in memory) against the whole batch; the task's blocks in
         * runs of equal length (<= SCAN_TILES), so no short last run leaves
         * the next call's first tiles out of the kernel's prefetch */
        const uint64_t *pts[HERS_SEARCH_MAX_BATCH];
        uint64_t *outs[SCAN_TILES * HERS_SEARCH_MAX_BATCH];
        size_t runs = (b1 - b0 + SCAN_TILES - 1) / SCAN_TILES;
        size_t run = (b1 - b0 + runs - 1) / runs;
        for (size_t s = s0; s < s1; s++)
            for (size_t b = b0; b < b1; b += run) {
                size_t ng = b1 - b < run ? b1 - b : run;
                for (size_t r = 0; r < count; r++) {
                    pts[r] = c->probe + (r * tiles + s) * c->ptw;
                    for (size_t t = 0; t < ng; t++)
                        outs[t * count + r] = res_tile(c, (c->r0 + r) * ix->blocks + b + t, s);
                }
                c->tiles(ix->data + (s * ix->blocks + b) * ix->tile_words, ng, ix->tile_words, pts,
                         count, ix->d, ix->k, ix->kmod, outs, stride);
            }
        hers_kernel_fence();
        return;
    }
    if (c->streams && count == 1 && b1 - b0 >= 2) {
        /* one probe: the task's blocks cut into SCAN_STREAMS runs, read
         * side by side (one tile of each per call), each a sequential
         * stream through the index for the hardware prefetchers */
        size_t nb = b1 - b0, ns = nb < SCAN_STREAMS ? nb : SCAN_STREAMS;
        size_t len = (nb + ns - 1) / ns;
        const uint64_t *gs[SCAN_STREAMS];
        uint64_t *os[SCAN_STREAMS];
        for (size_t s = s0; s < s1; s++) {
            const uint64_t *pt = c->probe + s * c->ptw;
            for (size_t i = 0; i < len; i++) {
                size_t n = 0;
                for (size_t r = 0; r < ns; r++) {
                    size_t b = b0 + r * len + i;
                    if (b >= b1)
                        continue;
                    gs[n] = ix->data + (s * ix->blocks + b) * ix->tile_words;
                    os[n++] = res_tile(c, c->r0 * ix->blocks + b, s);
                }
                c->streams(gs, n, pt, ix->d, ix->k, ix->kmod, os, stride);
            }
        }
        hers_kernel_fence();
        return;
    }
    for (size_t s = s0; s < s1; s++)
        for (size_t b = b0; b < b1; b++) {
            const uint64_t *g = ix->data + (s * ix->blocks + b) * ix->tile_words;
            if (multi && count > 1) {
                /* every gallery row loaded once for the whole batch */
                const uint64_t *pts[HERS_SEARCH_MAX_BATCH];
                uint64_t *outs[HERS_SEARCH_MAX_BATCH];
                for (size_t r = 0; r < count; r++) {
                    pts[r] = c->probe + (r * tiles + s) * c->ptw;
                    outs[r] = res_tile(c, (c->r0 + r) * ix->blocks + b, s);
                }
                multi(g, pts, count, ix->d, ix->k, ix->kmod, outs, stride);
                continue;
            }
            for (size_t r = 0; r < count; r++) {
                const uint64_t *pt = c->probe + (r * tiles + s) * c->ptw;
                uint64_t *o = res_tile(c, (c->r0 + r) * ix->blocks + b, s);
                if (ee)
                    c->ee(g, pt, ix->d, ix->k, ix->kmod, o, stride);
                else
                    c->pe(g, pt, ix->d, ix->k, ix->kmod, o, stride);
            }
        }
    hers_kernel_fence(); /* the kernels' non-temporal result stores */
}

/* Both-encrypted, relinearised forms: the kernel's 3-part BGV-form block
 * (noise t e) times Delta = (Q-1)/t: Delta m + (Q-1) e = Delta m - e
 * (mod Q), a BFV-form ciphertext of m; then relinearised in place (in the
 * result's slab: no fresh pages per block). */
static hers_status relin_block(struct scan_ctx *c, hers_ciphertext *ct)
{
    const hers_params *p = c->p;
    if (ct->parts != 3)
        return HERS_OK;
    const uint64_t *delta = hers_bfv_kernel_delta(p);
    const hers_modulus *q = hers_bfv_kernel_moduli(p);
    size_t N = hers_params_n(p), k = hers_params_num_primes(p);
    for (size_t part = 0; part < 3; part++)
        for (size_t j = 0; j < k; j++)
            hers_poly_mul_scalar(hers_ct_poly(ct, part, j), hers_ct_poly(ct, part, j), delta[j], N,
                                 &q[j]);
    ct->form = HERS_FORM_BFV;
    return hers_relinearize_in_place(p, c->opts->rk, ct);
}

/* Task: one result ciphertext (r, b) -> shrunk form. */
static void shrink_task(void *vctx, size_t task, unsigned w)
{
    struct scan_ctx *c = vctx;
    const hers_params *p = c->p;
    if (c->err.st != HERS_OK)
        return;
    hers_ciphertext *ct = &c->res->cts[task];
    if (c->staged)
        untile_ct(c, ct, w);
    hers_status st = HERS_OK;
    if (c->opts->shrink == HERS_RESULT_RELINEARIZED)
        st = relin_block(c, ct);
    if (st == HERS_OK && ct->num_primes > c->keep)
        st = hers_mod_switch_in_place(p, ct, c->keep);
    if (st != HERS_OK)
        hers_task_error_set(&c->err, st, NULL);
}

/* Blocks per task of the compact form. */
#define COMPACT_BLOCKS 4

/* Task: blocks of one probe -> their compact body (HERS_RESULT_COMPACT):
 * relinearised, then in coefficient form (4 inverse transforms: the
 * switch's correction then needs none, and the rounding reads coefficients;
 * the residues equal the RELINEARIZED path's, which switches in NTT form and
 * transforms after), switched to c->keep primes, rounded and packed. */
static void compact_task(void *vctx, size_t task, unsigned w)
{
    struct scan_ctx *c = vctx;
    const hers_params *p = c->p;
    hers_result *res = c->res;
    if (c->err.st != HERS_OK)
        return;
    size_t per = (res->blocks + COMPACT_BLOCKS - 1) / COMPACT_BLOCKS;
    size_t r = task / per, b0 = task % per * COMPACT_BLOCKS;
    size_t b1 = b0 + COMPACT_BLOCKS < res->blocks ? b0 + COMPACT_BLOCKS : res->blocks;
    uint64_t *y = c->ys + (size_t)w * 2 * hers_params_n(p);
    hers_status st = HERS_OK;
    for (size_t b = b0; b < b1 && st == HERS_OK; b++) {
        hers_ciphertext *ct = &res->cts[r * res->blocks + b];
        if (c->staged)
            untile_ct(c, ct, w);
        st = relin_block(c, ct);
        if (st == HERS_OK)
            st = hers_ciphertext_from_ntt(p, ct);
        if (st == HERS_OK && ct->num_primes > c->keep)
            st = hers_mod_switch_in_place(p, ct, c->keep);
        uint8_t *o = res->body + r * res->body_pstride + b * res->body_rec;
        if (st == HERS_OK)
            st = res_compact_block(p, &c->plan, ct, c->keep, y, o);
        /* its CRC-32 while the bytes are in cache: the answers' trailers
         * are joined from these (hers_result_range_pieces), no second pass
         * over the body */
        if (st == HERS_OK && res->body_crc)
            res->body_crc[r * res->blocks + b] = hers_crc32(0, o, res->body_rec);
    }
    if (st != HERS_OK)
        hers_task_error_set(&c->err, st, NULL);
}

/* HERS_RESULT_COMPACT: every block packed into the body, then the slabs
 * back to the pool (the next pass reuses them at once). */
static hers_status compact_result(hers_searcher *s, struct scan_ctx *c)
{
    const hers_params *p = c->p;
    hers_result *res = c->res;
    hers_status st = res_compact_plan_make(p, res->packing, res->d, res->scale, &c->plan);
    if (st != HERS_OK)
        return st;
    size_t pstride = res->blocks * c->plan.rec;
    /* The body's size class: the next power of two of the probe count, so
     * that a server's passes of varying sizes (1, 31, 32, ...) reuse the
     * pool's kept bodies: an exact-size request fits no kept piece when the
     * pass grows by a probe, or a 1-probe pass follows 31-probe ones, and a
     * fresh piece both faults its pages in and makes the pool drop kept
     * pieces (slabs included) to stay in its bound (docs/design.md "The
     * compact record inside the pass"). At most 2x the body, 1/8 of the
     * pass's slabs. */
    size_t cls = 1;
    while (cls < res->count)
        cls <<= 1;
    if (pstride / c->plan.rec != res->blocks || cls > SIZE_MAX / pstride)
        return hers_error(HERS_ERR_NOMEM, "search: the compact result overflows the address space");
    res->body_mem = res_pool_get(cls * pstride, &res->body_bytes);
    if (!res->body_mem)
        return hers_error(HERS_ERR_NOMEM, "search: out of memory for the compact result");
    res->body = res->body_mem;
    res->body_rec = c->plan.rec;
    res->body_pstride = pstride;
    res->body_primes = c->keep;
    res->body_form = c->plan.form;
    /* coefficient packing (record version 3, CRC-32 trailer): per-block CRCs */
    if (res->packing == HERS_PACK_COEFF &&
        !(res->body_crc = hers_alloc_array(res->count * res->blocks, sizeof *res->body_crc)))
        return hers_error(HERS_ERR_NOMEM, "search: out of memory for the compact result");
    size_t per = (res->blocks + COMPACT_BLOCKS - 1) / COMPACT_BLOCKS;
    /* one scratch per worker for the pass (was one allocation per task) */
    c->ys = hers_alloc_array((size_t)hers_pool_threads(s->pool) * 2 * hers_params_n(p),
                             sizeof(uint64_t));
    if (!c->ys)
        return hers_error(HERS_ERR_NOMEM, "search: out of memory");
    hers_pool_run(s->pool, compact_task, c, res->count * per);
    hers_free(c->ys);
    c->ys = NULL;
    if ((st = hers_task_error_raise(&c->err)) != HERS_OK)
        return st;
    for (size_t i = 0; i < res->count * res->blocks; i++)
        res->cts[i].data = NULL;   /* borrowed from the slabs: nothing to free */
    for (size_t i = 0; i < res->nslabs; i++)
        arena_put(res->slabs[i].a, res->slabs[i].bytes);
    hers_free(res->slabs);
    res->slabs = NULL;
    res->nslabs = 0;
    return HERS_OK;
}

/* A searcher's scratch *buf of *cap words grown to at least words (its
 * contents are not kept: every word used is written first); reused across
 * searches, so no page faults nor zeroing per query. */
static hers_status scratch_grow(uint64_t **buf, size_t *cap, size_t words, const char *nomem)
{
    if (words <= *cap)
        return HERS_OK;
    hers_free(*buf);
    *cap = 0;
    if (!(*buf = hers_alloc_array(words, sizeof(uint64_t))))
        return hers_error(HERS_ERR_NOMEM, "%s", nomem);
    *cap = words;
    return HERS_OK;
}

hers_status hers_search(hers_searcher *s, const hers_params *p, const hers_index *ix,
                        const hers_query *q, const hers_search_opts *opts, hers_result **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "search: out is NULL");
    *out = NULL;
    if (!s || !p || !ix || !q)
        return hers_error(HERS_ERR_ARG, "search: NULL argument");
    hers_search_opts def = {HERS_RESULT_FULL, NULL};
    if (!opts)
        opts = &def;
    hers_status st = hers_search_check_id(p, ix->params_id, "search: index");
    if (st == HERS_OK)
        st = hers_search_check_id(p, q->params_id, "search: query");
    if (st == HERS_OK)
        st = hers_search_check_params(p, ix->mode);
    if (st != HERS_OK)
        return st;
    if (q->compact)
        return hers_error(HERS_ERR_ARG, "search: the query is in the compact form: expand it first "
                                        "(hers_query_expand, with the gallery's Galois keys)");
    if (q->d != ix->d)
        return hers_error(HERS_ERR_MISMATCH, "search: probes have d = %zu, the gallery d = %zu", q->d,
                          ix->d);
    if ((opts->shrink == HERS_RESULT_RELINEARIZED || opts->shrink == HERS_RESULT_COMPACT) &&
        ix->mode == HERS_MODE_BOTH_ENCRYPTED) {
        if (!opts->rk)
            return hers_error(HERS_ERR_ARG, "search: relinearised results need the relinearisation key");
        st = hers_search_check_key(p, hers_relin_key_params_id(opts->rk), "search: relinearisation key");
        if (st != HERS_OK)
            return st;
    }
    if (opts->shrink > HERS_RESULT_COMPACT)
        return hers_error(HERS_ERR_ARG, "search: unknown result form %d", (int)opts->shrink);
    size_t N = hers_params_n(p), k = hers_params_num_primes(p);
    for (size_t i = 0; i < q->count * q->d; i++) {
        const hers_ciphertext *ct = &q->cts[i];
        if (ct->parts != 2 || ct->num_primes != k || !ct->ntt_form || ct->form != HERS_FORM_BFV ||
            ct->n != N || !ct->data)
            return hers_error(HERS_ERR_ARG, "search: probe ciphertext %zu is not a fresh encryption", i);
    }

    double t_start = mono_now(), t0;
    memset(&s->last, 0, sizeof s->last);
    int ee = ix->mode == HERS_MODE_BOTH_ENCRYPTED;
    hers_result *res = NULL;
    if ((st = hers_result_alloc(p, ix->mode, q->count, ix->n, ix->d, &res)) != HERS_OK)
        return st;
    res->packing = ix->packing;
    res->scale = ix->scale;
    /* The output ciphertexts' residues: one slab per probe (blocks x parts
     * x k x N words) from the result pool (huge pages where available,
     * hers_alloc), instead of one mapping of 4 KiB pages per ciphertext,
     * whose page faults cost 0.6 ns per template x dimension at d = 64 (a
     * quarter of the search). Every word is written by the kernels. */
    size_t parts = ee ? 3 : 2, per = parts * k * N;
    size_t slab_words = ix->blocks * per;
    if (slab_words / per != ix->blocks || slab_words > SIZE_MAX / sizeof(uint64_t))
        st = hers_error(HERS_ERR_NOMEM, "search: a probe's %zu result ciphertexts overflow the "
                                        "address space", ix->blocks);
    else if (!(res->slabs = hers_alloc_array(q->count, sizeof *res->slabs)))
        st = hers_error(HERS_ERR_NOMEM, "search: out of memory");
    for (size_t r = 0; r < q->count && st == HERS_OK; r++) {
        res->slabs[r].a = arena_get(slab_words * sizeof(uint64_t), &res->slabs[r].bytes);
        if (!res->slabs[r].a)
            st = hers_error(HERS_ERR_NOMEM, "search: out of memory for %zu result ciphertexts",
                            q->count * ix->blocks);
        else
            res->nslabs = r + 1;
    }
    for (size_t i = 0; i < q->count * ix->blocks && st == HERS_OK; i++) {
        st = hers_ciphertext_init_borrowed(p, parts, res->slabs[i / ix->blocks].a +
                                                         (i % ix->blocks) * per, &res->cts[i]);
        res->cts[i].form = ee ? HERS_FORM_BGV : HERS_FORM_BFV;
    }
    struct scan_ctx c;
    memset(&c, 0, sizeof c);
    hers_task_error_init(&c.err);
    c.p = p;
    c.ix = ix;
    c.q = q;
    c.res = res;
    c.opts = opts;
    c.keep = hers_search_result_primes(p);
    c.level = hers_simd_active();
    /* Narrow form, one probe: the AVX2 kernel streams the gallery faster
     * than the AVX-512 one (its probe tile, 24 KiB, stays in L1 next to the
     * stream; the AVX-512 layout's 36 KiB does not; docs/benchmarks.md);
     * the AVX-512 kernels serve batches, where each gallery row meets
     * several probes. */
    if (ix->narrow && q->count == 1 && c.level > HERS_SIMD_AVX2)
        c.level = HERS_SIMD_AVX2;
    c.ptw = hers_kernel_probe_words(c.level, ix->narrow, ix->d, k);
    c.ee = hers_kernel_ee_select(c.level, ix->narrow);
    c.pe = hers_kernel_pe_select(c.level, ix->narrow);
    c.ee_multi = hers_kernel_ee_multi_select(c.level, ix->narrow);
    c.pe_multi = hers_kernel_pe_multi_select(c.level, ix->narrow);
    c.tiles = hers_kernel_tiles_select(c.level, ix->narrow, ee);
    c.streams = hers_kernel_streams_select(c.level, ix->narrow, ee);
    /* Probes per pass: their tiles of one tile index (ptw words each) should
     * sit in L2 next to the gallery tile, about 512 KiB; at least 1. */
    size_t batch = ((size_t)512 << 10) / (c.ptw * sizeof(uint64_t));
    batch = batch < 1 ? 1 : batch > HERS_SEARCH_MAX_BATCH ? HERS_SEARCH_MAX_BATCH : batch;
    if (batch > q->count)
        batch = q->count;
    /* probe tiles: the searcher's scratch, grown when needed and reused (no
     * page faults nor zeroing per query; every word used is written first) */
    if (st == HERS_OK)
        st = scratch_grow(&s->probe, &s->probe_words, batch * ix->tiles * c.ptw,
                          "search: out of memory for the probe tiles");
    c.probe = s->probe;
    /* Several probes: results staged tile-major (res_tile), one result
     * ciphertext of scratch per worker to untile them (reused). */
    c.rows = parts * k;
    c.staged = q->count > 1;
    if (st == HERS_OK && c.staged)
        st = scratch_grow(&s->untile, &s->untile_words,
                          (size_t)hers_pool_threads(s->pool) * c.rows * N,
                          "search: out of memory for the result scratch");
    c.untile = s->untile;
    for (c.r0 = 0; st == HERS_OK && c.r0 < q->count; c.r0 += c.rc) {
        c.rc = q->count - c.r0 < batch ? q->count - c.r0 : batch;
        t0 = mono_now();
        hers_pool_run(s->pool, probe_task, &c, c.rc * ix->d);
        s->last.probe_s += mono_now() - t0;
        scan_split(&c, hers_pool_threads(s->pool));
        t0 = mono_now();
        hers_pool_run(s->pool, scan_task, &c, c.tile_groups * c.block_groups);
        s->last.scan_s += mono_now() - t0;
    }
    /* staged results become row-major in the pass that next reads them:
     * the compaction's or the shrinking's tasks, else a pass of their own
     * (counted in the scan) */
    if (st == HERS_OK && opts->shrink == HERS_RESULT_COMPACT) {
        t0 = mono_now();
        st = compact_result(s, &c);
        s->last.shrink_s = mono_now() - t0;
    } else if (st == HERS_OK) {
        if (opts->shrink != HERS_RESULT_FULL &&
            (k > c.keep || (ee && opts->shrink == HERS_RESULT_RELINEARIZED))) {
            t0 = mono_now();
            hers_pool_run(s->pool, shrink_task, &c, q->count * ix->blocks);
            s->last.shrink_s = mono_now() - t0;
        } else if (c.staged) {
            t0 = mono_now();
            hers_pool_run(s->pool, untile_task, &c, q->count * ix->blocks);
            s->last.scan_s += mono_now() - t0;
        }
        st = hers_task_error_raise(&c.err);
    }
    hers_task_error_destroy(&c.err);
    s->last.total_s = mono_now() - t_start;
    if (st != HERS_OK) {
        hers_result_free(res);
        return st;
    }
    *out = res;
    return HERS_OK;
}
