/* test_serve.c - the HERS service in-process on 127.0.0.1, ephemeral port:
 * records (HERSINI / HERSENR / HERSRSP decoders refuse bad input), tokens
 * (hash file, constant-time check, scopes), the auth matrix (every route x
 * no token, bad token, wrong gallery, wrong scope, right), bad requests
 * (truncated, wrong Content-Length, oversize, wrong parameter set,
 * dimension mismatch, corrupt ciphertexts, a secret key, unknown routes
 * and methods, a stalled client) that change nothing, exact search results
 * after key-holder and third-party enrolment, deletion, compaction and a
 * restart, and a bounded load of 32 concurrent clients mixing searches and
 * enrolments (every score exact, counts add up). Bounded: about 200
 * requests, every socket with a receive timeout. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/bitpack.h"
#include "hers/hers_bfv.h"
#include "hers/hers_mem.h"
#include "hers/hers_net.h"
#include "hers/hers_quant.h"
#include "hers/hers_search.h"
#include "hers/hers_serial.h"
#include "hers/hers_store.h"
#include "support/check.h"

#define D 16
#define MAXROWS 512

static hers_params *P;
static hers_secret_key *SK;
static hers_public_key *PK;
static hers_galois_key *GK;
static int COMPACT;   /* search_exact sends compact (one-ciphertext) queries */
static char root[200];
static char tokpath[300];
static hers_server *SRV;
static char url[64];
/* tokens */
static char T_ADMIN[80], T_ADMIN_G2[80], T_SEARCH[80], T_ENROLL[80];

/* the gallery model: every enrolled row (id, values, live) */
static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;
static int32_t vals[MAXROWS][D];
static char ids[MAXROWS][32];
static int live[MAXROWS];
static size_t nrows;

static void random_row(int32_t *q, uint64_t *state)
{
    float x[D];
    double nn = 0;
    for (size_t i = 0; i < D; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(*state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
        nn += (double)x[i] * x[i];
    }
    for (size_t i = 0; i < D; i++)
        x[i] = (float)(x[i] / __builtin_sqrt(nn) * 0.9999);
    hers_quant_vector(x, D, 125, q);
}

static unsigned MAXCONN = 64, MAXPERIP = 48;

static void start_server(unsigned timeout_s)
{
    hers_server_config c;
    hers_server_config_default(&c);
    c.root = root;
    c.tokens_path = tokpath;
    c.threads = 2;
    c.timeout_s = timeout_s;
    c.max_body_search = 8u << 20;
    c.max_connections = MAXCONN;
    c.max_per_ip = MAXPERIP;
    CHECK_OK(hers_server_start(&c, &SRV));
    snprintf(url, sizeof url, "http://127.0.0.1:%u", hers_server_port(SRV));
}

/* One request with the client library; returns the HTTP status (0 on a
 * transport error). *resp (may be NULL) receives the body. */
static long http(const char *method, const char *path, const char *token, const void *body,
                 size_t len, uint8_t **resp, size_t *rlen)
{
    hers_client *c = NULL;
    if (hers_client_create(url, token, NULL, &c) != HERS_OK)
        return 0;
    uint8_t *r = NULL;
    size_t rl = 0;
    long code = 0;
    if (hers_client_call(c, method, path, body, len, NULL, &r, &rl, &code) != HERS_OK)
        code = 0;
    hers_client_free(c);
    if (resp) {
        *resp = r;
        *rlen = rl;
    } else {
        free(r);
    }
    return code;
}

/* Raw bytes on a fresh socket; returns the status of the reply's first
 * line, 0 if the server closed without one. shut: half-close after sending. */
static int raw(const void *req, size_t len, int shut, int wait_s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)hers_server_port(SRV));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {wait_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    if (len)
        send(fd, req, len, MSG_NOSIGNAL);
    if (shut)
        shutdown(fd, SHUT_WR);
    char buf[256] = "";
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    close(fd);
    if (n <= 0)
        return n == 0 ? 0 : -2;   /* -2: nothing within wait_s (still open) */
    buf[n] = 0;
    int code = 0;
    sscanf(buf, "HTTP/1.%*d %d", &code);
    return code;
}

static long describe_u64(const char *gal, const char *key)
{
    char path[128], v[64];
    uint8_t *r = NULL;
    size_t rl = 0;
    snprintf(path, sizeof path, "/v1/galleries/%s", gal);
    long code = http("GET", path, T_ADMIN, NULL, 0, &r, &rl);
    if (code != 200 || hers_json_get((const char *)r, rl, key, v, sizeof v) != 0) {
        if (code != 404)   /* 404: asked on purpose */
            fprintf(stderr, "  describe %s: HTTP %ld%s%s\n", gal, code, code ? "" : ": ",
                    code ? "" : hers_last_error());
        free(r);
        return -1;
    }
    free(r);
    return atol(v);
}

/* Enrols m rows (values from state) as the key holder (sk) or a third
 * party (pk); records them in the model when acknowledged (201). */
static long enroll(const char *token, size_t m, int pub, const char *prefix, uint64_t *state)
{
    long off = describe_u64("g1", "next_offset");
    if (off < 0)
        return 0;
    int32_t *v = calloc((size_t)off + m, D * sizeof *v);
    char **idp = malloc(m * sizeof *idp);
    char (*idb)[32] = malloc(m * sizeof *idb);
    for (size_t i = 0; i < m; i++) {
        random_row(v + ((size_t)off + i) * D, state);
        snprintf(idb[i], 32, "%s%zu", prefix, i);
        idp[i] = idb[i];
    }
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    eo.threads = 1;
    hers_gallery *g = NULL;
    uint8_t *body = NULL, *resp = NULL;
    size_t len = 0, rl = 0;
    long code = 0;
    /* in the model before the request: a concurrent search may see the rows
     * as soon as they are committed, before the 201 arrives here */
    pthread_mutex_lock(&model_lock);
    size_t first = nrows;
    for (size_t i = 0; i < m && nrows < MAXROWS; i++, nrows++) {
        memcpy(vals[nrows], v + ((size_t)off + i) * D, sizeof vals[nrows]);
        snprintf(ids[nrows], sizeof ids[nrows], "%s", idb[i]);
        live[nrows] = 1;
    }
    pthread_mutex_unlock(&model_lock);
    if (hers_gallery_enroll(P, pub ? NULL : SK, pub ? PK : NULL, v, (size_t)off + m, D, &eo,
                            &g) == HERS_OK &&
        hers_net_enroll_encode(P, g, (size_t)off, (const char *const *)idp, m, 0, NULL, 0, &body,
                               &len) == HERS_OK)
        code = http("POST", "/v1/galleries/g1/templates", token, body, len, &resp, &rl);
    if (code != 201 && code != 403)   /* 403: the auth matrix's wrong-scope case */
        fprintf(stderr, "  enrol: HTTP %ld %s\n", code, resp ? (const char *)resp : "");
    free(resp);
    if (code != 201) {
        pthread_mutex_lock(&model_lock);
        for (size_t i = first; i < first + m && i < MAXROWS; i++)
            live[i] = 0;
        pthread_mutex_unlock(&model_lock);
    }
    hers_free(body);
    hers_gallery_free(g);
    free(idb);
    free(idp);
    free(v);
    return code;
}

/* Searches `count` probes; 1 if every live entry's decrypted score equals
 * the plaintext inner product and the catalog is exactly the model's live
 * rows known at the time (extra rows enrolled concurrently are checked if
 * they are in the model), 0 otherwise, -1 on an HTTP failure. */
static int search_exact_c(const char *token, size_t count, uint64_t *state, size_t *live_seen,
                          hers_net_catalog **cache, hers_client *keep);

static int search_exact(const char *token, size_t count, uint64_t *state, size_t *live_seen)
{
    return search_exact_c(token, count, state, live_seen, NULL, NULL);
}

