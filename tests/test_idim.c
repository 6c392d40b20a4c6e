/* test_idim.c - intrinsic-dimensionality estimators (hers_idim.h).
 *
 * Known manifolds embedded isometrically in 512-d by a random orthonormal
 * frame (a random rotation restricted to the first D + 1 axes):
 *   S^5, S^9            uniform on the sphere                    true ID 5, 9
 *   8-d Gaussian        centred on a linear subspace; after the
 *                       L2 normalisation it is uniform on S^7    true ID 7
 *   8-d affine Gaussian c + 0.25 z, z ~ N(0, I_8) on a subspace
 *                       orthogonal to c: an 8-d patch of S^511   true ID 8
 * Tolerances on |estimate - true| (measured over 10 seeds at n = 800 and
 * 2000, see docs/design.md "Intrinsic dimensionality"): 2 for the integer
 * geodesic ID with the specified k = 4 graph (it is biased upwards by
 * about 1 at these sizes), 1 for the geodesic ID with k = 16 on the spheres,
 * 1.5 for the TwoNN and MLE estimates (MLE is biased downwards).
 * Also: the fit on an exact sin^(D-1) histogram, exact kNN against a
 * double brute force, thread-count independence, the disconnected-graph
 * error and invalid input.
 * HERS_TEST_QUICK=1 shrinks the samples (tolerances are per size). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_idim.h"
#include "hers/hers_mem.h"
#include "hers/hers_random.h"
#include "reduce/idim_internal.h"
#include "support/check.h"

#define AMBIENT 512

static hers_prg gen;

/* Orthonormal columns: m vectors of length AMBIENT (Gram-Schmidt, twice). */
static float *random_frame(size_t m)
{
    double *q = calloc(m * AMBIENT, sizeof *q);
    for (size_t j = 0; j < m; j++) {
        double *v = q + j * AMBIENT;
        for (size_t c = 0; c < AMBIENT; c++)
            v[c] = hers_prg_normal(&gen);
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < j; i++) {
                double dot = 0;
                for (size_t c = 0; c < AMBIENT; c++)
                    dot += v[c] * q[i * AMBIENT + c];
                for (size_t c = 0; c < AMBIENT; c++)
                    v[c] -= dot * q[i * AMBIENT + c];
            }
        double s = 0;
        for (size_t c = 0; c < AMBIENT; c++)
            s += v[c] * v[c];
        for (size_t c = 0; c < AMBIENT; c++)
            v[c] /= sqrt(s);
    }
    float *f = malloc(m * AMBIENT * sizeof *f);
    for (size_t i = 0; i < m * AMBIENT; i++)
        f[i] = (float)q[i];
    free(q);
    return f;
}

/* n points: x = offset * q_0 + spread * sum_{i<m} z_i q_{i+1} with
 * z ~ N(0, I_m); sphere = 1 normalises z first (uniform on S^(m-1)). */
static void manifold(hers_matrix *x, size_t n, size_t m, int sphere, double offset,
                     double spread)
{
    float *q = random_frame(m + 1);
    CHECK_OK(hers_matrix_alloc(x, n, AMBIENT));
    double z[64];
    for (size_t r = 0; r < n; r++) {
        double s = 0;
        for (size_t i = 0; i < m; i++) {
            z[i] = hers_prg_normal(&gen);
            s += z[i] * z[i];
        }
        double scale = sphere ? 1 / sqrt(s) : spread;
        float *row = x->data + r * AMBIENT;
        for (size_t c = 0; c < AMBIENT; c++) {
            double v = offset * q[c];
            for (size_t i = 0; i < m; i++)
                v += scale * z[i] * q[(i + 1) * AMBIENT + c];
            row[c] = (float)v;
        }
    }
    free(q);
}

