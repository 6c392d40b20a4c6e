/* buf.c - byte buffers and readers of the net layer (net_internal.h). */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bitpack.h"
#include "hers/hers_mem.h"
#include "net/net_internal.h"

void net_buf_put(net_buf *b, const void *p, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void net_buf_u32(net_buf *b, uint32_t v)
{
    uint8_t x[4];
    hers_le_put_u32(x, v);
    net_buf_put(b, x, 4);
}

void net_buf_u64(net_buf *b, uint64_t v)
{
    uint8_t x[8];
    hers_le_put_u64(x, v);
    net_buf_put(b, x, 8);
}

void net_buf_str(net_buf *b, const char *s)
{
    net_buf_put(b, s, strlen(s));
}

void net_buf_printf(net_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        net_buf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    net_buf_put(b, big, (size_t)n);
    free(big);
}

void net_buf_json_str(net_buf *b, const char *s)
{
    net_buf_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char e[2] = {'\\', (char)*c};
            net_buf_put(b, e, 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            net_buf_printf(b, "\\u%04x", *c);
        } else {
            net_buf_put(b, c, 1);
        }
    }
    net_buf_put(b, "\"", 1);
}

hers_status net_buf_finish(net_buf *b, int checksum, uint8_t **out, size_t *len)
{
    if (checksum && !b->failed) {
        uint8_t h[NET_HASH];
        crypto_generichash(h, sizeof h, b->data, b->len, NULL, 0);
        net_buf_put(b, h, sizeof h);
    }
    if (b->failed || (!b->data && !(b->data = malloc(1)))) {
        size_t n = b->len;
        net_buf_free(b);
        return hers_error(HERS_ERR_NOMEM, "net: out of memory for a %zu-byte record", n);
    }
    /* handed over as it is (no zero-fill, no copy): hers_free is free() */
    *out = b->data;
    *len = b->len;
    memset(b, 0, sizeof *b);
    return HERS_OK;
}

int net_buf_reserve(net_buf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (b->len + n <= b->cap)
        return 0;
    uint8_t *d = realloc(b->data, b->len + n);
    if (!d) {
        b->failed = 1;
        return -1;
    }
    b->data = d;
    b->cap = b->len + n;
    return 0;
}

void net_buf_free(net_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int net_rd_bytes(net_rd *r, const uint8_t **p, size_t n)
{
    if (n > r->len - r->pos)
        return -1;
    *p = r->p + r->pos;
    r->pos += n;
    return 0;
}

int net_rd_u32(net_rd *r, uint32_t *v)
{
    const uint8_t *p;
    if (net_rd_bytes(r, &p, 4))
        return -1;
    *v = hers_le_get_u32(p);
    return 0;
}

int net_rd_u64(net_rd *r, uint64_t *v)
{
    const uint8_t *p;
    if (net_rd_bytes(r, &p, 8))
        return -1;
    *v = hers_le_get_u64(p);
    return 0;
}

hers_status net_rd_open(net_rd *r, const void *buf, size_t len, const char *magic,
                        const char *what)
{
    return net_rd_open_v(r, buf, len, magic, what, HERS_NET_VERSION, HERS_NET_VERSION, UINT32_MAX,
                         NULL);
}

hers_status net_rd_open_v(net_rd *r, const void *buf, size_t len, const char *magic,
                          const char *what, uint32_t vmin, uint32_t vmax, uint32_t plain_from,
                          uint32_t *version)
{
    (void)plain_from;   /* fuzz builds skip every checksum */
    const uint8_t *b = buf;
    if (!buf || len < 8 + 4 + NET_HASH)
        return hers_error(HERS_ERR_FORMAT, "%s: %zu bytes is too short", what, len);
    if (memcmp(b, magic, 8) != 0)
        return hers_error(HERS_ERR_FORMAT, "%s: bad magic (not a %.7s record)", what, magic);
    uint32_t ver = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 |
                   (uint32_t)b[11] << 24;
    if (ver < vmin || ver > vmax)
        return vmin == vmax
                   ? hers_error(HERS_ERR_VERSION, "%s: version %u (this build reads %u)", what,
                                ver, vmin)
                   : hers_error(HERS_ERR_VERSION, "%s: version %u (this build reads %u to %u)",
                                what, ver, vmin, vmax);
    if (version)
        *version = ver;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    uint8_t h[NET_HASH];
    if (ver < plain_from)
        crypto_generichash(h, sizeof h, b, len - NET_HASH, NULL, 0);
    if (ver < plain_from && sodium_memcmp(h, b + len - NET_HASH, NET_HASH) != 0)
        return hers_error(HERS_ERR_CHECKSUM, "%s: checksum mismatch (corrupted or truncated)",
                          what);
#endif
    r->p = b;
    r->len = len - NET_HASH;
    r->pos = 12;
    return HERS_OK;
}

int net_id_valid(const char *s, size_t len)
{
    return hers_id_problem(s, len) == NULL;
}