/* cache NULL: the version-1 exchange (catalog inside every response);
 * else hers_client_search with that catalog cache (version 2), through the
 * client `keep` (its connection kept open) or a new one. */
static int search_exact_c(const char *token, size_t count, uint64_t *state, size_t *live_seen,
                          hers_net_catalog **cache, hers_client *keep)
{
    int32_t pr[4][D];
    for (size_t i = 0; i < count; i++)
        random_row(pr[i], state);
    hers_query *q = NULL;
    uint8_t *body = NULL, *resp = NULL;
    size_t len = 0, rl = 0;
    int ok = -1;
    if ((COMPACT ? hers_query_encrypt_compact(P, SK, &pr[0][0], count, D, 125, NULL, &q)
                 : hers_query_encrypt(P, SK, NULL, &pr[0][0], count, D, 125, NULL, &q)) != HERS_OK ||
        hers_query_serialize(P, q, &body, &len) != HERS_OK)
        goto done;
    hers_net_response *r = NULL;
    if (cache) {
        hers_client *c = keep;
        long hc = 0;
        hers_status cs = c ? HERS_OK : hers_client_create(url, token, NULL, &c);
        if (cs == HERS_OK)
            cs = hers_client_search(c, "g1", P, body, len, NULL, cache, &r, &hc, NULL);
        if (c != keep)
            hers_client_free(c);
        if (cs != HERS_OK) {
            fprintf(stderr, "  search (catalog cache): HTTP %ld: %s\n", hc, hers_last_error());
            goto done;
        }
        if (hers_net_response_version(r) != 2 || !hers_net_response_has_catalog(r)) {
            fprintf(stderr, "  search (catalog cache): version %u response\n",
                    hers_net_response_version(r));
            hers_net_response_free(r);
            ok = 0;
            goto done;
        }
    } else {
        long hc = http("POST", "/v1/galleries/g1/search", token, body, len, &resp, &rl);
        if (hc != 200) {
            fprintf(stderr, "  search: HTTP %ld %s\n", hc, resp ? (char *)resp : "");
            goto done;
        }
        if (hers_net_response_decode(P, resp, rl, &r) != HERS_OK) {
            fprintf(stderr, "  search: response: %s\n", hers_last_error());
            ok = 0;
            goto done;
        }
        if (hers_net_response_version(r) != 1) {   /* older clients get what they read */
            fprintf(stderr, "  search: version %u response to a v1 request\n",
                    hers_net_response_version(r));
            hers_net_response_free(r);
            ok = 0;
            goto done;
        }
    }
    size_t nl = hers_net_response_live(r);
    int64_t *sc = malloc((nl ? nl : 1) * sizeof *sc);
    ok = hers_net_response_count(r) == count;
    for (size_t p = 0; ok && p < count; p++) {
        if (hers_net_response_decrypt(P, SK, r, p, sc) != HERS_OK) {
            fprintf(stderr, "  search: decrypt: %s\n", hers_last_error());
            ok = 0;
            break;
        }
        pthread_mutex_lock(&model_lock);
        for (size_t i = 0; i < nl && ok; i++) {
            const char *id = hers_net_response_id(r, i);
            size_t j = 0;
            while (j < nrows && strcmp(ids[j], id))
                j++;
            if (j == nrows || !live[j]) {
                fprintf(stderr, "  search: unexpected id %s\n", id);
                ok = 0;   /* unknown or deleted id reported */
                break;
            }
            int64_t want = 0;
            for (size_t k = 0; k < D; k++)
                want += (int64_t)vals[j][k] * pr[p][k];
            ok = sc[i] == want;
            if (!ok)
                fprintf(stderr, "  search: id %s score %lld, expected %lld\n", id,
                        (long long)sc[i], (long long)want);
        }
        pthread_mutex_unlock(&model_lock);
    }
    if (live_seen)
        *live_seen = nl;
    free(sc);
    hers_net_response_free(r);
done:
    hers_free(body);
    free(resp);
    hers_query_free(q);
    return ok;
}

static size_t model_live(void)
{
    size_t n = 0;
    for (size_t i = 0; i < nrows; i++)
        n += (size_t)live[i];
    return n;
}

/* ------------------------------------------------------------ records */

static void test_records(void)
{
    uint8_t *b = NULL;
    size_t len = 0;
    hers_net_init in;
    CHECK_OK(hers_net_init_encode(P, PK, NULL, NULL, (const uint8_t *)"0123456789abcdef", 16, &b,
                                  &len));
    CHECK_OK(hers_net_init_decode(b, len, &in));
    CHECK(in.model_id_len == 16 && !memcmp(in.model_id, "0123456789abcdef", 16) && !in.rk);
    CHECK(in.packing == HERS_PACK_SLOT);   /* what clients before the field send */
    /* the packing travels in the flags' bits 2..3; 3 is refused by name */
    for (int k = HERS_PACK_SLOT; k <= HERS_PACK_AUTO; k++) {
        uint8_t *b2 = NULL;
        size_t l2 = 0;
        hers_net_init back;
        in.packing = (hers_packing)k;
        CHECK_OK(hers_net_init_encode_ex(&in, &b2, &l2));
        CHECK(b2 && l2 == len && hers_le_get_u32(b2 + 48) == (uint32_t)k << 2);
        CHECK_OK(hers_net_init_decode(b2, l2, &back));
        CHECK(back.packing == (hers_packing)k && back.model_id_len == 16);
        hers_net_init_free(&back);
        if (b2 && k == HERS_PACK_AUTO) {
            hers_le_put_u32(b2 + 48, 3u << 2);
            crypto_generichash(b2 + l2 - 32, 32, b2, l2 - 32, NULL, 0);
            CHECK(hers_net_init_decode(b2, l2, &back) == HERS_ERR_FORMAT &&
                  strstr(hers_last_error(), "packing 3 unknown"));
        }
        hers_free(b2);
    }
    in.packing = (hers_packing)3;
    uint8_t *b3 = NULL;
    size_t l3 = 0;
    CHECK(hers_net_init_encode_ex(&in, &b3, &l3) == HERS_ERR_ARG && !b3);
    hers_net_init_free(&in);
    /* every truncation and a flip in every 97th byte are refused */
    for (size_t l = 0; l < len; l += 1 + l / 8)
        CHECK(hers_net_init_decode(b, l, &in) != HERS_OK);
    for (size_t i = 0; i < len; i += 97) {
        b[i] ^= 4;
        CHECK(hers_net_init_decode(b, len, &in) != HERS_OK);
        b[i] ^= 4;
    }
    hers_free(b);
    /* enrol record: round trip, then damage */
    int32_t v[3 * D];
    uint64_t st = 5;
    memset(v, 0, sizeof v);
    random_row(v + D, &st);
    random_row(v + 2 * D, &st);
    hers_gallery *g = NULL;
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    CHECK_OK(hers_gallery_enroll(P, SK, NULL, v, 3, D, &eo, &g));
    const char *idv[2] = {"x", "y"};
    CHECK_OK(hers_net_enroll_encode(P, g, 1, idv, 2, 1, NULL, 0, &b, &len));
    hers_net_enroll e;
    CHECK_OK(hers_net_enroll_decode(b, len, &e));
    CHECK(e.m == 2 && e.offset == 1 && e.replace == 1 && !strcmp(e.ids[1], "y") &&
          e.scale == 125);
    hers_net_enroll_free(&e);
    for (size_t l = 0; l < len; l += 1 + l / 4)
        CHECK(hers_net_enroll_decode(b, l, &e) != HERS_OK);
    b[20] ^= 1;
    CHECK(hers_net_enroll_decode(b, len, &e) == HERS_ERR_CHECKSUM);
    hers_free(b);
    /* default ids */
    CHECK_OK(hers_net_enroll_encode(P, g, 1, NULL, 2, 0, NULL, 0, &b, &len));
    CHECK_OK(hers_net_enroll_decode(b, len, &e));
    CHECK(e.ids == NULL && e.m == 2);
    hers_net_enroll_free(&e);
    hers_free(b);
    hers_gallery_free(g);
    /* a response decoder given garbage */
    hers_net_response *r = NULL;
    uint8_t junk[200];
    memset(junk, 0x41, sizeof junk);
    memcpy(junk, "HERSRSP", 8);
    CHECK(hers_net_response_decode(P, junk, sizeof junk, &r) != HERS_OK && r == NULL);
    /* JSON */
    const char *j = "{\"a\": 1, \"b\": \"x\\\"y\", \"c\": {\"d\": [1, 2]}, \"e\": true}";
    char out[32];
    CHECK(hers_json_get(j, strlen(j), "b", out, sizeof out) == 0 && !strcmp(out, "x\"y"));
    CHECK(hers_json_get(j, strlen(j), "e", out, sizeof out) == 0 && !strcmp(out, "true"));
    CHECK(hers_json_get(j, strlen(j), "d", out, sizeof out) != 0);
    CHECK(hers_json_get(j, 10, "b", out, sizeof out) != 0);
}

