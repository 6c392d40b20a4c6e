/*
 * hers_idim.h - intrinsic-dimensionality (ID) estimation of a set of
 * representations (stage (i) of HERS: how far can vectors be compressed).
 *
 * Three estimators, all on L2-normalised rows (the HERS similarity is the
 * cosine, so the data live on the unit sphere):
 *
 *  - HERS_IDIM_GEODESIC (default; Gong et al. 2019 after Granata & Carnevale
 *    2016): k-nearest-neighbour graph (k = 4, edge weight = cosine distance
 *    1 - cos), all-pairs shortest paths (Dijkstra) = geodesic distances r_ij,
 *    100-bin histogram p(r), Gaussian peak refinement, then the hypersphere
 *    model log(p(r)/p(r_max)) = (D - 1) log sin(pi r / (2 r_max)) fitted on
 *    the left flank of the peak. The ID is the integer D in [1, d] with the
 *    smallest RMSE; the free least-squares D is reported too. The window
 *    starts at the longest kNN edge: on clustered data with outliers (e.g.
 *    Fashion-MNIST pixels) it may hold only a few bins, making the estimate
 *    unstable or failing (HERS_ERR_NUMERIC); see edge_quantile and
 *    docs/design.md "Intrinsic dimensionality".
 *  - HERS_IDIM_TWONN (Facco et al. 2017): ratio mu = r2 / r1 of the two nearest
 *    neighbour distances, -log(1 - F(mu)) = D log(mu) fitted through the
 *    origin after discarding the largest 10% of mu.
 *  - HERS_IDIM_MLE (Levina & Bickel 2004 with the MacKay-Ghahramani
 *    correction): per point inverse estimates averaged over points, then the
 *    estimates averaged over k = k1..k2 (default 10..20).
 *
 * TwoNN and MLE use the Euclidean (chord) distance |x - y| = sqrt(2 (1 - cos))
 * between unit vectors: both rely on distance *ratios* scaling like the local
 * metric, which the cosine distance (~ angle^2 / 2) does not.
 *
 * Cost (n = sample size, d = input dimension, S = Dijkstra sources):
 * exact kNN O(n^2 d) by blocked cblas_sgemm plus a double-precision re-rank
 * of `candidates` neighbours per point; geodesic distances
 * O(S (n + E) log n) with E <= 2 k n edges; memory 4 bytes per stored pair,
 * S (n - 1) - S (S - 1) / 2 pairs (50 MB for n = S = 5000).
 *
 * Results are deterministic for a given seed, whatever the thread count.
 * Thread-safety: hers_idim_estimate is reentrant (it starts its own worker
 * threads and shares nothing between calls).
 */
#ifndef HERS_IDIM_H
#define HERS_IDIM_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_matrix.h"
#include "hers/hers_random.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_IDIM_BINS 100             /* histogram bins of r_ij (spec) */
#define HERS_IDIM_MIN_POINTS 10        /* fewer points are rejected (HERS_ERR_ARG) */
#define HERS_IDIM_DEFAULT_SAMPLE 5000
#define HERS_IDIM_DEFAULT_K 4
#define HERS_IDIM_DEFAULT_CANDIDATES 128
/* With all points as sources a sample of n stores n (n - 1) / 2 distances;
 * above this many stored pairs the number of sources is reduced. */
#define HERS_IDIM_MAX_PAIRS ((size_t)1 << 26)   /* 64 Mi pairs = 256 MB */

typedef enum hers_idim_method {
    HERS_IDIM_GEODESIC = 0,
    HERS_IDIM_TWONN = 1,
    HERS_IDIM_MLE = 2
} hers_idim_method;

/* Edge weight of the geodesic kNN graph. */
typedef enum hers_idim_edge {
    HERS_IDIM_EDGE_COSINE = 0,   /* 1 - cos(x, y), as specified (default) */
    HERS_IDIM_EDGE_CHORD = 1     /* |x - y| (~ the angle for near points); extension */
} hers_idim_edge;

