/* cmd_fit.c - `hers fit`: learn a PCA or DeepMDS++ reduction model. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hers/hers_io.h"
#include "hers/hers_reduce.h"

static const char *const fit_vals[] = {"--in", "--labels", "--dim", "--method", "--out",
                                       "--steps", "--seed", "--threads", "--pca-dim",
                                       "--candidates", "--lr", "--ratio", "--cov", NULL};
static const char *const fit_flags[] = {"--whiten", "--quiet", "--no-pca-init", "--help", NULL};

static void fit_usage(void)
{
    printf("usage: hers fit --in X --labels Y --dim D --method deepmds|pca --out MODEL\n"
           "                [--steps N] [--seed S] [--threads T] [--whiten] [--quiet]\n\n"
           "Learns a model that maps the rows of X (unit-normalised first) to D dimensions.\n"
           "  --in X          vectors (.npy, .fvecs, .bvecs, IDX)\n"
           "  --labels Y      identity labels, one per row (.npy, IDX or text); needed by\n"
           "                  deepmds (genuine/impostor pairs), ignored by pca\n"
           "  --dim D         output dimension\n"
           "  --method M      deepmds (default) or pca\n"
           "  --out MODEL     model file (versioned, checksummed; see docs/formats.md)\n"
           "  --steps N       deepmds: training steps per stage (default from the data size)\n"
           "  --seed S        deepmds: PRG seed (default 1); same seed => same model\n"
           "  --threads T     OpenBLAS threads (default: OpenBLAS's own choice)\n"
           "  --whiten        pca: divide each component by its standard deviation\n"
           "  --pca-dim P     deepmds: PCA front end to P dims before the stages (default\n"
           "                  4*D when smaller than the input; 0: learn the full chain)\n"
           "  --candidates C  deepmds: candidate pairs per kind for hard-pair mining\n"
           "  --lr R          deepmds: Adam learning rate (default 1e-3; the authors: 3e-4)\n"
           "  --cov W         deepmds: decorrelation weight (default 10)\n"
           "  --ratio W       deepmds: supervised ratio term weight (default 0: off)\n"
           "  --no-pca-init   deepmds: Xavier-initialise the skip layers instead of PCA\n"
           "  --quiet         no progress output\n");
}

typedef struct fit_ui {
    int quiet, tty;
    double t0;
} fit_ui;

static int fit_progress(void *user, const hers_deepmds_progress *p)
{
    fit_ui *ui = user;
    if (ui->quiet)
        return 0;
    char label[48];
    snprintf(label, sizeof label, "stage %zu/%zu", p->stage, p->n_stages);
    if (ui->tty) {
        cli_progress(label, p->total_done, p->total_steps);
        if (p->step != p->stage_steps)
            return 0;
        cli_progress_end();
    }
    /* One line per report off a TTY, one per finished stage on a TTY. */
    fprintf(stderr,
            "fit: stage %zu/%zu step %llu/%llu lr %.2e loss %.4f (sim %.4f cov %.4f%s) "
            "val TAR@FAR=1e-2 %.4f (input %.4f) %.0fs\n",
            p->stage, p->n_stages, (unsigned long long)p->step,
            (unsigned long long)p->stage_steps, p->lr, p->loss, p->loss_sim, p->loss_cov,
            p->loss_ratio != 0 ? " ratio>0" : "", p->val_tar, p->val_tar_input,
            cli_now() - ui->t0);
    return 0;
}

