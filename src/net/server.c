/*
 * server.c - `hers serve`: HTTP/1.1 (HTTPS with GnuTLS) on libmicrohttpd,
 * one thread per connection (a search may wait for the coalesced pass of
 * its gallery without blocking other connections). Routes, auth and
 * limits: docs/api.md; operations: docs/deploy.md.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hers/hers_mem.h"
#include "hers/hers_serial.h"
#include "net/net_internal.h"

int hers_net_gallery_name_ok(const char *s);

static const char *const routes[] = {
    "GET /v1/health",
    "GET /v1/metrics",
    "GET /v1/galleries",
    "POST /v1/galleries/{name}",
    "GET /v1/galleries/{name}",
    "DELETE /v1/galleries/{name}",
    "GET /v1/galleries/{name}/keys",
    "POST /v1/galleries/{name}/templates",
    "POST /v1/galleries/{name}/templates/delete",
    "POST /v1/galleries/{name}/search",
    "POST /v1/galleries/{name}/compact",
    "GET /v1/galleries/{name}/catalog",
    NULL};

enum route_id {
    R_HEALTH, R_METRICS, R_LIST, R_CREATE, R_DESCRIBE, R_DROP, R_KEYS, R_ENROLL, R_DELETE,
    R_SEARCH, R_COMPACT, R_CATALOG, R_COUNT, R_NONE = -1
};

const char *const *hers_server_routes(void) { return routes; }

typedef struct gallery {
    char name[80];
    void *svc;                        /* the backend's handle */
    const hers_server_backend *be;
    atomic_int refs;
    int dropped;
    struct gallery *next;
} gallery;

#define NCODES 13
static const int codes[NCODES] = {200, 201, 304, 400, 401, 403, 404, 405, 409, 413, 422, 500, 503};

struct hers_server {
    hers_server_config cfg;
    const hers_server_backend *be;
    char *root, *tokens_path, *host;
    struct MHD_Daemon *d;
    int lsock;
    unsigned port;
    pthread_rwlock_t tok_lock;
    hers_tokens *tokens;
    pthread_mutex_t gal_lock;
    gallery *gals;
    atomic_int inflight;
    atomic_int busy;      /* requests received whole, until completed */
    atomic_int stopping;
    pthread_mutex_t met_lock;
    uint64_t req_count[R_COUNT + 1][NCODES];
    double req_seconds[R_COUNT + 1];
    char *cert, *key;
};

typedef struct req {
    int route;
    char gallery[80];
    int status;
    uint64_t limit;
    net_buf body;
    size_t bytes_out;
    struct timespec t0;
    int counted;
    char ip[64];
    int too_big;
    int pooled;        /* body.data from net_pool_alloc (capacity fixed) */
    int busy;          /* counted in hers_server.busy (computing or answering) */
    atomic_int *stopping;
} req;

/* Every response goes out here: once the server is stopping, it closes the
 * connection after the answer, so a keep-alive client cannot keep the drain
 * going with request after request. */
static enum MHD_Result queue(struct MHD_Connection *c, req *r, unsigned code,
                             struct MHD_Response *resp)
{
    if (r && r->stopping && atomic_load(r->stopping))
        MHD_add_response_header(resp, "Connection", "close");
    return MHD_queue_response(c, code, resp);
}

/* The request body back to the pool, or freed. */
static void body_free(req *r)
{
    if (r->pooled)
        net_pool_free(r->body.data);
    else
        free(r->body.data);
    memset(&r->body, 0, sizeof r->body);
    r->pooled = 0;
}

void hers_server_config_default(hers_server_config *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->max_connections = 64;
    c->max_per_ip = 32;
    c->timeout_s = 30;
    c->max_body_search = (uint64_t)64 << 20;
    c->max_body_enroll = (uint64_t)256 << 20;
    c->max_body_admin = (uint64_t)64 << 20;
}

/* ------------------------------------------------------------ galleries */

static char *join(const char *a, const char *b);
static void remove_dir(const char *dir);

/* The default backend: one gallery service (database root/name) per gallery. */
static hers_status local_create(void *user, const char *root, const char *name,
                                const hers_net_init *in)
{
    (void)user;
    char *dir = join(root, name);
    hers_status st = dir ? hers_store_create(dir, in->p, in->pk, in->rk,
                                          in->model_id_len ? in->model_id : NULL,
                                          in->model_id_len)
                         : hers_error(HERS_ERR_NOMEM, "out of memory");
    if (st == HERS_OK && in->packing != HERS_PACK_SLOT) {
        hers_store *h = NULL;
        if ((st = hers_store_open(dir, 0, &h)) == HERS_OK)
            st = hers_store_set_packing(h, in->packing);
        hers_store_close(h);
    }
    if (st == HERS_OK && in->gk) {   /* public: the service expands compact queries with it */
        hers_store *h = NULL;
        if ((st = hers_store_open(dir, 0, &h)) == HERS_OK)
            st = hers_store_put_galois_key(h, in->gk);
        hers_store_close(h);
    }
    free(dir);
    return st;
}

static hers_status local_open(void *user, const char *root, const char *name, unsigned threads,
                              void **gal)
{
    (void)user;
    char *dir = join(root, name);
    hers_service *svc = NULL;
    hers_status st = dir ? hers_service_open(dir, threads, &svc)
                         : hers_error(HERS_ERR_NOMEM, "out of memory");
    free(dir);
    *gal = svc;
    return st;
}

static void local_close(void *user, const char *root, const char *name, void *gal, int drop)
{
    (void)user;
    char *dir = drop ? join(root, name) : NULL;
    hers_service_close(gal);
    if (dir) {
        remove_dir(dir);
        free(dir);
    }
}

static hers_store *local_db(void *gal) { return hers_service_db(gal); }
static hers_status local_info(void *gal, hers_store_info *in, hers_service_stats *ss)
{
    return hers_service_info(gal, in, ss);
}
static hers_status local_search(void *gal, const void *q, size_t len, hers_result_shrink sh,
                                int compact, uint8_t **resp, size_t *rl)
{
    return hers_service_search(gal, q, len, sh, compact, resp, rl);
}
static hers_status local_enroll(void *gal, const void *body, size_t len, uint64_t *first,
                                size_t *count)
{
    return hers_service_enroll(gal, body, len, first, count);
}
static hers_status local_del(void *gal, const char *const *ids, size_t count)
{
    return hers_service_delete(gal, ids, count);
}
static hers_status local_compact(void *gal, hers_store_compact_stats *cs)
{
    return hers_service_compact(gal, cs);
}

