/* test_metrics.c - top-k (ties by id, across tiles and threads), CMC,
 * mAP@k / P@k on hand-computed cases, TAR at FAR against a brute-force
 * oracle, ROC monotonicity, exact integer scores, float vs integer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_metrics.h"
#include "hers/hers_quant.h"
#include "support/check.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-9)

static void set_matrix(hers_matrix *m, size_t rows, size_t cols, const float *v)
{
    CHECK_OK(hers_matrix_alloc(m, rows, cols));
    memcpy(m->data, v, rows * cols * sizeof(float));
}

static void set_labels(hers_labels *l, size_t n, const int32_t *v)
{
    CHECK_OK(hers_labels_alloc(l, n));
    memcpy(l->data, v, n * sizeof(int32_t));
}

/* The 5-gallery / 3-probe case worked out by hand (see the comments). */
static void test_hand_case(void)
{
    /* gallery: g0 (1,0) g1 (0,1) g2 (1,0) g3 (.6,.8) g4 (-1,0) */
    const float gv[] = {1, 0, 0, 1, 1, 0, 0.6f, 0.8f, -1, 0};
    const int32_t glv[] = {0, 1, 1, 0, 2};
    /* probes: p0 (1,0) label 1; p1 (0,1) label 0; p2 (1,0) label 7 */
    const float pv[] = {1, 0, 0, 1, 1, 0};
    const int32_t plv[] = {1, 0, 7};
    hers_matrix g, p;
    hers_labels gl, pl;
    set_matrix(&g, 5, 2, gv);
    set_matrix(&p, 3, 2, pv);
    set_labels(&gl, 5, glv);
    set_labels(&pl, 3, plv);
    /* p0 scores 1,0,1,.6,-1 -> ids 0,2,3,1,4 (tie 1.0 by id);
     * p1 scores 0,1,0,.8,0  -> ids 1,3,0,2,4 (ties at 0 by id). */
    const uint32_t want0[] = {0, 2, 3, 1, 4}, want1[] = {1, 3, 0, 2, 4};
    for (unsigned threads = 1; threads <= 3; threads++)
        for (size_t blk = 1; blk <= 6; blk += 2) {
            hers_scan_opts o = {threads, blk, blk};
            hers_topk t;
            CHECK_OK(hers_topk_search(&g, &p, 10, &o, &t));
            CHECK(t.k == 5 && t.probes == 3);
            CHECK(memcmp(t.ids, want0, sizeof want0) == 0);
            CHECK(memcmp(t.ids + 5, want1, sizeof want1) == 0);
            CHECK(t.scores[0] == 1.0f && t.scores[1] == 1.0f && t.scores[4] == -1.0f);
            hers_topk_free(&t);
        }
    hers_topk t;
    CHECK_OK(hers_topk_search(&g, &p, 5, NULL, &t));
    hers_ident id;
    CHECK_OK(hers_ident_eval(&t, &gl, &pl, &id));
    CHECK(id.evaluated == 2 && id.no_mate == 1 && id.max_rank == 5);
    CHECK(NEAR(id.cmc[0], 0.0) && NEAR(id.cmc[1], 1.0) && NEAR(id.cmc[4], 1.0));
    hers_ident_free(&id);
    /* AP@5: p0 mates at 2, 4: (1/2 + 2/4) / 2 = 1/2; p1 at 2, 3:
     * (1/2 + 2/3) / 2 = 7/12; mAP = 13/24. P@5 = 2/5. */
    hers_retrieval r;
    CHECK_OK(hers_retrieval_eval(&t, 5, &gl, &pl, &r));
    CHECK(r.evaluated == 2 && r.no_mate == 1);
    CHECK(NEAR(r.map, 13.0 / 24.0));
    CHECK(NEAR(r.map_retrieved, 13.0 / 24.0));
    CHECK(NEAR(r.precision, 0.4));
    CHECK(NEAR(r.recall, 1.0));
    /* @2: one mate each at rank 2: AP = (1/2)/2, hashing AP = 1/2, P = 1/2. */
    CHECK_OK(hers_retrieval_eval(&t, 2, &gl, &pl, &r));
    CHECK(NEAR(r.map, 0.25) && NEAR(r.map_retrieved, 0.5) && NEAR(r.precision, 0.5));
    CHECK(NEAR(r.recall, 0.5));
    CHECK(hers_retrieval_eval(&t, 6, &gl, &pl, &r) == HERS_ERR_ARG);
    /* Verification pairs: genuine = same label. */
    hers_pairs pr;
    CHECK_OK(hers_pairs_collect(&g, &gl, &p, &pl, NULL, &pr));
    CHECK(pr.n_gen == 4 && pr.n_imp == 11);
    /* genuine: p0-g1 0, p0-g2 1, p1-g0 0, p1-g3 .8 */
    double sg = 0;
    for (size_t i = 0; i < pr.n_gen; i++)
        sg += pr.gen[i];
    CHECK(fabs(sg - 1.8) < 1e-6);
    hers_pairs_free(&pr);
    hers_topk_free(&t);
    /* Errors. */
    CHECK(hers_topk_search(&g, &p, 0, NULL, &t) == HERS_ERR_ARG);
    hers_matrix bad;
    set_matrix(&bad, 1, 3, (const float[]){1, 0, 0});
    CHECK(hers_topk_search(&g, &bad, 1, NULL, &t) == HERS_ERR_ARG);
    hers_matrix_free(&bad);
    set_matrix(&bad, 1, 2, (const float[]){NAN, 0});
    CHECK(hers_topk_search(&g, &bad, 1, NULL, &t) == HERS_ERR_ARG);
    hers_matrix_free(&bad);
    hers_matrix_free(&g);
    hers_matrix_free(&p);
    hers_labels_free(&gl);
    hers_labels_free(&pl);
}

