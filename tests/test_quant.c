/* test_quant.c - quantisation: rounding, clamping, the worst-case score
 * bound (against an exact knapsack oracle), the modulus check, and the
 * measured error against its analytical ceiling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_quant.h"
#include "hers/hers_search.h"
#include "support/check.h"

/* Exact max over ||x|| <= 1 of ||q(x)||^2 for small (d, s): choose nonzero
 * magnitudes k_i in 1..s for at most d coordinates; q_i = k needs |x_i| >=
 * (k - 1/2)/s, so the constraint is sum (2 k_i - 1)^2 <= 4 s^2 and the
 * objective sum k_i^2 (a bounded knapsack over items and count). */
static uint64_t oracle_max_norm2(size_t d, uint32_t s)
{
    size_t cap = 4 * (size_t)s * s;
    /* best[c] after j rounds: max value using at most j items, cost <= c. */
    int64_t *best = calloc(cap + 1, sizeof *best);
    int64_t *next = calloc(cap + 1, sizeof *next);
    for (size_t j = 0; j < d; j++) {
        memcpy(next, best, (cap + 1) * sizeof *next);
        for (size_t c = 0; c <= cap; c++)
            for (uint32_t k = 1; k <= s; k++) {
                size_t w = (size_t)(2 * k - 1) * (2 * k - 1);
                if (w > c)
                    break;
                int64_t v = best[c - w] + (int64_t)k * k;
                if (v > next[c])
                    next[c] = v;
            }
        int64_t *t = best;
        best = next;
        next = t;
    }
    uint64_t r = (uint64_t)best[cap];
    free(best);
    free(next);
    return r;
}

static double urand(void) { return (double)(test_rand() >> 11) / 9007199254740992.0; }

