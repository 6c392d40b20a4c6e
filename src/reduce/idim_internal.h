/*
 * idim_internal.h - the stages of the intrinsic-dimensionality estimators
 * (hers_idim.h), exposed to the tests:
 *
 *   idim_sample.c    draw + L2-normalise the sample
 *   idim_knn.c       exact kNN (blocked cblas_sgemm, double re-rank)
 *   idim_graph.c     undirected kNN graph, multithreaded Dijkstra, histogram
 *   idim_fit.c       peak refinement and hypersphere fit of the histogram
 *   idim_twonn.c     TwoNN
 *   idim_mle.c       Levina-Bickel MLE
 *   idim_estimate.c  the public entry point
 */
#ifndef HERS_REDUCE_IDIM_INTERNAL_H
#define HERS_REDUCE_IDIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "hers/hers_idim.h"
#include "hers/hers_matrix.h"

/* The ID estimators run their items on the one worker pool (core/pool.h):
 * hers_parallel_for(threads, items, fn, ctx) runs fn(ctx, item, worker) with
 * worker < hers_threads_resolve(threads). */

/* Draws up to `sample` (0 = all) rows of x without replacement in the order
 * of a seeded random permutation, skipping zero rows, and L2-normalises
 * them into *out (allocated here). Rejects non-finite values. */
hers_status hers_idim_sample(const hers_matrix *x, size_t sample,
                           const uint8_t seed[HERS_SEED_BYTES], hers_matrix *out,
                           size_t *zero_rows);

/* kNN lists: for point i, idx[i*k + j] is its (j+1)-th nearest other point
 * and d2[i*k + j] the squared Euclidean distance |x_i - x_j|^2 in [0, 4]
 * (= 2 (1 - cos) for unit rows), ascending, ties by index. */
typedef struct hers_idim_knn {
    size_t n;
    size_t k;
    uint32_t *idx;
    double *d2;
} hers_idim_knn;

/* Exact kNN of the rows of `unit` (unit vectors, 2 <= n < 2^32, 1 <= k < n).
 * Similarities by blocked cblas_sgemm keep `candidates` (>= k, clipped to
 * n - 1) per point; these are re-ranked by |x_i - x_j|^2 in double. */
hers_status hers_idim_knn_build(const hers_matrix *unit, size_t k, size_t candidates,
                              unsigned threads, hers_idim_knn *out);
void hers_idim_knn_free(hers_idim_knn *knn);

/* Geodesic distances over the undirected graph of the first k neighbours
 * of each point (edge weight by `edge`) from sources 0..sources-1 (0 =
 * all, capped by HERS_IDIM_MAX_PAIRS), histogrammed into res->hist
 * (HERS_IDIM_BINS bins over [0, max r]); also fills k, sources, pairs,
 * reach, hist_dx, *mean / *std of the r_ij, and max_edge = the
 * edge_quantile (in [0, 1]) of the per-point longest kNN edge (1: the
 * longest kNN edge of the graph, as specified).
 * HERS_ERR_NUMERIC if the graph is badly disconnected. */
hers_status hers_idim_geodesic_hist(const hers_idim_knn *knn, size_t k, hers_idim_edge edge,
                                  double edge_quantile, size_t sources, unsigned threads,
                                  hers_idim_result *res, double *mean, double *std);

/* From res->hist, hist_dx, max_edge and the std of the r_ij: peak
 * refinement and the hypersphere fit (spec steps 4-5) for D in [1, dim].
 * Fills id, id_fit, rmse, r_max, sigma, refit_used, fit_lo, fit_hi,
 * fit_bins. HERS_ERR_NUMERIC if the window holds fewer than 2 usable bins. */
hers_status hers_idim_fit_hist(hers_idim_result *res, double std, size_t dim);

/* TwoNN on knn (k >= 2); points whose nearest distance is 0 are skipped. */
hers_status hers_idim_twonn(const hers_idim_knn *knn, double discard, double *estimate,
                          double *rmse);
/* Levina-Bickel MLE with MacKay-Ghahramani averaging, k = k1..k2 (knn->k >= k2). */
hers_status hers_idim_mle(const hers_idim_knn *knn, size_t k1, size_t k2, double *estimate,
                        double *spread);

#endif
