/* cmd_id.c - `hers id`: intrinsic dimensionality of a vector file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/bitpack.h"
#include "hers/hers_idim.h"
#include "hers/hers_io.h"

static const char *const id_opts[] = {"--in", "--k", "--sample", "--method", "--seed",
                                      "--threads", "--sources", "--candidates", "--mle-k1",
                                      "--mle-k2", "--discard", "--edge", "--edge-quantile", "--dim",
                                      NULL};
static const char *const id_flags[] = {"--json", "--help", "-h", NULL};

static void id_usage(void)
{
    printf(
        "usage: hers id --in FILE [--k 4] [--sample N] [--method geodesic|twonn|mle]\n"
        "               [--seed S] [--threads T] [--json]\n\n"
        "Estimates the intrinsic dimensionality of the rows of FILE (.npy, .fvecs, .bvecs,\n"
        "IDX images such as Fashion-MNIST's train-images-idx3-ubyte.gz, or raw float32\n"
        "with --dim). Rows are L2-normalised; zero rows are skipped.\n\n"
        "  --method M      geodesic (default): kNN graph (cosine distance), Dijkstra\n"
        "                  geodesics, hypersphere fit of their histogram;\n"
        "                  twonn: Facco et al. 2017; mle: Levina-Bickel, MacKay-Ghahramani\n"
        "  --k K           graph neighbours for geodesic (default 4)\n"
        "  --sample N      random rows used (default %d; 0 = all)\n"
        "  --seed S        sampling seed, integer (default 0)\n"
        "  --threads T     worker threads (default: online CPUs)\n"
        "  --sources S     Dijkstra sources (default all, capped at %zu stored pairs)\n"
        "  --candidates C  sgemm candidates re-ranked in double (default %d)\n"
        "  --mle-k1 A --mle-k2 B   MLE neighbourhood range (default 10..20)\n"
        "  --discard F     TwoNN: fraction of the largest ratios dropped (default 0.1)\n"
        "  --edge E        geodesic edge weight: cosine (default) or chord\n"
        "  --edge-quantile Q  fit window floor: quantile Q of the per-point longest kNN\n"
        "                  edge (default 1 = the longest kNN edge, as in the paper)\n"
        "  --dim D         dimension of raw float32 input (.f32/.raw/.bin)\n"
        "  --json          print one JSON object instead of text\n",
        HERS_IDIM_DEFAULT_SAMPLE, (size_t)HERS_IDIM_MAX_PAIRS, HERS_IDIM_DEFAULT_CANDIDATES);
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_json(const char *in, size_t rows, uint64_t seed, double eq,
                       const hers_idim_result *r, double secs)
{
    printf("{\"file\": ");
    json_string(in);
    printf(", \"method\": \"%s\", \"id\": %u, \"id_fit\": %.6g, \"rmse\": %.6g, "
           "\"n\": %zu, \"rows\": %zu, \"dim\": %zu, \"zero_rows\": %zu, \"seed\": %llu",
           hers_idim_method_name(r->method), r->id, r->id_fit, r->rmse, r->n, rows, r->dim,
           r->zero_rows, (unsigned long long)seed);
    if (r->method == HERS_IDIM_GEODESIC) {
        printf(", \"k\": %zu, \"sources\": %zu, \"pairs\": %llu, \"reach\": %.6g, "
               "\"max_edge\": %.6g, \"edge_quantile\": %.6g, \"r_max\": %.6g, "
               "\"sigma\": %.6g, \"refit\": %s, \"fit_lo\": %.6g, \"fit_hi\": %.6g, "
               "\"fit_bins\": %zu, \"hist_dx\": %.6g, \"hist\": [",
               r->k, r->sources, (unsigned long long)r->pairs, r->reach, r->max_edge, eq,
               r->r_max, r->sigma, r->refit_used ? "true" : "false", r->fit_lo, r->fit_hi,
               r->fit_bins, r->hist_dx);
        for (int b = 0; b < HERS_IDIM_BINS; b++)
            printf("%s%llu", b ? ", " : "", (unsigned long long)r->hist[b]);
        printf("]");
    }
    printf(", \"seconds\": %.3f}\n", secs);
}

static void print_text(const char *in, size_t rows, double eq, const hers_idim_result *r,
                       double secs)
{
    printf("%s: %zu of %zu rows used (%zu-d", in, r->n, rows, r->dim);
    if (r->zero_rows)
        printf(", %zu zero rows skipped", r->zero_rows);
    printf("), method %s\n", hers_idim_method_name(r->method));
    switch (r->method) {
    case HERS_IDIM_GEODESIC:
        printf("intrinsic dimensionality: %u   (free fit %.2f, RMSE %.4f)\n", r->id, r->id_fit,
               r->rmse);
        printf("kNN graph k = %zu, longest edge %.4g%s; %zu Dijkstra sources, %llu geodesic "
               "distances, %.1f%% of pairs connected\n",
               r->k, r->max_edge, eq < 1 ? " (quantile)" : "", r->sources,
               (unsigned long long)r->pairs, 100 * r->reach);
        printf("peak r_max %.4g, sigma %.4g (%s fit); hypersphere fit on [%.4g, %.4g], "
               "%zu bins of %.4g\n",
               r->r_max, r->sigma, r->refit_used ? "second" : "first", r->fit_lo, r->fit_hi,
               r->fit_bins, r->hist_dx);
        break;
    case HERS_IDIM_TWONN:
        printf("intrinsic dimensionality: %u   (TwoNN slope %.2f, RMSE %.4f)\n", r->id,
               r->id_fit, r->rmse);
        break;
    case HERS_IDIM_MLE:
        printf("intrinsic dimensionality: %u   (MLE %.2f, spread over k %.2f)\n", r->id,
               r->id_fit, r->rmse);
        break;
    }
    printf("time %.2f s\n", secs);
}

int hers_cmd_id(int argc, char **argv)
{
    const char *cmd = "id";
    if (cli_flag(argc, argv, "--help") || cli_flag(argc, argv, "-h")) {
        id_usage();
        return 0;
    }
    if (cli_check_opts(cmd, argc, argv, id_opts, id_flags))
        return 2;
    const char *in = cli_opt(argc, argv, "--in");
    if (!in)
        return cli_usage(cmd, "--in FILE is required (see hers id --help)");
    hers_idim_params p;
    hers_idim_params_default(&p);
    const char *method = cli_opt(argc, argv, "--method");
    if (method && hers_idim_method_parse(method, &p.method) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    const char *edge = cli_opt(argc, argv, "--edge");
    if (edge && !strcmp(edge, "chord"))
        p.edge = HERS_IDIM_EDGE_CHORD;
    else if (edge && strcmp(edge, "cosine"))
        return cli_fail(cmd, "--edge must be cosine or chord, got '%s'", edge);
    uint64_t k, sample, seed, threads, sources, cand, k1, k2, dim;
    if (cli_opt_u64(cmd, argc, argv, "--k", HERS_IDIM_DEFAULT_K, 1, UINT32_MAX, &k) ||
        cli_opt_u64(cmd, argc, argv, "--sample", HERS_IDIM_DEFAULT_SAMPLE, 0, UINT32_MAX,
                    &sample) ||
        cli_opt_u64(cmd, argc, argv, "--seed", 0, 0, UINT64_MAX, &seed) ||
        cli_opt_u64(cmd, argc, argv, "--threads", 0, 0, 64, &threads) ||
        cli_opt_u64(cmd, argc, argv, "--sources", 0, 0, UINT32_MAX, &sources) ||
        cli_opt_u64(cmd, argc, argv, "--candidates", HERS_IDIM_DEFAULT_CANDIDATES, 1, 4096,
                    &cand) ||
        cli_opt_u64(cmd, argc, argv, "--mle-k1", 10, 2, UINT32_MAX, &k1) ||
        cli_opt_u64(cmd, argc, argv, "--mle-k2", 20, 2, UINT32_MAX, &k2) ||
        cli_opt_u64(cmd, argc, argv, "--dim", 0, 1, HERS_IO_MAX_DIM, &dim) ||
        cli_opt_double(cmd, argc, argv, "--discard", 0.1, &p.twonn_discard) ||
        cli_opt_double(cmd, argc, argv, "--edge-quantile", 1.0, &p.edge_quantile))
        return 2;
    p.k = (size_t)k;
    p.sample = (size_t)sample;
    p.threads = (unsigned)threads;
    p.sources = (size_t)sources;
    p.candidates = (size_t)cand;
    p.mle_k1 = (size_t)k1;
    p.mle_k2 = (size_t)k2;
    hers_le_put_u64(p.seed, seed);

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
    double t0 = cli_now();
    hers_idim_result r;
    st = hers_idim_estimate(&m, &p, &r);
    double secs = cli_now() - t0;
    size_t rows = m.rows;
    hers_matrix_free(&m);
    if (st != HERS_OK)
        return cli_fail(cmd, "%s: %s", in, hers_last_error());
    if (cli_flag(argc, argv, "--json"))
        print_json(in, rows, seed, p.edge_quantile, &r, secs);
    else
        print_text(in, rows, p.edge_quantile, &r, secs);
    return 0;
}
