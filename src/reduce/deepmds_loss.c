/* deepmds_loss.c - DeepMDS++ losses and their gradient w.r.t. the outputs.
 *
 *   sim   = w_gen mean_genuine |sx - sz| + w_imp mean_impostor |sx - sz|
 *           (sz = z_a . z_b: cosine of unit outputs; d|e|/de = sign(e), 0 at 0)
 *   cov   = w_cov * mean over the D(D-1) off-diagonal entries of |C|,
 *           C = Zc^T Zc / (B - 1), Zc = Z minus its column means;
 *           dL/dZ = 2 Zc S / (B - 1), S = w_cov sign(C) / (D(D-1)) off the
 *           diagonal (the centring term vanishes since Zc has zero column sums)
 *   ratio = w_ratio * ((mean_imp sz + 1)/2) / ((mean_gen sz + 1)/2)
 * Sums run in double in a fixed order. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "reduce/deepmds_internal.h"

static double sgn(double e)
{
    return e > 0 ? 1.0 : (e < 0 ? -1.0 : 0.0);
}

double dm_loss(const float *z, size_t dims, const float *sx, size_t n_gen, size_t n_imp,
               double w_gen, double w_imp, double w_cov, double w_ratio, float *dz,
               float *scratch, dm_loss_parts *parts)
{
    size_t pairs = n_gen + n_imp, rows = 2 * pairs;
    memset(dz, 0, rows * dims * sizeof(float));
    double sim = 0, sum_g = 0, sum_i = 0;
    float *sz = scratch; /* pairs floats, before the covariance uses scratch */
    for (size_t i = 0; i < pairs; i++) {
        const float *a = z + 2 * i * dims, *b = a + dims;
        double d = 0;
        for (size_t j = 0; j < dims; j++)
            d += (double)a[j] * b[j];
        sz[i] = (float)d;
        if (i < n_gen)
            sum_g += d;
        else
            sum_i += d;
    }
    double mg = n_gen ? sum_g / (double)n_gen : 0, mi = n_imp ? sum_i / (double)n_imp : 0;
    double ratio = 0, dr_dmg = 0, dr_dmi = 0;
    if (w_ratio != 0 && n_gen && n_imp && mg + 1 > 1e-6) {
        ratio = w_ratio * (mi + 1) / (mg + 1);
        dr_dmi = w_ratio / (mg + 1);
        dr_dmg = -w_ratio * (mi + 1) / ((mg + 1) * (mg + 1));
    }
    for (size_t i = 0; i < pairs; i++) {
        int gen = i < n_gen;
        double n = gen ? (double)n_gen : (double)n_imp;
        double w = gen ? w_gen : w_imp;
        double e = (double)sz[i] - sx[i];
        sim += w * fabs(e) / n;
        /* dL/dsz */
        double g = w * sgn(e) / n + (gen ? dr_dmg : dr_dmi) / n;
        const float *a = z + 2 * i * dims, *b = a + dims;
        float *da = dz + 2 * i * dims, *db = da + dims;
        for (size_t j = 0; j < dims; j++) {
            da[j] = (float)(g * b[j]);
            db[j] = (float)(g * a[j]);
        }
    }
    double cov = 0;
    if (w_cov != 0 && dims > 1 && rows > 1) {
        float *c = scratch, *zc = scratch + dims * dims;
        for (size_t j = 0; j < dims; j++) {
            double m = 0;
            for (size_t r = 0; r < rows; r++)
                m += z[r * dims + j];
            m /= (double)rows;
            for (size_t r = 0; r < rows; r++)
                zc[r * dims + j] = (float)(z[r * dims + j] - m);
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)dims, (int)dims, (int)rows,
                    (float)(1.0 / (double)(rows - 1)), zc, (int)dims, zc, (int)dims, 0.0f, c,
                    (int)dims);
        double scale = w_cov / ((double)dims * (double)(dims - 1));
        for (size_t j = 0; j < dims; j++)
            for (size_t k = 0; k < dims; k++) {
                float *e = &c[j * dims + k];
                if (j == k) {
                    *e = 0;
                    continue;
                }
                cov += fabs((double)*e);
                *e = (float)(scale * sgn(*e));
            }
        cov *= scale;
        /* dz += 2/(B-1) Zc S, S symmetric (C symmetric up to rounding: use
         * the upper triangle's sign for both halves). */
        for (size_t j = 0; j < dims; j++)
            for (size_t k = 0; k < j; k++)
                c[j * dims + k] = c[k * dims + j];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)dims, (int)dims,
                    (float)(2.0 / (double)(rows - 1)), zc, (int)dims, c, (int)dims, 1.0f, dz,
                    (int)dims);
    }
    if (parts) {
        parts->sim = sim;
        parts->cov = cov;
        parts->ratio = ratio;
    }
    return sim + cov + ratio;
}
