/* metrics_scan.c - brute-force scoring in sgemm tiles and the exact,
 * multithreaded top-k selection (ties by smaller gallery id). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/pool.h"
#include "hers/hers_mem.h"
#include "hers/hers_metrics.h"

#define DEFAULT_PB 1024
#define DEFAULT_GB 8192
#define MAX_THREADS HERS_MAX_THREADS

static unsigned resolve_threads(const hers_scan_opts *o)
{
    return hers_threads_resolve(o ? o->threads : 0);
}

static int all_finite(const hers_matrix *m)
{
    size_t n = m->rows * m->cols;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(m->data[i]))
            return 0;
    return 1;
}

static hers_status check_pair(const hers_matrix *g, const hers_matrix *p, const char *what)
{
    if (!g || !p || !g->data || !p->data || g->rows == 0 || p->rows == 0)
        return hers_error(HERS_ERR_ARG, "%s: empty or NULL matrix", what);
    if (g->cols != p->cols)
        return hers_error(HERS_ERR_ARG, "%s: gallery has %zu columns, probes %zu", what,
                          g->cols, p->cols);
    if (g->rows > UINT32_MAX || g->cols > (size_t)INT32_MAX)
        return hers_error(HERS_ERR_ARG, "%s: gallery too large (%zu x %zu)", what, g->rows,
                          g->cols);
    if (!all_finite(g) || !all_finite(p))
        return hers_error(HERS_ERR_ARG, "%s: non-finite value in the input", what);
    return HERS_OK;
}

hers_status hers_score_scan(const hers_matrix *gallery, const hers_matrix *probes,
                            const hers_scan_opts *opts, hers_tile_fn fn, void *ctx)
{
    hers_status st = check_pair(gallery, probes, "score scan");
    if (st != HERS_OK)
        return st;
    if (!fn)
        return hers_error(HERS_ERR_ARG, "score scan: NULL visitor");
    size_t pb = opts && opts->probe_block ? opts->probe_block : DEFAULT_PB;
    size_t gb = opts && opts->gallery_block ? opts->gallery_block : DEFAULT_GB;
    if (pb > (size_t)INT32_MAX || gb > (size_t)INT32_MAX)
        return hers_error(HERS_ERR_ARG, "score scan: block too large");
    size_t d = gallery->cols;
    float *tile = hers_alloc_array(pb * gb, sizeof(float));
    if (!tile)
        return hers_error(HERS_ERR_NOMEM, "score scan: %zu x %zu tile", pb, gb);
    for (size_t p0 = 0; st == HERS_OK && p0 < probes->rows; p0 += pb) {
        size_t pn = probes->rows - p0 < pb ? probes->rows - p0 : pb;
        for (size_t g0 = 0; st == HERS_OK && g0 < gallery->rows; g0 += gb) {
            size_t gn = gallery->rows - g0 < gb ? gallery->rows - g0 : gb;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pn, (int)gn, (int)d, 1.0f,
                        probes->data + p0 * d, (int)d, gallery->data + g0 * d, (int)d, 0.0f,
                        tile, (int)gn);
            st = fn(ctx, p0, pn, g0, gn, tile);
        }
    }
    hers_free(tile);
    return st;
}

/* ---- top-k: one heap of k entries per probe, root = the worst kept ---- */

struct topk_ctx {
    size_t k;
    float *hs;      /* probes x k heap scores */
    uint32_t *hi;   /* probes x k heap ids */
    size_t *fill;   /* entries in each heap */
    unsigned threads;
};

/* a is worse than b: lower score, or equal score and larger id. */
static inline int worse(float sa, uint32_t ia, float sb, uint32_t ib)
{
    return sa < sb || (sa == sb && ia > ib);
}

static void sift_down(float *s, uint32_t *id, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && worse(s[l], id[l], s[w], id[w]))
            w = l;
        if (r < n && worse(s[r], id[r], s[w], id[w]))
            w = r;
        if (w == i)
            return;
        float ts = s[i];
        s[i] = s[w];
        s[w] = ts;
        uint32_t ti = id[i];
        id[i] = id[w];
        id[w] = ti;
        i = w;
    }
}

static void sift_up(float *s, uint32_t *id, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!worse(s[i], id[i], s[p], id[p]))
            return;
        float ts = s[i];
        s[i] = s[p];
        s[p] = ts;
        uint32_t ti = id[i];
        id[i] = id[p];
        id[p] = ti;
        i = p;
    }
}

static void heap_offer(float *s, uint32_t *id, size_t *fill, size_t k, float v, uint32_t vid)
{
    if (*fill < k) {
        s[*fill] = v;
        id[*fill] = vid;
        sift_up(s, id, *fill);
        (*fill)++;
    } else if (worse(s[0], id[0], v, vid)) {
        s[0] = v;
        id[0] = vid;
        sift_down(s, id, k, 0);
    }
}

struct topk_job {
    struct topk_ctx *c;
    size_t p0, i_lo, i_hi, g0, gn;
    const float *tile;
};

