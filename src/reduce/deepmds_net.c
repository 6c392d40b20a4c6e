/* deepmds_net.c - DeepMDS++ network for training: batched forward pass that
 * keeps activations, and the backward pass, all with cblas_sgemm.
 *
 * Row-major batches, W is out x in, so for a layer y = x W^T + b:
 *   dW = dy^T x, db = column sums of dy, dx = dy W.
 * Column sums and the per-row normalisation run on one thread in a fixed
 * order; GEMMs are deterministic for a fixed OpenBLAS thread count. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "reduce/deepmds_internal.h"
#include "reduce/reduce_internal.h"

size_t dm_params(const hers_reduce_model *m, size_t n_active, dm_param *out)
{
    size_t n = 0;
    for (size_t s = 0; s < n_active; s++) {
        hers_reduce_stage *st = &m->stages[s];
        out[n++] = (dm_param){st->skip.w, st->skip.in * st->skip.out, 1};
        out[n++] = (dm_param){st->skip.b, st->skip.out, 0};
        for (int k = 0; k < 6; k++) {
            out[n++] = (dm_param){st->layer[k].w, st->layer[k].in * st->layer[k].out, 1};
            out[n++] = (dm_param){st->layer[k].b, st->layer[k].out, 0};
        }
    }
    return n;
}

static size_t model_max_width(const hers_reduce_model *m)
{
    size_t w = 1;
    for (size_t s = 0; s < m->n_stages; s++)
        if (m->stages[s].in > w)
            w = m->stages[s].in;
    return w;
}

hers_status dm_net_init(dm_net *net, hers_reduce_model *m, size_t max_rows)
{
    memset(net, 0, sizeof *net);
    net->m = m;
    net->n_active = m->n_stages;
    net->max_rows = max_rows;
    size_t total = 0;
    for (size_t s = 0; s < m->n_stages; s++) {
        const size_t *w = m->stages[s].widths;
        total += max_rows * (2 * (w[0] + w[1] + w[2]) + (w[1] + w[2] + w[3]) + w[3] + 1);
    }
    size_t wmax = model_max_width(m);
    net->arena = hers_alloc_array(total ? total : 1, sizeof(float));
    net->work = hers_alloc_array(5 * max_rows * wmax, sizeof(float));
    if (!net->arena || !net->work) {
        dm_net_free(net);
        return hers_error(HERS_ERR_NOMEM, "DeepMDS++: activations for %zu rows", max_rows);
    }
    float *p = net->arena;
    for (size_t s = 0; s < m->n_stages; s++) {
        const size_t *w = m->stages[s].widths;
        dm_stage_cache *c = &net->cache[s];
        for (int k = 0; k < 3; k++) {
            c->p[k] = p; p += max_rows * w[k];
            c->a[k] = p; p += max_rows * w[k];
            c->h[k] = p; p += max_rows * w[k + 1];
        }
        c->y = p; p += max_rows * w[3];
        c->norm = p; p += max_rows;
    }
    return HERS_OK;
}

void dm_net_free(dm_net *net)
{
    hers_free(net->arena);
    hers_free(net->work);
    net->arena = net->work = NULL;
}

const float *dm_forward(dm_net *net, const float *x, size_t rows)
{
    const float *in = x;
    for (size_t s = 0; s < net->n_active; s++) {
        const hers_reduce_stage *st = &net->m->stages[s];
        dm_stage_cache *c = &net->cache[s];
        c->x = in;
        const float *cur = in;
        for (int k = 0; k < 3; k++) {
            size_t w = st->widths[k];
            reduce_layer_forward(&st->layer[2 * k], cur, rows, c->p[k]);
            for (size_t i = 0; i < rows * w; i++)
                c->a[k][i] = (c->p[k][i] > 0 ? c->p[k][i] : 0) + cur[i];
            reduce_layer_forward(&st->layer[2 * k + 1], c->a[k], rows, c->h[k]);
            cur = c->h[k];
        }
        reduce_layer_forward(&st->skip, in, rows, c->y);
        for (size_t i = 0; i < rows * st->out; i++)
            c->y[i] += c->h[2][i];
        reduce_normalize_rows(c->y, rows, st->out, c->norm);
        in = c->y;
    }
    return in;
}

/* Gradients of one layer given dy (rows x out) and its input x (rows x in):
 * gW = dy^T x, gb = colsum(dy); if dx != NULL, dx = dy W (+ dx if accumulate). */