int hers_cmd_fit(int argc, char **argv)
{
    const char *cmd = "fit";
    if (cli_flag(argc, argv, "--help")) {
        fit_usage();
        return 0;
    }
    if (cli_check_opts(cmd, argc, argv, fit_vals, fit_flags))
        return 2;
    const char *in = cli_opt(argc, argv, "--in"), *lab = cli_opt(argc, argv, "--labels");
    const char *outp = cli_opt(argc, argv, "--out"), *method = cli_opt(argc, argv, "--method");
    if (!in || !outp || !cli_opt(argc, argv, "--dim"))
        return cli_usage(cmd, "--in, --dim and --out are required (see hers fit --help)");
    if (!method)
        method = "deepmds";
    int is_pca = !strcmp(method, "pca");
    if (!is_pca && strcmp(method, "deepmds"))
        return cli_fail(cmd, "--method must be deepmds or pca, got '%s'", method);
    if (!is_pca && !lab)
        return cli_usage(cmd, "--method deepmds needs --labels (identities of the rows)");
    uint64_t dim, steps, seed, threads, pca_dim, cand;
    double lr, ratio, cov;
    if (cli_opt_u64(cmd, argc, argv, "--dim", 0, 1, HERS_REDUCE_MAX_DIM, &dim) ||
        cli_opt_u64(cmd, argc, argv, "--steps", 0, 0, 100000000, &steps) ||
        cli_opt_u64(cmd, argc, argv, "--seed", 1, 0, UINT64_MAX, &seed) ||
        cli_opt_u64(cmd, argc, argv, "--threads", 0, 0, 1024, &threads) ||
        cli_opt_u64(cmd, argc, argv, "--pca-dim", 0, 0, HERS_REDUCE_MAX_DIM, &pca_dim) ||
        cli_opt_u64(cmd, argc, argv, "--candidates", 0, 0, 1000000, &cand) ||
        cli_opt_double(cmd, argc, argv, "--lr", 1e-3, &lr) ||
        cli_opt_double(cmd, argc, argv, "--ratio", 0.0, &ratio) ||
        cli_opt_double(cmd, argc, argv, "--cov", 10.0, &cov))
        return 2;
    if (!(lr > 0) || !isfinite(lr) || !(ratio >= 0) || !(cov >= 0))
        return cli_fail(cmd, "--lr must be > 0, --ratio and --cov >= 0");
    fit_ui ui = {cli_flag(argc, argv, "--quiet"), cli_is_tty(), cli_now()};

    hers_matrix x = {0};
    hers_labels l = {0};
    if (hers_matrix_read(in, &x) != HERS_OK)
        return cli_fail_lib(cmd, in);
    if (x.rows < 2) {
        int rc = cli_fail(cmd, "%s: need at least 2 rows, got %zu", in, x.rows);
        hers_matrix_free(&x);
        return rc;
    }
    if (dim > x.cols) {
        int rc = cli_fail(cmd, "--dim %llu exceeds the input dimension %zu of %s",
                          (unsigned long long)dim, x.cols, in);
        hers_matrix_free(&x);
        return rc;
    }
    if (!is_pca) {
        if (hers_labels_read(lab, &l) != HERS_OK) {
            hers_matrix_free(&x);
            return cli_fail_lib(cmd, lab);
        }
        if (l.count != x.rows) {
            int rc = cli_fail(cmd, "%s has %zu labels but %s has %zu rows", lab, l.count, in,
                              x.rows);
            hers_matrix_free(&x);
            hers_labels_free(&l);
            return rc;
        }
    }
    hers_reduce_model *m = NULL;
    hers_status st;
    if (is_pca) {
        st = hers_pca_fit(&x, dim, cli_flag(argc, argv, "--whiten"), &m);
    } else {
        hers_deepmds_options o;
        hers_deepmds_options_default(&o, x.rows, x.cols, dim);
        o.seed = seed;
        o.threads = (int)threads;
        if (steps)
            o.steps = steps;
        if (cand)
            o.candidates = cand;
        if (cli_opt(argc, argv, "--pca-dim"))
            o.pca_dim = pca_dim;
        o.lr = lr;
        o.w_ratio = ratio;
        o.w_cov = cov;
        o.pca_init = !cli_flag(argc, argv, "--no-pca-init");
        if (!ui.quiet)
            fprintf(stderr,
                    "fit: deepmds %zu x %zu -> %llu (PCA front end %zu), %llu steps per stage, "
                    "seed %llu\n",
                    x.rows, x.cols, (unsigned long long)dim, o.pca_dim,
                    (unsigned long long)o.steps, (unsigned long long)seed);
        st = hers_deepmds_fit(&x, &l, &o, fit_progress, &ui, &m);
        if (ui.tty && !ui.quiet)
            cli_progress_end();
    }
    hers_matrix_free(&x);
    hers_labels_free(&l);
    if (st != HERS_OK)
        return cli_fail_lib(cmd, in);
    char id[2 * HERS_MODEL_ID_BYTES + 1];
    st = hers_reduce_model_save(m, outp);
    if (st == HERS_OK)
        st = hers_reduce_model_id_hex(m, id);
    if (st != HERS_OK) {
        hers_reduce_model_free(m);
        return cli_fail_lib(cmd, outp);
    }
    if (!ui.quiet)
        fprintf(stderr, "fit: %.1fs\n", cli_now() - ui.t0);
    printf("model %s: %s %zu -> %zu, %zu parameters, id %s\n", outp,
           hers_reduce_method_name(m->method), m->in_dim, m->out_dim,
           hers_reduce_model_params(m), id);
    hers_reduce_model_free(m);
    return 0;
}
