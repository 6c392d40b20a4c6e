/* test_pca.c - PCA recovers a planted subspace; the model file round-trips
 * and rejects corruption (truncation, bit flips, wrong version, bad shapes). */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "hers/hers_reduce.h"
#include "reduce/deepmds_internal.h"
#include "reduce/reduce_internal.h"
#include "support/check.h"

static int quick(void)
{
    const char *q = getenv("HERS_TEST_QUICK");
    return q && *q && *q != '0';
}

/* Rows = mean + (k-dim subspace, decreasing scales) + small isotropic noise. */
static void test_planted(void)
{
    size_t n = quick() ? 600 : 3000, d = 40, k = 5;
    uint8_t seed[32] = {3};
    seed[1] = (uint8_t)test_rand();
    hers_prg g;
    hers_prg_init(&g, seed, 0);
    /* Orthonormal basis of the planted subspace (Gram-Schmidt). */
    double basis[5][40];
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < d; j++)
            basis[i][j] = j ? hers_prg_normal(&g) : 0.0; /* orthogonal to the mean e_0 */
        for (size_t p = 0; p < i; p++) {
            double dot = 0;
            for (size_t j = 0; j < d; j++)
                dot += basis[i][j] * basis[p][j];
            for (size_t j = 0; j < d; j++)
                basis[i][j] -= dot * basis[p][j];
        }
        double nr = 0;
        for (size_t j = 0; j < d; j++)
            nr += basis[i][j] * basis[i][j];
        for (size_t j = 0; j < d; j++)
            basis[i][j] /= sqrt(nr);
    }
    /* The rows are unit-normalised by PCA: put them on a small cap around a
     * mean direction so that normalisation barely bends the subspace. */
    hers_matrix x;
    CHECK_OK(hers_matrix_alloc(&x, n, d));
    for (size_t r = 0; r < n; r++) {
        double row[40] = {0};
        row[0] = 10.0; /* mean direction e_0, orthogonal-ish to the basis */
        for (size_t i = 0; i < k; i++) {
            double c = hers_prg_normal(&g) * (1.0 - 0.15 * (double)i) * 0.2;
            for (size_t j = 0; j < d; j++)
                row[j] += c * basis[i][j];
        }
        for (size_t j = 0; j < d; j++)
            x.data[r * d + j] = (float)(row[j] + 0.002 * hers_prg_normal(&g));
    }
    hers_reduce_model *m = NULL;
    CHECK_OK(hers_pca_fit(&x, k, 0, &m));
    CHECK(m && m->method == HERS_REDUCE_PCA && m->pca_dim == k && m->out_dim == k);
    /* Components orthonormal, eigenvalues decreasing. */
    for (size_t i = 0; i < k; i++) {
        for (size_t p = 0; p <= i; p++) {
            double dot = 0;
            for (size_t j = 0; j < d; j++)
                dot += (double)m->pca_comp[i * d + j] * m->pca_comp[p * d + j];
            CHECK(fabs(dot - (i == p)) < 1e-4);
        }
        if (i)
            CHECK(m->pca_eig[i] <= m->pca_eig[i - 1]);
    }
    /* Reconstruction error of the centred, normalised rows from k components
     * is at the noise level, far below the planted variance. */
    double err = 0, tot = 0;
    for (size_t r = 0; r < n; r++) {
        float u[40];
        memcpy(u, x.data + r * d, sizeof u);
        reduce_normalize_rows(u, 1, d, NULL);
        double c[40];
        for (size_t j = 0; j < d; j++)
            c[j] = (double)u[j] - m->pca_mean[j];
        double rec[40] = {0};
        for (size_t i = 0; i < k; i++) {
            double dot = 0;
            for (size_t j = 0; j < d; j++)
                dot += c[j] * m->pca_comp[i * d + j];
            for (size_t j = 0; j < d; j++)
                rec[j] += dot * m->pca_comp[i * d + j];
        }
        for (size_t j = 0; j < d; j++) {
            err += (c[j] - rec[j]) * (c[j] - rec[j]);
            tot += c[j] * c[j];
        }
    }
    fprintf(stderr, "  planted subspace: relative reconstruction error %.3g\n", err / tot);
    CHECK(err / tot < 1e-2);
    /* The subspace itself: every planted basis vector lies in the span. */
    for (size_t i = 0; i < k; i++) {
        double in = 0;
        for (size_t p = 0; p < k; p++) {
            double dot = 0;
            for (size_t j = 0; j < d; j++)
                dot += basis[i][j] * m->pca_comp[p * d + j];
            in += dot * dot;
        }
        CHECK(in > 0.98);
    }
    /* Applying gives unit rows; whitening changes the scale only. */
    hers_matrix z;
    CHECK_OK(hers_reduce_apply(m, &x, &z));
    CHECK(z.rows == n && z.cols == k);
    double s = 0;
    for (size_t j = 0; j < k; j++)
        s += (double)z.data[j] * z.data[j];
    CHECK(fabs(s - 1) < 1e-5);
    hers_reduce_model *w = NULL;
    CHECK_OK(hers_pca_fit(&x, k, 1, &w));
    CHECK(w->whiten == 1 && w->pca_scale[0] > 1.0f);
    /* Errors. */
    hers_reduce_model *bad = NULL;
    CHECK(hers_pca_fit(&x, d + 1, 0, &bad) == HERS_ERR_ARG && !bad);
    CHECK(hers_pca_fit(&x, 0, 0, &bad) == HERS_ERR_ARG && !bad);
    hers_matrix wrong;
    CHECK_OK(hers_matrix_alloc(&wrong, 3, d + 1));
    CHECK(hers_reduce_apply(m, &wrong, &z) != HERS_OK);
    hers_matrix_free(&wrong);
    hers_matrix_free(&z);
    hers_reduce_model_free(m);
    hers_reduce_model_free(w);
    hers_matrix_free(&x);
}