/* ------------------------------------------------------------ tokens */

static void test_tokens(void)
{
    hers_tokens *t = NULL;
    CHECK_OK(hers_tokens_load(tokpath, &t));
    CHECK(hers_tokens_count(t) == 4);
    CHECK(hers_tokens_check(t, T_ADMIN, "g1", HERS_SCOPE_ADMIN) == HERS_AUTH_OK);
    CHECK(hers_tokens_check(t, T_SEARCH, "g1", HERS_SCOPE_SEARCH) == HERS_AUTH_OK);
    CHECK(hers_tokens_check(t, T_SEARCH, "g1", HERS_SCOPE_ENROLL) == HERS_AUTH_FORBIDDEN);
    CHECK(hers_tokens_check(t, T_SEARCH, "g2", HERS_SCOPE_SEARCH) == HERS_AUTH_FORBIDDEN);
    CHECK(hers_tokens_check(t, T_SEARCH, NULL, HERS_SCOPE_SEARCH) == HERS_AUTH_FORBIDDEN);
    CHECK(hers_tokens_check(t, "hers_00", "g1", HERS_SCOPE_SEARCH) == HERS_AUTH_UNAUTHENTICATED);
    CHECK(hers_tokens_check(t, NULL, "g1", HERS_SCOPE_SEARCH) == HERS_AUTH_UNAUTHENTICATED);
    hers_tokens_free(t);
    /* the file holds hashes only, mode 0600 */
    FILE *f = fopen(tokpath, "r");
    char buf[4096] = "";
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    CHECK(n > 0 && !strstr(buf, T_ADMIN + 5) && !strstr(buf, T_SEARCH + 5));
    struct stat sb;
    CHECK(stat(tokpath, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    /* malformed files are refused, naming the line */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad-tokens", root);
    f = fopen(bad, "w");
    fprintf(f, "# ok\nnothex * admin\n");
    fclose(f);
    CHECK(hers_tokens_load(bad, &t) == HERS_ERR_FORMAT && strstr(hers_last_error(), ":2:"));
    remove(bad);
}

/* ------------------------------------------------------------ auth matrix */

typedef struct route_case {
    const char *method, *path;
    const char *right, *wrong_scope;   /* NULL: no such case */
    int gallery;                       /* 1: a gallery route (wrong gallery case applies) */
} route_case;

static void test_auth(void)
{
    route_case rc[] = {
        {"GET", "/v1/metrics", T_ADMIN, T_SEARCH, 0},
        {"GET", "/v1/galleries", T_SEARCH, NULL, 0},
        {"POST", "/v1/galleries/g9", T_ADMIN, T_ENROLL, 0},
        {"GET", "/v1/galleries/g1", T_SEARCH, NULL, 1},
        {"DELETE", "/v1/galleries/g9", T_ADMIN, T_ENROLL, 0},
        {"GET", "/v1/galleries/g1/keys", T_ENROLL, NULL, 1},
        {"POST", "/v1/galleries/g1/templates", T_ENROLL, T_SEARCH, 1},
        {"POST", "/v1/galleries/g1/templates/delete", T_ENROLL, T_SEARCH, 1},
        {"POST", "/v1/galleries/g1/search", T_SEARCH, T_ENROLL, 1},
        {"POST", "/v1/galleries/g1/compact", T_ADMIN, T_SEARCH, 1},
        {"GET", "/v1/galleries/g1/catalog", T_SEARCH, T_ENROLL, 1},
    };
    const char *const *routes = hers_server_routes();
    size_t nroutes = 0;
    while (routes[nroutes])
        nroutes++;
    CHECK(nroutes == sizeof rc / sizeof rc[0] + 1);   /* + health */
    long live0 = describe_u64("g1", "live");
    for (size_t i = 0; i < sizeof rc / sizeof rc[0]; i++) {
        const char *body = !strcmp(rc[i].method, "POST") ? "x" : NULL;
        size_t bl = body ? 1 : 0;
        long c;
        c = http(rc[i].method, rc[i].path, NULL, body, bl, NULL, NULL);
        if (c != 401)
            fprintf(stderr, "  %s %s no token: %ld\n", rc[i].method, rc[i].path, c);
        CHECK(c == 401);
        c = http(rc[i].method, rc[i].path, "hers_0123", body, bl, NULL, NULL);
        CHECK(c == 401);
        if (rc[i].gallery) {
            c = http(rc[i].method, rc[i].path, T_ADMIN_G2, body, bl, NULL, NULL);
            if (c != 403)
                fprintf(stderr, "  %s %s wrong gallery: %ld\n", rc[i].method, rc[i].path, c);
            CHECK(c == 403);
        }
        if (rc[i].wrong_scope) {
            c = http(rc[i].method, rc[i].path, rc[i].wrong_scope, body, bl, NULL, NULL);
            if (c != 403)
                fprintf(stderr, "  %s %s wrong scope: %ld\n", rc[i].method, rc[i].path, c);
            CHECK(c == 403);
        }
        /* the right token passes auth: the one-byte body is then refused as
         * malformed (400) or names no template (404), or the request succeeds */
        if (strcmp(rc[i].method, "DELETE")) {
            c = http(rc[i].method, rc[i].path, rc[i].right, body, bl, NULL, NULL);
            if (c != 200 && c != 400 && c != 404)
                fprintf(stderr, "  %s %s right: %ld\n", rc[i].method, rc[i].path, c);
            CHECK(c == 200 || c == 400 || c == 404);
        }
    }
    CHECK(http("DELETE", "/v1/galleries/g9", T_ADMIN, NULL, 0, NULL, NULL) == 404);
    CHECK(http("GET", "/v1/health", NULL, NULL, 0, NULL, NULL) == 200);
    /* wrong gallery for the listing: g2's admin token sees no g1 */
    uint8_t *r = NULL;
    size_t rl = 0;
    CHECK(http("GET", "/v1/galleries", T_ADMIN_G2, NULL, 0, &r, &rl) == 200 &&
          !strstr((char *)r, "g1"));
    free(r);
    CHECK(http("GET", "/v1/galleries", T_SEARCH, NULL, 0, &r, &rl) == 200 &&
          strstr((char *)r, "\"g1\""));
    free(r);
    CHECK(describe_u64("g1", "live") == live0);
}

/* ------------------------------------------------------------ bad requests */

static void test_bad_requests(void)
{
    long live0 = describe_u64("g1", "live"), slots0 = describe_u64("g1", "slots");
    uint64_t st = 99;
    char hdr[512];
    /* unknown route, unknown method */
    CHECK(http("GET", "/v1/nothing", T_ADMIN, NULL, 0, NULL, NULL) == 404);
    CHECK(http("GET", "/v2/galleries", T_ADMIN, NULL, 0, NULL, NULL) == 404);
    CHECK(http("GET", "/v1/galleries/../etc", T_ADMIN, NULL, 0, NULL, NULL) == 404);
    CHECK(http("PUT", "/v1/galleries/g1/search", T_ADMIN, "x", 1, NULL, NULL) == 405);
    CHECK(http("GET", "/v1/galleries/g1/search", T_ADMIN, NULL, 0, NULL, NULL) == 405);
    CHECK(http("GET", "/v1/galleries/nope", T_ADMIN, NULL, 0, NULL, NULL) == 404);
    /* oversize: refused from the header, before the body is read */
    snprintf(hdr, sizeof hdr,
             "POST /v1/galleries/g1/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Length: 100000000\r\n\r\n", T_SEARCH);
    CHECK(raw(hdr, strlen(hdr), 0, 5) == 413);
    /* truncated body: Content-Length says 1000, 10 bytes come, then EOF */
    snprintf(hdr, sizeof hdr,
             "POST /v1/galleries/g1/templates HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Length: 1000\r\n\r\n0123456789", T_ENROLL);
    int c = raw(hdr, strlen(hdr), 1, 5);
    CHECK(c == 0 || (c >= 400 && c < 500));
    /* wrong Content-Length: shorter than the body (the rest is a bad request) */
    snprintf(hdr, sizeof hdr,
             "POST /v1/galleries/g1/templates HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Length: 3\r\n\r\nHERSENRxxxxxxxxxxxxxxxx", T_ENROLL);
    c = raw(hdr, strlen(hdr), 1, 5);
    CHECK(c >= 400 && c < 500);
    snprintf(hdr, sizeof hdr,
             "POST /v1/galleries/g1/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Length: -5\r\n\r\n", T_SEARCH);
    c = raw(hdr, strlen(hdr), 1, 5);
    CHECK(c >= 400 && c < 500);
    /* garbage instead of HTTP */
    c = raw("\x16\x03\x01garbage\r\n\r\n", 14, 1, 5);
    CHECK(c == 0 || (c >= 400 && c < 500));
    /* a secret key as a body: refused by name */
    size_t sl = 0, w = 0;
    CHECK_OK(hers_secret_key_serialized_size(P, &sl));
    uint8_t *skb = malloc(sl), *r = NULL;
    size_t rl = 0;
    CHECK_OK(hers_secret_key_serialize(P, SK, skb, sl, &w));
    CHECK(http("POST", "/v1/galleries/g7", T_ADMIN, skb, w, &r, &rl) == 400 &&
          strstr((char *)r, "secret key"));
    free(r);
    CHECK(http("POST", "/v1/galleries/g1/search", T_SEARCH, skb, w, NULL, NULL) == 400);
    free(skb);
    CHECK(describe_u64("g7", "live") == -1);
    /* query: wrong parameter set, dimension mismatch, corrupt ciphertext */
    hers_params *p2 = NULL;
    hers_secret_key *sk2 = NULL;
    CHECK_OK(hers_params_create_named(&p2, "n2048"));
    CHECK_OK(hers_keygen_secret(p2, &sk2));
    int32_t pr[D];
    random_row(pr, &st);
    hers_query *q = NULL;
    uint8_t *b = NULL;
    size_t len = 0;
    int32_t small[8] = {30, 0, 0, 0, 0, 0, 0, 0};
    CHECK_OK(hers_query_encrypt(p2, sk2, NULL, small, 1, 8, 30, NULL, &q));
    CHECK_OK(hers_query_serialize(p2, q, &b, &len));
    c = (int)http("POST", "/v1/galleries/g1/search", T_SEARCH, b, len, &r, &rl);
    CHECK(c == 422 || c == 400);
    free(r);
    hers_free(b);
    hers_query_free(q);
    CHECK_OK(hers_query_encrypt(P, SK, NULL, small, 1, 8, 125, NULL, &q));
    CHECK_OK(hers_query_serialize(P, q, &b, &len));
    CHECK(http("POST", "/v1/galleries/g1/search", T_SEARCH, b, len, &r, &rl) == 422 &&
          strstr((char *)r, "dimension"));
    free(r);
    hers_free(b);
    hers_query_free(q);
    CHECK_OK(hers_query_encrypt(P, SK, NULL, pr, 1, D, 125, NULL, &q));
    CHECK_OK(hers_query_serialize(P, q, &b, &len));
    b[len / 2] ^= 0x10;
    CHECK(http("POST", "/v1/galleries/g1/search", T_SEARCH, b, len, NULL, NULL) == 400);
    CHECK(http("POST", "/v1/galleries/g1/search", T_SEARCH, b, len / 2, NULL, NULL) == 400);
    b[len / 2] ^= 0x10;
    CHECK(http("POST", "/v1/galleries/g1/search?result=odd", T_SEARCH, b, len, NULL, NULL) == 400);
    hers_free(b);
    hers_query_free(q);
    /* enrolment: corrupt ciphertext record, wrong parameter set, wrong dimension, bad id */
    hers_enroll_opts eo;
    hers_enroll_opts_default(&eo);
    hers_gallery *g = NULL;
    const char *idv[1] = {"zz"};
    long off = describe_u64("g1", "next_offset");
    int32_t *v = calloc((size_t)off + 1, D * sizeof *v);
    random_row(v + (size_t)off * D, &st);
    CHECK_OK(hers_gallery_enroll(P, SK, NULL, v, (size_t)off + 1, D, &eo, &g));
    CHECK_OK(hers_net_enroll_encode(P, g, (size_t)off, idv, 1, 0, NULL, 0, &b, &len));
    hers_gallery_free(g);
    b[len - 500] ^= 0x01;   /* inside the gallery record: the outer checksum catches it */
    CHECK(http("POST", "/v1/galleries/g1/templates", T_ENROLL, b, len, NULL, NULL) == 400);
    hers_free(b);
    eo.scale = 125;
    CHECK_OK(hers_gallery_enroll(P, SK, NULL, small, 1, 8, &eo, &g));
    CHECK_OK(hers_net_enroll_encode(P, g, 0, idv, 1, 0, NULL, 0, &b, &len));
    CHECK(http("POST", "/v1/galleries/g1/templates", T_ENROLL, b, len, NULL, NULL) == 422);
    hers_free(b);
    hers_gallery_free(g);
    /* an id already enrolled: 409, nothing changes */
    CHECK_OK(hers_gallery_enroll(P, SK, NULL, v, (size_t)off + 1, D, &eo, &g));
    idv[0] = ids[0];
    CHECK_OK(hers_net_enroll_encode(P, g, (size_t)off, idv, 1, 0, NULL, 0, &b, &len));
    CHECK(http("POST", "/v1/galleries/g1/templates", T_ENROLL, b, len, NULL, NULL) == 409);
    hers_free(b);
    hers_gallery_free(g);
    free(v);
    /* deletion of an unknown id, of an invalid id list */
    CHECK(http("POST", "/v1/galleries/g1/templates/delete", T_ENROLL, "nope\n", 5, NULL, NULL) ==
          404);
    CHECK(http("POST", "/v1/galleries/g1/templates/delete", T_ENROLL, "a\tb\n", 4, NULL, NULL) ==
          400);
    hers_secret_key_free(sk2);
    hers_params_free(p2);
    /* a stalled client (half a request line) is cut at the timeout (2 s)
     * while others are served */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)hers_server_port(SRV));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {8, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    send(fd, "POST /v1/galleries/g1/sea", 25, MSG_NOSIGNAL);
    CHECK(http("GET", "/v1/health", NULL, NULL, 0, NULL, NULL) == 200);
    char tmp[64];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);   /* the server closes it */
    CHECK(n <= 0 || !strncmp(tmp, "HTTP/1.1 4", 10));
    close(fd);
    /* nothing changed, the next good request succeeds */
    CHECK(describe_u64("g1", "live") == live0);
    CHECK(describe_u64("g1", "slots") == slots0);
    CHECK(search_exact(T_SEARCH, 1, &st, NULL) == 1);
}

