/* cmd_query.c - the protocol over files (batch and air-gapped use):
 *   key holder  hers query encrypt --keys K --probe P [--model M] [--scale S]
 *                                  --out Q.hq
 *   server      hers search --db DIR --query Q.hq --out R.hr
 *   key holder  hers results decrypt --keys K --in R.hr [--top K]
 *                                    [--threshold S] [--out R.tsv]
 * Q is the query record (HERSQRY), R the search response (HERSRSP: results
 * and the catalog of live ids), docs/formats.md. The TSV equals the one of
 * `hers search --db` on the same gallery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "cli/cli.h"
#include "cli/cli_db.h"
#include "cli/cli_keys.h"
#include "cli/cli_remote.h"
#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "hers/hers_quant.h"
#include "hers/hers_reduce.h"

/* Reads a whole file (at most 4 GiB) into *buf (malloc). */
int cli_read_all(const char *cmd, const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail(cmd, "%s: cannot open", path);
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return cli_fail(cmd, "%s: not a regular file", path);
    }
    long n = ftell(f);
    rewind(f);
    if (n < 0 || (unsigned long)n > (4ul << 30)) {
        fclose(f);
        return cli_fail(cmd, "%s: size out of range", path);
    }
    *buf = malloc(n ? (size_t)n : 1);
    if (!*buf) {
        fclose(f);
        return cli_fail(cmd, "out of memory");
    }
    if (fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(*buf);
        return cli_fail(cmd, "%s: read error", path);
    }
    fclose(f);
    *len = (size_t)n;
    return 0;
}

/* Writes buf to path atomically (core/atomic_file.h: temporary, fsync, rename). */
int cli_write_all(const char *cmd, const char *path, const void *buf, size_t len)
{
    if (hers_atomic_write_file(path, buf, len, 0644) != HERS_OK)
        return cli_fail(cmd, "%s: write failed", path);
    return 0;
}

static int query_encrypt(int argc, char **argv)
{
    static const char *const with_value[] = {"--keys", "--probe", "--model", "--scale", "--out",
                                             "--passphrase-file", "--form", NULL};
    static const char *const flags[] = {"--public-key-only", NULL};
    const char *cmd = "query";
    hers_query_form qf = HERS_QUERY_FULL;
    if (cli_opt(argc, argv, "--form") &&
        hers_query_form_parse(cli_opt(argc, argv, "--form"), &qf) != HERS_OK)
        return cli_fail_lib(cmd, "--form");
    if (cli_check_opts(cmd, argc - 1, argv + 1, with_value, flags))
        return 2;
    const char *keys = cli_opt(argc, argv, "--keys"), *ppath = cli_opt(argc, argv, "--probe");
    const char *out = cli_opt(argc, argv, "--out"), *model = cli_opt(argc, argv, "--model");
    if (!keys || !ppath || !out)
        return cli_usage(cmd, "--keys, --probe and --out are required");
    uint64_t scale;
    if (cli_opt_u64(cmd, argc, argv, "--scale", 0, 1,
                    HERS_QUANT_MAX_SCALE, &scale))
        return 2;
    int pub = cli_flag(argc, argv, "--public-key-only");
    cli_keys k;
    if (cli_keys_load_pass(cmd, keys, cli_opt(argc, argv, "--passphrase-file"), !pub, pub, 0,
                           &k))
        return 1;
    hers_matrix x = {0, 0, NULL};
    hers_qmatrix qm = {0, 0, 0, NULL};
    hers_query *q = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    uint8_t mid[HERS_MODEL_ID_BYTES];
    size_t mlen = 0;
    int rc = cli_db_vectors(cmd, ppath, model, &x, mid, &mlen);
    if (!rc && scale == 0)   /* the enrolment default for this d and t (hers_quant.h) */
        scale = hers_quant_default_scale(x.cols, hers_params_t(k.p));
    if (!rc && (hers_quant_matrix(&x, (uint32_t)scale, &qm) != HERS_OK ||
                (qf == HERS_QUERY_COMPACT && !pub
                     ? hers_query_encrypt_compact(k.p, k.sk, qm.data, qm.rows, qm.cols,
                                                  (uint32_t)scale, NULL, &q)
                     : hers_query_encrypt(k.p, pub ? NULL : k.sk, pub ? k.pk : NULL, qm.data,
                                          qm.rows, qm.cols, (uint32_t)scale, NULL, &q)) !=
                    HERS_OK ||
                hers_query_serialize(k.p, q, &buf, &len) != HERS_OK))
        rc = cli_fail(cmd, "%s: %s", ppath, hers_last_error());
    if (!rc)
        rc = cli_write_all(cmd, out, buf, len);
    if (!rc)
        fprintf(stderr, "hers query: %zu probes x %zu (scale %u) encrypted to %s (%zu bytes)\n",
                qm.rows, qm.cols, (unsigned)scale, out, len);
    hers_free(buf);
    hers_query_free(q);
    hers_qmatrix_free(&qm);
    hers_matrix_free(&x);
    cli_keys_free(&k);
    return rc;
}