static hers_status local_search_ex(void *gal, const void *q, size_t len,
                                   const hers_service_search_opts *o, uint8_t **resp, size_t *rl,
                                   uint64_t *cv)
{
    return hers_service_search_ex(gal, q, len, o, resp, rl, cv);
}
static hers_status local_catalog(void *gal, uint64_t inm, uint64_t *v, uint8_t **rec, size_t *rl)
{
    return hers_service_catalog(gal, inm, v, rec, rl);
}

static hers_status local_search_pieces(void *gal, const void *q, size_t len,
                                       const hers_service_search_opts *o, hers_net_answer **out,
                                       uint64_t *cv)
{
    return hers_service_search_pieces(gal, q, len, o, out, cv);
}

static const hers_server_backend local_backend = {
    NULL, local_create, local_open, local_close, local_db, local_info,
    local_search, local_enroll, local_del, local_compact, local_search_ex, local_catalog,
    NULL, local_search_pieces};

static gallery *gal_get(hers_server *s, const char *name)
{
    pthread_mutex_lock(&s->gal_lock);
    gallery *g = s->gals;
    while (g && strcmp(g->name, name))
        g = g->next;
    if (g)
        atomic_fetch_add(&g->refs, 1);
    pthread_mutex_unlock(&s->gal_lock);
    return g;
}

static char *join(const char *a, const char *b)
{
    size_t l = strlen(a) + strlen(b) + 2;
    char *p = malloc(l);
    if (p)
        snprintf(p, l, "%s/%s", a, b);
    return p;
}

/* Removes a dropped gallery's directory (LMDB files only). */
static void remove_dir(const char *dir)
{
    DIR *dd = opendir(dir);
    if (dd) {
        struct dirent *e;
        while ((e = readdir(dd)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *p = join(dir, e->d_name);
            if (p)
                unlink(p);
            free(p);
        }
        closedir(dd);
    }
    rmdir(dir);
}

static void gal_put(hers_server *s, gallery *g)
{
    if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    s->be->close(s->be->user, s->root, g->name, g->svc, g->dropped);
    free(g);
}

static hers_status gal_add(hers_server *s, const char *name)
{
    gallery *g = calloc(1, sizeof *g);
    hers_status st = g ? s->be->open(s->be->user, s->root, name, s->cfg.threads, &g->svc)
                       : hers_error(HERS_ERR_NOMEM, "out of memory");
    if (st != HERS_OK) {
        free(g);
        return st;
    }
    snprintf(g->name, sizeof g->name, "%s", name);
    g->be = s->be;
    atomic_init(&g->refs, 1);
    pthread_mutex_lock(&s->gal_lock);
    g->next = s->gals;
    s->gals = g;
    pthread_mutex_unlock(&s->gal_lock);
    return HERS_OK;
}

/* ------------------------------------------------------------ responses */

static const char *status_text(int code)
{
    switch (code) {
    case 200: return "ok";
    case 201: return "created";
    case 400: return "bad request";
    case 401: return "a valid bearer token is required";
    case 403: return "the token does not allow this";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 409: return "conflict";
    case 413: return "request body too large";
    case 422: return "does not match the gallery";
    case 503: return "unavailable";
    default: return "internal error";
    }
}

static int status_of(hers_status st)
{
    switch (st) {
    case HERS_OK: return 200;
    case HERS_ERR_NOTFOUND: return 404;
    case HERS_ERR_EXISTS:
    case HERS_ERR_STATE: return 409;
    case HERS_ERR_MISMATCH: return 422;
    case HERS_ERR_NOMEM: return 503;
    case HERS_ERR_IO:
    case HERS_ERR_INTERNAL: return 500;
    default: return 400;
    }
}

static enum MHD_Result send_buf(struct MHD_Connection *c, req *r, int code, const void *data,
                                size_t len, const char *type, int copy)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (code == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"hers\"");
    if (r) {
        r->status = code;
        r->bytes_out = len;
    }
    enum MHD_Result ret = queue(c, r, (unsigned)code, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, req *r, int code, net_buf *b)
{
    net_buf_put(b, "\n", 1);
    if (b->failed) {
        net_buf_free(b);
        static const char oom[] = "{\"error\": \"out of memory\"}\n";
        return send_buf(c, r, 503, oom, sizeof oom - 1, "application/json", 1);
    }
    /* MHD frees the buffer with free() */
    enum MHD_Result ret = send_buf(c, r, code, b->data, b->len, "application/json", 0);
    b->data = NULL;
    net_buf_free(b);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, req *r, int code, const char *msg)
{
    net_buf b = {0};
    net_buf_str(&b, "{\"error\": ");
    net_buf_json_str(&b, msg && *msg ? msg : status_text(code));
    net_buf_str(&b, "}");
    return send_json(c, r, code, &b);
}

static enum MHD_Result send_status(struct MHD_Connection *c, req *r, hers_status st)
{
    return send_error(c, r, status_of(st), hers_last_error());
}

/* A 200 answer of len binary bytes (a search's record) in response mr, with
 * its catalog version cv (0: none) in X-Hers-Catalog; queued and released. */
static enum MHD_Result send_binary(struct MHD_Connection *c, req *r, struct MHD_Response *mr,
                                   size_t len, uint64_t cv)
{
    MHD_add_response_header(mr, "Content-Type", "application/octet-stream");
    MHD_add_response_header(mr, "Cache-Control", "no-store");
    if (cv) {
        char hv[24];
        snprintf(hv, sizeof hv, "%016llx", (unsigned long long)cv);
        MHD_add_response_header(mr, "X-Hers-Catalog", hv);
    }
    r->status = 200;
    r->bytes_out = len;
    enum MHD_Result ret = queue(c, r, 200, mr);
    MHD_destroy_response(mr);
    return ret;
}

static void answer_free_cb(void *ans) { hers_net_answer_free(ans); }

/* A search answer of pieces (hers_service_search_pieces) handed to
 * libmicrohttpd as an I/O vector: the compact bodies are sent from the
 * pass's memory without a copy; the answer (and with it the pass's
 * results) is freed when the response is destroyed, after its last send. */
static enum MHD_Result send_answer(struct MHD_Connection *c, req *r, hers_net_answer *ans,
                                   uint64_t cv)
{
    size_t n = 0, len = 0;
    const hers_net_piece *pc = hers_net_answer_pieces(ans, &n, &len);
    struct MHD_IoVec *iov = n && n <= UINT_MAX ? malloc(n * sizeof *iov) : NULL;
    if (!iov) {
        hers_net_answer_free(ans);
        return send_error(c, r, 503, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        iov[i].iov_base = pc[i].base;
        iov[i].iov_len = pc[i].len;
    }
    /* libmicrohttpd keeps its own copy of the vector */
    struct MHD_Response *mr =
        MHD_create_response_from_iovec(iov, (unsigned)n, answer_free_cb, ans);
    free(iov);
    if (!mr) {
        hers_net_answer_free(ans);
        return MHD_NO;
    }
    return send_binary(c, r, mr, len, cv);
}

/* ------------------------------------------------------------ routing */

/* Parses the path into a route id (R_NONE: unknown path) and the gallery
 * name; *method_ok = 0 when the path exists with other methods. */
static int route_of(const char *method, const char *url, char *gal, size_t cap, int *method_ok,
                    const char **allow)
{
    *method_ok = 1;
    *allow = NULL;
    gal[0] = 0;
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST"),
        del = !strcmp(method, "DELETE");
    if (!strcmp(url, "/v1/health")) {
        *allow = "GET";
        *method_ok = get;
        return R_HEALTH;
    }
    if (!strcmp(url, "/v1/metrics")) {
        *allow = "GET";
        *method_ok = get;
        return R_METRICS;
    }
    if (!strcmp(url, "/v1/galleries")) {
        *allow = "GET";
        *method_ok = get;
        return R_LIST;
    }
    const char *pre = "/v1/galleries/";
    if (strncmp(url, pre, strlen(pre)))
        return R_NONE;
    const char *name = url + strlen(pre), *slash = strchr(name, '/');
    size_t nl = slash ? (size_t)(slash - name) : strlen(name);
    if (nl == 0 || nl >= cap)
        return R_NONE;
    memcpy(gal, name, nl);
    gal[nl] = 0;
    if (!hers_net_gallery_name_ok(gal))
        return R_NONE;
    const char *rest = slash ? slash : "";
    if (!*rest) {
        *allow = "GET, POST, DELETE";
        *method_ok = get || post || del;
        return get ? R_DESCRIBE : post ? R_CREATE : del ? R_DROP : R_DESCRIBE;
    }
    struct { const char *sub; int id; } subs[] = {{"/keys", R_KEYS}, {"/templates", R_ENROLL},
                                                  {"/templates/delete", R_DELETE},
                                                  {"/search", R_SEARCH}, {"/compact", R_COMPACT},
                                                  {"/catalog", R_CATALOG}};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(rest, subs[i].sub)) {
            int want_get = subs[i].id == R_KEYS || subs[i].id == R_CATALOG;
            *allow = want_get ? "GET" : "POST";
            *method_ok = want_get ? get : post;
            return subs[i].id;
        }
    return R_NONE;
}

static int route_scope(int route)
{
    switch (route) {
    case R_DESCRIBE: case R_KEYS: case R_LIST: return 0;   /* any scope on the gallery */
    case R_SEARCH: case R_CATALOG: return HERS_SCOPE_SEARCH;
    case R_ENROLL: case R_DELETE: return HERS_SCOPE_ENROLL;
    default: return HERS_SCOPE_ADMIN;
    }
}

static uint64_t route_limit(const hers_server *s, int route)
{
    switch (route) {
    case R_SEARCH: return s->cfg.max_body_search;
    case R_ENROLL: return s->cfg.max_body_enroll;
    case R_CREATE: case R_DELETE: return s->cfg.max_body_admin;
    default: return 0;   /* no body */
    }
}

static const char *bearer(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7))
        return NULL;
    return h + 7;
}

