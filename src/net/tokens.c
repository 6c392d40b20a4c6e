/* tokens.c - bearer tokens (hers_net.h): the file stores only BLAKE2b-256
 * hashes; a presented token is hashed and compared with every entry in
 * constant time. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hers/hers_random.h"
#include "net/net_internal.h"

#define TOKEN_PREFIX "hers_"
#define GALLERY_MAX 64

typedef struct tok_entry {
    uint8_t hash[NET_HASH];
    char gallery[GALLERY_MAX + 1];   /* "*" = every gallery */
    hers_scope scope;
} tok_entry;

struct hers_tokens {
    size_t n;
    tok_entry *e;
};

const char *hers_scope_name(hers_scope s)
{
    return s == HERS_SCOPE_SEARCH ? "search" : s == HERS_SCOPE_ENROLL ? "enroll"
                                           : s == HERS_SCOPE_ADMIN    ? "admin"
                                                                      : "?";
}

hers_status hers_scope_parse(const char *s, hers_scope *out)
{
    if (s && !strcmp(s, "search"))
        *out = HERS_SCOPE_SEARCH;
    else if (s && !strcmp(s, "enroll"))
        *out = HERS_SCOPE_ENROLL;
    else if (s && !strcmp(s, "admin"))
        *out = HERS_SCOPE_ADMIN;
    else
        return hers_error(HERS_ERR_ARG, "scope must be search, enroll or admin, got '%s'",
                          s ? s : "");
    return HERS_OK;
}

