/* db_enroll.c - `hers enroll --db DIR --in X [--keys DIR] [--ids FILE]
 * [--model M] [--replace] [--scale S] [--mode M] [--threads T]
 * [--public-key-only]`: appends to a gallery database in one transaction.
 * Encrypts with DIR/secret.key when the key directory has one (seed-
 * compressed), otherwise (or with --public-key-only) with the database's
 * public key, as a third party would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_db.h"
#include "cli/cli_keys.h"
#include "hers/hers_io.h"
#include "hers/hers_quant.h"
#include "hers/hers_reduce.h"

#define CMD "enroll"

int cli_db_enroll(int argc, char **argv)
{
    static const char *const with_value[] = {"--db",    "--keys", "--in",
                                             "--ids",   "--model", "--scale",
                                             "--mode",  "--threads", "--passphrase-file",
                                             "--packing", NULL};
    static const char *const flags[] = {"--replace", "--public-key-only", "--public", "--help",
                                        NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers enroll --db DIR --in X.npy|.fvecs [--keys DIR] [--ids FILE] [--model M]\n"
               "                   [--replace] [--scale S] [--mode both-encrypted|plain-gallery]\n"
               "                   [--threads T] [--public-key-only] [--passphrase-file F]\n"
               "                   [--packing auto|slot|coeff]\n"
               "  Appends the rows of X to the gallery database (one transaction: all or nothing).\n"
               "  Rows are compressed with M (required if the database records a model),\n"
               "  normalised, quantised (scale S: the database's; for a new gallery, default the\n"
               "  largest safe for d and t, e.g. 714 at d = 64) and encrypted\n"
               "  with DIR/secret.key if present, else with the database's public key.\n"
               "  Ids: one per line (default: slot numbers); an existing id is an error unless\n"
               "  --replace.\n"
               "  Packing: the database's (fixed by hers init --packing); an explicit --packing\n"
               "  that differs from it is refused.\n");
        return 0;
    }
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--db"), *keys = cli_opt(argc, argv, "--keys");
    const char *in = cli_opt(argc, argv, "--in"), *idpath = cli_opt(argc, argv, "--ids");
    const char *model = cli_opt(argc, argv, "--model");
    int pub_only = cli_flag(argc, argv, "--public-key-only") || cli_flag(argc, argv, "--public");
    if (!dir || !in)
        return cli_usage(CMD, "--db and --in are required");
    if (!keys && !pub_only)
        return cli_usage(CMD, "--keys DIR is required (or --public-key-only)");
    uint64_t scale = 0, threads;
    if (cli_opt_u64(CMD, argc, argv, "--scale", 0, 1, HERS_QUANT_MAX_SCALE, &scale) ||
        cli_opt_u64(CMD, argc, argv, "--threads", 0, 0, 256, &threads))
        return 2;
    hers_store_enroll_opts o;
    hers_store_enroll_opts_default(&o);
    o.threads = (unsigned)threads;
    o.replace = cli_flag(argc, argv, "--replace");
    if (cli_opt(argc, argv, "--mode") &&
        hers_search_mode_parse(cli_opt(argc, argv, "--mode"), &o.mode) != HERS_OK)
        return cli_fail_lib(CMD, "--mode");
    hers_store *db = NULL;
    cli_keys k;
    memset(&k, 0, sizeof k);
    hers_matrix x = {0, 0, NULL};
    hers_qmatrix qm = {0, 0, 0, NULL};
    char **ids = NULL;
    size_t nids = 0;
    int rc = cli_db_open(CMD, dir, 0, &db);
    if (rc)
        return rc;
    hers_store_info info;
    if (hers_store_get_info(db, &info) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    /* the database's scale and mode unless given; a new gallery's default
     * scale is chosen once d is known (below) */
    o.scale = scale ? (uint32_t)scale : info.has_gallery ? info.scale : 0;
    if (info.has_gallery && !cli_opt(argc, argv, "--mode"))
        o.mode = info.mode;
    int enc = o.mode == HERS_MODE_BOTH_ENCRYPTED;
    if (keys) {
        char *sp = cli_keys_path(keys, CLI_KEYS_SECRET);
        int have_sk = sp && access(sp, F_OK) == 0;
        free(sp);
        if (cli_keys_load_pass(CMD, keys, cli_opt(argc, argv, "--passphrase-file"),
                               enc && have_sk && !pub_only, 0, 0, &k) ||
            cli_db_same_params(CMD, keys, k.p, db)) {
            rc = 1;
            goto done;
        }
    }
    uint8_t mid[HERS_MODEL_ID_BYTES];
    if ((rc = cli_db_vectors(CMD, in, model, &x, mid, &o.model_id_len)) != 0)
        goto done;
    o.model_id = o.model_id_len ? mid : NULL;
    if (info.model_id_len && !model) {
        rc = cli_fail(CMD, "%s: the gallery was compressed with a model: give it with --model", dir);
        goto done;
    }
    if (info.has_gallery && x.cols != info.d) {
        rc = cli_fail(CMD, "%s: dimension %zu, but the gallery %s has dimension %zu", in, x.cols,
                      dir, info.d);
        goto done;
    }
    if (o.scale == 0)   /* a new gallery: the largest safe for d and t (hers_quant.h) */
        o.scale = hers_quant_default_scale(x.cols, info.t);
    if (hers_quant_check(x.cols, o.scale, info.t) != HERS_OK) {
        rc = cli_fail(CMD, "%s: %s", in, hers_last_error());
        goto done;
    }
    /* the database's packing (auto: the rule for this d and scale) */
    hers_packing pack = info.packing == HERS_PACK_AUTO
                            ? hers_packing_default(hers_store_params(db), x.cols, o.scale)
                            : info.packing, want = pack;
    const char *popt = cli_opt(argc, argv, "--packing");
    if (popt && hers_packing_parse(popt, &want) != HERS_OK) {
        rc = cli_fail_lib(CMD, "--packing");
        goto done;
    }
    if (want != HERS_PACK_AUTO && want != pack) {
        rc = cli_fail(CMD, "%s: the database is %s-packed, --packing says %s (the packing is "
                      "fixed by hers init --packing)", dir, hers_packing_name(pack),
                      hers_packing_name(want));
        goto done;
    }
    if (idpath && (rc = cli_db_read_ids(CMD, idpath, x.rows, &ids, &nids)) != 0)
        goto done;
    if (hers_quant_matrix(&x, o.scale, &qm) != HERS_OK) {
        rc = cli_fail(CMD, "%s: %s", in, hers_last_error());
        goto done;
    }
    double t0 = cli_now();
    uint64_t first = 0;
    const hers_public_key *pk = enc && !k.sk ? hers_store_public_key(db) : NULL;
    if (hers_store_enroll(db, enc ? k.sk : NULL, pk, qm.data, qm.rows, qm.cols,
                       (const char *const *)ids, &o, &first) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    printf("enrolled %zu templates into %s: slots %llu..%llu\n", qm.rows, dir,
           (unsigned long long)first, (unsigned long long)(first + qm.rows - 1));
    fflush(stdout);
    fprintf(stderr, "hers enroll: %zu x %zu (%s, scale %u, %s packing, %s) -> %s in %.2f s\n",
            qm.rows, qm.cols, hers_search_mode_name(o.mode), o.scale, hers_packing_name(pack),
            !enc ? "plain" : k.sk ? "secret-key" : "public-key", dir, cli_now() - t0);
done:
    cli_db_free_ids(ids, nids);
    hers_qmatrix_free(&qm);
    hers_matrix_free(&x);
    cli_keys_free(&k);
    hers_store_close(db);
    return rc;
}
