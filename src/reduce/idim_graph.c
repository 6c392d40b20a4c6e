/* idim_graph.c - geodesic distances on the undirected kNN graph.
 *
 * The graph joins every point to its k nearest neighbours, both ways, with
 * duplicate edges merged (the weight is symmetric). Dijkstra with an indexed
 * binary heap runs from each source on its own worker; the source i stores
 * its distances to points j > i, so each unordered pair is kept once:
 * S (n - 1) - S (S - 1) / 2 floats for S sources. The r_ij are then
 * histogrammed into HERS_IDIM_BINS bins over [0, max r_ij]. */
#include <math.h>
#include <stdlib.h>

#include "hers/hers_mem.h"
#include "reduce/idim_internal.h"

struct edge {
    uint32_t to;
    double w;
};

struct graph {
    size_t n;
    size_t *off;       /* n + 1 */
    struct edge *e;
};

struct dij_scratch {
    double *dist;
    uint32_t *heap;
    uint32_t *pos;     /* heap position, UINT32_MAX = not in the heap */
};

struct dij_ctx {
    const struct graph *g;
    struct dij_scratch *ws;
    float *store;      /* packed rows */
    size_t *reached;   /* per source: other points reached */
};

static int edge_cmp(const void *a, const void *b)
{
    const struct edge *p = a, *q = b;
    return p->to < q->to ? -1 : p->to > q->to;
}

static int dbl_cmp(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return p < q ? -1 : p > q;
}

/* *max_edge: the `quantile` of the per-point longest edge (weight to the
 * k-th neighbour); quantile 1 = the longest kNN edge of the graph. */
static hers_status build_graph(const hers_idim_knn *knn, size_t k, hers_idim_edge kind,
                               double quantile, struct graph *g, double *max_edge)
{
    size_t n = knn->n;
    g->n = n;
    g->off = hers_alloc_array(n + 1, sizeof *g->off);
    g->e = hers_alloc_array(2 * n * k, sizeof *g->e);
    size_t *fill = hers_alloc_array(n, sizeof *fill);
    double *longest = hers_alloc_array(n, sizeof *longest);
    if (!g->off || !g->e || !fill || !longest) {
        hers_free(fill);
        hers_free(longest);
        return hers_error(HERS_ERR_NOMEM, "id graph: cannot allocate %zu edges", 2 * n * k);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            fill[i]++;
            fill[knn->idx[i * knn->k + j]]++;
        }
    g->off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        g->off[i + 1] = g->off[i] + fill[i];
        fill[i] = g->off[i];
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            uint32_t t = knn->idx[i * knn->k + j];
            double d2 = knn->d2[i * knn->k + j];
            double w = kind == HERS_IDIM_EDGE_CHORD ? sqrt(d2) : 0.5 * d2;
            longest[i] = w;            /* ascending: the last one is the longest */
            g->e[fill[i]++] = (struct edge){t, w};
            g->e[fill[t]++] = (struct edge){(uint32_t)i, w};
        }
    qsort(longest, n, sizeof *longest, dbl_cmp);
    size_t q = (size_t)floor(quantile * (double)(n - 1) + 1e-9);
    *max_edge = longest[q < n ? q : n - 1];
    hers_free(longest);
    /* sort each adjacency list and merge duplicates in place */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t a = g->off[i], b = g->off[i + 1];
        qsort(g->e + a, b - a, sizeof *g->e, edge_cmp);
        g->off[i] = w;
        for (size_t p = a; p < b; p++)
            if (p == a || g->e[p].to != g->e[p - 1].to)
                g->e[w++] = g->e[p];
    }
    g->off[n] = w;
    hers_free(fill);
    return HERS_OK;
}

static void heap_up(struct dij_scratch *s, uint32_t p)
{
    uint32_t v = s->heap[p];
    double dv = s->dist[v];
    while (p > 0) {
        uint32_t q = (p - 1) / 2, u = s->heap[q];
        if (s->dist[u] <= dv)
            break;
        s->heap[p] = u;
        s->pos[u] = p;
        p = q;
    }
    s->heap[p] = v;
    s->pos[v] = p;
}

static void heap_down(struct dij_scratch *s, uint32_t p, uint32_t size)
{
    uint32_t v = s->heap[p];
    double dv = s->dist[v];
    for (;;) {
        uint32_t c = 2 * p + 1;
        if (c >= size)
            break;
        if (c + 1 < size && s->dist[s->heap[c + 1]] < s->dist[s->heap[c]])
            c++;
        if (s->dist[s->heap[c]] >= dv)
            break;
        s->heap[p] = s->heap[c];
        s->pos[s->heap[p]] = p;
        p = c;
    }
    s->heap[p] = v;
    s->pos[v] = p;
}

static size_t row_offset(size_t i, size_t n) { return i * (n - 1) - i * (i - 1) / 2; }

static void dijkstra(void *vctx, size_t src, unsigned worker)
{
    struct dij_ctx *ctx = vctx;
    struct dij_scratch *s = &ctx->ws[worker];
    const struct graph *g = ctx->g;
    size_t n = g->n;
    for (size_t i = 0; i < n; i++) {
        s->dist[i] = INFINITY;
        s->pos[i] = UINT32_MAX;
    }
    uint32_t size = 1;
    s->dist[src] = 0;
    s->heap[0] = (uint32_t)src;
    s->pos[src] = 0;
    size_t reached = 0;
    while (size > 0) {
        uint32_t u = s->heap[0];
        s->pos[u] = UINT32_MAX - 1;              /* settled */
        if (--size > 0) {
            s->heap[0] = s->heap[size];
            s->pos[s->heap[0]] = 0;
            heap_down(s, 0, size);
        }
        reached++;
        double du = s->dist[u];
        for (size_t p = g->off[u]; p < g->off[u + 1]; p++) {
            uint32_t v = g->e[p].to;
            double nd = du + g->e[p].w;
            if (s->pos[v] == UINT32_MAX - 1 || nd >= s->dist[v])
                continue;
            s->dist[v] = nd;
            if (s->pos[v] == UINT32_MAX) {
                s->heap[size] = v;
                heap_up(s, size++);
            } else {
                heap_up(s, s->pos[v]);
            }
        }
    }
    ctx->reached[src] = reached - 1;
    float *row = ctx->store + row_offset(src, n);
    for (size_t j = src + 1; j < n; j++)
        row[j - src - 1] = (float)s->dist[j];
}

