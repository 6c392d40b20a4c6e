/* demo.h - internals of `hers demo` (src/cli/cmd_demo.c and demo_*.c):
 * the end-to-end HERS run on Fashion-MNIST (or synthetic data), in memory.
 *
 * Flow: load and L2-normalise -> intrinsic dimension (geodesic) -> DeepMDS++
 * and PCA at dimension D -> quantise (scale 125) -> keys -> enrol the
 * gallery encrypted (secret-key, seed-compressed) -> encrypted search of the
 * probes in batches -> decrypt, rank, and check every decrypted score
 * against the plaintext integer inner product -> table, JSON, HTML report.
 *
 * Accuracy: rank-1 and mAP@100 (hers_metrics.h) with the test images as
 * probes and the training images as gallery (class labels = identities).
 * Every row is measured on the searched probes (the first `probes` test
 * images); plaintext rows also on every test image ("all"). */
#ifndef HERS_CLI_DEMO_H
#define HERS_CLI_DEMO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hers/hers_matrix.h"
#include "hers/hers_metrics.h"
#include "hers/hers_quant.h"
#include "hers/hers_status.h"

#define DEMO_K 100          /* mAP@100 */
#define DEMO_MAX_ROWS 8
#define DEMO_MAX_SWEEP 12

typedef struct demo_cfg {
    const char *out_dir;    /* report directory (default demo-out) */
    const char *data_dir;   /* Fashion-MNIST directory (NULL: Debian's) */
    const char *params;     /* BFV parameter set name (n4096) */
    size_t probes;          /* probes searched encrypted */
    size_t gallery_limit;   /* 0 = every training image */
    size_t eval_limit;      /* plaintext probes, 0 = every test image */
    size_t dim;             /* 0 = from the intrinsic dimension */
    size_t batch;           /* probes per pass over the encrypted gallery */
    size_t id_sample;       /* rows used by the ID estimator */
    uint64_t steps;         /* DeepMDS++ steps per stage, 0 = library default */
    unsigned threads;       /* 0 = online CPUs */
    int quick, json, synthetic, sweep;
} demo_cfg;

/* rank-1 and mAP@100 in [0, 1]; NaN when not measured. */
typedef struct demo_acc {
    double rank1, map;
} demo_acc;

typedef struct demo_row {
    char name[48];
    size_t dim;
    demo_acc sub;   /* on the searched probes */
    demo_acc all;   /* on every plaintext probe (NaN for the encrypted row) */
} demo_row;

typedef struct demo_sweep {
    size_t n;
    size_t dim[DEMO_MAX_SWEEP];
    demo_acc acc[DEMO_MAX_SWEEP];   /* on every plaintext probe */
} demo_sweep;

typedef struct demo_results {
    const char *source;             /* "Fashion-MNIST" or "synthetic" */
    size_t n_gallery, n_probes_all, n_probes, in_dim, dim;
    /* intrinsic dimension */
    const char *id_method;
    unsigned id;
    double id_fit;
    size_t id_sample;
    int id_ok;
    /* times, seconds (wall clock) */
    double load_s, id_s, fit_dmds_s, fit_pca_s, compress_s, eval_s;
    double keygen_s, enroll_s, index_s, encrypt_s, search_s, decrypt_s, total_s;
    uint64_t dmds_steps;
    /* accuracy */
    demo_row rows[DEMO_MAX_ROWS];
    size_t n_rows;
    demo_sweep sweep_pca, sweep_dmds;
    double float_all_r1, float_all_map;   /* 784-d reference for the charts */
    /* encryption */
    const char *params_name;
    size_t ring_n;
    uint64_t plain_t;
    uint32_t scale;
    size_t batch;
    unsigned threads;
    double bytes_rest, bytes_kernel;      /* per template */
    double query_bytes, result_bytes;     /* per probe */
    double noise_bits;                    /* remaining budget of probe 0 (key holder) */
    uint64_t scores_checked, scores_wrong;
    uint64_t topk_wrong;                  /* probes whose top-100 differ */
} demo_results;

/* Evaluates exact top-100 of `probes` against `gallery` (float scores) and
 * fills `all` (every probe) and `sub` (the first n_sub probes). */
hers_status demo_eval_float(const hers_matrix *gallery, const hers_labels *gl,
                            const hers_matrix *probes, const hers_labels *pl, size_t n_sub,
                            unsigned threads, demo_acc *all, demo_acc *sub);
/* rank-1 and mAP@100 of a top-k list over its first t->probes probes. */
hers_status demo_eval_topk(const hers_topk *t, const hers_labels *gl, const hers_labels *pl,
                           demo_acc *out);
/* First k columns of `in`, rows re-normalised (PCA at k dims from PCA at
 * more dims: the components are nested). */
hers_status demo_truncate(const hers_matrix *in, size_t k, hers_matrix *out);

/* Busy indicator on a TTY for a blocking call: "label  [12.3 s]". */
void demo_busy_begin(const char *label);
void demo_busy_end(void);

/* The encrypted part (keys, enrol, search, decrypt, check): fills the
 * encryption fields of r and the encrypted row's accuracy into *enc. gq / pq
 * are the quantised gallery and probes (scale s); quant_topk is the
 * plaintext quantised top-k of the probes (checked against the decrypted
 * ranking). Returns 0, or 1 after printing one error line. */
int demo_encrypted(const demo_cfg *cfg, const hers_qmatrix *gq, const hers_qmatrix *pq, const hers_labels *gl,
                   const hers_labels *pl, const hers_topk *quant_topk, demo_results *r,
                   demo_acc *enc);

/* Writes DIR/report.html, DIR/report.json and the SVG charts. Returns 0 or
 * 1 after printing one error line. */
int demo_write_report(const demo_cfg *cfg, const demo_results *r);
/* One JSON object with every number (no trailing newline). */
void demo_print_json(FILE *f, const demo_cfg *cfg, const demo_results *r);

#endif