static void layer_backward(const hers_reduce_layer *l, const float *x, const float *dy,
                           size_t rows, hers_reduce_layer *g, float *dx, int accumulate)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->out, (int)l->in, (int)rows,
                1.0f, dy, (int)l->out, x, (int)l->in, 0.0f, g->w, (int)l->in);
    for (size_t j = 0; j < l->out; j++)
        g->b[j] = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *row = dy + r * l->out;
        for (size_t j = 0; j < l->out; j++)
            g->b[j] += row[j];
    }
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)l->in,
                    (int)l->out, 1.0f, dy, (int)l->out, l->w, (int)l->in,
                    accumulate ? 1.0f : 0.0f, dx, (int)l->in);
}

void dm_backward(dm_net *net, const float *dz, size_t rows, hers_reduce_model *grad)
{
    size_t wmax = model_max_width(net->m), blk = net->max_rows * wmax;
    float *du = net->work, *da = du + blk, *dp = da + blk, *dh = dp + blk, *dx = dh + blk;
    const float *g = dz;
    for (size_t s = net->n_active; s-- > 0;) {
        const hers_reduce_stage *st = &net->m->stages[s];
        hers_reduce_stage *gs = &grad->stages[s];
        dm_stage_cache *c = &net->cache[s];
        size_t out = st->out;
        /* y = u / |u|  =>  du = (g - y <y, g>) / |u|. */
        for (size_t r = 0; r < rows; r++) {
            const float *y = c->y + r * out, *gr = g + r * out;
            float *d = du + r * out;
            double dot = 0;
            for (size_t j = 0; j < out; j++)
                dot += (double)y[j] * gr[j];
            double inv = c->norm[r] > 0 ? 1.0 / c->norm[r] : 0.0;
            for (size_t j = 0; j < out; j++)
                d[j] = (float)(((double)gr[j] - y[j] * dot) * inv);
        }
        int need_dx = s > 0;
        /* Skip path: dx = du Ws. */
        layer_backward(&st->skip, c->x, du, rows, &gs->skip, need_dx ? dx : NULL, 0);
        /* Main path, from the last block down; dh holds dL/dh_k. */
        memcpy(dh, du, rows * out * sizeof(float));
        for (int k = 2; k >= 0; k--) {
            size_t w = st->widths[k];
            const float *hin = k == 0 ? c->x : c->h[k - 1];
            layer_backward(&st->layer[2 * k + 1], c->a[k], dh, rows, &gs->layer[2 * k + 1], da, 0);
            /* a = ReLU(p) + hin: dp = da * [p > 0]; dhin = da + dp Wsq. */
            for (size_t i = 0; i < rows * w; i++)
                dp[i] = c->p[k][i] > 0 ? da[i] : 0.0f;
            memcpy(dh, da, rows * w * sizeof(float));
            layer_backward(&st->layer[2 * k], hin, dp, rows, &gs->layer[2 * k], dh, 1);
        }
        if (need_dx) {
            size_t in = st->in;
            for (size_t i = 0; i < rows * in; i++)
                dx[i] += dh[i];
            /* The previous stage's output gradient: reuse the du buffer. */
            memcpy(du, dx, rows * in * sizeof(float));
            g = du;
        }
    }
}

void dm_stage_init_xavier(hers_reduce_stage *st, hers_prg *g)
{
    hers_reduce_layer *ls[7] = {&st->skip, &st->layer[0], &st->layer[1], &st->layer[2],
                                &st->layer[3], &st->layer[4], &st->layer[5]};
    for (int i = 0; i < 7; i++) {
        hers_reduce_layer *l = ls[i];
        double a = sqrt(6.0 / (double)(l->in + l->out));
        for (size_t j = 0; j < l->in * l->out; j++)
            l->w[j] = (float)((2.0 * hers_prg_double(g) - 1.0) * a);
        memset(l->b, 0, l->out * sizeof(float));
    }
}