/* The fit on an exact hypersphere histogram recovers D. */
static void test_fit_exact(void)
{
    for (unsigned D = 2; D <= 40; D += 7) {
        hers_idim_result r;
        memset(&r, 0, sizeof r);
        double diam = 3.0;
        r.hist_dx = diam / HERS_IDIM_BINS;
        r.max_edge = 0.05;
        for (int b = 0; b < HERS_IDIM_BINS; b++) {
            double v = pow(sin(M_PI * (b + 0.5) / HERS_IDIM_BINS), (double)D - 1);
            r.hist[b] = (uint64_t)llround(1e12 * v);
            r.pairs += r.hist[b];
        }
        CHECK_OK(hers_idim_fit_hist(&r, diam / (2 * sqrt((double)D)), 512));
        fprintf(stderr, "  exact sin^%u histogram: id %u, fit %.3f, r_max %.4f (1.5), rmse %.2g\n",
                D - 1, r.id, r.id_fit, r.r_max, r.rmse);
        CHECK(r.id == D);
        CHECK(fabs(r.id_fit - D) < 0.25);
        CHECK(fabs(r.r_max - 1.5) < 0.02);
    }
}

/* kNN equals a double-precision brute force; thread count irrelevant. */
static void test_knn_exact(void)
{
    hers_matrix x, u;
    size_t n = 700, d = 24, k = 6, zero;
    CHECK_OK(hers_matrix_alloc(&x, n, d));
    for (size_t i = 0; i < n * d; i++)
        x.data[i] = (float)hers_prg_normal(&gen);
    memcpy(x.data + 5 * d, x.data + 9 * d, d * sizeof(float));   /* a duplicate */
    uint8_t seed[HERS_SEED_BYTES] = {7};
    CHECK_OK(hers_idim_sample(&x, 0, seed, &u, &zero));
    CHECK(u.rows == n && zero == 0);
    hers_idim_knn a, b;
    CHECK_OK(hers_idim_knn_build(&u, k, 16, 1, &a));
    CHECK_OK(hers_idim_knn_build(&u, k, 128, 2, &b));
    CHECK(memcmp(a.idx, b.idx, n * k * sizeof *a.idx) == 0);
    CHECK(memcmp(a.d2, b.d2, n * k * sizeof *a.d2) == 0);
    double *dd = malloc(n * sizeof *dd);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t c = 0; c < d; c++) {
                double t = (double)u.data[i * d + c] - u.data[j * d + c];
                s += t * t;
            }
            dd[j] = j == i ? INFINITY : s;
        }
        for (size_t j = 0; j < k; j++) {   /* j-th smallest, ties by index */
            size_t best = 0;
            for (size_t t = 1; t < n; t++)
                if (dd[t] < dd[best])
                    best = t;
            bad += a.idx[i * k + j] != best || a.d2[i * k + j] != dd[best];
            dd[best] = INFINITY;
        }
    }
    CHECK_EQ_U64(bad, 0);
    size_t dups = 0;                                /* the duplicate pair is found */
    for (size_t i = 0; i < n; i++)
        dups += a.d2[i * k] == 0;
    CHECK_EQ_U64(dups, 2);
    free(dd);
    hers_idim_knn_free(&a);
    hers_idim_knn_free(&b);
    hers_matrix_free(&u);
    hers_matrix_free(&x);
}

struct mcase {
    const char *name;
    size_t m;
    int sphere;
    double offset, spread;
    unsigned truth;
    double tol_geo, tol_nn;
};