static hers_reduce_model *make_deepmds(void)
{
    hers_reduce_model *m = reduce_model_new();
    size_t outs[2] = {9, 4};
    m->method = HERS_REDUCE_DEEPMDS;
    m->in_dim = 30;
    m->out_dim = 4;
    CHECK_OK(reduce_model_alloc_pca(m, 20));
    for (size_t i = 0; i < 20 * 30; i++)
        m->pca_comp[i] = (float)((i * 7919) % 13) / 13.0f;
    for (size_t i = 0; i < 20; i++) {
        m->pca_scale[i] = 1.0f;
        m->pca_eig[i] = 0.5f;
    }
    CHECK_OK(reduce_model_alloc_stages(m, 20, outs, 2));
    uint8_t seed[32] = {5};
    hers_prg g;
    hers_prg_init(&g, seed, 1);
    for (size_t s = 0; s < 2; s++)
        dm_stage_init_xavier(&m->stages[s], &g);
    return m;
}

static void test_file(hers_reduce_model *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(hers_reduce_model_write_mem(m, &buf, &len));
    hers_reduce_model *r = NULL;
    CHECK_OK(hers_reduce_model_read_mem(buf, len, &r));
    uint8_t ia[HERS_MODEL_ID_BYTES], ib[HERS_MODEL_ID_BYTES];
    CHECK_OK(hers_reduce_model_id(m, ia));
    CHECK_OK(hers_reduce_model_id(r, ib));
    CHECK(memcmp(ia, ib, sizeof ia) == 0);
    CHECK(hers_reduce_model_params(m) == hers_reduce_model_params(r));
    CHECK(r->method == m->method && r->in_dim == m->in_dim && r->out_dim == m->out_dim &&
          r->n_stages == m->n_stages && r->pca_dim == m->pca_dim);
    uint8_t *buf2 = NULL;
    size_t len2 = 0;
    CHECK_OK(hers_reduce_model_write_mem(r, &buf2, &len2));
    CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
    hers_free(buf2);
    hers_reduce_model_free(r);

    /* Every truncation is rejected (sampled for long files). */
    size_t stride = len > 4000 ? len / 997 : 1;
    for (size_t l = 0; l < len; l += stride) {
        r = NULL;
        CHECK(hers_reduce_model_read_mem(buf, l, &r) != HERS_OK && r == NULL);
    }
    /* Every single-bit flip is rejected (sampled). */
    int nflip = quick() ? 300 : 2000;
    for (int i = 0; i < nflip; i++) {
        size_t pos = (size_t)(test_rand() % len);
        uint8_t bit = (uint8_t)(1u << (test_rand() % 8));
        buf[pos] ^= bit;
        r = NULL;
        hers_status st = hers_reduce_model_read_mem(buf, len, &r);
        CHECK(st != HERS_OK && r == NULL);
        buf[pos] ^= bit;
    }
    /* Wrong version: HERS_ERR_VERSION even before the checksum. */
    buf[8] = 2;
    CHECK(hers_reduce_model_read_mem(buf, len, &r) == HERS_ERR_VERSION);
    buf[8] = 1;
    /* A consistent checksum over a bad shape is still rejected. */
    uint8_t *forged = hers_alloc(len);
    memcpy(forged, buf, len);
    forged[24] ^= 1; /* out_dim */
    crypto_generichash(forged + len - 32, 32, forged, len - 32, NULL, 0);
    CHECK(hers_reduce_model_read_mem(forged, len, &r) == HERS_ERR_FORMAT);
    hers_free(forged);
    CHECK(hers_reduce_model_read_mem(NULL, 0, &r) != HERS_OK);
    hers_free(buf);
}

