/* cmd_gen.c - `hers gen`: synthetic identity-clustered unit vectors. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hers/hers_io.h"
#include "hers/hers_synth.h"

static const char *const gen_opts[] = {"--out",        "--labels-out", "--ids",  "--per-id",
                                       "--dim",        "--spread",     "--warp", "--latent-dim",
                                       "--seed",       "--threads",    NULL};
static const char *const gen_flags[] = {"--nonlinear", "--help", "-h", NULL};

static void gen_usage(void)
{
    printf("usage: hers gen --out X.npy [--labels-out Y.npy] --ids I --per-id S --dim D\n"
           "                [--spread F] [--latent-dim M [--nonlinear] [--warp W]] [--seed N]\n"
           "                [--threads T]\n\n"
           "Writes I*S L2-normalised rows (identity-major) and their identity labels.\n"
           "  --out          .npy, .fvecs or .f32 (raw float32)\n"
           "  --labels-out   .npy (int32) or text (one label per line)\n"
           "  --ids          number of identities (>= 1)\n"
           "  --per-id       samples per identity (>= 1)\n"
           "  --dim          output dimension (2..1048576)\n"
           "  --spread       within-identity angle in radians, 0..1.5708 (default 0.6)\n"
           "  --latent-dim   intrinsic dimension M < D (default 0: full dimension)\n"
           "  --nonlinear    curved embedding of the M-manifold instead of a linear one\n"
           "  --warp         strength of the curvature, 0..10 (default 0.5)\n"
           "  --seed         64-bit seed (default 1); same seed, same output\n"
           "  --threads      worker threads (default 0: one per CPU; output identical)\n");
}

int hers_cmd_gen(int argc, char **argv)
{
    const char *cmd = "gen";
    if (cli_flag(argc, argv, "--help") || cli_flag(argc, argv, "-h")) {
        gen_usage();
        return 0;
    }
    if (cli_check_opts(cmd, argc, argv, gen_opts, gen_flags))
        return 2;
    const char *out = cli_opt(argc, argv, "--out");
    const char *lout = cli_opt(argc, argv, "--labels-out");
    if (!out)
        return cli_usage(cmd, "--out is required (see hers gen --help)");
    if (!cli_opt(argc, argv, "--ids") || !cli_opt(argc, argv, "--per-id") ||
        !cli_opt(argc, argv, "--dim"))
        return cli_usage(cmd, "--ids, --per-id and --dim are required");
    hers_vec_format f = hers_vec_format_from_path(out);
    if (f != HERS_FMT_NPY && f != HERS_FMT_FVECS && f != HERS_FMT_RAW)
        return cli_fail(cmd, "%s: output must end in .npy, .fvecs or .f32", out);
    hers_synth_params p;
    hers_synth_defaults(&p);
    uint64_t ids, per, dim, latent, seed, threads;
    if (cli_opt_u64(cmd, argc, argv, "--ids", 0, 1, INT32_MAX, &ids) ||
        cli_opt_u64(cmd, argc, argv, "--per-id", 0, 1, UINT32_MAX, &per) ||
        cli_opt_u64(cmd, argc, argv, "--dim", 0, 2, HERS_IO_MAX_DIM, &dim) ||
        cli_opt_u64(cmd, argc, argv, "--latent-dim", 0, 0, HERS_IO_MAX_DIM, &latent) ||
        cli_opt_u64(cmd, argc, argv, "--seed", 1, 0, UINT64_MAX, &seed) ||
        cli_opt_u64(cmd, argc, argv, "--threads", 0, 0, 1024, &threads) ||
        cli_opt_double(cmd, argc, argv, "--spread", p.spread, &p.spread) ||
        cli_opt_double(cmd, argc, argv, "--warp", p.warp, &p.warp))
        return 2;
    p.identities = (size_t)ids;
    p.per_identity = (size_t)per;
    p.dim = (size_t)dim;
    p.latent_dim = (size_t)latent;
    p.seed = seed;
    p.threads = (unsigned)threads;
    p.nonlinear = cli_flag(argc, argv, "--nonlinear");
    if (p.nonlinear && !p.latent_dim)
        return cli_usage(cmd, "--nonlinear needs --latent-dim");
    if (hers_synth_check(&p) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    /* Generated in chunks of identities and streamed to the file, so the
     * output may exceed memory (labels are kept: 4 bytes per row). */
    size_t rows = p.identities * p.per_identity;
    size_t chunk = ((size_t)1 << 22) / (p.per_identity * p.dim);
    if (chunk < 1)
        chunk = 1;
    hers_labels y = {0, NULL};
    if (lout && hers_labels_alloc(&y, rows) != HERS_OK)
        return cli_fail_lib(cmd, "labels");
    hers_matrix_writer *w;
    if (hers_matrix_writer_open(&w, out, rows, p.dim) != HERS_OK) {
        hers_labels_free(&y);
        return cli_fail(cmd, "%s", hers_last_error());
    }
    int rc = 0;
    for (size_t first = 0; first < p.identities && rc == 0; first += chunk) {
        size_t n = p.identities - first < chunk ? p.identities - first : chunk;
        hers_matrix x;
        hers_labels yl;
        if (hers_synth_generate_range(&p, first, n, &x, lout ? &yl : NULL) != HERS_OK) {
            rc = cli_fail_lib(cmd, "generation failed");
            break;
        }
        if (hers_matrix_writer_append(w, &x) != HERS_OK)
            rc = cli_fail(cmd, "%s", hers_last_error());
        if (lout) {
            memcpy(y.data + first * p.per_identity, yl.data, yl.count * sizeof(int32_t));
            hers_labels_free(&yl);
        }
        hers_matrix_free(&x);
        cli_progress("gen", first + n, p.identities);
    }
    cli_progress_end();
    if (rc != 0)
        hers_matrix_writer_abort(w);
    else if (hers_matrix_writer_close(w) != HERS_OK)
        rc = cli_fail(cmd, "%s", hers_last_error());
    if (rc == 0 && lout && hers_labels_write(lout, &y) != HERS_OK)
        rc = cli_fail(cmd, "%s", hers_last_error());
    if (rc == 0)
        printf("wrote %zu x %zu unit vectors (%zu identities x %zu) to %s%s%s\n", rows, p.dim,
               p.identities, p.per_identity, out, lout ? ", labels to " : "", lout ? lout : "");
    hers_labels_free(&y);
    return rc;
}