/* ------------------------------------------------------------ round trip */

static void test_round_trip(void)
{
    uint64_t st = 1;
    CHECK(enroll(T_ENROLL, 40, 0, "k", &st) == 201);
    CHECK(enroll(T_ENROLL, 7, 1, "p", &st) == 201);   /* a third party, public key */
    CHECK(enroll(T_ADMIN, 5, 0, "a", &st) == 201);
    CHECK(describe_u64("g1", "live") == (long)model_live());
    size_t seen = 0;
    CHECK(search_exact(T_SEARCH, 3, &st, &seen) == 1);
    CHECK(seen == model_live());
    COMPACT = 1;   /* one-ciphertext probes, expanded by the server with the Galois keys */
    CHECK(search_exact(T_SEARCH, 2, &st, &seen) == 1);
    COMPACT = 0;
    /* delete 3: never reported again */
    uint8_t *r = NULL;
    size_t rl = 0;
    long c = http("POST", "/v1/galleries/g1/templates/delete", T_ENROLL, "k1\np2\r\na0\n", 10, &r,
                  &rl);
    if (c != 200)
        fprintf(stderr, "  delete: %ld %s\n", c, r ? (char *)r : "");
    free(r);
    CHECK(c == 200);
    for (size_t i = 0; i < nrows; i++)
        if (!strcmp(ids[i], "k1") || !strcmp(ids[i], "p2") || !strcmp(ids[i], "a0"))
            live[i] = 0;
    CHECK(search_exact(T_SEARCH, 2, &st, &seen) == 1);
    CHECK(seen == model_live());
    /* keyless compaction, then a restart: the same results */
    CHECK(http("POST", "/v1/galleries/g1/compact", T_ADMIN, NULL, 0, NULL, NULL) == 200);
    CHECK(search_exact(T_SEARCH, 1, &st, &seen) == 1 && seen == model_live());
    hers_server_stop(SRV);
    start_server(2);
    CHECK(describe_u64("g1", "live") == (long)model_live());
    CHECK(search_exact(T_SEARCH, 2, &st, &seen) == 1 && seen == model_live());
    /* the database passes its own check after all this */
    hers_server_stop(SRV);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/g1", root);
    hers_store *db = NULL;
    uint64_t problems = 1;
    CHECK_OK(hers_store_open(dir, 1, &db));
    CHECK_OK(hers_store_check(db, NULL, NULL, &problems));
    CHECK(problems == 0);
    hers_store_close(db);
    start_server(2);
}

