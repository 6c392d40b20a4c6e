/* matrix.c - float matrix and label vector allocation, row normalisation. */
#include "hers/hers_matrix.h"

#include <float.h>
#include <math.h>

#include "hers/hers_mem.h"

hers_status hers_matrix_alloc(hers_matrix *m, size_t rows, size_t cols)
{
    if (!m)
        return hers_error(HERS_ERR_ARG, "NULL matrix");
    m->rows = m->cols = 0;
    m->data = hers_alloc_array(rows ? rows : 1, (cols ? cols : 1) * sizeof(float));
    if (!m->data || (cols && rows > SIZE_MAX / cols / sizeof(float)))
        return hers_error(HERS_ERR_NOMEM, "cannot allocate a %zu x %zu matrix", rows, cols);
    m->rows = rows;
    m->cols = cols;
    return HERS_OK;
}

void hers_matrix_free(hers_matrix *m)
{
    if (!m)
        return;
    hers_free(m->data);
    m->data = NULL;
    m->rows = m->cols = 0;
}

hers_status hers_labels_alloc(hers_labels *l, size_t count)
{
    if (!l)
        return hers_error(HERS_ERR_ARG, "NULL labels");
    l->count = 0;
    l->data = hers_alloc_array(count ? count : 1, sizeof(int32_t));
    if (!l->data)
        return hers_error(HERS_ERR_NOMEM, "cannot allocate %zu labels", count);
    l->count = count;
    return HERS_OK;
}

void hers_labels_free(hers_labels *l)
{
    if (!l)
        return;
    hers_free(l->data);
    l->data = NULL;
    l->count = 0;
}

void hers_matrix_normalize_rows(hers_matrix *m)
{
    for (size_t r = 0; r < m->rows; r++) {
        float *row = m->data + r * m->cols;
        double s = 0;
        for (size_t c = 0; c < m->cols; c++)
            s += (double)row[c] * row[c];
        if (s > 0) {
            double n = sqrt(s);
            if (1.0 / n <= FLT_MAX) {
                float inv = (float)(1.0 / n);
                for (size_t c = 0; c < m->cols; c++)
                    row[c] *= inv;
            } else {
                /* tiny rows (|x| ~ 1e-40, denormal floats): 1/n overflows a
                 * float, so divide in double */
                for (size_t c = 0; c < m->cols; c++)
                    row[c] = (float)((double)row[c] / n);
            }
        }
    }
}
