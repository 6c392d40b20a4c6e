/*
 * hers_reduce.h - dimensionality reduction of representations (HERS stage i):
 * PCA (the baseline) and DeepMDS++ (a learned, stage-wise residual projection),
 * and the versioned, checksummed model file both produce.
 *
 * Pipeline of a model (hers_reduce_apply), per input row x of in_dim floats:
 *   1. x <- x / |x|                        (cosine geometry; zero rows stay 0)
 *   2. optional PCA front end:             y = scale .* (C (x - mean)),
 *      y <- y / |y|                        C: pca_dim x in_dim, scale = 1 or
 *                                          1/sqrt(eigenvalue) (whitening)
 *   3. DeepMDS++ stages, each in -> out:   skip = Ws x + bs;
 *        h = x; r = x; for k = 0..2:
 *          a = ReLU(Wsq_k h + bsq_k) + r;  (square cur x cur layer)
 *          h = Wdn_k a + bdn_k; r = h;      (cur -> next; widths in,
 *                                           in-chunk, in-2chunk, out with
 *                                           chunk = (in-out)/3)
 *        x <- (h + skip) / |h + skip|
 *   Output rows have out_dim floats and unit L2 norm.
 * A PCA model has the front end and no stage; a DeepMDS++ model has stages
 * (and, optionally, a PCA front end: hers_deepmds_options.pca_dim).
 *
 * Ownership: every hers_reduce_model is owned by the caller and released with
 * hers_reduce_model_free. Models are immutable after fitting/loading and may
 * be applied from several threads at once. Fitting is single-call; the
 * progress callback runs on the calling thread. The library never prints:
 * the caller prints progress from the callback.
 *
 * Linear algebra uses OpenBLAS (cblas_sgemm, dsyrk) and LAPACKE (dsyevr).
 * Determinism: for a given seed, input and OpenBLAS thread count, fitting is
 * bit-for-bit reproducible (OpenBLAS partitions GEMM by output blocks, not
 * by the reduction dimension, so a fixed thread count gives fixed results;
 * every other reduction in hers runs in a fixed order on one thread).
 */
#ifndef HERS_REDUCE_H
#define HERS_REDUCE_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_matrix.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hers_reduce_method {
    HERS_REDUCE_PCA = 1,
    HERS_REDUCE_DEEPMDS = 2
} hers_reduce_method;

/* Limits enforced by fitting and by the model reader. */
#define HERS_REDUCE_MAX_DIM 65536u    /* in_dim, out_dim, widths */
#define HERS_REDUCE_MAX_STAGES 16u

/* One linear layer y = W x + b; W is out x in, row-major. */
typedef struct hers_reduce_layer {
    size_t in, out;
    float *w; /* out * in */
    float *b; /* out */
} hers_reduce_layer;

/* One DeepMDS++ stage in -> out: widths[0..3] = in, in-c, in-2c, out.
 * layer[2k] is the square widths[k] x widths[k] layer (followed by ReLU and
 * the residual), layer[2k+1] maps widths[k] -> widths[k+1]. */
typedef struct hers_reduce_stage {
    size_t in, out;
    size_t widths[4];
    hers_reduce_layer skip;     /* in -> out */
    hers_reduce_layer layer[6];
} hers_reduce_stage;

typedef struct hers_reduce_model {
    hers_reduce_method method;
    size_t in_dim;     /* input dimension, >= 1 */
    size_t out_dim;    /* output dimension, 1 <= out_dim <= in_dim */
    int whiten;        /* PCA front end divides by sqrt(eigenvalue) */
    size_t pca_dim;    /* 0: no PCA front end */
    float *pca_mean;   /* in_dim (mean of the unit-normalised training rows) */
    float *pca_comp;   /* pca_dim x in_dim, orthonormal rows, decreasing variance */
    float *pca_scale;  /* pca_dim multipliers (1, or 1/sqrt(eigenvalue)) */
    float *pca_eig;    /* pca_dim eigenvalues of the covariance (informational) */
    size_t n_stages;   /* 0 .. HERS_REDUCE_MAX_STAGES */
    hers_reduce_stage *stages;
} hers_reduce_model;

