/*
 * hers_metrics.h - accuracy metrics of a representation: brute-force
 * scoring (exact top-k), identification (CMC: rank-1 / rank-k), class-level
 * retrieval (mAP@k, precision@k) and verification (ROC, TAR at FAR).
 *
 * Scores are inner products <probe, gallery row> (cosines for unit rows),
 * computed with cblas_sgemm in tiles of at most probe_block x gallery_block
 * (default 1024 x 8192 floats = 32 MiB), so 10,000 probes x 60,000
 * gallery rows never need the 2.4 GB score matrix at once.
 *
 * Ranking order (everywhere, also for the encrypted search's plaintext
 * reference): higher score first; equal scores by smaller gallery row index
 * ("id"). Integer (quantised) scores: hers_topk_search_quant computes the
 * integer inner products exactly (see there), so ties are real ties and the
 * order is exactly the one the encrypted search's key holder produces.
 *
 * Labels: any int32 values; a probe's "mates" are the gallery rows with the
 * same label. Probes with no mate in the gallery are excluded from CMC and
 * mAP and counted in `no_mate` (closed-set identification).
 *
 * Definitions (docs/accuracy.md, "Metrics"):
 *   rank-r (CMC[r]) = fraction of probes whose top r contain a mate.
 *   P@k             = mean over probes of (#mates in the top k) / k.
 *   AP@k            = (1 / min(k, R)) * sum_{j<=k} P@j * rel_j, R = number of
 *                     mates in the gallery: normalised by the most mates the
 *                     top k could hold, so AP@k = 1 iff the top min(k, R)
 *                     are all mates. mAP@k = mean over probes.
 *   AP@k (hashing)  = the same sum divided by the number of mates actually
 *                     retrieved in the top k (0 if none), the convention of
 *                     the deep-hashing literature; reported as map_retrieved.
 *   Verification: a pair is accepted iff score > threshold. For a target
 *   FAR f with n_imp impostor scores, m = floor(f * n_imp) false accepts
 *   are allowed; the threshold is the (m+1)-th largest impostor score, the
 *   smallest threshold with FAR <= f, so TAR is the largest achievable.
 *   Ties at the threshold are rejected (FAR reported is the achieved one).
 *
 * Threads: hers_topk_search runs the top-k selection on `threads` pthreads
 * (0 = number of online CPUs) after each sgemm tile (which OpenBLAS itself
 * parallelises). Results do not depend on the thread count.
 * Ownership: outputs are allocated by the callee; free with the matching
 * *_free function. Thread-safety: reentrant (no global state), but
 * OpenBLAS's own thread pool is shared by the process.
 */
#ifndef HERS_METRICS_H
#define HERS_METRICS_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_matrix.h"
#include "hers/hers_quant.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- scoring ---------------- */

typedef struct hers_scan_opts {
    unsigned threads;      /* top-k threads; 0 = online CPUs */
    size_t probe_block;    /* 0 = 1024 */
    size_t gallery_block;  /* 0 = 8192 */
} hers_scan_opts;

/* The k best gallery rows of every probe, best first. */
typedef struct hers_topk {
    size_t probes;
    size_t k;          /* min(requested k, gallery rows) */
    uint32_t *ids;     /* probes x k gallery row indices */
    float *scores;     /* probes x k scores (exact integers for _quant) */
} hers_topk;

HERS_API void hers_topk_free(hers_topk *t);

/* Exact top-k by inner product (gallery rows <= 2^32 - 1, k >= 1, same
 * column count, finite values). opts may be NULL (defaults). */
HERS_API hers_status hers_topk_search(const hers_matrix *gallery, const hers_matrix *probes, size_t k,
                                      const hers_scan_opts *opts, hers_topk *out);

/* The same on quantised matrices (same scale), scores = integer inner
 * products <q, p> exactly: the integers are multiplied as floats, and every
 * product and partial sum is an integer of magnitude <= the score bound B
 * (Cauchy-Schwarz on |q|, |p|), so float arithmetic is exact when
 * B <= 2^24 (any scale <= 2047); HERS_ERR_PARAMS otherwise. */
HERS_API hers_status hers_topk_search_quant(const hers_qmatrix *gallery, const hers_qmatrix *probes,
                                           size_t k, const hers_scan_opts *opts, hers_topk *out);

/* Visits every score tile: tile[i * gn + j] = <probe p0 + i, gallery g0 + j>
 * for i < pn, j < gn. Tiles of one probe block arrive in increasing g0. A
 * non-OK return from fn stops the scan and is returned. */
