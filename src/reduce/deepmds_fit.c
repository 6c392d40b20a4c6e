/* deepmds_fit.c - DeepMDS++ training: pair sampling with hard-pair mining,
 * stage-wise schedule, Adam with step decay, validation TAR, progress.
 *
 * Per step: draw `candidates` genuine and `candidates` impostor pairs, run
 * the current network on them (inference), keep per kind the k pairs with
 * the largest |s(x) - s(z)| (k rises linearly from hard_start to hard_end
 * over the stage) and fill up to `pairs` with random other candidates; one
 * forward/backward on those 4 * pairs rows; Adam step. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "reduce/deepmds_internal.h"
#include "reduce/reduce_internal.h"

#define ADAM_B1 0.9
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8
#define PCA_INIT_ROWS 20000 /* rows used to initialise a stage's skip from PCA */
#define VAL_FAR 1e-2

void hers_deepmds_options_default(hers_deepmds_options *o, size_t n, size_t in_dim, size_t dim)
{
    memset(o, 0, sizeof *o);
    o->dim = dim;
    o->seed = 1;
    o->pairs = 250;
    o->candidates = 1000;
    o->hard_start = 50;
    o->hard_end = 250;
    /* The authors use 3e-4 over ~100k steps; our default runs are a few
     * hundred steps per stage, where 1e-3 converges clearly better
     * (Fashion-MNIST, docs/design.md). */
    o->lr = 1e-3;
    o->weight_decay = 4e-5;
    o->w_genuine = 1.0;
    o->w_impostor = 1.0;
    o->w_cov = 10.0;
    o->w_ratio = 0.0;
    o->pca_init = 1;
    o->val_size = 1000;
    /* Inputs wider than 4 * dim go through a PCA front end to 4 * dim, so
     * the learned chain is 4d -> 2d -> d: the first stage of a 784-d input
     * alone costs ~25 MFLOP per row per step, 8x the whole 256 -> 64 chain,
     * and PCA to 4d keeps nearly all of the neighbourhood structure. */
    o->pca_dim = dim && 4 * dim < in_dim ? 4 * dim : 0;
    size_t width = o->pca_dim ? o->pca_dim : in_dim;
    /* Steps per stage: ~n/50 (the pairs of a small set are seen many
     * times), at least 300, capped so that a 60,000-row fit stays within a
     * few minutes on 2 cores. */
    size_t steps = n / 50;
    if (steps < 300)
        steps = 300;
    size_t cap = width > 512 ? 300 : 600;
    if (steps > cap)
        steps = cap;
    o->steps = steps;
    /* Mining runs the network on 4 * candidates rows per step. */
    if (width > 512)
        o->candidates = 500;
}

/* ---- data access ---- */

typedef struct fit_data {
    const float *x;     /* source rows (n x d) */
    size_t n, d;
    int normalize;      /* rows of x need unit normalisation when gathered */
    const int32_t *label;
    size_t *sorted;     /* row indices sorted by (label, index) */
    size_t *pos;        /* pos[row] = index of row in sorted */
    size_t *cls_start;  /* per row: start of its class in sorted */
    size_t *cls_count;  /* per row: size of its class */
    size_t *gen_rows;   /* rows whose class has >= 2 members */
    size_t n_gen_rows;
} fit_data;

static int cmp_by_label(const void *a, const void *b, void *ctx)
{
    const int32_t *sort_labels = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (sort_labels[i] != sort_labels[j])
        return sort_labels[i] < sort_labels[j] ? -1 : 1;
    return i < j ? -1 : (i > j);
}