/* ------------------------------------------------------------ handlers */

static void info_json(net_buf *b, const char *name, const hers_store_info *in,
                      const hers_service_stats *ss, const hers_params *p, int galois, int relin)
{
    char mid[2 * HERS_STORE_MAX_MODEL_ID + 1] = "";
    for (size_t i = 0; i < in->model_id_len; i++)
        snprintf(mid + 2 * i, 3, "%02x", in->model_id[i]);
    const uint8_t *pid = hers_params_id(p);
    char pidh[2 * 32 + 1] = "";
    for (size_t i = 0; i < 32; i++)
        snprintf(pidh + 2 * i, 3, "%02x", pid[i]);
    net_buf_str(b, "{\"name\": ");
    net_buf_json_str(b, name);
    net_buf_printf(b, ", \"format\": %u, \"galois_keys\": %d, \"relin_key\": %d, \"params\": ",
                   in->format, galois, relin);
    net_buf_json_str(b, in->params_name);
    net_buf_printf(b, ", \"params_id\": \"%s\", \"N\": %zu, \"t\": %llu, \"primes\": %zu, "
                      "\"log_q\": %.1f, \"d\": %zu, \"scale\": %u, \"mode\": \"%s\", "
                      "\"packing\": \"%s\", \"has_gallery\": %d, \"model_id\": \"%s\", \"live\": %llu, "
                      "\"enrolled\": %llu, \"deleted\": %llu, \"slots\": %llu, "
                      "\"next_offset\": %llu, \"segments\": %llu, \"blocks\": %llu, "
                      "\"payload_bytes\": %llu, \"file_bytes\": %llu, \"used_bytes\": %llu, "
                      "\"index_bytes\": %llu, \"index_chunks\": %zu, \"search_passes\": %llu, "
                      "\"search_probes\": %llu, \"search_queries\": %llu}",
                   pidh, in->N, (unsigned long long)in->t, in->num_primes, in->log_q, in->d,
                   in->scale, hers_search_mode_name(in->mode), hers_packing_name(in->packing),
                   in->has_gallery, mid,
                   (unsigned long long)in->live, (unsigned long long)in->enrolled,
                   (unsigned long long)(in->enrolled - in->live),
                   (unsigned long long)in->next_slot,
                   (unsigned long long)(in->next_slot % (in->N ? in->N : 1)),
                   (unsigned long long)in->segments, (unsigned long long)in->blocks,
                   (unsigned long long)in->payload_bytes, (unsigned long long)in->file_bytes,
                   (unsigned long long)in->used_bytes, (unsigned long long)ss->index_bytes,
                   ss->chunks, (unsigned long long)ss->passes, (unsigned long long)ss->probes,
                   (unsigned long long)ss->queries);
}

