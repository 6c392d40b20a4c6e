/* idmap.c - the id -> shard map of rank 0 (cluster_internal.h): open
 * addressing with linear probing over FNV-1a hashes, tombstones on delete,
 * grown at 1/2 load (tombstones counted). */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_internal.h"

#define TOMB ((char *)1)

struct cl_idmap {
    char **keys;
    uint32_t *vals;
    size_t cap, used, live;   /* used: live + tombstones */
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

cl_idmap *cl_idmap_new(void)
{
    cl_idmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 64;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->vals = calloc(m->cap, sizeof *m->vals);
    if (!m->keys || !m->vals) {
        cl_idmap_free(m);
        return NULL;
    }
    return m;
}

void cl_idmap_free(cl_idmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->keys && i < m->cap; i++)
        if (m->keys[i] && m->keys[i] != TOMB)
            free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    free(m);
}

static size_t find(const cl_idmap *m, const char *id)
{
    size_t mask = m->cap - 1, i = (size_t)fnv(id) & mask;
    while (m->keys[i] && (m->keys[i] == TOMB || strcmp(m->keys[i], id)))
        i = (i + 1) & mask;
    return i;   /* the entry, or the empty slot ending the probe */
}

int cl_idmap_get(const cl_idmap *m, const char *id)
{
    size_t i = find(m, id);
    return m->keys[i] ? (int)m->vals[i] : -1;
}

static int grow(cl_idmap *m)
{
    cl_idmap n = {calloc(2 * m->cap, sizeof(char *)), calloc(2 * m->cap, sizeof(uint32_t)),
                  2 * m->cap, 0, 0};
    if (!n.keys || !n.vals) {
        free(n.keys);
        free(n.vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] && m->keys[i] != TOMB) {
            size_t j = find(&n, m->keys[i]);
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
            n.used++;
            n.live++;
        }
    free(m->keys);
    free(m->vals);
    *m = n;
    return 0;
}

int cl_idmap_put(cl_idmap *m, const char *id, unsigned shard)
{
    if (2 * (m->used + 1) > m->cap && grow(m))
        return -1;
    size_t i = find(m, id);
    if (!m->keys[i]) {
        if (!(m->keys[i] = strdup(id)))
            return -1;
        m->used++;
        m->live++;
    }
    m->vals[i] = (uint32_t)shard;
    return 0;
}

void cl_idmap_del(cl_idmap *m, const char *id)
{
    size_t i = find(m, id);
    if (m->keys[i]) {
        free(m->keys[i]);
        m->keys[i] = TOMB;
        m->live--;
    }
}

size_t cl_idmap_count(const cl_idmap *m) { return m->live; }