/* Widths of a stage in -> out (chunk = (in - out) / 3, remainder taken off
 * the last layer). Requires 1 <= out <= in. */
HERS_API void hers_reduce_stage_widths(size_t in, size_t out, size_t widths[4]);

/* The DeepMDS++ chain from in_dim to dim: halve until the target, starting at
 * the largest dim * 2^k <= in_dim / 2 (784 -> 64 gives 256, 128, 64; 512 ->
 * 16 gives 256, 128, 64, 32, 16); a single stage when dim > in_dim / 2.
 * Writes up to max_stages outputs into outs and their count into *n.
 * HERS_ERR_ARG if dim is 0 or > in_dim, or the chain is too long. */
HERS_API hers_status hers_reduce_chain(size_t in_dim, size_t dim, size_t *outs, size_t max_stages,
                                       size_t *n);

HERS_API void hers_reduce_model_free(hers_reduce_model *m);

/* Number of float parameters in the model (PCA arrays and stages). */
HERS_API size_t hers_reduce_model_params(const hers_reduce_model *m);

/* Applies the model to every row of x (rows x in_dim) and writes out, which
 * this call allocates (rows x out_dim, unit rows). Processes 1024 rows at a
 * time. On error *out is left empty. Thread-safe for a shared model. */
HERS_API hers_status hers_reduce_apply(const hers_reduce_model *m, const hers_matrix *x,
                                       hers_matrix *out);

/* ---------------- PCA ---------------- */

/* Fits PCA on the unit-normalised rows of x (rows >= 2, 1 <= dim <= cols):
 * mean, top-`dim` eigenvectors of the covariance (LAPACKE_dsyevr on a
 * double-precision covariance accumulated with cblas_dsyrk), sign fixed so
 * that the largest-magnitude entry of each component is positive.
 * whiten != 0 scales component i by 1/sqrt(eigenvalue_i + 1e-12).
 * Returns a model with method HERS_REDUCE_PCA (caller frees). */
HERS_API hers_status hers_pca_fit(const hers_matrix *x, size_t dim, int whiten, hers_reduce_model **out);

/* ---------------- DeepMDS++ ---------------- */

/* Progress of a training run, passed to the callback. */
typedef struct hers_deepmds_progress {
    size_t stage;        /* 1-based index of the stage being added */
    size_t n_stages;
    uint64_t step;       /* steps done in this stage (1..stage_steps) */
    uint64_t stage_steps;
    uint64_t total_done; /* steps done over all stages */
    uint64_t total_steps;
    double lr;
    double loss;         /* total loss of the last step (incl. weight decay) */
    double loss_sim;     /* similarity preservation, averaged over recent steps */
    double loss_cov;     /* decorrelation (already multiplied by its weight) */
    double loss_ratio;   /* supervised ratio term (0 when off) */
    double val_tar;      /* TAR at FAR = 1e-2 on the validation subset, or -1 */
    double val_tar_input;/* the same metric on the uncompressed inputs */
} hers_deepmds_progress;

/* Return non-zero to stop training (hers_deepmds_fit then fails with
 * HERS_ERR_STATE "interrupted"). */
typedef int (*hers_deepmds_progress_fn)(void *user, const hers_deepmds_progress *p);