static void test_split(void)
{
    const int32_t lv[] = {3, 1, 3, 3, 1, 2, -5, -5};
    hers_labels l;
    set_labels(&l, 8, lv);
    uint8_t mask[8];
    CHECK_OK(hers_split_by_identity(&l, 1, mask));
    const uint8_t want[] = {1, 1, 0, 0, 0, 1, 1, 0};
    CHECK(memcmp(mask, want, 8) == 0);
    CHECK_OK(hers_split_by_identity(&l, 2, mask));
    const uint8_t want2[] = {1, 1, 1, 0, 1, 1, 1, 1};
    CHECK(memcmp(mask, want2, 8) == 0);
    hers_labels sel;
    CHECK_OK(hers_select_rows(NULL, &l, mask, 0, NULL, &sel));
    CHECK(sel.count == 1 && sel.data[0] == 3);
    hers_labels_free(&sel);
    hers_labels_free(&l);
}

/* ---- exact-oracle comparisons ---- */

struct scored {
    float s;
    uint32_t id;
};

static int cmp_scored(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static double urand(void) { return (double)(test_rand() >> 11) / 9007199254740992.0; }

static void random_unit_rows(hers_matrix *m, size_t rows, size_t d)
{
    CHECK_OK(hers_matrix_alloc(m, rows, d));
    for (size_t r = 0; r < rows; r++) {
        double n2 = 0;
        for (size_t i = 0; i < d; i++) {
            double v = urand() - 0.5;
            m->data[r * d + i] = (float)v;
            n2 += v * v;
        }
        for (size_t i = 0; i < d; i++)
            m->data[r * d + i] = (float)(m->data[r * d + i] / sqrt(n2));
    }
}

static void test_topk_oracle(void)
{
    int quick = getenv("HERS_TEST_QUICK") != NULL;
    size_t ng = quick ? 300 : 1500, np = quick ? 20 : 60;
    size_t dims[] = {3, 32, 200};
    for (size_t di = 0; di < 3; di++) {
        size_t d = dims[di];
        hers_matrix g, p;
        random_unit_rows(&g, ng, d);
        random_unit_rows(&p, np, d);
        /* Small scale: many exactly tied integer scores. */
        uint32_t s = di == 0 ? 2 : 125;
        hers_qmatrix qg = {0}, qp = {0};
        CHECK_OK(hers_quant_matrix(&g, s, &qg));
        CHECK_OK(hers_quant_matrix(&p, s, &qp));
        size_t k = 37;
        hers_scan_opts o1 = {1, 7, 101}, o2 = {2, 0, 0};
        hers_topk a, b;
        CHECK_OK(hers_topk_search_quant(&qg, &qp, k, &o1, &a));
        CHECK_OK(hers_topk_search_quant(&qg, &qp, k, &o2, &b));
        CHECK(memcmp(a.ids, b.ids, np * k * sizeof(uint32_t)) == 0);
        CHECK(memcmp(a.scores, b.scores, np * k * sizeof(float)) == 0);
        struct scored *all = malloc(ng * sizeof *all);
        size_t bad = 0;
        for (size_t i = 0; i < np; i++) {
            for (size_t j = 0; j < ng; j++) {
                int64_t sc = hers_quant_dot(qp.data + i * d, qg.data + j * d, d);
                all[j] = (struct scored){(float)sc, (uint32_t)j};
            }
            qsort(all, ng, sizeof *all, cmp_scored);
            for (size_t j = 0; j < k; j++)
                bad += all[j].id != a.ids[i * k + j] || all[j].s != a.scores[i * k + j];
        }
        CHECK(bad == 0);
        /* Float top-k against the same oracle on float scores. */
        hers_topk f;
        CHECK_OK(hers_topk_search(&g, &p, k, &o1, &f));
        hers_topk f2;
        CHECK_OK(hers_topk_search(&g, &p, k, &o2, &f2));
        size_t agree = 0;
        for (size_t i = 0; i < np * k; i++)
            agree += f.ids[i] == f2.ids[i];
        /* Different tilings may round the last float bit differently;
         * near-ties aside, the lists agree. */
        CHECK(agree >= np * k * 9 / 10);
        for (size_t i = 0; i < np; i++)
            for (size_t j = 1; j < k; j++) {
                float s0 = f.scores[i * k + j - 1], s1 = f.scores[i * k + j];
                CHECK(s0 > s1 || (s0 == s1 && f.ids[i * k + j - 1] < f.ids[i * k + j]));
            }
        free(all);
        hers_topk_free(&a);
        hers_topk_free(&b);
        hers_topk_free(&f);
        hers_topk_free(&f2);
        hers_qmatrix_free(&qg);
        hers_qmatrix_free(&qp);
        hers_matrix_free(&g);
        hers_matrix_free(&p);
    }
    /* Scale whose bound exceeds 2^24: refused. */
    hers_matrix g1;
    random_unit_rows(&g1, 4, 8);
    hers_qmatrix q1 = {0};
    CHECK_OK(hers_quant_matrix(&g1, 5000, &q1));
    hers_topk t;
    CHECK(hers_topk_search_quant(&q1, &q1, 2, NULL, &t) == HERS_ERR_PARAMS);
    hers_qmatrix_free(&q1);
    /* The largest exact scale: integer scores equal to int64 dots. */
    CHECK_OK(hers_quant_matrix(&g1, 2047, &q1));
    CHECK_OK(hers_topk_search_quant(&q1, &q1, 4, NULL, &t));
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++) {
            uint32_t id = t.ids[i * 4 + j];
            CHECK((int64_t)t.scores[i * 4 + j] ==
                  hers_quant_dot(q1.data + i * 8, q1.data + (size_t)id * 8, 8));
        }
    hers_topk_free(&t);
    hers_qmatrix_free(&q1);
    hers_matrix_free(&g1);
}

