/* idim_sample.c - the random sample of the ID estimators, L2-normalised.
 * A lazily built Fisher-Yates permutation of the row indices (hers_prg,
 * stream "ID sample") is walked until `sample` non-zero rows are taken, so
 * the sample is uniform without replacement and its order is random too
 * (the first S points then form a random set of Dijkstra sources). */
#include <math.h>

#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "reduce/idim_internal.h"

#define ID_SAMPLE_STREAM 0x49445341u   /* "IDSA" */

hers_status hers_idim_sample(const hers_matrix *x, size_t sample,
                           const uint8_t seed[HERS_SEED_BYTES], hers_matrix *out,
                           size_t *zero_rows)
{
    if (!x || !out || !seed || !zero_rows || (!x->data && x->rows && x->cols))
        return hers_error(HERS_ERR_ARG, "id: NULL argument");
    out->rows = out->cols = 0;
    out->data = NULL;
    *zero_rows = 0;
    if (x->rows == 0 || x->cols == 0)
        return hers_error(HERS_ERR_ARG, "id: empty input (%zu x %zu)", x->rows, x->cols);
    if (x->rows > UINT32_MAX)
        return hers_error(HERS_ERR_ARG, "id: too many rows (%zu)", x->rows);
    size_t want = sample == 0 || sample > x->rows ? x->rows : sample;
    size_t d = x->cols;

    uint32_t *perm = hers_alloc_array(x->rows, sizeof *perm);
    if (!perm)
        return hers_error(HERS_ERR_NOMEM, "id: cannot allocate %zu indices", x->rows);
    for (size_t i = 0; i < x->rows; i++)
        perm[i] = (uint32_t)i;
    hers_status st = hers_matrix_alloc(out, want, d);
    if (st != HERS_OK) {
        hers_free(perm);
        return st;
    }
    hers_prg g;
    hers_prg_init(&g, seed, ID_SAMPLE_STREAM);
    size_t taken = 0;
    for (size_t t = 0; t < x->rows && taken < want; t++) {
        size_t j = t + (size_t)hers_prg_uniform(&g, x->rows - t);
        uint32_t r = perm[j];
        perm[j] = perm[t];
        perm[t] = r;
        const float *src = x->data + (size_t)r * d;
        double s = 0;
        for (size_t c = 0; c < d; c++) {
            if (!isfinite(src[c])) {
                hers_prg_wipe(&g);
                hers_free(perm);
                hers_matrix_free(out);
                return hers_error(HERS_ERR_ARG, "id: row %u column %zu is not finite", r, c);
            }
            s += (double)src[c] * src[c];
        }
        if (s == 0) {
            (*zero_rows)++;
            continue;
        }
        double inv = 1.0 / sqrt(s);
        float *dst = out->data + taken * d;
        for (size_t c = 0; c < d; c++)
            dst[c] = (float)(src[c] * inv);
        taken++;
    }
    hers_prg_wipe(&g);
    hers_free(perm);
    out->rows = taken;
    return HERS_OK;
}