int hers_cmd_query(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "encrypt") && !cli_flag(argc, argv, "--help"))
        return query_encrypt(argc, argv);
    printf("usage: hers query encrypt --keys DIR --probe P.npy [--model M] [--scale S]\n"
           "                          --out Q.hq [--form full|compact] [--public-key-only]\n"
           "                          [--passphrase-file F]\n"
           "  --form compact: one ciphertext per probe (the server needs the gallery's Galois\n"
           "  keys, DIR/galois.key, to expand it).\n"
           "  Key holder: compresses (M), normalises, quantises (scale S: the gallery's;\n"
           "  default the enrolment default for P's d and the keys' t, e.g. 714 at d = 64)\n"
           "  and encrypts every row of P into the query record Q. The server\n"
           "  answers it with `hers search --db DIR --query Q --out R`; `hers results decrypt`\n"
           "  ranks R.\n");
    return argc >= 2 && !strcmp(argv[1], "encrypt") ? 0 : 2;
}

int hers_cmd_results(int argc, char **argv)
{
    static const char *const with_value[] = {"--keys", "--in", "--top", "--threshold", "--out",
                                             "--passphrase-file", NULL};
    static const char *const flags[] = {NULL};
    const char *cmd = "results";
    if (argc < 2 || strcmp(argv[1], "decrypt") || cli_flag(argc, argv, "--help")) {
        printf("usage: hers results decrypt --keys DIR --in R.hr [--top K] [--threshold S]\n"
               "                            [--out R.tsv] [--passphrase-file F]\n"
               "  Key holder: decrypts a search response and writes the TSV of `hers search`\n"
               "  (probe, rank, id, score).\n");
        return cli_flag(argc, argv, "--help") ? 0 : 2;
    }
    if (cli_check_opts(cmd, argc - 1, argv + 1, with_value, flags))
        return 2;
    const char *keys = cli_opt(argc, argv, "--keys"), *in = cli_opt(argc, argv, "--in");
    const char *out = cli_opt(argc, argv, "--out");
    if (!keys || !in)
        return cli_usage(cmd, "--keys and --in are required");
    cli_rank_opts ro;
    int orc = cli_rank_options(cmd, argc, argv, &ro);
    if (orc)
        return orc;
    cli_keys k;
    if (cli_keys_load_pass(cmd, keys, cli_opt(argc, argv, "--passphrase-file"), 1, 0, 0, &k))
        return 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    hers_net_response *r = NULL;
    int rc = cli_read_all(cmd, in, &buf, &len);
    if (!rc && hers_net_response_decode(k.p, buf, len, &r) != HERS_OK)
        rc = cli_fail(cmd, "%s: %s", in, hers_last_error());
    cli_out o = {0};
    if (!rc && (rc = cli_out_open(cmd, out, &o)) == 0) {
        rc = cli_print_response(cmd, k.p, k.sk, r, &ro, o.f);
        rc = cli_out_close(cmd, &o, rc);
    }
    hers_net_response_free(r);
    free(buf);
    cli_keys_free(&k);
    return rc;
}

int cli_db_search_query(int argc, char **argv)
{
    static const char *const with_value[] = {"--db", "--query", "--out", "--threads", "--result",
                                             NULL};
    static const char *const flags[] = {NULL};
    const char *cmd = "search";
    if (cli_check_opts(cmd, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--db"), *qp = cli_opt(argc, argv, "--query");
    const char *out = cli_opt(argc, argv, "--out"), *form = cli_opt(argc, argv, "--result");
    if (!dir || !qp || !out)
        return cli_fail(cmd, "--db, --query and --out are required (the server's step; no keys)");
    if (form && strcmp(form, "full") && strcmp(form, "switched") && strcmp(form, "relinearized") &&
        strcmp(form, "compact"))
        return cli_fail(cmd, "--result must be full, switched, relinearized or compact, got '%s'",
                        form);
    uint64_t threads;
    if (cli_opt_u64(cmd, argc, argv, "--threads", 0, 0, 256, &threads))
        return 2;
    uint8_t *q = NULL, *resp = NULL;
    size_t ql = 0, rl = 0;
    hers_service *s = NULL;
    double t0 = cli_now();
    int rc = cli_read_all(cmd, qp, &q, &ql);
    if (!rc && hers_service_open(dir, (unsigned)threads, &s) != HERS_OK)
        rc = cli_fail(cmd, "%s", hers_last_error());
    double t1 = cli_now();
    hers_result_shrink sh = !form || !strcmp(form, "full") ? HERS_RESULT_FULL
                            : !strcmp(form, "switched")    ? HERS_RESULT_SWITCHED
                                                           : HERS_RESULT_RELINEARIZED;
    if (!rc && hers_service_search(s, q, ql, sh, form && !strcmp(form, "compact"), &resp, &rl) !=
                   HERS_OK)
        rc = cli_fail(cmd, "%s: %s", qp, hers_last_error());
    if (!rc)
        rc = cli_write_all(cmd, out, resp, rl);
    if (!rc)
        fprintf(stderr, "hers search: %s answered from %s into %s (%zu bytes): index %.3f s, "
                        "search %.3f s\n", qp, dir, out, rl, t1 - t0, cli_now() - t1);
    hers_free(resp);
    hers_service_close(s);
    free(q);
    return rc;
}