/* Float and integer scores give identical metrics on vectors whose
 * components are multiples of 1/s (q = s x exactly, float scores exact). */
static void test_float_vs_int(void)
{
    const uint32_t s = 4;
    const float pat[][4] = {{1, 0, 0, 0},           {0, 1, 0, 0},       {0, 0, 1, 0},
                            {0.5f, 0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f, -0.5f},
                            {-0.5f, 0.5f, 0.5f, 0.5f}, {0, 0, 0, -1},      {-1, 0, 0, 0}};
    size_t ng = 64, np = 16, d = 4;
    hers_matrix g, p;
    hers_labels gl, pl;
    CHECK_OK(hers_matrix_alloc(&g, ng, d));
    CHECK_OK(hers_matrix_alloc(&p, np, d));
    CHECK_OK(hers_labels_alloc(&gl, ng));
    CHECK_OK(hers_labels_alloc(&pl, np));
    for (size_t i = 0; i < ng; i++) {
        size_t c = test_rand() % 8;
        memcpy(g.data + i * d, pat[c], sizeof pat[c]);
        gl.data[i] = (int32_t)(c % 3);
    }
    for (size_t i = 0; i < np; i++) {
        size_t c = test_rand() % 8;
        memcpy(p.data + i * d, pat[c], sizeof pat[c]);
        pl.data[i] = (int32_t)(c % 3);
    }
    hers_qmatrix qg = {0}, qp = {0};
    CHECK_OK(hers_quant_matrix(&g, s, &qg));
    CHECK_OK(hers_quant_matrix(&p, s, &qp));
    hers_topk tf, tq;
    CHECK_OK(hers_topk_search(&g, &p, 20, NULL, &tf));
    CHECK_OK(hers_topk_search_quant(&qg, &qp, 20, NULL, &tq));
    CHECK(memcmp(tf.ids, tq.ids, np * 20 * sizeof(uint32_t)) == 0);
    for (size_t i = 0; i < np * 20; i++)
        CHECK(tf.scores[i] * (float)(s * s) == tq.scores[i]);
    hers_ident a, b;
    CHECK_OK(hers_ident_eval(&tf, &gl, &pl, &a));
    CHECK_OK(hers_ident_eval(&tq, &gl, &pl, &b));
    CHECK(memcmp(a.cmc, b.cmc, 20 * sizeof(double)) == 0);
    hers_retrieval ra, rb;
    CHECK_OK(hers_retrieval_eval(&tf, 20, &gl, &pl, &ra));
    CHECK_OK(hers_retrieval_eval(&tq, 20, &gl, &pl, &rb));
    CHECK(ra.map == rb.map && ra.precision == rb.precision);
    /* Verification: the same operating points (thresholds scaled by s^2). */
    hers_matrix fg, fp;
    CHECK_OK(hers_qmatrix_to_float(&qg, 0, &fg));
    CHECK_OK(hers_qmatrix_to_float(&qp, 0, &fp));
    hers_pairs pa, pb;
    CHECK_OK(hers_pairs_collect(&g, &gl, &p, &pl, NULL, &pa));
    CHECK_OK(hers_pairs_collect(&fg, &gl, &fp, &pl, NULL, &pb));
    hers_roc roa, rob;
    CHECK_OK(hers_roc_build(pa.gen, pa.n_gen, pa.imp, pa.n_imp, &roa));
    CHECK_OK(hers_roc_build(pb.gen, pb.n_gen, pb.imp, pb.n_imp, &rob));
    const double fars[] = {1e-2, 1e-1, 0.3};
    for (int i = 0; i < 3; i++) {
        hers_roc_point x, y;
        CHECK_OK(hers_roc_tar_at_far(&roa, fars[i], &x));
        CHECK_OK(hers_roc_tar_at_far(&rob, fars[i], &y));
        CHECK(x.tar == y.tar && x.far == y.far && x.threshold * (s * s) == y.threshold);
    }
    hers_roc_free(&roa);
    hers_roc_free(&rob);
    hers_pairs_free(&pa);
    hers_pairs_free(&pb);
    hers_matrix_free(&fg);
    hers_matrix_free(&fp);
    hers_ident_free(&a);
    hers_ident_free(&b);
    hers_topk_free(&tf);
    hers_topk_free(&tq);
    hers_qmatrix_free(&qg);
    hers_qmatrix_free(&qp);
    hers_matrix_free(&g);
    hers_matrix_free(&p);
    hers_labels_free(&gl);
    hers_labels_free(&pl);
}

