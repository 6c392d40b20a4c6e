/* pca.c - PCA baseline: covariance with cblas_dsyrk, eigenvectors with
 * LAPACKE_dsyevr (only the top k are computed). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_reduce.h"
#include "reduce/reduce_internal.h"

#define PCA_BLOCK 2048 /* rows converted to double per dsyrk call */

/* Copies row r of x into dst as double, unit-normalised if asked. */
static void row_to_double(const float *src, size_t d, int normalize, double *dst)
{
    double s = 0;
    for (size_t c = 0; c < d; c++) {
        dst[c] = src[c];
        s += dst[c] * dst[c];
    }
    if (normalize && s > 0) {
        double inv = 1.0 / sqrt(s);
        for (size_t c = 0; c < d; c++)
            dst[c] *= inv;
    }
}

hers_status reduce_pca_compute(const float *x, size_t rows, size_t d, size_t k, int normalize,
                               float *mean, float *comp, float *eig)
{
    if (rows < 2 || k == 0 || k > d)
        return hers_error(HERS_ERR_ARG, "PCA: need >= 2 rows and 1 <= k <= %zu (rows %zu, k %zu)",
                          d, rows, k);
    hers_status rc = HERS_OK;
    double *mu = hers_alloc_array(d, sizeof(double));
    double *cov = hers_alloc_array(d * d, sizeof(double));
    double *blk = hers_alloc_array((size_t)PCA_BLOCK * d, sizeof(double));
    double *w = hers_alloc_array(d, sizeof(double));
    double *z = hers_alloc_array(d * k, sizeof(double));
    lapack_int *isuppz = hers_alloc_array(2 * d, sizeof(lapack_int));
    if (!mu || !cov || !blk || !w || !z || !isuppz) {
        rc = hers_error(HERS_ERR_NOMEM, "PCA: %zu x %zu covariance", d, d);
        goto done;
    }
    /* Mean, in double, in a fixed order (deterministic). */
    for (size_t r = 0; r < rows; r++) {
        row_to_double(x + r * d, d, normalize, blk);
        for (size_t c = 0; c < d; c++)
            mu[c] += blk[c];
    }
    for (size_t c = 0; c < d; c++)
        mu[c] /= (double)rows;
    /* Covariance: sum over blocks of centred rows, upper triangle. */
    for (size_t r0 = 0; r0 < rows; r0 += PCA_BLOCK) {
        size_t nr = rows - r0 < PCA_BLOCK ? rows - r0 : PCA_BLOCK;
        for (size_t r = 0; r < nr; r++) {
            double *row = blk + r * d;
            row_to_double(x + (r0 + r) * d, d, normalize, row);
            for (size_t c = 0; c < d; c++)
                row[c] -= mu[c];
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)nr, 1.0, blk, (int)d,
                    1.0, cov, (int)d);
    }
    double inv = 1.0 / (double)(rows - 1);
    for (size_t i = 0; i < d * d; i++)
        cov[i] *= inv;
    lapack_int found = 0;
    lapack_int info = LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'I', 'U', (lapack_int)d, cov,
                                     (lapack_int)d, 0.0, 0.0, (lapack_int)(d - k + 1),
                                     (lapack_int)d, 0.0, &found, w, z, (lapack_int)k, isuppz);
    if (info != 0 || (size_t)found != k) {
        rc = hers_error(HERS_ERR_NUMERIC, "PCA: LAPACKE_dsyevr failed (info %d, %d of %zu found)",
                        (int)info, (int)found, k);
        goto done;
    }
    /* dsyevr returns ascending eigenvalues; component j = column k-1-j of z. */
    for (size_t j = 0; j < k; j++) {
        size_t col = k - 1 - j;
        double big = 0;
        for (size_t c = 0; c < d; c++)
            if (fabs(z[c * k + col]) > fabs(big))
                big = z[c * k + col];
        double sgn = big < 0 ? -1.0 : 1.0;
        for (size_t c = 0; c < d; c++)
            comp[j * d + c] = (float)(sgn * z[c * k + col]);
        eig[j] = (float)(w[col] > 0 ? w[col] : 0);
    }
    for (size_t c = 0; c < d; c++)
        mean[c] = (float)mu[c];
done:
    hers_free(mu);
    hers_free(cov);
    hers_free(blk);
    hers_free(w);
    hers_free(z);
    hers_free(isuppz);
    return rc;
}

hers_status hers_pca_fit(const hers_matrix *x, size_t dim, int whiten, hers_reduce_model **out)
{
    if (!x || !x->data || !out)
        return hers_error(HERS_ERR_ARG, "PCA fit: NULL argument");
    *out = NULL;
    if (x->cols == 0 || x->cols > HERS_REDUCE_MAX_DIM)
        return hers_error(HERS_ERR_ARG, "PCA fit: input dimension %zu out of [1, %u]", x->cols,
                          HERS_REDUCE_MAX_DIM);
    if (dim == 0 || dim > x->cols)
        return hers_error(HERS_ERR_ARG, "PCA fit: --dim %zu must be in [1, %zu]", dim, x->cols);
    if (x->rows < 2)
        return hers_error(HERS_ERR_ARG, "PCA fit: need at least 2 rows, got %zu", x->rows);
    hers_reduce_model *m = reduce_model_new();
    if (!m)
        return hers_error(HERS_ERR_NOMEM, "PCA model");
    m->method = HERS_REDUCE_PCA;
    m->in_dim = x->cols;
    m->out_dim = dim;
    m->whiten = whiten ? 1 : 0;
    hers_status rc = reduce_model_alloc_pca(m, dim);
    if (rc == HERS_OK)
        rc = reduce_pca_compute(x->data, x->rows, x->cols, dim, 1, m->pca_mean, m->pca_comp,
                                m->pca_eig);
    if (rc != HERS_OK) {
        hers_reduce_model_free(m);
        return rc;
    }
    for (size_t j = 0; j < dim; j++)
        m->pca_scale[j] = whiten ? (float)(1.0 / sqrt((double)m->pca_eig[j] + 1e-12)) : 1.0f;
    *out = m;
    return HERS_OK;
}