typedef struct hers_idim_params {
    hers_idim_method method;
    size_t k;             /* geodesic graph degree, 1 <= k < n (default 4) */
    size_t sample;        /* rows drawn without replacement; 0 = all rows (default 5000) */
    size_t sources;       /* Dijkstra sources (a random subset of the sample);
                             0 = all, reduced so that at most HERS_IDIM_MAX_PAIRS
                             distances are stored */
    size_t candidates;    /* neighbours kept per point by the float sgemm pass and
                             re-ranked in double (default 128, the authors' value) */
    size_t mle_k1;        /* MLE neighbourhood sizes k1..k2, 2 <= k1 <= k2 < n */
    size_t mle_k2;        /* (default 10..20) */
    double twonn_discard; /* fraction of the largest mu dropped by TwoNN, [0, 0.9] (0.1) */
    hers_idim_edge edge;    /* geodesic edge weight (default cosine) */
    double edge_quantile; /* the fit window starts at or above this quantile, in
                             [0, 1], of the per-point longest kNN edge; 1 (default,
                             as specified) = the longest kNN edge. Lower values
                             (e.g. 0.99) keep one outlier from shrinking the window
                             (extension) */
    unsigned threads;     /* worker threads; 0 = online CPUs */
    uint8_t seed[HERS_SEED_BYTES]; /* sampling seed (default all zero) */
} hers_idim_params;

typedef struct hers_idim_result {
    hers_idim_method method;
    size_t n;             /* points used (the sample, zero rows excluded) */
    size_t dim;           /* input dimension d */
    size_t zero_rows;     /* zero rows met while sampling (skipped: no direction) */
    unsigned id;          /* integer estimate in [1, d] */
    double id_fit;        /* geodesic: free least-squares D; TwoNN / MLE: raw estimate */
    double rmse;          /* geodesic: RMSE of the model at D = id (log units);
                             TwoNN: RMSE of the line fit; MLE: spread (max - min) of
                             the per-k estimates */
    /* geodesic diagnostics (zero for the other methods) */
    size_t k;             /* graph degree used */
    size_t sources;       /* Dijkstra sources used */
    uint64_t pairs;       /* finite r_ij histogrammed (unordered pairs) */
    double reach;         /* fraction of (source, other point) pairs connected */
    double max_edge;      /* longest kNN edge (distance units), or its
                             edge_quantile-quantile over points */
    double r_max;         /* refined peak of p(r) */
    double sigma;         /* refined width of the peak */
    int refit_used;       /* 1 if the second quadratic fit was kept */
    double fit_lo, fit_hi;/* fit window [r_min, r_M] */
    size_t fit_bins;      /* non-empty bins in the window */
    double hist_dx;       /* bin width; bin b covers [b dx, (b + 1) dx) */
    uint64_t hist[HERS_IDIM_BINS]; /* counts of r_ij per bin */
} hers_idim_result;

/* Fills the defaults listed above. */
HERS_API void hers_idim_params_default(hers_idim_params *p);

/* Estimates the intrinsic dimensionality of the rows of x (rows x cols,
 * any scale: rows are L2-normalised internally; zero rows are skipped).
 * Errors: HERS_ERR_ARG (NULL, non-finite values, fewer than
 * HERS_IDIM_MIN_POINTS usable points, k or mle_k2 >= n, bad parameters),
 * HERS_ERR_NOMEM, HERS_ERR_NUMERIC (badly disconnected kNN graph: fewer
 * than half of the sources reach at least half of the other points; or
 * a degenerate histogram / fit). *out is fully written on success. */
HERS_API hers_status hers_idim_estimate(const hers_matrix *x, const hers_idim_params *p,
                                      hers_idim_result *out);

/* "geodesic", "twonn", "mle"; never NULL. */
HERS_API const char *hers_idim_method_name(hers_idim_method m);
/* Parses a method name; HERS_ERR_ARG if unknown. */
HERS_API hers_status hers_idim_method_parse(const char *s, hers_idim_method *out);

#ifdef __cplusplus
}
#endif
#endif /* HERS_IDIM_H */
