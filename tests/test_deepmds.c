/* test_deepmds.c - DeepMDS++: chain and widths, gradients of every
 * parameter block against central finite differences, a tiny training run
 * that lowers its loss and is deterministic for a seed. */
#include <cblas.h>
#include <math.h>
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

static void test_chain(void)
{
    size_t outs[16], n, w[4];
    CHECK_OK(hers_reduce_chain(784, 64, outs, 16, &n));
    CHECK(n == 3 && outs[0] == 256 && outs[1] == 128 && outs[2] == 64);
    CHECK_OK(hers_reduce_chain(512, 16, outs, 16, &n));
    CHECK(n == 5 && outs[0] == 256 && outs[4] == 16);
    CHECK_OK(hers_reduce_chain(784, 400, outs, 16, &n));
    CHECK(n == 1 && outs[0] == 400);
    CHECK(hers_reduce_chain(64, 65, outs, 16, &n) == HERS_ERR_ARG);
    CHECK(hers_reduce_chain(64, 0, outs, 16, &n) == HERS_ERR_ARG);
    hers_reduce_stage_widths(512, 256, w);
    CHECK(w[0] == 512 && w[1] == 427 && w[2] == 342 && w[3] == 256);
    hers_reduce_stage_widths(10, 3, w);
    CHECK(w[1] == 8 && w[2] == 6 && w[3] == 3);
}

/* Loss of the batch for the current weights (no weight decay). */
static double batch_loss(dm_net *net, const float *x, size_t rows, size_t dims, const float *sx,
                         size_t np, float *dz, float *scratch)
{
    const float *z = dm_forward(net, x, rows);
    return dm_loss(z, dims, sx, np, np, 1.0, 0.7, 10.0, 0.5, dz, scratch, NULL);
}

static void test_gradients(uint8_t variant)
{
    size_t in = 12, outs[2] = {7, 3}, np = 5, rows = 4 * np;
    hers_reduce_model *m = reduce_model_new(), *g = reduce_model_new();
    CHECK(m && g);
    m->method = HERS_REDUCE_DEEPMDS;
    m->in_dim = g->in_dim = in;
    m->out_dim = g->out_dim = 3;
    CHECK_OK(reduce_model_alloc_stages(m, in, outs, 2));
    CHECK_OK(reduce_model_alloc_stages(g, in, outs, 2));
    uint8_t seed[32] = {7};
    seed[1] = variant;
    hers_prg prg;
    hers_prg_init(&prg, seed, 0);
    for (size_t s = 0; s < 2; s++)
        dm_stage_init_xavier(&m->stages[s], &prg);
    /* Non-zero biases so that their gradients are exercised. */
    dm_param prm[DM_MAX_PARAMS], grd[DM_MAX_PARAMS];
    size_t n = dm_params(m, 2, prm);
    dm_params(g, 2, grd);
    for (size_t i = 0; i < n; i++)
        if (!prm[i].is_weight)
            for (size_t j = 0; j < prm[i].n; j++)
                prm[i].p[j] = (float)(0.2 * hers_prg_normal(&prg));
    float *x = hers_alloc_array(rows * in, sizeof(float));
    float sx[10];
    for (size_t i = 0; i < rows * in; i++)
        x[i] = (float)hers_prg_normal(&prg);
    reduce_normalize_rows(x, rows, in, NULL);
    for (size_t i = 0; i < 2 * np; i++)
        sx[i] = (float)(2 * hers_prg_double(&prg) - 1);
    dm_net net;
    CHECK_OK(dm_net_init(&net, m, rows));
    float *dz = hers_alloc_array(rows * in, sizeof(float));
    float *scratch = hers_alloc_array(in * in + rows * in + 16, sizeof(float));
    batch_loss(&net, x, rows, 3, sx, np, dz, scratch);
    dm_backward(&net, dz, rows, g);
    /* Central differences in float. The losses have kinks (|.|, ReLU, and
     * many of them in a small batch), so an entry is checked at three step
     * sizes (1e-3, 3e-4, 1e-4: rounding noise <= ~1e-3) and passes if one of
     * them agrees with the analytic value; a wrong gradient fails at all
     * three. At most 1% of the entries may straddle kinks at every scale. */
    static const double steps[3] = {1e-3, 3e-4, 1e-4};
    size_t bad_all = 0, total_all = 0;
    for (size_t i = 0; i < n; i++) {
        double big = 0;
        size_t bad = 0;
        for (size_t j = 0; j < prm[i].n; j++) {
            float keep = prm[i].p[j];
            double an = grd[i].p[j];
            int ok = 0;
            for (int e = 0; e < 3 && !ok; e++) {
                prm[i].p[j] = (float)(keep + steps[e]);
                double lp = batch_loss(&net, x, rows, 3, sx, np, dz, scratch);
                prm[i].p[j] = (float)(keep - steps[e]);
                double lm = batch_loss(&net, x, rows, 3, sx, np, dz, scratch);
                prm[i].p[j] = keep;
                double fd = (lp - lm) / (2 * steps[e]);
                ok = fabs(fd - an) <= 0.02 * fabs(an) + 1e-3;
            }
            if (fabs(an) > big)
                big = fabs(an);
            if (!ok) {
                fprintf(stderr, "  block %zu entry %zu: analytic %.6g disagrees\n", i, j, an);
                bad++;
            }
        }
        CHECK(big > 0); /* every block receives gradient */
        bad_all += bad;
        total_all += prm[i].n;
    }
    fprintf(stderr, "  gradient check: %zu parameters in %zu blocks, %zu unconfirmed\n",
            total_all, n, bad_all);
    CHECK(100 * bad_all <= total_all);
    dm_net_free(&net);
    hers_free(x);
    hers_free(dz);
    hers_free(scratch);
    hers_reduce_model_free(m);
    hers_reduce_model_free(g);
}

