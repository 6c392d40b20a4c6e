/* cmd_compress.c - `hers compress`: apply a reduction model to vectors. */
#include <cblas.h>
#include <stdio.h>

#include "cli/cli.h"
#include "hers/hers_io.h"
#include "hers/hers_reduce.h"

static const char *const comp_vals[] = {"--model", "--in", "--out", "--threads", NULL};
static const char *const comp_flags[] = {"--help", "--quiet", NULL};

int hers_cmd_compress(int argc, char **argv)
{
    const char *cmd = "compress";
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers compress --model MODEL --in X --out Z.npy [--threads T]\n\n"
               "Applies a model from `hers fit` to every row of X (.npy, .fvecs, .bvecs, IDX)\n"
               "and writes the unit-norm compressed rows to Z (.npy, .fvecs or raw by\n"
               "extension). Prints the model id, which identifies the model exactly.\n");
        return 0;
    }
    if (cli_check_opts(cmd, argc, argv, comp_vals, comp_flags))
        return 2;
    const char *mp = cli_opt(argc, argv, "--model"), *in = cli_opt(argc, argv, "--in"),
               *outp = cli_opt(argc, argv, "--out");
    if (!mp || !in || !outp)
        return cli_usage(cmd, "--model, --in and --out are required (see hers compress --help)");
    uint64_t threads;
    if (cli_opt_u64(cmd, argc, argv, "--threads", 0, 0, 1024, &threads))
        return 2;
    if (threads)
        openblas_set_num_threads((int)threads);
    hers_reduce_model *m = NULL;
    if (hers_reduce_model_load(mp, &m) != HERS_OK)
        return cli_fail_lib(cmd, mp);
    hers_matrix x = {0}, z = {0};
    if (hers_matrix_read(in, &x) != HERS_OK) {
        hers_reduce_model_free(m);
        return cli_fail_lib(cmd, in);
    }
    if (x.cols != m->in_dim) {
        int rc = cli_fail(cmd, "%s has %zu columns but model %s expects %zu", in, x.cols, mp,
                          m->in_dim);
        hers_matrix_free(&x);
        hers_reduce_model_free(m);
        return rc;
    }
    hers_status st = hers_reduce_apply(m, &x, &z);
    hers_matrix_free(&x);
    if (st != HERS_OK) {
        hers_reduce_model_free(m);
        return cli_fail_lib(cmd, in);
    }
    char id[2 * HERS_MODEL_ID_BYTES + 1];
    st = hers_reduce_model_id_hex(m, id);
    if (st == HERS_OK)
        st = hers_matrix_write(outp, &z);
    if (st != HERS_OK) {
        hers_matrix_free(&z);
        hers_reduce_model_free(m);
        return cli_fail_lib(cmd, outp);
    }
    if (!cli_flag(argc, argv, "--quiet"))
        printf("compressed %zu x %zu -> %zu x %zu (%s model %s) to %s\n", z.rows, m->in_dim,
               z.rows, z.cols, hers_reduce_method_name(m->method), id, outp);
    hers_matrix_free(&z);
    hers_reduce_model_free(m);
    return 0;
}