/* ------------------------------------------------------------ catalog version */

/* GET .../catalog with an optional If-None-Match version; returns the HTTP
 * status, *cat the decoded record (200), *ver the X-Hers-Catalog header. */
static long get_catalog(uint64_t inm, hers_net_catalog **cat, uint64_t *ver)
{
    hers_client *c = NULL;
    uint8_t *r = NULL;
    size_t rl = 0;
    long code = 0;
    char h[64], got[64] = "";
    snprintf(h, sizeof h, "If-None-Match: \"%016llx\"", (unsigned long long)inm);
    const char *hdrs[2] = {inm ? h : NULL, NULL};
    if (cat)
        *cat = NULL;
    if (hers_client_create(url, T_SEARCH, NULL, &c) != HERS_OK ||
        hers_client_call_ex(c, "GET", "/v1/galleries/g1/catalog", NULL, 0, NULL, hdrs,
                            "X-Hers-Catalog", got, sizeof got, &r, &rl, &code) != HERS_OK)
        code = 0;
    hers_client_free(c);
    *ver = strtoull(got, NULL, 16);
    if (code == 200 && cat && hers_net_catalog_decode(r, rl, cat) != HERS_OK)
        code = -1;
    if (code == 304 && rl != 0)
        code = -2;
    free(r);
    return code;
}

/* One encrypted probe's search record. */
static void probe_record(uint64_t *state, uint8_t **body, size_t *len)
{
    int32_t pr[D];
    random_row(pr, state);
    hers_query *q = NULL;
    CHECK_OK(hers_query_encrypt(P, SK, NULL, pr, 1, D, 125, NULL, &q));
    CHECK_OK(hers_query_serialize(P, q, body, len));
    hers_query_free(q);
}