static void test_manifolds(int quick)
{
    static const struct mcase cases[] = {
        {"S^5", 6, 1, 0, 1, 5, 2, 1.5},
        {"S^9", 10, 1, 0, 1, 9, 2, 1.5},
        {"8-d Gaussian (S^7)", 8, 0, 0, 1, 7, 2, 1.5},
        {"8-d affine Gaussian", 8, 0, 1, 0.25, 8, 2, 1.5},
    };
    size_t n = quick ? 800 : 2000;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct mcase *mc = &cases[c];
        hers_matrix x;
        manifold(&x, n, mc->m, mc->sphere, mc->offset, mc->spread);
        /* the last run: geodesic with a denser graph (k = 16) on the spheres */
        hers_idim_method methods[] = {HERS_IDIM_GEODESIC, HERS_IDIM_TWONN, HERS_IDIM_MLE,
                                    HERS_IDIM_GEODESIC};
        for (size_t t = 0; t < (mc->sphere ? 4u : 3u); t++) {
            hers_idim_params p;
            hers_idim_params_default(&p);
            p.method = methods[t];
            p.k = t == 3 ? 16 : 4;
            p.threads = 2;
            hers_idim_result r;
            CHECK_OK(hers_idim_estimate(&x, &p, &r));
            double est = methods[t] == HERS_IDIM_GEODESIC ? (double)r.id : r.id_fit;
            double tol = t == 3 ? 1 : methods[t] == HERS_IDIM_GEODESIC ? mc->tol_geo : mc->tol_nn;
            /* TwoNN at the quick size (n = 800) scatters more than the 1.5
             * allows in 9 dimensions: over 40 random seeds its S^9 fit was
             * 0.53 low on average, 1.33 low at worst, and CI's seed
             * 269798757191043 gave 7.48 (1.52 low); at n = 2000 it stays
             * within 0.65. 2 keeps a wrong estimator (off by whole
             * dimensions) failing. */
            if (quick && methods[t] == HERS_IDIM_TWONN)
                tol = 2;
            fprintf(stderr, "  %-20s n=%zu %-8s k=%-2zu id %u (fit %.2f, rmse %.3f) truth %u%s\n",
                    mc->name, n, hers_idim_method_name(methods[t]), p.k, r.id, r.id_fit, r.rmse,
                    mc->truth, fabs(est - mc->truth) <= tol ? "" : "  <-- outside tolerance");
            CHECK(fabs(est - mc->truth) <= tol);
            CHECK(r.n == n && r.dim == AMBIENT);
        }
        hers_matrix_free(&x);
    }
}

/* Same seed and data: identical results with 1 and 2 threads; a sample of
 * the rows is drawn when asked, and a different seed draws another one. */
static void test_determinism(void)
{
    hers_matrix x;
    manifold(&x, 900, 5, 1, 0, 1);
    hers_idim_params p;
    hers_idim_params_default(&p);
    p.sample = 600;
    p.seed[0] = 3;
    hers_idim_result a, b, c;
    p.threads = 1;
    CHECK_OK(hers_idim_estimate(&x, &p, &a));
    p.threads = 2;
    CHECK_OK(hers_idim_estimate(&x, &p, &b));
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK(a.n == 600 && a.sources == 600 && a.pairs == 600 * 599 / 2);
    p.seed[0] = 4;
    CHECK_OK(hers_idim_estimate(&x, &p, &c));
    CHECK(memcmp(a.hist, c.hist, sizeof a.hist) != 0);
    /* a subset of sources */
    p.sources = 100;
    CHECK_OK(hers_idim_estimate(&x, &p, &c));
    CHECK(c.sources == 100 && c.pairs == 100 * 599 - 100 * 99 / 2);
    CHECK(c.id >= 3 && c.id <= 6);
    hers_matrix_free(&x);
}