static hers_status data_init(fit_data *fd, const float *x, size_t n, size_t d, int normalize,
                             const int32_t *label)
{
    memset(fd, 0, sizeof *fd);
    fd->x = x;
    fd->n = n;
    fd->d = d;
    fd->normalize = normalize;
    fd->label = label;
    fd->sorted = hers_alloc_array(n, sizeof(size_t));
    fd->pos = hers_alloc_array(n, sizeof(size_t));
    fd->cls_start = hers_alloc_array(n, sizeof(size_t));
    fd->cls_count = hers_alloc_array(n, sizeof(size_t));
    fd->gen_rows = hers_alloc_array(n, sizeof(size_t));
    if (!fd->sorted || !fd->pos || !fd->cls_start || !fd->cls_count || !fd->gen_rows)
        return hers_error(HERS_ERR_NOMEM, "DeepMDS++: label index for %zu rows", n);
    for (size_t i = 0; i < n; i++)
        fd->sorted[i] = i;
    qsort_r(fd->sorted, n, sizeof(size_t), cmp_by_label, (void *)label);
    size_t classes = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && label[fd->sorted[j]] == label[fd->sorted[i]])
            j++;
        for (size_t k = i; k < j; k++) {
            size_t r = fd->sorted[k];
            fd->pos[r] = k;
            fd->cls_start[r] = i;
            fd->cls_count[r] = j - i;
        }
        classes++;
        i = j;
    }
    for (size_t r = 0; r < n; r++)
        if (fd->cls_count[r] >= 2)
            fd->gen_rows[fd->n_gen_rows++] = r;
    if (classes < 2)
        return hers_error(HERS_ERR_ARG, "DeepMDS++: labels name a single identity (need >= 2)");
    if (fd->n_gen_rows == 0)
        return hers_error(HERS_ERR_ARG, "DeepMDS++: no identity has two samples (no genuine pairs)");
    return HERS_OK;
}

static void data_free(fit_data *fd)
{
    hers_free(fd->sorted);
    hers_free(fd->pos);
    hers_free(fd->cls_start);
    hers_free(fd->cls_count);
    hers_free(fd->gen_rows);
}

static void draw_genuine(const fit_data *fd, hers_prg *g, size_t *a, size_t *b)
{
    size_t r = fd->gen_rows[hers_prg_uniform(g, fd->n_gen_rows)];
    size_t j = (size_t)hers_prg_uniform(g, fd->cls_count[r] - 1);
    if (fd->cls_start[r] + j >= fd->pos[r])
        j++;
    *a = r;
    *b = fd->sorted[fd->cls_start[r] + j];
}

static void draw_impostor(const fit_data *fd, hers_prg *g, size_t *a, size_t *b)
{
    /* The row a is uniform; b is uniform among rows of other identities
     * (rejection; the largest identity is < n rows, so this ends). */
    size_t r = (size_t)hers_prg_uniform(g, fd->n), s;
    do
        s = (size_t)hers_prg_uniform(g, fd->n);
    while (fd->label[s] == fd->label[r]);
    *a = r;
    *b = s;
}

static void gather_row(const fit_data *fd, size_t r, float *dst)
{
    const float *src = fd->x + r * fd->d;
    memcpy(dst, src, fd->d * sizeof(float));
    if (fd->normalize)
        reduce_normalize_rows(dst, 1, fd->d, NULL);
}

static float dotf(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += (double)a[i] * b[i];
    return (float)s;
}

/* ---- inference through the active stages ---- */

typedef struct infer_buf {
    float *a, *b, *tmp;
} infer_buf;

static const float *infer(const hers_reduce_model *m, size_t n_active, const float *x,
                          size_t rows, infer_buf *ib)
{
    const float *cur = x;
    float *dst = ib->a;
    for (size_t s = 0; s < n_active; s++) {
        reduce_stage_forward(&m->stages[s], cur, rows, dst, ib->tmp);
        cur = dst;
        dst = dst == ib->a ? ib->b : ib->a;
    }
    return cur;
}

/* ---- validation: TAR at FAR on all pairs of a subset ---- */

static int cmp_float_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : (x > y ? -1 : 0);
}

