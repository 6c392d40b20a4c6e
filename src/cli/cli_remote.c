/*
 * cli_remote.c - `hers init | enroll | search | delete | info | compact
 * --server URL --gallery NAME --token-file F [--cacert F]`: the local
 * commands over HTTP(S). The key holder's steps (compress, quantise,
 * encrypt, decrypt, rank) run here; the server stores, scans and answers
 * (docs/api.md). Outputs are those of the local commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "cli/cli.h"
#include "cli/cli_db.h"
#include "cli/cli_keys.h"
#include "cli/cli_remote.h"
#include "hers/hers_io.h"
#include "hers/hers_mem.h"
#include "hers/hers_quant.h"
#include "hers/hers_reduce.h"
#include "hers/hers_serial.h"

typedef struct remote {
    hers_client *c;
    const char *url, *gallery;
} remote;

#define REMOTE_OPTS "--server", "--gallery", "--token-file", "--cacert"

static int remote_open(const char *cmd, int argc, char **argv, remote *r)
{
    memset(r, 0, sizeof *r);
    r->url = cli_opt(argc, argv, "--server");
    r->gallery = cli_opt(argc, argv, "--gallery");
    const char *tf = cli_opt(argc, argv, "--token-file");
    if (!r->url || !r->gallery || !tf)
        return cli_usage(cmd, "--server URL, --gallery NAME and --token-file F are required");
    char *tok = NULL;
    size_t tl = 0;
    if (cli_passphrase_read(cmd, tf, &tok, &tl))
        return 1;
    hers_status st = hers_client_create(r->url, tok, cli_opt(argc, argv, "--cacert"), &r->c);
    cli_passphrase_free(tok, tl);
    if (st != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    return 0;
}

/* One call on the gallery's path + suffix; any status but `expect` is an
 * error line naming the server, the gallery, the status and its message. */
static int remote_call(const char *cmd, remote *r, const char *method, const char *suffix,
                       const void *body, size_t len, const char *type, long expect,
                       uint8_t **resp, size_t *rlen)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/galleries/%s%s", r->gallery, suffix);
    long code = 0;
    if (hers_client_call(r->c, method, path, body, len, type, resp, rlen, &code) != HERS_OK)
        return cli_fail(cmd, "%s", hers_last_error());
    if (code == expect)
        return 0;
    char msg[512] = "";
    if (hers_json_get((const char *)*resp, *rlen, "error", msg, sizeof msg) != 0)
        snprintf(msg, sizeof msg, "unexpected reply");
    free(*resp);
    *resp = NULL;
    return cli_fail(cmd, "%s: gallery %s: HTTP %ld: %s", r->url, r->gallery, code, msg);
}

typedef struct remote_info {
    char json[1 << 16];   /* a cluster's lists every shard */
    size_t len;
    size_t d, N;
    uint32_t scale;
    int has_gallery;
    hers_search_mode mode;
    hers_packing packing;   /* slot when the server does not say (older servers) */
    char model[80], params_id[80];
    uint64_t next_offset;
} remote_info;

static int jget(const remote_info *in, const char *k, char *out, size_t cap)
{
    return hers_json_get(in->json, in->len, k, out, cap);
}

static int remote_describe(const char *cmd, remote *r, remote_info *in)
{
    uint8_t *resp = NULL;
    size_t len = 0;
    if (remote_call(cmd, r, "GET", "", NULL, 0, NULL, 200, &resp, &len))
        return 1;
    memset(in, 0, sizeof *in);
    in->len = len < sizeof in->json - 1 ? len : sizeof in->json - 1;
    memcpy(in->json, resp, in->len);
    free(resp);
    char v[128];
    if (jget(in, "d", v, sizeof v) || (in->d = strtoul(v, NULL, 10), 0) ||
        jget(in, "N", v, sizeof v) || (in->N = strtoul(v, NULL, 10), 0) ||
        jget(in, "scale", v, sizeof v) || (in->scale = (uint32_t)strtoul(v, NULL, 10), 0) ||
        jget(in, "has_gallery", v, sizeof v) || (in->has_gallery = atoi(v), 0) ||
        jget(in, "next_offset", v, sizeof v) || (in->next_offset = strtoull(v, NULL, 10), 0) ||
        jget(in, "mode", v, sizeof v) || hers_search_mode_parse(v, &in->mode) != HERS_OK ||
        jget(in, "model_id", in->model, sizeof in->model) ||
        jget(in, "params_id", in->params_id, sizeof in->params_id))
        return cli_fail(cmd, "%s: gallery %s: malformed description", r->url, r->gallery);
    in->packing = HERS_PACK_SLOT;
    if (jget(in, "packing", v, sizeof v) == 0 && hers_packing_parse(v, &in->packing) != HERS_OK)
        return cli_fail(cmd, "%s: gallery %s: packing '%s' unknown", r->url, r->gallery, v);
    return 0;
}