static size_t stored_pairs(size_t s, size_t n) { return s * (n - 1) - s * (s - 1) / 2; }

hers_status hers_idim_geodesic_hist(const hers_idim_knn *knn, size_t k, hers_idim_edge edge,
                                  double edge_quantile, size_t sources, unsigned threads,
                                  hers_idim_result *res, double *mean, double *std)
{
    if (!knn || !res || !mean || !std || !knn->idx)
        return hers_error(HERS_ERR_ARG, "id graph: NULL argument");
    size_t n = knn->n;
    if (k < 1 || k > knn->k || n < 2)
        return hers_error(HERS_ERR_ARG, "id graph: k = %zu outside [1, %zu]", k, knn->k);
    if (edge != HERS_IDIM_EDGE_COSINE && edge != HERS_IDIM_EDGE_CHORD)
        return hers_error(HERS_ERR_ARG, "id graph: unknown edge weight %d", (int)edge);
    if (!(edge_quantile >= 0 && edge_quantile <= 1))
        return hers_error(HERS_ERR_ARG, "id graph: edge quantile %g outside [0, 1]",
                          edge_quantile);
    size_t S = sources == 0 || sources > n ? n : sources;
    while (S > 1 && stored_pairs(S, n) > HERS_IDIM_MAX_PAIRS)
        S = S * 15 / 16;           /* a few steps; P(S) is monotone in S */
    size_t P = stored_pairs(S, n);

    struct graph g = {0};
    unsigned nt = hers_threads_resolve(threads);
    struct dij_scratch ws[64] = {{0}};
    float *store = NULL;
    size_t *reached = NULL;
    double max_edge = 0;
    hers_status st = build_graph(knn, k, edge, edge_quantile, &g, &max_edge);
    if (st == HERS_OK) {
        store = hers_alloc_array(P, sizeof *store);
        reached = hers_alloc_array(S, sizeof *reached);
        if (!store || !reached)
            st = hers_error(HERS_ERR_NOMEM, "id graph: cannot store %zu distances", P);
    }
    for (unsigned t = 0; t < nt && st == HERS_OK; t++) {
        ws[t].dist = hers_alloc_array(n, sizeof(double));
        ws[t].heap = hers_alloc_array(n, sizeof(uint32_t));
        ws[t].pos = hers_alloc_array(n, sizeof(uint32_t));
        if (!ws[t].dist || !ws[t].heap || !ws[t].pos)
            st = hers_error(HERS_ERR_NOMEM, "id graph: cannot allocate worker buffers");
    }
    if (st == HERS_OK) {
        struct dij_ctx ctx = {.g = &g, .ws = ws, .store = store, .reached = reached};
        hers_parallel_for(nt, S, dijkstra, &ctx);

        /* connectivity: at least half of the sources must each reach at
         * least half of the other points */
        size_t good = 0, total = 0;
        for (size_t i = 0; i < S; i++) {
            good += 2 * reached[i] >= n - 1;
            total += reached[i];
        }
        if (2 * good < S)
            st = hers_error(HERS_ERR_NUMERIC,
                            "id: the k = %zu nearest-neighbour graph is badly disconnected: "
                            "only %zu of %zu sources reach at least half of the %zu points "
                            "(raise k or the sample size)", k, good, S, n);
        res->k = k;
        res->sources = S;
        res->max_edge = max_edge;
        res->reach = (double)total / ((double)S * (double)(n - 1));
    }
    if (st == HERS_OK) {
        double rmax = 0;
        for (size_t p = 0; p < P; p++)
            if (isfinite(store[p]) && store[p] > rmax)
                rmax = store[p];
        if (!(rmax > 0))
            st = hers_error(HERS_ERR_NUMERIC, "id: all geodesic distances are zero");
        else {
            double dx = rmax / HERS_IDIM_BINS, s1 = 0, s2 = 0;
            uint64_t cnt = 0;
            for (int b = 0; b < HERS_IDIM_BINS; b++)
                res->hist[b] = 0;
            for (size_t p = 0; p < P; p++) {
                double r = store[p];
                if (!isfinite(r))
                    continue;
                size_t b = (size_t)(r / dx);
                res->hist[b < HERS_IDIM_BINS ? b : HERS_IDIM_BINS - 1]++;
                s1 += r;
                s2 += r * r;
                cnt++;
            }
            res->hist_dx = dx;
            res->pairs = cnt;
            *mean = s1 / (double)cnt;
            double var = s2 / (double)cnt - *mean * *mean;
            *std = var > 0 ? sqrt(var) : 0;
        }
    }
    for (unsigned t = 0; t < nt; t++) {
        hers_free(ws[t].dist);
        hers_free(ws[t].heap);
        hers_free(ws[t].pos);
    }
    hers_free(store);
    hers_free(reached);
    hers_free(g.off);
    hers_free(g.e);
    return st;
}
