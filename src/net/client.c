/* client.c - the HTTP(S) client of the CLI's remote commands (libcurl). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/net_internal.h"

struct hers_client {
    char *url, *token, *cacert;
    CURL *h;          /* kept between calls: its connection stays open (keep-alive) */
    net_buf rx;       /* hers_client_search's receive buffer, reused */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

hers_status hers_client_create(const char *url, const char *token, const char *cacert,
                               hers_client **out)
{
    if (!url || !out)
        return hers_error(HERS_ERR_ARG, "client: NULL argument");
    *out = NULL;
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return hers_error(HERS_ERR_ARG, "%s: the server URL must start with http:// or https://",
                          url);
    pthread_once(&curl_once, curl_init);
    hers_client *c = calloc(1, sizeof *c);
    if (!c)
        return hers_error(HERS_ERR_NOMEM, "client: out of memory");
    size_t l = strlen(url);
    while (l && url[l - 1] == '/')
        l--;
    c->url = strndup(url, l);
    c->token = token ? strdup(token) : NULL;
    c->cacert = cacert ? strdup(cacert) : NULL;
    if (!c->url || (token && !c->token) || (cacert && !c->cacert)) {
        hers_client_free(c);
        return hers_error(HERS_ERR_NOMEM, "client: out of memory");
    }
    *out = c;
    return HERS_OK;
}

void hers_client_free(hers_client *c)
{
    if (!c)
        return;
    if (c->token) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    free(c->url);
    free(c->cacert);
    if (c->h)
        curl_easy_cleanup(c->h);
    net_buf_free(&c->rx);
    free(c);
}

typedef struct rx_ctx {
    CURL *h;
    net_buf *b;
    int sized;        /* the announced length was reserved */
} rx_ctx;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    rx_ctx *x = ud;
    if (!x->sized) {   /* one allocation of the announced size: no doubling copies */
        curl_off_t cl = -1;
        x->sized = 1;
        if (curl_easy_getinfo(x->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
            cl > 0 && (uint64_t)cl < ((uint64_t)1 << 34))
            net_buf_reserve(x->b, (size_t)cl + 1);   /* + the NUL the caller gets */
    }
    net_buf_put(x->b, p, sz * n);
    return x->b->failed ? 0 : sz * n;
}

/* Captures one response header's value (want: "Name", case-insensitive). */
typedef struct hdr_cap {
    const char *want;
    char *got;
    size_t cap;
} hdr_cap;

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    hdr_cap *h = ud;
    size_t len = sz * n, wl = strlen(h->want);
    if (len > wl && p[wl] == ':' && !strncasecmp(p, h->want, wl)) {
        size_t a = wl + 1, e = len;
        while (a < e && (p[a] == ' ' || p[a] == '\t'))
            a++;
        while (e > a && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
            e--;
        size_t k = e - a < h->cap - 1 ? e - a : h->cap - 1;
        memcpy(h->got, p + a, k);
        h->got[k] = 0;
    }
    return len;
}

hers_status hers_client_call(hers_client *c, const char *method, const char *path,
                             const void *body, size_t len, const char *content_type,
                             uint8_t **resp, size_t *resp_len, long *http_status)
{
    return hers_client_call_ex(c, method, path, body, len, content_type, NULL, NULL, NULL, 0,
                               resp, resp_len, http_status);
}