static double tar_at_far(const float *z, size_t v, size_t d, const int32_t *lab, double far,
                         float *gram, float *imp, float *gen)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)v, (int)v, (int)d, 1.0f, z, (int)d,
                z, (int)d, 0.0f, gram, (int)v);
    size_t ni = 0, ng = 0;
    for (size_t i = 0; i < v; i++)
        for (size_t j = i + 1; j < v; j++) {
            float s = gram[i * v + j];
            if (lab[i] == lab[j])
                gen[ng++] = s;
            else
                imp[ni++] = s;
        }
    if (!ni || !ng)
        return -1;
    qsort(imp, ni, sizeof(float), cmp_float_desc);
    size_t idx = (size_t)(far * (double)ni);
    if (idx >= ni)
        idx = ni - 1;
    float thr = imp[idx];
    size_t acc = 0;
    for (size_t i = 0; i < ng; i++)
        acc += gen[i] > thr;
    return (double)acc / (double)ng;
}

/* ---- helpers ---- */

static double lr_at(double base, uint64_t step, uint64_t total)
{
    /* The authors' decay (x0.9 at 25k, x0.5 at 50k, x0.1 at 75k, x0.05 at
     * 100k steps of a 100k-step run), scaled to `total` steps. */
    double f = (double)step / (double)total;
    if (f < 0.25) return base;
    if (f < 0.50) return base * 0.9;
    if (f < 0.75) return base * 0.5;
    return base * 0.1;
}

static int cmp_err_desc(const void *a, const void *b, void *ctx)
{
    const float *e = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (e[i] != e[j])
        return e[i] < e[j] ? 1 : -1;
    return i < j ? -1 : (i > j);
}

/* Selects `keep` of the `cand` candidate pairs (indices into the candidate
 * arrays): the `hard` largest errors, then random others. */