/* A sharded gallery (the cluster's backend): its description ends with
 * "shards": K, "per_shard": [{"shard": r, "live", "slots", "blocks",
 * "segments", "payload_bytes", "file_bytes"}, ...] (info_json's last "}"
 * reopened). */
static hers_status shards_json(net_buf *b, gallery *g)
{
    size_t k = 0, cap = 4096;
    hers_store_info *per = calloc(cap, sizeof *per);
    hers_status st = per ? g->be->shards(g->svc, per, cap, &k)
                         : hers_error(HERS_ERR_NOMEM, "server: out of memory");
    if (st == HERS_OK && !b->failed && b->len) {
        b->len--;   /* the closing brace */
        net_buf_printf(b, ", \"shards\": %zu, \"per_shard\": [", k);
        for (size_t r = 0; r < k && r < cap; r++)
            net_buf_printf(b, "%s{\"shard\": %zu, \"live\": %llu, \"slots\": %llu, "
                              "\"blocks\": %llu, \"segments\": %llu, \"payload_bytes\": %llu, "
                              "\"file_bytes\": %llu}", r ? ", " : "", r,
                           (unsigned long long)per[r].live, (unsigned long long)per[r].next_slot,
                           (unsigned long long)per[r].blocks, (unsigned long long)per[r].segments,
                           (unsigned long long)per[r].payload_bytes,
                           (unsigned long long)per[r].file_bytes);
        net_buf_str(b, "]}");
    }
    free(per);
    return st;
}

static enum MHD_Result h_metrics(hers_server *s, struct MHD_Connection *c, req *r)
{
    net_buf b = {0};
    net_buf_str(&b, "# HELP hers_requests_total HTTP requests by route and status.\n"
                    "# TYPE hers_requests_total counter\n");
    pthread_mutex_lock(&s->met_lock);
    for (int i = 0; i <= R_COUNT; i++)
        for (int k = 0; k < NCODES; k++)
            if (s->req_count[i][k])
                net_buf_printf(&b, "hers_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                               i < R_COUNT ? routes[i] : "unknown", codes[k],
                               (unsigned long long)s->req_count[i][k]);
    net_buf_str(&b, "# HELP hers_request_seconds_total Time spent answering, by route.\n"
                    "# TYPE hers_request_seconds_total counter\n");
    for (int i = 0; i <= R_COUNT; i++)
        if (s->req_seconds[i] > 0)
            net_buf_printf(&b, "hers_request_seconds_total{route=\"%s\"} %.6f\n",
                           i < R_COUNT ? routes[i] : "unknown", s->req_seconds[i]);
    pthread_mutex_unlock(&s->met_lock);
    net_buf_printf(&b, "# TYPE hers_requests_in_flight gauge\nhers_requests_in_flight %d\n",
                   atomic_load(&s->inflight) - 1);
    net_buf_str(&b, "# TYPE hers_gallery_live_templates gauge\n"
                    "# TYPE hers_gallery_index_bytes gauge\n"
                    "# TYPE hers_gallery_search_passes_total counter\n"
                    "# TYPE hers_gallery_search_probes_total counter\n"
                    "# TYPE hers_gallery_search_queries_total counter\n");
    pthread_mutex_lock(&s->gal_lock);
    for (gallery *g = s->gals; g; g = g->next) {
        hers_store_info in;
        hers_service_stats ss;
        if (g->be->info(g->svc, &in, &ss) != HERS_OK)
            continue;
        net_buf_printf(&b,
                       "hers_gallery_live_templates{gallery=\"%s\"} %llu\n"
                       "hers_gallery_index_bytes{gallery=\"%s\"} %llu\n"
                       "hers_gallery_search_passes_total{gallery=\"%s\"} %llu\n"
                       "hers_gallery_search_probes_total{gallery=\"%s\"} %llu\n"
                       "hers_gallery_search_queries_total{gallery=\"%s\"} %llu\n",
                       g->name, (unsigned long long)in.live, g->name,
                       (unsigned long long)ss.index_bytes, g->name,
                       (unsigned long long)ss.passes, g->name, (unsigned long long)ss.probes,
                       g->name, (unsigned long long)ss.queries);
    }
    pthread_mutex_unlock(&s->gal_lock);
    if (b.failed) {
        net_buf_free(&b);
        return send_error(c, r, 503, "out of memory");
    }
    enum MHD_Result ret = send_buf(c, r, 200, b.data, b.len, "text/plain; version=0.0.4", 0);
    b.data = NULL;
    net_buf_free(&b);
    return ret;
}

static enum MHD_Result h_list(hers_server *s, struct MHD_Connection *c, req *r, const char *tok)
{
    net_buf b = {0};
    net_buf_str(&b, "{\"galleries\": [");
    int first = 1;
    pthread_rwlock_rdlock(&s->tok_lock);
    pthread_mutex_lock(&s->gal_lock);
    for (gallery *g = s->gals; g; g = g->next) {
        if (!hers_tokens_sees(s->tokens, tok, g->name))
            continue;
        net_buf_str(&b, first ? "" : ", ");
        net_buf_json_str(&b, g->name);
        first = 0;
    }
    pthread_mutex_unlock(&s->gal_lock);
    pthread_rwlock_unlock(&s->tok_lock);
    net_buf_str(&b, "]}");
    return send_json(c, r, 200, &b);
}

static enum MHD_Result h_create(hers_server *s, struct MHD_Connection *c, req *r)
{
    hers_net_init in;
    hers_status st = hers_net_init_decode(r->body.data, r->body.len, &in);
    if (st != HERS_OK)
        return send_status(c, r, st);
    gallery *g = gal_get(s, r->gallery);
    if (g) {
        gal_put(s, g);
        hers_net_init_free(&in);
        return send_error(c, r, 409, "the gallery exists");
    }
    st = s->be->create(s->be->user, s->root, r->gallery, &in);
    hers_net_init_free(&in);
    if (st == HERS_OK)
        st = gal_add(s, r->gallery);
    if (st != HERS_OK)
        return send_status(c, r, st);
    net_buf b = {0};
    net_buf_str(&b, "{\"created\": ");
    net_buf_json_str(&b, r->gallery);
    net_buf_str(&b, "}");
    return send_json(c, r, 201, &b);
}

