/* client.c - the HTTP(S) client of the CLI's remote commands (libcurl). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"

struct hers_client {
    char *url, *token, *cacert;
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
    free(c);
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    net_buf *b = ud;
    net_buf_put(b, p, sz * n);
    return b->failed ? 0 : sz * n;
}

hers_status hers_client_call(hers_client *c, const char *method, const char *path,
                             const void *body, size_t len, const char *content_type,
                             uint8_t **resp, size_t *resp_len, long *http_status)
{
    *resp = NULL;
    *resp_len = 0;
    *http_status = 0;
    CURL *h = curl_easy_init();
    if (!h)
        return hers_error(HERS_ERR_NOMEM, "client: curl_easy_init failed");
    size_t ul = strlen(c->url) + strlen(path) + 1;
    char *url = malloc(ul);
    char *auth = c->token ? malloc(strlen(c->token) + 32) : NULL;
    net_buf b = {0};
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
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
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
    net_buf_put(&b, "", 1);
    if (b.failed) {
        st = hers_error(HERS_ERR_NOMEM, "client: out of memory for the response");
        goto done;
    }
    *resp = b.data;
    *resp_len = b.len - 1;
    b.data = NULL;
done:
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    curl_slist_free_all(hdr);
    net_buf_free(&b);
    free(url);
    curl_easy_cleanup(h);
    return st;
}
