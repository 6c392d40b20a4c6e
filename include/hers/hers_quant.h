/*
 * hers_quant.h - quantisation of unit vectors to integers, and the
 * worst-case score bound that decides the BFV plaintext modulus t.
 *
 * A representation x (||x||_2 <= 1) is mapped to the integer vector
 *     q_i = clamp(round(s * x_i), -s, s)
 * with an integer scale s: by default the largest the no-wrap bound allows
 * for the gallery's d and plaintext modulus t (hers_quant_default_scale:
 * 716 at d = 16, 714 at d = 64 for t = 1032193); the paper's s = 125
 * (HERS_QUANT_PAPER_SCALE) costs up to 4 points of rank-1 (docs/accuracy.md).
 * round() is round-half-away-from-zero, so q(-x) = -q(x)
 * exactly. The encrypted search returns the integer inner products <q, p>;
 * <q, p> / s^2 approximates the cosine <x, y>.
 *
 * Worst-case bound (docs/accuracy.md, "Quantisation"). For ||x||, ||y|| <= 1
 *     |<q(x), q(y)>| <= ||q(x)|| ||q(y)|| <= max_{||z||<=1} ||q(z)||^2 =: B,
 * and the maximum is reached (x = y), so B is also the exact worst case of
 * the score. Three valid upper bounds on ||q||^2, the library uses the
 * smallest:
 *   (a) d * s^2                    since |q_i| <= s;
 *   (b) floor((s + sqrt(d)/2)^2)   triangle inequality, |q_i - s x_i| <= 1/2;
 *   (c) 4 * s^2                    q_i = k != 0 needs |x_i| >= (|k| - 1/2)/s,
 *                                  so sum (2|q_i| - 1)^2 <= 4 s^2, and
 *                                  k^2 <= (2k - 1)^2 for k >= 1.
 * (a) wins only for d = 1, (c) for d >= 4 s^2 (where (b) = (c), and the
 * bound is reached: x_i = +-1/(2s) on 4 s^2 coordinates), otherwise (b).
 * s = 125: d = 32 -> B = 16340, d = 64 -> 16641, d = 128 -> 17071,
 * d = 512 -> 18581, d = 784 -> 19321 (vs d s^2 = 1,000,000 for d = 64).
 *
 * Decryption centres mod t: scores are recovered exactly iff every score
 * lies in the centred range, i.e. iff t > 2 B (odd t: [-(t-1)/2, (t-1)/2];
 * even t: t >= 2B + 2). The smallest safe modulus is therefore 2B + 1 (the
 * BFV layer additionally needs t prime and t = 1 mod 2N; it picks the
 * smallest such prime >= hers_quant_min_modulus).
 *
 * The quantiser enforces the invariant the bound relies on: every output
 * row satisfies ||q||^2 <= B(d, s). Rows with L2 norm in (1, 1 + 1e-3]
 * (float rounding of normalised vectors) are scaled to norm 1 first; rows
 * with larger norm, or with NaN / infinite entries, are rejected
 * (HERS_ERR_ARG): quantise unit (or shorter) vectors only.
 *
 * Ranges: scale s in 1..HERS_QUANT_MAX_SCALE (so |q_i| fits int16 too);
 * d in 1..HERS_QUANT_MAX_DIM. B < 2^32 always.
 * Thread-safety: all functions are reentrant.
 */
#ifndef HERS_QUANT_H
#define HERS_QUANT_H

#include "hers/hers_api.h"

#include <stddef.h>
#include <stdint.h>

#include "hers/hers_matrix.h"
#include "hers/hers_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The HERS paper's scale. The demo and the benchmarks keep it so their
 * figures stay comparable with the paper and across releases; the library's
 * option structs (hers_enroll_opts_default, hers_store_enroll_opts_default)
 * start from it because their values are quantised by the caller, who must
 * set the scale it used. The CLI and the Python package default to
 * hers_quant_default_scale(d, t) instead. */
#define HERS_QUANT_PAPER_SCALE 125u
#define HERS_QUANT_MAX_SCALE 32767u
#define HERS_QUANT_MAX_DIM ((size_t)1 << 20)

/* A quantised matrix: rows x cols int32 values in [-scale, scale],
 * row-major. Owned by the struct; free with hers_qmatrix_free. */
typedef struct hers_qmatrix {
    size_t rows;
    size_t cols;
    uint32_t scale;
    int32_t *data;
} hers_qmatrix;

HERS_API void hers_qmatrix_free(hers_qmatrix *q);

/* One value: clamp(round(s * x), -s, s); NaN maps to 0 (the matrix and
 * vector functions reject NaN before calling this). */