static double gauss(void)
{
    double u = urand() + 1e-300, v = urand();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void random_unit(float *x, size_t d, int sparse)
{
    double n2 = 0;
    for (size_t i = 0; i < d; i++) {
        double g = gauss();
        if (sparse && (test_rand() % 4))
            g = 0;
        x[i] = (float)g;
        n2 += g * g;
    }
    if (n2 == 0) {
        x[0] = 1;
        n2 = 1;
    }
    for (size_t i = 0; i < d; i++)
        x[i] = (float)(x[i] / sqrt(n2));
}

static void test_rounding(void)
{
    /* Halves round away from zero, symmetric in sign. */
    CHECK(hers_quant_value(0.25, 2) == 1);
    CHECK(hers_quant_value(-0.25, 2) == -1);
    CHECK(hers_quant_value(0.75, 2) == 2);
    CHECK(hers_quant_value(-0.75, 2) == -2);
    CHECK(hers_quant_value(-0.2, 2) == 0);
    CHECK(hers_quant_value(-0.3, 2) == -1);
    CHECK(hers_quant_value(-0.0, 125) == 0);
    CHECK(hers_quant_value(-0.125, 4) == -1);    /* -0.5 exactly -> -1 */
    CHECK(hers_quant_value(0.125, 4) == 1);
    CHECK(hers_quant_value(-0.124, 4) == 0);
    CHECK(hers_quant_value(-0.375, 4) == -2);    /* -1.5 -> -2 */
    CHECK(hers_quant_value(0.5, 125) == 63);     /* 62.5 -> 63 */
    CHECK(hers_quant_value(-0.5, 125) == -63);
    /* Clamping. */
    CHECK(hers_quant_value(1.0, 125) == 125);
    CHECK(hers_quant_value(1.5, 125) == 125);
    CHECK(hers_quant_value(-7.0, 125) == -125);
    CHECK(hers_quant_value(INFINITY, 9) == 9);
    CHECK(hers_quant_value(-INFINITY, 9) == -9);
    CHECK(hers_quant_value(NAN, 9) == 0);
    for (int i = 0; i < 10000; i++) {
        double x = 2.4 * urand() - 1.2;
        uint32_t s = 1 + (uint32_t)(test_rand() % 2000);
        int32_t a = hers_quant_value(x, s), b = hers_quant_value(-x, s);
        CHECK(a == -b);
        CHECK(a >= -(int32_t)s && a <= (int32_t)s);
        if (fabs(x) <= 1.0)
            CHECK(fabs((double)a - x * s) <= 0.5 + 1e-9);
    }
}

static void test_bound(void)
{
    /* Closed forms. */
    CHECK_EQ_U64(hers_quant_score_bound(1, 125), 15625);           /* (a) d s^2 */
    CHECK_EQ_U64(hers_quant_score_bound(64, 125), 16641);          /* (b) 129^2 */
    CHECK_EQ_U64(hers_quant_score_bound(784, 125), 19321);         /* (b) 139^2 */
    CHECK_EQ_U64(hers_quant_score_bound(62500, 125), 62500);       /* (b) = (c) */
    CHECK_EQ_U64(hers_quant_score_bound(100000, 125), 62500);      /* (c) */
    CHECK_EQ_U64(hers_quant_min_modulus(64, 125), 33283);
    CHECK_EQ_U64(hers_quant_score_bound(0, 125), 0);
    CHECK_EQ_U64(hers_quant_score_bound(64, 0), 0);
    /* The edges of every regime against an exact integer oracle: B is the
     * largest integer with B <= d s^2, B <= 4 s^2 and 4B - 4s^2 - d <= 4 s
     * sqrt(d), i.e. (4B - 4s^2 - d)^2 <= 16 s^2 d when the left side is >= 0. */
    static const uint32_t scales[] = {1, 2, 3, 125, 126, 500, 4096, 32766, 32767};
    for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
        uint32_t s = scales[si];
        uint64_t s2 = (uint64_t)s * s;
        size_t ds[] = {1, 2, 3, 4, 63, 64, 65, (size_t)(4 * s2 - 1), (size_t)(4 * s2),
                       (size_t)(4 * s2 + 1), HERS_QUANT_MAX_DIM - 1, HERS_QUANT_MAX_DIM};
        for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++) {
            size_t d = ds[di];
            if (d < 1 || d > HERS_QUANT_MAX_DIM)
                continue;
            uint64_t lim = (uint64_t)d * s2 < 4 * s2 ? (uint64_t)d * s2 : 4 * s2;
#define FITS(B) ((__int128)4 * (B) - 4 * (__int128)s2 - (__int128)d < 0 ||                          \
                 ((__int128)4 * (B) - 4 * (__int128)s2 - (__int128)d) *                            \
                         ((__int128)4 * (B) - 4 * (__int128)s2 - (__int128)d) <=                   \
                     (__int128)16 * s2 * d)
            /* start near the real value, then step to the exact largest B */
            long double est = (long double)s + sqrtl((long double)d) / 2;
            uint64_t want = (uint64_t)(est * est);
            if (want > lim)
                want = lim;
            while (want > 0 && !FITS(want))
                want--;
            while (want < lim && FITS(want + 1))
                want++;
#undef FITS
            CHECK_EQ_U64(hers_quant_score_bound(d, s), want);
            CHECK_EQ_U64(hers_quant_score_bound(d, s), want);   /* the same function */
        }
    }
    CHECK_EQ_U64(hers_quant_score_bound(HERS_QUANT_MAX_DIM + 1, 125), 0);
    CHECK_EQ_U64(hers_quant_score_bound(64, HERS_QUANT_MAX_SCALE + 1), 0);
    CHECK_EQ_U64(hers_quant_score_bound(64, HERS_QUANT_MAX_SCALE + 1), 0);
    /* (b) against a floating-point evaluation, with integer-exact corners. */
    for (int i = 0; i < 2000; i++) {
        size_t d = 1 + test_rand() % 4096;
        uint32_t s = 1 + (uint32_t)(test_rand() % 4000);
        double b = pow(s + sqrt((double)d) / 2, 2);
        double m = fmin(fmin((double)d * s * s, b), 4.0 * s * s);
        uint64_t got = hers_quant_score_bound(d, s);
        CHECK(fabs((double)got - floor(m)) <= 1.0);
        CHECK((double)got <= m * (1 + 1e-12));
        CHECK(hers_quant_score_bound(d, s + 1) >= got);
        CHECK(hers_quant_score_bound(d + 1, s) >= got);
    }
    /* Valid and (for d >= 4 s^2) tight against the exact oracle. */
    uint32_t smax = getenv("HERS_TEST_QUICK") ? 6 : 10;
    for (uint32_t s = 1; s <= smax; s++)
        for (size_t d = 1; d <= 4 * (size_t)s * s + 3; d += (d < 20 ? 1 : 7)) {
            uint64_t exact = oracle_max_norm2(d, s);
            uint64_t b = hers_quant_score_bound(d, s);
            CHECK(exact <= b);
            if (d == 1 || d >= 4 * (size_t)s * s)
                CHECK(exact == b);
        }
    /* The worst case is reached: s = 8, d = 256, x_i = 1/16 (exact halves). */
    float x[256];
    int32_t q[256];
    for (int i = 0; i < 256; i++)
        x[i] = (i & 1) ? 0.0625f : -0.0625f;
    CHECK_OK(hers_quant_vector(x, 256, 8, q));
    CHECK(hers_quant_dot(q, q, 256) == (int64_t)hers_quant_score_bound(256, 8));
}

