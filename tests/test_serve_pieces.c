/*
 * test_serve_pieces.c - search answers sent without a copy
 * (hers_service_search_pieces, the server's I/O-vector responses): compact
 * results in coefficient packing, whose bodies the answer points into.
 *
 * - The pieces' concatenation equals byte for byte the copying encoder's
 *   record (hers_service_search_ex) for the same query and snapshot: 1 and
 *   3 probes, with and without the catalog, at every SIMD level; the
 *   per-range CRC-32 joined from per-block CRCs equals the CRC of the bytes
 *   (hers_result_range_pieces against hers_result_range_serialize).
 * - Lifetime: answers held while later passes of other queries run (their
 *   result memory cycling through the pool) keep their bytes; under ASan
 *   the pool poisons kept pieces, so a body returned early is reported.
 * - Over HTTP: 6 clients x 4 searches with their own queries, concurrently
 *   (coalesced passes overlapping the sends), each answer equal to the
 *   copying path's bytes taken before the server started, and decrypting
 *   to the exact plaintext scores; bounded in requests and time.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hers/hers_bfv.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_net.h"
#include "hers/hers_quant.h"
#include "hers/hers_search.h"
#include "hers/hers_store.h"
#include "support/check.h"

#define D 16
#define SCALE 125
#define NQ 6          /* queries (one per HTTP client) */
#define CALLS 4       /* searches per HTTP client */
#define HOLD 4        /* answers held across later passes */

static hers_params *P;
static hers_secret_key *SK;
static int32_t *G;    /* the gallery's rows */
static size_t NROWS;
static char root[200], dir[256], tokpath[300], url[64];
static char TOK[80];