static void test_catalog(void)
{
    uint64_t st = 4242, v0 = 0, v = 0, hv = 0;
    hers_net_catalog *cat = NULL, *cat2 = NULL;
    CHECK(get_catalog(0, &cat, &hv) == 200 && cat);
    v0 = hers_net_catalog_version(cat);
    CHECK(v0 != 0 && hv == v0 && hers_net_catalog_live(cat) == model_live());
    CHECK(get_catalog(v0, NULL, &hv) == 304 && hv == v0);        /* not modified */
    CHECK(get_catalog(v0 ^ 1, &cat2, &hv) == 200 && hv == v0);   /* another tag: the record */
    hers_net_catalog_free(cat2);
    /* the record again from the decoded catalog; damage is refused */
    uint8_t *b = NULL;
    size_t bl = 0;
    CHECK_OK(hers_net_catalog_encode(cat, &b, &bl));
    CHECK_OK(hers_net_catalog_decode(b, bl, &cat2));
    CHECK(hers_net_catalog_version(cat2) == v0 &&
          hers_net_catalog_live(cat2) == hers_net_catalog_live(cat) &&
          !strcmp(hers_net_catalog_id(cat2, 0), hers_net_catalog_id(cat, 0)));
    hers_net_catalog_free(cat2);
    for (size_t l = 0; l < bl; l += 1 + l / 8)
        CHECK(hers_net_catalog_decode(b, l, &cat2) != HERS_OK && !cat2);
    for (size_t i = 0; i < bl; i += 13) {
        b[i] ^= 0x10;
        CHECK(hers_net_catalog_decode(b, bl, &cat2) != HERS_OK && !cat2);
        b[i] ^= 0x10;
    }
    hers_free(b);
    /* a search without the catalog: version 2, the version of the snapshot */
    uint8_t *q = NULL, *resp = NULL;
    size_t ql = 0, rl = 0;
    probe_record(&st, &q, &ql);
    CHECK(http("POST", "/v1/galleries/g1/search?catalog=omit", T_SEARCH, q, ql, &resp, &rl) ==
          200);
    hers_net_response *r = NULL;
    CHECK_OK(hers_net_response_decode(P, resp, rl, &r));
    size_t omit_len = rl;
    free(resp);
    CHECK(hers_net_response_version(r) == 2 && hers_net_response_catalog_version(r) == v0 &&
          !hers_net_response_has_catalog(r) && hers_net_response_id(r, 0) == NULL);
    int64_t sc[256];
    CHECK(hers_net_response_live(r) <= 256);
    CHECK(hers_net_response_decrypt(P, SK, r, 0, sc) == HERS_ERR_STATE);
    CHECK_OK(hers_net_response_attach_catalog(r, cat));
    CHECK_OK(hers_net_response_decrypt(P, SK, r, 0, sc));
    CHECK(!strcmp(hers_net_response_id(r, 1), hers_net_catalog_id(cat, 1)));
    hers_net_response_free(r);
    /* with the catalog inside: larger by the catalog */
    CHECK(http("POST", "/v1/galleries/g1/search?catalog=include", T_SEARCH, q, ql, &resp, &rl) ==
          200);
    CHECK_OK(hers_net_response_decode(P, resp, rl, &r));
    CHECK(hers_net_response_version(r) == 2 && hers_net_response_has_catalog(r) &&
          rl > omit_len + 9 * model_live());
    hers_net_response_free(r);
    free(resp);
    CHECK(http("POST", "/v1/galleries/g1/search?catalog=maybe", T_SEARCH, q, ql, NULL, NULL) ==
          400);
    /* every write changes the version; a stale catalog is refused */
    CHECK(enroll(T_ENROLL, 3, 0, "cv", &st) == 201);
    CHECK(get_catalog(v0, &cat2, &v) == 200 && cat2 && v != v0 &&
          hers_net_catalog_live(cat2) == model_live());
    CHECK(http("POST", "/v1/galleries/g1/search?catalog=omit", T_SEARCH, q, ql, &resp, &rl) ==
          200);
    CHECK_OK(hers_net_response_decode(P, resp, rl, &r));
    free(resp);
    CHECK(hers_net_response_catalog_version(r) == v);
    CHECK(hers_net_response_attach_catalog(r, cat) == HERS_ERR_STATE);   /* the old one */
    CHECK_OK(hers_net_response_attach_catalog(r, cat2));
    hers_net_response_free(r);
    hers_net_catalog_free(cat);
    cat = cat2;
    cat2 = NULL;
    long c = http("POST", "/v1/galleries/g1/templates/delete", T_ENROLL, "cv1\n", 4, NULL, NULL);
    CHECK(c == 200);
    for (size_t i = 0; i < nrows; i++)
        if (!strcmp(ids[i], "cv1"))
            live[i] = 0;
    uint64_t v2 = 0;
    CHECK(get_catalog(v, NULL, &v2) == 200 && v2 != v);
    CHECK(http("POST", "/v1/galleries/g1/compact", T_ADMIN, NULL, 0, NULL, NULL) == 200);
    uint64_t v3 = 0;
    CHECK(get_catalog(v2, NULL, &v3) == 200 && v3 != v2);
    /* the client's cache: fetched once, then reused until the next write */
    hers_client *cl = NULL;
    hers_client_search_stats ss;
    CHECK_OK(hers_client_create(url, T_SEARCH, NULL, &cl));
    CHECK_OK(hers_client_search(cl, "g1", P, q, ql, NULL, &cat, &r, NULL, &ss));
    CHECK(ss.requests == 2 && ss.catalog_fetched && hers_net_catalog_version(cat) == v3);
    hers_net_response_free(r);
    CHECK_OK(hers_client_search(cl, "g1", P, q, ql, "switched", &cat, &r, NULL, &ss));
    CHECK(ss.requests == 1 && !ss.catalog_fetched && ss.bytes_down < omit_len &&
          hers_net_response_has_catalog(r) && hers_net_response_live(r) == model_live());
    hers_net_response_free(r);
    CHECK(hers_client_search(cl, "nope", P, q, ql, NULL, &cat, &r, &c, NULL) == HERS_ERR_IO &&
          (c == 403 || c == 404) && !r && strstr(hers_last_error(), "HTTP 40"));
    hers_client_free(cl);
    /* a restart without writes keeps the version (a hash of the content) */
    hers_server_stop(SRV);
    start_server(2);
    CHECK(get_catalog(v3, NULL, &v) == 304 && v == v3);
    hers_net_catalog_free(cat);
    hers_free(q);
    size_t seen = 0;
    cat = NULL;
    CHECK(search_exact_c(T_SEARCH, 2, &st, &seen, &cat, NULL) == 1 && seen == model_live());
    hers_net_catalog_free(cat);
}

/* ------------------------------------------------------------ multi-part responses */

/* A 3-block gallery (2N + 5 templates, some deleted) searched in process:
 * the record of every block range equals the whole record's bytes for
 * [0, 3), and the version-2 response (a part per block, packed in
 * parallel, the hash-of-hashes checksum) decrypts to the scores of the
 * version-1 one, for the full, switched, relinearized and compact forms
 * (a compact part per block range: hers_result_view_blocks); damage
 * anywhere is refused. Queries read into kept buffers
 * (hers_query_deserialize_into) equal fresh reads. */