/* One request into b (its length reset, its capacity kept). */
static hers_status call_into(hers_client *c, const char *method, const char *path,
                             const void *body, size_t len, const char *content_type,
                             const char *const *headers, const char *want_header, char *got,
                             size_t got_cap, net_buf *b, long *http_status)
{
    if (got && got_cap)
        got[0] = 0;
    *http_status = 0;
    b->len = 0;
    b->failed = 0;
    if (!c->h && !(c->h = curl_easy_init()))
        return hers_error(HERS_ERR_NOMEM, "client: curl_easy_init failed");
    CURL *h = c->h;
    curl_easy_reset(h);   /* options only: the open connection stays in the handle */
    size_t ul = strlen(c->url) + strlen(path) + 1;
    char *url = malloc(ul);
    char *auth = c->token ? malloc(strlen(c->token) + 32) : NULL;
    struct curl_slist *hdr = NULL;
    hers_status st = HERS_OK;
    if (!url || (c->token && !auth)) {
        st = hers_error(HERS_ERR_NOMEM, "client: out of memory");
        goto done;
    }
    snprintf(url, ul, "%s%s", c->url, path);
    if (auth) {
        snprintf(auth, strlen(c->token) + 32, "Authorization: Bearer %s", c->token);
        hdr = curl_slist_append(hdr, auth);
    }
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s",
             content_type ? content_type : "application/octet-stream");
    hdr = curl_slist_append(hdr, ct);
    hdr = curl_slist_append(hdr, "Expect:");
    for (size_t i = 0; headers && headers[i]; i++)
        hdr = curl_slist_append(hdr, headers[i]);
    hdr_cap hc = {want_header, got, got_cap};
    if (want_header) {
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &hc);
    }
    rx_ctx rx = {h, b, 0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &rx);
    if (c->cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
    if (body || !strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (!strcmp(method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        st = hers_error(HERS_ERR_IO, "%s: %s", c->url, curl_easy_strerror(rc));
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http_status);
    net_buf_put(b, "", 1);
    if (b->failed) {
        st = hers_error(HERS_ERR_NOMEM, "client: out of memory for the response");
        goto done;
    }
    b->len--;   /* the NUL stays after the data */
done:
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    curl_slist_free_all(hdr);
    free(url);
    return st;
}

hers_status hers_client_call_ex(hers_client *c, const char *method, const char *path,
                                const void *body, size_t len, const char *content_type,
                                const char *const *headers, const char *want_header, char *got,
                                size_t got_cap, uint8_t **resp, size_t *resp_len,
                                long *http_status)
{
    if (!c || !method || !path || !resp || !resp_len || !http_status ||
        (want_header && (!got || got_cap == 0)))
        return hers_error(HERS_ERR_ARG, "client: invalid argument");
    *resp = NULL;
    *resp_len = 0;
    net_buf b = {0};
    hers_status st = call_into(c, method, path, body, len, content_type, headers, want_header,
                               got, got_cap, &b, http_status);
    if (st != HERS_OK) {
        net_buf_free(&b);
        return st;
    }
    *resp = b.data;   /* malloc'ed, NUL after the data */
    *resp_len = b.len;
    return HERS_OK;
}

hers_status hers_client_call_buf(hers_client *c, const char *method, const char *path,
                                 const void *body, size_t len, const char *content_type,
                                 const uint8_t **resp, size_t *resp_len, long *http_status)
{
    if (!c || !method || !path || !resp || !resp_len || !http_status)
        return hers_error(HERS_ERR_ARG, "client: invalid argument");
    *resp = NULL;
    *resp_len = 0;
    hers_status st = call_into(c, method, path, body, len, content_type, NULL, NULL, NULL, 0,
                               &c->rx, http_status);
    if (st == HERS_OK) {
        *resp = c->rx.data;
        *resp_len = c->rx.len;
    }
    return st;
}

/* ------------------------------------------------------------ search with the catalog cache */

/* One call into the client's reusable receive buffer, expecting e1 or e2;
 * another status is HERS_ERR_IO naming it and the server's message. */
static hers_status call_expect(hers_client *c, const char *method, const char *path,
                               const void *body, size_t len, const char *const *headers,
                               const char *want, char *got, size_t gcap, long e1, long e2,
                               long *code, hers_client_search_stats *stx)
{
    hers_status st = call_into(c, method, path, body, len, NULL, headers, want, got, gcap, &c->rx,
                               code);
    if (st != HERS_OK)
        return st;
    stx->requests++;
    stx->bytes_down += c->rx.len;
    if (*code == e1 || *code == e2)
        return HERS_OK;
    char msg[512] = "";
    if (hers_json_get((const char *)c->rx.data, c->rx.len, "error", msg, sizeof msg) != 0)
        snprintf(msg, sizeof msg, "unexpected reply");
    return hers_error(HERS_ERR_IO, "HTTP %ld: %s", *code, msg);
}

hers_status hers_client_search(hers_client *c, const char *gallery, const hers_params *p,
                               const void *query, size_t len, const char *result,
                               hers_net_catalog **cache, hers_net_response **out,
                               long *http_status, hers_client_search_stats *stats)
{
    hers_client_search_stats sx;
    memset(&sx, 0, sizeof sx);
    long code = 0;
    if (!c || !gallery || !p || !query || !cache || !out)
        return hers_error(HERS_ERR_ARG, "client search: NULL argument");
    *out = NULL;
    if (result && strcmp(result, "full") && strcmp(result, "switched") &&
        strcmp(result, "relinearized") && strcmp(result, "compact"))
        return hers_error(HERS_ERR_ARG, "client search: unknown result form '%s'", result);
    if (strlen(gallery) > 64)
        return hers_error(HERS_ERR_ARG, "client search: gallery name too long");
    hers_status st = HERS_OK;
    hers_net_response *r = NULL;
    for (int attempt = 0; attempt < 4 && st == HERS_OK && !*out; attempt++) {
        /* the last attempt asks for the catalog inside the response */
        int inline_cat = attempt == 3;
        char path[160];
        snprintf(path, sizeof path, "/v1/galleries/%s/search?catalog=%s%s%s", gallery,
                 inline_cat ? "include" : "omit", result ? "&result=" : "", result ? result : "");
        st = call_expect(c, "POST", path, query, len, NULL, NULL, NULL, 0, 200, 200, &code, &sx);
        if (st == HERS_OK)
            st = hers_net_response_decode(p, c->rx.data, c->rx.len, &r);
        if (st != HERS_OK)
            break;
        if (hers_net_response_has_catalog(r)) {   /* version 1, or included */
            *out = r;
            break;
        }
        uint64_t want = hers_net_response_catalog_version(r);
        if (*cache && hers_net_catalog_version(*cache) == want) {
            st = hers_net_response_attach_catalog(r, *cache);
            if (st == HERS_OK)
                *out = r;
            break;
        }
        /* fetch the catalog, conditional on the cached version */
        char inm[64], got[64];
        const char *hdrs[2] = {NULL, NULL};
        if (*cache) {
            snprintf(inm, sizeof inm, "If-None-Match: \"%016llx\"",
                     (unsigned long long)hers_net_catalog_version(*cache));
            hdrs[0] = inm;
        }
        snprintf(path, sizeof path, "/v1/galleries/%s/catalog", gallery);
        st = call_expect(c, "GET", path, NULL, 0, hdrs, "X-Hers-Catalog", got, sizeof got, 200,
                         304, &code, &sx);
        if (st == HERS_OK && code == 304) {
            sx.not_modified = 1;   /* still the cached one: a write came between, search again */
        } else if (st == HERS_OK) {
            hers_net_catalog *nc = NULL;
            st = hers_net_catalog_decode(c->rx.data, c->rx.len, &nc);
            if (st == HERS_OK) {
                hers_net_catalog_free(*cache);
                *cache = nc;
                sx.catalog_fetched = 1;
                if (hers_net_catalog_version(nc) == want &&
                    (st = hers_net_response_attach_catalog(r, nc)) == HERS_OK)
                    *out = r;
            }
        }
        if (!*out) {
            hers_net_response_free(r);
            r = NULL;
        }
    }
    if (st != HERS_OK) {
        hers_net_response_free(r);
        *out = NULL;
    } else if (!*out) {
        st = hers_error(HERS_ERR_STATE, "client search: the gallery kept changing");
    }
    if (http_status)
        *http_status = code;
    if (stats)
        *stats = sx;
    return st;
}
