/*
 * hers_matrix.h - the dense float32 matrix every stage-(i) module exchanges.
 *
 * Row-major: element (r, c) at data[r * cols + c]. One row = one
 * representation (template). Owned by the struct: free with
 * hers_matrix_free. Also an int32 label vector type.
 */
#ifndef HERS_MATRIX_H
#define HERS_MATRIX_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hers_matrix {
    size_t rows;
    size_t cols;
    float *data;
} hers_matrix;

typedef struct hers_labels {
    size_t count;
    int32_t *data;
} hers_labels;

/* Allocates rows x cols zeros (64-byte aligned). HERS_ERR_NOMEM/ARG. */
HERS_API hers_status hers_matrix_alloc(hers_matrix *m, size_t rows, size_t cols);
HERS_API void hers_matrix_free(hers_matrix *m);
HERS_API hers_status hers_labels_alloc(hers_labels *l, size_t count);
HERS_API void hers_labels_free(hers_labels *l);

/* Scales every non-zero row to unit L2 norm (zero rows stay zero). */
HERS_API void hers_matrix_normalize_rows(hers_matrix *m);

#ifdef __cplusplus
}
#endif
#endif