/* The key directory's parameters must be the gallery's. */
static int same_params(const char *cmd, const char *keys, const hers_params *p,
                       const remote_info *in, const remote *r)
{
    char hex[2 * 32 + 1];
    cli_db_hex(hers_params_id(p), 32, hex);
    if (strcmp(hex, in->params_id))
        return cli_fail(cmd, "%s: wrong keys: their parameter set is not the one of gallery %s",
                        keys, r->gallery);
    return 0;
}

static int model_matches(const char *cmd, const remote_info *in, const uint8_t *mid,
                         size_t mlen, const remote *r)
{
    char hex[2 * HERS_MODEL_ID_BYTES + 1] = "";
    if (mlen)
        cli_db_hex(mid, mlen, hex);
    if (strcmp(hex, in->model))
        return cli_fail(cmd, "%s: %s", r->gallery,
                        !mlen ? "the gallery was compressed with a model: give it with --model"
                        : !in->model[0] ? "the gallery was enrolled without a model"
                                        : "model mismatch: the gallery was compressed with "
                                          "another model");
    return 0;
}

/* ------------------------------------------------------------ init */

int cli_remote_init(int argc, char **argv)
{
    static const char *const with_value[] = {REMOTE_OPTS, "--keys", "--model", "--packing", NULL};
    static const char *const flags[] = {NULL};
    const char *cmd = "init";
    if (cli_check_opts(cmd, argc, argv, with_value, flags))
        return 2;
    hers_packing pack = HERS_PACK_SLOT;
    if (cli_opt(argc, argv, "--packing") &&
        hers_packing_parse(cli_opt(argc, argv, "--packing"), &pack) != HERS_OK)
        return cli_fail_lib(cmd, "--packing");
    const char *keys = cli_opt(argc, argv, "--keys"), *model = cli_opt(argc, argv, "--model");
    if (!keys)
        return cli_usage(cmd, "--keys DIR is required");
    remote r;
    if (remote_open(cmd, argc, argv, &r))
        return 1;
    char *rp = cli_keys_path(keys, CLI_KEYS_RELIN);
    int have_rk = rp && access(rp, F_OK) == 0;
    free(rp);
    cli_keys k;
    if (cli_keys_load(cmd, keys, 0, 1, have_rk, &k)) {
        hers_client_free(r.c);
        return 1;
    }
    int rc = cli_keys_load_galois(cmd, keys, &k);   /* public too: compact queries */
    uint8_t mid[HERS_MODEL_ID_BYTES];
    size_t mlen = 0;
    if (!rc && model) {
        hers_reduce_model *m = NULL;
        if (hers_reduce_model_load(model, &m) != HERS_OK ||
            hers_reduce_model_id(m, mid) != HERS_OK)
            rc = cli_fail_lib(cmd, model);
        hers_reduce_model_free(m);
        mlen = sizeof mid;
    }
    uint8_t *body = NULL, *resp = NULL;
    size_t len = 0, rlen = 0;
    hers_net_init ni;
    memset(&ni, 0, sizeof ni);
    ni.p = k.p;
    ni.pk = k.pk;
    ni.rk = k.rk;
    ni.gk = k.gk;
    memcpy(ni.model_id, mid, mlen);
    ni.model_id_len = mlen;
    ni.packing = pack;
    if (!rc && hers_net_init_encode_ex(&ni, &body, &len) != HERS_OK)
        rc = cli_fail(cmd, "%s", hers_last_error());
    if (!rc)
        rc = remote_call(cmd, &r, "POST", "", body, len, NULL, 201, &resp, &rlen);
    if (!rc) {
        char hex[2 * HERS_MODEL_ID_BYTES + 1] = "none";
        if (mlen)
            cli_db_hex(mid, mlen, hex);
        fprintf(stderr, "hers init: created %s on %s (N = %zu, t = %llu, model %s, %s packing)\n",
                r.gallery, r.url, hers_params_n(k.p), (unsigned long long)hers_params_t(k.p), hex,
                hers_packing_name(pack));
    }
    free(resp);
    hers_free(body);
    cli_keys_free(&k);
    hers_client_free(r.c);
    return rc;
}