static enum MHD_Result h_drop(hers_server *s, struct MHD_Connection *c, req *r)
{
    pthread_mutex_lock(&s->gal_lock);
    gallery **pp = &s->gals, *g = NULL;
    while (*pp && strcmp((*pp)->name, r->gallery))
        pp = &(*pp)->next;
    if (*pp) {
        g = *pp;
        *pp = g->next;
        g->dropped = 1;
    }
    pthread_mutex_unlock(&s->gal_lock);
    if (!g)
        return send_error(c, r, 404, "no such gallery");
    gal_put(s, g);   /* closed and removed when the last request using it ends */
    net_buf b = {0};
    net_buf_str(&b, "{\"dropped\": ");
    net_buf_json_str(&b, r->gallery);
    net_buf_str(&b, "}");
    return send_json(c, r, 200, &b);
}

/* Splits a text body into ids (one per line, CRLF accepted). */
static hers_status split_ids(char *body, size_t len, char ***out, size_t *count)
{
    size_t n = 0, cap = 16;
    char **ids = malloc(cap * sizeof *ids);
    if (!ids)
        return hers_error(HERS_ERR_NOMEM, "out of memory");
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '\n')
            j++;
        size_t e = j;
        if (e > i && body[e - 1] == '\r')
            e--;
        body[e] = 0;
        if (!net_id_valid(body + i, e - i)) {
            free(ids);
            return hers_error(HERS_ERR_FORMAT, "id on line %zu is invalid (1..255 bytes, no "
                                               "tab, CR, NUL)", n + 1);
        }
        if (n == cap) {
            char **ni = realloc(ids, 2 * cap * sizeof *ids);
            if (!ni) {
                free(ids);
                return hers_error(HERS_ERR_NOMEM, "out of memory");
            }
            ids = ni;
            cap *= 2;
        }
        ids[n++] = body + i;
        i = j + 1;
    }
    if (n == 0) {
        free(ids);
        return hers_error(HERS_ERR_FORMAT, "no ids in the body");
    }
    *out = ids;
    *count = n;
    return HERS_OK;
}

/* The version named by an If-None-Match header: one entity tag of 16 hex
 * digits, quoted (a weak W/ prefix accepted); 0 (never a version) for
 * anything else, which then gets the full answer. */
static uint64_t etag_value(const char *h)
{
    while (*h == ' ' || *h == '\t')
        h++;
    if (!strncmp(h, "W/", 2))
        h += 2;
    if (*h++ != '"')
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++, h++) {
        int d = *h >= '0' && *h <= '9' ? *h - '0'
                : *h >= 'a' && *h <= 'f' ? *h - 'a' + 10
                : *h >= 'A' && *h <= 'F' ? *h - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    if (*h++ != '"')
        return 0;
    while (*h == ' ' || *h == '\t')
        h++;
    return *h ? 0 : v;
}

static enum MHD_Result h_gallery(struct MHD_Connection *c, req *r, gallery *g)
{
    hers_status st;
    net_buf b = {0};
    switch (r->route) {
    case R_DESCRIBE: {
        hers_store_info in;
        hers_service_stats ss;
        if ((st = g->be->info(g->svc, &in, &ss)) != HERS_OK)
            return send_status(c, r, st);
        info_json(&b, g->name, &in, &ss, hers_store_params(g->be->db(g->svc)),
                  hers_store_galois_key(g->be->db(g->svc)) != NULL,
                  hers_store_relin_key(g->be->db(g->svc)) != NULL);
        if (g->be->shards && (st = shards_json(&b, g)) != HERS_OK) {
            net_buf_free(&b);
            return send_status(c, r, st);
        }
        return send_json(c, r, 200, &b);
    }
    case R_KEYS: {
        hers_store *db = g->be->db(g->svc);
        hers_store_info in;
        hers_service_stats ss;
        uint8_t *buf = NULL;
        size_t len = 0;
        hers_net_init ni;
        memset(&ni, 0, sizeof ni);
        if ((st = g->be->info(g->svc, &in, &ss)) == HERS_OK) {
            ni.p = (hers_params *)hers_store_params(db);
            ni.pk = (hers_public_key *)hers_store_public_key(db);
            ni.rk = (hers_relin_key *)hers_store_relin_key(db);
            ni.gk = (hers_galois_key *)hers_store_galois_key(db);
            memcpy(ni.model_id, in.model_id, in.model_id_len);
            ni.model_id_len = in.model_id_len;
            ni.packing = in.packing;
            st = hers_net_init_encode_ex(&ni, &buf, &len);
        }
        if (st != HERS_OK)
            return send_status(c, r, st);
        enum MHD_Result ret = send_buf(c, r, 200, buf, len, "application/octet-stream", 1);
        hers_free(buf);
        return ret;
    }
    case R_ENROLL: {
        uint64_t first = 0;
        size_t cnt = 0;
        if ((st = g->be->enroll(g->svc, r->body.data, r->body.len, &first, &cnt)) != HERS_OK)
            return send_status(c, r, st);
        net_buf_printf(&b, "{\"enrolled\": %zu, \"first_slot\": %llu}", cnt,
                       (unsigned long long)first);
        return send_json(c, r, 201, &b);
    }
    case R_DELETE: {
        char **ids = NULL;
        size_t n = 0;
        net_buf_put(&r->body, "", 1);   /* room for the last NUL */
        if (r->body.failed)
            return send_error(c, r, 503, "out of memory");
        if ((st = split_ids((char *)r->body.data, r->body.len - 1, &ids, &n)) == HERS_OK)
            st = g->be->del(g->svc, (const char *const *)ids, n);
        free(ids);
        if (st != HERS_OK)
            return send_status(c, r, st);
        net_buf_printf(&b, "{\"deleted\": %zu}", n);
        return send_json(c, r, 200, &b);
    }
    case R_SEARCH: {
        const char *form = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "result");
        hers_result_shrink sh = HERS_RESULT_FULL;
        int compact = 0;
        if (form && !strcmp(form, "switched"))
            sh = HERS_RESULT_SWITCHED;
        else if (form && !strcmp(form, "relinearized"))
            sh = HERS_RESULT_RELINEARIZED;
        else if (form && !strcmp(form, "compact"))
            compact = 1;
        else if (form && strcmp(form, "full"))
            return send_error(c, r, 400, "result must be full, switched, relinearized or compact");
        /* catalog=omit: HERSRSP v2 without the catalog (the client holds
         * the version's catalog); include: v2 with it; absent: version 1
         * (older clients). A backend without v2 answers version 1. */
        const char *cq = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "catalog");
        if (cq && strcmp(cq, "omit") && strcmp(cq, "include"))
            return send_error(c, r, 400, "catalog must be omit or include");
        uint8_t *resp = NULL;
        size_t len = 0;
        uint64_t cv = 0;
        if (cq && g->be->search_pieces && g->be->search_ex && g->be->catalog) {
            hers_service_search_opts so = {sh, compact, !strcmp(cq, "include")};
            hers_net_answer *ans = NULL;
            if ((st = g->be->search_pieces(g->svc, r->body.data, r->body.len, &so, &ans, &cv)) !=
                HERS_OK)
                return send_status(c, r, st);
            return send_answer(c, r, ans, cv);
        }
        if (cq && g->be->search_ex && g->be->catalog) {
            hers_service_search_opts so = {sh, compact, !strcmp(cq, "include")};
            st = g->be->search_ex(g->svc, r->body.data, r->body.len, &so, &resp, &len, &cv);
        } else {
            st = g->be->search(g->svc, r->body.data, r->body.len, sh, compact, &resp, &len);
        }
        if (st != HERS_OK)
            return send_status(c, r, st);
        /* handed over without a copy (megabytes per probe); freed by MHD
         * (version 2: back to the pool of pre-faulted buffers) */
        void (*fr)(void *) = cq && g->be->search_ex && g->be->catalog ? hers_net_free : hers_free;
        struct MHD_Response *mr = MHD_create_response_from_buffer_with_free_callback(len, resp, fr);
        if (!mr) {
            fr(resp);
            return MHD_NO;
        }
        return send_binary(c, r, mr, len, cv);
    }
    case R_CATALOG: {
        if (!g->be->catalog)
            return send_error(c, r, 404, "this server's galleries have no catalog route (the "
                                         "search response carries the catalog)");
        uint64_t inm = 0, ver = 0;
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
        if (h)
            inm = etag_value(h);
        uint8_t *rec = NULL;
        size_t len = 0;
        if ((st = g->be->catalog(g->svc, inm, &ver, &rec, &len)) != HERS_OK)
            return send_status(c, r, st);
        char etag[40], hv[24];
        snprintf(hv, sizeof hv, "%016llx", (unsigned long long)ver);
        snprintf(etag, sizeof etag, "\"%s\"", hv);
        struct MHD_Response *mr =
            rec ? MHD_create_response_from_buffer_with_free_callback(len, rec, hers_free)
                : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!mr) {
            hers_free(rec);
            return MHD_NO;
        }
        if (rec)
            MHD_add_response_header(mr, "Content-Type", "application/octet-stream");
        /* revalidated each time: the version changes with every write */
        MHD_add_response_header(mr, "Cache-Control", "no-cache");
        MHD_add_response_header(mr, "ETag", etag);
        MHD_add_response_header(mr, "X-Hers-Catalog", hv);
        int code = rec ? 200 : 304;
        r->status = code;
        r->bytes_out = len;
        enum MHD_Result ret = queue(c, r, (unsigned)code, mr);
        MHD_destroy_response(mr);
        return ret;
    }
    case R_COMPACT: {
        hers_store_compact_stats cs;
        if ((st = g->be->compact(g->svc, &cs)) != HERS_OK)
            return send_status(c, r, st);
        net_buf_printf(&b,
                       "{\"segments_before\": %llu, \"segments_after\": %llu, "
                       "\"slots_before\": %llu, \"slots_after\": %llu, \"file_before\": %llu, "
                       "\"file_after\": %llu, \"shrunk\": %d, \"not_shrunk\": ",
                       (unsigned long long)cs.segments_before,
                       (unsigned long long)cs.segments_after, (unsigned long long)cs.slots_before,
                       (unsigned long long)cs.slots_after, (unsigned long long)cs.file_before,
                       (unsigned long long)cs.file_after, cs.shrunk);
        net_buf_json_str(&b, cs.not_shrunk);
        net_buf_printf(&b, "}");
        return send_json(c, r, 200, &b);
    }
    default:
        return send_error(c, r, 500, "unhandled route");
    }
}