static void rows(int32_t *v, size_t n, uint64_t *state)
{
    for (size_t r = 0; r < n; r++) {
        float x[D];
        double nn = 0;
        for (size_t i = 0; i < D; i++) {
            *state = *state * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((double)(*state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
            nn += (double)x[i] * x[i];
        }
        for (size_t i = 0; i < D; i++)
            x[i] = (float)(x[i] / __builtin_sqrt(nn) * 0.9999);
        hers_quant_vector(x, D, SCALE, v + r * D);
    }
}

/* A compact query of count probes (rows from state), serialised. */
static void make_query(size_t count, uint64_t *state, int32_t *pr, uint8_t **qb, size_t *ql)
{
    hers_query *q = NULL;
    rows(pr, count, state);
    CHECK_OK(hers_query_encrypt_compact(P, SK, pr, count, D, SCALE, NULL, &q));
    CHECK_OK(hers_query_serialize(P, q, qb, ql));
    hers_query_free(q);
}

/* The pieces joined (malloc). */
static uint8_t *flatten(const hers_net_answer *a, size_t *len)
{
    size_t n = 0, total = 0;
    const hers_net_piece *pc = hers_net_answer_pieces(a, &n, &total);
    uint8_t *b = malloc(total ? total : 1), *o = b;
    size_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(o, pc[i].base, pc[i].len);
        o += pc[i].len;
        sum += pc[i].len;
    }
    CHECK(sum == total);
    *len = total;
    return b;
}

/* Every probe of the record decrypts to the plaintext scores (the
 * catalog attached when the record has none). */
static int exact(const uint8_t *rec, size_t len, const int32_t *pr, size_t count,
                 const hers_net_catalog *cat)
{
    hers_net_response *r = NULL;
    if (hers_net_response_decode(P, rec, len, &r) != HERS_OK)
        return 0;
    int ok = hers_net_response_count(r) == count && hers_net_response_live(r) == NROWS;
    if (ok && !hers_net_response_has_catalog(r))
        ok = cat && hers_net_response_attach_catalog(r, cat) == HERS_OK;
    int64_t *sc = malloc(NROWS * sizeof *sc);
    for (size_t p = 0; ok && p < count; p++) {
        ok = hers_net_response_decrypt(P, SK, r, p, sc) == HERS_OK;
        for (size_t i = 0; ok && i < NROWS; i++) {
            int64_t want = 0;
            for (size_t k = 0; k < D; k++)
                want += (int64_t)G[i * D + k] * pr[p * D + k];
            ok = sc[i] == want;
        }
    }
    free(sc);
    hers_net_response_free(r);
    return ok;
}

/* The copying encoder's record and the pieces, for one query. */
static void compare_once(hers_service *svc, const uint8_t *qb, size_t ql, int with_cat,
                         const int32_t *pr, size_t count)
{
    hers_service_search_opts so = {HERS_RESULT_RELINEARIZED, 1, with_cat};
    uint8_t *r1 = NULL;
    size_t l1 = 0, l2 = 0, np = 0;
    uint64_t c1 = 0, c2 = 0;
    hers_net_answer *a = NULL;
    CHECK_OK(hers_service_search_ex(svc, qb, ql, &so, &r1, &l1, &c1));
    CHECK_OK(hers_service_search_pieces(svc, qb, ql, &so, &a, &c2));
    hers_net_answer_pieces(a, &np, NULL);
    CHECK(np > 2);   /* not one copied record */
    uint8_t *r2 = flatten(a, &l2);
    CHECK(c1 == c2 && l1 == l2 && r1 && !memcmp(r1, r2, l1));
    if (with_cat)
        CHECK(exact(r2, l2, pr, count, NULL));
    hers_net_answer_free(a);
    free(r2);
    hers_net_free(r1);
}

/* Ranges of a result packed by the search: the pieces (CRC joined from the
 * blocks' CRCs) equal the copied record (CRC of the bytes). */
static void test_ranges(hers_service *svc, uint64_t *state)
{
    hers_store_snapshot *snap = NULL;
    hers_index *ix = NULL;
    hers_searcher *sr = NULL;
    hers_query *q = NULL, *e = NULL;
    hers_result *res = NULL;
    int32_t pr[3 * D];
    rows(pr, 3, state);
    hers_store *db = hers_service_db(svc);
    CHECK_OK(hers_store_snapshot_open(db, &snap));
    CHECK_OK(hers_store_snapshot_index(snap, 0, hers_store_snapshot_blocks(snap), 1, &ix));
    hers_store_snapshot_close(snap);
    CHECK_OK(hers_searcher_create(2, &sr));
    CHECK_OK(hers_query_encrypt_compact(P, SK, pr, 3, D, SCALE, NULL, &q));
    CHECK_OK(hers_query_expand(P, hers_store_galois_key(db), q, 1, &e));
    hers_search_opts so = {HERS_RESULT_COMPACT, hers_store_relin_key(db)};
    CHECK_OK(hers_search(sr, P, ix, e, &so, &res));
    CHECK(res && hers_result_packed(res));
    size_t blocks = res ? hers_result_blocks(res) : 0;
    for (size_t b0 = 0; res && b0 < blocks; b0++)
        for (size_t nb = 1; b0 + nb <= blocks; nb++) {
            size_t len = 0;
            CHECK_OK(hers_result_range_size(P, res, b0, nb, &len));
            uint8_t *copy = malloc(len), *join = malloc(len);
            CHECK_OK(hers_result_range_serialize(P, res, b0, nb, copy, len, NULL));
            uint8_t head[HERS_RESULT_RANGE_HEAD], tail[HERS_RESULT_RANGE_TAIL];
            const uint8_t *body[3];
            size_t bl[3], at = HERS_RESULT_RANGE_HEAD;
            CHECK_OK(hers_result_range_pieces(P, res, b0, nb, head, body, bl, tail));
            memcpy(join, head, sizeof head);
            for (size_t k = 0; k < 3 && at + bl[k] <= len; k++) {
                memcpy(join + at, body[k], bl[k]);
                at += bl[k];
            }
            CHECK(at + sizeof tail == len);
            if (at + sizeof tail == len) {
                memcpy(join + at, tail, sizeof tail);
                CHECK(!memcmp(copy, join, len));
            }
            free(copy);
            free(join);
        }
    /* a full result has no packed body: no pieces */
    hers_result *full = NULL;
    uint8_t h[HERS_RESULT_RANGE_HEAD], t[HERS_RESULT_RANGE_TAIL];
    const uint8_t *body[3];
    size_t bl[3];
    CHECK_OK(hers_search(sr, P, ix, e, NULL, &full));
    CHECK(hers_result_range_pieces(P, full, 0, 1, h, body, bl, t) == HERS_ERR_UNSUPPORTED);
    hers_result_free(full);
    hers_result_free(res);
    hers_query_free(e);
    hers_query_free(q);
    hers_searcher_free(sr);
    hers_index_free(ix);
}

/* Answers held while passes of other queries reuse the pool. */
static void test_hold(hers_service *svc, uint64_t *state)
{
    uint8_t *qb[HOLD], *ref[HOLD];
    size_t ql[HOLD], rl[HOLD];
    int32_t pr[HOLD][2 * D];
    hers_net_answer *a[HOLD];
    hers_service_search_opts so = {HERS_RESULT_RELINEARIZED, 1, 1};
    for (int i = 0; i < HOLD; i++) {
        make_query(1 + (size_t)(i % 2), state, pr[i], &qb[i], &ql[i]);
        uint64_t cv = 0;
        CHECK_OK(hers_service_search_ex(svc, qb[i], ql[i], &so, &ref[i], &rl[i], &cv));
        CHECK_OK(hers_service_search_pieces(svc, qb[i], ql[i], &so, &a[i], &cv));
    }
    /* more passes of the same sizes: their memory comes from the pool */
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < HOLD; i++) {
            uint8_t *x = NULL;
            size_t xl = 0;
            uint64_t cv = 0;
            CHECK_OK(hers_service_search_ex(svc, qb[(i + 1) % HOLD], ql[(i + 1) % HOLD], &so, &x,
                                            &xl, &cv));
            hers_net_free(x);
        }
    for (int i = 0; i < HOLD; i++) {
        size_t l = 0;
        uint8_t *b = flatten(a[i], &l);
        CHECK(l == rl[i] && !memcmp(b, ref[i], l));
        CHECK(exact(b, l, pr[i], 1 + (size_t)(i % 2), NULL));
        free(b);
        hers_net_answer_free(a[i]);
        hers_net_free(ref[i]);
        hers_free(qb[i]);
    }
}