/* ------------------------------------------------------------ enroll */

int cli_remote_enroll(int argc, char **argv)
{
    static const char *const with_value[] = {REMOTE_OPTS, "--keys", "--in", "--ids", "--model",
                                             "--scale", "--mode", "--threads",
                                             "--passphrase-file", "--request-file", "--packing",
                                             NULL};
    static const char *const flags[] = {"--replace", "--public-key-only", "--public", NULL};
    const char *cmd = "enroll";
    const char *reqf = cli_opt(argc, argv, "--request-file");
    if (cli_check_opts(cmd, argc, argv, with_value, flags))
        return 2;
    const char *keys = cli_opt(argc, argv, "--keys"), *in = cli_opt(argc, argv, "--in");
    const char *idpath = cli_opt(argc, argv, "--ids"), *model = cli_opt(argc, argv, "--model");
    int pub_only = cli_flag(argc, argv, "--public-key-only") || cli_flag(argc, argv, "--public");
    if (!in)
        return cli_usage(cmd, "--in is required");
    if (!keys && !pub_only)
        return cli_usage(cmd, "--keys DIR is required (or --public-key-only)");
    uint64_t scale = 0, threads;
    if (cli_opt_u64(cmd, argc, argv, "--scale", 0, 1, HERS_QUANT_MAX_SCALE, &scale) ||
        cli_opt_u64(cmd, argc, argv, "--threads", 0, 0, 256, &threads))
        return 2;
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.threads = (unsigned)threads;
    if (cli_opt(argc, argv, "--mode") &&
        hers_search_mode_parse(cli_opt(argc, argv, "--mode"), &eo.mode) != HERS_OK)
        return cli_fail_lib(cmd, "--mode");
    remote r;
    if (remote_open(cmd, argc, argv, &r))
        return 1;
    remote_info info;
    cli_keys k;
    memset(&k, 0, sizeof k);
    hers_net_init pub;
    memset(&pub, 0, sizeof pub);
    hers_matrix x = {0, 0, NULL};
    hers_qmatrix qm = {0, 0, 0, NULL};
    char **ids = NULL;
    size_t nids = 0;
    int32_t *vals = NULL;
    hers_gallery *g = NULL;
    uint8_t *body = NULL, *resp = NULL;
    size_t blen = 0, rlen = 0;
    int rc = 0;
    if (reqf && access(reqf, F_OK) == 0) {   /* a retry: the same bytes, applied once */
        uint8_t *saved = NULL;
        size_t sl = 0;
        if ((rc = cli_read_all(cmd, reqf, &saved, &sl)) == 0 &&
            (rc = remote_call(cmd, &r, "POST", "/templates", saved, sl, NULL, 201, &resp,
                              &rlen)) == 0) {
            char en[32] = "0";
            hers_json_get((const char *)resp, rlen, "enrolled", en, sizeof en);
            printf("enrolled %s templates into %s (request %s, retried)\n", en, r.gallery, reqf);
            fflush(stdout);
            unlink(reqf);
        }
        free(saved);
        goto done;
    }
    rc = remote_describe(cmd, &r, &info);
    if (rc)
        goto done;
    /* the gallery's scale unless given; a new gallery's is chosen once d is known */
    eo.scale = scale ? (uint32_t)scale : info.has_gallery ? info.scale : 0;
    if (info.has_gallery && !cli_opt(argc, argv, "--mode"))
        eo.mode = info.mode;
    int enc = eo.mode == HERS_MODE_BOTH_ENCRYPTED;
    if (keys) {
        char *sp = cli_keys_path(keys, CLI_KEYS_SECRET);
        int have_sk = sp && access(sp, F_OK) == 0;
        free(sp);
        if (cli_keys_load_pass(cmd, keys, cli_opt(argc, argv, "--passphrase-file"),
                               enc && have_sk && !pub_only, 0, 0, &k) ||
            same_params(cmd, keys, k.p, &info, &r)) {
            rc = 1;
            goto done;
        }
    }
    if (enc && !k.sk) {   /* a third party: the gallery's public key */
        if ((rc = remote_call(cmd, &r, "GET", "/keys", NULL, 0, NULL, 200, &resp, &rlen)) != 0)
            goto done;
        if (hers_net_init_decode(resp, rlen, &pub) != HERS_OK) {
            rc = cli_fail(cmd, "%s: gallery %s: keys: %s", r.url, r.gallery, hers_last_error());
            goto done;
        }
        free(resp);
        resp = NULL;
    }
    const hers_params *p = k.p ? k.p : pub.p;
    if (!p) {
        rc = cli_usage(cmd, "--keys DIR is required for a plain gallery");
        goto done;
    }
    uint8_t mid[HERS_MODEL_ID_BYTES];
    size_t mlen = 0;
    if ((rc = cli_db_vectors(cmd, in, model, &x, mid, &mlen)) != 0)
        goto done;
    if ((info.has_gallery || info.model[0]) && (rc = model_matches(cmd, &info, mid, mlen, &r)))
        goto done;
    if (info.has_gallery && x.cols != info.d) {
        rc = cli_fail(cmd, "%s: dimension %zu, but the gallery %s has dimension %zu", in, x.cols,
                      r.gallery, info.d);
        goto done;
    }
    if (eo.scale == 0)   /* a new gallery: the largest safe for d and t (hers_quant.h) */
        eo.scale = hers_quant_default_scale(x.cols, hers_params_t(p));
    if (hers_quant_check(x.cols, eo.scale, hers_params_t(p)) != HERS_OK) {
        rc = cli_fail(cmd, "%s: %s", in, hers_last_error());
        goto done;
    }
    if (idpath && (rc = cli_db_read_ids(cmd, idpath, x.rows, &ids, &nids)) != 0)
        goto done;
    if (hers_quant_matrix(&x, eo.scale, &qm) != HERS_OK) {
        rc = cli_fail(cmd, "%s: %s", in, hers_last_error());
        goto done;
    }
    /* the gallery's packing (auto: the rule for this d and scale); an
     * explicit --packing must agree */
    eo.packing = info.packing == HERS_PACK_AUTO ? hers_packing_default(p, x.cols, eo.scale)
                                                : info.packing;
    hers_packing want = eo.packing;
    if (cli_opt(argc, argv, "--packing") &&
        hers_packing_parse(cli_opt(argc, argv, "--packing"), &want) != HERS_OK) {
        rc = cli_fail_lib(cmd, "--packing");
        goto done;
    }
    if (want != HERS_PACK_AUTO && want != eo.packing) {
        rc = cli_fail(cmd, "%s: the gallery is %s-packed, --packing says %s", r.gallery,
                      hers_packing_name(eo.packing), hers_packing_name(want));
        goto done;
    }
    /* the rows go after next_offset zero rows: they fill the gallery's last block */
    double t0 = cli_now();
    size_t o = (size_t)info.next_offset, m = qm.rows, d = qm.cols;
    if (!(vals = hers_alloc_array(o + m, d * sizeof *vals))) {
        rc = cli_fail(cmd, "out of memory");
        goto done;
    }
    memset(vals, 0, o * d * sizeof *vals);
    memcpy(vals + o * d, qm.data, m * d * sizeof *vals);
    const hers_public_key *pk = enc && !k.sk ? pub.pk : NULL;
    if (hers_gallery_enroll(p, enc ? k.sk : NULL, pk, vals, o + m, d, &eo, &g) != HERS_OK ||
        hers_net_enroll_encode(p, g, o, (const char *const *)ids, m,
                               cli_flag(argc, argv, "--replace"), mlen ? mid : NULL, mlen, &body,
                               &blen) != HERS_OK) {
        rc = cli_fail(cmd, "%s", hers_last_error());
        goto done;
    }
    /* kept until acknowledged: re-running the command re-sends these bytes */
    if (reqf && (rc = cli_write_all(cmd, reqf, body, blen)))
        goto done;
    if ((rc = remote_call(cmd, &r, "POST", "/templates", body, blen, NULL, 201, &resp, &rlen)))
        goto done;
    if (reqf)
        unlink(reqf);
    char fs[32] = "0";
    hers_json_get((const char *)resp, rlen, "first_slot", fs, sizeof fs);
    unsigned long long first = strtoull(fs, NULL, 10);
    printf("enrolled %zu templates into %s: slots %llu..%llu\n", m, r.gallery, first,
           first + m - 1);
    fflush(stdout);
    fprintf(stderr, "hers enroll: %zu x %zu (%s, scale %u, %s) -> %s on %s in %.2f s\n", m, d,
            hers_search_mode_name(eo.mode), eo.scale,
            !enc ? "plain" : k.sk ? "secret-key" : "public-key", r.gallery, r.url,
            cli_now() - t0);
done:
    free(resp);
    hers_free(body);
    hers_gallery_free(g);
    if (vals)
        hers_free_secret(vals, (info.next_offset + qm.rows) * qm.cols * sizeof *vals);
    cli_db_free_ids(ids, nids);
    hers_qmatrix_free(&qm);
    hers_matrix_free(&x);
    hers_net_init_free(&pub);
    cli_keys_free(&k);
    hers_client_free(r.c);
    return rc;
}