static void select_pairs(const float *err, size_t cand, size_t keep, size_t hard, hers_prg *g,
                         size_t *idx)
{
    for (size_t i = 0; i < cand; i++)
        idx[i] = i;
    if (hard > keep)
        hard = keep;
    if (hard)
        qsort_r(idx, cand, sizeof(size_t), cmp_err_desc, (void *)err);
    /* Partial Fisher-Yates over idx[hard..cand). */
    for (size_t i = hard; i < keep; i++) {
        size_t j = i + (size_t)hers_prg_uniform(g, cand - i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

static hers_status clone_shape(const hers_reduce_model *m, hers_reduce_model **out)
{
    hers_reduce_model *c = reduce_model_new();
    if (!c)
        return hers_error(HERS_ERR_NOMEM, "DeepMDS++: model copy");
    size_t outs[HERS_REDUCE_MAX_STAGES];
    for (size_t s = 0; s < m->n_stages; s++)
        outs[s] = m->stages[s].out;
    c->in_dim = m->in_dim;
    c->out_dim = m->out_dim;
    hers_status rc = reduce_model_alloc_stages(c, m->stages[0].in, outs, m->n_stages);
    if (rc != HERS_OK) {
        hers_reduce_model_free(c);
        return rc;
    }
    *out = c;
    return HERS_OK;
}

/* Initialises the skip layer of stage s from the PCA of its input (the
 * current network's output on up to PCA_INIT_ROWS rows), and zeroes the last
 * main-path layer, so that the stage starts as the PCA projection. */
static hers_status pca_init_stage(hers_reduce_model *m, size_t s, const fit_data *fd,
                                  infer_buf *ib, size_t blk, hers_prg *g)
{
    hers_reduce_stage *st = &m->stages[s];
    size_t rows = fd->n < PCA_INIT_ROWS ? fd->n : PCA_INIT_ROWS;
    float *in = hers_alloc_array(rows * st->in, sizeof(float));
    float *xb = hers_alloc_array(blk * fd->d, sizeof(float));
    float *mean = hers_alloc_array(st->in, sizeof(float));
    float *eig = hers_alloc_array(st->out, sizeof(float));
    hers_status rc = HERS_OK;
    if (!in || !xb || !mean || !eig) {
        rc = hers_error(HERS_ERR_NOMEM, "DeepMDS++: PCA initialisation");
        goto done;
    }
    /* A random subset (without replacement when rows < n). */
    size_t *pick = hers_alloc_array(fd->n, sizeof(size_t));
    if (!pick) {
        rc = hers_error(HERS_ERR_NOMEM, "DeepMDS++: PCA initialisation");
        goto done;
    }
    for (size_t i = 0; i < fd->n; i++)
        pick[i] = i;
    for (size_t i = 0; i < rows; i++) {
        size_t j = i + (size_t)hers_prg_uniform(g, fd->n - i), t = pick[i];
        pick[i] = pick[j];
        pick[j] = t;
    }
    for (size_t r0 = 0; r0 < rows; r0 += blk) {
        size_t nr = rows - r0 < blk ? rows - r0 : blk;
        for (size_t r = 0; r < nr; r++)
            gather_row(fd, pick[r0 + r], xb + r * fd->d);
        const float *z = infer(m, s, xb, nr, ib);
        memcpy(in + r0 * st->in, z, nr * st->in * sizeof(float));
    }
    hers_free(pick);
    rc = reduce_pca_compute(in, rows, st->in, st->out, 0, mean, st->skip.w, eig);
    if (rc != HERS_OK)
        goto done;
    for (size_t j = 0; j < st->out; j++)
        st->skip.b[j] = -dotf(st->skip.w + j * st->in, mean, st->in);
    memset(st->layer[5].w, 0, st->layer[5].in * st->layer[5].out * sizeof(float));
    memset(st->layer[5].b, 0, st->layer[5].out * sizeof(float));
done:
    hers_free(in);
    hers_free(xb);
    hers_free(mean);
    hers_free(eig);
    return rc;
}

/* ---- the fit ---- */

typedef struct fit_state {
    hers_reduce_model *m, *grad, *m1, *m2;
    dm_net net;
    infer_buf ib;
    float *cand_x, *cand_sx, *cand_err, *batch_x, *batch_sx, *dz, *scratch;
    size_t *cand_a, *cand_b, *sel;
    float *val_x, *val_gram, *val_imp, *val_gen;
    int32_t *val_lab;
    size_t val_n;
} fit_state;

static void state_free(fit_state *st)
{
    hers_reduce_model_free(st->grad);
    hers_reduce_model_free(st->m1);
    hers_reduce_model_free(st->m2);
    dm_net_free(&st->net);
    void *bufs[] = {st->ib.a, st->ib.b, st->ib.tmp, st->cand_x, st->cand_sx, st->cand_err,
                    st->batch_x, st->batch_sx, st->dz, st->scratch, st->cand_a, st->cand_b,
                    st->sel, st->val_x, st->val_gram, st->val_imp, st->val_gen, st->val_lab};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        hers_free(bufs[i]);
}

static hers_status check_options(const hers_matrix *x, const hers_labels *labels,
                                 const hers_deepmds_options *o)
{
    if (!x || !x->data || !labels || !labels->data || !o)
        return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: NULL argument");
    if (labels->count != x->rows)
        return hers_error(HERS_ERR_MISMATCH, "DeepMDS++ fit: %zu labels for %zu rows",
                          labels->count, x->rows);
    if (x->cols == 0 || x->cols > HERS_REDUCE_MAX_DIM || x->rows < 4)
        return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: need >= 4 rows of 1..%u columns",
                          HERS_REDUCE_MAX_DIM);
    if (o->dim == 0 || o->dim > x->cols)
        return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: dim %zu must be in [1, %zu]", o->dim,
                          x->cols);
    if (o->pca_dim && (o->pca_dim < o->dim || o->pca_dim > x->cols))
        return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: pca_dim %zu must be in [dim, %zu]",
                          o->pca_dim, x->cols);
    if (o->pairs == 0 || o->pairs > 100000 || o->candidates > 1000000)
        return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: pairs %zu / candidates %zu out of range",
                          o->pairs, o->candidates);
    if (o->steps > 100000000)
        return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: steps %llu out of range",
                          (unsigned long long)o->steps);
    if (!(o->lr > 0) || !(o->weight_decay >= 0) || !isfinite(o->w_cov) || !isfinite(o->w_ratio) ||
        !isfinite(o->w_genuine) || !isfinite(o->w_impostor))
        return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: invalid learning rate or loss weights");
    if (o->n_stages > HERS_REDUCE_MAX_STAGES)
        return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: %zu stages (max %u)", o->n_stages,
                          HERS_REDUCE_MAX_STAGES);
    size_t cur = o->pca_dim ? o->pca_dim : x->cols;
    for (size_t s = 0; s < o->n_stages; s++) {
        if (o->stage_out[s] == 0 || o->stage_out[s] > cur)
            return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: stage %zu output %zu not in [1, %zu]",
                              s + 1, o->stage_out[s], cur);
        cur = o->stage_out[s];
    }
    if (o->n_stages && cur != o->dim)
        return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: stages end at %zu, not dim %zu", cur,
                          o->dim);
    return HERS_OK;
}

