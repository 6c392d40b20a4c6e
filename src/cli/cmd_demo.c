/* cmd_demo.c - `hers demo`: the whole HERS pipeline on Fashion-MNIST, in
 * memory (no store), with a table, --json and an HTML/SVG report. See
 * src/cli/demo.h for the flow and docs/benchmarks.md "## Demo" for timings. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/demo.h"
#include "core/pool.h"
#include "hers/hers_idim.h"
#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "hers/hers_reduce.h"
#include "hers/hers_search.h"
#include "hers/hers_synth.h"

#define CMD "demo"

/* Default number of test images searched encrypted: all 10,000 (the whole
 * test set; `make demo` takes ~4 minutes on 2 idle cores, see
 * docs/benchmarks.md "## Demo"). --probes N searches a subset. */
#define DEMO_DEFAULT_PROBES 10000
#define DEMO_DEFAULT_STEPS 200

static void demo_usage(void)
{
    printf("usage: hers demo [--out DIR] [--probes N] [--dim D] [--steps S] [--threads T]\n"
           "                 [--quick] [--synthetic] [--json] [--data DIR] [--batch B]\n"
           "                 [--gallery N] [--id-sample N] [--params NAME] [--no-sweep]\n\n"
           "End-to-end HERS on Fashion-MNIST (Debian's dataset-fashion-mnist): intrinsic\n"
           "dimension, DeepMDS++ and PCA compression, quantisation, BFV keys, encrypted\n"
           "enrolment of the 60,000 training images, encrypted search of test images,\n"
           "decryption, and a check that every decrypted score equals the plaintext one.\n"
           "Prints an accuracy / time / size table and writes DIR/report.html.\n\n"
           "  --out DIR       report directory (default demo-out)\n"
           "  --probes N      test images searched encrypted (default %d; plaintext\n"
           "                  rows use every test image)\n"
           "  --dim D         compressed dimension (default: next power of two >= the\n"
           "                  estimated intrinsic dimension, at least 8)\n"
           "  --steps S       DeepMDS++ training steps per stage (default %d)\n"
           "  --threads T     worker threads (default: online CPUs)\n"
           "  --batch B       probes per pass over the encrypted gallery (default 32)\n"
           "  --gallery N     use only the first N training images\n"
           "  --id-sample N   images used by the ID estimator (default 3000)\n"
           "  --params NAME   BFV parameter set (default n4096)\n"
           "  --no-sweep      skip the accuracy-vs-dimension sweep (extra DeepMDS++ fits)\n"
           "  --quick         tiny run for tests: 3000 gallery, 100 probes, 30 steps,\n"
           "                  no sweep; synthetic data if Fashion-MNIST is absent\n"
           "  --synthetic     synthetic identity-clustered 256-d data instead\n"
           "  --data DIR      Fashion-MNIST directory (default %s)\n"
           "  --json          print one JSON object with every number on stdout (the\n"
           "                  table then goes to stderr)\n",
           DEMO_DEFAULT_PROBES, DEMO_DEFAULT_STEPS, HERS_FASHION_MNIST_DIR);
}

/* ---------------------------------------------------------------- data */

typedef struct demo_data {
    hers_matrix g, p;
    hers_labels gl, pl;
} demo_data;

static void data_free(demo_data *d)
{
    hers_matrix_free(&d->g);
    hers_matrix_free(&d->p);
    hers_labels_free(&d->gl);
    hers_labels_free(&d->pl);
}