typedef struct hers_deepmds_options {
    size_t dim;              /* target dimension (required) */
    size_t n_stages;         /* 0: hers_reduce_chain; else that many outputs in stage_out */
    size_t stage_out[HERS_REDUCE_MAX_STAGES];
    size_t pca_dim;          /* PCA front end before the stages (0 = none; default 4 * dim) */
    uint64_t steps;          /* training steps per stage (0 = default from the data) */
    uint64_t seed;           /* PRG seed: same seed + data + threads => same model */
    int threads;             /* OpenBLAS threads (0 = leave as is) */
    size_t pairs;            /* genuine pairs per batch = impostor pairs (250) */
    size_t candidates;       /* candidate pairs of each kind for mining (1000) */
    size_t hard_start;       /* hardest pairs kept per kind early on (50) */
    size_t hard_end;         /* ... rising linearly to this at the end (250) */
    double lr;               /* Adam lr (default 1e-3; authors 3e-4), scaled step decay */
    double weight_decay;     /* L2 weight decay lambda (4e-5): lambda/2 |W|^2 */
    double w_genuine;        /* weight of the genuine similarity term (1.0) */
    double w_impostor;       /* weight of the impostor similarity term (1.0) */
    double w_cov;            /* decorrelation weight (10.0) */
    double w_ratio;          /* supervised ratio term weight (0 = off) */
    int pca_init;            /* initialise each stage's skip from PCA (1) */
    size_t val_size;         /* validation subset size (1000; 0 = none) */
    uint64_t report_every;   /* callback period in steps (0 = steps/50) */
} hers_deepmds_options;

/* Fills the defaults for a data set of n rows of in_dim floats and target
 * dimension dim: the constants above, except lr = 1e-3 (short runs), a PCA
 * front end pca_dim = 4 * dim when that is < in_dim (set 0 for the full
 * learned chain from in_dim), and steps per stage scaled with the data
 * (n / 50 in [300, 600]) so a 60,000 x 784 fit takes minutes on 2 cores. */
HERS_API void hers_deepmds_options_default(hers_deepmds_options *o, size_t n, size_t in_dim, size_t dim);

/* Trains DeepMDS++ on x (rows unit-normalised internally) with identity
 * labels (one per row; at least two identities, and at least one identity
 * with two rows). Stage s is added after stages 1..s-1 were trained, and
 * all stages keep training. progress may be NULL. */
HERS_API hers_status hers_deepmds_fit(const hers_matrix *x, const hers_labels *labels,
                                      const hers_deepmds_options *opt, hers_deepmds_progress_fn progress,
                                      void *user, hers_reduce_model **out);

/* ---------------- model file ---------------- */

#define HERS_MODEL_VERSION 1u
#define HERS_MODEL_ID_BYTES 16

/* Serialises the model (format in docs/formats.md): header, stage table,
 * float32 little-endian weights, BLAKE2b-256 checksum. *buf is allocated
 * with hers_alloc (free with hers_free). */
HERS_API hers_status hers_reduce_model_write_mem(const hers_reduce_model *m, uint8_t **buf, size_t *len);
/* Parses and validates a serialised model (magic, version, method, dims,
 * stage shapes, sizes against len, checksum, finite weights). Never reads
 * outside buf[0..len). */
HERS_API hers_status hers_reduce_model_read_mem(const uint8_t *buf, size_t len, hers_reduce_model **out);
HERS_API hers_status hers_reduce_model_save(const hers_reduce_model *m, const char *path);
HERS_API hers_status hers_reduce_model_load(const char *path, hers_reduce_model **out);

/* Model id: BLAKE2b-128 of the serialised contents (everything but the
 * checksum), so a database can record which model compressed its gallery.
 * Equal ids <=> identical models. */
HERS_API hers_status hers_reduce_model_id(const hers_reduce_model *m, uint8_t id[HERS_MODEL_ID_BYTES]);
/* Same as lowercase hex (2 * HERS_MODEL_ID_BYTES + 1 bytes with the NUL). */
HERS_API hers_status hers_reduce_model_id_hex(const hers_reduce_model *m,
                                              char hex[2 * HERS_MODEL_ID_BYTES + 1]);

HERS_API const char *hers_reduce_method_name(hers_reduce_method method);

#ifdef __cplusplus
}
#endif
#endif /* HERS_REDUCE_H */
