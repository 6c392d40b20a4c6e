/* idim_knn.c - exact k-nearest neighbours of unit vectors.
 *
 * Pass 1 (float): similarities of a block of ID_RB rows against blocks of
 * ID_CB columns by cblas_sgemm; each row keeps its `candidates` most similar
 * other points in a sorted list (similarity descending, index ascending).
 * Pass 2 (double): the candidates are re-ranked by |x_i - x_j|^2 computed
 * in double, which is exact for near-duplicates where 1 - cos in float
 * would cancel; float rounding (~1e-7) cannot push a true k-th neighbour
 * out of a 128-candidate pool. Row blocks are spread over the workers;
 * every output row depends only on the data, not on the thread count. */
#include <cblas.h>
#include <stdlib.h>

#include "hers/hers_mem.h"
#include "reduce/idim_internal.h"

#define ID_RB 128    /* rows per block */
#define ID_CB 2048   /* columns per sgemm call: 1 MB of similarities */

struct cand {
    double d2;
    uint32_t idx;
};

struct knn_scratch {
    float *sim;        /* ID_RB x ID_CB */
    float *csim;       /* ID_RB x cap candidates */
    uint32_t *cidx;
    size_t *count;     /* ID_RB */
    struct cand *rank; /* cap */
};

struct knn_ctx {
    const hers_matrix *x;
    size_t k, cap;
    struct knn_scratch *ws;
    hers_idim_knn *out;
};

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *p = a, *q = b;
    if (p->d2 != q->d2)
        return p->d2 < q->d2 ? -1 : 1;
    return p->idx < q->idx ? -1 : p->idx > q->idx;
}

static double dist2(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t c = 0; c < d; c++) {
        double t = (double)a[c] - (double)b[c];
        s += t * t;
    }
    return s;
}

static void knn_block(void *vctx, size_t block, unsigned worker)
{
    struct knn_ctx *ctx = vctx;
    struct knn_scratch *w = &ctx->ws[worker];
    const size_t n = ctx->x->rows, d = ctx->x->cols, cap = ctx->cap;
    const float *X = ctx->x->data;
    size_t r0 = block * ID_RB, r1 = r0 + ID_RB < n ? r0 + ID_RB : n, rb = r1 - r0;
    for (size_t r = 0; r < rb; r++)
        w->count[r] = 0;

    for (size_t c0 = 0; c0 < n; c0 += ID_CB) {
        size_t cb = c0 + ID_CB < n ? ID_CB : n - c0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rb, (int)cb, (int)d, 1.0f,
                    X + r0 * d, (int)d, X + c0 * d, (int)d, 0.0f, w->sim, (int)cb);
        for (size_t r = 0; r < rb; r++) {
            const float *srow = w->sim + r * cb;
            float *ls = w->csim + r * cap;
            uint32_t *li = w->cidx + r * cap;
            size_t cnt = w->count[r];
            for (size_t j = 0; j < cb; j++) {
                size_t col = c0 + j;
                float s = srow[j];
                if (col == r0 + r || (cnt == cap && !(s > ls[cap - 1])))
                    continue;
                /* insert after every entry with similarity >= s (ties keep
                 * the lower index first: columns arrive in increasing order) */
                size_t p = cnt < cap ? cnt++ : cap - 1;
                while (p > 0 && ls[p - 1] < s) {
                    ls[p] = ls[p - 1];
                    li[p] = li[p - 1];
                    p--;
                }
                ls[p] = s;
                li[p] = (uint32_t)col;
            }
            w->count[r] = cnt;
        }
    }

    for (size_t r = 0; r < rb; r++) {
        size_t i = r0 + r, cnt = w->count[r];
        const uint32_t *li = w->cidx + r * cap;
        for (size_t j = 0; j < cnt; j++) {
            w->rank[j].idx = li[j];
            w->rank[j].d2 = dist2(X + i * d, X + (size_t)li[j] * d, d);
        }
        qsort(w->rank, cnt, sizeof *w->rank, cand_cmp);
        for (size_t j = 0; j < ctx->k; j++) {
            ctx->out->idx[i * ctx->k + j] = w->rank[j].idx;
            ctx->out->d2[i * ctx->k + j] = w->rank[j].d2;
        }
    }
}

void hers_idim_knn_free(hers_idim_knn *knn)
{
    if (!knn)
        return;
    hers_free(knn->idx);
    hers_free(knn->d2);
    knn->idx = NULL;
    knn->d2 = NULL;
    knn->n = knn->k = 0;
}

hers_status hers_idim_knn_build(const hers_matrix *unit, size_t k, size_t candidates,
                              unsigned threads, hers_idim_knn *out)
{
    if (!unit || !out || !unit->data)
        return hers_error(HERS_ERR_ARG, "id knn: NULL argument");
    out->n = out->k = 0;
    out->idx = NULL;
    out->d2 = NULL;
    size_t n = unit->rows;
    if (n < 2 || n > UINT32_MAX || unit->cols == 0 || unit->cols > INT32_MAX)
        return hers_error(HERS_ERR_ARG, "id knn: bad shape %zu x %zu", n, unit->cols);
    if (k < 1 || k >= n)
        return hers_error(HERS_ERR_ARG, "id knn: k = %zu must be in [1, n - 1 = %zu]", k, n - 1);
    size_t cap = candidates < k ? k : candidates;
    if (cap > n - 1)
        cap = n - 1;

    unsigned nt = hers_threads_resolve(threads);
    struct knn_scratch ws[64] = {{0}};
    hers_status st = HERS_OK;
    out->idx = hers_alloc_array(n * k, sizeof *out->idx);
    out->d2 = hers_alloc_array(n * k, sizeof *out->d2);
    if (!out->idx || !out->d2)
        st = hers_error(HERS_ERR_NOMEM, "id knn: cannot allocate %zu x %zu neighbours", n, k);
    for (unsigned t = 0; t < nt && st == HERS_OK; t++) {
        ws[t].sim = hers_alloc_array((size_t)ID_RB * ID_CB, sizeof(float));
        ws[t].csim = hers_alloc_array((size_t)ID_RB * cap, sizeof(float));
        ws[t].cidx = hers_alloc_array((size_t)ID_RB * cap, sizeof(uint32_t));
        ws[t].count = hers_alloc_array(ID_RB, sizeof(size_t));
        ws[t].rank = hers_alloc_array(cap, sizeof(struct cand));
        if (!ws[t].sim || !ws[t].csim || !ws[t].cidx || !ws[t].count || !ws[t].rank)
            st = hers_error(HERS_ERR_NOMEM, "id knn: cannot allocate worker buffers");
    }
    if (st == HERS_OK) {
        out->n = n;
        out->k = k;
        struct knn_ctx ctx = {.x = unit, .k = k, .cap = cap, .ws = ws, .out = out};
        hers_parallel_for(nt, (n + ID_RB - 1) / ID_RB, knn_block, &ctx);
    }
    for (unsigned t = 0; t < nt; t++) {
        hers_free(ws[t].sim);
        hers_free(ws[t].csim);
        hers_free(ws[t].cidx);
        hers_free(ws[t].count);
        hers_free(ws[t].rank);
    }
    if (st != HERS_OK)
        hers_idim_knn_free(out);
    return st;
}