static int load_synthetic(const demo_cfg *cfg, demo_data *d)
{
    size_t ids = 20, gn = cfg->gallery_limit ? cfg->gallery_limit : 20000;
    size_t pn = cfg->eval_limit ? cfg->eval_limit : 2000;
    size_t gper = (gn + ids - 1) / ids, pper = (pn + ids - 1) / ids;
    hers_synth_params sp;
    hers_synth_defaults(&sp);
    sp.identities = ids;
    sp.per_identity = gper + pper;
    sp.dim = 256;
    sp.latent_dim = 12;
    sp.nonlinear = 1;
    sp.spread = 0.5;
    sp.seed = 7;
    sp.threads = cfg->threads;
    hers_matrix x = {0};
    hers_labels l = {0};
    uint8_t *mask = NULL;
    int rc = 1;
    if (hers_synth_generate(&sp, &x, &l) != HERS_OK) {
        cli_fail_lib(CMD, "synthetic data");
        goto out;
    }
    mask = hers_alloc(l.count);
    if (!mask || hers_split_by_identity(&l, gper, mask) != HERS_OK ||
        hers_select_rows(&x, &l, mask, 1, &d->g, &d->gl) != HERS_OK ||
        hers_select_rows(&x, &l, mask, 0, &d->p, &d->pl) != HERS_OK) {
        cli_fail_lib(CMD, "synthetic data split");
        goto out;
    }
    rc = 0;
out:
    hers_free(mask);
    hers_matrix_free(&x);
    hers_labels_free(&l);
    return rc;
}

static int load_fashion(const demo_cfg *cfg, demo_data *d)
{
    const char *dir = cfg->data_dir ? cfg->data_dir : HERS_FASHION_MNIST_DIR;
    if (hers_fashion_mnist_load(dir, "train", &d->g, &d->gl) != HERS_OK ||
        hers_fashion_mnist_load(dir, "t10k", &d->p, &d->pl) != HERS_OK) {
        cli_fail(CMD, "%s: %s (install Debian's dataset-fashion-mnist: "
                      "./scripts/setup-deps --demo, or use --synthetic)",
                 dir, hers_last_error());
        return 1;
    }
    /* Prefixes: the matrices keep their allocation, only the counts shrink. */
    if (cfg->gallery_limit && cfg->gallery_limit < d->g.rows)
        d->g.rows = d->gl.count = cfg->gallery_limit;
    if (cfg->eval_limit && cfg->eval_limit < d->p.rows)
        d->p.rows = d->pl.count = cfg->eval_limit;
    return 0;
}

/* --------------------------------------------------------------- steps */

typedef struct fit_ui {
    char label[40];
} fit_ui;

static int fit_progress(void *user, const hers_deepmds_progress *p)
{
    fit_ui *ui = user;
    cli_progress(ui->label, p->total_done, p->total_steps);
    return 0;
}