/* ------------------------------------------------------------ HTTP */

typedef struct client {
    const uint8_t *q, *ref;
    size_t ql, rl;
    const int32_t *pr;
    size_t count;
    const hers_net_catalog *cat;
    int ok;
} client;

static void *client_run(void *arg)
{
    client *c = arg;
    hers_client *h = NULL;
    c->ok = hers_client_create(url, TOK, NULL, &h) == HERS_OK;
    for (int i = 0; c->ok && i < CALLS; i++) {
        const uint8_t *r = NULL;
        size_t rl = 0;
        long code = 0;
        c->ok = hers_client_call_buf(h, "POST", "/v1/galleries/g/search?catalog=omit&result=compact",
                                     c->q, c->ql, NULL, &r, &rl, &code) == HERS_OK &&
                code == 200 && rl == c->rl && !memcmp(r, c->ref, rl) &&
                exact(r, rl, c->pr, c->count, c->cat);
        if (!c->ok)
            fprintf(stderr, "  client: call %d: HTTP %ld, %zu bytes (want %zu)\n", i, code, rl,
                    c->rl);
    }
    hers_client_free(h);
    return NULL;
}

static void test_http(uint8_t *qb[NQ], size_t ql[NQ], uint8_t *ref[NQ], size_t rl[NQ],
                      int32_t pr[NQ][2 * D])
{
    hers_server_config c;
    hers_server_config_default(&c);
    c.root = root;
    c.tokens_path = tokpath;
    c.threads = 2;
    c.timeout_s = 20;
    hers_server *srv = NULL;
    CHECK_OK(hers_server_start(&c, &srv));
    if (!srv)
        return;
    snprintf(url, sizeof url, "http://127.0.0.1:%u", hers_server_port(srv));
    hers_client *h = NULL;
    hers_net_catalog *cat = NULL;
    uint8_t *cb = NULL;
    size_t cl = 0;
    long code = 0;
    CHECK_OK(hers_client_create(url, TOK, NULL, &h));
    CHECK_OK(hers_client_call(h, "GET", "/v1/galleries/g/catalog", NULL, 0, NULL, &cb, &cl, &code));
    CHECK(code == 200);
    CHECK_OK(hers_net_catalog_decode(cb, cl, &cat));
    free(cb);
    hers_client_free(h);
    pthread_t th[NQ];
    client cs[NQ];
    for (int i = 0; i < NQ; i++) {
        cs[i] = (client){qb[i], ref[i], ql[i], rl[i], pr[i], 1 + (size_t)(i % 2), cat, 0};
        pthread_create(&th[i], NULL, client_run, &cs[i]);
    }
    for (int i = 0; i < NQ; i++) {
        pthread_join(th[i], NULL);
        CHECK(cs[i].ok);
    }
    hers_net_catalog_free(cat);
    hers_server_stop(srv);
}

