/* cmd_init.c - `hers init --db DIR --keys DIR [--model M]`: creates an
 * encrypted gallery database from the public material of a key directory
 * (parameters, public key, relinearisation key if present): nothing secret
 * is read or written. --model records the id of the reduction model the
 * gallery will be compressed with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_remote.h"
#include "cli/cli_db.h"
#include "cli/cli_keys.h"
#include "hers/hers_reduce.h"

#define CMD "init"

int hers_cmd_init(int argc, char **argv)
{
    static const char *const with_value[] = {"--db", "--keys", "--model", "--packing", NULL};
    static const char *const flags[] = {"--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers init --db DIR --keys DIR [--model M] [--packing auto|slot|coeff]\n"
               "  Creates the gallery database DIR (LMDB) from DIR/%s, %s and %s of the key\n"
               "  directory (public material only). --model M records the reduction model whose\n"
               "  outputs will be enrolled (enroll and search then require the same model).\n"
               "  --packing: template x in plaintext slot x or coefficient x, fixed for the\n"
               "  database (default slot; auto: coeff where the compact result's low-bit\n"
               "  window applies for the d and scale of the first enrolment, docs/design.md).\n",
               CLI_KEYS_PARAMS, CLI_KEYS_PUBLIC, CLI_KEYS_RELIN);
        printf("  With --server URL --gallery NAME --token-file F [--cacert F]: the same over\n"
               "  HTTP(S) against `hers serve` (docs/cli.md, \"The client\").\n");
        return 0;
    }
    if (cli_opt(argc, argv, "--server"))   /* over HTTP(S): cli_remote.c */
        return cli_remote_init(argc, argv);
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *db = cli_opt(argc, argv, "--db"), *keys = cli_opt(argc, argv, "--keys");
    const char *model = cli_opt(argc, argv, "--model");
    if (!db || !keys)
        return cli_usage(CMD, "--db and --keys are required");
    hers_packing pack = HERS_PACK_SLOT;
    if (cli_opt(argc, argv, "--packing") &&
        hers_packing_parse(cli_opt(argc, argv, "--packing"), &pack) != HERS_OK)
        return cli_fail_lib(CMD, "--packing");
    char *rp = cli_keys_path(keys, CLI_KEYS_RELIN);
    int have_rk = rp && access(rp, F_OK) == 0;
    free(rp);
    cli_keys k;
    if (cli_keys_load(CMD, keys, 0, 1, have_rk, &k))
        return 1;
    uint8_t mid[HERS_MODEL_ID_BYTES];
    size_t mlen = 0;
    int rc = 0;
    if (model) {
        hers_reduce_model *m = NULL;
        if (hers_reduce_model_load(model, &m) != HERS_OK ||
            hers_reduce_model_id(m, mid) != HERS_OK)
            rc = cli_fail_lib(CMD, model);
        hers_reduce_model_free(m);
        mlen = sizeof mid;
    }
    if (!rc && hers_store_create(db, k.p, k.pk, k.rk, mlen ? mid : NULL, mlen) != HERS_OK)
        rc = cli_fail(CMD, "%s", hers_last_error());
    /* the packing, and the Galois keys (compact queries: public material
     * too), stored once */
    if (!rc && (rc = cli_keys_load_galois(CMD, keys, &k)) == 0) {
        hers_store *h = NULL;
        if (hers_store_open(db, 0, &h) != HERS_OK || hers_store_set_packing(h, pack) != HERS_OK ||
            (k.gk && hers_store_put_galois_key(h, k.gk) != HERS_OK))
            rc = cli_fail(CMD, "%s", hers_last_error());
        hers_store_close(h);
    }
    if (!rc) {
        char hex[2 * HERS_MODEL_ID_BYTES + 1] = "none";
        if (mlen)
            cli_db_hex(mid, mlen, hex);
        fprintf(stderr, "hers init: created %s (N = %zu, t = %llu, model %s, %s packing)\n", db,
                hers_params_n(k.p), (unsigned long long)hers_params_t(k.p), hex,
                hers_packing_name(pack));
    }
    cli_keys_free(&k);
    return rc;
}