static void step_log(const demo_cfg *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void step_log(const demo_cfg *cfg, const char *fmt, ...)
{
    (void)cfg;
    va_list ap;
    va_start(ap, fmt);
    fputs("demo: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int fit_deepmds(const demo_cfg *cfg, const demo_data *d, size_t dim,
                       hers_reduce_model **m, uint64_t *steps_out)
{
    hers_deepmds_options o;
    hers_deepmds_options_default(&o, d->g.rows, d->g.cols, dim);
    o.steps = cfg->steps;
    o.seed = 1;
    o.threads = (int)cfg->threads;
    if (cfg->quick) {
        /* Seconds, not minutes: fewer mining candidates, no validation. */
        o.candidates = 200;
        o.val_size = 0;
    }
    fit_ui ui;
    snprintf(ui.label, sizeof ui.label, "DeepMDS++ -> %zu-d", dim);
    hers_status st = hers_deepmds_fit(&d->g, &d->gl, &o, fit_progress, &ui, m);
    cli_progress_end();
    if (st != HERS_OK)
        return cli_fail_lib(CMD, "DeepMDS++ fit");
    if (steps_out)
        *steps_out = o.steps * (*m)->n_stages;
    return 0;
}

/* Applies a model to gallery and probes. */
static int compress(const hers_reduce_model *m, const demo_data *d, hers_matrix *g,
                    hers_matrix *p)
{
    if (hers_reduce_apply(m, &d->g, g) != HERS_OK || hers_reduce_apply(m, &d->p, p) != HERS_OK)
        return cli_fail_lib(CMD, "compress");
    return 0;
}

static size_t next_pow2(size_t x)
{
    size_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

static void set_row(demo_results *r, const char *name, size_t dim, demo_acc all, demo_acc sub)
{
    if (r->n_rows >= DEMO_MAX_ROWS)
        return;
    demo_row *row = &r->rows[r->n_rows++];
    snprintf(row->name, sizeof row->name, "%s", name);
    row->dim = dim;
    row->all = all;
    row->sub = sub;
}

/* -------------------------------------------------------------- output */

static void print_acc(FILE *f, double v)
{
    if (isnan(v))
        fprintf(f, "  %7s", "-");
    else
        fprintf(f, "  %6.2f%%", 100.0 * v);
}

static void print_table(FILE *f, const demo_results *r)
{
    double np = (double)r->n_probes;
    fprintf(f, "\nhers demo: %s, gallery %zu images (%zu-d), probes %zu (%zu searched encrypted)\n",
            r->source, r->n_gallery, r->in_dim, r->n_probes_all, r->n_probes);
    if (r->id_ok)
        fprintf(f, "intrinsic dimension (%s, %zu images): %u (fit %.2f) -> compressed to %zu-d\n\n",
                r->id_method, r->id_sample, r->id, r->id_fit, r->dim);
    else
        fprintf(f, "intrinsic dimension: not estimated -> compressed to %zu-d\n\n", r->dim);
    fprintf(f, "%-32s %5s  %-16s  %-16s\n", "", "", "searched probes", "all probes");
    fprintf(f, "%-32s %5s  %7s  %7s  %7s  %7s\n", "representation", "dim", "rank-1", "mAP@100",
            "rank-1", "mAP@100");
    for (size_t i = 0; i < r->n_rows; i++) {
        const demo_row *row = &r->rows[i];
        fprintf(f, "%-32s %5zu", row->name, row->dim);
        print_acc(f, row->sub.rank1);
        print_acc(f, row->sub.map);
        print_acc(f, row->all.rank1);
        print_acc(f, row->all.map);
        fputc('\n', f);
    }
    fputc('\n', f);
    if (r->scores_wrong == 0 && r->topk_wrong == 0)
        fprintf(f, "encrypted == quantised: yes (%llu scores)\n",
                (unsigned long long)r->scores_checked);
    else
        fprintf(f, "encrypted == quantised: NO (%llu of %llu scores differ, %llu top-%d lists "
                   "differ)\n",
                (unsigned long long)r->scores_wrong, (unsigned long long)r->scores_checked,
                (unsigned long long)r->topk_wrong, DEMO_K);
    fprintf(f, "\nencrypted search: BFV %s (N = %zu, t = %llu), scale %u, %u thread(s), "
               "batches of %zu probes\n",
            r->params_name, r->ring_n, (unsigned long long)r->plain_t, r->scale, r->threads,
            r->batch);
    double tdim = (double)r->n_gallery * (double)r->dim;
    fprintf(f, "  %-26s %9.2f s\n", "keygen", r->keygen_s);
    fprintf(f, "  %-26s %9.2f s   %8.2f us per template\n", "enrol (key holder)", r->enroll_s,
            1e6 * r->enroll_s / (double)r->n_gallery);
    fprintf(f, "  %-26s %9.2f s\n", "index build (server)", r->index_s);
    fprintf(f, "  %-26s %9.2f s   %8.2f ms per probe\n", "encrypt probes (key holder)",
            r->encrypt_s, 1e3 * r->encrypt_s / np);
    fprintf(f, "  %-26s %9.2f s   %8.2f ms per probe, %.2f ns per template x dim\n",
            "search (server)", r->search_s, 1e3 * r->search_s / np,
            1e9 * r->search_s / np / tdim);
    fprintf(f, "  %-26s %9.2f s   %8.2f ms per probe\n", "decrypt + rank (key holder)",
            r->decrypt_s, 1e3 * r->decrypt_s / np);
    fprintf(f, "  bytes per template: %.1f at rest (seed-compressed gallery record), %.1f in the "
               "kernel's form\n",
            r->bytes_rest, r->bytes_kernel);
    fprintf(f, "  query upload %.1f KB per probe; result download %.1f KB per probe "
               "(%.1f B per template)\n",
            r->query_bytes / 1024.0, r->result_bytes / 1024.0,
            r->result_bytes / (double)r->n_gallery);
    if (!isnan(r->noise_bits))
        fprintf(f, "  noise budget left (probe 0, key holder only): %.1f bits\n", r->noise_bits);
    fprintf(f, "\ntimes: load %.1f s, ID %.1f s, DeepMDS++ %.1f s (%llu steps), PCA %.1f s, "
               "plaintext accuracy %.1f s; total %.1f s\n",
            r->load_s, r->id_s, r->fit_dmds_s, (unsigned long long)r->dmds_steps, r->fit_pca_s,
            r->eval_s, r->total_s);
}

/* ---------------------------------------------------------------- main */

static int parse(int argc, char **argv, demo_cfg *c)
{
    static const char *const vals[] = {"--out", "--probes", "--dim", "--steps", "--threads",
                                       "--data", "--batch", "--gallery", "--id-sample",
                                       "--params", NULL};
    static const char *const flags[] = {"--quick", "--json", "--synthetic", "--no-sweep",
                                        "--help", NULL};
    if (cli_check_opts(CMD, argc, argv, vals, flags))
        return 2;
    memset(c, 0, sizeof *c);
    c->quick = cli_flag(argc, argv, "--quick");
    c->json = cli_flag(argc, argv, "--json");
    c->synthetic = cli_flag(argc, argv, "--synthetic");
    c->sweep = !c->quick && !cli_flag(argc, argv, "--no-sweep");
    c->out_dir = cli_opt(argc, argv, "--out") ? cli_opt(argc, argv, "--out") : "demo-out";
    c->data_dir = cli_opt(argc, argv, "--data");
    c->params = cli_opt(argc, argv, "--params") ? cli_opt(argc, argv, "--params") : "n4096";
    uint64_t probes, dim, steps, threads, batch, gal, ids;
    if (cli_opt_u64(CMD, argc, argv, "--probes", c->quick ? 100 : DEMO_DEFAULT_PROBES, 1,
                    1000000, &probes) ||
        cli_opt_u64(CMD, argc, argv, "--dim", 0, 0, HERS_SEARCH_MAX_D, &dim) ||
        cli_opt_u64(CMD, argc, argv, "--steps", c->quick ? 30 : DEMO_DEFAULT_STEPS, 1, 1000000,
                    &steps) ||
        cli_opt_u64(CMD, argc, argv, "--threads", 0, 0, 64, &threads) ||
        cli_opt_u64(CMD, argc, argv, "--batch", 32, 1, 4096, &batch) ||
        cli_opt_u64(CMD, argc, argv, "--gallery", c->quick ? 3000 : 0, 0, 100000000, &gal) ||
        cli_opt_u64(CMD, argc, argv, "--id-sample", c->quick ? 1000 : 3000, 10, 100000, &ids))
        return 2;
    c->probes = (size_t)probes;
    c->dim = (size_t)dim;
    c->steps = steps;
    c->threads = (unsigned)threads;
    c->batch = (size_t)batch;
    c->gallery_limit = (size_t)gal;
    c->id_sample = (size_t)ids;
    c->eval_limit = c->quick ? c->probes : 0;
    return 0;
}

static int run(const demo_cfg *cfg, demo_results *r)
{
    demo_data d = {0};
    hers_reduce_model *dm = NULL, *pca = NULL, *sm = NULL;
    hers_matrix dg = {0}, dp = {0}, pg = {0}, pp = {0}, tg = {0}, tp = {0};
    hers_qmatrix gq = {0}, pq = {0};
    hers_topk qt = {0};
    int rc = 1;
    double t_start = cli_now(), t0;
    hers_status st;

    /* 1. data */
    t0 = cli_now();
    demo_busy_begin("load data");
    int synth = cfg->synthetic;
    int lrc = 0;
    if (!synth) {
        const char *dir = cfg->data_dir ? cfg->data_dir : HERS_FASHION_MNIST_DIR;
        if (cfg->quick) {
            /* Quick runs fall back to synthetic data when the set is absent. */
            char path[4096];
            snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
            FILE *f = fopen(path, "rb");
            if (f)
                fclose(f);
            else
                synth = 1;
        }
    }
    lrc = synth ? load_synthetic(cfg, &d) : load_fashion(cfg, &d);
    demo_busy_end();
    if (lrc)
        goto out;
    hers_matrix_normalize_rows(&d.g);
    hers_matrix_normalize_rows(&d.p);
    r->source = synth ? "synthetic (20 identities, 256-d)" : "Fashion-MNIST";
    r->n_gallery = d.g.rows;
    r->n_probes_all = d.p.rows;
    r->in_dim = d.g.cols;
    r->load_s = cli_now() - t0;
    size_t n_sub = cfg->probes < d.p.rows ? cfg->probes : d.p.rows;
    step_log(cfg, "loaded %s: gallery %zu x %zu, probes %zu (%.1f s)", r->source, d.g.rows,
             d.g.cols, d.p.rows, r->load_s);

    /* 2. intrinsic dimension */
    t0 = cli_now();
    hers_idim_params ip;
    hers_idim_params_default(&ip);
    ip.sample = cfg->id_sample < d.g.rows ? cfg->id_sample : d.g.rows;
    ip.threads = cfg->threads;
    hers_idim_result idr;
    demo_busy_begin("intrinsic dimension");
    r->id_method = "geodesic";
    st = hers_idim_estimate(&d.g, &ip, &idr);
    if (st != HERS_OK) {
        /* The geodesic fit can fail on clustered data (hers_idim.h): TwoNN. */
        step_log(cfg, "geodesic ID estimate failed (%s); using TwoNN", hers_last_error());
        ip.method = HERS_IDIM_TWONN;
        r->id_method = "twonn";
        st = hers_idim_estimate(&d.g, &ip, &idr);
    }
    demo_busy_end();
    r->id_s = cli_now() - t0;
    r->id_ok = st == HERS_OK;
    if (r->id_ok) {
        r->id = idr.id;
        r->id_fit = idr.id_fit;
        r->id_sample = idr.n;
    }
    size_t dim = cfg->dim;
    if (!dim)
        dim = r->id_ok ? next_pow2(r->id) : 32;
    if (dim < 8 && !cfg->dim)
        dim = 8;
    if (dim > d.g.cols)
        dim = d.g.cols;
    r->dim = dim;
    if (r->id_ok)
        step_log(cfg, "intrinsic dimension (%s, %zu images): %u (fit %.2f); D = %zu (%.1f s)",
                 r->id_method, r->id_sample, r->id, r->id_fit, dim, r->id_s);
    else
        step_log(cfg, "intrinsic dimension not estimated (%s); D = %zu", hers_last_error(), dim);

    /* 3. DeepMDS++ and PCA */
    t0 = cli_now();
    if (fit_deepmds(cfg, &d, dim, &dm, &r->dmds_steps))
        goto out;
    r->fit_dmds_s = cli_now() - t0;
    step_log(cfg, "DeepMDS++ %zu -> %zu trained (%llu steps, %.1f s)", d.g.cols, dim,
             (unsigned long long)r->dmds_steps, r->fit_dmds_s);
    /* PCA once at the largest dimension needed; smaller ones by truncation
     * (nested components, rows re-normalised: identical to fitting). */
    size_t pca_dim = dim;
    if (cfg->sweep && pca_dim < 128)
        pca_dim = 128 < d.g.cols ? 128 : d.g.cols;
    t0 = cli_now();
    demo_busy_begin("PCA");
    st = hers_pca_fit(&d.g, pca_dim, 0, &pca);
    demo_busy_end();
    if (st != HERS_OK) {
        cli_fail_lib(CMD, "PCA fit");
        goto out;
    }
    r->fit_pca_s = cli_now() - t0;
    t0 = cli_now();
    if (compress(dm, &d, &dg, &dp) || compress(pca, &d, &tg, &tp))
        goto out;
    if (demo_truncate(&tg, dim, &pg) != HERS_OK || demo_truncate(&tp, dim, &pp) != HERS_OK) {
        cli_fail_lib(CMD, "PCA");
        goto out;
    }
    r->compress_s = cli_now() - t0;
    step_log(cfg, "PCA %zu -> %zu (%.1f s); compressed gallery and probes (%.1f s)", d.g.cols,
             pca_dim, r->fit_pca_s, r->compress_s);

    /* Plaintext accuracy. */
    t0 = cli_now();
    demo_acc all, sub;
    size_t total_evals = 4 + (cfg->sweep ? 8 : 0), done_evals = 0;
    cli_progress("plaintext accuracy", done_evals, total_evals);
    if (demo_eval_float(&d.g, &d.gl, &d.p, &d.pl, n_sub, cfg->threads, &all, &sub) != HERS_OK)
        goto lib_fail;
    cli_progress("plaintext accuracy", ++done_evals, total_evals);
    char name[48];
    snprintf(name, sizeof name, "float (input)");
    set_row(r, name, d.g.cols, all, sub);
    r->float_all_r1 = all.rank1;
    r->float_all_map = all.map;
    if (demo_eval_float(&dg, &d.gl, &dp, &d.pl, n_sub, cfg->threads, &all, &sub) != HERS_OK)
        goto lib_fail;
    cli_progress("plaintext accuracy", ++done_evals, total_evals);
    set_row(r, "DeepMDS++ float", dim, all, sub);
    demo_acc dm_all = all;
    if (demo_eval_float(&pg, &d.gl, &pp, &d.pl, n_sub, cfg->threads, &all, &sub) != HERS_OK)
        goto lib_fail;
    cli_progress("plaintext accuracy", ++done_evals, total_evals);
    set_row(r, "PCA float", dim, all, sub);
    /* Quantised (scale 125): exact integer scores. */
    if (hers_quant_matrix(&dg, HERS_QUANT_PAPER_SCALE, &gq) != HERS_OK ||
        hers_quant_matrix(&dp, HERS_QUANT_PAPER_SCALE, &pq) != HERS_OK)
        goto lib_fail;
    {
        hers_scan_opts so = {cfg->threads, 0, 0};
        if (hers_topk_search_quant(&gq, &pq, DEMO_K, &so, &qt) != HERS_OK ||
            demo_eval_topk(&qt, &d.gl, &d.pl, &all) != HERS_OK)
            goto lib_fail;
        hers_topk view = qt;
        view.probes = n_sub;
        if (demo_eval_topk(&view, &d.gl, &d.pl, &sub) != HERS_OK)
            goto lib_fail;
        cli_progress("plaintext accuracy", ++done_evals, total_evals);
        set_row(r, "DeepMDS++ quantised (s=125)", dim, all, sub);
    }
    /* Sweep: accuracy vs dimension (every test image). */
    if (cfg->sweep) {
        static const size_t pdims[] = {8, 16, 32, 64, 128};
        for (size_t i = 0; i < sizeof pdims / sizeof *pdims && pdims[i] <= pca_dim; i++) {
            hers_matrix_free(&pg);
            hers_matrix_free(&pp);
            if (demo_truncate(&tg, pdims[i], &pg) != HERS_OK ||
                demo_truncate(&tp, pdims[i], &pp) != HERS_OK ||
                demo_eval_float(&pg, &d.gl, &pp, &d.pl, 0, cfg->threads, &all, NULL) != HERS_OK)
                goto lib_fail;
            r->sweep_pca.dim[r->sweep_pca.n] = pdims[i];
            r->sweep_pca.acc[r->sweep_pca.n++] = all;
            cli_progress("plaintext accuracy", ++done_evals, total_evals);
        }
    }
    r->eval_s = cli_now() - t0;
    cli_progress_end();
    if (cfg->sweep) {
        /* DeepMDS++ at half and twice D (extra fits), and D itself. */
        size_t ddims[3] = {dim / 2, dim, dim * 2};
        for (size_t i = 0; i < 3; i++) {
            size_t dd = ddims[i];
            if (dd < 4 || dd > d.g.cols / 2)
                continue;
            if (dd == dim) {
                all = dm_all;
            } else {
                hers_matrix sg = {0}, spm = {0};
                t0 = cli_now();
                if (fit_deepmds(cfg, &d, dd, &sm, NULL) || compress(sm, &d, &sg, &spm)) {
                    hers_matrix_free(&sg);
                    hers_matrix_free(&spm);
                    goto out;
                }
                st = demo_eval_float(&sg, &d.gl, &spm, &d.pl, 0, cfg->threads, &all, NULL);
                hers_matrix_free(&sg);
                hers_matrix_free(&spm);
                hers_reduce_model_free(sm);
                sm = NULL;
                if (st != HERS_OK)
                    goto lib_fail;
                step_log(cfg, "sweep: DeepMDS++ %zu-d rank-1 %.2f%% (%.1f s)", dd,
                         100 * all.rank1, cli_now() - t0);
            }
            r->sweep_dmds.dim[r->sweep_dmds.n] = dd;
            r->sweep_dmds.acc[r->sweep_dmds.n++] = all;
        }
    }
    step_log(cfg, "plaintext accuracy measured (%.1f s)", r->eval_s);

    /* 4-5. encrypted enrolment and search */
    demo_acc enc;
    if (demo_encrypted(cfg, &gq, &pq, &d.gl, &d.pl, &qt, r, &enc))
        goto out;
    demo_acc none = {NAN, NAN};
    set_row(r, "DeepMDS++ encrypted (BFV)", dim, none, enc);
    r->total_s = cli_now() - t_start;
    rc = 0;
    goto out;
lib_fail:
    cli_progress_end();
    cli_fail_lib(CMD, "accuracy");
out:
    hers_topk_free(&qt);
    hers_qmatrix_free(&gq);
    hers_qmatrix_free(&pq);
    hers_matrix_free(&dg);
    hers_matrix_free(&dp);
    hers_matrix_free(&pg);
    hers_matrix_free(&pp);
    hers_matrix_free(&tg);
    hers_matrix_free(&tp);
    hers_reduce_model_free(dm);
    hers_reduce_model_free(pca);
    hers_reduce_model_free(sm);
    data_free(&d);
    return rc;
}

int hers_cmd_demo(int argc, char **argv)
{
    if (cli_flag(argc, argv, "--help")) {
        demo_usage();
        return 0;
    }
    demo_cfg cfg;
    int prc = parse(argc, argv, &cfg);
    if (prc)
        return prc;   /* 2: usage */
    demo_results *r = calloc(1, sizeof *r);
    if (!r)
        return cli_fail(CMD, "out of memory");
    r->threads = hers_threads_resolve(cfg.threads);
    int rc = run(&cfg, r);
    if (rc == 0) {
        print_table(cfg.json ? stderr : stdout, r);
        rc = demo_write_report(&cfg, r);
        if (cfg.json) {
            demo_print_json(stdout, &cfg, r);
            fputc('\n', stdout);
        }
        if (r->scores_wrong || r->topk_wrong) {
            cli_fail(CMD, "encrypted scores differ from the plaintext quantised scores: "
                          "this is a bug, please report it");
            rc = 1;
        }
    }
    fflush(stdout);
    free(r);
    return rc;
}
