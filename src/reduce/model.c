/* model.c - the reduction model: shapes, allocation, inference (apply). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_reduce.h"
#include "reduce/reduce_internal.h"

#define APPLY_BLOCK 1024 /* rows per block in hers_reduce_apply: bounds memory */

const char *hers_reduce_method_name(hers_reduce_method method)
{
    switch (method) {
    case HERS_REDUCE_PCA: return "pca";
    case HERS_REDUCE_DEEPMDS: return "deepmds";
    }
    return "unknown";
}

void hers_reduce_stage_widths(size_t in, size_t out, size_t widths[4])
{
    size_t chunk = in >= out ? (in - out) / 3 : 0;
    widths[0] = in;
    widths[1] = in - chunk;
    widths[2] = in - 2 * chunk;
    widths[3] = out;
}

hers_status hers_reduce_chain(size_t in_dim, size_t dim, size_t *outs, size_t max_stages,
                              size_t *n)
{
    if (!outs || !n || dim == 0 || dim > in_dim)
        return hers_error(HERS_ERR_ARG, "reduce chain: target dimension %zu must be in [1, %zu]",
                          dim, in_dim);
    size_t first = dim, count = 1;
    while (first * 2 <= in_dim / 2) {
        first *= 2;
        count++;
    }
    if (count > max_stages)
        return hers_error(HERS_ERR_ARG, "reduce chain: %zu -> %zu needs %zu stages (max %zu)",
                          in_dim, dim, count, max_stages);
    for (size_t i = 0; i < count; i++)
        outs[i] = first >> i;
    *n = count;
    return HERS_OK;
}

hers_reduce_model *reduce_model_new(void)
{
    return hers_alloc(sizeof(hers_reduce_model));
}

static void layer_free(hers_reduce_layer *l)
{
    hers_free(l->w);
    hers_free(l->b);
    l->w = l->b = NULL;
}

void hers_reduce_model_free(hers_reduce_model *m)
{
    if (!m)
        return;
    hers_free(m->pca_mean);
    hers_free(m->pca_comp);
    hers_free(m->pca_scale);
    hers_free(m->pca_eig);
    for (size_t s = 0; m->stages && s < m->n_stages; s++) {
        layer_free(&m->stages[s].skip);
        for (int k = 0; k < 6; k++)
            layer_free(&m->stages[s].layer[k]);
    }
    hers_free(m->stages);
    hers_free(m);
}

hers_status reduce_model_alloc_pca(hers_reduce_model *m, size_t pca_dim)
{
    m->pca_dim = pca_dim;
    m->pca_mean = hers_alloc_array(m->in_dim, sizeof(float));
    m->pca_comp = hers_alloc_array(pca_dim * m->in_dim, sizeof(float));
    m->pca_scale = hers_alloc_array(pca_dim, sizeof(float));
    m->pca_eig = hers_alloc_array(pca_dim, sizeof(float));
    if (!m->pca_mean || !m->pca_comp || !m->pca_scale || !m->pca_eig)
        return hers_error(HERS_ERR_NOMEM, "PCA model %zu x %zu", pca_dim, m->in_dim);
    return HERS_OK;
}

static hers_status layer_alloc(hers_reduce_layer *l, size_t in, size_t out)
{
    l->in = in;
    l->out = out;
    l->w = hers_alloc_array(in * out, sizeof(float));
    l->b = hers_alloc_array(out, sizeof(float));
    if (!l->w || !l->b)
        return hers_error(HERS_ERR_NOMEM, "layer %zu x %zu", out, in);
    return HERS_OK;
}

hers_status reduce_model_alloc_stages(hers_reduce_model *m, size_t in, const size_t *outs,
                                      size_t n)
{
    m->stages = hers_alloc_array(n ? n : 1, sizeof(hers_reduce_stage));
    if (!m->stages)
        return hers_error(HERS_ERR_NOMEM, "model stages");
    m->n_stages = n;
    for (size_t s = 0; s < n; s++) {
        hers_reduce_stage *st = &m->stages[s];
        st->in = in;
        st->out = outs[s];
        hers_reduce_stage_widths(in, outs[s], st->widths);
        hers_status rc = layer_alloc(&st->skip, in, outs[s]);
        for (int k = 0; k < 3 && rc == HERS_OK; k++) {
            rc = layer_alloc(&st->layer[2 * k], st->widths[k], st->widths[k]);
            if (rc == HERS_OK)
                rc = layer_alloc(&st->layer[2 * k + 1], st->widths[k], st->widths[k + 1]);
        }
        if (rc != HERS_OK)
            return rc;
        in = outs[s];
    }
    return HERS_OK;
}

size_t hers_reduce_model_params(const hers_reduce_model *m)
{
    if (!m)
        return 0;
    size_t p = 0;
    if (m->pca_dim)
        p += m->in_dim + m->pca_dim * m->in_dim + 2 * m->pca_dim;
    for (size_t s = 0; s < m->n_stages; s++) {
        const hers_reduce_stage *st = &m->stages[s];
        p += st->skip.in * st->skip.out + st->skip.out;
        for (int k = 0; k < 6; k++)
            p += st->layer[k].in * st->layer[k].out + st->layer[k].out;
    }
    return p;
}

