/* deepmds_internal.h - DeepMDS++ training internals (network with caches,
 * backward pass, losses), shared by deepmds_*.c and the tests. */
#ifndef HERS_DEEPMDS_INTERNAL_H
#define HERS_DEEPMDS_INTERNAL_H

#include <stddef.h>

#include "hers/hers_reduce.h"

/* A flat view of one parameter array. */
typedef struct dm_param {
    float *p;
    size_t n;
    int is_weight; /* 1 for W (weight decay applies), 0 for biases */
} dm_param;

#define DM_MAX_PARAMS (14 * HERS_REDUCE_MAX_STAGES)

/* Lists the parameters of stages [0, n_active) of m in a fixed order
 * (per stage: skip W, b; layers 0..5 W, b). Returns the count. */
size_t dm_params(const hers_reduce_model *m, size_t n_active, dm_param *out);

/* Activations kept by a training forward pass for the backward pass. */
typedef struct dm_stage_cache {
    const float *x;  /* stage input (rows x in), not owned */
    float *p[3];     /* pre-ReLU outputs of the square layers (rows x w_k) */
    float *a[3];     /* ReLU(p_k) + residual (rows x w_k) */
    float *h[3];     /* outputs of the down layers (rows x w_{k+1}) */
    float *y;        /* unit output (rows x out) */
    float *norm;     /* |h_3 + skip| per row */
} dm_stage_cache;

typedef struct dm_net {
    hers_reduce_model *m; /* not owned; stages[0..n_active) are trained */
    size_t n_active;
    size_t max_rows;
    dm_stage_cache cache[HERS_REDUCE_MAX_STAGES];
    float *work;          /* backward scratch: 5 * max_rows * max width */
    float *arena;
} dm_net;

/* Allocates caches for batches of up to max_rows rows through all stages of m. */
hers_status dm_net_init(dm_net *net, hers_reduce_model *m, size_t max_rows);
void dm_net_free(dm_net *net);

/* Training forward through stages [0, n_active): x is rows x stages[0].in.
 * Returns the unit outputs (rows x out of the last active stage), owned by
 * the net, valid until the next call. */
const float *dm_forward(dm_net *net, const float *x, size_t rows);

/* Backward pass of the last dm_forward: dz = dL/dZ (rows x out). Writes the
 * gradients of every active parameter into grad (same shapes as m,
 * overwritten, not accumulated). */
void dm_backward(dm_net *net, const float *dz, size_t rows, hers_reduce_model *grad);

/* Loss of a batch: rows 2i and 2i+1 of z (dims columns) form pair i; pairs
 * [0, n_gen) are genuine, [n_gen, n_gen + n_imp) impostor; sx[i] is the
 * input cosine of pair i. Fills dz (same shape as z) with dL/dz and the
 * parts; returns the total (without weight decay). scratch needs
 * dims * dims + rows * dims floats. */
typedef struct dm_loss_parts {
    double sim, cov, ratio;
} dm_loss_parts;

double dm_loss(const float *z, size_t dims, const float *sx, size_t n_gen, size_t n_imp,
               double w_gen, double w_imp, double w_cov, double w_ratio, float *dz,
               float *scratch, dm_loss_parts *parts);

/* Initialises stage s of m: Xavier-uniform weights, zero biases, from prg. */
struct hers_prg;
void dm_stage_init_xavier(hers_reduce_stage *st, struct hers_prg *g);

#endif