/* Refuses bodies that start with a secret-key record or a protected one. */
static int carries_secret(const uint8_t *b, size_t len)
{
    hers_object_type t;
    if (hers_secret_key_is_protected(b, len))
        return 1;
    return len >= 56 && hers_serial_peek(b, len, &t, NULL, NULL) == HERS_OK &&
           t == HERS_OBJ_SECRET_KEY;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    hers_server *s = cls;
    req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&s->inflight, 1);
        r->counted = 1;
        r->stopping = &s->stopping;
        clock_gettime(CLOCK_MONOTONIC, &r->t0);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->ip,
                          sizeof r->ip);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->ip,
                          sizeof r->ip);
        }
        int mok;
        const char *allow;
        r->route = route_of(method, url, r->gallery, sizeof r->gallery, &mok, &allow);
        if (r->route == R_NONE)
            return send_error(c, r, 404, "no such route (see docs/api.md)");
        if (!mok) {
            net_buf b = {0};
            net_buf_str(&b, "{\"error\": \"method not allowed; allowed: ");
            net_buf_str(&b, allow);
            net_buf_str(&b, "\"}\n");
            if (b.failed)
                return MHD_NO;
            struct MHD_Response *resp = MHD_create_response_from_buffer(b.len, b.data,
                                                                        MHD_RESPMEM_MUST_FREE);
            if (!resp)
                return MHD_NO;
            MHD_add_response_header(resp, "Allow", allow);
            MHD_add_response_header(resp, "Content-Type", "application/json");
            r->status = 405;
            r->bytes_out = b.len;
            enum MHD_Result ret = queue(c, r, 405, resp);
            MHD_destroy_response(resp);
            return ret;
        }
        if (r->route != R_HEALTH) {
            const char *tok = bearer(c);
            int need = route_scope(r->route);
            const char *gname = r->route == R_METRICS || r->route == R_LIST ? NULL : r->gallery;
            pthread_rwlock_rdlock(&s->tok_lock);
            hers_auth a = r->route == R_LIST
                              ? (hers_tokens_check(s->tokens, tok, NULL, HERS_SCOPE_ADMIN) ==
                                         HERS_AUTH_UNAUTHENTICATED
                                     ? HERS_AUTH_UNAUTHENTICATED
                                     : HERS_AUTH_OK)
                          : need == 0 ? (hers_tokens_sees(s->tokens, tok, gname)
                                             ? HERS_AUTH_OK
                                             : hers_tokens_check(s->tokens, tok, gname,
                                                                 HERS_SCOPE_ADMIN))
                                      : hers_tokens_check(s->tokens, tok, gname,
                                                          (hers_scope)need);
            pthread_rwlock_unlock(&s->tok_lock);
            if (a == HERS_AUTH_UNAUTHENTICATED)
                return send_error(c, r, 401, NULL);
            if (a == HERS_AUTH_FORBIDDEN)
                return send_error(c, r, 403, r->route == R_METRICS
                                                 ? "metrics need an admin token for '*'"
                                                 : "the token is not valid for this gallery "
                                                   "and route");
        }
        r->limit = route_limit(s, r->route);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *e = NULL;
            errno = 0;
            unsigned long long v = strtoull(cl, &e, 10);
            if (errno || !e || *e || e == cl)
                return send_error(c, r, 400, "bad Content-Length");
            if (v > 0 && r->limit == 0)
                return send_error(c, r, 400, "this route takes no request body");
            if (v > r->limit) {
                char m[128];
                snprintf(m, sizeof m, "request body of %llu bytes exceeds the limit of %llu "
                                      "bytes for this route", v, (unsigned long long)r->limit);
                return send_error(c, r, 413, m);
            }
            /* one allocation for the announced body (queries are MBs: growing
             * by doubling copied them several times); untouched pages cost
             * nothing, and a stalled upload is cut by the timeout */
            if (v >= ((uint64_t)1 << 20) && v <= r->limit) {
                /* large (queries, enrolments): a reused buffer, pages mapped */
                if (!(r->body.data = net_pool_alloc((size_t)v + 1)))
                    return send_error(c, r, 503, "out of memory");
                r->body.cap = (size_t)v + 1;   /* + the NUL a delete body gets */
                r->pooled = 1;
            } else if (v > 0 && net_buf_reserve(&r->body, (size_t)v)) {
                return send_error(c, r, 503, "out of memory");
            }
        }
        return MHD_YES;
    }
    if (r->status)   /* already answered (error during upload) */ {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > r->limit) {
            *upload_size = 0;
            body_free(r);
            return send_error(c, r, 413, "request body exceeds the limit for this route");
        }
        if (r->pooled && *upload_size > r->body.cap - 1 - r->body.len) {
            *upload_size = 0;
            body_free(r);
            return send_error(c, r, 400, "request body longer than its Content-Length");
        }
        net_buf_put(&r->body, upload, *upload_size);
        *upload_size = 0;
        if (r->body.failed) {
            body_free(r);
            return send_error(c, r, 503, "out of memory");
        }
        return MHD_YES;
    }
    /* the whole request is here: from now on the request is computing or
     * answering, and the drain on stop waits for it (docs/deploy.md) */
    if (!r->busy) {
        r->busy = 1;
        atomic_fetch_add(&s->busy, 1);
    }
    if (r->body.len && carries_secret(r->body.data, r->body.len))
        return send_error(c, r, 400, "refused: the request carries a secret key (the server "
                                     "never accepts one)");
    if (route_limit(s, r->route) && r->body.len == 0 && r->route != R_COMPACT)
        return send_error(c, r, 400, "this route needs a request body");
    switch (r->route) {
    case R_HEALTH: {
        static const char ok[] = "{\"status\": \"ok\"}\n";
        return send_buf(c, r, 200, ok, sizeof ok - 1, "application/json", 1);
    }
    case R_METRICS:
        return h_metrics(s, c, r);
    case R_LIST:
        return h_list(s, c, r, bearer(c));
    case R_CREATE:
        return h_create(s, c, r);
    case R_DROP:
        return h_drop(s, c, r);
    default: {
        gallery *g = gal_get(s, r->gallery);
        if (!g)
            return send_error(c, r, 404, "no such gallery");
        enum MHD_Result ret = h_gallery(c, r, g);
        gal_put(s, g);
        return ret;
    }
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)c;
    hers_server *s = cls;
    req *r = *con_cls;
    if (!r)
        return;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - r->t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - r->t0.tv_nsec);
    int status = r->status ? r->status : 0;
    pthread_mutex_lock(&s->met_lock);
    int ri = r->route >= 0 && r->route < R_COUNT ? r->route : R_COUNT;
    for (int k = 0; k < NCODES; k++)
        if (codes[k] == status)
            s->req_count[ri][k]++;
    s->req_seconds[ri] += sec;
    pthread_mutex_unlock(&s->met_lock);
    if (s->cfg.log) {
        char line[600];
        const char *rn = ri < R_COUNT ? routes[ri] : "unknown";
        if (s->cfg.log_json)
            snprintf(line, sizeof line,
                     "{\"route\": \"%s\", \"gallery\": \"%s\", \"status\": %d, \"bytes_in\": %zu, "
                     "\"bytes_out\": %zu, \"ms\": %.3f, \"client\": \"%s\"%s}",
                     rn, r->gallery, status, r->body.len, r->bytes_out, 1e3 * sec, r->ip,
                     toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
                     : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED
                         ? ", \"aborted\": \"timeout\""
                         : ", \"aborted\": \"connection\"");
        else
            snprintf(line, sizeof line, "%s %s %d in=%zu out=%zu %.3f ms %s%s", rn,
                     r->gallery[0] ? r->gallery : "-", status, r->body.len, r->bytes_out,
                     1e3 * sec, r->ip,
                     toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
        s->cfg.log(s->cfg.log_user, line);
    }
    body_free(r);
    if (r->busy)
        atomic_fetch_sub(&s->busy, 1);
    if (r->counted)
        atomic_fetch_sub(&s->inflight, 1);
    free(r);
    *con_cls = NULL;
}