typedef hers_status (*hers_tile_fn)(void *ctx, size_t p0, size_t pn, size_t g0, size_t gn,
                                    const float *tile);
HERS_API hers_status hers_score_scan(const hers_matrix *gallery, const hers_matrix *probes,
                                     const hers_scan_opts *opts, hers_tile_fn fn, void *ctx);

/* ---------------- identification and retrieval ---------------- */

typedef struct hers_ident {
    size_t evaluated;  /* probes with at least one mate */
    size_t no_mate;    /* probes without a mate (excluded) */
    size_t max_rank;   /* = topk k */
    double *cmc;       /* cmc[r - 1] = rank-r accuracy, r = 1..max_rank */
} hers_ident;

HERS_API void hers_ident_free(hers_ident *id);

/* CMC from a top-k list. Label counts must match the matrices' rows. */
HERS_API hers_status hers_ident_eval(const hers_topk *t, const hers_labels *gallery_labels,
                                     const hers_labels *probe_labels, hers_ident *out);

typedef struct hers_retrieval {
    size_t k;               /* cut-off (<= topk k) */
    size_t evaluated;       /* probes with at least one mate */
    size_t no_mate;
    double map;             /* mAP@k, normalised by min(k, R) */
    double map_retrieved;   /* mAP@k, normalised by mates retrieved (hashing) */
    double precision;       /* P@k */
    double recall;          /* mean (#mates in top k) / R */
} hers_retrieval;

/* Class-level retrieval metrics at cut-off k (1 <= k <= t->k). */
HERS_API hers_status hers_retrieval_eval(const hers_topk *t, size_t k, const hers_labels *gallery_labels,
                                         const hers_labels *probe_labels, hers_retrieval *out);

/* Gallery / probe split by identity: for every label, its first
 * `gallery_per_id` rows (in row order) go to the gallery (is_gallery[i] = 1),
 * the rest are probes (0). is_gallery has labels->count entries. */
HERS_API hers_status hers_split_by_identity(const hers_labels *labels, size_t gallery_per_id,
                                            uint8_t *is_gallery);

/* Copies the rows i with mask[i] == want (matrix and labels, either may be
 * NULL) into new objects. */
HERS_API hers_status hers_select_rows(const hers_matrix *m, const hers_labels *l, const uint8_t *mask,
                                      uint8_t want, hers_matrix *m_out, hers_labels *l_out);

/* ---------------- verification ---------------- */

/* Genuine / impostor score sets of every (probe, gallery) pair. */
typedef struct hers_pairs {
    size_t n_gen, n_imp;
    float *gen;
    float *imp;
} hers_pairs;

HERS_API void hers_pairs_free(hers_pairs *p);

/* All pairs of the given matrices (pass a subset of probes for big sets);
 * genuine iff the labels are equal. Memory: 4 bytes per pair. */
HERS_API hers_status hers_pairs_collect(const hers_matrix *gallery, const hers_labels *gallery_labels,
                                        const hers_matrix *probes, const hers_labels *probe_labels,
                                        const hers_scan_opts *opts, hers_pairs *out);

/* Sorted copies of the genuine and impostor scores (descending). */
typedef struct hers_roc {
    size_t n_gen, n_imp;
    float *gen;
    float *imp;
} hers_roc;

typedef struct hers_roc_point {
    double threshold;   /* accept iff score > threshold (-inf: accept all) */
    double far;         /* achieved false accept rate (<= target) */
    double tar;         /* true accept rate */
    size_t false_accepts;
} hers_roc_point;

/* Copies and sorts (n_gen >= 1, n_imp >= 1, finite scores). */
HERS_API hers_status hers_roc_build(const float *gen, size_t n_gen, const float *imp, size_t n_imp,
                                    hers_roc *out);
HERS_API void hers_roc_free(hers_roc *r);

/* TAR at a target FAR in [0, 1] (exact, see the header comment). */
HERS_API hers_status hers_roc_tar_at_far(const hers_roc *r, double far, hers_roc_point *out);

/* Up to max_pts points at log-spaced target FARs from 1 / n_imp to 1
 * (max_pts >= 2); both coordinates non-decreasing. Returns the count. */
HERS_API size_t hers_roc_curve(const hers_roc *r, hers_roc_point *pts, size_t max_pts);

/* Equal error rate, defined exactly as the smallest e such that one
 * threshold has both FAR <= e and FRR = 1 - TAR <= e (min over thresholds
 * of max(FAR, FRR)); NaN on bad input. */
HERS_API double hers_roc_eer(const hers_roc *r);

#ifdef __cplusplus
}
#endif
#endif /* HERS_METRICS_H */
