/* db_search.c - `hers search --db DIR --keys DIR --probe P [--model M]
 * [--top K] [--threshold S] [--out R.tsv] [--threads T] [--max-memory MB]`.
 *
 * Key holder: compresses (--model, required when the database records one),
 * normalises, quantises (the database's scale) and encrypts every probe.
 * Server: opens a snapshot (consistent with concurrent enrolments), builds
 * the kernel form of the gallery from the segments and scores every probe
 * in one pass. With --max-memory (or automatically when the kernel form
 * would not fit in half the RAM) it streams: builds and searches chunks of
 * blocks one after the other, placing each chunk's result blocks. Key
 * holder: decrypts, keeps live slots only (deleted and padding slots are
 * never reported), ranks. TSV rows probe<TAB>rank<TAB>id<TAB>score as
 * `hers search --gallery`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_db.h"
#include "cli/cli_keys.h"
#include "cli/cli_query.h"
#include "cli/cli_rank.h"
#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "hers/hers_quant.h"
#include "hers/hers_reduce.h"

#define CMD "search"

int cli_db_search(int argc, char **argv)
{
    static const char *const with_value[] = {"--db", "--keys", "--probe", "--model", "--top",
                                             "--threshold", "--out", "--threads", "--max-memory",
                                             "--passphrase-file", "--query-form", NULL};
    static const char *const flags[] = {"--timing", "--help", NULL};
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: hers search --db DIR --keys DIR --probe P.npy [--model M] [--top K]\n"
               "                   [--threshold S] [--out R.tsv] [--threads T] [--max-memory MB]\n"
               "                   [--timing] [--passphrase-file F] [--query-form full|compact|auto]\n"
               "  Encrypted search of every row of P against the database's live templates (one\n"
               "  consistent snapshot). TSV rows probe<TAB>rank<TAB>id<TAB>score. Default --top 10;\n"
               "  --threshold S lists every entry with score >= S (at most K with --top).\n"
               "  --max-memory MB streams the gallery through a kernel-form index of at most MB\n"
               "  (automatic when the whole index would exceed half the RAM). --timing prints\n"
               "  build / search / decrypt times to stderr. --query-form compact sends one\n"
               "  ciphertext per probe, expanded with the database's Galois keys (auto: full, as\n"
               "  the store may sum public-key and overlapping segments; docs/design.md).\n");
        return 0;
    }
    if (cli_check_opts(CMD, argc, argv, with_value, flags))
        return 2;
    const char *dir = cli_opt(argc, argv, "--db"), *keys = cli_opt(argc, argv, "--keys");
    const char *ppath = cli_opt(argc, argv, "--probe"), *out = cli_opt(argc, argv, "--out");
    const char *model = cli_opt(argc, argv, "--model");
    if (!dir || !keys || !ppath)
        return cli_usage(CMD, "--db, --keys and --probe are required");
    uint64_t top, threads, maxmem;
    int have_top = cli_opt(argc, argv, "--top") != NULL;
    int have_thr = cli_opt(argc, argv, "--threshold") != NULL;
    double thr = 0;
    if (cli_opt_u64(CMD, argc, argv, "--top", 10, 1, (uint64_t)1 << 32, &top) ||
        cli_opt_u64(CMD, argc, argv, "--threads", 0, 0, 256, &threads) ||
        cli_opt_u64(CMD, argc, argv, "--max-memory", 0, 1, (uint64_t)1 << 30, &maxmem) ||
        cli_opt_double(CMD, argc, argv, "--threshold", 0, &thr))
        return 2;
    if (have_thr && !(thr >= -4.0 && thr <= 4.0))
        return cli_usage(CMD, "--threshold must be a cosine in [-4, 4], got %g", thr);
    cli_keys k;
    if (cli_keys_load_pass(CMD, keys, cli_opt(argc, argv, "--passphrase-file"), 1, 0, 0,
                           &k))
        return 1;
    hers_store *db = NULL;
    hers_store_snapshot *snap = NULL;
    hers_matrix x = {0, 0, NULL};
    hers_qmatrix qm = {0, 0, 0, NULL};
    hers_query *q = NULL;
    hers_searcher *sr = NULL;
    hers_result *res = NULL;
    int64_t *scores = NULL;
    uint8_t *live = NULL;
    size_t *map = NULL;
    hers_match *m = NULL;
    cli_out o = {0};
    size_t n = 0;
    int rc = cli_db_open(CMD, dir, 1, &db);
    if (rc)
        goto done;
    if ((rc = cli_db_same_params(CMD, keys, k.p, db)) != 0)
        goto done;
    if (hers_store_check_secret_key(db, k.sk) != HERS_OK) {
        rc = cli_fail(CMD, "%s: wrong keys: %s", keys, hers_last_error());
        goto done;
    }
    hers_store_info info;
    if (hers_store_get_info(db, &info) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    uint8_t mid[HERS_MODEL_ID_BYTES];
    size_t mlen = 0;
    if ((rc = cli_db_vectors(CMD, ppath, model, &x, mid, &mlen)) != 0)
        goto done;
    if (info.model_id_len != mlen || (mlen && memcmp(info.model_id, mid, mlen) != 0)) {
        rc = cli_fail(CMD, "%s: %s", dir,
                      !mlen ? "the gallery was compressed with a model: give it with --model"
                      : !info.model_id_len ? "the gallery was enrolled without a model"
                                           : "model mismatch: the gallery was compressed with "
                                             "another model");
        goto done;
    }
    if (hers_store_snapshot_open(db, &snap) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    size_t d = hers_store_snapshot_d(snap);
    n = (size_t)hers_store_snapshot_slots(snap);
    uint32_t s = hers_store_snapshot_scale(snap);
    if (d == 0 || n == 0) {
        rc = cli_fail(CMD, "%s: the gallery is empty", dir);
        goto done;
    }
    if (x.cols != d) {
        rc = cli_fail(CMD, "%s: probes have dimension %zu, the gallery %s has %zu", ppath, x.cols,
                      dir, d);
        goto done;
    }
    if (hers_quant_matrix(&x, s, &qm) != HERS_OK) {
        rc = cli_fail(CMD, "%s: %s", ppath, hers_last_error());
        goto done;
    }
    hers_store_search_opts so;
    hers_store_search_stats ss;
    hers_store_search_opts_default(&so);
    so.max_index_bytes = maxmem << 20;   /* 0: half the RAM */
    so.threads = (unsigned)threads;
    double t0 = cli_now();
    /* "auto" needs to know whether any segment was public-key encrypted
     * (more gallery noise: docs/design.md, "Default-form rule") */
    int gpub = 1;
    hers_query_form qform = HERS_QUERY_FULL;
    if (hers_store_snapshot_public_key_encrypted(snap, &gpub) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    if (cli_query_make(CMD, cli_opt(argc, argv, "--query-form"), k.p, k.sk, hers_store_galois_key(db),
                       hers_store_snapshot_mode(snap), gpub, qm.data, qm.rows, d, s, (unsigned)threads,
                       &q, &qform, NULL)) {
        rc = 1;
        goto done;
    }
    if (hers_searcher_create((unsigned)threads, &sr) != HERS_OK ||
        hers_store_search(snap, sr, q, &so, &res, &ss) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    double t1 = cli_now();
    scores = hers_alloc_array(n, sizeof *scores);
    live = malloc(n);
    map = malloc(n * sizeof *map);
    if (!scores || !live || !map) {
        rc = cli_fail(CMD, "out of memory");
        goto done;
    }
    if (hers_store_snapshot_live_map(snap, 0, n, live) != HERS_OK) {
        rc = cli_fail(CMD, "%s", hers_last_error());
        goto done;
    }
    size_t nl = 0;
    for (size_t i = 0; i < n; i++)
        if (live[i])
            map[nl++] = i;
    if ((rc = cli_out_open(CMD, out, &o)) != 0)
        goto done;
    double s2 = (double)s * (double)s;
    cli_rank_opts ro = {have_thr, thr, have_top, top, (uint32_t)s};
    for (size_t r = 0; r < qm.rows && rc == 0; r++) {
        if (hers_result_decrypt(k.p, k.sk, res, r, scores) != HERS_OK) {
            rc = cli_fail_lib(CMD, "decrypt");
            break;
        }
        /* live slots only, in slot order (ties: lower slot first) */
        for (size_t i = 0; i < nl; i++)
            scores[i] = scores[map[i]];
        size_t c = 0;
        if ((rc = cli_rank(CMD, scores, nl, &ro, &m, &c)) != 0)
            break;
        for (size_t i = 0; i < c; i++) {
            const char *id = hers_store_snapshot_id(snap, map[m[i].index]);
            fprintf(o.f, "%zu\t%zu\t%s\t", r, i + 1, id ? id : "?");
            cli_print_score(o.f, (double)m[i].score / s2);
            fputc('\n', o.f);
        }
        hers_free(m);
        m = NULL;
    }
    rc = cli_out_close(CMD, &o, rc);
    if (cli_flag(argc, argv, "--timing"))
        fprintf(stderr,
                "hers search: %zu probes x %zu slots x %zu dims (%zu live), %s, %s query: index build "
                "%.3f s, kernel %.3f s, encrypt+other %.3f s, decrypt+rank %.3f s\n",
                qm.rows, n, d, nl, ss.chunks > 1 ? "streaming" : "in memory",
                hers_query_form_name(qform), ss.build_seconds,
                ss.scan_seconds, t1 - t0 - ss.build_seconds - ss.scan_seconds, cli_now() - t1);
done:
    (void)cli_out_close(CMD, &o, rc ? rc : 1);   /* still open only after a failure */
    hers_free(m);
    hers_free_secret(scores, n * sizeof(int64_t) * (scores != NULL));
    free(live);
    free(map);
    hers_result_free(res);
    hers_searcher_free(sr);
    hers_query_free(q);
    hers_qmatrix_free(&qm);
    hers_matrix_free(&x);
    hers_store_snapshot_close(snap);
    hers_store_close(db);
    cli_keys_free(&k);
    return rc;
}