static void test_multipart(void)
{
    size_t N = hers_params_n(P), n = 2 * N + 5;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/../mp", root);
    int32_t *v = calloc(n * D, sizeof *v);
    uint64_t st = 31;
    for (size_t i = 0; i < n; i++)
        random_row(v + i * D, &st);
    hers_store *db = NULL;
    hers_store_enroll_opts eo;
    hers_store_enroll_opts_default(&eo);
    eo.scale = 125;
    hers_relin_key *rk = NULL;
    CHECK_OK(hers_keygen_relin(P, SK, &rk));
    CHECK_OK(hers_store_create(dir, P, PK, rk, NULL, 0));
    CHECK_OK(hers_store_open(dir, 0, &db));
    CHECK_OK(hers_store_enroll(db, SK, NULL, v, n, D, NULL, &eo, NULL));
    const char *gone[2] = {"3", "4100"};
    CHECK_OK(hers_store_delete(db, gone, 2));
    hers_store_close(db);
    hers_relin_key_free(rk);
    /* ranges of an in-process result */
    hers_service *svc = NULL;
    CHECK_OK(hers_service_open(dir, 2, &svc));
    hers_store_snapshot *snap = NULL;
    hers_index *ix = NULL;
    hers_searcher *sr = NULL;
    hers_query *q = NULL;
    hers_result *res = NULL;
    int32_t pr[2 * D];
    random_row(pr, &st);
    random_row(pr + D, &st);
    CHECK_OK(hers_store_snapshot_open(hers_service_db(svc), &snap));
    CHECK_OK(hers_store_snapshot_index(snap, 0, hers_store_snapshot_blocks(snap), 1, &ix));
    hers_store_snapshot_close(snap);
    CHECK_OK(hers_searcher_create(1, &sr));
    CHECK_OK(hers_query_encrypt(P, SK, NULL, pr, 2, D, 125, NULL, &q));
    CHECK_OK(hers_search(sr, P, ix, q, NULL, &res));
    CHECK(hers_result_blocks(res) == 3);
    uint8_t *whole = NULL, *part = NULL;
    size_t wl = 0, pl = 0, pw = 0;
    CHECK_OK(hers_result_serialize(P, res, &whole, &wl));
    CHECK_OK(hers_result_range_size(P, res, 0, 3, &pl));
    CHECK(pl == wl);
    part = malloc(pl);
    CHECK(hers_result_range_serialize(P, res, 0, 3, part, pl - 1, &pw) == HERS_ERR_ARG);
    CHECK_OK(hers_result_range_serialize(P, res, 0, 3, part, pl, &pw));
    CHECK(pw == wl && !memcmp(part, whole, wl));
    CHECK(hers_result_range_size(P, res, 2, 2, &pl) == HERS_ERR_ARG);
    int64_t *all = malloc(n * sizeof *all), *sl = malloc(N * sizeof *sl);
    CHECK_OK(hers_result_decrypt(P, SK, res, 1, all));
    for (size_t b0 = 0; b0 < 3; b0++) {   /* each block alone decrypts to its slice */
        hers_result *one = NULL;
        CHECK_OK(hers_result_range_size(P, res, b0, 1, &pl));
        CHECK_OK(hers_result_range_serialize(P, res, b0, 1, part, pl, &pw));
        CHECK_OK(hers_result_deserialize(P, part, pw, &one));
        size_t rn = hers_result_n(one);
        CHECK(rn == (b0 < 2 ? N : 5));
        CHECK_OK(hers_result_decrypt(P, SK, one, 1, sl));
        CHECK(!memcmp(sl, all + b0 * N, rn * sizeof *sl));
        hers_result_free(one);
    }
    free(part);
    hers_free(whole);
    hers_result_free(res);
    /* block views of a relinearised result: each one's compact record
     * decrypts to its slice of the whole one's scores */
    hers_search_opts ro = {HERS_RESULT_RELINEARIZED, hers_store_relin_key(hers_service_db(svc))};
    CHECK_OK(hers_search(sr, P, ix, q, &ro, &res));
    CHECK_OK(hers_result_decrypt(P, SK, res, 1, all));
    for (size_t b0 = 0; b0 < 3; b0++)
        for (size_t nb = 1; b0 + nb <= 3; nb++) {
            hers_result *bv = NULL, *back = NULL;
            uint8_t *cb = NULL;
            size_t cl = 0;
            CHECK_OK(hers_result_view_blocks(res, b0, nb, &bv));
            CHECK(hers_result_blocks(bv) == nb && hers_result_count(bv) == 2 &&
                  hers_result_n(bv) == (b0 + nb < 3 ? nb * N : n - b0 * N));
            CHECK_OK(hers_result_serialize_compact(P, bv, &cb, &cl));
            CHECK_OK(hers_result_deserialize(P, cb, cl, &back));
            int64_t *bs = malloc(hers_result_n(back) * sizeof *bs);
            CHECK_OK(hers_result_decrypt(P, SK, back, 1, bs));
            CHECK(!memcmp(bs, all + b0 * N, hers_result_n(back) * sizeof *bs));
            free(bs);
            hers_free(cb);
            hers_result_free(back);
            hers_result_free(bv);
        }
    hers_result *bad = NULL;
    CHECK(hers_result_view_blocks(res, 2, 2, &bad) == HERS_ERR_ARG && !bad);
    CHECK(hers_result_view_blocks(res, 0, 0, &bad) == HERS_ERR_ARG && !bad);
    hers_result_free(res);
    /* deserialise into kept buffers: reused when the shape fits (same
     * arena), replaced when not, freed on error; equal to a fresh read */
    {
        hers_query *qa = NULL, *qc = NULL, *keep = NULL, *fresh = NULL;
        uint8_t *b1 = NULL, *b2 = NULL, *b3 = NULL, *o1 = NULL, *o2 = NULL;
        size_t l1 = 0, l2 = 0, l3 = 0, m1 = 0, m2 = 0;
        CHECK_OK(hers_query_encrypt(P, SK, NULL, pr, 2, D, 125, NULL, &qa));
        CHECK_OK(hers_query_serialize(P, qa, &b1, &l1));
        hers_query_free(qa);
        int32_t sw[2 * D];   /* the two probes swapped */
        memcpy(sw, pr + D, D * sizeof *sw);
        memcpy(sw + D, pr, D * sizeof *sw);
        CHECK_OK(hers_query_encrypt(P, SK, NULL, sw, 2, D, 125, NULL, &qa));
        CHECK_OK(hers_query_serialize(P, qa, &b2, &l2));
        hers_query_free(qa);
        CHECK_OK(hers_query_encrypt_compact(P, SK, pr, 2, D, 125, NULL, &qc));
        CHECK_OK(hers_query_serialize(P, qc, &b3, &l3));
        hers_query_free(qc);
        CHECK_OK(hers_query_deserialize_into(P, b1, l1, &keep));
        hers_query *first = keep;
        CHECK_OK(hers_query_deserialize_into(P, b2, l2, &keep));
        CHECK(keep == first);   /* same form, count and d: the same buffers */
        CHECK_OK(hers_query_serialize(P, keep, &o1, &m1));
        CHECK_OK(hers_query_deserialize(P, b2, l2, &fresh));
        CHECK_OK(hers_query_serialize(P, fresh, &o2, &m2));
        CHECK(m1 == m2 && !memcmp(o1, o2, m1));
        hers_free(o1);
        hers_free(o2);
        hers_query_free(fresh);
        CHECK_OK(hers_query_deserialize_into(P, b3, l3, &keep));   /* compact: replaced */
        CHECK(hers_query_get_form(keep) == HERS_QUERY_COMPACT && hers_query_count(keep) == 2);
        CHECK_OK(hers_query_deserialize_into(P, b3, l3, &keep));
        CHECK_OK(hers_query_serialize(P, keep, &o1, &m1));
        CHECK(m1 == l3 && !memcmp(o1, b3, l3));
        hers_free(o1);
        b1[100] ^= 1;   /* corrupt: an error, *q freed and NULL */
        CHECK(hers_query_deserialize_into(P, b1, l1, &keep) == HERS_ERR_CHECKSUM && !keep);
        hers_free(b1);
        hers_free(b2);
        hers_free(b3);
    }
    /* a coalesced batch: the view (borrowed ciphertexts) scans as the copy */
    hers_query *q2 = NULL, *bc = NULL, *bv = NULL;
    CHECK_OK(hers_query_encrypt(P, SK, NULL, pr + D, 1, D, 125, NULL, &q2));
    const hers_query *two[2] = {q, q2};
    CHECK_OK(hers_query_concat(two, 2, &bc));
    CHECK_OK(hers_query_concat_view(two, 2, &bv));
    hers_result *rc = NULL, *rv = NULL;
    uint8_t *bcb = NULL, *bvb = NULL;
    size_t bcl = 0, bvl = 0;
    CHECK_OK(hers_search(sr, P, ix, bc, NULL, &rc));
    CHECK_OK(hers_search(sr, P, ix, bv, NULL, &rv));
    CHECK_OK(hers_result_serialize(P, rc, &bcb, &bcl));
    CHECK_OK(hers_result_serialize(P, rv, &bvb, &bvl));
    CHECK(hers_query_count(bv) == 3 && bcl == bvl && !memcmp(bcb, bvb, bcl));
    hers_free(bcb);
    hers_free(bvb);
    hers_result_free(rc);
    hers_result_free(rv);
    hers_query_free(bv);   /* the view first: q and q2 keep their residues */
    hers_query_free(bc);
    hers_query_free(q2);
    hers_query_free(q);
    hers_searcher_free(sr);
    hers_index_free(ix);
    /* v2 responses against v1 ones through the service */
    uint8_t *qb = NULL;
    size_t ql = 0;
    CHECK_OK(hers_query_encrypt(P, SK, NULL, pr, 2, D, 125, NULL, &q));
    CHECK_OK(hers_query_serialize(P, q, &qb, &ql));
    hers_query_free(q);
    hers_result_shrink forms[4] = {HERS_RESULT_FULL, HERS_RESULT_SWITCHED,
                                   HERS_RESULT_RELINEARIZED, HERS_RESULT_RELINEARIZED};
    for (int f = 0; f < 4; f++) {
        uint8_t *r1 = NULL, *r2 = NULL;
        size_t l1 = 0, l2 = 0;
        uint64_t cv = 0;
        int compact = f == 3;   /* compact records: one per block range in v2 */
        hers_service_search_opts so = {forms[f], compact, 1};
        CHECK_OK(hers_service_search(svc, qb, ql, forms[f], compact, &r1, &l1));
        CHECK_OK(hers_service_search_ex(svc, qb, ql, &so, &r2, &l2, &cv));
        hers_net_response *a = NULL, *b = NULL;
        CHECK_OK(hers_net_response_decode(P, r1, l1, &a));
        CHECK_OK(hers_net_response_decode(P, r2, l2, &b));
        CHECK(hers_net_response_version(b) == 2 && hers_net_response_catalog_version(b) == cv &&
              hers_net_response_live(a) == n - 2 && hers_net_response_live(b) == n - 2);
        int64_t *sa = malloc(n * sizeof *sa), *sb = malloc(n * sizeof *sb);
        for (size_t pi = 0; pi < 2; pi++) {
            CHECK_OK(hers_net_response_decrypt(P, SK, a, pi, sa));
            CHECK_OK(hers_net_response_decrypt(P, SK, b, pi, sb));
            CHECK(!memcmp(sa, sb, (n - 2) * sizeof *sa));
        }
        CHECK(!strcmp(hers_net_response_id(b, 3), "4") &&
              !strcmp(hers_net_response_id(b, n - 3), hers_net_response_id(a, n - 3)));
        free(sa);
        free(sb);
        hers_net_response_free(a);
        hers_net_response_free(b);
        /* damage: every 4099th byte, and truncations */
        for (size_t i = 0; i < l2; i += 4099) {
            r2[i] ^= 0x20;
            CHECK(hers_net_response_decode(P, r2, l2, &b) != HERS_OK && !b);
            r2[i] ^= 0x20;
        }
        CHECK(hers_net_response_decode(P, r2, l2 - 1, &b) != HERS_OK && !b);
        CHECK(hers_net_response_decode(P, r2, l2 / 2, &b) != HERS_OK && !b);
        hers_free(r1);
        hers_net_free(r2);
    }
    hers_free(qb);
    free(all);
    free(sl);
    free(v);
    hers_service_close(svc);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* ------------------------------------------------------------ load */

typedef struct worker {
    int idx;
    int ok;        /* 1: every request answered as expected, every score exact */
    int enrolled;  /* rows acknowledged */
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    uint64_t st = 1000 + (uint64_t)w->idx;
    hers_net_catalog *cache = NULL;   /* half the searchers keep a catalog cache */
    hers_client *keep = NULL;         /* and one connection */
    w->ok = 1;
    if (w->idx % 4 == 2 && hers_client_create(url, T_SEARCH, NULL, &keep) != HERS_OK)
        w->ok = 0;
    for (int r = 0; r < 2; r++) {
        if (w->idx % 2) {
            char prefix[16];
            snprintf(prefix, sizeof prefix, "w%d.%d.", w->idx, r);
            long c = enroll(T_ENROLL, 2, w->idx % 4 == 1, prefix, &st);
            if (c == 201)
                w->enrolled += 2;
            else
                w->ok = 0;
        } else if (search_exact_c(T_SEARCH, 1 + (size_t)(w->idx % 3), &st, NULL,
                                  w->idx % 4 == 2 ? &cache : NULL, keep) != 1) {
            w->ok = 0;
        }
    }
    hers_client_free(keep);
    hers_net_catalog_free(cache);
    return NULL;
}

static void test_load(void)
{
    enum { W = 32 };
    pthread_t th[W];
    worker ws[W];
    size_t live0 = model_live();
    long q0 = describe_u64("g1", "search_queries");
    for (int i = 0; i < W; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i].idx = i;
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    int enrolled = 0, ok = 1;
    for (int i = 0; i < W; i++) {
        pthread_join(th[i], NULL);
        enrolled += ws[i].enrolled;
        if (!ws[i].ok)
            fprintf(stderr, "  load worker %d failed\n", i);
        ok &= ws[i].ok;
    }
    CHECK(ok);
    CHECK(enrolled == W / 2 * 2 * 2);
    CHECK(describe_u64("g1", "live") == (long)(live0 + (size_t)enrolled));
    long q1 = describe_u64("g1", "search_queries"), passes = describe_u64("g1", "search_passes");
    /* a cached-catalog search whose catalog changed before it fetched it
     * searches again (at most 3 more times) */
    CHECK(q1 - q0 >= W / 2 * 2 && q1 - q0 <= W / 2 * 2 + W / 4 * 2 * 3);
    fprintf(stderr, "  load: %ld queries in %ld passes so far (coalesced)\n", q1, passes);
    CHECK(passes <= q1);
    uint64_t st = 77;
    size_t seen = 0;
    CHECK(search_exact(T_SEARCH, 2, &st, &seen) == 1 && seen == model_live());
}

/* Connection limits: with 3 connections per client address allowed, 3
 * stalled clients leave no room for a 4th; once they are gone, requests
 * are served again. */
static void test_limits(void)
{
    hers_server_stop(SRV);
    MAXPERIP = 3;
    start_server(5);
    int fds[3];
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)hers_server_port(SRV));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 3; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(fds[i], (struct sockaddr *)&a, sizeof a) == 0);
        send(fds[i], "GET /v1/hea", 11, MSG_NOSIGNAL);
    }
    usleep(200 * 1000);
    long c = http("GET", "/v1/health", NULL, NULL, 0, NULL, NULL);
    CHECK(c == 0 || c == 503);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    long ok = 0;   /* served again once the server has seen them go (bounded: 10 s) */
    for (int i = 0; i < 100 && ok != 200; i++) {
        usleep(100 * 1000);
        ok = http("GET", "/v1/health", NULL, NULL, 0, NULL, NULL);
    }
    CHECK(ok == 200);
    hers_server_stop(SRV);
    MAXPERIP = 48;
    start_server(2);
}