hers_status hers_deepmds_fit(const hers_matrix *x, const hers_labels *labels,
                             const hers_deepmds_options *opt, hers_deepmds_progress_fn progress,
                             void *user, hers_reduce_model **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "DeepMDS++ fit: NULL output");
    *out = NULL;
    hers_status rc = check_options(x, labels, opt);
    if (rc != HERS_OK)
        return rc;
    hers_deepmds_options o = *opt;
    if (o.steps == 0) { /* 0: the default for this data size */
        hers_deepmds_options def;
        hers_deepmds_options_default(&def, x->rows, x->cols, o.dim);
        o.steps = def.steps;
    }
    if (o.threads > 0)
        openblas_set_num_threads(o.threads);

    uint8_t seed[HERS_SEED_BYTES] = {0};
    for (int i = 0; i < 8; i++)
        seed[i] = (uint8_t)(o.seed >> (8 * i));
    hers_prg g_init, g_pairs;
    hers_prg_init(&g_init, seed, 1);
    hers_prg_init(&g_pairs, seed, 2);

    fit_state S;
    memset(&S, 0, sizeof S);
    fit_data fd;
    memset(&fd, 0, sizeof fd);
    float *pca_x = NULL;
    hers_reduce_model *m = reduce_model_new();
    if (!m)
        return hers_error(HERS_ERR_NOMEM, "DeepMDS++ model");
    m->method = HERS_REDUCE_DEEPMDS;
    m->in_dim = x->cols;
    m->out_dim = o.dim;

    /* Chain and optional PCA front end. */
    size_t outs[HERS_REDUCE_MAX_STAGES], n_stages = o.n_stages;
    size_t d0 = o.pca_dim ? o.pca_dim : x->cols;
    if (n_stages)
        memcpy(outs, o.stage_out, n_stages * sizeof(size_t));
    else if ((rc = hers_reduce_chain(d0, o.dim, outs, HERS_REDUCE_MAX_STAGES, &n_stages)) != HERS_OK)
        goto fail;
    if (o.pca_dim) {
        if ((rc = reduce_model_alloc_pca(m, o.pca_dim)) != HERS_OK)
            goto fail;
        rc = reduce_pca_compute(x->data, x->rows, x->cols, o.pca_dim, 1, m->pca_mean,
                                m->pca_comp, m->pca_eig);
        if (rc != HERS_OK)
            goto fail;
        for (size_t j = 0; j < o.pca_dim; j++)
            m->pca_scale[j] = 1.0f;
        pca_x = hers_alloc_array(x->rows * o.pca_dim, sizeof(float));
        float *tmp = hers_alloc_array(1024 * x->cols, sizeof(float));
        if (!pca_x || !tmp) {
            hers_free(tmp);
            rc = hers_error(HERS_ERR_NOMEM, "DeepMDS++: PCA front end");
            goto fail;
        }
        for (size_t r0 = 0; r0 < x->rows; r0 += 1024) {
            size_t nr = x->rows - r0 < 1024 ? x->rows - r0 : 1024;
            memcpy(tmp, x->data + r0 * x->cols, nr * x->cols * sizeof(float));
            reduce_normalize_rows(tmp, nr, x->cols, NULL);
            reduce_pca_forward(m, tmp, nr, pca_x + r0 * o.pca_dim);
        }
        hers_free(tmp);
    }
    if ((rc = reduce_model_alloc_stages(m, d0, outs, n_stages)) != HERS_OK)
        goto fail;
    if ((rc = data_init(&fd, pca_x ? pca_x : x->data, x->rows, d0, pca_x == NULL,
                        labels->data)) != HERS_OK)
        goto fail;
    if ((rc = clone_shape(m, &S.grad)) != HERS_OK || (rc = clone_shape(m, &S.m1)) != HERS_OK ||
        (rc = clone_shape(m, &S.m2)) != HERS_OK)
        goto fail;

    /* Buffers. */
    size_t P = o.pairs, C = o.candidates > P ? o.candidates : P, B = 4 * P;
    size_t cand_rows = 4 * C, wmax = d0;
    size_t blk = cand_rows > 1024 ? cand_rows : 1024;
    size_t V = o.val_size < x->rows ? o.val_size : x->rows;
    if (blk < V)
        blk = V;
    if ((rc = dm_net_init(&S.net, m, B)) != HERS_OK)
        goto fail;
    S.ib.a = hers_alloc_array(blk * wmax, sizeof(float));
    S.ib.b = hers_alloc_array(blk * wmax, sizeof(float));
    S.ib.tmp = hers_alloc_array(blk * 3 * wmax, sizeof(float));
    S.cand_x = hers_alloc_array(cand_rows * d0, sizeof(float));
    S.cand_sx = hers_alloc_array(2 * C, sizeof(float));
    S.cand_err = hers_alloc_array(2 * C, sizeof(float));
    S.cand_a = hers_alloc_array(2 * C, sizeof(size_t));
    S.cand_b = hers_alloc_array(2 * C, sizeof(size_t));
    S.sel = hers_alloc_array(C, sizeof(size_t));
    S.batch_x = hers_alloc_array(B * d0, sizeof(float));
    S.batch_sx = hers_alloc_array(2 * P, sizeof(float));
    S.dz = hers_alloc_array(B * o.dim > B * wmax ? B * o.dim : B * wmax, sizeof(float));
    S.scratch = hers_alloc_array(wmax * wmax + B * wmax + 2 * P, sizeof(float));
    if (!S.ib.a || !S.ib.b || !S.ib.tmp || !S.cand_x || !S.cand_sx || !S.cand_err ||
        !S.cand_a || !S.cand_b || !S.sel || !S.batch_x || !S.batch_sx || !S.dz || !S.scratch) {
        rc = hers_error(HERS_ERR_NOMEM, "DeepMDS++: training buffers");
        goto fail;
    }

    /* Validation subset: V random rows (fixed for the run). */
    double val_input = -1;
    if (V >= 2) {
        hers_prg g_val;
        hers_prg_init(&g_val, seed, 3);
        S.val_x = hers_alloc_array(V * d0, sizeof(float));
        S.val_lab = hers_alloc_array(V, sizeof(int32_t));
        S.val_gram = hers_alloc_array(V * V, sizeof(float));
        S.val_imp = hers_alloc_array(V * V / 2 + 1, sizeof(float));
        S.val_gen = hers_alloc_array(V * V / 2 + 1, sizeof(float));
        size_t *pick = hers_alloc_array(x->rows, sizeof(size_t));
        float *raw = hers_alloc_array(V * x->cols, sizeof(float));
        if (!S.val_x || !S.val_lab || !S.val_gram || !S.val_imp || !S.val_gen || !pick || !raw) {
            hers_free(pick);
            hers_free(raw);
            rc = hers_error(HERS_ERR_NOMEM, "DeepMDS++: validation buffers");
            goto fail;
        }
        for (size_t i = 0; i < x->rows; i++)
            pick[i] = i;
        for (size_t i = 0; i < V; i++) {
            size_t j = i + (size_t)hers_prg_uniform(&g_val, x->rows - i), t = pick[i];
            pick[i] = pick[j];
            pick[j] = t;
            gather_row(&fd, pick[i], S.val_x + i * d0);
            S.val_lab[i] = labels->data[pick[i]];
            memcpy(raw + i * x->cols, x->data + pick[i] * x->cols, x->cols * sizeof(float));
        }
        reduce_normalize_rows(raw, V, x->cols, NULL);
        val_input = tar_at_far(raw, V, x->cols, S.val_lab, VAL_FAR, S.val_gram, S.val_imp,
                               S.val_gen);
        hers_free(raw);
        hers_free(pick);
        hers_prg_wipe(&g_val);
        S.val_n = V;
    }

    dm_param prm[DM_MAX_PARAMS], grd[DM_MAX_PARAMS], mo1[DM_MAX_PARAMS], mo2[DM_MAX_PARAMS];
    uint64_t T = o.steps, total = T * n_stages, done_all = 0;
    uint64_t every = o.report_every ? o.report_every : (T / 50 ? T / 50 : 1);
    for (size_t s = 0; s < n_stages; s++) {
        /* New stage: Xavier, optionally PCA-initialised skip; fresh Adam. */
        dm_stage_init_xavier(&m->stages[s], &g_init);
        if (o.pca_init && (rc = pca_init_stage(m, s, &fd, &S.ib, blk, &g_init)) != HERS_OK)
            goto fail;
        S.net.n_active = s + 1;
        size_t np = dm_params(m, s + 1, prm);
        dm_params(S.grad, s + 1, grd);
        dm_params(S.m1, s + 1, mo1);
        dm_params(S.m2, s + 1, mo2);
        for (size_t i = 0; i < np; i++) {
            memset(mo1[i].p, 0, mo1[i].n * sizeof(float));
            memset(mo2[i].p, 0, mo2[i].n * sizeof(float));
        }
        size_t dims = m->stages[s].out;
        double acc_sim = 0, acc_cov = 0, acc_ratio = 0;
        uint64_t acc_n = 0;
        for (uint64_t step = 1; step <= T; step++) {
            size_t hard = o.hard_start +
                          (size_t)((double)(o.hard_end > o.hard_start ? o.hard_end - o.hard_start : 0) *
                                   (double)(step - 1) / (double)(T > 1 ? T - 1 : 1));
            /* Candidates: C genuine then C impostor pairs. */
            for (size_t i = 0; i < 2 * C; i++) {
                if (i < C)
                    draw_genuine(&fd, &g_pairs, &S.cand_a[i], &S.cand_b[i]);
                else
                    draw_impostor(&fd, &g_pairs, &S.cand_a[i], &S.cand_b[i]);
                float *ra = S.cand_x + 2 * i * d0, *rb = ra + d0;
                gather_row(&fd, S.cand_a[i], ra);
                gather_row(&fd, S.cand_b[i], rb);
                S.cand_sx[i] = dotf(ra, rb, d0);
            }
            if (C > P && hard > 0) {
                const float *z = infer(m, s + 1, S.cand_x, cand_rows, &S.ib);
                for (size_t i = 0; i < 2 * C; i++)
                    S.cand_err[i] =
                        fabsf(S.cand_sx[i] - dotf(z + 2 * i * dims, z + (2 * i + 1) * dims, dims));
            }
            for (int kind = 0; kind < 2; kind++) {
                if (C > P && hard > 0)
                    select_pairs(S.cand_err + kind * C, C, P, hard, &g_pairs, S.sel);
                else
                    for (size_t i = 0; i < P; i++)
                        S.sel[i] = i;
                for (size_t i = 0; i < P; i++) {
                    size_t c = kind * C + S.sel[i], bi = kind * P + i;
                    memcpy(S.batch_x + 2 * bi * d0, S.cand_x + 2 * c * d0, 2 * d0 * sizeof(float));
                    S.batch_sx[bi] = S.cand_sx[c];
                }
            }
            const float *z = dm_forward(&S.net, S.batch_x, B);
            dm_loss_parts parts;
            double loss = dm_loss(z, dims, S.batch_sx, P, P, o.w_genuine, o.w_impostor, o.w_cov,
                                  o.w_ratio, S.dz, S.scratch, &parts);
            if (!isfinite(loss)) {
                rc = hers_error(HERS_ERR_NUMERIC, "DeepMDS++: loss diverged at stage %zu step %llu",
                                s + 1, (unsigned long long)step);
                goto fail;
            }
            acc_sim += parts.sim;
            acc_cov += parts.cov;
            acc_ratio += parts.ratio;
            acc_n++;
            dm_backward(&S.net, S.dz, B, S.grad);
            /* Adam with weight decay folded into the gradient (L2 loss). */
            double lr = lr_at(o.lr, step - 1, T);
            double bc1 = 1.0 - pow(ADAM_B1, (double)step), bc2 = 1.0 - pow(ADAM_B2, (double)step);
            float a1 = (float)ADAM_B1, a2 = (float)ADAM_B2;
            float stepsize = (float)(lr * sqrt(bc2) / bc1), eps = (float)(ADAM_EPS * sqrt(bc2));
            float wd = (float)o.weight_decay;
            for (size_t i = 0; i < np; i++) {
                float *w = prm[i].p, *gr = grd[i].p, *v1 = mo1[i].p, *v2 = mo2[i].p;
                float dec = prm[i].is_weight ? wd : 0.0f;
                for (size_t j = 0; j < prm[i].n; j++) {
                    float gj = gr[j] + dec * w[j];
                    v1[j] = a1 * v1[j] + (1.0f - a1) * gj;
                    v2[j] = a2 * v2[j] + (1.0f - a2) * gj * gj;
                    w[j] -= stepsize * v1[j] / (sqrtf(v2[j]) + eps);
                }
            }
            done_all++;
            if (progress && (step % every == 0 || step == T)) {
                double reg = 0;
                for (size_t i = 0; i < np; i++)
                    if (prm[i].is_weight)
                        for (size_t j = 0; j < prm[i].n; j++)
                            reg += (double)prm[i].p[j] * prm[i].p[j];
                hers_deepmds_progress pr = {0};
                pr.stage = s + 1;
                pr.n_stages = n_stages;
                pr.step = step;
                pr.stage_steps = T;
                pr.total_done = done_all;
                pr.total_steps = total;
                pr.lr = lr;
                pr.loss = loss + 0.5 * o.weight_decay * reg;
                pr.loss_sim = acc_sim / (double)acc_n;
                pr.loss_cov = acc_cov / (double)acc_n;
                pr.loss_ratio = acc_ratio / (double)acc_n;
                pr.val_tar = -1;
                pr.val_tar_input = val_input;
                if (S.val_n) {
                    const float *zv = infer(m, s + 1, S.val_x, S.val_n, &S.ib);
                    pr.val_tar = tar_at_far(zv, S.val_n, dims, S.val_lab, VAL_FAR, S.val_gram,
                                            S.val_imp, S.val_gen);
                }
                acc_sim = acc_cov = acc_ratio = 0;
                acc_n = 0;
                if (progress(user, &pr)) {
                    rc = hers_error(HERS_ERR_STATE, "DeepMDS++: interrupted at stage %zu step %llu",
                                    s + 1, (unsigned long long)step);
                    goto fail;
                }
            }
        }
    }
    state_free(&S);
    data_free(&fd);
    hers_free(pca_x);
    hers_prg_wipe(&g_init);
    hers_prg_wipe(&g_pairs);
    *out = m;
    return HERS_OK;
fail:
    state_free(&S);
    data_free(&fd);
    hers_free(pca_x);
    hers_prg_wipe(&g_init);
    hers_prg_wipe(&g_pairs);
    hers_reduce_model_free(m);
    return rc;
}
