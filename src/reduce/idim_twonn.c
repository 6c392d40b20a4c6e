/* idim_twonn.c - TwoNN (Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 2017).
 * With r1 <= r2 the distances to the two nearest neighbours, mu = r2 / r1
 * follows a Pareto law F(mu) = 1 - mu^-D for a locally uniform density, so
 * -log(1 - F(mu)) = D log(mu). The empirical F of the sorted mu (F_i = i/N,
 * i = 1..N) is fitted through the origin by least squares after discarding
 * the largest `discard` fraction of mu (the tail is noisy and F_N = 1).
 * Distances are chords |x - y|; points with r1 = 0 (duplicates) are
 * skipped because mu is undefined. */
#include <math.h>
#include <stdlib.h>

#include "hers/hers_mem.h"
#include "reduce/idim_internal.h"

static int dbl_cmp(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return p < q ? -1 : p > q;
}

hers_status hers_idim_twonn(const hers_idim_knn *knn, double discard, double *estimate,
                          double *rmse)
{
    if (!knn || !knn->d2 || !estimate || !rmse || knn->k < 2)
        return hers_error(HERS_ERR_ARG, "id twonn: needs 2 neighbours per point");
    if (!(discard >= 0 && discard <= 0.9))
        return hers_error(HERS_ERR_ARG, "id twonn: discard fraction %g outside [0, 0.9]",
                          discard);
    double *mu = hers_alloc_array(knn->n, sizeof *mu);
    if (!mu)
        return hers_error(HERS_ERR_NOMEM, "id twonn: cannot allocate %zu ratios", knn->n);
    size_t N = 0;
    for (size_t i = 0; i < knn->n; i++) {
        double a = knn->d2[i * knn->k], b = knn->d2[i * knn->k + 1];
        if (a > 0)
            mu[N++] = sqrt(b / a);
    }
    qsort(mu, N, sizeof *mu, dbl_cmp);
    size_t keep = (size_t)floor((double)N * (1 - discard));
    if (keep >= N)
        keep = N ? N - 1 : 0;   /* F_N = 1 has no finite -log(1 - F) */
    double sxx = 0, sxy = 0;
    for (size_t i = 0; i < keep; i++) {
        double x = log(mu[i]), y = -log(1 - (double)(i + 1) / (double)N);
        sxx += x * x;
        sxy += x * y;
    }
    if (keep < 2 || !(sxx > 0)) {
        hers_free(mu);
        return hers_error(HERS_ERR_NUMERIC,
                          "id twonn: degenerate neighbour ratios (%zu usable points)", N);
    }
    double D = sxy / sxx, e = 0;
    for (size_t i = 0; i < keep; i++) {
        double x = log(mu[i]), y = -log(1 - (double)(i + 1) / (double)N);
        e += (y - D * x) * (y - D * x);
    }
    hers_free(mu);
    *estimate = D;
    *rmse = sqrt(e / (double)keep);
    return HERS_OK;
}