static void test_roc_hand(void)
{
    const float gen[] = {0.3f, 0.9f, 0.8f, 0.8f};
    const float imp[] = {0.1f, 0.85f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f, -0.1f, -0.2f};
    hers_roc r;
    CHECK_OK(hers_roc_build(gen, 4, imp, 10, &r));
    CHECK(r.gen[0] == 0.9f && r.gen[3] == 0.3f && r.imp[0] == 0.85f && r.imp[9] == -0.2f);
    struct {
        double far, got_far, tar, th;
    } cases[] = {{0.0, 0.0, 0.25, 0.85},  {1e-3, 0.0, 0.25, 0.85}, {0.1, 0.1, 0.75, 0.5},
                 {0.2, 0.2, 0.75, 0.4},   {0.35, 0.3, 0.75, 0.3},  {0.4, 0.4, 1.0, 0.2},
                 {0.6, 0.5, 1.0, 0.1}, /* tie at 0.1 rejected */ {1.0, 1.0, 1.0, -INFINITY}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hers_roc_point pt;
        CHECK_OK(hers_roc_tar_at_far(&r, cases[i].far, &pt));
        CHECK(NEAR(pt.far, cases[i].got_far));
        CHECK(NEAR(pt.tar, cases[i].tar));
        CHECK(pt.threshold == (double)(float)cases[i].th || pt.threshold == cases[i].th);
    }
    hers_roc_point pt;
    CHECK(hers_roc_tar_at_far(&r, 1.5, &pt) == HERS_ERR_ARG);
    CHECK(hers_roc_tar_at_far(&r, NAN, &pt) == HERS_ERR_ARG);
    CHECK(fabs(hers_roc_eer(&r) - 0.25) < 1e-9);
    hers_roc_free(&r);
    CHECK(hers_roc_build(gen, 0, imp, 10, &r) == HERS_ERR_ARG);
}

