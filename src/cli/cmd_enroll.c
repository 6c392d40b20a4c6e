/* cmd_enroll.c - `hers enroll --keys DIR --gallery FILE --in X.npy
 * [--ids ids.txt] [--mode both-encrypted|plain-gallery] [--scale S]
 * [--packing auto|slot|coeff] [--threads T] [--public]`: reads the vectors (.npy/.fvecs/...), L2-
 * normalises every row (cosine similarity), quantises with scale S (default
 * 125, refused if scores of this d and S could wrap mod t), encrypts them
 * packed dimension-major (secret key, seed-compressed; --public: with the
 * public key only, as a third party would) and writes the gallery file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_remote.h"
#include "cli/cli_db.h"
#include "cli/cli_keys.h"
#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "hers/hers_quant.h"
#include "hers/hers_search.h"

#define CMD "enroll"

int hers_cmd_enroll(int argc, char **argv)
{
    static const char *const with_value[] = {"--keys", "--gallery", "--in", "--ids", "--mode",
                                             "--scale", "--threads", "--passphrase-file",
                                             "--packing", NULL};
    static const char *const flags[] = {"--public", "--help", NULL};
    if (cli_flag(argc, argv, "--help") && !cli_flag(argc, argv, "--db")) {
        printf("usage: hers enroll --keys DIR --gallery FILE --in X.npy [--ids ids.txt]\n"
               "                   [--mode both-encrypted|plain-gallery] [--scale S] [--threads T] [--public]\n"
               "                   [--packing auto|slot|coeff]\n"
               "  Normalises and quantises the rows of X (scale S, default: the largest safe for\n"
               "  X's dimension and the keys' t, e.g. 714 at d = 64), encrypts them\n"
               "  packed dimension-major and writes the gallery FILE. Ids: one per line (default:\n"
               "  the row numbers). --public encrypts with DIR/public.key only (a third party).\n"
               "  --passphrase-file F: passphrase of a protected DIR/secret.key (first line of F).\n"
               "  --packing: template x in plaintext slot x or coefficient x (auto, the default:\n"
               "  coeff where it shrinks the compact result, e.g. 6.0 instead of 7.0 bytes per\n"
               "  template at n4096, d = 64, --scale 125; docs/design.md).\n"
               "  With --db DIR instead of --gallery: append to a gallery database (hers enroll --db DIR --help).\n");
        printf("  With --server URL --gallery NAME --token-file F [--cacert F]: the same over\n"
               "  HTTP(S) against `hers serve` (docs/cli.md, \"The client\").\n");
        return 0;
    }
    /* presence, not value: "--db" or "--server" without a value is reported
     * by that mode's option check ("option --db needs a value") */
    if (cli_flag(argc, argv, "--server"))   /* over HTTP(S): cli_remote.c */
        return cli_remote_enroll(argc, argv);
    if (cli_flag(argc, argv, "--db"))   /* the gallery database (src/cli/db_enroll.c) */
        return cli_db_enroll(argc, argv);
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--keys"), *gpath = cli_opt(argc, argv, "--gallery");
    const char *in = cli_opt(argc, argv, "--in"), *idpath = cli_opt(argc, argv, "--ids");
    if (!dir || !gpath || !in)
        return cli_usage(CMD, "--keys, --gallery and --in are required (or --db DIR: a gallery "
                                   "database; see hers enroll --help)");
    uint64_t scale, threads;
    if (cli_opt_u64(CMD, argc, argv, "--scale", 0, 1, HERS_QUANT_MAX_SCALE,
                    &scale) ||
        cli_opt_u64(CMD, argc, argv, "--threads", 0, 0, 256, &threads))
        return 2;
    hers_enroll_opts o;
    hers_enroll_opts_default(&o);
    o.scale = (uint32_t)scale;
    o.threads = (unsigned)threads;
    if (cli_opt(argc, argv, "--mode") &&
        hers_search_mode_parse(cli_opt(argc, argv, "--mode"), &o.mode) != HERS_OK)
        return cli_fail_lib(CMD, "--mode");
    int pub = cli_flag(argc, argv, "--public");
    int enc = o.mode == HERS_MODE_BOTH_ENCRYPTED;
    cli_keys k;
    if (cli_keys_load_pass(CMD, dir, cli_opt(argc, argv, "--passphrase-file"), enc && !pub,
                           enc && pub, 0, &k))
        return 1;
    hers_matrix x = {0, 0, NULL};
    hers_qmatrix qm = {0, 0, 0, NULL};
    hers_gallery *g = NULL;
    char **ids = NULL;
    int rc = 0;
    if (hers_matrix_read(in, &x) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    if (x.cols > HERS_SEARCH_MAX_D) {
        rc = cli_fail(CMD, "%s: dimension %zu > %d (compress the vectors first: hers compress)", in,
                      x.cols, HERS_SEARCH_MAX_D);
        goto done;
    }
    if (o.scale == 0)   /* no --scale: the largest safe for d and t (hers_quant.h) */
        o.scale = hers_quant_default_scale(x.cols, hers_params_t(k.p));
    if (hers_quant_check(x.cols, o.scale, hers_params_t(k.p)) != HERS_OK) {
        rc = cli_fail(CMD, "%s: %s", in, hers_last_error());
        goto done;
    }
    const char *pack = cli_opt(argc, argv, "--packing");
    if (!pack || !strcmp(pack, "auto"))
        o.packing = hers_packing_default(k.p, x.cols, o.scale);
    else if (hers_packing_parse(pack, &o.packing) != HERS_OK) {
        rc = cli_fail_lib(CMD, "--packing");
        goto done;
    }
    size_t nids = 0;
    if (idpath && (rc = cli_db_read_ids(CMD, idpath, x.rows, &ids, &nids)) != 0)
        goto done;
    hers_matrix_normalize_rows(&x);
    if (hers_quant_matrix(&x, o.scale, &qm) != HERS_OK) {
        rc = cli_fail(CMD, "%s: %s", in, hers_last_error());
        goto done;
    }
    double t0 = cli_now();
    if (hers_gallery_enroll(k.p, enc && !pub ? k.sk : NULL, enc && pub ? k.pk : NULL, qm.data,
                            qm.rows, qm.cols, &o, &g) != HERS_OK) {
        rc = cli_fail(CMD, "%s: %s", in, hers_last_error());
        goto done;
    }
    double t1 = cli_now();
    if (ids && hers_gallery_set_ids(g, (const char *const *)ids, x.rows) != HERS_OK) {
        rc = cli_fail(CMD, "%s: %s", idpath, hers_last_error());
        goto done;
    }
    if (hers_gallery_write(gpath, k.p, g) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    fprintf(stderr, "hers enroll: %zu templates x %zu dimensions (%s, scale %llu, %s packing) -> "
                    "%s: %.2f s, %.1f bytes per template at rest\n",
            x.rows, x.cols, hers_search_mode_name(o.mode), (unsigned long long)o.scale,
            hers_packing_name(o.packing), gpath, t1 - t0,
            (double)hers_gallery_payload_bytes(g) / (double)x.rows);
done:
    if (ids) {
        for (size_t i = 0; i < x.rows; i++)
            free(ids[i]);
        free(ids);
    }
    hers_gallery_free(g);
    hers_qmatrix_free(&qm);
    hers_matrix_free(&x);
    cli_keys_free(&k);
    return rc;
}