void reduce_layer_forward(const hers_reduce_layer *l, const float *x, size_t rows, float *y)
{
    for (size_t r = 0; r < rows; r++)
        memcpy(y + r * l->out, l->b, l->out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)l->out, (int)l->in,
                1.0f, x, (int)l->in, l->w, (int)l->in, 1.0f, y, (int)l->out);
}

void reduce_normalize_rows(float *a, size_t rows, size_t cols, float *norms)
{
    for (size_t r = 0; r < rows; r++) {
        float *row = a + r * cols;
        double s = 0;
        for (size_t c = 0; c < cols; c++)
            s += (double)row[c] * row[c];
        double nrm = sqrt(s);
        if (norms)
            norms[r] = (float)nrm;
        if (nrm > 0) {
            float inv = (float)(1.0 / nrm);
            for (size_t c = 0; c < cols; c++)
                row[c] *= inv;
        }
    }
}

void reduce_pca_forward(const hers_reduce_model *m, const float *x, size_t rows, float *y)
{
    size_t d = m->in_dim, k = m->pca_dim;
    /* y = (x - mean) C^T = x C^T - (C mean)^T, row by row. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)k, (int)d, 1.0f, x,
                (int)d, m->pca_comp, (int)d, 0.0f, y, (int)k);
    for (size_t j = 0; j < k; j++) {
        double dot = 0;
        const float *c = m->pca_comp + j * d;
        for (size_t i = 0; i < d; i++)
            dot += (double)c[i] * m->pca_mean[i];
        float off = (float)dot, sc = m->pca_scale[j];
        for (size_t r = 0; r < rows; r++)
            y[r * k + j] = (y[r * k + j] - off) * sc;
    }
    reduce_normalize_rows(y, rows, k, NULL);
}

void reduce_stage_forward(const hers_reduce_stage *s, const float *x, size_t rows, float *y,
                          float *tmp)
{
    float *a = tmp, *h = tmp + rows * s->in;
    reduce_layer_forward(&s->skip, x, rows, y);
    const float *cur = x;
    for (int k = 0; k < 3; k++) {
        size_t w = s->widths[k];
        reduce_layer_forward(&s->layer[2 * k], cur, rows, a);
        for (size_t i = 0; i < rows * w; i++)
            a[i] = (a[i] > 0 ? a[i] : 0) + cur[i];
        reduce_layer_forward(&s->layer[2 * k + 1], a, rows, h);
        cur = h;
    }
    for (size_t i = 0; i < rows * s->out; i++)
        y[i] += h[i];
    reduce_normalize_rows(y, rows, s->out, NULL);
}

hers_status hers_reduce_apply(const hers_reduce_model *m, const hers_matrix *x, hers_matrix *out)
{
    if (!m || !x || !out || !x->data)
        return hers_error(HERS_ERR_ARG, "reduce apply: NULL argument");
    if (x->cols != m->in_dim)
        return hers_error(HERS_ERR_MISMATCH, "reduce apply: input has %zu columns, model expects %zu",
                          x->cols, m->in_dim);
    out->rows = out->cols = 0;
    out->data = NULL;
    /* Widest intermediate: the input, the PCA output or a stage width. */
    size_t wmax = m->in_dim;
    if (m->pca_dim > wmax)
        wmax = m->pca_dim;
    hers_status rc = hers_matrix_alloc(out, x->rows, m->out_dim);
    if (rc != HERS_OK)
        return rc;
    size_t blk = APPLY_BLOCK;
    float *bufa = hers_alloc_array(blk * wmax, sizeof(float));
    float *bufb = hers_alloc_array(blk * wmax, sizeof(float));
    float *tmp = hers_alloc_array(blk * 3 * wmax, sizeof(float));
    if (!bufa || !bufb || !tmp) {
        rc = hers_error(HERS_ERR_NOMEM, "reduce apply: %zu-row buffers", blk);
        goto done;
    }
    for (size_t r0 = 0; r0 < x->rows; r0 += blk) {
        size_t rows = x->rows - r0 < blk ? x->rows - r0 : blk;
        memcpy(bufa, x->data + r0 * x->cols, rows * x->cols * sizeof(float));
        reduce_normalize_rows(bufa, rows, m->in_dim, NULL);
        float *cur = bufa, *nxt = bufb;
        size_t width = m->in_dim;
        if (m->pca_dim) {
            reduce_pca_forward(m, cur, rows, nxt);
            float *t = cur; cur = nxt; nxt = t;
            width = m->pca_dim;
        }
        for (size_t s = 0; s < m->n_stages; s++) {
            reduce_stage_forward(&m->stages[s], cur, rows, nxt, tmp);
            float *t = cur; cur = nxt; nxt = t;
            width = m->stages[s].out;
        }
        if (width != m->out_dim) {
            rc = hers_error(HERS_ERR_INTERNAL, "reduce apply: chain ends at %zu, not %zu", width,
                            m->out_dim);
            goto done;
        }
        memcpy(out->data + r0 * m->out_dim, cur, rows * m->out_dim * sizeof(float));
    }
done:
    hers_free(bufa);
    hers_free(bufb);
    hers_free(tmp);
    if (rc != HERS_OK)
        hers_matrix_free(out);
    return rc;
}