int main(void)
{
    printf("test_serve_pieces: seed %llu\n", (unsigned long long)test_seed());
    uint64_t state = test_seed() | 1;
    uint8_t seed[HERS_SEED_BYTES] = {29};
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    hers_galois_key *gk = NULL;
    CHECK_OK(hers_params_create_named(&P, "n4096"));
    CHECK_OK(hers_keygen_secret_seeded(P, seed, &SK));
    CHECK_OK(hers_keygen_public(P, SK, &pk));
    CHECK_OK(hers_keygen_relin(P, SK, &rk));
    CHECK_OK(hers_query_galois_keygen(P, SK, D, NULL, &gk));
    snprintf(root, sizeof root, "%s", "/tmp/hers-test-pieces-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    snprintf(dir, sizeof dir, "%s/g", root);
    snprintf(tokpath, sizeof tokpath, "%s.tokens", root);
    CHECK_OK(hers_tokens_add(tokpath, "g", HERS_SCOPE_SEARCH, NULL, TOK, sizeof TOK));
    /* 3 blocks, the last partial */
    NROWS = 2 * hers_params_n(P) + 77;
    G = malloc(NROWS * D * sizeof *G);
    rows(G, NROWS, &state);
    hers_store *db = NULL;
    hers_store_enroll_opts eo;
    hers_store_enroll_opts_default(&eo);
    eo.scale = SCALE;
    CHECK_OK(hers_store_create(dir, P, pk, rk, NULL, 0));
    CHECK_OK(hers_store_open(dir, 0, &db));
    CHECK_OK(hers_store_set_packing(db, HERS_PACK_COEFF));
    CHECK_OK(hers_store_put_galois_key(db, gk));
    CHECK_OK(hers_store_enroll(db, SK, NULL, G, NROWS, D, NULL, &eo, NULL));
    hers_store_close(db);

    uint8_t *qb[NQ], *ref[NQ];
    size_t ql[NQ], rl[NQ];
    int32_t pr[NQ][2 * D];
    hers_service *svc = NULL;
    CHECK_OK(hers_service_open(dir, 2, &svc));
    if (svc) {
        FOR_EACH_SIMD(level) {
            int32_t p3[3 * D];
            uint8_t *b = NULL;
            size_t bl = 0;
            make_query(3, &state, p3, &b, &bl);
            compare_once(svc, b, bl, 1, p3, 3);
            compare_once(svc, b, bl, 0, p3, 3);
            hers_free(b);
            make_query(1, &state, p3, &b, &bl);
            compare_once(svc, b, bl, 1, p3, 1);
            hers_free(b);
        }
        test_ranges(svc, &state);
        test_hold(svc, &state);
        /* the HTTP clients' references: the copying encoder's records */
        hers_service_search_opts so = {HERS_RESULT_RELINEARIZED, 1, 0};
        for (int i = 0; i < NQ; i++) {
            uint64_t cv = 0;
            make_query(1 + (size_t)(i % 2), &state, pr[i], &qb[i], &ql[i]);
            CHECK_OK(hers_service_search_ex(svc, qb[i], ql[i], &so, &ref[i], &rl[i], &cv));
        }
        hers_service_close(svc);   /* the server opens the gallery itself */
        test_http(qb, ql, ref, rl, pr);
        for (int i = 0; i < NQ; i++) {
            hers_free(qb[i]);
            hers_net_free(ref[i]);
        }
    }
    free(G);
    hers_galois_key_free(gk);
    hers_relin_key_free(rk);
    hers_public_key_free(pk);
    hers_secret_key_free(SK);
    hers_params_free(P);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", root, tokpath);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return test_finish();
}