int main(void)
{
    printf("test_serve: seed %llu\n", (unsigned long long)test_seed());
    snprintf(root, sizeof root, "%s", "/tmp/hers-test-serve-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    snprintf(tokpath, sizeof tokpath, "%s/tokens", root);
    CHECK_OK(hers_tokens_add(tokpath, "*", HERS_SCOPE_ADMIN, "test admin", T_ADMIN, 80));
    CHECK_OK(hers_tokens_add(tokpath, "g2", HERS_SCOPE_ADMIN, NULL, T_ADMIN_G2, 80));
    CHECK_OK(hers_tokens_add(tokpath, "g1", HERS_SCOPE_SEARCH, NULL, T_SEARCH, 80));
    CHECK_OK(hers_tokens_add(tokpath, "g1", HERS_SCOPE_ENROLL, NULL, T_ENROLL, 80));
    uint8_t seed[HERS_SEED_BYTES] = {13};
    CHECK_OK(hers_params_create_named(&P, "n4096"));
    CHECK_OK(hers_keygen_secret_seeded(P, seed, &SK));
    CHECK_OK(hers_keygen_public(P, SK, &PK));
    CHECK_OK(hers_query_galois_keygen(P, SK, D, NULL, &GK));
    char gdir[260];
    snprintf(gdir, sizeof gdir, "%s/galleries", root);
    mkdir(gdir, 0700);
    memmove(root + strlen(root), "/galleries", 11);   /* the server's root */
    start_server(2);
    test_records();
    test_multipart();
    test_tokens();
    /* create g1 over HTTP (public material only) */
    uint8_t *b = NULL;
    size_t len = 0;
    CHECK_OK(hers_net_init_encode(P, PK, NULL, GK, NULL, 0, &b, &len));
    CHECK(http("POST", "/v1/galleries/g1", T_ADMIN, b, len, NULL, NULL) == 201);
    CHECK(http("POST", "/v1/galleries/g1", T_ADMIN, b, len, NULL, NULL) == 409);
    CHECK(http("POST", "/v1/galleries/g2", T_ADMIN, b, len, NULL, NULL) == 201);
    CHECK(http("DELETE", "/v1/galleries/g2", T_ADMIN_G2, NULL, 0, NULL, NULL) == 200);
    CHECK(http("GET", "/v1/galleries/g2", T_ADMIN, NULL, 0, NULL, NULL) == 404);
    hers_free(b);
    test_round_trip();
    test_catalog();
    test_auth();
    test_bad_requests();
    /* the load phase: a 20 s inactivity timeout instead of 2 s, so a client
     * whose request waits behind coalesced passes on a slow machine (ASan
     * under load) is not cut as a stalled one; still bounded per request */
    hers_server_stop(SRV);
    start_server(20);
    test_load();
    hers_server_stop(SRV);
    start_server(2);
    test_limits();
    hers_server_stop(SRV);
    hers_public_key_free(PK);
    hers_galois_key_free(GK);
    hers_secret_key_free(SK);
    hers_params_free(P);
    char cmd[600];
    root[strlen(root) - strlen("/galleries")] = 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return test_finish();
}
