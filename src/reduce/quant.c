/* quant.c - unit vectors to integers at scale s, the worst-case score bound
 * and the plaintext-modulus check (derivations in hers_quant.h and
 * docs/accuracy.md). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_quant.h"

/* Rows a little longer than 1 (float rounding of normalised vectors) are
 * rescaled; anything longer is a caller error. */
#define NORM_SLACK 1e-3

void hers_qmatrix_free(hers_qmatrix *q)
{
    if (!q)
        return;
    hers_free(q->data);
    q->data = NULL;
    q->rows = q->cols = 0;
    q->scale = 0;
}

int32_t hers_quant_value(double x, uint32_t s)
{
    if (isnan(x))
        return 0;
    double y = x * (double)s;
    if (y >= (double)s)
        return (int32_t)s;
    if (y <= -(double)s)
        return -(int32_t)s;
    return (int32_t)round(y); /* half away from zero: symmetric in sign */
}

/* floor(sqrt(x)), exact for every 64-bit x (digit-by-digit, no floating
 * point: the no-wrap bound must never round up or down by one). */
static uint64_t isqrt_u64(uint64_t x)
{
    uint64_t r = 0;
    for (uint64_t b = UINT64_C(1) << 62; b; b >>= 2) {
        if (x >= r + b) {
            x -= r + b;
            r = (r >> 1) + b;
        } else {
            r >>= 1;
        }
    }
    return r;
}

static int params_ok(size_t d, uint32_t s)
{
    return d >= 1 && d <= HERS_QUANT_MAX_DIM && s >= 1 && s <= HERS_QUANT_MAX_SCALE;
}

uint64_t hers_quant_score_bound(size_t d, uint32_t s)
{
    if (!params_ok(d, s))
        return 0;
    uint64_t s2 = (uint64_t)s * s;
    uint64_t a = (uint64_t)d * s2; /* (a) |q_i| <= s */
    /* (b) floor((s + sqrt(d)/2)^2) = floor((4 s^2 + d + 4 s sqrt(d)) / 4)
     *     = floor((4 s^2 + d + floor(sqrt(16 s^2 d))) / 4): floor(x / 4) =
     *     floor(floor(x) / 4) because 4 s^2 + d is an integer. 16 s^2 d <
     *     2^4 * 2^30 * 2^20 = 2^54, no overflow. */
    uint64_t b = (4 * s2 + d + isqrt_u64(16 * s2 * (uint64_t)d)) / 4;
    uint64_t c = 4 * s2; /* (c) sum (2|q_i| - 1)^2 <= 4 s^2 */
    uint64_t m = a < b ? a : b;
    return m < c ? m : c;
}

uint64_t hers_quant_min_modulus(size_t d, uint32_t s)
{
    uint64_t b = hers_quant_score_bound(d, s);
    return b ? 2 * b + 1 : 0;
}

hers_status hers_quant_check(size_t d, uint32_t s, uint64_t t)
{
    if (!params_ok(d, s))
        return hers_error(HERS_ERR_PARAMS,
                          "quantisation: dimension %zu or scale %u out of range "
                          "(d in 1..%zu, scale in 1..%u)",
                          d, s, HERS_QUANT_MAX_DIM, HERS_QUANT_MAX_SCALE);
    uint64_t b = hers_quant_score_bound(d, s);
    if (t <= 2 * b)
        return hers_error(HERS_ERR_PARAMS,
                          "plaintext modulus t = %llu can wrap: dimension %zu at scale %u "
                          "gives scores up to +-%llu, need t >= %llu (or a smaller scale)",
                          (unsigned long long)t, d, s, (unsigned long long)b,
                          (unsigned long long)(2 * b + 1));
    return HERS_OK;
}