/* ------------------------------------------------------------ search */

int cli_remote_search(int argc, char **argv)
{
    static const char *const with_value[] = {REMOTE_OPTS, "--keys", "--probe", "--model",
                                             "--top", "--threshold", "--out", "--threads",
                                             "--result", "--passphrase-file", "--query-form",
                                             "--catalog-cache", NULL};
    static const char *const flags[] = {"--timing", NULL};
    const char *cmd = "search";
    const char *qfs = cli_opt(argc, argv, "--query-form");
    hers_query_form qf = HERS_QUERY_FULL;
    if (qfs && strcmp(qfs, "auto") && hers_query_form_parse(qfs, &qf) != HERS_OK)
        return cli_fail(cmd, "--query-form must be full, compact or auto, got '%s'", qfs);
    if (cli_check_opts(cmd, argc, argv, with_value, flags))
        return 2;
    const char *keys = cli_opt(argc, argv, "--keys"), *ppath = cli_opt(argc, argv, "--probe");
    const char *out = cli_opt(argc, argv, "--out"), *model = cli_opt(argc, argv, "--model");
    const char *form = cli_opt(argc, argv, "--result");
    if (!keys || !ppath)
        return cli_usage(cmd, "--keys and --probe are required");
    if (form && strcmp(form, "full") && strcmp(form, "switched") && strcmp(form, "relinearized") &&
        strcmp(form, "compact"))
        return cli_fail(cmd, "--result must be full, switched, relinearized or compact, got '%s'",
                        form);
    cli_rank_opts ro;
    int orc = cli_rank_options(cmd, argc, argv, &ro);
    if (orc)
        return orc;
    remote r;
    if (remote_open(cmd, argc, argv, &r))
        return 1;
    cli_keys k;
    memset(&k, 0, sizeof k);
    remote_info info;
    hers_matrix x = {0, 0, NULL};
    hers_qmatrix qm = {0, 0, 0, NULL};
    hers_query *q = NULL;
    hers_net_response *res = NULL;
    hers_net_catalog *cat = NULL;
    hers_client_search_stats ss;
    memset(&ss, 0, sizeof ss);
    const char *cpath = cli_opt(argc, argv, "--catalog-cache");
    uint8_t *body = NULL, *resp = NULL;
    size_t blen = 0, rlen = 0;
    cli_out o = {0};
    int rc = cli_keys_load_pass(cmd, keys, cli_opt(argc, argv, "--passphrase-file"), 1, 0, 0, &k);
    if (rc || (rc = remote_describe(cmd, &r, &info)) != 0 ||
        (rc = same_params(cmd, keys, k.p, &info, &r)) != 0)
        goto done;
    uint8_t mid[HERS_MODEL_ID_BYTES];
    size_t mlen = 0;
    if ((rc = cli_db_vectors(cmd, ppath, model, &x, mid, &mlen)) != 0 ||
        (rc = model_matches(cmd, &info, mid, mlen, &r)) != 0)
        goto done;
    if (!info.has_gallery) {
        rc = cli_fail(cmd, "%s: the gallery is empty", r.gallery);
        goto done;
    }
    if (x.cols != info.d) {
        rc = cli_fail(cmd, "%s: probes have dimension %zu, the gallery %s has %zu", ppath, x.cols,
                      r.gallery, info.d);
        goto done;
    }
    /* auto (the default): compact when the gallery has Galois keys and the
     * noise margin allows it, as the local search decides */
    char gks[8] = "0";
    jget(&info, "galois_keys", gks, sizeof gks);
    int has_gk = !strcmp(gks, "1");
    if (!qfs || !strcmp(qfs, "auto"))
        qf = has_gk && info.mode == HERS_MODE_BOTH_ENCRYPTED
                 ? hers_query_default_form(k.p, info.mode, info.d, 1)
                 : HERS_QUERY_FULL;
    else if (qf == HERS_QUERY_COMPACT && !has_gk) {
        rc = cli_fail(cmd, "--query-form compact needs the gallery's Galois keys (init it from "
                           "a key directory with galois.key)");
        goto done;
    }
    /* the result form, when not given: compact (relinearised, switched,
     * rounded: 7 B per template instead of 12.5+) when the gallery has a
     * relinearisation key and the search's predicted heuristic margin with
     * this query form is >= 4 bits, the query-form rule's threshold (the
     * compact record is exact from 2 bits left: docs/design.md); else the
     * server's default (full) */
    char rks[8] = "0";
    jget(&info, "relin_key", rks, sizeof rks);
    double wb = 0, hb = 0;
    if (!form && !strcmp(rks, "1") &&
        (info.mode == HERS_MODE_PLAIN_GALLERY ||
         (hers_search_noise_bound_form(k.p, info.mode, info.d, 1, qf, &wb, &hb) == HERS_OK &&
          hb >= 4.0)))
        form = "compact";
    double t0 = cli_now();
    if (hers_quant_matrix(&x, info.scale, &qm) != HERS_OK ||
        (qf == HERS_QUERY_COMPACT
             ? hers_query_encrypt_compact(k.p, k.sk, qm.data, qm.rows, info.d, info.scale, NULL,
                                          &q)
             : hers_query_encrypt(k.p, k.sk, NULL, qm.data, qm.rows, info.d, info.scale, NULL,
                                  &q)) != HERS_OK ||
        hers_query_serialize(k.p, q, &body, &blen) != HERS_OK) {
        rc = cli_fail(cmd, "%s: %s", ppath, hers_last_error());
        goto done;
    }
    double t1 = cli_now();
    /* the catalog (ids) of the version searched: from the cache file when
     * it is that version, else fetched (If-None-Match) and cached */
    if (cpath && access(cpath, F_OK) == 0) {
        if (cli_read_all(cmd, cpath, &resp, &rlen) == 0 &&
            hers_net_catalog_decode(resp, rlen, &cat) != HERS_OK)
            fprintf(stderr, "hers search: %s: %s (ignored; fetching the catalog)\n", cpath,
                    hers_last_error());
        free(resp);
        resp = NULL;
        rlen = 0;
    }
    long code = 0;
    if (hers_client_search(r.c, r.gallery, k.p, body, blen, form, &cat, &res, &code, &ss) !=
            HERS_OK ||
        hers_net_response_count(res) != qm.rows) {
        rc = code && code != 200 && code != 304
                 ? cli_fail(cmd, "%s: gallery %s: %s", r.url, r.gallery, hers_last_error())
                 : cli_fail(cmd, "%s: gallery %s: response: %s", r.url, r.gallery,
                            res ? "wrong probe count" : hers_last_error());
        goto done;
    }
    double t2 = cli_now();
    rlen = ss.bytes_down;
    if (cpath && ss.catalog_fetched) {   /* ids: kept private (0600), written atomically */
        uint8_t *cb = NULL;
        size_t cl = 0;
        if (hers_net_catalog_encode(cat, &cb, &cl) != HERS_OK ||
            hers_atomic_write_file(cpath, cb, cl, 0600) != HERS_OK)
            fprintf(stderr, "hers search: %s: the catalog was not cached: %s\n", cpath,
                    hers_last_error());
        hers_free(cb);
    }
    if ((rc = cli_out_open(cmd, out, &o)) != 0)
        goto done;
    rc = cli_print_response(cmd, k.p, k.sk, res, &ro, o.f);
    rc = cli_out_close(cmd, &o, rc);
    if (cli_flag(argc, argv, "--timing"))
        fprintf(stderr,
                "hers search: %zu probes, %zu live of %zu slots on %s: encrypt %.3f s, "
                "request %.3f s (%zu bytes up, %zu down, %zu requests, catalog %s), "
                "decrypt+rank %.3f s\n",
                qm.rows, hers_net_response_live(res), hers_net_response_slots(res), r.url,
                t1 - t0, t2 - t1, blen, rlen, ss.requests,
                ss.catalog_fetched ? "fetched" : hers_net_response_version(res) < 2 ? "inside"
                                                                                   : "cached",
                cli_now() - t2);
done:
    (void)cli_out_close(cmd, &o, rc ? rc : 1);   /* still open only after a failure */
    hers_net_response_free(res);
    hers_net_catalog_free(cat);
    free(resp);
    hers_free(body);
    hers_query_free(q);
    hers_qmatrix_free(&qm);
    hers_matrix_free(&x);
    cli_keys_free(&k);
    hers_client_free(r.c);
    return rc;
}