/* Two far-apart clusters and k = 2: each half reaches only itself. */
static void test_disconnected(void)
{
    hers_matrix a, b, x;
    manifold(&a, 150, 4, 0, 1, 0.05);
    manifold(&b, 150, 4, 0, 1, 0.05);
    CHECK_OK(hers_matrix_alloc(&x, 300, AMBIENT));
    memcpy(x.data, a.data, 150 * AMBIENT * sizeof(float));
    memcpy(x.data + 150 * AMBIENT, b.data, 150 * AMBIENT * sizeof(float));
    hers_idim_params p;
    hers_idim_params_default(&p);
    p.k = 2;
    hers_idim_result r;
    hers_status st = hers_idim_estimate(&x, &p, &r);
    fprintf(stderr, "  two clusters, k = 2: %s: %s\n", hers_status_name(st), hers_last_error());
    CHECK(st == HERS_ERR_NUMERIC);
    CHECK(strstr(hers_last_error(), "disconnected") != NULL);
    /* TwoNN and MLE only need local neighbourhoods */
    p.method = HERS_IDIM_TWONN;
    CHECK_OK(hers_idim_estimate(&x, &p, &r));
    hers_matrix_free(&a);
    hers_matrix_free(&b);
    hers_matrix_free(&x);
}

static void test_invalid(void)
{
    hers_idim_params p;
    hers_idim_params_default(&p);
    hers_idim_result r;
    hers_matrix x;
    CHECK(hers_idim_estimate(NULL, &p, &r) == HERS_ERR_ARG);
    manifold(&x, 9, 3, 1, 0, 1);                       /* too few points */
    CHECK(hers_idim_estimate(&x, &p, &r) == HERS_ERR_ARG);
    hers_matrix_free(&x);
    manifold(&x, 40, 3, 1, 0, 1);
    p.k = 40;                                          /* k >= n */
    CHECK(hers_idim_estimate(&x, &p, &r) == HERS_ERR_ARG);
    p.k = 0;
    CHECK(hers_idim_estimate(&x, &p, &r) == HERS_ERR_ARG);
    hers_idim_params_default(&p);
    p.method = HERS_IDIM_MLE;
    p.mle_k2 = 45;                                     /* k2 >= n */
    CHECK(hers_idim_estimate(&x, &p, &r) == HERS_ERR_ARG);
    p.mle_k1 = 12;
    p.mle_k2 = 11;
    CHECK(hers_idim_estimate(&x, &p, &r) == HERS_ERR_ARG);
    hers_idim_params_default(&p);
    p.method = (hers_idim_method)7;
    CHECK(hers_idim_estimate(&x, &p, &r) == HERS_ERR_ARG);
    hers_idim_params_default(&p);
    p.method = HERS_IDIM_TWONN;
    p.twonn_discard = 0.95;
    CHECK(hers_idim_estimate(&x, &p, &r) == HERS_ERR_ARG);
    hers_idim_params_default(&p);
    p.edge_quantile = 1.5;
    CHECK(hers_idim_estimate(&x, &p, &r) == HERS_ERR_ARG);
    hers_idim_params_default(&p);
    x.data[3 * AMBIENT + 7] = NAN;                     /* non-finite */
    CHECK(hers_idim_estimate(&x, &p, &r) == HERS_ERR_ARG);
    /* zero rows are skipped, too few remain */
    memset(x.data, 0, 35 * AMBIENT * sizeof(float));
    CHECK(hers_idim_estimate(&x, &p, &r) == HERS_ERR_ARG);
    hers_matrix_free(&x);
    hers_idim_method m;
    CHECK_OK(hers_idim_method_parse("twonn", &m));
    CHECK(m == HERS_IDIM_TWONN);
    CHECK(hers_idim_method_parse("pca", &m) == HERS_ERR_ARG);
    CHECK(strcmp(hers_idim_method_name(HERS_IDIM_MLE), "mle") == 0);
}

int main(void)
{
    uint64_t s = test_seed();
    uint8_t seed[HERS_SEED_BYTES] = {0};
    memcpy(seed, &s, sizeof s);
    hers_prg_init(&gen, seed, 0x1d);
    const char *q = getenv("HERS_TEST_QUICK");
    int quick = q && *q && strcmp(q, "0") != 0;
    test_fit_exact();
    test_knn_exact();
    test_invalid();
    test_disconnected();
    test_determinism();
    test_manifolds(quick);
    hers_prg_wipe(&gen);
    return test_finish();
}
