/* cmd_eval.c - `hers eval`: identification, retrieval and verification
 * accuracy of a gallery / probe pair, in float and (with --quantize) with
 * the exact integer scores the encrypted search produces. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "hers/hers_metrics.h"
#include "hers/hers_plot.h"
#include "hers/hers_quant.h"

static const char *const eval_opts[] = {"--gallery", "--gallery-labels", "--probe",
                                        "--probe-labels", "--in", "--labels",
                                        "--gallery-per-id", "--k", "--quantize", "--threads",
                                        "--verif-pairs", "--error-pairs", "--roc-svg", "--row",
                                        "--dim", "--split-out", "--max-probes", NULL};
static const char *const eval_flags[] = {"--json", "--no-normalize", "--row-header", "--int-only",
                                         "--help", "-h", NULL};

#define N_FARS 3
static const double fars[N_FARS] = {1e-2, 1e-3, 1e-4};
#define ROC_POINTS 200

static void eval_usage(void)
{
    printf(
        "usage: hers eval --gallery G --gallery-labels GL --probe P --probe-labels PL\n"
        "                 [--k 100] [--quantize S] [--json] [--roc-svg F] [--threads T]\n"
        "       hers eval --in X --labels L --gallery-per-id N [...]\n\n"
        "Scores every probe against every gallery row (inner product of unit vectors =\n"
        "cosine; brute force with OpenBLAS) and reports:\n"
        "  identification  rank-1 / rank-5 / rank-10: a probe is correct at rank r if a\n"
        "                  gallery row with its label is among its r best (ties by row id)\n"
        "  retrieval       mAP@k (AP normalised by min(k, #mates)), mAP@k normalised by the\n"
        "                  mates retrieved (hashing convention), precision@k, recall@k\n"
        "  verification    TAR at FAR 1e-2, 1e-3, 1e-4 and the EER over genuine (same label)\n"
        "                  and impostor pairs (accept iff score > threshold)\n"
        "Vectors: .npy, .fvecs, .bvecs, IDX; labels: .npy, IDX, text. Rows are\n"
        "L2-normalised unless already unit (|norm - 1| <= 1e-5) or --no-normalize.\n\n"
        "  --in X --labels L --gallery-per-id N   split one labelled set by identity: the\n"
        "                  first N rows of every label form the gallery, the rest probes\n"
        "  --split-out PREFIX  with --in: write PREFIX-gallery.npy, PREFIX-gallery-labels.npy,\n"
        "                  PREFIX-probe.npy, PREFIX-probe-labels.npy and stop\n"
        "  --max-probes N  evaluate an evenly strided subset of N probes\n"
        "  --k K           retrieval cut-off and top-k depth (default 100)\n"
        "  --quantize S    also evaluate the integer scores <round(S x), round(S y)> of\n"
        "                  the encrypted search (exact), and the score error vs the cosine\n"
        "  --verif-pairs N verification uses at most N probe x gallery pairs (default\n"
        "                  20000000): the first probes of an evenly strided subset; 0 = off\n"
        "  --int-only      with --quantize: skip the float evaluation\n"
        "  --error-pairs N pairs for the quantisation error statistics (default 5000000)\n"
        "  --threads T     top-k threads (default: online CPUs)\n"
        "  --roc-svg F     write the ROC curve(s) as an SVG chart\n"
        "  --json          one JSON object instead of the table\n"
        "  --row NAME      one tab-separated result line (see --row-header) for scripts\n"
        "  --dim D         dimension of raw float32 input (.f32/.raw/.bin)\n");
}

typedef struct eval_metrics {
    size_t k;
    double rank[3];          /* rank-1, -5, -10 (NaN if k smaller) */
    hers_retrieval ret;
    size_t verif_probes, n_gen, n_imp;
    hers_roc_point tar[N_FARS];
    double eer;
    hers_roc_point curve[ROC_POINTS];
    size_t n_curve;
    double seconds;
} eval_metrics;