/* Identity-clustered data: k identities in d dims, noisy unit vectors. */
static void make_data(size_t n, size_t d, size_t k, hers_matrix *x, hers_labels *l)
{
    CHECK_OK(hers_matrix_alloc(x, n, d));
    CHECK_OK(hers_labels_alloc(l, n));
    uint8_t seed[32] = {42};
    hers_prg g;
    hers_prg_init(&g, seed, 9);
    float *c = hers_alloc_array(k * d, sizeof(float));
    /* Centres in a 6-d subspace so the data has a low intrinsic dimension. */
    for (size_t i = 0; i < k * d; i++)
        c[i] = (i % d) < 6 ? (float)hers_prg_normal(&g) : 0.0f;
    for (size_t r = 0; r < n; r++) {
        size_t id = r % k;
        l->data[r] = (int32_t)id;
        for (size_t j = 0; j < d; j++)
            x->data[r * d + j] = c[id * d + j] + (float)(0.3 * hers_prg_normal(&g));
    }
    hers_free(c);
}

typedef struct run_log {
    double first, last;
    int calls;
} run_log;

static int on_progress(void *user, const hers_deepmds_progress *p)
{
    run_log *lg = user;
    double l = p->loss_sim + p->loss_cov;
    if (lg->calls++ == 0)
        lg->first = l;
    lg->last = l;
    CHECK(p->val_tar >= 0 && p->val_tar <= 1);
    if (getenv("HERS_TEST_VERBOSE"))
        fprintf(stderr, "  stage %zu step %llu sim %.4f cov %.4f tar %.3f (input %.3f)\n",
                p->stage, (unsigned long long)p->step, p->loss_sim, p->loss_cov, p->val_tar,
                p->val_tar_input);
    return 0;
}

static void test_training(void)
{
    hers_matrix x;
    hers_labels l;
    size_t n = quick() ? 400 : 1200;
    make_data(n, 24, 12, &x, &l);
    hers_deepmds_options o;
    hers_deepmds_options_default(&o, n, 24, 4);
    o.steps = quick() ? 40 : 120;
    o.pairs = 32;
    o.candidates = 96;
    o.hard_start = 0; /* no mining: the mined batch gets harder as it trains */
    o.hard_end = 0;
    o.lr = 3e-3;
    o.val_size = 200;
    o.report_every = 10;
    o.pca_init = 0; /* from Xavier, so the loss has room to fall */
    o.seed = 1234;
    run_log lg = {0};
    hers_reduce_model *a = NULL, *b = NULL;
    CHECK_OK(hers_deepmds_fit(&x, &l, &o, on_progress, &lg, &a));
    CHECK(lg.calls > 0 && lg.last < lg.first);
    fprintf(stderr, "  tiny run: loss %.4f -> %.4f over %d reports\n", lg.first, lg.last,
            lg.calls);
    CHECK(a && a->n_stages == 2 && a->out_dim == 4);
    /* Same seed: bit-identical model (same id); another seed differs. */
    CHECK_OK(hers_deepmds_fit(&x, &l, &o, NULL, NULL, &b));
    uint8_t ia[HERS_MODEL_ID_BYTES], ib[HERS_MODEL_ID_BYTES];
    CHECK_OK(hers_reduce_model_id(a, ia));
    CHECK_OK(hers_reduce_model_id(b, ib));
    CHECK(memcmp(ia, ib, sizeof ia) == 0);
    hers_reduce_model_free(b);
    o.seed = 99;
    o.pca_init = 1;
    CHECK_OK(hers_deepmds_fit(&x, &l, &o, NULL, NULL, &b));
    CHECK_OK(hers_reduce_model_id(b, ib));
    CHECK(memcmp(ia, ib, sizeof ia) != 0);
    /* Outputs are unit vectors. */
    hers_matrix z;
    CHECK_OK(hers_reduce_apply(b, &x, &z));
    CHECK(z.rows == n && z.cols == 4);
    double worst = 0;
    for (size_t r = 0; r < z.rows; r++) {
        double s = 0;
        for (size_t j = 0; j < 4; j++)
            s += (double)z.data[r * 4 + j] * z.data[r * 4 + j];
        if (fabs(s - 1) > worst)
            worst = fabs(s - 1);
    }
    CHECK(worst < 1e-5);
    /* Bad inputs are rejected. */
    hers_reduce_model *c = NULL;
    o.dim = 25;
    CHECK(hers_deepmds_fit(&x, &l, &o, NULL, NULL, &c) == HERS_ERR_ARG && c == NULL);
    o.dim = 4;
    for (size_t r = 0; r < n; r++)
        l.data[r] = 3;
    CHECK(hers_deepmds_fit(&x, &l, &o, NULL, NULL, &c) == HERS_ERR_ARG && c == NULL);
    hers_matrix_free(&z);
    hers_reduce_model_free(a);
    hers_reduce_model_free(b);
    hers_matrix_free(&x);
    hers_labels_free(&l);
}

int main(void)
{
    test_rand_seed(test_seed());
    /* One BLAS thread: GEMM results do not depend on the thread count
     * then, and tests stay light on a shared machine. */
    openblas_set_num_threads(1);
    test_chain();
    /* Fixed networks: with random ones, a few draws in a hundred put more
     * than 1% of the entries next to kinks at every step size. */
    for (uint8_t v = 1; v <= 3; v++)
        test_gradients(v);
    test_training();
    return test_finish();
}
