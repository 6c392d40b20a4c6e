/* cmd_convert.c - `hers convert`: matrix / label file format conversion. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hers/hers_io.h"

static const char *const conv_opts[] = {"--in", "--out", "--dim", NULL};
static const char *const conv_flags[] = {"--labels", "--normalize", "--help", "-h", NULL};

static void conv_usage(void)
{
    printf("usage: hers convert --in A --out B [--dim D] [--normalize]\n"
           "       hers convert --labels --in A --out B\n\n"
           "Matrices: reads .npy (<f4 <f8 |u1 and integer dtypes), .fvecs, .bvecs, .ivecs,\n"
           "IDX images (e.g. Fashion-MNIST train-images-idx3-ubyte.gz, pixels scaled to\n"
           "[0, 1]) or raw float32 (.f32/.raw/.bin, needs --dim); writes .npy, .fvecs or .f32.\n"
           "  --normalize  scale every row to unit L2 norm\n"
           "Labels (--labels): reads .npy integer arrays, IDX label files or text (one\n"
           "integer per line); writes .npy (int32) or text.\n");
}

int hers_cmd_convert(int argc, char **argv)
{
    const char *cmd = "convert";
    if (cli_flag(argc, argv, "--help") || cli_flag(argc, argv, "-h")) {
        conv_usage();
        return 0;
    }
    if (cli_check_opts(cmd, argc, argv, conv_opts, conv_flags))
        return 2;
    const char *in = cli_opt(argc, argv, "--in"), *out = cli_opt(argc, argv, "--out");
    if (!in || !out)
        return cli_usage(cmd, "--in and --out are required (see hers convert --help)");
    if (cli_flag(argc, argv, "--labels")) {
        hers_labels l;
        if (hers_labels_read(in, &l) != HERS_OK)
            return cli_fail(cmd, "%s", hers_last_error());
        int rc = hers_labels_write(out, &l) == HERS_OK ? 0 : cli_fail(cmd, "%s", hers_last_error());
        if (rc == 0)
            printf("wrote %zu labels to %s\n", l.count, out);
        hers_labels_free(&l);
        return rc;
    }
    uint64_t dim;
    if (cli_opt_u64(cmd, argc, argv, "--dim", 0, 1, HERS_IO_MAX_DIM, &dim))
        return 2;
    hers_matrix m;
    hers_status st;
    if (hers_vec_format_from_path(in) == HERS_FMT_RAW) {
        if (!dim)
            return cli_usage(cmd, "%s: raw float32 input needs --dim", in);
        st = hers_matrix_read_raw(in, (size_t)dim, &m);
    } else {
        st = hers_matrix_read(in, &m);
    }
    if (st != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    if (cli_flag(argc, argv, "--normalize"))
        hers_matrix_normalize_rows(&m);
    int rc = hers_matrix_write(out, &m) == HERS_OK ? 0 : cli_fail(cmd, "%s", hers_last_error());
    if (rc == 0)
        printf("wrote %zu x %zu to %s\n", m.rows, m.cols, out);
    hers_matrix_free(&m);
    return rc;
}