static int read_matrix(const char *cmd, const char *path, uint64_t dim, hers_matrix *m)
{
    hers_status st;
    if (hers_vec_format_from_path(path) == HERS_FMT_RAW) {
        if (!dim)
            return cli_usage(cmd, "%s: raw float32 input needs --dim", path);
        st = hers_matrix_read_raw(path, (size_t)dim, m);
    } else {
        st = hers_matrix_read(path, m);
    }
    if (st != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    return 0;
}

static int read_labels(const char *cmd, const char *path, size_t rows, hers_labels *l)
{
    if (hers_labels_read(path, l) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    if (l->count != rows) {
        size_t n = l->count;
        hers_labels_free(l);
        return cli_fail(cmd, "%s: %zu labels for %zu vectors", path, n, rows);
    }
    return 0;
}

/* L2-normalises the rows that are not unit already (so unit rows keep
 * their exact bits, and quantise exactly as the encrypted search does). */
static void normalize_non_unit(hers_matrix *m)
{
    for (size_t r = 0; r < m->rows; r++) {
        float *x = m->data + r * m->cols;
        double n2 = 0;
        for (size_t i = 0; i < m->cols; i++)
            n2 += (double)x[i] * x[i];
        double n = sqrt(n2);
        if (n > 0 && fabs(n - 1.0) > 1e-5)
            for (size_t i = 0; i < m->cols; i++)
                x[i] = (float)(x[i] / n);
    }
}

/* Evenly strided subset of `want` rows (matrix and labels). */
static hers_status subset_rows(const hers_matrix *m, const hers_labels *l, size_t want,
                               hers_matrix *mo, hers_labels *lo)
{
    uint8_t *mask = hers_alloc(m->rows);
    if (!mask)
        return hers_error(HERS_ERR_NOMEM, "subset mask");
    for (size_t i = 0; i < want; i++)
        mask[(size_t)((double)i * (double)m->rows / (double)want)] = 1;
    hers_status st = hers_select_rows(m, l, mask, 1, mo, lo);
    hers_free(mask);
    return st;
}

static int run_metrics(const char *cmd, const hers_matrix *g, const hers_labels *gl,
                       const hers_matrix *p, const hers_labels *pl, size_t k, unsigned threads,
                       uint64_t verif_pairs, eval_metrics *out)
{
    memset(out, 0, sizeof *out);
    double t0 = cli_now();
    hers_scan_opts o = {threads, 0, 0};
    size_t depth = k < 10 ? 10 : k;
    hers_topk t;
    if (hers_topk_search(g, p, depth, &o, &t) != HERS_OK)
        return cli_fail_lib(cmd, "scoring");
    hers_ident id;
    hers_status st = hers_ident_eval(&t, gl, pl, &id);
    if (st == HERS_OK) {
        const size_t ranks[3] = {1, 5, 10};
        for (int i = 0; i < 3; i++)
            out->rank[i] = ranks[i] <= id.max_rank ? id.cmc[ranks[i] - 1] : NAN;
        hers_ident_free(&id);
        out->k = k < t.k ? k : t.k;
        st = hers_retrieval_eval(&t, out->k, gl, pl, &out->ret);
    }
    hers_topk_free(&t);
    if (st != HERS_OK)
        return cli_fail_lib(cmd, "metrics");
    out->eer = NAN;
    if (verif_pairs > 0) {
        size_t used = (size_t)(verif_pairs / g->rows);
        if (used < 1)
            used = 1;
        if (used > p->rows)
            used = p->rows;
        hers_matrix ps = {0};
        hers_labels pls = {0};
        hers_pairs pairs = {0};
        st = subset_rows(p, pl, used, &ps, &pls);
        if (st == HERS_OK)
            st = hers_pairs_collect(g, gl, &ps, &pls, &o, &pairs);
        hers_matrix_free(&ps);
        hers_labels_free(&pls);
        if (st != HERS_OK)
            return cli_fail_lib(cmd, "verification pairs");
        out->verif_probes = used;
        out->n_gen = pairs.n_gen;
        out->n_imp = pairs.n_imp;
        if (pairs.n_gen && pairs.n_imp) {
            hers_roc roc;
            st = hers_roc_build(pairs.gen, pairs.n_gen, pairs.imp, pairs.n_imp, &roc);
            for (int i = 0; st == HERS_OK && i < N_FARS; i++)
                st = hers_roc_tar_at_far(&roc, fars[i], &out->tar[i]);
            if (st == HERS_OK) {
                out->eer = hers_roc_eer(&roc);
                out->n_curve = hers_roc_curve(&roc, out->curve, ROC_POINTS);
                hers_roc_free(&roc);
            }
        }
        hers_pairs_free(&pairs);
        if (st != HERS_OK)
            return cli_fail_lib(cmd, "ROC");
    }
    out->seconds = cli_now() - t0;
    return 0;
}

/* ---- output ---- */

static void json_num(const char *key, double v, int comma)
{
    if (isfinite(v))
        printf("\"%s\": %.6g%s", key, v, comma ? ", " : "");
    else
        printf("\"%s\": null%s", key, comma ? ", " : "");
}

static void json_metrics(const eval_metrics *m)
{
    printf("{");
    json_num("rank1", m->rank[0], 1);
    json_num("rank5", m->rank[1], 1);
    json_num("rank10", m->rank[2], 1);
    printf("\"k\": %zu, ", m->k);
    json_num("map", m->ret.map, 1);
    json_num("map_retrieved", m->ret.map_retrieved, 1);
    json_num("precision", m->ret.precision, 1);
    json_num("recall", m->ret.recall, 1);
    printf("\"evaluated\": %zu, \"no_mate\": %zu, ", m->ret.evaluated, m->ret.no_mate);
    printf("\"verification\": {\"probes\": %zu, \"genuine\": %zu, \"impostor\": %zu, ",
           m->verif_probes, m->n_gen, m->n_imp);
    printf("\"tar_at_far\": [");
    for (int i = 0; i < N_FARS && m->n_gen && m->n_imp; i++) {
        printf("%s{", i ? ", " : "");
        json_num("far", fars[i], 1);
        json_num("tar", m->tar[i].tar, 1);
        json_num("threshold", m->tar[i].threshold, 1);
        json_num("far_achieved", m->tar[i].far, 0);
        printf("}");
    }
    printf("], ");
    json_num("eer", m->eer, 0);
    printf("}, \"seconds\": %.3f}", m->seconds);
}

static void pct(double v)
{
    if (isfinite(v))
        printf(" %12.2f", 100.0 * v);
    else
        printf(" %12s", "-");
}

static void text_row(const char *name, const eval_metrics *f, const eval_metrics *q, int idx)
{
    double a = 0, b = 0;
    for (int which = 0; which < (q ? 2 : 1); which++) {
        const eval_metrics *m = which ? q : f;
        double v;
        switch (idx) {
        case 0: case 1: case 2: v = m->rank[idx]; break;
        case 3: v = m->ret.map; break;
        case 4: v = m->ret.map_retrieved; break;
        case 5: v = m->ret.precision; break;
        case 6: case 7: case 8: v = m->n_gen && m->n_imp ? m->tar[idx - 6].tar : NAN; break;
        default: v = m->eer; break;
        }
        if (which == 0) {
            printf("%-24s", name);
            a = v;
        } else {
            b = v;
        }
        pct(v);
    }
    if (q) {
        if (isfinite(a) && isfinite(b))
            printf(" %+12.2f", 100.0 * (b - a));
    }
    printf("\n");
}

static void print_text(size_t ng, size_t np, size_t d, const eval_metrics *f,
                       const eval_metrics *q, const char *fname, uint32_t s,
                       const hers_quant_error *qe)
{
    printf("gallery %zu x %zu, probes %zu; %zu probes evaluated (%zu without a mate)\n", ng, d,
           np, f->ret.evaluated, f->ret.no_mate);
    if (f->verif_probes)
        printf("verification: %zu probes x %zu gallery = %zu genuine + %zu impostor pairs\n",
               f->verif_probes, ng, f->n_gen, f->n_imp);
    char qh[32];
    snprintf(qh, sizeof qh, "int s=%u", s);
    printf("%-24s %12s", "metric (%)", fname);
    if (q)
        printf(" %12s %12s", qh, "delta");
    printf("\n");
    char name[64];
    const char *names[] = {"rank-1", "rank-5", "rank-10", NULL, NULL, NULL,
                           "TAR @ FAR=1e-2", "TAR @ FAR=1e-3", "TAR @ FAR=1e-4", "EER"};
    for (int i = 0; i < 10; i++) {
        if (i == 3)
            snprintf(name, sizeof name, "mAP@%zu", f->k);
        else if (i == 4)
            snprintf(name, sizeof name, "mAP@%zu (retrieved)", f->k);
        else if (i == 5)
            snprintf(name, sizeof name, "P@%zu", f->k);
        else
            snprintf(name, sizeof name, "%s", names[i]);
        text_row(name, f, q, i);
    }
    printf("%-24s %12.2f", "time (s)", f->seconds);
    if (q)
        printf(" %12.2f", q->seconds);
    printf("\n");
    if (qe) {
        printf("quantisation: scale %u, |score| <= %llu (worst case), smallest safe t = %llu\n",
               s, (unsigned long long)hers_quant_score_bound(d, s),
               (unsigned long long)hers_quant_min_modulus(d, s));
        printf("score error |cos - int/s^2| over %llu pairs: max %.3g, mean %.3g, rms %.3g "
               "(ceiling %.3g); max |int score| seen %lld\n",
               (unsigned long long)qe->pairs, qe->max_abs, qe->mean_abs, qe->rms,
               hers_quant_error_bound(d, s), (long long)qe->max_score);
    }
}

static void print_row(const char *name, size_t d, const eval_metrics *m, const char *kind,
                      const hers_quant_error *qe)
{
    printf("%s\t%zu\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f", name, d, kind, 100 * m->rank[0],
           100 * m->rank[1], 100 * m->ret.map, 100 * m->ret.map_retrieved,
           100 * m->ret.precision);
    for (int i = 0; i < N_FARS; i++)
        printf("\t%.4f", m->n_gen && m->n_imp ? 100 * m->tar[i].tar : NAN);
    printf("\t%.2f", m->seconds);
    if (qe && qe->pairs)
        printf("\t%.3g\t%.3g\t%.3g\n", qe->max_abs, qe->mean_abs, qe->rms);
    else
        printf("\tnan\tnan\tnan\n");
}

static int write_roc(const char *cmd, const char *path, const eval_metrics *f,
                     const eval_metrics *q, const char *fname, uint32_t s)
{
    double fx[ROC_POINTS], fy[ROC_POINTS], qx[ROC_POINTS], qy[ROC_POINTS];
    for (size_t i = 0; i < f->n_curve; i++) {
        fx[i] = f->curve[i].far;
        fy[i] = f->curve[i].tar;
    }
    char qname[48];
    snprintf(qname, sizeof qname, "quantised (s = %u)", s);
    hers_plot_series se[2] = {{fname, f->n_curve, fx, fy}, {qname, 0, qx, qy}};
    if (q) {
        for (size_t i = 0; i < q->n_curve; i++) {
            qx[i] = q->curve[i].far;
            qy[i] = q->curve[i].tar;
        }
        se[1].n = q->n_curve;
    }
    hers_plot p = {0};
    p.title = "ROC";
    p.x_label = "false accept rate";
    p.y_label = "true accept rate";
    p.log_x = 1;
    p.y_min = 0;
    p.y_max = 1;
    p.n_series = q ? 2 : 1;
    p.series = se;
    if (f->n_curve == 0)
        return cli_fail(cmd, "--roc-svg: no verification pairs (see --verif-pairs)");
    if (hers_plot_svg_write(path, &p) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    return 0;
}

int hers_cmd_eval(int argc, char **argv)
{
    const char *cmd = "eval";
    if (cli_flag(argc, argv, "--help") || cli_flag(argc, argv, "-h")) {
        eval_usage();
        return 0;
    }
    if (cli_flag(argc, argv, "--row-header")) {
        printf("name\tdim\tscores\trank1\trank5\tmap\tmap_retrieved\tprecision\ttar_1e-2\t"
               "tar_1e-3\ttar_1e-4\tseconds\terr_max\terr_mean\terr_rms\n");
        if (argc == 2)
            return 0;
    }
    if (cli_check_opts(cmd, argc, argv, eval_opts, eval_flags))
        return 2;
    uint64_t k, s, threads, verif, errp, dim, gpi, maxp;
    if (cli_opt_u64(cmd, argc, argv, "--k", 100, 1, 1000000, &k) ||
        cli_opt_u64(cmd, argc, argv, "--quantize", 0, 1, HERS_QUANT_MAX_SCALE, &s) ||
        cli_opt_u64(cmd, argc, argv, "--threads", 0, 0, 64, &threads) ||
        cli_opt_u64(cmd, argc, argv, "--verif-pairs", 20000000, 0, UINT64_MAX, &verif) ||
        cli_opt_u64(cmd, argc, argv, "--error-pairs", 5000000, 0, UINT64_MAX, &errp) ||
        cli_opt_u64(cmd, argc, argv, "--dim", 0, 1, HERS_IO_MAX_DIM, &dim) ||
        cli_opt_u64(cmd, argc, argv, "--gallery-per-id", 0, 1, UINT32_MAX, &gpi) ||
        cli_opt_u64(cmd, argc, argv, "--max-probes", 0, 1, UINT64_MAX, &maxp))
        return 2;
    const char *gp = cli_opt(argc, argv, "--gallery"), *glp = cli_opt(argc, argv, "--gallery-labels");
    const char *pp = cli_opt(argc, argv, "--probe"), *plp = cli_opt(argc, argv, "--probe-labels");
    const char *in = cli_opt(argc, argv, "--in"), *lp = cli_opt(argc, argv, "--labels");
    hers_matrix g = {0}, p = {0};
    hers_labels gl = {0}, pl = {0};
    int rc = 0;
    if (in) {
        if (!lp || !gpi || gp || pp)
            return cli_usage(cmd, "--in needs --labels and --gallery-per-id (and no --gallery "
                                 "/ --probe)");
        hers_matrix x = {0};
        hers_labels xl = {0};
        if (read_matrix(cmd, in, dim, &x))
            return 1;
        if (read_labels(cmd, lp, x.rows, &xl)) {
            hers_matrix_free(&x);
            return 1;
        }
        uint8_t *mask = hers_alloc(x.rows);
        hers_status st = mask ? hers_split_by_identity(&xl, (size_t)gpi, mask)
                              : hers_error(HERS_ERR_NOMEM, "split mask");
        if (st == HERS_OK)
            st = hers_select_rows(&x, &xl, mask, 1, &g, &gl);
        if (st == HERS_OK)
            st = hers_select_rows(&x, &xl, mask, 0, &p, &pl);
        hers_free(mask);
        hers_matrix_free(&x);
        hers_labels_free(&xl);
        if (st != HERS_OK) {
            hers_matrix_free(&g);
            hers_labels_free(&gl);
            return cli_fail(cmd, "%s: split by identity: %s", in, hers_last_error());
        }
    } else {
        if (!gp || !glp || !pp || !plp)
            return cli_usage(cmd, "--gallery, --gallery-labels, --probe and --probe-labels are "
                                 "required (or --in, --labels, --gallery-per-id)");
        if (read_matrix(cmd, gp, dim, &g) || read_labels(cmd, glp, g.rows, &gl) ||
            read_matrix(cmd, pp, dim, &p) || read_labels(cmd, plp, p.rows, &pl)) {
            rc = 1;
            goto done;
        }
    }
    const char *split_out = cli_opt(argc, argv, "--split-out");
    if (split_out) {
        if (!in) {
            rc = cli_usage(cmd, "--split-out needs --in, --labels and --gallery-per-id");
            goto done;
        }
        const char *suffix[4] = {"gallery.npy", "gallery-labels.npy", "probe.npy",
                                 "probe-labels.npy"};
        for (int i = 0; i < 4 && rc == 0; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s-%s", split_out, suffix[i]);
            hers_status st = i == 0   ? hers_matrix_write(path, &g)
                             : i == 1 ? hers_labels_write(path, &gl)
                             : i == 2 ? hers_matrix_write(path, &p)
                                      : hers_labels_write(path, &pl);
            if (st != HERS_OK)
                rc = cli_fail(cmd, "%s", hers_last_error());
        }
        if (rc == 0)
            printf("split %s: gallery %zu rows, probes %zu rows -> %s-*.npy\n", in, g.rows,
                   p.rows, split_out);
        goto done;
    }
    if (maxp && maxp < p.rows) {
        hers_matrix ps = {0};
        hers_labels pls = {0};
        if (subset_rows(&p, &pl, (size_t)maxp, &ps, &pls) != HERS_OK) {
            rc = cli_fail_lib(cmd, "probe subset");
            goto done;
        }
        hers_matrix_free(&p);
        hers_labels_free(&pl);
        p = ps;
        pl = pls;
    }
    if (g.cols != p.cols) {
        rc = cli_fail(cmd, "gallery has %zu dimensions but probes have %zu", g.cols, p.cols);
        goto done;
    }
    if (!cli_flag(argc, argv, "--no-normalize")) {
        normalize_non_unit(&g);
        normalize_non_unit(&p);
    }

    eval_metrics *fm = hers_alloc(sizeof *fm), *qm = NULL;
    hers_quant_error qe = {0};
    if (!fm) {
        rc = cli_fail(cmd, "out of memory");
        goto done;
    }
    int int_only = cli_flag(argc, argv, "--int-only");
    if (int_only && !s) {
        rc = cli_usage(cmd, "--int-only needs --quantize S");
        hers_free(fm);
        goto done;
    }
    if (!int_only)
        rc = run_metrics(cmd, &g, &gl, &p, &pl, (size_t)k, (unsigned)threads, verif, fm);
    if (rc == 0 && s) {
        uint64_t bound = hers_quant_score_bound(g.cols, (uint32_t)s);
        if (bound > ((uint64_t)1 << 24)) {
            rc = cli_fail(cmd, "--quantize %llu: scores up to %llu exceed 2^24, not exact in "
                               "float scoring; use a scale <= 2047",
                          (unsigned long long)s, (unsigned long long)bound);
        } else {
            /* Integer scores: the quantised integers as floats; every
             * partial sum is an integer <= bound <= 2^24, hence exact. */
            hers_qmatrix qg = {0}, qp = {0};
            hers_matrix ig = {0}, ip = {0};
            hers_status st = hers_quant_matrix(&g, (uint32_t)s, &qg);
            if (st == HERS_OK)
                st = hers_quant_matrix(&p, (uint32_t)s, &qp);
            if (st == HERS_OK)
                st = hers_qmatrix_to_float(&qg, 0, &ig);
            if (st == HERS_OK)
                st = hers_qmatrix_to_float(&qp, 0, &ip);
            if (st == HERS_OK && errp > 0) {
                size_t used = (size_t)(errp / g.rows);
                used = used < 1 ? 1 : used > p.rows ? p.rows : used;
                hers_matrix ps = {0};
                st = subset_rows(&p, NULL, used, &ps, NULL);
                if (st == HERS_OK)
                    st = hers_quant_measure_error(&g, &ps, (uint32_t)s, &qe);
                hers_matrix_free(&ps);
            }
            hers_qmatrix_free(&qg);
            hers_qmatrix_free(&qp);
            if (st != HERS_OK) {
                rc = cli_fail_lib(cmd, "quantisation");
            } else if (!(qm = hers_alloc(sizeof *qm))) {
                rc = cli_fail(cmd, "out of memory");
            } else {
                rc = run_metrics(cmd, &ig, &gl, &ip, &pl, (size_t)k, (unsigned)threads, verif,
                                 qm);
            }
            hers_matrix_free(&ig);
            hers_matrix_free(&ip);
        }
    }
    if (rc == 0) {
        const char *row = cli_opt(argc, argv, "--row");
        char kind[32];
        snprintf(kind, sizeof kind, "int%llu", (unsigned long long)s);
        if (cli_flag(argc, argv, "--json")) {
            printf("{\"gallery\": %zu, \"probes\": %zu, \"dim\": %zu, \"k\": %zu, \"float\": ",
                   g.rows, p.rows, g.cols, int_only ? qm->k : fm->k);
            if (int_only)
                printf("null");
            else
                json_metrics(fm);
            if (qm) {
                printf(", \"quantized\": ");
                json_metrics(qm);
                printf(", \"scale\": %llu, \"score_bound\": %llu, \"min_modulus\": %llu, ",
                       (unsigned long long)s,
                       (unsigned long long)hers_quant_score_bound(g.cols, (uint32_t)s),
                       (unsigned long long)hers_quant_min_modulus(g.cols, (uint32_t)s));
                if (!int_only)
                    printf("\"delta_rank1\": %.6g, ", qm->rank[0] - fm->rank[0]);
                printf("\"error\": {\"pairs\": %llu, \"max_abs\": %.6g, \"mean_abs\": %.6g, "
                       "\"rms\": %.6g, \"bound\": %.6g, \"max_score\": %lld}",
                       (unsigned long long)qe.pairs, qe.max_abs, qe.mean_abs, qe.rms,
                       hers_quant_error_bound(g.cols, (uint32_t)s), (long long)qe.max_score);
            }
            printf("}\n");
        } else if (row) {
            if (!int_only)
                print_row(row, g.cols, fm, "float", NULL);
            if (qm)
                print_row(row, g.cols, qm, kind, &qe);
        } else {
            print_text(g.rows, p.rows, g.cols, int_only ? qm : fm, int_only ? NULL : qm,
                       int_only ? kind : "float", (uint32_t)s, qm ? &qe : NULL);
        }
        const char *svg = cli_opt(argc, argv, "--roc-svg");
        if (svg)
            rc = write_roc(cmd, svg, int_only ? qm : fm, int_only ? NULL : qm,
                           int_only ? kind : "float", (uint32_t)s);
    }
    hers_free(fm);
    hers_free(qm);
done:
    hers_matrix_free(&g);
    hers_matrix_free(&p);
    hers_labels_free(&gl);
    hers_labels_free(&pl);
    return rc;
}
