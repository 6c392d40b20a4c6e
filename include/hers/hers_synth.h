/*
 * hers_synth.h - synthetic identity-clustered unit vectors.
 *
 * Model: every identity has a centre drawn uniformly on a unit sphere; each
 * of its samples is the centre rotated by an angle theta ~ spread *
 * sqrt(chi2_k / k) (so theta concentrates around `spread` radians) towards a
 * uniformly random direction orthogonal to the centre. Consequently the
 * expected cosine between two samples of one identity is about
 * cos(spread)^2, and between identities about 0 +- 1/sqrt(dim).
 *
 * Low intrinsic dimension (latent_dim = m, 1 <= m < dim): centres and
 * samples are drawn on the m-sphere S^m in R^(m+1) and mapped into R^dim by
 * a random orthonormal embedding (linear: the data lie exactly on an
 * m-dimensional great sphere, intrinsic dimension m), or, with
 * `nonlinear`, by x = Q z + warp * R tanh(G z) with random Q (orthonormal
 * columns), G, R, then L2-normalised (a smooth curved m-manifold).
 * latent_dim = 0: centres and samples live in the full R^dim.
 *
 * Every output row has unit L2 norm; labels[i] = identity index in
 * 0..identities-1, rows grouped by identity (identity-major order).
 *
 * Determinism: the output is a pure function of the parameters and seed
 * (independent of SIMD level and of `threads`). Identity i always gets the
 * same centre and samples whatever range is generated, so a large set can
 * be produced in chunks with hers_synth_generate_range.
 * Not for secrets (uses hers_prg seeded from the 64-bit seed).
 * Thread-safety: reentrant.
 */
#ifndef HERS_SYNTH_H
#define HERS_SYNTH_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_matrix.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hers_synth_params {
    size_t identities;    /* >= 1 */
    size_t per_identity;  /* >= 1 samples per identity */
    size_t dim;           /* output dimension, 2..2^20 */
    double spread;        /* within-identity angle in radians, 0..pi/2 (default 0.6) */
    size_t latent_dim;    /* 0 = full; else 1..dim-1 intrinsic dimension */
    int nonlinear;        /* with latent_dim: curved embedding instead of linear */
    double warp;          /* strength of the nonlinear term (default 0.5), 0..10 */
    uint64_t seed;
    unsigned threads;     /* worker threads, 0 = one per online CPU (output identical) */
} hers_synth_params;

/* Fills defaults: spread 0.6, latent_dim 0, nonlinear 0, warp 0.5, seed 1;
 * sizes are left 0 (the caller sets identities, per_identity, dim). */
HERS_API void hers_synth_defaults(hers_synth_params *p);

/* Validates p (HERS_ERR_ARG with the offending field otherwise). */
HERS_API hers_status hers_synth_check(const hers_synth_params *p);

/* Generates all identities * per_identity rows. labels may be NULL. */
HERS_API hers_status hers_synth_generate(const hers_synth_params *p, hers_matrix *x, hers_labels *labels);

/* Generates identities [first, first + count) only: count * per_identity
 * rows, identical to the corresponding rows of hers_synth_generate. */
HERS_API hers_status hers_synth_generate_range(const hers_synth_params *p, size_t first, size_t count,
                                               hers_matrix *x, hers_labels *labels);

#ifdef __cplusplus
}
#endif
#endif /* HERS_SYNTH_H */
