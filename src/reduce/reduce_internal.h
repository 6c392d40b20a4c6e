/* reduce_internal.h - helpers shared by the src/reduce files (not public). */
#ifndef HERS_REDUCE_INTERNAL_H
#define HERS_REDUCE_INTERNAL_H

#include <stddef.h>

#include "hers/hers_reduce.h"

/* Allocates an empty model (all arrays NULL). */
hers_reduce_model *reduce_model_new(void);
/* Allocates the PCA arrays of m (pca_dim x in_dim). */
hers_status reduce_model_alloc_pca(hers_reduce_model *m, size_t pca_dim);
/* Allocates n stage structs (zeroed) and the weights of each from
 * outs[i] and the chain input dimension `in`. */
hers_status reduce_model_alloc_stages(hers_reduce_model *m, size_t in, const size_t *outs,
                                      size_t n);

/* Y (rows x l->out) = X (rows x l->in) W^T + b, with cblas_sgemm. */
void reduce_layer_forward(const hers_reduce_layer *l, const float *x, size_t rows, float *y);
/* Scales each row of a (rows x cols) to unit norm; writes the norms (before
 * scaling, 0 rows left as is) into norms if not NULL. */
void reduce_normalize_rows(float *a, size_t rows, size_t cols, float *norms);
/* PCA front end on rows x in_dim unit rows -> rows x pca_dim unit rows. */
void reduce_pca_forward(const hers_reduce_model *m, const float *x, size_t rows, float *y);
/* One stage in inference mode: x (rows x in) -> y (rows x out, unit rows).
 * tmp needs rows * (2 * in + out) floats. */
void reduce_stage_forward(const hers_reduce_stage *s, const float *x, size_t rows, float *y,
                          float *tmp);

/* PCA of rows x d row-major data x (each row unit-normalised first when
 * normalize != 0): mean (d), top-k components (k x d, orthonormal rows,
 * decreasing eigenvalue, sign-fixed) and eigenvalues (k). */
hers_status reduce_pca_compute(const float *x, size_t rows, size_t d, size_t k, int normalize,
                               float *mean, float *comp, float *eig);

#endif