/* ------------------------------------------------------------ lifecycle */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            if (cap > (1u << 20)) {
                free(b);
                fclose(f);
                return NULL;
            }
            char *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return NULL;
            }
            b = nb;
        }
        size_t r = fread(b + n, 1, 4096, f);
        n += r;
        if (r < 4096)
            break;
    }
    fclose(f);
    b[n] = 0;
    return b;
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

static hers_status listen_on(hers_server *s)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)s->cfg.port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, s->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)s->cfg.port);
        sl = sizeof *a6;
    } else {
        return hers_error(HERS_ERR_ARG, "listen address '%s' is not a numeric IPv4 or IPv6 "
                                        "address", s->host);
    }
    int tls = s->cfg.tls_cert != NULL;
    if (!tls && !s->cfg.insecure && !is_loopback((struct sockaddr *)&ss))
        return hers_error(HERS_ERR_ARG,
                          "refusing plain HTTP on %s (not loopback): give --tls-cert and "
                          "--tls-key, or --insecure", s->host);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return hers_error(HERS_ERR_IO, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        close(fd);
        return hers_error(HERS_ERR_IO, "cannot listen on %s:%u: %s", s->host, s->cfg.port,
                          strerror(e));
    }
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    getsockname(fd, (struct sockaddr *)&got, &gl);
    s->port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                             : ((struct sockaddr_in6 *)&got)->sin6_port);
    s->lsock = fd;
    return HERS_OK;
}