/* Gallery names: 1..64 of [A-Za-z0-9._-], not starting with '.'. */
static int name_ok(const char *s)
{
    size_t l = strlen(s);
    if (l < 1 || l > GALLERY_MAX || s[0] == '.')
        return 0;
    for (size_t i = 0; i < l; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int hers_net_gallery_name_ok(const char *s);
int hers_net_gallery_name_ok(const char *s) { return s && name_ok(s); }

static int unhex(const char *h, uint8_t *out, size_t n)
{
    size_t bl = 0;
    return sodium_hex2bin(out, n, h, 2 * n, NULL, &bl, NULL) == 0 && bl == n ? 0 : -1;
}

hers_status hers_tokens_load(const char *path, hers_tokens **out)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return hers_error(errno == ENOENT ? HERS_ERR_NOTFOUND : HERS_ERR_IO, "%s: %s", path,
                          strerror(errno));
    hers_tokens *t = calloc(1, sizeof *t);
    size_t cap = 0;
    char line[512];
    hers_status st = t ? HERS_OK : hers_error(HERS_ERR_NOMEM, "%s: out of memory", path);
    for (size_t ln = 1; st == HERS_OK && fgets(line, sizeof line, f); ln++) {
        size_t l = strlen(line);
        if (l == sizeof line - 1 && line[l - 1] != '\n') {
            st = hers_error(HERS_ERR_FORMAT, "%s:%zu: line too long", path, ln);
            break;
        }
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == 0)
            continue;
        char hash[80], gal[80], scope[16];
        if (sscanf(p, "%79s %79s %15s", hash, gal, scope) != 3) {
            st = hers_error(HERS_ERR_FORMAT, "%s:%zu: expected 'HASH GALLERY SCOPE [label]'",
                            path, ln);
            break;
        }
        tok_entry e;
        memset(&e, 0, sizeof e);
        if (strlen(hash) != 2 * NET_HASH || unhex(hash, e.hash, NET_HASH)) {
            st = hers_error(HERS_ERR_FORMAT, "%s:%zu: the hash must be 64 hex digits", path, ln);
            break;
        }
        if (strcmp(gal, "*") && !name_ok(gal)) {
            st = hers_error(HERS_ERR_FORMAT, "%s:%zu: invalid gallery name '%s'", path, ln, gal);
            break;
        }
        if (hers_scope_parse(scope, &e.scope) != HERS_OK) {
            st = hers_error(HERS_ERR_FORMAT, "%s:%zu: %s", path, ln, hers_last_error());
            break;
        }
        snprintf(e.gallery, sizeof e.gallery, "%s", gal);
        if (t->n == cap) {
            cap = cap ? 2 * cap : 8;
            tok_entry *ne = realloc(t->e, cap * sizeof *ne);
            if (!ne) {
                st = hers_error(HERS_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            t->e = ne;
        }
        t->e[t->n++] = e;
    }
    if (st == HERS_OK && ferror(f))
        st = hers_error(HERS_ERR_IO, "%s: read error", path);
    fclose(f);
    if (st != HERS_OK) {
        hers_tokens_free(t);
        return st;
    }
    *out = t;
    return HERS_OK;
}

void hers_tokens_free(hers_tokens *t)
{
    if (!t)
        return;
    if (t->e)
        sodium_memzero(t->e, t->n * sizeof *t->e);
    free(t->e);
    free(t);
}

size_t hers_tokens_count(const hers_tokens *t) { return t ? t->n : 0; }

static void token_hash(const char *token, uint8_t h[NET_HASH])
{
    crypto_generichash(h, NET_HASH, (const uint8_t *)token, strlen(token), NULL, 0);
}

hers_status hers_tokens_add(const char *path, const char *gallery, hers_scope scope,
                            const char *label, char *token, size_t cap)
{
    if (!path || !gallery || !token || cap < 70)
        return hers_error(HERS_ERR_ARG, "token add: invalid argument");
    if (strcmp(gallery, "*") && !name_ok(gallery))
        return hers_error(HERS_ERR_ARG, "token add: invalid gallery name '%s'", gallery);
    if (label)
        for (const char *c = label; *c; c++)
            if (*c == '\n' || *c == '\r')
                return hers_error(HERS_ERR_ARG, "token add: the label must be one line");
    uint8_t raw[32], h[NET_HASH];
    hers_status st = hers_random_bytes(raw, sizeof raw);
    if (st != HERS_OK)
        return st;
    memcpy(token, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
    sodium_bin2hex(token + strlen(TOKEN_PREFIX), cap - strlen(TOKEN_PREFIX), raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    token_hash(token, h);
    char hx[2 * NET_HASH + 1];
    sodium_bin2hex(hx, sizeof hx, h, sizeof h);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        sodium_memzero(token, cap);
        return hers_error(HERS_ERR_IO, "%s: %s", path, strerror(errno));
    }
    char line[300];
    int n = snprintf(line, sizeof line, "%s %s %s%s%s\n", hx, gallery, hers_scope_name(scope),
                     label ? " " : "", label ? label : "");
    if (n < 0 || (size_t)n >= sizeof line || write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
        close(fd);
        sodium_memzero(token, cap);
        return hers_error(HERS_ERR_IO, "%s: write failed", path);
    }
    close(fd);
    return HERS_OK;
}

static hers_auth check(const hers_tokens *t, const char *token, const char *gallery,
                       hers_scope need, int any_scope)
{
    if (!t || !token || !*token)
        return HERS_AUTH_UNAUTHENTICATED;
    uint8_t h[NET_HASH];
    token_hash(token, h);
    int known = 0, allowed = 0;
    for (size_t i = 0; i < t->n; i++) {   /* every entry, no early exit */
        int eq = sodium_memcmp(h, t->e[i].hash, NET_HASH) == 0;
        int gal_ok = !strcmp(t->e[i].gallery, "*") || (gallery && !strcmp(t->e[i].gallery, gallery));
        int scope_ok = any_scope || t->e[i].scope == HERS_SCOPE_ADMIN || t->e[i].scope == need;
        known |= eq;
        allowed |= eq & gal_ok & scope_ok;
    }
    return !known ? HERS_AUTH_UNAUTHENTICATED : allowed ? HERS_AUTH_OK : HERS_AUTH_FORBIDDEN;
}

hers_auth hers_tokens_check(const hers_tokens *t, const char *token, const char *gallery,
                            hers_scope need)
{
    return check(t, token, gallery, need, 0);
}

int hers_tokens_sees(const hers_tokens *t, const char *token, const char *gallery)
{
    return check(t, token, gallery, HERS_SCOPE_SEARCH, 1) == HERS_AUTH_OK;
}