uint32_t hers_quant_max_scale(size_t d, uint64_t t)
{
    if (d < 1 || d > HERS_QUANT_MAX_DIM)
        return 0;
    /* The bound is non-decreasing in s: binary search. */
    uint32_t lo = 0, hi = HERS_QUANT_MAX_SCALE;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (t > 2 * hers_quant_score_bound(d, mid))
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

uint32_t hers_quant_default_scale(size_t d, uint64_t t)
{
    return hers_quant_max_scale(d, t);   /* the noise never limits s: hers_quant.h */
}

double hers_quant_error_bound(size_t d, uint32_t s)
{
    if (!params_ok(d, s))
        return 0.0;
    double sd = (double)s;
    return sqrt((double)d) / sd + (double)d / (4.0 * sd * sd);
}

int64_t hers_quant_dot(const int32_t *a, const int32_t *b, size_t d)
{
    int64_t acc = 0;
    for (size_t i = 0; i < d; i++)
        acc += (int64_t)a[i] * b[i];
    return acc;
}

hers_status hers_quant_vector(const float *x, size_t d, uint32_t s, int32_t *out)
{
    if (!x || !out)
        return hers_error(HERS_ERR_ARG, "quantise: NULL argument");
    if (!params_ok(d, s))
        return hers_error(HERS_ERR_ARG, "quantise: dimension %zu or scale %u out of range", d,
                          s);
    double n2 = 0.0;
    for (size_t i = 0; i < d; i++) {
        if (!isfinite(x[i]))
            return hers_error(HERS_ERR_ARG, "quantise: component %zu is not finite", i);
        n2 += (double)x[i] * x[i];
    }
    double norm = sqrt(n2);
    if (norm > 1.0 + NORM_SLACK)
        return hers_error(HERS_ERR_ARG,
                          "quantise: vector has L2 norm %.6g > 1 (normalise it first)", norm);
    double f = norm > 1.0 ? 1.0 / norm : 1.0;
    uint64_t q2 = 0;
    for (size_t i = 0; i < d; i++) {
        out[i] = hers_quant_value((double)x[i] * f, s);
        q2 += (uint64_t)((int64_t)out[i] * out[i]);
    }
    /* Enforce ||q||^2 <= B unconditionally (only a boundary case of the
     * rescaled rows could exceed it): shrink the largest component. */
    uint64_t b = hers_quant_score_bound(d, s);
    while (q2 > b) {
        size_t big = 0;
        for (size_t i = 1; i < d; i++)
            if (labs((long)out[i]) > labs((long)out[big]))
                big = i;
        int32_t v = out[big];
        int32_t w = v > 0 ? v - 1 : v + 1;
        q2 -= (uint64_t)((int64_t)v * v) - (uint64_t)((int64_t)w * w);
        out[big] = w;
    }
    return HERS_OK;
}

hers_status hers_quant_matrix(const hers_matrix *in, uint32_t s, hers_qmatrix *out)
{
    if (!in || !out || (!in->data && in->rows && in->cols))
        return hers_error(HERS_ERR_ARG, "quantise: NULL argument");
    memset(out, 0, sizeof *out);
    if (!params_ok(in->cols, s))
        return hers_error(HERS_ERR_ARG, "quantise: dimension %zu or scale %u out of range",
                          in->cols, s);
    int32_t *q = hers_alloc_array(in->rows ? in->rows * in->cols : 1, sizeof *q);
    if (!q)
        return hers_error(HERS_ERR_NOMEM, "quantise: %zu x %zu", in->rows, in->cols);
    for (size_t r = 0; r < in->rows; r++) {
        hers_status st = hers_quant_vector(in->data + r * in->cols, in->cols, s,
                                           q + r * in->cols);
        if (st != HERS_OK) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s", hers_last_error());
            hers_free(q);
            return hers_error(st, "row %zu: %s", r, msg);
        }
    }
    out->rows = in->rows;
    out->cols = in->cols;
    out->scale = s;
    out->data = q;
    return HERS_OK;
}