/* ------------------------------------------------------------ delete, info, compact */

int cli_remote_delete(int argc, char **argv)
{
    static const char *const with_value[] = {REMOTE_OPTS, "--ids", "--id", NULL};
    static const char *const flags[] = {NULL};
    const char *cmd = "delete";
    if (cli_check_opts(cmd, argc, argv, with_value, flags))
        return 2;
    const char *file = cli_opt(argc, argv, "--ids"), *one = cli_opt(argc, argv, "--id");
    if (!file == !one)
        return cli_usage(cmd, "one of --ids FILE or --id ID is required");
    char **ids = NULL;
    size_t n = 0;
    if (file && cli_db_read_ids(cmd, file, 0, &ids, &n))
        return 1;
    remote r;
    if (remote_open(cmd, argc, argv, &r)) {
        cli_db_free_ids(ids, n);
        return 1;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(ids[i]) + 1;
    if (one)
        len = strlen(one) + 1;
    char *body = malloc(len + 1), *resp = NULL;
    size_t rlen = 0;
    int rc = body ? 0 : cli_fail(cmd, "out of memory");
    if (!rc) {
        size_t at = 0;
        for (size_t i = 0; i < (one ? 1 : n); i++)
            at += (size_t)sprintf(body + at, "%s\n", one ? one : ids[i]);
        rc = remote_call(cmd, &r, "POST", "/templates/delete", body, at, "text/plain", 200,
                         (uint8_t **)&resp, &rlen);
    }
    if (!rc)
        fprintf(stderr, "hers delete: %zu template%s deleted from %s\n", one ? 1 : n,
                (one ? 1 : n) == 1 ? "" : "s", r.gallery);
    free(resp);
    free(body);
    cli_db_free_ids(ids, n);
    hers_client_free(r.c);
    return rc;
}

int cli_remote_info(int argc, char **argv)
{
    static const char *const with_value[] = {REMOTE_OPTS, NULL};
    static const char *const flags[] = {"--json", NULL};
    const char *cmd = "info";
    if (cli_check_opts(cmd, argc, argv, with_value, flags))
        return 2;
    remote r;
    if (remote_open(cmd, argc, argv, &r))
        return 1;
    remote_info in;
    int rc = remote_describe(cmd, &r, &in);
    hers_client_free(r.c);
    if (rc)
        return rc;
    if (cli_flag(argc, argv, "--json")) {
        printf("%.*s", (int)in.len, in.json);
        return 0;
    }
    char v[32][64];
    static const char *const keys[] = {"format", "params", "N", "t", "primes", "log_q",
                                       "live", "deleted", "slots", "blocks", "segments",
                                       "payload_bytes", "file_bytes", "used_bytes",
                                       "index_bytes", "enrolled"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (jget(&in, keys[i], v[i], sizeof v[i]))
            return cli_fail(cmd, "%s: gallery %s: malformed description", r.url, r.gallery);
    double enrolled = atof(v[15]), pb = atof(v[11]), blocks = atof(v[9]);
    double td = enrolled && in.d ? pb / (enrolled * (double)in.d) : 0;
    double sd = blocks && in.d ? pb / (blocks * (double)in.N * (double)in.d) : 0;
    printf("database      %s on %s (format %s)\n", r.gallery, r.url, v[0]);
    printf("parameters    %s N = %s, t = %s, %s primes, log2 Q = %s\n",
           v[1][0] ? v[1] : "(custom)", v[2], v[3], v[4], v[5]);
    if (in.has_gallery)
        printf("gallery       d = %zu, scale = %u, %s\n", in.d, in.scale,
               hers_search_mode_name(in.mode));
    else
        printf("gallery       empty\n");
    printf("model         %s\n", in.model[0] ? in.model : "none");
    printf("templates     %s live, %s deleted not yet compacted\n", v[6], v[7]);
    printf("slots         %s in %s blocks, %s segments\n", v[8], v[9], v[10]);
    printf("size          %s bytes of segments (%.2f bytes per template x dimension, "
           "%.2f per slot x dimension), data.mdb %s bytes (%s in use)\n",
           v[11], td, sd, v[12], v[13]);
    printf("server index  %s bytes in memory\n", v[14]);
    char k[16];
    const char *ps = strstr(in.json, "\"per_shard\": [");
    if (!jget(&in, "shards", k, sizeof k) && ps) {   /* a cluster gallery: per shard */
        printf("shards        %s\n", k);
        for (ps = strchr(ps, '{'); ps; ps = strchr(ps + 1, '{')) {
            unsigned sh;
            unsigned long long live, slots, nblk, segs, pay, file;
            if (sscanf(ps, "{\"shard\": %u, \"live\": %llu, \"slots\": %llu, \"blocks\": %llu, "
                           "\"segments\": %llu, \"payload_bytes\": %llu, \"file_bytes\": %llu}",
                       &sh, &live, &slots, &nblk, &segs, &pay, &file) != 7)
                return cli_fail(cmd, "%s: gallery %s: malformed shard list", r.url, r.gallery);
            printf("shard %-7u %llu live, %llu slots in %llu blocks, %llu segments, %llu bytes "
                   "of segments, data.mdb %llu bytes\n", sh, live, slots, nblk, segs, pay, file);
        }
    }
    return 0;
}

int cli_remote_compact(int argc, char **argv)
{
    static const char *const with_value[] = {REMOTE_OPTS, "--keys", "--threads",
                                             "--passphrase-file", NULL};
    static const char *const flags[] = {NULL};
    const char *cmd = "compact";
    if (cli_check_opts(cmd, argc, argv, with_value, flags))
        return 2;
    if (cli_opt(argc, argv, "--keys"))
        return cli_fail(cmd, "--keys (re-encrypting compaction) needs the database itself: run "
                             "hers compact --db DIR --keys DIR on the server's machine while it "
                             "is stopped; over --server only keyless compaction runs");
    remote r;
    if (remote_open(cmd, argc, argv, &r))
        return 1;
    uint8_t *resp = NULL;
    size_t rlen = 0;
    double t0 = cli_now();
    int rc = remote_call(cmd, &r, "POST", "/compact", NULL, 0, NULL, 200, &resp, &rlen);
    if (!rc) {
        char v[7][32], why[256];
        if (hers_json_get((const char *)resp, rlen, "not_shrunk", why, sizeof why))
            why[0] = 0;
        char tail[300] = "";
        static const char *const keys[] = {"segments_before", "segments_after", "slots_before",
                                           "slots_after", "file_before", "file_after", "shrunk"};
        for (int i = 0; i < 7; i++)
            if (hers_json_get((const char *)resp, rlen, keys[i], v[i], sizeof v[i]))
                snprintf(v[i], sizeof v[i], "?");
        if (strcmp(v[6], "1") != 0)
            snprintf(tail, sizeof tail, " (file not shrunk%s%s)", why[0] ? ": " : "", why);
        fprintf(stderr,
                "hers compact: %s: segments %s -> %s, slots %s -> %s, data.mdb %s -> %s bytes%s "
                "(%.2f s)\n",
                r.gallery, v[0], v[1], v[2], v[3], v[4], v[5],
                tail, cli_now() - t0);
    }
    free(resp);
    hers_client_free(r.c);
    return rc;
}