static void test_check(void)
{
    CHECK_OK(hers_quant_check(64, 125, 33283));
    CHECK_OK(hers_quant_check(64, 125, 1032193)); /* the authors' t */
    CHECK_OK(hers_quant_check(512, 125, 1032193));
    CHECK(hers_quant_check(64, 125, 33282) == HERS_ERR_PARAMS);
    CHECK(strstr(hers_last_error(), "33283") != NULL);
    CHECK(hers_quant_check(64, 125, 65536) == HERS_OK);
    CHECK(hers_quant_check(0, 125, 1032193) == HERS_ERR_PARAMS);
    CHECK(hers_quant_check(64, 0, 1032193) == HERS_ERR_PARAMS);
    CHECK(hers_quant_check(64, HERS_QUANT_MAX_SCALE + 1, UINT64_MAX) == HERS_ERR_PARAMS);
    for (int i = 0; i < 200; i++) {
        size_t d = 1 + test_rand() % 2048;
        uint64_t t = 3 + test_rand() % 5000000;
        uint32_t s = hers_quant_max_scale(d, t);
        if (s) {
            CHECK_OK(hers_quant_check(d, s, t));
        }
        if (s < HERS_QUANT_MAX_SCALE)
            CHECK(hers_quant_check(d, s + 1, t) == HERS_ERR_PARAMS);
    }
}

/* The default scale: the largest with no wrap, at its edges. */
static void test_default_scale(void)
{
    const uint64_t t = 1032193; /* every built-in parameter set */
    CHECK(hers_quant_default_scale(16, t) == 716);
    CHECK(hers_quant_default_scale(64, t) == 714);
    CHECK(hers_quant_default_scale(1, t) == 718);   /* (a): 2 s^2 < t */
    CHECK(hers_quant_default_scale(HERS_QUANT_MAX_DIM, t) == 359); /* (c): 8 s^2 < t */
    CHECK(hers_quant_default_scale(64, 3) == 0);     /* B(64, 1) = 4: 8 >= 3 */
    CHECK(hers_quant_default_scale(1, 2) == 0);     /* t <= 2: nothing is safe */
    CHECK(hers_quant_default_scale(1, 3) == 1);     /* scores in {-1, 0, 1} */
    CHECK(hers_quant_default_scale(0, t) == 0);
    CHECK(hers_quant_default_scale(HERS_QUANT_MAX_DIM + 1, t) == 0);
    for (size_t d = 1; d <= 1024; d = d < 8 ? d + 1 : d * 2) {
        uint32_t s = hers_quant_default_scale(d, t);
        CHECK(s >= HERS_QUANT_PAPER_SCALE); /* never below the paper's at these d */
        CHECK_OK(hers_quant_check(d, s, t));
        CHECK(hers_quant_check(d, s + 1, t) == HERS_ERR_PARAMS);
        CHECK(2 * hers_quant_score_bound(d, s) < t && 2 * hers_quant_score_bound(d, s + 1) >= t);
    }
}