hers_status hers_qmatrix_to_float(const hers_qmatrix *q, int divide, hers_matrix *out)
{
    if (!q || !out || (!q->data && q->rows && q->cols) || q->scale == 0)
        return hers_error(HERS_ERR_ARG, "dequantise: bad argument");
    hers_status st = hers_matrix_alloc(out, q->rows ? q->rows : 1, q->cols);
    if (st != HERS_OK)
        return st;
    out->rows = q->rows;
    double f = divide ? 1.0 / (double)q->scale : 1.0;
    for (size_t i = 0; i < q->rows * q->cols; i++)
        out->data[i] = (float)((double)q->data[i] * f);
    return HERS_OK;
}

/* Blocks of the error measurement: 256 probes x 2048 gallery rows of
 * doubles (4 MiB per score tile), small enough for any machine. */
#define ERR_PB 256
#define ERR_GB 2048

static void to_double(const float *src, size_t n, double *dst)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

hers_status hers_quant_measure_error(const hers_matrix *gallery, const hers_matrix *probes,
                                     uint32_t s, hers_quant_error *out)
{
    if (!gallery || !probes || !out || gallery->cols != probes->cols)
        return hers_error(HERS_ERR_ARG, "quantisation error: bad or mismatched matrices");
    memset(out, 0, sizeof *out);
    size_t d = gallery->cols;
    hers_qmatrix qg = {0}, qp = {0};
    hers_status st = hers_quant_matrix(gallery, s, &qg);
    if (st == HERS_OK)
        st = hers_quant_matrix(probes, s, &qp);
    double *fg = hers_alloc_array(ERR_GB * d, sizeof(double));
    double *ig = hers_alloc_array(ERR_GB * d, sizeof(double));
    double *fp = hers_alloc_array(ERR_PB * d, sizeof(double));
    double *ip = hers_alloc_array(ERR_PB * d, sizeof(double));
    double *cs = hers_alloc_array((size_t)ERR_PB * ERR_GB, sizeof(double));
    double *qs = hers_alloc_array((size_t)ERR_PB * ERR_GB, sizeof(double));
    if (st == HERS_OK && (!fg || !ig || !fp || !ip || !cs || !qs))
        st = hers_error(HERS_ERR_NOMEM, "quantisation error: work buffers");
    double sum = 0.0, sum2 = 0.0, inv = 1.0 / ((double)s * s);
    for (size_t p0 = 0; st == HERS_OK && p0 < probes->rows; p0 += ERR_PB) {
        size_t pn = probes->rows - p0 < ERR_PB ? probes->rows - p0 : ERR_PB;
        to_double(probes->data + p0 * d, pn * d, fp);
        for (size_t i = 0; i < pn * d; i++)
            ip[i] = qp.data[p0 * d + i];
        for (size_t g0 = 0; g0 < gallery->rows; g0 += ERR_GB) {
            size_t gn = gallery->rows - g0 < ERR_GB ? gallery->rows - g0 : ERR_GB;
            to_double(gallery->data + g0 * d, gn * d, fg);
            for (size_t i = 0; i < gn * d; i++)
                ig[i] = qg.data[g0 * d + i];
            /* Integer products in double are exact: every partial sum is
             * bounded by B < 2^32 < 2^53. */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pn, (int)gn, (int)d, 1.0,
                        fp, (int)d, fg, (int)d, 0.0, cs, (int)gn);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pn, (int)gn, (int)d, 1.0,
                        ip, (int)d, ig, (int)d, 0.0, qs, (int)gn);
            for (size_t i = 0; i < pn * gn; i++) {
                double e = fabs(cs[i] - qs[i] * inv);
                sum += e;
                sum2 += e * e;
                if (e > out->max_abs)
                    out->max_abs = e;
                int64_t a = (int64_t)llround(fabs(qs[i]));
                if (a > out->max_score)
                    out->max_score = a;
            }
            out->pairs += pn * gn;
        }
    }
    if (st == HERS_OK && out->pairs) {
        out->mean_abs = sum / (double)out->pairs;
        out->rms = sqrt(sum2 / (double)out->pairs);
    }
    hers_free(fg);
    hers_free(ig);
    hers_free(fp);
    hers_free(ip);
    hers_free(cs);
    hers_free(qs);
    hers_qmatrix_free(&qg);
    hers_qmatrix_free(&qp);
    return st;
}