HERS_API int32_t hers_quant_value(double x, uint32_t s);

/* Quantises one vector of dimension d (see the header comment for the norm
 * rules). HERS_ERR_ARG on bad arguments or a row that is not a unit vector. */
HERS_API hers_status hers_quant_vector(const float *x, size_t d, uint32_t s, int32_t *out);

/* Quantises every row of `in` into `out` (allocated; pass an empty struct). */
HERS_API hers_status hers_quant_matrix(const hers_matrix *in, uint32_t s, hers_qmatrix *out);

/* Converts a quantised matrix back to floats: q / s (dequantised vector,
 * norm ~ 1) when `divide` is non-zero, else the integers themselves
 * (exact in float since |q_i| <= 32767). `out` is allocated. */
HERS_API hers_status hers_qmatrix_to_float(const hers_qmatrix *q, int divide, hers_matrix *out);

/* Worst-case |<q(x), q(y)>| over ||x||, ||y|| <= 1 for dimension d and
 * scale s: min(d s^2, floor((s + sqrt(d)/2)^2), 4 s^2), computed exactly in
 * integers. 0 if d or s is out of range. */
HERS_API uint64_t hers_quant_score_bound(size_t d, uint32_t s);

/* Smallest plaintext modulus that cannot wrap: 2 * bound + 1 (0 if d or s
 * is out of range). */
HERS_API uint64_t hers_quant_min_modulus(size_t d, uint32_t s);

/* HERS_OK if plaintext modulus t decrypts every possible score of (d, s)
 * exactly (t > 2 * bound); HERS_ERR_PARAMS with a message naming d, s, t,
 * the bound and the smallest safe t otherwise (also for d or s out of
 * range). The encryption layer calls this before enrolling or searching. */
HERS_API hers_status hers_quant_check(size_t d, uint32_t s, uint64_t t);

/* Largest scale s such that hers_quant_check(d, s, t) passes (0 if none). */
HERS_API uint32_t hers_quant_max_scale(size_t d, uint64_t t);

/* The default scale for a gallery of dimension d under plaintext modulus t:
 * the largest the two correctness conditions allow.
 *   - No wrap mod t: t > 2 B(d, s) (hers_quant_max_scale).
 *   - Noise: the BFV noise analysis (hers_search_noise_bound) bounds the
 *     product of two plaintexts anywhere in [0, t), not just in [-s, s], so
 *     it holds for every s that passes the first condition; it limits d and
 *     the enrolment mode (checked at enrolment), never s.
 * So this equals hers_quant_max_scale(d, t): 716 at d = 16, 714 at d = 64,
 * 359 for d >= 4 * 359^2 with t = 1032193 (the t of every built-in
 * parameter set). Finer steps than ~1/700 cost nothing measurable in speed
 * or size (the ciphertexts are mod q whatever s is) and take the
 * quantisation loss to ~0.1 point of rank-1 (docs/accuracy.md). 0 if no
 * scale is safe (t <= 2) or d is out of range. */
HERS_API uint32_t hers_quant_default_scale(size_t d, uint64_t t);

/* Worst-case |<x, y> - <q(x), q(y)> / s^2| for ||x||, ||y|| <= 1 without
 * renormalisation: with q = s x + e, |e_i| <= 1/2,
 *     <q, p> / s^2 - <x, y> = (<x, f> + <e, y>) / s + <e, f> / s^2,
 * hence <= sqrt(d) / s + d / (4 s^2). A loose analytical ceiling; the
 * errors measured on real data are far smaller (docs/accuracy.md). */
HERS_API double hers_quant_error_bound(size_t d, uint32_t s);

/* Exact integer inner product of two quantised rows (int64 accumulation). */
HERS_API int64_t hers_quant_dot(const int32_t *a, const int32_t *b, size_t d);

/* Score error statistics of quantisation on real data: for every pair
 * (probe row i, gallery row j) with i < probes->rows, j < gallery->rows
 * (the caller passes subsets for big sets), compares the float cosine
 * <x_i, y_j> (double accumulation) with <q(x_i), q(y_j)> / s^2. */
typedef struct hers_quant_error {
    uint64_t pairs;
    double max_abs;        /* max |cos - qscore / s^2| */
    double mean_abs;       /* mean |cos - qscore / s^2| */
    double rms;            /* root mean square of the error */
    int64_t max_score;     /* max |<q, p>| seen (compare with the bound) */
} hers_quant_error;

HERS_API hers_status hers_quant_measure_error(const hers_matrix *gallery, const hers_matrix *probes,
                                              uint32_t s, hers_quant_error *out);

#ifdef __cplusplus
}
#endif
#endif /* HERS_QUANT_H */
