/* idim_mle.c - Levina & Bickel (NIPS 2004) maximum-likelihood ID with the
 * MacKay & Ghahramani (2005) correction.
 * With T_1 <= ... <= T_k the chord distances to the k nearest neighbours,
 * the per-point inverse estimate is
 *     1 / m_k(x) = (1 / (k - 1)) sum_{j<k} log(T_k / T_j),
 * an unbiased estimate of 1 / D under a locally uniform density (the
 * log-ratios are k - 1 Exp(D) variables). MacKay-Ghahramani average these
 * inverses over the points, m_k = 1 / mean_x(1 / m_k(x)), instead of
 * averaging the biased m_k(x). The result is the mean of m_k over
 * k = k1..k2 (default 10..20, the range of Levina & Bickel's experiments).
 * Points with T_1 = 0 (duplicates) are skipped. */
#include <math.h>

#include "reduce/idim_internal.h"

hers_status hers_idim_mle(const hers_idim_knn *knn, size_t k1, size_t k2, double *estimate,
                        double *spread)
{
    if (!knn || !knn->d2 || !estimate || !spread)
        return hers_error(HERS_ERR_ARG, "id mle: NULL argument");
    if (k1 < 2 || k1 > k2 || k2 > knn->k)
        return hers_error(HERS_ERR_ARG, "id mle: need 2 <= k1 = %zu <= k2 = %zu <= %zu", k1,
                          k2, knn->k);
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t k = k1; k <= k2; k++) {
        double inv = 0;
        size_t used = 0;
        for (size_t i = 0; i < knn->n; i++) {
            const double *t = knn->d2 + i * knn->k;
            if (!(t[0] > 0))
                continue;
            double s = 0;
            for (size_t j = 0; j + 1 < k; j++)
                s += 0.5 * log(t[k - 1] / t[j]);   /* d2 holds squared distances */
            inv += s / (double)(k - 1);
            used++;
        }
        if (used == 0 || !(inv > 0))
            return hers_error(HERS_ERR_NUMERIC,
                              "id mle: degenerate neighbourhoods (k = %zu, %zu usable points)",
                              k, used);
        double m = (double)used / inv;
        sum += m;
        lo = m < lo ? m : lo;
        hi = m > hi ? m : hi;
    }
    *estimate = sum / (double)(k2 - k1 + 1);
    *spread = hi - lo;
    return HERS_OK;
}
