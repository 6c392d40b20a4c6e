/* cmd_search.c - `hers search --keys DIR --gallery FILE --probe P.npy
 * [--top K] [--threshold S] [--out R.tsv] [--threads T]
 * [--result full|switched|relinearized|compact] [--query-form full|compact|auto]`.
 *
 * Plays both roles in one process: the key holder normalises, quantises
 * (the gallery's scale) and encrypts the probes; the server builds the
 * kernel form of the gallery and scores every probe in one pass; the key
 * holder decrypts and ranks. Output: TSV rows probe<TAB>rank<TAB>id<TAB>score,
 * probe = 0-based row of the probe file, rank 1-based best first (ties by
 * gallery order), score = the cosine estimate <q(x), q(y)> / s^2 printed
 * with the fewest digits that read back to the same double. Default: top 10.
 * With --threshold S: every entry with score >= S (at most K if --top is
 * also given). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_remote.h"
#include "cli/cli_db.h"
#include "cli/cli_keys.h"
#include "cli/cli_query.h"
#include "cli/cli_rank.h"
#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "hers/hers_quant.h"
#include "hers/hers_search.h"

#define CMD "search"

int hers_cmd_search(int argc, char **argv)
{
    static const char *const with_value[] = {"--keys", "--gallery", "--probe", "--top",
                                             "--threshold", "--out", "--threads", "--result",
                                             "--passphrase-file", "--query-form", NULL};
    static const char *const flags[] = {"--help", NULL};
    if (cli_flag(argc, argv, "--help") && !cli_flag(argc, argv, "--db")) {
        printf("usage: hers search --keys DIR --gallery FILE --probe P.npy [--top K] [--threshold S]\n"
               "                   [--out R.tsv] [--threads T] [--result full|switched|relinearized|compact]\n"
               "                   [--query-form full|compact|auto]\n"
               "  Encrypts every row of P, searches the encrypted gallery and writes TSV rows\n"
               "  probe<TAB>rank<TAB>id<TAB>score (score = cosine estimate). Default --top 10;\n"
               "  --threshold S lists every entry with score >= S (at most K with --top).\n"
               "  --passphrase-file F: passphrase of a protected DIR/secret.key (first line of F).\n"
               "  --query-form: compact = one ciphertext per probe, expanded with DIR/galois.key;\n"
               "  auto (default) = compact where the noise budget allows it (docs/design.md).\n"
               "  --result compact: relinearised results sent as the compact record (7 B per\n"
               "  template at n4096; needs relin.key).\n"
               "  With --db DIR instead of --gallery: search a gallery database (hers search --db DIR --help).\n");
        printf("  With --server URL --gallery NAME --token-file F [--cacert F]: the same over\n"
               "  HTTP(S) against `hers serve` (docs/cli.md, \"The client\"); --catalog-cache F\n"
               "  keeps the gallery's catalog (ids) in F and downloads it again only when the\n"
               "  server's catalog version differs.\n");
        return 0;
    }
    /* presence, not value: "--db" or "--server" without a value is reported
     * by that mode's option check ("option --db needs a value") */
    if (cli_flag(argc, argv, "--server"))   /* over HTTP(S): cli_remote.c */
        return cli_remote_search(argc, argv);
    if (cli_flag(argc, argv, "--root"))   /* a sharded gallery under mpirun: cmd_cluster.c */
        return cli_cluster_search(argc, argv);
    if (cli_flag(argc, argv, "--db") && cli_flag(argc, argv, "--query"))   /* server, files */
        return cli_db_search_query(argc, argv);
    if (cli_flag(argc, argv, "--db"))   /* the gallery database (src/cli/db_search.c) */
        return cli_db_search(argc, argv);
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--keys"), *gpath = cli_opt(argc, argv, "--gallery");
    const char *ppath = cli_opt(argc, argv, "--probe"), *out = cli_opt(argc, argv, "--out");
    if (!dir || !gpath || !ppath)
        return cli_usage(CMD, "--keys, --gallery and --probe are required (or --db DIR: a gallery "
                                   "database; see hers search --help)");
    uint64_t top, threads;
    int have_top = cli_opt(argc, argv, "--top") != NULL;
    int have_thr = cli_opt(argc, argv, "--threshold") != NULL;
    double thr = 0;
    if (cli_opt_u64(CMD, argc, argv, "--top", 10, 1, (uint64_t)1 << 32, &top) ||
        cli_opt_u64(CMD, argc, argv, "--threads", 0, 0, 256, &threads) ||
        cli_opt_double(CMD, argc, argv, "--threshold", 0, &thr))
        return 2;
    if (have_thr && !(thr >= -4.0 && thr <= 4.0))
        return cli_usage(CMD, "--threshold must be a cosine in [-4, 4], got %g", thr);
    hers_search_opts so = {HERS_RESULT_FULL, NULL};
    int compact_result = 0;
    const char *rf = cli_opt(argc, argv, "--result");
    if (rf) {
        if (!strcmp(rf, "full"))
            so.shrink = HERS_RESULT_FULL;
        else if (!strcmp(rf, "switched"))
            so.shrink = HERS_RESULT_SWITCHED;
        else if (!strcmp(rf, "relinearized"))
            so.shrink = HERS_RESULT_RELINEARIZED;
        else if (!strcmp(rf, "compact"))
            so.shrink = HERS_RESULT_RELINEARIZED, compact_result = 1;
        else
            return cli_fail(CMD, "--result must be full, switched, relinearized or compact, got '%s'", rf);
    }
    cli_keys k;
    if (cli_keys_load_pass(CMD, dir, cli_opt(argc, argv, "--passphrase-file"), 1, 0,
                           so.shrink == HERS_RESULT_RELINEARIZED, &k))
        return 1;
    so.rk = k.rk;
    if (cli_keys_load_galois(CMD, dir, &k)) {
        cli_keys_free(&k);
        return 1;
    }
    hers_gallery *g = NULL;
    hers_index *ix = NULL;
    hers_matrix x = {0, 0, NULL};
    hers_qmatrix qm = {0, 0, 0, NULL};
    hers_query *q = NULL;
    hers_searcher *sr = NULL;
    hers_result *res = NULL;
    int64_t *scores = NULL;
    hers_match *m = NULL;
    cli_out o = {0};
    int rc = 0;
    if (hers_gallery_read(gpath, k.p, &g) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    if (hers_matrix_read(ppath, &x) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    size_t d = hers_gallery_d(g), n = hers_gallery_n(g);
    uint32_t s = hers_gallery_scale(g);
    if (x.cols != d) {
        rc = cli_fail(CMD, "%s: probes have dimension %zu, the gallery %s has %zu", ppath, x.cols,
                      gpath, d);
        goto done;
    }
    hers_matrix_normalize_rows(&x);
    if (hers_quant_matrix(&x, s, &qm) != HERS_OK) {
        rc = cli_fail(CMD, "%s: %s", ppath, hers_last_error());
        goto done;
    }
    if (cli_query_make(CMD, cli_opt(argc, argv, "--query-form"), k.p, k.sk, k.gk,
                       hers_gallery_mode(g), hers_gallery_public_key_encrypted(g), qm.data, qm.rows,
                       d, s, (unsigned)threads, &q, NULL, NULL)) {
        rc = 1;
        goto done;
    }
    if (hers_index_build(k.p, g, (unsigned)threads, &ix) != HERS_OK ||
        hers_searcher_create((unsigned)threads, &sr) != HERS_OK ||
        hers_search(sr, k.p, ix, q, &so, &res) != HERS_OK) {
        rc = cli_fail(CMD, "%s: %s", gpath, hers_last_error());
        goto done;
    }
    if (compact_result) {
        /* what the server sends back: the compact record; the key holder
         * reads it */
        uint8_t *rb = NULL;
        size_t rl = 0;
        hers_result *back = NULL;
        if (hers_result_serialize_compact(k.p, res, &rb, &rl) != HERS_OK ||
            hers_result_deserialize(k.p, rb, rl, &back) != HERS_OK) {
            hers_free(rb);
            rc = cli_fail(CMD, "compact result: %s", hers_last_error());
            goto done;
        }
        hers_free(rb);
        hers_result_free(res);
        res = back;
    }
    hers_index_free(ix);
    ix = NULL;
    if ((rc = cli_out_open(CMD, out, &o)) != 0)
        goto done;
    scores = hers_alloc_array(n, sizeof *scores);
    if (!scores) {
        rc = cli_fail(CMD, "out of memory");
        goto done;
    }
    double s2 = (double)s * (double)s;
    cli_rank_opts ro = {have_thr, thr, have_top, top, (uint32_t)s};
    for (size_t r = 0; r < qm.rows && rc == 0; r++) {
        if (hers_result_decrypt(k.p, k.sk, res, r, scores) != HERS_OK) {
            rc = cli_fail_lib(CMD, "decrypt");
            break;
        }
        size_t c = 0;
        if ((rc = cli_rank(CMD, scores, n, &ro, &m, &c)) != 0)
            break;
        for (size_t i = 0; i < c; i++) {
            fprintf(o.f, "%zu\t%zu\t%s\t", r, i + 1, hers_gallery_id(g, m[i].index));
            cli_print_score(o.f, (double)m[i].score / s2);
            fputc('\n', o.f);
        }
        hers_free(m);
        m = NULL;
    }
    rc = cli_out_close(CMD, &o, rc);
done:
    (void)cli_out_close(CMD, &o, rc ? rc : 1);   /* still open only after a failure */
    hers_free(m);
    hers_free_secret(scores, n * sizeof(int64_t) * (scores != NULL));
    hers_result_free(res);
    hers_searcher_free(sr);
    hers_query_free(q);
    hers_qmatrix_free(&qm);
    hers_matrix_free(&x);
    hers_index_free(ix);
    hers_gallery_free(g);
    cli_keys_free(&k);
    return rc;
}