static void topk_rows(void *arg, size_t task, unsigned worker)
{
    (void)worker;
    struct topk_job *j = (struct topk_job *)arg + task;
    struct topk_ctx *c = j->c;
    size_t k = c->k;
    for (size_t i = j->i_lo; i < j->i_hi; i++) {
        size_t p = j->p0 + i;
        float *s = c->hs + p * k;
        uint32_t *id = c->hi + p * k;
        size_t *fill = c->fill + p;
        const float *row = j->tile + i * j->gn;
        size_t jj = 0;
        for (; jj < j->gn && *fill < k; jj++)
            heap_offer(s, id, fill, k, row[jj], (uint32_t)(j->g0 + jj));
        /* Heap full: ids arrive in increasing order, so an equal score is
         * never better than the root (whose id is smaller). */
        float root = s[0];
        for (; jj < j->gn; jj++)
            if (row[jj] > root) {
                heap_offer(s, id, fill, k, row[jj], (uint32_t)(j->g0 + jj));
                root = s[0];
            }
    }
}

static hers_status topk_tile(void *ctx, size_t p0, size_t pn, size_t g0, size_t gn,
                             const float *tile)
{
    struct topk_ctx *c = ctx;
    unsigned nt = c->threads;
    if (nt > pn)
        nt = (unsigned)pn;
    if (nt < 1)
        nt = 1;
    struct topk_job jobs[MAX_THREADS];
    for (unsigned t = 0; t < nt; t++)
        jobs[t] = (struct topk_job){c, p0, pn * t / nt, pn * (t + 1) / nt, g0, gn, tile};
    hers_parallel_for(nt, nt, topk_rows, jobs);
    return HERS_OK;
}

void hers_topk_free(hers_topk *t)
{
    if (!t)
        return;
    hers_free(t->ids);
    hers_free(t->scores);
    memset(t, 0, sizeof *t);
}

hers_status hers_topk_search(const hers_matrix *gallery, const hers_matrix *probes, size_t k,
                             const hers_scan_opts *opts, hers_topk *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "top-k: NULL output");
    memset(out, 0, sizeof *out);
    hers_status st = check_pair(gallery, probes, "top-k");
    if (st != HERS_OK)
        return st;
    if (k == 0)
        return hers_error(HERS_ERR_ARG, "top-k: k must be >= 1");
    if (k > gallery->rows)
        k = gallery->rows;
    struct topk_ctx c = {k, NULL, NULL, NULL, resolve_threads(opts)};
    c.hs = hers_alloc_array(probes->rows * k, sizeof(float));
    c.hi = hers_alloc_array(probes->rows * k, sizeof(uint32_t));
    c.fill = hers_alloc_array(probes->rows, sizeof(size_t));
    if (!c.hs || !c.hi || !c.fill)
        st = hers_error(HERS_ERR_NOMEM, "top-k: %zu probes x k = %zu", probes->rows, k);
    if (st == HERS_OK)
        st = hers_score_scan(gallery, probes, opts, topk_tile, &c);
    if (st == HERS_OK) {
        /* Heap-sort each probe's heap into best-first order: repeatedly
         * move the worst (root) to the end. */
        for (size_t p = 0; p < probes->rows; p++) {
            float *s = c.hs + p * k;
            uint32_t *id = c.hi + p * k;
            for (size_t n = k; n > 1; n--) {
                float ts = s[0];
                s[0] = s[n - 1];
                s[n - 1] = ts;
                uint32_t ti = id[0];
                id[0] = id[n - 1];
                id[n - 1] = ti;
                sift_down(s, id, n - 1, 0);
            }
        }
        out->probes = probes->rows;
        out->k = k;
        out->ids = c.hi;
        out->scores = c.hs;
        c.hi = NULL;
        c.hs = NULL;
    }
    hers_free(c.hs);
    hers_free(c.hi);
    hers_free(c.fill);
    return st;
}

hers_status hers_topk_search_quant(const hers_qmatrix *gallery, const hers_qmatrix *probes,
                                  size_t k, const hers_scan_opts *opts, hers_topk *out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "top-k: NULL output");
    memset(out, 0, sizeof *out);
    if (!gallery || !probes || gallery->scale != probes->scale || gallery->cols != probes->cols)
        return hers_error(HERS_ERR_ARG, "top-k: quantised matrices missing or mismatched "
                                        "(scale %u / %u, columns %zu / %zu)",
                          gallery ? gallery->scale : 0, probes ? probes->scale : 0,
                          gallery ? gallery->cols : 0, probes ? probes->cols : 0);
    uint64_t b = hers_quant_score_bound(gallery->cols, gallery->scale);
    if (b == 0 || b > ((uint64_t)1 << 24))
        return hers_error(HERS_ERR_PARAMS,
                          "top-k: scale %u at dimension %zu allows scores up to %llu > 2^24, "
                          "not exact in float",
                          gallery->scale, gallery->cols, (unsigned long long)b);
    hers_matrix g = {0}, p = {0};
    hers_status st = hers_qmatrix_to_float(gallery, 0, &g);
    if (st == HERS_OK)
        st = hers_qmatrix_to_float(probes, 0, &p);
    if (st == HERS_OK)
        st = hers_topk_search(&g, &p, k, opts, out);
    hers_matrix_free(&g);
    hers_matrix_free(&p);
    return st;
}