static void test_roc_oracle(void)
{
    for (int trial = 0; trial < 40; trial++) {
        size_t ng = 1 + test_rand() % 60, ni = 1 + test_rand() % 300;
        float *g = malloc(ng * sizeof *g), *im = malloc(ni * sizeof *im);
        /* Coarse values: plenty of ties, negative zero and negatives. */
        for (size_t i = 0; i < ng; i++)
            g[i] = (float)((int)(test_rand() % 21) - 8) / 8.0f;
        for (size_t i = 0; i < ni; i++)
            im[i] = (float)((int)(test_rand() % 21) - 12) / 8.0f;
        if (ni > 3)
            im[3] = -0.0f;
        hers_roc r;
        CHECK_OK(hers_roc_build(g, ng, im, ni, &r));
        for (size_t i = 1; i < ni; i++)
            CHECK(r.imp[i - 1] >= r.imp[i]);
        for (size_t i = 1; i < ng; i++)
            CHECK(r.gen[i - 1] >= r.gen[i]);
        const double fars[] = {0, 1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.33, 0.5, 0.9, 1};
        double prev_tar = -1, prev_far = -1;
        for (int f = 0; f < 10; f++) {
            hers_roc_point pt;
            CHECK_OK(hers_roc_tar_at_far(&r, fars[f], &pt));
            /* Oracle: best TAR over every threshold "score > t", t in the
             * scores or -inf, subject to FAR <= target. */
            double best = -1;
            for (size_t c = 0; c <= ni + ng; c++) {
                double t = c < ni ? im[c] : c < ni + ng ? g[c - ni] : -INFINITY;
                size_t fa = 0, ta = 0;
                for (size_t i = 0; i < ni; i++)
                    fa += im[i] > t;
                for (size_t i = 0; i < ng; i++)
                    ta += g[i] > t;
                if ((double)fa <= fars[f] * (double)ni + 1e-9 && (double)ta / (double)ng > best)
                    best = (double)ta / (double)ng;
            }
            CHECK(NEAR(pt.tar, best));
            CHECK(pt.far <= fars[f] + 1e-12);
            CHECK(pt.tar >= prev_tar && pt.far >= prev_far);
            prev_tar = pt.tar;
            prev_far = pt.far;
        }
        hers_roc_point pts[50];
        size_t n = hers_roc_curve(&r, pts, 50);
        CHECK(n >= 1 && n <= 50);
        for (size_t i = 1; i < n; i++)
            CHECK(pts[i].far >= pts[i - 1].far && pts[i].tar >= pts[i - 1].tar);
        CHECK(pts[n - 1].far == 1.0 && pts[n - 1].tar == 1.0);
        double eer = hers_roc_eer(&r);
        CHECK(eer >= 0 && eer <= 1);
        hers_roc_free(&r);
        free(g);
        free(im);
    }
}

int main(void)
{
    test_rand_seed(test_seed());
    test_hand_case();
    test_split();
    test_topk_oracle();
    test_float_vs_int();
    test_roc_hand();
    test_roc_oracle();
    return test_finish();
}