static void test_files(void)
{
    hers_matrix x;
    CHECK_OK(hers_matrix_alloc(&x, 50, 12));
    for (size_t i = 0; i < 50 * 12; i++)
        x.data[i] = (float)(test_rand() % 1000) / 1000.0f;
    hers_reduce_model *p = NULL;
    CHECK_OK(hers_pca_fit(&x, 6, 1, &p));
    test_file(p);
    hers_reduce_model *m = make_deepmds();
    test_file(m);
    /* Different models have different ids. */
    uint8_t ia[HERS_MODEL_ID_BYTES], ib[HERS_MODEL_ID_BYTES];
    CHECK_OK(hers_reduce_model_id(m, ia));
    m->stages[1].layer[3].b[0] += 1e-3f;
    CHECK_OK(hers_reduce_model_id(m, ib));
    CHECK(memcmp(ia, ib, sizeof ia) != 0);
    /* Files on disk, with the exact same outputs after loading. */
    char path[256];
    snprintf(path, sizeof path, "/tmp/hers_test_model_%d.hmdl", (int)(test_rand() % 100000));
    CHECK_OK(hers_reduce_model_save(m, path));
    hers_reduce_model *r = NULL;
    CHECK_OK(hers_reduce_model_load(path, &r));
    hers_matrix in, za, zb;
    CHECK_OK(hers_matrix_alloc(&in, 7, 30));
    for (size_t i = 0; i < 7 * 30; i++)
        in.data[i] = (float)((int)(test_rand() % 2001) - 1000) / 1000.0f;
    CHECK_OK(hers_reduce_apply(m, &in, &za));
    CHECK_OK(hers_reduce_apply(r, &in, &zb));
    CHECK(za.cols == 4 && memcmp(za.data, zb.data, 7 * 4 * sizeof(float)) == 0);
    remove(path);
    hers_reduce_model_free(r);
    CHECK(hers_reduce_model_load(path, &r) == HERS_ERR_NOTFOUND && r == NULL);
    hers_matrix_free(&in);
    hers_matrix_free(&za);
    hers_matrix_free(&zb);
    hers_reduce_model_free(r);
    hers_reduce_model_free(m);
    hers_reduce_model_free(p);
    hers_matrix_free(&x);
}

int main(void)
{
    test_rand_seed(test_seed());
    test_planted();
    test_files();
    return test_finish();
}