static void test_vectors(void)
{
    /* Norm rules. */
    float x[8] = {0.6f, 0.8f, 0, 0, 0, 0, 0, 0};
    int32_t q[8];
    CHECK_OK(hers_quant_vector(x, 8, 125, q));
    CHECK(q[0] == 75 && q[1] == 100 && q[2] == 0);
    x[0] = -0.6f;
    CHECK_OK(hers_quant_vector(x, 8, 125, q));
    CHECK(q[0] == -75 && q[1] == 100);
    x[1] = 0.8004f; /* norm 1.0003: rescaled to 1 */
    CHECK_OK(hers_quant_vector(x, 8, 125, q));
    CHECK(q[0] == -75 && q[1] == 100);
    x[1] = 0.9f; /* norm 1.08: rejected */
    CHECK(hers_quant_vector(x, 8, 125, q) == HERS_ERR_ARG);
    x[1] = NAN;
    CHECK(hers_quant_vector(x, 8, 125, q) == HERS_ERR_ARG);
    CHECK(hers_quant_vector(x, 0, 125, q) == HERS_ERR_ARG);
    CHECK(hers_quant_vector(x, 8, 0, q) == HERS_ERR_ARG);

    /* Random matrices: ||q||^2 within the bound, error within its ceiling,
     * measure_error equal to a direct computation. */
    size_t dims[] = {1, 3, 16, 64, 128, 512};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        size_t d = dims[di], ng = 150, np = 40;
        uint32_t s = di % 2 ? 125 : (uint32_t)(1 + test_rand() % 300);
        hers_matrix g = {0}, p = {0};
        CHECK_OK(hers_matrix_alloc(&g, ng, d));
        CHECK_OK(hers_matrix_alloc(&p, np, d));
        for (size_t r = 0; r < ng; r++)
            random_unit(g.data + r * d, d, r % 3 == 0);
        for (size_t r = 0; r < np; r++)
            random_unit(p.data + r * d, d, r % 5 == 0);
        hers_qmatrix qg = {0}, qp = {0};
        CHECK_OK(hers_quant_matrix(&g, s, &qg));
        CHECK_OK(hers_quant_matrix(&p, s, &qp));
        uint64_t bound = hers_quant_score_bound(d, s);
        double ceil_err = hers_quant_error_bound(d, s);
        double maxe = 0, sume = 0;
        int64_t maxs = 0;
        for (size_t r = 0; r < ng; r++)
            CHECK((uint64_t)hers_quant_dot(qg.data + r * d, qg.data + r * d, d) <= bound);
        for (size_t i = 0; i < np; i++)
            for (size_t j = 0; j < ng; j++) {
                double c = 0;
                for (size_t k = 0; k < d; k++)
                    c += (double)p.data[i * d + k] * g.data[j * d + k];
                int64_t sc = hers_quant_dot(qp.data + i * d, qg.data + j * d, d);
                CHECK((uint64_t)llabs(sc) <= bound);
                double e = fabs(c - (double)sc / ((double)s * s));
                CHECK(e <= ceil_err + 1e-5);
                maxe = fmax(maxe, e);
                sume += e;
                if (llabs(sc) > maxs)
                    maxs = llabs(sc);
            }
        hers_quant_error er;
        CHECK_OK(hers_quant_measure_error(&g, &p, s, &er));
        CHECK_EQ_U64(er.pairs, ng * np);
        CHECK(fabs(er.max_abs - maxe) < 1e-9);
        CHECK(fabs(er.mean_abs - sume / (double)(ng * np)) < 1e-9);
        CHECK(er.max_score == maxs);
        /* Dequantised floats and exact integers. */
        hers_matrix back = {0};
        CHECK_OK(hers_qmatrix_to_float(&qg, 0, &back));
        CHECK(back.data[5 % (ng * d)] == (float)qg.data[5 % (ng * d)]);
        hers_matrix_free(&back);
        CHECK_OK(hers_qmatrix_to_float(&qg, 1, &back));
        CHECK(fabsf(back.data[0] - (float)qg.data[0] / (float)s) < 1e-6f);
        hers_matrix_free(&back);
        hers_qmatrix_free(&qg);
        hers_qmatrix_free(&qp);
        hers_matrix_free(&g);
        hers_matrix_free(&p);
    }
}

int main(void)
{
    test_rand_seed(test_seed());
    test_rounding();
    test_bound();
    test_check();
    test_default_scale();
    test_vectors();
    return test_finish();
}