static void server_free(hers_server *s)
{
    while (s->gals) {
        gallery *g = s->gals;
        s->gals = g->next;
        gal_put(s, g);
    }
    hers_tokens_free(s->tokens);
    if (s->key)
        hers_wipe(s->key, strlen(s->key));
    free(s->key);
    free(s->cert);
    free(s->root);
    free(s->tokens_path);
    free(s->host);
    pthread_rwlock_destroy(&s->tok_lock);
    pthread_mutex_destroy(&s->gal_lock);
    pthread_mutex_destroy(&s->met_lock);
    free(s);
}

hers_status hers_server_start(const hers_server_config *c, hers_server **out)
{
    if (!c || !out || !c->root || !c->tokens_path || !c->host)
        return hers_error(HERS_ERR_ARG, "serve: root, tokens and host are required");
    if (!c->tls_cert != !c->tls_key)
        return hers_error(HERS_ERR_ARG, "serve: give both --tls-cert and --tls-key, or neither");
    *out = NULL;
    hers_server *s = calloc(1, sizeof *s);
    if (!s)
        return hers_error(HERS_ERR_NOMEM, "out of memory");
    s->cfg = *c;
    s->be = c->backend ? c->backend : &local_backend;
    s->lsock = -1;
    pthread_rwlock_init(&s->tok_lock, NULL);
    pthread_mutex_init(&s->gal_lock, NULL);
    pthread_mutex_init(&s->met_lock, NULL);
    atomic_init(&s->inflight, 1);
    atomic_init(&s->busy, 0);
    s->root = strdup(c->root);
    s->tokens_path = strdup(c->tokens_path);
    s->host = strdup(c->host);
    hers_status st = s->root && s->tokens_path && s->host
                         ? HERS_OK : hers_error(HERS_ERR_NOMEM, "out of memory");
    if (st == HERS_OK)
        st = hers_tokens_load(c->tokens_path, &s->tokens);
    if (st == HERS_OK && c->tls_cert) {
        s->cert = slurp(c->tls_cert);
        s->key = slurp(c->tls_key);
        if (!s->cert || !s->key)
            st = hers_error(HERS_ERR_IO, "cannot read %s", !s->cert ? c->tls_cert : c->tls_key);
    }
    /* every subdirectory of root is a gallery */
    DIR *dd = st == HERS_OK ? opendir(c->root) : NULL;
    if (st == HERS_OK && !dd)
        st = hers_error(HERS_ERR_IO, "%s: %s", c->root, strerror(errno));
    for (struct dirent *e; dd && st == HERS_OK && (e = readdir(dd)) != NULL;) {
        if (e->d_name[0] == '.' || !hers_net_gallery_name_ok(e->d_name))
            continue;
        char *p = join(c->root, e->d_name);
        struct stat sb;
        int isdir = p && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
        free(p);
        if (isdir && (st = gal_add(s, e->d_name)) != HERS_OK)
            st = hers_error(st, "gallery %s: %s", e->d_name, hers_last_error());
    }
    if (dd)
        closedir(dd);
    if (st == HERS_OK)
        st = listen_on(s);
    if (st != HERS_OK) {
        if (s->lsock >= 0)
            close(s->lsock);
        server_free(s);
        return st;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | MHD_USE_POLL | (s->cert ? MHD_USE_TLS : 0);
    unsigned maxc = c->max_connections ? c->max_connections : 64;
    unsigned perip = c->max_per_ip ? c->max_per_ip : 32;
    unsigned to = c->timeout_s ? c->timeout_s : 30;
    if (s->cert)
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, s, MHD_OPTION_LISTEN_SOCKET,
                                s->lsock, MHD_OPTION_CONNECTION_LIMIT, maxc,
                                MHD_OPTION_PER_IP_CONNECTION_LIMIT, perip,
                                MHD_OPTION_CONNECTION_TIMEOUT, to, MHD_OPTION_NOTIFY_COMPLETED,
                                completed, s, MHD_OPTION_HTTPS_MEM_CERT, s->cert,
                                MHD_OPTION_HTTPS_MEM_KEY, s->key, MHD_OPTION_END);
    else
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, s, MHD_OPTION_LISTEN_SOCKET,
                                s->lsock, MHD_OPTION_CONNECTION_LIMIT, maxc,
                                MHD_OPTION_PER_IP_CONNECTION_LIMIT, perip,
                                MHD_OPTION_CONNECTION_TIMEOUT, to, MHD_OPTION_NOTIFY_COMPLETED,
                                completed, s, MHD_OPTION_END);
    if (!s->d) {
        close(s->lsock);
        server_free(s);
        return hers_error(HERS_ERR_IO, "the HTTP server did not start (libmicrohttpd; TLS "
                                       "certificate or key invalid?)");
    }
    *out = s;
    return HERS_OK;
}

unsigned hers_server_port(const hers_server *s) { return s ? s->port : 0; }

hers_status hers_server_reload_tokens(hers_server *s)
{
    hers_tokens *t = NULL;
    hers_status st = hers_tokens_load(s->tokens_path, &t);
    if (st != HERS_OK)
        return st;
    pthread_rwlock_wrlock(&s->tok_lock);
    hers_tokens *old = s->tokens;
    s->tokens = t;
    pthread_rwlock_unlock(&s->tok_lock);
    hers_tokens_free(old);
    return HERS_OK;
}

void hers_server_stop(hers_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    MHD_socket ls = MHD_quiesce_daemon(s->d);   /* no new connections */
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    /* drain: wait for the requests in flight. One still arriving gets the
     * timeout; one received whole (computing, or sending its answer) is
     * waited for however long its computation takes: a search may run
     * longer than the timeout, which bounds client idleness, not server
     * work (a stalled reader of the answer is still cut by the timeout) */
    unsigned to = s->cfg.timeout_s ? s->cfg.timeout_s : 30;
    for (unsigned i = 0; atomic_load(&s->inflight) > 1; i++) {
        if (i >= 100u * to && atomic_load(&s->busy) == 0)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->d);
    server_free(s);
}
