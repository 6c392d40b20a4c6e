/*
 * bufpool.c - a few large buffers kept for reuse by the service (search
 * responses, request bodies: tens of MB each at 2^20 templates). A fresh
 * malloc of that size is a fresh mmap whose every 4 KiB page faults and is
 * zeroed by the kernel when first written (about a third of a search's
 * overhead over HTTP, measured); a buffer taken from here has its pages
 * already mapped. At most NET_POOL_SLOTS buffers are kept (the largest),
 * NET_POOL_KEEP bytes in all: enough for the responses and request bodies of
 * 32 concurrent searches at 2^20 templates (7 MB compact, 39 MB full
 * responses; 3.3 MB full queries), so that a busy server's buffers do not
 * page-fault fresh memory; small ones bypass the pool.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"

#define NET_POOL_SLOTS 96
#define NET_POOL_KEEP ((size_t)2 << 30)  /* bytes kept in all */
#define NET_POOL_MIN ((size_t)1 << 20)      /* below: plain malloc, not kept */
#define NET_POOL_MAX ((size_t)1 << 30)      /* above: not kept */
#define NET_POOL_HDR 64                     /* capacity stored before the data */

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *pool_buf[NET_POOL_SLOTS];   /* bases (header included) */
static size_t pool_cap[NET_POOL_SLOTS];
static size_t pool_kept;                     /* sum of pool_cap */

void *net_pool_alloc(size_t n)
{
    if (n > SIZE_MAX - NET_POOL_HDR)
        return NULL;
    uint8_t *b = NULL;
    size_t cap = 0;
    if (n >= NET_POOL_MIN) {
        pthread_mutex_lock(&pool_mu);
        int best = -1;
        for (int i = 0; i < NET_POOL_SLOTS; i++)
            if (pool_buf[i] && pool_cap[i] >= n && (best < 0 || pool_cap[i] < pool_cap[best]))
                best = i;
        if (best >= 0) {
            b = pool_buf[best];
            cap = pool_cap[best];
            pool_kept -= cap;
            pool_buf[best] = NULL;
            pool_cap[best] = 0;
        }
        pthread_mutex_unlock(&pool_mu);
    }
    if (!b) {
        cap = n;
        if (!(b = malloc(n + NET_POOL_HDR)))
            return NULL;
    }
    memcpy(b, &cap, sizeof cap);
    return b + NET_POOL_HDR;
}

size_t net_pool_cap(const void *p)
{
    size_t cap;
    memcpy(&cap, (const uint8_t *)p - NET_POOL_HDR, sizeof cap);
    return cap;
}

void net_pool_free(void *p)
{
    if (!p)
        return;
    uint8_t *b = (uint8_t *)p - NET_POOL_HDR;
    size_t cap = net_pool_cap(p);
    if (cap >= NET_POOL_MIN && cap <= NET_POOL_MAX) {
        pthread_mutex_lock(&pool_mu);
        int slot = -1;   /* an empty slot, else the one of the smallest buffer */
        for (int i = 0; i < NET_POOL_SLOTS && slot < 0; i++)
            if (!pool_buf[i])
                slot = i;
        if (slot < 0) {
            slot = 0;
            for (int i = 1; i < NET_POOL_SLOTS; i++)
                if (pool_cap[i] < pool_cap[slot])
                    slot = i;
        }
        uint8_t *out = b;
        size_t old = pool_buf[slot] ? pool_cap[slot] : 0;
        if ((!pool_buf[slot] || old < cap) && pool_kept - old + cap <= NET_POOL_KEEP) {
            out = pool_buf[slot];
            pool_buf[slot] = b;
            pool_cap[slot] = cap;
            pool_kept += cap - old;
        }
        pthread_mutex_unlock(&pool_mu);
        free(out);
        return;
    }
    free(b);
}

void hers_net_free(void *rec) { net_pool_free(rec); }

void *hers_net_alloc(size_t n) { return net_pool_alloc(n); }
